//! The callback receiver: an application listening on loopback for the hub's notifications.
//!
//! It checks each one's Standard Webhooks signature, records its `webhook-id`, its event
//! objects and the raw `seq_no`s, and answers 200 once it has recorded it. It can hold each
//! request a while, so that the same notification sent by two nodes at once shows as two
//! requests in flight with one `webhook-id`. It can go down (its port refuses connections)
//! and come back on the same port, or answer errors for a while, or leave one instance's
//! notifications unanswered (a black hole: the hub's request times out).

use std::{
    collections::{HashMap, HashSet},
    net::SocketAddr,
    sync::{Arc, Mutex},
    time::Duration,
};

use anyhow::Context;
use axum::{
    body::Bytes,
    extract::State,
    http::{HeaderMap, StatusCode},
};
use base64::{Engine, engine::general_purpose::STANDARD};
use serde_json::Value;
use tokio::{net::TcpListener, sync::watch, task::JoinHandle, time::Instant};

/// Standard Webhooks' tolerance for `webhook-timestamp`.
const TIMESTAMP_TOLERANCE_SECS: i64 = 300;

/// One notification the receiver answered 200.
#[derive(Debug, Clone)]
pub struct Notification {
    pub webhook_id: String,
    pub instance: i64,
    /// `message.events[]`: (`objectId`, `eventType`).
    pub objects: Vec<(String, String)>,
    /// The `seq_no` of each provider event in `message.raw` (none for polled records).
    pub raw_seq_nos: Vec<String>,
    /// When its request arrived.
    pub at: Instant,
}

#[derive(Default)]
struct Book {
    notifications: Vec<Notification>,
    /// Requests with this `webhook-id` being answered right now.
    in_flight: HashMap<String, usize>,
    /// `webhook-id`s that arrived while a request with the same id was still in flight.
    overlaps: Vec<String>,
    /// Notifications that failed a check (signature, shape), with the reason.
    rejected: Vec<String>,
}

struct Shared {
    hold: Duration,
    /// When set, requests are answered with this status and not recorded.
    failing: Mutex<Option<StatusCode>>,
    /// Instances whose notifications get no answer at all.
    silenced: Mutex<HashSet<i64>>,
    /// The key of each instance's `whsec_` secret.
    keys: Mutex<HashMap<i64, Vec<u8>>>,
    book: Mutex<Book>,
}

pub struct Receiver {
    addr: SocketAddr,
    shared: Arc<Shared>,
    server: Option<(watch::Sender<bool>, JoinHandle<()>)>,
}

