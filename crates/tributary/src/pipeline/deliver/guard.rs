//! The SSRF guard on callback URLs: notifications go to public addresses only, unless an
//! operator allows more.
//!
//! A callback URL is whatever a tenant configured, and the hub POSTs to it from inside the
//! operator's network, so by default every special-purpose address is refused (loopback,
//! private, link-local with cloud metadata at 169.254.169.254, shared, documentation,
//! reserved, multicast, and the IPv6 forms that carry an IPv4 address), for IP literals in
//! the URL and for every address a name resolves to. The resolver only ever hands the
//! client vetted addresses, so a name cannot resolve to a public address at check time and
//! a private one at connect time. Redirects are never followed (see the client in `outbound`).
//! `delivery.allow_networks` opens ranges on purpose (development, tests, an internal
//! receiver).
//!
//! What a tenant is told never names an address: a resolved one would map the operator's
//! network for them. The addresses go to the server log instead ([`Refused::log`]).

use std::{
    net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr},
    sync::Arc,
};

use ipnet::{IpNet, Ipv4Net, Ipv6Net};
use reqwest::dns::{Addrs, Name, Resolve, Resolving};

use crate::ids::InstanceId;

#[derive(Debug, Clone, Default)]
pub struct NetworkPolicy {
    allow: Vec<IpNet>,
}

/// A callback host the policy does not permit. Its text is what the tenant sees; the
/// addresses are for the operator's log.
#[derive(Debug, thiserror::Error)]
#[error(
    "the callback host is not a public address; callbacks go to public addresses unless the hub's delivery.allow_networks permits them"
)]
pub struct Refused {
    host: String,
    addresses: Vec<IpAddr>,
}

impl Refused {
    /// Tells the operator which addresses a callback host was refused for.
    pub fn log(&self, instance: InstanceId) {
        tracing::warn!(
            %instance,
            host = %self.host,
            addresses = ?self.addresses,
            "callback host refused: not a public address"
        );
    }

    /// The refusal behind a failed request, if the guard's resolver caused it.
    pub fn in_chain<'a>(error: &'a (dyn std::error::Error + 'static)) -> Option<&'a Refused> {
        let mut cause = Some(error);
        while let Some(error) = cause {
            if let Some(refused) = error.downcast_ref::<Refused>() {
                return Some(refused);
            }
            cause = error.source();
        }
        None
    }
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

    /// An IPv4-mapped address (`::ffff:a.b.c.d`) is the IPv4 address to the socket that
    /// connects to it, so it is judged, and allowed, as that address.
    pub fn permits(&self, ip: IpAddr) -> bool {
        let ip = ip.to_canonical();
        is_public(ip) || self.allow.iter().any(|net| net.contains(&ip))
    }

    /// Refuses a URL whose host is an IP literal (or `localhost`) the policy does not permit;
    /// names are checked again, address by address, when they are resolved. A URL without a
    /// host has nowhere public to go.
    pub fn check_url(&self, url: &url::Url) -> Result<(), Refused> {
        let ip = match url.host() {
            Some(url::Host::Ipv4(ip)) => IpAddr::V4(ip),
            Some(url::Host::Ipv6(ip)) => IpAddr::V6(ip),
            Some(url::Host::Domain(name)) if name.eq_ignore_ascii_case("localhost") || name.ends_with(".localhost") => {
                IpAddr::V4(Ipv4Addr::LOCALHOST)
            }
            Some(url::Host::Domain(_)) => return Ok(()),
            None => {
                return Err(Refused {
                    host: String::new(),
                    addresses: Vec::new(),
                });
            }
        };
        if self.permits(ip) {
            Ok(())
        } else {
            Err(Refused {
                host: url.host_str().unwrap_or_default().to_string(),
                addresses: vec![ip],
            })
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
                let addresses = found.iter().map(SocketAddr::ip).collect();
                return Err(Box::new(Refused { host, addresses }) as _);
            }
            let addrs: Addrs = Box::new(permitted.into_iter());
            Ok(addrs)
        })
    }
}

