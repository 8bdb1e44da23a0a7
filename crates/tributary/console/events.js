// The event log of one instance and one event's detail. Both refresh themselves every
// LIVE_MS milliseconds while they are on screen (and the tab is visible): new events and
// delivery attempts appear without reloading. Polling was chosen over Server-Sent Events: it
// needs nothing new on the hub, works through any proxy, and a few small requests every
// couple of seconds cost nothing next to a person looking at the page.

import { api, request, API } from "./api.js";
import { announce, badge, busy, codeBlock, errorDetails, field, h, message, row, statusBadge, table, when } from "./dom.js";

const LIVE_MS = 2500;
// The hub's own statuses (statusDetail), finer than Cloud Elements' `status`; the filter
// takes either.
const STATUSES = ["received", "held", "dispatched", "notified", "failed", "queued", "ignored", "duplicate"];
const EVENT_COLUMNS = ["Received", "Status", "Events", "Source"];

/** One line per normalized event object: "UPDATED messages 4138… (SCHEDULED)". */
function summary(event) {
  const objects = Array.isArray(event.events) ? event.events : [];
  if (!objects.length) return h("span", { class: "muted" }, event.note ?? "No event objects");
  const lines = objects.slice(0, 3).map((o) => [o.eventType, o.objectType, o.objectId].filter(Boolean).join(" ") + (o.state ? ` (${o.state})` : ""));
  if (objects.length > 3) lines.push(`and ${objects.length - 3} more`);
  return h("span", {}, lines.join("; "));
}

function eventRow(instanceId, event, fresh) {
  const link = h("a", { href: `#/instances/${instanceId}/events/${event.id}` }, when(event.eventDate));
  return row(EVENT_COLUMNS, [link, statusBadge(event.statusDetail), summary(event), event.source], {
    class: fresh ? "fresh" : undefined,
    dataset: { id: event.id, status: event.statusDetail },
  });
}

function liveIndicator() {
  const el = h("span", { class: "live" }, `Live: checks every ${LIVE_MS / 1000} s`);
  return {
    el,
    tick(ok) {
      el.classList.toggle("paused", !ok);
      el.textContent = ok
        ? `Live: updated ${new Date().toLocaleTimeString()}`
        : "Live updates paused: the hub did not answer; retrying";
    },
  };
}

/** Replaces a card's contents only when what it shows changed, so focus is not lost. */
function refreshable(build) {
  const holder = h("div", {});
  let shown = null;
  return {
    el: holder,
    update(data) {
      const key = JSON.stringify(data);
      if (key === shown) return;
      shown = key;
      holder.replaceChildren(build(data));
    },
  };
}

