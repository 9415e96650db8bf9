//! Customers waiting in the holding extension: connected to free agents
//! oldest first (the pop goes then), or abandoned to the message past the
//! campaign's limit.

use super::super::Dialer;
use super::super::agents::AgentState;
use super::super::live_call::Unbound;
use crate::campaign::dialing::DialingSettings;
use crate::store::Write;
use crate::switch::driver::Transfer;
use crate::switch::{CallId, HangupCause};
use std::time::Instant;

impl Dialer {
    /// Connects waiting customers to free agents, oldest first, and
    /// abandons those past their campaign's limit.
    pub(in crate::dialer) fn serve_waiting(&mut self, clock: Instant) {
        let campaigns: Vec<String> = self
            .lines
            .by_campaign
            .iter()
            .filter(|(_, l)| !l.waiting.is_empty())
            .map(|(c, _)| c.clone())
            .collect();
        for campaign in campaigns {
            let d = self.dialing_of(&campaign).cloned().unwrap_or_default();
            let queue = self
                .lines
                .by_campaign
                .get(&campaign)
                .map(|l| l.waiting.clone())
                .unwrap_or_default();
            let mut gone = Vec::new();
            for id in queue {
                let Some(call) = self.calls.get(&id) else {
                    gone.push(id);
                    continue;
                };
                // Still waiting for the verdict: the limit starts after it.
                let Some(since) = call.waiting_since else {
                    continue;
                };
                if clock.saturating_duration_since(since) > d.abandon_after() {
                    self.abandon(&id, &d, clock);
                    gone.push(id);
                    continue;
                }
                let campaigns = &self.campaigns;
                let agent = self.agents.next_available_for(&campaign, |c| {
                    campaigns.get(c).is_some_and(|v| v.dials() || c == campaign)
                });
                let Some(agent) = agent else {
                    // Nobody free: later customers wait too, but may still
                    // be past their limit.
                    continue;
                };
                self.connect(&id, agent, since, clock);
                gone.push(id);
            }
            if let Some(l) = self.lines.by_campaign.get_mut(&campaign) {
                l.waiting.retain(|c| !gone.contains(c));
            }
        }
    }

    /// The agent takes the waiting customer: the switch connects them and
    /// the pop goes now.
    fn connect(&mut self, id: &CallId, agent: crate::store::Agent, since: Instant, clock: Instant) {
        let Some(call) = self.calls.get_mut(id) else {
            return;
        };
        call.unbound = Unbound::Connected;
        call.agent_id = agent.id.clone();
        call.answered = true;
        let campaign = call.task.campaign_id.clone();
        let sw = call.switch;
        let span = call.span.clone();
        let plan = &self.switches[sw].plan;
        let transfer = Transfer {
            call_id: id.clone(),
            variables: vec![
                ("dialpop_agent_id".into(), agent.id.clone()),
                (
                    "dialpop_agent_dial".into(),
                    plan.agent_dial_string
                        .replace("{extension}", &agent.extension),
                ),
            ],
            extension: plan.connect_extension.clone(),
            context: plan.connect_context.clone(),
        };
        let manager = self.switches[sw].manager.clone();
        tokio::spawn(async move {
            if let Err(e) = manager.transfer(transfer).await {
                tracing::warn!(parent: &span, error = %e, "could not connect the waiting customer to the agent");
            }
        });
        let waited_ms = clock.saturating_duration_since(since).as_secs_f64() * 1e3;
        self.count_person(&campaign, Some(waited_ms), clock);
        self.stats.answered += 1;
        self.agents.set(&agent.id, AgentState::OnCall(id.clone()));
        // The pop and the agent's page are told from the loop, as for an
        // answer: the same path, with the connection as its moment. A full
        // queue only delays it: the pop is never dropped.
        let msg = super::super::Internal::Connected(id.clone(), agent.id, clock);
        if let Err(tokio::sync::mpsc::error::TrySendError::Full(msg)) =
            self.internal_tx.try_send(msg)
        {
            let tx = self.internal_tx.clone();
            tokio::spawn(async move {
                let _ = tx.send(msg).await;
            });
        }
    }

    /// No agent in time: the customer hears the message and the call ends
    /// abandoned.
    fn abandon(&mut self, id: &CallId, d: &DialingSettings, clock: Instant) {
        let Some(call) = self.calls.get_mut(id) else {
            return;
        };
        call.unbound = Unbound::Abandoned;
        let campaign = call.task.campaign_id.clone();
        let sw = call.switch;
        let span = call.span.clone();
        tracing::info!(parent: &span, "no agent within the limit: the customer hears the message, the call is abandoned");
        let transfer = Transfer {
            call_id: id.clone(),
            variables: vec![("dialpop_message_file".into(), d.abandon_message.clone())],
            extension: d.message_extension.clone(),
            context: self.switches[sw].plan.connect_context.clone(),
        };
        let manager = self.switches[sw].manager.clone();
        let id2 = id.clone();
        tokio::spawn(async move {
            if let Err(e) = manager.transfer(transfer).await {
                tracing::warn!(parent: &span, error = %e, "could not play the abandon message; hanging up");
                let _ = manager.hangup(id2, HangupCause::NormalClearing).await;
            }
        });
        self.count_person(&campaign, None, clock);
    }

    /// An unbound call connected: the same steps as an answer, with the
    /// agent now known.
    pub(in crate::dialer) async fn on_connected(
        &mut self,
        id: CallId,
        agent_id: String,
        at: Instant,
    ) {
        // Queued before the answer and its pop, so that both find it.
        self.writer
            .submit(Write::Connected {
                call_id: id.to_string(),
                agent_id,
            })
            .await;
        let plan = self.pop_plan(&id);
        self.agent_answered(&id, at, plan).await;
    }
}
