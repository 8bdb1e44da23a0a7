//! Several nodes: three hub processes on one PostgreSQL schema. The provider spreads its
//! webhook batches over them (a failed attempt moves to the next node); a second instance is
//! polled every second. Under load, one node is killed: the one holding the poll's lease
//! when the suite catches a poll in progress, so that the survivors must wait for the lease
//! (5 s) to expire before they take the poll over.
//!
//! Checks: no acknowledged event lost; no notification in flight from two nodes at once
//! (the receiver holds each one 200 ms, so two sends of one delivery would overlap); polling
//! resumed on the survivors; each scheduled message reported once, whichever node polled.

use std::{collections::HashSet, time::Duration};

use serde_json::json;
use tokio::time::Instant;
use tributary_harness::api::{Api, Instance};

use super::{QUICK_RETRIES, Settings, Stage};
use crate::{
    api::SuiteCalls,
    database::Postgres,
    hub::Hub,
    ledger,
    receiver::Receiver,
    report::{Counts, Outcome, seconds},
    sender::{Sender, Stream},
};

const NODES: usize = 3;
/// Long enough for two nodes' sends of one notification to overlap at the receiver.
const HOLD: Duration = Duration::from_millis(200);
/// `polling.lease_secs` of the hubs.
const POLL_LEASE: Duration = Duration::from_secs(5);

pub async fn run(settings: &Settings) -> anyhow::Result<Vec<Outcome>> {
    let per_wave = settings.size(3, 10);
    let stream = Stream {
        events: settings.size(1000, 8000),
        batch: 25,
        workers: 6,
        over: settings.size(Duration::from_secs(12), Duration::from_secs(45)),
    };
    let stage = Stage::new(settings, HOLD).await?;
    let postgres = Postgres::create(&settings.postgres).await?;
    let specs = (1..=NODES)
        .map(|n| {
            let name = format!("node-{n}");
            let data = stage.dir.path().join(&name);
            stage.spec(&name, data, Some(postgres.url()), QUICK_RETRIES)
        })
        .collect::<anyhow::Result<Vec<_>>>()?;
    // Only the first node bootstraps the empty database; the others find it done.
    let mut first = Hub::start(&specs[0]).await?;
    let auth = first.credentials().await?;
    let mut nodes = vec![first];
    for spec in &specs[1..] {
        nodes.push(Hub::start(spec).await?);
    }
    let mut apis: Vec<Api> = specs.iter().map(|s| s.api(auth.clone())).collect();
    let webhooks = stage.instance(&apis[0], "webhooks").await?;
    let polled = stage.instance(&apis[0], "polling").await?;
    apis[0]
        .configure(
            polled.id,
            json!({"event.vendor.type": "polling", "event.poller.refresh_interval": 1}),
        )
        .await?;
    // The first poll only takes stock; messages scheduled after it are news.
    polled_since(&apis[0], &polled, None)
        .await?
        .ok_or_else(|| anyhow::anyhow!("the first poll did not happen within 30 s"))?;
    let token = stage.provider.organization_token().await?;
    let mut scheduled = stage.provider.schedule(&token, per_wave).await?;
    let targets = specs.iter().map(|s| s.webhook(&webhooks)).collect();
    let sender = Sender::start(targets, &stream);
    sender
        .wait_acknowledged(stream.events / 3, Duration::from_secs(120))
        .await?;
    scheduled.extend(stage.provider.schedule(&token, per_wave).await?);
    let holder = postgres
        .catch_poll_lease_holder(polled.id, Duration::from_secs(3))
        .await?;
    let (victim, held) = match holder.and_then(|pid| nodes.iter().position(|n| n.pid == pid)) {
        Some(index) => (index, true),
        None => (1, false),
    };
    let victim_node = nodes.remove(victim);
    let victim_name = victim_node.spec.name.clone();
    let acknowledged_before = sender.acknowledged_events();
    let killed_at = chrono::Utc::now();
    victim_node.kill().await?;
    apis.remove(victim);
    let takeover = polled_since(&apis[0], &polled, Some(killed_at)).await?;
    scheduled.extend(stage.provider.schedule(&token, per_wave).await?);
    let last_wave = Instant::now();
    let (streamed, reported) = tokio::join!(
        async {
            let tally = sender.finish(settings.patience()).await?;
            let drain = stage.drain(&webhooks, &tally.acknowledged, &apis).await;
            anyhow::Ok((tally, drain))
        },
        all_reported(&stage.receiver, &polled, &scheduled, last_wave),
    );
    let (tally, drain) = streamed?;
    // A message reported twice would come with a later poll: give them a few more rounds.
    tokio::time::sleep(Duration::from_secs(3)).await;
    for node in nodes {
        node.kill().await?;
    }
    let mut webhook = stage.webhook_outcome(format!("nodes: webhooks ({NODES} nodes)"), &webhooks, &tally, drain);
    webhook.notes.push(format!(
        "kill -9 {victim_name} after {acknowledged_before} events were acknowledged, {}",
        if held {
            "caught holding the poll lease"
        } else {
            "no poll caught in progress within 3 s"
        }
    ));
    let polling = polling_outcome(&stage.receiver, &polled, &scheduled, reported, takeover, held);
    let mut outcomes = vec![webhook, polling];
    stage.finish(&mut outcomes, Some(postgres)).await;
    Ok(outcomes)
}

