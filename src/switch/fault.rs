//! Whose fault an originate's end was: the customer's line (busy, no answer,
//! rejected, a number that does not exist, a congested network) or the
//! switch itself (not connected, shutting down, out of sessions, refusing the
//! command, misconfigured). The two are handled apart: a customer-side end
//! is an attempt, judged by the campaign's retry rules; a switch-side end is
//! no attempt at all, the task waits for a healthy switch and keeps its
//! attempt count.
//!
//! Pure: text and causes in, a verdict out. The texts are the ones FreeSWITCH
//! 1.10 and Asterisk 22 send (ESL `-ERR ...` replies and BACKGROUND_JOB
//! bodies, AMI `Response: Error` messages and OriginateResponse reasons).

use super::HangupCause;
use serde::Serialize;

/// What kind of switch-side trouble stopped a call.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum FaultKind {
    /// No control connection, or it broke before the switch answered.
    LinkDown,
    /// The switch is stopping (`Asterisk is shutting down`, `SYSTEM_SHUTDOWN`,
    /// FreeSWITCH's `fsctl pause`).
    ShuttingDown,
    /// A session count, sessions-per-second or call limit was reached.
    Limit,
    /// The control user may not originate.
    Permission,
    /// The switch's configuration does not know what was asked for (gateway,
    /// profile, channel technology, dialplan context).
    Config,
    /// Any other refusal of the command itself: the switch did not try.
    Refused,
}

impl FaultKind {
    pub fn as_str(self) -> &'static str {
        match self {
            FaultKind::LinkDown => "link_down",
            FaultKind::ShuttingDown => "shutting_down",
            FaultKind::Limit => "limit",
            FaultKind::Permission => "permission",
            FaultKind::Config => "config",
            FaultKind::Refused => "refused",
        }
    }
}

/// A switch-side end: its kind and what the switch said.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SwitchFault {
    pub kind: FaultKind,
    pub detail: String,
}

impl std::fmt::Display for SwitchFault {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.kind.as_str(), self.detail)
    }
}

impl SwitchFault {
    pub fn link_down(detail: impl Into<String>) -> SwitchFault {
        SwitchFault {
            kind: FaultKind::LinkDown,
            detail: detail.into(),
        }
    }

    /// A refusal of the originate command itself (an ESL `-ERR` reply, an
    /// AMI `Response: Error`): always switch-side, since no call was tried;
    /// the text says which kind.
    pub fn from_refusal(text: &str) -> SwitchFault {
        let t = text.trim();
        let lower = t.to_ascii_lowercase();
        let has = |s: &str| lower.contains(s);
        let kind = if has("shutting down") || has("shutdown") {
            FaultKind::ShuttingDown
        } else if has("permission") || has("not allowed") || has("privilege") {
            FaultKind::Permission
        } else if has("limit")
            || has("throttle")
            || has("maximum number")
            || has("too many")
            || has("max-sessions")
        {
            FaultKind::Limit
        } else if has("invalid channel")
            || has("invalid_gateway")
            || has("invalid_profile")
            || has("chan_not_implemented")
            || has("no such")
            || has("invalid context")
            || has("invalid extension")
            || has("command not found")
        {
            FaultKind::Config
        } else {
            FaultKind::Refused
        };
        SwitchFault {
            kind,
            detail: t.to_string(),
        }
    }

    /// A cause the switch gave for an originate it did try, when it means
    /// the switch (not the customer's line) failed: `None` for a
    /// customer-side cause.
    pub fn from_cause(cause: &HangupCause) -> Option<SwitchFault> {
        use HangupCause as H;
        let kind = match cause {
            // The core refused new sessions: stopping, or paused.
            H::SystemShutdown => FaultKind::ShuttingDown,
            H::Crash => FaultKind::Refused,
            // The switch does not have what the dial string names.
            H::ChanNotImplemented | H::InvalidGateway | H::InvalidProfile | H::InvalidUrl => {
                FaultKind::Config
            }
            // The carrier link of the switch is down, not the customer.
            H::GatewayDown => FaultKind::LinkDown,
            // Asterisk's OriginateResponse Reason 0: no channel could be
            // allocated (the tech is not loaded, maxcalls reached, the
            // switch stopping): the call never left the switch.
            H::Other(s) if s == ORIGINATE_NO_CHANNEL => FaultKind::Refused,
            _ => return None,
        };
        Some(SwitchFault {
            kind,
            detail: cause.name().to_string(),
        })
    }
}

/// The cause dialpop gives an AMI OriginateResponse with Reason 0: no
/// channel was created.
pub const ORIGINATE_NO_CHANNEL: &str = "ORIGINATE_FAILED";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refusals_by_their_text() {
        for (text, kind) in [
            ("Asterisk is shutting down", FaultKind::ShuttingDown),
            ("-ERR SYSTEM_SHUTDOWN", FaultKind::ShuttingDown),
            ("Permission denied", FaultKind::Permission),
            ("Invalid channel", FaultKind::Config),
            ("-ERR originate Command not found!", FaultKind::Config),
            ("Originate failed", FaultKind::Refused),
            ("-ERR session limit reached", FaultKind::Limit),
            ("Throttle Error!", FaultKind::Limit),
        ] {
            assert_eq!(SwitchFault::from_refusal(text).kind, kind, "{text}");
        }
        assert_eq!(
            SwitchFault::from_refusal("  Asterisk is shutting down\r\n").detail,
            "Asterisk is shutting down"
        );
    }

    #[test]
    fn customer_side_causes_are_not_faults() {
        for c in [
            HangupCause::UserBusy,
            HangupCause::NoAnswer,
            HangupCause::CallRejected,
            HangupCause::UnallocatedNumber,
            HangupCause::NormalCircuitCongestion,
            HangupCause::NoUserResponse,
            HangupCause::OriginatorCancel,
            HangupCause::RecoveryOnTimerExpire,
        ] {
            assert_eq!(SwitchFault::from_cause(&c), None, "{c:?}");
        }
    }

    #[test]
    fn switch_side_causes_are_faults() {
        for (c, kind) in [
            (HangupCause::SystemShutdown, FaultKind::ShuttingDown),
            (HangupCause::InvalidGateway, FaultKind::Config),
            (HangupCause::ChanNotImplemented, FaultKind::Config),
            (HangupCause::GatewayDown, FaultKind::LinkDown),
            (
                HangupCause::Other(ORIGINATE_NO_CHANNEL.into()),
                FaultKind::Refused,
            ),
        ] {
            assert_eq!(SwitchFault::from_cause(&c).map(|f| f.kind), Some(kind));
        }
    }
}
