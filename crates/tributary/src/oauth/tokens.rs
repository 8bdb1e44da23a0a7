//! The access-token lifecycle: turn a token response into a stored grant, refresh ahead of
//! expiry, and hand callers a token that works.
//!
//! Refresh tokens are single-use and rotate (Hootsuite's behaviour), so two refreshes of
//! one instance must never overlap, even across hub processes: a refresh first takes the
//! instance's lease in the database; whoever fails to take it waits for the new token
//! instead. The rotated tokens are written before anyone is given the new access token, and
//! that write is retried, because after the provider answers the old refresh token is dead.
//! A refusal from the provider marks the instance invalid with the reason and ends the
//! attempts; a transient failure is retried later, never in a tight loop.

use std::{sync::Arc, time::Duration};

use chrono::Utc;
use secrecy::{ExposeSecret, SecretString};
use tokio_util::sync::CancellationToken;

use super::client::{ClientCredentials, Identity, OAuthClient, OAuthError, TokenResponse};
use crate::{
    config::OAuthConfig,
    crypto::{Cipher, CryptoError},
    elements::{Element, Registry},
    ids::InstanceId,
    instances::sealing::{self, Field},
    store::{Grant, Store, StoreError, Timestamp},
};

/// How long to wait before retrying a refresh that failed for a transient reason.
const RETRY_AFTER_TRANSIENT: Duration = Duration::from_secs(30);
/// A token this close to expiry is refreshed before being handed out.
const MIN_REMAINING: Duration = Duration::from_secs(30);
/// How often a caller waiting for another process's refresh looks again.
const WAIT_STEP: Duration = Duration::from_millis(100);
/// How many times storing rotated tokens is attempted before giving up.
const STORE_ATTEMPTS: u32 = 5;

#[derive(Debug, thiserror::Error)]
pub enum TokenError {
    #[error("instance {0} does not exist")]
    NotFound(InstanceId),
    #[error("instance {id} needs re-authentication: {reason}")]
    Invalid { id: InstanceId, reason: String },
    #[error(transparent)]
    Provider(#[from] OAuthError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Crypto(#[from] CryptoError),
    #[error(transparent)]
    Secret(#[from] sealing::SecretError),
    #[error("instance {0}: element {1} is not known to this hub")]
    UnknownElement(InstanceId, String),
    #[error("instance {0}: the token refresh of another hub process did not finish in time")]
    Busy(InstanceId),
}

/// What one refresh attempt did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RefreshOutcome {
    Refreshed,
    /// Another process holds the lease and is refreshing.
    InProgress,
    /// The provider refused; the instance is now invalid.
    Invalidated(String),
    /// A transient failure; retried after a delay.
    Postponed(String),
}

pub struct TokenManager {
    store: Arc<dyn Store>,
    cipher: Arc<Cipher>,
    elements: Arc<Registry>,
    client: OAuthClient,
    config: OAuthConfig,
    /// Identifies this process in leases.
    node: String,
}

impl TokenManager {
    pub fn new(
        store: Arc<dyn Store>,
        cipher: Arc<Cipher>,
        elements: Arc<Registry>,
        client: OAuthClient,
        config: OAuthConfig,
        node: String,
    ) -> Self {
        Self {
            store,
            cipher,
            elements,
            client,
            config,
            node,
        }
    }

    /// Seals a token response for storage and decides when to refresh it: ahead of expiry
    /// by the configured margin, but never earlier than half the token's lifetime.
    pub fn grant(
        &self,
        id: InstanceId,
        response: &TokenResponse,
        identity: Option<&Identity>,
        now: Timestamp,
    ) -> Grant {
        let lifetime = response.expires_in.map(Duration::from_secs);
        let expires_at = lifetime.map(|l| now + l);
        let refresh_due_at = match (lifetime, &response.refresh_token) {
            (Some(lifetime), Some(_)) => {
                let ahead = self.config.refresh_ahead().min(lifetime / 2);
                Some(now + (lifetime - ahead))
            }
            _ => None,
        };
        Grant {
            access_token: self.cipher.seal(
                response.access_token.expose_secret(),
                &sealing::context(id, Field::AccessToken),
            ),
            refresh_token: response.refresh_token.as_ref().map(|t| {
                self.cipher
                    .seal(t.expose_secret(), &sealing::context(id, Field::RefreshToken))
            }),
            expires_at,
            refresh_due_at,
            identity: identity.map(|i| serde_json::to_string(i).expect("identity serializes")),
        }
    }

    /// Refreshes every due token until `shutdown`.
    pub async fn run(self: Arc<Self>, shutdown: CancellationToken) {
        loop {
            match self.store.tokens_due(Utc::now(), 100).await {
                Ok(due) => {
                    for id in due {
                        if let Err(error) = self.refresh(id).await {
                            tracing::warn!(instance = %id, %error, "token refresh failed");
                        }
                    }
                }
                Err(error) => tracing::warn!(%error, "could not list tokens due for refresh"),
            }
            tokio::select! {
                () = shutdown.cancelled() => return,
                () = tokio::time::sleep(self.config.refresh_scan()) => {}
            }
        }
    }

