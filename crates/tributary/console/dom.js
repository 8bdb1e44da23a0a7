// DOM helpers shared by the views. Everything the hub or a provider sent is inserted as text
// (never as HTML), so a hostile instance name or event body cannot run script here.

/** Builds an element: `h("a", {href, class, onClick}, "text", child, [more])`. */
export function h(tag, props = {}, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(props)) {
    if (value === undefined || value === null || value === false) continue;
    if (key.startsWith("on") && typeof value === "function") {
      el.addEventListener(key.slice(2).toLowerCase(), value);
    } else if (key === "class") {
      el.className = value;
    } else if (key === "dataset") {
      Object.assign(el.dataset, value);
    } else if (key in el && typeof value !== "string") {
      el[key] = value;
    } else {
      el.setAttribute(key, value === true ? "" : String(value));
    }
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const child of children) {
    if (child === null || child === undefined || child === false) continue;
    if (Array.isArray(child)) append(el, child);
    else el.append(child instanceof Node ? child : String(child));
  }
}

let uniqueIds = 0;

/** A labelled form field; `hint` is tied to the input with aria-describedby. */
export function field(label, input, hint) {
  input.id ||= `field-${++uniqueIds}`;
  const hintEl = hint ? h("span", { class: "hint", id: `${input.id}-hint` }, hint) : null;
  if (hintEl) input.setAttribute("aria-describedby", hintEl.id);
  if (input.type === "checkbox") {
    return h("div", { class: "field check" }, input, h("div", {}, h("label", { for: input.id }, label), hintEl));
  }
  return h("div", { class: "field" }, h("label", { for: input.id }, label), input, hintEl);
}

/** Flags an input as wrongly filled for assistive technology (and the stylesheet). */
export function markInvalid(input, invalid) {
  if (invalid) input.setAttribute("aria-invalid", "true");
  else input.removeAttribute("aria-invalid");
}

/** A read-only value with a Copy button that says whether copying worked. */
export function copyField(label, value, hint) {
  // A read-only text area wraps a long URL instead of hiding most of it.
  const input = h("textarea", { readOnly: true, rows: String(Math.min(3, Math.ceil(value.length / 56))), class: "mono copy-value", spellcheck: false }, value);
  input.id = `field-${++uniqueIds}`;
  const button = h("button", { type: "button", class: "button secondary" }, "Copy");
  button.setAttribute("aria-label", `Copy ${label}`);
  button.addEventListener("click", async () => {
    const ok = await copyText(value, input);
    button.textContent = ok ? "Copied" : "Copy failed";
    announce(ok ? `${label} copied to the clipboard.` : `Could not copy; select the ${label} and copy it by hand.`);
    setTimeout(() => (button.textContent = "Copy"), 2000);
  });
  const hintEl = hint ? h("span", { class: "hint", id: `${input.id}-hint` }, hint) : null;
  if (hintEl) input.setAttribute("aria-describedby", hintEl.id);
  return h("div", { class: "field" }, h("label", { for: input.id }, label), h("div", { class: "copy-row" }, input, button), hintEl);
}

async function copyText(text, input) {
  try {
    await navigator.clipboard.writeText(text);
    return true;
  } catch {
    // The asynchronous clipboard needs a secure context (https or loopback); fall back to
    // selecting the text and the legacy copy command.
    input.focus();
    input.select();
    return document.execCommand("copy");
  }
}

/** Tells screen readers something without moving focus. */
export function announce(text) {
  const region = document.getElementById("flash");
  const note = h("p", { class: "visually-hidden" }, text);
  region.append(note);
  setTimeout(() => note.remove(), 4000);
}

/**
 * Shows a message above the page until dismissed or the next page replaces it. Errors are
 * alerts (read out at once); the rest are polite status messages.
 */
export function flash(kind, title, ...details) {
  const region = document.getElementById("flash");
  region.replaceChildren(message(kind, title, ...details));
}

export function clearFlash() {
  document.getElementById("flash").replaceChildren();
}

