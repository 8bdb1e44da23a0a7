//! The verdict on a stream of webhook events: what the hub acknowledged against what reached
//! the receiver.
//!
//! Each event's message id is its sequence number, so each event object a notification
//! carries names the event it came from. An acknowledged event must arrive at least once.
//! Several copies are allowed (at-least-once) only as the same notification sent again,
//! under the same `webhook-id`; an event arriving under two ids was stored twice.

use std::collections::{HashMap, HashSet};

use crate::receiver::Notification;

#[derive(Debug, Default)]
pub struct Verdict {
    /// Distinct events that arrived.
    pub delivered: usize,
    /// Acknowledged events that never arrived.
    pub lost: Vec<String>,
    /// Extra copies under an id already seen for the event.
    pub duplicates: usize,
    /// Events that arrived under more than one `webhook-id`, with those ids.
    pub stored_twice: Vec<(String, Vec<String>)>,
    /// Events that arrived but were never sent.
    pub unexpected: Vec<String>,
}

/// `copies`: for each event object that arrived, the `webhook-id` of every copy.
pub fn reconcile(sent: &[String], acknowledged: &HashSet<String>, copies: &HashMap<String, Vec<String>>) -> Verdict {
    let sent: HashSet<&String> = sent.iter().collect();
    let mut verdict = Verdict {
        delivered: copies.len(),
        ..Verdict::default()
    };
    let mut lost: Vec<String> = acknowledged
        .iter()
        .filter(|seq| !copies.contains_key(*seq))
        .cloned()
        .collect();
    lost.sort();
    verdict.lost = lost;
    for (object, ids) in copies {
        if !sent.contains(object) {
            verdict.unexpected.push(object.clone());
        }
        verdict.duplicates += ids.len() - 1;
        let distinct: HashSet<&String> = ids.iter().collect();
        if distinct.len() > 1 {
            let mut ids: Vec<String> = distinct.into_iter().cloned().collect();
            ids.sort();
            verdict.stored_twice.push((object.clone(), ids));
        }
    }
    verdict.stored_twice.sort();
    verdict.unexpected.sort();
    verdict
}

/// Notifications whose event objects are not all among the provider events in their `raw`
/// body: a notification that mixes up what it reports.
pub fn inconsistent(notifications: &[Notification]) -> Vec<String> {
    notifications
        .iter()
        .filter(|n| {
            let raw: HashSet<&String> = n.raw_seq_nos.iter().collect();
            n.objects.iter().any(|(object, _)| !raw.contains(object))
        })
        .map(|n| n.webhook_id.clone())
        .collect()
}

/// At most five items and how many there are, for a violation's evidence.
pub fn sample<T: std::fmt::Debug>(items: &[T]) -> String {
    if items.len() <= 5 {
        format!("{items:?}")
    } else {
        format!("{:?} and {} more", &items[..5], items.len() - 5)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strings(items: &[&str]) -> Vec<String> {
        items.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn tells_lost_duplicated_and_stored_twice_apart() {
        let sent = strings(&["1", "2", "3", "4"]);
        let acknowledged: HashSet<String> = strings(&["1", "2", "3"]).into_iter().collect();
        let copies = HashMap::from([
            ("1".to_string(), strings(&["a", "a"])),
            ("2".to_string(), strings(&["b", "c"])),
            ("9".to_string(), strings(&["d"])),
        ]);
        let verdict = reconcile(&sent, &acknowledged, &copies);
        assert_eq!(verdict.delivered, 3);
        assert_eq!(verdict.lost, strings(&["3"]));
        assert_eq!(verdict.duplicates, 2);
        assert_eq!(verdict.stored_twice, vec![("2".to_string(), strings(&["b", "c"]))]);
        assert_eq!(verdict.unexpected, strings(&["9"]));
    }

    #[test]
    fn an_event_missing_from_its_raw_body_is_inconsistent() {
        let notification = |id: &str, objects: &[&str]| Notification {
            webhook_id: id.to_string(),
            instance: 1,
            objects: objects.iter().map(|o| (o.to_string(), "UPDATED".to_string())).collect(),
            raw_seq_nos: strings(&["1", "2"]),
            at: tokio::time::Instant::now(),
        };
        let found = inconsistent(&[notification("ok", &["1", "2"]), notification("bad", &["3"])]);
        assert_eq!(found, strings(&["bad"]));
    }
}