impl Receiver {
    /// Starts on a free loopback port; each request is held `hold` before it is answered.
    pub async fn start(hold: Duration) -> anyhow::Result<Self> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let mut receiver = Self {
            addr: listener.local_addr()?,
            shared: Arc::new(Shared {
                hold,
                failing: Mutex::default(),
                silenced: Mutex::default(),
                keys: Mutex::default(),
                book: Mutex::default(),
            }),
            server: None,
        };
        receiver.serve(listener);
        Ok(receiver)
    }

    /// The callback URL to configure on instances.
    pub fn url(&self) -> String {
        format!("http://{}/events", self.addr)
    }

    /// Checks the instance's notifications against this `whsec_` secret.
    pub fn trust(&self, instance: i64, secret: &str) -> anyhow::Result<()> {
        let key = secret
            .strip_prefix("whsec_")
            .and_then(|k| STANDARD.decode(k).ok())
            .with_context(|| format!("instance {instance}'s signing secret is not a whsec_ secret"))?;
        self.shared.keys.lock().expect("keys").insert(instance, key);
        Ok(())
    }

    /// Stops listening (connections are refused) once the requests in flight are answered.
    pub async fn down(&mut self) {
        if let Some((stop, server)) = self.server.take() {
            let _ = stop.send(true);
            let _ = server.await;
        }
    }

    /// Listens again on the same port.
    pub async fn up(&mut self) -> anyhow::Result<()> {
        let deadline = Instant::now() + Duration::from_secs(10);
        let listener = loop {
            match TcpListener::bind(self.addr).await {
                Ok(listener) => break listener,
                // The port was just released; it can take a moment to be free again.
                Err(_) if Instant::now() < deadline => tokio::time::sleep(Duration::from_millis(100)).await,
                Err(error) => return Err(error).with_context(|| format!("listening on {} again", self.addr)),
            }
        };
        self.serve(listener);
        Ok(())
    }

    /// Answers every request with `status` (not recording it) until called with `None`.
    pub fn fail_with(&self, status: Option<StatusCode>) {
        *self.shared.failing.lock().expect("failing") = status;
    }

    /// Leaves the instance's notifications unanswered (the request is read, then nothing:
    /// the hub times out and hangs up), or answers them again.
    pub fn silence(&self, instance: i64, silent: bool) {
        let mut silenced = self.shared.silenced.lock().expect("silenced");
        if silent {
            silenced.insert(instance);
        } else {
            silenced.remove(&instance);
        }
    }

    /// For each event object of `instance` that arrived: when it first did.
    pub fn first_arrivals(&self, instance: i64) -> HashMap<String, Instant> {
        let book = self.shared.book.lock().expect("book");
        let mut first: HashMap<String, Instant> = HashMap::new();
        for notification in book.notifications.iter().filter(|n| n.instance == instance) {
            for (object, _) in &notification.objects {
                first
                    .entry(object.clone())
                    .and_modify(|at| *at = (*at).min(notification.at))
                    .or_insert(notification.at);
            }
        }
        first
    }

    pub fn notifications(&self) -> Vec<Notification> {
        self.shared.book.lock().expect("book").notifications.clone()
    }

    /// For each event object of `instance` that arrived: the `webhook-id` of every copy.
    pub fn copies(&self, instance: i64) -> HashMap<String, Vec<String>> {
        let book = self.shared.book.lock().expect("book");
        let mut copies: HashMap<String, Vec<String>> = HashMap::new();
        for notification in book.notifications.iter().filter(|n| n.instance == instance) {
            for (object, _) in &notification.objects {
                copies
                    .entry(object.clone())
                    .or_default()
                    .push(notification.webhook_id.clone());
            }
        }
        copies
    }

    pub fn overlaps(&self) -> Vec<String> {
        self.shared.book.lock().expect("book").overlaps.clone()
    }

    pub fn rejected(&self) -> Vec<String> {
        self.shared.book.lock().expect("book").rejected.clone()
    }

    fn serve(&mut self, listener: TcpListener) {
        let (stop, mut stopped) = watch::channel(false);
        let app = axum::Router::new()
            .route("/events", axum::routing::post(receive))
            .with_state(self.shared.clone());
        let server = tokio::spawn(async move {
            let _ = axum::serve(listener, app)
                .with_graceful_shutdown(async move {
                    let _ = stopped.wait_for(|stop| *stop).await;
                })
                .await;
        });
        self.server = Some((stop, server));
    }
}

/// Marks a `webhook-id` in flight for as long as it lives, even when the sender hangs up
/// (a killed node) and the request is dropped half-way.
struct InFlight {
    shared: Arc<Shared>,
    id: String,
}

impl InFlight {
    fn enter(shared: &Arc<Shared>, id: &str) -> Self {
        let mut book = shared.book.lock().expect("book");
        let count = book.in_flight.entry(id.to_string()).or_default();
        *count += 1;
        if *count > 1 {
            book.overlaps.push(id.to_string());
        }
        Self {
            shared: shared.clone(),
            id: id.to_string(),
        }
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        let mut book = self.shared.book.lock().expect("book");
        if let Some(count) = book.in_flight.get_mut(&self.id) {
            *count -= 1;
            if *count == 0 {
                book.in_flight.remove(&self.id);
            }
        }
    }
}

