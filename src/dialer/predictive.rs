//! How many calls a power or predictive campaign places now: pure, from
//! what the dialer counts and measures.
//!
//! Power dials a fixed `lines_per_agent` for each available agent.
//!
//! Predictive is two pieces, because either alone fails:
//! - an estimate, in the manner of an Erlang/queueing model: the agents who
//!   will be free when a call placed now is answered (those available now,
//!   those whose wrap-up ends within the expected time to answer, and the
//!   share of agents on a call whose talk, exponential with the measured
//!   mean, ends by then), divided by the measured live-answer rate, less
//!   the customers already waiting and the people the calls still ringing
//!   will bring: each by its age, from the measured times to a person and
//!   lengths of the dials without one (a call ringing for 15 s is almost
//!   surely ringing out). This follows a change of team size or answer
//!   rate at once.
//! - an adaptive gain on that estimate, in VICIdial's manner but counted in
//!   answered calls instead of seconds (so it steers the same at any clock
//!   speed): each abandoned call cuts it by `DOWN`, each call connected
//!   raises it by `up`, chosen so that the gain settles where the abandon
//!   rate is the target: the rate that keeps the campaign's short window
//!   (30 minutes) under the cap with a margin for chance
//!   (`abandon_window`). The last `SHORT` answered calls at twice the
//!   target hold the gain from rising; the short window's abandons, once
//!   well past the target's share, brake the dialing ahead (and hold the
//!   gain), down to none at 80 % of the cap's share; the campaign's rate
//!   over its cap window at the cap stops it too (one line per free agent
//!   until they fall back). The gain starts at 0.65 and climbs as calls
//!   allow.
//!
//! Agents count as free `Measures::lead_s` ahead: a quick answerer's time
//! to need an agent plus the abandon limit, so that almost nobody answers
//! more than the limit before their agent is free.
//!
//! The estimate alone abandons too many (answers come in bunches: the
//! people a batch of dials brings are a Poisson draw); the gain alone
//! climbs too slowly after a team change.

use std::collections::VecDeque;

/// The gain's cut for each abandoned call (a share of the gain).
const DOWN: f64 = 0.06;
/// Answered calls in the short window.
pub const SHORT: usize = 100;
/// The gain's range.
const GAIN_MIN: f64 = 0.3;
const GAIN_MAX: f64 = 2.5;
/// The gain a campaign starts at: about where a 20-agent team's settles
/// (0.5-0.7 in the study). Cautious, because a small team's early
/// abandons fill its short window for half an hour: started at 0.8, above
/// where it settles, the study's 20-agent runs abandoned 10-13 people in
/// their first 25 minutes and then braked to 50-75 % occupancy for
/// minutes on end. A large team climbs past it within minutes (each
/// connected call raises it), and its occupancy did not move (50 agents:
/// 93.0 %).
const GAIN_START: f64 = 0.65;
/// The answer rate assumed until this many calls have ended.
const PRIOR_CALLS: u64 = 30;

/// What the dialer knows of one campaign when it decides.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Counts {
    /// Online, not paused, of the campaign (any state but paused/out).
    pub logged_in: usize,
    /// Available now, no call.
    pub available: usize,
    /// On a call of the campaign now.
    pub on_call: usize,
    /// In wrap-up, ending within the expected time to answer.
    pub wrap_ending_soon: usize,
    /// Placed (or being claimed), not yet answered or ended.
    pub in_flight: usize,
    /// The people those calls are expected to bring (`Measures::chance`
    /// summed over their ages).
    pub expected_answers: f64,
    /// Answered, waiting for an agent (or for the machine verdict).
    pub waiting: usize,
    /// How far ahead agents count as free (`Measures::lead`), and the
    /// wrap-up that follows a call (an agent whose call ends is free only
    /// after it).
    pub lead_s: f64,
    pub wrap_s: f64,
}

/// What the campaign's calls have shown so far (`Measures::observe`).
#[derive(Clone, Debug)]
pub struct Measures {
    ended: u64,
    live: u64,
    /// Mean seconds from the dial to when a person needs an agent (the
    /// answer, or the machine verdict), of people answered.
    answer_delay_s: f64,
    /// Mean seconds of talk of connected calls.
    talk_s: f64,
    /// Answered calls, newest last: true if abandoned.
    recent: VecDeque<bool>,
    gain: f64,
    /// Seconds from the dial to a person, and how long the dials that
    /// brought nobody lasted (busy, rang out, machines): what a call still
    /// ringing at a given age is likely to bring.
    person_delays: Samples,
    other_lengths: Samples,
}

