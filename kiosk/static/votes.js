/* Linli lobby screen: 议事投票 (LinliKiosk.onAction('votes')).
 *
 * GET /kiosk/api/votes lists the community's votes with live counts (numbers only); a tap on a
 * vote shows its question, the one-vote-per-household rule and big choice buttons; a choice is
 * confirmed by typing phone number then PIN on the big keypad (LinliKeypad), which POSTs
 * /kiosk/api/votes/<id> (bearer device token). Going home (LinliKiosk.goHome, the idle warning)
 * closes and forgets everything typed.
 */
(function () {
  'use strict';
  var K = window.LinliKiosk;
  var panel = document.getElementById('votes-panel');
  if (!K || !panel) return;
  var T = JSON.parse(document.getElementById('votes-config').textContent).texts;
  var TOKEN_KEY = 'linli.kiosk.token';
  var $ = function (id) { return document.getElementById(id); };
  var V = { items: [], current: null, position: null, phone: '', keypad: null, opener: null };

  function token() {
    try { return JSON.parse(localStorage.getItem(TOKEN_KEY)); } catch (e) { return null; }
  }
  function call(method, path, body) {
    return fetch('/kiosk/api/votes' + path, {
      method: method,
      headers: { 'Content-Type': 'application/json', Authorization: 'Bearer ' + token() },
      body: body ? JSON.stringify(body) : undefined
    }).then(function (r) {
      return r.json().catch(function () { return {}; }).then(function (data) { return { status: r.status, data: data }; });
    });
  }
  function fill(text, values) {
    return text.replace(/\{(\w+)\}/g, function (m, k) { return values[k] != null ? values[k] : m; });
  }
  function show(id) {
    ['vp-list', 'vp-vote', 'vp-ask', 'vp-done'].forEach(function (s) { $(s).hidden = s !== id; });
  }
  function button(text, onClick) {
    var b = document.createElement('button');
    b.type = 'button';
    b.className = 'pp-btn';
    b.textContent = text;
    b.addEventListener('click', onClick);
    return b;
  }
  function counts(list, results) {
    list.textContent = '';
    if (!results) return;
    results.options.forEach(function (o) {
      var li = document.createElement('li');
      li.textContent = o.position + '. ' +
        fill(T.option_count, { label: o.label, count: fill(T.households, { n: o.votes }) });
      list.appendChild(li);
    });
    var li = document.createElement('li');
    li.textContent = fill(T.voted, { voted: results.households_voted, all: results.households_eligible });
    list.appendChild(li);
  }

  function load() {
    show('vp-list');
    return call('GET', '').then(function (r) {
      V.items = (r.data && r.data.items) || [];
      var list = $('vp-items');
      list.textContent = '';
      if (!V.items.length) {
        var li = document.createElement('li');
        li.textContent = T.none;
        list.appendChild(li);
      }
      V.items.forEach(function (c) {
        var li = document.createElement('li');
        li.appendChild(button(c.title, function () { openVote(c.id); }));
        list.appendChild(li);
      });
    }).catch(function () { $('vp-items').textContent = T.error; });
  }

  function openVote(id) {
    var c = V.items.filter(function (x) { return x.id === id; })[0];
    if (!c) return;
    V.current = c;
    $('vp-q').textContent = c.title;
    $('vp-rule').textContent = c.status === 'open' ? c.rule : T.closed;
    var options = $('vp-options');
    options.textContent = '';
    if (c.status === 'open') {
      c.options.forEach(function (o) {
        var b = button(o.position + '. ' + o.label, function () { choose(o); });
        b.dataset.position = o.position;
        options.appendChild(b);
      });
    }
    counts($('vp-counts'), c.results);
    show('vp-vote');
    $('vp-q').focus && $('vp-q').setAttribute('tabindex', '-1');
  }

  function choose(option) {
    V.position = option.position;
    V.phone = '';
    $('vp-chosen').textContent = fill(T.chosen, { label: option.label });
    $('vp-help').textContent = T.confirm;
    $('vp-status').textContent = '';
    step('phone');
    show('vp-ask');
  }

  function step(which) {
    if (V.keypad) V.keypad.destroy();
    var o = { onCancel: function () { show('vp-vote'); } };
    if (which === 'phone') {
      o.label = T.phone_label; o.minLength = o.maxLength = 11;
      o.onDone = function (value) { V.phone = value; step('pin'); };
    } else {
      o.label = T.pin_label; o.minLength = o.maxLength = 6; o.mask = true;
      o.onDone = submit;
    }
    V.keypad = window.LinliKeypad.create($('vp-keypad'), o);
    V.keypad.focus();
  }

  function submit(pin) {
    V.keypad.setEnabled(false);
    call('POST', '/' + V.current.id, { phone: V.phone, pin: pin, position: V.position }).then(function (r) {
      if (r.status === 200) {
        V.phone = '';
        $('vp-message').textContent = r.data.message;
        V.current.results = r.data.results;
        show('vp-done');
        return;
      }
      var errors = (r.data && r.data.errors) || {};
      var first = errors.pin || errors.phone;
      $('vp-status').textContent = (first && first[0]) || (r.data && r.data.message) || T.error;
      step(errors.phone ? 'phone' : 'pin');
    }).catch(function () {
      $('vp-status').textContent = T.error;
      V.keypad.setEnabled(true);
    });
  }

  function open() {
    V.opener = document.activeElement;
    K.stop();
    panel.hidden = false;
    load();
  }
  function close() {
    if (panel.hidden) return;
    if (V.keypad) { V.keypad.destroy(); V.keypad = null; }
    V.phone = ''; V.position = null; V.current = null;
    panel.hidden = true;
    if (V.opener && V.opener.focus && document.contains(V.opener)) V.opener.focus();
  }

  $('vp-home').addEventListener('click', function () { K.goHome(); });
  $('vp-back').addEventListener('click', load);
  K.onAction('votes', function () { open(); return true; });
  K.whileEngaged(function () { return !panel.hidden; });
  document.addEventListener('linli:kiosk-home', close);
})();
