//! Helpers of the cluster tests: several `dialpop serve` nodes on one
//! PostgreSQL, their leases, and pages spread over them.

use super::{CAMPAIGN, Lab, Pages, Seen};
use dialpop::cluster::lease_store::LeaseStore;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

/// Every page of an agent counts as that agent's.
pub fn merged(pages: &[Pages]) -> Pages {
    let mut all: Pages = HashMap::new();
    for p in pages {
        for (agent, seen) in p {
            let seen = seen.lock().expect("seen");
            all.entry(agent.clone())
                .or_insert_with(|| Arc::new(Mutex::new(Seen::default())))
                .lock()
                .expect("merged")
                .messages
                .extend(seen.messages.iter().cloned());
        }
    }
    all
}

/// Waits for the campaign's end; past the limit, says what is left: each
/// task still dialing with its attempts, and what the live nodes say of
/// their agents.
pub async fn wait_done_or_tell(lab: &Lab, ports: &[u16]) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(120);
    loop {
        let c = lab.store.task_counts(CAMPAIGN).await.expect("counts");
        if c.pending == 0 && c.dialing == 0 {
            return;
        }
        if tokio::time::Instant::now() >= deadline {
            let left = lab
                .store
                .tasks(&dialpop::store::TaskQuery {
                    status: Some(dialpop::store::TaskStatus::Dialing),
                    ..Default::default()
                })
                .await
                .expect("tasks");
            let mut told = Vec::new();
            for t in &left {
                let attempts = lab.store.attempts_for_task(t.id).await.expect("attempts");
                told.push(format!("task {}: {attempts:?}", t.id));
            }
            for p in ports {
                let agents = reqwest::Client::new()
                    .get(format!("http://127.0.0.1:{p}/api/agents"))
                    .bearer_auth(super::API_TOKEN)
                    .send()
                    .await;
                if let Ok(r) = agents {
                    told.push(format!(
                        "node at {p}: {}",
                        r.text().await.unwrap_or_default()
                    ));
                }
            }
            for i in 0..3 {
                let log =
                    std::fs::read_to_string(lab.dir.join(format!("n{i}.log"))).unwrap_or_default();
                for t in &left {
                    for l in log.lines().filter(|l| {
                        l.contains(&format!("task={}", t.id))
                            || l.contains("lease")
                            || l.contains("driving")
                            || l.contains("re-adopt")
                            || l.contains("wrap")
                    }) {
                        told.push(format!("n{i}: {l}"));
                    }
                }
            }
            panic!("campaign not done in 120 s: {c:?}\n{}", told.join("\n"));
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Who holds each switch's live lease now.
pub async fn holders(leases: &LeaseStore) -> HashMap<String, (String, i64)> {
    leases
        .leases()
        .await
        .expect("leases")
        .into_iter()
        .filter(|l| l.expires_in_ms > 0)
        .map(|l| (l.switch_name, (l.node_id, l.token)))
        .collect()
}
