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
    ids::{ConfigEntryId, DeliveryId, EventId, InstanceId, OrgId, UserId},
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
    /// The transaction a write shared with others did not commit.
    #[error("database commit failed: {message}")]
    Commit { unavailable: bool, message: String },
    #[error("the database writer has stopped")]
    WriterStopped,
    /// The first connection at start failed; says why and what to do, without the password.
    #[error("{0}")]
    Unreachable(String),
    /// Another hub serves from this SQLite file (see [`sqlite::lock_for_serving`]).
    #[error(
        "the SQLite database {} is in use by another hub{}: one hub process per SQLite file \
         (`tributary admin` may run beside it); stop the other one, or use PostgreSQL for several hubs",
        .database.display(),
        .holder.map(|pid| format!(" (process {pid})")).unwrap_or_default()
    )]
    InUse {
        database: std::path::PathBuf,
        holder: Option<u32>,
    },
    #[error("lock file {}: {source}", .path.display())]
    Lock {
        path: std::path::PathBuf,
        source: std::io::Error,
    },
}

impl StoreError {
    /// The database cannot take writes right now (read-only file, disk full, connection
    /// lost); the caller should answer "try again later", not "bad request".
    pub fn is_unavailable(&self) -> bool {
        matches!(
            self,
            StoreError::Commit { unavailable: true, .. } | StoreError::WriterStopped
        ) || matches!(
            self,
            StoreError::Database(sqlx::Error::Io(_) | sqlx::Error::PoolTimedOut | sqlx::Error::PoolClosed)
        ) || matches!(self, StoreError::Database(sqlx::Error::Database(e)) if is_unavailable_code(
            e.try_downcast_ref::<sqlx::sqlite::SqliteError>().is_some(),
            e.code().as_deref(),
        ))
    }
}

/// SQLite's BUSY, LOCKED, READONLY, IOERR, FULL and CANTOPEN families (sqlx reports the
/// extended code, e.g. 778 for IOERR_WRITE, whose low byte is the family); PostgreSQL's
/// connection exceptions, shutdowns and insufficient resources (disk full, too many
/// connections).
fn is_unavailable_code(sqlite: bool, code: Option<&str>) -> bool {
    let Some(code) = code else { return false };
    if sqlite {
        code.parse::<u32>()
            .is_ok_and(|code| matches!(code & 0xff, 5 | 6 | 8 | 10 | 13 | 14))
    } else {
        code.starts_with("08") || code.starts_with("53") || matches!(code, "57P01" | "57P02" | "57P03")
    }
}

pub type StoreResult<T> = Result<T, StoreError>;

/// The database engines, told apart by the URL's scheme.
enum Engine {
    Sqlite,
    Postgres,
}

impl Engine {
    fn of(url: &str) -> StoreResult<Self> {
        if url.starts_with("sqlite:") {
            Ok(Engine::Sqlite)
        } else if url.starts_with("postgres:") || url.starts_with("postgresql:") {
            Ok(Engine::Postgres)
        } else {
            Err(StoreError::UnsupportedUrl(url.to_string()))
        }
    }
}

/// Opens the store named by `url`, creating the database file and applying migrations.
pub async fn connect(url: &str, options: &ConnectOptions) -> StoreResult<Arc<dyn Store>> {
    Ok(match Engine::of(url)? {
        Engine::Sqlite => Arc::new(sqlite::connect(url, options).await?),
        Engine::Postgres => Arc::new(postgres::connect(url, options).await?),
    })
}

/// What `url` names, for people: the SQLite file, or the PostgreSQL server, database and
/// user (never the password).
pub fn describe(url: &str) -> StoreResult<String> {
    Ok(match Engine::of(url)? {
        Engine::Sqlite => format!("SQLite file {}", sqlite::database_file(url)?.display()),
        Engine::Postgres => postgres::Server::from_url(url)?.to_string(),
    })
}

