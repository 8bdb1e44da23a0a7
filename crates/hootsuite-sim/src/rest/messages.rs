//! `/v1/messages` (hootsuite.md §2.7–2.9): scheduling with one message per social profile, the
//! windowed cursor listing, retrieval, deletion, and approve/reject of messages pending approval.

use std::collections::HashSet;
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::{Extension, Json};
use chrono::{DateTime, TimeDelta, Utc};
use serde::Deserialize;
use serde_json::{Value, json};

use super::{ApiError, ApiResult, data, parse_json};
use crate::messages::{Cursor, ListQuery, Message, MessageState, Passthrough};
use crate::oauth::grants::Caller;
use crate::state::{Sim, World};
use crate::webhooks::url_policy;

/// Simulator-only request header: `X-Sim-Require-Approval: true` creates the messages in
/// `PENDING_APPROVAL`, as if the profile were under a prescreen (approval) workflow.
const APPROVAL_HEADER: &str = "x-sim-require-approval";

/// `endTime` may be at most 4 weeks after `startTime`.
const MAX_WINDOW: TimeDelta = TimeDelta::weeks(4);
const DEFAULT_LIMIT: usize = 50;
const MAX_LIMIT: usize = 100;

/// Hootsuite only accepts UTC times written with a trailing `Z`.
fn parse_send_time(text: &str) -> Result<DateTime<Utc>, ApiError> {
    text.ends_with('Z')
        .then(|| DateTime::parse_from_rfc3339(text).ok())
        .flatten()
        .map(|t| t.to_utc())
        .ok_or_else(|| {
            ApiError::invalid(format!(
                "scheduledSendTime {text:?} must be an ISO-8601 UTC date-time ending in 'Z'"
            ))
        })
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct NewMessage {
    text: Option<String>,
    social_profile_ids: Option<Vec<String>>,
    scheduled_send_time: Option<String>,
    webhook_urls: Option<Vec<String>>,
    tags: Option<Vec<String>>,
    targeting: Option<Value>,
    privacy: Option<Value>,
    location: Option<Value>,
    email_notification: Option<bool>,
    media_urls: Option<Vec<MediaUrl>>,
    media: Option<Value>,
    extended_info: Option<Value>,
}

#[derive(Deserialize)]
struct MediaUrl {
    url: String,
}

pub async fn create(
    State(sim): State<Arc<Sim>>,
    Extension(caller): Extension<Caller>,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult {
    let request: NewMessage = parse_json(&body)?;
    let text = request
        .text
        .filter(|t| !t.trim().is_empty())
        .ok_or_else(|| ApiError::invalid("text is required"))?;
    let mut profile_ids = request
        .social_profile_ids
        .filter(|ids| !ids.is_empty())
        .ok_or_else(|| ApiError::invalid("socialProfileIds must name at least one social profile"))?;
    let mut seen = HashSet::new();
    profile_ids.retain(|id| seen.insert(id.clone()));
    let send_time = request
        .scheduled_send_time
        .as_deref()
        .map(parse_send_time)
        .transpose()?;
    let now = sim.clock.now();
    if send_time.is_some_and(|t| t < now) {
        return Err(ApiError::invalid("scheduledSendTime must not be in the past"));
    }
    let webhook_urls = request.webhook_urls.unwrap_or_default();
    let strict = sim.with_world(|w| w.config.strict_webhook_urls);
    for url in &webhook_urls {
        url_policy::check(url, strict).await.map_err(ApiError::invalid)?;
    }
    let needs_approval = headers
        .get(APPROVAL_HEADER)
        .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"true"));
    let passthrough = Passthrough {
        targeting: request.targeting.unwrap_or_default(),
        privacy: request.privacy.unwrap_or_default(),
        location: request.location.unwrap_or_default(),
        email_notification: request.email_notification.unwrap_or_default(),
        media_urls: request
            .media_urls
            .unwrap_or_default()
            .into_iter()
            .map(|m| m.url)
            .collect(),
        media: request.media.unwrap_or_default(),
        extended_info: request.extended_info.unwrap_or_default(),
    };
    let tags = request.tags.unwrap_or_default();
    let media_ids = media_ids(&passthrough.media)?;
    sim.with_world(|w| {
        if let Some(hidden) = profile_ids
            .iter()
            .find(|id| !w.directory.can_see_profile(&caller.subject, id))
        {
            return Err(ApiError::new(
                StatusCode::BAD_REQUEST,
                40001,
                format!("Social profile {hidden} isn't owned by the member or their organization"),
            )
            .with_resource("socialProfile", hidden.clone()));
        }
        for id in &media_ids {
            let item = w.media.owned_by(id, &caller.subject.account_key()).ok_or_else(|| {
                ApiError::invalid(format!("media {id} does not exist")).with_resource("media", id.clone())
            })?;
            if !item.is_ready() {
                return Err(ApiError::new(
                    StatusCode::BAD_REQUEST,
                    40021,
                    "Uploaded media is not yet ready to be used (further processing required)",
                )
                .with_resource("media", id.clone()));
            }
        }
        let (state, sequence_number, scheduled) = if needs_approval {
            (MessageState::PendingApproval, Some(1), send_time)
        } else {
            (MessageState::Scheduled, None, Some(send_time.unwrap_or(now)))
        };
        let author = caller.subject.member_id().map(str::to_owned);
        let mut created = Vec::with_capacity(profile_ids.len());
        for profile in profile_ids {
            let id = w.ids.next_number();
            w.messages.insert(Message {
                id,
                state,
                text: text.clone(),
                organization_id: w.directory.organization_of_profile(&profile).map(str::to_owned),
                social_profile_id: profile,
                scheduled_send_time: scheduled,
                webhook_urls: webhook_urls.clone(),
                tags: tags.clone(),
                passthrough: passthrough.clone(),
                post_id: None,
                post_url: None,
                created_by: author.clone(),
                last_updated_by: author.clone(),
                sequence_number,
            });
            w.announce_message(id, state, now);
            created.push(id);
        }
        let messages: Vec<Value> = created
            .into_iter()
            .filter_map(|id| w.messages.live(id).map(Message::to_json))
            .collect();
        data(messages.into())
    })
}

