//! `/instances`: create element instances through OAuth, read, change, re-authenticate,
//! enable, disable and delete them, and their configuration entries.
//!
//! Paths without an instance id (`PATCH /instances`, `GET /instances/configuration`, …) act
//! on the instance whose token authenticates the call, as in Cloud Elements.

use std::collections::BTreeMap;

use axum::{
    Json,
    extract::{Path, Query, RawQuery, State, rejection::QueryRejection},
};
use base64::{Engine, engine::general_purpose::STANDARD};
use chrono::SecondsFormat;
use secrecy::ExposeSecret;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::{router::OpenApiRouter, routes};

use super::{
    auth::Caller,
    elements::find_element,
    error::{ApiError, ErrorBody},
    extract::{ApiJson, ApiPath, Describe},
    paging::{Listed, PageKey, PageQuery, PageRequest},
};
use crate::{
    app::AppState,
    elements::{ConfigKeySpec, Element},
    ids::{ConfigEntryId, InstanceId},
    instances::{
        InstanceName, InstanceUpdate, NewInstanceRequest, Tags, config_entry,
        configuration::{CALLBACK_URL, ConfigInput, EVENTS_ENABLED, MASK, Mode, plain_value},
    },
    store::{InstanceQuery, InstanceRecord, StoredValue, Timestamp, from_millis, to_millis},
};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(
            create_instance,
            list_instances,
            patch_own_instance,
            put_own_instance
        ))
        .routes(routes!(create_element_instance))
        .routes(routes!(get_instance, patch_instance, put_instance, delete_instance))
        .routes(routes!(get_configuration))
        .routes(routes!(get_own_configuration))
        .routes(routes!(get_config_entry, patch_config_entry))
        .routes(routes!(get_own_config_entry, patch_own_config_entry))
        .routes(routes!(enable_instance, disable_instance))
        .routes(routes!(enable_own_instance, disable_own_instance))
}

/// Top-level fields of an instance as read from the API. A body read with GET may be sent
/// back with PUT or PATCH; these are accepted and ignored.
const READ_ONLY: &[&str] = &[
    "id",
    "token",
    "elementId",
    "valid",
    "invalidReason",
    "disabled",
    "eventsEnabled",
    "eventsNotificationCallbackUrl",
    "eventsWebhookUrl",
    "createdDate",
    "updatedDate",
    "user",
    "providerAccount",
    "tokenExpiresDate",
    "tokenRefreshedDate",
    "subscriptionActive",
    "subscriptionNote",
    "notificationSigningSecret",
    "externalAuthentication",
    "provisionInteractions",
    "maxCacheSize",
    "cacheTimeToLive",
    "cachingEnabled",
    "traceLoggingEnabled",
    "retrieveObjectsAfterInstantiation",
];

/// The body of `POST`, `PUT` and `PATCH` on instances (the seed's shape).
#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct InstanceInput {
    /// Which element: `{"key": "hootsuite"}` or `{"id": 4066}`; implied by
    /// `/elements/{keyOrId}/instances`.
    element: Option<ElementRef>,
    /// What the provider's redirect carried; `code` is the authorization code.
    provider_data: Option<ProviderData>,
    /// Configuration values by key; see `GET /elements/{keyOrId}` for the keys.
    #[schema(value_type = Object)]
    configuration: Option<Map<String, Value>>,
    /// Labels to find the instance by; an instance created without tags is tagged with its
    /// name. Cleaned like the name.
    tags: Option<Vec<String>>,
    /// Plain text: markup is stripped (its text kept) and control and format characters
    /// (bidi overrides, zero-width characters) removed.
    name: Option<String>,
    #[serde(flatten)]
    #[schema(ignore)]
    other: BTreeMap<String, Value>,
}

/// `{"key": …}` or `{"id": …}`; other fields (as in an instance read back) are ignored.
#[derive(Deserialize, ToSchema)]
pub struct ElementRef {
    key: Option<String>,
    id: Option<i64>,
}

#[derive(Deserialize, ToSchema)]
pub struct ProviderData {
    /// The authorization code from the provider's redirect; other values from the redirect
    /// (such as `state`) are accepted and ignored.
    code: Option<String>,
}

