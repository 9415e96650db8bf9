//! Preview campaigns: the call is claimed for its agent as in progressive
//! dialing, but the originate is held; the agent gets the pop first (the
//! record and the number) and dials, or skips with a reason. With the
//! campaign's `preview_seconds` the call goes by itself when the countdown
//! is over.

use super::Dialer;
use super::agents::AgentState;
use super::live_call::CustomerLookup;
use super::policy::Outcome;
use crate::popup::messages::{PopCallState, ServerMsg};
use crate::store::{TaskNext, now_ms};
use crate::switch::{CallId, OriginateRequest};
use std::time::{Duration, Instant};

impl Dialer {
    /// The call is ready to place; it waits for its agent. The record is
    /// fetched now, and its pop goes as a preview when it is back.
    pub(super) fn hold_for_preview(&mut self, id: &CallId, req: OriginateRequest) {
        let auto = self.calls.get(id).and_then(|c| {
            self.campaigns
                .get(&c.task.campaign_id)
                .and_then(|v| v.campaign.settings.dialing.preview_seconds)
        });
        let Some(call) = self.calls.get_mut(id) else {
            return;
        };
        call.preview = Some(Box::new(req));
        call.ring_waiting = true;
        if let Some(s) = auto {
            let at = Instant::now() + Duration::try_from_secs_f64(s).unwrap_or_default();
            self.previews.insert((at, id.clone()));
        }
        tracing::debug!(auto_dial_s = auto, "held for the agent's preview");
        self.resolve(id);
    }

    /// The preview pop has gone: the page is told it may dial or skip.
    pub(super) async fn preview_shown(&self, id: &CallId) {
        let Some(call) = self.calls.get(id) else {
            return;
        };
        let auto = self
            .campaigns
            .get(&call.task.campaign_id)
            .and_then(|v| v.campaign.settings.dialing.preview_seconds);
        self.hub
            .send(
                &call.agent_id,
                ServerMsg::Preview {
                    call_id: id.to_string(),
                    auto_dial_seconds: auto,
                },
            )
            .await;
    }

    /// The agent's preview of `call_id`, if it is one.
    fn previewed(&self, agent: &str, call_id: &str) -> Result<CallId, String> {
        let id = CallId::from(call_id);
        match (self.agents.state(agent), self.calls.get(&id)) {
            (Some(AgentState::Reserved(c)), Some(call)) if *c == id && call.preview.is_some() => {
                Ok(id)
            }
            _ => Err(format!("call_id: no preview {call_id:?} for this agent")),
        }
    }

    /// Places a previewed call (the agent said dial, or the countdown is
    /// over).
    pub(super) fn place_preview(&mut self, id: &CallId) {
        let Some(call) = self.calls.get_mut(id) else {
            return;
        };
        let Some(req) = call.preview.take() else {
            return;
        };
        let (sw, span, campaign) = (
            call.switch,
            call.span.clone(),
            call.task.campaign_id.clone(),
        );
        self.previews.retain(|(_, c)| c != id);
        self.stats.count_originate(&campaign);
        span.in_scope(|| tracing::debug!("preview dialed"));
        self.send_originate(sw, *req, Instant::now(), span);
    }

    pub(super) fn preview_dial(&mut self, agent: &str, call_id: &str) -> Result<(), String> {
        let id = self.previewed(agent, call_id)?;
        self.place_preview(&id);
        Ok(())
    }

    /// The agent skipped the customer: no call, the task is due again after
    /// the campaign's skip delay, the reason kept as its cause.
    pub(super) async fn preview_skip(
        &mut self,
        agent: &str,
        call_id: &str,
        reason: &str,
    ) -> Result<(), String> {
        if !crate::campaign::disposition::valid_code(reason) {
            return Err(format!(
                "reason: {reason:?} is not a reason code (1 to 32 of a-z 0-9 _ -)"
            ));
        }
        let id = self.previewed(agent, call_id)?;
        let plan = self.pop_plan(&id);
        let Some(mut call) = self.calls.remove(&id) else {
            return Ok(());
        };
        self.previews.retain(|(_, c)| *c != id);
        let delay_ms = self
            .campaigns
            .get(&call.task.campaign_id)
            .map_or(3_600_000, |v| {
                (v.campaign.settings.dialing.skip_delay_seconds * 1000.0) as i64
            });
        call.span
            .in_scope(|| tracing::info!(reason, "preview skipped by the agent"));
        if call.ring_pop.is_some() {
            super::pop_send::send_pop(
                &self.writer,
                &self.hub,
                &mut self.stats,
                &id,
                &mut call,
                Instant::now(),
                &plan,
                PopCallState::NotConnected,
            )
            .await;
        }
        call.customer = CustomerLookup::Used;
        self.hub.call_ended(id.as_str()).await;
        if let Some(s) = self.switches.get_mut(call.switch) {
            s.load = s.load.saturating_sub(1);
        }
        self.settle(
            &id,
            &call.task,
            Outcome::NotPlaced,
            TaskNext::Requeue(now_ms().saturating_add(delay_ms)),
            Some(format!("PREVIEW_SKIPPED: {reason}")),
        )
        .await;
        let next = self.after_call(agent);
        self.set_agent(agent, next).await;
        Ok(())
    }

    /// Previews whose countdown is over are dialed.
    pub(super) fn dial_due_previews(&mut self, now: Instant) {
        while let Some((at, id)) = self.previews.first().cloned() {
            if at > now {
                return;
            }
            self.previews.pop_first();
            self.place_preview(&id);
        }
    }
}
