//! Tasks: adding them (in batches, idempotently), claiming them, listing,
//! changing and counting them.

use super::super::rows::{self, TASK_COLUMNS, tags_column};
use super::*;
use sqlx::Row;
use std::collections::HashMap;

/// Rows in one multi-row INSERT: well under both databases' bound limits
/// (14 values a row).
const INSERT_CHUNK: usize = 500;

/// A value for a clause built at run time.
enum Bind {
    I(i64),
    S(String),
}

/// `AND ...` clauses and their values, built from a filter: the claim, the
/// next due time and the task list share them.
#[derive(Default)]
struct Where {
    sql: String,
    binds: Vec<Bind>,
}

impl Where {
    fn and(&mut self, clause: &str, b: Bind) {
        self.sql.push_str(" AND ");
        self.sql.push_str(clause);
        self.binds.push(b);
    }

    fn selection(d: Dialect, f: &ClaimFilter) -> Where {
        let mut w = Where::default();
        if !f.include_tags.is_empty() {
            let any: Vec<String> = f.include_tags.iter().map(|_| d.has_tag("tags")).collect();
            w.sql.push_str(&format!(" AND ({})", any.join(" OR ")));
            w.binds
                .extend(f.include_tags.iter().map(|t| Bind::S(format!(",{t},"))));
        }
        for t in &f.exclude_tags {
            w.and(
                &format!("NOT ({})", d.has_tag("tags")),
                Bind::S(format!(",{t},")),
            );
        }
        if let Some(p) = f.min_priority {
            w.and("priority >= ?", Bind::I(p));
        }
        if let Some(p) = f.max_priority {
            w.and("priority <= ?", Bind::I(p));
        }
        if let Some(t) = f.due_from_ms {
            w.and("next_attempt_ms >= ?", Bind::I(t));
        }
        if let Some(t) = f.due_until_ms {
            w.and("next_attempt_ms < ?", Bind::I(t));
        }
        w
    }

    /// A callback bound to an agent is taken by that agent, or by anyone
    /// once its grace is over.
    fn bound_to(&mut self, agents: &[String], now: i64) {
        let mut clause = String::from(" AND (agent_id IS NULL OR agent_until_ms <= ?");
        self.binds.push(Bind::I(now));
        if !agents.is_empty() {
            clause.push_str(" OR agent_id IN (");
            clause.push_str(&vec!["?"; agents.len()].join(", "));
            clause.push(')');
            self.binds.extend(agents.iter().map(|a| Bind::S(a.clone())));
        }
        clause.push(')');
        self.sql.push_str(&clause);
    }

    fn bind_to(self, mut q: Query<'static>) -> Query<'static> {
        for b in self.binds {
            q = match b {
                Bind::I(i) => q.bind(i),
                Bind::S(s) => q.bind(s),
            };
        }
        q
    }
}

/// What an insert of tasks answers.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Returning {
    Nothing,
    /// Each row's id, campaign and key.
    Keys,
    /// The one row, whole, written as being dialed.
    DialingTask,
}

fn variables_json(v: &serde_json::Map<String, serde_json::Value>) -> String {
    serde_json::Value::Object(v.clone()).to_string()
}

