//! The storage contract: every behaviour the hub relies on, checked on SQLite and PostgreSQL.

use chrono::{Duration, Utc};
use secrecy::SecretString;
use tributary::{
    crypto::{CredentialHash, Sealed},
    ids::{ConfigEntryId, DeliveryId, EventId, InstanceId, OrgId},
    store::{
        ClaimedDelivery, ConfigEntry, DeliveryOutcome, DeliveryStart, DeliveryStatus, EventQuery, EventSource,
        EventStatus, FailurePolicy, Grant, InstanceChange, InstanceQuery, NewAttempt, NewDelivery, NewEvent,
        NewInstance, NextStep, PollCommit, Recorded, Store, StoredValue, User,
    },
    tenants,
};

use crate::{on_both_backends, support::Database};

struct Tenant {
    user: User,
    user_secret: SecretString,
    org_secret: SecretString,
}

async fn tenant(store: &dyn Store, name: &str) -> Tenant {
    let (org, org_secret) = tenants::create_organization(store, name).await.unwrap();
    let (user, user_secret) = tenants::create_user(store, org.id, &format!("u@{name}"), "U", name)
        .await
        .unwrap();
    Tenant {
        user,
        user_secret,
        org_secret,
    }
}

fn sealed(text: &str) -> Sealed {
    Sealed::from_stored(text.as_bytes().to_vec())
}

fn grant(expires_in: i64, refresh_in: Option<i64>) -> Grant {
    let now = Utc::now();
    Grant {
        access_token: sealed("access"),
        refresh_token: Some(sealed("refresh")),
        expires_at: Some(now + Duration::seconds(expires_in)),
        refresh_due_at: refresh_in.map(|s| now + Duration::seconds(s)),
        identity: Some(r#"{"id":"1"}"#.into()),
    }
}

fn new_instance(owner: &User, token: &SecretString, refresh_in: Option<i64>) -> NewInstance {
    let id = InstanceId::random();
    NewInstance {
        id,
        org: owner.org,
        user: owner.id,
        element_key: "hootsuite".into(),
        name: "Primary".into(),
        tags: vec!["b".into(), "a".into()],
        token: CredentialHash::of(token),
        token_sealed: sealed("token"),
        config: vec![
            ConfigEntry {
                id: ConfigEntryId::random(),
                key: "event.notification.enabled".into(),
                value: Some(StoredValue::Plain("true".into())),
            },
            ConfigEntry {
                id: ConfigEntryId::random(),
                key: "oauth.api.secret".into(),
                value: Some(StoredValue::Sealed(sealed("s3cret"))),
            },
            ConfigEntry {
                id: ConfigEntryId::random(),
                key: "event.notification.signature.key".into(),
                value: None,
            },
        ],
        grant: grant(3600, refresh_in),
        signing_secret: sealed("whsec"),
        polling: None,
        created_at: Utc::now(),
    }
}

async fn organizations_and_users(db: Database) {
    let store = db.store().await;
    let acme = tenant(store.as_ref(), "acme").await;
    // Listed by creation time: apart by more than the timestamps' millisecond.
    tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    let globex = tenant(store.as_ref(), "globex").await;
    let orgs = store.list_organizations().await.unwrap();
    assert_eq!(
        orgs.iter().map(|o| o.name.as_str()).collect::<Vec<_>>(),
        ["acme", "globex"]
    );
    assert_eq!(store.list_users(acme.user.org).await.unwrap(), vec![acme.user.clone()]);

    let hash = |s: &SecretString| CredentialHash::of(s);
    let found = store
        .find_platform_caller(&hash(&acme.user_secret), &hash(&acme.org_secret))
        .await
        .unwrap();
    assert_eq!(found, Some(acme.user.clone()));
    // A user's secret with another organization's secret is nobody.
    let crossed = store
        .find_platform_caller(&hash(&acme.user_secret), &hash(&globex.org_secret))
        .await
        .unwrap();
    assert_eq!(crossed, None);
    let swapped = store
        .find_platform_caller(&hash(&acme.org_secret), &hash(&acme.user_secret))
        .await
        .unwrap();
    assert_eq!(swapped, None);
}

/// A new secret replaces the old one, only for the organization's own user.
async fn secrets_are_replaced(db: Database) {
    let store = db.store().await;
    let acme = tenant(store.as_ref(), "acme").await;
    let globex = tenant(store.as_ref(), "globex").await;
    let hash = |s: &SecretString| CredentialHash::of(s);
    let caller = |user: SecretString, org: SecretString| {
        let store = store.clone();
        async move { store.find_platform_caller(&hash(&user), &hash(&org)).await.unwrap() }
    };
    let (user_2, org_2) = (SecretString::from("user-2"), SecretString::from("org-2"));
    let org = acme.user.org;
    assert!(store.set_organization_secret(org, &hash(&org_2)).await.unwrap());
    assert!(store.set_user_secret(org, acme.user.id, &hash(&user_2)).await.unwrap());
    assert_eq!(caller(user_2, org_2).await, Some(acme.user.clone()));
    assert_eq!(caller(acme.user_secret, acme.org_secret).await, None);

    // Another organization's user, or nobody: nothing changes.
    let other = hash(&SecretString::from("other"));
    assert!(!store.set_user_secret(org, globex.user.id, &other).await.unwrap());
    assert!(!store.set_organization_secret(OrgId::random(), &other).await.unwrap());
    assert_eq!(caller(globex.user_secret, globex.org_secret).await, Some(globex.user));
}

async fn instances_round_trip(db: Database) {
    let store = db.store().await;
    let acme = tenant(store.as_ref(), "acme").await;
    let token = SecretString::from("instance-token");
    let new = new_instance(&acme.user, &token, Some(3000));
    store.insert_instance(&new).await.unwrap();

    let got = store.get_instance(acme.user.org, new.id).await.unwrap().unwrap();
    assert_eq!(got.name, "Primary");
    assert_eq!(got.tags, ["b", "a"], "tags keep the caller's order");
    assert_eq!(got.user, acme.user);
    assert!(got.valid && !got.disabled);
    assert_eq!(got.token_sealed, new.token_sealed);
    let mut config = got.config.clone();
    config.sort_by(|a, b| a.key.cmp(&b.key));
    let mut expected = new.config.clone();
    expected.sort_by(|a, b| a.key.cmp(&b.key));
    assert_eq!(config, expected);
    assert_eq!(got.identity.as_deref(), Some(r#"{"id":"1"}"#));

    let all = InstanceQuery {
        limit: 10,
        ..InstanceQuery::default()
    };
    let listed = store.list_instances(acme.user.org, &all).await.unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].config.len(), 3);
    assert_eq!(listed[0].tags, ["b", "a"]);

    let caller = store
        .find_instance_caller(&CredentialHash::of(&acme.user_secret), &CredentialHash::of(&token))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (caller.instance, caller.disabled, caller.user.id),
        (new.id, false, acme.user.id)
    );
}

