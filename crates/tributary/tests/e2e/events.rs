//! Events by webhook, end to end: the simulator sends Hootsuite's webhooks to the hub, the
//! hub normalizes them and delivers signed notifications to a receiver on loopback.

use base64::{Engine, engine::general_purpose::STANDARD};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use tributary::crypto::{hmac_sha256, hmac_sha256_verify};

use crate::{
    on_both_backends,
    support::{Captured, Database, Hub, Receiver, eventually},
};

const SIGNATURE_KEY: &str = "my-signature-key";

/// The receiver's own check of both signatures on a notification.
pub fn verify_signatures(notification: &Captured, signing_secret: &str) {
    let expected = format!(
        "sha256={}",
        STANDARD.encode(hmac_sha256(SIGNATURE_KEY.as_bytes(), &notification.body))
    );
    assert_eq!(notification.header("elements-webhook-signature"), expected);
    let id = notification.header("webhook-id");
    assert_eq!(id, notification.header("elements-webhook-id"));
    let timestamp = notification.header("webhook-timestamp");
    let key = STANDARD.decode(signing_secret.strip_prefix("whsec_").unwrap()).unwrap();
    let signed = [id.as_bytes(), b".", timestamp.as_bytes(), b".", &notification.body].concat();
    let valid = notification.header("webhook-signature").split(' ').any(|candidate| {
        let signature = STANDARD.decode(candidate.strip_prefix("v1,").unwrap()).unwrap();
        hmac_sha256_verify(&key, &signed, &signature)
    });
    assert!(valid, "no webhook-signature verifies");
    let age = chrono::Utc::now().timestamp() - timestamp.parse::<i64>().unwrap();
    assert!((0..60).contains(&age), "webhook-timestamp is current");
}

