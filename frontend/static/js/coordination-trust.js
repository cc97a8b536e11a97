// @ts-check
// The coordinator's "trusted territories" panel.
//
// - What verifiers accept: the public trust bundle (GET /api/v1/trust/bundle), read exactly as
//   the verifier page reads it, with each issuer's keys and revocation lists.
// - The instance's trust store (GET /api/v1/trust/issuers): other instances' issuers pinned
//   here by hand or held from the federation's trust list, and that list's state.
// - Adding an issuer by its URL in two steps: preview (the server fetches its key set and shows
//   the fingerprints), then, once the coordinator has confirmed them with the issuer by another
//   channel, pinning exactly those fingerprints (POST /api/v1/trust/issuers). Removing one.

import {
  $, alertBox, announce, api, clear, dsfrTable, el, formatDateTime, rowButton, t,
} from "/static/js/common.js";

let panel = null;
let onChange = async () => {};

function tableOf(id, caption, headers, rows) {
  return dsfrTable({ caption, headers, rows, id, cards: true });
}

// --- What verifiers accept ------------------------------------------------------------------------

async function bundleSection() {
  const box = el("div", { id: "trust-bundle" });
  let bundle;
  try {
    // no-cache: the bundle is publicly cacheable, but a coordinator wants it as it is now.
    const response = await fetch("/api/v1/trust/bundle", {
      cache: "no-cache",
      headers: { Accept: "application/json" },
    });
    if (!response.ok) throw new Error(String(response.status));
    bundle = await response.json();
  } catch {
    box.append(alertBox("error", t("coordination.trust_unavailable")));
    return box;
  }
  const rows = (bundle.issuers || []).map((i) =>
    el(
      "tr",
      {},
      el("td", { text: i.name || "—" }),
      el("td", {}, el("code", { class: "skill-code", text: i.iss })),
      el("td", { text: String(((i.jwks && i.jwks.keys) || []).length) }),
      el("td", { text: String((i.status_lists || []).length) }),
    ),
  );
  box.append(
    tableOf(
      "trust-table",
      t("coordination.trust_caption", { n: rows.length }),
      ["trust_name", "trust_iss", "trust_keys", "trust_lists"].map((k) => t(`coordination.${k}`)),
      rows,
    ),
  );
  return box;
}

// --- The trust store ----------------------------------------------------------------------------

function listState(list) {
  if (!list) return t("coordination.trust_list_none");
  const vars = {
    hub: list.hub,
    sequence: list.sequence,
    issued: formatDateTime(list.issued_at),
    fresh: formatDateTime(list.fresh_until),
  };
  return t(list.stale ? "coordination.trust_list_stale" : "coordination.trust_list_fresh", vars);
}

async function removeIssuer(issuer, message) {
  try {
    await api("DELETE", `/api/v1/trust/issuers/${issuer.id}`);
    announce(t("coordination.trust_removed", { name: issuer.name }));
    await render();
    clear($("#trust-message")).append(alertBox("success", t("coordination.trust_removed", { name: issuer.name })));
    await onChange();
  } catch (error) {
    clear(message).append(alertBox("error", error.message));
  }
}

function storeSection(store, message) {
  const box = el("div", { id: "trust-store" });
  box.append(
    el("h3", { class: "fr-h5", text: t("coordination.trust_store_title") }),
    el("p", { id: "trust-list-state", text: listState(store.trust_list) }),
  );
  if (!store.issuers.length) {
    box.append(el("p", { text: t("coordination.trust_store_none") }));
    return box;
  }
  const rows = store.issuers.map((i) =>
    el(
      "tr",
      {},
      el("td", { text: i.name }),
      el("td", {}, el("code", { class: "skill-code", text: i.iss })),
      el("td", { text: t(`coordination.trust_source_${i.source}`) }),
      el("td", {}, ...i.fingerprints.map((f) => el("code", { class: "skill-code fr-mr-1w", title: f, text: `${f.slice(0, 12)}…` }))),
      el("td", { text: formatDateTime(i.added_at) }),
      el(
        "td",
        {},
        i.source === "manual"
          ? rowButton(
              t("coordination.trust_remove"),
              t("coordination.trust_remove_of", { name: i.name }),
              () => removeIssuer(i, message),
            )
          : "",
      ),
    ),
  );
  box.append(
    tableOf(
      "trust-store-table",
      t("coordination.trust_store_caption", { n: rows.length }),
      [
        t("coordination.trust_name"),
        t("coordination.trust_iss"),
        t("coordination.trust_source"),
        t("coordination.trust_fingerprints"),
        t("coordination.trust_added"),
        t("coordination.col_actions"),
      ],
      rows,
    ),
  );
  return box;
}

