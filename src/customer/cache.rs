//! The customer cache: moka in the process (a TTL per source, bounded by
//! entry count, concurrent lookups of one key waiting for one request), and
//! optionally Redis behind it, shared by several daemons.
//!
//! Entries hold mapped answers (what a source said, in dialpop's fields),
//! together with the keys of the customer they belong to, so that one
//! customer can be invalidated by any of its keys.

use super::keys::{Lookup, normalize_email, normalize_phone};
use super::sealed::Sealer;
use super::source::{PageRequest, SourceError};
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

impl CacheKey {
    /// The Redis key: a keyed hash, so no phone number or e-mail address
    /// is written into a shared cache's key space, nor can be found from it
    /// without the key.
    fn redis_key(&self, sealer: &Sealer) -> String {
        let (limit, offset) = (self.page.limit.to_string(), self.page.offset.to_string());
        let name = sealer.name(&[
            self.source.as_bytes(),
            self.key.as_bytes(),
            limit.as_bytes(),
            offset.as_bytes(),
            self.page.cursor.as_deref().unwrap_or("").as_bytes(),
        ]);
        format!("{PREFIX}e:{name}")
    }
}

/// v2: sealed entries under keyed names (v1 held them in clear).
const PREFIX: &str = "dialpop:customer:v2:";

fn redis_index_key(sealer: &Sealer, form: &str) -> String {
    format!("{PREFIX}i:{}", sealer.name(&[form.as_bytes()]))
}

#[derive(Clone, Debug)]
struct Entry {
    value: Arc<Fetched>,
    identity: Arc<Identity>,
    ttl: Duration,
    /// Tells this entry apart from a later one under the same key.
    serial: u64,
}

/// Which cache keys hold answers about a customer key form (`id:C-1`,
/// `phone:+1555…`): invalidation looks its customer up here instead of
/// walking the whole cache (a walk per call made the per-call cost grow
/// with the cache).
/// Key form → the cache keys under it, each with its entry's serial.
type FormIndex = std::collections::HashMap<String, std::collections::HashMap<CacheKey, u64>>;

#[derive(Clone, Default)]
struct KeyIndex {
    inner: Arc<std::sync::Mutex<FormIndex>>,
    serial: Arc<std::sync::atomic::AtomicU64>,
}

impl KeyIndex {
    fn next_serial(&self) -> u64 {
        self.serial.fetch_add(1, Ordering::Relaxed)
    }

    /// Called as the entry is made, before the cache holds it, so that its
    /// eviction always comes after.
    fn add(&self, key: &CacheKey, e: &Entry) {
        let mut m = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        for form in e.identity.forms() {
            m.entry(form).or_default().insert(key.clone(), e.serial);
        }
    }

