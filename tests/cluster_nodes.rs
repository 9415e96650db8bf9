//! Three `dialpop serve` processes as one cluster on the real PostgreSQL,
//! driving two simulated switches (FreeSWITCH and Asterisk): each switch is
//! driven by one node at a time, and a SIGKILL of a switch's node mid-
//! campaign hands the switch over within the lease, with nothing lost and
//! nothing dialed twice.
//!
//! In the SIGKILL test each agent has one page, on any node, and the pops
//! cross nodes through the broker (Redis); the other tests run without a
//! broker, with each agent's page open on every node.

mod common;
mod support;

use common::cluster::{free_port, holders, merged, wait_done_or_tell};
use common::serve::{serve, serve_config_as, switch_table};
use common::{AckWhen, CAMPAIGN, Pages, check_campaign, lab_on_store};
use dialpop::cluster::home::Homes;
use dialpop::cluster::lease_store::LeaseStore;
use dialpop::switch::sim::{SimConfig, SimProtocol, SimSwitch};
use std::collections::HashMap;
use std::time::Duration;

const LEASE_S: f64 = 3.0;
const RENEW_S: f64 = 0.5;

/// Node `n{i}`'s `[cluster]` section, with `extra` lines.
fn cluster_section(i: usize, extra: &str) -> String {
    format!(
        "[cluster]\nnode_id = \"n{i}\"\nlease_seconds = {LEASE_S}\nrenew_seconds = {RENEW_S}\n{extra}"
    )
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
    let mut ports = Vec::new();
    // Channels of this test's own on the shared Redis.
    let prefix = format!("dialpop-test-{}", uuid::Uuid::new_v4().simple());
    for i in 0..3 {
        let port = free_port();
        let cluster = cluster_section(
            i,
            &format!("broker = \"redis://127.0.0.1:6379\"\nbroker_prefix = \"{prefix}\"\n"),
        );
        let path = serve_config_as(&lab, &switches, port, &cluster, &format!("n{i}.toml"));
        let log = lab.dir.join(format!("n{i}.log"));
        nodes.push((
            format!("n{i}"),
            common::serve::serve_logged(&path, "info,dialpop=debug", &log),
        ));
        ports.push(port);
    }
    // One page per agent, spread over the nodes as a plain balancer would:
    // most pops cross nodes through the broker.
    let stop = tokio_util::sync::CancellationToken::new();
    let page_on = |agent: usize, node: usize, token: &str| {
        println!("agent {agent}: page on n{node}");
        common::agent_client_acking(
            format!("ws://127.0.0.1:{}/ws/agent", ports[node]),
            token.to_string(),
            stop.clone(),
            AckWhen::AtOnce,
        )
    };
    let mut pages: Vec<Pages> = vec![HashMap::new()];
    let mut page_node = Vec::new();
    for (i, (a, token)) in lab.agents.iter().enumerate() {
        pages[0].insert(a.id.clone(), page_on(i, i % 3, token));
        page_node.push(i % 3);
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
    println!("KILL at {} ms", chrono::Utc::now().timestamp_millis());
    // The balancer sends the pages of the dead node to the next one.
    let dead: usize = victim.0[1..].parse().expect("node number");
    let mut moved: Pages = HashMap::new();
    for (i, (a, token)) in lab.agents.iter().enumerate() {
        if page_node[i] == dead {
            moved.insert(a.id.clone(), page_on(i, (dead + 1) % 3, token));
        }
    }
    pages.push(moved);

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

    wait_done_or_tell(&lab, &ports).await;
    // Every page of an agent counts as that agent's.
    let all_pages = merged(&pages);
    let counts = check_campaign(&lab, &all_pages).await;
    // Every agent was dialed for and shown its pops, wherever its page
    // was: a page on a node that did not drive its switch got them through
    // the broker (without it, such an agent is never seen online and gets
    // no call).
    let driven_by = holders(&leases).await;
    for (i, (a, _)) in lab.agents.iter().enumerate() {
        let seen = all_pages
            .get(&a.id)
            .expect("page")
            .lock()
            .expect("seen")
            .messages
            .iter()
            .filter(|m| matches!(m, dialpop::popup::messages::ServerMsg::Pop { .. }))
            .count();
        let switch = homes.home_of(&a.id).unwrap_or_default();
        println!(
            "{}: switch {switch} (driven by {:?} at the end), first page on n{}, {seen} pops",
            a.id,
            driven_by.get(switch).map(|d| &d.0),
            page_node[i]
        );
        assert!(seen > 0, "{} got no pop", a.id);
    }
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_cut_off_from_the_store_stops_driving_its_switch_before_another_takes_it() {
    use support::netns::Netns;
    use support::relay::Relay;
    let url = support::stores::postgres_schema_url().await;
    let lab = lab_on_store(
        SimProtocol::Esl,
        "cluster-cut",
        4,
        &[(1, 30), (3, 6)],
        10.0,
        Some(url.clone()),
    )
    .await;
    // n0 runs in a namespace of its own and reaches the store and the
    // switch only through relays on the host's end of its veth: the
    // store's can be cut while the switch's stays up (and shows when n0
    // leaves the switch).
    let ns = Netns::create(0);
    let pg = Relay::start(&format!("{}:0", ns.host_ip), "127.0.0.1:5432", None).await;
    let fs = Relay::start(
        &format!("{}:0", ns.host_ip),
        &lab.sim.local_addr().to_string(),
        Some(b"originate"),
    )
    .await;
    let table =
        switch_table(&lab, &lab.sim, "fs", true).replace("max_calls = 2\n", "max_calls = 20\n");
    let cluster = |i: usize| cluster_section(i, "");
    let port0 = free_port();
    let path0 = serve_config_as(&lab, &table, port0, &cluster(0), "n0.toml");
    let text = std::fs::read_to_string(&path0)
        .expect("n0 config")
        .replace(
            &format!("127.0.0.1:{port0}"),
            &format!("{}:{port0}", ns.ns_ip),
        )
        .replace(&lab.sim.local_addr().to_string(), &fs.addr.to_string())
        .replace("127.0.0.1:5432", &pg.addr.to_string());
    std::fs::write(&path0, text).expect("n0 config");
    let mut n0 = ns
        .command(env!("CARGO_BIN_EXE_dialpop"))
        .args(["serve", "--config"])
        .arg(&path0)
        .env("RUST_LOG", "warn")
        .kill_on_drop(true)
        .spawn()
        .expect("n0 starts in its namespace");
    let leases = LeaseStore::connect(&url).await.expect("lease store");
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while holders(&leases)
        .await
        .get("fs")
        .is_none_or(|(n, _)| n != "n0")
    {
        assert!(tokio::time::Instant::now() < deadline, "n0 never took fs");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let port1 = free_port();
    let path1 = serve_config_as(&lab, &table, port1, &cluster(1), "n1.toml");
    let mut n1 = serve(&path1);
    let stop = tokio_util::sync::CancellationToken::new();
    let pages = [
        lab.pages(format!("{}:{port0}", ns.ns_ip), &stop, AckWhen::AtOnce),
        lab.pages(format!("127.0.0.1:{port1}"), &stop, AckWhen::AtOnce),
    ];
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        let c = lab.store.task_counts(CAMPAIGN).await.expect("counts");
        if c.done >= 4 && lab.sim.live_calls() > 0 {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "n0 did not dial: {c:?}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(!fs.seen().is_empty(), "n0 placed calls through its relay");
    assert!(fs.closed().is_empty(), "n0 left the switch before the cut");
    pg.cut();
    let cut_ms = chrono::Utc::now().timestamp_millis();

    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    let taken_ms = loop {
        let rows = leases.leases().await.expect("leases");
        if let Some(l) = rows
            .iter()
            .find(|l| l.switch_name == "fs" && l.node_id == "n1")
        {
            break l.acquired_ms;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "n1 never took fs: {rows:?}; n1 exited: {:?}",
            n1.try_wait()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    let left_ms = *fs.closed().first().expect("n0 left the switch");
    let last_originate = fs.seen().last().copied().unwrap_or_default();
    println!(
        "cut at 0 ms; n0 left the switch at {} ms (its last originate at {} ms); n1 took it at {} ms",
        left_ms - cut_ms,
        last_originate - cut_ms,
        taken_ms - cut_ms
    );
    assert!(
        left_ms < taken_ms,
        "n0 left the switch at {left_ms}, after n1 took it at {taken_ms}"
    );
    assert!(last_originate <= left_ms, "n0 originated after leaving");
    assert!(
        left_ms - cut_ms <= (LEASE_S * 1000.0) as i64,
        "n0 held on {} ms after the cut",
        left_ms - cut_ms
    );

    lab.wait_done(Duration::from_secs(120)).await;
    let counts = check_campaign(&lab, &merged(&pages)).await;
    println!("after the cut: {counts:?}");
    assert_eq!(counts.done + counts.failed, 36);
    assert_eq!(counts.double_dialed, 0);
    stop.cancel();
    let _ = n0.kill().await;
    let _ = n1.kill().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_campaign_paused_through_another_nodes_api_stops_dialing_and_any_node_tells_the_cluster()
{
    let url = support::stores::postgres_schema_url().await;
    // Nobody answers for long: calls ring 30 s (speed 10), so dialing goes
    // on as long as the campaign runs.
    let lab = lab_on_store(
        SimProtocol::Esl,
        "cluster-pause",
        4,
        &[(3, 200)],
        10.0,
        Some(url.clone()),
    )
    .await;
    let table =
        switch_table(&lab, &lab.sim, "fs", true).replace("max_calls = 2\n", "max_calls = 4\n");
    let mut nodes = Vec::new();
    let mut ports = Vec::new();
    let stop = tokio_util::sync::CancellationToken::new();
    let mut pages = Vec::new();
    for i in 0..2 {
        let port = free_port();
        let cluster = cluster_section(i, "");
        let path = serve_config_as(&lab, &table, port, &cluster, &format!("n{i}.toml"));
        nodes.push(serve(&path));
        ports.push(port);
        pages.push(lab.pages(format!("127.0.0.1:{port}"), &stop, AckWhen::AtOnce));
    }
    let leases = LeaseStore::connect(&url).await.expect("lease store");
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    let driver = loop {
        // Dialing under way and turning over (calls ring out, the next
        // ones are placed), so that a pause that did not stop it shows.
        if let Some((n, _)) = holders(&leases).await.get("fs")
            && lab.sim.originates().by_task.len() >= 12
        {
            break n.clone();
        }
        assert!(tokio::time::Instant::now() < deadline, "nothing dialed");
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    // The other node's API: its own dialers drive nothing.
    let other = if driver == "n0" { 1 } else { 0 };
    let addr: std::net::SocketAddr = format!("127.0.0.1:{}", ports[other]).parse().expect("addr");
    let api = support::http::Api::new(addr, Some(common::API_TOKEN));
    let (code, status) = api.get("/api/cluster").await;
    assert_eq!(code, 200, "{status}");
    assert_eq!(status["node"], format!("n{other}"));
    assert_eq!(status["driving"], serde_json::json!([]));
    let fs_lease = status["leases"]
        .as_array()
        .and_then(|l| l.iter().find(|l| l["switch_name"] == "fs"))
        .cloned()
        .unwrap_or_default();
    assert_eq!(fs_lease["node_id"], driver.as_str(), "{status}");
    for a in status["agents"].as_array().into_iter().flatten() {
        assert_eq!(a["switch"], "fs");
        assert_eq!(a["node"], driver.as_str(), "{a}");
    }
    let (code, body) = api
        .post(&format!("/api/campaigns/{CAMPAIGN}/pause"), "")
        .await;
    assert_eq!(code, 200, "{body}");
    // The driving node's dialer reads the campaign again within its
    // re-read (2 s) and a claim in flight: after that nothing new is
    // placed, though its calls ring on.
    tokio::time::sleep(Duration::from_secs(4)).await;
    let placed = lab.sim.originates().by_task.len();
    tokio::time::sleep(Duration::from_secs(4)).await;
    let later = lab.sim.originates().by_task.len();
    assert_eq!(
        later, placed,
        "dialing went on after the pause: {placed} then {later}"
    );
    assert!(
        placed < 200,
        "all {placed} dialed: the pause came too late to show anything"
    );
    stop.cancel();
    drop(pages);
    for mut c in nodes {
        let _ = c.kill().await;
    }
}
