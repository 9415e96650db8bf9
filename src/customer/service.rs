//! The customer service: one call finds the customer behind a call in every
//! declared source (through the breaker and the cache), merges the records
//! and collects the first page of each history. Failures become reasons on
//! the view, never a missing pop.

mod answer;
mod listing;
mod setup;
mod source_test;
#[cfg(test)]
mod tests;

use super::aggregate::merge;
use super::breaker::Breaker;
use super::cache::{CacheKey, CustomerCache, Fetched, HistoryPage, Identity, Origin};
use super::config::{SourceConfig, SourceKind, SourceRole};
use super::keys::Lookup;
use super::mapping::{JsonPath, Mapping};
use super::source::{FailureKind, PageRequest, Query, Raw, SourceDriver, SourceError};
use crate::store::Task;
use answer::map_answer;
pub use listing::{SourceCounters, SourceInfo};
use serde::Serialize;
use serde_json::{Map, Value};
pub use setup::default_sources;
pub use source_test::{TestError, TestReport};
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// A source that failed for this lookup, and why (no personal data).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct SourceFailure {
    pub source: String,
    pub kind: FailureKind,
    pub detail: String,
}

impl std::fmt::Display for SourceFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.source, self.detail)
    }
}

/// The first page of one history source, as the pop carries it.
#[derive(Clone, Debug, PartialEq, Serialize, serde::Deserialize)]
pub struct HistoryBlock {
    pub source: String,
    pub title: String,
    #[serde(flatten)]
    pub page: HistoryPage,
}

/// Everything found about one customer.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct CustomerView {
    /// dialpop's customer fields, merged.
    pub fields: Map<String, Value>,
    /// Per field, the source it came from.
    pub sources: Map<String, Value>,
    pub history: Vec<HistoryBlock>,
    pub failures: Vec<SourceFailure>,
    /// Whether any record source knew the customer.
    pub found: bool,
    /// Requests this lookup sent to sources (0: all from cache).
    #[serde(skip)]
    pub requests: u32,
}

#[derive(Default)]
struct SourceStats {
    lookups: AtomicU64,
    memory_hits: AtomicU64,
    redis_hits: AtomicU64,
    requests: AtomicU64,
    not_found: AtomicU64,
    failures: Mutex<BTreeMap<&'static str, u64>>,
    latency: crate::metrics::Latency,
}

/// One source's answer to one lookup.
type Answer = Result<(Arc<Fetched>, Origin), SourceFailure>;

struct SourceEntry {
    cfg: SourceConfig,
    name: Arc<str>,
    driver: Arc<dyn SourceDriver>,
    mapping: Mapping,
    record_path: Option<JsonPath>,
    items_path: Option<JsonPath>,
    cursor_path: Option<JsonPath>,
    breaker: Breaker,
    stats: SourceStats,
}

struct Inner {
    region: String,
    preload: bool,
    sources: Vec<SourceEntry>,
    precedence: BTreeMap<String, Vec<String>>,
    cache: CustomerCache,
}

#[derive(Clone)]
pub struct CustomerService {
    inner: Arc<Inner>,
}

impl CustomerService {
    pub fn region(&self) -> &str {
        &self.inner.region
    }

    pub fn preload_enabled(&self) -> bool {
        self.inner.preload
    }

    /// The lookup for a dialing task.
    pub fn lookup_for_task(&self, task: &Task) -> Lookup {
        let mut l = Lookup::new(
            Some(&task.customer_id),
            Some(&task.phone),
            None,
            &self.inner.region,
        );
        l.vars
            .insert("campaign_id".into(), task.campaign_id.clone());
        l.vars.insert("task_id".into(), task.id.to_string());
        l
    }

