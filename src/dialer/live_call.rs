//! What the dialer knows about one call it placed.

use crate::customer::Lookup;
use crate::store::Task;
use std::time::Instant;

/// Where the call's customer lookup stands.
pub enum CustomerLookup {
    NotStarted,
    /// Under way (the preload, or one started at answer).
    Resolving,
    /// Every source answered (or failed), the pop made ready; taken by
    /// the pop.
    Ready(Box<crate::popup::Prepared>),
    /// The pop went out with it.
    Used,
}

/// Where a call placed with no agent (power, predictive) stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Unbound {
    /// Not such a call: placed for its agent.
    No,
    /// Dialed, not answered yet.
    Placed,
    /// Answered, in the holding extension, for the machine verdict.
    Verdict,
    /// A person (or a machine passed on) waiting for an agent.
    Waiting,
    /// Connected to `agent_id`.
    Connected,
    /// Sent to the message with no agent: abandoned.
    Abandoned,
    /// A machine, hung up or left a message.
    Machine,
}

/// The business side of one live call.
pub struct LiveCall {
    /// Index of the switch it is on.
    pub switch: usize,
    pub task: Task,
    pub agent_id: String,
    pub lookup: Lookup,
    pub customer: CustomerLookup,
    /// When the answer was read off the switch, while the pop waits for the
    /// preload to finish.
    pub answer_waiting: Option<Instant>,
    pub answered: bool,
    pub popped: bool,
    /// A pop recorded by a previous run but never acknowledged: sent again
    /// under the same id (the page shows a pop id once).
    pub unacked_pop: Option<String>,
    /// The call is over; only its pop is still owed (the lookup is late).
    pub ended: bool,
    /// The pop sent while the phone rang, sent again in place at the answer
    /// (or as not connected).
    pub ring_pop: Option<Box<crate::popup::messages::ServerMsg>>,
    /// The campaign pops at ringing, and the record was not there yet.
    pub ring_waiting: bool,
    /// Every step taken for the call runs in it (`call_log`).
    pub span: tracing::Span,
    pub unbound: Unbound,
    pub placed_at: Instant,
    /// The answer, and since when it has waited (for an agent, after the
    /// verdict), of a call placed with no agent.
    pub answered_at: Option<Instant>,
    pub waiting_since: Option<Instant>,
    /// Preview: the originate, held until the agent dials.
    pub preview: Option<Box<crate::switch::OriginateRequest>>,
}

impl LiveCall {
    pub fn new(
        id: &crate::switch::CallId,
        switch: usize,
        task: Task,
        agent_id: String,
        lookup: Lookup,
    ) -> LiveCall {
        LiveCall {
            span: super::call_log::live_span(id, &task, &agent_id),
            switch,
            task,
            agent_id,
            lookup,
            customer: CustomerLookup::NotStarted,
            answer_waiting: None,
            answered: false,
            popped: false,
            unacked_pop: None,
            ended: false,
            ring_pop: None,
            ring_waiting: false,
            unbound: Unbound::No,
            placed_at: Instant::now(),
            answered_at: None,
            waiting_since: None,
            preview: None,
        }
    }
}