impl SqlStore {
    /// One multi-row INSERT of the chunk; a row whose key its campaign
    /// has is left out. `returning`: with the ids and keys of the rows in.
    fn insert_chunk(&self, chunk: &[NewTask], now: i64, returning: Returning) -> Query<'static> {
        let mut sql = String::from(
            "INSERT INTO tasks (campaign_id, customer_id, phone, priority, status, attempts, next_attempt_ms, created_ms, updated_ms,
             tags, not_before_ms, not_after_ms, time_zone, variables, idempotency_key, submitted_by) VALUES ",
        );
        for i in 0..chunk.len() {
            if i > 0 {
                sql.push(',');
            }
            sql.push_str(match returning {
                Returning::DialingTask => {
                    "(?, ?, ?, ?, 'dialing', 1, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
                }
                _ => "(?, ?, ?, ?, 'pending', 0, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            });
        }
        sql.push_str(" ON CONFLICT (campaign_id, idempotency_key) WHERE idempotency_key IS NOT NULL DO NOTHING");
        match returning {
            Returning::Nothing => {}
            Returning::Keys => sql.push_str(" RETURNING id, campaign_id, idempotency_key"),
            Returning::DialingTask => {
                sql.push_str(" RETURNING ");
                sql.push_str(TASK_COLUMNS);
            }
        }
        let mut q = self.q_owned(sql);
        for t in chunk {
            q = q
                .bind(t.campaign_id.clone())
                .bind(t.customer_id.clone())
                .bind(t.phone.clone())
                .bind(t.priority)
                .bind(t.due_ms)
                .bind(now)
                .bind(now)
                .bind(tags_column(&t.tags))
                .bind(t.not_before_ms)
                .bind(t.not_after_ms)
                .bind(t.time_zone.clone())
                .bind(variables_json(&t.variables))
                .bind(t.idempotency_key.clone())
                .bind(t.submitted_by.clone());
        }
        q
    }

    pub(super) async fn insert_tasks_in(&self, tasks: &[NewTask]) -> StoreResult<u64> {
        let now = now_ms();
        let mut added = 0;
        let mut tx = self.pool.begin().await?;
        for chunk in tasks.chunks(INSERT_CHUNK) {
            added += self
                .insert_chunk(chunk, now, Returning::Nothing)
                .execute(&mut *tx)
                .await?
                .rows_affected();
        }
        tx.commit().await?;
        Ok(added)
    }

    pub(super) async fn add_dialing_in(&self, task: &NewTask) -> StoreResult<Task> {
        let row = self
            .insert_chunk(std::slice::from_ref(task), now_ms(), Returning::DialingTask)
            .fetch_optional(&self.pool)
            .await?;
        match row {
            Some(r) => rows::task(&r),
            None => Err(StoreError::Invalid(format!(
                "campaign {}: idempotency key {:?} is taken",
                task.campaign_id, task.idempotency_key
            ))),
        }
    }

    pub(super) async fn add_tasks_in(&self, tasks: &[NewTask]) -> StoreResult<Vec<Added>> {
        let now = now_ms();
        let mut out = Vec::with_capacity(tasks.len());
        let mut tx = self.pool.begin().await?;
        for chunk in tasks.chunks(INSERT_CHUNK) {
            let q = self.insert_chunk(chunk, now, Returning::Keys);
            let returned = q.fetch_all(&mut *tx).await?;
            // Ids rise in the order the rows were given; a keyed row is
            // matched by its key, the others by that order.
            let mut by_key: HashMap<(String, String), i64> = HashMap::new();
            let mut unkeyed: Vec<i64> = Vec::new();
            for r in &returned {
                let id: i64 = r.try_get("id")?;
                if let Some(k) = r.try_get::<Option<String>, _>("idempotency_key")? {
                    by_key.insert((r.try_get("campaign_id")?, k), id);
                } else {
                    unkeyed.push(id);
                }
            }
            unkeyed.sort_unstable();
            let mut unkeyed = unkeyed.into_iter();
            let mut seen: HashMap<(String, String), ()> = HashMap::new();
            let mut missing: Vec<usize> = Vec::new();
            for t in chunk {
                match &t.idempotency_key {
                    None => match unkeyed.next() {
                        Some(id) => out.push(Added { id, created: true }),
                        None => return Err(StoreError::Invalid("an added task has no id".into())),
                    },
                    Some(k) => {
                        let key = (t.campaign_id.clone(), k.clone());
                        match by_key.get(&key) {
                            // The first row with a key made the task; a
                            // second in the same batch names the same one.
                            Some(&id) if seen.insert(key, ()).is_none() => {
                                out.push(Added { id, created: true })
                            }
                            Some(&id) => out.push(Added { id, created: false }),
                            None => {
                                missing.push(out.len());
                                out.push(Added {
                                    id: 0,
                                    created: false,
                                });
                            }
                        }
                    }
                }
            }
            // Keys the campaign had before this batch: their tasks' ids.
            let base = out.len() - chunk.len();
            for slot in missing {
                let t = &chunk[slot - base];
                let row = self
                    .q("SELECT id FROM tasks WHERE campaign_id = ? AND idempotency_key = ?")
                    .bind(t.campaign_id.clone())
                    .bind(t.idempotency_key.clone())
                    .fetch_one(&mut *tx)
                    .await?;
                out[slot] = Added {
                    id: row.try_get("id")?,
                    created: false,
                };
            }
        }
        tx.commit().await?;
        Ok(out)
    }

    pub(super) async fn claim_in(
        &self,
        f: &ClaimFilter,
        now: i64,
        limit: usize,
    ) -> StoreResult<Vec<(Task, Option<DncEntry>)>> {
        let mut w = Where::selection(self.dialect, f);
        w.bound_to(&f.agents, now);
        // One statement: the pick and the claim cannot be split by another
        // writer, so a task is never handed out twice. The pick comes first
        // in the text (and so in the binds) on both backends.
        let pick = format!(
            "SELECT id FROM tasks{} WHERE campaign_id = ? AND status = 'pending' AND next_attempt_ms <= ?{}
             ORDER BY priority DESC, next_attempt_ms ASC, id ASC LIMIT ?{}",
            self.dialect.claim_index(),
            w.sql,
            self.dialect.claim_lock()
        );
        let sql = match self.dialect {
            // SQLite reads an `IN (…)` list once, before the update.
            Dialect::Sqlite => format!(
                "WITH picked AS ({pick})
                 UPDATE tasks SET status = 'dialing', attempts = attempts + 1, updated_ms = ?, claimed_switch = ?
                 WHERE id IN (SELECT id FROM picked) AND status = 'pending'
                 RETURNING {TASK_COLUMNS}"
            ),
            // PostgreSQL may run an `IN (…)` subquery again as the update
            // goes, and with SKIP LOCKED (or rows the update has just moved
            // out of 'pending') each run picks others: more than LIMIT rows
            // were claimed. A materialised pick runs once.
            Dialect::Postgres => format!(
                "WITH picked AS MATERIALIZED ({pick})
                 UPDATE tasks SET status = 'dialing', attempts = attempts + 1, updated_ms = ?, claimed_switch = ?
                 FROM picked WHERE tasks.id = picked.id AND tasks.status = 'pending'
                 RETURNING {}",
                rows::qualified(TASK_COLUMNS, "tasks")
            ),
        };
        let q = self.q_owned(sql).bind(f.campaign_id.clone()).bind(now);
        let q = w
            .bind_to(q)
            .bind(limit.min(i64::MAX as usize) as i64)
            .bind(now_ms())
            .bind(f.fence.as_ref().map(|f| f.switch.clone()));
        let rows = match &f.fence {
            None => q.fetch_all(&self.pool).await?,
            // Under the lease, read FOR SHARE in the same transaction: the
            // claim lands before a takeover (whose recovery then sees the
            // tasks) or not at all.
            Some(fence) => {
                let mut tx = self.pool.begin().await?;
                let mut checked = super::fence::Checked::default();
                if !self.holds(&mut tx, fence, &mut checked).await? {
                    self.count_fenced(&checked);
                    return Err(StoreError::LeaseMoved(fence.switch.clone()));
                }
                let rows = q.fetch_all(&mut *tx).await?;
                tx.commit().await?;
                rows
            }
        };
        let mut tasks = rows
            .iter()
            .map(rows::task)
            .collect::<StoreResult<Vec<_>>>()?;
        // RETURNING keeps no order: the queue's own is restored (the claim
        // leaves the due time as it was).
        tasks.sort_by_key(|t| (std::cmp::Reverse(t.priority), t.due_ms, t.id));
        let listed = self.dnc_lists_of(&f.campaign_id, &tasks).await?;
        Ok(tasks
            .into_iter()
            .map(|t| {
                let dnc = listed.get(&t.phone).map(|list| DncEntry {
                    phone: t.phone.clone(),
                    campaign_id: (!list.is_empty()).then(|| list.clone()),
                    reason: None,
                    added_ms: 0,
                });
                (t, dnc)
            })
            .collect())
    }

    /// The do-not-call list each claimed number is on (the campaign's own
    /// before the global one, ''), read in one statement for the batch. Not
    /// in the claim's RETURNING: SQLite cannot use the list's index for a
    /// subquery there and scanned the whole list for every claim (114 ms for
    /// eight claims against 200,000 entries).
    async fn dnc_lists_of(
        &self,
        campaign_id: &str,
        tasks: &[Task],
    ) -> StoreResult<std::collections::HashMap<String, String>> {
        let mut listed = std::collections::HashMap::new();
        if tasks.is_empty() {
            return Ok(listed);
        }
        let marks = vec!["?"; tasks.len()].join(", ");
        let mut q = self.q_owned(format!(
            "SELECT phone, campaign_id FROM dnc WHERE phone IN ({marks}) AND campaign_id IN (?, '')"
        ));
        for t in tasks {
            q = q.bind(t.phone.clone());
        }
        for row in q
            .bind(campaign_id.to_string())
            .fetch_all(&self.pool)
            .await?
        {
            let phone: String = row.try_get("phone")?;
            let list: String = row.try_get("campaign_id")?;
            let e = listed.entry(phone).or_insert_with(String::new);
            if list > *e {
                *e = list;
            }
        }
        Ok(listed)
    }

    pub(super) async fn next_due_in(&self, f: &ClaimFilter) -> StoreResult<Option<i64>> {
        let w = Where::selection(self.dialect, f);
        // A callback bound to another agent is due for these ones when its
        // grace is over.
        let mine = if f.agents.is_empty() {
            String::new()
        } else {
            format!(" OR agent_id IN ({})", vec!["?"; f.agents.len()].join(", "))
        };
        let sql = format!(
            "SELECT MIN(CASE WHEN agent_id IS NULL{mine} THEN next_attempt_ms
                             WHEN agent_until_ms > next_attempt_ms THEN agent_until_ms
                             ELSE next_attempt_ms END) AS due
             FROM tasks WHERE campaign_id = ? AND status = 'pending'{}",
            w.sql
        );
        let mut q = self.q_owned(sql);
        for a in &f.agents {
            q = q.bind(a.clone());
        }
        let row = w
            .bind_to(q.bind(f.campaign_id.clone()))
            .fetch_one(&self.pool)
            .await?;
        Ok(row.try_get("due")?)
    }

    pub(super) async fn task_in(&self, id: i64) -> StoreResult<Option<Task>> {
        let row = self
            .q_owned(format!("SELECT {TASK_COLUMNS} FROM tasks WHERE id = ?"))
            .bind(id)
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(rows::task).transpose()
    }

    pub(super) async fn tasks_in(&self, q: &TaskQuery) -> StoreResult<Vec<Task>> {
        let mut w = Where::default();
        if let Some(c) = &q.campaign_id {
            w.and("campaign_id = ?", Bind::S(c.clone()));
        }
        if let Some(s) = q.status {
            w.and("status = ?", Bind::S(s.as_str().into()));
        }
        if let Some(t) = &q.tag {
            w.and(&self.dialect.has_tag("tags"), Bind::S(format!(",{t},")));
        }
        if let Some(by) = &q.submitted_by {
            w.and("submitted_by = ?", Bind::S(by.clone()));
        }
        for (clause, v) in [
            ("priority >= ?", q.min_priority),
            ("priority <= ?", q.max_priority),
            ("next_attempt_ms >= ?", q.due_from_ms),
            ("next_attempt_ms < ?", q.due_until_ms),
            ("created_ms >= ?", q.created_from_ms),
            ("created_ms < ?", q.created_until_ms),
        ] {
            if let Some(v) = v {
                w.and(clause, Bind::I(v));
            }
        }
        let sql = format!(
            "SELECT {TASK_COLUMNS} FROM tasks WHERE id > ?{} ORDER BY id LIMIT ?",
            w.sql
        );
        let mut query = self.q_owned(sql).bind(q.after_id);
        query = w.bind_to(query);
        let rows = query
            .bind(i64::from(q.limit.clamp(1, 1000)))
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(rows::task).collect()
    }

    pub(super) async fn patch_in(
        &self,
        id: i64,
        p: &TaskPatch,
    ) -> StoreResult<Result<Task, PatchRefused>> {
        let mut sets: Vec<&str> = vec!["updated_ms = ?"];
        let mut binds: Vec<Bind> = vec![Bind::I(now_ms())];
        let mut opt: Vec<(&str, Option<i64>)> = Vec::new();
        if p.cancel {
            sets.push("status = 'cancelled'");
        }
        if let Some(v) = p.priority {
            sets.push("priority = ?");
            binds.push(Bind::I(v));
        }
        if let Some(t) = &p.tags {
            sets.push("tags = ?");
            binds.push(Bind::S(tags_column(t)));
        }
        if let Some(v) = &p.variables {
            sets.push("variables = ?");
            binds.push(Bind::S(variables_json(v)));
        }
        if let Some(v) = p.due_ms {
            sets.push("next_attempt_ms = ?");
            binds.push(Bind::I(v));
        }
        if let Some(v) = p.not_before_ms {
            opt.push(("not_before_ms = ?", v));
        }
        if let Some(v) = p.not_after_ms {
            opt.push(("not_after_ms = ?", v));
        }
        let mut bound: Option<Option<String>> = None;
        if let Some(a) = &p.agent {
            bound = Some(a.as_ref().map(|(id, _)| id.clone()));
            opt.push(("agent_until_ms = ?", a.as_ref().map(|(_, until)| *until)));
        }
        let mut sql = format!("UPDATE tasks SET {}", sets.join(", "));
        for (s, _) in &opt {
            sql.push_str(", ");
            sql.push_str(s);
        }
        if bound.is_some() {
            sql.push_str(", agent_id = ?");
        }
        sql.push_str(" WHERE id = ? AND status = 'pending'");
        let mut q = self.q_owned(sql);
        for b in binds {
            q = match b {
                Bind::I(i) => q.bind(i),
                Bind::S(s) => q.bind(s),
            };
        }
        for (_, v) in opt {
            q = q.bind(v);
        }
        if let Some(a) = bound {
            q = q.bind(a);
        }
        let r = q.bind(id).execute(&self.pool).await?;
        let task = self.task_in(id).await?;
        Ok(match (r.rows_affected(), task) {
            (_, None) => Err(PatchRefused::NotFound),
            (1, Some(t)) => Ok(t),
            (_, Some(t)) => Err(PatchRefused::NotChangeable(t.status)),
        })
    }

    pub(super) async fn counts_in(&self, campaign_id: &str) -> StoreResult<TaskCounts> {
        let rows = self
            .q("SELECT status, COUNT(*) AS n FROM tasks WHERE campaign_id = ? GROUP BY status")
            .bind(campaign_id.to_string())
            .fetch_all(&self.pool)
            .await?;
        let mut c = TaskCounts::default();
        for r in rows {
            let n = r.try_get::<i64, _>("n")?.max(0) as u64;
            if let Some(s) = TaskStatus::parse(&r.try_get::<String, _>("status")?) {
                c.add(s, n);
            }
        }
        Ok(c)
    }
}
