//! Deliver: send stored notifications to callback URLs, signed, at least once, with retries.
//!
//! A worker claims due deliveries with a lease (several hub processes share the work; a
//! crashed one's deliveries come back when its leases run out), prepares each (its instance,
//! its signed request), sends it outside any transaction when its callback server has a free
//! slot (see [`destinations`]), then records the attempt and the delivery's next step in one
//! transaction. New work wakes the worker at once; otherwise it sleeps until the next
//! delivery is due.

pub mod destinations;
pub mod guard;
pub mod handoff;
pub mod retry;
pub mod signing;

use std::{
    collections::{HashMap, VecDeque},
    sync::{Arc, Mutex},
    time::Duration,
};

use chrono::Utc;
use reqwest::{StatusCode, header};
use secrecy::{ExposeSecret, SecretString};
use tokio::{
    task::{self, JoinError, JoinSet},
    time::Instant,
};
use tokio_util::sync::CancellationToken;

use self::{
    destinations::{Destinations, Fairness, Offer, Reached, Ticket},
    handoff::{Handed, Handoff},
    retry::{RetryPolicy, parse_retry_after},
};
use super::cache::Caches;
use crate::{
    crypto::Cipher,
    instances::{
        configuration::{CALLBACK_URL, plain_value},
        sealing::{self, Field},
    },
    metrics::{DeliveryCount, Metrics},
    store::{
        self, ClaimedDelivery, DeliveryOutcome, EventTarget, FailurePolicy, NewAttempt, NextStep, Store, StoreError,
        Timestamp,
    },
};

const SIGNATURE_KEY: &str = "event.notification.signature.key";
const CALLBACK_HEADERS: &str = "event.notification.callback.headers";
const BASIC_USERNAME: &str = "event.notification.basic.username";
const BASIC_PASSWORD: &str = "event.notification.basic.password";
/// How much of a callback's answer is kept with the attempt.
const RESPONSE_KEPT: usize = 4096;
/// Outcomes waiting for their commit, per slot, past which the worker stops claiming.
const RECORDING_PER_SLOT: usize = 4;
/// The longest the worker sleeps without looking for due deliveries.
const IDLE_LOOK: Duration = Duration::from_secs(5);
/// The first pause before writing an outcome again, doubled up to [`RECORD_PAUSE_MAX`].
const RECORD_PAUSE: Duration = Duration::from_millis(50);
const RECORD_PAUSE_MAX: Duration = Duration::from_secs(1);
/// Left of the lease when the worker stops writing an outcome again, so that its last
/// write does not land after another worker took the delivery over.
const RECORD_MARGIN: Duration = Duration::from_secs(1);

/// A lease outlives the request it covers and the write that follows, so another worker
/// never takes over a delivery that is still being sent.
fn lease(timeout: Duration) -> Duration {
    timeout * 2 + Duration::from_secs(5)
}

/// When the worker should look again for a delivery that a recorded outcome made due later.
fn retry_look(recorded: Result<Option<Timestamp>, JoinError>) -> Instant {
    match recorded {
        Ok(Some(at)) => Instant::now() + store::until(at),
        _ => Instant::now() + IDLE_LOOK,
    }
}

#[derive(Debug, Clone)]
pub struct DispatcherConfig {
    pub timeout: Duration,
    pub retry: RetryPolicy,
    /// Notifications in flight at once, per hub process.
    pub concurrency: usize,
    /// Notifications in flight at once to one callback server (origin), per hub process.
    pub per_destination: usize,
    /// Requests in a row without an answer that open a callback server's breaker.
    pub breaker_failures: u32,
    /// Where callbacks may go.
    pub network: Arc<guard::NetworkPolicy>,
}

impl DispatcherConfig {
    fn fairness(&self) -> Fairness {
        Fairness {
            per_destination: self.per_destination,
            breaker_failures: self.breaker_failures,
            cooldowns: self.retry.schedule.clone(),
            timeout: self.timeout,
        }
    }
}

pub struct Dispatcher {
    store: Arc<dyn Store>,
    caches: Arc<Caches>,
    cipher: Arc<Cipher>,
    metrics: Arc<Metrics>,
    http: reqwest::Client,
    config: DispatcherConfig,
    node: String,
    handoff: Arc<Handoff>,
    /// Taken by [`Dispatcher::run`].
    handed: Mutex<Option<Handed>>,
}

