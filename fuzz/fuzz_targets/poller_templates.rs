//! Poller URL templates and Java date patterns: any text parses or is refused with a
//! reason; what parses renders without panicking, and a pattern reads back what it wrote
//! whenever it can say the whole time.
#![no_main]

use chrono::{DateTime, FixedOffset, Utc};
use libfuzzer_sys::fuzz_target;
use tributary::pipeline::sources::poller::{
    javatime::JavaPattern,
    template::{Template, Values},
};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let at = DateTime::<Utc>::from_timestamp(1_782_907_200, 0).expect("a valid time");
    if let Ok(template) = Template::parse(text) {
        let values = Values {
            last_poll: Some(at),
            window: Some((at, at)),
            page_size: Some(10),
            id: Some("7"),
        };
        let _ = template.render(&values);
    }
    if let Ok(pattern) = JavaPattern::parse(text) {
        let offset = FixedOffset::east_opt(3600).expect("a valid offset");
        let written = pattern.format(at, offset);
        let _ = pattern.read(&written, offset);
        let _ = pattern.read(text, offset);
    }
});
