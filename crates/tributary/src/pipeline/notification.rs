//! The notification envelope POSTed to a callback URL, in Cloud Elements' shape:
//! `{"id", "topic", "createdDate", "severity", "message": {elementKey, accountId, companyId,
//! userId, eventId, instanceId, instance_id, instanceName, instanceTags, raw, events}}`.
//!
//! A batch of event objects larger than the source's limit (20 for webhooks, 10 for
//! polling) is split over several notifications. Each one's `raw` holds the provider's JSON
//! of its own events only, laid out as the body they came in ([`RawShape`]), byte for byte.
//! Cloud Elements sent the whole body with every part; here what one webhook sends grows
//! with its size, not with its size times its number of parts (a 1 MiB body of 5 000 events
//! would otherwise be 250 notifications of 1 MiB each).

use std::collections::BTreeMap;

use chrono::SecondsFormat;
use serde::Serialize;
use serde_json::value::RawValue;

use super::normalize::NormalizedEvent;
use crate::{
    elements::BatchShape,
    ids::{DeliveryId, EventId},
    store::{EventSource, EventTarget, Timestamp},
};

/// How many event objects one notification carries at most.
pub fn events_per_notification(source: EventSource) -> usize {
    match source {
        EventSource::Webhook => 20,
        EventSource::Polling => 10,
    }
}

/// How the provider's JSON of an arrival is laid out, and so how a notification's `raw`
/// holds the JSON of its own events.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RawShape<'a> {
    /// A JSON array of items (Hootsuite's webhooks): `raw` is the array of its events' items.
    Array,
    /// One object, one event: `raw` is the body itself.
    Single,
    /// Polled records, `{resource: [records]}`: `raw` holds its events' records that way.
    Records(&'a str),
}

impl From<BatchShape> for RawShape<'_> {
    fn from(batch: BatchShape) -> Self {
        match batch {
            BatchShape::Array => RawShape::Array,
            BatchShape::Single => RawShape::Single,
        }
    }
}

