//! Campaigns and their tasks: what is dialed, where each task is, and the
//! claims, queries and patches on it.

use super::{CampaignSettings, CampaignState};
use serde::{Deserialize, Serialize};

/// A campaign as the store keeps it: the truth, which a config file may
/// seed but never overwrites.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Campaign {
    pub id: String,
    pub name: String,
    pub state: CampaignState,
    pub settings: CampaignSettings,
    pub created_ms: i64,
    pub updated_ms: i64,
}

/// Where a task is. `Pending` waits for its due time; the others after
/// `Dialing` are final.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TaskStatus {
    #[default]
    Pending,
    Dialing,
    Done,
    Failed,
    Cancelled,
    /// Its number is on a do-not-call list.
    DoNotCall,
    /// Its `not_after` passed before it could be reached.
    Expired,
}

impl TaskStatus {
    pub const ALL: [TaskStatus; 7] = [
        TaskStatus::Pending,
        TaskStatus::Dialing,
        TaskStatus::Done,
        TaskStatus::Failed,
        TaskStatus::Cancelled,
        TaskStatus::DoNotCall,
        TaskStatus::Expired,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            TaskStatus::Pending => "pending",
            TaskStatus::Dialing => "dialing",
            TaskStatus::Done => "done",
            TaskStatus::Failed => "failed",
            TaskStatus::Cancelled => "cancelled",
            TaskStatus::DoNotCall => "do_not_call",
            TaskStatus::Expired => "expired",
        }
    }

    pub fn parse(s: &str) -> Option<TaskStatus> {
        TaskStatus::ALL.into_iter().find(|t| t.as_str() == s)
    }
}

#[derive(Clone, Debug, Default, PartialEq)]
pub struct NewTask {
    pub campaign_id: String,
    pub customer_id: String,
    /// E.164.
    pub phone: String,
    pub priority: i64,
    pub tags: Vec<String>,
    /// When it is first due (ms); it may be later, at its window's opening.
    pub due_ms: i64,
    pub not_before_ms: Option<i64>,
    pub not_after_ms: Option<i64>,
    /// IANA zone; None: the campaign's.
    pub time_zone: Option<String>,
    pub variables: serde_json::Map<String, serde_json::Value>,
    /// The same key twice in a campaign makes one task.
    pub idempotency_key: Option<String>,
    /// The API token (its id) that submitted it.
    pub submitted_by: Option<String>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct Task {
    pub id: i64,
    pub campaign_id: String,
    pub customer_id: String,
    pub phone: String,
    pub priority: i64,
    pub status: TaskStatus,
    pub attempts: u32,
    pub tags: Vec<String>,
    /// When it is due next (ms).
    pub due_ms: i64,
    pub not_before_ms: Option<i64>,
    pub not_after_ms: Option<i64>,
    pub time_zone: Option<String>,
    pub variables: serde_json::Map<String, serde_json::Value>,
    pub idempotency_key: Option<String>,
    pub last_cause: Option<String>,
    /// The API token that submitted it (a `tasks` token sees only its own).
    pub submitted_by: Option<String>,
    /// A callback bound to this agent, until `agent_until_ms`.
    pub agent_id: Option<String>,
    pub agent_until_ms: Option<i64>,
    pub created_ms: i64,
    pub updated_ms: i64,
}

/// What adding a task did: a new one, or the one its idempotency key
/// already named.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct Added {
    pub id: i64,
    pub created: bool,
}

/// Which tasks the claim may take: the campaign's selection, applied in
/// the store so that nothing else is ever claimed.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ClaimFilter {
    pub campaign_id: String,
    pub include_tags: Vec<String>,
    pub exclude_tags: Vec<String>,
    pub min_priority: Option<i64>,
    pub max_priority: Option<i64>,
    pub due_from_ms: Option<i64>,
    pub due_until_ms: Option<i64>,
    /// The agents claimed for: callbacks bound to one of them may be taken
    /// (others' only once their grace is over).
    pub agents: Vec<String>,
    /// Claimed under this switch's lease (a cluster node): nothing is
    /// claimed once the lease has moved on (`LeaseMoved`), and the tasks
    /// claimed are marked as the switch's.
    pub fence: Option<super::Fence>,
}

/// A page of the task list.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TaskQuery {
    pub campaign_id: Option<String>,
    pub status: Option<TaskStatus>,
    pub tag: Option<String>,
    pub min_priority: Option<i64>,
    pub max_priority: Option<i64>,
    pub due_from_ms: Option<i64>,
    pub due_until_ms: Option<i64>,
    pub created_from_ms: Option<i64>,
    pub created_until_ms: Option<i64>,
    pub submitted_by: Option<String>,
    /// Tasks after this id.
    pub after_id: i64,
    pub limit: u32,
}

/// A change to a task that is not being dialed.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct TaskPatch {
    pub priority: Option<i64>,
    pub tags: Option<Vec<String>>,
    pub due_ms: Option<i64>,
    pub not_before_ms: Option<Option<i64>>,
    pub not_after_ms: Option<Option<i64>>,
    pub variables: Option<serde_json::Map<String, serde_json::Value>>,
    /// A callback: bound to this agent until that time (None: unbound).
    pub agent: Option<Option<(String, i64)>>,
    pub cancel: bool,
}

/// Why a task could not be changed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PatchRefused {
    NotFound,
    /// Being dialed or already final.
    NotChangeable(TaskStatus),
}

/// What becomes of a task after an attempt.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TaskNext {
    Done,
    RetryAt(i64),
    Failed,
    /// The attempt never reached the customer (the switch did not place
    /// it, or its window was closed): pending again, due at this time, and
    /// the attempt it was charged is given back.
    Requeue(i64),
    /// Never to be dialed (do-not-call, expired, invalid number): closed
    /// with this status, the attempt given back.
    Refused(TaskStatus),
    /// A callback: pending again, due at `at_ms`; when bound to an agent,
    /// only that agent takes it until `until_ms`, then the pool does.
    Callback {
        at_ms: i64,
        agent: Option<(String, i64)>,
    },
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct TaskCounts {
    pub pending: u64,
    pub dialing: u64,
    pub done: u64,
    pub failed: u64,
    pub cancelled: u64,
    pub do_not_call: u64,
    pub expired: u64,
}

impl TaskCounts {
    pub fn add(&mut self, status: TaskStatus, n: u64) {
        match status {
            TaskStatus::Pending => self.pending += n,
            TaskStatus::Dialing => self.dialing += n,
            TaskStatus::Done => self.done += n,
            TaskStatus::Failed => self.failed += n,
            TaskStatus::Cancelled => self.cancelled += n,
            TaskStatus::DoNotCall => self.do_not_call += n,
            TaskStatus::Expired => self.expired += n,
        }
    }
}
