//! `GET /metrics`: what the daemon counts anyway (the dialer's stats, the
//! hub's pops and their latency histogram, the writer, the sources), read
//! when Prometheus scrapes and written in the OpenMetrics text format by
//! prometheus-client. Read at scrape time rather than pushed into a global
//! recorder: nothing is added to the call path, and each daemon (several
//! run in one test process) has its own figures. No label carries a
//! customer value: labels are outcomes, causes, states, and the names of
//! switches and sources from the config.

use prometheus_client::encoding::{EncodeMetric, MetricEncoder, NoLabelSet};
use prometheus_client::metrics::MetricType;
use prometheus_client::metrics::counter::ConstCounter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::{ConstGauge, Gauge};
use prometheus_client::registry::{Registry, Unit};
use std::collections::BTreeMap;

mod dialing;

/// The upper bounds of the pop latency histogram, in seconds.
pub const LATENCY_BUCKETS: [f64; 12] = [
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
];

/// A histogram already counted (from the hub's HDR histogram): per-bucket
/// counts, the last one to +Inf.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Counted {
    pub sum: f64,
    pub count: u64,
    /// (upper bound, observations in this bucket only).
    pub buckets: Vec<(f64, u64)>,
}

impl Counted {
    /// Buckets of an HDR histogram of microseconds.
    pub fn of_micros(h: &hdrhistogram::Histogram<u64>) -> Counted {
        let mut buckets = Vec::with_capacity(LATENCY_BUCKETS.len() + 1);
        let mut below = 0u64;
        let mut low = 0u64;
        for bound in LATENCY_BUCKETS {
            let high = (bound * 1e6) as u64;
            let n = h.count_between(low, high);
            buckets.push((bound, n));
            below += n;
            low = high + 1;
        }
        buckets.push((f64::INFINITY, h.len().saturating_sub(below)));
        Counted {
            sum: h.mean() * h.len() as f64 / 1e6,
            count: h.len(),
            buckets,
        }
    }
}

/// A latency recorder shared by whoever times something (the hub's pops,
/// the store writer's commits, each source's requests): microseconds from
/// 1 µs to 1 h at 3 significant digits, in fixed memory however many
/// observations it takes.
#[derive(Clone)]
pub struct Latency {
    inner: std::sync::Arc<std::sync::Mutex<hdrhistogram::Histogram<u64>>>,
}

impl Default for Latency {
    fn default() -> Self {
        // Constant bounds hdrhistogram accepts; the fallbacks exist so that
        // no `unwrap` stands in the code.
        let h = hdrhistogram::Histogram::new_with_bounds(1, 3_600_000_000, 3)
            .or_else(|_| hdrhistogram::Histogram::new(3))
            .unwrap_or_else(|_| std::process::abort());
        Latency {
            inner: std::sync::Arc::new(std::sync::Mutex::new(h)),
        }
    }
}

impl Latency {
    pub fn record(&self, d: std::time::Duration) {
        let us = u64::try_from(d.as_micros())
            .unwrap_or(u64::MAX)
            .clamp(1, 3_600_000_000);
        if let Ok(mut h) = self.inner.lock() {
            let _ = h.record(us);
        }
    }

    pub fn counted(&self) -> Counted {
        match self.inner.lock() {
            Ok(h) => Counted::of_micros(&h),
            Err(_) => Counted::default(),
        }
    }

    /// (observations, p50, p99, max) in milliseconds.
    pub fn summary_ms(&self) -> (u64, f64, f64, f64) {
        let Ok(h) = self.inner.lock() else {
            return (0, 0.0, 0.0, 0.0);
        };
        if h.is_empty() {
            return (0, 0.0, 0.0, 0.0);
        }
        let ms = |us: u64| us as f64 / 1000.0;
        (
            h.len(),
            ms(h.value_at_quantile(0.5)),
            ms(h.value_at_quantile(0.99)),
            ms(h.max()),
        )
    }
}

