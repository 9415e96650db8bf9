//! Campaign figures from what the store recorded: rates, handle times and
//! occupancy. Pure: the store reads the rows, this adds them up.

use serde::Serialize;

/// One agent's calls of a campaign in the window.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct AgentCalls {
    pub agent_id: String,
    /// Attempts placed (calls the switch did not place are not counted).
    pub dials: u64,
    pub answered: u64,
    /// Answered calls whose wrap-up is over.
    pub handled: u64,
    /// Sums over the handled calls.
    pub talk_ms: i64,
    pub wrap_ms: i64,
}

/// A presence change from the agent state log: `working`, `paused` or
/// `logged_out`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PresenceChange {
    pub agent_id: String,
    pub class: String,
    pub at_ms: i64,
}

/// Time each agent spent signed in and not paused within `[since, now]`,
/// from the last change before `since` (if any) and the changes after it.
/// An agent with no record before a change is taken to be out.
pub fn working_ms(
    before: &[PresenceChange],
    during: &[PresenceChange],
    since: i64,
    now: i64,
) -> std::collections::BTreeMap<String, i64> {
    let mut open: std::collections::BTreeMap<String, Option<i64>> = before
        .iter()
        .map(|c| (c.agent_id.clone(), (c.class == "working").then_some(since)))
        .collect();
    let mut total: std::collections::BTreeMap<String, i64> = std::collections::BTreeMap::new();
    let mut sorted: Vec<&PresenceChange> = during.iter().collect();
    sorted.sort_by_key(|c| c.at_ms);
    for c in sorted {
        let at = c.at_ms.clamp(since, now);
        let slot = open.entry(c.agent_id.clone()).or_insert(None);
        if let Some(from) = slot.take() {
            *total.entry(c.agent_id.clone()).or_default() += at - from;
        }
        if c.class == "working" {
            *slot = Some(at);
        }
    }
    for (agent, from) in open {
        if let Some(from) = from {
            *total.entry(agent).or_default() += now - from;
        }
    }
    total
}

/// Handle time over time signed in: none when the agent was not in.
pub fn occupancy(handle_ms: i64, working_ms: i64) -> Option<f64> {
    (working_ms > 0).then(|| (handle_ms as f64 / working_ms as f64).min(1.0))
}

/// The mean in seconds, none without calls.
pub fn mean_seconds(sum_ms: i64, n: u64) -> Option<f64> {
    (n > 0).then(|| sum_ms as f64 / n as f64 / 1000.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ch(agent: &str, class: &str, at: i64) -> PresenceChange {
        PresenceChange {
            agent_id: agent.into(),
            class: class.into(),
            at_ms: at,
        }
    }

    #[test]
    fn working_time_counts_only_signed_in_unpaused_spans_in_the_window() {
        // a: in before the window, paused 40–60, out at 90.
        // b: in at 50 and still in at 100. c: out all along.
        let before = [ch("a", "working", 0), ch("c", "logged_out", 5)];
        let during = [
            ch("a", "paused", 40),
            ch("b", "working", 50),
            ch("a", "working", 60),
            ch("a", "logged_out", 90),
        ];
        let w = working_ms(&before, &during, 10, 100);
        assert_eq!(w.get("a"), Some(&60), "10–40 and 60–90");
        assert_eq!(w.get("b"), Some(&50));
        assert_eq!(w.get("c"), None);
        assert_eq!(occupancy(30, 60), Some(0.5));
        assert_eq!(occupancy(90, 60), Some(1.0), "capped");
        assert_eq!(occupancy(10, 0), None);
        assert_eq!(mean_seconds(3_000, 2), Some(1.5));
        assert_eq!(mean_seconds(0, 0), None);
    }
}
