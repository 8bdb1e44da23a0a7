//! OAuth 2.0 (hootsuite.md §1): the RFC 8414 metadata document, the authorization endpoint with
//! its consent page, the token endpoint, and the Hydra-style error vocabulary they share.

mod consent;
pub mod grants;

use std::collections::HashMap;
use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Form, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{get, post};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde::Deserialize;
use serde_json::{Value, json};
use url::Url;

use self::consent::{MemberChoice, consent_page, error_page};
use self::grants::{CodeGrant, Issued, TokenRequest};
use crate::directory::Subject;
use crate::faults::{self, FaultBody};
use crate::state::{Sim, World};

/// The scopes Hootsuite knows (Swagger `scope` enum).
const SUPPORTED_SCOPES: [&str; 2] = ["offline", "analytics:read"];

/// The `error` values this simulator produces (a subset of the Swagger `OAuthError` enum, plus
/// `unknown_redirect_uri`, which Hootsuite's FAQ shows on its error page).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    InvalidRequest,
    InvalidClient,
    InvalidGrant,
    InvalidScope,
    InvalidState,
    UnsupportedGrantType,
    UnsupportedResponseType,
    AccessDenied,
    UnknownRedirectUri,
    ServerError,
    TemporarilyUnavailable,
}

impl ErrorKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::InvalidRequest => "invalid_request",
            Self::InvalidClient => "invalid_client",
            Self::InvalidGrant => "invalid_grant",
            Self::InvalidScope => "invalid_scope",
            Self::InvalidState => "invalid_state",
            Self::UnsupportedGrantType => "unsupported_grant_type",
            Self::UnsupportedResponseType => "unsupported_response_type",
            Self::AccessDenied => "access_denied",
            Self::UnknownRedirectUri => "unknown_redirect_uri",
            Self::ServerError => "server_error",
            Self::TemporarilyUnavailable => "temporarily_unavailable",
        }
    }

    /// The fixed `error_description` Hydra (fosite) sends with each error.
    fn description(self) -> &'static str {
        match self {
            Self::InvalidRequest => {
                "The request is missing a required parameter, includes an invalid parameter value, \
                 includes a parameter more than once, or is otherwise malformed."
            }
            Self::InvalidClient => {
                "Client authentication failed (e.g., unknown client, no client authentication \
                 included, or unsupported authentication method)."
            }
            Self::InvalidGrant => {
                "The provided authorization grant (e.g., authorization code, resource owner \
                 credentials) or refresh token is invalid, expired, revoked, does not match the \
                 redirection URI used in the authorization request, or was issued to another client."
            }
            Self::InvalidScope => "The requested scope is invalid, unknown, or malformed.",
            Self::InvalidState => {
                "The state is missing or has less than 8 characters and is therefore considered \
                 too weak."
            }
            Self::UnsupportedGrantType => "The authorization grant type is not supported by the authorization server.",
            Self::UnsupportedResponseType => {
                "The authorization server does not support obtaining a token using this method."
            }
            Self::AccessDenied => "The resource owner or authorization server denied the request.",
            Self::UnknownRedirectUri => "redirect_uri parameter not registered with client's redirect url(s)",
            Self::ServerError => {
                "The authorization server encountered an unexpected condition that prevented it \
                 from fulfilling the request."
            }
            Self::TemporarilyUnavailable => {
                "The authorization server is currently unable to handle the request due to a \
                 temporary overloading or maintenance of the server."
            }
        }
    }

    fn status(self) -> StatusCode {
        match self {
            Self::InvalidClient => StatusCode::UNAUTHORIZED,
            Self::AccessDenied => StatusCode::FORBIDDEN,
            Self::ServerError => StatusCode::INTERNAL_SERVER_ERROR,
            Self::TemporarilyUnavailable => StatusCode::SERVICE_UNAVAILABLE,
            _ => StatusCode::BAD_REQUEST,
        }
    }
}

/// An OAuth error: JSON `{error, error_description, error_hint, status_code}` from the token
/// endpoint, query parameters on a redirect, or an HTML page.
#[derive(Debug, Clone)]
pub struct OAuthError {
    pub kind: ErrorKind,
    pub hint: String,
    pub status: StatusCode,
}

impl OAuthError {
    pub fn new(kind: ErrorKind, hint: impl Into<String>) -> Self {
        Self {
            kind,
            hint: hint.into(),
            status: kind.status(),
        }
    }

    pub fn with_status(self, status: StatusCode) -> Self {
        Self { status, ..self }
    }

