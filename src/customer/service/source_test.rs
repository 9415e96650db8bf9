//! `dialpop source test`: one real request to a source, past the cache and
//! the breaker, reported with its raw answer and its mapping.

use super::CustomerService;
use super::answer::map_answer;
use crate::customer::cache::Fetched;
use crate::customer::keys::Lookup;
use crate::customer::source::{FailureKind, Raw};
use serde::Serialize;
use serde_json::Value;
use std::time::Instant;

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

const RAW_SHOWN: usize = 4096;

impl CustomerService {
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
    let shown = crate::customer::mapping::char_prefix(s, max);
    if shown.len() == s.len() {
        return s.to_string();
    }
    format!("{shown}… ({} bytes in all)", s.len())
}