/// Claims the database for a serving hub where its engine takes one process only (SQLite,
/// until the returned lock is dropped); several hubs share a PostgreSQL database by design.
pub fn claim_for_serving(url: &str) -> StoreResult<Option<sqlite::ServingLock>> {
    match Engine::of(url)? {
        Engine::Sqlite => sqlite::lock_for_serving(url).map(Some),
        Engine::Postgres => Ok(None),
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
    /// The first Standard Webhooks secret for its notifications.
    pub signing_secret: Sealed,
    /// When its events are polled, how often.
    pub polling: Option<std::time::Duration>,
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
    /// Whether notifications are being sent (off after exhausted retries or a 410).
    pub subscription_active: bool,
    pub subscription_note: Option<String>,
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
    /// Start or change polling (`Some(Some(interval))`) or stop it (`Some(None)`).
    pub polling: Option<Option<std::time::Duration>>,
}

/// Which instances to list, in creation order.
#[derive(Debug, Clone, Default)]
pub struct InstanceQuery {
    /// Only instances carrying every one of these tags.
    pub tags: Vec<String>,
    /// Only this one (an element token's own instance).
    pub only: Option<InstanceId>,
    /// Only instances after this one (created at, id): the page cursor.
    pub after: Option<(Timestamp, InstanceId)>,
    pub limit: u32,
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

/// What an organization wants done with a notification its callback refuses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FailurePolicy {
    /// Retry on the schedule (Cloud Elements' default).
    Retry,
    /// Park it as queued for the client to pull and release.
    Queue,
}

impl FailurePolicy {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Retry => "retry",
            Self::Queue => "queue",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "retry" => Some(Self::Retry),
            "queue" => Some(Self::Queue),
            _ => None,
        }
    }
}

/// Declares a status enum stored and shown as lowercase text.
macro_rules! text_enum {
    ($(#[$doc:meta])* $name:ident { $($(#[$vdoc:meta])* $variant:ident = $text:literal),* $(,)? }) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum $name { $($(#[$vdoc])* $variant),* }

        impl $name {
            pub const ALL: &'static [$name] = &[$($name::$variant),*];

            pub fn as_str(self) -> &'static str {
                match self { $($name::$variant => $text),* }
            }

            pub fn parse(text: &str) -> Option<Self> {
                match text { $($text => Some($name::$variant),)* _ => None }
            }
        }
    };
}

text_enum!(
    /// Where an event came from.
    EventSource { Webhook = "webhook", Polling = "polling" }
);

text_enum!(
    /// Where an event stands, from receipt to its notifications' fate.
    EventStatus {
        /// Stored with notifications not yet attempted.
        Received = "received",
        /// Its notifications wait for the instance to have a callback URL.
        Held = "held",
        /// Recorded, not forwarded: a ping, a disabled instance, events turned off.
        Ignored = "ignored",
        /// Every item was delivered before (same sequence numbers).
        Duplicate = "duplicate",
        /// Notifications attempted and some still to be delivered (retrying).
        Dispatched = "dispatched",
        /// Every notification delivered.
        Notified = "notified",
        /// A notification ran out of retries.
        Failed = "failed",
        /// A notification is parked, waiting to be released.
        Queued = "queued",
    }
);

text_enum!(
    /// Where one notification stands.
    DeliveryStatus {
        Pending = "pending",
        Inflight = "inflight",
        Delivered = "delivered",
        Failed = "failed",
        /// Parked until someone releases it (the queue failure policy, a deactivated
        /// subscription).
        Queued = "queued",
        /// Parked until the instance has a callback URL, and released as soon as it has.
        Held = "held",
    }
);

/// What the pipeline needs to know of an instance, looked up by id: a provider's webhook
/// URL and a worker's lease are the capability, not a tenant's credentials.
#[derive(Debug, Clone)]
pub struct EventTarget {
    pub instance: InstanceId,
    pub org: OrgId,
    pub user: UserId,
    pub element_key: String,
    pub name: String,
    pub tags: Vec<String>,
    pub disabled: bool,
    pub subscription_active: bool,
    pub failure_policy: FailurePolicy,
    pub config: Vec<ConfigEntry>,
    /// The provider account (JSON), which providers' rate limits count against.
    pub identity: Option<String>,
}

