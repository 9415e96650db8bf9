//! One daemon, two switches: calls spread by free capacity, and dialing goes
//! on when one switch is down.

mod common;

use common::{agent_client, check_campaign, lab};
use dialpop::daemon::{Daemon, SwitchConnect};
use dialpop::switch::esl::client::EslClientConfig;
use dialpop::switch::sim::{SimConfig, SimSwitch};
use std::collections::HashMap;
use std::time::Duration;

async fn second_switch(speed: f64) -> SimSwitch {
    SimSwitch::start(SimConfig {
        speed,
        seed: 2,
        ..SimConfig::default()
    })
    .await
    .expect("second simulated switch")
}

fn with_second(
    lab: &common::Lab,
    other: &SimSwitch,
    max_each: usize,
) -> dialpop::daemon::DaemonSetup {
    let mut setup = lab.setup();
    setup.plan.switches[0].max_calls = max_each;
    let mut b = setup.plan.switches[0].clone();
    b.name = "sim-b".into();
    setup.plan.switches.push(b);
    let mut esl = EslClientConfig::new(other.local_addr().to_string(), "ClueCon");
    esl.backoff_initial = Duration::from_millis(100);
    setup.switches.push(SwitchConnect::Esl(esl));
    setup
}

async fn attempts_per_switch(lab: &common::Lab) -> HashMap<String, usize> {
    let mut per = HashMap::new();
    let mut t = 1;
    while let Some(task) = lab.store.task(t).await.expect("store") {
        for a in lab
            .store
            .attempts_for_task(task.id)
            .await
            .expect("attempts")
        {
            *per.entry(a.switch_name).or_default() += 1;
        }
        t += 1;
    }
    per
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn calls_spread_over_two_switches_by_free_capacity() {
    let lab = lab("two", 4, &[(5, 12)], 20.0).await;
    let other = second_switch(20.0).await;
    let daemon = Daemon::start(with_second(&lab, &other, 2))
        .await
        .expect("daemon");
    let url = format!("ws://{}/ws/agent", daemon.addr);
    let stop = tokio_util::sync::CancellationToken::new();
    let mut pages = HashMap::new();
    for (a, t) in &lab.agents {
        pages.insert(
            a.id.clone(),
            agent_client(url.clone(), t.clone(), stop.clone()),
        );
    }
    // Four agents, two calls allowed on each switch: both must carry calls,
    // and neither more than its share at once.
    let mut peak = (0, 0);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    loop {
        peak = (
            peak.0.max(lab.sim.live_calls()),
            peak.1.max(other.live_calls()),
        );
        let c = lab
            .store
            .task_counts(common::CAMPAIGN)
            .await
            .expect("counts");
        if c.pending == 0 && c.dialing == 0 {
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "not done: {c:?}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let per = attempts_per_switch(&lab).await;
    println!("attempts per switch: {per:?}, peak live calls (a, b): {peak:?}");
    assert!(
        per.get("sim").copied().unwrap_or(0) > 0 && per.get("sim-b").copied().unwrap_or(0) > 0,
        "{per:?}"
    );
    assert!(
        peak.0 <= 2 && peak.1 <= 2,
        "a switch went over its maximum: {peak:?}"
    );
    let counts = check_campaign(&lab, &pages).await;
    assert_eq!(counts.done, 12);
    stop.cancel();
    daemon.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dialing_goes_on_when_one_switch_is_down() {
    let lab = lab("onedown", 3, &[(1, 10)], 20.0).await;
    let other = second_switch(20.0).await;
    let daemon = Daemon::start(with_second(&lab, &other, 50))
        .await
        .expect("daemon");
    // Switch B dies before anyone signs in; the daemon keeps trying it.
    other.shutdown().await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let url = format!("ws://{}/ws/agent", daemon.addr);
    let stop = tokio_util::sync::CancellationToken::new();
    let mut pages = HashMap::new();
    for (a, t) in &lab.agents {
        pages.insert(
            a.id.clone(),
            agent_client(url.clone(), t.clone(), stop.clone()),
        );
    }
    lab.wait_done(Duration::from_secs(60)).await;
    let per = attempts_per_switch(&lab).await;
    assert_eq!(
        per,
        HashMap::from([("sim".to_string(), 10)]),
        "every call went to the switch that is up"
    );
    let counts = check_campaign(&lab, &pages).await;
    assert_eq!(counts.done, 10);
    stop.cancel();
    daemon.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn freeswitch_and_asterisk_side_by_side() {
    mixed_pair(0).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn freeswitch_and_asterisk_side_by_side_with_both_cut_twice() {
    mixed_pair(2).await;
}

/// A campaign over a FreeSWITCH and an Asterisk at once; `cuts` times, both
/// connections are cut mid-campaign.
async fn mixed_pair(cuts: usize) {
    let lab = lab(
        &format!("mixed{cuts}"),
        4,
        &[(1, 10), (5, 4), (2, 2), (3, 2)],
        20.0,
    )
    .await;
    let asterisk = SimSwitch::start(SimConfig {
        protocol: dialpop::switch::sim::SimProtocol::Ami,
        speed: 20.0,
        seed: 3,
        ..SimConfig::default()
    })
    .await
    .expect("simulated Asterisk");
    let mut setup = lab.setup();
    setup.plan.switches[0].max_calls = 2;
    let (connect, mut plan) = lab.switch(&asterisk, "asterisk");
    plan.max_calls = 2;
    setup.switches.push(connect);
    setup.plan.switches.push(plan);
    let daemon = Daemon::start(setup).await.expect("daemon");
    let url = format!("ws://{}/ws/agent", daemon.addr);
    let stop = tokio_util::sync::CancellationToken::new();
    let mut pages = HashMap::new();
    for (a, t) in &lab.agents {
        pages.insert(
            a.id.clone(),
            agent_client(url.clone(), t.clone(), stop.clone()),
        );
    }
    let mut cut_with_calls = 0;
    for _ in 0..cuts {
        tokio::time::sleep(Duration::from_millis(400)).await;
        if lab.sim.live_calls() + asterisk.live_calls() > 0 {
            cut_with_calls += 1;
        }
        lab.sim.drop_connections();
        asterisk.drop_connections();
    }
    lab.wait_done(Duration::from_secs(90)).await;
    let per = attempts_per_switch(&lab).await;
    println!("attempts per switch after {cuts} cuts ({cut_with_calls} with calls up): {per:?}");
    assert!(
        per.get("sim").copied().unwrap_or(0) > 0 && per.get("asterisk").copied().unwrap_or(0) > 0,
        "{per:?}"
    );
    // The lab's checks (pops, causes, retries, no double dial on the
    // FreeSWITCH side) hold whichever switch a call was on; every attempt
    // was exactly one originate on one of the two switches.
    let mut counts = check_campaign(&lab, &pages).await;
    counts.originates += asterisk.originates().variables_of_each().len();
    println!("{counts:?}");
    assert_eq!(counts.done + counts.failed, 18);
    assert_eq!(
        counts.originates, counts.attempts,
        "every attempt was one originate on one switch"
    );
    if cuts == 0 {
        assert_eq!((counts.done, counts.failed), (14, 4));
    }
    stop.cancel();
    daemon.stop().await;
}
