//! Messages (hootsuite.md §2.7–2.10): the stored SocialProfileMessage, its states, its wire
//! shape, and the windowed, cursor-paginated listing behind `GET /v1/messages`.

use std::collections::BTreeMap;
use std::fmt;

use chrono::{DateTime, Utc};
use serde_json::{Value, json};

use crate::clock::format_time;

/// Every state a message can be in or announce in a webhook event (§2.10). `APPROVED` is only
/// ever announced: an approved message is stored as `SCHEDULED`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MessageState {
    Scheduled,
    Submitted,
    PendingApproval,
    Approved,
    Sent,
    SendFailedPermanently,
    Rejected,
    Deleted,
}

impl MessageState {
    const ALL: [Self; 8] = [
        Self::Scheduled,
        Self::Submitted,
        Self::PendingApproval,
        Self::Approved,
        Self::Sent,
        Self::SendFailedPermanently,
        Self::Rejected,
        Self::Deleted,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Scheduled => "SCHEDULED",
            Self::Submitted => "SUBMITTED",
            Self::PendingApproval => "PENDING_APPROVAL",
            Self::Approved => "APPROVED",
            Self::Sent => "SENT",
            Self::SendFailedPermanently => "SEND_FAILED_PERMANENTLY",
            Self::Rejected => "REJECTED",
            Self::Deleted => "DELETED",
        }
    }

    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|s| s.as_str() == name)
    }

    /// The values `GET /v1/messages?state=` accepts (Swagger); anything else is error 40019.
    pub fn is_list_filter(self) -> bool {
        matches!(
            self,
            Self::PendingApproval | Self::Rejected | Self::Sent | Self::Scheduled | Self::SendFailedPermanently
        )
    }
}

impl fmt::Display for MessageState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One message on one social profile (a `POST /v1/messages` fans out into one per profile).
#[derive(Debug, Clone)]
pub struct Message {
    pub id: u64,
    pub state: MessageState,
    pub text: String,
    pub social_profile_id: String,
    pub organization_id: Option<String>,
    /// `None` only for a "send now" message that waits for approval: it gets a time when approved.
    pub scheduled_send_time: Option<DateTime<Utc>>,
    pub webhook_urls: Vec<String>,
    pub tags: Vec<String>,
    /// Request fields the simulator stores and echoes without interpreting them.
    pub passthrough: Passthrough,
    pub post_id: Option<String>,
    pub post_url: Option<String>,
    pub created_by: Option<String>,
    pub last_updated_by: Option<String>,
    pub sequence_number: Option<u32>,
}

#[derive(Debug, Clone, Default)]
pub struct Passthrough {
    pub targeting: Value,
    pub privacy: Value,
    pub location: Value,
    pub email_notification: bool,
    pub media_urls: Vec<String>,
    pub media: Value,
    pub extended_info: Value,
}

impl Message {
    /// Listing order and cursor position: scheduled time (unscheduled first), then id.
    fn key(&self) -> (i64, u64) {
        (self.scheduled_send_time.map_or(0, |t| t.timestamp_millis()), self.id)
    }

    /// Gives the message the id the network assigned to the post, and its public URL where
    /// Hootsuite reports one (Facebook and LinkedIn only).
    pub fn publish(&mut self, network: &str) {
        let post_id = rand::random_range(10u64.pow(17)..10u64.pow(18)).to_string();
        let site = match network {
            "FACEBOOK" | "FACEBOOKPAGE" => Some("facebook"),
            "LINKEDIN" | "LINKEDINCOMPANY" => Some("linkedin"),
            _ => None,
        };
        self.post_url = site.map(|site| format!("https://www.{site}.com/{}/posts/{post_id}", self.social_profile_id));
        self.post_id = Some(post_id);
    }

    /// The Swagger `SocialProfileMessage`.
    pub fn to_json(&self) -> Value {
        let member = |id: &Option<String>| id.as_ref().map(|id| json!({ "id": id }));
        let p = &self.passthrough;
        json!({
            "id": self.id.to_string(),
            "state": self.state.as_str(),
            "text": self.text,
            "socialProfile": { "id": self.social_profile_id, "externalURL": null },
            "scheduledSendTime": self.scheduled_send_time.map(format_time),
            "webhookUrls": self.webhook_urls,
            "tags": self.tags,
            "targeting": p.targeting,
            "privacy": p.privacy,
            "location": p.location,
            "emailNotification": p.email_notification,
            "mediaUrls": p.media_urls.iter()
                .map(|url| json!({ "thumbnailUrl": url, "url": url }))
                .collect::<Vec<_>>(),
            "media": if p.media.is_null() { json!([]) } else { p.media.clone() },
            "extendedInfo": p.extended_info,
            "postId": self.post_id,
            "postUrl": self.post_url,
            "createdByMember": member(&self.created_by),
            "lastUpdatedByMember": member(&self.last_updated_by),
            "sequenceNumber": self.sequence_number,
            "reviewers": [],
        })
    }
}