    fn redirect(&self, redirect_uri: &str, state: Option<&str>) -> Response {
        let mut pairs = vec![
            ("error", self.kind.as_str()),
            ("error_description", self.kind.description()),
            ("error_hint", self.hint.as_str()),
        ];
        pairs.extend(state.map(|s| ("state", s)));
        redirect_to(redirect_uri, &pairs)
    }

    /// The browser gets 400 whatever the error: there is no client to hand it to.
    fn page(&self) -> Response {
        (StatusCode::BAD_REQUEST, Html(error_page(self))).into_response()
    }
}

impl IntoResponse for OAuthError {
    fn into_response(self) -> Response {
        let body = json!({
            "error": self.kind.as_str(),
            "error_description": self.kind.description(),
            "error_hint": self.hint,
            "status_code": self.status.as_u16(),
        });
        (self.status, axum::Json(body)).into_response()
    }
}

fn redirect_to(redirect_uri: &str, pairs: &[(&str, &str)]) -> Response {
    match Url::parse(redirect_uri) {
        Ok(mut url) => {
            url.query_pairs_mut().extend_pairs(pairs);
            (StatusCode::FOUND, [(header::LOCATION, url.to_string())]).into_response()
        }
        Err(_) => OAuthError::new(ErrorKind::InvalidRequest, "The redirect_uri is not a URL.").page(),
    }
}

/// Injected faults get the OAuth error body (503 is `temporarily_unavailable`).
impl FaultBody for OAuthError {
    fn fault(status: StatusCode) -> Response {
        let kind = match status.as_u16() {
            503 => ErrorKind::TemporarilyUnavailable,
            s if s >= 500 => ErrorKind::ServerError,
            _ => ErrorKind::InvalidRequest,
        };
        OAuthError::new(kind, "Injected by the simulator's fault control.")
            .with_status(status)
            .into_response()
    }
}

pub fn router(sim: Arc<Sim>) -> Router<Arc<Sim>> {
    Router::new()
        .route("/.well-known/oauth-authorization-server", get(metadata))
        .route("/oauth2/auth", get(authorize_page).post(authorize_decision))
        .route("/oauth2/token", post(token))
        .layer(axum::middleware::from_fn_with_state(sim, faults::inject::<OAuthError>))
}

/// The document Hootsuite publishes, with this server's address. It advertises
/// `client_secret_post` and a registration endpoint, as the real one does, although neither works.
async fn metadata(State(sim): State<Arc<Sim>>) -> axum::Json<Value> {
    let base = &sim.base_url;
    axum::Json(json!({
        "issuer": base,
        "authorization_endpoint": format!("{base}/oauth2/auth"),
        "token_endpoint": format!("{base}/oauth2/token"),
        "registration_endpoint": format!("{base}/oauth2/register"),
        "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post", "none"],
        "scopes_supported": SUPPORTED_SCOPES,
        "response_types_supported": ["code"],
        "grant_types_supported": ["authorization_code", "refresh_token"],
        "code_challenge_methods_supported": ["S256"],
    }))
}

/// The query of `GET /oauth2/auth`, carried through the consent form as hidden fields.
#[derive(Debug, Default, Deserialize)]
pub struct AuthParams {
    response_type: Option<String>,
    client_id: Option<String>,
    redirect_uri: Option<String>,
    scope: Option<String>,
    state: Option<String>,
    code_challenge: Option<String>,
    code_challenge_method: Option<String>,
}

