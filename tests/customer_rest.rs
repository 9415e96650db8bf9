//! The REST source driver against the CRM stand-in, over real sockets:
//! records, auth schemes, failures by kind, retries, paging, and customer
//! values that try to escape their URL segment.

use dialpop::customer::config::SourceConfig;
use dialpop::customer::rest::{RestSource, fill_url_template};
use dialpop::customer::standin::{
    CrmStandin, StandinAuth, StandinConfig, StandinCustomer, StandinMode,
};
use dialpop::customer::{FailureKind, Lookup, PageRequest, Query, Raw, SourceDriver, SourceError};
use percent_encoding::percent_decode_str;
use proptest::prelude::*;
use serde_json::Value;
use std::collections::HashSet;
use std::time::{Duration, Instant};

const PHONE: &str = "+14155550123";
const EMAIL: &str = "ana.lima@example.com";

fn ana() -> StandinCustomer {
    StandinCustomer {
        id: "C-1001".into(),
        name: "Ana Lima".into(),
        phone: PHONE.into(),
        email: EMAIL.into(),
        tier: "gold".into(),
        vip: true,
        balance: "1234.50".into(),
        since: "2019-03-01T10:00:00Z".into(),
        orders: 3,
    }
}

fn ana_lookup() -> Lookup {
    Lookup::new(Some("C-1001"), Some(PHONE), Some(EMAIL), "US")
}

async fn standin(auth: StandinAuth) -> CrmStandin {
    let s = CrmStandin::start(StandinConfig {
        auth,
        ..Default::default()
    })
    .await
    .expect("stand-in starts");
    s.put_customer(ana());
    s
}

/// A source from a `[[source]]` table; `url` is a template, `extra` more
/// keys.
fn source(url: &str, extra: &str) -> RestSource {
    let text = format!("name = \"crm\"\nkind = \"rest\"\nurl = '{url}'\n{extra}");
    let cfg: SourceConfig = toml::from_str(&text).expect("config parses");
    RestSource::new(&cfg).expect("source is valid")
}

fn source_err(url: &str, extra: &str) -> String {
    let text = format!("name = \"crm\"\nkind = \"rest\"\nurl = '{url}'\n{extra}");
    let cfg: SourceConfig = toml::from_str(&text).expect("config parses");
    RestSource::new(&cfg).expect_err("source is refused")
}

async fn fetch(src: &RestSource, lookup: &Lookup) -> Result<Raw, SourceError> {
    fetch_page(src, lookup, &PageRequest::default()).await
}

async fn fetch_page(
    src: &RestSource,
    lookup: &Lookup,
    page: &PageRequest,
) -> Result<Raw, SourceError> {
    src.fetch(&Query { lookup, page }).await
}

fn found(r: Result<Raw, SourceError>) -> Value {
    match r {
        Ok(Raw::Found { doc, raw }) => {
            assert_eq!(serde_json::from_str::<Value>(&raw).ok(), Some(doc.clone()));
            doc
        }
        other => panic!("expected a record, got {other:?}"),
    }
}

fn failure(r: Result<Raw, SourceError>) -> SourceError {
    match r {
        Err(e) => {
            assert!(!e.detail.contains("4155550123"), "{e}");
            assert!(!e.detail.contains("C-1001"), "{e}");
            e
        }
        Ok(raw) => panic!("expected a failure, got {raw:?}"),
    }
}

fn by_id(s: &CrmStandin) -> String {
    format!("{}/api/v1/customers/{{customer_id}}", s.base_url())
}

