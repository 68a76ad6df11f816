/* Linli lobby screen: can it make sound by itself? (社区大屏的声音)
 *
 * Browsers hold back the sound a page makes on its own until someone has touched the page,
 * unless the browser was started to allow it (README, "Setting up a lobby screen": Chromium's
 * --autoplay-policy=no-user-gesture-required). This finds out which — an AudioContext that
 * does not start running, or a play() refused with NotAllowedError — and when sound is held
 * back it shows, once per screen, a big button 点一下开启声音 (Tap once to turn sound on). The
 * screen remembers the tap (localStorage linli.kiosk.sound); a screen whose browser holds sound
 * back again later (after a restart) turns it back on at the next touch anywhere, and says
 * "blocked" in its heartbeat until then, so staff see it on the Screens page.
 *
 * It also plays the chime before an urgent item is read aloud (the shared chime,
 * app/static/chime.js, loaded before this file).
 *
 * window.LinliSound:
 *   state()        'ok' | 'blocked' | 'unknown'
 *   onChange(fn)   fn(state, how) after each change; how is 'tap' when the button was tapped
 *                  (return true from fn when something will be played now: no test chime then)
 *   blocked()      a play() was refused (NotAllowedError)
 *   played()       something played
 *   chime(done)    the chime; done() once it is over (at once, without a chime, when sound is
 *                  not running). Returns whether it chimed.
 */
(function () {
  'use strict';

  var KEY = 'linli.kiosk.sound';
  var PROBE_MS = 1500;
  var root = document.documentElement;
  var ctx = null;
  var current = null;
  var listeners = [];
  var probeTimer = null;

  function remembered() {
    try { return !!JSON.parse(localStorage.getItem(KEY)); } catch (e) { return false; }
  }

  function remember() {
    try {
      localStorage.setItem(KEY, JSON.stringify({ on: true, at: new Date().toISOString() }));
    } catch (e) { /* storage full: the button may come back once */ }
  }

  function button() { return document.getElementById('sound-on'); }

  function drawButton() {
    var b = button();
    if (b) b.hidden = !(current === 'blocked' && !remembered());
  }

  function set(state, how) {
    var changed = state !== current;
    current = state;
    root.dataset.sound = state;
    drawButton();
    if (!changed && how !== 'tap') return false;
    var handled = false;
    listeners.forEach(function (fn) {
      try { if (fn(state, how) === true) handled = true; } catch (e) { /* keep going */ }
    });
    return handled;
  }

  function context() {
    if (ctx) return ctx;
    var AC = window.AudioContext || window.webkitAudioContext;
    if (!AC) return null;
    try { ctx = new AC(); } catch (e) { return null; }
    ctx.addEventListener('statechange', function () {
      if (ctx.state === 'running') set('ok');
    });
    return ctx;
  }

  function resume(c) {
    try {
      var p = c.resume();
      if (p && p.catch) p.catch(function () { /* still held back: the probe says so */ });
      return p;
    } catch (e) { return null; }
  }

  // At start: a context the browser lets run is running at once (or within a moment); one
  // that stays suspended is held back by the autoplay policy.
  function probe() {
    var c = context();
    if (!c) return;  // no Web Audio: unknown until a play() tells
    if (c.state === 'running') { set('ok'); return; }
    resume(c);
    clearTimeout(probeTimer);
    probeTimer = setTimeout(function () {
      if (c.state !== 'running') set('blocked');
    }, PROBE_MS);
  }

  // Inside a touch (a user gesture): the browser lets the page make sound from now on.
  function unlock(how) {
    var c = context();
    if (!c) { set('unknown', how); return; }
    if (c.state === 'running') { if (how === 'tap') tapped(); return; }
    var p = resume(c);
    if (p && p.then) {
      p.then(function () {
        if (c.state !== 'running') return;
        if (how === 'tap') tapped(); else set('ok');
      });
    }
  }

  function tapped() {
    // A short chime says "sound is on" unless something is about to be read anyway.
    if (!set('ok', 'tap')) chime();
  }

  function chime(done) {
    var c = ctx;
    if (!c || c.state !== 'running') {
      if (done) setTimeout(done, 0);
      return false;
    }
    window.LinliChime.play(c);
    if (done) setTimeout(done, window.LinliChime.DURATION_MS);
    return true;
  }

  function init() {
    var b = button();
    if (b) {
      b.addEventListener('click', function () {
        remember();
        b.hidden = true;
        unlock('tap');
      });
    }
    // Any touch is a user gesture: a screen whose sound is held back takes it.
    ['pointerup', 'keydown'].forEach(function (name) {
      document.addEventListener(name, function (e) {
        if (current === 'blocked' && !(b && b.contains(e.target))) unlock('touch');
      }, true);
    });
    set('unknown');
    probe();
  }

  window.LinliSound = {
    state: function () { return current || 'unknown'; },
    onChange: function (fn) { listeners.push(fn); },
    blocked: function () { set('blocked'); },
    played: function () {
      if (ctx && ctx.state !== 'running') resume(ctx);
      set('ok');
    },
    chime: chime
  };

  init();
})();
