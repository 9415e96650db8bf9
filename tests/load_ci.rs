//! A short load run (counts, never timings): hundreds of agents as real
//! WebSocket clients and thousands of customers against the simulated
//! switch, through the whole daemon. Every answered call must have popped
//! once to its agent and been acknowledged, nothing dialed twice, nothing
//! left, no write lost. A regression that loses pops under load (a per-call
//! scan, a dropped acknowledgement) turns this red.

use std::process::Command;

fn load_run(protocol: &str, agents: &str, customers: &str) {
    let out = Command::new(env!("CARGO_BIN_EXE_dialpop"))
        .args([
            "demo",
            "--protocol",
            protocol,
            "--agents",
            agents,
            "--customers",
            customers,
            "--speed",
            "50",
            "--seed",
            "3",
            "--exit-when-done",
            "--report",
            "json",
        ])
        .env("RUST_LOG", "error")
        .output()
        .expect("dialpop runs");
    assert!(
        out.status.success(),
        "stderr: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    let r: serde_json::Value =
        serde_json::from_str(stdout.trim()).unwrap_or_else(|e| panic!("{e}: {stdout}"));
    println!("{protocol}: {r}");
    let n = |k: &str| {
        r[k].as_u64()
            .unwrap_or_else(|| panic!("{k} missing in {r}"))
    };
    let customers: u64 = customers.parse().expect("number");
    assert_eq!(n("tasks_left"), 0, "{r}");
    assert_eq!(n("double_dialed"), 0, "{r}");
    assert!(n("calls") >= customers, "{r}");
    assert_eq!(
        n("answered") + n("busy") + n("no_answer") + n("failed") + n("vanished") + n("not_placed"),
        n("calls"),
        "{r}"
    );
    assert!(n("answered") > customers / 2, "{r}");
    assert_eq!(
        n("pops_delivered"),
        n("answered"),
        "a pop went missing: {r}"
    );
    assert_eq!(n("pops_acked"), n("answered"), "an ack went missing: {r}");
    assert_eq!(n("writes_failed"), 0, "{r}");
}

#[test]
fn three_hundred_agents_on_freeswitch() {
    load_run("esl", "300", "3000");
}

#[test]
fn three_hundred_agents_on_asterisk() {
    load_run("ami", "300", "3000");
}
