//! The load generator: Hootsuite's webhook POSTs in a closed loop (many connections, each
//! sending as soon as its last request was answered) for throughput at saturation, and in an
//! open loop at a fixed rate for latency.
//!
//! The open loop measures each request from the time it was *scheduled*, not from when it
//! could be sent: a server that stalls delays the requests behind the stall, and those delays
//! count (coordinated omission). Requests that could not even start before the window closed
//! are reported as unsent instead of being quietly skipped.

use std::{
    collections::HashMap,
    sync::{
        Arc, Mutex,
        atomic::{AtomicU64, Ordering},
    },
    time::Duration,
};

use tokio::{sync::Semaphore, task::JoinSet, time::Instant};
use tributary_harness::hootsuite;

/// Open-loop requests in flight at once; beyond it the schedule waits (and the wait counts).
const MAX_IN_FLIGHT: usize = 2048;

/// Unique numbers for `seq_no` and `message.id`, shared by every phase of a run, so no
/// event repeats within a database.
pub struct Ids(AtomicU64);

impl Ids {
    pub fn new() -> Self {
        Self(AtomicU64::new(1))
    }

    /// Reserves `count` consecutive numbers and returns the first.
    pub fn take(&self, count: usize) -> u64 {
        self.0.fetch_add(count as u64, Ordering::Relaxed)
    }
}

/// One request to send, and the first event number it carries (for the ledger).
pub struct Shot {
    pub request: reqwest::RequestBuilder,
    pub first_event: u64,
}

type Maker = dyn Fn(&reqwest::Client, u64) -> Shot + Send + Sync;

/// What to send: `make` builds the n-th request; each carries `per_request` events.
#[derive(Clone)]
pub struct Load {
    pub client: reqwest::Client,
    pub make: Arc<Maker>,
    pub per_request: usize,
}

/// The client every load uses: connections kept and reused without limit, as the providers
/// and the hub's own client do.
pub fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .pool_max_idle_per_host(usize::MAX)
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(60))
        .build()
        .expect("the HTTP client builds")
}

impl Load {
    /// Webhook POSTs of `batch` events each, spread round-robin over `urls`.
    pub fn webhooks(client: reqwest::Client, urls: Vec<reqwest::Url>, batch: usize, ids: Arc<Ids>) -> Self {
        Self {
            client,
            make: Arc::new(move |client: &reqwest::Client, n: u64| {
                let first = ids.take(batch);
                let url = urls[(n % urls.len() as u64) as usize].clone();
                Shot {
                    request: client
                        .post(url)
                        .header("content-type", "application/json")
                        .body(hootsuite::webhook_body(first..first + batch as u64)),
                    first_event: first,
                }
            }),
            per_request: batch,
        }
    }
}

/// Sends `shot` and reads the whole answer; `Err` says why it was not a 2xx.
async fn fire(shot: Shot) -> Result<(), String> {
    let response = shot.request.send().await.map_err(|e| format!("{e:#}"))?;
    let status = response.status();
    let body = response.bytes().await.map_err(|e| format!("{e:#}"))?;
    if status.is_success() {
        Ok(())
    } else {
        Err(format!(
            "HTTP {status}: {}",
            String::from_utf8_lossy(&body[..body.len().min(200)])
        ))
    }
}

#[derive(Debug, Clone, Default)]
pub struct Throughput {
    pub requests: u64,
    pub events: u64,
    pub errors: u64,
    pub seconds: f64,
    pub first_error: Option<String>,
}

impl Throughput {
    /// Counts one request's outcome; a request carries `per_request` events.
    fn count(&mut self, outcome: Result<(), String>, per_request: usize) {
        match outcome {
            Ok(()) => {
                self.requests += 1;
                self.events += per_request as u64;
            }
            Err(error) => {
                self.errors += 1;
                self.first_error.get_or_insert(error);
            }
        }
    }

    pub fn events_per_second(&self) -> f64 {
        self.events as f64 / self.seconds.max(1e-9)
    }

    pub fn requests_per_second(&self) -> f64 {
        self.requests as f64 / self.seconds.max(1e-9)
    }
}

