//! The progressive dialer: for each available agent, the next task of the
//! agent's campaign; the agent is reserved, the customer preloaded, the
//! attempt written, and only then does the originate go to the switch. The
//! dialer is the one owner of agent states and of each call's business
//! context; the call manager owns the calls' switch state.
//!
//! This file is the loop; the pieces it drives live beside it: agent
//! states (`agents`), claims (`claim`), what an end means for a task
//! (`policy`, pure), switch health after refusals (`health`, pure), the
//! switches (`switches`), one call's state (`live_call`), what happens as a
//! call moves (`call_flow`) and recovery after a restart (`recovery`).

mod agent_flow;
pub mod agents;
mod call_flow;
mod call_log;
mod claim;
pub mod eligibility;
pub mod health;
mod live_call;
pub mod pace;
pub mod policy;
mod recovery;
pub mod switches;
pub mod test_call;
pub mod test_report;
pub mod tz_region;
pub mod window;
mod wrap_up;

pub use claim::valid_phone;

use crate::customer::CustomerService;
use crate::popup::hub::{AgentHub, Presence};
use crate::popup::messages::{AgentRequest, AgentStateName};
use crate::store::writer::{StoreWriter, WriterStats};
use crate::store::{Agent, Store, Task, now_ms};
use crate::switch::manager::{CallManager, CallUpdate, Updates};
use crate::switch::{AnswerAction, CallId, OriginateRequest};
use agents::{AgentState, Agents};
use claim::CampaignView;
use live_call::{CustomerLookup, LiveCall};
use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};
use switches::{Link, Switch, SwitchStatus};
use tokio::sync::{mpsc, oneshot};
use tracing::Instrument;

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
    /// The most new calls a second (see `pace`).
    pub originates_per_second: f64,
}

/// The dialer's settings: its switches and the campaign timing.
#[derive(Clone, Debug)]
pub struct DialPlan {
    pub switches: Vec<SwitchPlan>,
    pub ring_timeout: Duration,
    pub wrap_up: Duration,
}

/// One switch the dialer places calls on: its plan, and the call manager
/// that owns its calls (its updates arrive tagged with its index).
pub struct SwitchLink {
    pub plan: SwitchPlan,
    pub manager: CallManager,
}

#[derive(Clone, Debug, Default, serde::Serialize)]
pub struct DialerStats {
    pub calls: u64,
    pub answered: u64,
    pub busy: u64,
    pub no_answer: u64,
    pub failed: u64,
    pub vanished: u64,
    /// Calls the switch never put through (refused, not connected): no
    /// attempt was charged to their tasks.
    pub not_placed: u64,
    /// Pops that went out with a source missing.
    pub pops_degraded: u64,
    /// Answered calls the campaign's filters kept from popping.
    pub pops_filtered: u64,
    /// Ended calls by the switch's hang-up cause (at most `MAX_CAUSES`
    /// names; the rest are counted as `other`).
    pub causes: std::collections::BTreeMap<String, u64>,
    /// Calls by campaign, for its answer and abandon rates.
    pub campaigns: std::collections::BTreeMap<String, CampaignCalls>,
}

/// One campaign's calls.
#[derive(Clone, Debug, Default, serde::Serialize)]
pub struct CampaignCalls {
    pub originates: u64,
    /// Ended calls by outcome.
    pub ended: std::collections::BTreeMap<&'static str, u64>,
}

/// Distinct hang-up cause names counted: a switch that sends free text
/// cannot grow the table (or a metric's label set) without end.
const MAX_CAUSES: usize = 64;

impl DialerStats {
    fn campaign(&mut self, id: &str) -> &mut CampaignCalls {
        // Campaign ids are few and come from the store, not the switch.
        self.campaigns.entry(id.to_string()).or_default()
    }

    pub(crate) fn count_originate(&mut self, campaign: &str) {
        self.calls += 1;
        self.campaign(campaign).originates += 1;
    }

    pub(crate) fn count_end(&mut self, campaign: &str, outcome: policy::Outcome) {
        *self
            .campaign(campaign)
            .ended
            .entry(outcome.as_str())
            .or_default() += 1;
    }

