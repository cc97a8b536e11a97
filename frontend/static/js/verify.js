// @ts-check
// The verifier's page (/verify), no account: read a credential's QR code with the camera or
// from a photo, or type its short code, and show a verdict nobody can misread.
//
// QR codes are verified here, in the browser (verifier.js, WebCrypto), against the trust bundle
// (GET /api/v1/trust/bundle: the trusted issuers' keys and signed status lists): the same answer
// online and offline. A service worker (verify-sw.js) keeps the page and the bundle for offline
// use, and the bundle is also kept in localStorage for browsers without service workers. Typed
// codes need the server: it looks the credential up (POST /api/v1/verify).

import {
  $, alertBox, api, checkNumber, clear, el, formatDate, formatDateTime, currentLang, initPage, t,
} from "/static/js/common.js";
import { verifyQrText } from "/static/js/verifier.js";

const BUNDLE_URL = "/api/v1/trust/bundle";
const BUNDLE_KEY = "passeport.verify.bundle";
const JSQR_URL = "/static/vendor/jsqr/jsQR.js";
// Phone photos are large; QR decoding needs far fewer pixels and is much faster on them.
const MAX_DECODE_SIDE = 1600;
const SCAN_INTERVAL_MS = 250;

const state = { bundle: null, labels: new Map(), stream: null, scanning: false };

const nowSeconds = () => Math.floor(Date.now() / 1000);

// --- Trust data ---------------------------------------------------------------------------------

function rememberBundle(bundle) {
  try {
    localStorage.setItem(BUNDLE_KEY, JSON.stringify(bundle));
  } catch {
    // Storage full or refused: the service worker's copy still serves offline.
  }
}

function storedBundle() {
  try {
    const text = localStorage.getItem(BUNDLE_KEY);
    return text ? JSON.parse(text) : null;
  } catch {
    return null;
  }
}

async function loadBundle() {
  try {
    // no-cache: online, a revocation made a minute ago must count, whatever max-age says.
    const response = await fetch(BUNDLE_URL, { cache: "no-cache", headers: { Accept: "application/json" } });
    if (response.ok) {
      const bundle = await response.json();
      rememberBundle(bundle);
      return bundle;
    }
  } catch {
    // Offline and no service worker copy: fall back on what this browser kept.
  }
  return storedBundle();
}

function ageText(seconds) {
  if (seconds < 120) return t("verify.age_minutes", { n: 1 });
  if (seconds < 7200) return t("verify.age_minutes", { n: Math.round(seconds / 60) });
  if (seconds < 172800) return t("verify.age_hours", { n: Math.round(seconds / 3600) });
  return t("verify.age_days", { n: Math.round(seconds / 86400) });
}

function renderTrustAge() {
  const box = clear($("#trust-age"));
  const bundle = state.bundle;
  if (!bundle) {
    box.append(el("div", { class: "fr-alert fr-alert--error" },
      el("h2", { class: "fr-alert__title", text: t("verify.trust_missing_title") }),
      el("p", { text: t("verify.trust_missing") })));
    return;
  }
  const now = nowSeconds();
  const generated = Number(bundle.generated_at) || 0;
  const age = Math.max(0, now - generated);
  const list = bundle.trust_list;
  const stale =
    (Number(bundle.max_age) > 0 && age > Number(bundle.max_age)) ||
    (list && Number(list.fresh_until) > 0 && now > Number(list.fresh_until));
  const when = formatDateTime(new Date(generated * 1000).toISOString());
  const issuers = (bundle.issuers || []).length;
  const lines = [
    el("p", { id: "trust-age-text", text: t("verify.trust_age", { when, age: ageText(age), issuers }) }),
  ];
  if (!navigator.onLine) lines.push(el("p", { text: t("verify.offline_note") }));
  if (stale) lines.push(el("p", { id: "trust-stale", text: t("verify.trust_stale") }));
  box.append(
    el("div", { class: `fr-alert fr-alert--sm ${stale ? "fr-alert--warning" : "fr-alert--info"}` }, ...lines),
  );
}

async function loadLabels() {
  try {
    const response = await fetch("/api/v1/framework", { headers: { Accept: "application/json" } });
    if (!response.ok) return;
    const tree = await response.json();
    // Every node with a code and labels: competences of areas and the Premiers pas skills.
    const walk = (node) => {
      if (Array.isArray(node)) node.forEach(walk);
      else if (node && typeof node === "object") {
        if (typeof node.code === "string" && typeof node.label_fr === "string") {
          state.labels.set(node.code, { fr: node.label_fr, en: node.label_en || node.label_fr });
        }
        Object.values(node).forEach(walk);
      }
    };
    walk(tree);
  } catch {
    // Offline with no cached framework: skills show their codes.
  }
}

