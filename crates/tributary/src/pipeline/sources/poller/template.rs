//! Poller URL templates: Cloud Elements' date macros, filled with the last poll's time
//! (`${gmtDate:<fmt>}`, `${date:<fmt>}`, `${dateTimeZone:<zone>:<fmt>}`, `${epoch}`,
//! `${epoch:s}`, `${epoch:us}`), plus this hub's `${window.start:<fmt>}`,
//! `${window.end:<fmt>}`, `${pageSize}` and `${id}`. Formats are Java date patterns; values
//! are percent-encoded into the URL. `${date}` is in the server's zone, and this hub keeps
//! its clock in UTC.
//!
//! A poller's `url` and `confirmUrl` are [`PathTemplate`]s: what they render is a
//! [`ProviderPath`], so a tenant's template can choose a path and a query on the provider's
//! API and nothing else.

use chrono::{DateTime, FixedOffset, Utc};

use super::javatime::JavaPattern;
use crate::outbound::{PathError, ProviderPath};

/// A time zone as Java names them: an offset (`-8:00`, `+05:30`), `UTC`/`GMT`, an IANA name
/// (`America/Los_Angeles`), or one of Java's three-letter ids (`PST`), with daylight saving.
#[derive(Debug, Clone, PartialEq)]
pub enum Zone {
    Fixed(FixedOffset),
    Named(String),
}

/// Java's `ZoneId.SHORT_IDS`: what a Cloud Elements poller meant by `PST` and its kin.
const SHORT_IDS: &[(&str, &str)] = &[
    ("ACT", "Australia/Darwin"),
    ("AET", "Australia/Sydney"),
    ("AGT", "America/Argentina/Buenos_Aires"),
    ("ART", "Africa/Cairo"),
    ("AST", "America/Anchorage"),
    ("BET", "America/Sao_Paulo"),
    ("BST", "Asia/Dhaka"),
    ("CAT", "Africa/Harare"),
    ("CNT", "America/St_Johns"),
    ("CST", "America/Chicago"),
    ("CTT", "Asia/Shanghai"),
    ("EAT", "Africa/Addis_Ababa"),
    ("ECT", "Europe/Paris"),
    ("IET", "America/Indiana/Indianapolis"),
    ("IST", "Asia/Kolkata"),
    ("JST", "Asia/Tokyo"),
    ("MIT", "Pacific/Apia"),
    ("NET", "Asia/Yerevan"),
    ("NST", "Pacific/Auckland"),
    ("PLT", "Asia/Karachi"),
    ("PNT", "America/Phoenix"),
    ("PRT", "America/Puerto_Rico"),
    ("PST", "America/Los_Angeles"),
    ("SST", "Pacific/Guadalcanal"),
    ("VST", "Asia/Ho_Chi_Minh"),
    ("EST", "-05:00"),
    ("MST", "-07:00"),
    ("HST", "-10:00"),
];

impl Zone {
    pub fn parse(text: &str) -> Result<Self, String> {
        let text = text.trim();
        let name = SHORT_IDS
            .iter()
            .find(|(id, _)| *id == text)
            .map_or(text, |(_, zone)| *zone);
        if matches!(name, "UTC" | "GMT" | "Z" | "") {
            return Ok(Zone::Fixed(FixedOffset::east_opt(0).expect("zero offset")));
        }
        if let Some(offset) = parse_offset(
            name.strip_prefix("GMT")
                .or_else(|| name.strip_prefix("UTC"))
                .unwrap_or(name),
        ) {
            return Ok(Zone::Fixed(offset));
        }
        jiff::tz::TimeZone::get(name).map_err(|_| format!("unknown time zone {text:?}"))?;
        Ok(Zone::Named(name.to_string()))
    }

    /// The zone's offset from UTC at `instant`.
    pub fn offset_at(&self, instant: DateTime<Utc>) -> FixedOffset {
        match self {
            Zone::Fixed(offset) => *offset,
            Zone::Named(name) => {
                let seconds = jiff::tz::TimeZone::get(name)
                    .ok()
                    .zip(jiff::Timestamp::from_millisecond(instant.timestamp_millis()).ok())
                    .map_or(0, |(zone, at)| zone.to_offset(at).seconds());
                FixedOffset::east_opt(seconds).unwrap_or_else(|| FixedOffset::east_opt(0).expect("zero offset"))
            }
        }
    }
}