#[tokio::test]
async fn a_record_is_found_by_id_phone_email_and_search() {
    let s = standin(StandinAuth::None).await;
    let l = ana_lookup();

    let doc = found(fetch(&source(&by_id(&s), ""), &l).await);
    assert_eq!(doc["data"]["Account"]["Name"], "Ana Lima");
    assert_eq!(doc["data"]["Account"]["Balance"], "1234.50");
    assert_eq!(doc["data"]["Account"]["Vip"], true);
    assert_eq!(doc["data"]["Contacts"][0]["Phone"], PHONE);

    let base = s.base_url();
    for url in [
        format!("{base}/api/v1/customers/by-phone/{{phone}}"),
        format!("{base}/api/v1/customers/by-email/{{email}}"),
    ] {
        let doc = found(fetch(&source(&url, ""), &l).await);
        assert_eq!(doc["data"]["Account"]["Id"], "C-1001");
    }
    let log = s.request_log();
    assert_eq!(
        log[1].raw_path_and_query,
        "/api/v1/customers/by-phone/%2B14155550123"
    );
    assert_eq!(
        log[2].raw_path_and_query,
        "/api/v1/customers/by-email/ana.lima%40example.com"
    );

    let search = source(
        &format!("{base}/api/v1/customers/search"),
        "method = \"POST\"\nbody = { phone = \"{phone}\", page = { limit = \"{limit}\" } }",
    );
    let page = PageRequest {
        limit: 5,
        ..Default::default()
    };
    let doc = found(fetch_page(&search, &l, &page).await);
    assert_eq!(doc["data"]["Account"]["Id"], "C-1001");
    let sent: Value = serde_json::from_str(&s.request_log()[3].body).expect("JSON body");
    assert_eq!(
        sent,
        serde_json::json!({"phone": PHONE, "page": {"limit": 5}})
    );
    assert_eq!(s.api_requests(), 4);
}

#[tokio::test]
async fn an_unknown_customer_is_not_found() {
    let s = standin(StandinAuth::None).await;
    let l = Lookup::new(Some("C-404"), None, None, "US");
    match fetch(&source(&by_id(&s), ""), &l).await {
        Ok(Raw::NotFound { raw }) => assert!(raw.contains("not found")),
        other => panic!("expected not found, got {other:?}"),
    }
    // No key, no request: the URL would name the whole collection.
    let none = Lookup::new(None, Some(PHONE), None, "US");
    assert!(matches!(
        fetch(&source(&by_id(&s), ""), &none).await,
        Ok(Raw::NotFound { .. })
    ));
    assert_eq!(s.api_requests(), 1);
}

fn oauth_extra(s: &CrmStandin, secret: &str) -> String {
    format!(
        "auth = {{ type = \"oauth2\", token_url = \"{}/oauth/token\", client_id = \"dialpop\", client_secret = \"{secret}\", scope = \"customers:read orders:read\" }}",
        s.base_url()
    )
}

fn oauth_standin_auth() -> StandinAuth {
    StandinAuth::OAuth {
        client_id: "dialpop".into(),
        client_secret: "s3cret&=+".into(),
    }
}

#[tokio::test]
async fn one_oauth_token_serves_many_requests_even_concurrent_ones() {
    let s = standin(oauth_standin_auth()).await;
    let src = source(&by_id(&s), &oauth_extra(&s, "s3cret&=+"));
    let l = ana_lookup();
    let results = futures::future::join_all((0..20).map(|_| fetch(&src, &l))).await;
    for r in results {
        found(r);
    }
    for _ in 0..10 {
        found(fetch(&src, &l).await);
    }
    assert_eq!(s.token_requests(), 1);
    assert_eq!(s.api_requests(), 30);
    let log = s.request_log();
    let token_req = log
        .iter()
        .find(|r| r.raw_path_and_query == "/oauth/token")
        .expect("token request");
    assert_eq!(token_req.method, "POST");
    assert_eq!(
        token_req.body,
        "grant_type=client_credentials&client_id=dialpop&client_secret=s3cret%26%3D%2B&scope=customers%3Aread%20orders%3Aread"
    );
    let api_auth = log
        .iter()
        .find(|r| r.decoded_segments.first().map(String::as_str) == Some("api"))
        .and_then(|r| r.authorization.clone())
        .expect("bearer sent");
    assert!(api_auth.starts_with("Bearer "));
    assert!(!format!("{src:?}").contains("s3cret"));
}

