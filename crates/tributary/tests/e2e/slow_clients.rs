//! Clients that hold the hub's connections without finishing a request, over raw TCP:
//! bodies trickled a byte at a time, headers that never end, keep-alive connections left
//! idle, more connections than the hub takes. None may keep the receiver from acknowledging
//! another instance's webhooks, and each is cut after its timeout (docs/reliability.md,
//! "Slow and idle clients"). SQLite only: storage plays no part.

use std::time::Duration;

use base64::{Engine, engine::general_purpose::STANDARD};
use reqwest::StatusCode;
use serde_json::{Value, json};
use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::{
        TcpStream,
        tcp::{OwnedReadHalf, OwnedWriteHalf},
    },
    task::JoinHandle,
    time::Instant,
};
use tributary::config::Config;

use crate::{
    events::{instance_sending_to, message_event, post_webhook},
    support::{Database, Hub, HubOptions, Receiver},
};

/// What the slow clients announce and never finish sending.
const ANNOUNCED: usize = 1_000_000;

async fn hub_with(configure: impl FnOnce(&mut Config) + Send + 'static) -> Hub {
    let options = HubOptions {
        configure: Box::new(configure),
        ..HubOptions::default()
    };
    Hub::start_with(Database::sqlite().await, options).await
}

/// The path of an instance's webhook URL.
fn webhook_path(instance: &Value) -> String {
    url::Url::parse(instance["eventsWebhookUrl"].as_str().unwrap())
        .unwrap()
        .path()
        .to_string()
}

/// The request line and headers of a POST announcing a body of `length` bytes.
fn post_head(path: &str, length: usize, extra_headers: &str) -> String {
    format!(
        "POST {path} HTTP/1.1\r\nHost: hub\r\nContent-Type: application/json\r\nContent-Length: {length}\r\n{extra_headers}\r\n"
    )
}

/// A raw connection to the hub that has sent `bytes`.
async fn connect(hub: &Hub, bytes: &str) -> (OwnedReadHalf, OwnedWriteHalf) {
    let mut stream = TcpStream::connect(hub.running.addr).await.unwrap();
    stream.write_all(bytes.as_bytes()).await.unwrap();
    stream.into_split()
}

/// Sends `byte` every 300 ms until the hub closes the connection.
fn trickle(mut writer: OwnedWriteHalf, byte: u8) -> JoinHandle<()> {
    tokio::spawn(async move {
        loop {
            tokio::time::sleep(Duration::from_millis(300)).await;
            if writer.write_all(&[byte]).await.is_err() {
                return;
            }
        }
    })
}

/// Everything the hub sent on `reader` until it closed the connection, and when it closed
/// it; `None` if the connection is still open after `within`.
async fn until_closed(reader: &mut OwnedReadHalf, within: Duration) -> Option<(String, Instant)> {
    let deadline = Instant::now() + within;
    let mut got = Vec::new();
    let mut buffer = [0; 4096];
    loop {
        match tokio::time::timeout_at(deadline, reader.read(&mut buffer)).await {
            Err(_) => return None,
            Ok(Ok(0) | Err(_)) => return Some((String::from_utf8_lossy(&got).into_owned(), Instant::now())),
            Ok(Ok(n)) => got.extend_from_slice(&buffer[..n]),
        }
    }
}

/// Checks a timeout of 1 s (as the tests set them) took that long, with room for a busy
/// machine.
fn about_a_second(took: Duration, what: &str) {
    assert!(
        (Duration::from_millis(900)..Duration::from_secs(3)).contains(&took),
        "{what} after {took:?}"
    );
}

/// Slow bodies, to an instance of this hub and to ids it does not have, outnumber
/// `events.max_in_flight`; another instance's webhook is still acknowledged at once, and
/// the unknown ids are answered 404 without their bodies.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_bodies_hold_no_slot() {
    let hub = hub_with(|config| {
        config.events.max_in_flight = 2;
        // Longer than the test: no slow client is cut while it runs.
        config.http.body_timeout_secs = 60;
    })
    .await;
    let receiver = Receiver::start().await;
    let target = instance_sending_to(&hub, &receiver.url).await;
    let other = instance_sending_to(&hub, &receiver.url).await;
    let mut tricklers = Vec::new();
    let mut held = Vec::new();
    for _ in 0..4 {
        let (reader, writer) = connect(&hub, &post_head(&webhook_path(&target), ANNOUNCED, "")).await;
        tricklers.push(trickle(writer, b' '));
        held.push(reader);
    }
    let unknown = [
        "/elements/api-v2/events/hootsuite/AAAA".to_string(),
        format!(
            "/elements/api-v2/events/hootsuite/{}",
            STANDARD.encode("4503599627370495")
        ),
    ];
    let mut refused = Vec::new();
    for path in unknown.iter().cycle().take(4) {
        let (reader, writer) = connect(&hub, &post_head(path, ANNOUNCED, "")).await;
        tricklers.push(trickle(writer, b' '));
        refused.push(reader);
    }
    tokio::time::sleep(Duration::from_millis(300)).await;

    let started = Instant::now();
    let acknowledged = tokio::time::timeout(
        Duration::from_secs(5),
        post_webhook(&hub, &other, &json!([message_event(1, "SENT", "1")])),
    )
    .await;
    let took = started.elapsed();
    assert_eq!(
        acknowledged.ok(),
        Some(StatusCode::OK),
        "the other instance's webhook was not acknowledged within 5 s"
    );
    assert!(took < Duration::from_secs(1), "acknowledged after {took:?}");
    for reader in &mut refused {
        let (answer, _) = until_closed(reader, Duration::from_secs(1))
            .await
            .expect("an unknown id is answered without its body");
        assert!(answer.starts_with("HTTP/1.1 404"), "{answer}");
    }
    for reader in &mut held {
        assert_eq!(
            until_closed(reader, Duration::from_millis(10)).await,
            None,
            "a slow body is still being read"
        );
    }
    tricklers.iter().for_each(JoinHandle::abort);
    hub.stop().await;
}

