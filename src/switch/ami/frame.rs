//! AMI framing: a banner line at the start of a session, then packets of
//! `Key: Value` lines ended by an empty line. CRLF on the wire; a bare LF is
//! accepted too (some proxies). The legacy `Response: Follows` form carries
//! raw text lines up to `--END COMMAND--`.
//!
//! Pure functions over the bytes received so far; "incomplete" consumes
//! nothing.

use super::AmiError;
use crate::switch::headers::{Headers, ValueDecoding};
use bytes::Bytes;

/// A packet longer than this is a protocol error. Real packets are a few KB;
/// Asterisk itself caps an action at 128 headers of 1 KB.
pub const MAX_PACKET: usize = 64 * 1024;
/// Legacy command output can be long (a `core show channels` on a busy box).
pub const MAX_FOLLOWS_OUTPUT: usize = 16 * 1024 * 1024;
const MAX_LINES: usize = 4096;
/// The banner line, its line end included.
const MAX_BANNER: usize = 1024;
const END_COMMAND: &[u8] = b"--END COMMAND--";

// Built once: a searcher per call costs more than the search on a short packet.
static CRLF_BLANK: std::sync::LazyLock<memchr::memmem::Finder<'static>> =
    std::sync::LazyLock::new(|| memchr::memmem::Finder::new(b"\r\n\r\n"));
static LF_BLANK: std::sync::LazyLock<memchr::memmem::Finder<'static>> =
    std::sync::LazyLock::new(|| memchr::memmem::Finder::new(b"\n\n"));

/// What the front of the buffer holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AmiScan {
    /// `Asterisk Call Manager/x.y.z` and its line end: `len` bytes.
    Banner {
        len: usize,
    },
    /// A packet of `len` bytes; for the legacy form, where its raw output
    /// starts and ends (without the `--END COMMAND--` line).
    Packet {
        len: usize,
        output: Option<(usize, usize)>,
    },
    Incomplete,
}

/// One line: its end (exclusive, without CR) and where the next line starts.
fn line_at(buf: &[u8], from: usize) -> Option<(usize, usize)> {
    let nl = memchr::memchr(b'\n', &buf[from..])? + from;
    let end = if nl > from && buf[nl - 1] == b'\r' {
        nl - 1
    } else {
        nl
    };
    Some((end, nl + 1))
}

use crate::switch::headers::header_line as key_value;

/// Looks at the front of `buf`. `at_start` says whether a banner may come
/// (only as the very first line of a session). Only finds where the packet
/// ends; its lines are read (and checked) once, by `AmiPacket::from_bytes`.
pub fn scan(buf: &[u8], at_start: bool) -> Result<AmiScan, AmiError> {
    if at_start && buf.starts_with(b"Asterisk Call Manager/") {
        // The line end is looked for in the first MAX_BANNER bytes only, so
        // that a long banner is refused whether it came in one read or in
        // several (it used to be read when whole and refused when cut).
        return match line_at(&buf[..buf.len().min(MAX_BANNER)], 0) {
            Some((_, next)) => Ok(AmiScan::Banner { len: next }),
            None if buf.len() >= MAX_BANNER => Err(AmiError::PacketTooLarge { limit: MAX_BANNER }),
            None => Ok(AmiScan::Incomplete),
        };
    }
    if starts_with_ci(buf, b"Response: Follows") || starts_with_ci(buf, b"Response:Follows") {
        return scan_follows_packet(buf);
    }
    if buf.first() == Some(&b'\n') {
        return Ok(AmiScan::Packet {
            len: 1,
            output: None,
        });
    }
    if buf.starts_with(b"\r\n") {
        return Ok(AmiScan::Packet {
            len: 2,
            output: None,
        });
    }
    let window = &buf[..buf.len().min(MAX_PACKET + 4)];
    // CRLF is the rule; a bare-LF blank line (some proxies) may come first.
    let crlf = CRLF_BLANK.find(window).map(|i| (i, 4));
    let lf_window = &window[..crlf.map_or(window.len(), |(i, _)| i + 2)];
    let lf = LF_BLANK.find(lf_window).map(|i| (i, 2));
    match (lf, crlf) {
        (Some((i, n)), _) | (None, Some((i, n))) => {
            if i + n > MAX_PACKET {
                return Err(AmiError::PacketTooLarge { limit: MAX_PACKET });
            }
            Ok(AmiScan::Packet {
                len: i + n,
                output: None,
            })
        }
        (None, None) if buf.len() > MAX_PACKET => {
            Err(AmiError::PacketTooLarge { limit: MAX_PACKET })
        }
        (None, None) => Ok(AmiScan::Incomplete),
    }
}

fn starts_with_ci(buf: &[u8], prefix: &[u8]) -> bool {
    buf.len() >= prefix.len() && buf[..prefix.len()].eq_ignore_ascii_case(prefix)
}

