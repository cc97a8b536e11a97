// @ts-check
// The coordinator's page (/coordination): a territory admin's structures (create, edit,
// import), team (members and invitations), signing keys (rotate), trusted territories and
// journal. One page, sections one under the other with a summary; every change goes through the
// API with the session's CSRF token, and the journal shows what each one recorded.

import {
  $, alertBox, announce, api, ApiError, bindPasswordSignIn, clear, currentLang, dsfrTable, el,
  formatDateTime,
  getCsrf, hasKey, renderHeader, rowButton, setCsrf, show, startStaffPage, t,
} from "/static/js/common.js";
import { setupTrustPanel } from "/static/js/coordination-trust.js";
import { setupFiguresPanel } from "/static/js/coordination-figures.js";

const JOURNAL_PAGE = 50;
const state = {
  account: null,
  territory: null, // code
  structures: [],
  accounts: new Map(),
  journalBefore: null,
};

const territoryPath = (suffix) => `/api/v1/territories/${encodeURIComponent(state.territory)}${suffix}`;

function showError(box, error) {
  clear(box).append(alertBox("error", error.message || String(error)));
}

// On a phone each row is a card, every cell under its column's name: nothing to scroll
// sideways to reach "Modifier".
function table(caption, headers, rows, id) {
  return dsfrTable({ caption, headers, rows, id, cards: true });
}

// --- Session --------------------------------------------------------------------------------------

function setView(name) {
  show($("#view-signin"), name === "signin");
  show($("#view-admin"), name === "admin");
  show($("#page-status"), false);
}

async function signOut() {
  try {
    await api("POST", "/api/v1/auth/logout");
  } catch {
    // Already signed out on the server: forgetting the token here is what is left to do.
  }
  setCsrf("staff", null);
  location.reload();
}

async function showSignIn(message) {
  setView("signin");
  if (message) clear($("#signin-error")).append(alertBox("error", message));
  $("#signin-email").focus();
}

bindPasswordSignIn({ missingKey: "coordination.signin_missing", onSignedIn: signedIn, showError });

async function signedIn(session) {
  const account = session.account;
  if (session.csrf_token) setCsrf("staff", session.csrf_token);
  if (!["territory_admin", "platform_admin"].includes(account.role)) {
    // A mediator signed in: this page is not theirs, say where to go.
    setView("signin");
    renderHeader("coordination", { signedIn: true, onSignOut: signOut });
    clear($("#signin-error")).append(alertBox("warning", t("coordination.not_admin")));
    return;
  }
  state.account = account;
  renderHeader("coordination", { signedIn: true, onSignOut: signOut });
  setView("admin");
  if (account.territory_code) {
    await openTerritory(account.territory_code);
  } else {
    // Platform admins coordinate no territory of their own: they pick one.
    const territories = await api("GET", "/api/v1/territories");
    const select = clear($("#territory-select"));
    select.append(...territories.map((tt) => el("option", { value: tt.code, text: tt.name })));
    show($("#territory-choice"), true);
    select.addEventListener("change", () => openTerritory(select.value));
    if (territories.length) await openTerritory(territories[0].code);
  }
}

async function openTerritory(code) {
  state.territory = code;
  let name = code;
  try {
    const territory = await api("GET", territoryPath(""));
    name = territory.name;
    // The journal's dates in the territory's own time zone (Nouméa's, Cayenne's…).
    state.timeZone = territory.time_zone || null;
  } catch {
    // The code is enough to go on.
  }
  $("#admin-title").textContent = t("coordination.heading", { territory: name });
  document.title = `${t("coordination.heading", { territory: name })} — ${t("common.service_name")}`;
  await Promise.all([loadStructures(), loadTeam(), loadKeys()]);
  await loadJournal(true);
  await setupTrustPanel($("#trust-panel"), { onChange: () => loadJournal(true) });
  await setupFiguresPanel($("#figures-panel"), { territory: code, onChange: () => loadJournal(true) });
}

// --- Structures -------------------------------------------------------------------------------

