//! The agent page for real: headless Chromium signs in to the real daemon,
//! the campaign dials the simulated FreeSWITCH, the customer answers, and
//! the pop appears on the page, is acknowledged, and the call's end shows.

mod common;
mod support;

use common::{CAMPAIGN, lab};
use std::time::Duration;
use support::browser::{Browser, screenshot_dir, testid_css};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_real_call_pops_on_the_agent_page_in_chromium() {
    // 5XXX answers after 2 s and talks 60 s: at speed 4, 0.5 s and 15 s.
    let lab = lab("browser", 1, &[(5, 1)], 4.0).await;
    let daemon = lab.start_daemon().await;
    let (agent, token) = lab.agents[0].clone();
    let customer = lab.customer_of_task(1).await;

    let browser = Browser::start().await;
    browser.set_viewport(1280, 800).await;
    browser.goto(&format!("http://{}/agent", daemon.addr)).await;
    browser.sign_in(&token).await;
    browser
        .wait_text("agent-name", "the agent's name", |t| {
            t.contains(&agent.name)
        })
        .await;

    // Signing in made the agent available; the dialer calls the customer and
    // the pop shows who answered.
    let card = browser
        .wait_for_within(r#"[data-testid="pop-card"]"#, Duration::from_secs(20))
        .await;
    let call_id = card
        .attr("data-call-id")
        .await
        .expect("attribute")
        .expect("a call id");
    assert_eq!(browser.text_of("customer-name").await, customer.name);
    assert!(
        browser
            .text_of("customer-phone")
            .await
            .contains(&customer.phone.replace('+', "")[..6])
    );
    browser
        .wait_text("call-state", "the connected call", |t| t == "Connected")
        .await;
    browser
        .screenshot(&screenshot_dir().join("e2e-pop-1280.png"))
        .await;

    // The page acknowledged it: the daemon recorded the ack for this agent.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    loop {
        let pops = lab.store.pops_for_call(&call_id).await.expect("pops");
        if pops.len() == 1 && pops[0].2.is_some() {
            assert_eq!(pops[0].1, agent.id);
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "no ack recorded: {pops:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    // The customer hangs up: the page shows the end and the agent wraps up.
    lab.sim
        .hangup_all(dialpop::switch::HangupCause::NormalClearing);
    browser
        .wait_text("call-state", "the end of the call", |t| {
            t.starts_with("Call ended")
        })
        .await;
    browser
        .wait_visible(&testid_css("ready-button"))
        .await
        .click()
        .await
        .expect("click Ready");
    browser
        .wait_text("state-badge", "available again", |t| {
            t.contains("Available")
        })
        .await;
    assert_eq!(
        lab.store.task_counts(CAMPAIGN).await.expect("counts").done,
        1
    );
    browser.close().await;
    daemon.stop().await;
}
