//! The web console: a static single-page app (plain HTML, CSS and JavaScript modules from
//! `crates/tributary/console/`, compiled into the binary) served at `/`, and the browser
//! session it signs in with (`/console/session`).
//!
//! The app calls the JSON API under `/elements/api-v2` like any client. Instead of an
//! `Authorization` header it carries a session cookie, which [`Session::from_headers`] turns
//! back into a user (see `auth.rs`). The cookie holds no secret in clear: it is a value
//! sealed with the hub's master key (`{user, org, expires, csrf}`), so the hub needs no
//! session table and any hub process sharing the key accepts it. It is `HttpOnly` (scripts
//! cannot read it), `SameSite=Strict` (other sites' pages do not send it) and `Secure` when
//! the public URL is https. Requests that change something must also carry the session's
//! CSRF token in `X-CSRF-Token`, which only the console's own scripts can read, from
//! `GET /console/session`.
//!
//! These routes are not part of the Cloud Elements API, so they stay out of the OpenAPI
//! document.

use axum::{
    Json, Router,
    extract::{Path, State},
    http::{HeaderMap, HeaderValue, Method, StatusCode, header},
    response::{IntoResponse, Response},
    routing::get,
};
use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use chrono::{DateTime, Utc};
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};

use super::{error::ApiError, extract::ApiJson, instances::iso};
use crate::{
    app::AppState,
    crypto::{CredentialHash, Sealed},
    ids::{OrgId, UserId},
    store::User,
};

/// The session cookie's name.
pub const SESSION_COOKIE: &str = "tributary_session";
/// The header that must repeat the session's CSRF token on requests that change something.
pub const CSRF_HEADER: &str = "x-csrf-token";
/// Associated data of the sealed cookie: a value sealed for anything else does not open here.
const SESSION_CONTEXT: &str = "console-session";
const SESSION_HOURS: i64 = 12;
/// Where the provider sends the browser back after consent; the app finishes the job there.
const OAUTH_CALLBACK_PATH: &str = "/console/oauth/callback";

/// Only the page's own files run, nothing may frame it, and navigations leave no referrer
/// behind (the OAuth callback's address carries a grant code). `nosniff` and `no-store` come
/// with every answer of the hub (see `api::app`).
const PAGE_HEADERS: [(header::HeaderName, &str); 3] = [
    (
        header::CONTENT_SECURITY_POLICY,
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
         connect-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'",
    ),
    (header::X_FRAME_OPTIONS, "DENY"),
    (header::REFERRER_POLICY, "no-referrer"),
];

const INDEX: &str = include_str!("../../console/index.html");

/// Embeds files of `crates/tributary/console/` by name.
macro_rules! assets {
    ($($name:literal),* $(,)?) => {
        &[$(($name, include_str!(concat!("../../console/", $name)))),*]
    };
}

/// The app's files under `/console/`: name and contents.
const ASSETS: &[(&str, &str)] = assets![
    "app.css",
    "app.js",
    "api.js",
    "dom.js",
    "oauth.js",
    "instances.js",
    "events.js",
];

fn content_type(file: &str) -> &'static str {
    if file.ends_with(".css") {
        "text/css; charset=utf-8"
    } else {
        "text/javascript; charset=utf-8"
    }
}

/// The console's routes, merged beside the API.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/", get(page))
        .route(OAUTH_CALLBACK_PATH, get(page))
        .route("/console/session", get(current).post(sign_in).delete(sign_out))
        .route("/console/{file}", get(asset))
}

/// The app's one page; it routes on the URL fragment, and finishes OAuth at the callback path.
async fn page() -> Response {
    let mut response = ([(header::CONTENT_TYPE, "text/html; charset=utf-8")], INDEX).into_response();
    for (name, value) in PAGE_HEADERS {
        response.headers_mut().insert(name, HeaderValue::from_static(value));
    }
    response
}

async fn asset(Path(file): Path<String>) -> Result<Response, ApiError> {
    let (name, body) = ASSETS
        .iter()
        .find(|(name, _)| *name == file)
        .ok_or_else(|| ApiError::NotFound(format!("The console has no file {file:?}.")))?;
    Ok((
        [
            (header::CONTENT_TYPE, content_type(name)),
            // Small files, always revalidated, so an upgraded hub never runs yesterday's script.
            (header::CACHE_CONTROL, "no-cache"),
        ],
        *body,
    )
        .into_response())
}

