//! Slow callback: one instance's callback server becomes a black hole (it reads each
//! notification and never answers, so every request to it waits out the hub's timeout) while
//! a backlog for it builds and other instances' events keep flowing. The same traffic runs
//! twice, on fresh instances: first with every callback answering, which gives the others'
//! normal latency, then with the busy instance's callback silent. The others must stay on
//! time: their notifications' p99, from the provider's POST to the receiver, at most twice
//! the normal one (or that plus [`FLOOR`]). Once the black hole answers again, everything
//! acknowledged for it must arrive.
//!
//! The busy instance's callback names the receiver as `localhost`, the others' as
//! `127.0.0.1`: two origins, so the hub treats them as two callback servers, as it would two
//! hosts. The hub retries on [`PATIENT_RETRIES`], so the breaker's cool-downs (1, 2, 4, then
//! 8 s) run out during no part of the scenario.

use std::{collections::HashSet, time::Duration};

use tokio::time::Instant;
use tributary_harness::api::{Api, Instance};

use super::{PATIENT_RETRIES, Settings, Stage};
use crate::{
    hub::{Hub, HubSpec},
    report::{Outcome, seconds},
    sender::{Sender, Stream, Tally},
};

/// Other instances, each on its own stream.
const OTHERS: usize = 3;
/// Events per second to each other instance.
const OTHERS_RATE: u64 = 10;
/// Added to twice the normal p99 when that is tiny: on loopback a notification takes a few
/// milliseconds, and a scheduler hiccup of the shared 2-core machine (the hub, this suite and
/// its receiver, the simulator) moves a p99 of a few hundred samples by tens of them. A
/// notification held up behind the black hole waits for the hub's request timeout (2 s
/// here), forty times this.
const FLOOR: Duration = Duration::from_millis(50);

pub async fn run(settings: &Settings) -> anyhow::Result<Vec<Outcome>> {
    let stage = Stage::new(settings, Duration::ZERO).await?;
    let spec = stage.spec("hub", stage.dir.path().join("data"), None, PATIENT_RETRIES)?;
    let mut hub = Hub::start(&spec).await?;
    let api = spec.api(hub.credentials().await?);
    // The same traffic twice: once with every callback answering (the others' normal
    // latency), once with the busy instance's callback silent.
    let answering = phase(&stage, &spec, &api, "answering", false).await?;
    let silent = phase(&stage, &spec, &api, "silent", true).await?;
    let hole_backlog = api.backlog().await?;

    // The black hole answers again: everything acknowledged for it arrives.
    stage.receiver.silence(silent.busy.id, false);
    let back = Instant::now();
    let hole_drain = stage
        .drain(
            &silent.busy,
            &silent.busy_tally.acknowledged,
            std::slice::from_ref(&api),
        )
        .await;
    let since_back = back.elapsed();
    let mut parts = vec![drained(&stage, &api, &answering.busy, &answering.busy_tally).await];
    for (instance, tally) in answering.others.iter().zip(&answering.tallies) {
        parts.push(drained(&stage, &api, instance, tally).await);
    }
    let all_answering = Outcome::combine("slow callback: all answering".into(), parts);
    let mut parts = Vec::new();
    for (instance, tally) in silent.others.iter().zip(&silent.tallies) {
        parts.push(drained(&stage, &api, instance, tally).await);
    }
    let mut others = Outcome::combine("slow callback: others beside it".into(), parts);
    hub.kill().await?;

    let (normal, loaded) = (&answering.latencies, &silent.latencies);
    let bound = (normal.p99 * 2).max(normal.p99 + FLOOR);
    others.notes.push(format!(
        "{OTHERS} instances at {OTHERS_RATE} events/s each for {}, beside {} events to a busy instance; from POST \
         to notification, while its callback answered: {normal}; while it was silent: {loaded} (p99 bound {})",
        seconds(window(stage.settings)),
        silent.busy_tally.sent.len(),
        millis(bound)
    ));
    if loaded.p99 > bound {
        others.violations.push(format!(
            "the other instances' p99 rose from {} to {} while one callback did not answer (bound {})",
            millis(normal.p99),
            millis(loaded.p99),
            millis(bound)
        ));
    }
    let mut hole = stage.webhook_outcome(
        "slow callback: black hole".into(),
        &silent.busy,
        &silent.busy_tally,
        hole_drain,
    );
    hole.notes.push(format!(
        "its callback answered nothing for {}; {hole_backlog} notifications were waiting when it answered again",
        seconds(window(stage.settings))
    ));
    if hole_drain.is_some() {
        hole.notes.push(format!(
            "everything had arrived {} after it answered again",
            seconds(since_back)
        ));
    }
    let mut outcomes = vec![all_answering, others, hole];
    stage.finish(&mut outcomes, None).await;
    Ok(outcomes)
}

/// The outcome of one instance's stream, once it drained.
async fn drained(stage: &Stage<'_>, api: &Api, instance: &Instance, tally: &Tally) -> Outcome {
    let drain = stage
        .drain(instance, &tally.acknowledged, std::slice::from_ref(api))
        .await;
    stage.webhook_outcome(String::new(), instance, tally, drain)
}

