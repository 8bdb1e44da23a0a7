//! Crash: `kill -9` the hub while the provider streams webhook events, and start it again on
//! the same port and database at once. The provider re-sends whatever was not acknowledged.
//! Every acknowledged event must arrive at least once; a second copy must be the same
//! notification (same `webhook-id`) that the killed hub had sent but not yet recorded.
//!
//! The receiver holds each notification 20 ms, so that kills land with deliveries in flight.

use std::time::Duration;

use tokio::time::Instant;

use super::{Engine, QUICK_RETRIES, Settings, Stage};
use crate::{
    database::Postgres,
    hub::Hub,
    report::{Outcome, seconds},
    sender::{Sender, Stream},
};

/// SQLite always; PostgreSQL too in the full form.
pub async fn run(settings: &Settings) -> anyhow::Result<Vec<Outcome>> {
    let mut outcomes = crash(settings, Engine::Sqlite).await?;
    if !settings.short {
        outcomes.extend(crash(settings, Engine::Postgres).await?);
    }
    Ok(outcomes)
}

async fn crash(settings: &Settings, engine: Engine) -> anyhow::Result<Vec<Outcome>> {
    let kills = settings.size(1, 3);
    let stream = Stream {
        events: settings.size(1000, 10_000),
        batch: 25,
        workers: 4,
        over: settings.size(Duration::from_secs(8), Duration::from_secs(40)),
    };
    let stage = Stage::new(settings, Duration::from_millis(20)).await?;
    let postgres = match engine {
        Engine::Sqlite => None,
        Engine::Postgres => Some(Postgres::create(&settings.postgres).await?),
    };
    let spec = stage.spec(
        "hub",
        stage.dir.path().join("data"),
        postgres.as_ref().map(Postgres::url),
        QUICK_RETRIES,
    )?;
    let mut hub = Hub::start(&spec).await?;
    let api = spec.api(hub.credentials().await?);
    let instance = stage.instance(&api, "crash").await?;
    let sender = Sender::start(vec![spec.webhook(&instance)], &stream);
    let mut back_after = Vec::new();
    for kill in 1..=kills {
        sender
            .wait_acknowledged(stream.events * kill / (kills + 1), Duration::from_secs(120))
            .await?;
        hub.kill().await?;
        let killed = Instant::now();
        // Long enough for the provider to meet a closed port and re-send.
        tokio::time::sleep(Duration::from_millis(500)).await;
        hub = Hub::start(&spec).await?;
        back_after.push(seconds(killed.elapsed()));
    }
    let tally = sender.finish(settings.patience()).await?;
    let drain = stage
        .drain(&instance, &tally.acknowledged, std::slice::from_ref(&api))
        .await;
    hub.kill().await?;
    let mut outcome = stage.webhook_outcome(format!("crash ({engine})"), &instance, &tally, drain);
    outcome.notes.push(format!(
        "{kills} × kill -9 mid-stream, serving again after {} (0.5 s down, then start to ready)",
        back_after.join(", ")
    ));
    let mut outcomes = vec![outcome];
    stage.finish(&mut outcomes, postgres).await;
    Ok(outcomes)
}
