// @ts-check
// The mediator's page: sign in, find or open a passport, record and withdraw validations, print
// the access card, issue a credential. One page, three views (sign-in, search, passport); the
// passport shown is in the URL (#passport/ID) so a reload or the back button keeps it.
import {
  $, alertBox, announce, api, ApiError, bindPasswordSignIn, cancelButton, checkNumber, clear,
  downloadResponse, dsfrTable, el, formatDate, formatDateTime, renderHeader, setCsrf, show,
  startStaffPage, t,
} from "/static/js/common.js";
import { label, loadFramework, skillIndex } from "/static/framework.js";
import { credentialsTable, firstStepsList, historyTable, levelsCharts } from "/static/js/passport-view.js";
import { setupPicker } from "/static/js/mediation-picker.js";
import * as offline from "/static/js/mediation-offline.js";
import { offerCard } from "/static/js/wallet-offer.js";

const state = { account: null, structures: [], passport: null, view: null, tree: null, picker: null, provisional: null, provisionalError: null };

function setView(name) {
  for (const view of ["signin", "search", "passport"]) show($(`#view-${view}`), view === name);
  // What this device holds is its author's to see, signed in.
  if (name === "signin") {
    show($("#offline-queue"), false);
    show($("#offline-queue-jump"), false);
  }
  show($("#page-status"), false);
  // Signed out, nothing can be recorded: the banner says only that the network is gone.
  const banner = $("#offline-status-text");
  banner.dataset.i18n = name === "signin" ? "mediation.offline.banner_signin" : "mediation.offline.banner_text";
  banner.textContent = t(banner.dataset.i18n);
}

function showError(box, error) {
  if (error instanceof ApiError && error.status === 401 && state.account) {
    // The session ended (idle too long, signed out elsewhere): back to the sign-in form.
    state.account = null;
    setCsrf("staff", null);
    offline.sessionEnded();
    renderHeader("mediation", { signedIn: false });
    showSignIn().then(() => clear($("#signin-error")).append(alertBox("info", t("common.errors.session_expired"))));
    return;
  }
  clear(box).append(alertBox("error", error.message || String(error)));
}

