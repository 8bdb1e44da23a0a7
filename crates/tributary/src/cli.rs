//! The `tributary` command line: `serve` (the default) and `admin` tasks.

use std::{
    collections::BTreeMap,
    fmt::Write as _,
    io::{ErrorKind, Write as _},
    net::SocketAddr,
    path::PathBuf,
    process::ExitCode,
};

use anyhow::Context;
use clap::{Args, Parser, Subcommand};
use secrecy::ExposeSecret;
use serde_json::Value;
use url::Url;

use crate::{
    app::{self, AppState},
    config::{CliOverrides, Config},
    ids::{OrgId, UserId},
    store::{self, ConnectOptions},
    telemetry,
    tenants::{self, Bootstrap},
};

#[derive(Parser)]
#[command(name = "tributary", version, about = "Self-hosted integration hub")]
struct Cli {
    #[command(flatten)]
    global: Global,
    #[command(subcommand)]
    command: Option<Command>,
}

/// Flags accepted before or after any subcommand (`tributary --listen … serve` and
/// `tributary serve --listen …` alike).
#[derive(Args)]
struct Global {
    /// Config file (TOML); `tributary.toml` in the working directory is read when present.
    #[arg(long, global = true, env = "TRIBUTARY_CONFIG")]
    config: Option<PathBuf>,
    /// Database: `sqlite://file` or `postgres://…` (default: SQLite in the data directory).
    #[arg(long, global = true)]
    database_url: Option<String>,
    /// Directory of the default SQLite database and the generated master key.
    #[arg(long, global = true)]
    data_dir: Option<PathBuf>,
    /// Address the HTTP API listens on (default 127.0.0.1:8080).
    #[arg(long, global = true)]
    listen: Option<SocketAddr>,
    /// Base URL providers and browsers use to reach this hub (default http://<listen>).
    #[arg(long, global = true)]
    public_url: Option<Url>,
}

#[derive(Subcommand)]
enum Command {
    /// Serve the HTTP API and the web console and run the workers (the default).
    Serve,
    /// Create organizations and users, replace their secrets.
    #[command(subcommand)]
    Admin(Admin),
    /// Print the OpenAPI description of the HTTP API.
    Openapi,
}

#[derive(Subcommand)]
enum Admin {
    /// Create an organization and print its secret.
    CreateOrganization {
        #[arg(long)]
        name: String,
    },
    /// Create a user in an organization and print their secret.
    CreateUser {
        #[arg(long)]
        organization: OrgId,
        #[arg(long)]
        email: String,
        #[arg(long, default_value = "")]
        first_name: String,
        #[arg(long, default_value = "")]
        last_name: String,
    },
    /// List organizations and their users.
    List,
    /// Issue a new organization secret and print it; the old one stops working at once.
    RotateOrganizationSecret {
        /// The organization's id (`tributary admin list` shows them).
        #[arg(long)]
        organization: OrgId,
    },
    /// Issue a new secret for a user of an organization and print it; the old one stops
    /// working at once.
    RotateUserSecret {
        /// The user's organization's id (`tributary admin list` shows them).
        #[arg(long)]
        organization: OrgId,
        /// The user's id.
        #[arg(long)]
        user: UserId,
    },
}

pub async fn run() -> ExitCode {
    let cli = Cli::parse();
    match execute(cli).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("tributary: {error:#}");
            ExitCode::FAILURE
        }
    }
}

async fn execute(cli: Cli) -> anyhow::Result<()> {
    let Global {
        config,
        database_url,
        data_dir,
        listen,
        public_url,
    } = cli.global;
    let overrides = CliOverrides {
        listen,
        public_url,
        database_url,
        data_dir,
    };
    let config = Config::load(config.as_deref(), &overrides)?;
    match cli.command {
        None | Some(Command::Serve) => serve_forever(config).await,
        Some(Command::Admin(task)) => admin(config, task).await,
        Some(Command::Openapi) => print(&format!("{}\n", crate::api::openapi().to_pretty_json()?)),
    }
}

/// Writes `text` to stdout. A reader that went away (`tributary openapi | head`) is no
/// error: it has what it wanted. (Rust ignores SIGPIPE, so `println!` would panic.)
fn print(text: &str) -> anyhow::Result<()> {
    let mut out = std::io::stdout().lock();
    match out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
        Err(error) if error.kind() == ErrorKind::BrokenPipe => Ok(()),
        written => written.context("writing to stdout"),
    }
}

