// @ts-check
// The citizen's page: sign in with the number and access code of the card, then the passport
// as a picture (levels per domain, Premiers pas), the details, the credentials (QR full screen,
// revoke), who looked at it, and my data (download, erasure).
import {
  $, alertBox, announce, api, ApiError, cancelButton, checkNumber, clear, dsfrTable, el, filledIn,
  formatDateTime, getCsrf, hasKey,
  initPage, renderHeader, setCsrf, show, t,
} from "/static/js/common.js";
import { label, loadFramework } from "/static/framework.js";
import { credentialsTable, firstStepsList, historyTable, levelsCharts, skillsByCode } from "/static/js/passport-view.js";
import { offerCard } from "/static/js/wallet-offer.js";

const state = { view: null, tree: null, lastFocus: null };
const CSRF = /** @type {const} */ ({ csrf: "citizen" });

function setView(name) {
  for (const view of ["signin", "passport"]) show($(`#view-${view}`), view === name);
  show($("#page-status"), false);
}

function showError(box, error) {
  clear(box).append(alertBox("error", error.message || String(error)));
}

function signedOutLocally(message) {
  setCsrf("citizen", null);
  renderHeader("citizen", { signedIn: false });
  setView("signin");
  if (message) clear($("#signin-message")).append(alertBox("info", message));
  $("#signin-number").focus();
}

async function signOut() {
  try {
    await api("POST", "/api/v1/citizen/logout", null, CSRF);
  } catch {
    // The session may be over already; forgetting it here is what counts.
  }
  signedOutLocally(t("citizen.signed_out"));
}

// --- sign in ------------------------------------------------------------------------------------

$("#signin-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const box = clear($("#signin-error"));
  clear($("#signin-message"));
  const number = $("#signin-number").value.trim();
  const code = $("#signin-code").value.trim();
  if (!number || !code) {
    box.append(alertBox("error", t("citizen.signin_missing")));
    return;
  }
  // A typing mistake in the number is named as one, before asking the server.
  const checked = checkNumber(number, "P-");
  if (!checked.number) {
    const vars = { count: checked.length, characters: checked.characters };
    box.append(alertBox("error", t(`citizen.number_${checked.mistake}`, vars)));
    $("#signin-number").focus();
    return;
  }
  try {
    const login = await api("POST", "/api/v1/citizen/login", { number, code });
    setCsrf("citizen", login.csrf_token);
    $("#signin-code").value = "";
    await showPassport();
    $("#passport-title").focus();
  } catch (error) {
    showError(box, error);
    $("#signin-code").focus();
  }
});

// No card at hand: a one-time link by e-mail. The answer is the same whether the address is
// known or not.
$("#link-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const box = clear($("#link-message"));
  const email = filledIn($("#link-email"), box, t("citizen.link_missing"));
  if (!email) return;
  try {
    await api("POST", "/api/v1/citizen/link", { email });
    box.append(alertBox("success", t("citizen.link_sent")));
  } catch (error) {
    showError(box, error);
    $("#link-email").focus();
  }
});

// --- the passport -------------------------------------------------------------------------------

async function showPassport() {
  const [view, tree] = await Promise.all([api("GET", "/api/v1/citizen/passport"), loadFramework()]);
  state.view = view;
  state.tree = tree;
  renderHeader("citizen", { signedIn: true, onSignOut: signOut });
  const p = view.passport;
  $("#passport-meta").textContent = t("citizen.passport_meta", {
    name: [p.first_name, p.last_name].filter(Boolean).join(" "),
    number: p.number,
  });
  clear($("#citizen-levels")).append(levelsCharts(view, tree));
  clear($("#citizen-first-steps")).append(firstStepsList(view, tree));
  clear($("#citizen-history")).append(historyTable(view.validations, tree));
  setView("passport");
  renderWalletSkills();
  await Promise.all([refreshCredentials(), refreshJournal()]);
}

