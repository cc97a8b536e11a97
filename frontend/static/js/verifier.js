// @ts-check
// The credential verifier, in the browser: an independent implementation of
// docs/credential-format.md (section 7), answering exactly the server's verdicts in the server's
// order. Pure: no DOM, no network, no clock. The caller passes the trust data (the shape of
// GET /api/v1/trust/bundle) and the time, so the same text gives the same verdict online and
// offline, and the test vectors of tests/vectors/ run through it unchanged.
//
//   import { verifyQrText } from "/static/js/verifier.js";
//   const { result, reason, claims, skills, issuer } = await verifyQrText(text, bundle, now);
//
// Python's reference (app/credentials/format.py) counts string lengths in code points, refuses
// duplicate JSON members, NaN and floats where integers are due: the small JSON parser below does
// the same, because JSON.parse would silently accept what the server refuses.

export const PREFIX = "PN1:";
export const TYP = "pnc+jws";
export const STATUS_TYP = "statuslist+jwt";
export const MAX_QR_TEXT = 4004;
export const MAX_HEADER_B64 = 256;
export const MAX_INFLATED_BYTES = 16384;
export const MAX_STATUS_TOKEN = 1000000;
export const MAX_STATUS_LIST_BYTES = 1 << 20;
export const LEEWAY_SECONDS = 300;
const MAX_TIME = 2 ** 40;
const MAX_DAY = 100000;
const MAX_STATUS_IDX = 2 ** 31 - 1;
const MAX_SKILLS = 64;

export const RESULTS = [
  "valid",
  "malformed",
  "unsupported_format",
  "untrusted_issuer",
  "unknown_key",
  "bad_signature",
  "not_yet_valid",
  "expired",
  "revoked",
  "status_unavailable",
];
// Not a verdict of the format's pipeline: the server (app/credentials/verifier.py) turns a
// `valid` into this when the issuer is trusted only through the federation's trust list and that
// list is past its fresh_until. The bundle says both (issuer `source`, `trust_list`).
export const STALE_TRUST_LIST = "stale_trust_list";

class FormatError extends Error {}

// --- Strict codecs --------------------------------------------------------------------------

const B64URL = /^[A-Za-z0-9_-]*$/;
const B64_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
const B64_VALUE = new Map([...B64_ALPHABET].map((c, i) => [c, i]));

/** Base64url without padding; like Python's decoder, stray low bits of the last character are
 * ignored. Throws FormatError on anything else. */
export function b64urlDecode(text) {
  if (!B64URL.test(text) || text.length % 4 === 1) throw new FormatError("not base64url");
  const out = new Uint8Array(Math.floor((text.length * 3) / 4));
  let bits = 0;
  let acc = 0;
  let n = 0;
  for (const c of text) {
    acc = (acc << 6) | B64_VALUE.get(c);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out[n++] = (acc >> bits) & 0xff;
    }
  }
  return out.subarray(0, n);
}

function b64urlEncode(bytes) {
  let out = "";
  let i = 0;
  for (; i + 2 < bytes.length; i += 3) {
    const v = (bytes[i] << 16) | (bytes[i + 1] << 8) | bytes[i + 2];
    out += B64_ALPHABET[v >> 18] + B64_ALPHABET[(v >> 12) & 63];
    out += B64_ALPHABET[(v >> 6) & 63] + B64_ALPHABET[v & 63];
  }
  const rest = bytes.length - i;
  if (rest === 1) {
    const v = bytes[i] << 16;
    out += B64_ALPHABET[v >> 18] + B64_ALPHABET[(v >> 12) & 63];
  } else if (rest === 2) {
    const v = (bytes[i] << 16) | (bytes[i + 1] << 8);
    out += B64_ALPHABET[v >> 18] + B64_ALPHABET[(v >> 12) & 63] + B64_ALPHABET[(v >> 6) & 63];
  }
  return out;
}

/** A JSON number written with a fraction or an exponent: Python's float, never an integer. */
class JsonFloat {
  constructor(value) {
    this.value = value;
  }
}

// Python's json: whitespace is exactly these four; strings refuse raw control characters.
const JSON_WS = new Set([" ", "\t", "\n", "\r"]);
const JSON_NUMBER = /-?(?:0|[1-9][0-9]*)(\.[0-9]+)?([eE][-+]?[0-9]+)?/y;
// Python refuses JSON nested deeper than its recursion limit allows (about 900 to 990 levels,
// depending on the caller's stack): no fixed bound can match it exactly. Nothing honest nests
// at all, and 500 keeps this parser's recursion far from the browser's own limit.
const MAX_DEPTH = 500;

