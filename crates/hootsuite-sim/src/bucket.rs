//! The stand-in for the Amazon S3 bucket that `POST /v1/media` upload URLs point at, served by
//! the simulator itself under `/uploads/{key}`: no token, no rate limit, S3's XML errors.
//!
//! Like S3 behind Hootsuite, it accepts uploads that do not match what was declared, and
//! Hootsuite ignores them ("only the first valid media file uploaded will be used"). Once the
//! media is ready, the same URL serves the bytes for download.

use std::sync::Arc;

use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::put;
use axum::{Router, middleware};

use crate::faults::{self, FaultBody};
use crate::state::Sim;

/// S3's XML error document.
struct S3Error(StatusCode, &'static str, &'static str);

impl IntoResponse for S3Error {
    fn into_response(self) -> Response {
        let Self(status, code, message) = self;
        let body = format!(
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>{code}</Code><Message>{message}</Message></Error>"
        );
        (status, [(header::CONTENT_TYPE, "application/xml")], body).into_response()
    }
}

/// Injected faults get S3's `InternalError` or `SlowDown` documents.
struct Bucket;

impl FaultBody for Bucket {
    fn fault(status: StatusCode) -> Response {
        let (code, message) = match status.as_u16() {
            503 => ("SlowDown", "Please reduce your request rate."),
            s if s >= 500 => ("InternalError", "We encountered an internal error. Please try again."),
            403 => ("AccessDenied", "Access Denied"),
            _ => ("InvalidRequest", "Injected by the simulator's fault control."),
        };
        S3Error(status, code, message).into_response()
    }
}

pub fn router(sim: Arc<Sim>) -> Router<Arc<Sim>> {
    Router::new()
        .route("/uploads/{key}", put(upload).get(download))
        .layer(middleware::from_fn_with_state(sim, faults::inject::<Bucket>))
}

/// The media type without parameters, as S3 compares it.
fn content_type(headers: &HeaderMap) -> Option<String> {
    let value = headers.get(header::CONTENT_TYPE)?.to_str().ok()?;
    Some(value.split(';').next()?.trim().to_ascii_lowercase())
}

async fn upload(State(sim): State<Arc<Sim>>, Path(key): Path<String>, headers: HeaderMap, body: Body) -> Response {
    let now = sim.clock.now();
    let Some((declared_size, declared_type, expires)) = sim.with_world(|w| {
        w.media
            .upload_target(&key)
            .map(|(size, mime_type, expires)| (size, mime_type.to_owned(), expires))
    }) else {
        return S3Error(StatusCode::FORBIDDEN, "AccessDenied", "Access Denied").into_response();
    };
    if now > expires {
        return S3Error(StatusCode::FORBIDDEN, "AccessDenied", "Request has expired").into_response();
    }
    // Reading at most one byte more than declared is enough to tell a wrong size.
    let limit = usize::try_from(declared_size).unwrap_or(usize::MAX).saturating_add(1);
    let bytes = axum::body::to_bytes(body, limit).await.ok();
    let valid = content_type(&headers).as_deref() == Some(declared_type.as_str())
        && bytes.as_ref().is_some_and(|b| b.len() as u64 == declared_size);
    if let Some(bytes) = bytes.filter(|_| valid) {
        sim.with_world(|w| w.media.accept_upload(&key, bytes));
    }
    StatusCode::OK.into_response()
}

/// Downloads do not expire: `downloadUrlDurationSeconds` is reported, not enforced.
async fn download(State(sim): State<Arc<Sim>>, Path(key): Path<String>) -> Response {
    match sim.with_world(|w| w.media.download(&key)) {
        Some((mime_type, bytes)) => ([(header::CONTENT_TYPE, mime_type)], bytes).into_response(),
        None => S3Error(StatusCode::NOT_FOUND, "NoSuchKey", "The specified key does not exist.").into_response(),
    }
}
