//! `/metrics` as Prometheus reads it, during a campaign on the simulated
//! switch: every figure moves with the calls, the histogram counts every
//! acknowledged pop, no label carries a customer's number or name, and only
//! an admin or a `metrics` token may read it.

mod common;
mod support;

use common::{API_TOKEN, AckWhen, lab};
use serde_json::json;
use std::collections::HashMap;
use std::time::Duration;
use support::http::Api;

/// The samples of an OpenMetrics text, by series (name and labels).
fn samples(text: &str) -> HashMap<String, f64> {
    text.lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
        .filter_map(|l| {
            let (series, value) = l.rsplit_once(' ')?;
            Some((series.to_string(), value.parse().ok()?))
        })
        .collect()
}

async fn scrape(api: &Api) -> (String, HashMap<String, f64>) {
    let (code, v) = api.get("/metrics").await;
    assert_eq!(code, 200, "{v}");
    let text = v.as_str().expect("text").to_string();
    assert!(text.ends_with("# EOF\n"), "OpenMetrics ends with # EOF");
    let s = samples(&text);
    (text, s)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_move_with_a_campaign_and_carry_no_customer_data() {
    // Answered, busy and unanswered numbers.
    let lab = lab("metrics", 3, &[(1, 12), (2, 4), (3, 3)], 20.0).await;
    let daemon = lab.start_daemon().await;
    let admin = Api::new(daemon.addr, Some(API_TOKEN));
    let (before_text, before) = scrape(&admin).await;
    assert_eq!(
        before.get("dialpop_originates_total"),
        Some(&0.0),
        "{before_text}"
    );
    let stop = tokio_util::sync::CancellationToken::new();
    let pages = lab.pages(daemon.addr, &stop, AckWhen::AtOnce);
    // While it runs: agents are counted by state, the switch is up.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        let (_, s) = scrape(&admin).await;
        let working: f64 = ["reserved", "on_call", "wrap_up", "available"]
            .iter()
            .filter_map(|st| s.get(&format!("dialpop_agents{{state=\"{st}\"}}")))
            .sum();
        if working == 3.0 {
            assert_eq!(s.get("dialpop_switch_up{switch=\"sim\"}"), Some(&1.0));
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "agents never signed in: {s:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    lab.wait_done(Duration::from_secs(90)).await;
    let counts = common::check_campaign(&lab, &pages).await;
    // The last acknowledgements reach the hub.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    let (text, s) = loop {
        let (text, s) = scrape(&admin).await;
        let acked = s
            .get("dialpop_pops_total{outcome=\"acknowledged\"}")
            .copied();
        if acked == Some(counts.answered as f64) {
            break (text, s);
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "acks: {acked:?} of {}",
            counts.answered
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let get = |k: &str| {
        s.get(k)
            .copied()
            .unwrap_or_else(|| panic!("{k} in:\n{text}"))
    };
    assert_eq!(get("dialpop_originates_total"), counts.originates as f64);
    assert_eq!(
        get("dialpop_calls_ended_total{outcome=\"answered\"}"),
        counts.answered as f64
    );
    assert!(get("dialpop_calls_ended_total{outcome=\"busy\"}") >= 4.0);
    assert!(get("dialpop_calls_hangup_cause_total{cause=\"USER_BUSY\"}") >= 4.0);
    assert!(get("dialpop_calls_hangup_cause_total{cause=\"NORMAL_CLEARING\"}") >= 12.0);
    assert_eq!(
        get("dialpop_pops_total{outcome=\"delivered\"}"),
        counts.answered as f64
    );
    assert_eq!(get("dialpop_pops_total{outcome=\"not_acknowledged\"}"), 0.0);
    assert_eq!(get("dialpop_pops_total{outcome=\"degraded\"}"), 0.0);
    assert_eq!(
        get("dialpop_pop_ack_latency_seconds_count"),
        counts.answered as f64
    );
    assert_eq!(
        get("dialpop_pop_ack_latency_seconds_bucket{le=\"+Inf\"}"),
        counts.answered as f64
    );
    assert!(get("dialpop_pop_ack_latency_seconds_sum") > 0.0);
    assert_eq!(
        get("dialpop_pop_sent_latency_seconds_count"),
        counts.answered as f64
    );
    // A pop is handed to the page before the page can acknowledge it.
    assert!(
        get("dialpop_pop_sent_latency_seconds_sum") <= get("dialpop_pop_ack_latency_seconds_sum")
    );
    let campaign = |name: &str, labels: &str| {
        let sep = if labels.is_empty() { "" } else { "," };
        get(&format!(
            "dialpop_campaign_{name}{{campaign=\"{}\"{sep}{labels}}}",
            common::CAMPAIGN
        ))
    };
    assert_eq!(campaign("originates_total", ""), counts.originates as f64);
    assert_eq!(
        campaign("calls_ended_total", "outcome=\"answered\""),
        counts.answered as f64
    );
    assert!(campaign("calls_ended_total", "outcome=\"busy\"") >= 4.0);
    assert!(get("dialpop_store_writes_total{result=\"written\"}") > 0.0);
    assert!(get("dialpop_store_write_latency_seconds_count") > 0.0);
    assert!(get("dialpop_store_write_latency_seconds_sum") > 0.0);
    let requests = get("dialpop_source_requests_total{source=\"internal\"}");
    assert!(requests > 0.0);
    assert_eq!(
        get("dialpop_source_request_latency_seconds_count{source=\"internal\"}"),
        requests,
        "every request to the source is timed"
    );
    // Preloaded while ringing: the answer's lookup finds the cache.
    assert!(get("dialpop_source_cache_hits_total{source=\"internal\",level=\"memory\"}") > 0.0);
    assert_eq!(get("dialpop_store_writes_total{result=\"failed\"}"), 0.0);
    assert!(get("dialpop_source_lookups_total{source=\"internal\"}") >= counts.answered as f64);
    assert_eq!(get("dialpop_live_calls"), 0.0);
    // No customer value anywhere in the text.
    for n in 0..19 {
        let c = lab
            .store
            .customer(&format!("cust{n:04}"))
            .await
            .expect("store")
            .expect("customer");
        assert!(!text.contains(&c.phone), "{} in the metrics", c.phone);
        assert!(!text.contains(&c.name), "a name in the metrics");
        assert!(
            !text.contains(&c.phone[1..]),
            "digits of a number in the metrics"
        );
    }

    // A cut connection counts as a reconnect.
    assert!(lab.sim.drop_connections() >= 1);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        let (_, s) = scrape(&admin).await;
        if s.get("dialpop_switch_reconnects_total{switch=\"sim\"}") == Some(&1.0)
            && s.get("dialpop_switch_up{switch=\"sim\"}") == Some(&1.0)
        {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "no reconnect counted"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    // Who may read it.
    let (code, v) = admin
        .post(
            "/api/tokens",
            &json!({"name": "prom", "role": "metrics"}).to_string(),
        )
        .await;
    assert_eq!(code, 201, "{v}");
    let scraper = Api::new(daemon.addr, v["token"].as_str());
    assert_eq!(scraper.get("/metrics").await.0, 200);
    assert_eq!(
        scraper.get("/api/campaigns").await.0,
        403,
        "a metrics token reads only metrics"
    );
    assert_eq!(Api::new(daemon.addr, None).get("/metrics").await.0, 401);
    let (_, v) = admin
        .post(
            "/api/tokens",
            &json!({"name": "shop", "role": "tasks"}).to_string(),
        )
        .await;
    assert_eq!(
        Api::new(daemon.addr, v["token"].as_str())
            .get("/metrics")
            .await
            .0,
        403
    );
    stop.cancel();
    daemon.stop().await;
}