function randomKey() {
  const bytes = new Uint8Array(16);
  crypto.getRandomValues(bytes);
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

function today() {
  const now = new Date();
  const pad = (n) => String(n).padStart(2, "0");
  return `${now.getFullYear()}-${pad(now.getMonth() + 1)}-${pad(now.getDate())}`;
}

// --- session -----------------------------------------------------------------------------------

// Items recorded on this device and not accepted yet would be lost: the mediator decides.
async function signOut(confirmed = false) {
  const ask = $("#signout-ask");
  const pending = await offline.pendingCount();
  if (pending && !confirmed) {
    clear(ask).append(el("div", { class: "fr-alert fr-alert--warning fr-mb-3w", role: "alert" },
      el("h2", { class: "fr-alert__title", text: t("mediation.offline.signout_title", { n: pending }) }),
      el("p", { text: t("mediation.offline.signout_text", { n: pending }) }),
      el("ul", { class: "fr-btns-group fr-btns-group--inline-md fr-btns-group--sm fr-mt-2w" },
        el("li", {}, el("button", {
          type: "button",
          class: "fr-btn",
          id: "signout-stay",
          text: t("mediation.offline.signout_stay"),
          onclick: () => {
            show(ask, false);
            $("#offline-queue-title").scrollIntoView();
            $("#contenu").focus();
          },
        })),
        el("li", {}, el("button", {
          type: "button",
          class: "fr-btn fr-btn--secondary",
          id: "signout-anyway",
          text: t("mediation.offline.signout_anyway", { n: pending }),
          onclick: () => signOut(true),
        })))));
    show(ask, true);
    $("#signout-stay").focus();
    return;
  }
  try {
    await api("POST", "/api/v1/auth/logout");
  } catch (error) {
    // Already gone: fine. No network: the server's session ends at the next start online.
    if (error instanceof ApiError && error.status === 0) rememberSignOut(true);
  }
  // Nothing about people stays on the device (docs/privacy.md).
  await offline.wipeForSignOut();
  // The sign-in page that follows says they were erased, not that they will be sent.
  if (pending) rememberErased(pending);
  setCsrf("staff", null);
  location.hash = "";
  location.reload();
}

async function signedIn(session) {
  state.account = session.account;
  if (session.csrf_token) setCsrf("staff", session.csrf_token);
  state.structures = await Promise.all(
    session.account.structure_ids.map((id) =>
      api("GET", `/api/v1/structures/${id}`).catch(() => ({ id, nom: `#${id}` })),
    ),
  );
  await offline.rememberSession(session, state.structures);
  await showSignedIn();
  // What waited on this device for this mediator goes now (page start, or a new sign-in).
  offline.replay();
}

const SIGN_OUT_PENDING = "passeport.signout_pending";
const ERASED = "passeport.signout_erased";

/** @param {number} count records not sent, erased at sign-out (a number only, no person) */
function rememberErased(count) {
  try {
    sessionStorage.setItem(ERASED, String(count));
  } catch {
    // No storage: the sign-in page just does not mention them.
  }
}

/** How many records the sign-out just erased (once), or 0. */
function erasedAtSignOut() {
  try {
    const count = Number(sessionStorage.getItem(ERASED) || 0);
    sessionStorage.removeItem(ERASED);
    return count;
  } catch {
    return 0;
  }
}

function rememberSignOut(pending) {
  try {
    if (pending) localStorage.setItem(SIGN_OUT_PENDING, "1");
    else localStorage.removeItem(SIGN_OUT_PENDING);
  } catch {
    // No storage: the session ends by itself (idle time).
  }
}

// Signed out while offline: the session cookie could not be ended then; it is now.
async function finishSignOut() {
  try {
    if (!localStorage.getItem(SIGN_OUT_PENDING)) return;
  } catch {
    return;
  }
  try {
    const session = await api("GET", "/api/v1/auth/session");
    if (session.csrf_token) setCsrf("staff", session.csrf_token);
    await api("POST", "/api/v1/auth/logout");
    setCsrf("staff", null);
    rememberSignOut(false);
  } catch (error) {
    // 401: already ended. Otherwise still no network: next time.
    if (error instanceof ApiError && error.status === 401) rememberSignOut(false);
  }
}

// Started with no network: the account that signed in here, while its session's rules allow.
async function signedInOffline(identity) {
  state.account = { id: identity.account, display_name: identity.displayName, structure_ids: identity.structureIds || [] };
  state.structures = identity.structures;
  offline.markOffline(true);
  await showSignedIn();
}

async function showSignedIn() {
  renderHeader("mediation", { signedIn: true, onSignOut: () => signOut(false) });
  $("#welcome").textContent = t("mediation.welcome", { name: state.account.display_name });
  for (const select of [$("#open-structure"), $("#record-structure")]) {
    clear(select).append(...state.structures.map((s) => el("option", { value: s.id, text: `${s.nom} (${s.commune || ""})` })));
  }
  // No place of work (a coordinator, say): passports can be read but not opened here.
  show($("#open-form"), state.structures.length > 0);
  show($("#record-form"), state.structures.length > 0);
  show($("#no-structure"), state.structures.length === 0);
  // One place of work: nothing to choose.
  show($("#open-structure-group"), state.structures.length !== 1);
  show($("#record-structure-group"), state.structures.length !== 1);
  await offline.renderQueue();
  await route();
}

async function showSignIn() {
  setView("signin");
  try {
    const sso = await api("GET", "/api/v1/auth/oidc");
    if (sso.enabled && sso.login_url) {
      const link = $("#sso-link");
      link.href = `${sso.login_url}?return_to=${encodeURIComponent("/mediation")}`;
      link.textContent = t("mediation.sso_button", { provider: sso.provider_name });
      show($("#sso"), true);
    }
  } catch {
    // No SSO offered: the password form is enough.
  }
  $("#signin-email").focus();
}

bindPasswordSignIn({ missingKey: "mediation.signin_missing", onSignedIn: signedIn, showError });

// --- search and open ----------------------------------------------------------------------------

// A search that looks like a passport number (P and 6 to 10 letters and digits) but is not one:
// what is wrong with it, in plain words (a typo caught by the check character, most often).
function numberMistake(q) {
  const compact = q.toUpperCase().replace(/[ -]/g, "");
  if (!/^P[0-9A-Z]{6,10}$/.test(compact) || !/[0-9]/.test(compact)) return null;
  const checked = checkNumber(q, "P-");
  if (checked.number) return null;
  return t(`mediation.number_${checked.mistake}`, { count: checked.length, characters: checked.characters });
}

// Offline, a search cannot run: the passports opened on this device while online can be.
async function showKeptPassports(box) {
  const kept = await offline.keptPassports();
  clear(box).append(alertBox("info", t("mediation.offline.search_offline")));
  if (kept.length) {
    box.append(el("h2", { class: "fr-h5 fr-mt-2w", text: t("mediation.offline.kept_title") }),
      resultsTable(kept.map((k) => k.view.passport)));
  }
}

function resultsTable(found, q = "") {
  if (!found.length) {
    const mistake = numberMistake(q);
    if (mistake) return alertBox("error", mistake);
    return el("p", { text: t("mediation.no_result") });
  }
  return dsfrTable({
    caption: t("mediation.results_caption", { n: found.length }),
    headers: [t("mediation.number"), t("mediation.name"), t("mediation.birth_year"), t("passport.actions")],
    rows: found.map((p) => el("tr", {},
      el("td", {}, el("span", { class: "skill-code", text: p.number })),
      el("td", { text: [p.first_name, p.last_name].filter(Boolean).join(" ") }),
      el("td", { text: p.birth_year || "" }),
      el("td", {}, el("a", {
        class: "fr-btn fr-btn--sm fr-btn--secondary",
        href: `#passport/${p.id}`,
        text: t("mediation.open_passport"),
        "aria-label": t("mediation.open_passport_of", { name: [p.first_name, p.last_name].filter(Boolean).join(" ") }),
      })))),
  });
}

$("#search-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const params = new URLSearchParams();
  const q = $("#search-q").value.trim();
  const year = $("#search-year").value.trim();
  if (q) params.set("q", q);
  if (year) params.set("birth_year", year);
  const box = clear($("#search-results"));
  try {
    box.append(resultsTable(await api("GET", `/api/v1/passports?${params}`), q));
    offline.markOffline(false);
  } catch (error) {
    if (error instanceof ApiError && error.status === 0) {
      offline.markOffline(true);
      await showKeptPassports(box);
      return;
    }
    showError(box, error);
  }
});

