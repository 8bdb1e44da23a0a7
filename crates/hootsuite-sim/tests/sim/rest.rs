//! REST API: envelopes, authentication errors, rate limits (on every endpoint the hub uses),
//! injected faults, scheduling with fan-out, the windowed cursor listing, retrieval, deletion,
//! approvals and auto-publishing.

use std::collections::HashSet;

use hootsuite_sim::{
    DEFAULT_FACEBOOK_PAGE_PROFILE_ID, DEFAULT_MEMBER_ID, DEFAULT_ORGANIZATION_ID, DEFAULT_TEAM_ID,
    DEFAULT_TWITTER_PROFILE_ID, SECOND_MEMBER_ID, SECOND_PROFILE_ID, SimConfig,
};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::common::{TestSim, eventually, fast_config, in_minutes};

const BOTH_PROFILES: [&str; 2] = [DEFAULT_TWITTER_PROFILE_ID, DEFAULT_FACEBOOK_PAGE_PROFILE_ID];

fn window() -> String {
    format!("startTime={}&endTime={}", in_minutes(0), in_minutes(7 * 24 * 60))
}

#[tokio::test]
async fn me_organizations_and_profiles_use_the_data_envelope() {
    let sim = TestSim::start().await;
    let token = sim.access_token().await;

    let me = sim.get("/v1/me", &token).await;
    assert_eq!(me.status, StatusCode::OK);
    assert_eq!(
        me.body,
        json!({ "data": {
            "id": DEFAULT_MEMBER_ID, "email": "jsmith@test.com", "isActive": true,
            "createdDate": "2013-05-29T13:27:24Z", "modifiedDate": "2013-05-29T13:27:24Z",
            "fullName": "Joe Smith", "companyName": "Hootsuite", "bio": "I am Joe Smith",
            "timezone": "America/Vancouver", "language": "en"
        }})
    );
    let orgs = sim.get("/v1/me/organizations", &token).await;
    assert_eq!(orgs.body["data"][0]["id"], DEFAULT_ORGANIZATION_ID);
    assert_eq!(orgs.body["data"][0]["name"], "Test Organization");
    assert_eq!(orgs.body["data"].as_array().unwrap().len(), 1);

    let profiles = sim.get("/v1/socialProfiles", &token).await;
    let data = profiles.body["data"].as_array().unwrap();
    let types: Vec<&str> = data.iter().map(|p| p["type"].as_str().unwrap()).collect();
    assert_eq!(types, ["TWITTER", "FACEBOOKPAGE"]);
    assert!(
        data.iter()
            .all(|p| p["owner"] == "MEMBER" && p["ownerId"] == DEFAULT_MEMBER_ID)
    );
    // The Swagger's `MemberSocialProfiles`: the same profiles, by id only.
    let mine = sim.get("/v1/me/socialProfiles", &token).await;
    assert_eq!(
        mine.body,
        json!({ "data": [{ "id": DEFAULT_TWITTER_PROFILE_ID }, { "id": DEFAULT_FACEBOOK_PAGE_PROFILE_ID }] })
    );
    let one = sim
        .get(&format!("/v1/socialProfiles/{DEFAULT_TWITTER_PROFILE_ID}"), &token)
        .await;
    assert_eq!(one.body["data"]["id"], DEFAULT_TWITTER_PROFILE_ID);
    assert_eq!(one.body["data"]["socialNetworkUsername"], Value::Null);

    for hidden in [SECOND_PROFILE_ID, "999"] {
        let missing = sim.get(&format!("/v1/socialProfiles/{hidden}"), &token).await;
        assert_eq!(missing.status, StatusCode::NOT_FOUND);
        assert_eq!(missing.code(), 4001);
        assert!(missing.body["errors"][0]["id"].is_string());
    }
    let nowhere = sim.get("/v1/nowhere", &token).await;
    assert_eq!(nowhere.status, StatusCode::NOT_FOUND);
    assert_eq!(nowhere.code(), 4001);
}

