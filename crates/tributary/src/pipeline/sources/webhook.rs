//! Source: the provider's webhooks. `POST /elements/api-v2/events/{elementKey}/{Base64 id}`
//! (or `POST …/events/{elementKey}` with `Element-Instances: <id>[,<id>…]`).
//!
//! The answer is 200 with an empty body only once the event is durably stored; a database
//! that cannot take it answers 503 so the provider retries. Unknown instances get 404, bad
//! bodies 400, bad signatures 401, bodies over the size or event limit 413, and none of
//! those store anything.
//!
//! Slow clients: everything the URL and headers decide (element, instance, rate limit,
//! signature header) is checked before the body is read, so a request for no instance of
//! this hub is answered at once whatever its body; the body then has `http.body_timeout_secs`
//! to arrive; and only a complete body takes one of the `events.max_in_flight` slots, so a
//! client that trickles its body holds none.
//!
//! Security: Hootsuite's REST webhooks are unsigned, so the URL is the credential. Instance
//! ids are random 53-bit numbers, not sequential, so URLs cannot be guessed; an instance can
//! also require the provider's signature by configuring its webhook secret.

use std::sync::Arc;

use axum::{
    Extension,
    extract::{DefaultBodyLimit, Path, Request, State},
    http::{HeaderMap, StatusCode},
};
use base64::{
    Engine, alphabet,
    engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig},
};
use serde_json::value::RawValue;
use tokio::sync::Semaphore;
use utoipa_axum::{router::OpenApiRouter, routes};

use crate::{
    api::{
        error::{ApiError, ErrorBody},
        extract::read_body,
    },
    app::AppState,
    config::EventsConfig,
    crypto::hmac_sha256_verify,
    elements::{Element, Encoding, KeyEncoding, WebhookSignature},
    ids::InstanceId,
    instances::sealing,
    pipeline::{
        ingest::Arrival,
        normalize::{self, NormalizeError},
    },
    store::{self, EventSource, EventTarget},
};

pub fn router(events: &EventsConfig) -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(receive_at_instance_url))
        .routes(routes!(receive_for_listed_instances))
        .layer(DefaultBodyLimit::max(events.max_body_bytes))
        .layer(Extension(InFlight(Arc::new(Semaphore::new(events.max_in_flight)))))
}

/// The `events.max_in_flight` slots of webhook requests being handled, from their complete
/// body to their answer: this bounds the work waiting for the database, not the clients.
#[derive(Clone)]
struct InFlight(Arc<Semaphore>);

/// Receive a provider's events for the instance named (in Base64) by the URL.
#[utoipa::path(post, path = "/events/{elementKey}/{instanceId}", tag = "events",
    security(()),
    params(
        ("elementKey" = String, Path, description = "The element key, e.g. hootsuite"),
        ("instanceId" = String, Path, description = "Base64 of the instance id (standard or URL-safe, padded or not)"),
    ),
    request_body(content = Vec<Object>, description = "The provider's body as it sends it (Hootsuite: an array of {seq_no, type, data})"),
    responses(
        (status = 200, description = "Stored durably (or recorded as ignored or duplicate); empty body"),
        (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 408, body = ErrorBody, description = "The body did not arrive within http.body_timeout_secs"),
        (status = 413, body = ErrorBody, description = "Larger than events.max_body_bytes, or more events than events.max_events_per_webhook; not stored"),
        (status = 503, body = ErrorBody, description = "Not stored; send again"),
    ))]
async fn receive_at_instance_url(
    State(state): State<AppState>,
    Extension(in_flight): Extension<InFlight>,
    Path((element_key, encoded)): Path<(String, String)>,
    request: Request,
) -> Result<StatusCode, ApiError> {
    let id = decode_instance_id(&encoded).ok_or_else(|| {
        ApiError::NotFound(format!(
            "No instance at this URL: {encoded:?} is not the Base64 of an instance id. Copy eventsWebhookUrl from the instance."
        ))
    })?;
    receive(&state, &in_flight, &element_key, &[id], request).await
}

