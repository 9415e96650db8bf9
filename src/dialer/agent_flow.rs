//! What agents ask for and how their states move outside of calls: pages
//! opening and closing, ready, pause and resume with a reason, and the end
//! of a wrap-up, where the call's task is settled by the disposition.

use super::agents::AgentState;
use super::wrap_up::Wrap;
use super::{Dialer, Internal};
use crate::campaign::disposition::{self, Given, valid_code};
use crate::popup::hub::Presence;
use crate::popup::messages::{AgentRequest, AgentStateName, DispositionForm, ServerMsg};
use crate::store::{Disposition, Write, now_ms};
use std::time::Instant;

/// Whether an agent is signed in and working, paused, or out: the changes
/// between these are logged for occupancy (not every call's states).
fn presence_class(s: &AgentState) -> &'static str {
    match s {
        AgentState::LoggedOut => "logged_out",
        AgentState::Paused(_) => "paused",
        _ => "working",
    }
}

impl Dialer {
    pub(super) async fn set_agent(&mut self, agent_id: &str, state: AgentState) {
        let before = self.agents.state(agent_id).map(presence_class);
        let reason = match &state {
            AgentState::Paused(r) => Some(r.clone()),
            _ => None,
        };
        let msg = ServerMsg::State {
            state: state.name(),
            call_id: state.call().map(|c| c.to_string()),
            // A wrap-up that waits for its disposition has no countdown.
            wrap_up_seconds: match state {
                AgentState::WrapUp(_) if self.wraps.get(agent_id).is_some_and(|w| w.required) => {
                    None
                }
                AgentState::WrapUp(until) => Some(
                    until
                        .saturating_duration_since(Instant::now())
                        .as_secs_f64(),
                ),
                _ => None,
            },
            reason: reason.clone(),
            disposition: match state {
                AgentState::WrapUp(_) => self.wraps.get(agent_id).map(|w| DispositionForm {
                    call_id: w.call_id.to_string(),
                    codes: w.codes.clone(),
                    required: w.required,
                }),
                _ => None,
            },
        };
        let class = presence_class(&state);
        self.agents.set(agent_id, state);
        if before.is_some_and(|b| b != class) {
            self.writer
                .submit(Write::AgentState {
                    agent_id: agent_id.to_string(),
                    state: class.to_string(),
                    reason,
                    at_ms: now_ms(),
                })
                .await;
        }
        self.hub.send(agent_id, msg).await;
    }

    /// Where an agent goes when a wrap-up (or a call without one) is over.
    pub(super) fn after_call(&mut self, agent_id: &str) -> AgentState {
        if let Some(reason) = self.pause_after.remove(agent_id) {
            AgentState::Paused(reason)
        } else if self.agents.is_online(agent_id) {
            AgentState::Available
        } else {
            AgentState::LoggedOut
        }
    }

    pub(super) async fn on_presence(&mut self, p: Presence) {
        match p {
            Presence::Online(id) => {
                self.agents.set_online(&id, true);
                // A page that opens mid-call (or mid-wrap-up, or paused)
                // sees that state; an agent who was out becomes available.
                let state = self.agents.state(&id).cloned();
                match state {
                    Some(AgentState::LoggedOut) => self.set_agent(&id, AgentState::Available).await,
                    Some(s) => self.set_agent(&id, s).await,
                    None => {}
                }
            }
            Presence::Offline(id) => {
                self.agents.set_online(&id, false);
                // Signed out while a task was being claimed for them: the
                // claim's result finds them gone and dials nothing. A
                // wrap-up goes on (a page reloaded during it gets its form
                // back), and so does a pause.
                if matches!(
                    self.agents.state(&id),
                    Some(AgentState::Available) | Some(AgentState::Claiming)
                ) {
                    self.set_agent(&id, AgentState::LoggedOut).await;
                }
            }
            Presence::Request(id, request) => {
                if let Err(error) = self.on_request(&id, request).await {
                    self.hub.send(&id, ServerMsg::Error { error }).await;
                }
            }
        }
    }

