//! A local stand-in for Hootsuite's developer platform: OAuth 2.0 (`/oauth2/*`), the REST API
//! (`/v1/*`), SCIM users (`/scim/v2/*`), the media upload bucket (`/uploads/*`) and outbound
//! webhooks, plus a `/_sim/*` control API for tests.
//!
//! Behaviour follows `shared/research/hootsuite.md`; where that spec says UNCONFIRMED the choice
//! made here is listed in this crate's README ("Deliberate choices").
//!
//! This module holds the public surface: [`SimConfig`], [`spawn`]/[`spawn_on`], [`SimHandle`] and
//! the ids of the seeded world.

mod bucket;
mod clock;
mod comments;
mod control;
mod directory;
mod faults;
mod ids;
mod media;
mod messages;
mod oauth;
mod permissions;
mod publisher;
mod rest;
mod state;
mod webhooks;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;

pub use directory::{
    COLLEAGUE_MEMBER_ID, DEFAULT_APP_ID, DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET, DEFAULT_FACEBOOK_PAGE_PROFILE_ID,
    DEFAULT_MEMBER_ID, DEFAULT_ORGANIZATION_ID, DEFAULT_TEAM_ID, DEFAULT_TWITTER_PROFILE_ID, SECOND_MEMBER_ID,
    SECOND_ORGANIZATION_ID, SECOND_PROFILE_ID,
};

use state::Sim;

/// How the simulator behaves. `Default` gives Hootsuite's documented values.
#[derive(Debug, Clone)]
pub struct SimConfig {
    /// Lifetime of access tokens; reported as `expires_in` (Hootsuite: 3599 s).
    pub access_token_ttl: Duration,
    /// Lifetime of authorization codes (Hootsuite: 10 minutes).
    pub code_ttl: Duration,
    /// Requests allowed per account in any 1-second window (Hootsuite: 20).
    pub rate_limit_per_second: u32,
    /// Requests allowed per account per UTC day (Hootsuite: 100,000).
    pub daily_quota: u32,
    /// Events for one URL are aggregated for this long before a POST (Hootsuite: 5 s).
    pub webhook_batch_interval: Duration,
    /// More than this many pending events trigger an immediate POST, which carries at most this
    /// many events (Hootsuite: 100).
    pub webhook_batch_max: usize,
    /// A receiver must answer within this time (Hootsuite: 10 s).
    pub webhook_timeout: Duration,
    /// Delays before re-sending a failed batch; the last entry repeats.
    pub webhook_retry_backoff: Vec<Duration>,
    /// Consecutive failed attempts after which a URL is disabled. Hootsuite's number is not
    /// documented; 10 is this simulator's guess.
    pub webhook_disable_after: u32,
    /// Enforce hootsuite.md §3.1 on webhook URLs (public IP; ports 80/8080 for http, 443/8443 for
    /// https). Off by default because tests receive webhooks on loopback.
    pub strict_webhook_urls: bool,
    /// SCHEDULED messages whose `scheduledSendTime` has passed become SENT.
    pub auto_publish: bool,
    /// How often the auto-publisher looks for due messages.
    pub auto_publish_interval: Duration,
    /// Create the default world (organizations, members, social profiles, the default app).
    pub seed: bool,
    /// Client id of the seeded app.
    pub client_id: String,
    /// Client secret of the seeded app.
    pub client_secret: String,
    /// Redirect URIs registered for the seeded app on top of any `http://localhost…` or
    /// `http://127.0.0.1…` URI, which it always accepts.
    pub redirect_uris: Vec<String>,
}

impl Default for SimConfig {
    fn default() -> Self {
        Self {
            access_token_ttl: Duration::from_secs(3599),
            code_ttl: Duration::from_secs(10 * 60),
            rate_limit_per_second: 20,
            daily_quota: 100_000,
            webhook_batch_interval: Duration::from_secs(5),
            webhook_batch_max: 100,
            webhook_timeout: Duration::from_secs(10),
            webhook_retry_backoff: [10, 30, 60, 5 * 60, 15 * 60]
                .into_iter()
                .map(Duration::from_secs)
                .collect(),
            webhook_disable_after: 10,
            strict_webhook_urls: false,
            auto_publish: true,
            auto_publish_interval: Duration::from_secs(1),
            seed: true,
            client_id: DEFAULT_CLIENT_ID.to_owned(),
            client_secret: DEFAULT_CLIENT_SECRET.to_owned(),
            redirect_uris: Vec::new(),
        }
    }
}

/// A running simulator. Dropping it stops the server and background tasks abruptly;
/// [`SimHandle::shutdown`] stops them gracefully.
pub struct SimHandle {
    pub addr: SocketAddr,
    shutdown: watch::Sender<bool>,
    server: Option<JoinHandle<()>>,
    background: Vec<JoinHandle<()>>,
}

impl SimHandle {
    /// `http://127.0.0.1:<port>` (or whatever address the listener was bound to).
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Stops accepting connections, lets in-flight requests finish (for at most 5 s) and stops
    /// the webhook dispatcher and auto-publisher.
    pub async fn shutdown(mut self) {
        let _ = self.shutdown.send(true);
        if let Some(mut server) = self.server.take()
            && tokio::time::timeout(Duration::from_secs(5), &mut server).await.is_err()
        {
            server.abort();
        }
    }
}

impl Drop for SimHandle {
    fn drop(&mut self) {
        if let Some(server) = &self.server {
            server.abort();
        }
        for task in &self.background {
            task.abort();
        }
    }
}

/// Binds `127.0.0.1:0` and runs the simulator there.
pub async fn spawn(config: SimConfig) -> anyhow::Result<SimHandle> {
    spawn_on(TcpListener::bind("127.0.0.1:0").await?, config).await
}

/// Runs the simulator on an already bound listener.
pub async fn spawn_on(listener: TcpListener, config: SimConfig) -> anyhow::Result<SimHandle> {
    let mut addr = listener.local_addr()?;
    if addr.ip().is_unspecified() {
        addr.set_ip(std::net::Ipv4Addr::LOCALHOST.into());
    }
    let sim = Arc::new(Sim::new(config, format!("http://{addr}"))?);
    let (shutdown, mut shutdown_rx) = watch::channel(false);
    let app = router(sim.clone());
    let server = tokio::spawn(async move {
        let stopped = async move {
            let _ = shutdown_rx.wait_for(|stop| *stop).await;
        };
        if let Err(error) = axum::serve(listener, app).with_graceful_shutdown(stopped).await {
            tracing::error!(%error, "hootsuite-sim server stopped");
        }
    });
    let background = vec![
        tokio::spawn(webhooks::dispatcher::run(sim.clone())),
        tokio::spawn(publisher::run(sim)),
    ];
    Ok(SimHandle {
        addr,
        shutdown,
        server: Some(server),
        background,
    })
}

/// The whole HTTP surface: Hootsuite's endpoints (OAuth, REST, SCIM and the media bucket), each
/// behind fault injection, and `/_sim` beside them.
fn router(sim: Arc<Sim>) -> Router {
    Router::new()
        .merge(oauth::router(sim.clone()))
        .nest("/v1", rest::router(sim.clone()))
        .nest("/scim/v2", rest::scim::router(sim.clone()))
        .merge(bucket::router(sim.clone()))
        .nest("/_sim", control::router())
        .with_state(sim)
}
