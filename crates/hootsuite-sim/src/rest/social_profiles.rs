//! `GET /v1/socialProfiles`, `/v1/me/socialProfiles` and `/v1/socialProfiles/{id}`
//! (hootsuite.md §2.6): the profiles the caller may use.

use std::sync::Arc;

use axum::Extension;
use axum::extract::{Path, State};

use super::{ApiError, ApiResult, data};
use crate::oauth::grants::Caller;
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
