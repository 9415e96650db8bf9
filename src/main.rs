use clap::{Parser, Subcommand};
use dialpop::cli::decode::{self, Protocol};
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
        } => run_simswitch(SimswitchArgs {
            listen,
            password,
            scenario,
            seed,
            speed,
        }),
    }
}

fn run_simswitch(args: SimswitchArgs) -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .init();
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(r) => r,
        Err(e) => {
            eprintln!("dialpop simswitch: cannot start the runtime: {e}");
            return ExitCode::from(2);
        }
    };
    match runtime.block_on(simswitch::run(args)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("dialpop simswitch: {e:#}");
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
