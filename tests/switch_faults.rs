//! Switch-side faults are not call outcomes: a switch that refuses every
//! originate (shutting down, out of sessions, refusing the command) costs no
//! attempt, leaves every task pending and is tried again sparingly; when it
//! recovers the campaign completes. A switch that is down at start delays
//! neither HTTP nor the other switch.

mod common;
mod support;

use common::{API_TOKEN, AckWhen, CAMPAIGN, check_campaign, lab_on};
use dialpop::daemon::Daemon;
use dialpop::switch::sim::{Refusal, SimProtocol};
use std::time::Duration;

async fn refusing_switch_consumes_nothing(protocol: SimProtocol, refusal: Refusal, tag: &str) {
    let lab = lab_on(protocol, tag, 3, &[(1, 8), (2, 2), (3, 2)], 10.0).await;
    lab.sim.refuse_originates(Some(refusal.clone()));
    let daemon = lab.start_daemon().await;
    let stop = tokio_util::sync::CancellationToken::new();
    let pages = lab.pages(daemon.addr, &stop, AckWhen::AtOnce);
    // While the switch refuses: its back-off (1 s, then 2 s) lets a trial
    // through now and then, never the queue.
    tokio::time::sleep(Duration::from_millis(2500)).await;
    let counts = lab.store.task_counts(CAMPAIGN).await.expect("counts");
    let mut refused = 0;
    for id in 1..=12 {
        refused += lab
            .store
            .attempts_for_task(id)
            .await
            .expect("attempts")
            .len();
    }
    // An ESL switch takes the bgapi before it refuses the session; an AMI
    // Response: Error is not an originate taken.
    assert!(lab.sim.originates().len() <= refused);
    println!("{refusal:?}: {refused} originates refused; {counts:?}");
    assert!(refused >= 1, "the switch was asked");
    assert!(
        refused <= lab.agents.len() + 3,
        "a refusing switch got {refused} originates: the queue was thrown at it"
    );
    assert_eq!(counts.done + counts.failed, 0, "no task ended: {counts:?}");
    for id in 1..=12 {
        let t = lab.store.task(id).await.expect("task").expect("exists");
        assert_eq!(t.attempts, 0, "task {id} was charged an attempt");
        for a in lab.store.attempts_for_task(id).await.expect("attempts") {
            assert_eq!(a.outcome.as_deref(), Some("not_placed"), "{a:?}");
            let cause = a.hangup_cause.unwrap_or_default();
            assert!(cause.starts_with("NOT_PLACED"), "{cause}");
        }
    }
    // The readiness check says which switch is resting and why.
    let ready = readyz(&daemon).await;
    assert_eq!(ready["ready"], false, "{ready}");
    assert_eq!(ready["switches"][0]["healthy"], false, "{ready}");
    // It recovers: the campaign completes, nothing lost, nothing twice.
    lab.sim.refuse_originates(None);
    lab.wait_done(Duration::from_secs(60)).await;
    let counts = check_campaign(&lab, &pages).await;
    println!("after recovery: {counts:?}");
    assert_eq!(counts.tasks, 12);
    assert_eq!(counts.done, 8, "every answering number was reached");
    assert_eq!(counts.failed, 4);
    assert_eq!(counts.not_placed, refused, "each refusal was recorded once");
    assert_eq!(counts.double_dialed, 0);
    assert_eq!(readyz(&daemon).await["ready"], true);
    stop.cancel();
    daemon.stop().await;
}

async fn readyz(daemon: &Daemon) -> serde_json::Value {
    let client = reqwest::Client::new();
    let r = client
        .get(format!("http://{}/readyz", daemon.addr))
        .bearer_auth(API_TOKEN)
        .send()
        .await
        .expect("readyz answers");
    r.json().await.expect("json")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn freeswitch_refusing_sessions() {
    refusing_switch_consumes_nothing(
        SimProtocol::Esl,
        Refusal::EslNoSession {
            cause: "DESTINATION_OUT_OF_ORDER".into(),
        },
        "fs-nosession",
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn freeswitch_in_standby() {
    refusing_switch_consumes_nothing(
        SimProtocol::Esl,
        Refusal::EslNoSession {
            cause: "SYSTEM_SHUTDOWN".into(),
        },
        "fs-standby",
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn asterisk_shutting_down() {
    refusing_switch_consumes_nothing(
        SimProtocol::Ami,
        Refusal::AmiError {
            message: "Asterisk is shutting down".into(),
        },
        "ast-shutdown",
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn asterisk_permission_denied() {
    refusing_switch_consumes_nothing(
        SimProtocol::Ami,
        Refusal::AmiError {
            message: "Permission denied".into(),
        },
        "ast-perm",
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn asterisk_without_a_channel() {
    refusing_switch_consumes_nothing(SimProtocol::Ami, Refusal::AmiNoChannel, "ast-nochan").await;
}

/// Two switches, the second one not listening at all: the daemon serves at
/// once and the campaign completes on the first.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_switch_down_at_start_delays_nothing() {
    let lab = lab_on(
        SimProtocol::Esl,
        "down-at-start",
        3,
        &[(1, 6), (2, 2)],
        10.0,
    )
    .await;
    let mut setup = lab.setup();
    // A port nobody listens on: bound, then closed.
    let dead = std::net::TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("addr");
    let (mut connect, mut plan) = lab.switch(&lab.sim, "asterisk");
    if let dialpop::daemon::SwitchConnect::Esl(c) = &mut connect {
        c.addr = dead.to_string();
    }
    plan.max_calls = 100;
    setup.switches.push(connect);
    setup.plan.switches.push(plan);
    // It used to wait here for ever, retrying the dead switch.
    let daemon = tokio::time::timeout(Duration::from_secs(20), Daemon::start(setup))
        .await
        .expect("the daemon starts while a switch is down")
        .expect("daemon");
    let health = reqwest::get(format!("http://{}/healthz", daemon.addr))
        .await
        .expect("HTTP answers");
    assert!(health.status().is_success());
    let stop = tokio_util::sync::CancellationToken::new();
    let pages = lab.pages(daemon.addr, &stop, AckWhen::AtOnce);
    lab.wait_done(Duration::from_secs(60)).await;
    let counts = check_campaign(&lab, &pages).await;
    assert_eq!((counts.done, counts.failed), (6, 2), "{counts:?}");
    assert_eq!(counts.double_dialed, 0);
    let ready = readyz(&daemon).await;
    assert_eq!(ready["switches"][1]["link"], "connecting", "{ready}");
    assert_eq!(ready["switches"][0]["link"], "up", "{ready}");
    assert_eq!(ready["ready"], true, "one switch takes calls: {ready}");
    stop.cancel();
    daemon.stop().await;
}
