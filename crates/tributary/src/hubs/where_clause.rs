//! A hub resource's `where` fields: which CEQL fields and operators its vendor can filter on,
//! and the vendor query parameters a parsed clause becomes. Declared per resource in the
//! element's TOML file, one entry per CEQL field (Hootsuite's `GET /v1/messages`):
//!
//! ```toml
//! startTime = { param = "startTime", type = "datetime" }
//! endTime = { param = "endTime", type = "datetime" }
//! state = { param = "state", values = ["PENDING_APPROVAL", "REJECTED", "SENT", "SCHEDULED", "SEND_FAILED_PERMANENTLY"] }
//! socialProfileIds = { param = "socialProfileIds", operators = ["=", "in"] }
//! includeUnscheduledReviewMsgs = { param = "includeUnscheduledReviewMsgs", type = "boolean" }
//! ```
//!
//! - `param`: the vendor's query parameter. Every accepted operator writes `param=value`;
//!   `in` writes it once per value, in the order given.
//! - `type`: `string` (the default: a quoted string, or a number as written), `number`,
//!   `boolean` (`true`/`false`), or `datetime`: a quoted date (`'2017-06-01'`, midnight UTC)
//!   or date and time (`T` or a space between them; `Z`, an offset, or none for UTC; any
//!   fraction of a second), sent as ISO-8601 UTC to the second, `2017-06-01T00:00:00Z`.
//! - `values`: for strings, the only values accepted.
//! - `operators`: those accepted, `["="]` by default; any but `is null` and `is not null`,
//!   which carry no value to send.
//! - `template`: the parameter's value with `{value}` in it once, for vendors with a filter
//!   syntax of their own (SCIM: `template = 'userName eq "{value}"'`). Values holding `"` or
//!   `\` are refused there, since the vendor's syntax would read them.
//!
//! A clause is the conditions it joins with `and`, each on a declared field with one of its
//! operators, each field once. `or` is refused: a query string can only say "all of these".
//! Saying one field twice is refused too: `a = 1 and a = 2` matches nothing in CEQL, while
//! vendors read a repeated parameter as "either"; `a in (1, 2)` says that.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Datelike, NaiveDate, NaiveDateTime, SecondsFormat, Timelike, Utc};
use serde::{Deserialize, Serialize};

use super::ceql::{CeqlError, Condition, Expr, Operator, Test, Value};

/// The fields one resource filters on, by CEQL name.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
#[serde(transparent)]
pub struct WhereFields(BTreeMap<String, FieldSpec>);

/// How one CEQL field becomes a vendor query parameter.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(try_from = "FieldDecl", into = "FieldDecl")]
pub struct FieldSpec {
    param: String,
    kind: Kind,
    operators: Vec<Operator>,
    template: Option<Template>,
}

#[derive(Debug, Clone, PartialEq)]
enum Kind {
    String { values: Option<Vec<String>> },
    Number,
    Boolean,
    Datetime,
}

/// A parameter value around the caller's: the text before `{value}` and after it.
#[derive(Debug, Clone, PartialEq)]
struct Template {
    before: String,
    after: String,
}

