//! One store test suite, run on both backends: SQLite (the embedded
//! default) and the machine's real PostgreSQL.

mod support;

use dialpop::store::*;
use std::collections::HashSet;
use std::sync::Arc;
use support::stores::{Backend, both};

fn campaign(id: &str, state: CampaignState) -> Campaign {
    Campaign {
        id: id.into(),
        name: format!("Campaign {id}"),
        state,
        settings: CampaignSettings::default(),
        created_ms: 1,
        updated_ms: 1,
    }
}

fn task(campaign: &str, n: usize) -> NewTask {
    NewTask {
        campaign_id: campaign.into(),
        customer_id: format!("cust{n}"),
        phone: format!("+1212736{n:04}"),
        due_ms: 0,
        ..NewTask::default()
    }
}

fn filter(campaign: &str) -> ClaimFilter {
    ClaimFilter {
        campaign_id: campaign.into(),
        ..ClaimFilter::default()
    }
}

async fn with_campaign(b: &Backend, id: &str) {
    assert!(
        b.store
            .insert_campaign(&campaign(id, CampaignState::Running))
            .await
            .unwrap()
    );
}

#[tokio::test]
async fn campaigns_are_seeded_once_and_keep_their_state() {
    for b in both().await {
        let s = &b.store;
        assert!(
            s.insert_campaign(&campaign("c1", CampaignState::Created))
                .await
                .unwrap()
        );
        // A second seed (the config file at the next start) changes nothing.
        let mut again = campaign("c1", CampaignState::Running);
        again.name = "from the config".into();
        assert!(!s.insert_campaign(&again).await.unwrap(), "{}", b.name);
        let c = s.campaign("c1").await.unwrap().unwrap();
        assert_eq!(
            (c.name.as_str(), c.state),
            ("Campaign c1", CampaignState::Created)
        );
        // Transitions are compare-and-set.
        assert!(
            s.set_campaign_state("c1", CampaignState::Created, CampaignState::Running)
                .await
                .unwrap()
        );
        assert!(
            !s.set_campaign_state("c1", CampaignState::Created, CampaignState::Paused)
                .await
                .unwrap()
        );
        let mut settings = CampaignSettings::with_retries(5, 60.0);
        settings.time_zone = "Europe/Paris".into();
        settings.selection.include_tags = vec!["vip".into()];
        assert!(s.update_campaign("c1", "Renamed", &settings).await.unwrap());
        assert!(!s.update_campaign("nope", "x", &settings).await.unwrap());
        let c = s.campaign("c1").await.unwrap().unwrap();
        assert_eq!(c.settings, settings, "{}", b.name);
        assert_eq!(c.state, CampaignState::Running);
        assert_eq!(s.campaigns().await.unwrap().len(), 1);
    }
}

#[tokio::test]
async fn a_batch_maps_each_row_to_its_task_and_keys_are_idempotent() {
    for b in both().await {
        let s = &b.store;
        with_campaign(&b, "c").await;
        // More rows than one INSERT takes, some keyed, one key twice.
        let mut rows: Vec<NewTask> = (0..1203).map(|n| task("c", n)).collect();
        for (n, r) in rows.iter_mut().enumerate() {
            if n % 3 == 0 {
                r.idempotency_key = Some(format!("k{n}"));
            }
        }
        rows[900].idempotency_key = Some("k0".into());
        let added = s.add_tasks(&rows).await.unwrap();
        assert_eq!(added.len(), rows.len());
        assert_eq!(
            added.iter().filter(|a| a.created).count(),
            rows.len() - 1,
            "{}",
            b.name
        );
        assert!(!added[900].created);
        assert_eq!(
            added[900].id, added[0].id,
            "the same key names the same task"
        );
        for (i, a) in added.iter().enumerate().step_by(97) {
            let t = s.task(a.id).await.unwrap().unwrap();
            assert_eq!(
                t.customer_id,
                rows[if i == 900 { 0 } else { i }].customer_id,
                "{} row {i}",
                b.name
            );
        }
        // The same keys again: nothing new, the same ids.
        let keyed: Vec<NewTask> = rows
            .iter()
            .filter(|r| r.idempotency_key.is_some())
            .cloned()
            .collect();
        let again = s.add_tasks(&keyed).await.unwrap();
        assert!(again.iter().all(|a| !a.created), "{}", b.name);
        let ids: HashSet<i64> = again.iter().map(|a| a.id).collect();
        let first: HashSet<i64> = rows
            .iter()
            .zip(&added)
            .filter(|(r, _)| r.idempotency_key.is_some())
            .map(|(_, a)| a.id)
            .collect();
        assert_eq!(ids, first);
        assert_eq!(
            s.task_counts("c").await.unwrap().pending,
            rows.len() as u64 - 1
        );
    }
}

