/* Linli lobby screen (社区大屏).
 *
 * Shows the community's announcements from GET /kiosk/snapshot (bearer device token, ETag),
 * re-fetched whenever the event stream /kiosk/stream rings (each event carries the new feed
 * version) and slowly polled as a backstop. The last snapshot is kept in localStorage and the
 * service worker keeps this page, so the screen shows its last content through outages and
 * reloads, expiring items on its own clock (set from the server's time).
 *
 * Hooks for the voice channel (window.LinliKiosk):
 *   LinliKiosk.onAction(name, handler)  name: 'listen' | 'report' | 'progress'.
 *       handler({action, item, snapshot}) runs when the button is touched; return true to
 *       replace the default (listen: read the current item aloud; report/progress: a short
 *       message with the committee phone). A 'linli:kiosk-action' CustomEvent (cancelable,
 *       detail {action, item}) is also dispatched on document.
 *   LinliKiosk.speak(item?) / LinliKiosk.stop()   read an item aloud (default: the current one)
 *       with server-made speech (item.speech_url) or, if absent, the browser's speechSynthesis;
 *       the stop button is always shown while reading.
 *   LinliKiosk.current(), .items(), .snapshot(), .now(), .showMessage(text), .pause(on)
 *   LinliKiosk.show(item)   put an item on the slide now (the rotation goes on from there)
 *   LinliKiosk.page() {page, pages} (1-based), .goPage(n) (pauses the rotation)
 *   LinliKiosk.whileEngaged(check)   the screen counts as in use while check() is true (a panel
 *       is open): after IDLE_MS without a touch the idle warning counts down, then goHome.
 *   LinliKiosk.goHome()   back to the rotation's start: closes messages, stops reading and
 *       dispatches 'linli:kiosk-home' on document (panels close and forget what they showed).
 *
 * An urgent item (new, or edited into a new revision) is read aloud once when it arrives: a
 * chime (sound.js, LinliSound), then the item by speak(), waiting up to SPEECH_WAIT_MS for the
 * server's speech of it (SPEECH_WAIT_NO_VOICE_MS where the browser has no voice of its own). Not in the screen's quiet hours, never again after a reload, and not
 * over a resident using the screen: it waits until nobody has touched the screen for
 * URGENT_WAIT_MS (?urgent_wait=seconds), no message or panel is open and a reading they asked
 * for has ended (a paused rotation alone does not hold it: the banner shows it meanwhile).
 * While the browser holds sound back it waits for sound (the 点一下开启声音 button or a touch).
 * A screen's very first snapshot is taken as already heard: it was not an arrival.
 *
 * A body too long for the slide is split into pages that fit it by paging.js (LinliPaging, shared
 * with the staff console's preview, so staff see the pages the screens show). Each page has its
 * own dwell time; the progress bar covers the whole item with a notch between its pages, and
 * ◀ ▶ let a resident turn the pages (which pauses the rotation).
 */
