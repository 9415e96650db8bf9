//! What a call's end means for its task: pure functions of the end, the
//! task and the campaign's rules.

use crate::campaign::RetryPolicy;
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
    /// Answered with no agent free to take it (the predictive modes).
    Abandoned,
    /// An answering machine picked up.
    Machine,
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
            Outcome::Abandoned => "abandoned",
            Outcome::Machine => "machine",
        }
    }
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

/// An abandoned call's task: a callback once the number's lockout is over
/// (or failed, if its rule says no more attempts).
pub fn after_abandon(next: TaskNext, now_ms: i64, lockout_ms: i64) -> TaskNext {
    match next {
        TaskNext::RetryAt(at) => TaskNext::Callback {
            at_ms: at.max(now_ms.saturating_add(lockout_ms)),
            agent: None,
        },
        other => other,
    }
}

/// What becomes of the task: the campaign's rule for the outcome decides
/// whether it is tried again and after how long (its delay grown by the
/// back-off for each attempt made). A call the switch never placed is due
/// again at once (the switch's own back-off decides when it is dialed).
pub fn next_step(task: &Task, outcome: Outcome, retry: &RetryPolicy, now_ms: i64) -> TaskNext {
    match outcome {
        Outcome::Answered => TaskNext::Done,
        Outcome::NotPlaced => TaskNext::Requeue(now_ms),
        o => match retry.rule(o) {
            Some(rule) if task.attempts < rule.max_attempts => {
                TaskNext::RetryAt(now_ms.saturating_add(rule.delay_ms(task.attempts)))
            }
            _ => TaskNext::Failed,
        },
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
            status: crate::store::TaskStatus::Dialing,
            attempts,
            ..Task::default()
        }
    }

    fn rules() -> RetryPolicy {
        let mut r = crate::campaign::CampaignSettings::with_retries(2, 1.0).retry;
        r.no_answer.backoff = 3.0;
        r.no_answer.max_attempts = 4;
        r
    }

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
        let r = rules();
        assert_eq!(
            next_step(&task(1), Outcome::Answered, &r, 0),
            TaskNext::Done
        );
        assert_eq!(
            next_step(&task(1), Outcome::Busy, &r, 5),
            TaskNext::RetryAt(1005)
        );
        assert_eq!(next_step(&task(2), Outcome::Busy, &r, 5), TaskNext::Failed);
        // The default for a customer-side failure: no second attempt.
        assert_eq!(
            next_step(&task(1), Outcome::Failed, &r, 5),
            TaskNext::Failed
        );
        // Each outcome has its own rule: no answer backs off 1 s, 3 s, 9 s.
        assert_eq!(
            next_step(&task(1), Outcome::NoAnswer, &r, 0),
            TaskNext::RetryAt(1000)
        );
        assert_eq!(
            next_step(&task(2), Outcome::NoAnswer, &r, 0),
            TaskNext::RetryAt(3000)
        );
        assert_eq!(
            next_step(&task(3), Outcome::NoAnswer, &r, 0),
            TaskNext::RetryAt(9000)
        );
        assert_eq!(
            next_step(&task(4), Outcome::NoAnswer, &r, 0),
            TaskNext::Failed
        );
        assert_eq!(
            next_step(&task(1), Outcome::Machine, &r, 0),
            TaskNext::RetryAt(3_600_000)
        );
        // Never consumes an attempt, however many were made.
        assert_eq!(
            next_step(&task(9), Outcome::NotPlaced, &r, 5),
            TaskNext::Requeue(5)
        );
    }
}
