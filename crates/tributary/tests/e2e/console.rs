//! The web console: its session endpoints and cookie (flags, CSRF, sign-out, forged and
//! expired cookies), the static app served beside the API, and the browser end-to-end suite
//! in `console-tests/` (Playwright driving Debian's Chromium), run from here so that
//! `cargo test --workspace` runs everything.

use std::{path::Path, process::Command};

use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use reqwest::{Method, StatusCode, header};
use serde_json::{Value, json};
use tributary::crypto::{Cipher, MasterKey};

use crate::{
    on_both_backends,
    support::{Database, Hub, HubOptions},
};

const COOKIE: &str = "tributary_session";

fn origin(hub: &Hub) -> String {
    format!("http://{}", hub.running.addr)
}

/// A call with no Authorization header: only the session cookie (when given) and the CSRF
/// token (when given) vouch for it.
async fn browser_call(
    hub: &Hub,
    method: Method,
    path: &str,
    cookie: Option<&str>,
    csrf: Option<&str>,
) -> reqwest::Response {
    let mut request = hub.http.request(method, format!("{}{path}", origin(hub)));
    if let Some(cookie) = cookie {
        request = request.header(header::COOKIE, format!("other=1; {COOKIE}={cookie}"));
    }
    if let Some(csrf) = csrf {
        request = request.header("x-csrf-token", csrf);
    }
    request.send().await.unwrap()
}

async fn json_of(response: reqwest::Response) -> (StatusCode, Value) {
    let status = response.status();
    (status, response.json().await.unwrap())
}

