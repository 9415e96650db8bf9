//! The scheduling API end to end on the running daemon: campaigns and their
//! lifecycle, tasks (one, a batch, a CSV file), do-not-call lists, and the
//! compliance checks before each dial. Every refusal names its field.

mod common;
mod support;

use common::{API_TOKEN, CAMPAIGN, agent_client, lab};
use serde_json::{Value, json};
use std::time::Duration;
use support::http::Api;

fn field(v: &Value) -> &str {
    v["field"].as_str().unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn campaigns_are_created_changed_and_moved_through_their_lifecycle() {
    let lab = lab("campaigns-api", 1, &[], 20.0).await;
    let daemon = lab.start_daemon().await;
    let api = Api::new(daemon.addr, Some(API_TOKEN));
    let anon = Api::new(daemon.addr, None);
    let wrong = Api::new(daemon.addr, Some("wrong"));

    let body = r#"{"id":"spring","name":"Spring renewals","settings":{"region":"FR","time_zone":"Europe/Paris",
        "calling_window":{"mon":["09:00-12:30","14:00-20:00"],"holidays":["2027-01-01"]},
        "retry":{"busy":{"max_attempts":4,"delay_seconds":120,"backoff":2}}}}"#;
    for (who, code) in [(&anon, 401), (&wrong, 401)] {
        assert_eq!(who.post("/api/campaigns", body).await.0, code);
        assert_eq!(who.get("/api/campaigns").await.0, code);
        assert_eq!(who.post("/api/campaigns/lab/pause", "").await.0, code);
    }
    let (code, c) = api.post("/api/campaigns", body).await;
    assert_eq!(code, 201, "{c}");
    assert_eq!(c["state"], "created");
    assert_eq!(c["settings"]["retry"]["busy"]["max_attempts"], 4);
    assert_eq!(
        c["settings"]["retry"]["no_answer"]["max_attempts"], 3,
        "defaults fill the rest"
    );
    let (code, e) = api.post("/api/campaigns", body).await;
    assert_eq!((code, field(&e)), (409, "id"));

    for (bad, f) in [
        (r#"{"id":"x y","name":"n"}"#, "id"),
        (r#"{"id":"a","name":""}"#, "name"),
        (r#"{"id":"a","name":"n","colour":"red"}"#, "colour"),
        (
            r#"{"id":"a","name":"n","settings":{"time_zone":"Mars/Base"}}"#,
            "settings.time_zone",
        ),
        (
            r#"{"id":"a","name":"n","settings":{"region":"XX"}}"#,
            "settings.region",
        ),
        (
            r#"{"id":"a","name":"n","settings":{"retry":{"busy":{"max_attempts":0,"delay_seconds":1}}}}"#,
            "settings.retry.busy.max_attempts",
        ),
        (
            r#"{"id":"a","name":"n","settings":{"calling_window":{"tue":["09:00-25:00"]}}}"#,
            "settings",
        ),
    ] {
        let (code, e) = api.post("/api/campaigns", bad).await;
        assert_eq!((code, field(&e)), (400, f), "{bad} → {e}");
        assert!(e["error"].as_str().is_some_and(|m| !m.is_empty()));
    }

    // A merge patch changes what it names and keeps the rest.
    let (code, c) = api
        .patch(
            "/api/campaigns/spring",
            r#"{"settings":{"retry":{"busy":{"delay_seconds":30}},"wrap_up_seconds":5}}"#,
        )
        .await;
    assert_eq!(code, 200, "{c}");
    assert_eq!(c["settings"]["retry"]["busy"]["delay_seconds"], 30.0);
    assert_eq!(c["settings"]["retry"]["busy"]["max_attempts"], 4);
    assert_eq!(c["settings"]["region"], "FR");
    let (code, e) = api
        .patch(
            "/api/campaigns/spring",
            r#"{"settings":{"wrap_up_seconds":-1}}"#,
        )
        .await;
    assert_eq!((code, field(&e)), (400, "settings.wrap_up_seconds"));
    assert_eq!(api.patch("/api/campaigns/nope", "{}").await.0, 404);

    // The lifecycle, as compare-and-set moves.
    for (action, code, state) in [
        ("pause", 409, None),
        ("start", 200, Some("running")),
        ("start", 409, None),
        ("pause", 200, Some("paused")),
        ("resume", 200, Some("running")),
        ("stop", 200, Some("stopped")),
        ("resume", 409, None),
        ("start", 200, Some("running")),
    ] {
        let (got, v) = api
            .post(&format!("/api/campaigns/spring/{action}"), "")
            .await;
        assert_eq!(got, code, "{action}: {v}");
        if let Some(s) = state {
            assert_eq!(v["state"], s);
        } else {
            assert_eq!(field(&v), "state");
        }
    }
    assert_eq!(api.post("/api/campaigns/spring/explode", "").await.0, 404);
    let (code, all) = api.get("/api/campaigns").await;
    assert_eq!(code, 200);
    assert_eq!(all["campaigns"].as_array().map(Vec::len), Some(2));
    let (code, st) = api.get("/api/campaigns/spring/stats").await;
    assert_eq!(code, 200, "{st}");
    assert_eq!(st["state"], "running");
    assert_eq!(st["tasks"]["pending"], 0);
    daemon.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tasks_are_normalised_idempotent_listed_changed_and_cancelled() {
    let lab = lab("tasks-api", 1, &[], 20.0).await;
    let daemon = lab.start_daemon().await;
    let api = Api::new(daemon.addr, Some(API_TOKEN));
    // Nobody is signed in: tasks wait, so they can be changed.
    let (code, c) = api
        .post(
            "/api/campaigns",
            r#"{"id":"fr","name":"France","settings":{"region":"FR"}}"#,
        )
        .await;
    assert_eq!(code, 201, "{c}");

    let one = r#"{"campaign":"fr","customer_id":"k1","phone":"01 42 68 53 00","priority":7,"tags":["VIP","renewal"],
        "variables":{"offer":"gold-2027"},"idempotency_key":"crm-1"}"#;
    let (code, t) = api.post("/api/outbound/tasks", one).await;
    assert_eq!(code, 201, "{t}");
    assert_eq!(
        (t["phone"].as_str(), t["created"].as_bool()),
        (Some("+33142685300"), Some(true))
    );
    let id = t["task_id"].as_i64().expect("id");
    // The same key again: the same task, not a second one.
    let (code, again) = api.post("/api/outbound/tasks", one).await;
    assert_eq!(
        (code, again["task_id"].as_i64(), again["created"].as_bool()),
        (200, Some(id), Some(false))
    );
    let (code, task) = api.get(&format!("/api/outbound/tasks/{id}")).await;
    assert_eq!(code, 200, "{task}");
    assert_eq!(task["time_zone"], "Europe/Paris", "France has one zone");
    assert_eq!(task["tags"], json!(["vip", "renewal"]));
    assert_eq!(task["variables"]["offer"], "gold-2027");

    for (bad, f) in [
        (
            r#"{"campaign":"fr","customer_id":"k","phone":"12"}"#,
            "phone",
        ),
        (
            r#"{"campaign":"fr","customer_id":"k","phone":"+1 555"}"#,
            "phone",
        ),
        (
            r#"{"campaign":"fr","customer_id":"k","phone":"0142685300;x"}"#,
            "phone",
        ),
        (
            r#"{"campaign":"fr","customer_id":"k,x=y","phone":"0142685300"}"#,
            "customer_id",
        ),
        (
            r#"{"campaign":"fr","customer_id":"k","phone":"0142685300","priority":5000}"#,
            "priority",
        ),
        (
            r#"{"campaign":"fr","customer_id":"k","phone":"0142685300","tags":["a b"]}"#,
            "tags",
        ),
        (
            r#"{"campaign":"fr","customer_id":"k","phone":"0142685300","not_after":"2001-01-01T00:00:00Z"}"#,
            "not_after",
        ),
        (
            r#"{"campaign":"fr","customer_id":"k","phone":"0142685300","not_before":"tomorrow"}"#,
            "not_before",
        ),
        (
            r#"{"campaign":"fr","customer_id":"k","phone":"0142685300","time_zone":"Europe/Atlantis"}"#,
            "time_zone",
        ),
        (
            r#"{"campaign":"fr","customer_id":"k","phone":"0142685300","variables":{"Bad-Name":"x"}}"#,
            "variables",
        ),
        (
            r#"{"campaign":"fr","customer_id":"k","phone":"0142685300","variables":{"v":"a,b}"}}"#,
            "variables",
        ),
        (
            r#"{"campaign":"fr","customer_id":"k","phone":"0142685300","colour":"red"}"#,
            "colour",
        ),
        (
            r#"{"campaign":"nope","customer_id":"k","phone":"0142685300"}"#,
            "campaign",
        ),
    ] {
        let (code, e) = api.post("/api/outbound/tasks", bad).await;
        assert_eq!((code, field(&e)), (400, f), "{bad} → {e}");
    }

    // A batch keeps its good tasks and reports each bad one by index.
    let (code, b) = api
        .post(
            "/api/outbound/tasks/batch",
            r#"{"campaign":"fr","tasks":[
                {"customer_id":"b1","phone":"+33 1 42 68 53 01","tags":["even"]},
                {"customer_id":"b2","phone":"nope"},
                {"customer_id":"b3","phone":"0142685303","priority":3,"tags":["odd"]},
                {"customer_id":"b4","phone":"0142685304","campaign":"nope"}]}"#,
        )
        .await;
    assert_eq!(code, 200, "{b}");
    assert_eq!(
        (b["added"].as_u64(), b["rejected"].as_u64()),
        (Some(2), Some(2)),
        "{b}"
    );
    assert_eq!(b["results"][1]["field"], "phone");
    assert_eq!(b["results"][3]["field"], "campaign");
    assert!(b["results"][2]["task_id"].as_i64().is_some());

    // Lists filter and page by cursor.
    let (code, page) = api.get("/api/outbound/tasks?campaign=fr&limit=2").await;
    assert_eq!(code, 200, "{page}");
    assert_eq!(page["tasks"].as_array().map(Vec::len), Some(2));
    let cursor = page["next_cursor"]
        .as_str()
        .expect("a full page has a cursor")
        .to_string();
    let (_, rest) = api
        .get(&format!(
            "/api/outbound/tasks?campaign=fr&limit=2&cursor={cursor}"
        ))
        .await;
    assert_eq!(rest["tasks"].as_array().map(Vec::len), Some(1));
    assert_eq!(rest["next_cursor"], Value::Null);
    let (_, odd) = api
        .get("/api/outbound/tasks?campaign=fr&tag=odd&min_priority=1")
        .await;
    assert_eq!(odd["tasks"][0]["customer_id"], "b3");
    for (q, f) in [
        ("status=sleeping", "status"),
        ("limit=0", "limit"),
        ("due_from=yesterday", "due_from"),
        ("colour=red", "colour"),
    ] {
        let (code, e) = api.get(&format!("/api/outbound/tasks?{q}")).await;
        assert_eq!((code, field(&e)), (400, f), "{q}");
    }

    // Changed and cancelled while pending; not after.
    let (code, t) = api
        .patch(
            &format!("/api/outbound/tasks/{id}"),
            r#"{"priority":9,"tags":["moved"]}"#,
        )
        .await;
    assert_eq!((code, t["priority"].as_i64()), (200, Some(9)), "{t}");
    let (code, e) = api
        .patch(&format!("/api/outbound/tasks/{id}"), r#"{"priority":-1}"#)
        .await;
    assert_eq!((code, field(&e)), (400, "priority"));
    let (code, t) = api
        .post(&format!("/api/outbound/tasks/{id}/cancel"), "")
        .await;
    assert_eq!((code, t["status"].as_str()), (200, Some("cancelled")));
    let (code, e) = api
        .post(&format!("/api/outbound/tasks/{id}/cancel"), "")
        .await;
    assert_eq!((code, field(&e)), (409, "status"));
    assert_eq!(api.get("/api/outbound/tasks/999999").await.0, 404);
    assert_eq!(
        Api::new(daemon.addr, None)
            .get("/api/outbound/tasks")
            .await
            .0,
        401
    );
    daemon.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn csv_imports_keep_good_rows_and_report_bad_ones_by_line() {
    let lab = lab("csv-api", 1, &[], 20.0).await;
    let daemon = lab.start_daemon().await;
    let api = Api::new(daemon.addr, Some(API_TOKEN));
    let csv = "external_id,customer_id,phone,priority,tags,var.offer,notes\n\
               e1,k1,+12127360001,1,a;b,x1,ignored\n\
               e2,k2,not a number,1,,,\n\
               e3,k3,+12127360003,high,,,\n\
               e4,k4,(212) 736-0004,2,,x4,\n\
               e1,k1,+12127360001,1,,,\n";
    let path = format!("/api/outbound/tasks/import?campaign={CAMPAIGN}");
    let (code, r) = api.csv(&path, csv).await;
    assert_eq!(code, 200, "{r}");
    assert_eq!(
        (
            r["rows"].as_u64(),
            r["added"].as_u64(),
            r["duplicates"].as_u64(),
            r["rejected"].as_u64()
        ),
        (Some(5), Some(2), Some(1), Some(2)),
        "{r}"
    );
    assert_eq!(r["errors"][0]["line"], 3);
    assert_eq!(r["errors"][0]["field"], "phone");
    assert_eq!(r["errors"][1]["line"], 4);
    assert_eq!(r["errors"][1]["field"], "priority");
    assert_eq!(r["ignored_columns"], json!(["notes"]));
    // Again: idempotent on the external id.
    let (_, again) = api.csv(&path, csv).await;
    assert_eq!(
        (again["added"].as_u64(), again["duplicates"].as_u64()),
        (Some(0), Some(3)),
        "{again}"
    );
    let (code, e) = api.csv(&path, "name,number_of_cats\nx,3\n").await;
    assert_eq!((code, field(&e)), (400, "file"), "{e}");
    let (code, e) = api.csv("/api/outbound/tasks/import", csv).await;
    assert_eq!((code, field(&e)), (400, "campaign"));
    daemon.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn do_not_call_and_paused_campaigns_stop_dials_and_each_refusal_is_recorded() {
    let lab = lab("dnc-api", 1, &[], 20.0).await;
    let daemon = lab.start_daemon().await;
    let api = Api::new(daemon.addr, Some(API_TOKEN));
    let (code, e) = api
        .post(
            "/api/dnc",
            r#"{"phone":"(212) 736-1001","reason":"asked on 2026-11-30"}"#,
        )
        .await;
    assert_eq!(
        (code, e["entry"]["phone"].as_str()),
        (201, Some("+12127361001")),
        "{e}"
    );
    let (code, e) = api
        .post("/api/dnc", r#"{"phone":"+12127361002","campaign":"lab"}"#)
        .await;
    assert_eq!(code, 201, "{e}");
    let (code, e) = api.post("/api/dnc", r#"{"phone":"12"}"#).await;
    assert_eq!((code, field(&e)), (400, "phone"));
    let (code, r) = api
        .csv(
            "/api/dnc/import",
            "phone,reason\n+12127361003,complaint\nbad,\n",
        )
        .await;
    assert_eq!(
        (code, r["added"].as_u64(), r["errors"][0]["line"].as_u64()),
        (200, Some(1), Some(3)),
        "{r}"
    );
    let (_, list) = api.get("/api/dnc").await;
    assert_eq!(
        list["entries"].as_array().map(Vec::len),
        Some(2),
        "global list"
    );

    // Paused: nothing is dialed, even with an agent waiting.
    assert_eq!(api.post("/api/campaigns/lab/pause", "").await.0, 200);
    let mut ids = Vec::new();
    for n in ["1001", "1002", "1003", "1004"] {
        let (code, t) = api
            .post(
                "/api/outbound/tasks",
                &format!(r#"{{"campaign":"lab","customer_id":"k{n}","phone":"+1212736{n}"}}"#),
            )
            .await;
        assert_eq!(code, 201, "{t}");
        ids.push(t["task_id"].as_i64().expect("id"));
    }
    let stop = tokio_util::sync::CancellationToken::new();
    let _page = agent_client(
        format!("ws://{}/ws/agent", daemon.addr),
        lab.agents[0].1.clone(),
        stop.clone(),
    );
    tokio::time::sleep(Duration::from_millis(800)).await;
    assert!(
        lab.sim.originates().is_empty(),
        "a paused campaign dials nothing"
    );
    assert_eq!(api.post("/api/campaigns/lab/resume", "").await.0, 200);
    lab.wait_done(Duration::from_secs(30)).await;
    // Only the number on no list was dialed; the others were refused with
    // their reasons, before anything reached the switch.
    let dialed: Vec<String> = lab
        .sim
        .originates()
        .variables_of_each()
        .into_iter()
        .filter_map(|vars| {
            vars.into_iter()
                .find(|(k, _)| k == "dialpop_customer_phone")
                .map(|(_, v)| v)
        })
        .collect();
    assert_eq!(dialed, vec!["+12127361004".to_string()]);
    for (id, why) in ids
        .iter()
        .zip(["do_not_call", "do_not_call", "do_not_call", "eligible"])
    {
        let (_, t) = api.get(&format!("/api/outbound/tasks/{id}")).await;
        assert_eq!(t["decisions"][0]["reason"], why, "{t}");
        if why == "do_not_call" {
            assert_eq!(t["status"], "do_not_call");
            assert_eq!(t["attempts"], 0);
        }
    }
    let (_, st) = api.get("/api/campaigns/lab/stats").await;
    assert_eq!(st["tasks"]["do_not_call"], 3, "{st}");
    assert_eq!(api.delete("/api/dnc/+12127361001").await.0, 200);
    assert_eq!(api.delete("/api/dnc/+12127361001").await.0, 404);
    stop.cancel();
    daemon.stop().await;
}
