// The public directory « Où se faire accompagner » (/lieux): places of every territory of this
// service, searched by town, postcode or name (GET /api/v1/directory/places), with filters, and
// « près de moi »: the browser's position is used here only, to sort the places by distance;
// it is never sent (the places are fetched with the same filters, then sorted in the page).
// The search is in the address (?q=&service=&free=1…) so that a link shows the same list.
import { $, alertBox, api, clear, el, initPage, show, t } from "/static/js/common.js";
import { drawTiles, tilesConfigured } from "/static/js/directory-tiles.js";

const PAGE_SIZE = 20;
// « Près de moi » reads at most this many places of the current filters, then sorts them.
const NEAR_LIMIT = 10000;
const FLAGS = ["free", "accessible", "open_now", "validates"];

const form = /** @type {HTMLFormElement} */ ($("#directory-form"));
const list = /** @type {HTMLUListElement} */ ($("#directory-list"));
const status = /** @type {HTMLElement} */ ($("#directory-status"));
const more = /** @type {HTMLButtonElement} */ ($("#directory-more"));
const serviceSelect = /** @type {HTMLSelectElement} */ ($("#directory-service"));
const canvas = /** @type {HTMLElement} */ ($("#directory-map-canvas"));

/**
 * @typedef {{id: number, nom: string, adresse: string, commune: string, code_postal: string,
 *   department: string | null, territory_code: string, url: string | null, latitude: number | null,
 *   longitude: number | null, services: string[], free: boolean, accessible: boolean,
 *   open_now: boolean | null, validates: boolean, validations_count: number | null}} Place
 * @typedef {{total: number, limit: number, offset: number, items: Place[], services: string[],
 *   window_start: string, window_end: string, threshold: number,
 *   departments: Record<string, number>}} DirectoryPage
 */

// The department chosen on the map (or from the address); "" for none.
let department = "";
// Whether the map is shown: it is loaded only then, and the page works without it.
let mapShown = false;
/** @type {Record<string, number>} */
let departmentCounts = {};
// The places of the list as shown: the tile layer's markers, when the server set one.
/** @type {Place[]} */
let shownPlaces = [];

/** The search as the form has it, as query parameters (without paging). */
function currentQuery() {
  /** @type {URLSearchParams} */
  const query = new URLSearchParams();
  const q = /** @type {HTMLInputElement} */ ($("#directory-q")).value.trim();
  if (q) query.set("q", q);
  if (department) query.set("department", department);
  if (serviceSelect.value) query.set("service", serviceSelect.value);
  for (const flag of FLAGS) {
    const box = /** @type {HTMLInputElement} */ (form.elements.namedItem(flag));
    if (box.checked) query.set(flag, "true");
  }
  return query;
}

/**
 * Fill the form from the page's address.
 * @param {URLSearchParams} params
 */
function fillForm(params) {
  /** @type {HTMLInputElement} */ ($("#directory-q")).value = params.get("q") || "";
  department = (params.get("department") || "").toUpperCase().slice(0, 3);
  for (const flag of FLAGS) {
    const box = /** @type {HTMLInputElement} */ (form.elements.namedItem(flag));
    box.checked = params.get(flag) === "true";
  }
}

/**
 * The services offered, as options of the select (the chosen one kept).
 * @param {string[]} services
 * @param {string} chosen
 */
function fillServices(services, chosen) {
  const names = services.includes(chosen) || !chosen ? services : [chosen, ...services];
  clear(serviceSelect).append(
    el("option", { value: "", text: t("directory.service_any") }),
    ...names.map((name) => el("option", { value: name, text: name })),
  );
  serviceSelect.value = chosen;
}

/**
 * Great-circle distance in kilometres, computed in the page.
 * @param {number} lat1 @param {number} lon1 @param {number} lat2 @param {number} lon2
 * @returns {number}
 */