/// Histograms of one family, one per label set.
#[derive(Clone, Debug, Default)]
struct LabeledHistograms(Vec<(Labels, Counted)>);

impl EncodeMetric for LabeledHistograms {
    fn encode(&self, mut encoder: MetricEncoder) -> Result<(), std::fmt::Error> {
        for (l, h) in &self.0 {
            encoder
                .encode_family(l)?
                .encode_histogram::<NoLabelSet>(h.sum, h.count, &h.buckets, None)?;
        }
        Ok(())
    }

    fn metric_type(&self) -> MetricType {
        MetricType::Histogram
    }
}

impl EncodeMetric for Counted {
    fn encode(&self, mut encoder: MetricEncoder) -> Result<(), std::fmt::Error> {
        encoder.encode_histogram::<NoLabelSet>(self.sum, self.count, &self.buckets, None)
    }
    fn metric_type(&self) -> MetricType {
        MetricType::Histogram
    }
}

/// One source's counters.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct SourceSample {
    pub name: String,
    pub lookups: u64,
    pub memory_hits: u64,
    pub redis_hits: u64,
    pub requests: u64,
    pub not_found: u64,
    pub failures: BTreeMap<String, u64>,
    pub breaker_open: bool,
    /// Requests to the source itself (cache hits are not timed).
    pub latency: Counted,
}

/// One campaign's calls: the answer and abandon rates are ratios of these
/// counters over the window a query picks (`rate()` of each), which a
/// since-start ratio published here could not give.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct CampaignSample {
    pub campaign: String,
    pub originates: u64,
    /// Ended calls by outcome (as `Sample::calls`, with `abandoned` and
    /// `machine` besides).
    pub calls: BTreeMap<&'static str, u64>,
    /// Power and predictive: people answered, connected, abandoned,
    /// machines, connect time, dial level.
    pub dialing: crate::dialer::CampaignCalls,
}

#[derive(Clone, Debug, Default, PartialEq)]
pub struct SwitchSample {
    pub name: String,
    pub up: bool,
    pub healthy: bool,
    pub calls: u64,
    pub max_calls: u64,
    pub reconnects: u64,
}

/// Everything one scrape shows.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Sample {
    /// Calls placed (originates sent).
    pub originates: u64,
    /// Ended calls by outcome (answered, busy, no_answer, failed, vanished,
    /// not_placed).
    pub calls: BTreeMap<&'static str, u64>,
    /// Ended calls by the switch's hang-up cause.
    pub causes: BTreeMap<String, u64>,
    pub live_calls: u64,
    pub pops_delivered: u64,
    pub pops_acked: u64,
    pub pops_degraded: u64,
    /// Pops no page acknowledged in time (the monitor's limit).
    pub pops_unacknowledged: u64,
    /// Answered calls the campaign's filters kept from popping.
    pub pops_filtered: u64,
    /// From the answer read off the socket to the pop's hand-over to the
    /// agent's page connection.
    pub sent_latency: Counted,
    /// From the answer read off the socket to the page's acknowledgement.
    pub ack_latency: Counted,
    pub agents: BTreeMap<String, u64>,
    pub switches: Vec<SwitchSample>,
    pub writes: u64,
    pub writes_retried: u64,
    pub writes_failed: u64,
    pub write_queue: u64,
    /// One commit (a batch of writes, retries included).
    pub write_latency: Counted,
    pub campaigns: Vec<CampaignSample>,
    pub sources: Vec<SourceSample>,
    pub cache_entries: u64,
    /// Turned away by the per-address limits.
    pub refused_sockets: u64,
    pub refused_locked_out: u64,
    pub sign_in_failures: u64,
    /// Seconds agents spent talking, in wrap-up and idle.
    pub agent_time: crate::dialer::agents::AgentTime,
    /// Writes dropped because their switch's lease had moved on.
    pub fenced_writes: u64,
    /// A cluster node: each configured switch, and whether it drives it.
    pub cluster_switches: Vec<(String, bool)>,
    /// A cluster node with a broker: whether its subscriber is connected.
    pub broker_connected: Option<bool>,
}

