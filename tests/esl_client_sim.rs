//! The ESL client, driver and call manager against the simulated FreeSWITCH
//! over real loopback TCP: correlation under load, and cuts mid-call.

use dialpop::switch::calls::{CallEnd, CallState};
use dialpop::switch::esl::client::{ClientError, EslClient, EslClientConfig};
use dialpop::switch::esl::driver::EslDriver;
use dialpop::switch::manager::{CallManager, CallUpdate};
use dialpop::switch::sim::{SimConfig, SimSwitch};
use dialpop::switch::{AnswerAction, CallId, HangupCause, OriginateRequest};
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc;

async fn sim(speed: f64) -> SimSwitch {
    SimSwitch::start(SimConfig {
        speed,
        ..SimConfig::default()
    })
    .await
    .expect("simulated switch starts")
}

fn config(sim: &SimSwitch) -> EslClientConfig {
    let mut c = EslClientConfig::new(sim.local_addr().to_string(), "ClueCon");
    c.backoff_initial = Duration::from_millis(400);
    c
}

/// The default scenario's outcome for a number, by the first of its last
/// four digits (see the simulator's scenario): what a call must end with.
fn expected(number: &str) -> (bool, HangupCause) {
    match number.as_bytes()[number.len() - 4] {
        b'1' | b'5' => (true, HangupCause::NormalClearing),
        b'2' => (false, HangupCause::UserBusy),
        b'3' => (false, HangupCause::NoAnswer),
        b'4' => (false, HangupCause::NormalCircuitCongestion),
        _ => (true, HangupCause::NormalClearing),
    }
}

fn request(id: &CallId, number: &str, timeout_s: u64) -> OriginateRequest {
    OriginateRequest {
        call_id: id.clone(),
        destination: format!("sofia/gateway/test/{number}"),
        caller_id_number: Some("5550100".into()),
        caller_id_name: Some("Test Campaign".into()),
        timeout: Duration::from_secs(timeout_s),
        variables: vec![("dialpop_task_id".into(), number.to_string())],
        on_answer: AnswerAction::Park,
    }
}

