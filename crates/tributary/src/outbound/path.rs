//! [`ProviderPath`]: the part of a provider request a tenant may choose, a path and a query
//! on the provider's API, never a scheme, host or port.
//!
//! URL parsers are generous in ways an attacker can use: WHATWG parsing (the `url` crate)
//! strips tabs and line breaks anywhere, reads `\` as `/` in http(s) URLs, and resolves a
//! reference starting with `//` against another host; proxies in front of a provider may
//! decode `%2F` into a separator or `%2e%2e` into a parent step. So rather than refuse the
//! spellings known to move a request elsewhere, the parser accepts only a clean
//! origin-relative path: printable ASCII, one leading `/`, path characters of RFC 3986 less
//! `@`, no empty or dot segments, escapes that are well formed and do not stand for a
//! separator, a dot, a `%` or a control character; then an optional query of printable
//! ASCII without `\` or `#`. Anything else (non-ASCII included) must be percent-encoded.
//! Spaces are allowed in the query only, where Cloud Elements' own examples put them (the
//! URL parser encodes them).

use std::fmt;

use serde::{Deserialize, Serialize};

/// A clean path (with optional query) on a provider's API.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(try_from = "String", into = "String")]
pub struct ProviderPath {
    text: String,
    /// Where the query starts (its `?`), if there is one.
    query_at: Option<usize>,
}

/// Why a text is not a [`ProviderPath`]. The messages say what to change.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PathError {
    #[error("it must start with a single / (a path on the provider's API, not a URL)")]
    NotAPath,
    #[error("it starts with //, which names another host")]
    Authority,
    #[error("it has a backslash, which URL parsers read as /")]
    Backslash,
    #[error("it has a control character ({0:?}); URL parsers drop tabs and line breaks")]
    Control(char),
    #[error("it has a non-ASCII character ({0:?}); percent-encode it as UTF-8")]
    NonAscii(char),
    #[error("its path has a space; percent-encode it as %20")]
    SpaceInPath,
    #[error(
        "its path has an @, which URL parsers read as the end of credentials before a host; percent-encode it as %40"
    )]
    At,
    #[error("it has a #; a fragment is never sent to a provider")]
    Fragment,
    #[error("its path has {0:?}; percent-encode it")]
    PathCharacter(char),
    #[error("its path has an empty segment (//)")]
    EmptySegment,
    #[error("its path has a . or .. segment, which steps out of the API's path")]
    DotSegment,
    #[error("it has a % not followed by two hexadecimal digits; write a literal % as %25")]
    BadEscape,
    #[error(
        "its path has %{0:02X}, an escape for a separator, a dot, a % or a control character, which a \
         proxy may decode into another path"
    )]
    EncodedInPath(u8),
}

impl ProviderPath {
    pub fn parse(text: &str) -> Result<Self, PathError> {
        let query_at = text.find('?');
        let (path, query) = text.split_at(query_at.unwrap_or(text.len()));
        check_path(path)?;
        check_query(query)?;
        Ok(Self {
            text: text.to_string(),
            query_at,
        })
    }

    /// The path, from its leading `/` to the query.
    pub fn path(&self) -> &str {
        &self.text[..self.query_at.unwrap_or(self.text.len())]
    }

    /// The query, without its `?`.
    pub fn query(&self) -> Option<&str> {
        self.query_at.map(|at| &self.text[at + 1..])
    }

    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// This path with `name=value` added to its query, both percent-encoded (a cursor from a
    /// provider's answer, under a parameter name a tenant chose), and checked again.
    pub fn with_query_pair(&self, name: &str, value: &str) -> Result<Self, PathError> {
        let separator = if self.query_at.is_some() { '&' } else { '?' };
        let encode = |text: &str| url::form_urlencoded::byte_serialize(text.as_bytes()).collect::<String>();
        Self::parse(&format!("{}{separator}{}={}", self.text, encode(name), encode(value)))
    }
}

impl fmt::Display for ProviderPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

impl TryFrom<String> for ProviderPath {
    type Error = PathError;

    fn try_from(text: String) -> Result<Self, PathError> {
        Self::parse(&text)
    }
}

impl From<ProviderPath> for String {
    fn from(path: ProviderPath) -> String {
        path.text
    }
}

/// What every part of the text must be: printable ASCII, no backslash, no fragment.
fn check_char(c: char) -> Result<(), PathError> {
    match c {
        '\\' => Err(PathError::Backslash),
        '#' => Err(PathError::Fragment),
        c if c.is_control() => Err(PathError::Control(c)),
        c if !c.is_ascii() => Err(PathError::NonAscii(c)),
        _ => Ok(()),
    }
}