const fn v4(a: u8, b: u8, c: u8, d: u8, prefix: u8) -> Ipv4Net {
    Ipv4Net::new_assert(Ipv4Addr::new(a, b, c, d), prefix)
}

const fn v6(segments: [u16; 8], prefix: u8) -> Ipv6Net {
    let [a, b, c, d, e, f, g, h] = segments;
    Ipv6Net::new_assert(Ipv6Addr::new(a, b, c, d, e, f, g, h), prefix)
}

// The tables below are written out rather than taken from a crate: std's `is_global` is
// unstable, and the crates that copy it (or list RFC blocks) follow the registries' Globally
// Reachable column, which is not this guard's question (see `SPECIAL_V4`), and none judges
// the IPv6 forms that embed an IPv4 address by that address.

/// Every block of the IANA IPv4 Special-Purpose Address Registry
/// (iana.org/assignments/iana-ipv4-special-registry, 2024 edition), plus multicast; the
/// registry's nested entries (0.0.0.0/32, 192.0.0.170/32, 255.255.255.255/32, …) fall
/// inside these.
///
/// All are refused, including the few the registry marks globally reachable: those are
/// anycast services built to be answered by the nearest instance, often the operator's
/// own (PCP and TURN in 192.0.0.0/24, AMT relays, AS112 DNS sinks), and the deprecated 6to4
/// relay anycast. None is an HTTP receiver.
const SPECIAL_V4: [Ipv4Net; 18] = [
    v4(0, 0, 0, 0, 8),       // "this network"
    v4(10, 0, 0, 0, 8),      // private use
    v4(100, 64, 0, 0, 10),   // shared address space (carrier-grade NAT)
    v4(127, 0, 0, 0, 8),     // loopback
    v4(169, 254, 0, 0, 16),  // link local, cloud metadata services
    v4(172, 16, 0, 0, 12),   // private use
    v4(192, 0, 0, 0, 24),    // IETF protocol assignments, PCP and TURN anycast among them
    v4(192, 0, 2, 0, 24),    // documentation (TEST-NET-1)
    v4(192, 31, 196, 0, 24), // AS112-v4
    v4(192, 52, 193, 0, 24), // AMT
    v4(192, 88, 99, 0, 24),  // deprecated 6to4 relay anycast
    v4(192, 168, 0, 0, 16),  // private use
    v4(192, 175, 48, 0, 24), // direct delegation AS112 service
    v4(198, 18, 0, 0, 15),   // benchmarking
    v4(198, 51, 100, 0, 24), // documentation (TEST-NET-2)
    v4(203, 0, 113, 0, 24),  // documentation (TEST-NET-3)
    v4(240, 0, 0, 0, 4),     // reserved, and the limited broadcast address
    v4(224, 0, 0, 0, 4),     // multicast (its own registry): never a unicast receiver
];

/// Where public IPv6 unicast lives: everything outside it is unassigned or special (the
/// IANA IPv6 Address Space registry; loopback, unspecified, IPv4-compatible `::/96`,
/// SIIT-translated `::ffff:0:0:0/96`, discard-only `100::/64`, the dummy prefix, SRv6
/// `5f00::/16`, unique local `fc00::/7`, link local `fe80::/10`, deprecated site local
/// `fec0::/10` and multicast `ff00::/8` among them).
const GLOBAL_UNICAST: Ipv6Net = v6([0x2000, 0, 0, 0, 0, 0, 0, 0], 3);

/// The NAT64 well-known prefix (RFC 6052): `64:ff9b::a.b.c.d` is a.b.c.d reached through a
/// translator. DNS64 gives IPv4-only names these addresses on IPv6-only networks, so they
/// are judged by the IPv4 address they carry rather than refused.
const NAT64: Ipv6Net = v6([0x64, 0xff9b, 0, 0, 0, 0, 0, 0], 96);