    /// Finds the customer in every source that can be asked with the keys
    /// at hand; keys found on the way (a CRM that returns the e-mail
    /// address) open the sources that need them, once.
    pub async fn resolve(&self, lookup: &Lookup) -> CustomerView {
        let n = self.inner.sources.len();
        let mut lookup = lookup.clone();
        let mut results: Vec<Option<Answer>> = vec![None; n];
        let mut merged = (Map::new(), Map::new());
        for _round in 0..2 {
            let ready: Vec<usize> = (0..n)
                .filter(|&i| {
                    results[i].is_none() && lookup.key(self.inner.sources[i].cfg.key).is_some()
                })
                .collect();
            if ready.is_empty() {
                break;
            }
            let outs = futures::future::join_all(ready.iter().map(|&i| {
                let page = self.first_page(i);
                let lookup = &lookup;
                async move { self.fetch(i, lookup, page).await }
            }))
            .await;
            for (i, out) in ready.into_iter().zip(outs) {
                results[i] = Some(out);
            }
            merged = self.merged(&results);
            if !lookup.learn_keys(&merged.0, &self.inner.region) {
                break;
            }
        }
        let (fields, sources) = merged;
        let mut view = CustomerView {
            found: !fields.is_empty(),
            fields,
            sources,
            ..Default::default()
        };
        for (i, r) in results.into_iter().enumerate() {
            let e = &self.inner.sources[i];
            match r {
                None => {}
                Some(Err(f)) => view.failures.push(f),
                Some(Ok((fetched, origin))) => {
                    if origin == Origin::Source {
                        view.requests += 1;
                    }
                    if let Fetched::History { page } = &*fetched {
                        view.history.push(HistoryBlock {
                            source: e.name.to_string(),
                            title: e.cfg.title.clone().unwrap_or_else(|| e.name.to_string()),
                            page: page.clone(),
                        });
                    }
                }
            }
        }
        view
    }

    fn merged(&self, results: &[Option<Answer>]) -> (Map<String, Value>, Map<String, Value>) {
        let records: Vec<(&str, &Map<String, Value>)> = results
            .iter()
            .enumerate()
            .filter_map(|(i, r)| match r {
                Some(Ok((f, _))) => match &**f {
                    Fetched::Record { fields } => Some((&*self.inner.sources[i].name, fields)),
                    _ => None,
                },
                _ => None,
            })
            .collect();
        merge(&records, &self.inner.precedence)
    }

    fn first_page(&self, i: usize) -> PageRequest {
        let e = &self.inner.sources[i];
        match e.cfg.role {
            SourceRole::Record => PageRequest::default(),
            SourceRole::History => PageRequest {
                limit: e.cfg.page_size,
                offset: 0,
                cursor: None,
            },
        }
    }

    /// One page of a history source (beyond the first the pop carries).
    pub async fn history_page(
        &self,
        source: &str,
        lookup: &Lookup,
        page: PageRequest,
    ) -> Option<Result<HistoryPage, SourceFailure>> {
        let i = self
            .inner
            .sources
            .iter()
            .position(|e| *e.name == *source && e.cfg.role == SourceRole::History)?;
        let e = &self.inner.sources[i];
        let page = PageRequest {
            limit: if page.limit == 0 {
                e.cfg.page_size
            } else {
                page.limit.min(100)
            },
            ..page
        };
        Some(self.fetch(i, lookup, page).await.map(|(f, _)| match &*f {
            Fetched::History { page } => page.clone(),
            _ => HistoryPage::default(),
        }))
    }

    async fn fetch(
        &self,
        i: usize,
        lookup: &Lookup,
        page: PageRequest,
    ) -> Result<(Arc<Fetched>, Origin), SourceFailure> {
        let e = &self.inner.sources[i];
        let fail = |err: &SourceError| SourceFailure {
            source: e.name.to_string(),
            kind: err.kind,
            detail: err.to_string(),
        };
        let Some(key) = lookup.key(e.cfg.key) else {
            return Err(SourceFailure {
                source: e.name.to_string(),
                kind: FailureKind::MissingKey,
                detail: format!("no {} to look the customer up by", e.cfg.key.name()),
            });
        };
        e.stats.lookups.fetch_add(1, Ordering::Relaxed);
        let ck = CacheKey {
            source: e.name.clone(),
            key: key.to_string(),
            page: page.clone(),
        };
        let ttl = Duration::try_from_secs_f64(e.cfg.ttl_seconds).unwrap_or(Duration::ZERO);
        let out = self
            .inner
            .cache
            .get_or_fetch(
                ck,
                ttl,
                Identity::of(lookup),
                e.cfg.kind != SourceKind::Internal,
                self.request(e, lookup, page),
            )
            .await;
        match &out {
            Ok((_, Origin::Memory)) => {
                e.stats.memory_hits.fetch_add(1, Ordering::Relaxed);
            }
            Ok((_, Origin::Redis)) => {
                e.stats.redis_hits.fetch_add(1, Ordering::Relaxed);
            }
            _ => {}
        }
        out.map_err(|err| fail(&err))
    }

