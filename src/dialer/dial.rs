//! Placing calls: claim jobs for the free agents, the originate of each
//! claimed task (after its pace slot), and the customer lookup that starts
//! while the phone rings.

use super::*;
use crate::campaign::dialing::DialMode;

impl Dialer {
    /// Reserves available agents and starts claim jobs for them, while a
    /// switch has room: one job claims for up to `MAX_SEATS` agents of one
    /// campaign at once. The loop never waits for the store: the jobs do,
    /// and report back, so answers and pops are never queued behind claims.
    pub(super) fn dial_what_can_be_dialed(&mut self) {
        self.dial_unbound();
        if self.draining {
            return;
        }
        let now = now_ms();
        let clock = Instant::now();
        while self.claim_jobs < claim::MAX_CLAIM_JOBS {
            let mut seats = Vec::new();
            let mut view: Option<Arc<CampaignView>> = None;
            while seats.len() < claim::MAX_SEATS {
                if self
                    .global_pace
                    .as_ref()
                    .is_some_and(|g| g.room(clock) == 0)
                    || switches::pick(&self.switches, clock).is_none()
                {
                    break;
                }
                let (idle, campaigns) = (&self.idle_until, &self.campaigns);
                let may_dial = |c: &str| {
                    idle.get(c).is_none_or(|&t| t <= now)
                        && campaigns.get(c).is_some_and(|v| v.dials() && !v.unbound())
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
                let Some(sw) = self.pick_switch(clock) else {
                    self.agents.set(&agent.id, AgentState::Available);
                    break;
                };
                seats.push(claim::Seat {
                    agent: Some(agent),
                    switch: sw,
                    switch_name: self.switches[sw].plan.name.clone(),
                });
            }
            let Some(view) = view else {
                return;
            };
            self.claim_jobs += 1;
            let (store, tx) = (self.store.clone(), self.internal_tx.clone());
            let fence = self.fence().cloned();
            tokio::spawn(async move {
                let claims = claim::claim(&store, seats, &view, now, fence.as_ref()).await;
                let _ = tx.send(Internal::Claims(Box::new(claims))).await;
            });
        }
    }

    /// A claimed task with its attempt written: the call is placed at its
    /// seat's slot (answered), unless the agent signed out meanwhile.
    pub(super) async fn dial(
        &mut self,
        seat: claim::Seat,
        task: Task,
        call_id: CallId,
    ) -> Option<Instant> {
        let claim::Seat {
            agent, switch: sw, ..
        } = seat;
        if let Some(agent) = &agent
            && self.agents.state(&agent.id) != Some(&AgentState::Claiming)
        {
            tracing::info!(agent = %agent.id, task = task.id, "agent signed out during the claim; the task goes back");
            self.give_back_claim(sw);
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
        let clock = Instant::now();
        let slot = self.switches[sw].pace.take(clock);
        // The later of the switch's slot and the global one.
        let slot = match self.global_pace.as_mut() {
            Some(g) => slot.max(g.take(clock)),
            None => slot,
        };
        if let Some(agent) = &agent {
            self.set_agent(&agent.id, AgentState::Reserved(call_id.clone()))
                .await;
        }
        let hold = match &agent {
            Some(_) => None,
            None => Some(self.campaigns.get(&task.campaign_id).map_or_else(
                || "dialpop_hold".to_string(),
                |v| v.campaign.settings.dialing.hold_extension.clone(),
            )),
        };
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
            ],
            // A call with no agent yet waits in the holding extension.
            on_answer: AnswerAction::Dialplan {
                extension: hold.unwrap_or_else(|| plan.connect_extension.clone()),
                context: plan.connect_context.clone(),
            },
        };
        if let Some(agent) = &agent {
            req.variables.extend([
                ("dialpop_agent_id".into(), agent.id.clone()),
                (
                    "dialpop_agent_dial".into(),
                    plan.agent_dial_string
                        .replace("{extension}", &agent.extension),
                ),
            ]);
        }
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
        let preview = agent.is_some()
            && self
                .campaigns
                .get(&task.campaign_id)
                .is_some_and(|v| v.campaign.settings.dialing.mode == DialMode::Preview);
        if !preview {
            self.stats.count_originate(&task.campaign_id);
        }
        let mut live = LiveCall::new(
            &call_id,
            sw,
            task,
            agent.as_ref().map(|a| a.id.clone()).unwrap_or_default(),
            lookup,
        );
        if agent.is_none() {
            live.unbound = super::live_call::Unbound::Placed;
            self.lines
                .by_campaign
                .entry(live.task.campaign_id.clone())
                .or_default()
                .placed
                .insert((live.placed_at, call_id.clone()));
        }
        self.calls.insert(call_id.clone(), live);
        let call = self.calls.get(&call_id);
        let span = call_log::span(&call_id, call);
        // The number is read only if the line is written: no copy per call.
        span.in_scope(|| {
            tracing::debug!(
                switch = %self.switches[sw].plan.name,
                number = crate::redact::number(call.map(|c| c.task.phone.as_str()).unwrap_or("")),
                "call placed"
            );
        });
        if preview {
            // The agent sees the record and the number first, and dials or
            // skips (`preview`).
            self.hold_for_preview(&call_id, req);
            return Some(slot);
        }
        // Preload: the record is fetched while the customer's phone rings,
        // so that the answer finds it cached.
        if self.customers.preload_enabled() {
            self.resolve(&call_id);
        }
        self.send_originate(sw, req, slot, span);
        Some(slot)
    }

    /// Sends the originate at its slot. A call the switch does not take
    /// comes back from the manager as ended, not placed (and is logged
    /// there, with its fault).
    pub(super) fn send_originate(
        &self,
        sw: usize,
        req: OriginateRequest,
        slot: Instant,
        span: tracing::Span,
    ) {
        let manager = self.switches[sw].manager.clone();
        tokio::spawn(
            async move {
                tokio::time::sleep_until(slot.into()).await;
                let _ = manager.originate(req).await;
            }
            .instrument(span),
        );
    }

    pub(super) fn release_claim(&mut self, agent_id: &str) {
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
    pub(super) fn resolve(&mut self, id: &CallId) {
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
}