/**
 * What the server would refuse in the new-passport form, checked here first: offline, a refusal
 * would only come at sync. The limits are the form's own attributes (min, max, maxlength,
 * pattern, type: tests/test_forms.py keeps them equal to the API's), and a birth year cannot be in
 * the future.
 * @param {HTMLFormElement} form
 * @returns {{field: HTMLInputElement, message: string} | null}
 */
function openingProblem(form) {
  const year = /** @type {HTMLInputElement} */ (form.birth_year);
  const thisYear = new Date().getFullYear();
  if (!year.validity.valid || (year.value && Number(year.value) > thisYear)) {
    return { field: year, message: t("mediation.birth_year_invalid", { max: thisYear }) };
  }
  for (const name of ["first_name", "last_name", "phone", "email"]) {
    const field = /** @type {HTMLInputElement} */ (form[name]);
    if (!field.validity.valid && field.value.trim()) return { field, message: t(`mediation.${name}_invalid`) };
  }
  return null;
}

async function openPassport(confirmNotDuplicate = false) {
  const box = clear($("#open-error"));
  const warning = $("#duplicate-warning");
  const form = $("#open-form");
  const body = {
    first_name: form.first_name.value.trim(),
    last_name: form.last_name.value.trim(),
    structure_id: Number(form.structure_id.value),
    consent: form.consent.checked,
    confirm_not_duplicate: confirmNotDuplicate,
  };
  for (const field of ["birth_year", "phone", "email"]) {
    const value = form[field].value.trim();
    if (value) body[field] = field === "birth_year" ? Number(value) : value;
  }
  if (!body.first_name || !body.last_name) {
    box.append(alertBox("error", t("mediation.names_required")));
    (body.first_name ? form.last_name : form.first_name).focus();
    return;
  }
  const problem = openingProblem(form);
  if (problem) {
    box.append(alertBox("error", problem.message));
    problem.field.focus();
    return;
  }
  if (!body.consent) {
    // The consent is read to the person first: the form does not go without it.
    box.append(alertBox("error", t("common.errors.consent_required")));
    form.consent.focus();
    return;
  }
  // The key makes a replay (after a lost answer, or from the offline queue) open it once.
  const key = form.dataset.key || (form.dataset.key = randomKey());
  if (offline.isOffline()) {
    await queueOpening(body, key, true);
    return;
  }
  try {
    const created = await api("POST", "/api/v1/passports", body, { headers: { "Idempotency-Key": key } });
    delete form.dataset.key;
    show(warning, false);
    form.reset();
    state.newCode = created.access_code;
    location.hash = `#passport/${created.id}`;
  } catch (error) {
    if (error instanceof ApiError && error.code === "likely_duplicate") {
      delete form.dataset.key;
      showDuplicate(error.problem.candidates || []);
      return;
    }
    if (error instanceof ApiError && error.status === 0) {
      // It may have reached the server: the same request goes again from the queue.
      offline.markOffline(true);
      await queueOpening(body, key, false);
      return;
    }
    showError(box, error);
  }
}

