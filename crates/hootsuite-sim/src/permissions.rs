//! Hootsuite's three levels of permissions — organization, team and social profile — and how the
//! `…/permissions` endpoints report them: `{"permissions": [...], "permissionPreset": "..."}`.
//!
//! Hootsuite documents that shape but only a few names: `ORG_MANAGE_MEMBER`, `ORG_MANAGE_TEAM`,
//! `ORG_MANAGE_SOCIAL_PROFILE` and `BASIC_USAGE`, and the presets `CUSTOM` and `EDITOR`. The
//! presets below are the roles of Hootsuite's help centre; the other permission names are this
//! simulator's (README, "Deliberate choices").

use serde_json::{Value, json};

/// An organization permission, checked by the management endpoints: managing the
/// organization's members, teams or social profiles.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Manage {
    Members,
    Teams,
    SocialProfiles,
}

impl Manage {
    const ALL: [Self; 3] = [Self::Members, Self::Teams, Self::SocialProfiles];

    fn name(self) -> &'static str {
        match self {
            Self::Members => "ORG_MANAGE_MEMBER",
            Self::Teams => "ORG_MANAGE_TEAM",
            Self::SocialProfiles => "ORG_MANAGE_SOCIAL_PROFILE",
        }
    }
}

/// A member's role in one organization. The first member of an organization is its paying
/// super admin; everyone who joins later starts with the default role, as in Hootsuite.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OrgRole {
    SuperAdmin,
    Default,
}

impl OrgRole {
    /// Super admins hold every organization permission, default members none; the parameter
    /// says which one an endpoint needs.
    pub fn grants(self, _permission: Manage) -> bool {
        self == Self::SuperAdmin
    }

    pub fn to_json(self) -> Value {
        let (preset, permissions): (_, Vec<_>) = match self {
            Self::SuperAdmin => ("SUPER_ADMIN", Manage::ALL.iter().map(|p| p.name()).collect()),
            Self::Default => ("DEFAULT", Vec::new()),
        };
        permissions_json(&permissions, Some(preset))
    }
}

/// What a caller may do in an organization it belongs to. Organization tokens act for the
/// organization itself and may do everything there.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Standing {
    Organization,
    Member(OrgRole),
}

impl Standing {
    pub fn may(self, permission: Manage) -> bool {
        match self {
            Self::Organization => true,
            Self::Member(role) => role.grants(permission),
        }
    }
}

/// A member's permissions in a team they belong to. Organization admins hold the team admin
/// role in every team they are in ("Super admins and admins inherit Team admin permissions").
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TeamRole {
    Admin,
    Default,
}

impl TeamRole {
    pub fn to_json(self) -> Value {
        match self {
            Self::Admin => permissions_json(&["ORG_MANAGE_TEAM"], Some("ADMIN")),
            Self::Default => permissions_json(&[], Some("DEFAULT")),
        }
    }
}

/// A member's permissions on a social profile. Owners hold `ADVANCED`; a team that shares a
/// profile gives its members `EDITOR`. Ordered so the strongest of several grants wins.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum ProfilePreset {
    Editor,
    Advanced,
}

impl ProfilePreset {
    pub fn to_json(self) -> Value {
        match self {
            Self::Editor => permissions_json(&["BASIC_USAGE", "PUBLISH_MESSAGES", "APPROVE_MESSAGES"], Some("EDITOR")),
            Self::Advanced => permissions_json(
                &[
                    "BASIC_USAGE",
                    "PUBLISH_MESSAGES",
                    "APPROVE_MESSAGES",
                    "MANAGE_SOCIAL_PROFILE",
                ],
                Some("ADVANCED"),
            ),
        }
    }
}

/// The answer for a member without any permission at that level: an empty list, no preset.
pub fn no_permissions() -> Value {
    permissions_json(&[], None)
}

fn permissions_json(permissions: &[&str], preset: Option<&str>) -> Value {
    json!({ "permissions": permissions, "permissionPreset": preset })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_super_admins_and_organization_tokens_manage() {
        for permission in Manage::ALL {
            assert!(Standing::Organization.may(permission));
            assert!(Standing::Member(OrgRole::SuperAdmin).may(permission));
            assert!(!Standing::Member(OrgRole::Default).may(permission));
        }
    }

    #[test]
    fn wire_shapes() {
        assert_eq!(
            OrgRole::SuperAdmin.to_json(),
            json!({ "permissions": ["ORG_MANAGE_MEMBER", "ORG_MANAGE_TEAM", "ORG_MANAGE_SOCIAL_PROFILE"],
                    "permissionPreset": "SUPER_ADMIN" })
        );
        assert_eq!(
            OrgRole::Default.to_json(),
            json!({ "permissions": [], "permissionPreset": "DEFAULT" })
        );
        assert_eq!(ProfilePreset::Editor.to_json()["permissions"][0], "BASIC_USAGE");
        assert_eq!(no_permissions(), json!({ "permissions": [], "permissionPreset": null }));
        assert!(ProfilePreset::Advanced > ProfilePreset::Editor);
    }
}
