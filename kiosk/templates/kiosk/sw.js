/* Linli lobby screen service worker: keeps the page shell, its scripts and style, and the
   pictures, so a reload with the network or the server gone still shows the last content
   (the page keeps its last snapshot in localStorage). Snapshot, stream and API calls always go
   to the network. */
'use strict';
const VERSION = '{{ version }}';
const SHELL = 'linli-kiosk-shell-' + VERSION;
const MEDIA = 'linli-kiosk-media';
const ASSETS = [
  '/static/chime.js?v=' + VERSION,
  '/static/voice/voice.js?v=' + VERSION,
  '/static/voice/voice.css?v=' + VERSION,
  '/kiosk/static/paging.js?v=' + VERSION,
  '/kiosk/static/sound.js?v=' + VERSION,
  '/kiosk/static/kiosk.js?v=' + VERSION,
  '/kiosk/static/kiosk.css?v=' + VERSION,
  '/kiosk/static/keypad.js?v=' + VERSION,
  '/kiosk/static/keypad.css?v=' + VERSION,
  '/kiosk/static/progress.js?v=' + VERSION,
  '/kiosk/static/votes.js?v=' + VERSION,
  '/kiosk/static/progress.css?v=' + VERSION,
  '/kiosk/static/report.js?v=' + VERSION,
  '/kiosk/static/report.css?v=' + VERSION,
];
// The app's static files the screen shares with other pages (the chime, the voice button).
const SHARED = ['/static/chime.js', '/static/voice/voice.js', '/static/voice/voice.css'];
const PAGES = ['/kiosk', '/kiosk?lang=en'];
const NETWORK_TIMEOUT_MS = 4000;

self.addEventListener('install', (event) => {
  event.waitUntil((async () => {
    const cache = await caches.open(SHELL);
    await cache.addAll(ASSETS);
    await Promise.all(PAGES.map((p) => cache.add(p).catch(() => null)));
    await self.skipWaiting();
  })());
});

self.addEventListener('activate', (event) => {
  event.waitUntil((async () => {
    for (const name of await caches.keys()) {
      if (name.startsWith('linli-kiosk-shell-') && name !== SHELL) await caches.delete(name);
    }
    await self.clients.claim();
  })());
});

// The device token may be in the first URL: it never becomes part of a cache key.
function pageKey(url) {
  const u = new URL(url);
  u.searchParams.delete('token');
  u.hash = '';
  return u.pathname + (u.searchParams.toString() ? '?' + u.searchParams.toString() : '');
}

function withTimeout(promise, ms) {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('timeout')), ms);
    promise.then((v) => { clearTimeout(timer); resolve(v); },
                 (e) => { clearTimeout(timer); reject(e); });
  });
}

async function pageNetworkFirst(request) {
  const cache = await caches.open(SHELL);
  const key = pageKey(request.url);
  try {
    const response = await withTimeout(fetch(request), NETWORK_TIMEOUT_MS);
    if (response.ok) await cache.put(key, response.clone());
    return response;
  } catch (err) {
    const cached = (await cache.match(key)) || (await cache.match('/kiosk'));
    if (cached) return cached;
    throw err;
  }
}

async function cacheFirst(name, request) {
  const cache = await caches.open(name);
  const cached = await cache.match(request);
  if (cached) return cached;
  const response = await fetch(request);
  if (response.ok) await cache.put(request, response.clone());
  return response;
}

self.addEventListener('fetch', (event) => {
  const request = event.request;
  if (request.method !== 'GET') return;
  const url = new URL(request.url);
  if (url.origin !== self.location.origin) return;
  if (url.pathname === '/kiosk' && request.mode === 'navigate') {
    event.respondWith(pageNetworkFirst(request));
  } else if (url.pathname.startsWith('/kiosk/static/') || SHARED.includes(url.pathname)) {
    event.respondWith(cacheFirst(SHELL, request));
  } else if (url.pathname.startsWith('/kiosk/media/')) {
    event.respondWith(cacheFirst(MEDIA, request));
  }
});
