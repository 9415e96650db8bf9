//! A campaign's calling window, read on the customer's wall clock: pure,
//! every function is handed the instant it is asked about.
//!
//! The law speaks of the hours the customer lives by, so "open" is defined
//! by the local weekday, minute of day and date (for holidays) that the
//! customer's zone shows at the instant, and by nothing else. Around a
//! change of offset that has consequences a UTC schedule would get wrong:
//! an opening time that a spring-forward gap skips opens at the first
//! instant after the gap (an interval wholly inside the gap does not open
//! that day), and in a fall-back overlap the repeated local hour is open in
//! both of its occurrences.
//!
//! [`CallingWindow::next_opening`] is exact with respect to
//! [`CallingWindow::is_open`] at whole-second granularity: offsets and
//! their changes fall on whole seconds, so the set of open instants is a
//! union of runs `[a, b)` with `a` a whole second, and the next opening is
//! the `a` of the next run. A task made due there is never early and never
//! waits a poll.

use chrono::{
    DateTime, Datelike, NaiveDate, NaiveDateTime, Offset, TimeZone, Timelike, Utc, Weekday,
};
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};
use std::fmt;

const DAY_KEYS: [&str; 7] = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];
const MINUTES_PER_DAY: u16 = 24 * 60;
const SECONDS_PER_DAY: i64 = 86_400;
/// A window closed for longer than this (no opening days, or only holidays)
/// is treated as never opening, so that a bad configuration costs a bounded
/// search rather than a walk to the end of time.
pub const HORIZON_DAYS: i64 = 400;
/// The offset is probed at most this far apart; in between it is taken to
/// have changed at most once (a bisection finds the change). No zone changes
/// offset twice within a day in the years a dialer looks at (tzdata's rule
/// changes are months apart; a test scans every zone for 2025-2028).
const PROBE_SECONDS: i64 = SECONDS_PER_DAY;

/// Calling hours per weekday in local time, and holidays closed all day.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "WindowSpec", into = "WindowSpec")]
pub struct CallingWindow {
    /// Monday first: sorted, non-overlapping, non-adjacent `[start, end)`
    /// minutes from local midnight, `end` at most 1440.
    days: [Vec<(u16, u16)>; 7],
    /// Sorted, without repeats: looked up by binary search.
    holidays: Vec<NaiveDate>,
}

/// Why a window is closed at an instant, for the audit record of a call
/// that was not placed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Closed {
    Holiday(NaiveDate),
    OutsideHours { weekday: Weekday },
}

impl fmt::Display for Closed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Closed::Holiday(date) => write!(f, "holiday {date}"),
            Closed::OutsideHours { weekday } => {
                write!(f, "outside calling hours on {}", day_key(*weekday))
            }
        }
    }
}

impl Serialize for Closed {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let mut map = s.serialize_map(Some(1))?;
        match self {
            Closed::Holiday(date) => map.serialize_entry("holiday", &date.to_string())?,
            Closed::OutsideHours { weekday } => {
                map.serialize_entry("outside_hours", day_key(*weekday))?
            }
        }
        map.end()
    }
}

#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum WindowError {
    /// `day` is the weekday's key (`mon`..`sun`), `interval` as written.
    #[error("{day}: \"{interval}\": {problem}")]
    Interval {
        day: &'static str,
        interval: String,
        problem: String,
    },
    #[error("holidays: \"{date}\": {problem}")]
    Holiday { date: String, problem: String },
}

impl CallingWindow {
    /// Open at every instant: the default for campaigns that set no window.
    pub fn always() -> CallingWindow {
        CallingWindow {
            days: std::array::from_fn(|_| vec![(0, MINUTES_PER_DAY)]),
            holidays: Vec::new(),
        }
    }

    /// Intervals are `[start, end)` minutes from local midnight (`end` up to
    /// 1440); overlapping or touching intervals of a day are merged.
    pub fn new(
        days: [Vec<(u16, u16)>; 7],
        holidays: impl IntoIterator<Item = NaiveDate>,
    ) -> Result<CallingWindow, WindowError> {
        let mut merged: [Vec<(u16, u16)>; 7] = Default::default();
        for (i, (mut day, out)) in days.into_iter().zip(merged.iter_mut()).enumerate() {
            for &(start, end) in &day {
                check_interval(start, end).map_err(|problem| WindowError::Interval {
                    day: DAY_KEYS[i],
                    interval: format!("{}-{}", clock(start), clock(end)),
                    problem,
                })?;
            }
            day.sort_unstable();
            for (start, end) in day {
                match out.last_mut() {
                    Some(last) if start <= last.1 => last.1 = last.1.max(end),
                    _ => out.push((start, end)),
                }
            }
        }
        let mut holidays: Vec<NaiveDate> = holidays.into_iter().collect();
        holidays.sort_unstable();
        holidays.dedup();
        Ok(CallingWindow {
            days: merged,
            holidays,
        })
    }

