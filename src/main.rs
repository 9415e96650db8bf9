// The binary's own modules live under main/, apart from the library's
// modules beside this file.
#[path = "main/args.rs"]
mod args;
#[path = "main/runners.rs"]
mod runners;

use args::{Cli, Command, DncAction, TaskAction};
use clap::Parser;
use dialpop::cli::client;
use dialpop::cli::decode::Protocol;
use dialpop::cli::demo::{self, DemoOptions};
use dialpop::cli::simswitch::{self, SimswitchArgs};
use runners::{run_async, run_decode, run_import, run_source, shutdown_signal};
use std::net::SocketAddr;
use std::process::ExitCode;

fn main() -> ExitCode {
    let cli = Cli::parse();
    dialpop::cli::logging::choose(cli.log_format);
    dialpop::redact::allow_customer_data(cli.log_customer_data);
    match cli.command {
        Command::Decode { protocol, file } => run_decode(protocol, &file),
        Command::Simswitch {
            protocol,
            listen,
            password,
            username,
            scenario,
            seed,
            speed,
        } => run_async(
            "simswitch",
            "info",
            simswitch::run(SimswitchArgs {
                protocol: match protocol {
                    Protocol::Esl => dialpop::switch::sim::SimProtocol::Esl,
                    Protocol::Ami => dialpop::switch::sim::SimProtocol::Ami,
                },
                listen,
                password,
                username,
                scenario,
                seed,
                speed,
            }),
        ),
        Command::Serve { config } => run_async("serve", "info", async move {
            let cfg = dialpop::config::Config::load(&config)?;
            let setup = dialpop::daemon::setup_from_config(&cfg).await?;
            let daemon = dialpop::daemon::Daemon::start(setup).await?;
            shutdown_signal().await;
            let drain = std::time::Duration::from_secs(cfg.dialer.drain_seconds);
            tracing::info!(
                drain_seconds = cfg.dialer.drain_seconds,
                "stopping: no new calls; calls in progress may finish"
            );
            let left = daemon.shutdown(drain).await;
            tracing::info!(calls_left = left, "stopped");
            Ok(())
        }),
        Command::Source { action } => run_source(action),
        Command::Campaign(cmd) => client::campaign(cmd),
        Command::Agent(cmd) => client::agent(cmd),
        Command::Cluster(cmd) => client::cluster(cmd),
        Command::Task { remote, action } => match action {
            TaskAction::Client(cmd) => client::task(&remote, cmd),
            TaskAction::Import { file, campaign, .. } if remote.server.is_some() => {
                client::task_import(&remote, &file, &campaign)
            }
            TaskAction::Import {
                file,
                campaign,
                config,
            } => run_import("task import", async move {
                let mut out = std::io::stdout().lock();
                dialpop::cli::import::tasks(&config, &file, &campaign, remote.json, &mut out).await
            }),
        },
        Command::Dnc { remote, action } => match action {
            DncAction::Client(cmd) => client::dnc(&remote, cmd),
            DncAction::Import {
                file,
                campaign,
                region,
                ..
            } if remote.server.is_some() => {
                client::dnc_import(&remote, &file, campaign.as_deref(), region.as_deref())
            }
            DncAction::Import {
                file,
                campaign,
                region,
                config,
            } => run_import("dnc import", async move {
                let mut out = std::io::stdout().lock();
                let region = region.as_deref().unwrap_or("US");
                dialpop::cli::import::dnc(
                    &config,
                    &file,
                    campaign.as_deref(),
                    region,
                    remote.json,
                    &mut out,
                )
                .await
            }),
        },
        Command::BenchSchedule {
            rows,
            small_queue,
            claims,
        } => run_async("bench-schedule", "warn", async move {
            dialpop::cli::bench_schedule::run(
                rows,
                small_queue,
                claims,
                &mut std::io::stdout().lock(),
            )
            .await
        }),
        Command::BenchAgents {
            url,
            tokens,
            wrap_ms,
        } => run_async("bench-agents", "warn", async move {
            dialpop::cli::bench::agents(&url, &tokens, std::time::Duration::from_millis(wrap_ms))
                .await
        }),
        Command::BenchFloor {
            listen,
            connections,
            rate,
            seconds,
            tokens,
        } => run_async("bench-floor", "warn", async move {
            if !(rate.is_finite() && rate > 0.0 && seconds.is_finite() && seconds > 0.0) {
                anyhow::bail!("--rate and --seconds must be positive numbers");
            }
            dialpop::cli::bench::floor(dialpop::cli::bench::FloorOptions {
                listen,
                connections,
                rate,
                seconds,
                tokens,
            })
            .await
        }),
        Command::Demo {
            protocol,
            agents,
            customers,
            seed,
            speed,
            exit_when_done,
            report,
            listen,
            crm_latency_ms,
            no_preload,
            tasks,
            warm_cache,
            originates_per_second,
            external_agents,
            scenario,
            dial_mode,
            lines_per_agent,
            minutes,
        } => {
            let listen = if exit_when_done && listen.port() == 8080 {
                SocketAddr::from(([127, 0, 0, 1], 0))
            } else {
                listen
            };
            let opts = DemoOptions {
                agents: agents.max(1),
                customers,
                seed,
                speed: if speed > 0.0 { speed } else { 1.0 },
                exit_when_done,
                report_json: report.is_some(),
                listen,
                protocol: match protocol {
                    Protocol::Esl => dialpop::switch::sim::SimProtocol::Esl,
                    Protocol::Ami => dialpop::switch::sim::SimProtocol::Ami,
                },
                crm_latency_ms,
                preload: !no_preload,
                tasks,
                warm_cache,
                originates_per_second,
                external_agents,
                scenario,
                dial: dial_mode.map(|mode| demo::study::DialOptions {
                    mode,
                    lines_per_agent,
                    minutes,
                }),
            };
            run_async("demo", "warn", async move {
                if !(0.01..=100_000.0).contains(&opts.originates_per_second) {
                    anyhow::bail!(
                        "--originates-per-second {}: must be a number from 0.01 to 100000",
                        opts.originates_per_second
                    );
                }
                if let Some(l) = opts.dial.as_ref().and_then(|d| d.lines_per_agent)
                    && !(1.0..=dialpop::campaign::dialing::MAX_LINES_PER_AGENT).contains(&l)
                {
                    anyhow::bail!("--lines-per-agent {l}: must be a number from 1 to 10");
                }
                if let Some(m) = opts.dial.as_ref().and_then(|d| d.minutes)
                    && !(m.is_finite() && m > 0.0)
                {
                    anyhow::bail!("--minutes {m}: must be a number above 0");
                }
                if let Some(report) = demo::run(opts.clone()).await? {
                    if opts.report_json {
                        println!("{}", serde_json::to_string(&report)?);
                    } else {
                        println!("{}", serde_json::to_string_pretty(&report)?);
                    }
                }
                Ok(())
            })
        }
    }
}
