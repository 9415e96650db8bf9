//! What the simulator does without a scenario file: the lab's rules, and
//! the dialpop extensions every scenario has.

use super::pattern::{Matcher, parse_pattern};
use super::{AmdSettings, Choice, Extension, Outcome, Rule, Scenario};
use crate::switch::HangupCause;

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
pub(super) const DEFAULT_PLAYBACK: f64 = 4.0;

/// The extensions of `dialplan/freeswitch/dialpop.xml` and
/// `dialplan/asterisk/extensions_dialpop.conf`, context `dialpop`.
pub(super) fn builtin_extensions() -> Vec<Extension> {
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
