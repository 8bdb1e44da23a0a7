//! End to end: from the moment a provider's POST was scheduled to the moment the sink has the
//! signed notification, at fixed rates, one event per POST. Only events the hub acknowledged
//! count; each must reach the sink (at least once) or the run reports a problem.

use std::{sync::Arc, time::Duration};

use tokio::time::Instant;

use super::{Bench, Stage, ceiling, fixed_rate_rows};
use crate::{
    load::{self, Ledger},
    procfs::Meter,
    report::Row,
};

const SCENARIO: &str = "e2e";
/// The target: p99 at most 20 ms at 1 000 events/s.
const TARGET_RATE: u64 = 1000;
const TARGET_P99_MS: f64 = 20.0;

pub async fn run(bench: &mut Bench) -> anyhow::Result<()> {
    let mut stage = Stage::start(bench, SCENARIO).await?;
    stage.add_members(bench.opts.instances, None).await?;
    for rate in bench.opts.rates.clone() {
        let ceiling = ceiling::fixed_rate(bench, rate, 1).await?;
        let ledger = Arc::new(Ledger::default());
        stage.sink.set_ledger(Some(ledger.clone()));
        let load = stage.webhooks(bench, 1);
        let meter = Meter::start(stage.hub.pid);
        let sent = load::open_loop(
            &load,
            rate as f64,
            bench.opts.warmup,
            bench.opts.duration,
            Some(ledger.clone()),
        )
        .await;
        let deadline = Instant::now() + bench.opts.drain_timeout;
        while ledger.outstanding() > 0 && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let usage = meter.finish();
        stage.sink.set_ledger(None);
        let measured = ledger.end_to_end();
        let case = format!("{rate} events/s");
        let target = (rate == TARGET_RATE).then_some(TARGET_P99_MS);
        fixed_rate_rows(bench, SCENARIO, &case, &sent, &measured.latency, &ceiling, target);
        bench.report.add(
            Row::new(SCENARIO, &case, "events matched", measured.latency.count as f64).note(format!(
                "{} duplicates; ceiling is one hop to the no-op server",
                measured.duplicates
            )),
        );
        bench.report.usage(SCENARIO, &case, usage, "hub");
        if measured.missing > 0 {
            bench.problem(format!(
                "{SCENARIO}: {} acknowledged events at {rate}/s never reached the sink within {} s",
                measured.missing,
                bench.opts.drain_timeout.as_secs()
            ));
        }
        stage.drain(bench.opts.drain_timeout).await?;
    }
    bench.check_signatures(SCENARIO, &stage.sink);
    stage.finish().await
}
