//! The notification envelope POSTed to a callback URL, in Cloud Elements' shape:
//! `{"id", "topic", "createdDate", "severity", "message": {elementKey, accountId, companyId,
//! userId, eventId, instanceId, instance_id, instanceName, instanceTags, raw, events}}`.
//!
//! A batch of event objects larger than the source's limit (20 for webhooks, 10 for
//! polling) is split over several notifications, each carrying the whole raw body.

use chrono::SecondsFormat;
use serde::Serialize;
use serde_json::value::RawValue;

use super::normalize::NormalizedEvent;
use crate::{
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
    raw: &'a RawValue,
    events: &'a [NormalizedEvent],
}

/// A notification ready to store: its id and the exact bytes every attempt will send.
#[derive(Debug, Clone)]
pub struct Notification {
    pub id: DeliveryId,
    pub payload: String,
}

/// Splits `events` into notifications about `target`'s event `event`.
pub fn build(
    target: &EventTarget,
    event: EventId,
    source: EventSource,
    raw: &RawValue,
    events: &[NormalizedEvent],
    created: Timestamp,
) -> Vec<Notification> {
    events
        .chunks(events_per_notification(source))
        .map(|chunk| {
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
                    events: chunk,
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
mod tests {
    use serde_json::{Value, json};

    use super::*;
    use crate::{
        elements::EventType,
        ids::{InstanceId, OrgId, UserId},
        store::FailurePolicy,
    };

    fn target() -> EventTarget {
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

    #[test]
    fn envelope_has_the_cloud_elements_shape() {
        let raw = RawValue::from_string(r#"[{"seq_no":"1"}]"#.into()).unwrap();
        let event = EventId::new();
        let created = chrono::DateTime::parse_from_rfc3339("2026-01-01T00:00:00Z")
            .unwrap()
            .to_utc();
        let built = build(&target(), event, EventSource::Webhook, &raw, &events(1), created);
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
    fn large_batches_split_and_each_part_keeps_the_whole_raw_body() {
        let raw = RawValue::from_string("[1,2,3]".into()).unwrap();
        let now = chrono::Utc::now();
        let webhook = build(&target(), EventId::new(), EventSource::Webhook, &raw, &events(45), now);
        assert_eq!(webhook.len(), 3);
        let sizes: Vec<usize> = webhook
            .iter()
            .map(|n| {
                let v: Value = serde_json::from_str(&n.payload).unwrap();
                assert_eq!(v["message"]["raw"], json!([1, 2, 3]));
                v["message"]["events"].as_array().unwrap().len()
            })
            .collect();
        assert_eq!(sizes, [20, 20, 5]);
        let ids: std::collections::HashSet<_> = webhook.iter().map(|n| n.id).collect();
        assert_eq!(ids.len(), 3, "each notification has its own id");
        assert_eq!(
            build(&target(), EventId::new(), EventSource::Polling, &raw, &events(11), now).len(),
            2
        );
        assert!(build(&target(), EventId::new(), EventSource::Webhook, &raw, &[], now).is_empty());
    }
}
