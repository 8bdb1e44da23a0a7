//! The outbox: what a source found becomes one stored event with its notifications, in one
//! transaction, before anyone is told it was received.
//!
//! Here the hub decides what an event is worth: ignored (a ping, a disabled instance,
//! events turned off), a duplicate (every item delivered before), or notifications to send
//! (or to park, while the instance's subscription is off, or to hold until it has a callback
//! URL: events may be turned on before there is one, as the seed's flow does).
//!
//! The event keeps the provider's whole body once; each notification carries the JSON of its
//! own events (see `notification`), so what one arrival stores grows with its size, not
//! with its size times its number of notifications. A replay finds each event's JSON again
//! in the stored body.

use std::{
    collections::{BTreeMap, HashSet},
    sync::Arc,
};

use serde_json::value::RawValue;

use super::{
    deliver::handoff::Handoff,
    normalize::{self, Entry, Item, NormalizedEvent},
    notification::{self, RawShape},
};
use crate::{
    elements::Registry,
    ids::EventId,
    instances::configuration::{CALLBACK_URL, EVENTS_ENABLED, plain_value},
    metrics::Metrics,
    store::{
        DeliveryStart, EventRecord, EventSource, EventStatus, EventTarget, NewDelivery, NewEvent, Recorded, Store,
        StoreError, Timestamp,
    },
};

/// What a source received for one instance.
pub struct Arrival<'a> {
    pub target: &'a EventTarget,
    pub source: EventSource,
    /// The provider's body (webhooks) or the records found (polling), as JSON.
    pub raw: &'a RawValue,
    /// How `raw` is laid out, and so how a notification holds the JSON of its events.
    pub shape: RawShape<'a>,
    /// What `raw` holds, item by item, in order.
    pub entries: &'a [Entry<'a>],
    pub received_at: Timestamp,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Accepted {
    pub event: EventId,
    pub status: EventStatus,
    pub notifications: usize,
}

pub struct Ingest {
    store: Arc<dyn Store>,
    elements: Arc<Registry>,
    metrics: Arc<Metrics>,
    handoff: Arc<Handoff>,
}

impl Ingest {
    pub fn new(store: Arc<dyn Store>, elements: Arc<Registry>, metrics: Arc<Metrics>, handoff: Arc<Handoff>) -> Self {
        Self {
            store,
            elements,
            metrics,
            handoff,
        }
    }

    pub fn metrics(&self) -> &Metrics {
        &self.metrics
    }

