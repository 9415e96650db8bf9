//! `GET /metrics` for Prometheus: an admin token or a `metrics` one (a
//! scraper's token can read the figures and nothing else).

use super::AppState;
use crate::customer::breaker::BreakerState;
use crate::dialer::switches::Link;
use crate::metrics::{CampaignSample, Sample, SourceSample, SwitchSample, render};
use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};

pub async fn scrape(State(s): State<AppState>) -> Response {
    let sample = sample(&s).await;
    (
        [(
            header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        render(&sample),
    )
        .into_response()
}

async fn sample(s: &AppState) -> Sample {
    let (delivered, acked, ..) = s.hub.stats.summary();
    let mut out = Sample {
        pops_delivered: delivered,
        pops_acked: acked,
        ack_latency: s.hub.stats.latency(),
        sent_latency: s.hub.stats.sent_latency(),
        pops_unacknowledged: s.monitor.unacknowledged(),
        refused_sockets: s.guard.refused().sockets,
        refused_locked_out: s.guard.refused().locked_out,
        sign_in_failures: s.guard.refused().failed_sign_ins,
        write_latency: s.writer.commit_latency(),
        cache_entries: s.customers.cached_entries().await,
        fenced_writes: s.store.fenced_writes(),
        cluster_switches: s
            .cluster
            .as_ref()
            .map(|c| {
                let driving = c.shards.switches();
                c.homes
                    .switches()
                    .iter()
                    .map(|sw| (sw.clone(), driving.contains(sw)))
                    .collect()
            })
            .unwrap_or_default(),
        broker_connected: s.relay.as_ref().map(|r| r.connected()),
        ..Sample::default()
    };
    if let Some(d) = s.dialer.snapshot().await {
        let st = &d.stats;
        out.originates = st.calls;
        out.calls = [
            ("answered", st.answered),
            ("busy", st.busy),
            ("no_answer", st.no_answer),
            ("failed", st.failed),
            ("vanished", st.vanished),
            ("not_placed", st.not_placed),
            ("abandoned", st.abandoned),
            ("machine", st.machines),
        ]
        .into_iter()
        .collect();
        out.causes = st.causes.clone();
        out.campaigns = st
            .campaigns
            .iter()
            .map(|(id, c)| CampaignSample {
                campaign: id.clone(),
                originates: c.originates,
                calls: c.ended.clone(),
                dialing: c.clone(),
            })
            .collect();
        out.agent_time = d.agent_time;
        out.pops_degraded = st.pops_degraded;
        out.pops_filtered = st.pops_filtered;
        out.live_calls = d.live_calls as u64;
        out.agents = d
            .agent_counts
            .iter()
            .map(|(k, v)| (k.clone(), *v as u64))
            .collect();
        out.switches = d
            .switches
            .iter()
            .map(|w| SwitchSample {
                name: w.name.clone(),
                up: w.link == Link::Up,
                healthy: w.healthy,
                calls: w.calls as u64,
                max_calls: w.max_calls as u64,
                reconnects: w.reconnects,
            })
            .collect();
        out.writes = d.writer.written;
        out.writes_retried = d.writer.retried;
        out.writes_failed = d.writer.failed;
        out.write_queue = d.writer.queued;
    }
    out.sources = s
        .customers
        .sources()
        .into_iter()
        .map(|i| SourceSample {
            name: i.name,
            lookups: i.counters.lookups,
            memory_hits: i.counters.memory_hits,
            redis_hits: i.counters.redis_hits,
            requests: i.counters.requests,
            not_found: i.counters.not_found,
            failures: i
                .counters
                .failures
                .into_iter()
                .map(|(k, v)| (k.to_string(), v))
                .collect(),
            breaker_open: i.breaker == BreakerState::Open,
            latency: i.counters.latency,
        })
        .collect();
    out
}