/// Receive a provider's events for the instances listed in `Element-Instances`.
#[utoipa::path(post, path = "/events/{elementKey}", tag = "events",
    security(()),
    params(
        ("elementKey" = String, Path, description = "The element key, e.g. hootsuite"),
        ("Element-Instances" = String, Header, description = "Comma-separated instance ids"),
    ),
    request_body(content = Vec<Object>),
    responses(
        (status = 200, description = "Stored durably; empty body"),
        (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 408, body = ErrorBody),
        (status = 413, body = ErrorBody, description = "Larger than events.max_body_bytes, or more events than events.max_events_per_webhook; not stored"),
        (status = 503, body = ErrorBody),
    ))]
async fn receive_for_listed_instances(
    State(state): State<AppState>,
    Extension(in_flight): Extension<InFlight>,
    Path(element_key): Path<String>,
    request: Request,
) -> Result<StatusCode, ApiError> {
    let listed = request
        .headers()
        .get("element-instances")
        .and_then(|v| v.to_str().ok())
        .ok_or_else(|| {
            ApiError::BadRequest(
                "Name the instance: POST to the instance's eventsWebhookUrl, or send Element-Instances: <id>[,<id>…]."
                    .into(),
            )
        })?;
    let ids = listed
        .split(',')
        .map(|id| id.trim().parse::<InstanceId>())
        .collect::<Result<Vec<_>, _>>()
        .map_err(|_| {
            ApiError::BadRequest(format!(
                "Element-Instances must list instance ids separated by commas, got {listed:?}."
            ))
        })?;
    if ids.is_empty() || ids.len() > 100 {
        return Err(ApiError::BadRequest(
            "Element-Instances must list 1 to 100 instance ids.".into(),
        ));
    }
    receive(&state, &in_flight, &element_key, &ids, request).await
}

async fn receive(
    state: &AppState,
    InFlight(in_flight): &InFlight,
    element_key: &str,
    ids: &[InstanceId],
    request: Request,
) -> Result<StatusCode, ApiError> {
    let element = state
        .elements
        .find(element_key)
        .filter(|e| e.key == element_key && e.webhook.is_some())
        .ok_or_else(|| ApiError::NotFound(format!("No element {element_key:?} receives webhooks here.")))?
        .clone();
    let mut targets = Vec::with_capacity(ids.len());
    let mut signatures = Vec::new();
    for &id in ids {
        let target = state
            .caches
            .targets
            .get(id, || state.store.event_target(id))
            .await?
            .filter(|t| t.element_key == element.key)
            .ok_or_else(|| ApiError::NotFound(format!("No {} instance {id} on this hub.", element.name)))?;
        state.limits.receiver(id)?;
        signatures.extend(signature(state, &element, &target, request.headers())?);
        targets.push(target);
    }
    let body = read_body(request, state, "events.max_body_bytes").await?;
    let _slot = in_flight.acquire().await.expect("the slots are never closed");
    for signature in &signatures {
        signature.verify(&body)?;
    }
    let received_at = store::now();
    let raw = serde_json::from_slice::<&RawValue>(&body)
        .map_err(|e| ApiError::BadRequest(format!("The body is not valid JSON: {e}.")))?;
    let limit = state.config.events.max_events_per_webhook;
    let batch = normalize::webhook(&element, raw, received_at, limit).map_err(|e| match e {
        NormalizeError::TooMany { found, limit } => ApiError::PayloadTooLarge(format!(
            "The body carries {found} events; this hub accepts at most {limit} in one webhook \
             (events.max_events_per_webhook). Send them in smaller batches."
        )),
        NormalizeError::Invalid(why) => {
            ApiError::BadRequest(format!("The body is not a {} webhook body: {why}.", element.name))
        }
    })?;
    for target in &targets {
        let accepted = state
            .ingest
            .accept(Arrival {
                target,
                source: EventSource::Webhook,
                raw,
                shape: batch.shape.into(),
                entries: &batch.entries,
                received_at,
            })
            .await?;
        tracing::debug!(instance = %target.instance, event = %accepted.event, status = accepted.status.as_str(), "webhook stored");
    }
    Ok(StatusCode::OK)
}

