//! Normalize: a provider's webhook body → Cloud Elements' standard event objects
//! (`objectType`, `objectId`, `eventType`, `elementKey`, `hubKey`, `date`), driven entirely
//! by the element definition's `[webhook]` rules. Nothing here knows any provider.
//!
//! The body is split into its items' JSON spans first, and each item is parsed on its own:
//! the spans are what notifications forward (each its own events'), and no tree of the whole
//! body is ever built.

use chrono::{DateTime, SecondsFormat, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Value, value::RawValue};

use crate::elements::{BatchShape, Element, EventType, Webhook};

/// One normalized event object, as delivered in `message.events`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct NormalizedEvent {
    pub element_key: String,
    pub hub_key: String,
    pub object_type: String,
    pub object_id: String,
    pub event_type: EventType,
    /// ISO-8601 UTC: the provider's timestamp, or the time of receipt.
    pub date: String,
    /// The vendor's state of the object (e.g. `SCHEDULED`), when it has one.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub state: Option<String>,
}

/// One item of a provider body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Item {
    /// A liveness check: recorded, never forwarded, never deduplicated.
    Ping,
    Event {
        /// The provider's sequence number, for deduplication.
        sequence: Option<String>,
        event: NormalizedEvent,
    },
}

/// One item of a provider body, with its JSON exactly as the provider sent it.
#[derive(Debug)]
pub struct Entry<'a> {
    pub raw: &'a RawValue,
    pub item: Item,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NormalizeError {
    #[error("{0}")]
    Invalid(String),
    /// More items than the caller takes in one body; none of them was normalized.
    #[error("the body carries {found} events, more than {limit}")]
    TooMany { found: usize, limit: usize },
}

/// A webhook body, normalized.
#[derive(Debug)]
pub struct Batch<'a> {
    /// How the body holds its items.
    pub shape: BatchShape,
    /// One per item, in order, pings included.
    pub entries: Vec<Entry<'a>>,
}

/// Normalizes a webhook body (valid JSON) of at most `max_items` items.
pub fn webhook<'a>(
    element: &Element,
    body: &'a RawValue,
    received_at: DateTime<Utc>,
    max_items: usize,
) -> Result<Batch<'a>, NormalizeError> {
    let invalid = NormalizeError::Invalid;
    let rules = element
        .webhook
        .as_ref()
        .ok_or_else(|| invalid(format!("{} does not send webhooks", element.name)))?;
    // serde_json leaves no whitespace around a `RawValue`: its first byte says what it is.
    let spans: Vec<&RawValue> = match (rules.batch, body.get().as_bytes().first()) {
        (BatchShape::Array, Some(b'[')) => serde_json::from_str(body.get()).map_err(|e| invalid(e.to_string()))?,
        (BatchShape::Array, _) => {
            return Err(invalid(format!(
                "expected a JSON array of {} events, got {}",
                element.name,
                raw_kind(body)
            )));
        }
        (BatchShape::Single, Some(b'{')) => vec![body],
        (BatchShape::Single, _) => return Err(invalid(format!("expected a JSON object, got {}", raw_kind(body)))),
    };
    if spans.len() > max_items {
        return Err(NormalizeError::TooMany {
            found: spans.len(),
            limit: max_items,
        });
    }
    let entries = spans
        .into_iter()
        .enumerate()
        .map(|(index, raw)| {
            let item = serde_json::from_str(raw.get())
                .map_err(|e| e.to_string())
                .and_then(|item| one(element, rules, &item, received_at))
                .map_err(|e| invalid(format!("event {index}: {e}")))?;
            Ok(Entry { raw, item })
        })
        .collect::<Result<_, _>>()?;
    Ok(Batch {
        shape: rules.batch,
        entries,
    })
}

