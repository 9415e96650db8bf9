//! Subcommands other than the daemon itself.

pub mod agents;
pub mod bench;
pub mod bench_schedule;
pub mod client;
pub mod decode;
pub mod demo;
pub mod import;
pub mod logging;
pub mod process_stats;
pub mod simswitch;
pub mod source;
