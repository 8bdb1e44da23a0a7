//! Every documented failure: the right status, a JSON body that says what to fix, and
//! nothing stored.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use tributary::config::ProviderOverride;

use crate::{
    on_both_backends,
    support::{Database, Hub, HubOptions},
};

/// The seed's own example body, as printed (it lacks a comma after `oauth.api.secret`).
const SEED_CURL_BODY: &str = r#"{
"element": {
"key": "hootsuite"
},
"providerData": {
"code": "xoz8AFqScK2ngM04kSSM"
},
"configuration": {
"oauth.callback.url": "https://mycoolapp.com",
"oauth.api.key": "xxxxxxxxxxxxxxxxxx",
"oauth.api.secret": "xxxxxxxxxxxxxxxxxxxxxx"
"event.notification.enabled": true,
"event.notification.callback.url": "https://mycoolapp.com/events"
},
"tags": [
"Docs"
],
"name": "API Instance"
}"#;

async fn raw(
    hub: &Hub,
    method: Method,
    path: &str,
    content_type: Option<&str>,
    body: impl Into<reqwest::Body>,
) -> (StatusCode, Value) {
    // A fresh connection each time: the hub may close one whose oversized body it refused to
    // read, and a pooled client would send the next request on it.
    let http = reqwest::Client::builder().pool_max_idle_per_host(0).build().unwrap();
    let mut request = http
        .request(method, format!("{}{path}", hub.base))
        .header("authorization", &hub.auth)
        .body(body);
    if let Some(content_type) = content_type {
        request = request.header("content-type", content_type);
    }
    let response = request.send().await.unwrap();
    let status = response.status();
    (status, response.json().await.unwrap())
}

fn message(body: &Value) -> &str {
    assert!(body["requestId"].as_str().is_some_and(|id| !id.is_empty()), "{body}");
    body["message"]
        .as_str()
        .unwrap_or_else(|| panic!("no message in {body}"))
}

async fn instance_count(hub: &Hub) -> usize {
    hub.get("/instances").await.1.as_array().unwrap().len()
}