#[tokio::test]
async fn an_oauth_token_is_renewed_before_it_expires() {
    let s = CrmStandin::start(StandinConfig {
        auth: oauth_standin_auth(),
        token_ttl: Duration::from_secs(4),
        ..Default::default()
    })
    .await
    .expect("stand-in starts");
    s.put_customer(ana());
    let src = source(&by_id(&s), &oauth_extra(&s, "s3cret&=+"));
    let l = ana_lookup();
    found(fetch(&src, &l).await);
    found(fetch(&src, &l).await);
    assert_eq!(s.token_requests(), 1);
    // Past the renewal point (half of a 4 s life) but before expiry.
    tokio::time::sleep(Duration::from_millis(2300)).await;
    found(fetch(&src, &l).await);
    assert_eq!(s.token_requests(), 2);
    // No request was refused on the way: the old token was never late.
    assert_eq!(s.api_requests(), 3);
}

#[tokio::test]
async fn a_401_fetches_a_new_token_once_and_the_request_succeeds() {
    let s = standin(oauth_standin_auth()).await;
    let src = source(&by_id(&s), &oauth_extra(&s, "s3cret&=+"));
    let l = ana_lookup();
    found(fetch(&src, &l).await);
    assert_eq!((s.token_requests(), s.api_requests()), (1, 1));

    s.set_mode(StandinMode::Unauthorized401Once);
    found(fetch(&src, &l).await);
    assert_eq!((s.token_requests(), s.api_requests()), (2, 3));
    let log = s.request_log();
    assert_ne!(log[1].authorization, log[4].authorization);

    // Only once: a CRM refusing every token is an auth failure, not a loop.
    s.set_auth(StandinAuth::OAuth {
        client_id: "dialpop".into(),
        client_secret: "rotated".into(),
    });
    s.set_mode(StandinMode::Unauthorized401Once);
    let e = failure(fetch(&src, &l).await);
    assert_eq!(e.kind, FailureKind::Auth);
    assert_eq!((s.token_requests(), s.api_requests()), (3, 4));
}

#[tokio::test]
async fn a_refused_client_secret_is_an_auth_failure() {
    let s = standin(oauth_standin_auth()).await;
    let src = source(&by_id(&s), &oauth_extra(&s, "wrong"));
    let e = failure(fetch(&src, &ana_lookup()).await);
    assert_eq!(e.kind, FailureKind::Auth);
    assert!(!e.detail.contains("wrong"), "{e}");
    assert_eq!(s.api_requests(), 0);

    let unset = source_err(
        &by_id(&s),
        "auth = { type = \"oauth2\", token_url = \"http://127.0.0.1:1/t\", client_id = \"x\", client_secret = { env = \"DIALPOP_TEST_SURELY_UNSET_SECRET\" } }",
    );
    assert!(unset.starts_with("auth.client_secret:"), "{unset}");
    assert!(
        unset.contains("DIALPOP_TEST_SURELY_UNSET_SECRET"),
        "{unset}"
    );
}

#[tokio::test]
async fn bearer_api_key_and_basic_credentials_are_sent_and_checked() {
    let cases: [(StandinAuth, &str, &str); 5] = [
        (
            StandinAuth::Bearer("tok-123".into()),
            "auth = { type = \"bearer\", token = \"tok-123\" }",
            "auth = { type = \"bearer\", token = \"tok-124\" }",
        ),
        (
            StandinAuth::ApiKeyHeader("x-api-key".into(), "k-1".into()),
            "auth = { type = \"api_key\", value = \"k-1\" }",
            "auth = { type = \"api_key\", value = \"k-2\" }",
        ),
        (
            StandinAuth::ApiKeyQuery("api_key".into(), "k&y=1 /+".into()),
            "auth = { type = \"api_key\", in = \"query\", name = \"api_key\", value = \"k&y=1 /+\" }",
            "auth = { type = \"api_key\", in = \"query\", name = \"api_key\", value = \"k&y=1 /\" }",
        ),
        (
            StandinAuth::Basic("dialpop".into(), "pa:ss wörd".into()),
            "auth = { type = \"basic\", username = \"dialpop\", password = \"pa:ss wörd\" }",
            "auth = { type = \"basic\", username = \"dialpop\", password = \"pa:ss\" }",
        ),
        (
            StandinAuth::Bearer("tok-123".into()),
            "auth = { type = \"bearer\", token = \"tok-123\" }",
            "",
        ),
    ];
    for (auth, good, bad) in cases {
        let s = standin(auth.clone()).await;
        let url = format!("{}?fields=all", by_id(&s));
        let doc = found(fetch(&source(&url, good), &ana_lookup()).await);
        assert_eq!(doc["data"]["Account"]["Id"], "C-1001", "{auth:?}");
        let e = failure(fetch(&source(&url, bad), &ana_lookup()).await);
        assert_eq!(e.kind, FailureKind::Auth, "{auth:?}");
        assert_eq!(e.detail, "HTTP 401 Unauthorized");
        if let StandinAuth::ApiKeyQuery(..) = auth {
            let sent = &s.request_log()[0].raw_path_and_query;
            assert!(
                sent.ends_with("?fields=all&api_key=k%26y%3D1+%2F%2B"),
                "{sent}"
            );
            let described = source(&url, good).describe();
            assert!(!described.contains("k&y"), "{described}");
        }
    }
}

