/* Linli lobby screen: 查进度 without a speech model.
 *
 * The 查进度 button (LinliKiosk.onAction('progress')) opens a panel with the big keypad
 * (keypad.js): the last digits of a request's number → POST /kiosk/api/progress/digits, or the
 * resident's phone number and PIN → POST /kiosk/api/progress/mine (bearer device token). The
 * answer (number, status, who handles it as a kind, the next step) is shown large and read aloud
 * with the server's speech (a visible stop); then the screen goes back to its rotation after a
 * countdown shown all along (progress-config resetSeconds, never under 20 s), so the next person
 * does not find it. While the panel is open the screen counts as in use (the kiosk's own idle
 * warning applies); going home (LinliKiosk.goHome, the idle warning) closes and clears it.
 * Several matches: the server asks for more digits; none: it says so kindly, with the phone.
 */
(function () {
  'use strict';

  var K = window.LinliKiosk;
  var panel = document.getElementById('progress-panel');
  if (!K || !window.LinliKeypad || !panel) return;

  var CFG = JSON.parse(document.getElementById('progress-config').textContent);
  var T = CFG.texts;
  var PAGE = JSON.parse(document.getElementById('kiosk-config').textContent);
  var LANG = PAGE.lang === 'en' ? 'en' : 'zh-CN';
  var RESET_S = Math.max(20, Number(CFG.resetSeconds) || 30);
  var TOKEN_KEY = 'linli.kiosk.token';

  var $ = function (id) { return document.getElementById(id); };
  var audio = $('pp-audio');
  var P = { mode: 'digits', step: 'digits', need: CFG.digitsMin, phone: '', keypad: null,
            left: null, timer: null, speechUrl: null, busy: false, opener: null, round: 0 };

  function token() {
    try { return JSON.parse(localStorage.getItem(TOKEN_KEY)); } catch (e) { return null; }
  }

  // --- the keypad steps ------------------------------------------------------------------------
  function keypadFor(step) {
    var o = { onDone: submit, onCancel: close };
    if (step === 'digits') {
      o.label = P.need > CFG.digitsMin ? T.more_label : T.digits_label;
      o.minLength = P.need;
      o.maxLength = CFG.digitsMax;
    } else if (step === 'phone') {
      o.label = T.phone_label;
      o.minLength = o.maxLength = 11;
    } else {
      o.label = T.pin_label;
      o.minLength = o.maxLength = 6;
      o.mask = true;
    }
    return o;
  }

  function showStep(step) {
    P.step = step;
    if (P.keypad) P.keypad.destroy();
    P.keypad = window.LinliKeypad.create($('pp-keypad'), keypadFor(step));
    $('pp-help').textContent = step === 'digits' ? T.digits_help : T.phone_help;
    $('pp-status').textContent = '';
    var modes = panel.querySelectorAll('.pp-mode');
    for (var i = 0; i < modes.length; i++) {
      modes[i].setAttribute('aria-pressed', modes[i].dataset.mode === P.mode ? 'true' : 'false');
    }
    panel.dataset.step = step;
  }

  function ask(mode) {
    P.round += 1;  // an answer still on its way belongs to the last question
    P.busy = false;
    stopReading();
    stopCountdown();
    P.mode = mode;
    P.need = CFG.digitsMin;
    P.phone = '';
    $('pp-result').hidden = true;
    $('pp-ask').hidden = false;
    showStep(mode === 'digits' ? 'digits' : 'phone');
    P.keypad.focus();
  }

  // --- talking to the server -------------------------------------------------------------------
  function post(path, body) {
    return fetch('/kiosk/api/progress/' + path + (LANG === 'en' ? '?lang=en' : ''), {
      method: 'POST', cache: 'no-store',
      headers: { 'Content-Type': 'application/json', Authorization: 'Bearer ' + token() },
      body: JSON.stringify(body)
    }).then(function (res) {
      return res.json().catch(function () { return {}; }).then(function (data) {
        return { status: res.status, data: data };
      });
    });
  }

  // The envelope's words for the resident: a field's message, else the message.
  function problem(data) {
    var errs = data && data.errors;
    if (errs) {
      for (var k in errs) {
        var m = errs[k];
        if (Array.isArray(m) && m.length && typeof m[0] === 'string') return m[0];
        if (typeof m === 'string') return m;
      }
    }
    return (data && data.message) || T.error;
  }

  function submit(value) {
    if (P.busy) return;
    if (P.step === 'phone') { P.phone = value; showStep('pin'); P.keypad.focus(); return; }
    var path = P.step === 'digits' ? 'digits' : 'mine';
    var body = P.step === 'digits' ? { digits: value } : { phone: P.phone, pin: value };
    P.busy = true;
    P.keypad.setEnabled(false);
    $('pp-status').textContent = T.looking;
    var round = P.round;
    post(path, body).then(function (r) {
      P.busy = false;
      if (round !== P.round) return;  // the panel was closed meanwhile: the answer is dropped
      P.keypad.setEnabled(true);
      $('pp-status').textContent = '';
      if (r.status === 200 && r.data.outcome === 'more_digits') {
        P.need = r.data.need || CFG.digitsMax;
        showStep('digits');
        P.keypad.set(value);
        P.keypad.setMessage(r.data.message);
        P.keypad.focus();
        say(r.data.speech_url);
      } else if (r.status === 200) {
        showResult(r.data);
      } else if (P.step === 'pin' && r.status === 422) {
        P.keypad.clear();
        P.keypad.setMessage(problem(r.data));  // wrong PIN: type it again
      } else if (P.step === 'pin' && (r.status === 423 || r.status === 429)) {
        showResult({ outcome: 'error', message: problem(r.data), cases: [] });
      } else {
        if (P.step === 'pin') showStep('phone');
        P.keypad.setMessage(problem(r.data));
      }
    }).catch(function () {
      P.busy = false;
      if (round !== P.round) return;
      P.keypad.setEnabled(true);
      $('pp-status').textContent = '';
      P.keypad.setMessage(T.offline);
    });
  }

  // --- the answer ------------------------------------------------------------------------------
  function row(label, value, cls) {
    var div = document.createElement('div');
    div.className = 'pp-row ' + (cls || '');
    var dt = document.createElement('dt');
    dt.textContent = label;
    var dd = document.createElement('dd');
    dd.textContent = value;
    div.appendChild(dt);
    div.appendChild(dd);
    return div;
  }

  function drawCase(c) {
    var li = document.createElement('li');
    li.className = 'pp-case';
    li.dataset.reference = c.reference;
    li.dataset.status = c.status;
    li.dataset.handlerKind = c.handler_kind;
    var head = document.createElement('p');
    head.className = 'pp-case-head';
    var parts = [T.reference.replace('{ref}', c.reference)];
    if (c.title) parts.unshift(c.title);
    if (c.reported_on) parts.push(T.reported_on.replace('{date}', c.reported_on));
    parts.forEach(function (text, n) {
      if (n) head.appendChild(document.createTextNode(' · '));
      var span = document.createElement('span');
      span.textContent = text;  // each part stays on one line
      head.appendChild(span);
    });
    li.appendChild(head);
    var dl = document.createElement('dl');
    dl.appendChild(row(T.status, c.status_label, 'pp-status-row'));
    dl.appendChild(row(T.handler, c.handler_label, 'pp-handler-row'));
    dl.appendChild(row(T.next, c.next_step + (c.overdue ? ' ' + T.overdue : ''), 'pp-next-row'));
    li.appendChild(dl);
    return li;
  }

  function showResult(data) {
    $('pp-ask').hidden = true;
    $('pp-result').hidden = false;
    panel.dataset.step = 'result';
    panel.dataset.outcome = data.outcome || '';
    var phone = K.snapshot() && K.snapshot().community.phone;
    var message = data.message || '';
    if ((data.outcome === 'none' || data.outcome === 'error') && phone) {
      message += ' ' + PAGE.texts.phone.replace('{phone}', phone);
    }
    $('pp-message').textContent = message;
    $('pp-message').hidden = !message;
    var list = $('pp-cases');
    list.textContent = '';
    (data.cases || []).forEach(function (c) { list.appendChild(drawCase(c)); });
    list.classList.toggle('many', (data.cases || []).length > 1);
    P.speechUrl = data.speech_url || null;
    $('pp-read').hidden = !P.speechUrl;
    startCountdown();
    $('pp-again').focus();
    say(P.speechUrl);
  }

  // --- reading aloud (the server's speech; a visible stop) ----------------------------------------
  function say(url) {
    stopReading();
    if (!url) return;
    K.stop();  // never two voices at once
    audio.src = url;
    $('pp-speaking').hidden = false;
    $('pp-read').hidden = true;
    var played = audio.play();
    if (played && played.catch) played.catch(function () { stopReading(); });
  }

  function stopReading() {
    if (!audio.paused) audio.pause();
    if (audio.getAttribute('src')) { audio.removeAttribute('src'); audio.load(); }
    $('pp-speaking').hidden = true;
    $('pp-read').hidden = !P.speechUrl || $('pp-result').hidden;
  }

  audio.addEventListener('ended', stopReading);
  audio.addEventListener('error', function () { if (audio.getAttribute('src')) stopReading(); });

  // --- back to the rotation --------------------------------------------------------------------
  function drawCountdown() {
    $('pp-countdown').textContent = T.countdown.replace('{n}', String(P.left));
    $('pp-countdown-bar').style.width = (P.left / RESET_S * 100).toFixed(1) + '%';
  }

  function startCountdown() {
    stopCountdown();
    P.left = RESET_S;
    drawCountdown();
    P.timer = setInterval(function () {
      P.left -= 1;
      if (P.left <= 0) { stopCountdown(); K.goHome(); return; }
      drawCountdown();
    }, 1000);
  }

  function stopCountdown() {
    if (P.timer) clearInterval(P.timer);
    P.timer = null;
    P.left = null;
  }

  function clear() {
    P.round += 1;
    P.busy = false;
    stopReading();
    stopCountdown();
    if (P.keypad) { P.keypad.destroy(); P.keypad = null; }
    P.phone = '';
    P.speechUrl = null;
    $('pp-cases').textContent = '';
    $('pp-message').textContent = '';
    $('pp-status').textContent = '';
    delete panel.dataset.step;
    delete panel.dataset.outcome;
  }

  function open() {
    P.opener = document.activeElement;
    K.stop();
    panel.hidden = false;
    document.documentElement.dataset.progress = 'open';
    ask('digits');
  }

  function close() {
    if (panel.hidden) return;
    clear();
    panel.hidden = true;
    document.documentElement.dataset.progress = '';
    if (P.opener && P.opener.focus && document.contains(P.opener)) P.opener.focus();
  }

  // --- wiring ----------------------------------------------------------------------------------
  $('pp-home').addEventListener('click', function () { K.goHome(); });
  $('pp-again').addEventListener('click', function () { ask(P.mode); });
  $('pp-keep').addEventListener('click', startCountdown);
  $('pp-stop').addEventListener('click', stopReading);
  $('pp-read').addEventListener('click', function () { say(P.speechUrl); });
  var modes = panel.querySelectorAll('.pp-mode');
  for (var i = 0; i < modes.length; i++) {
    modes[i].addEventListener('click', function (e) { ask(e.currentTarget.dataset.mode); });
  }
  // Someone touching the answer is still reading it: the countdown starts over.
  $('pp-result').addEventListener('pointerdown', function () { if (P.timer) startCountdown(); });

  K.onAction('progress', function () { open(); return true; });
  K.whileEngaged(function () { return !panel.hidden; });
  document.addEventListener('linli:kiosk-home', close);
})();
