// Fixtures for the console's browser tests: the real hub and simulator binaries on loopback,
// a callback receiver, and Debian's Chromium driven by Playwright (never a downloaded browser).

import { spawn, spawnSync } from "node:child_process";
import { mkdtempSync, mkdirSync, rmSync } from "node:fs";
import { createServer } from "node:http";
import { createServer as createNetServer } from "node:net";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { chromium } from "playwright-core";

export const REPO = resolve(dirname(fileURLToPath(import.meta.url)), "../..");

/** Launch arguments for Chromium on a machine without a display or outside network. */
const CHROMIUM_ARGS = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-background-networking",
  "--disable-component-update",
  "--no-first-run",
  "--disable-sync",
];

/** Where screenshots go: docs/screenshots when UPDATE_SCREENSHOTS=1, else a scratch folder. */
export const SCREENSHOTS = process.env.UPDATE_SCREENSHOTS === "1" ? join(REPO, "docs/screenshots") : join(REPO, "console-tests/output/screenshots");
mkdirSync(SCREENSHOTS, { recursive: true });

const children = [];
process.on("exit", () => {
  for (const child of children) child.kill("SIGKILL");
});

async function freePort() {
  const server = createNetServer();
  await new Promise((ok) => server.listen(0, "127.0.0.1", ok));
  const { port } = server.address();
  await new Promise((ok) => server.close(ok));
  return port;
}

/** Builds the hub and the simulator, as CI and a developer would. */
function build() {
  const cargo = spawnSync("cargo", ["build", "-p", "tributary", "-p", "hootsuite-sim"], { cwd: REPO, stdio: "inherit" });
  if (cargo.status !== 0) throw new Error("cargo build failed");
  const target = process.env.CARGO_TARGET_DIR ? resolve(REPO, process.env.CARGO_TARGET_DIR) : join(REPO, "target");
  return { hub: join(target, "debug/tributary"), sim: join(target, "debug/hootsuite-sim") };
}

/** Starts a binary and resolves once a line of its standard output matches `ready`. */
function start(name, command, args, options, ready) {
  const child = spawn(command, args, { ...options, stdio: ["ignore", "pipe", "pipe"] });
  children.push(child);
  let output = "";
  const keep = (chunk) => {
    // Kept for the failure message; read continuously so a full pipe never blocks the child.
    output = (output + chunk).slice(-20000);
  };
  child.stderr.on("data", keep);
  return new Promise((ok, fail) => {
    const timer = setTimeout(() => fail(new Error(`${name} did not start within 60 s:\n${output}`)), 60000);
    child.on("exit", (code) => fail(new Error(`${name} exited with ${code}:\n${output}`)));
    let pending = "";
    child.stdout.on("data", (chunk) => {
      keep(chunk);
      pending += chunk;
      const lines = pending.split("\n");
      pending = lines.pop();
      for (const line of lines) {
        const match = line.match(ready);
        if (match) {
          clearTimeout(timer);
          ok({ child, match, output: () => output });
        }
      }
    });
  });
}

