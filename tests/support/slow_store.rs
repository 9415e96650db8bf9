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
    /// Before each claim, ms.
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
    async fn insert_campaign(&self, c: &Campaign) -> StoreResult<bool> {
        self.inner.insert_campaign(c).await
    }
    async fn update_campaign(
        &self,
        id: &str,
        name: &str,
        settings: &CampaignSettings,
    ) -> StoreResult<bool> {
        self.inner.update_campaign(id, name, settings).await
    }
    async fn set_campaign_state(
        &self,
        id: &str,
        from: CampaignState,
        to: CampaignState,
    ) -> StoreResult<bool> {
        self.inner.set_campaign_state(id, from, to).await
    }
    async fn campaign(&self, id: &str) -> StoreResult<Option<Campaign>> {
        self.inner.campaign(id).await
    }
    async fn campaigns(&self) -> StoreResult<Vec<Campaign>> {
        self.inner.campaigns().await
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
    async fn add_tasks(&self, t: &[NewTask]) -> StoreResult<Vec<Added>> {
        self.inner.add_tasks(t).await
    }
    async fn add_dialing_task(&self, t: &NewTask) -> StoreResult<Task> {
        self.inner.add_dialing_task(t).await
    }
    async fn insert_tasks(&self, t: &[NewTask]) -> StoreResult<u64> {
        self.inner.insert_tasks(t).await
    }
    async fn claim_batch(
        &self,
        filter: &ClaimFilter,
        now_ms: i64,
        limit: usize,
    ) -> StoreResult<Vec<(Task, Option<DncEntry>)>> {
        pause(&self.delays.claim_ms).await;
        self.inner.claim_batch(filter, now_ms, limit).await
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
    async fn tasks(&self, q: &TaskQuery) -> StoreResult<Vec<Task>> {
        self.inner.tasks(q).await
    }
    async fn patch_task(
        &self,
        id: i64,
        patch: &TaskPatch,
    ) -> StoreResult<Result<Task, PatchRefused>> {
        self.inner.patch_task(id, patch).await
    }
    async fn task_counts(&self, campaign_id: &str) -> StoreResult<TaskCounts> {
        self.inner.task_counts(campaign_id).await
    }
    async fn next_due_ms(&self, filter: &ClaimFilter) -> StoreResult<Option<i64>> {
        self.inner.next_due_ms(filter).await
    }
    async fn add_dnc(&self, entries: &[DncEntry]) -> StoreResult<u64> {
        self.inner.add_dnc(entries).await
    }
    async fn remove_dnc(&self, phone: &str, campaign_id: Option<&str>) -> StoreResult<bool> {
        self.inner.remove_dnc(phone, campaign_id).await
    }
    async fn dnc_match(&self, phone: &str, campaign_id: &str) -> StoreResult<Option<DncEntry>> {
        self.inner.dnc_match(phone, campaign_id).await
    }
    async fn dnc_list(
        &self,
        campaign_id: Option<&str>,
        after_phone: &str,
        limit: u32,
    ) -> StoreResult<Vec<DncEntry>> {
        self.inner.dnc_list(campaign_id, after_phone, limit).await
    }
    async fn decisions_for_task(&self, task_id: i64) -> StoreResult<Vec<DialDecision>> {
        self.inner.decisions_for_task(task_id).await
    }
    async fn decision_counts(
        &self,
        campaign_id: &str,
        since_ms: i64,
    ) -> StoreResult<Vec<(Verdict, String, u64)>> {
        self.inner.decision_counts(campaign_id, since_ms).await
    }
    async fn insert_agent(&self, a: &Agent, token_hash: &str) -> StoreResult<bool> {
        self.inner.insert_agent(a, token_hash).await
    }
    async fn update_agent(&self, a: &Agent) -> StoreResult<bool> {
        self.inner.update_agent(a).await
    }
    async fn set_agent_token(&self, id: &str, token_hash: &str) -> StoreResult<bool> {
        self.inner.set_agent_token(id, token_hash).await
    }
    async fn agent(&self, id: &str) -> StoreResult<Option<Agent>> {
        self.inner.agent(id).await
    }
    async fn insert_api_token(
        &self,
        name: &str,
        role: &str,
        token_hash: &str,
    ) -> StoreResult<bool> {
        self.inner.insert_api_token(name, role, token_hash).await
    }
    async fn api_token_by_hash(&self, token_hash: &str) -> StoreResult<Option<(String, String)>> {
        self.inner.api_token_by_hash(token_hash).await
    }
    async fn api_tokens(&self) -> StoreResult<Vec<(String, String, i64)>> {
        self.inner.api_tokens().await
    }
    async fn delete_api_token(&self, name: &str) -> StoreResult<bool> {
        self.inner.delete_api_token(name).await
    }
    async fn disposition(&self, call_id: &str) -> StoreResult<Option<Disposition>> {
        self.inner.disposition(call_id).await
    }
    async fn agent_calls(
        &self,
        campaign_id: &str,
        since_ms: i64,
    ) -> StoreResult<Vec<dialpop::campaign::stats::AgentCalls>> {
        self.inner.agent_calls(campaign_id, since_ms).await
    }
    async fn presence_changes(
        &self,
        since_ms: i64,
    ) -> StoreResult<(
        Vec<dialpop::campaign::stats::PresenceChange>,
        Vec<dialpop::campaign::stats::PresenceChange>,
    )> {
        self.inner.presence_changes(since_ms).await
    }
    async fn disposition_counts(
        &self,
        campaign_id: &str,
        since_ms: i64,
    ) -> StoreResult<Vec<(String, u64)>> {
        self.inner.disposition_counts(campaign_id, since_ms).await
    }
    async fn abandon_counts(&self, campaign_id: &str, since_ms: i64) -> StoreResult<(u64, u64)> {
        self.inner.abandon_counts(campaign_id, since_ms).await
    }
    async fn insert_attempts_under(
        &self,
        a: &[NewAttempt],
        fence: Option<&Fence>,
    ) -> StoreResult<()> {
        self.inner.insert_attempts_under(a, fence).await
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
    async fn open_attempts_on(&self, switch: &str) -> StoreResult<Vec<Attempt>> {
        self.inner.open_attempts_on(switch).await
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
    async fn orphaned_dialing_tasks_on(&self, switch: &str) -> StoreResult<Vec<Task>> {
        self.inner.orphaned_dialing_tasks_on(switch).await
    }
    async fn sync_task_attempts(&self, task_id: i64) -> StoreResult<u32> {
        self.inner.sync_task_attempts(task_id).await
    }
    async fn pop_acked(&self, pop_id: &str, agent_id: &str, at_ms: i64) -> StoreResult<bool> {
        self.inner.pop_acked(pop_id, agent_id, at_ms).await
    }
    fn fenced_writes(&self) -> u64 {
        self.inner.fenced_writes()
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

    async fn pop(&self, pop_id: &str) -> StoreResult<Option<dialpop::store::PopRecord>> {
        self.inner.pop(pop_id).await
    }

    async fn pops(
        &self,
        q: &dialpop::store::PopQuery,
    ) -> StoreResult<Vec<dialpop::store::PopRecord>> {
        self.inner.pops(q).await
    }
}
