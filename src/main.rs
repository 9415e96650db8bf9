use clap::{Parser, Subcommand};
use dialpop::cli::decode::{self, Protocol};
use std::io::Read;
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
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Decode { protocol, file } => run_decode(protocol, &file),
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
