//! `dialpop demo --exit-when-done --report json`, run as a user runs it, and
//! the checks every finished run must pass.

use std::process::Command;

/// Runs the demo with `args` (after `demo`) and returns its JSON report.
pub fn run_demo(args: &[&str]) -> serde_json::Value {
    let out = Command::new(env!("CARGO_BIN_EXE_dialpop"))
        .arg("demo")
        .args(args)
        .args(["--exit-when-done", "--report", "json"])
        .env("RUST_LOG", "error")
        .output()
        .expect("dialpop runs");
    assert!(
        out.status.success(),
        "stderr: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    serde_json::from_str(stdout.trim()).unwrap_or_else(|e| panic!("{e}: {stdout}"))
}

/// A report's count.
pub fn count(r: &serde_json::Value, k: &str) -> u64 {
    r[k].as_u64()
        .unwrap_or_else(|| panic!("{k} missing in {r}"))
}

/// Every task was worked, nothing twice, every call has its outcome, and
/// every answered call popped, whole (the demo's sources are all healthy),
/// and was acknowledged by its agent.
pub fn assert_complete(r: &serde_json::Value, at_least_calls: u64) {
    let n = |k: &str| count(r, k);
    assert_eq!(n("tasks_left"), 0, "{r}");
    assert_eq!(n("double_dialed"), 0, "{r}");
    assert!(n("calls") >= at_least_calls, "{r}");
    assert_eq!(
        n("answered") + n("busy") + n("no_answer") + n("failed") + n("vanished") + n("not_placed"),
        n("calls"),
        "{r}"
    );
    assert_eq!(
        n("pops_delivered"),
        n("answered"),
        "a pop went missing: {r}"
    );
    assert_eq!(n("pops_acked"), n("answered"), "an ack went missing: {r}");
    assert_eq!(
        n("pops_degraded"),
        0,
        "a pop went out degraded with every source healthy: {r}"
    );
    assert_eq!(n("writes_failed"), 0, "{r}");
}
