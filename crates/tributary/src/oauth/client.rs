//! The HTTP side of OAuth 2.0 with a provider, parameterized by the element definition.
//!
//! Written against reqwest rather than a generic OAuth crate because the hub must pass the
//! provider's own words back to the caller (`providerMessage`), including fields such as
//! Hootsuite's `error_hint`, and must tell "the provider said no" (a 400 for our caller)
//! from "the provider could not be reached" (a 502).

use reqwest::{
    Method, StatusCode,
    header::{ACCEPT, HeaderValue},
};
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use serde_json::Value;
use url::Url;

use crate::{
    elements::{ClientAuth, Element},
    outbound::{OutboundError, ProviderClient, ProviderRequest},
};

/// Provider bodies quoted back to callers are cut to this many characters.
const QUOTE_LIMIT: usize = 500;

#[derive(Debug, thiserror::Error)]
pub enum OAuthError {
    /// The provider answered and refused (a bad code, a revoked refresh token, bad client
    /// credentials): the caller has to do something different.
    #[error("{provider} refused the request ({status})")]
    Rejected {
        provider: String,
        status: u16,
        provider_message: String,
        /// The OAuth `error` code, when the provider sent one (e.g. `invalid_grant`).
        code: Option<String>,
    },
    /// The provider could not be reached or failed on its side; trying later may work.
    #[error("{provider} could not be reached: {reason}")]
    Unavailable {
        provider: String,
        reason: String,
        provider_message: Option<String>,
    },
}

impl OAuthError {
    pub fn provider_message(&self) -> Option<&str> {
        match self {
            OAuthError::Rejected { provider_message, .. } => Some(provider_message),
            OAuthError::Unavailable { provider_message, .. } => provider_message.as_deref(),
        }
    }
}

/// What a token endpoint granted.
#[derive(Deserialize)]
pub struct TokenResponse {
    pub access_token: SecretString,
    pub refresh_token: Option<SecretString>,
    pub expires_in: Option<u64>,
    pub scope: Option<String>,
}

impl std::fmt::Debug for TokenResponse {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenResponse")
            .field("refresh_token", &self.refresh_token.is_some())
            .field("expires_in", &self.expires_in)
            .field("scope", &self.scope)
            .finish_non_exhaustive()
    }
}

/// The provider account behind a token.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, Deserialize)]
pub struct Identity {
    pub id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
}

/// The app's credentials at the provider.
pub struct ClientCredentials {
    pub client_id: SecretString,
    pub client_secret: SecretString,
}

/// Talks to providers' OAuth and identity endpoints, through the provider client (no
/// redirects; each request checked to go to the endpoint's configured origin).
#[derive(Clone)]
pub struct OAuthClient {
    provider: ProviderClient,
}

impl OAuthClient {
    pub fn new(provider: ProviderClient) -> Self {
        Self { provider }
    }

    /// The provider's authorization URL for the consent step.
    pub fn authorization_url(element: &Element, client_id: &str, redirect_uri: &str, scope: &str, state: &str) -> Url {
        let mut url = element.oauth2().authorization_url.clone();
        url.query_pairs_mut()
            .append_pair("response_type", "code")
            .append_pair("client_id", client_id)
            .append_pair("redirect_uri", redirect_uri)
            .append_pair("scope", scope)
            .append_pair("state", state);
        url
    }

    pub async fn exchange_code(
        &self,
        element: &Element,
        credentials: &ClientCredentials,
        code: &str,
        redirect_uri: &str,
    ) -> Result<TokenResponse, OAuthError> {
        self.token_request(
            element,
            credentials,
            &[
                ("grant_type", "authorization_code"),
                ("code", code),
                ("redirect_uri", redirect_uri),
            ],
        )
        .await
    }

