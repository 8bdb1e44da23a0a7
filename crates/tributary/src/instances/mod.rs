//! Element instances: creating one through the provider's code exchange, changing it,
//! re-authenticating, disabling and deleting it.
//!
//! Commands arrive parsed ([`NewInstanceRequest`], [`InstanceUpdate`]); everything here
//! either completes or changes nothing. External effects come last: all input is checked
//! before the authorization code is spent at the provider, and nothing is stored unless the
//! provider granted a token that works.

pub mod configuration;
pub mod label;
pub mod sealing;

use std::sync::Arc;

use secrecy::SecretString;

pub use self::label::{InstanceName, Tags};
use self::{
    configuration::{CALLBACK_URL, ConfigError, ConfigInput, Mode, OAUTH_CALLBACK_URL},
    sealing::{Field, SecretError},
};
use crate::{
    config::PollingConfig,
    crypto::{Cipher, CredentialHash, CryptoError, generate_credential},
    elements::{Element, Registry},
    ids::{ConfigEntryId, InstanceId, OrgId},
    oauth::{OAuthError, TokenManager},
    pipeline::{
        cache::Caches,
        deliver::{guard::NetworkPolicy, signing},
        sources::poller,
    },
    store::{self, ConfigEntry, InstanceChange, InstanceRecord, NewInstance, Store, StoreError, User},
};

#[derive(Debug, thiserror::Error)]
pub enum InstanceError {
    #[error("instance {0} not found")]
    NotFound(InstanceId),
    #[error("configuration entry {1} not found on instance {0}")]
    ConfigEntryNotFound(InstanceId, ConfigEntryId),
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error("{0}")]
    Invalid(String),
    #[error(
        "providerData.code is required: the authorization code {element} appended to your callback URL \
         after the user approved access (GET /elements/{key}/oauth/url gives the URL to send them to)"
    )]
    MissingCode { element: String, key: String },
    #[error(transparent)]
    Provider(#[from] OAuthError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Crypto(#[from] CryptoError),
    #[error("instance {0} belongs to element {1}, which this hub no longer knows")]
    UnknownElement(InstanceId, String),
}

impl From<SecretError> for InstanceError {
    fn from(error: SecretError) -> Self {
        match error {
            SecretError::Missing(key) => InstanceError::Config(ConfigError::Missing(vec![key])),
            SecretError::Crypto(e) => InstanceError::Crypto(e),
        }
    }
}

pub struct NewInstanceRequest {
    pub element: Arc<Element>,
    pub name: InstanceName,
    pub tags: Tags,
    pub code: Option<String>,
    pub config: ConfigInput,
}

pub struct InstanceUpdate {
    pub name: Option<InstanceName>,
    pub tags: Option<Tags>,
    pub config: ConfigInput,
    pub mode: Mode,
    /// A new authorization code: exchange it and replace the grant.
    pub code: Option<String>,
    /// The caller asked for re-authentication (`?reAuthenticate=true`); needs a code.
    pub reauthenticate: bool,
}

/// A created instance, and the secret that signs its notifications (shown only now).
pub struct Created {
    pub instance: InstanceRecord,
    pub signing_secret: SecretString,
}

pub struct Instances {
    store: Arc<dyn Store>,
    cipher: Arc<Cipher>,
    elements: Arc<Registry>,
    tokens: Arc<TokenManager>,
    polling: PollingConfig,
    callbacks: Arc<NetworkPolicy>,
    /// The pipeline's view of instances, dropped whenever one changes.
    caches: Arc<Caches>,
}

impl Instances {
    pub fn new(
        store: Arc<dyn Store>,
        cipher: Arc<Cipher>,
        elements: Arc<Registry>,
        tokens: Arc<TokenManager>,
        polling: PollingConfig,
        callbacks: Arc<NetworkPolicy>,
        caches: Arc<Caches>,
    ) -> Self {
        Self {
            store,
            cipher,
            elements,
            tokens,
            polling,
            callbacks,
            caches,
        }
    }

