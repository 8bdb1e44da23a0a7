//! OAuth 2.0: metadata, the consent page and its decisions, the token endpoint's rules, code
//! reuse, refresh rotation, expiry, and the member_app / organization_app grants.

use std::time::Duration;

use hootsuite_sim::{
    DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET, DEFAULT_FACEBOOK_PAGE_PROFILE_ID, DEFAULT_MEMBER_ID,
    DEFAULT_ORGANIZATION_ID, DEFAULT_TWITTER_PROFILE_ID, SECOND_MEMBER_ID, SECOND_ORGANIZATION_ID, SimConfig,
};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::common::{REDIRECT_URI, STATE, TestSim, fast_config, redirect_params};

fn auth_query(redirect_uri: &str, scope: &str, state: &str) -> Vec<(&'static str, String)> {
    vec![
        ("response_type", "code".into()),
        ("client_id", DEFAULT_CLIENT_ID.into()),
        ("redirect_uri", redirect_uri.into()),
        ("scope", scope.into()),
        ("state", state.into()),
    ]
}

async fn get_auth(sim: &TestSim, query: &[(&str, String)]) -> reqwest::Response {
    sim.http.get(sim.url("/oauth2/auth")).query(query).send().await.unwrap()
}

/// `name="x" value="y"` pairs of the hidden inputs of a page.
fn hidden_fields(html: &str) -> Vec<(String, String)> {
    html.split("<input type=\"hidden\" ")
        .skip(1)
        .map(|tag| {
            let attr = |name: &str| {
                let start = tag.find(&format!("{name}=\"")).unwrap() + name.len() + 2;
                tag[start..][..tag[start..].find('"').unwrap()].to_owned()
            };
            (attr("name"), attr("value"))
        })
        .collect()
}