#[tokio::test]
async fn claims_follow_priority_due_time_and_the_selection() {
    for b in both().await {
        let s = &b.store;
        with_campaign(&b, "c").await;
        let mut rows = Vec::new();
        for (n, (prio, due, tags)) in [
            (0, 0, vec!["a"]),
            (5, 0, vec!["b"]),
            (9, i64::MAX / 2, vec!["a"]), // not due
            (5, 0, vec!["a", "vip"]),
            (1, 0, vec!["x_y"]),
        ]
        .into_iter()
        .enumerate()
        {
            let mut t = task("c", n);
            t.priority = prio;
            t.due_ms = due;
            t.tags = tags.into_iter().map(String::from).collect();
            rows.push(t);
        }
        let ids: Vec<i64> = s
            .add_tasks(&rows)
            .await
            .unwrap()
            .iter()
            .map(|a| a.id)
            .collect();
        let now = 1_000;
        // Tag selection: a substring of another tag does not match ("x"
        // is not "x_y"), and exclusions win.
        let mut f = filter("c");
        f.include_tags = vec!["x".into()];
        assert_eq!(
            s.claim_next_task(&f, now).await.unwrap(),
            None,
            "{}",
            b.name
        );
        f.include_tags = vec!["a".into()];
        f.exclude_tags = vec!["vip".into()];
        let t = s.claim_next_task(&f, now).await.unwrap().unwrap();
        assert_eq!(
            t.id, ids[0],
            "{}: the due task with tag a and not vip",
            b.name
        );
        assert_eq!((t.status, t.attempts), (TaskStatus::Dialing, 1));
        // Priority range.
        let mut f = filter("c");
        f.max_priority = Some(4);
        assert_eq!(
            s.claim_next_task(&f, now).await.unwrap().map(|t| t.id),
            Some(ids[4])
        );
        // The rest: highest priority first, the oldest of equals first.
        let f = filter("c");
        assert_eq!(
            s.claim_next_task(&f, now).await.unwrap().map(|t| t.id),
            Some(ids[1])
        );
        assert_eq!(
            s.claim_next_task(&f, now).await.unwrap().map(|t| t.id),
            Some(ids[3])
        );
        assert_eq!(s.claim_next_task(&f, now).await.unwrap(), None);
        assert_eq!(s.next_due_ms(&f).await.unwrap(), Some(i64::MAX / 2));
        // A deferral gives the attempt back and makes the task due then.
        s.finish_task(ids[1], TaskNext::Requeue(5_000), Some("outside_window"))
            .await
            .unwrap();
        let t = s.task(ids[1]).await.unwrap().unwrap();
        assert_eq!(
            (t.status, t.attempts, t.due_ms),
            (TaskStatus::Pending, 0, 5_000)
        );
        assert_eq!(s.claim_next_task(&f, 4_999).await.unwrap(), None);
        assert_eq!(
            s.claim_next_task(&f, 5_000).await.unwrap().map(|t| t.id),
            Some(ids[1])
        );
        s.finish_task(
            ids[3],
            TaskNext::Refused(TaskStatus::DoNotCall),
            Some("do_not_call"),
        )
        .await
        .unwrap();
        let t = s.task(ids[3]).await.unwrap().unwrap();
        assert_eq!((t.status, t.attempts), (TaskStatus::DoNotCall, 0));
    }
}

