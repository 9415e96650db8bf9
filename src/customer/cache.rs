//! The customer cache: moka in the process (a TTL per source, bounded by
//! entry count, concurrent lookups of one key waiting for one request), and
//! optionally Redis behind it, shared by several daemons.
//!
//! Entries hold mapped answers (what a source said, in dialpop's fields),
//! together with the keys of the customer they belong to, so that one
//! customer can be invalidated by any of its keys.

mod index;
mod redis_level;
#[cfg(test)]
mod tests;

use super::keys::{Lookup, normalize_email, normalize_phone};
use super::sealed::Sealer;
use super::source::{PageRequest, SourceError};
use index::KeyIndex;
use redis_level::{RedisLevel, listen_for_invalidations, redis_invalidate};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

/// A source's answer, mapped.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Fetched {
    Record { fields: Map<String, Value> },
    History { page: HistoryPage },
    NotFound,
}

/// One page of a history source.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct HistoryPage {
    pub items: Vec<Map<String, Value>>,
    /// Where the next page starts, when there is one.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub next_offset: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub next_cursor: Option<String>,
    /// How many there are in all, when the source says.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub total: Option<u64>,
}

/// The customer's keys, normalised, as known when the answer was fetched.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Identity {
    pub customer_id: Option<String>,
    pub phone: Option<String>,
    pub email: Option<String>,
}

impl Identity {
    pub fn of(l: &Lookup) -> Identity {
        Identity {
            customer_id: l.customer_id.clone(),
            phone: l.phone.clone(),
            email: l.email.clone(),
        }
    }

    /// The key's forms under which it may have been stored: as a
    /// customer id, as a phone number, as an e-mail address.
    fn forms(&self) -> Vec<String> {
        let mut v = Vec::new();
        if let Some(i) = &self.customer_id {
            v.push(format!("id:{i}"));
        }
        if let Some(p) = &self.phone {
            v.push(format!("phone:{p}"));
        }
        if let Some(e) = &self.email {
            v.push(format!("email:{e}"));
        }
        v
    }

    /// Every reading of an operator-given key.
    pub fn readings_of(key: &str, region: &str) -> Identity {
        let key = key.trim();
        Identity {
            customer_id: (!key.is_empty()).then(|| key.to_string()),
            phone: normalize_phone(key, region),
            email: normalize_email(key),
        }
    }

    #[cfg(test)]
    fn shares_a_key_with(&self, other: &Identity) -> bool {
        let same = |a: &Option<String>, b: &Option<String>| a.is_some() && a == b;
        same(&self.customer_id, &other.customer_id)
            || same(&self.phone, &other.phone)
            || same(&self.email, &other.email)
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct CacheKey {
    pub source: Arc<str>,
    /// The normalised key the source is asked by.
    pub key: String,
    pub page: PageRequest,
}

#[derive(Clone, Debug)]
struct Entry {
    value: Arc<Fetched>,
    identity: Arc<Identity>,
    ttl: Duration,
    /// Tells this entry apart from a later one under the same key.
    serial: u64,
}

struct PerEntryTtl;

impl moka::Expiry<CacheKey, Entry> for PerEntryTtl {
    fn expire_after_create(
        &self,
        _key: &CacheKey,
        value: &Entry,
        _created_at: std::time::Instant,
    ) -> Option<Duration> {
        Some(value.ttl)
    }
}

/// Where an answer came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Origin {
    /// This call asked the source.
    Source,
    /// The in-process cache (or another lookup's request this one waited
    /// for).
    Memory,
    /// The shared Redis level.
    Redis,
}

#[derive(Serialize, Deserialize)]
struct Stored {
    value: Fetched,
    identity: Identity,
}

pub struct CustomerCache {
    memory: moka::future::Cache<CacheKey, Entry>,
    index: KeyIndex,
    redis: Option<RedisLevel>,
    /// Stops the invalidation listener with the cache.
    _listener: Option<tokio_util::sync::DropGuard>,
}

impl CustomerCache {
    /// `redis`: the shared second level and the key its records are
    /// sealed with.
    pub fn new(max_entries: u64, redis: Option<(&str, Sealer)>) -> Result<CustomerCache, String> {
        let index = KeyIndex::default();
        let unindex = index.clone();
        let memory = moka::future::Cache::builder()
            .max_capacity(max_entries)
            .expire_after(PerEntryTtl)
            .eviction_listener(move |k: Arc<CacheKey>, e: Entry, _cause| unindex.remove(&k, &e))
            .build();
        let mut listener = None;
        let redis = match redis {
            None => None,
            Some((url, sealer)) => {
                let client =
                    redis::Client::open(url).map_err(|e| format!("customer.redis_url: {e}"))?;
                // Connected on first use and reconnected by the manager: a
                // Redis that is down costs the second level, not the daemon.
                let conn = client
                    .get_connection_manager_lazy(redis::aio::ConnectionManagerConfig::new())
                    .map_err(|e| format!("customer.redis_url: {e}"))?;
                if tokio::runtime::Handle::try_current().is_ok() {
                    let stop = tokio_util::sync::CancellationToken::new();
                    tokio::spawn(listen_for_invalidations(
                        client.clone(),
                        memory.clone(),
                        index.clone(),
                        sealer.clone(),
                        stop.clone(),
                    ));
                    listener = Some(stop.drop_guard());
                }
                Some(RedisLevel {
                    conn,
                    sealer,
                    timeout: Duration::from_millis(250),
                })
            }
        };
        Ok(CustomerCache {
            memory,
            index,
            redis,
            _listener: listener,
        })
    }