/// `-8:00`, `+05:30`, `-0800`, `+5`.
fn parse_offset(text: &str) -> Option<FixedOffset> {
    let (sign, rest) = match text.as_bytes().first()? {
        b'+' => (1, &text[1..]),
        b'-' => (-1, &text[1..]),
        _ => return None,
    };
    let (hours, minutes) = match rest.split_once(':') {
        Some((h, m)) => (h.parse::<i32>().ok()?, m.parse::<i32>().ok()?),
        None if rest.len() == 4 => (rest[..2].parse().ok()?, rest[2..].parse().ok()?),
        None => (rest.parse().ok()?, 0),
    };
    if hours > 18 || minutes > 59 {
        return None;
    }
    FixedOffset::east_opt(sign * (hours * 3600 + minutes * 60))
}

#[derive(Debug, Clone, PartialEq)]
enum Part {
    Text(String),
    Date(Zone, JavaPattern),
    Epoch(Precision),
    WindowStart(JavaPattern),
    WindowEnd(JavaPattern),
    PageSize,
    Id,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Precision {
    Seconds,
    Millis,
    Micros,
}

/// What the macros stand for in one request.
#[derive(Debug, Clone, Default)]
pub struct Values<'a> {
    pub last_poll: Option<DateTime<Utc>>,
    pub window: Option<(DateTime<Utc>, DateTime<Utc>)>,
    pub page_size: Option<u32>,
    pub id: Option<&'a str>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Template(Vec<Part>);

impl Template {
    pub fn parse(text: &str) -> Result<Self, String> {
        let mut parts = Vec::new();
        let mut rest = text;
        while let Some(start) = rest.find("${") {
            parts.push(Part::Text(rest[..start].to_string()));
            let end = rest[start..]
                .find('}')
                .ok_or_else(|| format!("unclosed macro in {text:?}"))?
                + start;
            parts.push(macro_part(&rest[start + 2..end])?);
            rest = &rest[end + 1..];
        }
        parts.push(Part::Text(rest.to_string()));
        parts.retain(|p| !matches!(p, Part::Text(t) if t.is_empty()));
        Ok(Self(parts))
    }

    pub fn uses_window(&self) -> bool {
        self.0
            .iter()
            .any(|p| matches!(p, Part::WindowStart(_) | Part::WindowEnd(_)))
    }

    pub fn uses_id(&self) -> bool {
        self.0.iter().any(|p| matches!(p, Part::Id))
    }

    pub fn render(&self, values: &Values<'_>) -> Result<String, String> {
        let mut out = String::new();
        for part in &self.0 {
            let value = match part {
                Part::Text(text) => {
                    out.push_str(text);
                    continue;
                }
                Part::Date(zone, pattern) => {
                    let at = values.last_poll.ok_or("a date macro needs the last poll time")?;
                    pattern.format(at, zone.offset_at(at))
                }
                Part::Epoch(precision) => {
                    let at = values.last_poll.ok_or("an epoch macro needs the last poll time")?;
                    match precision {
                        Precision::Seconds => at.timestamp().to_string(),
                        Precision::Millis => at.timestamp_millis().to_string(),
                        Precision::Micros => at.timestamp_micros().to_string(),
                    }
                }
                Part::WindowStart(pattern) | Part::WindowEnd(pattern) => {
                    let (start, end) = values.window.ok_or("${window.…} needs a window configuration")?;
                    let at = if matches!(part, Part::WindowStart(_)) {
                        start
                    } else {
                        end
                    };
                    pattern.format(at, FixedOffset::east_opt(0).expect("zero offset"))
                }
                Part::PageSize => values.page_size.ok_or("${pageSize} needs pageSize")?.to_string(),
                Part::Id => values.id.ok_or("${id} is only for confirmUrl")?.to_string(),
            };
            out.extend(url::form_urlencoded::byte_serialize(value.as_bytes()));
        }
        Ok(out)
    }

