//! `GET /v1/me`, `/v1/me/organizations` and `/v1/me/socialProfiles` (hootsuite.md §2.5): the
//! member behind the token.

use std::sync::Arc;

use axum::Extension;
use axum::extract::State;
use axum::http::StatusCode;

use super::{ApiError, ApiResult, data, id_list};
use crate::directory::Member;
use crate::oauth::grants::Caller;
use crate::state::{Sim, World};

/// Organization tokens have no "me"; the simulator answers 403 code 4009.
fn member<'w>(w: &'w World, caller: &Caller) -> Result<&'w Member, ApiError> {
    caller
        .subject
        .member_id()
        .and_then(|id| w.directory.member(id))
        .ok_or_else(|| {
            ApiError::new(
                StatusCode::FORBIDDEN,
                4009,
                "Insufficient organization permissions: this endpoint needs a member token",
            )
        })
}

pub async fn me(State(sim): State<Arc<Sim>>, Extension(caller): Extension<Caller>) -> ApiResult {
    sim.with_world(|w| data(member(w, &caller)?.to_json()))
}

pub async fn organizations(State(sim): State<Arc<Sim>>, Extension(caller): Extension<Caller>) -> ApiResult {
    sim.with_world(|w| {
        let orgs: Vec<_> = member(w, &caller)?
            .organization_ids()
            .filter_map(|id| w.directory.organization(id))
            .map(|o| o.to_json())
            .collect();
        data(orgs.into())
    })
}

/// The Swagger `MemberSocialProfiles`: only the ids of the profiles the member may use.
pub async fn social_profiles(State(sim): State<Arc<Sim>>, Extension(caller): Extension<Caller>) -> ApiResult {
    sim.with_world(|w| {
        member(w, &caller)?;
        id_list(w.directory.visible_profiles(&caller.subject).map(|p| p.id.as_str()))
    })
}
