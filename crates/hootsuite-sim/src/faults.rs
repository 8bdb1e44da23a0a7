//! Fault injection for Hootsuite's endpoints: the next N requests under a path prefix are delayed
//! and/or answered with an error status carrying the body Hootsuite would send for it. Each
//! surface (OAuth, REST, SCIM, the media store) layers [`inject`] with its own [`FaultBody`].

use std::sync::Arc;
use std::time::Duration;

use axum::extract::{OriginalUri, Request, State};
use axum::http::StatusCode;
use axum::middleware::Next;
use axum::response::Response;
use serde_json::{Value, json};

use crate::state::Sim;

/// How a surface words an injected error status.
pub trait FaultBody {
    fn fault(status: StatusCode) -> Response;
}

#[derive(Debug, Clone)]
pub struct Fault {
    pub path_prefix: String,
    /// 0 answers normally after `delay` (a slow or hanging server); otherwise this status.
    pub status: u16,
    pub remaining: u32,
    pub delay: Duration,
}

impl Fault {
    fn to_json(&self) -> Value {
        json!({
            "pathPrefix": self.path_prefix,
            "status": self.status,
            "remaining": self.remaining,
            "delayMs": u64::try_from(self.delay.as_millis()).unwrap_or(u64::MAX),
        })
    }
}

#[derive(Debug, Default)]
pub struct Faults {
    active: Vec<Fault>,
}

impl Faults {
    pub fn add(&mut self, fault: Fault) {
        self.active.push(fault);
    }

    pub fn clear(&mut self) {
        self.active.clear();
    }

    /// Uses up one request of the first fault matching `path`.
    fn take(&mut self, path: &str) -> Option<(u16, Duration)> {
        let index = self.active.iter().position(|f| path.starts_with(&f.path_prefix))?;
        let fault = &mut self.active[index];
        fault.remaining -= 1;
        let hit = (fault.status, fault.delay);
        if fault.remaining == 0 {
            self.active.remove(index);
        }
        Some(hit)
    }

    pub fn to_json(&self) -> Value {
        self.active.iter().map(Fault::to_json).collect()
    }
}

/// The middleware for a surface whose errors look like `B`'s; layer it outermost (with
/// `from_fn_with_state(sim, inject::<B>)`) so faults come before authentication, as an
/// overloaded or broken server would answer.
pub async fn inject<B: FaultBody>(State(sim): State<Arc<Sim>>, request: Request, next: Next) -> Response {
    // Surfaces are nested routers, which see their path without the prefix; faults name the
    // full path.
    let path = request
        .extensions()
        .get::<OriginalUri>()
        .map_or_else(|| request.uri().path().to_owned(), |uri| uri.path().to_owned());
    let Some((status, delay)) = sim.with_world(|w| w.faults.take(&path)) else {
        return next.run(request).await;
    };
    tokio::time::sleep(delay).await;
    match StatusCode::from_u16(status) {
        Ok(status) => B::fault(status),
        // Status 0 is no valid status: the fault is the delay alone.
        Err(_) => next.run(request).await,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn faults_are_used_up_in_order() {
        let mut faults = Faults::default();
        faults.add(Fault {
            path_prefix: "/v1/messages".into(),
            status: 503,
            remaining: 2,
            delay: Duration::ZERO,
        });
        assert_eq!(faults.take("/v1/me"), None);
        assert_eq!(faults.take("/v1/messages/1"), Some((503, Duration::ZERO)));
        assert_eq!(faults.to_json()[0]["remaining"], 1);
        assert!(faults.take("/v1/messages").is_some());
        assert_eq!(faults.take("/v1/messages"), None);
        assert_eq!(faults.to_json(), json!([]));
    }
}