/// What the sealed cookie holds.
#[derive(Serialize, Deserialize)]
struct SessionData {
    user: UserId,
    org: OrgId,
    /// Unix seconds.
    expires: i64,
    csrf: String,
}

/// A signed-in browser: whose session it is and the token that proves a request came from
/// the console's own scripts.
pub struct Session {
    pub user: User,
    csrf: String,
    expires: DateTime<Utc>,
}

impl Session {
    /// The session the request's cookie carries: `None` without a cookie, 401 when the
    /// cookie is forged, tampered with, sealed under another key, expired, or its user is gone.
    pub async fn from_headers(headers: &HeaderMap, state: &AppState) -> Result<Option<Session>, ApiError> {
        let Some(value) = cookie(headers, SESSION_COOKIE) else {
            return Ok(None);
        };
        let ended = || {
            ApiError::Unauthorized(
                "Your console session is not valid any more (it expired, or the hub's key changed); sign in again."
                    .into(),
            )
        };
        let data: SessionData = URL_SAFE_NO_PAD
            .decode(value)
            .ok()
            .and_then(|bytes| state.cipher.open(&Sealed::from_stored(bytes), SESSION_CONTEXT).ok())
            .and_then(|json| serde_json::from_str(json.expose_secret()).ok())
            .ok_or_else(ended)?;
        let expires = DateTime::from_timestamp(data.expires, 0).ok_or_else(ended)?;
        if expires <= Utc::now() {
            return Err(ended());
        }
        let user = state
            .store
            .list_users(data.org)
            .await?
            .into_iter()
            .find(|u| u.id == data.user)
            .ok_or_else(ended)?;
        Ok(Some(Session {
            user,
            csrf: data.csrf,
            expires,
        }))
    }

    /// Lets reads through; anything else must repeat the session's CSRF token in
    /// `X-CSRF-Token`, which another site's page can neither read nor send.
    pub fn check_csrf(&self, method: &Method, headers: &HeaderMap) -> Result<(), ApiError> {
        if matches!(*method, Method::GET | Method::HEAD) {
            return Ok(());
        }
        let sent = headers.get(CSRF_HEADER).map(HeaderValue::as_bytes);
        if sent.is_some_and(|sent| constant_time_eq(sent, self.csrf.as_bytes())) {
            Ok(())
        } else {
            Err(ApiError::Forbidden(format!(
                "A console session must send its CSRF token in the X-CSRF-Token header with every {} request \
                 (GET /console/session returns it); reload the console if this keeps happening.",
                method
            )))
        }
    }
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// The value of cookie `name` in the request's `Cookie` headers.
fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(key, _)| *key == name)
        .map(|(_, value)| value)
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct SignIn {
    user_secret: SecretString,
    organization_secret: SecretString,
}

/// Who is signed in, the CSRF token the app sends back, and what the app needs to know
/// about this hub.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct SessionBody {
    user: SessionUser,
    organization: SessionOrganization,
    csrf_token: String,
    expires_date: String,
    /// The redirect URI the console asks providers to send the browser back to.
    oauth_callback_url: String,
    public_url: String,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct SessionUser {
    id: i64,
    email_address: String,
    first_name: String,
    last_name: String,
}

#[derive(Serialize)]
struct SessionOrganization {
    id: i64,
    name: String,
}

async fn session_body(state: &AppState, session: &Session) -> Result<Json<SessionBody>, ApiError> {
    let name = state
        .store
        .list_organizations()
        .await?
        .into_iter()
        .find(|o| o.id == session.user.org)
        .map(|o| o.name)
        .unwrap_or_default();
    Ok(Json(SessionBody {
        user: SessionUser {
            id: session.user.id.get(),
            email_address: session.user.email.clone(),
            first_name: session.user.first_name.clone(),
            last_name: session.user.last_name.clone(),
        },
        organization: SessionOrganization {
            id: session.user.org.get(),
            name,
        },
        csrf_token: session.csrf.clone(),
        expires_date: iso(session.expires),
        oauth_callback_url: format!("{}{OAUTH_CALLBACK_PATH}", state.public_url),
        public_url: state.public_url.clone(),
    }))
}

