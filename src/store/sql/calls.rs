//! Attempts, pops and the writer's batches.

use super::super::rows::{self, ATTEMPT_COLUMNS, TASK_COLUMNS};
use super::stats::{is_person, tally_hour};
use super::*;
use sqlx::AnyConnection;
use sqlx::Row;

pub(super) async fn finish_task_on(
    d: Dialect,
    conn: &mut AnyConnection,
    task_id: i64,
    next: &TaskNext,
    cause: Option<&str>,
) -> StoreResult<()> {
    let (status, next_ms, give_back) = match next {
        TaskNext::Done => (TaskStatus::Done, 0, 0),
        TaskNext::Failed => (TaskStatus::Failed, 0, 0),
        TaskNext::RetryAt(at) => (TaskStatus::Pending, *at, 0),
        TaskNext::Requeue(at) => (TaskStatus::Pending, *at, 1),
        TaskNext::Refused(s) => (*s, 0, 1),
        TaskNext::Callback { at_ms, .. } => (TaskStatus::Pending, *at_ms, 0),
    };
    // Only a callback binds the task to an agent; any other settlement
    // frees it for the pool.
    let (agent, until) = match next {
        TaskNext::Callback {
            agent: Some((a, until)),
            ..
        } => (Some(a.clone()), Some(*until)),
        _ => (None, None),
    };
    sqlx::query(d.sql(
        "UPDATE tasks SET status = ?, next_attempt_ms = ?, last_cause = ?, updated_ms = ?,
         attempts = CASE WHEN attempts > ? THEN attempts - ? ELSE 0 END, agent_id = ?, agent_until_ms = ? WHERE id = ?",
    ))
    .bind(status.as_str())
    .bind(next_ms)
    .bind(cause.map(str::to_string))
    .bind(now_ms())
    .bind(give_back)
    .bind(give_back)
    .bind(agent)
    .bind(until)
    .bind(task_id)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

pub(super) async fn pop_acked_on(
    d: Dialect,
    conn: &mut AnyConnection,
    pop_id: &str,
    agent_id: &str,
    at_ms: i64,
) -> StoreResult<bool> {
    // Only the agent the pop went to can acknowledge it.
    let r = sqlx::query(d.sql(
        "UPDATE pops SET acked_ms = ? WHERE pop_id = ? AND agent_id = ? AND acked_ms IS NULL",
    ))
    .bind(at_ms)
    .bind(pop_id.to_string())
    .bind(agent_id.to_string())
    .execute(&mut *conn)
    .await?;
    Ok(r.rows_affected() == 1)
}

pub(super) async fn decision_on(
    d: Dialect,
    conn: &mut AnyConnection,
    x: &DialDecision,
) -> StoreResult<()> {
    sqlx::query(d.sql(
        "INSERT INTO dial_decisions (at_ms, task_id, campaign_id, verdict, reason, detail, call_id)
         VALUES (?, ?, ?, ?, ?, ?, ?)",
    ))
    .bind(x.at_ms)
    .bind(x.task_id)
    .bind(x.campaign_id.clone())
    .bind(x.verdict.as_str())
    .bind(x.reason.clone())
    .bind(x.detail.clone())
    .bind(x.call_id.clone())
    .execute(&mut *conn)
    .await?;
    Ok(())
}

impl SqlStore {
    pub(super) async fn insert_attempts_in(
        &self,
        attempts: &[NewAttempt],
        fence: Option<&Fence>,
    ) -> StoreResult<()> {
        if attempts.is_empty() {
            return Ok(());
        }
        // One statement for the batch: all of its dials are recorded, or
        // none is (and none is placed).
        let rows = vec!["(?, ?, ?, ?, ?)"; attempts.len()].join(", ");
        let mut q = self.q_owned(format!(
            "INSERT INTO attempts (call_id, task_id, agent_id, switch_name, originate_ms) VALUES {rows}"
        ));
        for a in attempts {
            q = q
                .bind(a.call_id.clone())
                .bind(a.task_id)
                .bind(a.agent_id.clone())
                .bind(a.switch_name.clone())
                .bind(a.originate_ms);
        }
        let Some(fence) = fence else {
            q.execute(&self.pool).await?;
            return Ok(());
        };
        let mut tx = self.pool.begin().await?;
        let mut checked = super::fence::Checked::default();
        if !self.holds(&mut tx, fence, &mut checked).await? {
            self.count_fenced(&checked);
            return Err(StoreError::LeaseMoved(fence.switch.clone()));
        }
        q.execute(&mut *tx).await?;
        tx.commit().await?;
        Ok(())
    }

    pub(super) async fn attempt_in(&self, call_id: &str) -> StoreResult<Option<Attempt>> {
        let row = self
            .q_owned(format!(
                "SELECT {ATTEMPT_COLUMNS} FROM attempts WHERE call_id = ?"
            ))
            .bind(call_id.to_string())
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(rows::attempt).transpose()
    }

    pub(super) async fn open_attempts_in(&self, switch: Option<&str>) -> StoreResult<Vec<Attempt>> {
        let on = if switch.is_some() {
            " AND switch_name = ?"
        } else {
            ""
        };
        let mut q = self.q_owned(format!(
            "SELECT {ATTEMPT_COLUMNS} FROM attempts WHERE hangup_ms IS NULL{on}"
        ));
        if let Some(s) = switch {
            q = q.bind(s.to_string());
        }
        let rows = q.fetch_all(&self.pool).await?;
        rows.iter().map(rows::attempt).collect()
    }

    pub(super) async fn attempts_for_task_in(&self, task_id: i64) -> StoreResult<Vec<Attempt>> {
        let rows = self
            .q_owned(format!(
                "SELECT {ATTEMPT_COLUMNS} FROM attempts WHERE task_id = ? ORDER BY originate_ms"
            ))
            .bind(task_id)
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(rows::attempt).collect()
    }

    pub(super) async fn customer_calls_in(
        &self,
        customer_id: &str,
        limit: u32,
        offset: u64,
    ) -> StoreResult<Vec<(Attempt, String)>> {
        let rows = self
            .q_owned(format!(
                "SELECT {}, t.campaign_id
             FROM attempts a JOIN tasks t ON t.id = a.task_id
             WHERE t.customer_id = ? AND a.hangup_ms IS NOT NULL
             ORDER BY a.originate_ms DESC, a.call_id LIMIT ? OFFSET ?",
                rows::qualified(ATTEMPT_COLUMNS, "a")
            ))
            .bind(customer_id.to_string())
            .bind(i64::from(limit))
            .bind(i64::try_from(offset).unwrap_or(i64::MAX))
            .fetch_all(&self.pool)
            .await?;
        rows.iter()
            .map(|r| Ok((rows::attempt(r)?, r.try_get("campaign_id")?)))
            .collect()
    }

    pub(super) async fn orphaned_in(&self, switch: Option<&str>) -> StoreResult<Vec<Task>> {
        let on = if switch.is_some() {
            " AND (claimed_switch = ? OR claimed_switch IS NULL)"
        } else {
            ""
        };
        let mut q = self.q_owned(format!(
            "SELECT {TASK_COLUMNS} FROM tasks
                 WHERE status = 'dialing'{on} AND id NOT IN (SELECT task_id FROM attempts WHERE hangup_ms IS NULL)"
        ));
        if let Some(s) = switch {
            q = q.bind(s.to_string());
        }
        let rows = q.fetch_all(&self.pool).await?;
        rows.iter().map(rows::task).collect()
    }

    pub(super) async fn sync_attempts_in(&self, task_id: i64) -> StoreResult<u32> {
        let row = self
            .q("UPDATE tasks SET attempts = (SELECT COUNT(*) FROM attempts WHERE task_id = ? AND (outcome IS NULL OR outcome != 'not_placed'))
                WHERE id = ? RETURNING attempts")
            .bind(task_id)
            .bind(task_id)
            .fetch_optional(&self.pool)
            .await?;
        Ok(match row {
            Some(r) => r.try_get::<i64, _>("attempts")?.max(0) as u32,
            None => 0,
        })
    }

    /// A pop delivered again (after a restart, or in place at the answer)
    /// keeps its first row.
    async fn insert_pop(
        &self,
        tx: &mut sqlx::Transaction<'_, sqlx::Any>,
        p: &crate::store::NewPop,
    ) -> StoreResult<()> {
        self.q("INSERT INTO pops (pop_id, call_id, agent_id, customer_id, sent_ms, degraded, template, shown, pop_trigger)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
                ON CONFLICT(pop_id) DO NOTHING")
            .bind(p.pop_id.clone())
            .bind(p.call_id.clone())
            .bind(p.agent_id.clone())
            .bind(p.customer_id.clone())
            .bind(p.sent_ms)
            .bind(p.degraded as i64)
            .bind(p.template.clone())
            .bind(serde_json::to_string(&p.shown).unwrap_or_else(|_| "[]".into()))
            .bind(match p.trigger {
                crate::campaign::settings::PopTrigger::Answer => "answer",
                crate::campaign::settings::PopTrigger::Ringing => "ringing",
            })
            .execute(&mut **tx)
            .await?;
        Ok(())
    }

    pub(super) async fn apply_in(&self, writes: &[Write]) -> StoreResult<()> {
        let d = self.dialect;
        let mut tx = self.pool.begin().await?;
        let mut fences = super::fence::Checked::default();
        for w in writes {
            let w = match w {
                Write::Fenced { fence, write } => {
                    if !self.holds(&mut tx, fence, &mut fences).await? {
                        continue;
                    }
                    &**write
                }
                w => w,
            };
            match w {
                // A fence within a fence is never made.
                Write::Fenced { .. } => {}
                Write::Ringing { call_id, at_ms } => {
                    self.q("UPDATE attempts SET ring_ms = COALESCE(ring_ms, ?) WHERE call_id = ?")
                        .bind(*at_ms)
                        .bind(call_id.clone())
                        .execute(&mut *tx)
                        .await?;
                }
                Write::Connected { call_id, agent_id } => {
                    self.q("UPDATE attempts SET agent_id = ? WHERE call_id = ?")
                        .bind(agent_id.clone())
                        .bind(call_id.clone())
                        .execute(&mut *tx)
                        .await?;
                }
                Write::Answer {
                    call_id,
                    at_ms,
                    pop,
                } => {
                    self.q(
                        "UPDATE attempts SET answer_ms = COALESCE(answer_ms, ?) WHERE call_id = ?",
                    )
                    .bind(*at_ms)
                    .bind(call_id.clone())
                    .execute(&mut *tx)
                    .await?;
                    if let Some(p) = pop {
                        self.insert_pop(&mut tx, p).await?;
                    }
                }
                Write::Pop(p) => self.insert_pop(&mut tx, p).await?,
                Write::CloseAttempt {
                    call_id,
                    at_ms,
                    outcome,
                    cause,
                } => {
                    let closed = self.q("UPDATE attempts SET hangup_ms = ?, outcome = ?, hangup_cause = ? WHERE call_id = ? AND hangup_ms IS NULL")
                        .bind(*at_ms)
                        .bind(outcome.clone())
                        .bind(cause.clone())
                        .bind(call_id.clone())
                        .execute(&mut *tx)
                        .await?
                        .rows_affected();
                    // Only the write that closed it counts it: a second
                    // close of the same call is no second person.
                    if closed > 0 && is_person(outcome) {
                        self.q("INSERT INTO abandon_tally (campaign_id, hour_ms, people, abandoned)
                                SELECT t.campaign_id, ?, 1, ? FROM attempts a JOIN tasks t ON t.id = a.task_id
                                WHERE a.call_id = ?
                                ON CONFLICT (campaign_id, hour_ms) DO UPDATE SET
                                  people = abandon_tally.people + excluded.people,
                                  abandoned = abandon_tally.abandoned + excluded.abandoned")
                            .bind(tally_hour(*at_ms))
                            .bind(i64::from(outcome == "abandoned"))
                            .bind(call_id.clone())
                            .execute(&mut *tx)
                            .await?;
                    }
                }
                Write::FinishTask {
                    task_id,
                    next,
                    cause,
                } => finish_task_on(d, &mut tx, *task_id, next, cause.as_deref()).await?,
                Write::Disposition(x) => {
                    self.q("INSERT INTO dispositions (call_id, task_id, campaign_id, agent_id, code, notes, callback_ms, at_ms)
                            VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT(call_id) DO NOTHING")
                        .bind(x.call_id.clone())
                        .bind(x.task_id)
                        .bind(x.campaign_id.clone())
                        .bind(x.agent_id.clone())
                        .bind(x.code.clone())
                        .bind(x.notes.clone())
                        .bind(x.callback_ms)
                        .bind(x.at_ms)
                        .execute(&mut *tx)
                        .await?;
                }
                Write::AddDnc(e) => {
                    self.q(
                        "INSERT INTO dnc (phone, campaign_id, reason, added_ms) VALUES (?, ?, ?, ?)
                            ON CONFLICT (phone, campaign_id) DO NOTHING",
                    )
                    .bind(e.phone.clone())
                    .bind(e.campaign_id.clone().unwrap_or_default())
                    .bind(e.reason.clone())
                    .bind(e.added_ms)
                    .execute(&mut *tx)
                    .await?;
                }
                Write::PopRule { call_id, rule } => {
                    self.q("UPDATE attempts SET pop_rule = ? WHERE call_id = ?")
                        .bind(rule.clone())
                        .bind(call_id.clone())
                        .execute(&mut *tx)
                        .await?;
                }
                Write::WrapEnded { call_id, at_ms } => {
                    self.q("UPDATE attempts SET wrap_end_ms = ? WHERE call_id = ?")
                        .bind(*at_ms)
                        .bind(call_id.clone())
                        .execute(&mut *tx)
                        .await?;
                }
                Write::AgentState {
                    agent_id,
                    state,
                    reason,
                    at_ms,
                } => {
                    self.q("INSERT INTO agent_states (agent_id, state, reason, at_ms) VALUES (?, ?, ?, ?)")
                        .bind(agent_id.clone())
                        .bind(state.clone())
                        .bind(reason.clone())
                        .bind(*at_ms)
                        .execute(&mut *tx)
                        .await?;
                }
                Write::PopAcked {
                    pop_id,
                    agent_id,
                    at_ms,
                } => {
                    pop_acked_on(d, &mut tx, pop_id, agent_id, *at_ms).await?;
                }
                Write::Decision(x) => decision_on(d, &mut tx, x).await?,
            }
        }
        tx.commit().await?;
        self.count_fenced(&fences);
        Ok(())
    }

    pub(super) async fn pops_for_call_in(
        &self,
        call_id: &str,
    ) -> StoreResult<Vec<(String, String, Option<i64>)>> {
        let rows = self
            .q("SELECT pop_id, agent_id, acked_ms FROM pops WHERE call_id = ? ORDER BY sent_ms")
            .bind(call_id.to_string())
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
