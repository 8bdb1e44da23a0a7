//! Fair shares of the delivery capacity, per callback destination, and a circuit breaker for
//! each.
//!
//! A destination is a callback URL's origin (scheme, host, port): the server that answers,
//! or does not. Several instances, of one tenant or of several, often point at one server,
//! and what a slow server costs the hub (requests held open until they time out) is the
//! same whichever instance the notification belongs to; counting per instance would let a
//! tenant with many instances on one dead host take every slot.
//!
//! - A destination is entitled to `per_destination` open requests. A delivery for a
//!   destination at its cap waits in that destination's line, apart from the others, so it
//!   holds up nobody else; lines take turns for the free slots, entitled ones first.
//! - A destination that answers fast (its last answer came within [`SLOW`], none of its
//!   requests is open longer, and its last requests all got an answer) may borrow slots past
//!   its cap while no other destination waits for one, short of the last `per_destination`:
//!   one fast receiver may use nearly the whole worker, as a single busy tenant needs. A slot
//!   is held only as long as the answer takes, so borrowing costs the others nothing while
//!   the answers stay fast; if the server stops answering, what it borrowed is held for one
//!   request timeout (the slots kept free serve the others meanwhile), and after [`SLOW`] it
//!   borrows no more. A destination never heard from (no answer yet) keeps to its cap.
//! - A destination at its cap whose oldest request has been open longer than [`SLOW`] is
//!   slow: what waits for it goes back to the store, due when that oldest request will have
//!   answered or timed out, so that one slow server never fills the worker's reserve.
//! - After `breaker_failures` requests in a row got no answer (timed out, refused, reset),
//!   the destination's breaker opens: its deliveries are given back to the store, one due
//!   when the cool-down ends, to be the probe, the others when the probe's answer will be
//!   in (so that each cool-down costs one write per waiting delivery). One answer from the probe
//!   (any status: the server is there) closes the breaker; no answer re-opens it for the
//!   next, longer cool-down. Once the cool-downs have run out, a probe that gets no answer
//!   is its notification's last attempt, as when retries run out.
//!
//! The state is this process's: another hub process learns about a failing server by
//! itself. Nothing is lost here: every delivery given back is written to the store.

use std::{
    collections::{HashMap, VecDeque},
    time::Duration,
};

use tokio::time::Instant;
use url::Origin;

/// How long the oldest request of a destination at its cap may stay open before the
/// deliveries waiting for it go back to the store. A loopback or LAN receiver answers in
/// milliseconds and an internet one in tens to hundreds; a second means a server that is
/// not keeping up.
pub const SLOW: Duration = Duration::from_secs(1);
/// A probe has its answer (or its timeout) within the request timeout and this.
const PROBE_MARGIN: Duration = Duration::from_secs(1);
/// Past this many destinations, idle ones are forgotten.
const SWEEP_ABOVE: usize = 10_000;

#[derive(Debug, Clone)]
pub struct Fairness {
    /// Requests open to one destination at once.
    pub per_destination: usize,
    /// Requests in a row without an answer that open a destination's breaker.
    pub breaker_failures: u32,
    /// How long the breaker stays open after its first opening in a row, its second, …;
    /// the last one repeats. The delivery retry schedule: a failing server is probed about
    /// as often as one notification would be retried.
    pub cooldowns: Vec<Duration>,
    /// The request timeout.
    pub timeout: Duration,
}

impl Fairness {
    /// How long the breaker stays open after its `step`-th opening in a row (from 1).
    fn cooldown(&self, step: usize) -> Duration {
        self.cooldowns
            .get(step - 1)
            .or(self.cooldowns.last())
            .copied()
            .unwrap_or(self.timeout)
    }
}

/// What became of a delivery offered for its destination.
#[derive(Debug)]
pub enum Offer<T> {
    /// Send it now, and hand the ticket back to [`Destinations::finish`] with the outcome.
    Send(T, Ticket),
    /// It waits in its destination's line; [`Destinations::next`] hands it out.
    Held,
    /// Not now: give it back to the store, due at this moment.
    Defer(T, Instant),
}

/// A request open to a destination.
#[derive(Debug)]
pub struct Ticket {
    origin: Origin,
    started: Instant,
    /// The breaker's opening this request probes, if it is a probe.
    probe: Option<usize>,
    /// A probe sent after every cool-down ran out: without an answer its notification has
    /// had its last attempt.
    pub last_chance: bool,
}

