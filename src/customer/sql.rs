//! The SQL source driver: one configured query against PostgreSQL,
//! MySQL/MariaDB or SQLite, its placeholders bound to the lookup's
//! parameters, its rows turned into JSON.
//!
//! The query text is the operator's, fixed at load time; customer values
//! only ever travel as bound parameters.

mod cells;
mod errors;
mod location;
mod placeholders;
#[cfg(test)]
mod tests;

use super::config::{SourceConfig, SourceRole};
use super::source::{FailureKind, Query, Raw, SourceDriver, SourceError, known_param};
use async_trait::async_trait;
use cells::{CellError, mysql_cell, pg_cell, row_to_json, sqlite_cell};
use errors::classify;
use futures::TryStreamExt;
use location::redact_url;
use placeholders::placeholder_count;
use serde_json::{Map, Value};
use sqlx::mysql::{MySql, MySqlConnectOptions};
use sqlx::pool::PoolOptions;
use sqlx::postgres::{PgConnectOptions, Postgres};
use sqlx::sqlite::{Sqlite, SqliteConnectOptions};
use sqlx::{AssertSqlSafe, Database, Encode, Executor, Pool, Type};
use std::str::FromStr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;
use tokio::time::Instant;

/// A history query answering more rows than this is refused: without a
/// LIMIT it would pull a whole table into memory for one pop.
pub const MAX_HISTORY_ROWS: usize = 10_000;

/// One `kind = "sql"` source.
pub struct SqlSource {
    pool: Backend,
    sql: Arc<str>,
    params: Vec<Param>,
    role: SourceRole,
    timeout: Duration,
    max_connections: u32,
    /// Connections checked out by fetches right now: tells "every
    /// connection was busy" from "no connection could be opened" when the
    /// pool gives up waiting.
    busy: Arc<AtomicU32>,
    location: String,
}

enum Backend {
    Postgres(Pool<Postgres>),
    MySql(Pool<MySql>),
    Sqlite(Pool<Sqlite>),
}

/// The SQL dialect, for placeholder counting.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Dialect {
    Postgres,
    MySql,
    Sqlite,
}

struct Param {
    name: String,
    integer: bool,
}

enum Bind {
    Int(Option<i64>),
    Text(Option<String>),
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Phase {
    Connect,
    Query,
}

impl SqlSource {
    /// Checks the source's `url`, `query` and `params` and prepares the
    /// pool; no connection is opened until the first fetch, so that the
    /// daemon starts while a database is down. Must be called inside a
    /// Tokio runtime (the pool runs its upkeep there). The error names the
    /// offending key.
    pub fn new(cfg: &SourceConfig) -> Result<SqlSource, String> {
        let url = cfg
            .url
            .as_deref()
            .map(str::trim)
            .filter(|u| !u.is_empty())
            .ok_or("url: is missing (the database URL)")?;
        let dialect = if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Dialect::Postgres
        } else if url.starts_with("mysql://") || url.starts_with("mariadb://") {
            Dialect::MySql
        } else if url.starts_with("sqlite:") {
            Dialect::Sqlite
        } else {
            return Err(
                "url: must start with postgres://, postgresql://, mysql://, mariadb:// or sqlite:"
                    .into(),
            );
        };
        let sql = cfg
            .query
            .as_deref()
            .filter(|q| !q.trim().is_empty())
            .ok_or("query: is missing or empty")?;
        if cfg.max_connections == 0 {
            return Err("max_connections: must be at least 1".into());
        }
        if cfg.timeout_ms == 0 {
            return Err("timeout_ms: must be more than 0".into());
        }
        if let Some(p) = cfg.params.iter().find(|p| !known_param(p)) {
            return Err(format!(
                "params: unknown parameter `{p}` (known: customer_id, phone, phone_raw, email, \
                 campaign_id, task_id, limit, offset, cursor, var.NAME)"
            ));
        }
        let wanted = placeholder_count(sql, dialect).map_err(|e| format!("query: {e}"))?;
        if wanted != cfg.params.len() {
            let how = match dialect {
                Dialect::Postgres => format!("its highest placeholder is ${wanted}"),
                _ => format!("it has {wanted} placeholder(s)"),
            };
            return Err(format!(
                "params: the query takes {wanted} parameter(s) ({how}) but params lists {}",
                cfg.params.len()
            ));
        }
        if tokio::runtime::Handle::try_current().is_err() {
            return Err("url: the connection pool needs a Tokio runtime to run in".into());
        }