function actionLabel(action) {
  const key = `citizen.action_${action.replace(/\./g, "_")}`;
  return hasKey(key) ? t(key) : t("citizen.action_other");
}

async function refreshJournal() {
  const entries = await api("GET", "/api/v1/citizen/access-log");
  const root = clear($("#citizen-journal"));
  if (!entries.length) {
    root.append(el("p", { text: t("citizen.journal_empty") }));
    return;
  }
  const who = (e) => {
    if (e.actor_kind === "citizen") return t("citizen.actor_you");
    return [e.who, e.structure].filter(Boolean).join(", ") || t("citizen.actor_system");
  };
  root.append(dsfrTable({
    caption: t("citizen.journal_title"),
    hideCaption: true,
    scroll: true,
    cards: true,
    headers: [t("citizen.when"), t("citizen.what"), t("citizen.who")],
    rows: entries.map((e) => el("tr", { "data-action": e.action },
      el("td", { text: e.count > 1 && e.last_at
        ? t("citizen.journal_repeated", {
          at: formatDateTime(e.at), last: formatDateTime(e.last_at), count: e.count,
        })
        : formatDateTime(e.at) }),
      el("td", { text: actionLabel(e.action) }),
      el("td", { text: who(e) }))),
  }));
}

// --- credentials --------------------------------------------------------------------------------

async function refreshCredentials() {
  const list = await api("GET", "/api/v1/citizen/credentials");
  clear($("#citizen-credentials")).append(credentialsTable(list, state.tree, credentialActions));
}

// --- the wallet (docs/wallet.md) -----------------------------------------------------------------

/**
 * The skills a mediator validated (a self-assessment cannot go into a wallet), to tick.
 */
function renderWalletSkills() {
  const skills = skillsByCode(state.tree);
  /** @type {string[]} */
  const codes = [];
  for (const v of state.view.validations) {
    if (!v.withdrawn_at && v.method !== "self_assessment" && !codes.includes(v.skill_code)) codes.push(v.skill_code);
  }
  const root = clear($("#wallet-skills"));
  show($("#wallet-form button[type=submit]"), codes.length > 0);
  if (!codes.length) {
    root.append(el("p", { class: "fr-hint-text", text: t("wallet.citizen_none") }));
    return;
  }
  codes.forEach((code, i) => {
    const skill = skills.get(code);
    root.append(el("div", { class: "fr-checkbox-group" },
      el("input", { type: "checkbox", id: `wallet-skill-${i}`, name: "skills", value: code }),
      el("label", { class: "fr-label", for: `wallet-skill-${i}`, text: skill ? label(skill) : code })));
  });
}

$("#wallet-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const form = /** @type {HTMLFormElement} */ (event.currentTarget);
  const box = clear($("#wallet-error"));
  const skills = [...form.querySelectorAll("input[name=skills]:checked")].map((i) => /** @type {HTMLInputElement} */ (i).value);
  if (!skills.length) {
    box.append(alertBox("error", t("common.errors.no_skills")));
    const first = /** @type {HTMLElement | null} */ (form.querySelector("input[name=skills]"));
    if (first) first.focus();
    return;
  }
  try {
    const offer = await api("POST", "/api/v1/citizen/wallet-offers", {
      skills,
      include_name: form.include_name.checked,
    }, CSRF);
    const result = clear($("#wallet-result"));
    result.append(offerCard(offer, "citizen", { skills: skillsByCode(state.tree), holder: state.view.passport }));
    form.reset();
    result.focus();
    announce(t("wallet.offer_ready"));
  } catch (error) {
    showError(box, error);
  }
});

