//! The campaigns' families: calls placed and ended, and for power and
//! predictive campaigns the people answered, connected and abandoned, the
//! machines, the time to connect and the dial level; the agents' time.
//! Rates over a window (abandon rate, mean connect time, idle time between
//! calls) are ratios of these counters' `rate()` over the window a query
//! picks.

use super::{Sample, counters, labels};
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::{Registry, Unit};
use std::sync::atomic::AtomicU64;

type Labels = Vec<(String, String)>;

fn float_counters(
    entries: impl IntoIterator<Item = (Labels, f64)>,
) -> Family<Labels, Counter<f64, AtomicU64>> {
    let f = Family::<Labels, Counter<f64, AtomicU64>>::default();
    for (l, v) in entries {
        f.get_or_create(&l).inc_by(v.max(0.0));
    }
    f
}

fn float_gauges(
    entries: impl IntoIterator<Item = (Labels, f64)>,
) -> Family<Labels, Gauge<f64, AtomicU64>> {
    let f = Family::<Labels, Gauge<f64, AtomicU64>>::default();
    for (l, v) in entries {
        f.get_or_create(&l).set(v);
    }
    f
}

pub(super) fn register(r: &mut Registry, s: &Sample) {
    let of = |c: &str| labels(&[("campaign", c)]);
    r.register(
        "campaign_originates",
        "Calls placed, by campaign",
        counters(s.campaigns.iter().map(|c| (of(&c.campaign), c.originates))),
    );
    r.register(
        "campaign_calls_ended",
        "Calls ended, by campaign and outcome (answer rate: answered over all; abandon rate: abandoned over answered and abandoned)",
        counters(s.campaigns.iter().flat_map(|c| {
            c.calls
                .iter()
                .map(|(o, n)| (labels(&[("campaign", &c.campaign), ("outcome", o)]), *n))
        })),
    );
    r.register(
        "campaign_people_answered",
        "Power and predictive: people who answered (machines left out), by campaign and what became of them (connected to an agent, abandoned); the abandon rate over a window is rate(abandoned) over rate(both)",
        counters(s.campaigns.iter().flat_map(|c| {
            [("connected", c.dialing.connected), ("abandoned", c.dialing.abandoned)]
                .map(|(what, n)| (labels(&[("campaign", &c.campaign), ("result", what)]), n))
        })),
    );
    r.register(
        "campaign_machines",
        "Answering machines detected, by campaign",
        counters(
            s.campaigns
                .iter()
                .map(|c| (of(&c.campaign), c.dialing.machines)),
        ),
    );
    r.register_with_unit(
        "campaign_connect",
        "Power and predictive: time from the answer (after the machine verdict) to the agent, summed, by campaign (mean: over campaign_people_answered{result=\"connected\"})",
        Unit::Seconds,
        float_counters(
            s.campaigns
                .iter()
                .map(|c| (of(&c.campaign), c.dialing.connect_ms_sum / 1e3)),
        ),
    );
    r.register(
        "campaign_dial_level",
        "Power and predictive: calls up per logged-in agent of the campaign",
        float_gauges(
            s.campaigns
                .iter()
                .map(|c| (of(&c.campaign), c.dialing.dial_level)),
        ),
    );
    r.register(
        "campaign_dial_gain",
        "Predictive: the abandon-rate controller's gain on its estimate",
        float_gauges(
            s.campaigns
                .iter()
                .map(|c| (of(&c.campaign), c.dialing.gain)),
        ),
    );
    let t = &s.agent_time;
    r.register_with_unit(
        "agent_time",
        "Seconds agents spent logged in, by activity (occupancy: talk and wrap_up over all; idle between calls: idle over calls answered)",
        Unit::Seconds,
        float_counters([
            (labels(&[("activity", "talk")]), t.talk_s),
            (labels(&[("activity", "wrap_up")]), t.wrap_s),
            (labels(&[("activity", "idle")]), t.idle_s),
        ]),
    );
}
