//! Integration tests: a spawned simulator driven over real HTTP on loopback, with an axum
//! receiver standing in for webhook consumers.

#[path = "sim/common.rs"]
mod common;
#[path = "sim/control.rs"]
mod control;
#[path = "sim/media.rs"]
mod media;
#[path = "sim/oauth.rs"]
mod oauth;
#[path = "sim/organizations.rs"]
mod organizations;
#[path = "sim/rest.rs"]
mod rest;
#[path = "sim/scim.rs"]
mod scim;
#[path = "sim/webhooks.rs"]
mod webhooks;