/// Signs in with the hub's user and organization secrets: the `Set-Cookie` line, the cookie
/// value and the session body.
async fn sign_in(hub: &Hub) -> (String, String, Value) {
    let response = hub
        .http
        .post(format!("{}/console/session", origin(hub)))
        .json(&json!({"userSecret": hub.user_secret, "organizationSecret": hub.org_secret}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()[header::CACHE_CONTROL], "no-store");
    let set_cookie = response.headers()[header::SET_COOKIE].to_str().unwrap().to_string();
    let value = set_cookie
        .split(';')
        .next()
        .and_then(|pair| pair.strip_prefix(&format!("{COOKIE}=")))
        .expect("the session cookie")
        .to_string();
    (set_cookie, value, response.json().await.unwrap())
}

async fn sessions(db: Database) {
    let hub = Hub::start(db).await;

    let wrong = hub
        .http
        .post(format!("{}/console/session", origin(&hub)))
        .json(&json!({"userSecret": hub.user_secret, "organizationSecret": "not-it"}))
        .send()
        .await
        .unwrap();
    assert_eq!(wrong.status(), StatusCode::UNAUTHORIZED);
    assert!(wrong.headers().get(header::SET_COOKIE).is_none());
    let (_, body) = json_of(wrong).await;
    assert!(body["message"].as_str().unwrap().contains("do not match"), "{body}");

    let (set_cookie, cookie, session) = sign_in(&hub).await;
    let attributes: Vec<&str> = set_cookie.split("; ").skip(1).collect();
    assert_eq!(
        attributes,
        ["Path=/", "Max-Age=43200", "HttpOnly", "SameSite=Strict"],
        "no Secure over http: {set_cookie}"
    );
    assert!(!cookie.contains(&hub.user_secret) && !cookie.contains(&hub.org_secret));
    assert!(
        !URL_SAFE_NO_PAD
            .decode(&cookie)
            .unwrap()
            .windows(8)
            .any(|w| w == b"\"csrf\":\""),
        "the cookie is sealed, not readable JSON"
    );
    let csrf = session["csrfToken"].as_str().unwrap().to_string();
    assert_eq!(csrf.len(), 64);
    assert_eq!(session["user"]["emailAddress"], "dev@acme.test");
    assert_eq!(session["organization"]["name"], "Acme");
    assert_eq!(
        session["oauthCallbackUrl"],
        format!("{}/console/oauth/callback", origin(&hub))
    );

    let response = browser_call(&hub, Method::GET, "/console/session", Some(&cookie), None).await;
    assert_eq!(response.headers()[header::CACHE_CONTROL], "no-store");
    let (status, again) = json_of(response).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(again["csrfToken"], csrf.as_str());
    assert_eq!(again["user"]["id"], session["user"]["id"]);

    // The cookie stands in for the Authorization header, with the organization's reach.
    let instance = hub.create_instance().await;
    let id = instance["id"].as_i64().unwrap();
    let (status, listed) =
        json_of(browser_call(&hub, Method::GET, "/elements/api-v2/instances", Some(&cookie), None).await).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(listed[0]["id"], id);

    // Writes need the CSRF token too: missing or wrong, nothing happens.
    let disable = format!("/elements/api-v2/instances/{id}/enabled");
    for token in [None, Some("0".repeat(64).as_str()), Some(&csrf[..63])] {
        let (status, body) = json_of(browser_call(&hub, Method::DELETE, &disable, Some(&cookie), token).await).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{token:?}");
        assert!(body["message"].as_str().unwrap().contains("X-CSRF-Token"), "{body}");
    }
    let rotate = format!("/elements/api-v2/instances/{id}/events/secret");
    let refused = browser_call(&hub, Method::POST, &rotate, Some(&cookie), None).await;
    assert_eq!(refused.status(), StatusCode::FORBIDDEN);
    let (_, unchanged) = hub.get(&format!("/instances/{id}")).await;
    assert_eq!(unchanged["disabled"], false);
    let (status, disabled) =
        json_of(browser_call(&hub, Method::DELETE, &disable, Some(&cookie), Some(&csrf)).await).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(disabled["disabled"], true);

    // An Authorization header, when present, is what counts; the cookie does not rescue it.
    let response = hub
        .http
        .get(format!("{}/instances", hub.base))
        .header(header::AUTHORIZATION, "User nope, Organization nope")
        .header(header::COOKIE, format!("{COOKIE}={cookie}"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);

    // Signing out needs the token while the session lives, and clears the cookie.
    let response = browser_call(&hub, Method::DELETE, "/console/session", Some(&cookie), None).await;
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    let response = browser_call(&hub, Method::DELETE, "/console/session", Some(&cookie), Some(&csrf)).await;
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    assert_eq!(
        response.headers()[header::SET_COOKIE],
        format!("{COOKIE}=; Path=/; Max-Age=0; HttpOnly; SameSite=Strict").as_str()
    );
    let response = browser_call(&hub, Method::GET, "/console/session", None, None).await;
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    let response = browser_call(&hub, Method::GET, "/elements/api-v2/instances", None, None).await;
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    hub.stop().await;
}

on_both_backends!(sessions);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forged_tampered_and_expired_cookies_are_refused() {
    let hub = Hub::start(Database::sqlite().await).await;
    let (_, cookie, session) = sign_in(&hub).await;
    let (user, org) = (&session["user"]["id"], &session["organization"]["id"]);
    let cipher = Cipher::new(&MasterKey::from_base64(&hub.master_key).unwrap());
    let seal = |cipher: &Cipher, data: Value, context: &str| {
        URL_SAFE_NO_PAD.encode(cipher.seal(&data.to_string(), context).as_bytes())
    };
    let in_an_hour = chrono::Utc::now().timestamp() + 3600;
    let mut tampered = URL_SAFE_NO_PAD.decode(&cookie).unwrap();
    let last = tampered.len() - 1;
    tampered[last] ^= 1;
    let forged = [
        ("random bytes", URL_SAFE_NO_PAD.encode(rand::random::<[u8; 64]>())),
        ("not Base64", "%%%".to_string()),
        ("tampered", URL_SAFE_NO_PAD.encode(tampered)),
        (
            "expired",
            seal(
                &cipher,
                json!({"user": user, "org": org, "expires": in_an_hour - 7200, "csrf": "x"}),
                "console-session",
            ),
        ),
        (
            "sealed for another purpose",
            seal(
                &cipher,
                json!({"user": user, "org": org, "expires": in_an_hour, "csrf": "x"}),
                "instance:1:access_token",
            ),
        ),
        (
            "sealed under another key",
            seal(
                &Cipher::new(&MasterKey::generate()),
                json!({"user": user, "org": org, "expires": in_an_hour, "csrf": "x"}),
                "console-session",
            ),
        ),
        (
            "a user that does not exist",
            seal(
                &cipher,
                json!({"user": 4_294_967_296_i64, "org": org, "expires": in_an_hour, "csrf": "x"}),
                "console-session",
            ),
        ),
    ];
    for (what, value) in &forged {
        for path in ["/console/session", "/elements/api-v2/instances"] {
            let (status, body) = json_of(browser_call(&hub, Method::GET, path, Some(value), None).await).await;
            assert_eq!(status, StatusCode::UNAUTHORIZED, "{what} at {path}");
            assert!(
                body["message"].as_str().unwrap().contains("sign in again"),
                "{what}: {body}"
            );
        }
    }

    // A well-formed cookie the hub sealed itself is accepted: the checks above are not vacuous.
    let fresh = seal(
        &cipher,
        json!({"user": user, "org": org, "expires": in_an_hour, "csrf": "x"}),
        "console-session",
    );
    let response = browser_call(&hub, Method::GET, "/console/session", Some(&fresh), None).await;
    assert_eq!(response.status(), StatusCode::OK);

    // A dead session is simply cleared on sign-out.
    let response = browser_call(&hub, Method::DELETE, "/console/session", Some(&forged[0].1), None).await;
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    hub.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_cookie_is_secure_behind_an_https_public_url() {
    let hub = Hub::start_with(
        Database::sqlite().await,
        HubOptions {
            configure: Box::new(|config| config.public_url = Some("https://hub.example.test".parse().unwrap())),
            ..HubOptions::default()
        },
    )
    .await;
    let (set_cookie, _, session) = sign_in(&hub).await;
    assert!(
        set_cookie.ends_with("; HttpOnly; SameSite=Strict; Secure"),
        "{set_cookie}"
    );
    assert_eq!(
        session["oauthCallbackUrl"],
        "https://hub.example.test/console/oauth/callback"
    );
    hub.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sign_in_input_is_checked() {
    let hub = Hub::start(Database::sqlite().await).await;
    let url = format!("{}/console/session", origin(&hub));
    for (body, why) in [
        (json!({"userSecret": hub.user_secret}), "organizationSecret"),
        (json!({"userSecret": " ", "organizationSecret": " "}), "Enter both"),
        (
            json!({"userSecret": "a", "organizationSecret": "b", "remember": true}),
            "unknown field",
        ),
    ] {
        let (status, answer) = json_of(hub.http.post(&url).json(&body).send().await.unwrap()).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
        assert!(answer["message"].as_str().unwrap().contains(why), "{answer}");
    }
    // A cross-site form cannot sign a browser in: it can only send form encoding.
    let response = hub
        .http
        .post(&url)
        .form(&[
            ("userSecret", &hub.user_secret),
            ("organizationSecret", &hub.org_secret),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);
    assert!(response.headers().get(header::SET_COOKIE).is_none());
    hub.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_app_is_served_beside_the_api_and_outside_its_description() {
    let hub = Hub::start(Database::sqlite().await).await;
    for path in ["/", "/console/oauth/callback?code=abc&state=12345678"] {
        let response = browser_call(&hub, Method::GET, path, None, None).await;
        assert_eq!(response.status(), StatusCode::OK, "{path}");
        let headers = response.headers().clone();
        assert_eq!(headers[header::CONTENT_TYPE], "text/html; charset=utf-8");
        let csp = headers[header::CONTENT_SECURITY_POLICY].to_str().unwrap();
        assert!(
            csp.contains("script-src 'self'") && csp.contains("frame-ancestors 'none'"),
            "{csp}"
        );
        assert_eq!(headers[header::REFERRER_POLICY], "no-referrer");
        assert_eq!(headers[header::X_FRAME_OPTIONS], "DENY");
        let html = response.text().await.unwrap();
        assert!(html.contains(r#"<script type="module" src="/console/app.js">"#));
        assert!(
            !html.contains("src=\"http") && !html.contains("href=\"http"),
            "nothing from a CDN"
        );
    }

    // Every module the app imports is served, as JavaScript; nothing comes from elsewhere.
    let mut pending = vec!["app.js".to_string()];
    let mut seen = Vec::new();
    while let Some(file) = pending.pop() {
        if seen.contains(&file) {
            continue;
        }
        let response = browser_call(&hub, Method::GET, &format!("/console/{file}"), None, None).await;
        assert_eq!(response.status(), StatusCode::OK, "{file}");
        assert_eq!(
            response.headers()[header::CONTENT_TYPE],
            "text/javascript; charset=utf-8"
        );
        let source = response.text().await.unwrap();
        assert!(
            !source.contains("from \"http") && !source.contains("import(\"http"),
            "{file}"
        );
        for import in source.split(" from \"./").skip(1) {
            pending.push(import.split('"').next().unwrap().to_string());
        }
        seen.push(file);
    }
    assert!(seen.len() >= 6, "{seen:?}");
    let css = browser_call(&hub, Method::GET, "/console/app.css", None, None).await;
    assert_eq!(css.headers()[header::CONTENT_TYPE], "text/css; charset=utf-8");

    let (status, body) = json_of(browser_call(&hub, Method::GET, "/console/missing.js", None, None).await).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert!(body["message"].as_str().unwrap().contains("missing.js"), "{body}");

    let (_, document) = hub.get("/openapi.json").await;
    let paths: Vec<&String> = document["paths"].as_object().unwrap().keys().collect();
    assert!(
        paths.iter().all(|p| !p.starts_with("/console") && p.as_str() != "/"),
        "{paths:?}"
    );
    hub.stop().await;
}

/// The browser suite (`console-tests/`, `npm test`) against this build's hub and an
/// in-process simulator. CI runs that suite itself after installing Chromium (`.ci/run`), so
/// it is not run twice there.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn in_headless_chromium() {
    let suite = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../console-tests");
    let chromium = std::env::var("CHROMIUM_PATH").unwrap_or_else(|_| "/usr/bin/chromium".into());
    assert!(
        Path::new(&chromium).exists(),
        "the console's browser test needs Chromium at {chromium} (Debian: apt-get install chromium; \
         or set CHROMIUM_PATH)"
    );
    if !suite.join("node_modules").exists() {
        let status = Command::new("npm")
            .arg("ci")
            .current_dir(&suite)
            .status()
            .expect("npm, to install the browser test's dependencies");
        assert!(status.success(), "npm ci in console-tests failed");
    }
    let sim = hootsuite_sim::spawn(hootsuite_sim::SimConfig {
        webhook_batch_interval: std::time::Duration::from_millis(200),
        ..hootsuite_sim::SimConfig::default()
    })
    .await
    .expect("simulator");
    let sim_url = sim.base_url();
    // The suite runs outside the runtime, which keeps serving the simulator meanwhile.
    let status = tokio::task::spawn_blocking(move || {
        Command::new("npm")
            .arg("test")
            .current_dir(&suite)
            .env("CONSOLE_TEST_HUB_BIN", env!("CARGO_BIN_EXE_tributary"))
            .env("CONSOLE_TEST_SIM_URL", sim_url)
            .env("CHROMIUM_PATH", chromium)
            .status()
    })
    .await
    .unwrap()
    .expect("npm, to run the browser test");
    sim.shutdown().await;
    assert!(
        status.success(),
        "the console's browser test failed (its output is above)"
    );
}
