//! Instance configuration: parsing what callers send against the element's keys, merging it
//! with what is stored, and the checks that span several keys.
//!
//! Values are kept as strings, as in Cloud Elements, but only in canonical form: a boolean
//! is `true` or `false` whatever the caller sent (`true`, `"TRUE"`), a URL is absolute, a
//! JSON value is compact. Inner code reads them without re-checking.

use std::collections::BTreeMap;

use serde_json::{Map, Value};
use url::Url;

use super::sealing::{self, Field};
use crate::{
    crypto::Cipher,
    elements::{ConfigKeySpec, ConfigKind, Element, EventMethod},
    ids::{ConfigEntryId, InstanceId},
    pipeline::sources::poller::config::PollerConfig,
    store::{ConfigEntry, StoredValue},
};

/// What every secret value looks like in responses. Sent back unchanged (a client that
/// read an instance and writes it back), it means "keep the stored value".
pub const MASK: &str = "********";

pub const EVENTS_ENABLED: &str = "event.notification.enabled";
pub const CALLBACK_URL: &str = "event.notification.callback.url";
pub const VENDOR_TYPE: &str = "event.vendor.type";
pub const POLLER_CONFIGURATION: &str = "event.poller.configuration";
pub const REFRESH_INTERVAL: &str = "event.poller.refresh_interval";
pub const OAUTH_CALLBACK_URL: &str = "oauth.callback.url";
pub const OAUTH_SCOPE: &str = "oauth.scope";

const MAX_TEXT: usize = 1000;
const MAX_SECRET: usize = 4096;
const MAX_URL: usize = 2048;
const MAX_JSON: usize = 64 * 1024;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    #[error("unknown configuration key {key:?}{hint}")]
    Unknown { key: String, hint: String },
    #[error("configuration {key}: {reason}")]
    Invalid { key: String, reason: String },
    #[error("missing required configuration: {}", .0.join(", "))]
    Missing(Vec<String>),
}

/// One parsed value of a change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    Set(String),
    /// `null` or an empty string: remove the value.
    Unset,
    /// The mask of a secret: leave the stored value alone.
    Keep,
}

/// A configuration change, parsed against the element's keys.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ConfigInput(BTreeMap<String, Change>);

impl ConfigInput {
    pub fn parse(element: &Element, input: &Map<String, Value>) -> Result<Self, ConfigError> {
        let mut parsed = BTreeMap::new();
        for (key, value) in input {
            let spec = element.config_key(key).ok_or_else(|| ConfigError::Unknown {
                key: key.clone(),
                hint: suggestion(element, key),
            })?;
            let change = parse_value(element, spec, value).map_err(|reason| ConfigError::Invalid {
                key: key.clone(),
                reason,
            })?;
            parsed.insert(key.clone(), change);
        }
        Ok(Self(parsed))
    }

