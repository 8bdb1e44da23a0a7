//! The scenarios, and the stage they share: the simulator, the callback receiver, a run
//! directory for logs and data, a master key, and the checks that turn a stream into an
//! [`Outcome`].

pub mod crash;
pub mod database;
pub mod nodes;
pub mod outage;
pub mod slow_callback;
pub mod slow_clients;

use std::{collections::HashSet, path::PathBuf, time::Duration};

use tokio::time::Instant;
use tributary_harness::{
    api::{Api, Instance},
    hub,
};

use crate::{
    database::Postgres,
    hub::HubSpec,
    ledger,
    provider::Provider,
    receiver::Receiver,
    report::{Counts, Outcome, seconds},
    sender::{self, Tally},
};

/// Retries every second, ten times: a notification is retried for about 10 s, longer than
/// a killed node's delivery lease (9 s).
pub const QUICK_RETRIES: &str = "[1, 1, 1, 1, 1, 1, 1, 1, 1, 1]";
/// Retries after 1, 2, 4, then every 8 s, ten times (63 s in all): for scenarios where the
/// receiver stays away longer than the quick schedule lasts, as the default schedule (5 s,
/// 5 min, 30 min, … about 33 hours) outlasts most real outages.
pub const PATIENT_RETRIES: &str = "[1, 2, 4, 8, 8, 8, 8, 8, 8, 8]";

/// The hub's database.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Engine {
    Sqlite,
    Postgres,
}

impl std::fmt::Display for Engine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Engine::Sqlite => "sqlite",
            Engine::Postgres => "postgres",
        })
    }
}

pub struct Settings {
    /// Small streams, one fault of each kind: a minute or two in all, for CI.
    pub short: bool,
    pub hub_bin: PathBuf,
    /// The PostgreSQL server the scenarios create their schemas on.
    pub postgres: String,
}

impl Settings {
    /// `short` in the short form, `full` otherwise.
    pub fn size<T>(&self, short: T, full: T) -> T {
        if self.short { short } else { full }
    }

    /// How long the provider keeps re-sending, and how long a drain may take, before the
    /// scenario calls what is missing lost.
    pub fn patience(&self) -> Duration {
        self.size(Duration::from_secs(60), Duration::from_secs(180))
    }
}

pub struct Stage<'a> {
    pub settings: &'a Settings,
    pub provider: Provider,
    pub receiver: Receiver,
    /// Logs and data. Kept when the scenario fails, for the evidence.
    pub dir: tempfile::TempDir,
    pub master_key: String,
}

impl<'a> Stage<'a> {
    /// `hold`: how long the receiver holds each notification before answering.
    pub async fn new(settings: &'a Settings, hold: Duration) -> anyhow::Result<Self> {
        let mut dir = tempfile::Builder::new().prefix("tributary-faults-").tempdir()?;
        dir.disable_cleanup(true);
        Ok(Self {
            settings,
            provider: Provider::start().await?,
            receiver: Receiver::start(hold).await?,
            dir,
            master_key: tributary::crypto::MasterKey::generate().to_base64(),
        })
    }

    /// A hub named `name` on a free port. `database_url: None` keeps SQLite in `data_dir`.
    pub fn spec(
        &self,
        name: &str,
        data_dir: PathBuf,
        database_url: Option<String>,
        retry_schedule: &str,
    ) -> anyhow::Result<HubSpec> {
        std::fs::create_dir_all(&data_dir)?;
        Ok(HubSpec {
            bin: self.settings.hub_bin.clone(),
            name: name.to_string(),
            port: hub::free_port()?,
            data_dir,
            database_url,
            master_key: self.master_key.clone(),
            sim_url: self.provider.base_url(),
            retry_schedule: retry_schedule.to_string(),
            log: self.dir.path().join(format!("{name}.log")),
        })
    }

    /// Authorizes at the simulator and creates an instance whose notifications go to the
    /// receiver, which learns its signing secret.
    pub async fn instance(&self, api: &Api, name: &str) -> anyhow::Result<Instance> {
        let code = self.provider.consent().await?;
        let instance = api.create_instance(&code, &self.receiver.url(), "Faults", name).await?;
        self.receiver.trust(instance.id, &instance.secret)?;
        Ok(instance)
    }

