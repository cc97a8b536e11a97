// The public page of a territory's figures (/figures?territory=CODE): the territories that
// publish (GET /api/v1/territories, then each one's .../stats/publication), and the chosen one's
// figures under statistical secrecy (GET /api/v1/territories/{code}/stats), drawn by charts.js.
// A territory that does not publish gets a plain message, whether the publication flag says so
// or the stats route answers 401/403 (it closed in between).
import { $, ApiError, alertBox, api, clear, el, initPage, show, t } from "/static/js/common.js";
import { renderFigures } from "/static/js/charts.js";

const status = $("#figures-status");
const box = $("#figures");
const select = $("#territory-select");

function message(kind, text, title) {
  clear(box);
  clear(status).append(alertBox(kind, text, title));
}

function setHeading(name) {
  const heading = name ? t("figures.heading_territory", { territory: name }) : t("figures.heading");
  $("#figures-heading").textContent = heading;
  document.title = `${heading} — ${t("common.service_name")}`;
}

async function load(territory, publishes) {
  setHeading(territory.name);
  clear(box);
  clear(status).append(el("p", { class: "fr-text--sm", text: t("common.loading") }));
  let doc;
  try {
    doc = await api("GET", `/api/v1/territories/${encodeURIComponent(territory.code)}/stats`);
  } catch (error) {
    // 401/403: the territory does not publish (or closed its figures since the list was read).
    if (error instanceof ApiError && (error.status === 401 || error.status === 403)) {
      message("info", t("figures.not_published", { territory: territory.name }), t("figures.not_published_title"));
    } else {
      message("error", error.message || String(error));
    }
    return;
  }
  clear(status);
  if (!publishes) {
    // A coordinator signed in reads their own territory's figures here before they are public.
    status.append(alertBox("warning", t("figures.not_public_yet", { territory: territory.name })));
  }
  renderFigures(box, doc, { heading: "h2", idPrefix: "figures" });
}

async function start() {
  let territories;
  let flags;
  try {
    territories = await api("GET", "/api/v1/territories");
    flags = await Promise.all(
      territories.map((tt) =>
        api("GET", `/api/v1/territories/${encodeURIComponent(tt.code)}/stats/publication`),
      ),
    );
  } catch (error) {
    message("error", error.message || String(error));
    return;
  }
  const publishes = new Map(flags.map((f) => [f.territory_code, f.public]));
  const published = territories.filter((tt) => publishes.get(tt.code));
  const requested = new URLSearchParams(location.search).get("territory");

  clear(select).append(
    el("option", { value: "", text: t("figures.territory_placeholder"), disabled: true }),
    ...published.map((tt) => el("option", { value: tt.code, text: tt.name })),
  );
  show($("#territory-form"), published.length > 0);
  select.addEventListener("change", () => {
    const chosen = published.find((tt) => tt.code === select.value);
    if (!chosen) return;
    history.replaceState(null, "", `?territory=${encodeURIComponent(chosen.code)}`);
    load(chosen, true);
  });

  if (requested) {
    const territory = territories.find((tt) => tt.code === requested);
    if (!territory) {
      select.value = "";
      message("warning", t("figures.unknown_territory", { code: requested }));
      return;
    }
    select.value = publishes.get(territory.code) ? territory.code : "";
    await load(territory, publishes.get(territory.code));
  } else if (published.length) {
    select.value = published[0].code;
    await load(published[0], true);
  } else {
    message("info", t("figures.none_published"));
  }
}

// No top-level await: older Safari (iOS 12-14, still on many second-hand phones) lacks it.
initPage("figures")
  .then(start)
  .then(() => {
    document.body.dataset.ready = "true";
  });
