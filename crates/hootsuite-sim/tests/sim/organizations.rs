//! Members, organizations, teams and permissions: the seeded world as each kind of caller sees
//! it, creating and removing members and teams, and the errors of each endpoint.

use hootsuite_sim::{
    COLLEAGUE_MEMBER_ID, DEFAULT_FACEBOOK_PAGE_PROFILE_ID, DEFAULT_MEMBER_ID, DEFAULT_ORGANIZATION_ID, DEFAULT_TEAM_ID,
    DEFAULT_TWITTER_PROFILE_ID, SECOND_MEMBER_ID, SECOND_ORGANIZATION_ID, SECOND_PROFILE_ID,
};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::common::{Answer, TestSim, in_minutes};

const ORG: &str = DEFAULT_ORGANIZATION_ID;
const TEAM: &str = DEFAULT_TEAM_ID;

fn ids(answer: &Answer) -> Vec<&str> {
    answer.body["data"]
        .as_array()
        .unwrap_or_else(|| panic!("{} {}", answer.status, answer.body))
        .iter()
        .map(|item| item["id"].as_str().unwrap())
        .collect()
}

fn assert_error(answer: &Answer, status: StatusCode, code: u64, what: &str) {
    assert_eq!(answer.status, status, "{what}: {}", answer.body);
    assert_eq!(answer.code(), code, "{what}: {}", answer.body);
    assert!(answer.body["errors"][0]["id"].is_string(), "{what}: a trace id");
}

fn seeded_team() -> Value {
    json!({
        "id": TEAM, "name": "North America Support Team", "logoUrl": null,
        "createdDate": "2016-01-14T16:27:40Z", "createdByMember": { "id": DEFAULT_MEMBER_ID },
        "modifiedDate": "2016-01-14T16:27:40Z", "modifiedByMember": { "id": DEFAULT_MEMBER_ID },
    })
}