/// Position in a listing: `"<sendTimeMs>:<id>:<0 forward | 1 backward>"`, the shape of the
/// Swagger examples `1577887200000:4138476039:0` / `…:1`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cursor {
    key: (i64, u64),
    backward: bool,
}

impl Cursor {
    pub fn parse(text: &str) -> Option<Self> {
        let mut parts = text.split(':');
        let (Some(ms), Some(id), Some(dir), None) = (parts.next(), parts.next(), parts.next(), parts.next()) else {
            return None;
        };
        let backward = match dir {
            "0" => false,
            "1" => true,
            _ => return None,
        };
        Some(Self {
            key: (ms.parse().ok()?, id.parse().ok()?),
            backward,
        })
    }
}

impl fmt::Display for Cursor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}:{}", self.key.0, self.key.1, u8::from(self.backward))
    }
}

/// The filters of `GET /v1/messages`, already validated.
#[derive(Debug, Clone)]
pub struct ListQuery {
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
    pub state: Option<MessageState>,
    pub profile_ids: Vec<String>,
    pub include_unscheduled: bool,
    pub limit: usize,
    pub cursor: Option<Cursor>,
}

pub struct Page<'a> {
    pub items: Vec<&'a Message>,
    pub next: Option<Cursor>,
    pub previous: Option<Cursor>,
}

#[derive(Debug, Default)]
pub struct Messages {
    by_id: BTreeMap<u64, Message>,
}

impl Messages {
    pub fn insert(&mut self, message: Message) {
        self.by_id.insert(message.id, message);
    }

    /// Any message, deleted ones included.
    pub fn get(&self, id: u64) -> Option<&Message> {
        self.by_id.get(&id)
    }

    /// Deleted messages are gone as far as the REST API is concerned.
    pub fn live(&self, id: u64) -> Option<&Message> {
        self.get(id).filter(|m| m.state != MessageState::Deleted)
    }

    pub fn get_mut(&mut self, id: u64) -> Option<&mut Message> {
        self.by_id.get_mut(&id)
    }

    /// Ids of SCHEDULED messages whose time has come.
    pub fn due(&self, now: DateTime<Utc>) -> Vec<u64> {
        self.by_id
            .values()
            .filter(|m| m.state == MessageState::Scheduled && m.scheduled_send_time.is_some_and(|t| t <= now))
            .map(|m| m.id)
            .collect()
    }

