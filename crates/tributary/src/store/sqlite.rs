//! SQLite backend: the zero-setup default, one file in WAL mode.

use std::{
    fs::{File, TryLockError},
    io::{Read, Write},
    path::{Path, PathBuf},
    str::FromStr,
    sync::{Arc, Weak},
    time::Duration,
};

use sqlx::{
    Connection, Sqlite,
    sqlite::{
        SqliteConnectOptions, SqliteConnection, SqliteJournalMode, SqlitePoolOptions, SqliteQueryResult,
        SqliteSynchronous,
    },
};

use tokio::sync::Notify;

use super::{
    ConnectOptions, StoreError, StoreResult,
    sql::{Dialect, SqlStore, Writes},
};
use crate::crypto;

impl Dialect for Sqlite {
    const BEGIN_WRITE: &'static str = "BEGIN IMMEDIATE";
    const CLAIM_DELIVERIES: &'static str = "UPDATE deliveries SET status = 'inflight', lease_owner = $1, \
         lease_until = $2, attempts = attempts + 1, updated_at = $3 WHERE id IN (SELECT id FROM deliveries \
         WHERE status = 'pending' AND next_attempt_at <= $3 ORDER BY next_attempt_at LIMIT $4) \
         RETURNING id, instance_id, attempts";
    const CLAIM_POLLS: &'static str = "UPDATE poll_states SET lease_owner = $1, lease_until = $2 \
         WHERE instance_id IN (SELECT p.instance_id FROM poll_states p JOIN instances i ON i.id = p.instance_id \
         WHERE p.next_poll_at <= $3 AND (p.lease_until IS NULL OR p.lease_until < $3) \
         AND p.paused_reason IS NULL AND NOT i.disabled ORDER BY p.next_poll_at LIMIT $4) \
         RETURNING instance_id, interval_ms, last_poll_at, failures";
    /// One process owns a SQLite file; it wakes its own workers in memory.
    const ANNOUNCE_DELIVERIES: Option<&'static str> = None;
    const CLAIMS_IN_GROUP_COMMIT: bool = true;
    /// One writer: a transaction runs alone, nothing can change what it read.
    const SHARE_HOLDS: Option<&'static str> = None;
    const LOCK_HOLDS: Option<&'static str> = None;

    fn rows_affected(result: &SqliteQueryResult) -> u64 {
        result.rows_affected()
    }

    /// Anonymous: SQLite finds a numbered or named placeholder by a walk of the statement's
    /// list of names, on preparing and again on binding each value, which made binding a
    /// multi-row statement quadratic (a sixth of the writer thread's time at ingest
    /// saturation).
    fn placeholder(_: usize) -> String {
        "?".to_string()
    }
}

pub type SqliteStore = SqlStore<Sqlite>;

/// Opens (creating if needed) the database file and applies migrations.
pub async fn connect(url: &str, options: &ConnectOptions) -> StoreResult<SqliteStore> {
    let connect = SqliteConnectOptions::from_str(url)?
        .create_if_missing(true)
        .journal_mode(SqliteJournalMode::Wal)
        .synchronous(if options.sqlite_full_sync {
            SqliteSynchronous::Full
        } else {
            SqliteSynchronous::Normal
        })
        .foreign_keys(true)
        // Statement journals (multi-row writes inside a transaction) stay in memory instead
        // of going through a temporary file.
        .pragma("temp_store", "memory")
        .busy_timeout(Duration::from_secs(5));
    let file = connect.get_filename();
    if let Some(dir) = file.parent()
        && !dir.as_os_str().is_empty()
    {
        crypto::create_private_dir(dir).map_err(sqlx::Error::Io)?;
    }
    // Created here rather than by SQLite, which would make it 0644 (less the umask): the
    // database holds credential hashes, sealed secrets and tenants' events. SQLite gives
    // its -wal and -shm files the database file's mode. An existing file keeps its own.
    if let Err(error) = crypto::create_private_file(file)
        && error.kind() != std::io::ErrorKind::AlreadyExists
    {
        return Err(sqlx::Error::Io(error).into());
    }
    let writer = writer_pool()
        .connect_with(
            connect
                .clone()
                .pragma("wal_autocheckpoint", WRITER_CHECKPOINT_PAGES.to_string()),
        )
        .await?;
    sqlx::migrate!("migrations/sqlite").run(&writer).await?;
    let reader = SqlitePoolOptions::new()
        .max_connections(options.max_connections)
        .test_before_acquire(false)
        .connect_with(connect.clone().read_only(true))
        .await?;
    let checkpoints = SqliteConnection::connect_with(&connect).await?;
    let wake = Arc::new(Notify::new());
    tokio::spawn(checkpoint(checkpoints, Arc::downgrade(&wake)));
    Ok(Writes::open_store(reader, writer, wake))
}

/// The database file `url` names.
pub fn database_file(url: &str) -> StoreResult<PathBuf> {
    Ok(SqliteConnectOptions::from_str(url)?.get_filename().to_path_buf())
}