#[tokio::test]
async fn the_seeded_organization_as_its_super_admin_sees_it() {
    let sim = TestSim::unthrottled().await;
    let joe = sim.access_token().await;
    let get = |path: String| {
        let (sim, joe) = (&sim, &joe);
        async move { sim.get(&path, joe).await }
    };

    let me = sim.get("/v1/me", &joe).await;
    assert_eq!(get(format!("/v1/members/{DEFAULT_MEMBER_ID}")).await.body, me.body);
    let mia = get(format!("/v1/members/{COLLEAGUE_MEMBER_ID}")).await;
    assert_eq!(mia.body["data"]["fullName"], "Mia Chen");
    assert_eq!(mia.body["data"]["email"], "mchen@test.com");
    assert_eq!(mia.body["data"]["isActive"], true);
    for member in [SECOND_MEMBER_ID, "999"] {
        let hidden = get(format!("/v1/members/{member}")).await;
        assert_error(&hidden, StatusCode::NOT_FOUND, 4001, member);
        assert_eq!(
            hidden.body["errors"][0]["resource"],
            json!({ "type": "member", "id": member })
        );
    }
    for member in [DEFAULT_MEMBER_ID, COLLEAGUE_MEMBER_ID] {
        let orgs = get(format!("/v1/members/{member}/organizations")).await;
        assert_eq!(orgs.body, json!({ "data": [{ "id": ORG }] }));
    }

    let members = get(format!("/v1/organizations/{ORG}/members")).await;
    assert_eq!(ids(&members), [DEFAULT_MEMBER_ID, COLLEAGUE_MEMBER_ID]);
    assert_eq!(
        get(format!(
            "/v1/organizations/{ORG}/members/{DEFAULT_MEMBER_ID}/permissions"
        ))
        .await
        .body,
        json!({ "data": {
            "permissions": ["ORG_MANAGE_MEMBER", "ORG_MANAGE_TEAM", "ORG_MANAGE_SOCIAL_PROFILE"],
            "permissionPreset": "SUPER_ADMIN",
        }})
    );
    assert_eq!(
        get(format!(
            "/v1/organizations/{ORG}/members/{COLLEAGUE_MEMBER_ID}/permissions"
        ))
        .await
        .body,
        json!({ "data": { "permissions": [], "permissionPreset": "DEFAULT" } })
    );
    for member in [DEFAULT_MEMBER_ID, COLLEAGUE_MEMBER_ID] {
        let teams = get(format!("/v1/organizations/{ORG}/members/{member}/teams")).await;
        assert_eq!(ids(&teams), [TEAM]);
    }
    let joes = get(format!(
        "/v1/organizations/{ORG}/members/{DEFAULT_MEMBER_ID}/socialProfiles"
    ))
    .await;
    assert_eq!(
        ids(&joes),
        [DEFAULT_TWITTER_PROFILE_ID, DEFAULT_FACEBOOK_PAGE_PROFILE_ID]
    );
    let mias = get(format!(
        "/v1/organizations/{ORG}/members/{COLLEAGUE_MEMBER_ID}/socialProfiles"
    ))
    .await;
    assert_eq!(ids(&mias), [DEFAULT_TWITTER_PROFILE_ID]);

    let permissions = |member: &str, profile: &str| {
        get(format!(
            "/v1/organizations/{ORG}/members/{member}/socialProfiles/{profile}/permissions"
        ))
    };
    let owner = permissions(DEFAULT_MEMBER_ID, DEFAULT_TWITTER_PROFILE_ID).await;
    assert_eq!(owner.body["data"]["permissionPreset"], "ADVANCED");
    assert_eq!(owner.body["data"]["permissions"][0], "BASIC_USAGE");
    let editor = permissions(COLLEAGUE_MEMBER_ID, DEFAULT_TWITTER_PROFILE_ID).await;
    assert_eq!(
        editor.body,
        json!({ "data": {
            "permissions": ["BASIC_USAGE", "PUBLISH_MESSAGES", "APPROVE_MESSAGES"],
            "permissionPreset": "EDITOR",
        }})
    );
    let none = permissions(COLLEAGUE_MEMBER_ID, DEFAULT_FACEBOOK_PAGE_PROFILE_ID).await;
    assert_eq!(
        none.body,
        json!({ "data": { "permissions": [], "permissionPreset": null } })
    );
    for profile in [SECOND_PROFILE_ID, "999"] {
        let outside = permissions(DEFAULT_MEMBER_ID, profile).await;
        assert_error(&outside, StatusCode::NOT_FOUND, 4001, profile);
        assert_eq!(outside.body["errors"][0]["resource"]["type"], "socialProfile");
    }

    let teams = get(format!("/v1/organizations/{ORG}/teams")).await;
    assert_eq!(teams.body, json!({ "data": [seeded_team()] }));
    assert_eq!(
        get(format!("/v1/teams/{TEAM}")).await.body,
        json!({ "data": seeded_team() })
    );
    let team_members = get(format!("/v1/organizations/{ORG}/teams/{TEAM}/members")).await;
    assert_eq!(ids(&team_members), [DEFAULT_MEMBER_ID, COLLEAGUE_MEMBER_ID]);
    assert_eq!(
        get(format!(
            "/v1/organizations/{ORG}/teams/{TEAM}/members/{DEFAULT_MEMBER_ID}/permissions"
        ))
        .await
        .body,
        json!({ "data": { "permissions": ["ORG_MANAGE_TEAM"], "permissionPreset": "ADMIN" } })
    );
    assert_eq!(
        get(format!(
            "/v1/organizations/{ORG}/teams/{TEAM}/members/{COLLEAGUE_MEMBER_ID}/permissions"
        ))
        .await
        .body,
        json!({ "data": { "permissions": [], "permissionPreset": "DEFAULT" } })
    );
    let team_profiles = get(format!("/v1/organizations/{ORG}/teams/{TEAM}/socialProfiles")).await;
    assert_eq!(ids(&team_profiles), [DEFAULT_TWITTER_PROFILE_ID]);
    let sharing = get(format!("/v1/socialProfiles/{DEFAULT_TWITTER_PROFILE_ID}/teams")).await;
    assert_eq!(sharing.body, json!({ "data": [{ "id": TEAM }] }));
    let unshared = get(format!("/v1/socialProfiles/{DEFAULT_FACEBOOK_PAGE_PROFILE_ID}/teams")).await;
    assert_eq!(unshared.body, json!({ "data": [] }));

    for (path, code) in [
        ("/v1/teams/999".to_owned(), 4001),
        (format!("/v1/organizations/{ORG}/teams/999/members"), 4001),
        (format!("/v1/organizations/{ORG}/teams/999/socialProfiles"), 4001),
        (
            format!("/v1/organizations/{ORG}/teams/999/members/{DEFAULT_MEMBER_ID}/permissions"),
            4001,
        ),
        (format!("/v1/organizations/{ORG}/members/999/permissions"), 4303),
        (
            format!("/v1/organizations/{ORG}/members/{SECOND_MEMBER_ID}/teams"),
            4303,
        ),
        (
            format!("/v1/organizations/{ORG}/members/{SECOND_MEMBER_ID}/socialProfiles"),
            4303,
        ),
        (
            format!("/v1/organizations/{ORG}/teams/{TEAM}/members/{SECOND_MEMBER_ID}/permissions"),
            4303,
        ),
        ("/v1/socialProfiles/999/teams".to_owned(), 4001),
        (format!("/v1/socialProfiles/{SECOND_PROFILE_ID}/teams"), 4001),
    ] {
        assert_error(&get(path.clone()).await, StatusCode::NOT_FOUND, code, &path);
    }
}

