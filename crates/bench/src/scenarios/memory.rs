//! Memory and start-up with a large backlog: the hub stores a backlog of parked events (by
//! default 1 000 000, one per POST, so one notification each), is restarted on it (time to
//! ready), and then delivers from it for a while. Peak RSS is reported for each phase; the
//! issue's bound applies to the highest.

use super::{Bench, Stage, delivery::build_backlog, ms};
use crate::{
    procfs::{self, Meter},
    report::Row,
};

const SCENARIO: &str = "memory";
const TARGET_RSS_MIB: f64 = 150.0;
const TARGET_READY_MS: f64 = 200.0;

pub async fn run(bench: &mut Bench) -> anyhow::Result<()> {
    let mut stage = Stage::start(bench, SCENARIO).await?;
    stage.add_members(bench.opts.instances, None).await?;
    let (events, batch) = (bench.opts.memory_backlog, bench.opts.memory_batch);
    let backlog = format!("backlog of {events} (batch {batch})");
    let meter = Meter::start(stage.hub.pid);
    let built = build_backlog(bench, &stage, events, batch).await?;
    let building = meter.finish();
    bench.report.add(
        Row::new(
            SCENARIO,
            format!("building {backlog}"),
            "acknowledged",
            built.events_per_second(),
        )
        .unit("events/s")
        .note(format!("{:.0} s in all", built.seconds)),
    );
    let mut peak = building.server_peak_rss_mib;
    bench
        .report
        .usage(SCENARIO, &format!("building {backlog}"), building, "hub");

    stage = stage.restart(bench).await?;
    let ready = stage.hub.start_to_ready;
    bench.report.add(
        Row::new(SCENARIO, format!("restart on {backlog}"), "start to ready", ms(ready))
            .unit("ms")
            .lower_is_better()
            .target("≤ 200 ms", TARGET_READY_MS),
    );
    // The restarted process's peak so far (loading, migrating, opening the backlog).
    let at_ready = procfs::memory_kib(stage.hub.pid).map_or(0.0, |(peak, _)| peak as f64 / 1024.0);
    bench.report.add(
        Row::new(SCENARIO, format!("restart on {backlog}"), "peak RSS at ready", at_ready)
            .unit("MiB")
            .lower_is_better(),
    );
    peak = peak.max(at_ready);

    let meter = Meter::start(stage.hub.pid);
    let drain = stage.release_and_watch(bench.opts.memory_deliver).await?;
    let delivering = meter.finish();
    let (delivered, elapsed) = drain.delivered();
    let case = format!("delivering from {backlog}");
    bench.report.add(
        Row::new(
            SCENARIO,
            &case,
            "delivered",
            delivered as f64 / elapsed.as_secs_f64().max(1e-9),
        )
        .unit("notifications/s")
        .note(format!(
            "over {:.0} s, reactivating {} took {:.0} ms",
            elapsed.as_secs_f64(),
            drain.released,
            ms(drain.reactivating)
        )),
    );
    peak = peak.max(delivering.server_peak_rss_mib);
    bench.report.usage(SCENARIO, &case, delivering, "hub");
    bench.report.add(
        Row::new(SCENARIO, &backlog, "peak RSS (hub)", peak)
            .unit("MiB")
            .lower_is_better()
            .target("≤ 150 MiB", TARGET_RSS_MIB)
            .note("the highest of building, restarting and delivering"),
    );
    bench.check_signatures(SCENARIO, &stage.sink);
    stage.finish().await
}
