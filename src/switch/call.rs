//! The protocol-neutral call model: what dialpop asks a switch to do and what
//! it hears back. ESL and AMI drivers both speak in these values.

use super::cause::HangupCause;
use serde::Serialize;
use std::fmt;
use std::time::Duration;

/// The id dialpop chose for a call before anything went to the switch. It is
/// FreeSWITCH's `origination_uuid` and Asterisk's `ChannelId`, so every
/// event of the call's first leg carries it.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(transparent)]
pub struct CallId(pub String);

impl CallId {
    pub fn new_random() -> CallId {
        CallId(uuid::Uuid::new_v4().to_string())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for CallId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl From<&str> for CallId {
    fn from(s: &str) -> Self {
        CallId(s.to_string())
    }
}

/// What the switch does with the customer's leg once it answers.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AnswerAction {
    /// Park it; dialpop connects it later.
    Park,
    /// Bridge it straight to this dial string (the agent's extension).
    Bridge { dial_string: String },
    /// Hand it to a dialplan extension (see `dialplan/`).
    Dialplan { extension: String, context: String },
}

/// A request to place one outbound call.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OriginateRequest {
    pub call_id: CallId,
    /// The switch's dial string for the customer, already filled in.
    pub destination: String,
    pub caller_id_number: Option<String>,
    pub caller_id_name: Option<String>,
    pub timeout: Duration,
    /// Channel variables (task, campaign, customer and agent ids, ...).
    pub variables: Vec<(String, String)>,
    pub on_answer: AnswerAction,
}

/// What happened to a call, in the switch's words turned into ours.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum CallEventKind {
    /// The switch created the channel.
    Originated,
    /// The far end is ringing (SIP 180).
    Ringing,
    /// Early media (SIP 183).
    EarlyMedia,
    Answered,
    /// Bridged to another leg (the agent's).
    Bridged {
        other_leg: Option<String>,
    },
    HungUp {
        cause: HangupCause,
    },
    /// The originate itself failed; no call was established.
    OriginateFailed {
        cause: HangupCause,
    },
    /// The switch's answering-machine detection gave its verdict (the
    /// holding extension runs it: `dialplan/`).
    Detected {
        verdict: AmdVerdict,
    },
}

/// What the switch's answering-machine detection heard: Asterisk's
/// AMDSTATUS and mod_amd's `amd_result` use the same words.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum AmdVerdict {
    Human,
    Machine,
    /// Neither (Asterisk's NOTSURE; HANGUP too: the caller left during it).
    NotSure,
}

impl AmdVerdict {
    /// The verdict in the switch's words; anything unknown is not sure.
    pub fn from_name(name: &str) -> AmdVerdict {
        match name.trim().to_ascii_uppercase().as_str() {
            "HUMAN" | "PERSON" => AmdVerdict::Human,
            "MACHINE" => AmdVerdict::Machine,
            _ => AmdVerdict::NotSure,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            AmdVerdict::Human => "human",
            AmdVerdict::Machine => "machine",
            AmdVerdict::NotSure => "not_sure",
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct CallEvent {
    pub call_id: CallId,
    /// The switch's own timestamp of the event, in microseconds since the
    /// Unix epoch, when the event carries one.
    pub switch_time_us: Option<i64>,
    #[serde(flatten)]
    pub kind: CallEventKind,
}

impl CallEvent {
    /// Whether this event ends the call (no further events are expected).
    pub fn is_final(&self) -> bool {
        matches!(
            self.kind,
            CallEventKind::HungUp { .. } | CallEventKind::OriginateFailed { .. }
        )
    }
}