/// A field as an element file declares it.
#[derive(Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
struct FieldDecl {
    param: String,
    #[serde(rename = "type", default)]
    kind: Type,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    values: Option<Vec<String>>,
    #[serde(default = "equals_only")]
    operators: Vec<Operator>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    template: Option<String>,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
enum Type {
    #[default]
    String,
    Number,
    Boolean,
    Datetime,
}

const PLACEHOLDER: &str = "{value}";

fn equals_only() -> Vec<Operator> {
    vec![Operator::Eq]
}

impl WhereFields {
    /// The vendor query parameters for `expr`, in the order its conditions are written, or
    /// the reason the resource cannot take it.
    pub fn params(&self, expr: &Expr) -> Result<Vec<(String, String)>, CeqlError> {
        let mut conditions = Vec::new();
        all_of(expr, &mut conditions)?;
        let mut seen = BTreeSet::new();
        let mut params = Vec::new();
        for Condition { field, test } in conditions {
            let name = field.name();
            let spec = self.0.get(name).ok_or_else(|| CeqlError::UnsupportedField {
                field: name.to_string(),
                supported: self.0.keys().cloned().collect(),
            })?;
            let operator = test.operator();
            if !spec.operators.contains(&operator) {
                return Err(CeqlError::UnsupportedOperator {
                    field: name.to_string(),
                    operator,
                    supported: spec.operators.clone(),
                });
            }
            if !seen.insert(name) {
                return Err(CeqlError::Repeated {
                    field: name.to_string(),
                    listable: spec.operators.contains(&Operator::In),
                });
            }
            let values = match test {
                Test::Compare(_, value) => vec![spec.render(name, value)?],
                Test::Like { pattern, .. } => vec![spec.render(name, &Value::String(pattern.clone()))?],
                Test::In { values, .. } => values
                    .iter()
                    .map(|value| spec.render(name, value))
                    .collect::<Result<_, _>>()?,
                // No value to send; a field map cannot accept a null test (see `FieldDecl`).
                Test::Null { .. } => Vec::new(),
            };
            params.extend(values.into_iter().map(|value| (spec.param.clone(), value)));
        }
        Ok(params)
    }
}

/// The conditions `expr` requires all of; an `or` anywhere is refused.
fn all_of<'e>(expr: &'e Expr, into: &mut Vec<&'e Condition>) -> Result<(), CeqlError> {
    match expr {
        Expr::Condition(condition) => into.push(condition),
        Expr::And(items) => {
            for item in items {
                all_of(item, into)?;
            }
        }
        Expr::Or(_) => return Err(CeqlError::Or),
    }
    Ok(())
}

impl FieldSpec {
    /// One value as the vendor's parameter takes it.
    fn render(&self, field: &str, value: &Value) -> Result<String, CeqlError> {
        let bad = |reason: String| CeqlError::BadValue {
            field: field.to_string(),
            reason,
        };
        let text = match (&self.kind, value) {
            (Kind::String { .. }, Value::String(text)) => text.clone(),
            (Kind::String { .. } | Kind::Number, Value::Number(number)) => number.as_str().to_string(),
            (Kind::Boolean, Value::Boolean(value)) => value.to_string(),
            (Kind::Datetime, Value::String(text)) if let Some(at) = instant(text) => {
                at.to_rfc3339_opts(SecondsFormat::Secs, true)
            }
            (kind, value) => return Err(bad(format!("takes {}, not {value}", kind.expected()))),
        };
        if let Kind::String { values: Some(allowed) } = &self.kind
            && !allowed.contains(&text)
        {
            return Err(bad(format!("must be one of {}, not {value}", allowed.join(", "))));
        }
        match &self.template {
            Some(_) if text.contains(['"', '\\']) => Err(bad("cannot hold '\"' or '\\'".into())),
            Some(Template { before, after }) => Ok(format!("{before}{text}{after}")),
            None => Ok(text),
        }
    }
}

impl Kind {
    /// What a value of this kind looks like, for a caller who sent something else.
    fn expected(&self) -> &'static str {
        match self {
            Kind::String { .. } => "a quoted string",
            Kind::Number => "a number",
            Kind::Boolean => "true or false",
            Kind::Datetime => "a quoted date ('2017-06-01') or date and time ('2017-06-01T10:00:00Z')",
        }
    }
}

/// A date (midnight UTC) or a date and time (UTC unless an offset says otherwise), cut to
/// the second, within years 0 to 9999 so that it prints as ISO-8601.
fn instant(text: &str) -> Option<DateTime<Utc>> {
    let at = if let Ok(date) = NaiveDate::parse_from_str(text, "%Y-%m-%d") {
        date.and_hms_opt(0, 0, 0)?.and_utc()
    } else if let Ok(at) = DateTime::parse_from_rfc3339(text) {
        at.to_utc()
    } else {
        ["%Y-%m-%dT%H:%M:%S%.f", "%Y-%m-%d %H:%M:%S%.f"]
            .into_iter()
            .find_map(|format| NaiveDateTime::parse_from_str(text, format).ok())?
            .and_utc()
    };
    // A leap second (`23:59:60`) is held as nanoseconds past 10⁹; cutting them keeps it in range.
    let at = at.with_nanosecond(0)?;
    (0..=9999).contains(&at.year()).then_some(at)
}

impl TryFrom<FieldDecl> for FieldSpec {
    type Error = String;