#[tokio::test]
async fn a_batch_claim_takes_the_queue_in_order_with_each_number_s_list() {
    for b in both().await {
        let s = &b.store;
        with_campaign(&b, "c").await;
        let mut rows: Vec<NewTask> = (0..10).map(|i| task("c", i)).collect();
        for (i, r) in rows.iter_mut().enumerate() {
            r.priority = (i % 3) as i64;
            r.due_ms = 100 - i as i64;
        }
        s.add_tasks(&rows).await.unwrap();
        s.add_dnc(&[
            DncEntry {
                phone: rows[2].phone.clone(),
                campaign_id: None,
                reason: None,
                added_ms: 1,
            },
            DncEntry {
                phone: rows[5].phone.clone(),
                campaign_id: None,
                reason: None,
                added_ms: 1,
            },
            DncEntry {
                phone: rows[5].phone.clone(),
                campaign_id: Some("c".into()),
                reason: None,
                added_ms: 1,
            },
            DncEntry {
                phone: rows[8].phone.clone(),
                campaign_id: Some("other".into()),
                reason: None,
                added_ms: 1,
            },
        ])
        .await
        .unwrap();
        // The queue's order: priority first, then the one due longest.
        let mut want: Vec<&NewTask> = rows.iter().collect();
        want.sort_by_key(|r| (std::cmp::Reverse(r.priority), r.due_ms));
        let first = s.claim_batch(&filter("c"), 1_000, 4).await.unwrap();
        let rest = s.claim_batch(&filter("c"), 1_000, 100).await.unwrap();
        assert_eq!((first.len(), rest.len()), (4, 6), "{}", b.name);
        let got: Vec<&str> = first
            .iter()
            .chain(&rest)
            .map(|(t, _)| t.phone.as_str())
            .collect();
        let want_phones: Vec<&str> = want.iter().map(|r| r.phone.as_str()).collect();
        assert_eq!(got, want_phones, "{}", b.name);
        for (t, hit) in first.iter().chain(&rest) {
            assert_eq!(t.status, TaskStatus::Dialing);
            let list = hit.as_ref().map(|e| e.campaign_id.clone());
            let expected = if t.phone == rows[2].phone {
                Some(None)
            } else if t.phone == rows[5].phone {
                // The campaign's own list before the global one.
                Some(Some("c".to_string()))
            } else {
                // Another campaign's list does not stop this one.
                None
            };
            assert_eq!(list, expected, "{}: {}", b.name, t.phone);
        }
        assert!(
            s.claim_batch(&filter("c"), 1_000, 4)
                .await
                .unwrap()
                .is_empty()
        );
    }
}

#[tokio::test]
async fn a_callback_waits_for_its_agent_then_goes_to_the_pool() {
    for b in both().await {
        let s = &b.store;
        with_campaign(&b, "c").await;
        let id = s.add_task(&task("c", 1)).await.unwrap().id;
        let claimed = s.claim_next_task(&filter("c"), 1).await.unwrap().unwrap();
        // Settled by a callback for agent a, at 1,000, a's alone until 5,000.
        s.finish_task(
            claimed.id,
            TaskNext::Callback {
                at_ms: 1_000,
                agent: Some(("a".into(), 5_000)),
            },
            Some("disposition:callback"),
        )
        .await
        .unwrap();
        let t = s.task(id).await.unwrap().unwrap();
        assert_eq!(
            (t.status, t.due_ms, t.agent_id.as_deref(), t.agent_until_ms),
            (TaskStatus::Pending, 1_000, Some("a"), Some(5_000)),
            "{}",
            b.name
        );
        let for_agents = |agents: &[&str]| ClaimFilter {
            agents: agents.iter().map(|a| a.to_string()).collect(),
            ..filter("c")
        };
        assert!(
            s.claim_batch(&for_agents(&["b"]), 2_000, 4)
                .await
                .unwrap()
                .is_empty()
        );
        // Another agent's claim rests the campaign until the grace is over.
        assert_eq!(
            s.next_due_ms(&for_agents(&["b"])).await.unwrap(),
            Some(5_000)
        );
        assert_eq!(
            s.next_due_ms(&for_agents(&["a"])).await.unwrap(),
            Some(1_000)
        );
        let got = s
            .claim_batch(&for_agents(&["b", "a"]), 2_000, 4)
            .await
            .unwrap();
        assert_eq!(got.len(), 1, "{}: its agent takes it", b.name);
        s.finish_task(
            id,
            TaskNext::Callback {
                at_ms: 1_000,
                agent: Some(("a".into(), 5_000)),
            },
            None,
        )
        .await
        .unwrap();
        let got = s.claim_batch(&for_agents(&["b"]), 5_000, 4).await.unwrap();
        assert_eq!(
            got.len(),
            1,
            "{}: after the grace, the pool takes it",
            b.name
        );
        // Any other settlement frees the task from its agent.
        s.finish_task(id, TaskNext::RetryAt(6_000), None)
            .await
            .unwrap();
        let t = s.task(id).await.unwrap().unwrap();
        assert_eq!((t.agent_id, t.agent_until_ms), (None, None), "{}", b.name);
    }
}