#[tokio::test]
async fn a_default_member_reads_about_themself_and_the_teams_they_are_in() {
    let sim = TestSim::unthrottled().await;
    let joe = sim.access_token().await;
    let mia = sim.token_of(COLLEAGUE_MEMBER_ID).await;

    // The team shares Joe's Twitter profile with Mia: she sees it, and what is posted there.
    let profiles = sim.get("/v1/socialProfiles", &mia).await;
    assert_eq!(ids(&profiles), [DEFAULT_TWITTER_PROFILE_ID]);
    assert_eq!(
        ids(&sim.get("/v1/me/socialProfiles", &mia).await),
        [DEFAULT_TWITTER_PROFILE_ID]
    );
    let posted = sim
        .schedule(
            &joe,
            json!({ "text": "shared", "socialProfileIds": [DEFAULT_TWITTER_PROFILE_ID], "scheduledSendTime": in_minutes(30) }),
        )
        .await;
    let message = sim
        .get(&format!("/v1/messages/{}", posted[0]["id"].as_str().unwrap()), &mia)
        .await;
    assert_eq!(message.status, StatusCode::OK);
    let facebook = sim
        .get(&format!("/v1/socialProfiles/{DEFAULT_FACEBOOK_PAGE_PROFILE_ID}"), &mia)
        .await;
    assert_error(&facebook, StatusCode::NOT_FOUND, 4001, "an unshared profile");

    let own = sim
        .get(
            &format!("/v1/organizations/{ORG}/members/{COLLEAGUE_MEMBER_ID}/permissions"),
            &mia,
        )
        .await;
    assert_eq!(own.body["data"]["permissionPreset"], "DEFAULT");
    assert_eq!(
        ids(&sim.get(&format!("/v1/organizations/{ORG}/members"), &mia).await),
        [DEFAULT_MEMBER_ID, COLLEAGUE_MEMBER_ID]
    );
    assert_eq!(
        sim.get(&format!("/v1/organizations/{ORG}/teams"), &mia).await.body,
        json!({ "data": [seeded_team()] })
    );
    assert_eq!(sim.get(&format!("/v1/teams/{TEAM}"), &mia).await.status, StatusCode::OK);

    let forbidden = [
        (
            Method::GET,
            format!("/v1/organizations/{ORG}/members/{DEFAULT_MEMBER_ID}/permissions"),
            4003,
        ),
        (
            Method::GET,
            format!("/v1/organizations/{ORG}/members/{DEFAULT_MEMBER_ID}/teams"),
            4009,
        ),
        (
            Method::GET,
            format!("/v1/organizations/{ORG}/members/{DEFAULT_MEMBER_ID}/socialProfiles"),
            4009,
        ),
        (
            Method::GET,
            format!(
                "/v1/organizations/{ORG}/members/{DEFAULT_MEMBER_ID}/socialProfiles/{DEFAULT_TWITTER_PROFILE_ID}/permissions"
            ),
            4003,
        ),
        (
            Method::GET,
            format!("/v1/organizations/{ORG}/teams/{TEAM}/members/{DEFAULT_MEMBER_ID}/permissions"),
            4003,
        ),
        (
            Method::GET,
            format!("/v1/members/{DEFAULT_MEMBER_ID}/organizations"),
            4004,
        ),
        (Method::POST, format!("/v1/organizations/{ORG}/teams"), 4007),
        (
            Method::POST,
            format!("/v1/organizations/{ORG}/teams/{TEAM}/members/{COLLEAGUE_MEMBER_ID}"),
            1201,
        ),
        (
            Method::DELETE,
            format!("/v1/organizations/{ORG}/members/{DEFAULT_MEMBER_ID}"),
            1201,
        ),
        (Method::POST, "/v1/members".to_owned(), 1201),
    ];
    for (method, path, code) in forbidden {
        let body = match (&method, path.as_str()) {
            (_, "/v1/members") => {
                Some(json!({ "email": "new@test.com", "fullName": "New One", "organizationIds": [ORG] }))
            }
            (&Method::POST, p) if p.ends_with("/teams") => Some(json!({ "teamName": "Mia's team" })),
            _ => None,
        };
        let answer = sim.api(method.clone(), &path, &mia, body).await;
        assert_error(&answer, StatusCode::FORBIDDEN, code, &format!("{method} {path}"));
    }
    // Nothing changed.
    assert_eq!(
        ids(&sim.get(&format!("/v1/organizations/{ORG}/teams"), &joe).await),
        [TEAM]
    );
    assert_eq!(
        ids(&sim.get(&format!("/v1/organizations/{ORG}/members"), &joe).await),
        [DEFAULT_MEMBER_ID, COLLEAGUE_MEMBER_ID]
    );

    // The Swagger's 401 for a profile of one's organization without permission on it.
    let teams = sim
        .get(
            &format!("/v1/socialProfiles/{DEFAULT_FACEBOOK_PAGE_PROFILE_ID}/teams"),
            &mia,
        )
        .await;
    assert_error(&teams, StatusCode::UNAUTHORIZED, 4009, "teams of an unshared profile");
}