/** Strict JSON from UTF-8 bytes: invalid UTF-8, a BOM, duplicate members, NaN/Infinity and deep
 * nesting are refused (FormatError); objects have no prototype; non-integers are JsonFloat. */
export function loadsStrict(bytes) {
  let text;
  try {
    text = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true }).decode(bytes);
  } catch {
    throw new FormatError("invalid JSON: not UTF-8");
  }
  let pos = 0;
  const fail = (what) => {
    throw new FormatError(`invalid JSON: ${what} at ${pos}`);
  };
  const skip = () => {
    while (pos < text.length && JSON_WS.has(text[pos])) pos++;
  };
  // After any whitespace: takes `char` if it comes next, and says whether it did.
  const eat = (char) => {
    skip();
    if (text[pos] !== char) return false;
    pos++;
    return true;
  };
  const parseString = () => {
    pos++; // the opening quote
    let out = "";
    for (;;) {
      if (pos >= text.length) fail("unterminated string");
      const c = text[pos];
      if (c === '"') {
        pos++;
        return out;
      }
      if (c === "\\") {
        const e = text[pos + 1];
        const simple = { '"': '"', "\\": "\\", "/": "/", b: "\b", f: "\f", n: "\n", r: "\r", t: "\t" };
        if (e in simple) {
          out += simple[e];
          pos += 2;
        } else if (e === "u") {
          const hex = text.slice(pos + 2, pos + 6);
          if (!/^[0-9a-fA-F]{4}$/.test(hex)) fail("bad \\u escape");
          out += String.fromCharCode(parseInt(hex, 16));
          pos += 6;
        } else {
          fail("bad escape");
        }
        continue;
      }
      if (c.charCodeAt(0) < 0x20) fail("control character in string");
      out += c;
      pos++;
    }
  };
  const parseValue = (depth) => {
    if (depth > MAX_DEPTH) fail("nesting too deep");
    skip();
    const c = text[pos];
    if (c === "{") {
      pos++;
      const obj = Object.create(null);
      if (eat("}")) return obj;
      for (;;) {
        skip();
        if (text[pos] !== '"') fail("expected a member name");
        const key = parseString();
        if (Object.prototype.hasOwnProperty.call(obj, key)) {
          throw new FormatError(`duplicate member ${JSON.stringify(key.slice(0, 20))}`);
        }
        if (!eat(":")) fail("expected ':'");
        obj[key] = parseValue(depth + 1);
        if (eat("}")) return obj;
        if (!eat(",")) fail("expected ',' or '}'");
      }
    }
    if (c === "[") {
      pos++;
      const arr = [];
      if (eat("]")) return arr;
      for (;;) {
        arr.push(parseValue(depth + 1));
        if (eat("]")) return arr;
        if (!eat(",")) fail("expected ',' or ']'");
      }
    }
    if (c === '"') return parseString();
    for (const [word, value] of /** @type {[string, boolean | null][]} */ ([["true", true], ["false", false], ["null", null]])) {
      if (text.startsWith(word, pos)) {
        pos += word.length;
        return value;
      }
    }
    JSON_NUMBER.lastIndex = pos;
    const m = JSON_NUMBER.exec(text);
    if (m === null) fail("unexpected character");
    pos += m[0].length;
    const value = Number(m[0]);
    return m[1] !== undefined || m[2] !== undefined ? new JsonFloat(value) : value;
  };
  const value = parseValue(0);
  skip();
  if (pos !== text.length) fail("extra data");
  return value;
}

const isObject = (v) => v !== null && typeof v === "object" && !Array.isArray(v) && !(v instanceof JsonFloat);
const has = (obj, key) => Object.prototype.hasOwnProperty.call(obj, key);
const codePoints = (s) => [...s].length;

/** Read a stream into at most `cap` bytes; more, or a broken stream, throws FormatError. */
async function inflate(bytes, format, cap) {
  const stream = new Blob([bytes]).stream().pipeThrough(new DecompressionStream(format));
  const reader = stream.getReader();
  const chunks = [];
  let total = 0;
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      total += value.length;
      if (total > cap) {
        // Stop there: a decompression bomb costs no more than the cap.
        reader.cancel().catch(() => {});
        throw new FormatError(`inflated data exceeds ${cap} bytes`);
      }
      chunks.push(value);
    }
  } catch (exc) {
    if (exc instanceof FormatError) throw exc;
    throw new FormatError(`invalid compressed data: ${exc && exc.message}`);
  }
  const out = new Uint8Array(total);
  let at = 0;
  for (const chunk of chunks) {
    out.set(chunk, at);
    at += chunk.length;
  }
  return out;
}