#[tokio::test]
async fn agents_serve_campaigns_and_dispositions_are_written_once() {
    for b in both().await {
        let s = &b.store;
        with_campaign(&b, "c").await;
        with_campaign(&b, "d").await;
        let mut a = Agent::of("a1", "Ana", "8001", "c");
        assert!(s.insert_agent(&a, "hash1").await.unwrap());
        assert!(
            !s.insert_agent(&a, "hash2").await.unwrap(),
            "{}: the id is taken",
            b.name
        );
        a.campaigns.push(Serves {
            campaign_id: "d".into(),
            priority: 9,
        });
        a.sort_campaigns();
        a.level = Some("senior".into());
        a.locale = Some("zh-CN".into());
        assert!(s.update_agent(&a).await.unwrap());
        let back = s.agent("a1").await.unwrap().unwrap();
        assert_eq!(back, a, "{}", b.name);
        assert_eq!(back.home(), "d");
        assert!(s.set_agent_token("a1", "hash3").await.unwrap());
        assert_eq!(s.agent_by_token_hash("hash1").await.unwrap(), None);
        assert_eq!(
            s.agent_by_token_hash("hash3").await.unwrap().map(|a| a.id),
            Some("a1".into())
        );
        assert!(
            !s.update_agent(&Agent::of("ghost", "g", "1", "c"))
                .await
                .unwrap()
        );

        let id = s.add_task(&task("c", 1)).await.unwrap().id;
        s.claim_next_task(&filter("c"), 1).await.unwrap().unwrap();
        let d = Disposition {
            call_id: "call-1".into(),
            task_id: id,
            campaign_id: "c".into(),
            agent_id: "a1".into(),
            code: "sale".into(),
            notes: Some("Zoë: wants the blue one".into()),
            callback_ms: None,
            at_ms: 42,
        };
        s.apply(&[
            Write::Disposition(d.clone()),
            Write::FinishTask {
                task_id: id,
                next: TaskNext::Done,
                cause: Some("disposition:sale".into()),
            },
        ])
        .await
        .unwrap();
        let mut again = d.clone();
        again.code = "retry".into();
        s.apply(&[Write::Disposition(again)]).await.unwrap();
        assert_eq!(
            s.disposition("call-1").await.unwrap(),
            Some(d),
            "{}: the first one stays",
            b.name
        );
        assert_eq!(s.task(id).await.unwrap().unwrap().status, TaskStatus::Done);
    }
}

#[tokio::test]
async fn several_claimers_never_take_one_task_twice() {
    for b in both().await {
        with_campaign(&b, "c").await;
        let n = 400;
        let rows: Vec<NewTask> = (0..n).map(|i| task("c", i)).collect();
        b.store.add_tasks(&rows).await.unwrap();
        let mut jobs = Vec::new();
        // Claimers one at a time beside claimers of batches, as the dialer's
        // jobs are.
        for k in 0..8usize {
            let store: Arc<dyn Store> = b.store.clone();
            jobs.push(tokio::spawn(async move {
                let mut got = Vec::new();
                loop {
                    let batch = store
                        .claim_batch(&filter("c"), 1, 1 + k % 4 * 3)
                        .await
                        .unwrap();
                    if batch.is_empty() {
                        break got;
                    }
                    got.extend(batch.into_iter().map(|(t, _)| t.id));
                }
            }));
        }
        let mut all = Vec::new();
        for j in jobs {
            all.extend(j.await.unwrap());
        }
        let unique: HashSet<i64> = all.iter().copied().collect();
        assert_eq!(all.len(), n, "{}: every task claimed once", b.name);
        assert_eq!(unique.len(), n, "{}: none twice", b.name);
    }
}

