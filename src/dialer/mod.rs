//! The progressive dialer: for each available agent, the next task of the
//! agent's campaign; the agent is reserved, the customer preloaded, the
//! attempt written, and only then does the originate go to the switch. The
//! dialer is the one owner of agent states and of each call's business
//! context; the call manager owns the calls' switch state.

pub mod agents;

use crate::customer::{CustomerService, CustomerView, Lookup};
use crate::popup::build_pop;
use crate::popup::hub::{AgentHub, Presence};
use crate::popup::messages::{AgentStateName, ServerMsg};
use crate::store::{Agent, NewAttempt, NewPop, Store, Task, TaskNext, now_ms};
use crate::switch::calls::{CallEnd, CallState};
use crate::switch::manager::{CallManager, CallUpdate};
use crate::switch::{AnswerAction, CallId, HangupCause, OriginateRequest};
use agents::{AgentState, Agents};
use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::{mpsc, oneshot};

/// How the dialer reaches customers and agents on one switch.
#[derive(Clone, Debug)]
pub struct SwitchPlan {
    pub name: String,
    /// `sofia/gateway/{gateway}/{phone}`, `PJSIP/{phone}@carrier`
    pub customer_dial_string: String,
    pub gateway: String,
    /// `user/{extension}`, `PJSIP/{extension}`
    pub agent_dial_string: String,
    pub connect_extension: String,
    pub connect_context: String,
    pub caller_id_number: Option<String>,
    pub caller_id_name: Option<String>,
    /// The most calls up on this switch at once.
    pub max_calls: usize,
}

/// The dialer's settings: its switches and the campaign timing.
#[derive(Clone, Debug)]
pub struct DialPlan {
    pub switches: Vec<SwitchPlan>,
    pub ring_timeout: Duration,
    pub wrap_up: Duration,
}

/// One switch the dialer places calls on: its plan, and the call manager
/// that owns its calls.
pub struct SwitchLink {
    pub plan: SwitchPlan,
    pub manager: CallManager,
    pub updates: mpsc::Receiver<CallUpdate>,
}

/// The dialer's view of one switch.
struct Switch {
    plan: SwitchPlan,
    manager: CallManager,
    up: bool,
    /// False after a start with open attempts, until they are reconciled.
    rebuilt: bool,
    /// Calls up or being claimed on it.
    load: usize,
}

impl Switch {
    fn free(&self) -> usize {
        if self.up && self.rebuilt {
            self.plan.max_calls.saturating_sub(self.load)
        } else {
            0
        }
    }
}

/// A phone number as it may enter a dial string: digits with an optional
/// leading `+`. Anything else could change what the switch dials.
pub fn valid_phone(phone: &str) -> bool {
    let digits = phone.strip_prefix('+').unwrap_or(phone);
    (3..=20).contains(&digits.len()) && digits.bytes().all(|b| b.is_ascii_digit())
}

#[derive(Clone, Debug, Default, serde::Serialize)]
pub struct DialerStats {
    pub calls: u64,
    pub answered: u64,
    pub busy: u64,
    pub no_answer: u64,
    pub failed: u64,
    pub vanished: u64,
}

#[derive(Clone, Debug, serde::Serialize)]
pub struct DialerSnapshot {
    pub stats: DialerStats,
    pub live_calls: usize,
    pub agents: Vec<(String, String)>,
    pub switch_up: bool,
}

enum Command {
    TasksAdded,
    Snapshot(oneshot::Sender<DialerSnapshot>),
    AgentState(String, oneshot::Sender<AgentStateName>),
}

enum Internal {
    CustomerLoaded(CallId, Box<CustomerView>),
    /// A claim job took a task for the agent and wrote the attempt.
    Claimed {
        agent: Agent,
        call_id: CallId,
        task: Task,
        switch: usize,
    },
    /// A claim job found nothing due before `due_ms`.
    NoTask {
        agent_id: String,
        campaign: String,
        due_ms: i64,
        switch: usize,
    },
    /// A claim job failed (store error); the agent is free again.
    ClaimFailed {
        agent_id: String,
        error: String,
        switch: usize,
    },
    /// A task's outcome is written: its campaign may have work again.
    TaskSettled(String),
    OriginateFailed(CallId, String),
}

