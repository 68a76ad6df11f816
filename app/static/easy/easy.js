/* Linli easy mode (长辈版): small enhancements on server-rendered pages. Every page also works
 * without this script (forms post to the server, links are real links).
 *
 * Voice hooks
 *   Linli.speak(text, {url}) — reads text aloud. It plays server-made speech when a URL is known:
 *     the button's data-speech-url (e.g. an announcement's speech_url), else the voice API's TTS
 *     endpoint in <body data-tts-url> (GET ?text=&rate=&lang=&format= → audio, long texts in
 *     pieces). If that fails, or there is none, it uses the browser's speechSynthesis. 朗读
 *     buttons ([data-speak]) stay hidden when none of these is available.
 *   按住说话 buttons ([data-voice-for=<field id>]) are rendered by the server only once the voice
 *     API offers transcription (<body data-asr-url>), and shown once <body data-asr-status>
 *     answers {"asr": true} (a recognizer is installed): hold to record, let go to send the
 *     audio (multipart field "audio"); the JSON answer's "text" is added to the field.
 *
 * API calls carry the session cookie, X-CSRFToken and, for a family proxy, X-Act-For.
 */
(function () {
  'use strict';
  var body = document.body;
  var data = body.dataset;
  var meta = document.querySelector('meta[name="csrf-token"]');
  var csrf = meta ? meta.content : '';
  var lang = document.documentElement.lang || 'zh-CN';
  var RATES = { slow: 0.8, normal: 1, fast: 1.25 };
  var playing = null;
  var activeButton = null;

  function headers(extra) {
    var h = { 'X-CSRFToken': csrf, 'Accept': 'application/json' };
    if (data.actFor) h['X-Act-For'] = data.actFor;
    for (var k in extra) h[k] = extra[k];
    return h;
  }

  function api(url, options) {
    options.credentials = 'same-origin';
    return fetch(url, options).then(function (response) {
      return response.json().catch(function () { return {}; }).then(function (json) {
        if (!response.ok) { json.status = response.status; throw json; }
        return json;
      });
    });
  }

  function problem(err) {
    var lines = [];
    if (err && err.errors) {
      Object.keys(err.errors).forEach(function (k) { lines = lines.concat(err.errors[k]); });
    }
    if (!lines.length) lines = [err && err.status && err.message ? err.message : data.msgNetwork];
    return lines;
  }

  function showError(box, lines) {
    box.textContent = '';
    lines.forEach(function (line) {
      var p = document.createElement('p');
      p.textContent = String(line);
      box.appendChild(p);
    });
    box.hidden = false;
  }

  // --- 朗读 ---------------------------------------------------------------------------------
  function synthAvailable() {
    return 'speechSynthesis' in window && !!window.SpeechSynthesisUtterance;
  }

  function setPressed(button, on) {
    if (!button) return;
    button.setAttribute('aria-pressed', on ? 'true' : 'false');
    var label = button.querySelector('span');
    if (label) label.textContent = on ? button.dataset.stopLabel : button.dataset.label;
  }

  function stop() {
    if (playing) { playing.pause(); playing = null; }
    if (synthAvailable()) window.speechSynthesis.cancel();
    setPressed(activeButton, false);
    activeButton = null;
  }

  function synth(text, done) {
    if (!synthAvailable()) { done(); return; }
    var u = new SpeechSynthesisUtterance(text);
    u.lang = lang;
    u.rate = RATES[data.speechRate] || RATES.slow;
    u.onend = done;
    u.onerror = done;
    window.speechSynthesis.cancel();
    window.speechSynthesis.speak(u);
  }

  function chunks(text, size) {
    // The voice API reads up to 1000 characters at a time: split at sentence ends.
    var parts = [];
    var rest = text;
    while (rest.length > size) {
      var cut = -1;
      for (var i = size; i > size / 2; i--) {
        if ('。！？.!?；;，,'.indexOf(rest.charAt(i - 1)) >= 0) { cut = i; break; }
      }
      if (cut < 0) cut = size;
      parts.push(rest.slice(0, cut));
      rest = rest.slice(cut);
    }
    if (rest.trim()) parts.push(rest);
    return parts;
  }

  function audioFormat() {
    // Compressed speech is 7–10 times smaller than WAV: it matters on a slow network.
    var probe = document.createElement('audio');
    if (probe.canPlayType && probe.canPlayType('audio/ogg')) return 'ogg';
    if (probe.canPlayType && probe.canPlayType('audio/mpeg')) return 'mp3';
    return 'wav';
  }

  function compressed(url) {
    // An announcement's own recording is the voice API's speech: ask for Ogg/MP3, not a WAV
    // several times the size (the server would pick WAV for a media element's Accept: */*).
    if (!/\/voice\/speech\//.test(url) || /[?&]format=/.test(url)) return url;
    return url + (url.indexOf('?') < 0 ? '?' : '&') + 'format=' + audioFormat();
  }

  function play(urls, text, done) {
    var audio = new Audio(urls[0]);
    playing = audio;
    audio.onended = function () {
      if (playing !== audio) return;
      if (urls.length > 1) play(urls.slice(1), null, done); else done();
    };
    audio.play().catch(function () {
      if (playing !== audio) return;
      playing = null;
      if (text) synth(text, done); else done();  // no server voice: the browser's own
    });
  }

  function speak(text, opts) {
    opts = opts || {};
    var done = opts.done || function () {};
    if (opts.url) { play([compressed(opts.url)], text, done); return; }
    if (data.ttsUrl) {
      var base = data.ttsUrl + (data.ttsUrl.indexOf('?') < 0 ? '?' : '&');
      var tail = '&rate=' + encodeURIComponent(data.speechRate || 'slow') +
        '&lang=' + encodeURIComponent(lang) + '&format=' + audioFormat();
      play(chunks(text, 900).map(function (part) {
        return base + 'text=' + encodeURIComponent(part) + tail;
      }), text, done);
      return;
    }
    synth(text, done);
  }

  var SKIP = { BUTTON: 1, SCRIPT: 1, STYLE: 1, SVG: 1, svg: 1, INPUT: 1, TEXTAREA: 1, SELECT: 1, NAV: 1 };

  function readable(root, out) {
    for (var node = root.firstChild; node; node = node.nextSibling) {
      if (node.nodeType === 3) {
        var t = node.nodeValue.replace(/\s+/g, ' ').trim();
        if (t) out.push(t);
      } else if (node.nodeType === 1 && !SKIP[node.nodeName] && !node.hidden &&
                 !node.hasAttribute('data-speak-skip') && node.getAttribute('aria-hidden') !== 'true') {
        readable(node, out);
      }
    }
    return out;
  }

  function textFor(button) {
    if (button.dataset.speakText) return button.dataset.speakText;
    var parts = [];
    button.dataset.speak.split(',').forEach(function (sel) {
      var el = document.querySelector(sel.trim());
      if (el) parts = parts.concat(readable(el, []));
    });
    return parts.join('。 ').replace(/([。！？.!?])。 /g, '$1 ');
  }

  function setupSpeak(button) {
    if (!(button.dataset.speechUrl || data.ttsUrl || synthAvailable())) return;
    button.hidden = false;
    button.addEventListener('click', function () {
      if (activeButton === button) { stop(); return; }
      stop();
      activeButton = button;
      setPressed(button, true);
      speak(textFor(button), {
        url: button.dataset.speechUrl,
        done: function () { if (activeButton === button) { setPressed(button, false); activeButton = null; } }
      });
    });
  }

  // --- 点这里听: the home banner opens the notices and reads the first urgent one at once --------
  function listenOnArrival() {
    if (!/[?&]listen=urgent(&|$)/.test(location.search)) return;
    // Once only: a reload or coming back to this page does not start it again.
    history.replaceState(history.state, '', location.pathname);
    var cards = document.querySelectorAll('article.card.urgent');
    var target = null;
    for (var i = 0; i < cards.length && !target; i++) {
      if (cards[i].querySelector('form[data-api]')) target = cards[i];  // not yet acknowledged
    }
    target = target || cards[0];
    var button = target && target.querySelector('[data-speak]');
    if (button && !button.hidden) button.click();
  }

  // --- one-tap actions through the API (我知道了) -------------------------------------------
  function setupApiForm(form) {
    form.addEventListener('submit', function (event) {
      event.preventDefault();
      var button = form.querySelector('button');
      button.disabled = true;
      api(form.dataset.api, { method: 'POST', headers: headers({}) }).then(function () {
        var p = document.createElement('p');
        p.className = 'done';
        p.setAttribute('role', 'status');
        p.tabIndex = -1;
        p.textContent = '\u2713 ' + form.dataset.done;
        form.parentNode.replaceChild(p, form);
        p.focus();
      }).catch(function (err) {
        button.disabled = false;
        var box = document.createElement('div');
        box.className = 'error';
        box.setAttribute('role', 'alert');
        form.parentNode.insertBefore(box, form);
        showError(box, problem(err));
      });
    });
  }

  // --- plain forms: one tap is one submission ----------------------------------------------
  function guardForm(form) {
    form.addEventListener('submit', function () {
      if (form.dataset.sent) return;
      form.dataset.sent = '1';
      setTimeout(function () {
        Array.prototype.forEach.call(form.querySelectorAll('button[type=submit]'), function (b) { b.disabled = true; });
      }, 0);
    });
  }

  // --- 我要反映: check screen, then the API with an Idempotency-Key ------------------------------
  function shrink(file) {
    // A phone photo can be several MB: send at most 1600 px on a slow network.
    if (!window.createImageBitmap || file.size < 600 * 1024) return Promise.resolve(file);
    return createImageBitmap(file).then(function (img) {
      var scale = Math.min(1, 1600 / Math.max(img.width, img.height));
      var canvas = document.createElement('canvas');
      canvas.width = Math.round(img.width * scale);
      canvas.height = Math.round(img.height * scale);
      canvas.getContext('2d').drawImage(img, 0, 0, canvas.width, canvas.height);
      return new Promise(function (resolve) {
        canvas.toBlob(function (blob) { resolve(blob || file); }, 'image/jpeg', 0.85);
      });
    }).catch(function () { return file; });
  }

  function setupReport(form) {
    var confirmBox = document.getElementById('report-confirm');
    var checkError = document.getElementById('check-error');
    var sendError = document.getElementById('send-error');
    var status = document.getElementById('send-status');
    var sendButton = document.getElementById('send');
    var photoInput = form.querySelector('#photo');
    var preview = document.getElementById('c-preview');
    var submit = form.querySelector('button[type=submit]');
    var key = form.dataset.key;
    var caseId = null;
    var photoBlob = null;
    if (submit.dataset.jsLabel) submit.textContent = submit.dataset.jsLabel;

    function where() {
      var checked = form.querySelector('input[name=where]:checked');
      return checked ? checked.value : null;  // asked, never assumed
    }

    function showForm() {
      confirmBox.hidden = true;
      form.hidden = false;
      form.querySelector('#description').focus();
    }

    form.addEventListener('submit', function (event) {
      event.preventDefault();
      var description = form.querySelector('#description').value.trim();
      var address = form.querySelector('#address').value.trim();
      var lines = [];
      if (!description) lines.push(form.dataset.msgDescription);
      if (!where()) lines.push(form.dataset.msgWhere);
      else if (where() === 'other' && !address) lines.push(form.dataset.msgAddress);
      if (lines.length) { showError(checkError, lines); checkError.focus && checkError.scrollIntoView(); return; }
      checkError.hidden = true;
      document.getElementById('c-description').textContent = description;
      var place = document.getElementById('c-place');
      place.textContent = where() === 'other' ? address : place.dataset[where()];
      var photo = document.getElementById('c-photo');
      var file = photoInput.files && photoInput.files[0];
      photo.textContent = file ? photo.dataset.yes : photo.dataset.no;
      if (file && window.URL) { preview.src = URL.createObjectURL(file); preview.hidden = false; } else { preview.hidden = true; }
      form.hidden = true;
      confirmBox.hidden = false;
      confirmBox.focus();
      history.pushState({ step: 'check' }, '', '#check');
    });

    window.addEventListener('popstate', function () {
      if (location.hash !== '#check' && !confirmBox.hidden) showForm();
    });
    document.getElementById('edit').addEventListener('click', function () {
      if (location.hash === '#check') history.back(); else showForm();
    });
    if (location.hash === '#check') history.replaceState(null, '', location.pathname);

    sendButton.addEventListener('click', function () {
      if (sendButton.disabled) return;
      sendButton.disabled = true;
      sendError.hidden = true;
      status.textContent = status.dataset.sending;
      var payload = { category_id: Number(form.dataset.category),
                      description: form.querySelector('#description').value.trim() };
      if (where() === 'other') payload.address = form.querySelector('#address').value.trim();
      if (where() === 'building') payload.building_id = Number(form.dataset.building);
      var file = photoInput.files && photoInput.files[0];
      var photoFailed = false;
      // The same key on every retry: a double tap or a lost answer still makes one case.
      api(form.dataset.api, {
        method: 'POST',
        headers: headers({ 'Content-Type': 'application/json', 'Idempotency-Key': key }),
        body: JSON.stringify(payload)
      }).then(function (created) {
        caseId = created.id;
        if (!file) return null;
        return (photoBlob ? Promise.resolve(photoBlob) : shrink(file)).then(function (blob) {
          photoBlob = blob;
          var fd = new FormData();
          fd.append('file', blob, 'photo.jpg');
          fd.append('public', 'false');
          return api(form.dataset.api + '/' + caseId + '/attachments', {
            method: 'POST', headers: headers({ 'Idempotency-Key': key + '-photo' }), body: fd
          }).catch(function (err) {
            if (err && err.status) { photoFailed = true; return null; }
            throw err;
          });
        });
      }).then(function () {
        location.assign(form.dataset.done.replace('__ID__', caseId) + (photoFailed ? '?photo=failed' : ''));
      }).catch(function (err) {
        status.textContent = '';
        sendButton.disabled = false;
        showError(sendError, problem(err));
      });
    });
  }

  // --- something new: a banner to tap, never a re-ordered list ---------------------------------
  function setupPoll(list) {
    var seconds = Number(list.dataset.pollSeconds) || 60;
    var known = {};
    list.dataset.known.split(',').forEach(function (id) { if (id) known[id] = 1; });
    var fresh = document.getElementById('fresh');
    function check() {
      fetch(list.dataset.poll, { credentials: 'same-origin', headers: headers({}) })
        .then(function (r) { return r.ok ? r.json() : { items: [] }; })
        .then(function (page) {
          var isNew = (page.items || []).some(function (a) { return !known[String(a.id)]; });
          if (isNew) { fresh.hidden = false; return; }
          setTimeout(check, seconds * 1000);
        }).catch(function () { setTimeout(check, seconds * 1000); });
    }
    setTimeout(check, seconds * 1000);
  }

  // --- 议事投票: the counts follow the votes while the page is open -------------------------------
  // A polite poll of the results API (a phone holds no connection open): not while the page is
  // hidden, at once when it is shown again, slower after a failure, over once the vote closes.
  function setupResults(box) {
    var seconds = Math.max(5, Number(box.dataset.pollSeconds) || 30);
    var delay = seconds;
    var timer = null;
    var over = false;
    function fill(template, values) {
      return template.replace(/\{(\w+)\}/g, function (m, k) { return k in values ? String(values[k]) : m; });
    }
    function draw(r) {
      (r.options || []).forEach(function (o) {
        var cell = box.querySelector('[data-option="' + Number(o.id) + '"] .votes');
        var text = fill(box.dataset.households, { n: o.votes });
        if (cell && cell.textContent !== text) cell.textContent = text;
      });
      var turnout = box.querySelector('.turnout');
      var said = fill(box.dataset.turnout, { voted: r.households_voted, all: r.households_eligible });
      if (turnout && turnout.textContent !== said) turnout.textContent = said;  // role=status
    }
    function later() { clearTimeout(timer); if (!over) timer = setTimeout(check, delay * 1000); }
    function check() {
      if (over || document.hidden) return;  // shown again: visibilitychange asks at once
      fetch(box.dataset.results, { credentials: 'same-origin', headers: headers({}) })
        .then(function (response) {
          if (response.ok) return response.json();
          if (response.status !== 429 && response.status < 500) over = true;  // signed out, gone
          throw response;
        })
        .then(function (r) {
          delay = seconds;
          draw(r);
          if (r.status !== 'open') over = true;
          later();
        })
        .catch(function () { delay = Math.min(delay * 2, 600); later(); });
    }
    document.addEventListener('visibilitychange', function () {
      if (!document.hidden && !over) { clearTimeout(timer); check(); }
    });
    later();
  }

  // --- 按住说话 ----------------------------------------------------------------------------------
  var asrReady = null;

  function recognizerReady() {
    // Asked once per browser session: is a recognizer installed behind the endpoint?
    if (asrReady) return asrReady;
    var known = window.sessionStorage && sessionStorage.getItem('linli-asr');
    if (known !== null && known !== undefined) {
      asrReady = Promise.resolve(known === '1');
    } else if (!data.asrStatus) {
      asrReady = Promise.resolve(true);
    } else {
      asrReady = fetch(data.asrStatus, { credentials: 'same-origin', headers: headers({}) })
        .then(function (r) { return r.ok ? r.json() : {}; })
        .then(function (s) {
          try { sessionStorage.setItem('linli-asr', s.asr ? '1' : '0'); } catch (e) { /* private mode */ }
          return !!s.asr;
        }).catch(function () { return false; });
    }
    return asrReady;
  }

  function setupTalk(button) {
    var field = document.getElementById(button.dataset.voiceFor);
    if (!field || !data.asrUrl || !navigator.mediaDevices || !window.MediaRecorder) return;
    recognizerReady().then(function (ok) { if (ok) button.hidden = false; });
    var recorder = null;
    var label = button.querySelector('span');
    var idle = label.textContent;
    function start(event) {
      if (event) event.preventDefault();
      if (recorder) return;
      // Raw audio: the browser's noise suppression and gain control hurt recognition.
      navigator.mediaDevices.getUserMedia({ audio: { echoCancellation: false, noiseSuppression: false,
                                                     autoGainControl: false } }).then(function (stream) {
        var chunks = [];
        recorder = new MediaRecorder(stream);
        recorder.ondataavailable = function (e) { chunks.push(e.data); };
        recorder.onstop = function () {
          stream.getTracks().forEach(function (t) { t.stop(); });
          var type = recorder.mimeType || 'audio/webm';
          recorder = null;
          var fd = new FormData();
          fd.append('audio', new Blob(chunks, { type: type }), 'speech.webm');
          api(data.asrUrl, { method: 'POST', headers: headers({}), body: fd }).then(function (json) {
            if (json.text) field.value = (field.value ? field.value + ' ' : '') + json.text;
            field.focus();
          }).catch(function (err) { alertNear(button, problem(err)); });
        };
        recorder.start();
        button.setAttribute('aria-pressed', 'true');
        label.textContent = data.msgListening;
      }).catch(function () { alertNear(button, [data.msgMic]); });
    }
    function end() {
      if (recorder && recorder.state === 'recording') recorder.stop();
      button.setAttribute('aria-pressed', 'false');
      label.textContent = idle;
    }
    button.addEventListener('pointerdown', start);
    button.addEventListener('pointerup', end);
    button.addEventListener('pointercancel', end);
    button.addEventListener('pointerleave', end);
    button.addEventListener('keydown', function (e) {
      if (e.key !== ' ' && e.key !== 'Enter') return;
      e.preventDefault();
      if (recorder) end(); else start();
    });
  }

  function alertNear(el, lines) {
    var box = document.createElement('div');
    box.className = 'error';
    box.setAttribute('role', 'alert');
    el.parentNode.insertBefore(box, el.nextSibling);
    showError(box, lines);
  }

  // --- wire up -----------------------------------------------------------------------------------
  var each = function (sel, fn) { Array.prototype.forEach.call(document.querySelectorAll(sel), fn); };
  each('[data-speak]', setupSpeak);
  listenOnArrival();
  each('form[data-api]:not(#report-form)', setupApiForm);
  each('form:not([data-api]):not(#report-form)', guardForm);
  each('#report-form', setupReport);
  each('[data-poll]', setupPoll);
  each('[data-results]', setupResults);
  each('[data-voice-for]', setupTalk);
  each('[data-linli-voice][data-load-js]', function (root) {
    // The voice assistant (app/static/voice, 30 KB): only with a recognizer, after this page works.
    recognizerReady().then(function (ok) {
      if (!ok) return;
      var css = document.createElement('link');
      css.rel = 'stylesheet';
      css.href = root.dataset.loadCss;
      document.head.appendChild(css);
      var js = document.createElement('script');
      js.src = root.dataset.loadJs;
      document.head.appendChild(js);
    });
  });
  each('.autospeak', function (button) {
    // Read the reference aloud once; browsers may wait for a tap, and the button stays there.
    if (!button.hidden) setTimeout(function () { button.click(); }, 300);
  });
  window.addEventListener('pagehide', stop);
  if ('serviceWorker' in navigator && data.sw) {
    navigator.serviceWorker.register(data.sw, { scope: data.sw.replace(/[^/]*$/, '') }).catch(function () {});
  }
  window.Linli = { speak: speak, stop: stop, api: api, headers: headers };
  window.__easyReady = performance.now();
}());