/// The seed's flow with events: create the instance with a placeholder callback, register
/// its eventsWebhookUrl at the provider, PATCH the real callback, and watch messages move.
async fn seed_flow_with_webhooks(db: Database) {
    let hub = Hub::start(db).await;
    let receiver = Receiver::start().await;
    let instance = hub.create_instance().await;
    let id = instance["id"].as_i64().unwrap();
    let signing_secret = instance["notificationSigningSecret"].as_str().unwrap().to_string();
    assert!(signing_secret.starts_with("whsec_"));

    // Register the hub at Hootsuite (the organization app's webhook URL) and ping it.
    let webhook_url = instance["eventsWebhookUrl"].as_str().unwrap();
    hub.sim_control(
        Method::PATCH,
        &format!("/apps/{}", hootsuite_sim::DEFAULT_CLIENT_ID),
        Some(json!({"webhookUrl": webhook_url})),
    )
    .await;
    let ping = hub
        .sim_control(
            Method::POST,
            &format!("/apps/{}/ping", hootsuite_sim::DEFAULT_CLIENT_ID),
            None,
        )
        .await;
    assert_eq!(ping["status"], 200, "{ping}");

    // The seed's last step: PATCH /instances with the element token.
    let element_auth = format!(
        "User {}, Element {}",
        hub.user_secret,
        instance["token"].as_str().unwrap()
    );
    let (status, patched) = hub
        .call(
            Method::PATCH,
            "/instances",
            &element_auth,
            Some(json!({"configuration": {
                "event.notification.callback.url": receiver.url,
                "event.notification.signature.key": SIGNATURE_KEY,
            }})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{patched}");

    // A message is scheduled, then deleted, through Hootsuite's REST API.
    let access = hub.stored_access_token(id).await;
    let send_at = (chrono::Utc::now() + chrono::Duration::hours(1))
        .format("%Y-%m-%dT%H:%M:%SZ")
        .to_string();
    let scheduled: Value = hub
        .http
        .post(format!("{}/v1/messages", hub.sim_url()))
        .bearer_auth(&access)
        .json(&json!({"text": "Hello", "socialProfileIds": [hootsuite_sim::DEFAULT_TWITTER_PROFILE_ID], "scheduledSendTime": send_at}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let message_id = scheduled["data"][0]["id"].as_str().unwrap().to_string();
    let got = receiver.wait_for(1, 15).await;
    let deleted = hub
        .http
        .delete(format!("{}/v1/messages/{message_id}", hub.sim_url()))
        .bearer_auth(&access)
        .send()
        .await
        .unwrap();
    assert_eq!(deleted.status(), StatusCode::OK);
    let got = receiver.wait_for(got.len() + 1, 15).await;

    let mut seen = Vec::new();
    for notification in &got {
        verify_signatures(notification, &signing_secret);
        assert_eq!(notification.header("content-type"), "application/json");
        let body = notification.json();
        assert_eq!(body["topic"], format!("instance-{id}-hootsuite-events"));
        assert_eq!(body["id"], notification.header("webhook-id"));
        let message = &body["message"];
        assert_eq!(message["instanceId"], id);
        assert_eq!(message["instance_id"], id);
        assert_eq!(message["elementKey"], "hootsuite");
        assert_eq!(message["instanceName"], "API Instance");
        assert_eq!(message["instanceTags"], json!(["Docs"]));
        assert!(
            message["raw"].is_array() && message["raw"][0]["seq_no"].is_string(),
            "{message}"
        );
        for event in message["events"].as_array().unwrap() {
            assert_eq!(event["objectType"], "messages");
            assert_eq!(event["objectId"], message_id.as_str());
            assert_eq!(event["hubKey"], "social");
            seen.push((
                event["eventType"].as_str().unwrap().to_string(),
                event["state"].as_str().unwrap().to_string(),
            ));
        }
    }
    assert_eq!(
        seen,
        [
            ("UPDATED".to_string(), "SCHEDULED".to_string()),
            ("DELETED".to_string(), "DELETED".to_string())
        ]
    );

    // The event log shows what arrived and how it went out.
    let events = eventually(10, "the events to be notified", || async {
        let (_, events) = hub.get(&format!("/instances/{id}/events")).await;
        let notified = events
            .as_array()
            .unwrap()
            .iter()
            .filter(|e| e["status"] == "NOTIFIED" && e["statusDetail"] == "notified")
            .count();
        (notified == 2).then_some(events)
    })
    .await;
    let event_id = events[0]["id"].as_str().unwrap();
    let (status, detail) = hub.get(&format!("/instances/{id}/events/{event_id}")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(detail["source"], "webhook");
    assert!(
        detail["providerData"]
            .as_str()
            .unwrap()
            .contains("com.hootsuite.messages.event.v1")
    );
    let delivery = &detail["deliveries"][0];
    assert_eq!(delivery["status"], "delivered");
    assert_eq!(delivery["attemptLog"][0]["statusCode"], 200);
    assert!(delivery["attemptLog"][0]["latencyMs"].is_number());
    let (_, own) = hub.call(Method::GET, "/instances/events", &element_auth, None).await;
    assert_eq!(own.as_array().unwrap().len(), 3, "two events and the ping: {own}");
    hub.stop().await;
}

/// Posts a body to the hub's webhook URL for an instance, as Hootsuite would.
pub async fn post_webhook(hub: &Hub, instance: &Value, body: &Value) -> StatusCode {
    hub.http
        .post(instance["eventsWebhookUrl"].as_str().unwrap())
        .json(body)
        .send()
        .await
        .unwrap()
        .status()
}

pub fn message_event(seq: u64, state: &str, message: &str) -> Value {
    json!({"seq_no": seq.to_string(), "type": "com.hootsuite.messages.event.v1",
           "data": {"state": state, "organization": {"id": "626731"}, "message": {"id": message},
                    "timestamp": "2026-11-27T10:00:00.000Z"}})
}

/// An instance whose notifications go to `receiver`.
pub async fn instance_sending_to(hub: &Hub, callback: &str) -> Value {
    let instance = hub.create_instance().await;
    let id = instance["id"].as_i64().unwrap();
    let (status, _) = hub
        .call(
            Method::PATCH,
            &format!("/instances/{id}"),
            &hub.auth,
            Some(json!({"configuration": {"event.notification.callback.url": callback}})),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    instance
}

async fn statuses(hub: &Hub, id: i64) -> Vec<String> {
    let (_, events) = hub.get(&format!("/instances/{id}/events")).await;
    events
        .as_array()
        .unwrap()
        .iter()
        .rev()
        .map(|e| e["statusDetail"].as_str().unwrap().to_string())
        .collect()
}

async fn duplicates_pings_and_ignored_events(db: Database) {
    let hub = Hub::start(db).await;
    let receiver = Receiver::start().await;
    let instance = instance_sending_to(&hub, &receiver.url).await;
    let id = instance["id"].as_i64().unwrap();

    let batch = json!([message_event(100, "SCHEDULED", "1"), message_event(101, "SENT", "1")]);
    assert_eq!(post_webhook(&hub, &instance, &batch).await, StatusCode::OK);
    assert_eq!(
        post_webhook(&hub, &instance, &batch).await,
        StatusCode::OK,
        "a re-sent batch is acknowledged"
    );
    let partly = json!([message_event(101, "SENT", "1"), message_event(102, "DELETED", "1")]);
    assert_eq!(post_webhook(&hub, &instance, &partly).await, StatusCode::OK);
    let ping = json!([{"type": "com.hootsuite.ping.event.v1", "data": {}}]);
    assert_eq!(post_webhook(&hub, &instance, &ping).await, StatusCode::OK);

    let got = receiver.wait_for(2, 10).await;
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    let got_all = receiver.received();
    assert_eq!(got_all.len(), 2, "the duplicate and the ping were not forwarded");
    let objects: Vec<usize> = got
        .iter()
        .map(|n| n.json()["message"]["events"].as_array().unwrap().len())
        .collect();
    assert_eq!(
        objects,
        [2, 1],
        "only the new event of the partly re-sent batch goes out"
    );

    // Disabled instances and instances with events off still answer 2xx, and record why.
    hub.call(Method::DELETE, &format!("/instances/{id}/enabled"), &hub.auth, None)
        .await;
    assert_eq!(
        post_webhook(&hub, &instance, &json!([message_event(200, "SENT", "2")])).await,
        StatusCode::OK
    );
    hub.call(Method::PUT, &format!("/instances/{id}/enabled"), &hub.auth, None)
        .await;
    hub.call(
        Method::PATCH,
        &format!("/instances/{id}"),
        &hub.auth,
        Some(json!({"configuration": {"event.notification.enabled": false}})),
    )
    .await;
    assert_eq!(
        post_webhook(&hub, &instance, &json!([message_event(201, "SENT", "2")])).await,
        StatusCode::OK
    );

    let statuses = eventually(10, "settled statuses", || async {
        let now = statuses(&hub, id).await;
        (now.iter().filter(|s| *s == "notified").count() == 2).then_some(now)
    })
    .await;
    assert_eq!(
        statuses,
        ["notified", "duplicate", "notified", "ignored", "ignored", "ignored"]
    );
    let (_, events) = hub.get(&format!("/instances/{id}/events?status=ignored")).await;
    let notes: Vec<&str> = events
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["note"].as_str().unwrap())
        .collect();
    assert_eq!(
        notes,
        [
            "events are not enabled for the instance (event.notification.enabled)",
            "the instance is disabled",
            "ping"
        ]
    );
    assert_eq!(receiver.received().len(), 2);
    hub.stop().await;
}

/// The `seq_no`s in a notification's `raw` and the object ids of its events, which
/// `message_event` makes `seq_no - first`.
fn raw_and_events(notification: &Value, first: u64) -> (Vec<u64>, Vec<u64>) {
    let message = &notification["message"];
    let raw = message["raw"]
        .as_array()
        .expect("raw is an array of the provider's items");
    let seqs = raw
        .iter()
        .map(|r| r["seq_no"].as_str().unwrap().parse().unwrap())
        .collect();
    let objects = message["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["objectId"].as_str().unwrap().parse::<u64>().unwrap() + first)
        .collect();
    (seqs, objects)
}

async fn large_batches_are_split_at_twenty(db: Database) {
    let hub = Hub::start(db).await;
    let receiver = Receiver::start().await;
    let instance = instance_sending_to(&hub, &receiver.url).await;
    let batch: Vec<Value> = (0..45)
        .map(|i| message_event(1000 + i, "SENT", &i.to_string()))
        .collect();
    assert_eq!(post_webhook(&hub, &instance, &json!(batch)).await, StatusCode::OK);
    let got = receiver.wait_for(3, 10).await;
    let mut sizes: Vec<usize> = got
        .iter()
        .map(|n| {
            let body = n.json();
            let (raw, events) = raw_and_events(&body, 1000);
            assert_eq!(
                raw, events,
                "each part carries the raw items of its own events, in order"
            );
            let items = body["message"]["raw"].as_array().unwrap();
            for item in items {
                let seq: usize = item["seq_no"].as_str().unwrap().parse().unwrap();
                assert_eq!(item, &batch[seq - 1000], "the provider's item as it sent it");
            }
            events.len()
        })
        .collect();
    sizes.sort_unstable();
    assert_eq!(sizes, [5, 20, 20]);
    let ids: std::collections::HashSet<_> = got.iter().map(|n| n.header("webhook-id").to_string()).collect();
    assert_eq!(ids.len(), 3);
    hub.stop().await;
}

/// Events of `n` items totalling about `n × 200` bytes, numbered from `first`.
fn big_batch(first: u64, n: u64) -> String {
    let items: Vec<Value> = (0..n)
        .map(|i| message_event(first + i, "SENT", &format!("{i:0>30}")))
        .collect();
    serde_json::to_string(&items).unwrap()
}

/// One webhook of 5 000 events (about 1 MB) is stored and sent at about its size, not its
/// size times its 250 notifications, and answered at once; so is its replay.
async fn a_large_webhook_costs_about_its_size(db: Database) {
    let hub = Hub::start(db).await;
    let receiver = Receiver::start().await;
    let instance = instance_sending_to(&hub, &receiver.url).await;
    let id = instance["id"].as_i64().unwrap();
    let (first, count) = (1_000_000, 5000);
    let body = big_batch(first, count);
    assert!((900_000..1_048_576).contains(&body.len()), "{} bytes", body.len());
    let started = std::time::Instant::now();
    let status = hub
        .http
        .post(instance["eventsWebhookUrl"].as_str().unwrap())
        .header("content-type", "application/json")
        .body(body.clone())
        .send()
        .await
        .unwrap()
        .status();
    let acknowledged = started.elapsed();
    assert_eq!(status, StatusCode::OK);

    let notifications = (count / 20) as usize;
    let check = |got: &[Captured]| {
        let mut seen = std::collections::BTreeMap::new();
        let mut bytes = 0;
        for n in got {
            bytes += n.body.len();
            let (raw, events) = raw_and_events(&n.json(), first);
            assert_eq!(raw, events, "a notification carries the raw items of its own events");
            for seq in events {
                *seen.entry(seq).or_insert(0) += 1;
            }
        }
        assert_eq!(seen.len(), count as usize, "every event is sent");
        assert!(seen.values().all(|&n| n == 1), "each event in exactly one notification");
        assert!(
            bytes <= 3 * body.len(),
            "{bytes} bytes sent for a body of {} bytes",
            body.len()
        );
    };
    check(&receiver.wait_for(notifications, 60).await);
    assert!(
        acknowledged < std::time::Duration::from_secs(5),
        "acknowledged after {acknowledged:?}"
    );

    let (_, events) = hub.get(&format!("/instances/{id}/events")).await;
    let event_id = events[0]["id"].as_str().unwrap().to_string();
    let (_, detail) = hub.get(&format!("/instances/{id}/events/{event_id}")).await;
    assert_eq!(detail["providerData"], body.as_str(), "the event keeps the whole body");
    let stored: usize = detail["deliveries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["notification"].to_string().len())
        .sum();
    assert!(stored <= 3 * body.len(), "{stored} bytes stored in notifications");

    let started = std::time::Instant::now();
    let (status, replay) = hub
        .call(
            Method::POST,
            &format!("/instances/{id}/events/{event_id}/replay"),
            &hub.auth,
            None,
        )
        .await;
    let took = started.elapsed();
    assert_eq!(status, StatusCode::OK, "{replay}");
    assert_eq!(replay["notifications"], notifications);
    assert!(took < std::time::Duration::from_secs(5), "replayed after {took:?}");
    let all = receiver.wait_for(2 * notifications, 60).await;
    check(&all[notifications..]);
    hub.stop().await;
}

/// More events in one webhook than `events.max_events_per_webhook` (5 000 by default) is a
/// 413 that names the limit and the setting, and stores nothing.
async fn more_events_than_the_limit_are_refused_whole(db: Database) {
    let hub = Hub::start(db).await;
    let receiver = Receiver::start().await;
    let instance = instance_sending_to(&hub, &receiver.url).await;
    let url = instance["eventsWebhookUrl"].as_str().unwrap();
    let before = hub.db.snapshot().await;
    let small: Vec<Value> = (0..5001)
        .map(|i| json!({"seq_no": i.to_string(), "type": "x"}))
        .collect();
    let response = hub.http.post(url).json(&small).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::PAYLOAD_TOO_LARGE);
    let error: Value = response.json().await.unwrap();
    let message = error["message"].as_str().unwrap();
    assert!(
        message.contains("5001") && message.contains("5000") && message.contains("events.max_events_per_webhook"),
        "{message}"
    );
    assert_eq!(hub.db.snapshot().await, before, "nothing was stored");
    assert_eq!(
        post_webhook(&hub, &instance, &json!(small[..5000])).await,
        StatusCode::OK,
        "the limit itself is accepted"
    );
    hub.stop().await;
}

async fn receiver_refuses_bad_requests(db: Database) {
    let hub = Hub::start(db).await;
    let receiver = Receiver::start().await;
    let instance = instance_sending_to(&hub, &receiver.url).await;
    let id = instance["id"].as_i64().unwrap();
    let url = instance["eventsWebhookUrl"].as_str().unwrap().to_string();
    let base = url.rsplit_once('/').unwrap().0.to_string();
    let send = |target: String, body: Vec<u8>| {
        let http = hub.http.clone();
        async move {
            http.post(target)
                .header("content-type", "application/json")
                .body(body)
                .send()
                .await
                .unwrap()
                .status()
        }
    };

    assert_eq!(
        send(url.clone(), b"[{\"seq_no\": ".to_vec()).await,
        StatusCode::BAD_REQUEST
    );
    assert_eq!(
        send(url.clone(), b"{\"not\": \"an array\"}".to_vec()).await,
        StatusCode::BAD_REQUEST
    );
    assert_eq!(
        send(url.clone(), b"[{\"seq_no\": \"1\", \"data\": {}}]".to_vec()).await,
        StatusCode::BAD_REQUEST
    );
    assert_eq!(send(url.clone(), vec![0xff, 0xfe]).await, StatusCode::BAD_REQUEST);
    assert_eq!(
        send(url.clone(), vec![b' '; 2 * 1024 * 1024]).await,
        StatusCode::PAYLOAD_TOO_LARGE
    );
    let ok = serde_json::to_vec(&json!([message_event(1, "SENT", "1")])).unwrap();
    assert_eq!(
        send(format!("{base}/{}", STANDARD.encode("12345")), ok.clone()).await,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        send(format!("{base}/not-base64!"), ok.clone()).await,
        StatusCode::NOT_FOUND
    );
    let other_element = url.replace("/hootsuite/", "/nope/");
    assert_eq!(send(other_element, ok.clone()).await, StatusCode::NOT_FOUND);
    let (_, events) = hub.get(&format!("/instances/{id}/events")).await;
    assert_eq!(events, json!([]), "nothing refused was stored");

    // Unpadded and URL-safe Base64, and the Element-Instances header, reach the instance.
    let unpadded = format!("{base}/{}", STANDARD.encode(id.to_string()).trim_end_matches('='));
    assert_eq!(send(unpadded, ok.clone()).await, StatusCode::OK);
    let listed = hub
        .http
        .post(&base)
        .header("Element-Instances", id.to_string())
        .json(&json!([message_event(2, "SENT", "1")]))
        .send()
        .await
        .unwrap();
    assert_eq!(listed.status(), StatusCode::OK);
    assert_eq!(
        hub.http.post(&base).json(&json!([])).send().await.unwrap().status(),
        StatusCode::BAD_REQUEST
    );
    receiver.wait_for(2, 10).await;
    hub.stop().await;
}

async fn provider_signatures_when_a_secret_is_set(db: Database) {
    let hub = Hub::start(db).await;
    let receiver = Receiver::start().await;
    let instance = instance_sending_to(&hub, &receiver.url).await;
    let id = instance["id"].as_i64().unwrap();
    let secret = "00112233445566778899aabbccddeeff";
    hub.call(
        Method::PATCH,
        &format!("/instances/{id}"),
        &hub.auth,
        Some(json!({"configuration": {"hootsuite.webhook.secret": secret}})),
    )
    .await;
    let url = instance["eventsWebhookUrl"].as_str().unwrap();
    let body = serde_json::to_vec(&json!([message_event(7, "SENT", "9")])).unwrap();
    let signature = hex::encode(hmac_sha256(&hex::decode(secret).unwrap(), &body));
    let send = |signature: Option<String>| {
        let mut request = hub
            .http
            .post(url)
            .header("content-type", "application/json")
            .body(body.clone());
        if let Some(signature) = signature {
            request = request.header("X-Hootsuite-Signature", signature);
        }
        async move { request.send().await.unwrap().status() }
    };
    assert_eq!(send(None).await, StatusCode::UNAUTHORIZED);
    assert_eq!(send(Some("00".repeat(32))).await, StatusCode::UNAUTHORIZED);
    assert_eq!(send(Some("zz".into())).await, StatusCode::UNAUTHORIZED);
    assert_eq!(
        hub.get(&format!("/instances/{id}/events")).await.1,
        json!([]),
        "refused bodies are not stored"
    );
    assert_eq!(send(Some(signature)).await, StatusCode::OK);

    // The simulator signs too when given the secret, and its webhooks get through.
    let webhook_url = instance["eventsWebhookUrl"].as_str().unwrap();
    hub.sim_control(
        Method::PUT,
        "/webhooks/secret",
        Some(json!({"url": webhook_url, "secret": secret})),
    )
    .await;
    hub.sim_control(
        Method::PATCH,
        &format!("/apps/{}", hootsuite_sim::DEFAULT_CLIENT_ID),
        Some(json!({"webhookUrl": webhook_url})),
    )
    .await;
    let ping = hub
        .sim_control(
            Method::POST,
            &format!("/apps/{}/ping", hootsuite_sim::DEFAULT_CLIENT_ID),
            None,
        )
        .await;
    assert_eq!(ping["status"], 200, "{ping}");
    receiver.wait_for(1, 10).await;
    hub.stop().await;
}

async fn replay_and_secret_rotation(db: Database) {
    let hub = Hub::start(db).await;
    let receiver = Receiver::start().await;
    let instance = instance_sending_to(&hub, &receiver.url).await;
    let id = instance["id"].as_i64().unwrap();
    let first_secret = instance["notificationSigningSecret"].as_str().unwrap().to_string();
    assert_eq!(
        post_webhook(&hub, &instance, &json!([message_event(1, "SENT", "1")])).await,
        StatusCode::OK
    );
    let first = receiver.wait_for(1, 10).await;
    let event_id = first[0].json()["message"]["eventId"].as_str().unwrap().to_string();

    let (status, rotated) = hub
        .call(Method::POST, &format!("/instances/{id}/events/secret"), &hub.auth, None)
        .await;
    assert_eq!(status, StatusCode::OK, "{rotated}");
    let second_secret = rotated["secret"].as_str().unwrap().to_string();
    assert_ne!(second_secret, first_secret);

    let (status, replay) = hub
        .call(
            Method::POST,
            &format!("/instances/{id}/events/{event_id}/replay"),
            &hub.auth,
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{replay}");
    assert_eq!(replay, json!({"events": 1, "notifications": 1}));
    let got = receiver.wait_for(2, 10).await;
    assert_ne!(
        got[1].header("webhook-id"),
        got[0].header("webhook-id"),
        "a replay is a new notification"
    );
    assert_eq!(got[1].json()["message"]["eventId"], event_id.as_str());
    // During the rotation's grace period both secrets sign.
    assert_eq!(got[1].header("webhook-signature").split(' ').count(), 2);
    let signed_by = |secret: &str| {
        let key = STANDARD.decode(secret.strip_prefix("whsec_").unwrap()).unwrap();
        let n = &got[1];
        let signed = [
            n.header("webhook-id").as_bytes(),
            b".",
            n.header("webhook-timestamp").as_bytes(),
            b".",
            &n.body,
        ]
        .concat();
        n.header("webhook-signature")
            .split(' ')
            .any(|s| hmac_sha256_verify(&key, &signed, &STANDARD.decode(&s[3..]).unwrap()))
    };
    assert!(signed_by(&first_secret) && signed_by(&second_secret));

    // A window replay sends every event with objects in it.
    let from = (chrono::Utc::now() - chrono::Duration::minutes(5)).to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    let to = (chrono::Utc::now() + chrono::Duration::minutes(5)).to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    let (status, window) = hub
        .call(
            Method::POST,
            &format!("/instances/{id}/events/replay?from={from}&to={to}"),
            &hub.auth,
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{window}");
    assert_eq!(window["events"], 1);
    receiver.wait_for(3, 10).await;
    let (status, _) = hub
        .call(
            Method::POST,
            &format!("/instances/{id}/events/replay?from={to}&to={from}"),
            &hub.auth,
            None,
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    hub.stop().await;
}

async fn metrics_count_the_pipeline(db: Database) {
    let hub = Hub::start(db).await;
    let receiver = Receiver::start().await;
    let instance = instance_sending_to(&hub, &receiver.url).await;
    post_webhook(&hub, &instance, &json!([message_event(1, "SENT", "1")])).await;
    post_webhook(&hub, &instance, &json!([message_event(1, "SENT", "1")])).await;
    receiver.wait_for(1, 10).await;
    // The backlog gauge is read from the database by another connection than the one that
    // recorded the delivery: it may trail the counter by a moment.
    let text = eventually(10, "the delivery to be counted and the backlog empty", || async {
        let text = hub.metrics().await;
        (text.contains(r#"tributary_delivery_attempts_total{outcome="delivered"} 1"#)
            && text.contains("tributary_delivery_backlog 0"))
        .then_some(text)
    })
    .await;
    assert!(
        text.contains(r#"tributary_events_total{element="hootsuite",source="webhook",status="received"} 1"#),
        "{text}"
    );
    assert!(
        text.contains(r#"tributary_events_total{element="hootsuite",source="webhook",status="duplicate"} 1"#),
        "{text}"
    );
    assert!(text.contains("tributary_delivery_latency_seconds_count 1"), "{text}");
    hub.stop().await;
}

on_both_backends!(
    seed_flow_with_webhooks,
    duplicates_pings_and_ignored_events,
    large_batches_are_split_at_twenty,
    a_large_webhook_costs_about_its_size,
    more_events_than_the_limit_are_refused_whole,
    receiver_refuses_bad_requests,
    provider_signatures_when_a_secret_is_set,
    replay_and_secret_rotation,
    metrics_count_the_pipeline,
);
