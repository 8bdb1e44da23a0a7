//! Control of the world's contents: organizations, members, social profiles, message states
//! and silent edits, and comments in the approvals workflow.

use std::sync::Arc;

use axum::Json;
use axum::extract::{Path, State};
use chrono::DateTime;
use serde::Deserialize;

use super::{ControlError, ControlResult};
use crate::clock::whole_seconds;
use crate::comments::{self, Comment};
use crate::directory::{LANGUAGES, Member, Organization, PROFILE_TYPES, SocialProfile};
use crate::messages::MessageState;
use crate::state::{Sim, World};

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct NewOrganization {
    name: String,
}

pub async fn create_organization(State(sim): State<Arc<Sim>>, Json(body): Json<NewOrganization>) -> ControlResult {
    sim.with_world(|w| {
        let org = Organization {
            id: w.ids.next_id(),
            name: body.name,
        };
        let view = org.to_json();
        w.directory.add_organization(org);
        Ok(Json(view))
    })
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct NewMember {
    email: String,
    full_name: String,
    organization_id: String,
    company_name: Option<String>,
    bio: Option<String>,
    timezone: Option<String>,
    language: Option<String>,
}

pub async fn create_member(State(sim): State<Arc<Sim>>, Json(body): Json<NewMember>) -> ControlResult {
    let now = sim.clock.now();
    sim.with_world(|w| {
        if w.directory.organization(&body.organization_id).is_none() {
            return Err(ControlError::not_found(format!(
                "organization {}",
                body.organization_id
            )));
        }
        let language = body.language.unwrap_or_else(|| "en".to_owned());
        if !LANGUAGES.contains(&language.as_str()) {
            return Err(ControlError::bad_request(format!(
                "language must be one of {LANGUAGES:?}"
            )));
        }
        let member = Member::new(w.ids.next_id(), body.email, body.full_name, whole_seconds(now)).with_details(
            body.company_name,
            body.bio,
            body.timezone,
            Some(language),
        );
        let view = member.to_json();
        w.directory.add_member(member, &[body.organization_id]);
        Ok(Json(view))
    })
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct NewSocialProfile {
    owner_member_id: String,
    #[serde(rename = "type")]
    network: String,
    social_network_username: Option<String>,
}

pub async fn create_social_profile(State(sim): State<Arc<Sim>>, Json(body): Json<NewSocialProfile>) -> ControlResult {
    sim.with_world(|w| {
        if w.directory.member(&body.owner_member_id).is_none() {
            return Err(ControlError::not_found(format!("member {}", body.owner_member_id)));
        }
        if !PROFILE_TYPES.contains(&body.network.as_str()) {
            return Err(ControlError::bad_request(format!(
                "type must be one of {PROFILE_TYPES:?}"
            )));
        }
        let profile = SocialProfile {
            id: w.ids.next_id(),
            network: body.network,
            social_network_id: rand::random_range(10u64.pow(15)..10u64.pow(16)).to_string(),
            username: body.social_network_username,
            owner_member_id: body.owner_member_id,
        };
        let view = profile.to_json();
        w.directory.add_profile(profile);
        Ok(Json(view))
    })
}

fn message_id(w: &World, id: &str) -> Result<u64, ControlError> {
    id.parse()
        .ok()
        .filter(|&id| w.messages.live(id).is_some())
        .ok_or_else(|| ControlError::not_found(format!("message {id}")))
}

fn message_view(w: &World, id: u64) -> Json<serde_json::Value> {
    Json(w.messages.get(id).map(|m| m.to_json()).unwrap_or_default())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StateChange {
    state: String,
}

/// Moves a live message to any webhook state of hootsuite.md §2.10 and emits the event(s).
pub async fn set_message_state(
    State(sim): State<Arc<Sim>>,
    Path(id): Path<String>,
    Json(body): Json<StateChange>,
) -> ControlResult {
    let state = MessageState::parse(&body.state)
        .ok_or_else(|| ControlError::bad_request(format!("unknown message state {}", body.state)))?;
    let now = sim.clock.now();
    sim.with_world(|w| {
        let id = message_id(w, &id)?;
        w.set_message_state(id, state, now);
        Ok(message_view(w, id))
    })
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct MessageEdit {
    text: Option<String>,
    scheduled_send_time: Option<String>,
    tags: Option<Vec<String>>,
}

/// Changes a message the way an edit in Hootsuite's UI would: no webhook event is emitted.
pub async fn edit_message(
    State(sim): State<Arc<Sim>>,
    Path(id): Path<String>,
    Json(edit): Json<MessageEdit>,
) -> ControlResult {
    let send_time = edit
        .scheduled_send_time
        .map(|t| DateTime::parse_from_rfc3339(&t).map(|t| t.to_utc()))
        .transpose()
        .map_err(|e| ControlError::bad_request(format!("scheduledSendTime: {e}")))?;
    sim.with_world(|w| {
        let id = message_id(w, &id)?;
        if let Some(message) = w.messages.get_mut(id) {
            if let Some(text) = edit.text {
                message.text = text;
            }
            if let Some(time) = send_time {
                message.scheduled_send_time = Some(time);
            }
            if let Some(tags) = edit.tags {
                message.tags = tags;
            }
        }
        Ok(message_view(w, id))
    })
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct NewComment {
    organization_id: String,
    state: String,
}

fn comment_state(name: &str) -> Result<&'static str, ControlError> {
    comments::parse_state(name).ok_or_else(|| {
        ControlError::bad_request(format!("comment state must be one of {:?}", comments::COMMENT_STATES))
    })
}

pub async fn create_comment(State(sim): State<Arc<Sim>>, Json(body): Json<NewComment>) -> ControlResult {
    let state = comment_state(&body.state)?;
    let now = sim.clock.now();
    sim.with_world(|w| {
        if w.directory.organization(&body.organization_id).is_none() {
            return Err(ControlError::not_found(format!(
                "organization {}",
                body.organization_id
            )));
        }
        let comment = Comment {
            id: w.ids.next_id(),
            organization_id: body.organization_id,
            state,
        };
        let view = comment.to_json();
        w.comments.push(comment);
        w.announce_comment(w.comments.len() - 1, now);
        Ok(Json(view))
    })
}

pub async fn set_comment_state(
    State(sim): State<Arc<Sim>>,
    Path(id): Path<String>,
    Json(body): Json<StateChange>,
) -> ControlResult {
    let state = comment_state(&body.state)?;
    let now = sim.clock.now();
    sim.with_world(|w| {
        let index = w
            .comments
            .iter()
            .position(|c| c.id == id)
            .ok_or_else(|| ControlError::not_found(format!("comment {id}")))?;
        w.comments[index].state = state;
        w.announce_comment(index, now);
        Ok(Json(w.comments[index].to_json()))
    })
}
