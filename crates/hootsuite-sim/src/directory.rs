//! Who exists in the simulated Hootsuite: organizations with their members and teams, social
//! profiles and who may use them, registered apps and who installed (authorized) which app —
//! plus the seeded default world and the JSON shapes these objects have on the wire
//! (hootsuite.md §2.5–2.6, cloud-elements-hubs.md §4).

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Utc};
use serde_json::{Value, json};
use url::Url;

use crate::clock::format_time;
use crate::permissions::{Manage, OrgRole, ProfilePreset, Standing, TeamRole};

pub const DEFAULT_CLIENT_ID: &str = "tributary-demo";
pub const DEFAULT_CLIENT_SECRET: &str = "tributary-demo-secret";
pub const DEFAULT_APP_ID: &str = "12345";
pub const DEFAULT_ORGANIZATION_ID: &str = "626731";
pub const DEFAULT_MEMBER_ID: &str = "15240789";
pub const DEFAULT_TWITTER_PROFILE_ID: &str = "115185509";
pub const DEFAULT_FACEBOOK_PAGE_PROFILE_ID: &str = "115185510";
pub const SECOND_ORGANIZATION_ID: &str = "776781";
pub const SECOND_MEMBER_ID: &str = "2147516921";
pub const SECOND_PROFILE_ID: &str = "115185511";
pub const COLLEAGUE_MEMBER_ID: &str = "18522671";
pub const DEFAULT_TEAM_ID: &str = "359493";

/// Social network types of the Swagger `SocialProfile.type` enum.
pub const PROFILE_TYPES: &[&str] = &[
    "FACEBOOK",
    "FACEBOOKPAGE",
    "INSTAGRAM",
    "INSTAGRAMBUSINESS",
    "LINKEDIN",
    "LINKEDINCOMPANY",
    "PINTEREST",
    "THREADS",
    "TIKTOKBUSINESS",
    "TWITTER",
    "WHATSAPP",
    "YOUTUBECHANNEL",
];

/// Languages of the Swagger `Member.language` enum.
pub const LANGUAGES: &[&str] = &[
    "en", "ja", "fr", "it", "es", "de", "pt_BR", "pl", "id", "zh_CN", "zh_HK", "zh_TW", "nl", "ko", "ar", "ru", "th",
    "tr",
];

/// On whose behalf an access token acts: a member (`authorization_code`, `member_app`) or an
/// organization (`organization_app`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Subject {
    Member(String),
    Organization(String),
}

impl Subject {
    /// Rate limits are counted per account; an organization token is its own account.
    pub fn account_key(&self) -> String {
        match self {
            Subject::Member(id) => format!("member:{id}"),
            Subject::Organization(id) => format!("organization:{id}"),
        }
    }

    pub fn member_id(&self) -> Option<&str> {
        match self {
            Subject::Member(id) => Some(id),
            Subject::Organization(_) => None,
        }
    }
}

#[derive(Debug, Clone)]
pub struct Organization {
    pub id: String,
    pub name: String,
}

impl Organization {
    pub fn to_json(&self) -> Value {
        json!({
            "id": self.id,
            "name": self.name,
            "logoUrl": format!("https://hootsuite.com/logos/{}.png", self.id),
        })
    }
}

/// One organization a member belongs to, and the member's role there.
#[derive(Debug, Clone)]
pub struct Membership {
    pub organization_id: String,
    pub role: OrgRole,
}

/// A Hootsuite user. `GET /v1/members/{id}` and SCIM's `/Users/{id}` are two views of it.
#[derive(Debug, Clone)]
pub struct Member {
    pub id: String,
    pub email: String,
    pub full_name: String,
    pub company_name: Option<String>,
    pub bio: Option<String>,
    pub timezone: String,
    pub language: String,
    /// Only SCIM shows it.
    pub title: Option<String>,
    pub active: bool,
    pub created: DateTime<Utc>,
    /// In the order the member joined: the first is the organization the member's own social
    /// profiles belong to.
    pub memberships: Vec<Membership>,
}