/// `connections` workers send back to back; what completes inside the window after
/// `warmup` counts.
pub async fn saturate(load: &Load, connections: usize, warmup: Duration, duration: Duration) -> Throughput {
    let measured_from = Instant::now() + warmup;
    let end = measured_from + duration;
    let counted = Arc::new(Mutex::new(Throughput::default()));
    let next = Arc::new(AtomicU64::new(0));
    let mut workers = JoinSet::new();
    for _ in 0..connections {
        let (load, counted, next) = (load.clone(), counted.clone(), next.clone());
        workers.spawn(async move {
            while Instant::now() < end {
                let shot = (load.make)(&load.client, next.fetch_add(1, Ordering::Relaxed));
                let outcome = fire(shot).await;
                let done = Instant::now();
                if done < measured_from || done > end {
                    continue;
                }
                counted.lock().expect("never poisoned").count(outcome, load.per_request);
            }
        });
    }
    while workers.join_next().await.is_some() {}
    let mut result = counted.lock().expect("never poisoned").clone();
    result.seconds = duration.as_secs_f64();
    result
}

/// Sends exactly `requests` successful requests over `connections` workers, retrying
/// failures (up to one in ten, beyond which it gives up), and times the whole.
pub async fn send_all(load: &Load, connections: usize, requests: u64) -> anyhow::Result<Throughput> {
    let started = Instant::now();
    let issued = Arc::new(AtomicU64::new(0));
    let counted = Arc::new(Mutex::new(Throughput::default()));
    let mut workers = JoinSet::new();
    for _ in 0..connections {
        let (load, issued, counted) = (load.clone(), issued.clone(), counted.clone());
        workers.spawn(async move {
            loop {
                let n = issued.fetch_add(1, Ordering::Relaxed);
                if n >= requests {
                    return;
                }
                let outcome = fire((load.make)(&load.client, n)).await;
                let failed = outcome.is_err();
                let mut counted = counted.lock().expect("never poisoned");
                counted.count(outcome, load.per_request);
                if failed {
                    if counted.errors > 100 + requests / 10 {
                        return;
                    }
                    issued.fetch_sub(1, Ordering::Relaxed);
                }
            }
        });
    }
    while workers.join_next().await.is_some() {}
    let mut result = counted.lock().expect("never poisoned").clone();
    result.seconds = started.elapsed().as_secs_f64();
    if result.requests < requests {
        anyhow::bail!(
            "only {} of {requests} requests succeeded; first error: {}",
            result.requests,
            result.first_error.unwrap_or_default()
        );
    }
    Ok(result)
}

/// Latency percentiles in milliseconds.
#[derive(Debug, Clone, Default)]
pub struct Percentiles {
    pub count: usize,
    pub p50: f64,
    pub p99: f64,
    pub p999: f64,
}

impl Percentiles {
    /// Nearest-rank percentiles of latencies in microseconds.
    pub fn of(mut micros: Vec<u64>) -> Self {
        micros.sort_unstable();
        let rank = |q: f64| {
            if micros.is_empty() {
                return 0.0;
            }
            let index = ((q * micros.len() as f64).ceil() as usize).clamp(1, micros.len()) - 1;
            micros[index] as f64 / 1000.0
        };
        Self {
            count: micros.len(),
            p50: rank(0.50),
            p99: rank(0.99),
            p999: rank(0.999),
        }
    }
}

#[derive(Debug, Clone)]
pub struct FixedRate {
    /// Requests scheduled inside the measured window.
    pub scheduled: u64,
    pub ok: u64,
    /// Successful requests that completed inside the window, whenever they were scheduled:
    /// the rate the server sustained.
    pub completed: u64,
    pub errors: u64,
    /// Scheduled in the window but never started: the server was that far behind.
    pub unsent: u64,
    pub seconds: f64,
    pub per_request: usize,
    pub latency: Percentiles,
    pub first_error: Option<String>,
}

impl FixedRate {
    pub fn achieved_events_per_second(&self) -> f64 {
        (self.completed * self.per_request as u64) as f64 / self.seconds.max(1e-9)
    }

    /// Whether the server kept up: every request sent and answered well.
    pub fn kept_up(&self) -> bool {
        self.unsent == 0 && self.errors == 0
    }
}

