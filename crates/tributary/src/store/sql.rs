//! The [`Store`] implementation shared by SQLite and PostgreSQL.
//!
//! Both engines accept the same SQL for everything the store does (`$n` placeholders,
//! `ON CONFLICT`, `RETURNING`, integer timestamps), so the statements are written once here
//! over a generic sqlx backend. What differs lives in the [`Dialect`] each backend module
//! implements. The writes on the hot path (events arriving, deliveries finishing, and on
//! SQLite deliveries claimed) go through a group-commit writer ([`Writes`]), so many share
//! one transaction.

use std::{collections::HashMap, marker::PhantomData, sync::Arc};

use async_trait::async_trait;
use sqlx::{ColumnIndex, Database, Decode, Encode, Executor, IntoArguments, Pool, Row, Type};
use tokio::sync::{Notify, mpsc, oneshot};

use super::{
    AccessGrant, AttemptRecord, ClaimedDelivery, ConfigEntry, DeliveryOutcome, DeliveryRecord, DeliveryStart,
    DeliveryStatus, EventQuery, EventRecord, EventSource, EventStatus, EventTarget, FailurePolicy, Grant,
    InstanceCaller, InstanceChange, InstanceQuery, InstanceRecord, KnownObject, NewAttempt, NewDelivery, NewEvent,
    NewInstance, NewOrganization, NewUser, NextStep, ObjectChange, Organization, PollClaim, PollCommit, PollStatus,
    Recorded, RefreshClaim, Store, StoreError, StoreResult, StoredValue, Timestamp, User, from_millis, to_millis,
};
use crate::{
    crypto::{CredentialHash, Sealed},
    ids::{ConfigEntryId, EventId, InstanceId, OrgId, UserId},
    instances::configuration::CALLBACK_URL,
};

/// What differs between the SQL backends.
pub trait Dialect: Database {
    /// Opens a transaction that will write. SQLite must take its write lock up front
    /// (`BEGIN IMMEDIATE`): a deferred transaction that reads first can fail to upgrade.
    const BEGIN_WRITE: &'static str;
    /// Takes due pending deliveries in order: `$1` owner, `$2` lease end, `$3` now, `$4`
    /// limit. PostgreSQL skips rows other nodes are claiming; SQLite's single writer makes the
    /// statement atomic.
    const CLAIM_DELIVERIES: &'static str;
    /// Run after deliveries are added, so other nodes wake (none for a single-process engine).
    const ANNOUNCE_DELIVERIES: Option<&'static str>;
    /// Whether delivery claims join the group commit. They do where there is one writer
    /// connection: a claim of its own would hold it and pay a commit of its own while the
    /// batch waits. With a pool, a claim runs beside the batch on another connection.
    const CLAIMS_IN_GROUP_COMMIT: bool;
    /// Takes due polls: `$1` owner, `$2` lease end, `$3` now, `$4` limit.
    const CLAIM_POLLS: &'static str;
    /// Taken first by a transaction that may hold deliveries of instance `$1`, shared with
    /// others doing the same (see `Writes::share_holds`); none where transactions run one
    /// at a time (SQLite's single writer).
    const SHARE_HOLDS: Option<&'static str>;
    /// Taken first by a configuration change of instance `$1`, which releases what is held:
    /// alone, so it waits for the transactions sharing it, and they for it.
    const LOCK_HOLDS: Option<&'static str>;

    fn rows_affected(result: &Self::QueryResult) -> u64;

    /// The `n`th (from 1) placeholder of a statement whose placeholders all come from here,
    /// in the order they are bound.
    fn placeholder(n: usize) -> String;
}

/// A store over one sqlx backend. SQLite writes through a single-connection pool so writers
/// queue in the hub instead of spinning on the database lock; PostgreSQL uses one pool.
pub struct SqlStore<DB: Database> {
    pub(super) reader: Pool<DB>,
    pub(super) writer: Pool<DB>,
    /// Signalled when deliveries are added here (and, on PostgreSQL, anywhere).
    pub(super) wake: Arc<Notify>,
    /// The group-commit writer's queue.
    jobs: mpsc::Sender<Job>,
}

/// Typed column access for any backend's rows; keeps the row decoding below free of
/// backend bounds.
pub(super) trait Columns {
    fn int(&self, column: &str) -> StoreResult<i64>;
    fn opt_int(&self, column: &str) -> StoreResult<Option<i64>>;
    fn text(&self, column: &str) -> StoreResult<String>;
    fn opt_text(&self, column: &str) -> StoreResult<Option<String>>;
    fn bytes(&self, column: &str) -> StoreResult<Vec<u8>>;
    fn opt_bytes(&self, column: &str) -> StoreResult<Option<Vec<u8>>>;
    fn flag(&self, column: &str) -> StoreResult<bool>;

    fn time(&self, column: &str) -> StoreResult<Timestamp> {
        from_millis(self.int(column)?)
    }
    fn opt_time(&self, column: &str) -> StoreResult<Option<Timestamp>> {
        self.opt_int(column)?.map(from_millis).transpose()
    }
    fn sealed(&self, column: &str) -> StoreResult<Sealed> {
        self.bytes(column).map(Sealed::from_stored)
    }
    fn opt_sealed(&self, column: &str) -> StoreResult<Option<Sealed>> {
        Ok(self.opt_bytes(column)?.map(Sealed::from_stored))
    }
}

impl<R> Columns for R
where
    R: Row,
    for<'a> &'a str: ColumnIndex<R>,
    for<'r> i64: Decode<'r, R::Database> + Type<R::Database>,
    for<'r> String: Decode<'r, R::Database> + Type<R::Database>,
    for<'r> Vec<u8>: Decode<'r, R::Database> + Type<R::Database>,
    for<'r> bool: Decode<'r, R::Database> + Type<R::Database>,
{
    fn int(&self, column: &str) -> StoreResult<i64> {
        Ok(self.try_get(column)?)
    }
    fn opt_int(&self, column: &str) -> StoreResult<Option<i64>> {
        Ok(self.try_get(column)?)
    }
    fn text(&self, column: &str) -> StoreResult<String> {
        Ok(self.try_get(column)?)
    }
    fn opt_text(&self, column: &str) -> StoreResult<Option<String>> {
        Ok(self.try_get(column)?)
    }
    fn bytes(&self, column: &str) -> StoreResult<Vec<u8>> {
        Ok(self.try_get(column)?)
    }
    fn opt_bytes(&self, column: &str) -> StoreResult<Option<Vec<u8>>> {
        Ok(self.try_get(column)?)
    }
    fn flag(&self, column: &str) -> StoreResult<bool> {
        Ok(self.try_get(column)?)
    }
}

fn user_from(row: &impl Columns, prefix: &str) -> StoreResult<User> {
    let col = |name: &str| format!("{prefix}{name}");
    Ok(User {
        id: UserId::from_stored(row.int(&col("id"))?),
        org: OrgId::from_stored(row.int(&col("org_id"))?),
        email: row.text(&col("email"))?,
        first_name: row.text(&col("first_name"))?,
        last_name: row.text(&col("last_name"))?,
        created_at: row.time(&col("created_at"))?,
    })
}

fn config_entry_from(row: &impl Columns) -> StoreResult<ConfigEntry> {
    let value = match (row.opt_text("value")?, row.opt_sealed("value_sealed")?) {
        (Some(plain), None) => Some(StoredValue::Plain(plain)),
        (None, Some(sealed)) => Some(StoredValue::Sealed(sealed)),
        (None, None) => None,
        (Some(_), Some(_)) => {
            return Err(StoreError::Corrupt("configuration entry both clear and sealed".into()));
        }
    };
    Ok(ConfigEntry {
        id: ConfigEntryId::from_stored(row.int("id")?),
        key: row.text("key")?,
        value,
    })
}

/// An instance row joined with its owner, before tags and configuration are attached.
fn instance_from(row: &impl Columns) -> StoreResult<InstanceRecord> {
    Ok(InstanceRecord {
        id: InstanceId::from_stored(row.int("id")?),
        org: OrgId::from_stored(row.int("org_id")?),
        user: user_from(row, "u_")?,
        element_key: row.text("element_key")?,
        name: row.text("name")?,
        tags: Vec::new(),
        token_sealed: row.sealed("token_sealed")?,
        valid: row.flag("valid")?,
        invalid_reason: row.opt_text("invalid_reason")?,
        disabled: row.flag("disabled")?,
        config: Vec::new(),
        identity: row.opt_text("identity")?,
        token_expires_at: row.opt_time("token_expires_at")?,
        token_refreshed_at: row.opt_time("token_refreshed_at")?,
        subscription_active: row.flag("subscription_active")?,
        subscription_note: row.opt_text("subscription_note")?,
        created_at: row.time("created_at")?,
        updated_at: row.time("updated_at")?,
    })
}

fn event_from(row: &impl Columns) -> StoreResult<EventRecord> {
    Ok(EventRecord {
        id: parse_id(&row.text("id")?)?,
        instance: InstanceId::from_stored(row.int("instance_id")?),
        source: parse_enum(&row.text("source")?, EventSource::parse)?,
        status: parse_enum(&row.text("status")?, EventStatus::parse)?,
        note: row.opt_text("note")?,
        received_at: row.time("received_at")?,
        updated_at: row.time("updated_at")?,
        raw: row.text("raw")?,
        normalized: row.text("normalized")?,
    })
}

fn delivery_from(row: &impl Columns) -> StoreResult<DeliveryRecord> {
    Ok(DeliveryRecord {
        id: parse_id(&row.text("id")?)?,
        event: parse_id(&row.text("event_id")?)?,
        status: parse_enum(&row.text("status")?, DeliveryStatus::parse)?,
        attempts: u32::try_from(row.int("attempts")?).map_err(|_| StoreError::Corrupt("attempts".into()))?,
        next_attempt_at: row.opt_time("next_attempt_at")?,
        created_at: row.time("created_at")?,
        updated_at: row.time("updated_at")?,
        payload: row.text("payload")?,
        attempt_log: Vec::new(),
    })
}

fn attempt_from(row: &impl Columns) -> StoreResult<AttemptRecord> {
    Ok(AttemptRecord {
        at: row.time("attempted_at")?,
        status_code: row
            .opt_int("status_code")?
            .map(|c| u16::try_from(c).map_err(|_| StoreError::Corrupt(format!("status code {c}"))))
            .transpose()?,
        latency_ms: u64::try_from(row.int("latency_ms")?).unwrap_or(0),
        error: row.opt_text("error")?,
        response_body: row.opt_text("response_body")?,
    })
}

fn millis(duration: std::time::Duration) -> i64 {
    i64::try_from(duration.as_millis()).unwrap_or(i64::MAX)
}

