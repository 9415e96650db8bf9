//! How a subcommand is run: its runtime, its logging, and the exit code
//! its outcome becomes.

use super::args::SourceAction;
use dialpop::cli::decode::{self, Protocol};
use dialpop::cli::source;
use std::io::Read;
use std::path::PathBuf;
use std::process::ExitCode;

/// An import's exit code: 3 when some rows were refused (scripts can tell
/// that from a failed import, 1).
pub(super) fn run_import(
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

pub(super) fn run_source(action: SourceAction) -> ExitCode {
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
pub(super) async fn shutdown_signal() {
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
pub(super) fn run_async(
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

pub(super) fn run_decode(protocol: Protocol, file: &PathBuf) -> ExitCode {
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