impl InstanceInput {
    fn check_fields(&self) -> Result<(), ApiError> {
        for key in self.other.keys() {
            if !READ_ONLY.contains(&key.as_str()) {
                return Err(ApiError::BadRequest(format!(
                    "Unknown field {key:?} in the instance body; it accepts element, providerData, \
                     configuration, tags and name."
                )));
            }
        }
        Ok(())
    }

    fn element_key(&self) -> Option<String> {
        let element = self.element.as_ref()?;
        element.key.clone().or_else(|| element.id.map(|id| id.to_string()))
    }

    fn code(&self) -> Result<Option<String>, ApiError> {
        match self.provider_data.as_ref().and_then(|p| p.code.clone()) {
            Some(code) if code.trim().is_empty() || code.len() > 4096 || code.chars().any(char::is_control) => {
                Err(ApiError::BadRequest(
                    "providerData.code must be the authorization code exactly as the provider sent it.".into(),
                ))
            }
            other => Ok(other),
        }
    }

    fn config(&self, element: &Element) -> Result<ConfigInput, ApiError> {
        let empty = Map::new();
        ConfigInput::parse(element, self.configuration.as_ref().unwrap_or(&empty))
            .map_err(|e| ApiError::BadRequest(format!("{e}.")))
    }

    fn tags(&self) -> Result<Option<Tags>, ApiError> {
        self.tags
            .as_deref()
            .map(Tags::parse)
            .transpose()
            .map_err(|e| ApiError::BadRequest(format!("{e}.")))
    }

    fn name(&self) -> Result<Option<InstanceName>, ApiError> {
        self.name
            .as_deref()
            .map(InstanceName::parse)
            .transpose()
            .map_err(|e| ApiError::BadRequest(format!("{e}.")))
    }

    /// Checks an update against the instance's element.
    fn into_update(self, element: &Element, mode: Mode, reauthenticate: bool) -> Result<InstanceUpdate, ApiError> {
        self.check_fields()?;
        if let Some(key) = self.element_key()
            && key != element.key
            && key != element.id.to_string()
        {
            return Err(ApiError::BadRequest(format!(
                "This instance belongs to element {}; an instance cannot move to element {key:?}.",
                element.key
            )));
        }
        let name = self.name()?;
        if mode == Mode::Replace && name.is_none() {
            return Err(ApiError::BadRequest(
                "name is required when replacing an instance with PUT.".into(),
            ));
        }
        Ok(InstanceUpdate {
            name,
            tags: match (self.tags()?, mode) {
                (None, Mode::Replace) => Some(Tags::default()),
                (tags, _) => tags,
            },
            config: self.config(element)?,
            mode,
            code: self.code()?,
            reauthenticate,
        })
    }
}

/// An instance as the API shows it. Secret configuration values are masked.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct InstanceBody {
    id: i64,
    name: String,
    /// The instance token: authenticates instance-scoped calls (`User <secret>, Element <token>`).
    token: String,
    element: ElementSummary,
    element_id: i64,
    tags: Vec<String>,
    /// False once the provider refused the instance's refresh token; re-authenticate it.
    valid: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    invalid_reason: Option<String>,
    disabled: bool,
    events_enabled: bool,
    events_notification_callback_url: Option<String>,
    /// The URL to register at the provider as its webhook URL (the Base64 of the id is
    /// already in it).
    events_webhook_url: String,
    /// Configuration values by key; secrets shown as `********`.
    configuration: BTreeMap<String, String>,
    created_date: String,
    updated_date: String,
    user: UserBody,
    /// The provider account the instance is connected to.
    #[schema(value_type = Option<Object>)]
    provider_account: Option<Value>,
    token_expires_date: Option<String>,
    token_refreshed_date: Option<String>,
    /// Whether notifications are being sent; off after retries ran out or a 410 Gone, until
    /// reactivated (`PUT /instances/{id}/events/subscription`).
    subscription_active: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    subscription_note: Option<String>,
    /// The Standard Webhooks secret (`whsec_…`) that signs notifications. Shown once, when
    /// the instance is created; rotate it with `POST /instances/{id}/events/secret`.
    #[serde(skip_serializing_if = "Option::is_none")]
    notification_signing_secret: Option<String>,
    external_authentication: &'static str,
}