#[tokio::test]
async fn another_organization_is_forbidden_whether_it_exists_or_not() {
    let sim = TestSim::unthrottled().await;
    let pammy = sim.token_of(SECOND_MEMBER_ID).await;
    for org in [ORG, "404"] {
        let cases = [
            (Method::GET, format!("/v1/organizations/{org}/members"), 4002),
            (
                Method::GET,
                format!("/v1/organizations/{org}/members/{DEFAULT_MEMBER_ID}/permissions"),
                4003,
            ),
            (
                Method::GET,
                format!("/v1/organizations/{org}/members/{DEFAULT_MEMBER_ID}/teams"),
                4009,
            ),
            (
                Method::GET,
                format!("/v1/organizations/{org}/members/{DEFAULT_MEMBER_ID}/socialProfiles"),
                4009,
            ),
            (
                Method::GET,
                format!(
                    "/v1/organizations/{org}/members/{DEFAULT_MEMBER_ID}/socialProfiles/{DEFAULT_TWITTER_PROFILE_ID}/permissions"
                ),
                4003,
            ),
            (
                Method::DELETE,
                format!("/v1/organizations/{org}/members/{DEFAULT_MEMBER_ID}"),
                1201,
            ),
            (Method::GET, format!("/v1/organizations/{org}/teams"), 4010),
            (Method::POST, format!("/v1/organizations/{org}/teams"), 4007),
            (
                Method::GET,
                format!("/v1/organizations/{org}/teams/{TEAM}/members"),
                4005,
            ),
            (
                Method::POST,
                format!("/v1/organizations/{org}/teams/{TEAM}/members/{SECOND_MEMBER_ID}"),
                1201,
            ),
            (
                Method::GET,
                format!("/v1/organizations/{org}/teams/{TEAM}/members/{DEFAULT_MEMBER_ID}/permissions"),
                4003,
            ),
            (
                Method::GET,
                format!("/v1/organizations/{org}/teams/{TEAM}/socialProfiles"),
                4008,
            ),
        ];
        for (method, path, code) in cases {
            let body = (method == Method::POST && path.ends_with("/teams")).then(|| json!({ "teamName": "Intruders" }));
            let answer = sim.api(method.clone(), &path, &pammy, body).await;
            assert_error(&answer, StatusCode::FORBIDDEN, code, &format!("{method} {path}"));
        }
    }
    let team = sim.get(&format!("/v1/teams/{TEAM}"), &pammy).await;
    assert_error(&team, StatusCode::FORBIDDEN, 4006, "another organization's team");
    let member = sim.get(&format!("/v1/members/{DEFAULT_MEMBER_ID}"), &pammy).await;
    assert_error(&member, StatusCode::NOT_FOUND, 4001, "another organization's member");
    let orgs = sim
        .get(&format!("/v1/members/{DEFAULT_MEMBER_ID}/organizations"), &pammy)
        .await;
    assert_error(&orgs, StatusCode::NOT_FOUND, 4001, "another organization's member");
    let create = sim
        .post(
            "/v1/members",
            &pammy,
            json!({ "email": "spy@second.test", "fullName": "A Spy", "organizationIds": [ORG, SECOND_ORGANIZATION_ID] }),
        )
        .await;
    assert_error(&create, StatusCode::FORBIDDEN, 1201, "a member in another organization");

    // In her own organization, Joe is nobody.
    let joe_there = sim
        .get(
            &format!("/v1/organizations/{SECOND_ORGANIZATION_ID}/members/{DEFAULT_MEMBER_ID}/permissions"),
            &pammy,
        )
        .await;
    assert_error(
        &joe_there,
        StatusCode::NOT_FOUND,
        4303,
        "a member of another organization",
    );
    assert_eq!(
        ids(&sim
            .get(&format!("/v1/organizations/{SECOND_ORGANIZATION_ID}/members"), &pammy)
            .await),
        [SECOND_MEMBER_ID]
    );
    assert_eq!(
        sim.get(&format!("/v1/organizations/{SECOND_ORGANIZATION_ID}/teams"), &pammy)
            .await
            .body,
        json!({ "data": [] })
    );
}

