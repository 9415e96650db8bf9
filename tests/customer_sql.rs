//! The SQL source driver against the real PostgreSQL (127.0.0.1:5432) and
//! MariaDB (127.0.0.1:3306) and against SQLite files: typed JSON, paging,
//! failures by kind, injection attempts, many fetches on a small pool.
//!
//! A database that is not there fails the test, naming it: these tests
//! never skip. Every table carries a per-test token, because other test
//! binaries share the databases and run at the same time.

use dialpop::customer::config::SourceConfig;
use dialpop::customer::sql::SqlSource;
use dialpop::customer::{FailureKind, Lookup, PageRequest, Query, Raw, SourceDriver, SourceError};
use serde_json::{Value, json};
use sqlx::mysql::{MySqlPool, MySqlPoolOptions};
use sqlx::postgres::{PgPool, PgPoolOptions};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePool};
use sqlx::{AssertSqlSafe, Row};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

const PG_URL: &str = "postgres://postgres@127.0.0.1:5432/test";
const MY_URL: &str = "mysql://root@127.0.0.1:3306/test";

// ---------------------------------------------------------------------------
// Helpers

fn token() -> String {
    static N: AtomicU32 = AtomicU32::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    format!(
        "{}_{}_{:x}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed),
        nanos
    )
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Kind {
    Pg,
    My,
    Lite,
}

enum Admin {
    Pg(PgPool),
    My(MySqlPool),
    Lite(SqlitePool, tempfile::TempDir),
}

/// One database to test against: an admin pool for setting up tables, and
/// the URL the source under test is given.
struct Db {
    kind: Kind,
    url: String,
    admin: Admin,
}

impl Db {
    async fn postgres() -> Db {
        let pool = PgPoolOptions::new()
            .acquire_timeout(Duration::from_secs(5))
            .connect(PG_URL)
            .await
            .unwrap_or_else(|e| {
                panic!("PostgreSQL at {PG_URL} is unreachable (these tests need it): {e}")
            });
        Db {
            kind: Kind::Pg,
            url: PG_URL.into(),
            admin: Admin::Pg(pool),
        }
    }

    async fn mariadb() -> Db {
        let pool = MySqlPoolOptions::new()
            .acquire_timeout(Duration::from_secs(5))
            .connect(MY_URL)
            .await
            .unwrap_or_else(|e| {
                panic!("MariaDB at {MY_URL} is unreachable (these tests need it): {e}")
            });
        Db {
            kind: Kind::My,
            url: MY_URL.into(),
            admin: Admin::My(pool),
        }
    }

    async fn sqlite() -> Db {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let path = dir.path().join("crm.sqlite");
        let opts = SqliteConnectOptions::new()
            .filename(&path)
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Delete);
        let pool = SqlitePool::connect_with(opts)
            .await
            .unwrap_or_else(|e| panic!("SQLite file {} cannot be created: {e}", path.display()));
        Db {
            kind: Kind::Lite,
            url: format!("sqlite://{}?mode=ro", path.display()),
            admin: Admin::Lite(pool, dir),
        }
    }

    /// The `n`th placeholder (1-based) in this database's syntax.
    fn ph(&self, n: usize) -> String {
        match self.kind {
            Kind::Pg => format!("${n}"),
            Kind::My | Kind::Lite => "?".into(),
        }
    }

    async fn exec(&self, sql: &str) {
        let sql = AssertSqlSafe(sql.to_string());
        let r = match &self.admin {
            Admin::Pg(p) => sqlx::raw_sql(sql).execute(p).await.map(drop),
            Admin::My(p) => sqlx::raw_sql(sql).execute(p).await.map(drop),
            Admin::Lite(p, _) => sqlx::raw_sql(sql).execute(p).await.map(drop),
        };
        r.unwrap_or_else(|e| panic!("setup statement failed on {:?}: {e}", self.kind));
    }

    /// Runs `sql` once per row of `rows`, each value bound as text.
    async fn insert_texts(&self, sql: &str, rows: &[Vec<String>]) {
        for row in rows {
            macro_rules! run {
                ($pool:expr) => {{
                    let mut q = sqlx::query(AssertSqlSafe(sql.to_string()));
                    for v in row {
                        q = q.bind(v.clone());
                    }
                    q.execute($pool).await.map(drop)
                }};
            }
            let r = match &self.admin {
                Admin::Pg(p) => run!(p),
                Admin::My(p) => run!(p),
                Admin::Lite(p, _) => run!(p),
            };
            r.unwrap_or_else(|e| panic!("insert failed on {:?}: {e}", self.kind));
        }
    }

    async fn count(&self, table: &str) -> i64 {
        let sql = AssertSqlSafe(format!("SELECT COUNT(*) AS n FROM {table}"));
        let r = match &self.admin {
            Admin::Pg(p) => sqlx::query(sql)
                .fetch_one(p)
                .await
                .map(|r| r.get::<i64, _>("n")),
            Admin::My(p) => sqlx::query(sql)
                .fetch_one(p)
                .await
                .map(|r| r.get::<i64, _>("n")),
            Admin::Lite(p, _) => sqlx::query(sql)
                .fetch_one(p)
                .await
                .map(|r| r.get::<i64, _>("n")),
        };
        r.unwrap_or_else(|e| panic!("counting {table} on {:?} failed: {e}", self.kind))
    }
}

fn config(toml_text: &str) -> SourceConfig {
    toml::from_str::<SourceConfig>(toml_text)
        .unwrap_or_else(|e| panic!("test config does not parse: {e}\n{toml_text}"))
}

fn source(toml_text: &str) -> SqlSource {
    SqlSource::new(&config(toml_text)).unwrap_or_else(|e| panic!("source refused: {e}"))
}

