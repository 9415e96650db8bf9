//! Dispositions: the codes a campaign's agents close a call with, and what
//! each does to the task at the end of the wrap-up. Pure: the dialer holds
//! the wrap-up and writes the result.

use crate::store::{DncEntry, Task, TaskNext};
use serde::{Deserialize, Serialize};

/// The furthest ahead a callback may be set.
pub const MAX_CALLBACK_AHEAD_MS: i64 = 90 * 86_400_000;
/// Notes longer than this are refused (they are for the next caller, not
/// for transcripts).
pub const MAX_NOTES: usize = 2_000;

/// What a disposition does to its task.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    /// Closed as done.
    Done,
    /// Tried again after `retry_seconds`.
    Retry,
    /// Called back at the time the agent chose (for that agent, or for the
    /// campaign's pool).
    Callback,
    /// The number goes on the campaign's do-not-call list; the task closes.
    DoNotCall,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DispositionCode {
    pub code: String,
    pub label: String,
    pub action: Action,
    /// For `retry`: the delay (one hour if not given).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry_seconds: Option<f64>,
}

impl DispositionCode {
    fn new(code: &str, label: &str, action: Action) -> DispositionCode {
        DispositionCode {
            code: code.into(),
            label: label.into(),
            action,
            retry_seconds: None,
        }
    }
}

/// The codes a campaign gets unless it names its own.
pub fn default_codes() -> Vec<DispositionCode> {
    vec![
        DispositionCode::new("sale", "Sale", Action::Done),
        DispositionCode::new("interested", "Interested", Action::Done),
        DispositionCode::new("not_interested", "Not interested", Action::Done),
        DispositionCode::new("callback", "Call back", Action::Callback),
        DispositionCode::new("retry", "Try again later", Action::Retry),
        DispositionCode::new("do_not_call", "Do not call again", Action::DoNotCall),
    ]
}

/// A code or a pause reason: short, lowercase, safe in logs and URLs.
pub fn valid_code(c: &str) -> bool {
    (1..=32).contains(&c.len())
        && c.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-')
}

/// The reasons an agent page offers for a pause (any valid code is
/// accepted through the API).
pub const PAUSE_REASONS: &[&str] = &[
    "break",
    "lunch",
    "meeting",
    "training",
    "technical",
    "other",
];

/// What the agent sent at the end of the wrap-up.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Given {
    pub code: String,
    pub notes: Option<String>,
    pub callback_ms: Option<i64>,
    /// The callback is for this agent (else for the pool).
    pub callback_mine: bool,
}

/// A disposition refused, with the field it is about.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Refused {
    pub field: &'static str,
    pub message: String,
}

fn refused(field: &'static str, message: impl Into<String>) -> Refused {
    Refused {
        field,
        message: message.into(),
    }
}

/// What the task becomes, and the do-not-call entry to add if any.
pub fn settle(
    codes: &[DispositionCode],
    given: &Given,
    task: &Task,
    agent_id: &str,
    grace_ms: i64,
    now: i64,
) -> Result<(TaskNext, Option<DncEntry>), Refused> {
    let code = codes.iter().find(|c| c.code == given.code).ok_or_else(|| {
        let known: Vec<&str> = codes.iter().map(|c| c.code.as_str()).collect();
        refused(
            "code",
            format!(
                "{:?} is not one of this campaign's codes ({})",
                given.code,
                known.join(", ")
            ),
        )
    })?;
    if given
        .notes
        .as_ref()
        .is_some_and(|n| n.chars().count() > MAX_NOTES)
    {
        return Err(refused("notes", format!("at most {MAX_NOTES} characters")));
    }
    Ok(match code.action {
        Action::Done => (TaskNext::Done, None),
        Action::Retry => {
            let delay = code.retry_seconds.unwrap_or(3_600.0);
            (TaskNext::RetryAt(now + (delay * 1000.0) as i64), None)
        }
        Action::Callback => {
            let at = given
                .callback_ms
                .ok_or_else(|| refused("callback_at", "a callback needs its time"))?;
            if at < now - 60_000 || at > now + MAX_CALLBACK_AHEAD_MS {
                return Err(refused("callback_at", "must be from now to 90 days ahead"));
            }
            let at = at.max(now);
            let agent = given
                .callback_mine
                .then(|| (agent_id.to_string(), at + grace_ms));
            (TaskNext::Callback { at_ms: at, agent }, None)
        }
        Action::DoNotCall => (
            TaskNext::Refused(crate::store::TaskStatus::DoNotCall),
            Some(DncEntry {
                phone: task.phone.clone(),
                campaign_id: Some(task.campaign_id.clone()),
                reason: Some(format!("disposition {}", code.code)),
                added_ms: now,
            }),
        ),
    })
}