/// Id of a signing secret, a row nobody addresses from outside. (Attempts, written by the
/// thousand, take theirs from the database in order, which keeps their inserts on one page.)
fn row_id() -> i64 {
    rand::random_range(1..i64::MAX)
}

/// Rows one multi-row statement carries at most: far below the bound variables either
/// engine allows (SQLite 32 766, PostgreSQL 65 535) at the widest row written.
const ROWS_PER_STATEMENT: usize = 256;

/// `rows` groups of `width` placeholders, numbered from `first` where the dialect numbers
/// them: `($1, $2), ($3, $4)` on PostgreSQL, `(?, ?), (?, ?)` on SQLite.
fn value_rows<DB: Dialect>(first: usize, rows: usize, width: usize) -> String {
    (0..rows)
        .map(|row| {
            let start = first + row * width;
            format!("({})", placeholder_list::<DB>(start, width))
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// `count` placeholders, numbered from `first` where the dialect numbers them.
fn placeholder_list<DB: Dialect>(first: usize, count: usize) -> String {
    (first..first + count)
        .map(DB::placeholder)
        .collect::<Vec<_>>()
        .join(", ")
}

fn parse_id<T: std::str::FromStr>(text: &str) -> StoreResult<T> {
    text.parse().map_err(|_| StoreError::Corrupt(format!("id {text:?}")))
}

fn parse_enum<T>(text: &str, parse: fn(&str) -> Option<T>) -> StoreResult<T> {
    parse(text).ok_or_else(|| StoreError::Corrupt(format!("status {text:?}")))
}

/// Attaches attempts (rows with a `delivery_id`) to their deliveries.
fn attach_attempts(deliveries: &mut [DeliveryRecord], rows: &[impl Columns]) -> StoreResult<()> {
    let index: HashMap<String, usize> = deliveries
        .iter()
        .enumerate()
        .map(|(at, d)| (d.id.to_string(), at))
        .collect();
    for row in rows {
        if let Some(&at) = index.get(&row.text("delivery_id")?) {
            deliveries[at].attempt_log.push(attempt_from(row)?);
        }
    }
    Ok(())
}

fn split_value(value: &Option<StoredValue>) -> (Option<&str>, Option<&[u8]>) {
    match value {
        Some(StoredValue::Plain(text)) => (Some(text), None),
        Some(StoredValue::Sealed(sealed)) => (None, Some(sealed.as_bytes())),
        None => (None, None),
    }
}

/// The columns of an instance joined with its user (`u_`-prefixed).
macro_rules! instance_select {
    ($($tail:literal),*) => {
        concat!(
            "SELECT i.id, i.org_id, i.element_key, i.name, i.token_sealed, i.valid, ",
            "i.invalid_reason, i.disabled, i.identity, i.token_expires_at, i.token_refreshed_at, ",
            "i.subscription_active, i.subscription_note, i.created_at, i.updated_at, u.id AS u_id, u.org_id AS u_org_id, u.email AS u_email, ",
            "u.first_name AS u_first_name, u.last_name AS u_last_name, ",
            "u.created_at AS u_created_at FROM instances i JOIN users u ON u.id = i.user_id ",
            $($tail),*
        )
    };
}

const CONFIG_UPSERT: &str = "INSERT INTO instance_config (id, instance_id, key, value, value_sealed) \
     VALUES ($1, $2, $3, $4, $5) ON CONFLICT (instance_id, key) \
     DO UPDATE SET value = excluded.value, value_sealed = excluded.value_sealed";
const TAG_INSERT: &str = "INSERT INTO instance_tags (instance_id, position, tag) VALUES ($1, $2, $3)";
const SIGNING_SECRET_INSERT: &str = "INSERT INTO signing_secrets (id, instance_id, secret_sealed, created_at, expires_at) \
     VALUES ($1, $2, $3, $4, NULL)";
/// An event (`e`) as listed: its status and last change come from its deliveries, the one
/// record of where its notifications stand, so that sending them never rewrites the (large)
/// event row. Any failed → failed, any parked → queued, any waiting for a callback URL →
/// held, any attempted and still to go → dispatched, any not yet attempted → received, else
/// notified. Ignored and duplicate events have no deliveries and keep the status they were
/// stored with, as does an event whose deliveries are gone.
const EVENT_COLUMNS: &str = "e.id, e.instance_id, e.source, e.note, e.received_at, e.raw, e.normalized, \
     CASE WHEN e.status IN ('ignored', 'duplicate') THEN e.status ELSE COALESCE((SELECT CASE MAX(CASE d.status \
     WHEN 'failed' THEN 5 WHEN 'queued' THEN 4 WHEN 'held' THEN 3 WHEN 'inflight' THEN 2 \
     WHEN 'pending' THEN CASE WHEN d.attempts > 0 THEN 2 ELSE 1 END ELSE 0 END) \
     WHEN 5 THEN 'failed' WHEN 4 THEN 'queued' WHEN 3 THEN 'held' WHEN 2 THEN 'dispatched' \
     WHEN 1 THEN 'received' WHEN 0 THEN 'notified' END FROM deliveries d WHERE d.event_id = e.id), e.status) END AS status, \
     COALESCE((SELECT MAX(d.updated_at) FROM deliveries d WHERE d.event_id = e.id), e.updated_at) AS updated_at \
     FROM events e";
const POLL_SCHEDULE: &str = "INSERT INTO poll_states (instance_id, interval_ms, next_poll_at, failures) \
     VALUES ($1, $2, $3, 0) ON CONFLICT (instance_id) DO UPDATE SET interval_ms = excluded.interval_ms";
/// Makes the held deliveries of those of `instances` that have a callback URL pending, due
/// at once; the statement's placeholders are bound as now, now, the instances, the key. By
/// instance id alone: it runs after the instance was found to be the organization's (a
/// configuration change), or for the pipeline, which addresses instances by id.
pub(super) fn release_held<DB: Dialect>(instances: usize) -> String {
    let p = DB::placeholder;
    format!(
        "UPDATE deliveries SET status = 'pending', next_attempt_at = {}, updated_at = {} WHERE status = 'held' \
         AND instance_id IN ({}) AND EXISTS (SELECT 1 FROM instance_config c WHERE c.instance_id = deliveries.instance_id \
         AND c.key = {} AND c.value IS NOT NULL)",
        p(1),
        p(2),
        placeholder_list::<DB>(3, instances),
        p(3 + instances)
    )
}

/// Moves up to `$4` of an instance's queued deliveries back to pending, due at `$3`.
pub(super) const RELEASE_QUEUED: &str = "UPDATE deliveries SET status = 'pending', next_attempt_at = $3, \
     updated_at = $3 WHERE id IN (SELECT id FROM deliveries WHERE org_id = $1 AND instance_id = $2 \
     AND status = 'queued' LIMIT $4)";

/// The statements listing an instance's (`$2` of org `$1`) deliveries in one status, oldest
/// first (at most `$3`), and then their attempts. The status is written into the statements,
/// not bound: only a literal lets either engine's planner pick the partial index of a parked
/// status. It comes from a closed enum, never from a caller's text.
pub(super) fn delivery_listing(status: DeliveryStatus) -> [String; 2] {
    let status = status.as_str();
    [
        format!(
            "SELECT {DELIVERY_COLUMNS} WHERE d.org_id = $1 AND d.instance_id = $2 AND d.status = '{status}' \
             ORDER BY d.created_at, d.id LIMIT $3"
        ),
        format!(
            "SELECT a.delivery_id, a.attempted_at, a.status_code, a.latency_ms, a.error, a.response_body \
             FROM delivery_attempts a JOIN deliveries d ON d.id = a.delivery_id \
             WHERE d.org_id = $1 AND d.instance_id = $2 AND d.status = '{status}' ORDER BY a.attempted_at, a.id"
        ),
    ]
}

/// A delivery with its body, for listings: `d` is the delivery, `p` its payload.
const DELIVERY_COLUMNS: &str = "d.id, d.event_id, d.status, d.attempts, d.next_attempt_at, d.created_at, d.updated_at, \
     p.payload FROM deliveries d JOIN delivery_payloads p ON p.delivery_id = d.id";

#[async_trait]
impl<DB> Store for SqlStore<DB>
where
    DB: Dialect,
    for<'c> &'c mut DB::Connection: Executor<'c, Database = DB>,
    DB::Arguments: IntoArguments<DB>,
    DB::Row: Columns,
    for<'e> i64: Encode<'e, DB> + Type<DB>,
    for<'e> Option<i64>: Encode<'e, DB> + Type<DB>,
    for<'e> bool: Encode<'e, DB> + Type<DB>,
    for<'e> Option<bool>: Encode<'e, DB> + Type<DB>,
    for<'e> &'e str: Encode<'e, DB> + Type<DB>,
    for<'e> Option<&'e str>: Encode<'e, DB> + Type<DB>,
    for<'e> &'e [u8]: Encode<'e, DB> + Type<DB>,
    for<'e> Option<&'e [u8]>: Encode<'e, DB> + Type<DB>,
    for<'e> String: Encode<'e, DB> + Type<DB>,
{
    async fn ping(&self) -> StoreResult<()> {
        sqlx::query("SELECT 1").execute(&self.reader).await?;
        Ok(())
    }

    async fn create_organization(&self, new: &NewOrganization) -> StoreResult<()> {
        sqlx::query("INSERT INTO organizations (id, name, secret_hash, created_at) VALUES ($1, $2, $3, $4)")
            .bind(new.org.id.get())
            .bind(new.org.name.as_str())
            .bind(new.secret.as_bytes())
            .bind(to_millis(new.org.created_at))
            .execute(&self.writer)
            .await?;
        Ok(())
    }

    async fn create_user(&self, new: &NewUser) -> StoreResult<()> {
        let user = &new.user;
        sqlx::query(
            "INSERT INTO users (id, org_id, email, first_name, last_name, secret_hash, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(user.id.get())
        .bind(user.org.get())
        .bind(user.email.as_str())
        .bind(user.first_name.as_str())
        .bind(user.last_name.as_str())
        .bind(new.secret.as_bytes())
        .bind(to_millis(user.created_at))
        .execute(&self.writer)
        .await?;
        Ok(())
    }

    async fn list_organizations(&self) -> StoreResult<Vec<Organization>> {
        let rows = sqlx::query("SELECT id, name, created_at FROM organizations ORDER BY created_at, id")
            .fetch_all(&self.reader)
            .await?;
        rows.iter()
            .map(|row| {
                Ok(Organization {
                    id: OrgId::from_stored(row.int("id")?),
                    name: row.text("name")?,
                    created_at: row.time("created_at")?,
                })
            })
            .collect()
    }

    async fn list_users(&self, org: OrgId) -> StoreResult<Vec<User>> {
        let rows = sqlx::query(
            "SELECT id, org_id, email, first_name, last_name, created_at FROM users \
             WHERE org_id = $1 ORDER BY created_at, id",
        )
        .bind(org.get())
        .fetch_all(&self.reader)
        .await?;
        rows.iter().map(|row| user_from(row, "")).collect()
    }

    async fn set_organization_secret(&self, org: OrgId, secret: &CredentialHash) -> StoreResult<bool> {
        let result = sqlx::query("UPDATE organizations SET secret_hash = $2 WHERE id = $1")
            .bind(org.get())
            .bind(secret.as_bytes())
            .execute(&self.writer)
            .await?;
        Ok(DB::rows_affected(&result) == 1)
    }

    async fn set_user_secret(&self, org: OrgId, user: UserId, secret: &CredentialHash) -> StoreResult<bool> {
        let result = sqlx::query("UPDATE users SET secret_hash = $3 WHERE org_id = $1 AND id = $2")
            .bind(org.get())
            .bind(user.get())
            .bind(secret.as_bytes())
            .execute(&self.writer)
            .await?;
        Ok(DB::rows_affected(&result) == 1)
    }

    async fn find_platform_caller(
        &self,
        user_secret: &CredentialHash,
        org_secret: &CredentialHash,
    ) -> StoreResult<Option<User>> {
        let row = sqlx::query(
            "SELECT u.id, u.org_id, u.email, u.first_name, u.last_name, u.created_at \
             FROM users u JOIN organizations o ON o.id = u.org_id \
             WHERE u.secret_hash = $1 AND o.secret_hash = $2",
        )
        .bind(user_secret.as_bytes())
        .bind(org_secret.as_bytes())
        .fetch_optional(&self.reader)
        .await?;
        row.map(|row| user_from(&row, "")).transpose()
    }

    async fn find_instance_caller(
        &self,
        user_secret: &CredentialHash,
        token: &CredentialHash,
    ) -> StoreResult<Option<InstanceCaller>> {
        let row = sqlx::query(
            "SELECT u.id, u.org_id, u.email, u.first_name, u.last_name, u.created_at, \
             i.id AS instance_id, i.disabled FROM users u JOIN instances i ON i.org_id = u.org_id \
             WHERE u.secret_hash = $1 AND i.token_hash = $2",
        )
        .bind(user_secret.as_bytes())
        .bind(token.as_bytes())
        .fetch_optional(&self.reader)
        .await?;
        row.map(|row| {
            Ok(InstanceCaller {
                user: user_from(&row, "")?,
                instance: InstanceId::from_stored(row.int("instance_id")?),
                disabled: row.flag("disabled")?,
            })
        })
        .transpose()
    }

    async fn insert_instance(&self, new: &NewInstance) -> StoreResult<()> {
        let mut tx = self.writer.begin_with(DB::BEGIN_WRITE).await?;
        let grant = &new.grant;
        sqlx::query(
            "INSERT INTO instances (id, org_id, user_id, element_key, name, token_hash, token_sealed, \
             valid, invalid_reason, disabled, identity, access_token_sealed, refresh_token_sealed, \
             token_expires_at, token_refreshed_at, refresh_due_at, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, TRUE, NULL, FALSE, $8, $9, $10, $11, $12, $13, $12, $12)",
        )
        .bind(new.id.get())
        .bind(new.org.get())
        .bind(new.user.get())
        .bind(new.element_key.as_str())
        .bind(new.name.as_str())
        .bind(new.token.as_bytes())
        .bind(new.token_sealed.as_bytes())
        .bind(grant.identity.as_deref())
        .bind(grant.access_token.as_bytes())
        .bind(grant.refresh_token.as_ref().map(Sealed::as_bytes))
        .bind(grant.expires_at.map(to_millis))
        .bind(to_millis(new.created_at))
        .bind(grant.refresh_due_at.map(to_millis))
        .execute(&mut *tx)
        .await?;
        for (position, tag) in new.tags.iter().enumerate() {
            sqlx::query(TAG_INSERT)
                .bind(new.id.get())
                .bind(position as i64)
                .bind(tag.as_str())
                .execute(&mut *tx)
                .await?;
        }
        for entry in &new.config {
            let (plain, sealed) = split_value(&entry.value);
            sqlx::query(CONFIG_UPSERT)
                .bind(entry.id.get())
                .bind(new.id.get())
                .bind(entry.key.as_str())
                .bind(plain)
                .bind(sealed)
                .execute(&mut *tx)
                .await?;
        }
        sqlx::query(SIGNING_SECRET_INSERT)
            .bind(row_id())
            .bind(new.id.get())
            .bind(new.signing_secret.as_bytes())
            .bind(to_millis(new.created_at))
            .execute(&mut *tx)
            .await?;
        if let Some(interval) = new.polling {
            sqlx::query(POLL_SCHEDULE)
                .bind(new.id.get())
                .bind(millis(interval))
                .bind(to_millis(new.created_at))
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    async fn get_instance(&self, org: OrgId, id: InstanceId) -> StoreResult<Option<InstanceRecord>> {
        let Some(row) = sqlx::query(instance_select!("WHERE i.org_id = $1 AND i.id = $2"))
            .bind(org.get())
            .bind(id.get())
            .fetch_optional(&self.reader)
            .await?
        else {
            return Ok(None);
        };
        let mut instance = instance_from(&row)?;
        let config = sqlx::query(
            "SELECT c.id, c.key, c.value, c.value_sealed FROM instance_config c \
             JOIN instances i ON i.id = c.instance_id \
             WHERE i.org_id = $1 AND c.instance_id = $2 ORDER BY c.key",
        )
        .bind(org.get())
        .bind(id.get())
        .fetch_all(&self.reader)
        .await?;
        instance.config = config.iter().map(config_entry_from).collect::<StoreResult<_>>()?;
        let tags = sqlx::query(
            "SELECT t.tag FROM instance_tags t JOIN instances i ON i.id = t.instance_id \
             WHERE i.org_id = $1 AND t.instance_id = $2 ORDER BY t.position",
        )
        .bind(org.get())
        .bind(id.get())
        .fetch_all(&self.reader)
        .await?;
        instance.tags = tags.iter().map(|row| row.text("tag")).collect::<StoreResult<_>>()?;
        Ok(Some(instance))
    }

    async fn list_instances(&self, org: OrgId, query: &InstanceQuery) -> StoreResult<Vec<InstanceRecord>> {
        // Placeholders in the order they are bound: each condition is written only when it
        // applies, so SQLite's anonymous ones line up.
        let mut n = 0;
        let mut next = || {
            n += 1;
            DB::placeholder(n)
        };
        let mut sql = format!("{} WHERE i.org_id = {}", instance_select!(), next());
        if query.only.is_some() {
            sql += &format!(" AND i.id = {}", next());
        }
        if query.after.is_some() {
            sql += &format!(
                " AND (i.created_at > {} OR (i.created_at = {} AND i.id > {}))",
                next(),
                next(),
                next()
            );
        }
        for _ in &query.tags {
            sql += &format!(
                " AND EXISTS (SELECT 1 FROM instance_tags t WHERE t.instance_id = i.id AND t.tag = {})",
                next()
            );
        }
        sql += &format!(" ORDER BY i.created_at, i.id LIMIT {}", next());
        let mut listing = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(org.get());
        if let Some(only) = query.only {
            listing = listing.bind(only.get());
        }
        if let Some((created, id)) = query.after {
            listing = listing.bind(to_millis(created)).bind(to_millis(created)).bind(id.get());
        }
        for tag in &query.tags {
            listing = listing.bind(tag.as_str());
        }
        let rows = listing.bind(i64::from(query.limit)).fetch_all(&self.reader).await?;
        let mut instances = rows.iter().map(instance_from).collect::<StoreResult<Vec<_>>>()?;
        if instances.is_empty() {
            return Ok(instances);
        }
        let index: HashMap<i64, usize> = instances.iter().enumerate().map(|(at, i)| (i.id.get(), at)).collect();
        let ids = placeholder_list::<DB>(2, instances.len());
        let [config, tags] = [
            format!(
                "SELECT c.instance_id, c.id, c.key, c.value, c.value_sealed FROM instance_config c \
                 JOIN instances i ON i.id = c.instance_id WHERE i.org_id = {} AND c.instance_id IN ({ids}) ORDER BY c.key",
                DB::placeholder(1)
            ),
            format!(
                "SELECT t.instance_id, t.tag FROM instance_tags t JOIN instances i ON i.id = t.instance_id \
                 WHERE i.org_id = {} AND t.instance_id IN ({ids}) ORDER BY t.position",
                DB::placeholder(1)
            ),
        ]
        .map(|sql| {
            instances
                .iter()
                .fold(sqlx::query(sqlx::AssertSqlSafe(sql)).bind(org.get()), |query, i| {
                    query.bind(i.id.get())
                })
        });
        for row in &config.fetch_all(&self.reader).await? {
            if let Some(&at) = index.get(&row.int("instance_id")?) {
                instances[at].config.push(config_entry_from(row)?);
            }
        }
        for row in &tags.fetch_all(&self.reader).await? {
            if let Some(&at) = index.get(&row.int("instance_id")?) {
                instances[at].tags.push(row.text("tag")?);
            }
        }
        Ok(instances)
    }

    async fn update_instance(
        &self,
        org: OrgId,
        id: InstanceId,
        change: &InstanceChange,
        now: Timestamp,
    ) -> StoreResult<bool> {
        let mut tx = self.writer.begin_with(DB::BEGIN_WRITE).await?;
        if !change.config.is_empty()
            && let Some(lock) = DB::LOCK_HOLDS
        {
            sqlx::query(lock).bind(id.get()).execute(&mut *tx).await?;
        }
        let updated = sqlx::query(
            "UPDATE instances SET updated_at = $3, name = COALESCE($4, name), \
             disabled = COALESCE($5, disabled) WHERE org_id = $1 AND id = $2",
        )
        .bind(org.get())
        .bind(id.get())
        .bind(to_millis(now))
        .bind(change.name.as_deref())
        .bind(change.disabled)
        .execute(&mut *tx)
        .await?;
        if DB::rows_affected(&updated) == 0 {
            return Ok(false);
        }
        if let Some(tags) = &change.tags {
            sqlx::query("DELETE FROM instance_tags WHERE instance_id = $1")
                .bind(id.get())
                .execute(&mut *tx)
                .await?;
            for (position, tag) in tags.iter().enumerate() {
                sqlx::query(TAG_INSERT)
                    .bind(id.get())
                    .bind(position as i64)
                    .bind(tag.as_str())
                    .execute(&mut *tx)
                    .await?;
            }
        }
        for entry in &change.config {
            let (plain, sealed) = split_value(&entry.value);
            sqlx::query(CONFIG_UPSERT)
                .bind(entry.id.get())
                .bind(id.get())
                .bind(entry.key.as_str())
                .bind(plain)
                .bind(sealed)
                .execute(&mut *tx)
                .await?;
        }
        // In the same transaction as the configuration, so that a crash cannot leave a
        // callback URL set and notifications still waiting for one. A concurrent write of
        // held deliveries (see `Writes::share_holds`) either committed before the lock taken
        // above, and is released here, or waits for this commit and then sees the URL.
        let released = if change.config.is_empty() {
            0
        } else {
            Writes::<DB>::release_held(&mut tx, &[id], now).await?
        };
        if let Some(grant) = &change.grant {
            sqlx::query(
                "UPDATE instances SET valid = TRUE, invalid_reason = NULL, access_token_sealed = $2, \
                 refresh_token_sealed = $3, token_expires_at = $4, refresh_due_at = $5, \
                 identity = COALESCE($6, identity), token_refreshed_at = $7, \
                 refresh_lease_owner = NULL, refresh_lease_until = NULL WHERE id = $1",
            )
            .bind(id.get())
            .bind(grant.access_token.as_bytes())
            .bind(grant.refresh_token.as_ref().map(Sealed::as_bytes))
            .bind(grant.expires_at.map(to_millis))
            .bind(grant.refresh_due_at.map(to_millis))
            .bind(grant.identity.as_deref())
            .bind(to_millis(now))
            .execute(&mut *tx)
            .await?;
            // A paused poller resumes with the new grant.
            sqlx::query(
                "UPDATE poll_states SET paused_reason = NULL, failures = 0, last_error = NULL, next_poll_at = $2 \
                 WHERE instance_id = $1 AND paused_reason IS NOT NULL",
            )
            .bind(id.get())
            .bind(to_millis(now))
            .execute(&mut *tx)
            .await?;
        }
        match change.polling {
            Some(Some(interval)) => {
                sqlx::query(POLL_SCHEDULE)
                    .bind(id.get())
                    .bind(millis(interval))
                    .bind(to_millis(now))
                    .execute(&mut *tx)
                    .await?;
            }
            Some(None) => {
                // Stopped polling forgets what it saw: when it starts again, it starts afresh.
                for statement in [
                    "DELETE FROM poll_states WHERE instance_id = $1",
                    "DELETE FROM poll_objects WHERE instance_id = $1",
                ] {
                    sqlx::query(statement).bind(id.get()).execute(&mut *tx).await?;
                }
            }
            None => {}
        }
        tx.commit().await?;
        if released > 0 {
            self.wake.notify_one();
            Writes::<DB>::announce(&self.writer).await;
        }
        Ok(true)
    }

    async fn delete_instance(&self, org: OrgId, id: InstanceId) -> StoreResult<bool> {
        let deleted = sqlx::query("DELETE FROM instances WHERE org_id = $1 AND id = $2")
            .bind(org.get())
            .bind(id.get())
            .execute(&self.writer)
            .await?;
        Ok(DB::rows_affected(&deleted) > 0)
    }

    async fn tokens_due(&self, now: Timestamp, limit: u32) -> StoreResult<Vec<InstanceId>> {
        let rows = sqlx::query(
            "SELECT id FROM instances WHERE valid AND refresh_due_at IS NOT NULL AND refresh_due_at <= $1 \
             AND (refresh_lease_until IS NULL OR refresh_lease_until < $1) ORDER BY refresh_due_at LIMIT $2",
        )
        .bind(to_millis(now))
        .bind(i64::from(limit))
        .fetch_all(&self.reader)
        .await?;
        rows.iter()
            .map(|row| Ok(InstanceId::from_stored(row.int("id")?)))
            .collect()
    }

    async fn claim_refresh(
        &self,
        id: InstanceId,
        owner: &str,
        now: Timestamp,
        lease_until: Timestamp,
    ) -> StoreResult<Option<RefreshClaim>> {
        let Some(row) = sqlx::query(
            "UPDATE instances SET refresh_lease_owner = $2, refresh_lease_until = $3 \
             WHERE id = $1 AND valid AND (refresh_lease_until IS NULL OR refresh_lease_until < $4) \
             RETURNING element_key, refresh_token_sealed",
        )
        .bind(id.get())
        .bind(owner)
        .bind(to_millis(lease_until))
        .bind(to_millis(now))
        .fetch_optional(&self.writer)
        .await?
        else {
            return Ok(None);
        };
        let config = sqlx::query("SELECT id, key, value, value_sealed FROM instance_config WHERE instance_id = $1")
            .bind(id.get())
            .fetch_all(&self.reader)
            .await?;
        Ok(Some(RefreshClaim {
            instance: id,
            element_key: row.text("element_key")?,
            refresh_token: row.opt_sealed("refresh_token_sealed")?,
            config: config.iter().map(config_entry_from).collect::<StoreResult<_>>()?,
        }))
    }

    async fn complete_refresh(&self, id: InstanceId, owner: &str, grant: &Grant, now: Timestamp) -> StoreResult<()> {
        sqlx::query(
            "UPDATE instances SET access_token_sealed = $3, refresh_token_sealed = $4, \
             token_expires_at = $5, refresh_due_at = $6, identity = COALESCE($7, identity), \
             token_refreshed_at = $8, \
             refresh_lease_until = CASE WHEN refresh_lease_owner = $2 THEN NULL ELSE refresh_lease_until END, \
             refresh_lease_owner = CASE WHEN refresh_lease_owner = $2 THEN NULL ELSE refresh_lease_owner END \
             WHERE id = $1",
        )
        .bind(id.get())
        .bind(owner)
        .bind(grant.access_token.as_bytes())
        .bind(grant.refresh_token.as_ref().map(Sealed::as_bytes))
        .bind(grant.expires_at.map(to_millis))
        .bind(grant.refresh_due_at.map(to_millis))
        .bind(grant.identity.as_deref())
        .bind(to_millis(now))
        .execute(&self.writer)
        .await?;
        Ok(())
    }

    async fn fail_refresh(&self, id: InstanceId, owner: &str, reason: &str, now: Timestamp) -> StoreResult<bool> {
        let updated = sqlx::query(
            "UPDATE instances SET valid = FALSE, invalid_reason = $3, refresh_due_at = NULL, \
             refresh_lease_owner = NULL, refresh_lease_until = NULL, updated_at = $4 \
             WHERE id = $1 AND refresh_lease_owner = $2",
        )
        .bind(id.get())
        .bind(owner)
        .bind(reason)
        .bind(to_millis(now))
        .execute(&self.writer)
        .await?;
        Ok(DB::rows_affected(&updated) > 0)
    }

    async fn release_refresh(&self, id: InstanceId, owner: &str, retry_at: Timestamp) -> StoreResult<()> {
        sqlx::query(
            "UPDATE instances SET refresh_due_at = $3, refresh_lease_owner = NULL, refresh_lease_until = NULL \
             WHERE id = $1 AND refresh_lease_owner = $2",
        )
        .bind(id.get())
        .bind(owner)
        .bind(to_millis(retry_at))
        .execute(&self.writer)
        .await?;
        Ok(())
    }

    async fn access_grant(&self, id: InstanceId) -> StoreResult<Option<AccessGrant>> {
        let row = sqlx::query(
            "SELECT element_key, access_token_sealed, token_expires_at, valid FROM instances WHERE id = $1",
        )
        .bind(id.get())
        .fetch_optional(&self.reader)
        .await?;
        row.map(|row| {
            Ok(AccessGrant {
                instance: id,
                element_key: row.text("element_key")?,
                access_token: row.sealed("access_token_sealed")?,
                expires_at: row.opt_time("token_expires_at")?,
                valid: row.flag("valid")?,
            })
        })
        .transpose()
    }

    async fn failure_policy(&self, org: OrgId) -> StoreResult<FailurePolicy> {
        let row = sqlx::query("SELECT failure_policy FROM organizations WHERE id = $1")
            .bind(org.get())
            .fetch_one(&self.reader)
            .await?;
        parse_enum(&row.text("failure_policy")?, FailurePolicy::parse)
    }

    async fn set_failure_policy(&self, org: OrgId, policy: FailurePolicy) -> StoreResult<()> {
        sqlx::query("UPDATE organizations SET failure_policy = $2 WHERE id = $1")
            .bind(org.get())
            .bind(policy.as_str())
            .execute(&self.writer)
            .await?;
        Ok(())
    }

    async fn event_target(&self, id: InstanceId) -> StoreResult<Option<EventTarget>> {
        let Some(row) = sqlx::query(
            "SELECT i.org_id, i.user_id, i.element_key, i.name, i.disabled, i.subscription_active, i.identity, \
             o.failure_policy FROM instances i JOIN organizations o ON o.id = i.org_id WHERE i.id = $1",
        )
        .bind(id.get())
        .fetch_optional(&self.reader)
        .await?
        else {
            return Ok(None);
        };
        let config = sqlx::query("SELECT id, key, value, value_sealed FROM instance_config WHERE instance_id = $1")
            .bind(id.get())
            .fetch_all(&self.reader)
            .await?;
        let tags = sqlx::query("SELECT tag FROM instance_tags WHERE instance_id = $1 ORDER BY position")
            .bind(id.get())
            .fetch_all(&self.reader)
            .await?;
        Ok(Some(EventTarget {
            instance: id,
            org: OrgId::from_stored(row.int("org_id")?),
            user: UserId::from_stored(row.int("user_id")?),
            element_key: row.text("element_key")?,
            name: row.text("name")?,
            tags: tags.iter().map(|t| t.text("tag")).collect::<StoreResult<_>>()?,
            disabled: row.flag("disabled")?,
            subscription_active: row.flag("subscription_active")?,
            failure_policy: parse_enum(&row.text("failure_policy")?, FailurePolicy::parse)?,
            config: config.iter().map(config_entry_from).collect::<StoreResult<_>>()?,
            identity: row.opt_text("identity")?,
        }))
    }

    async fn record_event(&self, event: &NewEvent) -> StoreResult<Recorded> {
        self.batched(|reply| Job::Record(event.clone(), reply)).await
    }

    async fn delivery_wakeup(&self) {
        self.wake.notified().await;
    }

    async fn list_events(&self, org: OrgId, instance: InstanceId, query: &EventQuery) -> StoreResult<Vec<EventRecord>> {
        let before = query.before.map(|id| id.to_string());
        // The statuses are written into the statement, not bound: they come from a closed
        // enum, never from a caller's text, and there may be several.
        let status = match &query.statuses {
            None => "TRUE".to_string(),
            Some(statuses) if statuses.is_empty() => "FALSE".to_string(),
            Some(statuses) => {
                let listed: Vec<String> = statuses.iter().map(|s| format!("'{}'", s.as_str())).collect();
                format!("status IN ({})", listed.join(", "))
            }
        };
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT * FROM (SELECT {EVENT_COLUMNS} WHERE e.org_id = $1 AND e.instance_id = $2 \
             AND ($3 IS NULL OR e.received_at >= $3) AND ($4 IS NULL OR e.received_at <= $4) \
             AND ($5 IS NULL OR e.id < $5)) listed WHERE {status} ORDER BY id DESC LIMIT $6"
        )))
        .bind(org.get())
        .bind(instance.get())
        .bind(query.from.map(to_millis))
        .bind(query.to.map(to_millis))
        .bind(before.as_deref())
        .bind(i64::from(query.limit))
        .fetch_all(&self.reader)
        .await?;
        rows.iter().map(event_from).collect()
    }

    async fn get_event(&self, org: OrgId, instance: InstanceId, id: EventId) -> StoreResult<Option<EventRecord>> {
        let row = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {EVENT_COLUMNS} WHERE e.org_id = $1 AND e.instance_id = $2 AND e.id = $3"
        )))
        .bind(org.get())
        .bind(instance.get())
        .bind(id.to_string())
        .fetch_optional(&self.reader)
        .await?;
        row.as_ref().map(event_from).transpose()
    }

    async fn event_deliveries(
        &self,
        org: OrgId,
        instance: InstanceId,
        id: EventId,
    ) -> StoreResult<Vec<DeliveryRecord>> {
        let event = id.to_string();
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {DELIVERY_COLUMNS} WHERE d.org_id = $1 AND d.instance_id = $2 AND d.event_id = $3 \
             ORDER BY d.created_at, d.id"
        )))
        .bind(org.get())
        .bind(instance.get())
        .bind(event.as_str())
        .fetch_all(&self.reader)
        .await?;
        let mut deliveries = rows.iter().map(delivery_from).collect::<StoreResult<Vec<_>>>()?;
        let attempts = sqlx::query(
            "SELECT a.delivery_id, a.attempted_at, a.status_code, a.latency_ms, a.error, a.response_body \
             FROM delivery_attempts a JOIN deliveries d ON d.id = a.delivery_id \
             WHERE d.org_id = $1 AND d.instance_id = $2 AND d.event_id = $3 ORDER BY a.attempted_at, a.id",
        )
        .bind(org.get())
        .bind(instance.get())
        .bind(event.as_str())
        .fetch_all(&self.reader)
        .await?;
        attach_attempts(&mut deliveries, &attempts)?;
        Ok(deliveries)
    }

    async fn add_deliveries(
        &self,
        org: OrgId,
        instance: InstanceId,
        event: EventId,
        deliveries: &[NewDelivery],
        now: Timestamp,
    ) -> StoreResult<bool> {
        let mut tx = self.writer.begin_with(DB::BEGIN_WRITE).await?;
        let updated = sqlx::query(
            "UPDATE events SET status = 'received', updated_at = $4 WHERE org_id = $1 AND instance_id = $2 AND id = $3",
        )
        .bind(org.get())
        .bind(instance.get())
        .bind(event.to_string())
        .bind(to_millis(now))
        .execute(&mut *tx)
        .await?;
        if DB::rows_affected(&updated) == 0 {
            return Ok(false);
        }
        let event = event.to_string();
        let rows: Vec<_> = deliveries
            .iter()
            .map(|delivery| DeliveryRow {
                org,
                instance,
                event: &event,
                delivery,
                now,
            })
            .collect();
        Writes::<DB>::deliveries(&mut tx, &rows).await?;
        tx.commit().await?;
        self.wake.notify_one();
        Writes::<DB>::announce(&self.writer).await;
        Ok(true)
    }

    async fn list_deliveries(
        &self,
        org: OrgId,
        instance: InstanceId,
        status: DeliveryStatus,
        limit: u32,
    ) -> StoreResult<Vec<DeliveryRecord>> {
        let [listing, attempts] = delivery_listing(status);
        let rows = sqlx::query(sqlx::AssertSqlSafe(listing))
            .bind(org.get())
            .bind(instance.get())
            .bind(i64::from(limit))
            .fetch_all(&self.reader)
            .await?;
        let mut deliveries = rows.iter().map(delivery_from).collect::<StoreResult<Vec<_>>>()?;
        let attempts = sqlx::query(sqlx::AssertSqlSafe(attempts))
            .bind(org.get())
            .bind(instance.get())
            .fetch_all(&self.reader)
            .await?;
        attach_attempts(&mut deliveries, &attempts)?;
        Ok(deliveries)
    }

    async fn release_queued(&self, org: OrgId, instance: InstanceId, now: Timestamp) -> StoreResult<u64> {
        // In chunks, each its own transaction: a backlog of a million queued deliveries
        // released at once would hold the (SQLite) writer for the whole time and starve the
        // receivers. A crash between chunks leaves the rest queued, released by the next call.
        const CHUNK: u64 = 500;
        let mut released = 0;
        loop {
            let result = sqlx::query(RELEASE_QUEUED)
                .bind(org.get())
                .bind(instance.get())
                .bind(to_millis(now))
                .bind(CHUNK as i64)
                .execute(&self.writer)
                .await?;
            let chunk = DB::rows_affected(&result);
            released += chunk;
            if chunk < CHUNK {
                break;
            }
            self.wake.notify_one();
        }
        self.wake.notify_one();
        Writes::<DB>::announce(&self.writer).await;
        Ok(released)
    }

    async fn set_subscription(
        &self,
        org: OrgId,
        instance: InstanceId,
        active: bool,
        note: Option<&str>,
        now: Timestamp,
    ) -> StoreResult<bool> {
        let updated = sqlx::query(
            "UPDATE instances SET subscription_active = $3, subscription_note = $4, updated_at = $5 \
             WHERE org_id = $1 AND id = $2",
        )
        .bind(org.get())
        .bind(instance.get())
        .bind(active)
        .bind(note)
        .bind(to_millis(now))
        .execute(&self.writer)
        .await?;
        Ok(DB::rows_affected(&updated) > 0)
    }

    async fn claim_deliveries(
        &self,
        owner: &str,
        now: Timestamp,
        lease_until: Timestamp,
        limit: u32,
    ) -> StoreResult<Vec<ClaimedDelivery>> {
        // Deliveries whose worker vanished go back to pending first. Kept apart from the
        // claim: one statement covering both could not walk the pending index in order and
        // stop after `limit`, and would read the whole backlog. Expired leases are rare, so
        // a reader looks for one before the writer is asked to do anything.
        let expired =
            sqlx::query("SELECT 1 AS found FROM deliveries WHERE status = 'inflight' AND lease_until < $1 LIMIT 1")
                .bind(to_millis(now))
                .fetch_optional(&self.reader)
                .await?
                .is_some();
        if expired {
            sqlx::query(
                "UPDATE deliveries SET status = 'pending', lease_owner = NULL, lease_until = NULL \
                 WHERE status = 'inflight' AND lease_until < $1",
            )
            .bind(to_millis(now))
            .execute(&self.writer)
            .await?;
        }
        let claim = Claim {
            owner: owner.to_string(),
            now,
            lease_until,
            limit,
        };
        let rows = if DB::CLAIMS_IN_GROUP_COMMIT {
            self.batched(|reply| Job::Claim(claim, reply)).await?
        } else {
            Writes::<DB>::claim(&mut *self.writer.acquire().await?, &claim).await?
        };
        // The bodies never change, so any connection reads them, and the writer is spared.
        let ids: Vec<&str> = rows.iter().map(|row| row.id.as_str()).collect();
        let mut payloads = HashMap::with_capacity(ids.len());
        for chunk in ids.chunks(ROWS_PER_STATEMENT) {
            let sql = format!(
                "SELECT delivery_id, payload FROM delivery_payloads WHERE delivery_id IN ({})",
                placeholder_list::<DB>(1, chunk.len())
            );
            let mut query = sqlx::query(sqlx::AssertSqlSafe(sql));
            for id in chunk {
                query = query.bind(*id);
            }
            for row in query.fetch_all(&self.reader).await? {
                payloads.insert(row.text("delivery_id")?, row.text("payload")?);
            }
        }
        let mut claimed = Vec::with_capacity(rows.len());
        for row in &rows {
            // Absent only when the delivery was deleted (with its instance) meanwhile.
            let Some(payload) = payloads.remove(&row.id) else {
                continue;
            };
            claimed.push(ClaimedDelivery {
                id: parse_id(&row.id)?,
                instance: row.instance,
                payload,
                attempt: u32::try_from(row.attempts).unwrap_or(u32::MAX),
                lease_until,
            });
        }
        Ok(claimed)
    }

    async fn next_delivery_at(&self) -> StoreResult<Option<Timestamp>> {
        let row = sqlx::query(
            "SELECT MIN(t) AS next FROM (\
             SELECT MIN(next_attempt_at) AS t FROM deliveries WHERE status = 'pending' \
             UNION ALL SELECT MIN(lease_until) AS t FROM deliveries WHERE status = 'inflight') soonest",
        )
        .fetch_one(&self.reader)
        .await?;
        row.opt_time("next")
    }

    async fn finish_delivery(&self, outcome: &DeliveryOutcome) -> StoreResult<()> {
        self.batched(|reply| Job::Finish(outcome.clone(), reply)).await
    }

    async fn delivery_backlog(&self) -> StoreResult<u64> {
        let row = sqlx::query("SELECT COUNT(*) AS n FROM deliveries WHERE status IN ('pending', 'inflight')")
            .fetch_one(&self.reader)
            .await?;
        Ok(u64::try_from(row.int("n")?).unwrap_or(0))
    }

    async fn signing_secrets(&self, instance: InstanceId, now: Timestamp) -> StoreResult<Vec<Sealed>> {
        let rows = sqlx::query(
            "SELECT secret_sealed FROM signing_secrets WHERE instance_id = $1 \
             AND (expires_at IS NULL OR expires_at > $2) ORDER BY created_at DESC, id",
        )
        .bind(instance.get())
        .bind(to_millis(now))
        .fetch_all(&self.reader)
        .await?;
        rows.iter().map(|row| row.sealed("secret_sealed")).collect()
    }

    async fn rotate_signing_secret(
        &self,
        org: OrgId,
        instance: InstanceId,
        secret: &Sealed,
        now: Timestamp,
        retire_at: Timestamp,
    ) -> StoreResult<bool> {
        let mut tx = self.writer.begin_with(DB::BEGIN_WRITE).await?;
        let owned = sqlx::query("UPDATE instances SET updated_at = $3 WHERE org_id = $1 AND id = $2")
            .bind(org.get())
            .bind(instance.get())
            .bind(to_millis(now))
            .execute(&mut *tx)
            .await?;
        if DB::rows_affected(&owned) == 0 {
            return Ok(false);
        }
        sqlx::query(
            "UPDATE signing_secrets SET expires_at = $2 WHERE instance_id = $1 AND (expires_at IS NULL OR expires_at > $2)",
        )
        .bind(instance.get())
        .bind(to_millis(retire_at))
        .execute(&mut *tx)
        .await?;
        sqlx::query(SIGNING_SECRET_INSERT)
            .bind(row_id())
            .bind(instance.get())
            .bind(secret.as_bytes())
            .bind(to_millis(now))
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(true)
    }

    async fn prune_events(&self, before: Timestamp, limit: u32) -> StoreResult<u64> {
        let deleted = sqlx::query(
            "DELETE FROM events WHERE id IN (SELECT e.id FROM events e WHERE e.received_at < $1 \
             AND NOT EXISTS (SELECT 1 FROM deliveries d WHERE d.event_id = e.id \
             AND d.status IN ('pending', 'inflight', 'queued', 'held')) LIMIT $2)",
        )
        .bind(to_millis(before))
        .bind(i64::from(limit))
        .execute(&self.writer)
        .await?;
        Ok(DB::rows_affected(&deleted))
    }

    async fn claim_polls(
        &self,
        owner: &str,
        now: Timestamp,
        lease_until: Timestamp,
        limit: u32,
    ) -> StoreResult<Vec<PollClaim>> {
        let rows = sqlx::query(DB::CLAIM_POLLS)
            .bind(owner)
            .bind(to_millis(lease_until))
            .bind(to_millis(now))
            .bind(i64::from(limit))
            .fetch_all(&self.writer)
            .await?;
        rows.iter()
            .map(|row| {
                Ok(PollClaim {
                    instance: InstanceId::from_stored(row.int("instance_id")?),
                    interval: std::time::Duration::from_millis(u64::try_from(row.int("interval_ms")?).unwrap_or(0)),
                    last_poll_at: row.opt_time("last_poll_at")?,
                    failures: u32::try_from(row.int("failures")?).unwrap_or(u32::MAX),
                })
            })
            .collect()
    }

    async fn next_poll_at(&self) -> StoreResult<Option<Timestamp>> {
        let row = sqlx::query(
            "SELECT MIN(CASE WHEN lease_until IS NOT NULL AND lease_until > next_poll_at THEN lease_until \
             ELSE next_poll_at END) AS next FROM poll_states WHERE paused_reason IS NULL",
        )
        .fetch_one(&self.reader)
        .await?;
        row.opt_time("next")
    }

    async fn known_objects(&self, instance: InstanceId, resource: &str) -> StoreResult<HashMap<String, KnownObject>> {
        let rows = sqlx::query(
            "SELECT object_id, fingerprint, window_at FROM poll_objects WHERE instance_id = $1 AND resource = $2",
        )
        .bind(instance.get())
        .bind(resource)
        .fetch_all(&self.reader)
        .await?;
        rows.iter()
            .map(|row| {
                Ok((
                    row.text("object_id")?,
                    KnownObject {
                        fingerprint: row.text("fingerprint")?,
                        window_at: row.opt_time("window_at")?,
                    },
                ))
            })
            .collect()
    }

    async fn commit_poll(&self, commit: &PollCommit) -> StoreResult<bool> {
        let mut tx = self.writer.begin_with(DB::BEGIN_WRITE).await?;
        let holding = if commit.events.iter().any(NewEvent::holds) {
            vec![commit.instance]
        } else {
            Vec::new()
        };
        Writes::<DB>::share_holds(&mut tx, &holding).await?;
        let id = commit.instance.get();
        let held = sqlx::query(
            "UPDATE poll_states SET last_poll_at = $3, next_poll_at = $4, failures = 0, last_error = NULL, \
             lease_owner = NULL, lease_until = NULL WHERE instance_id = $1 AND lease_owner = $2",
        )
        .bind(id)
        .bind(commit.owner.as_str())
        .bind(to_millis(commit.started_at))
        .bind(to_millis(commit.next_poll_at))
        .execute(&mut *tx)
        .await?;
        if DB::rows_affected(&held) == 0 {
            // Another process took the poll over; what this one found is its to report.
            tx.rollback().await?;
            return Ok(false);
        }
        for change in &commit.objects {
            match change {
                ObjectChange::Remember {
                    resource,
                    id: object,
                    fingerprint,
                    window_at,
                } => {
                    sqlx::query(
                        "INSERT INTO poll_objects (instance_id, resource, object_id, fingerprint, window_at) \
                         VALUES ($1, $2, $3, $4, $5) ON CONFLICT (instance_id, resource, object_id) \
                         DO UPDATE SET fingerprint = excluded.fingerprint, window_at = excluded.window_at",
                    )
                    .bind(id)
                    .bind(resource.as_str())
                    .bind(object.as_str())
                    .bind(fingerprint.as_str())
                    .bind(window_at.map(to_millis))
                    .execute(&mut *tx)
                    .await?;
                }
                ObjectChange::Forget { resource, id: object } => {
                    sqlx::query("DELETE FROM poll_objects WHERE instance_id = $1 AND resource = $2 AND object_id = $3")
                        .bind(id)
                        .bind(resource.as_str())
                        .bind(object.as_str())
                        .execute(&mut *tx)
                        .await?;
                }
            }
        }
        // Polls carry no sequence numbers, so nothing can be taken.
        let events: Vec<&NewEvent> = commit.events.iter().collect();
        Writes::<DB>::events(&mut tx, &events).await?;
        let released = Writes::<DB>::release_held(&mut tx, &holding, super::now()).await?;
        let announced = released > 0 || commit.events.iter().any(NewEvent::awaits_claim);
        tx.commit().await?;
        if announced {
            self.wake.notify_one();
            Writes::<DB>::announce(&self.writer).await;
        }
        Ok(true)
    }

    async fn fail_poll(
        &self,
        instance: InstanceId,
        owner: &str,
        error: &str,
        next_poll_at: Timestamp,
        pause: bool,
    ) -> StoreResult<()> {
        sqlx::query(
            "UPDATE poll_states SET failures = failures + 1, last_error = $3, next_poll_at = $4, \
             paused_reason = CASE WHEN $5 THEN $3 ELSE paused_reason END, lease_owner = NULL, lease_until = NULL \
             WHERE instance_id = $1 AND lease_owner = $2",
        )
        .bind(instance.get())
        .bind(owner)
        .bind(error)
        .bind(to_millis(next_poll_at))
        .bind(pause)
        .execute(&self.writer)
        .await?;
        Ok(())
    }

    async fn poll_status(&self, org: OrgId, instance: InstanceId) -> StoreResult<Option<PollStatus>> {
        let row = sqlx::query(
            "SELECT p.interval_ms, p.next_poll_at, p.last_poll_at, p.failures, p.last_error, p.paused_reason \
             FROM poll_states p JOIN instances i ON i.id = p.instance_id WHERE i.org_id = $1 AND p.instance_id = $2",
        )
        .bind(org.get())
        .bind(instance.get())
        .fetch_optional(&self.reader)
        .await?;
        row.map(|row| {
            Ok(PollStatus {
                interval: std::time::Duration::from_millis(u64::try_from(row.int("interval_ms")?).unwrap_or(0)),
                next_poll_at: row.time("next_poll_at")?,
                last_poll_at: row.opt_time("last_poll_at")?,
                failures: u32::try_from(row.int("failures")?).unwrap_or(u32::MAX),
                last_error: row.opt_text("last_error")?,
                paused_reason: row.opt_text("paused_reason")?,
            })
        })
        .transpose()
    }
}

