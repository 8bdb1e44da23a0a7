//! Hubs under test: the `tributary` binary as child processes, configured only through their
//! environment, so that `kill -9` is a real crash: no destructor, no flush, no goodbye.

use std::{
    path::{Path, PathBuf},
    time::Duration,
};

use anyhow::{Context, bail};
use tributary_harness::{
    api::{Api, Instance},
    hub::{self, Process},
};

/// How to start one hub process; the same spec restarts it on the same port, database and key.
#[derive(Debug, Clone)]
pub struct HubSpec {
    pub bin: PathBuf,
    /// Names its log file and its lines in the report.
    pub name: String,
    pub port: u16,
    pub data_dir: PathBuf,
    /// `None`: the SQLite file in `data_dir`.
    pub database_url: Option<String>,
    pub master_key: String,
    pub sim_url: String,
    /// `delivery.retry_schedule_secs`, as TOML: `[1, 1, 1]`.
    pub retry_schedule: String,
    /// Where stderr goes; kept away from `data_dir`, which a scenario may fill or break.
    pub log: PathBuf,
}

impl HubSpec {
    /// `http://127.0.0.1:<port>`.
    pub fn base(&self) -> String {
        hub::base(self.port)
    }

    /// The hub's API on this node, as the organization whose header is `auth`.
    pub fn api(&self, auth: String) -> Api {
        Api {
            http: reqwest::Client::builder()
                .timeout(Duration::from_secs(10))
                .build()
                .expect("an HTTP client"),
            base: self.base(),
            auth,
        }
    }

    /// The instance's webhook URL on this node: every node gives it the same path and query.
    pub fn webhook(&self, instance: &Instance) -> String {
        let url = &instance.webhook_url;
        match url.query() {
            Some(query) => format!("{}{}?{query}", self.base(), url.path()),
            None => format!("{}{}", self.base(), url.path()),
        }
    }
}

/// A running hub process; killed if dropped.
pub struct Hub {
    pub spec: HubSpec,
    pub pid: u32,
    process: Process,
}

impl Hub {
    /// Starts the hub and waits until it is ready.
    pub async fn start(spec: &HubSpec) -> anyhow::Result<Self> {
        let mut command = hub::command(
            &spec.bin,
            spec.port,
            &spec.data_dir,
            &spec.sim_url,
            spec.database_url.as_deref(),
        );
        command
            .current_dir(spec.log.parent().unwrap_or(Path::new(".")))
            .env("TRIBUTARY_MASTER_KEY", &spec.master_key)
            // The delivery lease is 2 × timeout + 5 s: a killed node's deliveries come back in 9 s.
            .env("TRIBUTARY_DELIVERY__TIMEOUT_SECS", "2")
            .env("TRIBUTARY_DELIVERY__RETRY_SCHEDULE_SECS", &spec.retry_schedule)
            .env("TRIBUTARY_DELIVERY__RETRY_JITTER", "0")
            // A killed node's polls taken over after 5 s.
            .env("TRIBUTARY_POLLING__LEASE_SECS", "5");
        let mut process = Process::spawn(command, &spec.name, &spec.log)?;
        process
            .wait_ready(
                &reqwest::Client::new(),
                &spec.base(),
                Duration::from_secs(60),
                Duration::from_millis(20),
            )
            .await?;
        Ok(Self {
            spec: spec.clone(),
            pid: process.pid,
            process,
        })
    }

    /// The `Authorization` header the hub printed when it bootstrapped an empty database.
    pub async fn credentials(&mut self) -> anyhow::Result<String> {
        self.process.credentials().await
    }

    /// SIGKILL, and waits until the process is gone.
    pub async fn kill(mut self) -> anyhow::Result<()> {
        self.process.kill().await
    }

    /// Whether the process still runs.
    pub fn running(&mut self) -> bool {
        matches!(self.process.child.try_wait(), Ok(None))
    }
}

/// The `tributary` binary beside this one. Under `cargo run` it is built first from the same
/// sources, so the suite never tests a stale hub.
pub fn locate(explicit: Option<PathBuf>) -> anyhow::Result<PathBuf> {
    if let Some(bin) = explicit {
        return Ok(bin);
    }
    let dir = hub::binary_dir()?;
    let bin = dir.join("tributary");
    if let (Some(cargo), Some(target_dir)) = (std::env::var_os("CARGO"), dir.parent()) {
        let mut build = std::process::Command::new(cargo);
        build
            .args([
                "build",
                "--quiet",
                "-p",
                "tributary",
                "--bin",
                "tributary",
                "--target-dir",
            ])
            .arg(target_dir);
        if dir.file_name().is_some_and(|p| p == "release") {
            build.arg("--release");
        }
        let status = build.status().context("cargo build -p tributary")?;
        if !status.success() {
            bail!("cargo build -p tributary failed ({status})");
        }
    }
    if !bin.exists() {
        bail!(
            "no hub binary at {}: build it with `cargo build -p tributary -p tributary-faults`, or pass --hub-bin",
            bin.display()
        );
    }
    Ok(bin)
}
