//! `next_opening` against `is_open` over random windows, zones and
//! instants, with an oracle that finds the first opening another way.

use super::*;
use chrono::{Duration, LocalResult};
use chrono_tz::{America, Antarctica, Asia, Australia, Europe, Pacific};
use proptest::prelude::*;
use std::sync::OnceLock;

fn utc(y: i32, mo: u32, d: u32, h: u32, mi: u32, s: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(y, mo, d, h, mi, s).unwrap()
}

fn date(y: i32, m: u32, d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, d).unwrap()
}

/// `PROBE_SECONDS` assumes an offset that changes does not change back
/// within a probe: true of every zone over the years the dialer runs in.
#[test]
fn no_zone_changes_offset_twice_within_a_probe() {
    let (start, end) = (
        utc(2025, 1, 1, 0, 0, 0).timestamp(),
        utc(2029, 1, 1, 0, 0, 0).timestamp(),
    );
    let step = 2 * 3600;
    for &tz in chrono_tz::TZ_VARIANTS.iter() {
        let mut last_change: Option<i64> = None;
        let mut offset = offset_at(tz, start).unwrap();
        let mut t = start + step;
        while t < end {
            let now = offset_at(tz, t).unwrap();
            if now != offset {
                if let Some(last) = last_change {
                    assert!(
                        t - last > PROBE_SECONDS + step,
                        "{tz} changes twice near {t}"
                    );
                }
                last_change = Some(t);
                offset = now;
            }
            t += step;
        }
    }
}

const ZONES: &[Tz] = &[
    America::New_York,
    America::Havana,
    America::Nuuk,
    America::Santiago,
    Europe::London,
    Europe::Berlin,
    Australia::Lord_Howe,
    Australia::Sydney,
    Pacific::Auckland,
    Pacific::Chatham,
    Pacific::Apia,
    Antarctica::Troll,
    chrono_tz::Africa::Casablanca,
    Asia::Kolkata,
    Tz::UTC,
];

/// Offset changes of each of `ZONES` from late 2024 to mid 2030 (past
/// every horizon the property reaches): sampled hourly, where the code under
/// test probes daily, then bisected.
fn transitions(zone: usize) -> &'static [i64] {
    static ALL: OnceLock<Vec<Vec<i64>>> = OnceLock::new();
    let all = ALL.get_or_init(|| {
        let (start, end) = (
            utc(2024, 11, 1, 0, 0, 0).timestamp(),
            utc(2030, 6, 1, 0, 0, 0).timestamp(),
        );
        ZONES
            .iter()
            .map(|&tz| {
                let mut found = Vec::new();
                let mut t = start;
                while t < end {
                    let before = offset_at(tz, t).unwrap();
                    if offset_at(tz, t + 3600).unwrap() != before {
                        found.push(first_change(tz, t, t + 3600, before).unwrap());
                    }
                    t += 3600;
                }
                found
            })
            .collect()
    });
    &all[zone]
}

fn secs(t: i64) -> DateTime<Utc> {
    DateTime::from_timestamp(t, 0).unwrap()
}

/// The first open instant at or after `t` by another route: it is `t`, an
/// offset change, or an interval start as chrono-tz resolves the local
/// time (one instant, or both of an ambiguous one).
fn oracle(w: &CallingWindow, tz: Tz, zone: usize, t: i64) -> Option<i64> {
    if w.is_open(secs(t), tz) {
        return Some(t);
    }
    let end = t + HORIZON_DAYS * SECONDS_PER_DAY;
    let mut candidates: Vec<i64> = transitions(zone)
        .iter()
        .copied()
        .filter(|&c| c >= t && c < end)
        .collect();
    let first = secs(t).with_timezone(&tz).date_naive() - Duration::days(1);
    let last = secs(end).with_timezone(&tz).date_naive() + Duration::days(1);
    for d in first.iter_days().take_while(|&d| d <= last) {
        if w.holidays.contains(&d) {
            continue;
        }
        for &(start, _) in &w.days[d.weekday().num_days_from_monday() as usize] {
            let local = d.and_hms_opt(0, 0, 0).unwrap() + Duration::minutes(i64::from(start));
            match tz.from_local_datetime(&local) {
                LocalResult::Single(a) => candidates.push(a.timestamp()),
                LocalResult::Ambiguous(a, b) => candidates.extend([a.timestamp(), b.timestamp()]),
                LocalResult::None => {}
            }
        }
    }
    candidates
        .into_iter()
        .filter(|&c| c >= t && c < end && w.is_open(secs(c), tz))
        .min()
}