#[derive(Clone)]
pub struct DialerHandle {
    tx: mpsc::Sender<Command>,
}

impl DialerHandle {
    /// New tasks may be due: look again at once.
    pub async fn tasks_added(&self) {
        let _ = self.tx.send(Command::TasksAdded).await;
    }

    /// The agent's state as its page shows it.
    pub async fn agent_state(&self, agent_id: &str) -> AgentStateName {
        let (tx, rx) = oneshot::channel();
        if self
            .tx
            .send(Command::AgentState(agent_id.to_string(), tx))
            .await
            .is_err()
        {
            return AgentStateName::LoggedOut;
        }
        rx.await.unwrap_or(AgentStateName::LoggedOut)
    }

    pub async fn snapshot(&self) -> Option<DialerSnapshot> {
        let (tx, rx) = oneshot::channel();
        self.tx.send(Command::Snapshot(tx)).await.ok()?;
        rx.await.ok()
    }
}

/// Where the call's customer lookup stands.
enum CustomerLookup {
    NotStarted,
    /// Under way (the preload, or one started at answer).
    Resolving,
    /// Every source answered (or failed); taken by the pop.
    Ready(Box<CustomerView>),
    /// The pop went out with it.
    Used,
}

/// The business side of one live call.
struct LiveCall {
    /// Index of the switch it is on.
    switch: usize,
    task: Task,
    agent_id: String,
    lookup: Lookup,
    customer: CustomerLookup,
    /// When the answer was read off the switch, while the pop waits for the
    /// preload to finish.
    answer_waiting: Option<Instant>,
    answered: bool,
    popped: bool,
    /// A pop recorded by a previous run but never acknowledged: sent again
    /// under the same id (the page shows a pop id once).
    unacked_pop: Option<String>,
}

pub struct Dialer {
    store: Arc<dyn Store>,
    customers: CustomerService,
    switches: Vec<Switch>,
    hub: AgentHub,
    plan: DialPlan,
    agents: Agents,
    calls: HashMap<CallId, LiveCall>,
    stats: DialerStats,
    /// Per campaign: no task is due before this time (ms); cleared when
    /// tasks are added.
    idle_until: HashMap<String, i64>,
    /// Campaign rules (attempts, retry delay), read once per campaign.
    rules: HashMap<String, (u32, i64)>,
    /// Claim jobs under way (each holds one agent).
    claiming: usize,
    internal_tx: mpsc::Sender<Internal>,
}

impl Dialer {
    /// Starts the dialer for these agents. Open attempts from before a
    /// restart are handed to the call manager to rebuild first.
    #[allow(clippy::too_many_arguments)]
    pub async fn start(
        store: Arc<dyn Store>,
        customers: CustomerService,
        links: Vec<SwitchLink>,
        hub: AgentHub,
        presence: mpsc::Receiver<Presence>,
        plan: DialPlan,
        agents: Vec<Agent>,
    ) -> Result<DialerHandle, crate::store::StoreError> {
        let (tx, rx) = mpsc::channel(1024);
        let (internal_tx, internal_rx) = mpsc::channel(16 * 1024);
        // One channel of updates, each tagged with its switch.
        let (upd_tx, updates) = mpsc::channel(16 * 1024);
        let mut switches = Vec::new();
        for (i, link) in links.into_iter().enumerate() {
            let tx = upd_tx.clone();
            let mut rx = link.updates;
            tokio::spawn(async move {
                while let Some(u) = rx.recv().await {
                    if tx.send((i, u)).await.is_err() {
                        return;
                    }
                }
            });
            switches.push(Switch {
                plan: link.plan,
                manager: link.manager,
                up: true,
                rebuilt: true,
                load: 0,
            });
        }
        let mut d = Dialer {
            store,
            customers,
            switches,
            hub,
            plan,
            agents: Agents::new(agents),
            calls: HashMap::new(),
            stats: DialerStats::default(),
            idle_until: HashMap::new(),
            rules: HashMap::new(),
            claiming: 0,
            internal_tx,
        };
        d.recover().await?;
        tokio::spawn(d.run(rx, updates, presence, internal_rx));
        Ok(DialerHandle { tx })
    }