/// The ids of `media` (`[{id, videoOptions?}]`, Swagger `Message.media`); anything else is 4000.
fn media_ids(media: &Value) -> Result<Vec<String>, ApiError> {
    let invalid = || ApiError::invalid("media must be a list of objects with a string id");
    match media {
        Value::Null => Ok(Vec::new()),
        Value::Array(items) => items
            .iter()
            .map(|item| item["id"].as_str().map(str::to_owned).ok_or_else(invalid))
            .collect(),
        _ => Err(invalid()),
    }
}

fn parse_list_query(raw: &str) -> Result<ListQuery, ApiError> {
    let (mut start, mut end, mut state, mut limit, mut cursor, mut include) = (None, None, None, None, None, None);
    let mut profile_ids = Vec::new();
    for (key, value) in url::form_urlencoded::parse(raw.as_bytes()) {
        let value = value.into_owned();
        match key.as_ref() {
            "startTime" => start = Some(value),
            "endTime" => end = Some(value),
            "state" => state = Some(value),
            "socialProfileIds" => profile_ids.push(value),
            "limit" => limit = Some(value),
            "cursor" => cursor = Some(value),
            "includeUnscheduledReviewMsgs" => include = Some(value),
            _ => {}
        }
    }
    let time = |name: &str, value: Option<String>| {
        let value = value.ok_or_else(|| ApiError::invalid(format!("{name} is required")))?;
        DateTime::parse_from_rfc3339(&value)
            .map(|t| t.to_utc())
            .map_err(|_| ApiError::invalid(format!("{name} {value:?} is not an ISO-8601 date-time")))
    };
    let (start, end) = (time("startTime", start)?, time("endTime", end)?);
    if end < start {
        return Err(ApiError::invalid("endTime must not be before startTime"));
    }
    if end - start > MAX_WINDOW {
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            40020,
            "Specified date range is too large: endTime must be at most 4 weeks after startTime",
        ));
    }
    let state = state
        .map(|name| {
            MessageState::parse(&name)
                .filter(|s| s.is_list_filter())
                .ok_or_else(|| {
                    ApiError::new(
                        StatusCode::BAD_REQUEST,
                        40019,
                        format!("Message state filter not supported: {name}"),
                    )
                })
        })
        .transpose()?;
    let limit = match limit {
        None => DEFAULT_LIMIT,
        Some(text) => text
            .parse()
            .ok()
            .filter(|n| (1..=MAX_LIMIT).contains(n))
            .ok_or_else(|| ApiError::invalid(format!("limit must be between 1 and {MAX_LIMIT}")))?,
    };
    let cursor = cursor
        .map(|text| {
            Cursor::parse(&text).ok_or_else(|| ApiError::new(StatusCode::BAD_REQUEST, 3020, "Invalid cursor format"))
        })
        .transpose()?;
    let include_unscheduled = match include.as_deref() {
        None | Some("false") => false,
        Some("true") => true,
        Some(_) => {
            return Err(ApiError::new(
                StatusCode::BAD_REQUEST,
                40022,
                "Invalid boolean for includeUnscheduledReviewMsgs flag",
            ));
        }
    };
    Ok(ListQuery {
        start,
        end,
        state,
        profile_ids,
        include_unscheduled,
        limit,
        cursor,
    })
}

