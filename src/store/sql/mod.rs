//! The store over SQL: SQLite (one embedded file, created on first start)
//! or PostgreSQL, through sqlx's `Any` driver. The trait's methods are
//! grouped by what they keep: campaigns and agents here, tasks and claims
//! (`tasks`), compliance (`compliance`), calls and pops (`calls`).

mod calls;
mod compliance;
mod fence;
mod pops;
mod stats;
mod tasks;

use super::dialect::Dialect;
use super::rows::{self, AGENT_COLUMNS, CAMPAIGN_COLUMNS, CUSTOMER_COLUMNS, DISPOSITION_COLUMNS};
use super::*;
use sqlx::any::AnyPoolOptions;
use sqlx::{Any, Executor, Pool, Row};

type AnyPool = Pool<Any>;
use std::time::Duration;

pub struct SqlStore {
    pool: AnyPool,
    dialect: Dialect,
    /// Writes a lease check turned away (`fence`).
    fenced: std::sync::atomic::AtomicU64,
}

type Query<'q> = sqlx::query::Query<'q, Any, sqlx::any::AnyArguments>;

impl SqlStore {
    pub async fn open(url: &str) -> StoreResult<SqlStore> {
        sqlx::any::install_default_drivers();
        let dialect =
            Dialect::of_url(url).ok_or_else(|| StoreError::UnsupportedUrl(url.to_string()))?;
        let (url, connections) = match dialect {
            // One connection: SQLite allows one writer at a time, and several
            // pooled writers wait for its lock in the busy handler's sleeps
            // (1 ms, 2 ms, 5 ms … 100 ms), which under load put hundreds of
            // ms on the answer-to-pop path. Queued in the pool instead, a
            // write waits only for the writes before it.
            Dialect::Sqlite => (sqlite_url(url), 1),
            Dialect::Postgres => (url.to_string(), 8),
        };
        let pool = AnyPoolOptions::new()
            .max_connections(connections)
            .acquire_timeout(Duration::from_secs(30))
            .after_connect(move |conn, _| {
                Box::pin(async move {
                    if dialect == Dialect::Sqlite {
                        // WAL: readers do not block the dialer's writes;
                        // NORMAL is durable across a process kill (the
                        // fault tests rely on it). A 32 MB page cache (the
                        // default is 2 MB) keeps the task indexes' upper
                        // pages in memory at a million tasks: an import's
                        // rate fell by a third without it.
                        conn.execute(
                            "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; \
                             PRAGMA busy_timeout = 10000; PRAGMA foreign_keys = ON; \
                             PRAGMA cache_size = -32768;",
                        )
                        .await?;
                    }
                    if dialect == Dialect::Postgres {
                        // A node cut off mid-transaction (its COMMIT lost
                        // on the way) would hold its row locks for as long
                        // as the server keeps the dead session: the lease
                        // row's share lock among them, and no other node
                        // could take the switch over. No transaction of
                        // dialpop's waits on its client between
                        // statements, so one idle this long is gone.
                        conn.execute("SET idle_in_transaction_session_timeout = 2000")
                            .await?;
                    }
                    Ok(())
                })
            })
            .connect(&url)
            .await?;
        match dialect {
            Dialect::Sqlite => sqlx::migrate!("./migrations/sqlite").run(&pool).await?,
            Dialect::Postgres => sqlx::migrate!("./migrations/postgres").run(&pool).await?,
        }
        Ok(SqlStore {
            pool,
            dialect,
            fenced: Default::default(),
        })
    }

    fn q(&self, sql: &'static str) -> Query<'static> {
        sqlx::query(self.dialect.sql(sql))
    }

    /// The agent's row, with what to do when the id is taken; the rows
    /// written.
    async fn write_agent(
        &self,
        a: &Agent,
        token_hash: &str,
        on_conflict: &'static str,
    ) -> StoreResult<u64> {
        let r = self
            .q_owned(format!(
                "INSERT INTO agents (id, name, extension, campaign_id, serves, level, locale, token_hash, created_ms)
                 VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) {on_conflict}"
            ))
            .bind(a.id.clone())
            .bind(a.name.clone())
            .bind(a.extension.clone())
            .bind(a.home().to_string())
            .bind(rows::serves_json(a)?)
            .bind(a.level.clone())
            .bind(a.locale.clone())
            .bind(token_hash.to_string())
            .bind(now_ms())
            .execute(&self.pool)
            .await?;
        Ok(r.rows_affected())
    }