export function distanceKm(lat1, lon1, lat2, lon2) {
  const rad = Math.PI / 180;
  const dLat = (lat2 - lat1) * rad;
  const dLon = (lon2 - lon1) * rad;
  const a = Math.sin(dLat / 2) ** 2 + Math.cos(lat1 * rad) * Math.cos(lat2 * rad) * Math.sin(dLon / 2) ** 2;
  return 2 * 6371 * Math.asin(Math.min(1, Math.sqrt(a)));
}

/**
 * @param {number} km
 * @returns {string}
 */
function formatDistance(km) {
  const lang = document.documentElement.lang === "en" ? "en-GB" : "fr-FR";
  if (km < 1) return t("directory.distance_m", { n: Math.max(10, Math.round(km * 100) * 10).toLocaleString(lang) });
  return t("directory.distance_km", { n: km.toLocaleString(lang, { maximumFractionDigits: km < 10 ? 1 : 0 }) });
}

/**
 * One place as a card of the list.
 * @param {Place} place
 * @param {number | null} km the distance when « près de moi » sorted the list
 * @returns {HTMLLIElement}
 */
function placeItem(place, km) {
  /** @type {HTMLElement[]} */
  const badges = [];
  /** @param {string} text @param {string} kind */
  const badge = (text, kind) => badges.push(el("li", {}, el("p", { class: `fr-badge fr-badge--sm fr-badge--${kind}`, text })));
  if (place.open_now === true) badge(t("directory.badge_open"), "success");
  if (place.free) badge(t("directory.badge_free"), "info");
  if (place.accessible) badge(t("directory.badge_accessible"), "info");
  if (place.validates) {
    badge(
      place.validations_count === null
        ? t("directory.badge_validates")
        : t("directory.badge_validates_count", { n: place.validations_count }),
      "new",
    );
  }
  return /** @type {HTMLLIElement} */ (
    el(
      "li",
      { "data-place": place.url ? null : String(place.id) },
      // A neighbouring territory's place (through the federation) links to its own instance.
      el("h3", { class: "fr-h6" }, el("a", { href: place.url || `/lieu?id=${place.id}`, text: place.nom })),
      el("p", { class: "fr-text--sm" }, `${place.adresse}, ${place.code_postal} ${place.commune}`,
        km === null ? null : el("span", { class: "directory-distance", text: ` — ${formatDistance(km)}` })),
      place.services.length
        ? el("p", { class: "fr-text--xs", text: t("directory.services_list", { list: place.services.join(", ") }) })
        : null,
      badges.length ? el("ul", { class: "fr-badges-group" }, badges) : null,
    )
  );
}

/**
 * The sentence above the list.
 * @param {number} total
 * @param {boolean} near
 */
function countText(total, near) {
  if (total === 0) return t("directory.none");
  const key = near ? "directory.found_near" : total === 1 ? "directory.found_one" : "directory.found";
  return t(key, { n: total });
}

let offset = 0;
let asked = 0;

/**
 * The places of a query; null when the answer is an error (shown) or came after a newer question
 * (dropped: only the last one asked is drawn).
 * @param {URLSearchParams} query
 * @returns {Promise<DirectoryPage | null>}
 */
async function places(query) {
  const mine = ++asked;
  try {
    /** @type {DirectoryPage} */
    const doc = await api("GET", `/api/v1/directory/places?${query}`);
    return mine === asked ? doc : null;
  } catch (error) {
    if (mine === asked) clear(status).append(alertBox("error", error.message || String(error)));
    return null;
  }
}

/**
 * Load one page of the list for the form's search (append: the next page).
 * @param {boolean} append
 */
async function search(append) {
  const query = currentQuery();
  history.replaceState(null, "", query.toString() ? `?${query}` : location.pathname);
  if (!append) offset = 0;
  query.set("limit", String(PAGE_SIZE));
  query.set("offset", String(offset));
  const doc = await places(query);
  if (!doc) return;
  fillServices(doc.services, serviceSelect.value);
  validatesHint(doc);
  departmentCounts = doc.departments;
  shownPlaces = append ? [...shownPlaces, ...doc.items] : doc.items;
  showDepartment();
  if (mapShown) drawMap();
  clear(status).append(el("p", { class: "fr-text--sm", role: "status", text: countText(doc.total, false) }));
  if (!append) clear(list);
  list.append(...doc.items.map((place) => placeItem(place, null)));
  offset = doc.offset + doc.items.length;
  show(more, offset < doc.total);
}

