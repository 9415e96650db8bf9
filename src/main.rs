use clap::{Parser, Subcommand};
use dialpop::cli::client::{self, Remote};
use dialpop::cli::decode::{self, Protocol};
use dialpop::cli::demo::{self, DemoOptions};
use dialpop::cli::simswitch::{self, SimswitchArgs};
use dialpop::cli::source;
use std::io::Read;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Parser)]
#[command(
    name = "dialpop",
    version,
    about = "Dialer and screen pops beside a FreeSWITCH or Asterisk PBX"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
    /// Log lines as text (coloured only on a terminal) or as JSON, one
    /// object per line; always on stderr.
    #[arg(
        long,
        global = true,
        value_enum,
        default_value = "text",
        env = "DIALPOP_LOG_FORMAT"
    )]
    log_format: dialpop::cli::logging::LogFormat,
    /// Write customers' numbers into call log lines (debugging with the
    /// operator's consent only; the log says so at startup). Off: no
    /// customer personal data at any level.
    #[arg(long, global = true, env = "DIALPOP_LOG_CUSTOMER_DATA")]
    log_customer_data: bool,
}

#[derive(Subcommand)]
enum Command {
    /// Decode a raw capture of what a switch sent: one JSON object per frame.
    Decode {
        #[arg(long, value_enum)]
        protocol: Protocol,
        /// The capture file, or - for standard input.
        #[arg(default_value = "-")]
        file: PathBuf,
    },
    /// The simulated switch alone (for tests, load tests, trying dialpop).
    Simswitch {
        #[arg(long, value_enum)]
        protocol: Protocol,
        /// Address to listen on, e.g. 127.0.0.1:8021.
        #[arg(long)]
        listen: SocketAddr,
        /// The ESL password, or the AMI user's secret.
        #[arg(long, default_value = "ClueCon")]
        password: String,
        /// The AMI user (--protocol ami).
        #[arg(long, default_value = "dialpop")]
        username: String,
        /// Scenario file (TOML); the lab's default scenario without one.
        #[arg(long)]
        scenario: Option<PathBuf>,
        /// Same seed, same outcomes.
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// Divides ring, talk and timeout times.
        #[arg(long, default_value_t = 1.0)]
        speed: f64,
    },
    /// The daemon, with the switch, store and HTTP settings of a config file.
    Serve {
        #[arg(long)]
        config: PathBuf,
    },
    /// Campaigns on a running daemon (--server): list, show, create,
    /// update, start, pause, resume, stop, stats.
    #[command(after_help = client::EXIT_CODES)]
    Campaign(client::CampaignCmd),
    /// Agents on a running daemon (--server): list, show, create (prints
    /// the token once), update, token, pause, resume.
    #[command(after_help = client::EXIT_CODES)]
    Agent(client::AgentCmd),
    /// Tasks on a running daemon (--server): add, list, show, update,
    /// cancel, import; `import` without --server works on the configured
    /// store directly.
    #[command(after_help = client::EXIT_CODES)]
    Task {
        #[command(flatten)]
        remote: Remote,
        #[command(subcommand)]
        action: TaskAction,
    },
    /// Do-not-call lists on a running daemon (--server): add, remove, list,
    /// import; `import` without --server works on the configured store.
    #[command(after_help = client::EXIT_CODES)]
    Dnc {
        #[command(flatten)]
        remote: Remote,
        #[command(subcommand)]
        action: DncAction,
    },
    /// Benchmark of the scheduling layer: CSV import rows/s and peak
    /// memory against parsing alone; claim time with a small queue against
    /// a large one. Prints JSON.
    BenchSchedule {
        #[arg(long, default_value_t = 1_000_000)]
        rows: u64,
        #[arg(long, default_value_t = 10_000)]
        small_queue: u64,
        #[arg(long, default_value_t = 5_000)]
        claims: u64,
    },
    /// Customer sources: list them, or test one with a real request.
    Source {
        #[command(subcommand)]
        action: SourceAction,
    },
    /// Everything in one process: the daemon, the simulated switch, and a
    /// fresh SQLite database with sample customers, agents and a campaign.
    Demo {
        #[arg(long, value_enum, default_value = "esl")]
        protocol: Protocol,
        #[arg(long, default_value_t = 5)]
        agents: usize,
        #[arg(long, default_value_t = 50)]
        customers: usize,
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// Divides the simulated ring, talk and wrap-up times.
        #[arg(long, default_value_t = 10.0)]
        speed: f64,
        /// Simulated agents work the campaign to its end, then the demo exits.
        #[arg(long)]
        exit_when_done: bool,
        /// With --exit-when-done: print one JSON summary.
        #[arg(long, value_parser = ["json"])]
        report: Option<String>,
        /// Where the agent page is served (port 0: any free port).
        #[arg(long, default_value = "127.0.0.1:8080")]
        listen: SocketAddr,
        /// Put a CRM stand-in (real HTTP with OAuth) answering in this many
        /// milliseconds behind the pops, beside the store.
        #[arg(long)]
        crm_latency_ms: Option<u64>,
        /// Fetch customers only at answer, not when the call is placed.
        #[arg(long)]
        no_preload: bool,
        /// Tasks for the first N customers only.
        #[arg(long)]
        tasks: Option<usize>,
        /// Look every customer up once before dialing (a full cache).
        #[arg(long)]
        warm_cache: bool,
        /// New calls a second at most on the simulated switch, spaced
        /// evenly (it has no limit of its own; a real switch's is the
        /// config's `originates_per_second`).
        #[arg(long, default_value_t = 2000.0)]
        originates_per_second: f64,
        /// Agents in another process: write their tokens to this file
        /// (`dialpop bench-agents` reads it) instead of simulating them here.
        #[arg(long)]
        external_agents: Option<PathBuf>,
        /// One of the seed's scenarios: its customer system (an SQLite file
        /// with its own schema) behind the pops, mapped by
        /// config/scenarios/<name>.toml and drawn by
        /// config/templates/<name>.json.
        #[arg(long, value_enum, conflicts_with = "crm_latency_ms")]
        scenario: Option<dialpop::cli::demo::scenario::Scenario>,
        /// How the campaign dials. power and predictive place calls with no
        /// agent, against far ends drawn like an outbound list (30 % people,
        /// machines), and the report gains occupancy, abandon_rate,
        /// machine_rate and dial_level.
        #[arg(long, value_enum)]
        dial_mode: Option<dialpop::campaign::dialing::DialMode>,
        /// Power: lines per available agent (1.5). Predictive: the most
        /// lines per agent (3).
        #[arg(long, requires = "dial_mode")]
        lines_per_agent: Option<f64>,
        /// With --dial-mode: stop dialing after this many simulated minutes.
        #[arg(long, requires = "dial_mode")]
        minutes: Option<f64>,
    },
    /// Load benchmark: agent pages as WebSocket clients, in their own
    /// process, signing in with the tokens file a demo or the floor wrote.
    BenchAgents {
        #[arg(long)]
        url: String,
        #[arg(long)]
        tokens: PathBuf,
        /// How long a page waits in wrap-up before it says ready.
        #[arg(long, default_value_t = 20)]
        wrap_ms: u64,
    },
    /// Load benchmark: the WebSocket floor, one pop-sized message and its
    /// ack at a steady rate over the same number of connections.
    BenchFloor {
        #[arg(long, default_value = "127.0.0.1:0")]
        listen: SocketAddr,
        #[arg(long)]
        connections: usize,
        #[arg(long)]
        rate: f64,
        #[arg(long, default_value_t = 20.0)]
        seconds: f64,
        #[arg(long)]
        tokens: PathBuf,
    },
}

