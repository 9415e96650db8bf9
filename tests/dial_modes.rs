//! Power and predictive dialing on both simulated switches: calls placed
//! with no agent wait in the holding extension, are connected to the first
//! free agent by a transfer (the pop goes then), or are abandoned to the
//! message past the limit, with a callback after the lockout; machines are
//! handled as the campaign says; the lines per agent and the campaign's
//! pace hold; dialing stops when the agents leave.

mod common;
mod support;

use common::{API_TOKEN, AckWhen, CAMPAIGN, Lab, lab_on, set_dialing};
use dialpop::campaign::dialing::{DialMode, MachineAction};
use dialpop::daemon::Daemon;
use dialpop::popup::messages::ServerMsg;
use dialpop::store::{Serves, token_hash};
use dialpop::switch::sim::{Scenario, SimConfig, SimProtocol, SimSwitch};
use std::collections::HashMap;
use std::time::Duration;
use support::http::Api;

const WAIT: Duration = Duration::from_secs(60);

/// The lab's switch again, with this scenario.
async fn with_scenario(lab: &mut Lab, scenario: &str) {
    lab.sim = SimSwitch::start(SimConfig {
        protocol: lab.protocol,
        speed: lab.speed,
        scenario: Scenario::from_toml(scenario).expect("scenario"),
        ..SimConfig::default()
    })
    .await
    .expect("simulated switch");
}