#[tokio::test]
async fn organization_tokens_act_for_their_organization() {
    let sim = TestSim::unthrottled().await;
    sim.access_token().await;
    let org = sim.organization_token(ORG).await;
    assert_eq!(
        ids(&sim.get(&format!("/v1/organizations/{ORG}/members"), &org).await),
        [DEFAULT_MEMBER_ID, COLLEAGUE_MEMBER_ID]
    );
    let permissions = sim
        .get(
            &format!("/v1/organizations/{ORG}/members/{COLLEAGUE_MEMBER_ID}/permissions"),
            &org,
        )
        .await;
    assert_eq!(permissions.body["data"]["permissionPreset"], "DEFAULT");
    assert_eq!(
        sim.get(&format!("/v1/members/{COLLEAGUE_MEMBER_ID}"), &org)
            .await
            .status,
        StatusCode::OK
    );
    assert_eq!(
        ids(&sim
            .get(&format!("/v1/members/{COLLEAGUE_MEMBER_ID}/organizations"), &org)
            .await),
        [ORG]
    );
    let team = sim
        .post(
            &format!("/v1/organizations/{ORG}/teams"),
            &org,
            json!({ "teamName": "Org Made" }),
        )
        .await;
    assert_eq!(team.status, StatusCode::OK, "{}", team.body);
    assert_eq!(team.body["data"]["createdByMember"], Value::Null);
    let mine = sim.get("/v1/me/socialProfiles", &org).await;
    assert_error(&mine, StatusCode::FORBIDDEN, 4009, "an organization token has no me");

    let pammy = sim.get(&format!("/v1/members/{SECOND_MEMBER_ID}"), &org).await;
    assert_error(&pammy, StatusCode::NOT_FOUND, 4001, "another organization's member");
    let other = sim
        .get(&format!("/v1/organizations/{SECOND_ORGANIZATION_ID}/members"), &org)
        .await;
    assert_error(&other, StatusCode::FORBIDDEN, 4002, "another organization");
}

