use clap::{Parser, Subcommand};
use dialpop::cli::decode::{self, Protocol};
use dialpop::cli::demo::{self, DemoOptions};
use dialpop::cli::simswitch::{self, SimswitchArgs};
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
        #[arg(long, default_value = "ClueCon")]
        password: String,
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
    /// Everything in one process on the simulated switch: places a batch of
    /// calls covering every outcome and reports how they went.
    Demo {
        /// How many calls to place.
        #[arg(long, default_value_t = 50)]
        calls: usize,
        /// How many calls may be up at once.
        #[arg(long, default_value_t = 10)]
        concurrency: usize,
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// Divides the scenario's ring and talk times.
        #[arg(long, default_value_t = 10.0)]
        speed: f64,
        /// Exit once every call has ended (the demo always does so today;
        /// accepted for the campaign demo's interface).
        #[arg(long)]
        exit_when_done: bool,
        /// Print one JSON summary instead of the call log.
        #[arg(long, value_parser = ["json"])]
        report: Option<String>,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Decode { protocol, file } => run_decode(protocol, &file),
        Command::Simswitch {
            protocol: Protocol::Esl,
            listen,
            password,
            scenario,
            seed,
            speed,
        } => run_async(
            "simswitch",
            "info",
            simswitch::run(SimswitchArgs {
                listen,
                password,
                scenario,
                seed,
                speed,
            }),
        ),
        Command::Demo {
            calls,
            concurrency,
            seed,
            speed,
            exit_when_done: _,
            report,
        } => {
            let opts = DemoOptions {
                calls,
                concurrency: concurrency.max(1),
                seed,
                speed,
                report_json: report.is_some(),
            };
            run_async("demo", "warn", async move {
                let report = demo::run(opts.clone()).await?;
                if opts.report_json {
                    println!("{}", serde_json::to_string(&report)?);
                } else {
                    println!("{}", serde_json::to_string_pretty(&report)?);
                }
                Ok(())
            })
        }
    }
}

/// Logging to stderr (RUST_LOG overrides `default_level`), a runtime, and
/// the subcommand's error as the exit status.
fn run_async(
    name: &str,
    default_level: &str,
    fut: impl std::future::Future<Output = anyhow::Result<()>>,
) -> ExitCode {
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default_level)),
        )
        .init();
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