/// A `[[source]]` table for `db` with the given query and params.
fn source_toml(db: &Db, role: &str, query: &str, params: &[&str], extra: &str) -> String {
    let params: Vec<String> = params.iter().map(|p| format!("{p:?}")).collect();
    format!(
        "name = \"crm\"\nkind = \"sql\"\nrole = \"{role}\"\nurl = {url:?}\nquery = {query:?}\n\
         params = [{params}]\n{extra}\n",
        url = db.url,
        params = params.join(", ")
    )
}

fn by_id(id: &str) -> Lookup {
    Lookup {
        customer_id: Some(id.to_string()),
        ..Default::default()
    }
}

async fn fetch(src: &SqlSource, lookup: &Lookup) -> Result<Raw, SourceError> {
    let page = PageRequest::default();
    src.fetch(&Query {
        lookup,
        page: &page,
    })
    .await
}

async fn fetch_page(src: &SqlSource, lookup: &Lookup, limit: u32, offset: u64) -> Vec<Value> {
    let page = PageRequest {
        limit,
        offset,
        cursor: None,
    };
    match src
        .fetch(&Query {
            lookup,
            page: &page,
        })
        .await
    {
        Ok(Raw::Found {
            doc: Value::Array(rows),
            ..
        }) => rows,
        other => panic!("a history page should be an array, got {other:?}"),
    }
}

fn found(r: Result<Raw, SourceError>) -> (Value, String) {
    match r {
        Ok(Raw::Found { doc, raw }) => (doc, raw),
        other => panic!("expected a record, got {other:?}"),
    }
}

fn failure(r: Result<Raw, SourceError>) -> SourceError {
    match r {
        Err(e) => e,
        Ok(raw) => panic!("expected a failure, got {raw:?}"),
    }
}

fn keys(v: &Value) -> Vec<&str> {
    v.as_object()
        .map(|m| m.keys().map(String::as_str).collect())
        .unwrap_or_default()
}

/// A port nothing listens on (bound, then released).
fn closed_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind an ephemeral port");
    let port = l.local_addr().expect("its address").port();
    drop(l);
    port
}

// ---------------------------------------------------------------------------
// Records: typed JSON

#[tokio::test]
async fn postgres_records_come_back_as_typed_json() {
    let db = Db::postgres().await;
    let t = token();
    let (cust, tier) = (format!("cust_{t}"), format!("tier_{t}"));
    db.exec(&format!(
        "CREATE TYPE {tier} AS ENUM ('gold', 'silver');
         CREATE TABLE {cust} (
            id text PRIMARY KEY, phone text, name varchar(80) NOT NULL, code char(4),
            age integer, small smallint, visits bigint, balance numeric(12,2),
            score double precision, ratio real, vip boolean, born date,
            seen timestamp, seen_tz timestamptz, wake time, prefs jsonb, meta json,
            ref uuid, raw bytea, tier {tier}, note text);
         INSERT INTO {cust} VALUES
           ('C-1', '+14155550123', 'Ana Lima', 'AB', 42, -7, 9000000000, 1234.50,
            0.25, 1.1, true, '1980-02-29', '2024-05-06 07:08:09.5',
            '2024-05-06 09:08:09+02', '13:45:00', '{{\"lang\": \"pt\", \"tags\": [1, 2]}}',
            '{{\"a\": null}}', 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11', '\\xdeadbeef',
            'gold', NULL),
           ('C-2', '+14155550124', 'Bo', NULL, NULL, NULL, NULL, 0.10, NULL, NULL, NULL,
            NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL);"
    ))
    .await;

    let by_id_src = source(&source_toml(
        &db,
        "record",
        &format!("SELECT * FROM {cust} WHERE id = $1"),
        &["customer_id"],
        "",
    ));
    let (doc, raw) = found(fetch(&by_id_src, &by_id("C-1")).await);
    assert_eq!(
        doc,
        json!({
            "id": "C-1", "phone": "+14155550123", "name": "Ana Lima", "code": "AB  ",
            "age": 42, "small": -7, "visits": 9_000_000_000i64, "balance": "1234.50",
            "score": 0.25, "ratio": 1.1, "vip": true, "born": "1980-02-29",
            "seen": "2024-05-06T07:08:09.500", "seen_tz": "2024-05-06T07:08:09Z",
            "wake": "13:45:00", "prefs": {"lang": "pt", "tags": [1, 2]},
            "meta": {"a": null}, "ref": "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11",
            "raw": "deadbeef", "tier": "gold", "note": null
        })
    );
    assert_eq!(
        keys(&doc),
        [
            "id", "phone", "name", "code", "age", "small", "visits", "balance", "score", "ratio",
            "vip", "born", "seen", "seen_tz", "wake", "prefs", "meta", "ref", "raw", "tier",
            "note"
        ],
        "columns in the query's order"
    );
    assert_eq!(
        serde_json::from_str::<Value>(&raw).expect("raw is the row as JSON"),
        doc
    );

    let (doc, _) = found(fetch(&by_id_src, &by_id("C-2")).await);
    assert_eq!(doc["balance"], "0.10");
    assert_eq!(doc["born"], Value::Null);
    assert_eq!(doc["tier"], Value::Null);

    let by_phone = source(&source_toml(
        &db,
        "record",
        &format!("SELECT id, name FROM {cust} WHERE phone = $1"),
        &["phone"],
        "key = \"phone\"",
    ));
    let lookup = Lookup::new(None, Some("(415) 555-0124"), None, "US");
    let (doc, _) = found(fetch(&by_phone, &lookup).await);
    assert_eq!(doc, json!({"id": "C-2", "name": "Bo"}));

    assert_eq!(
        fetch(&by_id_src, &by_id("C-404")).await,
        Ok(Raw::NotFound { raw: String::new() })
    );
    // No key at all binds NULL, which equals nothing.
    assert_eq!(
        fetch(&by_id_src, &Lookup::default()).await,
        Ok(Raw::NotFound { raw: String::new() })
    );

    db.exec(&format!("DROP TABLE {cust}; DROP TYPE {tier};"))
        .await;
}

