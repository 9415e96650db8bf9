//! The data layer inside the daemon: preloaded records make the answer's
//! pop without asking any source, and the HTTP API lists, tests and
//! invalidates sources. Real switch simulator, real CRM stand-in over HTTP,
//! real WebSocket agents.

mod common;

use common::{API_TOKEN, agent_client, lab};
use dialpop::customer::config::SourceConfig;
use dialpop::customer::standin::{
    CrmStandin, StandinAuth, StandinConfig, StandinCustomer, StandinMode,
};
use dialpop::popup::messages::ServerMsg;
use serde_json::{Value, json};
use std::collections::HashMap;
use std::time::Duration;

fn sources(base: &str) -> Vec<SourceConfig> {
    let text = format!(
        r#"
        [[source]]
        name = "internal"
        kind = "internal"

        [[source]]
        name = "crm"
        kind = "rest"
        url = "{base}/api/v1/customers/{{customer_id}}"
        record_path = "data"
        timeout_ms = 300
        retries = 0
        auth = {{ type = "oauth2", token_url = "{base}/oauth/token", client_id = "dialpop", client_secret = "s3cret" }}
        [source.fields]
        balance = {{ path = "Account.Balance", type = "money" }}
        crm_tier = "Account.Tier"

        [[source]]
        name = "orders"
        kind = "rest"
        role = "history"
        title = "Orders"
        url = "{base}/api/v1/customers/{{customer_id}}/orders?limit={{limit}}&offset={{offset}}"
        items_path = "items"
        page_size = 2
        timeout_ms = 300
        retries = 0
        auth = {{ type = "oauth2", token_url = "{base}/oauth/token", client_id = "dialpop", client_secret = "s3cret" }}
        [source.fields]
        order = "OrderId"
        total = {{ path = "Total", type = "money" }}
        "#
    );
    #[derive(serde::Deserialize)]
    struct Doc {
        source: Vec<SourceConfig>,
    }
    toml::from_str::<Doc>(&text).expect("sources parse").source
}

async fn crm_for(lab: &common::Lab, customers: usize) -> CrmStandin {
    let crm = CrmStandin::start(StandinConfig {
        auth: StandinAuth::OAuth {
            client_id: "dialpop".into(),
            client_secret: "s3cret".into(),
        },
        ..StandinConfig::default()
    })
    .await
    .expect("CRM stand-in");
    for n in 0..customers {
        let c = lab
            .store
            .customer(&format!("cust{n:04}"))
            .await
            .expect("store")
            .expect("seeded customer");
        crm.put_customer(StandinCustomer {
            id: c.id,
            name: c.name,
            phone: c.phone,
            email: format!("c{n}@example.com"),
            tier: "platinum".into(),
            vip: false,
            balance: format!("{n}.5"),
            since: "2020-01-01T00:00:00Z".into(),
            orders: 7,
        });
    }
    crm
}

