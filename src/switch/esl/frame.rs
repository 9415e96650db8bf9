//! ESL framing: header lines, a blank line, then `Content-Length` bytes.
//!
//! The parser is a pure function over the bytes received so far. It answers
//! "incomplete" without consuming anything, so the codec that owns the buffer
//! can simply call it again after the next read (the mini-redis pattern).

use super::EslError;
use crate::switch::headers::{Headers, ValueDecoding};
use bytes::Bytes;
use nom::Parser;
use nom::bytes::streaming::take_until;

/// A header section larger than this is a protocol error. The biggest real
/// one is the outbound-mode `connect` reply, about 6.5 KB.
pub const MAX_HEADER_SECTION: usize = 64 * 1024;
/// FreeSWITCH's own `MAX_CONTENT_LENGTH`.
pub const DEFAULT_MAX_CONTENT_LENGTH: usize = 16 * 1024 * 1024;

/// Where a complete frame lies in the buffer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FrameBounds {
    /// Stray line feeds before the frame, skipped as FreeSWITCH's reader does.
    pub skip: usize,
    /// Length of the header lines including the terminating blank line.
    pub header_len: usize,
    pub content_length: Option<usize>,
}

impl FrameBounds {
    pub fn total(&self) -> usize {
        self.skip + self.header_len + self.content_length.unwrap_or(0)
    }
}

/// What the parser says about the front of the buffer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Scan {
    Frame(FrameBounds),
    /// The header section is not complete yet.
    NeedHeaders,
    /// The headers are in; the body is not. The bounds say how much is due.
    NeedBody(FrameBounds),
}

/// Finds the first frame in `buf` without copying or consuming anything.
pub fn scan_frame(buf: &[u8], max_content_length: usize) -> Result<Scan, EslError> {
    let skip = buf.iter().take_while(|&&b| b == b'\n').count();
    let rest = &buf[skip..];
    // Only the first MAX_HEADER_SECTION bytes can hold the end of the header
    // section; looking further would make a flood of garbage quadratic.
    let window = &rest[..rest.len().min(MAX_HEADER_SECTION + 2)];
    let found: nom::IResult<&[u8], &[u8]> = take_until(&b"\n\n"[..]).parse(window);
    let head = match found {
        Ok((_, head)) => head,
        // Only once the window is full: a blank line still to come would
        // end the section past the limit. (Refusing as soon as more than
        // MAX_HEADER_SECTION bytes were buffered refused a section of
        // exactly the limit when a read ended between its two LFs, and
        // read it when it came in one piece.)
        Err(nom::Err::Incomplete(_)) if rest.len() >= MAX_HEADER_SECTION + 2 => {
            return Err(EslError::HeaderTooLarge {
                limit: MAX_HEADER_SECTION,
            });
        }
        Err(_) => return Ok(Scan::NeedHeaders),
    };
    if head.len() > MAX_HEADER_SECTION {
        return Err(EslError::HeaderTooLarge {
            limit: MAX_HEADER_SECTION,
        });
    }
    let header_len = head.len() + 2;
    let mut content_length = None;
    walk_header_block(&window[..header_len], 0, |name, at| {
        if name.eq_ignore_ascii_case(b"Content-Length") {
            content_length = Some(parse_content_length(
                &window[at.value.0..at.value.1],
                max_content_length,
            )?);
        }
        Ok(())
    })?;
    let bounds = FrameBounds {
        skip,
        header_len,
        content_length,
    };
    if buf.len() < bounds.total() {
        return Ok(Scan::NeedBody(bounds));
    }
    Ok(Scan::Frame(bounds))
}

/// `Name: value` → (name, value). The value starts after the colon and any
/// spaces, as in FreeSWITCH's `esl.c`; a line without a colon or with an empty
/// name is an error (a real switch never sends one, so it means desync).
pub fn split_header_line(line: &[u8]) -> Result<(&[u8], &[u8]), EslError> {
    match header_line(line) {
        Ok((value, name)) => Ok((name, value)),
        Err(_) => Err(EslError::MalformedHeader {
            line: super::printable(line),
        }),
    }
}

pub use crate::switch::headers::header_line;

/// One header line located in a buffer: `name` and `value` are ranges of it.
#[derive(Clone, Copy, Debug)]
pub(crate) struct LineSpans {
    pub name: (usize, usize),
    pub value: (usize, usize),
}

/// Walks the header lines of `buf[start..]` in one pass until a blank line or
/// the end, calling `each` per line. Returns where the block ended: the index
/// just past the blank line, or `buf.len()` when there was none.
pub(crate) fn walk_header_block(
    buf: &[u8],
    start: usize,
    mut each: impl FnMut(&[u8], LineSpans) -> Result<(), EslError>,
) -> Result<usize, EslError> {
    let mut pos = start;
    while pos < buf.len() {
        let end = memchr::memchr(b'\n', &buf[pos..]).map_or(buf.len(), |i| pos + i);
        if end == pos {
            return Ok(pos + 1);
        }
        let line = &buf[pos..end];
        let (value, name) = header_line(line).map_err(|_| EslError::MalformedHeader {
            line: super::printable(line),
        })?;
        let value_at = end - value.len();
        each(
            name,
            LineSpans {
                name: (pos, pos + name.len()),
                value: (value_at, end),
            },
        )?;
        pos = end + 1;
    }
    Ok(buf.len())
}

