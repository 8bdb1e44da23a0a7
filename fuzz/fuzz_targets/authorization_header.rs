//! The `Authorization` header parser: any text gives credentials or a reason, never a panic,
//! and whatever it accepts has non-empty values without whitespace.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tributary::api::auth::parse_authorization;

fuzz_target!(|data: &[u8]| {
    let Ok(header) = std::str::from_utf8(data) else { return };
    if let Ok(credentials) = parse_authorization(header) {
        for value in [credentials.user, credentials.organization, credentials.element]
            .into_iter()
            .flatten()
        {
            let value = secrecy::ExposeSecret::expose_secret(&value).to_string();
            assert!(!value.is_empty() && !value.contains(char::is_whitespace) && !value.contains(','));
        }
    }
});
