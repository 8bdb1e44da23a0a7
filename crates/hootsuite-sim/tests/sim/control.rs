//! The control API itself: faults, the clock, runtime configuration, creating world objects,
//! silent edits, grant revocation, and shutting the simulator down.

use std::time::Duration;

use hootsuite_sim::{DEFAULT_CLIENT_ID, DEFAULT_MEMBER_ID, DEFAULT_ORGANIZATION_ID, DEFAULT_TWITTER_PROFILE_ID};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use tokio::time::Instant;

use crate::common::{Receiver, TestSim, in_minutes};

#[tokio::test]
async fn faults_answer_with_hootsuite_error_bodies_then_clear() {
    let sim = TestSim::start().await;
    let token = sim.access_token().await;
    sim.control(
        Method::POST,
        "/faults",
        json!({ "pathPrefix": "/v1/messages", "status": 503, "count": 2 }),
    )
    .await;
    let listing = format!("/v1/messages?startTime={}&endTime={}", in_minutes(0), in_minutes(60));

    // Other paths are untouched.
    assert_eq!(sim.get("/v1/me", &token).await.status, StatusCode::OK);
    for _ in 0..2 {
        let failed = sim.get(&listing, &token).await;
        assert_eq!(failed.status, StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(failed.code(), 5000);
    }
    assert_eq!(sim.get(&listing, &token).await.status, StatusCode::OK);

    sim.control(
        Method::POST,
        "/faults",
        json!({ "pathPrefix": "/oauth2/token", "status": 503, "count": 5 }),
    )
    .await;
    let refused = sim
        .token(&[("grant_type", "member_app"), ("member_id", DEFAULT_MEMBER_ID)])
        .await;
    assert_eq!(refused.status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(refused.body["error"], "temporarily_unavailable");
    assert_eq!(refused.body["status_code"], 503);
    assert_eq!(sim.get_control("/faults").await[0]["remaining"], 4);
    sim.control(Method::DELETE, "/faults", Value::Null).await;
    assert_eq!(sim.get_control("/faults").await, json!([]));
    let ok = sim
        .token(&[("grant_type", "member_app"), ("member_id", DEFAULT_MEMBER_ID)])
        .await;
    assert_eq!(ok.status, StatusCode::OK);

    // Status 0 delays the request and then answers it normally.
    sim.control(
        Method::POST,
        "/faults",
        json!({ "pathPrefix": "/v1/me", "status": 0, "delayMs": 300 }),
    )
    .await;
    let started = Instant::now();
    assert_eq!(sim.get("/v1/me", &token).await.status, StatusCode::OK);
    assert!(started.elapsed() >= Duration::from_millis(300));
    let rate_limited = sim
        .control(
            Method::POST,
            "/faults",
            json!({ "pathPrefix": "/v1/me", "status": 429 }),
        )
        .await;
    assert_eq!(rate_limited[0]["remaining"], 1);
    assert_eq!(sim.get("/v1/me", &token).await.code(), 1003);

    for bad in [
        json!({ "pathPrefix": "/v1", "status": 0 }),
        json!({ "pathPrefix": "/v1", "status": 700 }),
        json!({ "pathPrefix": "/_sim/clock", "status": 500 }),
        json!({ "pathPrefix": "/v1", "status": 500, "count": 0 }),
    ] {
        let answer = sim.control_raw(Method::POST, "/faults", bad.clone()).await;
        assert_eq!(answer.status, StatusCode::BAD_REQUEST, "{bad}");
        assert!(answer.body["error"].is_string());
    }
}

#[tokio::test]
async fn the_clock_moves_event_timestamps_and_schedules() {
    let sim = TestSim::start().await;
    let receiver = Receiver::start().await;
    let clock = sim
        .control(Method::PUT, "/clock", json!({ "offsetSecs": 86_400 }))
        .await;
    let token = sim.access_token().await;
    assert_eq!(clock["offsetSecs"], 86_400);
    let now = chrono::DateTime::parse_from_rfc3339(clock["now"].as_str().unwrap()).unwrap();
    let ahead = now.to_utc() - chrono::Utc::now();
    assert!(ahead > chrono::TimeDelta::hours(23), "{ahead}");

    // A time that is in the future for the wall clock is in the past for the simulator.
    let past = sim
        .api(
            Method::POST,
            "/v1/messages",
            &token,
            Some(json!({ "text": "x", "socialProfileIds": [DEFAULT_TWITTER_PROFILE_ID], "scheduledSendTime": in_minutes(60) })),
        )
        .await;
    assert_eq!(past.code(), 4000);
    sim.schedule(
        &token,
        json!({ "text": "x", "socialProfileIds": [DEFAULT_TWITTER_PROFILE_ID], "scheduledSendTime": in_minutes(25 * 60),
                "webhookUrls": [receiver.url] }),
    )
    .await;
    sim.control(Method::POST, "/webhooks/flush", Value::Null).await;
    let event = receiver.requests()[0].json();
    let stamp = chrono::DateTime::parse_from_rfc3339(event[0]["data"]["timestamp"].as_str().unwrap()).unwrap();
    assert!(stamp.to_utc() - chrono::Utc::now() > chrono::TimeDelta::hours(23));
    assert_eq!(sim.get_control("/clock").await["offsetSecs"], 86_400);
}

#[tokio::test]
async fn runtime_config_reads_back_and_rejects_unknown_fields() {
    let sim = TestSim::start().await;
    let config = sim.get_control("/config").await;
    assert_eq!(config["accessTokenTtlSecs"], 3599);
    assert_eq!(config["codeTtlSecs"], 600);
    assert_eq!(config["rateLimitPerSecond"], 20);
    assert_eq!(config["dailyQuota"], 100_000);
    assert_eq!(config["webhookBatchMax"], 100);
    let changed = sim
        .control(
            Method::PUT,
            "/config",
            json!({ "rateLimitPerSecond": 7, "webhookBatchIntervalMs": 1500, "autoPublish": false }),
        )
        .await;
    assert_eq!(changed["rateLimitPerSecond"], 7);
    assert_eq!(changed["webhookBatchIntervalMs"], 1500);
    assert_eq!(changed["autoPublish"], false);
    assert_eq!(changed["accessTokenTtlSecs"], 3599);
    let typo = sim.control_raw(Method::PUT, "/config", json!({ "rateLimit": 1 })).await;
    assert!(typo.status.is_client_error());
}

#[tokio::test]
async fn created_world_objects_are_usable_through_oauth_and_rest() {
    let sim = TestSim::start().await;
    let org = sim
        .control(Method::POST, "/organizations", json!({ "name": "Third Org" }))
        .await;
    let org_id = org["id"].as_str().unwrap();
    let member = sim
        .control(
            Method::POST,
            "/members",
            json!({ "email": "ann@third.test", "fullName": "Ann", "organizationId": org_id }),
        )
        .await;
    let member_id = member["id"].as_str().unwrap();
    assert_eq!(member["timezone"], "America/Vancouver");
    let profile = sim
        .control(
            Method::POST,
            "/socialProfiles",
            json!({ "ownerMemberId": member_id, "type": "LINKEDINCOMPANY", "socialNetworkUsername": "Third Co" }),
        )
        .await;
    assert_eq!(profile["ownerId"], member_id);
    assert_eq!(profile["socialNetworkUsername"], "Third Co");

    let tokens = sim.login_as(member_id).await;
    let token = tokens["access_token"].as_str().unwrap();
    assert_eq!(sim.get("/v1/me", token).await.body["data"]["email"], "ann@third.test");
    assert_eq!(
        sim.get("/v1/me/organizations", token).await.body["data"][0]["name"],
        "Third Org"
    );
    let profiles = sim.get("/v1/socialProfiles", token).await;
    assert_eq!(profiles.body["data"], json!([profile]));

    for (path, body, status) in [
        (
            "/members",
            json!({ "email": "x", "fullName": "x", "organizationId": "404" }),
            StatusCode::NOT_FOUND,
        ),
        (
            "/members",
            json!({ "email": "x", "fullName": "x", "organizationId": org_id, "language": "xx" }),
            StatusCode::BAD_REQUEST,
        ),
        (
            "/socialProfiles",
            json!({ "ownerMemberId": member_id, "type": "MYSPACE" }),
            StatusCode::BAD_REQUEST,
        ),
        ("/apps", json!({ "clientId": DEFAULT_CLIENT_ID }), StatusCode::CONFLICT),
        (
            "/apps",
            json!({ "redirectUris": ["http://hub.example/cb"] }),
            StatusCode::BAD_REQUEST,
        ),
        ("/apps", json!({ "webhookSecret": "zz" }), StatusCode::BAD_REQUEST),
        (
            "/comments",
            json!({ "organizationId": org_id, "state": "SENT" }),
            StatusCode::BAD_REQUEST,
        ),
    ] {
        assert_eq!(
            sim.control_raw(Method::POST, path, body.clone()).await.status,
            status,
            "{path} {body}"
        );
    }
}

#[tokio::test]
async fn apps_created_by_control_use_their_own_credentials_and_redirects() {
    let sim = TestSim::start().await;
    let app = sim
        .control(
            Method::POST,
            "/apps",
            json!({ "clientId": "hub", "clientSecret": "hub-secret", "name": "Hub", "redirectUris": ["https://hub.example/cb"] }),
        )
        .await;
    assert_eq!(app["clientSecret"], "hub-secret");
    let auth = |redirect: &'static str| {
        sim.http
            .get(sim.url("/oauth2/auth"))
            .query(&[
                ("response_type", "code"),
                ("client_id", "hub"),
                ("redirect_uri", redirect),
                ("state", "0123456789"),
            ])
            .send()
    };
    assert_eq!(auth("https://hub.example/cb").await.unwrap().status(), StatusCode::OK);
    assert_eq!(
        auth("http://localhost:3000/cb").await.unwrap().status(),
        StatusCode::BAD_REQUEST
    );
    sim.control(Method::PATCH, "/apps/hub", json!({ "allowLoopbackRedirects": true }))
        .await;
    assert_eq!(auth("http://localhost:3000/cb").await.unwrap().status(), StatusCode::OK);

    let response = sim
        .consent(&[
            ("response_type", "code"),
            ("client_id", "hub"),
            ("redirect_uri", "https://hub.example/cb"),
            ("state", "0123456789"),
            ("member_id", DEFAULT_MEMBER_ID),
            ("decision", "approve"),
        ])
        .await;
    let code = crate::common::redirect_params(&response)["code"]
        .as_str()
        .unwrap()
        .to_owned();
    let form = [
        ("grant_type", "authorization_code"),
        ("code", code.as_str()),
        ("redirect_uri", "https://hub.example/cb"),
    ];
    // The default app's credentials do not fit this app's code.
    assert_eq!(sim.token(&form).await.body["error"], "invalid_grant");
    let tokens: Value = sim
        .http
        .post(sim.url("/oauth2/token"))
        .basic_auth("hub", Some("hub-secret"))
        .form(&form)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(tokens["access_token"].is_string(), "{tokens}");
    assert!(tokens.get("refresh_token").is_none());
}

#[tokio::test]
async fn silent_edits_and_revocation() {
    let sim = TestSim::start().await;
    let receiver = Receiver::start().await;
    let tokens = sim.login_as(DEFAULT_MEMBER_ID).await;
    let token = tokens["access_token"].as_str().unwrap();
    let created = sim
        .schedule(
            token,
            json!({ "text": "before", "socialProfileIds": [DEFAULT_TWITTER_PROFILE_ID],
                                  "scheduledSendTime": in_minutes(30), "webhookUrls": [receiver.url] }),
        )
        .await;
    let id = created[0]["id"].as_str().unwrap();
    sim.control(Method::POST, "/webhooks/flush", Value::Null).await;
    let edited = sim
        .control(
            Method::PATCH,
            &format!("/messages/{id}"),
            json!({ "text": "after", "tags": ["edited"] }),
        )
        .await;
    assert_eq!(edited["text"], "after");
    let fetched = sim.get(&format!("/v1/messages/{id}"), token).await;
    assert_eq!(fetched.body["data"]["text"], "after");
    assert_eq!(fetched.body["data"]["tags"], json!(["edited"]));
    assert_eq!(
        sim.control(Method::POST, "/webhooks/flush", Value::Null).await["flushed"],
        json!([])
    );
    assert_eq!(receiver.requests().len(), 1, "edits emit no event");

    let state = sim
        .control_raw(
            Method::POST,
            &format!("/messages/{id}/state"),
            json!({ "state": "FAILED" }),
        )
        .await;
    assert_eq!(state.status, StatusCode::BAD_REQUEST, "FAILED is a comment state only");
    let approved = sim.set_message_state(id, "APPROVED").await;
    assert_eq!(approved["state"], "SCHEDULED");
    sim.control(Method::POST, "/webhooks/flush", Value::Null).await;
    let states: Vec<String> = receiver.requests()[1]
        .json()
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["data"]["state"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(states, ["APPROVED", "SCHEDULED"]);

    let revoked = sim
        .control(
            Method::POST,
            "/grants/revoke",
            json!({ "clientId": DEFAULT_CLIENT_ID, "memberId": DEFAULT_MEMBER_ID }),
        )
        .await;
    assert_eq!(revoked["revoked"], 1);
    assert_eq!(sim.get("/v1/me", token).await.code(), 1001);
    let refresh = sim
        .token(&[
            ("grant_type", "refresh_token"),
            ("refresh_token", tokens["refresh_token"].as_str().unwrap()),
        ])
        .await;
    assert_eq!(refresh.body["error"], "invalid_grant");
    // The member still has the app installed, so a member_app token can be had again.
    let member_app = sim
        .token(&[("grant_type", "member_app"), ("member_id", DEFAULT_MEMBER_ID)])
        .await;
    assert_eq!(member_app.status, StatusCode::OK);
    let org_app = sim
        .token(&[
            ("grant_type", "organization_app"),
            ("organization_id", DEFAULT_ORGANIZATION_ID),
        ])
        .await;
    assert_eq!(org_app.status, StatusCode::OK);
}

#[tokio::test]
async fn shutdown_stops_serving() {
    let sim = TestSim::start().await;
    let base = sim.handle.base_url();
    assert!(base.starts_with("http://127.0.0.1:"));
    let metadata = format!("{base}/.well-known/oauth-authorization-server");
    assert!(sim.http.get(&metadata).send().await.unwrap().status().is_success());
    let TestSim { handle, http } = sim;
    handle.shutdown().await;
    let fresh = reqwest::Client::builder().no_proxy().build().unwrap();
    assert!(fresh.get(&metadata).send().await.is_err());
    drop(http);
}
