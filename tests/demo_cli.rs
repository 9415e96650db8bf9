//! `dialpop demo --exit-when-done --report json`, as the README tells a user
//! to run it: the whole product in one process, with simulated agents.

mod support;

use support::demo_run::{assert_complete, run_demo};

#[test]
fn demo_runs_the_campaign_to_its_end_and_reports_on_freeswitch() {
    demo_on("esl");
}

#[test]
fn demo_runs_the_campaign_to_its_end_and_reports_on_asterisk() {
    demo_on("ami");
}

fn demo_on(protocol: &str) {
    let r = run_demo(&[
        "--protocol",
        protocol,
        "--agents",
        "4",
        "--customers",
        "30",
        "--speed",
        "40",
    ]);
    assert_complete(&r, 30);
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
