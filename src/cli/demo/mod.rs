//! `dialpop demo`: the daemon, the simulated FreeSWITCH on loopback and a
//! fresh SQLite database seeded with customers, agents and a campaign.
//! Interactive, it prints the agent page's URL and tokens and dials until
//! Ctrl-C; with `--exit-when-done`, simulated agents (real WebSocket clients)
//! work the campaign to its end and a report is printed.

mod options;
mod report;
pub mod scenario;
mod seed;
mod setup;
pub mod study;

use super::agents::simulated_agent;
use super::process_stats::{current_rss_mb, process_figures};
use crate::customer::standin::{CrmStandin, StandinAuth, StandinConfig, StandinCustomer};
use crate::daemon::{Daemon, DaemonSetup};
use crate::dialer::{DialPlan, SwitchPlan};
use crate::store::token_hash;
use crate::switch::esl::client::EslClientConfig;
use crate::switch::sim::{SimConfig, SimSwitch};
use rand::{RngExt, SeedableRng};
use seed::{CAMPAIGN, seed, token};
use std::sync::Arc;
use std::time::{Duration, Instant};

pub use options::DemoOptions;
pub use report::{CrmReport, DemoReport, LatencyMs, ScenarioReport, double_dialed};
use setup::{crm_sources, set_up_scenario, warm};