#[tokio::test]
async fn mariadb_records_come_back_as_typed_json() {
    let db = Db::mariadb().await;
    let cust = format!("cust_{}", token());
    db.exec(&format!(
        "CREATE TABLE {cust} (
            id VARCHAR(64) COLLATE utf8mb4_bin PRIMARY KEY,
            phone VARCHAR(32) COLLATE utf8mb4_bin, name VARCHAR(80) NOT NULL, code CHAR(4),
            age INT, small SMALLINT, tiny TINYINT, visits BIGINT, uns INT UNSIGNED,
            big_uns BIGINT UNSIGNED, balance DECIMAL(12,2), score DOUBLE, ratio FLOAT,
            vip TINYINT(1), born DATE, seen DATETIME(3), seen_ts TIMESTAMP NULL, wake TIME,
            prefs JSON, tier ENUM('gold', 'silver'), raw VARBINARY(16), yr YEAR, note TEXT
         ) DEFAULT CHARSET = utf8mb4;
         INSERT INTO {cust} VALUES
           ('C-1', '+14155550123', 'Ana Lima', 'AB', 42, -7, -128, 9000000000, 4000000000,
            18446744073709551615, 1234.50, 0.25, 1.1, 1, '1980-02-29',
            '2024-05-06 07:08:09.500', '2024-05-06 07:08:09', '13:45:00',
            '{{\"lang\":\"pt\",\"tags\":[1,2]}}', 'gold', X'DEADBEEF', 2024, NULL),
           ('C-2', '+14155550124', 'Bo', NULL, NULL, NULL, NULL, NULL, NULL, NULL, 0.10,
            NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL);"
    ))
    .await;

    let by_id_src = source(&source_toml(
        &db,
        "record",
        &format!("SELECT * FROM {cust} WHERE id = ?"),
        &["customer_id"],
        "",
    ));
    let (mut doc, raw) = found(fetch(&by_id_src, &by_id("C-1")).await);
    assert_eq!(
        serde_json::from_str::<Value>(&raw).expect("raw is the row as JSON"),
        doc
    );
    // MariaDB's JSON is LONGTEXT on the wire (MySQL's is JSON): a string
    // holding the document there, the document here.
    let prefs = doc["prefs"].take();
    let prefs = match prefs {
        Value::String(s) => serde_json::from_str::<Value>(&s).expect("JSON text"),
        v => v,
    };
    assert_eq!(prefs, json!({"lang": "pt", "tags": [1, 2]}));
    assert_eq!(
        doc,
        json!({
            "id": "C-1", "phone": "+14155550123", "name": "Ana Lima", "code": "AB",
            "age": 42, "small": -7, "tiny": -128, "visits": 9_000_000_000i64,
            "uns": 4_000_000_000u32, "big_uns": 18_446_744_073_709_551_615u64,
            "balance": "1234.50", "score": 0.25, "ratio": 1.1, "vip": 1,
            "born": "1980-02-29", "seen": "2024-05-06T07:08:09.500",
            "seen_ts": "2024-05-06T07:08:09Z", "wake": "13:45:00", "prefs": null,
            "tier": "gold", "raw": "deadbeef", "yr": 2024, "note": null
        })
    );
    assert_eq!(keys(&doc)[..4], ["id", "phone", "name", "code"]);
    assert_eq!(keys(&doc).last(), Some(&"note"));

    let (doc, _) = found(fetch(&by_id_src, &by_id("C-2")).await);
    assert_eq!(doc["balance"], "0.10");
    assert_eq!(doc["seen_ts"], Value::Null);

    let by_phone = source(&source_toml(
        &db,
        "record",
        &format!("SELECT id, name FROM {cust} WHERE phone = ?"),
        &["phone"],
        "key = \"phone\"",
    ));
    let lookup = Lookup::new(None, Some("+1 415 555 0124"), None, "US");
    let (doc, _) = found(fetch(&by_phone, &lookup).await);
    assert_eq!(doc, json!({"id": "C-2", "name": "Bo"}));
    assert_eq!(
        fetch(&by_id_src, &by_id("c-1")).await,
        Ok(Raw::NotFound { raw: String::new() }),
        "a binary collation: case matters"
    );

    // A time of day beyond 24 h is a duration in MySQL: its own spelling.
    let durations = source(&source_toml(
        &db,
        "record",
        "SELECT TIME '-838:59:59' AS d, TIME '100:00:00.25' AS e, NULL AS n",
        &[],
        "",
    ));
    let (doc, _) = found(fetch(&durations, &by_id("x")).await);
    assert_eq!(
        doc,
        json!({"d": "-838:59:59", "e": "100:00:00.25", "n": null})
    );

    db.exec(&format!("DROP TABLE {cust}")).await;
}

