//! The pop's screen for real: headless Chromium signed in to the real
//! daemon, calls placed on the simulated switch, records from the store and
//! a history from the CRM stand-in over HTTP. The campaign's template and
//! filters decide what pops and how it looks.

mod common;
mod support;

use common::{API_TOKEN, lab};
use dialpop::customer::config::SourceConfig;
use dialpop::customer::standin::{CrmStandin, StandinAuth, StandinConfig, StandinCustomer};
use dialpop::daemon::Daemon;
use dialpop::store::Customer;
use serde_json::{Value, json};
use std::time::Duration;
use support::browser::{Browser, screenshot_dir};

const HOSTILE: &str =
    "<script>window.pwned=1</script><img src=x onerror=\"window.pwned=2\"> مرحبا بكم";

fn template() -> Value {
    json!({
        "name": "lab-vip",
        "header": [
            {"field": "name", "label": "Name"},
            {"field": "phone", "label": "Phone", "format": "phone"},
            {"field": "tier", "label": "Tier"},
            {"field": "balance", "label": "Balance", "format": "money", "currency": "CNY"}
        ],
        "blocks": [
            {"kind": "fields", "title": "Account manager",
             "when": {"filters": [{"field": "vip", "op": "eq", "value": true}]},
             "fields": [{"field": "manager", "label": "Manager"},
                        {"field": "manager_phone", "label": "Direct line", "format": "phone"}]},
            {"kind": "notes", "title": "Hints", "when": {"levels": ["novice"]},
             "lines": ["Greet the customer by name"]},
            {"kind": "history", "title": "Orders", "source": "orders",
             "columns": [{"field": "order", "label": "Order"},
                         {"field": "total", "label": "Total", "format": "money", "currency": "CNY"},
                         {"field": "placed", "label": "Placed", "format": "date"},
                         {"field": "status", "label": "Status"}]}
        ]
    })
}

fn sources(base: &str) -> Vec<SourceConfig> {
    let text = format!(
        r#"
        [[source]]
        name = "internal"
        kind = "internal"

        [[source]]
        name = "orders"
        kind = "rest"
        role = "history"
        title = "Orders"
        url = "{base}/api/v1/customers/{{customer_id}}/orders?limit={{limit}}&offset={{offset}}"
        items_path = "items"
        page_size = 50
        timeout_ms = 2000
        auth = {{ type = "bearer", token = "lab-crm" }}
        [source.fields]
        order = "OrderId"
        total = {{ path = "Total", type = "money" }}
        placed = {{ path = "Placed", type = "date" }}
        status = "Status"
        "#
    );
    #[derive(serde::Deserialize)]
    struct Doc {
        source: Vec<SourceConfig>,
    }
    toml::from_str::<Doc>(&text).expect("sources parse").source
}

/// The lab's customers, made into the four this test needs, with their
/// orders at the CRM stand-in.
async fn customers(lab: &common::Lab, crm: &CrmStandin) -> Vec<Customer> {
    let specs: [(&str, &str, bool, usize, Value); 4] = [
        (
            "Wang Fang",
            "platinum",
            true,
            3,
            json!({"manager": "Li Lei", "manager_phone": "+8613900139000", "balance": "123456.78"}),
        ),
        ("Ana Lima", "gold", false, 2, json!({"balance": "10.5"})),
        ("Filtered Out", "bronze", false, 1, json!({"balance": "1"})),
        (
            HOSTILE,
            "gold",
            false,
            10_000,
            json!({"balance": "-5", "note": "\u{202e}txet desrever"}),
        ),
    ];
    let mut out = Vec::new();
    for (n, (name, tier, vip, orders, fields)) in specs.into_iter().enumerate() {
        let id = format!("cust{n:04}");
        let mut c = lab
            .store
            .customer(&id)
            .await
            .expect("store")
            .expect("seeded customer");
        c.name = name.into();
        c.tier = Some(tier.into());
        c.vip = vip;
        c.fields = fields.as_object().cloned().unwrap_or_default();
        lab.store.upsert_customer(&c).await.expect("customer");
        crm.put_customer(StandinCustomer {
            id: c.id.clone(),
            name: c.name.clone(),
            phone: c.phone.clone(),
            email: format!("c{n}@example.com"),
            tier: tier.into(),
            vip,
            balance: "0".into(),
            since: "2020-01-01T00:00:00Z".into(),
            orders,
        });
        out.push(c);
    }
    out
}

