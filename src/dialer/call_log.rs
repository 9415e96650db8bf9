//! The log of a call: each step the dialer takes for a call runs inside a
//! `call` span carrying its call, task, agent and campaign ids, so every
//! line about the call (the dialer's own, the sources', the switch
//! driver's) names them; a JSON log has them as fields. The number only
//! when customer data was allowed in the log (`crate::redact`).

use super::live_call::LiveCall;
use crate::switch::CallId;

pub fn span(id: &CallId, call: Option<&LiveCall>) -> tracing::Span {
    match call {
        Some(c) => tracing::info_span!(
            "call",
            call = %id,
            task = c.task.id,
            agent = %c.agent_id,
            campaign = %c.task.campaign_id
        ),
        None => tracing::info_span!("call", call = %id),
    }
}
