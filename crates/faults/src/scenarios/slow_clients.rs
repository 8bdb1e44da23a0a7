//! Slow clients at the receiver: hundreds of connections that never finish a request, more
//! of them sending bodies than `events.max_in_flight` (256) allows webhooks at once, while
//! the provider streams another instance's webhooks. Some trickle a body a byte a second to
//! an instance id the hub does not have, some to an instance's own webhook URL, some trickle
//! their headers; each one the hub cuts comes back a second later, as a persistent attacker
//! would. The hub runs on its defaults (`http.*`, `events.max_in_flight`).
//!
//! Checks: every POST of the provider acknowledged within [`ACKNOWLEDGED_WITHIN`], at its
//! first attempt; and what every scenario checks (nothing lost, nothing stored twice).

use std::{
    collections::BTreeMap,
    net::SocketAddr,
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
    },
    time::Duration,
};

use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::TcpStream,
    task::JoinSet,
    time::Instant,
};

use super::{QUICK_RETRIES, Settings, Stage};
use crate::{
    hub::Hub,
    report::{Outcome, seconds},
    sender::{Sender, Stream},
};

/// What the provider's webhooks must get, attack or not.
const ACKNOWLEDGED_WITHIN: Duration = Duration::from_secs(1);
/// The body every slow client announces: `events.max_body_bytes`, so that none is refused
/// for its size.
const ANNOUNCED: usize = 1024 * 1024;
/// How often a slow client sends its next byte, and how long it waits to come back.
const PACE: Duration = Duration::from_secs(1);

/// How one kind of slow client behaves.
#[derive(Debug, Clone, Copy)]
enum Slowness {
    /// Headers complete, the body a byte at a time, to an id the hub does not have.
    BodyToUnknownId,
    /// Headers complete, the body a byte at a time, to an instance's own webhook URL.
    BodyToInstance,
    /// The headers a byte at a time, never ending.
    Headers,
}

/// What the slow clients met.
#[derive(Debug, Default)]
struct Cuts {
    connections: u64,
    /// Answers by status.
    answered: BTreeMap<u16, u64>,
    /// Closed by the hub without an answer.
    closed: u64,
    /// Still held when the attack stopped.
    held: u64,
}

impl Cuts {
    fn add(&mut self, other: Cuts) {
        self.connections += other.connections;
        for (status, count) in other.answered {
            *self.answered.entry(status).or_default() += count;
        }
        self.closed += other.closed;
        self.held += other.held;
    }
}

pub async fn run(settings: &Settings) -> anyhow::Result<Vec<Outcome>> {
    let per_kind = settings.size(150, 300);
    let header_clients = settings.size(50, 100);
    let attack_for = settings.size(Duration::from_secs(15), Duration::from_secs(45));
    let stream = Stream {
        events: settings.size(500, 1500),
        batch: 25,
        workers: 2,
        over: attack_for,
    };
    let stage = Stage::new(settings, Duration::ZERO).await?;
    let spec = stage.spec("hub", stage.dir.path().join("data"), None, QUICK_RETRIES)?;
    let mut hub = Hub::start(&spec).await?;
    let api = spec.api(hub.credentials().await?);
    let attacked = stage.instance(&api, "attacked").await?;
    let instance = stage.instance(&api, "slow-clients").await?;

    let addr = SocketAddr::from(([127, 0, 0, 1], spec.port));
    let stop = Arc::new(AtomicBool::new(false));
    let mut clients = JoinSet::new();
    let kinds = [
        (Slowness::BodyToUnknownId, per_kind),
        (Slowness::BodyToInstance, per_kind),
        (Slowness::Headers, header_clients),
    ];
    for (slowness, count) in kinds {
        let path = match slowness {
            Slowness::BodyToUnknownId => "/elements/api-v2/events/hootsuite/AAAA",
            Slowness::BodyToInstance | Slowness::Headers => attacked.webhook_url.path(),
        };
        for _ in 0..count {
            clients.spawn(slow_client(addr, slowness, path.to_string(), stop.clone()));
        }
    }
    // Every slow client connected and sent its first bytes before the stream starts.
    tokio::time::sleep(2 * PACE).await;
    let started = Instant::now();
    let sender = Sender::start(vec![spec.webhook(&instance)], &stream);
    let tally = sender.finish(settings.patience()).await?;
    let attacked_for = started.elapsed() + 2 * PACE;
    stop.store(true, Ordering::Relaxed);
    let mut cuts = Cuts::default();
    while let Some(joined) = clients.join_next().await {
        cuts.add(joined?);
    }
    let drain = stage
        .drain(&instance, &tally.acknowledged, std::slice::from_ref(&api))
        .await;
    hub.kill().await?;

    let mut outcome = stage.webhook_outcome("slow clients (sqlite)".into(), &instance, &tally, drain);
    let late: Vec<String> = tally
        .attempts
        .iter()
        .filter(|a| !a.acknowledged() || a.took > ACKNOWLEDGED_WITHIN)
        .map(|a| format!("{:?} after {}", a.answer, seconds(a.took)))
        .collect();
    if !late.is_empty() {
        outcome.violations.push(format!(
            "{} of the provider's {} POSTs were not acknowledged within {}: {}",
            late.len(),
            tally.attempts.len(),
            seconds(ACKNOWLEDGED_WITHIN),
            crate::ledger::sample(&late)
        ));
    }
    let worst = tally.attempts.iter().map(|a| a.took).max().unwrap_or_default();
    let answered: Vec<String> = cuts
        .answered
        .iter()
        .map(|(status, count)| format!("{count} × {status}"))
        .collect();
    outcome.notes.push(format!(
        "{} slow clients for {} ({per_kind} trickling a body to an unknown id, {per_kind} to an instance's URL, \
         {header_clients} trickling headers; each back {} after it was cut): {} connections; the hub answered {}, \
         closed {} without an answer, {} still held at the end",
        2 * per_kind + header_clients,
        seconds(attacked_for),
        seconds(PACE),
        cuts.connections,
        if answered.is_empty() {
            "nothing".to_string()
        } else {
            answered.join(", ")
        },
        cuts.closed,
        cuts.held,
    ));
    outcome.notes.push(format!(
        "worst acknowledgement of the provider's {} POSTs meanwhile: {:.3} s (allowed: {})",
        tally.attempts.len(),
        worst.as_secs_f64(),
        seconds(ACKNOWLEDGED_WITHIN)
    ));
    let mut outcomes = vec![outcome];
    stage.finish(&mut outcomes, None).await;
    Ok(outcomes)
}

