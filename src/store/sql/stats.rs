//! The rows campaign stats are added up from (`campaign::stats`).

use super::*;
use crate::campaign::stats::{AgentCalls, PresenceChange};
use sqlx::Row;

fn presence(r: &sqlx::any::AnyRow) -> StoreResult<PresenceChange> {
    Ok(PresenceChange {
        agent_id: r.try_get("agent_id")?,
        class: r.try_get("state")?,
        at_ms: r.try_get("at_ms")?,
    })
}

fn count(r: &sqlx::any::AnyRow, name: &str) -> StoreResult<u64> {
    Ok(r.try_get::<i64, _>(name)?.max(0) as u64)
}

impl SqlStore {
    pub(super) async fn agent_calls_in(
        &self,
        campaign_id: &str,
        since_ms: i64,
    ) -> StoreResult<Vec<AgentCalls>> {
        // Sums are cast: PostgreSQL's SUM of a BIGINT is a NUMERIC.
        let rows = self
            .q("SELECT a.agent_id AS agent_id, COUNT(*) AS dials,
                  CAST(SUM(CASE WHEN a.answer_ms IS NOT NULL THEN 1 ELSE 0 END) AS BIGINT) AS answered,
                  CAST(SUM(CASE WHEN a.answer_ms IS NOT NULL AND a.wrap_end_ms IS NOT NULL THEN 1 ELSE 0 END) AS BIGINT) AS handled,
                  CAST(COALESCE(SUM(CASE WHEN a.answer_ms IS NOT NULL AND a.wrap_end_ms IS NOT NULL
                       THEN a.hangup_ms - a.answer_ms ELSE 0 END), 0) AS BIGINT) AS talk_ms,
                  CAST(COALESCE(SUM(CASE WHEN a.answer_ms IS NOT NULL AND a.wrap_end_ms IS NOT NULL
                       THEN a.wrap_end_ms - a.hangup_ms ELSE 0 END), 0) AS BIGINT) AS wrap_ms
                FROM attempts a JOIN tasks t ON t.id = a.task_id
                WHERE t.campaign_id = ? AND a.originate_ms >= ? AND (a.outcome IS NULL OR a.outcome <> 'not_placed')
                GROUP BY a.agent_id ORDER BY a.agent_id")
            .bind(campaign_id.to_string())
            .bind(since_ms)
            .fetch_all(&self.pool)
            .await?;
        rows.iter()
            .map(|r| {
                Ok(AgentCalls {
                    agent_id: r.try_get("agent_id")?,
                    dials: count(r, "dials")?,
                    answered: count(r, "answered")?,
                    handled: count(r, "handled")?,
                    talk_ms: r.try_get("talk_ms")?,
                    wrap_ms: r.try_get("wrap_ms")?,
                })
            })
            .collect()
    }

    pub(super) async fn presence_in(
        &self,
        since_ms: i64,
    ) -> StoreResult<(Vec<PresenceChange>, Vec<PresenceChange>)> {
        let before = self
            .q("SELECT s.agent_id AS agent_id, s.state AS state, s.at_ms AS at_ms FROM agent_states s
                JOIN (SELECT agent_id, MAX(id) AS last FROM agent_states WHERE at_ms < ? GROUP BY agent_id) m
                  ON s.id = m.last")
            .bind(since_ms)
            .fetch_all(&self.pool)
            .await?;
        let during = self
            .q("SELECT agent_id, state, at_ms FROM agent_states WHERE at_ms >= ? ORDER BY at_ms, id")
            .bind(since_ms)
            .fetch_all(&self.pool)
            .await?;
        Ok((
            before.iter().map(presence).collect::<StoreResult<_>>()?,
            during.iter().map(presence).collect::<StoreResult<_>>()?,
        ))
    }

    pub(super) async fn disposition_counts_in(
        &self,
        campaign_id: &str,
        since_ms: i64,
    ) -> StoreResult<Vec<(String, u64)>> {
        let rows = self
            .q(
                "SELECT code, COUNT(*) AS n FROM dispositions WHERE campaign_id = ? AND at_ms >= ?
                GROUP BY code ORDER BY code",
            )
            .bind(campaign_id.to_string())
            .bind(since_ms)
            .fetch_all(&self.pool)
            .await?;
        rows.iter()
            .map(|r| Ok((r.try_get("code")?, count(r, "n")?)))
            .collect()
    }

    pub(super) async fn abandon_counts_in(
        &self,
        campaign_id: &str,
        since_ms: i64,
    ) -> StoreResult<(u64, u64)> {
        // Whole hours from the tally; the hour the window starts in, which
        // it holds only in part, from the attempts themselves (one hour of
        // them, through the index on hangup_ms). COUNT, not SUM: a BIGINT
        // on every backend.
        let first_whole = tally_hour(since_ms.saturating_add(TALLY_HOUR_MS - 1));
        let edge = self
            .q("SELECT COUNT(*) AS people,
                  COUNT(CASE WHEN a.outcome = 'abandoned' THEN 1 END) AS abandoned
                FROM attempts a JOIN tasks t ON t.id = a.task_id
                WHERE t.campaign_id = ? AND a.hangup_ms >= ? AND a.hangup_ms < ?
                  AND a.outcome IN ('answered', 'abandoned')")
            .bind(campaign_id.to_string())
            .bind(since_ms)
            .bind(first_whole)
            .fetch_one(&self.pool)
            .await?;
        let whole = self
            .q("SELECT CAST(COALESCE(SUM(people), 0) AS BIGINT) AS people,
                  CAST(COALESCE(SUM(abandoned), 0) AS BIGINT) AS abandoned
                FROM abandon_tally WHERE campaign_id = ? AND hour_ms >= ?")
            .bind(campaign_id.to_string())
            .bind(first_whole)
            .fetch_one(&self.pool)
            .await?;
        Ok((
            count(&edge, "people")? + count(&whole, "people")?,
            count(&edge, "abandoned")? + count(&whole, "abandoned")?,
        ))
    }
}

/// The outcomes of calls a person answered: the cap window's people.
pub(super) fn is_person(outcome: &str) -> bool {
    matches!(outcome, "answered" | "abandoned")
}

pub(super) const TALLY_HOUR_MS: i64 = 3_600_000;

/// The start of the tally's hour `at_ms` falls in.
pub(super) fn tally_hour(at_ms: i64) -> i64 {
    at_ms.div_euclid(TALLY_HOUR_MS) * TALLY_HOUR_MS
}
