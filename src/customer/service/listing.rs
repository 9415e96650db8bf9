//! What `GET /api/sources` lists: each source's settings, breaker state and
//! counters.

use super::CustomerService;
use crate::customer::breaker::BreakerState;
use crate::customer::config::{SourceKind, SourceRole};
use crate::customer::keys::KeyKind;
use serde::Serialize;
use serde_json::Value;
use std::collections::BTreeMap;
use std::sync::atomic::Ordering;

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

impl CustomerService {
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
}
