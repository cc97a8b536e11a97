// @ts-check
// Shared by every page. Plain ES module, no build step (see docs/frontend.md).
//
// Exports:
//   t(key, vars)            text of a catalogue key ("section.key"), {name} placeholders filled
//                           from vars; returns the key itself when missing (visible in tests).
//   loadLocale()            loads frontend/i18n/{lang}.json, sets <html lang>; await it first.
//   currentLang()           "fr" (default) or "en"; setLang(lang) remembers it and reloads.
//   LANGS                   the languages offered. hasKey(key): whether the catalogue has it.
//   applyI18n(root)         fills [data-i18n] text, and the attributes of [data-i18n-attr]
//                           (pairs attr:key separated by semicolons).
//   api(method, path, body, opts)
//                           fetch wrapper: JSON in and out, X-CSRF-Token on changes when a
//                           session token is known; throws ApiError (code, status, message in
//                           the page's language, from the server's registry of error codes,
//                           problem = the whole document).
//                           opts: {raw: true} returns the Response (PDF, images); {csrf: "staff"
//                           | "citizen"} picks which session's token to send (default: staff).
//   ApiError                the error class thrown by api().
//   setCsrf(kind, token) / getCsrf(kind)   remembered per tab (sessionStorage), kind "staff" |
//                           "citizen"; setCsrf(kind, null) forgets it.
//   renderHeader(area, {signedIn, onSignOut})   DSFR header into <header id="header">; area is
//                           "home" | "mediation" | "citizen" | "verify" | "coordination" | "figures"
//                           | "directory".
//   renderFooter()          DSFR footer into <footer id="footer">.
//   initPage(area, opts)    loadLocale + renderHeader + renderFooter + applyI18n(document).
//   startStaffPage(area, {prepare?, signedIn, signedOut, failed})   a staff page's start: initPage, then
//                           the tab's session (signedIn(session)), none (signedOut()), or an
//                           error (failed(error)); then <body data-ready="true">.
//   el(tag, attrs, ...children)   element builder; attrs: class, text, on{Event} handlers, others
//                           as attributes (false/null skipped, true = empty attribute).
//   checkNumber(raw, prefix)  a typed passport number ("P-") or verification code ("V-"), checked
//                           like app/passports/numbers.py: {number} or {mistake, length, characters}.
//   $(selector, root), clear(node), show(node, yes), announce(message) (polite live region),
//   formatDate(iso), formatDateTime(iso, timeZone?), normalise(text) (lower case, no accents),
//   downloadResponse(response, fallbackName), alertBox(kind, text) (DSFR alert element).
//   filledIn(input, box, missing)   a required field's trimmed value; "" when empty, the error
//                           `missing` then shown in box and the focus on the field.
//   cancelButton(onclick)   the « Annuler » that leaves an inline confirmation.
//   rowButton(text, label, onclick)   a table row's action: a small tertiary button, its
//                           accessible name (label) saying which row.
//   bindPasswordSignIn({missingKey, onSignedIn, showError})   the staff sign-in form
//                           (#signin-form, #signin-email, #signin-password, #signin-error).
//   dsfrTable({caption, headers, rows, id, hideCaption, scroll, tableClass, cards})   a DSFR
//                           table: headers are texts or null (skipped), rows are <tr> elements;
//                           hideCaption keeps the caption for screen readers only; scroll makes
//                           the scrolling container focusable and named, for keyboard users;
//                           cards shows each row as a card on a phone (cells labelled).

export const LANGS = ["fr", "en"];
const LANG_KEY = "passeport.lang";
let catalogue = {};
let lang = "fr";

/** @returns {string} */
export function currentLang() {
  return lang;
}

function storedLang() {
  try {
    const stored = localStorage.getItem(LANG_KEY);
    if (LANGS.includes(stored)) return stored;
  } catch {
    // Private browsing may refuse storage: French by default then.
  }
  return "fr";
}