#[tokio::test]
async fn a_slow_crm_times_out_after_about_the_timeout() {
    let s = standin(StandinAuth::None).await;
    s.set_mode(StandinMode::Slow(Duration::from_secs(5)));
    let src = source(&by_id(&s), "timeout_ms = 200\nretries = 0");
    let started = Instant::now();
    let e = failure(fetch(&src, &ana_lookup()).await);
    let took = started.elapsed();
    assert_eq!(e.kind, FailureKind::Timeout, "{e}");
    assert!(took < Duration::from_millis(1000), "{took:?}");

    // A hanging CRM likewise, and a timeout is tried again.
    s.set_mode(StandinMode::Hang);
    s.reset_counters();
    let src = source(&by_id(&s), "timeout_ms = 200\nretries = 1");
    let started = Instant::now();
    let e = failure(fetch(&src, &ana_lookup()).await);
    let took = started.elapsed();
    assert_eq!(e.kind, FailureKind::Timeout, "{e}");
    assert!(took < Duration::from_millis(2000), "{took:?}");
    assert_eq!(s.api_requests(), 2);
    s.shutdown().await;
}

#[tokio::test]
async fn failing_requests_are_retried_only_when_idempotent() {
    let s = standin(StandinAuth::None).await;
    s.set_mode(StandinMode::Failing(503));
    let e = failure(fetch(&source(&by_id(&s), "retries = 2"), &ana_lookup()).await);
    assert_eq!(e.kind, FailureKind::HttpStatus(503));
    assert_eq!(e.detail, "HTTP 503 Service Unavailable");
    assert_eq!(s.api_requests(), 3);

    let search = format!("{}/api/v1/customers/search", s.base_url());
    let post = "method = \"POST\"\nbody = { customer_id = \"{customer_id}\" }\nretries = 2";
    s.reset_counters();
    let e = failure(fetch(&source(&search, post), &ana_lookup()).await);
    assert_eq!(e.kind, FailureKind::HttpStatus(503));
    assert_eq!(s.api_requests(), 1);

    s.reset_counters();
    let idempotent = format!("{post}\nidempotent = true");
    failure(fetch(&source(&search, &idempotent), &ana_lookup()).await);
    assert_eq!(s.api_requests(), 3);

    // Not every status is worth another try.
    s.set_mode(StandinMode::Failing(400));
    s.reset_counters();
    let e = failure(fetch(&source(&by_id(&s), "retries = 2"), &ana_lookup()).await);
    assert_eq!(e.kind, FailureKind::HttpStatus(400));
    assert_eq!(s.api_requests(), 1);
    s.set_mode(StandinMode::Failing(403));
    let e = failure(fetch(&source(&by_id(&s), "retries = 2"), &ana_lookup()).await);
    assert_eq!(e.kind, FailureKind::Auth);

    // Back to normal: the same source answers.
    s.set_mode(StandinMode::Normal);
    found(fetch(&source(&by_id(&s), "retries = 2"), &ana_lookup()).await);
}

