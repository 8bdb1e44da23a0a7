//! Where each sealed value of an instance lives, and opening the ones the hub needs.
//!
//! The context string is the associated data of the encryption: a value sealed for one
//! instance's field cannot be opened as another's.

use secrecy::SecretString;

use crate::{
    crypto::{Cipher, CryptoError},
    ids::InstanceId,
    oauth::client::ClientCredentials,
    store::{ConfigEntry, StoredValue},
};

pub const CLIENT_ID_KEY: &str = "oauth.api.key";
pub const CLIENT_SECRET_KEY: &str = "oauth.api.secret";

#[derive(Debug, Clone, Copy)]
pub enum Field<'a> {
    /// The instance token callers authenticate with.
    Token,
    AccessToken,
    RefreshToken,
    /// A Standard Webhooks secret signing its notifications.
    SigningSecret,
    /// A configuration value under this key.
    Config(&'a str),
}

pub fn context(id: InstanceId, field: Field<'_>) -> String {
    match field {
        Field::Token => format!("instance:{id}:token"),
        Field::AccessToken => format!("instance:{id}:access_token"),
        Field::RefreshToken => format!("instance:{id}:refresh_token"),
        Field::SigningSecret => format!("instance:{id}:signing_secret"),
        Field::Config(key) => format!("instance:{id}:config:{key}"),
    }
}

#[derive(Debug, thiserror::Error)]
pub enum SecretError {
    #[error("configuration {0} is not set")]
    Missing(String),
    #[error(transparent)]
    Crypto(#[from] CryptoError),
}

/// The value under `key`, opened if it is sealed.
pub fn config_value(
    cipher: &Cipher,
    id: InstanceId,
    entries: &[ConfigEntry],
    key: &str,
) -> Result<Option<SecretString>, CryptoError> {
    let Some(value) = entries.iter().find(|e| e.key == key).and_then(|e| e.value.as_ref()) else {
        return Ok(None);
    };
    match value {
        StoredValue::Plain(text) => Ok(Some(SecretString::from(text.as_str()))),
        StoredValue::Sealed(sealed) => cipher.open(sealed, &context(id, Field::Config(key))).map(Some),
    }
}

/// The app's client id and secret from the instance configuration.
pub fn client_credentials(
    cipher: &Cipher,
    id: InstanceId,
    entries: &[ConfigEntry],
) -> Result<ClientCredentials, SecretError> {
    let required =
        |key: &str| config_value(cipher, id, entries, key)?.ok_or_else(|| SecretError::Missing(key.to_string()));
    Ok(ClientCredentials {
        client_id: required(CLIENT_ID_KEY)?,
        client_secret: required(CLIENT_SECRET_KEY)?,
    })
}
