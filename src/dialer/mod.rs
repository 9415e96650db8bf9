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
//! call moves (`call_flow`), placing calls (`dial`), the call log's span
//! (`call_log`), the counts (`stats`), the handle others reach the loop
//! by (`handle`) and recovery after a restart (`recovery`).

pub mod abandon_window;
mod agent_flow;
pub mod agents;
pub mod bucket;
mod call_flow;
mod call_log;
pub mod cap_window;
mod claim;
mod dial;
pub mod eligibility;
mod handle;
pub mod health;
mod inbox;
mod live_call;
pub mod pace;
pub mod policy;
mod pop_send;
pub mod predictive;
mod preview;
mod recovery;
mod scope;
pub mod share;
mod snapshot;
mod stats;
pub mod switches;
pub mod test_call;
pub mod test_report;
pub mod tz_region;
mod unbound;
pub mod window;
mod wrap_up;

pub use claim::valid_phone;

use crate::customer::CustomerService;
use crate::popup::hub::{AgentHub, Presence};
use crate::popup::messages::AgentStateName;
use crate::store::writer::StoreWriter;
use crate::store::{Agent, Store, Task, now_ms};
use crate::switch::manager::{CallManager, CallUpdate, Updates};
use crate::switch::{AnswerAction, CallId, OriginateRequest};
use agents::{AgentState, Agents};
use claim::CampaignView;
use handle::Command;
pub use handle::{DialerHandle, Shards};
use live_call::{CustomerLookup, LiveCall};
pub use scope::Scope;
pub use snapshot::DialerSnapshot;
pub use stats::{CampaignCalls, DialerStats};
use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};
use switches::{Link, Switch};
use tokio::sync::mpsc;
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
    /// New calls a second on all switches together (none: no such cap).
    pub max_originates_per_second: Option<f64>,
    /// How often power and predictive campaigns are paced while they dial
    /// (`PACING_ROUND`; the demo compresses it with its clock).
    pub pacing_round: Duration,
}

/// The pacing round of power and predictive campaigns: a round scans the
/// campaign's agents, so it is not run for every event, but it runs by the
/// clock, so that a call is placed when its agent's lead begins rather
/// than at the next event.
pub const PACING_ROUND: Duration = Duration::from_millis(20);

/// One switch the dialer places calls on: its plan, and the call manager
/// that owns its calls (its updates arrive tagged with its index).
pub struct SwitchLink {
    pub plan: SwitchPlan,
    pub manager: CallManager,
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
    /// Every campaign as the store has it now (a cluster node's re-read).
    CampaignsLoaded(Vec<crate::store::Campaign>),
    TestCall(Box<test_call::TestCallJob>),
    /// A power or predictive call was given to this agent at this moment.
    Connected(CallId, String, Instant),
    /// A campaign's people and abandons over its cap window, as the store
    /// counts them (None: the count failed).
    CapCounts(String, Option<cap_window::Tally>),
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
    /// Power and predictive campaigns' lines.
    lines: unbound::AllLines,
    /// The cap on all switches' originates together.
    global_pace: Option<pace::Pace>,
    /// Previews that dial by themselves, by when.
    previews: std::collections::BTreeSet<(Instant, CallId)>,
    scope: Option<Scope>,
    /// When the campaigns were last read whole (a cluster node's dialers).
    campaigns_read: Instant,
}

/// How often a cluster node's dialers read every campaign again: a campaign
/// paused or changed through another node's API reaches them so (the API's
/// nudge reaches only the dialers of the node that was asked).
const CAMPAIGNS_REREAD: Duration = Duration::from_secs(2);

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
    /// None: a single node, every switch and agent its own.
    pub scope: Option<Scope>,
}

impl Dialer {
    /// Starts the dialer for these agents. Open attempts from before a
    /// restart are handed to the call managers to rebuild first.
    pub async fn start(p: DialerParts) -> Result<DialerHandle, crate::store::StoreError> {
        Ok(Dialer::start_task(p).await?.0)
    }

    /// The same, with the loop's task: a cluster node aborts it when it
    /// loses the switch (nothing more is placed or written for it; the new
    /// owner's recovery takes over the calls).
    pub async fn start_task(
        p: DialerParts,
    ) -> Result<(DialerHandle, tokio::task::JoinHandle<()>), crate::store::StoreError> {
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
            plan: p.plan.clone(),
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
            lines: Default::default(),
            global_pace: p.plan.max_originates_per_second.map(pace::Pace::new),
            previews: Default::default(),
            scope: p.scope,
            campaigns_read: Instant::now(),
        };
        for c in d.store.campaigns().await? {
            d.campaigns
                .insert(c.id.clone(), Arc::new(CampaignView::new(c)));
        }
        d.recover().await?;
        let task = tokio::spawn(d.run(rx, p.updates, p.presence, internal_rx));
        Ok((DialerHandle::one(tx), task))
    }

    /// The lease this dialer's writes and claims are made under, if any.
    pub(super) fn fence(&self) -> Option<&crate::store::Fence> {
        self.scope.as_ref().map(|s| &s.fence)
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
            // The next thing due by the clock (a wrap-up's end, a waiting
            // customer's limit, a preview's countdown) wakes the loop on
            // time rather than at the next tick.
            let due = self.next_due();
            tokio::select! {
                _ = async {
                    match due {
                        Some(at) => tokio::time::sleep_until(at.into()).await,
                        None => std::future::pending().await,
                    }
                } => {}
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
            self.reread_campaigns(Instant::now());
            self.end_wrap_ups(Instant::now()).await;
            self.dial_due_previews(Instant::now());
            self.dial_what_can_be_dialed();
        }
    }

    fn next_due(&self) -> Option<Instant> {
        [
            self.agents.next_wrap_up_end(),
            self.previews.first().map(|(at, _)| *at),
            self.next_abandon_due(),
            self.next_round_due(),
        ]
        .into_iter()
        .flatten()
        .min()
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
            agent_time: self.agents.time(),
        }
    }

    /// A switch with room for one more call, within the global cap: its
    /// slot (and the global one) promised to the claim about to be made.
    pub(super) fn pick_switch(&mut self, clock: Instant) -> Option<usize> {
        if self
            .global_pace
            .as_ref()
            .is_some_and(|g| g.room(clock) == 0)
        {
            return None;
        }
        let sw = switches::pick(&self.switches, clock)?;
        self.switches[sw].load += 1;
        // A resting switch's trial is this call.
        self.switches[sw].health.placed(clock);
        self.switches[sw].pace.promise();
        if let Some(g) = self.global_pace.as_mut() {
            g.promise();
        }
        Some(sw)
    }

    /// A claim that placed no call gives its room (and its trial) back.
    pub(super) fn give_back_claim(&mut self, sw: usize) {
        if let Some(g) = self.global_pace.as_mut() {
            g.release();
        }
        if let Some(s) = self.switches.get_mut(sw) {
            s.load = s.load.saturating_sub(1);
            s.pace.release();
            s.health.trial_void(Instant::now());
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

    /// A cluster node's dialer reads every campaign again now and then.
    fn reread_campaigns(&mut self, now: Instant) {
        if self.scope.is_none() || now.duration_since(self.campaigns_read) < CAMPAIGNS_REREAD {
            return;
        }
        self.campaigns_read = now;
        let (store, tx) = (self.store.clone(), self.internal_tx.clone());
        tokio::spawn(async move {
            match store.campaigns().await {
                Ok(all) => {
                    let _ = tx.send(Internal::CampaignsLoaded(all)).await;
                }
                Err(e) => {
                    tracing::warn!(error = %e, "cannot read the campaigns again; keeping what was read before")
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
