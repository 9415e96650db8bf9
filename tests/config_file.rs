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
        (example().replace("originates_per_second = 30", "originates_per_second = 0"), "switch.originates_per_second"),
        (example().replace("originates_per_second = 30", "originates_per_second = 1e9"), "switch.originates_per_second"),
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

fn with_sources() -> String {
    format!(
        "{}\n{}",
        example(),
        std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/config/sources.example.toml"
        ))
        .expect("read config/sources.example.toml")
    )
}

async fn memory_store() -> std::sync::Arc<dyn dialpop::store::Store> {
    dialpop::store::open("sqlite::memory:")
        .await
        .expect("in-memory store")
}

#[tokio::test]
async fn the_annotated_sources_example_loads_and_builds() {
    let text = with_sources();
    let cfg = Config::parse(&text, "config/dialpop.toml").expect("parses");
    let names: Vec<&str> = cfg.sources.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(names, ["internal", "crm", "orders_db", "orders", "calls"]);
    // Field order is the file's order: it is the order the pop shows.
    let crm_fields: Vec<&String> = cfg.sources[1].fields.keys().collect();
    assert_eq!(
        crm_fields,
        [
            "name",
            "tier",
            "vip",
            "email",
            "balance",
            "customer_since",
            "open_tickets"
        ]
    );
    // The secret comes from the environment; unset, the error names it.
    let store = memory_store().await;
    let err = dialpop::customer::CustomerService::new(&cfg.customer, &cfg.sources, store.clone())
        .err()
        .expect("the secret's variable is not set");
    assert!(err.contains("CRM_CLIENT_SECRET"), "{err}");
    assert!(err.contains("source[1] (crm)"), "{err}");
    let text = text.replace("{ env = \"CRM_CLIENT_SECRET\" }", "\"s3cret\"");
    let cfg = Config::parse(&text, "config/dialpop.toml").expect("parses");
    let service = dialpop::customer::CustomerService::new(&cfg.customer, &cfg.sources, store)
        .expect("every source builds");
    let listed = service.sources();
    assert_eq!(listed.len(), 5);
    // Listings never show a secret.
    let shown = serde_json::to_string(&listed).expect("json");
    assert!(!shown.contains("s3cret"));
}

#[tokio::test]
async fn source_errors_name_the_source_and_the_key() {
    let store = memory_store().await;
    let cases = [
        (
            "name = \"orders_db\"",
            "name = \"crm\"",
            "source[2] (crm): name",
        ),
        (
            "page_size = 5\npaging",
            "page_size = 500\npaging",
            "page_size",
        ),
        (
            "name = \"Account.Name\"",
            "name = \"Account..Name\"",
            "fields.name",
        ),
        (
            "type = \"money\" }\ncustomer",
            "type = \"cash\" }\ncustomer",
            "fields.balance.type",
        ),
        (
            "precedence = { name = [\"crm\"",
            "precedence = { name = [\"crn\"",
            "customer.precedence.name",
        ),
        (
            "default_region = \"US\"",
            "default_region = \"XX\"",
            "customer.default_region",
        ),
        (
            "params = [\"phone\"]",
            "params = [\"phone_number\"]",
            "params",
        ),
        ("{customer_id}/orders", "{customer}/orders", "url"),
        // Finite, but past what a Duration holds: an error, not a panic.
        ("ttl_seconds = 300", "ttl_seconds = 1e300", "ttl_seconds"),
        (
            "open_seconds = 30",
            "open_seconds = 1e300",
            "breaker.open_seconds",
        ),
    ];
    for (from, to, key) in cases {
        let text = with_sources()
            .replace("{ env = \"CRM_CLIENT_SECRET\" }", "\"s3cret\"")
            .replacen(from, to, 1);
        assert_ne!(text, with_sources(), "{from} not found in the example");
        let err = match Config::parse(&text, "config/dialpop.toml") {
            Err(e) => e.to_string(),
            Ok(cfg) => {
                dialpop::customer::CustomerService::new(&cfg.customer, &cfg.sources, store.clone())
                    .err()
                    .unwrap_or_else(|| panic!("{to:?} should be refused"))
            }
        };
        assert!(err.contains(key), "{to:?}: {err:?} should name {key}");
    }
}

/// Secrets in the config never print: `{:?}` of the whole config shows
/// neither the switch password nor the database URL's credentials, and
/// both may come from the environment instead of the file.
#[test]
fn switch_passwords_and_database_urls_do_not_print() {
    let text = example()
        .replacen("password = \"ClueCon\"", "password = \"Sup3r-S3cret\"", 1)
        .replacen(
            "url = \"sqlite://dialpop.db\"",
            "url = \"postgres://dialpop:Db-Pa55@db.example/dialpop\"",
            1,
        );
    assert!(
        text.contains("Sup3r-S3cret") && text.contains("Db-Pa55"),
        "example changed"
    );
    let cfg = Config::parse(&text, "x.toml").expect("loads");
    let shown = format!("{cfg:?}");
    assert!(
        !shown.contains("Sup3r-S3cret"),
        "the switch password in {shown}"
    );
    assert!(
        !shown.contains("Db-Pa55"),
        "the database password in {shown}"
    );
    assert_eq!(
        cfg.store.url().expect("url").expose(),
        "postgres://dialpop:Db-Pa55@db.example/dialpop"
    );
    // From the environment: the variable is named, its value is used.
    let text = example().replacen(
        "url = \"sqlite://dialpop.db\"",
        "url = { env = \"DIALPOP_TEST_STORE_URL_X\" }",
        1,
    );
    let cfg = Config::parse(&text, "x.toml").expect("loads");
    let err = cfg.store.url().expect_err("unset").to_string();
    assert!(
        err.contains("store.url") && err.contains("DIALPOP_TEST_STORE_URL_X"),
        "{err}"
    );
    // SAFETY: this test alone reads this variable.
    unsafe { std::env::set_var("DIALPOP_TEST_STORE_URL_X", "sqlite://elsewhere.db") };
    assert_eq!(
        cfg.store.url().expect("set").expose(),
        "sqlite://elsewhere.db"
    );
}