/** A message box: `kind` is ok, error, info or warn. */
export function message(kind, title, ...details) {
  const box = h(
    "div",
    { class: `message ${kind}`, role: kind === "error" ? "alert" : "status" },
    h("div", { class: "message-text" }, h("p", {}, h("strong", {}, title)), details.filter(Boolean).map((d) => h("p", {}, d))),
  );
  const close = h("button", { type: "button", class: "close", onClick: () => box.remove() }, "×");
  close.setAttribute("aria-label", "Dismiss message");
  box.append(close);
  return box;
}

/** The parts of an API error worth showing: what the hub said, and what the provider said. */
export function errorDetails(error) {
  return [
    error.providerMessage ? `The provider said: ${error.providerMessage}` : null,
    error.requestId && error.status >= 500 ? `Request id for the hub's log: ${error.requestId}` : null,
  ];
}

export function badge(text, kind = "neutral") {
  return h("span", { class: `badge ${kind}` }, text);
}

const STATUS_KINDS = {
  notified: "ok",
  delivered: "ok",
  received: "info",
  dispatched: "info",
  pending: "info",
  inflight: "info",
  queued: "warn",
  held: "warn",
  duplicate: "neutral",
  ignored: "neutral",
  failed: "error",
};

/** A badge for an event or delivery status. */
export function statusBadge(status) {
  return badge(status, STATUS_KINDS[status] ?? "neutral");
}

const dateFormat = new Intl.DateTimeFormat(undefined, { dateStyle: "medium", timeStyle: "medium" });

/** A `<time>` element in the reader's locale, with the exact ISO time as its datetime. */
export function when(iso) {
  if (!iso) return h("span", { class: "muted" }, "—");
  return h("time", { datetime: iso, title: iso }, dateFormat.format(new Date(iso)));
}

/** Pretty-printed JSON (or the text as is when it is not JSON). */
export function codeBlock(value, label) {
  const text = typeof value === "string" ? prettyIfJson(value) : JSON.stringify(value, null, 2);
  const pre = h("pre", { tabindex: "0" }, h("code", {}, text));
  if (label) pre.setAttribute("aria-label", label);
  return pre;
}

function prettyIfJson(text) {
  try {
    return JSON.stringify(JSON.parse(text), null, 2);
  } catch {
    return text;
  }
}

/** A table whose cells carry their column name, so rows can stack on a phone. */
export function table(caption, columns, rows) {
  return h(
    "div",
    { class: "table-wrap" },
    h(
      "table",
      { class: "data" },
      caption ? h("caption", { class: "visually-hidden" }, caption) : null,
      h("thead", {}, h("tr", {}, columns.map((c) => h("th", { scope: "col" }, c)))),
      h("tbody", {}, rows),
    ),
  );
}

export function row(columns, cells, props = {}) {
  return h("tr", props, cells.map((cell, i) => h("td", { dataset: { label: columns[i] } }, cell)));
}

/** Disables a button while `work` runs, so a double click does not send twice. */
export async function busy(button, work) {
  button.disabled = true;
  try {
    return await work();
  } finally {
    button.disabled = false;
  }
}

/** Asks for confirmation in a modal dialog; resolves to true when confirmed. */
export function confirmDialog(title, text, confirmLabel) {
  return new Promise((resolve) => {
    const titleId = `dialog-${++uniqueIds}`;
    const dialog = h(
      "dialog",
      { "aria-labelledby": titleId },
      h("h2", { id: titleId }, title),
      h("p", {}, text),
      h(
        "form",
        { method: "dialog", class: "actions" },
        h("button", { class: "button danger", value: "confirm" }, confirmLabel),
        h("button", { class: "button secondary", value: "cancel", autofocus: true }, "Cancel"),
      ),
    );
    dialog.addEventListener("close", () => {
      dialog.remove();
      resolve(dialog.returnValue === "confirm");
    });
    document.body.append(dialog);
    dialog.showModal();
  });
}
