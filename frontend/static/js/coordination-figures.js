// The coordinator's "Chiffres" panel: the territory's figures as the public would see them
// (GET /api/v1/territories/{code}/stats, readable by its coordinators whether or not it
// publishes), drawn by charts.js, and the opt-in switch (PUT .../stats/publication) with what it
// makes public.
import { alertBox, announce, api, clear, el, formatDateTime, t } from "/static/js/common.js";
import { renderFigures } from "/static/js/charts.js";

let panel = null;
let code = null;
let onChange = async () => {};

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

export async function setupFiguresPanel(box, opts = {}) {
  panel = box;
  code = opts.territory || code;
  if (opts.onChange) onChange = opts.onChange;
  clear(panel).append(el("p", { class: "fr-text--sm", text: t("common.loading") }));
  let view;
  let doc;
  try {
    [view, doc] = await Promise.all([api("GET", `${base()}/publication`), api("GET", base())]);
  } catch (error) {
    clear(panel).append(alertBox("error", error.message || String(error)));
    return;
  }
  const figures = el("div", { id: "coordination-figures" });
  clear(panel).append(publicationBox(view, doc.threshold), figures);
  renderFigures(figures, doc, { heading: "h3", idPrefix: "coord-figures" });
}