    /// A single value, as `PATCH /instances/{id}/configuration/{configId}` sends it.
    pub fn single(element: &Element, key: &str, value: &Value) -> Result<Self, ConfigError> {
        Self::parse(element, &Map::from_iter([(key.to_string(), value.clone())]))
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// How a change combines with what is stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Keys not mentioned keep their values (PATCH).
    Merge,
    /// Keys not mentioned go back to their defaults (create, PUT).
    Replace,
}

/// The outcome of applying a change: the entries to write and the clear values to check.
#[derive(Debug)]
pub struct Plan {
    /// Entries whose value changes (all known keys on create), ready to store.
    pub entries: Vec<ConfigEntry>,
    /// Clear values of every non-secret key after the change.
    pub plain: BTreeMap<String, String>,
}

/// Applies `input` to the `stored` entries of instance `id`, sealing secrets, and checks the
/// result as a whole: required keys present, a poller for polling. Events may be on without
/// a callback URL, as Cloud Elements allowed (the seed's flow sets it last): their
/// notifications are held until one is set.
pub fn plan(
    element: &Element,
    cipher: &Cipher,
    id: InstanceId,
    stored: &[ConfigEntry],
    input: &ConfigInput,
    mode: Mode,
) -> Result<Plan, ConfigError> {
    let mut entries = Vec::new();
    let mut plain = BTreeMap::new();
    let mut present = Vec::new();
    for spec in &element.configuration {
        let current = stored.iter().find(|e| e.key == spec.key);
        let change = match (input.0.get(&spec.key), mode) {
            (Some(change), _) => change.clone(),
            (None, Mode::Merge) => Change::Keep,
            (None, Mode::Replace) => spec.default.clone().map_or(Change::Unset, Change::Set),
        };
        let seal = |text: &str| StoredValue::Sealed(cipher.seal(text, &sealing::context(id, Field::Config(&spec.key))));
        let value = match change {
            Change::Keep => match current.and_then(|e| e.value.clone()) {
                // A secret stored in clear before its key became secret (callback headers
                // did) is sealed on this write.
                Some(StoredValue::Plain(text)) if spec.is_secret() => Some(seal(&text)),
                Some(value) => Some(value),
                None if input.0.contains_key(&spec.key) => {
                    return Err(ConfigError::Invalid {
                        key: spec.key.clone(),
                        reason: format!("{MASK:?} is the mask shown for secrets; send the real value"),
                    });
                }
                None => None,
            },
            Change::Unset => None,
            Change::Set(text) if spec.is_secret() => Some(seal(&text)),
            Change::Set(text) => Some(StoredValue::Plain(text)),
        };
        if let Some(StoredValue::Plain(text)) = &value {
            plain.insert(spec.key.clone(), text.clone());
        }
        if value.is_some() {
            present.push(spec.key.as_str());
        }
        let unchanged = current.is_some_and(|e| e.value == value);
        if !unchanged {
            entries.push(ConfigEntry {
                id: current.map_or_else(ConfigEntryId::random, |e| e.id),
                key: spec.key.clone(),
                value,
            });
        }
    }
    let missing: Vec<String> = element
        .configuration
        .iter()
        .filter(|spec| spec.required && !present.contains(&spec.key.as_str()))
        .map(|spec| spec.key.clone())
        .collect();
    if !missing.is_empty() {
        return Err(ConfigError::Missing(missing));
    }
    if plain.get(VENDOR_TYPE).map(String::as_str) == Some(EventMethod::Polling.as_str())
        && element.polling.is_none()
        && !plain.contains_key(POLLER_CONFIGURATION)
    {
        return Err(ConfigError::Invalid {
            key: POLLER_CONFIGURATION.into(),
            reason: format!("required for polling: {} has no default poller", element.name),
        });
    }
    Ok(Plan { entries, plain })
}

/// The clear value under `key`, if it is set and not secret.
pub fn plain_value<'a>(entries: &'a [ConfigEntry], key: &str) -> Option<&'a str> {
    entries.iter().find(|e| e.key == key).and_then(|e| match &e.value {
        Some(StoredValue::Plain(text)) => Some(text.as_str()),
        _ => None,
    })
}

