//! What an agent sees: the pop's content, and its delivery to the agent's
//! open pages with acknowledgement.

pub mod format;
pub mod hub;
pub mod messages;
mod pop_stats;
pub mod render;
pub mod template;

use crate::campaign::settings::PopTrigger;
use crate::customer::CustomerView;
use crate::store::Task;
use format::Locale;
use messages::{PopCallState, ServerMsg};
use template::Templates;

/// How a pop is drawn for its agent.
#[derive(Clone, Copy, Debug)]
pub struct Look<'a> {
    pub templates: &'a Templates,
    pub level: Option<&'a str>,
    pub locale: Locale,
    pub trigger: PopTrigger,
}

/// A pop's content, made ready as soon as the record is there (while the
/// phone rings, when the record is preloaded) and off the dialer's loop:
/// the record as dialpop's fields, the reasons it is degraded, and the
/// template filled. The answer then only wraps it in a message.
#[derive(Clone, Debug)]
pub struct Prepared {
    pub customer: serde_json::Map<String, serde_json::Value>,
    pub sources: serde_json::Map<String, serde_json::Value>,
    pub history: Vec<crate::customer::HistoryBlock>,
    pub reasons: Vec<String>,
    /// Some source knew the customer.
    pub found: bool,
    pub screen: render::Screen,
}

/// From the customer view (or, when nothing could be had, from the task's
/// own keys), marked degraded with the reasons when a source failed or none
/// knew the customer.
pub fn prepare(task: &Task, view: Option<CustomerView>, look: Look<'_>) -> Prepared {
    let mut reasons: Vec<String> = Vec::new();
    let (mut customer, sources, history, found) = match view {
        None => {
            reasons.push("the customer lookup did not finish".into());
            Default::default()
        }
        Some(v) => {
            reasons.extend(v.failures.iter().map(|f| f.to_string()));
            if !v.found && v.failures.is_empty() {
                reasons.push(format!(
                    "customer {} was not found in any source",
                    task.customer_id
                ));
            }
            (v.fields, v.sources, v.history, v.found)
        }
    };
    // The task's own keys fill what no source gave.
    if !customer.contains_key("id") {
        customer.insert("id".into(), task.customer_id.clone().into());
    }
    if !customer.contains_key("phone") {
        customer.insert("phone".into(), task.phone.clone().into());
    }
    let screen = match look.templates.pick(look.level) {
        Ok(t) => render::render(t, &customer, &history, look.level, look.locale),
        Err(reason) => {
            tracing::warn!(campaign = %task.campaign_id, %reason, "pop template unusable; the plain field list is shown");
            render::fallback(&customer, &history, look.locale, reason.to_string())
        }
    };
    Prepared {
        customer,
        sources,
        history,
        reasons,
        found,
        screen,
    }
}

/// The pop message for a call. `call_ended`: the call was over before the
/// pop could go out.
pub fn pop_message(
    pop_id: &str,
    call_id: &str,
    task: &Task,
    p: Prepared,
    call_ended: bool,
    trigger: PopTrigger,
    call_state: PopCallState,
) -> ServerMsg {
    ServerMsg::Pop {
        pop_id: pop_id.to_string(),
        call_id: call_id.to_string(),
        campaign_id: task.campaign_id.clone(),
        task_id: task.id,
        trigger,
        call_state,
        degraded: !p.reasons.is_empty(),
        customer: p.customer,
        sources: p.sources,
        history: p.history,
        reasons: p.reasons,
        call_ended,
        screen: p.screen,
    }
}

/// `prepare` and `pop_message` at once.
pub fn build_pop(
    pop_id: &str,
    call_id: &str,
    task: &Task,
    view: Option<CustomerView>,
    call_ended: bool,
    look: Look<'_>,
    call_state: PopCallState,
) -> ServerMsg {
    let p = prepare(task, view, look);
    pop_message(
        pop_id,
        call_id,
        task,
        p,
        call_ended,
        look.trigger,
        call_state,
    )
}
