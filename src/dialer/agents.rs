//! Agent states, owned by the dialer.

use crate::popup::messages::AgentStateName;
use crate::store::Agent;
use crate::switch::CallId;
use std::collections::HashMap;
use std::time::Instant;

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AgentState {
    LoggedOut,
    Available,
    /// Held while a task is looked for (the page still shows available).
    Claiming,
    /// A call is being placed for this agent.
    Reserved(CallId),
    OnCall(CallId),
    /// After a conversation, until this instant (or the agent says ready).
    WrapUp(Instant),
}

impl AgentState {
    pub fn name(&self) -> AgentStateName {
        match self {
            AgentState::LoggedOut => AgentStateName::LoggedOut,
            AgentState::Available | AgentState::Claiming => AgentStateName::Available,
            AgentState::Reserved(_) => AgentStateName::Reserved,
            AgentState::OnCall(_) => AgentStateName::OnCall,
            AgentState::WrapUp(_) => AgentStateName::WrapUp,
        }
    }

    pub fn call(&self) -> Option<&CallId> {
        match self {
            AgentState::Reserved(c) | AgentState::OnCall(c) => Some(c),
            _ => None,
        }
    }
}

struct Slot {
    agent: Agent,
    state: AgentState,
    online: bool,
    /// Since when the agent has been available: the longest idle is served first.
    idle_since: Instant,
}

pub struct Agents {
    slots: HashMap<String, Slot>,
}

impl Agents {
    pub fn new(agents: Vec<Agent>) -> Agents {
        let now = Instant::now();
        Agents {
            slots: agents
                .into_iter()
                .map(|a| {
                    (
                        a.id.clone(),
                        Slot {
                            agent: a,
                            state: AgentState::LoggedOut,
                            online: false,
                            idle_since: now,
                        },
                    )
                })
                .collect(),
        }
    }

    pub fn state(&self, id: &str) -> Option<&AgentState> {
        self.slots.get(id).map(|s| &s.state)
    }

    pub fn set(&mut self, id: &str, state: AgentState) {
        if let Some(s) = self.slots.get_mut(id) {
            if state == AgentState::Available && s.state != AgentState::Available {
                s.idle_since = Instant::now();
            }
            s.state = state;
        }
    }

    pub fn set_online(&mut self, id: &str, online: bool) {
        if let Some(s) = self.slots.get_mut(id) {
            s.online = online;
        }
    }

    pub fn is_online(&self, id: &str) -> bool {
        self.slots.get(id).is_some_and(|s| s.online)
    }

    /// The available, connected agent idle the longest whose campaign
    /// `may_dial` allows.
    pub fn next_available(&self, may_dial: impl Fn(&str) -> bool) -> Option<Agent> {
        self.slots
            .values()
            .filter(|s| {
                s.online && s.state == AgentState::Available && may_dial(&s.agent.campaign_id)
            })
            .min_by_key(|s| s.idle_since)
            .map(|s| s.agent.clone())
    }

    /// Agents whose wrap-up is over by `now`.
    pub fn wrap_ups_over(&self, now: Instant) -> Vec<String> {
        self.slots
            .values()
            .filter(|s| matches!(s.state, AgentState::WrapUp(until) if until <= now))
            .map(|s| s.agent.id.clone())
            .collect()
    }

    /// (agent id, state name) for status pages and reports.
    pub fn list(&self) -> Vec<(String, String)> {
        let mut v: Vec<(String, String)> = self
            .slots
            .values()
            .map(|s| {
                (
                    s.agent.id.clone(),
                    format!("{:?}", s.state.name()).to_lowercase(),
                )
            })
            .collect();
        v.sort();
        v
    }
}
