//! Reconnect pacing shared by the switch clients.

use std::time::Duration;

/// "Equal jitter": at least half the current ceiling, at most all of it, so
/// that dialers cut off together neither retry in lockstep nor with no pause.
pub fn jittered(ceiling: Duration) -> Duration {
    let half = (ceiling.as_micros() / 2).max(1) as u64;
    Duration::from_micros(half + rand::random_range(0..=half))
}

/// The next ceiling: doubled, up to `max`.
pub fn next_ceiling(ceiling: Duration, max: Duration) -> Duration {
    (ceiling * 2).min(max)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn waits_stay_between_half_and_all_of_the_ceiling() {
        let c = Duration::from_millis(400);
        for _ in 0..1000 {
            let w = jittered(c);
            assert!(w >= Duration::from_millis(200) && w <= c, "{w:?}");
        }
        assert_eq!(
            next_ceiling(Duration::from_secs(10), Duration::from_secs(15)),
            Duration::from_secs(15)
        );
    }
}
