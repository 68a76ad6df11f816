/* Staff compose page: keeps the screen preview (an iframe of /kiosk/preview) and the spoken
   text in step with the form as staff type, and says how many pages the screens will show
   when the text needs more than one (the preview counts them and posts the number back). */
(function () {
  'use strict';
  var form = document.getElementById('compose-form');
  var frame = document.getElementById('preview');
  var spoken = document.getElementById('spoken-text');
  var pagesNote = document.getElementById('preview-pages');
  if (!form || !frame) return;
  var categories = JSON.parse(spoken.getAttribute('data-categories') || '{}');
  // The screens' top bar and footer show these: the preview draws them to leave the same room.
  var community = JSON.parse(frame.getAttribute('data-community') || '{}');

  function data() {
    var priority = form.querySelector('input[name="priority"]:checked');
    return {
      kind: 'preview',
      title: form.elements.title.value,
      body: form.elements.body.value,
      category: form.elements.category.value,
      priority: priority ? priority.value : 'normal',
      community: community
    };
  }

  function fit() {
    var box = frame.parentNode.getBoundingClientRect();
    frame.style.transform = 'scale(' + (box.width / 1920) + ')';
  }

  function update() {
    var d = data();
    frame.contentWindow.postMessage(d, window.location.origin);
    var lead = d.priority === 'urgent' ? spoken.getAttribute('data-urgent-label')
      : (categories[d.category] || '');
    var paragraphs = d.body.split(/\n\s*\n/).map(function (p) { return p.trim(); })
      .filter(Boolean);
    // As the server words it (app/notices/common.py: spoken_text), in the page's language.
    var first = spoken.getAttribute('data-lead-template')
      .replace('{lead}', function () { return lead; })
      .replace('{title}', function () { return d.title; });
    spoken.textContent = [first].concat(paragraphs).join('\n');
  }

  // Only a change is written, so screen readers hear it once (the note is aria-live).
  function showPages(n) {
    if (!pagesNote) return;
    var text = n > 1 ? pagesNote.getAttribute('data-template').replace('{n}', n) : '';
    if (pagesNote.textContent !== text) pagesNote.textContent = text;
  }

  form.addEventListener('input', update);
  form.addEventListener('change', update);
  window.addEventListener('resize', fit);
  window.addEventListener('message', function (e) {
    if (e.origin !== window.location.origin || e.source !== frame.contentWindow || !e.data) return;
    if (e.data.kind === 'preview-ready') update();
    else if (e.data.kind === 'preview-pages') showPages(Number(e.data.pages) || 0);
  });
  frame.addEventListener('load', function () { fit(); update(); });
  fit();
})();
