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
    /// The channels the switch has now, each with the state it is in.
    fn live_calls(&self) -> BoxFuture<'_, Result<Vec<LiveCall>, SwitchError>>;
    /// Leaves the switch politely (exit / Logoff) and stops reconnecting.
    fn shutdown(&self) -> BoxFuture<'_, ()>;
}
