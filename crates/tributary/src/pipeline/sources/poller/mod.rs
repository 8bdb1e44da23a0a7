//! Source: polling, for providers (or deployments) where webhooks are not an option.
//!
//! Each polling instance has a schedule in the database. A worker claims due instances with
//! a lease (one process polls an instance at a time; another takes over when a lease runs
//! out), reads every configured resource completely through the provider's API, decides
//! what changed ([`strategy`]), and commits the events together with what it learned and
//! the next poll time, in one transaction that only succeeds while it still holds the lease.
//! So a change is reported once across polls, processes and restarts. A failed poll (5xx,
//! 429, timeout) backs off and keeps its watermark; a 401 refreshes the token and retries;
//! an instance whose token cannot be refreshed has its polling paused until it is
//! re-authenticated.

pub mod config;
pub mod javatime;
pub mod strategy;
pub mod template;

use std::{
    collections::{BTreeMap, HashMap, HashSet},
    sync::{Arc, Mutex},
    time::Duration,
};

use chrono::{DateTime, Utc};
use reqwest::{
    Method, StatusCode,
    header::{ACCEPT, HeaderValue},
};
use secrecy::SecretString;
use serde_json::{Value, value::RawValue};
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use self::{
    config::{PollerConfig, Resource, Strategy, at_path},
    strategy::{Change, Outcome},
    template::{RenderError, Values},
};
use crate::{
    config::PollingConfig,
    elements::{Element, EventMethod, EventType, Registry},
    instances::configuration::{EVENTS_ENABLED, POLLER_CONFIGURATION, REFRESH_INTERVAL, VENDOR_TYPE, plain_value},
    metrics::{Metrics, PollCount},
    oauth::{TokenManager, tokens::TokenError},
    outbound::{ProviderClient, ProviderPath},
    pipeline::{
        ingest::{self, Arrival},
        normalize::{Entry, Item, NormalizedEvent},
        notification::RawShape,
    },
    store::{self, EventSource, EventTarget, PollClaim, PollCommit, Store, StoreError},
};

/// A poll that reads more pages than this is refused (a provider that never ends its cursor).
const MAX_PAGES: usize = 1000;
/// First back-off after a failed poll; it doubles with each further failure.
const FIRST_BACKOFF: Duration = Duration::from_secs(5);
/// The longest the worker sleeps without looking for due polls.
const IDLE_LOOK: Duration = Duration::from_secs(1);
/// Refresh intervals are in minutes, as in Cloud Elements, unless set.
const DEFAULT_REFRESH_UNITS: u64 = 15;

/// A template without a value for a macro is the configuration's fault and waits for the
/// user; a rendering refused as a path came from the values (a record's id) and is retried.
fn render_error(error: RenderError) -> PollError {
    match error {
        RenderError::Values(reason) => PollError::Pause(reason),
        path @ RenderError::Path { .. } => PollError::Retry(path.to_string()),
    }
}

/// How often an instance is polled, or `None` when it is not: events on, method polling.
pub fn schedule(element: &Element, plain: &BTreeMap<String, String>, settings: &PollingConfig) -> Option<Duration> {
    let method = match plain.get(VENDOR_TYPE).map(String::as_str) {
        Some("polling") => EventMethod::Polling,
        Some(_) => EventMethod::Webhook,
        None => element.events.default_method,
    };
    if method != EventMethod::Polling || plain.get(EVENTS_ENABLED).map(String::as_str) != Some("true") {
        return None;
    }
    let units = plain
        .get(REFRESH_INTERVAL)
        .and_then(|u| u.parse().ok())
        .unwrap_or(DEFAULT_REFRESH_UNITS);
    Some(settings.interval(units))
}

#[derive(Debug)]
enum PollError {
    /// Try again later (the provider failed, the network, a transient refresh failure).
    Retry(String),
    /// Cannot go on until the user acts (re-authenticate).
    Pause(String),
    /// The instance is gone.
    Gone,
    Store(StoreError),
}

impl From<StoreError> for PollError {
    fn from(error: StoreError) -> Self {
        PollError::Store(error)
    }
}

/// Keeps each provider account under its rate limit: requests are spaced evenly, with a
/// little slack so a sliding one-second window never sees one too many.
struct Pacer {
    next: Mutex<HashMap<String, tokio::time::Instant>>,
}

impl Pacer {
    async fn wait(&self, account: &str, per_second: u32) {
        let spacing = Duration::from_secs(1).mul_f64(1.05 / f64::from(per_second.max(1)));
        let at = {
            let mut next = self.next.lock().expect("the pacer lock is never poisoned");
            let now = tokio::time::Instant::now();
            let slot = next.entry(account.to_string()).or_insert(now);
            let at = (*slot).max(now);
            *slot = at + spacing;
            at
        };
        tokio::time::sleep_until(at).await;
    }
}

