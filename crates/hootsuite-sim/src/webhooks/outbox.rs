//! Per-URL event queues: sequence numbers, batching, retries with identical batches, and
//! disabling after repeated failures. Pure bookkeeping; `dispatcher` does the sending.
//!
//! Batching reading of hootsuite.md §3.2 ("at most once every 5 seconds, or when more than 100
//! events are pending"): a batch leaves `interval` after its oldest event was queued (and no
//! sooner than `interval` after the previous POST), or at once when more than `max` events are
//! pending; one POST carries at most `max` events.

use std::collections::{BTreeMap, VecDeque};
use std::time::Duration;

use serde_json::{Value, json};
use tokio::time::Instant;

use super::Event;

#[derive(Debug, Clone)]
pub struct Policy {
    pub interval: Duration,
    pub max: usize,
    pub backoff: Vec<Duration>,
    pub disable_after: u32,
}

impl Policy {
    fn retry_delay(&self, attempts: u32) -> Duration {
        let index = usize::try_from(attempts.saturating_sub(1)).unwrap_or(usize::MAX);
        self.backoff
            .get(index)
            .or(self.backoff.last())
            .copied()
            .unwrap_or_default()
    }
}

/// A batch handed to the dispatcher: always the same bytes for every attempt.
#[derive(Debug, Clone)]
pub struct Dispatch {
    pub url: String,
    pub attempt: u32,
    pub seq_nos: Vec<u64>,
    pub body: Vec<u8>,
    pub events: Value,
}

#[derive(Debug)]
struct Batch {
    seq_nos: Vec<u64>,
    body: Vec<u8>,
    events: Value,
    attempts: u32,
}

#[derive(Debug)]
struct Destination {
    next_seq: u64,
    queue: VecDeque<(Event, Instant)>,
    /// The batch being sent or waiting to be retried; it leaves only on success.
    batch: Option<Batch>,
    in_flight: bool,
    consecutive_failures: u32,
    disabled: bool,
    last_post: Option<Instant>,
    retry_at: Option<Instant>,
    flushing: bool,
}

impl Destination {
    fn new(first_seq: u64) -> Self {
        Self {
            next_seq: first_seq,
            queue: VecDeque::new(),
            batch: None,
            in_flight: false,
            consecutive_failures: 0,
            disabled: false,
            last_post: None,
            retry_at: None,
            flushing: false,
        }
    }

    fn has_work(&self) -> bool {
        self.batch.is_some() || !self.queue.is_empty()
    }

    /// When this destination should next send, if it has anything to send.
    fn due_at(&self, now: Instant, policy: &Policy) -> Option<Instant> {
        if self.in_flight || self.disabled {
            return None;
        }
        if self.batch.is_some() {
            return Some(if self.flushing {
                now
            } else {
                self.retry_at.unwrap_or(now)
            });
        }
        let &(_, oldest) = self.queue.front()?;
        if self.flushing || self.queue.len() > policy.max {
            return Some(now);
        }
        Some(oldest.max(self.last_post.unwrap_or(oldest)) + policy.interval)
    }

    fn start_attempt(&mut self, url: &str, max: usize) -> Dispatch {
        let batch = self.batch.get_or_insert_with(|| {
            let take = self.queue.len().min(max);
            let events: Vec<Event> = self.queue.drain(..take).map(|(e, _)| e).collect();
            Batch {
                seq_nos: events.iter().filter_map(|e| e.seq_no.as_ref()?.parse().ok()).collect(),
                body: serde_json::to_vec(&events).expect("events serialize"),
                events: serde_json::to_value(&events).expect("events serialize"),
                attempts: 0,
            }
        });
        batch.attempts += 1;
        self.in_flight = true;
        Dispatch {
            url: url.to_owned(),
            attempt: batch.attempts,
            seq_nos: batch.seq_nos.clone(),
            body: batch.body.clone(),
            events: batch.events.clone(),
        }
    }
}

#[derive(Debug, Default)]
pub struct Outbox {
    destinations: BTreeMap<String, Destination>,
    schedule_changed: bool,
}

impl Outbox {
    /// Queues an event for `url`, numbering it. A URL seen for the first time starts at
    /// `first_seq` (epoch milliseconds, like the `seq_no`s seen in the wild).
    pub fn enqueue(&mut self, url: &str, kind: &'static str, data: Value, first_seq: u64, at: Instant) {
        let dest = self
            .destinations
            .entry(url.to_owned())
            .or_insert_with(|| Destination::new(first_seq));
        let seq = dest.next_seq;
        dest.next_seq += 1;
        dest.queue.push_back((
            Event {
                seq_no: Some(seq.to_string()),
                kind,
                data,
            },
            at,
        ));
        self.schedule_changed = true;
    }

