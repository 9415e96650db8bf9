//! `dialpop decode`: a raw capture of the switch socket → one JSON line per
//! frame. Used to debug field captures and to check the codecs against them.

use crate::switch::esl::frame::{DEFAULT_MAX_CONTENT_LENGTH, EslFrame, Scan, scan_frame};
use crate::switch::esl::{EslMessage, mapping};
use bytes::Bytes;
use serde_json::{Value, json};
use std::io::Write;

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Protocol {
    Esl,
    Ami,
}

/// Counts of what a decode run saw.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct DecodeSummary {
    pub frames: usize,
    pub errors: usize,
}

fn text(b: &[u8]) -> Value {
    Value::String(String::from_utf8_lossy(b).into_owned())
}

/// Decodes a whole ESL capture, writing one JSON object per line.
pub fn decode_esl(input: &[u8], out: &mut impl Write) -> std::io::Result<DecodeSummary> {
    let data = Bytes::copy_from_slice(input);
    let mut pos = 0;
    let mut summary = DecodeSummary::default();
    while pos < data.len() {
        if data[pos..].iter().all(|&b| b == b'\n') {
            break;
        }
        summary.frames += 1;
        let n = summary.frames;
        let line = match scan_frame(&data[pos..], DEFAULT_MAX_CONTENT_LENGTH) {
            Ok(Scan::Frame(bounds)) => {
                let frame_bytes = data.slice(pos..pos + bounds.total());
                let at = pos;
                pos += bounds.total();
                match EslFrame::from_bytes(frame_bytes, &bounds).and_then(|f| frame_json(n, f)) {
                    Ok(v) => v,
                    Err(e) => {
                        summary.errors += 1;
                        json!({"frame": n, "offset": at, "error": format!("at byte {at}: {e}")})
                    }
                }
            }
            Ok(incomplete) => {
                summary.errors += 1;
                let have = data.len() - pos;
                let msg = match incomplete {
                    Scan::NeedBody(b) => format!(
                        "at byte {pos}: capture ends inside a frame: Content-Length {} but only {} body bytes follow",
                        b.content_length.unwrap_or(0),
                        have.saturating_sub(b.skip + b.header_len)
                    ),
                    _ => format!(
                        "at byte {pos}: capture ends inside a header section ({have} bytes, no blank line)"
                    ),
                };
                let v = json!({"frame": n, "offset": pos, "error": msg});
                writeln!(out, "{v}")?;
                break;
            }
            Err(e) => {
                summary.errors += 1;
                let at = pos;
                pos = resync(&data, pos + 1);
                json!({"frame": n, "offset": at, "error": format!("at byte {at}: {e}"), "resumed_at": pos})
            }
        };
        writeln!(out, "{line}")?;
    }
    Ok(summary)
}

/// The next place after `from` where a frame plausibly starts: a line that
/// begins with `Content-Type:` or `Content-Length:` right after a blank line.
fn resync(data: &[u8], from: usize) -> usize {
    let mut at = from;
    while let Some(i) = memchr::memmem::find(&data[at.min(data.len())..], b"\n\nContent-") {
        let start = at + i + 2;
        let rest = &data[start..];
        if rest.starts_with(b"Content-Type:") || rest.starts_with(b"Content-Length:") {
            return start;
        }
        at = start;
    }
    data.len()
}

fn frame_json(n: usize, frame: EslFrame) -> Result<Value, crate::switch::esl::EslError> {
    let mut v = json!({
        "frame": n,
        "content_type": frame.content_type().map(text),
        "headers": frame.headers.to_json(),
        "body": frame.body.as_deref().map(text),
    });
    if let EslMessage::Event(ev) = EslMessage::from_frame(frame)? {
        v["event"] = json!({
            "headers": ev.headers.to_json(),
            "body": ev.body.as_deref().map(text),
        });
        v["call_event"] = match mapping::call_event(&ev) {
            Some(ce) => serde_json::to_value(ce).unwrap_or(Value::Null),
            None => Value::Null,
        };
    }
    Ok(v)
}

/// Decodes a whole AMI capture (what Asterisk sent), one JSON line per
/// banner or packet. A packet it cannot read is reported with its offset;
/// decoding resumes after the next empty line.
pub fn decode_ami(input: &[u8], out: &mut impl Write) -> std::io::Result<DecodeSummary> {
    use crate::switch::ami::frame::{AmiPacket, AmiScan, PacketKind, scan};
    use crate::switch::ami::mapping;
    let data = Bytes::copy_from_slice(input);
    let mut pos = 0;
    let mut summary = DecodeSummary::default();
    loop {
        while pos < data.len() && matches!(data[pos], b'\r' | b'\n') && pos > 0 {
            pos += 1;
        }
        if pos >= data.len() {
            break;
        }
        summary.frames += 1;
        let n = summary.frames;
        let line = match scan(&data[pos..], pos == 0) {
            Ok(AmiScan::Banner { len }) => {
                let v = json!({"frame": n, "content_type": "banner", "headers": {}, "body": text(data[pos..pos + len].trim_ascii_end())});
                pos += len;
                v
            }
            Ok(AmiScan::Packet { len, output }) => {
                let at = pos;
                let bytes = data.slice(pos..pos + len);
                pos += len;
                match AmiPacket::from_bytes(bytes, output) {
                    Ok(p) => {
                        let kind = match p.kind() {
                            PacketKind::Response(_) => "response",
                            PacketKind::Event(_) => "event",
                            PacketKind::Action(_) => "action",
                            PacketKind::Unknown => "unknown",
                        };
                        let mut v = json!({
                            "frame": n,
                            "content_type": kind,
                            "headers": p.headers.to_json(),
                            "body": p.output.as_deref().map(text),
                        });
                        if kind == "event" {
                            v["call_event"] = mapping::call_event(&p)
                                .and_then(|ce| serde_json::to_value(ce).ok())
                                .unwrap_or(Value::Null);
                        }
                        v
                    }
                    Err(e) => {
                        summary.errors += 1;
                        json!({"frame": n, "offset": at, "error": format!("at byte {at}: {e}")})
                    }
                }
            }
            Ok(AmiScan::Incomplete) => {
                summary.errors += 1;
                let have = data.len() - pos;
                let v = json!({"frame": n, "offset": pos, "error": format!("at byte {pos}: capture ends inside a packet ({have} bytes, no empty line)")});
                writeln!(out, "{v}")?;
                break;
            }
            Err(e) => {
                summary.errors += 1;
                let at = pos;
                pos = match memchr::memmem::find(&data[pos..], b"\n\r\n")
                    .or_else(|| memchr::memmem::find(&data[pos..], b"\n\n"))
                {
                    Some(i) => pos + i + 1,
                    None => data.len(),
                };
                json!({"frame": n, "offset": at, "error": format!("at byte {at}: {e}"), "resumed_at": pos})
            }
        };
        writeln!(out, "{line}")?;
    }
    Ok(summary)
}
