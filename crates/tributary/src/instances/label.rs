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

/// The text of a label: invisible characters removed, then markup, trimmed.
fn clean_label(text: &str) -> Result<String, String> {
    if text.len() > MAX_RAW {
        return Err(format!(
            "at most {MAX_RAW} bytes allowed before markup is removed, got {}",
            text.len()
        ));
    }
    // Invisible characters go first: `<\u{200b}b>` must not be text that becomes a tag.
    Ok(strip_markup(&visible(text)).trim().to_string())
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
///
/// A removal joins what was around it, and a `<` kept as text may then open markup with
/// what follows (`<<b>i>`): so the kept `<` is looked at again, and the result holds no
/// markup at all. One pass, in time linear in the text.
fn strip_markup(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut at = 0;
    loop {
        if out.ends_with('<')
            && let Some(length) = markup_length(&text[at..])
        {
            out.pop();
            at += length;
            continue;
        }
        let Some(offset) = text[at..].find('<') else {
            out.push_str(&text[at..]);
            return out;
        };
        out.push_str(&text[at..at + offset]);
        at += offset + 1;
        match markup_length(&text[at..]) {
            Some(length) => at += length,
            None => out.push('<'),
        }
    }
}

/// How much of `rest`, what follows a `<`, belongs to the markup that `<` opens; `None`
/// when the `<` is text.
fn markup_length(rest: &str) -> Option<usize> {
    match rest.as_bytes() {
        [b'!', b'-', b'-', ..] => Some(past(rest, 3, "-->")),
        [b'!' | b'?', ..] => Some(past(rest, 0, ">")),
        [b'/', c, ..] if c.is_ascii_alphabetic() => Some(tag_end(rest, 1)),
        // `</>` is dropped; `</` and anything else is a comment up to the next `>`.
        [b'/', ..] => Some(past(rest, 1, ">")),
        [c, ..] if c.is_ascii_alphabetic() => {
            let end = tag_end(rest, 0);
            let name = &rest[..rest
                .bytes()
                .position(|b| !b.is_ascii_alphanumeric())
                .unwrap_or(rest.len())];
            Some(
                match ["script", "style"]
                    .into_iter()
                    .find(|raw| name.eq_ignore_ascii_case(raw))
                {
                    Some(raw) => raw_text_end(rest, end, raw),
                    None => end,
                },
            )
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

/// Just past the end tag (`</name`, any case, then a space, `/` or `>`) that closes a
/// `script` or `style` element whose content starts at `from`, or the end of the text.
fn raw_text_end(text: &str, from: usize, name: &str) -> usize {
    let mut search = from;
    while let Some(found) = text[search..].find("</") {
        let start = search + found + 2;
        let after = start + name.len();
        let named = text
            .as_bytes()
            .get(start..after)
            .is_some_and(|candidate| candidate.eq_ignore_ascii_case(name.as_bytes()));
        match text.as_bytes().get(after) {
            _ if !named => {}
            None => return text.len(),
            Some(b) if b.is_ascii_whitespace() || matches!(b, b'/' | b'>') => return tag_end(text, after),
            Some(_) => {}
        }
        search = start;
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
            ("a</>b</ x>c</", "abc"),
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

    /// Over many strings of markup's pieces: what is left opens no markup, and cleaning it
    /// again changes nothing.
    #[test]
    fn what_is_left_opens_no_markup() {
        const PIECES: &[&str] = &[
            "<", ">", "/", "!", "?", "-", "=", "\"", "'", " ", "a", "b", "x", "script", "STYLE", "</", "<!--", "-->",
            "\u{200b}",
        ];
        let mut seed: u64 = 0x2545_f491_4f6c_dd1d;
        let mut next = || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        for _ in 0..20_000 {
            let length = next() % 24;
            let text: String = (0..length)
                .map(|_| PIECES[(next() % PIECES.len() as u64) as usize])
                .collect();
            let cleaned = clean(&text);
            let opens = cleaned
                .as_bytes()
                .windows(2)
                .any(|w| w[0] == b'<' && (w[1].is_ascii_alphabetic() || matches!(w[1], b'!' | b'/' | b'?')));
            assert!(!opens, "{text:?} left {cleaned:?}");
            assert_eq!(clean(&cleaned), cleaned, "{text:?}");
        }
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
