//! Subcommands other than the daemon itself.

pub mod decode;
pub mod demo;
pub mod simswitch;
pub mod source;
