// The OAuth round trip: ask the hub for the provider's authorization URL, send the browser
// there, and when the provider sends it back to /console/oauth/callback, create (or
// re-authenticate) the instance with the code.
//
// What the user typed (client id and secret, name) waits in sessionStorage: it stays in this
// tab only, survives the trip through the provider's pages, and is removed as soon as the
// browser comes back, whatever the outcome.

import { api, ApiError } from "./api.js";

const PENDING = "tributary.oauth.pending";
export const CALLBACK_PATH = "/console/oauth/callback";

/** Why an authorization did not produce an instance, in words for the page. */
export class AuthorizationError extends Error {
  constructor(title, details, pending) {
    super(title);
    this.details = details.filter(Boolean);
    this.pending = pending;
  }
}

function randomState() {
  const bytes = crypto.getRandomValues(new Uint8Array(24));
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

/**
 * Starts an authorization: `pending` has `element` (key and name), `clientId`,
 * `clientSecret`, `callbackUrl`, and either `name`/`tags` (a new instance) or `instanceId`
 * (re-authentication).
 */
export async function startAuthorization(pending) {
  const state = randomState();
  const query = new URLSearchParams({
    apiKey: pending.clientId,
    callbackUrl: pending.callbackUrl,
    state,
  });
  const { oauthUrl } = await api("GET", `/elements/${encodeURIComponent(pending.element.key)}/oauth/url?${query}`);
  sessionStorage.setItem(PENDING, JSON.stringify({ ...pending, state }));
  location.assign(oauthUrl);
}

/**
 * Finishes the authorization the provider just redirected back from. Resolves to
 * `{instance, pending}`; rejects with an AuthorizationError saying why nothing was created.
 */
export async function finishAuthorization() {
  const params = new URLSearchParams(location.search);
  // The code must not stay in the address bar or the history.
  history.replaceState(null, "", "/");
  const stored = sessionStorage.getItem(PENDING);
  sessionStorage.removeItem(PENDING);
  const pending = stored ? JSON.parse(stored) : null;
  if (!pending) {
    throw new AuthorizationError(
      "This tab has no authorization in progress.",
      [
        "The provider sent the browser back, but the console did not start this authorization in this tab (or it already finished). Nothing was created.",
        "Start again from “Authenticate an instance”.",
      ],
      null,
    );
  }
  const provider = pending.element.name;
  if (params.get("state") !== pending.state) {
    throw new AuthorizationError(
      "The provider's answer does not belong to this authorization (its state does not match).",
      ["Nothing was created. Start the authorization again from this tab."],
      pending,
    );
  }
  const error = params.get("error");
  if (error) {
    const description = params.get("error_description");
    const hint = params.get("error_hint");
    const title =
      error === "access_denied"
        ? `Access was denied on ${provider}'s consent page, so nothing was ${pending.instanceId ? "changed" : "created"}.`
        : `${provider} did not authorize the connection (${error}).`;
    throw new AuthorizationError(title, [description, hint, `Error code: ${error}.`], pending);
  }
  const code = params.get("code");
  if (!code) {
    throw new AuthorizationError(`${provider} sent the browser back without an authorization code.`, ["Nothing was created. Try again."], pending);
  }
  const configuration = {
    "oauth.callback.url": pending.callbackUrl,
    "oauth.api.key": pending.clientId,
    // An empty secret on re-authentication keeps the stored one (the mask means "unchanged").
    "oauth.api.secret": pending.clientSecret || "********",
  };
  try {
    const instance = pending.instanceId
      ? await api("PATCH", `/instances/${pending.instanceId}`, { providerData: { code }, configuration })
      : await api("POST", "/instances", {
          element: { key: pending.element.key },
          providerData: { code },
          configuration,
          name: pending.name,
          tags: pending.tags,
        });
    return { instance, pending };
  } catch (failure) {
    if (!(failure instanceof ApiError)) throw failure;
    const title = failure.providerMessage
      ? `${provider} refused the authorization code, so no instance was ${pending.instanceId ? "updated" : "created"}.`
      : `The hub could not ${pending.instanceId ? "re-authenticate the instance" : "create the instance"}.`;
    throw new AuthorizationError(
      title,
      [failure.message, failure.providerMessage ? `${provider} said: ${failure.providerMessage}` : null],
      pending,
    );
  }
}
