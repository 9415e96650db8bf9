//! The customer service: one call finds the customer behind a call in every
//! declared source (through the breaker and the cache), merges the records
//! and collects the first page of each history. Failures become reasons on
//! the view, never a missing pop.

use super::aggregate::merge;
use super::breaker::{Breaker, BreakerState};
use super::cache::{CacheKey, CustomerCache, Fetched, HistoryPage, Identity, Origin};
use super::config::{CustomerConfig, Paging, SourceConfig, SourceKind, SourceRole};
use super::internal::InternalSource;
use super::keys::{KeyKind, Lookup};
use super::mapping::{JsonPath, Mapping, MappingError};
use super::rest::RestSource;
use super::source::{FailureKind, PageRequest, Query, Raw, SourceDriver, SourceError};
use super::sql::SqlSource;
use crate::store::{Store, Task};
use serde::Serialize;
use serde_json::{Map, Value};
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

/// Counters of one source, for `GET /api/sources`.
#[derive(Clone, Debug, Serialize)]
pub struct SourceCounters {
    pub lookups: u64,
    pub memory_hits: u64,
    pub redis_hits: u64,
    pub requests: u64,
    pub not_found: u64,
    pub failures: BTreeMap<&'static str, u64>,
    /// Requests to the source itself, for `/metrics`.
    #[serde(skip)]
    pub latency: crate::metrics::Counted,
}

#[derive(Clone, Debug, Serialize)]
pub struct SourceInfo {
    pub name: String,
    pub kind: SourceKind,
    pub role: SourceRole,
    pub key: KeyKind,
    pub target: String,
    pub ttl_seconds: f64,
    pub timeout_ms: u64,
    pub breaker: BreakerState,
    pub counters: SourceCounters,
    /// The mapping: dialpop field ← where it is in the answer.
    pub fields: serde_json::Map<String, Value>,
}

/// What `dialpop source test` prints.
#[derive(Clone, Debug, Serialize)]
pub struct TestReport {
    pub source: String,
    pub target: String,
    /// found, not_found or failed.
    pub outcome: &'static str,
    pub elapsed_ms: f64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mapped: Option<Value>,
    /// The response as received, cut at 4 KiB.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub raw: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<TestError>,
}

