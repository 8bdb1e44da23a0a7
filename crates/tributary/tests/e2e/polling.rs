//! Events by polling, against the simulator: messages created, changed and deleted between
//! polls give exactly the right events, none twice and none missed, through pagination,
//! token expiry, failures, restarts and two processes.

use std::{collections::HashMap, time::Duration};

use hootsuite_sim::SimConfig;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::{
    on_both_backends,
    support::{Database, Hub, HubOptions, Receiver, eventually},
};

/// Polls every second, and a simulator that does not publish messages on its own.
pub fn polling_hub() -> HubOptions {
    HubOptions {
        sim: SimConfig {
            auto_publish: false,
            webhook_batch_interval: Duration::from_millis(100),
            ..SimConfig::default()
        },
        configure: Box::new(|config| {
            config.polling.interval_unit_secs = 1;
            config.polling.min_interval_secs = 1;
        }),
    }
}

/// The simulator's REST API as the organization (its own rate limit, not the member's).
pub struct Hootsuite {
    http: reqwest::Client,
    base: String,
    token: String,
}

impl Hootsuite {
    pub async fn connect(hub: &Hub) -> Self {
        let token: Value = hub
            .http
            .post(format!("{}/oauth2/token", hub.sim_url()))
            .basic_auth(
                hootsuite_sim::DEFAULT_CLIENT_ID,
                Some(hootsuite_sim::DEFAULT_CLIENT_SECRET),
            )
            .form(&[
                ("grant_type", "organization_app"),
                ("organization_id", hootsuite_sim::DEFAULT_ORGANIZATION_ID),
            ])
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        Hootsuite {
            http: hub.http.clone(),
            base: hub.sim_url(),
            token: token["access_token"].as_str().unwrap().to_string(),
        }
    }

    /// Schedules `count` messages (two per request, one per profile) `seconds` ahead; returns their ids.
    pub async fn schedule(&self, count: usize, seconds: i64) -> Vec<String> {
        let at = (chrono::Utc::now() + chrono::Duration::seconds(seconds))
            .format("%Y-%m-%dT%H:%M:%SZ")
            .to_string();
        let mut ids = Vec::new();
        while ids.len() < count {
            let profiles = if count - ids.len() >= 2 {
                vec![
                    hootsuite_sim::DEFAULT_TWITTER_PROFILE_ID,
                    hootsuite_sim::DEFAULT_FACEBOOK_PAGE_PROFILE_ID,
                ]
            } else {
                vec![hootsuite_sim::DEFAULT_TWITTER_PROFILE_ID]
            };
            let response = self
                .http
                .post(format!("{}/v1/messages", self.base))
                .bearer_auth(&self.token)
                .json(&json!({"text": format!("message {}", ids.len()), "socialProfileIds": profiles, "scheduledSendTime": at}))
                .send()
                .await
                .unwrap();
            if response.status() == StatusCode::TOO_MANY_REQUESTS {
                tokio::time::sleep(Duration::from_millis(200)).await;
                continue;
            }
            let body: Value = response.json().await.unwrap();
            ids.extend(
                body["data"]
                    .as_array()
                    .unwrap_or_else(|| panic!("scheduling failed: {body}"))
                    .iter()
                    .map(|m| m["id"].as_str().unwrap().to_string()),
            );
            tokio::time::sleep(Duration::from_millis(60)).await;
        }
        ids
    }

    pub async fn delete(&self, id: &str) {
        let response = self
            .http
            .delete(format!("{}/v1/messages/{id}", self.base))
            .bearer_auth(&self.token)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::OK);
    }
}

async fn edit(hub: &Hub, id: &str, text: &str) {
    hub.sim_control(Method::PATCH, &format!("/messages/{id}"), Some(json!({"text": text})))
        .await;
}

/// An instance whose events are polled every `seconds` and sent to `receiver`.
async fn polling_instance(hub: &Hub, receiver: &Receiver, seconds: u64, poller: Option<Value>) -> i64 {
    let id = hub.create_instance().await["id"].as_i64().unwrap();
    start_polling(hub, id, receiver, seconds, poller).await;
    id
}

