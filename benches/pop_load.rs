//! The pop path under load, against its floor, each in separate processes:
//!
//! - the daemon: `dialpop demo` with the simulated switch in its process, a
//!   SQLite store of 80,000 customers all looked up into the cache first,
//!   and agents that sign in from outside (`--external-agents`);
//! - the agents: `dialpop bench-agents`, real WebSocket clients in another
//!   process, acknowledging every pop;
//! - the floor, measured in the same run: `dialpop bench-floor`, a bare
//!   WebSocket server sending one pop-sized message at a time, at the rate
//!   the daemon reached, to the same number of connections (the same
//!   `bench-agents` clients), timing each until its ack.
//!
//! Points: 500 and 2,000 agents near 200 answers/s, then 2,000 agents at a
//! rising rate until pops go missing or p99 passes ten times the floor's.
//! `POP_LOAD_QUICK=1` runs the first point only. Results are printed and
//! written to `target/pop_load.json`.

use serde_json::{Value, json};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

const BIN: &str = env!("CARGO_BIN_EXE_dialpop");
const CUSTOMERS: usize = 80_000;
/// Answers per second per agent per unit of --speed (measured here: 500
/// external agents at --speed 14.4 answered 263 calls/s).
const ANSWERS_PER_AGENT_SPEED: f64 = 0.0365;
/// Answered calls per task (busy and unanswered numbers are tried twice).
const ANSWERED_PER_TASK: f64 = 0.8;
/// How long each point runs at its rate.
const SECONDS: f64 = 20.0;

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

fn agents_process(url: &str, tokens: &Path, wrap_ms: u64) -> Child {
    Command::new(BIN)
        .args([
            "bench-agents",
            "--url",
            url,
            "--wrap-ms",
            &wrap_ms.to_string(),
            "--tokens",
        ])
        .arg(tokens)
        .env("RUST_LOG", "error")
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("bench-agents starts")
}

