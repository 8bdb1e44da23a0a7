//! `/metrics`: the pipeline's Prometheus metrics, in the text exposition format.

use axum::{extract::State, http::header};
use utoipa_axum::{router::OpenApiRouter, routes};

use super::error::ApiError;
use crate::app::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(metrics))
}

/// Prometheus metrics: events by outcome, delivery attempts by outcome, delivery latency,
/// and the delivery backlog.
#[utoipa::path(get, path = "/metrics", tag = "operations", security(()),
    responses((status = 200, content_type = "application/openmetrics-text", body = String)))]
async fn metrics(State(state): State<AppState>) -> Result<([(header::HeaderName, &'static str); 1], String), ApiError> {
    let backlog = state.store.delivery_backlog().await?;
    Ok((
        [(
            header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        state.metrics.render(backlog),
    ))
}
