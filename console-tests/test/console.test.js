// The web console end to end, in a real headless Chromium: sign in, authenticate an instance
// through the simulator's consent page, turn events on, make the simulator send a webhook,
// watch the event arrive in the log without reloading, replay it; then the error and
// housekeeping paths (denied consent, edit, disable, re-authenticate, delete, sign out) and a
// phone-width layout. Screenshots of the main pages are taken on the way.

import assert from "node:assert/strict";
import { createHmac } from "node:crypto";
import { join } from "node:path";
import { after, before, test } from "node:test";

import { SCREENSHOTS, eventually, hubApi, launchBrowser, sim, startReceiver, startServers, triggerMessageEvent } from "./support.js";

let servers;
let receiver;
let browser;
let context;
let page;
const pageErrors = [];

before(async () => {
  servers = await startServers();
  receiver = await startReceiver();
  browser = await launchBrowser();
  context = await browser.newContext({
    viewport: { width: 1280, height: 860 },
    permissions: ["clipboard-read", "clipboard-write"],
  });
  page = await context.newPage();
  page.setDefaultTimeout(20000);
  page.on("pageerror", (error) => pageErrors.push(error));
});

after(async () => {
  await browser?.close();
  await receiver?.close();
  servers?.stop();
});

const shot = (name, target = page) => target.screenshot({ path: join(SCREENSHOTS, `${name}.png`), fullPage: true });
const heading = (name, target = page) => target.getByRole("heading", { level: 1, name }).waitFor();
const main = (target = page) => target.getByRole("main");
const flashText = () => page.locator("#flash").innerText();

/** Authenticates at the simulator: fills the console's form, presses Authenticate, then `decision`. */
async function authorizeThroughSimulator(decision, fill) {
  await fill();
  await page.getByRole("button", { name: /^(Authenticate|Re-authenticate)$/ }).click();
  await page.waitForURL(`${servers.simUrl}/oauth2/auth?**`);
  await page.locator(`#${decision}`).click();
  await page.waitForURL(`${servers.hubUrl}/**`);
}

let instanceUrl;
let webhookUrl;

test("signing in: wrong secrets say why; the line the hub printed signs in, by keyboard", async () => {
  await page.goto(servers.hubUrl);
  await heading("Sign in");
  await shot("sign-in");
  await page.getByLabel("User secret").fill("wrong");
  await page.getByLabel("Organization secret").fill("wrong");
  await page.getByRole("button", { name: "Sign in" }).click();
  await page.getByRole("alert").filter({ hasText: "These secrets do not match" }).waitFor();

  await page.getByLabel("User secret").fill("");
  await page.getByLabel("Organization secret").fill("");
  await page.getByLabel("User secret").focus();
  await page.keyboard.insertText(`Authorization: ${servers.authorization}`);
  const [user, org] = servers.authorization.match(/User (\S+), Organization (\S+)/).slice(1);
  assert.equal(await page.getByLabel("User secret").inputValue(), user);
  assert.equal(await page.getByLabel("Organization secret").inputValue(), org);
  await page.keyboard.press("Enter");
  await heading("Instances");
  await main().getByText("No instances yet — authenticate one").waitFor();

  const cookies = await context.cookies();
  const session = cookies.find((c) => c.name === "tributary_session");
  assert.ok(session, "a session cookie");
  assert.equal(session.httpOnly, true);
  assert.equal(session.sameSite, "Strict");
  assert.ok(!session.value.includes(user) && !session.value.includes(org), "no secret in the cookie");
  assert.equal(await page.evaluate(() => document.cookie), "", "scripts cannot read the session");
});

