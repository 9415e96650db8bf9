//! The agent page in a real headless Chromium, against a server that speaks
//! the agent protocol over a real WebSocket.
//!
//! The server here is `support::stub_daemon`; the assertions only use its
//! `base_url`, `send`, `close` and `next_from_page`, so they can be pointed at
//! the real daemon by handing them an equivalent handle.
//!
//! Needs /usr/bin/chromium and /usr/bin/chromedriver (`.ci/run` installs
//! them); without them these tests fail, they never skip.

mod support;

use std::time::Duration;

use serde_json::{Value, json};
use support::browser::{Browser, screenshot_dir, testid_css};
use support::stub_daemon::{StubDaemon, TOKEN};

const REPLY: Duration = Duration::from_secs(5);

/// Written out rather than built with `json!`, whose objects sort their keys:
/// the page must show the customer's fields in the order the server sent them.
const GOLD_VIP_POP: &str = r#"{
  "type": "pop",
  "pop_id": "pop-0001",
  "call_id": "6f1c2a0e-3b7d-4c59-9a51-0c2b8e7d1f10",
  "campaign_id": "spring-renewals",
  "task_id": 123,
  "trigger": "answer",
  "customer": {
    "id": "c42",
    "name": "王芳",
    "phone": "+8613800138000",
    "tier": "gold",
    "vip": true,
    "email": "wang.fang@example.cn",
    "city": "上海 Shanghai",
    "account_id": "ACC-2024-0042",
    "balance": 1280.5,
    "open_tickets": 2,
    "preferred_language": "Mandarin",
    "opted_in_sms": true,
    "lastContact": "2024-05-12, asked for a callback about the renewal offer"
  },
  "degraded": true,
  "reasons": ["crm: no answer within 800 ms"]
}"#;

async fn js(browser: &Browser, script: &str) -> Value {
    browser.eval(script).await
}

async fn texts(browser: &Browser, css: &str) -> Vec<String> {
    let script = format!(
        "return Array.from(document.querySelectorAll({css:?})).map(function (e) {{ return e.textContent; }});"
    );
    serde_json::from_value(js(browser, &script).await).expect("a list of strings")
}

async fn session_token(browser: &Browser) -> Value {
    js(
        browser,
        "return sessionStorage.getItem('dialpop.agent.token');",
    )
    .await
}

/// The page's first frame: its token, and the browser's language.
async fn expect_auth(browser: &Browser, server: &mut StubDaemon, token: &str) {
    let locale = js(browser, "return navigator.language || '';").await;
    expect_from_page(
        server,
        json!({"type": "auth", "token": token, "locale": locale}),
    )
    .await;
}

async fn expect_from_page(server: &mut StubDaemon, want: Value) {
    let got = server.next_from_page(REPLY).await;
    assert_eq!(got, want, "the page sent something else");
}

/// Screenshots at a desktop and a phone size into `<target>/screenshots/`,
/// checking at those sizes and at 360 px that nothing scrolls sideways.
async fn shots(browser: &Browser, name: &str) {
    let dir = screenshot_dir();
    for (w, h) in [(1280, 800), (390, 844), (360, 740)] {
        browser.set_viewport(w, h).await;
        assert_fits_width(browser, &format!("{name} at {w}x{h}")).await;
        if w != 360 {
            browser
                .screenshot(&dir.join(format!("{name}-{w}x{h}.png")))
                .await;
        }
    }
    browser.set_viewport(1280, 800).await;
}

async fn assert_fits_width(browser: &Browser, what: &str) {
    let sideways = js(
        browser,
        "var d = document.documentElement; return [d.scrollWidth, d.clientWidth];",
    )
    .await;
    assert!(
        sideways[0].as_u64() <= sideways[1].as_u64(),
        "{what}: the page scrolls sideways (content {} px, viewport {} px)",
        sideways[0],
        sideways[1]
    );
}

