//! The first campaign end to end over real sockets: the daemon, the
//! simulated FreeSWITCH, and one WebSocket client per agent.

mod common;
mod support;

use common::{API_TOKEN, AckWhen, CAMPAIGN, agent_client, check_campaign, lab};
use dialpop::popup::messages::{AgentStateName, ServerMsg};
use dialpop::switch::sim::SimProtocol;
use std::time::Duration;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_campaign_pops_every_answered_call_once_to_its_agent_on_freeswitch() {
    campaign_pops_every_answered_call_once(SimProtocol::Esl).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_campaign_pops_every_answered_call_once_to_its_agent_on_asterisk() {
    campaign_pops_every_answered_call_once(SimProtocol::Ami).await;
}

/// The same campaign with the store on the machine's PostgreSQL.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_campaign_on_postgres_pops_every_answered_call_once_to_its_agent() {
    let url = support::stores::postgres_schema_url().await;
    campaign_pops_every_answered_call_once_on(SimProtocol::Esl, Some(url)).await;
}

async fn campaign_pops_every_answered_call_once(protocol: SimProtocol) {
    campaign_pops_every_answered_call_once_on(protocol, None).await;
}

async fn campaign_pops_every_answered_call_once_on(protocol: SimProtocol, db_url: Option<String>) {
    let name = if db_url.is_some() { "e2e-pg" } else { "e2e" };
    let lab = common::lab_on_store(
        protocol,
        name,
        3,
        &[(1, 14), (5, 2), (2, 3), (3, 2), (4, 2)],
        20.0,
        db_url,
    )
    .await;
    let daemon = lab.start_daemon().await;
    let stop = tokio_util::sync::CancellationToken::new();
    let pages = lab.pages(daemon.addr, &stop, AckWhen::AtOnce);
    lab.wait_done(Duration::from_secs(60)).await;
    let counts = check_campaign(&lab, &pages).await;
    println!("campaign: {counts:?}");
    assert_eq!(counts.tasks, 23);
    assert_eq!(counts.done, 16);
    assert_eq!(counts.failed, 7);
    assert_eq!(counts.answered, 16);
    assert_eq!(counts.pops, 16);
    // busy ×2, no answer ×2, congestion ×1, answered ×1
    assert_eq!(counts.attempts, 16 + 3 * 2 + 2 * 2 + 2);
    assert_eq!(counts.double_dialed, 0);

    // Each agent went reserved → on call → wrap-up → available, in order.
    for (agent, seen) in &pages {
        let seen = seen.lock().expect("seen");
        let states: Vec<AgentStateName> = seen
            .messages
            .iter()
            .filter_map(|m| match m {
                ServerMsg::State { state, .. } => Some(*state),
                _ => None,
            })
            .collect();
        let cycle = [
            AgentStateName::Reserved,
            AgentStateName::OnCall,
            AgentStateName::WrapUp,
            AgentStateName::Available,
        ];
        let found = states.windows(4).any(|w| w == cycle);
        assert!(found, "{agent} never cycled: {states:?}");
        // The pop is preceded by nothing of another call's customer, and a
        // call's end follows its pop.
        let pops = seen
            .messages
            .iter()
            .filter(|m| matches!(m, ServerMsg::Pop { .. }))
            .count();
        let ends = seen
            .messages
            .iter()
            .filter(|m| matches!(m, ServerMsg::Call { state, .. } if state == "ended"))
            .count();
        assert!(ends >= pops, "{agent}: {pops} pops but {ends} call ends");
    }
    stop.cancel();
    daemon.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_task_api_validates_authenticates_and_dials() {
    let lab = lab("api", 1, &[], 20.0).await;
    let daemon = lab.start_daemon().await;
    let url = format!("http://{}/api/outbound/tasks", daemon.addr);
    let http = reqwest_like::Client::new();

    let (status, body) = http
        .post(
            &url,
            None,
            r#"{"campaign":"lab","customer_id":"c1","phone":"+15551001"}"#,
        )
        .await;
    assert_eq!(status, 401, "{body}");

    let bad = [
        (r#"{"customer_id":"c1","phone":"+15551001"}"#, "campaign"),
        (
            r#"{"campaign":"lab","customer_id":"c1,origination_uuid=x","phone":"+15551001"}"#,
            "customer_id",
        ),
        (
            r#"{"campaign":"lab","customer_id":"c1}&bridge(x)","phone":"+15551001"}"#,
            "customer_id",
        ),
        (r#"{"campaign":"lab","phone":"+15551001"}"#, "customer_id"),
        (
            r#"{"campaign":"lab","customer_id":"c1","phone":"1555;exit"}"#,
            "phone",
        ),
        (
            r#"{"campaign":"lab","customer_id":"c1","phone":"+1555 1001"}"#,
            "phone",
        ),
        (
            r#"{"campaign":"lab","customer_id":"c1","phone":"+15551001\r\nexit"}"#,
            "phone",
        ),
        (
            r#"{"campaign":"lab","customer_id":"c1\nx","phone":"+15551001"}"#,
            "customer_id",
        ),
        (
            r#"{"campaign":"nope","customer_id":"c1","phone":"+15551001"}"#,
            "campaign",
        ),
        (
            r#"{"campaign":"lab","customer_id":"c1","phone":"+15551001","priority":"high"}"#,
            "priority",
        ),
    ];
    for (body, field) in bad {
        let (status, reply) = http.post(&url, Some(API_TOKEN), body).await;
        assert_eq!(status, 400, "{body} → {reply}");
        let v: serde_json::Value = serde_json::from_str(&reply).expect("JSON error");
        assert_eq!(v["field"], field, "{body} → {reply}");
        assert!(v["error"].as_str().is_some_and(|e| !e.is_empty()));
    }
    let (status, reply) = http.post(&url, Some(API_TOKEN), "not json").await;
    assert_eq!(status, 400, "{reply}");

    // A good task is queued and dialed to the agent who is online.
    let stop = tokio_util::sync::CancellationToken::new();
    let (_, token) = lab.agents[0].clone();
    let page = agent_client(
        format!("ws://{}/ws/agent", daemon.addr),
        token,
        stop.clone(),
    );
    let (status, reply) = http
        .post(
            &url,
            Some(API_TOKEN),
            r#"{"campaign":"lab","customer_id":"walk-in","phone":"+12127361234","priority":5}"#,
        )
        .await;
    assert_eq!(status, 201, "{reply}");
    let v: serde_json::Value = serde_json::from_str(&reply).expect("JSON");
    let task_id = v["task_id"].as_i64().expect("task id");
    lab.wait_done(Duration::from_secs(30)).await;
    let task = lab.store.task(task_id).await.expect("store").expect("task");
    assert_eq!(task.status.as_str(), "done");
    // The customer is not in the database: the pop still goes out, degraded,
    // with the task's own fields.
    let pop = page
        .lock()
        .expect("seen")
        .messages
        .iter()
        .find_map(|m| match m {
            ServerMsg::Pop {
                customer,
                degraded,
                reasons,
                ..
            } => Some((customer.clone(), *degraded, reasons.clone())),
            _ => None,
        });
    let (customer, degraded, reasons) = pop.expect("a pop reached the agent");
    assert_eq!(customer["id"], "walk-in");
    assert_eq!(customer["phone"], "+12127361234");
    assert!(degraded && !reasons.is_empty(), "{reasons:?}");
    assert_eq!(
        lab.store.task_counts(CAMPAIGN).await.expect("counts").done,
        1
    );
    stop.cancel();
    daemon.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_token_is_refused_and_gets_no_calls() {
    let lab = lab("token", 1, &[(1, 2)], 20.0).await;
    let daemon = lab.start_daemon().await;
    let stop = tokio_util::sync::CancellationToken::new();
    let page = agent_client(
        format!("ws://{}/ws/agent", daemon.addr),
        "not-a-token".into(),
        stop.clone(),
    );
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(
        page.lock().expect("seen").refused.as_deref(),
        Some("invalid token")
    );
    let counts = lab.store.task_counts(CAMPAIGN).await.expect("counts");
    assert_eq!(
        counts.pending, 2,
        "nobody is signed in, so nothing is dialed"
    );
    assert!(lab.sim.originates().is_empty());
    stop.cancel();
    daemon.stop().await;
}

/// JSON POSTs with reqwest, answering (status, body).
mod reqwest_like {
    pub struct Client(reqwest::Client);

    impl Client {
        pub fn new() -> Client {
            Client(reqwest::Client::new())
        }

        pub async fn post(&self, url: &str, bearer: Option<&str>, body: &str) -> (u16, String) {
            let mut req = self
                .0
                .post(url)
                .header("content-type", "application/json")
                .body(body.to_string());
            if let Some(t) = bearer {
                req = req.bearer_auth(t);
            }
            let resp = req.send().await.expect("HTTP request");
            let status = resp.status().as_u16();
            (status, resp.text().await.unwrap_or_default())
        }
    }
}
