//! The key index: which cache keys hold answers about each customer key
//! form, kept in step with the in-process cache.

use super::{CacheKey, Entry, Identity};
use std::sync::Arc;
use std::sync::atomic::Ordering;

/// Which cache keys hold answers about a customer key form (`id:C-1`,
/// `phone:+1555…`): invalidation looks its customer up here instead of
/// walking the whole cache (a walk per call made the per-call cost grow
/// with the cache).
/// Key form → the cache keys under it, each with its entry's serial.
type FormIndex = std::collections::HashMap<String, std::collections::HashMap<CacheKey, u64>>;

#[derive(Clone, Default)]
pub(super) struct KeyIndex {
    inner: Arc<std::sync::Mutex<FormIndex>>,
    serial: Arc<std::sync::atomic::AtomicU64>,
}

impl KeyIndex {
    pub(super) fn next_serial(&self) -> u64 {
        self.serial.fetch_add(1, Ordering::Relaxed)
    }

    /// Called as the entry is made, before the cache holds it, so that its
    /// eviction always comes after.
    pub(super) fn add(&self, key: &CacheKey, e: &Entry) {
        let mut m = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        for form in e.identity.forms() {
            m.entry(form).or_default().insert(key.clone(), e.serial);
        }
    }

    /// The entry left the cache: unindexed, unless a newer one took its key.
    pub(super) fn remove(&self, key: &CacheKey, e: &Entry) {
        let mut m = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        for form in e.identity.forms() {
            if let Some(keys) = m.get_mut(&form) {
                if keys.get(key) == Some(&e.serial) {
                    keys.remove(key);
                }
                if keys.is_empty() {
                    m.remove(&form);
                }
            }
        }
    }

    /// The keys that may hold answers about the customer.
    pub(super) fn keys_of(&self, target: &Identity) -> Vec<CacheKey> {
        let m = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        let mut out: Vec<CacheKey> = Vec::new();
        for form in target.forms() {
            if let Some(keys) = m.get(&form) {
                out.extend(keys.keys().cloned());
            }
        }
        out.sort_by(|a, b| (&a.source, &a.key).cmp(&(&b.source, &b.key)));
        out.dedup();
        out
    }

    pub(super) fn len(&self) -> usize {
        let m = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        m.values().map(|k| k.len()).sum()
    }
}