async fn bad_requests_change_nothing(db: Database) {
    let hub = Hub::start(db).await;
    let callback = "http://localhost:3000/cb";

    // The seed's curl, verbatim: the missing comma is reported where it is.
    let (status, body) = raw(
        &hub,
        Method::POST,
        "/instances",
        Some("application/json"),
        SEED_CURL_BODY,
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(
        message(&body).contains("expected `,` or `}` at line 12 column 1"),
        "{body}"
    );

    let (status, body) = raw(&hub, Method::POST, "/instances", Some("text/plain"), "{}").await;
    assert_eq!(status, StatusCode::UNSUPPORTED_MEDIA_TYPE);
    assert!(message(&body).contains("application/json"));
    let (status, _) = raw(&hub, Method::POST, "/instances", None, "{}").await;
    assert_eq!(status, StatusCode::UNSUPPORTED_MEDIA_TYPE);

    let huge = format!("{{\"name\": \"{}\"}}", "x".repeat(2 * 1024 * 1024));
    let (status, body) = raw(&hub, Method::POST, "/instances", Some("application/json"), huge).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE, "{body}");
    message(&body);

    let code = "never-used-code";
    let cases: Vec<(Value, StatusCode, &str)> = vec![
        (
            json!({"element": {"key": "hootsuit"}, "name": "x"}),
            StatusCode::NOT_FOUND,
            "No element with key or id \"hootsuit\"",
        ),
        (
            json!({"name": "x", "providerData": {"code": code}}),
            StatusCode::BAD_REQUEST,
            "element.key is required",
        ),
        (
            json!({"element": {"key": "hootsuite"}, "name": "x", "providerData": {"code": code}, "configuration": {}}),
            StatusCode::BAD_REQUEST,
            "missing required configuration: oauth.callback.url, oauth.api.key, oauth.api.secret",
        ),
        (
            {
                let mut body = hub.seed_body(code, callback);
                body["configuration"]["event.notificaton.enabled"] = json!(true);
                body
            },
            StatusCode::BAD_REQUEST,
            "did you mean \"event.notification.enabled\"",
        ),
        (
            {
                let mut body = hub.seed_body(code, callback);
                body["configuration"]["event.notification.enabled"] = json!("maybe");
                body
            },
            StatusCode::BAD_REQUEST,
            "event.notification.enabled: expected true or false",
        ),
        (
            {
                let mut body = hub.seed_body(code, callback);
                body["providerData"] = json!({});
                body
            },
            StatusCode::BAD_REQUEST,
            "providerData.code is required",
        ),
        (
            {
                let mut body = hub.seed_body(code, callback);
                body.as_object_mut().unwrap().remove("name");
                body
            },
            StatusCode::BAD_REQUEST,
            "name is required",
        ),
        (
            {
                let mut body = hub.seed_body(code, callback);
                body["tags"] = json!([1]);
                body
            },
            StatusCode::BAD_REQUEST,
            "tags[0]: invalid type: integer `1`, expected a string",
        ),
        (
            {
                let mut body = hub.seed_body(code, callback);
                body["nmae"] = json!("typo");
                body
            },
            StatusCode::BAD_REQUEST,
            "Unknown field \"nmae\"",
        ),
        (
            {
                let mut body = hub.seed_body(code, callback);
                body["name"] = json!("<script>alert(1)</script>\r\n\u{200b}");
                body
            },
            StatusCode::BAD_REQUEST,
            "name must not be empty (once markup and invisible characters are removed)",
        ),
    ];
    for (body, expected_status, expected_message) in cases {
        let (status, answer) = hub
            .call(Method::POST, "/instances", &hub.auth, Some(body.clone()))
            .await;
        assert_eq!(status, expected_status, "{body} → {answer}");
        assert!(message(&answer).contains(expected_message), "{body} → {answer}");
    }
    assert_eq!(instance_count(&hub).await, 0, "no bad request stored anything");

    // A code the provider rejects: 400 with the provider's reason, nothing stored.
    let (status, body) = hub
        .call(
            Method::POST,
            "/instances",
            &hub.auth,
            Some(hub.seed_body("bogus-code", callback)),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert!(message(&body).contains("Hootsuite rejected the authorization"));
    assert!(
        body["providerMessage"].as_str().unwrap().contains("invalid_grant"),
        "{body}"
    );
    assert_eq!(instance_count(&hub).await, 0);

    // Short state, missing apiKey, bad callback URL on the authorization URL.
    for (query, expected) in [
        (
            "apiKey=a&callbackUrl=https://x.test&state=short",
            "state must be at least 8 characters",
        ),
        ("callbackUrl=https://x.test", "apiKey is required"),
        (
            "apiKey=a&callbackUrl=not-a-url",
            "callbackUrl must be the absolute http(s) redirect URI",
        ),
    ] {
        let (status, body) = hub.get(&format!("/elements/hootsuite/oauth/url?{query}")).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{query}");
        assert!(message(&body).contains(expected), "{body}");
    }

    // Unknown things are 404; malformed ids 400; unknown routes and methods are JSON too.
    for (method, path, expected_status) in [
        (Method::GET, "/instances/12345", StatusCode::NOT_FOUND),
        (Method::GET, "/instances/abc", StatusCode::BAD_REQUEST),
        (Method::GET, "/elements/nope", StatusCode::NOT_FOUND),
        (
            Method::GET,
            "/elements/hootsuite/oauth/url?apiKey=a&callbackUrl=https://x.test&state=%ZZ",
            StatusCode::BAD_REQUEST,
        ),
        (Method::GET, "/nowhere", StatusCode::NOT_FOUND),
        (Method::DELETE, "/elements", StatusCode::METHOD_NOT_ALLOWED),
        (Method::PATCH, "/instances", StatusCode::BAD_REQUEST),
    ] {
        let (status, body) = raw(&hub, method.clone(), path, Some("application/json"), "{}").await;
        assert_eq!(status, expected_status, "{method} {path}: {body}");
        message(&body);
    }
    hub.stop().await;
}

async fn unreachable_provider_is_a_502(db: Database) {
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let dead = format!("http://{}", closed.local_addr().unwrap());
    drop(closed);
    let hub = Hub::start_with(
        db,
        HubOptions {
            configure: Box::new(move |config| {
                config.providers.insert(
                    "hootsuite".into(),
                    ProviderOverride {
                        token_url: Some(format!("{dead}/oauth2/token").parse().unwrap()),
                        ..Default::default()
                    },
                );
            }),
            ..Default::default()
        },
    )
    .await;
    let (status, body) = hub
        .call(
            Method::POST,
            "/instances",
            &hub.auth,
            Some(hub.seed_body("some-code", "http://localhost:3000/cb")),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_GATEWAY, "{body}");
    assert!(message(&body).contains("Hootsuite could not be reached"), "{body}");
    assert!(message(&body).contains("Nothing was stored"));
    assert_eq!(instance_count(&hub).await, 0);
    hub.stop().await;
}

async fn authentication_failures(db: Database) {
    let hub = Hub::start(db).await;
    let path = format!("{}/instances", hub.base);
    let cases: Vec<(Option<String>, &str)> = vec![
        (None, "No Authorization header"),
        (Some("Bearer abc".into()), "unknown scheme"),
        (
            Some(format!("User {}", hub.user_secret)),
            "needs an Organization secret or an Element token",
        ),
        (
            Some(format!("Organization {}", hub.org_secret)),
            "lacks the User secret",
        ),
        (
            Some(format!("User {}, Organization nope", hub.user_secret)),
            "Invalid credentials",
        ),
        (
            Some(format!("User {}, User {}", hub.user_secret, hub.user_secret)),
            "given twice",
        ),
        (
            Some(format!("User {}, Element not-a-token", hub.user_secret)),
            "Invalid credentials",
        ),
    ];
    for (header, expected) in cases {
        let mut request = hub.http.get(&path);
        if let Some(header) = &header {
            request = request.header("authorization", header);
        }
        let response = request.send().await.unwrap();
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED, "{header:?}");
        let body: Value = response.json().await.unwrap();
        assert!(message(&body).contains(expected), "{header:?}: {body}");
    }
    // Order and spacing do not matter.
    let swapped = format!("Organization {} ,User   {}", hub.org_secret, hub.user_secret);
    let (status, _) = hub.call(Method::GET, "/instances", &swapped, None).await;
    assert_eq!(status, StatusCode::OK);
    hub.stop().await;
}

on_both_backends!(
    bad_requests_change_nothing,
    unreachable_provider_is_a_502,
    authentication_failures
);
