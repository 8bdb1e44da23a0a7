//! Sending: the background task that POSTs due batches (one in flight per URL), pings, and the
//! flush that tests use instead of waiting for the batch interval.

use std::sync::Arc;
use std::time::Duration;

use reqwest::header::CONTENT_TYPE;
use serde_json::{Value, json};
use tokio::task::JoinSet;
use tokio::time::Instant;

use super::outbox::Dispatch;
use super::{Delivery, Event, PING_EVENT, sign};
use crate::state::Sim;

/// Hootsuite: "the response must be ≤ 32KB"; a longer one fails the delivery.
const MAX_RESPONSE_BYTES: usize = 32 * 1024;

/// How a receiver answered one POST.
struct Answer {
    status: Option<u16>,
    error: Option<String>,
    signature: Option<String>,
}

impl Answer {
    fn succeeded(&self) -> bool {
        self.error.is_none() && self.status.is_some_and(|s| (200..300).contains(&s))
    }
}

async fn post(http: &reqwest::Client, url: &str, body: Vec<u8>, key: Option<&[u8]>, timeout: Duration) -> Answer {
    let signature = key.map(|key| sign(key, &body));
    let mut request = http.post(url).header(CONTENT_TYPE, "application/json").body(body);
    if let Some(signature) = &signature {
        request = request.header("X-Hootsuite-Signature", signature);
    }
    let exchange = async {
        let mut response = request.send().await?;
        let status = response.status().as_u16();
        let mut size = 0;
        while let Some(chunk) = response.chunk().await? {
            size += chunk.len();
            if size > MAX_RESPONSE_BYTES {
                return Ok((status, Some("response body exceeds 32 KB".to_owned())));
            }
        }
        Ok::<_, reqwest::Error>((status, None))
    };
    let (status, error) = match tokio::time::timeout(timeout, exchange).await {
        Ok(Ok((status, error))) => (Some(status), error),
        Ok(Err(error)) => (None, Some(error.to_string())),
        Err(_) => (None, Some(format!("no response within {timeout:?}"))),
    };
    Answer {
        status,
        error,
        signature,
    }
}

/// Runs until aborted: starts every due batch, then sleeps until the next deadline or until the
/// outbox changes.
pub async fn run(sim: Arc<Sim>) {
    let mut attempts = JoinSet::new();
    loop {
        let (due, wake) = sim.with_world(|w| {
            let policy = w.webhook_policy();
            w.webhooks.outbox.take_due(Instant::now(), &policy)
        });
        for dispatch in due {
            attempts.spawn(deliver(sim.clone(), dispatch));
        }
        let deadline = wake.unwrap_or_else(|| Instant::now() + Duration::from_secs(3600));
        tokio::select! {
            () = sim.dispatcher_wake.notified() => {}
            () = tokio::time::sleep_until(deadline) => {}
            Some(_) = attempts.join_next(), if !attempts.is_empty() => {}
        }
    }
}

async fn deliver(sim: Arc<Sim>, dispatch: Dispatch) {
    let (key, timeout) = sim.with_world(|w| (w.webhook_secret(&dispatch.url), w.config.webhook_timeout));
    let answer = post(&sim.http, &dispatch.url, dispatch.body, key.as_deref(), timeout).await;
    let at = sim.clock.now();
    sim.with_world(|w| {
        let policy = w.webhook_policy();
        w.webhooks
            .outbox
            .record(&dispatch.url, answer.succeeded(), Instant::now(), &policy);
        w.webhooks.log(Delivery {
            url: dispatch.url,
            attempt: dispatch.attempt,
            status: answer.status,
            error: answer.error,
            seq_nos: dispatch.seq_nos,
            body: dispatch.events,
            signature: answer.signature,
            at,
        });
    });
    sim.delivery_progress.notify_waiters();
}

/// Sends `[{"type":"com.hootsuite.ping.event.v1","data":{}}]` now. A 2xx re-enables the URL if
/// it was disabled. Returns what the receiver answered.
pub async fn ping(sim: &Sim, url: &str) -> Value {
    let events = vec![Event {
        seq_no: None,
        kind: PING_EVENT,
        data: json!({}),
    }];
    let body = serde_json::to_vec(&events).expect("ping serializes");
    let (key, timeout) = sim.with_world(|w| (w.webhook_secret(url), w.config.webhook_timeout));
    let answer = post(&sim.http, url, body, key.as_deref(), timeout).await;
    let at = sim.clock.now();
    let re_enabled = sim.with_world(|w| {
        let re_enabled = answer.succeeded() && w.webhooks.outbox.re_enable(url, Instant::now());
        w.webhooks.log(Delivery {
            url: url.to_owned(),
            attempt: 1,
            status: answer.status,
            error: answer.error.clone(),
            seq_nos: Vec::new(),
            body: serde_json::to_value(&events).expect("ping serializes"),
            signature: answer.signature.clone(),
            at,
        });
        re_enabled
    });
    json!({
        "url": url,
        "status": answer.status,
        "error": answer.error,
        "reEnabled": re_enabled,
    })
}

/// Sends everything pending to enabled URLs now, ignoring batch intervals and retry backoff, and
/// returns once each of them has delivered all of it or failed an attempt.
pub async fn flush(sim: &Sim) -> Vec<String> {
    let urls = sim.with_world(|w| w.webhooks.outbox.request_flush());
    loop {
        let progressed = sim.delivery_progress.notified();
        tokio::pin!(progressed);
        progressed.as_mut().enable();
        if !sim.with_world(|w| w.webhooks.outbox.is_flushing(&urls)) {
            return urls;
        }
        progressed.await;
    }
}
