//! Whether a switch may be dialed on, after it refused calls: pure, driven
//! by the dialer with the clock passed in.
//!
//! A switch-side refusal stops dialing on the switch for a back-off that
//! doubles with each refusal in a row (1 s up to 30 s); when it is over, one
//! call goes as a trial, and only when that call gets somewhere (a channel,
//! or a customer-side end) is the switch healthy again. A switch that
//! refuses everything costs one originate per interval, not the queue.

use crate::switch::fault::{FaultKind, SwitchFault};
use std::time::{Duration, Instant};

pub const FIRST_BACKOFF: Duration = Duration::from_secs(1);
pub const MAX_BACKOFF: Duration = Duration::from_secs(30);

#[derive(Clone, Debug, PartialEq, Eq)]
enum State {
    Healthy,
    /// Refusing: no call before `until`.
    Resting {
        until: Instant,
    },
    /// One call is out to try it.
    Trial,
}

#[derive(Clone, Debug)]
pub struct Health {
    state: State,
    backoff: Duration,
    last: Option<SwitchFault>,
}

/// How many calls the switch may take now, health permitting.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Allowance {
    Any,
    /// One trial call.
    One,
    None,
}

impl Default for Health {
    fn default() -> Self {
        Health {
            state: State::Healthy,
            backoff: FIRST_BACKOFF,
            last: None,
        }
    }
}

impl Health {
    pub fn allowance(&self, now: Instant) -> Allowance {
        match self.state {
            State::Healthy => Allowance::Any,
            State::Resting { until } if now >= until => Allowance::One,
            State::Resting { .. } | State::Trial => Allowance::None,
        }
    }

    /// A call was placed on the switch.
    pub fn placed(&mut self, now: Instant) {
        if self.allowance(now) == Allowance::One {
            self.state = State::Trial;
        }
    }

    /// The switch refused a call.
    pub fn refused(&mut self, now: Instant, fault: SwitchFault) {
        // Several refusals of calls sent together count as one.
        if !matches!(self.state, State::Resting { until } if until > now) {
            let wait = if self.state == State::Healthy {
                FIRST_BACKOFF
            } else {
                (self.backoff * 2).min(MAX_BACKOFF)
            };
            self.backoff = wait;
            self.state = State::Resting { until: now + wait };
        }
        self.last = Some(fault);
    }

    /// A call on the switch got somewhere: it works.
    pub fn worked(&mut self) {
        self.state = State::Healthy;
        self.backoff = FIRST_BACKOFF;
        self.last = None;
    }

    /// The link came back: a link fault is over (others are not).
    pub fn reconnected(&mut self) {
        if self
            .last
            .as_ref()
            .is_some_and(|f| f.kind == FaultKind::LinkDown)
        {
            self.worked();
        }
    }

    /// A trial call that ended without telling anything (the dialer gave
    /// it back): the next one may go.
    pub fn trial_void(&mut self, now: Instant) {
        if self.state == State::Trial {
            self.state = State::Resting { until: now };
        }
    }

    pub fn healthy(&self) -> bool {
        self.state == State::Healthy
    }

    pub fn last_fault(&self) -> Option<&SwitchFault> {
        self.last.as_ref()
    }

    /// When the switch may take a trial, while it rests.
    pub fn resting_until(&self) -> Option<Instant> {
        match self.state {
            State::Resting { until } => Some(until),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fault() -> SwitchFault {
        SwitchFault::from_refusal("Asterisk is shutting down")
    }

    #[test]
    fn refusals_back_off_and_one_trial_goes_at_a_time() {
        let t0 = Instant::now();
        let mut h = Health::default();
        assert_eq!(h.allowance(t0), Allowance::Any);
        h.refused(t0, fault());
        // Seventeen refusals of calls already under way: still one rest.
        for _ in 0..16 {
            h.refused(t0, fault());
        }
        assert_eq!(h.allowance(t0), Allowance::None);
        let t1 = t0 + FIRST_BACKOFF;
        assert_eq!(h.allowance(t1), Allowance::One);
        h.placed(t1);
        assert_eq!(h.allowance(t1), Allowance::None, "one trial at a time");
        h.refused(t1, fault());
        assert_eq!(h.allowance(t1 + FIRST_BACKOFF), Allowance::None, "doubled");
        let t2 = t1 + FIRST_BACKOFF * 2;
        assert_eq!(h.allowance(t2), Allowance::One);
        h.placed(t2);
        h.worked();
        assert_eq!(h.allowance(t2), Allowance::Any);
        assert!(h.last_fault().is_none());
    }

    #[test]
    fn the_back_off_stops_growing() {
        let mut t = Instant::now();
        let mut h = Health::default();
        for _ in 0..20 {
            h.refused(t, fault());
            t = h.resting_until().unwrap_or(t);
            h.placed(t);
        }
        h.refused(t, fault());
        assert_eq!(h.resting_until(), Some(t + MAX_BACKOFF));
    }

    #[test]
    fn only_a_link_fault_ends_with_the_reconnect() {
        let t = Instant::now();
        let mut h = Health::default();
        h.refused(t, SwitchFault::link_down("not connected"));
        h.reconnected();
        assert!(h.healthy());
        h.refused(t, fault());
        h.reconnected();
        assert!(!h.healthy());
    }
}
