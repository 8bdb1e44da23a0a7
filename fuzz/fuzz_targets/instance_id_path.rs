//! The webhook URL's instance id decoder: any path segment decodes to a positive id or to
//! nothing, and a decoded id round-trips through the Base64 the hub itself produces.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tributary::pipeline::sources::webhook::decode_instance_id;

fuzz_target!(|data: &[u8]| {
    let Ok(segment) = std::str::from_utf8(data) else { return };
    if let Some(id) = decode_instance_id(segment) {
        assert!(id.get() > 0);
        let ours = base64::Engine::encode(&base64::engine::general_purpose::STANDARD, id.to_string());
        assert_eq!(decode_instance_id(&ours), Some(id));
    }
});
