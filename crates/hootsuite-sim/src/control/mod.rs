//! The `/_sim` control API: JSON endpoints tests use to shape the world, inspect logs and inject
//! trouble. Not part of Hootsuite's surface and unauthenticated by design.

mod apps;
mod runtime;
mod webhooks;
mod world;

use std::sync::Arc;

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, patch, post, put};
use axum::{Json, Router};
use serde::{Deserialize, Deserializer};
use serde_json::{Value, json};

use crate::state::Sim;

/// `{"error": "…"}` with a status.
#[derive(Debug)]
pub struct ControlError(StatusCode, String);

impl ControlError {
    fn bad_request(message: impl Into<String>) -> Self {
        Self(StatusCode::BAD_REQUEST, message.into())
    }

    fn not_found(what: impl std::fmt::Display) -> Self {
        Self(StatusCode::NOT_FOUND, format!("{what} not found"))
    }

    fn conflict(message: impl Into<String>) -> Self {
        Self(StatusCode::CONFLICT, message.into())
    }
}

impl IntoResponse for ControlError {
    fn into_response(self) -> Response {
        (self.0, Json(json!({ "error": self.1 }))).into_response()
    }
}

type ControlResult = Result<Json<Value>, ControlError>;

/// For PATCH bodies: an absent field is `None`, an explicit `null` is `Some(None)`.
fn nullable<'de, D, T>(deserializer: D) -> Result<Option<Option<T>>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    Option::<T>::deserialize(deserializer).map(Some)
}

pub fn router() -> Router<Arc<Sim>> {
    Router::new()
        .route("/token-requests", get(apps::token_requests))
        .route("/apps", post(apps::create))
        .route("/apps/{client_id}", patch(apps::update))
        .route("/apps/{client_id}/ping", post(apps::ping))
        .route("/apps/{client_id}/install", post(apps::install))
        .route("/apps/{client_id}/uninstall", post(apps::uninstall))
        .route("/grants/revoke", post(apps::revoke_grants))
        .route("/organizations", post(world::create_organization))
        .route("/members", post(world::create_member))
        .route("/socialProfiles", post(world::create_social_profile))
        .route("/messages/{id}", patch(world::edit_message))
        .route("/messages/{id}/state", post(world::set_message_state))
        .route("/comments", post(world::create_comment))
        .route("/comments/{id}/state", post(world::set_comment_state))
        .route("/webhooks/deliveries", get(webhooks::deliveries))
        .route("/webhooks/urls", get(webhooks::urls))
        .route("/webhooks/flush", post(webhooks::flush))
        .route("/webhooks/ping", post(webhooks::ping))
        .route("/webhooks/secret", put(webhooks::set_secret))
        .route("/config", get(runtime::config).put(runtime::update_config))
        .route("/clock", get(runtime::clock).put(runtime::set_clock))
        .route(
            "/faults",
            get(runtime::faults)
                .post(runtime::add_fault)
                .delete(runtime::clear_faults),
        )
}
