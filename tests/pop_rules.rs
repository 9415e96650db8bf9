//! Pop filters end to end: a campaign that pops only its gold customers'
//! calls. Every call is answered and connected; only the gold ones reach
//! the agent's page, and each decision is recorded with its attempt.

mod common;
mod support;

use common::{API_TOKEN, AckWhen, CAMPAIGN, lab};
use dialpop::popup::messages::ServerMsg;
use std::time::Duration;
use support::http::Api;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_call_the_filters_reject_does_not_pop_and_the_decision_is_recorded() {
    // Six customers who answer; the lab gives them gold and silver in turn.
    let lab = lab("pop-filters", 1, &[(1, 6)], 20.0).await;
    let daemon = lab.start_daemon().await;
    let api = Api::new(daemon.addr, Some(API_TOKEN));
    let (code, e) = api
        .patch(
            &format!("/api/campaigns/{CAMPAIGN}"),
            r#"{"settings":{"pop_filters":[{"field":"tier","op":"gt","value":"gold"}]}}"#,
        )
        .await;
    assert_eq!(
        (code, e["field"].as_str()),
        (400, Some("settings.pop_filters[0].value")),
        "{e}"
    );
    let (code, c) = api
        .patch(
            &format!("/api/campaigns/{CAMPAIGN}"),
            r#"{"settings":{"pop_filters":[{"field":"tier","op":"eq","value":"GOLD"}]}}"#,
        )
        .await;
    assert_eq!(code, 200, "{c}");
    let stop = tokio_util::sync::CancellationToken::new();
    let pages = lab.pages(daemon.addr, &stop, AckWhen::AtOnce);
    lab.wait_done(Duration::from_secs(60)).await;
    stop.cancel();

    let seen = pages.values().next().expect("one page");
    let popped: Vec<String> = seen
        .lock()
        .expect("seen")
        .messages
        .iter()
        .filter_map(|m| match m {
            ServerMsg::Pop { customer, .. } => {
                Some(customer["tier"].as_str().unwrap_or_default().to_string())
            }
            _ => None,
        })
        .collect();
    assert_eq!(
        popped,
        ["gold", "gold", "gold"],
        "only the gold customers pop"
    );

    let tasks = lab
        .store
        .tasks(&dialpop::store::TaskQuery {
            campaign_id: Some(CAMPAIGN.into()),
            limit: 100,
            ..Default::default()
        })
        .await
        .expect("tasks");
    let (mut shown, mut held) = (0, 0);
    for t in &tasks {
        let customer = lab
            .store
            .customer(&t.customer_id)
            .await
            .expect("store")
            .expect("customer");
        let attempts = lab.store.attempts_for_task(t.id).await.expect("attempts");
        assert_eq!(attempts.len(), 1);
        let a = &attempts[0];
        assert!(
            a.answer_ms.is_some(),
            "every call was answered and connected"
        );
        let rule = a.pop_rule.clone().unwrap_or_default();
        let pops = lab.store.pops_for_call(&a.call_id).await.expect("pops");
        if customer.tier.as_deref() == Some("gold") {
            assert!(rule.starts_with("popped: "), "{rule}");
            assert_eq!(pops.len(), 1);
            shown += 1;
        } else {
            assert!(rule.starts_with("not popped: filter tier"), "{rule}");
            assert!(pops.is_empty(), "no pop row for a call that did not pop");
            held += 1;
        }
    }
    assert_eq!((shown, held), (3, 3));
    daemon.stop().await;
}
