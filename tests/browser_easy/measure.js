(opts) => {
  const problems = [];
  const say = (el, what) => {
    const id = el.id ? '#' + el.id : '';
    const cls = typeof el.className === 'string' && el.className ? '.' + el.className.trim().split(/\s+/).join('.') : '';
    const text = (el.innerText || el.value || '').trim().replace(/\s+/g, ' ').slice(0, 30);
    problems.push(`${el.tagName.toLowerCase()}${id}${cls} "${text}": ${what}`);
  };
  const shown = (el) => {
    if (el.closest('[hidden]')) return false;
    const s = getComputedStyle(el);
    if (s.display === 'none' || s.visibility === 'hidden' || parseFloat(s.opacity) === 0) return false;
    const r = el.getBoundingClientRect();
    // Off-screen until focused (the skip link) does not count as shown.
    return r.width > 0 && r.height > 0 && r.right > 0 && r.bottom > -10000;
  };
  const rgba = (c) => {
    const m = c.match(/rgba?\(([^)]+)\)/);
    if (!m) return [0, 0, 0, 0];
    const p = m[1].split(/[ ,/]+/).filter(Boolean).map(Number);
    return [p[0], p[1], p[2], p.length > 3 ? p[3] : 1];
  };
  const over = (top, under) => {
    const a = top[3];
    return [0, 1, 2].map(i => top[i] * a + under[i] * (1 - a)).concat([1]);
  };
  const background = (el) => {
    const layers = [];
    for (let n = el; n && n.nodeType === 1; n = n.parentElement) {
      const c = rgba(getComputedStyle(n).backgroundColor);
      if (c[3] > 0) { layers.push(c); if (c[3] >= 1) break; }
    }
    let colour = [255, 255, 255, 1];
    for (let i = layers.length - 1; i >= 0; i--) colour = over(layers[i], colour);
    return colour;
  };
  const lum = (c) => {
    const f = (v) => { v /= 255; return v <= 0.03928 ? v / 12.92 : Math.pow((v + 0.055) / 1.055, 2.4); };
    return 0.2126 * f(c[0]) + 0.7152 * f(c[1]) + 0.0722 * f(c[2]);
  };
  const contrast = (a, b) => {
    const [x, y] = [lum(a), lum(b)].sort((p, q) => q - p);
    return (x + 0.05) / (y + 0.05);
  };

  // 1. Every piece of text: size, line height, contrast.
  const texts = new Set();
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  while (walker.nextNode()) {
    const node = walker.currentNode;
    if (node.nodeValue.trim() && node.parentElement) texts.add(node.parentElement);
  }
  document.querySelectorAll('input:not([type=hidden]):not([type=radio]):not([type=checkbox]), textarea, select')
    .forEach(el => texts.add(el));
  let checkedTexts = 0;
  for (const el of texts) {
    if (!shown(el) || ['SCRIPT', 'STYLE', 'NOSCRIPT'].includes(el.tagName)) continue;
    checkedTexts++;
    const s = getComputedStyle(el);
    const size = parseFloat(s.fontSize);
    if (size < opts.minFont - 0.01) say(el, `font-size ${size}px < ${opts.minFont}px`);
    const line = s.lineHeight === 'normal' ? 1.2 * size : parseFloat(s.lineHeight);
    if (line / size < 1.3 - 0.005) say(el, `line-height ${(line / size).toFixed(2)} < 1.3`);
    const fg = over(rgba(s.color), background(el));
    const ratio = contrast(fg, background(el));
    if (ratio < 4.5) say(el, `contrast ${ratio.toFixed(2)} < 4.5`);
  }

  // 2. Targets: main buttons ≥ 60×60, every other target ≥ 44×44, ≥ 8 px apart.
  const targets = [...document.querySelectorAll(
      'a[href], button, input:not([type=hidden]), textarea, select, summary, [role=button]')]
    .filter(shown)
    .map(el => {
      const box = (el.matches('input[type=radio], input[type=checkbox]') && el.closest('label')) || el;
      return {el, box, r: box.getBoundingClientRect()};
    });
  for (const t of targets) {
    const main = t.el.matches('.primary, .big');
    const min = main ? 60 : 44;
    if (t.r.width < min - 0.5 || t.r.height < min - 0.5) {
      say(t.el, `${main ? 'main button' : 'target'} ${t.r.width.toFixed(0)}×${t.r.height.toFixed(0)} < ${min}×${min}`);
    }
    if (t.el.querySelector('svg') && !(t.el.innerText || '').trim()) say(t.el, 'icon without words');
  }
  for (let i = 0; i < targets.length; i++) {
    for (let j = i + 1; j < targets.length; j++) {
      const a = targets[i], b = targets[j];
      if (a.box === b.box || a.box.contains(b.box) || b.box.contains(a.box)) continue;
      const dx = Math.max(0, b.r.left - a.r.right, a.r.left - b.r.right);
      const dy = Math.max(0, b.r.top - a.r.bottom, a.r.top - b.r.bottom);
      const gap = Math.max(dx, dy);
      if (gap < 8 - 0.5) say(a.el, `only ${gap.toFixed(1)}px from "${(b.el.innerText || b.el.tagName).trim().slice(0, 20)}"`);
    }
  }

  // 3. No horizontal scrolling.
  const width = document.documentElement.scrollWidth, view = document.documentElement.clientWidth;
  if (width > view + 1) problems.push(`horizontal overflow: ${width}px content in ${view}px`);
  return {problems, texts: checkedTexts, targets: targets.length};
}
// The age-friendly measures, run in the page by tests/browser_easy/rules.py.