    /// Re-owns the attempts a previous run left open: their agents are
    /// busy with them, and the manager asks the switch which still exist.
    async fn recover(&mut self) -> Result<(), crate::store::StoreError> {
        // A task claimed but never dialed, or whose attempt was closed but
        // not the task itself: settle it from its recorded attempts.
        for task in self.store.orphaned_dialing_tasks().await? {
            let attempts = self.store.sync_task_attempts(task.id).await?;
            let history = self.store.attempts_for_task(task.id).await?;
            let max = self
                .store
                .campaign(&task.campaign_id)
                .await?
                .map_or(1, |c| c.max_attempts);
            let next = if history
                .iter()
                .any(|a| a.outcome.as_deref() == Some("answered"))
            {
                TaskNext::Done
            } else if attempts < max {
                TaskNext::RetryAt(now_ms())
            } else {
                TaskNext::Failed
            };
            tracing::info!(
                task = task.id,
                ?next,
                "settling a task left dialing by the previous run"
            );
            self.store.finish_task(task.id, next, None).await?;
        }
        let open = self.store.open_attempts().await?;
        if open.is_empty() {
            return Ok(());
        }
        tracing::info!(
            open = open.len(),
            "re-adopting calls left open by the previous run"
        );
        let mut ids: Vec<Vec<CallId>> = vec![Vec::new(); self.switches.len()];
        for a in open {
            let Some(task) = self.store.task(a.task_id).await? else {
                continue;
            };
            let id = CallId(a.call_id.clone());
            let Some(sw) = self
                .switches
                .iter()
                .position(|s| s.plan.name == a.switch_name)
            else {
                // Its switch is no longer configured: the call cannot be
                // followed, so it counts as lost and the task goes on.
                tracing::warn!(call = %id, switch = %a.switch_name, "open attempt on a switch that is not configured");
                self.store
                    .close_attempt(&a.call_id, now_ms(), "vanished", None)
                    .await?;
                self.store
                    .finish_task(task.id, TaskNext::RetryAt(now_ms()), None)
                    .await?;
                continue;
            };
            let answered = a.answer_ms.is_some();
            let pops = self.store.pops_for_call(&a.call_id).await?;
            // Answered but its pop never recorded, or never acknowledged: the
            // agent is still on the call, so it is shown (again).
            let acked = pops.iter().any(|p| p.2.is_some());
            let owes_pop = answered && !acked;
            let unacked_pop = pops.first().map(|p| p.0.clone()).filter(|_| owes_pop);
            self.agents.set(
                &a.agent_id,
                if answered {
                    AgentState::OnCall(id.clone())
                } else {
                    AgentState::Reserved(id.clone())
                },
            );
            self.calls.insert(
                id.clone(),
                LiveCall {
                    switch: sw,
                    lookup: self.customers.lookup_for_task(&task),
                    customer: CustomerLookup::NotStarted,
                    answer_waiting: owes_pop.then(Instant::now),
                    answered,
                    popped: answered && !owes_pop,
                    unacked_pop,
                    task,
                    agent_id: a.agent_id,
                },
            );
            if owes_pop || self.customers.preload_enabled() {
                self.resolve(&id);
            }
            self.switches[sw].load += 1;
            ids[sw].push(id);
        }
        for (sw, ids) in ids.into_iter().enumerate() {
            if !ids.is_empty() {
                self.switches[sw].rebuilt = false;
                self.switches[sw].manager.adopt(ids).await;
            }
        }
        Ok(())
    }

