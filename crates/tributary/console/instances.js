// Instance views: the list, authenticating a new one, one instance (events settings, the
// provider-facing webhook URL and how to register it, signing secret, details), editing,
// re-authenticating, disabling and deleting.

import { api, apiAll } from "./api.js";
import { badge, busy, confirmDialog, copyField, errorDetails, field, h, markInvalid, message, when } from "./dom.js";
import { startAuthorization } from "./oauth.js";

const EVENTS_ENABLED = "event.notification.enabled";
const CALLBACK_URL = "event.notification.callback.url";
const SIGNATURE_KEY = "event.notification.signature.key";
const VENDOR_TYPE = "event.vendor.type";
const REFRESH_INTERVAL = "event.poller.refresh_interval";
/** What the API shows instead of a secret value, and accepts back as "keep it". */
const MASK = "********";

/** Shown once on the instance page: the signing secret only the creation answer carries. */
const justCreated = new Map();
/** What the user typed before an authorization failed, to fill the form again (no secret). */
let draft = null;

export function rememberCreated(instance) {
  if (instance.notificationSigningSecret) justCreated.set(String(instance.id), instance.notificationSigningSecret);
}

export function rememberDraft(pending) {
  draft = pending && { name: pending.name, clientId: pending.clientId, callbackUrl: pending.callbackUrl, tags: pending.tags };
}

function pageHead(title, subtitle, crumbs, ...actions) {
  return h(
    "div",
    { class: "page-head" },
    h(
      "div",
      {},
      crumbs ? h("p", { class: "crumbs" }, crumbs) : null,
      h("h1", {}, title),
      subtitle ? h("p", { class: "subtitle" }, subtitle) : null,
    ),
    actions.length ? h("div", { class: "actions" }, actions) : null,
  );
}

function crumbsTo(instance) {
  return [h("a", { href: "#/" }, "Instances"), " / ", h("a", { href: `#/instances/${instance.id}` }, instance.name)];
}

function instanceBadges(instance) {
  return h(
    "div",
    { class: "badges" },
    instance.valid ? null : badge("Needs re-authentication", "error"),
    instance.disabled ? badge("Disabled", "warn") : badge("Enabled", "ok"),
    instance.eventsEnabled ? badge("Events on", "ok") : badge("Events off", "neutral"),
    instance.subscriptionActive ? null : badge("Delivery paused", "error"),
  );
}

function account(instance) {
  const a = instance.providerAccount;
  if (!a) return null;
  return a.name && a.email ? `${a.name} (${a.email})` : a.name ?? a.email ?? a.id;
}

export async function instancesView() {
  const instances = await apiAll("/instances");
  const add = h("a", { class: "button", href: "#/new" }, "Authenticate an instance");
  const head = pageHead("Instances", "Connections to provider accounts, and where their events go.", null, instances.length ? add : null);
  if (!instances.length) {
    return h(
      "div",
      {},
      head,
      h(
        "section",
        { class: "card empty", "aria-labelledby": "empty-title" },
        h("h2", { id: "empty-title" }, "No instances yet — authenticate one"),
        h("p", {}, "An instance connects the hub to one provider account (such as Hootsuite) through OAuth, and delivers its events to your callback URL."),
        add,
      ),
    );
  }
  return h(
    "div",
    {},
    head,
    h(
      "ul",
      { class: "instance-list", "aria-label": "Instances" },
      instances.map((instance) =>
        h(
          "li",
          {},
          h(
            "article",
            { class: "card", "aria-labelledby": `instance-${instance.id}` },
            h("h2", { id: `instance-${instance.id}` }, h("a", { href: `#/instances/${instance.id}` }, instance.name)),
            h("p", { class: "muted small" }, [instance.element.name, account(instance)].filter(Boolean).join(" · ")),
            instanceBadges(instance),
            h(
              "dl",
              { class: "facts small" },
              h("dt", {}, "Callback URL"),
              h("dd", {}, instance.eventsNotificationCallbackUrl ?? h("span", { class: "muted" }, "not set")),
              h("dt", {}, "Created"),
              h("dd", {}, when(instance.createdDate)),
            ),
            h(
              "div",
              { class: "actions" },
              h("a", { class: "button secondary small", href: `#/instances/${instance.id}`, "aria-label": `Details of ${instance.name}` }, "Details"),
              h("a", { class: "button secondary small", href: `#/instances/${instance.id}/events`, "aria-label": `Event log of ${instance.name}` }, "Event log"),
            ),
          ),
        ),
      ),
    ),
  );
}

/**
 * The client id, secret and callback URL an authorization needs, shared by "authenticate" and
 * "re-authenticate". `values()` reads them, or returns null after marking what is missing.
 */