/// Checks a campaign's own list of codes.
pub fn check_codes(codes: &[DispositionCode]) -> Result<(), (String, String)> {
    let mut seen = std::collections::HashSet::new();
    for (i, c) in codes.iter().enumerate() {
        let field = format!("dispositions[{i}]");
        if !valid_code(&c.code) {
            return Err((
                format!("{field}.code"),
                format!("{:?} is not a code (1 to 32 of a-z 0-9 _ -)", c.code),
            ));
        }
        if !seen.insert(c.code.as_str()) {
            return Err((
                format!("{field}.code"),
                format!("{:?} is given twice", c.code),
            ));
        }
        if c.label.trim().is_empty() || c.label.chars().count() > 64 {
            return Err((format!("{field}.label"), "1 to 64 characters".into()));
        }
        if let Some(s) = c.retry_seconds
            && !(0.0..=super::settings::MAX_RETRY_DELAY_SECONDS).contains(&s)
        {
            return Err((
                format!("{field}.retry_seconds"),
                "must be 0 to 2592000 (30 days)".into(),
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn task() -> Task {
        Task {
            id: 7,
            campaign_id: "c".into(),
            phone: "+12127360001".into(),
            ..Task::default()
        }
    }

    fn given(code: &str) -> Given {
        Given {
            code: code.into(),
            ..Given::default()
        }
    }

    #[test]
    fn each_action_settles_the_task_its_way() {
        let codes = default_codes();
        let now = 1_000_000;
        let s = |g: &Given| settle(&codes, g, &task(), "a1", 300_000, now);
        assert_eq!(s(&given("sale")), Ok((TaskNext::Done, None)));
        assert_eq!(
            s(&given("retry")),
            Ok((TaskNext::RetryAt(now + 3_600_000), None))
        );
        let (next, dnc) = s(&given("do_not_call")).unwrap();
        assert_eq!(next, TaskNext::Refused(crate::store::TaskStatus::DoNotCall));
        let dnc = dnc.unwrap();
        assert_eq!(
            (dnc.phone.as_str(), dnc.campaign_id.as_deref()),
            ("+12127360001", Some("c"))
        );
        let mut cb = given("callback");
        assert_eq!(s(&cb).unwrap_err().field, "callback_at");
        cb.callback_ms = Some(now + 60_000);
        assert_eq!(
            s(&cb),
            Ok((
                TaskNext::Callback {
                    at_ms: now + 60_000,
                    agent: None
                },
                None
            ))
        );
        cb.callback_mine = true;
        assert_eq!(
            s(&cb),
            Ok((
                TaskNext::Callback {
                    at_ms: now + 60_000,
                    agent: Some(("a1".into(), now + 360_000))
                },
                None
            ))
        );
        cb.callback_ms = Some(now + MAX_CALLBACK_AHEAD_MS + 1);
        assert_eq!(s(&cb).unwrap_err().field, "callback_at");
        assert_eq!(s(&given("nope")).unwrap_err().field, "code");
        let mut long = given("sale");
        long.notes = Some("x".repeat(MAX_NOTES + 1));
        assert_eq!(s(&long).unwrap_err().field, "notes");
    }

    #[test]
    fn a_campaign_s_codes_are_checked() {
        assert_eq!(check_codes(&default_codes()), Ok(()));
        let mut twice = default_codes();
        twice.push(DispositionCode::new("sale", "Again", Action::Done));
        assert_eq!(check_codes(&twice).unwrap_err().0, "dispositions[6].code");
        let bad = vec![DispositionCode::new("Sale!", "x", Action::Done)];
        assert_eq!(check_codes(&bad).unwrap_err().0, "dispositions[0].code");
    }
}