/** Starts the simulator and the hub pointed at it; resolves to their URLs and the hub's secrets. */
// The Rust test that runs this suite from `cargo test` passes the hub it built
// (CONSOLE_TEST_HUB_BIN) and a simulator it runs (CONSOLE_TEST_SIM_URL): cargo holds its build lock
// while tests run, so building here would wait forever.
export async function startServers() {
  const built = process.env.CONSOLE_TEST_HUB_BIN && process.env.CONSOLE_TEST_SIM_URL ? null : build();
  let simUrl = process.env.CONSOLE_TEST_SIM_URL;
  if (!simUrl) {
    const port = await freePort();
    const sim = await start(
      "hootsuite-sim",
      built.sim,
      ["--listen", `127.0.0.1:${port}`, "--webhook-batch-interval-ms", "200"],
      {},
      /listening on (http:\/\/\S+)/,
    );
    simUrl = sim.match[1];
  }
  const port = await freePort();
  const hubUrl = `http://127.0.0.1:${port}`;
  const dataDir = mkdtempSync(join(tmpdir(), "tributary-console-"));
  // The hub reads every TRIBUTARY_* variable as configuration: it gets only the test's own.
  const env = Object.fromEntries(Object.entries(process.env).filter(([name]) => !name.startsWith("TRIBUTARY_") && name !== "RUST_LOG"));
  const hub = await start(
    "tributary",
    process.env.CONSOLE_TEST_HUB_BIN || built.hub,
    [],
    {
      cwd: dataDir,
      env: {
        ...env,
        TRIBUTARY_LISTEN: `127.0.0.1:${port}`,
        TRIBUTARY_PUBLIC_URL: hubUrl,
        TRIBUTARY_DATA_DIR: join(dataDir, "data"),
        TRIBUTARY_PROVIDERS__HOOTSUITE__BASE_URL: simUrl,
        // The callback receiver listens on loopback, which delivery refuses by default.
        TRIBUTARY_DELIVERY__ALLOW_NETWORKS: '["127.0.0.0/8"]',
      },
    },
    /Authorization: (User \S+, Organization \S+)/,
  );
  for (let i = 0; i < 100; i++) {
    const ready = await fetch(`${hubUrl}/ready`).then((r) => r.ok, () => false);
    if (ready) break;
    await new Promise((ok) => setTimeout(ok, 100));
  }
  return {
    hubUrl,
    simUrl,
    authorization: hub.match[1],
    hubOutput: hub.output,
    stop() {
      for (const child of children.splice(0)) child.kill("SIGTERM");
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

/**
 * A callback URL on loopback that records every notification and answers 200, or the
 * statuses given to `answerNext` first.
 */
export async function startReceiver() {
  const received = [];
  const script = [];
  const server = createServer((req, res) => {
    const chunks = [];
    req.on("data", (c) => chunks.push(c));
    req.on("end", () => {
      received.push({ headers: req.headers, body: Buffer.concat(chunks).toString("utf8") });
      res.writeHead(script.shift() ?? 200, { "content-type": "text/plain" }).end("thanks");
    });
  });
  await new Promise((ok) => server.listen(0, "127.0.0.1", ok));
  return {
    url: `http://127.0.0.1:${server.address().port}/events`,
    received,
    answerNext: (...statuses) => script.push(...statuses),
    close: () => new Promise((ok) => server.close(ok)),
  };
}

export async function launchBrowser() {
  return chromium.launch({
    executablePath: process.env.CHROMIUM_PATH || "/usr/bin/chromium",
    headless: true,
    args: CHROMIUM_ARGS,
  });
}

/** Polls `check` until it returns something truthy, for at most `ms`. */
export async function eventually(what, check, ms = 30000) {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = await check();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((ok) => setTimeout(ok, 200));
  }
}

/** A JSON call to the hub's API with the bootstrap credentials, as a client program would. */
export async function hubApi(servers, method, path, body) {
  const response = await fetch(`${servers.hubUrl}/elements/api-v2${path}`, {
    method,
    headers: { authorization: servers.authorization, "content-type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const json = await response.json();
  if (!response.ok) throw new Error(`${method} ${path}: ${response.status} ${JSON.stringify(json)}`);
  return json;
}

/** A JSON call to the simulator's API or control API. */
export async function sim(simUrl, method, path, body, headers = {}) {
  const response = await fetch(simUrl + path, {
    method,
    headers: { "content-type": "application/json", ...headers },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await response.text();
  if (!response.ok) throw new Error(`${method} ${path}: ${response.status} ${text}`);
  return text ? JSON.parse(text) : null;
}

/** Changes a message's state at the simulator, which sends the hub a webhook about it. */
export async function triggerMessageEvent(simUrl) {
  const token = await fetch(`${simUrl}/oauth2/token`, {
    method: "POST",
    headers: {
      authorization: `Basic ${Buffer.from("tributary-demo:tributary-demo-secret").toString("base64")}`,
      "content-type": "application/x-www-form-urlencoded",
    },
    body: "grant_type=organization_app&organization_id=626731",
  }).then((r) => r.json());
  if (!token.access_token) throw new Error(`no organization token: ${JSON.stringify(token)}`);
  const created = await sim(simUrl, "POST", "/v1/messages", { text: "hi", socialProfileIds: ["115185509"] }, { authorization: `Bearer ${token.access_token}` });
  const id = created.data[0].id;
  await sim(simUrl, "POST", `/_sim/messages/${id}/state`, { state: "DELETED" });
  await sim(simUrl, "POST", "/_sim/webhooks/flush");
  return id;
}
