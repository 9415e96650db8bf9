//! Asterisk Manager Interface: codec, actions, the client and the mapping of
//! AMI events onto dialpop's call model. The only place that knows AMI.

pub mod client;
pub mod codec;
pub mod driver;
pub mod frame;
pub mod mapping;

pub use codec::{AmiClientCodec, AmiServerCodec};
pub use frame::{AmiMessage, AmiPacket, PacketKind};

#[derive(Debug, thiserror::Error)]
pub enum AmiError {
    #[error("packet longer than {limit} bytes without a blank line")]
    PacketTooLarge { limit: usize },
    #[error("more than {limit} lines in one packet")]
    TooManyLines { limit: usize },
    #[error("line has no 'Key:' part: {line:?}")]
    MalformedLine { line: String },
    #[error("legacy command output longer than {limit} bytes without --END COMMAND--")]
    OutputTooLarge { limit: usize },
    #[error("connection closed inside a packet ({buffered} bytes of it received)")]
    Truncated { buffered: usize },
    #[error("refusing to send {what}: {problem}")]
    Unsendable { what: String, problem: String },
    #[error("socket error: {0}")]
    Io(#[from] std::io::Error),
}
