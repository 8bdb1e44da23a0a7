//! CEQL `where` clauses: any text parses or is refused with a message, never a panic; what
//! parses prints as canonical CEQL that parses back to the same tree; and a resource with a
//! field of every kind turns any tree into vendor parameters or a refusal.
#![no_main]

use std::sync::LazyLock;

use libfuzzer_sys::fuzz_target;
use tributary::hubs::{
    ceql::{self, CeqlError},
    where_clause::WhereFields,
};

/// Short names, so that the fuzzer finds them.
static FIELDS: LazyLock<WhereFields> = LazyLock::new(|| {
    serde_json::from_value(serde_json::json!({
        "s": { "param": "s", "operators": ["=", "!=", "like", "not like", "in", "not in"] },
        "e": { "param": "e", "values": ["A", "B"] },
        "n": { "param": "n", "type": "number", "operators": ["=", "<", "<=", ">", ">="] },
        "b": { "param": "b", "type": "boolean" },
        "t": { "param": "t", "type": "datetime", "operators": ["=", "in"] },
        "u": { "param": "filter", "template": "u eq \"{value}\"" },
    }))
    .expect("a valid field map")
});

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let expr = match ceql::parse(text) {
        Ok(expr) => expr,
        Err(error) => {
            assert!(error.to_string().starts_with("where: "));
            return;
        }
    };
    let printed = expr.to_string();
    match ceql::parse(&printed) {
        Ok(again) => assert_eq!(again, expr, "{text:?} printed as {printed:?}"),
        // Canonical spacing can push a clause near the limit over it.
        Err(CeqlError::TooLong { .. }) => assert!(printed.chars().count() > ceql::MAX_LENGTH),
        Err(error) => panic!("{text:?} printed as {printed:?}, which does not parse: {error}"),
    }
    match FIELDS.params(&expr) {
        // A datetime always leaves as ISO-8601 UTC to the second.
        Ok(params) => {
            for (_, value) in params.iter().filter(|(param, _)| param == "t") {
                let iso = chrono::NaiveDateTime::parse_from_str(value, "%Y-%m-%dT%H:%M:%SZ");
                assert!(iso.is_ok() && value.len() == 20, "{text:?} sent t={value:?}");
            }
        }
        Err(error) => assert!(error.to_string().starts_with("where: ")),
    }
});
