/* Linli lobby screen: splitting a long announcement into pages that fit the slide.
 *
 * One copy for the screen (kiosk.js) and the staff console's preview (preview.js), so the
 * preview shows the pages the screens will show. Pages are measured in the page's own layout
 * (never guessed from character counts): at paragraph ends first, then sentences, then
 * clauses, then spaces; inside a word only when not even that fits on an empty page.
 *
 * window.LinliPaging:
 *   paginate(body, paragraphs, opts) → pages, each a list of blocks {para, text} (para is the
 *       paragraph's index). `body` is the element the blocks are drawn in; its parent is the
 *       box that must not overflow. opts.label: the element showing the page label, emptied,
 *       and holding the widest label (opts.template with 88 of 88) while measuring in case it
 *       makes the line above wrap. Leaves the last tried blocks in `body`: draw a page after.
 *   render(body, blocks)   draw one page's blocks (<p data-para="…">)
 *   label(template, i, n)  the page label, e.g. "Page {i} of {n}" → "Page 2 of 3"
 */
(function () {
  'use strict';

  var SENTENCE_END = '。！？!?；;…';
  var CLAUSE_END = '，,、：:';
  var CLOSERS = '”’」』）)】》"\'';

  function render(body, blocks) {
    body.textContent = '';
    blocks.forEach(function (b) {
      var para = document.createElement('p');
      para.dataset.para = String(b.para);
      para.textContent = b.text;
      body.appendChild(para);
    });
  }

  function label(template, i, n) {
    return template.replace('{i}', i).replace('{n}', n);
  }

  function fits(body) {
    return body.scrollHeight <= body.parentNode.clientHeight;
  }

  function tryBlocks(body, blocks) { render(body, blocks); return fits(body); }

  // Offsets where `text` may be cut: 0 sentence ends, 1 also clauses, 2 also spaces, 3 anywhere.
  // Closing quotes and brackets stay with what they close.
  function cutPoints(text, level) {
    var chars = Array.from(text);
    var out = [];
    var pos = 0;
    for (var i = 0; i < chars.length; i++) {
      var c = chars[i];
      var next = chars[i + 1];
      pos += c.length;
      var kind = 3;
      if (SENTENCE_END.indexOf(c) >= 0) kind = 0;
      else if (c === '.') kind = next === undefined || /\s/.test(next) ? 0 : 3;
      else if (CLAUSE_END.indexOf(c) >= 0) kind = 1;
      else if (/\s/.test(c)) kind = 2;
      if (kind > level || next === undefined) continue;
      var end = pos;
      for (var j = i + 1; j < chars.length && CLOSERS.indexOf(chars[j]) >= 0; j++) end += chars[j].length;
      if (end < text.length && (!out.length || out[out.length - 1] < end)) out.push(end);
    }
    return out;
  }

  // The longest prefix of `text` (cut at `level`) that still fits after `page`; 0 if none.
  function longestFit(body, page, para, text, level) {
    var cuts = cutPoints(text, level);
    var lo = 0, hi = cuts.length - 1, best = 0;
    while (lo <= hi) {
      var mid = (lo + hi) >> 1;
      if (tryBlocks(body, page.concat([{ para: para, text: text.slice(0, cuts[mid]) }]))) {
        best = cuts[mid];
        lo = mid + 1;
      } else {
        hi = mid - 1;
      }
    }
    return best;
  }

  function paginate(body, paras, opts) {
    var labelEl = opts && opts.label;
    var all = paras.map(function (text, i) { return { para: i, text: text }; });
    var box = body.parentNode;
    if (labelEl) labelEl.textContent = '';
    // Not laid out yet (pairing page, hidden screen): one page now, paged once it has a size.
    if (box.clientHeight < 40 || body.clientWidth < 40 || tryBlocks(body, all)) return [all];
    if (labelEl) labelEl.textContent = label(opts.template || '{i}/{n}', '88', '88');
    var pages = [];
    var page = [];
    paras.forEach(function (text, i) {
      var rest = text;
      while (rest) {
        var block = { para: i, text: rest };
        if (tryBlocks(body, page.concat([block]))) { page.push(block); return; }
        // A paragraph that fits a page of its own is not split.
        if (page.length && tryBlocks(body, [block])) { pages.push(page); page = [block]; return; }
        // It has to be split anyway: fill this page, at sentence ends if any fit, else at
        // clauses or spaces; anywhere in a word only on an empty page.
        var cut = 0;
        for (var level = 0; !cut && level <= (page.length ? 2 : 3); level++) {
          cut = longestFit(body, page, i, rest, level);
        }
        if (!cut && page.length) { pages.push(page); page = []; continue; }
        if (!cut) cut = Array.from(rest)[0].length;  // a box smaller than a line: still move on
        page.push({ para: i, text: rest.slice(0, cut) });
        pages.push(page);
        page = [];
        rest = rest.slice(cut);
      }
    });
    if (page.length) pages.push(page);
    return pages;
  }

  window.LinliPaging = { paginate: paginate, render: render, label: label };
})();
