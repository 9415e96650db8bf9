//! The scenario's parsing and drawing, without a switch.

use super::*;

#[test]
fn default_scenario_mirrors_the_lab() {
    let s = Scenario::default();
    let p = s.plan("15551001", 1, 0);
    assert_eq!(p.outcome, Outcome::Answer);
    assert_eq!(p.ring, Duration::from_secs(1));
    assert_eq!(p.talk, Some(Duration::from_secs(5)));
    assert_eq!(
        s.plan("2001", 1, 0).outcome,
        Outcome::Reject(HangupCause::UserBusy)
    );
    assert_eq!(s.plan("3001", 1, 0).outcome, Outcome::NoAnswer);
    assert_eq!(
        s.plan("4001", 1, 0).outcome,
        Outcome::Reject(HangupCause::NormalCircuitCongestion)
    );
    let p = s.plan("5001", 1, 0);
    assert_eq!(
        (p.ring, p.talk),
        (Duration::from_secs(2), Some(Duration::from_secs(60)))
    );
    let agent = s.plan("8001", 1, 0);
    assert_eq!((agent.ring, agent.talk), (Duration::ZERO, None));
    // Only the last four digits count: 12 is "anything else".
    assert_eq!(s.plan("12", 1, 0).outcome, Outcome::Answer);
    assert_eq!(s.plan("9999", 1, 0).talk, Some(Duration::from_secs(5)));
}

#[test]
fn toml_rules_weights_and_seeds() {
    let text = r#"
        [default]
        outcome = "busy"
        ring = 0.5

        [[rule]]
        prefix = "1555"
        ring = 2.0
        ring_jitter = 1.0
        outcomes = [
          { outcome = "answer", weight = 50, talk = 20.0 },
          { outcome = "fail", cause = "NO_ROUTE_DESTINATION", weight = 50 },
        ]

        [[rule]]
        pattern = "9XX"
        outcome = "answer"
        early_media = true

        [[extension]]
        name = "connect"
        context = "agents"
        app = "bridge"
        data = "loopback/8001/agents"
    "#;
    let s = Scenario::from_toml(text).expect("valid scenario");
    assert_eq!(
        s.plan("777", 1, 0).outcome,
        Outcome::Reject(HangupCause::UserBusy)
    );
    let p = s.plan("900", 1, 0);
    assert!(p.early_media);
    assert_eq!(p.talk, None, "talk defaults to staying up");
    let mut answered = 0;
    let mut failed = 0;
    for attempt in 0..200 {
        let p = s.plan("15550000", 7, attempt);
        assert!(p.ring >= Duration::from_secs(1) && p.ring <= Duration::from_secs(3));
        match p.outcome {
            Outcome::Answer => {
                answered += 1;
                assert_eq!(p.talk, Some(Duration::from_secs(20)));
            }
            Outcome::Reject(HangupCause::NoRouteDestination) => failed += 1,
            other => panic!("unexpected {other:?}"),
        }
        // Same seed, same attempt → same plan.
        assert_eq!(p, s.plan("15550000", 7, attempt));
    }
    assert!(answered > 60 && failed > 60, "{answered}/{failed}");
    let differs = (0..20).any(|a| s.plan("15550000", 7, a) != s.plan("15550000", 8, a));
    assert!(differs, "another seed gives other outcomes");
    assert_eq!(
        s.extension("connect", "agents").map(|e| e.app.as_str()),
        Some("bridge")
    );
    assert!(s.extension("connect", "default").is_none());
}

#[test]
fn the_shipped_example_is_valid_and_means_what_it_says() {
    let s = Scenario::from_toml(include_str!("../../../../config/scenario.example.toml"))
        .expect("config/scenario.example.toml parses");
    let lab = Scenario::default();
    for n in ["1001", "2001", "3001", "4001", "5001", "8001", "777"] {
        assert_eq!(s.plan(n, 1, 0), lab.plan(n, 1, 0), "{n}");
    }
    let p = s.plan("+493012345", 1, 0);
    assert!(p.ring <= Duration::from_secs(7));
    assert_eq!(
        s.extension("connect", "agents").map(|e| e.data.as_str()),
        Some("loopback/8001/agents")
    );
}

#[test]
fn huge_times_saturate_instead_of_overflowing() {
    let s = Scenario::from_toml("[[rule]]\nring = 1e300\ntalk = 1e300").expect("valid");
    let p = s.plan("1", 1, 0);
    assert_eq!((p.ring, p.talk), (LONGEST, Some(LONGEST)));
    assert_eq!(scale(Duration::from_secs(60), 1e-300), LONGEST);
    assert_eq!(
        scale(Duration::from_secs(60), f64::NAN),
        Duration::from_secs(60)
    );
    assert_eq!(secs(f64::NAN), Duration::ZERO);
}

#[test]
fn bad_files_are_refused_with_the_rule_named() {
    for bad in [
        "[[rule]]\noutcome = \"explode\"",
        "[[rule]]\noutcome = \"fail\"",
        "[[rule]]\nprefix = \"1\"\npattern = \"2\"",
        "[[rule]]\nring = -1.0",
        "[[rule]]\nrign = 1.0",
        "[[rule]]\noutcomes = []",
        "[[rule]]\nring = inf",
        "[[rule]]\nring_jitter = inf",
        "[[rule]]\ntalk = nan",
    ] {
        assert!(Scenario::from_toml(bad).is_err(), "accepted {bad:?}");
    }
    let e = Scenario::from_toml("[[rule]]\n[[rule]]\noutcome = \"nope\"")
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
    assert!(e.contains("rule 2"), "{e}");
}
