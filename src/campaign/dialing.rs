//! How a campaign dials: its mode, the lines per agent, the abandon-rate
//! cap and what happens to a customer no agent takes, answering machines,
//! and the campaign's own pacing limits. Part of the campaign's settings
//! (JSON in the store, TOML in a seeding config).

use super::settings::{FieldError, field_error};
use serde::{Deserialize, Serialize};

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "snake_case")]
pub enum DialMode {
    /// The agent sees the record and the number first, then dials or skips
    /// (or the call goes by itself after `preview_seconds`).
    Preview,
    /// One call per available agent, placed for that agent (the default).
    #[default]
    Progressive,
    /// `lines_per_agent` calls per available agent, none bound to an
    /// agent until answered.
    Power,
    /// As many calls as the measured answer rate and the agents about to be
    /// free call for, under the abandon-rate cap (`dialer::predictive`).
    Predictive,
}

impl DialMode {
    pub fn as_str(self) -> &'static str {
        match self {
            DialMode::Preview => "preview",
            DialMode::Progressive => "progressive",
            DialMode::Power => "power",
            DialMode::Predictive => "predictive",
        }
    }

    /// Calls placed before any agent is chosen: the answered customer waits
    /// in the holding extension for the first free one.
    pub fn unbound(self) -> bool {
        matches!(self, DialMode::Power | DialMode::Predictive)
    }
}

/// What is done with a call answered by a machine.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MachineAction {
    /// Hung up at once; the task follows `retry.machine`.
    #[default]
    Hangup,
    /// The machine hears `machine_message`, then the call ends.
    Message,
    /// Connected to an agent like a person.
    Agent,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DialingSettings {
    pub mode: DialMode,
    /// Power: calls per available agent. Predictive: the most lines per
    /// logged-in agent it may ever have up.
    pub lines_per_agent: f64,
    /// Predictive: the highest share of answered calls (machines left out)
    /// that may be abandoned over `abandon_window_seconds`.
    pub abandon_cap: f64,
    /// The window the cap is kept over (30 days, as the US and UK rules).
    pub abandon_window_seconds: f64,
    /// The shorter window that steers the dial level (30 minutes, the
    /// window a regulator's spot check or a bad half hour is judged on):
    /// predictive aims at a rate that keeps this window under the cap
    /// too, with a margin for chance, and stops dialing ahead when its
    /// abandons near the cap's share.
    pub short_window_seconds: f64,
    /// An answered call with no agent connected this long after the answer
    /// (after the machine verdict when detection is on) is abandoned.
    pub abandon_after_seconds: f64,
    /// The recording an abandoned customer hears (a file name the switch
    /// knows: `ivr/...wav` in FreeSWITCH, a sound name in Asterisk).
    pub abandon_message: String,
    /// An abandoned number is not called again by the campaign for this
    /// long (72 h, as Ofcom asks); its task becomes a callback then.
    pub lockout_hours: f64,
    /// Wait for the switch's answering-machine verdict before connecting.
    pub machine_detection: bool,
    pub on_machine: MachineAction,
    pub machine_message: String,
    /// The holding extension and the message extension (`dialplan/`).
    pub hold_extension: String,
    pub message_extension: String,
    /// The campaign's own pacing: new calls a second and calls up at once
    /// (none: the switch's limits only).
    pub originates_per_second: Option<f64>,
    pub max_concurrent: Option<usize>,
    /// This campaign's share of a switch's originates against the other
    /// running campaigns.
    pub weight: f64,
    /// Preview: the call is placed by itself this long after the agent
    /// got the record (none: only when the agent says so).
    pub preview_seconds: Option<f64>,
    /// Preview: a skipped task is due again this long after.
    pub skip_delay_seconds: f64,
}

impl Default for DialingSettings {
    fn default() -> Self {
        DialingSettings {
            mode: DialMode::Progressive,
            lines_per_agent: 1.5,
            abandon_cap: 0.03,
            abandon_window_seconds: 30.0 * 86_400.0,
            short_window_seconds: 1800.0,
            abandon_after_seconds: 2.0,
            abandon_message: "ivr/ivr-all_circuits_are_busy.wav".into(),
            lockout_hours: 72.0,
            machine_detection: true,
            on_machine: MachineAction::Hangup,
            machine_message: "ivr/ivr-please_call_back.wav".into(),
            hold_extension: "dialpop_hold".into(),
            message_extension: "dialpop_message".into(),
            originates_per_second: None,
            max_concurrent: None,
            weight: 1.0,
            preview_seconds: None,
            skip_delay_seconds: 3600.0,
        }
    }
}

/// The most lines per agent any mode may use.
pub const MAX_LINES_PER_AGENT: f64 = 10.0;