/// Whether a request got an answer, for the breaker.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reached {
    /// Any HTTP answer, an error status included: the server is there.
    Answered,
    /// A timeout, a refused or reset connection.
    NoAnswer,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Breaker {
    Closed {
        failures: u32,
    },
    /// `candidate`: a delivery was given back due at `until`, to be the probe.
    Open {
        until: Instant,
        step: usize,
        candidate: bool,
    },
    Probing {
        deadline: Instant,
        step: usize,
    },
}

/// What a destination says to one more request now.
enum Verdict {
    Go {
        probe: Option<usize>,
    },
    /// Past its cap, but fast: it may have a slot nobody entitled wants.
    Borrow,
    Wait,
    Defer(Instant),
    /// Its breaker is open until then.
    Cooling(Instant),
}

struct Destination<T> {
    /// When each open request started.
    open: Vec<Instant>,
    /// How long the last request took to be answered; `None` before the first answer and
    /// after a request without one.
    last_answer: Option<Duration>,
    line: VecDeque<T>,
    breaker: Breaker,
}

impl<T> Destination<T> {
    fn new() -> Self {
        Self {
            open: Vec::new(),
            last_answer: None,
            line: VecDeque::new(),
            breaker: Breaker::Closed { failures: 0 },
        }
    }

    fn idle(&self) -> bool {
        self.open.is_empty() && self.line.is_empty()
    }
}

/// Every destination this worker has requests open to, deliveries waiting for, or a breaker
/// open for. `T` is what waits: a delivery ready to send.
pub struct Destinations<T> {
    fairness: Fairness,
    /// Requests open at once, across destinations.
    limit: usize,
    sending: usize,
    waiting: usize,
    map: HashMap<Origin, Destination<T>>,
    /// Destinations with deliveries waiting, in turn for the free slots.
    turns: VecDeque<Origin>,
}

impl<T> Destinations<T> {
    pub fn new(fairness: Fairness, limit: usize) -> Self {
        Self {
            fairness,
            limit,
            sending: 0,
            waiting: 0,
            map: HashMap::new(),
            turns: VecDeque::new(),
        }
    }

    /// Deliveries waiting in lines.
    pub fn waiting(&self) -> usize {
        self.waiting
    }

    /// Whether a request may go to `origin` now, and if not, why.
    fn verdict(&self, destination: &Destination<T>, now: Instant) -> Verdict {
        let full = destination.open.len() >= self.fairness.per_destination;
        let oldest = destination.open.iter().min().copied();
        // When the oldest request open has surely answered or timed out, freeing a slot.
        let slot_free_at = oldest.map_or(now, |oldest| oldest + self.fairness.timeout);
        match destination.breaker {
            Breaker::Open { until, .. } if now < until => Verdict::Cooling(until),
            Breaker::Open { step, .. } if !full => Verdict::Go { probe: Some(step) },
            Breaker::Open { .. } => Verdict::Defer(slot_free_at),
            Breaker::Probing { deadline, .. } => Verdict::Defer(deadline),
            Breaker::Closed { .. } if !full => Verdict::Go { probe: None },
            Breaker::Closed { failures: 0 }
                if destination.last_answer.is_some_and(|took| took < SLOW)
                    && oldest.is_some_and(|oldest| now.duration_since(oldest) < SLOW) =>
            {
                Verdict::Borrow
            }
            Breaker::Closed { .. } => match oldest {
                Some(oldest) if now.duration_since(oldest) >= SLOW => Verdict::Defer(slot_free_at),
                _ => Verdict::Wait,
            },
        }
    }