fn json_of(out: std::process::Output, what: &str) -> Value {
    assert!(
        out.status.success(),
        "{what} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    let line = text
        .lines()
        .rev()
        .find(|l| l.starts_with('{'))
        .unwrap_or_default();
    serde_json::from_str(line).unwrap_or_else(|e| panic!("{what}: {e}: {text}"))
}

struct Point {
    agents: usize,
    speed: f64,
}

/// One run of the daemon with its agents outside, then the floor at the
/// rate it reached with as many connections.
fn run_point(dir: &Path, p: &Point) -> Value {
    let rate = ANSWERS_PER_AGENT_SPEED * p.agents as f64 * p.speed;
    // Enough for the rate to hold for SECONDS, and for every agent to take
    // several calls (a run of one call each is all ramp-up and tail).
    let tasks = ((rate * SECONDS / ANSWERED_PER_TASK) as usize)
        .max(p.agents * 6)
        .clamp(1000, CUSTOMERS);
    let wrap_ms = ((2.0 / p.speed).min(0.2) * 1000.0) as u64;
    let port = free_port();
    let tokens = dir.join(format!("tokens-{}-{}", p.agents, p.speed));
    let _ = std::fs::remove_file(&tokens);
    let daemon = Command::new(BIN)
        .args([
            "demo",
            "--protocol",
            "esl",
            "--seed",
            "3",
            "--exit-when-done",
            "--report",
            "json",
            "--warm-cache",
        ])
        .args([
            "--agents",
            &p.agents.to_string(),
            "--customers",
            &CUSTOMERS.to_string(),
        ])
        .args([
            "--tasks",
            &tasks.to_string(),
            "--speed",
            &p.speed.to_string(),
        ])
        .args([
            "--listen",
            &format!("127.0.0.1:{port}"),
            "--external-agents",
        ])
        .arg(&tokens)
        .env("RUST_LOG", "error")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the daemon starts");
    let mut pages = agents_process(&format!("ws://127.0.0.1:{port}/ws/agent"), &tokens, wrap_ms);
    let report = json_of(daemon.wait_with_output().expect("daemon ends"), "daemon");
    let _ = pages.kill();
    let _ = pages.wait();

    let reached = report["answers_per_s"].as_f64().unwrap_or(rate).max(1.0);
    let floor_tokens = dir.join(format!("floor-{}-{}", p.agents, p.speed));
    let _ = std::fs::remove_file(&floor_tokens);
    let floor_port = free_port();
    let floor = Command::new(BIN)
        .args([
            "bench-floor",
            "--listen",
            &format!("127.0.0.1:{floor_port}"),
        ])
        .args([
            "--connections",
            &p.agents.to_string(),
            "--rate",
            &format!("{reached:.1}"),
        ])
        .args(["--seconds", &SECONDS.to_string(), "--tokens"])
        .arg(&floor_tokens)
        .env("RUST_LOG", "error")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the floor starts");
    let mut floor_pages = agents_process(
        &format!("ws://127.0.0.1:{floor_port}/ws/agent"),
        &floor_tokens,
        wrap_ms,
    );
    let floor_report = json_of(floor.wait_with_output().expect("floor ends"), "floor");
    let _ = floor_pages.kill();
    let _ = floor_pages.wait();
    json!({"agents": p.agents, "speed": p.speed, "tasks": tasks, "daemon": report, "floor": floor_report})
}

fn f(v: &Value, path: &[&str]) -> f64 {
    path.iter()
        .fold(v, |v, k| &v[*k])
        .as_f64()
        .unwrap_or(f64::NAN)
}

fn print_row(r: &Value) {
    let d = &r["daemon"];
    let fl = &r["floor"];
    let answered = f(d, &["answered"]);
    let missing = answered - f(d, &["pops_acked"]);
    let live = f(d, &["max_live_calls"]).max(1.0);
    // What the calls up add to the daemon with its agents signed in.
    let per_1000 = (f(d, &["rss_at_max_live_mb"]) - f(d, &["rss_signed_in_mb"])) / live * 1000.0;
    let per_conn_kb = (f(d, &["rss_signed_in_mb"]) - f(d, &["rss_before_agents_mb"])) * 1024.0
        / f(r, &["agents"]);
    let floor_per_1000 = f(fl, &["rss_connected_mb"]) / f(r, &["agents"]) * 1000.0;
    println!(
        "| {} | {:.0} | {:.0} | {:.2} / {:.2} / {:.1} | {:.2} / {:.2} / {:.1} | {:.1}x | {:.0} / {:.0} / {} | {:.2} | {:.0} MB | {:.1} KB | {:.0} ({:.1} MB/1k) | {:.0} MB/1k conns |",
        r["agents"],
        f(d, &["answers_per_s"]),
        f(d, &["calls_per_s"]),
        f(d, &["pop_latency_ms", "p50"]),
        f(d, &["pop_latency_ms", "p99"]),
        f(d, &["pop_latency_ms", "max"]),
        f(fl, &["ack_ms", "p50"]),
        f(fl, &["ack_ms", "p99"]),
        f(fl, &["ack_ms", "max"]),
        f(d, &["pop_latency_ms", "p99"]) / f(fl, &["ack_ms", "p99"]),
        f(d, &["pops_delivered"]),
        f(d, &["pops_acked"]),
        missing,
        f(d, &["campaign_cpu_s"]) / f(d, &["wall_s"]),
        f(d, &["peak_rss_mb"]),
        per_conn_kb,
        live,
        per_1000,
        floor_per_1000,
    );
}

fn main() {
    // `cargo bench` passes --bench; nothing else is taken.
    let dir: PathBuf =
        std::env::temp_dir().join(format!("dialpop-pop-load-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let quick = std::env::var_os("POP_LOAD_QUICK").is_some();
    let mut points = vec![Point {
        agents: 500,
        speed: 200.0 / (ANSWERS_PER_AGENT_SPEED * 500.0),
    }];
    if !quick {
        points.push(Point {
            agents: 2000,
            speed: 200.0 / (ANSWERS_PER_AGENT_SPEED * 2000.0),
        });
    }
    println!(
        "| agents | answers/s | calls/s | pop p50 / p99 / max ms | floor p50 / p99 / max ms | p99 vs floor | delivered / acked / missing | daemon cores | daemon peak RSS | per idle page | most calls up (RSS they add) | floor RSS |"
    );
    println!("|---|---|---|---|---|---|---|---|---|---|---|---|");
    let mut results = Vec::new();
    for p in &points {
        let r = run_point(&dir, p);
        print_row(&r);
        results.push(r);
    }
    if !quick {
        // The knee: 2,000 agents, the rate doubled until it breaks.
        let mut speed = 2.0 * 200.0 / (ANSWERS_PER_AGENT_SPEED * 2000.0);
        for _ in 0..3 {
            let r = run_point(
                &dir,
                &Point {
                    agents: 2000,
                    speed,
                },
            );
            print_row(&r);
            let d = &r["daemon"];
            let broke = f(d, &["pops_acked"]) < f(d, &["answered"])
                || f(d, &["pop_latency_ms", "p99"]) > 10.0 * f(&r["floor"], &["ack_ms", "p99"]);
            results.push(r);
            if broke {
                break;
            }
            speed *= 2.0;
        }
    }
    let out = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/pop_load.json");
    let _ = std::fs::write(
        &out,
        serde_json::to_string_pretty(&results).unwrap_or_default(),
    );
    let _ = std::fs::remove_dir_all(&dir);
    std::thread::sleep(Duration::from_millis(10));
}