/// The legacy form: its header lines, then raw output from the first line
/// that is not one of its headers.
fn scan_follows_packet(buf: &[u8]) -> Result<AmiScan, AmiError> {
    let mut pos = 0;
    let mut lines = 0;
    loop {
        let Some((end, next)) = line_at(buf, pos) else {
            // Bounded while a line is still coming, as once it has ended: a
            // header line by MAX_PACKET, an output line by the output's
            // limit (there was no bound at all here).
            if buf.len() > MAX_PACKET && (lines == 0 || is_follows_header(&buf[pos..])) {
                return Err(AmiError::PacketTooLarge { limit: MAX_PACKET });
            }
            if buf.len() > MAX_FOLLOWS_OUTPUT {
                return Err(AmiError::OutputTooLarge {
                    limit: MAX_FOLLOWS_OUTPUT,
                });
            }
            return Ok(AmiScan::Incomplete);
        };
        let line = &buf[pos..end];
        if line.is_empty() {
            return Ok(AmiScan::Packet {
                len: next,
                output: None,
            });
        }
        lines += 1;
        if lines > 1 && !is_follows_header(line) {
            return scan_follows(buf, pos);
        }
        if next > MAX_PACKET {
            return Err(AmiError::PacketTooLarge { limit: MAX_PACKET });
        }
        pos = next;
    }
}

fn is_follows_header(line: &[u8]) -> bool {
    ["Privilege:", "ActionID:", "Response:"]
        .iter()
        .any(|h| line.len() >= h.len() && line[..h.len()].eq_ignore_ascii_case(h.as_bytes()))
}

/// Raw output from `start` to the `--END COMMAND--` line, then an optional
/// empty line.
fn scan_follows(buf: &[u8], start: usize) -> Result<AmiScan, AmiError> {
    let mut pos = start;
    loop {
        let Some((end, next)) = line_at(buf, pos) else {
            if buf.len() > MAX_FOLLOWS_OUTPUT {
                return Err(AmiError::OutputTooLarge {
                    limit: MAX_FOLLOWS_OUTPUT,
                });
            }
            return Ok(AmiScan::Incomplete);
        };
        // Asterisk ends the output with "--END COMMAND--" at the start of a
        // line (older versions glued it to the last output line).
        let line = &buf[pos..end];
        if let Some(at) = memchr::memmem::find(line, END_COMMAND) {
            let output_end = pos + at;
            return Ok(match line_at(buf, next) {
                Some((e2, n2)) if e2 == next => AmiScan::Packet {
                    len: n2,
                    output: Some((start, output_end)),
                },
                Some(_) => AmiScan::Packet {
                    len: next,
                    output: Some((start, output_end)),
                },
                None if buf.len() == next => AmiScan::Incomplete,
                None => AmiScan::Incomplete,
            });
        }
        pos = next;
    }
}

pub(crate) fn printable(bytes: &[u8]) -> String {
    crate::switch::esl::printable(bytes)
}

/// One AMI packet: its keys and values in order (duplicates kept: Variable,
/// ChanVariable, Output) and, for the legacy Follows form, the raw output.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AmiPacket {
    pub headers: Headers,
    pub output: Option<Bytes>,
}

/// What a packet is, by its first key.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PacketKind {
    Response(String),
    Event(String),
    Action(String),
    Unknown,
}

impl AmiPacket {
    /// Builds the packet from exactly the bytes `scan` described.
    pub fn from_bytes(bytes: Bytes, output: Option<(usize, usize)>) -> Result<AmiPacket, AmiError> {
        Self::parse(bytes, output, false)
    }

    /// As Asterisk's manager.c reads an action: a line without a colon is
    /// kept (as `Malformed-Line: <line>`, a header no lookup matches) rather
    /// than refused, so the action gets the answer Asterisk would give.
    pub fn from_bytes_lenient(
        bytes: Bytes,
        output: Option<(usize, usize)>,
    ) -> Result<AmiPacket, AmiError> {
        Self::parse(bytes, output, true)
    }

    fn parse(
        bytes: Bytes,
        output: Option<(usize, usize)>,
        lenient: bool,
    ) -> Result<AmiPacket, AmiError> {
        let head_end = output.map_or(bytes.len(), |(s, _)| s);
        let mut headers = Headers::with_capacity(bytes.clone(), 16);
        let mut pos = 0;
        while let Some((end, next)) = line_at(&bytes[..head_end.max(1).min(bytes.len())], pos) {
            if end == pos || next > head_end {
                break;
            }
            if headers.len() >= MAX_LINES {
                return Err(AmiError::TooManyLines { limit: MAX_LINES });
            }
            let line = &bytes[pos..end];
            match key_value(line) {
                Ok((value, key)) => {
                    let value_at = end - value.len();
                    headers.push_raw(
                        (pos, pos + key.len()),
                        (value_at, end),
                        ValueDecoding::Verbatim,
                    );
                }
                Err(_) if lenient => headers.push_owned(b"Malformed-Line", line),
                Err(_) => {
                    return Err(AmiError::MalformedLine {
                        line: printable(line),
                    });
                }
            }
            pos = next;
        }
        let output = output.map(|(s, e)| bytes.slice(s..e));
        Ok(AmiPacket { headers, output })
    }

