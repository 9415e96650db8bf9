//! `dialpop demo --exit-when-done --report json`, as the README tells a user
//! to run it: the whole product in one process, with simulated agents.

use std::process::Command;

#[test]
fn demo_runs_the_campaign_to_its_end_and_reports_on_freeswitch() {
    demo_on("esl");
}

#[test]
fn demo_runs_the_campaign_to_its_end_and_reports_on_asterisk() {
    demo_on("ami");
}

fn demo_on(protocol: &str) {
    let out = Command::new(env!("CARGO_BIN_EXE_dialpop"))
        .args([
            "demo",
            "--protocol",
            protocol,
            "--agents",
            "4",
            "--customers",
            "30",
            "--speed",
            "40",
            "--exit-when-done",
            "--report",
            "json",
        ])
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
    let n = |k: &str| {
        r[k].as_u64()
            .unwrap_or_else(|| panic!("{k} missing in {r}"))
    };
    // Every task was worked, nothing twice, and every answered call popped
    // and was acknowledged by its (simulated) agent.
    assert_eq!(n("tasks_left"), 0, "{r}");
    assert_eq!(n("double_dialed"), 0, "{r}");
    assert!(n("calls") >= 30, "{r}");
    assert_eq!(
        n("answered") + n("busy") + n("no_answer") + n("failed") + n("vanished"),
        n("calls"),
        "{r}"
    );
    assert_eq!(n("pops_delivered"), n("answered"), "{r}");
    assert_eq!(n("pops_acked"), n("answered"), "{r}");
    let lat = &r["pop_latency_ms"];
    let (p50, p99, max) = (
        lat["p50"].as_f64(),
        lat["p99"].as_f64(),
        lat["max"].as_f64(),
    );
    assert!(
        matches!((p50, p99, max), (Some(a), Some(b), Some(c)) if 0.0 < a && a <= b && b <= c),
        "{r}"
    );
}
