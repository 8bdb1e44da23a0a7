//! Java `SimpleDateFormat` patterns, as Cloud Elements' poller configurations write dates
//! (`yyyy-MM-dd HH:mm:ss`, `yyyy-MM-dd'T'HH:mm:ssXXX`), translated once into chrono's
//! format items for formatting and parsing.

use chrono::{
    DateTime, FixedOffset, NaiveDateTime, TimeZone, Utc,
    format::{Item, StrftimeItems},
};

/// A parsed Java date pattern.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JavaPattern {
    /// The same pattern in chrono's strftime syntax.
    strftime: String,
    /// Whether the text carries its own offset (`Z`, `X`, `XXX`…); otherwise it is read in
    /// the configured time zone.
    has_offset: bool,
    /// Java's `X` writes `Z` for UTC, where chrono would write `+00:00`.
    iso_offset: bool,
}

impl JavaPattern {
    pub fn parse(pattern: &str) -> Result<Self, String> {
        let mut strftime = String::new();
        let (mut has_offset, mut iso_offset) = (false, false);
        let chars: Vec<char> = pattern.chars().collect();
        let mut i = 0;
        while i < chars.len() {
            let c = chars[i];
            if c == '\'' {
                // Quoted literal; '' is a single quote.
                let mut j = i + 1;
                if chars.get(j) == Some(&'\'') {
                    strftime.push('\'');
                    i += 2;
                    continue;
                }
                loop {
                    match (chars.get(j), chars.get(j + 1)) {
                        (None, _) => break,
                        // '' inside a quoted section is a quote.
                        (Some('\''), Some('\'')) => {
                            strftime.push('\'');
                            j += 2;
                        }
                        (Some('\''), _) => break,
                        (Some(&c), _) => {
                            push_literal(&mut strftime, c);
                            j += 1;
                        }
                    }
                }
                if j == chars.len() {
                    return Err(format!("unclosed quote in date pattern {pattern:?}"));
                }
                i = j + 1;
                continue;
            }
            if !c.is_ascii_alphabetic() {
                push_literal(&mut strftime, c);
                i += 1;
                continue;
            }
            let run = chars[i..].iter().take_while(|&&d| d == c).count();
            let item = match (c, run) {
                ('y', 2) => "%y",
                ('y', _) => "%Y",
                ('M', 1) => "%-m",
                ('M', 2) => "%m",
                ('M', 3) => "%b",
                ('M', _) => "%B",
                ('d', 1) => "%-d",
                ('d', _) => "%d",
                ('H', 1) => "%-H",
                ('H', _) => "%H",
                ('h', 1) => "%-I",
                ('h', _) => "%I",
                ('m', 1) => "%-M",
                ('m', _) => "%M",
                ('s', 1) => "%-S",
                ('s', _) => "%S",
                ('S', 1..=3) => "%3f",
                ('S', 6) => "%6f",
                ('S', 9) => "%9f",
                ('a', _) => "%p",
                ('E', 1..=3) => "%a",
                ('E', _) => "%A",
                ('Z', _) => {
                    has_offset = true;
                    "%z"
                }
                ('X', 1 | 2) => {
                    (has_offset, iso_offset) = (true, true);
                    "%z"
                }
                ('X', _) => {
                    (has_offset, iso_offset) = (true, true);
                    "%:z"
                }
                _ => {
                    return Err(format!(
                        "date pattern {pattern:?}: {} is not supported",
                        c.to_string().repeat(run)
                    ));
                }
            };
            strftime.push_str(item);
            i += run;
        }
        if StrftimeItems::new(&strftime).any(|item| item == Item::Error) {
            return Err(format!("date pattern {pattern:?} is not valid"));
        }
        Ok(Self {
            strftime,
            has_offset,
            iso_offset,
        })
    }

    /// `instant` written in the pattern, seen at `offset`.
    pub fn format(&self, instant: DateTime<Utc>, offset: FixedOffset) -> String {
        let local = instant.with_timezone(&offset);
        let text = local.format(&self.strftime).to_string();
        if self.iso_offset && offset.local_minus_utc() == 0 {
            text.replace("+00:00", "Z").replace("+0000", "Z")
        } else {
            text
        }
    }

