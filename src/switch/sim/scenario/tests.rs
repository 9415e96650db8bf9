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

#[test]
fn machines_answer_and_amd_draws_its_verdicts() {
    let s = Scenario::from_toml(
        "[[rule]]\nprefix = \"7\"\noutcome = \"machine\"\ntalk = 30.0\n\
         [[rule]]\nprefix = \"6\"\noutcomes = [{ outcome = \"machine\", weight = 1 }]\n",
    )
    .expect("valid");
    let p = s.plan("7001", 1, 0);
    assert_eq!((p.outcome.clone(), p.machine), (Outcome::Answer, true));
    assert_eq!(p.talk, Some(Duration::from_secs(30)));
    assert_eq!(
        p.amd.result,
        AmdResult::Machine,
        "wrong = 0: a machine is MACHINE"
    );
    assert!(s.plan("6001", 1, 0).machine);
    let human = s.plan("1001", 1, 0);
    assert!(!human.machine);
    assert_eq!(
        (human.amd.result, human.amd.cause),
        (AmdResult::Human, AmdCause::Human)
    );
    assert_eq!(s.amd_detect(10.0), Duration::from_millis(250));
    assert_eq!(s.playback(2.0), Duration::from_secs(2));
}

#[test]
fn wrong_flips_every_verdict_and_the_seed_repeats_them() {
    let s =
        Scenario::from_toml("[[rule]]\nprefix = \"7\"\noutcome = \"machine\"\n[amd]\nwrong = 1.0")
            .expect("valid");
    assert_eq!(s.plan("7001", 1, 0).amd.result, AmdResult::Human);
    assert_eq!(s.plan("1001", 1, 0).amd.result, AmdResult::Machine);
    let unsure = Scenario::from_toml("[amd]\nnotsure = 1.0").expect("valid");
    assert_eq!(
        unsure.plan("1001", 1, 0).amd,
        AmdVerdict {
            result: AmdResult::NotSure,
            cause: AmdCause::TooLong
        }
    );
    let mixed = Scenario::from_toml("[amd]\nwrong = 0.5\ndetect = 1.0").expect("valid");
    let verdicts = |seed| {
        (0..40)
            .map(|a| mixed.plan("1001", seed, a).amd)
            .collect::<Vec<_>>()
    };
    assert_eq!(verdicts(3), verdicts(3));
    let machines = verdicts(3)
        .iter()
        .filter(|v| v.result == AmdResult::Machine)
        .count();
    assert!(machines > 5 && machines < 35, "{machines} of 40 wrong");
}

#[test]
fn amd_does_not_change_the_other_draws() {
    let plain = Scenario::from_toml("[[rule]]\nring = 1.0\nring_jitter = 0.5").expect("valid");
    let with = Scenario::from_toml("[[rule]]\nring = 1.0\nring_jitter = 0.5\n[amd]\nwrong = 0.3")
        .expect("valid");
    for a in 0..20 {
        assert_eq!(plain.plan("1", 9, a).ring, with.plan("1", 9, a).ring);
    }
}

#[test]
fn bad_amd_and_playback_values_are_named() {
    for (bad, says) in [
        (
            "[amd]\nwrong = 1.5",
            "[amd]: wrong must be a share between 0 and 1, not 1.5",
        ),
        (
            "[amd]\nwrong = -0.1",
            "[amd]: wrong must be a share between 0 and 1, not -0.1",
        ),
        (
            "[amd]\nnotsure = nan",
            "[amd]: notsure must be a share between 0 and 1, not NaN",
        ),
        (
            "[amd]\ndetect = -1.0",
            "[amd]: detect must be a number of seconds >= 0, not -1",
        ),
        (
            "[amd]\ndetect = inf",
            "[amd]: detect must be a number of seconds >= 0, not inf",
        ),
        (
            "playback = -2.0",
            "playback: must be a number of seconds >= 0, not -2",
        ),
        (
            "playback = nan",
            "playback: must be a number of seconds >= 0, not NaN",
        ),
    ] {
        let e = Scenario::from_toml(bad)
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert_eq!(e, says, "{bad:?}");
    }
    let e = Scenario::from_toml("[amd]\nwrongg = 0.1")
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
    assert!(e.contains("wrongg"), "{e}");
}

#[test]
fn the_dialpop_extensions_are_built_in() {
    let s = Scenario::default();
    let app = |n: &str| s.extension(n, "dialpop").map(|e| e.app.clone());
    assert_eq!(app("dialpop_hold").as_deref(), Some("hold"));
    assert_eq!(app("dialpop_abandon").as_deref(), Some("message"));
    assert_eq!(app("dialpop_message").as_deref(), Some("message"));
    assert_eq!(app("dialpop_connect").as_deref(), Some("bridge"));
    assert!(s.extension("dialpop_hold", "default").is_none());
}

#[test]
fn exponential_talk_has_its_mean_and_spread() {
    let s = Scenario::from_toml(
        "[default]\nring = 1.0\ntalk = 60.0\ntalk_distribution = \"exponential\"\n",
    )
    .expect("scenario");
    let talks: Vec<f64> = (0..4000)
        .map(|i| {
            s.plan(&format!("1555{i:06}"), 7, 0)
                .talk
                .expect("finite")
                .as_secs_f64()
        })
        .collect();
    let mean = talks.iter().sum::<f64>() / talks.len() as f64;
    assert!((55.0..65.0).contains(&mean), "{mean}");
    // An exponential's median is mean * ln 2 (about 41.6 s), not the mean.
    let mut sorted = talks.clone();
    sorted.sort_by(f64::total_cmp);
    let median = sorted[sorted.len() / 2];
    assert!((37.0..46.0).contains(&median), "{median}");
    assert!(Scenario::from_toml("[default]\ntalk_distribution = \"normal\"\n").is_err());
}