fn parse_value(element: &Element, spec: &ConfigKeySpec, value: &Value) -> Result<Change, String> {
    let text = match value {
        Value::Null => return Ok(Change::Unset),
        Value::String(s) if s.is_empty() => return Ok(Change::Unset),
        Value::String(s) if spec.is_secret() && s == MASK => return Ok(Change::Keep),
        Value::String(s) => Some(s.as_str()),
        _ => None,
    };
    let expected = |what: &str| format!("expected {what}, got {}", describe(value));
    let canonical = match spec.kind {
        ConfigKind::Text => match value {
            Value::String(s) => bounded_line(s, MAX_TEXT)?,
            Value::Number(n) => n.to_string(),
            Value::Bool(b) => b.to_string(),
            _ => return Err(expected("a string")),
        },
        ConfigKind::Password => bounded_line(text.ok_or_else(|| expected("a string"))?, MAX_SECRET)?,
        ConfigKind::HexSecret => {
            let hex_text = text.ok_or_else(|| expected("a hexadecimal string"))?.trim();
            if hex_text.len() > MAX_SECRET || hex::decode(hex_text).is_err() {
                return Err("expected an even number of hexadecimal digits (0-9, a-f)".into());
            }
            hex_text.to_ascii_lowercase()
        }
        ConfigKind::Url => parse_url(text.ok_or_else(|| expected("an http(s) URL string"))?)?,
        ConfigKind::Boolean => match (value, text.map(str::to_ascii_lowercase).as_deref()) {
            (Value::Bool(b), _) => b.to_string(),
            (_, Some(word @ ("true" | "false"))) => word.to_string(),
            _ => return Err(expected("true or false")),
        },
        ConfigKind::Number => {
            let number = match value {
                Value::Number(n) => n.as_u64(),
                _ => text.and_then(|t| t.trim().parse::<u64>().ok()),
            };
            match number {
                Some(n) if n <= 1_000_000_000 => n.to_string(),
                _ => return Err(expected("a whole number from 0 to 1000000000")),
            }
        }
        ConfigKind::Json => canonical_json(value, text)?.to_string(),
        ConfigKind::Headers => parse_headers(canonical_json(value, text)?)?,
        ConfigKind::Poller => {
            let config = canonical_json(value, text)?;
            PollerConfig::parse(&config)?;
            config.to_string()
        }
        ConfigKind::Method => {
            let word = text.ok_or_else(|| expected("a string"))?;
            let method = match word.to_ascii_lowercase().as_str() {
                "webhook" | "webhooks" => EventMethod::Webhook,
                "polling" => EventMethod::Polling,
                _ => return Err(format!("expected webhook or polling, got {word:?}")),
            };
            if !element.supports(method) {
                return Err(format!("{} does not support {} events", element.name, method.as_str()));
            }
            method.as_str().to_string()
        }
    };
    Ok(Change::Set(canonical))
}

