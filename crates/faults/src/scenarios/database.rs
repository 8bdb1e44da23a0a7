//! Database faults while events stream in:
//!
//! - **PostgreSQL restarted** (`pg_ctlcluster … restart`): the hub must reconnect by itself
//!   and lose nothing; while the server is away it may hold requests until it is back, or
//!   answer 503 so the provider re-sends, but nothing else.
//! - **SQLite's disk full** (a tmpfs filled to the last block) and **SQLite's filesystem
//!   read-only** (an ext4 image the kernel remounts read-only on an error): the hub must
//!   answer 503, never 200 for what it could not store; once space is back, or the
//!   filesystem is repaired and the hub restarted, everything acknowledged must arrive.

use std::time::Duration;

use tokio::time::Instant;
use tributary_harness::{
    api::{Api, Instance},
    hub::tail,
};

use super::{PATIENT_RETRIES, QUICK_RETRIES, Settings, Stage};
use crate::{
    database::{self, Postgres},
    hub::{Hub, HubSpec},
    mounts::Mount,
    report::{Outcome, seconds},
    sender::{self, Answer, Attempt, Sender, Stream, Tally},
};

/// Size of the filesystems the SQLite hubs run on: room for the full stream.
const FILESYSTEM_MB: u32 = 128;

/// Small batches, so that many requests meet the fault.
fn stream(settings: &Settings) -> Stream {
    Stream {
        events: settings.size(1000, 6000),
        batch: 5,
        workers: 4,
        over: settings.size(Duration::from_secs(10), Duration::from_secs(40)),
    }
}

/// A hub with an instance, streaming.
struct Streaming {
    hub: Hub,
    api: Api,
    instance: Instance,
    sender: Sender,
}

async fn start_streaming(stage: &Stage<'_>, spec: &HubSpec, stream: &Stream) -> anyhow::Result<Streaming> {
    let mut hub = Hub::start(spec).await?;
    let api = spec.api(hub.credentials().await?);
    let instance = stage.instance(&api, "database").await?;
    let sender = Sender::start(vec![spec.webhook(&instance)], stream);
    Ok(Streaming {
        hub,
        api,
        instance,
        sender,
    })
}

pub async fn postgres(settings: &Settings) -> anyhow::Result<Vec<Outcome>> {
    database::ensure_alone(&settings.postgres).await?;
    let restarts = settings.size(1, 2);
    let stream = stream(settings);
    let stage = Stage::new(settings, Duration::from_millis(20)).await?;
    let postgres = Postgres::create(&settings.postgres).await?;
    let spec = stage.spec(
        "hub",
        stage.dir.path().join("data"),
        Some(postgres.url()),
        QUICK_RETRIES,
    )?;
    let Streaming {
        mut hub,
        api,
        instance,
        sender,
    } = start_streaming(&stage, &spec, &stream).await?;
    let mut restarted = Vec::new();
    for restart in 1..=restarts {
        sender
            .wait_acknowledged(stream.events * restart / (restarts + 1), Duration::from_secs(120))
            .await?;
        let from = Instant::now();
        let took = database::restart_server().await?;
        restarted.push((from, Instant::now(), took));
    }
    let tally = sender.finish(settings.patience()).await?;
    let drain = stage
        .drain(&instance, &tally.acknowledged, std::slice::from_ref(&api))
        .await;
    let survived = hub.running();
    hub.kill().await?;
    let mut outcome = stage.webhook_outcome("database: postgres restart".into(), &instance, &tally, drain);
    for (from, to, took) in &restarted {
        outcome.notes.push(format!(
            "PostgreSQL restart took {}; meanwhile the hub answered {}; first 2xx {} after the server was back",
            seconds(*took),
            sender::describe(&tally.attempts, *from, *to),
            first_ack_after(&tally.attempts, *to).map_or("never".into(), seconds),
        ));
    }
    if !survived {
        outcome.violations.push(format!(
            "the hub exited when PostgreSQL restarted:\n{}",
            tail(&spec.log)
        ));
    }
    // A pool may also wait out a short restart and answer 200 late: that is fine, as long as
    // it is stored, which the delivery check proves.
    let windows: Vec<(Instant, Instant)> = restarted.iter().map(|(from, to, _)| (*from, *to)).collect();
    check_answers(&mut outcome, &tally, &windows, false);
    let mut outcomes = vec![outcome];
    stage.finish(&mut outcomes, Some(postgres)).await;
    Ok(outcomes)
}

pub async fn sqlite(settings: &Settings) -> anyhow::Result<Vec<Outcome>> {
    let mut outcomes = disk_full(settings).await?;
    outcomes.extend(read_only(settings).await?);
    Ok(outcomes)
}

