//! The small typed interface between the call manager and a switch driver
//! (ESL today, AMI next). Drivers are the only places that know a wire format.

use super::{CallEvent, CallEventKind, CallId, HangupCause, OriginateRequest};
use std::future::Future;
use std::pin::Pin;

pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum SwitchError {
    #[error("the switch is not connected")]
    NotConnected,
    #[error("connection to the switch lost: {0}")]
    ConnectionLost(String),
    #[error("the switch refused: {0}")]
    Rejected(String),
    #[error("refused before sending: {0}")]
    Invalid(String),
    #[error("the switch driver has stopped: {0}")]
    Stopped(String),
}

/// What a driver reports, in the order the switch said it.
#[derive(Clone, Debug)]
pub enum DriverNotice {
    /// A call event and when the driver took it off the socket (the start
    /// of the answer-to-pop latency).
    Call {
        event: CallEvent,
        received: std::time::Instant,
    },
    /// Connected and subscribed; after a reconnect, call state must be
    /// rebuilt before dialing again.
    Connected {
        reconnect: bool,
    },
    Disconnected {
        reason: String,
    },
    /// The driver gave up (wrong password, ACL, refused subscription).
    Fatal(String),
}

/// A channel the switch reports as live, and how far it has got: events
/// missed during a disconnect (an answer, say) are recovered from this.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LiveCall {
    pub id: String,
    /// `Originated`, `Ringing`, `EarlyMedia` or `Answered`.
    pub state: CallEventKind,
}

/// A live call sent on to a dialplan extension, its variables set first.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Transfer {
    pub call_id: CallId,
    /// Set on the channel before the transfer, in order.
    pub variables: Vec<(String, String)>,
    pub extension: String,
    pub context: String,
}

impl Transfer {
    /// Refuses anything that could do more than set a value or name an
    /// extension: white space or line breaks (another argument, another
    /// command), `$` (FreeSWITCH expands `${api(args)}` in the dialplan,
    /// which runs an API command), quotes and list separators. Both drivers
    /// check with this before a byte is sent.
    pub fn validate(&self) -> Result<(), SwitchError> {
        let word = |b: u8| b.is_ascii_alphanumeric() || b == b'_' || b == b'-';
        let bad = |what: &str, v: &str, problem: &str| {
            SwitchError::Invalid(format!(
                "transfer of {}: {what} {v:?} {problem}",
                self.call_id
            ))
        };
        for (what, v) in [("extension", &self.extension), ("context", &self.context)] {
            if v.is_empty() || !v.bytes().all(word) {
                return Err(bad(what, v, "must be letters, digits, _ and -"));
            }
        }
        if !self.call_id.as_str().bytes().all(word) || self.call_id.as_str().is_empty() {
            return Err(bad(
                "call id",
                self.call_id.as_str(),
                "must be letters, digits, _ and -",
            ));
        }
        for (k, v) in &self.variables {
            if k.is_empty() || !k.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') {
                return Err(bad("variable name", k, "must be letters, digits and _"));
            }
            if v.is_empty() {
                return Err(bad(&format!("variable {k}"), v, "is empty"));
            }
            if let Some(c) = v.chars().find(|c| {
                c.is_whitespace()
                    || c.is_control()
                    || matches!(c, '$' | ',' | '\'' | '"' | '\\' | ';' | '{' | '}')
            }) {
                return Err(bad(&format!("variable {k}"), v, &format!("contains {c:?}")));
            }
        }
        Ok(())
    }
}

/// Commands a driver carries out on its switch.
pub trait SwitchControl: Send + Sync + 'static {
    /// Sends the originate; returns once the switch has accepted it. The
    /// call's progress arrives as `DriverNotice::Call`.
    fn originate<'a>(&'a self, req: &'a OriginateRequest)
    -> BoxFuture<'a, Result<(), SwitchError>>;
    fn hangup<'a>(
        &'a self,
        call: &'a CallId,
        cause: &'a HangupCause,
    ) -> BoxFuture<'a, Result<(), SwitchError>>;
    /// Sets the variables, then sends the call to the extension.
    fn transfer<'a>(&'a self, t: &'a Transfer) -> BoxFuture<'a, Result<(), SwitchError>>;
    /// The channels the switch has now, each with the state it is in.
    fn live_calls(&self) -> BoxFuture<'_, Result<Vec<LiveCall>, SwitchError>>;
    /// Leaves the switch politely (exit / Logoff) and stops reconnecting.
    fn shutdown(&self) -> BoxFuture<'_, ()>;
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(vars: &[(&str, &str)], ext: &str) -> Transfer {
        Transfer {
            call_id: CallId::from("5f0e2c1a-0000-4000-8000-000000000001"),
            variables: vars
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            extension: ext.into(),
            context: "dialpop".into(),
        }
    }

    #[test]
    fn transfers_carry_values_and_names_only() {
        assert!(
            t(&[("dialpop_agent_dial", "user/8001")], "dialpop_connect")
                .validate()
                .is_ok()
        );
        assert!(
            t(&[("f", "ivr/ivr-sorry.wav")], "dialpop_abandon")
                .validate()
                .is_ok()
        );
        for (vars, ext) in [
            (&[("x", "user/8001 both")][..], "dialpop_connect"),
            (&[("x", "${system(id)}")][..], "dialpop_connect"),
            (&[("x", "a\nsendmsg")][..], "dialpop_connect"),
            (&[("x", "a,b")][..], "dialpop_connect"),
            (&[("x y", "a")][..], "dialpop_connect"),
            (&[("x", "")][..], "dialpop_connect"),
            (&[][..], "dialpop_connect XML evil"),
            (&[][..], ""),
        ] {
            let e = t(vars, ext).validate().expect_err("refused");
            assert!(e.to_string().contains("transfer of 5f0e2c1a"), "{e}");
        }
    }
}