/// Held while this process serves from a SQLite file; the kernel lets go when the process
/// ends, however it ends. SQLite itself would let a second hub open the file, and two hubs
/// on it would each take themselves for the only one: each wakes its own workers in memory
/// and none hears of the other's deliveries.
pub struct ServingLock {
    _file: File,
}

/// Takes `<database>.lock`, beside the database file, exclusively (`flock`), and writes this
/// process's id into it; refuses at once, naming the holder, when another process has it.
/// `tributary admin` takes no lock, so it works beside a serving hub.
pub fn lock_for_serving(url: &str) -> StoreResult<ServingLock> {
    let database = database_file(url)?;
    let mut name = database.clone().into_os_string();
    name.push(".lock");
    let path = PathBuf::from(name);
    let failed = |source| StoreError::Lock {
        path: path.clone(),
        source,
    };
    if let Some(dir) = path.parent()
        && !dir.as_os_str().is_empty()
    {
        crypto::create_private_dir(dir).map_err(failed)?;
    }
    let mut file = open_lock_file(&path).map_err(failed)?;
    match file.try_lock() {
        Ok(()) => {}
        Err(TryLockError::WouldBlock) => {
            let mut holder = String::new();
            file.read_to_string(&mut holder).map_err(failed)?;
            return Err(StoreError::InUse {
                database,
                holder: holder.trim().parse().ok(),
            });
        }
        Err(TryLockError::Error(error)) => return Err(failed(error)),
    }
    file.set_len(0)
        .and_then(|()| writeln!(file, "{}", std::process::id()))
        .map_err(failed)?;
    Ok(ServingLock { _file: file })
}

/// Opens the lock file, creating it private to the hub's user like the database beside it;
/// opening truncates nothing, since the holder's process id is in it.
fn open_lock_file(path: &Path) -> std::io::Result<File> {
    let mut options = std::fs::OpenOptions::new();
    options.read(true).write(true).create(true).truncate(false);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    options.open(path)
}

/// How often the background checkpointer copies the WAL back. On the delivery benchmark
/// 200 ms gave 6 700 notifications/s against 6 060 at 50 ms and 5 450 at 1 s.
const CHECKPOINT_EVERY: Duration = Duration::from_millis(200);

/// WAL pages after which the writer checkpoints by itself (SQLite's default is 1 000). A
/// PASSIVE checkpoint beside a busy writer rarely catches up completely, and only a
/// complete one lets the WAL start over; past this size the writer's own checkpoint, cheap
/// since little is left to copy, bounds the file.
const WRITER_CHECKPOINT_PAGES: u32 = 10_000;

/// Copies the WAL back into the database file on a connection of its own, so the copying
/// and its fsync happen beside the writer rather than inside one of its commits (where
/// SQLite's automatic checkpoint puts them). PASSIVE never blocks the writer or readers;
/// a checkpoint with nothing new to copy costs a look at the WAL index. Runs for as long
/// as the store lives: its wake-up signal stands for it, gone when the store is.
async fn checkpoint(mut conn: SqliteConnection, store: Weak<Notify>) {
    let mut ticks = tokio::time::interval(CHECKPOINT_EVERY);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut failing = false;
    loop {
        ticks.tick().await;
        if store.strong_count() == 0 {
            return;
        }
        match sqlx::query("PRAGMA wal_checkpoint(PASSIVE)").execute(&mut conn).await {
            // Said once, not five times a second; the writer checkpoints by itself
            // meanwhile, past WRITER_CHECKPOINT_PAGES.
            Err(error) if !failing => {
                tracing::warn!(%error, "background WAL checkpoints are failing");
                failing = true;
            }
            Err(_) => {}
            Ok(_) if failing => {
                tracing::info!("background WAL checkpoints work again");
                failing = false;
            }
            Ok(_) => {}
        }
    }
}

/// The single writing connection. A local file connection does not go stale; pinging it
/// before each use would cost a round trip through sqlx's worker thread on every batch.
fn writer_pool() -> SqlitePoolOptions {
    SqlitePoolOptions::new()
        .max_connections(1)
        .test_before_acquire(false)
        .after_release(|conn, _| Box::pin(async move { still_usable(conn).await }))
}

/// Whether a connection coming back from a transaction may serve again. When a disk fills
/// or fails, SQLite rolls the transaction back by itself; sqlx's own ROLLBACK then fails and
/// it keeps counting the connection as inside a transaction, so every later BEGIN on it would
/// be refused until restart. Such a connection is closed and the pool opens a fresh one.
async fn still_usable(conn: &mut SqliteConnection) -> Result<bool, sqlx::Error> {
    // A committed batch, the usual case, costs no round trip here.
    if !conn.is_in_transaction() {
        return Ok(true);
    }
    // Lets a rollback queued by a dropped transaction run, then looks again.
    conn.ping().await?;
    Ok(!conn.is_in_transaction())
}