/** @returns {Promise<string>} */
export async function loadLocale() {
  lang = storedLang();
  const response = await fetch(`/i18n/${lang}.json`, { headers: { Accept: "application/json" } });
  catalogue = response.ok ? await response.json() : {};
  document.documentElement.lang = lang;
  return lang;
}

/** @param {string} next */
export function setLang(next) {
  if (!LANGS.includes(next)) return;
  try {
    localStorage.setItem(LANG_KEY, next);
  } catch {
    // Nothing to remember it in: the reload below still shows French.
  }
  // Pages are small; reloading is simpler and safer than re-rendering every state in place.
  location.reload();
}

function lookup(key) {
  let node = catalogue;
  for (const part of key.split(".")) {
    if (node == null || typeof node !== "object") return undefined;
    node = node[part];
  }
  return typeof node === "string" ? node : undefined;
}

// Passport numbers and verification codes, checked as app/passports/numbers.py does (the same
// alphabet and check character; tests/browser/test_citizen.py compares the two): what a person
// typed is {number} when it is one, else {mistake: "length" | "character" | "typo", length,
// characters}, so that a typo reads as a typo, not as "malformed".
const NUMBER_ALPHABET = "23456789BCDFGHJKMNPQRSTVWXZ";
const NUMBER_WEIGHTS = [1, 2, 4, 5, 7, 8, 10];

/** @param {unknown} raw @param {string} [prefix] @returns {CheckedNumber} */
export function checkNumber(raw, prefix = "P-") {
  let text = String(raw).trim().toUpperCase().replace(/[ -]/g, "");
  if (text.startsWith(prefix[0])) text = text.slice(1);
  const length = [...text].length;
  if (length !== 8) return { number: null, mistake: "length", length, characters: "" };
  const wrong = [...new Set([...text].filter((c) => !NUMBER_ALPHABET.includes(c)))].join("");
  if (wrong) return { number: null, mistake: "character", length, characters: wrong };
  let total = 0;
  for (let i = 0; i < 7; i += 1) total += NUMBER_WEIGHTS[i % 7] * NUMBER_ALPHABET.indexOf(text[i]);
  if (NUMBER_ALPHABET[total % NUMBER_ALPHABET.length] !== text[7]) {
    return { number: null, mistake: "typo", length, characters: "" };
  }
  return { number: prefix + text, mistake: null, length, characters: "" };
}

/** @param {string} key @returns {boolean} */
export function hasKey(key) {
  return lookup(key) !== undefined;
}

/** @param {string} key @param {Record<string, unknown>} [vars] @returns {string} */
export function t(key, vars = {}) {
  const text = lookup(key);
  if (text === undefined) return key;
  return text.replace(/\{(\w+)\}/g, (whole, name) => (name in vars ? String(vars[name]) : whole));
}

/** @param {ParentNode} [root] */
export function applyI18n(root = document) {
  for (const node of root.querySelectorAll("[data-i18n]")) node.textContent = t(node.getAttribute("data-i18n"));
  for (const node of root.querySelectorAll("[data-i18n-attr]")) {
    for (const pair of node.getAttribute("data-i18n-attr").split(";")) {
      const [attr, key] = pair.split(":").map((s) => s.trim());
      if (attr && key) node.setAttribute(attr, t(key));
    }
  }
  const title = document.querySelector("title[data-i18n]");
  if (title) document.title = title.textContent;
}

// --- DOM helpers -------------------------------------------------------------------------------

/** @template {keyof HTMLElementTagNameMap} K @param {K} tag @param {ElementAttributes | null} [attrs] @param {...ElementChild} children @returns {HTMLElementTagNameMap[K]} */
export function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === false || value === null || value === undefined) continue;
    if (key === "text") node.textContent = String(value);
    else if (key.startsWith("on") && typeof value === "function") {
      node.addEventListener(key.slice(2).toLowerCase(), value);
    } else node.setAttribute(key, value === true ? "" : String(value));
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    node.append(child instanceof Node ? child : String(child));
  }
  return node;
}

export const $ = (selector, root = document) => root.querySelector(selector);

