//! Media: upload URLs, the bucket behind them, the QUEUED → READY rule, and attaching media to
//! messages (40021 until it is ready).

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE;
use hootsuite_sim::{DEFAULT_TWITTER_PROFILE_ID, SECOND_MEMBER_ID};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::common::{Answer, TestSim, in_minutes};

async fn create(sim: &TestSim, token: &str, size: u64, mime_type: &str) -> Value {
    let created = sim
        .post("/v1/media", token, json!({ "sizeBytes": size, "mimeType": mime_type }))
        .await;
    assert_eq!(created.status, StatusCode::OK, "{}", created.body);
    created.body["data"].clone()
}

async fn upload(sim: &TestSim, url: &str, content_type: &str, bytes: &[u8]) -> Answer {
    sim.raw(Method::PUT, url, None, content_type, bytes.to_vec()).await
}

/// `GET /v1/media/{id}`'s body.
async fn status(sim: &TestSim, token: &str, id: &str) -> Value {
    sim.get(&format!("/v1/media/{id}"), token).await.body
}

fn post_with_media(id: &str) -> Value {
    json!({ "text": "with media", "socialProfileIds": [DEFAULT_TWITTER_PROFILE_ID],
            "scheduledSendTime": in_minutes(30), "media": [{ "id": id }] })
}

#[tokio::test]
async fn media_is_queued_until_a_matching_upload_and_then_ready() {
    let sim = TestSim::unthrottled().await;
    let token = sim.access_token().await;
    let bytes = b"\x00\x00\x00\x18ftypmp42 a tiny video";
    let media = create(&sim, &token, bytes.len() as u64, "video/mp4").await;
    let id = media["id"].as_str().unwrap();
    let url = media["uploadUrl"].as_str().unwrap();
    assert_eq!(media["uploadUrlDurationSeconds"], 1799);
    assert!(url.starts_with(&sim.url("/uploads/")) && url.ends_with(".mp4"), "{url}");
    assert_eq!(
        String::from_utf8(URL_SAFE.decode(id).unwrap()).unwrap(),
        url,
        "the id encodes the upload URL, as Hootsuite's do"
    );
    assert_eq!(
        status(&sim, &token, id).await,
        json!({ "data": { "id": id, "state": "QUEUED" } })
    );

    let queued = sim.post("/v1/messages", &token, post_with_media(id)).await;
    assert_eq!(queued.status, StatusCode::BAD_REQUEST);
    assert_eq!(queued.code(), 40021);
    assert_eq!(
        queued.body["errors"][0]["resource"],
        json!({ "type": "media", "id": id })
    );

    // S3 takes uploads that do not match the declaration; Hootsuite ignores them.
    for (content_type, body) in [
        ("image/png", &bytes[..]),
        ("video/mp4", &bytes[1..]),
        ("video/mp4", b"x"),
    ] {
        let ignored = upload(&sim, url, content_type, body).await;
        assert_eq!(ignored.status, StatusCode::OK);
        assert_eq!(status(&sim, &token, id).await["data"]["state"], "QUEUED");
    }
    let long = [bytes.as_slice(), b"!"].concat();
    assert_eq!(upload(&sim, url, "video/mp4", &long).await.status, StatusCode::OK);
    assert_eq!(status(&sim, &token, id).await["data"]["state"], "QUEUED");
    let missing = sim.http.get(url).send().await.unwrap();
    assert_eq!(missing.status(), StatusCode::NOT_FOUND);
    assert!(missing.text().await.unwrap().contains("<Code>NoSuchKey</Code>"));

    let accepted = upload(&sim, url, "video/mp4; charset=binary", bytes).await;
    assert_eq!(accepted.status, StatusCode::OK);
    let ready = status(&sim, &token, id).await["data"].clone();
    assert_eq!(
        ready,
        json!({ "id": id, "state": "READY", "downloadUrl": url, "downloadUrlDurationSeconds": 1799 })
    );
    // Only the first valid upload counts.
    let later = b"\x00\x00\x00\x18ftypmp42 another video";
    assert_eq!(upload(&sim, url, "video/mp4", later).await.status, StatusCode::OK);
    let download = sim.http.get(url).send().await.unwrap();
    assert_eq!(download.status(), StatusCode::OK);
    assert_eq!(download.headers()["content-type"], "video/mp4");
    assert_eq!(&download.bytes().await.unwrap()[..], bytes);

    let message = sim.post("/v1/messages", &token, post_with_media(id)).await;
    assert_eq!(message.status, StatusCode::OK, "{}", message.body);
    assert_eq!(message.body["data"][0]["media"], json!([{ "id": id }]));

    // Media belongs to the account that created it.
    let pammy = sim.token_of(SECOND_MEMBER_ID).await;
    let foreign = sim.get(&format!("/v1/media/{id}"), &pammy).await;
    assert_eq!(foreign.status, StatusCode::NOT_FOUND);
    assert_eq!(foreign.code(), 4001);
}

