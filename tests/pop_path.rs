//! Nothing lost on the pop path, whatever the order things happen in: a
//! logout during a claim dials nothing; an ack after the hang-up, or before
//! the pop's row is written, is recorded; a call that ends before its
//! lookup finishes still pops, once, saying the call has ended.

mod common;
mod support;

use common::{AckWhen, CAMPAIGN, Lab, check_campaign, lab_on};
use dialpop::daemon::Daemon;
use dialpop::popup::messages::{ClientMsg, ServerMsg};
use dialpop::switch::sim::SimProtocol;
use futures::{SinkExt, StreamExt};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;
use support::slow_store::{Delays, SlowStore};
use tokio_tungstenite::tungstenite::Message;

async fn start_slow(lab: &Lab, delays: &Arc<Delays>) -> Daemon {
    let mut setup = lab.setup();
    setup.store = Arc::new(SlowStore {
        inner: lab.store.clone(),
        delays: delays.clone(),
    });
    Daemon::start(setup).await.expect("daemon")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_logout_during_a_claim_dials_nothing() {
    for protocol in [SimProtocol::Esl, SimProtocol::Ami] {
        let lab = lab_on(protocol, "logout-claim", 1, &[(1, 3)], 10.0).await;
        let delays = Arc::new(Delays::default());
        delays.claim_ms.store(800, Ordering::Relaxed);
        let daemon = start_slow(&lab, &delays).await;
        let (ws, _) = tokio_tungstenite::connect_async(format!("ws://{}/ws/agent", daemon.addr))
            .await
            .expect("connects");
        let (mut tx, mut rx) = ws.split();
        let auth = serde_json::to_string(&ClientMsg::Auth {
            token: lab.agents[0].1.clone(),
            locale: None,
        })
        .expect("json");
        tx.send(Message::Text(auth.into())).await.expect("auth");
        // Signed in: the dialer reserves the agent and starts a claim...
        let hello = rx.next().await.expect("hello").expect("frame");
        assert!(hello.to_text().unwrap_or_default().contains("hello"));
        tokio::time::sleep(Duration::from_millis(200)).await;
        // ...and the agent leaves while the claim is under way.
        drop((tx, rx));
        tokio::time::sleep(Duration::from_millis(2000)).await;
        assert_eq!(
            lab.sim.originates().len(),
            0,
            "{protocol:?}: a call was placed for an agent who had left"
        );
        let counts = lab.store.task_counts(CAMPAIGN).await.expect("counts");
        assert_eq!(counts.pending, 3, "{counts:?}");
        let mut signed_out = 0;
        for id in 1..=3 {
            assert_eq!(
                lab.store.task(id).await.expect("t").expect("task").attempts,
                0
            );
            for a in lab.store.attempts_for_task(id).await.expect("attempts") {
                assert_eq!(a.outcome.as_deref(), Some("not_placed"));
                assert_eq!(a.hangup_cause.as_deref(), Some("AGENT_SIGNED_OUT"));
                signed_out += 1;
            }
        }
        assert_eq!(signed_out, 1, "the claim under way was given back");
        daemon.stop().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acks_after_the_hangup_are_recorded() {
    let lab = lab_on(SimProtocol::Esl, "ack-late", 3, &[(1, 9), (2, 2)], 10.0).await;
    let daemon = lab.start_daemon().await;
    let stop = tokio_util::sync::CancellationToken::new();
    let pages = lab.pages(daemon.addr, &stop, AckWhen::AfterHangup);
    lab.wait_done(Duration::from_secs(60)).await;
    daemon.writer.flush().await;
    // Every pop acknowledged, each after its call had ended.
    let counts = check_campaign(&lab, &pages).await;
    assert_eq!(counts.pops, 9, "{counts:?}");
    for id in 1..=11 {
        for a in lab.store.attempts_for_task(id).await.expect("attempts") {
            for (_, _, acked) in lab.store.pops_for_call(&a.call_id).await.expect("pops") {
                let (acked, hung) = (acked.expect("acked"), a.hangup_ms.expect("closed"));
                assert!(
                    acked >= hung,
                    "ack at {acked} came after the hang-up at {hung}"
                );
            }
        }
    }
    stop.cancel();
    daemon.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_ack_before_the_pop_row_is_written_is_recorded() {
    let lab = lab_on(SimProtocol::Ami, "ack-early", 3, &[(1, 9)], 10.0).await;
    let delays = Arc::new(Delays::default());
    // Every write waits: the pages ack long before the pop's row lands.
    delays.apply_ms.store(300, Ordering::Relaxed);
    let daemon = start_slow(&lab, &delays).await;
    let stop = tokio_util::sync::CancellationToken::new();
    let pages = lab.pages(daemon.addr, &stop, AckWhen::AtOnce);
    lab.wait_done(Duration::from_secs(60)).await;
    daemon.writer.flush().await;
    let counts = check_campaign(&lab, &pages).await;
    assert_eq!(counts.pops, 9, "{counts:?}");
    let (delivered, acked, ..) = daemon.hub.stats.summary();
    assert_eq!((delivered, acked), (9, 9));
    assert_eq!(daemon.writer.stats().failed, 0);
    stop.cancel();
    daemon.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_call_that_ends_before_its_lookup_pops_once() {
    let lab = lab_on(SimProtocol::Esl, "lookup-late", 3, &[(1, 6)], 10.0).await;
    let delays = Arc::new(Delays::default());
    // The record takes longer to read than the calls last.
    delays.customer_ms.store(3000, Ordering::Relaxed);
    let daemon = start_slow(&lab, &delays).await;
    let stop = tokio_util::sync::CancellationToken::new();
    let pages = lab.pages(daemon.addr, &stop, AckWhen::AtOnce);
    lab.wait_done(Duration::from_secs(90)).await;
    // The last pops wait for their lookups.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while daemon.hub.stats.summary().1 < 6 && tokio::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    daemon.writer.flush().await;
    let counts = check_campaign(&lab, &pages).await;
    assert_eq!(counts.pops, 6, "{counts:?}");
    let mut ended_pops = 0;
    for seen in pages.values() {
        for m in &seen.lock().expect("seen").messages {
            if let ServerMsg::Pop {
                call_ended,
                customer,
                ..
            } = m
            {
                assert!(*call_ended, "the call was over before its record came");
                assert!(
                    customer.contains_key("name"),
                    "the record came: {customer:?}"
                );
                ended_pops += 1;
            }
        }
    }
    assert_eq!(ended_pops, 6, "one pop per answered call");
    stop.cancel();
    daemon.stop().await;
}
