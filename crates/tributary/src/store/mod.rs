//! Storage: the [`Store`] trait and the records it reads and writes.
//!
//! The trait speaks in domain types and knows nothing of SQL; [`sql`] implements it once for
//! any sqlx backend, and [`sqlite`] and [`postgres`] supply what differs between the two
//! (connection setup, migrations, the few statements whose dialects diverge). Both pass the
//! same contract tests (`tests/e2e/store_contract.rs`).
//!
//! Tenant isolation is built into the signatures: every method that reads or changes an
//! organization's data takes its [`OrgId`] and filters on it in SQL. Background workers
//! (token refresh) address instances through leases they claimed instead.
//!
//! Secrets arrive here already sealed ([`Sealed`]) or hashed ([`CredentialHash`]); the store
//! never sees a clear secret.

pub mod postgres;
pub mod sql;
pub mod sqlite;

use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use crate::{
    crypto::{CredentialHash, Sealed},
    ids::{ConfigEntryId, InstanceId, OrgId, UserId},
};

pub type Timestamp = DateTime<Utc>;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database: {0}")]
    Database(#[from] sqlx::Error),
    #[error("migrations: {0}")]
    Migration(#[from] sqlx::migrate::MigrateError),
    #[error("unsupported database URL {0:?}: use sqlite://<file> or postgres://…")]
    UnsupportedUrl(String),
    #[error("stored data is inconsistent: {0}")]
    Corrupt(String),
}

impl StoreError {
    /// The database cannot take writes right now (read-only file, disk full, connection
    /// lost); the caller should answer "try again later", not "bad request".
    pub fn is_unavailable(&self) -> bool {
        matches!(
            self,
            StoreError::Database(
                sqlx::Error::Io(_) | sqlx::Error::PoolTimedOut | sqlx::Error::PoolClosed
            )
        ) || matches!(self, StoreError::Database(sqlx::Error::Database(e)) if is_unavailable_code(e.code().as_deref()))
    }
}

/// SQLite's READONLY, FULL, IOERR and BUSY families; PostgreSQL's admin shutdown and
/// connection exceptions.
fn is_unavailable_code(code: Option<&str>) -> bool {
    match code {
        Some(code) => {
            matches!(
                code,
                "5" | "8" | "10" | "13" | "517" | "1032" | "3338" | "57P01" | "57P02" | "57P03"
            ) || code.starts_with("08")
        }
        None => false,
    }
}

pub type StoreResult<T> = Result<T, StoreError>;

/// Opens the store named by `url`, creating the database file and applying migrations.
pub async fn connect(url: &str, options: &ConnectOptions) -> StoreResult<Arc<dyn Store>> {
    if url.starts_with("sqlite:") {
        Ok(Arc::new(sqlite::connect(url, options).await?))
    } else if url.starts_with("postgres:") || url.starts_with("postgresql:") {
        Ok(Arc::new(postgres::connect(url, options).await?))
    } else {
        Err(StoreError::UnsupportedUrl(url.to_string()))
    }
}

#[derive(Debug, Clone)]
pub struct ConnectOptions {
    pub max_connections: u32,
    /// SQLite only: fsync every commit (`synchronous=FULL`) rather than at checkpoints.
    pub sqlite_full_sync: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Organization {
    pub id: OrgId,
    pub name: String,
    pub created_at: Timestamp,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    pub id: UserId,
    pub org: OrgId,
    pub email: String,
    pub first_name: String,
    pub last_name: String,
    pub created_at: Timestamp,
}

#[derive(Debug, Clone)]
pub struct NewOrganization {
    pub org: Organization,
    pub secret: CredentialHash,
}

#[derive(Debug, Clone)]
pub struct NewUser {
    pub user: User,
    pub secret: CredentialHash,
}

/// A configuration value as stored: in clear, or sealed when the key is secret.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StoredValue {
    Plain(String),
    Sealed(Sealed),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigEntry {
    pub id: ConfigEntryId,
    pub key: String,
    /// `None` for a known key that has no value.
    pub value: Option<StoredValue>,
}

/// What the provider granted: sealed tokens and the account they belong to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Grant {
    pub access_token: Sealed,
    pub refresh_token: Option<Sealed>,
    pub expires_at: Option<Timestamp>,
    /// When to refresh the access token: ahead of expiry, or never without a refresh token.
    pub refresh_due_at: Option<Timestamp>,
    /// The provider account, as JSON (`{"id": …, "email": …, "name": …}`); `None` keeps
    /// the one already stored.
    pub identity: Option<String>,
}

#[derive(Debug, Clone)]
pub struct NewInstance {
    pub id: InstanceId,
    pub org: OrgId,
    pub user: UserId,
    pub element_key: String,
    pub name: String,
    pub tags: Vec<String>,
    pub token: CredentialHash,
    pub token_sealed: Sealed,
    pub config: Vec<ConfigEntry>,
    pub grant: Grant,
    pub created_at: Timestamp,
}

#[derive(Debug, Clone)]
pub struct InstanceRecord {
    pub id: InstanceId,
    pub org: OrgId,
    pub user: User,
    pub element_key: String,
    pub name: String,
    pub tags: Vec<String>,
    pub token_sealed: Sealed,
    pub valid: bool,
    pub invalid_reason: Option<String>,
    pub disabled: bool,
    pub config: Vec<ConfigEntry>,
    pub identity: Option<String>,
    pub token_expires_at: Option<Timestamp>,
    pub token_refreshed_at: Option<Timestamp>,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

/// A partial update; `None` leaves a field as it is.
#[derive(Debug, Clone, Default)]
pub struct InstanceChange {
    pub name: Option<String>,
    pub tags: Option<Vec<String>>,
    /// Entries to insert or overwrite, matched by key (an existing entry keeps its id).
    pub config: Vec<ConfigEntry>,
    pub disabled: Option<bool>,
    /// A new grant from a re-authentication; makes the instance valid again.
    pub grant: Option<Grant>,
}

/// Who is calling, once their credentials are resolved.
#[derive(Debug, Clone)]
pub struct InstanceCaller {
    pub user: User,
    pub instance: InstanceId,
    pub disabled: bool,
}

/// The right, for one lease, to refresh an instance's token, with what is needed to do it.
#[derive(Debug, Clone)]
pub struct RefreshClaim {
    pub instance: InstanceId,
    pub element_key: String,
    pub refresh_token: Option<Sealed>,
    pub config: Vec<ConfigEntry>,
}

/// The current access token of a valid instance, for calls to its provider.
#[derive(Debug, Clone)]
pub struct AccessGrant {
    pub instance: InstanceId,
    pub element_key: String,
    pub access_token: Sealed,
    pub expires_at: Option<Timestamp>,
    pub valid: bool,
}

#[async_trait]
pub trait Store: Send + Sync + 'static {
    /// Cheap round trip proving the database answers.
    async fn ping(&self) -> StoreResult<()>;

    async fn create_organization(&self, org: &NewOrganization) -> StoreResult<()>;
    async fn create_user(&self, user: &NewUser) -> StoreResult<()>;
    async fn list_organizations(&self) -> StoreResult<Vec<Organization>>;
    async fn list_users(&self, org: OrgId) -> StoreResult<Vec<User>>;

    /// The user holding `user_secret`, if they belong to the organization holding `org_secret`.
    async fn find_platform_caller(
        &self,
        user_secret: &CredentialHash,
        org_secret: &CredentialHash,
    ) -> StoreResult<Option<User>>;

    /// The user holding `user_secret` and the instance holding `token`, if both belong to
    /// the same organization.
    async fn find_instance_caller(
        &self,
        user_secret: &CredentialHash,
        token: &CredentialHash,
    ) -> StoreResult<Option<InstanceCaller>>;

    /// Stores an instance with its configuration, tags and grant in one transaction.
    async fn insert_instance(&self, instance: &NewInstance) -> StoreResult<()>;
    async fn get_instance(&self, org: OrgId, id: InstanceId)
    -> StoreResult<Option<InstanceRecord>>;
    async fn list_instances(&self, org: OrgId) -> StoreResult<Vec<InstanceRecord>>;
    /// Applies `change` atomically; false when the instance is not the organization's.
    async fn update_instance(
        &self,
        org: OrgId,
        id: InstanceId,
        change: &InstanceChange,
        now: Timestamp,
    ) -> StoreResult<bool>;
    async fn delete_instance(&self, org: OrgId, id: InstanceId) -> StoreResult<bool>;

    /// Valid instances whose token refresh is due and that nobody is refreshing, most
    /// overdue first.
    async fn tokens_due(&self, now: Timestamp, limit: u32) -> StoreResult<Vec<InstanceId>>;
    /// Takes the refresh lease of a valid instance if it is free or expired.
    async fn claim_refresh(
        &self,
        id: InstanceId,
        owner: &str,
        now: Timestamp,
        lease_until: Timestamp,
    ) -> StoreResult<Option<RefreshClaim>>;
    /// Stores the rotated tokens and releases the lease if still held. The tokens are stored
    /// even when the lease was lost meanwhile: the provider has already invalidated the old
    /// refresh token, so the new one is the only one that works.
    async fn complete_refresh(
        &self,
        id: InstanceId,
        owner: &str,
        grant: &Grant,
        now: Timestamp,
    ) -> StoreResult<()>;
    /// Marks the instance invalid (the provider refused its refresh token) and releases the lease.
    async fn fail_refresh(
        &self,
        id: InstanceId,
        owner: &str,
        reason: &str,
        now: Timestamp,
    ) -> StoreResult<bool>;
    /// Releases the lease after a transient failure; the refresh is retried after `retry_at`.
    async fn release_refresh(
        &self,
        id: InstanceId,
        owner: &str,
        retry_at: Timestamp,
    ) -> StoreResult<()>;
    /// The instance's current access token.
    async fn access_grant(&self, id: InstanceId) -> StoreResult<Option<AccessGrant>>;
}

/// The current time at the precision the store keeps (milliseconds), so that a value read
/// back equals the value written.
pub fn now() -> Timestamp {
    from_millis(to_millis(Utc::now())).expect("the current time is representable")
}

/// Milliseconds since the epoch, the storage form of every timestamp.
pub(crate) fn to_millis(t: Timestamp) -> i64 {
    t.timestamp_millis()
}

pub(crate) fn from_millis(ms: i64) -> StoreResult<Timestamp> {
    DateTime::from_timestamp_millis(ms)
        .ok_or_else(|| StoreError::Corrupt(format!("timestamp {ms}")))
}
