//! Switch leases on the machine's real PostgreSQL: one holder at a time,
//! taken over only once expired and then under a new token, shared among
//! the nodes alive, and let go by a node cut off from the store before any
//! other node can take its switch.

mod support;

use dialpop::cluster::lease::{Reply, Timing};
use dialpop::cluster::lease_store::LeaseStore;
use dialpop::cluster::leases::{Held, LeaseTask};
use std::time::{Duration, Instant};
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

/// A fresh schema, migrated by the store, and its URL.
async fn schema() -> String {
    support::stores::postgres().await.url
}

async fn leases(url: &str) -> LeaseStore {
    LeaseStore::connect(url)
        .await
        .unwrap_or_else(|e| panic!("lease store at {url}: {e}"))
}

#[tokio::test]
async fn a_lease_has_one_holder_and_is_taken_over_only_once_expired() {
    let url = schema().await;
    let s = leases(&url).await;
    let ttl = Duration::from_millis(600);
    assert_eq!(s.acquire("fs1", "a", ttl).await.unwrap(), Reply::Granted(1));
    assert_eq!(s.acquire("fs1", "b", ttl).await.unwrap(), Reply::Refused);
    assert_eq!(
        s.renew("fs1", "a", 1, ttl).await.unwrap(),
        Reply::Granted(1)
    );
    // Only the holder, under its token, renews.
    assert_eq!(s.renew("fs1", "b", 1, ttl).await.unwrap(), Reply::Refused);
    assert_eq!(s.renew("fs1", "a", 2, ttl).await.unwrap(), Reply::Refused);
    // Another switch is another lease.
    assert_eq!(s.acquire("fs2", "b", ttl).await.unwrap(), Reply::Granted(1));

    tokio::time::sleep(ttl + Duration::from_millis(100)).await;
    // Expired: a renewal is too late, and the takeover bumps the token.
    assert_eq!(s.renew("fs1", "a", 1, ttl).await.unwrap(), Reply::Refused);
    assert_eq!(s.acquire("fs1", "b", ttl).await.unwrap(), Reply::Granted(2));
    assert_eq!(s.acquire("fs1", "a", ttl).await.unwrap(), Reply::Refused);
    let rows = s.leases().await.unwrap();
    let fs1 = rows.iter().find(|r| r.switch_name == "fs1").expect("fs1");
    assert_eq!((fs1.node_id.as_str(), fs1.token), ("b", 2));
    assert!(fs1.expires_in_ms > 0 && fs1.expires_in_ms <= 600, "{fs1:?}");

    // A release hands it over at once.
    s.release("fs1", "b", 2).await.unwrap();
    assert_eq!(s.acquire("fs1", "a", ttl).await.unwrap(), Reply::Granted(3));
}

#[tokio::test]
async fn of_many_nodes_taking_one_switch_at_once_one_gets_it() {
    let url = schema().await;
    let s = leases(&url).await;
    let mut joins = Vec::new();
    for i in 0..8 {
        let s = s.clone();
        joins.push(tokio::spawn(async move {
            s.acquire("fs1", &format!("n{i}"), Duration::from_secs(5))
                .await
                .unwrap()
        }));
    }
    let mut granted = 0;
    for j in joins {
        if let Reply::Granted(t) = j.await.unwrap() {
            assert_eq!(t, 1);
            granted += 1;
        }
    }
    assert_eq!(granted, 1);
}

fn timing() -> Timing {
    Timing::new(Duration::from_millis(1600), Duration::from_millis(300))
}

fn start(
    store: LeaseStore,
    node: &str,
    switches: &[&str],
) -> (
    tokio::task::JoinHandle<()>,
    watch::Receiver<Held>,
    CancellationToken,
) {
    let (task, rx) = LeaseTask::new(
        store,
        node,
        "127.0.0.1:0",
        switches.iter().map(|s| s.to_string()).collect(),
        timing(),
    );
    let stop = CancellationToken::new();
    let join = tokio::spawn(task.run(stop.clone()));
    (join, rx, stop)
}

