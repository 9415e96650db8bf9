//! Customer lookups: cache hits, and a call center's worth of answers
//! against the CRM stand-in answering in 20 ms, with and without preload.
//! Every figure is measured in this run, beside its baseline.
//!
//! `cargo bench --bench customer_lookup`

use dialpop::customer::config::{CustomerConfig, SourceConfig, parse_sources};
use dialpop::customer::standin::{CrmStandin, StandinAuth, StandinConfig, StandinCustomer};
use dialpop::customer::{CustomerService, Lookup};
use rand::{RngExt, SeedableRng};
use std::sync::Arc;
use std::time::{Duration, Instant};

const KEYS: usize = 1_000;
const LOOKUPS: usize = 10_000;
const CRM_MS: u64 = 20;
/// How long a customer's phone rings before the answer (the preload's
/// head start); real rings last seconds.
const RING_MS: u64 = 100;
/// Calls in flight at once.
const CONCURRENT: usize = 200;

/// The stand-in's record source, as an operator would declare it.
fn sources(crm: &CrmStandin) -> Vec<SourceConfig> {
    let all = parse_sources(&crm.sources_toml()).expect("bench sources");
    all.into_iter().filter(|s| s.name == "crm").collect()
}

async fn crm(latency_ms: u64) -> CrmStandin {
    let crm = CrmStandin::start(StandinConfig {
        auth: StandinAuth::OAuth {
            client_id: "bench".into(),
            client_secret: "s3cret".into(),
        },
        latency: Duration::from_millis(latency_ms),
        ..StandinConfig::default()
    })
    .await
    .expect("CRM stand-in");
    for i in 0..KEYS {
        crm.put_customer(StandinCustomer {
            id: format!("K{i:05}"),
            name: format!("Customer {i}"),
            phone: format!("+1415555{i:04}"),
            email: format!("c{i}@example.com"),
            tier: "gold".into(),
            vip: i % 10 == 0,
            balance: format!("{i}.25"),
            since: "2020-02-02T10:00:00Z".into(),
            orders: 0,
        });
    }
    crm
}

async fn service(crm: &CrmStandin) -> CustomerService {
    let store = dialpop::store::open("sqlite::memory:")
        .await
        .expect("store");
    CustomerService::new(&CustomerConfig::default(), &sources(crm), store).expect("service")
}

fn lookup(i: usize) -> Lookup {
    Lookup::new(Some(&format!("K{i:05}")), None, None, "US")
}

fn pct(sorted: &[Duration], p: f64) -> f64 {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i].as_secs_f64() * 1000.0
}

struct Run {
    p50: f64,
    p99: f64,
    per_s: f64,
    requests: u64,
}

fn summarize(mut d: Vec<Duration>, wall: Duration, requests: u64) -> Run {
    d.sort();
    Run {
        p50: pct(&d, 0.50),
        p99: pct(&d, 0.99),
        per_s: d.len() as f64 / wall.as_secs_f64(),
        requests,
    }
}

/// Cache hits: every key warm, then lookups one after another.
async fn hits(crm: &CrmStandin) -> Run {
    let s = service(crm).await;
    for i in 0..KEYS {
        s.resolve(&lookup(i)).await;
    }
    let before = crm.api_requests();
    let keys: Vec<Lookup> = (0..KEYS).map(lookup).collect();
    let n = 200_000;
    let mut d = Vec::with_capacity(n);
    let started = Instant::now();
    for i in 0..n {
        let t = Instant::now();
        let v = s.resolve(&keys[i % KEYS]).await;
        d.push(t.elapsed());
        assert!(v.failures.is_empty());
    }
    summarize(d, started.elapsed(), crm.api_requests() - before)
}