function authorizationFields(ctx, { clientId = "", callbackUrl, secretOptional }) {
  const id = h("input", { type: "text", name: "clientId", value: clientId, autocomplete: "off", spellcheck: false, required: true });
  const secret = h("input", { type: "password", name: "clientSecret", autocomplete: "off", required: !secretOptional });
  const callback = h("input", { type: "url", name: "callbackUrl", value: callbackUrl || ctx.session.oauthCallbackUrl, required: true });
  const elsewhere = location.origin !== ctx.session.publicUrl;
  return {
    nodes: [
      field("Client ID", id, "Your app's OAuth client id at the provider (for the simulator: tributary-demo)."),
      field(
        "Client secret",
        secret,
        secretOptional ? "Leave blank to keep the secret stored with the instance." : "Your app's client secret; stored encrypted, never shown again.",
      ),
      field(
        "Callback URL",
        callback,
        `Register this redirect URI with your app at the provider. The console finishes the authorization at ${ctx.session.oauthCallbackUrl}.`,
      ),
      elsewhere
        ? message(
            "warn",
            `This console is open at ${location.origin}, but the hub's public URL is ${ctx.session.publicUrl}.`,
            "The provider sends the browser back to the public URL, where this tab's sign-in and authorization are not available: open the console at the public URL.",
          )
        : null,
    ],
    values() {
      const required = [id, callback, ...(secretOptional ? [] : [secret])];
      const missing = required.filter((input) => !input.value.trim());
      for (const input of [id, secret, callback]) markInvalid(input, missing.includes(input));
      if (missing.length) {
        missing[0].focus();
        return null;
      }
      return { clientId: id.value.trim(), clientSecret: secret.value, callbackUrl: callback.value.trim() };
    },
  };
}

function tagList(text) {
  return text
    .split(",")
    .map((t) => t.trim())
    .filter(Boolean);
}

/** Sends the browser to the provider; errors stay on the form. */
async function authorize(status, submit, pending) {
  status.replaceChildren();
  try {
    await busy(submit, () => startAuthorization(pending));
  } catch (error) {
    status.append(message("error", "The authorization could not start.", error.message, ...errorDetails(error)));
  }
}

export async function newInstanceView(ctx) {
  const elements = await api("GET", "/elements");
  const start = draft ?? {};
  draft = null;
  const element = h(
    "select",
    { name: "element", required: true },
    elements.map((e) => h("option", { value: e.key }, e.name)),
  );
  const name = h("input", { type: "text", name: "name", value: start.name ?? `${elements[0]?.name ?? ""} account`, required: true });
  const tags = h("input", { type: "text", name: "tags", value: (start.tags ?? []).join(", ") });
  const auth = authorizationFields(ctx, { ...start, secretOptional: false });
  const status = h("div", { "aria-live": "polite" });
  const submit = h("button", { type: "submit", class: "button" }, "Authenticate");
  const form = h(
    "form",
    { class: "card narrow", novalidate: true },
    field("Element", element, "The provider to connect."),
    field("Instance name", name),
    auth.nodes,
    field("Tags", tags, "Optional, separated by commas."),
    status,
    h("div", { class: "actions" }, submit, h("a", { class: "button secondary", href: "#/" }, "Cancel")),
  );
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const values = auth.values();
    markInvalid(name, !name.value.trim());
    if (!name.value.trim()) return name.focus();
    if (!values) return;
    const chosen = elements.find((e) => e.key === element.value);
    authorize(status, submit, {
      ...values,
      element: { key: chosen.key, name: chosen.name },
      name: name.value.trim(),
      tags: tagList(tags.value),
    });
  });
  return h(
    "div",
    {},
    pageHead(
      "Authenticate an instance",
      "Authenticate sends you to the provider's consent page; when you approve, you come back here and the instance is created.",
    ),
    form,
  );
}

export async function reauthenticateView(ctx, id) {
  const instance = await api("GET", `/instances/${id}`);
  const auth = authorizationFields(ctx, { ...(draft ?? {}), secretOptional: true });
  draft = null;
  const status = h("div", { "aria-live": "polite" });
  const submit = h("button", { type: "submit", class: "button" }, "Re-authenticate");
  const form = h(
    "form",
    { class: "card narrow", novalidate: true },
    h("p", {}, "The client id is stored encrypted and not shown: enter it again. The instance keeps its id, token, configuration and event log."),
    auth.nodes,
    status,
    h("div", { class: "actions" }, submit, h("a", { class: "button secondary", href: `#/instances/${id}` }, "Cancel")),
  );
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const values = auth.values();
    if (!values) return;
    authorize(status, submit, {
      ...values,
      element: { key: instance.element.key, name: instance.element.name },
      instanceId: instance.id,
    });
  });
  return h("div", {}, pageHead(`Re-authenticate ${instance.name}`, `Connect it to ${instance.element.name} again.`, crumbsTo(instance)), form);
}

