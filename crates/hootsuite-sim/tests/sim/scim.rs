//! SCIM 2.0 users: the organization's members in SCIM's shape, filtering and paging, creation,
//! and SCIM's own error envelope.

use hootsuite_sim::{
    COLLEAGUE_MEMBER_ID, DEFAULT_MEMBER_ID, DEFAULT_ORGANIZATION_ID, DEFAULT_TEAM_ID, SECOND_MEMBER_ID,
    SECOND_ORGANIZATION_ID,
};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::common::{Answer, TestSim};

const ERROR_SCHEMA: &str = "urn:ietf:params:scim:api:messages:2.0:Error";

fn assert_scim_error(answer: &Answer, status: StatusCode, scim_type: Option<&str>, what: &str) {
    assert_eq!(answer.status, status, "{what}: {}", answer.body);
    assert_eq!(answer.body["schemas"], json!([ERROR_SCHEMA]), "{what}");
    assert_eq!(answer.body["status"], status.as_u16().to_string(), "{what}");
    assert!(answer.body["detail"].is_string(), "{what}");
    assert_eq!(answer.body["scimType"].as_str(), scim_type, "{what}: {}", answer.body);
    assert!(answer.body.get("errors").is_none() && answer.body.get("data").is_none());
}

fn user_ids(answer: &Answer) -> Vec<&str> {
    answer.body["Resources"]
        .as_array()
        .unwrap_or_else(|| panic!("{} {}", answer.status, answer.body))
        .iter()
        .map(|u| u["id"].as_str().unwrap())
        .collect()
}

fn churros_user(user_name: &str) -> Value {
    json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
        "userName": user_name, "displayName": "Afrin Chakure", "active": true,
        "name": { "givenName": "Afrin", "familyName": "Chakure" },
        "emails": [{ "value": user_name, "primary": true }],
        "urn:ietf:params:scim:schemas:extension:Hootsuite:2.0:User": { "organizationIds": [626731] },
        "preferredLanguage": "en", "timezone": "America/Vancouver", "title": "Manager", "groups": [],
    })
}

