//! PostgreSQL backend: for several hub processes sharing one database.

use std::{
    fmt,
    net::IpAddr,
    str::FromStr,
    sync::{Arc, Weak},
    time::Duration,
};

use sqlx::{
    Connection, Postgres,
    postgres::{PgConnectOptions, PgConnection, PgListener, PgPoolOptions, PgQueryResult, PgSslMode},
};
use tokio::sync::Notify;

use super::{
    ConnectOptions, StoreError, StoreResult,
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
    first_connection(&connect).await?;
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

/// How long the first connection at start may take. The pool would try for its acquire
/// timeout (30 s) and then report only "pool timed out while waiting for an open
/// connection", whatever the cause.
const FIRST_CONNECTION_TIMEOUT: Duration = Duration::from_secs(5);

/// One connection attempt before the pool is built, so that a start that cannot work fails
/// within seconds and says why: no such database, a refused connection or authentication,
/// a full server.
async fn first_connection(options: &PgConnectOptions) -> StoreResult<()> {
    let server = Server::of(options);
    match tokio::time::timeout(FIRST_CONNECTION_TIMEOUT, PgConnection::connect_with(options)).await {
        Ok(Ok(connection)) => {
            // Closing only tells the server goodbye; the pool connects afresh.
            let _ = connection.close().await;
            Ok(())
        }
        Ok(Err(error)) => Err(StoreError::Unreachable(server.explain(&error))),
        Err(_) => Err(StoreError::Unreachable(format!(
            "PostgreSQL at {} did not answer within {} s: check the host and port, and that no firewall drops \
             the connection",
            server.address,
            FIRST_CONNECTION_TIMEOUT.as_secs()
        ))),
    }
}

/// Where a PostgreSQL URL leads, for people: server, database and user, never the password.
pub struct Server {
    /// `host:port`, or the socket's directory and port.
    address: String,
    /// The host as `createdb -h` takes it (a name, an address or a socket directory).
    host: String,
    port: u16,
    user: String,
    database: String,
}

impl Server {
    pub fn from_url(url: &str) -> StoreResult<Self> {
        Ok(Self::of(&PgConnectOptions::from_str(url)?))
    }

    fn of(options: &PgConnectOptions) -> Self {
        let port = options.get_port();
        let (host, address) = match options.get_socket() {
            Some(dir) => {
                let dir = dir.display().to_string();
                (dir.clone(), format!("socket {dir}/.s.PGSQL.{port}"))
            }
            None => {
                let host = options.get_host().to_string();
                let address = if host.contains(':') && !host.starts_with('[') {
                    format!("[{host}]:{port}")
                } else {
                    format!("{host}:{port}")
                };
                (host, address)
            }
        };
        let user = options.get_username().to_string();
        Self {
            address,
            host,
            port,
            database: options.get_database().unwrap_or(&user).to_string(),
            user,
        }
    }

    /// Why a connection failed, and what to do about it.
    fn explain(&self, error: &sqlx::Error) -> String {
        use std::io::ErrorKind;
        let Self { address, .. } = self;
        match error {
            sqlx::Error::Database(refusal) => self.refused(refusal.code().as_deref().unwrap_or(""), refusal.message()),
            sqlx::Error::Io(io) => match io.kind() {
                ErrorKind::ConnectionRefused => format!(
                    "connection refused at {address}: is PostgreSQL running and listening on that address and port?"
                ),
                ErrorKind::NotFound => format!("no PostgreSQL at {address}: is the server running?"),
                _ => format!("cannot reach PostgreSQL at {address}: {io}"),
            },
            sqlx::Error::Tls(tls) => {
                format!("TLS with PostgreSQL at {address} failed: {tls} (the URL's sslmode says what the hub asks for)")
            }
            other => format!("cannot connect to PostgreSQL at {address}: {other}"),
        }
    }

    /// Why the server refused the connection, from its SQLSTATE code and message.
    fn refused(&self, code: &str, message: &str) -> String {
        let Self {
            address,
            host,
            port,
            user,
            database,
        } = self;
        match code {
            "3D000" => format!(
                "database {database:?} does not exist at {address}: create it with `createdb -h {host} -p {port} -U {user} {database}`"
            ),
            "28P01" => format!(
                "PostgreSQL at {address} refused user {user:?}: {message}; check the user and password in the database URL"
            ),
            "28000" => format!(
                "PostgreSQL at {address} refused user {user:?}: {message}; allow it in the server's pg_hba.conf, or connect as another user"
            ),
            "53300" => format!(
                "PostgreSQL at {address} has no connection left ({message}): its max_connections are taken; \
                 stop some clients, lower their pools (database.max_connections) or raise max_connections"
            ),
            "57P03" => {
                format!("PostgreSQL at {address} cannot take connections yet ({message}); try again once it is up")
            }
            _ => format!("PostgreSQL at {address} refused the connection: {message} (SQLSTATE {code})"),
        }
    }
}

impl fmt::Display for Server {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "PostgreSQL database {:?} at {} as user {:?}",
            self.database, self.address, self.user
        )
    }
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

    /// Each refusal says what to do. Authentication failures cannot be provoked on the test
    /// server (trust authentication), hence this check of the mapping itself.
    #[test]
    fn refusals_say_what_to_do() {
        let server = Server::from_url("postgres://hub:hunter2@db.example:5433/events").unwrap();
        for (code, message, expected) in [
            (
                "3D000",
                r#"database "events" does not exist"#,
                r#"database "events" does not exist at db.example:5433: create it with `createdb -h db.example -p 5433 -U hub events`"#,
            ),
            (
                "28P01",
                r#"password authentication failed for user "hub""#,
                r#"PostgreSQL at db.example:5433 refused user "hub": password authentication failed for user "hub"; check the user and password in the database URL"#,
            ),
            (
                "28000",
                "no pg_hba.conf entry for host",
                r#"PostgreSQL at db.example:5433 refused user "hub": no pg_hba.conf entry for host; allow it in the server's pg_hba.conf, or connect as another user"#,
            ),
            (
                "53300",
                "sorry, too many clients already",
                "PostgreSQL at db.example:5433 has no connection left (sorry, too many clients already): its \
                 max_connections are taken; stop some clients, lower their pools (database.max_connections) or raise \
                 max_connections",
            ),
            (
                "57P03",
                "the database system is starting up",
                "PostgreSQL at db.example:5433 cannot take connections yet (the database system is starting up); try again once it is up",
            ),
        ] {
            assert_eq!(server.refused(code, message), expected);
        }
        let refused = sqlx::Error::Io(std::io::ErrorKind::ConnectionRefused.into());
        assert!(
            server
                .explain(&refused)
                .starts_with("connection refused at db.example:5433: is PostgreSQL running")
        );
        assert_eq!(
            server.to_string(),
            r#"PostgreSQL database "events" at db.example:5433 as user "hub""#
        );
    }

    #[test]
    fn servers_are_named_without_their_password() {
        for (url, expected) in [
            (
                "postgres://u:pw@[::1]:5432/test",
                r#"PostgreSQL database "test" at [::1]:5432 as user "u""#,
            ),
            (
                "postgres://u:pw@%2Fvar%2Frun%2Fpostgresql/test",
                r#"PostgreSQL database "test" at socket /var/run/postgresql/.s.PGSQL.5432 as user "u""#,
            ),
            (
                "postgres://u:pw@localhost",
                r#"PostgreSQL database "u" at localhost:5432 as user "u""#,
            ),
        ] {
            let named = Server::from_url(url).unwrap().to_string();
            assert_eq!(named, expected);
            assert!(!named.contains("pw"));
        }
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