    /// Reads a date written in the pattern; without an offset in the text it is taken to be
    /// at `offset`.
    pub fn read(&self, text: &str, offset: FixedOffset) -> Result<DateTime<Utc>, String> {
        let text = text.trim();
        if self.has_offset {
            let normalized = if self.iso_offset && text.ends_with('Z') {
                format!(
                    "{}{}",
                    &text[..text.len() - 1],
                    if self.strftime.ends_with("%:z") {
                        "+00:00"
                    } else {
                        "+0000"
                    }
                )
            } else {
                text.to_string()
            };
            DateTime::parse_from_str(&normalized, &self.strftime)
                .map(|t| t.with_timezone(&Utc))
                .map_err(|e| format!("{text:?} does not match the date pattern ({e})"))
        } else {
            let naive = NaiveDateTime::parse_from_str(text, &self.strftime)
                .or_else(|_| {
                    chrono::NaiveDate::parse_from_str(text, &self.strftime)
                        .map(|d| d.and_hms_opt(0, 0, 0).expect("midnight"))
                })
                .map_err(|e| format!("{text:?} does not match the date pattern ({e})"))?;
            offset
                .from_local_datetime(&naive)
                .single()
                .map(|t| t.with_timezone(&Utc))
                .ok_or_else(|| format!("{text:?} is not a valid local time"))
        }
    }
}

fn push_literal(strftime: &mut String, c: char) {
    if c == '%' {
        strftime.push_str("%%");
    } else {
        strftime.push(c);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(text: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(text).unwrap().with_timezone(&Utc)
    }

    #[test]
    fn formats_cloud_elements_patterns() {
        let instant = at("2026-03-04T05:06:07.089Z");
        let utc = FixedOffset::east_opt(0).unwrap();
        let pst = FixedOffset::west_opt(8 * 3600).unwrap();
        for (pattern, offset, expected) in [
            ("yyyy-MM-dd HH:mm:ss", utc, "2026-03-04 05:06:07"),
            ("yyyy-MM-dd'T'HH:mm:ss'Z'", utc, "2026-03-04T05:06:07Z"),
            ("yyyy-MM-dd'T'HH:mm:ss.SSSXXX", utc, "2026-03-04T05:06:07.089Z"),
            ("yyyy-MM-dd'T'HH:mm:ssXXX", pst, "2026-03-03T21:06:07-08:00"),
            ("yyyy-MM-dd'T'HH:mm:ssZ", pst, "2026-03-03T21:06:07-0800"),
            ("dd/MM/yy h:mm a", utc, "04/03/26 5:06 AM"),
            ("EEE, d MMM yyyy", utc, "Wed, 4 Mar 2026"),
            ("'at' HH 'o''clock'", utc, "at 05 o'clock"),
            ("yyyyMMdd%", utc, "20260304%"),
        ] {
            let java = JavaPattern::parse(pattern).unwrap();
            assert_eq!(java.format(instant, offset), expected, "{pattern}");
        }
    }

    #[test]
    fn reads_what_it_writes() {
        let utc = FixedOffset::east_opt(0).unwrap();
        let cet = FixedOffset::east_opt(3600).unwrap();
        let instant = at("2026-03-04T05:06:07Z");
        for (pattern, offset) in [
            ("yyyy-MM-dd HH:mm:ss", utc),
            ("yyyy-MM-dd HH:mm:ss", cet),
            ("yyyy-MM-dd'T'HH:mm:ssXXX", utc),
            ("yyyy-MM-dd'T'HH:mm:ssXXX", cet),
            ("yyyy-MM-dd'T'HH:mm:ssZ", cet),
        ] {
            let java = JavaPattern::parse(pattern).unwrap();
            assert_eq!(
                java.read(&java.format(instant, offset), offset).unwrap(),
                instant,
                "{pattern}"
            );
        }
        let plain = JavaPattern::parse("yyyy-MM-dd HH:mm:ss").unwrap();
        assert_eq!(
            plain.read("2026-03-04 06:06:07", cet).unwrap(),
            instant,
            "no offset in the text: the zone's"
        );
        let date = JavaPattern::parse("yyyy-MM-dd").unwrap();
        assert_eq!(date.read("2026-03-04", utc).unwrap(), at("2026-03-04T00:00:00Z"));
        assert!(plain.read("yesterday", utc).is_err());
    }

    #[test]
    fn unsupported_patterns_say_which_letters() {
        assert_eq!(
            JavaPattern::parse("yyyy-ww").unwrap_err(),
            "date pattern \"yyyy-ww\": ww is not supported"
        );
        assert!(JavaPattern::parse("'open").unwrap_err().contains("unclosed quote"));
    }
}