#[tokio::test]
async fn sqlite_records_come_back_as_typed_json() {
    let db = Db::sqlite().await;
    db.exec(
        "CREATE TABLE cust (id TEXT PRIMARY KEY, phone TEXT, name TEXT NOT NULL, age INTEGER,
            visits BIGINT, balance TEXT, amount NUMERIC, score REAL, vip BOOLEAN, born DATE,
            seen DATETIME, prefs TEXT, raw BLOB, note TEXT);
         INSERT INTO cust VALUES ('C-1', '+14155550123', 'Ana Lima', 42, 9000000000,
            '1234.50', 1234.50, 0.25, 1, '1980-02-29', '2024-05-06 07:08:09',
            '{\"lang\":\"pt\"}', X'DEADBEEF', NULL),
            ('C-2', '+14155550124', 'Bo', NULL, NULL, '0.10', NULL, NULL, 0, NULL, NULL,
            NULL, NULL, NULL);",
    )
    .await;

    let by_id_src = source(&source_toml(
        &db,
        "record",
        "SELECT * FROM cust WHERE id = ?",
        &["customer_id"],
        "",
    ));
    let (doc, _) = found(fetch(&by_id_src, &by_id("C-1")).await);
    // SQLite keeps no decimal type: money kept exact is money stored as
    // text; a NUMERIC column holds 1234.50 as the number 1234.5.
    assert_eq!(
        doc,
        json!({
            "id": "C-1", "phone": "+14155550123", "name": "Ana Lima", "age": 42,
            "visits": 9_000_000_000i64, "balance": "1234.50", "amount": 1234.5,
            "score": 0.25, "vip": true, "born": "1980-02-29",
            "seen": "2024-05-06 07:08:09", "prefs": "{\"lang\":\"pt\"}",
            "raw": "deadbeef", "note": null
        })
    );
    assert_eq!(keys(&doc)[..3], ["id", "phone", "name"]);
    let (doc, _) = found(fetch(&by_id_src, &by_id("C-2")).await);
    assert_eq!(doc["vip"], false);
    assert_eq!(doc["balance"], "0.10");

    let by_phone = source(&source_toml(
        &db,
        "record",
        "SELECT id FROM cust WHERE phone = ?1 OR phone = ?1",
        &["phone"],
        "key = \"phone\"",
    ));
    let lookup = Lookup::new(None, Some("415.555.0123"), None, "US");
    assert_eq!(
        found(fetch(&by_phone, &lookup).await).0,
        json!({"id": "C-1"})
    );
    assert_eq!(
        fetch(&by_id_src, &by_id("C-3")).await,
        Ok(Raw::NotFound { raw: String::new() })
    );
}

/// Values at the edges of the types: sqlx's own chrono decoders panic on
/// some of these, so they are worth a test each.
#[tokio::test]
async fn postgres_edge_values_convert_without_panicking() {
    let _db = Db::postgres().await;
    let edges = simple(
        PG_URL,
        "SELECT 'infinity'::date AS a, '-infinity'::timestamp AS b, \
         'infinity'::timestamptz AS c, '24:00:00'::time AS d, '4713-01-01 BC'::date AS e, \
         '0001-01-01 00:00:00.000001'::timestamp AS f, 'NaN'::float8 AS g, \
         '-infinity'::float4 AS h, '-0.000000000000000000000000001'::numeric AS i, \
         $1 AS j",
        &["email"],
        2000,
    );
    let (doc, _) = found(fetch(&edges, &by_id("x")).await);
    assert_eq!(
        doc,
        json!({
            "a": "infinity", "b": "-infinity", "c": "infinity", "d": "24:00:00",
            "e": "-4712-01-01", "f": "0001-01-01T00:00:00.000001", "g": "NaN",
            "h": "-Infinity", "i": "-0.000000000000000000000000001", "j": null
        })
    );
    for (query, column) in [
        ("SELECT 'NaN'::numeric AS n", "`n`"),
        ("SELECT '294276-12-31 23:59:59'::timestamptz AS t", "`t`"),
        ("SELECT '5874897-12-31'::date AS d", "`d`"),
    ] {
        let e = failure(fetch(&simple(PG_URL, query, &[], 2000), &by_id("x")).await);
        assert_eq!(e.kind, FailureKind::Database, "{e}");
        assert!(e.detail.contains(column), "{e}");
    }
}

#[tokio::test]
async fn mariadb_zero_dates_are_null() {
    let db = Db::mariadb().await;
    let z = format!("zero_{}", token());
    db.exec(&format!(
        "SET SESSION sql_mode = '';
         CREATE TABLE {z} (d DATE, dt DATETIME, ts TIMESTAMP NULL, p DATE);
         INSERT INTO {z} VALUES ('0000-00-00', '0000-00-00 00:00:00',
            '0000-00-00 00:00:00', '2024-00-00');"
    ))
    .await;
    let zeros = simple(MY_URL, &format!("SELECT d, dt, ts FROM {z}"), &[], 2000);
    let (doc, _) = found(fetch(&zeros, &by_id("x")).await);
    assert_eq!(doc, json!({"d": null, "dt": null, "ts": null}));
    let partial = simple(MY_URL, &format!("SELECT p FROM {z}"), &[], 2000);
    let e = failure(fetch(&partial, &by_id("x")).await);
    assert_eq!(e.kind, FailureKind::Database, "{e}");
    assert!(
        e.detail.contains("`p`") && !e.detail.contains("2024"),
        "{e}"
    );
    db.exec(&format!("DROP TABLE {z}")).await;
}

// ---------------------------------------------------------------------------
// History paging over 10,000 orders