impl DialingSettings {
    pub fn validate(&self) -> Result<(), FieldError> {
        let f = |name: &str| format!("dialing.{name}");
        if !(1.0..=MAX_LINES_PER_AGENT).contains(&self.lines_per_agent) {
            return Err(field_error(f("lines_per_agent"), "must be 1 to 10"));
        }
        if !(0.0..=0.5).contains(&self.abandon_cap) {
            return Err(field_error(
                f("abandon_cap"),
                "must be 0 to 0.5 (a share, 0.03 for 3 %)",
            ));
        }
        if !(60.0..=366.0 * 86_400.0).contains(&self.abandon_window_seconds) {
            return Err(field_error(
                f("abandon_window_seconds"),
                "must be 60 s to a year",
            ));
        }
        if !(self.short_window_seconds >= 1.0
            && self.short_window_seconds <= self.abandon_window_seconds)
        {
            return Err(field_error(
                f("short_window_seconds"),
                "must be 1 s up to abandon_window_seconds",
            ));
        }
        if !(0.0..=60.0).contains(&self.abandon_after_seconds) {
            return Err(field_error(f("abandon_after_seconds"), "must be 0 to 60"));
        }
        if !(0.0..=24.0 * 366.0).contains(&self.lockout_hours) {
            return Err(field_error(
                f("lockout_hours"),
                "must be 0 to 8784 (a year)",
            ));
        }
        for (name, v) in [
            ("abandon_message", &self.abandon_message),
            ("machine_message", &self.machine_message),
        ] {
            if v.is_empty()
                || v.len() > 200
                || !v
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"_-./:".contains(&b))
            {
                return Err(field_error(
                    f(name),
                    format!("{v:?} is not a sound file name (1 to 200 of a-z A-Z 0-9 _ - . / :)"),
                ));
            }
        }
        for (name, v) in [
            ("hold_extension", &self.hold_extension),
            ("message_extension", &self.message_extension),
        ] {
            if v.is_empty() || !v.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') {
                return Err(field_error(
                    f(name),
                    format!("{v:?} is not an extension (a-z 0-9 _)"),
                ));
            }
        }
        if let Some(r) = self.originates_per_second
            && !(r.is_finite() && r > 0.0 && r <= 10_000.0)
        {
            return Err(field_error(
                f("originates_per_second"),
                "must be above 0, at most 10000",
            ));
        }
        if self.max_concurrent == Some(0) {
            return Err(field_error(f("max_concurrent"), "must be at least 1"));
        }
        if let Some(p) = self.preview_seconds
            && !(0.0..=3600.0).contains(&p)
        {
            return Err(field_error(f("preview_seconds"), "must be 0 to 3600"));
        }
        if !(0.0..=30.0 * 86_400.0).contains(&self.skip_delay_seconds) {
            return Err(field_error(
                f("skip_delay_seconds"),
                "must be 0 to 2592000 (30 days)",
            ));
        }
        if !(self.weight.is_finite() && (0.01..=1000.0).contains(&self.weight)) {
            return Err(field_error(f("weight"), "must be 0.01 to 1000"));
        }
        Ok(())
    }

    /// The short window as a duration (checked to be at least 1 s).
    pub fn short_window(&self) -> std::time::Duration {
        std::time::Duration::try_from_secs_f64(self.short_window_seconds)
            .unwrap_or(std::time::Duration::from_secs(1800))
    }

    /// The abandon limit as a duration (checked to be 0 to 60 s).
    pub fn abandon_after(&self) -> std::time::Duration {
        std::time::Duration::try_from_secs_f64(self.abandon_after_seconds).unwrap_or_default()
    }

    pub fn lockout_ms(&self) -> i64 {
        (self.lockout_hours * 3_600_000.0) as i64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_valid_and_bad_values_are_named() {
        assert!(DialingSettings::default().validate().is_ok());
        let bad = |d: DialingSettings, field: &str| {
            let e = d.validate().expect_err(field);
            assert_eq!(e.field, format!("dialing.{field}"), "{e}");
        };
        bad(
            DialingSettings {
                lines_per_agent: 0.5,
                ..Default::default()
            },
            "lines_per_agent",
        );
        bad(
            DialingSettings {
                abandon_cap: f64::NAN,
                ..Default::default()
            },
            "abandon_cap",
        );
        bad(
            DialingSettings {
                abandon_after_seconds: -1.0,
                ..Default::default()
            },
            "abandon_after_seconds",
        );
        bad(
            DialingSettings {
                short_window_seconds: 40.0 * 86_400.0,
                ..Default::default()
            },
            "short_window_seconds",
        );
        bad(
            DialingSettings {
                short_window_seconds: f64::NAN,
                ..Default::default()
            },
            "short_window_seconds",
        );
        bad(
            DialingSettings {
                abandon_message: "x.wav hangup".into(),
                ..Default::default()
            },
            "abandon_message",
        );
        bad(
            DialingSettings {
                hold_extension: "hold XML evil".into(),
                ..Default::default()
            },
            "hold_extension",
        );
        bad(
            DialingSettings {
                originates_per_second: Some(0.0),
                ..Default::default()
            },
            "originates_per_second",
        );
        bad(
            DialingSettings {
                weight: 0.0,
                ..Default::default()
            },
            "weight",
        );
    }

    #[test]
    fn settings_read_from_json_with_defaults() {
        let d: DialingSettings =
            serde_json::from_str(r#"{"mode":"power","lines_per_agent":2.0}"#).expect("json");
        assert_eq!(d.mode, DialMode::Power);
        assert_eq!(d.lines_per_agent, 2.0);
        assert_eq!(d.abandon_cap, 0.03);
        assert!(serde_json::from_str::<DialingSettings>(r#"{"mode":"turbo"}"#).is_err());
    }
}
