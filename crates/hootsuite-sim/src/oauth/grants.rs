//! The authorization server's memory: authorization codes, token chains (every access/refresh
//! token descended from one grant), and the log of token requests that tests inspect.
//!
//! A chain starts at a code exchange or a `member_app`/`organization_app` grant; each refresh
//! replaces both tokens of the chain. Revoking a chain removes whatever tokens it currently has.

use std::collections::HashMap;
use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, TimeDelta, Utc};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use super::{ErrorKind, OAuthError};
use crate::clock::format_millis;
use crate::directory::Subject;
use crate::ids::{fingerprint, opaque_token};
use crate::state::RecentLog;

/// Who is calling the REST API with a valid access token.
#[derive(Debug, Clone)]
pub struct Caller {
    pub subject: Subject,
}

/// What `/oauth2/auth` approved, waiting to be exchanged at `/oauth2/token`.
#[derive(Debug, Clone)]
pub struct CodeGrant {
    pub client_id: String,
    pub member_id: String,
    pub redirect_uri: String,
    pub scopes: Vec<String>,
    /// PKCE S256 challenge, when the authorization request carried one.
    pub code_challenge: Option<String>,
}

struct Code {
    grant: CodeGrant,
    expires_at: DateTime<Utc>,
    /// The chain the first successful exchange started; a second exchange revokes it.
    exchanged: Option<usize>,
}

struct Chain {
    client_id: String,
    subject: Subject,
    scopes: Vec<String>,
    access: String,
    refresh: Option<String>,
    revoked: bool,
}

struct AccessToken {
    chain: usize,
    expires_at: DateTime<Utc>,
}

/// A token response body (hootsuite.md §1.4).
#[derive(Debug, Clone)]
pub struct Issued {
    pub access_token: String,
    pub expires_in: u64,
    pub refresh_token: Option<String>,
    pub scope: String,
}

impl Issued {
    pub fn to_json(&self) -> Value {
        let mut body = json!({
            "access_token": self.access_token,
            "expires_in": self.expires_in,
            "scope": self.scope,
            "token_type": "bearer",
        });
        if let Some(refresh) = &self.refresh_token {
            body["refresh_token"] = json!(refresh);
        }
        body
    }
}

/// One line of `GET /_sim/token-requests`.
#[derive(Debug, Clone)]
pub struct TokenRequest {
    pub grant_type: Option<String>,
    pub client_id: Option<String>,
    pub outcome: Result<(), ErrorKind>,
    pub at: DateTime<Utc>,
    pub refresh_token: Option<String>,
}

impl TokenRequest {
    fn to_json(&self) -> Value {
        let mut line = json!({
            "grantType": self.grant_type,
            "clientId": self.client_id,
            "outcome": match self.outcome {
                Ok(()) => "ok",
                Err(kind) => kind.as_str(),
            },
            "at": format_millis(self.at),
        });
        if let Some(token) = &self.refresh_token {
            line["refreshTokenFingerprint"] = json!(fingerprint(token));
        }
        line
    }
}

#[derive(Default)]
pub struct Grants {
    codes: HashMap<String, Code>,
    chains: Vec<Chain>,
    access: HashMap<String, AccessToken>,
    refresh: HashMap<String, usize>,
    requests: RecentLog<TokenRequest>,
}

fn ttl_delta(ttl: Duration) -> TimeDelta {
    TimeDelta::from_std(ttl).unwrap_or(TimeDelta::MAX)
}

impl Grants {
    pub fn issue_code(&mut self, grant: CodeGrant, now: DateTime<Utc>, ttl: Duration) -> String {
        let code = opaque_token();
        self.codes.insert(
            code.clone(),
            Code {
                grant,
                expires_at: now + ttl_delta(ttl),
                exchanged: None,
            },
        );
        code
    }

