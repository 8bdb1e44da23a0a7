//! The provider client: every request the hub makes to a provider (the OAuth token endpoint,
//! the identity call, the poller's listings and confirmations, and any later call to a
//! provider's API) is made through [`ProviderClient::request`], which takes the provider's
//! configured [`ProviderBase`] and a [`ProviderPath`], never a URL.
//!
//! The base comes from the element definition or the server's configuration; the path is
//! all a tenant may choose. The URL is built by setting the path and the query on the base,
//! not by resolving text against it (`Url::join` would follow `//host` or `/\host` to another
//! host), and before anything is sent the built request is checked: its scheme, host and port
//! must be the base's, and it may not set `Host`. A request that fails the check is logged
//! and refused, never sent; with the provider's token in it, it would hand that token to
//! whoever the URL named.

use std::time::Duration;

use reqwest::{
    Method,
    header::{HOST, HeaderName, HeaderValue},
};
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};
use url::{Origin, Position, Url};

use super::path::ProviderPath;

/// Where one provider's requests go: a scheme, host and port (the provider's origin), and a
/// path prefix (a proxy's, or none) that every [`ProviderPath`] is placed under.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(try_from = "Url", into = "Url")]
pub struct ProviderBase {
    url: Url,
}

impl ProviderBase {
    pub fn new(url: Url) -> Result<Self, String> {
        if !matches!(url.scheme(), "http" | "https") || url.host().is_none() {
            return Err(format!("{url} must be an http or https URL with a host"));
        }
        if url.query().is_some() || url.fragment().is_some() || !url.username().is_empty() || url.password().is_some() {
            return Err(format!(
                "{url} must be a scheme, host, port and path only (no query, fragment or credentials)"
            ));
        }
        Ok(Self { url })
    }

    pub fn as_str(&self) -> &str {
        self.url.as_str()
    }

    /// The URL of `path` on this base: the base's scheme, host, port and path prefix, then
    /// the path and its query.
    pub fn url_for(&self, path: &ProviderPath) -> Url {
        let mut url = self.url.clone();
        let prefix = self.url.path().trim_end_matches('/');
        url.set_path(&format!("{prefix}{}", path.path()));
        url.set_query(path.query());
        url
    }

    fn origin(&self) -> Origin {
        self.url.origin()
    }
}

impl TryFrom<Url> for ProviderBase {
    type Error = String;

    fn try_from(url: Url) -> Result<Self, String> {
        Self::new(url)
    }
}

impl From<ProviderBase> for Url {
    fn from(base: ProviderBase) -> Url {
        base.url
    }
}

/// One configured endpoint (a token URL): the provider's origin as its base, its path and
/// query as a [`ProviderPath`], held to the same rules as a tenant's.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(try_from = "Url", into = "Url")]
pub struct ProviderEndpoint {
    url: Url,
    base: ProviderBase,
    path: ProviderPath,
}

impl ProviderEndpoint {
    pub fn as_str(&self) -> &str {
        self.url.as_str()
    }

    pub fn base(&self) -> &ProviderBase {
        &self.base
    }

    pub fn path(&self) -> &ProviderPath {
        &self.path
    }
}

impl TryFrom<Url> for ProviderEndpoint {
    type Error = String;

    fn try_from(url: Url) -> Result<Self, String> {
        let path = ProviderPath::parse(&url[Position::BeforePath..Position::AfterQuery])
            .map_err(|e| format!("{url}: the path is not clean: {e}"))?;
        let mut origin = url.clone();
        origin.set_path("/");
        origin.set_query(None);
        Ok(Self {
            base: ProviderBase::new(origin)?,
            path,
            url,
        })
    }
}

impl From<ProviderEndpoint> for Url {
    fn from(endpoint: ProviderEndpoint) -> Url {
        endpoint.url
    }
}

