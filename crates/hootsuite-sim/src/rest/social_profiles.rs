//! `GET /v1/socialProfiles`, `/v1/socialProfiles/{id}` and `/v1/socialProfiles/{id}/teams`
//! (hootsuite.md §2.6): the profiles the caller may use, and the teams that share one.

use std::sync::Arc;

use axum::Extension;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde_json::json;

use super::{ApiError, ApiResult, data, id_list};
use crate::oauth::grants::Caller;
use crate::permissions::Manage;
use crate::state::Sim;

pub async fn list(State(sim): State<Arc<Sim>>, Extension(caller): Extension<Caller>) -> ApiResult {
    sim.with_world(|w| {
        let profiles: Vec<_> = w
            .directory
            .visible_profiles(&caller.subject)
            .map(|p| p.to_json())
            .collect();
        data(profiles.into())
    })
}

/// Unknown and invisible profiles look the same: 404 code 4001.
pub async fn get(
    State(sim): State<Arc<Sim>>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
) -> ApiResult {
    sim.with_world(|w| {
        if !w.directory.can_see_profile(&caller.subject, &id) {
            return Err(ApiError::not_found().with_resource("socialProfile", id));
        }
        let profile = w.directory.profile(&id).ok_or_else(ApiError::not_found)?;
        data(profile.to_json())
    })
}

/// The ids of the teams sharing the profile. The Swagger asks for BASIC_USAGE on the profile or
/// ORG_MANAGE_SOCIAL_PROFILE in its organization, and documents 401 for a caller with neither:
/// a profile of the caller's organization gets that 401; any other is 404 code 4001.
pub async fn teams(
    State(sim): State<Arc<Sim>>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
) -> ApiResult {
    sim.with_world(|w| {
        let dir = &w.directory;
        let not_found = || ApiError::not_found().with_resource("socialProfile", id.clone());
        let org = dir.organization_of_profile(&id);
        let standing = org.and_then(|org| dir.standing(&caller.subject, org));
        let allowed =
            dir.can_see_profile(&caller.subject, &id) || standing.is_some_and(|s| s.may(Manage::SocialProfiles));
        match (allowed, standing, org) {
            (true, _, Some(org)) => id_list(
                dir.teams_of(org)
                    .filter(|t| t.profiles.contains(&id))
                    .map(|t| t.id.as_str()),
            ),
            // An owner outside every organization: no team can share the profile.
            (true, _, None) => data(json!([])),
            (false, Some(_), _) => Err(ApiError::new(
                StatusCode::UNAUTHORIZED,
                4009,
                "Insufficient permissions to view the social profile",
            )
            .with_resource("socialProfile", id.clone())),
            (false, None, _) => Err(not_found()),
        }
    })
}