async fn serve_forever(config: Config) -> anyhow::Result<()> {
    telemetry::init(&config.log);
    // The port first: a start that cannot serve must fail before it creates anything, or a
    // first start would print secrets of a hub that never served.
    let listener = bind(config.listen).await?;
    let _serving = store::claim_for_serving(&config.database_url())?;
    let state = AppState::build(config).await?;
    let first = tenants::bootstrap(state.store.as_ref()).await?;
    print(&banner(&state.config, first.as_ref())?)?;
    let mut running = app::start(state, listener)?;
    tracing::info!(addr = %running.addr, public_url = %running.state.public_url, "Tributary is serving");
    tokio::select! {
        () = shutdown_signal() => {
            tracing::info!("shutting down");
            running.stop().await;
        }
        () = running.wait() => {}
    }
    Ok(())
}

async fn bind(listen: SocketAddr) -> anyhow::Result<tokio::net::TcpListener> {
    tokio::net::TcpListener::bind(listen).await.map_err(|error| {
        let hint = match error.kind() {
            ErrorKind::AddrInUse => "; another program holds it: stop it, or choose another address with --listen",
            ErrorKind::PermissionDenied => "; ports below 1024 need privileges: choose another with --listen",
            ErrorKind::AddrNotAvailable => "; no interface of this machine has that address",
            _ => "",
        };
        anyhow::anyhow!("cannot listen on {listen}: {error}{hint}")
    })
}

/// What the hub tells its operator on start: where the console, the API and its description
/// are, what it stores where, the settings changed from the defaults, and on a first start
/// the credentials it created, shown only then.
fn banner(config: &Config, first: Option<&Bootstrap>) -> anyhow::Result<String> {
    let public = config.public_url();
    let listen = config.listen;
    let mut text = format!("\nTributary {}\n\n", env!("CARGO_PKG_VERSION"));
    let reach = if listen.ip().is_loopback() {
        ""
    } else {
        " (reachable from other machines)"
    };
    let master_key = match config.master_key {
        Some(_) => "from the configuration (master_key)".to_string(),
        None => format!(
            "{} (back it up with the database)",
            config.data_dir.join("master.key").display()
        ),
    };
    for (what, value) in [
        ("Web console", format!("{public}/")),
        ("API", format!("{public}/elements/api-v2")),
        ("OpenAPI", format!("{public}/elements/api-v2/openapi.json")),
        ("Listening on", format!("{listen}{reach}")),
        ("Database", store::describe(&config.database_url())?),
        ("Master key", master_key),
    ] {
        writeln!(text, "  {what:<14}{value}")?;
    }
    if config.public_url.is_none() && listen.ip().is_unspecified() {
        writeln!(
            text,
            "  Set public_url (--public-url): providers and browsers cannot use {public}"
        )?;
    }
    let changed = changed_settings(config)?;
    if !changed.is_empty() {
        writeln!(text, "\n  Settings changed from the defaults:")?;
        for (key, value) in changed {
            let note = match key.as_str() {
                "delivery.allow_networks" => "  (callbacks may reach these non-public networks)",
                _ => "",
            };
            writeln!(text, "    {key} = {value}{note}")?;
        }
    }
    if let Some(first) = first {
        write!(
            text,
            "\nFirst start: created organization {:?} (id {}) and user {} (id {}).\n\
             These secrets are shown only now; keep them safe (sign in to the web console with them too):\n\n  \
             Authorization: User {}, Organization {}\n",
            first.organization.name,
            first.organization.id,
            first.user.email,
            first.user.id,
            first.user_secret.expose_secret(),
            first.organization_secret.expose_secret(),
        )?;
    }
    text.push('\n');
    Ok(text)
}

/// Every setting whose value differs from its default, as dotted keys with their values in
/// JSON, except those the banner shows on lines of their own (a database URL may carry a
/// password; the master key is never serialized).
fn changed_settings(config: &Config) -> anyhow::Result<Vec<(String, String)>> {
    const SHOWN_APART: &[&str] = &["listen", "public_url", "data_dir", "database_url"];
    let defaults = leaves(serde_json::to_value(Config::default())?);
    Ok(leaves(serde_json::to_value(config)?)
        .into_iter()
        .filter(|(key, value)| {
            !value.is_null() && !SHOWN_APART.contains(&key.as_str()) && defaults.get(key) != Some(value)
        })
        .map(|(key, value)| (key, value.to_string()))
        .collect())
}

/// The values of a JSON tree by dotted path (arrays are values, not branches).
fn leaves(value: Value) -> BTreeMap<String, Value> {
    fn walk(prefix: String, value: Value, into: &mut BTreeMap<String, Value>) {
        match value {
            Value::Object(map) => {
                for (key, value) in map {
                    let path = if prefix.is_empty() {
                        key
                    } else {
                        format!("{prefix}.{key}")
                    };
                    walk(path, value, into);
                }
            }
            leaf => {
                into.insert(prefix, leaf);
            }
        }
    }
    let mut into = BTreeMap::new();
    walk(String::new(), value, &mut into);
    into
}

