//! `/instances/{id}/events`: the event log (what arrived, what it became, every delivery
//! attempt), replay, queued deliveries, the subscription, and the notification signing
//! secret. The Element-token forms (`/instances/events…`) read the token's own instance.
//!
//! An event's `status` is Cloud Elements' (`NEW`, `RECEIVED`, `DISPATCHED`, `CONSUMED`,
//! `NOTIFIED`: its clients validate against that enum); the hub's own, finer one is in
//! `statusDetail`. See [`CloudElementsStatus::of`] for how one maps onto the other.

use std::time::Duration;

use axum::{
    Json,
    extract::{Query, State, rejection::QueryRejection},
};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::{router::OpenApiRouter, routes};

use super::{
    auth::Caller,
    error::{ApiError, ErrorBody},
    extract::{ApiPath, Describe},
    instances::iso,
    paging::{Listed, PageKey, PageQuery, PageRequest},
};
use crate::{
    app::AppState,
    ids::{EventId, InstanceId},
    pipeline::ingest::ReplayError,
    store::{DeliveryRecord, DeliveryStatus, EventQuery, EventRecord, EventStatus, EventTarget, now as store_now},
};

/// A rotated-out signing secret keeps signing this long.
const SECRET_GRACE: Duration = Duration::from_secs(24 * 3600);
/// Events read at a time by a window replay.
const REPLAY_PAGE: u32 = 500;
/// The most events one window replay sends again.
const MAX_REPLAY: usize = 10_000;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_events))
        .routes(routes!(list_own_events))
        .routes(routes!(get_event))
        .routes(routes!(get_own_event))
        .routes(routes!(replay_event))
        .routes(routes!(replay_window))
        .routes(routes!(list_deliveries))
        .routes(routes!(release_queued))
        .routes(routes!(get_subscription, reactivate_subscription))
        .routes(routes!(rotate_secret))
        .routes(routes!(get_poller))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EventPath {
    id: InstanceId,
    event_id: EventId,
}

impl Describe for EventPath {
    const WHAT: &'static str = "instance id and event id";
}

impl Describe for EventId {
    const WHAT: &'static str = "event id (a UUID)";
}

/// The event log pages newest first, by event id (time-ordered).
impl PageKey for EventId {
    const LIST: &'static str = "events";

    /// Before page tokens, `nextPage` was the id of the last event shown.
    fn legacy(token: &str) -> Option<Self> {
        token.parse().ok()
    }
}

/// An event's status as Cloud Elements named it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "UPPERCASE")]
pub enum CloudElementsStatus {
    New,
    Received,
    Dispatched,
    Consumed,
    Notified,
}

impl CloudElementsStatus {
    const ALL: [Self; 5] = [
        Self::New,
        Self::Received,
        Self::Dispatched,
        Self::Consumed,
        Self::Notified,
    ];

    /// Cloud Elements' event went `NEW` (stored as it came), `RECEIVED` (taken in),
    /// `DISPATCHED` (handed to the notification service), `NOTIFIED` (delivered), or
    /// `CONSUMED` (taken in with nothing to notify). The hub stores an event only once it is
    /// normalized, so none is ever `NEW`; one whose notifications are not sent yet (or wait
    /// for a callback URL) is `RECEIVED`; one being retried, parked or out of retries was
    /// dispatched but is not notified; pings, duplicates and events of a disabled instance
    /// are consumed.
    pub fn of(status: EventStatus) -> Self {
        match status {
            EventStatus::Received | EventStatus::Held => Self::Received,
            EventStatus::Dispatched | EventStatus::Queued | EventStatus::Failed => Self::Dispatched,
            EventStatus::Notified => Self::Notified,
            EventStatus::Ignored | EventStatus::Duplicate => Self::Consumed,
        }
    }

    fn as_str(self) -> &'static str {
        match self {
            Self::New => "NEW",
            Self::Received => "RECEIVED",
            Self::Dispatched => "DISPATCHED",
            Self::Consumed => "CONSUMED",
            Self::Notified => "NOTIFIED",
        }
    }

    fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|s| s.as_str() == text)
    }

    /// The hub's statuses this one stands for.
    fn members(self) -> Vec<EventStatus> {
        EventStatus::ALL
            .iter()
            .copied()
            .filter(|s| Self::of(*s) == self)
            .collect()
    }
}

