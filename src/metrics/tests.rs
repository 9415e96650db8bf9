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
        pops_unacknowledged: 1,
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
            latency: Counted::of_micros(&h),
            ..SourceSample::default()
        }],
        campaigns: vec![CampaignSample {
            campaign: "spring".into(),
            originates: 12,
            calls: BTreeMap::from([("answered", 7), ("abandoned", 1)]),
            dialing: crate::dialer::CampaignCalls {
                people: 8,
                connected: 7,
                abandoned: 1,
                machines: 2,
                connect_ms_sum: 1500.0,
                dial_level: 1.75,
                ..Default::default()
            },
        }],
        agent_time: crate::dialer::agents::AgentTime {
            talk_s: 300.0,
            wrap_s: 60.0,
            idle_s: 40.0,
        },
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
        "dialpop_source_request_latency_seconds_count{source=\"crm\"} 5",
        "dialpop_source_request_latency_seconds_bucket{le=\"0.001\",source=\"crm\"} 2",
        "dialpop_campaign_originates_total{campaign=\"spring\"} 12",
        "dialpop_campaign_calls_ended_total{campaign=\"spring\",outcome=\"abandoned\"} 1",
        "dialpop_campaign_people_answered_total{campaign=\"spring\",result=\"connected\"} 7",
        "dialpop_campaign_people_answered_total{campaign=\"spring\",result=\"abandoned\"} 1",
        "dialpop_campaign_machines_total{campaign=\"spring\"} 2",
        "dialpop_campaign_connect_seconds_total{campaign=\"spring\"} 1.5",
        "dialpop_campaign_dial_level{campaign=\"spring\"} 1.75",
        "dialpop_agent_time_seconds_total{activity=\"idle\"} 40.0",
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