function credentialActions(credential) {
  if (credential.format === "dc+sd-jwt") return walletCopyActions(credential);
  const active = !credential.revoked_at && new Date(credential.expires_at) > new Date();
  const base = `/api/v1/citizen/credentials/${credential.id}`;
  const items = [];
  if (active) {
    items.push(el("button", {
      type: "button",
      class: "fr-btn fr-btn--secondary fr-icon-qr-code-line fr-btn--icon-left",
      text: t("citizen.show_qr"),
      "aria-label": t("citizen.show_qr_of", { code: credential.code }),
      onclick: (event) => showQr(credential, event.currentTarget),
    }));
  }
  items.push(el("a", {
    class: "fr-btn fr-btn--tertiary",
    href: `${base}/attestation.pdf`,
    download: `attestation-${credential.code}.pdf`,
    text: t("citizen.attestation_pdf"),
    "aria-label": t("citizen.attestation_pdf_of", { code: credential.code }),
  }));
  items.push(el("a", {
    class: "fr-btn fr-btn--tertiary",
    href: `${base}/qr.png`,
    download: `qr-${credential.code}.png`,
    text: t("citizen.qr_png"),
    "aria-label": t("citizen.qr_png_of", { code: credential.code }),
  }));
  if (!credential.revoked_at) {
    items.push(el("button", {
      type: "button",
      class: "fr-btn fr-btn--tertiary fr-icon-close-circle-line fr-btn--icon-left",
      text: t("citizen.revoke"),
      "aria-label": t("citizen.revoke_of", { code: credential.code }),
      onclick: (event) => askRevoke(credential, event.currentTarget),
    }));
  }
  return el("ul", { class: "fr-btns-group fr-btns-group--sm fr-btns-group--icon-left" }, items.map((item) => el("li", {}, item)));
}

/**
 * A copy in my wallet: nothing to show or print here (the wallet holds it); it can be revoked.
 * @param {{id: number, code: string, revoked_at: string | null}} credential
 * @returns {HTMLElement}
 */
function walletCopyActions(credential) {
  /** @type {HTMLElement[]} */
  const items = [el("p", { class: "fr-text--sm fr-mb-1w", text: t("wallet.held_by_wallet") })];
  if (!credential.revoked_at) {
    items.push(el("button", {
      type: "button",
      class: "fr-btn fr-btn--sm fr-btn--tertiary fr-icon-close-circle-line fr-btn--icon-left",
      text: t("citizen.revoke"),
      "aria-label": t("wallet.revoke_copy"),
      onclick: (event) => askRevoke(credential, event.currentTarget),
    }));
  }
  return el("div", {}, items);
}

function askRevoke(credential, button) {
  const holder = button.closest("td");
  const confirm = el("div", { class: "fr-alert fr-alert--warning fr-alert--sm", role: "alert" },
    el("p", { text: t("citizen.revoke_warning", { code: credential.code }) }),
    el("ul", { class: "fr-btns-group fr-btns-group--sm fr-btns-group--inline fr-mt-1w" },
      el("li", {}, el("button", {
        type: "button",
        class: "fr-btn",
        text: t("citizen.revoke_confirm"),
        onclick: async () => {
          try {
            await api("POST", `/api/v1/citizen/credentials/${credential.id}/revoke`, { reason: "holder_request" }, CSRF);
            await refreshCredentials();
            const message = t("citizen.revoked", { code: credential.code });
            clear($("#citizen-message")).append(alertBox("success", message));
            announce(message);
            $("#tab-credentials").focus();
          } catch (error) {
            showError(holder, error);
          }
        },
      })),
      el("li", {}, cancelButton(() => {
        holder.replaceChildren(credentialActions(credential));
        const first = holder.querySelector("button, a");
        if (first) first.focus();
      }))));
  holder.replaceChildren(confirm);
  confirm.querySelector("button").focus();
}

function showQr(credential, opener) {
  state.lastFocus = opener;
  $("#qr-title").textContent = t("citizen.qr_title", { code: credential.code });
  const img = $("#qr-image");
  img.src = `/api/v1/citizen/credentials/${credential.id}/qr.svg`;
  img.alt = t("citizen.qr_alt", { code: credential.code });
  $("#qr-code").textContent = credential.code;
  show($("#qr-overlay"), true);
  // Everything behind the dialog is out of reach while it is open.
  for (const id of ["header", "contenu", "footer"]) document.getElementById(id).inert = true;
  $("#qr-close").focus();
}

