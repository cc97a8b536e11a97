// @ts-check
// What both service workers do (mediation-sw.js, verify-sw.js), written once: each loads this
// script with importScripts() and calls self.keepOffline() with its own cache and lists. A worker's
// imported scripts are kept by the browser with the worker itself, so this one needs no cache.
//
// The rules: installation keeps the required files (and fails if one is missing, so that a page
// never starts offline half-kept) and what it can of the optional ones; activation drops the
// worker's older caches and takes control of the open page, which starts offline from its next
// reload. Every GET it handles is network-first with the cache as fallback, a good answer
// refreshing the cache: online, the page is always current; offline, it is the last copy. It
// handles the worker's own paths, /static/ and /i18n/ only: nothing that names a person.

self.keepOffline = (worker) => {
  const cacheName = `${worker.cache}-${worker.version}`;

  /** @param {Request} request */
  async function networkFirst(request) {
    const cache = await caches.open(cacheName);
    try {
      const response = await fetch(request);
      // Only complete, same-origin answers are kept: never an error page in place of good data.
      if (response.ok && response.type === "basic") {
        await cache.put(request, response.clone());
      }
      return response;
    } catch (error) {
      const cached = await cache.match(request, {
        ignoreVary: true,
        // /mediation?… and the like: one page.
        ignoreSearch: request.mode === "navigate",
      });
      if (cached) return cached;
      throw error;
    }
  }

  self.addEventListener("install", (event) => {
    event.waitUntil(
      (async () => {
        const cache = await caches.open(cacheName);
        await cache.addAll(worker.required.map((url) => new Request(url, { cache: "reload" })));
        await Promise.allSettled(
          worker.optional.map((url) => cache.add(new Request(url, { cache: "reload" }))),
        );
        await self.skipWaiting();
      })(),
    );
  });

  self.addEventListener("activate", (event) => {
    event.waitUntil(
      (async () => {
        for (const name of await caches.keys()) {
          if (name.startsWith(`${worker.cache}-`) && name !== cacheName) await caches.delete(name);
        }
        // The page that registered us starts offline from its very next reload.
        await self.clients.claim();
      })(),
    );
  });

  self.addEventListener("fetch", (event) => {
    const request = event.request;
    const url = new URL(request.url);
    if (request.method !== "GET" || url.origin !== self.location.origin) return;
    const ours =
      worker.paths.includes(url.pathname) ||
      url.pathname.startsWith("/static/") ||
      url.pathname.startsWith("/i18n/");
    if (!ours) return;
    event.respondWith(networkFirst(request));
  });
};
