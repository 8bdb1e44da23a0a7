//! Test fixtures: databases (a fresh SQLite file or a fresh PostgreSQL schema per test), a
//! running hub wired to a running Hootsuite simulator over loopback, and an API client.

use std::sync::Arc;

use hootsuite_sim::{SimConfig, SimHandle};
use reqwest::{Method, StatusCode};
use secrecy::ExposeSecret;
use serde_json::{Value, json};
use sqlx::Connection;
use tributary::{
    app::{self, AppState, Running},
    config::{Config, ProviderOverride},
    crypto::{Cipher, MasterKey},
    ids::InstanceId,
    instances::sealing::{self, Field},
    store::{self, ConnectOptions, Store},
    tenants,
};

/// The PostgreSQL server the suite uses; it must be reachable (the suite never skips it).
pub fn postgres_url() -> String {
    std::env::var("TEST_POSTGRES_URL").unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into())
}

/// A database for one test, removed when dropped (SQLite) or left for inspection in a
/// uniquely named schema (PostgreSQL).
pub enum Database {
    Sqlite { dir: tempfile::TempDir },
    Postgres { schema: String },
}

impl Database {
    pub async fn sqlite() -> Self {
        Database::Sqlite {
            dir: tempfile::tempdir().expect("temp dir"),
        }
    }

    pub async fn postgres() -> Self {
        let schema = format!("t_{}", hex::encode(rand::random::<[u8; 6]>()));
        let mut admin = sqlx::PgConnection::connect(&postgres_url()).await.unwrap_or_else(|e| {
            panic!(
                "PostgreSQL at {} is unreachable ({e}); the suite needs it (set TEST_POSTGRES_URL)",
                postgres_url()
            )
        });
        sqlx::raw_sql(sqlx::AssertSqlSafe(format!("CREATE SCHEMA {schema}")))
            .execute(&mut admin)
            .await
            .expect("create schema");
        Database::Postgres { schema }
    }

    pub fn url(&self) -> String {
        match self {
            Database::Sqlite { dir } => {
                format!("sqlite://{}", dir.path().join("tributary.db").display())
            }
            Database::Postgres { schema } => {
                format!("{}?options=-c%20search_path%3D{schema}", postgres_url())
            }
        }
    }

    pub async fn store(&self) -> Arc<dyn Store> {
        store::connect(
            &self.url(),
            &ConnectOptions {
                max_connections: 4,
                sqlite_full_sync: false,
            },
        )
        .await
        .expect("store")
    }

    /// Every row of every table, as sorted text: equal snapshots mean nothing was written.
    pub async fn snapshot(&self) -> Vec<String> {
        let mut rows = match self {
            Database::Sqlite { dir } => {
                use sqlx::{Column, Row};
                let url = format!("sqlite://{}", dir.path().join("tributary.db").display());
                let mut conn = sqlx::SqliteConnection::connect(&url).await.unwrap();
                let tables: Vec<(String,)> =
                    sqlx::query_as("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'")
                        .fetch_all(&mut conn)
                        .await
                        .unwrap();
                let mut rows = Vec::new();
                for (table,) in tables {
                    let found = sqlx::query(sqlx::AssertSqlSafe(format!("SELECT * FROM {table}")))
                        .fetch_all(&mut conn)
                        .await
                        .unwrap();
                    for row in found {
                        let cells: Vec<String> = (0..row.columns().len())
                            .map(|i| {
                                row.try_get::<Option<i64>, _>(i)
                                    .map(|v| format!("{v:?}"))
                                    .or_else(|_| row.try_get::<Option<String>, _>(i).map(|v| format!("{v:?}")))
                                    .or_else(|_| row.try_get::<Option<Vec<u8>>, _>(i).map(|v| format!("{v:?}")))
                                    .unwrap_or_else(|e| format!("<{e}> {}", row.columns()[i].name()))
                            })
                            .collect();
                        rows.push(format!("{table}: {}", cells.join(" | ")));
                    }
                }
                rows
            }
            Database::Postgres { .. } => self.dump().await.lines().map(str::to_owned).collect(),
        };
        rows.sort();
        rows
    }

