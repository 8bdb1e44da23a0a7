//! SCIM 2.0 users under `/scim/v2/Users` (cloud-elements-hubs.md §4): listing with an equality
//! filter on `userName` and 1-based paging, retrieval, and creation. Answers are not wrapped in
//! `data`, and errors use SCIM's own envelope, `{"schemas", "status", "detail", "scimType"?}`.
//!
//! A SCIM user is a view of a member: the users a caller sees are the members of the
//! organizations where it holds ORG_MANAGE_MEMBER (an organization token: its organization).

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Extension, Json, Router, middleware};
use serde::Deserialize;
use serde_json::{Value, json};

use super::access::may_add_members;
use super::members::{NAME_LENGTH, OrganizationId};
use super::{Refusal, Refuse, authenticate};
use crate::clock::{format_millis, whole_seconds};
use crate::directory::{LANGUAGES, Member, Subject, is_email, is_timezone};
use crate::faults::{self, FaultBody};
use crate::oauth::grants::Caller;
use crate::permissions::Manage;
use crate::state::{Sim, World};

const USER_SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:User";
const LIST_SCHEMA: &str = "urn:ietf:params:scim:api:messages:2.0:ListResponse";
const ERROR_SCHEMA: &str = "urn:ietf:params:scim:api:messages:2.0:Error";
/// The key under which churros' asset passes `organizationIds`; not in Hootsuite's Swagger.
const HOOTSUITE_EXTENSION: &str = "urn:ietf:params:scim:schemas:extension:Hootsuite:2.0:User";

/// A page holds at most this many users, and this many when `count` is absent.
const MAX_COUNT: usize = 100;

/// `{"schemas": [Error], "status": "400", "detail": …, "scimType"?: …}`.
#[derive(Debug)]
pub struct ScimError {
    status: StatusCode,
    detail: String,
    scim_type: Option<&'static str>,
}

impl ScimError {
    fn new(status: StatusCode, detail: impl Into<String>) -> Self {
        Self {
            status,
            detail: detail.into(),
            scim_type: None,
        }
    }

    /// 400 with one of the Swagger's `scimType`s: invalidSyntax, invalidValue, uniqueness.
    fn bad(scim_type: &'static str, detail: impl Into<String>) -> Self {
        Self {
            scim_type: Some(scim_type),
            ..Self::new(StatusCode::BAD_REQUEST, detail)
        }
    }

    fn not_found(id: &str) -> Self {
        Self::new(StatusCode::NOT_FOUND, format!("User {id} not found"))
    }
}

impl IntoResponse for ScimError {
    fn into_response(self) -> Response {
        let mut body = json!({
            "schemas": [ERROR_SCHEMA],
            "status": self.status.as_u16().to_string(),
            "detail": self.detail,
        });
        if let Some(scim_type) = self.scim_type {
            body["scimType"] = json!(scim_type);
        }
        (self.status, Json(body)).into_response()
    }
}

impl Refuse for ScimError {
    fn refusal(refusal: Refusal) -> Self {
        match refusal {
            Refusal::MissingToken => Self::new(StatusCode::UNAUTHORIZED, "Missing or duplicate access token"),
            Refusal::InvalidToken => Self::new(StatusCode::UNAUTHORIZED, "Invalid access token"),
            Refusal::RateLimited => Self::new(StatusCode::TOO_MANY_REQUESTS, "Account plan limit exceeded"),
        }
    }
}

impl FaultBody for ScimError {
    fn fault(status: StatusCode) -> Response {
        let detail = status
            .canonical_reason()
            .unwrap_or("Injected by the simulator's fault control.");
        Self::new(status, detail).into_response()
    }
}

type ScimResult = Result<Json<Value>, ScimError>;

pub fn router(sim: Arc<Sim>) -> Router<Arc<Sim>> {
    Router::new()
        .route("/Users", get(list).post(create))
        .route("/Users/{id}", get(get_user))
        .fallback(|| async { ScimError::new(StatusCode::NOT_FOUND, "Resource not found") })
        .method_not_allowed_fallback(|| async {
            ScimError::new(StatusCode::METHOD_NOT_ALLOWED, "HTTP method not permitted")
        })
        .layer(middleware::from_fn_with_state(sim.clone(), authenticate::<ScimError>))
        .layer(middleware::from_fn_with_state(sim, faults::inject::<ScimError>))
}

