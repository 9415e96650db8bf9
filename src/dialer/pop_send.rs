//! Sending a call's pop: what it is drawn with (`PopPlan`), the campaign's
//! filters, the pop itself once per call state, and the call's state on the
//! agent's page.

use super::Dialer;
use super::claim::CampaignView;
use super::live_call::{CustomerLookup, LiveCall};
use crate::campaign::pop_rules::{self, PopFilter};
use crate::campaign::settings::PopTrigger;
use crate::popup::format::Locale;
use crate::popup::hub::AgentHub;
use crate::popup::messages::PopCallState;
use crate::popup::messages::ServerMsg;
use crate::popup::template::Templates;
use crate::popup::{Look, build_pop, pop_message};
use crate::store::writer::StoreWriter;
use crate::store::{NewPop, Write, now_ms};
use crate::switch::CallId;
use std::sync::Arc;
use std::time::Instant;

/// What a call's pop is drawn with: its campaign (filters, templates,
/// trigger) and its agent's level and language.
#[derive(Clone)]
pub(super) struct PopPlan {
    view: Option<Arc<CampaignView>>,
    level: Option<String>,
    locale: Locale,
}

static BUILTIN: std::sync::LazyLock<Templates> = std::sync::LazyLock::new(Templates::default);

impl PopPlan {
    /// None for a campaign the store no longer has: every call pops, at
    /// the answer, with the built-in template.
    pub(super) fn filters(&self) -> &[PopFilter] {
        self.view
            .as_deref()
            .map_or(&[], |v| v.campaign.settings.pop_filters.as_slice())
    }

    pub(super) fn trigger(&self) -> PopTrigger {
        self.view
            .as_deref()
            .map_or(PopTrigger::Answer, |v| v.campaign.settings.pop_trigger)
    }

    pub(super) fn look(&self) -> Look<'_> {
        Look {
            templates: self.view.as_deref().map_or(&BUILTIN, |v| &v.templates),
            level: self.level.as_deref(),
            locale: self.locale,
            trigger: self.trigger(),
        }
    }
}

impl Dialer {
    pub(super) fn pop_plan(&self, id: &CallId) -> PopPlan {
        match self.calls.get(id) {
            Some(call) => self.pop_plan_for(call),
            None => PopPlan {
                view: None,
                level: None,
                locale: Locale::En,
            },
        }
    }

    pub(super) fn pop_plan_for(&self, call: &LiveCall) -> PopPlan {
        let agent = self.agents.agent(&call.agent_id);
        PopPlan {
            view: self.view_of(&call.task.campaign_id),
            level: agent.and_then(|a| a.level.clone()),
            locale: agent
                .and_then(|a| a.locale.as_deref())
                .map_or(Locale::En, Locale::from_tag),
        }
    }
}

/// Decides by the campaign's filters whether the call pops, and records
/// the decision; false: it does not.
pub(super) async fn filters_allow(
    writer: &StoreWriter,
    id: &CallId,
    call: &LiveCall,
    filters: &[PopFilter],
) -> bool {
    if filters.is_empty() {
        return true;
    }
    // Without a record (every source failed) the call pops, degraded, so
    // the agent is never left with nothing on a call the filters might
    // have wanted.
    let decision = match &call.customer {
        CustomerLookup::Ready(p) if p.found => Some(pop_rules::decide(filters, &p.customer)),
        _ => None,
    };
    let rule = match &decision {
        Some(d) if d.pops => format!("popped: {}", d.reason),
        Some(d) => format!("not popped: {}", d.reason),
        None => "popped: no record, filters not applied".to_string(),
    };
    writer
        .submit(Write::PopRule {
            call_id: id.to_string(),
            rule,
        })
        .await;
    decision.is_none_or(|d| d.pops)
}

