//! Instance names and tags: plain text, safe to show in a console and to write to logs.
//!
//! Markup is stripped and its text kept (`<a href=…>x</a>` becomes `x`), as Cloud Elements
//! did, and only the clean value is stored. Unicode control and format characters (bidi
//! overrides, zero-width characters, …) are removed too: they are invisible, and the bidi
//! ones reorder what is shown around them. Line breaks become a space: a label is one line.
//!
//! The stripper is written here rather than taken from an HTML sanitizer crate: those
//! (ammonia with html5ever) parse a whole document model to keep a safe subset of markup,
//! where a label keeps none; dropping every tag needs the few tokenizer rules below.

use unicode_properties::{GeneralCategory, UnicodeGeneralCategory};

const MAX_NAME: usize = 255;
const MAX_TAG: usize = 128;
const MAX_TAGS: usize = 50;
/// The longest label accepted before cleaning, which bounds the work of stripping it.
const MAX_RAW: usize = 8192;

/// An instance name: clean text (see the module), trimmed, 1 to 255 characters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InstanceName(pub(super) String);

impl InstanceName {
    pub fn parse(text: &str) -> Result<Self, String> {
        let clean = clean_label(text).map_err(|e| format!("name: {e}"))?;
        match clean.chars().count() {
            0 => Err("name must not be empty (once markup and invisible characters are removed)".into()),
            n if n > MAX_NAME => Err(format!("name: at most {MAX_NAME} characters allowed, got {n}")),
            _ => Ok(Self(clean)),
        }
    }
}

/// Instance tags: cleaned like names, without duplicates, in the caller's order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Tags(pub(super) Vec<String>);

impl Tags {
    pub fn parse(tags: &[String]) -> Result<Self, String> {
        if tags.len() > MAX_TAGS {
            return Err(format!("tags: at most {MAX_TAGS} tags allowed, got {}", tags.len()));
        }
        let mut clean = Vec::with_capacity(tags.len());
        for tag in tags {
            let tag = clean_label(tag).map_err(|e| format!("tags: {e}"))?;
            let length = tag.chars().count();
            if length == 0 || length > MAX_TAG {
                return Err(format!(
                    "tags: each tag needs 1 to {MAX_TAG} characters (once markup and invisible characters are \
                     removed), got {length}"
                ));
            }
            if !clean.contains(&tag) {
                clean.push(tag);
            }
        }
        Ok(Self(clean))
    }

    pub fn into_vec(self) -> Vec<String> {
        self.0
    }

    /// What Cloud Elements tagged an instance created without tags with: its name (cut to
    /// the longest tag).
    pub fn of_name(name: &InstanceName) -> Self {
        let tag: String = name.0.chars().take(MAX_TAG).collect();
        Self(vec![tag.trim_end().to_string()])
    }
}

/// The text of a label: invisible characters removed, then markup, until nothing changes
/// (so that no tag can be assembled from the pieces a removal joins: `<<b>i>`), trimmed.
fn clean_label(text: &str) -> Result<String, String> {
    if text.len() > MAX_RAW {
        return Err(format!(
            "at most {MAX_RAW} bytes allowed before markup is removed, got {}",
            text.len()
        ));
    }
    // Invisible characters go first: `<\u{200b}b>` must not be text that becomes a tag.
    let mut clean = visible(text);
    loop {
        let stripped = strip_markup(&clean);
        if stripped == clean {
            return Ok(clean.trim().to_string());
        }
        clean = stripped;
    }
}

/// Drops control (Cc) and format (Cf) characters; line breaks, tabs and the line and
/// paragraph separators become one space.
fn visible(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c.general_category() {
            GeneralCategory::Control | GeneralCategory::LineSeparator | GeneralCategory::ParagraphSeparator
                if c.is_whitespace() =>
            {
                if !out.ends_with(' ') {
                    out.push(' ');
                }
            }
            GeneralCategory::Control | GeneralCategory::Format => {}
            _ => out.push(c),
        }
    }
    out
}

/// Removes tags with their attributes, comments, and the contents of `script` and `style`
/// (code, not text), as an HTML tokenizer reads them; a `<` that starts none of these
/// (`1 < 2`) is text. Unterminated markup runs to the end, as in a browser. Nothing is
/// decoded: `&lt;b&gt;` stays those characters.
fn strip_markup(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let (mut copied, mut from) = (0, 0);
    while let Some(offset) = text[from..].find('<') {
        let at = from + offset;
        match markup_end(text, at) {
            Some(end) => {
                out.push_str(&text[copied..at]);
                (copied, from) = (end, end);
            }
            None => from = at + 1,
        }
    }
    out.push_str(&text[copied..]);
    out
}

