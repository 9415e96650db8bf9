//! A campaign lab for integration tests: a seeded SQLite store, the
//! simulated switch, the daemon, and agents on real WebSockets.
#![allow(dead_code)]

pub mod cluster;
pub mod serve;

use dialpop::daemon::SwitchConnect;
use dialpop::daemon::{Daemon, DaemonSetup};
use dialpop::dialer::{DialPlan, SwitchPlan};
use dialpop::popup::messages::{AgentStateName, ClientMsg, ServerMsg};
use dialpop::store::{Agent, Campaign, CampaignSettings, Customer, NewTask, Store, token_hash};
use dialpop::switch::ami::client::AmiClientConfig;
use dialpop::switch::esl::client::EslClientConfig;
use dialpop::switch::sim::{SimConfig, SimProtocol, SimSwitch};
use futures::{SinkExt, StreamExt};
use std::collections::{HashMap, HashSet};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio_tungstenite::tungstenite::Message;

pub const CAMPAIGN: &str = "lab";
pub const MAX_ATTEMPTS: u32 = 2;
pub const API_TOKEN: &str = "lab-api-token";

/// The lead digit of a number's last four picks the simulated outcome.
pub fn phone(lead: u32, n: usize) -> String {
    format!("+1555{:03}{lead}{:03}", n / 1000, n % 1000)
}

pub fn lead_of(phone: &str) -> u8 {
    phone.as_bytes()[phone.len() - 4]
}

pub struct Lab {
    pub protocol: SimProtocol,
    pub dir: PathBuf,
    pub db_url: String,
    pub store: Arc<dyn Store>,
    pub sim: SimSwitch,
    pub agents: Vec<(Agent, String)>,
    pub speed: f64,
}

impl Lab {
    /// The customer that task `id` calls.
    pub async fn customer_of_task(&self, id: i64) -> Customer {
        let task = self.store.task(id).await.expect("store").expect("the task");
        self.store
            .customer(&task.customer_id)
            .await
            .expect("store")
            .expect("the customer")
    }
}

/// Customers by lead digit: (lead, how many).
pub async fn lab(name: &str, agents: usize, mix: &[(u32, usize)], speed: f64) -> Lab {
    lab_on(SimProtocol::Esl, name, agents, mix, speed).await
}

/// A lab whose simulated switch speaks `protocol`.
pub async fn lab_on(
    protocol: SimProtocol,
    name: &str,
    agents: usize,
    mix: &[(u32, usize)],
    speed: f64,
) -> Lab {
    lab_on_store(protocol, name, agents, mix, speed, None).await
}

/// Customers by lead digit, numbered from `first`, each with a task of
/// `campaign` due now.
pub async fn seed_customers(store: &dyn Store, campaign: &str, mix: &[(u32, usize)], first: usize) {
    let now = dialpop::store::now_ms();
    let mut n = first;
    for &(lead, count) in mix {
        for _ in 0..count {
            let c = Customer {
                id: format!("cust{n:04}"),
                name: ["王芳", "Ana Lima", "أحمد الحسن", "Олег Иванов"][n % 4].to_string(),
                phone: phone(lead, n),
                email: None,
                tier: Some(["gold", "silver"][n % 2].to_string()),
                vip: n.is_multiple_of(7),
                fields: serde_json::Map::from_iter([(
                    "city".to_string(),
                    serde_json::json!("Lisboa"),
                )]),
            };
            store.upsert_customer(&c).await.expect("customer");
            store
                .add_task(&NewTask {
                    campaign_id: campaign.into(),
                    customer_id: c.id.clone(),
                    phone: c.phone.clone(),
                    due_ms: now,
                    ..NewTask::default()
                })
                .await
                .expect("task");
            n += 1;
        }
    }
}