    pub(crate) fn count_cause(&mut self, name: &str) {
        if let Some(n) = self.causes.get_mut(name) {
            *n += 1;
        } else if self.causes.len() < MAX_CAUSES {
            self.causes.insert(name.to_string(), 1);
        } else {
            *self.causes.entry("other".into()).or_default() += 1;
        }
    }
}

#[derive(Clone, Debug, serde::Serialize)]
pub struct DialerSnapshot {
    pub stats: DialerStats,
    pub live_calls: usize,
    /// Wrap-ups that end on their own (a disposition is not required):
    /// a graceful stop waits for them, so that their tasks are settled.
    pub timed_wrap_ups: usize,
    pub agents: Vec<(String, String)>,
    pub agent_counts: std::collections::BTreeMap<String, usize>,
    pub switch_up: bool,
    pub switches: Vec<SwitchStatus>,
    pub writer: WriterStats,
    pub draining: bool,
}

enum Command {
    TasksAdded,
    /// A campaign was created or changed in the store: read it again.
    CampaignChanged(String),
    Snapshot(oneshot::Sender<DialerSnapshot>),
    AgentState(String, oneshot::Sender<AgentStateName>),
    /// Stop claiming tasks (a graceful shutdown); calls up go on.
    Drain,
    /// An agent was added or changed in the store: read it again.
    AgentChanged(String),
    /// A request for an agent made through the API (pause, resume).
    AgentRequest(
        String,
        AgentRequest,
        oneshot::Sender<Result<AgentStateName, String>>,
    ),
    TestCall(
        test_call::TestCallOrder,
        oneshot::Sender<Result<test_call::Trace, test_call::TestCallRefused>>,
    ),
    TestCallTrace(String, oneshot::Sender<Option<test_call::Trace>>),
}

/// The longest an idle campaign goes without a look at its queue.
const IDLE_RECHECK_MS: i64 = 2_000;

pub(crate) enum Internal {
    /// The call's record is there, its pop made ready.
    CustomerLoaded(CallId, Box<crate::popup::Prepared>),
    /// A claim job's tasks with their attempts written, and the agents it
    /// found nothing for.
    Claims(Box<claim::Claims>),
    AgentLoaded(String, Option<Agent>),
    /// A disposition and its task's settlement are written.
    Disposed {
        agent_id: String,
        call_id: String,
        code: String,
    },
    /// A task's outcome is written: its campaign may have work again.
    TaskSettled(String),
    /// A campaign as the store has it now (None: gone).
    CampaignLoaded(String, Option<Box<crate::store::Campaign>>),
    TestCall(Box<test_call::TestCallJob>),
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

