// The canvassers' app's service worker (docs/app.md): the app opens with no network.
//
// It keeps the app's shell (index.html, app.css, the manifest, the icons, every module in
// js/) in one cache named after the shell's version, and answers the shell from there first.
// It never keeps anything else: no /api/ answer (those hold people's data and must be fresh)
// and never the outbox, which lives in IndexedDB (store.js), asked to persist.
//
// The server writes the shell's file list and version into the next line as it serves this
// file (field_server/web/views_app.py): any changed file gives a new version, so new worker
// bytes, which the browser installs, and a new cache name.
const SHELL = { version: "unversioned", files: [] };

const CACHE_PREFIX = "bluezone-app-";
const CACHE = CACHE_PREFIX + SHELL.version;
const SCOPE = new URL(self.registration.scope);
// "./" is the shell's page (index.html), answered for the app's own address.
const SHELL_URLS = new Set(SHELL.files.map((name) => new URL(name, SCOPE).href));

// Install: fetch the whole shell past the HTTP cache, all or nothing (addAll fails if one
// file fails, and the worker is then not installed: the old one goes on serving).
//
// No skipWaiting here: a new version waits until every window of the app is closed, or until
// the canvasser taps "Cập nhật" (app.js sends "skip-waiting"). An open page loads its screen
// modules when first shown (app.js), from this worker's cache; taking over under it would
// hand it modules of another version. The old cache stays until the new worker activates.
self.addEventListener("install", (event) => {
  event.waitUntil(
    (async () => {
      const cache = await caches.open(CACHE);
      await cache.addAll(SHELL.files.map((name) => new Request(new URL(name, SCOPE), { cache: "reload" })));
    })(),
  );
});

self.addEventListener("message", (event) => {
  if (event.data && event.data.type === "skip-waiting") self.skipWaiting();
});

// Activate: delete the caches of earlier versions (only ours, by prefix), then claim the open
// pages, so the page of a first visit is served by the worker from then on (its requests,
// and a reload with no network) without having to be reloaded first.
self.addEventListener("activate", (event) => {
  event.waitUntil(
    (async () => {
      const names = await caches.keys();
      await Promise.all(
        names.filter((name) => name.startsWith(CACHE_PREFIX) && name !== CACHE).map((name) => caches.delete(name)),
      );
      await self.clients.claim();
    })(),
  );
});

// Fetch: the shell from the cache first (the network only if a file is missing from it);
// anything else, /api/ included, is not touched and goes to the network as if there were no
// worker: nothing of it is kept.
self.addEventListener("fetch", (event) => {
  const request = event.request;
  if (request.method !== "GET") return;
  const url = new URL(request.url);
  url.search = "";
  url.hash = "";
  if (url.origin !== SCOPE.origin) return;
  if (request.mode === "navigate" && url.pathname === SCOPE.pathname) {
    event.respondWith(fromShell(SCOPE.href, request));
  } else if (SHELL_URLS.has(url.href)) {
    event.respondWith(fromShell(url.href, request));
  }
});

async function fromShell(key, request) {
  const cache = await caches.open(CACHE);
  const kept = await cache.match(key);
  return kept || fetch(request);
}