    /// Refreshes the instance's token now, unless another process already is.
    pub async fn refresh(&self, id: InstanceId) -> Result<RefreshOutcome, TokenError> {
        let now = Utc::now();
        let lease_until = now + self.config.refresh_lease();
        let Some(claim) = self.store.claim_refresh(id, &self.node, now, lease_until).await? else {
            return Ok(RefreshOutcome::InProgress);
        };
        let element = self
            .elements
            .find(&claim.element_key)
            .ok_or_else(|| TokenError::UnknownElement(id, claim.element_key.clone()))?;
        let Some(refresh_token) = &claim.refresh_token else {
            let reason = "the provider granted no refresh token (was the offline scope requested?); re-authenticate the instance";
            self.store.fail_refresh(id, &self.node, reason, now).await?;
            return Ok(RefreshOutcome::Invalidated(reason.into()));
        };
        let refresh_token = self
            .cipher
            .open(refresh_token, &sealing::context(id, Field::RefreshToken))?;
        let credentials = sealing::client_credentials(&self.cipher, id, &claim.config)?;
        match self.client.refresh(element, &credentials, &refresh_token).await {
            Ok(response) => {
                self.store_rotated(id, element, &response).await?;
                tracing::info!(instance = %id, "access token refreshed");
                Ok(RefreshOutcome::Refreshed)
            }
            Err(OAuthError::Rejected { provider_message, .. }) => {
                let reason = format!(
                    "{} refused the refresh token ({provider_message}); re-authenticate the instance",
                    element.name
                );
                tracing::warn!(instance = %id, %reason, "instance marked invalid");
                self.store.fail_refresh(id, &self.node, &reason, Utc::now()).await?;
                Ok(RefreshOutcome::Invalidated(reason))
            }
            Err(error @ OAuthError::Unavailable { .. }) => {
                let retry_at = Utc::now() + RETRY_AFTER_TRANSIENT;
                self.store.release_refresh(id, &self.node, retry_at).await?;
                Ok(RefreshOutcome::Postponed(error.to_string()))
            }
        }
    }

    async fn store_rotated(
        &self,
        id: InstanceId,
        element: &Element,
        response: &TokenResponse,
    ) -> Result<(), TokenError> {
        let mut delay = Duration::from_millis(50);
        let mut attempt = 1;
        loop {
            let grant = self.grant(id, response, None, Utc::now());
            match self.store.complete_refresh(id, &self.node, &grant, Utc::now()).await {
                Ok(()) => return Ok(()),
                Err(error) if attempt < STORE_ATTEMPTS => {
                    tracing::warn!(instance = %id, element = %element.key, %error, attempt, "storing rotated tokens failed; retrying");
                    tokio::time::sleep(delay).await;
                    delay *= 2;
                    attempt += 1;
                }
                Err(error) => return Err(error.into()),
            }
        }
    }

    /// A working access token for calls to the instance's provider, refreshed first when it
    /// is about to expire (or, with `force`, because the provider just refused it).
    pub async fn access_token(&self, id: InstanceId, force: bool) -> Result<SecretString, TokenError> {
        let deadline = tokio::time::Instant::now() + self.config.refresh_lease();
        let first = self.store.access_grant(id).await?.ok_or(TokenError::NotFound(id))?;
        let mut grant = first.clone();
        loop {
            if !grant.valid {
                return Err(TokenError::Invalid {
                    id,
                    reason: "the instance is marked invalid".into(),
                });
            }
            let replaced = grant.access_token != first.access_token;
            let fresh = grant
                .expires_at
                .is_none_or(|at| (at - Utc::now()).to_std().is_ok_and(|left| left > MIN_REMAINING));
            if replaced || (fresh && !force) {
                return Ok(self
                    .cipher
                    .open(&grant.access_token, &sealing::context(id, Field::AccessToken))?);
            }
            match self.refresh(id).await? {
                RefreshOutcome::Refreshed => {}
                RefreshOutcome::Invalidated(reason) => {
                    return Err(TokenError::Invalid { id, reason });
                }
                RefreshOutcome::Postponed(reason) => {
                    return Err(TokenError::Provider(OAuthError::Unavailable {
                        provider: grant.element_key,
                        reason,
                        provider_message: None,
                    }));
                }
                RefreshOutcome::InProgress => {
                    if tokio::time::Instant::now() >= deadline {
                        return Err(TokenError::Busy(id));
                    }
                    tokio::time::sleep(WAIT_STEP).await;
                }
            }
            grant = self.store.access_grant(id).await?.ok_or(TokenError::NotFound(id))?;
        }
    }

    /// Exchanges an authorization code and proves the token works, for a new instance or a
    /// re-authentication.
    pub async fn authorize(
        &self,
        element: &Element,
        credentials: &ClientCredentials,
        code: &str,
        redirect_uri: &str,
    ) -> Result<(TokenResponse, Identity), OAuthError> {
        let response = self
            .client
            .exchange_code(element, credentials, code, redirect_uri)
            .await?;
        let identity = self.client.identity(element, &response.access_token).await?;
        Ok((response, identity))
    }
}
