//! Expected instants are worked out by hand from the tzdata rules quoted at
//! each test, never from the code under test.

use super::*;
use chrono::{Duration, Weekday::*};
use chrono_tz::{America, Asia, Australia, Europe, Pacific};

fn utc(y: i32, mo: u32, d: u32, h: u32, mi: u32, s: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(y, mo, d, h, mi, s).unwrap()
}

fn hm(h: u16, m: u16) -> u16 {
    h * 60 + m
}

fn date(y: i32, m: u32, d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, d).unwrap()
}

fn window(days: &[(Weekday, &[(u16, u16)])], holidays: &[NaiveDate]) -> CallingWindow {
    let mut all: [Vec<(u16, u16)>; 7] = Default::default();
    for (day, intervals) in days {
        all[day.num_days_from_monday() as usize].extend_from_slice(intervals);
    }
    CallingWindow::new(all, holidays.iter().copied()).unwrap()
}

/// `next_opening(at)` is `want`, `want` is open and, when later than `at`,
/// the second before it is closed.
#[track_caller]
fn assert_opens(w: &CallingWindow, tz: Tz, at: DateTime<Utc>, want: DateTime<Utc>) {
    assert_eq!(w.next_opening(at, tz), Some(want), "from {at} in {tz}");
    assert!(w.is_open(want, tz), "{want} in {tz} should be open");
    if want > at {
        assert!(
            !w.is_open(want - Duration::seconds(1), tz),
            "{want} - 1 s open"
        );
    }
}

// America/New_York, "Rule US 2007 max Mar Sun>=8 2:00 1:00 D" and
// "Nov Sun>=1 2:00 0 S": on 2026-03-08 02:00 EST (07:00 UTC) the clocks go
// to 03:00 EDT; on 2026-11-01 02:00 EDT (06:00 UTC) back to 01:00 EST.
const NY: Tz = America::New_York;

#[test]
fn new_york_opening_in_the_gap_opens_when_the_gap_ends() {
    let w = window(&[(Sun, &[(hm(2, 30), hm(4, 0))])], &[]);
    assert_opens(&w, NY, utc(2026, 3, 8, 6, 0, 0), utc(2026, 3, 8, 7, 0, 0));
    assert!(!w.is_open(utc(2026, 3, 8, 6, 59, 59), NY));
    // Still open for the hour left after the gap (03:00 to 04:00 EDT).
    assert!(w.is_open(utc(2026, 3, 8, 7, 59, 59), NY));
    assert!(!w.is_open(utc(2026, 3, 8, 8, 0, 0), NY));
}

#[test]
fn new_york_interval_inside_the_gap_never_opens_that_day() {
    let w = window(&[(Sun, &[(hm(2, 0), hm(2, 45))])], &[]);
    // The next Sunday at 02:00 EDT.
    assert_opens(&w, NY, utc(2026, 3, 8, 6, 0, 0), utc(2026, 3, 15, 6, 0, 0));
    assert_eq!(
        w.closed_reason(utc(2026, 3, 8, 7, 0, 0), NY),
        Some(Closed::OutsideHours { weekday: Sun })
    );
}

#[test]
fn new_york_interval_cut_by_the_gap() {
    let w = window(&[(Sun, &[(hm(1, 30), hm(2, 30))])], &[]);
    assert_opens(&w, NY, utc(2026, 3, 8, 6, 0, 0), utc(2026, 3, 8, 6, 30, 0));
    assert!(w.is_open(utc(2026, 3, 8, 6, 59, 59), NY));
    assert!(!w.is_open(utc(2026, 3, 8, 7, 0, 0), NY));
    // 01:30 EDT the next Sunday.
    assert_opens(&w, NY, utc(2026, 3, 8, 7, 0, 0), utc(2026, 3, 15, 5, 30, 0));
}

