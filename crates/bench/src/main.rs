//! `tributary-bench`: measures the Tributary hub on this machine, on loopback, against what
//! the machine can do at all.
//!
//! Everything runs locally: the hub (the `tributary` binary beside this one, as a child
//! process, on SQLite or PostgreSQL), the Hootsuite simulator (in this process), a load
//! generator speaking Hootsuite's webhook format, a sink that checks every notification's
//! signature, and a no-op server on the same stack for the ceiling. Each run prints a table
//! and writes JSON under `bench-results/`. See BENCHMARKS.md for the figures and what they mean.
//!
//! The exit status says whether the machinery worked (everything started, every
//! acknowledged event was delivered with a valid signature); it never depends on a timing.

mod database;
mod hub;
mod load;
mod machine;
mod noop;
mod procfs;
mod provider;
mod report;
mod scenarios;
mod sink;

use std::{net::SocketAddr, path::PathBuf, process::ExitCode, time::Duration};

use clap::{Parser, Subcommand};

use crate::{
    database::Engine,
    scenarios::{Bench, Options},
};

#[derive(Parser)]
#[command(
    name = "tributary-bench",
    about = "Benchmarks of the Tributary hub on loopback, beside the machine's no-op ceiling",
    after_help = "Build the hub with it first: cargo build --release -p tributary -p tributary-bench"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Webhook events acknowledged per second at saturation; latency at fixed rates.
    Ingest(Args),
    /// Latency from the provider's POST to the signed notification at the sink.
    E2e(Args),
    /// Notifications per second to a fast sink from a parked backlog.
    Delivery(Args),
    /// Instances polled per second against the simulator.
    Polling(Args),
    /// Peak RSS and start to ready with a large backlog.
    Memory(Args),
    /// Peak RSS and latency while maximum-size webhooks arrive.
    Large(Args),
    /// The same loads against a no-op server, the sink and the simulator alone.
    Ceiling(Args),
    /// Every scenario above, in that order after the ceiling.
    All(Args),
    /// Every scenario for a second or two at tiny sizes; exits 0 when the machinery works.
    Smoke(Args),
    /// The ceiling's server (started by the bench itself).
    #[command(hide = true)]
    NoopServer {
        #[arg(long)]
        listen: SocketAddr,
    },
}

#[derive(clap::Args)]
struct Args {
    /// The hub's database: a SQLite file, or a fresh schema on the PostgreSQL server.
    #[arg(long, value_enum, default_value = "sqlite")]
    database: Engine,
    /// The PostgreSQL server and database the schemas are created in.
    #[arg(
        long,
        env = "TEST_POSTGRES_URL",
        default_value = "postgres://postgres@127.0.0.1:5432/test"
    )]
    postgres_url: String,
    /// The hub binary (default: `tributary` beside this binary).
    #[arg(long)]
    hub_bin: Option<PathBuf>,
    /// An extra hub setting, e.g. `TRIBUTARY_DATABASE__SQLITE_SYNCHRONOUS=normal` (repeatable).
    #[arg(long = "hub-env", value_name = "KEY=VALUE", value_parser = key_value)]
    hub_env: Vec<(String, String)>,
    /// Seconds each measured phase lasts.
    #[arg(long, default_value_t = 10.0)]
    duration: f64,
    /// Seconds of load before each phase is measured.
    #[arg(long, default_value_t = 2.0)]
    warmup: f64,
    /// Connections of the closed loops (saturation, backlogs, ceilings).
    #[arg(long, default_value_t = 64)]
    connections: usize,
    /// Webhook instances the load is spread over.
    #[arg(long, default_value_t = 10)]
    instances: usize,
    /// Fixed rates, in events per second.
    #[arg(long, value_delimiter = ',', default_values_t = [1000u64, 5000])]
    rates: Vec<u64>,
    /// Events per webhook POST.
    #[arg(long, value_delimiter = ',', default_values_t = [1usize, 20])]
    batches: Vec<usize>,
    /// Notifications in the delivery scenario's backlog.
    #[arg(long, default_value_t = 100_000)]
    backlog: u64,
    /// Events in the memory scenario's backlog.
    #[arg(long, default_value_t = 1_000_000)]
    memory_backlog: u64,
    /// Events per POST while building the memory scenario's backlog.
    #[arg(long, default_value_t = 1)]
    memory_batch: usize,
    /// Seconds the memory scenario delivers from its backlog.
    #[arg(long, default_value_t = 20.0)]
    memory_deliver: f64,
    /// Events in each of the large scenario's webhooks (the hub's
    /// events.max_events_per_webhook by default).
    #[arg(long, default_value_t = 5000)]
    large_events: usize,
    /// Bytes of each of the large scenario's webhooks, at most (the hub's
    /// events.max_body_bytes by default).
    #[arg(long, default_value_t = 1024 * 1024)]
    large_bytes: usize,
    /// Instances (each its own Hootsuite account) in the polling scenario.
    #[arg(long, default_value_t = 1000)]
    poll_instances: usize,
    /// Messages each polled account has scheduled.
    #[arg(long, default_value_t = 5)]
    poll_messages: usize,
    /// Seconds to wait for notifications still on their way.
    #[arg(long, default_value_t = 120.0)]
    drain_timeout: f64,
    /// Where the JSON results go.
    #[arg(long, default_value = "bench-results")]
    out_dir: PathBuf,
}