(function () {
  'use strict';

  var CFG = JSON.parse(document.getElementById('kiosk-config').textContent);
  var T = CFG.texts;
  var K = {
    token: 'linli.kiosk.token',
    snapshot: 'linli.kiosk.snapshot',
    announced: 'linli.kiosk.announced'
  };
  var params = new URLSearchParams(window.location.search);
  var IDLE_MS = 1000 * Math.max(1, Number(params.get('idle_after')) || CFG.idleSeconds);
  // The warning before returning to the start is never shorter than 20 s.
  var WARN_S = Math.max(20, CFG.idleWarningSeconds);
  var URGENT_WAIT_MS = 1000 * Math.max(1, Number(params.get('urgent_wait')) ||
    CFG.urgentWaitSeconds || 20);
  // How long an urgent item waits for the server's speech of it before the browser's own
  // voice reads it; a browser without a voice waits longer (it has nothing else to say it with).
  var SPEECH_WAIT_MS = 10000;
  var SPEECH_WAIT_NO_VOICE_MS = 60000;
  var Sound = window.LinliSound || { state: function () { return 'unknown'; },
    onChange: function () {}, blocked: function () {}, played: function () {},
    chime: function (done) { if (done) setTimeout(done, 0); return false; } };

  var $ = function (id) { return document.getElementById(id); };
  var root = document.documentElement;

  var S = {
    token: null, snap: null, etag: null, version: -1, offsetMs: 0, lastSync: null,
    online: null, es: null, streamOpen: false, lastEventId: null, backoff: 0,
    reconnectTimer: null, fetching: false, fetchAgain: false,
    currentId: null, currentRev: null, index: 0, elapsed: 0, duration: 15000,
    holdUntil: 0, paused: false, speaking: null, lastInput: Date.now(), idleLeft: null,
    announced: [], seen: {}, upNext: [], railKey: '', timers: [], pairing: null,
    pages: [], page: 0, pageEnds: [], layoutKey: '', reading: null,
    lastTouch: 0, urgentQueue: [], chiming: false, baseline: false
  };
  var hooks = {};
  var engagedChecks = [];

  // --- storage -------------------------------------------------------------------------------
  function load(key) {
    try { return JSON.parse(localStorage.getItem(key)); } catch (e) { return null; }
  }
  function save(key, value) {
    try { localStorage.setItem(key, JSON.stringify(value)); } catch (e) { /* full: keep going */ }
  }

  // --- clock (server time, community time zone) ----------------------------------------------
  function now() { return Date.now() + S.offsetMs; }
  function offsetMinutes() { return S.snap ? S.snap.utc_offset_minutes : 480; }
  function local(t) { return new Date(t + offsetMinutes() * 60000); }
  function pad(n) { return (n < 10 ? '0' : '') + n; }
  function hhmm(t) { var d = local(t); return pad(d.getUTCHours()) + ':' + pad(d.getUTCMinutes()); }
  function dayLabel(t) {
    var d = local(t);
    return T.day.replace('{m}', d.getUTCMonth() + 1).replace('{d}', d.getUTCDate());
  }
  function minutesOf(text) { var p = text.split(':'); return Number(p[0]) * 60 + Number(p[1]); }
  function inSpan(minute, start, end) {
    var a = minutesOf(start), b = minutesOf(end);
    return a < b ? (minute >= a && minute < b) : (minute >= a || minute < b);
  }

  function inWindow(w, t) {
    if (!w) return true;
    var d = local(t);
    var iso = ((d.getUTCDay() + 6) % 7) + 1;
    if (w.days && w.days.length && w.days.indexOf(iso) < 0) return false;
    if (w.start && w.end) return inSpan(d.getUTCHours() * 60 + d.getUTCMinutes(), w.start, w.end);
    return true;
  }

  function isActive(item, t) {
    if (item.publish_at && Date.parse(item.publish_at) > t) return false;
    if (item.expire_at && Date.parse(item.expire_at) <= t) return false;
    return inWindow(item.window, t);
  }

  function activeItems(t) {
    if (!S.snap) return [];
    return S.snap.items.filter(function (i) { return isActive(i, t); });
  }

  function quietNow() {
    var q = S.snap && S.snap.device && S.snap.device.quiet_hours;
    if (!q) return false;
    var d = local(now());
    return inSpan(d.getUTCHours() * 60 + d.getUTCMinutes(), q.start, q.end);
  }

  // --- connection state ------------------------------------------------------------------------
  function setOnline(on) {
    S.online = on;
    root.dataset.online = on ? '1' : '0';
    var el = $('conn-status');
    if (on) { el.textContent = ''; return; }
    var when = S.lastSync ? ' · ' + T.updated.replace('{time}', hhmm(S.lastSync)) : '';
    el.textContent = T.offline + when;
  }

  function authHeaders(extra) {
    var h = { Authorization: 'Bearer ' + S.token };
    for (var k in extra || {}) h[k] = extra[k];
    return h;
  }

  // --- snapshot ---------------------------------------------------------------------------------
  function fetchSnapshot() {
    if (!S.token) return Promise.resolve();
    if (S.fetching) { S.fetchAgain = true; return Promise.resolve(); }
    S.fetching = true;
    var t0 = Date.now();
    var headers = S.etag ? authHeaders({ 'If-None-Match': S.etag }) : authHeaders();
    return fetch('/kiosk/snapshot', { headers: headers, cache: 'no-store' })
      .then(function (res) {
        var t1 = Date.now();
        if (res.status === 401 || res.status === 403) { forget(); return null; }
        var st = res.headers.get('X-Server-Time');
        if (st) S.offsetMs = Date.parse(st) - (t0 + t1) / 2;
        if (res.status === 304) { S.lastSync = now(); persist(); setOnline(true); return null; }
        if (!res.ok) throw new Error('snapshot ' + res.status);
        var tag = res.headers.get('ETag');
        return res.json().then(function (snap) {
          S.etag = tag;
          S.lastSync = now();
          apply(snap);
          persist();
          setOnline(true);
        });
      })
      .catch(function () { setOnline(false); })
      .then(function () {
        S.fetching = false;
        if (S.fetchAgain) { S.fetchAgain = false; fetchSnapshot(); }
      });
  }

  function persist() {
    if (S.snap) {
      save(K.snapshot, { snap: S.snap, etag: S.etag, lastSync: S.lastSync, offsetMs: S.offsetMs });
    }
  }

  function apply(snap) {
    var first = !S.snap;
    var before = S.seen;
    S.snap = snap;
    S.version = snap.version;
    root.dataset.version = String(snap.version);
    root.classList.toggle('portrait', snap.device && snap.device.orientation === 'portrait');
    var seen = {};
    snap.items.forEach(function (i) {
      seen[i.id] = true;
      // Something new is shown next, without cutting short what people are reading.
      if (!first && !before[i.id] && i.priority !== 'urgent') S.upNext.push(i.id);
    });
    S.seen = seen;
    drawStatic();
    step(0);
  }

  // --- drawing ------------------------------------------------------------------------------------
  function drawStatic() {
    var snap = S.snap;
    $('community-name').textContent = snap.community.name;
    var foot = [];
    if (snap.community.phone) foot.push(T.phone.replace('{phone}', snap.community.phone));
    if (snap.community.office_hours) foot.push(T.hours.replace('{hours}', snap.community.office_hours));
    $('community-phone').textContent = foot.length < 2 ? foot.join('')
      : T.both.replace('{a}', function () { return foot[0]; })
        .replace('{b}', function () { return foot[1]; });
    var fig = snap.figures;
    $('figures-panel').hidden = !fig;
    if (fig) {
      $('fig-received').textContent = fig.received == null ? '–' : fig.received;
      $('fig-resolved').textContent = fig.resolved == null ? '–' : fig.resolved;
      $('fig-rating').textContent = fig.avg_rating == null ? '–' : fig.avg_rating.toFixed(1);
    }
    drawActivities();
    fitSide();
  }

  // The rotation's step (and a new snapshot) redraw it with their own instant: an activity
  // announcement is listed by the rotation's rule (isActive: published, not expired, in its
  // window), so one the snapshot carries ahead of its time joins the list when that time comes.
  function drawActivities(t) {
    if (t == null) t = now();
    var list = $('activity-list');
    var boardChanged = drawLeaderboard();
    // Activities with sign-up (app/participation) first, then the activity announcements.
    var real = (S.snap && S.snap.activities ? S.snap.activities : []).filter(function (a) {
      return Date.parse(a.starts_at) > t - 3 * 3600 * 1000;
    }).map(function (a) {
      var d = local(Date.parse(a.starts_at));
      var hm = ('0' + d.getUTCHours()).slice(-2) + ':' + ('0' + d.getUTCMinutes()).slice(-2);
      return { id: 'a' + a.id, activityId: a.id, revision: a.places_left, title: a.title,
        when: dayLabel(Date.parse(a.starts_at)) + ' ' + hm + ' · ' + a.place + ' · '
          + (a.places_left ? T.places_left.replace('{n}', a.places_left) : T.full) };
    });
    var acts = real.concat((S.snap ? S.snap.items : []).filter(function (i) {
      return i.category === 'activity' && isActive(i, t);
    })).slice(0, 4);
    var key = acts.map(function (i) { return i.id + ':' + i.revision; }).join(',');
    if (list.dataset.key === key) {
      if (boardChanged) fitSide();
      return;
    }
    list.dataset.key = key;
    list.textContent = '';
    if (!acts.length) {
      var none = document.createElement('li');
      none.className = 'muted';
      none.textContent = list.dataset.none || '—';
      list.appendChild(none);
      fitSide();
      return;
    }
    acts.forEach(function (i) {
      var li = document.createElement('li');
      // An activity with sign-up is a button: a tap opens its sign-up (activities.js)
      var box = li;
      if (i.activityId) {
        box = document.createElement('button');
        box.type = 'button';
        box.className = 'activity-open';
        box.dataset.activityId = i.activityId;
        li.appendChild(box);
      }
      box.appendChild(document.createTextNode(i.title));
      if (i.when) {
        var at = document.createElement('span');
        at.className = 'when';
        at.textContent = i.when;
        box.appendChild(at);
      } else if (i.expire_at) {
        var when = document.createElement('span');
        when.className = 'when';
        when.textContent = T.until.replace('{date}', dayLabel(Date.parse(i.expire_at)));
        li.appendChild(when);
      }
      list.appendChild(li);
    });
    fitSide();
  }

  // 争做社区治理第一人: only residents who agreed, by surname (the server masks the rest).
  function drawLeaderboard() {
    var board = S.snap && S.snap.leaderboard;
    var items = board && board.items ? board.items : [];
    var panel = $('leaderboard-panel');
    if (!panel) return false;
    var shownBefore = !panel.hidden;
    panel.hidden = !items.length;
    var list = $('leaderboard-list');
    var key = items.map(function (i) { return i.rank + i.name + i.points; }).join(',');
    if (list.dataset.key === key) return shownBefore !== !panel.hidden;
    list.dataset.key = key;
    list.textContent = '';
    items.forEach(function (i) {
      var li = document.createElement('li');
      li.textContent = T.rank.replace('{n}', i.rank) + ' ' + i.name + ' · '
        + T.points.replace('{n}', i.points);
      list.appendChild(li);
    });
    return true;
  }

  // Landscape: the side column is as tall as the slide and the buttons. With the urgent banner
  // (or long lists) its panels would run past its end and cut off the figures and the QR code,
  // so first the panels close up (.tight), then the lists give way: whole items from the end
  // (the longer list first) down to one each, then the leaderboard, then the figures. Nothing
  // scrolls there, so there is no region a keyboard cannot reach; the 活动报名 panel lists
  // every activity. Portrait: the panels scroll (kiosk.css).
  function fitSide() {
    var side = document.querySelector('.side');
    var lists = [$('leaderboard-list'), $('activity-list')];
    if (!side || !lists[0] || !lists[1]) return;
    var cut = side.querySelectorAll('.squeezed');
    for (var i = 0; i < cut.length; i++) cut[i].classList.remove('squeezed');
    side.classList.remove('tight');
    if (getComputedStyle(side).flexDirection !== 'column') return;
    var over = function () { return side.scrollHeight > side.clientHeight + 1; };
    if (over()) side.classList.add('tight');  // first less room around the panels
    var shown = function (list) {
      var panel = list.closest('.panel');
      if (panel.hidden || panel.classList.contains('squeezed')) return [];
      return Array.prototype.filter.call(list.children, function (li) {
        return !li.classList.contains('squeezed');
      });
    };
    for (var guard = 0; guard < 40 && over(); guard++) {
      var board = shown(lists[0]);
      var acts = shown(lists[1]);
      var longer = board.length >= acts.length ? board : acts;
      if (longer.length > 1) {
        longer[longer.length - 1].classList.add('squeezed');
        continue;
      }
      var panel = [$('leaderboard-panel'), $('figures-panel')].filter(function (p) {
        return p && !p.hidden && !p.classList.contains('squeezed');
      })[0];
      if (!panel) return;
      panel.classList.add('squeezed');
    }
  }

  function paragraphsOf(item) { return item.paragraphs || []; }

  // --- pages: split a long body where it stops fitting the slide (paging.js) -----------------------
  function renderBlocks(blocks) { LinliPaging.render($('slide-body'), blocks); }

  function paginate(item) {
    return LinliPaging.paginate($('slide-body'), paragraphsOf(item),
      { label: $('slide-page'), template: T.page });
  }

  function pageChars(blocks) {
    return blocks.reduce(function (n, b) { return n + b.text.length; }, 0);
  }

  // About four characters a second for older readers; 12 s to 60 s a page (the title counts
  // on the first page).
  function dwellOf(item, blocks, first) {
    var chars = pageChars(blocks) + (first ? item.title.length : 0);
    return Math.max(12000, Math.min(60000, chars * 250));
  }

  function layoutKey() {
    var body = $('slide-body');
    return body.clientWidth + 'x' + body.parentNode.clientHeight;
  }

  // Split the item into pages and time them; keeps the reader on the text they were at.
  function layOut(item, keep) {
    var at = keep ? pageStartOffset(S.page) : 0;
    var inPage = keep ? S.elapsed - (S.page ? S.pageEnds[S.page - 1] : 0) : 0;
    S.pages = item ? paginate(item) : [];
    var sum = 0;
    S.pageEnds = S.pages.map(function (blocks, n) { sum += dwellOf(item, blocks, n === 0); return sum; });
    S.duration = sum || 15000;
    var page = 0;
    for (var n = 1; n < S.pages.length; n++) if (pageStartOffset(n) <= at) page = n;
    S.page = page;
    var start = page ? S.pageEnds[page - 1] : 0;
    S.elapsed = keep ? start + Math.max(0, Math.min(inPage, S.pageEnds[page] - start - 1)) : 0;
    drawProgressTicks();
    drawPage(page);
    S.layoutKey = layoutKey();
  }

  // Where page n starts, counted in characters of the whole body.
  function pageStartOffset(n) {
    var off = 0;
    for (var k = 0; k < n && k < S.pages.length; k++) off += pageChars(S.pages[k]) + 1;
    return off;
  }

  function drawPage(n) {
    S.page = n;
    renderBlocks(S.pages[n] || []);
    var many = S.pages.length > 1;
    $('slide-page').textContent = many ? LinliPaging.label(T.page, n + 1, S.pages.length) : '';
    root.dataset.page = String(n + 1);
    root.dataset.pages = String(S.pages.length);
    $('pager').hidden = !many || !!S.speaking;
    $('page-prev').disabled = n === 0;
    $('page-next').disabled = n >= S.pages.length - 1;
    if (S.reading != null) markReading(S.reading);
  }

  function drawProgressTicks() {
    var bar = $('progress');
    var old = bar.querySelectorAll('.progress-tick');
    for (var i = 0; i < old.length; i++) bar.removeChild(old[i]);
    S.pageEnds.slice(0, -1).forEach(function (end) {
      var tick = document.createElement('div');
      tick.className = 'progress-tick';
      tick.style.left = (end / S.duration * 100).toFixed(2) + '%';
      bar.appendChild(tick);
    });
  }

  function pageAt(elapsed) {
    for (var n = 0; n < S.pageEnds.length; n++) if (elapsed < S.pageEnds[n]) return n;
    return Math.max(0, S.pageEnds.length - 1);
  }

  // A resident turns the page: the rotation waits for them.
  function goPage(n) {
    if (!S.pages.length) return;
    n = Math.max(0, Math.min(S.pages.length - 1, n));
    if (!S.paused) setPaused(true);
    S.elapsed = n ? S.pageEnds[n - 1] : 0;
    drawPage(n);
    drawProgress();
  }

  function relayoutIfResized() {
    var item = currentItem();
    if (!item || layoutKey() === S.layoutKey) return;
    layOut(item, true);
    drawProgress();
  }

  function currentItem() {
    if (!S.snap || S.currentId == null) return null;
    for (var i = 0; i < S.snap.items.length; i++) {
      if (S.snap.items[i].id === S.currentId) return S.snap.items[i];
    }
    return null;
  }

  function drawSlide(item, items, keep) {
    var slide = $('slide');
    var body = $('slide-body');
    var img = $('slide-image');
    body.textContent = '';
    root.dataset.current = item ? String(item.id) : '';
    if (!item) {
      slide.classList.remove('is-urgent');
      $('slide-category').textContent = '';
      $('slide-count').textContent = '';
      $('slide-until').textContent = '';
      $('slide-title').textContent = '';
      S.pages = [];
      S.pageEnds = [];
      S.duration = 15000;
      drawProgressTicks();
      $('slide-page').textContent = '';
      $('pager').hidden = true;
      root.dataset.page = '';
      root.dataset.pages = '0';
      var p = document.createElement('p');
      p.className = 'empty';
      p.textContent = T.no_items;
      body.appendChild(p);
      img.hidden = true;
      return;
    }
    var urgent = item.priority === 'urgent';
    slide.classList.toggle('is-urgent', urgent);
    slide.dataset.itemId = String(item.id);
    $('slide-category').textContent = urgent ? T.urgent : (T.categories[item.category] || '');
    var pos = items.indexOf(item) + 1;
    $('slide-count').textContent = T.of.replace('{i}', pos).replace('{n}', items.length);
    $('slide-until').textContent = item.expire_at
      ? T.until.replace('{date}', dayLabel(Date.parse(item.expire_at))) : '';
    $('slide-title').textContent = item.title;
    if (item.image_url) {
      if (img.getAttribute('src') !== item.image_url) img.src = item.image_url;
      img.hidden = false;
    } else {
      img.hidden = true;
      img.removeAttribute('src');
    }
    // After the title and picture: they decide how much room the body has.
    layOut(item, keep);
  }

  function drawRail(items) {
    var key = items.map(function (i) { return i.id + ':' + i.revision; }).join(',') +
      '|' + S.currentId;
    if (key === S.railKey) return;
    S.railKey = key;
    var rail = $('rail');
    var scroll = rail.scrollLeft;
    rail.textContent = '';
    var current = null;
    items.slice(0, 30).forEach(function (i) {
      var li = document.createElement('li');
      // A tab is a button: a tap shows that item at once and holds it (rotation paused).
      var tab = document.createElement('button');
      tab.type = 'button';
      tab.className = 'rail-tab';
      tab.textContent = i.title;
      tab.title = i.title;
      tab.dataset.itemId = String(i.id);
      li.dataset.itemId = String(i.id);
      li.appendChild(tab);
      if (i.priority === 'urgent') li.classList.add('urgent-item');
      if (i.id === S.currentId) {
        li.classList.add('current');
        tab.setAttribute('aria-current', 'true');
        current = li;
      }
      rail.appendChild(li);
    });
    rail.scrollLeft = scroll;
    // The current tab is always in view (the rail scrolls; its labels never shrink to a letter).
    if (current && current.scrollIntoView) current.scrollIntoView({ block: 'nearest', inline: 'nearest' });
  }

  function openTab(id) {
    var items = activeItems(now());
    for (var k = 0; k < items.length; k++) {
      if (items[k].id !== id) continue;
      if (S.speaking) stopSpeaking();
      show(items[k], items);
      setPaused(true);
      drawRail(items);
      return;
    }
  }

  function drawUrgent(items) {
    var urgent = items.filter(function (i) { return i.priority === 'urgent'; });
    var banner = $('urgent-banner');
    banner.hidden = !urgent.length;
    root.dataset.urgent = urgent.map(function (i) { return i.id; }).join(',');
    if (S.baseline) {
      // A screen's first snapshot ever: what is on it already was not an arrival.
      S.baseline = false;
      urgent.forEach(function (u) { if (!announced(u)) markAnnounced(u, true); });
      save(K.announced, S.announced);
    }
    if (!urgent.length) return;
    var titles = urgent.map(function (i) { return i.title; }).join(' · ');
    if ($('urgent-title').textContent !== titles) $('urgent-title').textContent = titles;
    var lead = paragraphsOf(urgent[0])[0] || '';
    if ($('urgent-lead').textContent !== lead) $('urgent-lead').textContent = lead;
    var onSlide = urgent.some(function (i) { return i.id === S.currentId; });
    banner.classList.toggle('compact', onSlide);
    // Read aloud once when an urgent item arrives (never again after a reload).
    urgent.forEach(function (u) {
      if (!announced(u) && !queued(u)) arrive(u, items);
    });
  }

  // --- urgent items read aloud on arrival -----------------------------------------------------
  function urgentKey(item) { return item.id + ':' + item.revision; }

  function announced(item) {
    if (S.announced.indexOf(urgentKey(item)) >= 0) return true;
    // Kept by an older version of this page: the id alone, heard at whatever revision it had.
    var old = S.announced.indexOf(item.id);
    if (old >= 0) { S.announced.splice(old, 1); markAnnounced(item, true); return true; }
    return false;
  }

  function queued(item) {
    return S.urgentQueue.some(function (q) { return q.key === urgentKey(item); });
  }

  function markAnnounced(item, on) {
    var key = urgentKey(item);
    S.announced = S.announced.filter(function (k) { return k !== key; });
    if (on) S.announced.push(key);
    S.announced = S.announced.slice(-200);
    save(K.announced, S.announced);
  }

  // Someone is using the screen: a reading they asked for, a message or panel open, the voice
  // assistant listening or answering, or a touch within the last URGENT_WAIT_MS.
  function residentBusy() {
    if (S.speaking && !S.speaking.auto) return true;
    if (document.querySelector('.overlay:not([hidden])')) return true;
    if (document.querySelector('.linli-voice.lv-open, .linli-voice.lv-listening')) return true;
    return Date.now() - S.lastTouch < URGENT_WAIT_MS;
  }

  function arrive(item, items) {
    // On the slide at once, unless that would take it away from someone reading.
    if (!residentBusy()) { show(item, items); S.holdUntil = now() + 30000; }
    if (quietNow()) { markAnnounced(item, true); return; }
    S.urgentQueue.push({ key: urgentKey(item), id: item.id, since: Date.now() });
  }

  function findItem(items, id) {
    for (var i = 0; i < items.length; i++) if (items[i].id === id) return items[i];
    return null;
  }

  // Each tick: read the next waiting urgent item when the screen is free to.
  function pumpUrgent(items) {
    if (!S.urgentQueue.length || S.chiming || S.speaking) return;
    var next = S.urgentQueue[0];
    var item = findItem(items, next.id);
    if (!item || item.priority !== 'urgent' || urgentKey(item) !== next.key || quietNow()) {
      // Withdrawn, expired, no longer urgent, edited again (the new revision arrives by
      // itself), or quiet hours began: not read.
      S.urgentQueue.shift();
      if (item && urgentKey(item) === next.key) markAnnounced(item, true);
      return;
    }
    var waited = Date.now() - next.since;
    if (residentBusy()) return;
    var sound = Sound.state();
    if (sound === 'blocked' || (sound === 'unknown' && waited < 3000)) return;
    var speechWait = synthVoices().length ? SPEECH_WAIT_MS : SPEECH_WAIT_NO_VOICE_MS;
    if (!item.speech_url && waited < speechWait) return;  // the server is making it
    S.urgentQueue.shift();
    markAnnounced(item, true);
    if (item.id !== S.currentId) show(item, items);
    S.holdUntil = now() + 30000;
    S.chiming = true;
    Sound.chime(function () {
      S.chiming = false;
      var still = findItem(activeItems(now()), item.id);
      if (!still || urgentKey(still) !== next.key) return;
      if (residentBusy()) { requeue(still); return; }
      speak(still, { auto: true, urgent: true });
    });
  }

  // Not heard after all (sound held back, someone started using the screen): read it later.
  function requeue(item) {
    markAnnounced(item, false);
    if (!queued(item)) S.urgentQueue.unshift({ key: urgentKey(item), id: item.id, since: 0 });
  }

  function show(item, items) {
    S.currentId = item ? item.id : null;
    S.currentRev = item ? item.revision : null;
    S.index = item ? Math.max(0, items.indexOf(item)) : 0;
    S.elapsed = 0;
    drawSlide(item, items, false);
  }

  // --- the rotation -------------------------------------------------------------------------------
  function advance(items) {
    while (S.upNext.length) {
      var id = S.upNext.shift();
      for (var k = 0; k < items.length; k++) {
        if (items[k].id === id && id !== S.currentId) return show(items[k], items);
      }
    }
    var at = -1;
    for (var i = 0; i < items.length; i++) if (items[i].id === S.currentId) at = i;
    show(items[(at + 1) % items.length], items);
  }

  function step(dt) {
    if (!S.snap) return;
    var t = now();
    var items = activeItems(t);
    drawUrgent(items);
    var current = null;
    for (var i = 0; i < items.length; i++) if (items[i].id === S.currentId) current = items[i];
    if (!items.length) {
      if (S.currentId !== null || !$('slide-body').firstChild) show(null, items);
    } else if (!current) {
      // The item on screen was withdrawn or expired: the next one takes its place.
      show(items[Math.min(S.index, items.length - 1)], items);
    } else if (current.revision !== S.currentRev) {
      S.currentRev = current.revision;  // edited: new words, same place in the rotation
      drawSlide(current, items, true);
    } else if (!S.paused && !S.speaking && t >= S.holdUntil) {
      S.elapsed += dt;
      if (S.elapsed >= S.duration) advance(items);
      else if (pageAt(S.elapsed) !== S.page) drawPage(pageAt(S.elapsed));
    }
    drawProgress();
    drawRail(items);
    drawActivities(t);
    pumpUrgent(items);
  }

  function drawProgress() {
    var progress = S.currentId != null ? Math.min(1, S.elapsed / S.duration) : 0;
    $('progress-bar').style.width = (progress * 100).toFixed(1) + '%';
    $('progress').setAttribute('aria-valuenow', String(Math.round(progress * 100)));
  }

  function drawClock() {
    var t = now();
    var d = local(t);
    $('clock-time').textContent = hhmm(t);
    $('clock-date').textContent = dayLabel(t) + ' ' + T.weekdays[(d.getUTCDay() + 6) % 7];
    if (S.online === false) setOnline(false);
  }

  // --- pause, idle ----------------------------------------------------------------------------------
  function setPaused(on) {
    S.paused = on;
    root.dataset.paused = on ? '1' : '0';
    var btn = $('pause-btn');
    btn.setAttribute('aria-pressed', on ? 'true' : 'false');
    btn.textContent = on ? T.resume : T.pause;
    $('slide-count').title = on ? T.paused : '';
  }

  function engaged() {
    return S.paused || !$('message').hidden || !!(S.speaking && !S.speaking.auto) ||
      engagedChecks.some(function (check) { return !!check(); });
  }

  function checkIdle() {
    var warning = $('idle-warning');
    if (!engaged() || Date.now() - S.lastInput < IDLE_MS) {
      if (!warning.hidden) warning.hidden = true;
      S.idleLeft = null;
      return;
    }
    if (S.idleLeft === null) S.idleLeft = WARN_S;
    else S.idleLeft -= 1;
    if (S.idleLeft <= 0) { warning.hidden = true; S.idleLeft = null; goHome(); return; }
    $('idle-text').textContent = T.idle.replace('{n}', S.idleLeft);
    warning.hidden = false;
  }

  function goHome() {
    $('message').hidden = true;
    stopSpeaking();
    setPaused(false);
    S.lastInput = Date.now();
    var items = activeItems(now());
    show(items[0] || null, items);
    document.dispatchEvent(new CustomEvent('linli:kiosk-home'));
  }

  // --- reading aloud ------------------------------------------------------------------------------------
  var audio = $('speech-audio');
  var synthTimer = null;

  function markReading(index) {
    var ps = $('slide-body').querySelectorAll('p[data-para]');
    for (var i = 0; i < ps.length; i++) {
      ps[i].classList.toggle('reading', Number(ps[i].dataset.para) === index);
    }
  }

  // Mark the paragraph being read (-1: none, or the title) at `offset` characters into it,
  // turning to the page that shows that part.
  function highlight(index, offset) {
    S.reading = index >= 0 ? index : null;
    if (index >= 0 && S.pages.length > 1) {
      var target = -1, seen = 0;
      for (var n = 0; n < S.pages.length && target < 0; n++) {
        S.pages[n].forEach(function (b) {
          if (b.para !== index || target >= 0) return;
          seen += b.text.length;
          if (seen > (offset || 0)) target = n;
        });
      }
      if (target >= 0 && target !== S.page) {
        S.elapsed = target ? S.pageEnds[target - 1] : 0;
        drawPage(target);
        drawProgress();
      }
    }
    markReading(index);
  }

  function stopSpeaking() {
    if (synthTimer) { clearTimeout(synthTimer); synthTimer = null; }
    if (!audio.paused) audio.pause();
    if (audio.getAttribute('src')) { audio.removeAttribute('src'); audio.load(); }
    if (window.speechSynthesis) { try { window.speechSynthesis.cancel(); } catch (e) { /* none */ } }
    S.speaking = null;
    root.dataset.speaking = '';
    $('speaking-bar').hidden = true;
    $('pager').hidden = S.pages.length < 2;
    highlight(-1);
  }

  function synthVoices() {
    if (!('speechSynthesis' in window) || !window.SpeechSynthesisUtterance) return [];
    try { return window.speechSynthesis.getVoices() || []; } catch (e) { return []; }
  }

  function speakSynth(item, auto) {
    // Without server speech, the browser's own voice, if it has one; an urgent item arriving
    // on a screen without any voice is shown, not spoken.
    if (!synthVoices().length) {
      stopSpeaking();
      if (!auto) showMessage(T.no_voice);
      return;
    }
    var parts = [item.title].concat(paragraphsOf(item));
    var total = 0;
    parts.forEach(function (text, i) {
      var u = new SpeechSynthesisUtterance(text);
      u.lang = CFG.lang === 'en' ? 'en-US' : 'zh-CN';
      u.rate = 0.9;
      u.onstart = function () { highlight(i - 1, 0); };
      u.onboundary = function (e) { if (i > 0) highlight(i - 1, e.charIndex || 0); };
      if (i === parts.length - 1) u.onend = function () { stopSpeaking(); };
      total += text.length;
      window.speechSynthesis.speak(u);
    });
    // Some browsers never say they finished: do not stay "reading" for ever.
    synthTimer = setTimeout(stopSpeaking, 5000 + total * 400);
  }

  function speak(item, opts) {
    stopSpeaking();
    if (!item) return;
    if (item.id !== S.currentId) {
      var items = activeItems(now());
      show(item, items);
    }
    S.speaking = { id: item.id, auto: !!(opts && opts.auto), urgent: !!(opts && opts.urgent) };
    root.dataset.speaking = String(item.id);
    $('speaking-bar').hidden = false;
    // Reading turns the pages by itself; the stop button takes the pager's place.
    $('pager').hidden = true;
    if (item.speech_url) {
      audio.src = item.speech_url;
      var played = audio.play();
      if (played && played.catch) {
        played.catch(function (err) {
          if (!S.speaking || S.speaking.id !== item.id) return;
          if (err && err.name === 'NotAllowedError') {
            // The browser holds sound back until someone touches the screen.
            var urgent = S.speaking.urgent;
            stopSpeaking();
            Sound.blocked();
            if (urgent) requeue(item);
            return;
          }
          speakSynth(item, S.speaking.auto);
        });
      }
    } else {
      speakSynth(item, S.speaking.auto);
    }
  }

  audio.addEventListener('timeupdate', function () {
    if (!S.speaking || !audio.duration) return;
    var item = currentItem();
    if (!item) return;
    // Where in the text the voice is, by characters (the title first, then the paragraphs).
    var parts = [item.title].concat(paragraphsOf(item));
    var total = parts.join('').length || 1;
    var at = (audio.currentTime / audio.duration) * total;
    for (var i = 0; i < parts.length; i++) {
      if (at < parts[i].length || i === parts.length - 1) { highlight(i - 1, Math.floor(at)); return; }
      at -= parts[i].length;
    }
  });
  audio.addEventListener('ended', stopSpeaking);
  audio.addEventListener('playing', function () { Sound.played(); });
  audio.addEventListener('error', function () {
    if (S.speaking && audio.getAttribute('src')) {
      var item = currentItem();
      var auto = S.speaking.auto;
      audio.removeAttribute('src');
      if (item) speakSynth(item, auto); else stopSpeaking();
    }
  });

  // --- buttons ------------------------------------------------------------------------------------------
  function showMessage(text) {
    $('message-text').textContent = text;
    var phone = S.snap && S.snap.community.phone;
    $('message-phone').textContent = phone ? T.phone.replace('{phone}', phone) : '';
    $('message').hidden = false;
    $('message-close').focus();
  }

  function onAction(action) {
    var item = currentItem();
    var detail = { action: action, item: item, snapshot: S.snap };
    var evt = new CustomEvent('linli:kiosk-action', { detail: detail, cancelable: true });
    var handled = hooks[action] ? hooks[action](detail) === true : false;
    if (!document.dispatchEvent(evt)) handled = true;
    if (handled) return;
    if (action === 'listen') speak(item, { auto: false });
    else showMessage(T[action] || '');
  }

  function wire() {
    // A touch of the sound button is not someone using the screen (it reads at once).
    var touched = function (e) {
      if (e.target && e.target.closest && e.target.closest('#sound-on')) return;
      S.lastInput = S.lastTouch = Date.now();
    };
    document.addEventListener('pointerdown', touched, true);
    document.addEventListener('keydown', touched, true);
    $('slide').addEventListener('click', function () { setPaused(!S.paused); });
    $('pause-btn').addEventListener('click', function () { setPaused(!S.paused); });
    $('rail').addEventListener('click', function (event) {
      var tab = event.target.closest && event.target.closest('.rail-tab');
      if (tab) openTab(Number(tab.dataset.itemId));
    });
    $('page-prev').addEventListener('click', function () { goPage(S.page - 1); });
    $('page-next').addEventListener('click', function () { goPage(S.page + 1); });
    // The slide's room changes with the screen, the urgent banner and the picture: re-page.
    if (window.ResizeObserver) {
      var ro = new ResizeObserver(relayoutIfResized);
      ro.observe($('slide-body'));
      ro.observe($('slide-body').parentNode);
    }
    window.addEventListener('resize', relayoutIfResized);
    // the urgent banner coming, going or getting shorter changes the side column's height
    if (window.ResizeObserver) new ResizeObserver(fitSide).observe(document.querySelector('.side'));
    else window.addEventListener('resize', fitSide);
    $('slide-image').addEventListener('load', relayoutIfResized);
    if (document.fonts && document.fonts.ready) {
      document.fonts.ready.then(function () { S.layoutKey = ''; relayoutIfResized(); });
    }
    $('stop-btn').addEventListener('click', stopSpeaking);
    $('message-close').addEventListener('click', function () { $('message').hidden = true; });
    $('idle-stay').addEventListener('click', function () {
      $('idle-warning').hidden = true;
      S.idleLeft = null;
      S.lastInput = Date.now();
    });
    var buttons = document.querySelectorAll('[data-action]');
    for (var i = 0; i < buttons.length; i++) {
      buttons[i].addEventListener('click', function (e) {
        onAction(e.currentTarget.getAttribute('data-action'));
      });
    }
  }

  // --- live stream --------------------------------------------------------------------------------------
  function scheduleReconnect() {
    clearTimeout(S.reconnectTimer);
    var base = Math.min(60000, 1000 * Math.pow(2, S.backoff));
    S.backoff = Math.min(S.backoff + 1, 6);
    S.reconnectTimer = setTimeout(openStream, base / 2 + Math.random() * base / 2);
  }

  function closeStream() {
    if (S.es) { S.es.close(); S.es = null; }
    S.streamOpen = false;
    root.dataset.stream = '0';
  }

  function openStream() {
    clearTimeout(S.reconnectTimer);
    closeStream();
    if (!S.token) return;
    fetch('/kiosk/api/ticket', { method: 'POST', headers: authHeaders(), cache: 'no-store',
      credentials: 'same-origin' })
      .then(function (res) {
        if (res.status === 401 || res.status === 403) { forget(); return; }
        if (!res.ok) throw new Error('ticket ' + res.status);
        var url = '/kiosk/stream' +
          (S.lastEventId != null ? '?last_event_id=' + encodeURIComponent(S.lastEventId) : '');
        var es = new EventSource(url);
        S.es = es;
        es.addEventListener('open', function () {
          S.backoff = 0;
          S.streamOpen = true;
          root.dataset.stream = '1';
          fetchSnapshot();
        });
        es.addEventListener('version', function (e) {
          if (e.lastEventId) S.lastEventId = e.lastEventId;
          var v = JSON.parse(e.data).version;
          if (v !== S.version) fetchSnapshot();
        });
        es.addEventListener('bye', function () {
          closeStream();
          S.reconnectTimer = setTimeout(openStream, 200 + Math.random() * 1500);
        });
        es.addEventListener('revoked', function () { closeStream(); forget(); });
        es.onerror = function () {
          if (S.es !== es) return;
          closeStream();
          fetchSnapshot();
          scheduleReconnect();
        };
      })
      .catch(function () {
        setOnline(false);
        scheduleReconnect();
      });
  }

  function heartbeat() {
    if (!S.token || !S.snap) return;
    var item = currentItem();
    fetch('/kiosk/api/heartbeat', {
      method: 'POST', cache: 'no-store',
      headers: authHeaders({ 'Content-Type': 'application/json' }),
      body: JSON.stringify({ version: S.version, client_version: CFG.assetVersion,
        showing: item ? '#' + item.id + ' ' + item.title : '', stream: S.streamOpen,
        sound: Sound.state() })
    }).catch(function () { /* offline: the next one will tell */ });
  }

  // --- pairing ------------------------------------------------------------------------------------------
  function forget() {
    closeStream();
    S.token = null;
    S.snap = null;
    S.etag = null;
    try {
      localStorage.removeItem(K.token);
      localStorage.removeItem(K.snapshot);
    } catch (e) { /* nothing to do */ }
    startPairing();
  }

  function startPairing() {
    stopTimers();
    $('pairing').hidden = false;
    $('screen').hidden = true;
    document.body.classList.remove('booting');
    $('pair-code').textContent = '';
    $('pair-expiry').textContent = T.pair_wait;
    fetch('/kiosk/api/pairing', { method: 'POST', cache: 'no-store' })
      .then(function (res) {
        if (res.status === 429) throw new Error('slow down');
        if (!res.ok) throw new Error('pairing ' + res.status);
        return res.json();
      })
      .then(function (data) {
        $('pair-code').textContent = data.code.slice(0, 3) + ' ' + data.code.slice(3);
        root.dataset.pairCode = data.code;
        var until = Date.now() + data.expires_in * 1000;
        S.pairing = setInterval(function () {
          var left = Math.ceil((until - Date.now()) / 60000);
          $('pair-expiry').textContent = T.pair_expires.replace('{n}', Math.max(0, left));
          pollPairing(data.poll_secret, until);
        }, 2000);
      })
      .catch(function () {
        $('pair-expiry').textContent = T.pair_failed;
        S.pairing = setTimeout(startPairing, 10000);
      });
  }

  function pollPairing(secret, until) {
    fetch('/kiosk/api/pairing/poll', {
      method: 'POST', cache: 'no-store', headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ poll_secret: secret })
    }).then(function (res) {
      if (res.status === 404 || res.status === 410) { startPairing(); return null; }
      return res.ok ? res.json() : null;
    }).then(function (data) {
      if (data && data.status === 'paired' && data.token) {
        clearInterval(S.pairing);
        save(K.token, data.token);
        S.token = data.token;
        start();
      } else if (Date.now() > until + 5000) {
        startPairing();
      }
    }).catch(function () { /* try again on the next tick */ });
  }

  function stopTimers() {
    clearInterval(S.pairing);
    clearTimeout(S.pairing);
    S.timers.forEach(function (t) { clearInterval(t); });
    S.timers = [];
  }

  // --- start -----------------------------------------------------------------------------------------------
  function start() {
    stopTimers();
    $('pairing').hidden = true;
    $('screen').hidden = false;
    document.body.classList.remove('booting');
    fetchSnapshot().then(heartbeat);
    openStream();
    S.timers.push(setInterval(fetchSnapshot, Math.max(10, CFG.pollSeconds) * 1000));
    S.timers.push(setInterval(heartbeat, CFG.heartbeatSeconds * 1000));
  }

  function tokenFromUrl() {
    var url = new URL(window.location.href);
    var token = url.searchParams.get('token');
    if (token) {
      save(K.token, token);
      url.searchParams.delete('token');
      // The token leaves the address bar (and history) at once.
      window.history.replaceState(null, '', url.pathname + url.search + url.hash);
    }
  }

  function registerWorker() {
    if (!('serviceWorker' in navigator)) return;
    navigator.serviceWorker.register('/kiosk/sw.js', { scope: '/kiosk' })
      .then(function () { root.dataset.sw = 'registered'; })
      .catch(function () { root.dataset.sw = 'failed'; });
  }

  function init() {
    $('activity-list').dataset.none = $('activity-list').textContent.trim();
    tokenFromUrl();
    S.token = load(K.token);
    S.announced = load(K.announced);
    S.baseline = S.announced === null;
    S.announced = S.announced || [];
    // Staff see on the Screens page at once when sound is held back (or back on).
    Sound.onChange(function (state, how) {
      heartbeat();
      return how === 'tap' && S.urgentQueue.length > 0;
    });
    wire();
    setPaused(false);
    registerWorker();
    synthVoices();  // browsers load their voices lazily: ask early
    var last = 0;
    setInterval(function () {
      var t = Date.now();
      step(last ? t - last : 0);
      last = t;
    }, 200);
    setInterval(function () { drawClock(); checkIdle(); }, 1000);
    var stored = load(K.snapshot);
    if (stored && stored.snap && S.token) {
      S.etag = stored.etag;
      S.lastSync = stored.lastSync;
      S.offsetMs = stored.offsetMs || 0;
      S.seen = {};
      stored.snap.items.forEach(function (i) { S.seen[i.id] = true; });
      apply(stored.snap);
      root.dataset.restored = '1';
    }
    drawClock();
    if (!S.token) { startPairing(); return; }
    start();
  }

  window.LinliKiosk = {
    version: CFG.assetVersion,
    current: currentItem,
    items: function () { return activeItems(now()); },
    snapshot: function () { return S.snap; },
    now: now,
    speak: function (item) { speak(item || currentItem(), { auto: false }); },
    stop: stopSpeaking,
    pause: setPaused,
    show: function (item) {
      if (!item) return;
      if (S.speaking && S.speaking.id !== item.id) stopSpeaking();
      show(item, activeItems(now()));
    },
    page: function () { return { page: S.page + 1, pages: S.pages.length }; },
    goPage: function (n) { goPage(n - 1); },
    showMessage: showMessage,
    onAction: function (name, handler) { hooks[name] = handler; },
    whileEngaged: function (check) { engagedChecks.push(check); },
    goHome: goHome
  };

  init();
})();