/// A body trickled a byte every 300 ms never stops for a second, yet it is cut once
/// `http.body_timeout_secs` has passed: 408 with a JSON error, then the connection closes.
/// The same holds on the API.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_body_that_does_not_arrive_in_time_is_cut() {
    let hub = hub_with(|config| config.http.body_timeout_secs = 1).await;
    let receiver = Receiver::start().await;
    let instance = instance_sending_to(&hub, &receiver.url).await;
    let requests = [
        post_head(&webhook_path(&instance), ANNOUNCED, ""),
        post_head(
            "/elements/api-v2/instances",
            ANNOUNCED,
            &format!("Authorization: {}\r\n", hub.auth),
        ),
    ];
    for head in requests {
        let started = Instant::now();
        let (mut reader, writer) = connect(&hub, &head).await;
        let trickler = trickle(writer, b' ');
        let (answer, closed) = until_closed(&mut reader, Duration::from_secs(5))
            .await
            .unwrap_or_else(|| panic!("still reading the body after 5 s: {head}"));
        trickler.abort();
        assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
        let body: Value = serde_json::from_str(answer.split("\r\n\r\n").nth(1).unwrap()).unwrap();
        assert!(
            body["message"].as_str().unwrap().contains("http.body_timeout_secs"),
            "{body}"
        );
        about_a_second(closed - started, "cut");
    }
    hub.stop().await;
}

/// Headers trickled a byte at a time are cut after `http.header_read_timeout_secs`, and so
/// is a keep-alive connection left idle that long after its response.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_headers_and_idle_connections_are_closed() {
    let hub = hub_with(|config| config.http.header_read_timeout_secs = 1).await;

    let started = Instant::now();
    let (mut reader, writer) = connect(&hub, "POST /elements/api-v2/events/hootsuite/AAAA HTTP/1.1\r\nX-Slow: ").await;
    let trickler = trickle(writer, b'x');
    let (answer, closed) = until_closed(&mut reader, Duration::from_secs(5))
        .await
        .expect("headers that never end are cut");
    trickler.abort();
    assert_eq!(answer, "", "the connection is closed without an answer");
    about_a_second(closed - started, "cut");

    let (mut reader, _writer) = connect(&hub, "GET /health HTTP/1.1\r\nHost: hub\r\n\r\n").await;
    let started = Instant::now();
    let (answer, closed) = until_closed(&mut reader, Duration::from_secs(5))
        .await
        .expect("an idle keep-alive connection is closed");
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    assert!(!answer.to_ascii_lowercase().contains("connection: close"), "{answer}");
    about_a_second(closed - started, "closed");
    hub.stop().await;
}

/// With `http.max_connections` open, a further connection is not served until one closes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connections_past_the_limit_wait_for_a_free_one() {
    let hub = hub_with(|config| config.http.max_connections = 2).await;
    let health = format!("http://{}/health", hub.running.addr);
    let fresh = || {
        reqwest::Client::builder()
            .pool_max_idle_per_host(0)
            .timeout(Duration::from_millis(500))
            .build()
            .unwrap()
    };
    let first = connect(&hub, "").await;
    let _second = connect(&hub, "").await;
    tokio::time::sleep(Duration::from_millis(100)).await;
    let waited = fresh().get(&health).send().await;
    assert!(
        waited.as_ref().is_err_and(reqwest::Error::is_timeout),
        "a third connection was served: {waited:?}"
    );
    drop(first);
    let served = fresh()
        .get(&health)
        .send()
        .await
        .expect("served once a connection closed");
    assert_eq!(served.status(), StatusCode::OK);
    hub.stop().await;
}
