/* 我要反映 at the lobby screen, for people without a smartphone, with or without a speech model
 * (语音留言): big picture tiles of the categories a screen may file (plus 不知道) → where →
 * press and hold to record a voice message (level meter, play back, record again) → an optional
 * call-back number on a big keypad (or 不留电话) → send → the reference, large and read aloud.
 *
 * Hooks LinliKiosk.onAction('report', …) (kiosk.js) and uses the shared big keypad
 * (keypad.js, LinliKeypad) for the call-back number; when a speech model is installed the voice
 * widget (voice.js) takes the button over with its spoken dialog instead. Server side:
 * GET /kiosk/api/report (tiles, places, prompts with their speech URLs) and POST
 * /kiosk/api/report (multipart: category, place, phone?, audio), with the screen's token.
 *
 * Each step's prompt is read aloud with the server's speech, with a visible stop button. While
 * the panel is open the rotation is paused, so the screen's inactivity warning (≥ 20 s, with a
 * countdown) runs as usual; when the screen goes home ('linli:kiosk-home') the draft is
 * discarded: the recording, the number, everything.
 */
(function () {
  'use strict';

  var kiosk = window.LinliKiosk;
  var panel = document.getElementById('report');
  if (!kiosk || !panel) return;

  var T = JSON.parse(document.getElementById('report-texts').textContent);
  var CFG = JSON.parse(document.getElementById('kiosk-config').textContent);
  var TOKEN_KEY = 'linli.kiosk.token';
  var MIN_MS = 1000;
  var STEPS = ['category', 'place', 'record', 'review', 'phone', 'confirm', 'done'];

  var $ = function (id) { return document.getElementById(id); };
  var voiceEl = $('report-voice');
  var playEl = $('report-audio');

  // Pictures for the tiles (the categories' icon keys; anything else gets the generic one).
  var ICONS = {
    trash: 'M9 3h6l1 2h4v2H4V5h4l1-2zm-3 6h12l-1 12H7L6 9z',
    safety: 'M12 2 1 21h22L12 2zm-1 7h2v6h-2V9zm0 8h2v2h-2v-2z',
    suggestion: 'M12 2a7 7 0 0 0-4 12.7V17h8v-2.3A7 7 0 0 0 12 2zM9 19h6v2H9v-2z',
    unknown: 'M12 2a10 10 0 1 0 0 20 10 10 0 0 0 0-20zm1 16h-2v-2h2v2zm2.1-7.7-.9.9c-.7.8-1.2 1.3-1.2 2.8h-2v-.5c0-1.1.5-2.1 1.2-2.8l1.2-1.3A2 2 0 1 0 10 8H8a4 4 0 1 1 7.1 2.3z',
    repair: 'M22.7 19 13.6 9.9a6 6 0 0 0-7.8-7.8l3.9 3.9-2.8 2.8L3 4.9a6 6 0 0 0 7.8 7.8l9.1 9.1 2.8-2.8z',
    water: 'M12 2s7 8 7 13a7 7 0 0 1-14 0c0-5 7-13 7-13z',
    fire: 'M13.5 1s1 3-1.5 6-4 4.5-4 8a6 6 0 0 0 12 0c0-4-3-6-3-9 0 0-2 2-2 4 0 0-1-5-1.5-9z',
    electric: 'M13 2 4 14h7l-2 8 9-12h-7l2-8z',
    green: 'M17 8C8 10 5.9 16.2 3.8 21.3l1.9.7 1-2.3c.5.2 1 .3 1.3.3C19 20 22 3 22 3c-1 2-8 2.3-13 3.3S2 11.5 2 13.5s1.8 3.8 1.8 3.8C7 8 17 8 17 8z',
    lift: 'M7 2h10a2 2 0 0 1 2 2v16a2 2 0 0 1-2 2H7a2 2 0 0 1-2-2V4a2 2 0 0 1 2-2zm5 4-3 4h6l-3-4zm0 12 3-4H9l3 4z',
    noise: 'M3 9v6h4l5 5V4L7 9H3zm13.5 3A4.5 4.5 0 0 0 14 8v8a4.5 4.5 0 0 0 2.5-4zM14 3.2v2.1a7 7 0 0 1 0 13.4v2.1a9 9 0 0 0 0-17.6z',
    parking: 'M6 3h7a6 6 0 0 1 0 12h-3v6H6V3zm4 4v4h3a2 2 0 0 0 0-4h-3z',
    home: 'M12 3 2 12h3v9h6v-6h2v6h6v-9h3L12 3z',
    lobby: 'M3 4h18v12H3V4zm2 2v8h14V6H5zm3 12h8v2H8v-2z',
    elsewhere: 'M12 2a7 7 0 0 0-7 7c0 5.2 7 13 7 13s7-7.8 7-13a7 7 0 0 0-7-7zm0 9.5A2.5 2.5 0 1 1 12 6.5a2.5 2.5 0 0 1 0 5z',
    other: 'M6 10a2 2 0 1 0 0 4 2 2 0 0 0 0-4zm6 0a2 2 0 1 0 0 4 2 2 0 0 0 0-4zm6 0a2 2 0 1 0 0 4 2 2 0 0 0 0-4z'
  };

  var D = null;  // the draft: what the person chose so far (null while closed)
  var keypad = null;
  var options = null;

  // --- speaking the prompts -----------------------------------------------------------------------
  function stopVoice() {
    if (!voiceEl.paused) voiceEl.pause();
    if (voiceEl.getAttribute('src')) { voiceEl.removeAttribute('src'); voiceEl.load(); }
    $('report-stop').hidden = true;
  }

  function say(url) {
    stopVoice();
    if (!url) return;
    voiceEl.src = url;
    $('report-stop').hidden = false;
    var p = voiceEl.play();
    if (p && p.catch) p.catch(function () { $('report-stop').hidden = true; });
  }
  voiceEl.addEventListener('ended', function () { $('report-stop').hidden = true; });
  voiceEl.addEventListener('error', function () { $('report-stop').hidden = true; });

  function prompt(key) {
    var p = options && options.prompts[key];
    $('report-prompt').textContent = p ? p.text : '';
    $('report-replay').hidden = !(p && p.speech_url);
    $('report-replay').dataset.url = p && p.speech_url ? p.speech_url : '';
    if (p) say(p.speech_url);
  }

  // --- steps -----------------------------------------------------------------------------------
  function show(step) {
    D.step = step;
    panel.dataset.step = step;
    var steps = panel.querySelectorAll('.report-step');
    for (var i = 0; i < steps.length; i++) steps[i].hidden = steps[i].dataset.step !== step;
    $('report-status').textContent = '';
    $('report-back').hidden = step === 'category' || step === 'done';
    $('report-cancel').hidden = step === 'done';
    if (step === 'done') { $('report-replay').hidden = true; return; }
    prompt(step === 'review' ? 'review' : step);
    if (step === 'record') drawHold(false);
    if (step === 'phone') drawPhone();
    if (step === 'confirm') drawSummary();
  }

  function back() {
    if (!D) return;
    stopPlayback();
    var at = STEPS.indexOf(D.step);
    var to = D.step === 'review' ? 'record' : STEPS[Math.max(0, at - 1)];
    if (to === 'review' && !D.blob) to = 'record';
    show(to);
  }

  function status(text) { $('report-status').textContent = text || ''; }

  function tile(item, cls, onPick) {
    var b = document.createElement('button');
    b.type = 'button';
    b.className = 'tile ' + cls;
    b.dataset.code = item.code;
    var svg = document.createElementNS('http://www.w3.org/2000/svg', 'svg');
    svg.setAttribute('viewBox', '0 0 24 24');
    svg.setAttribute('aria-hidden', 'true');
    svg.setAttribute('class', 'tile-icon');
    var path = document.createElementNS('http://www.w3.org/2000/svg', 'path');
    path.setAttribute('d', ICONS[item.icon] || ICONS[item.code] || ICONS.other);
    svg.appendChild(path);
    b.appendChild(svg);
    var name = document.createElement('span');
    name.className = 'tile-name';
    name.textContent = item.name;
    b.appendChild(name);
    if (item.detail) {
      var detail = document.createElement('span');
      detail.className = 'tile-detail';
      detail.textContent = item.detail;
      b.appendChild(detail);
    }
    b.addEventListener('click', function () { onPick(item); });
    return b;
  }

  function drawChoices() {
    var tiles = $('report-tiles');
    tiles.textContent = '';
    options.categories.forEach(function (c) {
      tiles.appendChild(tile(c, c.code === 'unknown' ? 'tile-unknown' : '', function (item) {
        D.category = item;
        show('place');
      }));
    });
    var places = $('report-places');
    places.textContent = '';
    options.places.forEach(function (p) {
      places.appendChild(tile({ code: p.code, name: p.name, detail: p.detail, icon: p.code }, '',
        function (item) { D.place = item; show('record'); }));
    });
  }

  // --- recording ----------------------------------------------------------------------------------
  function drawHold(on) {
    $('report-hold').classList.toggle('is-recording', on);
    $('report-hold').setAttribute('aria-pressed', on ? 'true' : 'false');
    $('report-hold-label').textContent = on ? T.recording : T.hold;
    if (!on) $('report-level').style.width = '0';
  }

  function seconds(ms) { return T.seconds.replace('{s}', String(Math.max(1, Math.round(ms / 1000)))); }

  function microphone() {
    if (D.stream) return Promise.resolve(D.stream);
    if (!navigator.mediaDevices || !navigator.mediaDevices.getUserMedia || !window.MediaRecorder) {
      return Promise.reject(new Error('no microphone'));
    }
    return navigator.mediaDevices.getUserMedia({ audio: { echoCancellation: true, noiseSuppression: true } })
      .then(function (stream) {
        if (!D) { stream.getTracks().forEach(function (t) { t.stop(); }); throw new Error('closed'); }
        D.stream = stream;
        return stream;
      });
  }

  function mimeType() {
    var types = ['audio/webm;codecs=opus', 'audio/ogg;codecs=opus', 'audio/webm', 'audio/mp4'];
    for (var i = 0; i < types.length; i++) {
      if (MediaRecorder.isTypeSupported && MediaRecorder.isTypeSupported(types[i])) return types[i];
    }
    return '';
  }

  function startRecording() {
    if (!D || D.recorder || D.step !== 'record') return;
    stopVoice();  // the prompt must not end up in the message
    kiosk.stop();
    D.holding = true;
    microphone().then(function (stream) {
      if (!D || !D.holding) return;  // let go before the microphone was ready
      var type = mimeType();
      var rec = type ? new MediaRecorder(stream, { mimeType: type }) : new MediaRecorder(stream);
      var chunks = [];
      rec.ondataavailable = function (e) { if (e.data && e.data.size) chunks.push(e.data); };
      rec.onstop = function () { finishRecording(rec, chunks); };
      D.recorder = rec;
      D.startedAt = Date.now();
      rec.start(250);
      drawHold(true);
      meter(stream);
      D.tick = setInterval(function () {
        var ms = Date.now() - D.startedAt;
        $('report-timer').textContent = seconds(ms) + ' / ' + seconds(options.max_seconds * 1000);
        if (ms >= (options.max_seconds - 1) * 1000) stopRecording();
      }, 200);
    }).catch(function () {
      if (!D) return;
      D.holding = false;
      status(T.no_mic);
    });
  }

  function stopRecording() {
    if (!D) return;
    D.holding = false;
    if (D.recorder && D.recorder.state !== 'inactive') D.recorder.stop();
  }

  function finishRecording(rec, chunks) {
    if (!D || D.recorder !== rec) return;
    var ms = Date.now() - D.startedAt;
    D.recorder = null;
    clearInterval(D.tick);
    stopMeter();
    drawHold(false);
    $('report-timer').textContent = '';
    if (ms < MIN_MS || !chunks.length) { status(T.too_short); return; }
    forgetRecording();
    D.blob = new Blob(chunks, { type: rec.mimeType || 'audio/webm' });
    D.ms = ms;
    D.url = URL.createObjectURL(D.blob);
    playEl.src = D.url;
    panel.dataset.recorded = String(D.blob.size);
    show('review');
  }

  function meter(stream) {
    var Ctx = window.AudioContext || window.webkitAudioContext;
    if (!Ctx) return;
    try {
      var ctx = D.audioCtx || (D.audioCtx = new Ctx());
      var source = ctx.createMediaStreamSource(stream);
      var analyser = ctx.createAnalyser();
      analyser.fftSize = 1024;
      source.connect(analyser);
      var data = new Uint8Array(analyser.fftSize);
      D.meter = { source: source, analyser: analyser };
      var draw = function () {
        if (!D || !D.meter) return;
        analyser.getByteTimeDomainData(data);
        var sum = 0;
        for (var i = 0; i < data.length; i++) { var v = (data[i] - 128) / 128; sum += v * v; }
        var level = Math.min(1, Math.sqrt(sum / data.length) * 4);
        $('report-level').style.width = (level * 100).toFixed(0) + '%';
        panel.dataset.level = level > 0.02 ? '1' : '0';
        D.meterFrame = requestAnimationFrame(draw);
      };
      draw();
    } catch (e) { /* no meter: recording still works */ }
  }

  function stopMeter() {
    if (!D || !D.meter) return;
    cancelAnimationFrame(D.meterFrame);
    try { D.meter.source.disconnect(); } catch (e) { /* already */ }
    D.meter = null;
  }

  function forgetRecording() {
    stopPlayback();
    if (D && D.url) URL.revokeObjectURL(D.url);
    if (D) { D.blob = null; D.url = null; D.ms = 0; }
    playEl.removeAttribute('src');
    playEl.load();
    delete panel.dataset.recorded;
  }

  function stopPlayback() {
    if (!playEl.paused) playEl.pause();
    $('report-play').textContent = T.play;
  }

  function togglePlayback() {
    if (!D || !D.url) return;
    stopVoice();
    if (!playEl.paused) { stopPlayback(); return; }
    playEl.currentTime = 0;
    $('report-play').textContent = T.pause_playback;
    var p = playEl.play();
    if (p && p.catch) p.catch(function () { stopPlayback(); });
  }
  playEl.addEventListener('ended', function () {
    stopPlayback();
    panel.dataset.played = '1';
  });

  // --- phone --------------------------------------------------------------------------------------
  function grouped(digits) {
    return digits.replace(/^(\d{3})(\d{0,4})(\d{0,4}).*$/, function (_m, a, b, c) {
      return [a, b, c].filter(Boolean).join(' ');
    });
  }

  // The shared big keypad (keypad.js): 11 digits, 确定 goes on to the summary.
  function drawPhone() {
    if (!keypad) {
      keypad = window.LinliKeypad.create($('report-keypad'), {
        maxLength: 11, minLength: 11, label: T.phone_label, texts: T.keypad,
        onChange: function (value) { if (D) D.phone = value; },
        onDone: function (value) {
          if (!D || D.step !== 'phone') return;
          if (!/^1\d{10}$/.test(value)) { keypad.setMessage(T.bad_phone); return; }
          D.phone = value;
          show('confirm');
        }
      });
    }
    keypad.set(D.phone || '');
  }

  function drawSummary() {
    $('report-sum-category').textContent = D.category.name;
    $('report-sum-place').textContent = !D.place.detail ? D.place.name
      : T.place_detail.replace('{place}', function () { return D.place.name; })
        .replace('{detail}', function () { return D.place.detail; });
    $('report-sum-audio').textContent = seconds(D.ms);
    $('report-sum-phone').textContent = D.phone ? grouped(D.phone) : T.no_phone;
  }

  // --- sending --------------------------------------------------------------------------------------
  function token() {
    try { return JSON.parse(localStorage.getItem(TOKEN_KEY)); } catch (e) { return null; }
  }

  // One key per message as sent: Send pressed again after an answer that never came (a Wi-Fi
  // drop, a proxy timing out) is the same message, which the server files once. Anything
  // changed in it (a new recording, another place or number) makes it a new one.
  function keyFor(draft) {
    var what = [draft.category.code, draft.place.code, draft.phone || '', draft.blob.size,
      draft.ms].join('|');
    if (draft.key && draft.keyFor === what) return draft.key;
    var bytes = new Uint8Array(16);
    window.crypto.getRandomValues(bytes);  // (randomUUID needs https; a screen may not have it)
    draft.key = 'kiosk-report-' + Array.prototype.map.call(bytes, function (b) {
      return ('0' + b.toString(16)).slice(-2);
    }).join('');
    draft.keyFor = what;
    return draft.key;
  }

  function api(method, body, key) {
    var url = '/kiosk/api/report' + (CFG.lang === 'en' ? '?lang=en' : '');
    var headers = { Authorization: 'Bearer ' + token() };
    if (key) headers['Idempotency-Key'] = key;
    return fetch(url, { method: method, body: body, cache: 'no-store', headers: headers })
      .then(function (res) {
        return res.json().catch(function () { return {}; }).then(function (data) {
          if (!res.ok) { var err = new Error(data.message || T.failed); err.data = data; throw err; }
          return data;
        });
      });
  }

  function send() {
    if (!D || D.sending || !D.blob) return;
    D.sending = true;
    $('report-send').disabled = true;
    status(T.sending);
    var form = new FormData();
    form.append('category', D.category.code);
    form.append('place', D.place.code);
    if (D.phone) form.append('phone', D.phone);
    var ext = /ogg/.test(D.blob.type) ? 'ogg' : /mp4/.test(D.blob.type) ? 'm4a' : 'webm';
    form.append('audio', D.blob, 'message.' + ext);
    var draft = D;
    api('POST', form, keyFor(D)).then(function (data) {
      if (D !== draft) return;
      forgetRecording();
      D.phone = '';
      if (keypad) keypad.clear();
      $('report-ref').textContent = data.reference;
      $('report-ref').setAttribute('aria-label', data.reference_digits.split('').join(' '));
      panel.dataset.reference = data.reference;
      show('done');
      $('report-prompt').textContent = data.text;
      $('report-replay').dataset.url = data.speech_url || '';
      $('report-replay').hidden = !data.speech_url;
      say(data.speech_url);
    }).catch(function (err) {
      if (D !== draft) return;
      var errors = (err.data && err.data.errors) || {};
      var audioProblem = errors.audio && errors.audio.length;
      status((err.data && err.data.message) || T.not_sent);
      // A recording the server could not use is recorded again; anything else may be retried.
      if (audioProblem) { forgetRecording(); show('record'); status(err.data.message); }
    }).then(function () {
      if (D !== draft) return;
      D.sending = false;
      $('report-send').disabled = false;
    });
  }

  // --- open, close ---------------------------------------------------------------------------------
  function open() {
    close();
    kiosk.stop();
    // The screen is in use while the panel is open: after a while without a touch its
    // inactivity warning counts down, then it goes home (and the draft is discarded).
    if (!kiosk.whileEngaged) kiosk.pause(true);
    D = { step: null, category: null, place: null, phone: '', blob: null };
    panel.hidden = false;
    panel.dataset.open = '1';
    status(T.loading);
    var draft = D;
    // Fresh tiles each time (staff may change the categories); the last ones if offline.
    var load = api('GET').catch(function (err) {
      if (options) return options;
      throw err;
    });
    load.then(function (data) {
      if (D !== draft) return;
      options = data;
      if (!data.categories.length) { status(T.failed); return; }
      drawChoices();
      show('category');
      var first = panel.querySelector('.tile');
      if (first) first.focus();
    }).catch(function () {
      if (D === draft) status(T.failed);
    });
    return true;
  }

  function close() {
    if (!D) return;
    var draft = D;
    D = null;
    stopVoice();
    if (draft.recorder && draft.recorder.state !== 'inactive') {
      draft.recorder.onstop = null;
      draft.recorder.stop();
    }
    clearInterval(draft.tick);
    if (draft.meter) { cancelAnimationFrame(draft.meterFrame); try { draft.meter.source.disconnect(); } catch (e) { /* gone */ } }
    if (draft.stream) draft.stream.getTracks().forEach(function (t) { t.stop(); });
    if (draft.audioCtx && draft.audioCtx.close) draft.audioCtx.close().catch(function () { /* closed */ });
    if (!playEl.paused) playEl.pause();
    if (draft.url) URL.revokeObjectURL(draft.url);
    playEl.removeAttribute('src');
    playEl.load();
    if (keypad) keypad.clear();
    $('report-ref').textContent = '';
    $('report-timer').textContent = '';
    status('');
    panel.hidden = true;
    delete panel.dataset.open;
    delete panel.dataset.step;
    delete panel.dataset.recorded;
    delete panel.dataset.played;
    delete panel.dataset.reference;
    delete panel.dataset.level;
  }

  function finish() {
    close();
    if (!kiosk.whileEngaged) kiosk.pause(false);
  }

  // --- wiring ---------------------------------------------------------------------------------------
  var hold = $('report-hold');
  hold.addEventListener('pointerdown', function (e) {
    e.preventDefault();
    if (hold.setPointerCapture && e.pointerId !== undefined) {
      try { hold.setPointerCapture(e.pointerId); } catch (err) { /* fine without */ }
    }
    startRecording();
  });
  ['pointerup', 'pointercancel', 'lostpointercapture'].forEach(function (name) {
    hold.addEventListener(name, stopRecording);
  });
  hold.addEventListener('contextmenu', function (e) { e.preventDefault(); });
  // Keyboard (and switch) users: hold Space or Enter.
  hold.addEventListener('keydown', function (e) {
    if ((e.key === ' ' || e.key === 'Enter') && !e.repeat) { e.preventDefault(); startRecording(); }
  });
  hold.addEventListener('keyup', function (e) {
    if (e.key === ' ' || e.key === 'Enter') { e.preventDefault(); stopRecording(); }
  });

  $('report-play').addEventListener('click', togglePlayback);
  $('report-rerecord').addEventListener('click', function () { forgetRecording(); show('record'); });
  $('report-review-next').addEventListener('click', function () { stopPlayback(); show('phone'); });
  $('report-no-phone').addEventListener('click', function () {
    if (keypad) keypad.clear();
    D.phone = '';
    show('confirm');
  });
  $('report-send').addEventListener('click', send);
  $('report-finish').addEventListener('click', finish);
  $('report-back').addEventListener('click', back);
  $('report-cancel').addEventListener('click', finish);
  $('report-stop').addEventListener('click', stopVoice);
  $('report-replay').addEventListener('click', function (e) { say(e.currentTarget.dataset.url); });

  // The screen went home after the inactivity warning: nothing of the draft is kept.
  document.addEventListener('linli:kiosk-home', close);

  if (kiosk.whileEngaged) kiosk.whileEngaged(function () { return !!D; });
  kiosk.onAction('report', open);
  window.LinliReport = { open: open, close: finish };
})();