/// What one write of a batch came to.
type JobResult = StoreResult<Done>;

/// What a batch's transaction came to: each write's result, and how many held deliveries it
/// released.
struct Attempted {
    results: Vec<JobResult>,
    released: u64,
}

/// The instances whose deliveries a batch holds (sorted, so that their rows are always
/// locked in the same order).
fn held_instances(batch: &[Job]) -> Vec<InstanceId> {
    let mut held: Vec<InstanceId> = batch
        .iter()
        .filter_map(|job| match job {
            Job::Record(event, _) if event.holds() => Some(event.instance),
            Job::Finish(outcome, _) if outcome.next == NextStep::Held => Some(outcome.instance),
            _ => None,
        })
        .collect();
    held.sort_unstable();
    held.dedup();
    held
}

enum Done {
    Recorded(Recorded),
    Finished,
    Claimed(Vec<ClaimedRow>),
}

/// One write the group-commit writer runs for a caller.
enum Job {
    Record(NewEvent, oneshot::Sender<StoreResult<Recorded>>),
    Finish(DeliveryOutcome, oneshot::Sender<StoreResult<()>>),
    Claim(Claim, oneshot::Sender<StoreResult<Vec<ClaimedRow>>>),
}

/// A worker's claim on due deliveries.
struct Claim {
    owner: String,
    now: Timestamp,
    lease_until: Timestamp,
    limit: u32,
}

