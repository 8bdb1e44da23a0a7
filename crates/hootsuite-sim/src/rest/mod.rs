//! The REST API under `/v1` (hootsuite.md §2): bearer-token authentication, per-account rate
//! limits, and the `{data}` / `{errors}` envelopes every endpoint shares.

mod me;
mod messages;
pub mod rate_limit;
mod social_profiles;

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::{StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::{Value, json};
use tokio::time::Instant;

use crate::ids::trace_id;
use crate::oauth::grants::Caller;
use crate::state::Sim;

/// A REST error: `{"errors":[{"code","message","id","resource"?}]}` with an HTTP status.
#[derive(Debug, Clone)]
pub struct ApiError {
    status: StatusCode,
    code: u32,
    message: String,
    resource: Option<(&'static str, String)>,
}

impl ApiError {
    pub fn new(status: StatusCode, code: u32, message: impl Into<String>) -> Self {
        Self {
            status,
            code,
            message: message.into(),
            resource: None,
        }
    }

    /// 400 with code 4000, "Schema validation failed", and what exactly failed.
    pub fn invalid(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, 4000, message)
    }

    pub fn not_found() -> Self {
        Self::new(StatusCode::NOT_FOUND, 4001, "Resource not found")
    }

    pub fn with_resource(self, kind: &'static str, id: impl Into<String>) -> Self {
        Self {
            resource: Some((kind, id.into())),
            ..self
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut error = json!({ "code": self.code, "message": self.message, "id": trace_id() });
        if let Some((kind, id)) = self.resource {
            error["resource"] = json!({ "type": kind, "id": id });
        }
        (self.status, Json(json!({ "errors": [error] }))).into_response()
    }
}

pub type ApiResult = Result<Json<Value>, ApiError>;

/// `{"data": …}`.
pub fn data(value: Value) -> ApiResult {
    Ok(Json(json!({ "data": value })))
}

pub fn router(sim: Arc<Sim>) -> Router<Arc<Sim>> {
    Router::new()
        .route("/me", get(me::me))
        .route("/me/organizations", get(me::organizations))
        .route("/me/socialProfiles", get(social_profiles::list))
        .route("/socialProfiles", get(social_profiles::list))
        .route("/socialProfiles/{id}", get(social_profiles::get))
        .route("/messages", post(messages::create).get(messages::list))
        .route("/messages/{id}", get(messages::get).delete(messages::delete))
        .route("/messages/{id}/approve", post(messages::approve))
        .route("/messages/{id}/reject", post(messages::reject))
        .fallback(|| async { ApiError::not_found() })
        .method_not_allowed_fallback(|| async {
            ApiError::new(StatusCode::METHOD_NOT_ALLOWED, 5001, "HTTP method not permitted")
        })
        .layer(middleware::from_fn_with_state(sim, authenticate))
}

/// Resolves the bearer token to a [`Caller`], applies the caller's rate limit, and stamps the
/// `X-Account-*` headers. Requests without a valid token have no account, hence no headers.
async fn authenticate(State(sim): State<Arc<Sim>>, mut request: Request, next: Next) -> Response {
    let mut values = request.headers().get_all(header::AUTHORIZATION).iter();
    let token = match (values.next(), values.next()) {
        (Some(value), None) => value
            .to_str()
            .ok()
            .and_then(|v| v.strip_prefix("Bearer ").or_else(|| v.strip_prefix("bearer ")))
            .map(str::trim)
            .filter(|t| !t.is_empty())
            .map(str::to_owned),
        _ => None,
    };
    let Some(token) = token else {
        return ApiError::new(StatusCode::UNAUTHORIZED, 1000, "Missing or duplicate access token").into_response();
    };
    let now = sim.clock.now();
    let checked = sim.with_world(|w| {
        let caller = w.grants.authenticate(&token, now)?;
        let verdict = w.rate_limiter.check(
            &caller.subject.account_key(),
            Instant::now(),
            now.date_naive(),
            w.config.rate_limit_per_second,
            w.config.daily_quota,
        );
        Some((caller, verdict))
    });
    let Some((caller, verdict)) = checked else {
        return ApiError::new(StatusCode::UNAUTHORIZED, 1001, "Invalid access token").into_response();
    };
    let mut response = if verdict.allowed {
        request.extensions_mut().insert::<Caller>(caller);
        next.run(request).await
    } else {
        ApiError::new(StatusCode::TOO_MANY_REQUESTS, 1003, "Account plan limit exceeded").into_response()
    };
    response.headers_mut().extend(verdict.headers());
    response
}
