//! What each scenario measured, and the table the suite prints at the end.

use std::time::Duration;

/// One row of the table: a scenario (or one half of it) and what it found.
#[derive(Debug)]
pub struct Outcome {
    pub name: String,
    pub counts: Counts,
    /// Figures the table has no column for: how long a fault lasted, when polling resumed.
    pub notes: Vec<String>,
    /// Broken guarantees, each with its evidence. Any makes the suite fail.
    pub violations: Vec<String>,
}

/// The counts of one scenario. `None` where a column does not apply (polling has no
/// provider requests to acknowledge).
#[derive(Debug, Default)]
pub struct Counts {
    /// Events the provider produced: webhook events sent, or messages created for a poller.
    pub sent: usize,
    /// Events the hub acknowledged with a 2xx.
    pub acknowledged: Option<usize>,
    /// Distinct events that reached the receiver.
    pub delivered: usize,
    /// Acknowledged (or, for polling, created) events that never reached the receiver.
    pub lost: usize,
    /// Extra copies of delivered events (at-least-once: the same notification again).
    pub duplicates: usize,
    /// Provider requests the hub answered 503 ("not stored, send again").
    pub unavailable: Option<u64>,
    /// Provider requests answered with another non-2xx status.
    pub other_errors: Option<u64>,
    /// Provider requests that got no answer: refused connections, resets, timeouts.
    pub unreachable: Option<u64>,
    /// From the end of the fault (and of the stream) until every acknowledged event had
    /// arrived and the hub's backlog was empty; `None` if that never happened.
    pub drain: Option<Duration>,
}

impl Outcome {
    pub fn passed(&self) -> bool {
        self.violations.is_empty()
    }

    /// One row for several streams: counts added up, the longest drain (or none if one
    /// never drained), every note and violation.
    pub fn combine(name: String, parts: Vec<Outcome>) -> Outcome {
        let mut combined = Outcome {
            name,
            counts: Counts {
                drain: Some(Duration::ZERO),
                ..Counts::default()
            },
            notes: Vec::new(),
            violations: Vec::new(),
        };
        for part in parts {
            let (c, p) = (&mut combined.counts, part.counts);
            c.sent += p.sent;
            c.acknowledged = add(c.acknowledged, p.acknowledged);
            c.delivered += p.delivered;
            c.lost += p.lost;
            c.duplicates += p.duplicates;
            c.unavailable = add(c.unavailable, p.unavailable);
            c.other_errors = add(c.other_errors, p.other_errors);
            c.unreachable = add(c.unreachable, p.unreachable);
            c.drain = c.drain.zip(p.drain).map(|(a, b)| a.max(b));
            combined.notes.extend(part.notes);
            combined.violations.extend(part.violations);
        }
        combined
    }
}

/// A count that only some parts may have.
fn add<T: std::ops::Add<Output = T>>(a: Option<T>, b: Option<T>) -> Option<T> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a + b),
        (a, b) => a.or(b),
    }
}

/// Prints the table, then each scenario's notes and violations.
pub fn print(outcomes: &[Outcome]) {
    let header = [
        "scenario",
        "sent",
        "acked",
        "delivered",
        "lost",
        "dup",
        "503",
        "other",
        "unreach",
        "drain",
        "result",
    ];
    let rows: Vec<Vec<String>> = outcomes.iter().map(row).collect();
    let widths: Vec<usize> = (0..header.len())
        .map(|i| {
            rows.iter()
                .map(|r| r[i].len())
                .chain([header[i].len()])
                .max()
                .unwrap_or(0)
        })
        .collect();
    let line = |cells: Vec<String>| {
        let padded: Vec<String> = cells
            .iter()
            .enumerate()
            .map(|(i, c)| {
                if i == 0 {
                    format!("{c:<w$}", w = widths[i])
                } else {
                    format!("{c:>w$}", w = widths[i])
                }
            })
            .collect();
        println!("{}", padded.join("  ").trim_end());
    };
    println!();
    line(header.iter().map(|h| h.to_string()).collect());
    for row in rows {
        line(row);
    }
    println!();
    for outcome in outcomes {
        if outcome.notes.is_empty() && outcome.violations.is_empty() {
            continue;
        }
        println!("{}:", outcome.name);
        for note in &outcome.notes {
            println!("  {note}");
        }
        for violation in &outcome.violations {
            println!("  BROKEN: {violation}");
        }
    }
}

fn row(outcome: &Outcome) -> Vec<String> {
    let c = &outcome.counts;
    let opt = |v: Option<u64>| v.map_or("-".to_string(), |v| v.to_string());
    vec![
        outcome.name.clone(),
        c.sent.to_string(),
        c.acknowledged.map_or("-".to_string(), |v| v.to_string()),
        c.delivered.to_string(),
        c.lost.to_string(),
        c.duplicates.to_string(),
        opt(c.unavailable),
        opt(c.other_errors),
        opt(c.unreachable),
        c.drain.map_or("never".to_string(), seconds),
        if outcome.passed() { "ok" } else { "BROKEN" }.to_string(),
    ]
}

/// A duration as seconds with one decimal: `2.4 s`.
pub fn seconds(duration: Duration) -> String {
    format!("{:.1} s", duration.as_secs_f64())
}
