//! The hub as a child process: the `tributary` binary beside the tool, configured only
//! through its environment, listening on a loopback port, its stderr appended to a log file
//! and its stdout watched for the credentials it prints when it bootstraps a database.

use std::{
    net::TcpListener,
    path::{Path, PathBuf},
    process::Stdio,
    time::Duration,
};

use anyhow::{Context, bail};
use tokio::{
    io::{AsyncBufReadExt, BufReader},
    process::{Child, Command},
    sync::oneshot,
    time::Instant,
};

/// What the hub prints, once, on the first start of a database.
const CREDENTIALS_PREFIX: &str = "Authorization: ";

/// The directory of the running tool, where cargo also puts the `tributary` binary built
/// with it.
pub fn binary_dir() -> anyhow::Result<PathBuf> {
    let exe = std::env::current_exe()?;
    exe.parent()
        .map(Path::to_path_buf)
        .context("this binary has no directory")
}

/// A free port on loopback, for a hub that must come back on the same one.
pub fn free_port() -> anyhow::Result<u16> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

/// `http://127.0.0.1:<port>`: the hub's public URL and the base of its API.
pub fn base(port: u16) -> String {
    format!("http://127.0.0.1:{port}")
}

/// The hub's command with the settings both tools give it; each adds its own.
pub fn command(bin: &Path, port: u16, data_dir: &Path, sim_url: &str, database_url: Option<&str>) -> Command {
    let mut command = Command::new(bin);
    // Inherited settings would change what is measured or tested (and unknown keys are
    // errors).
    for (key, _) in std::env::vars() {
        if key.starts_with("TRIBUTARY_") || key == "RUST_LOG" {
            command.env_remove(key);
        }
    }
    command
        .env("TRIBUTARY_LISTEN", format!("127.0.0.1:{port}"))
        .env("TRIBUTARY_PUBLIC_URL", base(port))
        .env("TRIBUTARY_DATA_DIR", data_dir)
        .env("TRIBUTARY_PROVIDERS__HOOTSUITE__BASE_URL", sim_url)
        .env("TRIBUTARY_LOG__FILTER", "warn")
        // `event.poller.refresh_interval` in seconds, so that instances can poll every second.
        .env("TRIBUTARY_POLLING__INTERVAL_UNIT_SECS", "1")
        .env("TRIBUTARY_POLLING__MIN_INTERVAL_SECS", "1")
        // Notifications go to a server on loopback, which the SSRF guard refuses otherwise.
        .env("TRIBUTARY_DELIVERY__ALLOW_NETWORKS", r#"["127.0.0.0/8"]"#)
        // Both tools send one instance's webhooks faster than a deployment's limit allows.
        .env("TRIBUTARY_LIMITS__RECEIVER_PER_INSTANCE_PER_SECOND", "0");
    if let Some(url) = database_url {
        command.env("TRIBUTARY_DATABASE_URL", url);
    }
    command
}

/// A running hub process; killed if dropped.
pub struct Process {
    pub child: Child,
    pub pid: u32,
    /// Names the hub in errors.
    name: String,
    log: PathBuf,
    credentials: Option<oneshot::Receiver<String>>,
}

impl Process {
    /// Starts `command`, its stderr appended to `log`.
    pub fn spawn(mut command: Command, name: &str, log: &Path) -> anyhow::Result<Self> {
        let stderr = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(log)
            .with_context(|| format!("opening {}", log.display()))?;
        let mut child = command
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(stderr)
            .kill_on_drop(true)
            .spawn()
            .with_context(|| {
                format!(
                    "starting the hub {}",
                    Path::new(command.as_std().get_program()).display()
                )
            })?;
        let pid = child.id().context("the hub has no pid")?;
        let credentials = watch_stdout(&mut child);
        Ok(Self {
            child,
            pid,
            name: name.to_string(),
            log: log.to_path_buf(),
            credentials: Some(credentials),
        })
    }

    /// Asks `<base>/ready` every `every` until it answers 200; fails with the end of the log
    /// if the process exits first or is not ready `within`.
    pub async fn wait_ready(
        &mut self,
        http: &reqwest::Client,
        base: &str,
        within: Duration,
        every: Duration,
    ) -> anyhow::Result<()> {
        let ready = format!("{base}/ready");
        let started = Instant::now();
        loop {
            let answer = http.get(&ready).timeout(Duration::from_secs(2)).send().await;
            if answer.is_ok_and(|r| r.status().is_success()) {
                return Ok(());
            }
            if let Some(status) = self.child.try_wait()? {
                bail!(
                    "{} exited ({status}) before it was ready:\n{}",
                    self.name,
                    tail(&self.log)
                );
            }
            if started.elapsed() > within {
                bail!(
                    "{} was not ready after {} s:\n{}",
                    self.name,
                    within.as_secs(),
                    tail(&self.log)
                );
            }
            tokio::time::sleep(every).await;
        }
    }

    /// The `Authorization` header the hub printed when it bootstrapped an empty database.
    pub async fn credentials(&mut self) -> anyhow::Result<String> {
        let printed = self.credentials.take().context("the credentials were read already")?;
        // The hub prints them before it serves, so they are there by the time it is ready.
        tokio::time::timeout(Duration::from_secs(10), printed)
            .await
            .ok()
            .and_then(Result::ok)
            .with_context(|| format!("{} printed no credentials: was its database not empty?", self.name))
    }

    /// SIGKILL, and waits until the process is gone.
    pub async fn kill(&mut self) -> anyhow::Result<()> {
        self.child.start_kill().context("kill -9")?;
        self.child.wait().await?;
        Ok(())
    }
}

/// Drains the hub's stdout and resolves with the `Authorization` header it prints.
fn watch_stdout(child: &mut Child) -> oneshot::Receiver<String> {
    let (found, credentials) = oneshot::channel();
    let stdout = child.stdout.take().expect("stdout is piped");
    tokio::spawn(async move {
        let mut found = Some(found);
        let mut lines = BufReader::new(stdout).lines();
        while let Ok(Some(line)) = lines.next_line().await {
            if let Some(header) = line.trim().strip_prefix(CREDENTIALS_PREFIX)
                && let Some(found) = found.take()
            {
                let _ = found.send(header.to_string());
            }
        }
    });
    credentials
}

/// The last lines of a hub's log.
pub fn tail(log: &Path) -> String {
    let text = std::fs::read_to_string(log).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(20)..].join("\n")
}