impl Member {
    /// A member with Hootsuite's defaults (time zone America/Vancouver, language `en`) and no
    /// organization yet; [`Directory::add_member`] makes the memberships.
    pub fn new(id: String, email: String, full_name: String, created: DateTime<Utc>) -> Self {
        Self {
            id,
            email,
            full_name,
            company_name: None,
            bio: None,
            timezone: "America/Vancouver".to_owned(),
            language: "en".to_owned(),
            title: None,
            active: true,
            created,
            memberships: Vec::new(),
        }
    }

    /// Fills in what a create request gave; absent fields keep Hootsuite's defaults.
    pub fn with_details(
        self,
        company_name: Option<String>,
        bio: Option<String>,
        timezone: Option<String>,
        language: Option<String>,
    ) -> Self {
        Self {
            company_name,
            bio,
            timezone: timezone.unwrap_or(self.timezone.clone()),
            language: language.unwrap_or(self.language.clone()),
            ..self
        }
    }

    pub fn organization_ids(&self) -> impl Iterator<Item = &str> {
        self.memberships.iter().map(|m| m.organization_id.as_str())
    }

    pub fn to_json(&self) -> Value {
        json!({
            "id": self.id,
            "email": self.email,
            "isActive": self.active,
            "createdDate": format_time(self.created),
            "modifiedDate": format_time(self.created),
            "fullName": self.full_name,
            "companyName": self.company_name,
            "bio": self.bio,
            "timezone": self.timezone,
            "language": self.language,
        })
    }
}

/// A team of an organization: its members, and the organization's social profiles it shares
/// with them.
#[derive(Debug, Clone)]
pub struct Team {
    pub id: String,
    pub organization_id: String,
    pub name: String,
    pub created: DateTime<Utc>,
    pub created_by: Option<String>,
    pub members: BTreeSet<String>,
    pub profiles: BTreeSet<String>,
}

impl Team {
    /// The Swagger `Team`. Nothing edits a team's name or logo here, so it was last modified
    /// when it was created.
    pub fn to_json(&self) -> Value {
        let by = self.created_by.as_ref().map(|id| json!({ "id": id }));
        json!({
            "id": self.id,
            "name": self.name,
            "logoUrl": null,
            "createdDate": format_time(self.created),
            "createdByMember": by,
            "modifiedDate": format_time(self.created),
            "modifiedByMember": by,
        })
    }
}

#[derive(Debug, Clone)]
pub struct SocialProfile {
    pub id: String,
    pub network: String,
    pub social_network_id: String,
    pub username: Option<String>,
    pub owner_member_id: String,
}

impl SocialProfile {
    pub fn to_json(&self) -> Value {
        // The Swagger documents username and avatar as null for Twitter profiles.
        let twitter = self.network == "TWITTER";
        json!({
            "id": self.id,
            "type": self.network,
            "socialNetworkId": self.social_network_id,
            "socialNetworkUsername": if twitter { None } else { self.username.clone() },
            "avatarUrl": if twitter { None } else {
                Some(format!("https://avatars.example/{}.png", self.social_network_id))
            },
            "owner": "MEMBER",
            "ownerId": self.owner_member_id,
            "isReauthRequired": 0,
        })
    }
}

#[derive(Debug, Clone)]
pub struct App {
    pub id: String,
    pub client_id: String,
    pub client_secret: String,
    pub name: String,
    pub redirect_uris: Vec<String>,
    /// Accept any `http://localhost…` / `http://127.0.0.1…` redirect URI, not only registered ones.
    pub allow_loopback_redirects: bool,
    pub webhook_url: Option<String>,
    /// Hex-encoded; when set, deliveries to `webhook_url` are signed.
    pub webhook_secret: Option<String>,
}

impl App {
    pub fn accepts_redirect(&self, uri: &str) -> bool {
        self.redirect_uris.iter().any(|registered| registered == uri)
            || (self.allow_loopback_redirects && is_loopback_http(uri))
    }