#[test]
fn new_york_repeated_hour_is_open_twice() {
    let w = window(&[(Sun, &[(hm(1, 0), hm(1, 30))])], &[]);
    // 01:00 EDT, then 01:00 EST an hour later.
    assert_opens(&w, NY, utc(2026, 11, 1, 4, 0, 0), utc(2026, 11, 1, 5, 0, 0));
    assert!(w.is_open(utc(2026, 11, 1, 5, 29, 59), NY));
    assert!(!w.is_open(utc(2026, 11, 1, 5, 30, 0), NY));
    // Between the occurrences (01:45 EDT) the next opening is the second.
    assert_opens(
        &w,
        NY,
        utc(2026, 11, 1, 5, 45, 0),
        utc(2026, 11, 1, 6, 0, 0),
    );
    assert!(w.is_open(utc(2026, 11, 1, 6, 29, 59), NY));
    // After both: 01:00 EST the next Sunday.
    assert_opens(
        &w,
        NY,
        utc(2026, 11, 1, 6, 30, 0),
        utc(2026, 11, 8, 6, 0, 0),
    );
}

#[test]
fn new_york_interval_spanning_the_overlap_closes_and_reopens() {
    // 01:30-03:00: open 01:30-02:00 EDT, closed 01:00-01:30 EST (05:30 to
    // 06:00 UTC open, 06:00 to 06:30 closed), open again 01:30 EST onwards.
    let w = window(&[(Sun, &[(hm(1, 30), hm(3, 0))])], &[]);
    assert_opens(
        &w,
        NY,
        utc(2026, 11, 1, 5, 0, 0),
        utc(2026, 11, 1, 5, 30, 0),
    );
    assert!(w.is_open(utc(2026, 11, 1, 5, 59, 59), NY));
    assert!(!w.is_open(utc(2026, 11, 1, 6, 0, 0), NY));
    assert_opens(
        &w,
        NY,
        utc(2026, 11, 1, 6, 0, 0),
        utc(2026, 11, 1, 6, 30, 0),
    );
    assert!(w.is_open(utc(2026, 11, 1, 7, 59, 59), NY));
    assert!(!w.is_open(utc(2026, 11, 1, 8, 0, 0), NY));
}

// Europe/London, EU rules at 01:00 UTC: 2026-03-29 01:00 GMT -> 02:00 BST,
// 2026-10-25 02:00 BST -> 01:00 GMT.
#[test]
fn london_gap_and_overlap() {
    let tz = Europe::London;
    let w = window(&[(Sun, &[(hm(1, 0), hm(2, 0))])], &[]);
    // Wholly in the gap: the next Sunday, 01:00 BST.
    assert_opens(&w, tz, utc(2026, 3, 29, 0, 30, 0), utc(2026, 4, 5, 0, 0, 0));
    let w = window(&[(Sun, &[(hm(1, 0), hm(1, 30))])], &[]);
    // 01:00 BST at 00:00 UTC, 01:00 GMT at 01:00 UTC.
    assert_opens(
        &w,
        tz,
        utc(2026, 10, 24, 23, 0, 0),
        utc(2026, 10, 25, 0, 0, 0),
    );
    assert_opens(
        &w,
        tz,
        utc(2026, 10, 25, 0, 40, 0),
        utc(2026, 10, 25, 1, 0, 0),
    );
}

// Europe/Berlin, EU rules at 01:00 UTC: 2026-03-29 02:00 CET -> 03:00 CEST,
// 2026-10-25 03:00 CEST -> 02:00 CET.
#[test]
fn berlin_repeated_hour_is_one_two_hour_run() {
    let tz = Europe::Berlin;
    let w = window(&[(Sun, &[(hm(2, 0), hm(3, 0))])], &[]);
    // Sunday 00:00 CEST is Saturday 22:00 UTC.
    assert_opens(
        &w,
        tz,
        utc(2026, 10, 24, 22, 0, 0),
        utc(2026, 10, 25, 0, 0, 0),
    );
    assert!(w.is_open(utc(2026, 10, 25, 0, 59, 59), tz));
    assert!(w.is_open(utc(2026, 10, 25, 1, 0, 0), tz));
    assert!(w.is_open(utc(2026, 10, 25, 1, 59, 59), tz));
    assert_eq!(
        w.closed_reason(utc(2026, 10, 25, 2, 0, 0), tz),
        Some(Closed::OutsideHours { weekday: Sun })
    );
    // In spring the same hour does not exist: next Sunday 02:00 CEST.
    assert_opens(&w, tz, utc(2026, 3, 28, 23, 0, 0), utc(2026, 4, 5, 0, 0, 0));
}

