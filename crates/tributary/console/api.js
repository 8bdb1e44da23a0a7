// The console's only way to the hub: the JSON API under /elements/api-v2 and the session
// endpoints under /console/session, with the session cookie the browser holds and the CSRF
// token the hub handed out at sign-in.

export const API = "/elements/api-v2";

/** A failed call: the hub's message (and the provider's, when it explained itself). */
export class ApiError extends Error {
  constructor(status, body) {
    super(body?.message || `The hub answered ${status}.`);
    this.status = status;
    this.providerMessage = body?.providerMessage;
    this.requestId = body?.requestId;
  }
}

let csrfToken = null;
let onSessionEnded = () => {};

/** Called whenever the hub says the session is gone (401), so the app can ask to sign in. */
export function whenSessionEnds(handler) {
  onSessionEnded = handler;
}

/** Sends a request; resolves to `{body, headers}` or rejects with an ApiError. */
export async function request(method, path, body) {
  const headers = { Accept: "application/json" };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  if (method !== "GET" && csrfToken) headers["X-CSRF-Token"] = csrfToken;
  let response;
  try {
    response = await fetch(path, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      credentials: "same-origin",
      cache: "no-store",
    });
  } catch {
    throw new ApiError(0, { message: "The hub could not be reached. Check that it is running and retry." });
  }
  const text = await response.text();
  let json = null;
  try {
    json = text ? JSON.parse(text) : null;
  } catch {
    json = { message: text };
  }
  if (!response.ok) {
    const error = new ApiError(response.status, json);
    if (response.status === 401 && path !== "/console/session") onSessionEnded(error);
    throw error;
  }
  return { body: json, headers: response.headers };
}

/** An API call under /elements/api-v2; resolves to the JSON body. */
export async function api(method, path, body) {
  return (await request(method, API + path, body)).body;
}

/** Every item of a paged list under /elements/api-v2, following Elements-Next-Page-Token. */
export async function apiAll(path) {
  const items = [];
  let next = null;
  do {
    const page = next ? `?nextPage=${encodeURIComponent(next)}` : "";
    const { body, headers } = await request("GET", `${API}${path}${page}`);
    items.push(...body);
    next = headers.get("Elements-Next-Page-Token");
  } while (next);
  return items;
}

/** The signed-in session, or null when nobody is signed in. */
export async function currentSession() {
  try {
    const { body } = await request("GET", "/console/session");
    csrfToken = body.csrfToken;
    return body;
  } catch (error) {
    if (error.status === 401) return null;
    throw error;
  }
}

export async function signIn(userSecret, organizationSecret) {
  const { body } = await request("POST", "/console/session", { userSecret, organizationSecret });
  csrfToken = body.csrfToken;
  return body;
}

export async function signOut() {
  await request("DELETE", "/console/session");
  csrfToken = null;
}
