//! `POST /v1/media` and `GET /v1/media/{mediaId}` (hootsuite.md §2.11): an upload URL for a
//! declared size and MIME type, and the media's state. The upload itself goes to the store's
//! S3 stand-in (`crate::bucket`). Media belongs to the account that created it.

use std::sync::Arc;

use axum::Extension;
use axum::body::Bytes;
use axum::extract::{Path, State};
use serde::Deserialize;

use super::{ApiError, ApiResult, data, parse_json};
use crate::directory::Subject;
use crate::media::MIME_TYPES;
use crate::oauth::grants::Caller;
use crate::state::Sim;

/// The Swagger `MediaUploadUrlRequest`: both fields are needed to sign an upload.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct NewMedia {
    size_bytes: u64,
    mime_type: String,
}

pub async fn create(State(sim): State<Arc<Sim>>, Extension(caller): Extension<Caller>, body: Bytes) -> ApiResult {
    let request: NewMedia = parse_json(&body)?;
    if request.size_bytes == 0 {
        return Err(ApiError::invalid("sizeBytes must be a positive number of bytes"));
    }
    if !MIME_TYPES.contains(&request.mime_type.as_str()) {
        return Err(ApiError::invalid(format!("mimeType must be one of {MIME_TYPES:?}")));
    }
    let now = sim.clock.now();
    let account_id = match &caller.subject {
        Subject::Member(id) | Subject::Organization(id) => id.clone(),
    };
    sim.with_world(|w| {
        let item = w.media.create(
            caller.subject.account_key(),
            &account_id,
            &request.mime_type,
            request.size_bytes,
            &sim.base_url,
            now,
        );
        data(item.upload_json(&sim.base_url))
    })
}

/// Another account's media is 404 code 4001, like an unknown id.
pub async fn get(
    State(sim): State<Arc<Sim>>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
) -> ApiResult {
    sim.with_world(|w| {
        let item = w
            .media
            .owned_by(&id, &caller.subject.account_key())
            .ok_or_else(|| ApiError::not_found().with_resource("media", id.clone()))?;
        data(item.status_json(&sim.base_url))
    })
}
