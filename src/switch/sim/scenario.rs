//! How the simulated far ends behave: destination number → ring time, answer
//! or failure, talk time. Each call's choices come from its own seeded random
//! stream, so the same seed and the same dialled numbers give the same
//! outcomes whatever order the calls arrive in.
//!
//! # Scenario file (TOML)
//!
//! ```toml
//! # Rules are tried in order; the first that matches the destination number
//! # decides. A number no rule matches gets [default] (a rule without a
//! # matcher; when the file has none: answer after 1 s, talk 5 s). Every field
//! # may be omitted; the value after it in the comments below is its default.
//!
//! [default]
//! outcome = "busy"
//! ring = 0.5                # seconds of ringing (CHANNEL_PROGRESS) before the outcome
//!
//! [[rule]]
//! pattern = "*1XXX"         # (matches all) X = any digit, Z = 1-9, N = 2-9, ? = any one
//!                           # character, * = any run of characters; the whole
//!                           # number must match. Or: prefix = "1555".
//! ring = 1.0                # (1.0)
//! ring_jitter = 0.25        # (0) ± seconds, uniform, seeded
//! early_media = false       # (false) true: CHANNEL_PROGRESS_MEDIA after CHANNEL_PROGRESS
//! outcome = "answer"        # (answer) answer | machine | busy | no_answer | rejected |
//!                           # congestion | fail; machine answers like answer, but
//!                           # it is an answering machine (talk: how long it stays)
//! cause = "USER_BUSY"       # the hang-up cause for fail (any FreeSWITCH cause
//!                           # name); overrides the cause of busy/rejected/congestion
//! talk = 5.0                # (inf) seconds the callee stays after answering;
//!                           # inf: until hung up from the switch (uuid_kill, hupall)
//! talk_jitter = 0.0         # (0)
//! talk_distribution = "fixed"  # (fixed) fixed: talk ± talk_jitter; exponential:
//!                           # drawn with mean talk (a choice's talk is its mean)
//!
//! [[rule]]
//! prefix = "1555"
//! ring = 2.0
//! outcomes = [              # weighted choice instead of a single outcome; each
//!   { outcome = "answer", weight = 60, talk = 20.0 },   # may set its own ring/talk
//!   { outcome = "busy", weight = 25, ring = 0.0 },
//!   { outcome = "no_answer", weight = 15 },
//! ]
//!
//! playback = 4.0            # (4) seconds a message extension (dialpop_abandon,
//!                           # dialpop_message) plays before it hangs up
//!
//! [amd]                     # answering machine detection, run by dialpop_hold
//! detect = 2.5              # (2.5) seconds from the answer to the verdict
//! wrong = 0.05              # (0) share of calls whose verdict is wrong (a human
//!                           # reported MACHINE, a machine HUMAN); 0 to 1
//! notsure = 0.0             # (0) share of calls reported NOTSURE; 0 to 1
//! ```
//!
//! Every time in the file is divided by the switch's speed. The verdicts
//! come from each call's own random stream, like its outcome: the same seed
//! and numbers give the same verdicts.
//!
//! A ring time of 0 means the far end never rang (no CHANNEL_PROGRESS): it
//! answered or refused at once. `no_answer` rings until the originate's
//! `originate_timeout` (60 s when not given) and ends NO_ANSWER; any outcome
//! whose ring time reaches that timeout ends the same way.
//!
//! Dialplan extensions (`originate <dial> connect XML agents`) are not a
//! dialplan the simulator can run; `[[extension]]` says which single
//! application such an extension executes (without one the leg just stays up):
//!
//! ```toml
//! [[extension]]
//! name = "connect"          # the extension; context = "agents" narrows it
//! app = "bridge"            # park | bridge | hold | message | any other name
//!                           # (executed, no effect)
//! data = "loopback/8001/agents"
//! ```
//!
//! `hold` is what `dialpop_hold` runs: answer, answering machine detection,
//! the verdict as an event (CUSTOM `dialpop::amd` on FreeSWITCH, UserEvent
//! `DialpopAMD` on Asterisk), then the leg waits parked until it is
//! transferred (`uuid_transfer`, `Redirect`) or hung up. `message` plays its
//! data for `playback` seconds and hangs up NORMAL_CLEARING. Built in, in
//! context `dialpop`: `dialpop_connect` (bridge `${dialpop_agent_dial}`),
//! `dialpop_hold` (hold), `dialpop_abandon` and `dialpop_message` (message
//! `${dialpop_message_file}`).