/// A claimed delivery, before its body is read.
struct ClaimedRow {
    id: String,
    instance: InstanceId,
    attempts: i64,
}

impl Job {
    /// Tells the caller what its write came to, once the transaction is over.
    fn answer(self, result: JobResult) {
        // Each job's write answers with its own kind of result (see `attempt` and `job`).
        const MISMATCH: &str = "a write answers with its own kind of result";
        match self {
            Job::Record(_, reply) => {
                let _ = reply.send(result.map(|done| match done {
                    Done::Recorded(recorded) => recorded,
                    _ => unreachable!("{MISMATCH}"),
                }));
            }
            Job::Finish(_, reply) => {
                let _ = reply.send(result.map(|_| ()));
            }
            Job::Claim(_, reply) => {
                let _ = reply.send(result.map(|done| match done {
                    Done::Claimed(rows) => rows,
                    _ => unreachable!("{MISMATCH}"),
                }));
            }
        }
    }
}

/// The most writes one transaction carries.
const MAX_BATCH: usize = 256;

/// Whether a write went through (an event stored, a delivery finished, a claim made).
fn accepted(result: &JobResult) -> bool {
    matches!(
        result,
        Ok(Done::Recorded(Recorded::Stored) | Done::Finished | Done::Claimed(_))
    )
}

