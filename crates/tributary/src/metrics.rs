//! Prometheus metrics of the events pipeline, served at `/metrics` in the text format.
//!
//! Each hub owns its registry (no global recorder), so several hubs can run in one process,
//! as the tests do.

use prometheus_client::{
    encoding::{EncodeLabelSet, text::encode},
    metrics::{
        counter::Counter,
        family::Family,
        gauge::Gauge,
        histogram::{Histogram, exponential_buckets},
    },
    registry::Registry,
};

use crate::store::{EventSource, EventStatus};

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct EventLabels {
    element: String,
    source: &'static str,
    status: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct OutcomeLabels {
    outcome: &'static str,
}

/// How an attempt to deliver a notification ended, for counting.
#[derive(Debug, Clone, Copy)]
pub enum DeliveryCount {
    Delivered,
    Retried,
    Failed,
    /// Parked until someone releases it.
    Queued,
    /// Parked until the instance has a callback URL.
    Held,
    /// Not sent, due again later: its callback server was failing or busy.
    Deferred,
}

/// How a poll of one instance ended, for counting.
#[derive(Debug, Clone, Copy)]
pub enum PollCount {
    /// Read every resource and recorded what changed.
    Completed,
    /// Another process took the lease over; what this one found was discarded.
    TakenOver,
    /// Failed and will be tried again after a back-off.
    Retried,
    /// Failed in a way only the user can fix (configuration, revoked grant).
    Paused,
}

pub struct Metrics {
    registry: Registry,
    events: Family<EventLabels, Counter>,
    deliveries: Family<OutcomeLabels, Counter>,
    polls: Family<OutcomeLabels, Counter>,
    latency: Histogram,
    backlog: Gauge,
}

impl Default for Metrics {
    fn default() -> Self {
        let mut registry = Registry::with_prefix("tributary");
        let events = Family::<EventLabels, Counter>::default();
        registry.register(
            "events",
            "Provider events stored, by outcome (received, held, ignored, duplicate, queued)",
            events.clone(),
        );
        let deliveries = Family::<OutcomeLabels, Counter>::default();
        registry.register(
            "delivery_attempts",
            "Notification attempts and parkings, by outcome (delivered, retried, failed, queued, held)",
            deliveries.clone(),
        );
        let polls = Family::<OutcomeLabels, Counter>::default();
        registry.register(
            "polls",
            "Polls of provider APIs, by outcome (completed, taken_over, retried, paused)",
            polls.clone(),
        );
        let latency = Histogram::new(exponential_buckets(0.001, 2.0, 16));
        registry.register(
            "delivery_latency_seconds",
            "Time from sending a notification to the callback's answer",
            latency.clone(),
        );
        let backlog = Gauge::default();
        registry.register(
            "delivery_backlog",
            "Notifications waiting to be sent or in flight",
            backlog.clone(),
        );
        Self {
            registry,
            events,
            deliveries,
            polls,
            latency,
            backlog,
        }
    }
}

impl Metrics {
    pub fn event(&self, element: &str, source: EventSource, status: EventStatus) {
        self.events
            .get_or_create(&EventLabels {
                element: element.to_string(),
                source: source.as_str(),
                status: status.as_str(),
            })
            .inc();
    }

    pub fn delivery(&self, outcome: DeliveryCount, latency: Option<std::time::Duration>) {
        let outcome = match outcome {
            DeliveryCount::Delivered => "delivered",
            DeliveryCount::Retried => "retried",
            DeliveryCount::Failed => "failed",
            DeliveryCount::Queued => "queued",
            DeliveryCount::Held => "held",
            DeliveryCount::Deferred => "deferred",
        };
        self.deliveries.get_or_create(&OutcomeLabels { outcome }).inc();
        if let Some(latency) = latency {
            self.latency.observe(latency.as_secs_f64());
        }
    }

    pub fn poll(&self, outcome: PollCount) {
        let outcome = match outcome {
            PollCount::Completed => "completed",
            PollCount::TakenOver => "taken_over",
            PollCount::Retried => "retried",
            PollCount::Paused => "paused",
        };
        self.polls.get_or_create(&OutcomeLabels { outcome }).inc();
    }

    /// The text exposition, with the backlog as measured just now.
    pub fn render(&self, backlog: u64) -> String {
        self.backlog.set(i64::try_from(backlog).unwrap_or(i64::MAX));
        let mut text = String::new();
        encode(&mut text, &self.registry).expect("writing to a String cannot fail");
        text
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_counters_histogram_and_backlog() {
        let metrics = Metrics::default();
        metrics.event("hootsuite", EventSource::Webhook, EventStatus::Received);
        metrics.event("hootsuite", EventSource::Webhook, EventStatus::Received);
        metrics.delivery(DeliveryCount::Delivered, Some(std::time::Duration::from_millis(3)));
        metrics.poll(PollCount::Paused);
        let text = metrics.render(7);
        assert!(
            text.contains(r#"tributary_events_total{element="hootsuite",source="webhook",status="received"} 2"#),
            "{text}"
        );
        assert!(
            text.contains(r#"tributary_delivery_attempts_total{outcome="delivered"} 1"#),
            "{text}"
        );
        assert!(text.contains("tributary_delivery_backlog 7"), "{text}");
        assert!(text.contains(r#"tributary_polls_total{outcome="paused"} 1"#), "{text}");
        assert!(text.contains("tributary_delivery_latency_seconds_count 1"), "{text}");
    }
}
