/* Staff console preview: the compose form posts {title, body, category, priority} to this
   frame (same origin only) and it draws the slide exactly as the screens do. */
(function () {
  'use strict';
  var texts = JSON.parse(document.getElementById('preview-texts').textContent);

  function paragraphs(body) {
    return String(body || '').split(/\n\s*\n/).map(function (p) { return p.trim(); })
      .filter(Boolean);
  }

  function draw(data) {
    var urgent = data.priority === 'urgent';
    var slide = document.getElementById('slide');
    slide.classList.toggle('is-urgent', urgent);
    document.getElementById('slide-category').textContent =
      urgent ? texts.urgent : (texts.categories[data.category] || '');
    document.getElementById('slide-title').textContent = data.title || '';
    var body = document.getElementById('slide-body');
    body.textContent = '';
    paragraphs(data.body).forEach(function (text) {
      var p = document.createElement('p');
      p.textContent = text;
      body.appendChild(p);
    });
    var banner = document.getElementById('urgent-banner');
    banner.hidden = !urgent;
    document.getElementById('urgent-title').textContent = urgent ? (data.title || '') : '';
  }

  window.addEventListener('message', function (event) {
    if (event.origin !== window.location.origin || !event.data || event.data.kind !== 'preview') {
      return;
    }
    draw(event.data);
  });
  if (window.parent !== window) {
    window.parent.postMessage({ kind: 'preview-ready' }, window.location.origin);
  }
})();