#[tokio::test]
async fn only_pending_tasks_change_and_lists_page_by_cursor() {
    for b in both().await {
        let s = &b.store;
        with_campaign(&b, "c").await;
        let mut rows: Vec<NewTask> = (0..25).map(|i| task("c", i)).collect();
        for (i, r) in rows.iter_mut().enumerate() {
            r.priority = (i % 5) as i64;
            r.tags = vec![if i % 2 == 0 { "even" } else { "odd" }.into()];
        }
        let ids: Vec<i64> = s
            .add_tasks(&rows)
            .await
            .unwrap()
            .iter()
            .map(|a| a.id)
            .collect();
        let patch = TaskPatch {
            priority: Some(77),
            tags: Some(vec!["moved".into()]),
            not_after_ms: Some(Some(9_999)),
            ..TaskPatch::default()
        };
        let t = s.patch_task(ids[0], &patch).await.unwrap().unwrap();
        assert_eq!(
            (t.priority, t.tags.clone(), t.not_after_ms),
            (77, vec!["moved".to_string()], Some(9_999))
        );
        let claimed = s.claim_next_task(&filter("c"), 1).await.unwrap().unwrap();
        assert_eq!(claimed.id, ids[0]);
        assert_eq!(
            s.patch_task(
                ids[0],
                &TaskPatch {
                    cancel: true,
                    ..TaskPatch::default()
                }
            )
            .await
            .unwrap(),
            Err(PatchRefused::NotChangeable(TaskStatus::Dialing)),
            "{}",
            b.name
        );
        assert_eq!(
            s.patch_task(999_999, &TaskPatch::default()).await.unwrap(),
            Err(PatchRefused::NotFound)
        );
        let t = s
            .patch_task(
                ids[1],
                &TaskPatch {
                    cancel: true,
                    ..TaskPatch::default()
                },
            )
            .await
            .unwrap()
            .unwrap();
        assert_eq!(t.status, TaskStatus::Cancelled);
        // Filters and pages of 4.
        let mut q = TaskQuery {
            campaign_id: Some("c".into()),
            tag: Some("even".into()),
            min_priority: Some(2),
            status: Some(TaskStatus::Pending),
            limit: 4,
            ..TaskQuery::default()
        };
        let mut seen = Vec::new();
        loop {
            let page = s.tasks(&q).await.unwrap();
            if page.is_empty() {
                break;
            }
            assert!(page.len() <= 4);
            q.after_id = page.last().unwrap().id;
            seen.extend(page);
        }
        let expected: Vec<i64> = (2..25)
            .filter(|i| i % 2 == 0 && i % 5 >= 2)
            .map(|i| ids[i])
            .collect();
        assert_eq!(
            seen.iter().map(|t| t.id).collect::<Vec<_>>(),
            expected,
            "{}",
            b.name
        );
    }
}

