//! When a failure rate is an alert: above the threshold with enough
//! outcomes in the window to mean something, it fires once; at or below
//! the threshold (an empty window included: nothing is failing) it
//! recovers once. Pure.

use super::window::Tally;

/// What is watched.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    /// Pops that went out degraded, or that no page acknowledged in time.
    PopFailures,
    /// Customer records that came back with a source missing.
    FetchFailures,
}

impl Kind {
    pub const ALL: [Kind; 2] = [Kind::PopFailures, Kind::FetchFailures];

    /// The alert's name (in the webhook's JSON and the log).
    pub fn alert(self) -> &'static str {
        match self {
            Kind::PopFailures => "pop_failure_rate",
            Kind::FetchFailures => "fetch_failure_rate",
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Rule {
    /// A fraction: 0.05 is 5 %.
    pub threshold: f64,
    /// Fewer outcomes than this in the window never fire an alert.
    pub min_events: u64,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Transition {
    Firing,
    Resolved,
}

impl Transition {
    pub const ALL: [Transition; 2] = [Transition::Firing, Transition::Resolved];
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Watch {
    pub firing: bool,
}

impl Watch {
    pub fn judge(&mut self, t: Tally, rule: &Rule) -> Option<Transition> {
        let above = t.rate() > rule.threshold;
        if !self.firing && above && t.total >= rule.min_events.max(1) {
            self.firing = true;
            return Some(Transition::Firing);
        }
        if self.firing && !above {
            self.firing = false;
            return Some(Transition::Resolved);
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const RULE: Rule = Rule {
        threshold: 0.05,
        min_events: 20,
    };

    fn t(total: u64, failed: u64) -> Tally {
        Tally { total, failed }
    }

    #[test]
    fn fires_once_above_the_threshold_and_recovers_once() {
        let mut w = Watch::default();
        assert_eq!(w.judge(t(100, 5), &RULE), None, "5 % is not above 5 %");
        assert_eq!(w.judge(t(100, 6), &RULE), Some(Transition::Firing));
        assert_eq!(w.judge(t(100, 50), &RULE), None, "once");
        assert_eq!(w.judge(t(100, 6), &RULE), None);
        assert_eq!(w.judge(t(100, 5), &RULE), Some(Transition::Resolved));
        assert_eq!(w.judge(t(100, 0), &RULE), None, "once");
        assert_eq!(w.judge(t(100, 9), &RULE), Some(Transition::Firing));
    }

    #[test]
    fn a_few_outcomes_do_not_fire_but_an_empty_window_recovers() {
        let mut w = Watch::default();
        assert_eq!(w.judge(t(19, 19), &RULE), None);
        assert_eq!(w.judge(t(20, 2), &RULE), Some(Transition::Firing));
        // Still few and still failing: no recovery on thin evidence.
        assert_eq!(w.judge(t(3, 3), &RULE), None);
        assert_eq!(w.judge(t(0, 0), &RULE), Some(Transition::Resolved));
    }
}
