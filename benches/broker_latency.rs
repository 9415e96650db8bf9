//! What a pop's hop between two nodes costs on each broker that runs here,
//! beside the in-process hop a single node makes, in the same run: a
//! pop-sized message (2 KB of JSON) published on one connection and
//! received on another, one at a time (latency) and then 20,000 back to
//! back (throughput). For the choice of issue 14's broker.
//!
//! Needs Redis at 127.0.0.1:6379 and PostgreSQL at 127.0.0.1:5432/test.
//! NATS is not measured: its client crate is not among the dependencies.
//!
//! `cargo bench --bench broker_latency`

use futures::StreamExt;
use std::time::{Duration, Instant};

const ROUND_TRIPS: usize = 2_000;
const BURST: usize = 20_000;
const REDIS_URL: &str = "redis://127.0.0.1:6379";
const PG_URL: &str = "postgres://postgres@127.0.0.1:5432/test";

fn payload() -> String {
    // About a pop's size: a record, a few fields, a short history.
    let history: Vec<String> = (0..12)
        .map(|i| format!(r#"{{"at":"2026-11-{:02}T10:00:00Z","outcome":"answered","agent":"agent-{i}","notes":"called back about order {i}"}}"#, i + 1))
        .collect();
    let p = format!(
        r#"{{"type":"pop","pop_id":"00000000-0000-0000-0000-000000000000","agent":"agent-7","customer":{{"name":"Customer 7","tier":"gold","phone":"+14155550007","balance":"120.25"}},"history":[{}]}}"#,
        history.join(",")
    );
    let mut p = p;
    while p.len() < 2_000 {
        p.push(' ');
    }
    p
}

struct Figures {
    name: &'static str,
    p50_us: f64,
    p99_us: f64,
    max_us: f64,
    per_s: f64,
}

fn figures(name: &'static str, mut us: Vec<f64>, burst: Duration) -> Figures {
    us.sort_by(f64::total_cmp);
    let q = |p: f64| us[((us.len() as f64 * p) as usize).min(us.len() - 1)];
    Figures {
        name,
        p50_us: q(0.5),
        p99_us: q(0.99),
        max_us: us[us.len() - 1],
        per_s: BURST as f64 / burst.as_secs_f64(),
    }
}

/// `BURST` publishes, `IN_FLIGHT` at a time, as a busy node's would be.
async fn pipelined<F, E>(mut publish: impl FnMut() -> F)
where
    F: std::future::Future<Output = Result<(), E>>,
    E: std::fmt::Debug,
{
    const IN_FLIGHT: usize = 64;
    let mut pending = futures::stream::FuturesUnordered::new();
    for _ in 0..BURST {
        pending.push(publish());
        if pending.len() >= IN_FLIGHT
            && let Some(r) = pending.next().await
        {
            r.expect("publish");
        }
    }
    while let Some(r) = pending.next().await {
        r.expect("publish");
    }
}

async fn in_process(msg: &str) -> Figures {
    let (tx, mut rx) = tokio::sync::mpsc::channel::<std::sync::Arc<str>>(1024);
    let msg: std::sync::Arc<str> = msg.into();
    let mut us = Vec::with_capacity(ROUND_TRIPS);
    for _ in 0..ROUND_TRIPS {
        let t = Instant::now();
        tx.send(msg.clone()).await.expect("send");
        rx.recv().await.expect("recv");
        us.push(t.elapsed().as_secs_f64() * 1e6);
    }
    let t = Instant::now();
    let recv = tokio::spawn(async move {
        for _ in 0..BURST {
            rx.recv().await.expect("recv");
        }
    });
    for _ in 0..BURST {
        tx.send(msg.clone()).await.expect("send");
    }
    recv.await.expect("receiver");
    figures("in-process (one node)", us, t.elapsed())
}

async fn redis_pubsub(msg: &str) -> Figures {
    let client = redis::Client::open(REDIS_URL).expect("redis url");
    let mut ps = client
        .get_async_pubsub()
        .await
        .unwrap_or_else(|e| panic!("Redis at {REDIS_URL} is needed: {e}"));
    let channel = format!("dialpop-bench-{}", uuid::Uuid::new_v4().simple());
    ps.subscribe(&channel).await.expect("subscribe");
    let mut messages = ps.into_on_message();
    let mut conn = client
        .get_multiplexed_async_connection()
        .await
        .expect("redis connection");
    let publish = async |conn: &mut redis::aio::MultiplexedConnection| {
        redis::cmd("PUBLISH")
            .arg(&channel)
            .arg(msg)
            .query_async::<()>(conn)
            .await
            .expect("publish");
    };
    let mut us = Vec::with_capacity(ROUND_TRIPS);
    for _ in 0..ROUND_TRIPS {
        let t = Instant::now();
        publish(&mut conn).await;
        messages.next().await.expect("message");
        us.push(t.elapsed().as_secs_f64() * 1e6);
    }
    let t = Instant::now();
    let recv = tokio::spawn(async move {
        for _ in 0..BURST {
            messages.next().await.expect("message");
        }
    });
    pipelined(|| {
        let (mut c, ch, m) = (conn.clone(), channel.clone(), msg.to_string());
        async move {
            redis::cmd("PUBLISH")
                .arg(ch)
                .arg(m)
                .query_async::<()>(&mut c)
                .await
        }
    })
    .await;
    recv.await.expect("receiver");
    figures("Redis pub/sub", us, t.elapsed())
}

async fn pg_notify(msg: &str) -> Figures {
    use sqlx::postgres::{PgListener, PgPoolOptions};
    let pool = PgPoolOptions::new()
        .max_connections(4)
        .connect(PG_URL)
        .await
        .unwrap_or_else(|e| panic!("PostgreSQL at {PG_URL} is needed: {e}"));
    let channel = format!("dialpop_bench_{}", uuid::Uuid::new_v4().simple());
    let mut listener = PgListener::connect(PG_URL).await.expect("listener");
    listener.listen(&channel).await.expect("listen");
    let notify = async |pool: &sqlx::PgPool| {
        sqlx::query("SELECT pg_notify($1, $2)")
            .bind(&channel)
            .bind(msg)
            .execute(pool)
            .await
            .expect("notify");
    };
    let mut us = Vec::with_capacity(ROUND_TRIPS);
    for _ in 0..ROUND_TRIPS {
        let t = Instant::now();
        notify(&pool).await;
        listener.recv().await.expect("notification");
        us.push(t.elapsed().as_secs_f64() * 1e6);
    }
    let t = Instant::now();
    let recv = tokio::spawn(async move {
        for _ in 0..BURST {
            listener.recv().await.expect("notification");
        }
    });
    pipelined(|| {
        let (p, ch, m) = (pool.clone(), channel.clone(), msg.to_string());
        async move {
            sqlx::query("SELECT pg_notify($1, $2)")
                .bind(ch)
                .bind(m)
                .execute(&p)
                .await
                .map(|_| ())
        }
    })
    .await;
    recv.await.expect("receiver");
    figures("PostgreSQL NOTIFY", us, t.elapsed())
}

fn main() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let msg = payload();
    let all = rt.block_on(async {
        vec![
            in_process(&msg).await,
            redis_pubsub(&msg).await,
            pg_notify(&msg).await,
        ]
    });
    let base = all[0].p50_us;
    println!(
        "{} B a message; {ROUND_TRIPS} one at a time, then {BURST} back to back (64 in flight)",
        msg.len()
    );
    println!("| hop | p50 | p99 | max | p50 / in-process | messages/s |");
    println!("|---|---:|---:|---:|---:|---:|");
    for f in &all {
        println!(
            "| {} | {:.1} µs | {:.1} µs | {:.1} µs | {:.0}× | {:.0} |",
            f.name,
            f.p50_us,
            f.p99_us,
            f.max_us,
            f.p50_us / base,
            f.per_s
        );
    }
}
