//! What a start finds in the store after a kill, settled: here a wrap-up
//! whose end was still in the writer's queue when the process died, while
//! the agent's next call had already been written.

mod common;
mod support;

use common::{AckWhen, CAMPAIGN, lab};
use dialpop::store::{ClaimFilter, NewAttempt, now_ms};
use std::time::Duration;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrap_up_left_unfinished_behind_the_agents_next_call_is_settled_not_restarted() {
    let lab = lab("recovery-wrap", 1, &[(1, 2)], 10.0).await;
    let agent = lab.agents[0].0.id.clone();
    let store = &lab.store;
    // Both tasks claimed by the run that died: the first was answered and
    // hung up (its wrap-up's end lost), the second written for the same
    // agent and never placed.
    let claimed = store
        .claim_batch(
            &ClaimFilter {
                campaign_id: CAMPAIGN.into(),
                ..ClaimFilter::default()
            },
            now_ms() + 1,
            2,
        )
        .await
        .expect("claim");
    assert_eq!(claimed.len(), 2);
    let (first, second) = (claimed[0].0.id, claimed[1].0.id);
    let t0 = now_ms() - 5_000;
    let attempt = |task: i64, call: &str, at: i64| NewAttempt {
        call_id: call.into(),
        task_id: task,
        agent_id: agent.clone(),
        switch_name: "sim".into(),
        originate_ms: at,
    };
    store
        .insert_attempt(&attempt(first, "call-1", t0))
        .await
        .expect("attempt");
    store
        .record_answer("call-1", t0 + 1_000, None)
        .await
        .expect("answer");
    store
        .close_attempt("call-1", t0 + 3_000, "answered", Some("NORMAL_CLEARING"))
        .await
        .expect("close");
    store
        .insert_attempt(&attempt(second, "call-2", t0 + 3_500))
        .await
        .expect("attempt");

    let daemon = lab.start_daemon().await;
    let stop = tokio_util::sync::CancellationToken::new();
    let _pages = lab.pages(daemon.addr, &stop, AckWhen::AtOnce);
    // The first task is settled by its call's outcome (its agent had moved
    // on), the second is dialed again and done: nothing is left dialing.
    // Restarting the first's wrap-up beside the second's call left it
    // dialing for good.
    lab.wait_done(Duration::from_secs(30)).await;
    let t = store.task(first).await.expect("task").expect("first");
    assert_eq!(t.status.as_str(), "done");
    let t = store.task(second).await.expect("task").expect("second");
    assert_eq!(t.status.as_str(), "done");
    stop.cancel();
    daemon.stop().await;
}
