//! The shared second level: sealed entries under keyed names in Redis, and
//! the invalidations the daemons tell each other over pub/sub.

use super::index::KeyIndex;
use super::{CacheKey, CustomerCache, Entry, Identity, Stored, forget};
use crate::customer::sealed::Sealer;
use std::time::Duration;

impl CacheKey {
    /// The Redis key: a keyed hash, so no phone number or e-mail address
    /// is written into a shared cache's key space, nor can be found from it
    /// without the key.
    pub(super) fn redis_key(&self, sealer: &Sealer) -> String {
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
pub(super) const PREFIX: &str = "dialpop:customer:v2:";

fn redis_index_key(sealer: &Sealer, form: &str) -> String {
    format!("{PREFIX}i:{}", sealer.name(&[form.as_bytes()]))
}

/// Where one daemon tells the others which customer to forget.
const INVALIDATE_CHANNEL: &str = "dialpop:customer:v2:invalidate";

pub(super) struct RedisLevel {
    pub(super) conn: redis::aio::ConnectionManager,
    pub(super) sealer: Sealer,
    /// What a Redis round trip may cost a lookup before it is skipped.
    pub(super) timeout: Duration,
}

impl CustomerCache {
    pub(super) async fn redis_get(&self, r: Option<&RedisLevel>, key: &CacheKey) -> Option<Stored> {
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

    pub(super) async fn redis_put(&self, r: Option<&RedisLevel>, key: &CacheKey, e: &Entry) {
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

/// Applies the other daemons' invalidations to this one's memory, for as
/// long as the cache lives; reconnects when Redis goes away.
pub(super) async fn listen_for_invalidations(
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

pub(super) async fn redis_invalidate(
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