/// How long each phase's streams last.
fn window(settings: &Settings) -> Duration {
    settings.size(Duration::from_secs(8), Duration::from_secs(30))
}

/// One phase's instances and what was sent to them.
struct Phase {
    /// Its callback reaches the receiver as `localhost`, another origin than the others'.
    busy: Instance,
    busy_tally: Tally,
    others: Vec<Instance>,
    tallies: Vec<Tally>,
    /// The others', from POST to notification.
    latencies: Latencies,
}

/// A backlog for a busy instance (its callback `silent` or not) and, at the same time,
/// [`OTHERS`] instances' streams.
async fn phase(stage: &Stage<'_>, spec: &HubSpec, api: &Api, name: &str, silent: bool) -> anyhow::Result<Phase> {
    let window = window(stage.settings);
    let busy_url = stage.receiver.url().replace("127.0.0.1", "localhost");
    let busy = instances(stage, api, &format!("{name}-busy"), 1, &busy_url)
        .await?
        .remove(0);
    stage.receiver.silence(busy.id, silent);
    let others = instances(stage, api, &format!("{name}-other"), OTHERS, &stage.receiver.url()).await?;
    let backlog = Stream {
        events: stage.settings.size(400, 1500),
        batch: 1,
        workers: 8,
        over: window,
    };
    let busy_sender = Sender::start(vec![spec.webhook(&busy)], &backlog);
    let tallies = stream(spec, &others, window).await?;
    let latencies = latencies(stage, &others, &tallies).await;
    let busy_tally = busy_sender.finish(stage.settings.patience()).await?;
    Ok(Phase {
        busy,
        busy_tally,
        others,
        tallies,
        latencies,
    })
}

/// `count` instances named `name-<n>` whose notifications go to `callback`.
async fn instances(
    stage: &Stage<'_>,
    api: &Api,
    name: &str,
    count: usize,
    callback: &str,
) -> anyhow::Result<Vec<Instance>> {
    let mut made = Vec::with_capacity(count);
    for n in 0..count {
        let code = stage.provider.consent().await?;
        let instance = api
            .create_instance(&code, callback, "Faults", &format!("{name}-{n}"))
            .await?;
        stage.receiver.trust(instance.id, &instance.secret)?;
        made.push(instance);
    }
    Ok(made)
}

/// One event at a time to each instance, `OTHERS_RATE` a second for `window`.
async fn stream(spec: &HubSpec, instances: &[Instance], window: Duration) -> anyhow::Result<Vec<Tally>> {
    let stream = Stream {
        events: usize::try_from(OTHERS_RATE * window.as_secs()).unwrap_or(usize::MAX),
        batch: 1,
        workers: 2,
        over: window,
    };
    let senders: Vec<Sender> = instances
        .iter()
        .map(|instance| Sender::start(vec![spec.webhook(instance)], &stream))
        .collect();
    let mut tallies = Vec::with_capacity(senders.len());
    for sender in senders {
        tallies.push(sender.finish(window * 4).await?);
    }
    Ok(tallies)
}

/// Percentiles of a set of latencies.
struct Latencies {
    p50: Duration,
    p99: Duration,
    max: Duration,
}

impl std::fmt::Display for Latencies {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "p50 {}, p99 {}, max {}",
            millis(self.p50),
            millis(self.p99),
            millis(self.max)
        )
    }
}

/// Over every acknowledged event of `instances`, the time from its first POST to its first
/// notification, once all arrived (or the suite's patience ran out: what never came is
/// lost, and the outcome says so).
async fn latencies(stage: &Stage<'_>, instances: &[Instance], tallies: &[Tally]) -> Latencies {
    let started = Instant::now();
    let all_arrived = || {
        instances.iter().zip(tallies).all(|(instance, tally)| {
            let copies = stage.receiver.copies(instance.id);
            tally.acknowledged.iter().all(|seq| copies.contains_key(seq))
        })
    };
    while !all_arrived() && started.elapsed() < stage.settings.patience() {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let mut latencies: Vec<Duration> = Vec::new();
    for (instance, tally) in instances.iter().zip(tallies) {
        let arrivals = stage.receiver.first_arrivals(instance.id);
        let acknowledged: &HashSet<String> = &tally.acknowledged;
        latencies.extend(acknowledged.iter().filter_map(|seq| {
            let arrived = arrivals.get(seq)?;
            Some(arrived.saturating_duration_since(*tally.sent_at.get(seq)?))
        }));
    }
    latencies.sort();
    let percentile = |p: usize| {
        latencies
            .get((latencies.len() * p).div_ceil(100).saturating_sub(1))
            .copied()
            .unwrap_or_default()
    };
    Latencies {
        p50: percentile(50),
        p99: percentile(99),
        max: latencies.last().copied().unwrap_or_default(),
    }
}

fn millis(duration: Duration) -> String {
    format!("{:.1} ms", duration.as_secs_f64() * 1000.0)
}
