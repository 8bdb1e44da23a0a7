//! The storage contract: every behaviour the hub relies on, checked on SQLite and PostgreSQL.

use chrono::{Duration, Utc};
use secrecy::SecretString;
use tributary::{
    crypto::{CredentialHash, Sealed},
    ids::{ConfigEntryId, InstanceId, OrgId},
    store::{ConfigEntry, Grant, InstanceChange, NewInstance, Store, StoredValue, User},
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
        created_at: Utc::now(),
    }
}

async fn organizations_and_users(db: Database) {
    let store = db.store().await;
    let acme = tenant(store.as_ref(), "acme").await;
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

    let listed = store.list_instances(acme.user.org).await.unwrap();
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
    assert!(store.list_instances(other).await.unwrap().is_empty());
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

on_both_backends!(
    organizations_and_users,
    instances_round_trip,
    tenants_are_isolated,
    updates_are_partial_and_atomic,
    deletion_cascades,
    refresh_leases,
    concurrent_claims_have_one_winner,
    unknown_ids_are_absent,
);
