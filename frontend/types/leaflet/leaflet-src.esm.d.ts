// What the directory's tile layer (static/js/directory-tiles.js) uses of Leaflet's ES module,
// served from its package at /static/vendor/leaflet/ (app/web.py; tsconfig.json maps the path
// here). Leaflet ships no types of its own.
export type LatLng = [number, number];
export interface Layer {
  addTo(map: Map): this;
  bindTooltip(content: HTMLElement): this;
  bindPopup(content: HTMLElement, options?: { closeButton?: boolean }): this;
}
export interface LayerGroup extends Layer {
  clearLayers(): this;
  addLayer(layer: Layer): this;
}
export interface LatLngBounds {
  isValid(): boolean;
}
export interface Map {
  fitBounds(bounds: LatLngBounds, options?: { padding?: [number, number]; maxZoom?: number }): this;
  setView(center: LatLng, zoom: number): this;
  invalidateSize(): this;
}
export interface Control {
  addTo(map: Map): this;
}
export function map(
  element: HTMLElement,
  options?: { keyboard?: boolean; zoomControl?: boolean; attributionControl?: boolean },
): Map;
export function tileLayer(
  template: string,
  options?: { attribution?: string; maxZoom?: number; crossOrigin?: boolean },
): Layer;
export function circleMarker(
  at: LatLng,
  options?: { radius?: number; weight?: number; fillOpacity?: number; className?: string },
): Layer;
export function layerGroup(): LayerGroup;
export function latLngBounds(points: LatLng[]): LatLngBounds;
export const control: {
  zoom(options: { zoomInTitle: string; zoomOutTitle: string }): Control;
  attribution(options: { prefix: string | false }): Control;
};
