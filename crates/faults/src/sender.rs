//! A provider that behaves like Hootsuite: it POSTs JSON arrays of message events to the
//! instance's webhook URL and re-sends a batch, with the same sequence numbers, until it gets
//! a 2xx. A refused connection, a reset, a timeout and any other status all mean "not
//! acknowledged". It records every attempt, so a scenario can tell which events the hub
//! acknowledged and what it answered while a fault lasted.
//!
//! With several hub nodes, batches are spread over them and a failed attempt moves to the
//! next node, as a load balancer in front of them would.

use std::{
    collections::{HashMap, HashSet},
    ops::Range,
    sync::{
        Arc, Mutex,
        atomic::{AtomicBool, AtomicUsize, Ordering},
    },
    time::Duration,
};

use anyhow::{Context, bail};
use tokio::{task::JoinSet, time::Instant};
use tributary_harness::hootsuite;

/// Hootsuite's receiver timeout (hootsuite.md §3.2).
const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);
/// Hootsuite waits 10 s and more before re-sending; the suite re-sends sooner so that a
/// fault of a few seconds is crossed by many attempts.
const RESEND_AFTER: Duration = Duration::from_millis(200);

/// What to send.
#[derive(Debug, Clone)]
pub struct Stream {
    /// Events in all, numbered from 1: the number is the event's sequence number and its
    /// message id.
    pub events: usize,
    /// Events per POST. Above 20 (the hub's events per notification) one POST becomes
    /// several notifications.
    pub batch: usize,
    /// POSTs in flight at once.
    pub workers: usize,
    /// The batches' first attempts are spread evenly over this long, so that a fault lands
    /// in the middle of the stream.
    pub over: Duration,
}

/// What one attempt got back.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Answer {
    Status(u16),
    /// No HTTP answer: connection refused or reset, timeout.
    Unreachable,
}

#[derive(Debug, Clone, Copy)]
pub struct Attempt {
    pub at: Instant,
    /// From sending to the answer (or to giving up on one).
    pub took: Duration,
    pub batch: usize,
    pub answer: Answer,
}

impl Attempt {
    pub fn acknowledged(&self) -> bool {
        matches!(self.answer, Answer::Status(s) if (200..300).contains(&s))
    }
}

struct Shared {
    http: reqwest::Client,
    targets: Vec<String>,
    batches: Vec<Batch>,
    next_batch: AtomicUsize,
    acknowledged_events: AtomicUsize,
    attempts: Mutex<Vec<Attempt>>,
    started: Instant,
    pace: Duration,
    stop: AtomicBool,
}

struct Batch {
    seq_nos: Vec<String>,
    body: String,
}

/// A stream in progress.
pub struct Sender {
    shared: Arc<Shared>,
    workers: JoinSet<()>,
}

/// Everything a finished (or stopped) stream did.
pub struct Tally {
    /// Every sequence number, in the order sent.
    pub sent: Vec<String>,
    pub acknowledged: HashSet<String>,
    pub attempts: Vec<Attempt>,
    /// When each event was first sent (its batch's first attempt began).
    pub sent_at: HashMap<String, Instant>,
}

impl Sender {
    /// Starts sending to `targets` (the instance's webhook URL on each node).
    pub fn start(targets: Vec<String>, stream: &Stream) -> Self {
        let events = stream.events as u64;
        let batches: Vec<Batch> = (1..=events)
            .step_by(stream.batch)
            .map(|first| batch(first..(first + stream.batch as u64).min(events + 1)))
            .collect();
        let pace = stream.over.checked_div(batches.len() as u32).unwrap_or_default();
        let shared = Arc::new(Shared {
            http: reqwest::Client::builder()
                .timeout(REQUEST_TIMEOUT)
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .expect("an HTTP client"),
            targets,
            batches,
            next_batch: AtomicUsize::new(0),
            acknowledged_events: AtomicUsize::new(0),
            attempts: Mutex::default(),
            started: Instant::now(),
            pace,
            stop: AtomicBool::new(false),
        });
        let mut workers = JoinSet::new();
        for _ in 0..stream.workers.max(1) {
            workers.spawn(work(shared.clone()));
        }
        Self { shared, workers }
    }

    pub fn acknowledged_events(&self) -> usize {
        self.shared.acknowledged_events.load(Ordering::Relaxed)
    }