#[tokio::test]
async fn wrong_password_is_refused_and_not_retried() {
    let sim = sim(1.0).await;
    let mut cfg = config(&sim);
    cfg.password = "wrong".into();
    let err = EslClient::connect(cfg).await.err().expect("must fail");
    assert!(
        matches!(&err, ClientError::AuthRejected { text, .. } if text == "invalid"),
        "{err:?}"
    );
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(
        sim.sessions(),
        0,
        "the switch closed the session and nobody came back"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hundred_concurrent_originates_are_correlated() {
    let sim = sim(20.0).await;
    let (client, mut notices) = EslClient::connect(config(&sim)).await.expect("connects");
    // Keep the notice queue drained, as an owner of call state would.
    tokio::spawn(async move { while notices.recv().await.is_some() {} });
    let mut jobs = Vec::new();
    for i in 0..100 {
        let number = format!("1555{}{:03}", [1, 2, 3, 4, 5][i % 5], i);
        let id = CallId::new_random();
        let c = client.clone();
        jobs.push(tokio::spawn(async move {
            let job = c
                .originate(&request(&id, &number, 20))
                .await
                .expect("bgapi accepted");
            (id, number, job.result().await)
        }));
    }
    for j in jobs {
        let (id, number, result) = j.await.expect("task");
        let result = result.expect("job result arrives");
        let (answers, cause) = expected(&number);
        if answers {
            assert!(result.ok, "{number}: {result:?}");
            assert_eq!(
                result.text,
                id.as_str(),
                "{number}: the job names this call's uuid"
            );
        } else {
            assert!(!result.ok, "{number}: {result:?}");
            assert_eq!(result.text, cause.name(), "{number}");
        }
    }
    let log = sim.originates();
    assert_eq!(log.counts.len(), 100);
    assert!(log.counts.values().all(|&n| n == 1));
}

/// Drives calls through the manager; returns each call's final state.
struct Harness {
    manager: CallManager,
    updates: mpsc::Receiver<CallUpdate>,
    numbers: HashMap<CallId, String>,
    history: HashMap<CallId, Vec<CallState>>,
    notes: Vec<CallUpdate>,
}

impl Harness {
    async fn new(sim: &SimSwitch) -> Harness {
        let (driver, notices) = EslDriver::connect(config(sim)).await.expect("connects");
        let (manager, updates) = CallManager::start_with(Arc::new(driver), notices);
        Harness {
            manager,
            updates,
            numbers: HashMap::new(),
            history: HashMap::new(),
            notes: Vec::new(),
        }
    }

    async fn dial(&mut self, number: &str) -> CallId {
        let id = CallId::new_random();
        self.numbers.insert(id.clone(), number.to_string());
        self.manager
            .originate(request(&id, number, 20))
            .await
            .expect("originate accepted");
        id
    }

    /// Reads updates until `done` says so (or a generous deadline passes).
    async fn until(&mut self, mut done: impl FnMut(&Harness) -> bool) {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
        while !done(self) {
            let u = tokio::time::timeout_at(deadline, self.updates.recv())
                .await
                .expect("updates keep coming")
                .expect("manager alive");
            match u {
                CallUpdate::Changed { call_id, to, .. } => {
                    self.history.entry(call_id).or_default().push(to)
                }
                other => self.notes.push(other),
            }
        }
    }

    fn last(&self, id: &CallId) -> Option<&CallState> {
        self.history.get(id).and_then(|h| h.last())
    }

    fn ended(&self) -> usize {
        self.history
            .values()
            .filter(|h| matches!(h.last(), Some(CallState::Ended(_))))
            .count()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cut_mid_call_fails_waiting_commands_and_rebuilds_the_live_calls() {
    let sim = sim(10.0).await;
    let mut h = Harness::new(&sim).await;
    // 5XXX answer after 2 s and stay 60 s (6 s at speed 10): up during the cut.
    let mut long = Vec::new();
    for i in 0..20 {
        long.push(h.dial(&format!("15555{i:03}")).await);
    }
    h.until(|h| {
        long.iter()
            .all(|id| h.last(id) == Some(&CallState::Answered))
    })
    .await;

    // A command that is still waiting when the socket dies fails at once:
    // a synchronous originate to a number that never answers.
    let (raw, mut raw_notices) = EslClient::connect(config(&sim))
        .await
        .expect("second client");
    tokio::spawn(async move { while raw_notices.recv().await.is_some() {} });
    let waiting = tokio::spawn(async move {
        raw.api("originate sofia/gateway/test/15553999 &park()")
            .await
    });
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert!(!waiting.is_finished(), "the api originate is still ringing");
    assert!(sim.drop_connections() >= 2);
    let failed = tokio::time::timeout(Duration::from_secs(2), waiting)
        .await
        .expect("the waiting command fails without waiting for the call")
        .expect("task");
    assert!(
        matches!(failed, Err(ClientError::ConnectionLost(_))),
        "{failed:?}"
    );

    // The manager hears of the cut, reconnects and rebuilds: all 20 calls
    // are still live on the switch, none vanished.
    h.until(|h| {
        h.notes
            .iter()
            .any(|n| matches!(n, CallUpdate::Reconciled { .. }))
    })
    .await;
    assert!(
        h.notes
            .iter()
            .any(|n| matches!(n, CallUpdate::SwitchDown { .. }))
    );
    assert!(
        h.notes
            .iter()
            .any(|n| matches!(n, CallUpdate::SwitchUp { reconnect: true }))
    );
    let reconciled = h.notes.iter().find_map(|n| match n {
        CallUpdate::Reconciled { live, vanished } => Some((*live, *vanished)),
        _ => None,
    });
    assert_eq!(reconciled, Some((20, 0)));

    // New calls after the rebuild, of every outcome, beside the old ones.
    let mut fresh = Vec::new();
    for i in 0..20 {
        fresh.push(h.dial(&format!("1555{}{i:03}", [1, 2, 3, 4][i % 4])).await);
    }
    h.until(|h| h.ended() == 40).await;
    // Every call ended as its own number says: no event went to the wrong call.
    for (id, number) in &h.numbers {
        let (answers, cause) = expected(number);
        let hist = &h.history[id];
        assert_eq!(
            hist.contains(&CallState::Answered),
            answers,
            "{number}: {hist:?}"
        );
        match hist.last() {
            Some(CallState::Ended(CallEnd::HungUp(c)))
            | Some(CallState::Ended(CallEnd::Failed(c))) => {
                assert_eq!(c, &cause, "{number}: {hist:?}")
            }
            other => panic!("{number}: ended as {other:?}"),
        }
    }
    let log = sim.originates();
    for id in h.numbers.keys() {
        assert_eq!(
            log.counts.get(id.as_str()),
            Some(&1),
            "{id} originated once"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn calls_that_end_during_the_gap_are_reported_vanished() {
    let sim = sim(10.0).await;
    let mut h = Harness::new(&sim).await;
    let mut ids = Vec::new();
    for i in 0..10 {
        ids.push(h.dial(&format!("15555{i:03}")).await);
    }
    h.until(|h| {
        ids.iter()
            .all(|id| h.last(id) == Some(&CallState::Answered))
    })
    .await;
    // Cut, then end every call while nobody is connected (the reconnect
    // waits at least half of its 400 ms first step).
    sim.drop_connections();
    assert_eq!(sim.hangup_all(HangupCause::NormalClearing), 10);
    h.until(|h| {
        h.notes
            .iter()
            .any(|n| matches!(n, CallUpdate::Reconciled { .. }))
    })
    .await;
    for id in &ids {
        assert_eq!(h.last(id), Some(&CallState::Ended(CallEnd::Vanished)));
    }
    assert!(h.notes.iter().any(|n| matches!(
        n,
        CallUpdate::Reconciled {
            live: 0,
            vanished: 10
        }
    )));
}