/// Sends the call's pop as `state` says, once per state. Its row is queued
/// for the writer first, so that an acknowledgement, queued after it,
/// always finds it. A ringing pop is kept, and sent again under its own id
/// at the answer or the end, so that the page updates it in place.
#[allow(clippy::too_many_arguments)]
pub(super) async fn send_pop(
    writer: &StoreWriter,
    hub: &AgentHub,
    stats: &mut super::DialerStats,
    id: &CallId,
    call: &mut LiveCall,
    at: Instant,
    plan: &PopPlan,
    state: PopCallState,
) {
    if state != PopCallState::Ringing
        && let Some(mut msg) = call.ring_pop.take()
    {
        if state == PopCallState::Answered {
            call.popped = true;
            writer
                .submit(Write::Answer {
                    call_id: id.to_string(),
                    at_ms: now_ms(),
                    pop: None,
                })
                .await;
        }
        let pop_id = match msg.as_mut() {
            ServerMsg::Pop {
                call_state,
                call_ended,
                pop_id,
                ..
            } => {
                *call_state = state;
                *call_ended = call.ended;
                pop_id.clone()
            }
            _ => return,
        };
        hub.pop(&call.agent_id, &pop_id, id.as_str(), at, *msg)
            .await;
        return;
    }
    if call.popped || call.ring_pop.is_some() {
        return;
    }
    if !filters_allow(writer, id, call, plan.filters()).await {
        stats.pops_filtered += 1;
        call.popped = true;
        call.customer = CustomerLookup::Used;
        if state == PopCallState::Answered {
            writer
                .submit(Write::Answer {
                    call_id: id.to_string(),
                    at_ms: now_ms(),
                    pop: None,
                })
                .await;
        }
        return;
    }
    let resend = call.unacked_pop.take();
    let pop_id = resend
        .clone()
        .unwrap_or_else(|| uuid::Uuid::new_v4().to_string());
    // What was made ready goes into the pop as it is: nothing is copied or
    // rendered on the answer-to-pop path (only a pop whose lookup never
    // finished is made here).
    let look = plan.look();
    let msg = match std::mem::replace(&mut call.customer, CustomerLookup::Used) {
        CustomerLookup::Ready(p) => pop_message(
            &pop_id,
            id.as_str(),
            &call.task,
            *p,
            call.ended,
            look.trigger,
            state,
        ),
        _ => build_pop(
            &pop_id,
            id.as_str(),
            &call.task,
            None,
            call.ended,
            look,
            state,
        ),
    };
    let (degraded, template, shown) = match &msg {
        ServerMsg::Pop {
            degraded, screen, ..
        } => (*degraded, screen.template.clone(), screen.fields_shown()),
        _ => (false, String::new(), Vec::new()),
    };
    if degraded {
        stats.pops_degraded += 1;
    }
    let at_ms = now_ms();
    let rec = NewPop {
        pop_id: pop_id.clone(),
        call_id: id.to_string(),
        agent_id: call.agent_id.clone(),
        customer_id: call.task.customer_id.clone(),
        sent_ms: at_ms,
        degraded,
        template,
        shown,
        trigger: look.trigger,
    };
    tracing::debug!(pop = %pop_id, degraded, state = ?state, after_answer_ms = at.elapsed().as_secs_f64() * 1e3, "pop sent");
    if state == PopCallState::Answered {
        call.popped = true;
        writer
            .submit(Write::Answer {
                call_id: id.to_string(),
                at_ms,
                pop: Some(rec),
            })
            .await;
        hub.pop(&call.agent_id, &pop_id, id.as_str(), at, msg).await;
    } else {
        writer.submit(Write::Pop(rec)).await;
        call.ring_pop = Some(Box::new(msg.clone()));
        hub.pop(&call.agent_id, &pop_id, id.as_str(), at, msg).await;
    }
}

/// Tells the agent's pages where the call stands.
pub(super) async fn tell_call(
    hub: &AgentHub,
    agent_id: &str,
    id: &CallId,
    state: &str,
    cause: Option<String>,
) {
    hub.send(
        agent_id,
        ServerMsg::Call {
            call_id: id.to_string(),
            state: state.into(),
            cause,
        },
    )
    .await;
}
