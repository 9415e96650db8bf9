//! The cluster's rows in PostgreSQL: the nodes' heartbeats and the switch
//! leases (tables `cluster_nodes` and `switch_leases`, migration 0006).
//!
//! Every time is the store's clock (`clock_timestamp()`), never a node's:
//! nodes whose wall clocks disagree still agree on who holds a lease. A
//! pool of its own, so that a writer busy with a backlog never keeps a
//! renewal waiting for a connection.

use super::lease::Reply;
use sqlx::Row;
use sqlx::postgres::{PgPool, PgPoolOptions};
use std::time::Duration;

/// The store's clock in ms since the epoch.
const NOW_MS: &str = "CAST(EXTRACT(EPOCH FROM clock_timestamp()) * 1000 AS BIGINT)";

#[derive(Clone)]
pub struct LeaseStore {
    pool: PgPool,
}

/// A node as its heartbeats say.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct NodeRow {
    pub node_id: String,
    pub started_ms: i64,
    pub heartbeat_ms: i64,
    pub http_addr: String,
    /// Ms since its last heartbeat, by the store's clock.
    pub silent_ms: i64,
}

/// A switch's lease as the store holds it.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct LeaseRow {
    pub switch_name: String,
    pub node_id: String,
    pub token: i64,
    pub acquired_ms: i64,
    pub expires_ms: i64,
    /// Ms until it expires (negative: expired), by the store's clock.
    pub expires_in_ms: i64,
}

impl LeaseStore {
    /// The store must have been opened (and so migrated) at `url` before.
    pub async fn connect(url: &str) -> Result<LeaseStore, sqlx::Error> {
        let pool = PgPoolOptions::new()
            .max_connections(2)
            .acquire_timeout(Duration::from_secs(2))
            .connect(url)
            .await?;
        Ok(LeaseStore { pool })
    }

    /// Closes the lease connections (after the release on a stop).
    pub async fn close(&self) {
        self.pool.close().await;
    }

    /// This node is alive; `starting` resets when it started.
    pub async fn heartbeat(
        &self,
        node: &str,
        http_addr: &str,
        starting: bool,
    ) -> Result<(), sqlx::Error> {
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "INSERT INTO cluster_nodes AS n (node_id, started_ms, heartbeat_ms, http_addr)
             SELECT $1, ms, ms, $2 FROM (SELECT {NOW_MS} AS ms) t
             ON CONFLICT (node_id) DO UPDATE SET heartbeat_ms = excluded.heartbeat_ms,
               http_addr = excluded.http_addr,
               started_ms = CASE WHEN $3 THEN excluded.started_ms ELSE n.started_ms END"
        )))
        .bind(node)
        .bind(http_addr)
        .bind(starting)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Nodes heard from within `within`.
    pub async fn live_nodes(&self, within: Duration) -> Result<usize, sqlx::Error> {
        let row = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT COUNT(*) AS n FROM cluster_nodes WHERE heartbeat_ms >= {NOW_MS} - $1"
        )))
        .bind(ms(within))
        .fetch_one(&self.pool)
        .await?;
        Ok(row.try_get::<i64, _>("n")?.max(0) as usize)
    }

    /// Takes the switch's lease for `ttl` if nobody holds it or its holder
    /// let it expire; a takeover bumps the token, which fences the holder
    /// before.
    pub async fn acquire(
        &self,
        switch: &str,
        node: &str,
        ttl: Duration,
    ) -> Result<Reply, sqlx::Error> {
        let row = sqlx::query(sqlx::AssertSqlSafe(format!(
            "INSERT INTO switch_leases AS l (switch_name, node_id, token, acquired_ms, renewed_ms, expires_ms)
             SELECT $1, $2, 1, ms, ms, ms + $3 FROM (SELECT {NOW_MS} AS ms) t
             ON CONFLICT (switch_name) DO UPDATE SET node_id = excluded.node_id,
               token = l.token + 1, acquired_ms = excluded.acquired_ms,
               renewed_ms = excluded.renewed_ms, expires_ms = excluded.expires_ms
             WHERE l.expires_ms < excluded.acquired_ms
             RETURNING token"
        )))
        .bind(switch)
        .bind(node)
        .bind(ms(ttl))
        .fetch_optional(&self.pool)
        .await?;
        granted(row)
    }

    /// Extends the lease held under `token`, if it has not expired (past
    /// its expiry this node has let go by its own clock, and takes it
    /// afresh).
    pub async fn renew(
        &self,
        switch: &str,
        node: &str,
        token: i64,
        ttl: Duration,
    ) -> Result<Reply, sqlx::Error> {
        let row = sqlx::query(sqlx::AssertSqlSafe(format!(
            "UPDATE switch_leases AS l SET renewed_ms = t.ms, expires_ms = t.ms + $4
             FROM (SELECT {NOW_MS} AS ms) t
             WHERE l.switch_name = $1 AND l.node_id = $2 AND l.token = $3 AND l.expires_ms >= t.ms
             RETURNING l.token"
        )))
        .bind(switch)
        .bind(node)
        .bind(token)
        .bind(ms(ttl))
        .fetch_optional(&self.pool)
        .await?;
        granted(row)
    }

    /// Ends the lease at once, for the next node to take (a shutdown).
    pub async fn release(&self, switch: &str, node: &str, token: i64) -> Result<(), sqlx::Error> {
        sqlx::query(
            "UPDATE switch_leases SET expires_ms = 0
             WHERE switch_name = $1 AND node_id = $2 AND token = $3",
        )
        .bind(switch)
        .bind(node)
        .bind(token)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    pub async fn nodes(&self) -> Result<Vec<NodeRow>, sqlx::Error> {
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT node_id, started_ms, heartbeat_ms, http_addr, {NOW_MS} - heartbeat_ms AS silent_ms
             FROM cluster_nodes ORDER BY node_id"
        )))
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(NodeRow {
                    node_id: r.try_get("node_id")?,
                    started_ms: r.try_get("started_ms")?,
                    heartbeat_ms: r.try_get("heartbeat_ms")?,
                    http_addr: r.try_get("http_addr")?,
                    silent_ms: r.try_get("silent_ms")?,
                })
            })
            .collect()
    }

    pub async fn leases(&self) -> Result<Vec<LeaseRow>, sqlx::Error> {
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT switch_name, node_id, token, acquired_ms, expires_ms,
               expires_ms - {NOW_MS} AS expires_in_ms
             FROM switch_leases ORDER BY switch_name"
        )))
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(LeaseRow {
                    switch_name: r.try_get("switch_name")?,
                    node_id: r.try_get("node_id")?,
                    token: r.try_get("token")?,
                    acquired_ms: r.try_get("acquired_ms")?,
                    expires_ms: r.try_get("expires_ms")?,
                    expires_in_ms: r.try_get("expires_in_ms")?,
                })
            })
            .collect()
    }
}

fn granted(row: Option<sqlx::postgres::PgRow>) -> Result<Reply, sqlx::Error> {
    match row {
        Some(r) => Ok(Reply::Granted(r.try_get("token")?)),
        None => Ok(Reply::Refused),
    }
}

fn ms(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}
