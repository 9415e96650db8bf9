//! A token bucket: `rate` tokens a second, at most `burst` saved up. Pure,
//! with the clock passed in. The campaigns' originates per second and the
//! global cap are held with it (a switch's own rate is `pace`, which also
//! spreads one switch's calls apart).

use std::time::Instant;

#[derive(Clone, Debug)]
pub struct Bucket {
    rate: f64,
    burst: f64,
    tokens: f64,
    at: Option<Instant>,
}

impl Bucket {
    /// `rate` above zero (checked by the settings); a burst below one token
    /// would never let a call through, so it is at least one.
    pub fn new(rate: f64, burst: f64) -> Bucket {
        let burst = burst.max(1.0);
        Bucket {
            rate: rate.max(f64::MIN_POSITIVE),
            burst,
            tokens: burst,
            at: None,
        }
    }

    pub fn rate(&self) -> f64 {
        self.rate
    }

    fn refill(&mut self, now: Instant) {
        if let Some(at) = self.at {
            let dt = now.saturating_duration_since(at).as_secs_f64();
            self.tokens = (self.tokens + dt * self.rate).min(self.burst);
        }
        self.at = Some(now);
    }

    /// Whole tokens there now.
    pub fn available(&mut self, now: Instant) -> usize {
        self.refill(now);
        self.tokens.max(0.0).floor() as usize
    }

    /// Takes `n` tokens if there are; false (and nothing taken) if not.
    pub fn take(&mut self, now: Instant, n: usize) -> bool {
        self.refill(now);
        if self.tokens + 1e-9 >= n as f64 {
            self.tokens -= n as f64;
            true
        } else {
            false
        }
    }

    /// A token taken for a call that was not placed after all.
    pub fn give_back(&mut self, n: usize) {
        self.tokens = (self.tokens + n as f64).min(self.burst);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn a_burst_then_the_rate() {
        let t0 = Instant::now();
        let mut b = Bucket::new(10.0, 5.0);
        assert_eq!(b.available(t0), 5);
        assert!(b.take(t0, 5));
        assert!(!b.take(t0, 1));
        // 10 a second: one more every 100 ms, never more than the burst.
        assert_eq!(b.available(t0 + Duration::from_millis(250)), 2);
        assert_eq!(b.available(t0 + Duration::from_secs(60)), 5);
        b.give_back(3);
        assert_eq!(b.available(t0 + Duration::from_secs(60)), 5);
    }

    #[test]
    fn thousands_of_asks_get_the_rate_and_no_more() {
        let t0 = Instant::now();
        let mut b = Bucket::new(20.0, 4.0);
        let mut taken = 0;
        // Asked every millisecond for 10 s: 4 at once, then 20 a second.
        for ms in 0..10_000 {
            if b.take(t0 + Duration::from_millis(ms), 1) {
                taken += 1;
            }
        }
        assert!((203..=205).contains(&taken), "{taken}");
    }
}