    pub fn to_json(&self) -> Value {
        json!({
            "id": self.id,
            "clientId": self.client_id,
            "clientSecret": self.client_secret,
            "name": self.name,
            "redirectUris": self.redirect_uris,
            "allowLoopbackRedirects": self.allow_loopback_redirects,
            "webhookUrl": self.webhook_url,
            "webhookSecret": self.webhook_secret,
        })
    }
}

fn is_loopback_http(uri: &str) -> bool {
    Url::parse(uri).is_ok_and(|url| url.scheme() == "http" && matches!(url.host_str(), Some("localhost" | "127.0.0.1")))
}

/// Hootsuite only lets apps register redirect URIs that start with `https://` or
/// `http://localhost` (hootsuite.md §1.2); 127.0.0.1 is accepted as the same machine.
pub fn check_registrable_redirect(uri: &str) -> Result<(), String> {
    let url = Url::parse(uri).map_err(|e| format!("redirect URI {uri:?} is not a URL: {e}"))?;
    if url.scheme() == "https" || is_loopback_http(uri) {
        Ok(())
    } else {
        Err(format!(
            "redirect URI {uri:?} must start with https:// or http://localhost"
        ))
    }
}

#[derive(Debug, Default)]
pub struct Directory {
    organizations: BTreeMap<String, Organization>,
    members: BTreeMap<String, Member>,
    teams: BTreeMap<String, Team>,
    profiles: BTreeMap<String, SocialProfile>,
    apps: BTreeMap<String, App>,
    /// (client id, member id): the member approved the consent page or installed the app.
    member_grants: BTreeSet<(String, String)>,
    /// (client id, organization id): the app was installed for the whole organization.
    organization_installs: BTreeSet<(String, String)>,
}

/// `2013-05-29T13:27:24Z` as a time, for the seeded world's dates.
fn at(text: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(text)
        .expect("seeded dates are RFC 3339")
        .to_utc()
}

impl Directory {
    /// The default world described in the crate README.
    pub fn seeded(client_id: &str, client_secret: &str, redirect_uris: &[String]) -> Self {
        let mut dir = Self::default();
        dir.add_organization(Organization {
            id: DEFAULT_ORGANIZATION_ID.into(),
            name: "Test Organization".into(),
        });
        dir.add_organization(Organization {
            id: SECOND_ORGANIZATION_ID.into(),
            name: "Second Organization".into(),
        });
        let joe = Member {
            company_name: Some("Hootsuite".into()),
            bio: Some("I am Joe Smith".into()),
            ..Member::new(
                DEFAULT_MEMBER_ID.into(),
                "jsmith@test.com".into(),
                "Joe Smith".into(),
                at("2013-05-29T13:27:24Z"),
            )
        };
        let pammy = Member {
            timezone: "Europe/Berlin".into(),
            language: "de".into(),
            ..Member::new(
                SECOND_MEMBER_ID.into(),
                "pdog@second.test".into(),
                "Pammy Dog".into(),
                at("2016-02-11T09:00:00Z"),
            )
        };
        let mia = Member {
            timezone: "America/Toronto".into(),
            ..Member::new(
                COLLEAGUE_MEMBER_ID.into(),
                "mchen@test.com".into(),
                "Mia Chen".into(),
                at("2016-01-14T16:30:00Z"),
            )
        };
        // Joe and Pammy come first, so each is the paying super admin of their organization.
        dir.add_member(joe, &[DEFAULT_ORGANIZATION_ID.into()]);
        dir.add_member(pammy, &[SECOND_ORGANIZATION_ID.into()]);
        dir.add_member(mia, &[DEFAULT_ORGANIZATION_ID.into()]);
        for (id, network, network_id, username, owner) in [
            (
                DEFAULT_TWITTER_PROFILE_ID,
                "TWITTER",
                "1261768027866377",
                None,
                DEFAULT_MEMBER_ID,
            ),
            (
                DEFAULT_FACEBOOK_PAGE_PROFILE_ID,
                "FACEBOOKPAGE",
                "1261768027866378",
                Some("Joe's Coffee"),
                DEFAULT_MEMBER_ID,
            ),
            (
                SECOND_PROFILE_ID,
                "FACEBOOK",
                "1261768027866379",
                Some("Pammy The Dog"),
                SECOND_MEMBER_ID,
            ),
        ] {
            dir.add_profile(SocialProfile {
                id: id.into(),
                network: network.into(),
                social_network_id: network_id.into(),
                username: username.map(Into::into),
                owner_member_id: owner.into(),
            });
        }
        // The Swagger's example team, sharing Joe's Twitter profile with Mia.
        dir.add_team(Team {
            id: DEFAULT_TEAM_ID.into(),
            organization_id: DEFAULT_ORGANIZATION_ID.into(),
            name: "North America Support Team".into(),
            created: at("2016-01-14T16:27:40Z"),
            created_by: Some(DEFAULT_MEMBER_ID.into()),
            members: [DEFAULT_MEMBER_ID, COLLEAGUE_MEMBER_ID].map(String::from).into(),
            profiles: [DEFAULT_TWITTER_PROFILE_ID.to_owned()].into(),
        });
        dir.add_app(App {
            id: DEFAULT_APP_ID.into(),
            client_id: client_id.into(),
            client_secret: client_secret.into(),
            name: "Tributary Demo".into(),
            redirect_uris: redirect_uris.to_vec(),
            allow_loopback_redirects: true,
            webhook_url: None,
            webhook_secret: None,
        });
        dir
    }

