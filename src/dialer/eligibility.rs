//! May this task be dialed now? A pure judgement over the task, its
//! campaign's settings, the do-not-call entry for its number and the
//! clock, made before every dial; its answer is written down with its
//! reason (the compliance record).

use super::claim::valid_phone;
use super::window::Closed;
use crate::campaign::CampaignSettings;
use crate::store::{DncEntry, Task, TaskStatus};
use chrono::{DateTime, TimeZone, Utc};
use chrono_tz::Tz;

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Judgement {
    Dial,
    /// Not now: due again at `until_ms`.
    Defer {
        until_ms: i64,
        reason: &'static str,
        detail: String,
    },
    /// Never: the task is closed with `status`.
    Refuse {
        status: TaskStatus,
        reason: &'static str,
        detail: String,
    },
}

/// The zone the task's customer is called in: the task's own, else the
/// campaign's (the number's, where its country has one zone, was filled in
/// when the task was added).
pub fn zone_of(task: &Task, settings: &CampaignSettings) -> Tz {
    task.time_zone
        .as_deref()
        .and_then(|z| z.parse().ok())
        .unwrap_or_else(|| settings.zone())
}

fn instant(ms: i64) -> DateTime<Utc> {
    Utc.timestamp_millis_opt(ms)
        .single()
        .unwrap_or(DateTime::<Utc>::MIN_UTC)
}

pub fn judge(
    task: &Task,
    settings: &CampaignSettings,
    dnc: Option<&DncEntry>,
    now_ms: i64,
) -> Judgement {
    if let Some(e) = dnc {
        return Judgement::Refuse {
            status: TaskStatus::DoNotCall,
            reason: "do_not_call",
            detail: match &e.campaign_id {
                Some(c) => format!("on campaign {c}'s do-not-call list"),
                None => "on the global do-not-call list".into(),
            },
        };
    }
    if !valid_phone(&task.phone) {
        return Judgement::Refuse {
            status: TaskStatus::Failed,
            reason: "invalid_number",
            detail: "not a number that may enter a dial string".into(),
        };
    }
    let expired = |detail: String| Judgement::Refuse {
        status: TaskStatus::Expired,
        reason: "expired",
        detail,
    };
    if let Some(end) = task.not_after_ms
        && now_ms >= end
    {
        return expired(format!(
            "not_after {} has passed",
            instant(end).to_rfc3339()
        ));
    }
    if let Some(start) = task.not_before_ms
        && now_ms < start
    {
        return Judgement::Defer {
            until_ms: start,
            reason: "not_before",
            detail: format!("not before {}", instant(start).to_rfc3339()),
        };
    }
    let Some(window) = &settings.calling_window else {
        return Judgement::Dial;
    };
    let tz = zone_of(task, settings);
    let now = instant(now_ms);
    let Some(why) = window.closed_reason(now, tz) else {
        return Judgement::Dial;
    };
    let (reason, what) = match why {
        Closed::Holiday(d) => ("holiday", format!("{d} is a holiday")),
        Closed::OutsideHours { weekday } => {
            ("outside_window", format!("outside {weekday}'s hours"))
        }
    };
    match window.next_opening(now, tz) {
        Some(open)
            if task
                .not_after_ms
                .is_none_or(|end| open.timestamp_millis() < end) =>
        {
            Judgement::Defer {
                until_ms: open.timestamp_millis(),
                reason,
                detail: format!(
                    "{what} in {tz}; opens {}",
                    open.with_timezone(&tz).to_rfc3339()
                ),
            }
        }
        Some(open) => expired(format!(
            "{what} in {tz}; the window opens {}, after not_after",
            open.with_timezone(&tz).to_rfc3339()
        )),
        None => Judgement::Refuse {
            status: TaskStatus::Failed,
            reason: "window_never_opens",
            detail: format!("the calling window has no opening in {tz} within 400 days"),
        },
    }
}
