//! Organizations and users: creating them with fresh credentials, which are shown once and
//! stored only as hashes, and replacing a lost credential with a new one.

use secrecy::SecretString;

use crate::{
    crypto::{CredentialHash, generate_credential},
    ids::{OrgId, UserId},
    store::{NewOrganization, NewUser, Organization, Store, StoreResult, User},
};

/// A new organization and its secret (the only time the secret is known).
pub async fn create_organization(store: &dyn Store, name: &str) -> StoreResult<(Organization, SecretString)> {
    let secret = generate_credential();
    let org = Organization {
        id: OrgId::random(),
        name: name.to_string(),
        created_at: crate::store::now(),
    };
    store
        .create_organization(&NewOrganization {
            org: org.clone(),
            secret: CredentialHash::of(&secret),
        })
        .await?;
    Ok((org, secret))
}

/// A new user of `org` and their secret (the only time the secret is known).
pub async fn create_user(
    store: &dyn Store,
    org: OrgId,
    email: &str,
    first_name: &str,
    last_name: &str,
) -> StoreResult<(User, SecretString)> {
    let secret = generate_credential();
    let user = User {
        id: UserId::random(),
        org,
        email: email.to_string(),
        first_name: first_name.to_string(),
        last_name: last_name.to_string(),
        created_at: crate::store::now(),
    };
    store
        .create_user(&NewUser {
            user: user.clone(),
            secret: CredentialHash::of(&secret),
        })
        .await?;
    Ok((user, secret))
}

/// A new secret for `org`, replacing the old one, which stops working at once; `None` if
/// there is no such organization.
pub async fn rotate_organization_secret(store: &dyn Store, org: OrgId) -> StoreResult<Option<SecretString>> {
    let secret = generate_credential();
    let replaced = store.set_organization_secret(org, &CredentialHash::of(&secret)).await?;
    Ok(replaced.then_some(secret))
}

/// A new secret for the user `user` of `org`, replacing the old one, which stops working at
/// once; `None` if the organization has no such user.
pub async fn rotate_user_secret(store: &dyn Store, org: OrgId, user: UserId) -> StoreResult<Option<SecretString>> {
    let secret = generate_credential();
    let replaced = store.set_user_secret(org, user, &CredentialHash::of(&secret)).await?;
    Ok(replaced.then_some(secret))
}

/// The credentials made on a first start, to be printed once.
pub struct Bootstrap {
    pub organization: Organization,
    pub organization_secret: SecretString,
    pub user: User,
    pub user_secret: SecretString,
}

/// On an empty database, creates one organization with one user so the hub is usable at
/// once; does nothing when any organization exists.
pub async fn bootstrap(store: &dyn Store) -> StoreResult<Option<Bootstrap>> {
    if !store.list_organizations().await?.is_empty() {
        return Ok(None);
    }
    let (organization, organization_secret) = create_organization(store, "Default organization").await?;
    let (user, user_secret) = create_user(store, organization.id, "admin@localhost", "Admin", "User").await?;
    Ok(Some(Bootstrap {
        organization,
        organization_secret,
        user,
        user_secret,
    }))
}
