// The mediator's page: sign in, find or open a passport, record and withdraw validations, print
// the access card, issue a credential. One page, three views (sign-in, search, passport); the
// passport shown is in the URL (#passport/ID) so a reload or the back button keeps it.
import {
  $, alertBox, announce, api, ApiError, bindPasswordSignIn, checkNumber, clear, downloadResponse,
  dsfrTable, el, formatDate, initPage, renderHeader, setCsrf, show, t,
} from "/static/js/common.js";
import { label, loadFramework, skillIndex } from "/static/framework.js";
import { credentialsTable, firstStepsList, historyTable, levelsCharts } from "/static/js/passport-view.js";
import { setupPicker } from "/static/js/mediation-picker.js";
import { offerCard } from "/static/js/wallet-offer.js";

const state = { account: null, structures: [], passport: null, view: null, tree: null, picker: null };

function setView(name) {
  for (const view of ["signin", "search", "passport"]) show($(`#view-${view}`), view === name);
  show($("#page-status"), false);
}

function showError(box, error) {
  if (error instanceof ApiError && error.status === 401 && state.account) {
    // The session ended (idle too long, signed out elsewhere): back to the sign-in form.
    state.account = null;
    setCsrf("staff", null);
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

async function signOut() {
  try {
    await api("POST", "/api/v1/auth/logout");
  } catch {
    // Already gone: signing out locally is what matters.
  }
  setCsrf("staff", null);
  location.hash = "";
  location.reload();
}

async function signedIn(session) {
  state.account = session.account;
  if (session.csrf_token) setCsrf("staff", session.csrf_token);
  renderHeader("mediation", { signedIn: true, onSignOut: signOut });
  $("#welcome").textContent = t("mediation.welcome", { name: session.account.display_name });
  state.structures = await Promise.all(
    session.account.structure_ids.map((id) =>
      api("GET", `/api/v1/structures/${id}`).catch(() => ({ id, nom: `#${id}` })),
    ),
  );
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
  } catch (error) {
    showError(box, error);
  }
});

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
  if (!body.consent) {
    // The consent is read to the person first: the form does not go without it.
    box.append(alertBox("error", t("common.errors.consent_required")));
    form.consent.focus();
    return;
  }
  try {
    const created = await api("POST", "/api/v1/passports", body);
    show(warning, false);
    form.reset();
    state.newCode = created.access_code;
    location.hash = `#passport/${created.id}`;
  } catch (error) {
    if (error instanceof ApiError && error.code === "likely_duplicate") {
      showDuplicate(error.problem.candidates || []);
      return;
    }
    showError(box, error);
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
  const [view, tree] = await Promise.all([api("GET", `/api/v1/passports/${id}`), loadFramework()]);
  state.view = view;
  state.tree = tree;
  state.passport = view.passport;
  return view;
}

function renderPassport() {
  const { view, tree } = state;
  const p = view.passport;
  $("#passport-title").textContent = [p.first_name, p.last_name].filter(Boolean).join(" ") || p.number;
  $("#passport-meta").textContent = [
    t("mediation.passport_number", { number: p.number }),
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
      el("li", {}, el("button", {
        type: "button",
        class: "fr-btn fr-btn--secondary",
        text: t("common.cancel"),
        onclick: () => {
          cell.replaceChildren(withdrawAction(validation));
          cell.querySelector("button").focus();
        },
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
  try {
    // The key makes a retry after a lost answer land once.
    await api("POST", `/api/v1/passports/${state.passport.id}/validations`, body, {
      headers: { "Idempotency-Key": form.dataset.key || (form.dataset.key = randomKey()) },
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
    showError(box, error);
  }
});

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
  const list = await api("GET", `/api/v1/passports/${state.passport.id}/credentials`);
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

// The same choice of skills, offered to the person's wallet app instead of printed as a QR.
$("#wallet-offer-button").addEventListener("click", async () => {
  const form = /** @type {HTMLFormElement} */ ($("#credential-form"));
  const skills = chosenSkills(form);
  if (!skills) return;
  try {
    const offer = await api("POST", `/api/v1/passports/${state.passport.id}/wallet-offers`, {
      skills,
      include_name: form.include_name.checked,
    });
    const result = clear($("#credential-result"));
    result.append(offerCard(offer, "mediator"));
    form.reset();
    result.focus();
    announce(t("wallet.offer_ready"));
  } catch (error) {
    showError($("#credential-error"), error);
  }
});

// --- routing ------------------------------------------------------------------------------------

async function route() {
  if (!state.account) return;
  const match = /^#passport\/(\d+)$/.exec(location.hash);
  if (!match) {
    setView("search");
    document.title = t("mediation.title");
    $("#search-q").focus();
    return;
  }
  try {
    await loadPassport(match[1]);
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
  renderPassport();
  await refreshCredentials();
  setView("passport");
  document.title = `${$("#passport-title").textContent} — ${t("mediation.title")}`;
  $("#passport-title").focus();
}

$("#back-to-search").addEventListener("click", (event) => {
  event.preventDefault();
  location.hash = "";
});

window.addEventListener("hashchange", route);

// --- start --------------------------------------------------------------------------------------

// A function, not top-level await: older Safari (iOS 12-14) lacks it.
async function start() {
  await initPage("mediation");
  try {
    const session = await api("GET", "/api/v1/auth/session");
    if (session.via !== "session") throw new ApiError(401, "unauthenticated", "");
    await signedIn(session);
  } catch (error) {
    if (error instanceof ApiError && error.status === 401) {
      setCsrf("staff", null);
      await showSignIn();
    } else {
      // A citizen session or a server problem: say so rather than show an empty page.
      setView("signin");
      showError($("#signin-error"), error);
    }
  }
}

start();
