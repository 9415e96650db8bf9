//! The SQLite backend: one embedded file, created on first start.

use super::*;
use sqlx::Row;
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteRow,
    SqliteSynchronous,
};
use std::str::FromStr;
use std::time::Duration;

pub struct SqliteStore {
    pool: SqlitePool,
}

impl SqliteStore {
    pub async fn open(url: &str) -> StoreResult<SqliteStore> {
        let opts = SqliteConnectOptions::from_str(url)?
            .create_if_missing(true)
            // WAL: readers do not block the dialer's writes; NORMAL is
            // durable across a process kill (the fault tests rely on it).
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            .busy_timeout(Duration::from_secs(10))
            .foreign_keys(true);
        // One connection: SQLite allows one writer at a time, and several
        // pooled writers wait for its lock in the busy handler's sleeps
        // (1 ms, 2 ms, 5 ms … 100 ms), which under load put hundreds of ms
        // on the answer-to-pop path. Queued in the pool instead, a write
        // waits only for the writes before it.
        let pool = SqlitePoolOptions::new()
            .max_connections(1)
            .connect_with(opts)
            .await?;
        sqlx::migrate!("./migrations/sqlite").run(&pool).await?;
        Ok(SqliteStore { pool })
    }
}

fn customer_from(row: &SqliteRow) -> StoreResult<Customer> {
    let fields: String = row.try_get("fields")?;
    let fields = match serde_json::from_str::<serde_json::Value>(&fields) {
        Ok(serde_json::Value::Object(m)) => m,
        _ => serde_json::Map::new(),
    };
    Ok(Customer {
        id: row.try_get("id")?,
        name: row.try_get("name")?,
        phone: row.try_get("phone")?,
        email: row.try_get("email")?,
        tier: row.try_get("tier")?,
        vip: row.try_get::<i64, _>("vip")? != 0,
        fields,
    })
}

fn task_from(row: &SqliteRow) -> StoreResult<Task> {
    Ok(Task {
        id: row.try_get("id")?,
        campaign_id: row.try_get("campaign_id")?,
        customer_id: row.try_get("customer_id")?,
        phone: row.try_get("phone")?,
        priority: row.try_get("priority")?,
        status: row.try_get("status")?,
        attempts: row.try_get::<i64, _>("attempts")?.max(0) as u32,
    })
}

fn attempt_from(row: &SqliteRow) -> StoreResult<Attempt> {
    Ok(Attempt {
        call_id: row.try_get("call_id")?,
        task_id: row.try_get("task_id")?,
        agent_id: row.try_get("agent_id")?,
        switch_name: row.try_get("switch_name")?,
        originate_ms: row.try_get("originate_ms")?,
        ring_ms: row.try_get("ring_ms")?,
        answer_ms: row.try_get("answer_ms")?,
        hangup_ms: row.try_get("hangup_ms")?,
        outcome: row.try_get("outcome")?,
        hangup_cause: row.try_get("hangup_cause")?,
    })
}

fn agent_from(row: &SqliteRow) -> StoreResult<Agent> {
    Ok(Agent {
        id: row.try_get("id")?,
        name: row.try_get("name")?,
        extension: row.try_get("extension")?,
        campaign_id: row.try_get("campaign_id")?,
    })
}

