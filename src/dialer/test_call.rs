//! Test calls: one call an administrator places to a number they give,
//! put through to an agent they name, outside the campaign's queue but on
//! its pop rules and templates, so that the whole path (switch, record,
//! pop, page) is tried before a campaign starts. The dialer keeps each
//! test call's trace: what the store does not hold (when the record was
//! ready, what it was, and what its sources answer when asked afresh).

use super::agents::AgentState;
use super::{Dialer, Internal, claim};
use crate::customer::config::SourceRole;
use crate::customer::service::TestReport;
use crate::popup::messages::AgentStateName;
use crate::store::{NewAttempt, NewTask, Task, TaskNext, now_ms};
use crate::switch::CallId;
use serde::Serialize;
use std::collections::{HashMap, VecDeque};
use std::time::Instant;
use tokio::sync::oneshot;

/// Test calls whose traces are kept (the oldest is forgotten first).
const KEPT: usize = 200;

/// The tag a test call's task carries, so that lists and stats can tell
/// it from the campaign's own calls.
pub const TEST_TAG: &str = "test-call";

#[derive(Clone, Debug)]
pub struct TestCallOrder {
    /// E.164, checked by the caller.
    pub phone: String,
    pub agent_id: String,
    /// None: the agent's home campaign.
    pub campaign_id: Option<String>,
    /// The customer the pop looks up; None: looked up by the number.
    pub customer_id: Option<String>,
    /// The API token that asked.
    pub requested_by: Option<String>,
}

/// Why a test call was not placed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TestCallRefused {
    UnknownAgent(String),
    UnknownCampaign(String),
    /// The agent must be signed in and free: the pop goes to their page.
    AgentNotFree(String, AgentStateName),
    /// No switch is up with room for a call.
    NoSwitch,
    DoNotCall {
        phone: String,
        list: String,
    },
    Draining,
    Store(String),
}

impl std::fmt::Display for TestCallRefused {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            TestCallRefused::UnknownAgent(a) => write!(f, "agent {a:?} does not exist"),
            TestCallRefused::UnknownCampaign(c) => write!(f, "campaign {c:?} does not exist"),
            TestCallRefused::AgentNotFree(a, s) => write!(
                f,
                "agent {a:?} is {}: a test call needs the agent signed in on the agent page and available",
                s.as_str()
            ),
            TestCallRefused::NoSwitch => write!(f, "no switch is up with room for a call"),
            TestCallRefused::DoNotCall { phone, list } => {
                write!(f, "{phone} is on the {list} do-not-call list")
            }
            TestCallRefused::Draining => write!(f, "the daemon is stopping"),
            TestCallRefused::Store(e) => write!(f, "the store failed: {e}"),
        }
    }
}

/// What the agent's pop was made from.
#[derive(Clone, Debug, Serialize)]
pub struct RecordSeen {
    pub fields: serde_json::Map<String, serde_json::Value>,
    /// Per field, the source it came from.
    pub sources: serde_json::Map<String, serde_json::Value>,
    /// Why the pop is degraded, if it is.
    pub reasons: Vec<String>,
    pub found: bool,
    pub template: String,
    pub shown: Vec<String>,
}

/// One test call as the dialer saw it.
#[derive(Clone, Debug, Serialize)]
pub struct Trace {
    pub call_id: String,
    pub task_id: i64,
    pub phone: String,
    pub agent_id: String,
    pub campaign_id: String,
    pub customer_id: String,
    pub switch: String,
    pub requested_ms: i64,
    /// When the originate went to the switch (its pace slot).
    pub originate_ms: Option<i64>,
    pub record_ms: Option<i64>,
    pub record: Option<RecordSeen>,
    /// Each record source asked again, past the cache, once the record was
    /// ready: what the pop is compared with.
    pub probes: Vec<TestReport>,
}

/// The traces, owned by the dialer.
#[derive(Default)]
pub struct TestCalls {
    by_call: HashMap<String, Trace>,
    order: VecDeque<String>,
}

impl TestCalls {
    fn insert(&mut self, t: Trace) {
        if self.order.len() >= KEPT
            && let Some(old) = self.order.pop_front()
        {
            self.by_call.remove(&old);
        }
        self.order.push_back(t.call_id.clone());
        self.by_call.insert(t.call_id.clone(), t);
    }

    pub fn get(&self, call_id: &str) -> Option<&Trace> {
        self.by_call.get(call_id)
    }

    fn get_mut(&mut self, call_id: &str) -> Option<&mut Trace> {
        self.by_call.get_mut(call_id)
    }