    fn try_from(decl: FieldDecl) -> Result<Self, String> {
        if decl.param.is_empty() {
            return Err("param must name the vendor's query parameter".into());
        }
        if decl.operators.is_empty() {
            return Err("operators must list at least one operator".into());
        }
        if let Some(null) = decl
            .operators
            .iter()
            .find(|o| matches!(o, Operator::IsNull | Operator::IsNotNull))
        {
            return Err(format!("operators cannot hold '{null}': it has no value to send"));
        }
        let kind = match (decl.kind, decl.values) {
            (_, Some(values)) if values.is_empty() => return Err("values must list at least one value".into()),
            (Type::String, values) => Kind::String { values },
            (_, Some(_)) => return Err("values are for string fields only".into()),
            (Type::Number, None) => Kind::Number,
            (Type::Boolean, None) => Kind::Boolean,
            (Type::Datetime, None) => Kind::Datetime,
        };
        let template = match decl.template {
            None => None,
            Some(template) => match template.split_once(PLACEHOLDER) {
                Some((before, after)) if !after.contains(PLACEHOLDER) => Some(Template {
                    before: before.to_string(),
                    after: after.to_string(),
                }),
                _ => return Err(format!("template must hold {PLACEHOLDER} exactly once")),
            },
        };
        Ok(FieldSpec {
            param: decl.param,
            kind,
            operators: decl.operators,
            template,
        })
    }
}

impl From<FieldSpec> for FieldDecl {
    fn from(spec: FieldSpec) -> Self {
        let (kind, values) = match spec.kind {
            Kind::String { values } => (Type::String, values),
            Kind::Number => (Type::Number, None),
            Kind::Boolean => (Type::Boolean, None),
            Kind::Datetime => (Type::Datetime, None),
        };
        FieldDecl {
            param: spec.param,
            kind,
            values,
            operators: spec.operators,
            template: spec
                .template
                .map(|Template { before, after }| format!("{before}{PLACEHOLDER}{after}")),
        }
    }
}

#[cfg(test)]
mod tests {
    use figment::{
        Figment,
        providers::{Format, Toml},
    };

    use super::*;
    use crate::hubs::ceql::parse;

    /// Hootsuite's `GET /v1/messages` and SCIM `GET /scim/v2/Users`, as an element file
    /// would declare them (cloud-elements-hubs.md §3.3, §3.4), plus a number field.
    const RESOURCES: &str = r#"
        [messages]
        startTime = { param = "startTime", type = "datetime" }
        endTime = { param = "endTime", type = "datetime" }
        state = { param = "state", values = ["PENDING_APPROVAL", "REJECTED", "SENT", "SCHEDULED", "SEND_FAILED_PERMANENTLY"] }
        socialProfileIds = { param = "socialProfileIds", operators = ["=", "in"] }
        includeUnscheduledReviewMsgs = { param = "includeUnscheduledReviewMsgs", type = "boolean" }
        limit = { param = "limit", type = "number", operators = ["=", "<="] }
        text = { param = "q", operators = ["like"] }

        [users]
        userName = { param = "filter", template = 'userName eq "{value}"' }
    "#;

    fn resources() -> BTreeMap<String, WhereFields> {
        Figment::from(Toml::string(RESOURCES))
            .extract()
            .expect("the resources parse")
    }

    fn params(resource: &str, clause: &str) -> Result<Vec<(String, String)>, String> {
        let expr = parse(clause).map_err(|e| e.to_string())?;
        resources()[resource].params(&expr).map_err(|e| e.to_string())
    }

    fn pairs(expected: &[(&str, &str)]) -> Vec<(String, String)> {
        expected.iter().map(|(p, v)| (p.to_string(), v.to_string())).collect()
    }

