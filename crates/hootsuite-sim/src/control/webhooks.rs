//! Control of webhook delivery: the delivery log, per-URL status, flushing, pings, and signing
//! secrets for ad-hoc URLs.

use std::sync::Arc;

use axum::Json;
use axum::extract::State;
use serde::Deserialize;
use serde_json::{Value, json};

use super::{ControlError, ControlResult};
use crate::state::Sim;
use crate::webhooks::{check_secret, dispatcher};

pub async fn deliveries(State(sim): State<Arc<Sim>>) -> Json<Value> {
    Json(sim.with_world(|w| w.webhooks.deliveries_json()))
}

pub async fn urls(State(sim): State<Arc<Sim>>) -> Json<Value> {
    Json(sim.with_world(|w| w.webhooks.outbox.status_json()))
}

pub async fn flush(State(sim): State<Arc<Sim>>) -> Json<Value> {
    let flushed = dispatcher::flush(&sim).await;
    Json(json!({ "flushed": flushed }))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PingTarget {
    url: String,
}

pub async fn ping(State(sim): State<Arc<Sim>>, Json(target): Json<PingTarget>) -> Json<Value> {
    Json(dispatcher::ping(&sim, &target.url).await)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UrlSecret {
    url: String,
    secret: Option<String>,
}

/// Sets (hex) or clears (`null`) the signing secret of any URL; it wins over an app's secret.
pub async fn set_secret(State(sim): State<Arc<Sim>>, Json(body): Json<UrlSecret>) -> ControlResult {
    if let Some(secret) = &body.secret {
        check_secret(secret).map_err(ControlError::bad_request)?;
    }
    sim.with_world(|w| w.webhooks.set_secret(&body.url, body.secret.clone()));
    Ok(Json(json!({ "url": body.url, "secret": body.secret })))
}
