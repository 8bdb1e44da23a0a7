//! Teams (cloud-elements-hubs.md §4): `GET /v1/teams/{teamId}` and, under
//! `/v1/organizations/{organizationId}/teams/{teamId}`, adding a member, the members and their
//! team permissions, and the social profiles the team shares.
//!
//! A team id that is not one of the organization's is 404 code 4001; who may see a team is
//! decided in `access.rs`.

use std::sync::Arc;

use axum::Extension;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde_json::json;

use super::access::{
    CHANGE_ORGANIZATION, Denied, VIEW_PERMISSIONS, VIEW_TEAM, VIEW_TEAM_MEMBERS, VIEW_TEAM_PROFILES, about_member,
    may_view_team, permitted, standing,
};
use super::{ApiError, ApiResult, data, id_list};
use crate::directory::Team;
use crate::oauth::grants::Caller;
use crate::permissions::{Manage, no_permissions};
use crate::state::{Sim, World};

fn org_team<'w>(w: &'w World, org: &str, team: &str) -> Result<&'w Team, ApiError> {
    w.directory
        .team(team)
        .filter(|t| t.organization_id == org)
        .ok_or_else(|| ApiError::not_found().with_resource("team", team))
}

/// One of the organization's teams that the caller may view; `denied` otherwise.
fn viewable_team<'w>(
    w: &'w World,
    caller: &Caller,
    org: &str,
    team: &str,
    denied: Denied,
) -> Result<&'w Team, ApiError> {
    let standing = standing(w, caller, org, denied)?;
    let team = org_team(w, org, team)?;
    may_view_team(standing, caller, team)
        .then_some(team)
        .ok_or_else(|| denied.error())
}

/// Needs ORG_MANAGE_TEAM (team admins are organization admins here). The member must be seated
/// in the organization (3008); adding someone already in the team changes nothing.
pub async fn add_member(
    State(sim): State<Arc<Sim>>,
    Extension(caller): Extension<Caller>,
    Path((org, team, member)): Path<(String, String, String)>,
) -> ApiResult {
    sim.with_world(|w| {
        permitted(w, &caller, &org, Manage::Teams, CHANGE_ORGANIZATION)?;
        org_team(w, &org, &team)?;
        if w.directory.membership(&member, &org).is_none() {
            return Err(ApiError::new(
                StatusCode::BAD_REQUEST,
                3008,
                "Member is not seated in the organization",
            )
            .with_resource("member", member));
        }
        if let Some(team) = w.directory.team_mut(&team) {
            team.members.insert(member);
        }
        data(json!({}))
    })
}

pub async fn members(
    State(sim): State<Arc<Sim>>,
    Extension(caller): Extension<Caller>,
    Path((org, team)): Path<(String, String)>,
) -> ApiResult {
    sim.with_world(|w| {
        let team = viewable_team(w, &caller, &org, &team, VIEW_TEAM_MEMBERS)?;
        id_list(team.members.iter().map(String::as_str))
    })
}

/// A member of the organization who is not in the team has no team permissions.
pub async fn member_permissions(
    State(sim): State<Arc<Sim>>,
    Extension(caller): Extension<Caller>,
    Path((org, team, member)): Path<(String, String, String)>,
) -> ApiResult {
    sim.with_world(|w| {
        about_member(w, &caller, &org, &member, Manage::Teams, VIEW_PERMISSIONS)?;
        let team = org_team(w, &org, &team)?;
        let role = w.directory.team_role(team, &member);
        data(role.map_or_else(no_permissions, |r| r.to_json()))
    })
}

pub async fn profiles(
    State(sim): State<Arc<Sim>>,
    Extension(caller): Extension<Caller>,
    Path((org, team)): Path<(String, String)>,
) -> ApiResult {
    sim.with_world(|w| {
        let team = viewable_team(w, &caller, &org, &team, VIEW_TEAM_PROFILES)?;
        id_list(team.profiles.iter().map(String::as_str))
    })
}

/// The Swagger documents 403 (code 4006) for a team the caller may not view, so a team of
/// another organization is a 403 too; only an unknown id is 404.
pub async fn get(
    State(sim): State<Arc<Sim>>,
    Extension(caller): Extension<Caller>,
    Path(team): Path<String>,
) -> ApiResult {
    sim.with_world(|w| {
        let org = w
            .directory
            .team(&team)
            .map(|t| t.organization_id.clone())
            .ok_or_else(|| ApiError::not_found().with_resource("team", team.clone()))?;
        data(viewable_team(w, &caller, &org, &team, VIEW_TEAM)?.to_json())
    })
}