    pub fn is_open(&self, at: DateTime<Utc>, tz: Tz) -> bool {
        self.closed_reason(at, tz).is_none()
    }

    /// Why the window is closed at `at`; `None` when it is open.
    pub fn closed_reason(&self, at: DateTime<Utc>, tz: Tz) -> Option<Closed> {
        self.closed_at_local(at.with_timezone(&tz).naive_local())
    }

    /// `at` itself when open; else the first instant after `at` at which
    /// [`is_open`](Self::is_open) is true (a whole second); `None` when the
    /// window does not open within [`HORIZON_DAYS`] of `at`.
    pub fn next_opening(&self, at: DateTime<Utc>, tz: Tz) -> Option<DateTime<Utc>> {
        if self.is_open(at, tz) {
            return Some(at);
        }
        if self.days.iter().all(Vec::is_empty) {
            return None;
        }
        // Closed at `at` means closed for its whole second (local minutes
        // begin on whole seconds), so the search may start at the second.
        let mut from = at.timestamp();
        let limit = from.checked_add(HORIZON_DAYS * SECONDS_PER_DAY)?;
        let mut offset = offset_at(tz, from)?;
        // Each step is a stretch [from, to) of one offset, where local time
        // is UTC shifted by it, so the first open local second of the
        // stretch is the first open instant of it.
        while from < limit {
            let probe = from.saturating_add(PROBE_SECONDS).min(limit);
            let probe_offset = offset_at(tz, probe)?;
            let to = if probe_offset == offset {
                probe
            } else {
                first_change(tz, from, probe, offset)?
            };
            if let Some(local) = self.first_open_local(from + offset, to + offset) {
                return DateTime::from_timestamp(local - offset, 0);
            }
            offset = if to == probe {
                probe_offset
            } else {
                offset_at(tz, to)?
            };
            from = to;
        }
        None
    }

    fn closed_at_local(&self, local: NaiveDateTime) -> Option<Closed> {
        let date = local.date();
        if self.holidays.binary_search(&date).is_ok() {
            return Some(Closed::Holiday(date));
        }
        let weekday = date.weekday();
        // Seconds never matter: intervals are whole minutes.
        let minute = (local.hour() * 60 + local.minute()) as u16;
        let open = self.days[weekday.num_days_from_monday() as usize]
            .iter()
            .any(|&(start, end)| start <= minute && minute < end);
        (!open).then_some(Closed::OutsideHours { weekday })
    }

    /// The first second in `[from, to)` of local time (seconds since the
    /// local epoch) that is open, walking the local dates it spans.
    fn first_open_local(&self, from: i64, to: i64) -> Option<i64> {
        let mut day = from.div_euclid(SECONDS_PER_DAY);
        while day * SECONDS_PER_DAY < to {
            let midnight = day * SECONDS_PER_DAY;
            let date = local_date(day)?;
            if self.holidays.binary_search(&date).is_err() {
                let intervals = &self.days[date.weekday().num_days_from_monday() as usize];
                for &(start, end) in intervals {
                    let start = midnight + i64::from(start) * 60;
                    let end = midnight + i64::from(end) * 60;
                    let candidate = start.max(from);
                    if candidate >= to {
                        return None;
                    }
                    if candidate < end {
                        return Some(candidate);
                    }
                }
            }
            day += 1;
        }
        None
    }
}

/// The zone's offset (local minus UTC, seconds) at a UTC second.
fn offset_at(tz: Tz, utc: i64) -> Option<i64> {
    let at = DateTime::from_timestamp(utc, 0)?;
    Some(i64::from(
        tz.offset_from_utc_datetime(&at.naive_utc())
            .fix()
            .local_minus_utc(),
    ))
}

/// The first second in `(from, to]` whose offset is not `offset`, given that
/// `from` has it and `to` does not.
fn first_change(tz: Tz, mut from: i64, mut to: i64, offset: i64) -> Option<i64> {
    while to - from > 1 {
        let mid = from + (to - from) / 2;
        if offset_at(tz, mid)? == offset {
            from = mid;
        } else {
            to = mid;
        }
    }
    Some(to)
}