#[derive(Subcommand)]
enum TaskAction {
    /// Streams a CSV file into a campaign: columns by header name
    /// (customer_id, phone, and optionally priority, tags, not_before,
    /// not_after, time_zone, external_id, var.NAME). With --server, the
    /// file is streamed to the daemon; without, into the configured store.
    /// Exit 0: every row kept; 3: some rows refused (each listed with its
    /// line); 1: failed.
    #[command(after_help = client::EXIT_CODES)]
    Import {
        file: PathBuf,
        #[arg(long)]
        campaign: String,
        /// Without --server: the config file naming the store.
        #[arg(long, default_value = "config/dialpop.toml")]
        config: PathBuf,
    },
    #[command(flatten)]
    Client(client::TaskCmd),
}

#[derive(Subcommand)]
enum DncAction {
    /// Streams a CSV file (a phone column, an optional reason) into the
    /// global list, or a campaign's. With --server, the file is streamed
    /// to the daemon; without, into the configured store.
    #[command(after_help = client::EXIT_CODES)]
    Import {
        file: PathBuf,
        #[arg(long)]
        campaign: Option<String>,
        /// How national numbers are read (default: US; with --server, the
        /// campaign's region, else US).
        #[arg(long)]
        region: Option<String>,
        /// Without --server: the config file naming the store.
        #[arg(long, default_value = "config/dialpop.toml")]
        config: PathBuf,
    },
    #[command(flatten)]
    Client(client::DncCmd),
}