/// An attempt made (or a delivery parked or deferred), waiting to be recorded.
struct Sent {
    outcome: DeliveryOutcome,
    count: DeliveryCount,
    latency: Option<Duration>,
    /// The claim's lease, within which the outcome may still be written.
    lease_until: Timestamp,
}

/// What one attempt came to, before deciding what happens next.
enum Answer {
    Success,
    Gone,
    Failure { retry_after: Option<Duration> },
}

/// A delivery with a callback URL the guard allows, waiting for a slot with its callback
/// server. Its request is signed and built by the task that sends it, in parallel with the
/// others, not by the worker's loop.
struct Outgoing {
    delivery: ClaimedDelivery,
    target: Arc<EventTarget>,
    url: url::Url,
}

/// What preparing a delivery came to.
enum Prepared {
    /// A request for this callback server.
    Send(Box<Outgoing>, url::Origin),
    /// Nothing to send: parked (recorded as such), or gone with its instance (`None`).
    Settled(Option<Sent>),
}

/// An attempt and whether the callback server answered it at all (`None`: the request
/// could not be built, and the delivery is parked).
struct Attempted {
    sent: Sent,
    reached: Option<Reached>,
}

/// Everything a worker holds between two turns of its loop. Each claimed delivery is in one
/// place at a time: ready (not yet prepared), preparing, waiting in its callback server's
/// line, in flight, or recording.
struct Work {
    ready: VecDeque<ClaimedDelivery>,
    preparing: JoinSet<Prepared>,
    destinations: Destinations<Box<Outgoing>>,
    in_flight: JoinSet<Attempted>,
    /// The slot each request in flight holds with its callback server.
    tickets: HashMap<task::Id, Ticket>,
    recording: JoinSet<Option<Timestamp>>,
}

impl Work {
    /// Claimed and not yet given a slot or sent back: what the reserve counts.
    fn held(&self) -> usize {
        self.ready.len() + self.preparing.len() + self.destinations.waiting()
    }

    /// Not prepared yet (ready, or preparing): below the limit, the worker takes more from
    /// ingest. What waits in lines is bounded apart, in [`Destinations`].
    fn unprepared(&self) -> usize {
        self.ready.len() + self.preparing.len()
    }

    fn settled(&self) -> bool {
        self.held() == 0 && self.in_flight.is_empty()
    }
}

impl Dispatcher {
    pub fn new(
        store: Arc<dyn Store>,
        caches: Arc<Caches>,
        cipher: Arc<Cipher>,
        metrics: Arc<Metrics>,
        http: reqwest::Client,
        config: DispatcherConfig,
        node: String,
    ) -> Self {
        // Room for half a batch of claims: what is handed over waits, at worst, as long
        // as the claimed reserve does, well within the lease.
        let (handoff, handed) = Handoff::new(node.clone(), lease(config.timeout), config.concurrency / 2);
        Self {
            store,
            caches,
            cipher,
            metrics,
            http,
            config,
            node,
            handoff: Arc::new(handoff),
            handed: Mutex::new(Some(handed)),
        }
    }

    /// Where ingest hands this worker the notifications it stores claimed for it.
    pub fn handoff(&self) -> Arc<Handoff> {
        self.handoff.clone()
    }

