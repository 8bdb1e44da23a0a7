//! Starting the binary as a newcomer does: what the hub says when it starts, and how it
//! refuses, within seconds and saying why, a start that cannot work (a busy port, a
//! PostgreSQL server that will not have it, a typo in the configuration, a SQLite file
//! another hub serves from).

use std::{
    io::{BufRead, BufReader, Read},
    path::Path,
    process::{Child, Command, ExitStatus, Stdio},
    time::{Duration, Instant},
};

use reqwest::StatusCode;

use crate::support::postgres_url;

/// The hub binary, run in `dir`, with none of this process's `TRIBUTARY_*` settings.
fn tributary(dir: &Path) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_tributary"));
    command.current_dir(dir).env_remove("RUST_LOG");
    for (key, _) in std::env::vars() {
        if key.starts_with("TRIBUTARY_") {
            command.env_remove(key);
        }
    }
    command
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Whether a hub answers `/ready` on `port` within 10 s.
async fn ready(port: u16) -> bool {
    let http = reqwest::Client::new();
    for _ in 0..200 {
        if let Ok(answer) = http.get(format!("http://127.0.0.1:{port}/ready")).send().await {
            return answer.status().is_success();
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    false
}

/// How the process ended, if it did within `within`.
fn exited(child: &mut Child, within: Duration) -> Option<ExitStatus> {
    let deadline = Instant::now() + within;
    while Instant::now() < deadline {
        if let Some(status) = child.try_wait().unwrap() {
            return Some(status);
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    None
}

fn stop(mut child: Child) {
    child.kill().unwrap();
    child.wait().unwrap();
}

fn stderr(output: &std::process::Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// Stops a hub and returns what it printed.
fn stop_and_read(mut child: Child) -> String {
    let mut stdout = child.stdout.take().unwrap();
    stop(child);
    let mut printed = String::new();
    stdout.read_to_string(&mut printed).unwrap();
    printed
}

#[tokio::test]
async fn the_banner_says_where_everything_is() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let public = format!("http://hub.test:{port}");
    let mut first = tributary(dir.path())
        .args([
            "serve",
            "--listen",
            &format!("127.0.0.1:{port}"),
            "--public-url",
            &public,
        ])
        .env("TRIBUTARY_DELIVERY__ALLOW_NETWORKS", r#"["127.0.0.0/8"]"#)
        .env("TRIBUTARY_PROVIDERS__HOOTSUITE__BASE_URL", "http://127.0.0.1:9")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(first.stdout.take().unwrap()).lines();
    let mut banner = Vec::new();
    let auth = loop {
        let line = lines.next().expect("the hub prints its first credentials").unwrap();
        if let Some(header) = line.trim().strip_prefix("Authorization: ") {
            break header.to_string();
        }
        banner.push(line);
    };
    let banner = banner.join("\n");
    for expected in [
        format!("  Web console   {public}/"),
        format!("  API           {public}/elements/api-v2"),
        format!("  OpenAPI       {public}/elements/api-v2/openapi.json"),
        format!("  Listening on  127.0.0.1:{port}"),
        "  Database      SQLite file data/tributary.db".into(),
        "  Master key    data/master.key".into(),
        r#"    delivery.allow_networks = ["127.0.0.0/8"]"#.into(),
        r#"    providers.hootsuite.base_url = "http://127.0.0.1:9/""#.into(),
    ] {
        assert!(banner.contains(&expected), "{expected:?} is not in:\n{banner}");
    }
    assert!(ready(port).await);
    let answer = reqwest::Client::new()
        .get(format!("http://127.0.0.1:{port}/elements/api-v2/instances"))
        .header("authorization", &auth)
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), StatusCode::OK);
    stop(first);

    // A restart says the same, with no credentials and nothing changed from the defaults.
    let port = free_port();
    let second = tributary(dir.path())
        .env("TRIBUTARY_LISTEN", format!("127.0.0.1:{port}"))
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    assert!(ready(port).await);
    let printed = stop_and_read(second);
    assert!(
        printed.contains(&format!("  Web console   http://127.0.0.1:{port}/\n")),
        "{printed}"
    );
    assert!(
        !printed.contains("Authorization") && !printed.contains("Settings changed"),
        "{printed}"
    );
}

/// `--listen` and `--public-url` before the subcommand, after it, or with none.
#[tokio::test]
async fn the_server_flags_go_before_or_after_the_subcommand() {
    let dir = tempfile::tempdir().unwrap();
    for place in ["before", "after", "alone"] {
        let port = free_port();
        let listen = format!("127.0.0.1:{port}");
        let public = format!("http://hub.test:{port}");
        let flags = ["--listen", &listen, "--public-url", &public];
        let args: Vec<&str> = match place {
            "before" => flags.iter().copied().chain(["serve"]).collect(),
            "after" => ["serve"].into_iter().chain(flags).collect(),
            _ => flags.to_vec(),
        };
        let hub = tributary(dir.path())
            .args(&args)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let served = ready(port).await;
        let printed = stop_and_read(hub);
        assert!(served, "{args:?}");
        assert!(
            printed.contains(&format!("  Web console   {public}/\n")),
            "{args:?}: {printed}"
        );
    }
}

#[test]
fn a_busy_port_fails_the_start_before_anything_is_created() {
    let dir = tempfile::tempdir().unwrap();
    let busy = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let address = busy.local_addr().unwrap();
    let output = tributary(dir.path())
        .env("TRIBUTARY_LISTEN", address.to_string())
        .output()
        .unwrap();
    assert!(!output.status.success());
    let printed = String::from_utf8_lossy(&output.stdout);
    assert!(
        !printed.contains("Authorization"),
        "secrets of a hub that never served: {printed}"
    );
    assert!(!dir.path().join("data").exists(), "nothing is created");
    let error = stderr(&output);
    assert!(
        error.contains(&format!("tributary: cannot listen on {address}: "))
            && error.contains("another program holds it: stop it, or choose another address with --listen"),
        "{error}"
    );
}

/// What a command that must fail within seconds said on stderr.
fn refusal_within_seconds(command: &mut Command) -> String {
    let started = Instant::now();
    let output = command.output().unwrap();
    let error = stderr(&output);
    assert!(!output.status.success(), "{error}");
    let took = started.elapsed();
    assert!(took < Duration::from_secs(10), "{took:?}: {error}");
    error
}

#[test]
fn postgres_start_failures_say_why_within_seconds() {
    let dir = tempfile::tempdir().unwrap();
    let missing = format!("does_not_exist_{}", hex::encode(rand::random::<[u8; 4]>()));
    let mut url = url::Url::parse(&postgres_url()).unwrap();
    url.set_path(&missing);
    let error = refusal_within_seconds(
        tributary(dir.path())
            .args(["--database-url", url.as_str(), "serve"])
            .env("TRIBUTARY_LISTEN", "127.0.0.1:0"),
    );
    assert!(
        error.contains(&format!("database \"{missing}\" does not exist at "))
            && error.contains(": create it with `createdb -h ")
            && error.trim_end().ends_with(&format!(" {missing}`")),
        "{error}"
    );

    // Nothing listens on that port. The password is never repeated.
    let port = free_port();
    let password = format!("pw-{}", hex::encode(rand::random::<[u8; 6]>()));
    let url = format!("postgres://postgres:{password}@127.0.0.1:{port}/test");
    let error = refusal_within_seconds(tributary(dir.path()).args(["--database-url", &url, "admin", "list"]));
    assert!(
        error.contains(&format!(
            "connection refused at 127.0.0.1:{port}: is PostgreSQL running and listening on that address and port?"
        )),
        "{error}"
    );
    assert!(!error.contains(&password), "{error}");
}

#[test]
fn configuration_mistakes_name_the_file_or_variable_and_the_key_meant() {
    let dir = tempfile::tempdir().unwrap();
    let refusal = |command: &mut Command| {
        let output = command.arg("openapi").output().unwrap();
        assert!(!output.status.success());
        stderr(&output)
    };
    std::fs::write(dir.path().join("tributary.toml"), "lisen = \"127.0.0.1:1\"\n").unwrap();
    assert_eq!(
        refusal(&mut tributary(dir.path())),
        "tributary: configuration: config file tributary.toml: unknown key \"lisen\" (did you mean \"listen\"?)\n"
    );
    std::fs::remove_file(dir.path().join("tributary.toml")).unwrap();
    assert_eq!(
        refusal(tributary(dir.path()).env("TRIBUTARY_DELIVERY__ALOW_NETWORKS", r#"["10.0.0.0/8"]"#)),
        "tributary: configuration: environment variable TRIBUTARY_DELIVERY__ALOW_NETWORKS: unknown key \
         \"delivery.alow_networks\" (did you mean \"delivery.allow_networks\": TRIBUTARY_DELIVERY__ALLOW_NETWORKS?)\n"
    );
    std::fs::write(dir.path().join("hub.toml"), "[delivery]\ntimeout_secs = \"ten\"\n").unwrap();
    assert_eq!(
        refusal(tributary(dir.path()).args(["--config", "hub.toml"])),
        "tributary: configuration: config file hub.toml: delivery.timeout_secs: expected a whole number \
         (0 or more), found string \"ten\"\n"
    );
}

/// `tributary openapi | head -1`: the reader goes away, the command ends quietly.
#[test]
fn output_into_a_closed_pipe_ends_quietly() {
    let dir = tempfile::tempdir().unwrap();
    let closed = || {
        let (reader, writer) = std::io::pipe().unwrap();
        drop(reader);
        writer
    };
    let database = format!("sqlite://{}", dir.path().join("t.db").display());
    let created = tributary(dir.path())
        .args([
            "--database-url",
            &database,
            "admin",
            "create-organization",
            "--name",
            "Initech",
        ])
        .output()
        .unwrap();
    assert!(created.status.success(), "{}", stderr(&created));
    for args in [&["openapi"][..], &["--database-url", &database, "admin", "list"]] {
        let output = tributary(dir.path()).args(args).stdout(closed()).output().unwrap();
        assert!(
            output.status.success(),
            "{args:?}: {:?} {}",
            output.status,
            stderr(&output)
        );
        assert_eq!(stderr(&output), "", "{args:?}");
    }
}

#[tokio::test]
async fn one_hub_serves_from_a_sqlite_file() {
    let dir = tempfile::tempdir().unwrap();
    let serve = |port: u16, stderr: Stdio| {
        tributary(dir.path())
            .env("TRIBUTARY_LISTEN", format!("127.0.0.1:{port}"))
            .stdout(Stdio::null())
            .stderr(stderr)
            .spawn()
            .unwrap()
    };
    let port = free_port();
    let first = serve(port, Stdio::null());
    assert!(ready(port).await);
    // Admin commands work beside it.
    let listed = tributary(dir.path()).args(["admin", "list"]).output().unwrap();
    assert!(listed.status.success(), "{}", stderr(&listed));
    assert!(String::from_utf8_lossy(&listed.stdout).contains("admin@localhost"));

    let port = free_port();
    let mut second = serve(port, Stdio::piped());
    let Some(status) = exited(&mut second, Duration::from_secs(10)) else {
        stop(second);
        stop(first);
        panic!("a second hub serves from the same SQLite file");
    };
    assert!(!status.success());
    let mut error = String::new();
    second.stderr.take().unwrap().read_to_string(&mut error).unwrap();
    assert!(
        error.contains(&format!(
            "the SQLite database data/tributary.db is in use by another hub (process {}): one hub process per \
             SQLite file",
            first.id()
        )),
        "{error}"
    );

    // The kernel lets go of the lock with its holder, however it ends.
    stop(first);
    let third = serve(port, Stdio::null());
    assert!(ready(port).await, "the file is free again");
    stop(third);
}