/// The organizations whose users the caller manages; none is 403.
fn scope(w: &World, caller: &Caller) -> Result<Vec<String>, ScimError> {
    let candidates: Vec<&str> = match &caller.subject {
        Subject::Organization(id) => vec![id.as_str()],
        Subject::Member(id) => w
            .directory
            .member(id)
            .map(|m| m.organization_ids().collect())
            .unwrap_or_default(),
    };
    let orgs: Vec<String> = candidates
        .into_iter()
        .filter(|org| {
            w.directory
                .standing(&caller.subject, org)
                .is_some_and(|s| s.may(Manage::Members))
        })
        .map(str::to_owned)
        .collect();
    if orgs.is_empty() {
        return Err(ScimError::new(
            StatusCode::FORBIDDEN,
            "Managing users needs the ORG_MANAGE_MEMBER permission in an organization",
        ));
    }
    Ok(orgs)
}

/// The members in the caller's scope, in id order.
fn users<'w>(w: &'w World, orgs: &[String]) -> Vec<&'w Member> {
    w.directory
        .members()
        .filter(|m| m.organization_ids().any(|id| orgs.iter().any(|org| org == id)))
        .collect()
}

/// The Swagger `ScimUser`. `name` splits `fullName` at its first space; the one email is the
/// member's, which is also the `userName`; `groups` are the member's teams.
fn user_json(w: &World, base_url: &str, member: &Member) -> Value {
    let (given, family) = member
        .full_name
        .split_once(' ')
        .unwrap_or((member.full_name.as_str(), ""));
    let groups: Vec<Value> = w
        .directory
        .teams_of_member(&member.id)
        .map(|t| json!({ "value": t.id, "$ref": format!("{base_url}/scim/v2/Groups/{}", t.id), "display": t.name }))
        .collect();
    json!({
        "schemas": [USER_SCHEMA],
        "id": member.id,
        "meta": {
            "resourceType": "User",
            "created": format_millis(member.created),
            "lastModified": format_millis(member.created),
        },
        "userName": member.email,
        "name": { "givenName": given, "familyName": family },
        "emails": [{ "primary": true, "value": member.email, "type": "work" }],
        "displayName": member.full_name,
        "timezone": member.timezone,
        "preferredLanguage": member.language,
        "title": member.title,
        "groups": groups,
        "active": member.active,
    })
}

/// The query of `GET /Users`, already validated.
#[derive(Debug, PartialEq, Eq)]
struct ListQuery {
    user_name: Option<String>,
    start_index: usize,
    count: usize,
}

/// `userName eq "x@y.com"`: the only filter Hootsuite supports ("equals filtering on
/// username"). Attribute and operator are case-insensitive, as SCIM says.
fn parse_filter(filter: &str) -> Result<String, ScimError> {
    let unsupported = || {
        ScimError::bad(
            "invalidSyntax",
            format!("Unsupported filter {filter:?}: only userName eq \"…\" is supported"),
        )
    };
    let mut parts = filter.trim().splitn(3, ' ');
    let (Some(attribute), Some(operator), Some(value)) = (parts.next(), parts.next(), parts.next()) else {
        return Err(unsupported());
    };
    if !attribute.eq_ignore_ascii_case("userName") || !operator.eq_ignore_ascii_case("eq") {
        return Err(unsupported());
    }
    let value = value.trim();
    if !value.starts_with('"') {
        return Err(unsupported());
    }
    serde_json::from_str(value).map_err(|_| unsupported())
}

