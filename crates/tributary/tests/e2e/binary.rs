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
    assert!(dir.path().join("data/tributary.db").exists());
    assert!(dir.path().join("data/master.key").exists());
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
