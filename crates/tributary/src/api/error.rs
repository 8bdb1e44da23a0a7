//! The API's error type and its one mapping to HTTP.
//!
//! Every failure leaves as `{"message": …, "requestId": …}` (plus `providerMessage` when a
//! provider explained itself), with a message that says what to fix. Internal causes are
//! logged with the request id and never shown to the caller.

use axum::{
    Json,
    http::{StatusCode, header},
    response::{IntoResponse, Response},
};
use serde::Serialize;
use utoipa::ToSchema;

use crate::{
    instances::{InstanceError, configuration::ConfigError},
    oauth::OAuthError,
    store::StoreError,
};

tokio::task_local! {
    /// The id of the request being served, set by the request-id middleware.
    pub static REQUEST_ID: String;
}

/// The current request's id, or `-` outside a request.
pub fn request_id() -> String {
    REQUEST_ID.try_with(Clone::clone).unwrap_or_else(|_| "-".into())
}

/// The body of every error response.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ErrorBody {
    /// What went wrong and how to fix it.
    pub message: String,
    /// Quote this when asking for help; it is in the hub's logs.
    pub request_id: String,
    /// What the provider said, when the failure came from it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub provider_message: Option<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("{0}")]
    BadRequest(String),
    #[error("{0}")]
    Unauthorized(String),
    #[error("{0}")]
    Forbidden(String),
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    MethodNotAllowed(String),
    #[error("{0}")]
    UnsupportedMediaType(String),
    #[error("{0}")]
    PayloadTooLarge(String),
    /// The request's body did not arrive in time.
    #[error("{0}")]
    RequestTimeout(String),
    /// The provider refused what the caller's input led us to ask.
    #[error("{message}")]
    ProviderRejected { message: String, provider_message: String },
    /// The provider could not be reached or failed.
    #[error("{message}")]
    BadGateway {
        message: String,
        provider_message: Option<String>,
    },
    #[error("{message}")]
    TooManyRequests { message: String, retry_after_secs: u64 },
    /// The database cannot take the request right now; the caller should retry.
    #[error("{0}")]
    Unavailable(String),
    /// A fault of the hub itself; the cause is logged, not shown.
    #[error("internal error: {0}")]
    Internal(String),
}

impl ApiError {
    fn status(&self) -> StatusCode {
        match self {
            ApiError::BadRequest(_) | ApiError::ProviderRejected { .. } => StatusCode::BAD_REQUEST,
            ApiError::Unauthorized(_) => StatusCode::UNAUTHORIZED,
            ApiError::Forbidden(_) => StatusCode::FORBIDDEN,
            ApiError::NotFound(_) => StatusCode::NOT_FOUND,
            ApiError::MethodNotAllowed(_) => StatusCode::METHOD_NOT_ALLOWED,
            ApiError::UnsupportedMediaType(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ApiError::PayloadTooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::RequestTimeout(_) => StatusCode::REQUEST_TIMEOUT,
            ApiError::TooManyRequests { .. } => StatusCode::TOO_MANY_REQUESTS,
            ApiError::BadGateway { .. } => StatusCode::BAD_GATEWAY,
            ApiError::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    pub fn internal(cause: impl std::fmt::Display) -> Self {
        ApiError::Internal(cause.to_string())
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = self.status();
        let request_id = request_id();
        // A refused or late body is left unread, so the server closes the connection after
        // this answer; saying so keeps the client from sending its next request on it.
        let closes = matches!(self, ApiError::PayloadTooLarge(_) | ApiError::RequestTimeout(_));
        let retry_after = match &self {
            ApiError::TooManyRequests { retry_after_secs, .. } => Some(retry_after_secs.to_string()),
            ApiError::Unavailable(_) => Some("5".to_string()),
            _ => None,
        };
        let (message, provider_message) = match self {
            ApiError::Internal(cause) => {
                tracing::error!(request_id, %cause, "internal error");
                (
                    format!(
                        "The hub failed to handle this request; its log has the cause under request id {request_id}."
                    ),
                    None,
                )
            }
            ApiError::Unavailable(cause) => {
                tracing::warn!(request_id, %cause, "storage unavailable");
                (
                    "The hub's database is unavailable right now; retry shortly.".to_string(),
                    None,
                )
            }
            ApiError::ProviderRejected {
                message,
                provider_message,
            } => (message, Some(provider_message)),
            ApiError::BadGateway {
                message,
                provider_message,
            } => {
                tracing::warn!(request_id, %message, "provider unavailable");
                (message, provider_message)
            }
            other => (other.to_string(), None),
        };
        let mut response = (
            status,
            Json(ErrorBody {
                message,
                request_id,
                provider_message,
            }),
        )
            .into_response();
        if let Some(seconds) = retry_after.and_then(|s| header::HeaderValue::from_str(&s).ok()) {
            response.headers_mut().insert(header::RETRY_AFTER, seconds);
        }
        if closes {
            response
                .headers_mut()
                .insert(header::CONNECTION, header::HeaderValue::from_static("close"));
        }
        response
    }
}

impl From<StoreError> for ApiError {
    fn from(error: StoreError) -> Self {
        if error.is_unavailable() {
            ApiError::Unavailable(error.to_string())
        } else {
            ApiError::internal(error)
        }
    }
}

impl From<OAuthError> for ApiError {
    fn from(error: OAuthError) -> Self {
        match error {
            OAuthError::Rejected {
                provider,
                provider_message,
                ..
            } => ApiError::ProviderRejected {
                message: format!(
                    "{provider} rejected the authorization: the code may be wrong, expired or already used, \
                     or the client id, secret or callback URL may not match the app. Get a new code and try again."
                ),
                provider_message,
            },
            OAuthError::Unavailable {
                provider,
                reason,
                provider_message,
            } => ApiError::BadGateway {
                message: format!("{provider} could not be reached or failed: {reason}. Nothing was stored; try again."),
                provider_message,
            },
        }
    }
}

impl From<InstanceError> for ApiError {
    fn from(error: InstanceError) -> Self {
        match error {
            InstanceError::NotFound(_) | InstanceError::ConfigEntryNotFound(..) => {
                ApiError::NotFound(error.to_string())
            }
            InstanceError::Config(ConfigError::Missing(_))
            | InstanceError::Config(_)
            | InstanceError::Invalid(_)
            | InstanceError::MissingCode { .. } => ApiError::BadRequest(error.to_string()),
            InstanceError::Provider(e) => e.into(),
            InstanceError::Store(e) => e.into(),
            InstanceError::Crypto(_) | InstanceError::UnknownElement(..) => ApiError::internal(error),
        }
    }
}