    /// Waits until at least `events` were acknowledged.
    pub async fn wait_acknowledged(&self, events: usize, timeout: Duration) -> anyhow::Result<()> {
        let deadline = Instant::now() + timeout;
        while self.acknowledged_events() < events {
            if Instant::now() > deadline {
                bail!(
                    "only {} of {events} events were acknowledged after {} s",
                    self.acknowledged_events(),
                    timeout.as_secs()
                );
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        Ok(())
    }

    /// Every attempt so far.
    pub fn attempts(&self) -> Vec<Attempt> {
        self.shared.attempts.lock().expect("attempts").clone()
    }

    /// Waits for every batch to be acknowledged, for at most `timeout`; then stops
    /// re-sending and tells what happened.
    pub async fn finish(mut self, timeout: Duration) -> anyhow::Result<Tally> {
        let done = tokio::time::timeout(timeout, async {
            while let Some(joined) = self.workers.join_next().await {
                joined.context("a sender worker")?;
            }
            anyhow::Ok(())
        })
        .await;
        if done.is_err() {
            self.shared.stop.store(true, Ordering::Relaxed);
            while self.workers.join_next().await.is_some() {}
        }
        done.unwrap_or(Ok(()))?;
        let attempts = self.attempts();
        let mut sent_at = HashMap::new();
        for attempt in &attempts {
            for seq in &self.shared.batches[attempt.batch].seq_nos {
                sent_at
                    .entry(seq.clone())
                    .and_modify(|at: &mut Instant| *at = (*at).min(attempt.at))
                    .or_insert(attempt.at);
            }
        }
        Ok(Tally {
            sent: self
                .shared
                .batches
                .iter()
                .flat_map(|b| b.seq_nos.iter().cloned())
                .collect(),
            acknowledged: self.acknowledged(),
            attempts,
            sent_at,
        })
    }

    /// The sequence numbers acknowledged so far.
    pub fn acknowledged(&self) -> HashSet<String> {
        self.attempts()
            .iter()
            .filter(|a| a.acknowledged())
            .flat_map(|a| self.shared.batches[a.batch].seq_nos.iter().cloned())
            .collect()
    }
}

async fn work(shared: Arc<Shared>) {
    loop {
        let index = shared.next_batch.fetch_add(1, Ordering::Relaxed);
        let Some(batch) = shared.batches.get(index) else {
            return;
        };
        tokio::time::sleep_until(shared.started + shared.pace * index as u32).await;
        for attempt in 0.. {
            if shared.stop.load(Ordering::Relaxed) {
                break;
            }
            let target = &shared.targets[(index + attempt) % shared.targets.len()];
            let at = Instant::now();
            let answer = match shared
                .http
                .post(target)
                .header("content-type", "application/json")
                .body(batch.body.clone())
                .send()
                .await
            {
                Ok(response) => Answer::Status(response.status().as_u16()),
                Err(_) => Answer::Unreachable,
            };
            let attempt = Attempt {
                at,
                took: at.elapsed(),
                batch: index,
                answer,
            };
            shared.attempts.lock().expect("attempts").push(attempt);
            if attempt.acknowledged() {
                shared
                    .acknowledged_events
                    .fetch_add(batch.seq_nos.len(), Ordering::Relaxed);
                break;
            }
            tokio::time::sleep(RESEND_AFTER).await;
        }
    }
}

/// One POST body of the events numbered `events`.
fn batch(events: Range<u64>) -> Batch {
    Batch {
        seq_nos: events.clone().map(|n| n.to_string()).collect(),
        body: hootsuite::webhook_body(events),
    }
}

/// Counts of what the hub answered: (503s, other non-2xx statuses, no answer).
pub fn answer_counts<'a>(attempts: impl IntoIterator<Item = &'a Attempt>) -> (u64, u64, u64) {
    attempts
        .into_iter()
        .fold((0, 0, 0), |(unavailable, other, unreachable), a| match a.answer {
            Answer::Status(503) => (unavailable + 1, other, unreachable),
            Answer::Status(s) if !(200..300).contains(&s) => (unavailable, other + 1, unreachable),
            Answer::Status(_) => (unavailable, other, unreachable),
            Answer::Unreachable => (unavailable, other, unreachable + 1),
        })
}

/// What the hub answered to attempts made between `from` and `to`: `"41 × 503, 3 × 200,
/// 2 unanswered"`, the most frequent first.
pub fn describe(attempts: &[Attempt], from: Instant, to: Instant) -> String {
    let mut counts: Vec<(u64, String)> = Vec::new();
    for attempt in attempts.iter().filter(|a| a.at >= from && a.at <= to) {
        let label = match attempt.answer {
            Answer::Status(status) => format!("{status}"),
            Answer::Unreachable => "unanswered".to_string(),
        };
        match counts.iter_mut().find(|(_, l)| *l == label) {
            Some((count, _)) => *count += 1,
            None => counts.push((1, label)),
        }
    }
    if counts.is_empty() {
        return "no requests".to_string();
    }
    counts.sort_by(|a, b| b.cmp(a));
    counts
        .iter()
        .map(|(count, label)| match label.as_str() {
            "unanswered" => format!("{count} unanswered"),
            status => format!("{count} × {status}"),
        })
        .collect::<Vec<_>>()
        .join(", ")
}