fn parse_content_length(value: &[u8], max: usize) -> Result<usize, EslError> {
    let digits = value.strip_suffix(b"\r").unwrap_or(value);
    let too_long = || EslError::InvalidContentLength {
        value: super::printable(value),
    };
    if digits.is_empty() || digits.len() > 19 || !digits.iter().all(u8::is_ascii_digit) {
        return Err(too_long());
    }
    let n = digits
        .iter()
        .fold(0u64, |n, d| n * 10 + u64::from(d - b'0'));
    if n > max as u64 {
        return Err(EslError::ContentLengthTooLarge {
            length: n,
            limit: max,
        });
    }
    Ok(n as usize)
}

/// One frame as FreeSWITCH sent it. Header values are percent-decoded once,
/// as `esl.c` does for every header it receives (this is what makes the
/// outbound-mode `connect` reply, whose values are encoded, readable).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EslFrame {
    pub headers: Headers,
    /// `None` when the frame had no `Content-Length`.
    pub body: Option<Bytes>,
}

impl EslFrame {
    /// Builds the frame from exactly the bytes `bounds` describes.
    pub fn from_bytes(frame: Bytes, bounds: &FrameBounds) -> Result<Self, EslError> {
        let start = bounds.skip;
        let head = frame.slice(..start + bounds.header_len);
        let mut headers = Headers::with_capacity(frame.clone(), 4);
        walk_header_block(&head, start, |_, at| {
            headers.push_raw(at.name, at.value, ValueDecoding::Percent);
            Ok(())
        })?;
        let body_start = start + bounds.header_len;
        let body = bounds
            .content_length
            .map(|n| frame.slice(body_start..body_start + n));
        Ok(EslFrame { headers, body })
    }

    pub fn content_type(&self) -> Option<&[u8]> {
        self.headers.get("Content-Type")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn incomplete_until_blank_line_then_until_body() {
        let f = b"Content-Length: 3\nContent-Type: api/response\n\n+OK";
        for cut in 0..f.len() {
            match scan_frame(&f[..cut], DEFAULT_MAX_CONTENT_LENGTH) {
                Ok(Scan::NeedHeaders | Scan::NeedBody(_)) => {}
                other => panic!("cut {cut}: {other:?}"),
            }
        }
        let Ok(Scan::Frame(b)) = scan_frame(f, DEFAULT_MAX_CONTENT_LENGTH) else {
            panic!("whole frame not found")
        };
        assert_eq!(b.total(), f.len());
        assert_eq!(b.content_length, Some(3));
    }

    /// Seen while writing the fuzz target's invariant (fuzz/fuzz_targets/
    /// esl_decoder.rs: a stream is read the same however it is cut): a
    /// header section of exactly MAX_HEADER_SECTION bytes was read in one
    /// piece and refused when a read ended between its two final LFs.
    #[test]
    fn a_header_section_at_the_limit_is_read_however_the_stream_is_cut() {
        let mut f = b"Content-Type: text/plain\nX-Long: ".to_vec();
        f.resize(MAX_HEADER_SECTION, b'a');
        f.extend_from_slice(b"\n\n");
        assert!(matches!(
            scan_frame(&f, DEFAULT_MAX_CONTENT_LENGTH),
            Ok(Scan::Frame(b)) if b.total() == f.len()
        ));
        for cut in MAX_HEADER_SECTION - 1..f.len() {
            assert!(
                matches!(
                    scan_frame(&f[..cut], DEFAULT_MAX_CONTENT_LENGTH),
                    Ok(Scan::NeedHeaders)
                ),
                "cut {cut}"
            );
        }
        // One byte longer is refused, whole or cut.
        f.insert(40, b'a');
        for cut in [MAX_HEADER_SECTION + 2, f.len()] {
            assert!(
                matches!(
                    scan_frame(&f[..cut], DEFAULT_MAX_CONTENT_LENGTH),
                    Err(EslError::HeaderTooLarge { .. })
                ),
                "cut {cut}"
            );
        }
    }

    #[test]
    fn limits_are_errors_not_allocations() {
        let huge = b"Content-Length: 99999999999\n\n";
        assert!(matches!(
            scan_frame(huge, DEFAULT_MAX_CONTENT_LENGTH),
            Err(EslError::ContentLengthTooLarge { .. })
        ));
        let neg = b"Content-Length: -5\n\n";
        assert!(matches!(
            scan_frame(neg, DEFAULT_MAX_CONTENT_LENGTH),
            Err(EslError::InvalidContentLength { .. })
        ));
        let endless = vec![b'a'; MAX_HEADER_SECTION + 10];
        assert!(matches!(
            scan_frame(&endless, DEFAULT_MAX_CONTENT_LENGTH),
            Err(EslError::HeaderTooLarge { .. })
        ));
        let no_colon = b"garbage line\n\n";
        assert!(matches!(
            scan_frame(no_colon, DEFAULT_MAX_CONTENT_LENGTH),
            Err(EslError::MalformedHeader { .. })
        ));
    }
}
