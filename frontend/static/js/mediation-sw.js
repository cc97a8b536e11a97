// The mediator page's service worker: served at /mediation-sw.js (Service-Worker-Allowed: /),
// registered for /mediation. The verifier's approach and rules (verify-sw.js): it keeps what
// the page needs to start with no network at all — the page, its modules and styles, both
// catalogues and the skills framework — and nothing about people. Every GET it handles is
// network-first with the cache as fallback, a good answer refreshing the cache: online, the page
// is always current; offline, it is the last copy.
//
// Passports, searches and every other API call are not its business: the page keeps what it
// may of those itself, in IndexedDB, per account and for the session's time only
// (offline-queue.js; docs/privacy.md).

const VERSION = "v2";
const CACHE = `passeport-mediation-${VERSION}`;

// Without these the page cannot start offline: installation fails if one is missing.
const REQUIRED = [
  "/mediation",
  "/static/js/mediation.js",
  "/static/js/mediation-picker.js",
  "/static/js/mediation-offline.js",
  "/static/js/offline-queue.js",
  "/static/js/passport-view.js",
  "/static/js/wallet-offer.js",
  "/static/js/common.js",
  "/static/framework.js",
  "/static/dsfr/dsfr.min.css",
  "/static/icons.css",
  "/static/dsfr/dsfr.module.min.js",
  "/static/app.css",
  "/i18n/fr.json",
  "/i18n/en.json",
];
// Kept when available: without them the page works with plain fonts, no icons, and skill codes
// instead of names until the framework is reached once.
const OPTIONAL = [
  "/api/v1/framework",
  "/static/dsfr/fonts/Marianne-Regular.woff2",
  "/static/dsfr/fonts/Marianne-Bold.woff2",
  "/static/dsfr/fonts/Marianne-Medium.woff2",
  "/static/dsfr/icons/arrows/arrow-left-line.svg",
  "/static/dsfr/icons/business/printer-line.svg",
  "/static/dsfr/icons/design/circle-line.svg",
  "/static/dsfr/icons/device/qr-code-line.svg",
  "/static/dsfr/icons/system/check-line.svg",
  "/static/dsfr/icons/system/checkbox-circle-fill.svg",
  "/static/dsfr/icons/system/delete-bin-line.svg",
  "/static/dsfr/icons/system/download-line.svg",
  "/static/dsfr/icons/system/logout-box-r-line.svg",
  "/static/dsfr/icons/system/refresh-line.svg",
  "/static/dsfr/icons/system/search-line.svg",
  "/static/dsfr/icons/user/account-circle-line.svg",
  "/static/dsfr/icons/system/fr--info-fill.svg",
  "/static/dsfr/icons/system/fr--warning-fill.svg",
  "/static/dsfr/icons/system/fr--error-fill.svg",
  "/static/dsfr/icons/system/fr--success-fill.svg",
];

self.addEventListener("install", (event) => {
  event.waitUntil(
    (async () => {
      const cache = await caches.open(CACHE);
      await cache.addAll(REQUIRED.map((url) => new Request(url, { cache: "reload" })));
      await Promise.allSettled(OPTIONAL.map((url) => cache.add(new Request(url, { cache: "reload" }))));
      await self.skipWaiting();
    })(),
  );
});

self.addEventListener("activate", (event) => {
  event.waitUntil(
    (async () => {
      for (const name of await caches.keys()) {
        if (name.startsWith("passeport-mediation-") && name !== CACHE) await caches.delete(name);
      }
      // The page that registered us starts offline from its very next reload.
      await self.clients.claim();
    })(),
  );
});

async function networkFirst(request) {
  const cache = await caches.open(CACHE);
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
      // /mediation#passport/12 and the like: one page.
      ignoreSearch: request.mode === "navigate",
    });
    if (cached) return cached;
    throw error;
  }
}

self.addEventListener("fetch", (event) => {
  const request = event.request;
  const url = new URL(request.url);
  if (request.method !== "GET" || url.origin !== self.location.origin) return;
  // Code, texts and the framework only: nothing that names a person ever enters this cache.
  const ours =
    url.pathname === "/mediation" ||
    url.pathname.startsWith("/static/") ||
    url.pathname.startsWith("/i18n/") ||
    url.pathname === "/api/v1/framework";
  if (!ours) return;
  event.respondWith(networkFirst(request));
});
