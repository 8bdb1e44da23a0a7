//! Webhooks: batching, sequence numbers, retries with identical batches, disabling and
//! re-enabling by ping, signatures, organization-app URLs, and receiver limits.

use std::time::Duration;

use hmac::{Hmac, KeyInit, Mac};
use hootsuite_sim::{
    DEFAULT_CLIENT_ID, DEFAULT_MEMBER_ID, DEFAULT_ORGANIZATION_ID, DEFAULT_TWITTER_PROFILE_ID, SECOND_MEMBER_ID,
    SECOND_ORGANIZATION_ID, SECOND_PROFILE_ID, SimConfig,
};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use sha2::Sha256;
use tokio::time::Instant;

use crate::common::{Receiver, TestSim, eventually, fast_config, in_minutes};

/// Schedules one message on the default Twitter profile reporting to `url`; returns its id.
async fn message_reporting_to(sim: &TestSim, token: &str, url: &str) -> String {
    let created = sim
        .schedule(
            token,
            json!({ "text": "hook me", "socialProfileIds": [DEFAULT_TWITTER_PROFILE_ID],
                    "scheduledSendTime": in_minutes(30), "webhookUrls": [url] }),
        )
        .await;
    created[0]["id"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn state_changes_are_batched_into_one_post_with_increasing_seq_nos() {
    let sim = TestSim::with(SimConfig {
        webhook_batch_interval: Duration::from_secs(1),
        ..fast_config()
    })
    .await;
    let receiver = Receiver::start().await;
    let token = sim.access_token().await;
    let started = Instant::now();
    let id = message_reporting_to(&sim, &token, &receiver.url).await;
    sim.set_message_state(&id, "SUBMITTED").await;
    sim.set_message_state(&id, "SENT").await;

    let requests = receiver.wait_for(1).await;
    assert!(
        started.elapsed() >= Duration::from_millis(900),
        "sent before the batch interval"
    );
    let post = &requests[0];
    assert_eq!(post.headers["content-type"], "application/json");
    assert!(
        post.headers.get("x-hootsuite-signature").is_none(),
        "unsigned without a secret"
    );
    let events = post.json();
    let states: Vec<&str> = events
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["data"]["state"].as_str().unwrap())
        .collect();
    assert_eq!(states, ["SCHEDULED", "SUBMITTED", "SENT"]);
    let seq = post.seq_nos();
    assert_eq!(seq, [seq[0], seq[0] + 1, seq[0] + 2]);
    // Numbering starts at the epoch milliseconds of the URL's first event.
    let now_ms = u64::try_from(chrono::Utc::now().timestamp_millis()).unwrap();
    assert!(seq[0] <= now_ms && now_ms - seq[0] < 60_000, "{}", seq[0]);
    let event = &events[0];
    assert_eq!(event["type"], "com.hootsuite.messages.event.v1");
    assert_eq!(event["data"]["message"]["id"], id.as_str());
    assert_eq!(event["data"]["organization"]["id"], DEFAULT_ORGANIZATION_ID);
    let timestamp = event["data"]["timestamp"].as_str().unwrap();
    assert!(
        timestamp.ends_with('Z') && timestamp.len() == "2016-07-19T21:51:32.175Z".len(),
        "{timestamp}"
    );

    // Later events continue the sequence, in a later batch.
    sim.set_message_state(&id, "DELETED").await;
    let flushed = sim.control(Method::POST, "/webhooks/flush", Value::Null).await;
    assert_eq!(flushed["flushed"], json!([receiver.url]));
    let requests = receiver.requests();
    assert_eq!(requests.len(), 2, "one POST per batch");
    assert_eq!(requests[1].seq_nos(), [seq[0] + 3]);
    assert_eq!(requests[1].json()[0]["data"]["state"], "DELETED");

    let deliveries = sim.get_control("/webhooks/deliveries").await;
    assert_eq!(deliveries.as_array().unwrap().len(), 2);
    assert_eq!(deliveries[0]["url"], receiver.url.as_str());
    assert_eq!(deliveries[0]["status"], 200);
    assert_eq!(deliveries[0]["attempt"], 1);
    assert_eq!(deliveries[0]["seqNos"], json!(seq));
    assert_eq!(deliveries[0]["body"], events);
    let urls = sim.get_control("/webhooks/urls").await;
    assert_eq!(urls[0]["nextSeqNo"], seq[0] + 4);
    assert_eq!(urls[0]["pending"], 0);
}

#[tokio::test]
async fn more_than_batch_max_pending_events_go_out_at_once() {
    let sim = TestSim::with(SimConfig {
        webhook_batch_interval: Duration::from_secs(60),
        webhook_batch_max: 3,
        ..fast_config()
    })
    .await;
    let receiver = Receiver::start().await;
    let token = sim.access_token().await;
    let id = message_reporting_to(&sim, &token, &receiver.url).await;
    for state in ["SUBMITTED", "SCHEDULED", "SUBMITTED"] {
        sim.set_message_state(&id, state).await;
    }
    let requests = receiver.wait_for(1).await;
    assert_eq!(
        requests[0].json().as_array().unwrap().len(),
        3,
        "a POST carries at most batch_max events"
    );
    eventually("the fourth event to stay queued", || async {
        sim.get_control("/webhooks/urls").await[0]["pending"] == 1
    })
    .await;
    assert_eq!(receiver.requests().len(), 1);
}

#[tokio::test]
async fn a_failed_batch_is_retried_with_the_same_events_and_seq_nos() {
    let sim = TestSim::start().await;
    let receiver = Receiver::start().await;
    receiver.script(&[500, 503]);
    let token = sim.access_token().await;
    message_reporting_to(&sim, &token, &receiver.url).await;

    let requests = receiver.wait_for(3).await;
    assert_eq!(requests[0].body, requests[1].body);
    assert_eq!(requests[1].body, requests[2].body);
    eventually("the success to be logged", || async {
        sim.get_control("/webhooks/deliveries").await.as_array().unwrap().len() == 3
    })
    .await;
    let deliveries = sim.get_control("/webhooks/deliveries").await;
    let attempts: Vec<(u64, u64)> = deliveries
        .as_array()
        .unwrap()
        .iter()
        .map(|d| (d["attempt"].as_u64().unwrap(), d["status"].as_u64().unwrap()))
        .collect();
    assert_eq!(attempts, [(1, 500), (2, 503), (3, 200)]);
    assert!(
        deliveries
            .as_array()
            .unwrap()
            .iter()
            .all(|d| d["seqNos"] == deliveries[0]["seqNos"])
    );
    let urls = sim.get_control("/webhooks/urls").await;
    assert_eq!(urls[0]["consecutiveFailures"], 0);
    assert_eq!(urls[0]["disabled"], false);
}

#[tokio::test]
async fn a_url_is_disabled_after_repeated_failures_and_re_enabled_by_a_ping() {
    let sim = TestSim::start().await;
    let receiver = Receiver::start().await;
    receiver.respond_with(500);
    let token = sim.access_token().await;
    let id = message_reporting_to(&sim, &token, &receiver.url).await;
    let failing = receiver.wait_for(3).await;
    eventually("the URL to be disabled", || async {
        sim.get_control("/webhooks/urls").await[0]["disabled"] == true
    })
    .await;
    let urls = sim.get_control("/webhooks/urls").await;
    assert_eq!(urls[0]["consecutiveFailures"], 3);

    // Disabled: events queue up, nothing is sent, flushing skips the URL.
    sim.set_message_state(&id, "SENT").await;
    assert_eq!(sim.get_control("/webhooks/urls").await[0]["pending"], 2);
    let flushed = sim.control(Method::POST, "/webhooks/flush", Value::Null).await;
    assert_eq!(flushed["flushed"], json!([]));
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert_eq!(receiver.requests().len(), 3);

    // A failed ping changes nothing; an answered one re-enables the URL.
    let ping = sim
        .control(Method::POST, "/webhooks/ping", json!({ "url": receiver.url }))
        .await;
    assert_eq!(ping["status"], 500);
    assert_eq!(ping["reEnabled"], false);
    receiver.respond_with(204);
    let ping = sim
        .control(Method::POST, "/webhooks/ping", json!({ "url": receiver.url }))
        .await;
    assert_eq!(ping["status"], 204);
    assert_eq!(ping["reEnabled"], true);

    let requests = receiver.wait_for(7).await;
    assert_eq!(
        requests[4].body,
        br#"[{"type":"com.hootsuite.ping.event.v1","data":{}}]"#.as_slice()
    );
    assert_eq!(requests[5].body, failing[0].body, "the held batch is resent unchanged");
    let first_seq = failing[0].seq_nos()[0];
    assert_eq!(requests[6].seq_nos(), [first_seq + 1]);
    assert_eq!(requests[6].json()[0]["data"]["state"], "SENT");
    eventually("the URL to drain", || async {
        let urls = sim.get_control("/webhooks/urls").await;
        urls[0]["pending"] == 0 && urls[0]["disabled"] == false && urls[0]["consecutiveFailures"] == 0
    })
    .await;
    // Pings do not consume sequence numbers.
    assert_eq!(sim.get_control("/webhooks/urls").await[0]["nextSeqNo"], first_seq + 2);
}

#[tokio::test]
async fn signatures_are_hmac_sha256_of_the_raw_body_with_the_hex_decoded_secret() {
    let sim = TestSim::start().await;
    let receiver = Receiver::start().await;
    let secret = "6c7f0e5d2b9a4f3e8d1c0b7a6f5e4d3c2b1a09f8e7d6c5b4a3928170f6e5d4c3";
    let bad = sim
        .control_raw(
            Method::PUT,
            "/webhooks/secret",
            json!({ "url": receiver.url, "secret": "not hex" }),
        )
        .await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);
    sim.control(
        Method::PUT,
        "/webhooks/secret",
        json!({ "url": receiver.url, "secret": secret }),
    )
    .await;
    let token = sim.access_token().await;
    message_reporting_to(&sim, &token, &receiver.url).await;
    sim.control(Method::POST, "/webhooks/flush", Value::Null).await;

    let post = &receiver.requests()[0];
    let header = post.headers["x-hootsuite-signature"].to_str().unwrap();
    let mut mac = Hmac::<Sha256>::new_from_slice(&hex::decode(secret).unwrap()).unwrap();
    mac.update(&post.body);
    assert_eq!(header, hex::encode(mac.finalize().into_bytes()));
    // Keyed with the secret's text instead of its bytes, it would not match.
    let mut wrong = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).unwrap();
    wrong.update(&post.body);
    assert_ne!(header, hex::encode(wrong.finalize().into_bytes()));
    let deliveries = sim.get_control("/webhooks/deliveries").await;
    assert_eq!(deliveries[0]["signature"], header);

    // Pings are signed too; clearing the secret stops signing.
    sim.control(Method::POST, "/webhooks/ping", json!({ "url": receiver.url }))
        .await;
    assert!(receiver.requests()[1].headers.contains_key("x-hootsuite-signature"));
    sim.control(
        Method::PUT,
        "/webhooks/secret",
        json!({ "url": receiver.url, "secret": null }),
    )
    .await;
    sim.control(Method::POST, "/webhooks/ping", json!({ "url": receiver.url }))
        .await;
    assert!(!receiver.requests()[2].headers.contains_key("x-hootsuite-signature"));
}

