//! `dialpop demo --report json` as the README tells a user to run it.

use std::process::Command;

#[test]
fn demo_places_every_call_and_reports_each_outcome() {
    let out = Command::new(env!("CARGO_BIN_EXE_dialpop"))
        .args([
            "demo",
            "--calls",
            "40",
            "--concurrency",
            "20",
            "--speed",
            "50",
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
    assert_eq!(n("calls"), 40);
    assert_eq!(
        n("answered") + n("busy") + n("no_answer") + n("failed") + n("vanished"),
        40
    );
    assert_eq!(n("vanished"), 0);
    for k in ["answered", "busy", "no_answer", "failed"] {
        assert!(n(k) > 0, "the number mix covers {k}: {r}");
    }
}
