//! The SSRF guard on callback URLs: notifications go to public addresses only, unless an
//! operator allows more.
//!
//! A callback URL is whatever a tenant configured, and the hub POSTs to it from inside the
//! operator's network, so by default loopback, private, link-local (cloud metadata at
//! 169.254.169.254 among them), shared and unique-local ranges are refused, for IP literals
//! in the URL and for every address a name resolves to. The resolver only ever hands the
//! client vetted addresses, so a name cannot resolve to a public address at check time and a
//! private one at connect time. Redirects are never followed (see the client in `outbound`).
//! `delivery.allow_networks` opens ranges on purpose (development, tests, an internal
//! receiver).

use std::{
    net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr},
    sync::Arc,
};

use ipnet::IpNet;
use reqwest::dns::{Addrs, Name, Resolve, Resolving};

#[derive(Debug, Clone, Default)]
pub struct NetworkPolicy {
    allow: Vec<IpNet>,
}

impl NetworkPolicy {
    /// `allow`: CIDR ranges (`127.0.0.0/8`, `10.1.2.3/32`, `::1/128`) reachable despite being
    /// non-public.
    pub fn new(allow: &[String]) -> Result<Self, String> {
        let allow = allow
            .iter()
            .map(|cidr| {
                cidr.parse::<IpNet>()
                    .map_err(|_| format!("{cidr:?} is not a CIDR range such as 10.0.0.0/8"))
            })
            .collect::<Result<_, _>>()?;
        Ok(Self { allow })
    }

    pub fn permits(&self, ip: IpAddr) -> bool {
        is_public(ip) || self.allow.iter().any(|net| net.contains(&ip))
    }

    /// Refuses a URL whose host is an IP literal (or `localhost`) the policy does not permit;
    /// names are checked again, address by address, when they are resolved.
    pub fn check_url(&self, url: &url::Url) -> Result<(), String> {
        let ip = match url.host() {
            Some(url::Host::Ipv4(ip)) => IpAddr::V4(ip),
            Some(url::Host::Ipv6(ip)) => IpAddr::V6(ip),
            Some(url::Host::Domain(name)) if name.eq_ignore_ascii_case("localhost") || name.ends_with(".localhost") => {
                IpAddr::V4(Ipv4Addr::LOCALHOST)
            }
            Some(url::Host::Domain(_)) => return Ok(()),
            None => return Err("the URL has no host".into()),
        };
        if self.permits(ip) {
            Ok(())
        } else {
            Err(format!(
                "{ip} is not a public address; callbacks go to public addresses unless delivery.allow_networks permits it"
            ))
        }
    }

    pub fn resolver(self: &Arc<Self>) -> GuardedResolver {
        GuardedResolver { policy: self.clone() }
    }
}

/// Resolves names and keeps only the addresses the policy permits.
pub struct GuardedResolver {
    policy: Arc<NetworkPolicy>,
}

impl Resolve for GuardedResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let policy = self.policy.clone();
        Box::pin(async move {
            let host = name.as_str().to_string();
            let found: Vec<SocketAddr> = tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            let permitted: Vec<SocketAddr> = found.iter().copied().filter(|a| policy.permits(a.ip())).collect();
            if permitted.is_empty() {
                let refused: Vec<String> = found.iter().map(|a| a.ip().to_string()).collect();
                return Err(format!(
                    "{host} resolves only to non-public addresses ({}); delivery.allow_networks can permit them",
                    refused.join(", ")
                )
                .into());
            }
            let addrs: Addrs = Box::new(permitted.into_iter());
            Ok(addrs)
        })
    }
}

/// Whether an address is reachable on the public internet (and so safe to call for a tenant).
fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => is_public_v4(v4),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => is_public_v4(v4),
            None => is_public_v6(v6),
        },
    }
}

fn is_public_v4(ip: Ipv4Addr) -> bool {
    let [a, b, ..] = ip.octets();
    !(ip.is_unspecified()
        || ip.is_loopback()
        || ip.is_private()
        || ip.is_link_local()
        || ip.is_broadcast()
        || ip.is_multicast()
        || ip.is_documentation()
        || a == 0
        // Shared address space (carrier-grade NAT), 100.64.0.0/10.
        || (a == 100 && (64..128).contains(&b))
        // Benchmarking, 198.18.0.0/15, and the reserved 240.0.0.0/4.
        || (a == 198 && (b == 18 || b == 19))
        || a >= 240)
}

fn is_public_v6(ip: Ipv6Addr) -> bool {
    let first = ip.segments()[0];
    !(ip.is_unspecified()
        || ip.is_loopback()
        || ip.is_multicast()
        // Unique local fc00::/7, link-local fe80::/10, documentation 2001:db8::/32.
        || (first & 0xfe00) == 0xfc00
        || (first & 0xffc0) == 0xfe80
        || (first == 0x2001 && ip.segments()[1] == 0x0db8)
        // NAT64 64:ff9b::/96 carries an IPv4 address that could be private.
        || (first == 0x0064 && ip.segments()[1] == 0xff9b))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_public_addresses_by_default() {
        let policy = NetworkPolicy::default();
        for refused in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "100.64.0.1",
            "0.0.0.0",
            "255.255.255.255",
            "224.0.0.1",
            "::1",
            "::",
            "fd00::1",
            "fe80::1",
            "::ffff:127.0.0.1",
            "::ffff:10.0.0.1",
            "64:ff9b::a00:1",
        ] {
            assert!(!policy.permits(refused.parse().unwrap()), "{refused}");
        }
        for allowed in ["93.184.216.34", "8.8.8.8", "2606:4700::1111", "::ffff:8.8.8.8"] {
            assert!(policy.permits(allowed.parse().unwrap()), "{allowed}");
        }
    }

    #[test]
    fn allowed_networks_open_ranges() {
        let policy = NetworkPolicy::new(&["127.0.0.0/8".into(), "10.9.0.0/16".into()]).unwrap();
        assert!(policy.permits("127.0.0.1".parse().unwrap()));
        assert!(policy.permits("10.9.1.1".parse().unwrap()));
        assert!(!policy.permits("10.8.1.1".parse().unwrap()));
        assert!(NetworkPolicy::new(&["not-a-net".into()]).is_err());
    }

    #[test]
    fn literal_hosts_are_checked_in_urls() {
        let policy = NetworkPolicy::default();
        let check = |url: &str| policy.check_url(&url.parse().unwrap());
        assert!(check("http://127.0.0.1:8080/x").is_err());
        assert!(check("http://[::1]/x").is_err());
        assert!(check("http://localhost/x").is_err());
        assert!(check("http://169.254.169.254/latest/meta-data").is_err());
        assert!(
            check("http://0x7f.1/x").is_err(),
            "the URL parser normalizes odd IPv4 spellings"
        );
        assert!(
            check("https://example.com/hook").is_ok(),
            "names are checked when resolved"
        );
        assert!(check("https://93.184.216.34/hook").is_ok());
    }

    #[tokio::test]
    async fn names_resolving_to_private_addresses_are_refused() {
        let policy = Arc::new(NetworkPolicy::default());
        let refused = policy.resolver().resolve("localhost".parse().unwrap()).await;
        assert!(refused.is_err());
        let open = Arc::new(NetworkPolicy::new(&["127.0.0.0/8".into(), "::1/128".into()]).unwrap());
        let addrs: Vec<SocketAddr> = open
            .resolver()
            .resolve("localhost".parse().unwrap())
            .await
            .unwrap()
            .collect();
        assert!(!addrs.is_empty() && addrs.iter().all(|a| a.ip().is_loopback()));
    }
}
