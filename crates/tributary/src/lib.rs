//! Tributary: a self-hosted integration hub.
//!
//! Module map:
//! - [`cli`], [`app`], [`config`], [`telemetry`]: the binary, its wiring and settings;
//!   [`server`]: the HTTP server and its bounds on slow and idle clients.
//! - [`api`]: the HTTP API, one module per resource.
//! - [`instances`]: element instances (create through OAuth, update, re-authenticate).
//! - [`oauth`]: OAuth 2.0 with providers and the token lifecycle.
//! - [`outbound`]: the hub's outbound HTTP clients (callbacks, providers) and their guards.
//! - [`pipeline`]: provider events: sources → normalize → ingest (outbox) → deliver.
//! - [`metrics`]: Prometheus metrics of the pipeline.
//! - [`elements`]: provider definitions (data, one TOML file per element).
//! - [`hubs`]: the hub API (provider calls through an instance's token); so far its CEQL
//!   `where` clauses and their vendor query parameters.
//! - [`tenants`]: organizations and users.
//! - [`store`]: the storage trait and its SQLite and PostgreSQL implementations.
//! - [`crypto`], [`ids`]: secrets at rest and credentials; typed identifiers.
//! - [`text`]: helpers for messages to people (the nearest known name to a typo).

pub mod api;
pub mod app;
pub mod cli;
pub mod config;
pub mod crypto;
pub mod elements;
pub mod hubs;
pub mod ids;
pub mod instances;
pub mod metrics;
pub mod oauth;
pub mod outbound;
pub mod pipeline;
pub mod server;
pub mod store;
pub mod telemetry;
pub mod tenants;
pub mod text;