fn local_date(day: i64) -> Option<NaiveDate> {
    // 719_163 days separate 0001-01-01 from 1970-01-01.
    NaiveDate::from_num_days_from_ce_opt(i32::try_from(day.checked_add(719_163)?).ok()?)
}

fn day_key(weekday: Weekday) -> &'static str {
    DAY_KEYS[weekday.num_days_from_monday() as usize]
}

/// Minutes from midnight as `HH:MM` (1440 is `24:00`).
fn clock(minutes: u16) -> String {
    format!("{:02}:{:02}", minutes / 60, minutes % 60)
}

fn check_interval(start: u16, end: u16) -> Result<(), String> {
    if end > MINUTES_PER_DAY {
        Err(format!("end {} is past 24:00", clock(end)))
    } else if end == start {
        Err("the interval is empty (end equals start)".into())
    } else if end < start {
        Err(format!(
            "end {} is before start {}",
            clock(end),
            clock(start)
        ))
    } else {
        Ok(())
    }
}

fn parse_interval(text: &str) -> Result<(u16, u16), String> {
    let (start, end) = text
        .split_once('-')
        .ok_or_else(|| "expected HH:MM-HH:MM".to_string())?;
    let (start, end) = (parse_clock(start.trim())?, parse_clock(end.trim())?);
    check_interval(start, end)?;
    Ok((start, end))
}

fn parse_clock(text: &str) -> Result<u16, String> {
    let not_clock = || format!("\"{text}\" is not HH:MM");
    let (h, m) = text.split_once(':').ok_or_else(not_clock)?;
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    if !digits(h) || h.len() > 2 || !digits(m) || m.len() != 2 {
        return Err(not_clock());
    }
    let (h, m): (u16, u16) = (
        h.parse().map_err(|_| not_clock())?,
        m.parse().map_err(|_| not_clock())?,
    );
    if h > 24 {
        Err(format!("hour {h} is out of range"))
    } else if m > 59 {
        Err(format!("minute {m} is out of range"))
    } else if h == 24 && m != 0 {
        Err(format!("{text} is past 24:00"))
    } else {
        Ok(h * 60 + m)
    }
}

/// The written form: a list of `HH:MM-HH:MM` per weekday key (a missing key
/// is a closed day) and holidays as `YYYY-MM-DD`.
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct WindowSpec {
    #[serde(default)]
    mon: Vec<String>,
    #[serde(default)]
    tue: Vec<String>,
    #[serde(default)]
    wed: Vec<String>,
    #[serde(default)]
    thu: Vec<String>,
    #[serde(default)]
    fri: Vec<String>,
    #[serde(default)]
    sat: Vec<String>,
    #[serde(default)]
    sun: Vec<String>,
    #[serde(default)]
    holidays: Vec<String>,
}

impl TryFrom<WindowSpec> for CallingWindow {
    type Error = WindowError;

    fn try_from(spec: WindowSpec) -> Result<CallingWindow, WindowError> {
        let WindowSpec {
            mon,
            tue,
            wed,
            thu,
            fri,
            sat,
            sun,
            holidays,
        } = spec;
        let mut days: [Vec<(u16, u16)>; 7] = Default::default();
        for (i, (texts, out)) in [mon, tue, wed, thu, fri, sat, sun]
            .into_iter()
            .zip(days.iter_mut())
            .enumerate()
        {
            for text in texts {
                let interval = parse_interval(&text).map_err(|problem| WindowError::Interval {
                    day: DAY_KEYS[i],
                    interval: text.clone(),
                    problem,
                })?;
                out.push(interval);
            }
        }
        let holidays = holidays
            .into_iter()
            .map(|text| {
                NaiveDate::parse_from_str(text.trim(), "%Y-%m-%d").map_err(|e| {
                    WindowError::Holiday {
                        problem: format!("not a date as YYYY-MM-DD ({e})"),
                        date: text,
                    }
                })
            })
            .collect::<Result<Vec<_>, _>>()?;
        CallingWindow::new(days, holidays)
    }
}

impl From<CallingWindow> for WindowSpec {
    fn from(w: CallingWindow) -> WindowSpec {
        let [mon, tue, wed, thu, fri, sat, sun] = w.days.map(|day| {
            day.into_iter()
                .map(|(start, end)| format!("{}-{}", clock(start), clock(end)))
                .collect()
        });
        WindowSpec {
            mon,
            tue,
            wed,
            thu,
            fri,
            sat,
            sun,
            holidays: w.holidays.iter().map(NaiveDate::to_string).collect(),
        }
    }
}

#[cfg(test)]
mod proptests;
#[cfg(test)]
mod tests;