#[tokio::test]
async fn do_not_call_lists_and_the_decision_record() {
    for b in both().await {
        let s = &b.store;
        with_campaign(&b, "c").await;
        let entry = |phone: &str, campaign: Option<&str>| DncEntry {
            phone: phone.into(),
            campaign_id: campaign.map(String::from),
            reason: Some("asked".into()),
            added_ms: 5,
        };
        let added = s
            .add_dnc(&[
                entry("+12127360001", None),
                entry("+12127360002", Some("c")),
                entry("+12127360001", None),
            ])
            .await
            .unwrap();
        assert_eq!(added, 2, "{}", b.name);
        assert_eq!(
            s.dnc_match("+12127360001", "c")
                .await
                .unwrap()
                .map(|e| e.campaign_id),
            Some(None)
        );
        assert_eq!(
            s.dnc_match("+12127360002", "c")
                .await
                .unwrap()
                .map(|e| e.campaign_id),
            Some(Some("c".into()))
        );
        assert_eq!(s.dnc_match("+12127360002", "other").await.unwrap(), None);
        assert_eq!(s.dnc_list(None, "", 10).await.unwrap().len(), 1);
        // The claim reads the entry with the task, the campaign's first.
        s.add_task(&task("c", 2)).await.unwrap();
        let (t2, hit) = s.claim_next(&filter("c"), 1).await.unwrap().unwrap();
        assert_eq!(t2.phone, "+12127360002");
        assert_eq!(
            hit.map(|e| e.campaign_id),
            Some(Some("c".into())),
            "{}",
            b.name
        );
        s.finish_task(t2.id, TaskNext::Refused(TaskStatus::DoNotCall), None)
            .await
            .unwrap();
        assert!(s.remove_dnc("+12127360001", None).await.unwrap());
        assert!(!s.remove_dnc("+12127360001", None).await.unwrap());
        assert_eq!(s.dnc_match("+12127360001", "c").await.unwrap(), None);

        let id = s.add_task(&task("c", 1)).await.unwrap().id;
        let t = s.claim_next_task(&filter("c"), 1).await.unwrap().unwrap();
        let why = DialDecision {
            task_id: id,
            campaign_id: "c".into(),
            at_ms: 10,
            verdict: Verdict::Dial,
            reason: "eligible".into(),
            detail: None,
            call_id: Some("call-1".into()),
        };
        s.insert_attempt(&NewAttempt {
            call_id: "call-1".into(),
            task_id: t.id,
            agent_id: "a".into(),
            switch_name: "fs1".into(),
            originate_ms: 10,
        })
        .await
        .unwrap();
        let deferred = DialDecision {
            verdict: Verdict::Defer,
            reason: "outside_window".into(),
            detail: Some("opens 09:00".into()),
            call_id: None,
            at_ms: 20,
            ..why.clone()
        };
        s.apply(&[Write::Decision(deferred.clone())]).await.unwrap();
        assert_eq!(
            s.decisions_for_task(id).await.unwrap(),
            vec![why, deferred],
            "{}",
            b.name
        );
        assert_eq!(
            s.decision_counts("c", 0).await.unwrap(),
            vec![
                (Verdict::Defer, "outside_window".into(), 1),
                (Verdict::Dial, "eligible".into(), 1)
            ]
        );
    }
}

fn new_pop(
    n: usize,
    agent: &str,
    customer: &str,
    sent_ms: i64,
    trigger: dialpop::campaign::settings::PopTrigger,
) -> NewPop {
    NewPop {
        pop_id: format!("pop-{n}"),
        call_id: format!("call-{n}"),
        agent_id: agent.into(),
        customer_id: customer.into(),
        sent_ms,
        degraded: n % 2 == 1,
        template: "lab".into(),
        shown: vec!["name".into(), "tier".into()],
        trigger,
    }
}

