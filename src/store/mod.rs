//! Persistence: customers, agents, campaigns, tasks, attempts and pops.
//!
//! Callers hold an `Arc<dyn Store>`. One implementation serves SQLite (the
//! embedded default) and PostgreSQL through sqlx's `Any` driver; where the
//! two speak differently (placeholders, the claim's row lock) `dialect`
//! says so. Times are milliseconds since the Unix epoch.

mod calls;
mod dialect;
mod people;
mod rows;
pub mod sql;
mod tasks;
pub mod writer;

pub use crate::campaign::{CampaignSettings, CampaignState};
use async_trait::async_trait;
pub use calls::{
    Attempt, DialDecision, DncEntry, NewAttempt, NewPop, PopQuery, PopRecord, Verdict,
};
pub use people::{Agent, Customer, Disposition, Serves};
pub use tasks::{
    Added, Campaign, ClaimFilter, NewTask, PatchRefused, Task, TaskCounts, TaskNext, TaskPatch,
    TaskQuery, TaskStatus,
};

pub type StoreResult<T> = Result<T, StoreError>;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database: {0}")]
    Db(#[from] sqlx::Error),
    #[error("database migration: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error(
        "unsupported store URL {0:?} (expected sqlite://PATH, sqlite::memory: or postgres://...)"
    )]
    UnsupportedUrl(String),
    #[error("{0}")]
    Invalid(String),
    /// A write under a switch's lease after another node took it over.
    #[error("the lease of switch {0} has moved to another node")]
    LeaseMoved(String),
}

pub fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

/// One write off the hot path, applied with others in one transaction by
/// the store writer, in the order they were submitted.
#[derive(Clone, Debug, PartialEq)]
pub enum Write {
    Ringing {
        call_id: String,
        at_ms: i64,
    },
    /// A call placed with no agent (power, predictive) was given to this
    /// agent: the attempt is theirs from now on.
    Connected {
        call_id: String,
        agent_id: String,
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
    Decision(DialDecision),
    /// Written with the task's settlement by it (the same transaction); a
    /// second one for the same call keeps the first.
    Disposition(Disposition),
    /// A number the call asked not to be called again.
    AddDnc(DncEntry),
    /// A pop sent before the answer (the campaign pops at ringing).
    Pop(NewPop),
    /// Why the call popped or did not (a campaign with pop filters).
    PopRule {
        call_id: String,
        rule: String,
    },
    /// The agent's wrap-up of the call is over (handle time ends here).
    WrapEnded {
        call_id: String,
        at_ms: i64,
    },
    /// An agent's state changed (for occupancy and handle times).
    AgentState {
        agent_id: String,
        state: String,
        reason: Option<String>,
        at_ms: i64,
    },
    /// A write for one switch's calls, made under that switch's lease (a
    /// node of a cluster): it lands only while the lease is held under the
    /// same token, so a node that lost the switch writes nothing more for
    /// it. Fences nest no further.
    Fenced {
        fence: Fence,
        write: Box<Write>,
    },
}

/// The lease a write was made under (`cluster::lease`).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Fence {
    pub switch: String,
    pub token: i64,
}

