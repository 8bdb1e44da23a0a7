//! Who may call what in an organization, and the 403 each endpoint answers otherwise.
//!
//! Access is checked against the caller's own organizations first, so another organization and
//! one that does not exist get the same 403, with the code the Swagger lists for the endpoint.
//! Inside the organization, reading about oneself is always allowed; reading about other
//! members needs an organization permission; changes need one too.

use axum::http::StatusCode;

use super::ApiError;
use crate::directory::Team;
use crate::oauth::grants::Caller;
use crate::permissions::{Manage, Standing};
use crate::state::World;

/// A 403 of the Swagger's error list: its code and message.
#[derive(Debug, Clone, Copy)]
pub struct Denied(u32, &'static str);

impl Denied {
    pub fn error(self) -> ApiError {
        ApiError::new(StatusCode::FORBIDDEN, self.0, self.1)
    }
}

pub const CHANGE_ORGANIZATION: Denied = Denied(1201, "Not authorized to make changes to organization");
pub const VIEW_MEMBERS: Denied = Denied(4002, "Insufficient permissions to view organization members");
pub const VIEW_PERMISSIONS: Denied = Denied(4003, "Insufficient permissions to view member permissions");
pub const VIEW_MEMBER_ORGANIZATIONS: Denied = Denied(4004, "Insufficient permissions to view member organizations");
pub const VIEW_TEAM_MEMBERS: Denied = Denied(4005, "Insufficient permissions to view team members");
pub const VIEW_TEAM: Denied = Denied(4006, "Insufficient permissions to view team");
pub const CREATE_TEAM: Denied = Denied(4007, "Insufficient permissions to create team");
pub const VIEW_TEAM_PROFILES: Denied = Denied(4008, "Insufficient permissions to view team social profile");
pub const ORGANIZATION: Denied = Denied(4009, "Insufficient organization permissions");
pub const VIEW_TEAMS: Denied = Denied(4010, "Insufficient permissions to view organization teams");

/// The caller's standing in `org`, or `denied` when the caller is not part of it.
pub fn standing(w: &World, caller: &Caller, org: &str, denied: Denied) -> Result<Standing, ApiError> {
    w.directory.standing(&caller.subject, org).ok_or_else(|| denied.error())
}

/// Like [`standing`], and the caller must also hold `permission` there.
pub fn permitted(w: &World, caller: &Caller, org: &str, permission: Manage, denied: Denied) -> Result<(), ApiError> {
    standing(w, caller, org, denied)?
        .may(permission)
        .then_some(())
        .ok_or_else(|| denied.error())
}

pub fn not_in_organization(member: &str) -> ApiError {
    ApiError::new(StatusCode::NOT_FOUND, 4303, "Member does not exist in organization").with_resource("member", member)
}

/// The checks of every endpoint about one member of the organization: the caller is part of
/// it, so is `member` (else 404 code 4303), and the caller is that member or holds
/// `permission`.
pub fn about_member(
    w: &World,
    caller: &Caller,
    org: &str,
    member: &str,
    permission: Manage,
    denied: Denied,
) -> Result<(), ApiError> {
    let standing = standing(w, caller, org, denied)?;
    if w.directory.membership(member, org).is_none() {
        return Err(not_in_organization(member));
    }
    (caller.subject.member_id() == Some(member) || standing.may(permission))
        .then_some(())
        .ok_or_else(|| denied.error())
}

/// ORG_MANAGE_TEAM, or being in the team ("View details for teams they are a member of").
pub fn may_view_team(standing: Standing, caller: &Caller, team: &Team) -> bool {
    standing.may(Manage::Teams) || caller.subject.member_id().is_some_and(|m| team.members.contains(m))
}

/// Whether the caller holds ORG_MANAGE_MEMBER in every one of `orgs` (unknown ones included,
/// which nobody manages).
pub fn may_add_members(w: &World, caller: &Caller, orgs: &[String]) -> bool {
    orgs.iter().all(|org| {
        w.directory
            .standing(&caller.subject, org)
            .is_some_and(|s| s.may(Manage::Members))
    })
}
