//! Agents through the API (tokens shown once, several campaigns with a
//! priority, pause and resume with a reason), and wrap-ups that end with a
//! disposition: the task is settled then, not at hangup, and a callback
//! comes back to its agent.

mod common;
mod support;

use common::{API_TOKEN, CAMPAIGN, lab};
use dialpop::popup::messages::{AgentStateName, ClientMsg, DispositionForm, ServerMsg};
use serde_json::{Value, json};
use std::time::Duration;
use support::http::Api;
use support::page::Page;

const T: Duration = Duration::from_secs(20);

fn field(v: &Value) -> &str {
    v["field"].as_str().unwrap_or_default()
}

fn wrap_up_form(m: &ServerMsg) -> Option<DispositionForm> {
    match m {
        ServerMsg::State {
            state: AgentStateName::WrapUp,
            disposition: Some(f),
            ..
        } => Some(f.clone()),
        _ => None,
    }
}

fn error_text(m: &ServerMsg) -> Option<String> {
    match m {
        ServerMsg::Error { error } => Some(error.clone()),
        _ => None,
    }
}

fn dispose(call_id: &str, code: &str) -> ClientMsg {
    ClientMsg::Disposition {
        call_id: call_id.into(),
        code: code.into(),
        notes: None,
        callback_at_ms: None,
        callback_mine: false,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn agents_are_created_changed_paused_and_given_new_tokens() {
    let lab = lab("agents-api", 0, &[], 20.0).await;
    let daemon = lab.start_daemon().await;
    let api = Api::new(daemon.addr, Some(API_TOKEN));
    let anon = Api::new(daemon.addr, None);
    let body = json!({"id": "maria", "name": "Maria Silva", "extension": "8101",
                      "campaigns": [{"campaign": CAMPAIGN, "priority": 1}]})
    .to_string();
    assert_eq!(anon.post("/api/agents", &body).await.0, 401);
    assert_eq!(anon.get("/api/agents").await.0, 401);
    assert_eq!(anon.post("/api/agents/maria/token", "").await.0, 401);
    let (code, a) = api.post("/api/agents", &body).await;
    assert_eq!(code, 201, "{a}");
    let token = a["token"]
        .as_str()
        .expect("the token, shown once")
        .to_string();
    assert_eq!(token.len(), 32);
    assert_eq!(a["state"], "logged_out");
    let (code, e) = api.post("/api/agents", &body).await;
    assert_eq!((code, field(&e)), (409, "id"));
    let (_, listed) = api.get("/api/agents").await;
    assert_eq!(listed["agents"][0]["id"], "maria");
    assert!(
        !listed.to_string().contains(&token),
        "the token is never shown again"
    );
    for (bad, f) in [
        (
            json!({"id": "a b", "name": "n", "extension": "1", "campaigns": [{"campaign": CAMPAIGN}]}),
            "id",
        ),
        (
            json!({"id": "a", "name": "n", "extension": "1;drop", "campaigns": [{"campaign": CAMPAIGN}]}),
            "extension",
        ),
        (
            json!({"id": "a", "name": "n", "extension": "1", "campaigns": [{"campaign": "nope"}]}),
            "campaigns[0].campaign",
        ),
        (
            json!({"id": "a", "name": "n", "extension": "1", "campaigns": []}),
            "campaigns",
        ),
        (
            json!({"id": "a", "name": "n", "extension": "1", "campaigns": [{"campaign": CAMPAIGN}, {"campaign": CAMPAIGN}]}),
            "campaigns[1].campaign",
        ),
        (
            json!({"id": "a", "name": "", "extension": "1", "campaigns": [{"campaign": CAMPAIGN}]}),
            "name",
        ),
        (
            json!({"id": "a", "name": "n", "extension": "1", "campaigns": [{"campaign": CAMPAIGN}], "role": "x"}),
            "role",
        ),
    ] {
        let (code, e) = api.post("/api/agents", &bad.to_string()).await;
        assert_eq!((code, field(&e)), (400, f), "{bad} → {e}");
    }

    // The token signs the page in; a new one replaces it.
    let mut page = Page::open(daemon.addr, &token).await;
    page.wait("available", T, |m| {
        matches!(
            m,
            ServerMsg::State {
                state: AgentStateName::Available,
                ..
            }
        )
        .then_some(())
    })
    .await;
    let (code, fresh) = api.post("/api/agents/maria/token", "").await;
    assert_eq!(code, 200);
    let fresh = fresh["token"].as_str().expect("token").to_string();
    assert_ne!(fresh, token);
    let mut old = Page::open(daemon.addr, &token).await;
    old.wait("a refusal of the old token", T, error_text).await;

    // Pause with a reason, through the API; a bad reason names its field.
    let (code, e) = api
        .post("/api/agents/maria/pause", r#"{"reason":"Lunch Break"}"#)
        .await;
    assert_eq!((code, field(&e)), (400, "reason"), "{e}");
    let (code, v) = api
        .post("/api/agents/maria/pause", r#"{"reason":"lunch"}"#)
        .await;
    assert_eq!((code, v["state"].as_str()), (200, Some("paused")), "{v}");
    let reason = page
        .wait("paused", T, |m| match m {
            ServerMsg::State {
                state: AgentStateName::Paused,
                reason,
                ..
            } => Some(reason.clone()),
            _ => None,
        })
        .await;
    assert_eq!(reason.as_deref(), Some("lunch"));
    // Paused: a task added now is not dialed to this agent.
    let (code, t) = api
        .post(
            "/api/outbound/tasks",
            &json!({"campaign": CAMPAIGN, "customer_id": "c1", "phone": "+12127361001"})
                .to_string(),
        )
        .await;
    assert_eq!(code, 201, "{t}");
    tokio::time::sleep(Duration::from_millis(800)).await;
    assert!(
        lab.sim.originates().is_empty(),
        "a paused agent gets no call"
    );
    let (code, v) = api.post("/api/agents/maria/resume", "").await;
    assert_eq!((code, v["state"].as_str()), (200, Some("available")), "{v}");
    page.wait("a call after the resume", T, |m| {
        matches!(m, ServerMsg::Pop { .. }).then_some(())
    })
    .await;

    // Campaigns change with a priority: the higher one is served first.
    let (code, _) = api
        .post(
            "/api/campaigns",
            r#"{"id":"vip","name":"VIP","settings":{"wrap_up_seconds":0.1}}"#,
        )
        .await;
    assert_eq!(code, 201);
    assert_eq!(api.post("/api/campaigns/vip/start", "").await.0, 200);
    let (code, v) = api
        .patch("/api/agents/maria", &json!({"campaigns": [{"campaign": CAMPAIGN, "priority": 0}, {"campaign": "vip", "priority": 5}]}).to_string())
        .await;
    assert_eq!(code, 200, "{v}");
    assert_eq!(
        v["campaigns"][0]["campaign"], "vip",
        "highest priority first: {v}"
    );
    for (c, phone) in [(CAMPAIGN, "+12127361002"), ("vip", "+12127361003")] {
        let customer = format!("c{}", &phone[8..]);
        let (code, t) = api
            .post(
                "/api/outbound/tasks",
                &json!({"campaign": c, "customer_id": customer, "phone": phone}).to_string(),
            )
            .await;
        assert_eq!(code, 201, "{t}");
    }
    let campaign = page
        .wait("the next pop", T, |m| match m {
            ServerMsg::Pop { campaign_id, .. } => Some(campaign_id.clone()),
            _ => None,
        })
        .await;
    assert_eq!(
        campaign, "vip",
        "the agent's higher-priority campaign first"
    );
    assert_eq!(api.get("/api/agents/nobody").await.0, 404);
    assert_eq!(
        api.post("/api/agents/nobody/pause", r#"{"reason":"lunch"}"#)
            .await
            .0,
        404
    );
    daemon.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrap_up_ends_with_a_disposition_that_settles_the_task_and_calls_back_its_agent() {
    // Two customers who answer; one agent.
    let lab = lab("dispositions", 1, &[(1, 2)], 20.0).await;
    let daemon = lab.start_daemon().await;
    let api = Api::new(daemon.addr, Some(API_TOKEN));
    let (code, c) = api
        .patch(
            &format!("/api/campaigns/{CAMPAIGN}"),
            r#"{"settings":{"disposition_required":true,"callback_grace_seconds":60}}"#,
        )
        .await;
    assert_eq!(code, 200, "{c}");
    let (agent, token) = &lab.agents[0];
    let mut page = Page::open(daemon.addr, token).await;
    let mut pops = Vec::new();
    let form = page
        .wait("the wrap-up form", T, |m| {
            if let ServerMsg::Pop { task_id, .. } = m {
                pops.push(*task_id);
            }
            wrap_up_form(m)
        })
        .await;
    assert!(form.required);
    assert!(form.codes.iter().any(|c| c.code == "callback"), "{form:?}");
    let first_task = pops[0];
    // Hung up, but not settled: the wrap-up is not over.
    let (_, t) = api.get(&format!("/api/outbound/tasks/{first_task}")).await;
    assert_eq!(t["status"], "dialing", "{t}");

    page.send(ClientMsg::Ready);
    let e = page.wait("a refusal of ready", T, error_text).await;
    assert!(e.contains("disposition"), "{e}");
    page.send(dispose(&form.call_id, "nope"));
    let e = page.wait("a refusal of the code", T, error_text).await;
    assert!(e.starts_with("code:"), "{e}");
    page.send(dispose("not-this-call", "sale"));
    let e = page.wait("a refusal of the call", T, error_text).await;
    assert!(e.starts_with("call_id:"), "{e}");

    let at = dialpop::store::now_ms() + 1_500;
    page.send(ClientMsg::Disposition {
        call_id: form.call_id.clone(),
        code: "callback".into(),
        notes: Some("Call after the meeting, asks for María".into()),
        callback_at_ms: Some(at),
        callback_mine: true,
    });
    let (call, code) = page
        .wait("the disposition saved", T, |m| match m {
            ServerMsg::Disposed { call_id, code } => Some((call_id.clone(), code.clone())),
            _ => None,
        })
        .await;
    assert_eq!(
        (call.as_str(), code.as_str()),
        (form.call_id.as_str(), "callback")
    );
    let (_, t) = api.get(&format!("/api/outbound/tasks/{first_task}")).await;
    assert_eq!(t["status"], "pending", "{t}");
    assert_eq!(t["callback_agent"], agent.id.as_str(), "{t}");
    let d = lab
        .store
        .disposition(&form.call_id)
        .await
        .expect("store")
        .expect("the disposition is written");
    assert_eq!((d.code.as_str(), d.callback_ms), ("callback", Some(at)));
    assert_eq!(
        d.notes.as_deref(),
        Some("Call after the meeting, asks for María")
    );

    // The other customer, then the callback: both end with a sale.
    let mut seen = Vec::new();
    for _ in 0..2 {
        let mut task = None;
        let form = page
            .wait("the next wrap-up", T, |m| {
                if let ServerMsg::Pop { task_id, .. } = m {
                    task = Some(*task_id);
                }
                wrap_up_form(m)
            })
            .await;
        seen.push(task.expect("a pop before the wrap-up"));
        page.send(dispose(&form.call_id, "sale"));
        page.wait("saved", T, |m| {
            matches!(m, ServerMsg::Disposed { .. }).then_some(())
        })
        .await;
    }
    assert_eq!(
        seen[1], first_task,
        "the callback came back to its agent: {seen:?}"
    );
    lab.wait_done(T).await;
    let counts = lab.store.task_counts(CAMPAIGN).await.expect("counts");
    assert_eq!(counts.done, 2, "{counts:?}");

    // The figures the campaign is judged by, from what was recorded.
    let (code, st) = api.get(&format!("/api/campaigns/{CAMPAIGN}/stats")).await;
    assert_eq!(code, 200, "{st}");
    assert_eq!(
        st["dispositions"],
        json!({"callback": 1, "sale": 2}),
        "{st}"
    );
    assert_eq!(
        (
            st["dials"].as_u64(),
            st["answered"].as_u64(),
            st["handled"].as_u64()
        ),
        (Some(3), Some(3), Some(3)),
        "{st}"
    );
    assert_eq!(st["answer_rate"], 1.0);
    let (aht, talk, wrap) = (
        st["aht_seconds"].as_f64().expect("aht"),
        st["talk_seconds"].as_f64().expect("talk"),
        st["wrap_up_seconds"].as_f64().expect("wrap-up"),
    );
    assert!(
        talk > 0.0 && wrap > 0.0 && (aht - talk - wrap).abs() < 1e-9,
        "{st}"
    );
    let by = &st["by_agent"][0];
    assert_eq!(by["agent"], agent.id.as_str());
    let occ = by["occupancy"].as_f64().expect("occupancy");
    assert!(occ > 0.0 && occ <= 1.0, "{st}");
    assert!(
        st["dials_per_minute"]
            .as_f64()
            .is_some_and(|d| (d - 3.0 / 60.0).abs() < 1e-9),
        "{st}"
    );
    let (code, e) = api
        .get(&format!("/api/campaigns/{CAMPAIGN}/stats?window_minutes=0"))
        .await;
    assert_eq!((code, field(&e)), (400, "window_minutes"));
    daemon.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_do_not_call_disposition_lists_the_number_and_a_pause_asked_during_a_call_follows_it() {
    let lab = lab("dnc-disposition", 1, &[(1, 1)], 20.0).await;
    let daemon = lab.start_daemon().await;
    let (_, token) = &lab.agents[0];
    let mut page = Page::open(daemon.addr, token).await;
    page.wait("the pop", T, |m| {
        matches!(m, ServerMsg::Pop { .. }).then_some(())
    })
    .await;
    // Asked on the call: taken when the wrap-up is over.
    page.send(ClientMsg::Pause {
        reason: "break".into(),
    });
    page.send(ClientMsg::Pause {
        reason: "Not A Code".into(),
    });
    let e = page.wait("a refusal of the reason", T, error_text).await;
    assert!(e.starts_with("reason:"), "{e}");
    let form = page.wait("the wrap-up form", T, wrap_up_form).await;
    assert!(!form.required);
    page.send(dispose(&form.call_id, "do_not_call"));
    let reason = page
        .wait("the pause after the wrap-up", T, |m| match m {
            ServerMsg::State {
                state: AgentStateName::Paused,
                reason,
                ..
            } => Some(reason.clone()),
            ServerMsg::State {
                state: AgentStateName::Available,
                ..
            } => Some(None),
            _ => None,
        })
        .await;
    assert_eq!(reason.as_deref(), Some("break"));
    lab.wait_done(T).await;
    let task = &lab
        .store
        .tasks(&dialpop::store::TaskQuery {
            campaign_id: Some(CAMPAIGN.into()),
            limit: 10,
            ..Default::default()
        })
        .await
        .expect("tasks")[0];
    assert_eq!(task.status, dialpop::store::TaskStatus::DoNotCall);
    let listed = lab
        .store
        .dnc_match(&task.phone, CAMPAIGN)
        .await
        .expect("dnc");
    assert_eq!(
        listed.and_then(|e| e.campaign_id).as_deref(),
        Some(CAMPAIGN)
    );
    daemon.stop().await;
}