export async function eventLogView(ctx, id) {
  const instance = await api("GET", `/instances/${id}`);
  const polled = instance.configuration["event.vendor.type"] === "polling" && instance.eventsEnabled;
  let filter = "";
  const known = new Map();
  const tbody = h("tbody", {});
  const empty = h(
    "div",
    { class: "card empty" },
    h("h2", {}, "No events yet"),
    h("p", {}, `When ${instance.element.name} sends one, it appears here within seconds; this page checks every ${LIVE_MS / 1000} s.`),
  );
  const tableWrap = table("Events, newest first", EVENT_COLUMNS, []);
  tableWrap.querySelector("tbody").replaceWith(tbody);
  const more = h("button", { type: "button", class: "button secondary" }, "Load older events");
  let nextPage = null;
  const live = liveIndicator();

  const query = (extra) => {
    const params = new URLSearchParams({ pageSize: "50", ...extra });
    if (filter) params.set("status", filter);
    return `${API}/instances/${id}/events?${params}`;
  };
  const showEmpty = () => {
    empty.hidden = known.size > 0;
    tableWrap.hidden = known.size === 0;
  };
  /** Puts events into the table: new ones at the top (or bottom for older pages), known ones updated. */
  const merge = (events, { older, fresh }) => {
    let added = 0;
    const rows = [];
    for (const event of events) {
      const existing = known.get(event.id);
      if (existing) {
        if (existing.dataset.status !== event.statusDetail) {
          const updated = eventRow(id, event, false);
          existing.replaceWith(updated);
          known.set(event.id, updated);
        }
        continue;
      }
      const tr = eventRow(id, event, fresh);
      known.set(event.id, tr);
      rows.push(tr);
      added++;
    }
    if (older) tbody.append(...rows);
    else tbody.prepend(...rows);
    showEmpty();
    return added;
  };
  const loadFirst = async (fresh) => {
    const { body, headers } = await request("GET", query({}));
    if (!fresh) nextPage = headers.get("Elements-Next-Page-Token");
    more.hidden = !nextPage;
    return merge(body, { older: false, fresh });
  };
  more.addEventListener("click", () =>
    busy(more, async () => {
      const { body, headers } = await request("GET", query({ nextPage }));
      nextPage = headers.get("Elements-Next-Page-Token");
      more.hidden = !nextPage;
      merge(body, { older: true, fresh: false });
    }),
  );

  const statusFilter = h("select", { name: "status" }, h("option", { value: "" }, "All statuses"), STATUSES.map((s) => h("option", { value: s }, s)));
  statusFilter.addEventListener("change", async () => {
    filter = statusFilter.value;
    known.clear();
    tbody.replaceChildren();
    nextPage = null;
    await loadFirst(false);
    announce(`${known.size} events shown${filter ? ` with status ${filter}` : ""}.`);
  });

  const subscription = refreshable((s) => subscriptionCard(ctx, id, s));
  const queued = refreshable((list) => queuedCard(ctx, id, list));
  const poller = refreshable((p) => pollerCard(p));
  const refreshSide = async () => {
    const [s, q, p] = await Promise.all([
      api("GET", `/instances/${id}/events/subscription`),
      api("GET", `/instances/${id}/events/deliveries?status=queued`),
      polled ? api("GET", `/instances/${id}/events/poller`).catch(() => null) : null,
    ]);
    subscription.update(s);
    queued.update(q);
    poller.update(p);
  };

  await Promise.all([loadFirst(false), refreshSide()]);
  ctx.every(LIVE_MS, async () => {
    try {
      const added = await loadFirst(true);
      await refreshSide();
      if (added) announce(added === 1 ? "1 new event." : `${added} new events.`);
      live.tick(true);
    } catch (error) {
      if (error.status === 401) return;
      live.tick(false);
    }
  });

  return h(
    "div",
    {},
    h(
      "div",
      { class: "page-head" },
      h(
        "div",
        {},
        h("p", { class: "crumbs" }, h("a", { href: "#/" }, "Instances"), " / ", h("a", { href: `#/instances/${id}` }, instance.name), " /"),
        h("h1", {}, "Event log"),
        h("p", { class: "subtitle" }, `${instance.name} · what ${instance.element.name} sent, what it became, and every delivery attempt.`),
      ),
      h("div", { class: "actions" }, h("a", { class: "button secondary", href: `#/instances/${id}` }, "Instance settings")),
    ),
    instance.eventsEnabled
      ? instance.eventsNotificationCallbackUrl
        ? null
        : message(
            "info",
            "No callback URL yet.",
            "Events are recorded and their notifications held; they go out as soon as a callback URL is set in the instance's settings.",
          )
      : message(
          "info",
          "Events are off for this instance.",
          "Arrivals are recorded as ignored and nothing is delivered. Turn events on in the instance's settings.",
        ),
    h("div", { class: "grid" }, subscription.el, queued.el),
    poller.el,
    h(
      "section",
      { "aria-labelledby": "events-title", class: "stack" },
      h("div", { class: "toolbar" }, h("h2", { id: "events-title" }, "Events"), h("div", { class: "actions" }, live.el, field("Show", statusFilter))),
      empty,
      tableWrap,
      more,
    ),
  );
}

function subscriptionCard(ctx, id, subscription) {
  const result = h("div", { "aria-live": "polite" });
  const reactivate = h("button", { type: "button", class: "button" }, "Reactivate subscription");
  reactivate.addEventListener("click", async () => {
    try {
      const answer = await busy(reactivate, () => api("PUT", `/instances/${id}/events/subscription`));
      ctx.navigate(`#/instances/${id}/events`, ["ok", "Subscription reactivated.", `${answer.released ?? 0} queued notifications released for delivery.`]);
    } catch (error) {
      result.append(message("error", "The subscription was not reactivated.", error.message));
    }
  });
  return h(
    "section",
    { class: "card", "aria-labelledby": "subscription-title" },
    h("h2", { id: "subscription-title" }, "Delivery"),
    subscription.active
      ? h("p", {}, badge("Active", "ok"), " Notifications are being sent to the callback URL.")
      : [
          message("error", "Delivery is paused: notifications wait, queued, until you reactivate it.", subscription.note),
          reactivate,
        ],
    result,
  );
}

