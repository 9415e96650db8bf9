//! sqlx errors told apart into failure kinds, with only the parts of a
//! database's message that cannot quote a customer's value.

use super::Phase;
use crate::customer::source::{FailureKind, SourceError};
use sqlx::error::DatabaseError;
use sqlx::mysql::MySqlDatabaseError;
use sqlx::postgres::PgDatabaseError;
use sqlx::sqlite::SqliteError;

pub(super) fn classify(e: &sqlx::Error, phase: Phase) -> SourceError {
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