async function loadStructures() {
  const box = $("#structures-list");
  const q = $("#structures-q").value.trim();
  const params = new URLSearchParams({ limit: "200" });
  if (q) params.set("q", q);
  try {
    const page = await api("GET", `${territoryPath("/structures")}?${params}`);
    if (!q) state.structures = page.items;
    renderStructures(page);
    renderInviteStructures();
  } catch (error) {
    showError(box, error);
  }
}

function renderStructures(page) {
  const box = clear($("#structures-list"));
  if (!page.items.length) {
    box.append(el("p", { text: t("coordination.structures_none") }));
    return;
  }
  const rows = page.items.map((s) =>
    el(
      "tr",
      {},
      el("td", { text: s.nom }),
      el("td", { text: s.adresse }),
      el("td", { text: `${s.code_postal} ${s.commune}` }),
      el(
        "td",
        {},
        rowButton(t("coordination.edit"), t("coordination.edit_structure", { name: s.nom }), () => editStructure(s)),
      ),
    ),
  );
  box.append(
    table(
      t("coordination.structures_caption", { n: page.total }),
      [t("coordination.structure_nom"), t("coordination.structure_adresse"), t("coordination.structure_commune"), t("coordination.col_actions")],
      rows,
      "structures-table",
    ),
  );
}

function editStructure(s) {
  $("#structure-id").value = s.id;
  $("#structure-nom").value = s.nom;
  $("#structure-adresse").value = s.adresse;
  $("#structure-cp").value = s.code_postal;
  $("#structure-commune").value = s.commune;
  $("#structure-form-title").textContent = t("coordination.structure_edit", { name: s.nom });
  $("#structure-submit").textContent = t("common.save");
  show($("#structure-cancel"), true);
  $("#structure-nom").focus();
}

function resetStructureForm() {
  $("#structure-form").reset();
  $("#structure-id").value = "";
  $("#structure-form-title").textContent = t("coordination.structure_new");
  $("#structure-submit").textContent = t("coordination.structure_create");
  show($("#structure-cancel"), false);
}

$("#structure-cancel").addEventListener("click", resetStructureForm);
$("#structures-search").addEventListener("submit", (event) => {
  event.preventDefault();
  loadStructures();
});

$("#structure-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const box = clear($("#structure-error"));
  const body = {
    nom: $("#structure-nom").value.trim(),
    adresse: $("#structure-adresse").value.trim(),
    code_postal: $("#structure-cp").value.trim(),
    commune: $("#structure-commune").value.trim(),
  };
  if (Object.values(body).some((v) => !v)) {
    box.append(alertBox("error", t("coordination.structure_missing")));
    return;
  }
  const id = $("#structure-id").value;
  try {
    const saved = id
      ? await api("PATCH", `/api/v1/structures/${id}`, body)
      : await api("POST", territoryPath("/structures"), body);
    resetStructureForm();
    box.append(alertBox("success", t(id ? "coordination.structure_saved" : "coordination.structure_created", { name: saved.nom })));
    await loadStructures();
    await loadJournal(true);
  } catch (error) {
    showError(box, error);
  }
});

