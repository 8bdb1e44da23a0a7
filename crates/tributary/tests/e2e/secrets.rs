//! Secrets: masked in every response, absent in clear from the database.

use reqwest::Method;
use serde_json::{Value, json};
use tributary::{
    ids::InstanceId,
    store::{InstanceChange, StoredValue},
};

use crate::{
    events::{instance_sending_to, message_event, post_webhook},
    on_both_backends,
    support::{Database, Hub, Receiver},
};

const SIGNATURE_KEY: &str = "sig-key-4f1c2a9e7b";
const BASIC_PASSWORD: &str = "basic-pass-8d3e5f";
const WEBHOOK_SECRET: &str = "a1b2c3d4e5f60718";
const HEADER_KEY: &str = "hdr-api-key-5e7a90c3";
const HEADERS: &str = "event.notification.callback.headers";

fn assert_no_secret(text: &str, secrets: &[&str], place: &str) {
    for secret in secrets {
        assert!(!text.contains(secret), "{place} contains the secret {secret:?}");
    }
}

async fn secrets_are_masked_and_sealed(db: Database) {
    let hub = Hub::start(db).await;
    let instance = hub.create_instance().await;
    let id = instance["id"].as_i64().unwrap();
    let (_, patched) = hub
        .call(
            Method::PATCH,
            &format!("/instances/{id}"),
            &hub.auth,
            Some(json!({"configuration": {
                "event.notification.signature.key": SIGNATURE_KEY,
                "event.notification.basic.username": "hub",
                "event.notification.basic.password": BASIC_PASSWORD,
                "hootsuite.webhook.secret": WEBHOOK_SECRET,
                HEADERS: {"X-Api-Key": HEADER_KEY},
            }})),
        )
        .await;
    let access_token = hub.stored_access_token(id).await;
    let secrets = [
        hootsuite_sim::DEFAULT_CLIENT_SECRET,
        SIGNATURE_KEY,
        BASIC_PASSWORD,
        WEBHOOK_SECRET,
        HEADER_KEY,
        access_token.as_str(),
    ];

    let mut responses: Vec<Value> = vec![instance.clone(), patched];
    responses.push(hub.get(&format!("/instances/{id}")).await.1);
    responses.push(hub.get("/instances").await.1);
    responses.push(hub.get(&format!("/instances/{id}/configuration")).await.1);
    for response in &responses {
        assert_no_secret(&response.to_string(), &secrets, "a response");
    }
    let configuration = &responses[2]["configuration"];
    for key in [
        "oauth.api.key",
        "oauth.api.secret",
        "event.notification.signature.key",
        "event.notification.basic.password",
        "hootsuite.webhook.secret",
        HEADERS,
    ] {
        assert_eq!(configuration[key], "********", "{key}");
    }
    assert_eq!(configuration["event.notification.basic.username"], "hub");

    // Nothing secret is in the database in clear: not the client secret, keys, passwords,
    // provider tokens, nor the credentials the hub issued.
    let dump = hub.db.dump().await;
    assert!(dump.contains("API Instance"), "the dump reads the data");
    let token = instance["token"].as_str().unwrap();
    let mut stored_secrets = secrets.to_vec();
    stored_secrets.extend([token, hub.user_secret.as_str(), hub.org_secret.as_str()]);
    assert_no_secret(&dump, &stored_secrets, "the database");
    hub.stop().await;
}

/// Callback headers are sent as configured, from a sealed value or from one stored in clear
/// before they became secret; that one is masked too, and sealed by the next write.
async fn callback_headers_are_sealed_and_sent(db: Database) {
    let hub = Hub::start(db).await;
    let receiver = Receiver::start().await;
    let instance = instance_sending_to(&hub, &receiver.url).await;
    let id = instance["id"].as_i64().unwrap();
    let path = format!("/instances/{id}");
    let set = |value: Value| hub.call(Method::PATCH, &path, &hub.auth, Some(json!({"configuration": value})));
    let (status, body) = set(json!({HEADERS: {"X-Api-Key": HEADER_KEY}})).await;
    assert_eq!(status, reqwest::StatusCode::OK, "{body}");
    post_webhook(&hub, &instance, &json!([message_event(1, "SENT", "1")])).await;
    assert_eq!(receiver.wait_for(1, 10).await[0].header("x-api-key"), HEADER_KEY);

    // A value stored in clear, as hubs before this one did.
    const LEGACY_KEY: &str = "legacy-hdr-key-31d8b6";
    let store = &hub.running.state.store;
    let org = store.list_organizations().await.unwrap()[0].id;
    let instance_id = InstanceId::from_stored(id);
    let mut entry = store
        .get_instance(org, instance_id)
        .await
        .unwrap()
        .unwrap()
        .config
        .into_iter()
        .find(|e| e.key == HEADERS)
        .unwrap();
    entry.value = Some(StoredValue::Plain(json!({"X-Api-Key": LEGACY_KEY}).to_string()));
    let change = InstanceChange {
        name: None,
        tags: None,
        config: vec![entry],
        disabled: None,
        grant: None,
        polling: None,
    };
    assert!(
        store
            .update_instance(org, instance_id, &change, tributary::store::now())
            .await
            .unwrap()
    );
    hub.running.state.caches.forget(instance_id);
    assert!(
        hub.db.dump().await.contains(LEGACY_KEY),
        "the value is in clear for now"
    );
    let (_, shown) = hub.get(&format!("/instances/{id}")).await;
    assert_eq!(shown["configuration"][HEADERS], "********");
    let (_, entries) = hub.get(&format!("/instances/{id}/configuration")).await;
    assert_no_secret(&entries.to_string(), &[LEGACY_KEY], "the configuration");
    post_webhook(&hub, &instance, &json!([message_event(2, "SENT", "2")])).await;
    assert_eq!(receiver.wait_for(2, 10).await[1].header("x-api-key"), LEGACY_KEY);

    // Any write to the configuration seals it, keeping its value. (The clear bytes may
    // linger in SQLite's free pages until reused: operations.md says so.)
    let (status, body) = set(json!({"event.notification.basic.username": "hub"})).await;
    assert_eq!(status, reqwest::StatusCode::OK, "{body}");
    let stored = store.get_instance(org, instance_id).await.unwrap().unwrap().config;
    let headers = stored.iter().find(|e| e.key == HEADERS).unwrap();
    assert!(matches!(headers.value, Some(StoredValue::Sealed(_))), "{headers:?}");
    post_webhook(&hub, &instance, &json!([message_event(3, "SENT", "3")])).await;
    assert_eq!(receiver.wait_for(3, 10).await[2].header("x-api-key"), LEGACY_KEY);
    hub.stop().await;
}

on_both_backends!(secrets_are_masked_and_sealed, callback_headers_are_sealed_and_sent);