    /// The entry left the cache: unindexed, unless a newer one took its key.
    fn remove(&self, key: &CacheKey, e: &Entry) {
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
    fn keys_of(&self, target: &Identity) -> Vec<CacheKey> {
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

    fn len(&self) -> usize {
        let m = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        m.values().map(|k| k.len()).sum()
    }
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

/// Where one daemon tells the others which customer to forget.
const INVALIDATE_CHANNEL: &str = "dialpop:customer:v2:invalidate";

struct RedisLevel {
    conn: redis::aio::ConnectionManager,
    sealer: Sealer,
    /// What a Redis round trip may cost a lookup before it is skipped.
    timeout: Duration,
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

    async fn redis_get(&self, r: Option<&RedisLevel>, key: &CacheKey) -> Option<Stored> {
        let r = r?;
        let mut conn = r.conn.clone();
        let mut cmd = redis::cmd("GET");
        let rk = key.redis_key(&r.sealer);
        cmd.arg(&rk);
        let get = cmd.query_async::<Option<Vec<u8>>>(&mut conn);
        match tokio::time::timeout(r.timeout, get).await {
            Ok(Ok(Some(sealed))) => match r
                .sealer
                .open(rk.as_bytes(), &sealed)
                .map(|bytes| serde_json::from_slice(&bytes))
            {
                None => {
                    tracing::warn!(
                        "redis: a cache entry that does not open with this daemon's customer.redis_key is ignored"
                    );
                    None
                }
                Some(Ok(s)) => Some(s),
                Some(Err(e)) => {
                    tracing::warn!(error = %e, "redis: unreadable cache entry ignored");
                    None
                }
            },
            Ok(Ok(None)) => None,
            Ok(Err(e)) => {
                tracing::warn!(error = %e, "redis: read failed; asking the source");
                None
            }
            Err(_) => {
                tracing::warn!("redis: read timed out; asking the source");
                None
            }
        }
    }

    async fn redis_put(&self, r: Option<&RedisLevel>, key: &CacheKey, e: &Entry) {
        let Some(r) = r else { return };
        let stored = Stored {
            value: (*e.value).clone(),
            identity: (*e.identity).clone(),
        };
        let rk = key.redis_key(&r.sealer);
        let Some(bytes) = serde_json::to_vec(&stored)
            .ok()
            .and_then(|plain| r.sealer.seal(rk.as_bytes(), &plain))
        else {
            return;
        };
        let ms = e.ttl.as_millis().max(1) as u64;
        let mut pipe = redis::pipe();
        pipe.cmd("SET")
            .arg(&rk)
            .arg(bytes)
            .arg("PX")
            .arg(ms)
            .ignore();
        // An index per key form, so that invalidation finds the entries.
        for form in e.identity.forms() {
            let ik = redis_index_key(&r.sealer, &form);
            pipe.cmd("SADD").arg(&ik).arg(&rk).ignore();
            pipe.cmd("PEXPIRE").arg(&ik).arg(ms).arg("GT").ignore();
            pipe.cmd("PEXPIRE").arg(&ik).arg(ms).arg("NX").ignore();
        }
        let mut conn = r.conn.clone();
        match tokio::time::timeout(r.timeout, pipe.query_async::<()>(&mut conn)).await {
            Ok(Ok(())) => {}
            Ok(Err(e)) => tracing::warn!(error = %e, "redis: write failed"),
            Err(_) => tracing::warn!("redis: write timed out"),
        }
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

/// Applies the other daemons' invalidations to this one's memory, for as
/// long as the cache lives; reconnects when Redis goes away.
async fn listen_for_invalidations(
    client: redis::Client,
    memory: moka::future::Cache<CacheKey, Entry>,
    index: KeyIndex,
    sealer: Sealer,
    stop: tokio_util::sync::CancellationToken,
) {
    use futures::StreamExt;
    let mut wait = Duration::from_millis(200);
    while !stop.is_cancelled() {
        let subscribed = async {
            let mut ps = client.get_async_pubsub().await?;
            ps.subscribe(INVALIDATE_CHANNEL).await?;
            Ok::<_, redis::RedisError>(ps)
        };
        let ps = tokio::select! {
            _ = stop.cancelled() => return,
            r = tokio::time::timeout(Duration::from_secs(5), subscribed) => r,
        };
        match ps {
            Ok(Ok(ps)) => {
                wait = Duration::from_millis(200);
                let mut messages = ps.into_on_message();
                loop {
                    let msg = tokio::select! {
                        _ = stop.cancelled() => return,
                        m = messages.next() => m,
                    };
                    let Some(msg) = msg else { break };
                    let opened =
                        sealer.open(INVALIDATE_CHANNEL.as_bytes(), msg.get_payload_bytes());
                    match opened.map(|b| serde_json::from_slice::<Identity>(&b)) {
                        Some(Ok(target)) => {
                            forget(&memory, &index, &target, None).await;
                        }
                        Some(Err(e)) => {
                            tracing::warn!(error = %e, "redis: unreadable invalidation ignored")
                        }
                        None => tracing::warn!(
                            "redis: an invalidation sealed with another customer.redis_key is ignored"
                        ),
                    }
                }
                tracing::warn!("redis: invalidation channel closed; resubscribing");
            }
            Ok(Err(e)) => tracing::warn!(error = %e, "redis: cannot subscribe to invalidations"),
            Err(_) => tracing::warn!("redis: subscribing to invalidations timed out"),
        }
        tokio::select! {
            _ = stop.cancelled() => return,
            _ = tokio::time::sleep(wait) => {}
        }
        wait = (wait * 2).min(Duration::from_secs(5));
    }
}

async fn redis_invalidate(
    mut conn: redis::aio::ConnectionManager,
    sealer: &Sealer,
    target: &Identity,
) -> redis::RedisResult<u64> {
    // The other daemons drop their in-process copies too; the message names
    // the customer, so it is sealed like a record.
    if let Some(payload) = serde_json::to_vec(target)
        .ok()
        .and_then(|plain| sealer.seal(INVALIDATE_CHANNEL.as_bytes(), &plain))
    {
        redis::cmd("PUBLISH")
            .arg(INVALIDATE_CHANNEL)
            .arg(payload)
            .query_async::<()>(&mut conn)
            .await?;
    }
    let mut gone = 0;
    for form in target.forms() {
        let ik = redis_index_key(sealer, &form);
        let members: Vec<String> = redis::cmd("SMEMBERS")
            .arg(&ik)
            .query_async(&mut conn)
            .await?;
        let mut del = redis::cmd("DEL");
        del.arg(&ik);
        for m in &members {
            del.arg(m);
        }
        let n: u64 = del.query_async(&mut conn).await?;
        gone += n.saturating_sub(1);
    }
    Ok(gone)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identities_match_on_any_shared_key() {
        let stored = Identity {
            customer_id: Some("C-1".into()),
            phone: Some("+14155550123".into()),
            email: None,
        };
        assert!(stored.shares_a_key_with(&Identity::readings_of("C-1", "US")));
        assert!(stored.shares_a_key_with(&Identity::readings_of("(415) 555-0123", "US")));
        assert!(!stored.shares_a_key_with(&Identity::readings_of("C-2", "US")));
        assert!(!stored.shares_a_key_with(&Identity::default()));
    }

    #[test]
    fn redis_keys_do_not_carry_the_customer_key() {
        let k = CacheKey {
            source: "crm".into(),
            key: "+14155550123".into(),
            page: PageRequest::default(),
        };
        let sealer = Sealer::from_hex(&"ab".repeat(32)).expect("key");
        let rk = k.redis_key(&sealer);
        assert!(!rk.contains("4155550123"));
        assert!(rk.starts_with(PREFIX));
        let other = CacheKey {
            page: PageRequest {
                limit: 10,
                ..Default::default()
            },
            ..k.clone()
        };
        assert_ne!(rk, other.redis_key(&sealer));
    }
}