$("#import-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const report = clear($("#import-report"));
  const file = $("#import-file").files[0];
  if (!file) {
    report.append(alertBox("error", t("coordination.import_missing")));
    return;
  }
  const json = file.name.toLowerCase().endsWith(".json") || file.type === "application/json";
  const dryRun = $("#import-dry-run").checked;
  let answer;
  try {
    // The file goes as it is (CSV or JSON body), not wrapped in JSON: api() only sends JSON.
    const response = await fetch(`${territoryPath("/structures/import")}?dry_run=${dryRun}`, {
      method: "POST",
      credentials: "same-origin",
      headers: {
        "Content-Type": json ? "application/json" : "text/csv",
        Accept: "application/json, application/problem+json",
        "X-CSRF-Token": getCsrf("staff") || "",
      },
      body: file,
    });
    answer = await response.json();
    if (!response.ok) throw new ApiError(response.status, answer.code, answer.detail || answer.title, answer);
  } catch (error) {
    showError(report, error);
    return;
  }
  /** @type {HTMLElement[]} */
  const lines = [
    el("p", {
      text: t(dryRun ? "coordination.import_report_dry" : "coordination.import_report", {
        rows: answer.rows,
        created: answer.created,
        updated: answer.updated,
        unchanged: answer.unchanged,
        rejected: answer.rejected_rows,
      }),
    }),
  ];
  if (answer.rejected.length) {
    lines.push(
      el(
        "ul",
        {},
        // In French, the server's French sentence (it names the field); else its English reason.
        ...answer.rejected.map((r) =>
          el("li", {
            text: currentLang() === "fr" && r.reason_fr
              ? t("coordination.import_rejected_sentence", { line: r.line, reason: r.reason_fr })
              : t("coordination.import_rejected", { line: r.line, field: r.field || "—", reason: r.reason }),
          }),
        ),
      ),
    );
  }
  if (answer.ignored_columns.length) {
    lines.push(el("p", { text: t("coordination.import_ignored", { columns: answer.ignored_columns.join(", ") }) }));
  }
  const kind = answer.rejected_rows ? "warning" : "success";
  report.append(el("div", { class: `fr-alert fr-alert--${kind} fr-mt-2w`, id: "import-result" }, ...lines));
  announce(lines[0].textContent);
  if (!dryRun) {
    await loadStructures();
    await loadJournal(true);
  }
});

// --- Team: members and invitations ------------------------------------------------------------

const roleLabel = (role) => t(`coordination.role_${role}`);

function structureNames(ids) {
  const names = ids.map((id) => (state.structures.find((s) => s.id === id) || { nom: `#${id}` }).nom);
  return names.join(", ") || "—";
}

async function loadTeam() {
  try {
    const [accounts, invitations] = await Promise.all([
      api("GET", territoryPath("/accounts")),
      api("GET", territoryPath("/invitations")),
    ]);
    state.accounts = new Map(accounts.map((a) => [a.id, a]));
    renderAccounts(accounts);
    renderInvitations(invitations);
  } catch (error) {
    showError($("#accounts-list"), error);
  }
}

function renderAccounts(accounts) {
  const rows = accounts.map((a) =>
    el(
      "tr",
      {},
      el("td", { text: a.display_name }),
      el("td", { text: a.email }),
      el("td", { text: roleLabel(a.role) }),
      el("td", { text: structureNames(a.structure_ids) }),
      el("td", { text: a.is_active ? t("coordination.active") : t("coordination.inactive") }),
      el(
        "td",
        {},
        // A member who leaves (docs/access.md): memberships end, access closes, validations stay.
        a.is_active && state.account && a.id !== state.account.id
          ? rowButton(
              t("coordination.departure"),
              t("coordination.departure_of", { name: a.display_name, email: a.email }),
              () => endMembership(a),
            )
          : "",
      ),
    ),
  );
  clear($("#accounts-list")).append(
    table(
      t("coordination.accounts_caption", { n: accounts.length }),
      [t("coordination.invite_name"), t("coordination.email"), t("coordination.invite_role"), t("coordination.structures_title"), t("coordination.status"), t("coordination.team_actions")],
      rows,
      "accounts-table",
    ),
  );
}

async function endMembership(account) {
  if (!window.confirm(t("coordination.departure_confirm", { name: account.display_name }))) return;
  try {
    await api("POST", `/api/v1/accounts/${account.id}/departure`);
    announce(t("coordination.departure_done", { name: account.display_name }));
  } catch (error) {
    showError($("#accounts-list"), error);
    return;
  }
  await loadTeam();
  await loadJournal(true);
}

function invitationState(i) {
  if (i.accepted_at) return t("coordination.invitation_accepted");
  if (i.revoked_at) return t("coordination.invitation_revoked");
  if (new Date(i.expires_at) < new Date()) return t("coordination.invitation_expired");
  return t("coordination.invitation_pending");
}