/// `[http.tls]` loads when uncommented; a misspelt key is refused.
#[test]
fn the_tls_table_loads_when_uncommented() {
    let plain = Config::parse(&example(), "config/dialpop.toml").expect("loads");
    assert!(plain.http.tls.is_none(), "TLS is off in the example");
    let on = example()
        .replace("# [http.tls]", "[http.tls]")
        .replace("# cert = ", "cert = ")
        .replace("# key = ", "key = ");
    let cfg = Config::parse(&on, "config/dialpop.toml").expect("loads");
    let tls = cfg.http.tls.expect("[http.tls]");
    assert_eq!(
        tls.cert,
        std::path::PathBuf::from("/etc/dialpop/tls/fullchain.pem")
    );
    assert_eq!(
        tls.key,
        std::path::PathBuf::from("/etc/dialpop/tls/privkey.pem")
    );
    let typo = on.replace("cert = ", "certs = ");
    let err = Config::parse(&typo, "config/dialpop.toml").expect_err("refused");
    assert!(err.to_string().contains("certs"), "{err}");
}

/// The monitor's table loads as written, with its webhook switched on; a
/// bad value names its key.
#[test]
fn the_monitor_section_loads_and_names_its_errors() {
    let on = example()
        .replace("# [monitor.webhook]", "[monitor.webhook]")
        .replace("# url = \"https://hooks", "url = \"https://hooks")
        .replace("# timeout_ms = 5000", "timeout_ms = 5000");
    let cfg = Config::parse(&on, "config/dialpop.toml").expect("loads");
    assert_eq!(cfg.monitor.threshold_percent, 5.0);
    assert_eq!(cfg.monitor.window_seconds, 300);
    let hook = cfg.monitor.webhook.expect("webhook");
    assert!(hook.url.starts_with("https://hooks.example.com/"));
    assert!(
        !format!("{hook:?}").contains("XXXX"),
        "the URL's path in Debug"
    );
    for (from, to, key) in [
        (
            "threshold_percent = 5.0",
            "threshold_percent = 120",
            "monitor.threshold_percent",
        ),
        (
            "window_seconds = 300",
            "window_seconds = 0",
            "monitor.window_seconds",
        ),
        (
            "ack_within_seconds = 5.0",
            "ack_within_seconds = 1e300",
            "monitor.ack_within_seconds",
        ),
        (
            "url = \"https://hooks",
            "url = \"ftp://hooks",
            "monitor.webhook.url",
        ),
    ] {
        let text = on.replacen(from, to, 1);
        assert_ne!(text, on, "{from} not in the example");
        let err = Config::parse(&text, "x.toml").expect_err(to).to_string();
        assert!(err.contains(key), "{to}: {err}");
    }
}

/// The commented campaign settings of the example, switched on, load as
/// written; a mistake in them names the campaign and the key.
#[test]
fn campaign_settings_load_from_the_config_and_name_their_errors() {
    let on = example()
        .replace("# [campaign.settings.", "[campaign.settings.")
        .replace("# include_tags", "include_tags")
        .replace("# exclude_tags", "exclude_tags")
        .replace("# min_priority", "min_priority")
        .replace("# max_priority", "max_priority")
        .replace("# mon = ", "mon = ")
        .replace("# tue = ", "tue = ")
        .replace("# sat = ", "sat = ")
        .replace("# holidays", "holidays")
        .replace("# max_attempts = 4", "max_attempts = 4")
        .replace("max_attempts = 2\nretry_delay_seconds = 300\n", "")
        .replace("# delay_seconds", "delay_seconds")
        .replace("# backoff", "backoff");
    let cfg = Config::parse(&on, "config/dialpop.toml").expect("the switched-on settings load");
    let s = cfg.campaigns[0].seed_settings();
    assert_eq!(s.selection.include_tags, ["renewal"]);
    assert_eq!(s.time_zone, "America/New_York");
    let w = s.calling_window.expect("a window");
    let json = serde_json::to_value(&w).expect("json");
    assert_eq!(
        json["mon"],
        serde_json::json!(["09:00-12:30", "14:00-20:00"])
    );
    assert_eq!(
        json["wed"],
        serde_json::json!([]),
        "a weekday left out is closed"
    );
    assert_eq!(s.retry.busy.max_attempts, 4);
    assert_eq!(s.retry.no_answer.max_attempts, 3, "the default");
    // The shorthand and the table at once are refused.
    let both = on.replace(
        "state = \"running\"",
        "state = \"running\"\nmax_attempts = 2",
    );
    let err = Config::parse(&both, "config/dialpop.toml")
        .expect_err("refused")
        .to_string();
    assert!(err.contains("campaign[0].max_attempts"), "{err}");
    for (bad, key) in [
        (
            on.replace(
                "time_zone = \"America/New_York\"",
                "time_zone = \"Moon/Base\"",
            ),
            "campaign[0].settings.time_zone",
        ),
        (
            on.replace("backoff = 2.0", "backoff = 0.5"),
            "campaign[0].settings.retry.busy.backoff",
        ),
        (
            on.replace("mon = [\"09:00-12:30\"", "mon = [\"09:00-25:30\""),
            "hour 25",
        ),
    ] {
        let err = Config::parse(&bad, "config/dialpop.toml")
            .expect_err("refused")
            .to_string();
        assert!(err.contains(key), "{key}: {err}");
    }
}