// Australia/Lord_Howe, +10:30 standard and half an hour of DST: "Rule LH
// 2008 max Oct Sun>=1 2:00 0:30" (2026-10-04 02:00 +10:30, 2026-10-03
// 15:30 UTC, to 02:30 +11) and "Apr Sun>=1 2:00 0" (2026-04-05 02:00 +11,
// 2026-04-04 15:00 UTC, to 01:30 +10:30).
#[test]
fn lord_howe_half_hour_gap() {
    let tz = Australia::Lord_Howe;
    let inside = window(&[(Sun, &[(hm(2, 0), hm(2, 30))])], &[]);
    // The next Sunday 02:00 +11.
    assert_opens(
        &inside,
        tz,
        utc(2026, 10, 3, 15, 0, 0),
        utc(2026, 10, 10, 15, 0, 0),
    );
    let across = window(&[(Sun, &[(hm(2, 15), hm(3, 0))])], &[]);
    assert_opens(
        &across,
        tz,
        utc(2026, 10, 3, 15, 0, 0),
        utc(2026, 10, 3, 15, 30, 0),
    );
}

#[test]
fn lord_howe_half_hour_overlap() {
    let tz = Australia::Lord_Howe;
    let w = window(&[(Sun, &[(hm(1, 30), hm(1, 45))])], &[]);
    // 01:30 +11 is 14:30 UTC; 01:30 +10:30 is 15:00 UTC.
    assert_opens(
        &w,
        tz,
        utc(2026, 4, 4, 14, 0, 0),
        utc(2026, 4, 4, 14, 30, 0),
    );
    assert_opens(
        &w,
        tz,
        utc(2026, 4, 4, 14, 50, 0),
        utc(2026, 4, 4, 15, 0, 0),
    );
    assert!(w.is_open(utc(2026, 4, 4, 15, 14, 59), tz));
    assert!(!w.is_open(utc(2026, 4, 4, 15, 15, 0), tz));
}

// Pacific/Apia "-11:00 WS 2011 Dec 29 24:00" then "13:00 WS", on DST: at
// 2011-12-30 10:00 UTC Thursday 23:59:59 -10 became Saturday 00:00 +14;
// Friday 2011-12-30 never happened there.
#[test]
fn apia_skipped_friday() {
    let tz = Pacific::Apia;
    let friday = window(&[(Fri, &[(0, 1440)])], &[]);
    // The next Friday, 2012-01-06 00:00 +14.
    assert_opens(
        &friday,
        tz,
        utc(2011, 12, 30, 9, 0, 0),
        utc(2012, 1, 5, 10, 0, 0),
    );
    let saturday = window(&[(Sat, &[(0, hm(9, 0))])], &[]);
    assert_opens(
        &saturday,
        tz,
        utc(2011, 12, 30, 9, 0, 0),
        utc(2011, 12, 30, 10, 0, 0),
    );
    // Thursday's last second runs straight into Saturday.
    let both = window(&[(Thu, &[(0, 1440)]), (Sat, &[(0, 1440)])], &[]);
    assert!(both.is_open(utc(2011, 12, 30, 9, 59, 59), tz));
    assert!(both.is_open(utc(2011, 12, 30, 10, 0, 0), tz));
}

// Pacific/Kiritimati "-10:00 1994 Dec 31" then "14:00": Saturday
// 1994-12-31 was skipped (1994-12-31 10:00 UTC is 1995-01-01 00:00 +14).
#[test]
fn kiritimati_skipped_saturday() {
    let tz = Pacific::Kiritimati;
    let w = window(&[(Sat, &[(hm(9, 0), hm(17, 0))])], &[]);
    // 1995-01-07 09:00 +14.
    assert_opens(
        &w,
        tz,
        utc(1994, 12, 31, 9, 0, 0),
        utc(1995, 1, 6, 19, 0, 0),
    );
}

