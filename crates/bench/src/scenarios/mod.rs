//! The scenarios and what they share: the run's options, its report and problems, the
//! machine's ceiling (measured once per run, when first needed), and a [`Stage`]: a fresh
//! database, the simulator, the sink, the hub process and its instances.

pub mod ceiling;
pub mod delivery;
pub mod e2e;
pub mod ingest;
pub mod large;
pub mod memory;
pub mod polling;

use std::{
    path::PathBuf,
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering},
    },
    time::Duration,
};

use anyhow::Context;
use serde::Serialize;
use serde_json::json;
use tokio::{sync::Semaphore, task::JoinSet, time::Instant};
use tributary_harness::api::{Api, Instance};

pub use self::ceiling::Ceiling;
use crate::{
    database::{Database, Engine},
    hub::{BenchCalls, Hub, HubSettings},
    load::{self, FixedRate, Ids, Load, Percentiles},
    provider::Provider,
    report::{Report, Row},
    sink::Sink,
};

/// Instances set up at once (each is a few calls to the simulator and the hub).
const SETUP_CONCURRENCY: usize = 16;
/// The seed's notification callback URL; each instance is PATCHed to the sink right after.
const SEED_CALLBACK: &str = "https://api.cloud-elements.com/elements/api-v2/events/hootsuite";

/// Sizes, durations and the hub under test.
#[derive(Debug, Clone, Serialize)]
pub struct Options {
    pub engine: Engine,
    pub postgres_url: String,
    pub hub_bin: PathBuf,
    pub hub_env: Vec<(String, String)>,
    pub duration: Duration,
    pub warmup: Duration,
    pub connections: usize,
    pub instances: usize,
    pub rates: Vec<u64>,
    pub batches: Vec<usize>,
    pub backlog: u64,
    pub memory_backlog: u64,
    pub memory_batch: usize,
    pub memory_deliver: Duration,
    pub large_events: usize,
    pub large_bytes: usize,
    pub poll_instances: usize,
    pub poll_messages: usize,
    pub drain_timeout: Duration,
}

impl Options {
    /// Every scenario for a second or two at tiny sizes: proves the machinery, measures
    /// nothing worth reading.
    pub fn smoke(self) -> Self {
        Self {
            duration: Duration::from_secs(1),
            warmup: Duration::from_millis(200),
            connections: 8,
            instances: 2,
            rates: vec![100],
            batches: vec![1, 20],
            backlog: 200,
            memory_backlog: 400,
            memory_batch: 1,
            memory_deliver: Duration::from_secs(1),
            large_events: 100,
            large_bytes: 32 * 1024,
            poll_instances: 4,
            poll_messages: 2,
            ..self
        }
    }
}

/// One invocation: options, results, and the functional problems met (a bad signature, a
/// lost notification). Problems fail the run; timings never do.
pub struct Bench {
    pub opts: Options,
    pub report: Report,
    pub ids: Arc<Ids>,
    pub ceiling: Ceiling,
    pub problems: Vec<String>,
}

impl Bench {
    pub fn new(opts: Options, report: Report) -> Self {
        Self {
            opts,
            report,
            ids: Arc::new(Ids::new()),
            ceiling: Ceiling::default(),
            problems: Vec::new(),
        }
    }

    pub fn problem(&mut self, problem: String) {
        eprintln!("PROBLEM: {problem}");
        self.problems.push(problem);
    }

    /// Records the sink's signature failures of a scenario as a problem.
    pub fn check_signatures(&mut self, scenario: &str, sink: &Sink) {
        let counts = sink.counts();
        if counts.bad_signatures > 0 {
            self.problem(format!(
                "{scenario}: {} of {} notifications had a bad signature; first: {}",
                counts.bad_signatures,
                counts.received,
                sink.first_bad().unwrap_or_default()
            ));
        }
    }
}

/// One polling instance's account and what the bench needs to watch it.
pub struct Polled {
    pub token: String,
    pub messages: Vec<String>,
}

/// An instance, and its account's token and messages when it is polled.
pub struct Member {
    pub instance: Instance,
    pub polled: Option<Polled>,
}

/// A hub on a fresh database with the simulator and the sink beside it.
pub struct Stage {
    pub db: Database,
    pub provider: Arc<Provider>,
    pub sink: Arc<Sink>,
    pub hub: Hub,
    pub members: Vec<Member>,
}

