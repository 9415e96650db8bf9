//! How the daemon's log lines are written: `--log-format text` (the
//! default: human lines, coloured only on a terminal) or `json` (one
//! object per line, for journald, Loki or Elasticsearch), always to stderr.

use std::io::IsTerminal;
use std::sync::OnceLock;

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    #[default]
    Text,
    Json,
}

static CHOSEN: OnceLock<LogFormat> = OnceLock::new();

/// The format given on the command line, chosen once at startup.
pub fn choose(format: LogFormat) {
    let _ = CHOSEN.set(format);
}

/// Installs the subscriber: `RUST_LOG` overrides `default_level`.
pub fn init(default_level: &str) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default_level));
    let builder = tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(filter);
    // A log file or a pipe gets no terminal colour codes.
    let result = match CHOSEN.get().copied().unwrap_or_default() {
        LogFormat::Text => builder
            .with_ansi(std::io::stderr().is_terminal())
            .try_init(),
        LogFormat::Json => builder
            .json()
            .flatten_event(true)
            .with_current_span(true)
            .with_span_list(false)
            .try_init(),
    };
    if let Err(e) = result {
        eprintln!("dialpop: logging was already set up: {e}");
    }
    if crate::redact::customer_data_allowed() {
        tracing::warn!(
            "--log-customer-data is on: customers' numbers are written to this log; turn it off once the debugging is done"
        );
    }
}