#[tokio::test]
async fn metadata_points_at_this_server() {
    let sim = TestSim::start().await;
    let doc: Value = sim
        .http
        .get(sim.url("/.well-known/oauth-authorization-server"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(doc["issuer"], sim.handle.base_url());
    assert_eq!(doc["token_endpoint"], sim.url("/oauth2/token"));
    assert_eq!(doc["authorization_endpoint"], sim.url("/oauth2/auth"));
    assert_eq!(doc["scopes_supported"], json!(["offline", "analytics:read"]));
    assert_eq!(doc["code_challenge_methods_supported"], json!(["S256"]));
}

#[tokio::test]
async fn consent_page_renders_and_its_form_round_trips() {
    let sim = TestSim::start().await;
    let response = get_auth(&sim, &auth_query(REDIRECT_URI, "offline analytics:read", STATE)).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert!(
        response.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/html")
    );
    let html = response.text().await.unwrap();
    assert!(html.contains("Tributary Demo"));
    assert!(html.contains("offline") && html.contains("analytics:read"));
    assert!(html.contains("<form method=\"post\" action=\"/oauth2/auth\">"));
    assert!(html.contains("<select id=\"member_id\" name=\"member_id\">"));
    assert!(html.contains(&format!("<option value=\"{DEFAULT_MEMBER_ID}\">Joe Smith")));
    assert!(html.contains("<label for=\"member_id\">"));
    assert!(html.contains("id=\"approve\"") && html.contains(">Approve</button>"));
    assert!(html.contains("id=\"deny\"") && html.contains(">Deny</button>"));

    let mut fields = hidden_fields(&html);
    assert!(fields.contains(&("state".into(), STATE.into())));
    assert!(fields.contains(&("redirect_uri".into(), REDIRECT_URI.into())));
    fields.push(("member_id".into(), DEFAULT_MEMBER_ID.into()));
    fields.push(("decision".into(), "approve".into()));
    let form: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let approved = sim.consent(&form).await;
    assert_eq!(approved.status(), StatusCode::FOUND);
    let location = approved.headers()["location"].to_str().unwrap();
    assert!(location.starts_with(&format!("{REDIRECT_URI}?")), "{location}");
    let params = redirect_params(&approved);
    assert_eq!(params["state"], STATE);
    assert_eq!(params["scope"], "offline analytics:read");
    assert!(params["code"].as_str().unwrap().contains('.'));
}

#[tokio::test]
async fn deny_redirects_with_access_denied() {
    let sim = TestSim::start().await;
    let response = sim
        .consent(&[
            ("response_type", "code"),
            ("client_id", DEFAULT_CLIENT_ID),
            ("redirect_uri", REDIRECT_URI),
            ("state", STATE),
            ("member_id", DEFAULT_MEMBER_ID),
            ("decision", "deny"),
        ])
        .await;
    assert_eq!(response.status(), StatusCode::FOUND);
    let params = redirect_params(&response);
    assert_eq!(params["error"], "access_denied");
    assert!(params["error_description"].as_str().unwrap().contains("denied"));
    assert_eq!(params["state"], STATE);
    assert!(params.get("code").is_none());
}

#[tokio::test]
async fn weak_state_bad_response_type_and_unknown_scope_redirect_with_errors() {
    let sim = TestSim::start().await;
    for state in ["short", ""] {
        let response = get_auth(&sim, &auth_query(REDIRECT_URI, "offline", state)).await;
        assert_eq!(response.status(), StatusCode::FOUND);
        let params = redirect_params(&response);
        assert_eq!(params["error"], "invalid_state");
        assert_eq!(
            params["error_description"],
            "The state is missing or has less than 8 characters and is therefore considered too weak."
        );
    }
    let mut query = auth_query(REDIRECT_URI, "offline", STATE);
    query[0].1 = "token".into();
    let params = redirect_params(&get_auth(&sim, &query).await);
    assert_eq!(params["error"], "unsupported_response_type");
    assert_eq!(params["state"], STATE);

    let params = redirect_params(&get_auth(&sim, &auth_query(REDIRECT_URI, "offline write", STATE)).await);
    assert_eq!(params["error"], "invalid_scope");
}

#[tokio::test]
async fn unregistered_redirect_or_unknown_client_get_an_error_page() {
    let sim = TestSim::start().await;
    for redirect in ["https://evil.example/cb", "http://192.0.2.1/cb"] {
        let response = get_auth(&sim, &auth_query(redirect, "offline", STATE)).await;
        assert_eq!(response.status(), StatusCode::BAD_REQUEST);
        assert!(response.headers().get("location").is_none());
        assert!(response.text().await.unwrap().contains("unknown_redirect_uri"));
    }
    let mut query = auth_query(REDIRECT_URI, "offline", STATE);
    query[1].1 = "nobody".into();
    let response = get_auth(&sim, &query).await;
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    assert!(response.headers().get("location").is_none());

    // Registered non-loopback URIs work once registered.
    let registered = "https://hub.example/oauth/callback";
    let sim = TestSim::with(SimConfig {
        redirect_uris: vec![registered.into()],
        ..fast_config()
    })
    .await;
    let response = get_auth(&sim, &auth_query(registered, "offline", STATE)).await;
    assert_eq!(response.status(), StatusCode::OK);
}

#[tokio::test]
async fn token_endpoint_wants_basic_auth_and_a_form_body() {
    let sim = TestSim::start().await;
    let code = sim.authorize_as(DEFAULT_MEMBER_ID, "offline").await;

    let json_body = sim
        .http
        .post(sim.url("/oauth2/token"))
        .basic_auth(DEFAULT_CLIENT_ID, Some(DEFAULT_CLIENT_SECRET))
        .json(&json!({ "grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT_URI }))
        .send()
        .await
        .unwrap();
    assert_eq!(json_body.status(), StatusCode::BAD_REQUEST);
    let body: Value = json_body.json().await.unwrap();
    assert_eq!(body["error"], "invalid_request");
    assert_eq!(body["status_code"], 400);

    let in_body = sim
        .http
        .post(sim.url("/oauth2/token"))
        .form(&[
            ("grant_type", "authorization_code"),
            ("code", code.as_str()),
            ("redirect_uri", REDIRECT_URI),
            ("client_id", DEFAULT_CLIENT_ID),
            ("client_secret", DEFAULT_CLIENT_SECRET),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(in_body.status(), StatusCode::UNAUTHORIZED);
    let body: Value = in_body.json().await.unwrap();
    assert_eq!(body["error"], "invalid_client");
    assert!(
        body["error_hint"]
            .as_str()
            .unwrap()
            .contains("request-body is not supported")
    );
    assert!(body["error_description"].is_string());
    assert_eq!(body["status_code"], 401);

    let wrong_secret = sim
        .http
        .post(sim.url("/oauth2/token"))
        .basic_auth(DEFAULT_CLIENT_ID, Some("nope"))
        .form(&[
            ("grant_type", "authorization_code"),
            ("code", code.as_str()),
            ("redirect_uri", REDIRECT_URI),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(wrong_secret.status(), StatusCode::UNAUTHORIZED);

    let wrong_redirect = sim
        .token(&[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", "http://localhost/other"),
        ])
        .await;
    assert_eq!(wrong_redirect.status, StatusCode::BAD_REQUEST);
    assert_eq!(wrong_redirect.body["error"], "invalid_grant");

    let unsupported = sim.token(&[("grant_type", "password")]).await;
    assert_eq!(unsupported.body["error"], "unsupported_grant_type");

    // None of the failures above used the code up.
    let tokens = sim.exchange(&code).await;
    assert_eq!(tokens.status, StatusCode::OK);
    assert_eq!(tokens.header("cache-control"), Some("no-store"));
    let body = &tokens.body;
    assert_eq!(body["token_type"], "bearer");
    assert_eq!(body["expires_in"], 3599);
    assert_eq!(body["scope"], "offline");
    for token in [&body["access_token"], &body["refresh_token"]] {
        assert_eq!(token.as_str().unwrap().split('.').count(), 2);
    }

    let without_offline = sim.authorize_as(DEFAULT_MEMBER_ID, "analytics:read").await;
    let tokens = sim.exchange(&without_offline).await;
    assert_eq!(tokens.body["scope"], "analytics:read");
    assert!(tokens.body.get("refresh_token").is_none());
}

#[tokio::test]
async fn reusing_a_code_revokes_the_tokens_of_its_first_exchange() {
    let sim = TestSim::start().await;
    let code = sim.authorize_as(DEFAULT_MEMBER_ID, "offline").await;
    let first = sim.exchange(&code).await.body;
    let access = first["access_token"].as_str().unwrap();
    assert_eq!(sim.get("/v1/me", access).await.status, StatusCode::OK);

    let again = sim.exchange(&code).await;
    assert_eq!(again.status, StatusCode::BAD_REQUEST);
    assert_eq!(again.body["error"], "invalid_grant");

    let me = sim.get("/v1/me", access).await;
    assert_eq!(me.status, StatusCode::UNAUTHORIZED);
    assert_eq!(me.code(), 1001);
    let refresh = sim
        .token(&[
            ("grant_type", "refresh_token"),
            ("refresh_token", first["refresh_token"].as_str().unwrap()),
        ])
        .await;
    assert_eq!(refresh.body["error"], "invalid_grant");
}

#[tokio::test]
async fn refresh_tokens_rotate_and_revoke_the_previous_access_token() {
    let sim = TestSim::start().await;
    let first = sim.login_as(DEFAULT_MEMBER_ID).await;
    let old_refresh = first["refresh_token"].as_str().unwrap();
    let old_access = first["access_token"].as_str().unwrap();

    let second = sim
        .token(&[("grant_type", "refresh_token"), ("refresh_token", old_refresh)])
        .await;
    assert_eq!(second.status, StatusCode::OK, "{}", second.body);
    let new_access = second.body["access_token"].as_str().unwrap();
    let new_refresh = second.body["refresh_token"].as_str().unwrap();
    assert_ne!(new_refresh, old_refresh);
    assert_eq!(second.body["scope"], "offline");
    assert_eq!(sim.get("/v1/me", new_access).await.status, StatusCode::OK);
    assert_eq!(sim.get("/v1/me", old_access).await.code(), 1001);

    let reuse = sim
        .token(&[("grant_type", "refresh_token"), ("refresh_token", old_refresh)])
        .await;
    assert_eq!(reuse.status, StatusCode::BAD_REQUEST);
    assert_eq!(reuse.body["error"], "invalid_grant");
    let third = sim
        .token(&[("grant_type", "refresh_token"), ("refresh_token", new_refresh)])
        .await;
    assert_eq!(third.status, StatusCode::OK);

    // The log names grants and outcomes, never the tokens themselves.
    let log = sim.get_control("/token-requests").await;
    let refreshes: Vec<&Value> = log
        .as_array()
        .unwrap()
        .iter()
        .filter(|l| l["grantType"] == "refresh_token")
        .collect();
    assert_eq!(refreshes.len(), 3);
    assert_eq!(refreshes[0]["outcome"], "ok");
    assert_eq!(refreshes[1]["outcome"], "invalid_grant");
    assert_eq!(
        refreshes[0]["refreshTokenFingerprint"],
        refreshes[1]["refreshTokenFingerprint"]
    );
    assert_eq!(refreshes[0]["clientId"], DEFAULT_CLIENT_ID);
    let text = log.to_string();
    assert!(!text.contains(old_refresh) && !text.contains(old_access));
}

#[tokio::test]
async fn access_tokens_expire_by_the_simulator_clock() {
    let sim = TestSim::with(SimConfig {
        access_token_ttl: Duration::from_secs(60),
        ..fast_config()
    })
    .await;
    let tokens = sim.login_as(DEFAULT_MEMBER_ID).await;
    assert_eq!(tokens["expires_in"], 60);
    let access = tokens["access_token"].as_str().unwrap();
    assert_eq!(sim.get("/v1/me", access).await.status, StatusCode::OK);

    sim.control(Method::PUT, "/clock", json!({ "offsetSecs": 61 })).await;
    let expired = sim.get("/v1/me", access).await;
    assert_eq!(expired.status, StatusCode::UNAUTHORIZED);
    assert_eq!(expired.code(), 1001);
    assert_eq!(expired.body["errors"][0]["message"], "Invalid access token");

    // Refresh tokens do not expire; a TTL change applies to tokens issued afterwards.
    sim.control(Method::PUT, "/config", json!({ "accessTokenTtlSecs": 5 }))
        .await;
    let refreshed = sim
        .token(&[
            ("grant_type", "refresh_token"),
            ("refresh_token", tokens["refresh_token"].as_str().unwrap()),
        ])
        .await;
    assert_eq!(refreshed.body["expires_in"], 5);
    assert_eq!(
        sim.get("/v1/me", refreshed.body["access_token"].as_str().unwrap())
            .await
            .status,
        StatusCode::OK
    );

    // Codes live 10 minutes.
    let code = sim.authorize_as(DEFAULT_MEMBER_ID, "").await;
    sim.control(Method::PUT, "/clock", json!({ "offsetSecs": 61 + 601 }))
        .await;
    assert_eq!(sim.exchange(&code).await.body["error"], "invalid_grant");
}

#[tokio::test]
async fn member_app_and_organization_app_grants_need_an_installation() {
    let sim = TestSim::start().await;
    let member_app = [("grant_type", "member_app"), ("member_id", DEFAULT_MEMBER_ID)];
    let org_app = [
        ("grant_type", "organization_app"),
        ("organization_id", DEFAULT_ORGANIZATION_ID),
    ];
    assert_eq!(sim.token(&member_app).await.body["error"], "invalid_grant");
    assert_eq!(sim.token(&org_app).await.body["error"], "invalid_grant");
    let missing = sim.token(&[("grant_type", "member_app")]).await;
    assert_eq!(missing.body["error"], "invalid_request");

    // Approving the consent page authorizes the app for the member and so for the organization.
    sim.authorize_as(DEFAULT_MEMBER_ID, "").await;
    let member = sim.token(&member_app).await;
    assert_eq!(member.status, StatusCode::OK, "{}", member.body);
    assert_eq!(member.body["scope"], "");
    assert_eq!(member.body["token_type"], "bearer");
    assert!(member.body.get("refresh_token").is_none());
    let me = sim.get("/v1/me", member.body["access_token"].as_str().unwrap()).await;
    assert_eq!(me.body["data"]["id"], DEFAULT_MEMBER_ID);

    let org = sim.token(&org_app).await;
    assert_eq!(org.status, StatusCode::OK, "{}", org.body);
    let org_token = org.body["access_token"].as_str().unwrap();
    let profiles = sim.get("/v1/socialProfiles", org_token).await;
    let ids: Vec<&str> = profiles.body["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, [DEFAULT_TWITTER_PROFILE_ID, DEFAULT_FACEBOOK_PAGE_PROFILE_ID]);
    let me = sim.get("/v1/me", org_token).await;
    assert_eq!(me.status, StatusCode::FORBIDDEN);
    assert_eq!(me.code(), 4009);

    // The other organization installed nothing.
    let other = sim
        .token(&[
            ("grant_type", "organization_app"),
            ("organization_id", SECOND_ORGANIZATION_ID),
        ])
        .await;
    assert_eq!(other.body["error"], "invalid_grant");
    sim.control(
        Method::POST,
        &format!("/apps/{DEFAULT_CLIENT_ID}/install"),
        json!({ "memberId": SECOND_MEMBER_ID }),
    )
    .await;
    let other = sim
        .token(&[
            ("grant_type", "organization_app"),
            ("organization_id", SECOND_ORGANIZATION_ID),
        ])
        .await;
    assert_eq!(other.status, StatusCode::OK);
}

#[tokio::test]
async fn pkce_is_checked_when_a_challenge_was_sent() {
    let sim = TestSim::start().await;
    let verifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
    let challenge = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";
    let response = sim
        .consent(&[
            ("response_type", "code"),
            ("client_id", DEFAULT_CLIENT_ID),
            ("redirect_uri", REDIRECT_URI),
            ("state", STATE),
            ("code_challenge", challenge),
            ("code_challenge_method", "S256"),
            ("member_id", DEFAULT_MEMBER_ID),
            ("decision", "approve"),
        ])
        .await;
    let code = redirect_params(&response)["code"].as_str().unwrap().to_owned();
    assert_eq!(sim.exchange(&code).await.body["error"], "invalid_grant");
    let ok = sim
        .token(&[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", REDIRECT_URI),
            ("code_verifier", verifier),
        ])
        .await;
    assert_eq!(ok.status, StatusCode::OK, "{}", ok.body);
}