#[derive(Deserialize, IntoParams)]
#[serde(rename_all = "camelCase")]
#[into_params(parameter_in = Query)]
pub struct ListQuery {
    /// A Cloud Elements status (NEW, RECEIVED, DISPATCHED, CONSUMED, NOTIFIED), or one of
    /// the hub's (received, held, dispatched, notified, failed, queued, ignored, duplicate).
    status: Option<String>,
    /// Only events received at or after this time (ISO-8601).
    from: Option<String>,
    /// Only events received at or before this time (ISO-8601).
    to: Option<String>,
}

/// One event in the log.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct EventBody {
    id: String,
    instance_id: i64,
    /// When the hub received it.
    event_date: String,
    updated_date: String,
    /// Cloud Elements' status.
    status: CloudElementsStatus,
    /// The hub's own: received (notifications not sent yet), held (they wait for a callback
    /// URL), dispatched (being retried), notified, failed (out of retries), queued (parked),
    /// ignored or duplicate (nothing to send).
    status_detail: &'static str,
    /// Why it was ignored, held, queued or is a duplicate.
    #[serde(skip_serializing_if = "Option::is_none")]
    note: Option<String>,
    /// webhook or polling.
    source: &'static str,
    /// The normalized event objects.
    #[schema(value_type = Vec<Object>)]
    events: Value,
    /// The provider's body exactly as received (detail only).
    #[serde(skip_serializing_if = "Option::is_none")]
    provider_data: Option<String>,
    /// The provider's body as JSON (detail only).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    raw: Option<Value>,
    /// The notifications and every attempt to deliver them (detail only).
    #[serde(skip_serializing_if = "Option::is_none")]
    deliveries: Option<Vec<DeliveryBody>>,
}

/// One notification and its attempts.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct DeliveryBody {
    /// Also its webhook-id and Elements-Webhook-Id.
    id: String,
    event_id: String,
    /// pending, inflight, delivered, failed, queued or held (waiting for a callback URL).
    status: &'static str,
    attempts: u32,
    next_attempt_date: Option<String>,
    created_date: String,
    updated_date: String,
    /// The notification body as sent.
    #[schema(value_type = Object)]
    notification: Value,
    attempt_log: Vec<AttemptBody>,
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AttemptBody {
    date: String,
    status_code: Option<u16>,
    latency_ms: u64,
    error: Option<String>,
    /// The start of the callback's answer.
    response_body: Option<String>,
}

fn event_body(event: &EventRecord, detail: Option<Vec<DeliveryRecord>>) -> EventBody {
    EventBody {
        id: event.id.to_string(),
        instance_id: event.instance.get(),
        event_date: iso(event.received_at),
        updated_date: iso(event.updated_at),
        status: CloudElementsStatus::of(event.status),
        status_detail: event.status.as_str(),
        note: event.note.clone(),
        source: event.source.as_str(),
        events: serde_json::from_str(&event.normalized).unwrap_or(Value::Null),
        provider_data: detail.as_ref().map(|_| event.raw.clone()),
        raw: detail
            .as_ref()
            .map(|_| serde_json::from_str(&event.raw).unwrap_or(Value::Null)),
        deliveries: detail.map(|deliveries| deliveries.iter().map(delivery_body).collect()),
    }
}

fn delivery_body(delivery: &DeliveryRecord) -> DeliveryBody {
    DeliveryBody {
        id: delivery.id.to_string(),
        event_id: delivery.event.to_string(),
        status: delivery.status.as_str(),
        attempts: delivery.attempts,
        next_attempt_date: delivery.next_attempt_at.map(iso),
        created_date: iso(delivery.created_at),
        updated_date: iso(delivery.updated_at),
        notification: serde_json::from_str(&delivery.payload).unwrap_or(Value::Null),
        attempt_log: delivery
            .attempt_log
            .iter()
            .map(|a| AttemptBody {
                date: iso(a.at),
                status_code: a.status_code,
                latency_ms: a.latency_ms,
                error: a.error.clone(),
                response_body: a.response_body.clone(),
            })
            .collect(),
    }
}