mod amd;
mod pattern;
mod rng;

use crate::switch::HangupCause;
pub use amd::{AmdCause, AmdResult, AmdSettings, AmdVerdict};
use pattern::{Matcher, parse_pattern};
pub use rng::SimRng;
use serde::Deserialize;
use std::time::Duration;

/// What a callee does with one call.
#[derive(Clone, Debug, PartialEq)]
pub enum Outcome {
    Answer,
    /// Rings until the originate times out (NO_ANSWER).
    NoAnswer,
    /// Refuses the call with this cause at the end of the ring time.
    Reject(HangupCause),
}

/// One call's fate, drawn from a rule.
#[derive(Clone, Debug, PartialEq)]
pub struct Plan {
    pub ring: Duration,
    pub early_media: bool,
    pub outcome: Outcome,
    /// `None`: stays up until hung up from the switch side.
    pub talk: Option<Duration>,
    /// The far end that answers is an answering machine.
    pub machine: bool,
    /// What answering machine detection says, if the call runs it.
    pub amd: AmdVerdict,
}

impl Plan {
    /// The plan on a switch whose clock runs `speed` times faster.
    pub fn scaled(mut self, speed: f64) -> Plan {
        self.ring = scale(self.ring, speed);
        self.talk = self.talk.map(|t| scale(t, speed));
        self
    }
}

/// The longest time the simulator waits for anything (a century): longer
/// values, which only a scenario or speed gone wrong can produce, saturate
/// here instead of overflowing a clock.
pub const LONGEST: Duration = Duration::from_secs(100 * 365 * 86_400);

/// Seconds as a duration, saturating at `LONGEST` (and at 0 below).
pub(crate) fn secs(s: f64) -> Duration {
    if s.is_nan() || s <= 0.0 {
        return Duration::ZERO;
    }
    Duration::try_from_secs_f64(s)
        .unwrap_or(LONGEST)
        .min(LONGEST)
}

pub(crate) fn scale(d: Duration, speed: f64) -> Duration {
    if speed.is_finite() && speed > 0.0 {
        secs(d.as_secs_f64() / speed)
    } else {
        d.min(LONGEST)
    }
}

#[derive(Clone, Debug, PartialEq)]
struct Choice {
    outcome: Outcome,
    machine: bool,
    weight: u32,
    ring: Option<f64>,
    talk: Option<f64>,
}

#[derive(Clone, Debug, PartialEq)]
struct Rule {
    matcher: Matcher,
    ring: f64,
    ring_jitter: f64,
    early_media: bool,
    choices: Vec<Choice>,
    talk: f64,
    talk_jitter: f64,
    /// Talk drawn from an exponential distribution with mean `talk`
    /// (instead of `talk` ± `talk_jitter`).
    talk_exponential: bool,
}

/// What a dialplan extension runs once the leg is transferred to it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Extension {
    pub name: String,
    pub context: Option<String>,
    pub app: String,
    pub data: String,
}

/// Ordered rules plus a default; see the module comment for the file format.
#[derive(Clone, Debug, PartialEq)]
pub struct Scenario {
    rules: Vec<Rule>,
    default: Rule,
    extensions: Vec<Extension>,
    amd: AmdSettings,
    /// Seconds a message extension plays before it hangs up.
    playback: f64,
}

