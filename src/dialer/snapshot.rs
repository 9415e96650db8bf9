//! What the dialer shows of itself: its counts, its calls and agents, its
//! switches and its writer (for `/metrics`, `/readyz`, the status and the
//! demo report), and a cluster node's dialers summed into one.

use super::agents;
use super::stats::DialerStats;
use super::switches::SwitchStatus;
use crate::store::writer::WriterStats;

#[derive(Clone, Debug, serde::Serialize)]
pub struct DialerSnapshot {
    pub stats: DialerStats,
    pub live_calls: usize,
    /// Wrap-ups that end on their own (a disposition is not required):
    /// a graceful stop waits for them, so that their tasks are settled.
    pub timed_wrap_ups: usize,
    pub agents: Vec<(String, String)>,
    pub agent_counts: std::collections::BTreeMap<String, usize>,
    pub switch_up: bool,
    pub switches: Vec<SwitchStatus>,
    pub writer: WriterStats,
    pub draining: bool,
    /// Seconds agents spent talking, in wrap-up and idle while logged in.
    pub agent_time: agents::AgentTime,
}

impl DialerSnapshot {
    /// A cluster node's dialers (one per switch it holds) as one: counts
    /// add; the writer is the node's one, shared by all.
    pub fn merge(parts: Vec<DialerSnapshot>) -> DialerSnapshot {
        let mut out = DialerSnapshot {
            stats: DialerStats::default(),
            live_calls: 0,
            timed_wrap_ups: 0,
            agents: Vec::new(),
            agent_counts: Default::default(),
            switch_up: false,
            switches: Vec::new(),
            writer: WriterStats::default(),
            draining: false,
            agent_time: Default::default(),
        };
        for p in parts {
            out.stats.add(&p.stats);
            out.live_calls += p.live_calls;
            out.timed_wrap_ups += p.timed_wrap_ups;
            out.agents.extend(p.agents);
            for (k, n) in p.agent_counts {
                *out.agent_counts.entry(k).or_default() += n;
            }
            out.switch_up |= p.switch_up;
            out.switches.extend(p.switches);
            out.writer = p.writer;
            out.draining |= p.draining;
            out.agent_time.talk_s += p.agent_time.talk_s;
            out.agent_time.wrap_s += p.agent_time.wrap_s;
            out.agent_time.idle_s += p.agent_time.idle_s;
        }
        out.agents.sort();
        out
    }
}
