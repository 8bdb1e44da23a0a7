//! Large webhooks: the hub ingests maximum-size webhooks (by default the body limit, 1 MiB,
//! carrying the event limit, 5 000 events): one into the idle hub, then back to back for the
//! run's duration, one at a time and then two at once, while another instance sends
//! one-event webhooks at a steady pace. Reported: the hub's peak RSS above its idle RSS
//! (issue 16's bound, under 100 MiB, is for the one webhook), each large webhook's request
//! latency, and the small webhooks' latency meanwhile. Every notification must reach the sink.

use std::time::Duration;

use tokio::{task::JoinSet, time::Instant};
use tributary_harness::hootsuite;

use super::{Bench, Stage};
use crate::{
    load::{self, Percentiles},
    procfs::{self, Meter},
    report::Row,
};

const SCENARIO: &str = "large";
const TARGET_RSS_ABOVE_IDLE_MIB: f64 = 100.0;
/// One-event webhooks per second from the other instance, beside the back-to-back phases.
const SMALL_RATE: f64 = 20.0;
/// The phases: how many large webhooks go at once, and whether they go back to back for the
/// run's duration (beside one-event webhooks) or once each.
const PHASES: [(usize, bool); 3] = [(1, false), (1, true), (2, true)];

pub async fn run(bench: &mut Bench) -> anyhow::Result<()> {
    let mut stage = Stage::start(bench, SCENARIO).await?;
    stage.add_members(2, None).await?;
    let (events, bytes) = (bench.opts.large_events, bench.opts.large_bytes);
    let per_webhook = events.div_ceil(20) as u64;
    // Both paths warm (a connection each, the instances cached), then the hub settles.
    load::send_all(&stage.webhooks(bench, 1), 1, 2).await?;
    stage.drain(bench.opts.drain_timeout).await?;
    tokio::time::sleep(Duration::from_secs(1)).await;
    let idle = procfs::memory_kib(stage.hub.pid).map_or(0.0, |(_, rss)| rss as f64 / 1024.0);
    let size = hootsuite::webhook_body_of_size(0..events as u64, bytes).len();
    bench.report.add(
        Row::new(SCENARIO, "idle, before the large webhooks", "RSS (hub)", idle)
            .unit("MiB")
            .lower_is_better(),
    );
    for (concurrency, back_to_back) in PHASES {
        let case = if back_to_back {
            format!(
                "back to back for {:.0} s, {concurrency} at a time",
                bench.opts.duration.as_secs_f64()
            )
        } else {
            format!("one webhook of {events} events, {:.0} KiB", size as f64 / 1024.0)
        };
        let before = stage.sink.counts().received;
        let small = stage.members[1].instance.webhook_url.clone();
        let small = load::Load::webhooks(load::client(), vec![small], 1, bench.ids.clone());
        let length = if back_to_back {
            bench.opts.duration
        } else {
            Duration::ZERO
        };
        let beside = async {
            if back_to_back {
                Some(load::open_loop(&small, SMALL_RATE, Duration::ZERO, length, None).await)
            } else {
                None
            }
        };
        let end = Instant::now() + length;
        let meter = Meter::start(stage.hub.pid);
        let (large, beside) = tokio::join!(send_large(bench, &stage, concurrency, end), beside);
        let usage = meter.finish();
        let (latencies, sent) = large?;
        let slowest = latencies.iter().max().map_or(0.0, |&us| us as f64 / 1000.0);
        let latency = Percentiles::of(latencies);
        let above_idle = usage.server_peak_rss_mib - idle;
        let mut rss = Row::new(SCENARIO, &case, "peak RSS above idle (hub)", above_idle)
            .unit("MiB")
            .lower_is_better()
            .note(format!("peak {:.0} MiB", usage.server_peak_rss_mib));
        if !back_to_back {
            rss = rss.target("< 100 MiB", TARGET_RSS_ABOVE_IDLE_MIB);
        }
        bench.report.add(rss);
        for (metric, value) in [("request p50", latency.p50), ("request max", slowest)] {
            bench.report.add(
                Row::new(SCENARIO, &case, metric, value)
                    .unit("ms")
                    .lower_is_better()
                    .note(format!("{sent} large webhooks")),
            );
        }
        let mut small_ok = 0;
        if let Some(beside) = beside {
            for (metric, value) in [
                ("one-event webhook p50, meanwhile", beside.latency.p50),
                ("one-event webhook p99, meanwhile", beside.latency.p99),
            ] {
                bench.report.add(
                    Row::new(SCENARIO, &case, metric, value)
                        .unit("ms")
                        .lower_is_better()
                        .note(format!("{SMALL_RATE}/s from another instance")),
                );
            }
            if !beside.kept_up() {
                bench.problem(format!(
                    "{SCENARIO}: {case}: {} of the one-event webhooks failed or were never sent ({})",
                    beside.errors + beside.unsent,
                    beside.first_error.as_deref().unwrap_or("unsent")
                ));
            }
            small_ok = beside.ok;
        }
        bench.report.usage(SCENARIO, &case, usage, "hub");
        let expected = before + sent * per_webhook + small_ok;
        let drained = stage.drain(bench.opts.drain_timeout).await?;
        let received = stage.sink.counts().received;
        if !drained || received < expected {
            bench.problem(format!(
                "{SCENARIO}: {case}: the sink had {} of {} notifications after {} s",
                received - before,
                expected - before,
                bench.opts.drain_timeout.as_secs()
            ));
        }
    }
    bench.check_signatures(SCENARIO, &stage.sink);
    stage.finish().await
}

/// Sends large webhooks to the first instance, `concurrency` at a time, each as soon as the
/// last on its connection was answered, until `end` (at least one each); returns each one's
/// latency in microseconds, and how many were acknowledged.
async fn send_large(bench: &Bench, stage: &Stage, concurrency: usize, end: Instant) -> anyhow::Result<(Vec<u64>, u64)> {
    let url = stage.members[0].instance.webhook_url.clone();
    let (events, bytes) = (bench.opts.large_events, bench.opts.large_bytes);
    let mut senders = JoinSet::new();
    for _ in 0..concurrency {
        let (url, ids, client) = (url.clone(), bench.ids.clone(), load::client());
        senders.spawn(async move {
            let mut latencies = Vec::new();
            loop {
                let first = ids.take(events);
                let body = hootsuite::webhook_body_of_size(first..first + events as u64, bytes);
                let started = Instant::now();
                let response = client
                    .post(url.clone())
                    .header("content-type", "application/json")
                    .body(body)
                    .send()
                    .await?;
                let status = response.status();
                let answer = response.text().await?;
                anyhow::ensure!(status.is_success(), "a large webhook got {status}: {answer}");
                latencies.push(started.elapsed().as_micros() as u64);
                if Instant::now() >= end {
                    return Ok(latencies);
                }
            }
        });
    }
    let mut all = Vec::new();
    while let Some(done) = senders.join_next().await {
        all.extend(done??);
    }
    let sent = all.len() as u64;
    Ok((all, sent))
}
