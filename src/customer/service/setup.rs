//! Building the service from the config: every source's settings checked
//! and its driver made, before anything is connected.

use super::{CustomerService, Inner, SourceEntry, SourceStats};
use crate::customer::breaker::Breaker;
use crate::customer::cache::CustomerCache;
use crate::customer::config::{CustomerConfig, Paging, SourceConfig, SourceKind, SourceRole};
use crate::customer::internal::InternalSource;
use crate::customer::keys::KeyKind;
use crate::customer::mapping::{JsonPath, Mapping};
use crate::customer::rest::RestSource;
use crate::customer::source::SourceDriver;
use crate::customer::sql::SqlSource;
use crate::store::Store;
use std::sync::Arc;
use std::time::Duration;

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
    crate::customer::config::parse_sources(text).unwrap_or_default()
}

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
                cache: CustomerCache::new(
                    cfg.cache_max_entries,
                    crate::customer::sealed::redis_level(cfg)?,
                )?,
            }),
        })
    }
}