#[derive(Clone, Debug, Serialize)]
pub struct TestError {
    pub kind: FailureKind,
    pub detail: String,
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

/// The sources used when the config declares none: dialpop's own customers
/// and its own past calls.
pub fn default_sources() -> Vec<SourceConfig> {
    let text = r#"
        [[source]]
        name = "internal"
        kind = "internal"

        [[source]]
        name = "calls"
        kind = "internal"
        role = "history"
        title = "Previous calls"
        page_size = 5
    "#;
    // A constant that is parsed by a test; it cannot fail at run time.
    super::config::parse_sources(text).unwrap_or_default()
}

const RAW_SHOWN: usize = 4096;

/// The longest cache time or breaker rest a source may have: ten years.
const MAX_SECONDS: f64 = 10.0 * 365.0 * 86_400.0;

fn seconds_ok(s: f64) -> bool {
    (0.0..=MAX_SECONDS).contains(&s)
}

impl CustomerService {
    /// Checks every source's settings (errors name `source[i].key`) and
    /// builds their drivers. Nothing is connected yet: a database or CRM
    /// that is down does not stop the daemon.
    pub fn new(
        cfg: &CustomerConfig,
        sources: &[SourceConfig],
        store: Arc<dyn Store>,
    ) -> Result<CustomerService, String> {
        let defaults;
        let sources = if sources.is_empty() {
            defaults = default_sources();
            &defaults[..]
        } else {
            sources
        };
        if cfg
            .default_region
            .parse::<phonenumber::country::Id>()
            .is_err()
        {
            return Err(format!(
                "customer.default_region: {:?} is not an ISO 3166 country code",
                cfg.default_region
            ));
        }
        if cfg.cache_max_entries == 0 {
            return Err("customer.cache_max_entries: must be at least 1".into());
        }
        let mut entries: Vec<SourceEntry> = Vec::new();
        for (i, s) in sources.iter().enumerate() {
            let at = |e: String| format!("source[{i}] ({}): {e}", s.name);
            if s.name.is_empty()
                || !s
                    .name
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
            {
                return Err(at("name: letters, digits, _ and - only".into()));
            }
            if entries.iter().any(|e| *e.name == *s.name) {
                return Err(at("name: used by another source".into()));
            }
            // A huge but finite number of seconds would overflow a
            // Duration (a panic where it is used): the bound is checked here.
            if !seconds_ok(s.ttl_seconds) {
                return Err(at(format!(
                    "ttl_seconds: {} is not a number of seconds from 0 to {MAX_SECONDS}",
                    s.ttl_seconds
                )));
            }
            if s.timeout_ms == 0 {
                return Err(at("timeout_ms: must be at least 1".into()));
            }
            if !seconds_ok(s.breaker.open_seconds) {
                return Err(at(format!(
                    "breaker.open_seconds: {} is not a number of seconds from 0 to {MAX_SECONDS}",
                    s.breaker.open_seconds
                )));
            }
            if s.role == SourceRole::History && !(1..=100).contains(&s.page_size) {
                return Err(at("page_size: between 1 and 100".into()));
            }
            if s.role == SourceRole::History
                && s.paging == Paging::Cursor
                && s.cursor_path.is_none()
            {
                return Err(at("cursor_path: needed with paging = \"cursor\"".into()));
            }
            let path = |p: &Option<String>, key: &str| -> Result<Option<JsonPath>, String> {
                p.as_deref()
                    .map(|p| p.parse::<JsonPath>().map_err(|e| at(format!("{key}: {e}"))))
                    .transpose()
            };
            let driver: Arc<dyn SourceDriver> = match s.kind {
                SourceKind::Internal => {
                    if s.key != KeyKind::CustomerId {
                        return Err(at("key: the internal source is keyed by customer_id".into()));
                    }
                    Arc::new(InternalSource::new(store.clone(), s.role))
                }
                SourceKind::Sql => Arc::new(SqlSource::new(s).map_err(at)?),
                SourceKind::Rest => Arc::new(RestSource::new(s).map_err(at)?),
            };
            entries.push(SourceEntry {
                name: s.name.as_str().into(),
                driver,
                mapping: Mapping::from_config(&s.fields).map_err(at)?,
                record_path: path(&s.record_path, "record_path")?,
                items_path: path(&s.items_path, "items_path")?,
                cursor_path: path(&s.cursor_path, "cursor_path")?,
                breaker: Breaker::new(
                    s.breaker.failures,
                    Duration::try_from_secs_f64(s.breaker.open_seconds).unwrap_or(Duration::ZERO),
                ),
                stats: SourceStats::default(),
                cfg: s.clone(),
            });
        }
        for (field, list) in &cfg.precedence {
            for name in list {
                if !entries
                    .iter()
                    .any(|e| *e.name == **name && e.cfg.role == SourceRole::Record)
                {
                    return Err(format!(
                        "customer.precedence.{field}: no record source is named {name:?}"
                    ));
                }
            }
        }
        Ok(CustomerService {
            inner: Arc::new(Inner {
                region: cfg.default_region.clone(),
                preload: cfg.preload,
                sources: entries,
                precedence: cfg.precedence.clone(),
                cache: CustomerCache::new(cfg.cache_max_entries, super::sealed::redis_level(cfg)?)?,
            }),
        })
    }

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

    pub fn sources(&self) -> Vec<SourceInfo> {
        self.inner
            .sources
            .iter()
            .map(|e| SourceInfo {
                name: e.name.to_string(),
                kind: e.cfg.kind,
                role: e.cfg.role,
                key: e.cfg.key,
                target: e.driver.describe(),
                ttl_seconds: e.cfg.ttl_seconds,
                timeout_ms: e.cfg.timeout_ms,
                breaker: e.breaker.state(),
                fields: e.cfg.fields.clone(),
                counters: SourceCounters {
                    lookups: e.stats.lookups.load(Ordering::Relaxed),
                    memory_hits: e.stats.memory_hits.load(Ordering::Relaxed),
                    redis_hits: e.stats.redis_hits.load(Ordering::Relaxed),
                    requests: e.stats.requests.load(Ordering::Relaxed),
                    not_found: e.stats.not_found.load(Ordering::Relaxed),
                    failures: e
                        .stats
                        .failures
                        .lock()
                        .unwrap_or_else(|p| p.into_inner())
                        .clone(),
                    latency: e.stats.latency.counted(),
                },
            })
            .collect()
    }

