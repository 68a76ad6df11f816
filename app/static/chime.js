/* Linli's urgent chime (提示音), one for the lobby screen and the staff alert centre.
 *
 * Two notes from a Web Audio oscillator, no sound file: a ding-dong, E6 then C6, each fading
 * out. The caller owns the AudioContext (and whatever it does to get the browser to let it
 * run): kiosk/static/sound.js on the lobby screen, static/staff/alerts.js on staff pages. Both
 * pages load this file from /static/chime.js; the lobby screen's service worker keeps it for
 * offline use (kiosk/templates/kiosk/sw.js).
 *
 * window.LinliChime:
 *   play(ctx)      schedule the chime in ctx; counts it in document.documentElement.dataset.chimes
 *   DURATION_MS    how long it sounds, from play() to silence
 */
(function () {
  'use strict';

  var NOTES = [[1318.5, 0], [1046.5, 0.42]];  // [Hz, seconds after the start]

  function play(c) {
    var t = c.currentTime + 0.03;
    NOTES.forEach(function (note) {
      var osc = c.createOscillator();
      var gain = c.createGain();
      osc.type = 'sine';
      osc.frequency.value = note[0];
      var at = t + note[1];
      gain.gain.setValueAtTime(0.0001, at);
      gain.gain.exponentialRampToValueAtTime(0.4, at + 0.02);
      gain.gain.exponentialRampToValueAtTime(0.0001, at + 0.7);
      osc.connect(gain);
      gain.connect(c.destination);
      osc.start(at);
      osc.stop(at + 0.75);
    });
    var root = document.documentElement;
    root.dataset.chimes = String(Number(root.dataset.chimes || 0) + 1);
  }

  window.LinliChime = { play: play, DURATION_MS: 1250 };
})();