    pub async fn refresh(
        &self,
        element: &Element,
        credentials: &ClientCredentials,
        refresh_token: &SecretString,
    ) -> Result<TokenResponse, OAuthError> {
        self.token_request(
            element,
            credentials,
            &[
                ("grant_type", "refresh_token"),
                ("refresh_token", refresh_token.expose_secret()),
            ],
        )
        .await
    }

    async fn token_request(
        &self,
        element: &Element,
        credentials: &ClientCredentials,
        form: &[(&str, &str)],
    ) -> Result<TokenResponse, OAuthError> {
        let oauth = element.oauth2();
        let request = self
            .provider
            .request(Method::POST, oauth.token_url.base(), oauth.token_url.path())
            .header(ACCEPT, HeaderValue::from_static("application/json"));
        let request = match oauth.client_auth {
            ClientAuth::Basic => request
                .basic_auth(&credentials.client_id, &credentials.client_secret)
                .form(form),
            ClientAuth::Body => {
                let mut with_client = form.to_vec();
                with_client.push(("client_id", credentials.client_id.expose_secret()));
                with_client.push(("client_secret", credentials.client_secret.expose_secret()));
                request.form(&with_client)
            }
        };
        let body = self.send(element, request).await?;
        serde_json::from_slice(&body).map_err(|e| OAuthError::Unavailable {
            provider: element.name.clone(),
            reason: format!("the token endpoint answered with an unexpected body ({e})"),
            provider_message: Some(quote(&body)),
        })
    }

    /// Calls the element's identity endpoint with a fresh access token.
    pub async fn identity(&self, element: &Element, access_token: &SecretString) -> Result<Identity, OAuthError> {
        let request = self
            .provider
            .request(Method::GET, &element.api.base_url, &element.api.identity_path)
            .bearer_auth(access_token)
            .header(ACCEPT, HeaderValue::from_static("application/json"));
        let body = self.send(element, request).await?;
        let unexpected = |what: &str| OAuthError::Unavailable {
            provider: element.name.clone(),
            reason: format!("the identity endpoint answered without {what}"),
            provider_message: Some(quote(&body)),
        };
        let json: Value = serde_json::from_slice(&body).map_err(|_| unexpected("JSON"))?;
        let text_at = |pointer: &Option<String>| pointer.as_deref().and_then(|p| json.pointer(p)).and_then(scalar_text);
        let id = json
            .pointer(&element.api.identity_id_pointer)
            .and_then(scalar_text)
            .ok_or_else(|| unexpected("an account id"))?;
        Ok(Identity {
            id,
            email: text_at(&element.api.identity_email_pointer),
            name: text_at(&element.api.identity_name_pointer),
        })
    }

    async fn send(&self, element: &Element, request: ProviderRequest) -> Result<Vec<u8>, OAuthError> {
        let provider = element.name.clone();
        let response = request.send().await.map_err(|e| OAuthError::Unavailable {
            provider: provider.clone(),
            reason: match &e {
                OutboundError::Refused(_) => e.to_string(),
                OutboundError::Transport(e) => describe_transport_error(e),
            },
            provider_message: None,
        })?;
        let status = response.status();
        let body = response.bytes().await.map_err(|e| OAuthError::Unavailable {
            provider: provider.clone(),
            reason: describe_transport_error(&e),
            provider_message: None,
        })?;
        if status.is_success() {
            return Ok(body.to_vec());
        }
        let message = provider_message(&body);
        if status.is_server_error() || status == StatusCode::TOO_MANY_REQUESTS || status.is_redirection() {
            Err(OAuthError::Unavailable {
                provider,
                reason: format!("HTTP {status}"),
                provider_message: Some(message),
            })
        } else {
            Err(OAuthError::Rejected {
                provider,
                status: status.as_u16(),
                code: oauth_error_code(&body),
                provider_message: message,
            })
        }
    }
}

