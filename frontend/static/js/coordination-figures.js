// @ts-check
// The coordinator's "Chiffres" panel: the territory's figures as the public would see them for a
// fixed period (GET .../stats/periods, then .../stats?period=ID, readable by its coordinators
// whether or not it publishes), or for any days they choose (?start=&end=, theirs only), drawn by
// charts.js; and the opt-in switch (PUT .../stats/publication) with what it makes public.
import { alertBox, announce, api, clear, el, formatDateTime, show, t } from "/static/js/common.js";
import { periodSelect, renderFigures } from "/static/js/charts.js";

let panel = null;
let code = null;
let onChange = async () => {};
// The period shown: a fixed period's id, or "custom" with the days below.
let chosen = null;
let custom = { start: "", end: "" };

const base = () => `/api/v1/territories/${encodeURIComponent(code)}/stats`;

function publicUrl() {
  return `/figures?territory=${encodeURIComponent(code)}`;
}

function stateText(view) {
  if (view.public) {
    return t("coordination.figures_state_public", { date: formatDateTime(view.changed_at) });
  }
  return t("coordination.figures_state_private");
}

function publicationBox(view, threshold) {
  const input = el("input", {
    type: "checkbox",
    class: "fr-toggle__input",
    id: "figures-public",
    "aria-describedby": "figures-public-hint",
    checked: view.public,
  });
  const state = el("p", { id: "figures-public-state", class: "fr-text--sm fr-mb-1w" }, stateText(view));
  if (view.public) {
    state.append(" ", el("a", { href: publicUrl(), text: t("coordination.figures_public_link") }));
  }
  const feedback = el("div", { id: "figures-public-feedback", role: "status" });
  input.addEventListener("change", async () => {
    const wanted = input.checked;
    input.disabled = true;
    clear(feedback);
    try {
      const next = await api("PUT", `${base()}/publication`, { public: wanted });
      announce(t(next.public ? "coordination.figures_published" : "coordination.figures_unpublished"));
      clear(panel.querySelector("#figures-publication")).append(...publicationBox(next, threshold).childNodes);
      await onChange();
    } catch (error) {
      input.checked = !wanted;
      input.disabled = false;
      feedback.append(alertBox("error", error.message || String(error)));
    }
  });
  return el(
    "div",
    { id: "figures-publication" },
    el(
      "div",
      { class: "fr-callout fr-mb-3w" },
      el("h3", { class: "fr-callout__title fr-h5", text: t("coordination.figures_publication_title") }),
      el("p", { class: "fr-callout__text fr-text--md", text: t("coordination.figures_publication_what", { threshold }) }),
      el("p", { class: "fr-text--sm", text: t("coordination.figures_publication_how") }),
      el(
        "div",
        { class: "fr-toggle" },
        input,
        el("label", {
          class: "fr-toggle__label",
          for: "figures-public",
          "data-fr-checked-label": t("coordination.figures_on"),
          "data-fr-unchecked-label": t("coordination.figures_off"),
          text: t("coordination.figures_switch"),
        }),
        el("p", { class: "fr-hint-text", id: "figures-public-hint", text: t("coordination.figures_switch_hint") }),
      ),
      state,
      feedback,
    ),
  );
}

function documentUrl() {
  if (chosen === "custom") {
    return `${base()}?${new URLSearchParams({ start: custom.start, end: custom.end })}`;
  }
  return `${base()}?period=${encodeURIComponent(chosen)}`;
}

// Only the last period asked for is drawn, whichever answer comes back first.
let asked = 0;

async function showFigures(figures) {
  const mine = ++asked;
  clear(figures).append(el("p", { class: "fr-text--sm", text: t("common.loading") }));
  try {
    const doc = await api("GET", documentUrl());
    if (mine === asked) renderFigures(figures, doc, { heading: "h3", idPrefix: "coord-figures" });
  } catch (error) {
    if (mine === asked) clear(figures).append(alertBox("error", error.message || String(error)));
  }
}

function dateField(id, label, value) {
  return el(
    "div",
    { class: "fr-input-group" },
    el("label", { class: "fr-label", for: id, text: label }),
    el("input", { class: "fr-input", type: "date", id, name: id, value, required: true }),
  );
}

function periodForm(periods, figures) {
  const picker = periodSelect({
    id: "coord-period-select",
    periods: periods.periods,
    value: chosen,
    label: t("coordination.figures_period"),
    hint: t("coordination.figures_period_hint"),
    extra: [{ value: "custom", text: t("coordination.figures_period_custom") }],
  });
  const days = el(
    "fieldset",
    { class: "fr-fieldset", id: "coord-period-days" },
    el("legend", { class: "fr-fieldset__legend fr-text--regular", text: t("coordination.figures_period_days") }),
    el("div", { class: "fr-fieldset__element" }, dateField("coord-period-start", t("coordination.figures_period_start"), custom.start)),
    el("div", { class: "fr-fieldset__element" }, dateField("coord-period-end", t("coordination.figures_period_end"), custom.end)),
    el(
      "div",
      { class: "fr-fieldset__element" },
      el("button", { class: "fr-btn fr-btn--secondary", type: "submit", text: t("coordination.figures_period_show") }),
    ),
  );
  show(days, chosen === "custom");
  const form = el("form", { id: "coord-period-form", class: "fr-mb-3w" }, picker.group, days);
  picker.select.addEventListener("change", () => {
    chosen = picker.select.value;
    show(days, chosen === "custom");
    if (chosen !== "custom") showFigures(figures);
  });
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const input = (/** @type {string} */ id) => /** @type {HTMLInputElement} */ (form.querySelector(id));
    custom = { start: input("#coord-period-start").value, end: input("#coord-period-end").value };
    showFigures(figures);
  });
  return form;
}

export async function setupFiguresPanel(box, opts = {}) {
  panel = box;
  code = opts.territory || code;
  if (opts.onChange) onChange = opts.onChange;
  clear(panel).append(el("p", { class: "fr-text--sm", text: t("common.loading") }));
  let view;
  let periods;
  try {
    [view, periods] = await Promise.all([api("GET", `${base()}/publication`), api("GET", `${base()}/periods`)]);
  } catch (error) {
    clear(panel).append(alertBox("error", error.message || String(error)));
    return;
  }
  if (chosen !== "custom" && !periods.periods.some((p) => p.id === chosen)) chosen = periods.default;
  const figures = el("div", { id: "coordination-figures" });
  clear(panel).append(publicationBox(view, periods.threshold), periodForm(periods, figures), figures);
  await showFigures(figures);
}
