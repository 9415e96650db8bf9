//! API tokens with roles, against the running daemon: every operation in
//! /api/openapi.json (generated from the route table the router is built
//! from) refuses a missing token, admits the roles it lists and refuses the
//! others; a `tasks` token sees only the tasks it submitted.

mod common;
mod support;

use common::{API_TOKEN, CAMPAIGN, lab};
use serde_json::{Value, json};
use support::http::Api;

fn field(v: &Value) -> &str {
    v["field"].as_str().unwrap_or_default()
}

/// A concrete path for a templated one.
fn concrete(path: &str) -> String {
    path.split('/')
        .map(|seg| match seg {
            "{id}" => "nobody",
            "{action}" => "pause",
            "{phone}" => "+12127360000",
            "{name}" => "nobody",
            "{key}" => "nobody",
            "{source}" => "nobody",
            s => s,
        })
        .collect::<Vec<_>>()
        .join("/")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_operation_admits_its_roles_and_refuses_the_others() {
    let lab = lab("api-roles", 0, &[], 20.0).await;
    // A wrong token is tried on every route: more failed sign-ins than the
    // per-address lockout allows (tests/flood.rs tests that).
    let mut setup = lab.setup();
    setup.limits.failures = u32::MAX;
    let daemon = dialpop::daemon::Daemon::start(setup).await.expect("daemon");
    let admin = Api::new(daemon.addr, Some(API_TOKEN));
    let mut tokens = std::collections::HashMap::new();
    for (name, role) in [
        ("sup", "supervisor"),
        ("shop", "tasks"),
        ("crm", "tasks"),
        ("scraper", "metrics"),
    ] {
        let (code, v) = admin
            .post(
                "/api/tokens",
                &json!({"name": name, "role": role}).to_string(),
            )
            .await;
        assert_eq!(code, 201, "{v}");
        assert_eq!(v["role"], role);
        tokens.insert(
            name,
            v["token"].as_str().expect("token shown once").to_string(),
        );
    }
    for (bad, f, code) in [
        (json!({"name": "x", "role": "root"}), "role", 400),
        (json!({"name": "admin", "role": "tasks"}), "name", 400),
        (json!({"name": "a b", "role": "tasks"}), "name", 400),
        (json!({"name": "sup", "role": "tasks"}), "name", 409),
    ] {
        let (c, e) = admin.post("/api/tokens", &bad.to_string()).await;
        assert_eq!((c, field(&e)), (code, f), "{bad} → {e}");
    }
    let (_, listed) = admin.get("/api/tokens").await;
    assert_eq!(listed["tokens"].as_array().map(|a| a.len()), Some(4));
    for t in tokens.values() {
        assert!(
            !listed.to_string().contains(t.as_str()),
            "tokens are never shown again"
        );
    }

    let anon = Api::new(daemon.addr, None);
    let (code, doc) = anon.get("/api/openapi.json").await;
    assert_eq!(code, 200, "the document needs no token");
    assert_eq!(doc["openapi"], "3.1.0");
    let paths = doc["paths"].as_object().expect("paths");
    let by_role = [
        ("admin", Api::new(daemon.addr, Some(API_TOKEN))),
        ("supervisor", Api::new(daemon.addr, Some(&tokens["sup"]))),
        ("tasks", Api::new(daemon.addr, Some(&tokens["shop"]))),
        ("metrics", Api::new(daemon.addr, Some(&tokens["scraper"]))),
    ];
    let mut checked = 0;
    for (path, ops) in paths {
        for (method, op) in ops.as_object().expect("operations") {
            let roles: Vec<&str> = op["x-dialpop-roles"]
                .as_array()
                .expect("roles")
                .iter()
                .filter_map(Value::as_str)
                .collect();
            let url = concrete(path);
            let m = method.to_uppercase();
            let body = (m != "GET" && m != "DELETE").then_some("{}");
            if roles.is_empty() {
                continue;
            }
            let (code, _) = anon.send(&m, &url, body, "application/json").await;
            assert_eq!(code, 401, "{m} {path} without a token");
            let wrong = Api::new(daemon.addr, Some("not-a-token"));
            assert_eq!(
                wrong.send(&m, &url, body, "application/json").await.0,
                401,
                "{m} {path}"
            );
            for (role, api) in &by_role {
                let (code, v) = api.send(&m, &url, body, "application/json").await;
                if roles.contains(role) {
                    assert!(
                        code != 401 && code != 403 && code != 405,
                        "{m} {path} as {role}: {code} {v}"
                    );
                } else {
                    assert_eq!(code, 403, "{m} {path} as {role}: {v}");
                }
            }
            checked += 1;
        }
    }
    assert!(checked >= 30, "only {checked} operations in the document");

    // A tasks token reads only what it submitted; the admin sees all.
    let shop = Api::new(daemon.addr, Some(&tokens["shop"]));
    let crm = Api::new(daemon.addr, Some(&tokens["crm"]));
    let (code, t) = shop
        .post(
            "/api/outbound/tasks",
            &json!({"campaign": CAMPAIGN, "customer_id": "c1", "phone": "+12127361001"})
                .to_string(),
        )
        .await;
    assert_eq!(code, 201, "{t}");
    let id = t["task_id"].as_i64().expect("task id");
    let (code, t) = shop.get(&format!("/api/outbound/tasks/{id}")).await;
    assert_eq!(
        (code, t["submitted_by"].as_str()),
        (200, Some("shop")),
        "{t}"
    );
    assert_eq!(
        crm.get(&format!("/api/outbound/tasks/{id}")).await.0,
        404,
        "another's task is not told"
    );
    assert_eq!(
        crm.post(&format!("/api/outbound/tasks/{id}/cancel"), "")
            .await
            .0,
        404
    );
    let (_, mine) = crm.get("/api/outbound/tasks").await;
    assert_eq!(mine["tasks"].as_array().map(|a| a.len()), Some(0), "{mine}");
    let (_, all) = admin.get("/api/outbound/tasks").await;
    assert_eq!(all["tasks"][0]["submitted_by"], "shop", "{all}");

    // Revoked: the token no longer signs anything.
    assert_eq!(admin.delete("/api/tokens/crm").await.0, 200);
    assert_eq!(crm.get("/api/outbound/tasks").await.0, 401);
    assert_eq!(admin.delete("/api/tokens/crm").await.0, 404);
    daemon.stop().await;
}