export async function instanceView(ctx, id) {
  const instance = await api("GET", `/instances/${id}`);
  const element = await api("GET", `/elements/${encodeURIComponent(instance.element.key)}`);
  const secret = justCreated.get(String(instance.id));
  justCreated.delete(String(instance.id));
  const rerender = (...flashMessage) => ctx.navigate(`#/instances/${id}`, flashMessage);

  const toggle = h("button", { type: "button", class: "button secondary" }, instance.disabled ? "Enable" : "Disable");
  toggle.addEventListener("click", () =>
    busy(toggle, async () => {
      try {
        await api(instance.disabled ? "PUT" : "DELETE", `/instances/${id}/enabled`);
        rerender("ok", instance.disabled ? "Instance enabled." : "Instance disabled: its token is refused and its events are ignored.");
      } catch (error) {
        rerender("error", "The instance could not be changed.", error.message);
      }
    }),
  );
  const remove = h("button", { type: "button", class: "button danger" }, "Delete");
  remove.addEventListener("click", async () => {
    const sure = await confirmDialog(
      `Delete ${instance.name}?`,
      "Its configuration, tokens and event log are removed and its token stops working at once. This cannot be undone.",
      "Delete instance",
    );
    if (!sure) return remove.focus();
    try {
      await api("DELETE", `/instances/${id}`);
      ctx.navigate("#/", ["ok", `Instance “${instance.name}” deleted.`]);
    } catch (error) {
      rerender("error", "The instance could not be deleted.", error.message);
    }
  });

  return h(
    "div",
    {},
    pageHead(
      instance.name,
      [instance.element.name, account(instance)].filter(Boolean).join(" · "),
      [h("a", { href: "#/" }, "Instances"), " /"],
      h("a", { class: "button", href: `#/instances/${id}/events` }, "Event log"),
      h("a", { class: "button secondary", href: `#/instances/${id}/edit` }, "Edit"),
      h("a", { class: "button secondary", href: `#/instances/${id}/reauthenticate` }, "Re-authenticate"),
      toggle,
      remove,
    ),
    instanceBadges(instance),
    secret
      ? h(
          "section",
          { class: "message ok", "aria-labelledby": "secret-title" },
          h(
            "div",
            { class: "message-text" },
            h("h2", { id: "secret-title" }, "Save the notification signing secret now"),
            h("p", {}, "It signs every notification this instance sends (Standard Webhooks headers). The console shows it only this once; you can rotate it below."),
            copyField("Notification signing secret", secret),
          ),
        )
      : null,
    instance.valid
      ? null
      : message("error", "The provider no longer accepts this instance's tokens.", instance.invalidReason, "Re-authenticate it to resume."),
    instance.disabled ? message("warn", "This instance is disabled.", "Its token is refused and the provider's events are ignored until you enable it.") : null,
    h(
      "div",
      { class: "grid" },
      eventsCard(ctx, instance, element),
      providerSetupCard(ctx, instance),
      signingCard(instance),
      detailsCard(instance),
    ),
  );
}