function queuedCard(ctx, id, deliveries) {
  const result = h("div", { "aria-live": "polite" });
  const release = h("button", { type: "button", class: "button secondary" }, "Release all");
  release.addEventListener("click", async () => {
    try {
      const answer = await busy(release, () => api("PUT", `/instances/${id}/events/deliveries/queued`));
      ctx.navigate(`#/instances/${id}/events`, ["ok", `${answer.released} queued notifications released: they are sent again now.`]);
    } catch (error) {
      result.append(message("error", "The queued notifications were not released.", error.message));
    }
  });
  const columns = ["Notification", "Event", "Queued since", "Attempts"];
  return h(
    "section",
    { class: "card", "aria-labelledby": "queued-title" },
    h("h2", { id: "queued-title" }, `Queued deliveries (${deliveries.length})`),
    deliveries.length
      ? [
          h("p", { class: "muted small" }, "Parked by the queue failure policy or while delivery was paused."),
          table(
            "Queued deliveries",
            columns,
            deliveries.map((d) =>
              row(columns, [
                h("span", { class: "mono" }, d.id),
                h("a", { href: `#/instances/${id}/events/${d.eventId}` }, "View event"),
                when(d.createdDate),
                String(d.attempts),
              ]),
            ),
          ),
          h("div", { class: "actions" }, release),
        ]
      : h("p", { class: "muted" }, "No queued deliveries."),
    result,
  );
}

function pollerCard(poller) {
  if (!poller) return h("div", {});
  const fact = (term, value) => [h("dt", {}, term), h("dd", {}, value)];
  return h(
    "section",
    { class: "card", "aria-labelledby": "poller-title" },
    h("h2", { id: "poller-title" }, "Poller"),
    poller.pausedReason ? message("error", "Polling is paused.", poller.pausedReason) : null,
    h(
      "dl",
      { class: "facts" },
      fact("Every", `${poller.intervalSeconds} s`),
      fact("Next poll", when(poller.nextPollDate)),
      fact("Last poll", when(poller.lastPollDate)),
      fact("Failures in a row", String(poller.failures)),
      poller.lastError ? fact("Last error", poller.lastError) : null,
    ),
  );
}

const OBJECT_COLUMNS = ["Event type", "Object type", "Object id", "State", "Date"];
const ATTEMPT_COLUMNS = ["Time", "Status code", "Latency", "Error", "Response"];

function deliveriesSection(deliveries, openIds) {
  if (!deliveries.length) {
    return h("p", { class: "muted" }, "No notifications: nothing was sent for this event.");
  }
  return deliveries.map((d) =>
    h(
      "article",
      { class: "delivery", "aria-label": `Notification ${d.id}`, dataset: { id: d.id } },
      h("h3", {}, "Notification ", h("span", { class: "mono" }, d.id)),
      h(
        "div",
        { class: "badges" },
        statusBadge(d.status),
        h("span", { class: "muted small" }, `${d.attempts} attempt${d.attempts === 1 ? "" : "s"}`),
        d.nextAttemptDate ? h("span", { class: "muted small" }, "next attempt ", when(d.nextAttemptDate)) : null,
      ),
      d.attemptLog.length
        ? table(
            `Attempts of notification ${d.id}`,
            ATTEMPT_COLUMNS,
            d.attemptLog.map((a) =>
              row(ATTEMPT_COLUMNS, [
                when(a.date),
                a.statusCode ? String(a.statusCode) : h("span", { class: "muted" }, "none"),
                `${a.latencyMs} ms`,
                a.error ?? h("span", { class: "muted" }, "—"),
                a.responseBody ? h("span", { class: "mono" }, a.responseBody) : h("span", { class: "muted" }, "—"),
              ]),
            ),
          )
        : h("p", { class: "muted small" }, "Not attempted yet."),
      h("details", { open: openIds.has(d.id), dataset: { id: d.id } }, h("summary", {}, "Notification body"), codeBlock(d.notification, "Notification body")),
    ),
  );
}

