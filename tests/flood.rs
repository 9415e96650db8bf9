//! A flood from loopback against the agent socket and the API: sockets
//! that never sign in, wrong tokens on the socket and in bearer headers.
//! The per-address limits turn the flood away with 429 while a page that
//! signed in before it gets and acknowledges every pop of its campaign.

mod common;
mod support;

use common::{API_TOKEN, AckWhen, lab};
use futures::SinkExt;
use std::time::Duration;
use support::http::Api;
use tokio_tungstenite::tungstenite::{self, Message};

/// The HTTP status a refused WebSocket handshake got (None: it opened).
fn refused_status(r: &Result<impl Sized, tungstenite::Error>) -> Option<u16> {
    match r {
        Err(tungstenite::Error::Http(resp)) => Some(resp.status().as_u16()),
        _ => None,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flood_is_turned_away_while_a_signed_in_agent_gets_its_pops() {
    let lab = lab("flood", 1, &[(1, 30)], 10.0).await;
    let mut setup = lab.setup();
    setup.limits = dialpop::api::guard::Limits {
        unauthenticated_sockets: 8,
        failures: 10,
        window: Duration::from_secs(60),
        lockout: Duration::from_secs(3),
    };
    let daemon = dialpop::daemon::Daemon::start(setup).await.expect("daemon");
    let url = format!("ws://{}/ws/agent", daemon.addr);
    let stop = tokio_util::sync::CancellationToken::new();
    let pages = lab.pages(daemon.addr, &stop, AckWhen::AtOnce);
    // The agent is signed in (its campaign starts dialing) before the flood.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    while lab.sim.originates().counts.is_empty() {
        assert!(tokio::time::Instant::now() < deadline, "no call placed");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }

    // 1. Sockets that open and never sign in: 8 are held, the rest get 429.
    let mut held = Vec::new();
    let mut refused = 0;
    for _ in 0..200 {
        let r = tokio_tungstenite::connect_async(url.as_str()).await;
        match refused_status(&r) {
            Some(429) => refused += 1,
            Some(other) => panic!("a flood socket got {other}"),
            None => held.push(r.expect("opened")),
        }
    }
    assert_eq!(held.len(), 8, "at most 8 unsigned sockets from one address");
    assert_eq!(refused, 192);
    drop(held);

    // 2. Wrong tokens on the socket: 10 failures, then the address is
    // locked out at the handshake.
    let mut socket_refusals = 0;
    for i in 0..60 {
        let r = tokio_tungstenite::connect_async(url.as_str()).await;
        if refused_status(&r) == Some(429) {
            socket_refusals += 1;
            continue;
        }
        // The slots of the sockets just dropped come back as their tasks
        // see the close; a refusal then is for too many unsigned sockets.
        let Ok((mut ws, _)) = r else { continue };
        let auth = format!(r#"{{"type":"auth","token":"wrong-{i}"}}"#);
        let _ = ws.send(Message::Text(auth.into())).await;
        // Read the refusal.
        use futures::StreamExt;
        let _ = tokio::time::timeout(Duration::from_secs(2), ws.next()).await;
    }
    assert!(
        socket_refusals >= 45,
        "only {socket_refusals} of 60 refused"
    );

    // 3. Wrong bearer tokens on the API: locked out too (same address).
    let bad = Api::new(daemon.addr, Some("not-a-token"));
    let (code, _) = bad.get("/api/campaigns").await;
    assert_eq!(code, 429, "still locked out");

    // The agent's page, signed in before, gets every pop meanwhile.
    lab.wait_done(Duration::from_secs(90)).await;
    let counts = common::check_campaign(&lab, &pages).await;
    assert_eq!(counts.answered, 30, "{counts:?}");
    assert_eq!(counts.pops, 30, "{counts:?}");

    // Once the lockout is over, a good token works from the same address;
    // the refusals are counted.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let admin = Api::new(daemon.addr, Some(API_TOKEN));
    let (code, v) = admin.get("/metrics").await;
    assert_eq!(code, 200, "{v}");
    let text = v.as_str().expect("text");
    let value = |series: &str| -> f64 {
        text.lines()
            .find_map(|l| l.strip_prefix(series)?.trim().parse().ok())
            .unwrap_or_else(|| panic!("{series} in {text}"))
    };
    assert!(value("dialpop_http_refused_total{reason=\"unauthenticated_sockets\"} ") >= 192.0);
    assert!(value("dialpop_http_refused_total{reason=\"locked_out\"} ") >= 46.0);
    assert!(value("dialpop_sign_in_failures_total ") >= 10.0);
    stop.cancel();
    daemon.stop().await;
}
