//! Which webhook URLs are acceptable. Always: absolute http(s) URLs with a host. In strict mode
//! also hootsuite.md §3.1: the host resolves only to public addresses, and the port is 80/8080
//! for http or 443/8443 for https.

use std::net::IpAddr;

use url::Url;

pub async fn check(raw: &str, strict: bool) -> Result<(), String> {
    let url = Url::parse(raw).map_err(|e| format!("webhook URL {raw:?} is not a URL: {e}"))?;
    if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none_or(str::is_empty) {
        return Err(format!("webhook URL {raw:?} must be an absolute http or https URL"));
    }
    if !strict {
        return Ok(());
    }
    let port = url.port_or_known_default().unwrap_or_default();
    let allowed: &[u16] = if url.scheme() == "http" {
        &[80, 8080]
    } else {
        &[443, 8443]
    };
    if !allowed.contains(&port) {
        return Err(format!(
            "webhook URL {raw:?} must use port {} for {}",
            allowed.iter().map(u16::to_string).collect::<Vec<_>>().join(" or "),
            url.scheme()
        ));
    }
    let host = url.host_str().unwrap_or_default();
    let addresses: Vec<IpAddr> = match host.trim_matches(['[', ']']).parse::<IpAddr>() {
        Ok(ip) => vec![ip],
        Err(_) => tokio::net::lookup_host((host, port))
            .await
            .map_err(|e| format!("webhook URL host {host:?} does not resolve: {e}"))?
            .map(|addr| addr.ip())
            .collect(),
    };
    match addresses.iter().find(|ip| !is_public(**ip)) {
        Some(ip) => Err(format!(
            "webhook URL {raw:?} resolves to {ip}, which is not a public address"
        )),
        None if addresses.is_empty() => Err(format!("webhook URL host {host:?} does not resolve")),
        None => Ok(()),
    }
}

/// Not private (RFC 1918 / RFC 4193), link-local (RFC 3927 / RFC 4291), loopback, unspecified,
/// broadcast or multicast.
fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => {
            !(v4.is_private()
                || v4.is_loopback()
                || v4.is_link_local()
                || v4.is_unspecified()
                || v4.is_broadcast()
                || v4.is_multicast())
        }
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => is_public(IpAddr::V4(v4)),
            None => {
                !(v6.is_loopback()
                    || v6.is_unspecified()
                    || v6.is_multicast()
                    || v6.is_unique_local()
                    || v6.is_unicast_link_local())
            }
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn lenient_mode_needs_only_an_http_url() {
        assert!(check("http://127.0.0.1:9/hook", false).await.is_ok());
        assert!(check("https://example.com/in", false).await.is_ok());
        assert!(check("ftp://example.com/in", false).await.is_err());
        assert!(check("/relative", false).await.is_err());
    }

    #[tokio::test]
    async fn strict_mode_applies_hootsuite_rules() {
        assert!(check("http://93.184.216.34/in", true).await.is_ok());
        assert!(check("http://93.184.216.34:8080/in", true).await.is_ok());
        assert!(check("https://93.184.216.34:8443/in", true).await.is_ok());
        assert!(check("http://93.184.216.34:443/in", true).await.is_err());
        assert!(check("https://93.184.216.34:8080/in", true).await.is_err());
        for private in [
            "http://127.0.0.1/in",
            "http://10.1.2.3/in",
            "http://192.168.0.1/in",
            "http://169.254.1.1/in",
            "http://[::1]/in",
            "http://[fd00::1]/in",
            "http://[fe80::1]/in",
            "http://[::ffff:10.0.0.1]/in",
            "http://localhost/in",
        ] {
            assert!(check(private, true).await.is_err(), "{private}");
        }
        assert!(check("http://[2606:2800:220:1::1]/in", true).await.is_ok());
    }
}