#[derive(Serialize, ToSchema)]
pub struct ElementSummary {
    id: i64,
    key: String,
    name: String,
    hub: String,
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct UserBody {
    id: i64,
    email_address: String,
    first_name: String,
    last_name: String,
}

/// One configuration entry (`GET /instances/{id}/configuration`).
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ConfigEntryBody {
    id: i64,
    key: String,
    name: String,
    #[serde(rename = "type")]
    kind: String,
    /// The value as a string; `********` for secrets; null when unset.
    property_value: Option<String>,
    required: bool,
    secret: bool,
}

/// The body of `PATCH /instances/{id}/configuration/{configId}`: the entry with its new value.
#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ConfigEntryInput {
    #[schema(value_type = Option<String>)]
    property_value: Value,
    /// When given, must be the entry's key; the entry's other fields are ignored.
    key: Option<String>,
}

pub fn iso(t: chrono::DateTime<chrono::Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// A value as responses show it: secrets masked, including one still stored in clear from
/// before its key became secret.
fn shown(value: &Option<StoredValue>, spec: Option<&ConfigKeySpec>) -> Option<String> {
    match value {
        Some(StoredValue::Plain(_)) if spec.is_some_and(ConfigKeySpec::is_secret) => Some(MASK.to_string()),
        Some(StoredValue::Plain(text)) => Some(text.clone()),
        Some(StoredValue::Sealed(_)) => Some(MASK.to_string()),
        None => None,
    }
}

fn view(state: &AppState, instance: &InstanceRecord) -> Result<InstanceBody, ApiError> {
    let element = state.instances.element_of(instance)?;
    let token = state.instances.token(instance)?;
    Ok(InstanceBody {
        id: instance.id.get(),
        name: instance.name.clone(),
        token: token.expose_secret().to_string(),
        element: ElementSummary {
            id: element.id,
            key: element.key.clone(),
            name: element.name.clone(),
            hub: element.hub.clone(),
        },
        element_id: element.id,
        tags: instance.tags.clone(),
        valid: instance.valid,
        invalid_reason: instance.invalid_reason.clone(),
        disabled: instance.disabled,
        events_enabled: plain_value(&instance.config, EVENTS_ENABLED) == Some("true"),
        events_notification_callback_url: plain_value(&instance.config, CALLBACK_URL).map(str::to_owned),
        events_webhook_url: format!(
            "{}/elements/api-v2/events/{}/{}",
            state.public_url,
            element.key,
            STANDARD.encode(instance.id.to_string())
        ),
        configuration: instance
            .config
            .iter()
            .filter_map(|e| shown(&e.value, element.config_key(&e.key)).map(|v| (e.key.clone(), v)))
            .collect(),
        created_date: iso(instance.created_at),
        updated_date: iso(instance.updated_at),
        user: UserBody {
            id: instance.user.id.get(),
            email_address: instance.user.email.clone(),
            first_name: instance.user.first_name.clone(),
            last_name: instance.user.last_name.clone(),
        },
        provider_account: instance.identity.as_deref().and_then(|i| serde_json::from_str(i).ok()),
        token_expires_date: instance.token_expires_at.map(iso),
        token_refreshed_date: instance.token_refreshed_at.map(iso),
        subscription_active: instance.subscription_active,
        subscription_note: instance.subscription_note.clone(),
        notification_signing_secret: None,
        external_authentication: "none",
    })
}

fn config_view(state: &AppState, instance: &InstanceRecord) -> Result<Vec<ConfigEntryBody>, ApiError> {
    let element = state.instances.element_of(instance)?;
    Ok(instance
        .config
        .iter()
        .map(|entry| {
            let spec = element.config_key(&entry.key);
            ConfigEntryBody {
                id: entry.id.get(),
                key: entry.key.clone(),
                name: spec.map_or_else(|| entry.key.clone(), |s| s.name.clone()),
                kind: spec.map_or("TEXTFIELD_1000", |s| s.kind.ce_name()).to_string(),
                property_value: shown(&entry.value, spec),
                required: spec.is_some_and(|s| s.required),
                secret: spec.is_some_and(|s| s.is_secret()),
            }
        })
        .collect())
}

async fn create(
    state: &AppState,
    caller: &Caller,
    element_key: Option<String>,
    input: InstanceInput,
) -> Result<Json<InstanceBody>, ApiError> {
    caller.require_organization("Creating an instance")?;
    input.check_fields()?;
    let key = element_key.or_else(|| input.element_key()).ok_or_else(|| {
        ApiError::BadRequest(
            "element.key is required (e.g. {\"element\": {\"key\": \"hootsuite\"}}), or POST to /elements/{keyOrId}/instances.".into(),
        )
    })?;
    let element = find_element(state, &key)?;
    let name = input
        .name()?
        .ok_or_else(|| ApiError::BadRequest("name is required: a name for the new instance.".into()))?;
    let request = NewInstanceRequest {
        // Cloud Elements tagged an instance created without tags with its name.
        tags: input.tags()?.unwrap_or_else(|| Tags::of_name(&name)),
        name,
        config: input.config(&element)?,
        code: input.code()?,
        element,
    };
    let created = state.instances.create(&caller.user, request).await?;
    let mut body = view(state, &created.instance)?;
    body.notification_signing_secret = Some(created.signing_secret.expose_secret().to_string());
    Ok(Json(body))
}

/// Create an instance: exchange the authorization code and store the tokens.
#[utoipa::path(post, path = "/instances", tag = "instances", request_body = InstanceInput,
    responses(
        (status = 200, body = InstanceBody, description = "The new instance, with its id and token"),
        (status = 400, body = ErrorBody, description = "Bad input, or the provider refused the code (nothing stored)"),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 408, body = ErrorBody), (status = 413, body = ErrorBody), (status = 415, body = ErrorBody),
        (status = 502, body = ErrorBody, description = "The provider could not be reached (nothing stored)"),
    ))]