    /// A test call is tried once: whatever its outcome, its task ends
    /// (answered: done; anything else: failed), never retried by the
    /// campaign's rules.
    pub fn final_step(&self, call_id: &CallId, next: TaskNext) -> TaskNext {
        if !self.by_call.contains_key(call_id.as_str()) {
            return next;
        }
        match next {
            // A callback is the agent's own word, and stays.
            TaskNext::RetryAt(_) | TaskNext::Requeue(_) => TaskNext::Failed,
            TaskNext::Done
            | TaskNext::Failed
            | TaskNext::Refused(_)
            | TaskNext::Callback { .. } => next,
        }
    }
}

type Reply = oneshot::Sender<Result<Trace, TestCallRefused>>;

/// A test call's task and attempt are written (or could not be).
pub(crate) enum TestCallJob {
    Placed {
        seat: claim::Seat,
        task: Box<Task>,
        call_id: CallId,
        requested_ms: i64,
        reply: Reply,
    },
    Refused {
        seat: claim::Seat,
        why: TestCallRefused,
        reply: Reply,
    },
    /// The sources' fresh answers for the call's record.
    Probed(CallId, Vec<TestReport>),
}

impl Dialer {
    /// Holds the agent and a switch's room as a claim would, then writes
    /// the call's task and attempt off the loop.
    pub(super) fn start_test_call(&mut self, order: TestCallOrder, reply: Reply) {
        let refuse = |reply: Reply, why| {
            let _ = reply.send(Err(why));
        };
        if self.draining {
            return refuse(reply, TestCallRefused::Draining);
        }
        let Some(agent) = self.agents.agent(&order.agent_id).cloned() else {
            return refuse(reply, TestCallRefused::UnknownAgent(order.agent_id));
        };
        let state = self
            .agents
            .state(&agent.id)
            .map_or(AgentStateName::LoggedOut, AgentState::name);
        if self.agents.state(&agent.id) != Some(&AgentState::Available) {
            return refuse(reply, TestCallRefused::AgentNotFree(agent.id, state));
        }
        let campaign_id = order
            .campaign_id
            .clone()
            .unwrap_or_else(|| agent.home().to_string());
        if !self.campaigns.contains_key(&campaign_id) {
            return refuse(reply, TestCallRefused::UnknownCampaign(campaign_id));
        }
        let clock = Instant::now();
        let Some(sw) = self.pick_switch(clock) else {
            return refuse(reply, TestCallRefused::NoSwitch);
        };
        self.agents.set(&agent.id, AgentState::Claiming);
        let seat = claim::Seat {
            agent: Some(agent),
            switch: sw,
            switch_name: self.switches[sw].plan.name.clone(),
        };
        let (store, tx) = (self.store.clone(), self.internal_tx.clone());
        tokio::spawn(async move {
            let job = write_test_call(&*store, seat, order, campaign_id, reply).await;
            let _ = tx.send(Internal::TestCall(Box::new(job))).await;
        });
    }

    pub(super) async fn on_test_call(&mut self, job: TestCallJob) {
        match job {
            TestCallJob::Placed {
                seat,
                task,
                call_id,
                requested_ms,
                reply,
            } => {
                let trace = Trace {
                    call_id: call_id.to_string(),
                    task_id: task.id,
                    phone: task.phone.clone(),
                    agent_id: seat.agent_id(),
                    campaign_id: task.campaign_id.clone(),
                    customer_id: task.customer_id.clone(),
                    switch: seat.switch_name.clone(),
                    requested_ms,
                    originate_ms: None,
                    record_ms: None,
                    record: None,
                    probes: Vec::new(),
                };
                self.test_calls.insert(trace);
                let slot = self.dial(seat, *task, call_id.clone()).await;
                if let Some(t) = self.test_calls.get_mut(call_id.as_str()) {
                    t.originate_ms = slot.map(|s| {
                        now_ms() + s.saturating_duration_since(Instant::now()).as_millis() as i64
                    });
                    let _ = reply.send(Ok(t.clone()));
                }
            }
            TestCallJob::Refused { seat, why, reply } => {
                self.give_back_claim(seat.switch);
                self.release_claim(&seat.agent_id());
                let _ = reply.send(Err(why));
            }
            TestCallJob::Probed(call_id, probes) => {
                if let Some(t) = self.test_calls.get_mut(call_id.as_str()) {
                    t.probes = probes;
                }
            }
        }
    }

