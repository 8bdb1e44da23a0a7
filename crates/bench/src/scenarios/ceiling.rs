//! The ceiling: the same loads against a no-op server on the hub's stack (ingest and end to
//! end), and signed notifications from this stack's client straight into the sink
//! (delivery). Each is measured once per run, when a scenario first needs it, and reported
//! under `ceiling`; the scenarios put it beside their own figures as a ratio.

use std::{collections::HashMap, sync::Arc};

use serde_json::json;
use tributary_harness::hootsuite;

use super::Bench;
use crate::{
    load::{self, FixedRate, Load, Shot, Throughput},
    noop::NoopServer,
    procfs::Meter,
    report::Row,
    sink::{self, Sink},
};

const SCENARIO: &str = "ceiling";
/// The sink ceiling's single instance and its secret.
const SINK_INSTANCE: i64 = 1;
const SINK_SECRET: &str = "whsec_QkJCQkJCQkJCQkJCQkJCQkJCQkJCQkJCQkJCQkJCQkI=";

#[derive(Default)]
pub struct Ceiling {
    noop: Option<NoopServer>,
    saturation: HashMap<usize, Throughput>,
    fixed: HashMap<(u64, usize), FixedRate>,
    sink: Option<Throughput>,
}

/// Every ceiling the options ask for (the `ceiling` scenario).
pub async fn run(bench: &mut Bench) -> anyhow::Result<()> {
    for batch in bench.opts.batches.clone() {
        saturation(bench, batch).await?;
    }
    for rate in bench.opts.rates.clone() {
        for batch in bench.opts.batches.clone() {
            fixed_rate(bench, rate, batch).await?;
        }
    }
    sink_capacity(bench).await?;
    Ok(())
}

async fn noop(bench: &mut Bench) -> anyhow::Result<(reqwest::Url, u32)> {
    if bench.ceiling.noop.is_none() {
        bench.ceiling.noop = Some(NoopServer::start().await?);
    }
    let noop = bench.ceiling.noop.as_ref().expect("started above");
    Ok((noop.url(), noop.pid))
}

/// Webhook events per second the no-op server acknowledges at saturation.
pub async fn saturation(bench: &mut Bench, batch: usize) -> anyhow::Result<Throughput> {
    if let Some(known) = bench.ceiling.saturation.get(&batch) {
        return Ok(known.clone());
    }
    let (url, pid) = noop(bench).await?;
    let load = Load::webhooks(load::client(), vec![url], batch, bench.ids.clone());
    let meter = Meter::start(pid);
    let measured = load::saturate(&load, bench.opts.connections, bench.opts.warmup, bench.opts.duration).await;
    let case = format!("no-op, saturation, batch {batch}");
    bench.report.add(
        Row::new(SCENARIO, &case, "events/s", measured.events_per_second()).note(format!(
            "{:.0} requests/s, {} errors",
            measured.requests_per_second(),
            measured.errors
        )),
    );
    bench.report.usage(SCENARIO, &case, meter.finish(), "no-op server");
    bench.ceiling.saturation.insert(batch, measured.clone());
    Ok(measured)
}

/// Latency of the no-op server at `rate` events per second in batches of `batch`.
pub async fn fixed_rate(bench: &mut Bench, rate: u64, batch: usize) -> anyhow::Result<FixedRate> {
    if let Some(known) = bench.ceiling.fixed.get(&(rate, batch)) {
        return Ok(known.clone());
    }
    let (url, pid) = noop(bench).await?;
    let load = Load::webhooks(load::client(), vec![url], batch, bench.ids.clone());
    let meter = Meter::start(pid);
    let measured = load::open_loop(
        &load,
        rate as f64 / batch as f64,
        bench.opts.warmup,
        bench.opts.duration,
        None,
    )
    .await;
    let case = format!("no-op, {rate} events/s, batch {batch}");
    for (metric, value) in [
        ("p50", measured.latency.p50),
        ("p99", measured.latency.p99),
        ("p99.9", measured.latency.p999),
    ] {
        bench
            .report
            .add(Row::new(SCENARIO, &case, metric, value).unit("ms").lower_is_better());
    }
    bench.report.usage(SCENARIO, &case, meter.finish(), "no-op server");
    bench.ceiling.fixed.insert((rate, batch), measured.clone());
    Ok(measured)
}

/// Signed notifications per second this stack's client pushes into the sink, with as many
/// connections as the load generator uses: what delivery could reach if the hub cost nothing.
pub async fn sink_capacity(bench: &mut Bench) -> anyhow::Result<Throughput> {
    if let Some(known) = &bench.ceiling.sink {
        return Ok(known.clone());
    }
    let sink = Arc::new(Sink::start().await?);
    sink.trust(SINK_INSTANCE, SINK_SECRET)?;
    let url: reqwest::Url = sink.url(SINK_INSTANCE).parse()?;
    let load = Load {
        client: load::client(),
        make: Arc::new(move |client: &reqwest::Client, n: u64| {
            let body = notification(n);
            let id = format!("bench-{n}");
            let timestamp = chrono::Utc::now().timestamp();
            let signature = sink::sign(SINK_SECRET, &id, timestamp, body.as_bytes()).expect("the secret is Base64");
            Shot {
                request: client
                    .post(url.clone())
                    .header("content-type", "application/json")
                    .header("webhook-id", id)
                    .header("webhook-timestamp", timestamp.to_string())
                    .header("webhook-signature", signature)
                    .body(body),
                first_event: n,
            }
        }),
        per_request: 1,
    };
    let measured = load::saturate(&load, bench.opts.connections, bench.opts.warmup, bench.opts.duration).await;
    bench.report.add(
        Row::new(
            SCENARIO,
            "sink, signed notifications",
            "notifications/s",
            measured.events_per_second(),
        )
        .note(format!(
            "{} connections, {} bad signatures",
            bench.opts.connections,
            sink.counts().bad_signatures
        )),
    );
    bench.check_signatures(SCENARIO, &sink);
    bench.ceiling.sink = Some(measured.clone());
    Ok(measured)
}

/// A notification shaped and sized like the hub's for one webhook event.
fn notification(n: u64) -> String {
    let date = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
    json!({
        "id": format!("0199a0c4-{n:04x}-7000-8000-000000000000"),
        "topic": "instance-4503599627370495-hootsuite-events",
        "createdDate": date,
        "severity": "low",
        "message": {
            "elementKey": "hootsuite", "accountId": 1, "companyId": 1, "userId": 2,
            "eventId": "0199a0c4-0000-7000-8000-000000000001",
            "instanceId": 4503599627370495_i64, "instance_id": 4503599627370495_i64,
            "instanceName": "Benchmark 0", "instanceTags": ["Benchmark"],
            "raw": serde_json::from_str::<serde_json::Value>(&hootsuite::webhook_body(n..n + 1)).expect("valid JSON"),
            "events": [{
                "elementKey": "hootsuite", "hubKey": "social", "objectType": "messages",
                "objectId": n.to_string(), "eventType": "UPDATED", "date": date, "state": "SENT"
            }]
        }
    })
    .to_string()
}