/// Sign in, receive a pop, acknowledge it, see the call end, go through
/// wrap-up with the Ready button; then odd pops (RTL, missing fields, markup).
async fn pop_flow(browser: &Browser, server: &mut StubDaemon) {
    browser.goto(&format!("{}/agent", server.base_url)).await;
    browser.wait_visible(&testid_css("login-form")).await;
    shots(browser, "login").await;

    browser.sign_in(TOKEN).await;
    expect_auth(browser, server, TOKEN).await;
    browser
        .wait_text("agent-name", "the agent's name", |t| t == "Ana Lima")
        .await;
    assert!(browser.text_of("agent-extension").await.contains("8001"));
    browser
        .wait_text("state-badge", "Available", |t| t == "Available")
        .await;
    assert!(!browser.is_displayed(&testid_css("login-form")).await);
    assert_eq!(session_token(browser).await, json!(TOKEN));
    let url = browser.client().current_url().await.expect("url");
    assert!(!url.as_str().contains(TOKEN), "token leaked into {url}");

    server.send(json!({"type": "state", "state": "reserved", "call_id": "6f1c2a0e-3b7d-4c59-9a51-0c2b8e7d1f10"}));
    browser
        .wait_text("state-badge", "Reserved", |t| {
            t == "Reserved \u{2013} dialing"
        })
        .await;
    server.send(json!({"type": "state", "state": "on_call"}));
    browser
        .wait_text("state-badge", "On call", |t| t == "On call")
        .await;

    // The pop renders and is acknowledged with its own id.
    server.send_text(GOLD_VIP_POP);
    let card = browser
        .wait_visible(r#"[data-testid="pop-card"][data-pop-id="pop-0001"]"#)
        .await;
    assert_eq!(
        card.attr("data-call-id").await.expect("attr").as_deref(),
        Some("6f1c2a0e-3b7d-4c59-9a51-0c2b8e7d1f10")
    );
    expect_from_page(server, json!({"type": "ack", "pop_id": "pop-0001"})).await;
    assert_eq!(browser.text_of("customer-name").await, "王芳");
    assert_eq!(browser.text_of("customer-phone").await, "+8613800138000");
    assert_eq!(browser.text_of("customer-tier").await, "Gold");
    assert!(browser.text_of("customer-vip").await.contains("VIP"));
    let notice = browser.text_of("degraded-notice").await;
    assert!(
        notice.contains("Some customer data could not be loaded"),
        "{notice}"
    );
    assert!(notice.contains("crm: no answer within 800 ms"), "{notice}");
    assert_eq!(browser.text_of("call-state").await, "Connected");
    assert_eq!(
        texts(browser, "[data-testid=customer-fields] dt").await,
        [
            "Email",
            "City",
            "Account ID",
            "Balance",
            "Open tickets",
            "Preferred language",
            "Opted in SMS",
            "Last contact"
        ]
    );
    assert_eq!(
        texts(browser, "[data-testid=customer-fields] dd").await,
        [
            "wang.fang@example.cn",
            "上海 Shanghai",
            "ACC-2024-0042",
            "1280.5",
            "2",
            "Mandarin",
            "Yes",
            "2024-05-12, asked for a callback about the renewal offer"
        ]
    );
    assert!(browser.text_of("pop-meta").await.contains("c42"));
    shots(browser, "pop").await;

    // The call ends: the card stays, greyed, with the cause.
    server.send(json!({"type": "call", "call_id": "6f1c2a0e-3b7d-4c59-9a51-0c2b8e7d1f10", "state": "ended", "cause": "NORMAL_CLEARING"}));
    browser
        .wait_text("call-state", "the end of the call", |t| {
            t == "Call ended \u{2014} Normal clearing"
        })
        .await;
    let class = card.attr("class").await.expect("class").unwrap_or_default();
    assert!(class.contains("is-ended"), "card class: {class}");

    // Wrap-up with a countdown, and the Ready button sends {"type":"ready"}.
    server.send(json!({"type": "state", "state": "wrap_up", "wrap_up_seconds": 30}));
    let badge = browser
        .wait_text("state-badge", "a wrap-up countdown", |t| {
            t.starts_with("Wrap-up \u{b7} 0:")
        })
        .await;
    // Counting down from 0:30 (a slow machine may already be a few seconds in).
    let left: u32 = badge
        .rsplit(':')
        .next()
        .and_then(|s| s.parse().ok())
        .unwrap_or(99);
    assert!((20..=30).contains(&left), "{badge}");
    let ready = browser.wait_visible(&testid_css("ready-button")).await;
    shots(browser, "wrap-up").await;
    ready.click().await.expect("click Ready");
    expect_from_page(server, json!({"type": "ready"})).await;
    server.send(json!({"type": "state", "state": "available"}));
    browser
        .wait_text("state-badge", "Available", |t| t == "Available")
        .await;
    browser.wait_hidden(&testid_css("ready-button")).await;

    // Unknown message types are ignored.
    server.send(json!({"type": "supervisor_whisper", "text": "hi"}));

    // A right-to-left name, no phone, no tier, a long value; a call message
    // that arrives before its pop is applied when the pop comes.
    server.send(json!({"type": "call", "call_id": "call-2", "state": "ringing"}));
    server.send(json!({
        "type": "pop", "pop_id": "pop-0002", "call_id": "call-2", "campaign_id": "spring-renewals",
        "task_id": 124, "trigger": "ring",
        "customer": {"id": "c43", "name": "محمد عبد الله", "address": "شارع الملك فهد، الرياض",
                     "notes": "x".repeat(400)},
        "degraded": false, "reasons": []
    }));
    browser
        .wait_visible(r#"[data-testid="pop-card"][data-pop-id="pop-0002"]"#)
        .await;
    expect_from_page(server, json!({"type": "ack", "pop_id": "pop-0002"})).await;
    assert_eq!(browser.text_of("customer-name").await, "محمد عبد الله");
    assert_eq!(
        js(
            browser,
            "return document.querySelector('[data-testid=customer-name]').matches(':dir(rtl)');"
        )
        .await,
        json!(true),
        "an Arabic name must be laid out right to left"
    );
    assert_eq!(
        browser.text_of("customer-phone").await,
        "No number on record"
    );
    assert!(!browser.is_displayed(&testid_css("customer-tier")).await);
    assert!(!browser.is_displayed(&testid_css("customer-vip")).await);
    assert!(!browser.is_displayed(&testid_css("degraded-notice")).await);
    assert_eq!(browser.text_of("call-state").await, "Ringing");
    // (shots also checks that the 400-character value does not widen the page)
    shots(browser, "pop-rtl").await;

    // Markup in server data is shown as text and creates no element.
    let evil = r#"<img src=x onerror="window.__pwned=1">"#;
    server.send(json!({
        "type": "pop", "pop_id": "pop-0003", "call_id": "call-3", "trigger": "answer",
        "customer": {"name": evil, "phone": "<b>+1</b>", "tier": "<i>gold</i>", "note": evil, "<svg onload=alert(1)>": "key"},
        "degraded": true, "reasons": [evil]
    }));
    browser
        .wait_visible(r#"[data-testid="pop-card"][data-pop-id="pop-0003"]"#)
        .await;
    expect_from_page(server, json!({"type": "ack", "pop_id": "pop-0003"})).await;
    assert_eq!(browser.text_of("customer-name").await, evil);
    assert_eq!(browser.text_of("customer-phone").await, "<b>+1</b>");
    let created = js(
        browser,
        "return document.querySelectorAll('main img, main svg, main b, main i, main script').length;",
    )
    .await;
    assert_eq!(created, json!(0), "server data became elements");
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(
        js(browser, "return typeof window.__pwned;").await,
        json!("undefined")
    );
    // And the page's Content-Security-Policy would stop an inline handler
    // even if some future code did parse data as HTML.
    js(
        browser,
        r#"document.body.insertAdjacentHTML('beforeend', '<img id="csp-probe" src="data:," onload="window.__csp=1" onerror="window.__csp=2">'); return null;"#,
    )
    .await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(
        js(browser, "return typeof window.__csp;").await,
        json!("undefined"),
        "the CSP let an inline handler run"
    );
    js(
        browser,
        "document.getElementById('csp-probe').remove(); return null;",
    )
    .await;

    // A nearly empty pop still renders.
    server.send(json!({"type": "pop", "pop_id": "pop-0004", "call_id": "call-4", "customer": {}}));
    browser
        .wait_visible(r#"[data-testid="pop-card"][data-pop-id="pop-0004"]"#)
        .await;
    expect_from_page(server, json!({"type": "ack", "pop_id": "pop-0004"})).await;
    assert_eq!(browser.text_of("customer-name").await, "Unknown customer");

    // The history keeps the last five pops of the session, newest first.
    for n in 5..=7 {
        let id = format!("pop-000{n}");
        server.send(
            json!({"type": "pop", "pop_id": id, "call_id": format!("call-{n}"),
                           "customer": {"name": format!("Customer {n}"), "phone": "+15550100"}}),
        );
        expect_from_page(server, json!({"type": "ack", "pop_id": id})).await;
    }
    let history = texts(browser, "[data-testid=history] li .h-name").await;
    assert_eq!(
        history,
        [
            "Customer 7",
            "Customer 6",
            "Customer 5",
            "Unknown customer",
            evil
        ]
    );
}

/// A wrong token, keyboard sign-in, a dropped connection, a reload, sign-out.
async fn session_flow(browser: &Browser, server: &mut StubDaemon) {
    browser.goto(&format!("{}/agent", server.base_url)).await;

    // Nothing typed: the page asks for the token and sends nothing.
    browser
        .wait_visible(&testid_css("login-submit"))
        .await
        .click()
        .await
        .expect("click");
    browser
        .wait_text("error-message", "a prompt for the token", |t| {
            t.contains("access token")
        })
        .await;

    // A wrong token: the error shows, the page stays on login and does not retry.
    browser.sign_in("not-the-token").await;
    expect_auth(browser, server, "not-the-token").await;
    browser
        .wait_text("error-message", "the server's error", |t| {
            t.contains("invalid token")
        })
        .await;
    let later = server.drain_for(Duration::from_millis(2500)).await;
    assert!(
        later.is_empty(),
        "the page retried a rejected token: {later:?}"
    );
    assert!(browser.is_displayed(&testid_css("login-form")).await);
    assert!(!browser.is_displayed(&testid_css("state-badge")).await);
    assert_eq!(session_token(browser).await, Value::Null);
    shots(browser, "login-error").await;

    // Keyboard only: type the token and press Enter.
    let input = browser.wait_visible(&testid_css("token-input")).await;
    input
        .send_keys(&format!("{TOKEN}\u{E007}"))
        .await
        .expect("type + Enter");
    expect_auth(browser, server, TOKEN).await;
    browser
        .wait_text("state-badge", "Available", |t| t == "Available")
        .await;
    browser.wait_hidden(&testid_css("error-message")).await;

    // The server drops the socket: "Reconnecting…", then the page signs in again.
    server.close(1011);
    browser
        .wait_text("connection-banner", "Reconnecting", |t| {
            t.contains("Reconnecting")
        })
        .await;
    shots(browser, "reconnecting").await;
    expect_auth(browser, server, TOKEN).await;
    browser.wait_hidden(&testid_css("connection-banner")).await;
    browser
        .wait_text("state-badge", "Available", |t| t == "Available")
        .await;

    // A reload signs in again from sessionStorage, without the token in the URL.
    browser.client().refresh().await.expect("reload");
    expect_auth(browser, server, TOKEN).await;
    browser
        .wait_text("agent-name", "the agent's name", |t| t == "Ana Lima")
        .await;
    let url = browser.client().current_url().await.expect("url");
    assert!(!url.as_str().contains(TOKEN), "token leaked into {url}");

    // Sign out forgets the token, closes the socket and does not reconnect.
    browser
        .wait_visible(&testid_css("signout"))
        .await
        .click()
        .await
        .expect("click Sign out");
    browser.wait_visible(&testid_css("login-form")).await;
    assert_eq!(session_token(browser).await, Value::Null);
    let later = server.drain_for(Duration::from_millis(2500)).await;
    assert!(
        later.is_empty(),
        "the page reconnected after sign-out: {later:?}"
    );
}

/// Pause with a reason and resume; at wrap-up, the disposition form with
/// the campaign's codes, a callback time, and Ready held back while a
/// disposition is required.
async fn pause_and_disposition_flow(browser: &Browser, server: &mut StubDaemon) {
    browser.goto(&format!("{}/agent", server.base_url)).await;
    browser.sign_in(TOKEN).await;
    expect_auth(browser, server, TOKEN).await;
    browser
        .wait_text("state-badge", "Available", |t| t == "Available")
        .await;
    js(browser, "var s = document.querySelector('[data-testid=pause-reason]'); s.value = 'lunch'; return 1;").await;
    browser
        .wait_visible(&testid_css("pause-button"))
        .await
        .click()
        .await
        .expect("click Pause");
    expect_from_page(server, json!({"type": "pause", "reason": "lunch"})).await;
    server.send(json!({"type": "state", "state": "paused", "reason": "lunch"}));
    browser
        .wait_text("state-badge", "Paused · Lunch", |t| {
            t == "Paused \u{b7} Lunch"
        })
        .await;
    assert!(!browser.is_displayed(&testid_css("pause-button")).await);
    browser
        .wait_visible(&testid_css("resume-button"))
        .await
        .click()
        .await
        .expect("click Resume");
    expect_from_page(server, json!({"type": "resume"})).await;
    server.send(json!({"type": "state", "state": "on_call", "call_id": "call-9"}));
    browser
        .wait_text("state-badge", "On call", |t| t == "On call")
        .await;
    assert!(!browser.is_displayed(&testid_css("disposition-form")).await);

    let codes = json!([
        {"code": "sale", "label": "Sale", "action": "done"},
        {"code": "callback", "label": "Call back", "action": "callback"},
        {"code": "x<b>y", "label": "<img src=x onerror=alert(1)>", "action": "done"}
    ]);
    server.send(
        json!({"type": "state", "state": "wrap_up", "wrap_up_seconds": 30,
        "disposition": {"call_id": "call-9", "codes": codes, "required": true}}),
    );
    browser.wait_visible(&testid_css("disposition-form")).await;
    assert!(
        !browser.is_displayed(&testid_css("ready-button")).await,
        "a required disposition holds Ready back"
    );
    assert_eq!(
        texts(browser, "[data-testid=disposition-code] option").await,
        ["Sale", "Call back", "<img src=x onerror=alert(1)>"],
        "labels are text, never markup"
    );
    assert!(!browser.is_displayed(&testid_css("callback-at")).await);
    js(browser, "var s = document.querySelector('[data-testid=disposition-code]'); s.value = 'callback'; s.dispatchEvent(new Event('change')); return 1;").await;
    browser.wait_visible(&testid_css("callback-at")).await;
    shots(browser, "disposition").await;
    // Without a time, the page asks for one and sends nothing.
    browser
        .wait_visible(&testid_css("disposition-save"))
        .await
        .click()
        .await
        .expect("click Save");
    browser
        .wait_text("disposition-status", "asks for the time", |t| {
            t.contains("when to call back")
        })
        .await;
    let at = js(browser, "var i = document.querySelector('[data-testid=callback-at]'); i.value = '2031-03-04T15:30'; document.querySelector('[data-testid=disposition-notes]').value = 'Prefers mornings'; document.querySelector('[data-testid=callback-mine]').checked = false; return new Date(i.value).getTime();").await;
    browser
        .wait_visible(&testid_css("disposition-save"))
        .await
        .click()
        .await
        .expect("click Save");
    expect_from_page(
        server,
        json!({"type": "disposition", "call_id": "call-9", "code": "callback", "notes": "Prefers mornings",
               "callback_at_ms": at, "callback_mine": false}),
    )
    .await;
    server.send(json!({"type": "disposed", "call_id": "call-9", "code": "callback"}));
    browser
        .wait_text("disposition-status", "Saved", |t| t == "Saved.")
        .await;
    server.send(json!({"type": "state", "state": "available"}));
    browser.wait_hidden(&testid_css("disposition-form")).await;

    // Not required: Ready stays, and a new call's form starts empty.
    server.send(
        json!({"type": "state", "state": "wrap_up", "wrap_up_seconds": 30,
        "disposition": {"call_id": "call-10", "codes": codes, "required": false}}),
    );
    browser.wait_visible(&testid_css("ready-button")).await;
    let notes = js(
        browser,
        "return document.querySelector('[data-testid=disposition-notes]').value;",
    )
    .await;
    assert_eq!(notes, json!(""));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn agent_page_pauses_and_gives_dispositions_in_chromium() {
    let mut server = StubDaemon::start().await;
    let browser = Browser::start().await;
    pause_and_disposition_flow(&browser, &mut server).await;
    browser.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn agent_page_renders_and_acknowledges_pops_in_chromium() {
    let mut server = StubDaemon::start().await;
    let browser = Browser::start().await;
    pop_flow(&browser, &mut server).await;
    browser.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn agent_page_sign_in_errors_reconnect_reload_and_sign_out_in_chromium() {
    let mut server = StubDaemon::start().await;
    let browser = Browser::start().await;
    session_flow(&browser, &mut server).await;
    browser.close().await;
}

/// A preview pop: the record first, then Dial, or a reason and Skip; with a
/// countdown the page shows it and locks its buttons when it runs out.
async fn preview_flow(browser: &Browser, server: &mut StubDaemon) {
    browser.goto(&format!("{}/agent", server.base_url)).await;
    browser.sign_in(TOKEN).await;
    expect_auth(browser, server, TOKEN).await;
    browser
        .wait_text("state-badge", "Available", |t| t == "Available")
        .await;
    let pop = |pop_id: &str, call_id: &str, state: &str| {
        json!({"type": "pop", "pop_id": pop_id, "call_id": call_id, "campaign_id": "c", "task_id": 1,
               "trigger": "answer", "call_state": state,
               "customer": {"id": "c1", "name": "Ana Lima", "phone": "+15551234567"},
               "degraded": false, "reasons": []})
    };
    server.send(json!({"type": "state", "state": "reserved", "call_id": "pv-1"}));
    server.send(pop("pop-pv-1", "pv-1", "preview"));
    expect_from_page(server, json!({"type": "ack", "pop_id": "pop-pv-1"})).await;
    browser
        .wait_text("call-state", "Preview", |t| t == "Preview")
        .await;
    assert!(
        !browser.is_displayed(&testid_css("preview-bar")).await,
        "no controls before the server offers the preview"
    );
    server.send(json!({"type": "preview", "call_id": "pv-1"}));
    browser.wait_visible(&testid_css("preview-bar")).await;
    assert_eq!(browser.text_of("preview-countdown").await, "");
    shots(browser, "preview").await;
    browser
        .wait_visible(&testid_css("preview-dial"))
        .await
        .click()
        .await
        .expect("click Dial");
    expect_from_page(server, json!({"type": "preview_dial", "call_id": "pv-1"})).await;
    let disabled = js(
        browser,
        "return document.querySelector('[data-testid=preview-dial]').disabled;",
    )
    .await;
    assert_eq!(disabled, json!(true), "one click, one call");

    // The next: skipped, with the reason chosen.
    server.send(pop("pop-pv-2", "pv-2", "preview"));
    expect_from_page(server, json!({"type": "ack", "pop_id": "pop-pv-2"})).await;
    server.send(json!({"type": "preview", "call_id": "pv-2", "auto_dial_seconds": 30}));
    browser
        .wait_text("preview-countdown", "the countdown", |t| {
            t.starts_with("Dialing in ") && t.ends_with(" s")
        })
        .await;
    assert_eq!(
        texts(browser, "[data-testid=preview-reason] option").await,
        ["Wrong number", "Not now", "Already called", "Other"]
    );
    js(
        browser,
        "document.querySelector('[data-testid=preview-reason]').value = 'wrong_number'; return 1;",
    )
    .await;
    browser
        .wait_visible(&testid_css("preview-skip"))
        .await
        .click()
        .await
        .expect("click Skip");
    expect_from_page(
        server,
        json!({"type": "preview_skip", "call_id": "pv-2", "reason": "wrong_number"}),
    )
    .await;

    // A countdown that runs out locks the buttons (the server dials).
    server.send(pop("pop-pv-3", "pv-3", "preview"));
    expect_from_page(server, json!({"type": "ack", "pop_id": "pop-pv-3"})).await;
    server.send(json!({"type": "preview", "call_id": "pv-3", "auto_dial_seconds": 0.5}));
    browser
        .wait_text("preview-countdown", "the countdown's end", |t| {
            t == "Dialing in 0 s"
        })
        .await;
    let locked = js(
        browser,
        "return [document.querySelector('[data-testid=preview-dial]').disabled, document.querySelector('[data-testid=preview-skip]').disabled];",
    )
    .await;
    assert_eq!(locked, json!([true, true]));
    // The same pop, dialed and answered, is redrawn in place without controls.
    server.send(pop("pop-pv-3", "pv-3", "answered"));
    expect_from_page(server, json!({"type": "ack", "pop_id": "pop-pv-3"})).await;
    browser.wait_hidden(&testid_css("preview-bar")).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn agent_page_previews_dials_and_skips_in_chromium() {
    let mut server = StubDaemon::start().await;
    let browser = Browser::start().await;
    preview_flow(&browser, &mut server).await;
    browser.close().await;
}
