//! `GET /v1/me` and `GET /v1/me/organizations` (hootsuite.md §2.5): the member behind the token.

use std::sync::Arc;

use axum::Extension;
use axum::extract::State;
use axum::http::StatusCode;

use super::{ApiError, ApiResult, data};
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
        let member = member(w, &caller)?;
        let orgs: Vec<_> = w
            .directory
            .organization(&member.organization_id)
            .map(|o| o.to_json())
            .into_iter()
            .collect();
        data(orgs.into())
    })
}