fn scalar_text(value: &Value) -> Option<String> {
    match value {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

fn oauth_error_code(body: &[u8]) -> Option<String> {
    let json: Value = serde_json::from_slice(body).ok()?;
    json.get("error")?.as_str().map(str::to_owned)
}

/// The provider's explanation, from an OAuth error body (`error`, `error_description`,
/// `error_hint`), a REST error envelope (`errors[].message`), or the raw text.
fn provider_message(body: &[u8]) -> String {
    let Ok(json) = serde_json::from_slice::<Value>(body) else {
        return quote(body);
    };
    if let Some(error) = json.get("error").and_then(Value::as_str) {
        let mut message = error.to_string();
        for field in ["error_description", "error_hint"] {
            if let Some(text) = json.get(field).and_then(Value::as_str).filter(|t| !t.is_empty()) {
                message.push_str(": ");
                message.push_str(text);
            }
        }
        return truncate(message);
    }
    if let Some(errors) = json.get("errors").and_then(Value::as_array) {
        let messages: Vec<String> = errors
            .iter()
            .filter_map(|e| {
                let text = e.get("message")?.as_str()?;
                Some(match e.get("code") {
                    Some(code) => format!("{text} (code {code})"),
                    None => text.to_string(),
                })
            })
            .collect();
        if !messages.is_empty() {
            return truncate(messages.join("; "));
        }
    }
    quote(body)
}

fn quote(body: &[u8]) -> String {
    truncate(String::from_utf8_lossy(body).trim().to_string())
}

fn truncate(mut text: String) -> String {
    if let Some((at, _)) = text.char_indices().nth(QUOTE_LIMIT) {
        text.truncate(at);
        text.push('…');
    }
    text
}

/// A short, secret-free account of why a request never got an answer.
fn describe_transport_error(error: &reqwest::Error) -> String {
    let target = error
        .url()
        .map(|u| format!("{}://{}", u.scheme(), u.authority()))
        .unwrap_or_default();
    let what = if error.is_timeout() {
        "timed out"
    } else if error.is_connect() {
        "connection failed"
    } else {
        "request failed"
    };
    let mut cause = String::new();
    let mut source = std::error::Error::source(error);
    while let Some(inner) = source {
        cause = inner.to_string();
        source = inner.source();
    }
    if cause.is_empty() {
        format!("{what} ({target})")
    } else {
        format!("{what} ({target}): {cause}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn oauth_errors_keep_description_and_hint() {
        let body = br#"{"error":"invalid_grant","error_description":"The provided authorization grant is invalid","error_hint":"The code was already used.","status_code":400}"#;
        assert_eq!(
            provider_message(body),
            "invalid_grant: The provided authorization grant is invalid: The code was already used."
        );
        assert_eq!(oauth_error_code(body).as_deref(), Some("invalid_grant"));
    }

    #[test]
    fn rest_envelopes_list_their_messages() {
        let body = br#"{"errors":[{"code":1001,"message":"Invalid access token","id":"x"}]}"#;
        assert_eq!(provider_message(body), "Invalid access token (code 1001)");
    }

    #[test]
    fn other_bodies_are_quoted_and_cut() {
        assert_eq!(provider_message(b"  gateway down \n"), "gateway down");
        let long = "x".repeat(2000);
        let quoted = provider_message(long.as_bytes());
        assert_eq!(quoted.chars().count(), QUOTE_LIMIT + 1);
    }

    #[test]
    fn authorization_url_carries_every_parameter() {
        let registry = crate::elements::Registry::builtin(&Default::default()).unwrap();
        let element = registry.find("hootsuite").unwrap();
        let url = OAuthClient::authorization_url(
            element,
            "client 1",
            "https://app.example.com/cb?x=1",
            "offline",
            "state-123456",
        );
        assert_eq!(
            url.as_str(),
            "https://platform.hootsuite.com/oauth2/auth?response_type=code&client_id=client+1\
             &redirect_uri=https%3A%2F%2Fapp.example.com%2Fcb%3Fx%3D1&scope=offline&state=state-123456"
        );
    }
}