pub async fn list(
    State(sim): State<Arc<Sim>>,
    Extension(caller): Extension<Caller>,
    RawQuery(raw): RawQuery,
) -> ApiResult {
    let query = parse_list_query(raw.as_deref().unwrap_or_default())?;
    sim.with_world(|w| {
        let page = w.messages.list(&query, |m| {
            w.directory.can_see_profile(&caller.subject, &m.social_profile_id)
        });
        let items: Vec<Value> = page.items.iter().map(|m| m.to_json()).collect();
        Ok(Json(json!({
            "data": items,
            "metadata": { "cursor": {
                "next": page.next.map(|c| c.to_string()),
                "previous": page.previous.map(|c| c.to_string()),
            }},
        })))
    })
}

/// A live message on a profile the caller can see; anything else is 404 code 4001.
fn visible<'w>(w: &'w World, caller: &Caller, id: &str) -> Result<&'w Message, ApiError> {
    id.parse()
        .ok()
        .and_then(|id| w.messages.live(id))
        .filter(|m| w.directory.can_see_profile(&caller.subject, &m.social_profile_id))
        .ok_or_else(|| ApiError::not_found().with_resource("message", id))
}

/// Answers with the Swagger shape, `{"data": SocialProfileMessage}`.
pub async fn get(
    State(sim): State<Arc<Sim>>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
) -> ApiResult {
    sim.with_world(|w| data(visible(w, &caller, &id)?.to_json()))
}

/// Moves a message the caller can see to `state`, recording the caller as its last editor.
fn update_state(w: &mut World, caller: &Caller, id: u64, state: MessageState, now: DateTime<Utc>) -> ApiResult {
    if let Some(message) = w.messages.get_mut(id) {
        message.last_updated_by = caller.subject.member_id().map(str::to_owned);
    }
    w.set_message_state(id, state, now);
    data(json!({}))
}

pub async fn delete(
    State(sim): State<Arc<Sim>>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
) -> ApiResult {
    let now = sim.clock.now();
    sim.with_world(|w| {
        let message = visible(w, &caller, &id)?;
        // Published (or publishing) messages live on the network now.
        if matches!(message.state, MessageState::Sent | MessageState::Submitted) {
            return Err(ApiError::new(
                StatusCode::BAD_REQUEST,
                40003,
                "You have attempted to delete a message that cannot be deleted in its current state",
            ));
        }
        let id = message.id;
        update_state(w, &caller, id, MessageState::Deleted, now)
    })
}

