/* Linli lobby screen: a big on-screen number keypad (大号数字键盘), shared by the screen's panels
 * (查进度 and others): digits 0–9, 删除 (delete the last digit) and 确定 (done).
 *
 * Made for a public touch screen read from a step away: every key is at least 80 px square
 * (keypad.css), the typed digits are shown large in boxes, and what a key does is said in words
 * (never colour alone). A hardware keyboard works too: 0–9 (also on the number pad), Backspace or
 * Delete, Enter; Escape calls onCancel when given.
 *
 * window.LinliKeypad:
 *   create(container, opts) → keypad   draws the keypad into `container` (emptied first).
 *     opts.maxLength   most digits (default 6); keys beyond it are ignored
 *     opts.minLength   fewest digits 确定 accepts (default maxLength); fewer shows opts.texts.short
 *     opts.label       the visible label above the digits, also the group's accessible name
 *     opts.hint        an optional second line under the label (e.g. "the digits after the dash")
 *     opts.mask        show ● for each digit (a PIN); screen readers hear only how many
 *     opts.texts       the words, in the page's language; missing ones come from the kiosk's
 *                      configuration (#kiosk-config → texts.keypad, see kiosk/views.py _texts),
 *                      then English: {delete, delete_label, done, done_label, typed,
 *                      typed_masked, empty, short, digit} where typed, typed_masked/short and
 *                      digit use {digits}, {n} and {d}
 *     opts.onChange(value)  after every change
 *     opts.onDone(value)    确定 or Enter with at least minLength digits
 *     opts.onCancel()       Escape (optional)
 *     opts.keyboard    'document' (default: keys anywhere on the page while the keypad is
 *                      visible and enabled) or 'self' (only while focus is inside it)
 *   keypad.value()            the digits typed, a string
 *   keypad.set(value)         replace them (non-digits dropped, cut at maxLength)
 *   keypad.clear()            empty it
 *   keypad.focus()            focus the keypad (its group; typing and Enter then work at once)
 *   keypad.setEnabled(on)     turn every key off (e.g. while waiting for the server) or on
 *   keypad.setMessage(text)   a line under the digits (empty hides it); announced politely
 *   keypad.element            the keypad's root element (class "keypad")
 *   keypad.destroy()          remove it and its keyboard listener
 *
 * Keys carry data-key="0".."9" | "delete" | "done", for scripts and tests.
 */
