//! The shipped config file loads, and mistakes name their key.

use dialpop::config::Config;

fn example() -> String {
    std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/config/dialpop.toml"))
        .expect("config/dialpop.toml")
}

#[test]
fn the_annotated_example_loads() {
    let cfg = Config::parse(&example(), "config/dialpop.toml").expect("the example is valid");
    assert_eq!(
        cfg.switch
            .iter()
            .map(|s| s.address.as_str())
            .collect::<Vec<_>>(),
        ["127.0.0.1:8021"]
    );
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
        let err = Config::parse(&text, "test.toml").expect_err(key);
        let msg = err.to_string();
        assert!(
            msg.contains(key) && msg.contains("test.toml"),
            "{key}: {msg}"
        );
    }
}

#[test]
fn several_switches_side_by_side() {
    let one = example();
    let start = one.find("[switch]").expect("a [switch] table");
    let end = one.find("[dialer]").expect("a [dialer] table");
    let table = &one[start..end];
    let fs = table.replace("[switch]", "[[switch]]");
    let ast = table
        .replace("[switch]", "[[switch]]")
        .replace("name = \"fs1\"", "name = \"ast1\"")
        .replace(
            "protocol = \"esl\"",
            "protocol = \"ami\"\nusername = \"dialpop\"",
        );
    let text = format!("{}{fs}{ast}{}", &one[..start], &one[end..]);
    let cfg = Config::parse(&text, "two.toml").expect("two switches load");
    let names: Vec<&str> = cfg.switch.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(names, ["fs1", "ast1"]);
    let dup = format!("{}{fs}{fs}{}", &one[..start], &one[end..]);
    let err = Config::parse(&dup, "dup.toml")
        .expect_err("duplicate names refused")
        .to_string();
    assert!(err.contains("switch[1].name"), "{err}");
}
