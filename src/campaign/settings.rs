//! A campaign's settings, as JSON in the store and in the API, and as TOML
//! in a config file that seeds them. Every check names the field it failed.

use crate::dialer::policy::Outcome;
use crate::dialer::window::CallingWindow;
use serde::{Deserialize, Serialize};

/// Thirty days between attempts.
pub const MAX_RETRY_DELAY_SECONDS: f64 = 30.0 * 86_400.0;
/// A day: longer wrap-ups are a typo.
pub const MAX_WRAP_UP_SECONDS: f64 = 86_400.0;

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct CampaignSettings {
    pub selection: Selection,
    /// When customers may be called, in their own time zone; none: at any
    /// hour.
    pub calling_window: Option<CallingWindow>,
    /// ISO 3166 region for numbers written without a country code.
    pub region: String,
    /// The customers' zone when neither the task nor its number gives one.
    pub time_zone: String,
    pub retry: RetryPolicy,
    /// None: the dialer's default.
    pub wrap_up_seconds: Option<f64>,
    /// The wrap-up lasts until the agent gives a disposition (up to
    /// `MAX_WRAP_UP_SECONDS`), instead of ending at `wrap_up_seconds`.
    pub disposition_required: bool,
    /// The codes agents close calls with (the defaults if not given).
    pub dispositions: Vec<super::disposition::DispositionCode>,
    /// How long an agent-bound callback waits for its agent before the
    /// pool may take it.
    pub callback_grace_seconds: f64,
    /// When the pop goes: at the answer, or while the customer's phone
    /// rings (updated in place at the answer).
    pub pop_trigger: PopTrigger,
    /// Conditions on the customer's fields, all of which must hold for an
    /// answered call to pop (none: every call pops).
    pub pop_filters: Vec<super::pop_rules::PopFilter>,
    /// The pop's template, by agent level (none: the built-in one).
    #[serde(skip_serializing_if = "crate::popup::template::TemplateChoice::is_empty")]
    pub templates: crate::popup::template::TemplateChoice,
    /// The dialing mode, lines per agent, abandon cap, machines, pacing.
    pub dialing: super::dialing::DialingSettings,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PopTrigger {
    #[default]
    Answer,
    Ringing,
}

impl Default for CampaignSettings {
    fn default() -> Self {
        CampaignSettings {
            selection: Selection::default(),
            calling_window: None,
            region: "US".into(),
            time_zone: "UTC".into(),
            retry: RetryPolicy::default(),
            wrap_up_seconds: None,
            disposition_required: false,
            dispositions: super::disposition::default_codes(),
            callback_grace_seconds: 300.0,
            pop_trigger: PopTrigger::Answer,
            pop_filters: Vec::new(),
            templates: Default::default(),
            dialing: Default::default(),
        }
    }
}

/// Which of its tasks a campaign takes.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Selection {
    /// A task with any of these tags (none: every task).
    pub include_tags: Vec<String>,
    /// No task with any of these tags.
    pub exclude_tags: Vec<String>,
    pub min_priority: Option<i64>,
    pub max_priority: Option<i64>,
    /// Only tasks due at or after this time (ms since the epoch).
    pub due_from_ms: Option<i64>,
    /// Only tasks due before this time (ms since the epoch).
    pub due_until_ms: Option<i64>,
}

