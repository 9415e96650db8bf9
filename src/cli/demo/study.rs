//! One point of the dialing-mode study: `demo --dial-mode ... --minutes M`.
//! The campaign dials in the chosen mode against far ends drawn like an
//! outbound list (30 % people, machines, busy, unanswered), for M simulated
//! minutes; the report gains the agents' occupancy, the abandon rate
//! overall and in its worst 30-minute window (simulated time), the machine
//! rate and the dial level.

use crate::campaign::CampaignSettings;
use crate::campaign::dialing::DialMode;
use crate::dialer::DialerSnapshot;

#[derive(Clone, Debug)]
pub struct DialOptions {
    pub mode: DialMode,
    /// Power: lines per available agent; predictive: the most per agent.
    pub lines_per_agent: Option<f64>,
    /// Stop dialing after this many simulated minutes (none: when the
    /// tasks run out).
    pub minutes: Option<f64>,
}

/// The study's wrap-up, in simulated seconds (the demo's dial plan's).
pub const WRAP_UP_S: f64 = 10.0;

/// The far ends of the study (the simulator's scenario format): 30 % of
/// dials reach a person, who talks 60 s on average (exponential); 12 %
/// reach a machine; ring times of 2 to 8 s (the real captures' lab rang 1
/// to 2 s; carriers' ringback before an answer runs longer); unanswered
/// calls ring to the 30 s timeout. The switch's detection takes 2.5 s and
/// is wrong on 5 % of calls. The agents' own phones answer at once.
pub const SCENARIO: &str = r#"
[amd]
detect = 2.5
wrong = 0.05

# The agents' phones (user/8001): they answer at once and stay up.
[[rule]]
pattern = "8XXX"
ring = 0.0
outcome = "answer"

[default]
ring = 5.0
ring_jitter = 3.0
talk = 60.0
talk_distribution = "exponential"
outcomes = [
  { outcome = "answer", weight = 30 },
  { outcome = "machine", weight = 12, talk = 25.0 },
  { outcome = "busy", weight = 10, ring = 0.0 },
  { outcome = "no_answer", weight = 48 },
]
"#;

/// The campaign's settings for this point.
pub fn apply(settings: &mut CampaignSettings, o: &DialOptions, speed: f64) {
    let d = &mut settings.dialing;
    d.mode = o.mode;
    d.lines_per_agent = o.lines_per_agent.unwrap_or(match o.mode {
        DialMode::Predictive => 3.0,
        _ => 1.5,
    });
    d.machine_detection = o.mode.unbound();
    // The dialer's clock is not compressed: the 2 s limit, in simulated
    // time.
    d.abandon_after_seconds = 2.0 / speed;
    // The short window that steers the dial level: 30 simulated minutes.
    d.short_window_seconds = (d.short_window_seconds / speed).max(1.0);
    // Preview: the simulated agents read the record for 5 s; the countdown
    // places the call.
    if o.mode == DialMode::Preview {
        d.preview_seconds = Some(5.0 / speed);
    }
}

/// What the report gains.
#[derive(Clone, Debug, Default, serde::Serialize)]
pub struct AbandonRates {
    pub overall: f64,
    /// The worst of the 30-minute windows in simulated time (the overall
    /// rate if the run was shorter).
    pub worst_30_min: f64,
}

#[derive(Clone, Debug, Default, serde::Serialize)]
pub struct StudyFigures {
    pub dial_mode: String,
    pub lines_per_agent: f64,
    pub simulated_minutes: f64,
    /// Talk and wrap-up per logged-in hour.
    pub occupancy: f64,
    pub abandon_rate: AbandonRates,
    /// Machines detected per answered call (machines and people).
    pub machine_rate: f64,
    /// Calls up per agent, on average over the run and at most.
    pub dial_level: f64,
    pub dial_level_max: f64,
    /// From the answer (after the verdict) to the agent, in simulated ms.
    pub connect_ms_mean: f64,
    pub connect_ms_max: f64,
    /// Idle simulated seconds per agent between two calls.
    pub idle_s_between_calls: f64,
    pub people: u64,
    pub abandoned: u64,
    pub machines: u64,
    /// The predictive controller's gain at the end.
    pub gain: f64,
}