// Opened on this device: a provisional reference now, the number from the server at sync (the
// duplicate check runs then, and asks in the list of this device's records).
async function queueOpening(body, key, recordedOffline) {
  const form = $("#open-form");
  try {
    const item = await offline.queuePassport({ body, key, offline: recordedOffline });
    delete form.dataset.key;
    show($("#duplicate-warning"), false);
    form.reset();
    location.hash = `#offline/${item.localRef}`;
  } catch (error) {
    showError(clear($("#open-error")), error);
  }
}

function showDuplicate(candidates) {
  const warning = clear($("#duplicate-warning"));
  const list = el("ul", {}, candidates.map((number) => el("li", {},
    el("button", {
      type: "button",
      class: "fr-btn fr-btn--sm fr-btn--tertiary",
      text: t("mediation.duplicate_see", { number }),
      onclick: () => openByNumber(number),
    }))));
  warning.append(el("div", { class: "fr-alert fr-alert--warning fr-mb-3w", role: "alert" },
    el("h3", { class: "fr-alert__title", text: t("mediation.duplicate_title") }),
    el("p", { text: t("mediation.duplicate_text") }),
    list,
    el("button", {
      type: "button",
      class: "fr-btn fr-btn--sm fr-btn--secondary fr-mt-2w",
      id: "confirm-not-duplicate",
      text: t("mediation.duplicate_confirm"),
      onclick: () => openPassport(true),
    })));
  show(warning, true);
  warning.querySelector("button").focus();
}

async function openByNumber(number) {
  const found = await api("GET", `/api/v1/passports?q=${encodeURIComponent(number)}`);
  if (found.length) location.hash = `#passport/${found[0].id}`;
}

$("#open-form").addEventListener("submit", (event) => {
  event.preventDefault();
  openPassport(false);
});

// --- one passport -------------------------------------------------------------------------------

async function loadPassport(id) {
  const tree = await loadFramework();
  let view;
  state.keptAt = null;
  try {
    view = await api("GET", `/api/v1/passports/${id}`);
    offline.markOffline(false);
    offline.keepPassport(view);
  } catch (error) {
    // Offline: the copy kept when it was opened online, if this session may still read it.
    const kept = error instanceof ApiError && error.status === 0 ? await offline.keptPassport(Number(id)) : null;
    if (!kept) throw error;
    offline.markOffline(true);
    view = kept.view;
    state.keptAt = kept.savedAt;
  }
  state.view = view;
  state.tree = tree;
  state.passport = view.passport;
  return view;
}

// A passport opened offline, still in the queue: what the device knows of it.
async function loadProvisional(ref) {
  const item = await offline.queuedPassport(ref);
  if (!item) return null;
  const tree = await loadFramework();
  const firstSteps = skillIndex(tree).filter((s) => s.frameworkCode === "pp")
    .map((s) => ({ code: s.code, label_fr: s.label_fr, acquired_on: null }));
  state.tree = tree;
  state.keptAt = null;
  state.view = {
    passport: { id: null, number: ref, first_name: item.body.first_name, last_name: item.body.last_name,
      birth_year: item.body.birth_year || null, created_at: item.recordedAt },
    areas: [], premiers_pas: firstSteps, in_progress: [], validations: [], self_assessments: [],
  };
  state.passport = state.view.passport;
  state.provisionalError = item.state === "refused" ? item.error : null;
  return item;
}

function renderPassport() {
  const { view, tree } = state;
  const p = view.passport;
  $("#passport-title").textContent = [p.first_name, p.last_name].filter(Boolean).join(" ") || p.number;
  $("#passport-meta").textContent = [
    state.provisional ? t("mediation.offline.provisional_ref", { ref: p.number }) : t("mediation.passport_number", { number: p.number }),
    p.birth_year ? t("mediation.born_in", { year: p.birth_year }) : null,
    t("mediation.opened_on", { date: formatDate(p.created_at) }),
  ].filter(Boolean).join(" · ");
  clear($("#passport-levels")).append(levelsCharts(view, tree));
  const steps = firstStepsList(view, tree);
  $("#passport-first-steps").replaceWith(Object.assign(steps, { id: "passport-first-steps" }));
  clear($("#passport-history")).append(historyTable(view.validations, tree, withdrawAction));
  renderCredentialSkills();
}

function withdrawAction(validation) {
  if (validation.withdrawn_at) return null;
  const name = label(state.skills.get(validation.skill_code) || { label_fr: validation.skill_label_fr });
  return el("button", {
    type: "button",
    class: "fr-btn fr-btn--sm fr-btn--tertiary fr-icon-delete-line fr-btn--icon-left",
    text: t("mediation.withdraw"),
    "aria-label": t("mediation.withdraw_of", { skill: name }),
    onclick: (event) => askWithdrawal(event.currentTarget, validation, name),
  });
}