export async function eventView(ctx, id, eventId) {
  const [instance, event] = await Promise.all([api("GET", `/instances/${id}`), api("GET", `/instances/${id}/events/${eventId}`)]);
  const head = refreshable((e) =>
    h(
      "div",
      { class: "badges" },
      statusBadge(e.statusDetail),
      h("span", { class: "muted small" }, `from ${e.source}`),
      e.note ? h("span", { class: "muted small" }, `· ${e.note}`) : null,
    ),
  );
  const deliveries = h("div", {});
  let shownDeliveries = null;
  const showDeliveries = (list) => {
    const key = JSON.stringify(list);
    if (key === shownDeliveries) return false;
    shownDeliveries = key;
    const open = new Set([...deliveries.querySelectorAll("details[open]")].map((d) => d.dataset.id));
    deliveries.replaceChildren(...[deliveriesSection(list, open)].flat());
    return true;
  };
  const deliveriesTitle = h("h2", { id: "deliveries-title" });
  const setCount = (list) => (deliveriesTitle.textContent = `Deliveries (${list.length})`);
  head.update(event);
  showDeliveries(event.deliveries);
  setCount(event.deliveries);

  const result = h("div", { "aria-live": "polite" });
  const replay = h("button", { type: "button", class: "button" }, "Replay");
  replay.addEventListener("click", async () => {
    result.replaceChildren();
    try {
      const answer = await busy(replay, () => api("POST", `/instances/${id}/events/${eventId}/replay`));
      result.append(
        message("ok", `Replayed: ${answer.notifications} new notification${answer.notifications === 1 ? "" : "s"} queued for delivery.`, "It appears under Deliveries with a new id."),
      );
      await refresh();
    } catch (error) {
      result.append(message("error", "The event was not replayed.", error.message, ...errorDetails(error)));
    }
  });
  const live = liveIndicator();
  const refresh = async () => {
    const latest = await api("GET", `/instances/${id}/events/${eventId}`);
    head.update(latest);
    setCount(latest.deliveries);
    if (showDeliveries(latest.deliveries)) announce("Deliveries updated.");
  };
  ctx.every(LIVE_MS, async () => {
    try {
      await refresh();
      live.tick(true);
    } catch (error) {
      if (error.status === 401) return;
      live.tick(false);
    }
  });

  const objects = Array.isArray(event.events) ? event.events : [];
  return h(
    "div",
    {},
    h(
      "div",
      { class: "page-head" },
      h(
        "div",
        {},
        h(
          "p",
          { class: "crumbs" },
          h("a", { href: "#/" }, "Instances"),
          " / ",
          h("a", { href: `#/instances/${id}` }, instance.name),
          " / ",
          h("a", { href: `#/instances/${id}/events` }, "Event log"),
          " /",
        ),
        h("h1", {}, "Event received ", when(event.eventDate)),
        head.el,
        h("p", { class: "muted small mono" }, event.id),
      ),
      h("div", { class: "actions" }, replay, live.el),
    ),
    result,
    h(
      "section",
      { class: "card", "aria-labelledby": "objects-title" },
      h("h2", { id: "objects-title" }, `Normalized events (${objects.length})`),
      objects.length
        ? table(
            "Normalized events",
            OBJECT_COLUMNS,
            objects.map((o) => row(OBJECT_COLUMNS, [o.eventType ?? "—", o.objectType ?? "—", h("span", { class: "mono" }, o.objectId ?? "—"), o.state ?? "—", when(o.date)])),
          )
        : h("p", { class: "muted" }, event.note ?? "This arrival carried no event objects."),
      h("details", {}, h("summary", {}, "As JSON"), codeBlock(objects, "Normalized events as JSON")),
    ),
    h(
      "section",
      { class: "card", "aria-labelledby": "raw-title" },
      h("h2", { id: "raw-title" }, `Raw body from ${instance.element.name}`),
      codeBlock(event.providerData ?? "", `Raw body from ${instance.element.name}`),
    ),
    h("section", { class: "card", "aria-labelledby": "deliveries-title" }, deliveriesTitle, deliveries),
  );
}