/// Sends `rate` requests per second on schedule for `warmup + duration`; requests scheduled
/// after the warmup are measured. Successful ones are entered in `ledger`.
pub async fn open_loop(
    load: &Load,
    rate: f64,
    warmup: Duration,
    duration: Duration,
    ledger: Option<Arc<Ledger>>,
) -> FixedRate {
    let start = Instant::now() + Duration::from_millis(5);
    let measured_from = start + warmup;
    let end = measured_from + duration;
    let gate = Arc::new(Semaphore::new(MAX_IN_FLIGHT));
    let mut tasks = JoinSet::new();
    let mut result = FixedRate {
        scheduled: 0,
        ok: 0,
        completed: 0,
        errors: 0,
        unsent: 0,
        seconds: duration.as_secs_f64(),
        per_request: load.per_request,
        latency: Percentiles::default(),
        first_error: None,
    };
    let mut micros = Vec::new();
    let mut record = |outcome: (Instant, Instant, u64, Result<(), String>)| {
        let (at, done, first_event, answer) = outcome;
        if answer.is_ok() && (measured_from..=end).contains(&done) {
            result.completed += 1;
        }
        if at < measured_from {
            return;
        }
        result.scheduled += 1;
        match answer {
            Ok(()) => {
                result.ok += 1;
                micros.push(done.duration_since(at).as_micros() as u64);
                if let Some(ledger) = &ledger {
                    ledger.sent(first_event, load.per_request, at);
                }
            }
            Err(error) => {
                result.errors += 1;
                result.first_error.get_or_insert(error);
            }
        }
    };
    let mut unsent = 0;
    for n in 0u64.. {
        let at = start + Duration::from_secs_f64(n as f64 / rate);
        if at >= end {
            break;
        }
        tokio::time::sleep_until(at).await;
        let permit = tokio::select! {
            permit = gate.clone().acquire_owned() => permit.expect("the gate is never closed"),
            () = tokio::time::sleep_until(end) => {
                let from = at.max(measured_from);
                unsent = ((end - from).as_secs_f64() * rate).ceil() as u64;
                break;
            }
        };
        let shot = (load.make)(&load.client, n);
        let first_event = shot.first_event;
        tasks.spawn(async move {
            let answer = fire(shot).await;
            drop(permit);
            (at, Instant::now(), first_event, answer)
        });
        while let Some(done) = tasks.try_join_next() {
            record(done.expect("load tasks do not panic"));
        }
    }
    while let Some(done) = tasks.join_next().await {
        record(done.expect("load tasks do not panic"));
    }
    result.unsent = unsent;
    result.scheduled += unsent;
    result.latency = Percentiles::of(micros);
    result
}

/// When each event was scheduled to be POSTed (for those the hub acknowledged) and when the
/// sink received its notification: end-to-end latency, coordinated-omission-aware.
#[derive(Default)]
pub struct Ledger {
    sent: Mutex<HashMap<u64, Instant>>,
    received: Mutex<HashMap<u64, Instant>>,
    duplicates: AtomicU64,
}

#[derive(Debug, Clone)]
pub struct EndToEnd {
    pub latency: Percentiles,
    /// Acknowledged events whose notification never reached the sink.
    pub missing: usize,
    /// Notifications of an event received more than once.
    pub duplicates: u64,
}

impl Ledger {
    fn sent(&self, first: u64, count: usize, at: Instant) {
        let mut sent = self.sent.lock().expect("never poisoned");
        for id in first..first + count as u64 {
            sent.insert(id, at);
        }
    }

    /// The sink saw a notification about event `id` (warm-up events included; they are
    /// ignored when the two sides are matched).
    pub fn received(&self, id: u64, at: Instant) {
        if self.received.lock().expect("never poisoned").insert(id, at).is_some() {
            self.duplicates.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Acknowledged events not yet seen by the sink.
    pub fn outstanding(&self) -> usize {
        let received = self.received.lock().expect("never poisoned");
        let sent = self.sent.lock().expect("never poisoned");
        sent.keys().filter(|id| !received.contains_key(id)).count()
    }

    pub fn end_to_end(&self) -> EndToEnd {
        let received = self.received.lock().expect("never poisoned");
        let sent = self.sent.lock().expect("never poisoned");
        let mut micros = Vec::with_capacity(sent.len());
        let mut missing = 0;
        for (id, at) in sent.iter() {
            match received.get(id) {
                Some(got) => micros.push(got.saturating_duration_since(*at).as_micros() as u64),
                None => missing += 1,
            }
        }
        EndToEnd {
            latency: Percentiles::of(micros),
            missing,
            duplicates: self.duplicates.load(Ordering::Relaxed),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_rank_percentiles() {
        let p = Percentiles::of((1..=1000).map(|ms| ms * 1000).collect());
        assert_eq!((p.p50, p.p99, p.p999), (500.0, 990.0, 999.0));
        assert_eq!(Percentiles::of(Vec::new()).count, 0);
    }
}