async fn shutdown_signal() {
    let interrupt = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut terminate = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
            .expect("installing the SIGTERM handler");
        tokio::select! {
            _ = interrupt => {}
            _ = terminate.recv() => {}
        }
    }
    #[cfg(not(unix))]
    let _ = interrupt.await;
}

async fn admin(config: Config, task: Admin) -> anyhow::Result<()> {
    let store = store::connect(
        &config.database_url(),
        &ConnectOptions {
            max_connections: 1,
            sqlite_full_sync: true,
        },
    )
    .await
    .context("opening the database")?;
    let store = store.as_ref();
    let text = match task {
        Admin::CreateOrganization { name } => {
            let (org, secret) = tenants::create_organization(store, &name).await?;
            format!(
                "organization {} ({:?})\nsecret (shown once): {}\n",
                org.id,
                org.name,
                secret.expose_secret()
            )
        }
        Admin::CreateUser {
            organization,
            email,
            first_name,
            last_name,
        } => {
            let known = store.list_organizations().await?;
            if !known.iter().any(|o| o.id == organization) {
                anyhow::bail!("no organization {organization}; `tributary admin list` shows them");
            }
            let (user, secret) = tenants::create_user(store, organization, &email, &first_name, &last_name).await?;
            format!(
                "user {} ({}) in organization {}\nsecret (shown once): {}\n",
                user.id,
                user.email,
                organization,
                secret.expose_secret()
            )
        }
        Admin::List => {
            let mut text = String::new();
            for org in store.list_organizations().await? {
                writeln!(text, "organization {} {:?}", org.id, org.name)?;
                for user in store.list_users(org.id).await? {
                    writeln!(text, "  user {} {}", user.id, user.email)?;
                }
            }
            text
        }
        Admin::RotateOrganizationSecret { organization } => {
            let secret = tenants::rotate_organization_secret(store, organization)
                .await?
                .with_context(|| format!("no organization {organization}; `tributary admin list` shows them"))?;
            format!(
                "organization {organization}: new secret; the old one no longer works\nsecret (shown once): {}\n",
                secret.expose_secret()
            )
        }
        Admin::RotateUserSecret { organization, user } => {
            let secret = tenants::rotate_user_secret(store, organization, user)
                .await?
                .with_context(|| {
                    format!("no user {user} in organization {organization}; `tributary admin list` shows them")
                })?;
            format!(
                "user {user} in organization {organization}: new secret; the old one no longer works\n\
                 secret (shown once): {}\n",
                secret.expose_secret()
            )
        }
    };
    print(&text)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::ProviderOverride;

    #[test]
    fn the_banner_shows_what_differs_from_the_defaults_and_no_password() {
        let mut config = Config {
            listen: "0.0.0.0:8080".parse().unwrap(),
            database_url: Some("postgres://hub:hunter2@db.example/events".into()),
            ..Config::default()
        };
        config.delivery.allow_networks = vec!["10.0.0.0/8".into()];
        config.providers.insert(
            "hootsuite".into(),
            ProviderOverride {
                base_url: Some("http://127.0.0.1:9090".parse().unwrap()),
                ..Default::default()
            },
        );
        let text = banner(&config, None).unwrap();
        for line in [
            "  Web console   http://0.0.0.0:8080/",
            "  Listening on  0.0.0.0:8080 (reachable from other machines)",
            "  Set public_url (--public-url): providers and browsers cannot use http://0.0.0.0:8080",
            r#"  Database      PostgreSQL database "events" at db.example:5432 as user "hub""#,
            "  Master key    data/master.key (back it up with the database)",
        ] {
            assert!(text.contains(&format!("{line}\n")), "{line:?} in {text}");
        }
        let changed = text.split("Settings changed from the defaults:\n").nth(1).unwrap();
        assert_eq!(
            changed.trim_end().lines().collect::<Vec<_>>(),
            [
                r#"    delivery.allow_networks = ["10.0.0.0/8"]  (callbacks may reach these non-public networks)"#,
                r#"    providers.hootsuite.base_url = "http://127.0.0.1:9090/""#,
            ]
        );
        assert!(!text.contains("hunter2") && !text.contains("Authorization"), "{text}");
    }

    #[test]
    fn defaults_change_nothing() {
        assert_eq!(changed_settings(&Config::default()).unwrap(), []);
    }
}
