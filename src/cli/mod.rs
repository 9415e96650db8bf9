//! Subcommands other than the daemon itself.

pub mod decode;