#[derive(Debug, Clone)]
pub struct NewDelivery {
    pub id: DeliveryId,
    pub payload: String,
    pub start: DeliveryStart,
}

/// How a new delivery starts out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DeliveryStart {
    /// Pending: a worker claims it once it is due.
    Due(Timestamp),
    /// Parked until someone releases it.
    Queued,
    /// Parked until the instance has a callback URL (see [`Store::update_instance`]).
    Held,
    /// Claimed already for its first attempt by the worker `owner`, which hears of it in
    /// memory once it is stored. If that worker never sends it, the lease runs out and any
    /// worker claims it, as after a crash.
    Claimed { owner: String, lease_until: Timestamp },
}

impl DeliveryStart {
    pub fn status(&self) -> DeliveryStatus {
        match self {
            DeliveryStart::Due(_) => DeliveryStatus::Pending,
            DeliveryStart::Queued => DeliveryStatus::Queued,
            DeliveryStart::Held => DeliveryStatus::Held,
            DeliveryStart::Claimed { .. } => DeliveryStatus::Inflight,
        }
    }
}

/// An event to store together with its sequence numbers and notifications.
#[derive(Debug, Clone)]
pub struct NewEvent {
    pub id: EventId,
    pub instance: InstanceId,
    pub org: OrgId,
    pub source: EventSource,
    pub status: EventStatus,
    pub note: Option<String>,
    pub received_at: Timestamp,
    pub raw: String,
    /// The normalized event objects, as a JSON array.
    pub normalized: String,
    pub sequences: Vec<String>,
    pub deliveries: Vec<NewDelivery>,
}

impl NewEvent {
    /// Whether storing it gives the delivery workers something to claim, so that they are
    /// woken. Parked deliveries cannot be claimed (waking the workers for them would cost an
    /// empty claim each time), and claimed ones are on their way to their worker already.
    pub fn awaits_claim(&self) -> bool {
        self.deliveries.iter().any(|d| matches!(d.start, DeliveryStart::Due(_)))
    }

    /// Whether it holds deliveries until its instance has a callback URL.
    pub fn holds(&self) -> bool {
        self.deliveries.iter().any(|d| d.start == DeliveryStart::Held)
    }
}

/// How storing an event went.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Recorded {
    Stored,
    /// These sequence numbers were stored meanwhile by a concurrent request; nothing was
    /// written. Leave them out and try again.
    SequencesTaken(Vec<String>),
}

#[derive(Debug, Clone)]
pub struct EventRecord {
    pub id: EventId,
    pub instance: InstanceId,
    pub source: EventSource,
    pub status: EventStatus,
    pub note: Option<String>,
    pub received_at: Timestamp,
    pub updated_at: Timestamp,
    pub raw: String,
    pub normalized: String,
}

/// Which events to list, newest first.
#[derive(Debug, Clone, Default)]
pub struct EventQuery {
    /// Only events in one of these statuses; `None` for all.
    pub statuses: Option<Vec<EventStatus>>,
    pub from: Option<Timestamp>,
    pub to: Option<Timestamp>,
    /// Only events older than this one (the page cursor).
    pub before: Option<EventId>,
    pub limit: u32,
}

#[derive(Debug, Clone)]
pub struct ClaimedDelivery {
    pub id: DeliveryId,
    pub instance: InstanceId,
    pub payload: String,
    /// Attempts so far, counting the one this claim is for.
    pub attempt: u32,
    /// When another worker may take the delivery over.
    pub lease_until: Timestamp,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewAttempt {
    pub at: Timestamp,
    pub status_code: Option<u16>,
    pub latency_ms: u64,
    pub error: Option<String>,
    pub response_body: Option<String>,
}

/// What happens to a delivery after an attempt (or instead of one).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NextStep {
    Delivered,
    RetryAt(Timestamp),
    Failed,
    Queued,
    /// Not sent: the instance has no callback URL (any more); wait for one.
    Held,
    /// Not sent: pending again, due then, with the attempt its claim counted given back
    /// (its callback server was failing or busy, see `pipeline::deliver::destinations`).
    Deferred(Timestamp),
}

