// The mediator's page offline (docs/frontend.md, "Offline mediation"): the service worker, the
// "you are offline" banner, the queue of what was recorded on this device and its replay, the
// passports kept for offline work, and what sign-out and an ended session wipe. The storage
// itself is offline-queue.js; mediation.js calls what is exported here.
//
// Exports:
//   setupOffline(hooks)          registers the service worker and the replay triggers (back
//                                online, page visible again); hooks: {onSessionEnded(), onSent(result),
//                                onCorrect(item)}.
//   isOffline(), markOffline(yes)   the page's belief, shown by the banner.
//   rememberSession(session, structures)   the signed-in account, for an offline start.
//   offlineIdentity()            that account, if its session's rules still allow (else null).
//   useAccount(id)               whose queue the page shows and sends.
//   touch()                      the mediator did something: the idle limit counts from now.
//   queueValidation({passportId, localRef, who, body, key, offline})
//   queuePassport({body, key, offline}) -> the item (its localRef is the provisional reference)
//   queuedPassport(localRef)     the waiting item of a passport opened offline, or null.
//   replay()                     sends the account's waiting items (sync in offline-queue.js).
//   keepPassport(view), keptPassport(id), keptPassports()   the passports read online.
//   pendingCount()               items not accepted yet (waiting or refused).
//   keptOnDevice()               items of any account on this device.
//   renderQueue()                draws #offline-queue.
//   sessionEnded()               forgets what was read about people (the queue stays).
//   wipeForSignOut()             forgets everything of this account on this device.
import { $, alertBox, announce, api, clear, el, formatDate, formatDateTime, show, t } from "/static/js/common.js";
import * as store from "/static/js/offline-queue.js";

/**
 * @typedef {import("/static/js/offline-queue.js").Item} Item
 * @typedef {{onSessionEnded: () => void, onSent: (result: any) => void, onCorrect: (item: Item) => void}} Hooks
 */

/** @type {{account: number | null, offline: boolean, sent: {item: Item, answer: any}[], expiresAt: number, hooks: Hooks | null}} */
const state = { account: null, offline: !navigator.onLine, sent: [], expiresAt: 0, hooks: null };

// With no session end known (an older server), what was read stays at most this long.
const FALLBACK_HOURS = 12;

/** @param {Hooks} hooks */
export function setupOffline(hooks) {
  state.hooks = hooks;
  if ("serviceWorker" in navigator) {
    navigator.serviceWorker.register("/mediation-sw.js", { scope: "/mediation" }).catch(() => {
      // Not fatal: the page works online; offline it needs the browser's own cache then.
    });
  }
  window.addEventListener("online", () => {
    markOffline(false);
    replay();
  });
  window.addEventListener("offline", () => markOffline(true));
  // Background Sync is not in Firefox or Safari: coming back to the page is a trigger too.
  document.addEventListener("visibilitychange", () => {
    if (document.visibilityState === "visible") replay();
  });
  markOffline(state.offline);
}

export const isOffline = () => state.offline;

/** @param {boolean} yes */
export function markOffline(yes) {
  state.offline = yes;
  const banner = $("#offline-status");
  if (!banner) return;
  if (yes && banner.hidden) announce(t("mediation.offline.banner_title"));
  show(banner, yes);
}

/**
 * @param {any} session GET /api/v1/auth/session
 * @param {any[]} structures the account's places, as the page shows them
 */
export async function rememberSession(session, structures) {
  const expiresAt = session.expires_at ? Date.parse(session.expires_at) : Date.now() + FALLBACK_HOURS * 3600000;
  state.expiresAt = expiresAt;
  useAccount(session.account.id);
  try {
    await store.saveIdentity({
      account: session.account.id,
      displayName: session.account.display_name,
      structures,
      structureIds: session.account.structure_ids,
      expiresAt,
      idleSeconds: session.idle_timeout_seconds || null,
      lastActive: Date.now(),
    });
  } catch {
    // No IndexedDB (private browsing in some browsers): the page works online only.
  }
}

export async function offlineIdentity() {
  try {
    const found = await store.identity();
    if (found) {
      state.expiresAt = found.expiresAt;
      useAccount(found.account);
    }
    return found;
  } catch {
    return null;
  }
}