/// The last `SAMPLES` values, kept sorted too, for survival shares.
#[derive(Clone, Debug, Default)]
struct Samples {
    recent: VecDeque<f64>,
    sorted: Vec<f64>,
}

const SAMPLES: usize = 256;

impl Samples {
    fn add(&mut self, v: f64) {
        if self.recent.len() == SAMPLES
            && let Some(old) = self.recent.pop_front()
            && let Ok(i) = self.sorted.binary_search_by(|x| x.total_cmp(&old))
        {
            self.sorted.remove(i);
        }
        self.recent.push_back(v);
        let i = self.sorted.partition_point(|x| *x <= v);
        self.sorted.insert(i, v);
    }

    /// The value below which a share `q` of them lie.
    fn quantile(&self, q: f64) -> Option<f64> {
        if self.sorted.len() < 10 {
            return None;
        }
        let i = ((self.sorted.len() as f64 * q) as usize).min(self.sorted.len() - 1);
        Some(self.sorted[i])
    }

    /// The share of values above `a` (None while too few are known).
    fn over(&self, a: f64) -> Option<f64> {
        if self.sorted.len() < 10 {
            return None;
        }
        let above = self.sorted.len() - self.sorted.partition_point(|x| *x <= a);
        Some(above as f64 / self.sorted.len() as f64)
    }
}

impl Default for Measures {
    fn default() -> Self {
        Measures {
            ended: 0,
            live: 0,
            answer_delay_s: 5.0,
            talk_s: 60.0,
            recent: VecDeque::new(),
            gain: GAIN_START,
            person_delays: Samples::default(),
            other_lengths: Samples::default(),
        }
    }
}

fn ewma(old: f64, new: f64, n: u64) -> f64 {
    // The plain mean at first, then a moving one over the last ~200.
    let w = 1.0 / (n.min(200) as f64).max(1.0);
    old + (new - old) * w
}

impl Measures {
    /// A dial ended without a person (busy, no answer, machine, failed)
    /// `length_s` after it was placed.
    pub fn dial_without_person(&mut self, length_s: f64) {
        self.ended += 1;
        self.other_lengths.add(length_s);
    }

    /// A person answered `delay_s` after the dial.
    pub fn person_answered(&mut self, delay_s: f64) {
        self.ended += 1;
        self.live += 1;
        self.answer_delay_s = ewma(self.answer_delay_s, delay_s, self.live);
        self.person_delays.add(delay_s);
    }

    /// The chance that a call placed `age_s` ago and not yet answered
    /// brings a person: people who answer later than that, against the
    /// dials without one that last longer (Bayes over the two measured
    /// distributions; the answer rate until they are known).
    pub fn chance(&self, age_s: f64) -> f64 {
        let p = self.answer_rate();
        match (
            self.person_delays.over(age_s),
            self.other_lengths.over(age_s),
        ) {
            (Some(s), Some(q)) => {
                let live = p * s;
                let other = (1.0 - p) * q;
                if live + other <= 0.0 {
                    0.0
                } else {
                    live / (live + other)
                }
            }
            _ => p,
        }
    }

    /// A connected call's talk ended after `talk_s`.
    pub fn talked(&mut self, talk_s: f64, n: u64) {
        self.talk_s = ewma(self.talk_s, talk_s, n);
    }

    /// A person's call was connected to an agent (false) or abandoned
    /// (true); `target` is the abandon rate the gain steers to. `held`:
    /// the campaign is not dialing ahead now (at its cap), so a connected
    /// call says nothing of the gain and does not raise it; else the gain
    /// would climb all the while it is held and dial a burst when let go.
    pub fn answered_call(&mut self, abandoned: bool, target: f64, held: bool) {
        self.recent.push_back(abandoned);
        if self.recent.len() > SHORT {
            self.recent.pop_front();
        }
        let target = target.clamp(0.001, 0.5);
        if abandoned {
            self.gain *= 1.0 - DOWN;
        } else if !held && self.short_rate() <= 2.0 * target {
            // Settles where target * DOWN = (1 - target) * up.
            let up = target * DOWN / (1.0 - target);
            self.gain *= 1.0 + up;
        }
        self.gain = self.gain.clamp(GAIN_MIN, GAIN_MAX);
    }

    pub fn short_rate(&self) -> f64 {
        if self.recent.is_empty() {
            return 0.0;
        }
        self.recent.iter().filter(|a| **a).count() as f64 / self.recent.len() as f64
    }

    /// People per dial: the prior of 30 % blended in until enough calls
    /// have ended.
    pub fn answer_rate(&self) -> f64 {
        let prior = 0.3 * PRIOR_CALLS as f64;
        ((self.live as f64 + prior) / (self.ended as f64 + PRIOR_CALLS as f64)).clamp(0.02, 1.0)
    }