    /// Runs the configuration plan and the checks that need the hub's settings: a callback
    /// URL whose host is an address the SSRF guard refuses is refused now, with a reason.
    fn plan(
        &self,
        element: &Element,
        id: InstanceId,
        stored: &[ConfigEntry],
        input: &ConfigInput,
        mode: Mode,
    ) -> Result<configuration::Plan, InstanceError> {
        let plan = configuration::plan(element, &self.cipher, id, stored, input, mode)?;
        if let Some(url) = plan.plain.get(CALLBACK_URL)
            && let Ok(parsed) = url::Url::parse(url)
        {
            self.callbacks.check_url(&parsed).map_err(|refused| {
                refused.log(id);
                ConfigError::Invalid {
                    key: CALLBACK_URL.into(),
                    reason: refused.to_string(),
                }
            })?;
        }
        Ok(plan)
    }

    /// Exchanges the code, checks the token, and stores the instance for `owner`'s organization.
    pub async fn create(&self, owner: &User, request: NewInstanceRequest) -> Result<Created, InstanceError> {
        let id = InstanceId::random();
        let element = &request.element;
        let plan = self.plan(element, id, &[], &request.config, Mode::Replace)?;
        let code = request.code.as_deref().ok_or_else(|| missing_code(element))?;
        let (response, identity) = self.authorize(element, id, &plan.entries, &plan.plain, code).await?;
        let now = store::now();
        let token = generate_credential();
        let signing_secret = signing::generate_secret();
        let instance = NewInstance {
            id,
            org: owner.org,
            user: owner.id,
            element_key: element.key.clone(),
            name: request.name.0,
            tags: request.tags.0,
            token: CredentialHash::of(&token),
            token_sealed: self.seal(id, Field::Token, &token),
            config: plan.entries,
            grant: self.tokens.grant(id, &response, Some(&identity), now),
            signing_secret: self.seal(id, Field::SigningSecret, &signing_secret),
            polling: poller::schedule(element, &plan.plain, &self.polling),
            created_at: now,
        };
        self.store.insert_instance(&instance).await?;
        tracing::info!(instance = %id, element = %element.key, org = %owner.org, "instance created");
        Ok(Created {
            instance: self.get(owner.org, id).await?,
            signing_secret,
        })
    }

    pub async fn get(&self, org: OrgId, id: InstanceId) -> Result<InstanceRecord, InstanceError> {
        self.store
            .get_instance(org, id)
            .await?
            .ok_or(InstanceError::NotFound(id))
    }

    /// Applies a partial (PATCH) or full (PUT) update, re-authenticating when a code is given.
    pub async fn update(
        &self,
        org: OrgId,
        id: InstanceId,
        update: InstanceUpdate,
    ) -> Result<InstanceRecord, InstanceError> {
        let current = self.get(org, id).await?;
        let element = self.element_of(&current)?;
        let plan = self.plan(&element, id, &current.config, &update.config, update.mode)?;
        let grant = match (&update.code, update.reauthenticate) {
            (None, false) => None,
            (None, true) => return Err(missing_code(&element)),
            (Some(code), _) => {
                let mut merged = current.config.clone();
                for entry in &plan.entries {
                    merged.retain(|e| e.key != entry.key);
                    merged.push(entry.clone());
                }
                let (response, identity) = self.authorize(&element, id, &merged, &plan.plain, code).await?;
                Some(self.tokens.grant(id, &response, Some(&identity), store::now()))
            }
        };
        let reauthenticated = grant.is_some();
        let change = InstanceChange {
            name: update.name.map(|n| n.0),
            tags: update.tags.map(|t| t.0),
            polling: Some(poller::schedule(&element, &plan.plain, &self.polling)),
            config: plan.entries,
            disabled: None,
            grant,
        };
        self.apply(org, id, &change).await?;
        if reauthenticated {
            tracing::info!(instance = %id, "instance re-authenticated");
        }
        self.get(org, id).await
    }

    /// Sets one configuration entry, addressed by its id.
    pub async fn set_config_entry(
        &self,
        org: OrgId,
        id: InstanceId,
        entry: ConfigEntryId,
        value: &serde_json::Value,
    ) -> Result<InstanceRecord, InstanceError> {
        let current = self.get(org, id).await?;
        let element = self.element_of(&current)?;
        let key = config_entry(&current, entry)?.key.clone();
        let plan = self.plan(
            &element,
            id,
            &current.config,
            &ConfigInput::single(&element, &key, value)?,
            Mode::Merge,
        )?;
        let change = InstanceChange {
            polling: Some(poller::schedule(&element, &plan.plain, &self.polling)),
            config: plan.entries,
            ..Default::default()
        };
        self.apply(org, id, &change).await?;
        self.get(org, id).await
    }

