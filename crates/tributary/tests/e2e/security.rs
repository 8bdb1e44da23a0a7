//! Security properties over real HTTP: the SSRF guard on callback URLs (literal addresses
//! refused when saved, names refused when they resolve to private addresses, neither
//! refusal naming an address), provider requests that never leave the provider's origin
//! (poller paths refused when saved, and never sent even when a hostile one is in the
//! database), redirects never followed, and answers that no cache keeps.

use std::{
    sync::{
        Arc,
        atomic::{AtomicUsize, Ordering},
    },
    time::Duration,
};

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use sqlx::Connection;

use crate::{
    events::{instance_sending_to, message_event, post_webhook},
    on_both_backends,
    polling::{Hootsuite, poller_status, polling_hub, start_polling},
    support::{Answer, Database, Hub, HubOptions, Receiver, eventually},
};

async fn callbacks_to_private_addresses_are_refused(db: Database) {
    let hub = Hub::start_with(
        db,
        HubOptions {
            configure: Box::new(|config| config.delivery.allow_networks.clear()),
            ..Default::default()
        },
    )
    .await;
    let receiver = Receiver::start().await;
    let instance = hub.create_instance().await;
    let id = instance["id"].as_i64().unwrap();
    for url in [
        "http://127.0.0.1:9/events",
        "http://169.254.169.254/latest/meta-data/",
        "http://10.0.0.7/hook",
        "http://[::1]:8080/hook",
        "http://localhost:8080/hook",
        // IPv6 forms that carry a loopback IPv4 address, and special-purpose blocks.
        "http://[::127.0.0.1]:9/events",
        "http://[::7f00:2]:9/events",
        "http://[::ffff:0:127.0.0.1]:9/events",
        "http://[::ffff:127.0.0.1]:9/events",
        "http://[2002:7f00:1::]:9/events",
        "http://[64:ff9b::7f00:1]:9/events",
        "http://[fec0::1]:9/events",
        "http://192.0.0.1:9/events",
    ] {
        let (status, body) = hub
            .call(
                Method::PATCH,
                &format!("/instances/{id}"),
                &hub.auth,
                Some(json!({"configuration": {"event.notification.callback.url": url}})),
            )
            .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{url}: {body}");
        let message = body["message"].as_str().unwrap();
        assert!(
            message.contains("event.notification.callback.url")
                && message.contains("the callback host is not a public address"),
            "{message}"
        );
    }

    // A name that resolves to loopback passes the literal check but not the resolver.
    let port = receiver.url.split(':').nth(2).unwrap().split('/').next().unwrap();
    let sneaky = format!("http://{}:{port}/events", loopback_name().await);
    let (status, body) = hub
        .call(
            Method::PATCH,
            &format!("/instances/{id}"),
            &hub.auth,
            Some(json!({"configuration": {"event.notification.callback.url": sneaky}})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        post_webhook(&hub, &instance, &json!([message_event(1, "SENT", "1")])).await,
        StatusCode::OK
    );
    let attempt = eventually(10, "the refused attempt", || async {
        let (_, events) = hub.get(&format!("/instances/{id}/events")).await;
        let event_id = events[0]["id"].as_str()?.to_string();
        let (_, detail) = hub.get(&format!("/instances/{id}/events/{event_id}")).await;
        detail["deliveries"][0]["attemptLog"][0].as_object().cloned()
    })
    .await;
    // The tenant learns why, not which internal address the name resolved to.
    let error = attempt["error"].as_str().unwrap();
    assert!(error.contains("the callback host is not a public address"), "{error}");
    assert!(!error.contains("127.") && !error.contains("::1"), "{error}");
    assert!(receiver.received().is_empty(), "nothing reached the private address");
    hub.stop().await;
}

/// A host name other than `localhost` that resolves to loopback: this machine's own name
/// (from /etc/hosts), or one of the usual aliases.
async fn loopback_name() -> String {
    let own = std::fs::read_to_string("/etc/hostname")
        .unwrap_or_default()
        .trim()
        .to_string();
    for name in [own.as_str(), "localhost.localdomain", "ip6-localhost", "localhost."] {
        if name.is_empty() {
            continue;
        }
        if let Ok(mut addrs) = tokio::net::lookup_host((name, 80)).await
            && addrs.any(|a| a.ip().is_loopback())
        {
            return name.to_string();
        }
    }
    panic!("no host name resolves to loopback on this machine (add one to /etc/hosts)");
}

/// A poller resource polling Hootsuite's messages, with its `url` and `confirmUrl`.
fn messages_poller(url: &str, confirm_url: &str) -> Value {
    json!({"messages": {
        "strategy": "snapshot", "url": url, "idField": "id", "recordsPath": "data",
        "nextPage": {"path": "metadata.cursor.next", "param": "cursor"},
        "window": {"field": "scheduledSendTime", "lookbackHours": 168, "lookaheadHours": 504},
        "confirmUrl": confirm_url
    }})
}

const WINDOW: &str =
    "?startTime=${window.start:yyyy-MM-dd'T'HH:mm:ss'Z'}&endTime=${window.end:yyyy-MM-dd'T'HH:mm:ss'Z'}";

/// Issue 16: `Url::join` turned each of these into another host, and the poller sent the
/// instance's Hootsuite token there. Each, as `url` or in `confirmUrl`, is refused when
/// saved, naming the field, and nothing is stored.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn poller_paths_that_leave_the_provider_are_refused() {
    let hub = Hub::start(Database::sqlite().await).await;
    let id = hub.create_instance().await["id"].as_i64().unwrap();
    let before = hub.db.snapshot().await;
    let mut cases = Vec::new();
    for spelling in [
        "/\\127.0.0.2:3001/leak",
        "/\t/127.0.0.2:3001/leak",
        "/\n/127.0.0.2:3001/leak",
        "/\r\n/127.0.0.2:3001/leak",
        "//127.0.0.2:3001/leak",
        "\\\\127.0.0.2:3001/leak",
        "/ /127.0.0.2:3001/leak",
        "/%5C127.0.0.2:3001/leak",
        "/%2F127.0.0.2:3001/leak",
        "/x@127.0.0.2:3001/leak",
        "/\u{3000}/127.0.0.2:3001/leak",
        "http://127.0.0.2:3001/leak",
    ] {
        cases.push((
            messages_poller(&format!("{spelling}{WINDOW}"), "/v1/messages/${id}"),
            "messages.url",
        ));
        cases.push((
            messages_poller(&format!("/v1/messages{WINDOW}"), &format!("{spelling}/${{id}}")),
            "messages.confirmUrl",
        ));
    }
    cases.push((
        messages_poller(&format!("/v1/messages{WINDOW}"), "//127.0.0.2:3001/confirm/${id}"),
        "messages.confirmUrl",
    ));
    for (poller, field) in cases {
        let (status, body) = hub
            .call(
                Method::PATCH,
                &format!("/instances/{id}"),
                &hub.auth,
                Some(json!({"configuration": {"event.vendor.type": "polling", "event.poller.configuration": poller}})),
            )
            .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{poller}: {body}");
        let message = body["message"].as_str().unwrap();
        assert!(
            message.contains(&format!(
                "event.poller.configuration: {field}: must be a path on the provider's API"
            )),
            "{message}"
        );
    }
    assert_eq!(hub.db.snapshot().await, before, "nothing was stored");
    hub.stop().await;
}

