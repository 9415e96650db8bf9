//! What the dialer counts as its calls go: placed, by outcome, by hang-up
//! cause and by campaign (for `/metrics`, the status and the demo report).

use super::policy;

#[derive(Clone, Debug, Default, serde::Serialize)]
pub struct DialerStats {
    pub calls: u64,
    pub answered: u64,
    pub busy: u64,
    pub no_answer: u64,
    pub failed: u64,
    pub vanished: u64,
    /// Calls the switch never put through (refused, not connected): no
    /// attempt was charged to their tasks.
    pub not_placed: u64,
    /// Answered with no agent in time (power, predictive).
    pub abandoned: u64,
    /// Answered by a machine, hung up or left a message.
    pub machines: u64,
    /// Pops that went out with a source missing.
    pub pops_degraded: u64,
    /// Answered calls the campaign's filters kept from popping.
    pub pops_filtered: u64,
    /// Ended calls by the switch's hang-up cause (at most `MAX_CAUSES`
    /// names; the rest are counted as `other`).
    pub causes: std::collections::BTreeMap<String, u64>,
    /// Seconds agents spent talking, in wrap-up, and idle (available,
    /// waiting for a call placed for them) while logged in.
    pub agent_talk_s: f64,
    pub agent_wrap_s: f64,
    pub agent_idle_s: f64,
    /// Calls by campaign, for its answer and abandon rates.
    pub campaigns: std::collections::BTreeMap<String, CampaignCalls>,
}

/// One campaign's calls.
#[derive(Clone, Debug, Default, PartialEq, serde::Serialize)]
pub struct CampaignCalls {
    pub originates: u64,
    /// Ended calls by outcome.
    pub ended: std::collections::BTreeMap<&'static str, u64>,
    /// Power and predictive: people who answered (machines left out), and
    /// of them those connected to an agent and those abandoned.
    pub people: u64,
    pub connected: u64,
    pub abandoned: u64,
    /// Answering machines detected.
    pub machines: u64,
    /// From the answer (or the verdict) to the agent, summed and at most.
    pub connect_ms_sum: f64,
    pub connect_ms_max: f64,
    /// Lines up per logged-in agent, now and at most.
    pub dial_level: f64,
    pub dial_level_max: f64,
    /// The predictive gain now.
    pub gain: f64,
}

impl CampaignCalls {
    /// Abandoned people per person answered.
    pub fn abandon_rate(&self) -> f64 {
        if self.people == 0 {
            0.0
        } else {
            self.abandoned as f64 / self.people as f64
        }
    }
}

impl CampaignCalls {
    /// Two dialers' counts of one campaign as one (a cluster node's
    /// switches): counts add, levels and the gain are the highest.
    fn add(&mut self, o: &CampaignCalls) {
        self.originates += o.originates;
        for (k, n) in &o.ended {
            *self.ended.entry(k).or_default() += n;
        }
        self.people += o.people;
        self.connected += o.connected;
        self.abandoned += o.abandoned;
        self.machines += o.machines;
        self.connect_ms_sum += o.connect_ms_sum;
        self.connect_ms_max = self.connect_ms_max.max(o.connect_ms_max);
        self.dial_level = self.dial_level.max(o.dial_level);
        self.dial_level_max = self.dial_level_max.max(o.dial_level_max);
        self.gain = self.gain.max(o.gain);
    }
}

impl DialerStats {
    /// Another dialer's counts added to these.
    pub fn add(&mut self, o: &DialerStats) {
        self.calls += o.calls;
        self.answered += o.answered;
        self.busy += o.busy;
        self.no_answer += o.no_answer;
        self.failed += o.failed;
        self.vanished += o.vanished;
        self.not_placed += o.not_placed;
        self.abandoned += o.abandoned;
        self.machines += o.machines;
        self.pops_degraded += o.pops_degraded;
        self.pops_filtered += o.pops_filtered;
        for (k, n) in &o.causes {
            *self.causes.entry(k.clone()).or_default() += n;
        }
        self.agent_talk_s += o.agent_talk_s;
        self.agent_wrap_s += o.agent_wrap_s;
        self.agent_idle_s += o.agent_idle_s;
        for (k, c) in &o.campaigns {
            self.campaigns.entry(k.clone()).or_default().add(c);
        }
    }
}

/// Distinct hang-up cause names counted: a switch that sends free text
/// cannot grow the table (or a metric's label set) without end.
const MAX_CAUSES: usize = 64;

impl DialerStats {
    pub(crate) fn campaign(&mut self, id: &str) -> &mut CampaignCalls {
        // Campaign ids are few and come from the store, not the switch.
        self.campaigns.entry(id.to_string()).or_default()
    }

    pub(crate) fn count_originate(&mut self, campaign: &str) {
        self.calls += 1;
        self.campaign(campaign).originates += 1;
    }

    pub(crate) fn count_end(&mut self, campaign: &str, outcome: policy::Outcome) {
        *self
            .campaign(campaign)
            .ended
            .entry(outcome.as_str())
            .or_default() += 1;
    }

    pub(crate) fn count_cause(&mut self, name: &str) {
        if let Some(n) = self.causes.get_mut(name) {
            *n += 1;
        } else if self.causes.len() < MAX_CAUSES {
            self.causes.insert(name.to_string(), 1);
        } else {
            *self.causes.entry("other".into()).or_default() += 1;
        }
    }
}