#[tokio::test]
async fn the_pop_log_filters_and_pages_newest_first() {
    use dialpop::campaign::settings::PopTrigger;
    for b in both().await {
        let s = &b.store;
        with_campaign(&b, "c").await;
        with_campaign(&b, "d").await;
        // Six calls: agents a1/a2, campaigns c/d; the last one a ringing
        // pop whose call never answered.
        for n in 0..6 {
            let campaign = if n < 4 { "c" } else { "d" };
            let id = s.add_task(&task(campaign, n)).await.unwrap().id;
            s.insert_attempt(&NewAttempt {
                call_id: format!("call-{n}"),
                task_id: id,
                agent_id: if n % 3 == 0 { "a2" } else { "a1" }.into(),
                switch_name: "sw".into(),
                originate_ms: 1_000 * n as i64,
            })
            .await
            .unwrap();
            let agent = if n % 3 == 0 { "a2" } else { "a1" };
            let pop = new_pop(
                n,
                agent,
                &format!("cust{n}"),
                1_000 * n as i64 + 500,
                PopTrigger::Answer,
            );
            if n == 5 {
                let mut p = pop;
                p.trigger = PopTrigger::Ringing;
                s.apply(&[Write::Pop(p)]).await.unwrap();
            } else {
                s.apply(&[Write::Answer {
                    call_id: format!("call-{n}"),
                    at_ms: 1_000 * n as i64 + 400,
                    pop: Some(pop),
                }])
                .await
                .unwrap();
            }
        }
        assert!(s.pop_acked("pop-1", "a1", 2_000).await.unwrap());
        assert!(
            !s.pop_acked("pop-1", "a2", 2_000).await.unwrap(),
            "{}: only its agent acks",
            b.name
        );

        let all = PopQuery {
            since_ms: 0,
            until_ms: 10_000,
            limit: 100,
            ..PopQuery::default()
        };
        let ids = |v: Vec<PopRecord>| v.into_iter().map(|p| p.pop_id).collect::<Vec<_>>();
        assert_eq!(
            ids(s.pops(&all).await.unwrap()),
            ["pop-5", "pop-4", "pop-3", "pop-2", "pop-1", "pop-0"],
            "{}",
            b.name
        );
        let one = s.pop("pop-1").await.unwrap().unwrap();
        assert_eq!(
            (
                one.agent_id.as_str(),
                one.campaign_id.as_deref(),
                one.acked_ms,
                one.degraded,
                one.answered
            ),
            ("a1", Some("c"), Some(2_000), true, true),
            "{}",
            b.name
        );
        assert_eq!(one.shown, ["name", "tier"]);
        assert_eq!(one.template.as_deref(), Some("lab"));
        let ringing = s.pop("pop-5").await.unwrap().unwrap();
        assert_eq!(
            (ringing.trigger.as_deref(), ringing.answered),
            (Some("ringing"), false),
            "{}",
            b.name
        );
        assert_eq!(s.pop("pop-9").await.unwrap(), None);

        let q = |f: fn(&mut PopQuery)| {
            let mut q = all.clone();
            f(&mut q);
            q
        };
        assert_eq!(
            ids(s
                .pops(&q(|q| q.agent_id = Some("a2".into())))
                .await
                .unwrap()),
            ["pop-3", "pop-0"]
        );
        assert_eq!(
            ids(s
                .pops(&q(|q| q.campaign_id = Some("d".into())))
                .await
                .unwrap()),
            ["pop-5", "pop-4"]
        );
        assert_eq!(
            ids(s
                .pops(&q(|q| q.customer_id = Some("cust2".into())))
                .await
                .unwrap()),
            ["pop-2"]
        );
        assert_eq!(
            ids(s.pops(&q(|q| q.degraded = Some(true))).await.unwrap()),
            ["pop-5", "pop-3", "pop-1"]
        );
        assert_eq!(
            ids(s.pops(&q(|q| q.acked = Some(true))).await.unwrap()),
            ["pop-1"]
        );
        assert_eq!(
            ids(s
                .pops(&q(|q| {
                    q.since_ms = 2_000;
                    q.until_ms = 4_000;
                }))
                .await
                .unwrap()),
            ["pop-3", "pop-2"]
        );
        // Pages of two, each after the last of the one before.
        let mut seen = Vec::new();
        let mut page = q(|q| q.limit = 2);
        loop {
            let got = s.pops(&page).await.unwrap();
            let Some(last) = got.last() else { break };
            page.before = Some((last.sent_ms, last.pop_id.clone()));
            seen.extend(ids(got));
        }
        assert_eq!(
            seen,
            ["pop-5", "pop-4", "pop-3", "pop-2", "pop-1", "pop-0"],
            "{}",
            b.name
        );
        // A value that looks like SQL is only a value.
        assert!(
            s.pops(&q(|q| q.agent_id = Some("a1' OR '1'='1".into())))
                .await
                .unwrap()
                .is_empty()
        );
    }
}