/// The blocks of the IANA IPv6 Special-Purpose Address Registry
/// (iana.org/assignments/iana-ipv6-special-registry, 2024 edition) inside
/// [`GLOBAL_UNICAST`]; those outside it are refused with everything else there. As for
/// IPv4, the globally reachable entries of 2001::/23 (anycast services, ORCHIDv2 and drone
/// identifiers that route nowhere) and the AS112 block are refused too. Two tunnelling forms
/// that carry an IPv4 address are refused whatever it is, since where they lead depends on
/// the relays and tunnels on the way: 6to4 (`2002:a.b.c.d::/48`, sent to a.b.c.d by any
/// host with a 6to4 interface) and Teredo (`2001::/32`, a server and a XORed client
/// address); `delivery.allow_networks` can open them. NAT64's local-use prefix
/// `64:ff9b:1::/48` (the operator's own translator) and the other embedding forms lie
/// outside [`GLOBAL_UNICAST`].
const SPECIAL_V6: [Ipv6Net; 5] = [
    v6([0x2001, 0, 0, 0, 0, 0, 0, 0], 23), // IETF protocol assignments, Teredo 2001::/32 among them
    v6([0x2001, 0xdb8, 0, 0, 0, 0, 0, 0], 32), // documentation
    v6([0x2002, 0, 0, 0, 0, 0, 0, 0], 16), // 6to4
    v6([0x2620, 0x4f, 0x8000, 0, 0, 0, 0, 0], 48), // direct delegation AS112 service
    v6([0x3fff, 0, 0, 0, 0, 0, 0, 0], 20), // documentation
];

/// Whether an address is one the public internet routes to a receiver of its own (and so
/// safe to call for a tenant). IPv4-mapped addresses come here as IPv4.
fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => is_public_v4(v4),
        IpAddr::V6(v6) => is_public_v6(v6),
    }
}

fn is_public_v4(ip: Ipv4Addr) -> bool {
    !SPECIAL_V4.iter().any(|net| net.contains(&ip))
}