/// The instance id in a webhook URL: Base64 of its decimal digits, standard or URL-safe,
/// with or without padding.
pub fn decode_instance_id(encoded: &str) -> Option<InstanceId> {
    let config = GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent);
    let bytes = [alphabet::STANDARD, alphabet::URL_SAFE]
        .iter()
        .find_map(|alphabet| GeneralPurpose::new(alphabet, config).decode(encoded.trim()).ok())?;
    let digits = std::str::from_utf8(&bytes).ok()?;
    if !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok()
}

/// The signature a request must carry when its instance has a webhook secret: the header
/// must be there and well formed (checked before the body is read), and match the body
/// ([`Signature::verify`], once it is).
struct Signature<'a> {
    spec: &'a WebhookSignature,
    key: Vec<u8>,
    tag: Vec<u8>,
}

fn signature<'a>(
    state: &AppState,
    element: &'a Element,
    target: &EventTarget,
    headers: &HeaderMap,
) -> Result<Option<Signature<'a>>, ApiError> {
    let Some(spec) = element.webhook.as_ref().and_then(|w| w.signature.as_ref()) else {
        return Ok(None);
    };
    let Some(secret) = sealing::config_value(&state.cipher, target.instance, &target.config, &spec.config_key)
        .map_err(ApiError::internal)?
    else {
        return Ok(None);
    };
    let secret = secrecy::ExposeSecret::expose_secret(&secret);
    let key = match spec.key_encoding {
        KeyEncoding::Hex => hex::decode(secret).map_err(ApiError::internal)?,
        KeyEncoding::Utf8 => secret.as_bytes().to_vec(),
    };
    let given = headers
        .get(spec.header.as_str())
        .and_then(|v| v.to_str().ok())
        .ok_or_else(|| refused(spec, "Missing signature"))?;
    let tag = match spec.encoding {
        Encoding::Hex => hex::decode(given.trim()).ok(),
        Encoding::Base64 => base64::engine::general_purpose::STANDARD.decode(given.trim()).ok(),
    }
    .ok_or_else(|| refused(spec, "Malformed signature"))?;
    Ok(Some(Signature { spec, key, tag }))
}

impl Signature<'_> {
    fn verify(&self, body: &[u8]) -> Result<(), ApiError> {
        if hmac_sha256_verify(&self.key, body, &self.tag) {
            Ok(())
        } else {
            Err(refused(self.spec, "Signature mismatch"))
        }
    }
}

fn refused(spec: &WebhookSignature, why: &str) -> ApiError {
    ApiError::Unauthorized(format!(
        "{why}: this instance requires {} (HMAC-SHA256 of the body with its configured secret).",
        spec.header
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn instance_ids_decode_from_every_base64_form() {
        let id = InstanceId::from_stored(20931);
        for encoded in ["MjA5MzE=", "MjA5MzE", " MjA5MzE= "] {
            assert_eq!(decode_instance_id(encoded), Some(id), "{encoded}");
        }
        // Ids whose Base64 needs the URL-safe alphabet do not occur (digits only encode to
        // letters, digits and '='), but a URL-safe sender is still understood.
        assert_eq!(
            decode_instance_id("NDUwMzU5OTYyNzM3MDQ5Ng"),
            "4503599627370496".parse().ok()
        );
        for bad in ["", "!!!", "YWJj", "MA==", "LTE=", "MS41", "MjA5MzE==="] {
            assert_eq!(decode_instance_id(bad), None, "{bad}");
        }
    }
}