async fn disk_full(settings: &Settings) -> anyhow::Result<Vec<Outcome>> {
    let full_for = settings.size(Duration::from_secs(3), Duration::from_secs(10));
    let stream = stream(settings);
    let stage = Stage::new(settings, Duration::from_millis(20)).await?;
    let mount = Mount::tmpfs(&stage.dir.path().join("tmpfs"), FILESYSTEM_MB)?;
    let spec = stage.spec("hub", mount.path().to_owned(), None, QUICK_RETRIES)?;
    let Streaming {
        hub,
        api,
        instance,
        sender,
    } = start_streaming(&stage, &spec, &stream).await?;
    sender
        .wait_acknowledged(stream.events / 3, Duration::from_secs(120))
        .await?;
    let filled = mount.fill()?;
    let from = Instant::now();
    // The hub may go on storing in pages SQLite already holds; the fault counts once the
    // hub refuses something, or after 20 s more of trying.
    while from.elapsed() < full_for
        || (!refused_since(&sender.attempts(), from) && from.elapsed() < full_for + Duration::from_secs(20))
    {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    mount.empty()?;
    let to = Instant::now();
    let tally = sender.finish(settings.patience()).await?;
    let drain = stage
        .drain(&instance, &tally.acknowledged, std::slice::from_ref(&api))
        .await;
    hub.kill().await?;
    let mut outcome = stage.webhook_outcome("database: sqlite disk full".into(), &instance, &tally, drain);
    outcome.notes.push(format!(
        "tmpfs of {FILESYSTEM_MB} MB full ({} MB of filler) for {}: the hub answered {}",
        filled >> 20,
        seconds(to - from),
        sender::describe(&tally.attempts, from, to),
    ));
    check_answers(&mut outcome, &tally, &[(from, to)], true);
    let mut outcomes = vec![outcome];
    drop(mount);
    stage.finish(&mut outcomes, None).await;
    Ok(outcomes)
}

async fn read_only(settings: &Settings) -> anyhow::Result<Vec<Outcome>> {
    let broken_for = settings.size(Duration::from_secs(3), Duration::from_secs(10));
    let stream = stream(settings);
    let mut stage = Stage::new(settings, Duration::from_millis(20)).await?;
    let mut mount = Mount::ext4(
        &stage.dir.path().join("ext4"),
        &stage.dir.path().join("ext4.img"),
        FILESYSTEM_MB,
    )?;
    // The receiver stays away across the fault, longer than the quick schedule lasts.
    let spec = stage.spec("hub", mount.path().to_owned(), None, PATIENT_RETRIES)?;
    let Streaming {
        mut hub,
        api,
        instance,
        sender,
    } = start_streaming(&stage, &spec, &stream).await?;
    sender
        .wait_acknowledged(stream.events / 3, Duration::from_secs(120))
        .await?;
    // With the receiver away, what the hub acknowledges from now on exists only in its
    // database when the filesystem breaks; delivered at once, a loss would go unseen.
    stage.receiver.down().await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    mount.break_filesystem()?;
    let from = Instant::now();
    let delivered = stage.receiver.copies(instance.id);
    let waiting = sender
        .acknowledged()
        .iter()
        .filter(|seq| !delivered.contains_key(*seq))
        .count();
    tokio::time::sleep(broken_for).await;
    let to = Instant::now();
    let survived = hub.running();
    // The filesystem stays read-only until it is unmounted and checked, which needs the
    // hub's files closed: stop it, repair, start it again.
    hub.kill().await?;
    mount.repair()?;
    let hub = Hub::start(&spec).await?;
    let back = Instant::now();
    stage.receiver.up().await?;
    let tally = sender.finish(settings.patience()).await?;
    let drain = stage
        .drain(&instance, &tally.acknowledged, std::slice::from_ref(&api))
        .await;
    hub.kill().await?;
    let mut outcome = stage.webhook_outcome("database: sqlite read-only".into(), &instance, &tally, drain);
    outcome.notes.push(format!(
        "ext4 remounted read-only by the kernel for {} with {waiting} acknowledged events not yet delivered \
         (the receiver was away): the hub answered {} and {}; then killed, e2fsck, mounted, restarted: \
         serving again {} after the fault",
        seconds(to - from),
        sender::describe(&tally.attempts, from, to),
        if survived { "kept running" } else { "had exited" },
        seconds(back - from),
    ));
    check_answers(&mut outcome, &tally, &[(from, to)], true);
    let mut outcomes = vec![outcome];
    drop(mount);
    stage.finish(&mut outcomes, None).await;
    Ok(outcomes)
}

/// While the database could not write, the hub must say so with 503 ("send again"): any
/// other error breaks the receiver's contract. With `exercised`, a fault the hub never
/// refused anything during never reached it, so nothing was tested.
fn check_answers(outcome: &mut Outcome, tally: &Tally, windows: &[(Instant, Instant)], exercised: bool) {
    let during: Vec<&Attempt> = tally
        .attempts
        .iter()
        .filter(|a| windows.iter().any(|(from, to)| a.at >= *from && a.at <= *to))
        .collect();
    let mut others = std::collections::BTreeMap::<u16, usize>::new();
    for attempt in &during {
        if let Answer::Status(status) = attempt.answer
            && status != 503
            && !(200..300).contains(&status)
        {
            *others.entry(status).or_default() += 1;
        }
    }
    if !others.is_empty() {
        let statuses: Vec<String> = others.iter().map(|(s, n)| format!("{n} × {s}")).collect();
        outcome.violations.push(format!(
            "answered other errors than 503 while the database could not write: {}",
            statuses.join(", ")
        ));
    }
    if exercised && !during.iter().any(|a| !a.acknowledged()) {
        outcome.violations.push(format!(
            "not exercised: the hub refused nothing while the database could not write ({})",
            windows
                .iter()
                .map(|(from, to)| sender::describe(&tally.attempts, *from, *to))
                .collect::<Vec<_>>()
                .join("; ")
        ));
    }
}

/// Whether the hub refused (or failed to answer) a request since `from`.
fn refused_since(attempts: &[Attempt], from: Instant) -> bool {
    attempts.iter().any(|a| a.at >= from && !a.acknowledged())
}

/// How long after `instant` the hub first acknowledged a POST.
fn first_ack_after(attempts: &[Attempt], instant: Instant) -> Option<Duration> {
    attempts
        .iter()
        .filter(|a| a.at >= instant && a.acknowledged())
        .map(|a| a.at - instant)
        .min()
}