    /// Keyset pagination over (scheduledSendTime, id): a page never skips or repeats a message
    /// as long as the matching set does not change between requests.
    pub fn list(&self, query: &ListQuery, visible: impl Fn(&Message) -> bool) -> Page<'_> {
        let mut matching: Vec<&Message> = self
            .by_id
            .values()
            .filter(|m| m.state != MessageState::Deleted && visible(m))
            .filter(|m| query.state.is_none_or(|s| m.state == s))
            .filter(|m| query.profile_ids.is_empty() || query.profile_ids.contains(&m.social_profile_id))
            .filter(|m| match m.scheduled_send_time {
                Some(t) => query.start <= t && t <= query.end,
                None => query.include_unscheduled,
            })
            .collect();
        matching.sort_by_key(|m| m.key());
        let (lo, hi) = match query.cursor {
            None => (0, query.limit.min(matching.len())),
            Some(c) if c.backward => {
                let end = matching.partition_point(|m| m.key() < c.key);
                (end.saturating_sub(query.limit), end)
            }
            Some(c) => {
                let start = matching.partition_point(|m| m.key() <= c.key);
                (start, (start + query.limit).min(matching.len()))
            }
        };
        // An empty page (only reachable when messages changed under a cursor) links nowhere.
        let next = (lo < hi && hi < matching.len()).then(|| Cursor {
            key: matching[hi - 1].key(),
            backward: false,
        });
        let previous = (0 < lo && lo < hi).then(|| Cursor {
            key: matching[lo].key(),
            backward: true,
        });
        Page {
            items: matching[lo..hi].to_vec(),
            next,
            previous,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeDelta;

    fn t0() -> DateTime<Utc> {
        DateTime::parse_from_rfc3339("2030-01-01T00:00:00Z").unwrap().to_utc()
    }

    fn message(id: u64, minutes: i64) -> Message {
        Message {
            id,
            state: MessageState::Scheduled,
            text: format!("m{id}"),
            social_profile_id: "p".into(),
            organization_id: None,
            scheduled_send_time: Some(t0() + TimeDelta::minutes(minutes)),
            webhook_urls: vec![],
            tags: vec![],
            passthrough: Passthrough::default(),
            post_id: None,
            post_url: None,
            created_by: None,
            last_updated_by: None,
            sequence_number: None,
        }
    }

    fn query(limit: usize, cursor: Option<Cursor>) -> ListQuery {
        ListQuery {
            start: t0(),
            end: t0() + TimeDelta::days(1),
            state: None,
            profile_ids: vec![],
            include_unscheduled: false,
            limit,
            cursor,
        }
    }

    #[test]
    fn state_names_round_trip() {
        for state in MessageState::ALL {
            assert_eq!(MessageState::parse(state.as_str()), Some(state));
        }
        assert_eq!(MessageState::parse("FAILED"), None);
        assert!(!MessageState::Deleted.is_list_filter());
        assert!(MessageState::SendFailedPermanently.is_list_filter());
    }

    #[test]
    fn cursor_format() {
        let c = Cursor::parse("1577887200000:4138476039:0").unwrap();
        assert_eq!(c.to_string(), "1577887200000:4138476039:0");
        assert!(Cursor::parse("1577887200000:4138476039:1").unwrap().backward);
        for bad in ["", "abc", "1:2", "1:2:3", "1:x:0", "1:2:0:0"] {
            assert_eq!(Cursor::parse(bad), None, "{bad}");
        }
    }

    #[test]
    fn pages_forward_and_back_without_gaps_or_repeats() {
        let mut store = Messages::default();
        // Several messages share a send time so ordering must fall back to the id.
        for id in 1..=23u64 {
            store.insert(message(id, (id as i64) / 3));
        }
        let mut seen = Vec::new();
        let mut cursor = None;
        let mut pages = 0;
        loop {
            let page = store.list(&query(5, cursor), |_| true);
            pages += 1;
            seen.extend(page.items.iter().map(|m| m.id));
            assert_eq!(page.previous.is_some(), pages > 1);
            match page.next {
                Some(next) => cursor = Some(next),
                None => break,
            }
        }
        assert_eq!(pages, 5);
        assert_eq!(seen, (1..=23).collect::<Vec<_>>());

        let first = store.list(&query(5, None), |_| true);
        let second = store.list(&query(5, first.next), |_| true);
        let third = store.list(&query(5, second.next), |_| true);
        let back = store.list(&query(5, third.previous), |_| true);
        let ids: Vec<_> = back.items.iter().map(|m| m.id).collect();
        assert_eq!(ids, [6, 7, 8, 9, 10]);
        assert!(back.previous.is_some() && back.next.is_some());
    }

    #[test]
    fn window_state_profile_and_deleted_filters() {
        let mut store = Messages::default();
        store.insert(message(1, -1));
        store.insert(message(2, 10));
        let mut deleted = message(3, 10);
        deleted.state = MessageState::Deleted;
        store.insert(deleted);
        let mut sent = message(4, 20);
        sent.state = MessageState::Sent;
        sent.social_profile_id = "other".into();
        store.insert(sent);
        let mut unscheduled = message(5, 0);
        unscheduled.scheduled_send_time = None;
        unscheduled.state = MessageState::PendingApproval;
        store.insert(unscheduled);

        let ids = |q: &ListQuery| -> Vec<u64> { store.list(q, |_| true).items.iter().map(|m| m.id).collect() };
        assert_eq!(ids(&query(50, None)), [2, 4]);
        let mut q = query(50, None);
        q.state = Some(MessageState::Sent);
        assert_eq!(ids(&q), [4]);
        q.state = None;
        q.profile_ids = vec!["p".into()];
        assert_eq!(ids(&q), [2]);
        q.profile_ids.clear();
        q.include_unscheduled = true;
        assert_eq!(ids(&q), [5, 2, 4]);
        assert_eq!(store.list(&query(50, None), |m| m.id != 2).items.len(), 1);
        assert!(store.live(3).is_none());
        assert_eq!(store.due(t0() + TimeDelta::minutes(15)), [1, 2]);
    }

    #[test]
    fn wire_shape_has_swagger_fields() {
        let mut m = message(4138476039, 0);
        m.created_by = Some("15240789".into());
        m.passthrough.media_urls = vec!["http://ow.ly/i/x.jpg".into()];
        let json = m.to_json();
        assert_eq!(json["id"], "4138476039");
        assert_eq!(json["scheduledSendTime"], "2030-01-01T00:00:00Z");
        assert_eq!(json["socialProfile"]["id"], "p");
        assert_eq!(json["createdByMember"]["id"], "15240789");
        assert_eq!(json["lastUpdatedByMember"], Value::Null);
        assert_eq!(json["mediaUrls"][0]["url"], "http://ow.ly/i/x.jpg");
        assert_eq!(json["sequenceNumber"], Value::Null);
    }
}
