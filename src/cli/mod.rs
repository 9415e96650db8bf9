//! Subcommands other than the daemon itself.

pub mod agents;
pub mod bench;
pub mod decode;
pub mod demo;
pub mod process_stats;
pub mod simswitch;
pub mod source;
