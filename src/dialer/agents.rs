//! Agent states, owned by the dialer.

use crate::popup::messages::AgentStateName;
use crate::store::Agent;
use crate::switch::CallId;
use std::collections::{BTreeSet, HashMap};
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
    /// After a conversation, until this instant (or the agent says ready,
    /// or gives the disposition).
    WrapUp(Instant),
    /// Taking no calls, for this reason code.
    Paused(String),
}

impl AgentState {
    pub fn name(&self) -> AgentStateName {
        match self {
            AgentState::LoggedOut => AgentStateName::LoggedOut,
            AgentState::Available | AgentState::Claiming => AgentStateName::Available,
            AgentState::Reserved(_) => AgentStateName::Reserved,
            AgentState::OnCall(_) => AgentStateName::OnCall,
            AgentState::WrapUp(_) => AgentStateName::WrapUp,
            AgentState::Paused(_) => AgentStateName::Paused,
        }
    }

    pub fn call(&self) -> Option<&CallId> {
        match self {
            AgentState::Reserved(c) | AgentState::OnCall(c) => Some(c),
            _ => None,
        }
    }
}

/// When an agent became available, and a sequence number for ties.
type IdleSince = (Instant, u64);

struct Slot {
    agent: Agent,
    state: AgentState,
    online: bool,
    /// Since when the agent has been available: the longest idle is served first.
    idle_since: IdleSince,
    /// Since when the agent has been in its state (for the time totals).
    since: Instant,
}

/// Seconds agents have spent logged in, by what they were doing.
#[derive(Clone, Copy, Debug, Default, PartialEq, serde::Serialize)]
pub struct AgentTime {
    pub talk_s: f64,
    pub wrap_s: f64,
    /// Available, held for a claim, or waiting for a call placed for them.
    pub idle_s: f64,
}

