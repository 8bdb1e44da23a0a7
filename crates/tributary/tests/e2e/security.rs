//! Security properties over real HTTP: the SSRF guard on callback URLs (literal addresses
//! refused when saved, names refused when they resolve to private addresses, neither
//! refusal naming an address), redirects never followed, and answers that no cache keeps.

use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::{
    events::{instance_sending_to, message_event, post_webhook},
    on_both_backends,
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
