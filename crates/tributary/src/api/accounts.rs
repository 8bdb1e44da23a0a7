//! `/accounts/settings`: organization-wide settings, under Cloud Elements' name (its
//! accounts live inside a company; here the organization is both).

use std::collections::BTreeMap;

use axum::{Json, extract::State};
use serde_json::Value;
use utoipa_axum::{router::OpenApiRouter, routes};

use super::{
    auth::Caller,
    error::{ApiError, ErrorBody},
    extract::ApiJson,
};
use crate::{app::AppState, store::FailurePolicy};

const FAILURE_POLICY: &str = "notification.webhook.failure.policy";

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(get_settings, patch_settings))
}

async fn settings(state: &AppState, caller: &Caller) -> Result<Json<BTreeMap<&'static str, &'static str>>, ApiError> {
    let policy = state.store.failure_policy(caller.org()).await?;
    Ok(Json(BTreeMap::from([(FAILURE_POLICY, policy.as_str())])))
}

/// The organization's settings: `notification.webhook.failure.policy` is `retry` (failed
/// notifications are retried on the schedule) or `queue` (they are parked for you to pull
/// and release).
#[utoipa::path(get, path = "/accounts/settings", tag = "accounts",
    responses((status = 200, body = BTreeMap<String, String>), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
async fn get_settings(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<Json<BTreeMap<&'static str, &'static str>>, ApiError> {
    caller.require_organization("Reading organization settings")?;
    settings(&state, &caller).await
}

/// Change organization settings.
#[utoipa::path(patch, path = "/accounts/settings", tag = "accounts", request_body = BTreeMap<String, String>,
    responses((status = 200, body = BTreeMap<String, String>), (status = 400, body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 408, body = ErrorBody), (status = 415, body = ErrorBody)))]
async fn patch_settings(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(body): ApiJson<BTreeMap<String, Value>>,
) -> Result<Json<BTreeMap<&'static str, &'static str>>, ApiError> {
    caller.require_organization("Changing organization settings")?;
    let mut policy = None;
    for (key, value) in &body {
        if key != FAILURE_POLICY {
            return Err(ApiError::BadRequest(format!(
                "Unknown setting {key:?}; the settings are: {FAILURE_POLICY}."
            )));
        }
        policy = Some(value.as_str().and_then(FailurePolicy::parse).ok_or_else(|| {
            ApiError::BadRequest(format!("{FAILURE_POLICY} must be \"retry\" or \"queue\", got {value}."))
        })?);
    }
    if let Some(policy) = policy {
        state.store.set_failure_policy(caller.org(), policy).await?;
        // Deliveries read the policy through the per-instance cache.
        state.caches.clear();
    }
    settings(&state, &caller).await
}