    /// Makes a new Standard Webhooks secret the one that signs; the previous ones keep
    /// signing until `grace` has passed, so receivers can switch without losing events.
    pub async fn rotate_signing_secret(
        &self,
        org: OrgId,
        id: InstanceId,
        grace: std::time::Duration,
    ) -> Result<(SecretString, chrono::DateTime<chrono::Utc>), InstanceError> {
        let secret = signing::generate_secret();
        let now = store::now();
        let retire_at = now + grace;
        let sealed = self.seal(id, Field::SigningSecret, &secret);
        let rotated = self
            .store
            .rotate_signing_secret(org, id, &sealed, now, retire_at)
            .await?;
        self.caches.forget(id);
        if rotated {
            Ok((secret, retire_at))
        } else {
            Err(InstanceError::NotFound(id))
        }
    }

    /// Disables (events and instance calls stop) or re-enables an instance; its
    /// configuration is kept either way.
    pub async fn set_enabled(
        &self,
        org: OrgId,
        id: InstanceId,
        enabled: bool,
    ) -> Result<InstanceRecord, InstanceError> {
        let change = InstanceChange {
            disabled: Some(!enabled),
            ..Default::default()
        };
        self.apply(org, id, &change).await?;
        self.get(org, id).await
    }

    pub async fn delete(&self, org: OrgId, id: InstanceId) -> Result<(), InstanceError> {
        let deleted = self.store.delete_instance(org, id).await?;
        self.caches.forget(id);
        if deleted {
            tracing::info!(instance = %id, "instance deleted");
            Ok(())
        } else {
            Err(InstanceError::NotFound(id))
        }
    }

    /// The element an instance belongs to.
    pub fn element_of(&self, instance: &InstanceRecord) -> Result<Arc<Element>, InstanceError> {
        self.elements
            .find(&instance.element_key)
            .cloned()
            .ok_or_else(|| InstanceError::UnknownElement(instance.id, instance.element_key.clone()))
    }

    /// The instance token, for showing to its owner.
    pub fn token(&self, instance: &InstanceRecord) -> Result<SecretString, InstanceError> {
        Ok(self
            .cipher
            .open(&instance.token_sealed, &sealing::context(instance.id, Field::Token))?)
    }

    async fn apply(&self, org: OrgId, id: InstanceId, change: &InstanceChange) -> Result<(), InstanceError> {
        let updated = self.store.update_instance(org, id, change, store::now()).await?;
        self.caches.forget(id);
        if updated {
            Ok(())
        } else {
            Err(InstanceError::NotFound(id))
        }
    }

    async fn authorize(
        &self,
        element: &Element,
        id: InstanceId,
        entries: &[ConfigEntry],
        plain: &std::collections::BTreeMap<String, String>,
        code: &str,
    ) -> Result<(crate::oauth::TokenResponse, crate::oauth::client::Identity), InstanceError> {
        let credentials = sealing::client_credentials(&self.cipher, id, entries)?;
        let redirect = plain
            .get(OAUTH_CALLBACK_URL)
            .ok_or_else(|| ConfigError::Missing(vec![OAUTH_CALLBACK_URL.into()]))?;
        Ok(self.tokens.authorize(element, &credentials, code, redirect).await?)
    }

    fn seal(&self, id: InstanceId, field: Field<'_>, secret: &SecretString) -> crate::crypto::Sealed {
        self.cipher.seal(
            secrecy::ExposeSecret::expose_secret(secret),
            &sealing::context(id, field),
        )
    }
}

fn missing_code(element: &Element) -> InstanceError {
    InstanceError::MissingCode {
        element: element.name.clone(),
        key: element.key.clone(),
    }
}

/// The entry `id` of an instance's configuration.
pub fn config_entry(instance: &InstanceRecord, id: ConfigEntryId) -> Result<&ConfigEntry, InstanceError> {
    instance
        .config
        .iter()
        .find(|e| e.id == id)
        .ok_or(InstanceError::ConfigEntryNotFound(instance.id, id))
}