#[async_trait]
pub trait Store: Send + Sync + 'static {
    async fn upsert_customer(&self, c: &Customer) -> StoreResult<()>;
    async fn customer(&self, id: &str) -> StoreResult<Option<Customer>>;

    /// Creates the campaign unless one with its id exists; true if it was
    /// created (a config file seeds campaigns this way).
    async fn insert_campaign(&self, c: &Campaign) -> StoreResult<bool>;
    /// Replaces a campaign's name and settings; false if there is none.
    async fn update_campaign(
        &self,
        id: &str,
        name: &str,
        settings: &CampaignSettings,
    ) -> StoreResult<bool>;
    /// Moves the campaign from `from` to `to`; false if it was not in `from`.
    async fn set_campaign_state(
        &self,
        id: &str,
        from: CampaignState,
        to: CampaignState,
    ) -> StoreResult<bool>;
    async fn campaign(&self, id: &str) -> StoreResult<Option<Campaign>>;
    async fn campaigns(&self) -> StoreResult<Vec<Campaign>>;

    /// Creates or updates an agent; `token_hash` is the SHA-256 (hex) of the
    /// agent's login token.
    async fn upsert_agent(&self, a: &Agent, token_hash: &str) -> StoreResult<()>;
    /// Adds an agent; false (and nothing written) if the id is taken.
    async fn insert_agent(&self, a: &Agent, token_hash: &str) -> StoreResult<bool>;
    /// Changes name, extension and campaigns; false if there is no such agent.
    async fn update_agent(&self, a: &Agent) -> StoreResult<bool>;
    /// A new login token (its hash); the old one stops working.
    async fn set_agent_token(&self, id: &str, token_hash: &str) -> StoreResult<bool>;
    async fn agent(&self, id: &str) -> StoreResult<Option<Agent>>;
    async fn agents(&self) -> StoreResult<Vec<Agent>>;
    async fn agent_by_token_hash(&self, token_hash: &str) -> StoreResult<Option<Agent>>;
    async fn disposition(&self, call_id: &str) -> StoreResult<Option<Disposition>>;

    /// An API token with a role, by the hash of the token; false if the
    /// name is taken.
    async fn insert_api_token(&self, name: &str, role: &str, token_hash: &str)
    -> StoreResult<bool>;
    /// (name, role) of the token with this hash.
    async fn api_token_by_hash(&self, token_hash: &str) -> StoreResult<Option<(String, String)>>;
    /// (name, role, created_ms) of every token.
    async fn api_tokens(&self) -> StoreResult<Vec<(String, String, i64)>>;
    async fn delete_api_token(&self, name: &str) -> StoreResult<bool>;

    async fn add_task(&self, t: &NewTask) -> StoreResult<Added> {
        let mut r = self.add_tasks(std::slice::from_ref(t)).await?;
        r.pop()
            .ok_or_else(|| StoreError::Invalid("the task was not added".into()))
    }
    /// Adds tasks in one transaction, in order; a task whose idempotency
    /// key its campaign already has is not added again.
    async fn add_tasks(&self, tasks: &[NewTask]) -> StoreResult<Vec<Added>>;
    /// A task that is being dialed from the start, outside the queue (a
    /// test call): no claim can take it, and it is written as one attempt
    /// made.
    async fn add_dialing_task(&self, task: &NewTask) -> StoreResult<Task>;
    /// Adds tasks as `add_tasks` does, without telling which row made which
    /// task (an import's bulk path): how many were new.
    async fn insert_tasks(&self, tasks: &[NewTask]) -> StoreResult<u64>;
    /// Takes the best task the filter allows that is due (highest priority,
    /// then the one due longest) and marks it dialing, with one more attempt, atomically
    /// (and with several claimers at once: none is handed out twice).
    async fn claim_next_task(
        &self,
        filter: &ClaimFilter,
        now_ms: i64,
    ) -> StoreResult<Option<Task>> {
        Ok(self.claim_next(filter, now_ms).await?.map(|(t, _)| t))
    }
    /// One claim, with the task's do-not-call entry.
    async fn claim_next(
        &self,
        filter: &ClaimFilter,
        now_ms: i64,
    ) -> StoreResult<Option<(Task, Option<DncEntry>)>> {
        Ok(self.claim_batch(filter, now_ms, 1).await?.pop())
    }
    /// Up to `limit` claims at once, in the queue's order, each with the
    /// do-not-call entry for its number if there is one, read in the same
    /// statement: a burst of idle agents costs the store one round trip,
    /// not one each (SQLite has one connection for everything).
    async fn claim_batch(
        &self,
        filter: &ClaimFilter,
        now_ms: i64,
        limit: usize,
    ) -> StoreResult<Vec<(Task, Option<DncEntry>)>>;
    async fn finish_task(
        &self,
        task_id: i64,
        next: TaskNext,
        cause: Option<&str>,
    ) -> StoreResult<()>;
    async fn task(&self, id: i64) -> StoreResult<Option<Task>>;
    async fn tasks(&self, q: &TaskQuery) -> StoreResult<Vec<Task>>;
    /// Changes (or cancels) a task that is pending.
    async fn patch_task(
        &self,
        id: i64,
        patch: &TaskPatch,
    ) -> StoreResult<Result<Task, PatchRefused>>;
    async fn task_counts(&self, campaign_id: &str) -> StoreResult<TaskCounts>;
    /// When the next pending task the filter allows becomes due.
    async fn next_due_ms(&self, filter: &ClaimFilter) -> StoreResult<Option<i64>>;

    /// Adds the entries not listed yet; returns how many were new.
    async fn add_dnc(&self, entries: &[DncEntry]) -> StoreResult<u64>;
    /// Removes an entry; false if there was none.
    async fn remove_dnc(&self, phone: &str, campaign_id: Option<&str>) -> StoreResult<bool>;
    /// The entry that forbids calling `phone` in the campaign, if any (the
    /// campaign's own list first, then the global one).
    async fn dnc_match(&self, phone: &str, campaign_id: &str) -> StoreResult<Option<DncEntry>>;
    async fn dnc_list(
        &self,
        campaign_id: Option<&str>,
        after_phone: &str,
        limit: u32,
    ) -> StoreResult<Vec<DncEntry>>;
    /// The decisions about a task, oldest first.
    async fn decisions_for_task(&self, task_id: i64) -> StoreResult<Vec<DialDecision>>;
    /// Each agent's calls of a campaign placed since `since_ms`.
    async fn agent_calls(
        &self,
        campaign_id: &str,
        since_ms: i64,
    ) -> StoreResult<Vec<crate::campaign::stats::AgentCalls>>;
    /// The agent state log: each agent's last change before `since_ms`, and
    /// every change since.
    async fn presence_changes(
        &self,
        since_ms: i64,
    ) -> StoreResult<(
        Vec<crate::campaign::stats::PresenceChange>,
        Vec<crate::campaign::stats::PresenceChange>,
    )>;
    /// A campaign's dispositions since `since_ms`, by code.
    async fn disposition_counts(
        &self,
        campaign_id: &str,
        since_ms: i64,
    ) -> StoreResult<Vec<(String, u64)>>;
    /// A campaign's people answered (connected or abandoned; machines
    /// and calls nobody answered left out) and of them abandoned, of the
    /// calls that ended since `since_ms`: its abandon rate over its cap
    /// window, whatever restarts came between.
    async fn abandon_counts(&self, campaign_id: &str, since_ms: i64) -> StoreResult<(u64, u64)>;
    /// Counts of a campaign's decisions since `since_ms`, by verdict and
    /// reason.
    async fn decision_counts(
        &self,
        campaign_id: &str,
        since_ms: i64,
    ) -> StoreResult<Vec<(Verdict, String, u64)>>;

    /// Written before the originate goes to the switch. The attempt is the
    /// record of the decision to dial (`decisions_for_task` shows it so).
    async fn insert_attempt(&self, a: &NewAttempt) -> StoreResult<()> {
        self.insert_attempts(std::slice::from_ref(a)).await
    }
    /// Several attempts in one transaction (a batch of claims' dials).
    async fn insert_attempts(&self, a: &[NewAttempt]) -> StoreResult<()> {
        self.insert_attempts_under(a, None).await
    }
    /// The same, under a switch's lease: `LeaseMoved`, and nothing written,
    /// once the lease has another token (no call may be placed for it).
    async fn insert_attempts_under(
        &self,
        a: &[NewAttempt],
        fence: Option<&Fence>,
    ) -> StoreResult<()>;
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
    /// The open attempts of one switch's calls (a cluster node taking that
    /// switch over re-owns those and no others).
    async fn open_attempts_on(&self, switch: &str) -> StoreResult<Vec<Attempt>>;
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
    /// The orphans claimed for one switch (or by a single node, before a
    /// cluster ran): its new owner's to settle.
    async fn orphaned_dialing_tasks_on(&self, switch: &str) -> StoreResult<Vec<Task>>;
    /// Sets a task's attempt count to the attempts actually recorded.
    async fn sync_task_attempts(&self, task_id: i64) -> StoreResult<u32>;

    async fn pop_acked(&self, pop_id: &str, agent_id: &str, at_ms: i64) -> StoreResult<bool>;
    /// Applies the writes in order, in one transaction: all or none, but
    /// for the fenced writes whose lease has moved on, which are dropped
    /// (and counted in `fenced_writes`).
    async fn apply(&self, writes: &[Write]) -> StoreResult<()>;
    /// Fenced writes dropped since the store was opened.
    fn fenced_writes(&self) -> u64 {
        0
    }
    async fn pops_for_call(&self, call_id: &str)
    -> StoreResult<Vec<(String, String, Option<i64>)>>;
    async fn pop(&self, pop_id: &str) -> StoreResult<Option<PopRecord>>;
    async fn pops(&self, q: &PopQuery) -> StoreResult<Vec<PopRecord>>;
}

/// Opens the store a URL names (`sqlite://path`, `sqlite::memory:`,
/// `postgres://user@host/db`).
pub async fn open(url: &str) -> StoreResult<std::sync::Arc<dyn Store>> {
    Ok(std::sync::Arc::new(sql::SqlStore::open(url).await?))
}

/// SHA-256 of a token, hex: what the store keeps instead of the token.
pub fn token_hash(token: &str) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(token.as_bytes()))
}
