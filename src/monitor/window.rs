//! A sliding window of outcomes (good or failed), in one-second buckets:
//! its memory is one bucket per second of the window whatever the call
//! rate, and sliding costs a pop from the front. Pure: time is a number of
//! seconds handed in.

use std::collections::VecDeque;

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Window {
    /// (second, good, failed), oldest first.
    buckets: VecDeque<(u64, u64, u64)>,
    good: u64,
    failed: u64,
}

/// What a window holds now.
#[derive(Clone, Copy, Debug, Default, PartialEq, serde::Serialize)]
pub struct Tally {
    pub total: u64,
    pub failed: u64,
}

impl Tally {
    /// Failed over total (0 when empty).
    pub fn rate(&self) -> f64 {
        if self.total == 0 {
            0.0
        } else {
            self.failed as f64 / self.total as f64
        }
    }
}

impl Window {
    /// Counts one outcome at second `at`. An outcome older than the newest
    /// bucket (a late ack timer) goes into the newest: a window only grows
    /// at its front.
    pub fn add(&mut self, at: u64, failed: bool) {
        match self.buckets.back_mut() {
            Some(b) if b.0 >= at => {
                if failed {
                    b.2 += 1
                } else {
                    b.1 += 1
                }
            }
            _ => self
                .buckets
                .push_back((at, u64::from(!failed), u64::from(failed))),
        }
        if failed {
            self.failed += 1;
        } else {
            self.good += 1;
        }
    }

    /// Drops what is older than `len` seconds before `now`, and tells what
    /// is left.
    pub fn slide(&mut self, now: u64, len: u64) -> Tally {
        // The window is the `len` seconds up to `now`, bucket `now` included.
        let Some(oldest) = now.checked_sub(len) else {
            return self.tally();
        };
        while let Some(&(at, good, failed)) = self.buckets.front() {
            if at > oldest {
                break;
            }
            self.buckets.pop_front();
            self.good -= good;
            self.failed -= failed;
        }
        self.tally()
    }

    pub fn tally(&self) -> Tally {
        Tally {
            total: self.good + self.failed,
            failed: self.failed,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn outcomes_leave_the_window_after_its_length() {
        let mut w = Window::default();
        w.add(10, true);
        w.add(10, false);
        w.add(11, false);
        assert_eq!(
            w.slide(12, 5),
            Tally {
                total: 3,
                failed: 1
            }
        );
        // At 15 the bucket of second 10 is 5 s old: out.
        assert_eq!(
            w.slide(15, 5),
            Tally {
                total: 1,
                failed: 0
            }
        );
        assert_eq!(w.slide(100, 5), Tally::default());
        assert_eq!(w.slide(100, 5).rate(), 0.0);
    }

    #[test]
    fn a_late_outcome_goes_into_the_newest_bucket() {
        let mut w = Window::default();
        w.add(20, false);
        w.add(18, true);
        assert_eq!(
            w.tally(),
            Tally {
                total: 2,
                failed: 1
            }
        );
        assert_eq!(
            w.slide(24, 5),
            Tally {
                total: 2,
                failed: 1
            }
        );
        assert_eq!(w.slide(25, 5), Tally::default());
    }

    proptest::proptest! {
        #[test]
        fn the_tally_is_what_the_window_holds(events in proptest::collection::vec((0u64..3, proptest::bool::ANY), 0..200), len in 1u64..30) {
            let mut w = Window::default();
            let mut now = 0;
            let mut kept: Vec<(u64, bool)> = Vec::new();
            for (step, failed) in events {
                now += step;
                w.add(now, failed);
                kept.push((now, failed));
                let t = w.slide(now, len);
                kept.retain(|(at, _)| now < len || *at > now - len);
                proptest::prop_assert_eq!(t.total, kept.len() as u64);
                proptest::prop_assert_eq!(t.failed, kept.iter().filter(|(_, f)| *f).count() as u64);
            }
        }
    }
}