// --- QR text ----------------------------------------------------------------------------------

/** The JWS inside a QR text, or FormatError (length first, then prefix, digits, pairs). */
export function qrTextToJws(text) {
  if (text.length > MAX_QR_TEXT) throw new FormatError(`QR text longer than ${MAX_QR_TEXT} characters`);
  if (!text.startsWith(PREFIX)) throw new FormatError(`QR text does not start with ${PREFIX}`);
  const digits = text.slice(PREFIX.length);
  if (!digits) throw new FormatError("no digits after the prefix");
  if (!/^[0-9]+$/.test(digits)) throw new FormatError("only digits 0-9 may follow the prefix");
  if (digits.length % 2) throw new FormatError("odd number of digits");
  let out = "";
  for (let i = 0; i < digits.length; i += 2) {
    const n = Number(digits.slice(i, i + 2));
    if (n > 77) throw new FormatError("a digit pair is above 77");
    out += String.fromCharCode(n + 45);
  }
  return out;
}

// --- Claims -----------------------------------------------------------------------------------

// Python's str.isspace() characters: what `\S` excludes in the server's URL pattern.
// eslint-disable-next-line no-control-regex -- Python's isspace() counts these control characters
const PY_SPACE = /[\t\n\x0b\x0c\r\x1c-\x1f \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]/u;
const URL_START = /^https?:\/\//;
const CODE = /^[a-z][a-z0-9-]{0,15}:[A-Za-z0-9._-]+$/;
const FV_KEY = /^[a-z][a-z0-9-]{0,15}$/;

class ClaimsError extends FormatError {}

function int(value, where, low, high) {
  // Python's `type(value) is int`: no bool, no float (JsonFloat), no string.
  if (typeof value !== "number") throw new ClaimsError(`${where} must be an integer`);
  if (!(low <= value && value <= high)) throw new ClaimsError(`${where} must be between ${low} and ${high}`);
  return value;
}

function str(value, where, maxChars) {
  if (typeof value !== "string") throw new ClaimsError(`${where} must be a string`);
  const n = codePoints(value);
  if (n < 1 || n > maxChars) throw new ClaimsError(`${where} must be 1 to ${maxChars} characters`);
  return value;
}

function url(value, where) {
  const text = str(value, where, 200);
  const rest = text.replace(URL_START, "");
  if (rest === text || rest === "" || PY_SPACE.test(rest)) {
    throw new ClaimsError(`${where} must be an http(s) URL`);
  }
  return text;
}

const ISO_DAY = (day) => new Date(day * 86400000).toISOString().slice(0, 10);

/** Validate the claims as app.credentials.format.parse_claims does; returns the normalised
 * claims (Claims.to_json()) and the skills spelled out. */
