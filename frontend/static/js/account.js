// @ts-check
// A staff member's account, without being signed in: accept an invitation (the link the
// coordinator's invitation carries), or choose a new password with a reset code (the e-mailed
// link, or a code handed over), or ask for one. Printed addresses (app/core/addresses.py):
// /compte#invitation=…, /compte#reinitialisation=…; read from the fragment, then dropped from
// the address bar.
import { $, alertBox, api, clear, el, filledIn, initPage, show, t } from "/static/js/common.js";

const MIN_PASSWORD = 12;
const state = { invitation: null };

function setView(name) {
  for (const view of ["invitation", "reset"]) show($(`#view-${view}`), view === name);
  show($("#page-status"), false);
}

// invalid_code also names a citizen's wrong card code: here, it is the account's code.
function errorText(error) {
  if (error.code === "invalid_code") return t("account.code_invalid");
  return error.message || String(error);
}

function showError(box, error) {
  clear(box).append(alertBox("error", errorText(error)));
}

function passwordMissing(input, box) {
  if (input.value.length >= MIN_PASSWORD) return false;
  clear(box).append(alertBox("error", t("account.password_short", { n: MIN_PASSWORD })));
  input.focus();
  return true;
}

/** Done: say so, and where to sign in now. */
function done(message, role) {
  const target = role === "territory_admin" ? "/coordination" : "/mediation";
  setView(null);
  const box = clear($("#account-message"));
  box.append(
    alertBox("success", message),
    el("p", { class: "fr-mt-2w" }, el("a", { class: "fr-btn", id: "account-sign-in", href: target, text: t("account.sign_in_now") })),
  );
  $("#account-sign-in").focus();
}

// --- invitation -----------------------------------------------------------------------------------

async function openInvitation(code) {
  try {
    const invitation = await api("POST", "/api/v1/invitations/lookup", { code });
    state.invitation = { ...invitation, code };
    $("#invitation-what").textContent = t("account.invitation_what", {
      email: invitation.email,
      territory: invitation.territory_code,
      role: t(`coordination.role_${invitation.role}`),
    });
    $("#invitation-name").value = invitation.display_name || "";
    setView("invitation");
    $("#invitation-password").focus();
  } catch (error) {
    setView("reset");
    clear($("#account-message")).append(alertBox("error", error.code === "invalid_code" ? t("account.invitation_invalid") : errorText(error)));
  }
}

/**
 * One of the page's forms: on submit, its message box cleared, then `send(box)`; what it throws
 * (the server's refusal) is shown in the box.
 * @param {string} form @param {string} box @param {(box: HTMLElement) => Promise<void>} send
 */
function onSubmit(form, box, send) {
  $(form).addEventListener("submit", async (event) => {
    event.preventDefault();
    const shown = clear($(box));
    try {
      await send(shown);
    } catch (error) {
      showError(shown, error);
    }
  });
}

onSubmit("#invitation-form", "#invitation-error", async (box) => {
  const password = $("#invitation-password");
  if (passwordMissing(password, box)) return;
  const name = $("#invitation-name").value.trim();
  const account = await api("POST", "/api/v1/invitations/accept", {
    code: state.invitation.code,
    password: password.value,
    display_name: name || null,
  });
  password.value = "";
  done(t("account.invitation_done", { email: account.email }), account.role);
});

// --- password reset -------------------------------------------------------------------------------

onSubmit("#reset-form", "#reset-error", async (box) => {
  const code = filledIn($("#reset-code"), box, t("account.code_missing"));
  if (!code) return;
  const password = $("#reset-password");
  if (passwordMissing(password, box)) return;
  const account = await api("POST", "/api/v1/auth/password-reset/complete", { code, password: password.value });
  password.value = "";
  done(t("account.reset_done"), account.role);
});

onSubmit("#forgot-form", "#forgot-message", async (box) => {
  const email = filledIn($("#forgot-email"), box, t("account.email_missing"));
  if (!email) return;
  await api("POST", "/api/v1/auth/password-reset", { email });
  box.append(alertBox("success", t("account.forgot_sent")));
});

// --- start ----------------------------------------------------------------------------------------

function printedParams() {
  const params = new URLSearchParams(location.hash.replace(/^#/, ""));
  const found = { invitation: params.get("invitation"), reset: params.get("reinitialisation") };
  if (found.invitation || found.reset) history.replaceState(null, "", location.pathname);
  return found;
}

async function follow(printed) {
  clear($("#account-message"));
  if (printed.invitation) {
    await openInvitation(printed.invitation);
    return;
  }
  setView("reset");
  if (printed.reset) {
    $("#reset-code").value = printed.reset;
    $("#reset-password").focus();
  }
}

async function start() {
  await initPage("account");
  await follow(printedParams());
  // A printed address opened in a tab already on this page changes only the fragment.
  window.addEventListener("hashchange", () => {
    const printed = printedParams();
    if (printed.invitation || printed.reset) follow(printed);
  });
}

start();
