//! The REST API under `/v1` (hootsuite.md §2, cloud-elements-hubs.md §4): bearer-token
//! authentication, per-account rate limits, and the `{data}` / `{errors}` envelopes every
//! endpoint shares. SCIM (`scim.rs`) shares the authentication and words its refusals its own way.

mod access;
mod me;
mod media;
mod members;
mod messages;
mod organizations;
pub mod rate_limit;
pub mod scim;
mod social_profiles;
mod teams;

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::{StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post};
use axum::{Json, Router};
use serde::de::DeserializeOwned;
use serde_json::{Value, json};
use tokio::time::Instant;

use crate::faults::{self, FaultBody};
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

/// `{"data": [{"id": …}, …]}`: the Swagger's id-only collections (team ids, member ids, …).
fn id_list<'a>(ids: impl Iterator<Item = &'a str>) -> ApiResult {
    data(ids.map(|id| json!({ "id": id })).collect())
}

/// A JSON body, or 400 code 4000 saying what is wrong with it.
fn parse_json<T: DeserializeOwned>(body: &[u8]) -> Result<T, ApiError> {
    serde_json::from_slice(body).map_err(|e| ApiError::invalid(format!("Schema validation failed: {e}")))
}

/// Injected faults get the `errors` envelope with the code Hootsuite uses for the status.
impl FaultBody for ApiError {
    fn fault(status: StatusCode) -> Response {
        let (code, message) = match status.as_u16() {
            400 => (4000, "Schema validation failed"),
            401 => (1001, "Invalid access token"),
            403 => (4009, "Insufficient organization permissions"),
            404 => (4001, "Resource not found"),
            429 => (1003, "Account plan limit exceeded"),
            _ => (5000, "An unknown error occurred"),
        };
        ApiError::new(status, code, message).into_response()
    }
}

/// Why bearer authentication turned a request away.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// No token, a malformed header, or two `Authorization` headers.
    MissingToken,
    /// Unknown, expired or revoked.
    InvalidToken,
    /// The account's per-second limit or daily quota is used up.
    RateLimited,
}

/// How a surface words a [`Refusal`].
pub trait Refuse: IntoResponse {
    fn refusal(refusal: Refusal) -> Self;
}

impl Refuse for ApiError {
    fn refusal(refusal: Refusal) -> Self {
        match refusal {
            Refusal::MissingToken => Self::new(StatusCode::UNAUTHORIZED, 1000, "Missing or duplicate access token"),
            Refusal::InvalidToken => Self::new(StatusCode::UNAUTHORIZED, 1001, "Invalid access token"),
            Refusal::RateLimited => Self::new(StatusCode::TOO_MANY_REQUESTS, 1003, "Account plan limit exceeded"),
        }
    }
}

pub fn router(sim: Arc<Sim>) -> Router<Arc<Sim>> {
    Router::new()
        .route("/me", get(me::me))
        .route("/me/organizations", get(me::organizations))
        .route("/me/socialProfiles", get(me::social_profiles))
        .route("/socialProfiles", get(social_profiles::list))
        .route("/socialProfiles/{id}", get(social_profiles::get))
        .route("/socialProfiles/{id}/teams", get(social_profiles::teams))
        .route("/messages", post(messages::create).get(messages::list))
        .route("/messages/{id}", get(messages::get).delete(messages::delete))
        .route("/messages/{id}/approve", post(messages::approve))
        .route("/messages/{id}/reject", post(messages::reject))
        .route("/media", post(media::create))
        .route("/media/{id}", get(media::get))
        .route("/members", post(members::create))
        .route("/members/{member}", get(members::get))
        .route("/members/{member}/organizations", get(members::organizations))
        .route("/organizations/{org}/members", get(organizations::members))
        .route(
            "/organizations/{org}/members/{member}",
            delete(organizations::remove_member),
        )
        .route(
            "/organizations/{org}/members/{member}/permissions",
            get(organizations::member_permissions),
        )
        .route(
            "/organizations/{org}/members/{member}/teams",
            get(organizations::member_teams),
        )
        .route(
            "/organizations/{org}/members/{member}/socialProfiles",
            get(organizations::member_profiles),
        )
        .route(
            "/organizations/{org}/members/{member}/socialProfiles/{profile}/permissions",
            get(organizations::member_profile_permissions),
        )
        .route(
            "/organizations/{org}/teams",
            get(organizations::teams).post(organizations::create_team),
        )
        .route("/organizations/{org}/teams/{team}/members", get(teams::members))
        .route(
            "/organizations/{org}/teams/{team}/members/{member}",
            post(teams::add_member),
        )
        .route(
            "/organizations/{org}/teams/{team}/members/{member}/permissions",
            get(teams::member_permissions),
        )
        .route("/organizations/{org}/teams/{team}/socialProfiles", get(teams::profiles))
        .route("/teams/{team}", get(teams::get))
        .fallback(|| async { ApiError::not_found() })
        .method_not_allowed_fallback(|| async {
            ApiError::new(StatusCode::METHOD_NOT_ALLOWED, 5001, "HTTP method not permitted")
        })
        .layer(middleware::from_fn_with_state(sim.clone(), authenticate::<ApiError>))
        .layer(middleware::from_fn_with_state(sim, faults::inject::<ApiError>))
}

/// Resolves the bearer token to a [`Caller`], applies the caller's rate limit, and stamps the
/// `X-Account-*` headers. Requests without a valid token have no account, hence no headers.
pub async fn authenticate<E: Refuse>(State(sim): State<Arc<Sim>>, mut request: Request, next: Next) -> Response {
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
        return E::refusal(Refusal::MissingToken).into_response();
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
        return E::refusal(Refusal::InvalidToken).into_response();
    };
    let mut response = if verdict.allowed {
        request.extensions_mut().insert::<Caller>(caller);
        next.run(request).await
    } else {
        E::refusal(Refusal::RateLimited).into_response()
    };
    response.headers_mut().extend(verdict.headers());
    response
}