// The staff's password sign-in, shared by the mediator's and the coordinator's pages.
export function bindPasswordSignIn(options) {
  $("#signin-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    const box = clear($("#signin-error"));
    const email = $("#signin-email").value.trim();
    const password = $("#signin-password").value;
    if (!email || !password) {
      box.append(alertBox("error", t(options.missingKey)));
      return;
    }
    try {
      const session = await api("POST", "/api/v1/auth/login", { email, password });
      $("#signin-password").value = "";
      await options.onSignedIn(session);
    } catch (error) {
      options.showError(box, error);
      $("#signin-password").focus();
    }
  });
}

// The DSFR table markup, four nested blocks deep, in one place.
/** @param {DsfrTableOptions} options @returns {HTMLElement} */
export function dsfrTable(options) {
  const caption = options.caption;
  const headers = (options.headers || []).filter((h) => h !== null && h !== undefined);
  if (options.cards) {
    // On a phone, each row is a card (app.css): every cell says which column it is.
    for (const row of [options.rows].flat()) {
      [...row.children].forEach((cell, index) => {
        if (headers[index] && !cell.hasAttribute("data-label")) cell.setAttribute("data-label", headers[index]);
      });
    }
  }
  const tableClass = [options.tableClass, options.cards ? "table--cards" : null].filter(Boolean).join(" ");
  const container = options.scroll
    ? { class: "fr-table__container", tabindex: "0", "aria-label": caption }
    : { class: "fr-table__container" };
  return el("div", { class: "fr-table fr-table--sm" },
    el("div", { class: "fr-table__wrapper" },
      el("div", container,
        el("div", { class: "fr-table__content" },
          el("table", { id: options.id || null, class: tableClass || null },
            el("caption", { class: options.hideCaption ? "fr-sr-only" : null, text: caption }),
            el("thead", {}, el("tr", {}, headers.map((h) => el("th", { scope: "col", text: h })))),
            el("tbody", {}, options.rows))))));
}

/** @template {Element} E @param {E} node @returns {E} */
export function clear(node) {
  node.replaceChildren();
  return node;
}

/** @param {HTMLElement} node @param {boolean} [yes] */
export function show(node, yes = true) {
  node.hidden = !yes;
}

/** @param {string} message */
export function announce(message) {
  let region = document.getElementById("announcer");
  if (!region) {
    region = el("div", { id: "announcer", class: "fr-sr-only", "aria-live": "polite" });
    document.body.append(region);
  }
  region.textContent = "";
  // A new text node in an emptied region is what screen readers reliably announce.
  requestAnimationFrame(() => {
    region.textContent = message;
  });
}

export const normalise = (text) =>
  String(text == null ? "" : text).normalize("NFD").replace(/[\u0300-\u036f]/g, "").toLowerCase();

const locale = () => (lang === "en" ? "en-GB" : "fr-FR");

/** @param {string | null | undefined} iso @returns {string} */
export function formatDate(iso) {
  if (!iso) return "";
  const date = new Date(iso.length === 10 ? `${iso}T12:00:00` : iso);
  return date.toLocaleDateString(locale(), { day: "numeric", month: "long", year: "numeric" });
}

// timeZone: an IANA zone (a territory's, docs/directory.md) or nothing for the browser's own.
/** @param {string | null | undefined} iso @param {string} [timeZone] @returns {string} */
export function formatDateTime(iso, timeZone) {
  if (!iso) return "";
  /** @type {Intl.DateTimeFormatOptions} */
  const options = { dateStyle: "medium", timeStyle: "short" };
  if (timeZone) options.timeZone = timeZone;
  return new Date(iso).toLocaleString(locale(), options);
}

/** @param {"error" | "success" | "info" | "warning"} kind @param {string} text @param {string} [title] @returns {HTMLElement} */
export function alertBox(kind, text, title) {
  // kind: error | success | info | warning (DSFR alert, small variant when there is no title).
  const box = el("div", { class: `fr-alert fr-alert--${kind}${title ? "" : " fr-alert--sm"}` });
  if (title) box.append(el("h3", { class: "fr-alert__title", text: title }));
  box.append(el("p", { text }));
  return box;
}