async fn create_instance(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(input): ApiJson<InstanceInput>,
) -> Result<Json<InstanceBody>, ApiError> {
    create(&state, &caller, None, input).await
}

/// Create an instance of the element in the path.
#[utoipa::path(post, path = "/elements/{keyOrId}/instances", tag = "instances", request_body = InstanceInput,
    params(("keyOrId" = String, Path, description = "Element key or numeric id")),
    responses(
        (status = 200, body = InstanceBody),
        (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 408, body = ErrorBody), (status = 413, body = ErrorBody), (status = 415, body = ErrorBody),
        (status = 502, body = ErrorBody),
    ))]
async fn create_element_instance(
    State(state): State<AppState>,
    caller: Caller,
    Path(key_or_id): Path<String>,
    ApiJson(input): ApiJson<InstanceInput>,
) -> Result<Json<InstanceBody>, ApiError> {
    if let Some(key) = input.element_key() {
        let in_path = find_element(&state, &key_or_id)?;
        if key != in_path.key && key != in_path.id.to_string() {
            return Err(ApiError::BadRequest(format!(
                "The body names element {key:?} but the path names {key_or_id:?}; leave element out of the body."
            )));
        }
    }
    create(&state, &caller, Some(key_or_id), input).await
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)]
pub struct ListQuery {
    /// Only instances carrying this tag (repeat as `tags[]=a&tags[]=b` for all of several).
    #[serde(rename = "tags[]")]
    #[param(rename = "tags[]")]
    tags: Option<Vec<String>>,
}

/// Where `GET /instances` is: the last instance shown, by creation time (milliseconds) and id.
#[derive(Clone, Serialize, Deserialize)]
pub struct InstanceKey(i64, InstanceId);

impl PageKey for InstanceKey {
    const LIST: &'static str = "instances";
}

impl InstanceKey {
    fn of(instance: &InstanceRecord) -> Self {
        Self(to_millis(instance.created_at), instance.id)
    }

    fn position(&self) -> Result<(Timestamp, InstanceId), ApiError> {
        let created = from_millis(self.0)
            .map_err(|_| ApiError::BadRequest("nextPage is not a page token of this list.".into()))?;
        Ok((created, self.1))
    }
}

/// List the organization's instances in creation order, a page at a time (an element token
/// sees only its own).
#[utoipa::path(get, path = "/instances", tag = "instances", params(ListQuery, PageQuery),
    responses((status = 200, body = Vec<InstanceBody>, headers(
            ("Elements-Returned-Count" = u32, description = "Instances in this page"),
            ("Elements-Next-Page-Token" = String, description = "The next page's nextPage; absent on the last page"))),
        (status = 400, body = ErrorBody), (status = 401, body = ErrorBody)))]