/// Samples taken while the campaign runs: simulated time, people answered,
/// abandoned, and the lines per agent.
#[derive(Default)]
pub struct Sampler {
    points: Vec<(f64, u64, u64)>,
    level_sum: f64,
    level_max: f64,
    samples: u64,
}

impl Sampler {
    pub fn sample(&mut self, sim_s: f64, snap: &DialerSnapshot, campaign: &str, agents: usize) {
        let c = snap.stats.campaigns.get(campaign);
        self.points.push((
            sim_s,
            c.map_or(0, |c| c.people),
            c.map_or(0, |c| c.abandoned),
        ));
        let level = snap.live_calls as f64 / agents.max(1) as f64;
        self.level_sum += level;
        self.level_max = self.level_max.max(level);
        self.samples += 1;
    }

    /// The highest abandon rate of any window `window_s` long.
    pub fn worst_window(&self, window_s: f64) -> Option<f64> {
        let mut worst: Option<f64> = None;
        let mut j = 0;
        for i in 0..self.points.len() {
            let (t, people, abandoned) = self.points[i];
            if t < window_s {
                continue;
            }
            while j + 1 < self.points.len() && self.points[j + 1].0 <= t - window_s {
                j += 1;
            }
            let (_, p0, a0) = self.points[j];
            let p = people.saturating_sub(p0);
            if p > 0 {
                let r = abandoned.saturating_sub(a0) as f64 / p as f64;
                worst = Some(worst.map_or(r, |w: f64| w.max(r)));
            }
        }
        worst
    }

    /// The figures, from the last snapshot and the agents' time up to when
    /// dialing stopped (`agent_time`).
    pub fn figures(
        &self,
        o: &DialOptions,
        snap: &DialerSnapshot,
        campaign: &str,
        agent_time: crate::dialer::agents::AgentTime,
        speed: f64,
        simulated_minutes: f64,
    ) -> StudyFigures {
        let c = snap
            .stats
            .campaigns
            .get(campaign)
            .cloned()
            .unwrap_or_default();
        let (talk, wrap, idle) = (agent_time.talk_s, agent_time.wrap_s, agent_time.idle_s);
        let busy = talk + wrap;
        let overall = c.abandon_rate();
        let calls_taken = snap.stats.answered.max(1) as f64;
        StudyFigures {
            dial_mode: o.mode.as_str().into(),
            lines_per_agent: match o.mode {
                DialMode::Progressive => 1.0,
                _ => o.lines_per_agent.unwrap_or(match o.mode {
                    DialMode::Predictive => 3.0,
                    _ => 1.5,
                }),
            },
            simulated_minutes,
            occupancy: if busy + idle > 0.0 {
                busy / (busy + idle)
            } else {
                0.0
            },
            abandon_rate: AbandonRates {
                overall,
                worst_30_min: self.worst_window(1800.0).unwrap_or(overall),
            },
            machine_rate: if c.machines + c.people > 0 {
                c.machines as f64 / (c.machines + c.people) as f64
            } else {
                0.0
            },
            dial_level: self.level_sum / self.samples.max(1) as f64,
            dial_level_max: self.level_max,
            connect_ms_mean: if c.connected > 0 {
                c.connect_ms_sum / c.connected as f64 * speed
            } else {
                0.0
            },
            connect_ms_max: c.connect_ms_max * speed,
            idle_s_between_calls: idle * speed / calls_taken,
            people: c.people,
            abandoned: c.abandoned,
            machines: c.machines,
            gain: c.gain,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_worst_window_is_found() {
        let mut s = Sampler::default();
        // 100 people every 10 minutes; 2 abandons a window, but 9 in the
        // 30 minutes from minute 30 to 60.
        let abandons = [0, 1, 1, 3, 3, 3, 0, 1];
        let (mut people, mut ab) = (0, 0);
        s.points.push((0.0, 0, 0));
        for (i, a) in abandons.iter().enumerate() {
            people += 100;
            ab += a;
            s.points.push((600.0 * (i + 1) as f64, people, ab));
        }
        let w = s.worst_window(1800.0).expect("windows");
        assert!((w - 9.0 / 300.0).abs() < 1e-9, "{w}");
        assert_eq!(Sampler::default().worst_window(1800.0), None);
    }
}
