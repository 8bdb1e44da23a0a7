//! Server configuration: built-in defaults, then an optional TOML file, then `TRIBUTARY_*`
//! environment variables, then command-line flags, each layer overriding the one before.
//!
//! Nested keys use `__` in environment variables, e.g.
//! `TRIBUTARY_PROVIDERS__HOOTSUITE__BASE_URL=http://127.0.0.1:9090`.
//! Unknown keys are errors so that a typo does not silently fall back to a default.

use std::{
    collections::BTreeMap,
    net::SocketAddr,
    path::{Path, PathBuf},
    time::Duration,
};

use figment::{
    Figment, Metadata, Provider, Source,
    error::Kind,
    providers::{Env, Format, Serialized, Toml},
};
use secrecy::SecretString;
use serde::{Deserialize, Serialize};
use url::Url;

/// The name of the config file read from the working directory when no path is given.
pub const DEFAULT_CONFIG_FILE: &str = "tributary.toml";

/// What starts every environment variable the configuration reads; `__` nests keys.
const ENV_PREFIX: &str = "TRIBUTARY_";

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// Address the HTTP API listens on.
    pub listen: SocketAddr,
    /// Base URL under which providers and browsers reach this hub (used for
    /// `eventsWebhookUrl`); defaults to `http://<listen>`.
    pub public_url: Option<Url>,
    /// Directory for the default SQLite database and the generated master key.
    pub data_dir: PathBuf,
    /// `sqlite://path` or `postgres://…`; defaults to `sqlite://<data_dir>/tributary.db`.
    pub database_url: Option<String>,
    /// Base64 of 32 bytes sealing stored secrets; defaults to the key in
    /// `<data_dir>/master.key`, generated on first start.
    #[serde(skip_serializing)]
    pub master_key: Option<SecretString>,
    pub database: DatabaseConfig,
    pub http: HttpConfig,
    pub oauth: OAuthConfig,
    pub api: ApiConfig,
    pub events: EventsConfig,
    pub delivery: DeliveryConfig,
    pub polling: PollingConfig,
    pub limits: LimitsConfig,
    pub log: LogConfig,
    /// Per-element overrides of the provider endpoints, keyed by element key.
    pub providers: BTreeMap<String, ProviderOverride>,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
            public_url: None,
            data_dir: PathBuf::from("data"),
            database_url: None,
            master_key: None,
            database: DatabaseConfig::default(),
            http: HttpConfig::default(),
            oauth: OAuthConfig::default(),
            api: ApiConfig::default(),
            events: EventsConfig::default(),
            delivery: DeliveryConfig::default(),
            polling: PollingConfig::default(),
            limits: LimitsConfig::default(),
            log: LogConfig::default(),
            providers: BTreeMap::new(),
        }
    }
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct DatabaseConfig {
    /// Connections in the pool (SQLite: readers; it always writes through one connection).
    pub max_connections: u32,
    /// SQLite `synchronous` pragma: `full` survives power loss, `normal` survives a crash
    /// of the hub but may lose the last commits on power loss.
    pub sqlite_synchronous: SqliteSynchronous,
}

