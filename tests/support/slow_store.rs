//! The real SQLite store with chosen operations made slow: to put a fault
//! test's event exactly where it must fall (a logout during a claim, an ack
//! before the pop's row lands, a hang-up before the lookup finishes). Every
//! call still goes to the real database.

use async_trait::async_trait;
use dialpop::store::*;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

#[derive(Default)]
pub struct Delays {
    /// Before each `claim_next_task`, ms.
    pub claim_ms: AtomicU64,
    /// Before each batch of the writer, ms.
    pub apply_ms: AtomicU64,
    /// Before each customer record read, ms.
    pub customer_ms: AtomicU64,
}

pub struct SlowStore {
    pub inner: Arc<dyn Store>,
    pub delays: Arc<Delays>,
}

async fn pause(ms: &AtomicU64) {
    let ms = ms.load(Ordering::Relaxed);
    if ms > 0 {
        tokio::time::sleep(Duration::from_millis(ms)).await;
    }
}

#[async_trait]
impl Store for SlowStore {
    async fn upsert_customer(&self, c: &Customer) -> StoreResult<()> {
        self.inner.upsert_customer(c).await
    }
    async fn customer(&self, id: &str) -> StoreResult<Option<Customer>> {
        pause(&self.delays.customer_ms).await;
        self.inner.customer(id).await
    }
    async fn upsert_campaign(&self, c: &Campaign) -> StoreResult<()> {
        self.inner.upsert_campaign(c).await
    }
    async fn campaign(&self, id: &str) -> StoreResult<Option<Campaign>> {
        self.inner.campaign(id).await
    }
    async fn upsert_agent(&self, a: &Agent, token_hash: &str) -> StoreResult<()> {
        self.inner.upsert_agent(a, token_hash).await
    }
    async fn agents(&self) -> StoreResult<Vec<Agent>> {
        self.inner.agents().await
    }
    async fn agent_by_token_hash(&self, token_hash: &str) -> StoreResult<Option<Agent>> {
        self.inner.agent_by_token_hash(token_hash).await
    }
    async fn add_task(&self, t: &NewTask) -> StoreResult<i64> {
        self.inner.add_task(t).await
    }
    async fn claim_next_task(&self, campaign_id: &str, now_ms: i64) -> StoreResult<Option<Task>> {
        pause(&self.delays.claim_ms).await;
        self.inner.claim_next_task(campaign_id, now_ms).await
    }
    async fn finish_task(
        &self,
        task_id: i64,
        next: TaskNext,
        cause: Option<&str>,
    ) -> StoreResult<()> {
        self.inner.finish_task(task_id, next, cause).await
    }
    async fn task(&self, id: i64) -> StoreResult<Option<Task>> {
        self.inner.task(id).await
    }
    async fn task_counts(&self, campaign_id: &str) -> StoreResult<TaskCounts> {
        self.inner.task_counts(campaign_id).await
    }
    async fn next_due_ms(&self, campaign_id: &str) -> StoreResult<Option<i64>> {
        self.inner.next_due_ms(campaign_id).await
    }
    async fn insert_attempt(&self, a: &NewAttempt) -> StoreResult<()> {
        self.inner.insert_attempt(a).await
    }
    async fn attempt_ringing(&self, call_id: &str, at_ms: i64) -> StoreResult<()> {
        self.inner.attempt_ringing(call_id, at_ms).await
    }
    async fn record_answer(
        &self,
        call_id: &str,
        at_ms: i64,
        pop: Option<&NewPop>,
    ) -> StoreResult<()> {
        self.inner.record_answer(call_id, at_ms, pop).await
    }
    async fn close_attempt(
        &self,
        call_id: &str,
        at_ms: i64,
        outcome: &str,
        cause: Option<&str>,
    ) -> StoreResult<()> {
        self.inner
            .close_attempt(call_id, at_ms, outcome, cause)
            .await
    }
    async fn attempt(&self, call_id: &str) -> StoreResult<Option<Attempt>> {
        self.inner.attempt(call_id).await
    }
    async fn open_attempts(&self) -> StoreResult<Vec<Attempt>> {
        self.inner.open_attempts().await
    }
    async fn attempts_for_task(&self, task_id: i64) -> StoreResult<Vec<Attempt>> {
        self.inner.attempts_for_task(task_id).await
    }
    async fn customer_calls(
        &self,
        customer_id: &str,
        limit: u32,
        offset: u64,
    ) -> StoreResult<Vec<(Attempt, String)>> {
        self.inner.customer_calls(customer_id, limit, offset).await
    }
    async fn orphaned_dialing_tasks(&self) -> StoreResult<Vec<Task>> {
        self.inner.orphaned_dialing_tasks().await
    }
    async fn sync_task_attempts(&self, task_id: i64) -> StoreResult<u32> {
        self.inner.sync_task_attempts(task_id).await
    }
    async fn pop_acked(&self, pop_id: &str, agent_id: &str, at_ms: i64) -> StoreResult<bool> {
        self.inner.pop_acked(pop_id, agent_id, at_ms).await
    }
    async fn apply(&self, writes: &[Write]) -> StoreResult<()> {
        pause(&self.delays.apply_ms).await;
        self.inner.apply(writes).await
    }
    async fn pops_for_call(
        &self,
        call_id: &str,
    ) -> StoreResult<Vec<(String, String, Option<i64>)>> {
        self.inner.pops_for_call(call_id).await
    }
}
