//! Test harness: a simulator plus an HTTP client that does not follow redirects, helpers for
//! the OAuth dance and the REST API, and a scriptable webhook receiver.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::IntoResponse;
use hootsuite_sim::{DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET, DEFAULT_MEMBER_ID, SimConfig, SimHandle};
use reqwest::Method;
use serde_json::{Value, json};
use tokio::time::Instant;

pub const REDIRECT_URI: &str = "http://127.0.0.1:8765/callback";
pub const STATE: &str = "state-0123456789";

/// Documented Hootsuite values except for intervals, shortened so tests run fast.
pub fn fast_config() -> SimConfig {
    SimConfig {
        webhook_batch_interval: Duration::from_millis(300),
        webhook_timeout: Duration::from_secs(2),
        webhook_retry_backoff: vec![Duration::from_millis(50)],
        webhook_disable_after: 3,
        auto_publish_interval: Duration::from_millis(50),
        ..SimConfig::default()
    }
}

pub struct TestSim {
    pub handle: SimHandle,
    pub http: reqwest::Client,
}

/// A REST answer: status, headers and JSON body.
pub struct Answer {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Value,
}

impl Answer {
    /// The first REST error code, for `{"errors":[{"code":…}]}` bodies.
    pub fn code(&self) -> u64 {
        self.body["errors"][0]["code"]
            .as_u64()
            .unwrap_or_else(|| panic!("no error code in {} {}", self.status, self.body))
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

async fn answer(response: reqwest::Response) -> Answer {
    let status = response.status();
    let headers = response.headers().clone();
    let text = response.text().await.expect("response body");
    let body = serde_json::from_str(&text).unwrap_or(Value::String(text));
    Answer { status, headers, body }
}

impl TestSim {
    pub async fn start() -> Self {
        Self::with(fast_config()).await
    }

    /// For tests that make more than Hootsuite's 20 requests a second.
    pub async fn unthrottled() -> Self {
        Self::with(SimConfig {
            rate_limit_per_second: 1000,
            ..fast_config()
        })
        .await
    }

    pub async fn with(config: SimConfig) -> Self {
        let handle = hootsuite_sim::spawn(config).await.expect("simulator starts");
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .no_proxy()
            .build()
            .unwrap();
        Self { handle, http }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.handle.base_url())
    }

    /// Calls the control API and insists on success.
    pub async fn control(&self, method: Method, path: &str, body: Value) -> Value {
        let answer = self.control_raw(method.clone(), path, body).await;
        assert!(
            answer.status.is_success(),
            "{method} /_sim{path}: {} {}",
            answer.status,
            answer.body
        );
        answer.body
    }

    pub async fn control_raw(&self, method: Method, path: &str, body: Value) -> Answer {
        let mut request = self.http.request(method, self.url(&format!("/_sim{path}")));
        if !body.is_null() {
            request = request.json(&body);
        }
        answer(request.send().await.unwrap()).await
    }

    pub async fn get_control(&self, path: &str) -> Value {
        self.control(Method::GET, path, Value::Null).await
    }

    /// The consent form, submitted as a browser would after the user chose.
    pub async fn consent(&self, fields: &[(&str, &str)]) -> reqwest::Response {
        self.http
            .post(self.url("/oauth2/auth"))
            .form(fields)
            .send()
            .await
            .unwrap()
    }

    /// Approves the default app for `member` and returns the code from the redirect.
    pub async fn authorize_as(&self, member: &str, scope: &str) -> String {
        let response = self
            .consent(&[
                ("response_type", "code"),
                ("client_id", DEFAULT_CLIENT_ID),
                ("redirect_uri", REDIRECT_URI),
                ("scope", scope),
                ("state", STATE),
                ("member_id", member),
                ("decision", "approve"),
            ])
            .await;
        assert_eq!(response.status(), StatusCode::FOUND);
        let location = redirect_params(&response);
        location["code"].as_str().expect("code on redirect").to_owned()
    }

    /// `POST /oauth2/token` with the default app's Basic credentials.
    pub async fn token(&self, form: &[(&str, &str)]) -> Answer {
        let response = self
            .http
            .post(self.url("/oauth2/token"))
            .basic_auth(DEFAULT_CLIENT_ID, Some(DEFAULT_CLIENT_SECRET))
            .form(form)
            .send()
            .await
            .unwrap();
        answer(response).await
    }

    pub async fn exchange(&self, code: &str) -> Answer {
        self.token(&[
            ("grant_type", "authorization_code"),
            ("code", code),
            ("redirect_uri", REDIRECT_URI),
        ])
        .await
    }

    /// The full authorization-code flow for `member` with `offline`: the token response.
    pub async fn login_as(&self, member: &str) -> Value {
        let code = self.authorize_as(member, "offline").await;
        let tokens = self.exchange(&code).await;
        assert_eq!(tokens.status, StatusCode::OK, "{}", tokens.body);
        tokens.body
    }

    /// An access token of the default member.
    pub async fn access_token(&self) -> String {
        self.token_of(DEFAULT_MEMBER_ID).await
    }

    /// An access token of `member`, through the authorization-code flow.
    pub async fn token_of(&self, member: &str) -> String {
        self.login_as(member).await["access_token"].as_str().unwrap().to_owned()
    }

    /// An `organization_app` token; the app must be authorized by a member of `org`.
    pub async fn organization_token(&self, org: &str) -> String {
        let answer = self
            .token(&[("grant_type", "organization_app"), ("organization_id", org)])
            .await;
        assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
        answer.body["access_token"].as_str().unwrap().to_owned()
    }

    pub async fn api(&self, method: Method, path: &str, token: &str, body: Option<Value>) -> Answer {
        let mut request = self.http.request(method, self.url(path)).bearer_auth(token);
        if let Some(body) = body {
            request = request.json(&body);
        }
        answer(request.send().await.unwrap()).await
    }

    pub async fn get(&self, path: &str, token: &str) -> Answer {
        self.api(Method::GET, path, token, None).await
    }

    pub async fn post(&self, path: &str, token: &str, body: Value) -> Answer {
        self.api(Method::POST, path, token, Some(body)).await
    }

    /// A request without an `Authorization` header.
    pub async fn anonymous(&self, method: Method, path: &str) -> Answer {
        answer(self.http.request(method, self.url(path)).send().await.unwrap()).await
    }

    /// A request with a body that is sent as it is, with this `Content-Type`.
    pub async fn raw(
        &self,
        method: Method,
        url: &str,
        token: Option<&str>,
        content_type: &str,
        body: Vec<u8>,
    ) -> Answer {
        let mut request = self
            .http
            .request(method, url)
            .header("content-type", content_type)
            .body(body);
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        answer(request.send().await.unwrap()).await
    }

    /// `POST /v1/messages`, insisting on success; returns the created messages.
    pub async fn schedule(&self, token: &str, body: Value) -> Vec<Value> {
        let created = self.api(Method::POST, "/v1/messages", token, Some(body)).await;
        assert_eq!(created.status, StatusCode::OK, "{}", created.body);
        created.body["data"].as_array().unwrap().clone()
    }

    pub async fn set_message_state(&self, id: &str, state: &str) -> Value {
        self.control(
            Method::POST,
            &format!("/messages/{id}/state"),
            json!({ "state": state }),
        )
        .await
    }
}

/// The query parameters of a redirect's `Location`.
pub fn redirect_params(response: &reqwest::Response) -> Value {
    let location = response.headers()["location"].to_str().unwrap();
    let url = url::Url::parse(location).unwrap();
    url.query_pairs()
        .map(|(k, v)| (k.into_owned(), Value::String(v.into_owned())))
        .collect::<serde_json::Map<_, _>>()
        .into()
}

/// A time `minutes` from now, in Hootsuite's format.
pub fn in_minutes(minutes: i64) -> String {
    (chrono::Utc::now() + chrono::TimeDelta::minutes(minutes))
        .format("%Y-%m-%dT%H:%M:%SZ")
        .to_string()
}

/// One POST the receiver got.
#[derive(Debug, Clone)]
pub struct Captured {
    pub headers: HeaderMap,
    pub body: Bytes,
}

impl Captured {
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).expect("webhook body is JSON")
    }

    pub fn seq_nos(&self) -> Vec<u64> {
        self.json()
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["seq_no"].as_str().unwrap().parse().unwrap())
            .collect()
    }
}

