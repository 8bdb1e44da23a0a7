//! The hub under test: the `tributary` release binary as a child process, configured only
//! through its environment (so its memory, CPU and start-up are its own), and the calls of
//! its HTTP API only the bench makes.

use std::{path::PathBuf, time::Duration};

use tokio::time::Instant;
use tributary_harness::{
    api::Api,
    hub::{self, Process},
};

use crate::database::Database;

pub struct HubSettings {
    pub bin: PathBuf,
    pub sim_url: String,
    /// `KEY=VALUE` pairs from `--hub-env`, applied last.
    pub extra_env: Vec<(String, String)>,
}

/// A running hub process; killed if dropped without [`Hub::stop`].
pub struct Hub {
    pub pid: u32,
    pub api: Api,
    /// From spawning the process to the first 200 from `/ready`.
    pub start_to_ready: Duration,
    process: Process,
    log: PathBuf,
}

impl Hub {
    /// Starts the hub on `db`. `auth` is the header from an earlier start on the same
    /// database; without it the hub must bootstrap and print one.
    pub async fn start(settings: &HubSettings, db: &Database, auth: Option<String>) -> anyhow::Result<Self> {
        let port = hub::free_port()?;
        let log = db.data_dir.path().join("hub.log");
        let mut command = hub::command(
            &settings.bin,
            port,
            db.data_dir.path(),
            &settings.sim_url,
            db.url().as_deref(),
        );
        command
            .current_dir(db.data_dir.path())
            // The bench measures capacity, not the rate limits a deployment sets (the
            // receiver's is off too); `--hub-env` puts them back.
            .env("TRIBUTARY_LIMITS__API_PER_ORGANIZATION_PER_SECOND", "0");
        for (key, value) in &settings.extra_env {
            command.env(key, value);
        }
        let started = Instant::now();
        let mut process = Process::spawn(command, "the hub", &log)?;
        let http = crate::load::client();
        let base = hub::base(port);
        // Asked every millisecond, since the time to ready is a figure of its own.
        process
            .wait_ready(&http, &base, Duration::from_secs(120), Duration::from_millis(1))
            .await?;
        let start_to_ready = started.elapsed();
        let auth = match auth {
            Some(auth) => auth,
            None => process.credentials().await?,
        };
        Ok(Self {
            pid: process.pid,
            api: Api { http, base, auth },
            start_to_ready,
            process,
            log,
        })
    }

    /// Stops the hub as an operator would (SIGTERM, then SIGKILL after 15 s), and shows
    /// what it logged (warnings and errors only), since its data directory goes next.
    pub async fn stop(mut self) -> anyhow::Result<()> {
        let signalled = std::process::Command::new("kill")
            .args(["-TERM", &self.pid.to_string()])
            .status()
            .is_ok_and(|s| s.success());
        if !signalled
            || tokio::time::timeout(Duration::from_secs(15), self.process.child.wait())
                .await
                .is_err()
        {
            self.process.kill().await?;
        }
        let logged = std::fs::read_to_string(&self.log).unwrap_or_default();
        for (count, message) in summarize(&logged) {
            println!("    the hub logged {count} × {message}");
        }
        Ok(())
    }
}

/// The hub's log lines grouped by message (timestamps, colours and field values left out),
/// the most frequent first, at most five.
fn summarize(log: &str) -> Vec<(usize, String)> {
    let mut counts = std::collections::HashMap::<String, usize>::new();
    for line in log.lines() {
        let plain = strip_ansi(line);
        // `<timestamp> <LEVEL> <target>: <message> <field>=<value>…`
        let message: Vec<&str> = plain
            .split_whitespace()
            .skip(1)
            .take_while(|word| !word.contains('='))
            .collect();
        if !message.is_empty() {
            *counts.entry(message.join(" ")).or_default() += 1;
        }
    }
    let mut counts: Vec<(usize, String)> = counts.into_iter().map(|(m, n)| (n, m)).collect();
    counts.sort_by(|a, b| b.cmp(a));
    counts.truncate(5);
    counts
}

fn strip_ansi(line: &str) -> String {
    let mut plain = String::with_capacity(line.len());
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            // An SGR sequence: ESC [ … m.
            for c in chars.by_ref() {
                if c == 'm' {
                    break;
                }
            }
        } else {
            plain.push(c);
        }
    }
    plain
}

/// The calls of the hub's API only the bench makes.
pub trait BenchCalls {
    /// Whether the instance's event subscription is active (a 410 deactivates it).
    async fn subscription_active(&self, id: i64) -> anyhow::Result<bool>;
    /// Reactivates the subscription; returns how many queued notifications it released.
    async fn reactivate(&self, id: i64) -> anyhow::Result<u64>;
    /// Events stored with `status` since the hub started (`tributary_events_total`).
    async fn events_stored(&self, status: &str) -> anyhow::Result<u64>;
}

impl BenchCalls for Api {
    async fn subscription_active(&self, id: i64) -> anyhow::Result<bool> {
        let body = self
            .call(
                reqwest::Method::GET,
                &format!("/instances/{id}/events/subscription"),
                None,
            )
            .await?;
        Ok(body["active"] == true)
    }

    async fn reactivate(&self, id: i64) -> anyhow::Result<u64> {
        let body = self
            .call(
                reqwest::Method::PUT,
                &format!("/instances/{id}/events/subscription"),
                None,
            )
            .await?;
        Ok(body["released"].as_u64().unwrap_or(0))
    }

    async fn events_stored(&self, status: &str) -> anyhow::Result<u64> {
        let text = self.metrics().await?;
        let label = format!("status=\"{status}\"");
        Ok(text
            .lines()
            .filter(|l| l.starts_with("tributary_events_total{") && l.contains(&label))
            .filter_map(|l| l.rsplit(' ').next()?.parse::<u64>().ok())
            .sum())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn logs_are_grouped_by_message() {
        let log = "\u{1b}[2m2026-11-27T06:35:24Z\u{1b}[0m \u{1b}[33m WARN\u{1b}[0m sqlx::pool::acquire: slow acquire \u{1b}[3macquired_after_secs\u{1b}[0m=2.6\n\
                   2026-11-27T06:35:25Z  WARN sqlx::pool::acquire: slow acquire acquired_after_secs=2.7\n\
                   2026-11-27T06:35:26Z ERROR tributary: other\n";
        assert_eq!(
            summarize(log),
            vec![
                (2, "WARN sqlx::pool::acquire: slow acquire".to_string()),
                (1, "ERROR tributary: other".to_string())
            ]
        );
    }
}
