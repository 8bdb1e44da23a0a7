//! Poller URL templates, provider paths and Java date patterns: any text parses or is
//! refused with a reason; what parses renders without panicking; a text accepted as a
//! provider path stays on the provider's origin, however it is put on a base URL; and a
//! pattern reads back what it wrote whenever it can say the whole time.
#![no_main]

use chrono::{DateTime, FixedOffset, Utc};
use libfuzzer_sys::fuzz_target;
use tributary::{
    outbound::{ProviderBase, ProviderPath},
    pipeline::sources::poller::{
        javatime::JavaPattern,
        template::{PathTemplate, Template, Values},
    },
};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let at = DateTime::<Utc>::from_timestamp(1_782_907_200, 0).expect("a valid time");
    let values = Values {
        last_poll: Some(at),
        window: Some((at, at)),
        page_size: Some(10),
        id: Some("7"),
    };
    if let Ok(template) = Template::parse(text) {
        let _ = template.render(&values);
    }
    if let Ok(template) = PathTemplate::parse(text) {
        let _ = template.render(&values);
    }
    if let Ok(path) = ProviderPath::parse(text) {
        let url: url::Url = "https://provider.test/prefix/".parse().expect("a valid URL");
        let base = ProviderBase::new(url.clone()).expect("a valid base");
        assert_eq!(base.url_for(&path).origin(), url.origin(), "{text:?}");
        // Even resolved as a reference, which the hub never does, it names no other host.
        assert_eq!(url.join(text).expect("a path joins").origin(), url.origin(), "{text:?}");
    }
    if let Ok(pattern) = JavaPattern::parse(text) {
        let offset = FixedOffset::east_opt(3600).expect("a valid offset");
        let written = pattern.format(at, offset);
        let _ = pattern.read(&written, offset);
        let _ = pattern.read(text, offset);
    }
});