#[tokio::test]
async fn users_are_the_organizations_members_in_scim_shape() {
    let sim = TestSim::unthrottled().await;
    let joe = sim.access_token().await;
    let list = sim.get("/scim/v2/Users", &joe).await;
    assert_eq!(list.status, StatusCode::OK, "{}", list.body);
    assert_eq!(
        list.body["schemas"],
        json!(["urn:ietf:params:scim:api:messages:2.0:ListResponse"])
    );
    assert_eq!(list.body["totalResults"], 2);
    assert_eq!(list.body["startIndex"], 1);
    assert_eq!(list.body["itemsPerPage"], 100);
    assert!(list.body.get("data").is_none());
    assert_eq!(user_ids(&list), [DEFAULT_MEMBER_ID, COLLEAGUE_MEMBER_ID]);
    let base = sim.handle.base_url();
    assert_eq!(
        list.body["Resources"][0],
        json!({
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
            "id": DEFAULT_MEMBER_ID,
            "meta": { "resourceType": "User", "created": "2013-05-29T13:27:24.000Z",
                      "lastModified": "2013-05-29T13:27:24.000Z" },
            "userName": "jsmith@test.com",
            "name": { "givenName": "Joe", "familyName": "Smith" },
            "emails": [{ "primary": true, "value": "jsmith@test.com", "type": "work" }],
            "displayName": "Joe Smith",
            "timezone": "America/Vancouver",
            "preferredLanguage": "en",
            "title": null,
            "groups": [{ "value": DEFAULT_TEAM_ID, "$ref": format!("{base}/scim/v2/Groups/{DEFAULT_TEAM_ID}"),
                         "display": "North America Support Team" }],
            "active": true,
        })
    );
    let one = sim.get(&format!("/scim/v2/Users/{COLLEAGUE_MEMBER_ID}"), &joe).await;
    assert_eq!(one.body, list.body["Resources"][1]);

    let filtered = sim
        .get("/scim/v2/Users?filter=userName%20eq%20%22MChen%40test.com%22", &joe)
        .await;
    assert_eq!(user_ids(&filtered), [COLLEAGUE_MEMBER_ID]);
    assert_eq!(filtered.body["totalResults"], 1);
    let nobody = sim
        .get("/scim/v2/Users?filter=userName%20eq%20%22pdog%40second.test%22", &joe)
        .await;
    assert_eq!(
        (nobody.body["totalResults"].clone(), nobody.body["Resources"].clone()),
        (json!(0), json!([]))
    );

    let page = sim.get("/scim/v2/Users?startIndex=2&count=1", &joe).await;
    assert_eq!(user_ids(&page), [COLLEAGUE_MEMBER_ID]);
    assert_eq!(
        (
            &page.body["totalResults"],
            &page.body["startIndex"],
            &page.body["itemsPerPage"]
        ),
        (&json!(2), &json!(2), &json!(1))
    );
    let past = sim.get("/scim/v2/Users?startIndex=3&count=500", &joe).await;
    assert_eq!((user_ids(&past).len(), &past.body["itemsPerPage"]), (0, &json!(100)));

    for id in [SECOND_MEMBER_ID, "999"] {
        let missing = sim.get(&format!("/scim/v2/Users/{id}"), &joe).await;
        assert_scim_error(&missing, StatusCode::NOT_FOUND, None, id);
    }
    for (query, scim_type) in [
        ("filter=emails%20eq%20%22x%40y.com%22", "invalidSyntax"),
        ("filter=userName%20sw%20%22j%22", "invalidSyntax"),
        ("filter=userName%20eq%20jsmith", "invalidSyntax"),
        ("count=ten", "invalidValue"),
        ("startIndex=first", "invalidValue"),
    ] {
        let bad = sim.get(&format!("/scim/v2/Users?{query}"), &joe).await;
        assert_scim_error(&bad, StatusCode::BAD_REQUEST, Some(scim_type), query);
    }
    let groups = sim.get("/scim/v2/Groups", &joe).await;
    assert_scim_error(&groups, StatusCode::NOT_FOUND, None, "Groups are not simulated");
    let replace = sim
        .api(
            Method::PUT,
            &format!("/scim/v2/Users/{DEFAULT_MEMBER_ID}"),
            &joe,
            Some(json!({})),
        )
        .await;
    assert_scim_error(&replace, StatusCode::METHOD_NOT_ALLOWED, None, "PUT is not simulated");
}

#[tokio::test]
async fn only_member_managers_and_organization_tokens_see_users() {
    let sim = TestSim::unthrottled().await;
    let joe = sim.access_token().await;
    let mia = sim.token_of(COLLEAGUE_MEMBER_ID).await;
    for path in [
        "/scim/v2/Users".to_owned(),
        format!("/scim/v2/Users/{COLLEAGUE_MEMBER_ID}"),
    ] {
        let refused = sim.get(&path, &mia).await;
        assert_scim_error(&refused, StatusCode::FORBIDDEN, None, &path);
    }
    let pammy = sim.token_of(SECOND_MEMBER_ID).await;
    assert_eq!(user_ids(&sim.get("/scim/v2/Users", &pammy).await), [SECOND_MEMBER_ID]);
    let org = sim.organization_token(DEFAULT_ORGANIZATION_ID).await;
    let listed = sim.get("/scim/v2/Users", &org).await;
    assert_eq!(user_ids(&listed), [DEFAULT_MEMBER_ID, COLLEAGUE_MEMBER_ID]);
    assert_eq!(sim.get("/scim/v2/Users", &joe).await.body, listed.body);
}