function renderInvitations(invitations) {
  const box = clear($("#invitations-list"));
  if (!invitations.length) {
    box.append(el("p", { text: t("coordination.invitations_none") }));
    return;
  }
  const rows = invitations.map((i) => {
    const pending = !i.accepted_at && !i.revoked_at && new Date(i.expires_at) >= new Date();
    return el(
      "tr",
      {},
      el("td", { text: i.display_name }),
      el("td", { text: i.email }),
      el("td", { text: roleLabel(i.role) }),
      el("td", { text: invitationState(i) }),
      el("td", { text: formatDateTime(i.expires_at) }),
      el(
        "td",
        {},
        pending
          ? rowButton(
              t("coordination.invitation_withdraw"),
              t("coordination.invitation_withdraw_of", { email: i.email }),
              () => withdrawInvitation(i),
            )
          : "",
      ),
    );
  });
  box.append(
    table(
      t("coordination.invitations_caption", { n: invitations.length }),
      [t("coordination.invite_name"), t("coordination.email"), t("coordination.invite_role"), t("coordination.status"), t("coordination.expires"), t("coordination.col_actions")],
      rows,
      "invitations-table",
    ),
  );
}

async function withdrawInvitation(invitation) {
  try {
    await api("DELETE", `/api/v1/invitations/${invitation.id}`);
    announce(t("coordination.invitation_withdrawn", { email: invitation.email }));
    await loadTeam();
    await loadJournal(true);
  } catch (error) {
    showError($("#invite-created"), error);
  }
}

function renderInviteStructures() {
  const list = clear($("#invite-structures-list"));
  for (const s of state.structures) {
    const id = `invite-structure-${s.id}`;
    list.append(
      el(
        "div",
        { class: "fr-checkbox-group fr-checkbox-group--sm" },
        el("input", { type: "checkbox", id, value: s.id, name: "structures" }),
        el("label", { class: "fr-label", for: id, text: `${s.nom} (${s.commune})` }),
      ),
    );
  }
}

$("#invite-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const box = clear($("#invite-error"));
  const created = clear($("#invite-created"));
  const body = {
    email: $("#invite-email").value.trim(),
    display_name: $("#invite-name").value.trim(),
    role: $("#invite-role").value,
    structure_ids: [.../** @type {NodeListOf<HTMLInputElement>} */ (document.querySelectorAll("#invite-structures-list input:checked"))].map((i) => Number(i.value)),
  };
  if (!body.email || !body.display_name) {
    box.append(alertBox("error", t("coordination.invite_missing")));
    return;
  }
  try {
    const invitation = await api("POST", territoryPath("/invitations"), body);
    $("#invite-form").reset();
    // The code and the link are shown once: the server keeps only their hash.
    created.append(
      el(
        "div",
        { class: "fr-alert fr-alert--success fr-mt-2w", id: "invitation-created" },
        el("h4", { class: "fr-alert__title", text: t("coordination.invite_sent", { email: invitation.email }) }),
        el("p", { text: t("coordination.invite_once") }),
        el("p", {}, `${t("coordination.invite_link")} `, el("a", { href: invitation.link, id: "invitation-link", text: invitation.link })),
        el("p", {}, `${t("coordination.invite_code")} `, el("code", { id: "invitation-code", text: invitation.code })),
      ),
    );
    announce(t("coordination.invite_sent", { email: invitation.email }));
    await loadTeam();
    await loadJournal(true);
  } catch (error) {
    showError(box, error);
  }
});

// --- Signing keys -----------------------------------------------------------------------------

async function loadKeys() {
  const box = $("#keys-list");
  try {
    const keys = await api("GET", territoryPath("/keys"));
    renderKeys(keys);
  } catch (error) {
    showError(box, error);
  }
}

function renderKeys(keys) {
  const box = clear($("#keys-list"));
  if (!keys.length) {
    box.append(el("p", { text: t("coordination.keys_none") }));
    return;
  }
  const rows = keys.map((k) =>
    el(
      "tr",
      {},
      el("td", {}, el("code", { class: "skill-code", title: k.kid, text: `${k.kid.slice(0, 12)}…` })),
      el("td", { text: t(`coordination.key_${k.state}`) }),
      el("td", { text: formatDateTime(k.created_at) }),
      el("td", { text: k.publish_until ? formatDateTime(k.publish_until) : "—" }),
    ),
  );
  box.append(
    table(
      t("coordination.keys_caption", { n: keys.length }),
      [t("coordination.key_kid"), t("coordination.status"), t("coordination.key_created"), t("coordination.key_published_until")],
      rows,
      "keys-table",
    ),
  );
}

