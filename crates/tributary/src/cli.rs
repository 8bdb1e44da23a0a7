//! The `tributary` command line: `serve` (the default) and `admin` tasks.

use std::{net::SocketAddr, path::PathBuf, process::ExitCode};

use anyhow::Context;
use clap::{Args, Parser, Subcommand};
use secrecy::ExposeSecret;
use url::Url;

use crate::{
    app::{self, AppState},
    config::{CliOverrides, Config},
    ids::OrgId,
    store::{self, ConnectOptions},
    telemetry, tenants,
};

#[derive(Parser)]
#[command(name = "tributary", version, about = "Self-hosted integration hub")]
struct Cli {
    #[command(flatten)]
    global: Global,
    #[command(subcommand)]
    command: Option<Command>,
}

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
}

#[derive(Subcommand)]
enum Command {
    /// Serve the HTTP API and run the workers (the default).
    Serve(ServeArgs),
    /// Create organizations and users.
    #[command(subcommand)]
    Admin(Admin),
    /// Print the OpenAPI description of the HTTP API.
    Openapi,
}

#[derive(Args, Default)]
struct ServeArgs {
    /// Address to listen on (default 127.0.0.1:8080).
    #[arg(long)]
    listen: Option<SocketAddr>,
    /// Base URL providers and browsers use to reach this hub.
    #[arg(long)]
    public_url: Option<Url>,
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
    let serve = match &cli.command {
        None => Some(ServeArgs::default()),
        Some(Command::Serve(args)) => Some(ServeArgs {
            listen: args.listen,
            public_url: args.public_url.clone(),
        }),
        Some(_) => None,
    };
    let overrides = CliOverrides {
        listen: serve.as_ref().and_then(|s| s.listen),
        public_url: serve.as_ref().and_then(|s| s.public_url.clone()),
        database_url: cli.global.database_url.clone(),
        data_dir: cli.global.data_dir.clone(),
    };
    let config = Config::load(cli.global.config.as_deref(), &overrides)?;
    match cli.command {
        None | Some(Command::Serve(_)) => serve_forever(config).await,
        Some(Command::Admin(task)) => admin(config, task).await,
        Some(Command::Openapi) => {
            println!("{}", crate::api::openapi().to_pretty_json()?);
            Ok(())
        }
    }
}

async fn serve_forever(config: Config) -> anyhow::Result<()> {
    telemetry::init(&config.log);
    let listen = config.listen;
    let state = AppState::build(config).await?;
    if let Some(first) = tenants::bootstrap(state.store.as_ref()).await? {
        println!(
            "\nFirst start: created organization {:?} (id {}) and user {} (id {}).\n\
             These secrets are shown only now; keep them safe:\n\n  \
             Authorization: User {}, Organization {}\n",
            first.organization.name,
            first.organization.id,
            first.user.email,
            first.user.id,
            first.user_secret.expose_secret(),
            first.organization_secret.expose_secret(),
        );
    }
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .with_context(|| format!("listening on {listen}"))?;
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
    match task {
        Admin::CreateOrganization { name } => {
            let (org, secret) = tenants::create_organization(store.as_ref(), &name).await?;
            println!(
                "organization {} ({:?})\nsecret (shown once): {}",
                org.id,
                org.name,
                secret.expose_secret()
            );
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
            let (user, secret) =
                tenants::create_user(store.as_ref(), organization, &email, &first_name, &last_name).await?;
            println!(
                "user {} ({}) in organization {}\nsecret (shown once): {}",
                user.id,
                user.email,
                organization,
                secret.expose_secret()
            );
        }
        Admin::List => {
            for org in store.list_organizations().await? {
                println!("organization {} {:?}", org.id, org.name);
                for user in store.list_users(org.id).await? {
                    println!("  user {} {}", user.id, user.email);
                }
            }
        }
    }
    Ok(())
}
