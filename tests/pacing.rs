//! A switch's originates are paced: a batch of claimed calls reaches the
//! switch spaced by its `originates_per_second`, not all at once.

mod common;

use common::{AckWhen, check_campaign, lab};
use dialpop::daemon::Daemon;
use std::time::Duration;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn calls_reach_the_switch_no_faster_than_its_pace() {
    paced("paced", |setup, rate| {
        setup.plan.switches[0].originates_per_second = rate
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_global_cap_holds_whatever_the_switch_allows() {
    paced("global-cap", |setup, rate| {
        setup.plan.switches[0].originates_per_second = 1000.0;
        setup.plan.max_originates_per_second = Some(rate);
    })
    .await;
}

async fn paced(name: &str, limit: impl FnOnce(&mut dialpop::daemon::DaemonSetup, f64)) {
    const CALLS: usize = 12;
    const PER_SECOND: f64 = 10.0;
    // As many agents as calls: without pacing, every call would be claimed
    // and placed in the first few milliseconds.
    let lab = lab(name, CALLS, &[(1, CALLS)], 20.0).await;
    let mut setup = lab.setup();
    limit(&mut setup, PER_SECOND);
    let daemon = Daemon::start(setup).await.expect("daemon starts");
    let stop = tokio_util::sync::CancellationToken::new();
    let pages = lab.pages(daemon.addr, &stop, AckWhen::AtOnce);
    lab.wait_done(Duration::from_secs(60)).await;
    let counts = check_campaign(&lab, &pages).await;
    assert_eq!(counts.answered, CALLS);
    assert_eq!(counts.pops, CALLS);

    // The switch's ringing, which follows each originate, is the closest
    // the store comes to when the switch took the call.
    let mut rings = Vec::new();
    for t in 1..=CALLS as i64 {
        for a in lab.store.attempts_for_task(t).await.expect("attempts") {
            rings.push(a.ring_ms.expect("rang"));
        }
    }
    rings.sort_unstable();
    assert_eq!(rings.len(), CALLS);
    // Lower bounds only: a slow machine spreads them more, never less.
    let spread = rings[CALLS - 1] - rings[0];
    let least = ((CALLS - 1) as f64 * 1000.0 / PER_SECOND * 0.9) as i64;
    assert!(
        spread >= least,
        "{CALLS} calls rang within {spread} ms: {rings:?}"
    );
    let bunched = rings.windows(3).filter(|w| w[2] - w[0] < 50).count();
    assert_eq!(bunched, 0, "three calls within 50 ms: {rings:?}");
    stop.cancel();
    daemon.stop().await;
}
