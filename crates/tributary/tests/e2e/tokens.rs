//! The token lifecycle against the simulator: rotation across expiry, a refused refresh,
//! code reuse, and one refresh at a time across hub processes.

use std::time::Duration;

use hootsuite_sim::SimConfig;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::{
    on_both_backends,
    support::{Database, Hub, HubOptions, eventually},
};

/// Tokens that expire in 4 s: the hub refreshes them about every 2 s.
fn short_lived() -> HubOptions {
    HubOptions {
        sim: SimConfig {
            access_token_ttl: Duration::from_secs(4),
            ..SimConfig::default()
        },
        ..Default::default()
    }
}

async fn refreshes(hub: &Hub) -> Vec<Value> {
    let log = hub.sim_control(Method::GET, "/token-requests", None).await;
    log.as_array()
        .unwrap()
        .iter()
        .filter(|r| r["grantType"] == "refresh_token")
        .cloned()
        .collect()
}

async fn provider_accepts(hub: &Hub, token: &str) -> bool {
    let response = hub
        .http
        .get(format!("{}/v1/me", hub.sim_url()))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    response.status() == StatusCode::OK
}

async fn rotation_across_expiry(db: Database) {
    let hub = Hub::start_with(db, short_lived()).await;
    let instance = hub.create_instance().await;
    let id = instance["id"].as_i64().unwrap();
    let first_token = hub.stored_access_token(id).await;

    let done = eventually(20, "three refreshes", || async {
        let done = refreshes(&hub).await;
        (done.len() >= 3).then_some(done)
    })
    .await;
    assert!(
        done.iter().all(|r| r["outcome"] == "ok"),
        "every refresh used a live refresh token: {done:?}"
    );
    let fingerprints: std::collections::HashSet<_> =
        done.iter().map(|r| r["refreshTokenFingerprint"].clone()).collect();
    assert_eq!(fingerprints.len(), done.len(), "no refresh token was used twice");

    let (_, now) = hub.get(&format!("/instances/{id}")).await;
    assert_eq!(now["valid"], true);
    assert!(now["tokenRefreshedDate"].as_str() > instance["tokenRefreshedDate"].as_str());
    // The token the hub holds now works; the first one was revoked by the rotation.
    let current = hub.stored_access_token(id).await;
    assert_ne!(current, first_token);
    assert!(provider_accepts(&hub, &current).await);
    assert!(!provider_accepts(&hub, &first_token).await);
    hub.stop().await;
}

async fn refused_refresh_marks_invalid_once(db: Database) {
    let hub = Hub::start_with(db, short_lived()).await;
    let instance = hub.create_instance().await;
    let id = instance["id"].as_i64().unwrap();
    hub.sim_control(
        Method::POST,
        "/grants/revoke",
        Some(json!({"clientId": hootsuite_sim::DEFAULT_CLIENT_ID})),
    )
    .await;

    let invalid = eventually(15, "the instance to turn invalid", || async {
        let (_, body) = hub.get(&format!("/instances/{id}")).await;
        (body["valid"] == false).then_some(body)
    })
    .await;
    let reason = invalid["invalidReason"].as_str().unwrap();
    assert!(
        reason.contains("re-authenticate") && reason.contains("invalid_grant"),
        "{reason}"
    );

    // The hub does not keep hammering the provider with a dead refresh token.
    tokio::time::sleep(Duration::from_secs(5)).await;
    let failed = refreshes(&hub)
        .await
        .into_iter()
        .filter(|r| r["outcome"] != "ok")
        .count();
    assert_eq!(failed, 1);

    // Re-authenticating makes it valid again.
    let code = hub
        .consent(
            hootsuite_sim::DEFAULT_CLIENT_ID,
            "http://localhost:3000/oauth/callback",
            "again-12345",
        )
        .await;
    let (status, body) = hub
        .call(
            Method::PATCH,
            &format!("/instances/{id}"),
            &hub.auth,
            Some(json!({"providerData": {"code": code}})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["valid"], true);
    assert!(body.get("invalidReason").is_none());
    hub.stop().await;
}

async fn reused_code_revokes_the_first_grant(db: Database) {
    let hub = Hub::start_with(db, short_lived()).await;
    let callback = "http://localhost:3000/oauth/callback";
    let code = hub
        .consent(hootsuite_sim::DEFAULT_CLIENT_ID, callback, "first-use-1")
        .await;
    let (status, first) = hub
        .call(
            Method::POST,
            "/instances",
            &hub.auth,
            Some(hub.seed_body(&code, callback)),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let (status, second) = hub
        .call(
            Method::POST,
            "/instances",
            &hub.auth,
            Some(hub.seed_body(&code, callback)),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{second}");
    assert!(second["providerMessage"].as_str().unwrap().contains("invalid_grant"));
    // Hootsuite revokes what the first exchange granted: the first instance finds out at its
    // next refresh and says so.
    let id = first["id"].as_i64().unwrap();
    eventually(15, "the first instance to turn invalid", || async {
        let (_, body) = hub.get(&format!("/instances/{id}")).await;
        (body["valid"] == false).then_some(())
    })
    .await;
    assert_eq!(hub.get("/instances").await.1.as_array().unwrap().len(), 1);
    hub.stop().await;
}

/// Two hub processes on one PostgreSQL database refresh the same short-lived tokens: the
/// lease makes sure each refresh token is spent exactly once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_processes_never_refresh_twice() {
    let hub = Hub::start_with(Database::postgres().await, short_lived()).await;
    let second = hub.second_node().await;
    let mut ids = Vec::new();
    for _ in 0..3 {
        ids.push(hub.create_instance().await["id"].as_i64().unwrap());
    }
    let done = eventually(30, "nine refreshes", || async {
        let done = refreshes(&hub).await;
        (done.len() >= 9).then_some(done)
    })
    .await;
    assert!(done.iter().all(|r| r["outcome"] == "ok"), "{done:?}");
    for id in ids {
        let (_, body) = hub.get(&format!("/instances/{id}")).await;
        assert_eq!(body["valid"], true, "{body}");
        assert!(provider_accepts(&hub, &hub.stored_access_token(id).await).await);
    }
    second.stop().await;
    hub.stop().await;
}

on_both_backends!(
    rotation_across_expiry,
    refused_refresh_marks_invalid_once,
    reused_code_revokes_the_first_grant
);