#[tokio::test]
async fn missing_and_invalid_tokens_have_distinct_codes() {
    let sim = TestSim::start().await;
    let token = sim.access_token().await;
    let bare = sim.http.get(sim.url("/v1/me")).send().await.unwrap();
    assert_eq!(bare.status(), StatusCode::UNAUTHORIZED);
    let body: Value = bare.json().await.unwrap();
    assert_eq!(body["errors"][0]["code"], 1000);
    assert_eq!(body["errors"][0]["message"], "Missing or duplicate access token");

    let duplicate = sim
        .http
        .get(sim.url("/v1/me"))
        .header("authorization", format!("Bearer {token}"))
        .header("authorization", format!("Bearer {token}"))
        .send()
        .await
        .unwrap();
    assert_eq!(duplicate.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(duplicate.json::<Value>().await.unwrap()["errors"][0]["code"], 1000);

    let invalid = sim.get("/v1/me", "made.up").await;
    assert_eq!(invalid.status, StatusCode::UNAUTHORIZED);
    assert_eq!(invalid.code(), 1001);
    assert!(invalid.header("x-account-quota").is_none());
}

#[tokio::test]
async fn rate_limit_per_second_and_per_day_answer_429_with_code_1003() {
    let sim = TestSim::with(SimConfig {
        rate_limit_per_second: 3,
        // The token must outlive the jump to the next day below.
        access_token_ttl: std::time::Duration::from_secs(3 * 86_400),
        ..fast_config()
    })
    .await;
    let token = sim.access_token().await;
    let mut answers = Vec::new();
    for _ in 0..4 {
        answers.push(sim.get("/v1/me", &token).await);
    }
    for (n, answer) in answers.iter().take(3).enumerate() {
        assert_eq!(answer.status, StatusCode::OK);
        assert_eq!(answer.header("x-account-quota"), Some("100000 per day"));
        assert_eq!(
            answer.header("x-account-quota-used"),
            Some((n + 1).to_string().as_str())
        );
        assert_eq!(
            answer.header("x-account-rate-limit-requests-remaining"),
            Some((2 - n).to_string().as_str())
        );
    }
    let limited = &answers[3];
    assert_eq!(limited.status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(limited.code(), 1003);
    assert_eq!(limited.body["errors"][0]["message"], "Account plan limit exceeded");
    assert_eq!(limited.header("x-account-rate-limit-requests-remaining"), Some("0"));
    assert_eq!(limited.header("x-account-quota-used"), Some("3"));
    assert!(limited.header("retry-after").is_none());

    // Another account is unaffected, and the window slides.
    let other = sim.login_as(SECOND_MEMBER_ID).await;
    let other = sim.get("/v1/me", other["access_token"].as_str().unwrap()).await;
    assert_eq!(other.status, StatusCode::OK);
    eventually("the 1-second window to pass", || async {
        sim.get("/v1/me", &token).await.status == StatusCode::OK
    })
    .await;

    // The daily quota, and its reset on the next (simulated) day.
    sim.control(
        Method::PUT,
        "/config",
        json!({ "dailyQuota": 4, "rateLimitPerSecond": 100 }),
    )
    .await;
    let over = sim.get("/v1/me", &token).await;
    assert_eq!(over.status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(over.header("x-account-quota"), Some("4 per day"));
    sim.control(Method::PUT, "/clock", json!({ "offsetSecs": 86_400 }))
        .await;
    let tomorrow = sim.get("/v1/me", &token).await;
    assert_eq!(tomorrow.status, StatusCode::OK);
    assert_eq!(tomorrow.header("x-account-quota-used"), Some("1"));
}

#[tokio::test]
async fn scheduling_fans_out_one_message_per_profile() {
    let sim = TestSim::start().await;
    let token = sim.access_token().await;
    let when = in_minutes(30);
    let created = sim
        .schedule(
            &token,
            json!({
                "text": "Hello world", "socialProfileIds": BOTH_PROFILES,
                "scheduledSendTime": when, "tags": ["launch"], "emailNotification": false,
                "webhookUrls": ["https://hub.example/hooks/hootsuite"]
            }),
        )
        .await;
    assert_eq!(created.len(), 2);
    let ids: HashSet<&str> = created.iter().map(|m| m["id"].as_str().unwrap()).collect();
    assert_eq!(ids.len(), 2);
    assert!(ids.iter().all(|id| id.parse::<u64>().is_ok()));
    for (message, profile) in created.iter().zip(BOTH_PROFILES) {
        assert_eq!(message["state"], "SCHEDULED");
        assert_eq!(message["text"], "Hello world");
        assert_eq!(message["socialProfile"]["id"], profile);
        assert_eq!(message["scheduledSendTime"], when.as_str());
        assert_eq!(message["webhookUrls"], json!(["https://hub.example/hooks/hootsuite"]));
        assert_eq!(message["tags"], json!(["launch"]));
        assert_eq!(message["createdByMember"]["id"], DEFAULT_MEMBER_ID);
        assert_eq!(message["lastUpdatedByMember"]["id"], DEFAULT_MEMBER_ID);
        assert_eq!(message["sequenceNumber"], Value::Null);
        assert_eq!(message["postId"], Value::Null);
    }
}

#[tokio::test]
async fn scheduling_validates_the_body() {
    let sim = TestSim::start().await;
    let token = sim.access_token().await;
    let post = |body: Value| sim.api(Method::POST, "/v1/messages", &token, Some(body));
    let profiles = [DEFAULT_TWITTER_PROFILE_ID];
    let cases = [
        (json!({ "socialProfileIds": profiles }), 4000),
        (json!({ "text": "x", "socialProfileIds": [] }), 4000),
        (json!({ "text": "x" }), 4000),
        (
            json!({ "text": "x", "socialProfileIds": profiles, "scheduledSendTime": "2030-01-01T14:00:00+01:00" }),
            4000,
        ),
        (
            json!({ "text": "x", "socialProfileIds": profiles, "scheduledSendTime": "2001-01-01T14:00:00Z" }),
            4000,
        ),
        (
            json!({ "text": "x", "socialProfileIds": profiles, "webhookUrls": ["not a url"] }),
            4000,
        ),
        (
            json!({ "text": "x", "socialProfileIds": profiles, "webhookUrls": ["ftp://h/x"] }),
            4000,
        ),
        (json!({ "text": 5, "socialProfileIds": profiles }), 4000),
        (
            json!({ "text": "x", "socialProfileIds": [DEFAULT_TWITTER_PROFILE_ID, SECOND_PROFILE_ID] }),
            40001,
        ),
    ];
    for (body, code) in cases {
        let answer = post(body.clone()).await;
        assert_eq!(answer.status, StatusCode::BAD_REQUEST, "{body}");
        assert_eq!(answer.code(), code, "{body}: {}", answer.body);
    }
    let hidden = post(json!({ "text": "x", "socialProfileIds": [SECOND_PROFILE_ID] })).await;
    assert_eq!(
        hidden.body["errors"][0]["resource"],
        json!({ "type": "socialProfile", "id": SECOND_PROFILE_ID })
    );
    let garbage = sim
        .http
        .post(sim.url("/v1/messages"))
        .bearer_auth(&token)
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_eq!(garbage.status(), StatusCode::BAD_REQUEST);

    // Nothing was created by the failed requests.
    let list = sim.get(&format!("/v1/messages?{}", window()), &token).await;
    assert_eq!(list.body["data"], json!([]));

    let strict = TestSim::with(SimConfig {
        strict_webhook_urls: true,
        ..fast_config()
    })
    .await;
    let token = strict.access_token().await;
    let local = strict
        .api(
            Method::POST,
            "/v1/messages",
            &token,
            Some(json!({ "text": "x", "socialProfileIds": profiles, "webhookUrls": ["http://127.0.0.1:8080/hook"] })),
        )
        .await;
    assert_eq!(local.code(), 4000);
    assert!(
        local.body["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("not a public address")
    );
}

#[tokio::test]
async fn listing_pages_through_more_than_a_hundred_messages_exactly_once() {
    let sim = TestSim::with(SimConfig {
        rate_limit_per_second: 1000,
        ..fast_config()
    })
    .await;
    let token = sim.access_token().await;
    // 61 posts fan out to 122 messages; pairs share a send time, so the id breaks ties.
    let mut expected = Vec::new();
    for i in 0..61 {
        let created = sim
            .schedule(
                &token,
                json!({ "text": format!("post {i}"), "socialProfileIds": BOTH_PROFILES,
                        "scheduledSendTime": in_minutes(60 + (61 - i)) }),
            )
            .await;
        expected.extend(created.iter().map(|m| {
            (
                m["scheduledSendTime"].as_str().unwrap().to_owned(),
                m["id"].as_str().unwrap().parse::<u64>().unwrap(),
            )
        }));
    }
    expected.sort();
    let expected: Vec<u64> = expected.into_iter().map(|(_, id)| id).collect();

    let mut seen = Vec::new();
    let mut pages = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let mut path = format!("/v1/messages?{}", window());
        if let Some(c) = &cursor {
            path.push_str(&format!("&cursor={}", urlencode(c)));
        }
        let page = sim.get(&path, &token).await;
        assert_eq!(page.status, StatusCode::OK, "{}", page.body);
        let data = page.body["data"].as_array().unwrap();
        assert!(data.len() <= 50);
        seen.extend(data.iter().map(|m| m["id"].as_str().unwrap().parse::<u64>().unwrap()));
        let previous = &page.body["metadata"]["cursor"]["previous"];
        assert_eq!(previous.is_null(), pages.is_empty());
        pages.push(page.body.clone());
        match page.body["metadata"]["cursor"]["next"].as_str() {
            Some(next) => cursor = Some(next.to_owned()),
            None => break,
        }
    }
    assert_eq!(pages.len(), 3);
    assert_eq!(seen, expected, "every message exactly once, by send time then id");

    // The previous cursor of the last page leads back to the second page.
    let previous = pages[2]["metadata"]["cursor"]["previous"].as_str().unwrap();
    let back = sim
        .get(
            &format!("/v1/messages?{}&cursor={}", window(), urlencode(previous)),
            &token,
        )
        .await;
    assert_eq!(back.body["data"], pages[1]["data"]);

    let big = sim.get(&format!("/v1/messages?{}&limit=100", window()), &token).await;
    assert_eq!(big.body["data"].as_array().unwrap().len(), 100);
    let filtered = sim
        .get(
            &format!(
                "/v1/messages?{}&limit=100&socialProfileIds={DEFAULT_TWITTER_PROFILE_ID}",
                window()
            ),
            &token,
        )
        .await;
    assert_eq!(filtered.body["data"].as_array().unwrap().len(), 61);
    assert_eq!(filtered.body["metadata"]["cursor"]["next"], Value::Null);
    let too_many = sim.get(&format!("/v1/messages?{}&limit=101", window()), &token).await;
    assert_eq!(too_many.code(), 4000);

    // The window bounds the listing: only the first half hour after the messages begin.
    let narrow = format!("startTime={}&endTime={}", in_minutes(61), in_minutes(91));
    let narrow = sim.get(&format!("/v1/messages?{narrow}&limit=100"), &token).await;
    let in_window = narrow.body["data"].as_array().unwrap().len();
    assert!(0 < in_window && in_window < 100, "{in_window}");

    // Another member sees none of them.
    let other = sim.login_as(SECOND_MEMBER_ID).await;
    let other = sim
        .get(
            &format!("/v1/messages?{}", window()),
            other["access_token"].as_str().unwrap(),
        )
        .await;
    assert_eq!(other.body["data"], json!([]));
}

fn urlencode(text: &str) -> String {
    url::form_urlencoded::byte_serialize(text.as_bytes()).collect()
}

#[tokio::test]
async fn listing_rejects_bad_windows_states_and_cursors() {
    let sim = TestSim::start().await;
    let token = sim.access_token().await;
    let start = in_minutes(0);
    let cases = [
        (format!("endTime={}", in_minutes(10)), 4000),
        (format!("startTime={start}"), 4000),
        (format!("startTime=yesterday&endTime={}", in_minutes(10)), 4000),
        // churros' bare dates: the hub has to send full times.
        ("startTime=2017-06-01&endTime=2017-06-27".to_owned(), 4000),
        (
            format!("startTime={start}&endTime={}", in_minutes(4 * 7 * 24 * 60 + 1)),
            40020,
        ),
        (format!("{}&state=DELETED", window()), 40019),
        (format!("{}&state=APPROVED", window()), 40019),
        (format!("{}&cursor=garbage", window()), 3020),
        (format!("{}&cursor=1:2", window()), 3020),
    ];
    for (query, code) in cases {
        let answer = sim.get(&format!("/v1/messages?{query}"), &token).await;
        assert_eq!(answer.status, StatusCode::BAD_REQUEST, "{query}");
        assert_eq!(answer.code(), code, "{query}");
    }
    let exactly_four_weeks = format!("startTime={start}&endTime={}", in_minutes(4 * 7 * 24 * 60));
    let ok = sim
        .get(&format!("/v1/messages?{exactly_four_weeks}&state=SCHEDULED"), &token)
        .await;
    assert_eq!(ok.status, StatusCode::OK);
    assert_eq!(
        ok.body["metadata"],
        json!({ "cursor": { "next": null, "previous": null } })
    );
}

#[tokio::test]
async fn get_and_delete_by_id() {
    let sim = TestSim::start().await;
    let token = sim.access_token().await;
    let created = sim
        .schedule(
            &token,
            json!({ "text": "bye", "socialProfileIds": BOTH_PROFILES, "scheduledSendTime": in_minutes(30) }),
        )
        .await;
    let (first, second) = (created[0]["id"].as_str().unwrap(), created[1]["id"].as_str().unwrap());

    let got = sim.get(&format!("/v1/messages/{first}"), &token).await;
    assert_eq!(
        got.body["data"], created[0],
        "the Swagger shape: data is the message object"
    );

    let deleted = sim
        .api(Method::DELETE, &format!("/v1/messages/{first}"), &token, None)
        .await;
    assert_eq!(deleted.status, StatusCode::OK);
    assert_eq!(deleted.body, json!({ "data": {} }));
    let gone = sim.get(&format!("/v1/messages/{first}"), &token).await;
    assert_eq!(gone.status, StatusCode::NOT_FOUND);
    assert_eq!(gone.code(), 4001);
    let again = sim
        .api(Method::DELETE, &format!("/v1/messages/{first}"), &token, None)
        .await;
    assert_eq!(again.status, StatusCode::NOT_FOUND);
    let list = sim.get(&format!("/v1/messages?{}", window()), &token).await;
    let ids: Vec<&str> = list.body["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, [second]);

    sim.set_message_state(second, "SENT").await;
    let sent = sim.get(&format!("/v1/messages/{second}"), &token).await;
    assert_eq!(sent.body["data"]["state"], "SENT");
    assert!(sent.body["data"]["postId"].is_string());
    let refused = sim
        .api(Method::DELETE, &format!("/v1/messages/{second}"), &token, None)
        .await;
    assert_eq!(refused.status, StatusCode::BAD_REQUEST);
    assert_eq!(refused.code(), 40003);

    let other = sim.login_as(SECOND_MEMBER_ID).await;
    let other = sim
        .get(
            &format!("/v1/messages/{second}"),
            other["access_token"].as_str().unwrap(),
        )
        .await;
    assert_eq!(other.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn approve_and_reject_messages_pending_approval() {
    // The states right after a review are checked: a send-now message approved is SCHEDULED
    // until the publisher sends it, which at the tests' 50 ms look could happen before the
    // next GET on a loaded machine.
    let sim = TestSim::with(SimConfig {
        auto_publish: false,
        ..fast_config()
    })
    .await;
    let token = sim.access_token().await;
    let created = sim
        .api(
            Method::POST,
            "/v1/messages",
            &token,
            Some(
                json!({ "text": "review me", "socialProfileIds": BOTH_PROFILES, "scheduledSendTime": in_minutes(30) }),
            ),
        )
        .await;
    assert_eq!(created.body["data"][0]["state"], "SCHEDULED");
    let pending = sim
        .http
        .post(sim.url("/v1/messages"))
        .bearer_auth(&token)
        .header("X-Sim-Require-Approval", "true")
        .json(&json!({ "text": "review me", "socialProfileIds": BOTH_PROFILES }))
        .send()
        .await
        .unwrap()
        .json::<Value>()
        .await
        .unwrap();
    let (a, b) = (&pending["data"][0], &pending["data"][1]);
    assert_eq!(a["state"], "PENDING_APPROVAL");
    assert_eq!(a["sequenceNumber"], 1);
    assert_eq!(
        a["scheduledSendTime"],
        Value::Null,
        "a send-now message waiting for review"
    );
    let (a, b) = (a["id"].as_str().unwrap(), b["id"].as_str().unwrap());

    // Unscheduled review messages are listed only on request.
    let listed = sim.get(&format!("/v1/messages?{}", window()), &token).await;
    assert_eq!(listed.body["data"].as_array().unwrap().len(), 2);
    let listed = sim
        .get(
            &format!(
                "/v1/messages?{}&includeUnscheduledReviewMsgs=true&state=PENDING_APPROVAL",
                window()
            ),
            &token,
        )
        .await;
    assert_eq!(listed.body["data"].as_array().unwrap().len(), 2);

    let approve = |id: &str, body: Value| {
        let (sim, token, path) = (&sim, &token, format!("/v1/messages/{id}/approve"));
        async move { sim.api(Method::POST, &path, token, Some(body)).await }
    };
    let stale = approve(a, json!({ "sequenceNumber": 2, "reviewerType": "EXTERNAL" })).await;
    assert_eq!(stale.status, StatusCode::BAD_REQUEST);
    assert_eq!(stale.code(), 4000);
    assert_eq!(approve(a, json!({ "sequenceNumber": 1 })).await.code(), 4000);
    let approved = approve(a, json!({ "sequenceNumber": 1, "reviewerType": "EXTERNAL" })).await;
    assert_eq!(approved.status, StatusCode::OK, "{}", approved.body);
    assert_eq!(approved.body, json!({ "data": {} }));
    let message = sim.get(&format!("/v1/messages/{a}"), &token).await.body["data"].clone();
    assert_eq!(message["state"], "SCHEDULED");
    assert_eq!(message["sequenceNumber"], Value::Null);
    assert!(message["scheduledSendTime"].is_string());
    assert_eq!(
        approve(a, json!({ "sequenceNumber": 1, "reviewerType": "MEMBER" }))
            .await
            .code(),
        4000
    );

    let rejected = sim
        .api(
            Method::POST,
            &format!("/v1/messages/{b}/reject"),
            &token,
            Some(json!({ "reason": "off brand", "sequenceNumber": 1, "reviewerType": "MEMBER" })),
        )
        .await;
    assert_eq!(rejected.body, json!({ "data": {} }));
    let message = sim.get(&format!("/v1/messages/{b}"), &token).await;
    assert_eq!(message.body["data"]["state"], "REJECTED");
}

#[tokio::test]
async fn due_messages_are_published_by_the_simulator_clock() {
    let sim = TestSim::start().await;
    let token = sim.access_token().await;
    let created = sim
        .schedule(
            &token,
            json!({ "text": "later", "socialProfileIds": BOTH_PROFILES, "scheduledSendTime": in_minutes(10) }),
        )
        .await;
    let twitter = created[0]["id"].as_str().unwrap().to_owned();
    let facebook = created[1]["id"].as_str().unwrap().to_owned();
    let state = |id: String| {
        let sim = &sim;
        let token = token.clone();
        async move { sim.get(&format!("/v1/messages/{id}"), &token).await.body["data"].clone() }
    };
    tokio::time::sleep(std::time::Duration::from_millis(150)).await;
    assert_eq!(state(twitter.clone()).await["state"], "SCHEDULED");

    sim.control(Method::PUT, "/clock", json!({ "offsetSecs": 11 * 60 }))
        .await;
    eventually("auto-publish", || async {
        state(twitter.clone()).await["state"] == "SENT"
    })
    .await;
    let sent = state(facebook.clone()).await;
    assert_eq!(sent["state"], "SENT");
    let post_id = sent["postId"].as_str().unwrap();
    assert!(sent["postUrl"].as_str().unwrap().ends_with(post_id));
    assert_eq!(state(twitter).await["postUrl"], Value::Null);

    // With auto-publish off, due messages stay scheduled.
    sim.control(Method::PUT, "/config", json!({ "autoPublish": false }))
        .await;
    let now_message = sim
        .schedule(
            &token,
            json!({ "text": "now", "socialProfileIds": [DEFAULT_TWITTER_PROFILE_ID] }),
        )
        .await;
    tokio::time::sleep(std::time::Duration::from_millis(150)).await;
    assert_eq!(
        state(now_message[0]["id"].as_str().unwrap().to_owned()).await["state"],
        "SCHEDULED"
    );
}

/// The hub's endpoints: media, members, organizations, teams, permissions and SCIM users.
fn hub_endpoints() -> Vec<(Method, String, Option<Value>)> {
    let (org, team, joe, twitter) = (
        DEFAULT_ORGANIZATION_ID,
        DEFAULT_TEAM_ID,
        DEFAULT_MEMBER_ID,
        DEFAULT_TWITTER_PROFILE_ID,
    );
    let get = |path: String| (Method::GET, path, None);
    vec![
        get("/v1/me/socialProfiles".into()),
        get(format!("/v1/socialProfiles/{twitter}/teams")),
        (
            Method::POST,
            "/v1/media".into(),
            Some(json!({ "sizeBytes": 1, "mimeType": "image/png" })),
        ),
        get("/v1/media/aHR0cDovL25vd2hlcmU=".into()),
        get(format!("/v1/members/{joe}")),
        (
            Method::POST,
            "/v1/members".into(),
            Some(json!({ "email": "x", "fullName": "x", "organizationIds": [org] })),
        ),
        get(format!("/v1/members/{joe}/organizations")),
        get(format!("/v1/organizations/{org}/members")),
        (Method::DELETE, format!("/v1/organizations/{org}/members/999"), None),
        get(format!("/v1/organizations/{org}/members/{joe}/permissions")),
        get(format!("/v1/organizations/{org}/members/{joe}/teams")),
        get(format!("/v1/organizations/{org}/members/{joe}/socialProfiles")),
        get(format!(
            "/v1/organizations/{org}/members/{joe}/socialProfiles/{twitter}/permissions"
        )),
        get(format!("/v1/organizations/{org}/teams")),
        (
            Method::POST,
            format!("/v1/organizations/{org}/teams"),
            Some(json!({ "teamName": "x" })),
        ),
        (
            Method::POST,
            format!("/v1/organizations/{org}/teams/{team}/members/{joe}"),
            None,
        ),
        get(format!("/v1/organizations/{org}/teams/{team}/members")),
        get(format!(
            "/v1/organizations/{org}/teams/{team}/members/{joe}/permissions"
        )),
        get(format!("/v1/organizations/{org}/teams/{team}/socialProfiles")),
        get(format!("/v1/teams/{team}")),
        get("/scim/v2/Users".into()),
        get(format!("/scim/v2/Users/{joe}")),
        (Method::POST, "/scim/v2/Users".into(), Some(json!({}))),
    ]
}

/// REST refusals carry `errors[0].code`; SCIM ones `status` and `detail`.
fn assert_refused(answer: &crate::common::Answer, path: &str, status: StatusCode, code: u64, detail: &str) {
    assert_eq!(answer.status, status, "{path}: {}", answer.body);
    if path.starts_with("/scim") {
        assert_eq!(answer.body["status"], status.as_u16().to_string(), "{path}");
        assert_eq!(answer.body["detail"], detail, "{path}");
        assert_eq!(
            answer.body["schemas"],
            json!(["urn:ietf:params:scim:api:messages:2.0:Error"])
        );
    } else {
        assert_eq!(answer.code(), code, "{path}");
        assert_eq!(answer.body["errors"][0]["message"], detail, "{path}");
        assert!(answer.body["errors"][0]["id"].is_string(), "{path}");
    }
}

#[tokio::test]
async fn every_hub_endpoint_authenticates_and_counts_against_the_account() {
    let sim = TestSim::unthrottled().await;
    let token = sim.access_token().await;
    let endpoints = hub_endpoints();
    for (method, path, body) in &endpoints {
        let bare = sim.anonymous(method.clone(), path).await;
        assert_refused(
            &bare,
            path,
            StatusCode::UNAUTHORIZED,
            1000,
            "Missing or duplicate access token",
        );
        assert!(bare.header("x-account-quota-used").is_none(), "{path}");
        let invalid = sim.api(method.clone(), path, "made.up", body.clone()).await;
        assert_refused(&invalid, path, StatusCode::UNAUTHORIZED, 1001, "Invalid access token");
    }
    let mut used = 0;
    for (method, path, body) in &endpoints {
        let answer = sim.api(method.clone(), path, &token, body.clone()).await;
        assert_ne!(
            answer.status,
            StatusCode::UNAUTHORIZED,
            "{method} {path}: {}",
            answer.body
        );
        used += 1;
        assert_eq!(
            answer.header("x-account-quota-used"),
            Some(used.to_string().as_str()),
            "{method} {path}"
        );
        assert_eq!(answer.header("x-account-quota"), Some("100000 per day"));
    }
    sim.control(Method::PUT, "/config", json!({ "dailyQuota": used })).await;
    for (method, path, body) in &endpoints {
        let limited = sim.api(method.clone(), path, &token, body.clone()).await;
        assert_refused(
            &limited,
            path,
            StatusCode::TOO_MANY_REQUESTS,
            1003,
            "Account plan limit exceeded",
        );
        assert_eq!(limited.header("x-account-quota-used"), Some(used.to_string().as_str()));
        assert!(limited.header("x-account-rate-limit-requests-remaining").is_some());
        assert!(limited.header("retry-after").is_none(), "{path}");
    }
}

#[tokio::test]
async fn injected_faults_use_each_surfaces_error_body() {
    let sim = TestSim::start().await;
    let token = sim.access_token().await;
    for (prefix, status) in [("/scim/v2/Users", 500), ("/v1/organizations", 503)] {
        sim.control(
            Method::POST,
            "/faults",
            json!({ "pathPrefix": prefix, "status": status }),
        )
        .await;
    }
    let scim = sim.get("/scim/v2/Users", &token).await;
    assert_refused(
        &scim,
        "/scim/v2/Users",
        StatusCode::INTERNAL_SERVER_ERROR,
        0,
        "Internal Server Error",
    );
    let rest = sim
        .get(&format!("/v1/organizations/{DEFAULT_ORGANIZATION_ID}/teams"), &token)
        .await;
    assert_refused(
        &rest,
        "/v1/organizations",
        StatusCode::SERVICE_UNAVAILABLE,
        5000,
        "An unknown error occurred",
    );
    assert_eq!(sim.get("/scim/v2/Users", &token).await.status, StatusCode::OK);
}
