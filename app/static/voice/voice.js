/* Linli voice client (语音助手): a big 按住说话 (press and hold) button.
 *
 * While the button is held, the microphone is captured (AudioWorklet, or ScriptProcessor on
 * older browsers) as 16 kHz mono PCM16 and streamed over the WebSocket /api/v1/voice/stream;
 * the partial transcript is shown in large text. On release the reply is shown and played,
 * with a 重听 (replay) button. Without WebSocket or audio capture, a MediaRecorder recording is
 * uploaded to /api/v1/voice/utterances instead. The protocol is documented in the OpenAPI
 * description of POST /api/v1/voice/text.
 *
 * Put <div data-linli-voice></div> in a page and load this script (and voice.css). Options, as
 * data attributes on that element:
 *   data-token-storage="key"  localStorage key holding the bearer token as JSON (lobby screen)
 *   data-token-param="token"  read the token once from the page URL (and remove it from there)
 *   data-lang="zh-CN|en"      texts of the widget (default: <html lang>)
 *   data-voice-language="…"   dialog language (default: the server's; URL ?voice_lang= too)
 *   data-format="wav|auto"    reply audio: WAV (screens) or auto (Ogg/Opus, else MP3)
 *   data-act-for="<id>"       a family member acting for a resident
 *   data-kiosk-actions        also answer the lobby screen's 反映问题 / 查进度 buttons by voice
 *   data-audio-processing="on"  the browser's echo/noise/gain processing (off by default)
 *   data-reset-after="60"     a public screen: after this many idle seconds close the panel and
 *                             forget the conversation, so the next person starts afresh
 * Without a token the same-origin session cookie is used (easy mode), with X-CSRFToken from
 * <meta name="csrf-token">.
 */