pub struct Poller {
    store: Arc<dyn Store>,
    tokens: Arc<TokenManager>,
    elements: Arc<Registry>,
    client: ProviderClient,
    metrics: Arc<Metrics>,
    settings: PollingConfig,
    node: String,
    pacer: Pacer,
}

/// One instance's poll in progress.
struct Poll<'a> {
    target: &'a EventTarget,
    element: &'a Element,
    token: SecretString,
    refreshed: bool,
    started: DateTime<Utc>,
}

impl Poller {
    pub fn new(
        store: Arc<dyn Store>,
        tokens: Arc<TokenManager>,
        elements: Arc<Registry>,
        client: ProviderClient,
        metrics: Arc<Metrics>,
        settings: PollingConfig,
        node: String,
    ) -> Self {
        Self {
            store,
            tokens,
            elements,
            client,
            metrics,
            settings,
            node,
            pacer: Pacer { next: Mutex::default() },
        }
    }

    /// Polls due instances until `shutdown`, then lets running polls finish.
    pub async fn run(self: Arc<Self>, shutdown: CancellationToken) {
        let mut running = JoinSet::new();
        loop {
            while running.try_join_next().is_some() {}
            let free = self.settings.concurrency.saturating_sub(running.len());
            if free > 0 {
                let now = store::now();
                match self
                    .store
                    .claim_polls(
                        &self.node,
                        now,
                        now + Duration::from_secs(self.settings.lease_secs),
                        u32::try_from(free).unwrap_or(u32::MAX),
                    )
                    .await
                {
                    Ok(claims) => {
                        for claim in claims {
                            running.spawn(self.clone().poll_and_record(claim));
                        }
                    }
                    Err(error) => tracing::warn!(%error, "could not claim polls"),
                }
            }
            let nap = match self.store.next_poll_at().await {
                Ok(Some(at)) => store::until(at).clamp(Duration::from_millis(10), IDLE_LOOK),
                _ => IDLE_LOOK,
            };
            tokio::select! {
                () = shutdown.cancelled() => break,
                () = tokio::time::sleep(nap) => {}
                Some(_) = running.join_next(), if !running.is_empty() => {}
            }
        }
        while running.join_next().await.is_some() {}
    }

    async fn poll_and_record(self: Arc<Self>, claim: PollClaim) {
        let id = claim.instance;
        let started = store::now();
        let failure = match self.poll(&claim, started).await {
            Ok(completed) => {
                self.metrics.poll(if completed {
                    PollCount::Completed
                } else {
                    PollCount::TakenOver
                });
                return;
            }
            Err(PollError::Gone) => return,
            Err(PollError::Store(error)) => {
                // The lease runs out and the poll is tried again.
                tracing::warn!(instance = %id, %error, "could not record a poll");
                self.metrics.poll(PollCount::Retried);
                return;
            }
            Err(PollError::Retry(reason)) => (reason, false),
            Err(PollError::Pause(reason)) => (reason, true),
        };
        let (reason, pause) = failure;
        self.metrics
            .poll(if pause { PollCount::Paused } else { PollCount::Retried });
        let backoff = FIRST_BACKOFF
            .saturating_mul(1 << claim.failures.min(16))
            .min(claim.interval);
        tracing::warn!(instance = %id, reason, pause, "poll failed");
        if let Err(error) = self
            .store
            .fail_poll(id, &self.node, &reason, store::now() + backoff, pause)
            .await
        {
            tracing::warn!(instance = %id, %error, "could not record a failed poll");
        }
    }