/**
 * The hint under « valide le passeport numérique »: which months, and the threshold.
 * @param {DirectoryPage} doc
 */
function validatesHint(doc) {
  const lang = document.documentElement.lang === "en" ? "en-GB" : "fr-FR";
  /** @param {string} iso */
  const month = (iso) => new Date(`${iso}T12:00:00`).toLocaleDateString(lang, { month: "long", year: "numeric" });
  $("#directory-validates-hint").textContent = t("directory.validates_hint", {
    start: month(doc.window_start),
    end: month(doc.window_end),
    threshold: doc.threshold,
  });
}

/** « Près de moi »: ask the browser where it is, then sort the places of the filters locally. */
function nearMe() {
  if (!("geolocation" in navigator)) {
    clear(status).append(alertBox("warning", t("directory.near_me_unavailable")));
    return;
  }
  clear(status).append(el("p", { class: "fr-text--sm", text: t("directory.near_me_asking") }));
  navigator.geolocation.getCurrentPosition(
    (position) => sortNear(position.coords.latitude, position.coords.longitude),
    () => clear(status).append(alertBox("warning", t("directory.near_me_refused"))),
    { enableHighAccuracy: false, timeout: 20000, maximumAge: 600000 },
  );
}

/**
 * @param {number} lat
 * @param {number} lon
 */
async function sortNear(lat, lon) {
  const query = currentQuery();
  query.set("limit", String(NEAR_LIMIT));
  const doc = await places(query);
  if (!doc) return;
  const placed = doc.items
    .filter((p) => p.latitude !== null && p.longitude !== null)
    .map((p) => ({ place: p, km: distanceKm(lat, lon, /** @type {number} */ (p.latitude), /** @type {number} */ (p.longitude)) }))
    .sort((a, b) => a.km - b.km)
    .slice(0, PAGE_SIZE);
  clear(status).append(el("p", { class: "fr-text--sm", role: "status", text: countText(placed.length, true) }));
  clear(list).append(...placed.map(({ place, km }) => placeItem(place, km)));
  show(more, false);
  shownPlaces = placed.map(({ place }) => place);
  if (mapShown) drawMap();
}

/** The chosen department, said above the list, with a button to drop it. */
function showDepartment() {
  const box = /** @type {HTMLElement} */ ($("#directory-department"));
  show(box, Boolean(department));
  if (!department) return;
  clear(box).append(
    t("directory.department_chosen", { department: departmentName(department) }), " ",
    el("button", { type: "button", class: "fr-tag fr-tag--sm", onclick: () => chooseDepartment("") },
      t("directory.department_clear")),
  );
}

/** @type {Record<string, string>} */
let departmentNames = {};
/** @type {{viewBox: string, locations: {id: string, name: string, path: string}[]} | null} */
let outlines = null;

// The overseas departments and collectivities: no outline in the package, a link each.
/** @type {Record<string, string>} */
const OVERSEAS = {
  971: "Guadeloupe", 972: "Martinique", 973: "Guyane", 974: "La Réunion", 975: "Saint-Pierre-et-Miquelon",
  976: "Mayotte", 977: "Saint-Barthélemy", 978: "Saint-Martin", 986: "Wallis-et-Futuna",
  987: "Polynésie française", 988: "Nouvelle-Calédonie",
};

/**
 * @param {string} code
 * @returns {string}
 */
function departmentName(code) {
  return departmentNames[code] || OVERSEAS[code] || code;
}

/**
 * Filter by a department ("" for all).
 * @param {string} code
 */
function chooseDepartment(code) {
  department = code;
  search(false);
}

