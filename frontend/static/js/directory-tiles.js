// The directory's optional tile layer (docs/directory.md, "The map"): when the server is set with
// PASSEPORT_DIRECTORY_TILE_URL, the map is Leaflet's tiles from that server with the listed
// places as markers, instead of the departments' outlines. The server writes the template and
// its attribution into the map's data attributes, and allows that origin in the page's CSP only
// then; with no template this module is never loaded and no request leaves this server.
// Leaflet is served from its package (app/web.py), and loaded the first time the map is shown.
import { el, t } from "/static/js/common.js";

/**
 * @typedef {{id: number, nom: string, url: string | null, latitude: number | null,
 *   longitude: number | null}} MarkedPlace
 */

/** @type {typeof import("/static/vendor/leaflet/leaflet-src.esm.js") | null} */
let leaflet = null;
/** @type {import("/static/vendor/leaflet/leaflet-src.esm.js").Map | null} */
let map = null;
/** @type {import("/static/vendor/leaflet/leaflet-src.esm.js").LayerGroup | null} */
let markers = null;

/** Leaflet's stylesheet, from this server, once. */
function loadStylesheet() {
  const href = "/static/vendor/leaflet/leaflet.css";
  if (document.querySelector(`link[href="${href}"]`)) return Promise.resolve();
  return new Promise((resolve) => {
    const link = el("link", { rel: "stylesheet", href });
    link.addEventListener("load", () => resolve(undefined));
    link.addEventListener("error", () => resolve(undefined));
    document.head.append(link);
  });
}

/**
 * Text as HTML: Leaflet writes an attribution with innerHTML, ours is plain text.
 * @param {string} text
 * @returns {string}
 */
function escapeHtml(text) {
  const box = document.createElement("span");
  box.textContent = text;
  return box.innerHTML;
}

/**
 * Whether this server set a tile layer for the directory's map.
 * @param {HTMLElement} canvas
 * @returns {boolean}
 */
export function tilesConfigured(canvas) {
  return Boolean(canvas.dataset.tileUrl);
}

/**
 * Draw (or redraw) the tiled map in the canvas with one marker per place that has a position.
 * @param {HTMLElement} canvas the map's box, with data-tile-url and data-tile-attribution
 * @param {MarkedPlace[]} places
 */
export async function drawTiles(canvas, places) {
  if (!leaflet) {
    await loadStylesheet();
    leaflet = await import("/static/vendor/leaflet/leaflet-src.esm.js");
  }
  const L = leaflet;
  if (!map) {
    canvas.classList.add("directory-tiles");
    // keyboard: false: the map takes no tab stop; the list below is the same for keyboards and
    // screen readers (the markers are for the eye).
    map = L.map(canvas, { keyboard: false, zoomControl: false, attributionControl: false });
    L.control.zoom({ zoomInTitle: t("directory.map_zoom_in"), zoomOutTitle: t("directory.map_zoom_out") }).addTo(map);
    L.control.attribution({ prefix: false }).addTo(map);
    L.tileLayer(canvas.dataset.tileUrl || "", {
      attribution: escapeHtml(canvas.dataset.tileAttribution || ""),
      maxZoom: 18,
      crossOrigin: false,
    }).addTo(map);
    markers = L.layerGroup().addTo(map);
  }
  markers.clearLayers();
  /** @type {[number, number][]} */
  const points = [];
  for (const place of places) {
    if (place.latitude === null || place.longitude === null) continue;
    /** @type {[number, number]} */
    const point = [place.latitude, place.longitude];
    points.push(point);
    const marker = L.circleMarker(point, { radius: 8, weight: 2, fillOpacity: 0.8, className: "directory-marker" });
    // Elements, not strings: Leaflet would write a string as HTML, and a place's name is text.
    marker.bindTooltip(el("span", { text: place.nom }));
    // No close button: Leaflet's says "Close popup" in English; a click on the map closes it.
    marker.bindPopup(el("a", { href: place.url || `/lieu?id=${place.id}`, text: place.nom }), { closeButton: false });
    markers.addLayer(marker);
  }
  map.invalidateSize();
  if (points.length) map.fitBounds(L.latLngBounds(points), { padding: [24, 24], maxZoom: 14 });
  else map.setView([46.6, 2.4], 5);
}