#[tokio::test]
async fn retry_after_is_honoured_when_short_and_ends_the_tries_when_long() {
    let s = standin(StandinAuth::None).await;
    s.set_mode(StandinMode::Throttled {
        status: 429,
        retry_after_secs: 1,
    });
    let started = Instant::now();
    let e = failure(fetch(&source(&by_id(&s), "retries = 1"), &ana_lookup()).await);
    assert_eq!(e.kind, FailureKind::HttpStatus(429));
    assert!(started.elapsed() >= Duration::from_secs(1));
    assert_eq!(s.api_requests(), 2);

    s.set_mode(StandinMode::Throttled {
        status: 503,
        retry_after_secs: 30,
    });
    s.reset_counters();
    let started = Instant::now();
    let e = failure(fetch(&source(&by_id(&s), "retries = 3"), &ana_lookup()).await);
    assert_eq!(e.kind, FailureKind::HttpStatus(503));
    assert!(started.elapsed() < Duration::from_secs(1));
    assert_eq!(s.api_requests(), 1);
}

#[tokio::test]
async fn malformed_and_oversized_bodies_are_refused_without_quoting_them() {
    let s = standin(StandinAuth::None).await;
    s.set_mode(StandinMode::Malformed);
    let e = failure(fetch(&source(&by_id(&s), ""), &ana_lookup()).await);
    assert_eq!(e.kind, FailureKind::Json);
    assert!(e.detail.contains("line 1"), "{e}");
    assert!(!e.detail.contains("Account"), "{e}");
    assert_eq!(s.api_requests(), 1, "a bad body is not retried");

    s.set_mode(StandinMode::Oversized(5 * 1024 * 1024));
    let e = failure(fetch(&source(&by_id(&s), ""), &ana_lookup()).await);
    assert_eq!(e.kind, FailureKind::TooLarge);
}

#[tokio::test]
async fn transport_failures_are_told_apart() {
    let l = ana_lookup();
    let tail = "/api/v1/customers/{phone}";

    let e = failure(fetch(&source(&format!("http://crm.invalid{tail}"), ""), &l).await);
    assert_eq!(e.kind, FailureKind::Dns, "{e}");

    let closed = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = closed.local_addr().expect("addr").port();
    drop(closed);
    let started = Instant::now();
    let e = failure(
        fetch(
            &source(&format!("http://127.0.0.1:{port}{tail}"), "retries = 0"),
            &l,
        )
        .await,
    );
    assert_eq!(e.kind, FailureKind::Connect, "{e}");
    assert!(started.elapsed() < Duration::from_secs(1));

    let s = standin(StandinAuth::None).await;
    let e = failure(
        fetch(
            &source(&format!("https://{}{tail}", s.addr()), "retries = 0"),
            &l,
        )
        .await,
    );
    assert_eq!(e.kind, FailureKind::Tls, "{e}");
}

#[tokio::test]
async fn offset_pages_hold_at_most_limit_items() {
    let s = standin(StandinAuth::None).await;
    s.put_customer(StandinCustomer {
        id: "C-BIG".into(),
        orders: 10_000,
        ..ana()
    });
    let src = source(
        &format!(
            "{}/api/v1/customers/{{customer_id}}/orders?limit={{limit}}&offset={{offset}}",
            s.base_url()
        ),
        "role = \"history\"",
    );
    let l = Lookup::new(Some("C-BIG"), None, None, "US");
    let mut ids = HashSet::new();
    let mut offset = 0;
    while offset < 10_000 {
        let page = PageRequest {
            limit: 100,
            offset,
            cursor: None,
        };
        let doc = found(fetch_page(&src, &l, &page).await);
        let items = doc["items"].as_array().expect("items");
        assert_eq!(items.len(), 100);
        assert_eq!(doc["total"], 10_000);
        ids.extend(items.iter().map(|i| i["OrderId"].to_string()));
        offset += 100;
    }
    assert_eq!(ids.len(), 10_000);
    for (limit, offset, expect) in [(7, 9_995, 5), (20, 40, 20), (500, 0, 100), (1, 10_000, 0)] {
        let page = PageRequest {
            limit,
            offset,
            cursor: None,
        };
        let doc = found(fetch_page(&src, &l, &page).await);
        assert_eq!(doc["items"].as_array().map(Vec::len), Some(expect));
    }
    let last = s.request_log().pop().expect("logged");
    assert_eq!(
        last.raw_path_and_query,
        "/api/v1/customers/C-BIG/orders?limit=1&offset=10000"
    );
}