// --- Adding an issuer -----------------------------------------------------------------------------

function addSection() {
  const box = el("div", { id: "trust-add", class: "fr-mt-4w" });
  const result = el("div", { id: "trust-preview", "aria-live": "polite" });
  const error = el("div", { id: "trust-add-error", role: "alert" });
  const form = el(
    "form",
    { id: "trust-add-form", novalidate: true, "aria-labelledby": "trust-add-title" },
    error,
    el(
      "div",
      { class: "fr-input-group" },
      el(
        "label",
        { class: "fr-label", for: "trust-iss" },
        t("coordination.trust_add_url"),
        el("span", { class: "fr-hint-text", text: t("coordination.trust_add_url_hint") }),
      ),
      el("input", { class: "fr-input", type: "url", id: "trust-iss", autocomplete: "off", spellcheck: "false" }),
    ),
    el("button", { type: "submit", class: "fr-btn fr-btn--secondary", text: t("coordination.trust_preview") }),
  );
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    clear(error);
    clear(result);
    const iss = $("#trust-iss").value.trim();
    if (!iss) {
      error.append(alertBox("error", t("coordination.trust_add_missing")));
      return;
    }
    try {
      const preview = await api("POST", "/api/v1/trust/issuers/preview", { iss });
      result.append(previewBox(preview));
      $("#trust-confirm-title").focus();
    } catch (exc) {
      error.append(alertBox("error", exc.message));
    }
  });
  box.append(el("h3", { class: "fr-h5", id: "trust-add-title", text: t("coordination.trust_add_title") }), form, result);
  return box;
}

function previewBox(preview) {
  const error = el("div", { role: "alert" });
  const confirmed = el("input", { type: "checkbox", id: "trust-confirmed" });
  const name = el("input", { class: "fr-input", type: "text", id: "trust-name", maxlength: "200", autocomplete: "off" });
  const pin = async () => {
    clear(error);
    if (!confirmed.checked) {
      error.append(alertBox("error", t("coordination.trust_confirm_missing")));
      return;
    }
    try {
      const added = await api("POST", "/api/v1/trust/issuers", {
        iss: preview.iss,
        fingerprints: preview.fingerprints,
        name: name.value.trim() || null,
      });
      await render();
      clear($("#trust-message")).append(alertBox("success", t("coordination.trust_added_message", { name: added.name })));
      announce(t("coordination.trust_added_message", { name: added.name }));
      await onChange();
    } catch (exc) {
      error.append(alertBox("error", exc.message));
    }
  };
  return el(
    "div",
    { class: "fr-callout fr-mt-2w" },
    el("h4", { class: "fr-callout__title fr-h6", id: "trust-confirm-title", tabindex: "-1", text: t("coordination.trust_confirm_title") }),
    el("p", { text: t("coordination.trust_confirm_lead", { iss: preview.iss }) }),
    el("p", {}, `${t("coordination.trust_jwks_uri")} `, el("code", { class: "skill-code", text: preview.jwks_uri })),
    el("ul", { id: "trust-fingerprints" }, ...preview.fingerprints.map((f) => el("li", {}, el("code", { text: f })))),
    error,
    el(
      "div",
      { class: "fr-input-group" },
      el("label", { class: "fr-label", for: "trust-name" }, t("coordination.trust_name_label"),
        el("span", { class: "fr-hint-text", text: t("coordination.trust_name_hint") })),
      name,
    ),
    el(
      "div",
      { class: "fr-checkbox-group" },
      confirmed,
      el("label", { class: "fr-label", for: "trust-confirmed", text: t("coordination.trust_confirm_check") }),
    ),
    el("button", { type: "button", class: "fr-btn fr-mt-2w", id: "trust-pin", text: t("coordination.trust_pin"), onclick: pin }),
  );
}

// --- The panel ------------------------------------------------------------------------------------

async function render() {
  const message = el("div", { id: "trust-message", "aria-live": "polite" });
  const parts = /** @type {HTMLElement[]} */ ([el("p", { text: t("coordination.trust_lead") }), message, await bundleSection()]);
  try {
    const store = await api("GET", "/api/v1/trust/issuers");
    parts.push(storeSection(store, message), addSection());
  } catch (error) {
    parts.push(alertBox("error", error.message));
  }
  clear(panel).append(...parts);
}

export async function setupTrustPanel(box, opts = {}) {
  panel = box;
  if (opts.onChange) onChange = opts.onChange;
  await render();
}