    /// Every byte stored in the database, as text, for "no secret in clear" checks.
    pub async fn dump(&self) -> String {
        match self {
            Database::Sqlite { dir } => {
                let mut text = String::new();
                for entry in std::fs::read_dir(dir.path()).unwrap() {
                    let path = entry.unwrap().path();
                    if path.extension().is_none_or(|e| e != "key") {
                        text.push_str(&String::from_utf8_lossy(&std::fs::read(&path).unwrap()));
                    }
                }
                text
            }
            Database::Postgres { schema } => {
                let mut conn = sqlx::PgConnection::connect(&postgres_url()).await.unwrap();
                let tables: Vec<(String,)> =
                    sqlx::query_as("SELECT table_name::text FROM information_schema.tables WHERE table_schema = $1")
                        .bind(schema)
                        .fetch_all(&mut conn)
                        .await
                        .unwrap();
                let mut text = String::new();
                for (table,) in tables {
                    let rows: Vec<(String,)> =
                        sqlx::query_as(sqlx::AssertSqlSafe(format!("SELECT t::text FROM {schema}.{table} t")))
                            .fetch_all(&mut conn)
                            .await
                            .unwrap();
                    for (row,) in rows {
                        text.push_str(&row);
                        text.push('\n');
                    }
                }
                text
            }
        }
    }
}

/// A hub on loopback, talking to a simulator on loopback, with one organization and user.
pub struct Hub {
    pub running: Running,
    pub sim: SimHandle,
    pub db: Database,
    pub base: String,
    pub http: reqwest::Client,
    pub auth: String,
    pub user_secret: String,
    pub org_secret: String,
    pub master_key: String,
}

pub struct HubOptions {
    pub sim: SimConfig,
    pub configure: Box<dyn FnOnce(&mut Config) + Send>,
}

impl Default for HubOptions {
    /// The simulator batches webhooks every 100 ms instead of 5 s, so tests need not wait.
    fn default() -> Self {
        Self {
            sim: SimConfig {
                webhook_batch_interval: std::time::Duration::from_millis(100),
                ..SimConfig::default()
            },
            configure: Box::new(|_| {}),
        }
    }
}

impl Hub {
    pub async fn start(db: Database) -> Self {
        Self::start_with(db, HubOptions::default()).await
    }

    pub async fn start_with(db: Database, options: HubOptions) -> Self {
        let sim = hootsuite_sim::spawn(options.sim).await.expect("simulator");
        let master_key = MasterKey::generate().to_base64();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let config = hub_config(&db, &sim, &master_key, &listener, options.configure);
        let state = AppState::build(config).await.expect("hub state");
        let (org, org_secret) = tenants::create_organization(state.store.as_ref(), "Acme")
            .await
            .unwrap();
        let (_, user_secret) = tenants::create_user(state.store.as_ref(), org.id, "dev@acme.test", "Dev", "Eloper")
            .await
            .unwrap();
        let running = app::start(state, listener).expect("hub");
        let user_secret = user_secret.expose_secret().to_string();
        let org_secret = org_secret.expose_secret().to_string();
        Hub {
            base: format!("http://{}/elements/api-v2", running.addr),
            auth: format!("User {user_secret}, Organization {org_secret}"),
            running,
            sim,
            db,
            http: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .unwrap(),
            user_secret,
            org_secret,
            master_key,
        }
    }