impl AuthParams {
    fn fields(&self) -> [(&'static str, Option<&str>); 7] {
        [
            ("response_type", self.response_type.as_deref()),
            ("client_id", self.client_id.as_deref()),
            ("redirect_uri", self.redirect_uri.as_deref()),
            ("scope", self.scope.as_deref()),
            ("state", self.state.as_deref()),
            ("code_challenge", self.code_challenge.as_deref()),
            ("code_challenge_method", self.code_challenge_method.as_deref()),
        ]
    }
}

/// An authorization request that passed validation.
struct Valid {
    app_name: String,
    client_id: String,
    redirect_uri: String,
    scopes: Vec<String>,
    state: String,
    code_challenge: Option<String>,
}

/// Why an authorization request is refused: before the redirect URI is trusted the user gets a
/// page; afterwards the client gets the error on its redirect URI.
enum Refusal {
    Page(OAuthError),
    Redirect {
        error: OAuthError,
        redirect_uri: String,
        state: Option<String>,
    },
}

impl IntoResponse for Refusal {
    fn into_response(self) -> Response {
        match self {
            Refusal::Page(error) => error.page(),
            Refusal::Redirect {
                error,
                redirect_uri,
                state,
            } => error.redirect(&redirect_uri, state.as_deref()),
        }
    }
}

fn validate(world: &World, params: &AuthParams) -> Result<Valid, Refusal> {
    let app = params
        .client_id
        .as_deref()
        .and_then(|id| world.directory.app(id))
        .ok_or_else(|| {
            Refusal::Page(OAuthError::new(
                ErrorKind::InvalidClient,
                "The requested OAuth 2.0 Client does not exist.",
            ))
        })?;
    let redirect_uri = params
        .redirect_uri
        .clone()
        .filter(|uri| app.accepts_redirect(uri))
        .ok_or_else(|| {
            Refusal::Page(OAuthError::new(
                ErrorKind::UnknownRedirectUri,
                "The redirect_uri is missing or is not registered for this client.",
            ))
        })?;
    let refuse = |kind, hint: &str| Refusal::Redirect {
        error: OAuthError::new(kind, hint),
        redirect_uri: redirect_uri.clone(),
        state: params.state.clone(),
    };
    if params.response_type.as_deref() != Some("code") {
        return Err(refuse(
            ErrorKind::UnsupportedResponseType,
            "The only supported response_type is \"code\".",
        ));
    }
    let state = params.state.clone().filter(|s| s.chars().count() >= 8).ok_or_else(|| {
        refuse(
            ErrorKind::InvalidState,
            "Request parameter 'state' must be at least be 8 characters long to ensure sufficient entropy.",
        )
    })?;
    let scopes: Vec<String> = params
        .scope
        .as_deref()
        .unwrap_or_default()
        .split_whitespace()
        .map(str::to_owned)
        .collect();
    if let Some(unknown) = scopes.iter().find(|s| !SUPPORTED_SCOPES.contains(&s.as_str())) {
        return Err(refuse(
            ErrorKind::InvalidScope,
            &format!("The requested scope \"{unknown}\" is not supported."),
        ));
    }
    match (
        params.code_challenge.as_deref(),
        params.code_challenge_method.as_deref(),
    ) {
        (None, None) | (Some(_), Some("S256")) => {}
        _ => {
            return Err(refuse(
                ErrorKind::InvalidRequest,
                "PKCE needs both code_challenge and code_challenge_method=S256.",
            ));
        }
    }
    Ok(Valid {
        app_name: app.name.clone(),
        client_id: app.client_id.clone(),
        redirect_uri,
        scopes,
        state,
        code_challenge: params.code_challenge.clone(),
    })
}

async fn authorize_page(State(sim): State<Arc<Sim>>, Query(params): Query<AuthParams>) -> Response {
    sim.with_world(|w| {
        let valid = match validate(w, &params) {
            Ok(valid) => valid,
            Err(refusal) => return refusal.into_response(),
        };
        let members: Vec<MemberChoice> = w
            .directory
            .members()
            .map(|m| {
                let org = m
                    .organization_ids()
                    .next()
                    .and_then(|id| w.directory.organization(id))
                    .map_or("", |o| o.name.as_str());
                MemberChoice {
                    id: m.id.clone(),
                    label: format!("{} <{}> ({org})", m.full_name, m.email),
                }
            })
            .collect();
        Html(consent_page(&valid.app_name, &valid.scopes, &members, &params)).into_response()
    })
}

#[derive(Debug, Deserialize)]
struct ConsentForm {
    #[serde(flatten)]
    params: AuthParams,
    member_id: Option<String>,
    decision: Option<String>,
}

/// The consent form's submission: the request is validated again (the form is client-side
/// data), then the browser goes back to the client with a code or `access_denied`.
async fn authorize_decision(State(sim): State<Arc<Sim>>, Form(form): Form<ConsentForm>) -> Response {
    let now = sim.clock.now();
    sim.with_world(|w| {
        let valid = match validate(w, &form.params) {
            Ok(valid) => valid,
            Err(refusal) => return refusal.into_response(),
        };
        match form.decision.as_deref() {
            Some("approve") => {}
            Some("deny") => {
                return OAuthError::new(ErrorKind::AccessDenied, "The resource owner denied the request.")
                    .redirect(&valid.redirect_uri, Some(&valid.state));
            }
            _ => {
                return OAuthError::new(
                    ErrorKind::InvalidRequest,
                    "The decision must be \"approve\" or \"deny\".",
                )
                .page();
            }
        }
        let Some(member) = form.member_id.as_deref().and_then(|id| w.directory.member(id)) else {
            return OAuthError::new(ErrorKind::InvalidRequest, "Choose a member to sign in as.").page();
        };
        let member_id = member.id.clone();
        w.directory.grant_member(&valid.client_id, &member_id);
        let scope = valid.scopes.join(" ");
        let code = w.grants.issue_code(
            CodeGrant {
                client_id: valid.client_id,
                member_id,
                redirect_uri: valid.redirect_uri.clone(),
                scopes: valid.scopes,
                code_challenge: valid.code_challenge,
            },
            now,
            w.config.code_ttl,
        );
        redirect_to(
            &valid.redirect_uri,
            &[("code", &code), ("scope", &scope), ("state", &valid.state)],
        )
    })
}

async fn token(State(sim): State<Arc<Sim>>, headers: HeaderMap, body: Bytes) -> Response {
    let now = sim.clock.now();
    sim.with_world(|w| {
        let mut record = TokenRequest {
            grant_type: None,
            client_id: None,
            outcome: Ok(()),
            at: now,
            refresh_token: None,
        };
        let result = token_exchange(w, &headers, &body, &mut record);
        record.outcome = result.as_ref().map(|_| ()).map_err(|e| e.kind);
        w.grants.record(record);
        match result {
            Ok(issued) => (
                [(header::CACHE_CONTROL, "no-store"), (header::PRAGMA, "no-cache")],
                axum::Json(issued.to_json()),
            )
                .into_response(),
            Err(error) => error.into_response(),
        }
    })
}

fn token_exchange(
    w: &mut World,
    headers: &HeaderMap,
    body: &[u8],
    record: &mut TokenRequest,
) -> Result<Issued, OAuthError> {
    let is_form = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|v| v.trim().eq_ignore_ascii_case("application/x-www-form-urlencoded"));
    if !is_form {
        return Err(OAuthError::new(
            ErrorKind::InvalidRequest,
            "The token endpoint only accepts application/x-www-form-urlencoded bodies.",
        ));
    }
    let form = parse_form(body)?;
    record.grant_type = form.get("grant_type").cloned();
    if record.grant_type.as_deref() == Some("refresh_token") {
        record.refresh_token = form.get("refresh_token").cloned();
    }
    let client_id = authenticate_client(w, headers, &form, record)?;
    let now = record.at;
    let ttl = w.config.access_token_ttl;
    let param = |name: &str| {
        form.get(name)
            .map(String::as_str)
            .filter(|v| !v.is_empty())
            .ok_or_else(|| {
                OAuthError::new(
                    ErrorKind::InvalidRequest,
                    format!("The \"{name}\" parameter is required for this grant type."),
                )
            })
    };
    match record.grant_type.as_deref() {
        None => Err(OAuthError::new(
            ErrorKind::InvalidRequest,
            "The \"grant_type\" parameter is missing.",
        )),
        Some("authorization_code") => {
            let (code, redirect_uri) = (param("code")?, param("redirect_uri")?);
            let verifier = form.get("code_verifier").map(String::as_str);
            w.grants
                .exchange_code(&client_id, code, redirect_uri, verifier, now, ttl)
        }
        Some("refresh_token") => w.grants.refresh(&client_id, param("refresh_token")?, now, ttl),
        Some("member_app") => {
            let member = param("member_id")?;
            if !w.directory.member_authorized(&client_id, member) {
                return Err(OAuthError::new(
                    ErrorKind::InvalidGrant,
                    format!("Member {member} has not installed or authorized this app."),
                ));
            }
            let subject = Subject::Member(member.to_owned());
            Ok(w.grants.start_chain(&client_id, subject, vec![], now, ttl))
        }
        Some("organization_app") => {
            let org = param("organization_id")?;
            if !w.directory.organization_authorized(&client_id, org) {
                return Err(OAuthError::new(
                    ErrorKind::InvalidGrant,
                    format!("Organization {org} has not installed this app."),
                ));
            }
            let subject = Subject::Organization(org.to_owned());
            Ok(w.grants.start_chain(&client_id, subject, vec![], now, ttl))
        }
        Some(other) => Err(OAuthError::new(
            ErrorKind::UnsupportedGrantType,
            format!("The grant type \"{other}\" is not supported."),
        )),
    }
}