    pub fn add_organization(&mut self, org: Organization) {
        self.organizations.insert(org.id.clone(), org);
    }

    /// Adds a member to existing organizations. The first member of an organization is its
    /// paying super admin; later ones get the default role.
    pub fn add_member(&mut self, mut member: Member, organizations: &[String]) {
        for org in organizations {
            let role = if self.members_of(org).next().is_none() {
                OrgRole::SuperAdmin
            } else {
                OrgRole::Default
            };
            member.memberships.push(Membership {
                organization_id: org.clone(),
                role,
            });
        }
        self.members.insert(member.id.clone(), member);
    }

    /// Takes a member out of an organization and its teams; the Hootsuite account stays.
    pub fn remove_from_organization(&mut self, org: &str, member_id: &str) {
        if let Some(member) = self.members.get_mut(member_id) {
            member.memberships.retain(|m| m.organization_id != org);
        }
        for team in self.teams.values_mut().filter(|t| t.organization_id == org) {
            team.members.remove(member_id);
        }
    }

    pub fn add_profile(&mut self, profile: SocialProfile) {
        self.profiles.insert(profile.id.clone(), profile);
    }

    pub fn add_team(&mut self, team: Team) {
        self.teams.insert(team.id.clone(), team);
    }

    pub fn add_app(&mut self, app: App) {
        self.apps.insert(app.client_id.clone(), app);
    }

    pub fn organization(&self, id: &str) -> Option<&Organization> {
        self.organizations.get(id)
    }

    pub fn member(&self, id: &str) -> Option<&Member> {
        self.members.get(id)
    }

    pub fn members(&self) -> impl Iterator<Item = &Member> {
        self.members.values()
    }

    /// Hootsuite accounts are global, so an email address names at most one member.
    pub fn email_in_use(&self, email: &str) -> bool {
        self.members.values().any(|m| m.email.eq_ignore_ascii_case(email))
    }

    pub fn members_of<'a>(&'a self, org: &'a str) -> impl Iterator<Item = &'a Member> {
        self.members
            .values()
            .filter(move |m| m.organization_ids().any(|id| id == org))
    }

    pub fn membership(&self, member_id: &str, org: &str) -> Option<&Membership> {
        self.member(member_id)?
            .memberships
            .iter()
            .find(|m| m.organization_id == org)
    }

