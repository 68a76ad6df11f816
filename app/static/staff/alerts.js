/* Linli staff console: the alert centre live (提醒中心).
 *
 * On every staff page the badge (#alert-badge, templates/staff/_alert_badge.html) listens to
 * the signed-in person's stream (Server-Sent Events: a doorbell, `alerts`) and re-fetches the
 * counts; on /staff/alerts (#alert-list) also the list. A new urgent notice (urgent help) plays a
 * chime: the lobby screen's urgent chime (static/chime.js, loaded before this file). Browsers hold sound back until the page was touched; the first click
 * or key press anywhere lets it play from then on. A slow poll backs the stream up.
 *
 * Acknowledge buttons are sent without leaving the page (the form still works without script).
 * document.documentElement.dataset.chimes counts the chimes played.
 */
(function () {
  'use strict';

  var badge = document.getElementById('alert-badge');
  if (!badge) return;
  var POLL_MS = 30000;
  var newestUrgent = Number(badge.dataset.newestUrgent || 0);
  var ctx = null;
  var busy = false;
  var again = false;

  function list() { return document.getElementById('alert-list'); }

  function context() {
    if (ctx) return ctx;
    var AC = window.AudioContext || window.webkitAudioContext;
    if (!AC) return null;
    try { ctx = new AC(); } catch (e) { return null; }
    return ctx;
  }

  function unlock() {
    var c = context();
    if (c && c.state !== 'running') {
      try {
        var p = c.resume();
        if (p && p.catch) p.catch(function () { /* still held back */ });
      } catch (e) { /* ignore */ }
    }
  }

  function chime() {
    var c = context();
    if (!c) return;
    if (c.state !== 'running') unlock();
    window.LinliChime.play(c);
  }

  function draw(data) {
    var count = badge.querySelector('.alert-count');
    var num = badge.querySelector('.alert-num');
    if (num) num.textContent = String(data.unacknowledged);
    if (count) count.hidden = !data.unacknowledged;
    badge.classList.toggle('urgent', data.urgent > 0);
    var box = list();
    if (box && typeof data.html === 'string') box.innerHTML = data.html;
    var urgentNow = Number(data.newest_urgent_id || 0);
    if (urgentNow > newestUrgent) chime();
    newestUrgent = Math.max(newestUrgent, urgentNow);
  }

  function refresh() {
    if (busy) { again = true; return; }
    busy = true;
    // The list is redrawn as the page shows it: the same page of it (not page 1 again).
    var page = new URLSearchParams(window.location.search).get('page');
    var url = badge.dataset.state
      + (list() ? '?list=1' + (page ? '&page=' + encodeURIComponent(page) : '') : '');
    fetch(url, { credentials: 'same-origin', headers: { Accept: 'application/json' } })
      .then(function (r) { return r.ok ? r.json() : null; })
      .then(function (data) { if (data) draw(data); })
      .catch(function () { /* offline for a moment: the stream or the poll tries again */ })
      .then(function () {
        busy = false;
        if (again) { again = false; refresh(); }
      });
  }

  function listen() {
    if (!window.EventSource) return;
    var source = new EventSource(badge.dataset.stream);
    // Each event is a doorbell (the first says where the server stands): fetch the counts.
    source.addEventListener('alerts', refresh);
    source.addEventListener('bye', function () { /* EventSource reconnects by itself */ });
  }

  // One click acknowledges, without leaving the page.
  document.addEventListener('submit', function (e) {
    var form = e.target;
    if (!form.classList || !form.classList.contains('alert-ack-form')) return;
    e.preventDefault();
    var button = form.querySelector('button');
    if (button) button.disabled = true;
    fetch(form.action, {
      method: 'POST',
      body: new FormData(form),
      credentials: 'same-origin',
      headers: { Accept: 'application/json' }
    }).then(function (r) {
      if (!r.ok) throw new Error(String(r.status));
      refresh();
    }).catch(function () { form.submit(); });
  });

  ['pointerdown', 'keydown'].forEach(function (name) {
    document.addEventListener(name, unlock, { capture: true, passive: true });
  });
  context();
  listen();
  setInterval(refresh, POLL_MS);
})();