/// How each kind of unsuccessful attempt is tried again.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RetryPolicy {
    pub busy: RetryRule,
    pub no_answer: RetryRule,
    /// The customer's side failed (rejected, congestion, out of order).
    pub failed: RetryRule,
    /// Answered with no agent to take it (the predictive modes).
    pub abandoned: RetryRule,
    /// An answering machine picked up.
    pub machine: RetryRule,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        let rule = |max_attempts, delay_seconds| RetryRule {
            max_attempts,
            delay_seconds,
            backoff: 1.0,
        };
        RetryPolicy {
            busy: rule(3, 300.0),
            no_answer: rule(3, 1800.0),
            failed: rule(1, 0.0),
            abandoned: rule(3, 60.0),
            machine: rule(2, 3600.0),
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RetryRule {
    /// Attempts in all, after which this outcome fails the task.
    pub max_attempts: u32,
    /// Before the second attempt.
    pub delay_seconds: f64,
    /// Each further delay is the one before times this (1: constant).
    #[serde(default = "one")]
    pub backoff: f64,
}

fn one() -> f64 {
    1.0
}

impl RetryPolicy {
    /// The rule for an outcome; None for outcomes that are never retried
    /// by rule (answered, not placed).
    pub fn rule(&self, o: Outcome) -> Option<&RetryRule> {
        match o {
            Outcome::Busy => Some(&self.busy),
            // Lost in a reconnect: most likely it rang out.
            Outcome::NoAnswer | Outcome::Vanished => Some(&self.no_answer),
            Outcome::Failed => Some(&self.failed),
            Outcome::Abandoned => Some(&self.abandoned),
            Outcome::Machine => Some(&self.machine),
            Outcome::Answered | Outcome::NotPlaced => None,
        }
    }
}

impl RetryRule {
    /// The delay before the attempt after `attempts` made, in ms.
    pub fn delay_ms(&self, attempts: u32) -> i64 {
        let n = attempts.saturating_sub(1).min(64) as i32;
        let s = self.delay_seconds * self.backoff.powi(n);
        (s.min(MAX_RETRY_DELAY_SECONDS) * 1000.0) as i64
    }
}

/// A setting that is wrong: which one, and why.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {message}")]
pub struct FieldError {
    pub field: String,
    pub message: String,
}

pub fn field_error(field: impl Into<String>, message: impl Into<String>) -> FieldError {
    FieldError {
        field: field.into(),
        message: message.into(),
    }
}

impl CampaignSettings {
    /// The defaults, with busy and unanswered calls (and those lost in a
    /// reconnect) tried `max_attempts` times in all, `delay_seconds` apart.
    pub fn with_retries(max_attempts: u32, delay_seconds: f64) -> CampaignSettings {
        let mut s = CampaignSettings::default();
        for r in [&mut s.retry.busy, &mut s.retry.no_answer] {
            r.max_attempts = max_attempts;
            r.delay_seconds = delay_seconds;
        }
        s
    }

    pub fn validate(&self) -> Result<(), FieldError> {
        let s = &self.selection;
        for (name, tags) in [
            ("selection.include_tags", &s.include_tags),
            ("selection.exclude_tags", &s.exclude_tags),
        ] {
            if let Some(t) = tags.iter().find(|t| !valid_tag(t)) {
                return Err(field_error(
                    name,
                    format!("{t:?} is not a tag (1 to 64 of a-z 0-9 - _ .)"),
                ));
            }
        }
        if let (Some(lo), Some(hi)) = (s.min_priority, s.max_priority)
            && lo > hi
        {
            return Err(field_error(
                "selection.min_priority",
                "is above max_priority",
            ));
        }
        if self.region.parse::<phonenumber::country::Id>().is_err() {
            return Err(field_error(
                "region",
                format!(
                    "{:?} is not an ISO 3166 region the numbering plan knows",
                    self.region
                ),
            ));
        }
        if self.time_zone.parse::<chrono_tz::Tz>().is_err() {
            return Err(field_error(
                "time_zone",
                format!("{:?} is not an IANA time zone", self.time_zone),
            ));
        }
        for (name, r) in [
            ("busy", &self.retry.busy),
            ("no_answer", &self.retry.no_answer),
            ("failed", &self.retry.failed),
            ("abandoned", &self.retry.abandoned),
            ("machine", &self.retry.machine),
        ] {
            if !(1..=100).contains(&r.max_attempts) {
                return Err(field_error(
                    format!("retry.{name}.max_attempts"),
                    "must be 1 to 100",
                ));
            }
            if !(0.0..=MAX_RETRY_DELAY_SECONDS).contains(&r.delay_seconds) {
                return Err(field_error(
                    format!("retry.{name}.delay_seconds"),
                    "must be 0 to 2592000 (30 days)",
                ));
            }
            if !(1.0..=10.0).contains(&r.backoff) {
                return Err(field_error(
                    format!("retry.{name}.backoff"),
                    "must be 1 to 10",
                ));
            }
        }
        if let Some(w) = self.wrap_up_seconds
            && !(0.0..=MAX_WRAP_UP_SECONDS).contains(&w)
        {
            return Err(field_error("wrap_up_seconds", "must be 0 to 86400"));
        }
        self.dialing.validate()?;
        if self.dispositions.is_empty() {
            return Err(field_error("dispositions", "give at least one code"));
        }
        if let Err((field, message)) = super::disposition::check_codes(&self.dispositions) {
            return Err(field_error(field, message));
        }
        if !(0.0..=MAX_WRAP_UP_SECONDS).contains(&self.callback_grace_seconds) {
            return Err(field_error("callback_grace_seconds", "must be 0 to 86400"));
        }
        if let Err((field, message)) = super::pop_rules::check(&self.pop_filters) {
            return Err(field_error(field, message));
        }
        if let Err(message) = self.templates.check() {
            return Err(field_error("templates", message));
        }
        Ok(())
    }

    /// The parsed zone (validated on the way in; UTC if it was not).
    pub fn zone(&self) -> chrono_tz::Tz {
        self.time_zone.parse().unwrap_or(chrono_tz::UTC)
    }
}

/// A task tag: short, lowercase, safe in a LIKE-free substring match.
pub fn valid_tag(t: &str) -> bool {
    (1..=64).contains(&t.len())
        && t.bytes().all(|b| {
            b.is_ascii_lowercase() || b.is_ascii_digit() || matches!(b, b'-' | b'_' | b'.')
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_valid_and_round_trip() {
        let s = CampaignSettings::default();
        assert_eq!(s.validate(), Ok(()));
        let json = serde_json::to_string(&s).unwrap();
        assert_eq!(serde_json::from_str::<CampaignSettings>(&json).unwrap(), s);
    }

    #[test]
    fn bad_settings_name_their_field() {
        let mut s = CampaignSettings::default();
        s.retry.busy.max_attempts = 0;
        assert_eq!(s.validate().unwrap_err().field, "retry.busy.max_attempts");
        let s = CampaignSettings {
            time_zone: "Mars/Olympus".into(),
            ..CampaignSettings::default()
        };
        assert_eq!(s.validate().unwrap_err().field, "time_zone");
        let s = CampaignSettings {
            region: "XX".into(),
            ..CampaignSettings::default()
        };
        assert_eq!(s.validate().unwrap_err().field, "region");
        let mut s = CampaignSettings::default();
        s.selection.include_tags = vec!["Bad Tag".into()];
        assert_eq!(s.validate().unwrap_err().field, "selection.include_tags");
        assert!(serde_json::from_str::<CampaignSettings>(r#"{"retry": {"bussy": {}}}"#).is_err());
    }

    #[test]
    fn delays_back_off() {
        let r = RetryRule {
            max_attempts: 5,
            delay_seconds: 60.0,
            backoff: 2.0,
        };
        assert_eq!(r.delay_ms(1), 60_000);
        assert_eq!(r.delay_ms(2), 120_000);
        assert_eq!(r.delay_ms(3), 240_000);
        let huge = RetryRule { backoff: 10.0, ..r };
        assert_eq!(huge.delay_ms(40), (MAX_RETRY_DELAY_SECONDS * 1000.0) as i64);
    }
}
