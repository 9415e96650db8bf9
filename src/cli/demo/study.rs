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
    /// The run in steps of `TIMELINE_STEP_S` simulated seconds: where the
    /// occupancy and the abandons were made or lost (a start-up, a hold at
    /// the cap).
    pub timeline: Vec<TimelineStep>,
}

/// Simulated seconds per step of the report's timeline.
pub const TIMELINE_STEP_S: f64 = 300.0;

/// One step of the timeline, over the step's own time.
#[derive(Clone, Debug, Default, serde::Serialize, PartialEq)]
pub struct TimelineStep {
    /// Simulated minutes from the start to the step's end.
    pub minute: f64,
    pub occupancy: f64,
    pub people: u64,
    pub abandoned: u64,
    /// Calls up per agent, on average over the step.
    pub dial_level: f64,
    /// The predictive gain at the step's end.
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
    timeline: Timeline,
}

/// The timeline's steps so far, and where the open one began.
#[derive(Default)]
struct Timeline {
    steps: Vec<TimelineStep>,
    /// The open step's start: simulated time, people, abandoned, agent
    /// time; its level samples.
    start: Option<(f64, u64, u64, crate::dialer::agents::AgentTime)>,
    level_sum: f64,
    samples: u64,
}

impl Timeline {
    fn sample(
        &mut self,
        sim_s: f64,
        people: u64,
        abandoned: u64,
        time: crate::dialer::agents::AgentTime,
        level: f64,
        gain: f64,
    ) {
        let Some((t0, p0, a0, time0)) = self.start else {
            self.start = Some((sim_s, people, abandoned, time));
            return;
        };
        self.level_sum += level;
        self.samples += 1;
        if sim_s - t0 < TIMELINE_STEP_S {
            return;
        }
        let busy = (time.talk_s + time.wrap_s) - (time0.talk_s + time0.wrap_s);
        let all = busy + (time.idle_s - time0.idle_s);
        self.steps.push(TimelineStep {
            minute: (sim_s / 60.0 * 10.0).round() / 10.0,
            occupancy: if all > 0.0 { busy / all } else { 0.0 },
            people: people.saturating_sub(p0),
            abandoned: abandoned.saturating_sub(a0),
            dial_level: self.level_sum / self.samples.max(1) as f64,
            gain,
        });
        self.start = Some((sim_s, people, abandoned, time));
        self.level_sum = 0.0;
        self.samples = 0;
    }
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
        self.timeline.sample(
            sim_s,
            c.map_or(0, |c| c.people),
            c.map_or(0, |c| c.abandoned),
            snap.agent_time,
            level,
            c.map_or(0.0, |c| c.gain),
        );
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
            timeline: self.timeline.steps.clone(),
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

    #[test]
    fn the_timeline_counts_each_step_on_its_own() {
        use crate::dialer::agents::AgentTime;
        let mut t = Timeline::default();
        let time = |busy: f64, idle: f64| AgentTime {
            talk_s: busy * 0.8,
            wrap_s: busy * 0.2,
            idle_s: idle,
        };
        t.sample(0.0, 0, 0, time(0.0, 0.0), 0.0, 0.8);
        // First step: half busy, 40 people, 1 abandoned.
        t.sample(150.0, 20, 0, time(100.0, 100.0), 1.0, 0.9);
        t.sample(300.0, 40, 1, time(200.0, 200.0), 2.0, 1.0);
        // Second step: 90 % busy on its own, 60 more people.
        t.sample(600.0, 100, 1, time(470.0, 230.0), 3.0, 1.2);
        assert_eq!(t.steps.len(), 2);
        let (a, b) = (&t.steps[0], &t.steps[1]);
        assert_eq!((a.minute, a.people, a.abandoned), (5.0, 40, 1));
        assert!((a.occupancy - 0.5).abs() < 1e-9, "{a:?}");
        assert!((a.dial_level - 1.5).abs() < 1e-9 && a.gain == 1.0, "{a:?}");
        assert_eq!((b.minute, b.people, b.abandoned), (10.0, 60, 0));
        assert!((b.occupancy - 0.9).abs() < 1e-9, "{b:?}");
        assert!((b.dial_level - 3.0).abs() < 1e-9, "{b:?}");
    }
}
