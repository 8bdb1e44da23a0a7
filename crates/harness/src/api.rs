//! The hub's HTTP API as the organization the hub bootstrapped: the calls both tools make,
//! and [`Api::call`] for the ones only one of them needs.

use anyhow::{Context, bail};
use serde_json::{Value, json};

use crate::hootsuite::OAUTH_CALLBACK;

/// An instance as the tools need it.
#[derive(Debug, Clone)]
pub struct Instance {
    pub id: i64,
    pub webhook_url: reqwest::Url,
    /// The `whsec_` secret that signs its notifications.
    pub secret: String,
}

#[derive(Clone)]
pub struct Api {
    pub http: reqwest::Client,
    /// `http://127.0.0.1:<port>`.
    pub base: String,
    pub auth: String,
}

impl Api {
    /// A call under `/elements/api-v2`; a body that is not JSON (or none) is `Null`.
    pub async fn call(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> anyhow::Result<Value> {
        let mut request = self
            .http
            .request(method.clone(), format!("{}/elements/api-v2{path}", self.base))
            .header("authorization", &self.auth);
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.with_context(|| format!("{method} {path}"))?;
        let status = response.status();
        let text = response.text().await?;
        if !status.is_success() {
            bail!("{method} {path}: {status}: {text}");
        }
        Ok(serde_json::from_str(&text).unwrap_or(Value::Null))
    }

    /// The README's seed body for `POST /instances`, with a code from the simulator's consent,
    /// `callback` as the notification callback URL and `tag` saying which tool made it.
    pub async fn create_instance(&self, code: &str, callback: &str, tag: &str, name: &str) -> anyhow::Result<Instance> {
        let body = json!({
            "element": {"key": "hootsuite"},
            "providerData": {"code": code},
            "configuration": {
                "oauth.callback.url": OAUTH_CALLBACK,
                "oauth.api.key": hootsuite_sim::DEFAULT_CLIENT_ID,
                "oauth.api.secret": hootsuite_sim::DEFAULT_CLIENT_SECRET,
                "event.notification.enabled": true,
                "event.notification.callback.url": callback
            },
            "tags": [tag],
            "name": name
        });
        let created = self.call(reqwest::Method::POST, "/instances", Some(body)).await?;
        let field = |name: &str| {
            created[name]
                .as_str()
                .map(str::to_owned)
                .with_context(|| format!("no {name} in {created}"))
        };
        Ok(Instance {
            id: created["id"].as_i64().with_context(|| format!("no id in {created}"))?,
            webhook_url: field("eventsWebhookUrl")?.parse()?,
            secret: field("notificationSigningSecret")?,
        })
    }

    /// `PATCH /instances/{id}` with configuration entries.
    pub async fn configure(&self, id: i64, configuration: Value) -> anyhow::Result<()> {
        self.call(
            reqwest::Method::PATCH,
            &format!("/instances/{id}"),
            Some(json!({ "configuration": configuration })),
        )
        .await
        .map(drop)
    }

    /// `/metrics`, in Prometheus' text format.
    pub async fn metrics(&self) -> anyhow::Result<String> {
        Ok(self
            .http
            .get(format!("{}/metrics", self.base))
            .send()
            .await?
            .error_for_status()?
            .text()
            .await?)
    }

    /// `tributary_delivery_backlog` from `/metrics`: notifications waiting or in flight.
    pub async fn backlog(&self) -> anyhow::Result<u64> {
        let metrics = self.metrics().await?;
        metrics
            .lines()
            .find_map(|line| line.strip_prefix("tributary_delivery_backlog "))
            .and_then(|value| value.trim().parse::<f64>().ok())
            .map(|value| value as u64)
            .context("no tributary_delivery_backlog in /metrics")
    }
}
