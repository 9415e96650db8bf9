use super::*;

fn state(window: u64) -> State {
    State::new(
        &MonitorConfig {
            window_seconds: window,
            threshold_percent: 10.0,
            min_events: 5,
            ack_within_seconds: 2.0,
            webhook: None,
        },
        None,
    )
}

fn sent(s: &mut State, id: &str, campaign: &str, degraded: bool, at: Instant) {
    s.observe(
        Observation::PopSent {
            pop_id: id.into(),
            campaign: Arc::from(campaign),
            degraded,
            answered_at: at,
        },
        at,
    );
}

#[test]
fn unacknowledged_pops_fail_at_their_due_time_and_the_alert_fires_once() {
    let mut s = state(60);
    let t0 = s.started;
    for i in 0..10 {
        sent(&mut s, &format!("p{i}"), "spring", false, t0);
    }
    for i in 0..8 {
        s.observe(
            Observation::PopAcked {
                pop_id: format!("p{i}"),
            },
            t0,
        );
    }
    let v = s.judge(t0 + Duration::from_secs(1));
    assert_eq!(v.overall.pop_failures.total, 8, "two still pending");
    assert!(v.recent.is_empty());
    s.expire(t0 + Duration::from_secs(3));
    let v = s.judge(t0 + Duration::from_secs(3));
    assert_eq!(v.overall.pop_failures.failed, 2);
    assert_eq!(s.expired.load(std::sync::atomic::Ordering::Relaxed), 2);
    assert!(v.overall.pop_failures.firing);
    assert!(v.campaigns[0].pop_failures.firing);
    assert_eq!(
        v.recent.len(),
        2,
        "overall and the campaign: {:?}",
        v.recent
    );
    assert!(
        v.recent
            .iter()
            .all(|a| a.status == Transition::Firing && a.alert == "pop_failure_rate")
    );
    // A late ack changes nothing: the pop had failed.
    s.observe(
        Observation::PopAcked {
            pop_id: "p9".into(),
        },
        t0 + Duration::from_secs(3),
    );
    let v = s.judge(t0 + Duration::from_secs(4));
    assert_eq!(v.overall.pop_failures.failed, 2);
    assert_eq!(v.recent.len(), 2, "fired once");
    assert!(!v.overall.fetch_failures.firing);
}

#[test]
fn the_window_slides_the_alert_into_recovery() {
    let mut s = state(10);
    let t0 = s.started;
    for i in 0..6 {
        sent(&mut s, &format!("d{i}"), "spring", true, t0);
    }
    let v = s.judge(t0);
    assert!(v.overall.fetch_failures.firing && v.overall.pop_failures.firing);
    // Ten seconds on, good pops only.
    let t1 = t0 + Duration::from_secs(11);
    for i in 0..6 {
        sent(&mut s, &format!("g{i}"), "spring", false, t1);
        s.observe(
            Observation::PopAcked {
                pop_id: format!("g{i}"),
            },
            t1,
        );
    }
    let v = s.judge(t1);
    assert!(!v.overall.pop_failures.firing);
    let resolved: Vec<_> = v
        .recent
        .iter()
        .filter(|a| a.status == Transition::Resolved)
        .collect();
    assert_eq!(
        resolved.len(),
        4,
        "two kinds, overall and campaign: {:?}",
        v.recent
    );
    assert_eq!(v.overall.pop_failures.total, 6);
}

#[test]
fn an_idle_campaign_leaves_the_view() {
    let mut s = state(5);
    let t0 = s.started;
    sent(&mut s, "a", "autumn", false, t0);
    s.observe(Observation::PopAcked { pop_id: "a".into() }, t0);
    assert_eq!(s.judge(t0).campaigns.len(), 1);
    assert_eq!(s.judge(t0 + Duration::from_secs(30)).campaigns.len(), 0);
}
