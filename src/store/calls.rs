//! What each call leaves behind: the dialer's decisions (and the do-not-call
//! entries they consult), the attempts and the pops.

use serde::{Deserialize, Serialize};

/// One entry of a do-not-call list.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct DncEntry {
    /// E.164.
    pub phone: String,
    /// None: every campaign.
    pub campaign_id: Option<String>,
    pub reason: Option<String>,
    pub added_ms: i64,
}

/// What the dialer decided about a task, and why: the audit trail of every
/// dial and every refusal.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct DialDecision {
    pub task_id: i64,
    pub campaign_id: String,
    pub at_ms: i64,
    pub verdict: Verdict,
    /// `eligible`, `outside_window`, `holiday`, `do_not_call`, `expired`,
    /// `invalid_number`, `campaign_not_running`.
    pub reason: String,
    pub detail: Option<String>,
    pub call_id: Option<String>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    Dial,
    /// Not now: due again later.
    Defer,
    /// Never.
    Refuse,
}

impl Verdict {
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Dial => "dial",
            Verdict::Defer => "defer",
            Verdict::Refuse => "refuse",
        }
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct NewAttempt {
    pub call_id: String,
    pub task_id: i64,
    pub agent_id: String,
    pub switch_name: String,
    pub originate_ms: i64,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Attempt {
    pub call_id: String,
    pub task_id: i64,
    pub agent_id: String,
    pub switch_name: String,
    pub originate_ms: i64,
    pub ring_ms: Option<i64>,
    pub answer_ms: Option<i64>,
    pub hangup_ms: Option<i64>,
    pub outcome: Option<String>,
    pub hangup_cause: Option<String>,
    /// When the agent's wrap-up of an answered call ended.
    pub wrap_end_ms: Option<i64>,
    /// Why the call popped or did not, when the campaign filters pops.
    pub pop_rule: Option<String>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct NewPop {
    pub pop_id: String,
    pub call_id: String,
    pub agent_id: String,
    pub customer_id: String,
    pub sent_ms: i64,
    pub degraded: bool,
    pub template: String,
    /// The customer fields on the screen.
    pub shown: Vec<String>,
    pub trigger: crate::campaign::settings::PopTrigger,
}

/// One pop as the pop log shows it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct PopRecord {
    pub pop_id: String,
    pub call_id: String,
    pub agent_id: String,
    pub customer_id: String,
    pub campaign_id: Option<String>,
    pub task_id: Option<i64>,
    pub sent_ms: i64,
    pub acked_ms: Option<i64>,
    /// The call was answered (a ringing pop's call may not have been).
    pub answered: bool,
    pub degraded: bool,
    /// None for pops written before templates.
    pub template: Option<String>,
    /// The customer fields on the screen.
    pub shown: Vec<String>,
    pub trigger: Option<String>,
}

/// Which pops the log lists: sent in `[since_ms, until_ms)`, newest first,
/// after `before` (the last one of the previous page).
#[derive(Clone, Debug, Default)]
pub struct PopQuery {
    pub since_ms: i64,
    pub until_ms: i64,
    pub call_id: Option<String>,
    pub agent_id: Option<String>,
    pub customer_id: Option<String>,
    pub campaign_id: Option<String>,
    pub degraded: Option<bool>,
    pub acked: Option<bool>,
    pub before: Option<(i64, String)>,
    pub limit: u32,
}
