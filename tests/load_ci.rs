//! A short load run (counts, never timings): hundreds of agents as real
//! WebSocket clients and thousands of customers against the simulated
//! switch, through the whole daemon. Every answered call must have popped
//! once to its agent and been acknowledged, nothing dialed twice, nothing
//! left, no write lost. A regression that loses pops under load (a per-call
//! scan, a dropped acknowledgement) turns this red.

mod support;

use support::demo_run::{assert_complete, count, run_demo};

fn load_run(protocol: &str, agents: &str, customers: &str) {
    let r = run_demo(&[
        "--protocol",
        protocol,
        "--agents",
        agents,
        "--customers",
        customers,
        "--speed",
        "50",
        "--seed",
        "3",
    ]);
    println!("{protocol}: {r}");
    let customers: u64 = customers.parse().expect("number");
    assert_complete(&r, customers);
    assert!(count(&r, "answered") > customers / 2, "{r}");
}

#[test]
fn three_hundred_agents_on_freeswitch() {
    load_run("esl", "300", "3000");
}

#[test]
fn three_hundred_agents_on_asterisk() {
    load_run("ami", "300", "3000");
}