    /// Stores the arrival; once this returns, it is durable.
    pub async fn accept(&self, arrival: Arrival<'_>) -> Result<Accepted, StoreError> {
        let mut delivered_before = HashSet::new();
        loop {
            let mut event = prepare(&arrival, &delivered_before);
            let reserved = self.handoff.claim(&mut event);
            // In a task of its own: if the caller goes away (a provider that stopped waiting
            // drops the request) while the commit is under way, the event may still be
            // stored, and what it claimed must still reach the worker, or it would wait for
            // its lease to run out.
            let store = self.store.clone();
            let (recorded, event) = tokio::spawn(async move {
                let recorded = store.record_event(&event).await;
                if let (Ok(Recorded::Stored), Some(reserved)) = (&recorded, reserved) {
                    reserved.hand_over(&event);
                }
                (recorded, event)
            })
            .await
            .map_err(|_| StoreError::WriterStopped)?;
            match recorded? {
                Recorded::Stored => {
                    self.metrics
                        .event(&arrival.target.element_key, arrival.source, event.status);
                    return Ok(Accepted {
                        event: event.id,
                        status: event.status,
                        notifications: event.deliveries.len(),
                    });
                }
                // A concurrent request (the provider retrying) stored some of the same
                // items first; they are its to deliver.
                Recorded::SequencesTaken(taken) => delivered_before.extend(taken),
            }
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ReplayError {
    #[error("event {0} has no event objects to deliver (a ping or an empty body)")]
    Nothing(EventId),
    #[error("event {0} not found")]
    NotFound(EventId),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl Ingest {
    /// Sends a stored event again as new notifications, with new ids (a receiver that
    /// deduplicates on the id would otherwise drop what was asked for on purpose).
    pub async fn replay(&self, target: &EventTarget, event: &EventRecord) -> Result<usize, ReplayError> {
        let events: Vec<NormalizedEvent> = serde_json::from_str(&event.normalized)
            .map_err(|e| StoreError::Corrupt(format!("normalized events of {}: {e}", event.id)))?;
        if events.is_empty() {
            return Err(ReplayError::Nothing(event.id));
        }
        let corrupt = |why: String| StoreError::Corrupt(format!("event {}: {why}", event.id));
        let raw: &RawValue = serde_json::from_str(&event.raw).map_err(|e| corrupt(format!("raw body: {e}")))?;
        let resource;
        let (shape, entries) = match event.source {
            EventSource::Webhook => self.webhook_entries(target, event, raw).map_err(corrupt)?,
            EventSource::Polling => {
                let (name, records) = polled_records(raw).map_err(corrupt)?;
                resource = name;
                (RawShape::Records(&resource), records)
            }
        };
        if entries.len() != events.len() {
            return Err(corrupt(format!(
                "{} normalized events for {} items of the raw body",
                events.len(),
                entries.len()
            ))
            .into());
        }
        let pairs: Vec<(&NormalizedEvent, &RawValue)> = events.iter().zip(entries).collect();
        let now = crate::store::now();
        let deliveries: Vec<NewDelivery> = notification::build(target, event.id, event.source, raw, shape, &pairs, now)
            .into_iter()
            .map(|n| NewDelivery {
                id: n.id,
                payload: n.payload,
                start: DeliveryStart::Due(now),
            })
            .collect();
        if self
            .store
            .add_deliveries(target.org, target.instance, event.id, &deliveries, now)
            .await?
        {
            Ok(deliveries.len())
        } else {
            Err(ReplayError::NotFound(event.id))
        }
    }

    /// The JSON of each normalized event of a stored webhook, in order, found in its body
    /// `raw`, and how that body is laid out. The event row keeps no item positions, so rows
    /// from before notifications carried their own items replay too: the body is normalized
    /// again to tell its pings (which have no normalized event) from its events.
    fn webhook_entries<'a>(
        &self,
        target: &EventTarget,
        event: &EventRecord,
        raw: &'a RawValue,
    ) -> Result<(RawShape<'a>, Vec<&'a RawValue>), String> {
        let element = self
            .elements
            .find(&target.element_key)
            .ok_or_else(|| format!("element {} is not known to this hub", target.element_key))?;
        let batch =
            normalize::webhook(element, raw, event.received_at, usize::MAX).map_err(|e| format!("raw body: {e}"))?;
        let events = batch
            .entries
            .into_iter()
            .filter(|entry| matches!(entry.item, Item::Event { .. }))
            .map(|entry| entry.raw)
            .collect();
        Ok((batch.shape.into(), events))
    }
}

/// A stored polling event's body, `{resource: [records]}`: the resource and its records,
/// one per normalized event.
fn polled_records(raw: &RawValue) -> Result<(String, Vec<&RawValue>), String> {
    let records: BTreeMap<String, Vec<&RawValue>> =
        serde_json::from_str(raw.get()).map_err(|e| format!("polled records: {e}"))?;
    let mut records = records.into_iter();
    match (records.next(), records.next()) {
        (Some(one), None) => Ok(one),
        _ => Err("the polled records are not under one resource".into()),
    }
}

/// The event an arrival becomes: its status, and its notifications unless it is ignored or
/// a duplicate. Items whose sequence number is in `delivered_before` are left out.
pub fn prepare(arrival: &Arrival<'_>, delivered_before: &HashSet<String>) -> NewEvent {
    let target = arrival.target;
    let all: Vec<&NormalizedEvent> = arrival
        .entries
        .iter()
        .filter_map(|entry| match &entry.item {
            Item::Event { event, .. } => Some(event),
            Item::Ping => None,
        })
        .collect();
    let fresh: Vec<(Option<&String>, &NormalizedEvent, &RawValue)> = arrival
        .entries
        .iter()
        .filter_map(|entry| match &entry.item {
            Item::Event { sequence, event } if sequence.as_ref().is_none_or(|s| !delivered_before.contains(s)) => {
                Some((sequence.as_ref(), event, entry.raw))
            }
            _ => None,
        })
        .collect();
    let ignored = if target.disabled {
        Some("the instance is disabled")
    } else if plain_value(&target.config, EVENTS_ENABLED) != Some("true") {
        Some("events are not enabled for the instance (event.notification.enabled)")
    } else if all.is_empty() && !arrival.entries.is_empty() {
        Some("ping")
    } else if all.is_empty() {
        Some("no events in the body")
    } else {
        None
    };
    let id = EventId::new();
    let (status, note, sequences, deliveries) = match ignored {
        Some(reason) => (EventStatus::Ignored, Some(reason.to_string()), Vec::new(), Vec::new()),
        None if fresh.is_empty() => (
            EventStatus::Duplicate,
            Some("every event was received before".to_string()),
            Vec::new(),
            Vec::new(),
        ),
        None => {
            let events: Vec<(&NormalizedEvent, &RawValue)> = fresh.iter().map(|&(_, e, raw)| (e, raw)).collect();
            // Stored parked at once rather than claimed only to be parked. (A URL set since
            // this view of the instance was read releases held ones as they are stored.)
            let (start, status, note) = if !target.subscription_active {
                (
                    DeliveryStart::Queued,
                    EventStatus::Queued,
                    Some("the subscription is deactivated; reactivate it to deliver".to_string()),
                )
            } else if plain_value(&target.config, CALLBACK_URL).is_none() {
                (
                    DeliveryStart::Held,
                    EventStatus::Held,
                    Some(format!(
                        "arrived with no {CALLBACK_URL} set: notifications held until one is"
                    )),
                )
            } else {
                (DeliveryStart::Due(arrival.received_at), EventStatus::Received, None)
            };
            let deliveries = notification::build(
                target,
                id,
                arrival.source,
                arrival.raw,
                arrival.shape,
                &events,
                arrival.received_at,
            )
            .into_iter()
            .map(|n| NewDelivery {
                id: n.id,
                payload: n.payload,
                start: start.clone(),
            })
            .collect();
            (
                status,
                note,
                fresh.iter().filter_map(|(s, _, _)| s.cloned()).collect(),
                deliveries,
            )
        }
    };
    NewEvent {
        id,
        instance: target.instance,
        org: target.org,
        source: arrival.source,
        status,
        note,
        received_at: arrival.received_at,
        raw: arrival.raw.get().to_string(),
        normalized: serde_json::to_string(&all).expect("normalized events serialize"),
        sequences,
        deliveries,
    }
}

#[cfg(test)]
mod tests {
    use serde_json::Value;

    use super::*;
    use crate::{
        ids::ConfigEntryId,
        store::{ConfigEntry, StoredValue},
    };

    fn target() -> EventTarget {
        EventTarget {
            config: vec![ConfigEntry {
                id: ConfigEntryId::from_stored(1),
                key: EVENTS_ENABLED.into(),
                value: Some(StoredValue::Plain("true".into())),
            }],
            ..notification::tests::target()
        }
    }

    #[test]
    fn notifications_carry_the_items_of_their_fresh_events_and_the_event_the_whole_body() {
        let body = r#"[{"type":"com.hootsuite.ping.event.v1","data":{}},
            {"seq_no":"1","type":"com.hootsuite.messages.event.v1","data":{"message":{"id":"a"}}},
            {"seq_no":"2", "type":"com.hootsuite.messages.event.v1", "data":{"message":{"id":"b"}}}]"#;
        let raw: &RawValue = serde_json::from_str(body).unwrap();
        let registry = Registry::builtin(&Default::default()).unwrap();
        let batch = normalize::webhook(registry.find("hootsuite").unwrap(), raw, crate::store::now(), 10).unwrap();
        let target = target();
        let arrival = Arrival {
            target: &target,
            source: EventSource::Webhook,
            raw,
            shape: batch.shape.into(),
            entries: &batch.entries,
            received_at: crate::store::now(),
        };
        let event = prepare(&arrival, &HashSet::from(["1".to_string()]));
        assert_eq!(event.raw, body.trim(), "the event keeps the whole body");
        assert_eq!(event.sequences, ["2"]);
        let [notification] = &event.deliveries[..] else {
            panic!("one notification: {:?}", event.deliveries);
        };
        assert!(
            notification.payload.contains(
                r#""raw":[{"seq_no":"2", "type":"com.hootsuite.messages.event.v1", "data":{"message":{"id":"b"}}}],"#
            ),
            "neither the ping nor the item delivered before: {}",
            notification.payload
        );
        let normalized: Vec<Value> = serde_json::from_str(&event.normalized).unwrap();
        assert_eq!(normalized.len(), 2, "every event of the body is logged");
    }
}
