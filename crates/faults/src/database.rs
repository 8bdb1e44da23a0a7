//! PostgreSQL for the scenarios that need it: a fresh schema per scenario on the shared
//! server, a look at which node holds a poll, and a restart of the server itself.

use std::time::Duration;

use anyhow::{Context, bail};
use sqlx::Connection;
use tokio::time::Instant;

/// A schema of its own on the server, dropped by [`Postgres::drop_schema`] when the scenario
/// passed and left for inspection otherwise.
pub struct Postgres {
    server: String,
    pub schema: String,
}

impl Postgres {
    pub async fn create(server: &str) -> anyhow::Result<Self> {
        let schema = format!("faults_{:012x}", rand_suffix());
        let mut admin = connect(server).await?;
        sqlx::raw_sql(sqlx::AssertSqlSafe(format!("CREATE SCHEMA {schema}")))
            .execute(&mut admin)
            .await
            .context("creating a schema")?;
        Ok(Self {
            server: server.to_string(),
            schema,
        })
    }

    /// The database URL the hubs use: the server, with the schema as their search path.
    pub fn url(&self) -> String {
        let separator = if self.server.contains('?') { '&' } else { '?' };
        format!("{}{separator}options=-c%20search_path%3D{}", self.server, self.schema)
    }

    pub async fn drop_schema(self) -> anyhow::Result<()> {
        let mut admin = connect(&self.server).await?;
        sqlx::raw_sql(sqlx::AssertSqlSafe(format!("DROP SCHEMA {} CASCADE", self.schema)))
            .execute(&mut admin)
            .await?;
        Ok(())
    }

    /// Watches the instance's poll lease for up to `within` and returns the process id of
    /// the first node seen holding it (the hub names lease owners `<pid>-<random>`), or
    /// `None` if no poll was in progress whenever it looked.
    pub async fn catch_poll_lease_holder(&self, instance: i64, within: Duration) -> anyhow::Result<Option<u32>> {
        let mut conn = connect(&self.url()).await?;
        let until = Instant::now() + within;
        while Instant::now() < until {
            let owner: Option<(Option<String>,)> =
                sqlx::query_as("SELECT lease_owner FROM poll_states WHERE instance_id = $1 AND lease_until > $2")
                    .bind(instance)
                    .bind(chrono::Utc::now().timestamp_millis())
                    .fetch_optional(&mut conn)
                    .await?;
            if let Some(pid) = owner
                .and_then(|(owner,)| owner)
                .and_then(|owner| owner.split('-').next()?.parse().ok())
            {
                return Ok(Some(pid));
            }
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
        Ok(None)
    }
}

async fn connect(url: &str) -> anyhow::Result<sqlx::PgConnection> {
    sqlx::PgConnection::connect(url)
        .await
        .with_context(|| format!("PostgreSQL at {url} is unreachable"))
}

fn rand_suffix() -> u64 {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default()
        .as_nanos();
    (nanos as u64 ^ u64::from(std::process::id()).rotate_left(40)) & 0xffff_ffff_ffff
}

/// Refuses to go on when anyone else is connected to the server: a restart would break
/// their connections (the test suite's, another tool's).
pub async fn ensure_alone(server: &str) -> anyhow::Result<()> {
    let mut conn = connect(server).await?;
    let others: Vec<(String,)> = sqlx::query_as(
        "SELECT coalesce(nullif(application_name, ''), 'unnamed') || ' on ' || coalesce(datname, '?') \
         FROM pg_stat_activity WHERE backend_type = 'client backend' AND pid <> pg_backend_pid()",
    )
    .fetch_all(&mut conn)
    .await?;
    if !others.is_empty() {
        let names: Vec<String> = others.into_iter().map(|(n,)| n).collect();
        bail!(
            "{} other client(s) are connected to PostgreSQL ({}): restarting the server would break them. \
             Run this scenario when nothing else uses the server (not beside `cargo test`).",
            names.len(),
            names.join(", ")
        );
    }
    Ok(())
}

/// Restarts this machine's PostgreSQL cluster (`pg_ctlcluster … restart`, which waits for
/// the server to accept connections again); returns how long it took.
pub async fn restart_server() -> anyhow::Result<Duration> {
    let version = std::fs::read_dir("/etc/postgresql")
        .context("no /etc/postgresql: this scenario restarts a Debian PostgreSQL cluster")?
        .filter_map(|entry| entry.ok()?.file_name().into_string().ok())
        .min()
        .context("no cluster under /etc/postgresql")?;
    let started = Instant::now();
    let output = tokio::process::Command::new("pg_ctlcluster")
        .args(["--skip-systemctl-redirect", &version, "main", "restart"])
        .output()
        .await
        .context("running pg_ctlcluster")?;
    if !output.status.success() {
        bail!(
            "pg_ctlcluster {version} main restart failed ({}): {}",
            output.status,
            String::from_utf8_lossy(&output.stderr).trim()
        );
    }
    Ok(started.elapsed())
}