#[tokio::test]
async fn organization_app_urls_get_their_organizations_events_only() {
    let sim = TestSim::start().await;
    let app_receiver = Receiver::start().await;
    let secret = "00112233445566778899aabbccddeeff";
    let app = sim
        .control(
            Method::POST,
            "/apps",
            json!({ "name": "Prescreen", "redirectUris": ["https://prescreen.example/cb"],
                    "webhookUrl": app_receiver.url, "webhookSecret": secret }),
        )
        .await;
    let client_id = app["clientId"].as_str().unwrap();
    assert!(app["clientSecret"].as_str().is_some_and(|s| !s.is_empty()));
    sim.control(
        Method::POST,
        &format!("/apps/{client_id}/install"),
        json!({ "organizationId": DEFAULT_ORGANIZATION_ID }),
    )
    .await;

    let joe = sim.access_token().await;
    let pammy = sim.login_as(SECOND_MEMBER_ID).await["access_token"]
        .as_str()
        .unwrap()
        .to_owned();
    let mine = sim
        .schedule(&joe, json!({ "text": "org 1", "socialProfileIds": [DEFAULT_TWITTER_PROFILE_ID], "scheduledSendTime": in_minutes(30) }))
        .await;
    sim.schedule(
        &pammy,
        json!({ "text": "org 2", "socialProfileIds": [SECOND_PROFILE_ID], "scheduledSendTime": in_minutes(30) }),
    )
    .await;
    sim.control(Method::POST, "/webhooks/flush", Value::Null).await;

    let posts = app_receiver.requests();
    let events: Vec<Value> = posts
        .iter()
        .flat_map(|p| p.json().as_array().unwrap().clone())
        .collect();
    let types: Vec<&str> = events.iter().map(|e| e["type"].as_str().unwrap()).collect();
    assert_eq!(
        types,
        ["com.hootsuite.apps.event.v1", "com.hootsuite.messages.event.v1"]
    );
    assert_eq!(events[0]["data"]["state"], "INSTALLED");
    assert_eq!(events[0]["data"]["app"]["id"], app["id"]);
    assert_eq!(events[0]["data"]["organization"]["id"], DEFAULT_ORGANIZATION_ID);
    assert_eq!(events[1]["data"]["message"]["id"], mine[0]["id"]);
    assert_eq!(events[1]["data"]["organization"]["id"], DEFAULT_ORGANIZATION_ID);
    // The app's secret signs its deliveries.
    let mut mac = Hmac::<Sha256>::new_from_slice(&hex::decode(secret).unwrap()).unwrap();
    mac.update(&posts[0].body);
    assert_eq!(
        posts[0].headers["x-hootsuite-signature"].to_str().unwrap(),
        hex::encode(mac.finalize().into_bytes())
    );

    // Comments of the organization reach it as well; the other organization's do not.
    let comment = sim
        .control(
            Method::POST,
            "/comments",
            json!({ "organizationId": DEFAULT_ORGANIZATION_ID, "state": "PENDING_APPROVAL" }),
        )
        .await;
    sim.control(
        Method::POST,
        "/comments",
        json!({ "organizationId": SECOND_ORGANIZATION_ID, "state": "PENDING_APPROVAL" }),
    )
    .await;
    let comment_id = comment["id"].as_str().unwrap();
    sim.control(
        Method::POST,
        &format!("/comments/{comment_id}/state"),
        json!({ "state": "COMPLETED" }),
    )
    .await;
    sim.control(Method::POST, "/webhooks/flush", Value::Null).await;
    let later: Vec<Value> = app_receiver.requests()[posts.len()..]
        .iter()
        .flat_map(|p| p.json().as_array().unwrap().clone())
        .collect();
    let comment_states: Vec<&str> = later.iter().map(|e| e["data"]["state"].as_str().unwrap()).collect();
    assert_eq!(comment_states, ["PENDING_APPROVAL", "COMPLETED"]);
    assert_eq!(later[0]["type"], "com.hootsuite.comments.event.v1");
    assert_eq!(later[0]["data"]["comment"]["id"], comment_id);
    assert_eq!(later[0]["data"]["organization"]["id"], DEFAULT_ORGANIZATION_ID);

    // Pinging the app's URL through its app.
    let ping = sim
        .control(Method::POST, &format!("/apps/{client_id}/ping"), Value::Null)
        .await;
    assert_eq!(ping["status"], 200);
    assert_eq!(ping["url"], app_receiver.url.as_str());
}

