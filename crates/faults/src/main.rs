//! `tributary-faults`: the fault-injection suite of the Tributary hub (issue 6).
//!
//! Hubs run as real processes of the `tributary` binary beside this one, on loopback, with
//! the Hootsuite simulator in this process, a provider that re-sends what was not
//! acknowledged, and a receiver that checks and records every notification. Each scenario
//! breaks something while events flow (the hub, the callback receiver, the database, one
//! node of several, clients that hold connections, one callback server silent) and then
//! checks the guarantees of docs/reliability.md: every acknowledged event delivered at least
//! once, a duplicate only ever the same notification again, 503 (never 200) while the
//! database cannot write, no notification sent by two nodes at once, each polled change
//! reported once, webhooks acknowledged within a second while slow clients hold the
//! receiver, and other instances' notifications on time while one callback is silent.
//!
//! It prints a table of counts per scenario and exits non-zero when a guarantee broke or a
//! scenario could not run.

mod api;
mod database;
mod hub;
mod ledger;
mod mounts;
mod provider;
mod receiver;
mod report;
mod scenarios;
mod sender;

use std::{path::PathBuf, process::ExitCode};

use clap::{Parser, ValueEnum};
use tokio::time::Instant;
use tributary_harness::machine;

use crate::{
    report::{Counts, Outcome, seconds},
    scenarios::Settings,
};

#[derive(Parser)]
#[command(
    name = "tributary-faults",
    about = "Fault-injection suite of the Tributary hub: crash, callback outage, a silent callback, database faults, several nodes, slow clients",
    after_help = "Needs root (tmpfs and loop mounts), PostgreSQL on the machine (restarted by \
                  database-postgres: run that alone, not beside `cargo test`), and the tributary binary \
                  beside this one (built first under `cargo run`)."
)]
struct Cli {
    #[arg(value_enum)]
    scenario: Which,
    /// Small streams and short faults: a minute or two in all (CI runs this).
    #[arg(long)]
    short: bool,
    /// The PostgreSQL server and database the scenarios create their schemas on.
    #[arg(
        long,
        env = "TEST_POSTGRES_URL",
        default_value = "postgres://postgres@127.0.0.1:5432/test"
    )]
    postgres: String,
    /// The hub binary (default: `tributary` beside this binary).
    #[arg(long)]
    hub_bin: Option<PathBuf>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Which {
    /// kill -9 the hub mid-stream and restart it.
    Crash,
    /// The callback receiver down, then failing, then back.
    Outage,
    /// One instance's callback never answers while others' events flow.
    SlowCallback,
    /// PostgreSQL restarted under load.
    DatabasePostgres,
    /// SQLite's disk full, and its filesystem read-only.
    DatabaseSqlite,
    /// Three hubs on one PostgreSQL, one killed under load.
    Nodes,
    /// Hundreds of connections trickling bodies and headers while webhooks stream.
    SlowClients,
    /// Every scenario above, in that order.
    All,
}

const EVERY: [Which; 7] = [
    Which::Crash,
    Which::Outage,
    Which::SlowCallback,
    Which::DatabasePostgres,
    Which::DatabaseSqlite,
    Which::Nodes,
    Which::SlowClients,
];

impl Which {
    fn name(self) -> &'static str {
        match self {
            Which::Crash => "crash",
            Which::Outage => "outage",
            Which::SlowCallback => "slow-callback",
            Which::DatabasePostgres => "database-postgres",
            Which::DatabaseSqlite => "database-sqlite",
            Which::Nodes => "nodes",
            Which::SlowClients => "slow-clients",
            Which::All => "all",
        }
    }

    async fn run(self, settings: &Settings) -> anyhow::Result<Vec<Outcome>> {
        match self {
            Which::Crash => scenarios::crash::run(settings).await,
            Which::Outage => scenarios::outage::run(settings).await,
            Which::SlowCallback => scenarios::slow_callback::run(settings).await,
            Which::DatabasePostgres => scenarios::database::postgres(settings).await,
            Which::DatabaseSqlite => scenarios::database::sqlite(settings).await,
            Which::Nodes => scenarios::nodes::run(settings).await,
            Which::SlowClients => scenarios::slow_clients::run(settings).await,
            Which::All => unreachable!("`all` is expanded before running"),
        }
    }
}

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    let hub_bin = match hub::locate(cli.hub_bin) {
        Ok(bin) => bin,
        Err(error) => {
            eprintln!("tributary-faults: {error:#}");
            return ExitCode::FAILURE;
        }
    };
    println!("machine: {}", machine());
    println!(
        "command: tributary-faults {}",
        std::env::args().skip(1).collect::<Vec<_>>().join(" ")
    );
    println!("hub: {}", hub_bin.display());
    let settings = Settings {
        short: cli.short,
        hub_bin,
        postgres: cli.postgres,
    };
    let which: Vec<Which> = if cli.scenario == Which::All {
        EVERY.to_vec()
    } else {
        vec![cli.scenario]
    };
    let mut outcomes = Vec::new();
    let run = async {
        for scenario in which {
            let started = Instant::now();
            println!("{}: running", scenario.name());
            let found = match scenario.run(&settings).await {
                Ok(found) => found,
                Err(error) => vec![could_not_run(scenario, &error)],
            };
            let passed = found.iter().all(Outcome::passed);
            println!(
                "{}: {} in {}",
                scenario.name(),
                if passed { "ok" } else { "BROKEN" },
                seconds(started.elapsed())
            );
            outcomes.extend(found);
        }
    };
    // Interrupted, the scenario in progress is dropped: its hubs are killed and its mounts
    // undone before the suite exits.
    tokio::select! {
        () = run => {}
        _ = tokio::signal::ctrl_c() => {
            eprintln!("interrupted");
            return ExitCode::from(130);
        }
    }
    report::print(&outcomes);
    if outcomes.iter().all(Outcome::passed) {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

fn could_not_run(scenario: Which, error: &anyhow::Error) -> Outcome {
    Outcome {
        name: scenario.name().to_string(),
        counts: Counts::default(),
        notes: Vec::new(),
        violations: vec![format!("the scenario could not run: {error:#}")],
    }
}

/// CPU, cores, memory and kernel, for the record of a run.
fn machine() -> String {
    let cpu = machine::cpu().unwrap_or_else(|| "unknown CPU".into());
    let cores = std::thread::available_parallelism().map_or(0, usize::from);
    let memory_gib = machine::memory_kib().map_or(0, |kib| kib >> 20);
    format!("{cpu}, {cores} cores, {memory_gib} GiB, Linux {}", machine::kernel())
}