#[derive(Default)]
struct Behaviour {
    scripted: VecDeque<u16>,
    status: u16,
    delay: Duration,
    body: Vec<u8>,
}

#[derive(Default)]
struct Shared {
    requests: Mutex<Vec<Captured>>,
    behaviour: Mutex<Behaviour>,
}

/// A webhook consumer on loopback that records every POST and answers as told.
pub struct Receiver {
    pub url: String,
    shared: Arc<Shared>,
    task: tokio::task::JoinHandle<()>,
}

async fn receive(State(shared): State<Arc<Shared>>, headers: HeaderMap, body: Bytes) -> impl IntoResponse {
    shared.requests.lock().unwrap().push(Captured { headers, body });
    let (status, delay, body) = {
        let mut b = shared.behaviour.lock().unwrap();
        let status = b.scripted.pop_front().unwrap_or(b.status);
        (status, b.delay, b.body.clone())
    };
    tokio::time::sleep(delay).await;
    (StatusCode::from_u16(status).unwrap(), body)
}

impl Receiver {
    pub async fn start() -> Self {
        let shared = Arc::new(Shared::default());
        shared.behaviour.lock().unwrap().status = 200;
        let app = axum::Router::new()
            .route("/hook", axum::routing::post(receive))
            .with_state(shared.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/hook", listener.local_addr().unwrap());
        let task = tokio::spawn(async move {
            axum::serve(listener, app).await.unwrap();
        });
        Self { url, shared, task }
    }

    /// Answer every later request with `status`.
    pub fn respond_with(&self, status: u16) {
        self.shared.behaviour.lock().unwrap().status = status;
    }

    /// Answer the next requests with these statuses, then fall back to `respond_with`'s.
    pub fn script(&self, statuses: &[u16]) {
        self.shared.behaviour.lock().unwrap().scripted.extend(statuses);
    }

    pub fn delay_answers(&self, delay: Duration) {
        self.shared.behaviour.lock().unwrap().delay = delay;
    }

    pub fn answer_body(&self, body: Vec<u8>) {
        self.shared.behaviour.lock().unwrap().body = body;
    }

    pub fn requests(&self) -> Vec<Captured> {
        self.shared.requests.lock().unwrap().clone()
    }

    /// Waits (at most 5 s) until at least `n` requests arrived.
    pub async fn wait_for(&self, n: usize) -> Vec<Captured> {
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            let requests = self.requests();
            if requests.len() >= n {
                return requests;
            }
            assert!(
                Instant::now() < deadline,
                "expected {n} webhook requests, got {}",
                requests.len()
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Polls `check` every 10 ms for at most 5 s.
pub async fn eventually<F, Fut>(what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = Instant::now() + Duration::from_secs(5);
    while !check().await {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}
