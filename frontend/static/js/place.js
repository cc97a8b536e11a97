// A place of the public directory (/lieu?id=N, GET /api/v1/directory/places/{id}): address,
// hours in the place's own time zone (« aujourd'hui » and « ouvert maintenant » are the
// place's, computed by the server), contact, services, its mediators, and a link to its
// territory's figures.
import { $, alertBox, api, clear, el, formatDate, initPage, t } from "/static/js/common.js";
import { drawTiles, tilesConfigured } from "/static/js/directory-tiles.js";

const status = /** @type {HTMLElement} */ ($("#place-status"));
const box = /** @type {HTMLElement} */ ($("#place"));

/**
 * The name of a weekday (0 Monday … 6 Sunday) in the page's language.
 * @param {number} day
 * @returns {string}
 */
function dayName(day) {
  const lang = document.documentElement.lang === "en" ? "en-GB" : "fr-FR";
  // 2024-01-01 was a Monday.
  const name = new Date(2024, 0, 1 + day, 12).toLocaleDateString(lang, { weekday: "long" });
  return name.charAt(0).toUpperCase() + name.slice(1);
}

/**
 * A titled block of the page, or nothing when it has no content.
 * @param {string} id
 * @param {string} title
 * @param {(Node | string | null)[]} content
 * @returns {HTMLElement | null}
 */
function section(id, title, content) {
  const parts = content.filter((c) => c !== null && c !== "");
  if (!parts.length) return null;
  return el("section", { id, class: "fr-mb-4w", "aria-labelledby": `${id}-heading` },
    el("h2", { id: `${id}-heading`, class: "fr-h4", text: title }), ...parts);
}

/**
 * @param {string[]} items
 * @returns {HTMLUListElement | null}
 */
function plainList(items) {
  return items.length ? /** @type {HTMLUListElement} */ (el("ul", {}, items.map((i) => el("li", { text: i })))) : null;
}

/**
 * The hours: a table of the week with today marked, or the text as written.
 * @param {any} place
 * @returns {(Node | string | null)[]}
 */
function hoursContent(place) {
  const today = new Date(`${place.local_date}T12:00:00`);
  const todayIndex = (today.getDay() + 6) % 7;
  const when = el("p", { id: "place-now", text: t("place.local_now", {
    date: formatDate(place.local_date), time: place.local_time, zone: place.time_zone,
  }) });
  const state = place.open_now === null
    ? null
    : el("p", { id: "place-open", class: `fr-badge fr-badge--${place.open_now ? "success" : "warning"}`,
      text: t(place.open_now ? "place.open_now" : "place.closed_now") });
  if (!place.week) {
    return [when, state, place.horaires ? el("p", { id: "place-hours-text", text: place.horaires }) : el("p", { text: t("place.hours_unknown") })];
  }
  const rows = place.week.map((/** @type {{day: number, ranges: string[]}} */ day) =>
    el("tr", { "aria-current": day.day === todayIndex ? "date" : false, class: day.day === todayIndex ? "place-today" : null },
      el("th", { scope: "row" }, dayName(day.day), day.day === todayIndex ? ` (${t("place.today")})` : ""),
      el("td", { text: day.ranges.length ? day.ranges.map((r) => r.replace("-", " – ")).join(", ") : t("place.closed") })));
  const table = el("div", { class: "fr-table fr-table--sm place-hours" },
    el("div", { class: "fr-table__wrapper" }, el("div", { class: "fr-table__container" },
      el("div", { class: "fr-table__content" }, el("table", { id: "place-hours" },
        el("caption", { class: "fr-sr-only", text: t("place.hours") }),
        el("thead", {}, el("tr", {}, el("th", { scope: "col", text: t("place.day") }), el("th", { scope: "col", text: t("place.hours") }))),
        el("tbody", {}, rows))))));
  return [when, state, table];
}

/**
 * @param {any} place
 */
function render(place) {
  const heading = place.nom;
  $("#place-heading").textContent = heading;
  document.title = `${heading} — ${t("common.service_name")}`;
  const address = el("address", { id: "place-address" },
    place.adresse, el("br"),
    place.complement_adresse ? [place.complement_adresse, el("br")] : null,
    `${place.code_postal} ${place.commune}`);
  /** @type {(Node | null)[]} */
  const contact = [
    place.telephone ? el("p", {}, t("place.phone_label"), " ", el("a", { href: `tel:${place.telephone}`, text: place.telephone })) : null,
    ...place.courriels.map((/** @type {string} */ m) => el("p", {}, t("place.email_label"), " ", el("a", { href: `mailto:${m}`, text: m }))),
    ...place.site_web.map((/** @type {string} */ u) => el("p", {}, el("a", { href: u, rel: "noopener", text: u }))),
    place.prise_rdv ? el("p", {}, el("a", { href: place.prise_rdv, rel: "noopener", text: t("place.appointment") })) : null,
  ];
  const validates = place.validates
    ? el("p", { id: "place-validates", text: place.validations_count === null
      ? t("place.validates")
      : t("place.validates_count", { n: place.validations_count }) })
    : null;
  // With the optional tile layer (docs/directory.md, "The map"), the place on the tiles under
  // its address; without it, or without a position, the address alone.
  const settings = /** @type {HTMLElement} */ ($("#place-map-settings"));
  const map = tilesConfigured(settings) && place.latitude !== null && place.longitude !== null
    ? /** @type {HTMLElement} */ (el("div", {
      id: "place-map", class: "place-map",
      "data-tile-url": settings.dataset.tileUrl, "data-tile-attribution": settings.dataset.tileAttribution,
    }))
    : null;
  clear(box).append(
    ...[
      place.presentation_resume ? el("p", { class: "fr-text--lead", text: place.presentation_resume }) : null,
      section("place-where", t("place.address"), [address, map]),
      section("place-when", t("place.hours"), hoursContent(place)),
      section("place-contact", t("place.contact"), contact),
      section("place-services", t("place.services"), [plainList(place.services), validates]),
      section("place-fees", t("place.fees"), [plainList(place.frais_a_charge)]),
      section("place-publics", t("place.publics"), [plainList([...place.publics_specifiquement_adresses, ...place.prise_en_charge_specifique])]),
      section("place-mediators", t("place.mediators"), [plainList(place.mediators)]),
      place.presentation_detail ? section("place-detail", t("place.detail"), [el("p", { class: "place-detail", text: place.presentation_detail })]) : null,
      el("p", {}, el("a", { id: "place-figures", class: "fr-link", href: `/figures?territory=${encodeURIComponent(place.territory.code)}`,
        text: t("place.figures", { territory: place.territory.name }) })),
    ].filter(Boolean),
  );
  if (map) return drawTiles(map, [place]);
  return undefined;
}

async function start() {
  const id = new URLSearchParams(location.search).get("id") || "";
  if (!/^[1-9][0-9]{0,9}$/.test(id)) {
    clear(status).append(alertBox("warning", t("place.unknown")));
    return;
  }
  try {
    const place = await api("GET", `/api/v1/directory/places/${id}`);
    clear(status);
    await render(place);
  } catch (error) {
    clear(status).append(alertBox(error.status === 404 ? "warning" : "error",
      error.status === 404 ? t("place.unknown") : error.message || String(error)));
  }
}

// No top-level await: older Safari (iOS 12-14, still on many second-hand phones) lacks it.
initPage("directory")
  .then(start)
  .then(() => {
    document.body.dataset.ready = "true";
  });
