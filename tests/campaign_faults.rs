//! Faults mid-campaign: the switch connection cut several times, and the
//! daemon process killed with SIGKILL and started again. The campaign must
//! complete with nothing lost and nothing dialed twice.

mod common;
mod support;

use common::serve::{restart_port, serve, serve_config, switch_table};
use common::{
    API_TOKEN, AckWhen, CAMPAIGN, check_campaign, lab_on, originates_against_attempts, set_dialing,
};
use dialpop::campaign::dialing::DialMode;
use dialpop::switch::sim::{SimConfig, SimProtocol, SimSwitch};
use std::time::Duration;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn freeswitch_connection_cut_three_times_mid_campaign() {
    switch_connection_cut_three_times(SimProtocol::Esl).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn asterisk_connection_cut_three_times_mid_campaign() {
    switch_connection_cut_three_times(SimProtocol::Ami).await;
}

async fn switch_connection_cut_three_times(protocol: SimProtocol) {
    let lab = lab_on(
        protocol,
        "cuts",
        4,
        &[(1, 24), (5, 4), (2, 4), (3, 2), (4, 2)],
        10.0,
    )
    .await;
    let daemon = lab.start_daemon().await;
    let stop = tokio_util::sync::CancellationToken::new();
    let pages = lab.pages(daemon.addr, &stop, AckWhen::AtOnce);
    // Each cut waits for calls to be up, so that it always lands mid-call
    // whatever the machine's load (a fixed delay sometimes found the daemon
    // between calls, and then the test proved nothing).
    for cut in 1..=3 {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
        while lab.sim.live_calls() == 0 {
            assert!(
                tokio::time::Instant::now() < deadline,
                "no call was up within 30 s before cut {cut}"
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        assert!(lab.sim.drop_connections() >= 1, "the daemon was connected");
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    lab.wait_done(Duration::from_secs(90)).await;
    let counts = check_campaign(&lab, &pages).await;
    println!("after 3 cuts with calls up: {counts:?}");
    assert_eq!(counts.tasks, 36);
    assert_eq!(counts.done + counts.failed, 36);
    assert_eq!(counts.double_dialed, 0);
    stop.cancel();
    daemon.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn daemon_on_freeswitch_killed_and_restarted_mid_campaign() {
    daemon_killed_and_restarted_with(SimProtocol::Esl, false, 0).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn daemon_on_asterisk_killed_and_restarted_mid_campaign() {
    daemon_killed_and_restarted_with(SimProtocol::Ami, false, 1).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn daemon_on_freeswitch_and_asterisk_killed_and_restarted_mid_campaign() {
    daemon_killed_and_restarted_with(SimProtocol::Esl, true, 2).await;
}

async fn daemon_killed_and_restarted_with(protocol: SimProtocol, mixed: bool, test: u16) {
    let lab = lab_on(
        protocol,
        if mixed { "sigkill-mixed" } else { "sigkill" },
        4,
        &[(1, 24), (5, 6), (2, 4), (3, 2), (4, 2)],
        10.0,
    )
    .await;
    // The second switch of a mixed pair is a simulated Asterisk.
    let asterisk = if mixed {
        Some(
            SimSwitch::start(SimConfig {
                protocol: SimProtocol::Ami,
                speed: 10.0,
                seed: 3,
                ..SimConfig::default()
            })
            .await
            .expect("simulated Asterisk"),
        )
    } else {
        None
    };
    let mut switches = switch_table(&lab, &lab.sim, "sim", mixed);
    if let Some(a) = &asterisk {
        switches.push_str(&switch_table(&lab, a, "asterisk", true));
    }
    let port = restart_port(test);
    let path = serve_config(&lab, &switches, port);
    let mut daemon = serve(&path);
    let stop = tokio_util::sync::CancellationToken::new();
    let pages = lab.pages(format!("127.0.0.1:{port}"), &stop, AckWhen::AtOnce);
    // Kill it twice, each time with calls up and work left.
    let live_calls = || lab.sim.live_calls() + asterisk.as_ref().map_or(0, |a| a.live_calls());
    let mut kills = Vec::new();
    for round in 0..2 {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
        loop {
            let c = lab.store.task_counts(CAMPAIGN).await.expect("counts");
            if c.done + c.failed >= 6 * (round + 1) as u64 && live_calls() > 0 {
                break;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "campaign did not progress: {c:?}"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let live = live_calls();
        daemon.kill().await.expect("SIGKILL");
        let c = lab.store.task_counts(CAMPAIGN).await.expect("counts");
        kills.push((live, c.clone()));
        tokio::time::sleep(Duration::from_millis(300)).await;
        daemon = serve(&path);
    }
    lab.wait_done(Duration::from_secs(90)).await;
    let mut counts = check_campaign(&lab, &pages).await;
    if let Some(a) = &asterisk {
        // No attempt was originated twice. An attempt is written before its
        // originate is sent, so a kill in between leaves one the switches
        // never saw: the restart must close it as vanished.
        counts.originates += a.originates().variables_of_each().len();
        assert!(counts.originates <= counts.attempts, "{counts:?}");
        assert!(
            counts.attempts - counts.originates <= counts.vanished,
            "an attempt no switch saw was not closed as vanished: {counts:?}"
        );
    }
    for (i, (live, c)) in kills.iter().enumerate() {
        println!(
            "kill {}: {live} calls up on the switches, tasks {c:?}",
            i + 1
        );
    }
    println!("after 2 kills: {counts:?}");
    assert_eq!(counts.tasks, 38);
    assert_eq!(counts.done + counts.failed, 38);
    assert_eq!(counts.double_dialed, 0);
    stop.cancel();
    let _ = daemon.kill().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn freeswitch_customers_waiting_for_an_agent_survive_a_sigkill() {
    killed_with_customers_waiting(SimProtocol::Esl, 6).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn asterisk_customers_waiting_for_an_agent_survive_a_sigkill() {
    killed_with_customers_waiting(SimProtocol::Ami, 7).await;
}

/// SIGKILL while customers of a power campaign (three lines for each of two
/// agents, everyone answering) wait in the holding extension with no agent:
/// the restart takes each back as waiting since its recorded answer. Each
/// one then goes to a free agent (one pop, to that agent) or, past the
/// limit, to the message, abandoned, with its callback after the lockout;
/// none is lost, left open, popped to nobody, or dialed again.
async fn killed_with_customers_waiting(protocol: SimProtocol, test: u16) {
    const TASKS: usize = 12;
    let name = format!("sigkill-waiting-{}", test);
    let lab = lab_on(protocol, &name, 2, &[(5, TASKS)], 10.0).await;
    set_dialing(&lab, |s| {
        s.dialing.mode = DialMode::Power;
        s.dialing.lines_per_agent = 3.0;
        s.dialing.abandon_after_seconds = 3.0;
        s.dialing.machine_detection = false;
    })
    .await;
    let started_ms = dialpop::store::now_ms();
    let switches = switch_table(&lab, &lab.sim, "sim", false);
    let port = restart_port(test);
    let path = serve_config(&lab, &switches, port);
    let mut daemon = serve(&path);
    let stop = tokio_util::sync::CancellationToken::new();
    let pages = lab.pages(format!("127.0.0.1:{port}"), &stop, AckWhen::AtOnce);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    let waiting: Vec<String> = loop {
        let open = lab.store.open_attempts().await.expect("open attempts");
        let w: Vec<String> = open
            .iter()
            .filter(|a| a.agent_id.is_empty() && a.answer_ms.is_some())
            .map(|a| a.call_id.clone())
            .collect();
        if !w.is_empty() {
            break w;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "no customer waited for an agent within 30 s"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    };
    daemon.kill().await.expect("SIGKILL");
    assert!(
        lab.sim.live_calls() >= waiting.len(),
        "the switch keeps its calls when the daemon dies"
    );
    tokio::time::sleep(Duration::from_millis(300)).await;
    let mut daemon = serve(&path);
    // Every call of the campaign ends, and no task is left dialing.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(90);
    loop {
        let open = lab.store.open_attempts().await.expect("open attempts");
        let c = lab.store.task_counts(CAMPAIGN).await.expect("counts");
        if open.is_empty() && c.dialing == 0 && c.pending + c.done + c.failed == TASKS as u64 {
            // A pending task is settled only as a callback after the
            // lockout; one due sooner is still to be dialed.
            let mut settled = true;
            for id in 1..=TASKS as i64 {
                let t = lab.store.task(id).await.expect("store").expect("task");
                settled &= t.status.as_str() != "pending" || t.due_ms > started_ms + 3_600_000;
            }
            if settled {
                break;
            }
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the campaign did not settle: {c:?}, {} open",
            open.len()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let (mut connected, mut abandoned) = (0, 0);
    for call in &waiting {
        let a = lab
            .store
            .attempt(call)
            .await
            .expect("store")
            .expect("the attempt");
        let pops = lab.store.pops_for_call(call).await.expect("pops");
        let task = lab
            .store
            .task(a.task_id)
            .await
            .expect("store")
            .expect("task");
        match a.outcome.as_deref() {
            Some("answered") => {
                connected += 1;
                assert!(!a.agent_id.is_empty(), "connected to nobody: {a:?}");
                assert_eq!(pops.len(), 1, "call {call}: {pops:?}");
                assert_eq!(pops[0].1, a.agent_id, "popped to its agent");
                let seen = pages
                    .get(&a.agent_id)
                    .map(|p| {
                        p.lock().expect("seen").messages.iter().any(|m| {
                            matches!(m, dialpop::popup::messages::ServerMsg::Pop { call_id, .. } if call_id == call)
                        })
                    })
                    .unwrap_or(false);
                assert!(seen, "the agent's page got the pop of {call}");
                assert_eq!(task.status.as_str(), "done");
            }
            Some("abandoned") => {
                abandoned += 1;
                assert!(a.agent_id.is_empty(), "{a:?}");
                assert!(pops.is_empty(), "an abandoned call popped: {pops:?}");
                assert_eq!(task.status.as_str(), "pending", "task {}", task.id);
                assert!(
                    task.due_ms >= started_ms + 71 * 3_600_000,
                    "task {}: the callback is due {} ms after the start, inside the lockout",
                    task.id,
                    task.due_ms - started_ms
                );
            }
            other => panic!("call {call}, waiting at the kill, ended {other:?}: {a:?}"),
        }
        let attempts = lab
            .store
            .attempts_for_task(a.task_id)
            .await
            .expect("attempts");
        assert_eq!(
            attempts.len(),
            1,
            "task {} dialed again: {attempts:?}",
            a.task_id
        );
    }
    println!(
        "{} waiting at the kill: {connected} connected after the restart, {abandoned} abandoned",
        waiting.len()
    );
    let (_, double) = originates_against_attempts(&lab).await;
    assert_eq!(
        double, 0,
        "a task was originated more often than its attempts"
    );
    stop.cancel();
    let _ = daemon.kill().await;
}

/// SIGTERM mid-campaign: no new call is placed, the calls up finish, every
/// write is on disk, the pages are told, and the process exits 0; the next
/// start completes the campaign with nothing lost and nothing twice.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_drains_calls_and_exits_cleanly() {
    let lab = lab_on(
        SimProtocol::Esl,
        "sigterm",
        4,
        &[(1, 24), (5, 6), (2, 4)],
        10.0,
    )
    .await;
    let switches = switch_table(&lab, &lab.sim, "sim", false);
    let path = serve_config(&lab, &switches, restart_port(5));
    let text = std::fs::read_to_string(&path).expect("config");
    let listen = text
        .lines()
        .find_map(|l| {
            l.strip_prefix("listen = \"")
                .and_then(|r| r.strip_suffix('"'))
        })
        .expect("listen")
        .to_string();
    let mut daemon = serve(&path);
    let stop = tokio_util::sync::CancellationToken::new();
    let pages = lab.pages(&listen, &stop, AckWhen::AtOnce);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        let c = lab.store.task_counts(CAMPAIGN).await.expect("counts");
        if c.done + c.failed >= 6 && lab.sim.live_calls() > 0 {
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "no progress: {c:?}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let up = lab.sim.live_calls();
    let pid = daemon.id().expect("pid") as i32;
    // SAFETY: kill(2) on our own child's pid.
    assert_eq!(unsafe { libc::kill(pid, libc::SIGTERM) }, 0);
    let originated = lab.sim.originates().len();
    let status = tokio::time::timeout(Duration::from_secs(60), daemon.wait())
        .await
        .expect("exits within the drain")
        .expect("status");
    assert!(status.success(), "exit status {status:?}");
    // Drained: nothing left open or dialing, and at most the calls being
    // claimed at the signal were placed after it.
    assert!(lab.store.open_attempts().await.expect("open").is_empty());
    let c = lab.store.task_counts(CAMPAIGN).await.expect("counts");
    assert_eq!(c.dialing, 0, "{c:?}");
    assert!(c.pending > 0, "work was left for the next start: {c:?}");
    let after = lab.sim.originates().len();
    assert!(
        after <= originated + 8,
        "calls kept being placed: {originated} then {after}"
    );
    assert_eq!(lab.sim.live_calls(), 0, "{up} calls were up; all finished");
    let told = pages.values().any(|p| {
        p.lock()
            .expect("seen")
            .messages
            .iter()
            .any(|m| matches!(m, dialpop::popup::messages::ServerMsg::Restarting))
    });
    assert!(told, "the pages heard the server was restarting");
    // The next start finishes the campaign.
    let mut daemon = serve(&path);
    lab.wait_done(Duration::from_secs(90)).await;
    let counts = check_campaign(&lab, &pages).await;
    assert_eq!(counts.tasks, 34);
    assert_eq!(counts.done + counts.failed, 34);
    assert_eq!(counts.double_dialed, 0);
    stop.cancel();
    let _ = daemon.kill().await;
}

/// The store is the campaign's truth: paused through the API, a campaign
/// stays paused across a SIGKILL, though the config file's block says
/// running; resumed, it works its tasks to the end.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_paused_campaign_stays_paused_across_a_sigkill() {
    let lab = lab_on(SimProtocol::Esl, "sigkill-paused", 1, &[(1, 4)], 10.0).await;
    let switches = switch_table(&lab, &lab.sim, "sim", false);
    let port = restart_port(3);
    let path = serve_config(&lab, &switches, port);
    let addr: std::net::SocketAddr = format!("127.0.0.1:{port}").parse().expect("addr");
    let api = support::http::Api::new(addr, Some(API_TOKEN));
    let up = || async {
        for _ in 0..200 {
            if api.answers("/healthz").await {
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("the daemon did not come up on {addr}");
    };
    let mut daemon = serve(&path);
    up().await;
    let (code, v) = api
        .post(&format!("/api/campaigns/{CAMPAIGN}/pause"), "")
        .await;
    assert_eq!((code, v["state"].as_str()), (200, Some("paused")), "{v}");
    daemon.kill().await.expect("SIGKILL");

    let mut daemon = serve(&path);
    up().await;
    let (_, c) = api.get(&format!("/api/campaigns/{CAMPAIGN}")).await;
    assert_eq!(
        c["state"], "paused",
        "the config file's block did not overwrite the store: {c}"
    );
    let stop = tokio_util::sync::CancellationToken::new();
    let _pages = lab.pages(addr.to_string(), &stop, AckWhen::AtOnce);
    tokio::time::sleep(Duration::from_millis(1000)).await;
    assert!(
        lab.sim.originates().is_empty(),
        "a paused campaign dials nothing, even with an agent waiting"
    );
    assert_eq!(
        api.post(&format!("/api/campaigns/{CAMPAIGN}/resume"), "")
            .await
            .0,
        200
    );
    lab.wait_done(Duration::from_secs(60)).await;
    assert_eq!(
        lab.store.task_counts(CAMPAIGN).await.expect("counts").done,
        4
    );
    stop.cancel();
    let _ = daemon.kill().await;
}

/// A disposition given before a SIGKILL is kept with its settlement; a
/// wrap-up the kill interrupted starts again after the restart, and the
/// page that reconnects gives its disposition then.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sigkill_during_wrap_up_loses_no_disposition() {
    use dialpop::popup::messages::{AgentStateName, ClientMsg, ServerMsg};
    use support::page::Page;
    let lab = lab_on(SimProtocol::Esl, "sigkill-wrap-up", 1, &[(1, 2)], 10.0).await;
    let switches = switch_table(&lab, &lab.sim, "sim", false);
    let port = restart_port(5);
    let path = serve_config(&lab, &switches, port);
    let addr: std::net::SocketAddr = format!("127.0.0.1:{port}").parse().expect("addr");
    let api = support::http::Api::new(addr, Some(API_TOKEN));
    let up = || async {
        for _ in 0..200 {
            if api.answers("/healthz").await {
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("the daemon did not come up on {addr}");
    };
    let t = Duration::from_secs(20);
    let form = |m: &ServerMsg| match m {
        ServerMsg::State {
            state: AgentStateName::WrapUp,
            disposition: Some(f),
            ..
        } => Some(f.call_id.clone()),
        _ => None,
    };
    let dispose = |call_id: &str, code: &str| ClientMsg::Disposition {
        call_id: call_id.into(),
        code: code.into(),
        notes: None,
        callback_at_ms: None,
        callback_mine: false,
    };
    let saved = |m: &ServerMsg| matches!(m, ServerMsg::Disposed { .. }).then_some(());

    let mut daemon = serve(&path);
    up().await;
    let (code, v) = api
        .patch(
            &format!("/api/campaigns/{CAMPAIGN}"),
            r#"{"settings":{"disposition_required":true}}"#,
        )
        .await;
    assert_eq!(code, 200, "{v}");
    let token = &lab.agents[0].1;
    let mut page = Page::open(addr, token).await;
    let first = page.wait("the first wrap-up", t, form).await;
    page.send(dispose(&first, "sale"));
    page.wait("the first disposition saved", t, saved).await;
    let second = page.wait("the second wrap-up", t, form).await;
    daemon.kill().await.expect("SIGKILL");

    let mut daemon = serve(&path);
    up().await;
    let mut page = Page::open(addr, token).await;
    let again = page
        .wait("the wrap-up again after the restart", t, form)
        .await;
    assert_eq!(again, second, "the interrupted wrap-up is the one shown");
    page.send(dispose(&second, "interested"));
    page.wait("the second disposition saved", t, saved).await;
    lab.wait_done(t).await;
    for (call, code) in [(&first, "sale"), (&second, "interested")] {
        let d = lab
            .store
            .disposition(call)
            .await
            .expect("store")
            .expect("disposition kept");
        assert_eq!(d.code, code);
    }
    assert_eq!(
        lab.store.task_counts(CAMPAIGN).await.expect("counts").done,
        2
    );
    let _ = daemon.kill().await;
}