    /// Waits until every acknowledged event of `instance` arrived and the hub's backlog is
    /// empty (asking the first node that answers); returns how long that took.
    pub async fn drain(&self, instance: &Instance, acknowledged: &HashSet<String>, nodes: &[Api]) -> Option<Duration> {
        let started = Instant::now();
        while started.elapsed() < self.settings.patience() {
            let copies = self.receiver.copies(instance.id);
            if acknowledged.iter().all(|seq| copies.contains_key(seq)) {
                for node in nodes {
                    if let Ok(backlog) = node.backlog().await {
                        if backlog == 0 {
                            return Some(started.elapsed());
                        }
                        break;
                    }
                }
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        None
    }

    /// The outcome of a webhook stream to `instance`: counts and broken guarantees.
    pub fn webhook_outcome(
        &self,
        name: String,
        instance: &Instance,
        tally: &Tally,
        drain: Option<Duration>,
    ) -> Outcome {
        let verdict = ledger::reconcile(&tally.sent, &tally.acknowledged, &self.receiver.copies(instance.id));
        let (unavailable, other, unreachable) = sender::answer_counts(&tally.attempts);
        let mut violations = Vec::new();
        let never_acknowledged: Vec<&String> = tally
            .sent
            .iter()
            .filter(|seq| !tally.acknowledged.contains(*seq))
            .collect();
        if !never_acknowledged.is_empty() {
            violations.push(format!(
                "{} events were never acknowledged, however often the sender tried: {}",
                never_acknowledged.len(),
                ledger::sample(&never_acknowledged)
            ));
        }
        if !verdict.lost.is_empty() {
            violations.push(format!(
                "{} acknowledged events never reached the receiver: {}",
                verdict.lost.len(),
                ledger::sample(&verdict.lost)
            ));
        }
        if !verdict.stored_twice.is_empty() {
            violations.push(format!(
                "{} events arrived under two webhook-ids, so the hub stored them twice: {}",
                verdict.stored_twice.len(),
                ledger::sample(&verdict.stored_twice)
            ));
        }
        if !verdict.unexpected.is_empty() {
            violations.push(format!(
                "{} events arrived that were never sent: {}",
                verdict.unexpected.len(),
                ledger::sample(&verdict.unexpected)
            ));
        }
        let notifications: Vec<_> = self
            .receiver
            .notifications()
            .into_iter()
            .filter(|n| n.instance == instance.id)
            .collect();
        let inconsistent = ledger::inconsistent(&notifications);
        if !inconsistent.is_empty() {
            violations.push(format!(
                "{} notifications report events their raw body does not hold: {}",
                inconsistent.len(),
                ledger::sample(&inconsistent)
            ));
        }
        violations.extend(self.receiver_violations());
        if drain.is_none() {
            violations.push(format!(
                "the backlog did not drain within {}",
                seconds(self.settings.patience())
            ));
        }
        Outcome {
            name,
            counts: Counts {
                sent: tally.sent.len(),
                acknowledged: Some(tally.acknowledged.len()),
                delivered: verdict.delivered,
                lost: verdict.lost.len(),
                duplicates: verdict.duplicates,
                unavailable: Some(unavailable),
                other_errors: Some(other),
                unreachable: Some(unreachable),
                drain,
            },
            notes: vec![format!(
                "{} notifications, {} POSTs by the sender",
                notifications.len(),
                tally.attempts.len()
            )],
            violations,
        }
    }

    /// What the receiver saw wrong, whatever the instance: bad signatures, the same
    /// notification in flight twice at once.
    pub fn receiver_violations(&self) -> Vec<String> {
        let mut violations = Vec::new();
        let rejected = self.receiver.rejected();
        if !rejected.is_empty() {
            violations.push(format!(
                "{} notifications failed the receiver's checks: {}",
                rejected.len(),
                ledger::sample(&rejected)
            ));
        }
        let overlaps = self.receiver.overlaps();
        if !overlaps.is_empty() {
            violations.push(format!(
                "{} notifications were in flight twice at once (sent by two nodes): {}",
                overlaps.len(),
                ledger::sample(&overlaps)
            ));
        }
        violations
    }

    /// Removes the run directory and the PostgreSQL schema if every outcome passed;
    /// otherwise says where they are.
    pub async fn finish(self, outcomes: &mut [Outcome], postgres: Option<Postgres>) {
        if outcomes.iter().all(Outcome::passed) {
            let _ = std::fs::remove_dir_all(self.dir.path());
            if let Some(postgres) = postgres
                && let Err(error) = postgres.drop_schema().await
            {
                eprintln!("could not drop a schema: {error:#}");
            }
        } else if let Some(last) = outcomes.last_mut() {
            last.notes
                .push(format!("hub logs and data kept in {}", self.dir.path().display()));
            if let Some(postgres) = postgres {
                last.notes.push(format!("PostgreSQL schema kept: {}", postgres.schema));
            }
        }
    }
}