    /// Claims and sends due deliveries until `shutdown`, then sends what it holds.
    ///
    /// `concurrency` bounds the requests open to callback servers, and nothing else:
    /// - claims go through the database's single writer and cost mostly per claim, not per
    ///   row, so while a backlog lasts the worker keeps up to another `concurrency`
    ///   deliveries claimed and ready beside those in flight, and claims a full batch
    ///   whenever half of that reserve is used up; a freed slot never waits for a claim;
    /// - a delivery frees its slot as soon as its answer is in, and its outcome waits for
    ///   the group commit apart, so that more outcomes share each commit.
    ///
    /// One callback server gets at most `per_destination` of the slots, and what waits for
    /// a server that is slow or failing goes back to the store (see [`destinations`]), so
    /// it neither holds up other servers' deliveries nor fills the reserve.
    ///
    /// Without a backlog it claims only when something may have become due: new work
    /// announced, a retry's time, the next due delivery or lease end it looked up. Fresh
    /// notifications mostly need no claim at all: ingest hands them over (see [`handoff`]).
    pub async fn run(self: Arc<Self>, shutdown: CancellationToken) {
        let mut handed = self
            .handed
            .lock()
            .expect("the hand-off lock is never poisoned")
            .take()
            .expect("a dispatcher runs once");
        let limit = self.config.concurrency;
        let mut work = Work {
            ready: VecDeque::with_capacity(limit),
            preparing: JoinSet::new(),
            destinations: Destinations::new(self.config.fairness(), limit),
            in_flight: JoinSet::new(),
            tickets: HashMap::new(),
            recording: JoinSet::new(),
        };
        let mut arrived = Vec::new();
        // Whether the last claim got all it asked for: a backlog is likely left.
        let mut backlog = false;
        let mut next_look = Instant::now();
        loop {
            self.collect(&mut work, &shutdown);
            while let Some(recorded) = work.recording.try_join_next() {
                next_look = next_look.min(retry_look(recorded));
            }
            while work.unprepared() < limit
                && let Ok(delivery) = handed.try_recv()
            {
                work.ready.push_back(delivery);
            }
            self.dispatch(&mut work, &shutdown);
            // Outcomes piling up in front of the database mean it is the bottleneck:
            // claiming more would only lengthen that queue.
            let room = work.held() <= limit / 2 && work.recording.len() < limit * RECORDING_PER_SLOT;
            if room && (backlog || Instant::now() >= next_look) {
                let wanted = limit - work.held();
                let now = store::now();
                let claimed = match self
                    .store
                    .claim_deliveries(
                        &self.node,
                        now,
                        now + lease(self.config.timeout),
                        u32::try_from(wanted).unwrap_or(u32::MAX),
                    )
                    .await
                {
                    Ok(claimed) => claimed,
                    Err(error) => {
                        tracing::warn!(%error, "could not claim deliveries");
                        Vec::new()
                    }
                };
                backlog = claimed.len() == wanted;
                work.ready.extend(claimed);
                if !backlog {
                    let nap = match self.store.next_delivery_at().await {
                        Ok(Some(at)) => store::until(at).clamp(Duration::from_millis(5), IDLE_LOOK),
                        _ => IDLE_LOOK,
                    };
                    next_look = Instant::now() + nap;
                }
                continue;
            }
            let expiry = work.destinations.next_expiry();
            tokio::select! {
                () = shutdown.cancelled() => break,
                // Only while the reserve has room, so that what waits here has not been
                // claimed long before it is sent.
                _ = handed.recv_many(&mut arrived, limit), if work.unprepared() < limit => {
                    work.ready.extend(arrived.drain(..));
                }
                () = self.store.delivery_wakeup() => next_look = Instant::now(),
                // Only while a claim could follow: with no room, the time passing changes
                // nothing until a send or a record completes.
                () = tokio::time::sleep_until(next_look), if room && !backlog => {}
                // A callback server with deliveries waiting for it may turn slow.
                () = tokio::time::sleep_until(expiry.unwrap_or(next_look)), if expiry.is_some() => {}
                Some(done) = work.in_flight.join_next_with_id(), if !work.in_flight.is_empty() => {
                    self.attempted(&mut work, done, &shutdown);
                }
                Some(prepared) = work.preparing.join_next(), if !work.preparing.is_empty() => {
                    self.prepared(&mut work, prepared, &shutdown);
                }
                Some(recorded) = work.recording.join_next(), if !work.recording.is_empty() => {
                    next_look = next_look.min(retry_look(recorded));
                }
            }
        }
        // What is claimed is sent, or given back to the store when its callback server
        // cannot take it now: left alone, it would wait for its lease to run out. That
        // includes what ingest is still storing for this worker now.
        handed.close();
        while let Some(delivery) = handed.recv().await {
            work.ready.push_back(delivery);
        }
        while !work.settled() {
            self.dispatch(&mut work, &shutdown);
            let expiry = work.destinations.next_expiry();
            tokio::select! {
                Some(done) = work.in_flight.join_next_with_id(), if !work.in_flight.is_empty() => {
                    self.attempted(&mut work, done, &shutdown);
                }
                Some(prepared) = work.preparing.join_next(), if !work.preparing.is_empty() => {
                    self.prepared(&mut work, prepared, &shutdown);
                }
                () = tokio::time::sleep_until(expiry.unwrap_or_else(Instant::now)), if expiry.is_some() => {}
            }
        }
        while work.recording.join_next().await.is_some() {}
    }