async fn history_pages(db: Db) {
    let ord = format!("ord_{}", token());
    // SQLite has no exact decimal: money stays exact as text.
    let amount = match db.kind {
        Kind::Pg => "numeric(10,2)",
        Kind::My => "DECIMAL(10,2)",
        Kind::Lite => "TEXT",
    };
    db.exec(&format!(
        "CREATE TABLE {ord} (id BIGINT PRIMARY KEY, customer_id VARCHAR(16) NOT NULL,
            amount {amount} NOT NULL)"
    ))
    .await;
    // 10,000 orders for C-1 and a few for C-2, in one statement each.
    let fill = |customer: &str, first: u32, count: u32| match db.kind {
        Kind::Pg => format!(
            "INSERT INTO {ord} SELECT n + {first}, '{customer}', n / 100.0
             FROM generate_series(0, {count} - 1) AS n"
        ),
        // MariaDB caps recursive CTEs at 1,000 rounds: four digits crossed.
        Kind::My => format!(
            "INSERT INTO {ord} SELECT n + {first}, '{customer}', n / 100 FROM (
                SELECT a.d + 10 * b.d + 100 * c.d + 1000 * e.d AS n
                FROM (SELECT 0 d UNION ALL SELECT 1 UNION ALL SELECT 2 UNION ALL SELECT 3
                      UNION ALL SELECT 4 UNION ALL SELECT 5 UNION ALL SELECT 6
                      UNION ALL SELECT 7 UNION ALL SELECT 8 UNION ALL SELECT 9) a,
                     (SELECT 0 d UNION ALL SELECT 1 UNION ALL SELECT 2 UNION ALL SELECT 3
                      UNION ALL SELECT 4 UNION ALL SELECT 5 UNION ALL SELECT 6
                      UNION ALL SELECT 7 UNION ALL SELECT 8 UNION ALL SELECT 9) b,
                     (SELECT 0 d UNION ALL SELECT 1 UNION ALL SELECT 2 UNION ALL SELECT 3
                      UNION ALL SELECT 4 UNION ALL SELECT 5 UNION ALL SELECT 6
                      UNION ALL SELECT 7 UNION ALL SELECT 8 UNION ALL SELECT 9) c,
                     (SELECT 0 d UNION ALL SELECT 1 UNION ALL SELECT 2 UNION ALL SELECT 3
                      UNION ALL SELECT 4 UNION ALL SELECT 5 UNION ALL SELECT 6
                      UNION ALL SELECT 7 UNION ALL SELECT 8 UNION ALL SELECT 9) e
             ) s WHERE n < {count}"
        ),
        Kind::Lite => format!(
            "WITH RECURSIVE s(n) AS (SELECT 0 UNION ALL SELECT n + 1 FROM s WHERE n + 1 < {count})
             INSERT INTO {ord} SELECT n + {first}, '{customer}', printf('%.2f', n / 100.0) FROM s"
        ),
    };
    db.exec(&fill("C-1", 1, 10_000)).await;
    db.exec(&fill("C-2", 20_001, 7)).await;
    assert_eq!(db.count(&ord).await, 10_007);

    let history = source(&source_toml(
        &db,
        "history",
        &format!(
            "SELECT id, amount FROM {ord} WHERE customer_id = {} ORDER BY id DESC \
             LIMIT {} OFFSET {}",
            db.ph(1),
            db.ph(2),
            db.ph(3)
        ),
        &["customer_id", "limit", "offset"],
        "page_size = 25",
    ));
    let c1 = by_id("C-1");
    let mut expected_id = 10_000i64;
    for page in 0..400u64 {
        let rows = fetch_page(&history, &c1, 25, page * 25).await;
        assert_eq!(rows.len(), 25, "page {page} on {:?}", db.kind);
        for row in rows {
            assert_eq!(
                row["id"],
                json!(expected_id),
                "page {page} on {:?}",
                db.kind
            );
            expected_id -= 1;
        }
    }
    assert_eq!(expected_id, 0);
    let first = fetch_page(&history, &c1, 25, 0).await;
    assert_eq!(first[0], json!({"id": 10_000, "amount": "99.99"}));
    assert!(fetch_page(&history, &c1, 25, 10_000).await.is_empty());
    // The last partial page, and another customer's short list.
    assert_eq!(fetch_page(&history, &c1, 30, 9_990).await.len(), 10);
    let c2 = fetch_page(&history, &by_id("C-2"), 25, 0).await;
    assert_eq!(c2.len(), 7);
    assert_eq!(c2[0]["id"], json!(20_007));
    // No such customer: an empty history, not a failure.
    assert!(fetch_page(&history, &by_id("C-9"), 25, 0).await.is_empty());

    // A history query without a limit is refused past the row cap.
    let unbounded = source(&source_toml(
        &db,
        "history",
        &format!("SELECT id FROM {ord}"),
        &[],
        "",
    ));
    assert_eq!(
        failure(fetch(&unbounded, &c1).await).kind,
        FailureKind::TooLarge
    );

    db.exec(&format!("DROP TABLE {ord}")).await;
}

#[tokio::test]
async fn postgres_history_pages_through_10000_orders() {
    history_pages(Db::postgres().await).await;
}

#[tokio::test]
async fn mariadb_history_pages_through_10000_orders() {
    history_pages(Db::mariadb().await).await;
}

#[tokio::test]
async fn sqlite_history_pages_through_10000_orders() {
    history_pages(Db::sqlite().await).await;
}

// ---------------------------------------------------------------------------
// Injection: customer values are data, never SQL

