//! Outbound webhooks (hootsuite.md §3–6): the event payloads, per-URL signing secrets and the
//! delivery log. Queueing and batching live in `outbox`, sending in `dispatcher`, and the URL
//! rules of §3.1 in `url_policy`.

pub mod dispatcher;
pub mod outbox;
pub mod url_policy;

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use hmac::{Hmac, KeyInit, Mac};
use serde::Serialize;
use serde_json::{Value, json};
use sha2::Sha256;

use crate::clock::format_millis;
use crate::comments::Comment;
use crate::directory::Subject;
use crate::messages::MessageState;
use crate::state::RecentLog;
use outbox::Outbox;

pub const MESSAGE_EVENT: &str = "com.hootsuite.messages.event.v1";
pub const COMMENT_EVENT: &str = "com.hootsuite.comments.event.v1";
pub const APP_EVENT: &str = "com.hootsuite.apps.event.v1";
pub const PING_EVENT: &str = "com.hootsuite.ping.event.v1";

/// One element of a delivered JSON array. Pings carry no `seq_no`.
#[derive(Debug, Clone, Serialize)]
pub struct Event {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub seq_no: Option<String>,
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub data: Value,
}

pub fn message_event_data(
    state: MessageState,
    organization_id: Option<&str>,
    message_id: u64,
    at: DateTime<Utc>,
) -> Value {
    json!({
        "state": state.as_str(),
        "organization": { "id": organization_id },
        "message": { "id": message_id.to_string() },
        "timestamp": format_millis(at),
    })
}

pub fn comment_event_data(comment: &Comment, at: DateTime<Utc>) -> Value {
    json!({
        "state": comment.state,
        "organization": { "id": comment.organization_id },
        "comment": { "id": comment.id },
        "timestamp": format_millis(at),
    })
}

pub fn app_event_data(state: &str, app_id: &str, target: &Subject, at: DateTime<Utc>) -> Value {
    let mut data = json!({
        "state": state,
        "app": { "id": app_id },
        "timestamp": format_millis(at),
    });
    match target {
        Subject::Member(id) => data["member"] = json!({ "id": id }),
        Subject::Organization(id) => data["organization"] = json!({ "id": id }),
    }
    data
}

/// The Inbox 2.0 scheme (hootsuite.md §4): hex HMAC-SHA256 of the raw body, keyed with the
/// hex-decoded secret.
pub fn sign(key: &[u8], body: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(key).expect("HMAC accepts keys of any length");
    mac.update(body);
    hex::encode(mac.finalize().into_bytes())
}

/// Secrets must be non-empty hex strings, like Inbox 2.0's.
pub fn check_secret(secret: &str) -> Result<(), String> {
    match hex::decode(secret) {
        Ok(bytes) if !bytes.is_empty() => Ok(()),
        _ => Err(format!("webhook secret must be a non-empty hex string, got {secret:?}")),
    }
}

/// One POST (or failed attempt) as `GET /_sim/webhooks/deliveries` shows it.
#[derive(Debug, Clone)]
pub struct Delivery {
    pub url: String,
    pub attempt: u32,
    pub status: Option<u16>,
    pub error: Option<String>,
    pub seq_nos: Vec<u64>,
    pub body: Value,
    pub signature: Option<String>,
    pub at: DateTime<Utc>,
}

impl Delivery {
    fn to_json(&self) -> Value {
        json!({
            "url": self.url,
            "attempt": self.attempt,
            "status": self.status,
            "error": self.error,
            "seqNos": self.seq_nos,
            "body": self.body,
            "signature": self.signature,
            "at": format_millis(self.at),
        })
    }
}

#[derive(Debug, Default)]
pub struct Webhooks {
    pub outbox: Outbox,
    secrets: BTreeMap<String, String>,
    deliveries: RecentLog<Delivery>,
}

impl Webhooks {
    pub fn secret(&self, url: &str) -> Option<&str> {
        self.secrets.get(url).map(String::as_str)
    }

    pub fn set_secret(&mut self, url: &str, secret: Option<String>) {
        match secret {
            Some(secret) => self.secrets.insert(url.to_owned(), secret),
            None => self.secrets.remove(url),
        };
    }

    pub fn log(&mut self, delivery: Delivery) {
        self.deliveries.push(delivery);
    }

    pub fn deliveries_json(&self) -> Value {
        self.deliveries.iter().map(Delivery::to_json).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signature_matches_inbox_reference() {
        // Independent check: HMAC-SHA256 with key 0x0b*20 over "Hi There" (RFC 4231 case 1).
        let key = hex::decode("0b".repeat(20)).unwrap();
        assert_eq!(
            sign(&key, b"Hi There"),
            "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7"
        );
        assert!(check_secret("00ff").is_ok());
        assert!(check_secret("").is_err());
        assert!(check_secret("xyz").is_err());
    }

    #[test]
    fn events_serialize_in_hootsuite_order() {
        let at = DateTime::parse_from_rfc3339("2016-07-19T21:51:32.175Z")
            .unwrap()
            .to_utc();
        let event = Event {
            seq_no: Some("1684272788542".into()),
            kind: MESSAGE_EVENT,
            data: message_event_data(MessageState::PendingApproval, Some("776781"), 4094517701, at),
        };
        let text = serde_json::to_string(&event).unwrap();
        assert!(text.starts_with(r#"{"seq_no":"1684272788542","type":"com.hootsuite.messages.event.v1","data":{"#));
        let value: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(value["data"]["message"]["id"], "4094517701");
        assert_eq!(value["data"]["organization"]["id"], "776781");
        assert_eq!(value["data"]["timestamp"], "2016-07-19T21:51:32.175Z");
        let ping = serde_json::to_string(&Event {
            seq_no: None,
            kind: PING_EVENT,
            data: json!({}),
        })
        .unwrap();
        assert_eq!(ping, r#"{"type":"com.hootsuite.ping.event.v1","data":{}}"#);
        let app = app_event_data("INSTALLED", "12345", &Subject::Member("1".into()), at);
        assert_eq!(app["member"]["id"], "1");
        assert!(app.get("organization").is_none());
    }
}