    /// The template's text with every macro standing for a plain value (`0`): what its
    /// literal parts make of a request.
    fn outline(&self) -> String {
        self.0
            .iter()
            .map(|part| match part {
                Part::Text(text) => text.as_str(),
                _ => "0",
            })
            .collect()
    }
}

/// A template for a request on the provider's API. Checked twice: when parsed, its text
/// with each macro standing for a plain value must be a clean [`ProviderPath`] (so a macro
/// can never decide where the path starts); and each rendering is parsed again, since the
/// values come from the clock and from the provider's answers (a record's id).
#[derive(Debug, Clone, PartialEq)]
pub struct PathTemplate(Template);

/// Why a [`PathTemplate`] could not make a request path.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum RenderError {
    /// A macro had no value (the configuration lacks what it needs).
    #[error("{0}")]
    Values(String),
    /// The values made the text something other than a clean path.
    #[error("the rendered path {rendered:?} was refused: {error}")]
    Path { rendered: String, error: PathError },
}

impl PathTemplate {
    pub fn parse(text: &str) -> Result<Self, String> {
        let template = Template::parse(text)?;
        ProviderPath::parse(&template.outline()).map_err(|e| {
            format!(
                "must be a path on the provider's API, got {text:?}: {e}; the hub never sends an instance's token \
                 to another host"
            )
        })?;
        Ok(Self(template))
    }

    pub fn uses_window(&self) -> bool {
        self.0.uses_window()
    }

    pub fn uses_id(&self) -> bool {
        self.0.uses_id()
    }

    pub fn render(&self, values: &Values<'_>) -> Result<ProviderPath, RenderError> {
        let rendered = self.0.render(values).map_err(RenderError::Values)?;
        ProviderPath::parse(&rendered).map_err(|error| RenderError::Path { rendered, error })
    }
}

/// `<zone>:<pattern>`, where an offset zone such as `-8:00` has a colon of its own.
fn split_zone(argument: &str) -> Option<(&str, &str)> {
    let first = argument.find(':')?;
    let after = &argument[first + 1..];
    let offset_minutes = argument.starts_with(['+', '-'])
        && after.len() > 2
        && after.as_bytes()[..2].iter().all(u8::is_ascii_digit)
        && after.as_bytes()[2] == b':';
    if offset_minutes {
        Some((&argument[..first + 3], &after[3..]))
    } else {
        Some((&argument[..first], after))
    }
}