    /// A campaign was created or changed (its state, its settings): the
    /// dialer reads it again before its next claim.
    pub async fn campaign_changed(&self, campaign_id: &str) {
        let _ = self
            .tx
            .send(Command::CampaignChanged(campaign_id.to_string()))
            .await;
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

    /// An agent was added or changed (campaigns, extension): the dialer
    /// reads it again; its state is kept.
    pub async fn agent_changed(&self, agent_id: &str) {
        let _ = self
            .tx
            .send(Command::AgentChanged(agent_id.to_string()))
            .await;
    }

    /// Pause or resume an agent on a supervisor's word; answers the state
    /// the agent is in after it, or why it was refused.
    pub async fn agent_request(
        &self,
        agent_id: &str,
        request: AgentRequest,
    ) -> Result<AgentStateName, String> {
        let (tx, rx) = oneshot::channel();
        self.tx
            .send(Command::AgentRequest(agent_id.to_string(), request, tx))
            .await
            .map_err(|_| "the dialer is stopping".to_string())?;
        rx.await.map_err(|_| "the dialer is stopping".to_string())?
    }

    /// Places a test call (see `test_call`); answers its trace so far.
    pub async fn test_call(
        &self,
        order: test_call::TestCallOrder,
    ) -> Result<test_call::Trace, test_call::TestCallRefused> {
        let (tx, rx) = oneshot::channel();
        let stopping = || test_call::TestCallRefused::Draining;
        self.tx
            .send(Command::TestCall(order, tx))
            .await
            .map_err(|_| stopping())?;
        rx.await.map_err(|_| stopping())?
    }

    /// A test call's trace, while the dialer keeps it.
    pub async fn test_call_trace(&self, call_id: &str) -> Option<test_call::Trace> {
        let (tx, rx) = oneshot::channel();
        self.tx
            .send(Command::TestCallTrace(call_id.to_string(), tx))
            .await
            .ok()?;
        rx.await.ok().flatten()
    }

    /// Stops taking new tasks; calls up go on to their end.
    pub async fn drain(&self) {
        let _ = self.tx.send(Command::Drain).await;
    }
}

pub struct Dialer {
    store: Arc<dyn Store>,
    writer: StoreWriter,
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
    /// The campaigns as last read from the store: only running ones dial.
    campaigns: HashMap<String, Arc<CampaignView>>,
    /// Claim jobs under way.
    claim_jobs: usize,
    /// Per agent in wrap-up: the call it follows and the task it settles.
    wraps: HashMap<String, wrap_up::Wrap>,
    /// Pauses asked for during a call: taken when the wrap-up ends.
    pause_after: HashMap<String, String>,
    draining: bool,
    test_calls: test_call::TestCalls,
    internal_tx: mpsc::Sender<Internal>,
}

/// What the dialer is given to run.
pub struct DialerParts {
    pub store: Arc<dyn Store>,
    pub writer: StoreWriter,
    pub customers: CustomerService,
    pub links: Vec<SwitchLink>,
    pub updates: Updates,
    pub hub: AgentHub,
    pub presence: mpsc::Receiver<Presence>,
    pub plan: DialPlan,
    pub agents: Vec<Agent>,
}

impl Dialer {
    /// Starts the dialer for these agents. Open attempts from before a
    /// restart are handed to the call managers to rebuild first.
    pub async fn start(p: DialerParts) -> Result<DialerHandle, crate::store::StoreError> {
        let (tx, rx) = mpsc::channel(1024);
        let (internal_tx, internal_rx) = mpsc::channel(16 * 1024);
        let mut d = Dialer {
            store: p.store,
            writer: p.writer,
            customers: p.customers,
            switches: p
                .links
                .into_iter()
                .map(|l| Switch::new(l.plan, l.manager))
                .collect(),
            hub: p.hub,
            plan: p.plan,
            agents: Agents::new(p.agents),
            calls: HashMap::new(),
            stats: DialerStats::default(),
            idle_until: HashMap::new(),
            campaigns: HashMap::new(),
            claim_jobs: 0,
            wraps: HashMap::new(),
            pause_after: HashMap::new(),
            draining: false,
            test_calls: Default::default(),
            internal_tx,
        };
        for c in d.store.campaigns().await? {
            d.campaigns
                .insert(c.id.clone(), Arc::new(CampaignView::new(c)));
        }
        d.recover().await?;
        tokio::spawn(d.run(rx, p.updates, p.presence, internal_rx));
        Ok(DialerHandle { tx })
    }