pub async fn run(opts: DemoOptions) -> anyhow::Result<Option<DemoReport>> {
    let db = std::env::temp_dir().join(format!(
        "dialpop-demo-{}-{}.db",
        std::process::id(),
        opts.seed
    ));
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", db.display()));
    }
    let store = crate::store::open(&format!("sqlite://{}", db.display())).await?;
    let mut agents = seed(&store, &opts).await?;
    if opts.scenario.is_some() && opts.crm_latency_ms.is_some() {
        anyhow::bail!("--scenario and --crm-latency-ms: a scenario brings its own sources");
    }
    let scenario_db =
        db.with_extension(format!("{}.db", opts.scenario.map_or("none", |s| s.name())));
    let scenario_sources = match opts.scenario {
        None => None,
        Some(s) => Some(set_up_scenario(s, &store, &scenario_db, &mut agents, &opts).await?),
    };
    if let Some(d) = &opts.dial {
        let mut campaign = store
            .campaign(CAMPAIGN)
            .await?
            .ok_or_else(|| anyhow::anyhow!("the demo campaign is missing"))?;
        study::apply(&mut campaign.settings, d, opts.speed);
        campaign
            .settings
            .validate()
            .map_err(|e| anyhow::anyhow!("--dial-mode: {e}"))?;
        store
            .update_campaign(CAMPAIGN, &campaign.name, &campaign.settings)
            .await?;
    }
    let mut rng = rand::rngs::StdRng::seed_from_u64(opts.seed ^ 0xc0ffee);
    let crm = match opts.crm_latency_ms {
        None => None,
        Some(ms) => {
            let secret = token(&mut rng);
            let standin = CrmStandin::start(StandinConfig {
                auth: StandinAuth::OAuth {
                    client_id: "dialpop-demo".into(),
                    client_secret: secret.clone(),
                },
                latency: Duration::from_millis(ms),
                ..StandinConfig::default()
            })
            .await?;
            for i in 0..opts.customers {
                let id = format!("c{i:06}");
                let Some(c) = store.customer(&id).await? else {
                    continue;
                };
                standin.put_customer(StandinCustomer {
                    id: c.id,
                    name: c.name,
                    phone: c.phone,
                    email: c.email.unwrap_or_default(),
                    tier: ["bronze", "silver", "gold", "platinum"][rng.random_range(0..4usize)]
                        .into(),
                    vip: c.vip,
                    balance: format!(
                        "{}.{:02}",
                        rng.random_range(0..5000u32),
                        rng.random_range(0..100u32)
                    ),
                    since: format!(
                        "20{:02}-{:02}-01T09:00:00Z",
                        rng.random_range(10..26u32),
                        rng.random_range(1..13u32)
                    ),
                    orders: rng.random_range(0..40usize),
                });
            }
            let sources = crm_sources(&standin)?;
            Some((standin, sources, ms))
        }
    };

    let sim = SimSwitch::start(SimConfig {
        protocol: opts.protocol,
        seed: opts.seed,
        speed: opts.speed,
        // Counts only: the report needs no more, and memory stays flat.
        keep_originates: false,
        scenario: match &opts.dial {
            Some(_) => crate::switch::sim::Scenario::from_toml(study::SCENARIO)
                .map_err(|e| anyhow::anyhow!("the study's scenario: {e}"))?,
            None => crate::switch::sim::Scenario::default(),
        },
        ..SimConfig::default()
    })
    .await?;
    let api_token = token(&mut rand::rngs::StdRng::seed_from_u64(opts.seed ^ 0x5eed));
    let defaults = SimConfig::default();
    let addr = sim.local_addr().to_string();
    // The same campaign on either switch: only the connection and the dial
    // strings differ.
    let (switch, customer_dial, agent_dial) = match opts.protocol {
        crate::switch::sim::SimProtocol::Esl => {
            let mut esl = EslClientConfig::new(addr, defaults.password);
            esl.event_queue = 64 * 1024;
            (
                crate::daemon::SwitchConnect::Esl(esl),
                "sofia/gateway/{gateway}/{phone}",
                "user/{extension}",
            )
        }
        crate::switch::sim::SimProtocol::Ami => {
            let mut ami = crate::switch::ami::client::AmiClientConfig::new(
                addr,
                defaults.ami_username,
                defaults.password,
            );
            ami.event_queue = 64 * 1024;
            (
                crate::daemon::SwitchConnect::Ami(ami),
                "Local/{phone}@customers",
                "PJSIP/{extension}",
            )
        }
    };
    let setup = DaemonSetup {
        store: store.clone(),
        listen: opts.listen,
        api_token_sha256: token_hash(&api_token),
        switches: vec![switch],
        plan: DialPlan {
            switches: vec![SwitchPlan {
                name: "sim".into(),
                customer_dial_string: customer_dial.into(),
                gateway: "demo".into(),
                agent_dial_string: agent_dial.into(),
                connect_extension: "dialpop_connect".into(),
                connect_context: "dialpop".into(),
                caller_id_number: Some("+15550100".into()),
                caller_id_name: Some("dialpop demo".into()),
                // Power and predictive have more calls up than agents.
                max_calls: opts.agents.max(1)
                    * opts
                        .dial
                        .as_ref()
                        .map_or(1, |d| d.lines_per_agent.unwrap_or(3.0).ceil() as usize + 1),
                originates_per_second: opts.originates_per_second,
            }],
            ring_timeout: Duration::from_secs(30),
            max_originates_per_second: None,
            // Compressed with the clock, as the study's limits are; tokio's
            // timers go no finer than a millisecond.
            pacing_round: crate::dialer::PACING_ROUND
                .div_f64(opts.speed.max(1.0))
                .max(Duration::from_millis(1)),
            wrap_up: Duration::from_secs_f64(10.0 / opts.speed),
        },
        customer: crate::customer::config::CustomerConfig {
            preload: opts.preload,
            // Room for every customer's record and history page.
            cache_max_entries: (opts.customers as u64 * 4).max(100_000),
            precedence: crm
                .iter()
                .map(|_| ("tier".to_string(), vec!["crm".to_string()]))
                .collect(),
            ..Default::default()
        },
        sources: match &scenario_sources {
            Some(s) => s.clone(),
            None => crm.as_ref().map(|c| c.1.clone()).unwrap_or_default(),
        },
        monitor: Default::default(),
        // The demo's agents all sign in at once from loopback: room for
        // each of them (the default would make most wait and retry).
        limits: crate::api::guard::Limits {
            unauthenticated_sockets: opts.agents + 16,
            ..Default::default()
        },
        tls: None,
        cluster: None,
    };
    let started = Instant::now();
    let daemon = Daemon::start(setup).await?;
    let page = format!("http://{}/agent", daemon.addr);
    let ws_url = format!("ws://{}/ws/agent", daemon.addr);

    if !opts.exit_when_done {
        let which = match opts.protocol {
            crate::switch::sim::SimProtocol::Esl => "FreeSWITCH (ESL)",
            crate::switch::sim::SimProtocol::Ami => "Asterisk (AMI)",
        };
        println!(
            "dialpop demo: {} customers, {} agents, simulated {which} at {}",
            opts.customers,
            opts.agents,
            sim.local_addr()
        );
        println!("database: {}", db.display());
        if let Some(s) = opts.scenario {
            println!(
                "scenario {0}: the customer data in {1} (schema config/scenarios/{0}.sql), mapped by config/scenarios/{0}.toml, drawn by config/templates/{0}.json; agents alternate novice and senior, in Chinese",
                s.name(),
                scenario_db.display()
            );
        }
        println!("agent page: {page}");
        println!("API token (Bearer): {api_token}");
        for (a, t) in agents.iter().take(10) {
            println!("  {:<10} ext {}  token {t}  {}", a.id, a.extension, a.name);
        }
        if agents.len() > 10 {
            println!("  … {} more agents", agents.len() - 10);
        }
        println!(
            "Sign in on the agent page with a token; calls start as soon as an agent is available. Ctrl-C stops."
        );
        println!(
            "One customer in fifty is on the do-not-call list (GET /api/dnc); campaign \"evening\" shows calling windows (GET /api/outbound/tasks?campaign=evening)."
        );
        tokio::signal::ctrl_c().await?;
        daemon.stop().await;
        sim.shutdown().await;
        return Ok(None);
    }

    if opts.warm_cache {
        warm(&daemon, &store, opts.customers).await?;
    }
    let cache_entries = daemon.customers.cached_entries().await;
    let rss_before_agents_mb = current_rss_mb();
    let stop = tokio_util::sync::CancellationToken::new();
    let tally = Arc::new(super::agents::PopTally::new(opts.scenario.is_some()));
    let mut workers = Vec::new();
    let mut started = started;
    let mut rss_signed_in_mb = 0.0;
    if let Some(path) = &opts.external_agents {
        let lines: String = agents
            .iter()
            .map(|(a, t)| format!("{} {t}\n", a.id))
            .collect();
        let tmp = path.with_extension("tmp");
        std::fs::write(&tmp, lines)?;
        std::fs::rename(&tmp, path)?;
        // The campaign's clock starts when every agent has signed in.
        let deadline = Instant::now() + Duration::from_secs(120);
        loop {
            let snap = daemon.dialer.snapshot().await;
            let out = snap.as_ref().map_or(usize::MAX, |s| {
                s.agent_counts.get("logged_out").copied().unwrap_or(0)
            });
            if out == 0 {
                break;
            }
            if Instant::now() > deadline {
                anyhow::bail!("{out} external agents did not sign in within 120 s");
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        started = Instant::now();
        rss_signed_in_mb = current_rss_mb();
    } else {
        for (_, t) in &agents {
            // The study's agents take nearly the whole wrap-up (their
            // disposition must reach the daemon before its timer ends it).
            let wrap = match &opts.dial {
                Some(_) => Duration::from_secs_f64(0.95 * study::WRAP_UP_S / opts.speed),
                None => Duration::from_secs_f64((2.0 / opts.speed).min(0.2)),
            };
            workers.push(tokio::spawn(simulated_agent(
                ws_url.clone(),
                t.clone(),
                wrap,
                stop.clone(),
                tally.clone(),
            )));
        }
    }
    let cpu_at_start = process_figures().1;
    let mut max_live_calls = 0;
    let mut rss_at_max_live_mb = 0.0;
    let mut sampler = study::Sampler::default();
    let stop_after = opts
        .dial
        .as_ref()
        .and_then(|d| d.minutes)
        .map(|m| Duration::from_secs_f64(m * 60.0 / opts.speed));
    let mut stopped: Option<(Instant, crate::dialer::agents::AgentTime)> = None;
    // Work until no task is pending or being dialed (or, with --minutes,
    // until dialing stopped and the last call ended).
    loop {
        tokio::time::sleep(Duration::from_millis(100)).await;
        let snap = daemon.dialer.snapshot().await;
        if let Some(s) = &snap {
            sampler.sample(
                started.elapsed().as_secs_f64() * opts.speed,
                s,
                CAMPAIGN,
                opts.agents,
            );
        }
        if let (Some(after), None, Some(s)) = (stop_after, &stopped, &snap)
            && started.elapsed() >= after
        {
            stopped = Some((Instant::now(), s.agent_time));
            store
                .set_campaign_state(
                    CAMPAIGN,
                    crate::campaign::CampaignState::Running,
                    crate::campaign::CampaignState::Paused,
                )
                .await?;
            daemon.dialer.campaign_changed(CAMPAIGN).await;
        }
        let counts = store.task_counts(CAMPAIGN).await?;
        if counts.pending == 0 && counts.dialing == 0 {
            break;
        }
        if stopped.is_some() && snap.as_ref().is_some_and(|s| s.live_calls == 0) {
            break;
        }
        if let Some(s) = &snap
            && s.live_calls > max_live_calls
        {
            max_live_calls = s.live_calls;
            rss_at_max_live_mb = current_rss_mb();
        }
        if !workers.is_empty() && workers.iter().all(|w| w.is_finished()) {
            let mut why = String::new();
            for w in workers.drain(..) {
                if let Ok(Err(e)) = w.await {
                    why = e.to_string();
                }
            }
            anyhow::bail!("every simulated agent stopped (the last said: {why})");
        }
    }
    let wall = started.elapsed();
    let dialing_time = stopped.map_or(wall, |(at, _)| at.duration_since(started));
    let campaign_cpu_s = process_figures().1 - cpu_at_start;
    // Let the last pops reach their pages and come back acknowledged.
    let settle = Instant::now() + Duration::from_secs(5);
    while Instant::now() < settle {
        let (delivered, acked, ..) = daemon.hub.stats.summary();
        let live = daemon.dialer.snapshot().await.map_or(0, |s| s.live_calls);
        if live == 0 && delivered == acked {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    stop.cancel();
    for w in workers {
        if let Ok(Err(e)) = w.await {
            tracing::warn!(error = %e, "a simulated agent failed");
        }
    }
    let snap = daemon
        .dialer
        .snapshot()
        .await
        .ok_or_else(|| anyhow::anyhow!("dialer stopped"))?;
    let (delivered, acked, p50, p99, max) = daemon.hub.stats.summary();
    daemon.writer.flush().await;
    let writes_failed = daemon.writer.stats().failed;
    let counts = store.task_counts(CAMPAIGN).await?;
    let double_dialed = double_dialed(&sim, &store).await?;
    daemon.stop().await;
    sim.shutdown().await;
    let crm = match crm {
        Some((standin, _, ms)) => {
            let r = CrmReport {
                latency_ms: ms,
                requests: standin.api_requests(),
                token_requests: standin.token_requests(),
            };
            standin.shutdown().await;
            Some(r)
        }
        None => None,
    };
    let refused_do_not_call = store
        .decision_counts(CAMPAIGN, 0)
        .await?
        .into_iter()
        .filter(|(v, reason, _)| *v == crate::store::Verdict::Refuse && reason == "do_not_call")
        .map(|(_, _, n)| n)
        .sum();
    let dispositions = store
        .disposition_counts(CAMPAIGN, 0)
        .await?
        .into_iter()
        .collect();
    if std::env::var_os("DIALPOP_DEMO_KEEP_DB").is_none() {
        for file in [&db, &scenario_db] {
            for suffix in ["", "-wal", "-shm"] {
                let _ = std::fs::remove_file(format!("{}{suffix}", file.display()));
            }
        }
    }
    let study = opts.dial.as_ref().map(|d| {
        let end = stopped.map_or(snap.agent_time, |(_, t)| t);
        sampler.figures(
            d,
            &snap,
            CAMPAIGN,
            end,
            opts.speed,
            dialing_time.as_secs_f64() * opts.speed / 60.0,
        )
    });
    let s = snap.stats;
    Ok(Some(DemoReport {
        calls: s.calls,
        answered: s.answered,
        busy: s.busy,
        no_answer: s.no_answer,
        failed: s.failed,
        vanished: s.vanished,
        not_placed: s.not_placed,
        pops_delivered: delivered,
        pops_acked: acked,
        writes_failed,
        pop_latency_ms: LatencyMs { p50, p99, max },
        double_dialed,
        tasks_left: counts.pending + counts.dialing,
        refused_do_not_call,
        dispositions,
        wall_s: wall.as_secs_f64(),
        calls_per_s: s.calls as f64 / wall.as_secs_f64().max(1e-9),
        pops_degraded: tally.degraded(),
        answers_per_s: s.answered as f64 / wall.as_secs_f64().max(1e-9),
        max_live_calls,
        rss_at_max_live_mb,
        cache_entries,
        rss_before_agents_mb,
        rss_signed_in_mb,
        peak_rss_mb: process_figures().0,
        cpu_s: process_figures().1,
        campaign_cpu_s,
        preload: opts.preload,
        crm,
        scenario: opts.scenario.map(|s| ScenarioReport {
            name: s.name(),
            blocks_shown: tally.blocks(),
            fallbacks: tally.fallbacks(),
        }),
        study,
    }))
}