    /// Takes in what finished preparing or sending.
    fn collect(self: &Arc<Self>, work: &mut Work, shutdown: &CancellationToken) {
        while let Some(done) = work.in_flight.try_join_next_with_id() {
            self.attempted(work, done, shutdown);
        }
        while let Some(prepared) = work.preparing.try_join_next() {
            self.prepared(work, prepared, shutdown);
        }
    }

    /// Sends back what waits for a callback server that turned slow or failing, gives the
    /// free slots out, and prepares what is ready.
    fn dispatch(self: &Arc<Self>, work: &mut Work, shutdown: &CancellationToken) {
        let now = Instant::now();
        for (outgoing, at) in work.destinations.expire(now) {
            let deferred = self.defer(&outgoing.delivery, at);
            self.record_later(&mut work.recording, deferred, shutdown);
        }
        while let Some((outgoing, ticket)) = work.destinations.next(now) {
            self.start(work, outgoing, ticket);
        }
        while let Some(delivery) = work.ready.pop_front() {
            match self.prepare_cached(delivery) {
                Ok(prepared) => self.prepared(work, Ok(prepared), shutdown),
                Err(delivery) if work.preparing.len() < self.config.concurrency => {
                    work.preparing.spawn(self.clone().prepare(delivery));
                }
                Err(delivery) => {
                    work.ready.push_front(delivery);
                    break;
                }
            }
        }
    }

    fn start(self: &Arc<Self>, work: &mut Work, outgoing: Box<Outgoing>, ticket: Ticket) {
        let handle = work.in_flight.spawn(self.clone().attempt(outgoing, ticket.last_chance));
        work.tickets.insert(handle.id(), ticket);
    }

    /// A prepared delivery goes to its callback server now, waits its turn, or goes back
    /// to the store.
    fn prepared(
        self: &Arc<Self>,
        work: &mut Work,
        prepared: Result<Prepared, JoinError>,
        shutdown: &CancellationToken,
    ) {
        match prepared {
            Ok(Prepared::Send(outgoing, origin)) => match work.destinations.offer(origin, outgoing, Instant::now()) {
                Offer::Send(outgoing, ticket) => self.start(work, outgoing, ticket),
                Offer::Held => {}
                Offer::Defer(outgoing, at) => {
                    let deferred = self.defer(&outgoing.delivery, at);
                    self.record_later(&mut work.recording, deferred, shutdown);
                }
            },
            Ok(Prepared::Settled(Some(sent))) => self.record_later(&mut work.recording, sent, shutdown),
            // The lease runs out and the delivery is tried again: nothing is lost.
            Ok(Prepared::Settled(None)) | Err(_) => {}
        }
    }

    /// A request is done: its slot is free, its callback server's breaker learns how it
    /// went, and its outcome goes to the group commit.
    fn attempted(
        self: &Arc<Self>,
        work: &mut Work,
        done: Result<(task::Id, Attempted), JoinError>,
        shutdown: &CancellationToken,
    ) {
        let (id, attempted) = match done {
            Ok((id, attempted)) => (id, Some(attempted)),
            Err(error) => (error.id(), None),
        };
        if let Some(ticket) = work.tickets.remove(&id) {
            let reached = attempted.as_ref().and_then(|a| a.reached);
            work.destinations.finish(ticket, reached, Instant::now());
        }
        if let Some(attempted) = attempted {
            self.record_later(&mut work.recording, attempted.sent, shutdown);
        }
    }

    /// A delivery not sent, pending again and due `at`, with its claim's attempt given back:
    /// waiting for its callback server costs it none of its retries.
    fn defer(&self, delivery: &ClaimedDelivery, at: Instant) -> Sent {
        let now = store::now();
        Sent {
            outcome: DeliveryOutcome {
                id: delivery.id,
                instance: delivery.instance,
                owner: self.node.clone(),
                attempt: None,
                next: NextStep::Deferred(now + at.saturating_duration_since(Instant::now())),
                deactivate: None,
                now,
            },
            count: DeliveryCount::Deferred,
            latency: None,
            lease_until: delivery.lease_until,
        }
    }

    /// Hands a finished send's outcome to the group commit, without waiting for it.
    fn record_later(
        self: &Arc<Self>,
        recording: &mut JoinSet<Option<Timestamp>>,
        sent: Sent,
        shutdown: &CancellationToken,
    ) {
        recording.spawn(self.clone().record(sent, shutdown.clone()));
    }