fn one(element: &Element, rules: &Webhook, item: &Value, received_at: DateTime<Utc>) -> Result<Item, String> {
    if !item.is_object() {
        return Err(format!("expected an object, got {}", kind(item)));
    }
    let event_type =
        text_at(item, &rules.type_pointer)?.ok_or_else(|| format!("{} is missing", field(&rules.type_pointer)))?;
    if rules.ping_types.contains(&event_type) {
        return Ok(Item::Ping);
    }
    let sequence = rules
        .sequence_pointer
        .as_deref()
        .map(|p| text_at(item, p))
        .transpose()?
        .flatten();
    let state = rules
        .state_pointer
        .as_deref()
        .map(|p| text_at(item, p))
        .transpose()?
        .flatten();
    let date = rules
        .date_pointer
        .as_deref()
        .and_then(|p| item.pointer(p))
        .and_then(Value::as_str)
        .and_then(|t| DateTime::parse_from_rfc3339(t).ok())
        .map_or(received_at, |t| t.with_timezone(&Utc))
        .to_rfc3339_opts(SecondsFormat::Millis, true);
    let (object_type, object_id, kind_of_change) = match rules.mappings.iter().find(|m| m.event_type == event_type) {
        Some(mapping) => {
            let id = text_at(item, &mapping.object_id_pointer)?
                .ok_or_else(|| format!("{} is missing", field(&mapping.object_id_pointer)))?;
            let change = state
                .as_deref()
                .and_then(|s| mapping.event_types.get(s))
                .copied()
                .unwrap_or(mapping.default_event_type);
            (mapping.object_type.clone(), id, change)
        }
        None => (
            unknown_object_type(rules, &event_type),
            String::new(),
            EventType::Unknown,
        ),
    };
    Ok(Item::Event {
        sequence,
        event: NormalizedEvent {
            element_key: element.key.clone(),
            hub_key: element.hub.clone(),
            object_type,
            object_id,
            event_type: kind_of_change,
            date,
            state,
        },
    })
}

/// `com.hootsuite.teams.event.v1` with prefix `com.hootsuite.` → `teams`.
fn unknown_object_type(rules: &Webhook, event_type: &str) -> String {
    let name = rules
        .unknown_type_prefix
        .as_deref()
        .and_then(|prefix| event_type.strip_prefix(prefix))
        .unwrap_or(event_type);
    name.split('.')
        .next()
        .filter(|n| !n.is_empty())
        .unwrap_or(event_type)
        .to_string()
}

/// A scalar at `pointer` as text; numbers are accepted for ids and sequence numbers.
fn text_at(item: &Value, pointer: &str) -> Result<Option<String>, String> {
    match item.pointer(pointer) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(Value::Number(n)) => Ok(Some(n.to_string())),
        Some(other) => Err(format!("{} must be a string, got {}", field(pointer), kind(other))),
    }
}

/// `/data/message/id` → `data.message.id`, as people write it.
fn field(pointer: &str) -> String {
    pointer.trim_start_matches('/').replace('/', ".")
}

/// What a valid JSON text is, from its first byte.
fn raw_kind(raw: &RawValue) -> &'static str {
    match raw.get().as_bytes().first() {
        Some(b'[') => "an array",
        Some(b'{') => "an object",
        Some(b'"') => "a string",
        Some(b't' | b'f') => "a boolean",
        Some(b'n') => "null",
        _ => "a number",
    }
}