export function parseClaims(obj) {
  if (!isObject(obj)) throw new ClaimsError("claims must be a JSON object");
  const required = ["iss", "iat", "nbf", "exp", "jti", "sub", "fv", "st", "sk", "status"];
  const missing = required.filter((k) => !has(obj, k));
  if (missing.length) throw new ClaimsError(`missing claims: ${missing.join(", ")}`);
  const iss = url(obj.iss, "iss");
  const iat = int(obj.iat, "iat", 0, MAX_TIME);
  const nbf = int(obj.nbf, "nbf", 0, MAX_TIME);
  const exp = int(obj.exp, "exp", 0, MAX_TIME);
  if (exp <= nbf) throw new ClaimsError("exp must be after nbf");
  const jti = str(obj.jti, "jti", 64);
  const sub = str(obj.sub, "sub", 64);
  const name = has(obj, "n") ? str(obj.n, "n", 80) : null;

  const fvRaw = obj.fv;
  if (!isObject(fvRaw) || Object.keys(fvRaw).length === 0) throw new ClaimsError("fv must be a non-empty object");
  const fv = {};
  for (const [key, version] of Object.entries(fvRaw)) {
    if (!FV_KEY.test(key)) throw new ClaimsError("fv key is not a framework code");
    fv[key] = str(version, `fv.${key}`, 16);
  }
  const st = obj.st;
  if (!Array.isArray(st) || st.length < 1 || st.length > MAX_SKILLS) {
    throw new ClaimsError("st must be an array of 1 to 64 structure names");
  }
  const structures = st.map((item, i) => str(item, `st[${i}]`, 60));
  const sk = obj.sk;
  if (!Array.isArray(sk) || sk.length < 1 || sk.length > MAX_SKILLS) {
    throw new ClaimsError("sk must be an array of 1 to 64 skills");
  }
  const skills = sk.map((item, i) => {
    const where = `sk[${i}]`;
    if (!Array.isArray(item) || item.length !== 4) {
      throw new ClaimsError(`${where} must be an array [code, level, day, structure index]`);
    }
    const code = str(item[0], `${where}[0] (code)`, 64);
    if (!CODE.test(code)) throw new ClaimsError(`${where}[0] (code) must look like 'crcn:4.1'`);
    const level = int(item[1], `${where}[1] (level)`, 1, 8);
    const day = int(item[2], `${where}[2] (day)`, 0, MAX_DAY);
    const index = int(item[3], `${where}[3] (structure index)`, 0, structures.length - 1);
    return { code, level, day, date: ISO_DAY(day), structure: structures[index] };
  });
  skills.forEach((skill, i) => {
    if (!has(fv, skill.code.split(":", 1)[0])) {
      throw new ClaimsError(`sk[${i}]: no version in fv for the framework of ${skill.code}`);
    }
  });
  const status = obj.status;
  const ref = isObject(status) && has(status, "status_list") ? status.status_list : null;
  if (!isObject(ref) || !has(ref, "idx") || !has(ref, "uri")) {
    throw new ClaimsError('status must be {"status_list": {"idx": N, "uri": "…"}}');
  }
  const idx = int(ref.idx, "status.status_list.idx", 0, MAX_STATUS_IDX);
  const uri = url(ref.uri, "status.status_list.uri");

  // Claims.to_json(): structure names once each, in order of first use.
  const names = [...new Set(skills.map((s) => s.structure))];
  const claims = { iss, iat, nbf, exp, jti, sub };
  if (name !== null) claims.n = name;
  claims.fv = fv;
  claims.st = names;
  claims.sk = skills.map((s) => [s.code, s.level, s.day, names.indexOf(s.structure)]);
  claims.status = { status_list: { idx, uri } };
  return { claims, skills };
}

// --- Keys and trust ---------------------------------------------------------------------------

const encoder = new TextEncoder();

/** RFC 7638 thumbprint of a P-256 public JWK: SHA-256 over its required members, base64url. */
export async function thumbprint(jwk) {
  const canonical = JSON.stringify({ crv: jwk.crv, kty: jwk.kty, x: jwk.x, y: jwk.y });
  return b64urlEncode(new Uint8Array(await crypto.subtle.digest("SHA-256", encoder.encode(canonical))));
}

async function importKey(jwk) {
  return crypto.subtle.importKey(
    "jwk",
    { kty: "EC", crv: "P-256", x: jwk.x, y: jwk.y, ext: true },
    { name: "ECDSA", namedCurve: "P-256" },
    false,
    ["verify"],
  );
}

const prepared = new WeakMap();

/** The trust store from a trust bundle: iss -> {name, keys: kid -> CryptoKey, lists: uri ->
 * token}. A key whose kid is not its thumbprint, or that is not a P-256 public key, is left out
 * (and listed in `skipped`): what it signed then fails with unknown_key. */
export async function prepareTrust(bundle) {
  if (prepared.has(bundle)) return prepared.get(bundle);
  const issuers = new Map();
  const skipped = [];
  for (const entry of (bundle && bundle.issuers) || []) {
    if (!entry || typeof entry.iss !== "string") continue;
    const keys = new Map();
    for (const jwk of (entry.jwks && entry.jwks.keys) || []) {
      const usable =
        jwk && jwk.kty === "EC" && jwk.crv === "P-256" && typeof jwk.x === "string" &&
        typeof jwk.y === "string" && typeof jwk.kid === "string" && !("d" in jwk) &&
        (jwk.alg === undefined || jwk.alg === "ES256");
      try {
        if (!usable || (await thumbprint(jwk)) !== jwk.kid) throw new Error("kid is not the thumbprint");
        keys.set(jwk.kid, await importKey(jwk));
      } catch {
        skipped.push({ iss: entry.iss, kid: jwk && jwk.kid });
      }
    }
    const lists = new Map();
    for (const list of entry.status_lists || []) {
      if (list && typeof list.uri === "string" && typeof list.token === "string") lists.set(list.uri, list.token);
    }
    issuers.set(entry.iss, {
      name: entry.name || null,
      source: entry.source || "local",
      keys,
      lists,
      statusCache: new Map(),
    });
  }
  const list = bundle && bundle.trust_list;
  const freshUntil = list && typeof list.fresh_until === "number" ? list.fresh_until : null;
  const store = { issuers, skipped, freshUntil };
  if (bundle && typeof bundle === "object") prepared.set(bundle, store);
  return store;
}