/** Events on or off, where they go, how they are signed, and how they are obtained. */
function eventsCard(ctx, instance, element) {
  const config = instance.configuration;
  const enabled = h("input", { type: "checkbox", name: "eventsEnabled", checked: instance.eventsEnabled });
  const callback = h("input", { type: "url", name: "callbackUrl", value: config[CALLBACK_URL] ?? "", placeholder: "https://example.com/events" });
  const hasKey = config[SIGNATURE_KEY] === MASK;
  const key = h("input", {
    type: "password",
    name: "signatureKey",
    autocomplete: "new-password",
    placeholder: hasKey ? "Set — leave blank to keep it" : "Not set",
  });
  const clearKey = h("input", { type: "checkbox", name: "clearSignatureKey" });
  const methods = element.events.methods;
  const method = h(
    "select",
    { name: "method" },
    methods.map((m) => h("option", { value: m, selected: (config[VENDOR_TYPE] ?? element.events.defaultMethod) === m }, m === "webhook" ? "Webhooks from the provider" : "Polling the provider's API")),
  );
  const interval = h("input", { type: "number", name: "interval", min: "1", value: config[REFRESH_INTERVAL] ?? "15" });
  const intervalField = field("Poll every (minutes)", interval);
  const showInterval = () => (intervalField.hidden = method.value !== "polling");
  method.addEventListener("change", showInterval);
  showInterval();
  const status = h("div", { "aria-live": "polite" });
  const save = h("button", { type: "submit", class: "button" }, "Save events settings");
  const form = h(
    "form",
    { novalidate: true, "aria-labelledby": "events-title" },
    field("Deliver events", enabled, "Send this instance's normalized events to the callback URL, signed and retried."),
    field("Callback URL", callback, "Where the hub POSTs each notification."),
    field("Signature key", key, "Optional: signs each body in Elements-Webhook-Signature (sha256=Base64 HMAC-SHA256), as Cloud Elements did."),
    hasKey ? field("Remove the signature key", clearKey) : null,
    methods.length > 1 ? field("How events arrive", method) : null,
    methods.length > 1 ? intervalField : null,
    status,
    save,
  );
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    status.replaceChildren();
    const configuration = {
      [EVENTS_ENABLED]: enabled.checked,
      [CALLBACK_URL]: callback.value.trim() || null,
    };
    if (clearKey.checked) configuration[SIGNATURE_KEY] = null;
    else if (key.value) configuration[SIGNATURE_KEY] = key.value;
    if (methods.length > 1) {
      configuration[VENDOR_TYPE] = method.value;
      if (method.value === "polling") configuration[REFRESH_INTERVAL] = interval.value;
    }
    try {
      await busy(save, () => api("PATCH", `/instances/${instance.id}`, { configuration }));
      const where = callback.value.trim()
        ? `Events go to ${callback.value.trim()}.`
        : "Events are held until a callback URL is set.";
      ctx.navigate(`#/instances/${instance.id}`, ["ok", "Events settings saved.", enabled.checked ? where : "Events are off."]);
    } catch (error) {
      status.append(message("error", "The events settings were not saved.", error.message));
      callback.focus();
    }
  });
  return h("section", { class: "card", "aria-labelledby": "events-title" }, h("h2", { id: "events-title" }, "Events"), form);
}

/** The provider-facing webhook URL and the steps to register it at the provider. */
function providerSetupCard(ctx, instance) {
  const provider = instance.element.name;
  const polling = instance.configuration[VENDOR_TYPE] === "polling";
  return h(
    "section",
    { class: "card", "aria-labelledby": "setup-title" },
    h("h2", { id: "setup-title" }, `${provider} setup`),
    copyField("Webhook URL", instance.eventsWebhookUrl, `${provider} POSTs its events here; the Base64 of the instance id is already in it.`),
    polling
      ? message("info", `This instance polls ${provider} instead, so nothing needs registering there.`)
      : null,
    h("h3", {}, `Register it at ${provider}`),
    h(
      "ol",
      { class: "steps" },
      h("li", {}, "In Hootsuite's developer portal (developer.hootsuite.com), open My Apps and the app whose client id this instance uses."),
      h("li", {}, "Paste the webhook URL above into the app's Webhook URL field and save."),
      h("li", {}, "Press Ping: Hootsuite sends a test event and the hub answers 200 (pings are logged as ignored)."),
      h("li", {}, "Make sure the app is installed in, or authorized by a member of, the Hootsuite organization whose messages you want."),
      h("li", {}, "Change something (schedule a message): Hootsuite batches events, so they reach the event log about 5 seconds later."),
    ),
    h(
      "p",
      { class: "muted small" },
      `Hootsuite only calls public addresses on ports 80, 8080, 443 or 8443: the hub's public URL (${ctx.session.publicUrl}) must be reachable from the internet.`,
    ),
  );
}

/** Rotating the Standard Webhooks secret that signs notifications. */
function signingCard(instance) {
  const result = h("div", { "aria-live": "polite" });
  const rotate = h("button", { type: "button", class: "button secondary" }, "Rotate signing secret");
  rotate.addEventListener("click", async () => {
    const sure = await confirmDialog(
      "Rotate the signing secret?",
      "A new secret signs notifications from now on; the current one keeps signing too for 24 hours, so receivers can switch over.",
      "Rotate",
    );
    if (!sure) return rotate.focus();
    result.replaceChildren();
    try {
      const rotated = await busy(rotate, () => api("POST", `/instances/${instance.id}/events/secret`));
      result.append(
        message("ok", "New signing secret — save it now, it is not shown again."),
        copyField("New signing secret", rotated.secret),
        h("p", { class: "muted small" }, "The previous secret keeps signing until ", when(rotated.previousSecretExpiresDate), "."),
      );
    } catch (error) {
      result.append(message("error", "The secret was not rotated.", error.message));
    }
  });
  return h(
    "section",
    { class: "card", "aria-labelledby": "signing-title" },
    h("h2", { id: "signing-title" }, "Notification signing"),
    h("p", {}, "Every notification carries webhook-id, webhook-timestamp and webhook-signature (Standard Webhooks), signed with this instance's secret."),
    rotate,
    result,
  );
}