fn kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::elements::Registry;

    fn normalize_text(body: &str, max_items: usize) -> Result<Vec<Entry<'_>>, NormalizeError> {
        let registry = Registry::builtin(&Default::default()).unwrap();
        let received = DateTime::parse_from_rfc3339("2026-01-02T03:04:05.678Z")
            .unwrap()
            .with_timezone(&Utc);
        let body: &RawValue = serde_json::from_str(body).unwrap();
        webhook(registry.find("hootsuite").unwrap(), body, received, max_items).map(|batch| batch.entries)
    }

    fn normalize(body: Value) -> Result<Vec<Item>, NormalizeError> {
        let text = body.to_string();
        normalize_text(&text, usize::MAX).map(|entries| entries.into_iter().map(|e| e.item).collect())
    }

    fn event(item: &Item) -> &NormalizedEvent {
        match item {
            Item::Event { event, .. } => event,
            Item::Ping => panic!("a ping"),
        }
    }

    #[test]
    fn message_events_become_messages_updates_or_deletes() {
        let items = normalize(json!([
            {"seq_no": "1684272788542", "type": "com.hootsuite.messages.event.v1",
             "data": {"state": "PENDING_APPROVAL", "organization": {"id": "776781"},
                      "message": {"id": "4094517701"}, "timestamp": "2016-07-19T21:51:32.175Z"}},
            {"seq_no": "1684272788543", "type": "com.hootsuite.messages.event.v1",
             "data": {"state": "DELETED", "message": {"id": "4094517701"}, "timestamp": "2016-07-19T22:00:00Z"}}
        ]))
        .unwrap();
        assert_eq!(
            items[0],
            Item::Event {
                sequence: Some("1684272788542".into()),
                event: NormalizedEvent {
                    element_key: "hootsuite".into(),
                    hub_key: "social".into(),
                    object_type: "messages".into(),
                    object_id: "4094517701".into(),
                    event_type: EventType::Updated,
                    date: "2016-07-19T21:51:32.175Z".into(),
                    state: Some("PENDING_APPROVAL".into()),
                }
            }
        );
        assert_eq!(event(&items[1]).event_type, EventType::Deleted);
        assert_eq!(event(&items[1]).date, "2016-07-19T22:00:00.000Z");
    }

    #[test]
    fn comments_and_apps() {
        let items = normalize(json!([
            {"seq_no": "1", "type": "com.hootsuite.comments.event.v1",
             "data": {"state": "FAILED", "comment": {"id": "4138476039"}, "timestamp": "2019-03-20T10:00:00.000Z"}},
            {"seq_no": "2", "type": "com.hootsuite.apps.event.v1", "data": {"state": "INSTALLED", "app": {"id": "12345"}}},
            {"seq_no": "3", "type": "com.hootsuite.apps.event.v1", "data": {"state": "UNINSTALLED", "app": {"id": 12345}}}
        ]))
        .unwrap();
        let comment = event(&items[0]);
        assert_eq!(
            (comment.object_type.as_str(), comment.object_id.as_str()),
            ("comments", "4138476039")
        );
        assert_eq!(comment.event_type, EventType::Updated);
        assert_eq!(event(&items[1]).event_type, EventType::Created);
        assert_eq!(
            event(&items[1]).date,
            "2026-01-02T03:04:05.678Z",
            "no timestamp: the time of receipt"
        );
        assert_eq!(event(&items[2]).event_type, EventType::Deleted);
        assert_eq!(event(&items[2]).object_id, "12345", "numeric ids become text");
    }

    #[test]
    fn unknown_types_and_pings() {
        let items = normalize(json!([
            {"type": "com.hootsuite.ping.event.v1", "data": {}},
            {"seq_no": "9", "type": "com.hootsuite.teams.event.v2", "data": {"state": "CREATED"}},
            {"seq_no": "10", "type": "other", "data": {}}
        ]))
        .unwrap();
        assert_eq!(items[0], Item::Ping);
        assert_eq!(event(&items[1]).object_type, "teams");
        assert_eq!(event(&items[1]).event_type, EventType::Unknown);
        assert_eq!(event(&items[1]).state.as_deref(), Some("CREATED"));
        assert_eq!(event(&items[2]).object_type, "other");
    }

    #[test]
    fn malformed_bodies_say_where() {
        for (body, expected) in [
            (
                json!({"type": "x"}),
                "expected a JSON array of Hootsuite events, got an object",
            ),
            (json!([1]), "event 0: expected an object, got a number"),
            (json!([{"data": {}}]), "event 0: type is missing"),
            (
                json!([{"type": "com.hootsuite.messages.event.v1", "data": {"state": "SENT"}}]),
                "event 0: data.message.id is missing",
            ),
            (
                json!([{"type": "com.hootsuite.messages.event.v1", "data": {"message": {"id": {"x": 1}}}}]),
                "event 0: data.message.id must be a string, got an object",
            ),
            (json!([{"type": ["a"]}]), "event 0: type must be a string, got an array"),
        ] {
            assert_eq!(normalize(body).unwrap_err().to_string(), expected);
        }
        assert_eq!(normalize(json!([])).unwrap(), vec![]);
    }

    #[test]
    fn each_entry_keeps_its_items_bytes() {
        let body = r#" [ {"seq_no": "1",  "type":"com.hootsuite.ping.event.v1", "data":{}} ,
            {"type": "com.hootsuite.messages.event.v1", "seq_no":"2", "data":{"message":{"id":"7"}, "x": [1, 2]}}]"#;
        let entries = normalize_text(body, 2).unwrap();
        let raws: Vec<&str> = entries.iter().map(|e| e.raw.get()).collect();
        assert_eq!(
            raws,
            [
                r#"{"seq_no": "1",  "type":"com.hootsuite.ping.event.v1", "data":{}}"#,
                r#"{"type": "com.hootsuite.messages.event.v1", "seq_no":"2", "data":{"message":{"id":"7"}, "x": [1, 2]}}"#,
            ]
        );
        assert_eq!(entries[0].item, Item::Ping);
        assert_eq!(event(&entries[1].item).object_id, "7");
    }

    #[test]
    fn more_items_than_allowed_are_refused_whole() {
        let body = json!([{"type": "com.hootsuite.ping.event.v1"}, {"type": "x"}, {"type": "x"}]).to_string();
        assert_eq!(
            normalize_text(&body, 2).unwrap_err(),
            NormalizeError::TooMany { found: 3, limit: 2 }
        );
        assert_eq!(normalize_text(&body, 3).unwrap().len(), 3);
    }
}
