//! `/v1/organizations/{organizationId}/members…` and `/v1/organizations/{organizationId}/teams`
//! (cloud-elements-hubs.md §4): an organization's members, their permissions, teams and social
//! profiles, removing a member, and listing and creating teams.
//!
//! Who may call what is decided in `access.rs`.

use std::sync::Arc;

use axum::Extension;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde::Deserialize;
use serde_json::{Value, json};

use super::access::{
    CHANGE_ORGANIZATION, CREATE_TEAM, ORGANIZATION, VIEW_MEMBERS, VIEW_PERMISSIONS, VIEW_TEAMS, about_member,
    may_view_team, not_in_organization, permitted, standing,
};
use super::{ApiError, ApiResult, data, id_list, parse_json};
use crate::clock::whole_seconds;
use crate::directory::Team;
use crate::oauth::grants::Caller;
use crate::permissions::{Manage, OrgRole, no_permissions};
use crate::state::Sim;

/// Team names are 2 to 200 characters (error 3002).
const TEAM_NAME_LENGTH: std::ops::RangeInclusive<usize> = 2..=200;

/// Every member of the organization may list its members.
pub async fn members(
    State(sim): State<Arc<Sim>>,
    Extension(caller): Extension<Caller>,
    Path(org): Path<String>,
) -> ApiResult {
    sim.with_world(|w| {
        standing(w, &caller, &org, VIEW_MEMBERS)?;
        id_list(w.directory.members_of(&org).map(|m| m.id.as_str()))
    })
}

/// Needs ORG_MANAGE_MEMBER. The organization's paying super admin cannot be removed (3301).
pub async fn remove_member(
    State(sim): State<Arc<Sim>>,
    Extension(caller): Extension<Caller>,
    Path((org, member)): Path<(String, String)>,
) -> ApiResult {
    sim.with_world(|w| {
        permitted(w, &caller, &org, Manage::Members, CHANGE_ORGANIZATION)?;
        let role = w.directory.membership(&member, &org).map(|m| m.role);
        if role.is_none() {
            return Err(not_in_organization(&member));
        }
        if role == Some(OrgRole::SuperAdmin) {
            return Err(ApiError::new(
                StatusCode::BAD_REQUEST,
                3301,
                "Payment member can't be removed from the organization",
            ));
        }
        w.directory.remove_from_organization(&org, &member);
        data(json!({}))
    })
}

pub async fn member_permissions(
    State(sim): State<Arc<Sim>>,
    Extension(caller): Extension<Caller>,
    Path((org, member)): Path<(String, String)>,
) -> ApiResult {
    sim.with_world(|w| {
        about_member(w, &caller, &org, &member, Manage::Members, VIEW_PERMISSIONS)?;
        let role = w.directory.membership(&member, &org).map(|m| m.role);
        data(role.map_or_else(no_permissions, OrgRole::to_json))
    })
}

pub async fn member_teams(
    State(sim): State<Arc<Sim>>,
    Extension(caller): Extension<Caller>,
    Path((org, member)): Path<(String, String)>,
) -> ApiResult {
    sim.with_world(|w| {
        about_member(w, &caller, &org, &member, Manage::Members, ORGANIZATION)?;
        let teams = w
            .directory
            .teams_of_member(&member)
            .filter(|t| t.organization_id == org);
        id_list(teams.map(|t| t.id.as_str()))
    })
}

/// The organization's profiles the member holds permissions on.
pub async fn member_profiles(
    State(sim): State<Arc<Sim>>,
    Extension(caller): Extension<Caller>,
    Path((org, member)): Path<(String, String)>,
) -> ApiResult {
    sim.with_world(|w| {
        about_member(w, &caller, &org, &member, Manage::Members, ORGANIZATION)?;
        let profiles = w
            .directory
            .organization_profiles(&org)
            .filter(|p| w.directory.profile_preset(&member, &p.id).is_some());
        id_list(profiles.map(|p| p.id.as_str()))
    })
}

/// A member without access to the profile gets an empty list and no preset; a profile outside
/// the organization is 404 code 4001.
pub async fn member_profile_permissions(
    State(sim): State<Arc<Sim>>,
    Extension(caller): Extension<Caller>,
    Path((org, member, profile)): Path<(String, String, String)>,
) -> ApiResult {
    sim.with_world(|w| {
        about_member(w, &caller, &org, &member, Manage::Members, VIEW_PERMISSIONS)?;
        if w.directory.organization_of_profile(&profile) != Some(org.as_str()) {
            return Err(ApiError::not_found().with_resource("socialProfile", profile));
        }
        let preset = w.directory.profile_preset(&member, &profile);
        data(preset.map_or_else(no_permissions, |p| p.to_json()))
    })
}

/// Members who may manage teams see them all; others see the teams they are in ("View details
/// for teams they are a member of").
pub async fn teams(
    State(sim): State<Arc<Sim>>,
    Extension(caller): Extension<Caller>,
    Path(org): Path<String>,
) -> ApiResult {
    sim.with_world(|w| {
        let standing = standing(w, &caller, &org, VIEW_TEAMS)?;
        let teams: Vec<Value> = w
            .directory
            .teams_of(&org)
            .filter(|t| may_view_team(standing, &caller, t))
            .map(Team::to_json)
            .collect();
        data(teams.into())
    })
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct NewTeam {
    team_name: String,
}

/// Needs ORG_MANAGE_TEAM (else 4007). The creator does not join the team.
pub async fn create_team(
    State(sim): State<Arc<Sim>>,
    Extension(caller): Extension<Caller>,
    Path(org): Path<String>,
    body: Bytes,
) -> ApiResult {
    let request: NewTeam = parse_json(&body)?;
    let name = request.team_name.trim().to_owned();
    let now = sim.clock.now();
    sim.with_world(|w| {
        permitted(w, &caller, &org, Manage::Teams, CREATE_TEAM)?;
        if !TEAM_NAME_LENGTH.contains(&name.chars().count()) {
            return Err(ApiError::new(
                StatusCode::BAD_REQUEST,
                3002,
                "Team name has to be between 2-200 characters",
            ));
        }
        if w.directory.teams_of(&org).any(|t| t.name.eq_ignore_ascii_case(&name)) {
            return Err(ApiError::new(
                StatusCode::BAD_REQUEST,
                3006,
                "Team name has to be unique in the organization",
            ));
        }
        let team = Team {
            id: w.ids.next_id(),
            organization_id: org,
            name,
            created: whole_seconds(now),
            created_by: caller.subject.member_id().map(str::to_owned),
            members: Default::default(),
            profiles: Default::default(),
        };
        let view = team.to_json();
        w.directory.add_team(team);
        data(view)
    })
}
