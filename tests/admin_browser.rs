//! The admin page for real, in headless Chromium against the real daemon:
//! the template editor shows errors at their line and a preview drawn by
//! the agent page itself; what it saves is what the agent then sees. The
//! data sources' "test connection" and the pop log.

mod common;
mod support;

use common::{API_TOKEN, lab};
use serde_json::{Value, json};
use std::time::Duration;
use support::browser::{Browser, screenshot_dir, testid_css};

const BROKEN: &str =
    "{\n  \"name\": \"vip\",\n  \"header\": [{\"field\": \"name\"}]\n  \"blocks\": []\n}";

fn good() -> String {
    serde_json::to_string_pretty(&json!({
        "name": "vip-desk",
        "header": [{"field": "name", "label": "Name"}, {"field": "tier", "label": "Tier"}],
        "blocks": [
            {"kind": "fields", "title": "VIP desk",
             "when": {"filters": [{"field": "vip", "op": "eq", "value": true}]},
             "fields": [{"field": "city", "label": "City"}]},
            {"kind": "notes", "title": "Hints", "when": {"levels": ["novice"]}, "lines": ["Thank them for staying with us"]}
        ]
    }))
    .unwrap_or_default()
}

/// The card's structure as a page drew it: header, blocks and their rows.
const CARD: &str = r#"
    var doc = arguments[0] === 'frame' ? document.querySelector('[data-testid="preview-frame"]').contentDocument : document;
    var c = doc && doc.querySelector('[data-testid="pop-card"]');
    if (!c) return null;
    var pairs = function (root) {
      return Array.prototype.map.call(root.querySelectorAll('dt'), function (dt) { return [dt.textContent, dt.nextSibling ? dt.nextSibling.textContent : '']; });
    };
    return { name: c.querySelector('[data-testid="customer-name"]').textContent,
             header: pairs(c.querySelector('[data-testid="header-fields"]') || c),
             blocks: Array.prototype.map.call(c.querySelectorAll('[data-testid="block"]'), function (b) {
               return [b.getAttribute('data-title'), b.textContent]; }) };"#;

async fn card(b: &Browser, which: &str) -> Value {
    b.client()
        .execute(CARD, vec![json!(which)])
        .await
        .unwrap_or_else(|e| panic!("read the card: {e}"))
}