#[derive(Debug, Clone)]
pub struct DeliveryOutcome {
    pub id: DeliveryId,
    pub instance: InstanceId,
    pub owner: String,
    pub attempt: Option<NewAttempt>,
    pub next: NextStep,
    /// Turn the instance's subscription off, with this reason.
    pub deactivate: Option<String>,
    pub now: Timestamp,
}

#[derive(Debug, Clone)]
pub struct AttemptRecord {
    pub at: Timestamp,
    pub status_code: Option<u16>,
    pub latency_ms: u64,
    pub error: Option<String>,
    pub response_body: Option<String>,
}

#[derive(Debug, Clone)]
pub struct DeliveryRecord {
    pub id: DeliveryId,
    pub event: EventId,
    pub status: DeliveryStatus,
    pub attempts: u32,
    pub next_attempt_at: Option<Timestamp>,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
    pub payload: String,
    pub attempt_log: Vec<AttemptRecord>,
}

/// An instance whose poll is due, claimed for one lease.
#[derive(Debug, Clone)]
pub struct PollClaim {
    pub instance: InstanceId,
    pub interval: std::time::Duration,
    /// When the last successful poll started; `None` before the first.
    pub last_poll_at: Option<Timestamp>,
    pub failures: u32,
}

/// What the previous polls saw of one object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KnownObject {
    pub fingerprint: String,
    pub window_at: Option<Timestamp>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ObjectChange {
    Remember {
        resource: String,
        id: String,
        fingerprint: String,
        window_at: Option<Timestamp>,
    },
    Forget {
        resource: String,
        id: String,
    },
}

/// A successful poll: its events and what it learned, stored together.
#[derive(Debug, Clone)]
pub struct PollCommit {
    pub instance: InstanceId,
    pub owner: String,
    pub started_at: Timestamp,
    pub next_poll_at: Timestamp,
    pub events: Vec<NewEvent>,
    pub objects: Vec<ObjectChange>,
}

#[derive(Debug, Clone)]
pub struct PollStatus {
    pub interval: std::time::Duration,
    pub next_poll_at: Timestamp,
    pub last_poll_at: Option<Timestamp>,
    pub failures: u32,
    pub last_error: Option<String>,
    pub paused_reason: Option<String>,
}