/// One slow client: connects, sends its headers (or their start) and then a byte every
/// [`PACE`] until the hub answers or closes the connection; comes back [`PACE`] later, until
/// `stop`.
async fn slow_client(addr: SocketAddr, slowness: Slowness, path: String, stop: Arc<AtomicBool>) -> Cuts {
    let (head, byte) = match slowness {
        Slowness::BodyToUnknownId | Slowness::BodyToInstance => (
            format!(
                "POST {path} HTTP/1.1\r\nHost: hub\r\nContent-Type: application/json\r\nContent-Length: {ANNOUNCED}\r\n\r\n"
            ),
            b' ',
        ),
        Slowness::Headers => (format!("POST {path} HTTP/1.1\r\nHost: hub\r\nX-Slow: "), b'x'),
    };
    let mut cuts = Cuts::default();
    while !stop.load(Ordering::Relaxed) {
        if let Ok(mut connection) = TcpStream::connect(addr).await {
            cuts.connections += 1;
            match hold(&mut connection, head.as_bytes(), byte, &stop).await {
                None => {
                    cuts.held += 1;
                    break;
                }
                Some(answer) => match status(&answer) {
                    Some(status) => *cuts.answered.entry(status).or_default() += 1,
                    None => cuts.closed += 1,
                },
            }
        }
        tokio::time::sleep(PACE).await;
    }
    cuts
}

/// Sends `head`, then `byte` every [`PACE`], until the hub closes the connection: returns
/// what it sent before closing it, or `None` if `stop` came first.
async fn hold(connection: &mut TcpStream, head: &[u8], byte: u8, stop: &AtomicBool) -> Option<Vec<u8>> {
    let mut got = Vec::new();
    let mut buffer = [0; 1024];
    // A write the hub refused shows as the end of the connection on the read side.
    let _ = connection.write_all(head).await;
    // The first byte a beat after the head: one already on its way when the hub answers
    // would make it reset the connection, and the client might lose the answer.
    let mut pace = tokio::time::interval_at(Instant::now() + PACE, PACE);
    loop {
        tokio::select! {
            read = connection.read(&mut buffer) => match read {
                Ok(0) | Err(_) => return Some(got),
                Ok(n) => got.extend_from_slice(&buffer[..n]),
            },
            _ = pace.tick() => {
                if stop.load(Ordering::Relaxed) {
                    return None;
                }
                let _ = connection.write_all(&[byte]).await;
            }
        }
    }
}

/// The status of an HTTP/1.1 answer.
fn status(answer: &[u8]) -> Option<u16> {
    std::str::from_utf8(answer.get(9..12)?).ok()?.parse().ok()
}