/// A notification's `raw`; the provider's JSON is written out as it came, never re-encoded.
#[derive(Serialize)]
#[serde(untagged)]
enum Raw<'a> {
    Body(&'a RawValue),
    Items(Vec<&'a RawValue>),
    Records(BTreeMap<&'a str, Vec<&'a RawValue>>),
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Envelope<'a> {
    id: String,
    topic: String,
    created_date: String,
    severity: &'static str,
    message: Message<'a>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Message<'a> {
    element_key: &'a str,
    /// Cloud Elements' account and company; here both are the organization.
    account_id: i64,
    company_id: i64,
    user_id: i64,
    event_id: String,
    instance_id: i64,
    #[serde(rename = "instance_id")]
    instance_id_snake: i64,
    instance_name: &'a str,
    instance_tags: &'a [String],
    raw: Raw<'a>,
    events: Vec<&'a NormalizedEvent>,
}

/// A notification ready to store: its id and the exact bytes every attempt will send.
#[derive(Debug, Clone)]
pub struct Notification {
    pub id: DeliveryId,
    pub payload: String,
}

/// Splits `events`, each with the provider's JSON of it, into notifications about
/// `target`'s event `event`, whose provider body `body` is laid out as `shape`.
pub fn build(
    target: &EventTarget,
    event: EventId,
    source: EventSource,
    body: &RawValue,
    shape: RawShape<'_>,
    events: &[(&NormalizedEvent, &RawValue)],
    created: Timestamp,
) -> Vec<Notification> {
    events
        .chunks(events_per_notification(source))
        .map(|chunk| {
            let entries = || chunk.iter().map(|(_, raw)| *raw).collect();
            let raw = match shape {
                RawShape::Array => Raw::Items(entries()),
                RawShape::Single => Raw::Body(body),
                RawShape::Records(resource) => Raw::Records(BTreeMap::from([(resource, entries())])),
            };
            let id = DeliveryId::new();
            let envelope = Envelope {
                id: id.to_string(),
                topic: format!("instance-{}-{}-events", target.instance, target.element_key),
                created_date: created.to_rfc3339_opts(SecondsFormat::Millis, true),
                severity: "low",
                message: Message {
                    element_key: &target.element_key,
                    account_id: target.org.get(),
                    company_id: target.org.get(),
                    user_id: target.user.get(),
                    event_id: event.to_string(),
                    instance_id: target.instance.get(),
                    instance_id_snake: target.instance.get(),
                    instance_name: &target.name,
                    instance_tags: &target.tags,
                    raw,
                    events: chunk.iter().map(|(event, _)| *event).collect(),
                },
            };
            Notification {
                id,
                payload: serde_json::to_string(&envelope).expect("notifications serialize"),
            }
        })
        .collect()
}

#[cfg(test)]
pub(crate) mod tests {
    use serde_json::{Value, json};

    use super::*;
    use crate::{
        elements::EventType,
        ids::{InstanceId, OrgId, UserId},
        store::FailurePolicy,
    };

    /// An instance of organization 7 with events off (its configuration is empty).
    pub(crate) fn target() -> EventTarget {
        EventTarget {
            instance: InstanceId::from_stored(20931),
            org: OrgId::from_stored(7),
            user: UserId::from_stored(8),
            element_key: "hootsuite".into(),
            name: "API Instance".into(),
            tags: vec!["Docs".into()],
            disabled: false,
            subscription_active: true,
            failure_policy: FailurePolicy::Retry,
            config: vec![],
            identity: None,
        }
    }

    fn events(n: usize) -> Vec<NormalizedEvent> {
        (0..n)
            .map(|i| NormalizedEvent {
                element_key: "hootsuite".into(),
                hub_key: "social".into(),
                object_type: "messages".into(),
                object_id: i.to_string(),
                event_type: EventType::Updated,
                date: "2026-01-01T00:00:00.000Z".into(),
                state: Some("SENT".into()),
            })
            .collect()
    }

    /// Each event paired with the JSON of a provider item of its own: `{ "n": <i> }`.
    fn paired<'a>(
        events: &'a [NormalizedEvent],
        items: &'a [Box<RawValue>],
    ) -> Vec<(&'a NormalizedEvent, &'a RawValue)> {
        events.iter().zip(items.iter().map(|r| &**r)).collect()
    }

    fn items(n: usize) -> Vec<Box<RawValue>> {
        (0..n)
            .map(|i| RawValue::from_string(format!(r#"{{ "n": {i} }}"#)).unwrap())
            .collect()
    }

    fn parts(built: &[Notification]) -> Vec<Value> {
        built
            .iter()
            .map(|n| serde_json::from_str::<Value>(&n.payload).unwrap()["message"].take())
            .collect()
    }

    #[test]
    fn envelope_has_the_cloud_elements_shape() {
        let raw = RawValue::from_string(r#"[{"seq_no":"1"}]"#.into()).unwrap();
        let item = RawValue::from_string(r#"{"seq_no":"1"}"#.into()).unwrap();
        let event = EventId::new();
        let created = chrono::DateTime::parse_from_rfc3339("2026-01-01T00:00:00Z")
            .unwrap()
            .to_utc();
        let one = events(1);
        let built = build(
            &target(),
            event,
            EventSource::Webhook,
            &raw,
            RawShape::Array,
            &[(&one[0], &item)],
            created,
        );
        let payload: Value = serde_json::from_str(&built[0].payload).unwrap();
        assert_eq!(
            payload,
            json!({
                "id": built[0].id.to_string(),
                "topic": "instance-20931-hootsuite-events",
                "createdDate": "2026-01-01T00:00:00.000Z",
                "severity": "low",
                "message": {
                    "elementKey": "hootsuite", "accountId": 7, "companyId": 7, "userId": 8,
                    "eventId": event.to_string(), "instanceId": 20931, "instance_id": 20931,
                    "instanceName": "API Instance", "instanceTags": ["Docs"],
                    "raw": [{"seq_no": "1"}],
                    "events": [{"elementKey": "hootsuite", "hubKey": "social", "objectType": "messages",
                                "objectId": "0", "eventType": "UPDATED", "date": "2026-01-01T00:00:00.000Z",
                                "state": "SENT"}]
                }
            })
        );
    }

    #[test]
    fn large_batches_split_and_each_part_carries_the_raw_items_of_its_own_events() {
        let (all, raw_items) = (events(45), items(45));
        let body = RawValue::from_string(r#"["the whole body, never sent"]"#.into()).unwrap();
        let now = chrono::Utc::now();
        let webhook = build(
            &target(),
            EventId::new(),
            EventSource::Webhook,
            &body,
            RawShape::Array,
            &paired(&all, &raw_items),
            now,
        );
        let messages = parts(&webhook);
        let sizes: Vec<usize> = messages.iter().map(|m| m["events"].as_array().unwrap().len()).collect();
        assert_eq!(sizes, [20, 20, 5]);
        let mut next = 0;
        for (message, notification) in messages.iter().zip(&webhook) {
            let events = message["events"].as_array().unwrap();
            let raw = message["raw"].as_array().unwrap();
            assert_eq!(raw.len(), events.len(), "one raw item per event");
            for (event, item) in events.iter().zip(raw) {
                assert_eq!(event["objectId"], next.to_string());
                assert_eq!(item, &json!({ "n": next }), "the event's own item, in order");
                next += 1;
            }
            assert!(
                notification
                    .payload
                    .contains(&format!(r#"[{{ "n": {} }},"#, next - events.len())),
                "the items' bytes are forwarded as received"
            );
            assert!(!notification.payload.contains("the whole body"));
        }
        let ids: std::collections::HashSet<_> = webhook.iter().map(|n| n.id).collect();
        assert_eq!(ids.len(), 3, "each notification has its own id");

        let polled = build(
            &target(),
            EventId::new(),
            EventSource::Polling,
            &body,
            RawShape::Records("messages"),
            &paired(&all[..11], &raw_items[..11]),
            now,
        );
        let records: Vec<Value> = parts(&polled).into_iter().map(|m| m["raw"].clone()).collect();
        assert_eq!(records.len(), 2);
        assert_eq!(records[1], json!({"messages": [{"n": 10}]}));
        assert_eq!(records[0]["messages"].as_array().unwrap().len(), 10);
        assert!(
            build(
                &target(),
                EventId::new(),
                EventSource::Webhook,
                &body,
                RawShape::Array,
                &[],
                now
            )
            .is_empty()
        );
    }

    #[test]
    fn a_single_object_body_is_its_own_raw() {
        let body = RawValue::from_string(r#"{"id": 1,  "kind": "x"}"#.into()).unwrap();
        let one = events(1);
        let built = build(
            &target(),
            EventId::new(),
            EventSource::Webhook,
            &body,
            RawShape::Single,
            &[(&one[0], &body)],
            chrono::Utc::now(),
        );
        assert!(built[0].payload.contains(r#""raw":{"id": 1,  "kind": "x"},"#));
    }
}