#[tokio::test]
async fn member_authorization_subscribes_the_app_and_uninstall_revokes_tokens() {
    let sim = TestSim::start().await;
    let receiver = Receiver::start().await;
    sim.control(
        Method::PATCH,
        &format!("/apps/{DEFAULT_CLIENT_ID}"),
        json!({ "webhookUrl": receiver.url }),
    )
    .await;
    let tokens = sim.login_as(DEFAULT_MEMBER_ID).await;
    let token = tokens["access_token"].as_str().unwrap();
    sim.schedule(
        token,
        json!({ "text": "x", "socialProfileIds": [DEFAULT_TWITTER_PROFILE_ID], "scheduledSendTime": in_minutes(5) }),
    )
    .await;

    let uninstalled = sim
        .control(
            Method::POST,
            &format!("/apps/{DEFAULT_CLIENT_ID}/uninstall"),
            json!({ "memberId": DEFAULT_MEMBER_ID }),
        )
        .await;
    assert_eq!(uninstalled["revoked"], 1);
    assert_eq!(sim.get("/v1/me", token).await.code(), 1001);
    let refresh = sim
        .token(&[
            ("grant_type", "refresh_token"),
            ("refresh_token", tokens["refresh_token"].as_str().unwrap()),
        ])
        .await;
    assert_eq!(refresh.body["error"], "invalid_grant");
    let member_app = sim
        .token(&[("grant_type", "member_app"), ("member_id", DEFAULT_MEMBER_ID)])
        .await;
    assert_eq!(member_app.body["error"], "invalid_grant");

    sim.control(Method::POST, "/webhooks/flush", Value::Null).await;
    let events: Vec<Value> = receiver
        .requests()
        .iter()
        .flat_map(|p| p.json().as_array().unwrap().clone())
        .collect();
    assert_eq!(events[0]["data"]["state"], "SCHEDULED");
    assert_eq!(events[1]["type"], "com.hootsuite.apps.event.v1");
    assert_eq!(events[1]["data"]["state"], "UNINSTALLED");
    assert_eq!(events[1]["data"]["member"]["id"], DEFAULT_MEMBER_ID);
    let again = sim
        .control_raw(
            Method::POST,
            &format!("/apps/{DEFAULT_CLIENT_ID}/uninstall"),
            json!({ "memberId": DEFAULT_MEMBER_ID }),
        )
        .await;
    assert_eq!(again.status, StatusCode::CONFLICT);
}