    pub fn team(&self, id: &str) -> Option<&Team> {
        self.teams.get(id)
    }

    pub fn team_mut(&mut self, id: &str) -> Option<&mut Team> {
        self.teams.get_mut(id)
    }

    pub fn teams_of<'a>(&'a self, org: &'a str) -> impl Iterator<Item = &'a Team> {
        self.teams.values().filter(move |t| t.organization_id == org)
    }

    pub fn teams_of_member<'a>(&'a self, member_id: &'a str) -> impl Iterator<Item = &'a Team> {
        self.teams.values().filter(move |t| t.members.contains(member_id))
    }

    /// The member's role in a team they are in: organization admins are team admins.
    pub fn team_role(&self, team: &Team, member_id: &str) -> Option<TeamRole> {
        team.members
            .contains(member_id)
            .then(|| match self.membership(member_id, &team.organization_id) {
                Some(m) if m.role.grants(Manage::Teams) => TeamRole::Admin,
                _ => TeamRole::Default,
            })
    }

    pub fn profile(&self, id: &str) -> Option<&SocialProfile> {
        self.profiles.get(id)
    }

    pub fn app(&self, client_id: &str) -> Option<&App> {
        self.apps.get(client_id)
    }

    pub fn app_mut(&mut self, client_id: &str) -> Option<&mut App> {
        self.apps.get_mut(client_id)
    }

    pub fn apps(&self) -> impl Iterator<Item = &App> {
        self.apps.values()
    }

    /// What the subject may do in `org`; `None` when it is not part of it (or `org` does not
    /// exist).
    pub fn standing(&self, subject: &Subject, org: &str) -> Option<Standing> {
        match subject {
            Subject::Member(id) => self.membership(id, org).map(|m| Standing::Member(m.role)),
            Subject::Organization(id) => {
                (id == org && self.organization(org).is_some()).then_some(Standing::Organization)
            }
        }
    }

    /// The organization a member's own profiles belong to: the first one they joined.
    fn home_organization(&self, member_id: &str) -> Option<&str> {
        self.member(member_id)?.organization_ids().next()
    }

    /// The organization whose member owns the profile: the organization of messages posted
    /// there, and the one whose teams can share it.
    pub fn organization_of_profile(&self, profile_id: &str) -> Option<&str> {
        self.home_organization(&self.profile(profile_id)?.owner_member_id)
    }

    pub fn organization_profiles<'a>(&'a self, org: &'a str) -> impl Iterator<Item = &'a SocialProfile> {
        self.profiles
            .values()
            .filter(move |p| self.organization_of_profile(&p.id) == Some(org))
    }

    /// A member's permissions on a profile: owners hold `ADVANCED`, members of a team of the
    /// profile's organization that shares it hold `EDITOR`.
    pub fn profile_preset(&self, member_id: &str, profile_id: &str) -> Option<ProfilePreset> {
        let profile = self.profile(profile_id)?;
        if profile.owner_member_id == member_id {
            return Some(ProfilePreset::Advanced);
        }
        let org = self.organization_of_profile(profile_id)?;
        self.teams_of(org)
            .any(|t| t.members.contains(member_id) && t.profiles.contains(profile_id))
            .then_some(ProfilePreset::Editor)
    }

    /// Members see the profiles they hold permissions on (Hootsuite's BASIC_USAGE);
    /// organization tokens see every profile of their organization.
    pub fn can_see_profile(&self, subject: &Subject, profile_id: &str) -> bool {
        match subject {
            Subject::Member(id) => self.profile_preset(id, profile_id).is_some(),
            Subject::Organization(id) => self.organization_of_profile(profile_id) == Some(id.as_str()),
        }
    }

    pub fn visible_profiles<'a>(&'a self, subject: &'a Subject) -> impl Iterator<Item = &'a SocialProfile> {
        self.profiles
            .values()
            .filter(move |p| self.can_see_profile(subject, &p.id))
    }