/**
 * A required field's value, trimmed. Empty: says so in `box` and puts the focus on the field.
 * @param {HTMLInputElement} input @param {HTMLElement} box @param {string} missing
 * @returns {string} "" when the field is empty
 */
export function filledIn(input, box, missing) {
  const value = input.value.trim();
  if (!value) {
    box.append(alertBox("error", missing));
    input.focus();
  }
  return value;
}

/**
 * The « Annuler » that leaves an inline confirmation (a withdrawal, a revocation).
 * @param {() => void} onclick  puts back what was there and the focus on it
 * @returns {HTMLElement}
 */
export function cancelButton(onclick) {
  return el("button", { type: "button", class: "fr-btn fr-btn--secondary", text: t("common.cancel"), onclick });
}

/**
 * A table row's action (edit, remove, end…): a small tertiary button whose accessible name says
 * which row it acts on, since every row shows the same text.
 * @param {string} text @param {string} label @param {() => void} onclick
 * @returns {HTMLElement}
 */
export function rowButton(text, label, onclick) {
  return el("button", { type: "button", class: "fr-btn fr-btn--sm fr-btn--tertiary", text, "aria-label": label, onclick });
}

// --- API ---------------------------------------------------------------------------------------

const CSRF_KEY = "passeport.csrf.";

/** @param {"staff" | "citizen"} kind @param {string | null} token */
export function setCsrf(kind, token) {
  try {
    if (token) sessionStorage.setItem(CSRF_KEY + kind, token);
    else sessionStorage.removeItem(CSRF_KEY + kind);
  } catch {
    // Without storage the token lives only as long as the page.
    memoryCsrf[kind] = token;
  }
}

const memoryCsrf = {};

/** @param {"staff" | "citizen"} [kind] @returns {string | null} */
export function getCsrf(kind = "staff") {
  try {
    return sessionStorage.getItem(CSRF_KEY + kind) || memoryCsrf[kind] || null;
  } catch {
    return memoryCsrf[kind] || null;
  }
}

export class ApiError extends Error {
  /** @param {number} status @param {string} code @param {string} message @param {Problem | null} [problem] */
  constructor(status, code, message, problem) {
    super(message);
    this.status = status;
    this.code = code;
    this.problem = problem || {};
  }
}

// The server says what went wrong in the page's language (api() sends it as Accept-Language;
// Content-Language confirms it), from the one registry of error codes (app/core/problems.py): in
// French the detail (one sentence per field for a validation error, "Le prénom doit faire au plus
// 100 caractères.", or the code's sentence with its specifics), in English the title (the
// detail only for a validation error: the services' own details are for developers). A code the
// registry lacks is never shown in another language: the catalogue's "unknown" is.
function errorMessage(status, problem, language) {
  if (status === 0) return t("common.errors.network");
  if (!problem || !problem.code || language !== lang) return t("common.errors.unknown");
  // A 429 says how long to wait (retry_after_minutes, Retry-After rounded up): in both languages
  // the detail has the minutes.
  if (lang === "fr" || problem.code === "validation_error" || problem.retry_after_minutes) {
    return problem.detail || problem.title;
  }
  return problem.title;
}