/// Why a scenario file was refused.
#[derive(Debug, thiserror::Error)]
pub enum ScenarioError {
    // The messages carry their cause as text (no `source`), so that an
    // error chain does not print it twice.
    #[error("scenario file is not valid TOML for a scenario: {0}")]
    Toml(String),
    #[error("rule {index}: {problem}")]
    Rule { index: usize, problem: String },
    #[error("{setting}: {problem}")]
    Setting {
        setting: &'static str,
        problem: String,
    },
    #[error("cannot read scenario file {path}: {error}")]
    Io { path: String, error: String },
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FileScenario {
    default: Option<FileRule>,
    #[serde(default)]
    rule: Vec<FileRule>,
    #[serde(default)]
    extension: Vec<FileExtension>,
    amd: Option<amd::FileAmd>,
    playback: Option<f64>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FileRule {
    prefix: Option<String>,
    pattern: Option<String>,
    ring: Option<f64>,
    ring_jitter: Option<f64>,
    early_media: Option<bool>,
    outcome: Option<String>,
    cause: Option<String>,
    outcomes: Option<Vec<FileChoice>>,
    talk: Option<f64>,
    talk_jitter: Option<f64>,
    talk_distribution: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FileChoice {
    outcome: String,
    cause: Option<String>,
    weight: Option<u32>,
    ring: Option<f64>,
    talk: Option<f64>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FileExtension {
    name: String,
    context: Option<String>,
    app: String,
    #[serde(default)]
    data: String,
}

/// The outcome, and whether the far end that answers is a machine.
fn outcome_of(name: &str, cause: Option<&str>) -> Result<(Outcome, bool), String> {
    let with = |default: HangupCause| {
        Outcome::Reject(cause.map(HangupCause::from_name).unwrap_or(default))
    };
    if name == "machine" {
        return Ok((Outcome::Answer, true));
    }
    Ok((
        match name {
            "answer" => Outcome::Answer,
            "no_answer" => Outcome::NoAnswer,
            "busy" => with(HangupCause::UserBusy),
            "rejected" => with(HangupCause::CallRejected),
            "congestion" => with(HangupCause::NormalCircuitCongestion),
            "fail" => match cause {
                Some(c) => Outcome::Reject(HangupCause::from_name(c)),
                None => return Err("outcome \"fail\" needs a cause".into()),
            },
            other => {
                return Err(format!(
                    "unknown outcome {other:?} (answer, machine, busy, no_answer, rejected, congestion, fail)"
                ));
            }
        },
        false,
    ))
}

fn seconds(what: &str, v: f64) -> Result<f64, String> {
    // Only talk may be endless (inf: until hung up).
    if v.is_nan() || v < 0.0 || (v.is_infinite() && what != "talk") {
        return Err(format!("{what} must be a number of seconds >= 0, not {v}"));
    }
    Ok(v)
}

impl Rule {
    fn from_file(r: FileRule) -> Result<Rule, String> {
        let matcher = match (r.prefix, r.pattern) {
            (Some(_), Some(_)) => return Err("give prefix or pattern, not both".into()),
            (Some(p), None) => Matcher::Prefix(p),
            (None, Some(p)) => Matcher::Pattern(parse_pattern(&p)),
            (None, None) => Matcher::Any,
        };
        let choices = match (r.outcome, r.outcomes) {
            (Some(_), Some(_)) => return Err("give outcome or outcomes, not both".into()),
            (Some(o), None) => {
                let (outcome, machine) = outcome_of(&o, r.cause.as_deref())?;
                vec![Choice {
                    outcome,
                    machine,
                    weight: 1,
                    ring: None,
                    talk: None,
                }]
            }
            (None, Some(list)) => {
                if list.is_empty() {
                    return Err("outcomes is empty".into());
                }
                let mut out = Vec::with_capacity(list.len());
                for c in list {
                    let (outcome, machine) = outcome_of(&c.outcome, c.cause.as_deref())?;
                    out.push(Choice {
                        outcome,
                        machine,
                        weight: c.weight.unwrap_or(1),
                        ring: c.ring.map(|v| seconds("ring", v)).transpose()?,
                        talk: c.talk.map(|v| seconds("talk", v)).transpose()?,
                    });
                }
                if out.iter().all(|c| c.weight == 0) {
                    return Err("every outcome has weight 0".into());
                }
                out
            }
            (None, None) => vec![Choice {
                outcome: Outcome::Answer,
                machine: false,
                weight: 1,
                ring: None,
                talk: None,
            }],
        };
        Ok(Rule {
            matcher,
            ring: seconds("ring", r.ring.unwrap_or(1.0))?,
            ring_jitter: seconds("ring_jitter", r.ring_jitter.unwrap_or(0.0))?,
            early_media: r.early_media.unwrap_or(false),
            choices,
            talk: seconds("talk", r.talk.unwrap_or(f64::INFINITY))?,
            talk_jitter: seconds("talk_jitter", r.talk_jitter.unwrap_or(0.0))?,
            talk_exponential: match r.talk_distribution.as_deref() {
                None | Some("fixed") => false,
                Some("exponential") => true,
                Some(other) => {
                    return Err(format!("talk_distribution {other:?}: fixed or exponential"));
                }
            },
        })
    }

    fn plan(&self, rng: &mut SimRng, amd: &AmdSettings) -> Plan {
        let total: u64 = self.choices.iter().map(|c| u64::from(c.weight)).sum();
        let mut pick = if total == 0 {
            0
        } else {
            rng.next_u64() % total
        };
        let mut chosen = &self.choices[0];
        for c in &self.choices {
            if pick < u64::from(c.weight) {
                chosen = c;
                break;
            }
            pick -= u64::from(c.weight);
        }
        let ring = jitter(chosen.ring.unwrap_or(self.ring), self.ring_jitter, rng);
        let mean = chosen.talk.unwrap_or(self.talk);
        let talk = if self.talk_exponential && mean.is_finite() {
            // Inverse transform; 1 - u is in (0, 1], so the log is finite.
            -mean * (1.0 - rng.unit()).ln()
        } else {
            jitter(mean, self.talk_jitter, rng)
        };
        Plan {
            ring: secs(ring),
            early_media: self.early_media,
            outcome: chosen.outcome.clone(),
            talk: talk.is_finite().then(|| secs(talk)),
            machine: chosen.machine,
            amd: amd.verdict(chosen.machine, rng),
        }
    }
}

fn jitter(base: f64, amount: f64, rng: &mut SimRng) -> f64 {
    if !base.is_finite() || amount == 0.0 {
        return base;
    }
    (base + (rng.unit() * 2.0 - 1.0) * amount).max(0.0)
}

fn simple(pattern: &str, ring: f64, outcome: Outcome, talk: f64) -> Rule {
    Rule {
        matcher: Matcher::Pattern(parse_pattern(pattern)),
        ring,
        ring_jitter: 0.0,
        early_media: false,
        choices: vec![Choice {
            outcome,
            machine: false,
            weight: 1,
            ring: None,
            talk: None,
        }],
        talk,
        talk_jitter: 0.0,
        talk_exponential: false,
    }
}

impl Default for Scenario {
    /// The lab the real captures were made in (PROTOCOLS.md §5), keyed on the
    /// last four digits: 1XXX answers after 1 s and talks 5 s, 2XXX is busy,
    /// 3XXX never answers, 4XXX is congested, 5XXX answers after 2 s and
    /// talks 60 s, 8XXX (agents) answer at once and stay up; anything else
    /// answers after 1 s and talks 5 s.
    fn default() -> Self {
        Scenario {
            rules: vec![
                simple("*1XXX", 1.0, Outcome::Answer, 5.0),
                // Talk time means nothing for calls that are never answered.
                simple(
                    "*2XXX",
                    0.0,
                    Outcome::Reject(HangupCause::UserBusy),
                    f64::INFINITY,
                ),
                simple("*3XXX", 1.0, Outcome::NoAnswer, f64::INFINITY),
                simple(
                    "*4XXX",
                    0.0,
                    Outcome::Reject(HangupCause::NormalCircuitCongestion),
                    f64::INFINITY,
                ),
                simple("*5XXX", 2.0, Outcome::Answer, 60.0),
                simple("*8XXX", 0.0, Outcome::Answer, f64::INFINITY),
            ],
            default: Rule {
                matcher: Matcher::Any,
                ..simple("*", 1.0, Outcome::Answer, 5.0)
            },
            extensions: builtin_extensions(),
            amd: AmdSettings::default(),
            playback: DEFAULT_PLAYBACK,
        }
    }
}

/// `playback` when the file does not say.
const DEFAULT_PLAYBACK: f64 = 4.0;

/// The extensions of `dialplan/freeswitch/dialpop.xml` and
/// `dialplan/asterisk/extensions_dialpop.conf`, context `dialpop`.
fn builtin_extensions() -> Vec<Extension> {
    let dialpop = |name: &str, app: &str, data: &str| Extension {
        name: name.into(),
        context: Some("dialpop".into()),
        app: app.into(),
        data: data.into(),
    };
    vec![
        dialpop_connect(),
        dialpop("dialpop_hold", "hold", ""),
        dialpop("dialpop_abandon", "message", "${dialpop_message_file}"),
        dialpop("dialpop_message", "message", "${dialpop_message_file}"),
    ]
}

/// What `dialplan/freeswitch/dialpop.xml` does for an answered customer:
/// bridge to the agent dial string dialpop put in `dialpop_agent_dial`.
pub fn dialpop_connect() -> Extension {
    Extension {
        name: "dialpop_connect".into(),
        context: Some("dialpop".into()),
        app: "bridge".into(),
        data: "${dialpop_agent_dial}".into(),
    }
}

impl Scenario {
    pub fn from_toml(text: &str) -> Result<Scenario, ScenarioError> {
        let file: FileScenario =
            toml::from_str(text).map_err(|e| ScenarioError::Toml(e.to_string()))?;
        let builtin = Scenario::default().default;
        let default = match file.default {
            Some(d) => {
                if d.prefix.is_some() || d.pattern.is_some() {
                    return Err(ScenarioError::Rule {
                        index: 0,
                        problem: "[default] takes no prefix or pattern".into(),
                    });
                }
                Rule::from_file(d).map_err(|problem| ScenarioError::Rule { index: 0, problem })?
            }
            None => builtin,
        };
        let mut rules = Vec::with_capacity(file.rule.len());
        for (i, r) in file.rule.into_iter().enumerate() {
            rules.push(Rule::from_file(r).map_err(|problem| ScenarioError::Rule {
                index: i + 1,
                problem,
            })?);
        }
        let extensions = file
            .extension
            .into_iter()
            .map(|e| Extension {
                name: e.name,
                context: e.context,
                app: e.app,
                data: e.data,
            })
            // The file's own extensions come first and may override these.
            .chain(builtin_extensions())
            .collect();
        let amd = AmdSettings::from_file(file.amd.unwrap_or_default()).map_err(|problem| {
            ScenarioError::Setting {
                setting: "[amd]",
                problem,
            }
        })?;
        let playback = file.playback.unwrap_or(DEFAULT_PLAYBACK);
        if !playback.is_finite() || playback < 0.0 {
            return Err(ScenarioError::Setting {
                setting: "playback",
                problem: format!("must be a number of seconds >= 0, not {playback}"),
            });
        }
        Ok(Scenario {
            rules,
            default,
            extensions,
            amd,
            playback,
        })
    }

    pub fn from_file(path: &std::path::Path) -> Result<Scenario, ScenarioError> {
        let text = std::fs::read_to_string(path).map_err(|e| ScenarioError::Io {
            path: path.display().to_string(),
            error: e.to_string(),
        })?;
        Scenario::from_toml(&text)
    }

    /// The fate of the `attempt`-th call (0-based) to `number` under `seed`.
    pub fn plan(&self, number: &str, seed: u64, attempt: u64) -> Plan {
        let mut rng = SimRng::for_call(seed, number, attempt);
        self.rules
            .iter()
            .find(|r| r.matcher.matches(number))
            .unwrap_or(&self.default)
            .plan(&mut rng, &self.amd)
    }

    /// The `[amd]` settings.
    pub fn amd(&self) -> &AmdSettings {
        &self.amd
    }

    /// How long a message extension plays, on a switch at `speed`.
    pub fn playback(&self, speed: f64) -> Duration {
        scale(secs(self.playback), speed)
    }

    /// How long detection takes from the answer, on a switch at `speed`.
    pub fn amd_detect(&self, speed: f64) -> Duration {
        scale(secs(self.amd.detect), speed)
    }

    /// What the dialplan extension `name` in `context` runs, if the scenario says.
    pub fn extension(&self, name: &str, context: &str) -> Option<&Extension> {
        self.extensions
            .iter()
            .find(|e| e.name == name && e.context.as_deref().is_none_or(|c| c == context))
    }
}

#[cfg(test)]
mod tests;
