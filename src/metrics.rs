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
    /// Answered calls the campaign's filters kept from popping.
    pub pops_filtered: u64,
    /// From the answer read off the socket to the page's acknowledgement.
    pub ack_latency: Counted,
    pub agents: BTreeMap<String, u64>,
    pub switches: Vec<SwitchSample>,
    pub writes: u64,
    pub writes_retried: u64,
    pub writes_failed: u64,
    pub write_queue: u64,
    pub sources: Vec<SourceSample>,
    pub cache_entries: u64,
}

type Labels = Vec<(String, String)>;

fn labels(pairs: &[(&str, &str)]) -> Labels {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// A counter family set from sampled totals (its counters are fresh per
/// scrape, so `inc_by` sets them).
fn counters(
    entries: impl IntoIterator<Item = (Labels, u64)>,
) -> Family<Labels, prometheus_client::metrics::counter::Counter> {
    let f = Family::<Labels, prometheus_client::metrics::counter::Counter>::default();
    for (l, v) in entries {
        f.get_or_create(&l).inc_by(v);
    }
    f
}

fn gauges(entries: impl IntoIterator<Item = (Labels, i64)>) -> Family<Labels, Gauge> {
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
        "Pops, by what became of them (a pop is counted once as delivered, and again as acknowledged, degraded or filtered)",
        counters([
            (labels(&[("outcome", "delivered")]), s.pops_delivered),
            (labels(&[("outcome", "acknowledged")]), s.pops_acked),
            (labels(&[("outcome", "degraded")]), s.pops_degraded),
            (labels(&[("outcome", "filtered")]), s.pops_filtered),
            (
                labels(&[("outcome", "not_acknowledged")]),
                s.pops_delivered.saturating_sub(s.pops_acked),
            ),
        ]),
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
mod tests {
    use super::*;

    #[test]
    fn a_sample_reads_back_as_openmetrics() {
        let mut h = hdrhistogram::Histogram::<u64>::new_with_bounds(1, 3_600_000_000, 3)
            .unwrap_or_else(|_| unreachable!());
        for us in [500u64, 800, 3_000, 40_000, 9_000_000] {
            let _ = h.record(us);
        }
        let s = Sample {
            originates: 12,
            calls: BTreeMap::from([("answered", 7), ("busy", 3)]),
            causes: BTreeMap::from([("NORMAL_CLEARING".into(), 7), ("USER_BUSY".into(), 3)]),
            pops_delivered: 7,
            pops_acked: 6,
            pops_degraded: 1,
            ack_latency: Counted::of_micros(&h),
            agents: BTreeMap::from([("available".into(), 2), ("on_call".into(), 1)]),
            switches: vec![SwitchSample {
                name: "fs1".into(),
                up: true,
                healthy: true,
                calls: 1,
                max_calls: 10,
                reconnects: 2,
            }],
            sources: vec![SourceSample {
                name: "crm".into(),
                lookups: 9,
                failures: BTreeMap::from([("timeout".into(), 2)]),
                ..SourceSample::default()
            }],
            ..Sample::default()
        };
        let text = render(&s);
        for line in [
            "dialpop_originates_total 12",
            "dialpop_calls_ended_total{outcome=\"answered\"} 7",
            "dialpop_calls_hangup_cause_total{cause=\"USER_BUSY\"} 3",
            "dialpop_pops_total{outcome=\"not_acknowledged\"} 1",
            "dialpop_pop_ack_latency_seconds_count 5",
            "dialpop_pop_ack_latency_seconds_bucket{le=\"0.001\"} 2",
            "dialpop_pop_ack_latency_seconds_bucket{le=\"0.005\"} 3",
            "dialpop_pop_ack_latency_seconds_bucket{le=\"0.05\"} 4",
            "dialpop_pop_ack_latency_seconds_bucket{le=\"5.0\"} 4",
            "dialpop_pop_ack_latency_seconds_bucket{le=\"+Inf\"} 5",
            "dialpop_agents{state=\"on_call\"} 1",
            "dialpop_switch_up{switch=\"fs1\"} 1",
            "dialpop_switch_reconnects_total{switch=\"fs1\"} 2",
            "dialpop_source_failures_total{source=\"crm\",reason=\"timeout\"} 2",
        ] {
            assert!(text.lines().any(|l| l == line), "{line:?} in:\n{text}");
        }
        assert!(text.ends_with("# EOF\n"));
        let sum: f64 = text
            .lines()
            .find_map(|l| l.strip_prefix("dialpop_pop_ack_latency_seconds_sum "))
            .and_then(|v| v.parse().ok())
            .unwrap_or(0.0);
        assert!((sum - 9.0443).abs() < 0.01, "{sum}");
    }
}
