//! `hootsuite-sim`: runs the simulator on a fixed address for manual use and the README
//! walk-through, e.g. `hootsuite-sim --listen 127.0.0.1:9090`.

use std::net::SocketAddr;
use std::time::Duration;

use clap::Parser;
use hootsuite_sim::{DEFAULT_MEMBER_ID, DEFAULT_ORGANIZATION_ID, SimConfig};

/// A local stand-in for Hootsuite's OAuth 2.0, REST API and webhooks.
#[derive(Debug, Parser)]
#[command(name = "hootsuite-sim", version)]
struct Args {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:9090", env = "HOOTSUITE_SIM_LISTEN")]
    listen: SocketAddr,
    /// Client id of the seeded app.
    #[arg(long, default_value = hootsuite_sim::DEFAULT_CLIENT_ID)]
    client_id: String,
    /// Client secret of the seeded app.
    #[arg(long, default_value = hootsuite_sim::DEFAULT_CLIENT_SECRET)]
    client_secret: String,
    /// Extra redirect URI to register for the seeded app (repeatable); loopback http URIs are
    /// always accepted.
    #[arg(long = "redirect-uri")]
    redirect_uris: Vec<String>,
    /// Access-token lifetime in seconds (Hootsuite: 3599).
    #[arg(long, default_value_t = 3599)]
    access_token_ttl_secs: u64,
    /// Webhook batch interval in milliseconds (Hootsuite: 5000).
    #[arg(long, default_value_t = 5000)]
    webhook_batch_interval_ms: u64,
    /// Enforce Hootsuite's webhook URL rules (public IP, ports 80/8080/443/8443).
    #[arg(long)]
    strict_webhook_urls: bool,
    /// Do not turn due SCHEDULED messages into SENT.
    #[arg(long)]
    no_auto_publish: bool,
    /// Start with an empty world instead of the seeded one.
    #[arg(long)]
    no_seed: bool,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .init();
    let args = Args::parse();
    let config = SimConfig {
        access_token_ttl: Duration::from_secs(args.access_token_ttl_secs),
        webhook_batch_interval: Duration::from_millis(args.webhook_batch_interval_ms),
        strict_webhook_urls: args.strict_webhook_urls,
        auto_publish: !args.no_auto_publish,
        seed: !args.no_seed,
        client_id: args.client_id.clone(),
        client_secret: args.client_secret.clone(),
        redirect_uris: args.redirect_uris,
        ..SimConfig::default()
    };
    let listener = tokio::net::TcpListener::bind(args.listen).await?;
    let sim = hootsuite_sim::spawn_on(listener, config).await?;
    println!("Hootsuite simulator listening on {}", sim.base_url());
    if !args.no_seed {
        println!("client_id:     {}", args.client_id);
        println!("client_secret: {}", args.client_secret);
        println!("member:        {DEFAULT_MEMBER_ID} (organization {DEFAULT_ORGANIZATION_ID})");
    }
    println!(
        "Control API:   {}/_sim (see the crate README); Ctrl-C stops.",
        sim.base_url()
    );
    tokio::signal::ctrl_c().await?;
    sim.shutdown().await;
    Ok(())
}