fn check_path(path: &str) -> Result<(), PathError> {
    let Some(rest) = path.strip_prefix('/') else {
        // Say what is wrong with the first character when it is one of the characters below.
        return Err(path
            .chars()
            .next()
            .map_or(Ok(()), check_char)
            .err()
            .unwrap_or(PathError::NotAPath));
    };
    if rest.starts_with('/') {
        return Err(PathError::Authority);
    }
    for c in path.chars() {
        check_char(c)?;
        match c {
            ' ' => return Err(PathError::SpaceInPath),
            '@' => return Err(PathError::At),
            // RFC 3986 pchar less `@`, plus the separator.
            'A'..='Z'
            | 'a'..='z'
            | '0'..='9'
            | '-'
            | '.'
            | '_'
            | '~'
            | '!'
            | '$'
            | '&'
            | '\''
            | '('
            | ')'
            | '*'
            | '+'
            | ','
            | ';'
            | '='
            | ':'
            | '/'
            | '%' => {}
            other => return Err(PathError::PathCharacter(other)),
        }
    }
    for byte in escapes(path)? {
        if matches!(byte, b'/' | b'\\' | b'.' | b'%') || byte.is_ascii_control() {
            return Err(PathError::EncodedInPath(byte));
        }
    }
    // The first segment is the empty one before the leading `/`; a trailing `/` is allowed.
    let segments: Vec<&str> = rest.split('/').collect();
    for (i, segment) in segments.iter().enumerate() {
        if segment.is_empty() && i + 1 < segments.len() {
            return Err(PathError::EmptySegment);
        }
        if matches!(*segment, "." | "..") {
            return Err(PathError::DotSegment);
        }
    }
    Ok(())
}

fn check_query(query: &str) -> Result<(), PathError> {
    for c in query.chars() {
        check_char(c)?;
    }
    escapes(query).map(drop)
}