/// SCIM's paging rules: `startIndex` below 1 means 1, `count` below 0 means 0; `count` is capped
/// at [`MAX_COUNT`].
fn parse_list_query(raw: &str) -> Result<ListQuery, ScimError> {
    let mut query = ListQuery {
        user_name: None,
        start_index: 1,
        count: MAX_COUNT,
    };
    let number = |name: &str, value: &str| {
        value
            .trim()
            .parse::<i64>()
            .map_err(|_| ScimError::bad("invalidValue", format!("{name} must be an integer")))
    };
    for (key, value) in url::form_urlencoded::parse(raw.as_bytes()) {
        match key.as_ref() {
            "filter" => query.user_name = Some(parse_filter(&value)?),
            "startIndex" => query.start_index = usize::try_from(number("startIndex", &value)?.max(1)).unwrap_or(1),
            "count" => {
                let count = usize::try_from(number("count", &value)?.max(0)).unwrap_or(0);
                query.count = count.min(MAX_COUNT);
            }
            _ => {}
        }
    }
    Ok(query)
}

/// `itemsPerPage` is the page size used, as in the Swagger's example (8 results, 10 per page).
async fn list(
    State(sim): State<Arc<Sim>>,
    Extension(caller): Extension<Caller>,
    RawQuery(raw): RawQuery,
) -> ScimResult {
    let query = parse_list_query(raw.as_deref().unwrap_or_default())?;
    sim.with_world(|w| {
        let orgs = scope(w, &caller)?;
        let matching: Vec<&Member> = users(w, &orgs)
            .into_iter()
            .filter(|m| {
                query
                    .user_name
                    .as_ref()
                    .is_none_or(|name| m.email.eq_ignore_ascii_case(name))
            })
            .collect();
        let page: Vec<Value> = matching
            .iter()
            .skip(query.start_index - 1)
            .take(query.count)
            .map(|m| user_json(w, &sim.base_url, m))
            .collect();
        Ok(Json(json!({
            "schemas": [LIST_SCHEMA],
            "totalResults": matching.len(),
            "startIndex": query.start_index,
            "itemsPerPage": query.count,
            "Resources": page,
        })))
    })
}

async fn get_user(
    State(sim): State<Arc<Sim>>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
) -> ScimResult {
    sim.with_world(|w| {
        let orgs = scope(w, &caller)?;
        let member = users(w, &orgs)
            .into_iter()
            .find(|m| m.id == id)
            .ok_or_else(|| ScimError::not_found(&id))?;
        Ok(Json(user_json(w, &sim.base_url, member)))
    })
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct HootsuiteExtension {
    organization_ids: Vec<OrganizationId>,
}

/// The Swagger `CreateReplaceScimUser`: `displayName`, `userName` and `active` are required,
/// and so is `primary` in each of `emails`.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct NewUser {
    schemas: Option<Vec<String>>,
    user_name: String,
    display_name: String,
    active: bool,
    /// Checked for `primary` only: the member's one address is the `userName`.
    emails: Option<Vec<Value>>,
    timezone: Option<String>,
    preferred_language: Option<String>,
    title: Option<String>,
    #[serde(rename = "urn:ietf:params:scim:schemas:extension:Hootsuite:2.0:User")]
    hootsuite: Option<HootsuiteExtension>,
}

fn parse_user(body: &[u8]) -> Result<NewUser, ScimError> {
    serde_json::from_slice(body).map_err(|e| match e.classify() {
        serde_json::error::Category::Data => ScimError::bad(
            "invalidValue",
            format!("A required value was missing, or the value specified was not compatible with the operation or attribute type: {e}"),
        ),
        _ => ScimError::bad("invalidSyntax", format!("The request body is not valid JSON: {e}")),
    })
}

