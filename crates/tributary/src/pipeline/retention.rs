//! The event log's retention: events older than the configured number of days are deleted,
//! with their deliveries and attempts, once their notifications are settled. Events still
//! waiting (pending, queued, held) are kept however old they are: nothing undelivered is
//! dropped.

use std::{sync::Arc, time::Duration};

use tokio_util::sync::CancellationToken;

use crate::store::{self, Store};

const BATCH: u32 = 1000;
const EVERY: Duration = Duration::from_secs(3600);

/// Prunes now and then every hour until `shutdown`.
pub async fn run(store: Arc<dyn Store>, keep: Duration, shutdown: CancellationToken) {
    loop {
        match prune(store.as_ref(), keep).await {
            Ok(0) => {}
            Ok(deleted) => tracing::info!(deleted, "pruned old events"),
            Err(error) => tracing::warn!(%error, "could not prune old events"),
        }
        tokio::select! {
            () = shutdown.cancelled() => return,
            () = tokio::time::sleep(EVERY) => {}
        }
    }
}

/// Deletes settled events older than `keep`, in batches so no transaction grows large.
pub async fn prune(store: &dyn Store, keep: Duration) -> Result<u64, store::StoreError> {
    let before = store::now() - keep;
    let mut total = 0;
    loop {
        let deleted = store.prune_events(before, BATCH).await?;
        total += deleted;
        if deleted < u64::from(BATCH) {
            return Ok(total);
        }
    }
}
