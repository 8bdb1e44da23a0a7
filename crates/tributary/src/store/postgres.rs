//! PostgreSQL backend: for several hub processes sharing one database.

use std::{
    net::IpAddr,
    str::FromStr,
    sync::{Arc, Weak},
};

use sqlx::{
    Postgres,
    postgres::{PgConnectOptions, PgListener, PgPoolOptions, PgQueryResult, PgSslMode},
};
use tokio::sync::Notify;

use super::{
    ConnectOptions, StoreResult,
    sql::{Dialect, SqlStore, Writes},
};

impl Dialect for Postgres {
    const BEGIN_WRITE: &'static str = "BEGIN";
    const CLAIM_DELIVERIES: &'static str = "UPDATE deliveries SET status = 'inflight', lease_owner = $1, \
         lease_until = $2, attempts = attempts + 1, updated_at = $3 WHERE id IN (SELECT id FROM deliveries \
         WHERE status = 'pending' AND next_attempt_at <= $3 ORDER BY next_attempt_at LIMIT $4 FOR UPDATE SKIP LOCKED) \
         RETURNING id, instance_id, attempts";
    const CLAIM_POLLS: &'static str = "UPDATE poll_states SET lease_owner = $1, lease_until = $2 \
         WHERE instance_id IN (SELECT p.instance_id FROM poll_states p JOIN instances i ON i.id = p.instance_id \
         WHERE p.next_poll_at <= $3 AND (p.lease_until IS NULL OR p.lease_until < $3) \
         AND p.paused_reason IS NULL AND NOT i.disabled ORDER BY p.next_poll_at LIMIT $4 FOR UPDATE OF p SKIP LOCKED) \
         RETURNING instance_id, interval_ms, last_poll_at, failures";
    /// Delivered to every listening node when the transaction commits.
    const ANNOUNCE_DELIVERIES: Option<&'static str> = Some("SELECT pg_notify('tributary_deliveries', '')");
    const CLAIMS_IN_GROUP_COMMIT: bool = false;
    /// Transaction-scoped advisory locks, keyed by the instance id: they touch no row, so they
    /// meet nothing but each other.
    const SHARE_HOLDS: Option<&'static str> = Some("SELECT pg_advisory_xact_lock_shared($1)");
    const LOCK_HOLDS: Option<&'static str> = Some("SELECT pg_advisory_xact_lock($1)");

    fn rows_affected(result: &PgQueryResult) -> u64 {
        result.rows_affected()
    }

    fn placeholder(n: usize) -> String {
        format!("${n}")
    }
}

pub type PgStore = SqlStore<Postgres>;

/// Connects and applies migrations; several processes may do this at once (sqlx takes an
/// advisory lock around migrations).
pub async fn connect(url: &str, options: &ConnectOptions) -> StoreResult<PgStore> {
    let connect = clear_on_loopback(
        url,
        PgConnectOptions::from_str(url)?,
        std::env::var_os("PGSSLMODE").is_some(),
    );
    let pool = PgPoolOptions::new()
        .max_connections(options.max_connections)
        .connect_with(connect.clone())
        .await?;
    sqlx::migrate!("migrations/postgres").run(&pool).await?;
    let wake = Arc::new(Notify::new());
    // LISTEN holds its connection for good, so it gets one of its own, beside the pool: out
    // of the pool it would leave the queries one connection short, and a pool of one (the
    // admin commands') none at all. Like sqlx's own `PgListener::connect`, a pool of one
    // without lifetimes, which reconnects the listener after a lost connection. It opens in
    // the background: the hub is ready without it, and until it listens, workers find
    // other nodes' work on their periodic look.
    let listening = PgPoolOptions::new()
        .max_connections(1)
        .max_lifetime(None)
        .idle_timeout(None)
        .connect_lazy_with(connect);
    tokio::spawn(relay_wakeups(listening, Arc::downgrade(&wake)));
    Ok(Writes::open_store(pool.clone(), pool, wake))
}

/// A server on this machine is reached without TLS unless the URL (`sslmode`) or
/// `PGSSLMODE` asks for a mode: there TLS protects nothing, and sqlx's default (`prefer`)
/// paid a handshake per connection, 60–80 ms of the hub's start on a fresh schema. Any
/// other host keeps sqlx's default.
fn clear_on_loopback(url: &str, options: PgConnectOptions, mode_in_env: bool) -> PgConnectOptions {
    let mode_in_url =
        url::Url::parse(url).is_ok_and(|url| url.query_pairs().any(|(key, _)| key == "sslmode" || key == "ssl-mode"));
    let host = options.get_host();
    let loopback = host == "localhost"
        || host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .parse::<IpAddr>()
            .is_ok_and(|ip| ip.is_loopback());
    if loopback && !mode_in_url && !mode_in_env {
        options.ssl_mode(PgSslMode::Disable)
    } else {
        options
    }
}

const CHANNEL: &str = "tributary_deliveries";

/// Turns other nodes' announcements into local wake-ups, for as long as the store lives,
/// on `pool`'s one connection. sqlx reconnects the listener after a lost connection; while
/// it is down, workers still find due deliveries on their periodic look.
async fn relay_wakeups(pool: sqlx::PgPool, wake: Weak<Notify>) {
    let mut listener = loop {
        let connected = async {
            let mut listener = PgListener::connect_with(&pool).await?;
            listener.listen(CHANNEL).await?;
            Ok::<_, sqlx::Error>(listener)
        }
        .await;
        match connected {
            Ok(listener) => break listener,
            Err(error) => {
                if wake.strong_count() == 0 {
                    return;
                }
                tracing::warn!(%error, "could not listen for other nodes' deliveries; retrying");
                tokio::time::sleep(std::time::Duration::from_secs(1)).await;
            }
        }
    };
    loop {
        let received = listener.recv().await;
        let Some(wake) = wake.upgrade() else { return };
        match received {
            Ok(_) => wake.notify_one(),
            Err(error) => {
                tracing::warn!(%error, "PostgreSQL notifications interrupted");
                tokio::time::sleep(std::time::Duration::from_secs(1)).await;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mode(url: &str, mode_in_env: bool) -> PgSslMode {
        clear_on_loopback(url, PgConnectOptions::from_str(url).unwrap(), mode_in_env).get_ssl_mode()
    }

    #[test]
    fn a_server_on_this_machine_is_reached_in_the_clear_unless_a_mode_is_asked_for() {
        for url in [
            "postgres://u@127.0.0.1:5432/test",
            "postgres://u@localhost/test",
            "postgres://u@[::1]:5432/test",
            "postgres://u@127.0.0.1/test?options=-c%20search_path%3Dx",
        ] {
            assert!(matches!(mode(url, false), PgSslMode::Disable), "{url}");
        }
        assert!(matches!(
            mode("postgres://u@127.0.0.1/test?sslmode=require", false),
            PgSslMode::Require
        ));
        assert!(matches!(
            mode("postgres://u@127.0.0.1/test?sslmode=prefer", false),
            PgSslMode::Prefer
        ));
        assert!(!matches!(mode("postgres://u@127.0.0.1/test", true), PgSslMode::Disable));
        assert!(matches!(
            mode("postgres://u@db.example.com/test", false),
            PgSslMode::Prefer
        ));
        assert!(matches!(mode("postgres://u@10.0.0.5/test", false), PgSslMode::Prefer));
    }
}
