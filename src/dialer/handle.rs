//! The dialer's handle: how the API, the daemon and the tests reach the
//! dialer's loop, by typed messages (the loop owns every piece of state).
//! On a cluster node it reaches the dialers of the switches the node holds
//! (`Shards`): what concerns an agent goes to the dialer of the agent's
//! switch, what concerns all (tasks, campaigns, a drain) to each.

use super::{DialerSnapshot, test_call};
use crate::popup::messages::{AgentRequest, AgentStateName};
use std::collections::BTreeMap;
use std::sync::{Arc, RwLock};
use tokio::sync::{mpsc, oneshot};

pub(super) enum Command {
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

/// The dialers of a cluster node, one per switch it holds, as they come
/// and go with its leases.
#[derive(Clone, Default)]
pub struct Shards {
    inner: Arc<RwLock<ShardSet>>,
}

#[derive(Default)]
struct ShardSet {
    homes: Option<crate::cluster::home::Homes>,
    by_switch: BTreeMap<String, mpsc::Sender<Command>>,
}

impl Shards {
    pub fn new(homes: crate::cluster::home::Homes) -> Shards {
        Shards {
            inner: Arc::new(RwLock::new(ShardSet {
                homes: Some(homes),
                by_switch: BTreeMap::new(),
            })),
        }
    }

    /// The dialer of a switch the node has just taken.
    pub fn insert(&self, switch: &str, dialer: &DialerHandle) {
        if let Route::One(tx) = &dialer.route
            && let Ok(mut set) = self.inner.write()
        {
            set.by_switch.insert(switch.to_string(), tx.clone());
        }
    }

    pub fn remove(&self, switch: &str) {
        if let Ok(mut set) = self.inner.write() {
            set.by_switch.remove(switch);
        }
    }

    /// The switches whose dialers run here.
    pub fn switches(&self) -> Vec<String> {
        self.inner
            .read()
            .map(|s| s.by_switch.keys().cloned().collect())
            .unwrap_or_default()
    }

    fn all(&self) -> Vec<mpsc::Sender<Command>> {
        self.inner
            .read()
            .map(|s| s.by_switch.values().cloned().collect())
            .unwrap_or_default()
    }

    fn for_agent(&self, agent_id: &str) -> Option<mpsc::Sender<Command>> {
        let set = self.inner.read().ok()?;
        let home = set.homes.as_ref()?.home_of(agent_id)?;
        set.by_switch.get(home).cloned()
    }
}

#[derive(Clone)]
enum Route {
    One(mpsc::Sender<Command>),
    Shards(Shards),
}

#[derive(Clone)]
pub struct DialerHandle {
    route: Route,
}

/// Why a request for an agent found no dialer.
const ELSEWHERE: &str = "the agent's switch is not driven by this node";

impl DialerHandle {
    pub(super) fn one(tx: mpsc::Sender<Command>) -> DialerHandle {
        DialerHandle {
            route: Route::One(tx),
        }
    }

    /// A node's handle over its switches' dialers.
    pub fn shards(shards: Shards) -> DialerHandle {
        DialerHandle {
            route: Route::Shards(shards),
        }
    }

    fn all(&self) -> Vec<mpsc::Sender<Command>> {
        match &self.route {
            Route::One(tx) => vec![tx.clone()],
            Route::Shards(s) => s.all(),
        }
    }

    fn for_agent(&self, agent_id: &str) -> Option<mpsc::Sender<Command>> {
        match &self.route {
            Route::One(tx) => Some(tx.clone()),
            Route::Shards(s) => s.for_agent(agent_id),
        }
    }

    async fn to_all(&self, make: impl Fn() -> Command) {
        for tx in self.all() {
            let _ = tx.send(make()).await;
        }
    }

    /// New tasks may be due: look again at once.
    pub async fn tasks_added(&self) {
        self.to_all(|| Command::TasksAdded).await;
    }

    /// A campaign was created or changed (its state, its settings): the
    /// dialer reads it again before its next claim.
    pub async fn campaign_changed(&self, campaign_id: &str) {
        self.to_all(|| Command::CampaignChanged(campaign_id.to_string()))
            .await;
    }

    /// The agent's state as its page shows it.
    pub async fn agent_state(&self, agent_id: &str) -> AgentStateName {
        let Some(dialer) = self.for_agent(agent_id) else {
            return AgentStateName::LoggedOut;
        };
        let (tx, rx) = oneshot::channel();
        if dialer
            .send(Command::AgentState(agent_id.to_string(), tx))
            .await
            .is_err()
        {
            return AgentStateName::LoggedOut;
        }
        rx.await.unwrap_or(AgentStateName::LoggedOut)
    }

    /// The dialer's counts; on a cluster node, its switches' dialers'
    /// together (none held: all zero).
    pub async fn snapshot(&self) -> Option<DialerSnapshot> {
        let mut parts = Vec::new();
        for dialer in self.all() {
            let (tx, rx) = oneshot::channel();
            if dialer.send(Command::Snapshot(tx)).await.is_ok()
                && let Ok(s) = rx.await
            {
                parts.push(s);
            }
        }
        match &self.route {
            Route::One(_) => parts.pop(),
            Route::Shards(_) => Some(DialerSnapshot::merge(parts)),
        }
    }

    /// An agent was added or changed (campaigns, extension): the dialer
    /// reads it again; its state is kept.
    pub async fn agent_changed(&self, agent_id: &str) {
        self.to_all(|| Command::AgentChanged(agent_id.to_string()))
            .await;
    }

    /// Pause or resume an agent on a supervisor's word; answers the state
    /// the agent is in after it, or why it was refused.
    pub async fn agent_request(
        &self,
        agent_id: &str,
        request: AgentRequest,
    ) -> Result<AgentStateName, String> {
        let dialer = self
            .for_agent(agent_id)
            .ok_or_else(|| ELSEWHERE.to_string())?;
        let (tx, rx) = oneshot::channel();
        dialer
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
        let stopping = || test_call::TestCallRefused::Draining;
        let dialer = self.for_agent(&order.agent_id).ok_or_else(stopping)?;
        let (tx, rx) = oneshot::channel();
        dialer
            .send(Command::TestCall(order, tx))
            .await
            .map_err(|_| stopping())?;
        rx.await.map_err(|_| stopping())?
    }

    /// A test call's trace, while the dialer keeps it.
    pub async fn test_call_trace(&self, call_id: &str) -> Option<test_call::Trace> {
        for dialer in self.all() {
            let (tx, rx) = oneshot::channel();
            if dialer
                .send(Command::TestCallTrace(call_id.to_string(), tx))
                .await
                .is_ok()
                && let Ok(Some(trace)) = rx.await
            {
                return Some(trace);
            }
        }
        None
    }

    /// Stops taking new tasks; calls up go on to their end.
    pub async fn drain(&self) {
        self.to_all(|| Command::Drain).await;
    }
}