async fn list_instances(
    State(state): State<AppState>,
    caller: Caller,
    RawQuery(query): RawQuery,
    page: Result<Query<PageQuery>, QueryRejection>,
) -> Result<Listed<InstanceBody>, ApiError> {
    let wanted: Vec<String> = url::form_urlencoded::parse(query.unwrap_or_default().as_bytes())
        .filter(|(key, _)| key == "tags[]" || key == "tags")
        .map(|(_, value)| value.into_owned())
        .collect();
    let tags = Tags::parse(&wanted)
        .map_err(|e| ApiError::BadRequest(format!("{e}.")))?
        .into_vec();
    let page = PageRequest::<InstanceKey>::parse(page)?;
    let (org, only) = (caller.org(), caller.only_instance());
    let listed = page
        .fetch(
            |after, limit| {
                let store = state.store.clone();
                let tags = tags.clone();
                async move {
                    let query = InstanceQuery {
                        tags,
                        only,
                        after: after.as_ref().map(InstanceKey::position).transpose()?,
                        limit,
                    };
                    Ok(store.list_instances(org, &query).await?)
                }
            },
            InstanceKey::of,
        )
        .await?;
    listed.try_map(|instance| view(&state, &instance))
}

/// Get an instance.
#[utoipa::path(get, path = "/instances/{id}", tag = "instances", params(("id" = i64, Path)),
    responses((status = 200, body = InstanceBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn get_instance(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<InstanceId>,
) -> Result<Json<InstanceBody>, ApiError> {
    let id = caller.instance(Some(id))?;
    Ok(Json(view(&state, &state.instances.get(caller.org(), id).await?)?))
}

#[derive(Deserialize, IntoParams)]
#[serde(rename_all = "camelCase")]
#[into_params(parameter_in = Query)]
pub struct UpdateQuery {
    /// Re-run the code exchange with `providerData.code` from the body.
    re_authenticate: Option<bool>,
}

async fn update(
    state: &AppState,
    caller: &Caller,
    in_path: Option<InstanceId>,
    input: InstanceInput,
    mode: Mode,
    reauthenticate: bool,
) -> Result<Json<InstanceBody>, ApiError> {
    let id = caller.instance(in_path)?;
    let current = state.instances.get(caller.org(), id).await?;
    let element = state.instances.element_of(&current)?;
    let update = input.into_update(&element, mode, reauthenticate)?;
    let updated = state.instances.update(caller.org(), id, update).await?;
    Ok(Json(view(state, &updated)?))
}

fn reauth_flag(query: Result<Query<UpdateQuery>, axum::extract::rejection::QueryRejection>) -> Result<bool, ApiError> {
    let Query(query) = query.map_err(|e| {
        ApiError::BadRequest(format!(
            "Invalid query string ({}); reAuthenticate takes true or false.",
            e.body_text()
        ))
    })?;
    Ok(query.re_authenticate.unwrap_or(false))
}

/// Change some of an instance's name, tags and configuration; with `providerData.code`,
/// re-authenticate it.
#[utoipa::path(patch, path = "/instances/{id}", tag = "instances", request_body = InstanceInput, params(("id" = i64, Path)),
    responses((status = 200, body = InstanceBody), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 408, body = ErrorBody), (status = 415, body = ErrorBody), (status = 502, body = ErrorBody)))]
async fn patch_instance(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<InstanceId>,
    ApiJson(input): ApiJson<InstanceInput>,
) -> Result<Json<InstanceBody>, ApiError> {
    update(&state, &caller, Some(id), input, Mode::Merge, false).await
}

/// Change the instance of the element token (the seed's last step sets
/// `event.notification.callback.url` this way).
#[utoipa::path(patch, path = "/instances", tag = "instances", request_body = InstanceInput,
    responses((status = 200, body = InstanceBody), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 408, body = ErrorBody), (status = 415, body = ErrorBody), (status = 502, body = ErrorBody)))]
async fn patch_own_instance(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(input): ApiJson<InstanceInput>,
) -> Result<Json<InstanceBody>, ApiError> {
    update(&state, &caller, None, input, Mode::Merge, false).await
}

/// Replace an instance's name, tags and configuration (unsent keys return to their defaults;
/// `********` keeps a secret); with `providerData.code` or `?reAuthenticate=true`,
/// re-authenticate it.
#[utoipa::path(put, path = "/instances/{id}", tag = "instances", request_body = InstanceInput,
    params(("id" = i64, Path), UpdateQuery),
    responses((status = 200, body = InstanceBody), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 408, body = ErrorBody), (status = 415, body = ErrorBody), (status = 502, body = ErrorBody)))]