fn is_public_v6(ip: Ipv6Addr) -> bool {
    if NAT64.contains(&ip) {
        let [.., a, b, c, d] = ip.octets();
        return is_public_v4(Ipv4Addr::new(a, b, c, d));
    }
    GLOBAL_UNICAST.contains(&ip) && !SPECIAL_V6.iter().any(|net| net.contains(&ip))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Each refused block's first and last addresses with the public neighbours around
    /// them, every spelling of an embedded IPv4 address, and the forms reported against the
    /// previous guard (`::127.0.0.1`, `::7f00:2`, `::ffff:0:127.0.0.1`, `2002:7f00:1::`,
    /// `fec0::1`, `192.0.0.1`).
    #[test]
    fn only_public_addresses_by_default() {
        let policy = NetworkPolicy::default();
        let refused = [
            // IPv4: the registry's blocks, edge to edge.
            "0.0.0.0",
            "0.255.255.255",
            "10.0.0.0",
            "10.255.255.255",
            "100.64.0.0",
            "100.127.255.255",
            "127.0.0.1",
            "127.0.0.2",
            "127.255.255.255",
            "169.254.0.0",
            "169.254.169.254",
            "169.254.255.255",
            "172.16.0.0",
            "172.31.255.255",
            "192.0.0.0",
            "192.0.0.1",
            "192.0.0.8",
            "192.0.0.9",
            "192.0.0.10",
            "192.0.0.170",
            "192.0.0.255",
            "192.0.2.0",
            "192.0.2.255",
            "192.31.196.1",
            "192.52.193.1",
            "192.88.99.0",
            "192.88.99.255",
            "192.168.0.0",
            "192.168.255.255",
            "192.175.48.1",
            "198.18.0.0",
            "198.19.255.255",
            "198.51.100.0",
            "198.51.100.255",
            "203.0.113.0",
            "203.0.113.255",
            "224.0.0.0",
            "224.0.0.1",
            "239.255.255.255",
            "240.0.0.0",
            "255.255.255.254",
            "255.255.255.255",
            // IPv6 specials.
            "::",
            "::1",
            "100::",
            "100::1:0:0:0",
            "100:0:0:1::1",
            "1fff:ffff:ffff:ffff:ffff:ffff:ffff:ffff",
            "4000::",
            "5f00::1",
            "fc00::",
            "fd00::1",
            "fdff:ffff:ffff:ffff:ffff:ffff:ffff:ffff",
            "fe80::1",
            "febf:ffff:ffff:ffff:ffff:ffff:ffff:ffff",
            "fec0::1",
            "feff::1",
            "ff02::1",
            "ff0e::1",
            "2001::",
            "2001:1::1",
            "2001:1::2",
            "2001:2::1",
            "2001:3::1",
            "2001:4:112::1",
            "2001:20::1",
            "2001:30::1",
            "2001:1ff:ffff:ffff:ffff:ffff:ffff:ffff",
            "2001:db8::1",
            "2001:db8:ffff:ffff:ffff:ffff:ffff:ffff",
            "2620:4f:8000::1",
            "3fff::",
            "3fff:fff:ffff:ffff:ffff:ffff:ffff:ffff",
            // IPv4-mapped: judged as the IPv4 address.
            "::ffff:127.0.0.1",
            "::ffff:10.0.0.1",
            "::ffff:169.254.169.254",
            "::ffff:192.0.0.1",
            "::ffff:0.0.0.0",
            // IPv4-compatible (deprecated): refused whatever it carries.
            "::127.0.0.1",
            "::7f00:2",
            "::8.8.8.8",
            "::0.0.0.2",
            // SIIT-translated ::ffff:0:a.b.c.d: refused whatever it carries.
            "::ffff:0:127.0.0.1",
            "::ffff:0:8.8.8.8",
            // NAT64, well-known prefix: judged by the IPv4 address it carries.
            "64:ff9b::7f00:1",
            "64:ff9b::a00:1",
            "64:ff9b::a9fe:a9fe",
            "64:ff9b::c000:1",
            // NAT64, local-use prefix: the operator's own translator.
            "64:ff9b:1::808:808",
            "64:ff9b:1:ffff::1",
            // 6to4: refused whatever it carries.
            "2002:7f00:1::",
            "2002:a00:1::1",
            "2002:808:808::1",
            // Teredo: server 65.54.227.120, client 127.0.0.1 XORed (80ff:fffe); and public.
            "2001:0:4136:e378:8000:63bf:80ff:fffe",
            "2001:0:4136:e378:8000:63bf:f7f7:f7f7",
        ];
        for address in refused {
            assert!(!policy.permits(address.parse().unwrap()), "{address} is permitted");
        }
        let permitted = [
            "1.1.1.1",
            "8.8.8.8",
            "9.255.255.255",
            "11.0.0.0",
            "100.63.255.255",
            "100.128.0.0",
            "126.255.255.255",
            "128.0.0.0",
            "169.253.255.255",
            "169.255.0.0",
            "172.15.255.255",
            "172.32.0.0",
            "192.0.1.0",
            "192.0.3.0",
            "192.88.98.255",
            "192.88.100.0",
            "192.167.255.255",
            "192.169.0.0",
            "198.17.255.255",
            "198.20.0.0",
            "198.51.99.255",
            "198.51.101.0",
            "203.0.112.255",
            "203.0.114.0",
            "223.255.255.255",
            "93.184.216.34",
            "2000::",
            "2001:200::",
            "2001:4860:4860::8888",
            "2001:db7:ffff:ffff:ffff:ffff:ffff:ffff",
            "2001:db9::",
            "2003::1",
            "2606:4700::1111",
            "2620:4f:7fff:ffff:ffff:ffff:ffff:ffff",
            "2620:4f:8001::",
            "3ffe:ffff:ffff:ffff:ffff:ffff:ffff:ffff",
            "3fff:1000::",
            "3fff:ffff:ffff:ffff:ffff:ffff:ffff:ffff",
            "::ffff:8.8.8.8",
            "64:ff9b::808:808",
            "64:ff9b::5db8:d822",
        ];
        for address in permitted {
            assert!(policy.permits(address.parse().unwrap()), "{address} is refused");
        }
    }

    #[test]
    fn allowed_networks_open_ranges() {
        let policy = NetworkPolicy::new(&[
            "127.0.0.0/8".into(),
            "10.9.0.0/16".into(),
            "2002::/16".into(),
            "fec0::/10".into(),
        ])
        .unwrap();
        assert!(policy.permits("127.0.0.1".parse().unwrap()));
        assert!(policy.permits("10.9.1.1".parse().unwrap()));
        assert!(!policy.permits("10.8.1.1".parse().unwrap()));
        assert!(
            policy.permits("::ffff:127.0.0.1".parse().unwrap()),
            "a mapped address is its IPv4 address"
        );
        assert!(policy.permits("2002:808:808::1".parse().unwrap()));
        assert!(policy.permits("fec0::1".parse().unwrap()));
        assert!(
            !policy.permits("::127.0.0.1".parse().unwrap()),
            "a compatible address is not its IPv4 address"
        );
        assert!(!policy.permits("64:ff9b::7f00:1".parse().unwrap()));
        assert!(NetworkPolicy::new(&["not-a-net".into()]).is_err());
    }

    #[test]
    fn literal_hosts_are_checked_in_urls() {
        let policy = NetworkPolicy::default();
        let check = |url: &str| policy.check_url(&url.parse().unwrap());
        for refused in [
            "http://127.0.0.1:8080/x",
            "http://[::1]/x",
            "http://localhost/x",
            "http://169.254.169.254/latest/meta-data",
            // The URL parser normalizes odd IPv4 spellings.
            "http://0x7f.1/x",
            "http://2130706433/x",
            "http://[::127.0.0.1]/x",
            "http://[::7f00:2]/x",
            "http://[::ffff:0:127.0.0.1]/x",
            "http://[::ffff:7f00:1]/x",
            "http://[2002:7f00:1::]/x",
            "http://[fec0::1]/x",
            "http://192.0.0.1/x",
        ] {
            assert!(check(refused).is_err(), "{refused}");
        }
        assert!(
            check("https://example.com/hook").is_ok(),
            "names are checked when resolved"
        );
        assert!(check("https://93.184.216.34/hook").is_ok());
    }

    /// The refusal names no address; the log gets them.
    #[test]
    fn refusals_name_no_address() {
        let refused = NetworkPolicy::default()
            .check_url(&"http://[::ffff:0:127.0.0.1]:8080/x".parse().unwrap())
            .unwrap_err();
        let text = refused.to_string();
        assert!(text.starts_with("the callback host is not a public address"), "{text}");
        assert!(!text.contains("127.") && !text.contains("::"), "{text}");
        assert_eq!(refused.addresses, ["::ffff:0:7f00:1".parse::<IpAddr>().unwrap()]);
    }

    #[tokio::test]
    async fn names_resolving_to_private_addresses_are_refused() {
        let policy = Arc::new(NetworkPolicy::default());
        let Err(refused) = policy.resolver().resolve("localhost".parse().unwrap()).await else {
            panic!("localhost was resolved");
        };
        let refused = Refused::in_chain(refused.as_ref()).expect("the guard's refusal");
        assert!(!refused.to_string().contains("127.0.0.1"), "{refused}");
        assert!(refused.addresses.iter().all(IpAddr::is_loopback) && !refused.addresses.is_empty());
        let open = Arc::new(NetworkPolicy::new(&["127.0.0.0/8".into(), "::1/128".into()]).unwrap());
        let addrs: Vec<SocketAddr> = open
            .resolver()
            .resolve("localhost".parse().unwrap())
            .await
            .unwrap()
            .collect();
        assert!(!addrs.is_empty() && addrs.iter().all(|a| a.ip().is_loopback()));
    }

    /// The dispatcher finds the refusal, for the log, behind the client's error.
    #[tokio::test]
    async fn a_refusal_is_found_behind_the_clients_error() {
        let client = reqwest::Client::builder()
            .dns_resolver(Arc::new(NetworkPolicy::default()).resolver())
            .no_proxy()
            .build()
            .unwrap();
        let error = client.get("http://localhost:9/").send().await.unwrap_err();
        let refused = Refused::in_chain(&error).expect("the refusal in the error's chain");
        assert_eq!(refused.host, "localhost");
    }
}
