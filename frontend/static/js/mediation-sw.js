// The mediator page's service worker: served at /mediation-sw.js (Service-Worker-Allowed: /),
// registered for /mediation. The verifier's rules (offline-sw.js, which both workers load): it
// keeps what the page needs to start with no network at all — the page, its modules and styles,
// both catalogues and the skills framework — and nothing about people. Every GET it handles is
// network-first with the cache as fallback, a good answer refreshing the cache: online, the page
// is always current; offline, it is the last copy.
//
// Passports, searches and every other API call are not its business: the page keeps what it
// may of those itself, in IndexedDB, per account and for the session's time only
// (offline-queue.js; docs/privacy.md).

importScripts("/static/js/offline-sw.js");

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

self.keepOffline({
  cache: "passeport-mediation",
  version: "v2",
  required: REQUIRED,
  optional: OPTIONAL,
  // Code, texts and the framework only: nothing that names a person ever enters this cache.
  paths: ["/mediation", "/api/v1/framework"],
});