    pub fn answer_delay_s(&self) -> f64 {
        self.answer_delay_s
    }

    /// How far ahead of an agent's freeing a call is placed for them: the
    /// time a quick answerer (one in ten) takes to need an agent, plus the
    /// abandon limit, since a person who needs an agent up to that long
    /// before one is free still gets one. Placed later, more agents wait;
    /// earlier, people do, and past the limit they are abandoned. (One in
    /// ten, not one in fifty: since rounds run by the clock a call is
    /// placed at the lead's edge, and the study's 20-agent point rose from
    /// 84-85 % occupancy to 88 % with no higher abandon rate; one in four
    /// gained nothing more.)
    pub fn lead_s(&self, abandon_after_s: f64) -> f64 {
        let quick = self
            .person_delays
            .quantile(0.10)
            .unwrap_or(self.answer_delay_s * 0.6);
        quick + abandon_after_s
    }

    pub fn talk_s(&self) -> f64 {
        self.talk_s
    }

    pub fn gain(&self) -> f64 {
        self.gain
    }
}

/// Power: lines for each available agent, less the calls already out.
pub fn power_calls(c: &Counts, lines_per_agent: f64) -> usize {
    let want = (c.available as f64 * lines_per_agent).floor() as usize;
    let cap = (c.logged_in as f64 * lines_per_agent).floor() as usize;
    let up = c.in_flight + c.waiting;
    want.saturating_sub(up)
        .min(cap.saturating_sub(up + c.on_call))
}