/// A lab on the store at `db_url` (an SQLite file of its own if none).
pub async fn lab_on_store(
    protocol: SimProtocol,
    name: &str,
    agents: usize,
    mix: &[(u32, usize)],
    speed: f64,
    db_url: Option<String>,
) -> Lab {
    let name = &format!("{name}-{protocol:?}");
    let dir = std::env::temp_dir().join(format!("dialpop-test-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("temp dir");
    let db_url = db_url.unwrap_or_else(|| format!("sqlite://{}", dir.join("lab.db").display()));
    let store = dialpop::store::open(&db_url).await.expect("store opens");
    let now = dialpop::store::now_ms();
    store
        .insert_campaign(&Campaign {
            id: CAMPAIGN.into(),
            name: "Lab".into(),
            state: dialpop::store::CampaignState::Running,
            settings: dialpop::store::CampaignSettings::with_retries(MAX_ATTEMPTS, 2.0 / speed),
            created_ms: now,
            updated_ms: now,
        })
        .await
        .expect("campaign");
    seed_customers(&*store, CAMPAIGN, mix, 0).await;
    let mut list = Vec::new();
    for i in 0..agents {
        let a = Agent::of(
            &format!("ag{i:02}"),
            &format!("Agent {i}"),
            &format!("8{i:03}"),
            CAMPAIGN,
        );
        let token = format!("token-{i}-{name}");
        store
            .upsert_agent(&a, &token_hash(&token))
            .await
            .expect("agent");
        list.push((a, token));
    }
    let sim = SimSwitch::start(SimConfig {
        protocol,
        speed,
        ..SimConfig::default()
    })
    .await
    .expect("simulated switch");
    Lab {
        protocol,
        dir,
        db_url,
        store,
        sim,
        agents: list,
        speed,
    }
}

impl Lab {
    /// How the daemon reaches the lab's switch, and the dial plan for it.
    pub fn switch(&self, sim: &SimSwitch, name: &str) -> (SwitchConnect, SwitchPlan) {
        let addr = sim.local_addr().to_string();
        let (connect, customer, agent) = match sim.protocol() {
            SimProtocol::Esl => {
                let mut c = EslClientConfig::new(addr, "ClueCon");
                c.backoff_initial = Duration::from_millis(100);
                (
                    SwitchConnect::Esl(c),
                    "sofia/gateway/{gateway}/{phone}",
                    "user/{extension}",
                )
            }
            SimProtocol::Ami => {
                let mut c = AmiClientConfig::new(addr, "dialpop", "ClueCon");
                c.backoff_initial = Duration::from_millis(100);
                (
                    SwitchConnect::Ami(c),
                    "Local/{phone}@customers",
                    "PJSIP/{extension}",
                )
            }
        };
        let plan = SwitchPlan {
            name: name.into(),
            customer_dial_string: customer.into(),
            gateway: "lab".into(),
            agent_dial_string: agent.into(),
            connect_extension: "dialpop_connect".into(),
            connect_context: "dialpop".into(),
            caller_id_number: Some("+15550100".into()),
            caller_id_name: None,
            max_calls: 100,
            originates_per_second: 1000.0,
        };
        (connect, plan)
    }

    pub fn setup(&self) -> DaemonSetup {
        let (connect, plan) = self.switch(&self.sim, "sim");
        DaemonSetup {
            store: self.store.clone(),
            listen: "127.0.0.1:0".parse().expect("addr"),
            api_token_sha256: token_hash(API_TOKEN),
            switches: vec![connect],
            plan: DialPlan {
                switches: vec![plan],
                ring_timeout: Duration::from_secs(30),
                max_originates_per_second: None,
                pacing_round: dialpop::dialer::PACING_ROUND,
                wrap_up: Duration::from_secs_f64(5.0 / self.speed),
            },
            customer: Default::default(),
            sources: Vec::new(),
            monitor: Default::default(),
            limits: Default::default(),
            tls: None,
            cluster: None,
        }
    }

    pub async fn start_daemon(&self) -> Daemon {
        Daemon::start(self.setup()).await.expect("daemon starts")
    }

    /// Waits until no task is pending or dialing.
    pub async fn wait_done(&self, limit: Duration) {
        let deadline = tokio::time::Instant::now() + limit;
        loop {
            let c = self.store.task_counts(CAMPAIGN).await.expect("counts");
            if c.pending == 0 && c.dialing == 0 {
                return;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "campaign not done in {limit:?}: {c:?}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

/// Everything one agent's page received.
#[derive(Default)]
pub struct Seen {
    pub messages: Vec<ServerMsg>,
    pub refused: Option<String>,
}

/// Each agent's page received, by agent id.
pub type Pages = HashMap<String, Arc<Mutex<Seen>>>;

impl Lab {
    /// A page for every agent of the lab, on the daemon's `/ws/agent` at
    /// `addr`, acknowledging pops `when` said.
    pub fn pages(
        &self,
        addr: impl std::fmt::Display,
        stop: &tokio_util::sync::CancellationToken,
        when: AckWhen,
    ) -> Pages {
        let url = format!("ws://{addr}/ws/agent");
        self.agents
            .iter()
            .map(|(a, token)| {
                let page = agent_client_acking(url.clone(), token.clone(), stop.clone(), when);
                (a.id.clone(), page)
            })
            .collect()
    }
}

impl Lab {
    /// The page of the lab's agent `i`, signed in on the daemon at `addr`
    /// and acknowledging every pop at once, with the agent it is for.
    pub fn page_of(
        &self,
        i: usize,
        addr: impl std::fmt::Display,
        stop: &tokio_util::sync::CancellationToken,
    ) -> (Agent, Arc<Mutex<Seen>>) {
        let (agent, token) = self.agents[i].clone();
        let page = agent_client_acking(
            format!("ws://{addr}/ws/agent"),
            token,
            stop.clone(),
            AckWhen::AtOnce,
        );
        (agent, page)
    }
}

/// An agent's page as a WebSocket client: acks pops, ends wrap-up after a
/// moment, reconnects while `url` answers, records everything.
pub fn agent_client(
    url: String,
    token: String,
    stop: tokio_util::sync::CancellationToken,
) -> Arc<Mutex<Seen>> {
    agent_client_acking(url, token, stop, AckWhen::AtOnce)
}

/// When a test page acknowledges its pops.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AckWhen {
    AtOnce,
    /// Only once the call has ended (a page whose agent looked late).
    AfterHangup,
    /// Never (a page that shows nothing: a broken browser, a bad build).
    Never,
}

pub fn agent_client_acking(
    url: String,
    token: String,
    stop: tokio_util::sync::CancellationToken,
    when: AckWhen,
) -> Arc<Mutex<Seen>> {
    agent_client_over(url, token, stop, when, None)
}

/// What a test page's socket runs over: TCP, or TLS over it.
pub trait SocketIo: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send {}
impl<T: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send> SocketIo for T {}

/// Opens `url` (ws:// or, with `tls`, wss://, where the host is `localhost`).
pub async fn open_socket(
    url: &str,
    tls: Option<&Arc<tokio_rustls::rustls::ClientConfig>>,
) -> Result<
    tokio_tungstenite::WebSocketStream<Box<dyn SocketIo>>,
    Box<dyn std::error::Error + Send + Sync>,
> {
    let uri: tokio_tungstenite::tungstenite::http::Uri = url.parse()?;
    let port = uri.port_u16().ok_or("no port in the URL")?;
    // `localhost` for TLS's name; any other host as given (a page on a
    // node in a network namespace).
    let host = match uri.host() {
        None | Some("localhost") => "127.0.0.1",
        Some(h) => h,
    };
    let tcp = tokio::net::TcpStream::connect((host, port)).await?;
    let io: Box<dyn SocketIo> = match tls {
        None => Box::new(tcp),
        Some(cfg) => {
            let name = tokio_rustls::rustls::pki_types::ServerName::try_from("localhost")?;
            let c = tokio_rustls::TlsConnector::from(cfg.clone());
            Box::new(c.connect(name, tcp).await?)
        }
    };
    let (ws, _) = tokio_tungstenite::client_async(url, io).await?;
    Ok(ws)
}

/// `agent_client_acking` over TLS when `tls` is given.
pub fn agent_client_over(
    url: String,
    token: String,
    stop: tokio_util::sync::CancellationToken,
    when: AckWhen,
    tls: Option<Arc<tokio_rustls::rustls::ClientConfig>>,
) -> Arc<Mutex<Seen>> {
    let seen = Arc::new(Mutex::new(Seen::default()));
    let out = seen.clone();
    tokio::spawn(async move {
        // Per call: the pop waiting for its hang-up, and the calls ended.
        let mut held: HashMap<String, String> = HashMap::new();
        let mut ended: HashSet<String> = HashSet::new();
        while !stop.is_cancelled() {
            let Ok(ws) = open_socket(&url, tls.as_ref()).await else {
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            };
            let (mut tx, mut rx) = ws.split();
            let auth = serde_json::to_string(&ClientMsg::Auth {
                token: token.clone(),
                locale: None,
            })
            .unwrap_or_default();
            if tx.send(Message::Text(auth.into())).await.is_err() {
                continue;
            }
            loop {
                let next = tokio::select! {
                    _ = stop.cancelled() => return,
                    m = rx.next() => m,
                };
                let Some(Ok(Message::Text(text))) = next else {
                    break;
                };
                let Ok(msg) = serde_json::from_str::<ServerMsg>(&text) else {
                    continue;
                };
                let reply = match &msg {
                    ServerMsg::Pop {
                        pop_id, call_id, ..
                    } if when == AckWhen::AfterHangup && !ended.contains(call_id) => {
                        held.insert(call_id.clone(), pop_id.clone());
                        None
                    }
                    ServerMsg::Pop { .. } if when == AckWhen::Never => None,
                    ServerMsg::Pop { pop_id, .. } => Some(ClientMsg::Ack {
                        pop_id: pop_id.clone(),
                    }),
                    ServerMsg::Call { call_id, state, .. } if state == "ended" => {
                        ended.insert(call_id.clone());
                        held.remove(call_id).map(|pop_id| ClientMsg::Ack { pop_id })
                    }
                    ServerMsg::State {
                        state: AgentStateName::WrapUp,
                        ..
                    } => Some(ClientMsg::Ready),
                    ServerMsg::Error { error } => {
                        seen.lock()
                            .map(|mut s| s.refused = Some(error.clone()))
                            .ok();
                        None
                    }
                    _ => None,
                };
                if let Ok(mut s) = seen.lock() {
                    s.messages.push(msg);
                }
                if let Some(r) = reply {
                    let text = serde_json::to_string(&r).unwrap_or_default();
                    if tx.send(Message::Text(text.into())).await.is_err() {
                        break;
                    }
                }
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    });
    out
}

/// What a finished campaign looks like, checked against the store, the
/// switch's own record of originates, and what each agent's page received.
#[derive(Debug, Default)]
pub struct Counts {
    pub tasks: usize,
    pub vanished: usize,
    pub done: usize,
    pub failed: usize,
    pub attempts: usize,
    pub answered: usize,
    pub pops: usize,
    pub originates: usize,
    pub double_dialed: u64,
    pub not_placed: usize,
}

/// The lab campaign's settings (its dialing, its pop rules, ...), changed
/// in the store (its truth) and checked as the API would.
pub async fn set_dialing(lab: &Lab, f: impl FnOnce(&mut CampaignSettings)) {
    let mut c = lab
        .store
        .campaign(CAMPAIGN)
        .await
        .expect("store")
        .expect("campaign");
    f(&mut c.settings);
    c.settings.validate().expect("valid settings");
    assert!(
        lab.store
            .update_campaign(CAMPAIGN, &c.name, &c.settings)
            .await
            .expect("update"),
        "the lab campaign is in the store"
    );
}

/// What the lab's switch was asked to originate: how many originates
/// carried a task, and how many tasks were originated more often than the
/// store recorded attempts (dialed twice). No call id may come twice.
pub async fn originates_against_attempts(lab: &Lab) -> (usize, u64) {
    let log = lab.sim.originates();
    let mut per_task: HashMap<i64, usize> = HashMap::new();
    let mut originates = 0;
    for vars in log.variables_of_each() {
        let task = vars.iter().find(|(k, _)| k == "dialpop_task_id");
        if let Some(t) = task.and_then(|(_, v)| v.parse().ok()) {
            *per_task.entry(t).or_default() += 1;
            originates += 1;
        }
    }
    let mut call_ids = HashSet::new();
    for id in log.call_id_of_each().into_iter().flatten() {
        assert!(call_ids.insert(id.clone()), "call id {id} originated twice");
    }
    let mut double = 0;
    for (task, n) in per_task {
        let recorded = lab
            .store
            .attempts_for_task(task)
            .await
            .expect("attempts")
            .len();
        if n > recorded {
            double += 1;
        }
    }
    (originates, double)
}

pub async fn check_campaign(lab: &Lab, pages: &HashMap<String, Arc<Mutex<Seen>>>) -> Counts {
    let store = &lab.store;
    let mut counts = Counts::default();
    // Pops each agent's page received, by call.
    let mut received: HashMap<String, Vec<(String, String)>> = HashMap::new();
    for (agent, seen) in pages {
        let seen = seen.lock().expect("seen");
        for m in &seen.messages {
            if let ServerMsg::Pop {
                call_id, customer, ..
            } = m
            {
                let cid = customer
                    .get("id")
                    .and_then(|v| v.as_str())
                    .unwrap_or_default()
                    .to_string();
                received
                    .entry(call_id.clone())
                    .or_default()
                    .push((agent.clone(), cid));
            }
        }
    }
    let mut task_id = 1;
    while let Some(task) = store.task(task_id).await.expect("task") {
        task_id += 1;
        counts.tasks += 1;
        let all = store.attempts_for_task(task.id).await.expect("attempts");
        // Calls the switch never placed are no attempt on the customer:
        // closed, with their reason, and not counted.
        for a in all
            .iter()
            .filter(|a| a.outcome.as_deref() == Some("not_placed"))
        {
            assert!(a.hangup_ms.is_some(), "not placed {} not closed", a.call_id);
            assert!(a.answer_ms.is_none());
            counts.not_placed += 1;
        }
        let attempts: Vec<_> = all
            .into_iter()
            .filter(|a| a.outcome.as_deref() != Some("not_placed"))
            .collect();
        counts.attempts += attempts.len();
        counts.vanished += attempts
            .iter()
            .filter(|a| a.outcome.as_deref() == Some("vanished"))
            .count();
        assert!(
            attempts.len() as u32 <= MAX_ATTEMPTS,
            "task {} dialed {} times",
            task.id,
            attempts.len()
        );
        assert_eq!(
            task.attempts as usize,
            attempts.len(),
            "task {} attempt count",
            task.id
        );
        match task.status.as_str() {
            "done" => counts.done += 1,
            "failed" => counts.failed += 1,
            other => panic!("task {} left {other}", task.id),
        }
        let lead = lead_of(&task.phone);
        for a in &attempts {
            assert!(a.hangup_ms.is_some(), "attempt {} not closed", a.call_id);
            let pops = store.pops_for_call(&a.call_id).await.expect("pops");
            if a.outcome.as_deref() == Some("answered") {
                counts.answered += 1;
                assert!(a.answer_ms.is_some());
                // Exactly one pop, to the bound agent, acknowledged, and only
                // that agent's page got it, with the right customer.
                assert_eq!(
                    pops.len(),
                    1,
                    "call {} popped {} times",
                    a.call_id,
                    pops.len()
                );
                assert_eq!(pops[0].1, a.agent_id);
                // A call whose end nobody saw (it ended while the daemon was
                // down) may have had no page left to show its pop to.
                let end_seen = a.hangup_cause.is_some();
                if end_seen {
                    assert!(pops[0].2.is_some(), "pop of {} not acknowledged", a.call_id);
                }
                let got = received.get(&a.call_id).cloned().unwrap_or_default();
                assert!(
                    !got.is_empty() || !end_seen,
                    "no page received the pop of {}",
                    a.call_id
                );
                for (agent, customer) in &got {
                    assert_eq!(
                        agent, &a.agent_id,
                        "pop of {} reached another agent",
                        a.call_id
                    );
                    assert_eq!(
                        customer, &task.customer_id,
                        "pop of {} shows another customer",
                        a.call_id
                    );
                }
                counts.pops += 1;
            } else {
                assert!(pops.is_empty(), "unanswered call {} popped", a.call_id);
                // A daemon killed between handing a pop to the page and
                // committing its answer leaves a call the restart finds gone
                // (vanished) with the pop already shown: the page may have
                // it, the store cannot. Any other end must not have popped.
                assert!(
                    !received.contains_key(&a.call_id) || a.outcome.as_deref() == Some("vanished"),
                    "call {} ended {:?} but a page received its pop",
                    a.call_id,
                    a.outcome
                );
            }
        }
        // Each number ends as the lab's scenario says, with its cause, and
        // is retried as the campaign says.
        let last = attempts.last().expect("every task was dialed");
        let outcome = last.outcome.as_deref().unwrap_or_default();
        let all_vanished = attempts
            .iter()
            .all(|a| a.outcome.as_deref() == Some("vanished"));
        match lead {
            // Answering numbers end done, unless every attempt was lost in
            // a reconnect (then it failed after its attempts, not lost).
            b'1' | b'5' if all_vanished => assert_eq!(task.status.as_str(), "failed"),
            b'1' | b'5' => assert_eq!(task.status.as_str(), "done", "task {} ({outcome})", task.id),
            b'2' => {
                assert_eq!(task.status.as_str(), "failed");
                if outcome != "vanished" {
                    assert_eq!(last.hangup_cause.as_deref(), Some("USER_BUSY"));
                }
                assert_eq!(attempts.len() as u32, MAX_ATTEMPTS, "busy is retried");
            }
            b'3' => {
                assert_eq!(task.status.as_str(), "failed");
                if outcome != "vanished" {
                    assert_eq!(last.hangup_cause.as_deref(), Some("NO_ANSWER"));
                }
                assert_eq!(attempts.len() as u32, MAX_ATTEMPTS, "no answer is retried");
            }
            b'4' => {
                assert_eq!(task.status.as_str(), "failed");
                if outcome != "vanished" {
                    assert_eq!(
                        last.hangup_cause.as_deref(),
                        Some("NORMAL_CIRCUIT_CONGESTION")
                    );
                    assert_eq!(attempts.len(), 1, "congestion is not retried");
                }
            }
            _ => {}
        }
    }
    (counts.originates, counts.double_dialed) = originates_against_attempts(lab).await;
    counts
}