/// Writes an instance's poller configuration straight into the database, as a bug, an old
/// version or a restored backup might have left it, without the API's checks.
async fn store_behind_the_api(db: &Database, id: i64, poller: &Value) {
    let mut connection = sqlx::SqliteConnection::connect(&db.url()).await.unwrap();
    sqlx::query(
        "INSERT INTO instance_config (id, instance_id, key, value) \
         SELECT COALESCE(MAX(id), 0) + 1, $1, 'event.poller.configuration', $2 FROM instance_config WHERE TRUE \
         ON CONFLICT (instance_id, key) DO UPDATE SET value = excluded.value, value_sealed = NULL",
    )
    .bind(id)
    .bind(poller.to_string())
    .execute(&mut connection)
    .await
    .unwrap();
    connection.close().await.unwrap();
}

/// Even a hostile template that reached the store without the API never makes the hub call
/// another host: a listener there hears nothing while the polls run, and each poll fails,
/// paused, with a reason naming the field.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stored_hostile_poller_never_leaves_the_provider() {
    let hub = Hub::start_with(Database::sqlite().await, polling_hub()).await;
    let receiver = Receiver::start().await;
    // Another loopback address (all of 127.0.0.0/8 is loopback on Linux), as an internal
    // service would be: the simulator, standing in for Hootsuite, is on 127.0.0.1.
    let listener = tokio::net::TcpListener::bind("127.0.0.2:0").await.unwrap();
    let target = listener.local_addr().unwrap();
    let connections = Arc::new(AtomicUsize::new(0));
    let counted = connections.clone();
    tokio::spawn(async move {
        while let Ok((socket, _)) = listener.accept().await {
            counted.fetch_add(1, Ordering::SeqCst);
            drop(socket);
        }
    });
    let listing = format!("/v1/messages{WINDOW}");
    let hostile = [
        (
            messages_poller(&format!("/\\{target}/leak{WINDOW}"), "/v1/messages/${id}"),
            "messages.url",
        ),
        (
            messages_poller(&format!("/\t/{target}/leak{WINDOW}"), "/v1/messages/${id}"),
            "messages.url",
        ),
        (
            messages_poller(&format!("/\n/{target}/leak{WINDOW}"), "/v1/messages/${id}"),
            "messages.url",
        ),
        (
            messages_poller(&listing, &format!("//{target}/confirm/${{id}}")),
            "messages.confirmUrl",
        ),
    ];
    let mut instances = Vec::new();
    for (poller, field) in hostile {
        let id = hub.create_instance().await["id"].as_i64().unwrap();
        store_behind_the_api(&hub.db, id, &poller).await;
        instances.push((id, field));
    }
    // A message for the listing to find, so that it can vanish later.
    let hootsuite = Hootsuite::connect(&hub).await;
    let message = hootsuite.schedule(1, 3600).await;
    for (id, _) in &instances {
        start_polling(&hub, *id, &receiver, 1, None).await;
    }
    for (id, _) in &instances {
        eventually(20, "a poll of every instance", || async {
            let status = poller_status(&hub, *id).await;
            (status["failures"].as_u64() > Some(0) || !status["lastPollDate"].is_null()).then_some(())
        })
        .await;
    }
    // The message vanishes: a poll that got as far as its listing would now confirm the
    // deletion at confirmUrl.
    hootsuite.delete(&message[0]).await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(
        connections.load(Ordering::SeqCst),
        0,
        "the hub sent requests to {target}"
    );
    for (id, field) in instances {
        let status = poller_status(&hub, id).await;
        let reason = status["pausedReason"]
            .as_str()
            .unwrap_or_else(|| panic!("the poll was not refused: {status}"));
        assert!(
            reason.starts_with(&format!("{field}: must be a path on the provider's API")),
            "{reason}"
        );
    }
    hub.stop().await;
}

