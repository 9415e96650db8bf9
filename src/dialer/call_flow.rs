//! What the dialer does as one of its calls moves: ringing, the answer and
//! its pop, the end and what it means for the task and the agent.

use super::agents::AgentState;
use super::live_call::CustomerLookup;
use super::policy::{self, Outcome};
use super::pop_send::{PopPlan, send_pop, tell_call};
use super::{Dialer, Internal};
use crate::campaign::settings::PopTrigger;
use crate::popup::messages::PopCallState;
use crate::store::{TaskNext, Write, now_ms};
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
        let plan = self.pop_plan(&id);
        let Some(call) = self.calls.get_mut(&id) else {
            return;
        };
        // The first sign of a channel: the switch took the call, so it works.
        if from == CallState::Dialing
            && !matches!(to, CallState::Ended(_))
            && let Some(s) = self.switches.get_mut(sw)
        {
            s.health.worked();
        }
        if call.unbound != super::live_call::Unbound::No {
            // No agent to tell while it rings; the answer puts it in the
            // holding extension; the agent's bridge changes nothing here.
            match to {
                CallState::Ringing | CallState::EarlyMedia => {
                    self.writer
                        .submit(Write::Ringing {
                            call_id: id.to_string(),
                            at_ms: now_ms(),
                        })
                        .await;
                }
                CallState::Answered | CallState::Bridged => {
                    if call.unbound == super::live_call::Unbound::Placed {
                        // Recorded now, not at the connection: after a
                        // restart the customer is known to wait since.
                        self.writer
                            .submit(Write::Answer {
                                call_id: id.to_string(),
                                at_ms: now_ms(),
                                pop: None,
                            })
                            .await;
                    }
                    self.unbound_answered(&id, received)
                }
                CallState::Ended(end) => self.on_end(id, from, end).await,
                CallState::Dialing | CallState::Originated => {}
            }
            return;
        }
        match to {
            CallState::Ringing | CallState::EarlyMedia => {
                tracing::debug!(state = ?to, "ringing");
                let agent_id = call.agent_id.clone();
                self.writer
                    .submit(Write::Ringing {
                        call_id: id.to_string(),
                        at_ms: now_ms(),
                    })
                    .await;
                tell_call(&self.hub, &agent_id, &id, "ringing", None).await;
                if plan.trigger() == PopTrigger::Ringing && !call.popped && call.ring_pop.is_none()
                {
                    if matches!(call.customer, CustomerLookup::Ready(_)) {
                        send_pop(
                            &self.writer,
                            &self.hub,
                            &mut self.stats,
                            &id,
                            call,
                            received,
                            &plan,
                            PopCallState::Ringing,
                        )
                        .await;
                    } else {
                        call.ring_waiting = true;
                        self.resolve(&id);
                    }
                }
            }
            CallState::Answered | CallState::Bridged => {
                if call.answered {
                    return;
                }
                call.answered = true;
                self.stats.answered += 1;
                tracing::debug!("answered");
                self.agent_answered(&id, received, plan).await;
            }
            CallState::Ended(end) => self.on_end(id, from, end).await,
            CallState::Dialing | CallState::Originated => {}
        }
    }

    /// The customer and the call's agent are connected (a progressive
    /// call's answer; a power or predictive call's transfer to its agent):
    /// the pop goes at `at`, or the answer is recorded and the pop waits
    /// for the record; the agent's page and state follow.
    pub(super) async fn agent_answered(&mut self, id: &CallId, at: Instant, plan: PopPlan) {
        let Some(call) = self.calls.get_mut(id) else {
            return;
        };
        if call.ring_pop.is_some() || matches!(call.customer, CustomerLookup::Ready(_)) {
            send_pop(
                &self.writer,
                &self.hub,
                &mut self.stats,
                id,
                call,
                at,
                &plan,
                PopCallState::Answered,
            )
            .await;
        } else {
            // The answer is recorded now (a restart then knows a pop is
            // owed); the pop waits for the preload under way, or (preload
            // switched off) for a lookup started now.
            call.answer_waiting = Some(at);
            self.writer
                .submit(Write::Answer {
                    call_id: id.to_string(),
                    at_ms: now_ms(),
                    pop: None,
                })
                .await;
            self.resolve(id);
        }
        let agent_id = self.calls.get(id).map(|c| c.agent_id.clone());
        if let Some(agent_id) = agent_id {
            tell_call(&self.hub, &agent_id, id, "answered", None).await;
            self.set_agent(&agent_id, AgentState::OnCall(id.clone()))
                .await;
        }
    }

    /// The lookup of a call whose answer waits for it is back: the pop goes.
    pub(super) async fn pop_waiting(&mut self, id: &CallId) {
        let plan = self.pop_plan(id);
        let Some(call) = self.calls.get_mut(id) else {
            return;
        };
        if let Some(at) = call.answer_waiting.take() {
            send_pop(
                &self.writer,
                &self.hub,
                &mut self.stats,
                id,
                call,
                at,
                &plan,
                PopCallState::Answered,
            )
            .await;
        } else if call.ring_waiting && !call.answered && !call.ended {
            call.ring_waiting = false;
            let preview = call.preview.is_some();
            send_pop(
                &self.writer,
                &self.hub,
                &mut self.stats,
                id,
                call,
                Instant::now(),
                &plan,
                if preview {
                    PopCallState::Preview
                } else {
                    PopCallState::Ringing
                },
            )
            .await;
            if preview {
                self.preview_shown(id).await;
                return;
            }
        }
        // An answered call that ended while its lookup ran: its pop has gone
        // out now, and the call can be forgotten.
        if call.ended {
            self.calls.remove(id);
            self.hub.call_ended(id.as_str()).await;
        }
    }

    async fn on_end(&mut self, id: CallId, from: CallState, end: CallEnd) {
        let Some(mut call) = self.calls.remove(&id) else {
            return;
        };
        let plan = self.pop_plan_for(&call);
        let now = Instant::now();
        let fault = (!call.answered)
            .then(|| policy::switch_fault(&from, &end))
            .flatten();
        let outcome = self
            .unbound_ended(&id, &call)
            .unwrap_or_else(|| policy::outcome(call.answered, &from, &end));
        if let Some(s) = self.switches.get_mut(call.switch) {
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
            Outcome::Abandoned => self.stats.abandoned += 1,
            Outcome::Machine => self.stats.machines += 1,
        }
        self.stats.count_end(&call.task.campaign_id, outcome);
        if let CallEnd::HungUp(c) | CallEnd::Failed(c) = &end {
            self.stats.count_cause(c.name());
        }
        let cause = match (&fault, &end) {
            (Some(f), _) => Some(format!("NOT_PLACED: {f}")),
            (None, CallEnd::HungUp(c) | CallEnd::Failed(c)) => Some(c.name().to_string()),
            (None, _) => None,
        };
        tracing::debug!(
            outcome = outcome.as_str(),
            cause = cause.as_deref(),
            answered = call.answered,
            "call ended"
        );
        let (retry, wrap_up) = self.rules_for(&call.task.campaign_id);
        let mut next = policy::next_step(&call.task, outcome, &retry, now_ms());
        if outcome == Outcome::Abandoned {
            // The number is locked out, then called back (Ofcom: no repeat
            // call within 72 h of an abandoned one).
            let lockout = self
                .campaigns
                .get(&call.task.campaign_id)
                .map_or(72 * 3_600_000, |v| v.campaign.settings.dialing.lockout_ms());
            next = policy::after_abandon(next, now_ms(), lockout);
        }
        let next = self.test_calls.final_step(&id, next);
        let wrap = if call.answered {
            // A conversation: the attempt closes now, the task when the
            // wrap-up ends (by the disposition, or by this outcome).
            self.writer
                .submit(Write::CloseAttempt {
                    call_id: id.to_string(),
                    at_ms: now_ms(),
                    outcome: outcome.as_str().to_string(),
                    cause: cause.clone(),
                })
                .await;
            let w = self.wrap_for(&id, call.task.clone(), next, cause.clone());
            let until = if w.required {
                super::wrap_up::REQUIRED_WRAP_UP
            } else {
                wrap_up
            };
            self.wraps.insert(call.agent_id.clone(), w);
            Some(until)
        } else {
            self.settle(&id, &call.task, outcome, next, cause.clone())
                .await;
            None
        };
        // The call is now part of the customer's history: the next pop
        // must not show a cached history without it.
        let (customers, lookup) = (self.customers.clone(), call.lookup.clone());
        tokio::spawn(async move {
            customers.after_call(&lookup).await;
        });
        // An answered call owes its agent a pop, however short it was.
        let (agent_id, answered) = (call.agent_id.clone(), call.answered);
        if answered && !call.popped && matches!(call.customer, CustomerLookup::Resolving) {
            // The pop goes when the lookup is back, and says the call ended.
            call.ended = true;
            self.calls.insert(id.clone(), call);
        } else {
            if answered && !call.popped {
                call.ended = true;
                let at = call.answer_waiting.take().unwrap_or(now);
                send_pop(
                    &self.writer,
                    &self.hub,
                    &mut self.stats,
                    &id,
                    &mut call,
                    at,
                    &plan,
                    PopCallState::Answered,
                )
                .await;
            }
            if !answered && call.ring_pop.is_some() {
                send_pop(
                    &self.writer,
                    &self.hub,
                    &mut self.stats,
                    &id,
                    &mut call,
                    now,
                    &plan,
                    PopCallState::NotConnected,
                )
                .await;
            }
            self.hub.call_ended(id.as_str()).await;
        }
        if agent_id.is_empty() {
            // Never connected to an agent: nobody to tell, nobody freed.
            return;
        }
        let shown = cause.or_else(|| Some("LOST_DURING_RECONNECT".into()));
        tell_call(&self.hub, &agent_id, &id, "ended", shown).await;
        // Wrap-up follows a conversation; an agent who never spoke to the
        // customer goes straight back to available (or to a pause asked
        // for during the call).
        let next_state = match wrap {
            Some(until) => AgentState::WrapUp(Instant::now() + until),
            None => self.after_call(&agent_id),
        };
        self.set_agent(&agent_id, next_state).await;
    }

    /// Closes the attempt and moves the task on, in one transaction through
    /// the writer; the campaign is looked at again once it is written.
    pub(super) async fn settle(
        &mut self,
        call_id: &CallId,
        task: &crate::store::Task,
        outcome: Outcome,
        next: TaskNext,
        cause: Option<String>,
    ) {
        let close = Write::CloseAttempt {
            call_id: call_id.to_string(),
            at_ms: now_ms(),
            outcome: outcome.as_str().to_string(),
            cause: cause.clone(),
        };
        self.submit_settlement(task, next, cause, vec![close], None)
            .await;
    }

    /// Writes `before`, then the task's move, in one transaction; once it
    /// is committed the loop hears of it (and `notify`, if given).
    pub(super) async fn submit_settlement(
        &mut self,
        task: &crate::store::Task,
        next: TaskNext,
        cause: Option<String>,
        mut writes: Vec<Write>,
        notify: Option<Internal>,
    ) {
        let campaign = task.campaign_id.clone();
        match &next {
            TaskNext::RetryAt(at)
            | TaskNext::Requeue(at)
            | TaskNext::Callback { at_ms: at, .. } => {
                // A campaign resting until later wakes when this task is
                // due; one that is not resting must not start to: that
                // would hold all its dialing until this write commits, and
                // hand its room to the other campaigns meanwhile.
                if let Some(due) = self.idle_until.get_mut(&campaign) {
                    *due = (*due).min(*at);
                }
            }
            TaskNext::Done | TaskNext::Failed | TaskNext::Refused(_) => {}
        }
        writes.push(Write::FinishTask {
            task_id: task.id,
            next,
            cause,
        });
        let tx = self.internal_tx.clone();
        self.writer
            .submit_then(
                writes,
                Box::new(move || {
                    for m in std::iter::once(Internal::TaskSettled(campaign)).chain(notify) {
                        if let Err(tokio::sync::mpsc::error::TrySendError::Full(m)) = tx.try_send(m)
                        {
                            let tx = tx.clone();
                            tokio::spawn(async move {
                                let _ = tx.send(m).await;
                            });
                        }
                    }
                }),
            )
            .await;
    }
}