#[cfg(test)]
mod tests {
    use sqlx::{Executor, Row};

    use super::*;

    /// The writer leaves checkpoints to the background below WRITER_CHECKPOINT_PAGES, so
    /// without the checkpointer the migrated schema would stay in the WAL.
    #[tokio::test]
    async fn the_background_checkpointer_copies_the_wal_into_the_database() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.db");
        let options = ConnectOptions {
            max_connections: 2,
            sqlite_full_sync: false,
        };
        let store = connect(&format!("sqlite://{}", path.display()), &options)
            .await
            .unwrap();
        let schema_pages = || std::fs::metadata(&path).unwrap().len() / 4096;
        let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
        while schema_pages() < 10 {
            assert!(tokio::time::Instant::now() < deadline, "nothing was checkpointed");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        drop(store);
    }

    /// A second claim on the file is refused, naming the holder, until the first lets go.
    #[test]
    fn one_process_serves_from_a_file() {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("new/t.db").display());
        let held = lock_for_serving(&url).unwrap();
        // flock locks belong to an open file, so a second open conflicts in this process too.
        let refused = lock_for_serving(&url).err().expect("the file is held");
        let message = refused.to_string();
        assert!(
            message.contains(&format!(
                "{} is in use by another hub (process {})",
                dir.path().join("new/t.db").display(),
                std::process::id()
            )),
            "{message}"
        );
        drop(held);
        lock_for_serving(&url).expect("released with its holder");
    }

    /// The data directory and every file of the database are the hub's user's alone.
    #[cfg(unix)]
    #[tokio::test]
    async fn a_new_database_is_private_to_the_hubs_user() {
        use std::os::unix::fs::PermissionsExt;
        let root = tempfile::tempdir().unwrap();
        let path = root.path().join("data/sub/t.db");
        let options = ConnectOptions {
            max_connections: 1,
            sqlite_full_sync: false,
        };
        let store = connect(&format!("sqlite://{}", path.display()), &options)
            .await
            .unwrap();
        let mode = |path: &std::path::Path| std::fs::metadata(path).unwrap().permissions().mode() & 0o777;
        for dir in ["data", "data/sub"] {
            assert_eq!(mode(&root.path().join(dir)), 0o700, "{dir}");
        }
        for file in ["t.db", "t.db-wal", "t.db-shm"] {
            assert_eq!(mode(&path.with_file_name(file)), 0o600, "{file}");
        }
        drop(store);
    }

    /// Releasing and listing parked deliveries go through the partial indexes that
    /// deliveries on their way through never enter, rather than every delivery of the
    /// instance.
    #[tokio::test]
    async fn parked_deliveries_are_found_through_their_own_indexes() {
        use crate::store::{
            DeliveryStatus,
            sql::{RELEASE_QUEUED, delivery_listing, release_held},
        };
        let options = ConnectOptions {
            max_connections: 1,
            sqlite_full_sync: false,
        };
        let dir = tempfile::tempdir().unwrap();
        let store = connect(&format!("sqlite://{}", dir.path().join("t.db").display()), &options)
            .await
            .unwrap();
        let [queued, _] = delivery_listing(DeliveryStatus::Queued);
        let [failed, failed_attempts] = delivery_listing(DeliveryStatus::Failed);
        let [held, _] = delivery_listing(DeliveryStatus::Held);
        let release = release_held::<Sqlite>(2);
        for (statement, index) in [
            (RELEASE_QUEUED, "deliveries_queued"),
            (&queued, "deliveries_queued"),
            (&failed, "deliveries_failed"),
            (&failed_attempts, "deliveries_failed"),
            (&held, "deliveries_held"),
            (&release, "deliveries_held"),
        ] {
            let plan: Vec<String> = sqlx::query(sqlx::AssertSqlSafe(format!("EXPLAIN QUERY PLAN {statement}")))
                .fetch_all(&store.reader)
                .await
                .unwrap()
                .iter()
                .map(|step| step.get("detail"))
                .collect();
            assert!(
                plan.iter().any(|step| step.contains(index)),
                "{statement} does not use {index}: {plan:?}"
            );
        }
    }

    /// What a full or failing disk does: SQLite ends the transaction under sqlx's feet.
    #[tokio::test]
    async fn the_writer_recovers_from_a_transaction_sqlite_ended_by_itself() {
        let pool = writer_pool().connect("sqlite::memory:").await.unwrap();
        let mut tx = pool.begin_with(Sqlite::BEGIN_WRITE).await.unwrap();
        tx.execute("ROLLBACK").await.unwrap();
        drop(tx);
        let mut tx = pool
            .begin_with(Sqlite::BEGIN_WRITE)
            .await
            .expect("a fresh connection, not one stuck in a transaction");
        tx.execute("SELECT 1").await.unwrap();
        tx.commit().await.unwrap();
    }
}
