//! Tenant isolation over the API: another organization cannot see or touch an instance, and
//! an element token reaches only its own instance.

use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::{
    on_both_backends,
    support::{Database, Hub},
};

async fn organizations_cannot_reach_each_other(db: Database) {
    let hub = Hub::start(db).await;
    let instance = hub.create_instance().await;
    let id = instance["id"].as_i64().unwrap();
    let globex = hub.other_tenant().await;

    let (status, listed) = hub.call(Method::GET, "/instances", &globex, None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(listed, json!([]));
    let patch = Some(json!({"name": "mine now"}));
    for (method, path, body) in [
        (Method::GET, format!("/instances/{id}"), None),
        (Method::PATCH, format!("/instances/{id}"), patch.clone()),
        (
            Method::PUT,
            format!("/instances/{id}"),
            Some(json!({"name": "mine now"})),
        ),
        (Method::GET, format!("/instances/{id}/configuration"), None),
        (Method::DELETE, format!("/instances/{id}/enabled"), None),
        (Method::PUT, format!("/instances/{id}/enabled"), None),
        (Method::DELETE, format!("/instances/{id}"), None),
    ] {
        let (status, body) = hub.call(method.clone(), &path, &globex, body).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{method} {path}: {body}");
    }
    let (_, entries) = hub.get(&format!("/instances/{id}/configuration")).await;
    let entry = entries[0]["id"].as_i64().unwrap();
    let (status, _) = hub
        .call(
            Method::PATCH,
            &format!("/instances/{id}/configuration/{entry}"),
            &globex,
            Some(json!({"propertyValue": "x"})),
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    // The instance token with the other organization's user is no credential.
    let globex_user = globex.split(',').next().unwrap();
    let crossed = format!("{globex_user}, Element {}", instance["token"].as_str().unwrap());
    let (status, _) = hub.call(Method::GET, &format!("/instances/{id}"), &crossed, None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);

    let (_, unchanged) = hub.get(&format!("/instances/{id}")).await;
    assert_eq!(unchanged["name"], "API Instance");
    assert_eq!(unchanged["disabled"], false);
    hub.stop().await;
}

async fn element_tokens_reach_only_their_instance(db: Database) {
    let hub = Hub::start(db).await;
    let first = hub.create_instance().await;
    let second = hub.create_instance().await;
    let second_id = second["id"].as_i64().unwrap();
    let first_auth = format!("User {}, Element {}", hub.user_secret, first["token"].as_str().unwrap());

    let (status, listed) = hub.call(Method::GET, "/instances", &first_auth, None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(listed.as_array().unwrap().len(), 1);
    assert_eq!(listed[0]["id"], first["id"]);
    for (method, path) in [
        (Method::GET, format!("/instances/{second_id}")),
        (Method::PATCH, format!("/instances/{second_id}")),
        (Method::GET, format!("/instances/{second_id}/configuration")),
        (Method::DELETE, format!("/instances/{second_id}/enabled")),
        (Method::DELETE, format!("/instances/{second_id}")),
    ] {
        let (status, body) = hub.call(method.clone(), &path, &first_auth, Some(json!({}))).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{method} {path}: {body}");
    }
    // Creating instances needs the organization's credentials.
    let (status, body) = hub
        .call(
            Method::POST,
            "/instances",
            &first_auth,
            Some(hub.seed_body("c", "http://localhost:1/cb")),
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    // All three credentials together work when they belong together.
    let all_three = format!("{}, Element {}", hub.auth, first["token"].as_str().unwrap());
    let (status, _) = hub
        .call(Method::GET, "/instances/configuration", &all_three, None)
        .await;
    assert_eq!(status, StatusCode::OK);
    let globex = hub.other_tenant().await;
    let mixed = format!(
        "User {}, {}, Element {}",
        hub.user_secret,
        globex.split(", ").nth(1).unwrap(),
        first["token"].as_str().unwrap()
    );
    let (status, _) = hub.call(Method::GET, "/instances/configuration", &mixed, None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    hub.stop().await;
}

on_both_backends!(
    organizations_cannot_reach_each_other,
    element_tokens_reach_only_their_instance
);