async fn redirects_are_not_followed(db: Database) {
    let hub = Hub::start(db).await;
    let receiver = Receiver::start().await;
    let elsewhere = Receiver::start().await;
    receiver.script([Answer {
        status: 307,
        headers: vec![("location", elsewhere.url.clone())],
        ..Answer::from(0)
    }]);
    let instance = instance_sending_to(&hub, &receiver.url).await;
    post_webhook(&hub, &instance, &json!([message_event(1, "SENT", "1")])).await;
    receiver.wait_for(2, 10).await;
    assert!(elsewhere.received().is_empty(), "the redirect target was never called");
    hub.stop().await;
}

async fn rate_limits_per_instance_and_per_organization(db: Database) {
    let hub = Hub::start_with(
        db,
        HubOptions {
            configure: Box::new(|config| {
                config.limits.receiver_per_instance_per_second = 1;
                config.limits.receiver_burst = 3;
                config.limits.api_per_organization_per_second = 1;
                config.limits.api_burst = 40;
            }),
            ..Default::default()
        },
    )
    .await;
    let receiver = Receiver::start().await;
    let first = instance_sending_to(&hub, &receiver.url).await;
    let second = instance_sending_to(&hub, &receiver.url).await;
    let mut statuses = Vec::new();
    for n in 0..5 {
        statuses.push(post_webhook(&hub, &first, &json!([message_event(n, "SENT", "1")])).await);
    }
    assert_eq!(&statuses[..3], [StatusCode::OK; 3]);
    assert_eq!(statuses[4], StatusCode::TOO_MANY_REQUESTS, "{statuses:?}");
    assert_eq!(
        post_webhook(&hub, &second, &json!([message_event(9, "SENT", "2")])).await,
        StatusCode::OK,
        "another instance has its own allowance"
    );

    // The organization's API allowance runs out; another organization's does not.
    let globex = hub.other_tenant().await;
    let limited = eventually(10, "the API limit", || async {
        let response = hub
            .http
            .get(format!("{}/instances", hub.base))
            .header("authorization", &hub.auth)
            .send()
            .await
            .unwrap();
        (response.status() == StatusCode::TOO_MANY_REQUESTS).then_some(response)
    })
    .await;
    let retry_after: u64 = limited.headers()["retry-after"].to_str().unwrap().parse().unwrap();
    assert!(retry_after >= 1);
    let body: serde_json::Value = limited.json().await.unwrap();
    assert!(
        body["message"].as_str().unwrap().contains("Too many requests"),
        "{body}"
    );
    let (status, _) = hub.call(Method::GET, "/instances", &globex, None).await;
    assert_eq!(status, StatusCode::OK);
    hub.stop().await;
}

