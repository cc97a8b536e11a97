// Types the browser's standard library lacks, for `tsc --checkJs` (make jscheck): nothing here is
// served or run. Shared shapes of the pages' own code are JSDoc typedefs in static/js/types.js.

/** The QR decoder of /static/vendor/jsqr/jsQR.js (npm jsqr), loaded on demand by verify.js. */
type JsQR = (
  data: Uint8ClampedArray,
  width: number,
  height: number,
  options?: { inversionAttempts?: "dontInvert" | "onlyInvert" | "attemptBoth" | "invertFirst" },
) => { data: string } | null;

/** The Shape Detection API's barcode detector (Chromium, Android); not in TypeScript's DOM lib. */
interface BarcodeDetector {
  detect(source: ImageBitmapSource): Promise<{ rawValue: string; format: string }[]>;
}

interface BarcodeDetectorConstructor {
  new (options?: { formats: string[] }): BarcodeDetector;
  getSupportedFormats(): Promise<string[]>;
}

interface Window {
  jsQR?: JsQR;
  BarcodeDetector?: BarcodeDetectorConstructor;
}
