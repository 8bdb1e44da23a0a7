//! The Hootsuite normalizer: any JSON body normalizes or is refused with a reason, never a
//! panic; every normalized event belongs to the element and has a known event type.
#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use tributary::{
    elements::Registry,
    pipeline::normalize::{self, Item},
};

static REGISTRY: OnceLock<Registry> = OnceLock::new();

fuzz_target!(|data: &[u8]| {
    let Ok(body) = serde_json::from_slice::<serde_json::Value>(data) else {
        return;
    };
    let registry = REGISTRY.get_or_init(|| Registry::builtin(&Default::default()).expect("built-in elements load"));
    let element = registry.find("hootsuite").expect("hootsuite is built in");
    if let Ok(items) = normalize::webhook(element, &body, chrono::Utc::now()) {
        for item in items {
            if let Item::Event { event, .. } = item {
                assert_eq!(event.element_key, "hootsuite");
                assert!(chrono::DateTime::parse_from_rfc3339(&event.date).is_ok());
            }
        }
    }
});
