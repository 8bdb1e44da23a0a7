//! Secrets: masked in every response, absent in clear from the database.

use reqwest::Method;
use serde_json::{Value, json};

use crate::{
    on_both_backends,
    support::{Database, Hub},
};

const SIGNATURE_KEY: &str = "sig-key-4f1c2a9e7b";
const BASIC_PASSWORD: &str = "basic-pass-8d3e5f";
const WEBHOOK_SECRET: &str = "a1b2c3d4e5f60718";

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
            }})),
        )
        .await;
    let access_token = hub.stored_access_token(id).await;
    let secrets = [
        hootsuite_sim::DEFAULT_CLIENT_SECRET,
        SIGNATURE_KEY,
        BASIC_PASSWORD,
        WEBHOOK_SECRET,
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

on_both_backends!(secrets_are_masked_and_sealed);