    /// Records what an attempt came to, and says when a retry (or a deferred delivery) it
    /// scheduled is due.
    ///
    /// An outcome not written means the notification goes again once its lease runs out:
    /// nothing is lost, but the callback gets it twice. So while the database is only
    /// unavailable for now (disk full, locked, connection lost), the write is tried again
    /// within the lease. A stopping hub does not wait for that.
    async fn record(self: Arc<Self>, sent: Sent, shutdown: CancellationToken) -> Option<Timestamp> {
        let deactivated = sent.outcome.deactivate.is_some();
        let mut pause = RECORD_PAUSE;
        while let Err(error) = self.store.finish_delivery(&sent.outcome).await {
            let in_lease = store::now() + pause + RECORD_MARGIN < sent.lease_until;
            if !error.is_unavailable() || !in_lease || shutdown.is_cancelled() {
                tracing::warn!(delivery = %sent.outcome.id, %error, "could not record a delivery");
                return None;
            }
            tracing::debug!(delivery = %sent.outcome.id, %error, "recording a delivery again");
            tokio::select! {
                () = tokio::time::sleep(pause) => {}
                () = shutdown.cancelled() => {}
            }
            pause = (pause * 2).min(RECORD_PAUSE_MAX);
        }
        if deactivated {
            self.caches.forget(sent.outcome.instance);
        }
        self.metrics.delivery(sent.count, sent.latency);
        match sent.outcome.next {
            NextStep::RetryAt(at) | NextStep::Deferred(at) => Some(at),
            NextStep::Delivered | NextStep::Failed | NextStep::Queued | NextStep::Held => None,
        }
    }

    /// Reads what the delivery needs and builds its signed request, or settles it at once.
    async fn prepare(self: Arc<Self>, delivery: ClaimedDelivery) -> Prepared {
        let id = delivery.id;
        self.try_prepare(delivery).await.unwrap_or_else(|error| {
            // The lease runs out and the delivery is tried again: nothing is lost.
            tracing::warn!(delivery = %id, %error, "could not prepare a delivery");
            Prepared::Settled(None)
        })
    }

    async fn try_prepare(&self, delivery: ClaimedDelivery) -> Result<Prepared, StoreError> {
        let look = || {
            self.caches
                .targets
                .get(delivery.instance, || self.store.event_target(delivery.instance))
        };
        let Some(mut target) = look().await? else {
            // The instance was deleted, and its deliveries with it.
            return Ok(Prepared::Settled(None));
        };
        if plain_value(&target.config, CALLBACK_URL).is_none() {
            // Held for want of a URL only on the database's word: the cached view may be
            // older than the URL, and holding on it would release, claim and hold again.
            self.caches.targets.forget(delivery.instance);
            let Some(fresh) = look().await? else {
                return Ok(Prepared::Settled(None));
            };
            target = fresh;
        }
        Ok(self.prepared_with(delivery, target))
    }

    /// Prepares the delivery on the spot when its instance is cached, as it is for an
    /// instance with notifications flowing: no task, no turn of the loop. An instance
    /// cached without a callback URL goes the long way, which asks the database.
    fn prepare_cached(&self, delivery: ClaimedDelivery) -> Result<Prepared, ClaimedDelivery> {
        match self.caches.targets.peek(delivery.instance) {
            Some(target) if plain_value(&target.config, CALLBACK_URL).is_some() => {
                Ok(self.prepared_with(delivery, target))
            }
            _ => Err(delivery),
        }
    }

    /// Where the delivery goes, or why it is parked instead: held until the instance has a
    /// callback URL, queued otherwise until someone releases it.
    fn prepared_with(&self, delivery: ClaimedDelivery, target: Arc<EventTarget>) -> Prepared {
        let url = if !target.subscription_active {
            Err((NextStep::Queued, "the subscription is deactivated".to_string()))
        } else {
            match plain_value(&target.config, CALLBACK_URL) {
                None => Err((
                    NextStep::Held,
                    format!("no {CALLBACK_URL} is configured; held until one is"),
                )),
                Some(url) => url::Url::parse(url)
                    .map_err(|e| format!("the callback URL is not valid: {e}"))
                    .and_then(|url| {
                        self.config.network.check_url(&url).map(|()| url).map_err(|refused| {
                            refused.log(target.instance);
                            refused.to_string()
                        })
                    })
                    .map_err(|reason| (NextStep::Queued, reason)),
            }
        };
        match url {
            Ok(url) => {
                let origin = url.origin();
                Prepared::Send(Box::new(Outgoing { delivery, target, url }), origin)
            }
            Err((next, reason)) => Prepared::Settled(Some(self.park(&delivery, next, &reason))),
        }
    }

