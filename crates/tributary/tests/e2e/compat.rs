//! Compatibility with Cloud Elements' wire details, as a Cloud Elements client meets them:
//! event statuses, default tags, markup in labels, all three credentials at once, events on
//! before a callback URL, element keys and metadata, CORS, paging and count headers, and
//! authentication before a routing miss. Over real HTTP against the simulator.

use reqwest::{Method, StatusCode, header::HeaderMap};
use serde_json::{Value, json};

use crate::{
    events::{instance_sending_to, message_event, post_webhook},
    on_both_backends,
    support::{Database, Hub, HubOptions, Receiver, eventually},
};

const CALLBACK: &str = "http://localhost:3000/oauth/callback";

fn header<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).map(|value| value.to_str().unwrap())
}

/// The seed's body with a fresh authorization code, changed by `edit`.
async fn seed(hub: &Hub, edit: impl FnOnce(&mut Value)) -> Value {
    let code = hub
        .consent(hootsuite_sim::DEFAULT_CLIENT_ID, CALLBACK, "tributary-test")
        .await;
    let mut body = hub.seed_body(&code, CALLBACK);
    edit(&mut body);
    body
}

async fn create(hub: &Hub, body: Value) -> Value {
    let (status, instance) = hub.call(Method::POST, "/instances", &hub.auth, Some(body)).await;
    assert_eq!(status, StatusCode::OK, "{instance}");
    instance
}

fn element_auth(hub: &Hub, instance: &Value) -> String {
    format!(
        "User {}, Element {}",
        hub.user_secret,
        instance["token"].as_str().unwrap()
    )
}

/// `PATCH /instances/{id}` with the organization's credentials.
async fn patch(hub: &Hub, id: &Value, body: Value) -> (StatusCode, Value) {
    hub.call(Method::PATCH, &format!("/instances/{id}"), &hub.auth, Some(body))
        .await
}

/// A refusal of a name that cleaning left empty.
fn assert_empty_name((status, error): (StatusCode, Value)) {
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(
        error["message"].as_str().unwrap().contains("name must not be empty"),
        "{error}"
    );
}

fn ids(list: &Value) -> Vec<Value> {
    list.as_array().unwrap().iter().map(|item| item["id"].clone()).collect()
}

/// The id of an instance's configuration entry for `key`.
async fn entry_id(hub: &Hub, id: &Value, key: &str) -> i64 {
    let (_, entries) = hub.get(&format!("/instances/{id}/configuration")).await;
    entries
        .as_array()
        .unwrap()
        .iter()
        .find(|entry| entry["key"] == key)
        .unwrap_or_else(|| panic!("no entry {key}: {entries}"))["id"]
        .as_i64()
        .unwrap()
}

/// Item 1: The event log answers Cloud Elements' upper-case status (the hub's own stays in
/// `statusDetail`), and `status` filters take either spelling.
async fn event_statuses_are_cloud_elements_values(db: Database) {
    let hub = Hub::start(db).await;
    let receiver = Receiver::start().await;
    let instance = instance_sending_to(&hub, &receiver.url).await;
    let id = instance["id"].as_i64().unwrap();
    let batch = json!([message_event(1, "SENT", "1")]);
    post_webhook(&hub, &instance, &batch).await;
    post_webhook(&hub, &instance, &batch).await;
    post_webhook(
        &hub,
        &instance,
        &json!([{"type": "com.hootsuite.ping.event.v1", "data": {}}]),
    )
    .await;
    receiver.wait_for(1, 15).await;
    let events = eventually(10, "the first event to be NOTIFIED", || async {
        let (_, events) = hub.get(&format!("/instances/{id}/events")).await;
        (events[2]["status"] == "NOTIFIED").then_some(events)
    })
    .await;
    let statuses: Vec<(&str, &str)> = events
        .as_array()
        .unwrap()
        .iter()
        .map(|e| (e["status"].as_str().unwrap(), e["statusDetail"].as_str().unwrap()))
        .collect();
    assert_eq!(
        statuses,
        [
            ("CONSUMED", "ignored"),
            ("CONSUMED", "duplicate"),
            ("NOTIFIED", "notified")
        ]
    );
    for (filter, expected) in [
        ("NOTIFIED", 1),
        ("CONSUMED", 2),
        ("NEW", 0),
        ("RECEIVED", 0),
        ("DISPATCHED", 0),
        ("notified", 1),
        ("duplicate", 1),
    ] {
        let (status, listed) = hub.get(&format!("/instances/{id}/events?status={filter}")).await;
        assert_eq!(status, StatusCode::OK, "{filter}: {listed}");
        assert_eq!(listed.as_array().unwrap().len(), expected, "{filter}: {listed}");
    }
    let (_, own) = hub
        .call(
            Method::GET,
            "/instances/events?status=NOTIFIED",
            &element_auth(&hub, &instance),
            None,
        )
        .await;
    assert_eq!(ids(&own), [events[2]["id"].clone()]);
    let (_, detail) = hub
        .get(&format!("/instances/{id}/events/{}", events[2]["id"].as_str().unwrap()))
        .await;
    assert_eq!(
        (&detail["status"], &detail["statusDetail"]),
        (&json!("NOTIFIED"), &json!("notified"))
    );
    let (status, error) = hub.get(&format!("/instances/{id}/events?status=Notified")).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let message = error["message"].as_str().unwrap();
    assert!(message.contains("NOTIFIED") && message.contains("held"), "{message}");
    hub.stop().await;
}

