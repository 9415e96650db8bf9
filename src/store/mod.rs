//! Persistence: customers, agents, campaigns, tasks, attempts and pops.
//!
//! Callers hold an `Arc<dyn Store>`; SQLite is the backend today and a
//! PostgreSQL one can follow behind the same trait. Times are milliseconds
//! since the Unix epoch.

pub mod sqlite;
pub mod writer;

use async_trait::async_trait;
use serde::Serialize;

pub type StoreResult<T> = Result<T, StoreError>;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database: {0}")]
    Db(#[from] sqlx::Error),
    #[error("database migration: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error("unsupported store URL {0:?} (expected sqlite://PATH or sqlite::memory:)")]
    UnsupportedUrl(String),
    #[error("{0}")]
    Invalid(String),
}

pub fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Customer {
    pub id: String,
    pub name: String,
    pub phone: String,
    pub email: Option<String>,
    pub tier: Option<String>,
    pub vip: bool,
    /// Further fields shown on the pop, in order.
    pub fields: serde_json::Map<String, serde_json::Value>,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Campaign {
    pub id: String,
    pub name: String,
    pub active: bool,
    pub pop_trigger: String,
    pub max_attempts: u32,
    pub retry_delay_ms: i64,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Agent {
    pub id: String,
    pub name: String,
    pub extension: String,
    pub campaign_id: String,
}

#[derive(Clone, Debug, PartialEq)]
pub struct NewTask {
    pub campaign_id: String,
    pub customer_id: String,
    pub phone: String,
    pub priority: i64,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Task {
    pub id: i64,
    pub campaign_id: String,
    pub customer_id: String,
    pub phone: String,
    pub priority: i64,
    pub status: String,
    pub attempts: u32,
}

/// What becomes of a task after an attempt.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TaskNext {
    Done,
    RetryAt(i64),
    Failed,
    /// The attempt never reached the customer (the switch did not place
    /// it): pending again at once, and the attempt it was charged is given
    /// back.
    Requeue,
}

/// One write off the hot path, applied with others in one transaction by
/// the store writer, in the order they were submitted.
#[derive(Clone, Debug, PartialEq)]
pub enum Write {
    Ringing {
        call_id: String,
        at_ms: i64,
    },
    /// The answer and, when given, the pop that went out for it.
    Answer {
        call_id: String,
        at_ms: i64,
        pop: Option<NewPop>,
    },
    CloseAttempt {
        call_id: String,
        at_ms: i64,
        outcome: String,
        cause: Option<String>,
    },
    FinishTask {
        task_id: i64,
        next: TaskNext,
        cause: Option<String>,
    },
    /// Only the agent the pop went to can acknowledge it; the first ack
    /// counts.
    PopAcked {
        pop_id: String,
        agent_id: String,
        at_ms: i64,
    },
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
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct TaskCounts {
    pub pending: u64,
    pub dialing: u64,
    pub done: u64,
    pub failed: u64,
}

#[derive(Clone, Debug, PartialEq)]
pub struct NewPop {
    pub pop_id: String,
    pub call_id: String,
    pub agent_id: String,
    pub customer_id: String,
    pub sent_ms: i64,
    pub degraded: bool,
}

#[async_trait]
pub trait Store: Send + Sync + 'static {
    async fn upsert_customer(&self, c: &Customer) -> StoreResult<()>;
    async fn customer(&self, id: &str) -> StoreResult<Option<Customer>>;

    async fn upsert_campaign(&self, c: &Campaign) -> StoreResult<()>;
    async fn campaign(&self, id: &str) -> StoreResult<Option<Campaign>>;

    /// Creates or updates an agent; `token_hash` is the SHA-256 (hex) of the
    /// agent's login token.
    async fn upsert_agent(&self, a: &Agent, token_hash: &str) -> StoreResult<()>;
    async fn agents(&self) -> StoreResult<Vec<Agent>>;
    async fn agent_by_token_hash(&self, token_hash: &str) -> StoreResult<Option<Agent>>;

    async fn add_task(&self, t: &NewTask) -> StoreResult<i64>;
    /// Takes the best task that may be dialed now (highest priority, then
    /// oldest) and marks it dialing, with one more attempt, atomically.
    async fn claim_next_task(&self, campaign_id: &str, now_ms: i64) -> StoreResult<Option<Task>>;
    async fn finish_task(
        &self,
        task_id: i64,
        next: TaskNext,
        cause: Option<&str>,
    ) -> StoreResult<()>;
    async fn task(&self, id: i64) -> StoreResult<Option<Task>>;
    async fn task_counts(&self, campaign_id: &str) -> StoreResult<TaskCounts>;
    /// When the next pending task becomes due, if any is pending.
    async fn next_due_ms(&self, campaign_id: &str) -> StoreResult<Option<i64>>;

    /// Written before the originate goes to the switch.
    async fn insert_attempt(&self, a: &NewAttempt) -> StoreResult<()>;
    async fn attempt_ringing(&self, call_id: &str, at_ms: i64) -> StoreResult<()>;
    /// Records the answer and, when given, the pop that goes out for it, in
    /// one transaction: an answered call never lacks its pop record, and the
    /// record exists before the page can acknowledge it. A second call keeps
    /// the first answer time.
    async fn record_answer(
        &self,
        call_id: &str,
        at_ms: i64,
        pop: Option<&NewPop>,
    ) -> StoreResult<()>;
    async fn close_attempt(
        &self,
        call_id: &str,
        at_ms: i64,
        outcome: &str,
        cause: Option<&str>,
    ) -> StoreResult<()>;
    async fn attempt(&self, call_id: &str) -> StoreResult<Option<Attempt>>;
    /// Attempts not yet closed (for reconciling with the switch at start).
    async fn open_attempts(&self) -> StoreResult<Vec<Attempt>>;
    async fn attempts_for_task(&self, task_id: i64) -> StoreResult<Vec<Attempt>>;
    /// A customer's finished calls, newest first, a page at a time.
    async fn customer_calls(
        &self,
        customer_id: &str,
        limit: u32,
        offset: u64,
    ) -> StoreResult<Vec<(Attempt, String)>>;
    /// Tasks marked dialing with no open attempt: left so by a process that
    /// died between two writes.
    async fn orphaned_dialing_tasks(&self) -> StoreResult<Vec<Task>>;
    /// Sets a task's attempt count to the attempts actually recorded.
    async fn sync_task_attempts(&self, task_id: i64) -> StoreResult<u32>;

    async fn pop_acked(&self, pop_id: &str, agent_id: &str, at_ms: i64) -> StoreResult<bool>;
    /// Applies the writes in order, in one transaction: all or none.
    async fn apply(&self, writes: &[Write]) -> StoreResult<()>;
    async fn pops_for_call(&self, call_id: &str)
    -> StoreResult<Vec<(String, String, Option<i64>)>>;
}

/// Opens the store a URL names (`sqlite://path`, `sqlite::memory:`).
pub async fn open(url: &str) -> StoreResult<std::sync::Arc<dyn Store>> {
    if url.starts_with("sqlite:") {
        Ok(std::sync::Arc::new(sqlite::SqliteStore::open(url).await?))
    } else {
        Err(StoreError::UnsupportedUrl(url.to_string()))
    }
}

/// SHA-256 of a token, hex: what the store keeps instead of the token.
pub fn token_hash(token: &str) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(token.as_bytes()))
}
