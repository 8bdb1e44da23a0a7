//! The HTTP API: Cloud-Elements-compatible routes under `/elements/api-v2`, one module per
//! resource, each owning its router; plus operations endpoints and the OpenAPI document,
//! which is generated from the handlers' annotations so it cannot drift from the routes;
//! and the web console, served beside the API and outside its description.

pub mod accounts;
pub mod auth;
pub mod console;
pub mod elements;
pub mod error;
pub mod events;
pub mod extract;
pub mod health;
pub mod instances;
pub mod limits;
pub mod metrics;
pub mod paging;

use std::time::Duration;

use axum::{
    Router,
    extract::{DefaultBodyLimit, FromRequestParts, Request, State},
    http::{HeaderName, HeaderValue, Method, Uri, header},
    middleware::{self, Next},
    response::{IntoResponse, Response},
    routing::get,
};
use tower_http::{
    catch_panic::CatchPanicLayer,
    cors::{AllowHeaders, AllowOrigin, CorsLayer},
    sensitive_headers::SetSensitiveRequestHeadersLayer,
    set_header::SetResponseHeaderLayer,
    trace::TraceLayer,
};
use utoipa::{
    Modify, OpenApi,
    openapi::{
        ObjectBuilder, RefOr, Type,
        header::HeaderBuilder,
        security::{ApiKey, ApiKeyValue, SecurityScheme},
    },
};
use utoipa_axum::router::OpenApiRouter;

use self::{
    auth::Caller,
    error::{ApiError, REQUEST_ID},
};
use crate::app::AppState;
use crate::config::{ApiConfig, EventsConfig};

/// Where the Cloud-Elements-compatible API lives.
pub const BASE_PATH: &str = "/elements/api-v2";

const REQUEST_ID_HEADER: HeaderName = HeaderName::from_static("x-request-id");
/// Cloud Elements' name for the request id; the same value as `X-Request-Id`.
const ELEMENTS_REQUEST_ID: HeaderName = HeaderName::from_static("elements-request-id");

/// The response headers browser apps may read, exactly as Cloud Elements exposed them.
const EXPOSED_HEADERS: [HeaderName; 7] = [
    HeaderName::from_static("elements-returned-count"),
    HeaderName::from_static("elements-total-count"),
    ELEMENTS_REQUEST_ID,
    HeaderName::from_static("elements-next-page-token"),
    HeaderName::from_static("elements-trace-id"),
    HeaderName::from_static("elements-error"),
    header::CONTENT_DISPOSITION,
];

/// Whether `path` is under the API (not the console, health or metrics).
fn in_api(path: &str) -> bool {
    path.strip_prefix(BASE_PATH)
        .is_some_and(|rest| rest.is_empty() || rest.starts_with('/'))
}

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Tributary",
        description = "Self-hosted integration hub: element instances authenticated through OAuth 2.0, \
            provider events received and normalized, and delivered signed to your callback URL. \
            Compatible with the Cloud Elements platform API.",
    ),
    modifiers(&Security),
    security(("authorization" = [])),
    tags(
        (name = "elements", description = "Providers the hub connects to"),
        (name = "instances", description = "Authenticated connections to provider accounts"),
        (name = "configuration", description = "Instance configuration entries"),
        (name = "events", description = "Provider events: the receiver, the event log, replay and delivery"),
        (name = "accounts", description = "Organization settings"),
        (name = "operations", description = "Health and readiness"),
    )
)]
struct ApiDoc;

struct Security;

impl Modify for Security {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "authorization",
            SecurityScheme::ApiKey(ApiKey::Header(ApiKeyValue::with_description(
                "Authorization",
                "`User <user secret>, Organization <organization secret>` for platform calls; \
                 `User <user secret>, Element <instance token>` for calls about one instance.",
            ))),
        );
    }
}

/// The API routes and their OpenAPI description.
fn routes(events: &EventsConfig) -> (Router<AppState>, utoipa::openapi::OpenApi) {
    let api = OpenApiRouter::new()
        .merge(elements::router())
        .merge(instances::router())
        .merge(events::router())
        .merge(accounts::router())
        .merge(crate::pipeline::sources::webhook::router(events));
    OpenApiRouter::with_openapi(ApiDoc::openapi())
        .nest(BASE_PATH, api)
        .merge(health::router())
        .merge(metrics::router())
        .split_for_parts()
}

/// The OpenAPI document of the whole HTTP API.
pub fn openapi() -> utoipa::openapi::OpenApi {
    finished(routes(&EventsConfig::default()).1)
}

/// Adds the document's own route, which is served outside the annotated routers, and the
/// request id headers every response carries.
fn finished(mut openapi: utoipa::openapi::OpenApi) -> utoipa::openapi::OpenApi {
    openapi.paths.paths.insert(
        format!("{BASE_PATH}/openapi.json"),
        utoipa::openapi::path::PathItem::new(
            utoipa::openapi::HttpMethod::Get,
            utoipa::openapi::path::OperationBuilder::new()
                .summary(Some("This document"))
                .tag("operations")
                .security(utoipa::openapi::security::SecurityRequirement::default())
                .response(
                    "200",
                    utoipa::openapi::Response::new("The OpenAPI 3.1 description of the API"),
                ),
        ),
    );
    RequestIdHeaders.modify(&mut openapi);
    openapi
}

