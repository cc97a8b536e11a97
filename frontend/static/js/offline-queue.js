// The mediator's offline store (docs/frontend.md, "Offline mediation"; docs/privacy.md, "On a
// mediator's device"): one IndexedDB database, three stores, nothing of the DOM.
//
//   items      what was recorded and not yet accepted by the server: a validation or a new
//              passport, with the client-made id that is its Idempotency-Key. Each belongs to one
//              account and is only ever sent under that account's session.
//   passports  the passports this mediator opened while online (the server's view), to keep
//              working on them offline; each expires with the staff session that read it.
//   meta       "identity": who is signed in on this device, until when (the session's rules).
//
// Exports:
//   newId()                       a random client id (32 hex), used as the Idempotency-Key.
//   provisionalRef()              a provisional reference shown for a passport opened offline.
//   addItem(item), items(account), updateItem(item), deleteItem(id)
//   savePassport(account, view, expiresAt), cachedPassport(account, id), cachedPassports(account)
//   saveIdentity(identity), identity(), touchIdentity()
//   forgetPeople()                drops the cached passports and the identity (session ended).
//   wipe(account)                 forgetPeople, then this account's items; deletes the database
//                                 when nothing is left in it (sign-out).
//   sync(account, send)           sends the account's waiting items in order (see below).

const DB_NAME = "passeport-mediation";
const DB_VERSION = 1;

/**
 * @typedef {"validation" | "passport"} ItemKind
 * @typedef {"waiting" | "refused"} ItemState
 * @typedef {{code: string, message: string, candidates?: string[], mergedInto?: string | null}} Refusal
 * @typedef {{
 *   id: string, account: number, seq: number, kind: ItemKind, state: ItemState,
 *   body: Record<string, unknown>, passportId: number | null, localRef: string | null,
 *   who: string, recordedAt: string, error?: Refusal | null,
 * }} Item
 * @typedef {{id: number, account: number, view: any, savedAt: string, expiresAt: number}} CachedPassport
 * @typedef {{account: number, displayName: string, structures: any[], structureIds: number[],
 *   expiresAt: number, idleSeconds: number | null, lastActive: number}} Identity
 */

/** @type {Promise<IDBDatabase> | null} */
let opening = null;

/** @returns {Promise<IDBDatabase>} */
function db() {
  if (!opening) {
    opening = new Promise((resolve, reject) => {
      const request = indexedDB.open(DB_NAME, DB_VERSION);
      request.onupgradeneeded = () => {
        const base = request.result;
        if (!base.objectStoreNames.contains("items")) base.createObjectStore("items", { keyPath: "id" });
        if (!base.objectStoreNames.contains("passports")) base.createObjectStore("passports", { keyPath: "key" });
        if (!base.objectStoreNames.contains("meta")) base.createObjectStore("meta", { keyPath: "key" });
      };
      request.onsuccess = () => {
        const base = request.result;
        // Another tab deleting the database (its sign-out) must not wait for us.
        base.onversionchange = () => {
          base.close();
          opening = null;
        };
        resolve(base);
      };
      request.onerror = () => {
        opening = null;
        reject(request.error);
      };
    });
  }
  return opening;
}

/**
 * One transaction on one store; resolves with the request's result once it is committed.
 * @param {string} store
 * @param {IDBTransactionMode} mode
 * @param {(s: IDBObjectStore) => IDBRequest | void} work
 * @returns {Promise<any>}
 */
async function run(store, mode, work) {
  const base = await db();
  return new Promise((resolve, reject) => {
    const tx = base.transaction(store, mode);
    const request = work(tx.objectStore(store));
    tx.oncomplete = () => resolve(request ? request.result : undefined);
    tx.onerror = () => reject(tx.error);
    tx.onabort = () => reject(tx.error);
  });
}

