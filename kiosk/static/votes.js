/* Linli lobby screen: 议事投票 (LinliKiosk.onAction('votes')).
 *
 * GET /kiosk/api/votes lists the community's votes with live counts (numbers only); a tap on a
 * vote shows its question, the one-vote-per-household rule and big choice buttons; a choice is
 * confirmed by typing phone number then PIN on the big keypad (LinliIdentify), which POSTs
 * /kiosk/api/votes/<id> (bearer device token). Going home (LinliKiosk.goHome, the idle warning)
 * closes and forgets everything typed.
 */
(function () {
  'use strict';
  var K = window.LinliKiosk;
  var panel = document.getElementById('votes-panel');
  if (!K || !panel) return;
  var T = JSON.parse(document.getElementById('votes-config').textContent).texts;
  var $ = function (id) { return document.getElementById(id); };
  var I = window.LinliIdentify;
  var fill = I.fill;
  var V = { items: [], current: null, position: null, asker: null, opener: null };

  function call(method, path, body) { return I.call(method, '/kiosk/api/votes' + path, body); }
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
    $('vp-chosen').textContent = fill(T.chosen, { label: option.label });
    $('vp-help').textContent = T.confirm;
    $('vp-status').textContent = '';
    if (V.asker) V.asker.destroy();
    V.asker = I.start($('vp-keypad'), { texts: T, onCancel: function () { show('vp-vote'); }, onDone: submit });
    show('vp-ask');
  }

  function submit(phone, pin) {
    call('POST', '/' + V.current.id, { phone: phone, pin: pin, position: V.position }).then(function (r) {
      if (r.status === 200) {
        V.asker.destroy();
        $('vp-message').textContent = r.data.message;
        V.current.results = r.data.results;
        show('vp-done');
        return;
      }
      var errors = (r.data && r.data.errors) || {};
      var first = errors.pin || errors.phone;
      $('vp-status').textContent = (first && first[0]) || (r.data && r.data.message) || T.error;
      V.asker.retry(errors);
    }).catch(function () {
      $('vp-status').textContent = T.error;
      V.asker.setEnabled(true);
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
    if (V.asker) { V.asker.destroy(); V.asker = null; }
    V.position = null; V.current = null;
    panel.hidden = true;
    if (V.opener && V.opener.focus && document.contains(V.opener)) V.opener.focus();
  }

  $('vp-home').addEventListener('click', function () { K.goHome(); });
  $('vp-back').addEventListener('click', load);
  K.onAction('votes', function () { open(); return true; });
  K.whileEngaged(function () { return !panel.hidden; });
  document.addEventListener('linli:kiosk-home', close);
})();