/// Waits (30 s at most) for a poll of `instance` that started after `after` (any poll when
/// `None`); returns how long that took.
async fn polled_since(
    api: &Api,
    instance: &Instance,
    after: Option<chrono::DateTime<chrono::Utc>>,
) -> anyhow::Result<Option<Duration>> {
    let started = Instant::now();
    while started.elapsed() < Duration::from_secs(30) {
        if let Some(last) = api.last_poll(instance.id).await?
            && after.is_none_or(|after| last > after)
        {
            return Ok(Some(started.elapsed()));
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    Ok(None)
}

/// Waits (60 s at most) until every scheduled message was reported; returns how long after
/// `since` (the last messages scheduled) that was.
async fn all_reported(
    receiver: &Receiver,
    instance: &Instance,
    scheduled: &[String],
    since: Instant,
) -> Option<Duration> {
    while since.elapsed() < Duration::from_secs(60) {
        let copies = receiver.copies(instance.id);
        if scheduled.iter().all(|id| copies.contains_key(id)) {
            return Some(since.elapsed());
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    None
}

/// Each scheduled message must be reported, once, as CREATED; nothing else may be.
fn polling_outcome(
    receiver: &Receiver,
    instance: &Instance,
    scheduled: &[String],
    reported: Option<Duration>,
    takeover: Option<Duration>,
    held: bool,
) -> Outcome {
    let expected: HashSet<String> = scheduled.iter().cloned().collect();
    let verdict = ledger::reconcile(scheduled, &expected, &receiver.copies(instance.id));
    let mut violations = Vec::new();
    if !verdict.lost.is_empty() {
        violations.push(format!(
            "{} scheduled messages were never reported: {}",
            verdict.lost.len(),
            ledger::sample(&verdict.lost)
        ));
    }
    if !verdict.stored_twice.is_empty() {
        violations.push(format!(
            "{} messages were reported by two polls (two notifications): {}",
            verdict.stored_twice.len(),
            ledger::sample(&verdict.stored_twice)
        ));
    }
    if !verdict.unexpected.is_empty() {
        violations.push(format!(
            "{} objects were reported that nobody changed: {}",
            verdict.unexpected.len(),
            ledger::sample(&verdict.unexpected)
        ));
    }
    let mistyped: Vec<String> = receiver
        .notifications()
        .iter()
        .filter(|n| n.instance == instance.id)
        .flat_map(|n| n.objects.iter())
        .filter(|(_, event_type)| event_type != "CREATED")
        .map(|(object, event_type)| format!("{object}: {event_type}"))
        .collect();
    if !mistyped.is_empty() {
        violations.push(format!(
            "{} new messages were reported as something other than CREATED: {}",
            mistyped.len(),
            ledger::sample(&mistyped)
        ));
    }
    let mut notes = vec![format!(
        "{} messages scheduled in three waves: before, during and after the kill",
        scheduled.len()
    )];
    match takeover {
        Some(after) => notes.push(format!(
            "a survivor polled again {} after the kill ({}; lease {})",
            seconds(after),
            if held {
                "the killed node held the poll"
            } else {
                "the killed node held no poll"
            },
            seconds(POLL_LEASE)
        )),
        None => violations.push("no survivor polled within 30 s of the kill".to_string()),
    }
    Outcome {
        name: "nodes: polling".into(),
        counts: Counts {
            sent: scheduled.len(),
            acknowledged: None,
            delivered: verdict.delivered,
            lost: verdict.lost.len(),
            duplicates: verdict.duplicates,
            unavailable: None,
            other_errors: None,
            unreachable: None,
            drain: reported,
        },
        notes,
        violations,
    }
}
