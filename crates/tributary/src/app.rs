//! Wiring: builds the hub's parts from configuration, serves the API and runs the background
//! workers until shutdown.

use std::{net::SocketAddr, ops::Deref, sync::Arc, time::Duration};

use anyhow::Context;
use secrecy::ExposeSecret;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use crate::{
    api::limits::Limits,
    config::{Config, SqliteSynchronous},
    crypto::{Cipher, MasterKey},
    elements::Registry,
    instances::Instances,
    metrics::Metrics,
    oauth::{OAuthClient, TokenManager},
    outbound::{self, ProviderClient},
    pipeline::{
        cache::Caches,
        deliver::{Dispatcher, DispatcherConfig, guard::NetworkPolicy, retry::RetryPolicy},
        ingest::Ingest,
        retention,
        sources::poller::Poller,
    },
    store::{self, ConnectOptions, Store},
};

/// Everything request handlers and workers share.
#[derive(Clone)]
pub struct AppState(Arc<Shared>);

pub struct Shared {
    pub config: Config,
    pub store: Arc<dyn Store>,
    pub cipher: Arc<Cipher>,
    pub elements: Arc<Registry>,
    pub tokens: Arc<TokenManager>,
    pub instances: Instances,
    pub ingest: Ingest,
    pub dispatcher: Arc<Dispatcher>,
    pub poller: Arc<Poller>,
    /// What the pipeline reads about instances, briefly cached.
    pub caches: Arc<Caches>,
    pub limits: Limits,
    pub metrics: Arc<Metrics>,
    /// The hub's base URL as providers and browsers see it, without a trailing slash.
    pub public_url: String,
}

impl Deref for AppState {
    type Target = Shared;

    fn deref(&self) -> &Shared {
        &self.0
    }
}

impl AppState {
    /// Connects to the database (migrating it), loads the master key and the elements.
    pub async fn build(config: Config) -> anyhow::Result<Self> {
        let store = store::connect(
            &config.database_url(),
            &ConnectOptions {
                max_connections: config.database.max_connections,
                sqlite_full_sync: config.database.sqlite_synchronous == SqliteSynchronous::Full,
            },
        )
        .await
        .context("opening the database")?;
        let key = match &config.master_key {
            Some(text) => MasterKey::from_base64(text.expose_secret())?,
            None => {
                crate::crypto::create_private_dir(&config.data_dir)
                    .with_context(|| format!("creating the data directory {}", config.data_dir.display()))?;
                MasterKey::load_or_create(&config.data_dir.join("master.key"))?
            }
        };
        let cipher = Arc::new(Cipher::new(&key));
        let elements = Arc::new(Registry::builtin(&config.providers)?);
        let node = format!("{}-{}", std::process::id(), hex::encode(rand::random::<[u8; 4]>()));
        let provider = ProviderClient::new(config.oauth.provider_timeout());
        let tokens = Arc::new(TokenManager::new(
            store.clone(),
            cipher.clone(),
            elements.clone(),
            OAuthClient::new(provider.clone()),
            config.oauth.clone(),
            node.clone(),
        ));
        let delivery = &config.delivery;
        let network = Arc::new(NetworkPolicy::new(&delivery.allow_networks).map_err(anyhow::Error::msg)?);
        let caches = Arc::new(Caches::default());
        let instances = Instances::new(
            store.clone(),
            cipher.clone(),
            elements.clone(),
            tokens.clone(),
            config.polling.clone(),
            network.clone(),
            caches.clone(),
        );
        let metrics = Arc::new(Metrics::default());
        let dispatcher = Arc::new(Dispatcher::new(
            store.clone(),
            caches.clone(),
            cipher.clone(),
            metrics.clone(),
            outbound::callback_client(Duration::from_secs(delivery.timeout_secs), &network)?,
            DispatcherConfig {
                timeout: Duration::from_secs(delivery.timeout_secs),
                retry: RetryPolicy {
                    schedule: delivery
                        .retry_schedule_secs
                        .iter()
                        .map(|s| Duration::from_secs(*s))
                        .collect(),
                    jitter: delivery.retry_jitter,
                    max_retry_after: Duration::from_secs(delivery.max_retry_after_secs),
                },
                concurrency: delivery.concurrency,
                per_destination: delivery.per_destination_concurrency,
                breaker_failures: delivery.breaker_failures,
                network: network.clone(),
            },
            node.clone(),
        ));
        let poller = Arc::new(Poller::new(
            store.clone(),
            tokens.clone(),
            elements.clone(),
            provider,
            metrics.clone(),
            config.polling.clone(),
            node,
        ));
        Ok(Self(Arc::new(Shared {
            public_url: config.public_url(),
            limits: Limits::new(&config.limits),
            ingest: Ingest::new(store.clone(), elements.clone(), metrics.clone(), dispatcher.handoff()),
            config,
            store,
            cipher,
            elements,
            tokens,
            instances,
            dispatcher,
            poller,
            caches,
            metrics,
        })))
    }
}

/// A hub serving on a bound listener.
pub struct Running {
    pub addr: SocketAddr,
    pub state: AppState,
    shutdown: CancellationToken,
    tasks: tokio::task::JoinSet<()>,
}

impl Running {
    /// Stops accepting requests, lets in-flight ones finish and stops the workers.
    pub async fn stop(mut self) {
        self.shutdown.cancel();
        while self.tasks.join_next().await.is_some() {}
    }

    /// Resolves when one of the hub's tasks ends on its own (it panicked): the server and
    /// the workers otherwise run until [`Running::stop`].
    pub async fn wait(&mut self) {
        self.tasks.join_next().await;
    }
}

/// Serves the API on `listener` and starts the background workers.
pub fn start(state: AppState, listener: TcpListener) -> anyhow::Result<Running> {
    let addr = listener.local_addr()?;
    let shutdown = CancellationToken::new();
    let mut tasks = tokio::task::JoinSet::new();
    tasks.spawn(state.tokens.clone().run(shutdown.clone()));
    tasks.spawn(state.dispatcher.clone().run(shutdown.clone()));
    tasks.spawn(state.poller.clone().run(shutdown.clone()));
    tasks.spawn(retention::run(
        state.store.clone(),
        Duration::from_secs(state.config.events.retention_days * 24 * 3600),
        shutdown.clone(),
    ));
    let app = crate::api::app(state.clone());
    let http = state.config.http.clone();
    tasks.spawn(crate::server::serve(listener, app, http, shutdown.clone()));
    Ok(Running {
        addr,
        state,
        shutdown,
        tasks,
    })
}
