//! The SQL source driver: one configured query against PostgreSQL,
//! MySQL/MariaDB or SQLite, its placeholders bound to the lookup's
//! parameters, its rows turned into JSON.
//!
//! The query text is the operator's, fixed at load time; customer values
//! only ever travel as bound parameters.

use super::config::{SourceConfig, SourceRole};
use super::source::{FailureKind, Query, Raw, SourceDriver, SourceError, known_param};
use async_trait::async_trait;
use chrono::{DateTime, NaiveDate, NaiveDateTime, NaiveTime, SecondsFormat, Utc};
use futures::TryStreamExt;
use rust_decimal::Decimal;
use serde_json::{Map, Value};
use sqlx::error::DatabaseError;
use sqlx::mysql::types::MySqlTime;
use sqlx::mysql::{MySql, MySqlConnectOptions, MySqlDatabaseError, MySqlRow};
use sqlx::pool::PoolOptions;
use sqlx::postgres::types::Oid;
use sqlx::postgres::{
    PgConnectOptions, PgDatabaseError, PgRow, PgTypeKind, PgValueFormat, Postgres,
};
use sqlx::sqlite::{Sqlite, SqliteConnectOptions, SqliteError, SqliteRow};
use sqlx::{
    AssertSqlSafe, Column, Database, Encode, Executor, Pool, Row, Type, TypeInfo, ValueRef,
};
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

// ---------------------------------------------------------------------------
// Rows to JSON

