//! `dialpop serve` as a process of its own, on a config file written for
//! the lab: for the tests that kill it, restart it, or run several.

use super::{API_TOKEN, CAMPAIGN, Lab, MAX_ATTEMPTS};
use dialpop::store::token_hash;
use dialpop::switch::sim::{SimProtocol, SimSwitch};

/// A port for a daemon that must come back on the same address after a
/// SIGKILL: below the kernel's ephemeral range (32768 and up), so no
/// `bind(0)` elsewhere (other tests run in parallel) can be handed it while
/// the daemon is down; distinct per test and per test process.
pub fn restart_port(test: u16) -> u16 {
    let base = 20_000 + (std::process::id() % 1_000) as u16 * 8;
    (0..64)
        .map(|k| base + test + k * 8_000 % 12_000)
        .find(|&p| std::net::TcpListener::bind(("127.0.0.1", p)).is_ok())
        .expect("a free port below the ephemeral range")
}

pub fn serve(config: &std::path::Path) -> tokio::process::Child {
    tokio::process::Command::new(env!("CARGO_BIN_EXE_dialpop"))
        .args(["serve", "--config"])
        .arg(config)
        .env("RUST_LOG", "warn")
        .kill_on_drop(true)
        .spawn()
        .expect("dialpop serve starts")
}

/// `serve`, its log (at `RUST_LOG`'s `filter`) written to `log`.
pub fn serve_logged(
    config: &std::path::Path,
    filter: &str,
    log: &std::path::Path,
) -> tokio::process::Child {
    let file = std::fs::File::create(log).expect("log file");
    tokio::process::Command::new(env!("CARGO_BIN_EXE_dialpop"))
        .args(["serve", "--config"])
        .arg(config)
        .env("RUST_LOG", filter)
        .stderr(file)
        .kill_on_drop(true)
        .spawn()
        .expect("dialpop serve starts")
}

/// The switch table of a config file for one simulated switch.
pub fn switch_table(lab: &Lab, sim: &SimSwitch, name: &str, many: bool) -> String {
    let (_, plan) = lab.switch(sim, name);
    let (proto, user) = match sim.protocol() {
        SimProtocol::Esl => ("esl", ""),
        SimProtocol::Ami => ("ami", "username = \"dialpop\"\n"),
    };
    format!(
        "{}\nname = \"{name}\"\nprotocol = \"{proto}\"\n{user}address = \"{}\"\npassword = \"ClueCon\"\ncustomer_dial_string = \"{}\"\ngateway = \"lab\"\nagent_dial_string = \"{}\"\nmax_calls = {}\n",
        if many { "[[switch]]" } else { "[switch]" },
        sim.local_addr(),
        plan.customer_dial_string,
        plan.agent_dial_string,
        if many { 2 } else { 100 },
    )
}

/// A `dialpop serve` config for the lab: its store, agents and campaign, the
/// given `[[switch]]` tables, HTTP on `port`.
pub fn serve_config(lab: &Lab, switches: &str, port: u16) -> std::path::PathBuf {
    serve_config_as(lab, switches, port, "", "dialpop.toml")
}

/// The same with `extra` tables at its end, written as `file` in the lab.
pub fn serve_config_as(
    lab: &Lab,
    switches: &str,
    port: u16,
    extra: &str,
    file: &str,
) -> std::path::PathBuf {
    let mut agents = String::new();
    for (a, token) in &lab.agents {
        agents.push_str(&format!(
            "[[agent]]\nid = \"{}\"\nname = \"{}\"\nextension = \"{}\"\ncampaign = \"{CAMPAIGN}\"\ntoken_sha256 = \"{}\"\n\n",
            a.id,
            a.name,
            a.extension,
            token_hash(token)
        ));
    }
    let config = format!(
        r#"[http]
listen = "127.0.0.1:{port}"
[store]
url = "{db}"
[api]
token_sha256 = "{api}"
{switches}[dialer]
wrap_up_seconds = 0.5
ring_timeout_seconds = 30
[[campaign]]
id = "{CAMPAIGN}"
name = "Lab"
max_attempts = {MAX_ATTEMPTS}
retry_delay_seconds = 0.2

{agents}{extra}"#,
        db = lab.db_url,
        api = token_hash(API_TOKEN),
    );
    let path = lab.dir.join(file);
    std::fs::write(&path, config).expect("config written");
    path
}