/// The bytes the text's percent-escapes stand for; an error when one is malformed.
fn escapes(text: &str) -> Result<Vec<u8>, PathError> {
    let bytes = text.as_bytes();
    let mut decoded = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = bytes.get(i + 1..i + 3).ok_or(PathError::BadEscape)?;
            let hex = std::str::from_utf8(hex).map_err(|_| PathError::BadEscape)?;
            if !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
                return Err(PathError::BadEscape);
            }
            decoded.push(u8::from_str_radix(hex, 16).map_err(|_| PathError::BadEscape)?);
            i += 3;
        } else {
            i += 1;
        }
    }
    Ok(decoded)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clean_paths_and_queries_parse() {
        for (text, path, query) in [
            ("/v1/me", "/v1/me", None),
            ("/v1/messages/", "/v1/messages/", None),
            ("/", "/", None),
            ("/v1/things:batchGet", "/v1/things:batchGet", None),
            ("/v1/messages/42%3A7", "/v1/messages/42%3A7", None),
            ("/v1/x.json", "/v1/x.json", None),
            (
                "/v1/messages?startTime=2026-06-24T12%3A00%3A00Z&limit=100",
                "/v1/messages",
                Some("startTime=2026-06-24T12%3A00%3A00Z&limit=100"),
            ),
            // Cloud Elements' own example: spaces and quotes in the query.
            (
                "/hubs/crm/contacts?where=update_time >= '2026-07-01+12%3A00%3A00'",
                "/hubs/crm/contacts",
                Some("where=update_time >= '2026-07-01+12%3A00%3A00'"),
            ),
            ("/x?next=/a/b?c=%2F%5C", "/x", Some("next=/a/b?c=%2F%5C")),
            ("/x?", "/x", Some("")),
        ] {
            let parsed = ProviderPath::parse(text).unwrap_or_else(|e| panic!("{text:?}: {e}"));
            assert_eq!((parsed.path(), parsed.query()), (path, query), "{text:?}");
            assert_eq!(parsed.as_str(), text);
            // Clean enough that even resolving it as a reference (the hub never does) keeps
            // the base's origin.
            let base: url::Url = "https://provider.test/prefix/".parse().unwrap();
            assert_eq!(base.join(text).unwrap().origin(), base.origin(), "{text:?}");
        }
    }

    #[test]
    fn anything_that_could_name_another_host_is_refused() {
        for (text, expected) in [
            // The spellings: Url::join turned each into another host.
            ("/\\127.0.0.2:3001/leak", PathError::Backslash),
            ("/\t/127.0.0.2:3001/leak", PathError::Control('\t')),
            ("/\n/127.0.0.2:3001/leak", PathError::Control('\n')),
            ("//127.0.0.2:3001/confirm/1", PathError::Authority),
            // More of the same family.
            ("/\r/host", PathError::Control('\r')),
            ("/\u{0}/host", PathError::Control('\u{0}')),
            ("/\u{7f}/host", PathError::Control('\u{7f}')),
            ("/\u{85}/host", PathError::Control('\u{85}')),
            ("/\\\\host", PathError::Backslash),
            ("\\\\/host", PathError::Backslash),
            ("\\/host", PathError::Backslash),
            ("/x\\y", PathError::Backslash),
            ("/x?y=\\", PathError::Backslash),
            ("\t//host", PathError::Control('\t')),
            ("/ /host", PathError::SpaceInPath),
            ("/x y", PathError::SpaceInPath),
            ("http://x/y", PathError::NotAPath),
            ("https:/x", PathError::NotAPath),
            ("javascript:alert(1)", PathError::NotAPath),
            ("x/y", PathError::NotAPath),
            ("?x=1", PathError::NotAPath),
            ("", PathError::NotAPath),
            ("//x", PathError::Authority),
            ("///x", PathError::Authority),
            ("/x@y", PathError::At),
            ("/@evil.test/x", PathError::At),
            ("/x#y", PathError::Fragment),
            ("/x?y#z", PathError::Fragment),
            ("/%5Chost", PathError::EncodedInPath(b'\\')),
            ("/%5chost", PathError::EncodedInPath(b'\\')),
            ("/%2F%2Fhost", PathError::EncodedInPath(b'/')),
            ("/%2fhost", PathError::EncodedInPath(b'/')),
            ("/%2e%2e/admin", PathError::EncodedInPath(b'.')),
            ("/..%2F..%2Fadmin", PathError::EncodedInPath(b'/')),
            ("/%252F/host", PathError::EncodedInPath(b'%')),
            ("/%09/host", PathError::EncodedInPath(b'\t')),
            ("/%0A/host", PathError::EncodedInPath(b'\n')),
            ("/x%", PathError::BadEscape),
            ("/x%2", PathError::BadEscape),
            ("/x%zz", PathError::BadEscape),
            ("/x?a=%g1", PathError::BadEscape),
            ("/../admin", PathError::DotSegment),
            ("/v1/./me", PathError::DotSegment),
            ("/v1/..", PathError::DotSegment),
            ("/v1//me", PathError::EmptySegment),
            ("/v1/<script>", PathError::PathCharacter('<')),
            ("/v1/{id}", PathError::PathCharacter('{')),
            ("/v1|x", PathError::PathCharacter('|')),
            // Unicode whitespace and look-alikes of / and \.
            ("/\u{a0}/host", PathError::NonAscii('\u{a0}')),
            ("/\u{3000}/host", PathError::NonAscii('\u{3000}')),
            ("/\u{2028}/host", PathError::NonAscii('\u{2028}')),
            ("/\u{200b}/host", PathError::NonAscii('\u{200b}')),
            ("/\u{feff}/host", PathError::NonAscii('\u{feff}')),
            ("/\u{ff0f}host", PathError::NonAscii('\u{ff0f}')),
            ("/\u{ff3c}host", PathError::NonAscii('\u{ff3c}')),
            ("\u{ff0f}\u{ff0f}host", PathError::NonAscii('\u{ff0f}')),
            ("/x?q=caf\u{e9}", PathError::NonAscii('\u{e9}')),
            ("/x?q=a\u{2029}b", PathError::NonAscii('\u{2029}')),
        ] {
            assert_eq!(ProviderPath::parse(text), Err(expected), "{text:?}");
        }
    }

    #[test]
    fn a_query_pair_is_encoded_and_the_result_checked() {
        let path = ProviderPath::parse("/v1/messages?limit=100").unwrap();
        let next = path.with_query_pair("cursor", "a/b c&d=#\\\n").unwrap();
        assert_eq!(next.as_str(), "/v1/messages?limit=100&cursor=a%2Fb+c%26d%3D%23%5C%0A");
        let bare = ProviderPath::parse("/v1/messages").unwrap();
        assert_eq!(
            bare.with_query_pair("page token", "7").unwrap().as_str(),
            "/v1/messages?page+token=7"
        );
    }
}
