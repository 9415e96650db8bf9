//! The pop-success monitor against a real webhook receiver on loopback:
//! pages that stop acknowledging their pops push the failure rate over the
//! threshold, and the alert is POSTed once; pages that acknowledge again
//! bring it back, and the recovery is POSTed once. The admin API shows the
//! same.

mod common;
mod support;

use axum::Json;
use axum::extract::State;
use axum::routing::post;
use common::{API_TOKEN, AckWhen, lab};
use dialpop::monitor::config::{MonitorConfig, WebhookConfig};
use serde_json::Value;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use support::browser::Browser;
use support::http::Api;

type Received = Arc<Mutex<Vec<Value>>>;

/// A webhook receiver: every JSON body POSTed to /hooks/{secret}.
async fn receiver() -> (String, Received) {
    let got: Received = Arc::default();
    let app = axum::Router::new()
        .route(
            "/hooks/s3cr3t-path",
            post(
                |State(got): State<Received>, Json(v): Json<Value>| async move {
                    got.lock().expect("lock").push(v);
                    "ok"
                },
            ),
        )
        .with_state(got.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    (format!("http://{addr}/hooks/s3cr3t-path"), got)
}

fn of<'a>(got: &'a [Value], alert: &str, campaign: Option<&str>) -> Vec<&'a Value> {
    got.iter()
        .filter(|v| v["alert"] == alert && v["campaign"].as_str() == campaign)
        .collect()
}

async fn wait_for(got: &Received, what: &str, limit: Duration, done: impl Fn(&[Value]) -> bool) {
    let deadline = tokio::time::Instant::now() + limit;
    loop {
        if done(&got.lock().expect("lock")) {
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "{what}: the receiver has {:?}",
            got.lock().expect("lock")
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unacknowledged_pops_fire_one_alert_and_one_recovery() {
    let (url, got) = receiver().await;
    let lab = lab("monitor", 2, &[(1, 400)], 20.0).await;
    let mut setup = lab.setup();
    setup.monitor = MonitorConfig {
        window_seconds: 2,
        threshold_percent: 5.0,
        min_events: 4,
        ack_within_seconds: 0.3,
        webhook: Some(WebhookConfig {
            url: url.clone(),
            timeout_ms: 2_000,
        }),
    };
    let daemon = dialpop::daemon::Daemon::start(setup).await.expect("daemon");
    let admin = Api::new(daemon.addr, Some(API_TOKEN));

    // Pages that never acknowledge: every pop fails.
    let broken = tokio_util::sync::CancellationToken::new();
    let _pages = lab.pages(daemon.addr, &broken, AckWhen::Never);
    wait_for(&got, "no alert", Duration::from_secs(30), |g| {
        !of(g, "pop_failure_rate", None).is_empty()
    })
    .await;
    {
        let g = got.lock().expect("lock");
        let a = of(&g, "pop_failure_rate", None)[0];
        assert_eq!(a["status"], "firing");
        assert_eq!(a["source"], "dialpop");
        assert_eq!(a["threshold"], 0.05);
        assert_eq!(a["window_seconds"], 2);
        assert!(a["rate"].as_f64().expect("rate") > 0.05, "{a}");
        assert!(a["total"].as_u64().expect("total") >= 4, "{a}");
        assert!(a["failed"].as_u64() <= a["total"].as_u64());
    }
    let (code, v) = admin.get("/api/monitor").await;
    assert_eq!(code, 200, "{v}");
    assert_eq!(v["overall"]["pop_failures"]["firing"], true, "{v}");
    assert_eq!(v["overall"]["fetch_failures"]["firing"], false, "{v}");
    assert_eq!(v["recent"][0]["status"], "firing", "{v}");
    let target = v["webhook"]["target"].as_str().expect("target");
    assert!(
        !target.contains("s3cr3t"),
        "the webhook's path is shown: {target}"
    );

    // The admin page's "Pop health" tab shows it, in Chromium.
    let b = Browser::start().await;
    b.goto(&format!("http://{}/admin", daemon.addr)).await;
    b.type_into("admin-token", API_TOKEN).await;
    b.click("admin-sign-in").await;
    b.click("tab-monitor").await;
    b.wait_for(
        r#"[data-testid="m-row"][data-scope=""] [data-testid="m-pops-state"][data-firing="true"]"#,
    )
    .await;
    b.wait_for(&format!(
        r#"[data-testid="m-row"][data-scope="{}"] [data-testid="m-fetches-state"][data-firing="false"]"#,
        common::CAMPAIGN
    ))
    .await;
    b.wait_for(r#"[data-testid="m-alert"][data-status="firing"]"#)
        .await;
    let hook = b.text_of("m-webhook").await;
    assert!(
        hook.contains("http://127.0.0.1") && !hook.contains("s3cr3t"),
        "{hook}"
    );
    b.close().await;

    // The pages are mended: pops are acknowledged again.
    broken.cancel();
    let mended = tokio_util::sync::CancellationToken::new();
    let _pages = lab.pages(daemon.addr, &mended, AckWhen::AtOnce);
    wait_for(&got, "no recovery", Duration::from_secs(30), |g| {
        of(g, "pop_failure_rate", None)
            .iter()
            .any(|v| v["status"] == "resolved")
    })
    .await;
    // Calls go on for a while longer: nothing more is sent.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let g = got.lock().expect("lock").clone();
    for campaign in [None, Some(common::CAMPAIGN)] {
        let statuses: Vec<&Value> = of(&g, "pop_failure_rate", campaign)
            .iter()
            .map(|v| &v["status"])
            .collect();
        assert_eq!(statuses, ["firing", "resolved"], "{campaign:?}: {g:?}");
    }
    assert!(
        of(&g, "fetch_failure_rate", None).is_empty(),
        "every record was found: {g:?}"
    );
    let (_, v) = admin.get("/api/monitor").await;
    assert_eq!(v["overall"]["pop_failures"]["firing"], false, "{v}");
    assert!(
        v["overall"]["pop_failures"]["total"].as_u64() > Some(0),
        "still dialing: {v}"
    );
    assert_eq!(v["webhook"]["sent"], 4, "{v}");
    assert_eq!(v["webhook"]["failed"], 0, "{v}");
    mended.cancel();
    daemon.stop().await;
}