#[tokio::test]
async fn creating_a_user_creates_the_member() {
    let sim = TestSim::unthrottled().await;
    let joe = sim.access_token().await;
    let created = sim.post("/scim/v2/Users", &joe, churros_user("afrin@test.com")).await;
    assert_eq!(created.status, StatusCode::OK, "{}", created.body);
    let user = &created.body;
    let id = user["id"].as_str().unwrap();
    assert_eq!(user["userName"], "afrin@test.com");
    assert_eq!(user["displayName"], "Afrin Chakure");
    assert_eq!(user["name"], json!({ "givenName": "Afrin", "familyName": "Chakure" }));
    assert_eq!(user["title"], "Manager");
    assert_eq!(user["groups"], json!([]));
    assert!(user["meta"]["created"].as_str().unwrap().ends_with(".000Z"));
    assert_eq!(sim.get(&format!("/scim/v2/Users/{id}"), &joe).await.body, created.body);

    // One person: the member behind the user.
    let member = sim.get(&format!("/v1/members/{id}"), &joe).await;
    assert_eq!(member.body["data"]["fullName"], "Afrin Chakure");
    assert_eq!(member.body["data"]["email"], "afrin@test.com");
    let orgs = sim.get(&format!("/v1/members/{id}/organizations"), &joe).await;
    assert_eq!(orgs.body, json!({ "data": [{ "id": DEFAULT_ORGANIZATION_ID }] }));

    // Without the extension the user joins the caller's organization; active may be false.
    let mut plain = churros_user("plain@test.com");
    plain
        .as_object_mut()
        .unwrap()
        .remove("urn:ietf:params:scim:schemas:extension:Hootsuite:2.0:User");
    plain["active"] = json!(false);
    let plain = sim.post("/scim/v2/Users", &joe, plain).await;
    assert_eq!(plain.status, StatusCode::OK, "{}", plain.body);
    assert_eq!(plain.body["active"], false);
    let inactive = sim
        .get(&format!("/v1/members/{}", plain.body["id"].as_str().unwrap()), &joe)
        .await;
    assert_eq!(inactive.body["data"]["isActive"], false);
    assert_eq!(sim.get("/scim/v2/Users", &joe).await.body["totalResults"], 4);

    let taken = sim.post("/scim/v2/Users", &joe, churros_user("JSmith@test.com")).await;
    assert_scim_error(&taken, StatusCode::CONFLICT, Some("uniqueness"), "a taken userName");

    let without = |field: &str| {
        let mut body = churros_user("new@test.com");
        body.as_object_mut().unwrap().remove(field);
        body
    };
    let with = |field: &str, value: Value| {
        let mut body = churros_user("new@test.com");
        body[field] = value;
        body
    };
    let cases = [
        ("no displayName", without("displayName")),
        ("no userName", without("userName")),
        ("no active", without("active")),
        ("active as a string", with("active", json!("yes"))),
        (
            "emails without primary (churros' asset)",
            with("emails", json!([{ "value": "new@test.com" }])),
        ),
        ("userName not an email", with("userName", json!("newbie"))),
        ("a one-letter displayName", with("displayName", json!("N"))),
        ("an unknown language", with("preferredLanguage", json!("xx"))),
        ("a time zone that is none", with("timezone", json!("Nowhere"))),
        ("schemas without the user schema", with("schemas", json!(["urn:x"]))),
        (
            "organization ids that are not",
            with(
                "urn:ietf:params:scim:schemas:extension:Hootsuite:2.0:User",
                json!({ "organizationIds": ["abc"] }),
            ),
        ),
    ];
    for (what, body) in cases {
        let answer = sim.post("/scim/v2/Users", &joe, body).await;
        assert_scim_error(&answer, StatusCode::BAD_REQUEST, Some("invalidValue"), what);
    }
    let garbage = sim
        .raw(
            Method::POST,
            &sim.url("/scim/v2/Users"),
            Some(&joe),
            "application/json",
            b"{\"userName\":".to_vec(),
        )
        .await;
    assert_scim_error(
        &garbage,
        StatusCode::BAD_REQUEST,
        Some("invalidSyntax"),
        "unreadable JSON",
    );
    let elsewhere = sim
        .post(
            "/scim/v2/Users",
            &joe,
            with(
                "urn:ietf:params:scim:schemas:extension:Hootsuite:2.0:User",
                json!({ "organizationIds": [SECOND_ORGANIZATION_ID] }),
            ),
        )
        .await;
    assert_scim_error(&elsewhere, StatusCode::FORBIDDEN, None, "another organization");
    assert_eq!(sim.get("/scim/v2/Users", &joe).await.body["totalResults"], 4);
}
