//! The server's side: reading one command, with its headers and body, from
//! what a client sent (used by the simulated switch).

use crate::switch::esl::EslError;
use crate::switch::headers::{Headers, ValueDecoding};
use bytes::Bytes;

/// A command as the switch reads it: the first line, any header lines, and
/// a body when the command carried `Content-Length` (sendmsg, sendevent).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClientCommand {
    pub line: String,
    pub headers: Headers,
    pub body: Option<Bytes>,
}

impl ClientCommand {
    /// The command word (`auth`, `event`, `bgapi`, ...) and the rest.
    pub fn verb_and_args(&self) -> (&str, &str) {
        match self.line.split_once(' ') {
            Some((v, a)) => (v, a.trim()),
            None => (self.line.as_str(), ""),
        }
    }
}

const MAX_COMMAND: usize = 64 * 1024;

/// Reads one command from the front of `buf`: lines up to an empty one. Like
/// mod_event_socket it counts LFs and ignores CRs, and skips leading blank
/// lines. Returns the bytes consumed and the command.
pub fn scan_client_command(buf: &[u8]) -> Result<Option<(usize, ClientCommand)>, EslError> {
    let skip = buf
        .iter()
        .take_while(|&&b| b == b'\n' || b == b'\r')
        .count();
    let mut pos = skip;
    let mut lines: Vec<(usize, usize)> = Vec::new();
    loop {
        let Some(nl) = memchr::memchr(b'\n', &buf[pos..]) else {
            if buf.len() - skip > MAX_COMMAND {
                return Err(EslError::HeaderTooLarge { limit: MAX_COMMAND });
            }
            return Ok(None);
        };
        let mut end = pos + nl;
        while end > pos && buf[end - 1] == b'\r' {
            end -= 1;
        }
        let next = pos + nl + 1;
        if end == pos {
            pos = next;
            break;
        }
        lines.push((pos, end));
        pos = next;
        if pos - skip > MAX_COMMAND {
            return Err(EslError::HeaderTooLarge { limit: MAX_COMMAND });
        }
    }
    let raw = Bytes::copy_from_slice(&buf[..pos]);
    let (first, rest) = lines
        .split_first()
        .ok_or(EslError::Truncated { buffered: 0 })?;
    let line = String::from_utf8_lossy(&buf[first.0..first.1]).into_owned();
    let mut headers = Headers::with_capacity(raw.clone(), rest.len());
    let mut content_length = None;
    for &(s, e) in rest {
        let l = &buf[s..e];
        let (name, value) = crate::switch::esl::frame::split_header_line(l)?;
        let value_at = e - value.len();
        headers.push_raw((s, s + name.len()), (value_at, e), ValueDecoding::Verbatim);
        if name.eq_ignore_ascii_case(b"Content-Length") {
            let n = std::str::from_utf8(value)
                .ok()
                .and_then(|v| v.trim().parse::<usize>().ok())
                .filter(|&n| n <= crate::switch::esl::frame::DEFAULT_MAX_CONTENT_LENGTH)
                .ok_or_else(|| EslError::InvalidContentLength {
                    value: crate::switch::esl::printable(value),
                })?;
            content_length = Some(n);
        }
    }
    let body = match content_length {
        Some(n) if buf.len() < pos + n => return Ok(None),
        Some(n) => {
            let b = Bytes::copy_from_slice(&buf[pos..pos + n]);
            pos += n;
            Some(b)
        }
        None => None,
    };
    Ok(Some((
        pos,
        ClientCommand {
            line,
            headers,
            body,
        },
    )))
}
