//! Element definitions: what the hub knows about each provider, as data.
//!
//! An element is described by a TOML file under `crates/tributary/elements/` (identity,
//! OAuth endpoints, API base, event methods, configuration keys). Adding a provider means
//! adding a file here, not touching the API, the pipeline or the store. Endpoints can be
//! redirected per deployment through [`ProviderOverride`] (to the simulator, a proxy or a
//! sandbox).

use std::{collections::BTreeMap, sync::Arc};

use figment::{
    Figment,
    providers::{Format, Toml},
};
use serde::{Deserialize, Serialize};
use url::Url;

use crate::{
    config::ProviderOverride,
    outbound::{ProviderBase, ProviderEndpoint, ProviderPath},
};

/// Built-in element definitions, compiled into the binary.
const BUILTIN: &[(&str, &str)] = &[("hootsuite.toml", include_str!("../elements/hootsuite.toml"))];
const OAUTH2_KEYS: &str = include_str!("../elements/oauth2-keys.toml");
const EVENT_KEYS: &str = include_str!("../elements/event-keys.toml");

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Element {
    pub key: String,
    pub id: i64,
    pub name: String,
    pub hub: String,
    pub description: String,
    pub authentication: Authentication,
    pub api: Api,
    pub events: Events,
    /// How the provider's webhooks look and map to normalized events.
    pub webhook: Option<Webhook>,
    /// The default poller, for instances that poll without configuring their own.
    pub polling: Option<Polling>,
    /// Every configuration key an instance of this element accepts: the element's own,
    /// then those of its authentication type, then the events framework's.
    #[serde(default)]
    pub configuration: Vec<ConfigKeySpec>,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, tag = "type", rename_all = "lowercase")]
pub enum Authentication {
    Oauth2(OAuth2),
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct OAuth2 {
    /// Where the browser goes for consent: not a request of the hub's.
    pub authorization_url: Url,
    pub token_url: ProviderEndpoint,
    pub client_auth: ClientAuth,
    pub default_scope: String,
    #[serde(default)]
    pub min_state_length: usize,
}

/// How the hub authenticates to the provider's token endpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ClientAuth {
    /// HTTP Basic `client_id:client_secret`.
    Basic,
    /// `client_id` and `client_secret` in the form body.
    Body,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Api {
    /// Every call to the provider's API goes to this origin, under its path.
    pub base_url: ProviderBase,
    /// GET path that answers with the authenticated account; proves a fresh token works.
    pub identity_path: ProviderPath,
    /// JSON pointers into the identity response.
    pub identity_id_pointer: String,
    pub identity_email_pointer: Option<String>,
    pub identity_name_pointer: Option<String>,
    /// Requests per second the provider allows per account.
    pub rate_limit_per_second: Option<u32>,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Polling {
    /// An `event.poller.configuration` value, used when an instance sets none.
    pub configuration: serde_json::Value,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Events {
    pub methods: Vec<EventMethod>,
    pub default_method: EventMethod,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum EventMethod {
    Webhook,
    Polling,
}

impl EventMethod {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Webhook => "webhook",
            Self::Polling => "polling",
        }
    }
}

/// The shape of a provider's webhook requests and the rules that normalize them.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Webhook {
    pub batch: BatchShape,
    /// JSON pointer to each event's sequence number, the key for deduplication.
    pub sequence_pointer: Option<String>,
    pub type_pointer: String,
    pub date_pointer: Option<String>,
    /// JSON pointer to the vendor's state of the object, kept on the normalized event.
    pub state_pointer: Option<String>,
    /// Liveness checks: recorded, never forwarded.
    #[serde(default)]
    pub ping_types: Vec<String>,
    /// An unmapped type `<prefix><name>.…` becomes an `UNKNOWN` event of object type `<name>`.
    pub unknown_type_prefix: Option<String>,
    pub signature: Option<WebhookSignature>,
    #[serde(default)]
    pub mappings: Vec<Mapping>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum BatchShape {
    /// A JSON array of events.
    Array,
    /// One JSON object, one event.
    Single,
}

/// An HMAC-SHA256 signature of the raw body that the provider may send.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct WebhookSignature {
    pub header: String,
    /// The instance configuration key holding the shared secret; no secret, no check.
    pub config_key: String,
    pub encoding: Encoding,
    pub key_encoding: KeyEncoding,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Encoding {
    Hex,
    Base64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum KeyEncoding {
    Hex,
    Utf8,
}

/// How one provider event type becomes a normalized event.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Mapping {
    #[serde(rename = "type")]
    pub event_type: String,
    pub object_type: String,
    pub object_id_pointer: String,
    pub default_event_type: EventType,
    /// Vendor state → event type; states not listed get the default.
    #[serde(default)]
    pub event_types: BTreeMap<String, EventType>,
}

/// The normalized kinds of change (Cloud Elements' `eventType`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum EventType {
    Created,
    Updated,
    Deleted,
    Unknown,
}

/// One configuration key an instance accepts.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ConfigKeySpec {
    pub key: String,
    pub name: String,
    #[serde(rename = "type")]
    pub kind: ConfigKind,
    #[serde(default)]
    pub required: bool,
    pub default: Option<String>,
    #[serde(default)]
    pub description: String,
}