    /// Offers a delivery for `origin`: it goes now, waits its turn, or goes back to the
    /// store.
    pub fn offer(&mut self, origin: Origin, item: T, now: Instant) -> Offer<T> {
        if self.map.len() > SWEEP_ABOVE {
            self.sweep(now);
        }
        self.map.entry(origin.clone()).or_insert_with(Destination::new);
        let destination = &self.map[&origin];
        let verdict = match self.verdict(destination, now) {
            // Behind those already waiting.
            Verdict::Go { .. } | Verdict::Borrow if !destination.line.is_empty() => Verdict::Wait,
            // Nobody else waits for a slot (its own line is empty, so every line is another's).
            Verdict::Borrow if self.turns.is_empty() && self.may_borrow() => Verdict::Go { probe: None },
            Verdict::Borrow => Verdict::Wait,
            verdict => verdict,
        };
        match verdict {
            Verdict::Go { probe } if self.sending < self.limit => {
                let ticket = self.start(&origin, probe, now);
                Offer::Send(item, ticket)
            }
            Verdict::Defer(at) => Offer::Defer(item, at),
            Verdict::Cooling(until) => Offer::Defer(item, self.after_cooldown(&origin, until)),
            // The lines hold at most a reserve's worth: past that, a busy destination's
            // deliveries come back from the store a moment later.
            Verdict::Go { .. } | Verdict::Borrow | Verdict::Wait if self.waiting >= self.limit => {
                Offer::Defer(item, now + SLOW)
            }
            Verdict::Go { .. } | Verdict::Borrow | Verdict::Wait => {
                let destination = self.map.get_mut(&origin).expect("inserted above");
                if destination.line.is_empty() {
                    self.turns.push_back(origin);
                }
                destination.line.push_back(item);
                self.waiting += 1;
                Offer::Held
            }
        }
    }

    /// The next waiting delivery that may go now, taking destinations in turn: first those
    /// under their cap, then those that may borrow.
    pub fn next(&mut self, now: Instant) -> Option<(T, Ticket)> {
        if self.sending >= self.limit {
            return None;
        }
        for borrowing in [false, true] {
            for _ in 0..self.turns.len() {
                let origin = self.turns.pop_front()?;
                let Some(destination) = self.map.get(&origin) else {
                    continue;
                };
                let go = match self.verdict(destination, now) {
                    Verdict::Go { probe } => Some(probe),
                    Verdict::Borrow if borrowing && self.may_borrow() => Some(None),
                    _ => None,
                };
                let Some(probe) = go else {
                    self.turns.push_back(origin);
                    continue;
                };
                let ticket = self.start(&origin, probe, now);
                let destination = self.map.get_mut(&origin).expect("looked up above");
                let item = destination.line.pop_front().expect("a destination in turn has a line");
                self.waiting -= 1;
                if !destination.line.is_empty() {
                    self.turns.push_back(origin);
                }
                return Some((item, ticket));
            }
        }
        None
    }

    /// The waiting deliveries whose destination turned slow or failing: each with when it
    /// is due again in the store.
    pub fn expire(&mut self, now: Instant) -> Vec<(T, Instant)> {
        let mut expired = Vec::new();
        let turns = std::mem::take(&mut self.turns);
        for origin in turns {
            let Some(destination) = self.map.get(&origin) else {
                continue;
            };
            let (due, cooling) = match self.verdict(destination, now) {
                Verdict::Go { .. } | Verdict::Borrow | Verdict::Wait => {
                    self.turns.push_back(origin);
                    continue;
                }
                Verdict::Defer(at) => (at, false),
                Verdict::Cooling(until) => (until, true),
            };
            let line = std::mem::take(&mut self.map.get_mut(&origin).expect("looked up above").line);
            self.waiting -= line.len();
            for item in line {
                let at = if cooling {
                    self.after_cooldown(&origin, due)
                } else {
                    due
                };
                expired.push((item, at));
            }
            self.forget_if_idle(&origin);
        }
        expired
    }

    /// When a destination with deliveries waiting turns slow, if none is changing otherwise.
    pub fn next_expiry(&self) -> Option<Instant> {
        self.turns
            .iter()
            .filter_map(|origin| self.map.get(origin))
            .filter(|destination| destination.open.len() >= self.fairness.per_destination)
            .filter_map(|destination| destination.open.iter().min())
            .map(|oldest| *oldest + SLOW)
            .min()
    }

