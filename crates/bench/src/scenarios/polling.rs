//! Polling: instances polled per second against the simulator, each instance its own
//! Hootsuite account (Hootsuite limits each account to 20 requests a second) asking to be
//! polled every second, so demand is one poll per instance per second.
//!
//! The hub exposes no poll counter, so the bench reads each account's request count from the
//! simulator (`X-Account-Quota-Used`) before and after the window: with fewer messages than
//! a page holds, every poll is exactly one `GET /v1/messages`. Last, a message is edited
//! silently and the hub must notice it by polling and notify the sink.

use std::{sync::Arc, time::Duration};

use tokio::{sync::Semaphore, task::JoinSet, time::Instant};

use super::{Bench, Stage, ms};
use crate::{
    load::{self, Load, Shot},
    procfs::Meter,
    provider::Provider,
    report::Row,
};

const SCENARIO: &str = "polling";
/// The default poller's page size; more messages than this would take two requests a poll.
const PAGE_SIZE: usize = 100;

pub async fn run(bench: &mut Bench) -> anyhow::Result<()> {
    anyhow::ensure!(
        bench.opts.poll_messages < PAGE_SIZE,
        "--poll-messages must stay under a page ({PAGE_SIZE}) so that a poll is one request"
    );
    let mut stage = Stage::start(bench, SCENARIO).await?;
    let count = bench.opts.poll_instances;
    let took = stage.add_members(count, Some(bench.opts.poll_messages)).await?;
    bench.report.add(
        Row::new(SCENARIO, format!("{count} instances"), "set up in", took.as_secs_f64())
            .unit("s")
            .lower_is_better()
            .note(format!("{} messages each", bench.opts.poll_messages)),
    );
    let tokens: Vec<String> = stage
        .members
        .iter()
        .filter_map(|m| m.polled.as_ref().map(|p| p.token.clone()))
        .collect();
    let at_setup = requests_used(&stage.provider, &tokens).await?;
    tokio::time::sleep(bench.opts.warmup.max(Duration::from_secs(2))).await;
    let before = requests_used(&stage.provider, &tokens).await?;
    let meter = Meter::start(stage.hub.pid);
    let started = Instant::now();
    tokio::time::sleep(bench.opts.duration).await;
    let after = requests_used(&stage.provider, &tokens).await?;
    let seconds = started.elapsed().as_secs_f64();
    let usage = meter.finish();
    // Measured after the hub's window: the closed loop uses up the accounts' rate limits,
    // which would make the hub's polls fail and back off.
    let ceiling = provider_capacity(bench, &stage.provider, &tokens).await;
    // Each reading is itself one request of the account: subtract the later one.
    let polls: u64 = after.iter().zip(&before).map(|(a, b)| a - b - 1).sum();
    let polled = after.iter().zip(&at_setup).filter(|(a, s)| **a > **s + 2).count();
    let case = format!("{count} instances, every 1 s");
    bench.report.add(
        Row::new(SCENARIO, &case, "polled", polls as f64 / seconds)
            .unit("instances/s")
            .ceiling(ceiling)
            .note(format!(
                "demand {count}/s; {polled} of {count} instances polled at least once; \
                 ceiling: GET /v1/messages/s the simulator answers this client"
            )),
    );
    bench.report.usage(SCENARIO, &case, usage, "hub");
    notices_an_edit(bench, &stage).await?;
    bench.check_signatures(SCENARIO, &stage.sink);
    stage.finish().await
}

/// Edits a message silently and waits for the hub's polling to notify the sink of it.
async fn notices_an_edit(bench: &mut Bench, stage: &Stage) -> anyhow::Result<()> {
    let Some(message) = stage
        .members
        .first()
        .and_then(|m| m.polled.as_ref())
        .and_then(|p| p.messages.first())
    else {
        return Ok(());
    };
    let before = stage.sink.counts().received;
    let started = Instant::now();
    stage.provider.edit(message, "edited by the benchmark").await?;
    let samples = stage.watch_sink(started, || before + 1, bench.opts.drain_timeout).await;
    if samples.last().is_some_and(|(_, n)| *n > before) {
        bench.report.add(
            Row::new(SCENARIO, "a silent edit", "notified after", ms(started.elapsed()))
                .unit("ms")
                .lower_is_better()
                .note("polling interval 1 s"),
        );
    } else {
        bench.problem(format!(
            "{SCENARIO}: an edited message was not notified within {} s",
            bench.opts.drain_timeout.as_secs()
        ));
    }
    Ok(())
}

/// Each account's request count, read concurrently.
async fn requests_used(provider: &Arc<Provider>, tokens: &[String]) -> anyhow::Result<Vec<u64>> {
    let gate = Arc::new(Semaphore::new(16));
    let mut tasks = JoinSet::new();
    for (n, token) in tokens.iter().enumerate() {
        let (provider, token, gate) = (provider.clone(), token.clone(), gate.clone());
        tasks.spawn(async move {
            let _permit = gate.acquire_owned().await?;
            provider.requests_used(&token).await.map(|used| (n, used))
        });
    }
    let mut used = vec![0; tokens.len()];
    while let Some(done) = tasks.join_next().await {
        let (n, count) = done??;
        used[n] = count;
    }
    Ok(used)
}

/// `GET /v1/messages` per second the simulator answers a closed loop over every account's
/// token: the most polls per second this machine could serve if polling cost the hub nothing.
async fn provider_capacity(bench: &mut Bench, provider: &Arc<Provider>, tokens: &[String]) -> f64 {
    let tokens: Arc<[String]> = tokens.into();
    let sim = provider.clone();
    let load = Load {
        client: load::client(),
        make: Arc::new(move |client: &reqwest::Client, n: u64| Shot {
            request: sim.list_messages(client, &tokens[(n % tokens.len() as u64) as usize]),
            first_event: n,
        }),
        per_request: 1,
    };
    let measured = load::saturate(&load, bench.opts.connections, bench.opts.warmup, bench.opts.duration).await;
    bench.report.add(
        Row::new(
            "ceiling",
            "simulator, GET /v1/messages",
            "answered",
            measured.requests_per_second(),
        )
        .unit("requests/s")
        .note(format!("{} errors", measured.errors)),
    );
    measured.requests_per_second()
}
