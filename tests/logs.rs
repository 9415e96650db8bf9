//! The daemon's log as an operator collects it: `--log-format json` gives
//! one JSON object per line, text written to a pipe has no terminal colour
//! codes, and a whole campaign's log (dialpop's own lines at debug) holds no
//! customer's number or name.

use std::process::Command;

fn demo(format: &str, extra: &[&str]) -> (u32, String) {
    let child = Command::new(env!("CARGO_BIN_EXE_dialpop"))
        .args([
            "demo",
            "--agents",
            "4",
            "--customers",
            "40",
            "--speed",
            "40",
            "--exit-when-done",
            "--report",
            "json",
            "--log-format",
            format,
        ])
        .args(extra)
        .env("RUST_LOG", "info,dialpop=debug")
        .env("DIALPOP_DEMO_KEEP_DB", "1")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("dialpop runs");
    let pid = child.id();
    let out = child.wait_with_output().expect("dialpop ends");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    (pid, String::from_utf8_lossy(&out.stderr).into_owned())
}

/// The demo's customers, from the database it kept.
async fn customers(pid: u32) -> Vec<(String, String)> {
    let db = std::env::temp_dir().join(format!("dialpop-demo-{pid}-1.db"));
    let store = dialpop::store::open(&format!("sqlite://{}", db.display()))
        .await
        .expect("the demo's database");
    let mut out = Vec::new();
    for i in 0..40 {
        if let Some(c) = store.customer(&format!("c{i:06}")).await.expect("store") {
            out.push((c.name, c.phone));
        }
    }
    drop(store);
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", db.display()));
    }
    out
}

#[tokio::test]
async fn json_lines_parse_and_no_customer_data_is_logged() {
    let (pid, log) = demo("json", &[]);
    let mut lines = 0;
    let mut steps: std::collections::HashMap<String, usize> = Default::default();
    for line in log.lines().filter(|l| !l.trim().is_empty()) {
        let v: serde_json::Value = serde_json::from_str(line)
            .unwrap_or_else(|e| panic!("not one JSON object ({e}): {line}"));
        assert!(v["level"].is_string() && v["target"].is_string(), "{line}");
        assert!(v["timestamp"].is_string(), "{line}");
        lines += 1;
        // A line about a call names the call, its task, agent and campaign.
        let msg = v["message"].as_str().unwrap_or_default();
        if [
            "call placed",
            "ringing",
            "answered",
            "pop sent",
            "call ended",
        ]
        .contains(&msg)
        {
            let span = &v["span"];
            assert_eq!(span["name"], "call", "{line}");
            assert!(
                span["call"].as_str().is_some_and(|c| !c.is_empty()),
                "{line}"
            );
            assert!(span["task"].as_i64().is_some_and(|t| t > 0), "{line}");
            assert!(
                span["agent"]
                    .as_str()
                    .is_some_and(|a| a.starts_with("agent")),
                "{line}"
            );
            assert!(span["campaign"].is_string(), "{line}");
            *steps.entry(msg.to_string()).or_default() += 1;
        }
    }
    for step in [
        "call placed",
        "ringing",
        "answered",
        "pop sent",
        "call ended",
    ] {
        assert!(
            steps.get(step).copied().unwrap_or(0) > 0,
            "no {step:?} line: {steps:?}"
        );
    }
    assert_eq!(
        steps.get("call placed"),
        steps.get("call ended"),
        "every call placed ends in the log: {steps:?}"
    );
    assert!(
        lines > 10,
        "a campaign logs more than {lines} lines:\n{log}"
    );
    assert!(
        log.contains("\"target\":\"dialpop"),
        "dialpop's own lines are there"
    );
    let people = customers(pid).await;
    assert_eq!(people.len(), 40);
    for (name, phone) in people {
        assert!(!log.contains(&phone), "{phone} is in the log");
        assert!(
            !log.contains(&phone[1..]),
            "the digits of {phone} are in the log"
        );
        assert!(!log.contains(&name), "a customer's name is in the log");
    }
}

#[tokio::test]
async fn text_to_a_pipe_has_no_colour_codes() {
    let (pid, log) = demo("text", &[]);
    let _ = customers(pid).await;
    assert!(log.lines().count() > 10, "{log}");
    assert!(!log.contains('\u{1b}'), "an escape code in:\n{log}");
    assert!(log.contains(" INFO ") || log.contains(" DEBUG "), "{log}");
}

#[tokio::test]
async fn customer_data_is_logged_only_when_asked_and_the_log_says_so() {
    let (pid, log) = demo("json", &["--log-customer-data"]);
    let people = customers(pid).await;
    assert!(
        log.lines()
            .next()
            .unwrap_or_default()
            .contains("--log-customer-data is on"),
        "said first: {}",
        log.lines().next().unwrap_or_default()
    );
    assert!(
        people.iter().any(|(_, phone)| log.contains(phone.as_str())),
        "the numbers are in call lines when asked for"
    );
    // Names never: nothing logs a record.
    assert!(people.iter().all(|(name, _)| !log.contains(name.as_str())));
}
