//! The callback sink: an axum server on loopback standing in for a customer's callback URL.
//! It answers at once, checks every notification's Standard Webhooks signature against its
//! instance's `whsec_` secret (the instance is in the path: `/events/<instance id>`), counts
//! what it got, and tells the [`Ledger`] which events arrived, for end-to-end latency.
//!
//! It can also answer 410 Gone, which makes the hub deactivate an instance's subscription
//! and park what arrives next: the way to build a backlog through the hub's own API.

use std::{
    collections::{HashMap, HashSet},
    hash::{DefaultHasher, Hash, Hasher},
    net::SocketAddr,
    sync::{
        Arc, Mutex, RwLock,
        atomic::{AtomicBool, AtomicU64, Ordering},
    },
};

use axum::{
    Router,
    body::Bytes,
    extract::{Path, State},
    http::{HeaderMap, StatusCode},
    routing::post,
};
use base64::{Engine, engine::general_purpose::STANDARD};
use hmac::{Hmac, KeyInit, Mac};
use serde::Deserialize;
use sha2::Sha256;
use tokio::time::Instant;

use crate::load::Ledger;

#[derive(Default)]
struct Shared {
    /// Decoded signing keys by instance id.
    keys: RwLock<HashMap<i64, Vec<u8>>>,
    gone: AtomicBool,
    received: AtomicU64,
    bad_signatures: AtomicU64,
    /// Deliveries seen before under the same `webhook-id` (at-least-once retries).
    redelivered: AtomicU64,
    seen: Mutex<HashSet<u64>>,
    first_bad: Mutex<Option<String>>,
    ledger: RwLock<Option<Arc<Ledger>>>,
}

/// A running sink; it stops when dropped.
pub struct Sink {
    pub addr: SocketAddr,
    shared: Arc<Shared>,
    server: tokio::task::JoinHandle<()>,
}

impl Drop for Sink {
    fn drop(&mut self) {
        self.server.abort();
    }
}

#[derive(Debug, Clone, Copy)]
pub struct Counts {
    pub received: u64,
    pub bad_signatures: u64,
    pub redelivered: u64,
}

impl Sink {
    pub async fn start() -> anyhow::Result<Self> {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let shared = Arc::new(Shared::default());
        let app = Router::new()
            .route("/events/{instance}", post(receive))
            .with_state(shared.clone());
        let server = tokio::spawn(async move {
            if let Err(error) = axum::serve(listener, app).await {
                eprintln!("sink: {error}");
            }
        });
        Ok(Self { addr, shared, server })
    }

    /// The callback URL for an instance.
    pub fn url(&self, instance: i64) -> String {
        format!("http://{}/events/{instance}", self.addr)
    }

    /// Registers an instance's `whsec_` secret.
    pub fn trust(&self, instance: i64, secret: &str) -> anyhow::Result<()> {
        let key = secret
            .strip_prefix("whsec_")
            .ok_or_else(|| anyhow::anyhow!("a Standard Webhooks secret starts with whsec_"))?;
        let key = STANDARD.decode(key)?;
        self.shared.keys.write().expect("never poisoned").insert(instance, key);
        Ok(())
    }

    /// Answer 410 Gone (true) or 200 (false) from now on.
    pub fn set_gone(&self, gone: bool) {
        self.shared.gone.store(gone, Ordering::SeqCst);
    }

    pub fn set_ledger(&self, ledger: Option<Arc<Ledger>>) {
        *self.shared.ledger.write().expect("never poisoned") = ledger;
    }

    pub fn counts(&self) -> Counts {
        Counts {
            received: self.shared.received.load(Ordering::SeqCst),
            bad_signatures: self.shared.bad_signatures.load(Ordering::SeqCst),
            redelivered: self.shared.redelivered.load(Ordering::SeqCst),
        }
    }

    /// Why the first bad signature was bad, if one was.
    pub fn first_bad(&self) -> Option<String> {
        self.shared.first_bad.lock().expect("never poisoned").clone()
    }
}

