//! A short-lived per-instance cache for what the pipeline reads on every event and every
//! delivery (the instance's configuration, its signing secrets), so that the hot path does
//! not query the database each time.
//!
//! Changes made through this process's API drop the entry at once; changes made on another
//! hub process are seen within the time to live (one second).

use std::{
    collections::HashMap,
    future::Future,
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use secrecy::SecretString;

use crate::{
    ids::InstanceId,
    store::{EventTarget, StoreError},
};

/// How long an entry is trusted.
const TIME_TO_LIVE: Duration = Duration::from_secs(1);
/// Past this many entries, expired ones are swept on insert.
const SWEEP_ABOVE: usize = 10_000;

/// Everything the pipeline caches per instance, dropped together when the instance changes.
#[derive(Default)]
pub struct Caches {
    pub targets: InstanceCache<EventTarget>,
    /// Opened Standard Webhooks secrets.
    pub signing_secrets: InstanceCache<Vec<SecretString>>,
}

impl Caches {
    pub fn forget(&self, id: InstanceId) {
        self.targets.forget(id);
        self.signing_secrets.forget(id);
    }

    /// Drops everything, for a change that concerns many instances (an organization setting).
    pub fn clear(&self) {
        self.targets.clear();
        self.signing_secrets.clear();
    }
}

pub struct InstanceCache<V> {
    entries: Mutex<HashMap<InstanceId, (Instant, Arc<V>)>>,
}

impl<V> Default for InstanceCache<V> {
    fn default() -> Self {
        Self {
            entries: Mutex::default(),
        }
    }
}

impl<V> InstanceCache<V> {
    /// The cached value, if it is still fresh, without loading it.
    pub fn peek(&self, id: InstanceId) -> Option<Arc<V>> {
        self.lock()
            .get(&id)
            .filter(|(at, _)| at.elapsed() < TIME_TO_LIVE)
            .map(|(_, value)| value.clone())
    }

    /// The cached value, or `load`'s (cached when found).
    pub async fn get<F, Fut>(&self, id: InstanceId, load: F) -> Result<Option<Arc<V>>, StoreError>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<Option<V>, StoreError>>,
    {
        if let Some(value) = self.peek(id) {
            return Ok(Some(value));
        }
        let Some(value) = load().await?.map(Arc::new) else {
            self.forget(id);
            return Ok(None);
        };
        let mut entries = self.lock();
        if entries.len() > SWEEP_ABOVE {
            entries.retain(|_, (at, _)| at.elapsed() < TIME_TO_LIVE);
        }
        entries.insert(id, (Instant::now(), value.clone()));
        Ok(Some(value))
    }

    pub fn forget(&self, id: InstanceId) {
        self.lock().remove(&id);
    }

    pub fn clear(&self) {
        self.lock().clear();
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<InstanceId, (Instant, Arc<V>)>> {
        self.entries.lock().expect("the cache lock is never poisoned")
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicU32, Ordering};

    use super::*;

    #[tokio::test]
    async fn loads_once_within_its_lifetime_and_forgets_on_demand() {
        let cache = InstanceCache::default();
        let loads = AtomicU32::new(0);
        let id = InstanceId::from_stored(7);
        let load = || async {
            loads.fetch_add(1, Ordering::SeqCst);
            Ok(Some("config"))
        };
        assert_eq!(*cache.get(id, load).await.unwrap().unwrap(), "config");
        assert_eq!(*cache.get(id, load).await.unwrap().unwrap(), "config");
        assert_eq!(loads.load(Ordering::SeqCst), 1);
        assert_eq!(cache.peek(id).as_deref(), Some(&"config"), "peeking never loads");
        cache.forget(id);
        assert_eq!(cache.peek(id), None);
        cache.get(id, load).await.unwrap();
        assert_eq!(loads.load(Ordering::SeqCst), 2);
        let missing = cache
            .get(InstanceId::from_stored(8), || async { Ok(None::<&str>) })
            .await
            .unwrap();
        assert!(missing.is_none(), "absence is not cached");
    }
}