#[tokio::test]
async fn a_customer_s_finished_calls_page_newest_first_with_their_campaign() {
    for b in both().await {
        let s = &b.store;
        with_campaign(&b, "c").await;
        let id = s.add_task(&task("c", 7)).await.unwrap().id;
        for n in 0..3 {
            s.insert_attempt(&NewAttempt {
                call_id: format!("past-{n}"),
                task_id: id,
                agent_id: "a1".into(),
                switch_name: "sw".into(),
                originate_ms: 10_000 * (n + 1),
            })
            .await
            .unwrap();
        }
        // Two finished, one still up: only finished calls are history.
        s.record_answer("past-0", 10_500, None).await.unwrap();
        s.close_attempt("past-0", 70_500, "answered", Some("NORMAL_CLEARING"))
            .await
            .unwrap();
        s.close_attempt("past-1", 25_000, "failed", Some("NO_ANSWER"))
            .await
            .unwrap();
        let page = s.customer_calls("cust7", 10, 0).await.unwrap();
        let got: Vec<_> = page
            .iter()
            .map(|(a, c)| (a.call_id.as_str(), c.as_str(), a.outcome.as_deref()))
            .collect();
        assert_eq!(
            got,
            [
                ("past-1", "c", Some("failed")),
                ("past-0", "c", Some("answered"))
            ],
            "{}",
            b.name
        );
        assert_eq!(page[1].0.answer_ms, Some(10_500), "{}", b.name);
        let second = s.customer_calls("cust7", 1, 1).await.unwrap();
        assert_eq!(second.len(), 1, "{}", b.name);
        assert_eq!(second[0].0.call_id, "past-0", "{}", b.name);
        assert!(s.customer_calls("cust8", 10, 0).await.unwrap().is_empty());
    }
}

#[tokio::test]
async fn the_cap_window_counts_people_and_abandons_of_calls_ended_in_it() {
    for b in both().await {
        let s = &b.store;
        with_campaign(&b, "c").await;
        with_campaign(&b, "other").await;
        let mine = s.add_task(&task("c", 1)).await.unwrap().id;
        let theirs = s.add_task(&task("other", 2)).await.unwrap().id;
        // (task, ended at, outcome): only people count, and only calls that
        // ended in the window; another campaign's are not this one's.
        let calls = [
            (mine, 5_000, "abandoned"),
            (mine, 20_000, "answered"),
            (mine, 21_000, "abandoned"),
            (mine, 22_000, "answered"),
            (mine, 23_000, "machine"),
            (mine, 24_000, "no_answer"),
            (mine, 25_000, "busy"),
            (theirs, 26_000, "abandoned"),
            // Across the store's hourly tally: the hour a window starts in
            // is counted from the calls themselves.
            (mine, 3_000_000, "answered"),
            (mine, 3_700_000, "abandoned"),
            (mine, 7_300_000, "answered"),
        ];
        for (n, (task_id, end, outcome)) in calls.iter().enumerate() {
            let call_id = format!("cap-{n}");
            s.insert_attempt(&NewAttempt {
                call_id: call_id.clone(),
                task_id: *task_id,
                agent_id: String::new(),
                switch_name: "sw".into(),
                originate_ms: end - 1_000,
            })
            .await
            .unwrap();
            s.close_attempt(&call_id, *end, outcome, None)
                .await
                .unwrap();
        }
        // One still up is nobody yet.
        s.insert_attempt(&NewAttempt {
            call_id: "cap-up".into(),
            task_id: mine,
            agent_id: String::new(),
            switch_name: "sw".into(),
            originate_ms: 30_000,
        })
        .await
        .unwrap();
        // A second close of a call is no second person.
        s.close_attempt("cap-0", 8_000_000, "answered", None)
            .await
            .unwrap();
        for (since, want) in [
            (10_000, (6, 2)),
            (0, (7, 3)),
            (3_000_000, (3, 1)),
            (3_000_001, (2, 1)),
            (3_600_000, (2, 1)),
            (3_700_001, (1, 0)),
            (7_300_001, (0, 0)),
        ] {
            assert_eq!(
                s.abandon_counts("c", since).await.unwrap(),
                want,
                "{} since {since}",
                b.name
            );
        }
        assert_eq!(
            s.abandon_counts("other", 0).await.unwrap(),
            (1, 1),
            "{}",
            b.name
        );
        assert_eq!(
            s.abandon_counts("none", 0).await.unwrap(),
            (0, 0),
            "{}",
            b.name
        );
    }
}
