//! Hootsuite's side of the hub's flows, against the simulator: a member's consent for a grant
//! code, the demo app's tokens, and the webhook bodies Hootsuite POSTs.

use std::{fmt::Write, ops::Range};

use anyhow::Context;
use serde_json::Value;

/// The redirect URI of the tools' consents; the simulator accepts any loopback one.
pub const OAUTH_CALLBACK: &str = "http://localhost:3000/cb";

/// `member` approves the demo app on the simulator's consent form; returns the grant code.
/// The code is in the redirect, so `http` must not follow redirects.
pub async fn consent(http: &reqwest::Client, sim_url: &str, member: &str, state: &str) -> anyhow::Result<String> {
    let response = http
        .post(format!("{sim_url}/oauth2/auth"))
        .form(&[
            ("response_type", "code"),
            ("client_id", hootsuite_sim::DEFAULT_CLIENT_ID),
            ("redirect_uri", OAUTH_CALLBACK),
            ("scope", "offline"),
            ("state", state),
            ("member_id", member),
            ("decision", "approve"),
        ])
        .send()
        .await?;
    let location = response
        .headers()
        .get("location")
        .and_then(|l| l.to_str().ok())
        .with_context(|| format!("the consent answered {} without a redirect", response.status()))?;
    reqwest::Url::parse(location)?
        .query_pairs()
        .find(|(k, _)| k == "code")
        .map(|(_, v)| v.into_owned())
        .with_context(|| format!("no code in {location}"))
}

/// A token of the demo app's own, for the grant in `form` (`member_app` with a `member_id`,
/// `organization_app` with an `organization_id`).
pub async fn app_token(http: &reqwest::Client, sim_url: &str, form: &[(&str, &str)]) -> anyhow::Result<String> {
    let token: Value = http
        .post(format!("{sim_url}/oauth2/token"))
        .basic_auth(
            hootsuite_sim::DEFAULT_CLIENT_ID,
            Some(hootsuite_sim::DEFAULT_CLIENT_SECRET),
        )
        .form(form)
        .send()
        .await?
        .json()
        .await?;
    token["access_token"]
        .as_str()
        .map(str::to_owned)
        .with_context(|| format!("no access token: {token}"))
}

/// A webhook body (hootsuite.md §3.3): a JSON array of message events numbered `events`, the
/// number being both the event's `seq_no` and its message's id, so that each notification's
/// `objectId` names the event it came from. Written by hand, since the bench makes one per
/// request at full speed.
pub fn webhook_body(events: Range<u64>) -> String {
    body_with_note(events, "")
}

/// What `"note":""` adds to an event's `data`.
const NOTE_OVERHEAD: usize = r#","note":"""#.len();

/// The same events as [`webhook_body`], each with a `note` in its `data` (a field the hub
/// does not read) long enough that the body is as near `bytes` as it can be without
/// exceeding it; no note when even the plain body is that long.
pub fn webhook_body_of_size(events: Range<u64>, bytes: usize) -> String {
    let plain = webhook_body(events.clone());
    let count = (events.end - events.start).max(1) as usize;
    match (bytes.saturating_sub(plain.len()) / count).checked_sub(NOTE_OVERHEAD) {
        Some(room) if room > 0 => body_with_note(events, &"x".repeat(room)),
        _ => plain,
    }
}

fn body_with_note(events: Range<u64>, note: &str) -> String {
    let timestamp = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
    let note = if note.is_empty() {
        String::new()
    } else {
        format!(r#","note":"{note}""#)
    };
    let mut body = String::with_capacity((events.end - events.start) as usize * (190 + note.len()) + 2);
    body.push('[');
    let first = events.start;
    for n in events {
        if n != first {
            body.push(',');
        }
        write!(
            body,
            r#"{{"seq_no":"{n}","type":"com.hootsuite.messages.event.v1","data":{{"state":"SENT","organization":{{"id":"{org}"}},"message":{{"id":"{n}"}},"timestamp":"{timestamp}"{note}}}}}"#,
            org = hootsuite_sim::DEFAULT_ORGANIZATION_ID,
        )
        .expect("writing to a String cannot fail");
    }
    body.push(']');
    body
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bodies_are_hootsuite_arrays_with_unique_numbers() {
        let body: Value = serde_json::from_str(&webhook_body(41..43)).unwrap();
        let events = body.as_array().unwrap();
        assert_eq!(events.len(), 2);
        assert_eq!(events[0]["seq_no"], "41");
        assert_eq!(events[1]["data"]["message"]["id"], "42");
        assert_eq!(events[0]["type"], "com.hootsuite.messages.event.v1");
    }

    #[test]
    fn sized_bodies_come_near_their_size_without_exceeding_it() {
        let body = webhook_body_of_size(0..5000, 1 << 20);
        assert!(((1 << 20) - 5000..=1 << 20).contains(&body.len()), "{}", body.len());
        let parsed: Value = serde_json::from_str(&body).unwrap();
        assert_eq!(parsed.as_array().unwrap().len(), 5000);
        assert_eq!(parsed[4999]["seq_no"], "4999");
        assert!(!webhook_body_of_size(0..3, 10).contains("note"), "too small for a note");
    }
}
