//! Rows to JSON: each backend's column types read and turned into JSON
//! values, so that a record or history document is the same whatever
//! database it came from.

use crate::customer::source::{FailureKind, SourceError};
use chrono::{DateTime, NaiveDate, NaiveDateTime, NaiveTime, SecondsFormat, Utc};
use rust_decimal::Decimal;
use serde_json::{Map, Value};
use sqlx::mysql::types::MySqlTime;
use sqlx::mysql::{MySql, MySqlRow};
use sqlx::postgres::types::Oid;
use sqlx::postgres::{PgRow, PgTypeKind, PgValueFormat};
use sqlx::sqlite::SqliteRow;
use sqlx::{Column, Row, Type, TypeInfo, ValueRef};

/// Why one column's value could not be turned into JSON: names the type,
/// never the value.
#[derive(Debug)]
pub(super) enum CellError {
    Unsupported(String),
    Decode(String, &'static str),
}

pub(super) fn row_to_json<R: Row>(
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

pub(super) fn pg_cell(row: &PgRow, i: usize) -> Result<Value, CellError> {
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

pub(super) fn mysql_cell(row: &MySqlRow, i: usize) -> Result<Value, CellError> {
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

pub(super) fn sqlite_cell(row: &SqliteRow, i: usize) -> Result<Value, CellError> {
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
