//! Identifiers the simulator hands out: numeric object ids, ORY-style opaque tokens, error trace
//! ids, and the short fingerprints used to mention a secret in logs without revealing it.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use sha2::{Digest, Sha256};

/// Hands out unique numeric ids (as strings, like Hootsuite's) for every kind of object.
#[derive(Debug)]
pub struct IdGen {
    next: u64,
}

impl IdGen {
    /// Starts above every seeded id so generated ids never collide with them.
    pub fn new() -> Self {
        Self { next: 4_138_476_039 }
    }

    pub fn next_number(&mut self) -> u64 {
        self.next += 1;
        self.next
    }

    pub fn next_id(&mut self) -> String {
        self.next_number().to_string()
    }
}

/// `<random>.<random>`, the shape of Hydra-issued tokens and codes.
pub fn opaque_token() -> String {
    format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(rand::random::<[u8; 32]>()),
        URL_SAFE_NO_PAD.encode(rand::random::<[u8; 32]>())
    )
}

/// A random url-safe string for generated client secrets.
pub fn random_secret() -> String {
    URL_SAFE_NO_PAD.encode(rand::random::<[u8; 24]>())
}

/// Shaped like the trace ids in Hootsuite's error bodies (`0000015bd565ee00-8fbd`).
pub fn trace_id() -> String {
    format!("{:016x}-{:04x}", rand::random::<u64>(), rand::random::<u16>())
}

/// First 12 hex digits of SHA-256: enough to tell tokens apart in a log, useless to replay.
pub fn fingerprint(secret: &str) -> String {
    hex::encode(Sha256::digest(secret.as_bytes()))[..12].to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_unique_numeric_strings() {
        let mut ids = IdGen::new();
        let (a, b) = (ids.next_id(), ids.next_id());
        assert_ne!(a, b);
        assert!(a.parse::<u64>().unwrap() < b.parse::<u64>().unwrap());
    }

    #[test]
    fn tokens_are_two_random_parts() {
        let token = opaque_token();
        let parts: Vec<_> = token.split('.').collect();
        assert_eq!(parts.len(), 2);
        assert!(parts.iter().all(|p| p.len() == 43));
        assert_ne!(token, opaque_token());
    }

    #[test]
    fn fingerprint_is_stable_and_short() {
        assert_eq!(fingerprint("abc"), fingerprint("abc"));
        assert_eq!(fingerprint("abc").len(), 12);
        assert_ne!(fingerprint("abc"), fingerprint("abd"));
    }
}
