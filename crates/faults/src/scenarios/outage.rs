//! Outage: the callback receiver goes away while events stream in (its port refuses
//! connections), comes back answering 500 for as long again, then recovers. Everything
//! acknowledged must arrive and the backlog must drain, with no one stepping in.
//!
//! The hub retries on [`PATIENT_RETRIES`], longer than the outage. An outage longer than the
//! schedule deactivates the subscription, which an operator then reactivates
//! (docs/operations.md); that path is not this scenario's.

use std::time::Duration;

use reqwest::StatusCode;
use tokio::time::Instant;
use tributary_harness::api::Api;

use super::{PATIENT_RETRIES, Settings, Stage};
use crate::{
    hub::Hub,
    report::{Outcome, seconds},
    sender::{Sender, Stream},
};

pub async fn run(settings: &Settings) -> anyhow::Result<Vec<Outcome>> {
    let down_for = settings.size(Duration::from_secs(3), Duration::from_secs(15));
    let stream = Stream {
        events: settings.size(600, 6000),
        batch: 25,
        workers: 4,
        over: settings.size(Duration::from_secs(10), Duration::from_secs(50)),
    };
    let mut stage = Stage::new(settings, Duration::ZERO).await?;
    let spec = stage.spec("hub", stage.dir.path().join("data"), None, PATIENT_RETRIES)?;
    let mut hub = Hub::start(&spec).await?;
    let api = spec.api(hub.credentials().await?);
    let instance = stage.instance(&api, "outage").await?;
    let sender = Sender::start(vec![spec.webhook(&instance)], &stream);
    sender
        .wait_acknowledged(stream.events / 4, Duration::from_secs(120))
        .await?;
    stage.receiver.down().await;
    let refused_peak = peak_backlog(&api, down_for).await;
    stage.receiver.fail_with(Some(StatusCode::INTERNAL_SERVER_ERROR));
    stage.receiver.up().await?;
    let failing_peak = peak_backlog(&api, down_for).await;
    stage.receiver.fail_with(None);
    let back = Instant::now();
    let tally = sender.finish(settings.patience()).await?;
    let drain = stage
        .drain(&instance, &tally.acknowledged, std::slice::from_ref(&api))
        .await;
    let since_back = back.elapsed();
    hub.kill().await?;
    let mut outcome = stage.webhook_outcome("outage (sqlite)".into(), &instance, &tally, drain);
    outcome.notes.push(format!(
        "receiver refused connections for {}, then answered 500 for {}; backlog peaked at {} notifications",
        seconds(down_for),
        seconds(down_for),
        refused_peak.max(failing_peak)
    ));
    if drain.is_some() {
        outcome.notes.push(format!(
            "everything had arrived {} after the receiver recovered",
            seconds(since_back)
        ));
    }
    let mut outcomes = vec![outcome];
    stage.finish(&mut outcomes, None).await;
    Ok(outcomes)
}

/// Watches the hub's backlog for `period`; returns the highest it saw.
async fn peak_backlog(api: &Api, period: Duration) -> u64 {
    let until = Instant::now() + period;
    let mut peak = 0;
    while Instant::now() < until {
        if let Ok(backlog) = api.backlog().await {
            peak = peak.max(backlog);
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    peak
}