    /// Stops this hub process (gracefully, or abruptly as a crash would) and starts a new
    /// one on the same database, simulator and master key, at a new address.
    pub async fn restart(mut self, crash: bool, configure: Box<dyn FnOnce(&mut Config) + Send>) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let config = hub_config(&self.db, &self.sim, &self.master_key, &listener, configure);
        let old = std::mem::replace(
            &mut self.running,
            app::start(AppState::build(config).await.expect("hub state"), listener).expect("hub"),
        );
        if crash {
            // Dropping a running hub aborts its tasks mid-flight, as a killed process would.
            drop(old);
        } else {
            old.stop().await;
        }
        self.base = format!("http://{}/elements/api-v2", self.running.addr);
        self
    }

    /// A second organization with its own user, on the same hub.
    pub async fn other_tenant(&self) -> String {
        let store = self.running.state.store.as_ref();
        let (org, org_secret) = tenants::create_organization(store, "Globex").await.unwrap();
        let (_, user_secret) = tenants::create_user(store, org.id, "ops@globex.test", "Op", "Erator")
            .await
            .unwrap();
        format!(
            "User {}, Organization {}",
            user_secret.expose_secret(),
            org_secret.expose_secret()
        )
    }

    pub fn sim_url(&self) -> String {
        self.sim.base_url()
    }

    /// Calls the hub's API with `auth`, returning status and JSON body.
    pub async fn call(&self, method: Method, path: &str, auth: &str, body: Option<Value>) -> (StatusCode, Value) {
        let (status, _, json) = self.call_with_headers(method, path, auth, body).await;
        (status, json)
    }

    /// Like [`Hub::call`], with the response headers too.
    pub async fn call_with_headers(
        &self,
        method: Method,
        path: &str,
        auth: &str,
        body: Option<Value>,
    ) -> (StatusCode, reqwest::header::HeaderMap, Value) {
        let mut request = self
            .http
            .request(method, format!("{}{path}", self.base))
            .header("authorization", auth);
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.expect("hub answers");
        let status = response.status();
        let headers = response.headers().clone();
        let text = response.text().await.unwrap();
        let json = serde_json::from_str(&text).unwrap_or_else(|_| panic!("non-JSON body ({status}): {text:?}"));
        (status, headers, json)
    }

    pub async fn get(&self, path: &str) -> (StatusCode, Value) {
        self.call(Method::GET, path, &self.auth, None).await
    }

    /// The Prometheus text of `/metrics`.
    pub async fn metrics(&self) -> String {
        self.http
            .get(format!("http://{}/metrics", self.running.addr))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap()
    }

    /// Sends the user through the simulator's consent page and returns the code the
    /// redirect carries, as a browser would.
    pub async fn consent(&self, client_id: &str, callback: &str, state: &str) -> String {
        let (status, body) = self
            .get(&format!(
                "/elements/hootsuite/oauth/url?apiKey={client_id}&apiSecret=x&callbackUrl={}&state={state}",
                urlencode(callback)
            ))
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        let oauth_url = body["oauthUrl"].as_str().unwrap().to_string();
        approve(&self.http, &oauth_url).await
    }

    /// The seed's body for `POST /instances`, with this simulator's demo app.
    pub fn seed_body(&self, code: &str, callback: &str) -> Value {
        json!({
            "element": {"key": "hootsuite"},
            "providerData": {"code": code},
            "configuration": {
                "oauth.callback.url": callback,
                "oauth.api.key": hootsuite_sim::DEFAULT_CLIENT_ID,
                "oauth.api.secret": hootsuite_sim::DEFAULT_CLIENT_SECRET,
                "event.notification.enabled": true,
                "event.notification.callback.url": "https://api.cloud-elements.com/elements/api-v2/events/hootsuite"
            },
            "tags": ["Docs"],
            "name": "API Instance"
        })
    }

    /// Authorizes through the simulator and creates an instance; returns its body.
    pub async fn create_instance(&self) -> Value {
        let callback = "http://localhost:3000/oauth/callback";
        let code = self
            .consent(hootsuite_sim::DEFAULT_CLIENT_ID, callback, "tributary-test")
            .await;
        let (status, body) = self
            .call(
                Method::POST,
                "/instances",
                &self.auth,
                Some(self.seed_body(&code, callback)),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        body
    }

    /// Another hub process on the same database, simulator and master key.
    pub async fn second_node(&self) -> Running {
        self.second_node_with(Box::new(|_| {})).await
    }

    pub async fn second_node_with(&self, configure: Box<dyn FnOnce(&mut Config) + Send>) -> Running {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let config = hub_config(&self.db, &self.sim, &self.master_key, &listener, configure);
        let state = AppState::build(config).await.expect("second hub");
        app::start(state, listener).expect("second hub")
    }

    /// The simulator's control API.
    pub async fn sim_control(&self, method: Method, path: &str, body: Option<Value>) -> Value {
        let mut request = self.http.request(method, format!("{}/_sim{path}", self.sim.base_url()));
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.expect("simulator answers");
        assert!(response.status().is_success(), "{path}: {}", response.status());
        response.json().await.unwrap()
    }

    /// The access token the hub holds for an instance, decrypted with the master key.
    pub async fn stored_access_token(&self, id: i64) -> String {
        let cipher = Cipher::new(&MasterKey::from_base64(&self.master_key).unwrap());
        let id = InstanceId::from_stored(id);
        let grant = self.running.state.store.access_grant(id).await.unwrap().unwrap();
        let token = cipher
            .open(&grant.access_token, &sealing::context(id, Field::AccessToken))
            .unwrap();
        token.expose_secret().to_string()
    }

    pub async fn stop(self) {
        self.running.stop().await;
        self.sim.shutdown().await;
    }
}