/** Show or hide the map; the outlines are loaded the first time only. */
async function toggleMap() {
  mapShown = !mapShown;
  const button = /** @type {HTMLButtonElement} */ ($("#directory-map-toggle"));
  button.setAttribute("aria-pressed", String(mapShown));
  button.textContent = t(mapShown ? "directory.map_hide" : "directory.map_show");
  show(/** @type {HTMLElement} */ ($("#directory-map")), mapShown);
  if (mapShown) await drawMap();
}

/**
 * The map: the tile layer with the listed places when the server set one, else the departments'
 * outlines; the list of departments below it either way.
 */
async function drawMap() {
  if (tilesConfigured(canvas)) await drawTiles(canvas, shownPlaces);
  else await drawOutlines();
  drawDepartmentList();
}

/** The departments' outlines (a package shipped with the app, no tile server), shaded by count. */
async function drawOutlines() {
  if (!outlines) {
    const module = await import("/static/vendor/france-departments/index.js");
    outlines = module.default;
    for (const location of outlines.locations) departmentNames[location.id] = location.name;
  }
  const max = Math.max(1, ...Object.values(departmentCounts));
  const svgNs = "http://www.w3.org/2000/svg";
  const svg = document.createElementNS(svgNs, "svg");
  svg.setAttribute("viewBox", outlines.viewBox);
  svg.setAttribute("class", "directory-outlines");
  // The list below says the same to screen readers and keyboards: the drawing is for the eye.
  svg.setAttribute("aria-hidden", "true");
  svg.setAttribute("focusable", "false");
  for (const location of outlines.locations) {
    const path = document.createElementNS(svgNs, "path");
    path.setAttribute("d", location.path);
    path.dataset.department = location.id;
    const count = departmentCounts[location.id] || 0;
    if (count) {
      path.dataset.count = String(count);
      path.dataset.level = String(Math.min(3, 1 + Math.floor((3 * count) / (max + 1))));
      path.addEventListener("click", () => chooseDepartment(location.id));
      const title = document.createElementNS(svgNs, "title");
      title.textContent = t(count === 1 ? "directory.map_count_one" : "directory.map_count", { department: location.name, n: count });
      path.append(title);
    }
    if (location.id === department) path.setAttribute("aria-current", "true");
    svg.append(path);
  }
  clear(canvas).append(svg);
}

/** The departments with matching places, as links (the map's words, for every reader). */
function drawDepartmentList() {
  const codes = Object.keys(departmentCounts).sort((a, b) => departmentCounts[b] - departmentCounts[a]);
  clear(/** @type {HTMLElement} */ ($("#directory-map-list"))).append(
    ...codes.map((code) =>
      el("li", {}, el("a", {
        href: `?department=${encodeURIComponent(code)}`,
        "aria-current": code === department ? "true" : false,
        "data-department": code,
        text: t(departmentCounts[code] === 1 ? "directory.map_count_one" : "directory.map_count", {
          department: departmentName(code), n: departmentCounts[code],
        }),
        onclick: (/** @type {Event} */ event) => {
          event.preventDefault();
          chooseDepartment(code);
        },
      }))),
  );
}

async function start() {
  const params = new URLSearchParams(location.search);
  fillForm(params);
  fillServices([], params.get("service") || "");
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    search(false);
  });
  form.addEventListener("change", (event) => {
    if (/** @type {HTMLElement} */ (event.target).id !== "directory-q") search(false);
  });
  more.addEventListener("click", () => search(true));
  if (tilesConfigured(canvas)) {
    // The map shows the places themselves: its heading and hint say so.
    for (const [selector, key] of [["#directory-map-heading", "directory.map_heading_tiles"], ["#directory-map > p", "directory.map_hint_tiles"]]) {
      const node = /** @type {HTMLElement} */ ($(selector));
      node.dataset.i18n = key;
      node.textContent = t(key);
    }
  }
  $("#directory-near-me").addEventListener("click", nearMe);
  $("#directory-map-toggle").addEventListener("click", toggleMap);
  await search(false);
}

// No top-level await: older Safari (iOS 12-14, still on many second-hand phones) lacks it.
initPage("directory")
  .then(start)
  .then(() => {
    document.body.dataset.ready = "true";
  });