impl Stage {
    /// Starts everything and reports the hub's start-to-ready time on a fresh database.
    pub async fn start(bench: &mut Bench, scenario: &'static str) -> anyhow::Result<Self> {
        let db = Database::create(bench.opts.engine, &bench.opts.postgres_url).await?;
        let provider = Arc::new(Provider::start().await?);
        let sink = Arc::new(Sink::start().await?);
        let hub = Hub::start(&settings(&bench.opts, &provider), &db, None).await?;
        bench.report.add(
            Row::new(scenario, "fresh database", "start to ready", ms(hub.start_to_ready))
                .unit("ms")
                .lower_is_better()
                .target("≤ 200 ms", 200.0),
        );
        Ok(Self {
            db,
            provider,
            sink,
            hub,
            members: Vec::new(),
        })
    }

    /// Stops the hub and starts it again on the same database.
    pub async fn restart(self, bench: &Bench) -> anyhow::Result<Self> {
        let auth = self.hub.api.auth.clone();
        self.hub.stop().await?;
        let hub = Hub::start(&settings(&bench.opts, &self.provider), &self.db, Some(auth)).await?;
        Ok(Self { hub, ..self })
    }

    /// Creates `count` instances through the real flow: a simulator account each, its
    /// consent, `POST /instances`, then `PATCH` to the sink (and to polling every second,
    /// after scheduling `messages` messages, when `polling` is set).
    pub async fn add_members(&mut self, count: usize, polling: Option<usize>) -> anyhow::Result<Duration> {
        let started = Instant::now();
        let gate = Arc::new(Semaphore::new(SETUP_CONCURRENCY));
        let mut tasks = JoinSet::new();
        let first = self.members.len();
        for n in first..first + count {
            let (provider, sink, api, gate) = (
                self.provider.clone(),
                self.sink.clone(),
                self.hub.api.clone(),
                gate.clone(),
            );
            tasks.spawn(async move {
                let _permit = gate.acquire_owned().await?;
                let member = set_up(&provider, &sink, &api, n, polling).await;
                member
                    .map(|m| (n, m))
                    .with_context(|| format!("setting up instance {n}"))
            });
        }
        let mut members = Vec::with_capacity(count);
        while let Some(done) = tasks.join_next().await {
            members.push(done??);
        }
        members.sort_by_key(|(n, _)| *n);
        self.members.extend(members.into_iter().map(|(_, m)| m));
        Ok(started.elapsed())
    }

    /// Webhook POSTs of `batch` events, round-robin over the instances' webhook URLs.
    pub fn webhooks(&self, bench: &Bench, batch: usize) -> Load {
        let urls = self.members.iter().map(|m| m.instance.webhook_url.clone()).collect();
        Load::webhooks(load::client(), urls, batch, bench.ids.clone())
    }