fn time(name: &str, value: Option<&str>) -> Result<Option<DateTime<Utc>>, ApiError> {
    value
        .map(|text| {
            DateTime::parse_from_rfc3339(text)
                .map(|t| t.with_timezone(&Utc))
                .map_err(|_| {
                    ApiError::BadRequest(format!(
                        "{name} must be an ISO-8601 time such as 2026-11-27T10:00:00Z, got {text:?}."
                    ))
                })
        })
        .transpose()
}

/// The hub's statuses a `status` filter asks for: one of its own, or those a Cloud Elements
/// status stands for.
fn statuses(text: &str) -> Result<Vec<EventStatus>, ApiError> {
    EventStatus::parse(text)
        .map(|status| vec![status])
        .or_else(|| CloudElementsStatus::parse(text).map(CloudElementsStatus::members))
        .ok_or_else(|| {
            let theirs: Vec<&str> = CloudElementsStatus::ALL.iter().map(|s| s.as_str()).collect();
            let ours: Vec<&str> = EventStatus::ALL.iter().map(|s| s.as_str()).collect();
            ApiError::BadRequest(format!(
                "status must be one of {} (Cloud Elements') or {} (the hub's), got {text:?}.",
                theirs.join(", "),
                ours.join(", ")
            ))
        })
}

fn query_of(query: Result<Query<ListQuery>, QueryRejection>) -> Result<EventQuery, ApiError> {
    let Query(query) = query.map_err(|e| ApiError::BadRequest(format!("Invalid query string: {}.", e.body_text())))?;
    let statuses = query.status.as_deref().map(statuses).transpose()?;
    let (from, to) = (time("from", query.from.as_deref())?, time("to", query.to.as_deref())?);
    if let (Some(from), Some(to)) = (from, to)
        && to < from
    {
        return Err(ApiError::BadRequest("to must not be before from.".into()));
    }
    Ok(EventQuery {
        statuses,
        from,
        to,
        ..EventQuery::default()
    })
}

async fn list(
    state: &AppState,
    caller: &Caller,
    in_path: Option<InstanceId>,
    filter: Result<Query<ListQuery>, QueryRejection>,
    page: Result<Query<PageQuery>, QueryRejection>,
) -> Result<Listed<EventBody>, ApiError> {
    let id = caller.instance(in_path)?;
    let filter = query_of(filter)?;
    let page = PageRequest::<EventId>::parse(page)?;
    state.instances.get(caller.org(), id).await?;
    let org = caller.org();
    let listed = page
        .fetch(
            |before, limit| {
                let (store, query) = (
                    state.store.clone(),
                    EventQuery {
                        before,
                        limit,
                        ..filter.clone()
                    },
                );
                async move { Ok(store.list_events(org, id, &query).await?) }
            },
            |event| event.id,
        )
        .await?;
    Ok(listed.map(|event| event_body(&event, None)))
}

/// List an instance's events, newest first, a page at a time (`pageSize`, `nextPage`, `page`).
#[utoipa::path(get, path = "/instances/{id}/events", tag = "events", params(("id" = i64, Path), ListQuery, PageQuery),
    responses((status = 200, body = Vec<EventBody>, headers(
            ("Elements-Returned-Count" = u32, description = "Events in this page"),
            ("Elements-Next-Page-Token" = String, description = "The next page's nextPage; absent on the last page"))),
        (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn list_events(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<InstanceId>,
    filter: Result<Query<ListQuery>, QueryRejection>,
    page: Result<Query<PageQuery>, QueryRejection>,
) -> Result<Listed<EventBody>, ApiError> {
    list(&state, &caller, Some(id), filter, page).await
}

/// List the events of the element token's instance, newest first, a page at a time.
#[utoipa::path(get, path = "/instances/events", tag = "events", params(ListQuery, PageQuery),
    responses((status = 200, body = Vec<EventBody>, headers(
            ("Elements-Returned-Count" = u32, description = "Events in this page"),
            ("Elements-Next-Page-Token" = String, description = "The next page's nextPage; absent on the last page"))),
        (status = 400, body = ErrorBody), (status = 401, body = ErrorBody)))]