/// The baseline: one request to the CRM per lookup (what dialpop would cost
/// without its cache), same stand-in, same mapping.
async fn uncached(crm: &CrmStandin) -> Run {
    let s = service(crm).await;
    let before = crm.api_requests();
    let n = 2_000;
    let mut d = Vec::with_capacity(n);
    let started = Instant::now();
    for i in 0..n {
        let t = Instant::now();
        let r = s
            .test_source("crm", &lookup(i % KEYS))
            .await
            .expect("source");
        d.push(t.elapsed());
        assert!(r.error.is_none());
    }
    summarize(d, started.elapsed(), crm.api_requests() - before)
}

/// 10,000 calls over 1,000 customers, CONCURRENT at a time; each answers
/// after RING_MS. With preload the lookup starts when the call is placed;
/// without, at the answer. Measured: the lookup at the answer.
async fn calls(crm: &CrmStandin, preload: bool) -> Run {
    let s = service(crm).await;
    let mut rng = rand::rngs::StdRng::seed_from_u64(7);
    let order: Vec<usize> = (0..LOOKUPS).map(|_| rng.random_range(0..KEYS)).collect();
    let before = crm.api_requests();
    let sem = Arc::new(tokio::sync::Semaphore::new(CONCURRENT));
    let started = Instant::now();
    let mut tasks = Vec::with_capacity(LOOKUPS);
    for k in order {
        let permit = sem.clone().acquire_owned().await.expect("semaphore");
        let s = s.clone();
        tasks.push(tokio::spawn(async move {
            let l = lookup(k);
            let preloading = preload.then(|| {
                let (s, l) = (s.clone(), l.clone());
                tokio::spawn(async move { s.resolve(&l).await })
            });
            tokio::time::sleep(Duration::from_millis(RING_MS)).await;
            let t = Instant::now();
            let v = match preloading {
                // The answer awaits the preload under way, never a second
                // request (as the dialer does).
                Some(h) => h.await.expect("preload"),
                None => s.resolve(&l).await,
            };
            let took = t.elapsed();
            drop(permit);
            assert!(v.failures.is_empty(), "{:?}", v.failures);
            took
        }));
    }
    let mut d = Vec::with_capacity(LOOKUPS);
    for t in tasks {
        d.push(t.await.expect("call"));
    }
    summarize(d, started.elapsed(), crm.api_requests() - before)
}

fn main() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(async {
        let fast = crm(0).await;
        let hit = hits(&fast).await;
        let raw = uncached(&fast).await;
        println!("cache hits vs a request per lookup (CRM stand-in at 0 ms, OAuth, loopback)");
        println!("{:<28} {:>12} {:>10} {:>10} {:>9}", "", "lookups/s", "p50 ms", "p99 ms", "requests");
        println!("{:<28} {:>12.0} {:>10.4} {:>10.4} {:>9}", "cache hit", hit.per_s, hit.p50, hit.p99, hit.requests);
        println!("{:<28} {:>12.0} {:>10.4} {:>10.4} {:>9}", "request per lookup (base)", raw.per_s, raw.p50, raw.p99, raw.requests);
        println!("ratio: cache hits are {:.0}x the baseline's lookups/s, p99 {:.0}x lower\n", hit.per_s / raw.per_s, raw.p99 / hit.p99);

        let slow = crm(CRM_MS).await;
        let without = calls(&slow, false).await;
        let with = calls(&slow, true).await;
        println!(
            "{LOOKUPS} answers over {KEYS} customers, CRM at {CRM_MS} ms, ring {RING_MS} ms, {CONCURRENT} calls at once"
        );
        println!("{:<28} {:>10} {:>10} {:>14}", "", "p50 ms", "p99 ms", "CRM requests");
        println!("{:<28} {:>10.3} {:>10.3} {:>14}", "lookup at answer (base)", without.p50, without.p99, without.requests);
        println!("{:<28} {:>10.3} {:>10.3} {:>14}", "preloaded at dial", with.p50, with.p99, with.requests);
        println!("ratio: preload cuts the answer's p99 {:.0}x", without.p99 / with.p99.max(1e-6));
    });
}
