//! Secrets at rest and credentials: authenticated encryption of stored secrets, generation
//! and hashing of API credentials, and HMAC signing.
//!
//! Stored secrets (provider tokens, client secrets, signature keys) are sealed with
//! XChaCha20-Poly1305 under the master key. The 192-bit random nonce makes nonce reuse a
//! non-issue however many values one key seals. Each value is bound to where it lives (the
//! associated data names the row and the field), so a sealed value copied into another row
//! or column fails to open instead of silently decrypting.
//!
//! Credentials we hand out (user, organization and instance secrets) carry 256 bits of
//! entropy, so a plain SHA-256 is enough to store them: there is nothing to brute-force.

use std::{fmt, io::Write, path::Path};

use base64::{Engine, engine::general_purpose::STANDARD};
use chacha20poly1305::{
    KeyInit, XChaCha20Poly1305, XNonce,
    aead::{Aead, Payload},
};
use hmac::{Hmac, Mac};
use secrecy::{ExposeSecret, SecretString};
use sha2::{Digest, Sha256};

/// First byte of every sealed value; lets a future key or algorithm change coexist.
const SEALED_VERSION: u8 = 1;
const NONCE_LEN: usize = 24;
const KEY_LEN: usize = 32;

#[derive(Debug, thiserror::Error)]
pub enum CryptoError {
    #[error("master key must be {KEY_LEN} bytes of standard Base64, got {0}")]
    BadMasterKey(String),
    #[error("master key file {path}: {source}")]
    KeyFile { path: String, source: std::io::Error },
    #[error("a sealed value could not be opened: wrong master key or tampered data")]
    Unseal,
}

/// The key that seals every secret stored in the database.
pub struct MasterKey([u8; KEY_LEN]);

impl fmt::Debug for MasterKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("MasterKey(..)")
    }
}

impl MasterKey {
    pub fn generate() -> Self {
        let mut key = [0u8; KEY_LEN];
        rand::fill(&mut key);
        Self(key)
    }

    pub fn from_base64(text: &str) -> Result<Self, CryptoError> {
        let bytes = STANDARD
            .decode(text.trim())
            .map_err(|e| CryptoError::BadMasterKey(e.to_string()))?;
        let key: [u8; KEY_LEN] = bytes
            .try_into()
            .map_err(|b: Vec<u8>| CryptoError::BadMasterKey(format!("{} bytes", b.len())))?;
        Ok(Self(key))
    }

    pub fn to_base64(&self) -> String {
        STANDARD.encode(self.0)
    }

    /// Reads the key file, or creates it (mode 0600) with a fresh key when it does not exist,
    /// so a first start needs no setup.
    pub fn load_or_create(path: &Path) -> Result<Self, CryptoError> {
        let file_error = |source| CryptoError::KeyFile {
            path: path.display().to_string(),
            source,
        };
        match std::fs::read_to_string(path) {
            Ok(text) => Self::from_base64(&text),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let key = Self::generate();
                let mut file = create_private_file(path).map_err(file_error)?;
                file.write_all(key.to_base64().as_bytes())
                    .and_then(|()| file.sync_all())
                    .map_err(file_error)?;
                Ok(key)
            }
            Err(e) => Err(file_error(e)),
        }
    }
}

/// Creates a directory for files that hold secrets (the master key, the SQLite database),
/// with its missing parents, that only the hub's user may enter (mode 0700). An existing
/// directory keeps its mode: the operator chose it.
pub fn create_private_dir(dir: &Path) -> std::io::Result<()> {
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder.create(dir)
}

/// Creates a file that only the hub's user may read or write (mode 0600); fails when it
/// already exists.
pub fn create_private_file(path: &Path) -> std::io::Result<std::fs::File> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    options.open(path)
}

/// An encrypted value as stored: version byte, nonce, ciphertext with tag.
#[derive(Clone, PartialEq, Eq)]
pub struct Sealed(Vec<u8>);

impl fmt::Debug for Sealed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Sealed({} bytes)", self.0.len())
    }
}

impl Sealed {
    pub fn from_stored(bytes: Vec<u8>) -> Self {
        Self(bytes)
    }

    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }
}

/// Seals and opens stored secrets with the master key.
pub struct Cipher {
    aead: XChaCha20Poly1305,
}

impl fmt::Debug for Cipher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Cipher(..)")
    }
}

impl Cipher {
    pub fn new(key: &MasterKey) -> Self {
        Self {
            aead: XChaCha20Poly1305::new(&key.0.into()),
        }
    }

    /// Encrypts `plaintext`; `context` names where the value will be stored.
    pub fn seal(&self, plaintext: &str, context: &str) -> Sealed {
        let mut nonce = [0u8; NONCE_LEN];
        rand::fill(&mut nonce);
        let payload = Payload {
            msg: plaintext.as_bytes(),
            aad: context.as_bytes(),
        };
        let ciphertext = self
            .aead
            .encrypt(&XNonce::from(nonce), payload)
            .expect("XChaCha20-Poly1305 encryption of an in-memory buffer cannot fail");
        let mut out = Vec::with_capacity(1 + NONCE_LEN + ciphertext.len());
        out.push(SEALED_VERSION);
        out.extend_from_slice(&nonce);
        out.extend_from_slice(&ciphertext);
        Sealed(out)
    }