    /// A notification that cannot be sent now is parked (`next`: held or queued), with the
    /// reason on record as a non-attempt.
    fn park(&self, delivery: &ClaimedDelivery, next: NextStep, reason: &str) -> Sent {
        Sent {
            outcome: DeliveryOutcome {
                id: delivery.id,
                instance: delivery.instance,
                owner: self.node.clone(),
                attempt: Some(NewAttempt {
                    at: store::now(),
                    status_code: None,
                    latency_ms: 0,
                    error: Some(format!("not sent: {reason}")),
                    response_body: None,
                }),
                next,
                deactivate: None,
                now: store::now(),
            },
            count: match next {
                NextStep::Held => DeliveryCount::Held,
                _ => DeliveryCount::Queued,
            },
            latency: None,
            lease_until: delivery.lease_until,
        }
    }

    /// The instance's Standard Webhooks secrets, or why they could not be read.
    async fn signing_secrets(&self, target: &EventTarget) -> Result<Arc<Vec<SecretString>>, String> {
        self.caches
            .signing_secrets
            .get(target.instance, || async {
                let sealed = self.store.signing_secrets(target.instance, store::now()).await?;
                sealed
                    .iter()
                    .map(|s| {
                        self.cipher
                            .open(s, &sealing::context(target.instance, Field::SigningSecret))
                    })
                    .collect::<Result<Vec<SecretString>, _>>()
                    .map(Some)
                    .map_err(|e| StoreError::Corrupt(format!("a signing secret could not be opened: {e}")))
            })
            .await
            .map_err(|e| e.to_string())
            .map(Option::unwrap_or_default)
    }

    /// Sends one attempt and says what to record. `last_chance`: the callback server has
    /// not answered for as long as the retry schedule lasts, so no answer now is final.
    async fn attempt(self: Arc<Self>, outgoing: Box<Outgoing>, last_chance: bool) -> Attempted {
        let Outgoing { delivery, target, url } = *outgoing;
        let request = match self.signing_secrets(&target).await {
            Ok(secrets) => self.request(&target, url, &delivery, &secrets),
            Err(reason) => Err(reason),
        };
        let request = match request {
            Ok(request) => request,
            Err(reason) => {
                return Attempted {
                    sent: self.park(&delivery, NextStep::Queued, &reason),
                    reached: None,
                };
            }
        };
        let started = store::now();
        let clock = tokio::time::Instant::now();
        let (answer, reached, status_code, error, response_body) = match self.http.execute(request).await {
            Ok(response) => {
                let status = response.status();
                let retry_after = response
                    .headers()
                    .get(header::RETRY_AFTER)
                    .and_then(|v| v.to_str().ok())
                    .and_then(|v| parse_retry_after(v, Utc::now()))
                    .filter(|_| matches!(status, StatusCode::TOO_MANY_REQUESTS | StatusCode::SERVICE_UNAVAILABLE));
                let body = read_limited(response).await;
                let answer = if status.is_success() {
                    Answer::Success
                } else if status == StatusCode::GONE {
                    Answer::Gone
                } else {
                    Answer::Failure { retry_after }
                };
                let error = (!status.is_success()).then(|| format!("HTTP {status}"));
                (answer, Reached::Answered, Some(status.as_u16()), error, Some(body))
            }
            Err(error) => {
                if let Some(refused) = guard::Refused::in_chain(&error) {
                    refused.log(delivery.instance);
                }
                (
                    Answer::Failure { retry_after: None },
                    Reached::NoAnswer,
                    None,
                    Some(describe(&error)),
                    None,
                )
            }
        };
        let latency = clock.elapsed();
        let attempt = NewAttempt {
            at: started,
            status_code,
            latency_ms: u64::try_from(latency.as_millis()).unwrap_or(u64::MAX),
            error,
            response_body,
        };
        let (next, deactivate, count) = match answer {
            Answer::Success => (NextStep::Delivered, None, DeliveryCount::Delivered),
            Answer::Gone => (
                NextStep::Queued,
                Some(format!(
                    "the callback answered 410 Gone for delivery {}; reactivate after fixing it",
                    delivery.id
                )),
                DeliveryCount::Queued,
            ),
            Answer::Failure { .. } if target.failure_policy == FailurePolicy::Queue => {
                (NextStep::Queued, None, DeliveryCount::Queued)
            }
            Answer::Failure { .. } if last_chance && reached == Reached::NoAnswer => (
                NextStep::Failed,
                Some(format!(
                    "delivery {} got no answer, and its callback server has answered nothing for as long as the retry \
                     schedule lasts; later events wait as queued until the subscription is reactivated",
                    delivery.id
                )),
                DeliveryCount::Failed,
            ),
            Answer::Failure { retry_after } => match self.config.retry.delay_after(delivery.attempt, retry_after) {
                Some(delay) => (NextStep::RetryAt(store::now() + delay), None, DeliveryCount::Retried),
                None => (
                    NextStep::Failed,
                    Some(format!(
                        "delivery {} failed {} times; later events wait as queued until the subscription is reactivated",
                        delivery.id, delivery.attempt
                    )),
                    DeliveryCount::Failed,
                ),
            },
        };
        Attempted {
            sent: Sent {
                outcome: DeliveryOutcome {
                    id: delivery.id,
                    instance: delivery.instance,
                    owner: self.node.clone(),
                    attempt: Some(attempt),
                    next,
                    deactivate,
                    now: store::now(),
                },
                count,
                latency: Some(latency),
                lease_until: delivery.lease_until,
            },
            reached: Some(reached),
        }
    }