async fn injection(db: Db) {
    let cust = format!("cust_{}", token());
    let (text, sleep) = match db.kind {
        Kind::Pg => ("text", "SELECT pg_sleep(5)"),
        Kind::My => ("VARCHAR(200) COLLATE utf8mb4_bin", "SELECT SLEEP(5)"),
        Kind::Lite => ("TEXT", "SELECT 1"),
    };
    let charset = if db.kind == Kind::My {
        " DEFAULT CHARSET = utf8mb4"
    } else {
        ""
    };
    db.exec(&format!(
        "CREATE TABLE {cust} (id {text} PRIMARY KEY, phone {text}, name {text}){charset}"
    ))
    .await;
    let evil: Vec<String> = vec![
        format!("1'; DROP TABLE {cust};--"),
        format!("1\"; DROP TABLE {cust};--"),
        r#"" OR "1"="1"#.into(),
        "' OR '1'='1".into(),
        "' OR 1=1 -- ".into(),
        "x\r\ny".into(),
        format!("'; {sleep};--"),
        format!("\\'; DROP TABLE {cust}; -- "),
        r"\".into(),
        r"a\'b\\'c\0\Z".into(),
        "%".into(),
        "_".into(),
        "?".into(),
        "$1".into(),
        "1 UNION SELECT id, phone, name FROM nowhere".into(),
        "Zoë — 名前 🚀 \u{202e}txt.exe".into(),
        "/* */ 1".into(),
    ];
    let decoys = ["1", "x", "y", "a", "' OR ''='"];
    let mut rows: Vec<Vec<String>> = evil
        .iter()
        .enumerate()
        .map(|(k, s)| vec![s.clone(), s.clone(), format!("evil-{k}")])
        .collect();
    rows.extend(
        decoys
            .iter()
            .map(|d| vec![format!("{d}-decoy"), (*d).to_string(), format!("decoy {d}")]),
    );
    db.insert_texts(
        &format!(
            "INSERT INTO {cust} (id, phone, name) VALUES ({}, {}, {})",
            db.ph(1),
            db.ph(2),
            db.ph(3)
        ),
        &rows,
    )
    .await;
    let total = db.count(&cust).await;

    let record = source(&source_toml(
        &db,
        "record",
        &format!("SELECT id, name FROM {cust} WHERE id = {}", db.ph(1)),
        &["customer_id"],
        "timeout_ms = 3000",
    ));
    let by_phone = source(&source_toml(
        &db,
        "history",
        &format!(
            "SELECT id, name FROM {cust} WHERE phone = {} ORDER BY id",
            db.ph(1)
        ),
        &["phone_raw"],
        "timeout_ms = 3000",
    ));
    for (k, s) in evil.iter().enumerate() {
        let started = Instant::now();
        let (doc, _) = found(fetch(&record, &by_id(s)).await);
        assert_eq!(
            doc,
            json!({"id": s, "name": format!("evil-{k}")}),
            "evil id #{k} on {:?}",
            db.kind
        );
        // The value travels as-is (no trimming, no normalising).
        let lookup = Lookup {
            phone_raw: Some(s.clone()),
            ..Default::default()
        };
        let rows = fetch_page(&by_phone, &lookup, 10, 0).await;
        assert_eq!(
            rows,
            vec![json!({"id": s, "name": format!("evil-{k}")})],
            "evil phone #{k} on {:?}",
            db.kind
        );
        assert!(
            started.elapsed() < Duration::from_secs(3),
            "no injected sleep ran"
        );
    }
    for s in ["' OR ''='", "1' OR '1'='1", "x' --", "%%"] {
        assert_eq!(
            fetch(&record, &by_id(s)).await,
            Ok(Raw::NotFound { raw: String::new() }),
            "{s:?} on {:?}",
            db.kind
        );
    }
    assert_eq!(db.count(&cust).await, total, "the table is intact");
    db.exec(&format!("DROP TABLE {cust}")).await;
}

#[tokio::test]
async fn postgres_values_are_never_sql() {
    injection(Db::postgres().await).await;
}

#[tokio::test]
async fn mariadb_values_are_never_sql() {
    injection(Db::mariadb().await).await;
}

#[tokio::test]
async fn sqlite_values_are_never_sql() {
    injection(Db::sqlite().await).await;
}

// ---------------------------------------------------------------------------
// Failures, by kind

fn simple(url: &str, query: &str, params: &[&str], timeout_ms: u64) -> SqlSource {
    let params: Vec<String> = params.iter().map(|p| format!("{p:?}")).collect();
    source(&format!(
        "name = \"crm\"\nkind = \"sql\"\nurl = {url:?}\nquery = {query:?}\nparams = [{}]\n\
         timeout_ms = {timeout_ms}\nmax_connections = 1\n",
        params.join(", ")
    ))
}

fn sleeper(seconds: &str) -> Lookup {
    let mut l = by_id("C-1");
    l.vars.insert("var.sleep".into(), seconds.into());
    l
}