function askWithdrawal(button, validation, name) {
  const cell = button.parentElement;
  const id = `reason-${validation.id}`;
  const form = el("form", { class: "withdraw-form", novalidate: true },
    el("div", { class: "fr-input-group fr-mb-1w" },
      el("label", { class: "fr-label", for: id, text: t("mediation.withdraw_reason", { skill: name }) }),
      el("input", { class: "fr-input", id, name: "reason", required: true, minlength: 3, maxlength: 500 })),
    el("div", { role: "alert", class: "withdraw-error" }),
    el("ul", { class: "fr-btns-group fr-btns-group--inline fr-btns-group--sm" },
      el("li", {}, el("button", { type: "submit", class: "fr-btn", text: t("mediation.withdraw_confirm") })),
      el("li", {}, cancelButton(() => {
        cell.replaceChildren(withdrawAction(validation));
        cell.querySelector("button").focus();
      }))));
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const reason = form.reason.value.trim();
    const box = clear(form.querySelector(".withdraw-error"));
    if (reason.length < 3) {
      box.append(alertBox("error", t("mediation.withdraw_reason_short")));
      form.reason.focus();
      return;
    }
    try {
      await api("POST", `/api/v1/passports/${state.passport.id}/validations/${validation.id}/withdraw`, { reason });
      await loadPassport(state.passport.id);
      renderPassport();
      clear($("#passport-message")).append(alertBox("success", t("mediation.withdrawn", { skill: name })));
      $("#passport-title").focus();
    } catch (error) {
      showError(box, error);
    }
  });
  cell.replaceChildren(form);
  form.reason.focus();
}

$("#record-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const box = clear($("#record-error"));
  const form = event.currentTarget;
  const skill = state.picker.chosen();
  if (!skill) {
    box.append(alertBox("error", t("mediation.choose_skill")));
    $("#picker-input").focus();
    return;
  }
  const body = {
    skill_code: skill.code,
    method: form.method.value,
    observed_on: form.observed_on.value,
    structure_id: Number(form.structure_id.value),
  };
  if (skill.frameworkCode !== "pp") body.level = Number(form.level.value);
  const evidence = form.evidence.value.trim();
  if (evidence) body.evidence = evidence;
  // The key makes a retry after a lost answer, or a replay from the offline queue, land once.
  const key = form.dataset.key || (form.dataset.key = randomKey());
  if (state.provisional || offline.isOffline()) {
    await queueRecord(skill, body, key, true);
    return;
  }
  try {
    await api("POST", `/api/v1/passports/${state.passport.id}/validations`, body, {
      headers: { "Idempotency-Key": key },
    });
    delete form.dataset.key;
    state.picker.reset();
    form.evidence.value = "";
    await loadPassport(state.passport.id);
    renderPassport();
    const message = t("mediation.recorded", { skill: label(skill) });
    clear(box).append(alertBox("success", message));
    announce(message);
    $("#picker-input").focus();
  } catch (error) {
    if (error.code === "idempotency_key_reused") {
      // An earlier try under this key was recorded, with other values (its answer was lost):
      // the next submission is a new one, and the passport shows what was kept.
      delete form.dataset.key;
      await loadPassport(state.passport.id);
      renderPassport();
      // The registry's sentence speaks of a key; the mediator needs what to do next.
      clear(box).append(alertBox("error", t("common.errors.idempotency_key_reused")));
      return;
    }
    if (error instanceof ApiError && error.status === 0) {
      // It may have reached the server: the same request goes again from the queue.
      offline.markOffline(true);
      await queueRecord(skill, body, key, false);
      return;
    }
    showError(box, error);
  }
});

// Kept on this device, sent when the network comes back (mediation-offline.js).
async function queueRecord(skill, body, key, recordedOffline) {
  const form = $("#record-form");
  const box = clear($("#record-error"));
  const p = state.passport;
  try {
    await offline.queueValidation({
      passportId: state.provisional ? null : p.id,
      localRef: state.provisional,
      who: [p.first_name, p.last_name].filter(Boolean).join(" ") || p.number,
      body,
      key,
      offline: recordedOffline,
    });
  } catch (error) {
    showError(box, error);
    return;
  }
  delete form.dataset.key;
  state.picker.reset();
  form.evidence.value = "";
  const message = t("mediation.offline.recorded", { skill: label(skill) });
  box.append(alertBox("info", message));
  announce(message);
  $("#picker-input").focus();
}

