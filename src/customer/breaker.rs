//! The circuit breaker: after a run of failures a source is left alone for
//! a while, so a dead CRM costs one timeout per interval instead of one per
//! call; then a single request tries it again.

use std::sync::Mutex;
use std::time::{Duration, Instant};

#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum BreakerState {
    Closed,
    Open,
    /// One trial request is under way.
    HalfOpen,
}

#[derive(Debug)]
enum State {
    Closed { failures: u32 },
    Open { until: Instant },
    HalfOpen,
}

#[derive(Debug)]
pub struct Breaker {
    threshold: u32,
    open_for: Duration,
    state: Mutex<State>,
}

/// Leave to send one request. Dropped without `success`/`failure` (the
/// lookup was cancelled), it counts as a failure in half-open state, so a
/// cancelled trial does not leave the breaker stuck.
pub struct Permit<'a> {
    breaker: &'a Breaker,
    settled: bool,
}

impl Permit<'_> {
    pub fn success(mut self) {
        self.settled = true;
        self.breaker.settle(true);
    }
    pub fn failure(mut self) {
        self.settled = true;
        self.breaker.settle(false);
    }
    /// The request neither proved nor disproved the source's health (the
    /// answer could not be mapped): closes a trial without counting.
    pub fn neutral(mut self) {
        self.settled = true;
        let mut s = self.breaker.lock();
        if matches!(*s, State::HalfOpen) {
            *s = State::Closed { failures: 0 };
        }
    }
}

impl Drop for Permit<'_> {
    fn drop(&mut self) {
        if !self.settled {
            let mut s = self.breaker.lock();
            if matches!(*s, State::HalfOpen) {
                *s = State::Open {
                    until: Instant::now() + self.breaker.open_for,
                };
            }
        }
    }
}

impl Breaker {
    /// `threshold` 0 disables the breaker.
    pub fn new(threshold: u32, open_for: Duration) -> Breaker {
        Breaker {
            threshold,
            open_for,
            state: Mutex::new(State::Closed { failures: 0 }),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        // The state is a few words with no invariant spanning a panic.
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// A permit, or how long until the source may be tried again.
    pub fn try_acquire(&self) -> Result<Permit<'_>, Duration> {
        let mut s = self.lock();
        match *s {
            State::Closed { .. } => {}
            State::Open { until } => {
                let now = Instant::now();
                if now < until {
                    return Err(until - now);
                }
                *s = State::HalfOpen;
            }
            // Only the trial goes through; the others fail fast.
            State::HalfOpen => return Err(Duration::ZERO),
        }
        Ok(Permit {
            breaker: self,
            settled: false,
        })
    }

    fn settle(&self, ok: bool) {
        let mut s = self.lock();
        *s = match (&*s, ok) {
            (_, true) => State::Closed { failures: 0 },
            (_, false) if self.threshold == 0 => State::Closed { failures: 0 },
            (State::Closed { failures }, false) if failures + 1 < self.threshold => State::Closed {
                failures: failures + 1,
            },
            (_, false) => State::Open {
                until: Instant::now() + self.open_for,
            },
        };
    }

    pub fn state(&self) -> BreakerState {
        match *self.lock() {
            State::Closed { .. } => BreakerState::Closed,
            State::Open { .. } => BreakerState::Open,
            State::HalfOpen => BreakerState::HalfOpen,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn opens_after_the_threshold_and_lets_one_trial_through() {
        let b = Breaker::new(2, Duration::from_millis(50));
        b.try_acquire().expect("closed").failure();
        assert_eq!(b.state(), BreakerState::Closed);
        b.try_acquire().expect("closed").failure();
        assert_eq!(b.state(), BreakerState::Open);
        assert!(b.try_acquire().is_err());
        std::thread::sleep(Duration::from_millis(60));
        let trial = b.try_acquire().expect("half-open trial");
        assert!(b.try_acquire().is_err(), "only one trial at a time");
        trial.failure();
        assert_eq!(b.state(), BreakerState::Open);
        std::thread::sleep(Duration::from_millis(60));
        b.try_acquire().expect("trial").success();
        assert_eq!(b.state(), BreakerState::Closed);
        // A success resets the count.
        b.try_acquire().expect("closed").failure();
        b.try_acquire().expect("closed").success();
        b.try_acquire().expect("closed").failure();
        assert_eq!(b.state(), BreakerState::Closed);
    }

    #[test]
    fn a_cancelled_trial_reopens() {
        let b = Breaker::new(1, Duration::from_millis(10));
        b.try_acquire().expect("closed").failure();
        std::thread::sleep(Duration::from_millis(15));
        drop(b.try_acquire().expect("trial"));
        assert_eq!(b.state(), BreakerState::Open);
    }
}
