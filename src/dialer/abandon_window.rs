//! The short abandon window of a predictive campaign (30 minutes by
//! default): the people answered in it, and what rate the dial level must
//! aim at for the window to stay under the cap.
//!
//! Aiming at the cap itself fails every other window: the abandons of a
//! window are a draw, and with a few hundred people in it their share
//! swings by a point or more. So the target is the rate `x` whose window
//! stays under the cap by three standard deviations of that draw,
//! `x + 3·sqrt(x/n) = cap` for `n` people a window: about 1 % at 250 people
//! (10 agents), 1.4 % at 500, 1.8 % at 1250. A small team pays for its
//! short windows with a lower dial level; a regulator does not average.
//!
//! Should the draw still run high, the window's own abandons brake the
//! dialing ahead: fully on until they pass the target's share of its
//! people by a quarter of the way to the stop, then less and less, and
//! none at the stop, 80 % of the cap's share: the rest of the window then
//! abandons almost nobody. A brake and not a switch, because a stop lasts
//! until abandons age out of the window, up to its whole span, and a small
//! team without dialing ahead works at the progressive level (a 20-agent
//! study point with the stop alone spent fifteen minutes at 50-66 %
//! occupancy). Not from the target's share itself: that braked whole
//! spells where no window came near the cap.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

/// Fewer people than this a window are counted as this many (a window of
/// a handful is not a rate).
const MIN_PEOPLE: f64 = 50.0;
/// The share of the cap at which the window's abandons stop dialing ahead,
/// and the abandons kept in hand below the cap at least: the calls ringing
/// when dialing ahead stops may still bring a few.
const STOP_AT: f64 = 0.8;
const IN_HAND: f64 = 2.0;
/// Where between the target's abandons and the stop the brake begins.
const BRAKE_FROM: f64 = 0.25;
/// Standard deviations of margin between the target and the cap.
const SIGMAS: f64 = 3.0;

/// People answered over the last `span`, by when: true if abandoned.
#[derive(Debug)]
pub struct AbandonWindow {
    span: Duration,
    people: VecDeque<(Instant, bool)>,
    abandoned: usize,
    /// The first person's answer: how much of a window has been seen.
    since: Option<Instant>,
}

impl Default for AbandonWindow {
    fn default() -> Self {
        AbandonWindow::new(Duration::from_secs(1800))
    }
}

impl AbandonWindow {
    pub fn new(span: Duration) -> Self {
        AbandonWindow {
            span: span.max(Duration::from_millis(1)),
            people: VecDeque::new(),
            abandoned: 0,
            since: None,
        }
    }

    /// The span changes with the campaign's settings; what was counted is
    /// kept.
    pub fn set_span(&mut self, span: Duration) {
        self.span = span.max(Duration::from_millis(1));
    }

    pub fn add(&mut self, at: Instant, abandoned: bool) {
        self.since.get_or_insert(at);
        self.people.push_back((at, abandoned));
        self.abandoned += usize::from(abandoned);
    }

    fn expire(&mut self, now: Instant) {
        while let Some(&(at, abandoned)) = self.people.front() {
            if now.saturating_duration_since(at) <= self.span {
                break;
            }
            self.people.pop_front();
            self.abandoned -= usize::from(abandoned);
        }
    }

    /// People a full window holds: those in it, scaled up while less than
    /// a window has passed since the first.
    fn people_per_window(&self, now: Instant) -> f64 {
        let seen = self
            .since
            .map_or(Duration::ZERO, |s| now.saturating_duration_since(s));
        let n = self.people.len() as f64;
        let full = if seen >= self.span || seen.is_zero() {
            n
        } else {
            n * self.span.as_secs_f64() / seen.as_secs_f64()
        };
        full.max(MIN_PEOPLE)
    }

    /// The abandon rate to steer to for a window to stay under `cap`.
    pub fn target(&mut self, cap: f64, now: Instant) -> f64 {
        self.expire(now);
        target_rate(cap, self.people_per_window(now))
    }

    /// How much of the dialing ahead the window allows now, from 1 (all)
    /// to 0 (none): 1 while its abandons are no more than `BRAKE_FROM` of
    /// the way from the target's share of its people to the stop, falling
    /// in a line to 0 at the stop (`STOP_AT` of what the cap allows it, or
    /// `IN_HAND` below that, whichever is less).
    pub fn brake(&mut self, cap: f64, now: Instant) -> f64 {
        self.expire(now);
        if self.abandoned == 0 {
            return 1.0;
        }
        let n = self.people_per_window(now);
        let allowed = cap * n;
        let stop = (STOP_AT * allowed).min(allowed - IN_HAND);
        let expected = target_rate(cap, n) * n;
        let start = expected + (stop - expected).max(0.0) * BRAKE_FROM;
        let k = self.abandoned as f64;
        if k >= stop {
            0.0
        } else if k <= start || stop <= start {
            1.0
        } else {
            (stop - k) / (stop - start)
        }
    }

    /// No dialing ahead until abandons age out of the window.
    #[cfg(test)]
    pub fn at_limit(&mut self, cap: f64, now: Instant) -> bool {
        self.brake(cap, now) <= 0.0
    }

    /// People and abandons in the window now.
    pub fn counts(&mut self, now: Instant) -> (usize, usize) {
        self.expire(now);
        (self.people.len(), self.abandoned)
    }
}

