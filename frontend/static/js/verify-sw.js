// @ts-check
// The verifier's service worker: served at /verify-sw.js (Service-Worker-Allowed: /), registered
// for /verify and, by the page opened at the printed French address, for /verifier (two scopes,
// one script, one cache). It keeps what the verifier page needs to work with no network at all: the page, its
// modules and styles, the QR decoder, both catalogues, the skills framework and the trust bundle
// (keys and signed status lists). Verification itself always runs in the page (verifier.js).
//
// Every GET is network-first with the cache as fallback, and each good answer refreshes the
// cache: online, the verifier always sees the latest trust data and a new deployment at once;
// offline, it sees the last copy, and the page shows how old that copy is.

const VERSION = "v2";
const CACHE = `passeport-verify-${VERSION}`;

// Without these the page cannot verify offline: installation fails if one is missing.
const REQUIRED = [
  "/verify",
  "/verifier",
  "/static/js/verify.js",
  "/static/js/verifier.js",
  "/static/js/common.js",
  "/static/dsfr/dsfr.min.css",
  "/static/icons.css",
  "/static/dsfr/dsfr.module.min.js",
  "/static/app.css",
  "/static/verify.css",
  "/static/vendor/jsqr/jsQR.js",
  "/i18n/fr.json",
  "/i18n/en.json",
];
// Kept when available: the page still verifies without them (plain fonts and icons, codes
// instead of skill labels, and no trust data until the bundle is reached once).
const OPTIONAL = [
  "/api/v1/framework",
  "/api/v1/trust/bundle",
  "/static/dsfr/fonts/Marianne-Regular.woff2",
  "/static/dsfr/fonts/Marianne-Bold.woff2",
  "/static/dsfr/fonts/Marianne-Medium.woff2",
  "/static/dsfr/icons/media/camera-line.svg",
  "/static/dsfr/icons/system/checkbox-circle-fill.svg",
  "/static/dsfr/icons/system/close-circle-fill.svg",
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
        if (name.startsWith("passeport-verify-") && name !== CACHE) await caches.delete(name);
      }
      // The page that registered us is verified offline from its very next reload.
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
  // Signed-in areas and other API calls are none of the verifier's business.
  const ours =
    url.pathname === "/verify" ||
    url.pathname === "/verifier" ||
    url.pathname.startsWith("/static/") ||
    url.pathname.startsWith("/i18n/") ||
    url.pathname === "/api/v1/framework" ||
    url.pathname === "/api/v1/trust/bundle";
  if (!ours) return;
  event.respondWith(networkFirst(request));
});