async fn tenants_are_isolated(db: Database) {
    let store = db.store().await;
    let acme = tenant(store.as_ref(), "acme").await;
    let globex = tenant(store.as_ref(), "globex").await;
    let token = SecretString::from("acme-token");
    let new = new_instance(&acme.user, &token, None);
    store.insert_instance(&new).await.unwrap();
    let other = globex.user.org;

    assert!(store.get_instance(other, new.id).await.unwrap().is_none());
    let all = InstanceQuery {
        limit: 10,
        ..InstanceQuery::default()
    };
    assert!(store.list_instances(other, &all).await.unwrap().is_empty());
    let only = InstanceQuery {
        only: Some(new.id),
        ..all
    };
    assert!(store.list_instances(other, &only).await.unwrap().is_empty());
    let change = InstanceChange {
        name: Some("hijacked".into()),
        ..Default::default()
    };
    assert!(!store.update_instance(other, new.id, &change, Utc::now()).await.unwrap());
    assert!(!store.delete_instance(other, new.id).await.unwrap());
    // Another organization's user cannot use the token either.
    let foreign = store
        .find_instance_caller(&CredentialHash::of(&globex.user_secret), &CredentialHash::of(&token))
        .await
        .unwrap();
    assert!(foreign.is_none());
    assert_eq!(
        store.get_instance(acme.user.org, new.id).await.unwrap().unwrap().name,
        "Primary"
    );
}

async fn updates_are_partial_and_atomic(db: Database) {
    let store = db.store().await;
    let acme = tenant(store.as_ref(), "acme").await;
    let new = new_instance(&acme.user, &SecretString::from("t"), None);
    store.insert_instance(&new).await.unwrap();
    let org = acme.user.org;
    let enabled_id = new.config[0].id;

    let change = InstanceChange {
        tags: Some(vec!["x".into()]),
        config: vec![
            ConfigEntry {
                id: ConfigEntryId::random(),
                key: "event.notification.enabled".into(),
                value: Some(StoredValue::Plain("false".into())),
            },
            ConfigEntry {
                id: ConfigEntryId::random(),
                key: "event.notification.callback.url".into(),
                value: Some(StoredValue::Plain("https://x.test/e".into())),
            },
        ],
        disabled: Some(true),
        ..Default::default()
    };
    let before = store.get_instance(org, new.id).await.unwrap().unwrap();
    tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    assert!(store.update_instance(org, new.id, &change, Utc::now()).await.unwrap());
    let after = store.get_instance(org, new.id).await.unwrap().unwrap();
    assert_eq!(after.name, "Primary", "unchanged fields stay");
    assert_eq!(after.tags, ["x"]);
    assert!(after.disabled);
    assert!(after.updated_at > before.updated_at);
    let enabled = after
        .config
        .iter()
        .find(|e| e.key == "event.notification.enabled")
        .unwrap();
    assert_eq!(enabled.id, enabled_id, "an overwritten entry keeps its id");
    assert_eq!(enabled.value, Some(StoredValue::Plain("false".into())));
    assert_eq!(after.config.len(), 4);

    // A re-authentication replaces the grant and makes the instance valid again.
    let claimed = store
        .claim_refresh(new.id, "node-a", Utc::now(), Utc::now() + Duration::seconds(30))
        .await
        .unwrap();
    assert!(claimed.is_some());
    assert!(
        store
            .fail_refresh(new.id, "node-a", "refused", Utc::now())
            .await
            .unwrap()
    );
    let invalid = store.get_instance(org, new.id).await.unwrap().unwrap();
    assert!(!invalid.valid);
    assert_eq!(invalid.invalid_reason.as_deref(), Some("refused"));
    let mut regranted = grant(3600, Some(3000));
    regranted.access_token = sealed("access-2");
    let reauth = InstanceChange {
        grant: Some(regranted),
        ..Default::default()
    };
    assert!(store.update_instance(org, new.id, &reauth, Utc::now()).await.unwrap());
    let valid = store.get_instance(org, new.id).await.unwrap().unwrap();
    assert!(valid.valid && valid.invalid_reason.is_none());
    assert_eq!(
        store.access_grant(new.id).await.unwrap().unwrap().access_token,
        sealed("access-2")
    );
}

async fn deletion_cascades(db: Database) {
    let store = db.store().await;
    let acme = tenant(store.as_ref(), "acme").await;
    let token = SecretString::from("t");
    let new = new_instance(&acme.user, &token, None);
    store.insert_instance(&new).await.unwrap();
    assert!(store.delete_instance(acme.user.org, new.id).await.unwrap());
    assert!(store.get_instance(acme.user.org, new.id).await.unwrap().is_none());
    assert!(!store.delete_instance(acme.user.org, new.id).await.unwrap());
    let caller = store
        .find_instance_caller(&CredentialHash::of(&acme.user_secret), &CredentialHash::of(&token))
        .await
        .unwrap();
    assert!(caller.is_none(), "a deleted instance's token is nobody's");
    // Its configuration rows went with it: a new instance may reuse nothing of it.
    let again = new_instance(&acme.user, &token, None);
    store.insert_instance(&again).await.unwrap();
}

