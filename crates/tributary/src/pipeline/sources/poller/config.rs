//! `event.poller.configuration`: what to poll, per resource, with Cloud Elements' fields
//! (`url`, `idField`, `datesConfiguration`, `filterByUpdatedDate`, `filterByCurrentDate`,
//! `pageSize`, `pollDelay`, `createdCheckTolerance`) and this hub's additions for APIs that
//! have no updated date: `strategy: "snapshot"`, a sliding `window`, `recordsPath`,
//! `nextPage` and `confirmUrl`.
//!
//! Parsed when an instance is created or changed, and again before each poll; a bad
//! configuration is refused, with a message naming the field. `url` and `confirmUrl` are
//! [`PathTemplate`]s: a path and a query on the provider's API, never a host.

use std::collections::BTreeMap;

use serde::Deserialize;
use serde_json::Value;

use super::{
    javatime::JavaPattern,
    template::{PathTemplate, Zone},
};

#[derive(Debug, Clone, PartialEq)]
pub struct PollerConfig {
    pub resources: BTreeMap<String, Resource>,
}

/// How changes to one resource are found.
#[derive(Debug, Clone, PartialEq)]
pub struct Resource {
    pub url: PathTemplate,
    /// Dotted path to each record's id.
    pub id_field: String,
    /// Dotted path to the records in a response; the response itself when absent.
    pub records_path: Option<String>,
    pub next_page: Option<NextPage>,
    pub page_size: Option<u32>,
    pub strategy: Strategy,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Strategy {
    /// Cloud Elements' rule: records updated since the last poll; created equal to updated
    /// (within the tolerance) is CREATED, earlier is UPDATED.
    UpdatedDate(UpdatedDate),
    /// Fingerprint every record: a new id is CREATED, a changed one UPDATED, and one that
    /// vanished from a completely read window DELETED.
    Snapshot(Snapshot),
}

#[derive(Debug, Clone, PartialEq)]
pub struct UpdatedDate {
    pub updated: DateField,
    pub created: DateField,
    pub filter_by_updated_date: bool,
    pub filter_by_current_date: bool,
    /// Seconds taken off the last poll time, for providers whose timestamps lag.
    pub poll_delay: u64,
    /// Seconds within which created and updated count as equal.
    pub created_check_tolerance: u64,
}

#[derive(Debug, Clone, PartialEq)]
pub struct DateField {
    pub path: String,
    pub pattern: JavaPattern,
    pub zone: Zone,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Snapshot {
    pub window: Option<Window>,
    /// GET per vanished id (`${id}`): 404 or 410 confirms a deletion, an answer means the
    /// record only moved out of the window.
    pub confirm_url: Option<PathTemplate>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Window {
    /// Dotted path to the ISO-8601 time that places a record in the window.
    pub field: String,
    pub lookback: chrono::Duration,
    pub lookahead: chrono::Duration,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct NextPage {
    /// Dotted path to the next page's cursor in a response (null or absent: last page).
    pub path: String,
    /// Query parameter that carries the cursor.
    pub param: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct RawResource {
    url: String,
    id_field: String,
    #[serde(default)]
    strategy: RawStrategy,
    records_path: Option<String>,
    next_page: Option<NextPage>,
    page_size: Option<u32>,
    dates_configuration: Option<RawDates>,
    filter_by_updated_date: Option<bool>,
    filter_by_current_date: Option<bool>,
    poll_delay: Option<u64>,
    created_check_tolerance: Option<u64>,
    window: Option<RawWindow>,
    confirm_url: Option<String>,
}

#[derive(Deserialize, Default, PartialEq)]
#[serde(rename_all = "camelCase")]
enum RawStrategy {
    #[default]
    UpdatedDate,
    Snapshot,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct RawDates {
    updated_date_field: String,
    updated_date_format: String,
    updated_date_timezone: Option<String>,
    created_date_field: String,
    created_date_format: String,
    created_date_timezone: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct RawWindow {
    field: String,
    lookback_hours: f64,
    lookahead_hours: f64,
}

/// The longest window: Hootsuite refuses listings over four weeks.
const MAX_WINDOW_HOURS: f64 = 24.0 * 366.0;

impl PollerConfig {
    /// Parses a configuration object keyed by resource name; errors name the field.
    pub fn parse(value: &Value) -> Result<Self, String> {
        let Value::Object(map) = value else {
            return Err("expected an object keyed by resource name, e.g. {\"messages\": {\"url\": …}}".into());
        };
        if map.is_empty() {
            return Err("name at least one resource to poll".into());
        }
        let mut resources = BTreeMap::new();
        for (name, body) in map {
            let raw: RawResource = serde_path_to_error::deserialize(body).map_err(|e| {
                let path = e.path().to_string();
                let at = if path == "." { String::new() } else { format!(".{path}") };
                format!("{name}{at}: {}", e.into_inner())
            })?;
            resources.insert(name.clone(), resource(raw).map_err(|e| format!("{name}.{e}"))?);
        }
        Ok(Self { resources })
    }
}

fn resource(raw: RawResource) -> Result<Resource, String> {
    let url = PathTemplate::parse(&raw.url).map_err(|e| format!("url: {e}"))?;
    if url.uses_id() {
        return Err("url: ${id} belongs in confirmUrl".into());
    }
    if raw.id_field.trim().is_empty() {
        return Err("idField: name the field holding each record's id".into());
    }
    if let Some(size) = raw.page_size
        && !(1..=10_000).contains(&size)
    {
        return Err(format!("pageSize: must be 1 to 10000, got {size}"));
    }
    let strategy = match raw.strategy {
        RawStrategy::UpdatedDate => {
            let dates = raw
                .dates_configuration
                .ok_or("datesConfiguration: required to tell CREATED from UPDATED (or use strategy \"snapshot\")")?;
            if raw.window.is_some() || raw.confirm_url.is_some() {
                return Err("window: and confirmUrl belong to strategy \"snapshot\"".into());
            }
            Strategy::UpdatedDate(UpdatedDate {
                updated: date_field(
                    &dates.updated_date_field,
                    &dates.updated_date_format,
                    dates.updated_date_timezone.as_deref(),
                )
                .map_err(|e| format!("datesConfiguration.updatedDate{e}"))?,
                created: date_field(
                    &dates.created_date_field,
                    &dates.created_date_format,
                    dates.created_date_timezone.as_deref(),
                )
                .map_err(|e| format!("datesConfiguration.createdDate{e}"))?,
                filter_by_updated_date: raw.filter_by_updated_date.unwrap_or(true),
                filter_by_current_date: raw.filter_by_current_date.unwrap_or(false),
                poll_delay: raw.poll_delay.unwrap_or(0),
                created_check_tolerance: raw.created_check_tolerance.unwrap_or(0),
            })
        }
        RawStrategy::Snapshot => {
            if raw.dates_configuration.is_some() {
                return Err("datesConfiguration: belongs to strategy \"updatedDate\"".into());
            }
            let window = raw.window.map(window).transpose()?;
            if window.is_some() != url.uses_window() {
                return Err(
                    "url: a window needs ${window.start:…} and ${window.end:…} in the url, and they need a window"
                        .into(),
                );
            }
            let confirm_url = raw
                .confirm_url
                .map(|text| {
                    let template = PathTemplate::parse(&text).map_err(|e| format!("confirmUrl: {e}"))?;
                    if !template.uses_id() {
                        return Err(format!(
                            "confirmUrl: a path on the provider's API with ${{id}}, got {text:?}"
                        ));
                    }
                    Ok(template)
                })
                .transpose()?;
            Strategy::Snapshot(Snapshot { window, confirm_url })
        }
    };
    Ok(Resource {
        url,
        id_field: raw.id_field,
        records_path: raw.records_path,
        next_page: raw.next_page,
        page_size: raw.page_size,
        strategy,
    })
}

fn date_field(path: &str, format: &str, zone: Option<&str>) -> Result<DateField, String> {
    if path.trim().is_empty() {
        return Err("Field: name the field".into());
    }
    Ok(DateField {
        path: path.to_string(),
        pattern: JavaPattern::parse(format).map_err(|e| format!("Format: {e}"))?,
        zone: Zone::parse(zone.unwrap_or("GMT")).map_err(|e| format!("Timezone: {e}"))?,
    })
}

fn window(raw: RawWindow) -> Result<Window, String> {
    let hours = |name: &str, value: f64| {
        if value.is_finite() && (0.0..=MAX_WINDOW_HOURS).contains(&value) {
            Ok(chrono::Duration::milliseconds((value * 3_600_000.0) as i64))
        } else {
            Err(format!(
                "window.{name}: must be 0 to {MAX_WINDOW_HOURS} hours, got {value}"
            ))
        }
    };
    let lookback = hours("lookbackHours", raw.lookback_hours)?;
    let lookahead = hours("lookaheadHours", raw.lookahead_hours)?;
    if lookback + lookahead <= chrono::Duration::zero() {
        return Err("window: lookbackHours plus lookaheadHours must be more than zero".into());
    }
    Ok(Window {
        field: raw.field,
        lookback,
        lookahead,
    })
}

/// The value at a dotted path (`user.id`, `data`).
pub fn at_path<'a>(value: &'a Value, path: &str) -> Option<&'a Value> {
    path.split('.')
        .filter(|s| !s.is_empty())
        .try_fold(value, |v, key| v.get(key))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn error(value: Value) -> String {
        PollerConfig::parse(&value).unwrap_err()
    }

    #[test]
    fn cloud_elements_example_parses() {
        let config = PollerConfig::parse(&json!({
            "contacts": {
                "url": "/hubs/crm/contacts?where=update_time >= '${gmtDate:yyyy-MM-dd HH:mm:ss}'",
                "idField": "user.id",
                "filterByUpdatedDate": true,
                "filterByCurrentDate": true,
                "datesConfiguration": {
                    "updatedDateField": "update_time", "updatedDateFormat": "yyyy-MM-dd HH:mm:ss", "updatedDateTimezone": "GMT",
                    "createdDateField": "add_time", "createdDateFormat": "yyyy-MM-dd HH:mm:ss", "createdDateTimezone": "GMT"
                },
                "createdCheckTolerance": 2,
                "pageSize": 10000,
                "pollDelay": 30
            }
        }))
        .unwrap();
        let contacts = &config.resources["contacts"];
        let Strategy::UpdatedDate(dates) = &contacts.strategy else {
            panic!()
        };
        assert_eq!((dates.poll_delay, dates.created_check_tolerance), (30, 2));
        assert!(dates.filter_by_current_date);
    }

    #[test]
    fn errors_name_the_field() {
        let snapshot = |extra: Value| {
            let mut base = json!({"url": "/v1/messages?s=${window.start:yyyy}&e=${window.end:yyyy}", "idField": "id",
                "strategy": "snapshot", "window": {"field": "t", "lookbackHours": 1, "lookaheadHours": 1}});
            for (k, v) in extra.as_object().unwrap() {
                base[k] = v.clone();
            }
            json!({"messages": base})
        };
        for (value, expected) in [
            (json!([]), "expected an object keyed by resource name"),
            (json!({}), "name at least one resource"),
            (json!({"m": {"idField": "id"}}), "m: missing field `url`"),
            (
                json!({"m": {"url": "/x", "idField": "id", "colour": 1}}),
                "m.colour: unknown field `colour`",
            ),
            (
                json!({"m": {"url": "/x", "idField": 5}}),
                "m.idField: invalid type: integer `5`",
            ),
            (
                json!({"m": {"url": "https://evil.example/x", "idField": "id", "strategy": "snapshot"}}),
                "m.url: must be a path",
            ),
            (
                json!({"m": {"url": "/x", "idField": "id"}}),
                "m.datesConfiguration: required",
            ),
            (
                json!({"m": {"url": "/x?${nope}", "idField": "id", "strategy": "snapshot"}}),
                "m.url: unknown macro",
            ),
            (
                snapshot(json!({"pageSize": 0})),
                "messages.pageSize: must be 1 to 10000",
            ),
            (
                snapshot(json!({"window": {"field": "t", "lookbackHours": -1, "lookaheadHours": 1}})),
                "messages.window.lookbackHours",
            ),
            (
                snapshot(json!({"confirmUrl": "/v1/messages"})),
                "messages.confirmUrl: a path on the provider's API with ${id}",
            ),
            (
                snapshot(json!({"strategy": "guess"})),
                "messages.strategy: unknown variant `guess`",
            ),
            (
                json!({"m": {"url": "/x", "idField": "id", "strategy": "snapshot", "window": {"field": "t", "lookbackHours": 1, "lookaheadHours": 1}}}),
                "m.url: a window needs",
            ),
            (
                json!({"m": {"url": "/x", "idField": "id", "datesConfiguration": {"updatedDateField": "u", "updatedDateFormat": "yyyy-ww",
                    "createdDateField": "c", "createdDateFormat": "yyyy"}}}),
                "m.datesConfiguration.updatedDateFormat: date pattern \"yyyy-ww\": ww is not supported",
            ),
            (
                json!({"m": {"url": "/x", "idField": "id", "datesConfiguration": {"updatedDateField": "u", "updatedDateFormat": "yyyy",
                    "updatedDateTimezone": "Nowhere", "createdDateField": "c", "createdDateFormat": "yyyy"}}}),
                "m.datesConfiguration.updatedDateTimezone: unknown time zone",
            ),
        ] {
            let err = error(value.clone());
            assert!(err.contains(expected), "{value}: {err}");
        }
    }

    /// The attacker's spellings (issue 16), with which `Url::join` left the provider's host,
    /// and their kin: each is refused, naming the field.
    #[test]
    fn urls_that_leave_the_provider_are_refused() {
        let snapshot = |url: &str, confirm: &str| json!({"messages": {"strategy": "snapshot", "url": url, "idField": "id", "confirmUrl": confirm}});
        let hostile = [
            "/\\127.0.0.2:3001/leak",
            "/\t/127.0.0.2:3001/leak",
            "/\n/127.0.0.2:3001/leak",
            "/\r/127.0.0.2:3001/leak",
            "//127.0.0.2:3001/leak",
            "\\\\127.0.0.2/leak",
            "/ /127.0.0.2/leak",
            "/%5C127.0.0.2/leak",
            "/%2F127.0.0.2/leak",
            "/x@127.0.0.2/leak",
            "/\u{3000}/127.0.0.2/leak",
            "http://127.0.0.2/leak",
            "${id}/leak",
            "/${gmtDate:yyyy}/../leak",
        ];
        for url in hostile {
            let err = error(snapshot(url, "/v1/messages/${id}"));
            assert!(
                err.starts_with("messages.url: must be a path on the provider's API"),
                "{url:?}: {err}"
            );
        }
        for confirm in hostile
            .iter()
            .map(|h| format!("{h}/${{id}}"))
            .chain(["//127.0.0.2:3001/confirm/${id}".into()])
        {
            let err = error(snapshot("/v1/messages", &confirm));
            assert!(
                err.starts_with("messages.confirmUrl: must be a path on the provider's API"),
                "{confirm:?}: {err}"
            );
        }
    }

    #[test]
    fn dotted_paths() {
        let value = json!({"user": {"id": 7}, "data": [1]});
        assert_eq!(at_path(&value, "user.id"), Some(&json!(7)));
        assert_eq!(at_path(&value, "data"), Some(&json!([1])));
        assert_eq!(at_path(&value, "user.name"), None);
    }
}