// America/Havana, "Rule Cuba 2013 max Mar Sun>=8 0:00s 1:00": local
// midnight of 2026-03-08 (05:00 UTC) never happens, Sunday starts at 01:00.
#[test]
fn havana_sunday_starts_at_one() {
    let tz = America::Havana;
    let w = window(&[(Sun, &[(0, 1440)])], &[]);
    assert_opens(&w, tz, utc(2026, 3, 8, 4, 0, 0), utc(2026, 3, 8, 5, 0, 0));
    let midnight = window(&[(Sun, &[(0, 30)])], &[]);
    // The next Sunday 00:00 -04.
    assert_opens(
        &midnight,
        tz,
        utc(2026, 3, 8, 4, 0, 0),
        utc(2026, 3, 15, 4, 0, 0),
    );
}

// America/Nuuk, -02 with EU rules at 01:00 UTC: on 2026-10-25 01:00 UTC
// Sunday 00:00 -01 goes back to Saturday 23:00 -02, so Saturday's last hour
// repeats and Sunday starts at 02:00 UTC.
#[test]
fn nuuk_fall_back_across_midnight() {
    let tz = America::Nuuk;
    let sunday = window(&[(Sun, &[(0, 1440)])], &[]);
    assert_opens(
        &sunday,
        tz,
        utc(2026, 10, 25, 0, 30, 0),
        utc(2026, 10, 25, 2, 0, 0),
    );
    assert!(!sunday.is_open(utc(2026, 10, 25, 1, 59, 59), tz));
    let saturday_night = window(&[(Sat, &[(hm(23, 0), 1440)])], &[]);
    assert!(saturday_night.is_open(utc(2026, 10, 25, 0, 59, 59), tz));
    assert!(saturday_night.is_open(utc(2026, 10, 25, 1, 0, 0), tz));
    // A holiday on that Saturday closes both occurrences.
    let holiday = window(&[(Sat, &[(hm(23, 0), 1440)])], &[date(2026, 10, 24)]);
    assert_eq!(
        holiday.closed_reason(utc(2026, 10, 25, 1, 30, 0), tz),
        Some(Closed::Holiday(date(2026, 10, 24)))
    );
    // In spring Saturday 23:00 -02 (2026-03-29 01:00 UTC) jumps to Sunday:
    // the next Saturday 23:00 -01 instead.
    assert_opens(
        &saturday_night,
        tz,
        utc(2026, 3, 28, 23, 0, 0),
        utc(2026, 4, 5, 0, 0, 0),
    );
}

#[test]
fn kolkata_half_hour_offset() {
    let tz = Asia::Kolkata;
    let w = window(&[(Mon, &[(hm(9, 0), hm(18, 0))])], &[]);
    // Monday 2026-03-09 08:30 IST; opens 09:00 IST = 03:30 UTC.
    assert_opens(&w, tz, utc(2026, 3, 9, 3, 0, 0), utc(2026, 3, 9, 3, 30, 0));
    assert!(w.is_open(utc(2026, 3, 9, 12, 29, 59), tz));
    assert_opens(
        &w,
        tz,
        utc(2026, 3, 9, 12, 30, 0),
        utc(2026, 3, 16, 3, 30, 0),
    );
    // Sunday 20:00 UTC is already Monday 01:30 in Kolkata.
    assert_eq!(
        w.closed_reason(utc(2026, 3, 8, 20, 0, 0), tz),
        Some(Closed::OutsideHours { weekday: Mon })
    );
}