/// Creates a member in the organizations of the Hootsuite extension's `organizationIds`, or in
/// the caller's first managed organization. Answers 200, as the Swagger says (SCIM says 201);
/// a taken `userName` is 409 `uniqueness`.
async fn create(State(sim): State<Arc<Sim>>, Extension(caller): Extension<Caller>, body: Bytes) -> ScimResult {
    let user = parse_user(&body)?;
    if user
        .schemas
        .as_ref()
        .is_some_and(|s| !s.iter().any(|s| s == USER_SCHEMA))
    {
        return Err(ScimError::bad(
            "invalidValue",
            format!("schemas must contain {USER_SCHEMA}"),
        ));
    }
    let emails = user.emails.as_deref().unwrap_or_default();
    if !emails.iter().all(|e| e.get("primary").is_some_and(Value::is_boolean)) {
        return Err(ScimError::bad(
            "invalidValue",
            "every entry of emails needs a boolean primary",
        ));
    }
    let user_name = user.user_name.trim().to_owned();
    if !is_email(&user_name) {
        return Err(ScimError::bad(
            "invalidValue",
            "userName must be the user's email address",
        ));
    }
    let display_name = user.display_name.trim().to_owned();
    if !NAME_LENGTH.contains(&display_name.chars().count()) {
        return Err(ScimError::bad(
            "invalidValue",
            "displayName must be 2 to 100 characters",
        ));
    }
    if user
        .preferred_language
        .as_deref()
        .is_some_and(|l| !LANGUAGES.contains(&l))
    {
        return Err(ScimError::bad(
            "invalidValue",
            format!("preferredLanguage must be one of {LANGUAGES:?}"),
        ));
    }
    if user.timezone.as_deref().is_some_and(|tz| !is_timezone(tz)) {
        return Err(ScimError::bad("invalidValue", "timezone must be a PHP time zone name"));
    }
    let requested: Option<Vec<String>> = user
        .hootsuite
        .map(|ext| {
            ext.organization_ids
                .iter()
                .map(OrganizationId::parse)
                .collect::<Option<Vec<_>>>()
                .ok_or_else(|| {
                    ScimError::bad(
                        "invalidValue",
                        format!("{HOOTSUITE_EXTENSION}.organizationIds must be organization ids"),
                    )
                })
        })
        .transpose()?;
    let now = sim.clock.now();
    sim.with_world(|w| {
        let orgs = match requested {
            Some(orgs) if !orgs.is_empty() => orgs,
            _ => scope(w, &caller)?.into_iter().take(1).collect(),
        };
        if !may_add_members(w, &caller, &orgs) {
            return Err(ScimError::new(
                StatusCode::FORBIDDEN,
                "Not authorized to make changes to organization",
            ));
        }
        if w.directory.email_in_use(&user_name) {
            return Err(ScimError {
                scim_type: Some("uniqueness"),
                ..ScimError::new(StatusCode::CONFLICT, format!("userName {user_name} is already in use"))
            });
        }
        let member = Member {
            title: user.title,
            active: user.active,
            ..Member::new(w.ids.next_id(), user_name, display_name, whole_seconds(now)).with_details(
                None,
                None,
                user.timezone,
                user.preferred_language,
            )
        };
        // A new member is in no team yet, so the view does not depend on the memberships.
        let view = user_json(w, &sim.base_url, &member);
        w.directory.add_member(member, &orgs);
        Ok(Json(view))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filters_are_user_name_equality_only() {
        assert_eq!(parse_filter(r#"userName eq "x@y.com""#).unwrap(), "x@y.com");
        assert_eq!(parse_filter(r#"USERNAME Eq "a \"b\"""#).unwrap(), r#"a "b""#);
        for bad in [
            r#"emails eq "x@y.com""#,
            r#"userName co "x""#,
            "userName eq x@y.com",
            "userName eq",
            r#"userName eq "x" and active eq true"#,
        ] {
            assert_eq!(parse_filter(bad).unwrap_err().scim_type, Some("invalidSyntax"), "{bad}");
        }
    }

    #[test]
    fn paging_follows_scim_rules() {
        let q = parse_list_query("").unwrap();
        assert_eq!((q.start_index, q.count, q.user_name), (1, 100, None));
        let q = parse_list_query("startIndex=0&count=-3").unwrap();
        assert_eq!((q.start_index, q.count), (1, 0));
        let q = parse_list_query("startIndex=3&count=500&filter=userName%20eq%20%22a%40b.c%22").unwrap();
        assert_eq!(
            (q.start_index, q.count, q.user_name.as_deref()),
            (3, 100, Some("a@b.c"))
        );
        assert_eq!(
            parse_list_query("count=ten").unwrap_err().scim_type,
            Some("invalidValue")
        );
    }
}