    async fn run(
        mut self,
        mut commands: mpsc::Receiver<Command>,
        mut updates: mpsc::Receiver<(usize, CallUpdate)>,
        mut presence: mpsc::Receiver<Presence>,
        mut internal: mpsc::Receiver<Internal>,
    ) {
        let mut tick = tokio::time::interval(Duration::from_millis(50));
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                u = updates.recv() => match u {
                    Some((sw, u)) => self.on_update(sw, u).await,
                    None => return,
                },
                p = presence.recv() => match p {
                    Some(p) => self.on_presence(p).await,
                    None => return,
                },
                Some(i) = internal.recv() => self.on_internal(i).await,
                c = commands.recv() => match c {
                    Some(Command::TasksAdded) => self.idle_until.clear(),
                    Some(Command::Snapshot(reply)) => {
                        let _ = reply.send(self.snapshot());
                    }
                    Some(Command::AgentState(id, reply)) => {
                        let _ = reply.send(self.agents.state(&id).map_or(AgentStateName::LoggedOut, AgentState::name));
                    }
                    None => return,
                },
                _ = tick.tick() => {}
            }
            self.end_wrap_ups(Instant::now()).await;
            if let Err(e) = self.dial_what_can_be_dialed().await {
                tracing::error!(error = %e, "dialing stopped by a store error; retrying");
            }
        }
    }

    fn snapshot(&self) -> DialerSnapshot {
        DialerSnapshot {
            stats: self.stats.clone(),
            live_calls: self.calls.len(),
            agents: self.agents.list(),
            switch_up: self.switches.iter().any(|s| s.up),
        }
    }

    async fn set_agent(&mut self, agent_id: &str, state: AgentState) {
        let msg = ServerMsg::State {
            state: state.name(),
            call_id: state.call().map(|c| c.to_string()),
            wrap_up_seconds: matches!(state, AgentState::WrapUp(_))
                .then(|| self.plan.wrap_up.as_secs_f64()),
        };
        self.agents.set(agent_id, state);
        self.hub.send(agent_id, msg).await;
    }

    async fn on_presence(&mut self, p: Presence) {
        match p {
            Presence::Online(id) => {
                self.agents.set_online(&id, true);
                // A page that opens mid-call sees the call's state; an idle
                // agent becomes available.
                let state = self.agents.state(&id).cloned();
                match state {
                    Some(AgentState::LoggedOut) => self.set_agent(&id, AgentState::Available).await,
                    Some(s) => self.set_agent(&id, s).await,
                    None => {}
                }
            }
            Presence::Offline(id) => {
                self.agents.set_online(&id, false);
                if matches!(
                    self.agents.state(&id),
                    Some(AgentState::Available) | Some(AgentState::WrapUp(_))
                ) {
                    self.agents.set(&id, AgentState::LoggedOut);
                }
            }
            Presence::Ready(id) => {
                if matches!(self.agents.state(&id), Some(AgentState::WrapUp(_))) {
                    self.set_agent(&id, AgentState::Available).await;
                }
            }
        }
    }

    async fn end_wrap_ups(&mut self, now: Instant) {
        for id in self.agents.wrap_ups_over(now) {
            let next = if self.agents.is_online(&id) {
                AgentState::Available
            } else {
                AgentState::LoggedOut
            };
            self.set_agent(&id, next).await;
        }
    }

    /// Reserves available agents for the next due tasks, while the switch
    /// has room.
    /// Reserves available agents and starts a claim job for each, while the
    /// switch has room. The loop never waits for the store: the jobs do, and
    /// report back, so answers and pops are never queued behind claims.
    async fn dial_what_can_be_dialed(&mut self) -> Result<(), crate::store::StoreError> {
        let now = now_ms();
        while self.claiming < MAX_CLAIMS {
            // The switch with the most free capacity; one that is down or
            // rebuilding has none, so the others go on dialing.
            let Some(sw) = (0..self.switches.len())
                .filter(|&i| self.switches[i].free() > 0)
                .max_by_key(|&i| self.switches[i].free())
            else {
                return Ok(());
            };
            let idle = &self.idle_until;
            let Some(agent) = self
                .agents
                .next_available(|c| idle.get(c).is_none_or(|&t| t <= now))
            else {
                return Ok(());
            };
            // Held quietly while the job looks for a task: the page hears
            // "reserved" only once there is a call to place.
            self.agents.set(&agent.id, AgentState::Claiming);
            self.claiming += 1;
            self.switches[sw].load += 1;
            let (store, tx) = (self.store.clone(), self.internal_tx.clone());
            let switch_name = self.switches[sw].plan.name.clone();
            tokio::spawn(async move {
                let msg = claim(&store, agent, sw, &switch_name, now).await;
                let _ = tx.send(msg).await;
            });
        }
        Ok(())
    }

    /// A claimed task with its attempt written: the call is placed.
    async fn dial(&mut self, agent: Agent, task: Task, call_id: CallId, sw: usize) {
        self.set_agent(&agent.id, AgentState::Reserved(call_id.clone()))
            .await;
        let plan = &self.switches[sw].plan;
        let req = OriginateRequest {
            call_id: call_id.clone(),
            destination: plan
                .customer_dial_string
                .replace("{gateway}", &plan.gateway)
                .replace("{phone}", &task.phone),
            caller_id_number: plan.caller_id_number.clone(),
            caller_id_name: plan.caller_id_name.clone(),
            timeout: self.plan.ring_timeout,
            variables: vec![
                ("dialpop_task_id".into(), task.id.to_string()),
                ("dialpop_campaign_id".into(), task.campaign_id.clone()),
                ("dialpop_customer_id".into(), task.customer_id.clone()),
                ("dialpop_customer_phone".into(), task.phone.clone()),
                ("dialpop_agent_id".into(), agent.id.clone()),
                (
                    "dialpop_agent_dial".into(),
                    plan.agent_dial_string
                        .replace("{extension}", &agent.extension),
                ),
            ],
            on_answer: AnswerAction::Dialplan {
                extension: plan.connect_extension.clone(),
                context: plan.connect_context.clone(),
            },
        };
        self.calls.insert(
            call_id.clone(),
            LiveCall {
                switch: sw,
                lookup: self.customers.lookup_for_task(&task),
                task,
                agent_id: agent.id,
                customer: CustomerLookup::NotStarted,
                answer_waiting: None,
                answered: false,
                popped: false,
                unacked_pop: None,
            },
        );
        // Preload: the record is fetched while the customer's phone rings,
        // so that the answer finds it cached.
        if self.customers.preload_enabled() {
            self.resolve(&call_id);
        }
        self.stats.calls += 1;
        let manager = self.switches[sw].manager.clone();
        let tx = self.internal_tx.clone();
        tokio::spawn(async move {
            if let Err(e) = manager.originate(req.clone()).await {
                let _ = tx
                    .send(Internal::OriginateFailed(req.call_id, e.to_string()))
                    .await;
            }
        });
    }

    fn release_claim(&mut self, agent_id: &str) {
        if self.agents.state(agent_id) == Some(&AgentState::Claiming) {
            let next = if self.agents.is_online(agent_id) {
                AgentState::Available
            } else {
                AgentState::LoggedOut
            };
            self.agents.set(agent_id, next);
        }
    }

    /// Starts finding the call's customer, once: an answer that comes
    /// first waits for this lookup instead of starting another.
    fn resolve(&mut self, id: &CallId) {
        let Some(call) = self.calls.get_mut(id) else {
            return;
        };
        if !matches!(call.customer, CustomerLookup::NotStarted) {
            return;
        }
        call.customer = CustomerLookup::Resolving;
        let customers = self.customers.clone();
        let lookup = call.lookup.clone();
        let tx = self.internal_tx.clone();
        let id = id.clone();
        tokio::spawn(async move {
            let view = customers.resolve(&lookup).await;
            let _ = tx.send(Internal::CustomerLoaded(id, Box::new(view))).await;
        });
    }

    async fn on_internal(&mut self, i: Internal) {
        match i {
            Internal::CustomerLoaded(id, view) => {
                let Some(call) = self.calls.get_mut(&id) else {
                    return;
                };
                call.customer = CustomerLookup::Ready(view);
                if let Some(at) = call.answer_waiting.take() {
                    self.pop(&id, at).await;
                }
            }
            Internal::Claimed {
                agent,
                call_id,
                task,
                switch,
            } => {
                self.claiming -= 1;
                self.dial(agent, task, call_id, switch).await;
            }
            Internal::NoTask {
                agent_id,
                campaign,
                due_ms,
                switch,
            } => {
                self.claiming -= 1;
                self.switches[switch].load -= 1;
                self.release_claim(&agent_id);
                // Nothing due in this campaign: do not ask again before the
                // next retry is due (or new tasks arrive).
                self.idle_until.insert(campaign, due_ms.max(now_ms() + 1));
            }
            Internal::ClaimFailed {
                agent_id,
                error,
                switch,
            } => {
                self.claiming -= 1;
                self.switches[switch].load -= 1;
                self.release_claim(&agent_id);
                tracing::error!(%error, "could not claim a task; will try again");
            }
            Internal::TaskSettled(campaign) => {
                self.idle_until.remove(&campaign);
            }
            Internal::OriginateFailed(id, reason) => {
                // The manager reports the call as failed too (or, if the
                // bytes may have left, leaves it to the rebuild); this is
                // only for the log.
                tracing::warn!(call = %id, %reason, "originate not accepted");
            }
        }
    }

    async fn on_update(&mut self, sw: usize, u: CallUpdate) {
        let name = self.switches[sw].plan.name.clone();
        match u {
            CallUpdate::Changed {
                call_id,
                to,
                received,
                ..
            } => self.on_call_state(call_id, to, received).await,
            CallUpdate::SwitchDown { reason } => {
                tracing::warn!(switch = %name, %reason, "switch down: dialing paused on it");
                self.switches[sw].up = false;
            }
            CallUpdate::SwitchUp { reconnect } => {
                // After a reconnect, dialing waits for the rebuild.
                self.switches[sw].up = !reconnect;
            }
            CallUpdate::Reconciled { live, vanished } => {
                tracing::info!(switch = %name, live, vanished, "call state rebuilt from the switch");
                self.switches[sw].up = true;
                self.switches[sw].rebuilt = true;
            }
            CallUpdate::Fatal(reason) => {
                tracing::error!(switch = %name, %reason, "switch driver gave up: no more calls on it");
                self.switches[sw].up = false;
            }
        }
    }

    async fn on_call_state(&mut self, id: CallId, to: CallState, received: Instant) {
        let Some(call) = self.calls.get_mut(&id) else {
            return;
        };
        let agent_id = call.agent_id.clone();
        match to {
            CallState::Ringing | CallState::EarlyMedia => {
                // Not on the answer-to-pop path: written beside the loop.
                let (store, call) = (self.store.clone(), id.to_string());
                let at = now_ms();
                tokio::spawn(async move {
                    if let Err(e) = store.attempt_ringing(&call, at).await {
                        tracing::warn!(error = %e, "could not record ringing");
                    }
                });
                self.hub
                    .send(
                        &agent_id,
                        ServerMsg::Call {
                            call_id: id.to_string(),
                            state: "ringing".into(),
                            cause: None,
                        },
                    )
                    .await;
            }
            CallState::Answered | CallState::Bridged => {
                if call.answered {
                    return;
                }
                call.answered = true;
                let loaded = matches!(call.customer, CustomerLookup::Ready(_));
                if !loaded {
                    call.answer_waiting = Some(received);
                }
                self.stats.answered += 1;
                if !loaded {
                    // Awaits the preload under way, or (preload switched
                    // off) starts the lookup now.
                    self.resolve(&id);
                }
                if loaded {
                    self.pop(&id, received).await;
                } else {
                    let (store, call) = (self.store.clone(), id.to_string());
                    let at = now_ms();
                    tokio::spawn(async move {
                        if let Err(e) = store.record_answer(&call, at, None).await {
                            tracing::error!(error = %e, "could not record an answer");
                        }
                    });
                }
                self.hub
                    .send(
                        &agent_id,
                        ServerMsg::Call {
                            call_id: id.to_string(),
                            state: "answered".into(),
                            cause: None,
                        },
                    )
                    .await;
                self.set_agent(&agent_id, AgentState::OnCall(id.clone()))
                    .await;
            }
            CallState::Ended(end) => self.on_end(id, end).await,
            CallState::Dialing | CallState::Originated => {}
        }
    }

    async fn pop(&mut self, id: &CallId, answered_at: Instant) {
        let Some(call) = self.calls.get_mut(id) else {
            return;
        };
        if call.popped {
            return;
        }
        call.popped = true;
        let resend = call.unacked_pop.take();
        let pop_id = resend
            .clone()
            .unwrap_or_else(|| uuid::Uuid::new_v4().to_string());
        // The view goes into the pop as it is: nothing is copied on the
        // answer-to-pop path.
        let view = match std::mem::replace(&mut call.customer, CustomerLookup::Used) {
            CustomerLookup::Ready(v) => Some(*v),
            _ => None,
        };
        let msg = build_pop(&pop_id, id.as_str(), &call.task, view);
        let degraded = matches!(&msg, ServerMsg::Pop { degraded: true, .. });
        let agent_id = call.agent_id.clone();
        let rec = NewPop {
            pop_id: pop_id.clone(),
            call_id: id.to_string(),
            agent_id: agent_id.clone(),
            customer_id: call.task.customer_id.clone(),
            sent_ms: now_ms(),
            degraded,
        };
        // Recorded (with the answer) before delivery, so that the ack always
        // finds its pop.
        // Delivered at once (the agent sees who it is without waiting for the
        // disk), recorded beside the loop; an ack that overtakes the record
        // is retried by the hub.
        self.hub
            .pop(&agent_id, &pop_id, id.as_str(), answered_at, msg)
            .await;
        let (store, call) = (self.store.clone(), id.to_string());
        tokio::spawn(async move {
            let record = if resend.is_some() { None } else { Some(&rec) };
            if let Err(e) = store.record_answer(&call, now_ms(), record).await {
                tracing::error!(error = %e, "could not record a pop");
            }
        });
    }

    async fn on_end(&mut self, id: CallId, end: CallEnd) {
        let Some(call) = self.calls.remove(&id) else {
            return;
        };
        // The switch has room again.
        if let Some(sw) = self.switches.get_mut(call.switch) {
            sw.load = sw.load.saturating_sub(1);
        }
        let (outcome, cause) = match &end {
            CallEnd::HungUp(c) | CallEnd::Failed(c) => {
                (classify(call.answered, c), Some(c.name().to_string()))
            }
            // Answered before the gap: the conversation happened.
            CallEnd::Vanished if call.answered => ("answered", None),
            CallEnd::Vanished => ("vanished", None),
        };
        match outcome {
            "answered" => {}
            "busy" => self.stats.busy += 1,
            "no_answer" => self.stats.no_answer += 1,
            "vanished" => self.stats.vanished += 1,
            _ => self.stats.failed += 1,
        }
        let next = self.next_for_task(&call.task, outcome, &end).await;
        if let TaskNext::RetryAt(at) = next {
            let due = self
                .idle_until
                .entry(call.task.campaign_id.clone())
                .or_insert(at);
            *due = (*due).min(at);
        }
        // Closed, then the task moved on, beside the loop and in this order;
        // a kill in between is settled at the next start (orphaned tasks).
        let (store, call_id, task_id) = (self.store.clone(), id.to_string(), call.task.id);
        let (cause_w, outcome_w) = (cause.clone(), outcome.to_string());
        let (tx, campaign) = (self.internal_tx.clone(), call.task.campaign_id.clone());
        tokio::spawn(async move {
            if let Err(e) = store
                .close_attempt(&call_id, now_ms(), &outcome_w, cause_w.as_deref())
                .await
            {
                tracing::error!(error = %e, "could not close an attempt");
            }
            if let Err(e) = store.finish_task(task_id, next, cause_w.as_deref()).await {
                tracing::error!(error = %e, "could not update a task");
            }
            let _ = tx.send(Internal::TaskSettled(campaign)).await;
        });
        // The call is now part of the customer's history: the next pop
        // must not show a cached history without it.
        let (customers, lookup) = (self.customers.clone(), call.lookup.clone());
        tokio::spawn(async move {
            customers.after_call(&lookup).await;
        });
        self.hub.call_ended(id.as_str()).await;
        self.hub
            .send(
                &call.agent_id,
                ServerMsg::Call {
                    call_id: id.to_string(),
                    state: "ended".into(),
                    cause: cause
                        .clone()
                        .or_else(|| Some("LOST_DURING_RECONNECT".into())),
                },
            )
            .await;
        // Wrap-up follows a conversation; an agent who never spoke to the
        // customer goes straight back to available.
        let next_state = if call.answered {
            AgentState::WrapUp(Instant::now() + self.plan.wrap_up)
        } else if self.agents.is_online(&call.agent_id) {
            AgentState::Available
        } else {
            AgentState::LoggedOut
        };
        self.set_agent(&call.agent_id, next_state).await;
    }

    async fn next_for_task(&mut self, task: &Task, outcome: &str, end: &CallEnd) -> TaskNext {
        if outcome == "answered" {
            return TaskNext::Done;
        }
        let (max, delay) = match self.rules.get(&task.campaign_id) {
            Some(r) => *r,
            None => {
                let campaign = self.store.campaign(&task.campaign_id).await.ok().flatten();
                let r = campaign
                    .map(|c| (c.max_attempts, c.retry_delay_ms))
                    .unwrap_or((1, 0));
                self.rules.insert(task.campaign_id.clone(), r);
                r
            }
        };
        // For now the campaign retries busy and unanswered numbers, and
        // calls whose outcome was lost in a reconnect.
        let retryable = match end {
            CallEnd::Vanished => true,
            CallEnd::HungUp(c) | CallEnd::Failed(c) => matches!(
                c,
                HangupCause::UserBusy
                    | HangupCause::NoAnswer
                    | HangupCause::NoUserResponse
                    | HangupCause::OriginatorCancel
            ),
        };
        if retryable && task.attempts < max {
            TaskNext::RetryAt(now_ms() + delay)
        } else {
            TaskNext::Failed
        }
    }
}