    /// Waits until the hub has no notification left to send; false after `timeout`.
    pub async fn drain(&self, timeout: Duration) -> anyhow::Result<bool> {
        let deadline = Instant::now() + timeout;
        while Instant::now() < deadline {
            if self.hub.api.backlog().await? == 0 {
                return Ok(true);
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        Ok(false)
    }

    /// Deactivates every instance's subscription the way a customer can: its callback
    /// answers 410 Gone. What arrives afterwards is stored and parked (queued).
    pub async fn park(&self, bench: &Bench) -> anyhow::Result<()> {
        self.sink.set_gone(true);
        let one_each = self.webhooks(bench, 1);
        load::send_all(&one_each, 1, self.members.len() as u64).await?;
        let deadline = Instant::now() + Duration::from_secs(60);
        for member in &self.members {
            while self.hub.api.subscription_active(member.instance.id).await? {
                anyhow::ensure!(Instant::now() < deadline, "a 410 did not deactivate the subscription");
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
        self.sink.set_gone(false);
        Ok(())
    }

    /// Reactivates every subscription, watching the sink from the first call on: the hub
    /// starts delivering while later chunks are still being released, and those arrivals
    /// count. Waits until the sink has every released notification or `timeout` passes.
    pub async fn release_and_watch(&self, timeout: Duration) -> anyhow::Result<Drain> {
        let started = Instant::now();
        let before = self.sink.counts().received;
        let total = AtomicU64::new(u64::MAX);
        let release = async {
            let mut released = 0;
            for member in &self.members {
                match self.hub.api.reactivate(member.instance.id).await {
                    Ok(n) => released += n,
                    Err(error) => {
                        total.store(0, Ordering::SeqCst);
                        return Err(error);
                    }
                }
            }
            total.store(before + released, Ordering::SeqCst);
            Ok((released, started.elapsed()))
        };
        let watch = self.watch_sink(started, || total.load(Ordering::SeqCst), timeout);
        let (released, samples) = tokio::join!(release, watch);
        let (released, reactivating) = released?;
        Ok(Drain {
            before,
            released,
            reactivating,
            samples,
        })
    }

    /// Samples the sink's count every 10 ms until it reaches `total()` or `timeout` has
    /// passed since `since`; returns the samples, timed from `since`.
    pub async fn watch_sink(&self, since: Instant, total: impl Fn() -> u64, timeout: Duration) -> Vec<(Duration, u64)> {
        let mut samples = Vec::new();
        loop {
            let received = self.sink.counts().received;
            samples.push((since.elapsed(), received));
            if received >= total() || since.elapsed() > timeout {
                return samples;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    pub async fn finish(self) -> anyhow::Result<()> {
        self.hub.stop().await?;
        drop(self.provider);
        self.db.remove().await
    }
}

/// A reactivated backlog on its way to the sink.
pub struct Drain {
    /// The sink's count before reactivating.
    pub before: u64,
    pub released: u64,
    /// How long the reactivation calls took.
    pub reactivating: Duration,
    /// The sink's count over time, timed from the first reactivation call.
    pub samples: Vec<(Duration, u64)>,
}

impl Drain {
    /// Notifications delivered by the last sample, and when that was.
    pub fn delivered(&self) -> (u64, Duration) {
        let (at, got) = self.samples.last().copied().unwrap_or_default();
        (got.saturating_sub(self.before), at)
    }
}

async fn set_up(
    provider: &Provider,
    sink: &Sink,
    api: &Api,
    n: usize,
    polling: Option<usize>,
) -> anyhow::Result<Member> {
    let account = provider.account(n).await?;
    let code = provider.consent(&account.member).await?;
    let instance = api
        .create_instance(&code, SEED_CALLBACK, "Benchmark", &format!("Benchmark {n}"))
        .await?;
    sink.trust(instance.id, &instance.secret)?;
    let mut configuration = json!({ "event.notification.callback.url": sink.url(instance.id) });
    let polled = match polling {
        None => None,
        Some(messages) => {
            let token = provider.member_token(&account.member).await?;
            let messages = provider.schedule(&token, &account, messages).await?;
            configuration["event.vendor.type"] = json!("polling");
            configuration["event.poller.refresh_interval"] = json!(1);
            Some(Polled { token, messages })
        }
    };
    api.configure(instance.id, configuration).await?;
    Ok(Member { instance, polled })
}

fn settings(opts: &Options, provider: &Provider) -> HubSettings {
    HubSettings {
        bin: opts.hub_bin.clone(),
        sim_url: provider.base_url(),
        extra_env: opts.hub_env.clone(),
    }
}

/// The rows of an open-loop phase: the rate achieved and the latency percentiles, beside the
/// no-op server's at the same rate; `p99_target` is the bound in milliseconds.
pub fn fixed_rate_rows(
    bench: &mut Bench,
    scenario: &'static str,
    case: &str,
    sent: &FixedRate,
    latency: &Percentiles,
    ceiling: &FixedRate,
    p99_target: Option<f64>,
) {
    let mut achieved = Row::new(scenario, case, "acknowledged", sent.achieved_events_per_second())
        .unit("events/s")
        .ceiling(ceiling.achieved_events_per_second());
    if !sent.kept_up() {
        achieved = achieved.note(format!(
            "fell behind: {} of {} POSTs never sent, {} failed{}",
            sent.unsent,
            sent.scheduled,
            sent.errors,
            sent.first_error
                .as_deref()
                .map(|e| format!(" ({e})"))
                .unwrap_or_default()
        ));
    }
    bench.report.add(achieved);
    if latency.count == 0 {
        return;
    }
    for (metric, value, floor) in [
        ("p50", latency.p50, ceiling.latency.p50),
        ("p99", latency.p99, ceiling.latency.p99),
        ("p99.9", latency.p999, ceiling.latency.p999),
    ] {
        let mut row = Row::new(scenario, case, metric, value)
            .unit("ms")
            .lower_is_better()
            .ceiling(floor);
        if let (Some(bound), "p99") = (p99_target, metric) {
            row = row.target(format!("≤ {bound} ms"), bound);
        }
        if !sent.kept_up() {
            row = row.note("a lower bound: unsent POSTs are left out");
        }
        bench.report.add(row);
    }
}

pub fn ms(duration: Duration) -> f64 {
    duration.as_secs_f64() * 1000.0
}

/// The rate between the moments the count passed `from` and `to` (fractions of `total`).
pub fn rate_between(samples: &[(Duration, u64)], base: u64, total: u64, from: f64, to: f64) -> Option<f64> {
    let at = |fraction: f64| {
        let mark = base + (total as f64 * fraction) as u64;
        samples.iter().find(|(_, n)| *n >= mark).copied()
    };
    let ((t0, n0), (t1, n1)) = (at(from)?, at(to)?);
    let seconds = (t1 - t0).as_secs_f64();
    (seconds > 0.0).then(|| (n1 - n0) as f64 / seconds)
}
