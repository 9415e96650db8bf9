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
    Paused,
}

impl AgentStateName {
    /// The name on the wire (the page's, the API's, the reports').
    pub fn as_str(self) -> &'static str {
        match self {
            AgentStateName::LoggedOut => "logged_out",
            AgentStateName::Available => "available",
            AgentStateName::Reserved => "reserved",
            AgentStateName::OnCall => "on_call",
            AgentStateName::WrapUp => "wrap_up",
            AgentStateName::Paused => "paused",
        }
    }
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
        /// The version of this protocol (`PROTOCOL`): a page written for
        /// another one says so instead of drawing what it cannot read.
        protocol: u32,
        agent: AgentInfo,
        state: AgentStateName,
        /// The language the agent's pops are written in.
        locale: crate::popup::format::Locale,
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
        /// Paused: the reason code.
        #[serde(skip_serializing_if = "Option::is_none", default)]
        reason: Option<String>,
        /// Wrap-up: the codes the call may be closed with.
        #[serde(skip_serializing_if = "Option::is_none", default)]
        disposition: Option<DispositionForm>,
    },
    /// The pop just sent is a preview: the page offers to dial or skip,
    /// and counts down to the call going by itself if given.
    Preview {
        call_id: String,
        #[serde(skip_serializing_if = "Option::is_none", default)]
        auto_dial_seconds: Option<f64>,
    },
    /// A disposition was written (and its task settled by it).
    Disposed {
        call_id: String,
        code: String,
    },
    Pop {
        pop_id: String,
        call_id: String,
        campaign_id: String,
        task_id: i64,
        trigger: crate::campaign::settings::PopTrigger,
        /// Where the call stands as this version of the pop goes out: a
        /// ringing pop is sent again, in place, at the answer (or as not
        /// connected).
        call_state: PopCallState,
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
        /// What the page draws: the template filled with the record.
        screen: crate::popup::render::Screen,
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
    /// More rows of a pop's history table, filled like its first page.
    HistoryPage {
        pop_id: String,
        source: String,
        rows: Vec<Vec<String>>,
        #[serde(skip_serializing_if = "Option::is_none", default)]
        next_offset: Option<u64>,
        #[serde(skip_serializing_if = "Option::is_none", default)]
        next_cursor: Option<String>,
        #[serde(skip_serializing_if = "Option::is_none", default)]
        total: Option<u64>,
        #[serde(skip_serializing_if = "Option::is_none", default)]
        error: Option<String>,
    },
}

/// The version of the page protocol. 2: pops carry a rendered `screen`
/// and a `call_state`; hello carries `protocol` and `locale`.
pub const PROTOCOL: u32 = 2;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PopCallState {
    /// Preview: not dialed yet; the agent dials or skips.
    Preview,
    Ringing,
    Answered,
    /// The call ended before it was answered: a ringing pop is closed.
    NotConnected,
}

/// What the page needs to show the disposition form at wrap-up.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DispositionForm {
    pub call_id: String,
    pub codes: Vec<crate::campaign::disposition::DispositionCode>,
    /// The wrap-up does not end without one.
    pub required: bool,
}

/// Page → server.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ClientMsg {
    Auth {
        token: String,
        /// The browser's language (`navigator.language`): the page's, when
        /// the agent has none set.
        #[serde(default)]
        locale: Option<String>,
    },
    Ack {
        pop_id: String,
    },
    /// Wrap-up finished early.
    Ready,
    Pause {
        reason: String,
    },
    Resume,
    /// The next page of a pop's history table.
    HistoryPage {
        pop_id: String,
        source: String,
        #[serde(default)]
        offset: Option<u64>,
        #[serde(default)]
        cursor: Option<String>,
    },
    /// Preview: place the call now.
    PreviewDial {
        call_id: String,
    },
    /// Preview: do not call this customer now, for this reason code.
    PreviewSkip {
        call_id: String,
        reason: String,
    },
    /// The call's outcome, at wrap-up.
    Disposition {
        call_id: String,
        code: String,
        #[serde(default)]
        notes: Option<String>,
        /// For a callback: when (ms since the epoch).
        #[serde(default)]
        callback_at_ms: Option<i64>,
        /// For a callback: for this agent (else for the pool).
        #[serde(default)]
        callback_mine: bool,
    },
}

/// What an agent asks of the dialer, from its page or through the API.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AgentRequest {
    Ready,
    Pause(String),
    Resume,
    Disposition {
        call_id: String,
        given: crate::campaign::disposition::Given,
    },
    PreviewDial(String),
    PreviewSkip {
        call_id: String,
        reason: String,
    },
}
