/* Linli lobby screen: 活动报名 (LinliKiosk.onAction('activities')).
 *
 * GET /kiosk/api/activities lists the community's coming activities with places left (numbers
 * only); a tap on one (or on an activity in the screen's side list) shows its title, time,
 * place and places left and a big 报名 button; the sign-up is confirmed by typing phone number
 * then PIN on the big keypad (LinliIdentify, shared with the votes panel), which POSTs
 * /kiosk/api/activities/<id> (bearer device token). The answer (signed up / on the waiting
 * list, number N / already signed up) comes from the server.
 * Going home (LinliKiosk.goHome, the idle warning) closes and forgets everything typed.
 */
(function () {
  'use strict';
  var K = window.LinliKiosk;
  var I = window.LinliIdentify;
  var panel = document.getElementById('activities-panel');
  if (!K || !I || !panel) return;
  var T = JSON.parse(document.getElementById('activities-config').textContent).texts;
  var $ = function (id) { return document.getElementById(id); };
  var A = { items: [], current: null, asker: null, opener: null };

  function call(method, path, body) { return I.call(method, '/kiosk/api/activities' + path, body); }
  function show(id) {
    ['ap-list', 'ap-one', 'ap-ask', 'ap-done'].forEach(function (s) { $(s).hidden = s !== id; });
  }
  function places(a) {
    if (!a.signup_open) return T.closed;
    return a.places_left ? I.fill(T.places_left, { n: a.places_left }) : T.full;
  }

  function load() {
    show('ap-list');
    return call('GET', '').then(function (r) {
      A.items = (r.data && r.data.items) || [];
      var list = $('ap-items');
      list.textContent = '';
      if (!A.items.length) {
        var none = document.createElement('li');
        none.textContent = T.none;
        list.appendChild(none);
      }
      A.items.forEach(function (a) {
        var li = document.createElement('li');
        var b = document.createElement('button');
        b.type = 'button';
        b.className = 'pp-btn';
        b.dataset.activityId = a.id;
        b.textContent = a.title + ' · ' + a.when + ' · ' + places(a);
        b.addEventListener('click', function () { openOne(a.id); });
        li.appendChild(b);
        list.appendChild(li);
      });
    }).catch(function () { $('ap-items').textContent = T.error; });
  }

  function openOne(id) {
    var a = A.items.filter(function (x) { return x.id === id; })[0];
    if (!a) return false;
    A.current = a;
    $('ap-name').textContent = a.title;
    $('ap-when').textContent = I.fill(T.when, { when: a.when });
    $('ap-place').textContent = I.fill(T.place, { place: a.place });
    $('ap-left').textContent = places(a);
    $('ap-join').hidden = !a.signup_open;
    show('ap-one');
    return true;
  }

  function join() {
    $('ap-chosen').textContent = I.fill(T.chosen, { title: A.current.title });
    $('ap-status').textContent = '';
    if (A.asker) A.asker.destroy();
    A.asker = I.start($('ap-keypad'), { texts: T, onCancel: function () { show('ap-one'); }, onDone: submit });
    show('ap-ask');
  }

  function submit(phone, pin) {
    call('POST', '/' + A.current.id, { phone: phone, pin: pin }).then(function (r) {
      if (r.status === 200) {
        A.asker.destroy();
        $('ap-message').textContent = r.data.message;
        A.current.places_left = r.data.places_left;
        show('ap-done');
        return;
      }
      var errors = (r.data && r.data.errors) || {};
      var first = errors.pin || errors.phone;
      $('ap-status').textContent = (first && first[0]) || (r.data && r.data.message) || T.error;
      A.asker.retry(errors);
    }).catch(function () {
      $('ap-status').textContent = T.error;
      A.asker.setEnabled(true);
    });
  }

  // From the 活动报名 button: the list; from an activity in the side list: that activity.
  function open(id) {
    A.opener = document.activeElement;
    K.stop();
    panel.hidden = false;
    load().then(function () {
      if (!id || !openOne(id)) return;
      // the dialog is modal: a keyboard user lands on its first button, not behind it
      ($('ap-join').hidden ? $('ap-list-back') : $('ap-join')).focus();
    });
  }
  function close() {
    if (panel.hidden) return;
    if (A.asker) { A.asker.destroy(); A.asker = null; }
    A.current = null;
    panel.hidden = true;
    if (A.opener && A.opener.focus && document.contains(A.opener)) A.opener.focus();
  }

  $('ap-home').addEventListener('click', function () { K.goHome(); });
  $('ap-back').addEventListener('click', load);
  $('ap-list-back').addEventListener('click', load);
  $('ap-join').addEventListener('click', join);
  K.onAction('activities', function () { open(); return true; });
  $('activity-list').addEventListener('click', function (event) {
    var b = event.target.closest && event.target.closest('[data-activity-id]');
    if (b) open(Number(b.dataset.activityId));
  });
  K.whileEngaged(function () { return !panel.hidden; });
  document.addEventListener('linli:kiosk-home', close);
})();