#[tokio::test]
async fn creating_members_validates_the_request() {
    let sim = TestSim::unthrottled().await;
    let joe = sim.access_token().await;
    let as_string = sim
        .post(
            "/v1/members",
            &joe,
            json!({ "email": "ce@test.com", "fullName": "Cloud Elements", "organizationIds": [ORG] }),
        )
        .await;
    assert_eq!(as_string.status, StatusCode::OK, "{}", as_string.body);
    let created = &as_string.body["data"];
    let id = created["id"].as_str().unwrap();
    assert!(id.parse::<u64>().unwrap() > 4_138_476_039);
    assert_eq!(created["email"], "ce@test.com");
    assert_eq!(created["fullName"], "Cloud Elements");
    assert_eq!(created["isActive"], true);
    assert_eq!(created["timezone"], "America/Vancouver");
    assert_eq!(created["language"], "en");
    assert!(created["createdDate"].as_str().unwrap().ends_with('Z'));
    let as_number = sim
        .post(
            "/v1/members",
            &joe,
            json!({ "email": "n@test.com", "fullName": "By Number", "organizationIds": [626731],
                    "companyName": "Co", "bio": "Hi", "timezone": "Europe/Paris", "language": "fr" }),
        )
        .await;
    assert_eq!(as_number.status, StatusCode::OK, "{}", as_number.body);
    assert_eq!(as_number.body["data"]["language"], "fr");
    assert_eq!(as_number.body["data"]["companyName"], "Co");

    assert_eq!(sim.get(&format!("/v1/members/{id}"), &joe).await.body, as_string.body);
    assert_eq!(
        ids(&sim.get(&format!("/v1/members/{id}/organizations"), &joe).await),
        [ORG]
    );
    let members = sim.get(&format!("/v1/organizations/{ORG}/members"), &joe).await;
    assert_eq!(ids(&members).len(), 4);
    let permissions = sim
        .get(&format!("/v1/organizations/{ORG}/members/{id}/permissions"), &joe)
        .await;
    assert_eq!(permissions.body["data"]["permissionPreset"], "DEFAULT");

    let member = |fields: Value| {
        let mut body = json!({ "email": "x@test.com", "fullName": "Xavier", "organizationIds": [ORG] });
        for (key, value) in fields.as_object().unwrap() {
            if value.is_null() {
                body.as_object_mut().unwrap().remove(key);
            } else {
                body[key] = value.clone();
            }
        }
        body
    };
    let cases = [
        (member(json!({ "email": null })), 2006),
        (member(json!({ "email": " " })), 2006),
        (member(json!({ "email": "not-an-email" })), 2001),
        (member(json!({ "fullName": null })), 2005),
        (member(json!({ "fullName": "X" })), 2002),
        (member(json!({ "fullName": "x".repeat(101) })), 2002),
        (member(json!({ "organizationIds": null })), 4000),
        (member(json!({ "organizationIds": [] })), 4000),
        (member(json!({ "organizationIds": ["abc"] })), 2303),
        (member(json!({ "organizationIds": [true] })), 4000),
        (member(json!({ "timezone": "Mars/Olympus_Mons" })), 2003),
        (member(json!({ "language": "xx" })), 4000),
        (member(json!({ "email": "JSmith@Test.com" })), 3010),
        (member(json!({ "email": 5 })), 4000),
    ];
    for (body, code) in cases {
        let answer = sim.post("/v1/members", &joe, body.clone()).await;
        assert_error(&answer, StatusCode::BAD_REQUEST, code, &body.to_string());
    }
    let garbage = sim
        .raw(
            Method::POST,
            &sim.url("/v1/members"),
            Some(&joe),
            "application/json",
            b"{".to_vec(),
        )
        .await;
    assert_error(&garbage, StatusCode::BAD_REQUEST, 4000, "unreadable JSON");
    let unknown = sim
        .post("/v1/members", &joe, member(json!({ "organizationIds": ["404"] })))
        .await;
    assert_error(&unknown, StatusCode::FORBIDDEN, 1201, "an unknown organization");
    assert_eq!(
        ids(&sim.get(&format!("/v1/organizations/{ORG}/members"), &joe).await).len(),
        4
    );
}

