//! The shipped config file loads, and mistakes name their key.

use dialpop::config::Config;

fn example() -> String {
    std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/config/dialpop.toml"))
        .expect("config/dialpop.toml")
}

#[test]
fn the_annotated_example_loads() {
    let cfg = Config::parse(&example(), "config/dialpop.toml").expect("the example is valid");
    assert_eq!(cfg.switch.address, "127.0.0.1:8021");
    assert_eq!(cfg.campaigns.len(), 1);
    assert_eq!(cfg.agents[0].campaign, "default");
    assert_eq!(cfg.dialer.wrap_up_seconds, 10.0);
}

#[test]
fn errors_name_the_key_and_the_problem() {
    let cases = [
        (example().replace("token_sha256 = \"0000000000000000000000000000000000000000000000000000000000000000\"", "token_sha256 = \"abc\""), "api.token_sha256"),
        (example().replace("{phone}", "{number}"), "switch.customer_dial_string"),
        (example().replace("campaign = \"default\"", "campaign = \"nope\""), "agent[0].campaign"),
        (example().replace("max_attempts = 2", "max_attempts = 0"), "campaign[0].max_attempts"),
        (example().replace("listen = \"127.0.0.1:8080\"", "listen = \"not an address\""), "listen"),
        (example().replace("max_calls = 200", "max_calls = 200\nmax_cals = 3"), "max_cals"),
        (example().replace("protocol = \"esl\"", "protocol = \"sip\""), "protocol"),
    ];
    for (text, key) in cases {
        let err = Config::parse(&text, "test.toml")
            .err()
            .unwrap_or_else(|| panic!("accepted a bad {key}"));
        let msg = err.to_string();
        assert!(
            msg.contains(key) && msg.contains("test.toml"),
            "{key}: {msg}"
        );
    }
}
