//! Delivery: notifications per second to a fast sink from a backlog. The backlog is built
//! through the hub's own API: the sink answers 410 Gone once per instance, which deactivates
//! its subscription, so the next events are stored and parked; reactivating releases them
//! all at once, and the clock runs until the sink has every one.

use tokio::time::Instant;
use tributary_harness::api::Api;

use super::{Bench, Stage, ceiling, ms, rate_between};
use crate::{
    hub::BenchCalls,
    load::{self, Throughput},
    procfs::Meter,
    report::Row,
};

const SCENARIO: &str = "delivery";
const TARGET_PER_SECOND: f64 = 10_000.0;

pub async fn run(bench: &mut Bench) -> anyhow::Result<()> {
    let capacity = ceiling::sink_capacity(bench).await?;
    let mut stage = Stage::start(bench, SCENARIO).await?;
    stage.add_members(bench.opts.instances, None).await?;
    let events = bench.opts.backlog;
    let built = build_backlog(bench, &stage, events, 1).await?;
    bench.report.add(
        Row::new(
            SCENARIO,
            format!("building {events} parked"),
            "acknowledged",
            built.events_per_second(),
        )
        .unit("events/s")
        .note("ingest with no delivery competing for the database"),
    );
    let meter = Meter::start(stage.hub.pid);
    let drain = stage.release_and_watch(bench.opts.drain_timeout).await?;
    let usage = meter.finish();
    let released = drain.released;
    let (delivered, elapsed) = drain.delivered();
    let case = format!("backlog of {released}");
    let mut row = Row::new(
        SCENARIO,
        &case,
        "delivered",
        delivered as f64 / elapsed.as_secs_f64().max(1e-9),
    )
    .unit("notifications/s")
    .ceiling(capacity.events_per_second())
    .target("≥ 10 000/s", TARGET_PER_SECOND);
    if delivered < released {
        row = row.note(format!(
            "stopped after {:.0} s with {delivered} of {released} delivered (--drain-timeout)",
            elapsed.as_secs_f64()
        ));
    }
    bench.report.add(row.note(format!(
        "from the first reactivation to the last arrival; reactivating took {:.0} ms; {} redelivered",
        ms(drain.reactivating),
        stage.sink.counts().redelivered
    )));
    if let Some(steady) = rate_between(&drain.samples, drain.before, released, 0.1, 0.9) {
        bench.report.add(
            Row::new(SCENARIO, &case, "delivered, 10–90 %", steady)
                .unit("notifications/s")
                .ceiling(capacity.events_per_second()),
        );
    }
    bench.report.usage(SCENARIO, &case, usage, "hub");
    if delivered == 0 {
        bench.problem(format!(
            "{SCENARIO}: nothing was delivered in {} s",
            bench.opts.drain_timeout.as_secs()
        ));
    }
    bench.check_signatures(SCENARIO, &stage.sink);
    stage.finish().await
}

/// Parks every instance's subscription and stores `events` events (in POSTs of `batch`)
/// as parked notifications; returns how fast the hub acknowledged them.
pub async fn build_backlog(bench: &Bench, stage: &Stage, events: u64, batch: usize) -> anyhow::Result<Throughput> {
    stage.park(bench).await?;
    let load = stage.webhooks(bench, batch);
    let requests = events.div_ceil(batch as u64);
    let progress = tokio::spawn(report_progress(stage.hub.api.clone(), requests));
    let built = load::send_all(&load, bench.opts.connections, requests).await;
    progress.abort();
    built
}

/// Prints how far a long backlog build has come, every 30 s.
async fn report_progress(api: Api, requests: u64) {
    let started = Instant::now();
    loop {
        tokio::time::sleep(std::time::Duration::from_secs(30)).await;
        let stored = api.events_stored("queued").await.unwrap_or(0);
        println!(
            "    {:.0} s: {stored} of {requests} events parked",
            started.elapsed().as_secs_f64()
        );
    }
}