async fn receive(
    State(shared): State<Arc<Shared>>,
    Path(instance): Path<i64>,
    headers: HeaderMap,
    body: Bytes,
) -> StatusCode {
    let at = Instant::now();
    shared.received.fetch_add(1, Ordering::SeqCst);
    if let Err(why) = verify(&shared, instance, &headers, &body) {
        shared.bad_signatures.fetch_add(1, Ordering::SeqCst);
        shared.first_bad.lock().expect("never poisoned").get_or_insert(why);
    }
    if let Some(id) = headers.get("webhook-id") {
        let mut hasher = DefaultHasher::new();
        id.as_bytes().hash(&mut hasher);
        if !shared.seen.lock().expect("never poisoned").insert(hasher.finish()) {
            shared.redelivered.fetch_add(1, Ordering::SeqCst);
        }
    }
    let ledger = shared.ledger.read().expect("never poisoned").clone();
    if let Some(ledger) = ledger
        && let Ok(notification) = serde_json::from_slice::<Notification>(&body)
    {
        for event in notification.message.events {
            if let Ok(id) = event.object_id.parse() {
                ledger.received(id, at);
            }
        }
    }
    if shared.gone.load(Ordering::SeqCst) {
        StatusCode::GONE
    } else {
        StatusCode::OK
    }
}

#[derive(Deserialize)]
struct Notification {
    message: Message,
}

#[derive(Deserialize)]
struct Message {
    events: Vec<Event>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Event {
    object_id: String,
}

/// Standard Webhooks: `webhook-signature` holds space-separated `v1,<Base64 HMAC-SHA256>`
/// over `"{webhook-id}.{webhook-timestamp}.{body}"`; one of them must match.
fn verify(shared: &Shared, instance: i64, headers: &HeaderMap, body: &[u8]) -> Result<(), String> {
    let header = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .ok_or_else(|| format!("no {name} header"))
    };
    let (id, timestamp, signatures) = (
        header("webhook-id")?,
        header("webhook-timestamp")?,
        header("webhook-signature")?,
    );
    let keys = shared.keys.read().expect("never poisoned");
    let key = keys
        .get(&instance)
        .ok_or_else(|| format!("no secret for instance {instance}"))?;
    let mut mac = Hmac::<Sha256>::new_from_slice(key).map_err(|e| e.to_string())?;
    mac.update(id.as_bytes());
    mac.update(b".");
    mac.update(timestamp.as_bytes());
    mac.update(b".");
    mac.update(body);
    let expected = STANDARD.encode(mac.finalize().into_bytes());
    signatures
        .split(' ')
        .any(|s| s.strip_prefix("v1,") == Some(expected.as_str()))
        .then_some(())
        .ok_or_else(|| format!("webhook-signature {signatures:?} does not match (instance {instance})"))
}

/// Signs like the hub does, for the sink's own ceiling (a client sending it notifications).
pub fn sign(secret: &str, id: &str, timestamp: i64, body: &[u8]) -> anyhow::Result<String> {
    let key = STANDARD.decode(secret.strip_prefix("whsec_").unwrap_or(secret))?;
    let mut mac = Hmac::<Sha256>::new_from_slice(&key)?;
    mac.update(format!("{id}.{timestamp}.").as_bytes());
    mac.update(body);
    Ok(format!("v1,{}", STANDARD.encode(mac.finalize().into_bytes())))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn standard_webhooks_test_vector() {
        // From the Standard Webhooks specification's reference libraries.
        assert_eq!(
            sign(
                "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
                "msg_p5jXN8AQM9LWM0D4loKWxJek",
                1614265330,
                br#"{"test": 2432232314}"#
            )
            .unwrap(),
            "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
        );
    }

    #[test]
    fn verification_accepts_any_listed_signature() {
        let shared = Shared::default();
        let secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
        shared
            .keys
            .write()
            .unwrap()
            .insert(7, STANDARD.decode(&secret[6..]).unwrap());
        let mut headers = HeaderMap::new();
        headers.insert("webhook-id", "msg_p5jXN8AQM9LWM0D4loKWxJek".parse().unwrap());
        headers.insert("webhook-timestamp", "1614265330".parse().unwrap());
        headers.insert(
            "webhook-signature",
            "v1,bm90IGl0 v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
                .parse()
                .unwrap(),
        );
        assert!(verify(&shared, 7, &headers, br#"{"test": 2432232314}"#).is_ok());
        assert!(verify(&shared, 7, &headers, br#"{"test": 1}"#).is_err());
        assert!(verify(&shared, 8, &headers, br#"{"test": 2432232314}"#).is_err());
    }
}
