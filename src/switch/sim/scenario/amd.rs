//! Answering machine detection as the scenario plays it: how long the
//! detector listens, and how often it is wrong or unsure. The verdict of a
//! call is drawn from the call's own random stream, after everything else
//! the plan draws, so adding `[amd]` to a file changes no other choice.

use super::rng::SimRng;

/// What the detector reports (`amd_result` of mod_amd, `AMDSTATUS` of
/// app_amd).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AmdResult {
    Human,
    Machine,
    NotSure,
}

impl AmdResult {
    pub fn name(self) -> &'static str {
        match self {
            AmdResult::Human => "HUMAN",
            AmdResult::Machine => "MACHINE",
            AmdResult::NotSure => "NOTSURE",
        }
    }
}

/// Which of the detector's rules decided.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AmdCause {
    InitialSilence,
    LongGreeting,
    MaxWords,
    Human,
    TooLong,
}

impl AmdCause {
    /// `amd_cause` as mod_amd sets it.
    pub fn freeswitch(self) -> &'static str {
        match self {
            AmdCause::InitialSilence => "INITIALSILENCE",
            AmdCause::LongGreeting => "LONGGREETING",
            AmdCause::MaxWords => "MAXWORDS",
            AmdCause::Human => "HUMAN",
            AmdCause::TooLong => "TOOLONG",
        }
    }

    /// `AMDCAUSE` as app_amd writes it (`"%s-%d-%d"`: what it measured and
    /// the threshold it crossed), with amd.conf's default thresholds.
    pub fn asterisk(self) -> &'static str {
        match self {
            AmdCause::InitialSilence => "INITIALSILENCE-2500-2500",
            AmdCause::LongGreeting => "LONGGREETING-1500-1500",
            AmdCause::MaxWords => "MAXWORDS-2-2",
            AmdCause::Human => "HUMAN-800-800",
            AmdCause::TooLong => "TOOLONG-5000",
        }
    }
}

/// One call's verdict.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AmdVerdict {
    pub result: AmdResult,
    pub cause: AmdCause,
}

/// The scenario's `[amd]` table.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct AmdSettings {
    /// Seconds from the answer to the verdict (before the switch's speed).
    pub detect: f64,
    /// Share of verdicts that are wrong (a human called MACHINE, a machine
    /// HUMAN).
    pub wrong: f64,
    /// Share of verdicts that are NOTSURE.
    pub notsure: f64,
}

impl Default for AmdSettings {
    fn default() -> Self {
        AmdSettings {
            detect: 2.5,
            wrong: 0.0,
            notsure: 0.0,
        }
    }
}

/// `[amd]` as written in the file.
#[derive(Debug, Default, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct FileAmd {
    detect: Option<f64>,
    wrong: Option<f64>,
    notsure: Option<f64>,
}

fn share(name: &str, v: f64) -> Result<f64, String> {
    if !(0.0..=1.0).contains(&v) {
        return Err(format!("{name} must be a share between 0 and 1, not {v}"));
    }
    Ok(v)
}

impl AmdSettings {
    pub(super) fn from_file(f: FileAmd) -> Result<AmdSettings, String> {
        let d = AmdSettings::default();
        let detect = f.detect.unwrap_or(d.detect);
        if !detect.is_finite() || detect < 0.0 {
            return Err(format!(
                "detect must be a number of seconds >= 0, not {detect}"
            ));
        }
        let s = AmdSettings {
            detect,
            wrong: share("wrong", f.wrong.unwrap_or(d.wrong))?,
            notsure: share("notsure", f.notsure.unwrap_or(d.notsure))?,
        };
        Ok(s)
    }

    /// The verdict on a callee that is (or is not) a machine. Always three
    /// draws, so every call's stream advances alike whatever it decides.
    pub(super) fn verdict(&self, machine: bool, rng: &mut SimRng) -> AmdVerdict {
        let (unsure, wrong, which) = (rng.unit(), rng.unit(), rng.next_u64());
        if unsure < self.notsure {
            return AmdVerdict {
                result: AmdResult::NotSure,
                cause: AmdCause::TooLong,
            };
        }
        // `wrong` is a share of all calls, drawn apart from `notsure`.
        let says_machine = machine != (wrong < self.wrong);
        if says_machine {
            let cause = [
                AmdCause::InitialSilence,
                AmdCause::LongGreeting,
                AmdCause::MaxWords,
            ][(which % 3) as usize];
            AmdVerdict {
                result: AmdResult::Machine,
                cause,
            }
        } else {
            AmdVerdict {
                result: AmdResult::Human,
                cause: AmdCause::Human,
            }
        }
    }
}