/// Claim jobs at once: enough to keep the store busy, few enough that a
/// burst of idle agents does not flood it.
const MAX_CLAIMS: usize = 8;

/// A claim job: the best due task for the agent's campaign, checked, and its
/// attempt written with a fresh call id, before anything goes to the switch.
async fn claim(
    store: &Arc<dyn Store>,
    agent: Agent,
    switch: usize,
    switch_name: &str,
    now: i64,
) -> Internal {
    let fail = |agent_id: String, e: crate::store::StoreError| Internal::ClaimFailed {
        agent_id,
        error: e.to_string(),
        switch,
    };
    loop {
        let task = match store.claim_next_task(&agent.campaign_id, now).await {
            Ok(Some(t)) => t,
            Ok(None) => {
                return match store.next_due_ms(&agent.campaign_id).await {
                    Ok(due) => Internal::NoTask {
                        agent_id: agent.id,
                        campaign: agent.campaign_id,
                        due_ms: due.unwrap_or(i64::MAX),
                        switch,
                    },
                    Err(e) => fail(agent.id, e),
                };
            }
            Err(e) => return fail(agent.id, e),
        };
        if !valid_phone(&task.phone) {
            // Refused before anything reaches the switch; kept visible.
            tracing::warn!(
                task = task.id,
                "task has a phone number that cannot be dialed"
            );
            if let Err(e) = store
                .finish_task(task.id, TaskNext::Failed, Some("INVALID_NUMBER_FORMAT"))
                .await
            {
                return fail(agent.id, e);
            }
            continue;
        }
        let call_id = CallId::new_random();
        let attempt = NewAttempt {
            call_id: call_id.to_string(),
            task_id: task.id,
            agent_id: agent.id.clone(),
            switch_name: switch_name.to_string(),
            originate_ms: now_ms(),
        };
        if let Err(e) = store.insert_attempt(&attempt).await {
            return fail(agent.id, e);
        }
        return Internal::Claimed {
            agent,
            call_id,
            task,
            switch,
        };
    }
}

