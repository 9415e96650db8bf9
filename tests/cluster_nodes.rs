//! Three `dialpop serve` processes as one cluster on the real PostgreSQL,
//! driving two simulated switches (FreeSWITCH and Asterisk): each switch is
//! driven by one node at a time, and a SIGKILL of a switch's node mid-
//! campaign hands the switch over within the lease, with nothing lost and
//! nothing dialed twice.
//!
//! Every agent keeps a page open on each node here: until pops cross nodes
//! through the broker, a pop reaches the pages on the node that drives the
//! agent's switch (and after a takeover, on the node that took it).

mod common;
mod support;

use common::serve::{serve, serve_config_as, switch_table};
use common::{AckWhen, CAMPAIGN, Pages, Seen, check_campaign, lab_on_store};
use dialpop::cluster::home::Homes;
use dialpop::cluster::lease_store::LeaseStore;
use dialpop::switch::sim::{SimConfig, SimProtocol, SimSwitch};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

const LEASE_S: f64 = 3.0;
const RENEW_S: f64 = 0.5;

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

/// Who holds each switch's live lease now.
async fn holders(leases: &LeaseStore) -> HashMap<String, (String, i64)> {
    leases
        .leases()
        .await
        .expect("leases")
        .into_iter()
        .filter(|l| l.expires_in_ms > 0)
        .map(|l| (l.switch_name, (l.node_id, l.token)))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_switchs_node_killed_mid_campaign_is_taken_over_within_the_lease() {
    let url = support::stores::postgres_schema_url().await;
    let lab = lab_on_store(
        SimProtocol::Esl,
        "cluster-kill",
        6,
        &[(1, 30), (5, 6), (2, 4), (3, 4)],
        10.0,
        Some(url.clone()),
    )
    .await;
    let asterisk = SimSwitch::start(SimConfig {
        protocol: SimProtocol::Ami,
        speed: 10.0,
        seed: 3,
        ..SimConfig::default()
    })
    .await
    .expect("simulated Asterisk");
    // Both switches must have agents, or one of them places nothing.
    let homes = Homes::new(["fs".to_string(), "ast".to_string()]);
    let on = |s: &str| {
        lab.agents
            .iter()
            .filter(|(a, _)| homes.home_of(&a.id) == Some(s))
            .count()
    };
    assert!(
        on("fs") > 0 && on("ast") > 0,
        "agents on fs {} and ast {}",
        on("fs"),
        on("ast")
    );
    let switches = [
        switch_table(&lab, &lab.sim, "fs", true),
        switch_table(&lab, &asterisk, "ast", true),
    ]
    .concat()
    .replace("max_calls = 2\n", "max_calls = 20\n");
    let mut nodes = Vec::new();
    let stop = tokio_util::sync::CancellationToken::new();
    let mut pages: Vec<Pages> = Vec::new();
    for i in 0..3 {
        let port = free_port();
        let cluster = format!(
            "[cluster]\nnode_id = \"n{i}\"\nlease_seconds = {LEASE_S}\nrenew_seconds = {RENEW_S}\n"
        );
        let path = serve_config_as(&lab, &switches, port, &cluster, &format!("n{i}.toml"));
        nodes.push((format!("n{i}"), serve(&path)));
        pages.push(lab.pages(format!("127.0.0.1:{port}"), &stop, AckWhen::AtOnce));
    }
    let leases = LeaseStore::connect(&url).await.expect("lease store");

    // Both switches driven, by different nodes once all three beat, and
    // the campaign under way on the FreeSWITCH with calls up.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    let victim = loop {
        let h = holders(&leases).await;
        let c = lab.store.task_counts(CAMPAIGN).await.expect("counts");
        if let (Some(fs), Some(_)) = (h.get("fs"), h.get("ast"))
            && c.done >= 4
            && lab.sim.live_calls() > 0
        {
            break fs.clone();
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the cluster did not start dialing: leases {h:?}, tasks {c:?}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    let up = lab.sim.live_calls();
    let Some((_, child)) = nodes.iter_mut().find(|(n, _)| *n == victim.0) else {
        panic!("no process for node {}", victim.0);
    };
    child.kill().await.expect("SIGKILL");
    let killed = tokio::time::Instant::now();

    // Another node takes the switch once the lease has run out, under a
    // new token: never before the lease, and within it plus a few renewals
    // (the survivors look for unheld switches every renewal).
    let (taker, token) = loop {
        let h = holders(&leases).await;
        if let Some((node, token)) = h.get("fs")
            && *node != victim.0
        {
            break (node.clone(), *token);
        }
        assert!(
            killed.elapsed() < Duration::from_secs_f64(LEASE_S + 4.0 * RENEW_S + 1.0),
            "fs not taken over {:?} after the kill: {h:?}",
            killed.elapsed()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    let took = killed.elapsed();
    assert!(
        token > victim.1,
        "taken over under token {token}, held under {}",
        victim.1
    );
    println!(
        "{} killed with {up} calls up on fs; {taker} took fs (token {token}) after {took:?}",
        victim.0
    );

    lab.wait_done(Duration::from_secs(120)).await;
    // Every page of an agent counts as that agent's.
    let mut merged: Pages = HashMap::new();
    for p in &pages {
        for (agent, seen) in p {
            let seen = seen.lock().expect("seen");
            let all = merged
                .entry(agent.clone())
                .or_insert_with(|| Arc::new(Mutex::new(Seen::default())));
            all.lock()
                .expect("merged")
                .messages
                .extend(seen.messages.iter().cloned());
        }
    }
    let counts = check_campaign(&lab, &merged).await;
    // Nothing dialed twice on either switch: no more originates of a task
    // than it has attempts, and no call id placed twice.
    let mut per_task: HashMap<i64, usize> = HashMap::new();
    let mut ids = std::collections::HashSet::new();
    for sim in [&lab.sim, &asterisk] {
        let log = sim.originates();
        for vars in log.variables_of_each() {
            if let Some(t) = vars
                .iter()
                .find(|(k, _)| k == "dialpop_task_id")
                .and_then(|(_, v)| v.parse::<i64>().ok())
            {
                *per_task.entry(t).or_default() += 1;
            }
        }
        for id in log.call_id_of_each().into_iter().flatten() {
            assert!(ids.insert(id.clone()), "call id {id} originated twice");
        }
    }
    for (task, n) in &per_task {
        let recorded = lab
            .store
            .attempts_for_task(*task)
            .await
            .expect("attempts")
            .len();
        assert!(
            *n <= recorded,
            "task {task}: {n} originates, {recorded} attempts"
        );
    }
    assert!(
        !asterisk.originates().variables_of_each().is_empty(),
        "the Asterisk's agents were dialed for too"
    );
    println!("after the kill: {counts:?}");
    assert_eq!(counts.tasks, 44);
    assert_eq!(counts.done + counts.failed, 44);
    stop.cancel();
    for (_, mut c) in nodes {
        let _ = c.kill().await;
    }
}