function detailsCard(instance) {
  const fact = (term, value) => [h("dt", {}, term), h("dd", {}, value ?? h("span", { class: "muted" }, "—"))];
  return h(
    "section",
    { class: "card", "aria-labelledby": "details-title" },
    h("h2", { id: "details-title" }, "Details"),
    h(
      "dl",
      { class: "facts" },
      fact("Instance id", h("span", { class: "mono" }, String(instance.id))),
      fact("Element", `${instance.element.name} (${instance.element.key})`),
      fact("Provider account", account(instance)),
      fact("Tags", instance.tags.length ? instance.tags.join(", ") : null),
      fact("Access token expires", when(instance.tokenExpiresDate)),
      fact("Token refreshed", when(instance.tokenRefreshedDate)),
      fact("Created", when(instance.createdDate)),
      fact("Updated", when(instance.updatedDate)),
    ),
    h(
      "details",
      {},
      h("summary", {}, "Instance token"),
      copyField("Instance token", instance.token, "Authenticates calls about this instance only: Authorization: User <user secret>, Element <instance token>."),
    ),
  );
}

/** An input for one configuration key, by its type; `read()` gives the value to send. */
function configInput(spec, current, element) {
  const label = spec.name;
  const hint = `${spec.description} (${spec.key})`;
  if (spec.type === "BOOLEAN") {
    const input = h("input", { type: "checkbox", checked: (current ?? spec.defaultValue) === "true" });
    return { node: field(label, input, hint), read: () => (input.checked === ((current ?? spec.defaultValue) === "true") ? undefined : input.checked) };
  }
  if (spec.secret) {
    const input = h("input", { type: "password", autocomplete: "new-password", placeholder: current ? "Set — leave blank to keep it" : "Not set" });
    return { node: field(label, input, hint), read: () => input.value || undefined };
  }
  if (spec.key === VENDOR_TYPE) {
    const input = h(
      "select",
      {},
      h("option", { value: "" }, `Element default (${element.events.defaultMethod})`),
      element.events.methods.map((m) => h("option", { value: m, selected: current === m }, m)),
    );
    return { node: field(label, input, hint), read: () => (input.value === (current ?? "") ? undefined : input.value || null) };
  }
  const input =
    spec.type === "CODE_EDITOR"
      ? h("textarea", { rows: "4", spellcheck: false }, current ?? "")
      : h("input", { type: "text", value: current ?? "", spellcheck: false });
  return { node: field(label, input, hint), read: () => (input.value.trim() === (current ?? "") ? undefined : input.value.trim() || null) };
}

export async function editView(ctx, id) {
  const instance = await api("GET", `/instances/${id}`);
  const element = await api("GET", `/elements/${encodeURIComponent(instance.element.key)}`);
  const name = h("input", { type: "text", name: "name", value: instance.name, required: true });
  const tags = h("input", { type: "text", name: "tags", value: instance.tags.join(", ") });
  const inputs = element.configuration.map((spec) => [spec.key, configInput(spec, instance.configuration[spec.key], element)]);
  const status = h("div", { "aria-live": "polite" });
  const save = h("button", { type: "submit", class: "button" }, "Save changes");
  const form = h(
    "form",
    { class: "card narrow", novalidate: true },
    field("Instance name", name),
    field("Tags", tags, "Separated by commas."),
    h("h2", {}, "Configuration"),
    h("p", { class: "muted small" }, "Secret values are stored encrypted and never shown; leave them blank to keep them."),
    inputs.map(([, input]) => input.node),
    status,
    h("div", { class: "actions" }, save, h("a", { class: "button secondary", href: `#/instances/${id}` }, "Cancel")),
  );
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    status.replaceChildren();
    const configuration = {};
    for (const [key, input] of inputs) {
      const value = input.read();
      if (value !== undefined) configuration[key] = value;
    }
    try {
      await busy(save, () => api("PATCH", `/instances/${id}`, { name: name.value.trim(), tags: tagList(tags.value), configuration }));
      ctx.navigate(`#/instances/${id}`, ["ok", "Changes saved."]);
    } catch (error) {
      status.append(message("error", "The changes were not saved.", error.message, ...errorDetails(error)));
    }
  });
  return h("div", {}, pageHead(`Edit ${instance.name}`, `${instance.element.name} instance ${instance.id}`, crumbsTo(instance)), form);
}