    /// One real request, through the breaker. Failures are logged and
    /// counted here, once per request (however many lookups waited on it).
    async fn request(
        &self,
        e: &SourceEntry,
        lookup: &Lookup,
        page: PageRequest,
    ) -> Result<Fetched, SourceError> {
        let permit = match e.breaker.try_acquire() {
            Ok(p) => p,
            Err(wait) => {
                let err = SourceError::new(
                    FailureKind::CircuitOpen,
                    format!(
                        "not asked after repeated failures (next try in {:.0} s)",
                        wait.as_secs_f64().ceil()
                    ),
                );
                self.count_failure(e, &err);
                return Err(err);
            }
        };
        e.stats.requests.fetch_add(1, Ordering::Relaxed);
        let started = Instant::now();
        let raw = self.send(e, lookup, &page).await;
        e.stats.latency.record(started.elapsed());
        let out = match raw {
            Err(err) => {
                permit.failure();
                Err(err)
            }
            Ok(raw) => match map_answer(e, &raw, &page) {
                Ok(f) => {
                    permit.success();
                    Ok(f)
                }
                Err(me) => {
                    // The source answered; its data did not fit the mapping.
                    permit.neutral();
                    Err(SourceError::new(FailureKind::Mapping, me.redacted()))
                }
            },
        };
        match &out {
            Ok(Fetched::NotFound) => {
                e.stats.not_found.fetch_add(1, Ordering::Relaxed);
            }
            Err(err) => self.count_failure(e, err),
            _ => {}
        }
        out
    }

    /// The driver's request, bounded even if a driver forgets its timeout.
    async fn send(
        &self,
        e: &SourceEntry,
        lookup: &Lookup,
        page: &PageRequest,
    ) -> Result<Raw, SourceError> {
        let q = Query { lookup, page };
        let tries = if e.cfg.kind == SourceKind::Rest && e.cfg.is_idempotent() {
            e.cfg.retries + 1
        } else {
            1
        };
        let bound = e.cfg.timeout() * (tries + 1) + Duration::from_secs(1);
        match tokio::time::timeout(bound, e.driver.fetch(&q)).await {
            Ok(r) => r,
            Err(_) => Err(SourceError::new(
                FailureKind::Timeout,
                format!("no answer within {} ms", bound.as_millis()),
            )),
        }
    }

    fn count_failure(&self, e: &SourceEntry, err: &SourceError) {
        tracing::warn!(source = %e.name, reason = err.kind.label(), detail = %err.detail, "customer source failed");
        let mut f = e.stats.failures.lock().unwrap_or_else(|p| p.into_inner());
        *f.entry(err.kind.label()).or_default() += 1;
    }

    /// Drops everything cached about the customer `key` names (a customer
    /// id, a phone number or an e-mail address).
    pub async fn invalidate(&self, key: &str) -> u64 {
        self.inner.cache.invalidate(key, &self.inner.region).await
    }

    /// Drops everything cached under any key of this lookup (after a call,
    /// so that the next pop shows it in the history).
    pub async fn invalidate_lookup(&self, lookup: &Lookup) -> u64 {
        self.inner
            .cache
            .invalidate_identity(&Identity::of(lookup))
            .await
    }

    /// After a call: dialpop's own call history for the customer has
    /// changed, so its cached pages go (other sources' entries stay).
    pub async fn after_call(&self, lookup: &Lookup) -> u64 {
        let own: Vec<Arc<str>> = self
            .inner
            .sources
            .iter()
            .filter(|e| e.cfg.kind == SourceKind::Internal && e.cfg.role == SourceRole::History)
            .map(|e| e.name.clone())
            .collect();
        if own.is_empty() {
            return 0;
        }
        self.inner
            .cache
            .invalidate_identity_in(&Identity::of(lookup), Some(&own))
            .await
    }

    pub async fn cached_entries(&self) -> u64 {
        self.inner.cache.entry_count().await
    }
}
