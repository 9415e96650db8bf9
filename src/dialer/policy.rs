//! What a call's end means for its task: pure functions of the end, the
//! task and the campaign's rules.

use crate::store::{Task, TaskNext};
use crate::switch::HangupCause;
use crate::switch::calls::{CallEnd, CallState};
use crate::switch::fault::{FaultKind, SwitchFault};

/// How an attempt ended, as the store and the reports name it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    Answered,
    Busy,
    NoAnswer,
    /// The customer's side failed (rejected, no such number, congestion).
    Failed,
    /// Gone during a reconnect, its end unknown.
    Vanished,
    /// The switch never put the call through: no attempt on the customer.
    NotPlaced,
}

impl Outcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Answered => "answered",
            Outcome::Busy => "busy",
            Outcome::NoAnswer => "no_answer",
            Outcome::Failed => "failed",
            Outcome::Vanished => "vanished",
            Outcome::NotPlaced => "not_placed",
        }
    }
}

/// A campaign's retry rules.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Rules {
    pub max_attempts: u32,
    pub retry_delay_ms: i64,
}

/// Causes that only the customer's line gives: whatever else is known about
/// the call, they are an attempt on the customer.
fn customer_only(c: &HangupCause) -> bool {
    use HangupCause as H;
    matches!(
        c,
        H::UserBusy
            | H::NoAnswer
            | H::NoUserResponse
            | H::CallRejected
            | H::UnallocatedNumber
            | H::InvalidNumberFormat
            | H::NumberChanged
            | H::OriginatorCancel
            | H::BusyEverywhere
            | H::Decline
            | H::DoesNotExistAnywhere
    )
}

/// The switch-side fault behind an end, if it was one. `from` is the state
/// the call was in when it ended: a call that ended while still `Dialing`
/// never had a channel, so the switch refused it before any customer was
/// dialed (FreeSWITCH answers every core refusal (shutdown, paused, session
/// limit, throttle) with `-ERR DESTINATION_OUT_OF_ORDER`, and Asterisk every
/// failed channel allocation with Reason 0, so the cause alone cannot tell).
pub fn switch_fault(from: &CallState, end: &CallEnd) -> Option<SwitchFault> {
    match end {
        CallEnd::NotPlaced(f) => Some(f.clone()),
        CallEnd::Vanished => None,
        CallEnd::HungUp(c) | CallEnd::Failed(c) => {
            if let Some(f) = SwitchFault::from_cause(c) {
                return Some(f);
            }
            if *from == CallState::Dialing && !customer_only(c) {
                return Some(SwitchFault {
                    kind: FaultKind::Refused,
                    detail: format!("{} before any channel was created", c.name()),
                });
            }
            None
        }
    }
}

/// The attempt's outcome.
pub fn outcome(answered: bool, from: &CallState, end: &CallEnd) -> Outcome {
    if answered {
        return Outcome::Answered;
    }
    if switch_fault(from, end).is_some() {
        return Outcome::NotPlaced;
    }
    match end {
        CallEnd::Vanished => Outcome::Vanished,
        CallEnd::NotPlaced(_) => Outcome::NotPlaced,
        CallEnd::HungUp(c) | CallEnd::Failed(c) => match c {
            HangupCause::UserBusy => Outcome::Busy,
            HangupCause::NoAnswer | HangupCause::NoUserResponse | HangupCause::OriginatorCancel => {
                Outcome::NoAnswer
            }
            _ => Outcome::Failed,
        },
    }
}

/// What becomes of the task. `requeue_at`: when a task the switch did not
/// place may be tried again (the switch's own back-off decides when it is).
pub fn next_step(task: &Task, outcome: Outcome, rules: Rules, now_ms: i64) -> TaskNext {
    let retry = |ok: bool| {
        if ok && task.attempts < rules.max_attempts {
            TaskNext::RetryAt(now_ms + rules.retry_delay_ms)
        } else {
            TaskNext::Failed
        }
    };
    match outcome {
        Outcome::Answered => TaskNext::Done,
        Outcome::NotPlaced => TaskNext::Requeue,
        // Busy and unanswered numbers are tried again, and so are calls
        // whose outcome was lost in a reconnect.
        Outcome::Busy | Outcome::NoAnswer | Outcome::Vanished => retry(true),
        Outcome::Failed => retry(false),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn task(attempts: u32) -> Task {
        Task {
            id: 1,
            campaign_id: "c".into(),
            customer_id: "k".into(),
            phone: "+15551234567".into(),
            priority: 0,
            status: "dialing".into(),
            attempts,
        }
    }

    const RULES: Rules = Rules {
        max_attempts: 2,
        retry_delay_ms: 1000,
    };

    #[test]
    fn outcomes_from_ends() {
        let rang = CallState::Ringing;
        let hung = |c| CallEnd::HungUp(c);
        assert_eq!(
            outcome(true, &rang, &hung(HangupCause::UserBusy)),
            Outcome::Answered
        );
        assert_eq!(
            outcome(false, &rang, &hung(HangupCause::UserBusy)),
            Outcome::Busy
        );
        assert_eq!(
            outcome(false, &rang, &hung(HangupCause::NoAnswer)),
            Outcome::NoAnswer
        );
        assert_eq!(
            outcome(false, &rang, &hung(HangupCause::NormalCircuitCongestion)),
            Outcome::Failed
        );
        assert_eq!(outcome(false, &rang, &CallEnd::Vanished), Outcome::Vanished);
    }

    #[test]
    fn a_refusal_before_any_channel_is_the_switch() {
        let dialing = CallState::Dialing;
        // FreeSWITCH's answer to a core that refuses sessions.
        let ooo = CallEnd::Failed(HangupCause::DestinationOutOfOrder);
        assert_eq!(outcome(false, &dialing, &ooo), Outcome::NotPlaced);
        // The same cause after the channel existed is the far end's.
        assert_eq!(
            outcome(false, &CallState::Originated, &ooo),
            Outcome::Failed
        );
        // A busy is the customer's whenever it comes.
        let busy = CallEnd::Failed(HangupCause::UserBusy);
        assert_eq!(outcome(false, &dialing, &busy), Outcome::Busy);
        // Shutting down hangs calls up with SYSTEM_SHUTDOWN: not the customer.
        let down = CallEnd::HungUp(HangupCause::SystemShutdown);
        assert_eq!(
            outcome(false, &CallState::Ringing, &down),
            Outcome::NotPlaced
        );
        let refused = CallEnd::NotPlaced(SwitchFault::from_refusal("Asterisk is shutting down"));
        assert_eq!(
            switch_fault(&dialing, &refused).map(|f| f.kind),
            Some(FaultKind::ShuttingDown)
        );
    }

    #[test]
    fn next_steps_follow_the_rules() {
        assert_eq!(
            next_step(&task(1), Outcome::Answered, RULES, 0),
            TaskNext::Done
        );
        assert_eq!(
            next_step(&task(1), Outcome::Busy, RULES, 5),
            TaskNext::RetryAt(1005)
        );
        assert_eq!(
            next_step(&task(2), Outcome::Busy, RULES, 5),
            TaskNext::Failed
        );
        assert_eq!(
            next_step(&task(1), Outcome::Failed, RULES, 5),
            TaskNext::Failed
        );
        // Never consumes an attempt, however many were made.
        assert_eq!(
            next_step(&task(2), Outcome::NotPlaced, RULES, 5),
            TaskNext::Requeue
        );
    }
}