function labelOf(code, fr, en) {
  const known = state.labels.get(code);
  const lang = currentLang();
  if (known) return lang === "en" ? known.en : known.fr;
  return (lang === "en" ? en || fr : fr || en) || code;
}

// --- The verdict --------------------------------------------------------------------------------

const dayIso = (seconds) => new Date(seconds * 1000).toISOString();

/** One shape for both sources: the browser's verdict and the server's answer to a typed code. */
function fromBrowser(v) {
  if (!v.claims) return { result: v.result };
  return {
    result: v.result,
    territory: (v.issuer && v.issuer.name) || v.claims.iss,
    // A revoked credential names nobody: it may be revoked because its holder's data was erased.
    holder: v.result === "revoked" ? null : v.claims.n || null,
    issuedAt: dayIso(v.claims.iat),
    expiresAt: dayIso(v.claims.exp),
    skills: v.skills.map((s) => ({ ...s, label: labelOf(s.code) })),
  };
}

function fromServer(answer) {
  if (!answer.skills) return { result: answer.result };
  return {
    result: answer.result,
    territory: answer.territory || answer.issuer,
    holder: answer.holder_name || null, // the server names nobody on a revoked credential
    issuedAt: dayIso(answer.issued_at),
    expiresAt: dayIso(answer.expires_at),
    skills: answer.skills.map((s) => ({ ...s, label: labelOf(s.code, s.label_fr, s.label_en) })),
  };
}

function renderVerdict(view, source) {
  const box = clear($("#result"));
  const valid = view.result === "valid";
  const title = valid ? t("verify.valid_title") : t("verify.invalid_title");
  const panel = el(
    "section",
    {
      class: `verdict ${valid ? "verdict--valid" : "verdict--invalid"}`,
      id: "verdict",
      "data-result": view.result,
      "aria-labelledby": "verdict-title",
    },
    el("h2", {
      id: "verdict-title",
      class: `verdict__title ${valid ? "fr-icon-checkbox-circle-fill" : "fr-icon-close-circle-fill"}`,
      text: title,
    }),
    el("p", { class: "verdict__reason", id: "verdict-reason", text: t(`verify.reasons.${view.result}`) }),
  );
  if (view.skills) {
    // A signed but refused credential still shows whose it is, marked as not established.
    if (!valid) panel.append(el("p", { class: "fr-text--bold", text: t("verify.invalid_details") }));
    const facts = el("dl");
    const fact = (term, value) => {
      if (value) facts.append(el("dt", { text: term }), el("dd", { text: value }));
    };
    fact(t("verify.issuer"), view.territory);
    const noName = view.result === "revoked" ? "verify.holder_withheld" : "verify.holder_absent";
    fact(t("verify.holder"), view.holder || t(noName));
    fact(t("verify.issued_at"), formatDate(view.issuedAt));
    fact(t("verify.expires_at"), formatDate(view.expiresAt));
    panel.append(facts);
    // data-label: on a phone each row is a card, every cell under its column's name (app.css).
    const label = (c) => t(`verify.col_${c}`);
    const rows = view.skills.map((s) =>
      el(
        "tr",
        {},
        el("td", { "data-label": label("skill") }, el("span", { text: s.label }), " ", el("span", { class: "skill-code", text: `(${s.code})` })),
        el("td", { "data-label": label("level"), text: t("common.level", { level: s.level }) }),
        el("td", { "data-label": label("date"), text: formatDate(s.date) }),
        el("td", { "data-label": label("structure"), text: s.structure }),
      ),
    );
    panel.append(
      el(
        "div",
        { class: "fr-table fr-table--no-caption" },
        el(
          "table",
          { id: "verdict-skills", class: "table--cards" },
          el("caption", { text: t("verify.skills_caption") }),
          el(
            "thead",
            {},
            el(
              "tr",
              {},
              ...["skill", "level", "date", "structure"].map((c) =>
                el("th", { scope: "col", text: t(`verify.col_${c}`) }),
              ),
            ),
          ),
          el("tbody", {}, ...rows),
        ),
      ),
    );
  }
  panel.append(el("p", { class: "fr-text--sm", text: t(`verify.source_${source}`) }));
  box.append(panel);
  box.focus();
}

/** A new check starts: the previous verdict goes, so no old "Valide" stays beside a new mistake. */
function forgetVerdict() {
  clear($("#result"));
}