#[tokio::test]
async fn media_requests_are_validated() {
    let sim = TestSim::unthrottled().await;
    let token = sim.access_token().await;
    for mime_type in ["video/mp4", "image/gif", "image/jpeg", "image/jpg", "image/png"] {
        let media = create(&sim, &token, 10, mime_type).await;
        assert!(media["id"].is_string(), "{mime_type}");
    }
    for body in [
        json!({ "sizeBytes": 10, "mimeType": "image/bmp" }),
        json!({ "sizeBytes": 10, "mimeType": "VIDEO/MP4" }),
        json!({ "sizeBytes": 0, "mimeType": "image/png" }),
        json!({ "sizeBytes": -1, "mimeType": "image/png" }),
        json!({ "sizeBytes": 1.5, "mimeType": "image/png" }),
        json!({ "sizeBytes": "10", "mimeType": "image/png" }),
        json!({ "mimeType": "image/png" }),
        json!({ "sizeBytes": 10 }),
    ] {
        let answer = sim.post("/v1/media", &token, body.clone()).await;
        assert_eq!(answer.status, StatusCode::BAD_REQUEST, "{body}");
        assert_eq!(answer.code(), 4000, "{body}");
    }
    let unknown = sim.get("/v1/media/aHR0cDovL25vd2hlcmU=", &token).await;
    assert_eq!(unknown.status, StatusCode::NOT_FOUND);
    assert_eq!(unknown.code(), 4001);

    for media in [
        json!([{ "id": "aHR0cDovL25vd2hlcmU=" }]),
        json!("x"),
        json!([{ "videoOptions": {} }]),
        json!([7]),
    ] {
        let mut body = post_with_media("unused");
        body["media"] = media.clone();
        let answer = sim.post("/v1/messages", &token, body).await;
        assert_eq!(answer.status, StatusCode::BAD_REQUEST, "{media}");
        assert_eq!(answer.code(), 4000, "{media}");
    }
}

#[tokio::test]
async fn upload_urls_expire_and_unknown_ones_are_refused() {
    let sim = TestSim::unthrottled().await;
    let token = sim.access_token().await;
    let media = create(&sim, &token, 3, "image/png").await;
    let url = media["uploadUrl"].as_str().unwrap();

    let unknown = upload(&sim, &sim.url("/uploads/1_nothing.png"), "image/png", b"abc").await;
    assert_eq!(unknown.status, StatusCode::FORBIDDEN);
    assert!(unknown.body.as_str().unwrap().contains("<Code>AccessDenied</Code>"));

    sim.control(Method::PUT, "/clock", json!({ "offsetSecs": 1800 })).await;
    let expired = upload(&sim, url, "image/png", b"abc").await;
    assert_eq!(expired.status, StatusCode::FORBIDDEN);
    assert_eq!(expired.header("content-type"), Some("application/xml"));
    assert!(expired.body.as_str().unwrap().contains("Request has expired"));
    let id = media["id"].as_str().unwrap();
    assert_eq!(status(&sim, &token, id).await["data"]["state"], "QUEUED");

    // The bucket takes injected faults, in S3's words.
    sim.control(Method::PUT, "/clock", json!({ "offsetSecs": 0 })).await;
    sim.control(
        Method::POST,
        "/faults",
        json!({ "pathPrefix": "/uploads", "status": 503 }),
    )
    .await;
    let slow = upload(&sim, url, "image/png", b"abc").await;
    assert_eq!(slow.status, StatusCode::SERVICE_UNAVAILABLE);
    assert!(slow.body.as_str().unwrap().contains("<Code>SlowDown</Code>"));
    assert_eq!(upload(&sim, url, "image/png", b"abc").await.status, StatusCode::OK);
    assert_eq!(status(&sim, &token, id).await["data"]["state"], "READY");
}