    pub fn grant_member(&mut self, client_id: &str, member_id: &str) {
        self.member_grants.insert((client_id.to_owned(), member_id.to_owned()));
    }

    pub fn revoke_member(&mut self, client_id: &str, member_id: &str) -> bool {
        self.member_grants.remove(&(client_id.to_owned(), member_id.to_owned()))
    }

    pub fn install_organization(&mut self, client_id: &str, org_id: &str) {
        self.organization_installs
            .insert((client_id.to_owned(), org_id.to_owned()));
    }

    /// Removes the organization installation and the grants of all its members: after this no
    /// token can be obtained for the organization.
    pub fn uninstall_organization(&mut self, client_id: &str, org_id: &str) -> bool {
        let installed = self
            .organization_installs
            .remove(&(client_id.to_owned(), org_id.to_owned()));
        let members: Vec<String> = self.members_of(org_id).map(|m| m.id.clone()).collect();
        let mut granted = false;
        for member in members {
            granted |= self.revoke_member(client_id, &member);
        }
        installed || granted
    }

    /// `member_app` needs the member to have installed/authorized the app.
    pub fn member_authorized(&self, client_id: &str, member_id: &str) -> bool {
        self.member_grants
            .contains(&(client_id.to_owned(), member_id.to_owned()))
    }

    /// `organization_app` needs the app installed for the organization, or authorized by one of
    /// its members.
    pub fn organization_authorized(&self, client_id: &str, org_id: &str) -> bool {
        self.organization_installs
            .contains(&(client_id.to_owned(), org_id.to_owned()))
            || self
                .members_of(org_id)
                .any(|m| self.member_authorized(client_id, &m.id))
    }

    /// Webhook URLs of the apps that receive the organization's events (organization apps).
    pub fn organization_webhook_urls(&self, org_id: &str) -> Vec<String> {
        self.apps
            .values()
            .filter(|app| self.organization_authorized(&app.client_id, org_id))
            .filter_map(|app| app.webhook_url.clone())
            .collect()
    }
}

/// A plausible email address: `local@domain.tld` without spaces. Hootsuite's exact rule is not
/// documented (error 2001, "Invalid member email").
pub fn is_email(text: &str) -> bool {
    let Some((local, domain)) = text.split_once('@') else {
        return false;
    };
    !local.is_empty()
        && !text.chars().any(char::is_whitespace)
        && !domain.contains('@')
        && domain.split('.').count() >= 2
        && domain.split('.').all(|label| !label.is_empty())
}

/// The areas of PHP's time zone names ("Valid values are defined at
/// http://php.net/manual/en/timezones.php").
const TIMEZONE_AREAS: &[&str] = &[
    "Africa",
    "America",
    "Antarctica",
    "Arctic",
    "Asia",
    "Atlantic",
    "Australia",
    "Europe",
    "Indian",
    "Pacific",
    "Etc",
];