#[test]
fn utc_holidays_skip_days() {
    let weekdays: &[(u16, u16)] = &[(hm(9, 0), hm(17, 0))];
    let w = window(
        &[
            (Mon, weekdays),
            (Tue, weekdays),
            (Wed, weekdays),
            (Thu, weekdays),
            (Fri, weekdays),
        ],
        &[date(2026, 12, 25)],
    );
    // Thursday evening, Friday the 25th a holiday: Monday 09:00.
    assert_opens(
        &w,
        Tz::UTC,
        utc(2026, 12, 24, 17, 0, 0),
        utc(2026, 12, 28, 9, 0, 0),
    );
    assert_eq!(
        w.closed_reason(utc(2026, 12, 25, 10, 0, 0), Tz::UTC),
        Some(Closed::Holiday(date(2026, 12, 25)))
    );
    assert_eq!(
        w.closed_reason(utc(2026, 12, 24, 16, 59, 59), Tz::UTC),
        None
    );
}

#[test]
fn open_instants_are_returned_as_given() {
    let at = utc(2026, 3, 8, 7, 0, 0) + Duration::milliseconds(250);
    assert_eq!(CallingWindow::always().next_opening(at, NY), Some(at));
    // A closed instant with a fraction: the opening is the next whole second.
    let w = window(&[(Sun, &[(hm(3, 0), hm(4, 0))])], &[]);
    let at = utc(2026, 3, 8, 6, 59, 59) + Duration::milliseconds(999);
    assert_eq!(w.next_opening(at, NY), Some(utc(2026, 3, 8, 7, 0, 0)));
}

#[test]
fn never_open_within_the_horizon() {
    let closed = CallingWindow::new(Default::default(), []).unwrap();
    assert_eq!(closed.next_opening(utc(2026, 1, 1, 0, 0, 0), NY), None);
    // Open on one date only, a year and a half away.
    let holidays: Vec<NaiveDate> = date(2026, 1, 1)
        .iter_days()
        .take(600)
        .filter(|&d| d != date(2027, 6, 1))
        .collect();
    let all_day: [Vec<(u16, u16)>; 7] = std::array::from_fn(|_| vec![(0, 1440)]);
    let w = CallingWindow::new(all_day, holidays).unwrap();
    assert_eq!(w.next_opening(utc(2026, 1, 1, 0, 0, 0), Tz::UTC), None);
    // Within 400 days of the start it is found.
    assert_eq!(
        w.next_opening(utc(2026, 6, 1, 0, 0, 0), Tz::UTC),
        Some(utc(2027, 6, 1, 0, 0, 0))
    );
}

#[test]
fn new_sorts_and_merges() {
    let w = window(
        &[(Mon, &[(600, 700), (540, 600), (650, 800), (900, 960)])],
        &[date(2026, 1, 1), date(2025, 1, 1), date(2026, 1, 1)],
    );
    assert_eq!(w.days[0], vec![(540, 800), (900, 960)]);
    assert_eq!(w.holidays, vec![date(2025, 1, 1), date(2026, 1, 1)]);
}

#[test]
fn new_rejects_bad_intervals() {
    let mut days: [Vec<(u16, u16)>; 7] = Default::default();
    days[1] = vec![(540, 1500)];
    let e = CallingWindow::new(days.clone(), []).unwrap_err();
    assert_eq!(
        e.to_string(),
        "tue: \"09:00-25:00\": end 25:00 is past 24:00"
    );
    days[1] = vec![(600, 540)];
    let e = CallingWindow::new(days.clone(), []).unwrap_err();
    assert_eq!(
        e.to_string(),
        "tue: \"10:00-09:00\": end 09:00 is before start 10:00"
    );
    days[1] = vec![(600, 600)];
    assert!(CallingWindow::new(days, []).is_err());
}

const SAMPLE: &str = r#"{"mon": ["09:00-12:30", "14:00-20:00"], "tue": ["09:00-20:00"],
    "sat": ["00:00-24:00"], "holidays": ["2026-12-25", "2027-01-01"]}"#;