/// The attempt's outcome from how the call ended.
fn classify(answered: bool, cause: &HangupCause) -> &'static str {
    if answered {
        return "answered";
    }
    match cause {
        HangupCause::UserBusy => "busy",
        HangupCause::NoAnswer | HangupCause::NoUserResponse | HangupCause::OriginatorCancel => {
            "no_answer"
        }
        _ => "failed",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn phones_that_may_enter_a_dial_string() {
        for ok in ["+15551234567", "15551234", "911", "+861380013800099999"] {
            assert!(valid_phone(ok), "{ok}");
        }
        for bad in [
            "",
            "+",
            "12",
            "+1 555",
            "1555;x",
            "1555\r\n",
            "１２３４",
            "+15551234567890123456789",
            "1555&park()",
            "sip:1@x",
        ] {
            assert!(!valid_phone(bad), "{bad:?}");
        }
    }

    #[test]
    fn outcomes_from_causes() {
        assert_eq!(classify(true, &HangupCause::NormalClearing), "answered");
        assert_eq!(classify(true, &HangupCause::UserBusy), "answered");
        assert_eq!(classify(false, &HangupCause::UserBusy), "busy");
        assert_eq!(classify(false, &HangupCause::NoAnswer), "no_answer");
        assert_eq!(classify(false, &HangupCause::OriginatorCancel), "no_answer");
        assert_eq!(
            classify(false, &HangupCause::NormalCircuitCongestion),
            "failed"
        );
    }
}
