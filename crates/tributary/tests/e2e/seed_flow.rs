//! The seed document's flow, end to end: authorization URL → consent → code →
//! `POST /instances` → `eventsWebhookUrl` → `PATCH /instances` with the element token.

use base64::{Engine, engine::general_purpose::STANDARD};
use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::{
    on_both_backends,
    support::{Database, Hub},
};

async fn seed_flow(db: Database) {
    let hub = Hub::start(db).await;
    let callback = "http://localhost:3000/oauth/callback";

    // 1. The authorization URL points at the provider's consent page with every parameter.
    let (status, body) = hub
        .get(&format!(
            "/elements/hootsuite/oauth/url?apiKey={}&apiSecret={}&callbackUrl={callback}&state=hootsuite",
            hootsuite_sim::DEFAULT_CLIENT_ID,
            hootsuite_sim::DEFAULT_CLIENT_SECRET
        ))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["element"], "hootsuite");
    let oauth_url = url::Url::parse(body["oauthUrl"].as_str().unwrap()).unwrap();
    assert_eq!(oauth_url.path(), "/oauth2/auth");
    let params: std::collections::HashMap<_, _> = oauth_url.query_pairs().into_owned().collect();
    assert_eq!(params["response_type"], "code");
    assert_eq!(params["client_id"], hootsuite_sim::DEFAULT_CLIENT_ID);
    assert_eq!(params["redirect_uri"], callback);
    assert_eq!(params["scope"], "offline");
    assert_eq!(params["state"], "hootsuite");

    // 2. Consent at the simulator yields a code on the redirect.
    let code = crate::support::approve(&hub.http, oauth_url.as_str()).await;

    // 3. The seed's body, with a placeholder callback URL.
    let (status, instance) = hub
        .call(
            Method::POST,
            "/instances",
            &hub.auth,
            Some(hub.seed_body(&code, callback)),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{instance}");
    let id = instance["id"].as_i64().unwrap();
    assert!(id > 0);
    let token = instance["token"].as_str().unwrap();
    assert_eq!(token.len(), 44);
    assert_eq!(instance["name"], "API Instance");
    assert_eq!(instance["tags"], json!(["Docs"]));
    assert_eq!(
        instance["element"],
        json!({"id": 4066, "key": "hootsuite", "name": "Hootsuite", "hub": "social"})
    );
    assert_eq!(instance["valid"], true);
    assert_eq!(instance["disabled"], false);
    assert_eq!(instance["eventsEnabled"], true);
    assert_eq!(instance["configuration"]["oauth.api.key"], "********");
    assert_eq!(instance["configuration"]["oauth.api.secret"], "********");
    assert_eq!(instance["configuration"]["oauth.callback.url"], callback);
    assert_eq!(instance["user"]["emailAddress"], "dev@acme.test");
    assert_eq!(instance["providerAccount"]["id"], hootsuite_sim::DEFAULT_MEMBER_ID);
    assert!(instance["tokenExpiresDate"].is_string());

    // 4. The provider-facing webhook URL carries the Base64 of the id: nobody needs a tool.
    let webhook_url = instance["eventsWebhookUrl"].as_str().unwrap();
    assert_eq!(
        webhook_url,
        format!("{}/events/hootsuite/{}", hub.base, STANDARD.encode(id.to_string()))
    );

    // 5. PATCH /instances with the element token sets the real callback URL.
    let element_auth = format!("User {}, Element {token}", hub.user_secret);
    let (status, patched) = hub
        .call(
            Method::PATCH,
            "/instances",
            &element_auth,
            Some(json!({"configuration": {"event.notification.callback.url": "https://mycoolapp.com/events"}})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{patched}");
    assert_eq!(patched["eventsNotificationCallbackUrl"], "https://mycoolapp.com/events");
    assert_eq!(patched["name"], "API Instance", "PATCH leaves other fields alone");
    assert_eq!(patched["configuration"]["oauth.api.secret"], "********");

    let (status, fetched) = hub.get(&format!("/instances/{id}")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(fetched["eventsNotificationCallbackUrl"], "https://mycoolapp.com/events");
    assert_eq!(fetched["token"], token);
    hub.stop().await;
}

async fn instance_lifecycle(db: Database) {
    let hub = Hub::start(db).await;
    let instance = hub.create_instance().await;
    let id = instance["id"].as_i64().unwrap();
    let element_auth = format!(
        "User {}, Element {}",
        hub.user_secret,
        instance["token"].as_str().unwrap()
    );

    // Listing by tag.
    let (_, listed) = hub.get("/instances?tags%5B%5D=Docs").await;
    assert_eq!(listed.as_array().unwrap().len(), 1);
    let (_, listed) = hub.get("/instances?tags[]=Docs&tags[]=Other").await;
    assert_eq!(listed, json!([]));
    let (_, listed) = hub.get("/instances").await;
    assert_eq!(listed[0]["id"], id);

    // Configuration entries, and setting one by id.
    let (status, entries) = hub.get(&format!("/instances/{id}/configuration")).await;
    assert_eq!(status, StatusCode::OK);
    let entries = entries.as_array().unwrap();
    let secret = entries.iter().find(|e| e["key"] == "oauth.api.secret").unwrap();
    assert_eq!(secret["propertyValue"], "********");
    assert_eq!(secret["secret"], true);
    let enabled = entries
        .iter()
        .find(|e| e["key"] == "event.notification.enabled")
        .unwrap()
        .clone();
    let mut change = enabled.clone();
    change["propertyValue"] = json!("false");
    let (status, entry) = hub
        .call(
            Method::PATCH,
            &format!("/instances/{id}/configuration/{}", enabled["id"]),
            &hub.auth,
            Some(change),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{entry}");
    assert_eq!(entry["propertyValue"], "false");
    assert_eq!(entry["id"], enabled["id"]);
    let (_, own) = hub
        .call(Method::GET, "/instances/configuration", &element_auth, None)
        .await;
    assert_eq!(own.as_array().unwrap().len(), entries.len());
    let (_, fetched) = hub.get(&format!("/instances/{id}")).await;
    assert_eq!(fetched["eventsEnabled"], false);

    // PUT replaces name and tags; masked secrets are kept.
    let mut body = fetched.clone();
    body["name"] = json!("Renamed");
    body["tags"] = json!(["a", "b"]);
    let (status, put) = hub
        .call(Method::PUT, &format!("/instances/{id}"), &hub.auth, Some(body))
        .await;
    assert_eq!(status, StatusCode::OK, "{put}");
    assert_eq!(put["name"], "Renamed");
    assert_eq!(put["tags"], json!(["a", "b"]));
    assert_eq!(put["configuration"]["oauth.api.secret"], "********");

    // Disable: the token is refused (403), the instance kept; enable again with the token.
    let (status, disabled) = hub
        .call(Method::DELETE, &format!("/instances/{id}/enabled"), &hub.auth, None)
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(disabled["disabled"], true);
    let (status, err) = hub
        .call(Method::GET, &format!("/instances/{id}"), &element_auth, None)
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{err}");
    assert!(err["message"].as_str().unwrap().contains("disabled"));
    let (status, enabled) = hub.call(Method::PUT, "/instances/enabled", &element_auth, None).await;
    assert_eq!(status, StatusCode::OK, "{enabled}");
    assert_eq!(enabled["disabled"], false);
    let (status, _) = hub
        .call(Method::GET, &format!("/instances/{id}"), &element_auth, None)
        .await;
    assert_eq!(status, StatusCode::OK);

    // Delete: the token is unknown (401) and the instance gone (404).
    let (status, deleted) = hub
        .call(Method::DELETE, &format!("/instances/{id}"), &hub.auth, None)
        .await;
    assert_eq!(status, StatusCode::OK, "{deleted}");
    let (status, _) = hub
        .call(Method::GET, &format!("/instances/{id}"), &element_auth, None)
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (status, _) = hub.get(&format!("/instances/{id}")).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    hub.stop().await;
}

async fn reauthentication(db: Database) {
    let hub = Hub::start(db).await;
    let instance = hub.create_instance().await;
    let id = instance["id"].as_i64().unwrap();
    let callback = "http://localhost:3000/oauth/callback";

    // reAuthenticate without a code says what is missing and changes nothing.
    let (status, err) = hub
        .call(
            Method::PUT,
            &format!("/instances/{id}?reAuthenticate=true"),
            &hub.auth,
            Some(instance.clone()),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(
        err["message"]
            .as_str()
            .unwrap()
            .contains("providerData.code is required"),
        "{err}"
    );

    // The Cloud Elements recipe: GET, add providerData.code, PUT ?reAuthenticate=true.
    let code = hub
        .consent(hootsuite_sim::DEFAULT_CLIENT_ID, callback, "reauth-state")
        .await;
    let mut body = instance.clone();
    body["providerData"] = json!({"code": code});
    let (status, reauthed) = hub
        .call(
            Method::PUT,
            &format!("/instances/{id}?reAuthenticate=true"),
            &hub.auth,
            Some(body),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{reauthed}");
    assert_eq!(reauthed["valid"], true);
    assert_ne!(reauthed["tokenRefreshedDate"], instance["tokenRefreshedDate"]);
    assert_eq!(
        reauthed["token"], instance["token"],
        "the instance token survives re-authentication"
    );

    // PATCH with providerData.code does the same (churros' way).
    let code = hub
        .consent(hootsuite_sim::DEFAULT_CLIENT_ID, callback, "reauth-state")
        .await;
    let (status, patched) = hub
        .call(
            Method::PATCH,
            &format!("/instances/{id}"),
            &hub.auth,
            Some(json!({"providerData": {"code": code}})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{patched}");
    hub.stop().await;
}

on_both_backends!(seed_flow, instance_lifecycle, reauthentication);