/// Item 2: An instance created without tags is tagged with its name, as Cloud Elements did.
async fn instances_created_without_tags_carry_their_name(db: Database) {
    let hub = Hub::start(db).await;
    let untagged = seed(&hub, |body| {
        body.as_object_mut().unwrap().remove("tags");
    })
    .await;
    let instance = create(&hub, untagged).await;
    assert_eq!(instance["tags"], json!(["API Instance"]));
    let (_, listed) = hub.get("/instances?tags[]=API%20Instance").await;
    assert_eq!(ids(&listed), [instance["id"].clone()]);
    let (_, fetched) = hub.get(&format!("/instances/{}", instance["id"])).await;
    assert_eq!(fetched["tags"], json!(["API Instance"]));
    let empty = seed(&hub, |body| body["tags"] = json!([])).await;
    assert_eq!(create(&hub, empty).await["tags"], json!([]), "asked for no tags");
    hub.stop().await;
}

/// Item 3: Markup in names and tags is stripped, its text kept, on create and on every update
/// path; what is stored is the clean text.
async fn markup_in_labels_is_stripped_on_every_path(db: Database) {
    let hub = Hub::start(db).await;
    let marked = seed(&hub, |body| {
        body["name"] = json!(r#"<a href="https://x.test" onClick="alert(1)">x</a>"#);
        body["tags"] = json!(["<b>prod</b>", "<i title='a>b'>ops</i>"]);
    })
    .await;
    let instance = create(&hub, marked).await;
    assert_eq!(instance["name"], "x");
    assert_eq!(instance["tags"], json!(["prod", "ops"]));
    let id = &instance["id"];

    let (status, patched) = patch(
        &hub,
        id,
        json!({"name": "<em>renamed</em> one", "tags": ["<script>alert(1)</script>kept"]}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{patched}");
    assert_eq!(
        (&patched["name"], &patched["tags"]),
        (&json!("renamed one"), &json!(["kept"]))
    );

    let (status, patched) = hub
        .call(
            Method::PATCH,
            "/instances",
            &element_auth(&hub, &instance),
            Some(json!({"name": "<p onmouseover=\"a>b\">by token</p>"})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{patched}");
    assert_eq!(patched["name"], "by token");

    let (_, mut full) = hub.get(&format!("/instances/{id}")).await;
    full["name"] = json!("<div>put</div>");
    full["tags"] = json!(["<u>t</u>"]);
    let (status, put) = hub
        .call(Method::PUT, &format!("/instances/{id}"), &hub.auth, Some(full))
        .await;
    assert_eq!(status, StatusCode::OK, "{put}");
    let (_, stored) = hub.get(&format!("/instances/{id}")).await;
    assert_eq!((&stored["name"], &stored["tags"]), (&json!("put"), &json!(["t"])));

    // Comparisons are text, not markup; markup alone leaves nothing, which is refused.
    let (_, text) = patch(&hub, id, json!({"name": "1 < 2 > 0"})).await;
    assert_eq!(text["name"], "1 < 2 > 0");
    assert_empty_name(patch(&hub, id, json!({"name": "<img src=x onerror=alert(1)>"})).await);
    hub.stop().await;
}

/// Issue 16: bidi overrides and zero-width characters (which made the console show
/// reversed text) and other control and format characters are removed from labels.
async fn invisible_and_reordering_characters_are_removed_from_labels(db: Database) {
    let hub = Hub::start(db).await;
    let instance = hub.create_instance().await;
    let id = &instance["id"];
    let (status, patched) = patch(
        &hub,
        id,
        json!({"name": "Invoice \u{202e}fdp.exe\u{200b}", "tags": ["a\u{2066}b\u{feff}"]}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{patched}");
    let (_, stored) = hub.get(&format!("/instances/{id}")).await;
    assert_eq!(stored["name"], "Invoice fdp.exe");
    assert_eq!(stored["tags"], json!(["ab"]));
    // Line breaks become a space: a label is one line.
    let (status, patched) = patch(&hub, id, json!({"tags": ["two\r\nlines"]})).await;
    assert_eq!(status, StatusCode::OK, "{patched}");
    assert_eq!(patched["tags"], json!(["two lines"]));
    assert_empty_name(patch(&hub, id, json!({"name": "\u{200b}\u{202e}"})).await);
    hub.stop().await;
}

/// Item 4: With User and Organization present, a platform call is authorised by them; an Element
/// token alongside (Cloud Elements' clients add it once they have one) only picks the
/// instance of the forms without an id.
async fn platform_calls_take_an_element_token_alongside(db: Database) {
    let hub = Hub::start(db).await;
    let first = hub.create_instance().await;
    let all_three = format!("{}, Element {}", hub.auth, first["token"].as_str().unwrap());
    let body = seed(&hub, |body| body["name"] = json!("Second")).await;
    let (status, second) = hub.call(Method::POST, "/instances", &all_three, Some(body)).await;
    assert_eq!(status, StatusCode::OK, "{second}");
    let (_, listed) = hub.call(Method::GET, "/instances", &all_three, None).await;
    assert_eq!(ids(&listed), [first["id"].clone(), second["id"].clone()]);
    let (status, read) = hub
        .call(Method::GET, &format!("/instances/{}", second["id"]), &all_three, None)
        .await;
    assert_eq!(status, StatusCode::OK, "{read}");
    let (status, patched) = hub
        .call(
            Method::PATCH,
            "/instances",
            &all_three,
            Some(json!({"name": "First, renamed"})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{patched}");
    assert_eq!(
        (&patched["id"], &patched["name"]),
        (&first["id"], &json!("First, renamed"))
    );
    // Credentials that do not belong together are still refused.
    let mixed = format!(
        "{}, Element {}",
        hub.other_tenant().await,
        first["token"].as_str().unwrap()
    );
    let (status, _) = hub.call(Method::GET, "/instances", &mixed, None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    hub.stop().await;
}

/// Item 5: Events may be turned on before there is a callback URL: what arrives meanwhile is
/// logged and its notifications are held until a URL is set, through any update path.
/// Notifications parked for other reasons stay parked.
async fn events_on_before_a_callback_url_wait_for_one(db: Database) {
    let hub = Hub::start(db).await;
    let receiver = Receiver::start().await;
    let without_url = seed(&hub, |body| {
        body["configuration"]
            .as_object_mut()
            .unwrap()
            .remove("event.notification.callback.url");
    })
    .await;
    let instance = create(&hub, without_url).await;
    assert_eq!(instance["eventsEnabled"], true);
    let id = &instance["id"];
    for seq in [1, 2] {
        let status = post_webhook(&hub, &instance, &json!([message_event(seq, "SENT", &seq.to_string())])).await;
        assert_eq!(status, StatusCode::OK);
    }
    let (_, events) = hub.get(&format!("/instances/{id}/events")).await;
    let statuses: Vec<(&Value, &Value)> = events
        .as_array()
        .unwrap()
        .iter()
        .map(|e| (&e["status"], &e["statusDetail"]))
        .collect();
    assert_eq!(statuses, [(&json!("RECEIVED"), &json!("held")); 2], "{events}");
    let (_, held) = hub.get(&format!("/instances/{id}/events/deliveries?status=held")).await;
    assert_eq!(held.as_array().unwrap().len(), 2, "{held}");
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    assert!(receiver.received().is_empty());

    // The seed's last step sets the URL with the element token: what waited goes out.
    let (status, patched) = hub
        .call(
            Method::PATCH,
            "/instances",
            &element_auth(&hub, &instance),
            Some(json!({"configuration": {"event.notification.callback.url": receiver.url}})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{patched}");
    receiver.wait_for(2, 15).await;
    eventually(10, "both events to be NOTIFIED", || async {
        let (_, events) = hub.get(&format!("/instances/{id}/events?status=NOTIFIED")).await;
        (events.as_array().unwrap().len() == 2).then_some(())
    })
    .await;

    // Turning events on through the configuration entry, before a URL, is accepted too;
    // setting the URL through its own entry releases what waited.
    let off = seed(&hub, |body| {
        let configuration = body["configuration"].as_object_mut().unwrap();
        configuration.remove("event.notification.callback.url");
        configuration.insert("event.notification.enabled".into(), json!(false));
        body["name"] = json!("Second");
    })
    .await;
    let second = create(&hub, off).await;
    let sid = &second["id"];
    let enabled = entry_id(&hub, sid, "event.notification.enabled").await;
    let (status, entry) = hub
        .call(
            Method::PATCH,
            &format!("/instances/{sid}/configuration/{enabled}"),
            &hub.auth,
            Some(json!({"propertyValue": "true"})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{entry}");
    assert_eq!(entry["propertyValue"], "true");
    post_webhook(&hub, &second, &json!([message_event(10, "SENT", "10")])).await;
    let url = entry_id(&hub, sid, "event.notification.callback.url").await;
    let (status, entry) = hub
        .call(
            Method::PATCH,
            &format!("/instances/{sid}/configuration/{url}"),
            &hub.auth,
            Some(json!({"propertyValue": receiver.url})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{entry}");
    let got = receiver.wait_for(3, 15).await;
    assert_eq!(got[2].json()["message"]["events"][0]["objectId"], "10");

    // A notification parked by the queue failure policy waits for its own release, not for
    // a callback URL.
    hub.call(
        Method::PATCH,
        "/accounts/settings",
        &hub.auth,
        Some(json!({"notification.webhook.failure.policy": "queue"})),
    )
    .await;
    receiver.script([500]);
    post_webhook(&hub, &second, &json!([message_event(11, "SENT", "11")])).await;
    eventually(10, "the refused notification to be queued", || async {
        let (_, queued) = hub
            .get(&format!("/instances/{sid}/events/deliveries?status=queued"))
            .await;
        (queued.as_array().unwrap().len() == 1).then_some(())
    })
    .await;
    let other = Receiver::start().await;
    let (status, _) = hub
        .call(
            Method::PATCH,
            &format!("/instances/{sid}"),
            &hub.auth,
            Some(json!({"configuration": {"event.notification.callback.url": other.url}})),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    tokio::time::sleep(std::time::Duration::from_millis(800)).await;
    assert!(
        other.received().is_empty(),
        "a queued notification was released by a URL change"
    );
    let (_, queued) = hub
        .get(&format!("/instances/{sid}/events/deliveries?status=queued"))
        .await;
    assert_eq!(queued.as_array().unwrap().len(), 1);
    hub.stop().await;
}

/// Item 5: a notification being retried when its callback URL is removed is held, not
/// queued, and goes out when a URL is set again.
async fn a_notification_that_loses_its_callback_url_waits_for_a_new_one(db: Database) {
    let hub = Hub::start(db).await;
    let receiver = Receiver::start().await;
    receiver.script([500]);
    let instance = instance_sending_to(&hub, &receiver.url).await;
    let id = &instance["id"];
    post_webhook(&hub, &instance, &json!([message_event(1, "SENT", "1")])).await;
    receiver.wait_for(1, 15).await;
    let (status, removed) = patch(
        &hub,
        id,
        json!({"configuration": {"event.notification.callback.url": null}}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{removed}");
    let held = eventually(10, "the retry to be held", || async {
        let (_, held) = hub.get(&format!("/instances/{id}/events/deliveries?status=held")).await;
        (held.as_array().unwrap().len() == 1).then_some(held)
    })
    .await;
    let log = held[0]["attemptLog"].as_array().unwrap();
    assert!(
        log[1]["error"].as_str().unwrap().contains("held until one is"),
        "{held}"
    );
    let (_, events) = hub.get(&format!("/instances/{id}/events")).await;
    assert_eq!(
        (&events[0]["status"], &events[0]["statusDetail"]),
        (&json!("RECEIVED"), &json!("held"))
    );
    let next = Receiver::start().await;
    let (status, _) = patch(
        &hub,
        id,
        json!({"configuration": {"event.notification.callback.url": next.url}}),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let got = next.wait_for(1, 15).await;
    assert_eq!(got[0].header("webhook-id"), held[0]["id"].as_str().unwrap());
    hub.stop().await;
}

/// Item 6: `GET /elements/keys`, `GET /elements/metadata` and `GET /elements/{keyOrId}/metadata`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn element_keys_and_metadata() {
    let hub = Hub::start(Database::sqlite().await).await;
    let (status, keys) = hub.get("/elements/keys").await;
    assert_eq!(status, StatusCode::OK, "{keys}");
    assert_eq!(keys, json!(["hootsuite"]));
    let (status, all) = hub.get("/elements/metadata").await;
    assert_eq!(status, StatusCode::OK, "{all}");
    let metadata = &all[0];
    assert_eq!(metadata["id"], 4066);
    assert_eq!(metadata["key"], "hootsuite");
    assert_eq!(metadata["name"], "Hootsuite");
    assert!(metadata["description"].as_str().is_some_and(|d| !d.is_empty()));
    assert_eq!(metadata["events"]["supported"], true);
    assert_eq!(metadata["events"]["methods"], json!(["webhook", "polling"]));
    for key_or_id in ["hootsuite", "4066"] {
        let (status, one) = hub.get(&format!("/elements/{key_or_id}/metadata")).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(&one, metadata);
    }
    let (status, _) = hub.get("/elements/nope/metadata").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = hub.call(Method::GET, "/elements/keys", "", None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    hub.stop().await;
}

/// The exact list Cloud Elements exposed to browsers.
const EXPOSED: [&str; 7] = [
    "elements-returned-count",
    "elements-total-count",
    "elements-request-id",
    "elements-next-page-token",
    "elements-trace-id",
    "elements-error",
    "content-disposition",
];

fn exposed(headers: &HeaderMap) -> Vec<String> {
    header(headers, "access-control-expose-headers")
        .unwrap_or_default()
        .split(',')
        .map(|name| name.trim().to_ascii_lowercase())
        .filter(|name| !name.is_empty())
        .collect()
}

/// Item 7: Browser apps may call the API from any origin (by default), without credentials, and
/// read Cloud Elements' headers; preflights are answered.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn browsers_may_call_the_api_across_origins_without_credentials() {
    let hub = Hub::start(Database::sqlite().await).await;
    let origin = "https://app.example";
    let response = hub
        .http
        .get(format!("{}/elements", hub.base))
        .header("origin", origin)
        .header("authorization", &hub.auth)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let headers = response.headers();
    assert_eq!(header(headers, "access-control-allow-origin"), Some(origin));
    assert_eq!(exposed(headers), EXPOSED);
    assert_eq!(header(headers, "access-control-allow-credentials"), None);

    let preflight = hub
        .http
        .request(Method::OPTIONS, format!("{}/instances", hub.base))
        .header("origin", origin)
        .header("access-control-request-method", "POST")
        .header("access-control-request-headers", "authorization, content-type")
        .send()
        .await
        .unwrap();
    assert!(preflight.status().is_success(), "{}", preflight.status());
    let headers = preflight.headers();
    assert_eq!(header(headers, "access-control-allow-origin"), Some(origin));
    let methods = header(headers, "access-control-allow-methods")
        .unwrap()
        .to_ascii_uppercase();
    assert!(methods.contains("POST") && methods.contains("PATCH"), "{methods}");
    let allowed = header(headers, "access-control-allow-headers")
        .unwrap()
        .to_ascii_lowercase();
    assert!(allowed.contains("authorization"), "{allowed}");
    assert_eq!(header(headers, "access-control-allow-credentials"), None);

    // An error is readable too; what is outside the API (metrics, the console) is not shared.
    let refused = hub
        .http
        .get(format!("{}/instances", hub.base))
        .header("origin", origin)
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(header(refused.headers(), "access-control-allow-origin"), Some(origin));
    let metrics = hub
        .http
        .get(format!("http://{}/metrics", hub.running.addr))
        .header("origin", origin)
        .send()
        .await
        .unwrap();
    assert_eq!(header(metrics.headers(), "access-control-allow-origin"), None);
    hub.stop().await;
}

/// Item 7: `api.cors_allowed_origins` narrows the origins.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn allowed_origins_come_from_configuration() {
    let options = HubOptions {
        configure: Box::new(|config| config.api.cors_allowed_origins = vec!["https://app.example".into()]),
        ..HubOptions::default()
    };
    let hub = Hub::start_with(Database::sqlite().await, options).await;
    for (origin, allowed) in [("https://app.example", true), ("https://evil.example", false)] {
        let response = hub
            .http
            .get(format!("{}/elements", hub.base))
            .header("origin", origin)
            .header("authorization", &hub.auth)
            .send()
            .await
            .unwrap();
        assert_eq!(
            header(response.headers(), "access-control-allow-origin"),
            allowed.then_some(origin),
            "{origin}"
        );
    }
    hub.stop().await;
}

async fn page(hub: &Hub, path: &str) -> (Value, Option<String>) {
    let (status, headers, body) = hub.call_with_headers(Method::GET, path, &hub.auth, None).await;
    assert_eq!(status, StatusCode::OK, "{path}: {body}");
    let count = body.as_array().unwrap().len().to_string();
    assert_eq!(
        header(&headers, "elements-returned-count"),
        Some(count.as_str()),
        "{path}"
    );
    assert_eq!(
        header(&headers, "elements-request-id"),
        header(&headers, "x-request-id"),
        "{path}"
    );
    assert!(header(&headers, "elements-request-id").is_some(), "{path}");
    (body, header(&headers, "elements-next-page-token").map(str::to_owned))
}

/// Item 8: `GET /instances` and the event log page with `pageSize`, `nextPage` and `page`, and
/// answer `Elements-Returned-Count`, `Elements-Next-Page-Token` while there is more, and
/// `Elements-Request-Id` on every response. The token carries the position, so what is
/// added meanwhile neither repeats nor hides anything.
async fn lists_page_like_cloud_elements(db: Database) {
    let hub = Hub::start(db).await;
    let receiver = Receiver::start().await;
    let mut created = Vec::new();
    for _ in 0..3 {
        created.push(hub.create_instance().await["id"].clone());
    }
    let (all, token) = page(&hub, "/instances").await;
    assert_eq!(ids(&all), created);
    assert_eq!(token, None);
    let (first, token) = page(&hub, "/instances?pageSize=2").await;
    assert_eq!(ids(&first), created[..2]);
    let token = token.expect("a next page token");
    let (same, _) = page(&hub, "/instances?pageSize=2&nextPage=").await;
    assert_eq!(ids(&same), created[..2], "an empty nextPage is the first page");
    created.push(instance_sending_to(&hub, &receiver.url).await["id"].clone());
    let (second, more) = page(&hub, &format!("/instances?pageSize=2&nextPage={token}")).await;
    assert_eq!(ids(&second), created[2..]);
    assert_eq!(more, None);
    let (walked, _) = page(&hub, "/instances?pageSize=2&page=2").await;
    assert_eq!(ids(&walked), created[2..], "a bare page walks the pages before it");
    let (both, _) = page(&hub, &format!("/instances?pageSize=2&page=2&nextPage={token}")).await;
    assert_eq!(ids(&both), created[2..]);
    let (tagged, token) = page(&hub, "/instances?tags[]=Docs&pageSize=1").await;
    assert_eq!(ids(&tagged), created[..1]);
    let (tagged, _) = page(
        &hub,
        &format!("/instances?tags[]=Docs&pageSize=1&nextPage={}", token.unwrap()),
    )
    .await;
    assert_eq!(ids(&tagged), created[1..2]);

    // The event log, newest first.
    let instance = hub.get(&format!("/instances/{}", created[3])).await.1;
    let id = &instance["id"];
    for seq in 1..=3 {
        post_webhook(&hub, &instance, &json!([message_event(seq, "SENT", &seq.to_string())])).await;
    }
    let (events, _) = page(&hub, &format!("/instances/{id}/events")).await;
    let event_ids = ids(&events);
    let (first, token) = page(&hub, &format!("/instances/{id}/events?pageSize=2")).await;
    assert_eq!(ids(&first), event_ids[..2]);
    post_webhook(&hub, &instance, &json!([message_event(4, "SENT", "4")])).await;
    let token = token.expect("a next page token");
    let (second, more) = page(&hub, &format!("/instances/{id}/events?pageSize=2&nextPage={token}")).await;
    assert_eq!(ids(&second), event_ids[2..], "a newer event does not shift the pages");
    assert_eq!(more, None);
    let (walked, _) = page(&hub, &format!("/instances/{id}/events?pageSize=2&page=2")).await;
    assert_eq!(ids(&walked).len(), 2, "page 2 now starts after the newest two");
    let bare = event_ids[1].as_str().unwrap();
    let (old_style, _) = page(&hub, &format!("/instances/{id}/events?pageSize=2&nextPage={bare}")).await;
    assert_eq!(ids(&old_style), event_ids[2..], "an event id still works as a token");
    let (own_first, own_token) = {
        let (status, headers, body) = hub
            .call_with_headers(
                Method::GET,
                "/instances/events?pageSize=3",
                &element_auth(&hub, &instance),
                None,
            )
            .await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(header(&headers, "elements-returned-count"), Some("3"));
        (body, header(&headers, "elements-next-page-token").map(str::to_owned))
    };
    assert_eq!(own_first.as_array().unwrap().len(), 3);
    assert!(own_token.is_some());
    let (status, error) = hub.get("/instances?nextPage=bm90IGEgdG9rZW4").await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{error}");

    // Every response carries the request id, errors included.
    let (status, headers, error) = hub
        .call_with_headers(Method::GET, "/instances/4503599627370495", &hub.auth, None)
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(header(&headers, "elements-request-id"), error["requestId"].as_str());
    assert_eq!(
        header(&headers, "elements-request-id"),
        header(&headers, "x-request-id")
    );
    let (elements, _) = page(&hub, "/elements").await;
    assert_eq!(elements.as_array().unwrap().len(), 1);
    hub.stop().await;
}

/// Item 9: An unknown path under the API is a 401 without valid credentials, a 404 with them;
/// elsewhere it stays a plain 404.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_api_paths_authenticate_first() {
    let hub = Hub::start(Database::sqlite().await).await;
    for auth in ["", "User nope, Organization nope"] {
        let (status, body) = hub.call(Method::GET, "/nowhere", auth, None).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{auth:?}: {body}");
    }
    let (status, body) = hub.get("/nowhere").await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
    let outside = hub
        .http
        .get(format!("http://{}/nowhere", hub.running.addr))
        .send()
        .await
        .unwrap();
    assert_eq!(outside.status(), StatusCode::NOT_FOUND);
    hub.stop().await;
}

on_both_backends!(
    event_statuses_are_cloud_elements_values,
    instances_created_without_tags_carry_their_name,
    markup_in_labels_is_stripped_on_every_path,
    invisible_and_reordering_characters_are_removed_from_labels,
    platform_calls_take_an_element_token_alongside,
    events_on_before_a_callback_url_wait_for_one,
    a_notification_that_loses_its_callback_url_waits_for_a_new_one,
    lists_page_like_cloud_elements,
);
