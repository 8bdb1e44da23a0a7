//! `/elements`: the providers this hub connects to, their keys and event metadata, and
//! their OAuth authorization URLs.

use axum::{
    Json,
    extract::{Path, Query, State},
};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::{router::OpenApiRouter, routes};

use super::{
    auth::Caller,
    error::{ApiError, ErrorBody},
    paging::Listed,
};
use crate::{app::AppState, elements::Element, oauth::OAuthClient};

pub fn router() -> OpenApiRouter<AppState> {
    // `/elements/keys` and `/elements/metadata` are static paths, which the router prefers
    // to `/elements/{keyOrId}`.
    OpenApiRouter::new()
        .routes(routes!(list_elements))
        .routes(routes!(list_keys))
        .routes(routes!(list_metadata))
        .routes(routes!(get_element))
        .routes(routes!(get_metadata))
        .routes(routes!(oauth_url))
}

/// An element: a provider the hub can connect instances to.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ElementBody {
    id: i64,
    key: String,
    name: String,
    hub: String,
    description: String,
    active: bool,
    authentication: AuthenticationBody,
    events: EventsBody,
    /// The configuration keys an instance accepts.
    configuration: Vec<ConfigKeyBody>,
}

#[derive(Serialize, ToSchema)]
pub struct AuthenticationBody {
    /// `oauth2`.
    #[serde(rename = "type")]
    kind: String,
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct EventsBody {
    supported: bool,
    /// `webhook` and/or `polling`.
    methods: Vec<String>,
    default_method: String,
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ConfigKeyBody {
    key: String,
    name: String,
    /// Cloud Elements' field type (`TEXTFIELD_1000`, `PASSWORD`, `BOOLEAN`, …).
    #[serde(rename = "type")]
    kind: String,
    required: bool,
    default_value: Option<String>,
    /// Secret values are encrypted at rest and masked as `********` in responses.
    secret: bool,
    description: String,
}

/// An element's event metadata, as Cloud Elements' `GET /elements/{keyOrId}/metadata`.
#[derive(Serialize, ToSchema)]
pub struct MetadataBody {
    id: i64,
    key: String,
    name: String,
    description: String,
    events: EventsBody,
}

impl From<&Element> for EventsBody {
    fn from(element: &Element) -> Self {
        Self {
            supported: true,
            methods: element.events.methods.iter().map(|m| m.as_str().to_string()).collect(),
            default_method: element.events.default_method.as_str().to_string(),
        }
    }
}

impl From<&Element> for MetadataBody {
    fn from(element: &Element) -> Self {
        Self {
            id: element.id,
            key: element.key.clone(),
            name: element.name.clone(),
            description: element.description.clone(),
            events: EventsBody::from(element),
        }
    }
}

impl From<&Element> for ElementBody {
    fn from(element: &Element) -> Self {
        Self {
            id: element.id,
            key: element.key.clone(),
            name: element.name.clone(),
            hub: element.hub.clone(),
            description: element.description.clone(),
            active: true,
            authentication: AuthenticationBody { kind: "oauth2".into() },
            events: EventsBody::from(element),
            configuration: element
                .configuration
                .iter()
                .map(|spec| ConfigKeyBody {
                    key: spec.key.clone(),
                    name: spec.name.clone(),
                    kind: spec.kind.ce_name().to_string(),
                    required: spec.required,
                    default_value: spec.default.clone(),
                    secret: spec.is_secret(),
                    description: spec.description.clone(),
                })
                .collect(),
        }
    }
}

/// The element named by key or id, or a 404 that lists the known ones.
pub fn find_element(state: &AppState, key_or_id: &str) -> Result<std::sync::Arc<Element>, ApiError> {
    state.elements.find(key_or_id).cloned().ok_or_else(|| {
        let known: Vec<&str> = state.elements.all().map(|e| e.key.as_str()).collect();
        ApiError::NotFound(format!(
            "No element with key or id {key_or_id:?}; this hub has: {}.",
            known.join(", ")
        ))
    })
}

/// List the elements.
#[utoipa::path(get, path = "/elements", tag = "elements",
    responses(
        (status = 200, body = Vec<ElementBody>, headers(("Elements-Returned-Count" = u32, description = "Elements listed"))),
        (status = 401, body = ErrorBody),
    ))]
async fn list_elements(State(state): State<AppState>, _caller: Caller) -> Listed<ElementBody> {
    state.elements.all().map(|e| ElementBody::from(e.as_ref())).collect()
}

/// List the element keys (`["hootsuite"]`).
#[utoipa::path(get, path = "/elements/keys", tag = "elements",
    responses(
        (status = 200, body = Vec<String>, headers(("Elements-Returned-Count" = u32, description = "Keys listed"))),
        (status = 401, body = ErrorBody),
    ))]
async fn list_keys(State(state): State<AppState>, _caller: Caller) -> Listed<String> {
    state.elements.all().map(|e| e.key.clone()).collect()
}

