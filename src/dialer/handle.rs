//! The dialer's handle: how the API, the daemon and the tests reach the
//! dialer's loop, by typed messages (the loop owns every piece of state).

use super::{DialerSnapshot, test_call};
use crate::popup::messages::{AgentRequest, AgentStateName};
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

#[derive(Clone)]
pub struct DialerHandle {
    pub(super) tx: mpsc::Sender<Command>,
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