    /// Polls every resource of the instance; says whether this process still held the lease
    /// when it came to record the findings.
    async fn poll(&self, claim: &PollClaim, started: DateTime<Utc>) -> Result<bool, PollError> {
        let id = claim.instance;
        let target = self.store.event_target(id).await?.ok_or(PollError::Gone)?;
        let element = self
            .elements
            .find(&target.element_key)
            .ok_or_else(|| PollError::Pause(format!("element {} is not known to this hub", target.element_key)))?
            .clone();
        let config = match plain_value(&target.config, POLLER_CONFIGURATION) {
            Some(text) => serde_json::from_str(text).map_err(|e| e.to_string()),
            None => element
                .polling
                .as_ref()
                .map(|p| p.configuration.clone())
                .ok_or_else(|| format!("{} has no default poller; set {POLLER_CONFIGURATION}", element.name)),
        }
        .and_then(|value| PollerConfig::parse(&value))
        .map_err(PollError::Pause)?;
        let token = self.token(id, false).await?;
        let mut poll = Poll {
            target: &target,
            element: &element,
            token,
            refreshed: false,
            started,
        };
        let mut events = Vec::new();
        let mut objects = Vec::new();
        for (name, resource) in &config.resources {
            let outcome = self.resource(&mut poll, claim, name, resource).await?;
            for skipped in &outcome.skipped {
                tracing::warn!(instance = %id, resource = %name, skipped, "record skipped");
            }
            objects.extend(outcome.remember);
            if !outcome.changes.is_empty() {
                events.push(self.event(&poll, name, &outcome.changes));
            }
        }
        let commit = PollCommit {
            instance: id,
            owner: self.node.clone(),
            started_at: started,
            next_poll_at: started + claim.interval,
            events,
            objects,
        };
        let committed = self.store.commit_poll(&commit).await?;
        if committed {
            for event in &commit.events {
                self.metrics
                    .event(&target.element_key, EventSource::Polling, event.status);
            }
            tracing::debug!(instance = %id, events = commit.events.len(), "polled");
        } else {
            tracing::info!(instance = %id, "poll taken over by another process; its findings are discarded");
        }
        Ok(committed)
    }

    /// Reads one resource completely and works out what changed.
    async fn resource(
        &self,
        poll: &mut Poll<'_>,
        claim: &PollClaim,
        name: &str,
        resource: &Resource,
    ) -> Result<Outcome, PollError> {
        let known = self.store.known_objects(poll.target.instance, name).await?;
        let window = match &resource.strategy {
            Strategy::Snapshot(snapshot) => snapshot
                .window
                .as_ref()
                .map(|w| (poll.started - w.lookback, poll.started + w.lookahead)),
            Strategy::UpdatedDate(_) => None,
        };
        let values = Values {
            last_poll: Some(claim.last_poll_at.unwrap_or(poll.started)),
            window,
            page_size: resource.page_size,
            id: None,
        };
        let path = resource.url.render(&values).map_err(render_error)?;
        let records = self.read_all(poll, resource, &path).await?;
        let mut outcome = match &resource.strategy {
            Strategy::UpdatedDate(rules) => strategy::updated_since(
                rules,
                name,
                &resource.id_field,
                &records,
                &known,
                claim.last_poll_at.unwrap_or(poll.started),
                poll.started,
            ),
            Strategy::Snapshot(rules) => {
                let baseline = claim.last_poll_at.is_none();
                strategy::snapshot(rules, name, &resource.id_field, &records, &known, window, baseline)
            }
        };
        if let Strategy::Snapshot(rules) = &resource.strategy {
            for id in std::mem::take(&mut outcome.vanished) {
                let confirmed = match &rules.confirm_url {
                    None => None,
                    Some(template) => {
                        let path = template
                            .render(&Values {
                                id: Some(&id),
                                ..Values::default()
                            })
                            .map_err(render_error)?;
                        self.get(poll, &path).await?
                    }
                };
                outcome.remember.push(store::ObjectChange::Forget {
                    resource: name.to_string(),
                    id: id.clone(),
                });
                let (event_type, record) = match confirmed {
                    // Still there: it moved out of the window, and changed in doing so.
                    Some(body) => {
                        let record = resource
                            .records_path
                            .as_deref()
                            .and_then(|p| at_path(&body, p))
                            .filter(|r| r.is_object())
                            .cloned()
                            .unwrap_or(body);
                        (EventType::Updated, record)
                    }
                    None => (EventType::Deleted, serde_json::json!({ "id": id })),
                };
                outcome.changes.push(Change {
                    id,
                    event_type,
                    date: None,
                    record,
                });
            }
        }
        Ok(outcome)
    }

    /// Every record of a listing, following its cursor to the end.
    async fn read_all(
        &self,
        poll: &mut Poll<'_>,
        resource: &Resource,
        path: &ProviderPath,
    ) -> Result<Vec<Value>, PollError> {
        let mut records = Vec::new();
        let mut cursor: Option<String> = None;
        let mut seen_cursors = HashSet::new();
        for _ in 0..MAX_PAGES {
            let page_path = match (&cursor, &resource.next_page) {
                (Some(cursor), Some(next)) => path
                    .with_query_pair(&next.param, cursor)
                    .map_err(|e| PollError::Retry(format!("{path}: the next page's path was refused: {e}")))?,
                _ => path.clone(),
            };
            let body = self
                .get(poll, &page_path)
                .await?
                .ok_or_else(|| PollError::Retry(format!("{page_path} answered 404")))?;
            let page = match &resource.records_path {
                Some(records_path) => at_path(&body, records_path),
                None => Some(&body),
            };
            let Some(Value::Array(page)) = page else {
                return Err(PollError::Retry(format!(
                    "{page_path}: the answer has no array of records{}",
                    resource
                        .records_path
                        .as_deref()
                        .map(|p| format!(" at {p}"))
                        .unwrap_or_default()
                )));
            };
            records.extend(page.iter().cloned());
            cursor = resource
                .next_page
                .as_ref()
                .and_then(|next| match at_path(&body, &next.path) {
                    Some(Value::String(s)) if !s.is_empty() => Some(s.clone()),
                    Some(Value::Number(n)) => Some(n.to_string()),
                    _ => None,
                });
            match &cursor {
                None => return Ok(records),
                Some(next) if !seen_cursors.insert(next.clone()) => {
                    return Err(PollError::Retry(format!("{page_path}: the cursor repeats itself")));
                }
                Some(_) => {}
            }
        }
        Err(PollError::Retry(format!("{path}: more than {MAX_PAGES} pages")))
    }