/// `UTC`, or `Area/Location[/Sublocation]` under one of PHP's areas. The simulator has no time
/// zone database, so `Europe/Nowhere` passes too.
pub fn is_timezone(text: &str) -> bool {
    if text == "UTC" {
        return true;
    }
    let mut parts = text.split('/');
    let area = parts.next().unwrap_or_default();
    let rest: Vec<&str> = parts.collect();
    TIMEZONE_AREAS.contains(&area)
        && !rest.is_empty()
        && rest.iter().all(|part| {
            !part.is_empty()
                && part
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '+'))
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn world() -> Directory {
        Directory::seeded(DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET, &[])
    }

    #[test]
    fn members_see_only_their_profiles() {
        let dir = world();
        let joe = Subject::Member(DEFAULT_MEMBER_ID.into());
        let ids: Vec<_> = dir.visible_profiles(&joe).map(|p| p.id.clone()).collect();
        assert_eq!(ids, [DEFAULT_TWITTER_PROFILE_ID, DEFAULT_FACEBOOK_PAGE_PROFILE_ID]);
        assert!(!dir.can_see_profile(&joe, SECOND_PROFILE_ID));
        let second_org = Subject::Organization(SECOND_ORGANIZATION_ID.into());
        assert!(dir.can_see_profile(&second_org, SECOND_PROFILE_ID));
        assert!(!dir.can_see_profile(&second_org, DEFAULT_TWITTER_PROFILE_ID));
    }

    #[test]
    fn default_app_accepts_loopback_and_registered_redirects() {
        let dir = Directory::seeded("c", "s", &["https://hub.example/cb".into()]);
        let app = dir.app("c").unwrap();
        assert!(app.accepts_redirect("http://localhost:8080/callback"));
        assert!(app.accepts_redirect("http://127.0.0.1:41234/oauth/cb?x=1"));
        assert!(app.accepts_redirect("https://hub.example/cb"));
        assert!(!app.accepts_redirect("https://hub.example/other"));
        assert!(!app.accepts_redirect("https://localhost/cb"));
        assert!(!app.accepts_redirect("http://evil.example/cb"));
    }

    #[test]
    fn registrable_redirects_follow_hootsuite_rules() {
        assert!(check_registrable_redirect("https://hub.example/cb").is_ok());
        assert!(check_registrable_redirect("http://localhost:3000/cb").is_ok());
        assert!(check_registrable_redirect("http://hub.example/cb").is_err());
        assert!(check_registrable_redirect("not a url").is_err());
    }

    #[test]
    fn organization_authorization_follows_members_and_installs() {
        let mut dir = world();
        assert!(!dir.organization_authorized(DEFAULT_CLIENT_ID, DEFAULT_ORGANIZATION_ID));
        dir.grant_member(DEFAULT_CLIENT_ID, DEFAULT_MEMBER_ID);
        assert!(dir.organization_authorized(DEFAULT_CLIENT_ID, DEFAULT_ORGANIZATION_ID));
        assert!(!dir.organization_authorized(DEFAULT_CLIENT_ID, SECOND_ORGANIZATION_ID));
        dir.install_organization(DEFAULT_CLIENT_ID, SECOND_ORGANIZATION_ID);
        assert!(dir.organization_authorized(DEFAULT_CLIENT_ID, SECOND_ORGANIZATION_ID));
        assert!(dir.uninstall_organization(DEFAULT_CLIENT_ID, DEFAULT_ORGANIZATION_ID));
        assert!(!dir.member_authorized(DEFAULT_CLIENT_ID, DEFAULT_MEMBER_ID));
        assert!(!dir.organization_authorized(DEFAULT_CLIENT_ID, DEFAULT_ORGANIZATION_ID));
    }

    #[test]
    fn teams_share_profiles_with_their_members() {
        let dir = world();
        let mia = Subject::Member(COLLEAGUE_MEMBER_ID.into());
        let ids: Vec<_> = dir.visible_profiles(&mia).map(|p| p.id.clone()).collect();
        assert_eq!(ids, [DEFAULT_TWITTER_PROFILE_ID]);
        assert_eq!(
            dir.profile_preset(COLLEAGUE_MEMBER_ID, DEFAULT_TWITTER_PROFILE_ID),
            Some(ProfilePreset::Editor)
        );
        assert_eq!(
            dir.profile_preset(DEFAULT_MEMBER_ID, DEFAULT_TWITTER_PROFILE_ID),
            Some(ProfilePreset::Advanced)
        );
        assert_eq!(
            dir.profile_preset(COLLEAGUE_MEMBER_ID, DEFAULT_FACEBOOK_PAGE_PROFILE_ID),
            None
        );
        let team = dir.team(DEFAULT_TEAM_ID).unwrap();
        assert_eq!(dir.team_role(team, DEFAULT_MEMBER_ID), Some(TeamRole::Admin));
        assert_eq!(dir.team_role(team, COLLEAGUE_MEMBER_ID), Some(TeamRole::Default));
        assert_eq!(dir.team_role(team, SECOND_MEMBER_ID), None);
    }

    #[test]
    fn first_members_are_super_admins_and_standing_needs_membership() {
        let dir = world();
        let joe = Subject::Member(DEFAULT_MEMBER_ID.into());
        let mia = Subject::Member(COLLEAGUE_MEMBER_ID.into());
        let org = Subject::Organization(DEFAULT_ORGANIZATION_ID.into());
        assert_eq!(
            dir.standing(&joe, DEFAULT_ORGANIZATION_ID),
            Some(Standing::Member(OrgRole::SuperAdmin))
        );
        assert_eq!(
            dir.standing(&mia, DEFAULT_ORGANIZATION_ID),
            Some(Standing::Member(OrgRole::Default))
        );
        assert_eq!(
            dir.standing(&org, DEFAULT_ORGANIZATION_ID),
            Some(Standing::Organization)
        );
        assert_eq!(dir.standing(&org, SECOND_ORGANIZATION_ID), None);
        assert_eq!(dir.standing(&joe, SECOND_ORGANIZATION_ID), None);
        assert_eq!(dir.standing(&Subject::Organization("404".into()), "404"), None);
    }

    #[test]
    fn leaving_an_organization_leaves_its_teams_and_profiles() {
        let mut dir = world();
        dir.remove_from_organization(DEFAULT_ORGANIZATION_ID, COLLEAGUE_MEMBER_ID);
        assert!(dir.membership(COLLEAGUE_MEMBER_ID, DEFAULT_ORGANIZATION_ID).is_none());
        assert!(!dir.team(DEFAULT_TEAM_ID).unwrap().members.contains(COLLEAGUE_MEMBER_ID));
        assert!(!dir.can_see_profile(&Subject::Member(COLLEAGUE_MEMBER_ID.into()), DEFAULT_TWITTER_PROFILE_ID));
        // An owner who leaves takes their profiles out of the organization.
        dir.remove_from_organization(DEFAULT_ORGANIZATION_ID, DEFAULT_MEMBER_ID);
        assert_eq!(dir.organization_of_profile(DEFAULT_TWITTER_PROFILE_ID), None);
        assert!(dir.can_see_profile(&Subject::Member(DEFAULT_MEMBER_ID.into()), DEFAULT_TWITTER_PROFILE_ID));
        assert!(!dir.can_see_profile(
            &Subject::Organization(DEFAULT_ORGANIZATION_ID.into()),
            DEFAULT_TWITTER_PROFILE_ID
        ));
    }

    #[test]
    fn email_and_timezone_checks() {
        for good in ["jsmith@test.com", "a.b+c@x.co.uk"] {
            assert!(is_email(good), "{good}");
        }
        for bad in ["", "x", "@test.com", "a@b", "a@b.", "a b@c.com", "a@b@c.com"] {
            assert!(!is_email(bad), "{bad}");
        }
        for good in [
            "UTC",
            "America/Vancouver",
            "America/Argentina/Buenos_Aires",
            "Etc/GMT+5",
        ] {
            assert!(is_timezone(good), "{good}");
        }
        for bad in ["", "Vancouver", "Mars/Olympus", "America/", "America/New York", "utc"] {
            assert!(!is_timezone(bad), "{bad}");
        }
    }

    #[test]
    fn twitter_profiles_hide_username_and_avatar() {
        let dir = world();
        let twitter = dir.profile(DEFAULT_TWITTER_PROFILE_ID).unwrap().to_json();
        assert_eq!(twitter["socialNetworkUsername"], Value::Null);
        assert_eq!(twitter["avatarUrl"], Value::Null);
        assert_eq!(twitter["owner"], "MEMBER");
        let page = dir.profile(DEFAULT_FACEBOOK_PAGE_PROFILE_ID).unwrap().to_json();
        assert_eq!(page["socialNetworkUsername"], "Joe's Coffee");
    }
}
