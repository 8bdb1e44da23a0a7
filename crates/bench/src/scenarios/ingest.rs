//! Ingest: webhook events acknowledged (a 200 means durably stored) per second at
//! saturation, and latency at fixed rates, with batches of 1 and of 20 events per POST.
//! Notifications flow to the sink meanwhile, as they would in production; the backlog is
//! drained between phases so each phase starts from the same state.

use super::{Bench, Stage, ceiling, fixed_rate_rows};
use crate::{load, procfs::Meter, report::Row};

const SCENARIO: &str = "ingest";

pub async fn run(bench: &mut Bench) -> anyhow::Result<()> {
    let mut stage = Stage::start(bench, SCENARIO).await?;
    stage.add_members(bench.opts.instances, None).await?;
    let (warmup, duration) = (bench.opts.warmup, bench.opts.duration);
    for rate in bench.opts.rates.clone() {
        for batch in bench.opts.batches.clone() {
            let ceiling = ceiling::fixed_rate(bench, rate, batch).await?;
            let load = stage.webhooks(bench, batch);
            let meter = Meter::start(stage.hub.pid);
            let measured = load::open_loop(&load, rate as f64 / batch as f64, warmup, duration, None).await;
            let case = format!("{rate} events/s, batch {batch}");
            fixed_rate_rows(bench, SCENARIO, &case, &measured, &measured.latency, &ceiling, None);
            bench.report.usage(SCENARIO, &case, meter.finish(), "hub");
            drain(bench, &stage, &case).await?;
        }
    }
    for batch in bench.opts.batches.clone() {
        let ceiling = ceiling::saturation(bench, batch).await?;
        let load = stage.webhooks(bench, batch);
        let meter = Meter::start(stage.hub.pid);
        let measured = load::saturate(&load, bench.opts.connections, warmup, duration).await;
        let case = format!("saturation, batch {batch}");
        let mut row = Row::new(SCENARIO, &case, "acknowledged", measured.events_per_second())
            .unit("events/s")
            .ceiling(ceiling.events_per_second())
            .ratio_target("≥ 0.5 × ceiling", 0.5)
            .note(format!(
                "{:.0} requests/s over {} connections",
                measured.requests_per_second(),
                bench.opts.connections
            ));
        if measured.errors > 0 {
            row = row.note(format!(
                "{} errors ({})",
                measured.errors,
                measured.first_error.as_deref().unwrap_or_default()
            ));
        }
        bench.report.add(row);
        bench.report.usage(SCENARIO, &case, meter.finish(), "hub");
        drain(bench, &stage, &case).await?;
    }
    bench.check_signatures(SCENARIO, &stage.sink);
    stage.finish().await
}

/// Lets the hub deliver what the phase left, so the next phase starts level.
async fn drain(bench: &mut Bench, stage: &Stage, case: &str) -> anyhow::Result<()> {
    let started = tokio::time::Instant::now();
    if stage.drain(bench.opts.drain_timeout).await? {
        println!(
            "    drained the delivery backlog in {:.1} s",
            started.elapsed().as_secs_f64()
        );
    } else {
        bench.problem(format!(
            "{SCENARIO}: after {case}, notifications were still waiting after {} s",
            bench.opts.drain_timeout.as_secs()
        ));
    }
    Ok(())
}
