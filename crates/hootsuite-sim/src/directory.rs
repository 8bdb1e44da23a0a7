//! Who exists in the simulated Hootsuite: organizations, members, social profiles, registered
//! apps and who installed (authorized) which app — plus the seeded default world and the JSON
//! shapes these objects have on the wire (hootsuite.md §2.5–2.6).

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{Value, json};
use url::Url;

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

#[derive(Debug, Clone)]
pub struct Member {
    pub id: String,
    pub email: String,
    pub full_name: String,
    pub organization_id: String,
    pub company_name: Option<String>,
    pub bio: Option<String>,
    pub timezone: String,
    pub language: String,
    pub created_date: String,
}

impl Member {
    pub fn to_json(&self) -> Value {
        json!({
            "id": self.id,
            "email": self.email,
            "isActive": true,
            "createdDate": self.created_date,
            "modifiedDate": self.created_date,
            "fullName": self.full_name,
            "companyName": self.company_name,
            "bio": self.bio,
            "timezone": self.timezone,
            "language": self.language,
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
    profiles: BTreeMap<String, SocialProfile>,
    apps: BTreeMap<String, App>,
    /// (client id, member id): the member approved the consent page or installed the app.
    member_grants: BTreeSet<(String, String)>,
    /// (client id, organization id): the app was installed for the whole organization.
    organization_installs: BTreeSet<(String, String)>,
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
        dir.add_member(Member {
            id: DEFAULT_MEMBER_ID.into(),
            email: "jsmith@test.com".into(),
            full_name: "Joe Smith".into(),
            organization_id: DEFAULT_ORGANIZATION_ID.into(),
            company_name: Some("Hootsuite".into()),
            bio: Some("I am Joe Smith".into()),
            timezone: "America/Vancouver".into(),
            language: "en".into(),
            created_date: "2013-05-29T13:27:24Z".into(),
        });
        dir.add_member(Member {
            id: SECOND_MEMBER_ID.into(),
            email: "pdog@second.test".into(),
            full_name: "Pammy Dog".into(),
            organization_id: SECOND_ORGANIZATION_ID.into(),
            company_name: None,
            bio: None,
            timezone: "Europe/Berlin".into(),
            language: "de".into(),
            created_date: "2016-02-11T09:00:00Z".into(),
        });
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

    pub fn add_member(&mut self, member: Member) {
        self.members.insert(member.id.clone(), member);
    }

    pub fn add_profile(&mut self, profile: SocialProfile) {
        self.profiles.insert(profile.id.clone(), profile);
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

    /// The organization a subject belongs to or is.
    pub fn organization_of<'a>(&'a self, subject: &'a Subject) -> Option<&'a str> {
        match subject {
            Subject::Member(id) => self.member(id).map(|m| m.organization_id.as_str()),
            Subject::Organization(id) => Some(id),
        }
    }

    /// The organization whose member owns the profile: the organization of messages posted there.
    pub fn organization_of_profile(&self, profile_id: &str) -> Option<&str> {
        let owner = &self.profile(profile_id)?.owner_member_id;
        self.member(owner).map(|m| m.organization_id.as_str())
    }

    /// Members see their own profiles; organization tokens see every profile of their members.
    pub fn can_see_profile(&self, subject: &Subject, profile_id: &str) -> bool {
        let Some(profile) = self.profile(profile_id) else {
            return false;
        };
        match subject {
            Subject::Member(id) => &profile.owner_member_id == id,
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
        let members: Vec<String> = self
            .members
            .values()
            .filter(|m| m.organization_id == org_id)
            .map(|m| m.id.clone())
            .collect();
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
                .members
                .values()
                .any(|m| m.organization_id == org_id && self.member_authorized(client_id, &m.id))
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
