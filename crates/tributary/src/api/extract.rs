//! Request extractors that fail with the API's own errors: a JSON body that must be JSON
//! (415 otherwise) and reports where it is broken (line and column), and path parameters
//! that say which one is wrong; and the one way bodies are read, bounded in size and time.

use axum::{
    body::Bytes,
    extract::{FromRequest, FromRequestParts, Request, rejection::BytesRejection},
    http::{StatusCode, header, request::Parts},
};
use serde::de::DeserializeOwned;

use super::error::ApiError;
use crate::app::AppState;

/// A JSON request body.
pub struct ApiJson<T>(pub T);

impl<T: DeserializeOwned> FromRequest<AppState> for ApiJson<T> {
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &AppState) -> Result<Self, Self::Rejection> {
        let content_type = request
            .headers()
            .get(header::CONTENT_TYPE)
            .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned());
        if !content_type.as_deref().is_some_and(is_json) {
            return Err(ApiError::UnsupportedMediaType(format!(
                "Send the body as JSON with Content-Type: application/json (got {}).",
                content_type.map_or_else(|| "no Content-Type".into(), |c| format!("{c:?}"))
            )));
        }
        let body = read_body(request, state, "api.max_body_bytes").await?;
        parse_json(&body).map(ApiJson)
    }
}

/// The whole body of `request`, within the route's size limit (`DefaultBodyLimit`, set from
/// `limit_setting`: 413 above it) and `http.body_timeout_secs` from now (408 after it).
/// Either way the rest of the body is left unread and the connection closes after the
/// answer. Tower-http's `RequestBodyTimeoutLayer` would not do: its timer restarts with
/// every chunk, so a client sending a byte every few seconds never trips it.
pub async fn read_body(request: Request, state: &AppState, limit_setting: &str) -> Result<Bytes, ApiError> {
    let within = state.config.http.body_timeout();
    let read = tokio::time::timeout(within, Bytes::from_request(request, state))
        .await
        .map_err(|_| {
            ApiError::RequestTimeout(format!(
                "The request body did not arrive within {} s (http.body_timeout_secs); send it whole, at once.",
                within.as_secs()
            ))
        })?;
    read.map_err(|rejection| body_error(rejection, limit_setting))
}

fn is_json(content_type: &str) -> bool {
    let essence = content_type.split(';').next().unwrap_or("").trim().to_ascii_lowercase();
    essence == "application/json" || (essence.starts_with("application/") && essence.ends_with("+json"))
}

fn body_error(rejection: BytesRejection, limit_setting: &str) -> ApiError {
    let message = rejection.body_text();
    if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
        ApiError::PayloadTooLarge(format!(
            "Request body too large: {message} ({limit_setting}). Send a smaller body."
        ))
    } else {
        ApiError::BadRequest(format!("Could not read the request body: {message}"))
    }
}

/// Parses a JSON body, naming the position of a syntax error and the field of a type error.
pub fn parse_json<T: DeserializeOwned>(body: &[u8]) -> Result<T, ApiError> {
    let mut deserializer = serde_json::Deserializer::from_slice(body);
    let value = serde_path_to_error::deserialize(&mut deserializer).map_err(|error| {
        let path = error.path().to_string();
        json_error(&path, error.into_inner())
    })?;
    deserializer.end().map_err(|e| json_error("", e))?;
    Ok(value)
}

fn json_error(path: &str, error: serde_json::Error) -> ApiError {
    use serde_json::error::Category;
    ApiError::BadRequest(match error.classify() {
        Category::Syntax | Category::Eof => format!(
            "Invalid JSON in the request body: {error}. Check for a missing comma, quote or \
             bracket just before that position."
        ),
        Category::Data if !path.is_empty() && path != "." => {
            format!("Invalid request body: {path}: {error}.")
        }
        Category::Data => format!("Invalid request body: {error}."),
        Category::Io => format!("Could not read the request body: {error}."),
    })
}

/// One path parameter, parsed with `FromStr`, named in the error.
pub struct ApiPath<T>(pub T);

/// What a path parameter type is called in errors.
pub trait Describe {
    const WHAT: &'static str;
}

impl Describe for crate::ids::InstanceId {
    const WHAT: &'static str = "instance id (a positive integer)";
}

impl<S, T> FromRequestParts<S> for ApiPath<T>
where
    S: Send + Sync,
    T: DeserializeOwned + Send + Describe,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        axum::extract::Path::<T>::from_request_parts(parts, state)
            .await
            .map(|axum::extract::Path(value)| ApiPath(value))
            .map_err(|_| ApiError::BadRequest(format!("The path {} needs a valid {}.", parts.uri.path(), T::WHAT)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, serde::Deserialize)]
    #[allow(dead_code)]
    struct Body {
        name: String,
        tags: Vec<String>,
    }

    fn message(body: &str) -> String {
        match parse_json::<Body>(body.as_bytes()) {
            Err(ApiError::BadRequest(message)) => message,
            other => panic!("expected a bad request, got {other:?}"),
        }
    }

    #[test]
    fn syntax_errors_name_line_and_column() {
        let m = message("{\n  \"name\": \"x\"\n  \"tags\": []\n}");
        assert!(m.contains("expected `,` or `}` at line 3 column 3"), "{m}");
        assert!(m.contains("missing comma"), "{m}");
    }

    #[test]
    fn type_errors_name_the_field() {
        let m = message(r#"{"name": "x", "tags": [1]}"#);
        assert!(
            m.starts_with("Invalid request body: tags[0]: invalid type: integer `1`, expected a string"),
            "{m}"
        );
    }

    #[test]
    fn trailing_garbage_and_truncation_are_rejected() {
        assert!(message(r#"{"name": "x", "tags": []} x"#).contains("trailing characters"));
        assert!(message(r#"{"name": "x""#).contains("EOF"));
        assert!(message("\u{feff}{}").contains("Invalid JSON"));
    }

    #[test]
    fn deep_nesting_is_refused() {
        let deep = format!("{}{}", "[".repeat(10_000), "]".repeat(10_000));
        match parse_json::<serde_json::Value>(deep.as_bytes()) {
            Err(ApiError::BadRequest(m)) => assert!(m.contains("recursion limit"), "{m}"),
            other => panic!("expected a bad request, got {other:?}"),
        }
    }

    #[test]
    fn json_content_types() {
        for ok in [
            "application/json",
            "application/json; charset=utf-8",
            "Application/JSON",
            "application/vnd.x+json",
        ] {
            assert!(is_json(ok), "{ok}");
        }
        for bad in ["text/plain", "application/x-www-form-urlencoded", "", "json"] {
            assert!(!is_json(bad), "{bad}");
        }
    }
}
