//! The store backends a test runs on: an SQLite file and the machine's real
//! PostgreSQL, in a new schema of the test's own each run. A
//! PostgreSQL that cannot be reached fails the test: never a silent skip.

use dialpop::store::Store;
use std::sync::Arc;

pub const PG_URL: &str = "postgres://postgres@127.0.0.1:5432/test";

pub struct Backend {
    pub name: &'static str,
    pub url: String,
    pub store: Arc<dyn Store>,
    _dir: Option<tempfile::TempDir>,
}

/// A fresh SQLite store in a directory of its own.
pub async fn sqlite() -> Backend {
    let dir = tempfile::tempdir().expect("temp dir");
    let url = format!("sqlite://{}", dir.path().join("store.db").display());
    let store = dialpop::store::open(&url)
        .await
        .expect("SQLite store opens");
    Backend {
        name: "sqlite",
        url,
        store,
        _dir: Some(dir),
    }
}

/// A fresh schema on the machine's PostgreSQL, and the store in it.
pub async fn postgres() -> Backend {
    let url = postgres_schema_url().await;
    let store = dialpop::store::open(&url)
        .await
        .unwrap_or_else(|e| panic!("PostgreSQL store opens at {url}: {e}"));
    Backend {
        name: "postgres",
        url,
        store,
        _dir: None,
    }
}

/// A URL whose connections use a new, empty schema.
pub async fn postgres_schema_url() -> String {
    use sqlx::Executor;
    let schema = format!("dialpop_t_{}", uuid::Uuid::new_v4().simple());
    let mut conn = <sqlx::PgConnection as sqlx::Connection>::connect(PG_URL)
        .await
        .unwrap_or_else(|e| {
            panic!("PostgreSQL at {PG_URL} is needed by this test and cannot be reached: {e}")
        });
    conn.execute(sqlx::AssertSqlSafe(format!("CREATE SCHEMA {schema}")))
        .await
        .expect("create schema");
    format!("{PG_URL}?options=-c%20search_path%3D{schema}")
}

pub async fn both() -> Vec<Backend> {
    vec![sqlite().await, postgres().await]
}