    /// GETs a path of the provider's API with the instance's token: `None` for 404 and
    /// 410. A 401 refreshes the token once and retries.
    async fn get(&self, poll: &mut Poll<'_>, path: &ProviderPath) -> Result<Option<Value>, PollError> {
        let shown = path.path();
        loop {
            if let Some(rate) = poll.element.api.rate_limit_per_second {
                let account = poll
                    .target
                    .identity
                    .as_deref()
                    .and_then(|i| serde_json::from_str::<Value>(i).ok())
                    .and_then(|i| i.get("id").and_then(Value::as_str).map(str::to_owned))
                    .unwrap_or_else(|| poll.target.instance.to_string());
                self.pacer.wait(&format!("{}:{account}", poll.element.key), rate).await;
            }
            let response = self
                .client
                .request(Method::GET, &poll.element.api.base_url, path)
                .bearer_auth(&poll.token)
                .header(ACCEPT, HeaderValue::from_static("application/json"))
                .send()
                .await
                // A refusal names no host: what the tenant reads is the path it chose.
                .map_err(|e| PollError::Retry(format!("GET {shown}: {e}")))?;
            let status = response.status();
            if status == StatusCode::UNAUTHORIZED && !poll.refreshed {
                poll.token = self.token(poll.target.instance, true).await?;
                poll.refreshed = true;
                continue;
            }
            if matches!(status, StatusCode::NOT_FOUND | StatusCode::GONE) {
                return Ok(None);
            }
            let body = response
                .bytes()
                .await
                .map_err(|e| PollError::Retry(format!("GET {shown}: {e}")))?;
            if !status.is_success() {
                let said: String = String::from_utf8_lossy(&body).chars().take(300).collect();
                return Err(PollError::Retry(format!("GET {shown} answered {status}: {said}")));
            }
            return serde_json::from_slice(&body)
                .map(Some)
                .map_err(|e| PollError::Retry(format!("GET {shown} answered with invalid JSON: {e}")));
        }
    }

    async fn token(&self, id: crate::ids::InstanceId, force: bool) -> Result<SecretString, PollError> {
        self.tokens.access_token(id, force).await.map_err(|error| match error {
            TokenError::NotFound(_) => PollError::Gone,
            TokenError::Invalid { reason, .. } => {
                PollError::Pause(format!("the instance needs re-authentication: {reason}"))
            }
            other => PollError::Retry(other.to_string()),
        })
    }

    /// The event of one resource's changes: raw holds the records, `{resource: [records]}`,
    /// as Cloud Elements' polling notifications do (each notification its own records).
    fn event(&self, poll: &Poll<'_>, resource: &str, changes: &[Change]) -> store::NewEvent {
        let records: Vec<Box<RawValue>> = changes
            .iter()
            .map(|c| serde_json::value::to_raw_value(&c.record).expect("records serialize"))
            .collect();
        let raw = serde_json::value::to_raw_value(&BTreeMap::from([(resource, &records)])).expect("records serialize");
        let entries: Vec<Entry<'_>> = changes
            .iter()
            .zip(&records)
            .map(|(change, record)| Entry {
                raw: record,
                item: Item::Event {
                    sequence: None,
                    event: NormalizedEvent {
                        element_key: poll.element.key.clone(),
                        hub_key: poll.element.hub.clone(),
                        object_type: resource.to_string(),
                        object_id: change.id.clone(),
                        event_type: change.event_type,
                        date: change
                            .date
                            .unwrap_or(poll.started)
                            .to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
                        state: None,
                    },
                },
            })
            .collect();
        ingest::prepare(
            &Arrival {
                target: poll.target,
                source: EventSource::Polling,
                raw: &raw,
                shape: RawShape::Records(resource),
                entries: &entries,
                received_at: poll.started,
            },
            &HashSet::new(),
        )
    }
}