/// Predictive: the calls to place now. `brake`: the share of the dialing
/// ahead (the calls past one per free agent) the abandon windows allow
/// now, from 1 (all) to 0 (none: the campaign's rate over its cap window
/// is at the cap, or its short window's abandons at their stop).
pub fn predictive_calls(c: &Counts, m: &Measures, max_lines_per_agent: f64, brake: f64) -> usize {
    if c.logged_in == 0 {
        return 0;
    }
    let lines_cap = (c.logged_in as f64 * max_lines_per_agent).floor() as usize;
    let lines_up = c.in_flight + c.waiting + c.on_call;
    let room = lines_cap.saturating_sub(lines_up);
    // One line per free agent, as progressive: nobody waits for these.
    // Predictive never dials less for the agents free now.
    let baseline = c.available.saturating_sub(c.in_flight + c.waiting);
    let brake = if brake.is_nan() {
        0.0
    } else {
        brake.clamp(0.0, 1.0)
    };
    if brake <= 0.0 {
        return baseline.min(room);
    }
    let p = m.answer_rate();
    // Exponential talk: the share of calls up now whose talk and wrap-up
    // end within the lead.
    let ending = if c.lead_s > c.wrap_s {
        1.0 - (-(c.lead_s - c.wrap_s) / m.talk_s().max(1.0)).exp()
    } else {
        0.0
    };
    let free = c.available as f64 + c.wrap_ending_soon as f64 + c.on_call as f64 * ending;
    let expected = free * m.gain() - c.waiting as f64 - c.expected_answers;
    // Rounded down: a small team cannot dial a fraction of a call, and
    // rounding up would dial a second line for a lone free agent at any
    // gain, abandoning whenever both answer. The gain makes up the rest.
    let ahead = if expected > 0.0 {
        (expected / p).floor() as usize
    } else {
        0
    };
    let ahead = ahead.max(baseline);
    let eased = baseline + ((ahead - baseline) as f64 * brake).floor() as usize;
    eased.min(room)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn counts(logged_in: usize, available: usize) -> Counts {
        // (`expected_answers` as the prior would give for `in_flight`.)
        Counts {
            logged_in,
            available,
            ..Default::default()
        }
    }

    #[test]
    fn power_dials_its_lines_for_free_agents_only() {
        assert_eq!(power_calls(&counts(10, 4), 2.0), 8);
        assert_eq!(power_calls(&counts(10, 4), 1.5), 6);
        let busy = Counts {
            in_flight: 5,
            ..counts(10, 4)
        };
        assert_eq!(power_calls(&busy, 2.0), 3);
        assert_eq!(power_calls(&counts(10, 0), 2.0), 0);
        assert_eq!(power_calls(&counts(0, 0), 2.0), 0);
    }

    #[test]
    fn predictive_never_passes_its_lines_and_stops_without_agents() {
        let m = Measures::default();
        // 10 agents free at a 30 % prior and the first gain of 0.65: 21
        // calls wanted, 20 lines at most.
        let c = counts(10, 10);
        assert_eq!(predictive_calls(&c, &m, 2.0, 1.0), 20);
        assert_eq!(predictive_calls(&c, &m, 5.0, 1.0), 21);
        assert_eq!(predictive_calls(&counts(0, 0), &m, 5.0, 1.0), 0);
        let full = Counts {
            in_flight: 15,
            on_call: 5,
            ..counts(10, 5)
        };
        assert_eq!(predictive_calls(&full, &m, 2.0, 1.0), 0);
        // At the cap: one line per free agent; braked halfway, half of
        // the 11 ahead of them.
        assert_eq!(predictive_calls(&c, &m, 5.0, 0.0), 10);
        assert_eq!(predictive_calls(&c, &m, 5.0, 0.5), 15);
        assert_eq!(predictive_calls(&c, &m, 5.0, f64::NAN), 10);
    }

    #[test]
    fn predictive_never_dials_less_than_progressive_for_free_agents() {
        let mut m = Measures::default();
        // Abandons drive the gain to its floor: 3 free agents still get a
        // line each, less what is already out for them.
        for _ in 0..200 {
            m.answered_call(true, 0.015, false);
        }
        assert!((m.gain() - GAIN_MIN).abs() < 1e-9, "{}", m.gain());
        let c = counts(10, 3);
        assert_eq!(predictive_calls(&c, &m, 3.0, 1.0), 3);
        let out = Counts {
            in_flight: 2,
            expected_answers: 0.6,
            ..counts(10, 3)
        };
        assert_eq!(predictive_calls(&out, &m, 3.0, 1.0), 1);
        // A lone agent in wrap-up at the floor: 0.3 / 0.3 rounds down to
        // one call, not two.
        let lone = Counts {
            wrap_ending_soon: 1,
            on_call: 9,
            ..counts(10, 0)
        };
        assert!(predictive_calls(&lone, &m, 3.0, 1.0) <= 1);
    }

    #[test]
    fn agents_about_to_be_free_are_dialed_for() {
        let m = Measures::default();
        let none_free = counts(10, 0);
        assert_eq!(predictive_calls(&none_free, &m, 3.0, 1.0), 0);
        let wrapping = Counts {
            wrap_ending_soon: 3,
            on_call: 7,
            ..none_free
        };
        // 3 in wrap-up: 3 * 0.65 / 0.3 calls, rounded down; those on a
        // call are in their wrap-up still when these are answered (no lead
        // set).
        let n = predictive_calls(&wrapping, &m, 3.0, 1.0);
        assert!((6..=7).contains(&n), "{n}");
        let long_lead = Counts {
            lead_s: 40.0,
            wrap_s: 10.0,
            ..wrapping
        };
        assert!(predictive_calls(&long_lead, &m, 3.0, 1.0) > n);
    }

    #[test]
    fn the_gain_settles_at_the_target_rate() {
        let mut m = Measures::default();
        // Abandons at twice the target drive the gain down; at the target
        // it holds.
        let target = 0.015;
        let g0 = m.gain();
        for i in 0..1000 {
            m.answered_call(i % 33 == 0, target, false);
        }
        assert!(m.gain() < g0, "{}", m.gain());
        let mut held = Measures::default();
        for i in 0..2000 {
            held.answered_call(i % 67 == 0, target, false);
        }
        // Near where it started (abandons come in steps, so it wobbles).
        assert!(
            (g0 * 0.75..g0 * 1.25).contains(&held.gain()),
            "{} from {g0}",
            held.gain()
        );
        let mut none = Measures::default();
        for _ in 0..2000 {
            none.answered_call(false, target, false);
        }
        assert!(none.gain() > 1.5, "{}", none.gain());
        // Held at the cap: connected calls do not raise it.
        let mut at_cap = Measures::default();
        for _ in 0..2000 {
            at_cap.answered_call(false, target, true);
        }
        assert_eq!(at_cap.gain(), g0);
    }

    #[test]
    fn the_answer_rate_is_measured() {
        let mut m = Measures::default();
        assert!((m.answer_rate() - 0.3).abs() < 1e-9);
        for i in 0..1000 {
            if i % 2 == 0 {
                m.person_answered(4.0);
            } else {
                m.dial_without_person(30.0);
            }
        }
        assert!((m.answer_rate() - 0.5).abs() < 0.01, "{}", m.answer_rate());
        assert!((m.answer_delay_s() - 4.0).abs() < 0.01);
        // People answer at 4 s, the others last 30 s: a call still ringing
        // at 5 s brings nobody; a new one, the answer rate.
        assert!((m.chance(0.0) - 0.5).abs() < 0.01, "{}", m.chance(0.0));
        assert_eq!(m.chance(5.0), 0.0);
    }
}