async fn card_state(b: &Browser) -> Value {
    b.eval(
        r#"var c = document.querySelector('[data-testid="pop-card"]');
           if (!c) return null;
           var blocks = Array.prototype.map.call(c.querySelectorAll('[data-testid="block"]'), function (b) { return b.getAttribute('data-title'); });
           return { pop: c.getAttribute('data-pop-id'), state: c.getAttribute('data-pop-state'),
                    name: (c.querySelector('[data-testid="customer-name"]') || {}).textContent,
                    blocks: blocks, mark: c.__mark === 1,
                    call: (c.querySelector('[data-testid="call-state"]') || {}).textContent };"#,
    )
    .await
}

async fn wait_card(b: &Browser, what: &str, pred: impl Fn(&Value) -> bool) -> Value {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        let s = card_state(b).await;
        if pred(&s) {
            return s;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the page never showed {what}; last: {s}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Polls `probe` until it gives something, for at most 30 s.
async fn eventually<T>(what: &str, mut probe: impl AsyncFnMut() -> Option<T>) -> T {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        if let Some(v) = probe().await {
            return v;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "never happened: {what}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

async fn wait_answered(lab: &common::Lab, task: i64) -> dialpop::store::Attempt {
    eventually(&format!("task {task} answered"), async || {
        let a = lab.store.attempts_for_task(task).await.expect("attempts");
        a.into_iter().find(|a| a.answer_ms.is_some())
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_template_decides_what_pops_and_a_hostile_record_stays_text_in_chromium() {
    // 5XXX answers after 2 s and talks 60 s: at speed 4, 0.5 s and 15 s.
    let lab = lab("screen", 1, &[(5, 4)], 4.0).await;
    let crm = CrmStandin::start(StandinConfig {
        auth: StandinAuth::Bearer("lab-crm".into()),
        ..StandinConfig::default()
    })
    .await
    .expect("CRM stand-in");
    let people = customers(&lab, &crm).await;
    common::set_dialing(&lab, |s| {
        s.templates.default = Some(template());
        s.pop_filters = serde_json::from_value(
            json!([{"field": "tier", "op": "in", "value": ["platinum", "gold"]}]),
        )
        .expect("filters");
    })
    .await;
    let mut setup = lab.setup();
    setup.sources = sources(&crm.base_url());
    let daemon = Daemon::start(setup).await.expect("daemon starts");
    let (_, token) = lab.agents[0].clone();

    let browser = Browser::start().await;
    browser.set_viewport(1280, 900).await;
    browser.goto(&format!("http://{}/agent", daemon.addr)).await;
    browser.sign_in(&token).await;
    let shots = screenshot_dir();

    // The VIP: the template's header, the account manager block, the
    // orders table in the right column; money and phone by locale.
    let vip = wait_card(&browser, "the VIP's pop", |s| s["name"] == people[0].name).await;
    assert_eq!(vip["blocks"], json!(["Account manager", "Orders"]), "{vip}");
    let layout = browser
        .eval(
            r#"var c = document.querySelector('[data-testid="pop-columns"]');
               return { columns: getComputedStyle(c).gridTemplateColumns.split(' ').length,
                        right: Array.prototype.map.call(document.querySelectorAll('[data-testid="column-right"] [data-testid="block"]'), function (b) { return b.getAttribute('data-title'); }),
                        balance: document.querySelector('[data-testid="customer-balance"]').textContent,
                        manager: document.querySelector('[data-field="manager_phone"] dd').textContent };"#,
        )
        .await;
    assert_eq!(layout["columns"], json!(2), "{layout}");
    assert_eq!(layout["right"], json!(["Orders"]));
    assert_eq!(layout["balance"], json!("CN¥123,456.78"));
    assert_eq!(layout["manager"], json!("+86 139 0013 9000"));
    browser.screenshot(&shots.join("screen-vip-1280.png")).await;
    lab.sim
        .hangup_all(dialpop::switch::HangupCause::NormalClearing);

    // Not a VIP: no account manager block.
    let gold = wait_card(&browser, "the second customer's pop", |s| {
        s["name"] == people[1].name
    })
    .await;
    assert_eq!(gold["blocks"], json!(["Orders"]), "{gold}");
    lab.sim
        .hangup_all(dialpop::switch::HangupCause::NormalClearing);

    // Filtered out: answered, recorded as not popped, and the page still
    // shows the previous customer.
    let third = wait_answered(&lab, 3).await;
    let rule = eventually("a pop rule recorded", async || {
        let a = lab.store.attempt(&third.call_id).await.expect("store");
        a.and_then(|a| a.pop_rule)
    })
    .await;
    assert!(rule.starts_with("not popped"), "{rule}");
    assert!(
        lab.store
            .pops_for_call(&third.call_id)
            .await
            .expect("pops")
            .is_empty()
    );
    assert_eq!(card_state(&browser).await["pop"], gold["pop"]);
    lab.sim
        .hangup_all(dialpop::switch::HangupCause::NormalClearing);

    // The hostile record: text, never markup; 10,000 orders paged.
    let bad = wait_card(&browser, "the hostile customer's pop", |s| {
        s["name"] == HOSTILE
    })
    .await;
    assert_eq!(bad["blocks"], json!(["Orders"]));
    let safety = browser
        .eval(
            r#"return { pwned: window.pwned === undefined ? null : window.pwned,
                        scripts: document.querySelectorAll('script').length,
                        imgs: document.querySelectorAll('img').length,
                        dir: document.querySelector('[data-testid="customer-name"]').dir,
                        rows: document.querySelectorAll('[data-testid="history-table"] tbody tr').length,
                        note: document.querySelector('[data-testid="rows-note"]').textContent };"#,
        )
        .await;
    assert_eq!(safety["pwned"], Value::Null, "{safety}");
    assert_eq!(
        safety["scripts"],
        json!(2),
        "the page's own script and its catalogues only"
    );
    assert_eq!(safety["imgs"], json!(0));
    assert_eq!(safety["dir"], json!("auto"));
    assert_eq!(safety["rows"], json!(50));
    assert_eq!(safety["note"], json!("50 of 10,000"));
    browser
        .eval(r#"document.querySelector('[data-testid="history-more"]').click(); return null;"#)
        .await;
    browser
        .wait_text("rows-note", "the second page of orders", |t| {
            t == "100 of 10,000"
        })
        .await;
    let second = browser
        .eval(r#"var r = document.querySelectorAll('[data-testid="history-table"] tbody tr'); return r[50].children[0].textContent;"#)
        .await;
    // Newest first: the 51st order of 10,000 is number 9,950.
    assert_eq!(second, json!("O-0009950"));
    browser
        .screenshot(&shots.join("screen-hostile-1280.png"))
        .await;
    // A narrow screen: one column.
    browser.set_viewport(420, 900).await;
    let narrow = browser
        .eval(r#"return getComputedStyle(document.querySelector('[data-testid="pop-columns"]')).gridTemplateColumns.split(' ').length;"#)
        .await;
    assert_eq!(narrow, json!(1));
    browser
        .screenshot(&shots.join("screen-hostile-420.png"))
        .await;

    // The pop log: each pop with its agent, customer, template and the
    // fields it showed; the filtered call has none.
    let api = support::http::Api::new(daemon.addr, Some(API_TOKEN));
    let (status, log) = api.get("/api/pops?agent=ag00&campaign=lab").await;
    assert_eq!(status, 200, "{log}");
    let pops = log["pops"].as_array().cloned().unwrap_or_default();
    let customers: Vec<&str> = pops.iter().filter_map(|p| p["customer"].as_str()).collect();
    assert_eq!(customers, ["cust0003", "cust0001", "cust0000"], "{log}");
    assert_eq!(pops[2]["template"], json!("lab-vip"));
    assert_eq!(
        pops[2]["fields_shown"],
        json!([
            "balance",
            "manager",
            "manager_phone",
            "name",
            "phone",
            "tier"
        ])
    );
    assert_eq!(
        pops[1]["fields_shown"],
        json!(["balance", "name", "phone", "tier"])
    );
    assert!(
        pops.iter().all(|p| p["acknowledged"] == json!(true)),
        "{log}"
    );
    let (status, one) = api.get("/api/pops?customer=cust0000&limit=1").await;
    assert_eq!(
        (status, one["pops"].as_array().map(Vec::len)),
        (200, Some(1))
    );
    let (status, _) = api.get("/api/pops?customer=cust'0000").await;
    assert_eq!(status, 400);

    lab.sim
        .hangup_all(dialpop::switch::HangupCause::NormalClearing);
    browser.close().await;
    daemon.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_ringing_pop_becomes_the_answered_one_in_place_and_a_failed_call_closes_it() {
    // At speed 1: 5XXX rings 2 s, then answers; 3XXX rings until the
    // originate's timeout (3 s here) and ends NO_ANSWER.
    let lab = lab("ringing", 1, &[(5, 1), (3, 1)], 1.0).await;
    common::set_dialing(&lab, |s| {
        s.pop_trigger = dialpop::campaign::settings::PopTrigger::Ringing;
        s.retry.no_answer.max_attempts = 1;
    })
    .await;
    let mut setup = lab.setup();
    setup.plan.ring_timeout = Duration::from_secs(3);
    let daemon = Daemon::start(setup).await.expect("daemon starts");
    let (_, token) = lab.agents[0].clone();
    let first = lab
        .store
        .customer("cust0000")
        .await
        .expect("store")
        .expect("customer");
    let second = lab
        .store
        .customer("cust0001")
        .await
        .expect("store")
        .expect("customer");

    let browser = Browser::start().await;
    browser.goto(&format!("http://{}/agent", daemon.addr)).await;
    browser.sign_in(&token).await;
    let ringing = wait_card(&browser, "a ringing pop", |s| s["state"] == "ringing").await;
    assert_eq!(ringing["name"], json!(first.name));
    assert_eq!(ringing["call"], json!("Ringing"));
    browser
        .eval(r#"document.querySelector('[data-testid="pop-card"]').__mark = 1; return null;"#)
        .await;
    browser
        .screenshot(&screenshot_dir().join("screen-ringing.png"))
        .await;
    // The answer redraws the same card: same element, same pop.
    let answered = wait_card(&browser, "the answered pop", |s| s["state"] == "answered").await;
    assert_eq!(answered["pop"], ringing["pop"]);
    assert_eq!(
        answered["mark"],
        json!(true),
        "the card was replaced, not updated: {answered}"
    );
    assert_eq!(answered["call"], json!("Connected"));
    let history = browser
        .eval(r#"return document.querySelectorAll('[data-testid="history"] li').length;"#)
        .await;
    assert_eq!(history, json!(1));
    lab.sim
        .hangup_all(dialpop::switch::HangupCause::NormalClearing);

    // The next customer's phone rings and nobody answers: its pop closes.
    let next = wait_card(&browser, "the second ringing pop", |s| {
        s["name"] == second.name
    })
    .await;
    assert_ne!(next["pop"], ringing["pop"]);
    let closed = wait_card(&browser, "the pop closed as not connected", |s| {
        s["state"] == "not_connected"
    })
    .await;
    browser
        .wait_text("call-state", "not connected, with the cause", |t| {
            t == "Not connected — No answer"
        })
        .await;
    assert!(
        closed["call"]
            .as_str()
            .is_some_and(|c| c.starts_with("Not connected")),
        "{closed}"
    );
    browser
        .screenshot(&screenshot_dir().join("screen-not-connected.png"))
        .await;

    let api = support::http::Api::new(daemon.addr, Some(API_TOKEN));
    let (_, log) = api.get("/api/pops?agent=ag00").await;
    let pops = log["pops"].as_array().cloned().unwrap_or_default();
    let seen: Vec<(Value, Value, Value)> = pops
        .iter()
        .map(|p| {
            (
                p["customer"].clone(),
                p["trigger"].clone(),
                p["answered"].clone(),
            )
        })
        .collect();
    assert_eq!(
        seen,
        [
            (json!("cust0001"), json!("ringing"), json!(false)),
            (json!("cust0000"), json!("ringing"), json!(true)),
        ],
        "{log}"
    );
    browser.close().await;
    daemon.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_chinese_speaking_agent_gets_the_page_and_the_pop_in_chinese() {
    let lab = lab("zh", 1, &[(5, 1)], 4.0).await;
    let (mut agent, token) = lab.agents[0].clone();
    agent.locale = Some("zh-CN".into());
    assert!(lab.store.update_agent(&agent).await.expect("store"));
    let customer = lab
        .store
        .customer("cust0000")
        .await
        .expect("store")
        .expect("customer");
    let daemon = lab.start_daemon().await;

    let browser = Browser::start().await;
    browser.goto(&format!("http://{}/agent", daemon.addr)).await;
    browser.sign_in(&token).await;
    let card = wait_card(&browser, "the pop", |s| s["name"] == customer.name).await;
    browser
        .wait_text("call-state", "the connected call in Chinese", |t| {
            t == "已接通"
        })
        .await;
    let texts = browser
        .eval(
            r#"return { lang: document.documentElement.lang,
                        title: document.getElementById('pop-title').textContent,
                        state: document.querySelector('[data-testid="state-badge"]').textContent,
                        phone: document.querySelector('[data-field="phone"] dt').textContent,
                        pause: document.querySelector('[data-testid="pause-button"]').textContent };"#,
        )
        .await;
    assert_eq!(
        texts,
        json!({"lang": "zh-CN", "title": "当前客户", "state": "通话中", "phone": "电话", "pause": "暂停"}),
        "{card}"
    );
    browser
        .screenshot(&screenshot_dir().join("screen-zh-CN.png"))
        .await;
    lab.sim
        .hangup_all(dialpop::switch::HangupCause::NormalClearing);
    browser.close().await;
    daemon.stop().await;
}

/// A TCP relay between the browser and the daemon that can be cut: every
/// connection through it is dropped, and new ones refused, until healed.
struct Relay {
    addr: std::net::SocketAddr,
    open: std::sync::Arc<std::sync::atomic::AtomicBool>,
    cut: tokio_util::sync::CancellationToken,
    generation: std::sync::Arc<std::sync::Mutex<tokio_util::sync::CancellationToken>>,
}

impl Relay {
    async fn start(to: std::net::SocketAddr) -> Relay {
        use std::sync::atomic::Ordering;
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("relay binds");
        let addr = listener.local_addr().expect("relay address");
        let open = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(true));
        let generation = std::sync::Arc::new(std::sync::Mutex::new(
            tokio_util::sync::CancellationToken::new(),
        ));
        let cut = tokio_util::sync::CancellationToken::new();
        let (o, g, stop) = (open.clone(), generation.clone(), cut.clone());
        tokio::spawn(async move {
            loop {
                let accepted = tokio::select! {
                    a = listener.accept() => a,
                    _ = stop.cancelled() => return,
                };
                let Ok((mut inbound, _)) = accepted else {
                    continue;
                };
                if !o.load(Ordering::SeqCst) {
                    continue; // dropped: refused
                }
                let this = g.lock().map(|t| t.clone()).unwrap_or_default();
                tokio::spawn(async move {
                    let Ok(mut outbound) = tokio::net::TcpStream::connect(to).await else {
                        return;
                    };
                    tokio::select! {
                        _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound) => {}
                        _ = this.cancelled() => {}
                    }
                });
            }
        });
        Relay {
            addr,
            open,
            cut,
            generation,
        }
    }

    fn cut(&self) {
        self.open.store(false, std::sync::atomic::Ordering::SeqCst);
        if let Ok(mut g) = self.generation.lock() {
            g.cancel();
            *g = tokio_util::sync::CancellationToken::new();
        }
    }

    fn heal(&self) {
        self.open.store(true, std::sync::atomic::Ordering::SeqCst);
    }
}

impl Drop for Relay {
    fn drop(&mut self) {
        self.cut.cancel();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pop_missed_while_the_page_was_cut_off_is_shown_when_it_reconnects() {
    // At speed 1, 5XXX rings 2 s before it answers: the page is cut off
    // while the phone rings and stays so past the answer.
    let lab = lab("replay", 1, &[(5, 1)], 1.0).await;
    let daemon = lab.start_daemon().await;
    let relay = Relay::start(daemon.addr).await;
    let (_, token) = lab.agents[0].clone();
    let customer = lab
        .store
        .customer("cust0000")
        .await
        .expect("store")
        .expect("customer");

    let browser = Browser::start().await;
    browser.goto(&format!("http://{}/agent", relay.addr)).await;
    browser.sign_in(&token).await;
    browser
        .wait_text("state-badge", "the agent signed in", |t| {
            !t.is_empty() && t != "Connecting…"
        })
        .await;
    // Ringing: cut the page off.
    let call_id = eventually("the call ringing", async || {
        let a = lab.store.attempts_for_task(1).await.expect("attempts");
        a.into_iter()
            .find(|a| a.ring_ms.is_some())
            .map(|a| a.call_id)
    })
    .await;
    relay.cut();
    browser
        .wait_for_within(
            &support::browser::testid_css("connection-banner"),
            Duration::from_secs(10),
        )
        .await;
    // The answer comes and its pop is sent to no page.
    eventually("a pop sent", async || {
        let pops = lab.store.pops_for_call(&call_id).await.expect("pops");
        (!pops.is_empty()).then_some(())
    })
    .await;
    assert_eq!(
        card_state(&browser).await,
        Value::Null,
        "no page could have drawn it yet"
    );
    relay.heal();
    let card = wait_card(&browser, "the missed pop after the reconnect", |s| {
        s["name"] == customer.name
    })
    .await;
    assert_eq!(card["call"], json!("Connected"));
    eventually("the replayed pop acknowledged", async || {
        let pops = lab.store.pops_for_call(&call_id).await.expect("pops");
        (pops.len() == 1 && pops[0].2.is_some()).then_some(())
    })
    .await;
    lab.sim
        .hangup_all(dialpop::switch::HangupCause::NormalClearing);
    browser.close().await;
    daemon.stop().await;
}