/// Where the markup opened by the `<` at `at` ends (exclusive), or `None` when it is text.
fn markup_end(text: &str, at: usize) -> Option<usize> {
    let rest = &text.as_bytes()[at + 1..];
    match rest {
        [b'!', b'-', b'-', ..] => Some(past(text, at + 4, "-->")),
        [b'!' | b'?', ..] => Some(past(text, at + 1, ">")),
        [b'/', c, ..] if c.is_ascii_alphabetic() => Some(tag_end(text, at + 2)),
        // `</>` is dropped; `</` and anything else is a comment up to the next `>`.
        [b'/', _, ..] => Some(past(text, at + 2, ">")),
        [c, ..] if c.is_ascii_alphabetic() => {
            let end = tag_end(text, at + 1);
            let name: String = text[at + 1..]
                .chars()
                .take_while(char::is_ascii_alphanumeric)
                .collect::<String>()
                .to_ascii_lowercase();
            Some(match name.as_str() {
                "script" | "style" => raw_text_end(text, end, &name),
                _ => end,
            })
        }
        _ => None,
    }
}

/// Just past the first `needle` at or after `from`, or the end of the text.
fn past(text: &str, from: usize, needle: &str) -> usize {
    text.get(from..)
        .and_then(|rest| rest.find(needle))
        .map_or(text.len(), |found| from + found + needle.len())
}

/// Just past the `>` that ends the tag whose name starts at `from`. A `>` inside a quoted
/// attribute value does not end it; quotes open a value only right after its `=`.
fn tag_end(text: &str, from: usize) -> usize {
    #[derive(Clone, Copy)]
    enum State {
        Name,
        Attributes,
        BeforeValue,
        Quoted(u8),
        Unquoted,
    }
    let mut state = State::Name;
    for (i, b) in text.bytes().enumerate().skip(from) {
        state = match (state, b) {
            (State::Quoted(quote), b) if b == quote => State::Attributes,
            (State::Quoted(quote), _) => State::Quoted(quote),
            (_, b'>') => return i + 1,
            (State::Name, b) if b.is_ascii_whitespace() || b == b'/' => State::Attributes,
            (State::Name, _) => State::Name,
            (State::Attributes, b'=') => State::BeforeValue,
            (State::Attributes, _) => State::Attributes,
            (State::BeforeValue, b'"' | b'\'') => State::Quoted(b),
            (State::BeforeValue, b) if b.is_ascii_whitespace() => State::BeforeValue,
            (State::BeforeValue | State::Unquoted, b) if b.is_ascii_whitespace() => State::Attributes,
            (State::BeforeValue | State::Unquoted, _) => State::Unquoted,
        };
    }
    text.len()
}

