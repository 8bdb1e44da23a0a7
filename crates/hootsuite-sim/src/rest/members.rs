//! `/v1/members` (cloud-elements-hubs.md §4): retrieving a member, the organizations a member is
//! in, and creating a member in organizations the caller manages.
//!
//! A member is visible to themself and to callers sharing one of their organizations; any other
//! id is 404 code 4001, like an unknown one.

use std::sync::Arc;

use axum::Extension;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde::Deserialize;

use super::access::{CHANGE_ORGANIZATION, VIEW_MEMBER_ORGANIZATIONS, may_add_members};
use super::{ApiError, ApiResult, data, id_list, parse_json};
use crate::clock::whole_seconds;
use crate::directory::{LANGUAGES, Member, is_email, is_timezone};
use crate::oauth::grants::Caller;
use crate::permissions::Manage;
use crate::state::{Sim, World};

/// Member names are 2 to 100 characters (error 2002).
pub(super) const NAME_LENGTH: std::ops::RangeInclusive<usize> = 2..=100;

/// An organization id in a create request. The Swagger says integer; CE's churros sends numeric
/// strings (`["817306"]`); both are accepted.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub(super) enum OrganizationId {
    Number(u64),
    Text(String),
}

impl OrganizationId {
    /// The id as the simulator spells it, or `None` for a string that is not a number.
    pub(super) fn parse(&self) -> Option<String> {
        match self {
            Self::Number(n) => Some(n.to_string()),
            Self::Text(text) => (!text.is_empty() && text.bytes().all(|b| b.is_ascii_digit())).then(|| text.clone()),
        }
    }
}

fn visible<'w>(w: &'w World, caller: &Caller, id: &str) -> Result<&'w Member, ApiError> {
    w.directory
        .member(id)
        .filter(|m| {
            caller.subject.member_id() == Some(id)
                || m.organization_ids()
                    .any(|org| w.directory.standing(&caller.subject, org).is_some())
        })
        .ok_or_else(|| ApiError::not_found().with_resource("member", id))
}

pub async fn get(
    State(sim): State<Arc<Sim>>,
    Extension(caller): Extension<Caller>,
    Path(member): Path<String>,
) -> ApiResult {
    sim.with_world(|w| data(visible(w, &caller, &member)?.to_json()))
}

/// Oneself, or an admin (ORG_MANAGE_MEMBER) of one of the member's organizations; another
/// member of the same organization gets 403 code 4004.
pub async fn organizations(
    State(sim): State<Arc<Sim>>,
    Extension(caller): Extension<Caller>,
    Path(member): Path<String>,
) -> ApiResult {
    sim.with_world(|w| {
        let found = visible(w, &caller, &member)?;
        let admin = found.organization_ids().any(|org| {
            w.directory
                .standing(&caller.subject, org)
                .is_some_and(|s| s.may(Manage::Members))
        });
        if caller.subject.member_id() != Some(member.as_str()) && !admin {
            return Err(VIEW_MEMBER_ORGANIZATIONS.error());
        }
        id_list(found.organization_ids())
    })
}

/// The Swagger `CreateMemberRequest`; `email`, `fullName` and `organizationIds` are required.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct NewMember {
    email: Option<String>,
    full_name: Option<String>,
    organization_ids: Option<Vec<OrganizationId>>,
    company_name: Option<String>,
    bio: Option<String>,
    timezone: Option<String>,
    language: Option<String>,
}

fn bad(code: u32, message: &str) -> ApiError {
    ApiError::new(StatusCode::BAD_REQUEST, code, message)
}

/// Validates the body (the member error codes of the Swagger), then needs ORG_MANAGE_MEMBER in
/// every organization named (1201), then a free email address (3010).
pub async fn create(State(sim): State<Arc<Sim>>, Extension(caller): Extension<Caller>, body: Bytes) -> ApiResult {
    let request: NewMember = parse_json(&body)?;
    let email = request
        .email
        .map(|e| e.trim().to_owned())
        .filter(|e| !e.is_empty())
        .ok_or_else(|| bad(2006, "Missing member email"))?;
    if !is_email(&email) {
        return Err(bad(2001, "Invalid member email"));
    }
    let full_name = request
        .full_name
        .map(|n| n.trim().to_owned())
        .filter(|n| !n.is_empty())
        .ok_or_else(|| bad(2005, "Missing member name"))?;
    if !NAME_LENGTH.contains(&full_name.chars().count()) {
        return Err(bad(
            2002,
            "Invalid member name (please enter name between 2 and 100 chars in length)",
        ));
    }
    let requested = request
        .organization_ids
        .filter(|ids| !ids.is_empty())
        .ok_or_else(|| ApiError::invalid("organizationIds must name at least one organization"))?;
    let mut orgs: Vec<String> = Vec::with_capacity(requested.len());
    for id in &requested {
        let id = id.parse().ok_or_else(|| bad(2303, "Invalid organization ID"))?;
        if !orgs.contains(&id) {
            orgs.push(id);
        }
    }
    if request.timezone.as_deref().is_some_and(|tz| !is_timezone(tz)) {
        return Err(bad(2003, "Invalid member default timezone"));
    }
    if request.language.as_deref().is_some_and(|l| !LANGUAGES.contains(&l)) {
        return Err(ApiError::invalid(format!("language must be one of {LANGUAGES:?}")));
    }
    let now = sim.clock.now();
    sim.with_world(|w| {
        if !may_add_members(w, &caller, &orgs) {
            return Err(CHANGE_ORGANIZATION.error());
        }
        if w.directory.email_in_use(&email) {
            return Err(bad(3010, "Email is already in use"));
        }
        let member = Member::new(w.ids.next_id(), email, full_name, whole_seconds(now)).with_details(
            request.company_name,
            request.bio,
            request.timezone,
            request.language,
        );
        let view = member.to_json();
        w.directory.add_member(member, &orgs);
        data(view)
    })
}
