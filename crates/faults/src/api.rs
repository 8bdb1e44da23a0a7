//! The calls of the hub's HTTP API only the suite makes.

use anyhow::Context;
use tributary_harness::api::Api;

pub trait SuiteCalls {
    /// `lastPollDate` of a polled instance: when its last successful poll started.
    async fn last_poll(&self, id: i64) -> anyhow::Result<Option<chrono::DateTime<chrono::Utc>>>;
}

impl SuiteCalls for Api {
    async fn last_poll(&self, id: i64) -> anyhow::Result<Option<chrono::DateTime<chrono::Utc>>> {
        let poller = self
            .call(reqwest::Method::GET, &format!("/instances/{id}/events/poller"), None)
            .await?;
        poller["lastPollDate"]
            .as_str()
            .map(|date| {
                chrono::DateTime::parse_from_rfc3339(date)
                    .map(|d| d.to_utc())
                    .with_context(|| format!("lastPollDate {date:?}"))
            })
            .transpose()
    }
}
