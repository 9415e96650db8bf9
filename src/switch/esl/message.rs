//! Frames classified by `Content-Type` into the messages a client acts on.

use super::event::{EslEvent, parse_event_json, parse_event_plain};
use super::{EslError, EslFrame};
use crate::switch::headers::Headers;
use bytes::Bytes;

/// The outcome carried by a `command/reply` or an `api/response`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Reply {
    pub ok: bool,
    /// The text after `+OK`/`-ERR`, trimmed (e.g. `accepted`, `invalid`).
    pub text: String,
}

impl Reply {
    /// Reads `+OK ...` / `-ERR ...`; anything else counts as an error reply
    /// whose text is the whole value.
    pub fn parse(raw: &[u8]) -> Reply {
        let s = String::from_utf8_lossy(raw);
        let s = s.trim_end_matches(['\n', '\r']);
        if let Some(rest) = s.strip_prefix("+OK") {
            Reply {
                ok: true,
                text: rest.trim().to_string(),
            }
        } else if let Some(rest) = s.strip_prefix("-ERR") {
            Reply {
                ok: false,
                text: rest.trim().to_string(),
            }
        } else {
            Reply {
                ok: false,
                text: s.trim().to_string(),
            }
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum EslMessage {
    AuthRequest,
    /// `command/reply`; the headers are kept because `bgapi` puts `Job-UUID`
    /// there and outbound-mode `connect` puts a whole channel event there.
    CommandReply {
        reply: Reply,
        headers: Headers,
    },
    ApiResponse {
        body: Bytes,
    },
    Event(EslEvent),
    Log {
        headers: Headers,
        text: Bytes,
    },
    Disconnect {
        headers: Headers,
        text: Bytes,
    },
    RudeRejection {
        text: Bytes,
    },
    /// A `text/event-xml` event or a content type this version does not use;
    /// kept whole rather than dropped.
    Other(EslFrame),
}

impl EslMessage {
    pub fn from_frame(frame: EslFrame) -> Result<EslMessage, EslError> {
        let body = || frame.body.clone().unwrap_or_default();
        Ok(match frame.content_type() {
            Some(b"auth/request") => EslMessage::AuthRequest,
            Some(b"command/reply") => EslMessage::CommandReply {
                reply: Reply::parse(frame.headers.get("Reply-Text").unwrap_or_default()),
                headers: frame.headers,
            },
            Some(b"api/response") => EslMessage::ApiResponse { body: body() },
            Some(b"text/event-plain") => EslMessage::Event(parse_event_plain(body())?),
            Some(b"text/event-json") => EslMessage::Event(parse_event_json(&body())?),
            Some(b"log/data") => EslMessage::Log {
                text: body(),
                headers: frame.headers,
            },
            Some(b"text/disconnect-notice") => EslMessage::Disconnect {
                text: body(),
                headers: frame.headers,
            },
            Some(b"text/rude-rejection") => EslMessage::RudeRejection { text: body() },
            _ => EslMessage::Other(frame),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replies() {
        assert_eq!(
            Reply::parse(b"+OK Job-UUID: 1"),
            Reply {
                ok: true,
                text: "Job-UUID: 1".into()
            }
        );
        assert!(!Reply::parse(b"-ERR invalid").ok);
        assert!(Reply::parse(b"+OK\n").ok);
        assert!(!Reply::parse(b"").ok);
    }
}
