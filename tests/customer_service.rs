//! The data layer end to end: the real CRM stand-in over HTTP, dialpop's
//! own SQLite store, and the real Redis on 127.0.0.1:6379. Nothing below
//! the HTTP or SQL socket is mocked.

use dialpop::customer::config::{CustomerConfig, SourceConfig, parse_sources};
use dialpop::customer::standin::{
    CrmStandin, StandinAuth, StandinConfig, StandinCustomer, StandinMode,
};
use dialpop::customer::{CustomerService, FailureKind, Lookup};
use dialpop::store::{Customer, Store, Task};
use serde_json::json;
use std::sync::Arc;
use std::time::Duration;

const REDIS_URL: &str = "redis://127.0.0.1:6379";
/// The key the daemons sharing the test's Redis seal their records with.
const REDIS_KEY: &str = "5e4c1d2b3a495867768590aabbccddeeff00112233445566778899aabbccddee";

fn redis_key() -> Option<dialpop::customer::config::Secret> {
    Some(dialpop::customer::config::Secret::Literal(REDIS_KEY.into()))
}

fn sources(text: &str) -> Vec<SourceConfig> {
    parse_sources(text).unwrap_or_else(|e| panic!("test sources do not parse: {e}\n{text}"))
}

/// The stand-in's `crm` record source, with `extra` settings.
fn crm_toml(crm: &CrmStandin, extra: &str) -> String {
    let all = crm.sources_toml();
    let orders = all
        .find("[[source]]\nname = \"orders\"")
        .expect("orders source");
    all[..orders].replace("name = \"crm\"\n", &format!("name = \"crm\"\n{extra}\n"))
}

/// The stand-in's `orders` history source.
fn orders_toml(crm: &CrmStandin) -> String {
    let all = crm.sources_toml();
    let orders = all
        .find("[[source]]\nname = \"orders\"")
        .expect("orders source");
    all[orders..].to_string()
}

async fn standin(latency_ms: u64) -> CrmStandin {
    CrmStandin::start(StandinConfig {
        auth: StandinAuth::OAuth {
            client_id: "dialpop".into(),
            client_secret: "s3cret".into(),
        },
        latency: Duration::from_millis(latency_ms),
        ..StandinConfig::default()
    })
    .await
    .expect("the CRM stand-in starts")
}

fn crm_customer(id: &str, n: usize) -> StandinCustomer {
    StandinCustomer {
        id: id.into(),
        name: format!("Ana Lima {n}"),
        phone: format!("+1415555{n:04}"),
        email: format!("Ana.Lima{n}@Example.com"),
        tier: "gold".into(),
        vip: n.is_multiple_of(2),
        balance: "1234.5".into(),
        since: "2019-03-01T10:00:00Z".into(),
        orders: 10_000,
    }
}

async fn memory_store() -> Arc<dyn Store> {
    dialpop::store::open("sqlite::memory:")
        .await
        .expect("in-memory store")
}

fn service(cfg: CustomerConfig, src: Vec<SourceConfig>, store: Arc<dyn Store>) -> CustomerService {
    CustomerService::new(&cfg, &src, store).expect("sources build")
}