/// Documents `X-Request-Id` and `Elements-Request-Id` on every response of every operation.
struct RequestIdHeaders;

impl Modify for RequestIdHeaders {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let header = HeaderBuilder::new()
            .schema(Some(ObjectBuilder::new().schema_type(Type::String)))
            .description(Some("This request's id, as in error bodies and the hub's logs"))
            .build();
        for item in openapi.paths.paths.values_mut() {
            let operations = [
                &mut item.get,
                &mut item.put,
                &mut item.post,
                &mut item.delete,
                &mut item.patch,
            ];
            for operation in operations.into_iter().flatten() {
                for response in operation.responses.responses.values_mut() {
                    if let RefOr::T(response) = response {
                        for name in ["X-Request-Id", "Elements-Request-Id"] {
                            response.headers.insert(name.into(), RefOr::T(header.clone()));
                        }
                    }
                }
            }
        }
    }
}

/// Lets browser apps on other origins call the API with their `Authorization` header and
/// read Cloud Elements' response headers, and answers their preflights. Credentials (the
/// console's cookie) are never allowed across origins, and nothing outside the API is
/// shared: metrics and the console stay same-origin.
fn cors(config: &ApiConfig) -> CorsLayer {
    let origins = config
        .cors_origins()
        .expect("checked when the configuration was loaded");
    CorsLayer::new()
        .allow_origin(AllowOrigin::predicate(move |origin, request| {
            in_api(request.uri.path()) && origins.as_ref().is_none_or(|allowed| allowed.contains(origin))
        }))
        .allow_methods([Method::GET, Method::POST, Method::PUT, Method::PATCH, Method::DELETE])
        .allow_headers(AllowHeaders::mirror_request())
        .expose_headers(EXPOSED_HEADERS)
        .max_age(Duration::from_secs(3600))
}

/// The complete HTTP application.
pub fn app(state: AppState) -> Router {
    let (router, openapi) = routes(&state.config.events);
    let document = finished(openapi).to_json().expect("the OpenAPI document serializes");
    let max_body = state.config.api.max_body_bytes;
    let cors = cors(&state.config.api);
    router
        .route(
            &format!("{BASE_PATH}/openapi.json"),
            get(move || async move { ([(header::CONTENT_TYPE, "application/json")], document) }),
        )
        .merge(console::router())
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(DefaultBodyLimit::max(max_body))
        .layer(CatchPanicLayer::custom(|_| {
            ApiError::internal("handler panicked").into_response()
        }))
        .layer(TraceLayer::new_for_http().make_span_with(|request: &Request| {
            let id = request
                .headers()
                .get(REQUEST_ID_HEADER)
                .and_then(|v| v.to_str().ok())
                .unwrap_or("-");
            tracing::info_span!("request", method = %request.method(), path = %request.uri().path(), request_id = %id)
        }))
        .layer(SetSensitiveRequestHeadersLayer::new([
            header::AUTHORIZATION,
            header::COOKIE,
        ]))
        // Answers carry secrets (instance tokens, signing secrets, sessions' CSRF tokens) and
        // tenants' data: no cache keeps them, and no browser reads one as another type. The
        // console's static files say how they may be cached themselves.
        .layer(SetResponseHeaderLayer::overriding(
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        ))
        .layer(SetResponseHeaderLayer::if_not_present(
            header::CACHE_CONTROL,
            HeaderValue::from_static("no-store"),
        ))
        .layer(cors)
        .layer(middleware::from_fn(request_id))
        .with_state(state)
}

/// Gives every request an id (the caller's `X-Request-Id` when it is sane), available to
/// error responses and logs, and returned in the `X-Request-Id` response header and in
/// Cloud Elements' `Elements-Request-Id`.
async fn request_id(mut request: Request, next: Next) -> Response {
    let id = request
        .headers()
        .get(REQUEST_ID_HEADER)
        .and_then(|v| v.to_str().ok())
        .filter(|v| (1..=64).contains(&v.len()) && v.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-'))
        .map_or_else(|| hex::encode(rand::random::<[u8; 12]>()), str::to_owned);
    let value = HeaderValue::from_str(&id).expect("request ids are ASCII alphanumerics");
    request.headers_mut().insert(REQUEST_ID_HEADER, value.clone());
    let mut response = REQUEST_ID.scope(id, next.run(request)).await;
    response.headers_mut().insert(ELEMENTS_REQUEST_ID, value.clone());
    response.headers_mut().insert(REQUEST_ID_HEADER, value);
    response
}

/// An unknown path. Under the API the caller is authenticated first, as Cloud Elements did:
/// without valid credentials nobody learns which paths exist.
async fn not_found(State(state): State<AppState>, request: Request) -> ApiError {
    let (mut parts, _) = request.into_parts();
    if in_api(parts.uri.path())
        && let Err(refused) = Caller::from_request_parts(&mut parts, &state).await
    {
        return refused;
    }
    ApiError::NotFound(format!(
        "No such endpoint: {} {}. The API lives under {BASE_PATH}; its description is at {BASE_PATH}/openapi.json.",
        parts.method,
        parts.uri.path()
    ))
}

async fn method_not_allowed(method: Method, uri: Uri) -> ApiError {
    ApiError::MethodNotAllowed(format!(
        "{method} is not allowed on {}; see {BASE_PATH}/openapi.json for the methods it takes.",
        uri.path()
    ))
}