#[tokio::test]
async fn postgres_failures_are_classified() {
    let _db = Db::postgres().await;
    let t = token();

    let e = failure(
        fetch(
            &simple(
                &format!("postgres://no_such_role_{t}@127.0.0.1:5432/test"),
                "SELECT 1",
                &[],
                2000,
            ),
            &by_id("x"),
        )
        .await,
    );
    assert_eq!(e.kind, FailureKind::Auth, "{e}");
    assert!(e.detail.contains("28000"), "{e}");

    let started = Instant::now();
    let e = failure(
        fetch(
            &simple(
                &format!("postgres://postgres@127.0.0.1:{}/test", closed_port()),
                "SELECT 1",
                &[],
                400,
            ),
            &by_id("x"),
        )
        .await,
    );
    assert_eq!(e.kind, FailureKind::Connect, "{e}");
    assert!(started.elapsed() < Duration::from_secs(2));

    let e = failure(
        fetch(
            &simple(
                "postgres://postgres@no-such-host.invalid:5432/test",
                "SELECT 1",
                &[],
                2000,
            ),
            &by_id("x"),
        )
        .await,
    );
    assert_eq!(e.kind, FailureKind::Dns, "{e}");

    // The local server's certificate is self-signed (Debian's snakeoil):
    // verifying it fails, and the failure says TLS.
    let e = failure(
        fetch(
            &simple(
                &format!("{PG_URL}?sslmode=verify-full"),
                "SELECT 1",
                &[],
                2000,
            ),
            &by_id("x"),
        )
        .await,
    );
    assert_eq!(e.kind, FailureKind::Tls, "{e}");

    let e = failure(
        fetch(
            &simple(
                &format!("postgres://postgres@127.0.0.1:5432/no_such_db_{t}"),
                "SELECT 1",
                &[],
                2000,
            ),
            &by_id("x"),
        )
        .await,
    );
    assert_eq!(e.kind, FailureKind::Database, "{e}");
    assert!(e.detail.contains("3D000"), "{e}");

    // A slow query times out, and its connection is not handed to the next
    // fetch (which would wait for the sleep to end).
    // (Without TLS: a debug build's handshake alone can take most of the
    // 500 ms under a loaded test run.)
    let plain = format!("{PG_URL}?sslmode=disable");
    let slow = simple(
        &plain,
        "SELECT pg_sleep($1::float8) AS slept",
        &["var.sleep"],
        500,
    );
    let started = Instant::now();
    let e = failure(fetch(&slow, &sleeper("2")).await);
    assert_eq!(e.kind, FailureKind::Timeout, "{e}");
    assert!(started.elapsed() < Duration::from_millis(1500));
    let (doc, _) = found(fetch(&slow, &sleeper("0")).await);
    assert_eq!(doc, json!({"slept": null}));

    let e = failure(fetch(&simple(PG_URL, "SELEC 1", &[], 2000), &by_id("x")).await);
    assert_eq!(e.kind, FailureKind::Database, "{e}");
    assert!(e.detail.contains("42601"), "{e}");

    let e = failure(
        fetch(
            &simple(PG_URL, "SELECT no_such_column FROM pg_class", &[], 2000),
            &by_id("x"),
        )
        .await,
    );
    assert_eq!(e.kind, FailureKind::Database, "{e}");
    assert!(e.detail.contains("no_such_column"), "{e}");

    // PostgreSQL quotes the value it could not convert: the detail must not.
    let e = failure(
        fetch(
            &simple(PG_URL, "SELECT $1::int AS n", &["customer_id"], 2000),
            &by_id("secret-4711-ana"),
        )
        .await,
    );
    assert_eq!(e.kind, FailureKind::Database, "{e}");
    assert!(e.detail.contains("22P02"), "{e}");
    assert!(!e.detail.contains("4711"), "no value in {e}");

    let e = failure(
        fetch(
            &simple(PG_URL, "SELECT interval '4711 days' AS span", &[], 2000),
            &by_id("x"),
        )
        .await,
    );
    assert_eq!(e.kind, FailureKind::Database, "{e}");
    assert!(
        e.detail.contains("`span`") && e.detail.contains("INTERVAL"),
        "{e}"
    );
    assert!(!e.detail.contains("4711"), "no value in {e}");

    let e = failure(
        fetch(
            &simple(PG_URL, "SELECT 1e40::numeric AS big", &[], 2000),
            &by_id("x"),
        )
        .await,
    );
    assert_eq!(e.kind, FailureKind::Database, "{e}");
    assert!(e.detail.contains("`big`"), "{e}");
}

#[tokio::test]
async fn mariadb_failures_are_classified() {
    let _db = Db::mariadb().await;
    let t = token();

    let e = failure(
        fetch(
            &simple(
                "mysql://root:wrong@127.0.0.1:3306/test",
                "SELECT 1",
                &[],
                2000,
            ),
            &by_id("x"),
        )
        .await,
    );
    assert_eq!(e.kind, FailureKind::Auth, "{e}");
    assert!(e.detail.contains("1045"), "{e}");

    let started = Instant::now();
    let e = failure(
        fetch(
            &simple(
                &format!("mariadb://root@127.0.0.1:{}/test", closed_port()),
                "SELECT 1",
                &[],
                400,
            ),
            &by_id("x"),
        )
        .await,
    );
    assert_eq!(e.kind, FailureKind::Connect, "{e}");
    assert!(started.elapsed() < Duration::from_secs(2));

    let e = failure(
        fetch(
            &simple(
                &format!("mysql://root@127.0.0.1:3306/no_such_db_{t}"),
                "SELECT 1",
                &[],
                2000,
            ),
            &by_id("x"),
        )
        .await,
    );
    assert_eq!(e.kind, FailureKind::Database, "{e}");
    assert!(e.detail.contains("1049"), "{e}");

    let e = failure(
        fetch(
            &simple(
                &format!("{MY_URL}?ssl-mode=required"),
                "SELECT 1",
                &[],
                2000,
            ),
            &by_id("x"),
        )
        .await,
    );
    assert_eq!(e.kind, FailureKind::Tls, "{e}");

    let slow = simple(MY_URL, "SELECT SLEEP(?) AS slept", &["var.sleep"], 500);
    let started = Instant::now();
    let e = failure(fetch(&slow, &sleeper("2")).await);
    assert_eq!(e.kind, FailureKind::Timeout, "{e}");
    assert!(started.elapsed() < Duration::from_millis(1500));
    let (doc, _) = found(fetch(&slow, &sleeper("0")).await);
    assert_eq!(doc, json!({"slept": 0}));

    let e = failure(fetch(&simple(MY_URL, "SELEC 1", &[], 2000), &by_id("x")).await);
    assert_eq!(e.kind, FailureKind::Database, "{e}");
    assert!(e.detail.contains("1064"), "{e}");

    let e = failure(
        fetch(
            &simple(MY_URL, "SELECT POINT(47, 11) AS spot", &[], 2000),
            &by_id("x"),
        )
        .await,
    );
    assert_eq!(e.kind, FailureKind::Database, "{e}");
    assert!(
        e.detail.contains("`spot`") && e.detail.contains("GEOMETRY"),
        "{e}"
    );
}