/// Switches an instance's events to polling every `seconds`, sent to `receiver`.
pub async fn start_polling(hub: &Hub, id: i64, receiver: &Receiver, seconds: u64, poller: Option<Value>) {
    let mut configuration = json!({
        "event.vendor.type": "polling",
        "event.poller.refresh_interval": seconds,
        "event.notification.callback.url": receiver.url,
    });
    if let Some(poller) = poller {
        configuration["event.poller.configuration"] = poller;
    }
    let (status, body) = hub
        .call(
            Method::PATCH,
            &format!("/instances/{id}"),
            &hub.auth,
            Some(json!({"configuration": configuration})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
}

pub async fn poller_status(hub: &Hub, id: i64) -> Value {
    let (status, body) = hub.get(&format!("/instances/{id}/events/poller")).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body
}

/// Waits for one more successful poll than `status` shows.
async fn next_poll(hub: &Hub, id: i64) {
    let before = poller_status(hub, id).await["lastPollDate"].clone();
    eventually(20, "a poll", || async {
        let now = poller_status(hub, id).await;
        (now["lastPollDate"] != before && !now["lastPollDate"].is_null()).then_some(())
    })
    .await;
}

/// Every (objectId, eventType) received so far, counted.
fn tally(receiver: &Receiver) -> HashMap<(String, String), usize> {
    let mut seen = HashMap::new();
    for notification in receiver.received() {
        let body = notification.json();
        assert!(
            body["message"]["events"].as_array().unwrap().len() <= 10,
            "at most 10 per polling notification"
        );
        let records = body["message"]["raw"]["messages"]
            .as_array()
            .expect("raw holds the polled records");
        let events = body["message"]["events"].as_array().unwrap();
        let record_ids: Vec<&Value> = records.iter().map(|r| &r["id"]).collect();
        let event_ids: Vec<&Value> = events.iter().map(|e| &e["objectId"]).collect();
        assert_eq!(
            record_ids, event_ids,
            "raw holds the records of this notification's events"
        );
        for event in events {
            assert_eq!(event["objectType"], "messages");
            *seen
                .entry((
                    event["objectId"].as_str().unwrap().to_string(),
                    event["eventType"].as_str().unwrap().to_string(),
                ))
                .or_insert(0) += 1;
        }
    }
    seen
}

fn expect(ids: &[String], kind: &str) -> HashMap<(String, String), usize> {
    ids.iter().map(|id| ((id.clone(), kind.to_string()), 1)).collect()
}

async fn created_changed_deleted_exactly_once(db: Database) {
    let hub = Hub::start_with(db, polling_hub()).await;
    let receiver = Receiver::start().await;
    let id = hub.create_instance().await["id"].as_i64().unwrap();
    let hootsuite = Hootsuite::connect(&hub).await;
    let existing = hootsuite.schedule(4, 3600).await;
    start_polling(&hub, id, &receiver, 1, None).await;
    next_poll(&hub, id).await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert!(
        receiver.received().is_empty(),
        "the first poll is a baseline: what existed is not news"
    );

    // Between polls: 150 new messages (more than a page), one edited, one deleted.
    let created = hootsuite.schedule(150, 5400).await;
    edit(&hub, &existing[0], "edited").await;
    hootsuite.delete(&existing[1]).await;
    let mut expected = expect(&created, "CREATED");
    expected.extend(expect(&existing[..1], "UPDATED"));
    expected.extend(expect(&existing[1..2], "DELETED"));
    eventually(30, "every change", || async {
        (tally(&receiver) == expected).then_some(())
    })
    .await;

    // More polls find nothing new: no event is reported twice.
    next_poll(&hub, id).await;
    next_poll(&hub, id).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(tally(&receiver), expected);
    let (_, events) = hub.get(&format!("/instances/{id}/events?status=notified")).await;
    assert!(events.as_array().unwrap().iter().all(|e| e["source"] == "polling"));
    let status = poller_status(&hub, id).await;
    assert_eq!(status["failures"], 0, "{status}");
    assert!(status["lastError"].is_null(), "{status}");

    // A replay of the largest poll's event sends its records again, each notification its own.
    let largest = events
        .as_array()
        .unwrap()
        .iter()
        .max_by_key(|e| e["events"].as_array().unwrap().len())
        .unwrap();
    let changes = largest["events"].as_array().unwrap().len();
    let before = receiver.received().len();
    let (status, replay) = hub
        .call(
            Method::POST,
            &format!("/instances/{id}/events/{}/replay", largest["id"].as_str().unwrap()),
            &hub.auth,
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{replay}");
    assert_eq!(replay["notifications"], changes.div_ceil(10));
    receiver.wait_for(before + changes.div_ceil(10), 10).await;
    tally(&receiver);
    hub.stop().await;
}

/// A small window sliding with the clock: messages leaving it are not reported deleted,
/// messages deleted inside it are.
async fn the_window_slides_without_false_deletions(db: Database) {
    let hub = Hub::start_with(db, polling_hub()).await;
    let receiver = Receiver::start().await;
    let poller = json!({"messages": {
        "strategy": "snapshot",
        "url": "/v1/messages?startTime=${window.start:yyyy-MM-dd'T'HH:mm:ss'Z'}&endTime=${window.end:yyyy-MM-dd'T'HH:mm:ss'Z'}&limit=100",
        "idField": "id", "recordsPath": "data",
        "nextPage": {"path": "metadata.cursor.next", "param": "cursor"},
        "window": {"field": "scheduledSendTime", "lookbackHours": 0.001, "lookaheadHours": 0.05},
        "confirmUrl": "/v1/messages/${id}"
    }});
    let id = polling_instance(&hub, &receiver, 1, Some(poller)).await;
    let hootsuite = Hootsuite::connect(&hub).await;
    next_poll(&hub, id).await;
    // Scheduled 8 s ahead: inside the three-minute lookahead.
    let soon = hootsuite.schedule(2, 8).await;
    eventually(15, "the new messages", || async {
        (tally(&receiver) == expect(&soon, "CREATED")).then_some(())
    })
    .await;
    hootsuite.delete(&soon[1]).await;
    let mut expected = expect(&soon, "CREATED");
    expected.extend(expect(&soon[1..], "DELETED"));
    eventually(15, "the deletion", || async {
        (tally(&receiver) == expected).then_some(())
    })
    .await;
    // Let the other one slide out of the window behind (its time passes, plus 3.6 s).
    tokio::time::sleep(Duration::from_secs(13)).await;
    next_poll(&hub, id).await;
    assert_eq!(
        tally(&receiver),
        expected,
        "a message that left the window is not deleted"
    );
    hub.stop().await;
}

/// The token expires (the simulator's clock jumps an hour) just before a poll; the poll gets
/// 401, refreshes, and carries on. A provider failing (503) makes polls back off and keep
/// their place.
async fn expired_tokens_and_failures(db: Database) {
    let hub = Hub::start_with(db, polling_hub()).await;
    let receiver = Receiver::start().await;
    let id = polling_instance(&hub, &receiver, 1, None).await;
    next_poll(&hub, id).await;

    hub.sim_control(Method::PUT, "/clock", Some(json!({"offsetSecs": 3700})))
        .await;
    let hootsuite = Hootsuite::connect(&hub).await;
    let first = hootsuite.schedule(3, 10800).await;
    eventually(20, "changes after the token expired", || async {
        (tally(&receiver) == expect(&first, "CREATED")).then_some(())
    })
    .await;
    let refreshes = hub.sim_control(Method::GET, "/token-requests", None).await;
    assert!(
        refreshes
            .as_array()
            .unwrap()
            .iter()
            .any(|r| r["grantType"] == "refresh_token" && r["outcome"] == "ok"),
        "the hub refreshed the expired token: {refreshes}"
    );

    // The provider fails the next three listings; the messages scheduled just before wait.
    let second = hootsuite.schedule(2, 10800).await;
    hub.sim_control(
        Method::POST,
        "/faults",
        Some(json!({"pathPrefix": "/v1/messages", "status": 503, "count": 3})),
    )
    .await;
    let failing = eventually(20, "a failed poll", || async {
        let status = poller_status(&hub, id).await;
        (status["failures"].as_u64() > Some(0)).then_some(status)
    })
    .await;
    assert!(failing["lastError"].as_str().unwrap().contains("503"), "{failing}");
    let mut expected = expect(&first, "CREATED");
    expected.extend(expect(&second, "CREATED"));
    eventually(40, "changes after the failures", || async {
        (tally(&receiver) == expected).then_some(())
    })
    .await;
    assert_eq!(poller_status(&hub, id).await["failures"], 0);
    hub.stop().await;
}

/// A refresh token the provider no longer accepts pauses polling, visibly, until the
/// instance is re-authenticated.
async fn invalid_grants_pause_polling(db: Database) {
    let hub = Hub::start_with(db, polling_hub()).await;
    let receiver = Receiver::start().await;
    let id = polling_instance(&hub, &receiver, 1, None).await;
    next_poll(&hub, id).await;
    hub.sim_control(
        Method::POST,
        "/grants/revoke",
        Some(json!({"clientId": hootsuite_sim::DEFAULT_CLIENT_ID})),
    )
    .await;
    let paused = eventually(20, "polling to pause", || async {
        let status = poller_status(&hub, id).await;
        status["pausedReason"].is_string().then_some(status)
    })
    .await;
    assert!(
        paused["pausedReason"].as_str().unwrap().contains("re-authentication"),
        "{paused}"
    );
    assert_eq!(hub.get(&format!("/instances/{id}")).await.1["valid"], false);
    let metrics = hub.metrics().await;
    assert!(
        metrics.contains(r#"tributary_polls_total{outcome="paused"} 1"#),
        "{metrics}"
    );
    assert!(
        metrics.contains(r#"tributary_polls_total{outcome="completed"}"#),
        "{metrics}"
    );

    let code = hub
        .consent(
            hootsuite_sim::DEFAULT_CLIENT_ID,
            "http://localhost:3000/oauth/callback",
            "reauth-1234",
        )
        .await;
    let (status, _) = hub
        .call(
            Method::PATCH,
            &format!("/instances/{id}"),
            &hub.auth,
            Some(json!({"providerData": {"code": code}})),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let resumed = poller_status(&hub, id).await;
    assert!(resumed["pausedReason"].is_null(), "{resumed}");
    next_poll(&hub, id).await;
    hub.stop().await;
}

/// Several instances of one Hootsuite account polled together stay under its rate limit.
async fn many_instances_share_the_rate_limit(db: Database) {
    let hub = Hub::start_with(db, polling_hub()).await;
    let receiver = Receiver::start().await;
    let mut ids = Vec::new();
    for _ in 0..5 {
        ids.push(hub.create_instance().await["id"].as_i64().unwrap());
    }
    Hootsuite::connect(&hub).await.schedule(120, 3600).await;
    for &id in &ids {
        start_polling(&hub, id, &receiver, 1, None).await;
    }
    for &id in &ids {
        next_poll(&hub, id).await;
        next_poll(&hub, id).await;
    }
    for id in ids {
        let status = poller_status(&hub, id).await;
        assert_eq!(status["failures"], 0, "{status}");
        assert!(status["lastError"].is_null(), "no 429 from the provider: {status}");
    }
    hub.stop().await;
}

async fn restarted_between_polls(db: Database) {
    let hub = Hub::start_with(db, polling_hub()).await;
    let receiver = Receiver::start().await;
    let id = hub.create_instance().await["id"].as_i64().unwrap();
    let hootsuite = Hootsuite::connect(&hub).await;
    let existing = hootsuite.schedule(2, 3600).await;
    start_polling(&hub, id, &receiver, 1, None).await;
    next_poll(&hub, id).await;
    let hub = hub
        .restart(
            false,
            Box::new(|config| {
                config.polling.interval_unit_secs = 1;
                config.polling.min_interval_secs = 1;
            }),
        )
        .await;
    let created = hootsuite.schedule(2, 3600).await;
    hootsuite.delete(&existing[0]).await;
    let mut expected = expect(&created, "CREATED");
    expected.extend(expect(&existing[..1], "DELETED"));
    eventually(20, "changes made while the hub restarted", || async {
        (tally(&receiver) == expected).then_some(())
    })
    .await;
    next_poll(&hub, id).await;
    assert_eq!(tally(&receiver), expected);
    hub.stop().await;
}

/// Two hub processes on one PostgreSQL database poll the same instances: each change is
/// reported once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_processes_poll_without_double_events() {
    let hub = Hub::start_with(Database::postgres().await, polling_hub()).await;
    let second = hub
        .second_node_with(Box::new(|config| {
            config.polling.interval_unit_secs = 1;
            config.polling.min_interval_secs = 1;
        }))
        .await;
    let receiver = Receiver::start().await;
    let mut ids = Vec::new();
    for _ in 0..3 {
        ids.push(polling_instance(&hub, &receiver, 1, None).await);
    }
    let hootsuite = Hootsuite::connect(&hub).await;
    for &id in &ids {
        next_poll(&hub, id).await;
    }
    let created = hootsuite.schedule(10, 3600).await;
    // Three instances see the same account: each message is news to each instance once.
    let per_instance = |receiver: &Receiver| {
        let mut counts: HashMap<(i64, String), usize> = HashMap::new();
        for notification in receiver.received() {
            let body = notification.json();
            for event in body["message"]["events"].as_array().unwrap() {
                *counts
                    .entry((
                        body["message"]["instanceId"].as_i64().unwrap(),
                        event["objectId"].as_str().unwrap().to_string(),
                    ))
                    .or_insert(0) += 1;
            }
        }
        counts
    };
    eventually(30, "every instance to see every message", || async {
        (per_instance(&receiver).len() == ids.len() * created.len()).then_some(())
    })
    .await;
    for &id in &ids {
        next_poll(&hub, id).await;
    }
    let counts = per_instance(&receiver);
    assert!(counts.values().all(|n| *n == 1), "a change reported twice: {counts:?}");
    second.stop().await;
    hub.stop().await;
}

on_both_backends!(
    created_changed_deleted_exactly_once,
    the_window_slides_without_false_deletions,
    expired_tokens_and_failures,
    invalid_grants_pause_polling,
    many_instances_share_the_rate_limit,
    restarted_between_polls,
);