async fn wait_card(b: &Browser, which: &str, what: &str, pred: impl Fn(&Value) -> bool) -> Value {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        let c = card(b, which).await;
        if pred(&c) {
            return c;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "never saw {what}; last: {c}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn set_source(b: &Browser, text: &str) {
    b.client()
        .execute(
            r#"var t = document.querySelector('[data-testid="t-source"]'); t.value = arguments[0];
               t.dispatchEvent(new Event('input')); return null;"#,
            vec![json!(text)],
        )
        .await
        .expect("set the template text");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_editor_previews_with_the_agent_page_and_the_agent_sees_what_it_saved() {
    let lab = lab("admin", 1, &[(5, 1)], 4.0).await;
    let mut vip = lab
        .store
        .customer("cust0000")
        .await
        .expect("store")
        .expect("customer");
    vip.vip = true;
    lab.store.upsert_customer(&vip).await.expect("customer");
    let daemon = lab.start_daemon().await;
    let (_, token) = lab.agents[0].clone();
    let shots = screenshot_dir();

    let b = Browser::start().await;
    b.set_viewport(1400, 1000).await;
    b.goto(&format!("http://{}/admin", daemon.addr)).await;
    // A wrong token is refused.
    b.type_into("admin-token", "not-a-token").await;
    b.click("admin-sign-in").await;
    b.wait_visible("#login-error").await;
    b.type_into("admin-token", API_TOKEN).await;
    b.click("admin-sign-in").await;
    b.wait_visible(&testid_css("t-source")).await;
    b.type_into("t-customer", "cust0000").await;
    b.type_into("t-level", "novice").await;

    // A template with a missing comma: the error names its line.
    set_source(&b, BROKEN).await;
    let err = b
        .wait_text("t-error", "the error at its line", |t| {
            t.starts_with("Line 4")
        })
        .await;
    assert!(err.contains("expected"), "{err}");
    let gutter = b
        .eval("return Array.prototype.map.call(document.querySelectorAll('#t-gutter .bad'), function (s) { return s.textContent; });")
        .await;
    assert_eq!(gutter, json!(["4"]));
    b.screenshot(&shots.join("admin-template-error.png")).await;

    // A good one: the agent page in the frame draws it.
    set_source(&b, &good()).await;
    let preview = wait_card(&b, "frame", "the preview", |c| {
        c["name"] == vip.name.as_str() && c["blocks"][0][0] == "VIP desk"
    })
    .await;
    let titles: Vec<&str> = preview["blocks"]
        .as_array()
        .map(|a| a.iter().filter_map(|b| b[0].as_str()).collect())
        .unwrap_or_default();
    assert_eq!(titles, ["VIP desk", "Hints"], "{preview}");
    assert!(
        preview["blocks"][0][1]
            .as_str()
            .is_some_and(|t| t.contains("Lisboa")),
        "{preview}"
    );
    b.screenshot(&shots.join("admin-template-preview.png"))
        .await;
    b.click("t-save").await;
    b.wait_text("t-status", "the save", |t| t == "Saved to campaign lab.")
        .await;

    // The data sources: the internal store, tested for this customer.
    b.click("tab-sources").await;
    b.type_into("s-key", "cust0000").await;
    b.wait_visible(r#"[data-source="internal"] [data-testid="source-test"]"#)
        .await
        .click()
        .await
        .expect("test the source");
    b.wait_text("source-outcome", "the source's answer", |t| t == "found")
        .await;
    let mapped = b.text_of("source-mapped").await;
    assert!(mapped.contains(&vip.name), "{mapped}");
    assert!(b.text_of("source-time").await.ends_with("ms"));
    b.screenshot(&shots.join("admin-sources.png")).await;

    // The agent signs in (the agent has no level: no hints block), and
    // sees what the preview showed for an agent without one.
    b.click("tab-templates").await;
    b.type_into("t-level", "").await;
    set_source(&b, &good()).await;
    let preview = wait_card(&b, "frame", "the preview without a level", |c| {
        c["name"] == vip.name.as_str()
            && c["blocks"].as_array().is_some_and(|a| a.len() == 1)
            && c["blocks"][0][0] == "VIP desk"
    })
    .await;
    b.goto(&format!("http://{}/agent", daemon.addr)).await;
    b.sign_in(&token).await;
    let seen = wait_card(&b, "page", "the agent's pop", |c| {
        c["name"] == vip.name.as_str()
    })
    .await;
    assert_eq!(
        seen, preview,
        "the agent saw something else than the preview"
    );
    b.screenshot(&shots.join("admin-agent-sees.png")).await;
    lab.sim
        .hangup_all(dialpop::switch::HangupCause::NormalClearing);

    // The pop log, on the admin page.
    b.goto(&format!("http://{}/admin", daemon.addr)).await;
    b.click("tab-pops").await;
    let row = b
        .wait_text("pop-row", "the pop in the log", |t| t.contains("cust0000"))
        .await;
    assert!(row.contains("vip-desk"), "{row}");
    assert!(row.contains("city, name, tier"), "{row}");
    b.screenshot(&shots.join("admin-pop-log.png")).await;
    b.close().await;
    daemon.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_test_call_from_the_admin_page_shows_its_timing_and_the_record_beside_its_source() {
    // No tasks: the agent is idle, as before a campaign starts.
    let lab = lab("admin-test-call", 1, &[], 10.0).await;
    let number = "+12127361077";
    lab.store
        .upsert_customer(&dialpop::store::Customer {
            id: "cust-x".into(),
            name: "李娜".into(),
            phone: number.into(),
            email: None,
            tier: Some("gold".into()),
            vip: false,
            fields: Default::default(),
        })
        .await
        .expect("customer");
    let daemon = lab.start_daemon().await;
    let stop = tokio_util::sync::CancellationToken::new();
    let (agent, _page) = lab.page_of(0, daemon.addr, &stop);

    let b = Browser::start().await;
    b.set_viewport(1400, 1100).await;
    b.goto(&format!("http://{}/admin", daemon.addr)).await;
    b.type_into("admin-token", API_TOKEN).await;
    b.click("admin-sign-in").await;
    b.wait_visible(&testid_css("t-source")).await;
    b.click("tab-testcall").await;
    b.wait_for(&format!(
        r#"[data-testid="x-agent"] option[value="{}"]"#,
        agent.id
    ))
    .await;
    b.type_into("x-number", number).await;
    b.type_into("x-customer", "cust-x").await;
    // The page may sign in after the admin clicks: the refusal is shown,
    // and the next click places the call.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        b.click("x-place").await;
        let shown = b
            .wait_text("x-status", "the answer to the click", |t| !t.is_empty())
            .await;
        if !shown.contains("logged_out") {
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "{shown}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while b
        .eval("return document.querySelector('[data-testid=\"x-status\"]').getAttribute('data-complete');")
        .await
        != "true"
    {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the test call complete on the page: {}",
            b.text_of("x-status").await
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let steps = b
        .eval("return Array.prototype.map.call(document.querySelectorAll('#x-steps tr'), function (r) { return r.getAttribute('data-step'); });")
        .await;
    for step in [
        "originate",
        "ringing",
        "answer",
        "record_ready",
        "pop_sent",
        "acknowledged",
        "hangup",
    ] {
        assert!(
            steps.as_array().is_some_and(|s| s.contains(&json!(step))),
            "{step} drawn: {steps}"
        );
    }
    let name = b
        .eval("var r = document.querySelector('#x-fields tr[data-field=\"name\"]'); return r ? [r.children[2].textContent, r.querySelector('[data-testid=\"x-verdict\"]').getAttribute('data-verdict')] : null;")
        .await;
    assert_eq!(name, json!(["李娜", "same"]));
    assert!(b.text_of("x-raw").await.contains("李娜"));
    assert!(b.text_of("x-summary").await.contains("answer → pop"));
    b.screenshot(&screenshot_dir().join("admin-test-call.png"))
        .await;
    b.close().await;
    stop.cancel();
    daemon.stop().await;
}