fn macro_part(body: &str) -> Result<Part, String> {
    let (name, argument) = body.split_once(':').map_or((body, None), |(n, a)| (n, Some(a)));
    let pattern = |argument: Option<&str>| {
        JavaPattern::parse(
            argument.ok_or_else(|| format!("${{{name}}} needs a date pattern, as in ${{{name}:yyyy-MM-dd}}"))?,
        )
    };
    let utc = || Zone::Fixed(FixedOffset::east_opt(0).expect("zero offset"));
    Ok(match name {
        "gmtDate" | "date" => Part::Date(utc(), pattern(argument)?),
        "dateTimeZone" => {
            let (zone, format) = argument
                .and_then(split_zone)
                .ok_or("${dateTimeZone} is written ${dateTimeZone:<zone>:<pattern>}")?;
            Part::Date(Zone::parse(zone)?, JavaPattern::parse(format)?)
        }
        "epoch" => Part::Epoch(match argument {
            None | Some("ms") => Precision::Millis,
            Some("s") => Precision::Seconds,
            Some("us") => Precision::Micros,
            Some(other) => return Err(format!("${{epoch:{other}}}: the precision is s, ms or us")),
        }),
        "window.start" => Part::WindowStart(pattern(argument)?),
        "window.end" => Part::WindowEnd(pattern(argument)?),
        "pageSize" if argument.is_none() => Part::PageSize,
        "id" if argument.is_none() => Part::Id,
        _ => {
            return Err(format!(
                "unknown macro ${{{body}}}; the macros are gmtDate, date, dateTimeZone, epoch, window.start, \
                 window.end, pageSize and id"
            ));
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(text: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(text).unwrap().with_timezone(&Utc)
    }

    fn render(template: &str) -> String {
        let values = Values {
            last_poll: Some(at("2026-07-01T12:00:00.123456Z")),
            window: Some((at("2026-06-24T12:00:00Z"), at("2026-07-22T12:00:00Z"))),
            page_size: Some(100),
            id: Some("42"),
        };
        Template::parse(template).unwrap().render(&values).unwrap()
    }

    #[test]
    fn cloud_elements_macros() {
        assert_eq!(
            render("/hubs/crm/contacts?where=update_time >= '${gmtDate:yyyy-MM-dd HH:mm:ss}'"),
            "/hubs/crm/contacts?where=update_time >= '2026-07-01+12%3A00%3A00'"
        );
        assert_eq!(render("since=${epoch}"), "since=1782907200123");
        assert_eq!(
            render("since=${epoch:s}&us=${epoch:us}"),
            "since=1782907200&us=1782907200123456"
        );
        assert_eq!(render("t=${date:HH:mm}"), "t=12%3A00");
        // July: Los Angeles is on daylight time, as Java's PST would be.
        assert_eq!(render("t=${dateTimeZone:PST:HH:mm}"), "t=05%3A00");
        assert_eq!(render("t=${dateTimeZone:America/New_York:HH}"), "t=08");
        assert_eq!(render("t=${dateTimeZone:-8:00:HH:mm}"), "t=04%3A00");
        assert_eq!(render("t=${dateTimeZone:+05:30:HH:mm}"), "t=17%3A30");
        assert_eq!(render("t=${dateTimeZone:EST:HH}"), "t=07");
    }

    #[test]
    fn window_page_size_and_id() {
        assert_eq!(
            render(
                "/v1/messages?startTime=${window.start:yyyy-MM-dd'T'HH:mm:ss'Z'}&endTime=${window.end:yyyy-MM-dd'T'HH:mm:ss'Z'}&limit=${pageSize}"
            ),
            "/v1/messages?startTime=2026-06-24T12%3A00%3A00Z&endTime=2026-07-22T12%3A00%3A00Z&limit=100"
        );
        assert_eq!(render("/v1/messages/${id}"), "/v1/messages/42");
        assert!(Template::parse("/x/${window.start:yyyy}").unwrap().uses_window());
        assert!(Template::parse("/x/${id}").unwrap().uses_id());
    }

    #[test]
    fn path_templates_render_clean_paths_only() {
        let confirm = PathTemplate::parse("/v1/messages/${id}").unwrap();
        let with_id = |id| Values {
            id: Some(id),
            ..Values::default()
        };
        assert_eq!(confirm.render(&with_id("42")).unwrap().as_str(), "/v1/messages/42");
        // A record's id comes from the provider: one that would step out of the path, or
        // that a proxy could decode into a separator, is refused, never sent.
        for (id, error) in [
            ("..", PathError::DotSegment),
            ("a/b", PathError::EncodedInPath(b'/')),
            ("a\\b", PathError::EncodedInPath(b'\\')),
            ("%2F", PathError::EncodedInPath(b'%')),
        ] {
            assert!(
                matches!(confirm.render(&with_id(id)), Err(RenderError::Path { error: e, .. }) if e == error),
                "{id:?}"
            );
        }
        let dotted = PathTemplate::parse("/v1/.${id}").unwrap();
        assert!(matches!(
            dotted.render(&with_id(".")),
            Err(RenderError::Path {
                error: PathError::DotSegment,
                ..
            })
        ));
        assert!(matches!(
            PathTemplate::parse("/x?limit=${pageSize}")
                .unwrap()
                .render(&Values::default()),
            Err(RenderError::Values(_))
        ));
    }

    #[test]
    fn bad_templates_say_what_is_wrong() {
        for (template, expected) in [
            ("/x?since=${epoch", "unclosed macro"),
            ("/x?${nope}", "unknown macro ${nope}"),
            ("/x?${gmtDate}", "needs a date pattern"),
            ("/x?${epoch:ns}", "the precision is s, ms or us"),
            ("/x?${dateTimeZone:Mars/Base:HH}", "unknown time zone \"Mars/Base\""),
            ("/x?${gmtDate:yyyy-ww}", "ww is not supported"),
        ] {
            let err = Template::parse(template).unwrap_err();
            assert!(err.contains(expected), "{template}: {err}");
        }
    }
}
