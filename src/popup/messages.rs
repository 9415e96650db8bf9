//! The agent page's WebSocket protocol, as typed messages.

use serde::{Deserialize, Serialize};

/// The agent's state as its page shows it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AgentStateName {
    LoggedOut,
    Available,
    Reserved,
    OnCall,
    WrapUp,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AgentInfo {
    pub id: String,
    pub name: String,
    pub extension: String,
}

/// Server → page. (A pop is much larger than the other messages; each is
/// built once and serialized at once, so it is not boxed.)
#[allow(clippy::large_enum_variant)]
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ServerMsg {
    Hello {
        agent: AgentInfo,
        state: AgentStateName,
    },
    Error {
        error: String,
    },
    State {
        state: AgentStateName,
        #[serde(skip_serializing_if = "Option::is_none", default)]
        call_id: Option<String>,
        #[serde(skip_serializing_if = "Option::is_none", default)]
        wrap_up_seconds: Option<f64>,
    },
    Pop {
        pop_id: String,
        call_id: String,
        campaign_id: String,
        task_id: i64,
        trigger: String,
        customer: serde_json::Map<String, serde_json::Value>,
        /// Per customer field, the source it came from.
        #[serde(default, skip_serializing_if = "serde_json::Map::is_empty")]
        sources: serde_json::Map<String, serde_json::Value>,
        /// The first page of each history source.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        history: Vec<crate::customer::HistoryBlock>,
        degraded: bool,
        reasons: Vec<String>,
        /// The call was over before its record could be shown (it ended
        /// while the lookup was under way): shown for the record, not for
        /// a conversation.
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        call_ended: bool,
    },
    Call {
        call_id: String,
        state: String,
        #[serde(skip_serializing_if = "Option::is_none", default)]
        cause: Option<String>,
    },
    /// The server is stopping (a restart or an upgrade): the page keeps
    /// what it shows and reconnects.
    Restarting,
}

/// Page → server.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ClientMsg {
    Auth {
        token: String,
    },
    Ack {
        pop_id: String,
    },
    /// Wrap-up finished early.
    Ready,
}