/** @param {string} method @param {string} path @param {unknown} [body] @param {{raw?: boolean, csrf?: "staff" | "citizen", headers?: Record<string, string>}} [opts] @returns {Promise<any>} */
export async function api(method, path, body, opts = {}) {
  const headers = {
    Accept: "application/json, application/problem+json",
    "Accept-Language": lang,
    ...(opts.headers || {}),
  };
  const init = /** @type {RequestInit} */ ({ method, headers, credentials: "same-origin" });
  if (body !== undefined && body !== null) {
    headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  if (!["GET", "HEAD"].includes(method)) {
    const token = getCsrf(opts.csrf || "staff");
    if (token) headers["X-CSRF-Token"] = token;
  }
  let response;
  try {
    response = await fetch(path, init);
  } catch {
    throw new ApiError(0, "network", errorMessage(0), null);
  }
  if (!response.ok) {
    let problem;
    try {
      problem = await response.json();
    } catch {
      problem = null;
    }
    const code = (problem && problem.code) || `http_${response.status}`;
    const language = response.headers.get("Content-Language");
    const message = errorMessage(response.status, problem, language);
    throw new ApiError(response.status, code, message, problem);
  }
  if (opts.raw) return response;
  if (response.status === 204) return null;
  const type = response.headers.get("Content-Type") || "";
  return type.includes("json") ? response.json() : response.text();
}

/** @param {Response} response @param {string} fallbackName */
export async function downloadResponse(response, fallbackName) {
  const blob = await response.blob();
  const disposition = response.headers.get("Content-Disposition") || "";
  const match = /filename="?([^";]+)"?/.exec(disposition);
  const link = el("a", { href: URL.createObjectURL(blob), download: match ? match[1] : fallbackName });
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(link.href), 10000);
}

// --- Header and footer -------------------------------------------------------------------------

const AREAS = {
  home: "/",
  mediation: "/mediation",
  citizen: "/citizen",
  verify: "/verify",
  coordination: "/coordination",
  figures: "/figures",
  directory: "/lieux",
};

function languageSelector() {
  const id = "translate-menu";
  const list = el("ul", { class: "fr-menu__list" });
  for (const code of LANGS) {
    list.append(
      el(
        "li",
        {},
        el("button", {
          type: "button",
          class: "fr-translate__language fr-nav__link",
          lang: code,
          "aria-current": code === lang ? "true" : false,
          "data-lang": code,
          text: `${code.toUpperCase()} - ${t(`common.lang_${code}`)}`,
        }),
      ),
    );
  }
  return el(
    "div",
    { class: "fr-translate fr-nav" },
    el(
      "div",
      { class: "fr-nav__item" },
      el(
        "button",
        {
          type: "button",
          class: "fr-translate__btn fr-btn",
          "aria-controls": id,
          "aria-expanded": "false",
          title: t("common.choose_language"),
        },
        lang.toUpperCase(),
        el("span", { class: "fr-hidden-lg", text: ` - ${t(`common.lang_${lang}`)}` }),
      ),
      el("div", { class: "fr-collapse fr-translate__menu fr-menu", id }, list),
    ),
  );
}