        let timeout = cfg.timeout();
        let pool = match dialect {
            Dialect::Postgres => {
                let opts = PgConnectOptions::from_str(url).map_err(url_error)?;
                Backend::Postgres(pool_options(cfg).connect_lazy_with(opts))
            }
            Dialect::MySql => {
                let url = match url.strip_prefix("mariadb://") {
                    Some(rest) => format!("mysql://{rest}"),
                    None => url.to_string(),
                };
                let opts = MySqlConnectOptions::from_str(&url).map_err(url_error)?;
                Backend::MySql(pool_options(cfg).connect_lazy_with(opts))
            }
            Dialect::Sqlite => {
                let opts = SqliteConnectOptions::from_str(url).map_err(url_error)?;
                Backend::Sqlite(pool_options(cfg).connect_lazy_with(opts))
            }
        };
        Ok(SqlSource {
            pool,
            sql: Arc::from(sql),
            params: cfg
                .params
                .iter()
                .map(|name| Param {
                    name: name.clone(),
                    integer: matches!(name.as_str(), "limit" | "offset" | "task_id"),
                })
                .collect(),
            role: cfg.role,
            timeout,
            max_connections: cfg.max_connections,
            busy: Arc::new(AtomicU32::new(0)),
            location: redact_url(url),
        })
    }

    fn binds(&self, q: &Query<'_>) -> Result<Vec<Bind>, SourceError> {
        self.params
            .iter()
            .map(|p| {
                let value = q.param(&p.name);
                if !p.integer {
                    return Ok(Bind::Text(value.map(|v| v.into_owned())));
                }
                match value {
                    None => Ok(Bind::Int(None)),
                    Some(v) => v
                        .trim()
                        .parse::<i64>()
                        .map(|n| Bind::Int(Some(n)))
                        .map_err(|_| {
                            SourceError::new(
                                FailureKind::Mapping,
                                format!("parameter {} is not a 64-bit integer", p.name),
                            )
                        }),
                }
            })
            .collect()
    }

    fn acquire_timed_out(&self) -> SourceError {
        let ms = self.timeout.as_millis();
        if self.busy.load(Ordering::Relaxed) >= self.max_connections {
            SourceError::new(
                FailureKind::Timeout,
                format!(
                    "all {} connections stayed busy for {ms} ms",
                    self.max_connections
                ),
            )
        } else {
            // The pool had room for a connection but could not open one in
            // time: it keeps retrying a refused connect until its deadline,
            // so a database that is down ends here, not in an I/O error.
            SourceError::new(
                FailureKind::Connect,
                format!("no connection could be opened within {ms} ms (refused or not answering)"),
            )
        }
    }

