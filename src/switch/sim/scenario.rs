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
mod builtin;
mod file;
mod pattern;
mod rng;

use crate::switch::HangupCause;
pub use amd::{AmdCause, AmdResult, AmdSettings, AmdVerdict};
pub use builtin::dialpop_connect;
pub use file::ScenarioError;
use pattern::Matcher;
pub use rng::SimRng;
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

impl Rule {
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

impl Scenario {
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