(function () {
  'use strict';

  var DEFAULTS = {
    delete: 'Delete', delete_label: 'Delete the last digit', done: 'OK', done_label: 'OK, I have finished typing',
    typed: 'Typed: {digits}', typed_masked: '{n} digits typed', empty: 'Nothing typed yet', short: 'Please type {n} digits.',
    digit: '{d}'
  };
  var counter = 0;

  function configTexts() {
    var el = document.getElementById('kiosk-config');
    if (!el) return {};
    try {
      var cfg = JSON.parse(el.textContent);
      return (cfg.texts && cfg.texts.keypad) || {};
    } catch (e) { return {}; }
  }

  function textsOf(opts) {
    var out = {}, fromConfig = configTexts(), given = opts.texts || {};
    for (var k in DEFAULTS) {
      out[k] = given[k] != null ? given[k] : fromConfig[k] != null ? fromConfig[k] : DEFAULTS[k];
    }
    return out;
  }

  function el(tag, cls, text) {
    var node = document.createElement(tag);
    if (cls) node.className = cls;
    if (text != null) node.textContent = text;
    return node;
  }

  function create(container, opts) {
    opts = opts || {};
    var T = textsOf(opts);
    var max = Math.max(1, Number(opts.maxLength) || 6);
    var min = Math.max(1, Math.min(max, Number(opts.minLength) || max));
    var id = 'keypad-' + (++counter);
    var value = '';
    var enabled = true;

    container.textContent = '';
    var root = el('div', 'keypad');
    root.setAttribute('role', 'group');
    root.tabIndex = -1;
    root.id = id;

    var label = el('p', 'keypad-label', opts.label || '');
    label.id = id + '-label';
    root.setAttribute('aria-labelledby', label.id);
    root.appendChild(label);
    if (opts.hint) {
      var hint = el('p', 'keypad-hint', opts.hint);
      hint.id = id + '-hint';
      root.setAttribute('aria-describedby', hint.id);
      root.appendChild(hint);
    }

    // The digits typed: one box per place, and the same in words for screen readers.
    var display = el('p', 'keypad-display');
    display.setAttribute('aria-hidden', 'true');
    var boxes = [];
    for (var i = 0; i < max; i++) {
      var box = el('span', 'keypad-box' + (i < max - min ? ' optional' : ''));
      boxes.push(box);
      display.appendChild(box);
    }
    root.appendChild(display);
    var spoken = el('p', 'keypad-spoken');
    spoken.setAttribute('role', 'status');
    spoken.setAttribute('aria-live', 'polite');
    root.appendChild(spoken);
    var message = el('p', 'keypad-message');
    message.setAttribute('role', 'status');
    message.setAttribute('aria-live', 'polite');
    message.hidden = true;
    root.appendChild(message);

    var grid = el('div', 'keypad-keys');
    var keys = ['1', '2', '3', '4', '5', '6', '7', '8', '9', 'delete', '0', 'done'];
    var buttons = {};
    keys.forEach(function (k) {
      var b = el('button', 'keypad-key');
      b.type = 'button';
      b.dataset.key = k;
      if (k === 'delete') {
        b.classList.add('keypad-delete');
        b.textContent = T.delete;
        b.setAttribute('aria-label', T.delete_label);
      } else if (k === 'done') {
        b.classList.add('keypad-done');
        b.textContent = T.done;
        b.setAttribute('aria-label', T.done_label);
      } else {
        b.textContent = k;
        if (T.digit !== '{d}') b.setAttribute('aria-label', T.digit.replace('{d}', k));
      }
      buttons[k] = b;
      grid.appendChild(b);
    });
    root.appendChild(grid);
    container.appendChild(root);

    function draw() {
      for (var n = 0; n < max; n++) {
        boxes[n].textContent = opts.mask && n < value.length ? '\u25CF' : value.charAt(n);
        boxes[n].classList.toggle('filled', n < value.length);
      }
      spoken.textContent = !value ? T.empty : opts.mask
        ? T.typed_masked.replace('{n}', String(value.length))
        : T.typed.replace('{digits}', value.split('').join(' '));
      // Too few digits: 确定 still answers (it says how many are needed), so it is not disabled.
      buttons.done.classList.toggle('not-ready', value.length < min);
      buttons.delete.setAttribute('aria-disabled', value ? 'false' : 'true');
    }

    function setMessage(text) {
      message.textContent = text || '';
      message.hidden = !text;
    }

    function changed() {
      setMessage('');
      draw();
      if (opts.onChange) opts.onChange(value);
    }

    function press(k) {
      if (!enabled) return;
      if (k === 'delete') {
        if (!value) return;
        value = value.slice(0, -1);
        changed();
      } else if (k === 'done') {
        if (value.length < min) { setMessage(T.short.replace('{n}', String(min))); return; }
        if (opts.onDone) opts.onDone(value);
      } else if (/^[0-9]$/.test(k) && value.length < max) {
        value += k;
        changed();
      }
    }

    grid.addEventListener('click', function (e) {
      var b = e.target.closest && e.target.closest('.keypad-key');
      if (b) press(b.dataset.key);
    });

    function visible() { return root.isConnected && root.offsetParent !== null; }

    function onKey(e) {
      if (e.defaultPrevented || e.altKey || e.ctrlKey || e.metaKey || !visible()) return;
      if (opts.keyboard === 'self' && !root.contains(document.activeElement)) return;
      var k = null;
      if (/^[0-9]$/.test(e.key)) k = e.key;
      else if (e.key === 'Backspace' || e.key === 'Delete') k = 'delete';
      else if (e.key === 'Enter') {
        // Enter on a focused key of the keypad is that key's own click.
        var active = document.activeElement;
        if (active && active.tagName === 'BUTTON' && active !== buttons.done) return;
        k = 'done';
      } else if (e.key === 'Escape' && opts.onCancel) { e.preventDefault(); opts.onCancel(); return; }
      if (k === null) return;
      e.preventDefault();
      press(k);
    }
    document.addEventListener('keydown', onKey);

    draw();

    return {
      element: root,
      value: function () { return value; },
      set: function (v) { value = String(v == null ? '' : v).replace(/\D/g, '').slice(0, max); changed(); },
      clear: function () { value = ''; changed(); },
      // The group itself, not a key: Enter then means 确定 (on a focused key it presses that key).
      focus: function () { root.focus({ preventScroll: true }); },
      setEnabled: function (on) {
        enabled = !!on;
        root.classList.toggle('busy', !enabled);
        root.setAttribute('aria-busy', enabled ? 'false' : 'true');
        for (var k in buttons) buttons[k].disabled = !enabled;
      },
      setMessage: setMessage,
      destroy: function () {
        document.removeEventListener('keydown', onKey);
        if (root.parentNode) root.parentNode.removeChild(root);
      }
    };
  }

  window.LinliKeypad = { create: create };
})();
