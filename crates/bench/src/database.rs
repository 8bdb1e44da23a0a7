//! The hub's database for one scenario: a SQLite file in a fresh data directory, or a fresh
//! PostgreSQL schema (selected through `search_path`, as the hub's own tests do), dropped
//! afterwards.

use anyhow::Context;
use sqlx::Connection;

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Engine {
    Sqlite,
    Postgres,
}

impl Engine {
    pub fn name(self) -> &'static str {
        match self {
            Engine::Sqlite => "sqlite",
            Engine::Postgres => "postgres",
        }
    }
}

/// PostgreSQL schemas created and not yet dropped (server URL, schema), so that an
/// interrupted run can still drop them.
static CREATED: std::sync::Mutex<Vec<(String, String)>> = std::sync::Mutex::new(Vec::new());

/// A scenario's database. The data directory holds the master key (and the SQLite file).
pub struct Database {
    pub data_dir: tempfile::TempDir,
    postgres: Option<(String, String)>,
}

impl Database {
    /// A fresh database of `engine`; `postgres_url` names the server and database.
    pub async fn create(engine: Engine, postgres_url: &str) -> anyhow::Result<Self> {
        let data_dir = tempfile::Builder::new().prefix("tributary-bench-").tempdir()?;
        let postgres = match engine {
            Engine::Sqlite => None,
            Engine::Postgres => {
                let schema = format!("bench_{:012x}", rand_suffix());
                let mut admin = sqlx::PgConnection::connect(postgres_url)
                    .await
                    .with_context(|| format!("connecting to PostgreSQL at {postgres_url}"))?;
                sqlx::raw_sql(sqlx::AssertSqlSafe(format!("CREATE SCHEMA {schema}")))
                    .execute(&mut admin)
                    .await?;
                created().push((postgres_url.to_string(), schema.clone()));
                Some((postgres_url.to_string(), schema))
            }
        };
        Ok(Self { data_dir, postgres })
    }

    /// `TRIBUTARY_DATABASE_URL`, or `None` for the hub's default SQLite file in its data
    /// directory.
    pub fn url(&self) -> Option<String> {
        self.postgres.as_ref().map(|(url, schema)| {
            let separator = if url.contains('?') { '&' } else { '?' };
            format!("{url}{separator}options=-c%20search_path%3D{schema}")
        })
    }

    /// Drops the PostgreSQL schema; the data directory goes when `self` is dropped.
    pub async fn remove(self) -> anyhow::Result<()> {
        if let Some((url, schema)) = &self.postgres {
            drop_schema(url, schema).await?;
            created().retain(|(_, created)| created != schema);
        }
        Ok(())
    }
}

fn created() -> std::sync::MutexGuard<'static, Vec<(String, String)>> {
    CREATED.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

async fn drop_schema(url: &str, schema: &str) -> anyhow::Result<()> {
    let mut admin = sqlx::PgConnection::connect(url).await?;
    sqlx::raw_sql(sqlx::AssertSqlSafe(format!("DROP SCHEMA {schema} CASCADE")))
        .execute(&mut admin)
        .await?;
    Ok(())
}

/// Drops the schemas of a run that was interrupted (its hub already stopped); says which
/// could not be dropped, for the operator to drop by hand.
pub async fn drop_leftovers() {
    let leftovers = std::mem::take(&mut *created());
    for (url, schema) in leftovers {
        let dropped = tokio::time::timeout(std::time::Duration::from_secs(10), drop_schema(&url, &schema)).await;
        if !matches!(dropped, Ok(Ok(()))) {
            eprintln!("tributary-bench: could not drop the PostgreSQL schema {schema}; drop it by hand");
        }
    }
}

/// 48 bits that differ between runs and processes, for unique schema names.
fn rand_suffix() -> u64 {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64);
    (nanos ^ (u64::from(std::process::id()) << 32)) & 0xffff_ffff_ffff
}