impl<DB: Database> SqlStore<DB> {
    /// Hands a write to the group-commit writer and waits until it is committed.
    async fn batched<T>(&self, job: impl FnOnce(oneshot::Sender<StoreResult<T>>) -> Job) -> StoreResult<T> {
        let (reply, answer) = oneshot::channel();
        self.jobs
            .send(job(reply))
            .await
            .map_err(|_| StoreError::WriterStopped)?;
        answer.await.map_err(|_| StoreError::WriterStopped)?
    }
}

/// Statements that write, run inside a transaction the caller owns.
pub(super) struct Writes<DB>(PhantomData<DB>);

impl<DB> Writes<DB>
where
    DB: Dialect,
    for<'c> &'c mut DB::Connection: Executor<'c, Database = DB>,
    DB::Arguments: IntoArguments<DB>,
    DB::Row: Columns,
    for<'e> i64: Encode<'e, DB> + Type<DB>,
    for<'e> Option<i64>: Encode<'e, DB> + Type<DB>,
    for<'e> &'e str: Encode<'e, DB> + Type<DB>,
    for<'e> Option<&'e str>: Encode<'e, DB> + Type<DB>,
    for<'e> String: Encode<'e, DB> + Type<DB>,
{
    /// A store over these pools, with its group-commit writer running.
    ///
    /// The writer has a thread and a runtime of its own: each of its statements is a round
    /// trip (to SQLite's connection thread, or to the server), and on the hub's runtime each
    /// answer waited in the queue behind the HTTP tasks before the next statement could go.
    /// Ingest at saturation gained 6–8 % on SQLite.
    pub(super) fn open_store(reader: Pool<DB>, writer: Pool<DB>, wake: Arc<Notify>) -> SqlStore<DB> {
        let (jobs, queue) = mpsc::channel(MAX_BATCH * 4);
        let (pool, notify) = (writer.clone(), wake.clone());
        std::thread::Builder::new()
            .name("tributary-writer".into())
            .spawn(move || {
                tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .expect("the writer's runtime starts")
                    .block_on(Self::run(pool, queue, notify));
            })
            .expect("the writer's thread starts");
        SqlStore {
            reader,
            writer,
            wake,
            jobs,
        }
    }

    /// The group-commit writer: concurrent writes (events arriving, deliveries finishing)
    /// share one transaction and so one fsync, each in its own savepoint so that one
    /// refused write (a sequence number already taken) leaves the others alone. A caller
    /// hears back only after the commit. Alone, a write commits at once: nothing waits to
    /// fill a batch.
    async fn run(pool: Pool<DB>, mut jobs: mpsc::Receiver<Job>, wake: Arc<Notify>) {
        while let Some(first) = jobs.recv().await {
            let mut batch = vec![first];
            while batch.len() < MAX_BATCH {
                match jobs.try_recv() {
                    Ok(job) => batch.push(job),
                    Err(_) => break,
                }
            }
            Self::commit(&pool, batch, &wake).await;
        }
    }

    async fn commit(pool: &Pool<DB>, batch: Vec<Job>, wake: &Notify) {
        // Most batches have no refused write, so they run without savepoints (two statements
        // fewer per write); a batch that has one runs again with each write isolated.
        let committed = match Self::attempt(pool, &batch, false).await {
            Ok(Some(attempted)) => Ok(attempted),
            Ok(None) => Self::attempt(pool, &batch, true)
                .await
                .map(|attempted| attempted.expect("isolated writes always complete")),
            Err(error) => Err(error),
        };
        let (results, released, committed): (Vec<JobResult>, u64, StoreResult<()>) = match committed {
            Ok(Attempted { results, released }) => (results, released, Ok(())),
            Err(error) => (Vec::new(), 0, Err(error)),
        };
        let announce = committed.is_ok()
            && (released > 0
                || batch.iter().zip(&results).any(|(job, result)| {
                    matches!((job, result), (Job::Record(event, _), Ok(Done::Recorded(Recorded::Stored)))
                        if event.awaits_claim())
                }));
        let failure = committed.err().map(|e| (e.is_unavailable(), e.to_string()));
        let mut results = results.into_iter();
        for job in batch {
            let result = match &failure {
                Some((unavailable, message)) => Err(StoreError::Commit {
                    unavailable: *unavailable,
                    message: message.clone(),
                }),
                None => results.next().expect("one result per job"),
            };
            job.answer(result);
        }
        if announce {
            wake.notify_one();
            Self::announce(pool).await;
        }
    }

    /// Tells other hub processes that deliveries were added. Done after the commit, in a
    /// statement of its own: PostgreSQL serializes the commits of transactions that notify,
    /// which inside the data transaction would stop concurrent writes sharing a WAL flush.
    pub(super) async fn announce(pool: &Pool<DB>) {
        if let Some(statement) = DB::ANNOUNCE_DELIVERIES
            && let Err(error) = sqlx::query(statement).execute(pool).await
        {
            // Other nodes still find the work on their next look, within seconds.
            tracing::warn!(%error, "could not announce new deliveries");
        }
    }

    /// Runs a batch in one transaction. Without `isolate`, the batch's writes go in a few
    /// multi-row statements (a handful per batch rather than several per write: on SQLite
    /// each statement is a round trip to the connection's thread), and the first refused
    /// write rolls everything back with the answer `None`; with it, each write runs in a
    /// savepoint, so a refused one is undone alone.
    async fn attempt(pool: &Pool<DB>, batch: &[Job], isolate: bool) -> StoreResult<Option<Attempted>> {
        let mut tx = pool.begin_with(DB::BEGIN_WRITE).await?;
        let held = held_instances(batch);
        Self::share_holds(&mut tx, &held).await?;
        if !isolate {
            let (mut events, mut outcomes, mut claims) = (Vec::new(), Vec::new(), Vec::new());
            for job in batch {
                match job {
                    Job::Record(event, _) => events.push(event),
                    Job::Finish(outcome, _) => outcomes.push(outcome),
                    Job::Claim(claim, _) => claims.push(claim),
                }
            }
            // Claims come last, so that they can take what this batch stored.
            let written = async {
                if !Self::events(&mut tx, &events).await? {
                    return Ok(None);
                }
                Self::finishes(&mut tx, &outcomes).await?;
                let released = Self::release_held(&mut tx, &held, super::now()).await?;
                let mut claimed = Vec::with_capacity(claims.len());
                for claim in claims {
                    claimed.push(Self::claim(&mut tx, claim).await?);
                }
                Ok::<_, StoreError>(Some((claimed, released)))
            }
            .await;
            if let Err(error) = &written {
                // Run again write by write, which tells whose write it was.
                tracing::debug!(%error, "a batched write failed");
            }
            let Some((claimed, released)) = written.ok().flatten() else {
                tx.rollback().await?;
                return Ok(None);
            };
            tx.commit().await?;
            let mut claimed = claimed.into_iter();
            let results = batch
                .iter()
                .map(|job| match job {
                    Job::Record(..) => Ok(Done::Recorded(Recorded::Stored)),
                    Job::Finish(..) => Ok(Done::Finished),
                    Job::Claim(..) => Ok(Done::Claimed(claimed.next().expect("one result per claim"))),
                })
                .collect();
            return Ok(Some(Attempted { results, released }));
        }
        let mut results = Vec::with_capacity(batch.len());
        for job in batch {
            let mut savepoint = sqlx::Acquire::begin(&mut tx).await?;
            let result = Self::job(&mut savepoint, job).await;
            if accepted(&result) {
                savepoint.commit().await?;
            } else {
                savepoint.rollback().await?;
            }
            results.push(result);
        }
        // For every instance a write might have held deliveries of: releasing what has a
        // callback URL is right whichever writes went through.
        let released = Self::release_held(&mut tx, &held, super::now()).await?;
        tx.commit().await?;
        Ok(Some(Attempted { results, released }))
    }

    async fn job(conn: &mut DB::Connection, job: &Job) -> JobResult {
        match job {
            Job::Record(event, _) => Self::event(conn, event).await.map(Done::Recorded),
            Job::Finish(outcome, _) => Self::finishes(conn, &[outcome]).await.map(|()| Done::Finished),
            Job::Claim(claim, _) => Self::claim(conn, claim).await.map(Done::Claimed),
        }
    }

    /// Releases the held deliveries of those of `instances` that have a callback URL;
    /// returns how many. Run at the end of every write that holds deliveries (stores or
    /// parks them for want of a URL, as the writer's view of the instance had it): the view
    /// may be older than the URL.
    pub(super) async fn release_held(
        conn: &mut DB::Connection,
        instances: &[InstanceId],
        now: Timestamp,
    ) -> StoreResult<u64> {
        let mut released = 0;
        for chunk in instances.chunks(ROWS_PER_STATEMENT) {
            let query = chunk.iter().fold(
                sqlx::query(sqlx::AssertSqlSafe(release_held::<DB>(chunk.len())))
                    .bind(to_millis(now))
                    .bind(to_millis(now)),
                |query, instance| query.bind(instance.get()),
            );
            released += DB::rows_affected(&query.bind(CALLBACK_URL).execute(&mut *conn).await?);
        }
        Ok(released)
    }

    /// Takes the instances' hold locks, shared, as the first thing a transaction that may
    /// hold deliveries of them does. A configuration change setting a URL takes its
    /// instance's alone, first, and keeps it until it commits; so it cannot commit between
    /// this transaction's check for a URL (`release_held`, at its end) and its commit: either
    /// it committed before, and the check sees the URL, or it waits, and then releases these
    /// deliveries itself. First, so that neither holds anything the other waits for.
    async fn share_holds(conn: &mut DB::Connection, instances: &[InstanceId]) -> StoreResult<()> {
        if let Some(lock) = DB::SHARE_HOLDS {
            for instance in instances {
                sqlx::query(lock).bind(instance.get()).execute(&mut *conn).await?;
            }
        }
        Ok(())
    }

    /// Takes due deliveries for a worker (see [`Dialect::CLAIMS_IN_GROUP_COMMIT`]).
    async fn claim(conn: &mut DB::Connection, claim: &Claim) -> StoreResult<Vec<ClaimedRow>> {
        let rows = sqlx::query(DB::CLAIM_DELIVERIES)
            .bind(claim.owner.as_str())
            .bind(to_millis(claim.lease_until))
            .bind(to_millis(claim.now))
            .bind(i64::from(claim.limit))
            .fetch_all(&mut *conn)
            .await?;
        rows.iter()
            .map(|row| {
                Ok(ClaimedRow {
                    id: row.text("id")?,
                    instance: InstanceId::from_stored(row.int("instance_id")?),
                    attempts: row.int("attempts")?,
                })
            })
            .collect()
    }

    /// Stores an event, its sequence numbers and its deliveries; when a sequence number is
    /// taken, says which (the caller rolls back).
    async fn event(conn: &mut DB::Connection, event: &NewEvent) -> StoreResult<Recorded> {
        Self::event_rows(conn, &[event]).await?;
        let id = event.id.to_string();
        let mut taken = Vec::new();
        for sequence in &event.sequences {
            let inserted = sqlx::query(
                "INSERT INTO event_sequences (instance_id, seq_no, event_id) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING",
            )
            .bind(event.instance.get())
            .bind(sequence.as_str())
            .bind(id.as_str())
            .execute(&mut *conn)
            .await?;
            if DB::rows_affected(&inserted) == 0 {
                taken.push(sequence.clone());
            }
        }
        if !taken.is_empty() {
            return Ok(Recorded::SequencesTaken(taken));
        }
        Self::event_deliveries(conn, &[event]).await?;
        Ok(Recorded::Stored)
    }

    /// Stores events with their sequence numbers and deliveries, all or nothing: `false`
    /// when a sequence number was taken (by a stored event or by another in `events`), and
    /// then the caller rolls back.
    async fn events(conn: &mut DB::Connection, events: &[&NewEvent]) -> StoreResult<bool> {
        Self::event_rows(conn, events).await?;
        let ids: Vec<String> = events.iter().map(|event| event.id.to_string()).collect();
        let sequences: Vec<(i64, &str, &str)> = events
            .iter()
            .zip(&ids)
            .flat_map(|(event, id)| {
                event
                    .sequences
                    .iter()
                    .map(move |sequence| (event.instance.get(), sequence.as_str(), id.as_str()))
            })
            .collect();
        for chunk in sequences.chunks(ROWS_PER_STATEMENT) {
            let sql = format!(
                "INSERT INTO event_sequences (instance_id, seq_no, event_id) VALUES {} ON CONFLICT DO NOTHING",
                value_rows::<DB>(1, chunk.len(), 3)
            );
            let mut query = sqlx::query(sqlx::AssertSqlSafe(sql));
            for (instance, sequence, id) in chunk {
                query = query.bind(*instance).bind(*sequence).bind(*id);
            }
            let inserted = query.execute(&mut *conn).await?;
            if DB::rows_affected(&inserted) < chunk.len() as u64 {
                return Ok(false);
            }
        }
        Self::event_deliveries(conn, events).await?;
        Ok(true)
    }

    /// Inserts the events' own rows.
    async fn event_rows(conn: &mut DB::Connection, events: &[&NewEvent]) -> StoreResult<()> {
        for chunk in events.chunks(ROWS_PER_STATEMENT) {
            let sql = format!(
                "INSERT INTO events (id, instance_id, org_id, source, status, note, received_at, updated_at, raw, \
                 normalized) VALUES {}",
                value_rows::<DB>(1, chunk.len(), 10)
            );
            let mut query = sqlx::query(sqlx::AssertSqlSafe(sql));
            for event in chunk {
                query = query
                    .bind(event.id.to_string())
                    .bind(event.instance.get())
                    .bind(event.org.get())
                    .bind(event.source.as_str())
                    .bind(event.status.as_str())
                    .bind(event.note.as_deref())
                    .bind(to_millis(event.received_at))
                    .bind(to_millis(event.received_at))
                    .bind(event.raw.as_str())
                    .bind(event.normalized.as_str());
            }
            query.execute(&mut *conn).await?;
        }
        Ok(())
    }

    /// Inserts the events' deliveries.
    async fn event_deliveries(conn: &mut DB::Connection, events: &[&NewEvent]) -> StoreResult<()> {
        let ids: Vec<String> = events.iter().map(|event| event.id.to_string()).collect();
        let rows: Vec<DeliveryRow> = events
            .iter()
            .zip(&ids)
            .flat_map(|(event, id)| {
                event.deliveries.iter().map(move |delivery| DeliveryRow {
                    org: event.org,
                    instance: event.instance,
                    event: id,
                    delivery,
                    now: event.received_at,
                })
            })
            .collect();
        Self::deliveries(conn, &rows).await
    }

    /// Inserts deliveries and their bodies.
    async fn deliveries(conn: &mut DB::Connection, rows: &[DeliveryRow<'_>]) -> StoreResult<()> {
        for chunk in rows.chunks(ROWS_PER_STATEMENT) {
            let ids: Vec<String> = chunk.iter().map(|row| row.delivery.id.to_string()).collect();
            let sql = format!(
                "INSERT INTO deliveries (id, event_id, instance_id, org_id, status, attempts, next_attempt_at, \
                 lease_owner, lease_until, created_at, updated_at) VALUES {}",
                value_rows::<DB>(1, chunk.len(), 11)
            );
            let mut query = sqlx::query(sqlx::AssertSqlSafe(sql));
            for (row, id) in chunk.iter().zip(&ids) {
                // A delivery claimed as it is stored looks as if a worker had claimed it
                // when it became due: its first attempt counted, under the worker's lease.
                let (attempts, next_attempt_at, lease) = match &row.delivery.start {
                    DeliveryStart::Due(at) => (0_i64, Some(*at), None),
                    DeliveryStart::Queued | DeliveryStart::Held => (0, None, None),
                    DeliveryStart::Claimed { owner, lease_until } => {
                        (1, Some(row.now), Some((owner.as_str(), to_millis(*lease_until))))
                    }
                };
                query = query
                    .bind(id.as_str())
                    .bind(row.event)
                    .bind(row.instance.get())
                    .bind(row.org.get())
                    .bind(row.delivery.start.status().as_str())
                    .bind(attempts)
                    .bind(next_attempt_at.map(to_millis))
                    .bind(lease.map(|(owner, _)| owner))
                    .bind(lease.map(|(_, until)| until))
                    .bind(to_millis(row.now))
                    .bind(to_millis(row.now));
            }
            query.execute(&mut *conn).await?;
            let sql = format!(
                "INSERT INTO delivery_payloads (delivery_id, payload) VALUES {}",
                value_rows::<DB>(1, chunk.len(), 2)
            );
            let mut query = sqlx::query(sqlx::AssertSqlSafe(sql));
            for (row, id) in chunk.iter().zip(&ids) {
                query = query.bind(id.as_str()).bind(row.delivery.payload.as_str());
            }
            query.execute(&mut *conn).await?;
        }
        Ok(())
    }

    /// Records attempts and moves the deliveries and their events on.
    async fn finishes(conn: &mut DB::Connection, outcomes: &[&DeliveryOutcome]) -> StoreResult<()> {
        let ids: Vec<String> = outcomes.iter().map(|outcome| outcome.id.to_string()).collect();
        let attempts: Vec<(&str, &NewAttempt)> = outcomes
            .iter()
            .zip(&ids)
            .filter_map(|(outcome, id)| outcome.attempt.as_ref().map(|attempt| (id.as_str(), attempt)))
            .collect();
        for chunk in attempts.chunks(ROWS_PER_STATEMENT) {
            let sql = format!(
                "INSERT INTO delivery_attempts (delivery_id, attempted_at, status_code, latency_ms, error, \
                 response_body) VALUES {}",
                value_rows::<DB>(1, chunk.len(), 6)
            );
            let mut query = sqlx::query(sqlx::AssertSqlSafe(sql));
            for (id, attempt) in chunk {
                query = query
                    .bind(*id)
                    .bind(to_millis(attempt.at))
                    .bind(attempt.status_code.map(i64::from))
                    .bind(i64::try_from(attempt.latency_ms).unwrap_or(i64::MAX))
                    .bind(attempt.error.as_deref())
                    .bind(attempt.response_body.as_deref());
            }
            query.execute(&mut *conn).await?;
        }
        // One statement per next step: in a batch they are nearly all "delivered".
        // Keyed by (lease owner, status, next attempt, whether the claim's attempt is given
        // back): the latest time and the deliveries.
        type Step<'a> = (&'a str, DeliveryStatus, Option<i64>, bool);
        let mut steps: HashMap<Step, (i64, Vec<&str>)> = HashMap::new();
        for (outcome, id) in outcomes.iter().zip(&ids) {
            let (status, next_attempt_at, given_back) = match outcome.next {
                NextStep::Delivered => (DeliveryStatus::Delivered, None, false),
                NextStep::RetryAt(at) => (DeliveryStatus::Pending, Some(to_millis(at)), false),
                NextStep::Failed => (DeliveryStatus::Failed, None, false),
                NextStep::Queued => (DeliveryStatus::Queued, None, false),
                NextStep::Held => (DeliveryStatus::Held, None, false),
                NextStep::Deferred(at) => (DeliveryStatus::Pending, Some(to_millis(at)), true),
            };
            let step = steps
                .entry((outcome.owner.as_str(), status, next_attempt_at, given_back))
                .or_insert((i64::MIN, Vec::new()));
            step.0 = step.0.max(to_millis(outcome.now));
            step.1.push(id);
        }
        for ((owner, status, next_attempt_at, given_back), (now, ids)) in &steps {
            for chunk in ids.chunks(ROWS_PER_STATEMENT) {
                // A worker whose lease ran out keeps its attempt on record but no longer
                // decides what happens next: the delivery is someone else's now.
                let p = DB::placeholder;
                let sql = format!(
                    "UPDATE deliveries SET status = {}, next_attempt_at = {}, {}lease_owner = NULL, lease_until = NULL, \
                     updated_at = {} WHERE lease_owner = {} AND id IN ({})",
                    p(1),
                    p(2),
                    if *given_back { "attempts = attempts - 1, " } else { "" },
                    p(3),
                    p(4),
                    placeholder_list::<DB>(5, chunk.len())
                );
                let mut query = sqlx::query(sqlx::AssertSqlSafe(sql))
                    .bind(status.as_str())
                    .bind(*next_attempt_at)
                    .bind(*now)
                    .bind(*owner);
                for id in chunk {
                    query = query.bind(*id);
                }
                query.execute(&mut *conn).await?;
            }
        }
        for outcome in outcomes {
            if let Some(reason) = &outcome.deactivate {
                sqlx::query("UPDATE instances SET subscription_active = FALSE, subscription_note = $2 WHERE id = $1")
                    .bind(outcome.instance.get())
                    .bind(reason.as_str())
                    .execute(&mut *conn)
                    .await?;
            }
        }
        Ok(())
    }
}

/// One delivery to insert, with what it belongs to.
struct DeliveryRow<'a> {
    org: OrgId,
    instance: InstanceId,
    event: &'a str,
    delivery: &'a NewDelivery,
    now: Timestamp,
}