#[tokio::test]
async fn teams_are_created_filled_and_members_removed() {
    let sim = TestSim::unthrottled().await;
    let joe = sim.access_token().await;
    let newcomer = sim
        .post(
            "/v1/members",
            &joe,
            json!({ "email": "new@test.com", "fullName": "New Comer", "organizationIds": [ORG] }),
        )
        .await;
    let newcomer = newcomer.body["data"]["id"].as_str().unwrap().to_owned();

    let created = sim
        .post(
            &format!("/v1/organizations/{ORG}/teams"),
            &joe,
            json!({ "teamName": "  Social Care  " }),
        )
        .await;
    assert_eq!(created.status, StatusCode::OK, "{}", created.body);
    let team = created.body["data"].clone();
    let team_id = team["id"].as_str().unwrap();
    assert_eq!(team["name"], "Social Care");
    assert_eq!(team["createdByMember"], json!({ "id": DEFAULT_MEMBER_ID }));
    assert_eq!(team["modifiedDate"], team["createdDate"]);
    assert_eq!(sim.get(&format!("/v1/teams/{team_id}"), &joe).await.body["data"], team);
    assert_eq!(
        ids(&sim.get(&format!("/v1/organizations/{ORG}/teams"), &joe).await),
        [TEAM, team_id]
    );
    assert_eq!(
        sim.get(&format!("/v1/organizations/{ORG}/teams/{team_id}/members"), &joe)
            .await
            .body,
        json!({ "data": [] }),
        "the creator does not join"
    );
    for (body, code) in [
        (json!({ "teamName": "social care" }), 3006),
        (json!({ "teamName": "x" }), 3002),
        (json!({ "teamName": "x".repeat(201) }), 3002),
        (json!({}), 4000),
        (json!({ "teamName": 7 }), 4000),
    ] {
        let answer = sim
            .post(&format!("/v1/organizations/{ORG}/teams"), &joe, body.clone())
            .await;
        assert_error(&answer, StatusCode::BAD_REQUEST, code, &body.to_string());
    }

    let add = |team: String, member: String| {
        let (sim, joe) = (&sim, &joe);
        async move {
            sim.api(
                Method::POST,
                &format!("/v1/organizations/{ORG}/teams/{team}/members/{member}"),
                joe,
                None,
            )
            .await
        }
    };
    for _ in 0..2 {
        let added = add(team_id.to_owned(), newcomer.clone()).await;
        assert_eq!(added.status, StatusCode::OK, "{}", added.body);
        assert_eq!(added.body, json!({ "data": {} }));
    }
    assert_eq!(
        ids(&sim
            .get(&format!("/v1/organizations/{ORG}/teams/{team_id}/members"), &joe)
            .await),
        [newcomer.as_str()]
    );
    let role = sim
        .get(
            &format!("/v1/organizations/{ORG}/teams/{team_id}/members/{newcomer}/permissions"),
            &joe,
        )
        .await;
    assert_eq!(role.body["data"]["permissionPreset"], "DEFAULT");
    let outsider = add(team_id.to_owned(), SECOND_MEMBER_ID.to_owned()).await;
    assert_error(
        &outsider,
        StatusCode::BAD_REQUEST,
        3008,
        "a member of another organization",
    );
    let nowhere = add("999".to_owned(), newcomer.clone()).await;
    assert_error(&nowhere, StatusCode::NOT_FOUND, 4001, "an unknown team");
    let not_in_team = sim
        .get(
            &format!("/v1/organizations/{ORG}/teams/{team_id}/members/{COLLEAGUE_MEMBER_ID}/permissions"),
            &joe,
        )
        .await;
    assert_eq!(
        not_in_team.body,
        json!({ "data": { "permissions": [], "permissionPreset": null } })
    );

    let remove = |member: &str| {
        let (sim, joe, path) = (&sim, &joe, format!("/v1/organizations/{ORG}/members/{member}"));
        async move { sim.api(Method::DELETE, &path, joe, None).await }
    };
    let removed = remove(&newcomer).await;
    assert_eq!(removed.body, json!({ "data": {} }));
    assert_eq!(
        ids(&sim.get(&format!("/v1/organizations/{ORG}/members"), &joe).await),
        [DEFAULT_MEMBER_ID, COLLEAGUE_MEMBER_ID]
    );
    assert_eq!(
        sim.get(&format!("/v1/organizations/{ORG}/teams/{team_id}/members"), &joe)
            .await
            .body,
        json!({ "data": [] })
    );
    let gone = sim.get(&format!("/v1/members/{newcomer}"), &joe).await;
    assert_error(&gone, StatusCode::NOT_FOUND, 4001, "no organization in common any more");
    assert_error(&remove(&newcomer).await, StatusCode::NOT_FOUND, 4303, "removed twice");
    assert_error(
        &remove(DEFAULT_MEMBER_ID).await,
        StatusCode::BAD_REQUEST,
        3301,
        "the payer",
    );

    // Removing Mia takes the shared Twitter profile away from her.
    assert_eq!(remove(COLLEAGUE_MEMBER_ID).await.status, StatusCode::OK);
    let mia = sim.token_of(COLLEAGUE_MEMBER_ID).await;
    assert_eq!(sim.get("/v1/socialProfiles", &mia).await.body, json!({ "data": [] }));
    assert_eq!(sim.get("/v1/me/organizations", &mia).await.body, json!({ "data": [] }));
}
