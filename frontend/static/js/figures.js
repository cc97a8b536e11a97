// @ts-check
// The public page of a territory's figures (/figures?territory=CODE): the territories that
// publish (GET /api/v1/territories, then each one's .../stats/publication), and the chosen one's
// figures under statistical secrecy for one fixed period (GET .../stats/periods lists the calendar
// months, quarters and years due, those released offered; GET .../stats?period=ID), drawn by
// charts.js. The
// period is in the address (?territory=CODE&period=ID) so that a link shows the same figures.
// A territory that does not publish gets a plain message, whether the publication flag says so
// or the stats route answers 401/403 (it closed in between).
import { $, ApiError, alertBox, api, clear, el, initPage, show, t } from "/static/js/common.js";
import { periodSelect, renderFigures } from "/static/js/charts.js";

const status = $("#figures-status");
const box = $("#figures");
const select = $("#territory-select");
const periodBox = $("#period-form");
let periods = null;

function message(kind, text, title) {
  clear(box);
  clear(status).append(alertBox(kind, text, title));
}

function setHeading(name) {
  const heading = name ? t("figures.heading_territory", { territory: name }) : t("figures.heading");
  $("#figures-heading").textContent = heading;
  document.title = `${heading} — ${t("common.service_name")}`;
}

function address(territory, period) {
  const query = new URLSearchParams({ territory: territory.code });
  if (period) query.set("period", period);
  return `?${query}`;
}

function showPeriods(territory, publishes, chosen) {
  const picker = periodSelect({
    id: "period-select",
    periods: periods.periods,
    value: chosen,
    label: t("figures.period_choice"),
    hint: t("figures.period_hint"),
  });
  picker.select.addEventListener("change", () => {
    history.replaceState(null, "", address(territory, picker.select.value));
    load(territory, publishes, picker.select.value);
  });
  clear(periodBox).append(picker.group);
  show(periodBox, true);
}

// Only the last territory or period asked for is drawn, whichever answer comes back first.
let asked = 0;

async function load(territory, publishes, period) {
  const mine = ++asked;
  setHeading(territory.name);
  clear(box);
  clear(status).append(el("p", { class: "fr-text--sm", text: t("common.loading") }));
  let doc;
  let chosen = period;
  try {
    const code = encodeURIComponent(territory.code);
    if (!periods) {
      const listed = await api("GET", `/api/v1/territories/${code}/stats/periods`);
      // The public reads the released periods only (docs/open-data.md, "Releases").
      periods = { ...listed, periods: listed.periods.filter((p) => p.released) };
    }
    const known = periods.periods.some((p) => p.id === chosen);
    if (!known) chosen = periods.default;
    showPeriods(territory, publishes, chosen);
    doc = await api("GET", `/api/v1/territories/${code}/stats?period=${encodeURIComponent(chosen)}`);
  } catch (error) {
    if (mine !== asked) return;
    show(periodBox, false);
    // 401/403: the territory does not publish (or closed its figures since the list was read).
    if (error instanceof ApiError && (error.status === 401 || error.status === 403)) {
      message("info", t("figures.not_published", { territory: territory.name }), t("figures.not_published_title"));
    } else {
      message("error", error.message || String(error));
    }
    return;
  }
  if (mine !== asked) return;
  clear(status);
  if (period && period !== chosen) {
    // An old link, or a period not over yet: the default one is shown, and the page says so.
    status.append(alertBox("warning", t("figures.unknown_period", { period })));
  }
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
  const params = new URLSearchParams(location.search);
  const requested = params.get("territory");
  const requestedPeriod = params.get("period");

  clear(select).append(
    el("option", { value: "", text: t("figures.territory_placeholder"), disabled: true }),
    ...published.map((tt) => el("option", { value: tt.code, text: tt.name })),
  );
  show($("#territory-form"), published.length > 0);
  select.addEventListener("change", () => {
    const chosen = published.find((tt) => tt.code === select.value);
    if (!chosen) return;
    const current = $("#period-select");
    const period = current ? current.value : null;
    history.replaceState(null, "", address(chosen, period));
    load(chosen, true, period);
  });

  if (requested) {
    const territory = territories.find((tt) => tt.code === requested);
    if (!territory) {
      select.value = "";
      message("warning", t("figures.unknown_territory", { code: requested }));
      return;
    }
    select.value = publishes.get(territory.code) ? territory.code : "";
    await load(territory, publishes.get(territory.code), requestedPeriod);
  } else if (published.length) {
    select.value = published[0].code;
    await load(published[0], true, requestedPeriod);
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
