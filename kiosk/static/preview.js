/* Staff console preview: the compose form posts {title, body, category, priority, community}
 * to this frame (same origin only) and it draws the screen with that announcement on the slide,
 * in the screens' own layout (templates/kiosk/_screen.html) and split into the screens' pages by
 * the screens' own code (paging.js). Staff turn the pages with ◀ ▶; there is no rotation. A
 * change of the text starts again at page 1. After each layout the frame tells the form how
 * many pages there are: {kind: 'preview-pages', pages: n}.
 *
 * window.LinliPreview.page() {page, pages} (1-based), .goPage(n) — for tests and tools.
 */
(function () {
  'use strict';
  var T = JSON.parse(document.getElementById('preview-texts').textContent);
  var $ = function (id) { return document.getElementById(id); };
  var root = document.documentElement;
  var S = { key: null, paragraphs: [], pages: [], page: 0, layoutKey: '', told: null };

  // As the server splits a body (app/notices/common.py: paragraphs).
  function paragraphs(body) {
    return String(body || '').normalize('NFC').split(/\n\s*\n/)
      .map(function (p) { return p.trim(); }).filter(Boolean);
  }

  function drawCommunity(c) {
    $('community-name').textContent = c.name || '';
    var foot = [];
    if (c.phone) foot.push(T.phone.replace('{phone}', c.phone));
    if (c.office_hours) foot.push(T.hours.replace('{hours}', c.office_hours));
    $('community-phone').textContent = foot.length < 2 ? foot.join('')
      : T.both.replace('{a}', function () { return foot[0]; })
        .replace('{b}', function () { return foot[1]; });
  }

  function draw(data) {
    var community = data.community || {};
    var title = String(data.title || '').normalize('NFC').trim();
    var key = JSON.stringify([title, data.body || '', data.category, data.priority,
      community.name, community.phone, community.office_hours]);
    if (key === S.key) return;  // nothing the screen shows changed: stay on this page
    S.key = key;
    drawCommunity(community);
    var urgent = data.priority === 'urgent';
    $('slide').classList.toggle('is-urgent', urgent);
    $('slide-category').textContent = urgent ? T.urgent : (T.categories[data.category] || '');
    $('slide-title').textContent = title;
    S.paragraphs = paragraphs(data.body);
    // As on a screen showing this urgent item: the banner keeps only its title.
    $('urgent-banner').hidden = !urgent;
    $('urgent-banner').classList.toggle('compact', urgent);
    $('urgent-title').textContent = urgent ? title : '';
    $('urgent-lead').textContent = urgent ? (S.paragraphs[0] || '') : '';
    layOut();
  }

  function layoutKey() {
    var body = $('slide-body');
    return body.clientWidth + 'x' + body.parentNode.clientHeight;
  }

  function layOut() {
    S.pages = LinliPaging.paginate($('slide-body'), S.paragraphs,
      { label: $('slide-page'), template: T.page });
    S.layoutKey = layoutKey();
    drawPage(0);
    tell();
  }

  function drawPage(n) {
    var total = S.pages.length;
    n = Math.max(0, Math.min(total - 1, n));
    S.page = n;
    LinliPaging.render($('slide-body'), S.pages[n] || []);
    var many = total > 1;
    $('slide-page').textContent = many ? LinliPaging.label(T.page, n + 1, total) : '';
    $('pager').hidden = !many;
    $('page-prev').disabled = n === 0;
    $('page-next').disabled = n >= total - 1;
    root.dataset.page = String(n + 1);
    root.dataset.pages = String(total);
  }

  function tell() {
    if (window.parent === window || S.told === S.key + '|' + S.pages.length) return;
    S.told = S.key + '|' + S.pages.length;
    window.parent.postMessage({ kind: 'preview-pages', pages: S.pages.length },
      window.location.origin);
  }

  // The slide's room changes when the frame or the fonts do: page again.
  function relayoutIfResized() {
    if (S.key !== null && layoutKey() !== S.layoutKey) layOut();
  }

  $('page-prev').addEventListener('click', function () { drawPage(S.page - 1); });
  $('page-next').addEventListener('click', function () { drawPage(S.page + 1); });
  if (window.ResizeObserver) {
    var ro = new ResizeObserver(relayoutIfResized);
    ro.observe($('slide-body'));
    ro.observe($('slide-body').parentNode);
  }
  window.addEventListener('resize', relayoutIfResized);
  if (document.fonts && document.fonts.ready) {
    document.fonts.ready.then(function () { S.layoutKey = ''; relayoutIfResized(); });
  }

  window.addEventListener('message', function (event) {
    if (event.origin !== window.location.origin || !event.data || event.data.kind !== 'preview') {
      return;
    }
    draw(event.data);
  });
  window.LinliPreview = {
    page: function () { return { page: S.page + 1, pages: S.pages.length }; },
    goPage: function (n) { drawPage(n - 1); }
  };
  if (window.parent !== window) {
    window.parent.postMessage({ kind: 'preview-ready' }, window.location.origin);
  }
})();
