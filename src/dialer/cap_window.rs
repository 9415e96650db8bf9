//! A campaign's people and abandons over its cap window
//! (`abandon_window_seconds`, 30 days by default): what the store counted
//! of the calls that ended in it at the last refresh, plus what this run
//! has counted since that count was asked for. From the store, because the
//! cap is the regulator's month: a restart must not start it again from
//! nothing, nor (with a shared store) may each node keep its own.
//!
//! The store's count lags by what the writer has not flushed yet when it
//! is asked (a batch, under a second); those people are in the next one.

use std::time::{Duration, Instant};

/// How often the store is asked: every 500 pacing rounds (10 s at the
/// real clock), and no more than once a second however compressed the
/// clock: the count runs over a month of attempts.
pub fn refresh_every(pacing_round: Duration) -> Duration {
    (pacing_round * 500).max(Duration::from_secs(1))
}

/// People and abandoned, counted.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Tally {
    pub people: u64,
    pub abandoned: u64,
}

impl Tally {
    fn add(self, o: Tally) -> Tally {
        Tally {
            people: self.people + o.people,
            abandoned: self.abandoned + o.abandoned,
        }
    }

    /// Abandoned per person (0 with nobody).
    pub fn rate(self) -> f64 {
        if self.people == 0 {
            0.0
        } else {
            self.abandoned as f64 / self.people as f64
        }
    }
}

#[derive(Debug, Default)]
pub struct CapWindow {
    /// The store's count at the last refresh (None until one came).
    stored: Option<Tally>,
    /// Counted here since the last count was asked for.
    fresh: Tally,
    /// Counted here before the count under way was asked for, and not in
    /// the last one: kept until it comes, in case it never does.
    pending: Tally,
    asked: Option<Instant>,
    in_flight: bool,
}

impl CapWindow {
    /// One person answered here: abandoned or connected.
    pub fn count(&mut self, abandoned: bool) {
        self.fresh.people += 1;
        self.fresh.abandoned += u64::from(abandoned);
    }

    /// Whether a count should be asked for now, every `every`; if so, the
    /// ask is noted (one at a time).
    pub fn ask_due(&mut self, now: Instant, every: Duration) -> bool {
        if self.in_flight
            || self
                .asked
                .is_some_and(|t| now.saturating_duration_since(t) < every)
        {
            return false;
        }
        self.asked = Some(now);
        self.in_flight = true;
        self.pending = self.pending.add(self.fresh);
        self.fresh = Tally::default();
        true
    }

    /// The store's count asked for last: it holds what was counted here
    /// before the ask.
    pub fn stored(&mut self, t: Tally) {
        self.stored = Some(t);
        self.pending = Tally::default();
        self.in_flight = false;
    }

    /// The count failed: what it would have held stays counted here.
    pub fn failed(&mut self) {
        self.in_flight = false;
    }

    /// Whether the store's count has come once: until then the month is
    /// unknown (a restart's first rounds), and nothing is dialed ahead.
    pub fn known(&self) -> bool {
        self.stored.is_some()
    }

    /// The window now.
    pub fn tally(&self) -> Tally {
        self.stored
            .unwrap_or_default()
            .add(self.pending)
            .add(self.fresh)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_stores_count_replaces_what_it_holds_and_keeps_what_came_after() {
        let t0 = Instant::now();
        let every = Duration::from_secs(10);
        let mut w = CapWindow::default();
        // Before any count: what this run counted.
        w.count(true);
        w.count(false);
        assert_eq!(
            w.tally(),
            Tally {
                people: 2,
                abandoned: 1
            }
        );
        assert!(!w.known());
        assert!(w.ask_due(t0, every));
        // One at a time, and not again before `every`.
        assert!(!w.ask_due(t0 + Duration::from_secs(20), every));
        w.count(false);
        assert_eq!(
            w.tally(),
            Tally {
                people: 3,
                abandoned: 1
            }
        );
        // The store had the two, and 100 people of earlier runs.
        w.stored(Tally {
            people: 102,
            abandoned: 4,
        });
        assert_eq!(
            w.tally(),
            Tally {
                people: 103,
                abandoned: 4
            }
        );
        assert!(w.known());
        assert!(!w.ask_due(t0 + Duration::from_secs(5), every));
        assert!(w.ask_due(t0 + Duration::from_secs(10), every));
        // A count that fails loses nothing counted here.
        w.count(true);
        w.failed();
        assert_eq!(
            w.tally(),
            Tally {
                people: 104,
                abandoned: 5
            }
        );
        assert!((w.tally().rate() - 5.0 / 104.0).abs() < 1e-12);
        assert_eq!(Tally::default().rate(), 0.0);
    }
}