#[tokio::test]
async fn sqlite_failures_are_classified() {
    let db = Db::sqlite().await;
    let Admin::Lite(_, dir) = &db.admin else {
        unreachable!("an SQLite test database")
    };
    let missing = format!(
        "sqlite://{}?mode=ro",
        dir.path().join("missing.db").display()
    );
    let e = failure(fetch(&simple(&missing, "SELECT 1", &[], 1000), &by_id("x")).await);
    assert_eq!(e.kind, FailureKind::Connect, "{e}");

    let e = failure(fetch(&simple(&db.url, "SELEC 1", &[], 1000), &by_id("x")).await);
    assert_eq!(e.kind, FailureKind::Database, "{e}");
    assert!(e.detail.contains("syntax"), "{e}");

    let e = failure(
        fetch(
            &simple(&db.url, "SELECT * FROM no_such_table", &[], 1000),
            &by_id("x"),
        )
        .await,
    );
    assert_eq!(e.kind, FailureKind::Database, "{e}");

    let started = Instant::now();
    let e = failure(
        fetch(
            &simple(
                &db.url,
                "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c \
                 WHERE x < 30000000) SELECT max(x) AS m FROM c",
                &[],
                300,
            ),
            &by_id("x"),
        )
        .await,
    );
    assert_eq!(e.kind, FailureKind::Timeout, "{e}");
    assert!(started.elapsed() < Duration::from_millis(1500));
}

// ---------------------------------------------------------------------------
// Configuration

#[tokio::test]
async fn bad_configurations_name_the_key() {
    let refused = |toml_text: &str| match SqlSource::new(&config(toml_text)) {
        Err(e) => e,
        Ok(_) => panic!("accepted: {toml_text}"),
    };
    let base = "name = \"crm\"\nkind = \"sql\"\n";

    let e = refused(&format!("{base}query = \"SELECT 1\""));
    assert!(e.starts_with("url:"), "{e}");
    let e = refused(&format!(
        "{base}url = \"oracle://db/x\"\nquery = \"SELECT 1\""
    ));
    assert!(e.starts_with("url:"), "{e}");
    let e = refused(&format!("{base}url = {PG_URL:?}\nquery = \"  \""));
    assert!(e.starts_with("query:"), "{e}");
    let e = refused(&format!("{base}url = {PG_URL:?}"));
    assert!(e.starts_with("query:"), "{e}");

    let e = refused(&format!(
        "{base}url = {PG_URL:?}\nquery = \"SELECT * FROM t WHERE a = $1 AND b = $2\"\n\
         params = [\"customer_id\"]"
    ));
    assert!(e.starts_with("params:") && e.contains("$2"), "{e}");
    let e = refused(&format!(
        "{base}url = {MY_URL:?}\nquery = \"SELECT * FROM t WHERE a = ?\"\n\
         params = [\"customer_id\", \"phone\"]"
    ));
    assert!(e.starts_with("params:"), "{e}");
    let e = refused(&format!(
        "{base}url = {PG_URL:?}\nquery = \"SELECT * FROM t WHERE a = $1\"\n\
         params = [\"customer_name\"]"
    ));
    assert!(
        e.starts_with("params:") && e.contains("customer_name"),
        "{e}"
    );
    let e = refused(&format!(
        "{base}url = \"sqlite::memory:\"\nquery = \"SELECT * FROM t WHERE a = :phone\"\n\
         params = [\"phone\"]"
    ));
    assert!(e.starts_with("query:"), "{e}");
    let e = refused(&format!(
        "{base}url = {PG_URL:?}\nquery = \"SELECT 1\"\nmax_connections = 0"
    ));
    assert!(e.starts_with("max_connections:"), "{e}");

    // Placeholders inside literals and comments are not placeholders.
    let ok = SqlSource::new(&config(&format!(
        "{base}url = \"mariadb://root:hunter2@127.0.0.1:3306/test\"\n\
         query = \"SELECT '?' AS q, id FROM t -- where x = ?\\n WHERE id = ?\"\n\
         params = [\"customer_id\"]"
    )))
    .unwrap_or_else(|e| panic!("refused: {e}"));
    assert_eq!(ok.describe(), "mariadb://root@127.0.0.1:3306/test");
    let ok = source(&format!(
        "{base}url = \"postgres://root:s3cret@127.0.0.1:5432/test\"\n\
         query = \"SELECT '$2' AS a WHERE $1 = 'x'\"\nparams = [\"var.region\"]"
    ));
    assert_eq!(ok.describe(), "postgres://root@127.0.0.1:5432/test");
}

#[tokio::test]
async fn a_database_that_is_down_does_not_stop_the_source_being_built() {
    let url = format!("postgres://postgres:pw@127.0.0.1:{}/test", closed_port());
    let src = simple(&url, "SELECT 1 AS one", &[], 300);
    assert!(!src.describe().contains("pw"));
    assert_eq!(
        failure(fetch(&src, &by_id("x")).await).kind,
        FailureKind::Connect
    );
}

// ---------------------------------------------------------------------------
// Many fetches on a small pool

async fn concurrent(db: Db) {
    let query = match db.kind {
        Kind::Pg => "SELECT $1 AS echo, pg_sleep(0.01) AS z",
        Kind::My => "SELECT CAST(? AS CHAR) AS echo, SLEEP(0.01) AS z",
        Kind::Lite => "SELECT ? AS echo, 0 AS z",
    };
    let src = std::sync::Arc::new(source(&source_toml(
        &db,
        "record",
        query,
        &["customer_id"],
        "max_connections = 2\ntimeout_ms = 10000",
    )));
    let tasks: Vec<_> = (0..60)
        .map(|k| {
            let src = src.clone();
            tokio::spawn(async move {
                let id = format!("C-{k}");
                let r = fetch(&src, &by_id(&id)).await;
                (id, r)
            })
        })
        .collect();
    for t in tasks {
        let (id, r) = t.await.expect("the fetch task ran");
        let (doc, _) = found(r);
        assert_eq!(doc["echo"], json!(id), "on {:?}", db.kind);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_sixty_fetches_share_two_connections() {
    concurrent(Db::postgres().await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mariadb_sixty_fetches_share_two_connections() {
    concurrent(Db::mariadb().await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_sixty_fetches_share_two_connections() {
    concurrent(Db::sqlite().await).await;
}