test("authenticating an instance through the simulator's consent page creates it", async () => {
  await main().getByRole("link", { name: "Authenticate an instance" }).click();
  await heading("Authenticate an instance");
  assert.equal(await page.getByLabel("Callback URL").inputValue(), `${servers.hubUrl}/console/oauth/callback`);
  await authorizeThroughSimulator("approve", async () => {
    await page.getByLabel("Instance name").fill("Acme social");
    await page.getByLabel("Client ID").fill("tributary-demo");
    await page.getByLabel("Client secret").fill("tributary-demo-secret");
  });
  await heading("Acme social");
  instanceUrl = page.url();
  assert.match(instanceUrl, /\/#\/instances\/\d+$/, "the code left the address bar");
  assert.match(await flashText(), /Instance “Acme social” created\.\s+Connected to the Hootsuite account of Joe Smith/);
  assert.match(await page.getByRole("textbox", { name: "Notification signing secret", exact: true }).inputValue(), /^whsec_/);
});

test("turning events on, with a callback URL and a signature key; the webhook URL copies", async () => {
  await page.getByLabel("Deliver events").check();
  await page.getByLabel("Callback URL").fill(receiver.url);
  await page.getByLabel("Signature key").fill("console-key");
  await page.getByRole("button", { name: "Save events settings" }).click();
  await page.locator("#flash").getByText("Events settings saved.").waitFor();
  await main().getByText("Events on", { exact: true }).waitFor();
  assert.equal(await page.getByLabel("Callback URL").inputValue(), receiver.url);

  webhookUrl = await page.getByRole("textbox", { name: "Webhook URL", exact: true }).inputValue();
  assert.match(webhookUrl, new RegExp(`^${servers.hubUrl}/elements/api-v2/events/hootsuite/[A-Za-z0-9+/=]+$`));
  await page.getByRole("button", { name: "Copy Webhook URL" }).click();
  await page.getByRole("button", { name: "Copy Webhook URL" }).filter({ hasText: "Copied" }).waitFor();
  assert.equal(await page.evaluate(() => navigator.clipboard.readText()), webhookUrl);
  await main().getByText("Register it at Hootsuite").waitFor();
  await shot("instance");

  await page.getByRole("link", { name: "Instances", exact: true }).first().click();
  await heading("Instances");
  await main().getByRole("link", { name: "Acme social", exact: true }).waitFor();
  await shot("instances");
});

let eventRow;

test("an event the simulator sends appears in the log without reloading", async () => {
  await sim(servers.simUrl, "PATCH", "/_sim/apps/tributary-demo", { webhookUrl });
  await main().getByRole("link", { name: "Event log of Acme social" }).click();
  await heading("Event log");
  await main().getByText("No events yet").waitFor();
  await page.evaluate(() => (window.stillTheSamePage = true));

  await triggerMessageEvent(servers.simUrl);
  eventRow = main().locator("tbody tr").filter({ hasText: "DELETED" });
  await eventRow.waitFor({ timeout: 30000 });
  await eventRow.getByText("notified", { exact: true }).waitFor({ timeout: 30000 });
  assert.equal(await page.evaluate(() => window.stillTheSamePage), true, "the page was not reloaded");
  await shot("event-log");
});

test("the event's detail shows normalized events, the raw body and the delivery attempt", async () => {
  await eventRow.getByRole("link").click();
  await page.getByRole("heading", { level: 1, name: /^Event received/ }).waitFor();
  const objects = main().getByRole("region", { name: /Normalized events/ });
  await objects.getByRole("cell", { name: "DELETED", exact: true }).first().waitFor();
  await objects.getByRole("cell", { name: "messages", exact: true }).first().waitFor();
  await main().getByRole("region", { name: "Raw body from Hootsuite" }).getByText("com.hootsuite.messages.event.v1").first().waitFor();
  const deliveries = main().getByRole("region", { name: "Deliveries (1)" });
  await deliveries.getByRole("cell", { name: "200", exact: true }).waitFor();

  const notification = await eventually("the notification at the receiver", () =>
    receiver.received.find((r) => r.body.includes('"DELETED"')),
  );
  const signature = createHmac("sha256", "console-key").update(notification.body).digest("base64");
  assert.equal(notification.headers["elements-webhook-signature"], `sha256=${signature}`, "signed with the key set in the console");
  await shot("event");
});

test("replaying the event sends a new notification, which appears in the detail", async () => {
  const before = receiver.received.filter((r) => r.body.includes('"DELETED"')).length;
  await page.getByRole("button", { name: "Replay" }).click();
  await page.getByRole("status").filter({ hasText: "Replayed: 1 new notification queued for delivery." }).waitFor();
  const deliveries = main().getByRole("region", { name: "Deliveries (2)" });
  await eventually("two delivered notifications", async () => (await deliveries.getByRole("cell", { name: "200", exact: true }).count()) === 2);
  const after = await eventually("the replayed notification", () => {
    const got = receiver.received.filter((r) => r.body.includes('"DELETED"'));
    return got.length > before && got;
  });
  assert.notEqual(after.at(-1).headers["webhook-id"], after.at(-2).headers["webhook-id"], "a replay is a new notification");
});

test("queued deliveries are listed and released; a paused subscription is reactivated", async () => {
  const [, id, eventId] = page.url().match(/#\/instances\/(\d+)\/events\/([0-9a-f-]+)$/);
  await main().getByRole("link", { name: "Event log" }).click();
  await heading("Event log");
  await main().getByText("No queued deliveries.").waitFor();

  // The queue policy parks a failed notification instead of retrying it.
  await hubApi(servers, "PATCH", "/accounts/settings", { "notification.webhook.failure.policy": "queue" });
  // Delivery caches an instance's settings for up to a second.
  await new Promise((ok) => setTimeout(ok, 1500));
  receiver.answerNext(500);
  await hubApi(servers, "POST", `/instances/${id}/events/${eventId}/replay`);
  const queued = main().getByRole("region", { name: "Queued deliveries (1)" });
  await queued.waitFor({ timeout: 30000 });
  await queued.getByRole("button", { name: "Release all" }).click();
  await page.locator("#flash").getByText("1 queued notifications released").waitFor();
  await main().getByRole("region", { name: "Queued deliveries (0)" }).waitFor();
  await hubApi(servers, "PATCH", "/accounts/settings", { "notification.webhook.failure.policy": "retry" });

  // 410 Gone pauses delivery until someone reactivates it.
  receiver.answerNext(410);
  await hubApi(servers, "POST", `/instances/${id}/events/${eventId}/replay`);
  const delivery = main().getByRole("region", { name: "Delivery" });
  await delivery.getByText("Delivery is paused").waitFor({ timeout: 30000 });
  await delivery.getByRole("button", { name: "Reactivate subscription" }).click();
  await page.locator("#flash").getByText("Subscription reactivated.").waitFor();
  await delivery.getByText("Notifications are being sent").waitFor();
});

test("a denied consent says why, and Try again keeps what was typed", async () => {
  await page.goto(`${servers.hubUrl}/#/new`);
  await heading("Authenticate an instance");
  await authorizeThroughSimulator("deny", async () => {
    await page.getByLabel("Instance name").fill("Denied one");
    await page.getByLabel("Client ID").fill("tributary-demo");
    await page.getByLabel("Client secret").fill("tributary-demo-secret");
  });
  await heading("Authorization failed");
  const alert = main().getByRole("alert");
  await alert.getByText("Access was denied on Hootsuite's consent page, so nothing was created.").waitFor();
  assert.match(await alert.innerText(), /access_denied/);
  await shot("oauth-denied");
  await main().getByRole("link", { name: "Try again" }).click();
  await heading("Authenticate an instance");
  assert.equal(await page.getByLabel("Instance name").inputValue(), "Denied one");
  assert.equal(await page.getByLabel("Client secret").inputValue(), "", "the secret is not kept");
});

test("editing, disabling, enabling and re-authenticating an instance", async () => {
  await page.goto(instanceUrl);
  await heading("Acme social");
  await main().getByRole("link", { name: "Edit", exact: true }).click();
  await heading("Edit Acme social");
  await page.getByLabel("Instance name").fill("Acme social (edited)");
  await page.getByLabel("Tags").fill("docs, demo");
  await page.getByRole("button", { name: "Save changes" }).click();
  await heading("Acme social (edited)");
  await page.locator("#flash").getByText("Changes saved.").waitFor();

  await main().getByRole("button", { name: "Disable", exact: true }).click();
  await main().getByText("This instance is disabled.").waitFor();
  await main().getByText("Disabled", { exact: true }).waitFor();
  await main().getByRole("button", { name: "Enable", exact: true }).click();
  await main().getByText("Enabled", { exact: true }).waitFor();

  await main().getByRole("link", { name: "Re-authenticate", exact: true }).click();
  await heading("Re-authenticate Acme social (edited)");
  await authorizeThroughSimulator("approve", async () => {
    await page.getByLabel("Client ID").fill("tributary-demo");
  });
  await heading("Acme social (edited)");
  assert.match(await flashText(), /re-authenticated/);
  assert.equal(page.url(), instanceUrl, "the same instance");
});

test("at phone width the pages fit the screen", async () => {
  const phone = await browser.newContext({
    storageState: await context.storageState(),
    viewport: { width: 375, height: 812 },
    isMobile: true,
    hasTouch: true,
  });
  const small = await phone.newPage();
  small.on("pageerror", (error) => pageErrors.push(error));
  for (const [path, title, name] of [
    ["/", "Instances", "phone-instances"],
    [new URL(instanceUrl).hash, "Acme social (edited)", "phone-instance"],
    [`${new URL(instanceUrl).hash}/events`, "Event log", "phone-event-log"],
  ]) {
    await small.goto(servers.hubUrl + (path.startsWith("#") ? `/${path}` : path));
    await heading(title, small);
    const overflow = await small.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    assert.ok(overflow <= 0, `${title} is ${overflow}px wider than the screen`);
    await shot(name, small);
  }
  await phone.close();
});

test("deleting the instance brings the empty state back", async () => {
  await page.goto(instanceUrl);
  await heading("Acme social (edited)");
  await main().getByRole("button", { name: "Delete", exact: true }).click();
  const dialog = page.getByRole("dialog", { name: "Delete Acme social (edited)?" });
  await dialog.getByRole("button", { name: "Delete instance" }).click();
  await heading("Instances");
  await page.locator("#flash").getByText("Instance “Acme social (edited)” deleted.").waitFor();
  await main().getByText("No instances yet — authenticate one").waitFor();
});

test("signing out ends the session", async () => {
  await page.getByRole("button", { name: "Sign out" }).click();
  await heading("Sign in");
  await main().getByText("You are signed out.").waitFor();
  assert.equal((await context.cookies()).find((c) => c.name === "tributary_session"), undefined);
  await page.reload();
  await heading("Sign in");
  const status = await page.evaluate(() => fetch("/elements/api-v2/instances").then((r) => r.status));
  assert.equal(status, 401);
  assert.deepEqual(pageErrors, [], "no script errors on any page");
});
