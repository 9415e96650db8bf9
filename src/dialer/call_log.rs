//! The log of a call: each step the dialer takes for a call runs inside a
//! `call` span carrying its call, task, agent and campaign ids, so every
//! line about the call (the dialer's own, the sources', the switch
//! driver's) names them; a JSON log has them as fields. The number only
//! when customer data was allowed in the log (`crate::redact`).

use super::live_call::LiveCall;
use crate::store::Task;
use crate::switch::CallId;

/// Made once per call, when it is placed (or recovered): the subscriber
/// formats the fields when a span is made, so a span per step would format
/// them at every event of every call.
pub fn live_span(id: &CallId, task: &Task, agent_id: &str) -> tracing::Span {
    tracing::info_span!(
        "call",
        call = %id,
        task = task.id,
        agent = %agent_id,
        campaign = %task.campaign_id
    )
}

/// The span of a step for call `id`: the live call's own, or one naming
/// only the call for an event about a call no longer (or never) live.
pub fn span(id: &CallId, call: Option<&LiveCall>) -> tracing::Span {
    match call {
        Some(c) => c.span.clone(),
        None => tracing::info_span!("call", call = %id),
    }
}
