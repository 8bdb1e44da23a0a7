//! The Hootsuite normalizer: any JSON body normalizes or is refused with a reason, never a
//! panic; every item's raw JSON is valid on its own, and every normalized event belongs to
//! the element and has a known event type.
#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use tributary::{
    elements::Registry,
    pipeline::normalize::{self, Item},
};

static REGISTRY: OnceLock<Registry> = OnceLock::new();

fuzz_target!(|data: &[u8]| {
    let Ok(body) = serde_json::from_slice::<&serde_json::value::RawValue>(data) else {
        return;
    };
    let registry = REGISTRY.get_or_init(|| Registry::builtin(&Default::default()).expect("built-in elements load"));
    let element = registry.find("hootsuite").expect("hootsuite is built in");
    if let Ok(batch) = normalize::webhook(element, body, chrono::Utc::now(), usize::MAX) {
        for entry in batch.entries {
            // Each entry is a span of the body, valid JSON on its own.
            assert!(serde_json::from_str::<serde_json::Value>(entry.raw.get()).is_ok());
            if let Item::Event { event, .. } = entry.item {
                assert_eq!(event.element_key, "hootsuite");
                assert!(chrono::DateTime::parse_from_rfc3339(&event.date).is_ok());
            }
        }
    }
});