    /// `grant_type=authorization_code`. A code works once; presenting it again revokes every
    /// token its first exchange produced (Swagger, `/oauth2/token`).
    pub fn exchange_code(
        &mut self,
        client_id: &str,
        code: &str,
        redirect_uri: &str,
        code_verifier: Option<&str>,
        now: DateTime<Utc>,
        ttl: Duration,
    ) -> Result<Issued, OAuthError> {
        let invalid = |hint: &str| OAuthError::new(ErrorKind::InvalidGrant, hint);
        let Some(stored) = self.codes.get(code) else {
            return Err(invalid("The authorization code is unknown."));
        };
        if let Some(chain) = stored.exchanged {
            self.revoke_chain(chain);
            return Err(invalid(
                "The authorization code has already been used; the tokens it granted have been revoked.",
            ));
        }
        if stored.expires_at <= now {
            return Err(invalid("The authorization code has expired."));
        }
        let grant = stored.grant.clone();
        if grant.client_id != client_id {
            return Err(invalid("The authorization code was issued to another client."));
        }
        if grant.redirect_uri != redirect_uri {
            return Err(invalid(
                "The \"redirect_uri\" from this request does not match the one from the authorize request.",
            ));
        }
        if let Some(challenge) = &grant.code_challenge {
            let verifier = code_verifier
                .ok_or_else(|| invalid("The PKCE code verifier is missing but a code challenge was sent."))?;
            if URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes())) != *challenge {
                return Err(invalid("The PKCE code challenge did not match the code verifier."));
            }
        }
        let issued = self.start_chain(client_id, Subject::Member(grant.member_id), grant.scopes, now, ttl);
        let chain = self.chains.len() - 1;
        if let Some(stored) = self.codes.get_mut(code) {
            stored.exchanged = Some(chain);
        }
        Ok(issued)
    }

    /// `grant_type=refresh_token`. Refresh tokens never expire but are single-use: the chain
    /// gets a new access token and a new refresh token, and the old pair stops working.
    pub fn refresh(
        &mut self,
        client_id: &str,
        refresh_token: &str,
        now: DateTime<Utc>,
        ttl: Duration,
    ) -> Result<Issued, OAuthError> {
        let chain_id = self
            .refresh
            .get(refresh_token)
            .copied()
            .filter(|&c| self.chains[c].client_id == client_id)
            .ok_or_else(|| {
                OAuthError::new(
                    ErrorKind::InvalidGrant,
                    "The refresh token is unknown, was already used, or was revoked.",
                )
            })?;
        self.refresh.remove(refresh_token);
        let old_access = std::mem::take(&mut self.chains[chain_id].access);
        self.access.remove(&old_access);
        let access_token = opaque_token();
        let refresh = opaque_token();
        self.access.insert(
            access_token.clone(),
            AccessToken {
                chain: chain_id,
                expires_at: now + ttl_delta(ttl),
            },
        );
        self.refresh.insert(refresh.clone(), chain_id);
        let chain = &mut self.chains[chain_id];
        chain.access = access_token.clone();
        chain.refresh = Some(refresh.clone());
        Ok(Issued {
            access_token,
            expires_in: ttl.as_secs(),
            refresh_token: Some(refresh),
            scope: chain.scopes.join(" "),
        })
    }

    /// Starts a new chain; a refresh token comes only with the `offline` scope.
    pub fn start_chain(
        &mut self,
        client_id: &str,
        subject: Subject,
        scopes: Vec<String>,
        now: DateTime<Utc>,
        ttl: Duration,
    ) -> Issued {
        let chain = self.chains.len();
        let access_token = opaque_token();
        let refresh_token = scopes.iter().any(|s| s == "offline").then(opaque_token);
        self.access.insert(
            access_token.clone(),
            AccessToken {
                chain,
                expires_at: now + ttl_delta(ttl),
            },
        );
        if let Some(refresh) = &refresh_token {
            self.refresh.insert(refresh.clone(), chain);
        }
        let scope = scopes.join(" ");
        self.chains.push(Chain {
            client_id: client_id.to_owned(),
            subject,
            scopes,
            access: access_token.clone(),
            refresh: refresh_token.clone(),
            revoked: false,
        });
        Issued {
            access_token,
            expires_in: ttl.as_secs(),
            refresh_token,
            scope,
        }
    }

    /// The caller behind a bearer token, if it is known, unexpired and not revoked.
    pub fn authenticate(&self, access_token: &str, now: DateTime<Utc>) -> Option<Caller> {
        let token = self.access.get(access_token)?;
        if token.expires_at <= now {
            return None;
        }
        Some(Caller {
            subject: self.chains[token.chain].subject.clone(),
        })
    }

    /// Revokes the client's chains whose subject matches; returns how many were live.
    pub fn revoke(&mut self, client_id: &str, subject: impl Fn(&Subject) -> bool) -> usize {
        let matching: Vec<usize> = (0..self.chains.len())
            .filter(|&c| {
                let chain = &self.chains[c];
                !chain.revoked && chain.client_id == client_id && subject(&chain.subject)
            })
            .collect();
        for &chain in &matching {
            self.revoke_chain(chain);
        }
        matching.len()
    }

    fn revoke_chain(&mut self, chain_id: usize) {
        let chain = &mut self.chains[chain_id];
        chain.revoked = true;
        self.access.remove(&chain.access);
        if let Some(refresh) = chain.refresh.take() {
            self.refresh.remove(&refresh);
        }
    }

    pub fn record(&mut self, request: TokenRequest) {
        self.requests.push(request);
    }

    pub fn requests_json(&self) -> Value {
        self.requests.iter().map(TokenRequest::to_json).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TTL: Duration = Duration::from_secs(3599);

    fn now() -> DateTime<Utc> {
        DateTime::parse_from_rfc3339("2030-01-01T00:00:00Z").unwrap().to_utc()
    }

    fn code_grant(scopes: &[&str], challenge: Option<&str>) -> CodeGrant {
        CodeGrant {
            client_id: "app".into(),
            member_id: "m1".into(),
            redirect_uri: "http://localhost/cb".into(),
            scopes: scopes.iter().map(|s| s.to_string()).collect(),
            code_challenge: challenge.map(Into::into),
        }
    }

    #[test]
    fn code_exchange_then_reuse_revokes_the_chain() {
        let mut g = Grants::default();
        let code = g.issue_code(code_grant(&["offline"], None), now(), Duration::from_secs(600));
        let first = g
            .exchange_code("app", &code, "http://localhost/cb", None, now(), TTL)
            .unwrap();
        assert_eq!(first.expires_in, 3599);
        assert_eq!(first.scope, "offline");
        let refresh = first.refresh_token.clone().unwrap();
        assert!(g.authenticate(&first.access_token, now()).is_some());

        let again = g
            .exchange_code("app", &code, "http://localhost/cb", None, now(), TTL)
            .unwrap_err();
        assert_eq!(again.kind, ErrorKind::InvalidGrant);
        assert!(g.authenticate(&first.access_token, now()).is_none());
        assert!(g.refresh("app", &refresh, now(), TTL).is_err());
    }

    #[test]
    fn code_checks_expiry_client_redirect_and_pkce() {
        let mut g = Grants::default();
        let ten_min = Duration::from_secs(600);
        let code = g.issue_code(code_grant(&[], None), now(), ten_min);
        let late = now() + TimeDelta::minutes(10);
        assert!(
            g.exchange_code("app", &code, "http://localhost/cb", None, late, TTL)
                .is_err()
        );
        assert!(
            g.exchange_code("other", &code, "http://localhost/cb", None, now(), TTL)
                .is_err()
        );
        assert!(
            g.exchange_code("app", &code, "http://localhost/x", None, now(), TTL)
                .is_err()
        );
        let no_offline = g
            .exchange_code("app", &code, "http://localhost/cb", None, now(), TTL)
            .unwrap();
        assert_eq!(no_offline.refresh_token, None);

        // RFC 7636 appendix B test vector.
        let verifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
        let challenge = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";
        let code = g.issue_code(code_grant(&[], Some(challenge)), now(), ten_min);
        assert!(
            g.exchange_code("app", &code, "http://localhost/cb", None, now(), TTL)
                .is_err()
        );
        assert!(
            g.exchange_code("app", &code, "http://localhost/cb", Some("wrong"), now(), TTL)
                .is_err()
        );
        assert!(
            g.exchange_code("app", &code, "http://localhost/cb", Some(verifier), now(), TTL)
                .is_ok()
        );
    }

    #[test]
    fn refresh_rotates_both_tokens() {
        let mut g = Grants::default();
        let first = g.start_chain("app", Subject::Member("m1".into()), vec!["offline".into()], now(), TTL);
        let old_refresh = first.refresh_token.unwrap();
        let second = g.refresh("app", &old_refresh, now(), TTL).unwrap();
        assert_ne!(second.access_token, first.access_token);
        assert!(g.authenticate(&first.access_token, now()).is_none());
        assert!(g.authenticate(&second.access_token, now()).is_some());
        assert_eq!(
            g.refresh("app", &old_refresh, now(), TTL).unwrap_err().kind,
            ErrorKind::InvalidGrant
        );
        let new_refresh = second.refresh_token.unwrap();
        assert!(g.refresh("another-app", &new_refresh, now(), TTL).is_err());
        assert!(g.refresh("app", &new_refresh, now(), TTL).is_ok());
    }

    #[test]
    fn access_tokens_expire_and_revoke() {
        let mut g = Grants::default();
        let member = g.start_chain("app", Subject::Member("m1".into()), vec![], now(), TTL);
        let org = g.start_chain("app", Subject::Organization("o1".into()), vec![], now(), TTL);
        assert_eq!(member.refresh_token, None);
        let later = now() + TimeDelta::seconds(3599);
        assert!(g.authenticate(&member.access_token, later).is_none());
        assert_eq!(g.revoke("app", |s| s.member_id() == Some("m1")), 1);
        assert!(g.authenticate(&member.access_token, now()).is_none());
        assert!(g.authenticate(&org.access_token, now()).is_some());
        assert_eq!(g.revoke("app", |s| s.member_id() == Some("m1")), 0);
    }
}
