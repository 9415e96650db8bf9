//! Test calls through the API on the simulated switch (both protocols): the
//! call reaches the agent's page, every step of its way is timed in order,
//! the record shown is compared with its source, the task is tried once,
//! and what cannot be called is refused with its reason.

mod common;
mod support;

use common::{API_TOKEN, Lab, lab_on};

/// A number the simulated switch plays by its lead digit (see
/// `common::phone`) that is valid in the US numbering plan, as the API
/// wants (555-0100 to 0199 numbers are not).
fn phone(lead: u32, n: usize) -> String {
    format!("+1212736{lead}{n:03}")
}
use dialpop::popup::messages::{AgentStateName, ServerMsg};
use dialpop::store::{Customer, DncEntry, TaskStatus};
use dialpop::switch::sim::SimProtocol;
use serde_json::{Value, json};
use std::time::Duration;
use support::http::Api;

/// Polls `check` until it answers, or fails naming `what`.
async fn eventually<T>(what: &str, mut check: impl AsyncFnMut() -> Option<T>) -> T {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        if let Some(v) = check().await {
            return v;
        }
        assert!(tokio::time::Instant::now() < deadline, "{what} within 30 s");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn report_when_complete(api: &Api, call_id: &str) -> Value {
    eventually("the test call complete", async || {
        let (status, r) = api.get(&format!("/api/test-calls/{call_id}")).await;
        assert_eq!(status, 200, "{r}");
        (r["complete"] == true).then_some(r)
    })
    .await
}

async fn customer(lab: &Lab, id: &str, number: &str) {
    lab.store
        .upsert_customer(&Customer {
            id: id.into(),
            name: "王芳".into(),
            phone: number.into(),
            email: None,
            tier: Some("gold".into()),
            vip: true,
            fields: serde_json::Map::from_iter([("city".to_string(), json!("上海"))]),
        })
        .await
        .expect("customer");
}

async fn a_test_call_is_timed_step_by_step_and_compared_with_its_source(protocol: SimProtocol) {
    // No tasks: the agents are signed in and idle, as before a campaign.
    let lab = lab_on(protocol, "test-call", 2, &[], 10.0).await;
    let number = phone(1, 42);
    customer(&lab, "cust-t1", &number).await;
    let daemon = lab.start_daemon().await;
    let stop = tokio_util::sync::CancellationToken::new();
    let (agent, page) = lab.page_of(0, daemon.addr, &stop);
    eventually("the agent available", async || {
        let seen = page.lock().expect("page");
        seen.messages
            .iter()
            .any(|m| {
                matches!(
                    m,
                    ServerMsg::State {
                        state: AgentStateName::Available,
                        ..
                    }
                )
            })
            .then_some(())
    })
    .await;
    let api = Api::new(daemon.addr, Some(API_TOKEN));
    let body = json!({"number": number, "agent": agent.id, "customer": "cust-t1"}).to_string();
    let (status, first) = api.post("/api/test-calls", &body).await;
    assert_eq!(status, 201, "{first}");
    assert_eq!(first["state"], "placing");
    let call_id = first["call_id"].as_str().expect("call id").to_string();

    let r = report_when_complete(&api, &call_id).await;
    println!("{r:#}");
    assert_eq!(r["outcome"], "answered", "{r:#}");
    let steps: Vec<(&str, i64)> = r["steps"]
        .as_array()
        .expect("steps")
        .iter()
        .map(|s| {
            (
                s["step"].as_str().unwrap_or(""),
                s["at_ms"].as_i64().unwrap_or(-1),
            )
        })
        .collect();
    let names: Vec<&str> = steps.iter().map(|s| s.0).collect();
    for step in [
        "requested",
        "originate",
        "ringing",
        "answer",
        "record_ready",
        "pop_sent",
        "acknowledged",
        "hangup",
    ] {
        assert!(names.contains(&step), "{step} timed: {names:?}");
    }
    assert!(
        steps.windows(2).all(|w| w[0].1 <= w[1].1),
        "steps in time order: {steps:?}"
    );
    let at = |name: &str| steps.iter().find(|s| s.0 == name).map(|s| s.1);
    assert!(at("originate") <= at("ringing") && at("ringing") <= at("answer"));
    assert!(at("answer") <= at("pop_sent") && at("pop_sent") <= at("acknowledged"));
    assert_eq!(
        r["answer_to_pop_ms"].as_i64(),
        at("pop_sent").zip(at("answer")).map(|(p, a)| p - a)
    );

    // The record shown beside its source's fresh answer.
    let fields = r["fields"].as_array().expect("fields");
    let field = |name: &str| {
        fields
            .iter()
            .find(|f| f["field"] == name)
            .unwrap_or_else(|| panic!("{name} compared: {fields:?}"))
    };
    assert_eq!(field("name")["shown"], "王芳");
    assert_eq!(field("name")["source"], "internal");
    assert_eq!(field("name")["verdict"], "same");
    assert_eq!(field("name")["on_screen"], true);
    assert_eq!(field("city")["verdict"], "same");
    let internal = r["sources"]
        .as_array()
        .and_then(|s| s.iter().find(|s| s["source"] == "internal"))
        .expect("the internal source asked again");
    assert_eq!(internal["outcome"], "found");
    assert!(
        internal["raw"]
            .as_str()
            .is_some_and(|raw| raw.contains("王芳"))
    );

    // The pop reached the agent's page, and the task was one attempt.
    let popped = page.lock().expect("page").messages.iter().any(
        |m| matches!(m, ServerMsg::Pop { call_id: c, customer, .. } if *c == call_id && customer["name"] == "王芳"),
    );
    assert!(popped, "the agent's page got the test call's pop");
    // An answered call's task is settled when the wrap-up ends.
    let task_id = r["task_id"].as_i64().expect("task id");
    let task = eventually("the test call's task settled", async || {
        let t = lab.store.task(task_id).await.ok()??;
        (t.status != TaskStatus::Dialing).then_some(t)
    })
    .await;
    assert_eq!(
        (task.status, task.attempts, task.tags.clone()),
        (TaskStatus::Done, 1, vec!["test-call".to_string()])
    );
    assert_eq!(task.customer_id, "cust-t1");

    // A number that never answers: the call ends, and its task with it
    // (a campaign's retry rules do not apply to a test call).
    eventually("the agent available again", async || {
        let (s, r) = api
            .post(
                "/api/test-calls",
                &json!({"number": phone(3, 43), "agent": agent.id}).to_string(),
            )
            .await;
        (s == 201).then_some(r)
    })
    .await;
    let second = eventually("the unanswered test call placed", async || {
        let (_, tasks) = api
            .get("/api/outbound/tasks?campaign=lab&tag=test-call")
            .await;
        let list = tasks["tasks"].as_array()?.clone();
        (list.len() == 2).then_some(list)
    })
    .await;
    let unanswered = second
        .iter()
        .find(|t| t["phone"] == phone(3, 43))
        .expect("the second test call's task");
    let id = unanswered["id"].as_i64().expect("id");
    eventually("the unanswered test call's task closed", async || {
        let t = lab.store.task(id).await.ok()??;
        (t.status != TaskStatus::Dialing).then_some(t)
    })
    .await;
    let t = lab.store.task(id).await.expect("store").expect("task");
    assert_eq!(
        (t.status, t.attempts),
        (TaskStatus::Failed, 1),
        "tried once, not retried"
    );
    stop.cancel();
    daemon.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_test_call_on_freeswitch_is_timed_and_compared() {
    a_test_call_is_timed_step_by_step_and_compared_with_its_source(SimProtocol::Esl).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_test_call_on_asterisk_is_timed_and_compared() {
    a_test_call_is_timed_step_by_step_and_compared_with_its_source(SimProtocol::Ami).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn what_cannot_be_called_is_refused_with_its_reason() {
    let lab = lab_on(SimProtocol::Esl, "test-call-refused", 2, &[], 10.0).await;
    let listed = phone(1, 7);
    lab.store
        .add_dnc(&[DncEntry {
            phone: listed.clone(),
            campaign_id: None,
            reason: Some("asked".into()),
            added_ms: 0,
        }])
        .await
        .expect("dnc");
    let daemon = lab.start_daemon().await;
    let stop = tokio_util::sync::CancellationToken::new();
    let (agent, _page) = lab.page_of(0, daemon.addr, &stop);
    let api = Api::new(daemon.addr, Some(API_TOKEN));
    let post = async |body: Value| api.post("/api/test-calls", &body.to_string()).await;

    let (s, r) = post(json!({"number": phone(1, 8), "agent": "nobody"})).await;
    assert_eq!((s, r["field"].as_str()), (404, Some("agent")), "{r}");
    let (s, r) = post(json!({"number": "12ab", "agent": agent.id})).await;
    assert_eq!((s, r["field"].as_str()), (400, Some("number")), "{r}");
    assert!(
        r["error"].as_str().is_some_and(|e| e.contains("12ab")),
        "{r}"
    );
    let (s, r) = post(json!({"number": phone(1, 8), "agent": agent.id, "campaign": "none"})).await;
    assert_eq!((s, r["field"].as_str()), (404, Some("campaign")), "{r}");
    let (s, r) = post(json!({"number": phone(1, 8), "agent": agent.id, "extra": 1})).await;
    assert_eq!((s, r["field"].as_str()), (400, Some("extra")), "{r}");
    // Signed out: the pop would have nowhere to go.
    let (s, r) = post(json!({"number": phone(1, 8), "agent": lab.agents[1].0.id})).await;
    assert_eq!((s, r["field"].as_str()), (409, Some("agent")), "{r}");
    assert!(
        r["error"]
            .as_str()
            .is_some_and(|e| e.contains("logged_out")),
        "{r}"
    );
    let (s, r) = eventually("the do-not-call refusal", async || {
        let (s, r) = post(json!({"number": listed, "agent": agent.id})).await;
        // 409 naming the agent: the page has not signed in yet.
        (r["field"] != "agent").then_some((s, r))
    })
    .await;
    assert_eq!((s, r["field"].as_str()), (409, Some("number")), "{r}");
    assert!(
        r["error"]
            .as_str()
            .is_some_and(|e| e.contains("do-not-call")),
        "{r}"
    );
    // Nothing was dialed, and the agent is free for the next one.
    assert_eq!(lab.sim.originates().len(), 0);
    let (s, r) = api.get("/api/test-calls/no-such-call").await;
    assert_eq!(s, 404, "{r}");
    // Only an admin token places test calls.
    let anon = Api::new(daemon.addr, None);
    let (s, _) = anon
        .post(
            "/api/test-calls",
            &json!({"number": phone(1, 8), "agent": agent.id}).to_string(),
        )
        .await;
    assert_eq!(s, 401);
    stop.cancel();
    daemon.stop().await;
}

async fn dialpop(args: &[&str]) -> (i32, String, String) {
    let out = tokio::time::timeout(
        Duration::from_secs(60),
        tokio::process::Command::new(env!("CARGO_BIN_EXE_dialpop"))
            .args(args)
            .env_remove("DIALPOP_SERVER")
            .env_remove("DIALPOP_TOKEN")
            .kill_on_drop(true)
            .output(),
    )
    .await
    .expect("dialpop finishes within a minute")
    .expect("dialpop runs");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_cli_follows_a_test_call_to_its_end_and_prints_its_report() {
    let lab = lab_on(SimProtocol::Esl, "test-call-cli", 2, &[], 10.0).await;
    let number = phone(1, 51);
    customer(&lab, "cust-t2", &number).await;
    let daemon = lab.start_daemon().await;
    let stop = tokio_util::sync::CancellationToken::new();
    let (agent, _page) = lab.page_of(0, daemon.addr, &stop);
    let server = format!("http://{}", daemon.addr);
    let args = |extra: &[&str]| {
        let mut a: Vec<String> = [
            "campaign",
            "test-call",
            "--number",
            &number,
            "--customer",
            "cust-t2",
            "--server",
            &server,
            "--token",
            API_TOKEN,
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        a.extend(extra.iter().map(|s| s.to_string()));
        a
    };
    let run = async |a: Vec<String>| {
        let refs: Vec<&str> = a.iter().map(String::as_str).collect();
        dialpop(&refs).await
    };
    // The page may not have signed in yet: conflict (5) until it has.
    let (code, out, err) = eventually("the CLI's test call placed", async || {
        let r = run(args(&["--agent", "ag00"])).await;
        (r.0 != 5).then_some(r)
    })
    .await;
    assert_eq!(code, 0, "stdout:\n{out}\nstderr:\n{err}");
    println!("{out}");
    for part in [
        "STEP",
        "originate",
        "ringing",
        "record ready",
        "pop sent",
        "acknowledged",
        "hangup",
        "answer → pop",
        "王芳",
        "same",
        "source internal",
        "raw answer:",
    ] {
        assert!(out.contains(part), "{part:?} in:\n{out}");
    }
    assert!(out.contains(&agent.id));
    // --json: the server's report, complete.
    let (code, out, err) = eventually("the agent free again", async || {
        let r = run(args(&["--agent", "ag00", "--json"])).await;
        (r.0 != 5).then_some(r)
    })
    .await;
    assert_eq!(code, 0, "{err}");
    let v: Value = serde_json::from_str(&out).expect("one JSON document");
    assert_eq!(
        (v["complete"].as_bool(), v["outcome"].as_str()),
        (Some(true), Some("answered"))
    );
    // An agent who is not signed in: conflict, with the reason.
    let absent = lab.agents[1].0.id.clone();
    let (code, _, err) = run(args(&["--agent", &absent])).await;
    assert_eq!(code, 5, "{err}");
    assert!(err.contains("logged_out"), "{err}");
    stop.cancel();
    daemon.stop().await;
}
