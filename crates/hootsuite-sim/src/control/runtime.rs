//! Control of the simulator itself: runtime configuration, the clock offset, and injected faults.

use std::sync::Arc;
use std::time::Duration;

use axum::Json;
use axum::extract::State;
use serde::Deserialize;
use serde_json::{Value, json};

use super::{ControlError, ControlResult};
use crate::SimConfig;
use crate::clock::format_millis;
use crate::faults::Fault;
use crate::state::Sim;

fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

fn config_json(c: &SimConfig) -> Value {
    json!({
        "accessTokenTtlSecs": c.access_token_ttl.as_secs(),
        "codeTtlSecs": c.code_ttl.as_secs(),
        "rateLimitPerSecond": c.rate_limit_per_second,
        "dailyQuota": c.daily_quota,
        "webhookBatchIntervalMs": millis(c.webhook_batch_interval),
        "webhookBatchMax": c.webhook_batch_max,
        "webhookTimeoutMs": millis(c.webhook_timeout),
        "webhookRetryBackoffMs": c.webhook_retry_backoff.iter().copied().map(millis).collect::<Vec<_>>(),
        "webhookDisableAfter": c.webhook_disable_after,
        "strictWebhookUrls": c.strict_webhook_urls,
        "autoPublish": c.auto_publish,
        "autoPublishIntervalMs": millis(c.auto_publish_interval),
    })
}

pub async fn config(State(sim): State<Arc<Sim>>) -> Json<Value> {
    Json(sim.with_world(|w| config_json(&w.config)))
}

/// Every field of `GET /_sim/config` may be changed; absent fields stay as they are.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ConfigPatch {
    access_token_ttl_secs: Option<u64>,
    code_ttl_secs: Option<u64>,
    rate_limit_per_second: Option<u32>,
    daily_quota: Option<u32>,
    webhook_batch_interval_ms: Option<u64>,
    webhook_batch_max: Option<usize>,
    webhook_timeout_ms: Option<u64>,
    webhook_retry_backoff_ms: Option<Vec<u64>>,
    webhook_disable_after: Option<u32>,
    strict_webhook_urls: Option<bool>,
    auto_publish: Option<bool>,
    auto_publish_interval_ms: Option<u64>,
}

pub async fn update_config(State(sim): State<Arc<Sim>>, Json(patch): Json<ConfigPatch>) -> Json<Value> {
    let view = sim.with_world(|w| {
        let c = &mut w.config;
        let secs = Duration::from_secs;
        let ms = Duration::from_millis;
        if let Some(v) = patch.access_token_ttl_secs {
            c.access_token_ttl = secs(v);
        }
        if let Some(v) = patch.code_ttl_secs {
            c.code_ttl = secs(v);
        }
        if let Some(v) = patch.rate_limit_per_second {
            c.rate_limit_per_second = v;
        }
        if let Some(v) = patch.daily_quota {
            c.daily_quota = v;
        }
        if let Some(v) = patch.webhook_batch_interval_ms {
            c.webhook_batch_interval = ms(v);
        }
        if let Some(v) = patch.webhook_batch_max {
            c.webhook_batch_max = v;
        }
        if let Some(v) = patch.webhook_timeout_ms {
            c.webhook_timeout = ms(v);
        }
        if let Some(v) = patch.webhook_retry_backoff_ms {
            c.webhook_retry_backoff = v.into_iter().map(ms).collect();
        }
        if let Some(v) = patch.webhook_disable_after {
            c.webhook_disable_after = v;
        }
        if let Some(v) = patch.strict_webhook_urls {
            c.strict_webhook_urls = v;
        }
        if let Some(v) = patch.auto_publish {
            c.auto_publish = v;
        }
        if let Some(v) = patch.auto_publish_interval_ms {
            c.auto_publish_interval = ms(v);
        }
        config_json(c)
    });
    // Batch deadlines depend on the configuration; let the dispatcher recompute them.
    sim.dispatcher_wake.notify_one();
    Json(view)
}

fn clock_json(sim: &Sim) -> Value {
    json!({ "offsetSecs": sim.clock.offset_secs(), "now": format_millis(sim.clock.now()) })
}

pub async fn clock(State(sim): State<Arc<Sim>>) -> Json<Value> {
    Json(clock_json(&sim))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ClockOffset {
    offset_secs: i64,
}

/// Sets (not adds to) the offset between the simulator's clock and the wall clock.
pub async fn set_clock(State(sim): State<Arc<Sim>>, Json(body): Json<ClockOffset>) -> Json<Value> {
    sim.clock.set_offset_secs(body.offset_secs);
    Json(clock_json(&sim))
}

pub async fn faults(State(sim): State<Arc<Sim>>) -> Json<Value> {
    Json(sim.with_world(|w| w.faults.to_json()))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct NewFault {
    path_prefix: String,
    status: u16,
    #[serde(default = "one")]
    count: u32,
    #[serde(default)]
    delay_ms: u64,
}

fn one() -> u32 {
    1
}

pub async fn add_fault(State(sim): State<Arc<Sim>>, Json(body): Json<NewFault>) -> ControlResult {
    let valid_status = body.status == 0 || (100..=599).contains(&body.status);
    if !valid_status || body.count == 0 || (body.status == 0 && body.delay_ms == 0) {
        return Err(ControlError::bad_request(
            "status must be 0 (delay only, needs delayMs) or an HTTP status, and count at least 1",
        ));
    }
    if body.path_prefix.starts_with("/_sim") || !body.path_prefix.starts_with('/') {
        return Err(ControlError::bad_request(
            "pathPrefix must be a path on Hootsuite's surface, such as /v1/messages",
        ));
    }
    Ok(Json(sim.with_world(|w| {
        w.faults.add(Fault {
            path_prefix: body.path_prefix,
            status: body.status,
            remaining: body.count,
            delay: Duration::from_millis(body.delay_ms),
        });
        w.faults.to_json()
    })))
}

pub async fn clear_faults(State(sim): State<Arc<Sim>>) -> Json<Value> {
    Json(sim.with_world(|w| {
        w.faults.clear();
        w.faults.to_json()
    }))
}