    /// The record of a call is ready: for a test call, kept with its time,
    /// and every record source asked again for the comparison.
    pub(super) fn test_call_record(&mut self, id: &CallId, p: &crate::popup::Prepared) {
        let Some(t) = self.test_calls.get_mut(id.as_str()) else {
            return;
        };
        t.record_ms = Some(now_ms());
        t.record = Some(RecordSeen {
            fields: p.customer.clone(),
            sources: p.sources.clone(),
            reasons: p.reasons.clone(),
            found: p.found,
            template: p.screen.template.clone(),
            shown: p.screen.fields_shown(),
        });
        let Some(lookup) = self.calls.get(id).map(|c| c.lookup.clone()) else {
            return;
        };
        let customers = self.customers.clone();
        let (tx, id) = (self.internal_tx.clone(), id.clone());
        tokio::spawn(async move {
            let mut probes = Vec::new();
            for s in customers.sources() {
                if s.role == SourceRole::Record
                    && let Some(r) = customers.test_source(&s.name, &lookup).await
                {
                    probes.push(r);
                }
            }
            let job = TestCallJob::Probed(id, probes);
            let _ = tx.send(Internal::TestCall(Box::new(job))).await;
        });
    }
}

/// The do-not-call check, then the task (being dialed from the start) and
/// its attempt.
async fn write_test_call(
    store: &dyn crate::store::Store,
    seat: claim::Seat,
    order: TestCallOrder,
    campaign_id: String,
    reply: Reply,
) -> TestCallJob {
    let requested_ms = now_ms();
    let refused = |seat, why, reply| TestCallJob::Refused { seat, why, reply };
    match store.dnc_match(&order.phone, &campaign_id).await {
        Ok(Some(e)) => {
            let list = match e.campaign_id {
                Some(c) => format!("campaign {c}'s"),
                None => "global".into(),
            };
            let why = TestCallRefused::DoNotCall {
                phone: order.phone,
                list,
            };
            return refused(seat, why, reply);
        }
        Ok(None) => {}
        Err(e) => return refused(seat, TestCallRefused::Store(e.to_string()), reply),
    }
    let mut variables = serde_json::Map::new();
    variables.insert("test_call".into(), "true".into());
    let new = NewTask {
        campaign_id,
        customer_id: order.customer_id.unwrap_or_else(|| order.phone.clone()),
        phone: order.phone,
        priority: 0,
        tags: vec![TEST_TAG.into()],
        due_ms: requested_ms,
        variables,
        submitted_by: order.requested_by,
        ..NewTask::default()
    };
    let task = match store.add_dialing_task(&new).await {
        Ok(t) => t,
        Err(e) => return refused(seat, TestCallRefused::Store(e.to_string()), reply),
    };
    let call_id = CallId::new_random();
    let attempt = NewAttempt {
        call_id: call_id.to_string(),
        task_id: task.id,
        agent_id: seat.agent_id(),
        switch_name: seat.switch_name.clone(),
        originate_ms: now_ms(),
    };
    if let Err(e) = store.insert_attempt(&attempt).await {
        // The task was written as being dialed: it ends, failed, so that
        // it is not left dialing forever.
        let _ = store
            .finish_task(task.id, TaskNext::Failed, Some("TEST_CALL_NOT_WRITTEN"))
            .await;
        return refused(seat, TestCallRefused::Store(e.to_string()), reply);
    }
    TestCallJob::Placed {
        seat,
        task: Box::new(task),
        call_id,
        requested_ms,
        reply,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn trace(id: &str) -> Trace {
        Trace {
            call_id: id.into(),
            task_id: 1,
            phone: "+15550001111".into(),
            agent_id: "a".into(),
            campaign_id: "c".into(),
            customer_id: "k".into(),
            switch: "sw".into(),
            requested_ms: 0,
            originate_ms: None,
            record_ms: None,
            record: None,
            probes: Vec::new(),
        }
    }

    #[test]
    fn a_test_call_is_never_retried_and_only_the_newest_are_kept() {
        let mut t = TestCalls::default();
        for n in 0..KEPT + 3 {
            t.insert(trace(&format!("call-{n}")));
        }
        assert!(t.get("call-0").is_none() && t.get("call-2").is_none());
        assert!(t.get("call-3").is_some());
        let id = CallId::from(format!("call-{}", KEPT + 2).as_str());
        assert_eq!(t.final_step(&id, TaskNext::RetryAt(5)), TaskNext::Failed);
        assert_eq!(t.final_step(&id, TaskNext::Requeue(5)), TaskNext::Failed);
        assert_eq!(t.final_step(&id, TaskNext::Done), TaskNext::Done);
        let other = CallId::from("campaign-call");
        assert_eq!(
            t.final_step(&other, TaskNext::RetryAt(5)),
            TaskNext::RetryAt(5)
        );
    }
}