/** @returns {string} */
export function newId() {
  const bytes = new Uint8Array(16);
  crypto.getRandomValues(bytes);
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

// Letters and digits nobody mistakes for one another; "PROV-" so that it never looks like a
// passport number (P- and eight characters, made by the server only).
const ALPHABET = "BCDFGHJKMNPQRSTVWXZ23456789";

/** @returns {string} */
export function provisionalRef() {
  const bytes = new Uint8Array(6);
  crypto.getRandomValues(bytes);
  return `PROV-${Array.from(bytes, (b) => ALPHABET[b % ALPHABET.length]).join("")}`;
}

let lastSeq = 0;

/**
 * Queue an item; its order is the order of recording.
 * @param {Omit<Item, "seq" | "state">} item
 * @returns {Promise<Item>}
 */
export async function addItem(item) {
  lastSeq = Math.max(Date.now(), lastSeq + 1);
  /** @type {Item} */
  const stored = { ...item, seq: lastSeq, state: "waiting", error: null };
  await run("items", "readwrite", (s) => s.put(stored));
  return stored;
}

/**
 * @param {number} account
 * @returns {Promise<Item[]>} the account's items, oldest first
 */
export async function items(account) {
  /** @type {Item[]} */
  const all = await run("items", "readonly", (s) => s.getAll());
  return all.filter((i) => i.account === account).sort((a, b) => a.seq - b.seq);
}

/** Every account's items on this device, counted. */
export async function count() {
  /** @type {Item[]} */
  const all = await run("items", "readonly", (s) => s.getAll());
  return all.length;
}

/** @param {Item} item */
export function updateItem(item) {
  return run("items", "readwrite", (s) => s.put(item));
}

/** @param {string} id */
export function deleteItem(id) {
  return run("items", "readwrite", (s) => s.delete(id));
}

/**
 * Drop an item that was not accepted, never while a run may be sending it: under the same lock
 * as sync, so an item dropped is never sent. A passport's validations waiting for it go too
 * (they could go nowhere).
 * @param {string} id
 * @returns {Promise<boolean>} false when it left the store meanwhile (accepted by a run)
 */
export async function dropItem(id) {
  while (syncing) await syncing.catch(() => null);
  const work = async () => {
    /** @type {Item[]} */
    const all = await run("items", "readonly", (s) => s.getAll());
    const item = all.find((i) => i.id === id);
    if (!item) return false;
    await deleteItem(item.id);
    if (item.kind === "passport") {
      for (const other of all) {
        if (other.account === item.account && other.kind === "validation" && other.localRef === item.localRef
          && other.passportId === null) await deleteItem(other.id);
      }
    }
    return true;
  };
  const locks = /** @type {any} */ (navigator).locks;
  return locks ? locks.request("passeport-mediation-sync", work) : work();
}

/**
 * Keep the server's view of a passport read online, until the session that read it ends.
 * @param {number} account
 * @param {any} view
 * @param {number} expiresAt ms since the epoch
 */
export function savePassport(account, view, expiresAt) {
  const id = view.passport.id;
  return run("passports", "readwrite", (s) =>
    s.put({ key: `${account}:${id}`, account, id, view, savedAt: new Date().toISOString(), expiresAt }));
}

/**
 * @param {number} account
 * @param {number} id
 * @returns {Promise<CachedPassport | null>}
 */
export async function cachedPassport(account, id) {
  const found = await run("passports", "readonly", (s) => s.get(`${account}:${id}`));
  if (!found) return null;
  if (found.expiresAt <= Date.now()) {
    await run("passports", "readwrite", (s) => s.delete(`${account}:${id}`));
    return null;
  }
  return found;
}

/**
 * @param {number} account
 * @returns {Promise<CachedPassport[]>} still valid, most recently saved first
 */
export async function cachedPassports(account) {
  /** @type {CachedPassport[]} */
  const all = await run("passports", "readonly", (s) => s.getAll());
  const now = Date.now();
  return all
    .filter((p) => p.account === account && p.expiresAt > now)
    .sort((a, b) => (a.savedAt < b.savedAt ? 1 : -1));
}

/** @param {Identity} value */
export function saveIdentity(value) {
  return run("meta", "readwrite", (s) => s.put({ key: "identity", ...value }));
}

/**
 * Who signed in on this device, if their session's rules still allow it: before the session's
 * end, and not idle longer than the server would allow. Otherwise it is forgotten, with the
 * passports it read.
 * @returns {Promise<Identity | null>}
 */
export async function identity() {
  const found = await run("meta", "readonly", (s) => s.get("identity"));
  if (!found) return null;
  const now = Date.now();
  const idle = found.idleSeconds ? found.lastActive + found.idleSeconds * 1000 <= now : false;
  if (found.expiresAt <= now || idle) {
    await forgetPeople();
    return null;
  }
  return found;
}

/** The mediator did something: the idle rule counts from now. */
export async function touchIdentity() {
  const found = await run("meta", "readonly", (s) => s.get("identity"));
  if (found) await run("meta", "readwrite", (s) => s.put({ ...found, lastActive: Date.now() }));
}

/** The session ended: what was read about people goes; the waiting items stay for their author. */
export async function forgetPeople() {
  await run("passports", "readwrite", (s) => s.clear());
  await run("meta", "readwrite", (s) => s.clear());
}

/**
 * Sign-out: everything of this account, and the database itself when nothing else is in it.
 * @param {number | null} account
 */
export async function wipe(account) {
  await forgetPeople();
  /** @type {Item[]} */
  const all = await run("items", "readonly", (s) => s.getAll());
  const mine = all.filter((i) => i.account === account);
  for (const item of mine) await deleteItem(item.id);
  if (all.length === mine.length) {
    const base = await db();
    base.close();
    opening = null;
    await new Promise((resolve) => {
      const request = indexedDB.deleteDatabase(DB_NAME);
      request.onsuccess = request.onerror = request.onblocked = () => resolve(undefined);
    });
  }
}

/**
 * @typedef {{status: number, code: string, message: string, problem: any}} SendError
 * @typedef {(item: Item) => Promise<any>} Sender   resolves with the server's answer, or throws
 *   an ApiError-like SendError
 * @typedef {{sent: {item: Item, answer: any}[], refused: Item[], stopped: null | "offline" | "session" | "server"}} SyncResult
 */

let syncing = null;

/**
 * Send the account's waiting items, oldest first, one at a time. A validation for a passport
 * opened offline waits until that passport is accepted (then it goes to the real passport).
 * An item accepted (201, or 200 for a replay of its key) leaves the store; one refused (a 4xx
 * the server explains) stays as refused, with the reason; no network, an ended session (401) or
 * a server in trouble (5xx, 429) stops the run: the rest waits for the next trigger.
 * @param {number} account
 * @param {Sender} send
 * @returns {Promise<SyncResult>}
 */
export function sync(account, send) {
  // One run at a time in this page; across tabs, the Web Locks API when the browser has it (a
  // second tab sending the same item would only get the server's replay answer anyway).
  if (syncing) return syncing;
  const work = () => syncOnce(account, send);
  const locks = /** @type {any} */ (navigator).locks;
  syncing = (locks ? locks.request("passeport-mediation-sync", work) : work()).finally(() => {
    syncing = null;
  });
  return /** @type {Promise<SyncResult>} */ (syncing);
}

/**
 * @param {number} account
 * @param {Sender} send
 * @returns {Promise<SyncResult>}
 */
async function syncOnce(account, send) {
  /** @type {SyncResult} */
  const result = { sent: [], refused: [], stopped: null };
  /** @type {Set<string>} */
  const tried = new Set();
  for (;;) {
    // Read again each time: sending a passport gives its validations their passport.
    const item = (await items(account)).find((i) => i.state === "waiting" && !tried.has(i.id)
      // A validation for a passport opened offline waits for that passport.
      && !(i.kind === "validation" && i.passportId === null));
    if (!item) break;
    tried.add(item.id);
    let answer;
    try {
      answer = await send(item);
    } catch (error) {
      const e = /** @type {SendError} */ (error);
      if (e.status === 0) result.stopped = "offline";
      else if (e.status === 401) result.stopped = "session";
      else if (e.status >= 500 || e.status === 429 || e.status === 408) result.stopped = "server";
      if (result.stopped) return result;
      const problem = e.problem || {};
      item.state = "refused";
      item.error = {
        code: e.code,
        message: e.message,
        candidates: problem.candidates || [],
        mergedInto: problem.merged_into || null,
      };
      await updateItem(item);
      result.refused.push(item);
      continue;
    }
    if (item.kind === "passport") {
      // Its validations go to the real passport from now on, even if the run stops here.
      for (const other of await items(account)) {
        if (other.kind === "validation" && other.localRef === item.localRef && other.passportId === null) {
          other.passportId = answer.id;
          await updateItem(other);
        }
      }
    }
    await deleteItem(item.id);
    result.sent.push({ item, answer });
  }
  return result;
}
