//! Deciding what changed between polls: Cloud Elements' updated-date rule, and the
//! snapshot diff for APIs without an updated date. Pure functions over records and what the
//! previous polls remembered; the caller fetches and stores.

use std::collections::{HashMap, HashSet};

use chrono::{DateTime, Utc};
use serde_json::Value;
use sha2::{Digest, Sha256};

use super::config::{Snapshot, UpdatedDate, at_path};
use crate::{
    elements::EventType,
    store::{KnownObject, ObjectChange},
};

/// A change found in one record.
#[derive(Debug, Clone, PartialEq)]
pub struct Change {
    pub id: String,
    pub event_type: EventType,
    /// When it happened, if the record says.
    pub date: Option<DateTime<Utc>>,
    pub record: Value,
}

/// What a poll of one resource found and must remember.
#[derive(Debug, Default)]
pub struct Outcome {
    pub changes: Vec<Change>,
    pub remember: Vec<ObjectChange>,
    /// Ids that disappeared from a completely read window: deleted, unless confirming them
    /// shows they only moved away.
    pub vanished: Vec<String>,
    /// Records the strategy could not read (no id, a bad date), with why.
    pub skipped: Vec<String>,
}

/// The id of a record at the configured path, as text.
pub fn record_id(record: &Value, id_field: &str) -> Option<String> {
    match at_path(record, id_field)? {
        Value::String(s) if !s.is_empty() => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// Cloud Elements' rule. A record counts when it was updated after the last poll (less
/// `pollDelay`) and, with `filterByCurrentDate`, not after this poll started; it is CREATED
/// when its created and updated dates agree within `createdCheckTolerance`, else UPDATED.
/// Each reported (id, updated date) is remembered, so the overlap `pollDelay` re-reads is
/// not reported twice.
pub fn updated_since(
    rules: &UpdatedDate,
    resource: &str,
    id_field: &str,
    records: &[Value],
    known: &HashMap<String, KnownObject>,
    last_poll: DateTime<Utc>,
    poll_started: DateTime<Utc>,
) -> Outcome {
    let since = last_poll - chrono::Duration::seconds(i64::try_from(rules.poll_delay).unwrap_or(i64::MAX));
    let mut outcome = Outcome::default();
    for record in records {
        let Some(id) = record_id(record, id_field) else {
            outcome.skipped.push(format!("a record without {id_field}"));
            continue;
        };
        let date = |field: &super::config::DateField| -> Result<DateTime<Utc>, String> {
            let text = at_path(record, &field.path)
                .and_then(|v| {
                    v.as_str()
                        .map(str::to_owned)
                        .or_else(|| v.as_number().map(|n| n.to_string()))
                })
                .ok_or_else(|| format!("record {id}: no {}", field.path))?;
            let offset = field.zone.offset_at(poll_started);
            field
                .pattern
                .read(&text, offset)
                .map_err(|e| format!("record {id}: {}: {e}", field.path))
        };
        let (updated, created) = match (date(&rules.updated), date(&rules.created)) {
            (Ok(updated), Ok(created)) => (updated, created),
            (Err(e), _) | (_, Err(e)) => {
                outcome.skipped.push(e);
                continue;
            }
        };
        if rules.filter_by_updated_date && updated <= since {
            continue;
        }
        if rules.filter_by_current_date && updated > poll_started {
            // The next poll sees it, once its update is in the past.
            continue;
        }
        let fingerprint = updated.timestamp_millis().to_string();
        if known.get(&id).is_some_and(|k| k.fingerprint == fingerprint) {
            continue;
        }
        let tolerance = chrono::Duration::seconds(i64::try_from(rules.created_check_tolerance).unwrap_or(i64::MAX));
        let event_type = if (updated - created).abs() <= tolerance {
            EventType::Created
        } else {
            EventType::Updated
        };
        outcome.remember.push(ObjectChange::Remember {
            resource: resource.to_string(),
            id: id.clone(),
            fingerprint,
            window_at: Some(updated),
        });
        outcome.changes.push(Change {
            id,
            event_type,
            date: Some(updated),
            record: record.clone(),
        });
    }
    // What was remembered only to bridge the overlap can go once it is behind it.
    for (id, object) in known {
        if object.window_at.is_some_and(|at| at < since) {
            outcome.remember.push(ObjectChange::Forget {
                resource: resource.to_string(),
                id: id.clone(),
            });
        }
    }
    outcome
}

/// The snapshot diff over a complete read (of the window, when there is one). The first
/// poll is a baseline: it remembers everything and reports nothing.
pub fn snapshot(
    rules: &Snapshot,
    resource: &str,
    id_field: &str,
    records: &[Value],
    known: &HashMap<String, KnownObject>,
    window: Option<(DateTime<Utc>, DateTime<Utc>)>,
    baseline: bool,
) -> Outcome {
    let mut outcome = Outcome::default();
    let mut seen = HashSet::new();
    for record in records {
        let Some(id) = record_id(record, id_field) else {
            outcome.skipped.push(format!("a record without {id_field}"));
            continue;
        };
        if !seen.insert(id.clone()) {
            continue;
        }
        let fingerprint = fingerprint(record);
        let window_at = rules
            .window
            .as_ref()
            .and_then(|w| at_path(record, &w.field))
            .and_then(Value::as_str)
            .and_then(|t| DateTime::parse_from_rfc3339(t).ok())
            .map(|t| t.with_timezone(&Utc));
        let event_type = match known.get(&id) {
            None => EventType::Created,
            Some(previous) if previous.fingerprint != fingerprint => EventType::Updated,
            Some(_) => continue,
        };
        outcome.remember.push(ObjectChange::Remember {
            resource: resource.to_string(),
            id: id.clone(),
            fingerprint,
            window_at,
        });
        if !baseline {
            outcome.changes.push(Change {
                id,
                event_type,
                date: None,
                record: record.clone(),
            });
        }
    }
    for (id, object) in known {
        if seen.contains(id) {
            continue;
        }
        let still_inside = match (window, object.window_at) {
            (Some((start, end)), Some(at)) => start <= at && at <= end,
            (Some(_), None) | (None, _) => true,
        };
        if still_inside {
            outcome.vanished.push(id.clone());
        } else {
            // It slid out of the window as time moved: not a deletion, just out of sight.
            outcome.remember.push(ObjectChange::Forget {
                resource: resource.to_string(),
                id: id.clone(),
            });
        }
    }
    outcome.vanished.sort();
    outcome
}

/// A stable digest of a record's content (`serde_json` orders object keys).
pub fn fingerprint(record: &Value) -> String {
    hex::encode(&Sha256::digest(record.to_string().as_bytes())[..16])
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::pipeline::sources::poller::config::{PollerConfig, Strategy};

    fn at(text: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(text).unwrap().with_timezone(&Utc)
    }

    fn updated_rules(delay: u64, current: bool) -> UpdatedDate {
        let config = PollerConfig::parse(&json!({"r": {"url": "/r", "idField": "id", "pollDelay": delay,
            "filterByCurrentDate": current, "createdCheckTolerance": 2,
            "datesConfiguration": {"updatedDateField": "updated", "updatedDateFormat": "yyyy-MM-dd HH:mm:ss",
                                   "createdDateField": "created", "createdDateFormat": "yyyy-MM-dd HH:mm:ss"}}}))
        .unwrap();
        match config.resources["r"].strategy.clone() {
            Strategy::UpdatedDate(rules) => rules,
            Strategy::Snapshot(_) => unreachable!(),
        }
    }

    fn record(id: u32, created: &str, updated: &str) -> Value {
        json!({"id": id, "created": created, "updated": updated})
    }

    fn types(outcome: &Outcome) -> Vec<(String, EventType)> {
        outcome.changes.iter().map(|c| (c.id.clone(), c.event_type)).collect()
    }

    #[test]
    fn cloud_elements_classification() {
        let rules = updated_rules(0, true);
        let records = [
            record(1, "2026-01-01 10:00:00", "2026-01-01 10:00:01"), // created == updated within 2 s
            record(2, "2025-12-01 00:00:00", "2026-01-01 10:00:30"), // created earlier
            record(3, "2025-12-01 00:00:00", "2026-01-01 09:59:00"), // not after the last poll
            record(4, "2026-01-01 10:00:00", "2026-01-01 10:05:00"), // after this poll started
            json!({"id": 5, "created": "garbage", "updated": "2026-01-01 10:00:10"}),
            json!({"created": "x"}),
        ];
        let outcome = updated_since(
            &rules,
            "r",
            "id",
            &records,
            &HashMap::new(),
            at("2026-01-01T10:00:00Z"),
            at("2026-01-01T10:01:00Z"),
        );
        assert_eq!(
            types(&outcome),
            [
                ("1".to_string(), EventType::Created),
                ("2".to_string(), EventType::Updated)
            ]
        );
        assert_eq!(outcome.skipped.len(), 2, "{:?}", outcome.skipped);
        assert_eq!(outcome.changes[0].date, Some(at("2026-01-01T10:00:01Z")));
    }

    #[test]
    fn poll_delay_overlap_is_not_reported_twice() {
        let rules = updated_rules(60, false);
        let records = [record(1, "2025-01-01 00:00:00", "2026-01-01 10:00:30")];
        let first = updated_since(
            &rules,
            "r",
            "id",
            &records,
            &HashMap::new(),
            at("2026-01-01T10:00:00Z"),
            at("2026-01-01T10:01:00Z"),
        );
        assert_eq!(first.changes.len(), 1);
        let known: HashMap<String, KnownObject> = first
            .remember
            .iter()
            .map(|c| match c {
                ObjectChange::Remember {
                    id,
                    fingerprint,
                    window_at,
                    ..
                } => (
                    id.clone(),
                    KnownObject {
                        fingerprint: fingerprint.clone(),
                        window_at: *window_at,
                    },
                ),
                ObjectChange::Forget { .. } => unreachable!(),
            })
            .collect();
        // The next poll re-reads the last minute; the record is still there, unchanged.
        let second = updated_since(
            &rules,
            "r",
            "id",
            &records,
            &known,
            at("2026-01-01T10:01:00Z"),
            at("2026-01-01T10:02:00Z"),
        );
        assert!(second.changes.is_empty());
        // Much later, the memory of it is dropped.
        let later = updated_since(
            &rules,
            "r",
            "id",
            &[],
            &known,
            at("2026-01-01T11:00:00Z"),
            at("2026-01-01T11:01:00Z"),
        );
        assert!(matches!(later.remember.as_slice(), [ObjectChange::Forget { .. }]));
    }

    fn snapshot_rules(window: bool) -> Snapshot {
        let url = if window {
            "/m?s=${window.start:yyyy}&e=${window.end:yyyy}"
        } else {
            "/m"
        };
        let mut body = json!({"url": url, "idField": "id", "strategy": "snapshot"});
        if window {
            body["window"] = json!({"field": "at", "lookbackHours": 1, "lookaheadHours": 1});
        }
        match PollerConfig::parse(&json!({"m": body})).unwrap().resources["m"]
            .strategy
            .clone()
        {
            Strategy::Snapshot(rules) => rules,
            Strategy::UpdatedDate(_) => unreachable!(),
        }
    }

    fn remembered(outcome: &Outcome) -> HashMap<String, KnownObject> {
        outcome
            .remember
            .iter()
            .filter_map(|c| match c {
                ObjectChange::Remember {
                    id,
                    fingerprint,
                    window_at,
                    ..
                } => Some((
                    id.clone(),
                    KnownObject {
                        fingerprint: fingerprint.clone(),
                        window_at: *window_at,
                    },
                )),
                ObjectChange::Forget { .. } => None,
            })
            .collect()
    }

    #[test]
    fn snapshot_finds_created_updated_and_vanished() {
        let rules = snapshot_rules(false);
        let first = [json!({"id": "1", "text": "a"}), json!({"id": "2", "text": "b"})];
        let baseline = snapshot(&rules, "m", "id", &first, &HashMap::new(), None, true);
        assert!(baseline.changes.is_empty(), "the first poll reports nothing");
        let known = remembered(&baseline);
        assert_eq!(known.len(), 2);
        let second = [
            json!({"id": "2", "text": "B"}),
            json!({"id": "3", "text": "c"}),
            json!({"id": "3", "text": "c"}),
        ];
        let outcome = snapshot(&rules, "m", "id", &second, &known, None, false);
        assert_eq!(
            types(&outcome),
            [
                ("2".to_string(), EventType::Updated),
                ("3".to_string(), EventType::Created)
            ]
        );
        assert_eq!(outcome.vanished, ["1"]);
        let unchanged = snapshot(&rules, "m", "id", &first, &known, None, false);
        assert!(unchanged.changes.is_empty() && unchanged.vanished.is_empty());
    }

    #[test]
    fn objects_sliding_out_of_the_window_are_not_deleted() {
        let rules = snapshot_rules(true);
        let known = HashMap::from([
            (
                "old".to_string(),
                KnownObject {
                    fingerprint: "x".into(),
                    window_at: Some(at("2026-01-01T08:00:00Z")),
                },
            ),
            (
                "gone".to_string(),
                KnownObject {
                    fingerprint: "y".into(),
                    window_at: Some(at("2026-01-01T10:30:00Z")),
                },
            ),
        ]);
        let window = Some((at("2026-01-01T09:00:00Z"), at("2026-01-01T11:00:00Z")));
        let outcome = snapshot(&rules, "m", "id", &[], &known, window, false);
        assert_eq!(outcome.vanished, ["gone"]);
        assert_eq!(
            outcome.remember,
            [ObjectChange::Forget {
                resource: "m".into(),
                id: "old".into()
            }]
        );
    }

    #[test]
    fn fingerprints_ignore_key_order() {
        assert_eq!(
            fingerprint(&json!({"a": 1, "b": 2})),
            fingerprint(&json!({"b": 2, "a": 1}))
        );
        assert_ne!(fingerprint(&json!({"a": 1})), fingerprint(&json!({"a": 2})));
    }
}
