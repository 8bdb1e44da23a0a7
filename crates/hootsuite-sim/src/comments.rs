//! Comments in the approvals (prescreen) workflow, hootsuite.md §3.4 (2): only what
//! `com.hootsuite.comments.event.v1` needs. Tests create and move them through `/_sim/comments`.

use serde_json::{Value, json};

/// The `reviewState` values of the Swagger `SocialProfileComment`.
pub const COMMENT_STATES: [&str; 6] = [
    "PENDING_APPROVAL",
    "EXPIRED_APPROVAL",
    "COMPLETED",
    "FAILED",
    "DELETED",
    "REJECTED",
];

#[derive(Debug, Clone)]
pub struct Comment {
    pub id: String,
    pub organization_id: String,
    pub state: &'static str,
}

impl Comment {
    pub fn to_json(&self) -> Value {
        json!({
            "id": self.id,
            "organizationId": self.organization_id,
            "state": self.state,
        })
    }
}

/// The canonical spelling of a comment state, if it is one.
pub fn parse_state(name: &str) -> Option<&'static str> {
    COMMENT_STATES.into_iter().find(|s| *s == name)
}