async function es256Verify(key, signingInput, signature) {
  // The JWS signature is already R || S, which is what WebCrypto's ECDSA takes.
  if (signature.length !== 64) return false;
  return crypto.subtle.verify({ name: "ECDSA", hash: "SHA-256" }, key, signature, encoder.encode(signingInput));
}

// --- Status list ------------------------------------------------------------------------------

class StatusListError extends Error {}

/** Check a Status List Token as app.credentials.statuslist.verify_status_list_jwt does, and
 * return its statuses: {bits, data}. Throws StatusListError. */
export async function verifyStatusListToken(token, keys, uri, now, cache = null) {
  if (typeof token !== "string" || token.length > MAX_STATUS_TOKEN) throw new StatusListError("token too large");
  const parts = token.split(".");
  if (parts.length !== 3) throw new StatusListError("not a compact JWS");
  let header;
  try {
    header = loadsStrict(b64urlDecode(parts[0]));
  } catch (exc) {
    throw new StatusListError(`header: ${exc.message}`);
  }
  const members = isObject(header) ? Object.keys(header).sort().join(",") : "";
  if (members !== "alg,kid,typ") throw new StatusListError("header must be exactly alg, kid, typ");
  if (header.alg !== "ES256" || header.typ !== STATUS_TYP) throw new StatusListError("wrong alg or typ");
  const key = typeof header.kid === "string" ? keys.get(header.kid) : undefined;
  if (key === undefined) throw new StatusListError("token not signed with a trusted key");
  let checked = cache && cache.get(token);
  if (checked === undefined) {
    let signature;
    let payload;
    try {
      signature = b64urlDecode(parts[2]);
      payload = b64urlDecode(parts[1]);
    } catch {
      throw new StatusListError("not base64url");
    }
    if (!(await es256Verify(key, `${parts[0]}.${parts[1]}`, signature))) {
      throw new StatusListError("signature does not verify");
    }
    let claims;
    try {
      claims = loadsStrict(payload);
    } catch (exc) {
      throw new StatusListError(`claims: ${exc.message}`);
    }
    checked = { claims };
    if (cache) cache.set(token, checked);
  }
  const claims = checked.claims;
  if (!isObject(claims)) throw new StatusListError("claims must be an object");
  for (const name of ["iat", "exp", "ttl"]) {
    if (typeof claims[name] !== "number") throw new StatusListError(`${name} must be an integer`);
  }
  if (typeof claims.sub !== "string") throw new StatusListError("sub must be the list's URI");
  if (claims.sub !== uri) throw new StatusListError("sub is not the credential's status URI");
  if (claims.exp <= now) throw new StatusListError("status list token expired");
  if (checked.list === undefined) {
    const body = claims.status_list;
    if (!isObject(body)) throw new StatusListError("status_list must be an object");
    const { bits, lst } = body;
    if (typeof bits !== "number" || typeof lst !== "string") throw new StatusListError("need bits and lst");
    if (![1, 2, 4, 8].includes(bits)) throw new StatusListError("bits must be 1, 2, 4 or 8");
    let data;
    try {
      data = await inflate(b64urlDecode(lst), "deflate", MAX_STATUS_LIST_BYTES);
    } catch (exc) {
      throw new StatusListError(`lst: ${exc.message}`);
    }
    if (data.length === 0) throw new StatusListError("empty status list");
    checked.list = { bits, data };
  }
  return checked.list;
}

/** True when revoked, false when not, null when the status cannot be known. */
async function statusOf(issuer, uri, idx, now) {
  // Only a list the trust data names for this issuer: never a URL taken from the credential.
  const token = issuer.lists.get(uri);
  if (token === undefined) return null;
  let list;
  try {
    list = await verifyStatusListToken(token, issuer.keys, uri, now, issuer.statusCache);
  } catch {
    return null;
  }
  const size = Math.floor((list.data.length * 8) / list.bits);
  if (idx >= size) return null;
  const bit = idx * list.bits;
  const value = (list.data[bit >> 3] >> (bit & 7)) & ((1 << list.bits) - 1);
  return value !== 0;
}

// --- Verification -----------------------------------------------------------------------------