async fn wait_until(what: &str, mut done: impl AsyncFnMut() -> bool) {
    let deadline = tokio::time::Instant::now() + WAIT;
    while !done().await {
        assert!(
            tokio::time::Instant::now() < deadline,
            "{what}: not within {WAIT:?}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Attempts ended (hung up) of tasks 1 to `tasks`.
async fn closed_attempts(lab: &Lab, tasks: usize) -> usize {
    let mut closed = 0;
    for t in 1..=tasks as i64 {
        closed += lab
            .store
            .attempts_for_task(t)
            .await
            .expect("attempts")
            .iter()
            .filter(|a| a.hangup_ms.is_some())
            .count();
    }
    closed
}

/// Pops each page received, by call id: (agent, pop state).
fn pops_by_call(pages: &common::Pages) -> HashMap<String, Vec<String>> {
    let mut m: HashMap<String, Vec<String>> = HashMap::new();
    for (agent, seen) in pages {
        for msg in &seen.lock().expect("seen").messages {
            if let ServerMsg::Pop { call_id, .. } = msg {
                m.entry(call_id.clone()).or_default().push(agent.clone());
            }
        }
    }
    m
}

async fn power_connects_the_first_and_abandons_the_rest(protocol: SimProtocol) {
    // Two agents, three lines each, every customer answers (2 s ring, 60 s
    // talk at speed 20): six calls at once, two connected, four waiting past
    // the 0.3 s limit, abandoned to the message.
    const TASKS: usize = 10;
    let lab = lab_on(protocol, "power", 2, &[(5, TASKS)], 20.0).await;
    set_dialing(&lab, |s| {
        s.dialing.mode = DialMode::Power;
        s.dialing.lines_per_agent = 3.0;
        s.dialing.abandon_after_seconds = 0.3;
        s.dialing.machine_detection = false;
        s.dialing.abandon_message = "ivr/ivr-sorry_all_agents_busy.wav".into();
    })
    .await;
    let daemon = lab.start_daemon().await;
    let stop = tokio_util::sync::CancellationToken::new();
    let pages = lab.pages(daemon.addr, &stop, AckWhen::AtOnce);
    let started_ms = dialpop::store::now_ms();
    let mut max_live = 0;
    wait_until("every task dialed once", async || {
        if let Some(s) = daemon.dialer.snapshot().await {
            max_live = max_live.max(s.live_calls);
        }
        closed_attempts(&lab, TASKS).await >= TASKS
    })
    .await;
    let snap = daemon.dialer.snapshot().await.expect("snapshot");
    let c = snap.stats.campaigns.get(CAMPAIGN).expect("campaign stats");
    assert!(c.dial_level_max <= 3.0 + 1e-9, "{}", c.dial_level_max);
    assert!(max_live <= 6, "{max_live} calls up for 2 agents at 3 lines");
    let pops = pops_by_call(&pages);
    let (mut connected, mut abandoned) = (0, 0);
    for t in 1..=TASKS as i64 {
        let task = lab.store.task(t).await.expect("store").expect("task");
        let attempts = lab.store.attempts_for_task(t).await.expect("attempts");
        assert_eq!(attempts.len(), 1, "task {t}: {attempts:?}");
        let a = &attempts[0];
        match a.outcome.as_deref() {
            Some("answered") => {
                connected += 1;
                // One pop, to the agent the call was given to, and the
                // attempt is that agent's.
                let got = pops.get(&a.call_id).cloned().unwrap_or_default();
                assert_eq!(got, vec![a.agent_id.clone()], "call {}", a.call_id);
                let stored = lab.store.pops_for_call(&a.call_id).await.expect("pops");
                assert_eq!(stored.len(), 1);
                assert_eq!(stored[0].1, a.agent_id, "(pop id, agent, acked)");
            }
            Some("abandoned") => {
                abandoned += 1;
                assert!(!pops.contains_key(&a.call_id), "an abandoned call popped");
                assert!(a.agent_id.is_empty(), "{a:?}");
                // The message extension ends the call normally.
                assert_eq!(a.hangup_cause.as_deref(), Some("NORMAL_CLEARING"));
                // A callback once the 72 h lockout is over.
                assert_eq!(task.status.as_str(), "pending", "task {t}");
                assert!(
                    task.due_ms >= started_ms + 71 * 3_600_000,
                    "task {t} due {} ms after the start",
                    task.due_ms - started_ms
                );
            }
            other => panic!("task {t}: outcome {other:?}"),
        }
    }
    assert!(connected >= 2, "{connected} connected");
    assert!(abandoned >= 1, "{abandoned} abandoned");
    assert_eq!(c.connected, connected as u64);
    assert_eq!(c.abandoned, abandoned as u64);
    assert_eq!(c.people, (connected + abandoned) as u64);
    // The campaign's figures: the abandoned calls are in its totals but
    // in no agent's row.
    let api = Api::new(daemon.addr, Some(API_TOKEN));
    let (code, st) = api.get(&format!("/api/campaigns/{CAMPAIGN}/stats")).await;
    assert_eq!(code, 200, "{st}");
    let rows = st["by_agent"].as_array().expect("by_agent");
    assert!(
        !rows.is_empty() && rows.iter().all(|r| r["agent"] != ""),
        "{st}"
    );
    assert_eq!(st["dials"], TASKS as u64, "{st}");
    assert_eq!(st["answered"], TASKS as u64, "{st}");
    assert_eq!(st["without_agent"]["dials"], abandoned as u64, "{st}");
    assert_eq!(st["without_agent"]["answered"], abandoned as u64, "{st}");
    stop.cancel();
    daemon.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn power_on_freeswitch() {
    power_connects_the_first_and_abandons_the_rest(SimProtocol::Esl).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn power_on_asterisk() {
    power_connects_the_first_and_abandons_the_rest(SimProtocol::Ami).await;
}

/// Machines answer lead-6 numbers; people lead-1.
const MACHINES: &str = r#"
[amd]
detect = 1.0
wrong = 0.0

[[rule]]
pattern = "*6XXX"
ring = 1.0
outcome = "machine"
talk = 30.0

[[rule]]
pattern = "*1XXX"
ring = 1.0
talk = 5.0
"#;

async fn machines_are_handled_as_configured(protocol: SimProtocol, action: MachineAction) {
    let name = format!("machines-{action:?}");
    let mut lab = lab_on(protocol, &name, 2, &[(6, 4), (1, 4)], 20.0).await;
    with_scenario(&mut lab, MACHINES).await;
    set_dialing(&lab, |s| {
        s.dialing.mode = DialMode::Power;
        s.dialing.lines_per_agent = 1.0;
        s.dialing.machine_detection = true;
        s.dialing.on_machine = action;
        s.dialing.abandon_after_seconds = 30.0;
    })
    .await;
    let daemon = lab.start_daemon().await;
    let stop = tokio_util::sync::CancellationToken::new();
    let pages = lab.pages(daemon.addr, &stop, AckWhen::AtOnce);
    wait_until("every task dialed once", async || {
        closed_attempts(&lab, 8).await >= 8
    })
    .await;
    let pops = pops_by_call(&pages);
    for t in 1..=8i64 {
        let task = lab.store.task(t).await.expect("store").expect("task");
        let a = &lab.store.attempts_for_task(t).await.expect("attempts")[0];
        let machine = common::lead_of(&task.phone) == b'6';
        match (machine, action) {
            (true, MachineAction::Agent) | (false, _) => {
                assert_eq!(a.outcome.as_deref(), Some("answered"), "task {t}");
                assert_eq!(pops.get(&a.call_id).map(Vec::len), Some(1), "task {t}");
            }
            (true, _) => {
                assert_eq!(a.outcome.as_deref(), Some("machine"), "task {t}");
                assert!(!pops.contains_key(&a.call_id), "a machine popped");
                // retry.machine: again in an hour.
                assert_eq!(task.status.as_str(), "pending");
                assert!(task.due_ms >= a.hangup_ms.unwrap_or_default() + 3_500_000);
            }
        }
    }
    let snap = daemon.dialer.snapshot().await.expect("snapshot");
    let c = snap.stats.campaigns.get(CAMPAIGN).expect("campaign");
    assert_eq!(c.machines, 4);
    // Machines are kept out of the abandon rate.
    assert_eq!(c.abandoned, 0);
    assert_eq!(c.people, if action == MachineAction::Agent { 8 } else { 4 });
    stop.cancel();
    daemon.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn machines_hung_up_on_freeswitch() {
    machines_are_handled_as_configured(SimProtocol::Esl, MachineAction::Hangup).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn machines_left_a_message_on_asterisk() {
    machines_are_handled_as_configured(SimProtocol::Ami, MachineAction::Message).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn machines_passed_to_agents_on_freeswitch() {
    machines_are_handled_as_configured(SimProtocol::Esl, MachineAction::Agent).await;
}

async fn predictive_keeps_its_lines_and_stops_without_agents(protocol: SimProtocol) {
    // Nobody answers (3XXX rings out): predictive dials ahead as far as it
    // may, never past 2 lines per agent; when the pages close it stops.
    const AGENTS: usize = 6;
    let lab = lab_on(protocol, "predictive", AGENTS, &[(3, 600)], 20.0).await;
    set_dialing(&lab, |s| {
        s.dialing.mode = DialMode::Predictive;
        s.dialing.lines_per_agent = 2.0;
    })
    .await;
    let mut setup = lab.setup();
    setup.plan.ring_timeout = Duration::from_secs(20);
    let daemon = Daemon::start(setup).await.expect("daemon");
    let stop = tokio_util::sync::CancellationToken::new();
    let _pages = lab.pages(daemon.addr, &stop, AckWhen::AtOnce);
    let mut max_live = 0;
    let mut samples = 0;
    wait_until("60 calls placed", async || {
        if let Some(s) = daemon.dialer.snapshot().await {
            max_live = max_live.max(s.live_calls);
        }
        samples += 1;
        lab.sim.originates().counts.len() >= 60
    })
    .await;
    assert!(samples > 5);
    assert!(max_live > AGENTS, "predictive dials ahead: {max_live}");
    assert!(
        max_live <= 2 * AGENTS,
        "{max_live} lines for {AGENTS} agents at 2"
    );
    // Every agent leaves.
    stop.cancel();
    wait_until("the agents are out", async || {
        daemon
            .dialer
            .snapshot()
            .await
            .is_some_and(|s| s.agent_counts.get("logged_out").copied().unwrap_or(0) == AGENTS)
    })
    .await;
    let placed_then = lab.sim.originates().counts.len();
    wait_until("the calls up end", async || {
        daemon
            .dialer
            .snapshot()
            .await
            .is_some_and(|s| s.live_calls == 0)
    })
    .await;
    let placed_after = lab.sim.originates().counts.len();
    // Only claims already under way when the last agent left may still go.
    assert!(
        placed_after - placed_then <= 2 * AGENTS,
        "{} calls placed after the agents left",
        placed_after - placed_then
    );
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(
        lab.sim.originates().counts.len(),
        placed_after,
        "dialing stopped"
    );
    daemon.stop().await;
}

/// The cap holds over the campaign's month, not over the daemon's life: a
/// store whose last day abandoned 5 % of its people (a previous run's, say)
/// keeps a new daemon from dialing ahead at all, from its first round.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_month_at_the_cap_holds_predictive_to_a_line_per_free_agent_from_the_start() {
    const AGENTS: usize = 6;
    let lab = lab_on(SimProtocol::Esl, "month-at-cap", AGENTS, &[(3, 600)], 20.0).await;
    set_dialing(&lab, |s| {
        s.dialing.mode = DialMode::Predictive;
        s.dialing.lines_per_agent = 2.0;
    })
    .await;
    let day_ago = dialpop::store::now_ms() - 86_400_000;
    for n in 0..100 {
        let call_id = format!("last-month-{n}");
        lab.store
            .insert_attempt(&dialpop::store::NewAttempt {
                call_id: call_id.clone(),
                task_id: 1,
                agent_id: String::new(),
                switch_name: "sim".into(),
                originate_ms: day_ago + n * 60_000,
            })
            .await
            .expect("attempt");
        let outcome = if n % 20 == 0 { "abandoned" } else { "answered" };
        lab.store
            .close_attempt(&call_id, day_ago + n * 60_000 + 30_000, outcome, None)
            .await
            .expect("closed");
    }
    let mut setup = lab.setup();
    setup.plan.ring_timeout = Duration::from_secs(20);
    let daemon = Daemon::start(setup).await.expect("daemon");
    let stop = tokio_util::sync::CancellationToken::new();
    let _pages = lab.pages(daemon.addr, &stop, AckWhen::AtOnce);
    let mut max_live = 0;
    wait_until("40 calls placed", async || {
        if let Some(s) = daemon.dialer.snapshot().await {
            max_live = max_live.max(s.live_calls);
        }
        lab.sim.originates().counts.len() >= 40
    })
    .await;
    // Nobody answers, so without the month predictive would hold up to
    // two lines per agent (`predictive_on_freeswitch`).
    assert!(
        max_live <= AGENTS,
        "{max_live} calls up for {AGENTS} agents with the month at 5 %"
    );
    assert!(max_live > 0);
    stop.cancel();
    daemon.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn predictive_on_freeswitch() {
    predictive_keeps_its_lines_and_stops_without_agents(SimProtocol::Esl).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn predictive_on_asterisk() {
    predictive_keeps_its_lines_and_stops_without_agents(SimProtocol::Ami).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_campaigns_concurrent_calls_hold_at_its_cap() {
    // Nobody answers (3XXX rings out): 20 agents at 3 lines would want 60
    // calls up; the campaign's max_concurrent of 7 holds, on the dialer's
    // count and on the switch's.
    const CAP: usize = 7;
    let lab = lab_on(SimProtocol::Esl, "concurrent", 20, &[(3, 400)], 20.0).await;
    set_dialing(&lab, |s| {
        s.dialing.mode = DialMode::Power;
        s.dialing.lines_per_agent = 3.0;
        s.dialing.max_concurrent = Some(CAP);
    })
    .await;
    let mut setup = lab.setup();
    setup.plan.switches[0].max_calls = 1000;
    setup.plan.ring_timeout = Duration::from_secs(20);
    let daemon = Daemon::start(setup).await.expect("daemon");
    let stop = tokio_util::sync::CancellationToken::new();
    let _pages = lab.pages(daemon.addr, &stop, AckWhen::AtOnce);
    let (mut max_dialer, mut max_switch) = (0, 0);
    // Past the first batch: calls ring out (1 s at speed 20) and are
    // replaced, so the cap is tested as calls end and new ones go.
    wait_until("30 calls placed", async || {
        if let Some(s) = daemon.dialer.snapshot().await {
            max_dialer = max_dialer.max(s.live_calls);
        }
        max_switch = max_switch.max(lab.sim.live_calls());
        lab.sim.originates().counts.len() >= 30
    })
    .await;
    assert!(
        max_dialer <= CAP,
        "{max_dialer} calls up in the dialer, cap {CAP}"
    );
    assert!(
        max_switch <= CAP,
        "{max_switch} calls up on the switch, cap {CAP}"
    );
    assert!(max_switch >= CAP - 2, "the cap is reached: {max_switch}");
    stop.cancel();
    daemon.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_campaign_pace_holds_under_a_burst_of_thousands() {
    // 3000 tasks, 40 agents at 3 lines: the campaign's 25 originates a
    // second (burst 25) hold, far below what the switch and agents allow.
    const RATE: f64 = 25.0;
    let lab = lab_on(SimProtocol::Esl, "burst", 40, &[(3, 3000)], 20.0).await;
    set_dialing(&lab, |s| {
        s.dialing.mode = DialMode::Power;
        s.dialing.lines_per_agent = 3.0;
        s.dialing.originates_per_second = Some(RATE);
    })
    .await;
    let mut setup = lab.setup();
    setup.plan.switches[0].max_calls = 1000;
    let daemon = Daemon::start(setup).await.expect("daemon");
    let stop = tokio_util::sync::CancellationToken::new();
    let _pages = lab.pages(daemon.addr, &stop, AckWhen::AtOnce);
    wait_until("dialing starts", async || {
        !lab.sim.originates().counts.is_empty()
    })
    .await;
    let t0 = tokio::time::Instant::now();
    let n0 = lab.sim.originates().counts.len();
    tokio::time::sleep(Duration::from_secs(2)).await;
    let n1 = lab.sim.originates().counts.len();
    let secs = t0.elapsed().as_secs_f64();
    // An upper bound only: a slow machine places fewer, never more.
    let most = (RATE * secs + RATE + 1.0).ceil() as usize;
    assert!(
        n1 - n0 <= most,
        "{} originates in {secs:.2} s at {RATE}/s (burst {RATE})",
        n1 - n0
    );
    assert!(n1 - n0 >= 5, "the campaign dials: {}", n1 - n0);
    stop.cancel();
    daemon.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_campaigns_share_a_full_switch_by_their_weights() {
    // Nobody answers (3XXX rings out). Two power campaigns of the same 20
    // agents at 3 lines would want 120 calls up; the switch holds 8, and
    // the heavy campaign (weight 3) gets three of every four of them.
    const LINES: usize = 8;
    const HEAVY: &str = "heavy";
    let lab = lab_on(SimProtocol::Esl, "weights", 20, &[(3, 400)], 20.0).await;
    set_dialing(&lab, |s| {
        s.dialing.mode = DialMode::Power;
        s.dialing.lines_per_agent = 3.0;
        s.dialing.weight = 1.0;
    })
    .await;
    let mut heavy = lab
        .store
        .campaign(CAMPAIGN)
        .await
        .expect("store")
        .expect("campaign");
    heavy.id = HEAVY.into();
    heavy.name = "Heavy".into();
    heavy.settings.dialing.weight = 3.0;
    lab.store.insert_campaign(&heavy).await.expect("campaign");
    // Its tasks come after the lab's 400 (ids 401 to 800).
    common::seed_customers(&*lab.store, HEAVY, &[(3, 400)], 1000).await;
    for (a, token) in &lab.agents {
        let mut a = a.clone();
        a.campaigns.push(Serves {
            campaign_id: HEAVY.into(),
            priority: 0,
        });
        lab.store
            .upsert_agent(&a, &token_hash(token))
            .await
            .expect("agent");
    }
    let mut setup = lab.setup();
    setup.plan.switches[0].max_calls = LINES;
    setup.plan.ring_timeout = Duration::from_secs(20);
    let daemon = Daemon::start(setup).await.expect("daemon");
    let stop = tokio_util::sync::CancellationToken::new();
    let _pages = lab.pages(daemon.addr, &stop, AckWhen::AtOnce);
    let mut max_switch = 0;
    // Calls ring out in 1 s at speed 20, so the room comes back a call or
    // two at a time: the share must hold over those, not only the first
    // batch.
    wait_until("200 calls placed", async || {
        max_switch = max_switch.max(lab.sim.live_calls());
        lab.sim.originates().by_task.len() >= 200
    })
    .await;
    let by_task = lab.sim.originates().by_task;
    let heavy_calls = by_task
        .iter()
        .filter(|(task, _)| task.parse::<i64>().is_ok_and(|id| id > 400))
        .map(|(_, n)| n)
        .sum::<usize>();
    let all: usize = by_task.values().sum();
    let share = heavy_calls as f64 / all as f64;
    assert!(
        (0.70..=0.80).contains(&share),
        "the heavy campaign placed {heavy_calls} of {all} calls ({share:.2}), its weight 3 of 4"
    );
    assert!(
        max_switch <= LINES,
        "{max_switch} calls up, the switch holds {LINES}"
    );
    stop.cancel();
    daemon.stop().await;
}

/// A page driven by hand: signs in, reads what the server says.
struct Page {
    ws: tokio_tungstenite::WebSocketStream<Box<dyn common::SocketIo>>,
}

impl Page {
    async fn sign_in(addr: std::net::SocketAddr, token: &str) -> Page {
        use futures::SinkExt;
        let mut ws = common::open_socket(&format!("ws://{addr}/ws/agent"), None)
            .await
            .expect("socket");
        let auth = serde_json::json!({"type": "auth", "token": token});
        ws.send(tokio_tungstenite::tungstenite::Message::Text(
            auth.to_string().into(),
        ))
        .await
        .expect("auth");
        Page { ws }
    }

    async fn send(&mut self, v: serde_json::Value) {
        use futures::SinkExt;
        self.ws
            .send(tokio_tungstenite::tungstenite::Message::Text(
                v.to_string().into(),
            ))
            .await
            .expect("send");
    }

    /// The next message `want` accepts (others are skipped).
    async fn until(&mut self, what: &str, want: impl Fn(&ServerMsg) -> bool) -> ServerMsg {
        use futures::StreamExt;
        let deadline = tokio::time::Instant::now() + WAIT;
        loop {
            let m = tokio::time::timeout_at(deadline, self.ws.next())
                .await
                .unwrap_or_else(|_| panic!("no {what} within {WAIT:?}"))
                .expect("socket open")
                .expect("frame");
            if let tokio_tungstenite::tungstenite::Message::Text(t) = m
                && let Ok(msg) = serde_json::from_str::<ServerMsg>(&t)
                && want(&msg)
            {
                return msg;
            }
        }
    }

    async fn preview(&mut self) -> (String, String) {
        let pop = self
            .until("a preview pop", |m| {
                matches!(m, ServerMsg::Pop { call_state, .. }
                    if *call_state == dialpop::popup::messages::PopCallState::Preview)
            })
            .await;
        let ServerMsg::Pop {
            pop_id, call_id, ..
        } = pop
        else {
            unreachable!()
        };
        self.until(
            "the preview offer",
            |m| matches!(m, ServerMsg::Preview { call_id: c, .. } if *c == call_id),
        )
        .await;
        self.send(serde_json::json!({"type": "ack", "pop_id": pop_id}))
            .await;
        (pop_id, call_id)
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn preview_shows_the_record_first_then_dials_skips_or_counts_down() {
    // Three customers who answer (1 s ring, 5 s talk at speed 20).
    let lab = lab_on(SimProtocol::Esl, "preview", 1, &[(1, 3)], 20.0).await;
    set_dialing(&lab, |s| {
        s.dialing.mode = DialMode::Preview;
        s.dialing.skip_delay_seconds = 3600.0;
    })
    .await;
    let daemon = lab.start_daemon().await;
    let mut page = Page::sign_in(daemon.addr, &lab.agents[0].1).await;

    // The first: skipped, never dialed, due again in an hour.
    let (_, first) = page.preview().await;
    assert!(
        lab.sim.originates().counts.is_empty(),
        "nothing dialed before the agent says so"
    );
    let before = dialpop::store::now_ms();
    page.send(serde_json::json!({"type": "preview_skip", "call_id": first, "reason": "not_now"}))
        .await;
    // The second: dialed by the agent; its pop is updated in place.
    let (pop_id, second) = page.preview().await;
    assert_ne!(first, second);
    assert!(!lab.sim.originates().counts.contains_key(&second));
    page.send(serde_json::json!({"type": "preview_dial", "call_id": second}))
        .await;
    let answered = page
        .until("the answered pop", |m| {
            matches!(m, ServerMsg::Pop { call_id, call_state, .. }
                if *call_id == second && *call_state == dialpop::popup::messages::PopCallState::Answered)
        })
        .await;
    let ServerMsg::Pop { pop_id: same, .. } = answered else {
        unreachable!()
    };
    assert_eq!(same, pop_id, "the preview pop is updated in place");
    assert_eq!(lab.sim.originates().counts.get(&second), Some(&1));
    let skipped = lab.store.attempts_for_task(1).await.expect("attempts");
    let skipped_task = lab.store.task(1).await.expect("store").expect("task");
    assert_eq!(skipped[0].outcome.as_deref(), Some("not_placed"));
    assert_eq!(
        skipped[0].hangup_cause.as_deref(),
        Some("PREVIEW_SKIPPED: not_now")
    );
    assert!(skipped_task.due_ms >= before + 3_500_000);
    // A bad reason is refused by name.
    page.send(serde_json::json!({"type": "preview_skip", "call_id": second, "reason": "no way!"}))
        .await;
    page.until(
        "the refusal",
        |m| matches!(m, ServerMsg::Error { error } if error.contains("reason")),
    )
    .await;
    daemon.stop().await;

    // With a countdown the third goes by itself.
    set_dialing(&lab, |s| s.dialing.preview_seconds = Some(0.3)).await;
    let daemon = lab.start_daemon().await;
    let mut page = Page::sign_in(daemon.addr, &lab.agents[0].1).await;
    let (_, third) = page.preview().await;
    page.until("the third call ringing", |m| {
        matches!(m, ServerMsg::Call { call_id, state, .. } if *call_id == third && state == "ringing")
    })
    .await;
    assert_eq!(lab.sim.originates().counts.get(&third), Some(&1));
    daemon.stop().await;
}