/// RFC 6749 §3.2: parameters must not repeat.
fn parse_form(body: &[u8]) -> Result<HashMap<String, String>, OAuthError> {
    let mut form = HashMap::new();
    for (key, value) in url::form_urlencoded::parse(body) {
        if form.insert(key.to_string(), value.into_owned()).is_some() {
            return Err(OAuthError::new(
                ErrorKind::InvalidRequest,
                format!("The request parameter \"{key}\" was included more than once."),
            ));
        }
    }
    Ok(form)
}

/// HTTP Basic only: Hootsuite's Swagger says credentials in the request body are not supported.
fn authenticate_client(
    w: &World,
    headers: &HeaderMap,
    form: &HashMap<String, String>,
    record: &mut TokenRequest,
) -> Result<String, OAuthError> {
    let body_client = form.get("client_id");
    let body_credentials = || {
        OAuthError::new(
            ErrorKind::InvalidClient,
            "Including your client credentials in the request-body is not supported; use HTTP Basic authentication.",
        )
    };
    record.client_id = body_client.cloned();
    if form.contains_key("client_secret") {
        return Err(body_credentials());
    }
    let Some((client_id, secret)) = basic_credentials(headers)? else {
        return Err(match body_client {
            Some(_) => body_credentials(),
            None => OAuthError::new(
                ErrorKind::InvalidClient,
                "Client credentials are missing; send them with HTTP Basic authentication.",
            ),
        });
    };
    record.client_id = Some(client_id.clone());
    if body_client.is_some_and(|id| *id != client_id) {
        return Err(OAuthError::new(
            ErrorKind::InvalidClient,
            "The client_id in the body does not match the HTTP Basic credentials.",
        ));
    }
    match w.directory.app(&client_id) {
        Some(app) if app.client_secret == secret => Ok(client_id),
        Some(_) => Err(OAuthError::new(
            ErrorKind::InvalidClient,
            "The provided client secret did not match the registered client secret.",
        )),
        None => Err(OAuthError::new(
            ErrorKind::InvalidClient,
            "The requested OAuth 2.0 Client does not exist.",
        )),
    }
}

