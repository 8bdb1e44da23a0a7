//! Delivery guarantees against a misbehaving receiver: retries with stable ids, exhaustion
//! and deactivation, 410 Gone, Retry-After, the queue policy, a hub restarted (or crashed)
//! with deliveries pending, and a callback server that never answers, which must neither
//! hold up other instances' notifications nor cost its own notifications their retries.

use std::time::Duration;

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::{
    events::{instance_sending_to, message_event, post_webhook},
    on_both_backends,
    support::{Answer, BlackHole, Database, Hub, HubOptions, Receiver, eventually},
};

async fn event_detail(hub: &Hub, id: i64) -> Value {
    let (_, events) = hub.get(&format!("/instances/{id}/events")).await;
    let event_id = events[0]["id"].as_str().unwrap();
    hub.get(&format!("/instances/{id}/events/{event_id}")).await.1
}

async fn subscription(hub: &Hub, id: i64) -> Value {
    hub.get(&format!("/instances/{id}/events/subscription")).await.1
}

async fn retries_keep_the_same_id(db: Database) {
    let hub = Hub::start(db).await;
    let receiver = Receiver::start().await;
    receiver.script([500, 503]);
    let instance = instance_sending_to(&hub, &receiver.url).await;
    let id = instance["id"].as_i64().unwrap();
    assert_eq!(
        post_webhook(&hub, &instance, &json!([message_event(1, "SENT", "1")])).await,
        StatusCode::OK
    );
    let got = receiver.wait_for(3, 15).await;
    let ids: std::collections::HashSet<_> = got.iter().map(|n| n.header("webhook-id").to_string()).collect();
    assert_eq!(ids.len(), 1, "every attempt carries the same webhook-id");
    assert!(got.windows(2).all(|w| w[1].body == w[0].body), "and the same bytes");
    let detail = eventually(10, "the event to be notified", || async {
        let detail = event_detail(&hub, id).await;
        (detail["statusDetail"] == "notified").then_some(detail)
    })
    .await;
    let log = detail["deliveries"][0]["attemptLog"].as_array().unwrap();
    let codes: Vec<&Value> = log.iter().map(|a| &a["statusCode"]).collect();
    assert_eq!(codes, [&json!(500), &json!(503), &json!(200)]);
    assert_eq!(log[0]["error"], "HTTP 500 Internal Server Error");
    assert_eq!(log[0]["responseBody"], "ok");
    assert_eq!(detail["deliveries"][0]["attempts"], 3);
    hub.stop().await;
}