    /// Decrypts a value sealed for the same `context`.
    pub fn open(&self, sealed: &Sealed, context: &str) -> Result<SecretString, CryptoError> {
        let bytes = sealed.as_bytes();
        if bytes.len() < 1 + NONCE_LEN || bytes[0] != SEALED_VERSION {
            return Err(CryptoError::Unseal);
        }
        let nonce: [u8; NONCE_LEN] = bytes[1..1 + NONCE_LEN].try_into().expect("length checked");
        let payload = Payload {
            msg: &bytes[1 + NONCE_LEN..],
            aad: context.as_bytes(),
        };
        let plaintext = self
            .aead
            .decrypt(&XNonce::from(nonce), payload)
            .map_err(|_| CryptoError::Unseal)?;
        String::from_utf8(plaintext)
            .map(SecretString::from)
            .map_err(|_| CryptoError::Unseal)
    }
}

/// A fresh credential: 32 random bytes in standard Base64 (44 characters, the shape of
/// Cloud Elements' user secrets and element tokens).
pub fn generate_credential() -> SecretString {
    let mut bytes = [0u8; 32];
    rand::fill(&mut bytes);
    SecretString::from(STANDARD.encode(bytes))
}

/// What is stored instead of a credential.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct CredentialHash([u8; 32]);

impl fmt::Debug for CredentialHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("CredentialHash(..)")
    }
}

impl CredentialHash {
    pub fn of(credential: &SecretString) -> Self {
        Self(Sha256::digest(credential.expose_secret().as_bytes()).into())
    }

    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }
}

/// HMAC-SHA256 of `message` under `key`.
pub fn hmac_sha256(key: &[u8], message: &[u8]) -> [u8; 32] {
    let mut mac = Hmac::<Sha256>::new_from_slice(key).expect("HMAC accepts keys of any length");
    mac.update(message);
    mac.finalize().into_bytes().into()
}

/// Whether `tag` is the HMAC-SHA256 of `message` under `key`, compared in constant time.
pub fn hmac_sha256_verify(key: &[u8], message: &[u8], tag: &[u8]) -> bool {
    let mut mac = Hmac::<Sha256>::new_from_slice(key).expect("HMAC accepts keys of any length");
    mac.update(message);
    mac.verify_slice(tag).is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sealed_values_open_only_in_their_context() {
        let cipher = Cipher::new(&MasterKey::generate());
        let sealed = cipher.seal("refresh-token-value", "instance:1:refresh_token");
        assert!(
            !sealed.as_bytes().windows(7).any(|w| w == b"refresh"),
            "plaintext leaked into the sealed bytes"
        );
        let opened = cipher.open(&sealed, "instance:1:refresh_token").unwrap();
        assert_eq!(opened.expose_secret(), "refresh-token-value");
        assert!(cipher.open(&sealed, "instance:2:refresh_token").is_err());
        let other = Cipher::new(&MasterKey::generate());
        assert!(other.open(&sealed, "instance:1:refresh_token").is_err());
    }

    #[test]
    fn tampering_is_detected() {
        let cipher = Cipher::new(&MasterKey::generate());
        let mut bytes = cipher.seal("x", "ctx").as_bytes().to_vec();
        let last = bytes.len() - 1;
        bytes[last] ^= 1;
        assert!(cipher.open(&Sealed::from_stored(bytes), "ctx").is_err());
        assert!(cipher.open(&Sealed::from_stored(vec![1, 2]), "ctx").is_err());
    }

    #[test]
    fn master_key_file_is_created_once_and_reused() {
        let dir = std::env::temp_dir().join(format!("tributary-key-{}", rand::random::<u64>()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("master.key");
        let first = MasterKey::load_or_create(&path).unwrap();
        let second = MasterKey::load_or_create(&path).unwrap();
        assert_eq!(first.0, second.0);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn bad_master_keys_are_rejected() {
        assert!(MasterKey::from_base64("not base64!").is_err());
        assert!(MasterKey::from_base64(&STANDARD.encode([0u8; 16])).is_err());
    }

    #[test]
    fn credentials_are_long_random_and_hash_stably() {
        let a = generate_credential();
        let b = generate_credential();
        assert_eq!(a.expose_secret().len(), 44);
        assert_ne!(a.expose_secret(), b.expose_secret());
        assert_eq!(CredentialHash::of(&a), CredentialHash::of(&a));
        assert_ne!(CredentialHash::of(&a), CredentialHash::of(&b));
    }

    #[test]
    fn hmac_matches_rfc_4231_case_2() {
        let mac = hmac_sha256(b"Jefe", b"what do ya want for nothing?");
        assert_eq!(
            hex::encode(mac),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
        assert!(hmac_sha256_verify(b"Jefe", b"what do ya want for nothing?", &mac));
        assert!(!hmac_sha256_verify(b"Jefe", b"what do ya want for nothing!", &mac));
        assert!(!hmac_sha256_verify(
            b"Jefe",
            b"what do ya want for nothing?",
            &mac[..31]
        ));
    }
}