    /// Whether anything happened since the last call that the dispatcher should look at.
    pub fn take_schedule_changed(&mut self) -> bool {
        std::mem::take(&mut self.schedule_changed)
    }

    /// Batches that should be sent now, and when to look again.
    pub fn take_due(&mut self, now: Instant, policy: &Policy) -> (Vec<Dispatch>, Option<Instant>) {
        let mut due = Vec::new();
        let mut wake: Option<Instant> = None;
        for (url, dest) in &mut self.destinations {
            match dest.due_at(now, policy) {
                Some(at) if at <= now => due.push(dest.start_attempt(url, policy.max)),
                Some(at) => wake = Some(wake.map_or(at, |w| w.min(at))),
                None => {}
            }
        }
        (due, wake)
    }

    /// The outcome of an attempt started by `take_due`.
    pub fn record(&mut self, url: &str, success: bool, now: Instant, policy: &Policy) {
        let Some(dest) = self.destinations.get_mut(url) else {
            return;
        };
        dest.in_flight = false;
        dest.last_post = Some(now);
        if success {
            dest.batch = None;
            dest.consecutive_failures = 0;
            dest.retry_at = None;
            dest.flushing &= !dest.queue.is_empty();
        } else {
            dest.consecutive_failures += 1;
            dest.flushing = false;
            let attempts = dest.batch.as_ref().map_or(1, |b| b.attempts);
            dest.retry_at = Some(now + policy.retry_delay(attempts));
            dest.disabled = dest.consecutive_failures >= policy.disable_after;
        }
        self.schedule_changed = true;
    }

    /// Marks every enabled URL with pending events to send now; returns those URLs.
    pub fn request_flush(&mut self) -> Vec<String> {
        let mut urls = Vec::new();
        for (url, dest) in &mut self.destinations {
            if !dest.disabled && dest.has_work() {
                dest.flushing = true;
                urls.push(url.clone());
            }
        }
        self.schedule_changed |= !urls.is_empty();
        urls
    }

    /// Whether any of `urls` is still working through a flush.
    pub fn is_flushing(&self, urls: &[String]) -> bool {
        urls.iter()
            .filter_map(|url| self.destinations.get(url))
            .any(|dest| dest.flushing && !dest.disabled)
    }

    /// A successful ping re-enables a disabled URL; its held batch goes out right away.
    pub fn re_enable(&mut self, url: &str, now: Instant) -> bool {
        let Some(dest) = self.destinations.get_mut(url).filter(|d| d.disabled) else {
            return false;
        };
        dest.disabled = false;
        dest.consecutive_failures = 0;
        dest.retry_at = Some(now);
        self.schedule_changed = true;
        true
    }