#[tokio::test]
async fn slow_or_oversized_answers_count_as_failures() {
    let sim = TestSim::with(SimConfig {
        webhook_timeout: Duration::from_millis(200),
        webhook_disable_after: 10,
        webhook_retry_backoff: vec![Duration::from_secs(60)],
        ..fast_config()
    })
    .await;
    let slow = Receiver::start().await;
    slow.delay_answers(Duration::from_millis(500));
    let big = Receiver::start().await;
    big.answer_body(vec![b'x'; 32 * 1024 + 1]);
    let fine = Receiver::start().await;
    fine.answer_body(vec![b'x'; 32 * 1024]);
    let token = sim.access_token().await;
    for receiver in [&slow, &big, &fine] {
        message_reporting_to(&sim, &token, &receiver.url).await;
    }
    sim.control(Method::POST, "/webhooks/flush", Value::Null).await;
    let deliveries = sim.get_control("/webhooks/deliveries").await;
    let outcome = |url: &str| {
        deliveries
            .as_array()
            .unwrap()
            .iter()
            .find(|d| d["url"] == url)
            .map(|d| d["error"].clone())
            .unwrap()
    };
    assert!(outcome(&slow.url).as_str().unwrap().contains("no response within"));
    assert!(outcome(&big.url).as_str().unwrap().contains("32 KB"));
    assert_eq!(outcome(&fine.url), Value::Null);
    let urls = sim.get_control("/webhooks/urls").await;
    let failures: Vec<u64> = urls
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["consecutiveFailures"].as_u64().unwrap())
        .collect();
    assert_eq!(failures.iter().sum::<u64>(), 2);
}