#[async_trait]
pub trait Store: Send + Sync + 'static {
    /// Cheap round trip proving the database answers.
    async fn ping(&self) -> StoreResult<()>;

    async fn create_organization(&self, org: &NewOrganization) -> StoreResult<()>;
    async fn create_user(&self, user: &NewUser) -> StoreResult<()>;
    async fn list_organizations(&self) -> StoreResult<Vec<Organization>>;
    async fn list_users(&self, org: OrgId) -> StoreResult<Vec<User>>;
    /// Replaces the organization's secret (the old one stops working); false if there is no
    /// such organization.
    async fn set_organization_secret(&self, org: OrgId, secret: &CredentialHash) -> StoreResult<bool>;
    /// Replaces the secret of the organization's user (the old one stops working); false if
    /// the organization has no such user.
    async fn set_user_secret(&self, org: OrgId, user: UserId, secret: &CredentialHash) -> StoreResult<bool>;

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
    async fn get_instance(&self, org: OrgId, id: InstanceId) -> StoreResult<Option<InstanceRecord>>;
    /// The organization's instances in creation order, from after `query.after`.
    async fn list_instances(&self, org: OrgId, query: &InstanceQuery) -> StoreResult<Vec<InstanceRecord>>;
    /// Applies `change` atomically; false when the instance is not the organization's.
    /// When the instance has a callback URL afterwards, its held deliveries are released in
    /// the same transaction.
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
    async fn complete_refresh(&self, id: InstanceId, owner: &str, grant: &Grant, now: Timestamp) -> StoreResult<()>;
    /// Marks the instance invalid (the provider refused its refresh token) and releases the lease.
    async fn fail_refresh(&self, id: InstanceId, owner: &str, reason: &str, now: Timestamp) -> StoreResult<bool>;
    /// Releases the lease after a transient failure; the refresh is retried after `retry_at`.
    async fn release_refresh(&self, id: InstanceId, owner: &str, retry_at: Timestamp) -> StoreResult<()>;
    /// The instance's current access token.
    async fn access_grant(&self, id: InstanceId) -> StoreResult<Option<AccessGrant>>;

    async fn failure_policy(&self, org: OrgId) -> StoreResult<FailurePolicy>;
    async fn set_failure_policy(&self, org: OrgId, policy: FailurePolicy) -> StoreResult<()>;

    /// What the pipeline needs to receive or deliver an instance's events.
    async fn event_target(&self, id: InstanceId) -> StoreResult<Option<EventTarget>>;
    /// Stores an event, its sequence numbers and its notifications in one transaction, and
    /// wakes delivery workers after the commit.
    async fn record_event(&self, event: &NewEvent) -> StoreResult<Recorded>;
    /// Resolves when deliveries may have become due (new work, here or on another node).
    async fn delivery_wakeup(&self);

    async fn list_events(&self, org: OrgId, instance: InstanceId, query: &EventQuery) -> StoreResult<Vec<EventRecord>>;
    async fn get_event(&self, org: OrgId, instance: InstanceId, id: EventId) -> StoreResult<Option<EventRecord>>;
    /// The event's deliveries with every attempt, oldest first.
    async fn event_deliveries(&self, org: OrgId, instance: InstanceId, id: EventId)
    -> StoreResult<Vec<DeliveryRecord>>;
    /// Adds deliveries to an existing event (a replay); false if it is not the organization's.
    async fn add_deliveries(
        &self,
        org: OrgId,
        instance: InstanceId,
        event: EventId,
        deliveries: &[NewDelivery],
        now: Timestamp,
    ) -> StoreResult<bool>;
    async fn list_deliveries(
        &self,
        org: OrgId,
        instance: InstanceId,
        status: DeliveryStatus,
        limit: u32,
    ) -> StoreResult<Vec<DeliveryRecord>>;
    /// Makes the instance's queued deliveries pending again; returns how many.
    async fn release_queued(&self, org: OrgId, instance: InstanceId, now: Timestamp) -> StoreResult<u64>;
    /// Turns the subscription on or off; false if the instance is not the organization's.
    async fn set_subscription(
        &self,
        org: OrgId,
        instance: InstanceId,
        active: bool,
        note: Option<&str>,
        now: Timestamp,
    ) -> StoreResult<bool>;

    /// Takes up to `limit` due deliveries (or ones whose lease ran out) for `owner`.
    async fn claim_deliveries(
        &self,
        owner: &str,
        now: Timestamp,
        lease_until: Timestamp,
        limit: u32,
    ) -> StoreResult<Vec<ClaimedDelivery>>;
    /// When the next delivery becomes due or a lease runs out.
    async fn next_delivery_at(&self) -> StoreResult<Option<Timestamp>>;
    /// Records an attempt and moves the delivery (and its event) on, atomically.
    async fn finish_delivery(&self, outcome: &DeliveryOutcome) -> StoreResult<()>;
    /// Deliveries waiting to be sent or in flight, across all instances.
    async fn delivery_backlog(&self) -> StoreResult<u64>;

    /// The Standard Webhooks secrets that sign now: the current one and any rotated out
    /// less than their grace period ago.
    async fn signing_secrets(&self, instance: InstanceId, now: Timestamp) -> StoreResult<Vec<Sealed>>;
    /// Adds a new current secret; the others stop signing at `retire_at`.
    async fn rotate_signing_secret(
        &self,
        org: OrgId,
        instance: InstanceId,
        secret: &Sealed,
        now: Timestamp,
        retire_at: Timestamp,
    ) -> StoreResult<bool>;

    /// Deletes events received before `before` whose notifications are settled (delivered,
    /// failed or none: not pending, in flight, queued or held), at most `limit` of them;
    /// returns how many.
    async fn prune_events(&self, before: Timestamp, limit: u32) -> StoreResult<u64>;

    /// Takes up to `limit` instances whose poll is due (enabled, not paused) for `owner`.
    async fn claim_polls(
        &self,
        owner: &str,
        now: Timestamp,
        lease_until: Timestamp,
        limit: u32,
    ) -> StoreResult<Vec<PollClaim>>;
    /// When the next poll is due.
    async fn next_poll_at(&self) -> StoreResult<Option<Timestamp>>;
    /// What the previous polls saw of a resource.
    async fn known_objects(
        &self,
        instance: InstanceId,
        resource: &str,
    ) -> StoreResult<std::collections::HashMap<String, KnownObject>>;
    /// Stores a poll's events, object changes and schedule in one transaction, if the lease
    /// is still `owner`'s; false (and nothing written) otherwise.
    async fn commit_poll(&self, commit: &PollCommit) -> StoreResult<bool>;
    /// Records a failed poll and when to try again; `pause` stops polling until the
    /// instance is re-authenticated.
    async fn fail_poll(
        &self,
        instance: InstanceId,
        owner: &str,
        error: &str,
        next_poll_at: Timestamp,
        pause: bool,
    ) -> StoreResult<()>;
    async fn poll_status(&self, org: OrgId, instance: InstanceId) -> StoreResult<Option<PollStatus>>;
}