/** @param {number | null} id */
export function useAccount(id) {
  if (state.account !== id) state.sent = [];
  state.account = id;
}

/** The mediator did something in the page: the device's idle limit counts from now. */
export function touch() {
  store.touchIdentity().catch(() => {});
}

/**
 * @param {{passportId: number | null, localRef: string | null, who: string, body: any, key: string, offline: boolean}} what
 *   offline: recorded while the page knew it was offline (the body says when); otherwise it was
 *   sent once already and its answer lost, so it goes again exactly as it was.
 */
export async function queueValidation(what) {
  if (state.account === null) throw new Error("no account");
  const body = what.offline ? { ...what.body, recorded_offline_at: new Date().toISOString() } : what.body;
  await store.addItem({
    id: what.key,
    account: state.account,
    kind: "validation",
    body,
    passportId: what.passportId,
    localRef: what.localRef,
    who: what.who,
    recordedAt: new Date().toISOString(),
  });
  touch();
  await renderQueue();
}

/**
 * @param {{body: any, key: string, offline: boolean}} what
 * @returns {Promise<Item>}
 */
export async function queuePassport(what) {
  if (state.account === null) throw new Error("no account");
  const body = what.offline ? { ...what.body, recorded_offline_at: new Date().toISOString() } : what.body;
  const item = await store.addItem({
    id: what.key,
    account: state.account,
    kind: "passport",
    body,
    passportId: null,
    localRef: store.provisionalRef(),
    who: `${body.first_name} ${body.last_name}`,
    recordedAt: new Date().toISOString(),
  });
  touch();
  await renderQueue();
  return item;
}

/** @param {string} localRef */
export async function queuedPassport(localRef) {
  if (state.account === null) return null;
  const all = await store.items(state.account);
  return all.find((i) => i.kind === "passport" && i.localRef === localRef) || null;
}

/** @param {Item} item */
function send(item) {
  const headers = { "Idempotency-Key": item.id };
  if (item.kind === "passport") return api("POST", "/api/v1/passports", item.body, { headers });
  return api("POST", `/api/v1/passports/${item.passportId}/validations`, item.body, { headers });
}

export async function replay() {
  const account = state.account;
  if (account === null) return null;
  let result;
  try {
    if (!(await store.items(account)).some((i) => i.state === "waiting")) return null;
    result = await store.sync(account, send);
  } catch {
    return null; // no IndexedDB: nothing was queued
  }
  if (result.sent.length) markOffline(false);
  if (result.stopped === "offline") markOffline(true);
  state.sent.push(...result.sent);
  await renderQueue();
  if (result.sent.length || result.refused.length) {
    const message = t("mediation.offline.synced", { sent: result.sent.length, refused: result.refused.length });
    announce(message);
  }
  if (state.hooks) {
    if (result.stopped === "session") state.hooks.onSessionEnded();
    else state.hooks.onSent(result);
  }
  return result;
}

/** @param {any} view */
export async function keepPassport(view) {
  if (state.account === null) return;
  try {
    await store.savePassport(state.account, view, state.expiresAt || Date.now() + FALLBACK_HOURS * 3600000);
    touch();
  } catch {
    // Not kept: this passport just cannot be opened offline.
  }
}

/** @param {number} id */
export async function keptPassport(id) {
  if (state.account === null) return null;
  try {
    return await store.cachedPassport(state.account, id);
  } catch {
    return null;
  }
}

export async function keptPassports() {
  if (state.account === null) return [];
  try {
    return await store.cachedPassports(state.account);
  } catch {
    return [];
  }
}

export async function pendingCount() {
  if (state.account === null) return 0;
  try {
    return (await store.items(state.account)).length;
  } catch {
    return 0;
  }
}

/** Records on this device, of any account (waiting for their author's next sign-in). */
export async function keptOnDevice() {
  try {
    return await store.count();
  } catch {
    return 0;
  }
}

export async function sessionEnded() {
  // Its queue waits for the same account to sign in again.
  useAccount(null);
  try {
    await store.forgetPeople();
  } catch {
    // Nothing was kept.
  }
}

export async function wipeForSignOut() {
  try {
    await store.wipe(state.account);
  } catch {
    // Nothing was kept.
  }
  state.sent = [];
}