/// Every element's event metadata.
#[utoipa::path(get, path = "/elements/metadata", tag = "elements",
    responses(
        (status = 200, body = Vec<MetadataBody>, headers(("Elements-Returned-Count" = u32, description = "Elements listed"))),
        (status = 401, body = ErrorBody),
    ))]
async fn list_metadata(State(state): State<AppState>, _caller: Caller) -> Listed<MetadataBody> {
    state.elements.all().map(|e| MetadataBody::from(e.as_ref())).collect()
}

/// One element's event metadata, by key or id.
#[utoipa::path(get, path = "/elements/{keyOrId}/metadata", tag = "elements",
    params(("keyOrId" = String, Path, description = "Element key or numeric id")),
    responses(
        (status = 200, body = MetadataBody),
        (status = 401, body = ErrorBody),
        (status = 404, body = ErrorBody),
    ))]
async fn get_metadata(
    State(state): State<AppState>,
    _caller: Caller,
    Path(key_or_id): Path<String>,
) -> Result<Json<MetadataBody>, ApiError> {
    Ok(Json(MetadataBody::from(find_element(&state, &key_or_id)?.as_ref())))
}

/// Get one element by key (`hootsuite`) or id.
#[utoipa::path(get, path = "/elements/{keyOrId}", tag = "elements",
    params(("keyOrId" = String, Path, description = "Element key or numeric id")),
    responses(
        (status = 200, body = ElementBody),
        (status = 401, body = ErrorBody),
        (status = 404, body = ErrorBody),
    ))]
async fn get_element(
    State(state): State<AppState>,
    _caller: Caller,
    Path(key_or_id): Path<String>,
) -> Result<Json<ElementBody>, ApiError> {
    Ok(Json(ElementBody::from(find_element(&state, &key_or_id)?.as_ref())))
}

#[derive(Deserialize, IntoParams)]
#[serde(rename_all = "camelCase")]
#[into_params(parameter_in = Query)]
pub struct OAuthUrlQuery {
    /// Your app's OAuth client id at the provider.
    api_key: Option<String>,
    /// Your app's client secret (accepted for compatibility; not needed to build the URL).
    #[allow(dead_code)]
    api_secret: Option<String>,
    /// The redirect URI registered with the provider.
    callback_url: Option<String>,
    /// Echoed back on the redirect; Hootsuite requires at least 8 characters. Defaults to
    /// the element key, or a random value when that is too short.
    state: Option<String>,
    /// Scopes to request; defaults to the element's (`offline` for Hootsuite).
    scope: Option<String>,
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct OAuthUrlBody {
    element: String,
    /// Send the user here to approve access; the provider then redirects to the callback URL
    /// with `code` and `state`.
    oauth_url: String,
}

/// Build the provider's authorization URL.
#[utoipa::path(get, path = "/elements/{keyOrId}/oauth/url", tag = "elements",
    params(("keyOrId" = String, Path, description = "Element key or numeric id"), OAuthUrlQuery),
    responses(
        (status = 200, body = OAuthUrlBody),
        (status = 400, body = ErrorBody),
        (status = 401, body = ErrorBody),
        (status = 404, body = ErrorBody),
    ))]
async fn oauth_url(
    State(state): State<AppState>,
    _caller: Caller,
    Path(key_or_id): Path<String>,
    query: Result<Query<OAuthUrlQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<OAuthUrlBody>, ApiError> {
    let element = find_element(&state, &key_or_id)?;
    let Query(query) = query.map_err(|e| ApiError::BadRequest(format!("Invalid query string: {}", e.body_text())))?;
    let client_id = query.api_key.filter(|k| !k.trim().is_empty()).ok_or_else(|| {
        ApiError::BadRequest(format!("apiKey is required: your app's client id at {}.", element.name))
    })?;
    let callback = query.callback_url.unwrap_or_default();
    let callback = callback.trim();
    url::Url::parse(callback)
        .ok()
        .filter(|u| matches!(u.scheme(), "http" | "https") && u.has_host())
        .ok_or_else(|| {
            ApiError::BadRequest(format!(
                "callbackUrl must be the absolute http(s) redirect URI registered with {} (got {callback:?}).",
                element.name
            ))
        })?;
    let min_state = element.oauth2().min_state_length;
    let oauth_state = match query.state {
        Some(given) if given.chars().count() < min_state => {
            return Err(ApiError::BadRequest(format!(
                "state must be at least {min_state} characters: {} rejects shorter ones (got {} characters).",
                element.name,
                given.chars().count()
            )));
        }
        Some(given) => given,
        None if element.key.len() >= min_state => element.key.clone(),
        None => hex::encode(rand::random::<[u8; 8]>()),
    };
    let scope = query
        .scope
        .filter(|s| !s.trim().is_empty())
        .unwrap_or_else(|| element.oauth2().default_scope.clone());
    let url = OAuthClient::authorization_url(&element, &client_id, callback, &scope, &oauth_state);
    Ok(Json(OAuthUrlBody {
        element: element.key.clone(),
        oauth_url: url.to_string(),
    }))
}
