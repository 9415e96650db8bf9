//! Do-not-call lists and the record of dial decisions.

use super::super::rows;
use super::*;
use sqlx::Row;

const DNC_CHUNK: usize = 500;

impl SqlStore {
    pub(super) async fn add_dnc_in(&self, entries: &[DncEntry]) -> StoreResult<u64> {
        let mut added = 0;
        let mut tx = self.pool.begin().await?;
        for chunk in entries.chunks(DNC_CHUNK) {
            let mut sql =
                String::from("INSERT INTO dnc (phone, campaign_id, reason, added_ms) VALUES ");
            for i in 0..chunk.len() {
                sql.push_str(if i == 0 {
                    "(?, ?, ?, ?)"
                } else {
                    ", (?, ?, ?, ?)"
                });
            }
            sql.push_str(" ON CONFLICT (phone, campaign_id) DO NOTHING");
            let mut q = self.q_owned(sql);
            for e in chunk {
                q = q
                    .bind(e.phone.clone())
                    .bind(e.campaign_id.clone().unwrap_or_default())
                    .bind(e.reason.clone())
                    .bind(e.added_ms);
            }
            added += q.execute(&mut *tx).await?.rows_affected();
        }
        tx.commit().await?;
        Ok(added)
    }

    pub(super) async fn remove_dnc_in(
        &self,
        phone: &str,
        campaign_id: Option<&str>,
    ) -> StoreResult<bool> {
        let r = self
            .q("DELETE FROM dnc WHERE phone = ? AND campaign_id = ?")
            .bind(phone.to_string())
            .bind(campaign_id.unwrap_or_default().to_string())
            .execute(&self.pool)
            .await?;
        Ok(r.rows_affected() > 0)
    }

    pub(super) async fn dnc_match_in(
        &self,
        phone: &str,
        campaign_id: &str,
    ) -> StoreResult<Option<DncEntry>> {
        // The campaign's own entry sorts first ('' is the global list).
        let row = self
            .q("SELECT phone, campaign_id, reason, added_ms FROM dnc
                WHERE phone = ? AND campaign_id IN (?, '') ORDER BY campaign_id DESC LIMIT 1")
            .bind(phone.to_string())
            .bind(campaign_id.to_string())
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(rows::dnc).transpose()
    }

    pub(super) async fn dnc_list_in(
        &self,
        campaign_id: Option<&str>,
        after_phone: &str,
        limit: u32,
    ) -> StoreResult<Vec<DncEntry>> {
        let rows = self
            .q("SELECT phone, campaign_id, reason, added_ms FROM dnc
                WHERE campaign_id = ? AND phone > ? ORDER BY phone LIMIT ?")
            .bind(campaign_id.unwrap_or_default().to_string())
            .bind(after_phone.to_string())
            .bind(i64::from(limit.clamp(1, 1000)))
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(rows::dnc).collect()
    }

    pub(super) async fn decisions_in(&self, task_id: i64) -> StoreResult<Vec<DialDecision>> {
        let rows = self
            // A dial is recorded by its attempt; deferrals and refusals by
            // their own rows.
            .q("SELECT task_id, campaign_id, at_ms, verdict, reason, detail, call_id FROM (
                  SELECT task_id, campaign_id, at_ms, verdict, reason, detail, call_id, id AS n FROM dial_decisions WHERE task_id = ?
                  UNION ALL
                  SELECT a.task_id, t.campaign_id, a.originate_ms, 'dial', 'eligible', NULL, a.call_id, 0
                  FROM attempts a JOIN tasks t ON t.id = a.task_id WHERE a.task_id = ?
                ) x ORDER BY at_ms, n")
            .bind(task_id)
            .bind(task_id)
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(rows::decision).collect()
    }

    pub(super) async fn decision_counts_in(
        &self,
        campaign_id: &str,
        since_ms: i64,
    ) -> StoreResult<Vec<(Verdict, String, u64)>> {
        let rows = self
            .q("SELECT verdict, reason, COUNT(*) AS n FROM (
                  SELECT verdict, reason FROM dial_decisions WHERE campaign_id = ? AND at_ms >= ?
                  UNION ALL
                  SELECT 'dial' AS verdict, 'eligible' AS reason
                  FROM attempts a JOIN tasks t ON t.id = a.task_id WHERE t.campaign_id = ? AND a.originate_ms >= ?
                ) x GROUP BY verdict, reason ORDER BY verdict, reason")
            .bind(campaign_id.to_string())
            .bind(since_ms)
            .bind(campaign_id.to_string())
            .bind(since_ms)
            .fetch_all(&self.pool)
            .await?;
        rows.iter()
            .map(|r| {
                Ok((
                    rows::verdict(&r.try_get::<String, _>("verdict")?)?,
                    r.try_get("reason")?,
                    r.try_get::<i64, _>("n")?.max(0) as u64,
                ))
            })
            .collect()
    }
}