async fn refresh_leases(db: Database) {
    let store = db.store().await;
    let acme = tenant(store.as_ref(), "acme").await;
    let later = new_instance(&acme.user, &SecretString::from("t1"), Some(-10));
    let sooner = new_instance(&acme.user, &SecretString::from("t2"), Some(-20));
    let not_due = new_instance(&acme.user, &SecretString::from("t3"), Some(600));
    let never = new_instance(&acme.user, &SecretString::from("t4"), None);
    for i in [&later, &sooner, &not_due, &never] {
        store.insert_instance(i).await.unwrap();
    }
    let now = Utc::now();
    assert_eq!(store.tokens_due(now, 10).await.unwrap(), vec![sooner.id, later.id]);
    assert_eq!(store.tokens_due(now, 1).await.unwrap(), vec![sooner.id]);

    let lease = now + Duration::seconds(30);
    let claim = store
        .claim_refresh(later.id, "node-a", now, lease)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(claim.refresh_token, Some(sealed("refresh")));
    assert_eq!(claim.config.len(), 3);
    assert!(
        store
            .claim_refresh(later.id, "node-b", now, lease)
            .await
            .unwrap()
            .is_none(),
        "one refresher at a time"
    );
    assert_eq!(
        store.tokens_due(now, 10).await.unwrap(),
        vec![sooner.id],
        "a leased instance is not due"
    );
    // An expired lease can be taken over.
    let after_lease = lease + Duration::seconds(1);
    assert!(
        store
            .claim_refresh(later.id, "node-b", after_lease, after_lease + Duration::seconds(30))
            .await
            .unwrap()
            .is_some()
    );
    // node-a lost the lease: it cannot mark the instance invalid...
    assert!(!store.fail_refresh(later.id, "node-a", "stale", now).await.unwrap());
    // ...but the tokens it rotated are still stored, since they are the only live ones.
    let mut rotated = grant(3600, Some(3000));
    rotated.access_token = sealed("rotated");
    store.complete_refresh(later.id, "node-a", &rotated, now).await.unwrap();
    assert_eq!(
        store.access_grant(later.id).await.unwrap().unwrap().access_token,
        sealed("rotated")
    );
    assert!(
        store
            .claim_refresh(later.id, "node-c", now, lease)
            .await
            .unwrap()
            .is_none(),
        "node-b still holds it"
    );
    store.complete_refresh(later.id, "node-b", &rotated, now).await.unwrap();
    assert!(
        store
            .claim_refresh(later.id, "node-c", now, lease)
            .await
            .unwrap()
            .is_some(),
        "completion frees the lease"
    );

    // A transient failure postpones the refresh.
    store
        .claim_refresh(sooner.id, "node-a", now, lease)
        .await
        .unwrap()
        .unwrap();
    store
        .release_refresh(sooner.id, "node-a", now + Duration::seconds(60))
        .await
        .unwrap();
    assert!(store.tokens_due(now, 10).await.unwrap().is_empty());
    assert_eq!(
        store.tokens_due(now + Duration::seconds(61), 10).await.unwrap(),
        vec![sooner.id]
    );
}

async fn concurrent_claims_have_one_winner(db: Database) {
    let store = db.store().await;
    let acme = tenant(store.as_ref(), "acme").await;
    let new = new_instance(&acme.user, &SecretString::from("t"), Some(-1));
    store.insert_instance(&new).await.unwrap();
    let now = Utc::now();
    let mut tasks = tokio::task::JoinSet::new();
    for n in 0..16 {
        let store = store.clone();
        tasks.spawn(async move {
            store
                .claim_refresh(new.id, &format!("node-{n}"), now, now + Duration::seconds(30))
                .await
                .unwrap()
                .is_some()
        });
    }
    let winners = tasks.join_all().await.into_iter().filter(|won| *won).count();
    assert_eq!(winners, 1);
}

async fn unknown_ids_are_absent(db: Database) {
    let store = db.store().await;
    let acme = tenant(store.as_ref(), "acme").await;
    let missing = InstanceId::random();
    assert!(store.get_instance(acme.user.org, missing).await.unwrap().is_none());
    assert!(store.get_instance(OrgId::random(), missing).await.unwrap().is_none());
    assert!(store.access_grant(missing).await.unwrap().is_none());
    assert!(
        store
            .claim_refresh(missing, "n", Utc::now(), Utc::now())
            .await
            .unwrap()
            .is_none()
    );
    store.ping().await.unwrap();
}

fn new_event(owner: &User, instance: InstanceId, sequences: &[&str], deliveries: usize) -> NewEvent {
    NewEvent {
        id: EventId::new(),
        instance,
        org: owner.org,
        source: EventSource::Webhook,
        status: if deliveries > 0 {
            EventStatus::Received
        } else {
            EventStatus::Ignored
        },
        note: None,
        received_at: tributary::store::now(),
        raw: "[]".into(),
        normalized: "[]".into(),
        sequences: sequences.iter().map(|s| s.to_string()).collect(),
        deliveries: (0..deliveries)
            .map(|n| NewDelivery {
                id: DeliveryId::new(),
                payload: format!("{{\"n\":{n}}}"),
                start: DeliveryStart::Due(tributary::store::now()),
            })
            .collect(),
    }
}

async fn instance_for(store: &dyn Store) -> (Tenant, InstanceId) {
    let acme = tenant(store, "acme").await;
    let new = new_instance(&acme.user, &SecretString::from("t"), None);
    store.insert_instance(&new).await.unwrap();
    (acme, new.id)
}