type Labels = Vec<(String, String)>;

pub(crate) fn labels(pairs: &[(&str, &str)]) -> Labels {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// A counter family set from sampled totals (its counters are fresh per
/// scrape, so `inc_by` sets them).
pub(crate) fn counters(
    entries: impl IntoIterator<Item = (Labels, u64)>,
) -> Family<Labels, prometheus_client::metrics::counter::Counter> {
    let f = Family::<Labels, prometheus_client::metrics::counter::Counter>::default();
    for (l, v) in entries {
        f.get_or_create(&l).inc_by(v);
    }
    f
}

pub(crate) fn gauges(entries: impl IntoIterator<Item = (Labels, i64)>) -> Family<Labels, Gauge> {
    let f = Family::<Labels, Gauge>::default();
    for (l, v) in entries {
        f.get_or_create(&l).set(v);
    }
    f
}

fn int(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

/// The sample in the OpenMetrics text format.
pub fn render(s: &Sample) -> String {
    let mut r = Registry::with_prefix("dialpop");
    r.register(
        "originates",
        "Calls placed: originate commands sent to a switch",
        ConstCounter::new(s.originates),
    );
    r.register(
        "calls_ended",
        "Calls ended, by outcome",
        counters(s.calls.iter().map(|(o, n)| (labels(&[("outcome", o)]), *n))),
    );
    r.register(
        "calls_hangup_cause",
        "Calls ended, by the switch's hang-up cause",
        counters(s.causes.iter().map(|(c, n)| (labels(&[("cause", c)]), *n))),
    );
    r.register(
        "live_calls",
        "Calls up now",
        ConstGauge::new(int(s.live_calls)),
    );
    r.register(
        "pops",
        "Pops, by what became of them (a pop is counted once as delivered, and again as acknowledged, degraded, filtered, or not acknowledged within the monitor's ack_within_seconds)",
        counters([
            (labels(&[("outcome", "delivered")]), s.pops_delivered),
            (labels(&[("outcome", "acknowledged")]), s.pops_acked),
            (labels(&[("outcome", "degraded")]), s.pops_degraded),
            (labels(&[("outcome", "filtered")]), s.pops_filtered),
            (
                labels(&[("outcome", "not_acknowledged")]),
                s.pops_unacknowledged,
            ),
        ]),
    );
    r.register_with_unit(
        "pop_sent_latency",
        "From the answer read off the switch socket to the pop's hand-over to the agent page's connection",
        Unit::Seconds,
        s.sent_latency.clone(),
    );
    r.register_with_unit(
        "pop_ack_latency",
        "From the answer read off the switch socket to the agent page's acknowledgement",
        Unit::Seconds,
        s.ack_latency.clone(),
    );
    r.register(
        "agents",
        "Agents, by state",
        gauges(
            s.agents
                .iter()
                .map(|(st, n)| (labels(&[("state", st)]), int(*n))),
        ),
    );
    r.register(
        "switch_up",
        "1 while the switch's control socket is connected and its calls rebuilt",
        gauges(
            s.switches
                .iter()
                .map(|w| (labels(&[("switch", &w.name)]), i64::from(w.up))),
        ),
    );
    r.register(
        "switch_healthy",
        "1 while the switch takes calls (0: resting after refusals)",
        gauges(
            s.switches
                .iter()
                .map(|w| (labels(&[("switch", &w.name)]), i64::from(w.healthy))),
        ),
    );
    r.register(
        "switch_calls",
        "Calls up on the switch",
        gauges(
            s.switches
                .iter()
                .map(|w| (labels(&[("switch", &w.name)]), int(w.calls))),
        ),
    );
    r.register(
        "switch_reconnects",
        "Times the switch's control socket came back after a loss",
        counters(
            s.switches
                .iter()
                .map(|w| (labels(&[("switch", &w.name)]), w.reconnects)),
        ),
    );
    r.register(
        "store_writes",
        "Store writes done by the writer, by result",
        counters([
            (labels(&[("result", "written")]), s.writes),
            (labels(&[("result", "retried")]), s.writes_retried),
            (labels(&[("result", "failed")]), s.writes_failed),
        ]),
    );
    r.register(
        "store_write_queue",
        "Writes waiting for the store",
        ConstGauge::new(int(s.write_queue)),
    );
    r.register(
        "store_fenced_writes",
        "Writes dropped because their switch's lease had moved to another node",
        ConstCounter::new(s.fenced_writes),
    );
    if !s.cluster_switches.is_empty() {
        let f = gauges(
            s.cluster_switches
                .iter()
                .map(|(name, driven)| (labels(&[("switch", name)]), i64::from(*driven))),
        );
        r.register(
            "cluster_switch_driven",
            "1 for each switch this cluster node holds the lease of and drives, 0 for the others",
            f,
        );
    }
    if let Some(up) = s.broker_connected {
        r.register(
            "cluster_broker_connected",
            "1 while this cluster node's broker (Redis) subscriber is connected",
            ConstGauge::new(i64::from(up)),
        );
    }
    r.register_with_unit(
        "store_write_latency",
        "One commit of the store writer (a batch of writes, its retries included)",
        Unit::Seconds,
        s.write_latency.clone(),
    );
    dialing::register(&mut r, s);
    r.register(
        "source_lookups",
        "Customer lookups, by source",
        counters(
            s.sources
                .iter()
                .map(|x| (labels(&[("source", &x.name)]), x.lookups)),
        ),
    );
    r.register(
        "source_cache_hits",
        "Lookups answered by a cache, by source and level",
        counters(s.sources.iter().flat_map(|x| {
            [
                (
                    labels(&[("source", &x.name), ("level", "memory")]),
                    x.memory_hits,
                ),
                (
                    labels(&[("source", &x.name), ("level", "redis")]),
                    x.redis_hits,
                ),
            ]
        })),
    );
    r.register(
        "source_requests",
        "Requests sent to the source itself",
        counters(
            s.sources
                .iter()
                .map(|x| (labels(&[("source", &x.name)]), x.requests)),
        ),
    );
    r.register(
        "source_not_found",
        "Lookups the source answered with no such customer",
        counters(
            s.sources
                .iter()
                .map(|x| (labels(&[("source", &x.name)]), x.not_found)),
        ),
    );
    r.register(
        "source_failures",
        "Lookups that failed, by source and reason",
        counters(s.sources.iter().flat_map(|x| {
            x.failures
                .iter()
                .map(|(reason, n)| (labels(&[("source", &x.name), ("reason", reason)]), *n))
        })),
    );
    r.register(
        "source_breaker_open",
        "1 while the source's breaker keeps requests from it",
        gauges(
            s.sources
                .iter()
                .map(|x| (labels(&[("source", &x.name)]), i64::from(x.breaker_open))),
        ),
    );
    r.register_with_unit(
        "source_request_latency",
        "Requests to the source itself, by source (answers from a cache are not timed)",
        Unit::Seconds,
        LabeledHistograms(
            s.sources
                .iter()
                .map(|x| (labels(&[("source", &x.name)]), x.latency.clone()))
                .collect(),
        ),
    );
    r.register(
        "http_refused",
        "Requests turned away with 429 by the per-address limits, by reason",
        counters([
            (
                labels(&[("reason", "unauthenticated_sockets")]),
                s.refused_sockets,
            ),
            (labels(&[("reason", "locked_out")]), s.refused_locked_out),
        ]),
    );
    r.register(
        "sign_in_failures",
        "Agent socket or API sign-ins with a wrong token",
        ConstCounter::new(s.sign_in_failures),
    );
    r.register(
        "cache_entries",
        "Answers in the in-process customer cache",
        ConstGauge::new(int(s.cache_entries)),
    );
    let mut out = String::new();
    // Writing to a String cannot fail.
    let _ = prometheus_client::encoding::text::encode(&mut out, &r);
    out
}

#[cfg(test)]
mod tests;