    /// The signed request for one attempt; an error says why it cannot be sent at all.
    fn request(
        &self,
        target: &EventTarget,
        url: url::Url,
        delivery: &ClaimedDelivery,
        secrets: &[SecretString],
    ) -> Result<reqwest::Request, String> {
        let id = delivery.id.to_string();
        let body = delivery.payload.as_bytes();
        let timestamp = Utc::now().timestamp();
        let secret = |key: &str| {
            sealing::config_value(&self.cipher, target.instance, &target.config, key)
                .map_err(|e| format!("{key} could not be opened: {e}"))
        };
        let mut request = self
            .http
            .post(url)
            .header(header::CONTENT_TYPE, "application/json")
            .header("Elements-Webhook-Id", &id)
            .header("webhook-id", &id)
            .header("webhook-timestamp", timestamp.to_string());
        if !secrets.is_empty() {
            request = request.header(
                "webhook-signature",
                signing::standard_signature(secrets, &id, timestamp, body),
            );
        }
        if let Some(key) = secret(SIGNATURE_KEY)? {
            request = request.header("Elements-Webhook-Signature", signing::elements_signature(&key, body));
        }
        if let Some(headers) = secret(CALLBACK_HEADERS)? {
            let extra: serde_json::Map<String, serde_json::Value> =
                serde_json::from_str(headers.expose_secret()).map_err(|e| format!("{CALLBACK_HEADERS}: {e}"))?;
            for (name, value) in extra {
                if let Some(value) = value.as_str() {
                    request = request.header(name, value);
                }
            }
        }
        if let Some(username) = plain_value(&target.config, BASIC_USERNAME) {
            let password = secret(BASIC_PASSWORD)?;
            request = request.basic_auth(username, password.as_ref().map(|p| p.expose_secret()));
        }
        request
            .body(delivery.payload.clone())
            .build()
            .map_err(|e| format!("the request could not be built: {e}"))
    }
}

/// The start of a response body, as text, without reading more than is kept.
async fn read_limited(mut response: reqwest::Response) -> String {
    let mut kept = Vec::new();
    while kept.len() < RESPONSE_KEPT {
        match response.chunk().await {
            Ok(Some(chunk)) => kept.extend_from_slice(&chunk[..chunk.len().min(RESPONSE_KEPT - kept.len())]),
            _ => break,
        }
    }
    String::from_utf8_lossy(&kept).into_owned()
}

/// Why a request got no answer, without the URL's query (it may carry secrets).
fn describe(error: &reqwest::Error) -> String {
    let what = if error.is_timeout() {
        "timed out"
    } else if error.is_connect() {
        "could not connect"
    } else if error.is_redirect() {
        "redirected (redirects are not followed)"
    } else {
        "request failed"
    };
    let mut cause = String::new();
    let mut source = std::error::Error::source(error);
    while let Some(inner) = source {
        cause = inner.to_string();
        source = inner.source();
    }
    if cause.is_empty() {
        what.to_string()
    } else {
        format!("{what}: {cause}")
    }
}
