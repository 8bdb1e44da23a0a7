// The console's entry point: signs in, routes on the URL fragment (#/instances/…), renders
// one view at a time into <main>, and finishes OAuth when the provider sends the browser back
// to /console/oauth/callback.

import { currentSession, signIn, signOut, whenSessionEnds } from "./api.js";
import { clearFlash, errorDetails, field, flash, h, markInvalid, message } from "./dom.js";
import { eventLogView, eventView } from "./events.js";
import { CALLBACK_PATH, finishAuthorization } from "./oauth.js";
import {
  editView,
  instanceView,
  instancesView,
  newInstanceView,
  reauthenticateView,
  rememberCreated,
  rememberDraft,
} from "./instances.js";

const main = document.getElementById("main");

/** Views by route; each is `async (ctx, ...captures) => Node`. */
const ROUTES = [
  [/^#?\/?$/, instancesView],
  [/^#\/new$/, newInstanceView],
  [/^#\/instances\/(\d+)$/, instanceView],
  [/^#\/instances\/(\d+)\/edit$/, editView],
  [/^#\/instances\/(\d+)\/reauthenticate$/, reauthenticateView],
  [/^#\/instances\/(\d+)\/events$/, eventLogView],
  [/^#\/instances\/(\d+)\/events\/([0-9a-fA-F-]+)$/, eventView],
];

let session = null;
let leaving = [];
let renders = 0;
let nextFlash = null;

/**
 * What a view gets: the session, navigation, and timers that stop when it is left. A view
 * still loading when the user moves on (`ticket` is no longer the latest render) starts none.
 */
function context(ticket) {
  return {
    session,
    navigate(hash, flashMessage) {
      nextFlash = flashMessage ?? null;
      if (location.hash === hash) render();
      else location.hash = hash;
    },
    /** Runs `task` every `ms` while this view is shown and the tab is visible. */
    every(ms, task) {
      if (ticket !== renders) return;
      let running = false;
      const timer = setInterval(async () => {
        if (document.hidden || running) return;
        running = true;
        try {
          await task();
        } finally {
          running = false;
        }
      }, ms);
      leaving.push(() => clearInterval(timer));
    },
  };
}

function leaveView() {
  for (const cleanup of leaving) cleanup();
  leaving = [];
}

async function render() {
  leaveView();
  const ticket = ++renders;
  if (nextFlash) flash(...nextFlash);
  else clearFlash();
  nextFlash = null;
  markNavigation();
  const hash = location.hash || "#/";
  const match = ROUTES.map(([pattern, view]) => [hash.match(pattern), view]).find(([m]) => m);
  let content;
  if (!match) {
    content = notFound();
  } else {
    try {
      content = await match[1](context(ticket), ...match[0].slice(1));
    } catch (error) {
      content = failedView(error);
    }
  }
  if (ticket !== renders || !session) return;
  main.replaceChildren(content);
  const heading = main.querySelector("h1");
  if (heading) {
    heading.tabIndex = -1;
    heading.focus({ preventScroll: true });
    document.title = `${heading.textContent} · Tributary console`;
  }
}

function markNavigation() {
  const hash = location.hash || "#/";
  for (const link of document.querySelectorAll("#nav a")) {
    const here = link.getAttribute("href") === hash;
    if (here) link.setAttribute("aria-current", "page");
    else link.removeAttribute("aria-current");
  }
}

function notFound() {
  return h(
    "div",
    { class: "card empty" },
    h("h1", {}, "Nothing here"),
    h("p", {}, "This console page does not exist."),
    h("a", { class: "button", href: "#/" }, "Go to instances"),
  );
}

function failedView(error) {
  const notFoundError = error.status === 404;
  return h(
    "div",
    {},
    h("h1", {}, notFoundError ? "Not found" : "This page could not be loaded"),
    message("error", error.message, ...errorDetails(error)),
    h("div", { class: "actions" }, h("a", { class: "button secondary", href: "#/" }, "Back to instances")),
  );
}

function showShell(signedIn) {
  document.getElementById("nav").hidden = !signedIn;
  document.getElementById("who").hidden = !signedIn;
  if (signedIn) {
    const { user, organization } = session;
    const name = [user.firstName, user.lastName].filter(Boolean).join(" ") || user.emailAddress;
    document.getElementById("who-name").textContent = organization.name ? `${name} · ${organization.name}` : name;
  }
}

/** The sign-in page; `reason` says why it is shown again (session ended, signed out). */
function showSignIn(reason) {
  leaveView();
  session = null;
  showShell(false);
  clearFlash();
  const user = h("input", { type: "password", name: "userSecret", autocomplete: "off", required: true, spellcheck: false });
  const org = h("input", { type: "password", name: "organizationSecret", autocomplete: "off", required: true, spellcheck: false });
  // Pasting the whole line the hub printed fills both fields.
  for (const input of [user, org]) {
    input.addEventListener("input", () => {
      const both = input.value.match(/User\s+([^\s,]+)\s*,\s*Organization\s+([^\s,]+)/i);
      if (both) [user.value, org.value] = [both[1], both[2]];
    });
  }
  const status = h("div", { "aria-live": "polite" });
  const submit = h("button", { type: "submit", class: "button" }, "Sign in");
  const form = h(
    "form",
    { class: "card narrow", novalidate: true },
    h("h1", {}, "Sign in"),
    h("p", { class: "muted" }, "Use the user and organization secrets of your Tributary account."),
    reason ? message("info", reason) : null,
    field("User secret", user),
    field(
      "Organization secret",
      org,
      "At first start the hub printed them as “Authorization: User <user secret>, Organization <organization secret>”; pasting that whole line into either field fills both.",
    ),
    status,
    submit,
  );
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    status.replaceChildren();
    const empty = [user, org].filter((input) => !input.value.trim());
    for (const input of [user, org]) markInvalid(input, empty.includes(input));
    if (empty.length) {
      status.append(message("error", "Enter both secrets to sign in."));
      empty[0].focus();
      return;
    }
    submit.disabled = true;
    try {
      session = await signIn(user.value.trim(), org.value.trim());
      showShell(true);
      await render();
    } catch (error) {
      status.append(message("error", "Sign-in failed.", error.message));
      user.focus();
    } finally {
      submit.disabled = false;
    }
  });
  main.replaceChildren(form);
  document.title = "Sign in · Tributary console";
  user.focus();
}

/** The provider sent the browser back: create or re-authenticate, then show the result. */
async function completeAuthorization() {
  main.replaceChildren(h("p", { class: "loading", role: "status" }, "Finishing the authorization…"));
  try {
    const { instance, pending } = await finishAuthorization();
    rememberCreated(instance);
    const what = pending.instanceId ? "re-authenticated" : "created";
    const account = instance.providerAccount?.name ?? instance.providerAccount?.email;
    nextFlash = ["ok", `Instance “${instance.name}” ${what}.`, account ? `Connected to the ${pending.element.name} account of ${account}.` : null];
    location.hash = `#/instances/${instance.id}`;
  } catch (error) {
    if (!session) return false;
    rememberDraft(error.pending);
    const retry = error.pending?.instanceId ? `#/instances/${error.pending.instanceId}/reauthenticate` : "#/new";
    main.replaceChildren(
      h(
        "div",
        {},
        h("h1", {}, "Authorization failed"),
        message("error", error.message, ...(error.details ?? [])),
        h(
          "div",
          { class: "actions" },
          h("a", { class: "button", href: retry }, "Try again"),
          h("a", { class: "button secondary", href: "#/" }, "Back to instances"),
        ),
      ),
    );
    main.querySelector("h1").tabIndex = -1;
    main.querySelector("h1").focus();
    return false;
  }
  return true;
}

async function boot() {
  document.getElementById("skip-link").addEventListener("click", (event) => {
    event.preventDefault();
    main.focus();
  });
  document.getElementById("sign-out").addEventListener("click", async () => {
    try {
      await signOut();
      showSignIn("You are signed out.");
    } catch (error) {
      flash("error", "Sign-out failed.", error.message);
    }
  });
  whenSessionEnds((error) => showSignIn(`Your session has ended: ${error.message}`));
  try {
    session = await currentSession();
  } catch (error) {
    main.replaceChildren(message("error", "The console could not reach the hub.", error.message));
    return;
  }
  if (!session) {
    if (location.pathname === CALLBACK_PATH) history.replaceState(null, "", "/");
    showSignIn(null);
  } else {
    showShell(true);
    if (location.pathname === CALLBACK_PATH && !(await completeAuthorization())) {
      window.addEventListener("hashchange", render);
      return;
    }
    await render();
  }
  window.addEventListener("hashchange", render);
}

boot();