    fn q_owned(&self, sql: String) -> Query<'static> {
        sqlx::query(self.dialect.sql(sql))
    }
}

/// The file is created when missing, as the embedded store promises.
fn sqlite_url(url: &str) -> String {
    if url.contains(":memory:") || url.contains("mode=") {
        url.to_string()
    } else if url.contains('?') {
        format!("{url}&mode=rwc")
    } else {
        format!("{url}?mode=rwc")
    }
}

fn settings_json(s: &CampaignSettings) -> StoreResult<String> {
    serde_json::to_string(s).map_err(|e| StoreError::Invalid(format!("campaign settings: {e}")))
}

#[async_trait]
impl Store for SqlStore {
    async fn upsert_customer(&self, c: &Customer) -> StoreResult<()> {
        let fields = serde_json::Value::Object(c.fields.clone()).to_string();
        self.q(
            "INSERT INTO customers (id, name, phone, email, tier, vip, fields, created_ms) VALUES (?, ?, ?, ?, ?, ?, ?, ?)
             ON CONFLICT(id) DO UPDATE SET name = excluded.name, phone = excluded.phone, email = excluded.email,
             tier = excluded.tier, vip = excluded.vip, fields = excluded.fields",
        )
        .bind(c.id.clone())
        .bind(c.name.clone())
        .bind(c.phone.clone())
        .bind(c.email.clone())
        .bind(c.tier.clone())
        .bind(c.vip as i64)
        .bind(fields)
        .bind(now_ms())
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn customer(&self, id: &str) -> StoreResult<Option<Customer>> {
        let row = self
            .q_owned(format!(
                "SELECT {CUSTOMER_COLUMNS} FROM customers WHERE id = ?"
            ))
            .bind(id.to_string())
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(rows::customer).transpose()
    }

    async fn insert_campaign(&self, c: &Campaign) -> StoreResult<bool> {
        let r = self
            .q(
                "INSERT INTO campaigns (id, name, state, settings, created_ms, updated_ms) VALUES (?, ?, ?, ?, ?, ?)
                 ON CONFLICT(id) DO NOTHING",
            )
            .bind(c.id.clone())
            .bind(c.name.clone())
            .bind(c.state.as_str())
            .bind(settings_json(&c.settings)?)
            .bind(c.created_ms)
            .bind(c.updated_ms)
            .execute(&self.pool)
            .await?;
        Ok(r.rows_affected() == 1)
    }

    async fn update_campaign(
        &self,
        id: &str,
        name: &str,
        settings: &CampaignSettings,
    ) -> StoreResult<bool> {
        let r = self
            .q("UPDATE campaigns SET name = ?, settings = ?, updated_ms = ? WHERE id = ?")
            .bind(name.to_string())
            .bind(settings_json(settings)?)
            .bind(now_ms())
            .bind(id.to_string())
            .execute(&self.pool)
            .await?;
        Ok(r.rows_affected() == 1)
    }

    async fn set_campaign_state(
        &self,
        id: &str,
        from: CampaignState,
        to: CampaignState,
    ) -> StoreResult<bool> {
        let r = self
            .q("UPDATE campaigns SET state = ?, updated_ms = ? WHERE id = ? AND state = ?")
            .bind(to.as_str())
            .bind(now_ms())
            .bind(id.to_string())
            .bind(from.as_str())
            .execute(&self.pool)
            .await?;
        Ok(r.rows_affected() == 1)
    }

    async fn campaign(&self, id: &str) -> StoreResult<Option<Campaign>> {
        let row = self
            .q_owned(format!(
                "SELECT {CAMPAIGN_COLUMNS} FROM campaigns WHERE id = ?"
            ))
            .bind(id.to_string())
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(rows::campaign).transpose()
    }

    async fn campaigns(&self) -> StoreResult<Vec<Campaign>> {
        let rows = self
            .q_owned(format!(
                "SELECT {CAMPAIGN_COLUMNS} FROM campaigns ORDER BY id"
            ))
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(rows::campaign).collect()
    }

    async fn upsert_agent(&self, a: &Agent, token_hash: &str) -> StoreResult<()> {
        self.write_agent(
            a,
            token_hash,
            "ON CONFLICT(id) DO UPDATE SET name = excluded.name, extension = excluded.extension,
             campaign_id = excluded.campaign_id, serves = excluded.serves, level = excluded.level,
             locale = excluded.locale, token_hash = excluded.token_hash",
        )
        .await?;
        Ok(())
    }

    async fn insert_agent(&self, a: &Agent, token_hash: &str) -> StoreResult<bool> {
        Ok(self
            .write_agent(a, token_hash, "ON CONFLICT(id) DO NOTHING")
            .await?
            == 1)
    }

    async fn update_agent(&self, a: &Agent) -> StoreResult<bool> {
        let r = self
            .q("UPDATE agents SET name = ?, extension = ?, campaign_id = ?, serves = ?, level = ?, locale = ? WHERE id = ?")
            .bind(a.name.clone())
            .bind(a.extension.clone())
            .bind(a.home().to_string())
            .bind(rows::serves_json(a)?)
            .bind(a.level.clone())
            .bind(a.locale.clone())
            .bind(a.id.clone())
            .execute(&self.pool)
            .await?;
        Ok(r.rows_affected() == 1)
    }

    async fn set_agent_token(&self, id: &str, token_hash: &str) -> StoreResult<bool> {
        let r = self
            .q("UPDATE agents SET token_hash = ? WHERE id = ?")
            .bind(token_hash.to_string())
            .bind(id.to_string())
            .execute(&self.pool)
            .await?;
        Ok(r.rows_affected() == 1)
    }

    async fn agent(&self, id: &str) -> StoreResult<Option<Agent>> {
        let row = self
            .q_owned(format!("SELECT {AGENT_COLUMNS} FROM agents WHERE id = ?"))
            .bind(id.to_string())
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(rows::agent).transpose()
    }

    async fn agents(&self) -> StoreResult<Vec<Agent>> {
        let rows = self
            .q_owned(format!("SELECT {AGENT_COLUMNS} FROM agents ORDER BY id"))
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(rows::agent).collect()
    }

    async fn agent_by_token_hash(&self, token_hash: &str) -> StoreResult<Option<Agent>> {
        let row = self
            .q_owned(format!(
                "SELECT {AGENT_COLUMNS} FROM agents WHERE token_hash = ?"
            ))
            .bind(token_hash.to_string())
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(rows::agent).transpose()
    }

    async fn insert_api_token(
        &self,
        name: &str,
        role: &str,
        token_hash: &str,
    ) -> StoreResult<bool> {
        let r = self
            .q("INSERT INTO api_tokens (name, role, token_hash, created_ms) VALUES (?, ?, ?, ?) ON CONFLICT(name) DO NOTHING")
            .bind(name.to_string())
            .bind(role.to_string())
            .bind(token_hash.to_string())
            .bind(now_ms())
            .execute(&self.pool)
            .await?;
        Ok(r.rows_affected() == 1)
    }

    async fn api_token_by_hash(&self, token_hash: &str) -> StoreResult<Option<(String, String)>> {
        let row = self
            .q("SELECT name, role FROM api_tokens WHERE token_hash = ?")
            .bind(token_hash.to_string())
            .fetch_optional(&self.pool)
            .await?;
        row.map(|r| Ok((r.try_get("name")?, r.try_get("role")?)))
            .transpose()
    }

    async fn api_tokens(&self) -> StoreResult<Vec<(String, String, i64)>> {
        let rows = self
            .q("SELECT name, role, created_ms FROM api_tokens ORDER BY name")
            .fetch_all(&self.pool)
            .await?;
        rows.iter()
            .map(|r| {
                Ok((
                    r.try_get("name")?,
                    r.try_get("role")?,
                    r.try_get("created_ms")?,
                ))
            })
            .collect()
    }

    async fn delete_api_token(&self, name: &str) -> StoreResult<bool> {
        let r = self
            .q("DELETE FROM api_tokens WHERE name = ?")
            .bind(name.to_string())
            .execute(&self.pool)
            .await?;
        Ok(r.rows_affected() == 1)
    }

    async fn disposition(&self, call_id: &str) -> StoreResult<Option<Disposition>> {
        let row = self
            .q_owned(format!(
                "SELECT {DISPOSITION_COLUMNS} FROM dispositions WHERE call_id = ?"
            ))
            .bind(call_id.to_string())
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(rows::disposition).transpose()
    }

    async fn add_tasks(&self, t: &[NewTask]) -> StoreResult<Vec<Added>> {
        self.add_tasks_in(t).await
    }
    async fn add_dialing_task(&self, t: &NewTask) -> StoreResult<Task> {
        self.add_dialing_in(t).await
    }
    async fn insert_tasks(&self, t: &[NewTask]) -> StoreResult<u64> {
        self.insert_tasks_in(t).await
    }
    async fn claim_batch(
        &self,
        filter: &ClaimFilter,
        now_ms: i64,
        limit: usize,
    ) -> StoreResult<Vec<(Task, Option<DncEntry>)>> {
        self.claim_in(filter, now_ms, limit).await
    }
    async fn finish_task(
        &self,
        task_id: i64,
        next: TaskNext,
        cause: Option<&str>,
    ) -> StoreResult<()> {
        let mut conn = self.pool.acquire().await?;
        calls::finish_task_on(self.dialect, &mut conn, task_id, &next, cause).await
    }
    async fn task(&self, id: i64) -> StoreResult<Option<Task>> {
        self.task_in(id).await
    }
    async fn tasks(&self, q: &TaskQuery) -> StoreResult<Vec<Task>> {
        self.tasks_in(q).await
    }
    async fn patch_task(
        &self,
        id: i64,
        patch: &TaskPatch,
    ) -> StoreResult<Result<Task, PatchRefused>> {
        self.patch_in(id, patch).await
    }
    async fn task_counts(&self, campaign_id: &str) -> StoreResult<TaskCounts> {
        self.counts_in(campaign_id).await
    }
    async fn next_due_ms(&self, filter: &ClaimFilter) -> StoreResult<Option<i64>> {
        self.next_due_in(filter).await
    }

    async fn add_dnc(&self, entries: &[DncEntry]) -> StoreResult<u64> {
        self.add_dnc_in(entries).await
    }
    async fn remove_dnc(&self, phone: &str, campaign_id: Option<&str>) -> StoreResult<bool> {
        self.remove_dnc_in(phone, campaign_id).await
    }
    async fn dnc_match(&self, phone: &str, campaign_id: &str) -> StoreResult<Option<DncEntry>> {
        self.dnc_match_in(phone, campaign_id).await
    }
    async fn dnc_list(
        &self,
        campaign_id: Option<&str>,
        after_phone: &str,
        limit: u32,
    ) -> StoreResult<Vec<DncEntry>> {
        self.dnc_list_in(campaign_id, after_phone, limit).await
    }
    async fn decisions_for_task(&self, task_id: i64) -> StoreResult<Vec<DialDecision>> {
        self.decisions_in(task_id).await
    }
    async fn decision_counts(
        &self,
        campaign_id: &str,
        since_ms: i64,
    ) -> StoreResult<Vec<(Verdict, String, u64)>> {
        self.decision_counts_in(campaign_id, since_ms).await
    }

    async fn agent_calls(
        &self,
        campaign_id: &str,
        since_ms: i64,
    ) -> StoreResult<Vec<crate::campaign::stats::AgentCalls>> {
        self.agent_calls_in(campaign_id, since_ms).await
    }
    async fn presence_changes(
        &self,
        since_ms: i64,
    ) -> StoreResult<(
        Vec<crate::campaign::stats::PresenceChange>,
        Vec<crate::campaign::stats::PresenceChange>,
    )> {
        self.presence_in(since_ms).await
    }
    async fn disposition_counts(
        &self,
        campaign_id: &str,
        since_ms: i64,
    ) -> StoreResult<Vec<(String, u64)>> {
        self.disposition_counts_in(campaign_id, since_ms).await
    }
    async fn abandon_counts(&self, campaign_id: &str, since_ms: i64) -> StoreResult<(u64, u64)> {
        self.abandon_counts_in(campaign_id, since_ms).await
    }
    async fn insert_attempts_under(
        &self,
        a: &[NewAttempt],
        fence: Option<&Fence>,
    ) -> StoreResult<()> {
        self.insert_attempts_in(a, fence).await
    }
    async fn attempt_ringing(&self, call_id: &str, at_ms: i64) -> StoreResult<()> {
        self.apply(&[Write::Ringing {
            call_id: call_id.to_string(),
            at_ms,
        }])
        .await
    }
    async fn record_answer(
        &self,
        call_id: &str,
        at_ms: i64,
        pop: Option<&NewPop>,
    ) -> StoreResult<()> {
        self.apply(&[Write::Answer {
            call_id: call_id.to_string(),
            at_ms,
            pop: pop.cloned(),
        }])
        .await
    }
    async fn close_attempt(
        &self,
        call_id: &str,
        at_ms: i64,
        outcome: &str,
        cause: Option<&str>,
    ) -> StoreResult<()> {
        self.apply(&[Write::CloseAttempt {
            call_id: call_id.to_string(),
            at_ms,
            outcome: outcome.to_string(),
            cause: cause.map(str::to_string),
        }])
        .await
    }
    async fn attempt(&self, call_id: &str) -> StoreResult<Option<Attempt>> {
        self.attempt_in(call_id).await
    }
    async fn open_attempts(&self) -> StoreResult<Vec<Attempt>> {
        self.open_attempts_in(None).await
    }
    async fn open_attempts_on(&self, switch: &str) -> StoreResult<Vec<Attempt>> {
        self.open_attempts_in(Some(switch)).await
    }
    async fn attempts_for_task(&self, task_id: i64) -> StoreResult<Vec<Attempt>> {
        self.attempts_for_task_in(task_id).await
    }
    async fn customer_calls(
        &self,
        customer_id: &str,
        limit: u32,
        offset: u64,
    ) -> StoreResult<Vec<(Attempt, String)>> {
        self.customer_calls_in(customer_id, limit, offset).await
    }
    async fn orphaned_dialing_tasks(&self) -> StoreResult<Vec<Task>> {
        self.orphaned_in(None).await
    }
    async fn orphaned_dialing_tasks_on(&self, switch: &str) -> StoreResult<Vec<Task>> {
        self.orphaned_in(Some(switch)).await
    }
    async fn sync_task_attempts(&self, task_id: i64) -> StoreResult<u32> {
        self.sync_attempts_in(task_id).await
    }
    async fn pop_acked(&self, pop_id: &str, agent_id: &str, at_ms: i64) -> StoreResult<bool> {
        let mut conn = self.pool.acquire().await?;
        calls::pop_acked_on(self.dialect, &mut conn, pop_id, agent_id, at_ms).await
    }
    fn fenced_writes(&self) -> u64 {
        self.fenced.load(std::sync::atomic::Ordering::Relaxed)
    }
    async fn apply(&self, writes: &[Write]) -> StoreResult<()> {
        self.apply_in(writes).await
    }
    async fn pops_for_call(
        &self,
        call_id: &str,
    ) -> StoreResult<Vec<(String, String, Option<i64>)>> {
        self.pops_for_call_in(call_id).await
    }

    async fn pop(&self, pop_id: &str) -> StoreResult<Option<PopRecord>> {
        self.pop_in(pop_id).await
    }

    async fn pops(&self, q: &PopQuery) -> StoreResult<Vec<PopRecord>> {
        self.pops_in(q).await
    }
}