// --- the list of what this device holds ------------------------------------------------------

/** @param {Item} item */
function describe(item) {
  if (item.kind === "passport") {
    return t("mediation.offline.item_passport", { who: item.who, ref: item.localRef || "" });
  }
  return t("mediation.offline.item_validation", {
    skill: String(item.body.skill_code),
    who: item.who,
    date: formatDate(String(item.body.observed_on)),
  });
}

/**
 * @param {string} kind DSFR badge kind
 * @param {string} text
 */
const badge = (kind, text) => el("p", { class: `fr-badge fr-badge--sm fr-badge--${kind}`, text });

/** @param {Item} item */
function actionButtons(item) {
  const buttons = [];
  const button = (/** @type {string} */ text, /** @type {() => void} */ onclick, secondary = true) =>
    el("li", {}, el("button", {
      type: "button",
      class: `fr-btn fr-btn--sm ${secondary ? "fr-btn--secondary" : ""}`,
      text,
      "aria-label": `${text} : ${describe(item)}`,
      onclick,
    }));
  if (item.error && item.error.code === "likely_duplicate") {
    // The duplicate warning, at sync time: the mediator decides, as online.
    for (const number of item.error.candidates || []) {
      buttons.push(button(t("mediation.offline.same_person", { number }), () => sameAs(item, number)));
    }
    buttons.push(button(t("mediation.duplicate_confirm"), () => openAnyway(item), false));
  } else {
    if (item.error && item.error.code === "passport_merged" && item.error.mergedInto) {
      // Merged meanwhile: the same record belongs in the passport it was merged into.
      const number = item.error.mergedInto;
      buttons.push(button(t("mediation.offline.send_to", { number }), () => sendTo(item, number), false));
    }
    buttons.push(button(t("mediation.offline.correct"), () => correct(item)));
  }
  buttons.push(button(t("mediation.offline.drop"), () => drop(item)));
  return buttons;
}

/**
 * A record waiting to be sent can be dropped too, after a confirmation: nothing reached the
 * server, so nothing is journaled; dropped, it is never sent (one sent online whose answer was
 * lost may have landed: the confirmation says so).
 * @param {Item} item
 */
function waitingActions(item) {
  const text = t("mediation.offline.drop");
  return el("ul", { class: "fr-btns-group fr-btns-group--inline fr-btns-group--sm fr-mt-1w" },
    el("li", {}, el("button", {
      type: "button",
      class: "fr-btn fr-btn--sm fr-btn--secondary",
      text,
      "aria-label": `${text} : ${describe(item)}`,
      onclick: () => {
        const key = item.kind === "passport" ? "mediation.offline.drop_confirm_passport" : "mediation.offline.drop_confirm";
        // Sent once online and its answer lost, it may have landed: dropping it cannot undo that.
        const maybeSent = item.body.recorded_offline_at ? "" : `\n${t("mediation.offline.drop_maybe_sent")}`;
        if (window.confirm(`${t(key, { what: describe(item) })}${maybeSent}`)) drop(item);
      },
    })));
}

/** @param {Item} item */
function refusedActions(item) {
  return el("ul", { class: "fr-btns-group fr-btns-group--inline fr-btns-group--sm fr-mt-1w" }, ...actionButtons(item));
}

/** @param {Item} item */
async function openAnyway(item) {
  item.body = { ...item.body, confirm_not_duplicate: true };
  item.state = "waiting";
  item.error = null;
  await store.updateItem(item);
  await replay();
}

/**
 * The person already has this passport: what was recorded for them goes there.
 * @param {Item} item
 * @param {string} number
 */
async function sameAs(item, number) {
  const box = $("#offline-queue-error");
  try {
    const found = await api("GET", `/api/v1/passports?q=${encodeURIComponent(number)}`);
    if (!found.length) return;
    for (const other of await store.items(item.account)) {
      if (other.kind === "validation" && other.localRef === item.localRef && other.passportId === null) {
        other.passportId = found[0].id;
        await store.updateItem(other);
      }
    }
    await store.deleteItem(item.id);
    await replay();
    await renderQueue();
  } catch (error) {
    if (box) clear(box).append(alertBox("error", /** @type {Error} */ (error).message));
  }
}