// The access card's QR code leads the holder to their own passport (/citoyen#numero=P-…, or the
// older /#/citoyen?numero=…): it is no credential, and says nothing about skills.
const CARD_QR = /\/(?:#\/)?citoyen[#?]numero=/;

async function verifyText(text) {
  if (CARD_QR.test(text)) {
    clear($("#result")).append(alertBox("info", t("verify.card_qr"), t("verify.card_qr_title")));
    return;
  }
  // With no trust data yet, nothing is trusted: a credential reads untrusted_issuer, and the
  // banner above says why.
  const verdict = await verifyQrText(text, state.bundle || { issuers: [] }, nowSeconds());
  renderVerdict(fromBrowser(verdict), "browser");
}

// --- QR decoding ---------------------------------------------------------------------------------

let jsqrLoading = null;

function loadJsQR() {
  if (window.jsQR) return Promise.resolve(window.jsQR);
  if (!jsqrLoading) {
    jsqrLoading = new Promise((resolve, reject) => {
      const script = el("script", { src: JSQR_URL });
      script.addEventListener("load", () => resolve(window.jsQR));
      script.addEventListener("error", () => reject(new Error("jsQR did not load")));
      document.head.append(script);
    });
  }
  return jsqrLoading;
}

let detector;

async function barcodeDetector() {
  if (detector !== undefined) return detector;
  detector = null;
  if ("BarcodeDetector" in window) {
    try {
      const formats = await window.BarcodeDetector.getSupportedFormats();
      if (formats.includes("qr_code")) detector = new window.BarcodeDetector({ formats: ["qr_code"] });
    } catch {
      detector = null;
    }
  }
  return detector;
}

/** The text of the first QR code in an image source (img, bitmap, video), or null. */
async function decode(source, width, height) {
  const native = await barcodeDetector();
  if (native) {
    try {
      const codes = await native.detect(source);
      const qr = codes.find((c) => c.rawValue);
      if (qr) return qr.rawValue;
    } catch {
      // Fall through to jsQR on the same pixels.
    }
  }
  const scale = Math.min(1, MAX_DECODE_SIDE / Math.max(width, height));
  const w = Math.max(1, Math.round(width * scale));
  const h = Math.max(1, Math.round(height * scale));
  const canvas = el("canvas", { width: w, height: h });
  const context = canvas.getContext("2d", { willReadFrequently: true });
  context.drawImage(source, 0, 0, w, h);
  const jsQR = await loadJsQR();
  const found = jsQR(context.getImageData(0, 0, w, h).data, w, h, { inversionAttempts: "attemptBoth" });
  return found ? found.data : null;
}

// Vector images (the SVG `passeport` writes) have no pixels until drawn: at least this many on
// the long side, so every module of a dense QR code covers several of them.
const MIN_VECTOR_SIDE = 1200;

/** A drawable of the picked file: a bitmap for photos and PNGs, a canvas for SVG. */
async function imageOf(file) {
  if (file.type !== "image/svg+xml" && !/\.svg$/i.test(file.name)) {
    const bitmap = await createImageBitmap(file);
    return { source: bitmap, width: bitmap.width, height: bitmap.height, close: () => bitmap.close() };
  }
  // createImageBitmap refuses SVG in Chromium: through an <img>, then a canvas.
  const url = URL.createObjectURL(file);
  try {
    const img = new Image();
    img.src = url;
    await img.decode();
    const ratio = img.naturalWidth && img.naturalHeight ? img.naturalWidth / img.naturalHeight : 1;
    const long = Math.max(MIN_VECTOR_SIDE, img.naturalWidth, img.naturalHeight);
    const width = Math.round(ratio >= 1 ? long : long * ratio);
    const height = Math.round(ratio >= 1 ? long / ratio : long);
    const canvas = el("canvas", { width, height });
    const context = canvas.getContext("2d");
    // A transparent background reads as black once decoded: paint it white first.
    context.fillStyle = "#fff";
    context.fillRect(0, 0, width, height);
    context.drawImage(img, 0, 0, width, height);
    return { source: canvas, width, height, close: () => {} };
  } finally {
    URL.revokeObjectURL(url);
  }
}

async function onPhoto(event) {
  const file = event.target.files && event.target.files[0];
  const status = $("#photo-status");
  if (!file) return;
  forgetVerdict();
  status.textContent = t("verify.photo_reading");
  try {
    const image = await imageOf(file);
    const text = await decode(image.source, image.width, image.height);
    image.close();
    if (text === null) {
      status.textContent = t("verify.no_qr_found");
      return;
    }
    status.textContent = "";
    await verifyText(text);
  } catch {
    status.textContent = t("verify.photo_unreadable");
  } finally {
    event.target.value = "";
  }
}

// --- Camera ---------------------------------------------------------------------------------------

function stopCamera() {
  state.scanning = false;
  if (state.stream) state.stream.getTracks().forEach((track) => track.stop());
  state.stream = null;
  const video = $("#scan-video");
  video.srcObject = null;
  video.hidden = true;
  $("#scan-stop").hidden = true;
  $("#scan-start").hidden = false;
}

async function scanLoop() {
  const video = $("#scan-video");
  while (state.scanning) {
    if (video.readyState >= 2 && video.videoWidth > 0) {
      let text;
      try {
        text = await decode(video, video.videoWidth, video.videoHeight);
      } catch {
        text = null;
      }
      if (text !== null && state.scanning) {
        stopCamera();
        $("#scan-status").textContent = t("verify.scan_found");
        await verifyText(text);
        return;
      }
    }
    await new Promise((resolve) => setTimeout(resolve, SCAN_INTERVAL_MS));
  }
}

async function startCamera() {
  const status = $("#scan-status");
  forgetVerdict();
  if (!navigator.mediaDevices || !navigator.mediaDevices.getUserMedia) {
    status.textContent = t("verify.camera_unavailable");
    return;
  }
  try {
    state.stream = await navigator.mediaDevices.getUserMedia({
      video: { facingMode: { ideal: "environment" } },
      audio: false,
    });
  } catch {
    status.textContent = t("verify.camera_refused");
    return;
  }
  const video = $("#scan-video");
  video.srcObject = state.stream;
  video.hidden = false;
  await video.play().catch(() => {});
  $("#scan-start").hidden = true;
  $("#scan-stop").hidden = false;
  $("#scan-stop").focus();
  status.textContent = t("verify.scan_running");
  state.scanning = true;
  scanLoop();
}

// --- Typed code -----------------------------------------------------------------------------------

async function onCode(event) {
  event.preventDefault();
  const status = $("#code-status");
  const group = $("#code-group");
  const code = $("#code").value.trim();
  forgetVerdict();
  group.classList.remove("fr-input-group--error");
  if (!code) {
    group.classList.add("fr-input-group--error");
    status.textContent = t("verify.code_empty");
    return;
  }
  // Checked here first, offline too: a typing mistake is named as one.
  const checked = checkNumber(code, "V-");
  if (!checked.number) {
    group.classList.add("fr-input-group--error");
    status.textContent = t(`verify.code_${checked.mistake}`, {
      count: checked.length,
      characters: checked.characters,
    });
    return;
  }
  if (!navigator.onLine) {
    status.textContent = t("verify.code_needs_network");
    return;
  }
  status.textContent = t("common.loading");
  try {
    const answer = await api("POST", "/api/v1/verify", { code });
    if (answer.result === "malformed" && !answer.skills) {
      // Not the shape of a code, or its check character is wrong: a typing mistake.
      group.classList.add("fr-input-group--error");
      status.textContent = t("verify.code_invalid");
      return;
    }
    status.textContent = "";
    renderVerdict(fromServer(answer), "server");
  } catch (error) {
    if (error.status === 0) status.textContent = t("verify.code_needs_network");
    else if (error.code === "unknown_code") status.textContent = t("verify.code_unknown");
    else status.textContent = error.message;
    if (error.status !== 0) group.classList.add("fr-input-group--error");
  }
}

// --- Start ------------------------------------------------------------------------------------------

async function registerServiceWorker() {
  if (!("serviceWorker" in navigator)) return;
  try {
    // Its scope is this page's path: /verify, or /verifier (printed on attestations), which
    // /verify does not cover (a scope is a prefix of the path).
    const scope = location.pathname === "/verifier" ? "/verifier" : "/verify";
    await navigator.serviceWorker.register("/verify-sw.js", { scope });
  } catch {
    // Not fatal: the page works online, and keeps the trust data in localStorage.
  }
}

async function main() {
  await initPage("verify");
  $("#scan-start").addEventListener("click", startCamera);
  $("#scan-stop").addEventListener("click", () => {
    stopCamera();
    $("#scan-status").textContent = "";
    $("#scan-start").focus();
  });
  $("#photo").addEventListener("change", onPhoto);
  $("#code-form").addEventListener("submit", onCode);
  window.addEventListener("online", renderTrustAge);
  window.addEventListener("offline", renderTrustAge);
  const [bundle] = await Promise.all([loadBundle(), loadLabels()]);
  state.bundle = bundle;
  renderTrustAge();
  registerServiceWorker();
  await checkPrintedCode();
  // Another attestation's link opened in this tab changes only the fragment.
  window.addEventListener("hashchange", checkPrintedCode);
  document.body.dataset.ready = "true";
}

async function checkPrintedCode() {
  const printed = printedCode();
  if (!printed) return;
  $("#code").value = printed;
  await onCode(new Event("submit", { cancelable: true }));
}

// The attestation's link (app/core/addresses.py): /verifier#code=V-…, or ?code= typed by hand.
// Read, then dropped from the address bar so that it does not stay in the history.
function printedCode() {
  const fromHash = new URLSearchParams(location.hash.replace(/^#/, "")).get("code");
  const code = fromHash || new URLSearchParams(location.search).get("code");
  if (code) history.replaceState(null, "", location.pathname);
  return code ? code.trim() : null;
}

main();