/// Why a provider request got no answer.
#[derive(Debug, thiserror::Error)]
pub enum OutboundError {
    /// Never sent: it would not have gone to the provider's origin. The reason names no
    /// host, so it can be shown to a tenant.
    #[error("the request was refused before sending: {0}")]
    Refused(&'static str),
    #[error(transparent)]
    Transport(#[from] reqwest::Error),
}

/// The client for providers' APIs. Redirects are never followed: a provider endpoint that
/// redirects is misconfigured or hostile, and following it would replay the client
/// credentials or the token elsewhere.
#[derive(Clone)]
pub struct ProviderClient {
    http: reqwest::Client,
}

impl ProviderClient {
    pub fn new(timeout: Duration) -> Self {
        let http = super::client_builder(timeout)
            .build()
            .expect("the provider HTTP client configuration is valid");
        Self { http }
    }

    /// A `method` request for `path` on the provider's API at `base`.
    pub fn request(&self, method: Method, base: &ProviderBase, path: &ProviderPath) -> ProviderRequest {
        ProviderRequest {
            http: self.http.clone(),
            origin: base.origin(),
            builder: self.http.request(method, base.url_for(path)),
        }
    }
}

/// A provider request being built; [`ProviderRequest::send`] checks it before sending.
pub struct ProviderRequest {
    http: reqwest::Client,
    /// The provider's origin, from its configured base.
    origin: Origin,
    builder: reqwest::RequestBuilder,
}

impl ProviderRequest {
    pub fn bearer_auth(mut self, token: &SecretString) -> Self {
        self.builder = self.builder.bearer_auth(token.expose_secret());
        self
    }

    pub fn basic_auth(mut self, user: &SecretString, password: &SecretString) -> Self {
        self.builder = self
            .builder
            .basic_auth(user.expose_secret(), Some(password.expose_secret()));
        self
    }

    pub fn header(mut self, name: HeaderName, value: HeaderValue) -> Self {
        self.builder = self.builder.header(name, value);
        self
    }

    pub fn form<T: Serialize + ?Sized>(mut self, form: &T) -> Self {
        self.builder = self.builder.form(form);
        self
    }

    /// Sends the request if it goes to the provider's origin; refuses it otherwise.
    pub async fn send(self) -> Result<reqwest::Response, OutboundError> {
        let request = self.builder.build()?;
        if let Err(reason) = check(&self.origin, &request) {
            // The target is logged for the operator; the token is in a header and is not.
            tracing::warn!(
                method = %request.method(),
                target = %request.url().origin().ascii_serialization(),
                path = request.url().path(),
                reason,
                "refused a provider request"
            );
            return Err(OutboundError::Refused(reason));
        }
        Ok(self.http.execute(request).await?)
    }
}

/// The last word before a request leaves: scheme, host and port are the provider's, and no
/// `Host` header names another virtual host on them.
fn check(origin: &Origin, request: &reqwest::Request) -> Result<(), &'static str> {
    if request.url().origin() != *origin {
        return Err("its URL is not on the provider's origin");
    }
    if request.headers().contains_key(HOST) {
        return Err("it sets its own Host header");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn base(text: &str) -> ProviderBase {
        ProviderBase::new(text.parse().unwrap()).unwrap()
    }

    fn path(text: &str) -> ProviderPath {
        ProviderPath::parse(text).unwrap()
    }

    #[test]
    fn paths_go_under_the_base_and_its_prefix() {
        for (base_url, path_text, expected) in [
            (
                "https://platform.hootsuite.com",
                "/v1/me",
                "https://platform.hootsuite.com/v1/me",
            ),
            (
                "http://127.0.0.1:9090/",
                "/v1/messages?limit=1",
                "http://127.0.0.1:9090/v1/messages?limit=1",
            ),
            ("https://proxy.local/hs/", "/v1/me", "https://proxy.local/hs/v1/me"),
            (
                "https://proxy.local/hs",
                "/v1/x?a=b c",
                "https://proxy.local/hs/v1/x?a=b%20c",
            ),
        ] {
            let url = base(base_url).url_for(&path(path_text));
            assert_eq!(url.as_str(), expected);
            assert_eq!(url.origin(), base(base_url).origin());
        }
    }

    #[test]
    fn bases_are_http_origins_with_a_path() {
        for bad in [
            "ftp://x.test/",
            "https://x.test/?a=1",
            "https://x.test/#f",
            "https://user:pw@x.test/",
            "data:text/plain,x",
        ] {
            assert!(ProviderBase::new(bad.parse().unwrap()).is_err(), "{bad}");
        }
    }

    #[test]
    fn an_endpoint_splits_into_origin_and_path() {
        let endpoint =
            ProviderEndpoint::try_from("http://127.0.0.1:9090/hs/oauth2/token?v=2".parse::<Url>().unwrap()).unwrap();
        assert_eq!(endpoint.base().as_str(), "http://127.0.0.1:9090/");
        assert_eq!(endpoint.path().as_str(), "/hs/oauth2/token?v=2");
        assert_eq!(endpoint.base().url_for(endpoint.path()).as_str(), endpoint.as_str());
    }

    #[test]
    fn another_scheme_host_or_port_is_refused() {
        let origin = base("https://platform.hootsuite.com").origin();
        let http = reqwest::Client::new();
        let request = |url: &str| http.get(url).build().unwrap();
        assert_eq!(check(&origin, &request("https://platform.hootsuite.com/v1/me")), Ok(()));
        assert_eq!(
            check(&origin, &request("https://platform.hootsuite.com:443/v1/me")),
            Ok(())
        );
        for other in [
            "http://platform.hootsuite.com/v1/me",
            "https://platform.hootsuite.com:8443/v1/me",
            "https://127.0.0.2:3001/leak",
            "https://platform.hootsuite.com.evil.test/v1/me",
            "https://evil.test/platform.hootsuite.com",
        ] {
            assert_eq!(
                check(&origin, &request(other)),
                Err("its URL is not on the provider's origin"),
                "{other}"
            );
        }
        let with_host = http
            .get("https://platform.hootsuite.com/v1/me")
            .header(HOST, "internal.local")
            .build()
            .unwrap();
        assert_eq!(check(&origin, &with_host), Err("it sets its own Host header"));
    }

    /// A request whose URL left the provider's origin is refused without a connection.
    #[tokio::test]
    async fn a_refused_request_is_never_sent() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let elsewhere = format!("http://{}/leak", listener.local_addr().unwrap());
        let client = ProviderClient::new(Duration::from_secs(2));
        let token = SecretString::from("provider-token");
        let provider = base("https://platform.hootsuite.com");
        let mut request = client.request(Method::GET, &provider, &path("/v1/me"));
        request.builder = client.http.get(&elsewhere);
        let error = request.bearer_auth(&token).send().await.unwrap_err();
        assert!(matches!(error, OutboundError::Refused(_)), "{error}");
        assert!(!error.to_string().contains("127.0.0.1"), "{error}");
        let accepted = tokio::time::timeout(Duration::from_millis(200), listener.accept()).await;
        assert!(accepted.is_err(), "nothing connected to {elsewhere}");
    }
}