    async fn run(
        mut self,
        mut commands: mpsc::Receiver<Command>,
        mut updates: Updates,
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
                    Some(Command::CampaignChanged(id)) => self.reload_campaign(id),
                    Some(Command::Snapshot(reply)) => {
                        let _ = reply.send(self.snapshot());
                    }
                    Some(Command::AgentState(id, reply)) => {
                        let _ = reply.send(self.agents.state(&id).map_or(AgentStateName::LoggedOut, AgentState::name));
                    }
                    Some(Command::Drain) => self.draining = true,
                    Some(Command::AgentChanged(id)) => self.reload_agent(id),
                    Some(Command::AgentRequest(id, request, reply)) => {
                        let answer = self.on_request(&id, request).await;
                        let _ = reply.send(answer);
                    }
                    Some(Command::TestCall(order, reply)) => self.start_test_call(order, reply),
                    Some(Command::TestCallTrace(id, reply)) => {
                        let _ = reply.send(self.test_calls.get(&id).cloned());
                    }
                    None => return,
                },
                _ = tick.tick() => {}
            }
            self.end_wrap_ups(Instant::now()).await;
            self.dial_what_can_be_dialed();
        }
    }

    fn snapshot(&self) -> DialerSnapshot {
        DialerSnapshot {
            stats: self.stats.clone(),
            live_calls: self.calls.len(),
            timed_wrap_ups: self.wraps.values().filter(|w| !w.required).count(),
            agents: self.agents.list(),
            agent_counts: self.agents.counts(),
            switch_up: self.switches.iter().any(|s| s.link == Link::Up),
            switches: self.switches.iter().map(Switch::status).collect(),
            writer: self.writer.stats(),
            draining: self.draining,
        }
    }

    /// Reserves available agents and starts claim jobs for them, while a
    /// switch has room: one job claims for up to `MAX_SEATS` agents of one
    /// campaign at once. The loop never waits for the store: the jobs do,
    /// and report back, so answers and pops are never queued behind claims.
    fn dial_what_can_be_dialed(&mut self) {
        if self.draining {
            return;
        }
        let now = now_ms();
        let clock = Instant::now();
        while self.claim_jobs < claim::MAX_CLAIM_JOBS {
            let mut seats = Vec::new();
            let mut view: Option<Arc<CampaignView>> = None;
            while seats.len() < claim::MAX_SEATS {
                let Some(sw) = switches::pick(&self.switches, clock) else {
                    break;
                };
                let (idle, campaigns) = (&self.idle_until, &self.campaigns);
                let may_dial = |c: &str| {
                    idle.get(c).is_none_or(|&t| t <= now)
                        && campaigns.get(c).is_some_and(|v| v.dials())
                };
                // The first seat picks the campaign (its agent's best one
                // with work); the others are agents whose best it is too.
                let agent = match view.as_ref().map(|v| v.campaign.id.clone()) {
                    None => match self.agents.next_available(may_dial) {
                        Some((agent, campaign)) => {
                            view = self.campaigns.get(&campaign).cloned();
                            agent
                        }
                        None => break,
                    },
                    Some(c) => match self.agents.next_available_for(&c, may_dial) {
                        Some(agent) => agent,
                        None => break,
                    },
                };
                // Held quietly while the job looks for a task: the page
                // hears "reserved" only once there is a call to place.
                self.agents.set(&agent.id, AgentState::Claiming);
                self.switches[sw].load += 1;
                // A resting switch's trial is this call.
                self.switches[sw].health.placed(clock);
                self.switches[sw].pace.promise();
                seats.push(claim::Seat {
                    agent,
                    switch: sw,
                    switch_name: self.switches[sw].plan.name.clone(),
                });
            }
            let Some(view) = view else {
                return;
            };
            self.claim_jobs += 1;
            let (store, tx) = (self.store.clone(), self.internal_tx.clone());
            tokio::spawn(async move {
                let claims = claim::claim(&store, seats, &view, now).await;
                let _ = tx.send(Internal::Claims(Box::new(claims))).await;
            });
        }
    }

    /// A claimed task with its attempt written: the call is placed at its
    /// seat's slot (answered), unless the agent signed out meanwhile.
    async fn dial(&mut self, seat: claim::Seat, task: Task, call_id: CallId) -> Option<Instant> {
        let claim::Seat {
            agent, switch: sw, ..
        } = seat;
        if self.agents.state(&agent.id) != Some(&AgentState::Claiming) {
            tracing::info!(agent = %agent.id, task = task.id, "agent signed out during the claim; the task goes back");
            self.switches[sw].load = self.switches[sw].load.saturating_sub(1);
            self.switches[sw].pace.release();
            self.switches[sw].health.trial_void(Instant::now());
            let next = self
                .test_calls
                .final_step(&call_id, crate::store::TaskNext::Requeue(now_ms()));
            self.settle(
                &call_id,
                &task,
                policy::Outcome::NotPlaced,
                next,
                Some("AGENT_SIGNED_OUT".into()),
            )
            .await;
            return None;
        }
        let slot = self.switches[sw].pace.take(Instant::now());
        self.set_agent(&agent.id, AgentState::Reserved(call_id.clone()))
            .await;
        let plan = &self.switches[sw].plan;
        let mut req = OriginateRequest {
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
        // The task's own variables, under a prefix of their own: they can
        // never set one of dialpop's or the switch's. Names and values were
        // checked when the task was added, and the command builders check
        // every variable again.
        req.variables
            .extend(task.variables.iter().filter_map(|(k, v)| {
                v.as_str()
                    .map(|v| (format!("dialpop_var_{k}"), v.to_string()))
            }));
        let lookup = self.customers.lookup_for_task(&task);
        self.stats.count_originate(&task.campaign_id);
        let phone = task.phone.clone();
        self.calls
            .insert(call_id.clone(), LiveCall::new(sw, task, agent.id, lookup));
        let span = call_log::span(&call_id, self.calls.get(&call_id));
        span.in_scope(|| {
            tracing::debug!(switch = %self.switches[sw].plan.name, number = crate::redact::number(&phone), "call placed");
        });
        // Preload: the record is fetched while the customer's phone rings,
        // so that the answer finds it cached.
        if self.customers.preload_enabled() {
            self.resolve(&call_id);
        }
        // A call the switch does not take comes back from the manager as
        // ended, not placed (and is logged there, with its fault).
        let manager = self.switches[sw].manager.clone();
        tokio::spawn(
            async move {
                tokio::time::sleep_until(slot.into()).await;
                let _ = manager.originate(req).await;
            }
            .instrument(span),
        );
        Some(slot)
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
        let task = call.task.clone();
        let tx = self.internal_tx.clone();
        let id = id.clone();
        let span = call_log::span(&id, Some(call));
        let plan = self.pop_plan(&id);
        // The template is filled here too, off the loop: the answer then
        // only wraps what is ready.
        tokio::spawn(
            async move {
                let view = customers.resolve(&lookup).await;
                let prepared = crate::popup::prepare(&task, Some(view), plan.look());
                let _ = tx
                    .send(Internal::CustomerLoaded(id, Box::new(prepared)))
                    .await;
            }
            .instrument(span),
        );
    }

    async fn on_internal(&mut self, i: Internal) {
        match i {
            Internal::CustomerLoaded(id, view) => {
                self.test_call_record(&id, &view);
                let span = call_log::span(&id, self.calls.get(&id));
                if let Some(call) = self.calls.get_mut(&id) {
                    call.customer = CustomerLookup::Ready(view);
                    self.pop_waiting(&id).instrument(span).await;
                }
            }
            Internal::Claims(claims) => {
                self.claim_jobs -= 1;
                let claim::Claims {
                    campaign,
                    dials,
                    unfilled,
                    next_due_ms,
                    error,
                } = *claims;
                for (seat, call_id, task) in dials {
                    let _ = self.dial(seat, task, call_id).await;
                }
                for seat in unfilled {
                    self.give_back_claim(seat.switch);
                    self.release_claim(&seat.agent.id);
                }
                if let Some(due) = next_due_ms {
                    // Nothing due in this campaign: do not ask again before
                    // the next retry is due (or new tasks arrive), nor later
                    // than a few seconds on: a callback bound to an agent who
                    // was busy is due for them as soon as they are free.
                    let now = now_ms();
                    self.idle_until
                        .insert(campaign, due.clamp(now + 1, now + IDLE_RECHECK_MS));
                }
                if let Some(error) = error {
                    tracing::error!(%error, "could not claim tasks; will try again");
                }
            }
            Internal::AgentLoaded(id, agent) => match agent {
                Some(a) => self.agents.upsert(a),
                None => tracing::warn!(agent = %id, "changed agent not in the store"),
            },
            Internal::Disposed {
                agent_id,
                call_id,
                code,
            } => {
                self.hub
                    .send(
                        &agent_id,
                        crate::popup::messages::ServerMsg::Disposed { call_id, code },
                    )
                    .await;
            }
            Internal::TaskSettled(campaign) => {
                self.idle_until.remove(&campaign);
            }
            Internal::TestCall(job) => self.on_test_call(*job).await,
            Internal::CampaignLoaded(id, c) => {
                self.idle_until.remove(&id);
                match c {
                    Some(c) => {
                        tracing::info!(campaign = %id, state = c.state.as_str(), "campaign read again");
                        self.campaigns.insert(id, Arc::new(CampaignView::new(*c)));
                    }
                    None => {
                        self.campaigns.remove(&id);
                    }
                }
            }
        }
    }

    /// A claim that placed no call gives its room (and its trial) back.
    fn give_back_claim(&mut self, sw: usize) {
        if let Some(s) = self.switches.get_mut(sw) {
            s.load = s.load.saturating_sub(1);
            s.pace.release();
            s.health.trial_void(Instant::now());
        }
    }

    async fn on_update(&mut self, sw: usize, u: CallUpdate) {
        let Some(switch) = self.switches.get_mut(sw) else {
            return;
        };
        let name = switch.plan.name.clone();
        match u {
            CallUpdate::Changed {
                call_id,
                from,
                to,
                received,
                ..
            } => {
                let span = call_log::span(&call_id, self.calls.get(&call_id));
                self.on_call_state(sw, call_id, from, to, received)
                    .instrument(span)
                    .await
            }
            CallUpdate::SwitchDown { reason } => {
                tracing::warn!(switch = %name, %reason, "switch down: dialing paused on it");
                switch.link = Link::Down;
            }
            CallUpdate::SwitchUp { reconnect } => {
                // After a reconnect, dialing waits for the rebuild.
                if reconnect {
                    switch.reconnects += 1;
                }
                switch.link = if reconnect {
                    Link::Rebuilding
                } else {
                    Link::Up
                };
                if !reconnect {
                    tracing::info!(switch = %name, "switch connected");
                    switch.health.reconnected();
                }
            }
            CallUpdate::Reconciled { live, vanished } => {
                tracing::info!(switch = %name, live, vanished, "call state rebuilt from the switch");
                switch.link = Link::Up;
                switch.rebuilt = true;
                switch.health.reconnected();
            }
            CallUpdate::Fatal(reason) => {
                tracing::error!(switch = %name, %reason, "switch driver gave up: no more calls on it");
                switch.link = Link::Failed;
            }
        }
    }

    /// The campaign's retry policy and wrap-up (the defaults for a
    /// campaign the store no longer has).
    fn rules_for(&self, campaign_id: &str) -> (crate::campaign::RetryPolicy, Duration) {
        match self.campaigns.get(campaign_id) {
            Some(v) => (
                v.campaign.settings.retry.clone(),
                v.campaign
                    .settings
                    .wrap_up_seconds
                    .and_then(|s| Duration::try_from_secs_f64(s).ok())
                    .unwrap_or(self.plan.wrap_up),
            ),
            None => (crate::campaign::RetryPolicy::default(), self.plan.wrap_up),
        }
    }

    /// The campaign as the dialer holds it (a shared handle: nothing is
    /// copied on the answer path).
    fn view_of(&self, campaign_id: &str) -> Option<Arc<CampaignView>> {
        self.campaigns.get(campaign_id).cloned()
    }

    /// The wrap-up of a call of the task's campaign.
    fn wrap_for(
        &self,
        call_id: &CallId,
        task: Task,
        by_outcome: crate::store::TaskNext,
        cause: Option<String>,
    ) -> wrap_up::Wrap {
        let settings = self
            .campaigns
            .get(&task.campaign_id)
            .map(|v| &v.campaign.settings);
        wrap_up::Wrap {
            call_id: call_id.clone(),
            codes: settings
                .map(|s| s.dispositions.clone())
                .unwrap_or_else(crate::campaign::disposition::default_codes),
            required: settings.is_some_and(|s| s.disposition_required),
            grace_ms: settings.map_or(300_000, |s| (s.callback_grace_seconds * 1000.0) as i64),
            task,
            by_outcome,
            cause,
        }
    }

    fn reload_agent(&self, id: String) {
        let (store, tx) = (self.store.clone(), self.internal_tx.clone());
        tokio::spawn(async move {
            match store.agent(&id).await {
                Ok(a) => {
                    let _ = tx.send(Internal::AgentLoaded(id, a)).await;
                }
                Err(e) => {
                    tracing::error!(agent = %id, error = %e, "cannot read the changed agent; keeping what was read before")
                }
            }
        });
    }

    fn reload_campaign(&self, id: String) {
        let (store, tx) = (self.store.clone(), self.internal_tx.clone());
        tokio::spawn(async move {
            match store.campaign(&id).await {
                Ok(c) => {
                    let _ = tx.send(Internal::CampaignLoaded(id, c.map(Box::new))).await;
                }
                Err(e) => {
                    tracing::error!(campaign = %id, error = %e, "cannot read the changed campaign; keeping what was read before")
                }
            }
        });
    }
}
