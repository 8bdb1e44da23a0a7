//! The short way from ingest to this process's delivery worker.
//!
//! While the worker has room, ingest stores an event's notifications already claimed by it
//! and passes them over in memory once the commit is done, so a fresh notification is sent
//! without a claim going through the database's writer. A notification that finds no room
//! is stored due, for a claim as before. Either way the database holds a lease on what is
//! in flight: if the worker never sends a notification handed to it (the process dies), the
//! lease runs out and it is claimed and sent like any other.

use std::time::Duration;

use tokio::sync::mpsc::{self, OwnedPermit};

use crate::store::{self, ClaimedDelivery, DeliveryStart, NewDelivery, NewEvent, Timestamp};

/// Ingest's end: reserves room with the worker and hands notifications over.
pub struct Handoff {
    sender: mpsc::Sender<ClaimedDelivery>,
    node: String,
    lease: Duration,
}

/// The worker's end: notifications stored claimed by it, to send.
pub type Handed = mpsc::Receiver<ClaimedDelivery>;

/// Room reserved with the worker for an event's notifications, which it holds claimed.
/// Dropped without [`Reserved::hand_over`] (the event was not stored), the room is freed.
/// It owns its room, so the hand-over can outlive the request that stored the event.
pub struct Reserved {
    permits: Vec<OwnedPermit<ClaimedDelivery>>,
}

impl Handoff {
    /// `room` notifications can wait for the worker at once; `lease` is the worker's.
    pub fn new(node: String, lease: Duration, room: usize) -> (Self, Handed) {
        let (sender, handed) = mpsc::channel(room.max(1));
        (Self { sender, node, lease }, handed)
    }

    /// Claims the event's due notifications for this process's worker if it has room for
    /// all of them now; otherwise leaves them due.
    pub fn claim(&self, event: &mut NewEvent) -> Option<Reserved> {
        let due = event
            .deliveries
            .iter()
            .filter(|d| matches!(d.start, DeliveryStart::Due(_)))
            .count();
        if due == 0 {
            return None;
        }
        // All or none: the permits taken before a refusal go back as they are dropped.
        let permits = (0..due)
            .map(|_| self.sender.clone().try_reserve_owned().ok())
            .collect::<Option<Vec<_>>>()?;
        let lease_until = store::now() + self.lease;
        for delivery in &mut event.deliveries {
            if matches!(delivery.start, DeliveryStart::Due(_)) {
                delivery.start = DeliveryStart::Claimed {
                    owner: self.node.clone(),
                    lease_until,
                };
            }
        }
        Some(Reserved { permits })
    }
}

impl Reserved {
    /// Passes the stored event's claimed notifications to the worker.
    pub fn hand_over(self, event: &NewEvent) {
        let claimed = event.deliveries.iter().filter_map(|d| match d.start {
            DeliveryStart::Claimed { lease_until, .. } => Some((d, lease_until)),
            _ => None,
        });
        for (permit, (delivery, lease_until)) in self.permits.into_iter().zip(claimed) {
            permit.send(first_attempt(event, delivery, lease_until));
        }
    }
}

fn first_attempt(event: &NewEvent, delivery: &NewDelivery, lease_until: Timestamp) -> ClaimedDelivery {
    ClaimedDelivery {
        id: delivery.id,
        instance: event.instance,
        payload: delivery.payload.clone(),
        attempt: 1,
        lease_until,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{
        ids::{DeliveryId, EventId, InstanceId, OrgId},
        store::{EventSource, EventStatus},
    };

    fn event(starts: &[DeliveryStart]) -> NewEvent {
        let now = store::now();
        NewEvent {
            id: EventId::new(),
            instance: InstanceId::from_stored(7),
            org: OrgId::from_stored(1),
            source: EventSource::Webhook,
            status: EventStatus::Received,
            note: None,
            received_at: now,
            raw: "[]".into(),
            normalized: "[]".into(),
            sequences: Vec::new(),
            deliveries: starts
                .iter()
                .enumerate()
                .map(|(n, start)| NewDelivery {
                    id: DeliveryId::new(),
                    payload: format!("{{\"n\":{n}}}"),
                    start: start.clone(),
                })
                .collect(),
        }
    }

    #[tokio::test]
    async fn due_notifications_are_claimed_and_handed_over_once_stored() {
        let (handoff, mut handed) = Handoff::new("node-a".into(), Duration::from_secs(60), 4);
        let now = store::now();
        let mut stored = event(&[DeliveryStart::Due(now), DeliveryStart::Due(now)]);
        let reserved = handoff.claim(&mut stored).expect("room for two");
        for delivery in &stored.deliveries {
            let DeliveryStart::Claimed { owner, lease_until } = &delivery.start else {
                panic!("not claimed: {:?}", delivery.start);
            };
            assert_eq!(owner, "node-a");
            assert!(*lease_until >= now + Duration::from_secs(60));
        }
        assert!(handed.try_recv().is_err(), "nothing is handed over before the commit");
        reserved.hand_over(&stored);
        for delivery in &stored.deliveries {
            let got = handed.try_recv().expect("handed over");
            assert_eq!((got.id, got.instance, got.attempt), (delivery.id, stored.instance, 1));
            assert_eq!(got.payload, delivery.payload);
        }
    }

    #[tokio::test]
    async fn without_room_for_all_nothing_is_claimed() {
        let (handoff, _handed) = Handoff::new("node-a".into(), Duration::from_secs(60), 2);
        let now = store::now();
        let mut first = event(&[DeliveryStart::Due(now), DeliveryStart::Due(now)]);
        let reserved = handoff.claim(&mut first).expect("room for two");
        let mut second = event(&[DeliveryStart::Due(now)]);
        assert!(handoff.claim(&mut second).is_none());
        assert_eq!(second.deliveries[0].start, DeliveryStart::Due(now));
        // An event that was not stored gives its room back.
        drop(reserved);
        assert!(handoff.claim(&mut second).is_some());
    }

    #[tokio::test]
    async fn parked_notifications_are_left_alone() {
        let (handoff, _handed) = Handoff::new("node-a".into(), Duration::from_secs(60), 4);
        let mut parked = event(&[DeliveryStart::Queued]);
        assert!(handoff.claim(&mut parked).is_none());
        assert_eq!(parked.deliveries[0].start, DeliveryStart::Queued);
    }
}