function closeQr() {
  show($("#qr-overlay"), false);
  for (const id of ["header", "contenu", "footer"]) document.getElementById(id).inert = false;
  if (state.lastFocus) state.lastFocus.focus();
}

$("#qr-close").addEventListener("click", closeQr);
document.addEventListener("keydown", (event) => {
  if (event.key === "Escape" && !$("#qr-overlay").hidden) closeQr();
});

// --- my data ------------------------------------------------------------------------------------

$("#erasure-start").addEventListener("click", () => {
  show($("#erasure-form"), true);
  show($("#erasure-start"), false);
  $("#erasure-confirm").focus();
});

$("#erasure-cancel").addEventListener("click", () => {
  show($("#erasure-form"), false);
  show($("#erasure-start"), true);
  $("#erasure-start").focus();
});

$("#erasure-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const box = clear($("#erasure-error"));
  if (!$("#erasure-confirm").checked) {
    box.append(alertBox("error", t("citizen.erasure_unchecked")));
    $("#erasure-confirm").focus();
    return;
  }
  try {
    await api("POST", "/api/v1/citizen/erasure", { confirm: true }, CSRF);
    signedOutLocally(t("citizen.erased"));
  } catch (error) {
    showError(box, error);
  }
});

// --- start --------------------------------------------------------------------------------------

// The printed addresses (app/core/addresses.py): /citoyen#numero=P-… from the card's QR code,
// /citoyen#lien=… from the e-mail. Read from the fragment (or the query, for an address typed
// by hand), then dropped from the address bar: a sign-in link is spent once, and neither should
// stay in the history.
function printedParams() {
  const params = new URLSearchParams(location.hash.replace(/^#/, ""));
  for (const [key, value] of new URLSearchParams(location.search)) {
    if (!params.has(key)) params.set(key, value);
  }
  if (params.has("lien") || params.has("numero")) history.replaceState(null, "", location.pathname);
  return { token: params.get("lien"), number: params.get("numero") };
}

async function signInWithLink(token) {
  try {
    const login = await api("POST", "/api/v1/citizen/link/login", { token });
    setCsrf("citizen", login.csrf_token);
    await showPassport();
    $("#passport-title").focus();
  } catch (error) {
    signedOutLocally();
    // A link cut off by the mail reader, or garbage, fails the token's validation: to the
    // person it is the same as a spent link, and so is the remedy (ask for a new one).
    if (error.code === "invalid_link" || error.code === "validation_error") {
      clear($("#signin-error")).append(alertBox("error", t("common.errors.invalid_link")));
    } else {
      showError($("#signin-error"), error);
    }
  }
}

// A printed address opened in a tab already on this page changes only the fragment.
window.addEventListener("hashchange", () => {
  const printed = printedParams();
  if (printed.token) signInWithLink(printed.token);
  else if (printed.number && !$("#view-signin").hidden) {
    $("#signin-number").value = printed.number;
    $("#signin-code").focus();
  }
});

// A function, not top-level await: older Safari (iOS 12-14) lacks it.
async function start() {
  await initPage("citizen");
  const printed = printedParams();
  if (printed.token) {
    await signInWithLink(printed.token);
    return;
  }
  if (printed.number) $("#signin-number").value = printed.number;
  try {
    // A session still open in this tab (a reload): straight to the passport.
    if (!getCsrf("citizen")) throw new ApiError(401, "unauthenticated", "");
    await showPassport();
  } catch (error) {
    if (error instanceof ApiError && [401, 403].includes(error.status)) {
      signedOutLocally();
      // The number came with the address: what is left to type is the code.
      if (printed.number) $("#signin-code").focus();
    } else {
      setView("signin");
      showError($("#signin-error"), error);
    }
  }
}

start();
