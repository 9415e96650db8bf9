//! What the dialer does as one of its calls moves: ringing, the answer and
//! its pop, the end and what it means for the task and the agent.

use super::agents::AgentState;
use super::live_call::CustomerLookup;
use super::policy::{self, Outcome};
use super::{Dialer, Internal};
use crate::popup::build_pop;
use crate::popup::messages::ServerMsg;
use crate::store::{NewPop, Task, TaskNext, Write, now_ms};
use crate::switch::CallId;
use crate::switch::calls::{CallEnd, CallState};
use std::time::Instant;

impl Dialer {
    pub(super) async fn on_call_state(
        &mut self,
        sw: usize,
        id: CallId,
        from: CallState,
        to: CallState,
        received: Instant,
    ) {
        if !self.calls.contains_key(&id) {
            return;
        }
        // The first sign of a channel: the switch took the call, so it works.
        if from == CallState::Dialing
            && !matches!(to, CallState::Ended(_))
            && let Some(s) = self.switches.get_mut(sw)
        {
            s.health.worked();
        }
        let Some(call) = self.calls.get_mut(&id) else {
            return;
        };
        let agent_id = call.agent_id.clone();
        match to {
            CallState::Ringing | CallState::EarlyMedia => {
                self.writer
                    .submit(Write::Ringing {
                        call_id: id.to_string(),
                        at_ms: now_ms(),
                    })
                    .await;
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
                self.stats.answered += 1;
                if matches!(call.customer, CustomerLookup::Ready(_)) {
                    self.pop(&id, received).await;
                } else {
                    call.answer_waiting = Some(received);
                    // Awaits the preload under way, or (preload switched
                    // off) starts the lookup now.
                    self.resolve(&id);
                    self.writer
                        .submit(Write::Answer {
                            call_id: id.to_string(),
                            at_ms: now_ms(),
                            pop: None,
                        })
                        .await;
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
            CallState::Ended(end) => self.on_end(id, from, end).await,
            CallState::Dialing | CallState::Originated => {}
        }
    }

    /// Sends the call's pop, once. Its row is queued for the writer first,
    /// so that an acknowledgement, queued after it, always finds it.
    pub(super) async fn pop(&mut self, id: &CallId, answered_at: Instant) {
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
        let msg = build_pop(&pop_id, id.as_str(), &call.task, view, call.ended);
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
        self.writer
            .submit(Write::Answer {
                call_id: id.to_string(),
                at_ms: now_ms(),
                pop: Some(rec),
            })
            .await;
        self.hub
            .pop(&agent_id, &pop_id, id.as_str(), answered_at, msg)
            .await;
    }

    async fn on_end(&mut self, id: CallId, from: CallState, end: CallEnd) {
        let Some(call) = self.calls.get_mut(&id) else {
            return;
        };
        let (sw, answered) = (call.switch, call.answered);
        let now = Instant::now();
        let fault = (!answered)
            .then(|| policy::switch_fault(&from, &end))
            .flatten();
        let outcome = policy::outcome(answered, &from, &end);
        if let Some(s) = self.switches.get_mut(sw) {
            // The switch has room again.
            s.load = s.load.saturating_sub(1);
            match &fault {
                Some(f) => {
                    tracing::warn!(switch = %s.plan.name, call = %id, fault = %f, "the switch did not place a call; the task goes back and dialing on the switch rests");
                    s.health.refused(now, f.clone());
                }
                None if outcome != Outcome::Vanished => s.health.worked(),
                None => s.health.trial_void(now),
            }
        }
        match outcome {
            Outcome::Answered => {}
            Outcome::Busy => self.stats.busy += 1,
            Outcome::NoAnswer => self.stats.no_answer += 1,
            Outcome::Vanished => self.stats.vanished += 1,
            Outcome::NotPlaced => self.stats.not_placed += 1,
            Outcome::Failed => self.stats.failed += 1,
        }
        let cause = match (&fault, &end) {
            (Some(f), _) => Some(format!("NOT_PLACED: {f}")),
            (None, CallEnd::HungUp(c) | CallEnd::Failed(c)) => Some(c.name().to_string()),
            (None, _) => None,
        };
        let Some(call) = self.calls.get_mut(&id) else {
            return;
        };
        let (task, agent_id) = (call.task.clone(), call.agent_id.clone());
        let rules = self.rules_for(&task.campaign_id).await;
        let next = policy::next_step(&task, outcome, rules, now_ms());
        self.settle(
            &id,
            &task,
            outcome,
            next,
            cause.clone(),
            task.campaign_id.clone(),
        )
        .await;
        // The call is now part of the customer's history: the next pop
        // must not show a cached history without it.
        if let Some(call) = self.calls.get(&id) {
            let (customers, lookup) = (self.customers.clone(), call.lookup.clone());
            tokio::spawn(async move {
                customers.after_call(&lookup).await;
            });
        }
        // An answered call owes its agent a pop, however short it was.
        let owes_pop = self.calls.get(&id).is_some_and(|c| c.answered && !c.popped);
        if owes_pop {
            let waiting = match self.calls.get_mut(&id) {
                Some(c) => {
                    c.ended = true;
                    matches!(c.customer, CustomerLookup::Resolving)
                }
                None => false,
            };
            if waiting {
                // The pop goes when the lookup is back (CustomerLoaded),
                // and says the call has ended.
            } else {
                let at = self
                    .calls
                    .get_mut(&id)
                    .and_then(|c| c.answer_waiting.take())
                    .unwrap_or(now);
                self.pop(&id, at).await;
                self.calls.remove(&id);
                self.hub.call_ended(id.as_str()).await;
            }
        } else {
            self.calls.remove(&id);
            self.hub.call_ended(id.as_str()).await;
        }
        self.hub
            .send(
                &agent_id,
                ServerMsg::Call {
                    call_id: id.to_string(),
                    state: "ended".into(),
                    cause: cause.or_else(|| Some("LOST_DURING_RECONNECT".into())),
                },
            )
            .await;
        // Wrap-up follows a conversation; an agent who never spoke to the
        // customer goes straight back to available.
        let next_state = if answered {
            AgentState::WrapUp(Instant::now() + self.plan.wrap_up)
        } else if self.agents.is_online(&agent_id) {
            AgentState::Available
        } else {
            AgentState::LoggedOut
        };
        self.set_agent(&agent_id, next_state).await;
    }

    /// Closes the attempt and moves the task on, in one transaction through
    /// the writer; the campaign is looked at again once it is written.
    pub(super) async fn settle(
        &mut self,
        call_id: &CallId,
        task: &Task,
        outcome: Outcome,
        next: TaskNext,
        cause: Option<String>,
        campaign: String,
    ) {
        match next {
            TaskNext::RetryAt(at) => {
                let due = self.idle_until.entry(campaign.clone()).or_insert(at);
                *due = (*due).min(at);
            }
            TaskNext::Requeue => {
                self.idle_until.remove(&campaign);
            }
            TaskNext::Done | TaskNext::Failed => {}
        }
        let tx = self.internal_tx.clone();
        self.writer
            .submit_then(
                vec![
                    Write::CloseAttempt {
                        call_id: call_id.to_string(),
                        at_ms: now_ms(),
                        outcome: outcome.as_str().to_string(),
                        cause: cause.clone(),
                    },
                    Write::FinishTask {
                        task_id: task.id,
                        next,
                        cause,
                    },
                ],
                Box::new(move || {
                    if let Err(tokio::sync::mpsc::error::TrySendError::Full(m)) =
                        tx.try_send(Internal::TaskSettled(campaign))
                    {
                        tokio::spawn(async move {
                            let _ = tx.send(m).await;
                        });
                    }
                }),
            )
            .await;
    }
}