/// `x` with `x + SIGMAS·sqrt(x/n) = cap` (a quadratic in `sqrt(x)`).
pub fn target_rate(cap: f64, n: f64) -> f64 {
    let cap = cap.clamp(0.0, 1.0);
    let k = SIGMAS / n.max(1.0).sqrt();
    let s = (-k + (k * k + 4.0 * cap).sqrt()) / 2.0;
    (s * s).clamp(0.0, cap)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_target_keeps_a_window_three_deviations_under_the_cap() {
        for n in [50.0, 250.0, 500.0, 1250.0, 10_000.0] {
            let x = target_rate(0.03, n);
            assert!(x > 0.0 && x < 0.03, "{n}: {x}");
            let margin = 0.03 - x;
            assert!((margin - 3.0 * (x / n).sqrt()).abs() < 1e-9, "{n}: {x}");
        }
        // More people a window: less margin needed.
        assert!(target_rate(0.03, 250.0) < target_rate(0.03, 1250.0));
        assert_eq!(target_rate(0.0, 500.0), 0.0);
    }

    #[test]
    fn people_age_out_of_the_window() {
        let t0 = Instant::now();
        let mut w = AbandonWindow::new(Duration::from_secs(10));
        w.add(t0, true);
        w.add(t0 + Duration::from_secs(5), false);
        assert_eq!(w.counts(t0 + Duration::from_secs(6)), (2, 1));
        assert_eq!(w.counts(t0 + Duration::from_secs(11)), (1, 0));
        assert_eq!(w.counts(t0 + Duration::from_secs(16)), (0, 0));
    }

    #[test]
    fn a_young_window_is_scaled_to_a_full_one() {
        let t0 = Instant::now();
        let mut w = AbandonWindow::new(Duration::from_secs(100));
        // 200 people in the first 10 s: 2000 a window.
        for i in 0..200 {
            w.add(t0 + Duration::from_millis(50 * i), false);
        }
        let now = t0 + Duration::from_secs(10);
        let x = w.target(0.03, now);
        assert!((x - target_rate(0.03, 2000.0)).abs() < 1e-3, "{x}");
        // Once a window has passed, what is in it counts as it is.
        let later = t0 + Duration::from_secs(105);
        let y = w.target(0.03, later);
        assert!((y - target_rate(0.03, 100.0)).abs() < 1e-9, "{y}");
    }

    #[test]
    fn abandons_near_the_cap_stop_dialing_ahead() {
        let t0 = Instant::now();
        let mut w = AbandonWindow::new(Duration::from_secs(100));
        for i in 0..500 {
            w.add(t0 + Duration::from_millis(i), false);
        }
        let now = t0 + Duration::from_secs(200);
        assert!(
            !w.at_limit(0.03, now),
            "an empty window is not at the limit"
        );
        let mut at = now;
        // 500 people in the window: 12 abandons are 80 % of its 3 % (and
        // more than 2 below it).
        for i in 0..500 {
            at = now + Duration::from_millis(i);
            w.add(at, i < 11);
        }
        assert!(!w.at_limit(0.03, at));
        w.add(at, true);
        w.add(at, true);
        assert!(w.at_limit(0.03, at));
        // They age out.
        assert!(!w.at_limit(0.03, at + Duration::from_secs(101)));
    }

    #[test]
    fn the_brake_eases_dialing_ahead_between_the_target_and_the_stop() {
        let t0 = Instant::now();
        let mut w = AbandonWindow::new(Duration::from_secs(100));
        // A window of 1000 people; then abandons, one by one.
        for i in 0..1000 {
            w.add(t0 + Duration::from_millis(i), false);
        }
        let at = t0 + Duration::from_secs(99);
        assert_eq!(w.brake(0.03, at), 1.0);
        // The cap allows about 31, the stop is at 80 % of it (about 25);
        // the target gives a window about 18: the brake begins a little
        // past the target's share and falls steadily to nothing at the
        // stop.
        let (mut first_eased, mut first_stopped, mut last) = (None, None, 1.0);
        for k in 1..=30 {
            w.add(at, true);
            let b = w.brake(0.03, at);
            assert!(b <= last, "{k}: {b} after {last}");
            if b < 1.0 && first_eased.is_none() {
                first_eased = Some(k);
            }
            if b == 0.0 && first_stopped.is_none() {
                first_stopped = Some(k);
            }
            last = b;
        }
        let (eased, stopped) = (first_eased.unwrap_or(0), first_stopped.unwrap_or(0));
        assert!((19..=22).contains(&eased), "eased from {eased}");
        assert!((24..=26).contains(&stopped), "stopped at {stopped}");
        assert!(
            stopped - eased >= 2,
            "a brake, not a switch: {eased}..{stopped}"
        );
        assert!(w.at_limit(0.03, at));
    }

    #[test]
    fn a_small_window_keeps_two_abandons_in_hand() {
        let t0 = Instant::now();
        let mut w = AbandonWindow::new(Duration::from_secs(100));
        // 150 people a window: the cap allows 4.5, 80 % of it 3.6, but
        // the calls still ringing may bring two more: 3 stop it.
        for i in 0..150 {
            w.add(t0 + Duration::from_millis(i), i < 2);
        }
        let now = t0 + Duration::from_secs(100);
        assert!(!w.at_limit(0.03, now));
        w.add(now, true);
        assert!(w.at_limit(0.03, now));
        // Any abandon in a window of a handful stops it.
        let mut tiny = AbandonWindow::new(Duration::from_secs(100));
        tiny.add(t0, false);
        assert!(!tiny.at_limit(0.03, t0));
        tiny.add(t0, true);
        assert!(tiny.at_limit(0.03, t0));
    }
}