async fn receive(State(shared): State<Arc<Shared>>, headers: HeaderMap, body: Bytes) -> StatusCode {
    let arrived = Instant::now();
    let instance = serde_json::from_slice::<Value>(&body)
        .ok()
        .and_then(|envelope| envelope["message"]["instanceId"].as_i64());
    if instance.is_some_and(|instance| shared.silenced.lock().expect("silenced").contains(&instance)) {
        std::future::pending::<()>().await;
    }
    let id = headers
        .get("webhook-id")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string();
    let _in_flight = InFlight::enter(&shared, &id);
    tokio::time::sleep(shared.hold).await;
    if let Some(status) = *shared.failing.lock().expect("failing") {
        return status;
    }
    let checked = check(&shared, &id, &headers, &body, arrived);
    let mut book = shared.book.lock().expect("book");
    match checked {
        Ok(notification) => book.notifications.push(notification),
        Err(reason) => book.rejected.push(format!("webhook-id {id:?}: {reason}")),
    }
    // A notification that fails a check is still answered 200: the failure is the
    // suite's finding, and a retry would only repeat it.
    StatusCode::OK
}

/// Verifies the signature and reads the notification's ids.
fn check(shared: &Shared, id: &str, headers: &HeaderMap, body: &[u8], at: Instant) -> Result<Notification, String> {
    let header = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .ok_or_else(|| format!("no {name} header"))
    };
    let timestamp = header("webhook-timestamp")?;
    let signatures = header("webhook-signature")?;
    let envelope: Value = serde_json::from_slice(body).map_err(|e| format!("the body is not JSON: {e}"))?;
    if envelope["id"].as_str() != Some(id) {
        return Err(format!("the body's id {} is not the webhook-id", envelope["id"]));
    }
    let message = &envelope["message"];
    let instance = message["instanceId"]
        .as_i64()
        .ok_or("no message.instanceId in the body")?;
    let age = chrono::Utc::now().timestamp()
        - timestamp
            .parse::<i64>()
            .map_err(|_| "a webhook-timestamp that is not a number")?;
    if age.abs() > TIMESTAMP_TOLERANCE_SECS {
        return Err(format!("webhook-timestamp is {age} s off"));
    }
    let key = shared
        .keys
        .lock()
        .expect("keys")
        .get(&instance)
        .cloned()
        .ok_or_else(|| format!("a notification for instance {instance}, whose secret the receiver was not given"))?;
    let signed = [id.as_bytes(), b".", timestamp.as_bytes(), b".", body].concat();
    let valid = signatures.split(' ').any(|signature| {
        signature
            .strip_prefix("v1,")
            .and_then(|s| STANDARD.decode(s).ok())
            .is_some_and(|tag| tributary::crypto::hmac_sha256_verify(&key, &signed, &tag))
    });
    if !valid {
        return Err(format!("no valid signature in webhook-signature {signatures:?}"));
    }
    let objects = message["events"]
        .as_array()
        .ok_or("no message.events array")?
        .iter()
        .map(|event| {
            let field = |name: &str| event[name].as_str().map(str::to_owned);
            field("objectId")
                .zip(field("eventType"))
                .ok_or_else(|| format!("an event without objectId or eventType: {event}"))
        })
        .collect::<Result<Vec<_>, _>>()?;
    let raw_seq_nos = message["raw"]
        .as_array()
        .map(|raw| {
            raw.iter()
                .filter_map(|r| r["seq_no"].as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default();
    Ok(Notification {
        webhook_id: id.to_string(),
        instance,
        objects,
        raw_seq_nos,
        at,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

    /// A notification for instance 7 carrying event `object`, signed with `SECRET` (or not).
    fn notification(
        http: &reqwest::Client,
        url: &str,
        id: &str,
        object: &str,
        signed: bool,
    ) -> reqwest::RequestBuilder {
        let body = serde_json::json!({
            "id": id,
            "message": {
                "instanceId": 7,
                "events": [{"objectId": object, "eventType": "UPDATED"}],
                "raw": [{"seq_no": object}],
            }
        })
        .to_string();
        let timestamp = chrono::Utc::now().timestamp().to_string();
        let key = STANDARD.decode(SECRET.trim_start_matches("whsec_")).unwrap();
        let mac = tributary::crypto::hmac_sha256(&key, format!("{id}.{timestamp}.{body}").as_bytes());
        let signature = if signed {
            STANDARD.encode(mac)
        } else {
            STANDARD.encode([0u8; 32])
        };
        http.post(url)
            .header("webhook-id", id)
            .header("webhook-timestamp", timestamp)
            .header("webhook-signature", format!("v1,{signature}"))
            .body(body)
    }

    #[tokio::test]
    async fn records_signed_notifications_and_rejects_forged_ones() {
        let receiver = Receiver::start(Duration::ZERO).await.unwrap();
        receiver.trust(7, SECRET).unwrap();
        let http = reqwest::Client::new();
        for (id, object, signed) in [("a", "1", true), ("b", "2", false)] {
            let status = notification(&http, &receiver.url(), id, object, signed)
                .send()
                .await
                .unwrap()
                .status();
            assert_eq!(status, 200);
        }
        let copies = receiver.copies(7);
        assert_eq!(copies.get("1"), Some(&vec!["a".to_string()]));
        assert!(!copies.contains_key("2"));
        assert_eq!(receiver.rejected().len(), 1, "{:?}", receiver.rejected());
    }

    #[tokio::test]
    async fn sees_one_notification_in_flight_twice() {
        let receiver = Receiver::start(Duration::from_millis(200)).await.unwrap();
        receiver.trust(7, SECRET).unwrap();
        let http = reqwest::Client::new();
        let (first, second) = tokio::join!(
            notification(&http, &receiver.url(), "same", "1", true).send(),
            notification(&http, &receiver.url(), "same", "1", true).send(),
        );
        assert!(first.is_ok() && second.is_ok());
        assert_eq!(receiver.overlaps(), vec!["same".to_string()]);
        // One after the other is a retry, not an overlap.
        notification(&http, &receiver.url(), "other", "2", true)
            .send()
            .await
            .unwrap();
        notification(&http, &receiver.url(), "other", "2", true)
            .send()
            .await
            .unwrap();
        assert_eq!(receiver.overlaps().len(), 1);
    }

    #[tokio::test]
    async fn leaves_a_silenced_instance_unanswered() {
        let receiver = Receiver::start(Duration::ZERO).await.unwrap();
        receiver.trust(7, SECRET).unwrap();
        let http = reqwest::Client::new();
        receiver.silence(7, true);
        let unanswered = notification(&http, &receiver.url(), "a", "1", true)
            .timeout(Duration::from_millis(300))
            .send()
            .await;
        assert!(unanswered.is_err_and(|e| e.is_timeout()));
        receiver.silence(7, false);
        let answered = notification(&http, &receiver.url(), "b", "1", true)
            .send()
            .await
            .unwrap();
        assert_eq!(answered.status(), 200);
        assert_eq!(receiver.copies(7)["1"], ["b"]);
        assert_eq!(receiver.first_arrivals(7).len(), 1);
    }

    #[tokio::test]
    async fn refuses_connections_while_down_and_comes_back_on_the_same_port() {
        let mut receiver = Receiver::start(Duration::ZERO).await.unwrap();
        receiver.trust(7, SECRET).unwrap();
        let http = reqwest::Client::new();
        receiver.down().await;
        assert!(
            notification(&http, &receiver.url(), "a", "1", true)
                .send()
                .await
                .is_err()
        );
        receiver.fail_with(Some(StatusCode::INTERNAL_SERVER_ERROR));
        receiver.up().await.unwrap();
        let failed = notification(&http, &receiver.url(), "a", "1", true)
            .send()
            .await
            .unwrap();
        assert_eq!(failed.status(), 500);
        receiver.fail_with(None);
        let answered = notification(&http, &receiver.url(), "a", "1", true)
            .send()
            .await
            .unwrap();
        assert_eq!(answered.status(), 200);
        assert_eq!(receiver.copies(7).len(), 1);
    }
}