fn by_id(id: &str) -> Lookup {
    Lookup::new(Some(id), None, None, "US")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_thousand_concurrent_lookups_of_one_key_make_one_request() {
    let crm = standin(50).await;
    crm.put_customer(crm_customer("C-1", 1));
    let s = service(
        CustomerConfig::default(),
        sources(&crm_toml(&crm, "")),
        memory_store().await,
    );
    let lookup = by_id("C-1");
    let views = futures::future::join_all((0..1000).map(|_| s.resolve(&lookup))).await;
    assert_eq!(crm.api_requests(), 1, "one request for 1,000 lookups");
    assert_eq!(crm.token_requests(), 1);
    for v in &views {
        assert!(v.failures.is_empty(), "{:?}", v.failures);
        assert_eq!(v.fields["name"], json!("Ana Lima 1"));
    }
    assert_eq!(views.iter().map(|v| v.requests).sum::<u32>(), 1);
    let c = &s.sources()[0].counters;
    assert_eq!((c.lookups, c.requests, c.memory_hits), (1000, 1, 999));
    // Later lookups are hits too.
    s.resolve(&lookup).await;
    assert_eq!(crm.api_requests(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sources_merge_by_precedence_and_keys_found_on_the_way_open_other_sources() {
    let crm = standin(0).await;
    crm.put_customer(crm_customer("C-7", 7));
    let store = memory_store().await;
    store
        .upsert_customer(&Customer {
            id: "C-7".into(),
            name: "ana lima (old)".into(),
            phone: "+14155550007".into(),
            email: None,
            tier: Some("silver".into()),
            vip: false,
            fields: serde_json::Map::from_iter([("city".to_string(), json!("Lisboa"))]),
        })
        .await
        .expect("customer");
    let base = crm.base_url();
    // A third source keyed by e-mail: the task has none, the CRM gives it.
    let by_email = format!(
        r#"
        [[source]]
        name = "support"
        kind = "rest"
        key = "email"
        url = "{base}/api/v1/customers/by-email/{{email}}"
        record_path = "data"
        auth = {{ type = "oauth2", token_url = "{base}/oauth/token", client_id = "dialpop", client_secret = "s3cret" }}
        [source.fields]
        open_tickets = {{ path = "Flags.OpenTickets", type = "integer" }}
        "#
    );
    let text = format!(
        "[[source]]\nname = \"internal\"\nkind = \"internal\"\n{}{}{}",
        crm_toml(&crm, ""),
        by_email,
        orders_toml(&crm)
    );
    let mut cfg = CustomerConfig::default();
    cfg.precedence.insert("name".into(), vec!["crm".into()]);
    // The CRM has a count too, but the support desk's is the one to show.
    cfg.precedence
        .insert("open_tickets".into(), vec!["support".into()]);
    let s = service(cfg, sources(&text), store);
    let v = s
        .resolve(&Lookup::new(Some("C-7"), Some("4155550007"), None, "US"))
        .await;
    assert!(v.failures.is_empty(), "{:?}", v.failures);
    assert!(v.found);
    // Precedence: the CRM's name; the store's tier (declared first).
    assert_eq!(v.fields["name"], json!("Ana Lima 7"));
    assert_eq!(v.sources["name"], json!("crm"));
    assert_eq!(v.fields["tier"], json!("silver"));
    assert_eq!(v.sources["tier"], json!("internal"));
    assert_eq!(v.fields["city"], json!("Lisboa"));
    assert_eq!(v.fields["balance"], json!("1234.50"));
    assert_eq!(v.fields["customer_since"], json!("2019-03-01"));
    // The e-mail came from the CRM and opened the e-mail-keyed source.
    assert_eq!(v.sources["email"], json!("crm"));
    assert!(v.fields.contains_key("open_tickets"), "{:?}", v.fields);
    assert_eq!(v.sources["open_tickets"], json!("support"));
    let asked = crm.request_log();
    let email_request = asked
        .iter()
        .find(|r| r.raw_path_and_query.contains("by-email"))
        .expect("the support source was asked");
    // Normalised (lower case) and percent-encoded in its own segment.
    assert!(
        email_request
            .raw_path_and_query
            .ends_with("/ana.lima7%40example.com"),
        "{}",
        email_request.raw_path_and_query
    );
    // History: the first page only, of a customer with 10,000 orders.
    assert_eq!(v.history.len(), 1);
    let h = &v.history[0];
    assert_eq!((h.source.as_str(), h.title.as_str()), ("orders", "Orders"));
    assert_eq!(h.page.items.len(), 3);
    assert_eq!(h.page.total, Some(10_000));
    assert_eq!(h.page.next_offset, Some(3));
    // The next pages, a page at a time, never the whole list.
    let lookup = by_id("C-7");
    let mut offset = 3;
    let mut seen = h.page.items.clone();
    for _ in 0..3 {
        let page = s
            .history_page(
                "orders",
                &lookup,
                dialpop::customer::PageRequest {
                    limit: 0,
                    offset,
                    cursor: None,
                },
            )
            .await
            .expect("a history source")
            .expect("a page");
        assert_eq!(page.items.len(), 3);
        seen.extend(page.items.clone());
        offset = page.next_offset.expect("more pages");
    }
    let ids: std::collections::HashSet<_> = seen.iter().map(|o| o["order"].clone()).collect();
    assert_eq!(ids.len(), 12, "pages do not overlap");
    for r in crm
        .request_log()
        .iter()
        .filter(|r| r.raw_path_and_query.contains("/orders"))
    {
        assert!(
            r.raw_path_and_query.contains("limit=3"),
            "{}",
            r.raw_path_and_query
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_source_degrades_the_pop_and_it_still_goes_out() {
    let crm = standin(0).await;
    crm.put_customer(crm_customer("C-2", 2));
    let store = memory_store().await;
    store
        .upsert_customer(&Customer {
            id: "C-2".into(),
            name: "Ana from the store".into(),
            phone: "+14155550002".into(),
            email: None,
            tier: None,
            vip: false,
            fields: Default::default(),
        })
        .await
        .expect("customer");
    let text = format!(
        "[[source]]\nname = \"internal\"\nkind = \"internal\"\n{}",
        crm_toml(&crm, "retries = 0\nttl_seconds = 0")
    );
    let s = service(CustomerConfig::default(), sources(&text), store);
    let task = Task {
        id: 9,
        campaign_id: "camp".into(),
        customer_id: "C-2".into(),
        phone: "+14155550002".into(),
        priority: 0,
        status: dialpop::store::TaskStatus::Dialing,
        attempts: 1,
        ..Task::default()
    };
    let templates = dialpop::popup::template::Templates::default();
    let look = dialpop::popup::Look {
        templates: &templates,
        level: None,
        locale: dialpop::popup::format::Locale::En,
        trigger: dialpop::campaign::settings::PopTrigger::Answer,
    };
    let pop = |v: &dialpop::customer::CustomerView| {
        serde_json::to_value(dialpop::popup::build_pop(
            "p",
            "c",
            &task,
            Some(v.clone()),
            false,
            look,
            dialpop::popup::messages::PopCallState::Answered,
        ))
        .expect("json")
    };

    // A 503: the store's fields, degraded, the reason names the source.
    crm.set_mode(StandinMode::Failing(503));
    let v = s.resolve(&s.lookup_for_task(&task)).await;
    assert_eq!(v.failures.len(), 1);
    assert_eq!(v.failures[0].source, "crm");
    assert_eq!(v.failures[0].kind, FailureKind::HttpStatus(503));
    let p = pop(&v);
    assert_eq!(p["degraded"], json!(true));
    assert_eq!(p["customer"]["name"], json!("Ana from the store"));
    // The screen the page draws carries the same record.
    assert_eq!(
        p["screen"]["header"][0]["value"],
        json!("Ana from the store")
    );
    assert!(
        p["reasons"][0]
            .as_str()
            .is_some_and(|r| r.starts_with("crm: ") && r.contains("503")),
        "{p}"
    );

    // Malformed JSON, then a timeout: each its own reason.
    crm.set_mode(StandinMode::Malformed);
    let v = s.resolve(&s.lookup_for_task(&task)).await;
    assert_eq!(v.failures[0].kind, FailureKind::Json);
    crm.set_mode(StandinMode::Slow(Duration::from_millis(1500)));
    let v = s.resolve(&s.lookup_for_task(&task)).await;
    assert_eq!(v.failures[0].kind, FailureKind::Timeout);

    // A mapping that does not fit: the reason names source, field and
    // path, but not the customer's value (pops and logs carry no data
    // beyond the pop's own fields).
    crm.set_mode(StandinMode::Normal);
    let text = crm_toml(&crm, "ttl_seconds = 0").replace(
        "name = \"Account.Name\"",
        "name = { path = \"Account.Name\", type = \"integer\" }",
    );
    let s2 = service(
        CustomerConfig::default(),
        sources(&text),
        memory_store().await,
    );
    let v = s2.resolve(&s2.lookup_for_task(&task)).await;
    assert_eq!(v.failures[0].kind, FailureKind::Mapping);
    let d = &v.failures[0].detail;
    assert!(
        d.contains("crm") && d.contains("field name") && d.contains("Account.Name"),
        "{d}"
    );
    assert!(!d.contains("Ana Lima"), "{d}");
    // The connection test shows the value to whoever runs it.
    let report = s2.test_source("crm", &by_id("C-2")).await.expect("source");
    let shown = report.error.expect("mapping error").detail;
    assert!(shown.contains("Ana Lima 2"), "{shown}");

    // Nothing at all: the task's own fields, and the reasons.
    crm.set_mode(StandinMode::Failing(500));
    let s3 = service(
        CustomerConfig::default(),
        sources(&crm_toml(&crm, "retries = 0")),
        memory_store().await,
    );
    let v = s3.resolve(&s3.lookup_for_task(&task)).await;
    assert!(!v.found);
    let p = pop(&v);
    assert_eq!(p["customer"], json!({"id": "C-2", "phone": "+14155550002"}));
    assert_eq!(p["degraded"], json!(true));
    assert_eq!(p["reasons"].as_array().map(Vec::len), Some(1));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dead_crm_costs_one_timeout_per_interval_not_one_per_call() {
    let crm = standin(0).await;
    for i in 0..20 {
        crm.put_customer(crm_customer(&format!("D-{i}"), i));
    }
    crm.set_mode(StandinMode::Hang);
    let text = crm_toml(
        &crm,
        "retries = 0\nbreaker = { failures = 2, open_seconds = 0.6 }",
    )
    .replace("timeout_ms = 1000", "timeout_ms = 150");
    let s = service(
        CustomerConfig::default(),
        sources(&text),
        memory_store().await,
    );
    // Twenty calls in a row, each a different customer (no cache to help).
    let mut kinds = Vec::new();
    for i in 0..20 {
        let v = s.resolve(&by_id(&format!("D-{i}"))).await;
        kinds.push(v.failures[0].kind);
    }
    assert_eq!(&kinds[..2], &[FailureKind::Timeout, FailureKind::Timeout]);
    assert!(
        kinds[2..].iter().all(|k| *k == FailureKind::CircuitOpen),
        "{kinds:?}"
    );
    assert_eq!(crm.api_requests(), 2, "the open breaker sent nothing");
    // After the interval, one trial; it fails, so the breaker opens again.
    tokio::time::sleep(Duration::from_millis(700)).await;
    let trials = futures::future::join_all((20..30).map(|i| {
        crm.put_customer(crm_customer(&format!("D-{i}"), i));
        let s = s.clone();
        async move { s.resolve(&by_id(&format!("D-{i}"))).await }
    }))
    .await;
    assert_eq!(crm.api_requests(), 3, "one trial request, not ten");
    assert_eq!(
        trials
            .iter()
            .filter(|v| v.failures[0].kind == FailureKind::Timeout)
            .count(),
        1
    );
    // The CRM is back: after the interval the trial succeeds and closes it.
    crm.set_mode(StandinMode::Normal);
    tokio::time::sleep(Duration::from_millis(700)).await;
    let v = s.resolve(&by_id("D-3")).await;
    assert!(v.failures.is_empty(), "{:?}", v.failures);
    let v = s.resolve(&by_id("D-4")).await;
    assert!(v.failures.is_empty(), "{:?}", v.failures);
    let listed = &s.sources()[0];
    assert_eq!(listed.counters.failures.get("timeout"), Some(&3));
    assert!(
        listed
            .counters
            .failures
            .get("circuit_open")
            .copied()
            .unwrap_or(0)
            >= 18
    );
}

/// The real Redis, or a loud failure.
async fn redis_or_fail() {
    let client = redis::Client::open(REDIS_URL).expect("redis url");
    let ping = async {
        let mut c = client.get_multiplexed_async_connection().await?;
        redis::cmd("PING").query_async::<String>(&mut c).await
    };
    match tokio::time::timeout(Duration::from_secs(3), ping).await {
        Ok(Ok(_)) => {}
        other => {
            panic!("Redis at {REDIS_URL} is needed for this test and is unreachable: {other:?}")
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_shares_answers_between_daemons_and_invalidation_reaches_all() {
    redis_or_fail().await;
    let crm = standin(0).await;
    // A key no earlier run has cached.
    let id = format!("R-{}-{}", std::process::id(), uuid::Uuid::new_v4());
    crm.put_customer(crm_customer(&id, 3));
    let cfg = CustomerConfig {
        redis_url: Some(REDIS_URL.into()),
        redis_key: redis_key(),
        ..CustomerConfig::default()
    };
    let text = crm_toml(&crm, "");
    let a = service(cfg.clone(), sources(&text), memory_store().await);
    let b = service(cfg, sources(&text), memory_store().await);
    let lookup = Lookup::new(Some(&id), Some("+14155550003"), None, "US");
    let va = a.resolve(&lookup).await;
    assert!(va.failures.is_empty(), "{:?}", va.failures);
    assert_eq!(crm.api_requests(), 1);
    // The second daemon finds it in Redis: no request.
    let vb = b.resolve(&lookup).await;
    assert_eq!(vb.fields, va.fields);
    assert_eq!(crm.api_requests(), 1);
    assert_eq!(b.sources()[0].counters.redis_hits, 1);
    // Invalidated on one daemon by the phone number (another key than the
    // one the source is asked by): gone from Redis and from both memories.
    tokio::time::sleep(Duration::from_millis(300)).await; // b's listener subscribed
    let n = a.invalidate("(415) 555-0003").await;
    assert!(n >= 2, "memory and Redis entries: {n}");
    let mut waited = 0;
    while b.cached_entries().await > 0 {
        tokio::time::sleep(Duration::from_millis(20)).await;
        waited += 1;
        assert!(waited < 150, "the other daemon never dropped its copy");
    }
    b.resolve(&lookup).await;
    assert_eq!(
        crm.api_requests(),
        2,
        "after invalidation the CRM is asked again"
    );
    a.resolve(&lookup).await;
    assert_eq!(
        crm.api_requests(),
        2,
        "and the answer is shared again through Redis"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreachable_redis_costs_the_second_level_not_the_lookup() {
    let crm = standin(0).await;
    crm.put_customer(crm_customer("U-1", 1));
    let cfg = CustomerConfig {
        redis_url: Some("redis://127.0.0.1:1".into()),
        redis_key: redis_key(),
        ..CustomerConfig::default()
    };
    let s = service(cfg, sources(&crm_toml(&crm, "")), memory_store().await);
    let v = s.resolve(&by_id("U-1")).await;
    assert!(v.failures.is_empty(), "{:?}", v.failures);
    assert_eq!(v.fields["name"], json!("Ana Lima 1"));
    s.resolve(&by_id("U-1")).await;
    assert_eq!(crm.api_requests(), 1, "the memory level still works");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_task_keys_are_normalised_and_bound_per_lookup() {
    let s = service(CustomerConfig::default(), Vec::new(), memory_store().await);
    let task = Task {
        id: 41,
        campaign_id: "camp".into(),
        customer_id: "C-9".into(),
        phone: "+1 (415) 555-0199".into(),
        priority: 0,
        status: dialpop::store::TaskStatus::Dialing,
        attempts: 0,
        ..Task::default()
    };
    let l = s.lookup_for_task(&task);
    assert_eq!(l.phone.as_deref(), Some("+14155550199"));
    assert_eq!(l.param("task_id"), Some("41"));
    assert_eq!(l.param("campaign_id"), Some("camp"));
    // No source declared: the store's customers and calls.
    let names: Vec<String> = s.sources().into_iter().map(|x| x.name).collect();
    assert_eq!(names, ["internal", "calls"]);
}

/// What the shared Redis holds after a lookup: sealed entries under keyed
/// names, no name, number or customer id in clear in any key or value; a
/// daemon with another key cannot read them (it asks the source); and a
/// Redis without a key is refused.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_shared_redis_holds_no_customer_data_in_clear() {
    redis_or_fail().await;
    let crm = standin(0).await;
    let id = format!("S-{}-{}", std::process::id(), uuid::Uuid::new_v4());
    crm.put_customer(crm_customer(&id, 7));
    let cfg = CustomerConfig {
        redis_url: Some(REDIS_URL.into()),
        redis_key: redis_key(),
        ..CustomerConfig::default()
    };
    let text = crm_toml(&crm, "");
    let before = redis_dump().await;
    let a = service(cfg.clone(), sources(&text), memory_store().await);
    let lookup = Lookup::new(Some(&id), Some("+14155550007"), None, "US");
    let v = a.resolve(&lookup).await;
    assert!(v.failures.is_empty(), "{:?}", v.failures);
    let name = v.fields["name"].as_str().expect("name").to_string();
    let added: Vec<(String, Vec<u8>)> = redis_dump()
        .await
        .into_iter()
        .filter(|(k, _)| !before.iter().any(|(b, _)| b == k))
        .collect();
    assert!(
        added
            .iter()
            .any(|(k, _)| k.starts_with("dialpop:customer:v2:e:")),
        "the entry went to Redis: {added:?}"
    );
    for (k, value) in &added {
        for clear in [id.as_str(), "4155550007", name.as_str()] {
            assert!(!k.contains(clear), "{clear} in the key {k}");
            assert!(
                !value.windows(clear.len()).any(|w| w == clear.as_bytes()),
                "{clear} in clear in the value of {k}"
            );
        }
    }
    // Another key: the entries do not open; the source is asked again.
    let other = CustomerConfig {
        redis_key: Some(dialpop::customer::config::Secret::Literal("11".repeat(32))),
        ..cfg.clone()
    };
    let b = service(other, sources(&text), memory_store().await);
    let requests = crm.api_requests();
    let vb = b.resolve(&lookup).await;
    assert_eq!(vb.fields["name"], v.fields["name"]);
    assert_eq!(
        crm.api_requests(),
        requests + 1,
        "another key reads nothing"
    );
    // No key, no Redis.
    let err = CustomerService::new(
        &CustomerConfig {
            redis_key: None,
            ..cfg
        },
        &sources(&text),
        memory_store().await,
    )
    .err()
    .expect("refused");
    assert!(err.contains("customer.redis_key"), "{err}");
}

/// Every dialpop key in the test Redis, with its value (strings) or its
/// members (sets, joined).
async fn redis_dump() -> Vec<(String, Vec<u8>)> {
    let client = redis::Client::open(REDIS_URL).expect("redis url");
    let mut c = client
        .get_multiplexed_async_connection()
        .await
        .expect("redis");
    let keys: Vec<String> = redis::cmd("KEYS")
        .arg("dialpop:customer:v2:*")
        .query_async(&mut c)
        .await
        .expect("keys");
    let mut out = Vec::new();
    for k in keys {
        let kind: String = redis::cmd("TYPE")
            .arg(&k)
            .query_async(&mut c)
            .await
            .expect("type");
        let value = if kind == "set" {
            let m: Vec<String> = redis::cmd("SMEMBERS")
                .arg(&k)
                .query_async(&mut c)
                .await
                .expect("members");
            m.join(",").into_bytes()
        } else {
            redis::cmd("GET")
                .arg(&k)
                .query_async::<Option<Vec<u8>>>(&mut c)
                .await
                .ok()
                .flatten()
                .unwrap_or_default()
        };
        out.push((k, value));
    }
    out
}