async fn put_instance(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<InstanceId>,
    query: Result<Query<UpdateQuery>, axum::extract::rejection::QueryRejection>,
    ApiJson(input): ApiJson<InstanceInput>,
) -> Result<Json<InstanceBody>, ApiError> {
    update(&state, &caller, Some(id), input, Mode::Replace, reauth_flag(query)?).await
}

/// Replace the instance of the element token.
#[utoipa::path(put, path = "/instances", tag = "instances", request_body = InstanceInput, params(UpdateQuery),
    responses((status = 200, body = InstanceBody), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 408, body = ErrorBody), (status = 415, body = ErrorBody), (status = 502, body = ErrorBody)))]
async fn put_own_instance(
    State(state): State<AppState>,
    caller: Caller,
    query: Result<Query<UpdateQuery>, axum::extract::rejection::QueryRejection>,
    ApiJson(input): ApiJson<InstanceInput>,
) -> Result<Json<InstanceBody>, ApiError> {
    update(&state, &caller, None, input, Mode::Replace, reauth_flag(query)?).await
}

#[derive(Serialize, ToSchema)]
pub struct DeletedBody {
    id: i64,
    message: String,
}

/// Delete an instance, its configuration and tokens; its token stops working at once.
#[utoipa::path(delete, path = "/instances/{id}", tag = "instances", params(("id" = i64, Path)),
    responses((status = 200, body = DeletedBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn delete_instance(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<InstanceId>,
) -> Result<Json<DeletedBody>, ApiError> {
    let id = caller.instance_even_disabled(Some(id))?;
    state.instances.delete(caller.org(), id).await?;
    Ok(Json(DeletedBody {
        id: id.get(),
        message: format!("Instance {id} deleted."),
    }))
}

async fn configuration(
    state: &AppState,
    caller: &Caller,
    in_path: Option<InstanceId>,
) -> Result<Listed<ConfigEntryBody>, ApiError> {
    let id = caller.instance(in_path)?;
    let instance = state.instances.get(caller.org(), id).await?;
    Ok(config_view(state, &instance)?.into_iter().collect())
}

/// List an instance's configuration entries.
#[utoipa::path(get, path = "/instances/{id}/configuration", tag = "configuration", params(("id" = i64, Path)),
    responses((status = 200, body = Vec<ConfigEntryBody>, headers(("Elements-Returned-Count" = u32, description = "Entries listed"))),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn get_configuration(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<InstanceId>,
) -> Result<Listed<ConfigEntryBody>, ApiError> {
    configuration(&state, &caller, Some(id)).await
}

/// List the configuration entries of the element token's instance.
#[utoipa::path(get, path = "/instances/configuration", tag = "configuration",
    responses((status = 200, body = Vec<ConfigEntryBody>, headers(("Elements-Returned-Count" = u32, description = "Entries listed"))),
        (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
async fn get_own_configuration(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<Listed<ConfigEntryBody>, ApiError> {
    configuration(&state, &caller, None).await
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EntryPath {
    id: InstanceId,
    config_id: ConfigEntryId,
}

impl Describe for EntryPath {
    const WHAT: &'static str = "instance id and configuration entry id (positive integers)";
}

impl Describe for ConfigEntryId {
    const WHAT: &'static str = "configuration entry id (a positive integer)";
}

async fn entry(
    state: &AppState,
    caller: &Caller,
    in_path: Option<InstanceId>,
    entry_id: ConfigEntryId,
    change: Option<ConfigEntryInput>,
) -> Result<Json<ConfigEntryBody>, ApiError> {
    let id = caller.instance(in_path)?;
    let mut instance = state.instances.get(caller.org(), id).await?;
    if let Some(change) = change {
        let key = &config_entry(&instance, entry_id)?.key;
        if let Some(given) = &change.key
            && given != key
        {
            return Err(ApiError::BadRequest(format!(
                "Configuration entry {entry_id} is {key:?}, not {given:?}; leave key out or send the entry's own."
            )));
        }
        instance = state
            .instances
            .set_config_entry(caller.org(), id, entry_id, &change.property_value)
            .await?;
    }
    config_view(state, &instance)?
        .into_iter()
        .find(|e| e.id == entry_id.get())
        .map(Json)
        .ok_or_else(|| ApiError::NotFound(format!("configuration entry {entry_id} not found on instance {id}")))
}

/// Get one configuration entry.
#[utoipa::path(get, path = "/instances/{id}/configuration/{configId}", tag = "configuration",
    params(("id" = i64, Path), ("configId" = i64, Path)),
    responses((status = 200, body = ConfigEntryBody), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn get_config_entry(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(path): ApiPath<EntryPath>,
) -> Result<Json<ConfigEntryBody>, ApiError> {
    entry(&state, &caller, Some(path.id), path.config_id, None).await
}

/// Set one configuration entry (`{"propertyValue": "…"}`).
#[utoipa::path(patch, path = "/instances/{id}/configuration/{configId}", tag = "configuration",
    params(("id" = i64, Path), ("configId" = i64, Path)), request_body = ConfigEntryInput,
    responses((status = 200, body = ConfigEntryBody), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 408, body = ErrorBody), (status = 415, body = ErrorBody)))]
async fn patch_config_entry(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(path): ApiPath<EntryPath>,
    ApiJson(change): ApiJson<ConfigEntryInput>,
) -> Result<Json<ConfigEntryBody>, ApiError> {
    entry(&state, &caller, Some(path.id), path.config_id, Some(change)).await
}

/// Get one configuration entry of the element token's instance.
#[utoipa::path(get, path = "/instances/configuration/{configId}", tag = "configuration", params(("configId" = i64, Path)),
    responses((status = 200, body = ConfigEntryBody), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn get_own_config_entry(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(config_id): ApiPath<ConfigEntryId>,
) -> Result<Json<ConfigEntryBody>, ApiError> {
    entry(&state, &caller, None, config_id, None).await
}

/// Set one configuration entry of the element token's instance.
#[utoipa::path(patch, path = "/instances/configuration/{configId}", tag = "configuration",
    params(("configId" = i64, Path)), request_body = ConfigEntryInput,
    responses((status = 200, body = ConfigEntryBody), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 408, body = ErrorBody), (status = 415, body = ErrorBody)))]
async fn patch_own_config_entry(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(config_id): ApiPath<ConfigEntryId>,
    ApiJson(change): ApiJson<ConfigEntryInput>,
) -> Result<Json<ConfigEntryBody>, ApiError> {
    entry(&state, &caller, None, config_id, Some(change)).await
}

async fn set_enabled(
    state: &AppState,
    caller: &Caller,
    in_path: Option<InstanceId>,
    enabled: bool,
) -> Result<Json<InstanceBody>, ApiError> {
    let id = caller.instance_even_disabled(in_path)?;
    let instance = state.instances.set_enabled(caller.org(), id, enabled).await?;
    Ok(Json(view(state, &instance)?))
}

/// Enable a disabled instance.
#[utoipa::path(put, path = "/instances/{id}/enabled", tag = "instances", params(("id" = i64, Path)),
    responses((status = 200, body = InstanceBody), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn enable_instance(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<InstanceId>,
) -> Result<Json<InstanceBody>, ApiError> {
    set_enabled(&state, &caller, Some(id), true).await
}

/// Disable an instance: its token is refused (403) and its events are ignored; its
/// configuration is kept.
#[utoipa::path(delete, path = "/instances/{id}/enabled", tag = "instances", params(("id" = i64, Path)),
    responses((status = 200, body = InstanceBody), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn disable_instance(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<InstanceId>,
) -> Result<Json<InstanceBody>, ApiError> {
    set_enabled(&state, &caller, Some(id), false).await
}

/// Enable the element token's instance.
#[utoipa::path(put, path = "/instances/enabled", tag = "instances",
    responses((status = 200, body = InstanceBody), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody)))]
async fn enable_own_instance(State(state): State<AppState>, caller: Caller) -> Result<Json<InstanceBody>, ApiError> {
    set_enabled(&state, &caller, None, true).await
}

/// Disable the element token's instance.
#[utoipa::path(delete, path = "/instances/enabled", tag = "instances",
    responses((status = 200, body = InstanceBody), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody)))]
async fn disable_own_instance(State(state): State<AppState>, caller: Caller) -> Result<Json<InstanceBody>, ApiError> {
    set_enabled(&state, &caller, None, false).await
}