    pub fn get(&self, key: &str) -> Option<&[u8]> {
        self.headers.get(key)
    }

    pub fn get_str(&self, key: &str) -> Option<std::borrow::Cow<'_, str>> {
        self.headers.get_str(key)
    }

    pub fn kind(&self) -> PacketKind {
        let Some((k, v)) = self.headers.iter().next() else {
            return PacketKind::Unknown;
        };
        let v = String::from_utf8_lossy(v).into_owned();
        if k.eq_ignore_ascii_case(b"Response") {
            PacketKind::Response(v)
        } else if k.eq_ignore_ascii_case(b"Event") {
            PacketKind::Event(v)
        } else if k.eq_ignore_ascii_case(b"Action") {
            PacketKind::Action(v)
        } else {
            PacketKind::Unknown
        }
    }

    /// `Output:` lines (Asterisk 14+) or the legacy raw output, as text.
    pub fn command_output(&self) -> String {
        match &self.output {
            Some(raw) => String::from_utf8_lossy(raw).into_owned(),
            None => self
                .headers
                .get_all("Output")
                .map(|l| String::from_utf8_lossy(l).into_owned())
                .collect::<Vec<_>>()
                .join("\n"),
        }
    }

    /// The packet in wire form (CRLF), for the simulator and tests.
    pub fn to_wire(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(32 * self.headers.len());
        for (k, v) in self.headers.iter() {
            out.extend_from_slice(k);
            out.extend_from_slice(b": ");
            out.extend_from_slice(v);
            out.extend_from_slice(b"\r\n");
        }
        if let Some(o) = &self.output {
            out.extend_from_slice(o);
            out.extend_from_slice(END_COMMAND);
            out.extend_from_slice(b"\r\n");
        }
        out.extend_from_slice(b"\r\n");
        out
    }
}

/// What the client side reads: the banner once, then packets.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AmiMessage {
    Banner(String),
    Packet(AmiPacket),
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Seen while writing the fuzz target's invariant (fuzz/fuzz_targets/
    /// ami_decoder.rs: a stream is read the same however it is cut): a
    /// banner longer than the limit was read when it came in one read and
    /// refused when a read ended inside it.
    #[test]
    fn a_long_banner_is_refused_however_the_stream_is_cut() {
        let mut long = b"Asterisk Call Manager/".to_vec();
        long.resize(MAX_BANNER + 100, b'9');
        long.extend_from_slice(b"\r\n");
        for cut in [MAX_BANNER - 1, MAX_BANNER, MAX_BANNER + 50, long.len()] {
            let r = scan(&long[..cut], true);
            if cut < MAX_BANNER {
                assert!(matches!(r, Ok(AmiScan::Incomplete)), "cut {cut}: {r:?}");
            } else {
                assert!(
                    matches!(r, Err(AmiError::PacketTooLarge { .. })),
                    "cut {cut}: {r:?}"
                );
            }
        }
        let ok = b"Asterisk Call Manager/11.0.0\r\nResponse: Success\r\n\r\n";
        assert!(matches!(scan(ok, true), Ok(AmiScan::Banner { len: 30 })));
        let mut edge = b"Asterisk Call Manager/".to_vec();
        edge.resize(MAX_BANNER - 2, b'9');
        edge.extend_from_slice(b"\r\n");
        assert!(matches!(scan(&edge, true), Ok(AmiScan::Banner { len }) if len == MAX_BANNER));
    }

    /// A legacy `Response: Follows` packet whose header line never ends
    /// used to be buffered without limit.
    #[test]
    fn an_endless_follows_header_line_is_an_error() {
        let mut p = b"Response: Follows\r\nPrivilege: ".to_vec();
        p.resize(MAX_PACKET + 10, b'x');
        assert!(matches!(
            scan(&p, false),
            Err(AmiError::PacketTooLarge { .. })
        ));
        assert!(matches!(
            scan(&p[..MAX_PACKET - 10], false),
            Ok(AmiScan::Incomplete)
        ));
        // An output line is bounded by the output's own, larger, limit.
        let mut o = b"Response: Follows\r\nPrivilege: Command\r\n".to_vec();
        o.resize(MAX_PACKET + 10, b'o');
        assert!(matches!(scan(&o, false), Ok(AmiScan::Incomplete)));
    }
}
