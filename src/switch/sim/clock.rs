//! Wall-clock stamps in the forms FreeSWITCH writes them. Event times are
//! real time even when the scenario runs faster (`speed`), so durations in
//! CDR variables agree with the timestamps around them.

use chrono::{DateTime, Local, TimeZone, Utc};
use std::time::{SystemTime, UNIX_EPOCH};

/// Microseconds since the Unix epoch (`Event-Date-Timestamp`).
pub fn now_micros() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_micros() as i64)
        .unwrap_or(0)
}

fn utc(micros: i64) -> DateTime<Utc> {
    Utc.timestamp_micros(micros)
        .single()
        .unwrap_or(DateTime::<Utc>::UNIX_EPOCH)
}

/// `2026-11-24 21:06:29` in local time (`Event-Date-Local`, `*_stamp`).
pub fn local_stamp(micros: i64) -> String {
    utc(micros)
        .with_timezone(&Local)
        .format("%Y-%m-%d %H:%M:%S")
        .to_string()
}

/// `Tue, 24 Nov 2026 21:06:29 GMT` (`Event-Date-GMT`).
pub fn gmt_stamp(micros: i64) -> String {
    utc(micros).format("%a, %d %b %Y %H:%M:%S GMT").to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gmt_format_matches_the_capture() {
        assert_eq!(
            gmt_stamp(1_795_554_389_911_062),
            "Tue, 24 Nov 2026 21:06:29 GMT"
        );
        assert_eq!(local_stamp(1_795_554_389_911_062).len(), 19);
    }
}