/// `Authorization: Basic base64(urlencode(id):urlencode(secret))` (RFC 6749 §2.3.1).
fn basic_credentials(headers: &HeaderMap) -> Result<Option<(String, String)>, OAuthError> {
    let Some(value) = headers.get(header::AUTHORIZATION) else {
        return Ok(None);
    };
    let malformed = || {
        OAuthError::new(
            ErrorKind::InvalidClient,
            "The Authorization header is not valid HTTP Basic authentication.",
        )
    };
    let encoded = value
        .to_str()
        .ok()
        .and_then(|v| v.strip_prefix("Basic ").or_else(|| v.strip_prefix("basic ")))
        .ok_or_else(malformed)?;
    let decoded = STANDARD
        .decode(encoded.trim())
        .ok()
        .and_then(|bytes| String::from_utf8(bytes).ok())
        .ok_or_else(malformed)?;
    let (id, secret) = decoded.split_once(':').ok_or_else(malformed)?;
    match (form_unescape(id), form_unescape(secret)) {
        (Some(id), Some(secret)) => Ok(Some((id, secret))),
        _ => Err(malformed()),
    }
}

/// `application/x-www-form-urlencoded` decoding of a single value (`+` is a space).
fn form_unescape(text: &str) -> Option<String> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' => {
                let hex = text.get(i + 1..i + 3)?;
                out.push(u8::from_str_radix(hex, 16).ok()?);
                i += 2;
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8(out).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    #[test]
    fn basic_credentials_are_form_decoded() {
        let mut headers = HeaderMap::new();
        let encoded = STANDARD.encode("my%20app:s%3Ac+r=t");
        headers.insert(
            header::AUTHORIZATION,
            HeaderValue::from_str(&format!("Basic {encoded}")).unwrap(),
        );
        assert_eq!(
            basic_credentials(&headers).unwrap(),
            Some(("my app".to_owned(), "s:c r=t".to_owned()))
        );
        headers.insert(header::AUTHORIZATION, HeaderValue::from_static("Basic !!"));
        assert!(basic_credentials(&headers).is_err());
        assert_eq!(form_unescape("%zz"), None);
        assert_eq!(form_unescape("%4"), None);
    }

    #[test]
    fn repeated_form_parameters_are_rejected() {
        assert!(parse_form(b"grant_type=a&code=1").is_ok());
        let err = parse_form(b"code=1&code=2").unwrap_err();
        assert_eq!(err.kind, ErrorKind::InvalidRequest);
    }

    #[test]
    fn error_statuses_follow_hydra() {
        assert_eq!(ErrorKind::InvalidClient.status(), StatusCode::UNAUTHORIZED);
        assert_eq!(ErrorKind::InvalidGrant.status(), StatusCode::BAD_REQUEST);
        let overridden = OAuthError::new(ErrorKind::ServerError, "x").with_status(StatusCode::BAD_GATEWAY);
        assert_eq!(overridden.status, StatusCode::BAD_GATEWAY);
    }
}