(function () {
  'use strict';

  var TEXTS = {
    zh: {
      talk: '按住说话', listening: '正在听，说完请松开', release: '请按住按钮说话',
      thinking: '正在想…', replay: '重听', close: '关闭', you: '您说：',
      mic: '打不开麦克风。请检查设置，或者用手指点屏幕。',
      network: '网络不好，没有发出去。请再试一次。',
      unavailable: '语音助手暂时不能用。', secure: '这个页面不能使用麦克风。'
    },
    en: {
      talk: 'Hold to talk', listening: 'Listening… let go when you have finished',
      release: 'Please hold the button while you speak', thinking: 'Thinking…',
      replay: 'Hear again', close: 'Close', you: 'You said: ',
      mic: 'The microphone could not be opened. Please check the settings or use touch.',
      network: 'The network is slow or off, so it was not sent. Please try again.',
      unavailable: 'The voice assistant is not available right now.',
      secure: 'This page cannot use the microphone.'
    }
  };
  var SAMPLE_RATE = 16000;
  var MIN_HOLD_MS = 350;
  var BASE = '/api/v1/voice';

  function el(tag, cls, text) {
    var node = document.createElement(tag);
    if (cls) node.className = cls;
    if (text) node.textContent = text;
    return node;
  }

  function Widget(root) {
    var data = root.dataset;
    var lang = (data.lang || document.documentElement.lang || 'zh-CN').toLowerCase();
    this.t = TEXTS[lang.indexOf('en') === 0 ? 'en' : 'zh'];
    this.root = root;
    this.data = data;
    var params = new URLSearchParams(window.location.search);
    this.language = data.voiceLanguage || params.get('voice_lang') || null;
    this.token = this.readToken(params);
    var meta = document.querySelector('meta[name="csrf-token"]');
    this.csrf = meta ? meta.content : '';
    this.cid = null;
    this.ws = null;
    this.wsReady = null;
    this.pending = [];
    this.capture = null;
    this.recorder = null;
    this.holding = false;
    this.heldSince = 0;
    this.lastAudio = null;
    this.player = new Audio();
    this.build();
  }

  Widget.prototype.readToken = function (params) {
    var data = this.data;
    if (data.tokenParam) {
      var fromUrl = params.get(data.tokenParam);
      if (fromUrl) {
        try { sessionStorage.setItem('linli.voice.token', fromUrl); } catch (e) { /* private mode */ }
        params.delete(data.tokenParam);
        var rest = params.toString();
        history.replaceState(null, '', location.pathname + (rest ? '?' + rest : '') + location.hash);
        return fromUrl;
      }
      try { return sessionStorage.getItem('linli.voice.token'); } catch (e) { return null; }
    }
    if (data.tokenStorage) {
      try { return JSON.parse(localStorage.getItem(data.tokenStorage)); } catch (e) { return null; }
    }
    return null;
  };

  Widget.prototype.currentToken = function () {
    // A lobby screen may be paired after the page loaded: read the token again each time.
    if (this.data.tokenStorage) {
      try { return JSON.parse(localStorage.getItem(this.data.tokenStorage)); } catch (e) { /* */ }
    }
    return this.token;
  };

  Widget.prototype.build = function () {
    var t = this.t;
    var root = this.root;
    root.classList.add('linli-voice');
    this.button = el('button', 'lv-talk');
    this.button.type = 'button';
    this.button.setAttribute('aria-pressed', 'false');
    this.button.setAttribute('aria-describedby', 'lv-status');
    this.label = el('span', 'lv-label', t.talk);
    this.button.appendChild(el('span', 'lv-mic'));
    this.button.appendChild(this.label);
    this.panel = el('section', 'lv-panel');
    this.panel.hidden = true;
    this.panel.setAttribute('aria-live', 'polite');
    this.status = el('p', 'lv-status');
    this.status.id = 'lv-status';
    this.partial = el('p', 'lv-partial');
    this.replyText = el('p', 'lv-reply');
    this.error = el('p', 'lv-error');
    this.error.setAttribute('role', 'alert');
    this.error.hidden = true;
    var row = el('div', 'lv-row');
    this.replayButton = el('button', 'lv-replay', t.replay);
    this.replayButton.type = 'button';
    this.replayButton.hidden = true;
    this.closeButton = el('button', 'lv-close', t.close);
    this.closeButton.type = 'button';
    row.appendChild(this.replayButton);
    row.appendChild(this.closeButton);
    this.panel.appendChild(this.status);
    this.panel.appendChild(this.partial);
    this.panel.appendChild(this.replyText);
    this.panel.appendChild(this.error);
    this.panel.appendChild(row);
    root.appendChild(this.panel);
    root.appendChild(this.button);
    this.wire();
  };

  Widget.prototype.wire = function () {
    var self = this;
    var button = this.button;
    button.addEventListener('pointerdown', function (e) {
      e.preventDefault();
      if (button.setPointerCapture) { try { button.setPointerCapture(e.pointerId); } catch (x) { /* */ } }
      self.press();
    });
    button.addEventListener('pointerup', function () { self.release(); });
    button.addEventListener('pointercancel', function () { self.release(); });
    button.addEventListener('contextmenu', function (e) { e.preventDefault(); });
    button.addEventListener('keydown', function (e) {
      if ((e.key === ' ' || e.key === 'Enter') && !e.repeat) { e.preventDefault(); self.press(); }
    });
    button.addEventListener('keyup', function (e) {
      if (e.key === ' ' || e.key === 'Enter') { e.preventDefault(); self.release(); }
    });
    this.replayButton.addEventListener('click', function () { self.replay(); });
    this.closeButton.addEventListener('click', function () { self.closePanel(); });
    this.player.addEventListener('ended', function () { self.root.classList.remove('lv-speaking'); });
  };

  // --- HTTP -------------------------------------------------------------------------------
  Widget.prototype.headers = function (extra) {
    var h = { 'Accept': 'application/json' };
    var token = this.currentToken();
    if (token) h.Authorization = 'Bearer ' + token;
    else if (this.csrf) h['X-CSRFToken'] = this.csrf;
    if (this.data.actFor) h['X-Act-For'] = this.data.actFor;
    for (var k in extra) h[k] = extra[k];
    return h;
  };

  Widget.prototype.api = function (path, options) {
    options.credentials = 'same-origin';
    options.headers = this.headers(options.headers || {});
    return fetch(BASE + path, options).then(function (response) {
      return response.json().catch(function () { return {}; }).then(function (json) {
        if (!response.ok) { json.code = json.code || response.status; throw json; }
        return json;
      });
    });
  };

  Widget.prototype.init = function () {
    var self = this;
    if (!window.isSecureContext || !navigator.mediaDevices || !navigator.mediaDevices.getUserMedia) {
      this.root.dataset.state = 'no-microphone';
      return Promise.resolve(false);
    }
    return this.api('/status', { method: 'GET' }).then(function (status) {
      if (!status.asr) { self.root.dataset.state = 'unavailable'; return false; }
      self.maxSeconds = status.max_seconds;
      self.root.dataset.state = 'ready';
      self.root.hidden = false;
      if (self.data.kioskActions !== undefined) self.hookKiosk(status.default_language);
      return true;
    }).catch(function () {
      self.root.dataset.state = 'unavailable';
      return false;
    });
  };

  // --- the WebSocket ------------------------------------------------------------------------
  Widget.prototype.socket = function () {
    var self = this;
    if (this.wsReady) return this.wsReady;
    if (!window.WebSocket) return Promise.reject(new Error('no websocket'));
    this.wsReady = new Promise(function (resolve, reject) {
      var scheme = location.protocol === 'https:' ? 'wss://' : 'ws://';
      var ws = new WebSocket(scheme + location.host + BASE + '/stream');
      ws.binaryType = 'arraybuffer';
      var opened = false;
      ws.onopen = function () {
        var start = { type: 'start' };
        var token = self.currentToken();
        if (token) start.token = token;
        if (self.cid) start.conversation_id = self.cid;
        if (self.language) start.language = self.language;
        if (self.data.actFor) start.act_for = self.data.actFor;
        ws.send(JSON.stringify(start));
      };
      ws.onmessage = function (event) {
        var msg;
        try { msg = JSON.parse(event.data); } catch (e) { return; }
        if (msg.type === 'ready') {
          opened = true;
          self.cid = msg.conversation_id;
          self.ws = ws;
          resolve(ws);
          return;
        }
        if (!opened && msg.type === 'error') {
          if (msg.code === 404) self.cid = null;
          reject(msg);
          return;
        }
        self.onMessage(msg);
      };
      ws.onerror = function () { if (!opened) reject(new Error('websocket failed')); };
      ws.onclose = function () {
        self.ws = null;
        self.wsReady = null;
        if (!opened) reject(new Error('websocket closed'));
      };
    });
    return this.wsReady;
  };

  Widget.prototype.onMessage = function (msg) {
    if (msg.type === 'partial') {
      this.partial.textContent = msg.text;
    } else if (msg.type === 'final') {
      this.partial.textContent = msg.text ? this.t.you + msg.text : '';
      this.status.textContent = this.t.thinking;
    } else if (msg.type === 'reply') {
      this.showReply(msg);
    } else if (msg.type === 'error') {
      if (msg.code === 404) { this.cid = null; }
      this.showError(msg.message || this.t.network);
    }
  };

  Widget.prototype.send = function (payload) {
    if (this.ws && this.ws.readyState === 1) this.ws.send(payload);
    else this.pending.push(payload);
  };

  Widget.prototype.flushPending = function () {
    while (this.pending.length && this.ws && this.ws.readyState === 1) {
      this.ws.send(this.pending.shift());
    }
  };

  // --- capture ------------------------------------------------------------------------------
  Widget.prototype.openMic = function () {
    // The browser's noise suppression and gain control hurt recognition in our tests, and the
    // reply is paused while the button is held, so there is no echo to cancel: raw audio by
    // default (data-audio-processing="on" turns the browser's processing back on).
    var on = this.data.audioProcessing === 'on';
    return navigator.mediaDevices.getUserMedia({
      audio: { channelCount: 1, echoCancellation: on, noiseSuppression: on, autoGainControl: on }
    });
  };

  Widget.prototype.startPcm = function (stream) {
    var self = this;
    var Ctx = window.AudioContext || window.webkitAudioContext;
    if (!Ctx) return Promise.reject(new Error('no audio context'));
    var ctx;
    try { ctx = new Ctx({ sampleRate: SAMPLE_RATE }); } catch (e) { ctx = new Ctx(); }
    var source = ctx.createMediaStreamSource(stream);
    var onFrame = function (buffer) { if (self.holding || self.draining) self.send(buffer); };
    var capture = { ctx: ctx, stream: stream, source: source, node: null };
    if (ctx.audioWorklet && window.AudioWorkletNode) {
      return ctx.audioWorklet.addModule(Widget.workletUrl).then(function () {
        var node = new AudioWorkletNode(ctx, 'linli-pcm-capture', {
          processorOptions: { targetRate: SAMPLE_RATE, frameMs: 40 }
        });
        node.port.onmessage = function (e) {
          if (e.data === 'flushed') { if (capture.onFlushed) capture.onFlushed(); return; }
          onFrame(e.data);
        };
        source.connect(node);
        capture.node = node;
        return ctx.resume().then(function () { return capture; });
      }, function () { return self.scriptProcessor(capture, onFrame); });
    }
    return Promise.resolve(this.scriptProcessor(capture, onFrame));
  };

  Widget.prototype.scriptProcessor = function (capture, onFrame) {
    var ctx = capture.ctx;
    var node = ctx.createScriptProcessor(4096, 1, 1);
    var step = ctx.sampleRate / SAMPLE_RATE;
    var pos = 0, acc = 0, count = 0;
    node.onaudioprocess = function (e) {
      var input = e.inputBuffer.getChannelData(0);
      var out = [];
      for (var i = 0; i < input.length; i++) {
        acc += input[i]; count++; pos += 1;
        if (pos >= step) {
          pos -= step;
          var s = Math.max(-1, Math.min(1, acc / count));
          out.push(s < 0 ? s * 0x8000 : s * 0x7fff);
          acc = 0; count = 0;
        }
      }
      if (out.length) onFrame(new Int16Array(out).buffer);
    };
    capture.source.connect(node);
    node.connect(ctx.destination);
    capture.node = node;
    return ctx.resume().then(function () { return capture; });
  };

  Widget.prototype.stopPcm = function (capture) {
    var finish = function () {
      try { capture.source.disconnect(); } catch (e) { /* */ }
      try { capture.node.disconnect(); } catch (e) { /* */ }
      capture.stream.getTracks().forEach(function (track) { track.stop(); });
      capture.ctx.close();
    };
    if (capture.node && capture.node.port) {
      return new Promise(function (resolve) {
        var timer = setTimeout(function () { finish(); resolve(); }, 300);
        capture.onFlushed = function () { clearTimeout(timer); finish(); resolve(); };
        capture.node.port.postMessage('flush');
      });
    }
    finish();
    return Promise.resolve();
  };

  // --- press and hold --------------------------------------------------------------------------
  Widget.prototype.idle = function () {
    // On a public screen the next person must not continue someone else's conversation.
    var self = this;
    var seconds = Number(this.data.resetAfter);
    if (this.resetTimer) clearTimeout(this.resetTimer);
    if (!seconds) return;
    this.resetTimer = setTimeout(function () {
      if (self.holding) return;
      self.closePanel();
      self.cid = null;
      if (self.ws) self.ws.close();
    }, seconds * 1000);
  };

  Widget.prototype.press = function () {
    var self = this;
    if (this.resetTimer) clearTimeout(this.resetTimer);
    if (this.holding) return;
    this.holding = true;
    this.heldSince = Date.now();
    this.player.pause();
    this.root.classList.remove('lv-speaking');
    this.root.classList.add('lv-listening');
    this.button.setAttribute('aria-pressed', 'true');
    this.label.textContent = this.t.listening;
    this.openPanel();
    this.status.textContent = this.t.listening;
    this.partial.textContent = '';
    this.replyText.textContent = '';
    this.error.hidden = true;
    this.pending = [];
    this.mode = null;
    this.starting = this.openMic().then(function (stream) {
      if (!self.useUpload()) {
        return self.startPcm(stream).then(function (capture) {
          self.capture = capture;
          self.mode = 'stream';
          self.socket().then(function () { self.flushPending(); }, function (err) {
            self.fallbackAfterSocketFailure(err, stream);
          });
        }, function () { return self.startRecorder(stream); });
      }
      return self.startRecorder(stream);
    }, function () {
      self.holding = false;
      self.resetButton();
      self.showError(window.isSecureContext ? self.t.mic : self.t.secure);
    });
  };

  Widget.prototype.useUpload = function () {
    return !window.WebSocket || this.forceUpload;
  };

  Widget.prototype.fallbackAfterSocketFailure = function (err, stream) {
    if (err && err.code && err.code !== 404) { this.showError(err.message); return; }
    // No WebSocket to this server (a proxy that does not upgrade): record and upload instead.
    this.forceUpload = true;
    if (this.capture) { this.stopPcm(this.capture); this.capture = null; }
    if (this.holding) {
      var self = this;
      this.openMic().then(function (s) { self.startRecorder(s); });
    }
  };

  Widget.prototype.startRecorder = function (stream) {
    var self = this;
    if (!window.MediaRecorder) {
      stream.getTracks().forEach(function (track) { track.stop(); });
      this.holding = false;
      this.resetButton();
      this.showError(this.t.mic);
      return null;
    }
    var chunks = [];
    var recorder = new MediaRecorder(stream);
    recorder.ondataavailable = function (e) { if (e.data && e.data.size) chunks.push(e.data); };
    recorder.onstop = function () {
      stream.getTracks().forEach(function (track) { track.stop(); });
      if (self.cancelled) return;
      var blob = new Blob(chunks, { type: recorder.mimeType || 'audio/webm' });
      self.upload(blob);
    };
    recorder.start();
    this.recorder = recorder;
    this.mode = 'upload';
    return recorder;
  };

  Widget.prototype.release = function () {
    var self = this;
    if (!this.holding) return;
    this.holding = false;
    var held = Date.now() - this.heldSince;
    this.resetButton();
    this.cancelled = held < MIN_HOLD_MS;
    Promise.resolve(this.starting).then(function () {
      if (self.mode === 'upload' && self.recorder) {
        var recorder = self.recorder;
        self.recorder = null;
        if (recorder.state === 'recording') recorder.stop();
      } else if (self.mode === 'stream' && self.capture) {
        var capture = self.capture;
        self.capture = null;
        self.draining = true;
        self.stopPcm(capture).then(function () {
          self.draining = false;
          self.send(JSON.stringify({ type: self.cancelled ? 'cancel' : 'end' }));
          self.socket().then(function () { self.flushPending(); }, function () { /* shown */ });
        });
      }
      if (self.cancelled) { self.status.textContent = self.t.release; }
      else { self.status.textContent = self.t.thinking; }
    });
  };

  Widget.prototype.resetButton = function () {
    this.root.classList.remove('lv-listening');
    this.button.setAttribute('aria-pressed', 'false');
    this.label.textContent = this.t.talk;
  };

  Widget.prototype.upload = function (blob) {
    var self = this;
    var form = new FormData();
    form.append('audio', blob, 'speech.webm');
    if (this.cid) form.append('conversation_id', this.cid);
    if (this.language) form.append('language', this.language);
    return this.api('/utterances', { method: 'POST', body: form }).then(function (reply) {
      if (reply.transcript) self.partial.textContent = self.t.you + reply.transcript;
      self.showReply(reply);
    }).catch(function (err) {
      if (err && err.code === 404 && self.cid) { self.cid = null; return self.upload(blob); }
      self.showError((err && err.message) || self.t.network);
    });
  };

  // --- typed turns (the lobby screen's buttons) --------------------------------------------------
  Widget.prototype.say = function (text) {
    var self = this;
    this.openPanel();
    this.error.hidden = true;
    this.status.textContent = this.t.thinking;
    var body = { text: text };
    if (this.cid) body.conversation_id = this.cid;
    else if (this.language) body.language = this.language;
    return this.api('/text', {
      method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(body)
    }).then(function (reply) { self.showReply(reply); }).catch(function (err) {
      if (err && err.code === 404 && self.cid) { self.cid = null; return self.say(text); }
      self.showError((err && err.message) || self.t.network);
    });
  };

  // The screen's 我要反映 / 查进度 start the dialog with the phrase in the DIALOG's language
  // (a zh-CN dialog on an English screen hears 查进度); a dialog in a language without these
  // phrases leaves the buttons to the screen's own panels (voice message, keypad).
  var KIOSK_PHRASES = {
    zh: { report: '我要反映', progress: '查进度' },
    en: { report: 'report a problem', progress: 'check progress' }
  };

  Widget.prototype.hookKiosk = function (defaultLanguage) {
    var self = this;
    var kiosk = window.LinliKiosk;
    if (!kiosk || !kiosk.onAction) return;
    var dialog = String(this.language || defaultLanguage || 'zh-CN').toLowerCase();
    var phrases = KIOSK_PHRASES[dialog.split('-')[0]];
    if (!phrases) return;
    ['report', 'progress'].forEach(function (action) {
      kiosk.onAction(action, function () {
        if (kiosk.pause) kiosk.pause(true);
        self.say(phrases[action]);
        return true;
      });
    });
  };

  // --- showing and playing the reply --------------------------------------------------------------
  Widget.prototype.audioUrl = function (url) {
    var fmt = this.data.format || 'auto';
    if (fmt === 'auto') {
      fmt = this.player.canPlayType('audio/ogg; codecs="opus"') ? 'ogg' : 'mp3';
    }
    return url + (url.indexOf('?') < 0 ? '?' : '&') + 'format=' + fmt;
  };

  Widget.prototype.showReply = function (reply) {
    if (reply.conversation_id) this.cid = reply.ended ? null : reply.conversation_id;
    this.status.textContent = '';
    this.replyText.textContent = reply.reply_text || '';
    this.root.dataset.intent = reply.intent || '';
    this.root.dataset.replies = String(Number(this.root.dataset.replies || 0) + 1);
    if (reply.case_ref) this.root.dataset.caseRef = reply.case_ref;
    if (reply.reply_audio_url) {
      this.lastAudio = this.audioUrl(reply.reply_audio_url);
      this.replayButton.hidden = false;
      this.play();
    }
    var event = new CustomEvent('linli:voice-reply', { detail: reply });
    this.root.dispatchEvent(event);
    this.idle();
  };

  Widget.prototype.play = function () {
    var self = this;
    if (!this.lastAudio) return;
    this.player.src = this.lastAudio;
    this.root.classList.add('lv-speaking');
    var played = this.player.play();
    if (played && played.catch) played.catch(function () { self.root.classList.remove('lv-speaking'); });
  };

  Widget.prototype.replay = function () {
    this.player.pause();
    this.play();
  };

  Widget.prototype.showError = function (message) {
    this.status.textContent = '';
    this.error.textContent = String(message || this.t.network);
    this.error.hidden = false;
    this.openPanel();
    this.idle();
  };

  Widget.prototype.openPanel = function () {
    this.panel.hidden = false;
    this.root.classList.add('lv-open');
  };

  Widget.prototype.closePanel = function () {
    this.player.pause();
    this.panel.hidden = true;
    this.root.classList.remove('lv-open', 'lv-speaking');
    var kiosk = window.LinliKiosk;
    if (kiosk && kiosk.pause && this.data.kioskActions !== undefined) kiosk.pause(false);
  };

  var script = document.currentScript;
  Widget.workletUrl = script ? new URL('pcm-worklet.js', script.src).href : '/static/voice/pcm-worklet.js';

  function start() {
    var widgets = [];
    Array.prototype.forEach.call(document.querySelectorAll('[data-linli-voice]'), function (root) {
      if (root.linliVoice) return;
      var widget = new Widget(root);
      root.linliVoice = widget;
      widget.ready = widget.init();
      widgets.push(widget);
    });
    window.LinliVoice = { widgets: widgets, Widget: Widget, start: start };
  }

  if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', start);
  else start();
}());
