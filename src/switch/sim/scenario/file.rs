//! The scenario file: its TOML shape, and how it is read into rules,
//! extensions and settings, or refused with the reason.

use super::builtin::{DEFAULT_PLAYBACK, builtin_extensions};
use super::pattern::{Matcher, parse_pattern};
use super::{AmdSettings, Choice, Extension, Outcome, Rule, Scenario, amd};
use crate::switch::HangupCause;
use serde::Deserialize;

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
}