/// Agent states with two indexes kept beside them, so that neither the
/// next agent to serve nor the wrap-ups that are over are found by a scan:
/// per campaign, the available connected agents by how long they have been
/// idle; and every wrap-up by when it ends.
pub struct Agents {
    slots: HashMap<String, Slot>,
    available: HashMap<String, BTreeSet<(IdleSince, String)>>,
    wrap_ups: BTreeSet<(Instant, String)>,
    /// Breaks ties between agents made available at the same instant.
    seq: u64,
    time: AgentTime,
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
                            idle_since: (now, 0),
                            since: now,
                        },
                    )
                })
                .collect(),
            available: HashMap::new(),
            wrap_ups: BTreeSet::new(),
            seq: 0,
            time: AgentTime::default(),
        }
    }

    pub fn state(&self, id: &str) -> Option<&AgentState> {
        self.slots.get(id).map(|s| &s.state)
    }

    pub fn agent(&self, id: &str) -> Option<&Agent> {
        self.slots.get(id).map(|s| &s.agent)
    }

    /// A new agent, or an agent's changed campaigns or details: the state
    /// and connection are kept.
    pub fn upsert(&mut self, agent: Agent) {
        let id = agent.id.clone();
        self.unindex(&id);
        match self.slots.get_mut(&id) {
            Some(s) => s.agent = agent,
            None => {
                self.slots.insert(
                    id.clone(),
                    Slot {
                        agent,
                        state: AgentState::LoggedOut,
                        online: false,
                        idle_since: (Instant::now(), 0),
                        since: Instant::now(),
                    },
                );
            }
        }
        self.index(&id);
    }

    fn unindex(&mut self, id: &str) {
        let Some(s) = self.slots.get(id) else { return };
        for c in &s.agent.campaigns {
            if let Some(set) = self.available.get_mut(&c.campaign_id) {
                set.remove(&(s.idle_since, id.to_string()));
            }
        }
        if let AgentState::WrapUp(until) = s.state {
            self.wrap_ups.remove(&(until, id.to_string()));
        }
    }

    fn index(&mut self, id: &str) {
        let Some(s) = self.slots.get(id) else { return };
        if s.online && s.state == AgentState::Available {
            for c in &s.agent.campaigns {
                self.available
                    .entry(c.campaign_id.clone())
                    .or_default()
                    .insert((s.idle_since, id.to_string()));
            }
        }
        if let AgentState::WrapUp(until) = s.state {
            self.wrap_ups.insert((until, id.to_string()));
        }
    }

    pub fn set(&mut self, id: &str, state: AgentState) {
        self.unindex(id);
        self.seq += 1;
        let seq = self.seq;
        if let Some(s) = self.slots.get_mut(id) {
            let now = Instant::now();
            if state == AgentState::Available && s.state != AgentState::Available {
                s.idle_since = (now, seq);
            }
            let spent = now.saturating_duration_since(s.since).as_secs_f64();
            match &s.state {
                AgentState::OnCall(_) => self.time.talk_s += spent,
                AgentState::WrapUp(_) => self.time.wrap_s += spent,
                AgentState::Available | AgentState::Claiming | AgentState::Reserved(_) => {
                    self.time.idle_s += spent
                }
                AgentState::LoggedOut | AgentState::Paused(_) => {}
            }
            s.since = now;
            s.state = state;
        }
        self.index(id);
    }

    pub fn set_online(&mut self, id: &str, online: bool) {
        self.unindex(id);
        if let Some(s) = self.slots.get_mut(id) {
            s.online = online;
        }
        self.index(id);
    }

    pub fn is_online(&self, id: &str) -> bool {
        self.slots.get(id).is_some_and(|s| s.online)
    }

    /// The available, connected agent idle the longest of a campaign
    /// `may_dial` allows (one look per campaign, not per agent), and the
    /// campaign it takes a call of: its highest-priority one that may dial.
    pub fn next_available(&self, may_dial: impl Fn(&str) -> bool) -> Option<(Agent, String)> {
        let agent = self
            .available
            .iter()
            .filter(|(campaign, _)| may_dial(campaign))
            .filter_map(|(_, set)| set.first())
            .min()
            .and_then(|(_, id)| self.slots.get(id))
            .map(|s| &s.agent)?;
        let campaign = best_campaign(agent, &may_dial)?;
        Some((agent.clone(), campaign))
    }

    /// The next agent, by idle time, whose call would be of `campaign`
    /// (agents who would rather take another dialable campaign's are passed
    /// over, up to a bounded look).
    pub fn next_available_for(
        &self,
        campaign: &str,
        may_dial: impl Fn(&str) -> bool,
    ) -> Option<Agent> {
        self.available
            .get(campaign)?
            .iter()
            .take(64)
            .filter_map(|(_, id)| self.slots.get(id))
            .map(|s| &s.agent)
            .find(|a| best_campaign(a, &may_dial).as_deref() == Some(campaign))
            .cloned()
    }

    /// Agents whose wrap-up is over by `now`, soonest first.
    pub fn wrap_ups_over(&self, now: Instant) -> Vec<String> {
        self.wrap_ups
            .iter()
            .take_while(|(until, _)| *until <= now)
            .map(|(_, id)| id.clone())
            .collect()
    }

    /// When the next wrap-up ends, if one is under way.
    pub fn next_wrap_up_end(&self) -> Option<Instant> {
        self.wrap_ups.first().map(|(t, _)| *t)
    }

    /// The time totals, with the states agents are in now counted up to now.
    pub fn time(&self) -> AgentTime {
        let now = Instant::now();
        let mut t = self.time;
        for s in self.slots.values() {
            let spent = now.saturating_duration_since(s.since).as_secs_f64();
            match &s.state {
                AgentState::OnCall(_) => t.talk_s += spent,
                AgentState::WrapUp(_) => t.wrap_s += spent,
                AgentState::Available | AgentState::Claiming | AgentState::Reserved(_) => {
                    t.idle_s += spent
                }
                AgentState::LoggedOut | AgentState::Paused(_) => {}
            }
        }
        t
    }

    /// One campaign's agents for the pacing of its unbound calls: those
    /// logged in (not paused), available, on a call, and in a wrap-up that
    /// ends by `soon`. A scan of the campaign's agents, made once a pacing
    /// round, not per call.
    pub fn campaign_counts(&self, campaign: &str, soon: Instant) -> (usize, usize, usize, usize) {
        let (mut logged_in, mut on_call, mut wrapping) = (0, 0, 0);
        for s in self.slots.values() {
            if !s.online || !s.agent.campaigns.iter().any(|c| c.campaign_id == campaign) {
                continue;
            }
            match &s.state {
                AgentState::LoggedOut | AgentState::Paused(_) => continue,
                AgentState::OnCall(_) => on_call += 1,
                AgentState::WrapUp(until) if *until <= soon => wrapping += 1,
                _ => {}
            }
            logged_in += 1;
        }
        let available = self.available.get(campaign).map_or(0, BTreeSet::len);
        (logged_in, available, on_call, wrapping)
    }

    /// How many agents are in each state, by state name.
    pub fn counts(&self) -> std::collections::BTreeMap<String, usize> {
        let mut m = std::collections::BTreeMap::new();
        for s in self.slots.values() {
            *m.entry(s.state.name().as_str().to_string()).or_default() += 1;
        }
        m
    }

    /// (agent id, state name) for status pages and reports.
    pub fn list(&self) -> Vec<(String, String)> {
        let mut v: Vec<(String, String)> = self
            .slots
            .values()
            .map(|s| (s.agent.id.clone(), s.state.name().as_str().to_string()))
            .collect();
        v.sort();
        v
    }
}