/// The body of approve and reject (Swagger `ApproveMessageRequest` / `RejectMessageRequest`);
/// reject's optional `reason` is accepted and not kept.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Review {
    sequence_number: u32,
    reviewer_type: String,
}

async fn review(sim: &Sim, caller: &Caller, id: &str, body: &[u8], outcome: MessageState) -> ApiResult {
    let review: Review = parse_json(body)?;
    if !matches!(review.reviewer_type.as_str(), "EXTERNAL" | "MEMBER") {
        return Err(ApiError::invalid("reviewerType must be EXTERNAL or MEMBER"));
    }
    let now = sim.clock.now();
    sim.with_world(|w| {
        let message = visible(w, caller, id)?;
        if message.state != MessageState::PendingApproval {
            return Err(ApiError::invalid(format!(
                "The message is {}, not PENDING_APPROVAL",
                message.state
            )));
        }
        // The sequence number guards against acting on an approval step that has moved on.
        if message.sequence_number != Some(review.sequence_number) {
            return Err(ApiError::invalid(format!(
                "sequenceNumber {} does not match the message's approval step {}",
                review.sequence_number,
                message.sequence_number.unwrap_or_default()
            )));
        }
        let id = message.id;
        update_state(w, caller, id, outcome, now)
    })
}

pub async fn approve(
    State(sim): State<Arc<Sim>>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
    body: Bytes,
) -> ApiResult {
    review(&sim, &caller, &id, &body, MessageState::Approved).await
}

pub async fn reject(
    State(sim): State<Arc<Sim>>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
    body: Bytes,
) -> ApiResult {
    review(&sim, &caller, &id, &body, MessageState::Rejected).await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn code(result: Result<ListQuery, ApiError>) -> u32 {
        result.unwrap_err().code
    }

    #[test]
    fn list_query_validation() {
        let ok = parse_list_query(
            "startTime=2020-01-01T00%3A00%3A00Z&endTime=2020-01-15T17%3A55%3A01Z&socialProfileIds=1&socialProfileIds=2&state=SCHEDULED&limit=5",
        )
        .unwrap();
        assert_eq!(ok.profile_ids, ["1", "2"]);
        assert_eq!(ok.limit, 5);
        assert_eq!(ok.state, Some(MessageState::Scheduled));
        let window = "startTime=2020-01-01T00:00:00Z&endTime=2020-01-02T00:00:00Z";
        assert_eq!(parse_list_query(window).unwrap().limit, 50);
        assert_eq!(code(parse_list_query("endTime=2020-01-02T00:00:00Z")), 4000);
        assert_eq!(
            code(parse_list_query("startTime=yesterday&endTime=2020-01-02T00:00:00Z")),
            4000
        );
        assert_eq!(
            code(parse_list_query(
                "startTime=2020-01-01T00:00:00Z&endTime=2020-01-29T00:00:01Z"
            )),
            40020
        );
        assert!(parse_list_query("startTime=2020-01-01T00:00:00Z&endTime=2020-01-29T00:00:00Z").is_ok());
        assert_eq!(code(parse_list_query(&format!("{window}&state=DELETED"))), 40019);
        assert_eq!(code(parse_list_query(&format!("{window}&state=bogus"))), 40019);
        assert_eq!(code(parse_list_query(&format!("{window}&limit=101"))), 4000);
        assert_eq!(code(parse_list_query(&format!("{window}&limit=0"))), 4000);
        assert_eq!(code(parse_list_query(&format!("{window}&cursor=abc"))), 3020);
        assert_eq!(
            code(parse_list_query(&format!("{window}&includeUnscheduledReviewMsgs=yes"))),
            40022
        );
    }

    #[test]
    fn send_times_must_be_utc_with_z() {
        assert!(parse_send_time("2020-01-01T14:00:00Z").is_ok());
        assert!(parse_send_time("2020-01-01T14:00:00+00:00").is_err());
        assert!(parse_send_time("2020-01-01T14:00:00").is_err());
        assert!(parse_send_time("tomorrowZ").is_err());
    }
}