    /// Records how a request ended; its slot is free again.
    pub fn finish(&mut self, ticket: Ticket, reached: Option<Reached>, now: Instant) {
        self.sending -= 1;
        let Some(destination) = self.map.get_mut(&ticket.origin) else {
            return;
        };
        if let Some(at) = destination.open.iter().position(|started| *started == ticket.started) {
            destination.open.swap_remove(at);
        }
        if let Some(reached) = reached {
            destination.last_answer =
                (reached == Reached::Answered).then(|| now.saturating_duration_since(ticket.started));
        }
        let fairness = &self.fairness;
        let opened = |step: usize| Breaker::Open {
            until: now + fairness.cooldown(step),
            step,
            candidate: false,
        };
        let breaker = match (destination.breaker, reached) {
            (breaker, None) => breaker,
            (_, Some(Reached::Answered)) => Breaker::Closed { failures: 0 },
            (Breaker::Closed { failures }, Some(Reached::NoAnswer)) if failures + 1 >= fairness.breaker_failures => {
                opened(1)
            }
            (Breaker::Closed { failures }, Some(Reached::NoAnswer)) => Breaker::Closed { failures: failures + 1 },
            (Breaker::Probing { step, .. }, Some(Reached::NoAnswer)) if ticket.probe.is_some() => opened(step + 1),
            // A request sent before the breaker opened: it knows no more than the breaker.
            (breaker, Some(Reached::NoAnswer)) => breaker,
        };
        if let Breaker::Open { until, step, .. } = breaker
            && destination.breaker != breaker
        {
            tracing::warn!(
                destination = %ticket.origin.ascii_serialization(),
                opening = step,
                cooldown_secs = until.duration_since(now).as_secs(),
                "a callback server does not answer: its notifications wait for a probe after the cool-down"
            );
        }
        if matches!(destination.breaker, Breaker::Open { .. } | Breaker::Probing { .. })
            && breaker == (Breaker::Closed { failures: 0 })
        {
            tracing::info!(destination = %ticket.origin.ascii_serialization(), "a callback server answers again");
        }
        destination.breaker = breaker;
        self.forget_if_idle(&ticket.origin);
    }

    /// Everything waiting, for a worker that stops.
    pub fn drain(&mut self) -> Vec<T> {
        self.turns.clear();
        self.waiting = 0;
        self.map.values_mut().flat_map(|d| d.line.drain(..)).collect()
    }

    /// Whether a slot may go past a destination's cap: the last `per_destination` are kept
    /// for destinations under theirs.
    fn may_borrow(&self) -> bool {
        self.sending + self.fairness.per_destination < self.limit
    }

    /// When a delivery for a destination whose breaker is open until `until` is due again:
    /// the first at `until`, to be the probe; the others once the probe's answer is in.
    fn after_cooldown(&mut self, origin: &Origin, until: Instant) -> Instant {
        let late = until + self.fairness.timeout + PROBE_MARGIN;
        match self.map.get_mut(origin).map(|d| &mut d.breaker) {
            Some(Breaker::Open { candidate, .. }) if !*candidate => {
                *candidate = true;
                until
            }
            _ => late,
        }
    }

    fn start(&mut self, origin: &Origin, probe: Option<usize>, now: Instant) -> Ticket {
        let destination = self
            .map
            .get_mut(origin)
            .expect("a destination is known before it is sent to");
        destination.open.push(now);
        self.sending += 1;
        if let Some(step) = probe {
            destination.breaker = Breaker::Probing {
                deadline: now + self.fairness.timeout + PROBE_MARGIN,
                step,
            };
        }
        Ticket {
            origin: origin.clone(),
            started: now,
            probe,
            last_chance: probe.is_some_and(|step| step >= self.fairness.cooldowns.len()),
        }
    }

    /// A destination with nothing open, waiting or remembered is dropped.
    fn forget_if_idle(&mut self, origin: &Origin) {
        if self
            .map
            .get(origin)
            .is_some_and(|d| d.idle() && d.breaker == (Breaker::Closed { failures: 0 }))
        {
            self.map.remove(origin);
        }
    }