/** @param {string} area @param {{signedIn?: boolean, onSignOut?: () => unknown}} [opts] */
export function renderHeader(area, opts = {}) {
  const header = document.getElementById("header");
  if (!header) return;
  header.className = "fr-header";
  header.setAttribute("role", "banner");
  const tools = el("ul", { class: "fr-btns-group" });
  if (opts.signedIn) {
    tools.append(
      el(
        "li",
        {},
        el("button", {
          type: "button",
          class: "fr-btn fr-icon-logout-box-r-line",
          "data-action": "sign-out",
          text: t("common.sign_out"),
        }),
      ),
    );
  }
  const nav = el("ul", { class: "fr-nav__list" });
  for (const [name, href] of Object.entries(AREAS)) {
    if (name === "home") continue;
    nav.append(
      el(
        "li",
        { class: "fr-nav__item" },
        el("a", {
          class: "fr-nav__link",
          href,
          text: t(`common.nav_${name}`),
          "aria-current": name === area ? "page" : false,
        }),
      ),
    );
  }
  const logo = () => el("p", { class: "fr-logo" }, "République", el("br"), "Française");
  header.replaceChildren(
    el(
      "div",
      { class: "fr-header__body" },
      el(
        "div",
        { class: "fr-container" },
        el(
          "div",
          { class: "fr-header__body-row" },
          el(
            "div",
            { class: "fr-header__brand fr-enlarge-link" },
            el(
              "div",
              { class: "fr-header__brand-top" },
              el("div", { class: "fr-header__logo" }, logo()),
              el(
                "div",
                { class: "fr-header__navbar" },
                el("button", {
                  type: "button",
                  class: "fr-btn--menu fr-btn",
                  "data-fr-opened": "false",
                  "aria-controls": "header-menu",
                  id: "header-menu-button",
                  title: t("common.menu"),
                  text: t("common.menu"),
                }),
              ),
            ),
            el(
              "div",
              { class: "fr-header__service" },
              el(
                "a",
                { href: "/", title: t("common.home_title") },
                el("p", { class: "fr-header__service-title", text: t("common.service_name") }),
              ),
              el("p", { class: "fr-header__service-tagline", text: t("common.tagline") }),
            ),
          ),
          el(
            "div",
            { class: "fr-header__tools" },
            el("div", { class: "fr-header__tools-links" }, tools, languageSelector()),
          ),
        ),
      ),
    ),
    el(
      "div",
      {
        class: "fr-header__menu fr-modal",
        id: "header-menu",
        "aria-labelledby": "header-menu-button",
      },
      el(
        "div",
        { class: "fr-container" },
        el("button", {
          type: "button",
          class: "fr-btn--close fr-btn",
          "aria-controls": "header-menu",
          title: t("common.close"),
          text: t("common.close"),
        }),
        el("div", { class: "fr-header__menu-links" }),
        el("nav", { class: "fr-nav", role: "navigation", "aria-label": t("common.main_menu") }, nav),
      ),
    ),
  );
  // Delegated: the design system copies the tools into the mobile menu as HTML, without their
  // listeners.
  if (!header.dataset.wired) {
    header.dataset.wired = "1";
    header.addEventListener("click", (event) => {
      const target = /** @type {Element} */ (event.target);
      const language = target.closest("[data-lang]");
      if (language) setLang(language.getAttribute("data-lang"));
      if (target.closest("[data-action=sign-out]") && headerOptions.onSignOut) {
        headerOptions.onSignOut();
      }
    });
  }
  headerOptions = opts;
}

let headerOptions = {};

export function renderFooter() {
  const footer = document.getElementById("footer");
  if (!footer) return;
  footer.className = "fr-footer";
  footer.setAttribute("role", "contentinfo");
  footer.replaceChildren(
    el(
      "div",
      { class: "fr-container" },
      el(
        "div",
        { class: "fr-footer__body" },
        el(
          "div",
          { class: "fr-footer__brand fr-enlarge-link" },
          el(
            "a",
            { href: "/", title: t("common.home_title") },
            el("p", { class: "fr-logo" }, "République", el("br"), "Française"),
          ),
        ),
        el(
          "div",
          { class: "fr-footer__content" },
          el(
            "p",
            { class: "fr-footer__content-desc" },
            t("common.footer_desc"),
            " ",
            el("a", { href: "/api/v1/docs", text: t("common.api_docs") }),
            ".",
          ),
        ),
      ),
    ),
  );
}

/** @param {string} area @param {{signedIn?: boolean, onSignOut?: () => unknown}} [opts] */
export async function initPage(area, opts = {}) {
  await loadLocale();
  renderHeader(area, opts);
  renderFooter();
  applyI18n(document);
}

// The staff pages' start (mediation, coordination): a staff session open in this tab goes
// straight to the work; none, a citizen's session or a token asks to sign in. A function, not
// top-level await: older Safari (iOS 12-14) lacks it.
/** @param {string} area @param {StaffStart} on */
export async function startStaffPage(area, on) {
  await initPage(area);
  if (on.prepare) await on.prepare();
  try {
    const session = await api("GET", "/api/v1/auth/session");
    if (session.via !== "session") throw new ApiError(401, "unauthenticated", "");
    await on.signedIn(session);
  } catch (error) {
    if (error instanceof ApiError && error.status === 401) {
      setCsrf("staff", null);
      await on.signedOut();
    } else {
      await on.failed(error);
    }
  }
  document.body.dataset.ready = "true";
}