/// The current time at the precision the store keeps (milliseconds), so that a value read
/// back equals the value written.
pub fn now() -> Timestamp {
    from_millis(to_millis(Utc::now())).expect("the current time is representable")
}

/// How long until `at`; zero once it has passed.
pub fn until(at: Timestamp) -> std::time::Duration {
    (at - now()).to_std().unwrap_or_default()
}

/// Milliseconds since the epoch, the storage form of every timestamp.
pub(crate) fn to_millis(t: Timestamp) -> i64 {
    t.timestamp_millis()
}

pub(crate) fn from_millis(ms: i64) -> StoreResult<Timestamp> {
    DateTime::from_timestamp_millis(ms).ok_or_else(|| StoreError::Corrupt(format!("timestamp {ms}")))
}

#[cfg(test)]
mod tests {
    use super::{is_unavailable_code, now, until};

    #[test]
    fn until_counts_down_and_stops_at_zero() {
        assert_eq!(until(now() - chrono::Duration::seconds(1)), std::time::Duration::ZERO);
        let left = until(now() + chrono::Duration::seconds(10));
        assert!(left > std::time::Duration::from_secs(9) && left <= std::time::Duration::from_secs(10));
    }

    #[test]
    fn sqlite_extended_codes_count_by_their_family() {
        for code in ["5", "517", "8", "1032", "10", "778", "3338", "13", "14"] {
            assert!(is_unavailable_code(true, Some(code)), "{code}");
        }
        for code in ["19", "2067", "1", "787"] {
            assert!(!is_unavailable_code(true, Some(code)), "{code}");
        }
    }

    #[test]
    fn postgres_codes_count_by_their_class() {
        for code in ["08006", "08001", "53100", "53300", "57P01"] {
            assert!(is_unavailable_code(false, Some(code)), "{code}");
        }
        for code in ["23505", "22P02", "40001"] {
            assert!(!is_unavailable_code(false, Some(code)), "{code}");
        }
        assert!(!is_unavailable_code(false, None));
    }
}