/// Polls `check` every 100 ms until it returns `Some`, for at most `seconds`.
pub async fn eventually<T, F, Fut>(seconds: u64, what: &str, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(seconds);
    loop {
        if let Some(value) = check().await {
            return value;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out after {seconds} s waiting for {what}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
}

/// A hub's configuration for tests: its database, the simulator as Hootsuite, its public
/// URL on the bound listener, quick token refresh checks and second-long retry delays.
pub fn hub_config(
    db: &Database,
    sim: &SimHandle,
    master_key: &str,
    listener: &tokio::net::TcpListener,
    configure: Box<dyn FnOnce(&mut Config) + Send>,
) -> Config {
    let mut config = Config {
        database_url: Some(db.url()),
        master_key: Some(master_key.into()),
        ..Config::default()
    };
    config.public_url = Some(format!("http://{}", listener.local_addr().unwrap()).parse().unwrap());
    config.oauth.refresh_scan_secs = 1;
    config.delivery.retry_schedule_secs = vec![1, 1, 1];
    config.delivery.retry_jitter = 0.0;
    config.delivery.timeout_secs = 3;
    // Receivers in these tests listen on loopback, which the SSRF guard refuses by default.
    config.delivery.allow_networks = vec!["127.0.0.0/8".into()];
    config.providers.insert(
        "hootsuite".into(),
        ProviderOverride {
            base_url: Some(sim.base_url().parse().unwrap()),
            ..Default::default()
        },
    );
    configure(&mut config);
    config
}

pub fn urlencode(text: &str) -> String {
    url::form_urlencoded::byte_serialize(text.as_bytes()).collect()
}

/// Opens the consent page at `oauth_url` and presses Approve: returns the `code` of the
/// redirect (and checks `state` came back).
pub async fn approve(http: &reqwest::Client, oauth_url: &str) -> String {
    let location = decide(http, oauth_url, "approve").await;
    let redirect = url::Url::parse(&location).unwrap();
    let params: std::collections::HashMap<_, _> = redirect.query_pairs().into_owned().collect();
    let requested = url::Url::parse(oauth_url).unwrap();
    let state = requested
        .query_pairs()
        .find(|(k, _)| k == "state")
        .unwrap()
        .1
        .into_owned();
    assert_eq!(params.get("state"), Some(&state), "{location}");
    params
        .get("code")
        .unwrap_or_else(|| panic!("no code in {location}"))
        .clone()
}

/// Opens the consent page and submits its form with `decision`; returns the redirect target.
pub async fn decide(http: &reqwest::Client, oauth_url: &str, decision: &str) -> String {
    let page = http.get(oauth_url).send().await.unwrap();
    assert_eq!(page.status(), StatusCode::OK);
    let html = page.text().await.unwrap();
    let mut form = hidden_inputs(&html);
    form.push(("decision".into(), decision.into()));
    let action = url::Url::parse(oauth_url).unwrap().join("/oauth2/auth").unwrap();
    let response = http.post(action).form(&form).send().await.unwrap();
    assert_eq!(
        response.status(),
        StatusCode::FOUND,
        "{}",
        response.text().await.unwrap_or_default()
    );
    response.headers()["location"].to_str().unwrap().to_string()
}

/// `name`/`value` of every `<input type="hidden">` and the first option of each `<select>`.
fn hidden_inputs(html: &str) -> Vec<(String, String)> {
    let attr = |tag: &str, name: &str| {
        let start = tag.find(&format!("{name}=\""))? + name.len() + 2;
        let end = tag[start..].find('"')? + start;
        Some(html_unescape(&tag[start..end]))
    };
    let mut fields = Vec::new();
    for tag in html.split('<').filter(|t| t.starts_with("input")) {
        if attr(tag, "type").as_deref() == Some("hidden")
            && let (Some(name), Some(value)) = (attr(tag, "name"), attr(tag, "value"))
        {
            fields.push((name, value));
        }
    }
    if let Some(select) = html.split("<select").nth(1) {
        let name = attr(select, "name").unwrap();
        let option = select.split("<option").nth(1).unwrap();
        fields.push((name, attr(option, "value").unwrap()));
    }
    fields
}

fn html_unescape(text: &str) -> String {
    text.replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&")
}

/// Runs an async test body once per backend, as `<name>::sqlite` and `<name>::postgres`.
#[macro_export]
macro_rules! on_both_backends {
    ($($name:ident),* $(,)?) => {
        $(
            mod $name {
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn sqlite() {
                    super::$name($crate::support::Database::sqlite().await).await;
                }
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn postgres() {
                    super::$name($crate::support::Database::postgres().await).await;
                }
            }
        )*
    };
}

/// A callback receiver on loopback: records every notification and answers with the
/// statuses it is told to (200 once the script runs out).
#[derive(Clone)]
pub struct Receiver {
    pub url: String,
    received: Arc<std::sync::Mutex<Vec<Captured>>>,
    script: Arc<std::sync::Mutex<std::collections::VecDeque<Answer>>>,
}

#[derive(Debug, Clone)]
pub struct Captured {
    pub headers: reqwest::header::HeaderMap,
    pub body: Vec<u8>,
    pub at: std::time::Instant,
}

impl Captured {
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap()
    }

    pub fn header(&self, name: &str) -> &str {
        self.headers
            .get(name)
            .unwrap_or_else(|| panic!("no {name} header"))
            .to_str()
            .unwrap()
    }
}

/// One scripted answer: a status and optional headers, after an optional delay.
#[derive(Debug, Clone)]
pub struct Answer {
    pub status: u16,
    pub headers: Vec<(&'static str, String)>,
    pub delay: std::time::Duration,
}

impl From<u16> for Answer {
    fn from(status: u16) -> Self {
        Answer {
            status,
            headers: vec![],
            delay: std::time::Duration::ZERO,
        }
    }
}

impl Receiver {
    pub async fn start() -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        Self::serve(listener).await
    }

    /// Serves on a given listener (to come back on the same port after an outage).
    pub async fn serve(listener: tokio::net::TcpListener) -> Self {
        let receiver = Receiver {
            url: format!("http://{}/events", listener.local_addr().unwrap()),
            received: Default::default(),
            script: Default::default(),
        };
        let state = receiver.clone();
        let app = axum::Router::new().route(
            "/events",
            axum::routing::post(move |headers: axum::http::HeaderMap, body: axum::body::Bytes| {
                let state = state.clone();
                async move {
                    state.received.lock().unwrap().push(Captured {
                        headers,
                        body: body.to_vec(),
                        at: std::time::Instant::now(),
                    });
                    let answer = state.script.lock().unwrap().pop_front().unwrap_or(Answer::from(200));
                    tokio::time::sleep(answer.delay).await;
                    let mut response = axum::http::Response::builder().status(answer.status);
                    for (name, value) in answer.headers {
                        response = response.header(name, value);
                    }
                    response.body(axum::body::Body::from("ok")).unwrap()
                }
            }),
        );
        tokio::spawn(async move { axum::serve(listener, app).await.ok() });
        receiver
    }

    /// Answers the next requests with these, in order.
    pub fn script(&self, answers: impl IntoIterator<Item = impl Into<Answer>>) {
        self.script.lock().unwrap().extend(answers.into_iter().map(Into::into));
    }

    pub fn received(&self) -> Vec<Captured> {
        self.received.lock().unwrap().clone()
    }

    /// Waits until at least `n` notifications arrived.
    pub async fn wait_for(&self, n: usize, seconds: u64) -> Vec<Captured> {
        eventually(seconds, &format!("{n} notifications"), || async {
            let got = self.received();
            (got.len() >= n).then_some(got)
        })
        .await
    }
}

/// A callback server that accepts connections and never answers, counting them: each of
/// the hub's requests to it holds a connection until the hub times out.
pub struct BlackHole {
    pub url: String,
    pub addr: std::net::SocketAddr,
    accepted: Arc<std::sync::atomic::AtomicUsize>,
    server: tokio::task::JoinHandle<()>,
}

impl BlackHole {
    pub async fn start() -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let accepted = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let counted = accepted.clone();
        let server = tokio::spawn(async move {
            let mut held = Vec::new();
            while let Ok((connection, _)) = listener.accept().await {
                counted.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                held.push(connection);
            }
        });
        Self {
            url: format!("http://{addr}/events"),
            addr,
            accepted,
            server,
        }
    }

    /// Connections accepted so far.
    pub fn accepted(&self) -> usize {
        self.accepted.load(std::sync::atomic::Ordering::SeqCst)
    }

    /// Closes every connection and the port, for a receiver to serve on it instead.
    pub async fn stop(self) -> std::net::SocketAddr {
        self.server.abort();
        let _ = self.server.await;
        self.addr
    }
}