impl ConfigKeySpec {
    /// Secret values are sealed at rest and masked in every response. Callback headers
    /// count as secret: they usually carry the receiver's API key.
    pub fn is_secret(&self) -> bool {
        matches!(
            self.kind,
            ConfigKind::Password | ConfigKind::HexSecret | ConfigKind::Headers
        )
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ConfigKind {
    Text,
    Password,
    /// A secret given as hexadecimal (a shared HMAC key).
    HexSecret,
    Url,
    Boolean,
    Number,
    Json,
    /// A JSON object of HTTP header names to values.
    Headers,
    /// A poller configuration (`event.poller.configuration`).
    Poller,
    /// One of the element's event methods.
    Method,
}

impl ConfigKind {
    /// Cloud Elements' name for the type, as shown to API clients.
    pub fn ce_name(self) -> &'static str {
        match self {
            Self::Text | Self::Url | Self::Method => "TEXTFIELD_1000",
            Self::Password | Self::HexSecret => "PASSWORD",
            Self::Boolean => "BOOLEAN",
            Self::Number => "TEXTFIELD_32",
            Self::Json | Self::Headers | Self::Poller => "CODE_EDITOR",
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct KeyFile {
    configuration: Vec<ConfigKeySpec>,
}

#[derive(Debug, thiserror::Error)]
pub enum ElementError {
    #[error("element definition {file}: {message}")]
    Definition { file: String, message: String },
    #[error("providers.{0}: no such element")]
    UnknownOverride(String),
    #[error("providers.{key}.{field}: {message}")]
    Override {
        key: String,
        field: &'static str,
        message: String,
    },
}

/// All elements this hub serves, looked up by key or id.
#[derive(Debug, Clone)]
pub struct Registry {
    by_key: BTreeMap<String, Arc<Element>>,
}

impl Registry {
    /// The built-in elements with the deployment's endpoint overrides applied.
    pub fn builtin(overrides: &BTreeMap<String, ProviderOverride>) -> Result<Self, ElementError> {
        let shared = |file: &str, text: &str| -> Result<Vec<ConfigKeySpec>, ElementError> {
            parse::<KeyFile>(file, text).map(|f| f.configuration)
        };
        let oauth2_keys = shared("oauth2-keys.toml", OAUTH2_KEYS)?;
        let event_keys = shared("event-keys.toml", EVENT_KEYS)?;
        let mut by_key = BTreeMap::new();
        for (file, text) in BUILTIN {
            let mut element: Element = parse(file, text)?;
            match element.authentication {
                Authentication::Oauth2(_) => element.configuration.extend(oauth2_keys.iter().cloned()),
            }
            element.configuration.extend(event_keys.iter().cloned());
            element.check().map_err(|message| ElementError::Definition {
                file: file.to_string(),
                message,
            })?;
            by_key.insert(element.key.clone(), Arc::new(element));
        }
        for (key, with) in overrides {
            let element = by_key
                .get_mut(key)
                .ok_or_else(|| ElementError::UnknownOverride(key.clone()))?;
            Arc::make_mut(element)
                .apply(with)
                .map_err(|(field, message)| ElementError::Override {
                    key: key.clone(),
                    field,
                    message,
                })?;
        }
        Ok(Self { by_key })
    }

    pub fn all(&self) -> impl Iterator<Item = &Arc<Element>> {
        self.by_key.values()
    }

    /// Finds an element by its key (`hootsuite`) or its numeric id (`4066`).
    pub fn find(&self, key_or_id: &str) -> Option<&Arc<Element>> {
        self.by_key.get(key_or_id).or_else(|| {
            let id: i64 = key_or_id.parse().ok()?;
            self.by_key.values().find(|e| e.id == id)
        })
    }
}

fn parse<T: serde::de::DeserializeOwned>(file: &str, text: &str) -> Result<T, ElementError> {
    Figment::from(Toml::string(text))
        .extract()
        .map_err(|e| ElementError::Definition {
            file: file.to_string(),
            message: e.to_string(),
        })
}

impl Element {
    /// Consistency rules a definition file cannot express in its types.
    fn check(&self) -> Result<(), String> {
        if self.events.methods.is_empty() || !self.events.methods.contains(&self.events.default_method) {
            return Err("events.default_method must be one of events.methods".into());
        }
        if self.supports(EventMethod::Webhook) != self.webhook.is_some() {
            return Err("an element has a [webhook] section exactly when it supports webhook events".into());
        }
        if let Some(polling) = &self.polling {
            crate::pipeline::sources::poller::config::PollerConfig::parse(&polling.configuration)
                .map_err(|e| format!("polling.configuration.{e}"))?;
        }
        if let Some(signature) = self.webhook.as_ref().and_then(|w| w.signature.as_ref())
            && !self
                .config_key(&signature.config_key)
                .is_some_and(ConfigKeySpec::is_secret)
        {
            return Err(format!(
                "webhook.signature.config_key {} must be a password configuration key",
                signature.config_key
            ));
        }
        Ok(())
    }

    pub fn config_key(&self, key: &str) -> Option<&ConfigKeySpec> {
        self.configuration.iter().find(|spec| spec.key == key)
    }

    pub fn oauth2(&self) -> &OAuth2 {
        match &self.authentication {
            Authentication::Oauth2(oauth) => oauth,
        }
    }

    pub fn supports(&self, method: EventMethod) -> bool {
        self.events.methods.contains(&method)
    }

    /// Applies a deployment's endpoint overrides; an endpoint that is not a clean provider
    /// URL is refused, naming the override's field.
    fn apply(&mut self, with: &ProviderOverride) -> Result<(), (&'static str, String)> {
        let Authentication::Oauth2(oauth) = &mut self.authentication;
        if let Some(base) = &with.base_url {
            rebase(&mut oauth.authorization_url, base);
            oauth.token_url = rebased(&oauth.token_url, base).map_err(|e| ("base_url", e))?;
            self.api.base_url = rebased(&self.api.base_url, base).map_err(|e| ("base_url", e))?;
        }
        if let Some(url) = &with.authorization_url {
            oauth.authorization_url = url.clone();
        }
        if let Some(url) = &with.token_url {
            oauth.token_url = url.clone().try_into().map_err(|e| ("token_url", e))?;
        }
        if let Some(url) = &with.api_base_url {
            self.api.base_url = url.clone().try_into().map_err(|e| ("api_base_url", e))?;
        }
        Ok(())
    }
}

/// A provider endpoint moved by [`rebase`], and checked again.
fn rebased<T>(endpoint: &T, base: &Url) -> Result<T, String>
where
    T: Clone + Into<Url> + TryFrom<Url, Error = String>,
{
    let mut url = endpoint.clone().into();
    rebase(&mut url, base);
    T::try_from(url)
}

/// Moves `url` to the scheme, host and port of `base`, keeping its path; a base with a
/// path (a proxy prefix) is prepended to it.
fn rebase(url: &mut Url, base: &Url) {
    let prefix = base.path().trim_end_matches('/');
    let mut moved = base.clone();
    moved.set_path(&format!("{prefix}{}", url.path()));
    moved.set_query(url.query());
    *url = moved;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hootsuite_is_built_in_with_all_its_keys() {
        let registry = Registry::builtin(&BTreeMap::new()).unwrap();
        let hootsuite = registry.find("hootsuite").unwrap();
        assert_eq!(registry.find("4066").unwrap().key, "hootsuite");
        assert!(registry.find("4067").is_none() && registry.find("nope").is_none());
        assert_eq!(hootsuite.hub, "social");
        assert_eq!(hootsuite.oauth2().min_state_length, 8);
        assert!(hootsuite.supports(EventMethod::Webhook) && hootsuite.supports(EventMethod::Polling));
        for key in [
            "oauth.callback.url",
            "oauth.api.key",
            "oauth.api.secret",
            "event.notification.enabled",
            "event.notification.callback.url",
            "event.notification.signature.key",
            "hootsuite.webhook.secret",
        ] {
            assert!(hootsuite.config_key(key).is_some(), "{key}");
        }
        assert!(hootsuite.config_key("oauth.api.secret").unwrap().is_secret());
        assert!(!hootsuite.config_key("oauth.callback.url").unwrap().is_secret());
    }

    #[test]
    fn overrides_move_every_endpoint() {
        let overrides = BTreeMap::from([(
            "hootsuite".to_string(),
            ProviderOverride {
                base_url: Some("http://127.0.0.1:9090".parse().unwrap()),
                ..Default::default()
            },
        )]);
        let registry = Registry::builtin(&overrides).unwrap();
        let hootsuite = registry.find("hootsuite").unwrap();
        assert_eq!(
            hootsuite.oauth2().authorization_url.as_str(),
            "http://127.0.0.1:9090/oauth2/auth"
        );
        assert_eq!(
            hootsuite.oauth2().token_url.as_str(),
            "http://127.0.0.1:9090/oauth2/token"
        );
        assert_eq!(hootsuite.api.base_url.as_str(), "http://127.0.0.1:9090/");
    }

    #[test]
    fn a_proxy_prefix_is_kept() {
        let mut url: Url = "https://platform.hootsuite.com/oauth2/token".parse().unwrap();
        rebase(&mut url, &"https://proxy.local/hs/".parse().unwrap());
        assert_eq!(url.as_str(), "https://proxy.local/hs/oauth2/token");
    }

    #[test]
    fn overrides_that_are_not_clean_provider_urls_are_refused() {
        for (with, field) in [
            (
                ProviderOverride {
                    token_url: Some("http://127.0.0.1:9090//evil.test/token".parse().unwrap()),
                    ..Default::default()
                },
                "token_url",
            ),
            (
                ProviderOverride {
                    api_base_url: Some("http://127.0.0.1:9090/?x=1".parse().unwrap()),
                    ..Default::default()
                },
                "api_base_url",
            ),
            (
                ProviderOverride {
                    base_url: Some("ftp://127.0.0.1/".parse().unwrap()),
                    ..Default::default()
                },
                "base_url",
            ),
        ] {
            let overrides = BTreeMap::from([("hootsuite".to_string(), with)]);
            assert!(
                matches!(Registry::builtin(&overrides), Err(ElementError::Override { field: f, .. }) if f == field),
                "{field}"
            );
        }
    }

    #[test]
    fn overriding_an_unknown_element_is_an_error() {
        let overrides = BTreeMap::from([("hootsuit".to_string(), ProviderOverride::default())]);
        assert!(matches!(
            Registry::builtin(&overrides),
            Err(ElementError::UnknownOverride(k)) if k == "hootsuit"
        ));
    }
}