impl Default for DatabaseConfig {
    fn default() -> Self {
        Self {
            max_connections: 8,
            sqlite_synchronous: SqliteSynchronous::Full,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum SqliteSynchronous {
    Full,
    Normal,
}

/// What a client may hold of the HTTP server: how long it may take to send a request, and
/// how many connections may be open at once (see `server.rs`).
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct HttpConfig {
    /// Seconds a connection has to deliver a request's headers, counted from when it opens
    /// or its previous response went out; past it the connection is closed. So it is also
    /// how long an idle keep-alive connection stays open.
    pub header_read_timeout_secs: u64,
    /// Seconds a request body has to arrive whole once the hub starts reading it; past it
    /// the request is answered 408 and the connection closed.
    pub body_timeout_secs: u64,
    /// Connections open at once; more are not accepted (they wait in the listen backlog)
    /// until one closes.
    pub max_connections: usize,
}

impl Default for HttpConfig {
    fn default() -> Self {
        Self {
            header_read_timeout_secs: 30,
            body_timeout_secs: 10,
            max_connections: 4096,
        }
    }
}

impl HttpConfig {
    pub fn header_read_timeout(&self) -> Duration {
        Duration::from_secs(self.header_read_timeout_secs)
    }
    pub fn body_timeout(&self) -> Duration {
        Duration::from_secs(self.body_timeout_secs)
    }
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct OAuthConfig {
    /// Refresh an access token this long before it expires (at most half its lifetime).
    pub refresh_ahead_secs: u64,
    /// How long one hub process may hold the right to refresh an instance's token.
    pub refresh_lease_secs: u64,
    /// How often the refresher looks for tokens that are due.
    pub refresh_scan_secs: u64,
    /// Timeout of every call to a provider.
    pub provider_timeout_secs: u64,
}

impl Default for OAuthConfig {
    fn default() -> Self {
        Self {
            refresh_ahead_secs: 300,
            refresh_lease_secs: 60,
            refresh_scan_secs: 15,
            provider_timeout_secs: 15,
        }
    }
}

impl OAuthConfig {
    pub fn refresh_ahead(&self) -> Duration {
        Duration::from_secs(self.refresh_ahead_secs)
    }
    pub fn refresh_lease(&self) -> Duration {
        Duration::from_secs(self.refresh_lease_secs)
    }
    pub fn refresh_scan(&self) -> Duration {
        Duration::from_secs(self.refresh_scan_secs.max(1))
    }
    pub fn provider_timeout(&self) -> Duration {
        Duration::from_secs(self.provider_timeout_secs)
    }
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct ApiConfig {
    /// Largest request body the API accepts.
    pub max_body_bytes: usize,
    /// Origins (`https://app.example.com`) whose browser apps may call the API, or `["*"]`
    /// for any. Never with credentials: the console's cookie is not usable cross-origin.
    pub cors_allowed_origins: Vec<String>,
}

impl Default for ApiConfig {
    fn default() -> Self {
        Self {
            max_body_bytes: 1024 * 1024,
            cors_allowed_origins: vec!["*".into()],
        }
    }
}

impl ApiConfig {
    /// The origins allowed to call the API from a browser; `None` for any.
    pub fn cors_origins(&self) -> Result<Option<Vec<axum::http::HeaderValue>>, String> {
        if self.cors_allowed_origins.iter().any(|origin| origin == "*") {
            return Ok(None);
        }
        self.cors_allowed_origins
            .iter()
            .map(|origin| {
                // An origin is a scheme, a host and maybe a port, as a browser sends it.
                let parsed = Url::parse(origin).map_err(|e| format!("{origin:?} is not an origin: {e}"))?;
                if parsed.origin().ascii_serialization() != *origin {
                    return Err(format!(
                        "{origin:?} is not an origin: write it as the browser sends it, e.g. {:?}",
                        parsed.origin().ascii_serialization()
                    ));
                }
                axum::http::HeaderValue::from_str(origin).map_err(|e| format!("{origin:?}: {e}"))
            })
            .collect::<Result<_, _>>()
            .map(Some)
    }
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct EventsConfig {
    /// Largest webhook body the receiver accepts (413 above it).
    pub max_body_bytes: usize,
    /// Most events (items of the provider's batch, pings included) one webhook may carry
    /// (413 above it). Hootsuite sends a batch every 5 s or once 100 events are pending;
    /// 5 000 of its ~200-byte events fill the default body limit.
    pub max_events_per_webhook: usize,
    /// Days the event log keeps settled events.
    pub retention_days: u64,
    /// Webhook requests handled at once (from their complete body to the answer); more wait
    /// their turn instead of adding to the database's queue.
    pub max_in_flight: usize,
}

impl Default for EventsConfig {
    fn default() -> Self {
        Self {
            max_body_bytes: 1024 * 1024,
            max_events_per_webhook: 5000,
            retention_days: 7,
            max_in_flight: 256,
        }
    }
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct DeliveryConfig {
    /// Timeout of one notification request.
    pub timeout_secs: u64,
    /// Seconds before each retry after the first attempt; its length is the number of retries.
    pub retry_schedule_secs: Vec<u64>,
    /// Each retry delay varies by up to this fraction.
    pub retry_jitter: f64,
    /// The longest Retry-After (from a 429 or 503) the hub honours.
    pub max_retry_after_secs: u64,
    /// Notifications in flight at once per hub process.
    pub concurrency: usize,
    /// Notifications in flight at once to one callback server (a URL's scheme, host and
    /// port) per hub process, so that a slow one holds at most this share of `concurrency`.
    pub per_destination_concurrency: usize,
    /// Requests in a row that got no answer (timed out, refused, reset) after which a
    /// callback server's notifications wait for a probe, after cool-downs that follow
    /// `retry_schedule_secs`.
    pub breaker_failures: u32,
    /// Non-public networks (CIDR) callbacks may reach, e.g. `["127.0.0.0/8"]` for a
    /// receiver on this machine; everything non-public is refused otherwise (SSRF guard).
    pub allow_networks: Vec<String>,
}

impl Default for DeliveryConfig {
    fn default() -> Self {
        Self {
            timeout_secs: 15,
            retry_schedule_secs: vec![5, 300, 1800, 7200, 18_000, 36_000, 36_000],
            retry_jitter: 0.2,
            max_retry_after_secs: 3600,
            concurrency: 64,
            per_destination_concurrency: 8,
            breaker_failures: 5,
            allow_networks: Vec::new(),
        }
    }
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct PollingConfig {
    /// How many seconds one unit of `event.poller.refresh_interval` lasts: 60 (minutes, as in
    /// Cloud Elements); 1 reads the interval as seconds, for tests and demos.
    pub interval_unit_secs: u64,
    /// No instance is polled more often than this.
    pub min_interval_secs: u64,
    /// Instances polled at once per hub process.
    pub concurrency: usize,
    /// How long one process may hold a poll; another takes the instance over after that.
    pub lease_secs: u64,
}

impl Default for PollingConfig {
    fn default() -> Self {
        Self {
            interval_unit_secs: 60,
            min_interval_secs: 60,
            concurrency: 8,
            lease_secs: 300,
        }
    }
}

impl PollingConfig {
    /// The time between polls for a `refresh_interval` of `units`.
    pub fn interval(&self, units: u64) -> Duration {
        Duration::from_secs(
            units
                .saturating_mul(self.interval_unit_secs)
                .max(self.min_interval_secs)
                .max(1),
        )
    }
}

/// Request rates, per second with a burst allowance; 0 turns a limit off.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct LimitsConfig {
    /// Webhook requests per instance (Hootsuite sends one batch every 5 s at most per URL).
    pub receiver_per_instance_per_second: u32,
    pub receiver_burst: u32,
    /// API requests per organization.
    pub api_per_organization_per_second: u32,
    pub api_burst: u32,
}

impl Default for LimitsConfig {
    fn default() -> Self {
        Self {
            receiver_per_instance_per_second: 50,
            receiver_burst: 500,
            api_per_organization_per_second: 100,
            api_burst: 300,
        }
    }
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct LogConfig {
    /// `tracing` filter directives, e.g. `info,tributary=debug`.
    pub filter: String,
    pub format: LogFormat,
}

impl Default for LogConfig {
    fn default() -> Self {
        Self {
            filter: "info".into(),
            format: LogFormat::Text,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    Text,
    Json,
}

/// Where to reach a provider instead of the endpoints in its element definition: the
/// simulator, a proxy or a sandbox.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct ProviderOverride {
    /// Replaces scheme, host and port of every provider endpoint, keeping their paths.
    pub base_url: Option<Url>,
    pub authorization_url: Option<Url>,
    pub token_url: Option<Url>,
    pub api_base_url: Option<Url>,
}

#[derive(Debug, thiserror::Error)]
#[error("configuration: {0}")]
pub struct ConfigError(String);

impl Config {
    /// Layers defaults, the config file (`path`, or `tributary.toml` when present), the
    /// environment and `overrides` (command-line flags).
    pub fn load(path: Option<&Path>, overrides: &CliOverrides) -> Result<Self, ConfigError> {
        let file = match path {
            Some(path) if !path.exists() => {
                return Err(ConfigError(format!("config file {} does not exist", path.display())));
            }
            Some(path) => Some(path),
            None => Some(Path::new(DEFAULT_CONFIG_FILE)).filter(|default| default.exists()),
        };
        let mut figment = Figment::from(Serialized::defaults(Config::default()));
        if let Some(file) = file {
            figment = figment.merge(Toml::file_exact(file));
        }
        let env = Env::prefixed(ENV_PREFIX).split("__").ignore(&["config"]);
        let sources = Sources {
            file,
            env: env.metadata(),
        };
        let config: Config = figment
            .merge(env)
            .merge(Serialized::defaults(overrides))
            .extract()
            .map_err(|errors| ConfigError(sources.explain(errors)))?;
        config.check()?;
        Ok(config)
    }

    fn check(&self) -> Result<(), ConfigError> {
        if let Some(url) = &self.public_url
            && !matches!(url.scheme(), "http" | "https")
        {
            return Err(ConfigError(format!("public_url must be http or https, got {url}")));
        }
        if !(0.0..=1.0).contains(&self.delivery.retry_jitter) {
            return Err(ConfigError("delivery.retry_jitter must be between 0 and 1".into()));
        }
        if self.polling.concurrency == 0 || self.polling.interval_unit_secs == 0 {
            return Err(ConfigError(
                "polling.concurrency and polling.interval_unit_secs must be at least 1".into(),
            ));
        }
        crate::pipeline::deliver::guard::NetworkPolicy::new(&self.delivery.allow_networks)
            .map_err(|e| ConfigError(format!("delivery.allow_networks: {e}")))?;
        if self.events.max_in_flight == 0 || self.events.max_events_per_webhook == 0 {
            return Err(ConfigError(
                "events.max_in_flight and events.max_events_per_webhook must be at least 1".into(),
            ));
        }
        if self.delivery.concurrency == 0
            || self.delivery.per_destination_concurrency == 0
            || self.delivery.breaker_failures == 0
        {
            return Err(ConfigError(
                "delivery.concurrency, delivery.per_destination_concurrency and delivery.breaker_failures must be at \
                 least 1"
                    .into(),
            ));
        }
        if self.http.header_read_timeout_secs == 0 || self.http.body_timeout_secs == 0 || self.http.max_connections == 0
        {
            return Err(ConfigError(
                "http.header_read_timeout_secs, http.body_timeout_secs and http.max_connections must be at least 1"
                    .into(),
            ));
        }
        self.api
            .cors_origins()
            .map_err(|e| ConfigError(format!("api.cors_allowed_origins: {e}")))?;
        if self.database.max_connections == 0 {
            return Err(ConfigError("database.max_connections must be at least 1".into()));
        }
        Ok(())
    }

    /// The database to use: the configured URL, or the SQLite file in the data directory.
    pub fn database_url(&self) -> String {
        self.database_url
            .clone()
            .unwrap_or_else(|| format!("sqlite://{}", self.data_dir.join("tributary.db").display()))
    }

    /// The hub's own base URL as seen from outside, without a trailing slash.
    pub fn public_url(&self) -> String {
        match &self.public_url {
            Some(url) => url.as_str().trim_end_matches('/').to_owned(),
            None => format!("http://{}", self.listen),
        }
    }
}

/// Where the layers a value can come from were read, to name the one at fault in an error.
struct Sources<'a> {
    file: Option<&'a Path>,
    env: Metadata,
}

impl Sources<'_> {
    /// figment's errors speak its own terms (``found `lisen`, expected `one of …` for key
    /// "default.lisen"``, an environment variable as `"DELIVERY.ALOW_NETWORKS"`): this names
    /// the file or the variable as the user wrote it, the key, and what would be right.
    fn explain(&self, errors: figment::Error) -> String {
        errors
            .into_iter()
            .map(|error| {
                let from_env = error.metadata.as_ref() == Some(&self.env);
                let problem = problem(&error.kind, &error.path, from_env);
                let source = match &error.metadata {
                    _ if from_env => Some(format!("environment variable {}", env_variable(&error.path))),
                    Some(Metadata {
                        source: Some(Source::File(_)),
                        ..
                    }) => self.file.map(|file| format!("config file {}", file.display())),
                    _ => None,
                };
                match source {
                    Some(source) => format!("{source}: {problem}"),
                    None => problem,
                }
            })
            .collect::<Vec<_>>()
            .join("; ")
    }
}

/// What is wrong with the value at `path`, in the configuration's own terms (dotted keys);
/// a key suggested for a value `from_env` is spelled as a variable too.
fn problem(kind: &Kind, path: &[String], from_env: bool) -> String {
    let key = path.join(".");
    match kind {
        Kind::UnknownField(name, known) => {
            let parent = &path[..path.len().saturating_sub(1)];
            let hint = match nearest_key(parent, name, known) {
                Some(near) if from_env => format!(
                    " (did you mean {near:?}: {ENV_PREFIX}{}?)",
                    near.replace('.', "__").to_ascii_uppercase()
                ),
                Some(near) => format!(" (did you mean {near:?}?)"),
                None => String::new(),
            };
            format!("unknown key {key:?}{hint}")
        }
        Kind::UnknownVariant(value, known) => {
            let hint = crate::text::nearest(value, known.iter().copied())
                .map(|near| format!(" (did you mean {near:?}?)"))
                .unwrap_or_default();
            format!(
                "{key}: unknown value {value:?}{hint}; expected one of {}",
                known.join(", ")
            )
        }
        Kind::InvalidType(actual, expected) => {
            format!("{key}: expected {}, found {actual}", describe_expected(expected))
        }
        _ if key.is_empty() => kind.to_string(),
        _ => format!("{key}: {kind}"),
    }
}

/// The key meant by the unknown `name` under `parent`, whose fields are `known` (serde's
/// list, from the structure itself): one a small typo away, or, for `delivery_timeout_secs`,
/// the nested `delivery.timeout_secs` (in a variable, nesting takes two underscores).
fn nearest_key(parent: &[String], name: &str, known: &[&str]) -> Option<String> {
    let within = |keys: &[&str]| -> Vec<String> {
        parent
            .iter()
            .cloned()
            .chain(keys.iter().map(|key| key.to_string()))
            .collect()
    };
    if let Some(near) = crate::text::nearest(name, known.iter().copied()) {
        return Some(within(&[near]).join("."));
    }
    let defaults = serde_json::to_value(Config::default()).ok()?;
    known.iter().find_map(|section| {
        let rest = name.strip_prefix(section)?.strip_prefix('_')?;
        let keys = within(&[section, rest]);
        defaults
            .pointer(&format!("/{}", keys.join("/")))
            .map(|_| keys.join("."))
    })
}

/// serde's name for an expected type, as a person would say it.
fn describe_expected(expected: &str) -> String {
    match expected {
        "u8" | "u16" | "u32" | "u64" | "usize" => "a whole number (0 or more)".into(),
        "i8" | "i16" | "i32" | "i64" | "isize" => "a whole number".into(),
        "f32" | "f64" => "a number".into(),
        _ if expected.starts_with("struct ") => "a table of keys".into(),
        _ => expected.into(),
    }
}

/// The environment variable that set the value at `path`, spelled as in the environment
/// (figment matches the prefix in any case and lowercases the rest).
fn env_variable(path: &[String]) -> String {
    std::env::vars_os()
        .filter_map(|(name, _)| name.into_string().ok())
        .filter(|name| {
            let lower = name.trim().to_ascii_lowercase();
            lower
                .strip_prefix(&ENV_PREFIX.to_ascii_lowercase())
                .is_some_and(|rest| {
                    let keys: Vec<&str> = rest.split("__").collect();
                    keys.len() <= path.len() && keys.iter().zip(path).all(|(a, b)| a == b)
                })
        })
        .max_by_key(String::len)
        .unwrap_or_else(|| format!("{ENV_PREFIX}{}", path.join("__").to_ascii_uppercase()))
}

/// Command-line flags that override configuration; absent flags leave it alone.
#[derive(Debug, Default, Serialize)]
pub struct CliOverrides {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub listen: Option<SocketAddr>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub database_url: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub data_dir: Option<PathBuf>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub public_url: Option<Url>,
}

#[cfg(test)]
// figment::Jail's closures must return figment's own error type, which is large.
#[allow(clippy::result_large_err)]
mod tests {
    use super::*;

    #[test]
    fn defaults_run_on_sqlite_in_the_data_dir() {
        figment::Jail::expect_with(|_| {
            let config = Config::load(None, &CliOverrides::default()).unwrap();
            assert_eq!(config.listen.to_string(), "127.0.0.1:8080");
            assert_eq!(config.database_url(), "sqlite://data/tributary.db");
            assert_eq!(config.public_url(), "http://127.0.0.1:8080");
            Ok(())
        });
    }

    #[test]
    fn file_then_env_then_flags() {
        figment::Jail::expect_with(|jail| {
            jail.create_file(
                DEFAULT_CONFIG_FILE,
                r#"
                listen = "127.0.0.1:9000"
                public_url = "https://hub.example.com/"
                [providers.hootsuite]
                base_url = "http://127.0.0.1:7000"
                "#,
            )?;
            jail.set_env("TRIBUTARY_LISTEN", "127.0.0.1:9001");
            jail.set_env("TRIBUTARY_OAUTH__REFRESH_AHEAD_SECS", "42");
            jail.set_env("TRIBUTARY_DELIVERY__ALLOW_NETWORKS", r#"["127.0.0.0/8", "::1/128"]"#);
            let flags = CliOverrides {
                database_url: Some("postgres://db/x".into()),
                ..Default::default()
            };
            let config = Config::load(None, &flags).unwrap();
            assert_eq!(config.listen.to_string(), "127.0.0.1:9001");
            assert_eq!(config.public_url(), "https://hub.example.com");
            assert_eq!(config.oauth.refresh_ahead_secs, 42);
            assert_eq!(config.delivery.allow_networks, ["127.0.0.0/8", "::1/128"]);
            assert_eq!(config.database_url(), "postgres://db/x");
            assert_eq!(
                config.providers["hootsuite"].base_url.as_ref().unwrap().as_str(),
                "http://127.0.0.1:7000/"
            );
            Ok(())
        });
    }

    #[test]
    fn cors_origins_are_any_or_exact_origins() {
        let api = |origins: &[&str]| ApiConfig {
            cors_allowed_origins: origins.iter().map(|o| o.to_string()).collect(),
            ..ApiConfig::default()
        };
        assert_eq!(ApiConfig::default().cors_origins(), Ok(None));
        assert_eq!(
            api(&["https://app.example.com", "http://localhost:3000"]).cors_origins(),
            Ok(Some(vec![
                axum::http::HeaderValue::from_static("https://app.example.com"),
                axum::http::HeaderValue::from_static("http://localhost:3000"),
            ]))
        );
        for bad in [
            "https://app.example.com/",
            "app.example.com",
            "https://app.example.com/x",
        ] {
            assert!(api(&[bad]).cors_origins().is_err(), "{bad}");
        }
    }

    #[test]
    fn typos_are_errors() {
        figment::Jail::expect_with(|jail| {
            jail.set_env("TRIBUTARY_LISTN", "127.0.0.1:1");
            let err = Config::load(None, &CliOverrides::default()).unwrap_err();
            assert!(err.to_string().contains("listn"), "{err}");
            Ok(())
        });
    }

    /// The message names the file or the variable as written, the key in the configuration's
    /// own terms, and the key meant.
    #[test]
    fn mistakes_name_their_source_key_and_fix() {
        let load_error = |path: Option<&str>| {
            Config::load(path.map(Path::new), &CliOverrides::default())
                .unwrap_err()
                .to_string()
        };
        figment::Jail::expect_with(|jail| {
            jail.create_file(DEFAULT_CONFIG_FILE, r#"lisen = "127.0.0.1:1""#)?;
            assert_eq!(
                load_error(None),
                r#"configuration: config file tributary.toml: unknown key "lisen" (did you mean "listen"?)"#
            );
            Ok(())
        });
        figment::Jail::expect_with(|jail| {
            jail.create_dir("conf")?;
            jail.create_file(
                "conf/hub.toml",
                "[delivery]\ntimeout_secs = \"ten\"\n[log]\nformat = \"jsn\"",
            )?;
            assert_eq!(
                load_error(Some("conf/hub.toml")),
                r#"configuration: config file conf/hub.toml: delivery.timeout_secs: expected a whole number (0 or more), found string "ten""#
            );
            jail.create_file("conf/hub.toml", "[log]\nformat = \"jsn\"")?;
            assert_eq!(
                load_error(Some("conf/hub.toml")),
                r#"configuration: config file conf/hub.toml: log.format: unknown value "jsn" (did you mean "json"?); expected one of text, json"#
            );
            Ok(())
        });
        figment::Jail::expect_with(|jail| {
            jail.set_env("TRIBUTARY_DELIVERY__ALOW_NETWORKS", r#"["10.0.0.0/8"]"#);
            assert_eq!(
                load_error(None),
                "configuration: environment variable TRIBUTARY_DELIVERY__ALOW_NETWORKS: unknown key \
                 \"delivery.alow_networks\" (did you mean \"delivery.allow_networks\": TRIBUTARY_DELIVERY__ALLOW_NETWORKS?)"
            );
            Ok(())
        });
        figment::Jail::expect_with(|jail| {
            // One underscore where nesting takes two.
            jail.set_env("TRIBUTARY_DELIVERY_TIMEOUT_SECS", "5");
            assert!(
                load_error(None).ends_with(
                    r#"unknown key "delivery_timeout_secs" (did you mean "delivery.timeout_secs": TRIBUTARY_DELIVERY__TIMEOUT_SECS?)"#
                ),
                "{}",
                load_error(None)
            );
            Ok(())
        });
        figment::Jail::expect_with(|jail| {
            // The prefix in another case, as the environment spells it.
            jail.set_env("tributary_Providers__hootsuite__base_urll", "http://127.0.0.1:1");
            assert_eq!(
                load_error(None),
                "configuration: environment variable tributary_Providers__hootsuite__base_urll: unknown key \
                 \"providers.hootsuite.base_urll\" (did you mean \"providers.hootsuite.base_url\": \
                 TRIBUTARY_PROVIDERS__HOOTSUITE__BASE_URL?)"
            );
            Ok(())
        });
        figment::Jail::expect_with(|jail| {
            jail.set_env("TRIBUTARY_DELIVERY__TIMEOUT_SECS", "soon");
            assert_eq!(
                load_error(None),
                r#"configuration: environment variable TRIBUTARY_DELIVERY__TIMEOUT_SECS: delivery.timeout_secs: expected a whole number (0 or more), found string "soon""#
            );
            Ok(())
        });
    }

    #[test]
    fn http_bounds_of_zero_are_errors() {
        // A zero timeout would cut every connection or body at once.
        for key in ["HEADER_READ_TIMEOUT_SECS", "BODY_TIMEOUT_SECS", "MAX_CONNECTIONS"] {
            figment::Jail::expect_with(|jail| {
                jail.set_env(format!("TRIBUTARY_HTTP__{key}"), "0");
                let err = Config::load(None, &CliOverrides::default()).unwrap_err();
                assert!(
                    err.to_string().contains(&format!("http.{}", key.to_lowercase())),
                    "{err}"
                );
                Ok(())
            });
        }
    }

    #[test]
    fn a_named_config_file_must_exist() {
        figment::Jail::expect_with(|_| {
            let err = Config::load(Some(Path::new("nope.toml")), &CliOverrides::default()).unwrap_err();
            assert!(err.to_string().contains("nope.toml"), "{err}");
            Ok(())
        });
    }
}