/// Every answer, error or not, tells browsers not to sniff it and caches not to keep it
/// (instances carry their token, sessions their CSRF token); the console's static files
/// keep their own, revalidated, caching.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn answers_are_neither_cached_nor_sniffed() {
    let hub = Hub::start(Database::sqlite().await).await;
    let instance = hub.create_instance().await;
    let id = instance["id"].as_i64().unwrap();
    let origin = format!("http://{}", hub.running.addr);
    let calls = [
        (Method::GET, format!("{}/instances/{id}", hub.base), true),
        (Method::GET, format!("{}/instances", hub.base), true),
        (Method::GET, format!("{}/instances/{id}/configuration", hub.base), true),
        (Method::POST, format!("{}/instances/{id}/events/secret", hub.base), true),
        (Method::GET, format!("{}/instances/999", hub.base), true),
        (Method::GET, format!("{}/instances", hub.base), false),
        (Method::GET, format!("{}/openapi.json", hub.base), false),
        (Method::GET, format!("{origin}/console/session"), false),
        (Method::GET, format!("{origin}/"), false),
        (Method::GET, format!("{origin}/health"), false),
        (Method::GET, format!("{origin}/no/such/route"), false),
    ];
    for (method, url, authenticated) in calls {
        let mut request = hub.http.request(method.clone(), &url);
        if authenticated {
            request = request.header("authorization", &hub.auth);
        }
        let response = request.send().await.unwrap();
        let headers = response.headers();
        let what = format!("{method} {url} ({})", response.status());
        assert_eq!(headers["x-content-type-options"], "nosniff", "{what}");
        assert_eq!(headers["cache-control"], "no-store", "{what}");
    }
    let asset = hub.http.get(format!("{origin}/console/app.js")).send().await.unwrap();
    assert_eq!(asset.headers()["x-content-type-options"], "nosniff");
    assert_eq!(asset.headers()["cache-control"], "no-cache");
    hub.stop().await;
}

on_both_backends!(
    callbacks_to_private_addresses_are_refused,
    redirects_are_not_followed,
    rate_limits_per_instance_and_per_organization,
);