$("#rotate-start").addEventListener("click", () => {
  show($("#rotate-confirm"), true);
  $("#rotate-confirm-button").focus();
});
$("#rotate-cancel").addEventListener("click", () => {
  show($("#rotate-confirm"), false);
  $("#rotate-start").focus();
});
$("#rotate-confirm-button").addEventListener("click", async () => {
  const message = clear($("#keys-message"));
  try {
    const keys = await api("POST", territoryPath("/keys/rotate"));
    show($("#rotate-confirm"), false);
    renderKeys(keys);
    message.append(alertBox("success", t("coordination.rotated", { kid: `${keys[0].kid.slice(0, 12)}…` })));
    $("#rotate-start").focus();
    // Verifiers get the new key through the trust bundle: show it as they will see it.
    await Promise.all([loadJournal(true), setupTrustPanel($("#trust-panel"))]);
  } catch (error) {
    showError(message, error);
  }
});

// --- Journal ----------------------------------------------------------------------------------

// Every kind of event has its label in both catalogues (tests/test_journal_labels.py).
function actionLabel(action) {
  const key = `coordination.actions.${action.replace(/\./g, "_")}`;
  return hasKey(key) ? t(key) : action;
}

// Who did it: an account by name; without one, the person themselves (a citizen revoking their
// own credential), the server's command line, someone not signed in (a refused sign-in), or the
// service itself.
function actorName(event) {
  const id = event.actor_account_id;
  if (id !== null && id !== undefined) {
    const account = state.accounts.get(id);
    return account ? account.display_name : `#${id}`;
  }
  const by = (event.details || {}).by;
  if (by === "citizen") return t("coordination.actor_citizen");
  if (by === "operator") return t("coordination.actor_operator");
  if (event.outcome !== "success") return t("coordination.actor_anonymous");
  return t("coordination.actor_system");
}

async function loadJournal(fresh) {
  const list = $("#journal-list");
  const params = new URLSearchParams({ limit: String(JOURNAL_PAGE) });
  const action = $("#journal-action").value;
  if (action) params.set("action", action);
  if (!fresh && state.journalBefore) params.set("before_id", String(state.journalBefore));
  let events;
  try {
    events = await api("GET", `${territoryPath("/audit")}?${params}`);
  } catch (error) {
    showError(list, error);
    return;
  }
  if (fresh) clear(list).append(journalTable());
  const body = $("#journal-table tbody");
  // Rows added after the table was made: labelled here, as dsfrTable labels its own.
  const labels = [...$("#journal-table thead").querySelectorAll("th")].map((th) => th.textContent);
  for (const e of events) {
    const row = el(
      "tr",
      { "data-action": e.action },
      el("td", { text: formatDateTime(e.at, state.timeZone) }),
      el("td", { text: actionLabel(e.action) }),
      el("td", { text: t(`coordination.outcome_${e.outcome}`) }),
      el("td", { text: actorName(e) }),
      el("td", { text: e.target_type ? `${e.target_type} ${e.target_id || ""}`.trim() : "—" }),
    );
    [...row.children].forEach((cell, index) => cell.setAttribute("data-label", labels[index] || ""));
    body.append(row);
  }
  if (events.length) state.journalBefore = events[events.length - 1].id;
  show($("#journal-more"), events.length === JOURNAL_PAGE);
}

function journalTable() {
  return table(
    t("coordination.journal_caption"),
    [state.timeZone ? t("coordination.journal_when_zone", { zone: state.timeZone }) : t("coordination.journal_when"), t("coordination.journal_action"), t("coordination.journal_outcome"), t("coordination.journal_actor"), t("coordination.journal_target")],
    [],
    "journal-table",
  );
}

$("#journal-action").addEventListener("change", () => loadJournal(true));
$("#journal-more").addEventListener("click", () => loadJournal(false));

// --- Start --------------------------------------------------------------------------------------

startStaffPage("coordination", {
  signedIn,
  signedOut: () => showSignIn(),
  failed: (error) => showSignIn(error.message),
});
