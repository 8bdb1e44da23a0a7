//! The Hootsuite simulator, in this process, and the calls the suite makes to it: the
//! member's consent (for a grant code), an organization token, and scheduled messages for a
//! poller to find.

use anyhow::bail;
use hootsuite_sim::{SimConfig, SimHandle};
use serde_json::{Value, json};
use tributary_harness::hootsuite;

pub struct Provider {
    sim: SimHandle,
    http: reqwest::Client,
}

impl Provider {
    pub async fn start() -> anyhow::Result<Self> {
        Ok(Self {
            sim: hootsuite_sim::spawn(SimConfig::default()).await?,
            http: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()?,
        })
    }

    pub fn base_url(&self) -> String {
        self.sim.base_url()
    }

    /// The default member approves the demo app on the consent form; returns the grant code.
    pub async fn consent(&self) -> anyhow::Result<String> {
        hootsuite::consent(
            &self.http,
            &self.base_url(),
            hootsuite_sim::DEFAULT_MEMBER_ID,
            "faults123",
        )
        .await
    }

    /// A token for the default organization (the `organization_app` grant).
    pub async fn organization_token(&self) -> anyhow::Result<String> {
        hootsuite::app_token(
            &self.http,
            &self.base_url(),
            &[
                ("grant_type", "organization_app"),
                ("organization_id", hootsuite_sim::DEFAULT_ORGANIZATION_ID),
            ],
        )
        .await
    }

    /// Schedules `count` messages an hour ahead on the default member's Twitter profile
    /// (still SCHEDULED when the suite ends, so each changes once: it appears); returns
    /// their ids.
    pub async fn schedule(&self, token: &str, count: usize) -> anyhow::Result<Vec<String>> {
        let at = (chrono::Utc::now() + chrono::Duration::hours(1))
            .format("%Y-%m-%dT%H:%M:%SZ")
            .to_string();
        let mut ids = Vec::with_capacity(count);
        while ids.len() < count {
            let n = ids.len();
            let response = self
                .http
                .post(format!("{}/v1/messages", self.base_url()))
                .bearer_auth(token)
                .json(&json!({
                    "text": format!("fault suite message {n}"),
                    "socialProfileIds": [hootsuite_sim::DEFAULT_TWITTER_PROFILE_ID],
                    "scheduledSendTime": at
                }))
                .send()
                .await?;
            let status = response.status();
            if status == reqwest::StatusCode::TOO_MANY_REQUESTS {
                // The account's 20 requests a second are shared with the pollers.
                tokio::time::sleep(std::time::Duration::from_millis(100)).await;
                continue;
            }
            let body: Value = response.json().await.unwrap_or(Value::Null);
            match body["data"][0]["id"].as_str() {
                Some(id) if status.is_success() => ids.push(id.to_string()),
                _ => bail!("scheduling a message: {status}: {body}"),
            }
        }
        Ok(ids)
    }
}
