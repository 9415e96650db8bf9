//! The pop log: who was shown which customer's record, when, with what.

use super::*;
use crate::store::{PopQuery, PopRecord};
use sqlx::Row;

const COLUMNS: &str = "p.pop_id AS pop_id, p.call_id AS call_id, p.agent_id AS agent_id,
    p.customer_id AS customer_id, p.sent_ms AS sent_ms, p.acked_ms AS acked_ms,
    p.degraded AS degraded, p.template AS template, p.shown AS shown, p.pop_trigger AS pop_trigger,
    a.task_id AS task_id, a.answer_ms AS answer_ms, t.campaign_id AS campaign_id";

const FROM: &str = "FROM pops p LEFT JOIN attempts a ON a.call_id = p.call_id
    LEFT JOIN tasks t ON t.id = a.task_id";

fn record(r: &sqlx::any::AnyRow) -> StoreResult<PopRecord> {
    let shown: Option<String> = r.try_get("shown")?;
    Ok(PopRecord {
        pop_id: r.try_get("pop_id")?,
        call_id: r.try_get("call_id")?,
        agent_id: r.try_get("agent_id")?,
        customer_id: r.try_get("customer_id")?,
        campaign_id: r.try_get("campaign_id")?,
        task_id: r.try_get("task_id")?,
        sent_ms: r.try_get("sent_ms")?,
        acked_ms: r.try_get("acked_ms")?,
        answered: r.try_get::<Option<i64>, _>("answer_ms")?.is_some(),
        degraded: r.try_get::<i64, _>("degraded")? != 0,
        template: r.try_get("template")?,
        shown: shown
            .and_then(|s| serde_json::from_str(&s).ok())
            .unwrap_or_default(),
        trigger: r.try_get("pop_trigger")?,
    })
}

impl SqlStore {
    pub(super) async fn pop_in(&self, pop_id: &str) -> StoreResult<Option<PopRecord>> {
        let row = self
            .q_owned(format!("SELECT {COLUMNS} {FROM} WHERE p.pop_id = ?"))
            .bind(pop_id.to_string())
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(record).transpose()
    }

    /// Newest first. The SQL is made of fixed pieces only; every value the
    /// caller gave is bound.
    pub(super) async fn pops_in(&self, q: &PopQuery) -> StoreResult<Vec<PopRecord>> {
        let mut sql = format!("SELECT {COLUMNS} {FROM} WHERE p.sent_ms >= ? AND p.sent_ms < ?");
        let texts: [(&str, &Option<String>); 4] = [
            ("p.call_id", &q.call_id),
            ("p.agent_id", &q.agent_id),
            ("p.customer_id", &q.customer_id),
            ("t.campaign_id", &q.campaign_id),
        ];
        for (column, v) in &texts {
            if v.is_some() {
                sql.push_str(&format!(" AND {column} = ?"));
            }
        }
        if let Some(d) = q.degraded {
            sql.push_str(if d {
                " AND p.degraded <> 0"
            } else {
                " AND p.degraded = 0"
            });
        }
        if let Some(a) = q.acked {
            sql.push_str(if a {
                " AND p.acked_ms IS NOT NULL"
            } else {
                " AND p.acked_ms IS NULL"
            });
        }
        if q.before.is_some() {
            sql.push_str(" AND (p.sent_ms < ? OR (p.sent_ms = ? AND p.pop_id < ?))");
        }
        sql.push_str(" ORDER BY p.sent_ms DESC, p.pop_id DESC LIMIT ?");
        let mut query = self.q_owned(sql).bind(q.since_ms).bind(q.until_ms);
        for (_, v) in texts {
            if let Some(v) = v {
                query = query.bind(v.clone());
            }
        }
        if let Some((ms, id)) = &q.before {
            query = query.bind(*ms).bind(*ms).bind(id.clone());
        }
        let rows = query.bind(q.limit as i64).fetch_all(&self.pool).await?;
        rows.iter().map(record).collect()
    }
}