/// Runs `agents` answered calls with the CRM hanging from the moment every
/// call was placed and preloaded; returns the pops received.
async fn pops_with_a_crm_that_hangs_after_dialing(
    name: &str,
    preload: bool,
) -> (Vec<ServerMsg>, u64) {
    const N: usize = 4;
    // Speed 1: the simulated customers answer after 1 s of ringing.
    let lab = lab(name, N, &[(1, N)], 1.0).await;
    let crm = crm_for(&lab, N).await;
    let mut setup = lab.setup();
    setup.sources = sources(&crm.base_url());
    setup.customer.preload = preload;
    let daemon = dialpop::daemon::Daemon::start(setup).await.expect("daemon");
    let stop = tokio_util::sync::CancellationToken::new();
    let url = format!("ws://{}/ws/agent", daemon.addr);
    let pages: HashMap<_, _> = lab
        .agents
        .iter()
        .map(|(a, t)| {
            (
                a.id.clone(),
                agent_client(url.clone(), t.clone(), stop.clone()),
            )
        })
        .collect();
    // Every call placed: with preload, each customer's record and first
    // orders page have been asked for (2 requests per call).
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let snap = daemon.dialer.snapshot().await.expect("dialer");
        if snap.stats.calls as usize == N && (!preload || crm.api_requests() as usize >= 2 * N) {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "calls not placed: {snap:?}"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let before = crm.api_requests();
    // From now on any request would hang until its timeout.
    crm.set_mode(StandinMode::Hang);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
    let pops = loop {
        let pops: Vec<ServerMsg> = pages
            .values()
            .flat_map(|s| s.lock().expect("seen").messages.clone())
            .filter(|m| matches!(m, ServerMsg::Pop { .. }))
            .collect();
        if pops.len() >= N {
            break pops;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "only {} pops",
            pops.len()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    let during = crm.api_requests() - before;
    stop.cancel();
    daemon.stop().await;
    (pops, during)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_preload_the_answer_to_pop_path_asks_no_source() {
    let (pops, requests_after_dialing) =
        pops_with_a_crm_that_hangs_after_dialing("preload-on", true).await;
    assert_eq!(
        requests_after_dialing, 0,
        "no source was asked after the calls were placed"
    );
    for p in &pops {
        let ServerMsg::Pop {
            customer,
            sources,
            history,
            degraded,
            reasons,
            ..
        } = p
        else {
            unreachable!()
        };
        assert!(!degraded, "{reasons:?}");
        assert_eq!(customer["crm_tier"], json!("platinum"));
        assert!(
            customer["balance"]
                .as_str()
                .is_some_and(|b| b.ends_with(".50"))
        );
        assert_eq!(sources["balance"], json!("crm"));
        assert_eq!(sources["name"], json!("internal"));
        assert_eq!(history[0].source, "orders");
        assert_eq!(history[0].page.items.len(), 2);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_preload_the_answer_waits_for_the_sources() {
    // The same run with preload off: the pops need the CRM at answer, and
    // the hanging CRM shows in every one of them.
    let (pops, requests_after_dialing) =
        pops_with_a_crm_that_hangs_after_dialing("preload-off", false).await;
    assert!(requests_after_dialing >= 4, "{requests_after_dialing}");
    for p in &pops {
        let ServerMsg::Pop {
            customer,
            degraded,
            reasons,
            ..
        } = p
        else {
            unreachable!()
        };
        assert!(degraded);
        assert!(
            reasons.iter().any(|r| r.starts_with("crm: timeout")),
            "{reasons:?}"
        );
        // The store's record still made the pop.
        assert!(customer["name"].as_str().is_some_and(|n| !n.is_empty()));
    }
}

async fn http(method: &str, url: &str, token: Option<&str>, body: Option<Value>) -> (u16, Value) {
    let client = reqwest::Client::new();
    let mut req = client.request(method.parse().expect("method"), url);
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    if let Some(b) = body {
        req = req.json(&b);
    }
    let resp = req.send().await.expect("request");
    let status = resp.status().as_u16();
    let v = resp.json::<Value>().await.unwrap_or(Value::Null);
    (status, v)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_api_lists_tests_and_invalidates_sources() {
    let lab = lab("sources-api", 1, &[(1, 2)], 20.0).await;
    let crm = crm_for(&lab, 2).await;
    let mut setup = lab.setup();
    setup.sources = sources(&crm.base_url());
    let daemon = dialpop::daemon::Daemon::start(setup).await.expect("daemon");
    let base = format!("http://{}", daemon.addr);

    // Every endpoint wants the API token.
    for (m, path) in [
        ("GET", "/api/sources"),
        ("POST", "/api/sources/crm/test"),
        ("DELETE", "/api/customers/cust0000/cache"),
        ("GET", "/api/customers/cust0000/history/orders"),
    ] {
        let (status, _) = http(m, &format!("{base}{path}"), None, Some(json!({}))).await;
        assert_eq!(status, 401, "{m} {path}");
        let (status, _) = http(m, &format!("{base}{path}"), Some("wrong"), Some(json!({}))).await;
        assert_eq!(status, 401, "{m} {path}");
    }
    let (status, list) = http("GET", &format!("{base}/api/sources"), Some(API_TOKEN), None).await;
    assert_eq!(status, 200);
    let names: Vec<&str> = list["sources"]
        .as_array()
        .expect("list")
        .iter()
        .filter_map(|s| s["name"].as_str())
        .collect();
    assert_eq!(names, ["internal", "crm", "orders"]);
    assert!(
        !list.to_string().contains("s3cret"),
        "no secret in the listing"
    );

    // A real request: mapped, raw, timed.
    let (status, r) = http(
        "POST",
        &format!("{base}/api/sources/crm/test"),
        Some(API_TOKEN),
        Some(json!({"customer_id": "cust0001"})),
    )
    .await;
    assert_eq!(status, 200, "{r}");
    assert_eq!(r["outcome"], json!("found"));
    assert_eq!(r["mapped"]["fields"]["balance"], json!("1.50"));
    assert!(
        r["raw"]
            .as_str()
            .is_some_and(|raw| raw.contains("\"Account\""))
    );
    assert!(r["elapsed_ms"].as_f64().is_some());
    let (status, r) = http(
        "POST",
        &format!("{base}/api/sources/crm/test"),
        Some(API_TOKEN),
        Some(json!({"customer_id": "nobody"})),
    )
    .await;
    assert_eq!((status, r["outcome"].clone()), (200, json!("not_found")));
    crm.set_mode(StandinMode::Failing(502));
    let (_, r) = http(
        "POST",
        &format!("{base}/api/sources/crm/test"),
        Some(API_TOKEN),
        Some(json!({"customer_id": "cust0001"})),
    )
    .await;
    assert_eq!(r["outcome"], json!("failed"));
    assert_eq!(r["error"]["kind"], json!({"http_status": 502}));
    crm.set_mode(StandinMode::Normal);
    let (status, r) = http(
        "POST",
        &format!("{base}/api/sources/nope/test"),
        Some(API_TOKEN),
        Some(json!({"customer_id": "x"})),
    )
    .await;
    assert_eq!(status, 404, "{r}");
    let (status, r) = http(
        "POST",
        &format!("{base}/api/sources/crm/test"),
        Some(API_TOKEN),
        Some(json!({})),
    )
    .await;
    assert_eq!(status, 400, "{r}");
    let (status, r) = http(
        "POST",
        &format!("{base}/api/sources/crm/test"),
        Some(API_TOKEN),
        Some(json!({"customer_id": "a\r\nb"})),
    )
    .await;
    assert_eq!((status, r["field"].clone()), (400, json!("customer_id")));

    // Cached by a lookup, then invalidated by the phone number.
    let lookup =
        dialpop::customer::Lookup::new(Some("cust0000"), Some(&common::phone(1, 0)), None, "US");
    daemon.customers.resolve(&lookup).await;
    let asked = crm.api_requests();
    daemon.customers.resolve(&lookup).await;
    assert_eq!(crm.api_requests(), asked, "cached");
    let phone = common::phone(1, 0);
    let (status, r) = http(
        "DELETE",
        &format!("{base}/api/customers/{}/cache", phone.replace('+', "%2B")),
        Some(API_TOKEN),
        None,
    )
    .await;
    assert_eq!(status, 200, "{r}");
    assert!(r["invalidated"].as_u64().is_some_and(|n| n >= 2), "{r}");
    daemon.customers.resolve(&lookup).await;
    assert!(crm.api_requests() > asked, "asked again after invalidation");

    // Further history pages.
    let (status, page) = http(
        "GET",
        &format!("{base}/api/customers/cust0000/history/orders?offset=2"),
        Some(API_TOKEN),
        None,
    )
    .await;
    assert_eq!(status, 200, "{page}");
    assert_eq!(page["items"].as_array().map(Vec::len), Some(2));
    assert_eq!(page["next_offset"], json!(4));
    daemon.stop().await;
}