#[derive(Subcommand)]
enum SourceAction {
    /// The configured sources, where they point, their TTL and timeout.
    List {
        #[arg(long, default_value = "config/dialpop.toml")]
        config: PathBuf,
    },
    /// One real request to the source, past the cache: the mapped result,
    /// the raw response, the time taken, or why it failed.
    #[command(group(clap::ArgGroup::new("key").required(true).multiple(true)))]
    Test {
        /// The source's name (`dialpop source list`).
        name: String,
        #[arg(long, default_value = "config/dialpop.toml")]
        config: PathBuf,
        #[arg(long, group = "key")]
        customer_id: Option<String>,
        #[arg(long, group = "key")]
        phone: Option<String>,
        #[arg(long, group = "key")]
        email: Option<String>,
        /// The report as JSON.
        #[arg(long)]
        json: bool,
    },
}

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

/// An import's exit code: 3 when some rows were refused (scripts can tell
/// that from a failed import, 1).
fn run_import(
    name: &str,
    fut: impl std::future::Future<Output = anyhow::Result<dialpop::cli::import::Ended>>,
) -> ExitCode {
    let refused = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let flag = refused.clone();
    let code = run_async(name, "warn", async move {
        if matches!(fut.await?, dialpop::cli::import::Ended::SomeRefused) {
            flag.store(true, std::sync::atomic::Ordering::Relaxed);
        }
        Ok(())
    });
    if refused.load(std::sync::atomic::Ordering::Relaxed) {
        ExitCode::from(3)
    } else {
        code
    }
}

fn run_source(action: SourceAction) -> ExitCode {
    let failed = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let flag = failed.clone();
    let code = run_async("source", "error", async move {
        let stdout = std::io::stdout();
        let mut out = stdout.lock();
        match action {
            SourceAction::List { config } => source::list(&config, &mut out).await,
            SourceAction::Test {
                name,
                config,
                customer_id,
                phone,
                email,
                json,
            } => {
                let ok = source::test(
                    &config,
                    &name,
                    customer_id.as_deref(),
                    phone.as_deref(),
                    email.as_deref(),
                    json,
                    &mut out,
                )
                .await?;
                flag.store(!ok, std::sync::atomic::Ordering::Relaxed);
                Ok(())
            }
        }
    });
    if failed.load(std::sync::atomic::Ordering::Relaxed) {
        ExitCode::from(1)
    } else {
        code
    }
}

/// Ctrl-C or SIGTERM (systemd's stop).
async fn shutdown_signal() {
    #[cfg(unix)]
    {
        let mut term =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(t) => t,
                Err(_) => {
                    let _ = tokio::signal::ctrl_c().await;
                    return;
                }
            };
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    let _ = tokio::signal::ctrl_c().await;
}

/// Logging to stderr (RUST_LOG overrides `default_level`), a runtime, and
/// the subcommand's error as the exit status.
fn run_async(
    name: &str,
    default_level: &str,
    fut: impl std::future::Future<Output = anyhow::Result<()>>,
) -> ExitCode {
    dialpop::cli::logging::init(default_level);
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(r) => r,
        Err(e) => {
            eprintln!("dialpop {name}: cannot start the runtime: {e}");
            return ExitCode::from(2);
        }
    };
    match runtime.block_on(fut) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("dialpop {name}: {e:#}");
            ExitCode::from(1)
        }
    }
}

fn run_decode(protocol: Protocol, file: &PathBuf) -> ExitCode {
    let mut input = Vec::new();
    let read = if file.as_os_str() == "-" {
        std::io::stdin().read_to_end(&mut input)
    } else {
        std::fs::File::open(file).and_then(|mut f| f.read_to_end(&mut input))
    };
    if let Err(e) = read {
        eprintln!("dialpop decode: cannot read {}: {e}", file.display());
        return ExitCode::from(2);
    }
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    let summary = match protocol {
        Protocol::Esl => decode::decode_esl(&input, &mut out),
        Protocol::Ami => decode::decode_ami(&input, &mut out),
    };
    match summary {
        Ok(s) if s.errors == 0 => ExitCode::SUCCESS,
        Ok(s) => {
            eprintln!(
                "dialpop decode: {} of {} frames could not be decoded",
                s.errors, s.frames
            );
            ExitCode::from(1)
        }
        Err(e) => {
            eprintln!("dialpop decode: cannot write output: {e}");
            ExitCode::from(2)
        }
    }
}