#[tokio::test]
async fn cursor_pages_are_walked_by_next_cursor() {
    let s = standin(StandinAuth::None).await;
    s.put_customer(StandinCustomer {
        id: "C-250".into(),
        orders: 250,
        ..ana()
    });
    let src = source(
        &format!(
            "{}/api/v1/customers/{{customer_id}}/orders-cursor?limit={{limit}}&cursor={{cursor}}",
            s.base_url()
        ),
        "role = \"history\"\npaging = \"cursor\"\ncursor_path = \"next_cursor\"",
    );
    let l = Lookup::new(Some("C-250"), None, None, "US");
    let mut page = PageRequest {
        limit: 100,
        offset: 0,
        cursor: None,
    };
    let mut sizes = Vec::new();
    let mut ids = HashSet::new();
    loop {
        let doc = found(fetch_page(&src, &l, &page).await);
        let items = doc["items"].as_array().expect("items");
        sizes.push(items.len());
        ids.extend(items.iter().map(|i| i["OrderId"].to_string()));
        match doc["next_cursor"].as_str() {
            Some(c) => page.cursor = Some(c.to_string()),
            None => break,
        }
    }
    assert_eq!(sizes, [100, 100, 50]);
    assert_eq!(ids.len(), 250);
    let first = &s.request_log()[0];
    assert!(
        first.raw_path_and_query.ends_with("?limit=100&cursor="),
        "{}",
        first.raw_path_and_query
    );
}

const HOSTILE: [&str; 10] = [
    "../../admin",
    "1'; DROP TABLE customers;--",
    "a/b?c=d#e",
    "x\r\nX-Injected: 1",
    "%2e%2e",
    "%2F",
    "Zoë 東京 🚀",
    "a b+c&d=e;f\"g<h>",
    "...",
    "\\..\\x",
];

/// The raw target's segments are the template's, and each holds only
/// unreserved characters and percent escapes.
fn assert_one_clean_segment(raw: &str, segments: usize) {
    let path = raw.split('?').next().unwrap_or(raw);
    assert_eq!(path.split('/').count(), segments + 1, "{raw}");
    for c in raw.chars() {
        assert!(
            c.is_ascii_alphanumeric() || "-._~%/?&=".contains(c),
            "{c:?} in {raw}"
        );
    }
}

#[tokio::test]
async fn hostile_ids_stay_inside_their_path_segment() {
    let s = standin(StandinAuth::None).await;
    let src = source(&by_id(&s), "");
    for (n, id) in HOSTILE.iter().enumerate() {
        s.put_customer(StandinCustomer {
            id: id.to_string(),
            phone: format!("+1415555{n:04}"),
            email: format!("c{n}@example.com"),
            ..ana()
        });
        let l = Lookup::new(Some(id), None, None, "US");
        assert_eq!(l.customer_id.as_deref(), Some(*id));
        let doc = found(fetch(&src, &l).await);
        assert_eq!(doc["data"]["Account"]["Id"], *id);
        let req = s.request_log().pop().expect("logged");
        assert_one_clean_segment(&req.raw_path_and_query, 4);
        assert_eq!(req.decoded_segments.len(), 4);
        assert_eq!(req.decoded_segments[3], *id);
        assert!(
            !req.header_names.iter().any(|h| h.contains("injected")),
            "{:?}",
            req.header_names
        );
    }
    // A dot segment cannot be sent: URL parsers fold it into the parent.
    let before = s.api_requests();
    for id in [".", ".."] {
        let l = Lookup::new(Some(id), None, None, "US");
        assert!(matches!(fetch(&src, &l).await, Ok(Raw::NotFound { .. })));
    }
    assert_eq!(s.api_requests(), before);
}

