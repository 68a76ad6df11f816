/* Linli lobby screen: who is at the screen, by phone number then PIN on the big keypad
 * (LinliKeypad), shared by the panels that act for a resident (议事投票 votes.js, 活动报名
 * activities.js). The server checks them (app/participation/screen_identity.py: the easy
 * mode's sign-in with its throttle and PIN lock; no session is kept).
 *
 * window.LinliIdentify:
 *   call(method, url, body) → Promise({status, data})   JSON with the screen's bearer token
 *   fill(text, values)       replace {name} placeholders
 *   start(container, opts) → asker   phone (11 digits) then PIN (6 digits, masked)
 *     opts.texts     {phone_label, pin_label} in the page's language
 *     opts.onCancel  Escape on the keypad
 *     opts.onDone(phone, pin)  both typed
 *   asker.retry(errors)   the server said no: ask again for the phone (errors.phone) or the PIN
 *   asker.setEnabled(on), asker.destroy()   (destroy forgets everything typed)
 */
(function () {
  'use strict';
  var TOKEN_KEY = 'linli.kiosk.token';

  function token() {
    try { return JSON.parse(localStorage.getItem(TOKEN_KEY)); } catch (e) { return null; }
  }
  function call(method, url, body) {
    return fetch(url, {
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

  function start(container, opts) {
    var A = { keypad: null, phone: '' };
    function step(which) {
      if (A.keypad) A.keypad.destroy();
      var o = { onCancel: opts.onCancel };
      if (which === 'phone') {
        o.label = opts.texts.phone_label; o.minLength = o.maxLength = 11;
        o.onDone = function (value) { A.phone = value; step('pin'); };
      } else {
        o.label = opts.texts.pin_label; o.minLength = o.maxLength = 6; o.mask = true;
        o.onDone = function (pin) {
          A.keypad.setEnabled(false);
          opts.onDone(A.phone, pin);
        };
      }
      A.keypad = window.LinliKeypad.create(container, o);
      A.keypad.focus();
    }
    step('phone');
    return {
      retry: function (errors) { step(errors && errors.phone ? 'phone' : 'pin'); },
      setEnabled: function (on) { if (A.keypad) A.keypad.setEnabled(on); },
      destroy: function () {
        if (A.keypad) A.keypad.destroy();
        A.keypad = null; A.phone = '';
      }
    };
  }

  window.LinliIdentify = { call: call, fill: fill, start: start };
})();
