// @ts-check
// The verifier's service worker: served at /verify-sw.js (Service-Worker-Allowed: /), registered
// for /verify and, by the page opened at the printed French address, for /verifier (two scopes,
// one script, one cache). It keeps what the verifier page needs to work with no network at all: the page, its
// modules and styles, the QR decoder, both catalogues, the skills framework and the trust bundle
// (keys and signed status lists). Verification itself always runs in the page (verifier.js).
//
// Every GET is network-first with the cache as fallback, and each good answer refreshes the
// cache: online, the verifier always sees the latest trust data and a new deployment at once;
// offline, it sees the last copy, and the page shows how old that copy is. These rules are
// the mediator's worker's too: both load them from offline-sw.js.

importScripts("/static/js/offline-sw.js");

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

self.keepOffline({
  cache: "passeport-verify",
  version: "v2",
  required: REQUIRED,
  optional: OPTIONAL,
  // Signed-in areas and other API calls are none of the verifier's business.
  paths: ["/verify", "/verifier", "/api/v1/framework", "/api/v1/trust/bundle"],
});
