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

/// The first word after `prefix` on the line that starts with it.
fn id_after<'a>(printed: &'a str, prefix: &str) -> &'a str {
    printed
        .lines()
        .find_map(|line| line.trim_start().strip_prefix(prefix))
        .and_then(|rest| rest.split_whitespace().next())
        .unwrap_or_else(|| panic!("no {prefix:?} in {printed:?}"))
}

/// Lost secrets: the admin issues new ones, and the running hub takes the new ones and
/// refuses the old ones at once.
async fn lost_secrets_are_replaced_beside_a_running_hub(db: Database) {
    let hub = Hub::start(db).await;
    let created = printed(&admin(&hub.db, &["create-organization", "--name", "Initech"]).await);
    let org = id_after(&created, "organization ").to_string();
    let org_secret = shown_secret(&created).to_string();
    let created = printed(
        &admin(
            &hub.db,
            &["create-user", "--organization", &org, "--email", "peter@initech.test"],
        )
        .await,
    );
    let user = id_after(&created, "user ").to_string();
    let user_secret = shown_secret(&created).to_string();
    let status = |auth: String| {
        let hub = &hub;
        async move { hub.call(Method::GET, "/instances", &auth, None).await.0 }
    };
    // The hub refuses the old credentials and takes the new ones.
    let replaced = |old: String, new: String| {
        let status = &status;
        async move {
            assert_eq!(status(old).await, StatusCode::UNAUTHORIZED);
            assert_eq!(status(new).await, StatusCode::OK);
        }
    };
    assert_eq!(
        status(format!("User {user_secret}, Organization {org_secret}")).await,
        StatusCode::OK
    );

    let rotated = printed(&admin(&hub.db, &["rotate-organization-secret", "--organization", &org]).await);
    let new_org_secret = shown_secret(&rotated).to_string();
    replaced(
        format!("User {user_secret}, Organization {org_secret}"),
        format!("User {user_secret}, Organization {new_org_secret}"),
    )
    .await;

    let rotated = printed(
        &admin(
            &hub.db,
            &["rotate-user-secret", "--organization", &org, "--user", &user],
        )
        .await,
    );
    let new_user_secret = shown_secret(&rotated).to_string();
    replaced(
        format!("User {user_secret}, Organization {new_org_secret}"),
        format!("User {new_user_secret}, Organization {new_org_secret}"),
    )
    .await;

    // A user is found only in their own organization; an unknown one is refused. Neither
    // changes anything.
    let listed = printed(&admin(&hub.db, &["list"]).await);
    let acme = id_after(
        listed.lines().find(|line| line.ends_with("\"Acme\"")).unwrap(),
        "organization ",
    );
    for (args, error) in [
        (
            vec!["rotate-user-secret", "--organization", acme, "--user", &user],
            format!("no user {user} in organization {acme}; `tributary admin list` shows them"),
        ),
        (
            vec!["rotate-organization-secret", "--organization", "123456789"],
            "no organization 123456789; `tributary admin list` shows them".to_string(),
        ),
    ] {
        let refused = admin(&hub.db, &args).await;
        assert!(!refused.status.success());
        let stderr = String::from_utf8_lossy(&refused.stderr);
        assert!(stderr.contains(&error), "{stderr}");
    }
    assert_eq!(
        status(format!("User {new_user_secret}, Organization {new_org_secret}")).await,
        StatusCode::OK
    );
    assert_eq!(status(hub.auth.clone()).await, StatusCode::OK);
    hub.stop().await;
}

on_both_backends!(
    admin_commands_work_beside_a_running_hub,
    lost_secrets_are_replaced_beside_a_running_hub
);
