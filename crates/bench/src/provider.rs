//! The Hootsuite simulator, in the bench's process, and the calls the bench makes to it:
//! accounts (members with a social profile), consents, member tokens, scheduled messages,
//! silent edits, and each account's request count (`X-Account-Quota-Used`), which is how the
//! bench counts the hub's polls without any hook in the hub.

use std::time::Duration;

use anyhow::{Context, bail};
use hootsuite_sim::{SimConfig, SimHandle};
use serde_json::{Value, json};
use tributary_harness::hootsuite;

pub struct Provider {
    sim: SimHandle,
    http: reqwest::Client,
}

/// A Hootsuite account of its own (its own rate limit), with one social profile.
#[derive(Debug, Clone)]
pub struct Account {
    pub member: String,
    pub profile: String,
}

impl Provider {
    /// A simulator that publishes nothing by itself: only the bench's load happens.
    pub async fn start() -> anyhow::Result<Self> {
        let sim = hootsuite_sim::spawn(SimConfig {
            auto_publish: false,
            ..SimConfig::default()
        })
        .await?;
        Ok(Self {
            sim,
            http: crate::load::client(),
        })
    }

    pub fn base_url(&self) -> String {
        self.sim.base_url()
    }

    async fn control(&self, method: reqwest::Method, path: &str, body: Value) -> anyhow::Result<Value> {
        let response = self
            .http
            .request(method, format!("{}/_sim{path}", self.base_url()))
            .json(&body)
            .send()
            .await?;
        let status = response.status();
        let body: Value = response.json().await.unwrap_or(Value::Null);
        if !status.is_success() {
            bail!("simulator {path}: {status}: {body}");
        }
        Ok(body)
    }

    /// A new member of the default organization, with a Twitter profile.
    pub async fn account(&self, n: usize) -> anyhow::Result<Account> {
        let member = self
            .control(
                reqwest::Method::POST,
                "/members",
                json!({
                    "email": format!("bench{n}@example.com"),
                    "fullName": format!("Bench Member {n}"),
                    "organizationId": hootsuite_sim::DEFAULT_ORGANIZATION_ID,
                }),
            )
            .await?;
        let member = member["id"].as_str().context("a member id")?.to_string();
        let profile = self
            .control(
                reqwest::Method::POST,
                "/socialProfiles",
                json!({"ownerMemberId": member, "type": "TWITTER"}),
            )
            .await?;
        Ok(Account {
            member,
            profile: profile["id"].as_str().context("a profile id")?.to_string(),
        })
    }

    /// The member approves the demo app on the consent form; returns the grant code.
    pub async fn consent(&self, member: &str) -> anyhow::Result<String> {
        hootsuite::consent(&self.http, &self.base_url(), member, "benchmark1").await
    }

    /// A token of the member's own (the `member_app` grant), to act as the member.
    pub async fn member_token(&self, member: &str) -> anyhow::Result<String> {
        hootsuite::app_token(
            &self.http,
            &self.base_url(),
            &[("grant_type", "member_app"), ("member_id", member)],
        )
        .await
    }

    /// Schedules `count` messages a day ahead on the account's profile; returns their ids.
    pub async fn schedule(&self, token: &str, account: &Account, count: usize) -> anyhow::Result<Vec<String>> {
        let at = (chrono::Utc::now() + chrono::Duration::days(1))
            .format("%Y-%m-%dT%H:%M:%SZ")
            .to_string();
        let mut ids = Vec::with_capacity(count);
        for n in 0..count {
            let body: Value = self
                .http
                .post(format!("{}/v1/messages", self.base_url()))
                .bearer_auth(token)
                .json(&json!({"text": format!("benchmark message {n}"), "socialProfileIds": [account.profile], "scheduledSendTime": at}))
                .send()
                .await?
                .json()
                .await?;
            ids.push(
                body["data"][0]["id"]
                    .as_str()
                    .with_context(|| format!("scheduling failed: {body}"))?
                    .to_string(),
            );
        }
        Ok(ids)
    }

    /// Changes a message's text without an event: only a poll can notice.
    pub async fn edit(&self, message: &str, text: &str) -> anyhow::Result<()> {
        self.control(
            reqwest::Method::PATCH,
            &format!("/messages/{message}"),
            json!({ "text": text }),
        )
        .await
        .map(drop)
    }

    /// Requests the account made today, this one included, from `GET /v1/me`'s
    /// `X-Account-Quota-Used`. Retries while the account is at its rate limit.
    pub async fn requests_used(&self, token: &str) -> anyhow::Result<u64> {
        for _ in 0..50 {
            let response = self
                .http
                .get(format!("{}/v1/me", self.base_url()))
                .bearer_auth(token)
                .send()
                .await?;
            if response.status() == reqwest::StatusCode::TOO_MANY_REQUESTS {
                tokio::time::sleep(Duration::from_millis(60)).await;
                continue;
            }
            return response
                .headers()
                .get("x-account-quota-used")
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.parse().ok())
                .with_context(|| format!("no X-Account-Quota-Used ({})", response.status()));
        }
        bail!("the account stayed at its rate limit")
    }

    /// `GET /v1/messages` over the default poller's window, as a poll's single page.
    pub fn list_messages(&self, client: &reqwest::Client, token: &str) -> reqwest::RequestBuilder {
        let now = chrono::Utc::now();
        let format = |t: chrono::DateTime<chrono::Utc>| t.format("%Y-%m-%dT%H:%M:%SZ").to_string();
        client
            .get(format!("{}/v1/messages", self.base_url()))
            .query(&[
                ("startTime", format(now - chrono::Duration::hours(168))),
                ("endTime", format(now + chrono::Duration::hours(504))),
                ("limit", "100".to_string()),
            ])
            .bearer_auth(token)
    }
}