// A refused item to correct: back into its form, to be checked and sent again as a new one.
function correctItem(item) {
  if (item.kind === "passport") {
    location.hash = "";
    const form = $("#open-form");
    for (const field of ["first_name", "last_name", "birth_year", "phone", "email"]) {
      if (item.body[field] !== undefined && item.body[field] !== null) form[field].value = item.body[field];
    }
    form.first_name.focus();
    return;
  }
  const target = item.passportId ? `#passport/${item.passportId}` : `#offline/${item.localRef}`;
  const refill = () => {
    const form = $("#record-form");
    const skill = state.skills && state.skills.get(item.body.skill_code);
    if (skill && state.picker) state.picker.choose(skill);
    if (item.body.level) form.level.value = String(item.body.level);
    form.method.value = item.body.method;
    form.observed_on.value = item.body.observed_on;
    form.evidence.value = item.body.evidence || "";
    $("#picker-input").focus();
  };
  if (location.hash === target) refill();
  else {
    state.afterRoute = refill;
    location.hash = target;
  }
}

// Print a new access card: it replaces the code, so the mediator confirms first.
$("#print-card").addEventListener("click", () => {
  const box = clear($("#passport-message"));
  const confirmButton = el("button", {
    type: "button",
    class: "fr-btn fr-btn--sm",
    id: "confirm-print",
    text: t("mediation.print_confirm"),
    onclick: async () => {
      try {
        const response = await api("POST", `/api/v1/passports/${state.passport.id}/card`, null, { raw: true });
        await downloadResponse(response, `carte-${state.passport.number}.pdf`);
        clear(box).append(alertBox("success", t("mediation.card_printed")));
        show($("#new-code"), false);
      } catch (error) {
        showError(box, error);
      }
    },
  });
  box.append(el("div", { class: "fr-alert fr-alert--warning fr-mb-2w" },
    el("p", { text: t("mediation.print_warning") }), confirmButton));
  confirmButton.focus();
});

// --- credentials --------------------------------------------------------------------------------

function renderCredentialSkills() {
  const codes = [];
  for (const v of state.view.validations) {
    if (!v.withdrawn_at && !codes.includes(v.skill_code)) codes.push(v.skill_code);
  }
  const root = clear($("#credential-skills"));
  if (!codes.length) {
    root.append(el("p", { class: "fr-hint-text", text: t("mediation.credential_none") }));
    return;
  }
  codes.forEach((code, i) => {
    const skill = state.skills.get(code);
    root.append(el("div", { class: "fr-checkbox-group" },
      el("input", { type: "checkbox", id: `cred-skill-${i}`, name: "skills", value: code }),
      el("label", { class: "fr-label", for: `cred-skill-${i}`, text: `${code} — ${skill ? label(skill) : code}` })));
  });
}

async function refreshCredentials() {
  let list;
  try {
    list = await api("GET", `/api/v1/passports/${state.passport.id}/credentials`);
  } catch (error) {
    if (!(error instanceof ApiError && error.status === 0)) throw error;
    // Credentials are made and listed by the server: offline, nothing to show.
    clear($("#credential-list")).append(el("p", { class: "fr-hint-text", text: t("mediation.offline.needs_network") }));
    return;
  }
  const base = `/api/v1/passports/${state.passport.id}/credentials`;
  clear($("#credential-list")).append(credentialsTable(list, state.tree, (c) => c.format === "dc+sd-jwt"
    // A wallet's copy: the wallet holds it, there is no QR or attestation to print here.
    ? el("span", { class: "fr-text--sm", text: t("wallet.held_by_wallet") })
    : el("ul", { class: "fr-btns-group fr-btns-group--sm fr-btns-group--inline" },
      el("li", {}, el("a", {
        class: "fr-btn fr-btn--tertiary",
        href: `${base}/${c.id}/attestation.pdf`,
        download: `attestation-${c.code}.pdf`,
        text: t("mediation.attestation_pdf"),
        "aria-label": t("mediation.attestation_pdf_of", { code: c.code }),
      })),
      el("li", {}, el("a", {
        class: "fr-btn fr-btn--tertiary",
        href: `${base}/${c.id}/qr.png`,
        download: `qr-${c.code}.png`,
        text: t("mediation.qr_png"),
        "aria-label": t("mediation.qr_png_of", { code: c.code }),
      })))));
}

