//! `tributary admin`, as an operator runs it: the binary, on the database a hub is serving
//! from, which then accepts the organizations and users it created.

use std::process::{Command, Output};

use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::{
    on_both_backends,
    support::{Database, Hub},
};

/// Runs `tributary --database-url <db> admin <args>` in an empty directory (no
/// `tributary.toml`, no data directory).
async fn admin(db: &Database, args: &[&str]) -> Output {
    let url = db.url();
    let args: Vec<String> = args.iter().map(|a| a.to_string()).collect();
    tokio::task::spawn_blocking(move || {
        let dir = tempfile::tempdir().unwrap();
        Command::new(env!("CARGO_BIN_EXE_tributary"))
            .current_dir(dir.path())
            .env_remove("RUST_LOG")
            .arg("--database-url")
            .arg(url)
            .arg("admin")
            .args(args)
            .output()
            .unwrap()
    })
    .await
    .unwrap()
}

/// What a command that succeeded printed.
fn printed(output: &Output) -> String {
    assert!(
        output.status.success(),
        "the command failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout.clone()).unwrap()
}

/// The secret a create command shows once.
fn shown_secret(printed: &str) -> &str {
    printed
        .lines()
        .find_map(|line| line.strip_prefix("secret (shown once): "))
        .unwrap_or_else(|| panic!("no secret in {printed:?}"))
}

async fn admin_commands_work_beside_a_running_hub(db: Database) {
    let hub = Hub::start(db).await;

    let created = printed(&admin(&hub.db, &["create-organization", "--name", "Initech"]).await);
    let org = created
        .lines()
        .next()
        .and_then(|line| line.strip_prefix("organization "))
        .and_then(|rest| rest.split_whitespace().next())
        .unwrap_or_else(|| panic!("no organization id in {created:?}"))
        .to_string();
    let org_secret = shown_secret(&created).to_string();
    let created = printed(
        &admin(
            &hub.db,
            &[
                "create-user",
                "--organization",
                &org,
                "--email",
                "peter@initech.test",
                "--first-name",
                "Peter",
            ],
        )
        .await,
    );
    let user_secret = shown_secret(&created);
    assert!(created.contains(&format!("in organization {org}")), "{created}");

    // The running hub knows them at once, and they see only their own (empty) organization.
    let auth = format!("User {user_secret}, Organization {org_secret}");
    let (status, body) = hub.call(Method::GET, "/instances", &auth, None).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body, json!([]));
    hub.create_instance().await;
    let (_, body) = hub.call(Method::GET, "/instances", &auth, None).await;
    assert_eq!(body, json!([]), "another organization's instance");

    let listed = printed(&admin(&hub.db, &["list"]).await);
    assert!(listed.contains(&format!("organization {org} \"Initech\"")), "{listed}");
    assert!(listed.contains("peter@initech.test"), "{listed}");
    assert!(
        listed.contains("\"Acme\"") && listed.contains("dev@acme.test"),
        "the hub's own tenant: {listed}"
    );

    // An unknown organization is refused, saying how to find the right one.
    let unknown = admin(
        &hub.db,
        &[
            "create-user",
            "--organization",
            "123456789",
            "--email",
            "x@initech.test",
        ],
    )
    .await;
    assert!(!unknown.status.success());
    let error = String::from_utf8_lossy(&unknown.stderr);
    assert!(
        error.contains("no organization 123456789") && error.contains("tributary admin list"),
        "{error}"
    );
    assert!(!printed(&admin(&hub.db, &["list"]).await).contains("x@initech.test"));
    hub.stop().await;
}

on_both_backends!(admin_commands_work_beside_a_running_hub);
