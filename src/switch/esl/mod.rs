//! FreeSWITCH Event Socket: codec, commands, the inbound client and the
//! mapping of channel events onto dialpop's call model. This is the only
//! place that knows ESL's wire format.

pub mod client;
pub mod codec;
pub mod command;
pub mod driver;
pub mod event;
pub mod frame;
pub mod mapping;
pub mod message;

pub use codec::{EslClientCodec, EslServerCodec};
pub use command::{EslCommand, EventFormat, Originate};
pub use event::EslEvent;
pub use frame::EslFrame;
pub use message::EslMessage;

/// Everything that can be wrong with bytes on the ESL socket.
#[derive(Debug, thiserror::Error)]
pub enum EslError {
    #[error("header section longer than {limit} bytes without a blank line")]
    HeaderTooLarge { limit: usize },
    #[error("Content-Length {length} is over the limit of {limit} bytes")]
    ContentLengthTooLarge { length: u64, limit: usize },
    #[error("Content-Length is not a byte count: {value:?}")]
    InvalidContentLength { value: String },
    #[error("header line has no 'Name:' part: {line:?}")]
    MalformedHeader { line: String },
    #[error("event body declares Content-Length {declared} but only {available} bytes follow")]
    InnerBodyTruncated { declared: usize, available: usize },
    #[error("event-json body is not a JSON object: {0}")]
    Json(String),
    #[error("connection closed inside a frame ({buffered} bytes of it received)")]
    Truncated { buffered: usize },
    #[error("refusing to send {what}: {problem}")]
    Unsendable { what: String, problem: String },
    #[error("socket error: {0}")]
    Io(#[from] std::io::Error),
}

/// A short, escaped rendering of untrusted bytes for error messages.
pub(crate) fn printable(bytes: &[u8]) -> String {
    const MAX: usize = 80;
    let cut = &bytes[..bytes.len().min(MAX)];
    let mut s = String::from_utf8_lossy(cut).escape_debug().to_string();
    if bytes.len() > MAX {
        s.push('…');
    }
    s
}