$("#credential-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const form = event.currentTarget;
  const box = clear($("#credential-error"));
  const skills = [...form.querySelectorAll("input[name=skills]:checked")].map((i) => i.value);
  if (!skills.length) {
    box.append(alertBox("error", t("common.errors.no_skills")));
    const first = form.querySelector("input[name=skills]");
    if (first) first.focus();
    return;
  }
  try {
    const issued = await api("POST", `/api/v1/passports/${state.passport.id}/credentials`, {
      skills,
      validity_days: Number(form.validity_days.value),
      include_name: form.include_name.checked,
    });
    const base = `/api/v1/passports/${state.passport.id}/credentials/${issued.id}`;
    const result = clear($("#credential-result"));
    result.append(
      el("div", { class: "fr-card fr-card--no-arrow credential-card" },
        el("div", { class: "fr-card__body" }, el("div", { class: "fr-card__content" },
          el("h3", { class: "fr-card__title", text: t("mediation.credential_issued", { code: issued.code }) }),
          el("p", { class: "fr-card__desc", text: t("mediation.credential_until", { date: formatDate(issued.expires_at) }) }),
          el("img", { class: "qr", src: `${base}/qr.svg`, alt: t("mediation.qr_alt", { code: issued.code }), width: 280, height: 280 }),
          el("p", {}, el("a", {
            class: "fr-link fr-icon-download-line fr-link--icon-left",
            href: `${base}/attestation.pdf`,
            download: `attestation-${issued.code}.pdf`,
            text: t("mediation.attestation_pdf"),
          })),
          el("p", {}, el("a", {
            class: "fr-link fr-icon-download-line fr-link--icon-left",
            href: `${base}/qr.png`,
            download: `qr-${issued.code}.png`,
            text: t("mediation.qr_png"),
          }))))),
    );
    form.reset();
    result.focus();
    announce(t("mediation.credential_issued", { code: issued.code }));
    await refreshCredentials();
  } catch (error) {
    showError(box, error);
  }
});

/**
 * The skills ticked in the credential form, or null (and the error shown) when there are none.
 * @param {HTMLFormElement} form
 * @returns {string[] | null}
 */
function chosenSkills(form) {
  const box = clear($("#credential-error"));
  const skills = [...form.querySelectorAll("input[name=skills]:checked")].map((i) => /** @type {HTMLInputElement} */ (i).value);
  if (skills.length) return skills;
  box.append(alertBox("error", t("common.errors.no_skills")));
  const first = /** @type {HTMLElement | null} */ (form.querySelector("input[name=skills]"));
  if (first) first.focus();
  return null;
}

/**
 * Offline (known, or learnt from a request that got no answer), what only the server makes says
 * so in its own words rather than the generic "the server does not answer".
 * @param {HTMLElement} box
 * @param {string} key the page's sentence
 * @param {unknown} [error] the request's failure, if one was tried
 * @returns {boolean} true when it was the network (and said)
 */
function needsNetwork(box, key, error) {
  const offlineNow = error === undefined ? offline.isOffline() : error instanceof ApiError && error.status === 0;
  if (!offlineNow) return false;
  offline.markOffline(true);
  clear(box).append(alertBox("error", t(key)));
  return true;
}

// The same choice of skills, offered to the person's wallet app instead of printed as a QR.
$("#wallet-offer-button").addEventListener("click", async () => {
  const form = /** @type {HTMLFormElement} */ ($("#credential-form"));
  const skills = chosenSkills(form);
  if (!skills) return;
  const box = $("#credential-error");
  if (needsNetwork(box, "mediation.offline.wallet_needs_network")) return;
  try {
    const offer = await api("POST", `/api/v1/passports/${state.passport.id}/wallet-offers`, {
      skills,
      include_name: form.include_name.checked,
    });
    const result = clear($("#credential-result"));
    result.append(offerCard(offer, "mediator", { skills: state.skills || new Map(), holder: state.passport }));
    form.reset();
    result.focus();
    announce(t("wallet.offer_ready"));
  } catch (error) {
    if (needsNetwork(box, "mediation.offline.wallet_needs_network", error)) return;
    showError(box, error);
  }
});

// --- routing ------------------------------------------------------------------------------------