async fn list_own_events(
    State(state): State<AppState>,
    caller: Caller,
    filter: Result<Query<ListQuery>, QueryRejection>,
    page: Result<Query<PageQuery>, QueryRejection>,
) -> Result<Listed<EventBody>, ApiError> {
    list(&state, &caller, None, filter, page).await
}

async fn detail(
    state: &AppState,
    caller: &Caller,
    in_path: Option<InstanceId>,
    event: EventId,
) -> Result<Json<EventBody>, ApiError> {
    let id = caller.instance(in_path)?;
    let record = state
        .store
        .get_event(caller.org(), id, event)
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("event {event} not found on instance {id}")))?;
    let deliveries = state.store.event_deliveries(caller.org(), id, event).await?;
    Ok(Json(event_body(&record, Some(deliveries))))
}

/// Get one event: the provider's body, the normalized events, and every delivery attempt.
#[utoipa::path(get, path = "/instances/{id}/events/{eventId}", tag = "events",
    params(("id" = i64, Path), ("eventId" = String, Path)),
    responses((status = 200, body = EventBody), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn get_event(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(path): ApiPath<EventPath>,
) -> Result<Json<EventBody>, ApiError> {
    detail(&state, &caller, Some(path.id), path.event_id).await
}

/// Get one event of the element token's instance.
#[utoipa::path(get, path = "/instances/events/{eventId}", tag = "events", params(("eventId" = String, Path)),
    responses((status = 200, body = EventBody), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn get_own_event(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(event): ApiPath<EventId>,
) -> Result<Json<EventBody>, ApiError> {
    detail(&state, &caller, None, event).await
}

async fn target(state: &AppState, caller: &Caller, id: InstanceId) -> Result<EventTarget, ApiError> {
    state.instances.get(caller.org(), id).await?;
    state
        .store
        .event_target(id)
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("instance {id} not found")))
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ReplayBody {
    /// Events sent again.
    events: usize,
    /// New notifications queued for delivery.
    notifications: usize,
}

impl From<ReplayError> for ApiError {
    fn from(error: ReplayError) -> Self {
        match error {
            ReplayError::Nothing(_) => ApiError::BadRequest(format!("{error}.")),
            ReplayError::NotFound(_) => ApiError::NotFound(error.to_string()),
            ReplayError::Store(e) => e.into(),
        }
    }
}

/// Send one event again, as new notifications with new ids.
#[utoipa::path(post, path = "/instances/{id}/events/{eventId}/replay", tag = "events",
    params(("id" = i64, Path), ("eventId" = String, Path)),
    responses((status = 200, body = ReplayBody), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn replay_event(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(path): ApiPath<EventPath>,
) -> Result<Json<ReplayBody>, ApiError> {
    let id = caller.instance(Some(path.id))?;
    let target = target(&state, &caller, id).await?;
    let event = state
        .store
        .get_event(caller.org(), id, path.event_id)
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("event {} not found on instance {id}", path.event_id)))?;
    let notifications = state.ingest.replay(&target, &event).await?;
    Ok(Json(ReplayBody {
        events: 1,
        notifications,
    }))
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct WindowQuery {
    /// Replay events received at or after this time (ISO-8601).
    from: String,
    /// … and at or before this time (ISO-8601).
    to: String,
}

/// Send again every event received in a time window (at most 10 000) that has event objects.
#[utoipa::path(post, path = "/instances/{id}/events/replay", tag = "events", params(("id" = i64, Path), WindowQuery),
    responses((status = 200, body = ReplayBody), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn replay_window(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<InstanceId>,
    query: Result<Query<WindowQuery>, QueryRejection>,
) -> Result<Json<ReplayBody>, ApiError> {
    let id = caller.instance(Some(id))?;
    let Query(window) = query.map_err(|_| {
        ApiError::BadRequest(
            "Give the window as from and to, ISO-8601 times (e.g. ?from=2026-11-27T10:00:00Z&to=2026-11-27T11:00:00Z)."
                .into(),
        )
    })?;
    let (from, to) = (time("from", Some(&window.from))?, time("to", Some(&window.to))?);
    if to < from {
        return Err(ApiError::BadRequest("to must not be before from.".into()));
    }
    let target = target(&state, &caller, id).await?;
    let mut query = EventQuery {
        from,
        to,
        limit: REPLAY_PAGE,
        ..Default::default()
    };
    let (mut events, mut notifications) = (0, 0);
    loop {
        let page = state.store.list_events(caller.org(), id, &query).await?;
        for event in &page {
            if events == MAX_REPLAY {
                break;
            }
            match state.ingest.replay(&target, event).await {
                Ok(sent) => {
                    events += 1;
                    notifications += sent;
                }
                Err(ReplayError::Nothing(_)) => {}
                Err(other) => return Err(other.into()),
            }
        }
        match page.last() {
            Some(last) if page.len() == REPLAY_PAGE as usize && events < MAX_REPLAY => query.before = Some(last.id),
            _ => break,
        }
    }
    Ok(Json(ReplayBody { events, notifications }))
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct DeliveriesQuery {
    /// queued (the default), held, failed, pending, inflight or delivered.
    status: Option<String>,
}

/// List an instance's deliveries in one status (queued by default), with their notification
/// bodies: a client that parks failed deliveries pulls them here.
#[utoipa::path(get, path = "/instances/{id}/events/deliveries", tag = "events", params(("id" = i64, Path), DeliveriesQuery),
    responses((status = 200, body = Vec<DeliveryBody>, headers(("Elements-Returned-Count" = u32, description = "Deliveries listed"))),
        (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn list_deliveries(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<InstanceId>,
    query: Result<Query<DeliveriesQuery>, QueryRejection>,
) -> Result<Listed<DeliveryBody>, ApiError> {
    let id = caller.instance(Some(id))?;
    let Query(query) = query.map_err(|e| ApiError::BadRequest(format!("Invalid query string: {}.", e.body_text())))?;
    let status = match query.status.as_deref() {
        None => DeliveryStatus::Queued,
        Some(text) => DeliveryStatus::parse(text).ok_or_else(|| {
            ApiError::BadRequest(format!(
                "status must be queued, held, failed, pending, inflight or delivered, got {text:?}."
            ))
        })?,
    };
    state.instances.get(caller.org(), id).await?;
    let deliveries = state.store.list_deliveries(caller.org(), id, status, 1000).await?;
    Ok(deliveries.iter().map(delivery_body).collect())
}

#[derive(Serialize, ToSchema)]
pub struct ReleasedBody {
    /// Queued deliveries made pending again.
    released: u64,
}

/// Release the instance's queued deliveries: they are sent again at once.
#[utoipa::path(put, path = "/instances/{id}/events/deliveries/queued", tag = "events", params(("id" = i64, Path)),
    responses((status = 200, body = ReleasedBody), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn release_queued(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<InstanceId>,
) -> Result<Json<ReleasedBody>, ApiError> {
    let id = caller.instance(Some(id))?;
    state.instances.get(caller.org(), id).await?;
    let released = state.store.release_queued(caller.org(), id, store_now()).await?;
    Ok(Json(ReleasedBody { released }))
}

#[derive(Serialize, ToSchema)]
pub struct SubscriptionBody {
    /// Whether notifications are being sent.
    active: bool,
    /// Why it was deactivated.
    #[serde(skip_serializing_if = "Option::is_none")]
    note: Option<String>,
    /// Queued deliveries released by a reactivation.
    #[serde(skip_serializing_if = "Option::is_none")]
    released: Option<u64>,
}

/// Whether the instance's notifications are being sent, and why not.
#[utoipa::path(get, path = "/instances/{id}/events/subscription", tag = "events", params(("id" = i64, Path)),
    responses((status = 200, body = SubscriptionBody), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn get_subscription(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<InstanceId>,
) -> Result<Json<SubscriptionBody>, ApiError> {
    let id = caller.instance(Some(id))?;
    let instance = state.instances.get(caller.org(), id).await?;
    Ok(Json(SubscriptionBody {
        active: instance.subscription_active,
        note: instance.subscription_note,
        released: None,
    }))
}

/// Reactivate the subscription and release what queued while it was off.
#[utoipa::path(put, path = "/instances/{id}/events/subscription", tag = "events", params(("id" = i64, Path)),
    responses((status = 200, body = SubscriptionBody), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn reactivate_subscription(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<InstanceId>,
) -> Result<Json<SubscriptionBody>, ApiError> {
    let id = caller.instance(Some(id))?;
    let now = store_now();
    let found = state.store.set_subscription(caller.org(), id, true, None, now).await?;
    // The receiver must see the subscription on before the queue is released, or events
    // arriving in between would be parked behind the release.
    state.caches.forget(id);
    if !found {
        return Err(ApiError::NotFound(format!("instance {id} not found")));
    }
    let released = state.store.release_queued(caller.org(), id, now).await?;
    Ok(Json(SubscriptionBody {
        active: true,
        note: None,
        released: Some(released),
    }))
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SecretBody {
    /// The new `whsec_…` secret; shown only now.
    secret: String,
    /// Until when the previous secret keeps signing too.
    previous_secret_expires_date: String,
}

/// Rotate the Standard Webhooks secret that signs notifications; the previous one keeps
/// signing for 24 hours.
#[utoipa::path(post, path = "/instances/{id}/events/secret", tag = "events", params(("id" = i64, Path)),
    responses((status = 200, body = SecretBody), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn rotate_secret(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<InstanceId>,
) -> Result<Json<SecretBody>, ApiError> {
    let id = caller.instance(Some(id))?;
    let (secret, retire_at) = state
        .instances
        .rotate_signing_secret(caller.org(), id, SECRET_GRACE)
        .await?;
    Ok(Json(SecretBody {
        secret: secrecy::ExposeSecret::expose_secret(&secret).to_string(),
        previous_secret_expires_date: iso(retire_at),
    }))
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct PollerBody {
    /// Seconds between polls.
    interval_seconds: u64,
    next_poll_date: String,
    /// When the last successful poll started.
    last_poll_date: Option<String>,
    /// Polls failed in a row (they back off).
    failures: u32,
    last_error: Option<String>,
    /// Set when polling waits for the instance to be re-authenticated.
    paused_reason: Option<String>,
}

/// How the instance's poller is doing (404 when its events are not polled).
#[utoipa::path(get, path = "/instances/{id}/events/poller", tag = "events", params(("id" = i64, Path)),
    responses((status = 200, body = PollerBody), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn get_poller(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<InstanceId>,
) -> Result<Json<PollerBody>, ApiError> {
    let id = caller.instance(Some(id))?;
    state.instances.get(caller.org(), id).await?;
    let status = state.store.poll_status(caller.org(), id).await?.ok_or_else(|| {
        ApiError::NotFound(format!(
            "instance {id} is not polled: set event.vendor.type to polling and event.notification.enabled to true"
        ))
    })?;
    Ok(Json(PollerBody {
        interval_seconds: status.interval.as_secs(),
        next_poll_date: iso(status.next_poll_at),
        last_poll_date: status.last_poll_at.map(iso),
        failures: status.failures,
        last_error: status.last_error,
        paused_reason: status.paused_reason,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_cloud_elements_status_stands_for_some_of_the_hubs() {
        use EventStatus::*;
        let members = |status| CloudElementsStatus::members(status);
        assert_eq!(members(CloudElementsStatus::New), []);
        assert_eq!(members(CloudElementsStatus::Received), [Received, Held]);
        assert_eq!(members(CloudElementsStatus::Dispatched), [Dispatched, Failed, Queued]);
        assert_eq!(members(CloudElementsStatus::Consumed), [Ignored, Duplicate]);
        assert_eq!(members(CloudElementsStatus::Notified), [Notified]);
        assert_eq!(
            serde_json::to_string(&CloudElementsStatus::Consumed).unwrap(),
            "\"CONSUMED\""
        );
    }

    #[test]
    fn status_filters_take_either_spelling_exactly() {
        assert_eq!(statuses("DISPATCHED").unwrap().len(), 3);
        assert_eq!(statuses("queued").unwrap(), [EventStatus::Queued]);
        assert!(statuses("NEW").unwrap().is_empty());
        for bad in ["Notified", "notified ", "lost", ""] {
            assert!(statuses(bad).is_err(), "{bad:?}");
        }
    }
}