    /// An agent's request, from its page or from a supervisor.
    pub(super) async fn on_request(
        &mut self,
        id: &str,
        request: AgentRequest,
    ) -> Result<AgentStateName, String> {
        let Some(state) = self.agents.state(id).cloned() else {
            return Err(format!("no agent {id:?}"));
        };
        match request {
            AgentRequest::Ready => {
                if let AgentState::WrapUp(_) = state {
                    if self.wraps.get(id).is_some_and(|w| w.required) {
                        return Err("this campaign needs a disposition before the next call".into());
                    }
                    self.end_wrap_up(id, None).await;
                }
            }
            AgentRequest::Pause(reason) => {
                if !valid_code(&reason) {
                    return Err(format!(
                        "reason: {reason:?} is not a reason code (1 to 32 of a-z 0-9 _ -)"
                    ));
                }
                match state {
                    AgentState::Available | AgentState::Paused(_) => {
                        self.set_agent(id, AgentState::Paused(reason)).await;
                    }
                    AgentState::LoggedOut => return Err("the agent is not signed in".into()),
                    // During a call: taken when it (and its wrap-up) is over.
                    _ => {
                        self.pause_after.insert(id.to_string(), reason);
                    }
                }
            }
            AgentRequest::Resume => {
                self.pause_after.remove(id);
                if let AgentState::Paused(_) = state {
                    let next = if self.agents.is_online(id) {
                        AgentState::Available
                    } else {
                        AgentState::LoggedOut
                    };
                    self.set_agent(id, next).await;
                }
            }
            AgentRequest::PreviewDial(call_id) => self.preview_dial(id, &call_id)?,
            AgentRequest::PreviewSkip { call_id, reason } => {
                self.preview_skip(id, &call_id, &reason).await?
            }
            AgentRequest::Disposition { call_id, given } => {
                let Some(w) = self.wraps.get(id).filter(|w| w.call_id.as_str() == call_id) else {
                    return Err(format!("call_id: no wrap-up for call {call_id:?}"));
                };
                let now = now_ms();
                let settled = disposition::settle(&w.codes, &given, &w.task, id, w.grace_ms, now)
                    .map_err(|r| format!("{}: {}", r.field, r.message))?;
                self.end_wrap_up(id, Some((given, settled))).await;
            }
        }
        Ok(self
            .agents
            .state(id)
            .map_or(AgentStateName::LoggedOut, AgentState::name))
    }

    /// Ends an agent's wrap-up: its task is settled by the disposition if
    /// one was given (written with it, in one transaction), else by the
    /// call's outcome; then the agent is free (or paused).
    async fn end_wrap_up(
        &mut self,
        agent_id: &str,
        given: Option<(
            Given,
            (crate::store::TaskNext, Option<crate::store::DncEntry>),
        )>,
    ) {
        if let Some(w) = self.wraps.remove(agent_id) {
            self.settle_wrap(agent_id, w, given).await;
        }
        let next = self.after_call(agent_id);
        self.set_agent(agent_id, next).await;
    }

    async fn settle_wrap(
        &mut self,
        agent_id: &str,
        w: Wrap,
        given: Option<(
            Given,
            (crate::store::TaskNext, Option<crate::store::DncEntry>),
        )>,
    ) {
        let at = now_ms();
        let mut writes = Vec::new();
        let (next, cause, disposed) = match given {
            Some((g, (next, dnc))) => {
                writes.push(Write::Disposition(Disposition {
                    call_id: w.call_id.to_string(),
                    task_id: w.task.id,
                    campaign_id: w.task.campaign_id.clone(),
                    agent_id: agent_id.to_string(),
                    code: g.code.clone(),
                    notes: g.notes.clone(),
                    callback_ms: match &next {
                        crate::store::TaskNext::Callback { at_ms, .. } => Some(*at_ms),
                        _ => None,
                    },
                    at_ms: at,
                }));
                if let Some(e) = dnc {
                    writes.push(Write::AddDnc(e));
                }
                (next, Some(format!("disposition:{}", g.code)), Some(g.code))
            }
            None => (w.by_outcome, w.cause, None),
        };
        writes.push(Write::WrapEnded {
            call_id: w.call_id.to_string(),
            at_ms: at,
        });
        let notify = disposed.map(|code| Internal::Disposed {
            agent_id: agent_id.to_string(),
            call_id: w.call_id.to_string(),
            code,
        });
        self.submit_settlement(&w.task, next, cause, writes, notify)
            .await;
    }

    /// Wrap-ups whose time is over end by the call's outcome (a required
    /// disposition waits until `REQUIRED_WRAP_UP`).
    pub(super) async fn end_wrap_ups(&mut self, now: Instant) {
        if self.agents.next_wrap_up_end().is_none_or(|t| t > now) {
            return;
        }
        for id in self.agents.wrap_ups_over(now) {
            self.end_wrap_up(&id, None).await;
        }
    }
}