    async fn run<DB>(
        &self,
        pool: &Pool<DB>,
        binds: Vec<Bind>,
        deadline: Instant,
        cell: fn(&DB::Row, usize) -> Result<Value, CellError>,
    ) -> Result<Vec<Map<String, Value>>, SourceError>
    where
        DB: Database,
        for<'c> &'c mut DB::Connection: Executor<'c, Database = DB>,
        for<'q> Option<i64>: Encode<'q, DB> + Type<DB>,
        for<'q> Option<String>: Encode<'q, DB> + Type<DB>,
        DB::Arguments: sqlx::IntoArguments<DB>,
    {
        let mut conn = match tokio::time::timeout_at(deadline, pool.acquire()).await {
            Ok(Ok(conn)) => conn,
            Ok(Err(sqlx::Error::PoolTimedOut)) | Err(_) => return Err(self.acquire_timed_out()),
            Ok(Err(e)) => return Err(classify(&e, Phase::Connect)),
        };
        let _busy = Busy::enter(&self.busy);

        // The SQL is the operator's configured text, checked at load time;
        // nothing from a lookup is ever spliced into it.
        let mut query = sqlx::query::<DB>(AssertSqlSafe(self.sql.clone()));
        for b in binds {
            query = match b {
                Bind::Int(v) => query.bind(v),
                Bind::Text(v) => query.bind(v),
            };
        }
        let role = self.role;
        let collect = async {
            let mut out = Vec::new();
            let mut rows = query.fetch(&mut *conn);
            while let Some(row) = rows
                .try_next()
                .await
                .map_err(|e| classify(&e, Phase::Query))?
            {
                if out.len() == MAX_HISTORY_ROWS {
                    return Err(SourceError::new(
                        FailureKind::TooLarge,
                        format!(
                            "the query answered more than {MAX_HISTORY_ROWS} rows \
                             (page it with LIMIT/OFFSET and the limit/offset params)"
                        ),
                    ));
                }
                out.push(row_to_json(&row, cell)?);
                if role == SourceRole::Record {
                    break;
                }
            }
            Ok(out)
        };
        match tokio::time::timeout_at(deadline, collect).await {
            Ok(r) => r,
            Err(_) => {
                // The statement may still be running on the server: the
                // connection must not go back to the pool and make the
                // next fetch wait for it.
                conn.close_on_drop();
                Err(SourceError::new(
                    FailureKind::Timeout,
                    format!("the query took longer than {} ms", self.timeout.as_millis()),
                ))
            }
        }
    }
}

fn pool_options<DB: Database>(cfg: &SourceConfig) -> PoolOptions<DB> {
    PoolOptions::<DB>::new()
        .max_connections(cfg.max_connections)
        .acquire_timeout(cfg.timeout())
}

fn url_error(e: sqlx::Error) -> String {
    match e {
        sqlx::Error::Configuration(inner) => format!("url: {inner}"),
        other => format!("url: {other}"),
    }
}

#[async_trait]
impl SourceDriver for SqlSource {
    async fn fetch(&self, q: &Query<'_>) -> Result<Raw, SourceError> {
        let binds = self.binds(q)?;
        let deadline = Instant::now() + self.timeout;
        let rows = match &self.pool {
            Backend::Postgres(p) => self.run(p, binds, deadline, pg_cell).await?,
            Backend::MySql(p) => self.run(p, binds, deadline, mysql_cell).await?,
            Backend::Sqlite(p) => self.run(p, binds, deadline, sqlite_cell).await?,
        };
        answer(self.role, rows)
    }

    fn describe(&self) -> String {
        self.location.clone()
    }
}

fn answer(role: SourceRole, rows: Vec<Map<String, Value>>) -> Result<Raw, SourceError> {
    let doc = match role {
        SourceRole::Record => match rows.into_iter().next() {
            Some(row) => Value::Object(row),
            None => return Ok(Raw::NotFound { raw: String::new() }),
        },
        SourceRole::History => Value::Array(rows.into_iter().map(Value::Object).collect()),
    };
    let raw = serde_json::to_string(&doc)
        .map_err(|e| SourceError::new(FailureKind::Json, format!("rows to JSON: {e}")))?;
    Ok(Raw::Found { doc, raw })
}

/// Counts a checked-out connection for as long as it lives.
struct Busy(Arc<AtomicU32>);

impl Busy {
    fn enter(counter: &Arc<AtomicU32>) -> Busy {
        counter.fetch_add(1, Ordering::Relaxed);
        Busy(counter.clone())
    }
}

impl Drop for Busy {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}