    #[test]
    fn supported_clauses_become_vendor_parameters_in_order() {
        // (resource, clause, the vendor's parameters)
        type Case = (&'static str, &'static str, &'static [(&'static str, &'static str)]);
        let cases: &[Case] = &[
            // churros' clause, trailing space and all; a date alone is midnight UTC.
            (
                "messages",
                "startTime='2017-06-01' and endTime='2017-06-27' ",
                &[
                    ("startTime", "2017-06-01T00:00:00Z"),
                    ("endTime", "2017-06-27T00:00:00Z"),
                ],
            ),
            (
                "messages",
                "endTime = '2017-06-27T10:00:00Z' AND startTime = '2017-06-01T10:00:00.000Z'",
                &[
                    ("endTime", "2017-06-27T10:00:00Z"),
                    ("startTime", "2017-06-01T10:00:00Z"),
                ],
            ),
            (
                "messages",
                "startTime = '2017-06-01T12:30:00+02:00'",
                &[("startTime", "2017-06-01T10:30:00Z")],
            ),
            (
                "messages",
                "startTime = '2017-06-01T00:30:00-01:00'",
                &[("startTime", "2017-06-01T01:30:00Z")],
            ),
            (
                "messages",
                "startTime = '2017-06-01 10:00:00'",
                &[("startTime", "2017-06-01T10:00:00Z")],
            ),
            (
                "messages",
                "startTime = '2017-06-01 10:00:00Z'",
                &[("startTime", "2017-06-01T10:00:00Z")],
            ),
            (
                "messages",
                "startTime = '2017-06-01T10:00:00'",
                &[("startTime", "2017-06-01T10:00:00Z")],
            ),
            (
                "messages",
                "startTime = '2017-06-01T10:00:00.999999Z'",
                &[("startTime", "2017-06-01T10:00:00Z")],
            ),
            (
                "messages",
                "startTime = '2016-12-31T23:59:60Z'",
                &[("startTime", "2016-12-31T23:59:59Z")],
            ),
            ("messages", "state = 'SCHEDULED'", &[("state", "SCHEDULED")]),
            (
                "messages",
                "socialProfileIds = '115185509'",
                &[("socialProfileIds", "115185509")],
            ),
            (
                "messages",
                "socialProfileIds = 115185509",
                &[("socialProfileIds", "115185509")],
            ),
            (
                "messages",
                "socialProfileIds in ('1', 2, '3')",
                &[
                    ("socialProfileIds", "1"),
                    ("socialProfileIds", "2"),
                    ("socialProfileIds", "3"),
                ],
            ),
            (
                "messages",
                "includeUnscheduledReviewMsgs = TRUE",
                &[("includeUnscheduledReviewMsgs", "true")],
            ),
            ("messages", "limit <= 100", &[("limit", "100")]),
            ("messages", "text like 'launch%'", &[("q", "launch%")]),
            (
                "messages",
                "(startTime = '2017-06-01' and (state = 'SENT')) and endTime = '2017-06-02'",
                &[
                    ("startTime", "2017-06-01T00:00:00Z"),
                    ("state", "SENT"),
                    ("endTime", "2017-06-02T00:00:00Z"),
                ],
            ),
            (
                "users",
                "userName = 'jo@example.com'",
                &[("filter", "userName eq \"jo@example.com\"")],
            ),
        ];
        for (resource, clause, expected) in cases {
            assert_eq!(params(resource, clause), Ok(pairs(expected)), "{clause}");
        }
    }

    #[test]
    fn unsupported_clauses_are_refused_naming_what_to_change() {
        let cases = [
            (
                "messages",
                "Name = 'x'",
                "where: this resource cannot filter on Name; it filters on endTime, includeUnscheduledReviewMsgs, \
                 limit, socialProfileIds, startTime, state, text",
            ),
            (
                "messages",
                "starttime = '2017-06-01'",
                "where: this resource cannot filter on starttime; it filters on endTime, \
                 includeUnscheduledReviewMsgs, limit, socialProfileIds, startTime, state, text",
            ),
            (
                "messages",
                "startTime >= '2017-06-01'",
                "where: startTime does not support '>='; it supports '='",
            ),
            (
                "messages",
                "socialProfileIds != '1'",
                "where: socialProfileIds does not support '!='; it supports '=', 'in'",
            ),
            (
                "messages",
                "state is null",
                "where: state does not support 'is null'; it supports '='",
            ),
            (
                "messages",
                "state not in ('SENT')",
                "where: state does not support 'not in'; it supports '='",
            ),
            (
                "messages",
                "state = 'SENT' or state = 'SCHEDULED'",
                "where: this resource cannot combine conditions with 'or': its provider only takes conditions \
                 that must all hold; use 'and', or make one request per alternative",
            ),
            (
                "messages",
                "startTime = '2017-06-01' and (state = 'SENT' or endTime = '2017-06-02')",
                "where: this resource cannot combine conditions with 'or': its provider only takes conditions \
                 that must all hold; use 'and', or make one request per alternative",
            ),
            (
                "messages",
                "startTime = '2017-06-01' and startTime = '2017-06-02'",
                "where: startTime is given more than once; the provider takes it once",
            ),
            (
                "messages",
                "socialProfileIds = 1 and socialProfileIds = 2",
                "where: socialProfileIds is given more than once; the provider takes it once (for several values, \
                 write socialProfileIds in (…))",
            ),
            (
                "messages",
                "startTime = 20170601",
                "where: startTime takes a quoted date ('2017-06-01') or date and time ('2017-06-01T10:00:00Z'), \
                 not 20170601",
            ),
            (
                "messages",
                "startTime = '2017-13-01'",
                "where: startTime takes a quoted date ('2017-06-01') or date and time ('2017-06-01T10:00:00Z'), \
                 not '2017-13-01'",
            ),
            (
                "messages",
                "startTime = 'yesterday'",
                "where: startTime takes a quoted date ('2017-06-01') or date and time ('2017-06-01T10:00:00Z'), \
                 not 'yesterday'",
            ),
            (
                "messages",
                "startTime = '9999-12-31T23:00:00-05:00'",
                "where: startTime takes a quoted date ('2017-06-01') or date and time ('2017-06-01T10:00:00Z'), \
                 not '9999-12-31T23:00:00-05:00'",
            ),
            (
                "messages",
                "state = 'sent'",
                "where: state must be one of PENDING_APPROVAL, REJECTED, SENT, SCHEDULED, SEND_FAILED_PERMANENTLY, \
                 not 'sent'",
            ),
            (
                "messages",
                "state = true",
                "where: state takes a quoted string, not true",
            ),
            (
                "messages",
                "socialProfileIds in (1, null)",
                "where: socialProfileIds takes a quoted string, not null",
            ),
            (
                "messages",
                "includeUnscheduledReviewMsgs = 'true'",
                "where: includeUnscheduledReviewMsgs takes true or false, not 'true'",
            ),
            ("messages", "limit = '100'", "where: limit takes a number, not '100'"),
            (
                "users",
                "userName = 'a\" or userName pr \"'",
                "where: userName cannot hold '\"' or '\\'",
            ),
            ("users", "userName = 'a\\b'", "where: userName cannot hold '\"' or '\\'"),
        ];
        for (resource, clause, message) in cases {
            assert_eq!(params(resource, clause), Err(message.to_string()), "{clause}");
        }
    }

    #[test]
    fn a_resource_without_fields_takes_no_where_clause() {
        let expr = parse("a = 1").expect("parses");
        assert_eq!(
            WhereFields::default().params(&expr).map_err(|e| e.to_string()),
            Err("where: this resource takes no where clause".to_string())
        );
    }

    #[test]
    fn declarations_that_cannot_work_are_refused_when_the_element_loads() {
        let cases = [
            (r#"f = { param = "" }"#, "param must name the vendor's query parameter"),
            (
                r#"f = { param = "p", operators = [] }"#,
                "operators must list at least one operator",
            ),
            (
                r#"f = { param = "p", operators = ["=", "is null"] }"#,
                "operators cannot hold 'is null': it has no value to send",
            ),
            (r#"f = { param = "p", operators = ["=="] }"#, "unknown operator \"==\""),
            (
                r#"f = { param = "p", values = [] }"#,
                "values must list at least one value",
            ),
            (
                r#"f = { param = "p", type = "number", values = ["1"] }"#,
                "values are for string fields only",
            ),
            (r#"f = { param = "p", type = "date" }"#, "unknown variant"),
            (
                r#"f = { param = "p", template = "no placeholder" }"#,
                "template must hold {value} exactly once",
            ),
            (
                r#"f = { param = "p", template = "{value} {value}" }"#,
                "template must hold {value} exactly once",
            ),
            (r#"f = { param = "p", vendorName = "q" }"#, "unknown field"),
            (r#"f = { type = "string" }"#, "missing field"),
        ];
        for (toml, reason) in cases {
            let error = Figment::from(Toml::string(toml))
                .extract::<WhereFields>()
                .expect_err(toml)
                .to_string();
            assert!(error.contains(reason), "{toml}: {error}");
        }
    }

    #[test]
    fn declarations_serialize_as_they_are_written() {
        for fields in resources().values() {
            let written = serde_json::to_value(fields).expect("serializes");
            let read: WhereFields = serde_json::from_value(written).expect("reads back");
            assert_eq!(&read, fields);
        }
    }
}