async fn finish_task_on(
    conn: &mut sqlx::SqliteConnection,
    task_id: i64,
    next: &TaskNext,
    cause: Option<&str>,
) -> StoreResult<()> {
    let (status, next_ms, give_back) = match next {
        TaskNext::Done => ("done", 0, 0),
        TaskNext::Failed => ("failed", 0, 0),
        TaskNext::RetryAt(at) => ("pending", *at, 0),
        TaskNext::Requeue => ("pending", now_ms(), 1),
    };
    sqlx::query("UPDATE tasks SET status = ?, next_attempt_ms = ?, last_cause = ?, updated_ms = ?, attempts = MAX(attempts - ?, 0) WHERE id = ?")
        .bind(status)
        .bind(next_ms)
        .bind(cause)
        .bind(now_ms())
        .bind(give_back)
        .bind(task_id)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

async fn pop_acked_on(
    conn: &mut sqlx::SqliteConnection,
    pop_id: &str,
    agent_id: &str,
    at_ms: i64,
) -> StoreResult<bool> {
    // Only the agent the pop went to can acknowledge it.
    let r = sqlx::query(
        "UPDATE pops SET acked_ms = ? WHERE pop_id = ? AND agent_id = ? AND acked_ms IS NULL",
    )
    .bind(at_ms)
    .bind(pop_id)
    .bind(agent_id)
    .execute(&mut *conn)
    .await?;
    Ok(r.rows_affected() == 1)
}

const ATTEMPT_COLUMNS: &str = "call_id, task_id, agent_id, switch_name, originate_ms, ring_ms, answer_ms, hangup_ms, outcome, hangup_cause";

#[async_trait]
impl Store for SqliteStore {
    async fn upsert_customer(&self, c: &Customer) -> StoreResult<()> {
        let fields = serde_json::Value::Object(c.fields.clone()).to_string();
        sqlx::query(
            "INSERT INTO customers (id, name, phone, email, tier, vip, fields, created_ms) VALUES (?, ?, ?, ?, ?, ?, ?, ?)
             ON CONFLICT(id) DO UPDATE SET name = excluded.name, phone = excluded.phone, email = excluded.email,
             tier = excluded.tier, vip = excluded.vip, fields = excluded.fields",
        )
        .bind(&c.id)
        .bind(&c.name)
        .bind(&c.phone)
        .bind(&c.email)
        .bind(&c.tier)
        .bind(c.vip as i64)
        .bind(fields)
        .bind(now_ms())
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn customer(&self, id: &str) -> StoreResult<Option<Customer>> {
        let row = sqlx::query(
            "SELECT id, name, phone, email, tier, vip, fields FROM customers WHERE id = ?",
        )
        .bind(id)
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(customer_from).transpose()
    }

    async fn upsert_campaign(&self, c: &Campaign) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO campaigns (id, name, active, pop_trigger, max_attempts, retry_delay_ms, created_ms) VALUES (?, ?, ?, ?, ?, ?, ?)
             ON CONFLICT(id) DO UPDATE SET name = excluded.name, active = excluded.active, pop_trigger = excluded.pop_trigger,
             max_attempts = excluded.max_attempts, retry_delay_ms = excluded.retry_delay_ms",
        )
        .bind(&c.id)
        .bind(&c.name)
        .bind(c.active as i64)
        .bind(&c.pop_trigger)
        .bind(c.max_attempts as i64)
        .bind(c.retry_delay_ms)
        .bind(now_ms())
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn campaign(&self, id: &str) -> StoreResult<Option<Campaign>> {
        let row = sqlx::query("SELECT id, name, active, pop_trigger, max_attempts, retry_delay_ms FROM campaigns WHERE id = ?")
            .bind(id)
            .fetch_optional(&self.pool)
            .await?;
        row.map(|r| {
            Ok(Campaign {
                id: r.try_get("id")?,
                name: r.try_get("name")?,
                active: r.try_get::<i64, _>("active")? != 0,
                pop_trigger: r.try_get("pop_trigger")?,
                max_attempts: r.try_get::<i64, _>("max_attempts")?.max(1) as u32,
                retry_delay_ms: r.try_get("retry_delay_ms")?,
            })
        })
        .transpose()
    }

    async fn upsert_agent(&self, a: &Agent, token_hash: &str) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO agents (id, name, extension, campaign_id, token_hash, created_ms) VALUES (?, ?, ?, ?, ?, ?)
             ON CONFLICT(id) DO UPDATE SET name = excluded.name, extension = excluded.extension,
             campaign_id = excluded.campaign_id, token_hash = excluded.token_hash",
        )
        .bind(&a.id)
        .bind(&a.name)
        .bind(&a.extension)
        .bind(&a.campaign_id)
        .bind(token_hash)
        .bind(now_ms())
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn agents(&self) -> StoreResult<Vec<Agent>> {
        let rows = sqlx::query("SELECT id, name, extension, campaign_id FROM agents ORDER BY id")
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(agent_from).collect()
    }

    async fn agent_by_token_hash(&self, token_hash: &str) -> StoreResult<Option<Agent>> {
        let row =
            sqlx::query("SELECT id, name, extension, campaign_id FROM agents WHERE token_hash = ?")
                .bind(token_hash)
                .fetch_optional(&self.pool)
                .await?;
        row.as_ref().map(agent_from).transpose()
    }

    async fn add_task(&self, t: &NewTask) -> StoreResult<i64> {
        let now = now_ms();
        let row = sqlx::query(
            "INSERT INTO tasks (campaign_id, customer_id, phone, priority, status, attempts, next_attempt_ms, created_ms, updated_ms)
             VALUES (?, ?, ?, ?, 'pending', 0, 0, ?, ?) RETURNING id",
        )
        .bind(&t.campaign_id)
        .bind(&t.customer_id)
        .bind(&t.phone)
        .bind(t.priority)
        .bind(now)
        .bind(now)
        .fetch_one(&self.pool)
        .await?;
        Ok(row.try_get("id")?)
    }

    async fn claim_next_task(&self, campaign_id: &str, now_ms: i64) -> StoreResult<Option<Task>> {
        // One statement: the pick and the claim cannot be split by another
        // writer, so a task is never handed out twice.
        let row = sqlx::query(
            "UPDATE tasks SET status = 'dialing', attempts = attempts + 1, updated_ms = ?
             WHERE id = (SELECT id FROM tasks WHERE campaign_id = ? AND status = 'pending' AND next_attempt_ms <= ?
                         ORDER BY priority DESC, created_ms ASC, id ASC LIMIT 1)
               AND status = 'pending'
             RETURNING id, campaign_id, customer_id, phone, priority, status, attempts",
        )
        .bind(now_ms)
        .bind(campaign_id)
        .bind(now_ms)
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(task_from).transpose()
    }

    async fn finish_task(
        &self,
        task_id: i64,
        next: TaskNext,
        cause: Option<&str>,
    ) -> StoreResult<()> {
        let mut conn = self.pool.acquire().await?;
        finish_task_on(&mut conn, task_id, &next, cause).await
    }

    async fn task(&self, id: i64) -> StoreResult<Option<Task>> {
        let row = sqlx::query("SELECT id, campaign_id, customer_id, phone, priority, status, attempts FROM tasks WHERE id = ?")
            .bind(id)
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(task_from).transpose()
    }

    async fn task_counts(&self, campaign_id: &str) -> StoreResult<TaskCounts> {
        let rows = sqlx::query(
            "SELECT status, COUNT(*) AS n FROM tasks WHERE campaign_id = ? GROUP BY status",
        )
        .bind(campaign_id)
        .fetch_all(&self.pool)
        .await?;
        let mut c = TaskCounts::default();
        for r in rows {
            let n = r.try_get::<i64, _>("n")?.max(0) as u64;
            match r.try_get::<String, _>("status")?.as_str() {
                "pending" => c.pending = n,
                "dialing" => c.dialing = n,
                "done" => c.done = n,
                "failed" => c.failed = n,
                _ => {}
            }
        }
        Ok(c)
    }

    async fn next_due_ms(&self, campaign_id: &str) -> StoreResult<Option<i64>> {
        let row = sqlx::query("SELECT MIN(next_attempt_ms) AS due FROM tasks WHERE campaign_id = ? AND status = 'pending'")
            .bind(campaign_id)
            .fetch_one(&self.pool)
            .await?;
        Ok(row.try_get("due")?)
    }

    async fn insert_attempt(&self, a: &NewAttempt) -> StoreResult<()> {
        sqlx::query("INSERT INTO attempts (call_id, task_id, agent_id, switch_name, originate_ms) VALUES (?, ?, ?, ?, ?)")
            .bind(&a.call_id)
            .bind(a.task_id)
            .bind(&a.agent_id)
            .bind(&a.switch_name)
            .bind(a.originate_ms)
            .execute(&self.pool)
            .await?;
        Ok(())
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
        let sql = sqlx::AssertSqlSafe(format!(
            "SELECT {ATTEMPT_COLUMNS} FROM attempts WHERE call_id = ?"
        ));
        let row = sqlx::query(sql)
            .bind(call_id)
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(attempt_from).transpose()
    }

    async fn open_attempts(&self) -> StoreResult<Vec<Attempt>> {
        let sql = sqlx::AssertSqlSafe(format!(
            "SELECT {ATTEMPT_COLUMNS} FROM attempts WHERE hangup_ms IS NULL"
        ));
        let rows = sqlx::query(sql).fetch_all(&self.pool).await?;
        rows.iter().map(attempt_from).collect()
    }

    async fn attempts_for_task(&self, task_id: i64) -> StoreResult<Vec<Attempt>> {
        let sql = sqlx::AssertSqlSafe(format!(
            "SELECT {ATTEMPT_COLUMNS} FROM attempts WHERE task_id = ? ORDER BY originate_ms"
        ));
        let rows = sqlx::query(sql).bind(task_id).fetch_all(&self.pool).await?;
        rows.iter().map(attempt_from).collect()
    }

    async fn customer_calls(
        &self,
        customer_id: &str,
        limit: u32,
        offset: u64,
    ) -> StoreResult<Vec<(Attempt, String)>> {
        let rows = sqlx::query(
            "SELECT a.call_id, a.task_id, a.agent_id, a.switch_name, a.originate_ms, a.ring_ms,
                    a.answer_ms, a.hangup_ms, a.outcome, a.hangup_cause, t.campaign_id
             FROM attempts a JOIN tasks t ON t.id = a.task_id
             WHERE t.customer_id = ? AND a.hangup_ms IS NOT NULL
             ORDER BY a.originate_ms DESC, a.call_id LIMIT ? OFFSET ?",
        )
        .bind(customer_id)
        .bind(i64::from(limit))
        .bind(i64::try_from(offset).unwrap_or(i64::MAX))
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| Ok((attempt_from(r)?, r.try_get("campaign_id")?)))
            .collect()
    }

    async fn orphaned_dialing_tasks(&self) -> StoreResult<Vec<Task>> {
        let rows = sqlx::query(
            "SELECT id, campaign_id, customer_id, phone, priority, status, attempts FROM tasks
             WHERE status = 'dialing' AND id NOT IN (SELECT task_id FROM attempts WHERE hangup_ms IS NULL)",
        )
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(task_from).collect()
    }

    async fn sync_task_attempts(&self, task_id: i64) -> StoreResult<u32> {
        let row = sqlx::query(
            "UPDATE tasks SET attempts = (SELECT COUNT(*) FROM attempts WHERE task_id = ? AND (outcome IS NULL OR outcome != 'not_placed')) WHERE id = ? RETURNING attempts",
        )
        .bind(task_id)
        .bind(task_id)
        .fetch_optional(&self.pool)
        .await?;
        Ok(match row {
            Some(r) => r.try_get::<i64, _>("attempts")?.max(0) as u32,
            None => 0,
        })
    }

    async fn pop_acked(&self, pop_id: &str, agent_id: &str, at_ms: i64) -> StoreResult<bool> {
        let mut conn = self.pool.acquire().await?;
        pop_acked_on(&mut conn, pop_id, agent_id, at_ms).await
    }

    async fn apply(&self, writes: &[Write]) -> StoreResult<()> {
        let mut tx = self.pool.begin().await?;
        for w in writes {
            match w {
                Write::Ringing { call_id, at_ms } => {
                    sqlx::query(
                        "UPDATE attempts SET ring_ms = COALESCE(ring_ms, ?) WHERE call_id = ?",
                    )
                    .bind(at_ms)
                    .bind(call_id)
                    .execute(&mut *tx)
                    .await?;
                }
                Write::Answer {
                    call_id,
                    at_ms,
                    pop,
                } => {
                    sqlx::query(
                        "UPDATE attempts SET answer_ms = COALESCE(answer_ms, ?) WHERE call_id = ?",
                    )
                    .bind(at_ms)
                    .bind(call_id)
                    .execute(&mut *tx)
                    .await?;
                    if let Some(p) = pop {
                        // A pop delivered again after a restart keeps its
                        // first row.
                        sqlx::query("INSERT INTO pops (pop_id, call_id, agent_id, customer_id, sent_ms, degraded) VALUES (?, ?, ?, ?, ?, ?)
                                     ON CONFLICT(pop_id) DO NOTHING")
                            .bind(&p.pop_id)
                            .bind(&p.call_id)
                            .bind(&p.agent_id)
                            .bind(&p.customer_id)
                            .bind(p.sent_ms)
                            .bind(p.degraded as i64)
                            .execute(&mut *tx)
                            .await?;
                    }
                }
                Write::CloseAttempt {
                    call_id,
                    at_ms,
                    outcome,
                    cause,
                } => {
                    sqlx::query("UPDATE attempts SET hangup_ms = ?, outcome = ?, hangup_cause = ? WHERE call_id = ? AND hangup_ms IS NULL")
                        .bind(at_ms)
                        .bind(outcome)
                        .bind(cause)
                        .bind(call_id)
                        .execute(&mut *tx)
                        .await?;
                }
                Write::FinishTask {
                    task_id,
                    next,
                    cause,
                } => finish_task_on(&mut tx, *task_id, next, cause.as_deref()).await?,
                Write::PopAcked {
                    pop_id,
                    agent_id,
                    at_ms,
                } => {
                    pop_acked_on(&mut tx, pop_id, agent_id, *at_ms).await?;
                }
            }
        }
        tx.commit().await?;
        Ok(())
    }

    async fn pops_for_call(
        &self,
        call_id: &str,
    ) -> StoreResult<Vec<(String, String, Option<i64>)>> {
        let rows = sqlx::query(
            "SELECT pop_id, agent_id, acked_ms FROM pops WHERE call_id = ? ORDER BY sent_ms",
        )
        .bind(call_id)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok((
                    r.try_get("pop_id")?,
                    r.try_get("agent_id")?,
                    r.try_get("acked_ms")?,
                ))
            })
            .collect()
    }
}
