//! After a restart: settling what a death between two writes left behind,
//! and re-owning the calls the store says were open.

use super::Dialer;
use super::agents::AgentState;
use super::live_call::{LiveCall, Unbound};
use crate::store::{TaskNext, Write, now_ms};
use crate::switch::CallId;
use std::time::Instant;

impl Dialer {
    /// Re-owns the attempts a previous run left open: their agents are
    /// busy with them, and the managers ask the switches which still exist.
    pub(super) async fn recover(&mut self) -> Result<(), crate::store::StoreError> {
        // A task claimed but never dialed, or whose attempt was closed but
        // not the task itself: settle it from its recorded attempts.
        let open = match self.fence() {
            Some(f) => self.store.open_attempts_on(&f.switch).await?,
            None => self.store.open_attempts().await?,
        };
        // Agents the store has on a call: a wrap-up of theirs that the
        // store shows unfinished was over already (they were dialed again;
        // its end was still in the writer's queue at the kill).
        let on_a_call: std::collections::HashSet<String> = open
            .iter()
            .filter(|a| !a.agent_id.is_empty())
            .map(|a| a.agent_id.clone())
            .collect();
        let orphans = match self.fence() {
            // A cluster node's dialer for one switch settles that switch's
            // orphans only: the others' claimers may be alive.
            Some(f) => self.store.orphaned_dialing_tasks_on(&f.switch).await?,
            None => self.store.orphaned_dialing_tasks().await?,
        };
        for task in orphans {
            let history = self.store.attempts_for_task(task.id).await?;
            // Killed during a wrap-up: the wrap-up starts again, so that the
            // agent's page (when it reconnects) can still give the
            // disposition; without one it ends as the call did.
            if let Some(last) = history.iter().max_by_key(|a| a.originate_ms)
                && last.answer_ms.is_some()
                && last.hangup_ms.is_some()
                && last.wrap_end_ms.is_none()
                && !on_a_call.contains(&last.agent_id)
                && self.agents.state(&last.agent_id) == Some(&AgentState::LoggedOut)
            {
                let (_, wrap_up) = self.rules_for(&task.campaign_id);
                let w = self.wrap_for(
                    &CallId(last.call_id.clone()),
                    task.clone(),
                    TaskNext::Done,
                    last.hangup_cause.clone(),
                );
                let until = if w.required {
                    super::wrap_up::REQUIRED_WRAP_UP
                } else {
                    wrap_up
                };
                tracing::info!(task = task.id, agent = %last.agent_id, "wrap-up interrupted by the restart starts again");
                self.wraps.insert(last.agent_id.clone(), w);
                self.agents
                    .set(&last.agent_id, AgentState::WrapUp(Instant::now() + until));
                continue;
            }
            // Attempts the switch never placed are not counted.
            let attempts = self.store.sync_task_attempts(task.id).await?;
            let max = self
                .store
                .campaign(&task.campaign_id)
                .await?
                .map_or(1, |c| c.settings.retry.no_answer.max_attempts);
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
            self.write_now(Write::FinishTask {
                task_id: task.id,
                next,
                cause: None,
            })
            .await?;
        }
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
                self.write_now(Write::CloseAttempt {
                    call_id: a.call_id.clone(),
                    at_ms: now_ms(),
                    outcome: "vanished".into(),
                    cause: None,
                })
                .await?;
                self.write_now(Write::FinishTask {
                    task_id: task.id,
                    next: TaskNext::RetryAt(now_ms()),
                    cause: None,
                })
                .await?;
                continue;
            };
            if a.agent_id.is_empty() {
                // A power or predictive call no agent had taken yet.
                let lookup = self.customers.lookup_for_task(&task);
                let call = self.readopt_unbound(&id, sw, task, lookup, a.originate_ms, a.answer_ms);
                self.calls.insert(id.clone(), call);
                self.switches[sw].load += 1;
                ids[sw].push(id);
                continue;
            }
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
            let lookup = self.customers.lookup_for_task(&task);
            let mut call = LiveCall::new(&id, sw, task, a.agent_id, lookup);
            call.answer_waiting = owes_pop.then(Instant::now);
            call.answered = answered;
            call.popped = answered && !owes_pop;
            call.unacked_pop = unacked_pop;
            self.calls.insert(id.clone(), call);
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

    /// A write of recovery's, at once and under the lease if there is one.
    async fn write_now(&self, w: Write) -> Result<(), crate::store::StoreError> {
        let w = match self.fence() {
            Some(f) => Write::Fenced {
                fence: f.clone(),
                write: Box::new(w),
            },
            None => w,
        };
        self.store.apply(&[w]).await
    }

    /// A call placed with no agent, left open by the previous run. Not
    /// answered: it is ringing still, counted in the campaign's lines as
    /// any call placed. Answered: the customer waits in the holding
    /// extension (or waited, and hung up while nobody was there), since
    /// the answer as recorded; whatever machine verdict came was lost with
    /// the run, so it counts as a person. It goes to the first free agent
    /// if still within the campaign's limit, or to the message and ends
    /// abandoned, with its callback and lockout, as any customer waiting
    /// too long; if the switch no longer has it, it ended abandoned.
    fn readopt_unbound(
        &mut self,
        id: &CallId,
        sw: usize,
        task: crate::store::Task,
        lookup: crate::customer::Lookup,
        originate_ms: i64,
        answer_ms: Option<i64>,
    ) -> LiveCall {
        let now = Instant::now();
        let since = |ms: i64| {
            let ago = std::time::Duration::from_millis(now_ms().saturating_sub(ms).max(0) as u64);
            now.checked_sub(ago).unwrap_or(now)
        };
        let mut call = LiveCall::new(id, sw, task, String::new(), lookup);
        call.placed_at = since(originate_ms);
        let lines = self
            .lines
            .by_campaign
            .entry(call.task.campaign_id.clone())
            .or_default();
        lines.up += 1;
        match answer_ms {
            Some(at) => {
                call.unbound = Unbound::Waiting;
                call.answered_at = Some(since(at));
                call.waiting_since = Some(since(at));
                lines.waiting.push_back(id.clone());
            }
            None => {
                call.unbound = Unbound::Placed;
                lines.in_flight += 1;
                lines.placed.insert((call.placed_at, id.clone()));
            }
        }
        tracing::info!(call = %id, answered = answer_ms.is_some(), "re-adopting a call placed with no agent");
        call
    }
}