#[test]
fn serde_round_trip_json_and_toml() {
    let w: CallingWindow = serde_json::from_str(SAMPLE).unwrap();
    assert_eq!(w.days[0], vec![(540, 750), (840, 1200)]);
    assert_eq!(w.days[5], vec![(0, 1440)]);
    assert!(w.days[2].is_empty(), "a missing key is a closed day");
    let json = serde_json::to_value(&w).unwrap();
    assert_eq!(
        json,
        serde_json::json!({"mon": ["09:00-12:30", "14:00-20:00"], "tue": ["09:00-20:00"],
            "wed": [], "thu": [], "fri": [], "sat": ["00:00-24:00"], "sun": [],
            "holidays": ["2026-12-25", "2027-01-01"]})
    );
    assert_eq!(serde_json::from_value::<CallingWindow>(json).unwrap(), w);
    let toml_text = toml::to_string(&w).unwrap();
    assert_eq!(toml::from_str::<CallingWindow>(&toml_text).unwrap(), w);
    let written = "mon = [\"9:00-12:30\"]\nholidays = [\"2026-12-25\"]\n";
    let from_toml: CallingWindow = toml::from_str(written).unwrap();
    assert_eq!(from_toml.days[0], vec![(540, 750)]);
    let always = serde_json::to_string(&CallingWindow::always()).unwrap();
    assert_eq!(
        serde_json::from_str::<CallingWindow>(&always).unwrap(),
        CallingWindow::always()
    );
}

#[test]
fn empty_form_is_closed_not_always() {
    let w: CallingWindow = serde_json::from_str("{}").unwrap();
    assert_ne!(w, CallingWindow::always());
    assert_eq!(w.next_opening(utc(2026, 1, 1, 0, 0, 0), NY), None);
}

#[test]
fn serde_errors_name_the_problem() {
    let err = |text: &str| {
        serde_json::from_str::<CallingWindow>(text)
            .unwrap_err()
            .to_string()
    };
    let cases = [
        (
            r#"{"tue": ["9:00-25:00"]}"#,
            r#"tue: "9:00-25:00": hour 25 is out of range"#,
        ),
        (
            r#"{"mon": ["09:75-10:00"]}"#,
            r#"mon: "09:75-10:00": minute 75 is out of range"#,
        ),
        (
            r#"{"wed": ["12:00-09:00"]}"#,
            r#"wed: "12:00-09:00": end 09:00 is before start 12:00"#,
        ),
        (
            r#"{"thu": ["10:00-10:00"]}"#,
            r#"thu: "10:00-10:00": the interval is empty"#,
        ),
        (
            r#"{"fri": ["23:00-24:30"]}"#,
            r#"fri: "23:00-24:30": 24:30 is past 24:00"#,
        ),
        (
            r#"{"sat": ["nine to five"]}"#,
            r#"sat: "nine to five": expected HH:MM-HH:MM"#,
        ),
        (r#"{"sun": ["9-17"]}"#, r#"sun: "9-17": "9" is not HH:MM"#),
        (r#"{"monday": ["09:00-17:00"]}"#, "unknown field `monday`"),
        (
            r#"{"holidays": ["2026-02-30"]}"#,
            r#"holidays: "2026-02-30": not a date as YYYY-MM-DD"#,
        ),
        (
            r#"{"holidays": ["25/12/2026"]}"#,
            r#"holidays: "25/12/2026": not a date as YYYY-MM-DD"#,
        ),
        (r#"{"mon": "09:00-17:00"}"#, "invalid type: string"),
    ];
    for (text, want) in cases {
        let got = err(text);
        assert!(got.contains(want), "{text}: got {got:?}, want {want:?}");
    }
    let toml_err = toml::from_str::<CallingWindow>("tue = [\"9:00-25:00\"]").unwrap_err();
    assert!(
        toml_err
            .to_string()
            .contains(r#"tue: "9:00-25:00": hour 25 is out of range"#)
    );
}

#[test]
fn closed_reason_serializes_for_the_audit() {
    let holiday = Closed::Holiday(date(2026, 12, 25));
    assert_eq!(
        serde_json::to_string(&holiday).unwrap(),
        r#"{"holiday":"2026-12-25"}"#
    );
    let hours = Closed::OutsideHours { weekday: Tue };
    assert_eq!(
        serde_json::to_string(&hours).unwrap(),
        r#"{"outside_hours":"tue"}"#
    );
    assert_eq!(hours.to_string(), "outside calling hours on tue");
}