    /// One real request to the named source, past the cache and the
    /// breaker, with everything an operator needs to see why it works or
    /// not. `None`: no such source.
    pub async fn test_source(&self, name: &str, lookup: &Lookup) -> Option<TestReport> {
        let i = self.inner.sources.iter().position(|e| *e.name == *name)?;
        let e = &self.inner.sources[i];
        let page = self.first_page(i);
        let started = Instant::now();
        let mut report = TestReport {
            source: e.name.to_string(),
            target: e.driver.describe(),
            outcome: "failed",
            elapsed_ms: 0.0,
            mapped: None,
            raw: None,
            error: None,
        };
        if lookup.key(e.cfg.key).is_none() {
            report.error = Some(TestError {
                kind: FailureKind::MissingKey,
                detail: format!(
                    "this source is looked up by {}; give --{}",
                    e.cfg.key.name(),
                    e.cfg.key.name().replace('_', "-")
                ),
            });
            return Some(report);
        }
        let raw = self.send(e, lookup, &page).await;
        report.elapsed_ms = started.elapsed().as_secs_f64() * 1000.0;
        match raw {
            Err(err) => {
                report.error = Some(TestError {
                    kind: err.kind,
                    detail: err.detail,
                })
            }
            Ok(raw) => {
                let text = match &raw {
                    Raw::Found { raw, .. } | Raw::NotFound { raw } => raw,
                };
                report.raw = Some(cut(text, RAW_SHOWN));
                match map_answer(e, &raw, &page) {
                    Ok(Fetched::NotFound) => report.outcome = "not_found",
                    Ok(f) => {
                        report.outcome = "found";
                        report.mapped = serde_json::to_value(&f).ok();
                    }
                    // Shown in full to the operator who asked (with the
                    // value): this is not a log.
                    Err(me) => {
                        report.error = Some(TestError {
                            kind: FailureKind::Mapping,
                            detail: me.to_string(),
                        })
                    }
                }
            }
        }
        Some(report)
    }
}

fn cut(s: &str, max: usize) -> String {
    let shown = super::mapping::char_prefix(s, max);
    if shown.len() == s.len() {
        return s.to_string();
    }
    format!("{shown}… ({} bytes in all)", s.len())
}

/// A source's answer in dialpop's fields.
fn map_answer(e: &SourceEntry, raw: &Raw, page: &PageRequest) -> Result<Fetched, MappingError> {
    let doc = match raw {
        Raw::NotFound { .. } => return Ok(Fetched::NotFound),
        Raw::Found { doc, .. } => doc,
    };
    match e.cfg.role {
        SourceRole::Record => {
            let target = match &e.record_path {
                Some(p) => p.get(doc),
                None => Some(doc.clone()),
            };
            // An empty search result, or `"data": null`, is "not found".
            let target = match target {
                None | Some(Value::Null) => return Ok(Fetched::NotFound),
                Some(Value::Array(a)) => match a.into_iter().next() {
                    Some(first) => first,
                    None => return Ok(Fetched::NotFound),
                },
                Some(v) => v,
            };
            Ok(Fetched::Record {
                fields: e.mapping.apply(&e.name, &target)?,
            })
        }
        SourceRole::History => {
            let list = match &e.items_path {
                Some(p) => p.get(doc),
                None => Some(doc.clone()),
            };
            let items = match list {
                None | Some(Value::Null) => Vec::new(),
                Some(Value::Array(a)) => a,
                Some(other) => {
                    return Err(MappingError {
                        source_name: e.name.to_string(),
                        field: "items".into(),
                        path: e
                            .items_path
                            .as_ref()
                            .map(|p| p.to_string())
                            .unwrap_or_else(|| "$".into()),
                        value: match other {
                            Value::Object(_) => "an object".into(),
                            _ => "a scalar".into(),
                        },
                        problem: "expected a list".into(),
                    });
                }
            };
            let limit = page.limit.max(1) as usize;
            let full = items.len() >= limit;
            let items = items
                .iter()
                .take(limit)
                .map(|it| e.mapping.apply(&e.name, it))
                .collect::<Result<Vec<_>, _>>()?;
            let total = doc.get("total").and_then(Value::as_u64);
            let mut out = HistoryPage {
                next_offset: None,
                next_cursor: None,
                total,
                items,
            };
            match e.cfg.paging {
                Paging::Offset => {
                    let next = page.offset + out.items.len() as u64;
                    let more = match total {
                        Some(t) => next < t,
                        None => full,
                    };
                    if more {
                        out.next_offset = Some(next);
                    }
                }
                Paging::Cursor => {
                    out.next_cursor =
                        e.cursor_path
                            .as_ref()
                            .and_then(|p| p.get(doc))
                            .and_then(|v| match v {
                                Value::String(s) if !s.is_empty() => Some(s),
                                Value::Number(n) => Some(n.to_string()),
                                _ => None,
                            });
                }
            }
            Ok(Fetched::History { page: out })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_sources_parse() {
        let d = default_sources();
        assert_eq!(d.len(), 2);
        assert_eq!(d[0].role, SourceRole::Record);
        assert_eq!(d[1].role, SourceRole::History);
        assert_eq!(d[1].page_size, 5);
    }
}