async function route() {
  if (!state.account) return;
  offline.touch();
  const match = /^#passport\/(\d+)$/.exec(location.hash);
  const provisional = /^#offline\/(PROV-[A-Z0-9]+)$/.exec(location.hash);
  state.provisional = null;
  if (!match && !provisional) {
    setView("search");
    document.title = t("mediation.title");
    if (offline.isOffline()) await showKeptPassports($("#search-results"));
    $("#search-q").focus();
    return;
  }
  try {
    if (match) await loadPassport(match[1]);
    else if (await loadProvisional(provisional[1])) state.provisional = provisional[1];
    else {
      // Sent meanwhile, or dropped: the list of this device's records says which.
      location.hash = "";
      return;
    }
  } catch (error) {
    setView("search");
    showError($("#search-results"), error);
    return;
  }
  if (!state.skills) state.skills = new Map(skillIndex(state.tree).map((s) => [s.code, s]));
  if (!state.picker) state.picker = setupPicker(state.tree, state.skills);
  $("#record-date").value = today();
  $("#record-date").max = today();
  clear($("#record-error"));
  clear($("#credential-result"));
  clear($("#passport-message"));
  const code = $("#new-code");
  if (state.newCode) {
    clear(code).append(alertBox("success", t("mediation.access_code", { code: state.newCode }), t("mediation.passport_opened")));
    state.newCode = null;
    show(code, true);
  } else show(code, false);
  if (state.provisional && state.provisionalError) {
    // Refused at sync: no number will come; the list below says why and offers to correct it.
    clear($("#passport-message")).append(alertBox("warning",
      t("mediation.offline.provisional_refused_text", { reason: state.provisionalError.message }),
      t("mediation.offline.provisional_refused_title", { ref: state.provisional })));
  } else if (state.provisional) {
    clear($("#passport-message")).append(alertBox("info", t("mediation.offline.provisional_text"), t("mediation.offline.provisional_title", { ref: state.provisional })));
  } else if (state.keptAt) {
    clear($("#passport-message")).append(alertBox("info", t("mediation.offline.kept_text", { at: formatDateTime(state.keptAt) })));
  }
  // The number, the access card and credentials come from the server.
  show($("#print-card"), !state.provisional);
  show($("#credential-part"), !state.provisional);
  renderPassport();
  if (!state.provisional) await refreshCredentials();
  setView("passport");
  document.title = `${$("#passport-title").textContent} — ${t("mediation.title")}`;
  $("#passport-title").focus();
  if (state.afterRoute) {
    const then = state.afterRoute;
    state.afterRoute = null;
    then();
  }
}

$("#back-to-search").addEventListener("click", (event) => {
  event.preventDefault();
  location.hash = "";
});

window.addEventListener("hashchange", route);

// --- start --------------------------------------------------------------------------------------

startStaffPage("mediation", {
  prepare: async () => {
    offline.setupOffline({
      onSessionEnded: () => showError($("#record-error"), new ApiError(401, "unauthenticated", "")),
      onSent: async (result) => {
        // The passport on screen was erased or merged meanwhile: the server says so in its place.
        const gone = result.refused.some((i) => state.passport && i.passportId === state.passport.id
          && i.error && ["unknown_passport", "passport_merged"].includes(i.error.code))
          // The passport on screen was opened offline, and the server refused to open it.
          || result.refused.some((i) => state.provisional && i.kind === "passport" && i.localRef === state.provisional);
        if (gone) {
          await route();
          return;
        }
        // The passport on screen received what was sent for it: show the server's view.
        const touched = result.sent.some((s) => state.passport && (s.item.passportId === state.passport.id
          || (state.provisional && s.item.localRef === state.provisional)));
        if (touched && state.passport && state.passport.id) {
          await loadPassport(state.passport.id);
          renderPassport();
        } else if (touched && state.provisional) {
          const opened = result.sent.find((s) => s.item.kind === "passport" && s.item.localRef === state.provisional);
          if (opened) location.hash = `#passport/${opened.answer.id}`;
        }
      },
      onCorrect: correctItem,
    });
    await finishSignOut();
  },
  signedIn,
  signedOut: async () => {
    // The session ended while the page was closed: what it read about people goes too.
    await offline.sessionEnded();
    await showSignIn();
    const erased = erasedAtSignOut();
    if (erased) clear($("#signin-error")).append(alertBox("info", t("mediation.offline.signin_erased", { n: erased })));
  },
  failed: async (error) => {
    const offlineNow = error instanceof ApiError && error.status === 0;
    const identity = offlineNow ? await offline.offlineIdentity() : null;
    if (identity) {
      await signedInOffline(identity);
    } else if (offlineNow) {
      // No network, and nobody signed in here within the session's rules.
      offline.markOffline(true);
      await showSignIn();
      // What this device still holds is said only if it holds something (an erase says so).
      const erased = erasedAtSignOut();
      const kept = erased ? 0 : await offline.keptOnDevice();
      const text = [
        t("mediation.offline.signin_offline"),
        erased ? t("mediation.offline.signin_erased", { n: erased }) : null,
        kept ? t("mediation.offline.signin_kept") : null,
      ].filter(Boolean).join(" ");
      clear($("#signin-error")).append(alertBox("info", text));
    } else {
      // A citizen session or a server problem: say so rather than show an empty page.
      setView("signin");
      showError($("#signin-error"), error);
    }
  },
});
