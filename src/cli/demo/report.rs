//! What a finished demo reports: the calls, pops, memory and CPU figures,
//! and the check that no task was dialed twice.

use super::study;
use crate::store::Store;
use crate::switch::sim::SimSwitch;
use std::sync::Arc;

#[derive(Clone, Debug, Default, serde::Serialize)]
pub struct LatencyMs {
    pub p50: f64,
    pub p99: f64,
    pub max: f64,
}

#[derive(Clone, Debug, Default, serde::Serialize)]
pub struct DemoReport {
    pub calls: u64,
    pub answered: u64,
    pub busy: u64,
    pub no_answer: u64,
    pub failed: u64,
    pub vanished: u64,
    /// Originates the switch refused (no attempt charged).
    pub not_placed: u64,
    pub pops_delivered: u64,
    pub pops_acked: u64,
    /// Store writes that failed after their retries.
    pub writes_failed: u64,
    pub pop_latency_ms: LatencyMs,
    pub double_dialed: u64,
    pub tasks_left: u64,
    /// Tasks refused before dialing: their number is on the do-not-call list.
    pub refused_do_not_call: u64,
    /// How the agents closed the answered calls, by disposition code.
    pub dispositions: std::collections::BTreeMap<String, u64>,
    pub wall_s: f64,
    pub calls_per_s: f64,
    /// Pops that went out with a source missing.
    pub pops_degraded: u64,
    /// Answered calls per second of the campaign.
    pub answers_per_s: f64,
    /// The most calls up at once (sampled every 100 ms), and the resident
    /// memory at that moment.
    pub max_live_calls: usize,
    pub rss_at_max_live_mb: f64,
    /// Customer entries in the cache when the campaign started.
    pub cache_entries: u64,
    /// Resident memory before the agents signed in (after seeding and
    /// warming), and the process's peak (VmHWM), in MB.
    pub rss_before_agents_mb: f64,
    /// With external agents: resident memory once all had signed in,
    /// before the first call.
    pub rss_signed_in_mb: f64,
    pub peak_rss_mb: f64,
    /// CPU time the process used in all, and during the campaign.
    pub cpu_s: f64,
    pub campaign_cpu_s: f64,
    pub preload: bool,
    /// With `--crm-latency-ms`: the CRM behind the pops.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub crm: Option<CrmReport>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub scenario: Option<ScenarioReport>,
    /// With `--dial-mode`: occupancy, abandon rates, machine rate, dial level.
    #[serde(flatten, skip_serializing_if = "Option::is_none")]
    pub study: Option<study::StudyFigures>,
}

#[derive(Clone, Debug, Default, serde::Serialize)]
pub struct ScenarioReport {
    pub name: &'static str,
    /// Pops that showed each block of the scenario's screen, by title
    /// (conditional blocks show on some pops only).
    pub blocks_shown: std::collections::BTreeMap<String, u64>,
    /// Pops whose screen fell back to the plain field list.
    pub fallbacks: u64,
}

#[derive(Clone, Debug, Default, serde::Serialize)]
pub struct CrmReport {
    pub latency_ms: u64,
    /// API requests the CRM received (records and order pages).
    pub requests: u64,
    pub token_requests: u64,
}

/// Tasks the switch saw originated more often than the attempts recorded
/// for them (each attempt is one originate).
pub async fn double_dialed(sim: &SimSwitch, store: &Arc<dyn Store>) -> anyhow::Result<u64> {
    let mut doubled = 0;
    for (task, n) in sim.originates().by_task {
        let Ok(task) = task.parse::<i64>() else {
            continue;
        };
        if n > store.attempts_for_task(task).await?.len() {
            doubled += 1;
        }
    }
    Ok(doubled)
}
