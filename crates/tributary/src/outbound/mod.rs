//! Outbound HTTP: the hub's two clients, each for one purpose, built here and nowhere else.
//!
//! - The **callback client** POSTs notifications to the URLs tenants configure. The whole
//!   URL is the tenant's, so the guard is on addresses: names resolve only to addresses the
//!   [`NetworkPolicy`] permits, and no proxy resolves them around it.
//! - The **provider client** ([`provider`]) calls providers with the app's credentials and
//!   instances' tokens. There the host is never the tenant's: a tenant chooses a path and a
//!   query ([`ProviderPath`]), the scheme, host and port come from the element definition or
//!   the server's configuration, and each request is checked to go to that origin before it
//!   is sent.
//!
//! Neither follows redirects (a redirect would choose a new host for them), and every
//! request is bounded by a timeout.

pub mod path;
pub mod provider;

use std::{sync::Arc, time::Duration};

pub use self::{
    path::{PathError, ProviderPath},
    provider::{OutboundError, ProviderBase, ProviderClient, ProviderEndpoint, ProviderRequest},
};
use crate::pipeline::deliver::guard::NetworkPolicy;

/// What both clients share: no redirects, the timeout, the hub's user agent.
fn client_builder(timeout: Duration) -> reqwest::ClientBuilder {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(timeout)
        .user_agent(concat!("tributary/", env!("CARGO_PKG_VERSION")))
}

/// The client for callback URLs: connections are kept and reused, a 3xx is a failed
/// delivery, names are resolved only to permitted addresses, and there is no proxy (it would
/// resolve names itself, around the guard).
pub fn callback_client(timeout: Duration, network: &Arc<NetworkPolicy>) -> anyhow::Result<reqwest::Client> {
    Ok(client_builder(timeout)
        .dns_resolver(network.resolver())
        .no_proxy()
        .pool_max_idle_per_host(64)
        .build()?)
}