async fn events_are_deduplicated_by_sequence(db: Database) {
    let store = db.store().await;
    let (acme, id) = instance_for(store.as_ref()).await;
    let first = new_event(&acme.user, id, &["1", "2"], 1);
    assert_eq!(store.record_event(&first).await.unwrap(), Recorded::Stored);
    let again = new_event(&acme.user, id, &["2", "3"], 1);
    assert_eq!(
        store.record_event(&again).await.unwrap(),
        Recorded::SequencesTaken(vec!["2".into()])
    );
    assert!(
        store.get_event(acme.user.org, id, again.id).await.unwrap().is_none(),
        "a refused event leaves nothing behind"
    );
    let retried = new_event(&acme.user, id, &["3"], 1);
    assert_eq!(store.record_event(&retried).await.unwrap(), Recorded::Stored);
    // Sequence numbers are per instance.
    let other = new_instance(&acme.user, &SecretString::from("t2"), None);
    store.insert_instance(&other).await.unwrap();
    assert_eq!(
        store
            .record_event(&new_event(&acme.user, other.id, &["1"], 0))
            .await
            .unwrap(),
        Recorded::Stored
    );

    let listed = store
        .list_events(
            acme.user.org,
            id,
            &EventQuery {
                limit: 10,
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(
        listed.iter().map(|e| e.id).collect::<Vec<_>>(),
        [retried.id, first.id],
        "newest first"
    );
    let page = store
        .list_events(
            acme.user.org,
            id,
            &EventQuery {
                limit: 10,
                before: Some(retried.id),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(page.iter().map(|e| e.id).collect::<Vec<_>>(), [first.id]);
    let globex = tenant(store.as_ref(), "globex").await;
    assert!(
        store
            .list_events(
                globex.user.org,
                id,
                &EventQuery {
                    limit: 10,
                    ..Default::default()
                }
            )
            .await
            .unwrap()
            .is_empty()
    );
    assert!(store.get_event(globex.user.org, id, first.id).await.unwrap().is_none());
}

async fn deliveries_are_claimed_once_and_settle_their_event(db: Database) {
    let store = db.store().await;
    let (acme, id) = instance_for(store.as_ref()).await;
    let event = new_event(&acme.user, id, &[], 40);
    store.record_event(&event).await.unwrap();
    assert_eq!(store.delivery_backlog().await.unwrap(), 40);

    let now = tributary::store::now();
    let lease = now + Duration::seconds(30);
    let mut claimers = tokio::task::JoinSet::new();
    for node in 0..4 {
        let store = store.clone();
        claimers.spawn(async move {
            store
                .claim_deliveries(&format!("node-{node}"), now, lease, 15)
                .await
                .unwrap()
        });
    }
    let claimed: Vec<_> = claimers.join_all().await.into_iter().flatten().collect();
    let unique: std::collections::HashSet<_> = claimed.iter().map(|c| c.id).collect();
    assert_eq!(
        (claimed.len(), unique.len()),
        (40, 40),
        "each delivery claimed exactly once"
    );
    assert!(claimed.iter().all(|c| c.attempt == 1));
    // Bodies are stored apart from the deliveries' state; each comes back with its delivery.
    let bodies: std::collections::HashMap<_, _> = event.deliveries.iter().map(|d| (d.id, d.payload.as_str())).collect();
    assert!(claimed.iter().all(|c| bodies[&c.id] == c.payload));
    let listed = store
        .list_deliveries(acme.user.org, id, DeliveryStatus::Inflight, 100)
        .await
        .unwrap();
    assert_eq!(listed.len(), 40);
    assert!(listed.iter().all(|d| bodies[&d.id] == d.payload));
    assert!(store.claim_deliveries("late", now, lease, 10).await.unwrap().is_empty());
    assert_eq!(
        store.next_delivery_at().await.unwrap(),
        Some(lease),
        "the next look is when leases run out"
    );

    // A lease that ran out makes the delivery claimable again, with its attempt counted.
    let reclaimed = store
        .claim_deliveries(
            "rescuer",
            lease + Duration::seconds(1),
            lease + Duration::seconds(60),
            1,
        )
        .await
        .unwrap();
    assert_eq!(reclaimed.len(), 1);
    assert_eq!(reclaimed[0].attempt, 2);

    let outcome = |delivery: &ClaimedDelivery, owner: &str, next: NextStep| DeliveryOutcome {
        id: delivery.id,
        instance: id,
        owner: owner.to_string(),
        attempt: Some(NewAttempt {
            at: tributary::store::now(),
            status_code: Some(200),
            latency_ms: 3,
            error: None,
            response_body: Some("ok".into()),
        }),
        next,
        deactivate: None,
        now: tributary::store::now(),
    };
    // The worker that lost its lease records its attempt but decides nothing.
    let stale = claimed.iter().find(|c| c.id == reclaimed[0].id).unwrap();
    store
        .finish_delivery(&outcome(stale, "node-that-lost-it", NextStep::Delivered))
        .await
        .unwrap();
    let rescued = &reclaimed[0];
    store
        .finish_delivery(&outcome(
            rescued,
            "rescuer",
            NextStep::RetryAt(now + Duration::seconds(5)),
        ))
        .await
        .unwrap();
    let event_now = store.get_event(acme.user.org, id, event.id).await.unwrap().unwrap();
    assert_eq!(event_now.status, EventStatus::Dispatched);
    let deliveries = store.event_deliveries(acme.user.org, id, event.id).await.unwrap();
    let rescued_record = deliveries.iter().find(|d| d.id == rescued.id).unwrap();
    assert_eq!(rescued_record.status, DeliveryStatus::Pending);
    assert_eq!(rescued_record.attempt_log.len(), 2, "both attempts are on record");

    // Settle everything: one failure makes the event failed.
    let pending = store
        .claim_deliveries(
            "closer",
            now + Duration::seconds(100),
            now + Duration::seconds(200),
            100,
        )
        .await
        .unwrap();
    assert_eq!(
        pending.len(),
        40,
        "leases of the first claims ran out, and the retry is due"
    );
    for (n, delivery) in pending.iter().enumerate() {
        let next = if n == 0 { NextStep::Failed } else { NextStep::Delivered };
        store.finish_delivery(&outcome(delivery, "closer", next)).await.unwrap();
    }
    let settled = store.get_event(acme.user.org, id, event.id).await.unwrap().unwrap();
    assert_eq!(settled.status, EventStatus::Failed);
    assert_eq!(store.delivery_backlog().await.unwrap(), 0);
}

/// Attempts made within one millisecond still list in the order they were made, in both
/// listings: the recording order is all that tells them apart.
async fn attempts_list_in_the_order_made(db: Database) {
    let store = db.store().await;
    let (acme, id) = instance_for(store.as_ref()).await;
    let event = new_event(&acme.user, id, &[], 1);
    store.record_event(&event).await.unwrap();
    let at = tributary::store::now();
    for n in 0..6 {
        let claimed = store
            .claim_deliveries("w", at, at + Duration::seconds(30), 1)
            .await
            .unwrap();
        assert_eq!(claimed.len(), 1, "attempt {n} finds its delivery due");
        let outcome = DeliveryOutcome {
            id: claimed[0].id,
            instance: id,
            owner: "w".into(),
            attempt: Some(NewAttempt {
                at,
                status_code: Some(500),
                latency_ms: n,
                error: Some("HTTP 500".into()),
                response_body: None,
            }),
            next: if n == 5 {
                NextStep::Failed
            } else {
                NextStep::RetryAt(at)
            },
            deactivate: None,
            now: at,
        };
        store.finish_delivery(&outcome).await.unwrap();
    }
    let made = [0, 1, 2, 3, 4, 5];
    let failed = store
        .list_deliveries(acme.user.org, id, DeliveryStatus::Failed, 10)
        .await
        .unwrap();
    assert_eq!(failed.len(), 1);
    let order: Vec<u64> = failed[0].attempt_log.iter().map(|a| a.latency_ms).collect();
    assert_eq!(order, made);
    let of_event = store.event_deliveries(acme.user.org, id, event.id).await.unwrap();
    let order: Vec<u64> = of_event[0].attempt_log.iter().map(|a| a.latency_ms).collect();
    assert_eq!(order, made);
}

async fn deliveries_stored_claimed_wait_for_their_lease(db: Database) {
    let store = db.store().await;
    let (acme, id) = instance_for(store.as_ref()).await;
    let now = tributary::store::now();
    let lease = now + Duration::seconds(30);
    let mut event = new_event(&acme.user, id, &[], 3);
    for delivery in &mut event.deliveries {
        delivery.start = DeliveryStart::Claimed {
            owner: "ingesting-node".into(),
            lease_until: lease,
        };
    }
    store.record_event(&event).await.unwrap();
    // Stored in flight under the lease, first attempt counted: no other worker takes them.
    let listed = store
        .list_deliveries(acme.user.org, id, DeliveryStatus::Inflight, 10)
        .await
        .unwrap();
    assert_eq!(listed.len(), 3);
    assert!(listed.iter().all(|d| d.attempts == 1));
    assert!(
        store
            .claim_deliveries("other", now, lease, 10)
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(store.next_delivery_at().await.unwrap(), Some(lease));
    // Their owner records outcomes as for any claim.
    let first = &event.deliveries[0];
    store
        .finish_delivery(&DeliveryOutcome {
            id: first.id,
            instance: id,
            owner: "ingesting-node".into(),
            attempt: Some(NewAttempt {
                at: now,
                status_code: Some(200),
                latency_ms: 1,
                error: None,
                response_body: None,
            }),
            next: NextStep::Delivered,
            deactivate: None,
            now,
        })
        .await
        .unwrap();
    // If the owner never sends the others (it died), they come back when the lease ends.
    let rescued = store
        .claim_deliveries(
            "rescuer",
            lease + Duration::seconds(1),
            lease + Duration::seconds(60),
            10,
        )
        .await
        .unwrap();
    let mut rescued: Vec<_> = rescued.iter().map(|c| (c.id, c.attempt)).collect();
    rescued.sort();
    let mut expected: Vec<_> = event.deliveries[1..].iter().map(|d| (d.id, 2)).collect();
    expected.sort();
    assert_eq!(rescued, expected);
}

async fn queued_deliveries_wait_for_release(db: Database) {
    let store = db.store().await;
    let (acme, id) = instance_for(store.as_ref()).await;
    // More than one of the store's release chunks, spread over several events.
    let events = [2, 400, 400, 400].map(|deliveries| {
        let mut event = new_event(&acme.user, id, &[], deliveries);
        for delivery in &mut event.deliveries {
            delivery.start = DeliveryStart::Queued;
        }
        event.status = EventStatus::Queued;
        event
    });
    for event in &events {
        store.record_event(event).await.unwrap();
    }
    // Nothing can be claimed, so nothing wakes the delivery workers. (PostgreSQL's wake-ups
    // come from every schema sharing the test database, so only SQLite's can be checked.)
    if matches!(db, Database::Sqlite { .. }) {
        let woken = tokio::time::timeout(std::time::Duration::from_millis(200), store.delivery_wakeup()).await;
        assert!(woken.is_err(), "parked deliveries woke the workers");
    }
    let now = tributary::store::now();
    assert!(
        store
            .claim_deliveries("n", now, now + Duration::seconds(5), 10)
            .await
            .unwrap()
            .is_empty()
    );
    let queued = store
        .list_deliveries(acme.user.org, id, DeliveryStatus::Queued, 10)
        .await
        .unwrap();
    assert_eq!(queued.len(), 10);
    let globex = tenant(store.as_ref(), "globex").await;
    assert_eq!(
        store.release_queued(globex.user.org, id, now).await.unwrap(),
        0,
        "not theirs to release"
    );
    assert!(
        !store
            .set_subscription(globex.user.org, id, false, Some("x"), now)
            .await
            .unwrap()
    );
    let listed = |status| {
        let query = EventQuery {
            statuses: Some(vec![status]),
            limit: 10,
            ..EventQuery::default()
        };
        let store = store.clone();
        async move { store.list_events(acme.user.org, id, &query).await.unwrap().len() }
    };
    assert_eq!(
        (listed(EventStatus::Queued).await, listed(EventStatus::Received).await),
        (4, 0)
    );
    assert_eq!(store.release_queued(acme.user.org, id, now).await.unwrap(), 1202);
    assert_eq!(
        (listed(EventStatus::Queued).await, listed(EventStatus::Received).await),
        (0, 4)
    );
    for event in &events {
        assert_eq!(
            store
                .get_event(acme.user.org, id, event.id)
                .await
                .unwrap()
                .unwrap()
                .status,
            EventStatus::Received
        );
    }
    assert_eq!(
        store
            .claim_deliveries("n", now, now + Duration::seconds(5), 2000)
            .await
            .unwrap()
            .len(),
        1202
    );
}

async fn pruning_keeps_what_is_unsettled(db: Database) {
    let store = db.store().await;
    let (acme, id) = instance_for(store.as_ref()).await;
    let old = tributary::store::now() - Duration::days(8);
    let mut settled = new_event(&acme.user, id, &["a"], 0);
    settled.received_at = old;
    // Settled by its delivery: delivered before the waiting one is stored.
    let mut delivered = new_event(&acme.user, id, &["d"], 1);
    delivered.received_at = old;
    store.record_event(&delivered).await.unwrap();
    let now = tributary::store::now();
    let claimed = store
        .claim_deliveries("n", now, now + Duration::seconds(60), 10)
        .await
        .unwrap();
    assert_eq!(claimed.len(), 1);
    store
        .finish_delivery(&DeliveryOutcome {
            id: claimed[0].id,
            instance: id,
            owner: "n".to_string(),
            attempt: None,
            next: NextStep::Delivered,
            deactivate: None,
            now,
        })
        .await
        .unwrap();
    let mut waiting = new_event(&acme.user, id, &["b"], 1);
    waiting.received_at = old;
    let recent = new_event(&acme.user, id, &["c"], 0);
    for event in [&settled, &waiting, &recent] {
        store.record_event(event).await.unwrap();
    }
    let cutoff = tributary::store::now() - Duration::days(7);
    assert_eq!(store.prune_events(cutoff, 100).await.unwrap(), 2);
    assert!(store.get_event(acme.user.org, id, settled.id).await.unwrap().is_none());
    assert!(
        store
            .get_event(acme.user.org, id, delivered.id)
            .await
            .unwrap()
            .is_none()
    );
    assert!(
        store.get_event(acme.user.org, id, waiting.id).await.unwrap().is_some(),
        "undelivered is kept"
    );
    assert!(store.get_event(acme.user.org, id, recent.id).await.unwrap().is_some());
    // Its sequence number went with it.
    assert_eq!(
        store.record_event(&new_event(&acme.user, id, &["a"], 0)).await.unwrap(),
        Recorded::Stored
    );
}

async fn signing_secrets_rotate_with_grace(db: Database) {
    let store = db.store().await;
    let (acme, id) = instance_for(store.as_ref()).await;
    let now = tributary::store::now();
    assert_eq!(store.signing_secrets(id, now).await.unwrap(), vec![sealed("whsec")]);
    let grace = now + Duration::hours(24);
    // Newest first: the rotation comes after the instance's creation, in another millisecond.
    let rotated = now + Duration::milliseconds(5);
    assert!(
        store
            .rotate_signing_secret(acme.user.org, id, &sealed("next"), rotated, grace)
            .await
            .unwrap()
    );
    assert_eq!(
        store.signing_secrets(id, now).await.unwrap(),
        vec![sealed("next"), sealed("whsec")]
    );
    assert_eq!(
        store.signing_secrets(id, grace + Duration::seconds(1)).await.unwrap(),
        vec![sealed("next")]
    );
    let globex = tenant(store.as_ref(), "globex").await;
    assert!(
        !store
            .rotate_signing_secret(globex.user.org, id, &sealed("evil"), now, now)
            .await
            .unwrap()
    );
    assert_eq!(store.failure_policy(acme.user.org).await.unwrap(), FailurePolicy::Retry);
    store
        .set_failure_policy(acme.user.org, FailurePolicy::Queue)
        .await
        .unwrap();
    assert_eq!(store.failure_policy(acme.user.org).await.unwrap(), FailurePolicy::Queue);
    assert_eq!(
        store.failure_policy(globex.user.org).await.unwrap(),
        FailurePolicy::Retry
    );
}

/// Concurrent writes commit together; a sequence number sent twice at once is stored once,
/// and the refusal of one write leaves its neighbours in the batch alone.
async fn concurrent_events_race_for_sequences(db: Database) {
    let store = db.store().await;
    let (acme, id) = instance_for(store.as_ref()).await;
    let mut tasks = tokio::task::JoinSet::new();
    for n in 0..100 {
        let event = new_event(&acme.user, id, &[&format!("seq-{}", n / 2)], 1);
        let store = store.clone();
        tasks.spawn(async move { store.record_event(&event).await.unwrap() });
    }
    let outcomes = tasks.join_all().await;
    let stored = outcomes.iter().filter(|o| **o == Recorded::Stored).count();
    assert_eq!(stored, 50, "one of each pair");
    assert!(
        outcomes
            .iter()
            .all(|o| matches!(o, Recorded::Stored | Recorded::SequencesTaken(_)))
    );
    assert_eq!(
        store.delivery_backlog().await.unwrap(),
        50,
        "the refused events left no deliveries"
    );
    let listed = store
        .list_events(
            acme.user.org,
            id,
            &EventQuery {
                limit: 500,
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(listed.len(), 50);
}

/// Claims share the writer's transactions with events arriving, refused ones among them
/// (a batch with a refused write runs again write by write): each delivery goes to one
/// worker, under that worker's name, so that its outcome is its to record.
async fn claims_made_while_events_arrive_take_each_delivery_once(db: Database) {
    let store = db.store().await;
    let (acme, id) = instance_for(store.as_ref()).await;
    let mut writers = tokio::task::JoinSet::new();
    for n in 0..100 {
        // Pairs share a sequence number: one of each is refused.
        let event = new_event(&acme.user, id, &[&format!("seq-{}", n / 2)], 1);
        let store = store.clone();
        writers.spawn(async move { store.record_event(&event).await.unwrap() });
    }
    let mut claimers = tokio::task::JoinSet::new();
    for node in 0..4 {
        let store = store.clone();
        claimers.spawn(async move {
            let owner = format!("node-{node}");
            let mut mine = Vec::new();
            let started = std::time::Instant::now();
            while started.elapsed() < std::time::Duration::from_secs(3) {
                let now = tributary::store::now();
                mine.extend(
                    store
                        .claim_deliveries(&owner, now, now + Duration::seconds(30), 7)
                        .await
                        .unwrap(),
                );
            }
            (owner, mine)
        });
    }
    writers.join_all().await;
    let claims = claimers.join_all().await;
    let ids: Vec<_> = claims.iter().flat_map(|(_, mine)| mine.iter().map(|c| c.id)).collect();
    let unique: std::collections::HashSet<_> = ids.iter().collect();
    assert_eq!((ids.len(), unique.len()), (50, 50), "each stored delivery claimed once");
    for (owner, mine) in &claims {
        for claimed in mine {
            store
                .finish_delivery(&DeliveryOutcome {
                    id: claimed.id,
                    instance: id,
                    owner: owner.clone(),
                    attempt: None,
                    next: NextStep::Delivered,
                    deactivate: None,
                    now: tributary::store::now(),
                })
                .await
                .unwrap();
        }
    }
    assert_eq!(
        store.delivery_backlog().await.unwrap(),
        0,
        "each claim was made in the name of the worker it answered"
    );
}

/// What a poll finds is stored with the poll's state; its parked notifications cannot be
/// claimed, so they wake no delivery worker, and its due ones do. (PostgreSQL's wake-ups come
/// from every schema sharing the test database, so only SQLite's are checked.)
async fn polls_wake_the_workers_only_for_due_notifications(db: Database) {
    let store = db.store().await;
    let acme = tenant(store.as_ref(), "acme").await;
    let mut new = new_instance(&acme.user, &SecretString::from("t"), None);
    new.polling = Some(std::time::Duration::from_secs(60));
    store.insert_instance(&new).await.unwrap();
    let sqlite = matches!(db, Database::Sqlite { .. });
    for (start, wakes) in [(DeliveryStart::Queued, false), (DeliveryStart::Due(Utc::now()), true)] {
        let now = tributary::store::now();
        let claimed = store
            .claim_polls("poller", now, now + Duration::seconds(30), 10)
            .await
            .unwrap();
        assert_eq!(claimed.len(), 1, "the poll is due");
        let mut event = new_event(&acme.user, new.id, &[], 2);
        event.source = EventSource::Polling;
        for delivery in &mut event.deliveries {
            delivery.start = start.clone();
        }
        let commit = PollCommit {
            instance: new.id,
            owner: "poller".into(),
            started_at: now,
            next_poll_at: now,
            events: vec![event],
            objects: Vec::new(),
        };
        assert!(store.commit_poll(&commit).await.unwrap());
        if sqlite {
            let woken = tokio::time::timeout(std::time::Duration::from_millis(200), store.delivery_wakeup()).await;
            assert_eq!(woken.is_ok(), wakes, "woken for {start:?}");
        }
    }
    assert_eq!(
        store.delivery_backlog().await.unwrap(),
        2,
        "the due ones wait for a claim"
    );
}

/// The instance's callback URL entry, set to `url` or unset.
fn callback_url(url: Option<&str>) -> ConfigEntry {
    ConfigEntry {
        id: ConfigEntryId::random(),
        key: "event.notification.callback.url".into(),
        value: url.map(|url| StoredValue::Plain(url.into())),
    }
}

async fn held_deliveries_wait_for_a_callback_url(db: Database) {
    let store = db.store().await;
    let (acme, id) = instance_for(store.as_ref()).await;
    let org = acme.user.org;
    let held = |deliveries: usize| {
        let mut event = new_event(&acme.user, id, &[], deliveries);
        for delivery in &mut event.deliveries {
            delivery.start = DeliveryStart::Held;
        }
        event.status = EventStatus::Held;
        event
    };
    let claim = |limit: u32| {
        let store = store.clone();
        async move {
            let now = tributary::store::now();
            store
                .claim_deliveries("n", now, now + Duration::seconds(30), limit)
                .await
                .unwrap()
        }
    };
    let count_held = || {
        let store = store.clone();
        async move {
            store
                .list_deliveries(org, id, DeliveryStatus::Held, 100)
                .await
                .unwrap()
                .len()
        }
    };
    let first = held(2);
    store.record_event(&first).await.unwrap();
    assert!(claim(10).await.is_empty(), "held deliveries are not due");
    assert_eq!(count_held().await, 2);
    let event = store.get_event(org, id, first.id).await.unwrap().unwrap();
    assert_eq!(event.status, EventStatus::Held);
    // Held, not queued: releasing the queue leaves them alone.
    assert_eq!(store.release_queued(org, id, tributary::store::now()).await.unwrap(), 0);
    // A change that leaves the instance without a URL releases nothing.
    let unrelated = InstanceChange {
        config: vec![callback_url(None)],
        ..Default::default()
    };
    assert!(store.update_instance(org, id, &unrelated, Utc::now()).await.unwrap());
    assert_eq!(count_held().await, 2);
    // Another organization cannot set the URL of this one.
    let globex = tenant(store.as_ref(), "globex").await;
    let set = InstanceChange {
        config: vec![callback_url(Some("https://x.test/e"))],
        ..Default::default()
    };
    assert!(
        !store
            .update_instance(globex.user.org, id, &set, Utc::now())
            .await
            .unwrap()
    );
    assert_eq!(count_held().await, 2);
    // Setting the URL releases them with the change.
    assert!(
        store
            .update_instance(org, id, &set, tributary::store::now())
            .await
            .unwrap()
    );
    assert_eq!(count_held().await, 0);
    let released = claim(10).await;
    assert_eq!(released.len(), 2);
    // A writer whose view of the instance is older than the URL stores held deliveries:
    // they are released as they are stored.
    store.record_event(&held(1)).await.unwrap();
    assert_eq!(count_held().await, 0);
    let late = claim(10).await;
    assert_eq!(late.len(), 1);
    // The same for one parked for want of a URL (as the dispatcher does with a stale view).
    let park = |delivery: &ClaimedDelivery| DeliveryOutcome {
        id: delivery.id,
        instance: id,
        owner: "n".into(),
        attempt: None,
        next: NextStep::Held,
        deactivate: None,
        now: tributary::store::now(),
    };
    store.finish_delivery(&park(&late[0])).await.unwrap();
    assert_eq!(claim(10).await.len(), 1, "released again at once");
    // Without a URL, parked ones stay held, and their old events are not pruned.
    let unset = InstanceChange {
        config: vec![callback_url(None)],
        ..Default::default()
    };
    assert!(store.update_instance(org, id, &unset, Utc::now()).await.unwrap());
    store.finish_delivery(&park(&released[0])).await.unwrap();
    let mut old = held(1);
    old.received_at = tributary::store::now() - Duration::days(8);
    store.record_event(&old).await.unwrap();
    assert_eq!(count_held().await, 2);
    assert_eq!(
        store
            .prune_events(tributary::store::now() - Duration::days(7), 100)
            .await
            .unwrap(),
        0
    );
    assert!(claim(10).await.is_empty(), "held without a URL, or in flight");
    assert_eq!(count_held().await, 2);
}

/// PostgreSQL: held deliveries stored while another node's change setting the callback URL
/// is under way (it has taken the instance's hold lock, as `update_instance` does, written
/// the URL and released what it saw held, and has not committed) wait for that change, and
/// then are released: stored without waiting, they would stay held, the change having
/// released before they existed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn held_deliveries_stored_during_a_url_change_are_released() {
    use sqlx::Connection;
    let db = Database::postgres().await;
    let store = db.store().await;
    let (acme, id) = instance_for(store.as_ref()).await;
    let mut change = sqlx::PgConnection::connect(&db.url()).await.unwrap();
    let mut tx = change.begin().await.unwrap();
    for statement in [
        "SELECT pg_advisory_xact_lock($1)",
        "UPDATE instances SET updated_at = updated_at WHERE id = $1",
        "INSERT INTO instance_config (id, instance_id, key, value) \
         VALUES (7, $1, 'event.notification.callback.url', 'https://x.test/e')",
        "UPDATE deliveries SET status = 'pending' WHERE status = 'held' AND instance_id = $1",
    ] {
        sqlx::query(statement).bind(id.get()).execute(&mut *tx).await.unwrap();
    }
    let mut event = new_event(&acme.user, id, &[], 1);
    event.deliveries[0].start = DeliveryStart::Held;
    let recording = tokio::spawn({
        let store = store.clone();
        async move { store.record_event(&event).await.unwrap() }
    });
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    assert!(!recording.is_finished(), "the held delivery waits for the change");
    tx.commit().await.unwrap();
    recording.await.unwrap();
    let held = store
        .list_deliveries(acme.user.org, id, DeliveryStatus::Held, 10)
        .await
        .unwrap();
    assert!(held.is_empty(), "{} left held", held.len());
}

/// PostgreSQL: the other way round, a change setting the callback URL waits for a write
/// holding deliveries of its instance that is under way (one that has taken the instance's
/// hold lock for share, as every such write does first).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_url_change_waits_for_writes_holding_deliveries() {
    use sqlx::Connection;
    let db = Database::postgres().await;
    let store = db.store().await;
    let (acme, id) = instance_for(store.as_ref()).await;
    let mut holding = sqlx::PgConnection::connect(&db.url()).await.unwrap();
    let mut tx = holding.begin().await.unwrap();
    sqlx::query("SELECT pg_advisory_xact_lock_shared($1)")
        .bind(id.get())
        .execute(&mut *tx)
        .await
        .unwrap();
    let changing = tokio::spawn({
        let store = store.clone();
        let set = InstanceChange {
            config: vec![callback_url(Some("https://x.test/e"))],
            ..Default::default()
        };
        async move {
            store
                .update_instance(acme.user.org, id, &set, Utc::now())
                .await
                .unwrap()
        }
    });
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    assert!(!changing.is_finished(), "the change waits for the write");
    tx.commit().await.unwrap();
    assert!(changing.await.unwrap());
}

async fn instances_list_in_pages(db: Database) {
    let store = db.store().await;
    let acme = tenant(store.as_ref(), "acme").await;
    let mut ids = Vec::new();
    for (n, tags) in [vec!["a"], vec!["a", "b"], vec!["b"]].into_iter().enumerate() {
        let mut new = new_instance(&acme.user, &SecretString::from(format!("t{n}")), None);
        new.tags = tags.into_iter().map(str::to_owned).collect();
        new.created_at = tributary::store::now() + Duration::milliseconds(n as i64 * 10);
        store.insert_instance(&new).await.unwrap();
        ids.push((new.created_at, new.id));
    }
    let globex = tenant(store.as_ref(), "globex").await;
    store
        .insert_instance(&new_instance(&globex.user, &SecretString::from("g"), None))
        .await
        .unwrap();
    let list = |query: InstanceQuery| {
        let store = store.clone();
        async move {
            store
                .list_instances(acme.user.org, &query)
                .await
                .unwrap()
                .iter()
                .map(|i| i.id)
                .collect::<Vec<_>>()
        }
    };
    let page = |after: Option<usize>, tags: &[&str], limit: u32| InstanceQuery {
        tags: tags.iter().map(|t| t.to_string()).collect(),
        only: None,
        after: after.map(|at| ids[at]),
        limit,
    };
    let all: Vec<InstanceId> = ids.iter().map(|(_, id)| *id).collect();
    assert_eq!(list(page(None, &[], 10)).await, all);
    assert_eq!(list(page(None, &[], 2)).await, all[..2]);
    assert_eq!(list(page(Some(1), &[], 2)).await, all[2..]);
    assert_eq!(list(page(None, &["a"], 10)).await, all[..2]);
    assert_eq!(list(page(None, &["a", "b"], 10)).await, all[1..2]);
    assert_eq!(list(page(Some(0), &["b"], 1)).await, all[1..2]);
    let only = InstanceQuery {
        only: Some(all[2]),
        ..page(None, &[], 10)
    };
    assert_eq!(list(only).await, all[2..]);
    let listed = store
        .list_instances(acme.user.org, &page(None, &["b"], 10))
        .await
        .unwrap();
    assert_eq!(listed[0].tags, ["a", "b"], "each with all its tags");
    assert_eq!(listed[0].config.len(), 3, "and its configuration");
}

/// A delivery deferred (its callback server failing or busy) is pending again, due when
/// asked, with the attempt its claim counted given back and nothing in its attempt log.
async fn deferred_deliveries_keep_their_attempts(db: Database) {
    let store = db.store().await;
    let (acme, id) = instance_for(store.as_ref()).await;
    let event = new_event(&acme.user, id, &[], 1);
    store.record_event(&event).await.unwrap();
    let at = tributary::store::now();
    for n in 0..3 {
        let claimed = store
            .claim_deliveries("w", at + Duration::seconds(n), at + Duration::seconds(60), 1)
            .await
            .unwrap();
        assert_eq!(claimed.len(), 1, "due again after deferral {n}");
        assert_eq!(claimed[0].attempt, 1, "deferrals spend no attempt");
        let due = at + Duration::seconds(n + 1);
        store
            .finish_delivery(&DeliveryOutcome {
                id: claimed[0].id,
                instance: id,
                owner: "w".into(),
                attempt: None,
                next: NextStep::Deferred(due),
                deactivate: None,
                now: at,
            })
            .await
            .unwrap();
        assert_eq!(store.next_delivery_at().await.unwrap(), Some(due));
    }
    let deliveries = store.event_deliveries(acme.user.org, id, event.id).await.unwrap();
    assert_eq!(deliveries[0].status, DeliveryStatus::Pending);
    assert_eq!(deliveries[0].attempts, 0);
    assert!(deliveries[0].attempt_log.is_empty());
    let event_now = store.get_event(acme.user.org, id, event.id).await.unwrap().unwrap();
    assert_eq!(event_now.status, EventStatus::Received, "never attempted");
}

on_both_backends!(
    deferred_deliveries_keep_their_attempts,
    concurrent_events_race_for_sequences,
    polls_wake_the_workers_only_for_due_notifications,
    claims_made_while_events_arrive_take_each_delivery_once,
    events_are_deduplicated_by_sequence,
    deliveries_are_claimed_once_and_settle_their_event,
    attempts_list_in_the_order_made,
    deliveries_stored_claimed_wait_for_their_lease,
    queued_deliveries_wait_for_release,
    pruning_keeps_what_is_unsettled,
    signing_secrets_rotate_with_grace,
    held_deliveries_wait_for_a_callback_url,
);

on_both_backends!(
    organizations_and_users,
    secrets_are_replaced,
    instances_round_trip,
    tenants_are_isolated,
    updates_are_partial_and_atomic,
    deletion_cascades,
    refresh_leases,
    concurrent_claims_have_one_winner,
    unknown_ids_are_absent,
    instances_list_in_pages,
);