/// Just past the end tag that closes a `script` or `style` element whose content starts at
/// `from`, or the end of the text.
fn raw_text_end(text: &str, from: usize, name: &str) -> usize {
    // ASCII lowercasing keeps every byte where it was.
    let lower = text[from.min(text.len())..].to_ascii_lowercase();
    let closing = format!("</{name}");
    let mut search = 0;
    while let Some(found) = lower[search..].find(&closing) {
        let after = search + found + closing.len();
        match lower.as_bytes().get(after) {
            None => return text.len(),
            Some(b) if b.is_ascii_whitespace() || matches!(b, b'/' | b'>') => return tag_end(text, from + after),
            Some(_) => search = after,
        }
    }
    text.len()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn clean(text: &str) -> String {
        clean_label(text).unwrap()
    }

    #[test]
    fn markup_is_stripped_and_its_text_kept() {
        for (marked, text) in [
            (r#"<a href="https://x.test" onClick="alert(1)">x</a>"#, "x"),
            ("<b>prod</b>", "prod"),
            ("<em>renamed</em> one", "renamed one"),
            ("<A HREF=x>Upper</A>", "Upper"),
            ("<br/>line<br />", "line"),
            ("a<!-- hidden -->b", "ab"),
            ("a<!doctype html>b<?xml version='1.0'?>c", "abc"),
            ("a</>b</ x>c", "abc"),
            ("<img src=x onerror=alert(1)>", ""),
            ("<script>alert(1)</script>kept", "kept"),
            ("<STYLE type='text/css'>p { }</style >kept", "kept"),
            ("<script>if (a</b) {}</scripts></script>kept", "kept"),
            ("<scripts>text</scripts>", "text"),
            ("<b>unterminated", "unterminated"),
            ("cut <a href='x", "cut"),
            ("<script>never closed", ""),
        ] {
            assert_eq!(clean(marked), text, "{marked}");
        }
    }

    #[test]
    fn a_quoted_greater_than_does_not_end_a_tag() {
        assert_eq!(clean(r#"<i title="a>b">ops</i>"#), "ops");
        assert_eq!(clean("<i title='a>b' data-x = \"c>d\">ops</i>"), "ops");
        assert_eq!(clean(r#"<p onmouseover="a>b">by token</p>"#), "by token");
        // Quotes open a value only after `=`: elsewhere they are part of a name, as in a
        // browser, and the first `>` ends the tag.
        assert_eq!(clean(r#"<p a"b>x</p>"#), "x");
        assert_eq!(clean("<p title=it's>x</p>"), "x");
    }

    #[test]
    fn text_that_only_looks_like_markup_is_kept() {
        for text in [
            "1 < 2 > 0",
            "a <= b",
            "x <3",
            "<",
            "a <",
            "&lt;b&gt; stays",
            "O'Brien's \"prod\" — 日本",
        ] {
            assert_eq!(clean(text), text.trim(), "{text}");
        }
    }

    #[test]
    fn no_tag_survives_the_pieces_a_removal_joins() {
        assert_eq!(clean("<<b>script>alert(1)<</b>/script>"), "");
        assert_eq!(clean("<<i>b>bold<</i>/b>"), "bold");
        assert_eq!(clean("<\u{200b}b>x</b>"), "x");
    }

    #[test]
    fn control_and_format_characters_are_removed() {
        assert_eq!(clean("Invoice \u{202e}fdp.exe\u{200b}"), "Invoice fdp.exe");
        assert_eq!(
            clean("a\u{2066}b\u{2069}\u{feff}\u{200c}\u{200d}\u{202a}c\u{0}\u{7f}"),
            "abc"
        );
        assert_eq!(clean("two\r\nlines\ttabbed\u{2028}sep"), "two lines tabbed sep");
        assert_eq!(clean(" \u{200b}padded\u{200b} "), "padded");
    }

    #[test]
    fn names_are_cleaned_checked_and_bounded() {
        assert_eq!(InstanceName::parse("  API Instance ").unwrap().0, "API Instance");
        assert_eq!(
            InstanceName::parse("<a href=\"x\">churros-xss</a>").unwrap().0,
            "churros-xss"
        );
        for empty in ["   ", "<script>alert(1)</script>", "\u{200b}\u{202e}", "<br>"] {
            assert!(
                InstanceName::parse(empty).unwrap_err().contains("must not be empty"),
                "{empty:?}"
            );
        }
        assert!(
            InstanceName::parse(&"x".repeat(256))
                .unwrap_err()
                .contains("at most 255")
        );
        assert_eq!(
            InstanceName::parse(&format!("<b>{}</b>", "x".repeat(255)))
                .unwrap()
                .0
                .len(),
            255
        );
        assert!(
            InstanceName::parse(&"<b>".repeat(3000))
                .unwrap_err()
                .contains("at most 8192 bytes")
        );
    }

    #[test]
    fn tags_are_cleaned_and_deduplicated() {
        let tags = Tags::parse(&["Docs".into(), " Docs ".into(), "<i>prod</i>".into(), "prod".into()]).unwrap();
        assert_eq!(tags.0, vec!["Docs".to_string(), "prod".to_string()]);
        assert!(Tags::parse(&["".into()]).is_err());
        assert!(Tags::parse(&["<img src=x>".into()]).unwrap_err().contains("1 to 128"));
        assert!(Tags::parse(&vec!["t".to_string(); 51]).is_err());
    }

    #[test]
    fn the_default_tag_is_the_name_cut_to_a_tag() {
        let short = InstanceName::parse("API Instance").unwrap();
        assert_eq!(Tags::of_name(&short).0, ["API Instance"]);
        let long = InstanceName::parse(&format!("{} tail", "n".repeat(127))).unwrap();
        assert_eq!(Tags::of_name(&long).0, ["n".repeat(127)]);
    }
}