fn key_value(text: &str) -> Result<(String, String), String> {
    text.split_once('=')
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .ok_or_else(|| format!("expected KEY=VALUE, got {text:?}"))
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Scenario {
    Ingest,
    E2e,
    Delivery,
    Polling,
    Memory,
    Large,
    Ceiling,
}

impl Scenario {
    const ALL: [Scenario; 7] = [
        Scenario::Ceiling,
        Scenario::Ingest,
        Scenario::E2e,
        Scenario::Delivery,
        Scenario::Polling,
        Scenario::Memory,
        Scenario::Large,
    ];

    async fn run(self, bench: &mut Bench) -> anyhow::Result<()> {
        match self {
            Scenario::Ingest => scenarios::ingest::run(bench).await,
            Scenario::E2e => scenarios::e2e::run(bench).await,
            Scenario::Delivery => scenarios::delivery::run(bench).await,
            Scenario::Polling => scenarios::polling::run(bench).await,
            Scenario::Memory => scenarios::memory::run(bench).await,
            Scenario::Large => scenarios::large::run(bench).await,
            Scenario::Ceiling => scenarios::ceiling::run(bench).await,
        }
    }
}

#[tokio::main]
async fn main() -> ExitCode {
    let (name, scenarios, args, smoke) = match Cli::parse().command {
        Command::NoopServer { listen } => {
            return match noop::serve(listen).await {
                Ok(()) => ExitCode::SUCCESS,
                Err(error) => {
                    eprintln!("noop-server: {error:#}");
                    ExitCode::FAILURE
                }
            };
        }
        Command::Ingest(args) => ("ingest", vec![Scenario::Ingest], args, false),
        Command::E2e(args) => ("e2e", vec![Scenario::E2e], args, false),
        Command::Delivery(args) => ("delivery", vec![Scenario::Delivery], args, false),
        Command::Polling(args) => ("polling", vec![Scenario::Polling], args, false),
        Command::Memory(args) => ("memory", vec![Scenario::Memory], args, false),
        Command::Large(args) => ("large", vec![Scenario::Large], args, false),
        Command::Ceiling(args) => ("ceiling", vec![Scenario::Ceiling], args, false),
        Command::All(args) => ("all", Scenario::ALL.to_vec(), args, false),
        Command::Smoke(args) => ("smoke", Scenario::ALL.to_vec(), args, true),
    };
    let finished = tokio::select! {
        outcome = run(name, &scenarios, args, smoke) => Some(outcome),
        () = interrupted() => None,
    };
    let Some(outcome) = finished else {
        // The run is dropped by now, and with it the processes it started, which kills them;
        // left running, a hub or a no-op server would skew whatever is measured next. Then
        // its PostgreSQL schema can go too.
        database::drop_leftovers().await;
        eprintln!("tributary-bench: interrupted; the processes it started are stopped");
        return ExitCode::from(130);
    };
    match outcome {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(error) => {
            eprintln!("tributary-bench: {error:#}");
            ExitCode::FAILURE
        }
    }
}

/// Ctrl-C or SIGTERM: either would otherwise end the bench without running destructors.
async fn interrupted() {
    let mut terminate =
        tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).expect("SIGTERM can be caught");
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = terminate.recv() => {}
    }
}

/// Runs the scenarios, prints and writes the report; true when no problem was met.
async fn run(name: &str, scenarios: &[Scenario], args: Args, smoke: bool) -> anyhow::Result<bool> {
    let hub_bin = match args.hub_bin {
        Some(bin) => bin,
        None => tributary_harness::hub::binary_dir()?.join("tributary"),
    };
    anyhow::ensure!(
        hub_bin.is_file(),
        "no hub binary at {}; build it beside the bench: cargo build --release -p tributary -p tributary-bench",
        hub_bin.display()
    );
    let seconds = |s: f64| Duration::from_secs_f64(s.max(0.0));
    let mut opts = Options {
        engine: args.database,
        postgres_url: args.postgres_url,
        hub_bin,
        hub_env: args.hub_env,
        duration: seconds(args.duration),
        warmup: seconds(args.warmup),
        connections: args.connections.max(1),
        instances: args.instances.max(1),
        rates: args.rates,
        batches: args.batches,
        backlog: args.backlog,
        memory_backlog: args.memory_backlog,
        memory_batch: args.memory_batch.max(1),
        memory_deliver: seconds(args.memory_deliver),
        large_events: args.large_events.max(1),
        large_bytes: args.large_bytes,
        poll_instances: args.poll_instances.max(1),
        poll_messages: args.poll_messages,
        drain_timeout: seconds(args.drain_timeout),
    };
    if smoke {
        opts = opts.smoke();
    }
    let machine = machine::Machine::describe(&std::env::temp_dir());
    println!("{}", machine.headline());
    println!("hub {}, database {}", opts.hub_bin.display(), opts.engine.name());
    let mut report = report::Report::new(name, opts.engine.name(), machine);
    report.options = serde_json::to_value(&opts)?;
    let mut bench = Bench::new(opts, report);
    let mut failed = None;
    for scenario in scenarios {
        println!("\n== {scenario:?}");
        if let Err(error) = scenario.run(&mut bench).await {
            failed = Some(error.context(format!("scenario {scenario:?}")));
            break;
        }
    }
    bench.report.print_table();
    let path = bench.report.write_json(&args.out_dir)?;
    println!("\nresults: {}", path.display());
    if let Some(error) = failed {
        return Err(error);
    }
    for problem in &bench.problems {
        eprintln!("problem: {problem}");
    }
    Ok(bench.problems.is_empty())
}