/// The agent's highest-priority campaign that may dial now.
fn best_campaign(agent: &Agent, may_dial: &impl Fn(&str) -> bool) -> Option<String> {
    agent
        .campaigns
        .iter()
        .find(|s| may_dial(&s.campaign_id))
        .map(|s| s.campaign_id.clone())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn agent(id: &str, campaign: &str) -> Agent {
        Agent::of(id, id, "8001", campaign)
    }

    fn next(a: &Agents, may: impl Fn(&str) -> bool) -> Option<String> {
        a.next_available(may).map(|(g, _)| g.id)
    }

    #[test]
    fn an_agent_of_several_campaigns_takes_the_first_that_may_dial() {
        let mut two = agent("a", "low");
        two.campaigns.push(crate::store::Serves {
            campaign_id: "high".into(),
            priority: 5,
        });
        two.sort_campaigns();
        let mut a = Agents::new(vec![two, agent("b", "high")]);
        for id in ["a", "b"] {
            a.set_online(id, true);
            a.set(id, AgentState::Available);
        }
        let (g, c) = a.next_available(|_| true).unwrap();
        assert_eq!((g.id.as_str(), c.as_str()), ("a", "high"));
        // With "high" resting, a's call is of "low"; b has none.
        let (g, c) = a.next_available(|c| c != "high").unwrap();
        assert_eq!((g.id.as_str(), c.as_str()), ("a", "low"));
        // A batch for "low" takes a; one for "high" takes a, then b.
        assert_eq!(
            a.next_available_for("low", |_| true).map(|g| g.id),
            None,
            "a would rather take high"
        );
        assert_eq!(
            a.next_available_for("low", |c| c != "high").map(|g| g.id),
            Some("a".into())
        );
        a.set("a", AgentState::Paused("lunch".into()));
        assert_eq!(
            a.next_available_for("high", |_| true).map(|g| g.id),
            Some("b".into())
        );
        assert_eq!(next(&a, |c| c == "low"), None, "a paused");
    }

    #[test]
    fn the_longest_idle_connected_agent_of_a_dialable_campaign_is_next() {
        let mut a = Agents::new(vec![agent("a", "x"), agent("b", "x"), agent("c", "y")]);
        assert!(next(&a, |_| true).is_none(), "nobody is online");
        for id in ["c", "a", "b"] {
            a.set_online(id, true);
            a.set(id, AgentState::Available);
        }
        assert_eq!(next(&a, |_| true), Some("c".into()));
        assert_eq!(next(&a, |c| c == "x"), Some("a".into()));
        a.set("a", AgentState::Claiming);
        assert_eq!(next(&a, |c| c == "x"), Some("b".into()));
        a.set_online("b", false);
        assert!(next(&a, |c| c == "x").is_none());
        // Back to available: now the most recent, so served last.
        a.set("a", AgentState::Available);
        a.set_online("b", true);
        assert_eq!(next(&a, |c| c == "x"), Some("b".into()));
    }

    #[test]
    fn wrap_ups_come_out_in_order_and_once() {
        let mut a = Agents::new(vec![agent("a", "x"), agent("b", "x")]);
        let t = Instant::now();
        a.set("a", AgentState::WrapUp(t + Duration::from_secs(2)));
        a.set("b", AgentState::WrapUp(t + Duration::from_secs(1)));
        assert_eq!(a.next_wrap_up_end(), Some(t + Duration::from_secs(1)));
        assert!(a.wrap_ups_over(t).is_empty());
        assert_eq!(a.wrap_ups_over(t + Duration::from_secs(3)), ["b", "a"]);
        a.set("b", AgentState::Available);
        assert_eq!(a.wrap_ups_over(t + Duration::from_secs(3)), ["a"]);
    }
}
