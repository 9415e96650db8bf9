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
    /// Pops that went out with a source missing.
    pub pops_degraded: u64,
    /// Answered calls the campaign's filters kept from popping.
    pub pops_filtered: u64,
    /// Ended calls by the switch's hang-up cause (at most `MAX_CAUSES`
    /// names; the rest are counted as `other`).
    pub causes: std::collections::BTreeMap<String, u64>,
    /// Calls by campaign, for its answer and abandon rates.
    pub campaigns: std::collections::BTreeMap<String, CampaignCalls>,
}

/// One campaign's calls.
#[derive(Clone, Debug, Default, serde::Serialize)]
pub struct CampaignCalls {
    pub originates: u64,
    /// Ended calls by outcome.
    pub ended: std::collections::BTreeMap<&'static str, u64>,
}

/// Distinct hang-up cause names counted: a switch that sends free text
/// cannot grow the table (or a metric's label set) without end.
const MAX_CAUSES: usize = 64;

impl DialerStats {
    fn campaign(&mut self, id: &str) -> &mut CampaignCalls {
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