/// `Set-Cookie` for the session value, or for its removal when `value` is `None`.
fn set_cookie(state: &AppState, value: Option<&str>) -> HeaderValue {
    let secure = if state.public_url.starts_with("https://") {
        "; Secure"
    } else {
        ""
    };
    let (value, max_age) = value.map_or(("", 0), |v| (v, SESSION_HOURS * 3600));
    HeaderValue::from_str(&format!(
        "{SESSION_COOKIE}={value}; Path=/; Max-Age={max_age}; HttpOnly; SameSite=Strict{secure}"
    ))
    .expect("the cookie is Base64url and fixed ASCII")
}

/// `POST /console/session`: checks the user and organization secrets and starts a session.
async fn sign_in(State(state): State<AppState>, ApiJson(input): ApiJson<SignIn>) -> Result<Response, ApiError> {
    if input.user_secret.expose_secret().trim().is_empty()
        || input.organization_secret.expose_secret().trim().is_empty()
    {
        return Err(ApiError::BadRequest(
            "Enter both the user secret and the organization secret.".into(),
        ));
    }
    let user = state
        .store
        .find_platform_caller(
            &CredentialHash::of(&input.user_secret),
            &CredentialHash::of(&input.organization_secret),
        )
        .await?
        .ok_or_else(|| {
            ApiError::Unauthorized(
                "These secrets do not match: no user with this secret in the organization with this secret.".into(),
            )
        })?;
    let expires = Utc::now() + chrono::Duration::hours(SESSION_HOURS);
    let session = Session {
        csrf: hex::encode(rand::random::<[u8; 32]>()),
        expires,
        user,
    };
    let data = SessionData {
        user: session.user.id,
        org: session.user.org,
        expires: expires.timestamp(),
        csrf: session.csrf.clone(),
    };
    let json = serde_json::to_string(&data).map_err(ApiError::internal)?;
    let value = URL_SAFE_NO_PAD.encode(state.cipher.seal(&json, SESSION_CONTEXT).as_bytes());
    let mut response = session_body(&state, &session).await?.into_response();
    let headers = response.headers_mut();
    headers.insert(header::SET_COOKIE, set_cookie(&state, Some(&value)));
    Ok(response)
}

/// `GET /console/session`: who is signed in, with the CSRF token; 401 when nobody is.
async fn current(State(state): State<AppState>, headers: HeaderMap) -> Result<Response, ApiError> {
    let session = Session::from_headers(&headers, &state).await?.ok_or_else(|| {
        ApiError::Unauthorized("Not signed in: sign in with your user and organization secrets.".into())
    })?;
    Ok(session_body(&state, &session).await?.into_response())
}

/// `DELETE /console/session`: signs out by clearing the cookie. A live session must send
/// its CSRF token, so another site cannot sign the user out; a dead one is simply cleared.
async fn sign_out(State(state): State<AppState>, method: Method, headers: HeaderMap) -> Result<Response, ApiError> {
    if let Ok(Some(session)) = Session::from_headers(&headers, &state).await {
        session.check_csrf(&method, &headers)?;
    }
    Ok((StatusCode::NO_CONTENT, [(header::SET_COOKIE, set_cookie(&state, None))]).into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_the_cookie_among_others_and_across_headers() {
        let mut headers = HeaderMap::new();
        headers.append(header::COOKIE, HeaderValue::from_static("a=1; tributary_sessionx=no"));
        headers.append(
            header::COOKIE,
            HeaderValue::from_static("b=2;tributary_session=abc-_; c=3"),
        );
        assert_eq!(cookie(&headers, SESSION_COOKIE), Some("abc-_"));
        assert_eq!(cookie(&headers, "c"), Some("3"));
        assert_eq!(cookie(&HeaderMap::new(), SESSION_COOKIE), None);
    }

    #[test]
    fn csrf_comparison_needs_the_whole_token() {
        assert!(constant_time_eq(b"abcd", b"abcd"));
        assert!(!constant_time_eq(b"abcd", b"abce"));
        assert!(!constant_time_eq(b"abc", b"abcd"));
        assert!(!constant_time_eq(b"", b"abcd"));
    }

    #[test]
    fn every_asset_is_a_module_or_the_stylesheet_and_the_page_loads_them() {
        for (name, body) in ASSETS {
            assert!(!body.is_empty(), "{name}");
            assert!(name.ends_with(".js") || *name == "app.css", "{name}");
        }
        assert_eq!(content_type("app.css"), "text/css; charset=utf-8");
        assert_eq!(content_type("app.js"), "text/javascript; charset=utf-8");
        assert!(INDEX.contains("/console/app.js") && INDEX.contains("/console/app.css"));
    }
}
