//! How fast calls may be originated on one switch: pure, driven by the
//! dialer with the clock passed in.
//!
//! A switch and its trunks take only so many new calls a second
//! (FreeSWITCH's `sessions-per-second` is 30 in its stock `switch.conf.xml`
//! and it refuses the calls above it; carriers cap trunks in the same way).
//! Pacing also keeps a batch of claimed calls from reaching the switch in the
//! same millisecond: calls placed together are answered together, and their
//! pops would queue behind each other.
//!
//! Each originate gets a slot, `period` after the one before, when its
//! claim comes back (a slow claim must not leave its slots in the past, where
//! they would all be due at once). Claims are started only for the slots
//! free up to `HORIZON` ahead, less those already promised to claims in
//! flight, so the dialer claims no more tasks than it will place soon; a
//! slot left unused in the past is lost rather than saved up into a burst.

use std::time::{Duration, Instant};

/// How far ahead of now slots are handed out.
pub const HORIZON: Duration = Duration::from_millis(250);

#[derive(Clone, Debug)]
pub struct Pace {
    period: Duration,
    next: Option<Instant>,
    /// Seats of claims in flight, each to take a slot when it comes back.
    promised: usize,
}

impl Pace {
    /// `per_second` is checked by the config (finite, above zero).
    pub fn new(per_second: f64) -> Pace {
        Pace {
            period: Duration::from_secs_f64(1.0 / per_second.max(f64::MIN_POSITIVE)),
            next: None,
            promised: 0,
        }
    }

    pub fn period(&self) -> Duration {
        self.period
    }

    fn next_free(&self, now: Instant) -> Instant {
        self.next.map_or(now, |n| n.max(now))
    }

    /// Slots free within the horizon and not promised (at least one is
    /// always free when the next slot is due now and none is promised).
    pub fn room(&self, now: Instant) -> usize {
        let next = self.next_free(now);
        let ahead = (now + HORIZON).saturating_duration_since(next);
        if ahead.is_zero() && next > now {
            return 0;
        }
        let slots = 1 + (ahead.as_nanos() / self.period.as_nanos().max(1)) as usize;
        slots.saturating_sub(self.promised)
    }

    /// A claim's seat will want a slot.
    pub fn promise(&mut self) {
        self.promised += 1;
    }

    /// The seat found no task: its slot is free again.
    pub fn release(&mut self) {
        self.promised = self.promised.saturating_sub(1);
    }

    /// A seat's call is ready: the next slot, when it may go to the switch.
    pub fn take(&mut self, now: Instant) -> Instant {
        self.release();
        let slot = self.next_free(now);
        self.next = Some(slot + self.period);
        slot
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slots_are_a_period_apart_and_never_bunch_after_a_pause() {
        let t0 = Instant::now();
        let mut p = Pace::new(100.0);
        let a = p.take(t0);
        let b = p.take(t0);
        let c = p.take(t0);
        assert_eq!(a, t0);
        assert_eq!(b - a, Duration::from_millis(10));
        assert_eq!(c - b, Duration::from_millis(10));
        // A long quiet spell saves nothing up: the next two are apart again.
        let later = t0 + Duration::from_secs(5);
        let d = p.take(later);
        let e = p.take(later);
        assert_eq!(d, later);
        assert_eq!(e - d, Duration::from_millis(10));
    }

    #[test]
    fn room_is_what_fits_in_the_horizon() {
        let t0 = Instant::now();
        let mut p = Pace::new(100.0);
        // 250 ms at 10 ms a slot: the one now and 25 more.
        assert_eq!(p.room(t0), 26);
        for _ in 0..26 {
            p.take(t0);
        }
        assert_eq!(p.room(t0), 0);
        // Time frees slots again.
        assert_eq!(p.room(t0 + Duration::from_millis(30)), 3);
        // Promised slots are not free; given back, they are.
        let t1 = t0 + Duration::from_secs(10);
        for _ in 0..20 {
            p.promise();
        }
        assert_eq!(p.room(t1), 6);
        p.release();
        assert_eq!(p.room(t1), 7);
        // A slot is taken when the claim is back, from its own now: a
        // claim slower than the horizon does not find its slots all due.
        let back = t1 + Duration::from_millis(400);
        let first = p.take(back);
        assert_eq!(first, back);
        assert_eq!(p.take(back) - first, Duration::from_millis(10));
        assert_eq!(p.room(back), 26 - 2 - 17);
        // A slow rate still gives one slot when it is due.
        let mut slow = Pace::new(0.5);
        assert_eq!(slow.room(t0), 1);
        slow.take(t0);
        assert_eq!(slow.room(t0 + Duration::from_secs(1)), 0);
        assert_eq!(slow.room(t0 + Duration::from_millis(1_800)), 1);
    }
}