/// Why one column's value could not be turned into JSON: names the type,
/// never the value.
#[derive(Debug)]
enum CellError {
    Unsupported(String),
    Decode(String, &'static str),
}

fn row_to_json<R: Row>(
    row: &R,
    cell: fn(&R, usize) -> Result<Value, CellError>,
) -> Result<Map<String, Value>, SourceError> {
    let mut out = Map::with_capacity(row.len());
    for (i, col) in row.columns().iter().enumerate() {
        let v = cell(row, i).map_err(|e| {
            let detail = match e {
                CellError::Unsupported(ty) => format!(
                    "column `{}` has type {ty}, which dialpop does not convert; \
                     cast it in the query (to text, or to JSON)",
                    col.name()
                ),
                CellError::Decode(ty, why) => {
                    format!(
                        "column `{}` ({ty}): the value could not be read{why}",
                        col.name()
                    )
                }
            };
            SourceError::new(FailureKind::Database, detail)
        })?;
        out.insert(col.name().to_string(), v);
    }
    Ok(out)
}

/// Decodes column `$i` of `$row` as `$t` and converts it with `$conv`;
/// the caller has already answered NULL.
macro_rules! cell {
    ($row:expr, $i:expr, $t:ty, $conv:expr) => {
        $row.try_get::<$t, _>($i).map($conv)
    };
}

fn int(v: impl Into<serde_json::Number>) -> Value {
    Value::Number(v.into())
}

fn float(v: f64) -> Value {
    // JSON has no NaN or infinity: those travel as PostgreSQL spells them.
    match serde_json::Number::from_f64(v) {
        Some(n) => Value::Number(n),
        None if v.is_nan() => Value::String("NaN".into()),
        None if v > 0.0 => Value::String("Infinity".into()),
        None => Value::String("-Infinity".into()),
    }
}

fn float32(v: f32) -> Value {
    // Widening the bits would show 1.1 as 1.100000023841858; the shortest
    // decimal that reads back as the same f32 is what the database meant.
    float(v.to_string().parse::<f64>().unwrap_or(f64::from(v)))
}

fn decimal(v: Decimal) -> Value {
    // As a string: a JSON number would go through f64 and lose cents.
    Value::String(v.to_string())
}

fn date(v: NaiveDate) -> Value {
    Value::String(v.format("%Y-%m-%d").to_string())
}

fn time(v: NaiveTime) -> Value {
    Value::String(v.format("%H:%M:%S%.f").to_string())
}

fn naive_timestamp(v: NaiveDateTime) -> Value {
    Value::String(v.format("%Y-%m-%dT%H:%M:%S%.f").to_string())
}

fn utc_timestamp(v: DateTime<Utc>) -> Value {
    Value::String(v.to_rfc3339_opts(SecondsFormat::AutoSi, true))
}

fn bytes(v: Vec<u8>) -> Value {
    Value::String(hex::encode(v))
}

const NUMERIC_HINT: &str = " (more than 28 significant digits, NaN or infinity: cast it to text)";
const DATE_HINT: &str = " (out of range, or a partial zero date: cast it to text)";

fn pg_cell(row: &PgRow, i: usize) -> Result<Value, CellError> {
    let raw = row
        .try_get_raw(i)
        .map_err(|_| CellError::Decode("?".into(), ""))?;
    if raw.is_null() {
        return Ok(Value::Null);
    }
    let ty = raw.type_info().into_owned();
    let name = ty.name();
    let mut hint = "";
    let v = match name {
        "BOOL" => cell!(row, i, bool, Value::Bool),
        "INT2" => cell!(row, i, i16, int),
        "INT4" => cell!(row, i, i32, int),
        "INT8" => cell!(row, i, i64, int),
        "OID" => cell!(row, i, Oid, |o| int(o.0)),
        "FLOAT4" => cell!(row, i, f32, float32),
        "FLOAT8" => cell!(row, i, f64, float),
        "NUMERIC" => {
            hint = NUMERIC_HINT;
            cell!(row, i, Decimal, decimal)
        }
        "TEXT" | "VARCHAR" | "CHAR" | "NAME" | "UNKNOWN" => cell!(row, i, String, Value::String),
        // sqlx's chrono decoders panic on PostgreSQL's infinities and on
        // dates beyond chrono's range: these are read from the wire here.
        "DATE" | "TIME" | "TIMESTAMP" | "TIMESTAMPTZ" => {
            return pg_datetime(&raw, name)
                .ok_or_else(|| CellError::Decode(name.to_string(), DATE_HINT));
        }
        "JSON" | "JSONB" => cell!(row, i, Value, |v| v),
        "BYTEA" => cell!(row, i, Vec<u8>, bytes),
        "VOID" => Ok(Value::Null),
        "UUID" => {
            // Read from the wire form, so that sqlx's `uuid` feature is not
            // needed: 16 bytes in binary results, the text form otherwise.
            let text = match raw.format() {
                PgValueFormat::Binary => raw
                    .as_bytes()
                    .ok()
                    .and_then(|b| uuid::Uuid::from_slice(b).ok())
                    .map(|u| u.to_string()),
                PgValueFormat::Text => raw.as_str().ok().map(str::to_string),
            };
            return text
                .map(Value::String)
                .ok_or_else(|| CellError::Decode(name.to_string(), ""));
        }
        // Enum labels (and citext) travel as text in both wire formats.
        _ if matches!(ty.kind(), PgTypeKind::Enum(_)) || name.eq_ignore_ascii_case("citext") => {
            return raw
                .as_str()
                .map(|s| Value::String(s.to_string()))
                .map_err(|_| CellError::Decode(name.to_string(), ""));
        }
        _ => return Err(CellError::Unsupported(name.to_string())),
    };
    v.map_err(|_| CellError::Decode(name.to_string(), hint))
}

/// A PostgreSQL DATE, TIME, TIMESTAMP or TIMESTAMPTZ as JSON; `None` when
/// it cannot be represented.
fn pg_datetime(raw: &sqlx::postgres::PgValueRef<'_>, name: &str) -> Option<Value> {
    if raw.format() == PgValueFormat::Text {
        return raw.as_str().ok().map(|s| Value::String(s.to_string()));
    }
    let b = raw.as_bytes().ok()?;
    // The binary forms count from 2000-01-01 (days for DATE, microseconds
    // otherwise); the extreme values stand for ±infinity.
    let epoch = NaiveDate::from_ymd_opt(2000, 1, 1)?;
    if name == "DATE" {
        let days = i32::from_be_bytes(b.try_into().ok()?);
        return Some(match days {
            i32::MAX => Value::String("infinity".into()),
            i32::MIN => Value::String("-infinity".into()),
            d => date(epoch.checked_add_signed(chrono::TimeDelta::try_days(d.into())?)?),
        });
    }
    let us = i64::from_be_bytes(b.try_into().ok()?);
    if name == "TIME" {
        let secs = u32::try_from(us.div_euclid(1_000_000)).ok()?;
        let nanos = u32::try_from(us.rem_euclid(1_000_000) * 1000).ok()?;
        // PostgreSQL allows 24:00:00; chrono has no such time of day.
        if secs == 86_400 && nanos == 0 {
            return Some(Value::String("24:00:00".into()));
        }
        return NaiveTime::from_num_seconds_from_midnight_opt(secs, nanos).map(time);
    }
    match us {
        i64::MAX => Some(Value::String("infinity".into())),
        i64::MIN => Some(Value::String("-infinity".into())),
        us => {
            let at = epoch
                .and_hms_opt(0, 0, 0)?
                .checked_add_signed(chrono::TimeDelta::microseconds(us))?;
            Some(if name == "TIMESTAMPTZ" {
                utc_timestamp(at.and_utc())
            } else {
                naive_timestamp(at)
            })
        }
    }
}

fn mysql_cell(row: &MySqlRow, i: usize) -> Result<Value, CellError> {
    let raw = row
        .try_get_raw(i)
        .map_err(|_| CellError::Decode("?".into(), ""))?;
    if raw.is_null() {
        return Ok(Value::Null);
    }
    let ty = raw.type_info().into_owned();
    let name = ty.name();
    let mut hint = "";
    let v = match name {
        // TINYINT(1) is reported as BOOLEAN but may hold any small number:
        // it stays a number.
        "BOOLEAN" | "TINYINT" | "SMALLINT" | "MEDIUMINT" | "INT" | "BIGINT" | "YEAR" | "BIT"
        | "TINYINT UNSIGNED" | "SMALLINT UNSIGNED" | "MEDIUMINT UNSIGNED" | "INT UNSIGNED"
        | "BIGINT UNSIGNED" => {
            if <u64 as Type<MySql>>::compatible(&ty) {
                cell!(row, i, u64, int)
            } else if <i64 as Type<MySql>>::compatible(&ty) {
                cell!(row, i, i64, int)
            } else {
                // YEAR and BIT are unsigned on the wire whatever their flags.
                row.try_get_unchecked::<u64, _>(i).map(int)
            }
        }
        "FLOAT" => cell!(row, i, f32, float32),
        "DOUBLE" => cell!(row, i, f64, float),
        "DECIMAL" => {
            hint = NUMERIC_HINT;
            cell!(row, i, Decimal, decimal)
        }
        // A zero date ('0000-00-00') is MySQL's "no date": null.
        "DATE" => {
            hint = DATE_HINT;
            zero_date_is_null(cell!(row, i, NaiveDate, date))
        }
        "DATETIME" => {
            hint = DATE_HINT;
            zero_date_is_null(cell!(row, i, NaiveDateTime, naive_timestamp))
        }
        // sqlx sets the session time zone to UTC, so TIMESTAMP values
        // arrive in UTC.
        "TIMESTAMP" => {
            hint = DATE_HINT;
            zero_date_is_null(cell!(row, i, DateTime<Utc>, utc_timestamp))
        }
        "TIME" => cell!(row, i, MySqlTime, mysql_time),
        "JSON" => cell!(row, i, Value, |v| v),
        "NULL" => Ok(Value::Null),
        "CHAR" | "VARCHAR" | "TEXT" | "TINYTEXT" | "MEDIUMTEXT" | "LONGTEXT" | "ENUM" | "SET"
        | "BINARY" | "VARBINARY" | "BLOB" | "TINYBLOB" | "MEDIUMBLOB" | "LONGBLOB" => {
            // The type name follows the BINARY flag, which a text column
            // with a `_bin` collation also carries: the collation tells
            // text from bytes.
            if <str as Type<MySql>>::compatible(&ty) {
                cell!(row, i, String, Value::String)
            } else {
                cell!(row, i, Vec<u8>, bytes)
            }
        }
        _ => return Err(CellError::Unsupported(name.to_string())),
    };
    v.map_err(|_| CellError::Decode(name.to_string(), hint))
}

fn zero_date_is_null(r: Result<Value, sqlx::Error>) -> Result<Value, sqlx::Error> {
    match r {
        Err(sqlx::Error::ColumnDecode { source, .. })
            if source.is::<sqlx::error::UnexpectedNullError>() =>
        {
            Ok(Value::Null)
        }
        other => other,
    }
}

fn mysql_time(t: MySqlTime) -> Value {
    if t.is_valid_time_of_day() {
        let mut s = format!("{:02}:{:02}:{:02}", t.hours(), t.minutes(), t.seconds());
        if t.microseconds() != 0 {
            s.push_str(&format!(".{:06}", t.microseconds()));
        }
        Value::String(s)
    } else {
        // A duration (negative, or 24 hours and more): MySQL's own form.
        Value::String(t.to_string())
    }
}

fn sqlite_cell(row: &SqliteRow, i: usize) -> Result<Value, CellError> {
    let raw = row
        .try_get_raw(i)
        .map_err(|_| CellError::Decode("?".into(), ""))?;
    if raw.is_null() {
        return Ok(Value::Null);
    }
    // SQLite types values, not columns: the storage class decides, except
    // that a column declared BOOLEAN answers true/false.
    let ty = raw.type_info().into_owned();
    let name = ty.name();
    let v = match name {
        "INTEGER" => {
            let declared_bool = row
                .columns()
                .get(i)
                .is_some_and(|c| c.type_info().name() == "BOOLEAN");
            if declared_bool {
                cell!(row, i, i64, |n| Value::Bool(n != 0))
            } else {
                cell!(row, i, i64, int)
            }
        }
        "REAL" => cell!(row, i, f64, float),
        "TEXT" => cell!(row, i, String, Value::String),
        "BLOB" => cell!(row, i, Vec<u8>, bytes),
        _ => return Err(CellError::Unsupported(name.to_string())),
    };
    v.map_err(|_| CellError::Decode(name.to_string(), ""))
}

// ---------------------------------------------------------------------------
// Errors

fn classify(e: &sqlx::Error, phase: Phase) -> SourceError {
    use sqlx::Error as E;
    match e {
        E::Database(db) => database_error(db.as_ref()),
        E::Io(io) => io_error(io, phase),
        E::Tls(t) => SourceError::new(FailureKind::Tls, format!("TLS: {t}")),
        E::PoolTimedOut => SourceError::new(FailureKind::Timeout, "no connection in time"),
        E::PoolClosed => SourceError::new(FailureKind::Connect, "the connection pool is closed"),
        E::Configuration(c) => SourceError::new(
            FailureKind::Connect,
            format!("connection settings refused: {c}"),
        ),
        E::Protocol(p) => {
            let kind = match phase {
                Phase::Connect => FailureKind::Connect,
                Phase::Query => FailureKind::Database,
            };
            SourceError::new(
                kind,
                format!("protocol error (is that the right server?): {p}"),
            )
        }
        E::TypeNotFound { type_name } => {
            SourceError::new(FailureKind::Database, format!("type {type_name} not found"))
        }
        E::WorkerCrashed => {
            SourceError::new(FailureKind::Database, "the SQLite worker thread crashed")
        }
        // Decode and encode errors, and the rest, can carry values in
        // their messages: only their kind is told.
        E::ColumnDecode { .. } | E::Decode(_) => {
            SourceError::new(FailureKind::Database, "a value could not be decoded")
        }
        E::Encode(_) => SourceError::new(FailureKind::Database, "a parameter could not be encoded"),
        _ => SourceError::new(FailureKind::Database, "the driver failed (sqlx)"),
    }
}

fn io_error(io: &std::io::Error, phase: Phase) -> SourceError {
    use std::io::ErrorKind as K;
    if phase == Phase::Query {
        return SourceError::new(
            FailureKind::Database,
            format!("the connection failed during the query: {}", io.kind()),
        );
    }
    // std reports a failed getaddrinfo with this wording and no distinct
    // ErrorKind.
    let text = io.to_string();
    if text.contains("failed to lookup address") || text.contains("Name or service not known") {
        return SourceError::new(
            FailureKind::Dns,
            format!("the host name did not resolve: {text}"),
        );
    }
    // rustls's errors reach sqlx wrapped in an io::Error (InvalidData);
    // rustls is not a direct dependency, so they are told by their wording.
    let lower = text.to_ascii_lowercase();
    if ["certificate", "handshake", "tls", "alert"]
        .iter()
        .any(|w| lower.contains(w))
    {
        return SourceError::new(FailureKind::Tls, format!("TLS: {text}"));
    }
    let kind = match io.kind() {
        K::TimedOut => FailureKind::Timeout,
        _ => FailureKind::Connect,
    };
    SourceError::new(kind, format!("connect: {text}"))
}

fn database_error(db: &dyn DatabaseError) -> SourceError {
    if let Some(pg) = db.try_downcast_ref::<PgDatabaseError>() {
        let code = pg.code();
        let class = code.get(..2).unwrap_or("");
        let kind = match (class, code) {
            ("28", _) => FailureKind::Auth,
            (_, "57014") => FailureKind::Timeout,
            ("08", _) | (_, "53300") | (_, "57P03") => FailureKind::Connect,
            _ => FailureKind::Database,
        };
        // Data exceptions (22), constraint violations (23), PL/pgSQL raises
        // (P0) and the like quote values; syntax, schema, login and
        // resource errors talk about the query and the server.
        let telling = matches!(
            class,
            "42" | "3D" | "3F" | "28" | "08" | "53" | "57" | "0A" | "25" | "40" | "54" | "55"
        );
        return with_message(kind, format!("PostgreSQL {code}"), pg.message(), telling);
    }
    if let Some(my) = db.try_downcast_ref::<MySqlDatabaseError>() {
        let number = my.number();
        let state = my.code().unwrap_or("HY000");
        let kind = match number {
            // Access denied (to the server, the database, for the plugin).
            1044 | 1045 | 1698 | 1251 => FailureKind::Auth,
            1040 | 1129 | 1130 => FailureKind::Connect,
            // max_statement_time (MariaDB), max_execution_time (MySQL).
            1969 | 3024 => FailureKind::Timeout,
            _ => FailureKind::Database,
        };
        let telling = matches!(state.get(..2), Some("42" | "3D" | "28" | "08"))
            || matches!(
                number,
                1044 | 1045 | 1049 | 1054 | 1064 | 1142 | 1143 | 1146 | 1040 | 1698 | 1969 | 3024
            );
        return with_message(
            kind,
            format!("MySQL {number} ({state})"),
            my.message(),
            telling,
        );
    }
    if let Some(lite) = db.try_downcast_ref::<SqliteError>() {
        let code = lite.code().map(|c| c.into_owned()).unwrap_or_default();
        let primary = code.parse::<i32>().map(|c| c & 0xff).unwrap_or(-1);
        let kind = match primary {
            // SQLITE_CANTOPEN: the file is missing or not readable.
            14 => FailureKind::Connect,
            // SQLITE_AUTH
            23 => FailureKind::Auth,
            _ => FailureKind::Database,
        };
        // SQLite's messages name tables, columns and SQL text, not values.
        return with_message(kind, format!("SQLite {code}"), lite.message(), true);
    }
    SourceError::new(
        FailureKind::Database,
        format!("database error {}", db.code().unwrap_or_default()),
    )
}

fn with_message(kind: FailureKind, code: String, message: &str, telling: bool) -> SourceError {
    let detail = if telling {
        format!("{code}: {message}")
    } else {
        format!("{code} (message withheld: it may quote a value)")
    };
    SourceError::new(kind, detail)
}

// ---------------------------------------------------------------------------
// URLs and placeholders

/// The URL without its password: in the userinfo, and in any query
/// parameter whose name mentions one.
fn redact_url(url: &str) -> String {
    let (scheme, rest) = match url.find("://") {
        Some(i) => (&url[..i + 3], &url[i + 3..]),
        None => ("", url),
    };
    let (before_query, query) = match rest.find('?') {
        Some(i) => (&rest[..i], Some(&rest[i + 1..])),
        None => (rest, None),
    };
    let authority_end = before_query.find('/').unwrap_or(before_query.len());
    let (authority, path) = before_query.split_at(authority_end);
    let authority = match authority.rfind('@') {
        Some(at) => {
            let (userinfo, host) = authority.split_at(at);
            let user = userinfo.split(':').next().unwrap_or("");
            format!("{user}{host}")
        }
        None => authority.to_string(),
    };
    let mut out = format!("{scheme}{authority}{path}");
    if let Some(q) = query {
        let pairs: Vec<String> = q
            .split('&')
            .map(|pair| {
                let key = pair.split('=').next().unwrap_or("");
                if key.to_ascii_lowercase().contains("pass") {
                    format!("{key}=***")
                } else {
                    pair.to_string()
                }
            })
            .collect();
        out.push('?');
        out.push_str(&pairs.join("&"));
    }
    out
}

fn is_ident(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_' || b == b'$' || b >= 0x80
}

/// How many parameters the query takes: the highest `$n` for PostgreSQL,
/// the number of `?` for MySQL, either for SQLite (`?`, or `?NNN`/`$NNN`);
/// placeholders inside string literals, quoted identifiers and comments do
/// not count. Err for placeholders sqlx cannot bind (SQLite's named ones)
/// or a mix it would bind in a surprising order.
fn placeholder_count(sql: &str, d: Dialect) -> Result<usize, String> {
    let b = sql.as_bytes();
    let n = b.len();
    let mut i = 0;
    let mut highest = 0usize;
    let mut bare = 0usize;
    let at = |j: usize| b.get(j).copied().unwrap_or(0);
    while i < n {
        let c = b[i];
        match c {
            b'\'' => {
                let backslashes = match d {
                    Dialect::MySql => true,
                    // E'...' strings take backslash escapes.
                    Dialect::Postgres => {
                        i > 0 && matches!(b[i - 1], b'E' | b'e') && (i < 2 || !is_ident(b[i - 2]))
                    }
                    Dialect::Sqlite => false,
                };
                i = skip_quoted(b, i, b'\'', backslashes);
            }
            b'"' => i = skip_quoted(b, i, b'"', d == Dialect::MySql),
            b'`' if d != Dialect::Postgres => i = skip_quoted(b, i, b'`', false),
            b'[' if d == Dialect::Sqlite => {
                i = b[i..]
                    .iter()
                    .position(|&x| x == b']')
                    .map_or(n, |p| i + p + 1);
            }
            b'-' if at(i + 1) == b'-' && (d != Dialect::MySql || at(i + 2) <= b' ') => {
                i = b[i..]
                    .iter()
                    .position(|&x| x == b'\n')
                    .map_or(n, |p| i + p + 1);
            }
            b'#' if d == Dialect::MySql => {
                i = b[i..]
                    .iter()
                    .position(|&x| x == b'\n')
                    .map_or(n, |p| i + p + 1);
            }
            b'/' if at(i + 1) == b'*' => i = skip_block_comment(b, i, d == Dialect::Postgres),
            b'$' if d == Dialect::Postgres => {
                if i > 0 && is_ident(b[i - 1]) {
                    i += 1;
                } else if at(i + 1).is_ascii_digit() {
                    let (num, next) = digits(b, i + 1);
                    highest = highest.max(num);
                    i = next;
                } else {
                    i = skip_dollar_quoted(b, i);
                }
            }
            b'?' | b'$' if d == Dialect::Sqlite && at(i + 1).is_ascii_digit() => {
                let (num, next) = digits(b, i + 1);
                highest = highest.max(num);
                i = next;
            }
            b'?' if d != Dialect::Postgres => {
                bare += 1;
                i += 1;
            }
            b':' | b'@' | b'$'
                if d == Dialect::Sqlite
                    && (at(i + 1).is_ascii_alphabetic() || at(i + 1) == b'_')
                    && (i == 0 || !is_ident(b[i - 1])) =>
            {
                return Err(
                    "named placeholders (:name, @name, $name) cannot be bound: use ? or ?NNN"
                        .into(),
                );
            }
            _ => i += 1,
        }
    }
    if bare > 0 && highest > 0 {
        return Err("mixes ? with numbered placeholders: use one or the other".into());
    }
    Ok(highest.max(bare))
}

fn digits(b: &[u8], mut i: usize) -> (usize, usize) {
    let mut num = 0usize;
    while i < b.len() && b[i].is_ascii_digit() {
        num = num
            .saturating_mul(10)
            .saturating_add(usize::from(b[i] - b'0'));
        i += 1;
    }
    (num, i)
}

/// The index just past the literal opened at `start`; a doubled quote is
/// an escaped quote.
fn skip_quoted(b: &[u8], start: usize, quote: u8, backslashes: bool) -> usize {
    let mut i = start + 1;
    while i < b.len() {
        if backslashes && b[i] == b'\\' {
            i += 2;
        } else if b[i] == quote {
            if b.get(i + 1) == Some(&quote) {
                i += 2;
            } else {
                return i + 1;
            }
        } else {
            i += 1;
        }
    }
    b.len()
}

fn skip_block_comment(b: &[u8], start: usize, nested: bool) -> usize {
    let mut depth = 0usize;
    let mut i = start;
    while i + 1 < b.len() {
        if b[i] == b'/' && b[i + 1] == b'*' {
            if depth == 0 || nested {
                depth += 1;
            }
            i += 2;
        } else if b[i] == b'*' && b[i + 1] == b'/' {
            depth -= 1;
            i += 2;
            if depth == 0 {
                return i;
            }
        } else {
            i += 1;
        }
    }
    b.len()
}

/// Past a PostgreSQL dollar-quoted string (`$$...$$`, `$tag$...$tag$`)
/// opened at `start`, or one byte on if `$` does not open one.
fn skip_dollar_quoted(b: &[u8], start: usize) -> usize {
    let mut j = start + 1;
    while j < b.len() && b[j] != b'$' {
        if !(b[j].is_ascii_alphanumeric() || b[j] == b'_' || b[j] >= 0x80)
            || (j == start + 1 && b[j].is_ascii_digit())
        {
            return start + 1;
        }
        j += 1;
    }
    if j >= b.len() {
        return start + 1;
    }
    let tag = &b[start..=j];
    let body = j + 1;
    b[body..]
        .windows(tag.len())
        .position(|w| w == tag)
        .map_or(b.len(), |p| body + p + tag.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn postgres_placeholders_outside_literals_and_comments() {
        let pg = |s| placeholder_count(s, Dialect::Postgres).unwrap_or(usize::MAX);
        assert_eq!(pg("SELECT * FROM t WHERE id = $1"), 1);
        assert_eq!(pg("SELECT $2, $1"), 2);
        assert_eq!(pg("SELECT '$3' FROM t WHERE a = $1"), 1);
        assert_eq!(pg("SELECT \"a$3\", x$4 FROM t WHERE a = $1"), 1);
        assert_eq!(pg("SELECT 1 -- $9\n, $1"), 1);
        assert_eq!(pg("SELECT /* $9 /* $8 */ $7 */ $1"), 1);
        assert_eq!(pg("SELECT $$ $5 $$, $tag$ $6 $tag$, $1"), 1);
        assert_eq!(pg("SELECT E'it\\'s $4', $1"), 1);
        assert_eq!(pg("SELECT 'it''s $4', $2"), 2);
        assert_eq!(pg("SELECT a ? b FROM t"), 0);
    }

    #[test]
    fn mysql_and_sqlite_question_marks() {
        let my = |s| placeholder_count(s, Dialect::MySql).unwrap_or(usize::MAX);
        let lite = |s| placeholder_count(s, Dialect::Sqlite);
        assert_eq!(my("SELECT * FROM t WHERE a = ? AND b = ?"), 2);
        assert_eq!(
            my("SELECT '?', \"?\", `?`, 'it\\'s ?' FROM t WHERE a = ?"),
            1
        );
        assert_eq!(my("SELECT 1 # ?\n, ? -- ?\n, ? /* ? */"), 2);
        // `--` without a space is no comment in MySQL.
        assert_eq!(my("SELECT 1--?"), 1);
        assert_eq!(lite("SELECT ?, ?"), Ok(2));
        assert_eq!(lite("SELECT ?3, ?1, $2"), Ok(3));
        assert_eq!(lite("SELECT [?], '?', 'it''s ?', ?"), Ok(1));
        assert_eq!(lite("SELECT '12:30' AS t, \"a:b\", ?"), Ok(1));
        assert!(lite("SELECT ?2, ?").is_err());
        assert!(lite("SELECT * FROM t WHERE a = :phone").is_err());
        assert!(lite("SELECT @a").is_err());
    }

    #[test]
    fn described_urls_carry_no_password() {
        assert_eq!(
            redact_url("postgres://root:s3cret@127.0.0.1:5432/test"),
            "postgres://root@127.0.0.1:5432/test"
        );
        assert_eq!(
            redact_url("mysql://u:p@ss@db:3306/crm?password=x&ssl-mode=disabled"),
            "mysql://u@db:3306/crm?password=***&ssl-mode=disabled"
        );
        assert_eq!(
            redact_url("sqlite:/var/db.sqlite?mode=ro"),
            "sqlite:/var/db.sqlite?mode=ro"
        );
        assert_eq!(redact_url("postgres://db/x"), "postgres://db/x");
    }
}