async fn until(what: &str, within: Duration, mut ok: impl FnMut() -> bool) {
    let end = Instant::now() + within;
    while !ok() {
        assert!(Instant::now() < end, "not within {within:?}: {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn the_nodes_alive_share_the_switches_and_a_dead_ones_are_taken_over() {
    let url = schema().await;
    let (j1, rx1, _s1) = start(leases(&url).await, "n1", &["fs1", "fs2"]);
    let (_j2, rx2, s2) = start(leases(&url).await, "n2", &["fs1", "fs2"]);
    until("each node holds one switch", Duration::from_secs(5), || {
        rx1.borrow().len() == 1 && rx2.borrow().len() == 1
    })
    .await;
    let n1_had: Vec<String> = rx1.borrow().keys().cloned().collect();
    let had_token = rx1.borrow()[&n1_had[0]].token;
    // Killed: no release; the other takes it once it expires.
    j1.abort();
    let killed = Instant::now();
    until("n2 holds both", Duration::from_secs(5), || {
        rx2.borrow().len() == 2
    })
    .await;
    let took = killed.elapsed();
    let t = timing();
    assert!(
        took <= t.ttl + 3 * t.renew_every,
        "taken over in {took:?}, lease {:?}",
        t.ttl
    );
    assert!(rx2.borrow()[&n1_had[0]].token > had_token);
    // Stopped: released, so the store shows nobody holding anything.
    s2.cancel();
    until("n2 released", Duration::from_secs(5), || {
        rx2.borrow().is_empty()
    })
    .await;
    let s = leases(&url).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    for r in s.leases().await.unwrap() {
        assert!(r.expires_in_ms < 0, "{r:?} still held");
    }
}

#[tokio::test]
async fn a_node_cut_off_from_the_store_lets_go_before_another_takes_over() {
    let url = schema().await;
    let relay = support::relay::Relay::start("127.0.0.1:0", "127.0.0.1:5432", None).await;
    let cut_url = url.replacen("127.0.0.1:5432", &format!("127.0.0.1:{}", relay.port()), 1);
    let (_j1, mut rx1, _s1) = start(leases(&cut_url).await, "n1", &["fs1"]);
    until("n1 holds fs1", Duration::from_secs(5), || {
        rx1.borrow().contains_key("fs1")
    })
    .await;
    let (_j2, mut rx2, _s2) = start(leases(&url).await, "n2", &["fs1"]);
    // n2 is refused while n1 renews.
    tokio::time::sleep(timing().ttl).await;
    assert!(rx2.borrow().is_empty(), "taken from a live holder");
    rx1.borrow_and_update();
    rx2.borrow_and_update();

    relay.cut();
    let at = Instant::now();
    let lost = tokio::spawn(async move {
        while rx1.changed().await.is_ok() {
            if !rx1.borrow().contains_key("fs1") {
                return Instant::now();
            }
        }
        panic!("n1's lease task ended");
    });
    let taken = tokio::spawn(async move {
        while rx2.changed().await.is_ok() {
            if rx2.borrow().contains_key("fs1") {
                return Instant::now();
            }
        }
        panic!("n2's lease task ended");
    });
    let lost = tokio::time::timeout(Duration::from_secs(10), lost)
        .await
        .expect("n1 lets go")
        .unwrap();
    let taken = tokio::time::timeout(Duration::from_secs(10), taken)
        .await
        .expect("n2 takes over")
        .unwrap();
    assert!(
        lost < taken,
        "n1 let go {:?} after the cut, n2 took over {:?} after it",
        lost - at,
        taken - at
    );
    let t = timing();
    assert!(
        lost - at <= t.ttl,
        "n1 held on {:?} after the cut",
        lost - at
    );
}

/// Campaign "c", running, for the tests' tasks.
async fn running_campaign(store: &dyn dialpop::store::Store) {
    use dialpop::store::{Campaign, CampaignSettings, CampaignState};
    store
        .insert_campaign(&Campaign {
            id: "c".into(),
            name: "c".into(),
            state: CampaignState::Running,
            settings: CampaignSettings::default(),
            created_ms: 1,
            updated_ms: 1,
        })
        .await
        .unwrap();
}

#[tokio::test]
async fn writes_under_a_lease_that_moved_on_are_dropped_and_counted() {
    use dialpop::store::{Fence, NewAttempt, NewTask, Write};
    let pg = support::stores::postgres().await;
    let store = pg.store.clone();
    let s = leases(&pg.url).await;
    running_campaign(&*store).await;
    let task = store
        .add_task(&NewTask {
            campaign_id: "c".into(),
            customer_id: "cust1".into(),
            phone: "+12127360001".into(),
            ..NewTask::default()
        })
        .await
        .unwrap()
        .id;
    for call in ["fs1-call", "fs2-call"] {
        store
            .insert_attempt(&NewAttempt {
                call_id: call.into(),
                task_id: task,
                agent_id: "a1".into(),
                switch_name: call[..3].into(),
                originate_ms: 1_000,
            })
            .await
            .unwrap();
    }
    let ttl = Duration::from_millis(400);
    assert_eq!(
        s.acquire("fs1", "n1", ttl).await.unwrap(),
        Reply::Granted(1)
    );
    assert_eq!(
        s.acquire("fs2", "n1", ttl).await.unwrap(),
        Reply::Granted(1)
    );
    let under = |switch: &str, token: i64, w: Write| Write::Fenced {
        fence: Fence {
            switch: switch.into(),
            token,
        },
        write: Box::new(w),
    };
    let ring = |call: &str, at_ms: i64| Write::Ringing {
        call_id: call.into(),
        at_ms,
    };
    store
        .apply(&[under("fs1", 1, ring("fs1-call", 2_000))])
        .await
        .unwrap();
    let ring_of = async |call: &str| store.attempt(call).await.unwrap().unwrap().ring_ms;
    assert_eq!(ring_of("fs1-call").await, Some(2_000));
    assert_eq!(store.fenced_writes(), 0);

    // fs1 is taken over by n2: n1's writes for it no longer land, while
    // its writes for fs2 and those under n2's token do, in the same batch.
    tokio::time::sleep(ttl + Duration::from_millis(100)).await;
    assert_eq!(
        s.acquire("fs1", "n2", ttl).await.unwrap(),
        Reply::Granted(2)
    );
    store
        .apply(&[
            under(
                "fs1",
                1,
                Write::CloseAttempt {
                    call_id: "fs1-call".into(),
                    at_ms: 3_000,
                    outcome: "answered".into(),
                    cause: None,
                },
            ),
            under("fs2", 1, ring("fs2-call", 3_000)),
            Write::AgentState {
                agent_id: "a1".into(),
                state: "available".into(),
                reason: None,
                at_ms: 3_000,
            },
            under("fs1", 1, ring("fs1-call", 9_000)),
        ])
        .await
        .unwrap();
    let a = store.attempt("fs1-call").await.unwrap().unwrap();
    assert_eq!((a.hangup_ms, a.ring_ms), (None, Some(2_000)), "{a:?}");
    assert_eq!(ring_of("fs2-call").await, Some(3_000));
    assert_eq!(store.fenced_writes(), 2);
    store
        .apply(&[under(
            "fs1",
            2,
            Write::CloseAttempt {
                call_id: "fs1-call".into(),
                at_ms: 4_000,
                outcome: "answered".into(),
                cause: None,
            },
        )])
        .await
        .unwrap();
    let a = store.attempt("fs1-call").await.unwrap().unwrap();
    assert_eq!(a.hangup_ms, Some(4_000));
    assert_eq!(store.fenced_writes(), 2);
}

#[tokio::test]
async fn claims_and_attempts_under_a_moved_lease_are_refused_and_orphans_belong_to_their_switch() {
    use dialpop::store::{ClaimFilter, Fence, NewAttempt, NewTask, StoreError};
    let pg = support::stores::postgres().await;
    let store = pg.store.clone();
    let s = leases(&pg.url).await;
    running_campaign(&*store).await;
    for i in 0..6 {
        store
            .add_task(&NewTask {
                campaign_id: "c".into(),
                customer_id: format!("cust{i}"),
                phone: format!("+1212736000{i}"),
                ..NewTask::default()
            })
            .await
            .unwrap();
    }
    let ttl = Duration::from_millis(400);
    assert_eq!(
        s.acquire("fs1", "n1", ttl).await.unwrap(),
        Reply::Granted(1)
    );
    assert_eq!(
        s.acquire("fs2", "n1", ttl).await.unwrap(),
        Reply::Granted(1)
    );
    let fence = |switch: &str, token: i64| Fence {
        switch: switch.into(),
        token,
    };
    let under = |f: Option<Fence>| ClaimFilter {
        campaign_id: "c".into(),
        fence: f,
        ..ClaimFilter::default()
    };
    let now = dialpop::store::now_ms() + 1;
    // Two claimed for each switch, none given an attempt yet: each
    // switch's orphans are its own two.
    let on_fs1 = store
        .claim_batch(&under(Some(fence("fs1", 1))), now, 2)
        .await
        .unwrap();
    let on_fs2 = store
        .claim_batch(&under(Some(fence("fs2", 1))), now, 2)
        .await
        .unwrap();
    assert_eq!((on_fs1.len(), on_fs2.len()), (2, 2));
    let ids = |tasks: Vec<dialpop::store::Task>| {
        let mut v: Vec<i64> = tasks.iter().map(|t| t.id).collect();
        v.sort();
        v
    };
    let mut fs1_ids: Vec<i64> = on_fs1.iter().map(|(t, _)| t.id).collect();
    fs1_ids.sort();
    assert_eq!(
        ids(store.orphaned_dialing_tasks_on("fs1").await.unwrap()),
        fs1_ids
    );
    assert_eq!(store.orphaned_dialing_tasks().await.unwrap().len(), 4);
    // An attempt under the lease lands; the task is no orphan then, and
    // its switch's open attempts list it.
    let attempt = |task: i64, switch: &str, call: &str| NewAttempt {
        call_id: call.into(),
        task_id: task,
        agent_id: String::new(),
        switch_name: switch.into(),
        originate_ms: now,
    };
    store
        .insert_attempts_under(&[attempt(fs1_ids[0], "fs1", "c-1")], Some(&fence("fs1", 1)))
        .await
        .unwrap();
    assert_eq!(
        ids(store.orphaned_dialing_tasks_on("fs1").await.unwrap()),
        vec![fs1_ids[1]]
    );
    let open: Vec<String> = store
        .open_attempts_on("fs1")
        .await
        .unwrap()
        .into_iter()
        .map(|a| a.call_id)
        .collect();
    assert_eq!(open, vec!["c-1".to_string()]);
    assert!(store.open_attempts_on("fs2").await.unwrap().is_empty());

    // fs1 moves to n2: n1 can neither claim nor place for it any more,
    // and nothing of what it tried is written.
    tokio::time::sleep(ttl + Duration::from_millis(100)).await;
    assert_eq!(
        s.acquire("fs1", "n2", ttl).await.unwrap(),
        Reply::Granted(2)
    );
    let before = store.fenced_writes();
    match store
        .claim_batch(&under(Some(fence("fs1", 1))), now, 2)
        .await
    {
        Err(StoreError::LeaseMoved(sw)) => assert_eq!(sw, "fs1"),
        other => panic!("a claim under the old token: {other:?}"),
    }
    match store
        .insert_attempts_under(&[attempt(fs1_ids[1], "fs1", "c-2")], Some(&fence("fs1", 1)))
        .await
    {
        Err(StoreError::LeaseMoved(sw)) => assert_eq!(sw, "fs1"),
        other => panic!("an attempt under the old token: {other:?}"),
    }
    assert!(store.attempt("c-2").await.unwrap().is_none());
    assert_eq!(store.fenced_writes(), before + 2);
    // Two tasks are still pending: the refused claim took none of them.
    let pending = store
        .claim_batch(&under(Some(fence("fs1", 2))), now, 10)
        .await
        .unwrap();
    assert_eq!(pending.len(), 2);
}