const verdict = (result, reason, extra = {}) => ({ result, reason, claims: null, ...extra });

/**
 * Verify a credential's QR text against trust data, at `nowSeconds` (NumericDate).
 * Returns {result, reason, claims, skills, issuer, kid}: `claims` (normalised as the server's
 * Claims.to_json()) and `skills` exactly when the signature held and the claims are valid.
 * `result` is one of RESULTS, or STALE_TRUST_LIST as the server answers it.
 */
export async function verifyQrText(text, trust, nowSeconds) {
  const store = trust && trust.issuers instanceof Map ? trust : await prepareTrust(trust);
  const bad = "malformed";
  if (typeof text !== "string") return verdict(bad, "QR text must be a string");
  let token;
  try {
    token = qrTextToJws(text);
  } catch (exc) {
    return verdict(bad, exc.message);
  }
  const parts = token.split(".");
  if (parts.length !== 3) return verdict(bad, "a compact JWS has three segments");
  const [headerB64, payloadB64, signatureB64] = parts;
  if (!parts.every((p) => B64URL.test(p))) return verdict(bad, "JWS segments must be base64url");
  if (headerB64.length > MAX_HEADER_B64) return verdict(bad, "JWS header too long");
  let header;
  try {
    header = loadsStrict(b64urlDecode(headerB64));
  } catch (exc) {
    return verdict(bad, `JWS header: ${exc.message}`);
  }
  if (!isObject(header)) return verdict(bad, "JWS header must be a JSON object");
  const unsupported = "unsupported_format";
  if (header.alg !== "ES256") return verdict(unsupported, "alg must be ES256");
  if (header.typ !== TYP) return verdict(unsupported, `typ must be ${TYP}`);
  if (header.zip !== "DEF") return verdict(unsupported, "zip must be DEF");
  if (Object.keys(header).sort().join(",") !== "alg,kid,typ,zip") {
    return verdict(unsupported, "header must be exactly alg, kid, typ, zip");
  }
  const kid = header.kid;
  if (typeof kid !== "string" || codePoints(kid) < 1 || codePoints(kid) > 64) {
    return verdict(bad, "kid must be a short string");
  }
  // The payload is not verified yet: only iss is read from it, to pick the keys.
  let payload;
  try {
    payload = loadsStrict(await inflate(b64urlDecode(payloadB64), "deflate-raw", MAX_INFLATED_BYTES));
  } catch (exc) {
    return verdict(bad, `payload: ${exc.message}`, { kid });
  }
  const iss = isObject(payload) ? payload.iss : undefined;
  if (typeof iss !== "string" || codePoints(iss) < 1 || codePoints(iss) > 200) {
    return verdict(bad, "payload has no usable iss", { kid });
  }
  const issuer = store.issuers.get(iss);
  if (issuer === undefined) return verdict("untrusted_issuer", `issuer ${iss} is not trusted`, { kid });
  const key = issuer.keys.get(kid);
  if (key === undefined) return verdict("unknown_key", `issuer ${iss} has no key ${kid}`, { kid });
  let signature;
  try {
    signature = b64urlDecode(signatureB64);
  } catch {
    return verdict("bad_signature", "signature is not base64url", { kid });
  }
  if (!(await es256Verify(key, `${headerB64}.${payloadB64}`, signature))) {
    return verdict("bad_signature", "signature does not verify", { kid });
  }
  let parsed;
  try {
    parsed = parseClaims(payload);
  } catch (exc) {
    return verdict(bad, `claims: ${exc.message}`, { kid });
  }
  const signed = { claims: parsed.claims, skills: parsed.skills, issuer: { iss, name: issuer.name }, kid };
  const { nbf, exp } = parsed.claims;
  if (nbf > nowSeconds + LEEWAY_SECONDS) return verdict("not_yet_valid", "not valid before nbf", signed);
  if (exp <= nowSeconds - LEEWAY_SECONDS) return verdict("expired", "expired", signed);
  const { idx, uri } = parsed.claims.status.status_list;
  const revoked = await statusOf(issuer, uri, idx, nowSeconds);
  if (revoked === null) return verdict("status_unavailable", "status list unavailable", signed);
  if (revoked) return verdict("revoked", "revoked by its issuer", signed);
  if (issuer.source === "trust_list" && store.freshUntil !== null && store.freshUntil <= nowSeconds) {
    return verdict(STALE_TRUST_LIST, "the federation trust list vouching for this issuer is stale", signed);
  }
  return verdict("valid", "valid", signed);
}