fn bound() -> impl Strategy<Value = u16> {
    prop_oneof![
        Just(0u16),
        Just(1440u16),
        (0u16..=48).prop_map(|h| h * 30),
        0u16..=1440
    ]
}

fn day() -> impl Strategy<Value = Vec<(u16, u16)>> {
    prop_oneof![
        1 => Just(Vec::new()),
        2 => proptest::collection::vec((bound(), bound()), 0..=3).prop_map(|v| {
            v.into_iter()
                .filter(|(a, b)| a != b)
                .map(|(a, b)| (a.min(b), a.max(b)))
                .collect()
        }),
    ]
}

fn any_window() -> impl Strategy<Value = CallingWindow> {
    let days = proptest::collection::vec(day(), 7);
    let holidays = proptest::collection::vec(0i64..5 * 366, 0..20);
    (days, holidays).prop_map(|(days, holidays)| {
        let days: [Vec<(u16, u16)>; 7] = days.try_into().unwrap();
        let holidays = holidays
            .into_iter()
            .map(|d| date(2025, 1, 1) + Duration::days(d));
        CallingWindow::new(days, holidays).unwrap()
    })
}

/// A zone and an instant in 2025-2028, half of them within three hours of
/// one of the zone's offset changes.
fn zone_and_instant() -> impl Strategy<Value = (usize, i64)> {
    let (start, end) = (
        utc(2025, 1, 1, 0, 0, 0).timestamp(),
        utc(2029, 1, 1, 0, 0, 0).timestamp(),
    );
    (
        0..ZONES.len(),
        any::<prop::sample::Index>(),
        -3 * 3600i64..=3 * 3600,
        start..end,
        any::<bool>(),
    )
        .prop_map(move |(zone, pick, near, anywhere, use_change)| {
            let changes: Vec<i64> = transitions(zone)
                .iter()
                .copied()
                .filter(|&c| c >= start && c < end)
                .collect();
            if use_change && !changes.is_empty() {
                (zone, changes[pick.index(changes.len())] + near)
            } else {
                (zone, anywhere)
            }
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn next_opening_agrees_with_is_open(w in any_window(), (zone, t) in zone_and_instant(), seed in any::<u64>()) {
        let tz = ZONES[zone];
        let at = secs(t);
        prop_assert_eq!(w.closed_reason(at, tz).is_none(), w.is_open(at, tz));
        let got = w.next_opening(at, tz);
        prop_assert_eq!(got.map(|o| o.timestamp()), oracle(&w, tz, zone, t));
        let end = match got {
            Some(o) => {
                prop_assert!(w.is_open(o, tz));
                if w.is_open(at, tz) {
                    prop_assert_eq!(o, at);
                } else {
                    prop_assert!(o > at);
                    prop_assert!(!w.is_open(o - Duration::seconds(1), tz));
                }
                prop_assert!(o - at < Duration::days(HORIZON_DAYS));
                o.timestamp()
            }
            None => {
                // Every whole local day inside the horizon is a holiday or
                // has only intervals that fall wholly in a gap.
                let end = t + HORIZON_DAYS * SECONDS_PER_DAY;
                let first = at.with_timezone(&tz).date_naive() + Duration::days(1);
                let last = secs(end).with_timezone(&tz).date_naive();
                for d in first.iter_days().take_while(|&d| d < last) {
                    if w.holidays.contains(&d) {
                        continue;
                    }
                    for &(s, e) in &w.days[d.weekday().num_days_from_monday() as usize] {
                        for m in s..e {
                            let local = d.and_hms_opt(0, 0, 0).unwrap() + Duration::minutes(i64::from(m));
                            prop_assert!(matches!(tz.from_local_datetime(&local), LocalResult::None),
                                "{} exists but nothing opened", local);
                        }
                    }
                }
                end
            }
        };
        // Nothing open in [t, end): every minute when the span is short
        // (open runs last at least a minute: offsets and their changes are
        // whole minutes in these zones), else 2,000 points; and each offset
        // change in the span and the second before it.
        let mut closed: Vec<i64> = if end - t <= 9 * SECONDS_PER_DAY {
            (t..end).step_by(60).collect()
        } else {
            let mut x = seed | 1;
            (0..2000).map(|_| {
                x ^= x << 13; x ^= x >> 7; x ^= x << 17;
                t + (x % (end - t) as u64) as i64
            }).collect()
        };
        for &c in transitions(zone).iter().filter(|&&c| c > t && c < end) {
            closed.extend([c - 1, c]);
        }
        for c in closed {
            prop_assert!(!w.is_open(secs(c), tz), "open at {} before {:?}", secs(c), got);
        }
    }
}