#[tokio::test]
async fn hostile_values_stay_inside_their_query_component_and_json_string() {
    let s = standin(StandinAuth::None).await;
    let q = source(
        &format!(
            "{}/api/v1/customers/{{customer_id}}/orders?limit={{limit}}&tag={{var.tag}}&raw={{phone_raw}}",
            s.base_url()
        ),
        "role = \"history\"",
    );
    let post = source(
        &format!("{}/api/v1/customers/search", s.base_url()),
        "method = \"POST\"\nbody = { customer_id = \"{var.tag}\", note = \"tag={var.tag};\" }",
    );
    for v in HOSTILE {
        let mut l = Lookup::new(Some("C-1001"), Some(v), None, "US");
        l.vars.insert("var.tag".into(), v.to_string());
        let page = PageRequest {
            limit: 2,
            ..Default::default()
        };
        let doc = found(fetch_page(&q, &l, &page).await);
        assert_eq!(doc["items"].as_array().map(Vec::len), Some(2));
        let req = s.request_log().pop().expect("logged");
        assert_one_clean_segment(&req.raw_path_and_query, 5);
        let query = req.raw_path_and_query.split_once('?').expect("query").1;
        let pairs: Vec<(String, String)> = query
            .split('&')
            .map(|p| {
                let (k, v) = p.split_once('=').expect("k=v");
                let d = |s: &str| percent_decode_str(s).decode_utf8_lossy().into_owned();
                (d(k), d(v))
            })
            .collect();
        assert_eq!(
            pairs,
            [
                ("limit".to_string(), "2".to_string()),
                ("tag".to_string(), v.to_string()),
                ("raw".to_string(), v.trim().to_string()),
            ]
        );

        match fetch(&post, &l).await {
            Ok(Raw::NotFound { .. }) => {}
            other => panic!("expected not found, got {other:?}"),
        }
        let req = s.request_log().pop().expect("logged");
        let body: Value = serde_json::from_str(&req.body).expect("JSON body");
        assert_eq!(
            body,
            serde_json::json!({"customer_id": v, "note": format!("tag={v};")})
        );
        assert!(!req.header_names.iter().any(|h| h.contains("injected")));
    }
}

#[test]
fn bad_templates_are_refused_naming_the_key() {
    let e = source_err("http://crm/api/{customer}", "");
    assert!(e.starts_with("url:") && e.contains("{customer}"), "{e}");
    let e = source_err("ftp://crm/api/{customer_id}", "");
    assert!(e.starts_with("url:"), "{e}");
    let e = source_err("http://{var.host}/api", "");
    assert!(e.starts_with("url:"), "{e}");
    let e = source_err(
        "http://crm/api",
        "method = \"POST\"\nbody = { q = \"{nope}\" }",
    );
    assert!(e.starts_with("body:"), "{e}");
    let e = source_err("http://crm/api", "headers = { \"X Bad\" = \"1\" }");
    assert!(e.starts_with("headers."), "{e}");
    let described = source(
        "https://user:pw@crm.example.com/api/{customer_id}?apikey=abc&x={phone}",
        "",
    )
    .describe();
    assert_eq!(
        described,
        "https://crm.example.com/api/{customer_id}?apikey=***&x={phone}"
    );
}

proptest! {
    #[test]
    fn any_value_fills_exactly_one_segment_and_one_query_value(v in any::<String>()) {
        prop_assume!(v != "." && v != ".." && !v.is_empty());
        let filled = fill_url_template(
            "https://crm.example.com/api/{customer_id}/orders?q={phone}&n=1",
            |_| Some(v.as_str()),
        );
        let url = reqwest::Url::parse(&filled).expect("filled URL parses");
        let segs: Vec<&str> = url.path_segments().expect("path").collect();
        prop_assert_eq!(segs.len(), 3);
        prop_assert_eq!(segs[2], "orders");
        prop_assert_eq!(percent_decode_str(segs[1]).decode_utf8_lossy(), v.as_str());
        let query = url.query().expect("query");
        let parts: Vec<&str> = query.split('&').collect();
        prop_assert_eq!(parts.len(), 2);
        prop_assert_eq!(parts[1], "n=1");
        let q = parts[0].strip_prefix("q=").expect("q first");
        prop_assert_eq!(percent_decode_str(q).decode_utf8_lossy(), v.as_str());
        prop_assert!(url.fragment().is_none());
    }
}