    pub fn has_redis(&self) -> bool {
        self.redis.is_some()
    }

    /// The cached answer, or `fetch`'s. Concurrent calls for one key wait
    /// for one fetch; a failed fetch is not cached (each waiter gets its
    /// error). `ttl` zero: no caching at all. `shared`: the answer may go
    /// to the Redis level (not dialpop's own store, which is per daemon).
    pub async fn get_or_fetch<F>(
        &self,
        key: CacheKey,
        ttl: Duration,
        identity: Identity,
        shared: bool,
        fetch: F,
    ) -> Result<(Arc<Fetched>, Origin), Arc<SourceError>>
    where
        F: Future<Output = Result<Fetched, SourceError>> + Send,
    {
        if ttl.is_zero() {
            return fetch
                .await
                .map(|v| (Arc::new(v), Origin::Source))
                .map_err(Arc::new);
        }
        let ran = AtomicBool::new(false);
        let from_redis = AtomicBool::new(false);
        let key_for_redis = key.clone();
        let init = async {
            ran.store(true, Ordering::Relaxed);
            let redis = shared.then_some(()).and(self.redis.as_ref());
            if let Some(stored) = self.redis_get(redis, &key_for_redis).await {
                from_redis.store(true, Ordering::Relaxed);
                let entry = Entry {
                    value: Arc::new(stored.value),
                    identity: Arc::new(stored.identity),
                    ttl,
                    serial: self.index.next_serial(),
                };
                self.index.add(&key_for_redis, &entry);
                return Ok(entry);
            }
            let value = fetch.await?;
            // "Not found" is remembered for less long: the customer may be
            // created in the CRM any minute.
            let ttl = if value == Fetched::NotFound {
                ttl.min(Duration::from_secs(30))
            } else {
                ttl
            };
            let entry = Entry {
                value: Arc::new(value),
                identity: Arc::new(identity),
                ttl,
                serial: self.index.next_serial(),
            };
            self.index.add(&key_for_redis, &entry);
            self.redis_put(redis, &key_for_redis, &entry).await;
            Ok(entry)
        };
        let entry = self.memory.try_get_with(key, init).await?;
        let origin = match (
            ran.load(Ordering::Relaxed),
            from_redis.load(Ordering::Relaxed),
        ) {
            (true, true) => Origin::Redis,
            (true, false) => Origin::Source,
            (false, _) => Origin::Memory,
        };
        Ok((entry.value, origin))
    }

    /// Drops every answer about the customer `key` names (as a customer id,
    /// a phone number or an e-mail address), here and in Redis. Returns how
    /// many entries went.
    pub async fn invalidate(&self, key: &str, region: &str) -> u64 {
        let target = Identity::readings_of(key, region);
        self.invalidate_identity(&target).await
    }

    pub async fn invalidate_identity(&self, target: &Identity) -> u64 {
        self.invalidate_identity_in(target, None).await
    }

    /// As `invalidate_identity`, limited to the named sources when given.
    pub async fn invalidate_identity_in(
        &self,
        target: &Identity,
        sources: Option<&[Arc<str>]>,
    ) -> u64 {
        let mut n = forget(&self.memory, &self.index, target, sources).await;
        // Only shared sources reach Redis, and its index is per key: a
        // source-limited invalidation is for local sources only.
        if let (Some(r), None) = (&self.redis, sources) {
            match tokio::time::timeout(
                r.timeout * 4,
                redis_invalidate(r.conn.clone(), &r.sealer, target),
            )
            .await
            {
                Ok(Ok(gone)) => n += gone,
                Ok(Err(e)) => tracing::warn!(error = %e, "redis: could not invalidate"),
                Err(_) => tracing::warn!("redis: invalidation timed out"),
            }
        }
        n
    }

    /// Entries held in the process (after pending evictions ran).
    pub async fn entry_count(&self) -> u64 {
        self.memory.run_pending_tasks().await;
        self.memory.entry_count()
    }

    /// Index entries (cache key per customer key form), after pending
    /// evictions ran: it shrinks with the cache.
    pub async fn index_len(&self) -> usize {
        self.memory.run_pending_tasks().await;
        self.index.len()
    }
}

/// Drops the in-process entries of the customer; returns how many went.
/// Reached through the index: the work is the customer's own entries.
async fn forget(
    memory: &moka::future::Cache<CacheKey, Entry>,
    index: &KeyIndex,
    target: &Identity,
    sources: Option<&[Arc<str>]>,
) -> u64 {
    let mut n = 0;
    for k in index.keys_of(target) {
        if sources.is_some_and(|s| !s.contains(&k.source)) {
            continue;
        }
        if memory.remove(&k).await.is_some() {
            n += 1;
        }
    }
    n
}