async fn exhausted_retries_deactivate_and_queue_later_events(db: Database) {
    let hub = Hub::start(db).await;
    let receiver = Receiver::start().await;
    receiver.script([500; 4]);
    let instance = instance_sending_to(&hub, &receiver.url).await;
    let id = instance["id"].as_i64().unwrap();
    post_webhook(&hub, &instance, &json!([message_event(1, "SENT", "1")])).await;
    // One attempt and three retries, then the subscription is off.
    let off = eventually(15, "the subscription to be deactivated", || async {
        let subscription = subscription(&hub, id).await;
        (subscription["active"] == false).then_some(subscription)
    })
    .await;
    assert!(off["note"].as_str().unwrap().contains("failed 4 times"), "{off}");
    assert_eq!(receiver.received().len(), 4);
    assert_eq!(event_detail(&hub, id).await["statusDetail"], "failed");

    // Later events are kept, queued, not sent and not dropped.
    post_webhook(&hub, &instance, &json!([message_event(2, "SENT", "2")])).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(receiver.received().len(), 4);
    let (_, queued) = hub
        .get(&format!("/instances/{id}/events/deliveries?status=queued"))
        .await;
    assert_eq!(queued.as_array().unwrap().len(), 1);
    assert_eq!(queued[0]["notification"]["message"]["events"][0]["objectId"], "2");
    let (_, instance_now) = hub.get(&format!("/instances/{id}")).await;
    assert_eq!(instance_now["subscriptionActive"], false);

    // Reactivating releases them.
    let (status, reactivated) = hub
        .call(
            Method::PUT,
            &format!("/instances/{id}/events/subscription"),
            &hub.auth,
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(reactivated, json!({"active": true, "released": 1}));
    let got = receiver.wait_for(5, 10).await;
    assert_eq!(got[4].json()["message"]["events"][0]["objectId"], "2");
    hub.stop().await;
}

async fn gone_deactivates_at_once(db: Database) {
    let hub = Hub::start(db).await;
    let receiver = Receiver::start().await;
    receiver.script([410]);
    let instance = instance_sending_to(&hub, &receiver.url).await;
    let id = instance["id"].as_i64().unwrap();
    post_webhook(&hub, &instance, &json!([message_event(1, "SENT", "1")])).await;
    let off = eventually(10, "a 410 to deactivate", || async {
        let subscription = subscription(&hub, id).await;
        (subscription["active"] == false).then_some(subscription)
    })
    .await;
    assert!(off["note"].as_str().unwrap().contains("410 Gone"), "{off}");
    assert_eq!(receiver.received().len(), 1, "no retry after a 410");
    assert_eq!(
        event_detail(&hub, id).await["statusDetail"],
        "queued",
        "the notification is kept"
    );
    hub.stop().await;
}

async fn retry_after_is_honoured(db: Database) {
    let hub = Hub::start(db).await;
    let receiver = Receiver::start().await;
    receiver.script([Answer {
        status: 429,
        headers: vec![("retry-after", "3".into())],
        ..Answer::from(0)
    }]);
    let instance = instance_sending_to(&hub, &receiver.url).await;
    post_webhook(&hub, &instance, &json!([message_event(1, "SENT", "1")])).await;
    let got = receiver.wait_for(2, 15).await;
    let waited = got[1].at - got[0].at;
    assert!(
        waited >= Duration::from_millis(2900),
        "retried after {waited:?} instead of the 3 s asked"
    );
    hub.stop().await;
}

async fn queue_policy_parks_failures_for_release(db: Database) {
    let hub = Hub::start(db).await;
    let receiver = Receiver::start().await;
    receiver.script([500]);
    let (status, settings) = hub
        .call(
            Method::PATCH,
            "/accounts/settings",
            &hub.auth,
            Some(json!({"notification.webhook.failure.policy": "queue"})),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(settings, json!({"notification.webhook.failure.policy": "queue"}));
    let (status, _) = hub
        .call(
            Method::PATCH,
            "/accounts/settings",
            &hub.auth,
            Some(json!({"notification.webhook.failure.policy": "drop"})),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);

    let instance = instance_sending_to(&hub, &receiver.url).await;
    let id = instance["id"].as_i64().unwrap();
    post_webhook(&hub, &instance, &json!([message_event(1, "SENT", "1")])).await;
    let queued = eventually(10, "the failed delivery to be parked", || async {
        let (_, queued) = hub.get(&format!("/instances/{id}/events/deliveries")).await;
        (queued.as_array().unwrap().len() == 1).then_some(queued)
    })
    .await;
    assert_eq!(queued[0]["status"], "queued");
    assert_eq!(queued[0]["attemptLog"][0]["statusCode"], 500);
    assert_eq!(
        subscription(&hub, id).await["active"],
        true,
        "parking is not deactivation"
    );
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(receiver.received().len(), 1, "a parked delivery is not retried");

    let (status, released) = hub
        .call(
            Method::PUT,
            &format!("/instances/{id}/events/deliveries/queued"),
            &hub.auth,
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(released, json!({"released": 1}));
    let got = receiver.wait_for(2, 10).await;
    assert_eq!(got[1].header("webhook-id"), got[0].header("webhook-id"));
    hub.stop().await;
}

/// The receiver is down while events arrive; the hub is restarted (gracefully, or killed
/// mid-flight); the receiver comes back; every notification arrives, none lost.
async fn restart_with_pending_deliveries(db: Database, crash: bool) {
    let hub = Hub::start(db).await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    drop(listener);
    let instance = instance_sending_to(&hub, &format!("http://{address}/events")).await;
    let id = instance["id"].as_i64().unwrap();
    for n in 0..5 {
        post_webhook(&hub, &instance, &json!([message_event(n, "SENT", &n.to_string())])).await;
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    let hub = hub
        .restart(
            crash,
            Box::new(|config| config.delivery.retry_schedule_secs = vec![1; 30]),
        )
        .await;
    let receiver = Receiver::serve(tokio::net::TcpListener::bind(address).await.unwrap()).await;
    let got = receiver.wait_for(5, 30).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let mut objects = arrived(&receiver);
    objects.dedup();
    assert_eq!(objects, [0, 1, 2, 3, 4], "none lost");
    assert_eq!(got.len(), receiver.received().len());
    let (_, events) = hub.get(&format!("/instances/{id}/events")).await;
    assert!(
        events
            .as_array()
            .unwrap()
            .iter()
            .all(|e| e["statusDetail"] == "notified"),
        "{events}"
    );
    hub.stop().await;
}

/// Posts `count` webhooks of one event each at once; all must be acknowledged.
async fn post_burst(hub: &Hub, instance: &Value, count: u64) {
    let url = instance["eventsWebhookUrl"].as_str().unwrap().to_string();
    let mut posts = tokio::task::JoinSet::new();
    for n in 0..count {
        let (http, url) = (hub.http.clone(), url.clone());
        posts.spawn(async move {
            let body = json!([message_event(n, "SENT", &n.to_string())]);
            http.post(url).json(&body).send().await.unwrap().status()
        });
    }
    for status in posts.join_all().await {
        assert_eq!(status, StatusCode::OK);
    }
}

/// The message ids (numbers here) of what arrived, in order.
fn arrived(receiver: &Receiver) -> Vec<u64> {
    let mut objects: Vec<u64> = receiver
        .received()
        .iter()
        .map(|n| {
            n.json()["message"]["events"][0]["objectId"]
                .as_str()
                .unwrap()
                .parse()
                .unwrap()
        })
        .collect();
    objects.sort();
    objects
}

/// Each message id `0..count` arrived, once.
async fn each_arrives_once(receiver: &Receiver, count: u64, seconds: u64) {
    receiver.wait_for(count as usize, seconds).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(arrived(receiver), (0..count).collect::<Vec<_>>(), "each once");
}

/// A hub whose worker sends one notification at a time (and so takes one hand-off).
async fn hub_with_one_slot(db: Database) -> Hub {
    Hub::start_with(
        db,
        HubOptions {
            configure: Box::new(|config| config.delivery.concurrency = 1),
            ..HubOptions::default()
        },
    )
    .await
}

/// With room for one hand-off at a time, most of a burst is stored due and claimed; the
/// two ways to the worker together lose nothing and send nothing twice.
async fn a_busy_worker_leaves_the_rest_to_claims(db: Database) {
    let hub = hub_with_one_slot(db).await;
    let receiver = Receiver::start().await;
    let instance = instance_sending_to(&hub, &receiver.url).await;
    post_burst(&hub, &instance, 40).await;
    each_arrives_once(&receiver, 40, 5).await;
    hub.stop().await;
}

/// A hub stopped right after acknowledging sends what ingest handed its worker before it
/// stops: nothing is left to wait for its lease (11 s here) in the next process.
async fn stopping_sends_what_was_handed_over(db: Database) {
    let hub = hub_with_one_slot(db).await;
    let receiver = Receiver::start().await;
    // A slow first answer keeps the worker's one slot busy: the second notification waits in
    // its reserve, the third in the hand-off, the rest are stored due. Then the stop.
    receiver.script([Answer {
        delay: Duration::from_secs(1),
        ..Answer::from(200)
    }]);
    let instance = instance_sending_to(&hub, &receiver.url).await;
    for n in 0..10 {
        post_webhook(&hub, &instance, &json!([message_event(n, "SENT", &n.to_string())])).await;
    }
    let hub = hub.restart(false, Box::new(|_| {})).await;
    each_arrives_once(&receiver, 10, 5).await;
    hub.stop().await;
}

/// A provider that stops waiting while its event is being committed does not delay the
/// notification until its lease ends (11 s here): the event is stored all the same, and
/// what it claimed still reaches the worker. SQLite only: its write lock is what holds the
/// commit back.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_abandoned_request_still_hands_over() {
    use sqlx::Connection;
    let db = Database::sqlite().await;
    let url = db.url();
    let hub = Hub::start(db).await;
    let receiver = Receiver::start().await;
    let instance = instance_sending_to(&hub, &receiver.url).await;
    let mut blocker = sqlx::SqliteConnection::connect(&url).await.unwrap();
    sqlx::raw_sql("BEGIN IMMEDIATE").execute(&mut blocker).await.unwrap();
    let abandoned = hub
        .http
        .post(instance["eventsWebhookUrl"].as_str().unwrap())
        .json(&json!([message_event(0, "SENT", "0")]))
        .timeout(Duration::from_millis(300))
        .send()
        .await;
    assert!(abandoned.is_err(), "the request gave up while its commit waited");
    sqlx::raw_sql("COMMIT").execute(&mut blocker).await.unwrap();
    each_arrives_once(&receiver, 1, 5).await;
    hub.stop().await;
}

/// An outcome that cannot be written at once (the database is locked past its busy
/// timeout, as it is unwritable while a disk is full) is written again within the lease,
/// rather than left for the lease to run out and the notification to go twice. SQLite
/// only: its write lock is what refuses the write.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_outcome_refused_for_a_while_is_written_within_the_lease() {
    use sqlx::Connection;
    let db = Database::sqlite().await;
    let url = db.url();
    let hub = Hub::start(db).await;
    let receiver = Receiver::start().await;
    // The answer comes after the lock is taken, so the outcome meets it.
    receiver.script([Answer {
        delay: Duration::from_millis(500),
        ..Answer::from(200)
    }]);
    let instance = instance_sending_to(&hub, &receiver.url).await;
    let id = instance["id"].as_i64().unwrap();
    post_webhook(&hub, &instance, &json!([message_event(0, "SENT", "0")])).await;
    let sent_at = receiver.wait_for(1, 5).await[0].at;
    let mut blocker = sqlx::SqliteConnection::connect(&url).await.unwrap();
    sqlx::raw_sql("BEGIN IMMEDIATE").execute(&mut blocker).await.unwrap();
    // Past the hub's 5 s busy timeout: its first write of the outcome fails.
    tokio::time::sleep(Duration::from_secs(7)).await;
    sqlx::raw_sql("COMMIT").execute(&mut blocker).await.unwrap();
    let detail = eventually(5, "the delivery to be recorded", || async {
        let detail = event_detail(&hub, id).await;
        (detail["statusDetail"] == "notified").then_some(detail)
    })
    .await;
    assert_eq!(detail["deliveries"][0]["attempts"], 1, "{detail}");
    // The lease (11 s here) would have sent it again by now.
    tokio::time::sleep(Duration::from_secs(14).saturating_sub(sent_at.elapsed())).await;
    assert_eq!(arrived(&receiver), [0], "sent once");
    hub.stop().await;
}

/// A backlog for a callback server that never answers takes at most its share of the
/// delivery slots (8 of 64 by default): another instance's notifications go at once, long
/// before the silent server's requests time out (6 s here) and free theirs.
async fn a_silent_callback_leaves_the_others_on_time(db: Database) {
    let hub = Hub::start_with(
        db,
        HubOptions {
            configure: Box::new(|config| config.delivery.timeout_secs = 6),
            ..HubOptions::default()
        },
    )
    .await;
    let silent = BlackHole::start().await;
    let receiver = Receiver::start().await;
    let stuck = instance_sending_to(&hub, &silent.url).await;
    let other = instance_sending_to(&hub, &receiver.url).await;
    post_burst(&hub, &stuck, 100).await;
    eventually(5, "the silent server's slots to be taken", || async {
        (silent.accepted() >= 8).then_some(())
    })
    .await;
    for n in 0..5 {
        let posted = std::time::Instant::now();
        post_webhook(&hub, &other, &json!([message_event(n, "SENT", &n.to_string())])).await;
        let got = receiver.wait_for(n as usize + 1, 10).await;
        let late = got[n as usize].at - posted;
        assert!(
            late < Duration::from_secs(1),
            "notification {n} of the other instance took {late:?} behind the silent server's backlog"
        );
    }
    assert_eq!(silent.accepted(), 8, "requests open to the silent server");
    hub.stop().await;
}

/// A callback server that stops answering (its requests time out) is probed rather than
/// sent every notification and every retry; once it answers again, every notification
/// arrives, and those that waited for it were not charged the attempts they did not make.
async fn a_failing_callback_is_probed_then_caught_up(db: Database) {
    let hub = Hub::start_with(
        db,
        HubOptions {
            configure: Box::new(|config| {
                config.delivery.timeout_secs = 1;
                config.delivery.retry_schedule_secs = vec![1; 6];
                config.delivery.per_destination_concurrency = 2;
                config.delivery.breaker_failures = 2;
            }),
            ..HubOptions::default()
        },
    )
    .await;
    let silent = BlackHole::start().await;
    let instance = instance_sending_to(&hub, &silent.url).await;
    let id = instance["id"].as_i64().unwrap();
    post_burst(&hub, &instance, 20).await;
    tokio::time::sleep(Duration::from_secs(4)).await;
    let requests_while_down = silent.accepted();
    let receiver = Receiver::serve(tokio::net::TcpListener::bind(silent.stop().await).await.unwrap()).await;
    each_arrives_once(&receiver, 20, 20).await;
    // Two requests found it silent, then about one probe a second: not 20 notifications
    // retried every second.
    assert!(
        requests_while_down <= 6,
        "{requests_while_down} requests to a server that did not answer for 4 s"
    );
    let (_, events) = hub.get(&format!("/instances/{id}/events")).await;
    let events = events.as_array().unwrap();
    assert_eq!(events.len(), 20);
    let mut sent_once = 0;
    for event in events {
        let detail = hub
            .get(&format!("/instances/{id}/events/{}", event["id"].as_str().unwrap()))
            .await
            .1;
        assert_eq!(detail["statusDetail"], "notified", "{detail}");
        let delivery = &detail["deliveries"][0];
        let made = delivery["attemptLog"].as_array().unwrap().len();
        assert_eq!(
            delivery["attempts"], made,
            "attempts counted that were never made: {delivery}"
        );
        sent_once += usize::from(made == 1);
    }
    assert!(sent_once >= 20 - requests_while_down, "{sent_once} of 20 sent once");
    hub.stop().await;
}

async fn graceful_restart(db: Database) {
    restart_with_pending_deliveries(db, false).await;
}

async fn crash_restart(db: Database) {
    restart_with_pending_deliveries(db, true).await;
}

on_both_backends!(
    retries_keep_the_same_id,
    exhausted_retries_deactivate_and_queue_later_events,
    gone_deactivates_at_once,
    retry_after_is_honoured,
    queue_policy_parks_failures_for_release,
    graceful_restart,
    crash_restart,
    a_busy_worker_leaves_the_rest_to_claims,
    stopping_sends_what_was_handed_over,
    a_silent_callback_leaves_the_others_on_time,
    a_failing_callback_is_probed_then_caught_up,
);