    pub fn status_json(&self) -> Value {
        self.destinations
            .iter()
            .map(|(url, dest)| {
                json!({
                    "url": url,
                    "disabled": dest.disabled,
                    "consecutiveFailures": dest.consecutive_failures,
                    "pending": dest.queue.len() + dest.batch.as_ref().map_or(0, |b| b.seq_nos.len()),
                    "nextSeqNo": dest.next_seq,
                })
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const URL: &str = "http://receiver/hook";

    fn policy() -> Policy {
        Policy {
            interval: Duration::from_secs(5),
            max: 3,
            backoff: vec![Duration::from_secs(10), Duration::from_secs(30)],
            disable_after: 3,
        }
    }

    fn enqueue(outbox: &mut Outbox, n: usize, at: Instant) {
        for i in 0..n {
            outbox.enqueue(URL, "t", json!({ "i": i }), 1000, at);
        }
    }

    #[test]
    fn events_wait_for_the_interval_then_go_together() {
        let mut outbox = Outbox::default();
        let t0 = Instant::now();
        enqueue(&mut outbox, 2, t0);
        assert!(outbox.take_schedule_changed());
        let (due, wake) = outbox.take_due(t0, &policy());
        assert!(due.is_empty());
        assert_eq!(wake, Some(t0 + Duration::from_secs(5)));
        let (due, _) = outbox.take_due(t0 + Duration::from_secs(5), &policy());
        assert_eq!(due.len(), 1);
        assert_eq!(due[0].seq_nos, [1000, 1001]);
        assert_eq!(due[0].attempt, 1);
        let body: Value = serde_json::from_slice(&due[0].body).unwrap();
        assert_eq!(body[1]["seq_no"], "1001");
        // One batch in flight per URL.
        enqueue(&mut outbox, 1, t0 + Duration::from_secs(5));
        assert!(outbox.take_due(t0 + Duration::from_secs(20), &policy()).0.is_empty());
    }

    #[test]
    fn more_than_max_pending_sends_at_once_in_chunks_of_max() {
        let mut outbox = Outbox::default();
        let t0 = Instant::now();
        enqueue(&mut outbox, 3, t0);
        assert!(outbox.take_due(t0, &policy()).0.is_empty());
        enqueue(&mut outbox, 2, t0);
        let (due, _) = outbox.take_due(t0, &policy());
        assert_eq!(due[0].seq_nos, [1000, 1001, 1002]);
        outbox.record(URL, true, t0, &policy());
        // Two left: back to waiting for the interval after the last POST.
        let (due, wake) = outbox.take_due(t0, &policy());
        assert!(due.is_empty());
        assert_eq!(wake, Some(t0 + Duration::from_secs(5)));
    }

    #[test]
    fn failures_retry_the_same_batch_then_disable_until_pinged() {
        let mut outbox = Outbox::default();
        let p = policy();
        let t0 = Instant::now();
        enqueue(&mut outbox, 2, t0);
        let first = outbox.take_due(t0 + p.interval, &p).0.remove(0);
        outbox.record(URL, false, t0 + p.interval, &p);
        enqueue(&mut outbox, 1, t0 + p.interval);

        let (due, wake) = outbox.take_due(t0 + p.interval, &p);
        assert!(due.is_empty());
        let retry_at = t0 + p.interval + Duration::from_secs(10);
        assert_eq!(wake, Some(retry_at));
        let second = outbox.take_due(retry_at, &p).0.remove(0);
        assert_eq!(second.attempt, 2);
        assert_eq!(second.body, first.body);
        outbox.record(URL, false, retry_at, &p);
        // The last backoff entry repeats.
        let third_at = retry_at + Duration::from_secs(30);
        assert_eq!(outbox.take_due(retry_at, &p).1, Some(third_at));
        let third = outbox.take_due(third_at, &p).0.remove(0);
        assert_eq!(third.seq_nos, first.seq_nos);
        outbox.record(URL, false, third_at, &p);

        let status = outbox.status_json();
        assert_eq!(status[0]["disabled"], true);
        assert_eq!(status[0]["consecutiveFailures"], 3);
        assert_eq!(status[0]["pending"], 3);
        let later = third_at + Duration::from_secs(3600);
        let (due, wake) = outbox.take_due(later, &p);
        assert!(due.is_empty() && wake.is_none());
        assert!(outbox.request_flush().is_empty());

        assert!(outbox.re_enable(URL, later));
        assert!(!outbox.re_enable(URL, later));
        let resumed = outbox.take_due(later, &p).0.remove(0);
        assert_eq!(resumed.seq_nos, first.seq_nos);
        assert_eq!(resumed.attempt, 4);
        outbox.record(URL, true, later, &p);
        let status = outbox.status_json();
        assert_eq!(status[0]["consecutiveFailures"], 0);
        assert_eq!(status[0]["pending"], 1);
        assert_eq!(status[0]["nextSeqNo"], 1003);
    }

    #[test]
    fn flush_skips_waiting_and_ends_when_drained_or_failed() {
        let mut outbox = Outbox::default();
        let p = policy();
        let t0 = Instant::now();
        enqueue(&mut outbox, 2, t0);
        let urls = outbox.request_flush();
        assert_eq!(urls, [URL]);
        assert!(outbox.is_flushing(&urls));
        let due = outbox.take_due(t0, &p).0;
        assert_eq!(due.len(), 1);
        outbox.record(URL, true, t0, &p);
        assert!(!outbox.is_flushing(&urls));

        enqueue(&mut outbox, 1, t0);
        outbox.request_flush();
        outbox.take_due(t0, &p);
        outbox.record(URL, false, t0, &p);
        assert!(!outbox.is_flushing(&urls));
        // A flush also cuts a retry's backoff short.
        outbox.request_flush();
        assert_eq!(outbox.take_due(t0, &p).0[0].attempt, 2);
    }
}