/**
 * @param {Item} item a refused validation
 * @param {string} number the passport it goes to instead
 */
async function sendTo(item, number) {
  const box = $("#offline-queue-error");
  try {
    const found = await api("GET", `/api/v1/passports?q=${encodeURIComponent(number)}`);
    if (!found.length) return;
    item.passportId = found[0].id;
    item.state = "waiting";
    item.error = null;
    await store.updateItem(item);
    await replay();
  } catch (error) {
    if (box) clear(box).append(alertBox("error", /** @type {Error} */ (error).message));
  }
}

/** @param {Item} item */
async function correct(item) {
  await store.deleteItem(item.id);
  await renderQueue();
  if (state.hooks) state.hooks.onCorrect(item);
}

/** @param {Item} item */
async function drop(item) {
  // What was recorded for a passport that will not be opened goes with it; a run sending this
  // very item finishes first (then it was accepted, and shows as sent).
  const dropped = await store.dropItem(item.id);
  await renderQueue();
  if (!dropped) return;
  // The provisional passport on screen will not be opened: back to the search.
  if (item.kind === "passport" && location.hash === `#offline/${item.localRef}`) location.hash = "";
  announce(t("mediation.offline.dropped"));
  const first = document.querySelector("#offline-queue button");
  if (first instanceof HTMLElement) first.focus();
  else $("#contenu").focus();
}

export async function renderQueue() {
  const root = $("#offline-queue");
  if (!root) return;
  /** @type {Item[]} */
  let queued;
  try {
    queued = state.account === null ? [] : await store.items(state.account);
  } catch {
    queued = [];
  }
  const list = clear($("#offline-queue-list"));
  const waiting = queued.filter((i) => i.state === "waiting").length;
  const refused = queued.filter((i) => i.state === "refused").length;
  for (const item of queued) {
    const refusedItem = item.state === "refused";
    list.append(el("li", { class: "offline-item", "data-state": item.state, "data-id": item.id },
      el("p", { class: "fr-mb-1v", text: describe(item) }),
      refusedItem
        ? badge("error", t("mediation.offline.state_refused"))
        : badge("info", t("mediation.offline.state_waiting")),
      el("p", { class: "fr-text--xs fr-mb-0", text: t("mediation.offline.recorded_at", { at: formatDateTime(item.recordedAt) }) }),
      refusedItem && item.error
        ? el("p", { class: "fr-error-text", text: t("mediation.offline.reason", { reason: item.error.message }) })
        : null,
      refusedItem ? refusedActions(item) : waitingActions(item)));
  }
  for (const { item, answer } of state.sent) {
    list.append(el("li", { class: "offline-item", "data-state": "sent", "data-id": item.id },
      el("p", { class: "fr-mb-1v", text: describe(item) }),
      badge("success", t("mediation.offline.state_sent")),
      item.kind === "passport"
        ? el("p", { class: "fr-text--sm fr-mb-0" },
          t("mediation.offline.passport_number", { number: answer.number }), " ",
          el("a", { class: "fr-link", href: `#passport/${answer.id}`, text: t("mediation.offline.open_synced", { number: answer.number }) }))
        : null));
  }
  $("#offline-queue-summary").textContent = t("mediation.offline.summary", { waiting, refused, sent: state.sent.length });
  // At the top of every view: what waits or was refused is never out of sight.
  const jump = $("#offline-queue-jump");
  jump.firstElementChild.textContent = t("mediation.offline.jump", { waiting, refused });
  show(jump, waiting + refused > 0 && $("#view-signin").hidden);
  const sendNow = $("#offline-send");
  show(sendNow, waiting > 0);
  show(root, queued.length + state.sent.length > 0);
}

// The "send now" button: the same replay as the automatic triggers. The link at the top goes to
// the list without changing the address (its fragment is the passport shown).
document.addEventListener("click", (event) => {
  const target = /** @type {Element} */ (event.target);
  if (!target || !target.closest) return;
  if (target.closest("#offline-send")) replay();
  if (target.closest("#offline-queue-jump a")) {
    event.preventDefault();
    const title = $("#offline-queue-title");
    title.scrollIntoView();
    title.focus();
  }
});
