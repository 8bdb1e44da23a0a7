//! Signatures on outbound notifications.
//!
//! Two schemes, both over the exact body bytes sent:
//! - Cloud Elements': `Elements-Webhook-Signature: sha256=<Base64 HMAC-SHA256(key, body)>`,
//!   keyed by the instance's `event.notification.signature.key`;
//! - Standard Webhooks: `webhook-signature: v1,<Base64 HMAC-SHA256(secret, "{id}.{timestamp}.{body}")>`,
//!   with a per-instance `whsec_` secret; during a rotation both the new and the old secret
//!   sign, space-separated, so receivers can switch at their own pace.

use base64::{Engine, engine::general_purpose::STANDARD};
use secrecy::{ExposeSecret, SecretString};

use crate::crypto::hmac_sha256;

const SECRET_PREFIX: &str = "whsec_";
/// Standard Webhooks asks for 24 to 64 random bytes.
const SECRET_BYTES: usize = 32;

/// A fresh Standard Webhooks secret (`whsec_` + Base64 of 32 random bytes).
pub fn generate_secret() -> SecretString {
    let mut bytes = [0u8; SECRET_BYTES];
    rand::fill(&mut bytes);
    SecretString::from(format!("{SECRET_PREFIX}{}", STANDARD.encode(bytes)))
}

/// `sha256=<Base64 HMAC-SHA256(key, body)>`.
pub fn elements_signature(key: &SecretString, body: &[u8]) -> String {
    format!(
        "sha256={}",
        STANDARD.encode(hmac_sha256(key.expose_secret().as_bytes(), body))
    )
}

/// The `webhook-signature` value: one `v1,<signature>` per secret, space-separated.
pub fn standard_signature(secrets: &[SecretString], id: &str, timestamp: i64, body: &[u8]) -> String {
    let mut signed = Vec::with_capacity(id.len() + body.len() + 24);
    signed.extend_from_slice(id.as_bytes());
    signed.push(b'.');
    signed.extend_from_slice(timestamp.to_string().as_bytes());
    signed.push(b'.');
    signed.extend_from_slice(body);
    secrets
        .iter()
        .filter_map(|secret| {
            let key = secret.expose_secret().strip_prefix(SECRET_PREFIX)?;
            let key = STANDARD.decode(key).ok()?;
            Some(format!("v1,{}", STANDARD.encode(hmac_sha256(&key, &signed))))
        })
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn standard_webhooks_test_vector() {
        // From the Standard Webhooks specification's reference libraries.
        let secret = SecretString::from("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw");
        assert_eq!(
            standard_signature(
                &[secret],
                "msg_p5jXN8AQM9LWM0D4loKWxJek",
                1614265330,
                br#"{"test": 2432232314}"#
            ),
            "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
        );
    }

    #[test]
    fn rotation_signs_with_every_secret() {
        let (a, b) = (generate_secret(), generate_secret());
        let both = standard_signature(&[a.clone(), b.clone()], "id", 1, b"{}");
        let parts: Vec<&str> = both.split(' ').collect();
        assert_eq!(
            parts,
            [
                standard_signature(&[a], "id", 1, b"{}"),
                standard_signature(&[b], "id", 1, b"{}")
            ]
        );
    }

    #[test]
    fn elements_signature_is_base64_hmac_of_the_body() {
        let key = SecretString::from("Jefe");
        assert_eq!(
            elements_signature(&key, b"what do ya want for nothing?"),
            format!(
                "sha256={}",
                STANDARD
                    .encode(hex::decode("5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843").unwrap())
            )
        );
    }

    #[test]
    fn secrets_have_the_standard_shape() {
        let secret = generate_secret();
        let key = secret.expose_secret().strip_prefix("whsec_").unwrap();
        assert_eq!(STANDARD.decode(key).unwrap().len(), 32);
    }
}