fn describe(value: &Value) -> String {
    match value {
        Value::Null => "null".into(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => n.to_string(),
        Value::String(s) if s.chars().count() > 40 => {
            format!("a {}-character string", s.chars().count())
        }
        Value::String(s) => format!("{s:?}"),
        Value::Array(_) => "an array".into(),
        Value::Object(_) => "an object".into(),
    }
}

/// One line of text: bounded, without control characters (which would let a value
/// smuggle extra lines into headers or logs).
fn bounded_line(text: &str, max: usize) -> Result<String, String> {
    let length = text.chars().count();
    if length > max {
        return Err(format!("at most {max} characters allowed, got {length}"));
    }
    if text.chars().any(char::is_control) {
        return Err("control characters (such as line breaks) are not allowed".into());
    }
    Ok(text.to_string())
}

/// An absolute http(s) URL, kept exactly as given (trimmed): OAuth providers compare
/// redirect URIs character by character, so normalizing one could break the exchange.
fn parse_url(text: &str) -> Result<String, String> {
    if text.len() > MAX_URL {
        return Err(format!("at most {MAX_URL} characters allowed"));
    }
    let text = text.trim();
    let url = Url::parse(text).map_err(|e| format!("not an absolute URL ({e}): {text:?}"))?;
    if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none_or(str::is_empty) {
        return Err(format!("expected an http:// or https:// URL with a host, got {text:?}"));
    }
    bounded_line(text, MAX_URL)
}

/// A JSON object given as an object or as a JSON-encoded string (Cloud Elements accepts both).
fn canonical_json(value: &Value, text: Option<&str>) -> Result<Value, String> {
    let parsed = match (value, text) {
        (Value::Object(_), _) => value.clone(),
        (_, Some(text)) => serde_json::from_str(text).map_err(|e| format!("not valid JSON: {e}"))?,
        _ => return Err(format!("expected a JSON object, got {}", describe(value))),
    };
    if !parsed.is_object() {
        return Err(format!("expected a JSON object, got {}", describe(&parsed)));
    }
    if parsed.to_string().len() > MAX_JSON {
        return Err(format!("at most {MAX_JSON} bytes of JSON allowed"));
    }
    Ok(parsed)
}

/// Extra headers for notifications: names must be valid header names and not ones the hub
/// sets itself; values must be valid header values.
fn parse_headers(value: Value) -> Result<String, String> {
    const RESERVED: &[&str] = &[
        "content-type",
        "content-length",
        "host",
        "transfer-encoding",
        "connection",
        "elements-webhook-id",
        "elements-webhook-signature",
        "webhook-id",
        "webhook-timestamp",
        "webhook-signature",
    ];
    let Value::Object(map) = &value else {
        unreachable!("canonical_json returns objects");
    };
    for (name, header_value) in map {
        let Value::String(text) = header_value else {
            return Err(format!(
                "header {name}: expected a string value, got {}",
                describe(header_value)
            ));
        };
        let parsed_name = axum::http::HeaderName::from_bytes(name.as_bytes())
            .map_err(|_| format!("{name:?} is not a valid HTTP header name"))?;
        if RESERVED.contains(&parsed_name.as_str()) {
            return Err(format!("header {name} is set by the hub and cannot be overridden"));
        }
        axum::http::HeaderValue::from_str(text)
            .map_err(|_| format!("header {name}: the value contains characters not allowed in HTTP headers"))?;
    }
    Ok(value.to_string())
}

/// " (did you mean …?)" when a known key is a small typo away.
fn suggestion(element: &Element, key: &str) -> String {
    crate::text::nearest(key, element.configuration.iter().map(|spec| spec.key.as_str()))
        .map(|known| format!(" (did you mean {known:?}?)"))
        .unwrap_or_else(|| format!("; {} accepts: {}", element.name, known_keys(element)))
}

fn known_keys(element: &Element) -> String {
    element
        .configuration
        .iter()
        .map(|s| s.key.as_str())
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use serde_json::json;

    use super::*;
    use crate::{crypto::MasterKey, elements::Registry};

    fn hootsuite() -> Arc<Element> {
        Registry::builtin(&Default::default())
            .unwrap()
            .find("hootsuite")
            .unwrap()
            .clone()
    }

    fn input(value: Value) -> Result<ConfigInput, ConfigError> {
        ConfigInput::parse(&hootsuite(), value.as_object().unwrap())
    }

    fn seed_config() -> Value {
        json!({
            "oauth.callback.url": "https://mycoolapp.com",
            "oauth.api.key": "key",
            "oauth.api.secret": "secret",
            "event.notification.enabled": true,
            "event.notification.callback.url": "https://mycoolapp.com/events"
        })
    }

    #[test]
    fn values_are_canonical() {
        let parsed = input(json!({
            "event.notification.enabled": "TRUE",
            "event.poller.refresh_interval": "5",
            "event.vendor.type": "webhooks",
            "event.notification.callback.headers": "{\"X-Tenant\": \"a\"}",
            "oauth.callback.url": "https://example.com",
        }))
        .unwrap();
        assert_eq!(parsed.0["event.notification.enabled"], Change::Set("true".into()));
        assert_eq!(parsed.0["event.poller.refresh_interval"], Change::Set("5".into()));
        assert_eq!(parsed.0["event.vendor.type"], Change::Set("webhook".into()));
        assert_eq!(
            parsed.0["event.notification.callback.headers"],
            Change::Set(r#"{"X-Tenant":"a"}"#.into())
        );
        assert_eq!(
            parsed.0["oauth.callback.url"],
            Change::Set("https://example.com".into())
        );
    }

    #[test]
    fn bad_values_name_the_key_and_the_fix() {
        let cases = [
            (
                json!({"event.notification.enabled": "yes"}),
                "expected true or false, got \"yes\"",
            ),
            (
                json!({"event.notification.callback.url": "ftp://x"}),
                "expected an http:// or https:// URL",
            ),
            (
                json!({"event.notification.callback.url": "/relative"}),
                "not an absolute URL",
            ),
            (json!({"event.poller.refresh_interval": -1}), "expected a whole number"),
            (json!({"event.vendor.type": "push"}), "expected webhook or polling"),
            (json!({"oauth.api.key": "a\r\nX-Evil: 1"}), "control characters"),
            (json!({"oauth.api.key": ["a"]}), "expected a string, got an array"),
            (json!({"hootsuite.webhook.secret": "xyz"}), "hexadecimal digits"),
            (
                json!({"event.poller.configuration": {"messages": {"url": "/v1/messages", "idField": "id"}}}),
                "event.poller.configuration: messages.datesConfiguration: required",
            ),
            (
                json!({"event.poller.configuration": "{not json"}),
                "event.poller.configuration: not valid JSON",
            ),
            (
                json!({"event.notification.callback.headers": {"Bad Name": "x"}}),
                "not a valid HTTP header name",
            ),
            (
                json!({"event.notification.callback.headers": {"X-A": "a\nb"}}),
                "not allowed in HTTP headers",
            ),
            (
                json!({"event.notification.callback.headers": {"webhook-id": "x"}}),
                "set by the hub",
            ),
            (
                json!({"event.notification.callback.headers": "[1]"}),
                "expected a JSON object",
            ),
            (json!({"oauth.callback.url": "x".repeat(3000)}), "at most 2048"),
        ];
        for (value, expected) in cases {
            let err = input(value.clone()).unwrap_err().to_string();
            let key = value.as_object().unwrap().keys().next().unwrap().clone();
            assert!(err.contains(&key) && err.contains(expected), "{value}: {err}");
        }
    }

    #[test]
    fn typos_get_a_suggestion() {
        let err = input(json!({"event.notificaton.enabled": true})).unwrap_err();
        assert_eq!(
            err.to_string(),
            "unknown configuration key \"event.notificaton.enabled\" (did you mean \"event.notification.enabled\"?)"
        );
        let err = input(json!({"color": "red"})).unwrap_err().to_string();
        assert!(
            err.contains("Hootsuite accepts: hootsuite.webhook.secret, oauth.callback.url"),
            "{err}"
        );
    }

    #[test]
    fn create_materializes_every_key_and_seals_secrets() {
        let element = hootsuite();
        let cipher = Cipher::new(&MasterKey::generate());
        let id = InstanceId::random();
        let plan = plan(
            &element,
            &cipher,
            id,
            &[],
            &input(seed_config()).unwrap(),
            Mode::Replace,
        )
        .unwrap();
        assert_eq!(plan.entries.len(), element.configuration.len());
        let secret = plan.entries.iter().find(|e| e.key == "oauth.api.secret").unwrap();
        let Some(StoredValue::Sealed(sealed)) = &secret.value else {
            panic!("secret stored in clear: {secret:?}");
        };
        let opened = cipher
            .open(sealed, &sealing::context(id, Field::Config("oauth.api.secret")))
            .unwrap();
        assert_eq!(secrecy::ExposeSecret::expose_secret(&opened), "secret");
        assert_eq!(plan.plain["event.notification.enabled"], "true");
        assert_eq!(plan.plain["event.poller.refresh_interval"], "15");
        assert!(!plan.plain.contains_key("oauth.api.secret"));
    }

    #[test]
    fn missing_required_keys_are_all_listed() {
        let element = hootsuite();
        let cipher = Cipher::new(&MasterKey::generate());
        let err = plan(
            &element,
            &cipher,
            InstanceId::random(),
            &[],
            &ConfigInput::default(),
            Mode::Replace,
        )
        .unwrap_err();
        assert_eq!(
            err,
            ConfigError::Missing(vec![
                "oauth.callback.url".into(),
                "oauth.api.key".into(),
                "oauth.api.secret".into()
            ])
        );
    }

    #[test]
    fn events_may_be_on_before_a_callback_url() {
        let element = hootsuite();
        let cipher = Cipher::new(&MasterKey::generate());
        let mut config = seed_config();
        config
            .as_object_mut()
            .unwrap()
            .remove("event.notification.callback.url");
        let plan = plan(
            &element,
            &cipher,
            InstanceId::random(),
            &[],
            &input(config).unwrap(),
            Mode::Replace,
        )
        .unwrap();
        assert_eq!(plan.plain[EVENTS_ENABLED], "true");
        assert!(!plan.plain.contains_key(CALLBACK_URL));
    }

    #[test]
    fn merge_keeps_masked_secrets_and_changes_only_what_is_sent() {
        let element = hootsuite();
        let cipher = Cipher::new(&MasterKey::generate());
        let id = InstanceId::random();
        let created = plan(
            &element,
            &cipher,
            id,
            &[],
            &input(seed_config()).unwrap(),
            Mode::Replace,
        )
        .unwrap();
        let change = input(json!({
            "oauth.api.secret": MASK,
            "event.notification.callback.url": "https://mycoolapp.com/v2/events"
        }))
        .unwrap();
        let merged = plan(&element, &cipher, id, &created.entries, &change, Mode::Merge).unwrap();
        assert_eq!(merged.entries.len(), 1, "{:?}", merged.entries);
        assert_eq!(merged.entries[0].key, "event.notification.callback.url");
        let original_id = created
            .entries
            .iter()
            .find(|e| e.key == merged.entries[0].key)
            .unwrap()
            .id;
        assert_eq!(merged.entries[0].id, original_id, "an updated entry keeps its id");
        let replaced = plan(
            &element,
            &cipher,
            id,
            &created.entries,
            &input(seed_config()).unwrap(),
            Mode::Replace,
        )
        .unwrap();
        assert!(
            replaced.entries.iter().any(|e| e.key == "oauth.api.secret"),
            "a new secret value is resealed"
        );
    }

    #[test]
    fn callback_headers_are_sealed_and_a_value_stored_in_clear_is_sealed_by_the_next_write() {
        const HEADERS: &str = "event.notification.callback.headers";
        let element = hootsuite();
        let cipher = Cipher::new(&MasterKey::generate());
        let id = InstanceId::random();
        let opened = |entries: &[ConfigEntry]| {
            let entry = entries.iter().find(|e| e.key == HEADERS);
            let Some(StoredValue::Sealed(sealed)) = &entry.unwrap_or_else(|| panic!("no headers entry written")).value
            else {
                panic!("the headers are stored in clear: {entries:?}");
            };
            let text = cipher
                .open(sealed, &sealing::context(id, Field::Config(HEADERS)))
                .unwrap();
            secrecy::ExposeSecret::expose_secret(&text).to_string()
        };
        let mut config = seed_config();
        config[HEADERS] = json!({"X-Api-Key": "k-1"});
        let created = plan(&element, &cipher, id, &[], &input(config).unwrap(), Mode::Replace).unwrap();
        assert_eq!(opened(&created.entries), r#"{"X-Api-Key":"k-1"}"#);
        assert!(!created.plain.contains_key(HEADERS));

        let legacy: Vec<ConfigEntry> = created
            .entries
            .iter()
            .cloned()
            .map(|mut e| {
                if e.key == HEADERS {
                    e.value = Some(StoredValue::Plain(r#"{"X-Api-Key":"k-0"}"#.into()));
                }
                e
            })
            .collect();
        let other = input(json!({"event.notification.basic.username": "hub"})).unwrap();
        let merged = plan(&element, &cipher, id, &legacy, &other, Mode::Merge).unwrap();
        assert_eq!(opened(&merged.entries), r#"{"X-Api-Key":"k-0"}"#);
        assert!(!merged.plain.contains_key(HEADERS));
        let masked = input(json!({HEADERS: MASK})).unwrap();
        let kept = plan(&element, &cipher, id, &created.entries, &masked, Mode::Merge).unwrap();
        assert!(
            kept.entries.is_empty(),
            "the mask keeps the sealed value: {:?}",
            kept.entries
        );
    }

    #[test]
    fn a_mask_without_a_stored_secret_is_refused() {
        let element = hootsuite();
        let cipher = Cipher::new(&MasterKey::generate());
        let mut config = seed_config();
        config["oauth.api.secret"] = json!(MASK);
        let err = plan(
            &element,
            &cipher,
            InstanceId::random(),
            &[],
            &input(config).unwrap(),
            Mode::Replace,
        )
        .unwrap_err();
        assert!(err.to_string().contains("send the real value"), "{err}");
    }
}
