//! The README's first command: `tributary` with no arguments and no setup serves on a
//! SQLite file, bootstrapping an organization and user whose secrets it prints once.

use std::{
    io::{BufRead, BufReader},
    process::{Command, Stdio},
    time::Duration,
};

use serde_json::Value;

#[tokio::test]
async fn runs_on_an_embedded_sqlite_file_with_no_setup() {
    let dir = tempfile::tempdir().unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let listen = format!("127.0.0.1:{port}");
    let start = || {
        Command::new(env!("CARGO_BIN_EXE_tributary"))
            .current_dir(dir.path())
            .env_remove("RUST_LOG")
            .env("TRIBUTARY_LISTEN", &listen)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap()
    };
    let mut first = start();
    let mut lines = BufReader::new(first.stdout.take().unwrap()).lines();
    let auth = loop {
        let line = lines.next().expect("the hub prints its bootstrap credentials").unwrap();
        if let Some(header) = line.trim().strip_prefix("Authorization: ") {
            break header.to_string();
        }
    };
    let client = reqwest::Client::new();
    let base = format!("http://{listen}");
    let mut ready = false;
    for _ in 0..100 {
        if let Ok(response) = client.get(format!("{base}/ready")).send().await {
            ready = response.status().is_success();
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(ready);
    let elements: Value = client
        .get(format!("{base}/elements/api-v2/elements"))
        .header("authorization", &auth)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(elements[0]["key"], "hootsuite");
    // What holds secrets is the hub's user's alone.
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = |path: &str| std::fs::metadata(dir.path().join(path)).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode("data"), 0o700);
        for file in [
            "data/master.key",
            "data/tributary.db",
            "data/tributary.db-wal",
            "data/tributary.db-shm",
        ] {
            assert_eq!(mode(file), 0o600, "{file}");
        }
    }
    first.kill().unwrap();
    first.wait().unwrap();

    // A second start finds the data and prints no new secrets; the old ones still work.
    let mut second = start();
    let mut output = String::new();
    for _ in 0..100 {
        if client.get(format!("{base}/ready")).send().await.is_ok() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let status = client
        .get(format!("{base}/elements/api-v2/instances"))
        .header("authorization", &auth)
        .send()
        .await
        .unwrap()
        .status();
    assert!(status.is_success());
    second.kill().unwrap();
    second.wait().unwrap();
    std::io::Read::read_to_string(&mut second.stdout.take().unwrap(), &mut output).unwrap();
    assert!(!output.contains("Authorization:"), "{output}");
}

#[tokio::test]
async fn openapi_describes_every_route() {
    let output = Command::new(env!("CARGO_BIN_EXE_tributary"))
        .arg("openapi")
        .output()
        .unwrap();
    assert!(output.status.success());
    let document: Value = serde_json::from_slice(&output.stdout).unwrap();
    let paths = document["paths"].as_object().unwrap();
    for (path, methods) in [
        ("/elements/api-v2/elements", &["get"][..]),
        ("/elements/api-v2/elements/{keyOrId}", &["get"]),
        ("/elements/api-v2/elements/{keyOrId}/oauth/url", &["get"]),
        ("/elements/api-v2/elements/{keyOrId}/instances", &["post"]),
        ("/elements/api-v2/instances", &["get", "post", "patch", "put"]),
        ("/elements/api-v2/instances/{id}", &["get", "patch", "put", "delete"]),
        ("/elements/api-v2/instances/{id}/configuration", &["get"]),
        (
            "/elements/api-v2/instances/{id}/configuration/{configId}",
            &["get", "patch"],
        ),
        ("/elements/api-v2/instances/configuration", &["get"]),
        ("/elements/api-v2/instances/configuration/{configId}", &["get", "patch"]),
        ("/elements/api-v2/instances/{id}/enabled", &["put", "delete"]),
        ("/elements/api-v2/instances/enabled", &["put", "delete"]),
        ("/elements/api-v2/openapi.json", &["get"]),
        ("/health", &["get"]),
        ("/ready", &["get"]),
    ] {
        let item = paths.get(path).unwrap_or_else(|| panic!("{path} is not described"));
        for method in methods {
            assert!(item.get(*method).is_some(), "{method} {path} is not described");
        }
    }
    assert!(document["components"]["securitySchemes"]["authorization"].is_object());
    assert!(document["components"]["schemas"]["InstanceBody"].is_object());
}

/// A full run of the real binary at debug level (OAuth, token refresh, a refused code,
/// signed webhooks, deliveries with Basic auth): not one secret appears in its logs.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn secrets_never_reach_the_logs() {
    use base64::{Engine, engine::general_purpose::STANDARD};
    use secrecy::ExposeSecret;
    use serde_json::json;
    use tributary::{
        crypto::{Cipher, MasterKey},
        ids::InstanceId,
        instances::sealing::{self, Field},
        store::{self, ConnectOptions},
    };

    let sim = hootsuite_sim::spawn(hootsuite_sim::SimConfig {
        access_token_ttl: Duration::from_secs(4),
        webhook_batch_interval: Duration::from_millis(100),
        ..Default::default()
    })
    .await
    .unwrap();
    let receiver = crate::support::Receiver::start().await;
    let dir = tempfile::tempdir().unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let base = format!("http://127.0.0.1:{port}");
    let log = std::fs::File::create(dir.path().join("hub.log")).unwrap();
    let mut hub = Command::new(env!("CARGO_BIN_EXE_tributary"))
        .current_dir(dir.path())
        .env("RUST_LOG", "debug")
        .env("TRIBUTARY_LISTEN", format!("127.0.0.1:{port}"))
        .env("TRIBUTARY_PUBLIC_URL", &base)
        .env("TRIBUTARY_PROVIDERS__HOOTSUITE__BASE_URL", sim.base_url())
        .env("TRIBUTARY_DELIVERY__ALLOW_NETWORKS", r#"["127.0.0.0/8"]"#)
        .env("TRIBUTARY_OAUTH__REFRESH_SCAN_SECS", "1")
        .stdout(Stdio::piped())
        .stderr(log)
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(hub.stdout.take().unwrap()).lines();
    let auth = loop {
        let line = lines.next().expect("bootstrap credentials").unwrap();
        if let Some(header) = line.trim().strip_prefix("Authorization: ") {
            break header.to_string();
        }
    };
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let api = format!("{base}/elements/api-v2");
    for _ in 0..100 {
        if http.get(format!("{base}/ready")).send().await.is_ok() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let callback = "http://localhost:3000/cb";
    let (_, url) = {
        let body: serde_json::Value = http
            .get(format!(
                "{api}/elements/hootsuite/oauth/url?apiKey={}&apiSecret={}&callbackUrl={callback}&state=logcheck1",
                hootsuite_sim::DEFAULT_CLIENT_ID,
                hootsuite_sim::DEFAULT_CLIENT_SECRET
            ))
            .header("authorization", &auth)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        ((), body["oauthUrl"].as_str().unwrap().to_string())
    };
    let code = crate::support::approve(&http, &url).await;
    let secrets = ["sig-key-6a1f0c", "basic-pass-93be21", "0a1b2c3d4e5f6a7b"];
    let body = json!({
        "element": {"key": "hootsuite"},
        "providerData": {"code": code},
        "configuration": {
            "oauth.callback.url": callback,
            "oauth.api.key": hootsuite_sim::DEFAULT_CLIENT_ID,
            "oauth.api.secret": hootsuite_sim::DEFAULT_CLIENT_SECRET,
            "event.notification.enabled": true,
            "event.notification.callback.url": receiver.url,
            "event.notification.signature.key": secrets[0],
            "event.notification.basic.username": "hub",
            "event.notification.basic.password": secrets[1],
            "hootsuite.webhook.secret": secrets[2],
        },
        "name": "Logged"
    });
    let instance: serde_json::Value = http
        .post(format!("{api}/instances"))
        .header("authorization", &auth)
        .json(&body)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let id = instance["id"].as_i64().expect("the instance was created");
    // A refused code, on purpose, so error paths log too.
    let mut refused = body.clone();
    refused["providerData"]["code"] = json!("not-a-real-code");
    http.post(format!("{api}/instances"))
        .header("authorization", &auth)
        .json(&refused)
        .send()
        .await
        .unwrap();
    // A signed webhook, delivered with Basic auth and both signatures.
    let webhook = serde_json::to_vec(&json!([{"seq_no": "1", "type": "com.hootsuite.messages.event.v1",
        "data": {"state": "SENT", "message": {"id": "9"}}}]))
    .unwrap();
    let signature = hex::encode(tributary::crypto::hmac_sha256(
        &hex::decode(secrets[2]).unwrap(),
        &webhook,
    ));
    let answer = http
        .post(instance["eventsWebhookUrl"].as_str().unwrap())
        .header("content-type", "application/json")
        .header("X-Hootsuite-Signature", signature)
        .body(webhook)
        .send()
        .await
        .unwrap();
    assert!(answer.status().is_success());
    receiver.wait_for(1, 10).await;
    // Let at least one token refresh happen (tokens live 4 s).
    tokio::time::sleep(Duration::from_secs(4)).await;

    let store = store::connect(
        &format!("sqlite://{}", dir.path().join("data/tributary.db").display()),
        &ConnectOptions {
            max_connections: 1,
            sqlite_full_sync: false,
        },
    )
    .await
    .unwrap();
    let key = std::fs::read_to_string(dir.path().join("data/master.key")).unwrap();
    let cipher = Cipher::new(&MasterKey::from_base64(&key).unwrap());
    let instance_id = InstanceId::from_stored(id);
    let grant = store.access_grant(instance_id).await.unwrap().unwrap();
    let access = cipher
        .open(&grant.access_token, &sealing::context(instance_id, Field::AccessToken))
        .unwrap();
    hub.kill().unwrap();
    hub.wait().unwrap();

    let logs = std::fs::read_to_string(dir.path().join("hub.log")).unwrap();
    assert!(logs.contains("access token refreshed"), "the run exercised a refresh");
    let user_secret = auth.split(',').next().unwrap().trim().strip_prefix("User ").unwrap();
    let org_secret = auth
        .split(',')
        .nth(1)
        .unwrap()
        .trim()
        .strip_prefix("Organization ")
        .unwrap();
    let token = instance["token"].as_str().unwrap();
    let signing = instance["notificationSigningSecret"].as_str().unwrap();
    let basic = STANDARD.encode(format!("hub:{}", secrets[1]));
    for secret in [
        user_secret,
        org_secret,
        token,
        signing,
        hootsuite_sim::DEFAULT_CLIENT_SECRET,
        secrets[0],
        secrets[1],
        secrets[2],
        basic.as_str(),
        access.expose_secret(),
        code.as_str(),
    ] {
        assert!(!logs.contains(secret), "a secret is in the logs: {secret}");
    }
    sim.shutdown().await;
}