    /// Forgets idle destinations whose breaker is closed or due for a probe: what they
    /// remember (a few failures, a cool-down step) is not worth unbounded memory.
    fn sweep(&mut self, now: Instant) {
        self.map.retain(|_, d| {
            !d.idle()
                || match d.breaker {
                    Breaker::Open { until, .. } => now < until,
                    Breaker::Probing { .. } => true,
                    Breaker::Closed { .. } => false,
                }
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TIMEOUT: Duration = Duration::from_secs(15);

    fn origin(port: u16) -> Origin {
        url::Url::parse(&format!("http://127.0.0.1:{port}/events"))
            .unwrap()
            .origin()
    }

    fn destinations(per_destination: usize, limit: usize) -> Destinations<u32> {
        Destinations::new(
            Fairness {
                per_destination,
                breaker_failures: 3,
                cooldowns: vec![Duration::from_secs(5), Duration::from_secs(60)],
                timeout: TIMEOUT,
            },
            limit,
        )
    }

    fn sent(offer: Offer<u32>) -> Ticket {
        match offer {
            Offer::Send(_, ticket) => ticket,
            other => panic!("not sent: {other:?}"),
        }
    }

    fn deferred(offer: Offer<u32>) -> Instant {
        match offer {
            Offer::Defer(_, at) => at,
            other => panic!("not deferred: {other:?}"),
        }
    }

    #[test]
    fn a_destination_at_its_cap_waits_apart_and_others_go() {
        let mut d = destinations(2, 8);
        let now = Instant::now();
        let first = sent(d.offer(origin(1), 1, now));
        sent(d.offer(origin(1), 2, now));
        assert!(matches!(d.offer(origin(1), 3, now), Offer::Held));
        assert!(matches!(d.offer(origin(1), 4, now), Offer::Held));
        // Another destination does not wait behind the full one.
        sent(d.offer(origin(2), 10, now));
        assert_eq!(d.waiting(), 2);
        assert!(d.next(now).is_none(), "no slot of destination 1 is free");
        // Slow to answer: it keeps to its cap.
        d.finish(first, Some(Reached::Answered), now + SLOW);
        let (item, _) = d.next(now + SLOW).expect("the freed slot goes to the first in line");
        assert_eq!(item, 3);
        assert!(d.next(now + SLOW).is_none());
    }

    #[test]
    fn a_fast_destination_borrows_slots_nobody_else_wants() {
        let mut d = destinations(2, 8);
        let now = Instant::now();
        let first = sent(d.offer(origin(1), 1, now));
        sent(d.offer(origin(1), 2, now));
        // Never heard from: it keeps to its cap.
        assert!(matches!(d.offer(origin(1), 3, now), Offer::Held));
        let later = now + Duration::from_millis(5);
        d.finish(first, Some(Reached::Answered), later);
        // It answered in 5 ms: past its cap it takes what nobody else wants.
        assert_eq!(d.next(later).unwrap().0, 3);
        sent(d.offer(origin(1), 4, later));
        sent(d.offer(origin(1), 5, later));
        // Once another destination waits, the free slots are the entitled one's.
        let mut small = destinations(1, 3);
        let first = sent(small.offer(origin(1), 1, now));
        assert!(matches!(small.offer(origin(1), 2, now), Offer::Held));
        small.finish(first, Some(Reached::Answered), later);
        let (_, entitled) = small.next(later).unwrap();
        sent(small.offer(origin(1), 3, later));
        assert!(
            matches!(small.offer(origin(1), 5, later), Offer::Held),
            "the last slot is kept for others"
        );
        sent(small.offer(origin(2), 20, later));
        // Every slot is taken; destination 3 waits for one it is entitled to.
        assert!(matches!(small.offer(origin(3), 30, later), Offer::Held));
        assert!(
            matches!(small.offer(origin(1), 4, later), Offer::Held),
            "someone else waits"
        );
        small.finish(entitled, Some(Reached::Answered), later);
        assert_eq!(small.next(later).unwrap().0, 30, "the entitled one first");
        assert!(small.next(later).is_none());
        // A request open longer than SLOW ends the borrowing.
        let mut slow = destinations(1, 8);
        let first = sent(slow.offer(origin(1), 1, now));
        assert!(matches!(slow.offer(origin(1), 2, now), Offer::Held));
        slow.finish(first, Some(Reached::Answered), later);
        slow.next(later).unwrap();
        assert!(matches!(slow.offer(origin(1), 3, later + SLOW), Offer::Defer(..)));
    }

    #[test]
    fn lines_take_turns_for_the_last_free_slots() {
        let mut d = destinations(4, 4);
        let now = Instant::now();
        let tickets: Vec<Ticket> = (0..4).map(|n| sent(d.offer(origin(1), n, now))).collect();
        for n in 0..2 {
            assert!(matches!(d.offer(origin(2), 20 + n, now), Offer::Held));
            assert!(matches!(d.offer(origin(3), 30 + n, now), Offer::Held));
        }
        let mut order = Vec::new();
        for ticket in tickets {
            d.finish(ticket, Some(Reached::Answered), now);
            order.push(d.next(now).unwrap().0);
        }
        assert_eq!(order, [20, 30, 21, 31]);
    }

    #[test]
    fn a_slow_destination_gives_back_what_waits_for_it() {
        let mut d = destinations(2, 8);
        let start = Instant::now();
        sent(d.offer(origin(1), 1, start));
        sent(d.offer(origin(1), 2, start + Duration::from_millis(100)));
        assert!(matches!(d.offer(origin(1), 3, start), Offer::Held));
        assert_eq!(d.next_expiry(), Some(start + SLOW));
        assert!(d.expire(start + SLOW / 2).is_empty());
        let later = start + SLOW;
        let expired = d.expire(later);
        assert_eq!(
            expired,
            [(3, start + TIMEOUT)],
            "due when the oldest request has timed out"
        );
        assert_eq!(d.waiting(), 0);
        assert_eq!(deferred(d.offer(origin(1), 4, later)), start + TIMEOUT);
        // The lines never hold more than the worker's limit.
        let mut small = destinations(1, 2);
        sent(small.offer(origin(1), 1, start));
        assert!(matches!(small.offer(origin(1), 2, start), Offer::Held));
        assert!(matches!(small.offer(origin(1), 3, start), Offer::Held));
        assert_eq!(deferred(small.offer(origin(1), 4, start)), start + SLOW);
    }

    #[test]
    fn the_breaker_opens_probes_and_closes() {
        let mut d = destinations(8, 64);
        let mut now = Instant::now();
        let tickets: Vec<Ticket> = (0..3).map(|n| sent(d.offer(origin(1), n, now))).collect();
        let straggler = sent(d.offer(origin(1), 3, now));
        now += TIMEOUT;
        for ticket in tickets {
            d.finish(ticket, Some(Reached::NoAnswer), now);
        }
        // One delivery is due when the cool-down ends, to be the probe; the others when
        // the probe's answer is in.
        let open_until = now + Duration::from_secs(5);
        let answered_by = open_until + TIMEOUT + PROBE_MARGIN;
        assert_eq!(deferred(d.offer(origin(1), 4, now)), open_until);
        assert_eq!(deferred(d.offer(origin(1), 4, now)), answered_by);
        // A request sent before the breaker opened changes nothing.
        d.finish(straggler, Some(Reached::NoAnswer), now);
        assert_eq!(deferred(d.offer(origin(1), 4, now)), answered_by);
        sent(d.offer(origin(2), 20, now));

        // After the cool-down one probe goes; the rest wait for its answer.
        now = open_until;
        let probe = sent(d.offer(origin(1), 5, now));
        assert!(!probe.last_chance);
        assert_eq!(deferred(d.offer(origin(1), 6, now)), now + TIMEOUT + PROBE_MARGIN);
        now += TIMEOUT;
        d.finish(probe, Some(Reached::NoAnswer), now);
        let reopened_until = now + Duration::from_secs(60);
        assert_eq!(
            deferred(d.offer(origin(1), 7, now)),
            reopened_until,
            "a longer cool-down"
        );

        // Once the cool-downs have run out, the probe is the last chance.
        now = reopened_until;
        let probe = sent(d.offer(origin(1), 8, now));
        assert!(probe.last_chance);
        d.finish(probe, Some(Reached::NoAnswer), now);
        assert_eq!(deferred(d.offer(origin(1), 9, now)), now + Duration::from_secs(60));

        // An answer, even an error status, closes it.
        now += Duration::from_secs(60);
        let probe = sent(d.offer(origin(1), 10, now));
        d.finish(probe, Some(Reached::Answered), now);
        sent(d.offer(origin(1), 11, now));
        sent(d.offer(origin(1), 12, now));
    }

    #[test]
    fn failures_count_only_in_a_row() {
        let mut d = destinations(8, 64);
        let now = Instant::now();
        for reached in [
            Reached::NoAnswer,
            Reached::NoAnswer,
            Reached::Answered,
            Reached::NoAnswer,
            Reached::NoAnswer,
        ] {
            let ticket = sent(d.offer(origin(1), 0, now));
            d.finish(ticket, Some(reached), now);
        }
        sent(d.offer(origin(1), 0, now));
    }

    #[test]
    fn lines_waiting_for_an_opened_breaker_are_given_back() {
        let mut d = destinations(3, 64);
        let now = Instant::now();
        let tickets: Vec<Ticket> = (0..3).map(|n| sent(d.offer(origin(1), n, now))).collect();
        assert!(matches!(d.offer(origin(1), 3, now), Offer::Held));
        for ticket in tickets {
            d.finish(ticket, Some(Reached::NoAnswer), now);
        }
        assert_eq!(d.expire(now), [(3, now + Duration::from_secs(5))]);
        assert_eq!(d.waiting(), 0);
    }
}
