//! ESL: arbitrary bytes from "FreeSWITCH", cut into arbitrary reads, through
//! the codec the daemon reads its socket with (`EslClientCodec`, as
//! `ReadSide::next_frame` drives it: `decode` after every read, then
//! `decode_eof`), then through `EslMessage::from_frame` and the mapping to
//! `CallEvent`s, as the reader task does.
//!
//! Input: the first byte chooses how the rest is cut into reads (bits 0-3
//! and 6) and whether the simulator's server-side codec is tried as well
//! (bit 7); the rest is the stream.
//!
//! Invariants:
//! - nothing panics;
//! - a frame consumes at least one byte and never more than is buffered; an
//!   "incomplete" consumes nothing;
//! - the frames (and the error or clean end that follows them) are the same
//!   whether the stream came in one read or in many (the parser is a pure
//!   function of the bytes so far; this is what makes it safe on TCP);
//! - an event-plain event serialized with `to_plain` parses back to the same
//!   headers and body (the simulator writes events that way);
//! - a call event always has a non-empty call id.

#![no_main]

use bytes::{Bytes, BytesMut};
use dialpop::switch::esl::event::parse_event_plain;
use dialpop::switch::esl::frame::{DEFAULT_MAX_CONTENT_LENGTH, Scan, scan_frame};
use dialpop::switch::esl::{EslClientCodec, EslFrame, EslMessage, EslServerCodec, mapping};
use libfuzzer_sys::fuzz_target;
use tokio_util::codec::Decoder;

/// Cuts `data` into reads: `sel & 15` cuts at places a little PRNG seeded
/// by `sel` picks, or (bit 6, short inputs) one read per byte. Bounded, so
/// that a long input is not rescanned from its start thousands of times.
fn reads(sel: u8, data: &[u8]) -> Vec<&[u8]> {
    if sel & 0x40 != 0 && data.len() <= 128 {
        return data.chunks(1).collect();
    }
    let mut state = (u32::from(sel) << 16 | data.len() as u32).wrapping_mul(2_654_435_761) | 1;
    let mut cuts: Vec<usize> = (0..sel & 15)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 17;
            state ^= state << 5;
            state as usize % (data.len() + 1)
        })
        .collect();
    cuts.sort_unstable();
    cuts.dedup();
    let mut out = Vec::with_capacity(cuts.len() + 1);
    let mut from = 0;
    for c in cuts {
        out.push(&data[from..c]);
        from = c;
    }
    out.push(&data[from..]);
    out.retain(|r| !r.is_empty());
    out
}

#[derive(Debug, PartialEq)]
struct Outcome<T> {
    items: Vec<T>,
    /// `clean`, or the error's text.
    end: String,
}

/// Feeds the reads to `codec` as a socket reader does and collects what it
/// yields until the end of the stream or the first error (which drops the
/// connection).
fn drive<D>(mut codec: D, reads: &[&[u8]], consumes_on_none: bool) -> Outcome<D::Item>
where
    D: Decoder,
    D::Error: std::fmt::Display,
{
    let mut buf = BytesMut::new();
    let mut items = Vec::new();
    for read in reads {
        buf.extend_from_slice(read);
        loop {
            let before = buf.len();
            match codec.decode(&mut buf) {
                Ok(Some(item)) => {
                    assert!(buf.len() < before, "an item that consumed nothing");
                    items.push(item);
                }
                Ok(None) => {
                    if !consumes_on_none {
                        assert_eq!(buf.len(), before, "'incomplete' consumed bytes");
                    }
                    break;
                }
                Err(e) => {
                    return Outcome {
                        items,
                        end: e.to_string(),
                    };
                }
            }
        }
    }
    loop {
        match codec.decode_eof(&mut buf) {
            Ok(Some(item)) => items.push(item),
            Ok(None) => {
                return Outcome {
                    items,
                    end: "clean".into(),
                };
            }
            Err(e) => {
                return Outcome {
                    items,
                    end: e.to_string(),
                };
            }
        }
    }
}

fn pairs(h: &dialpop::switch::headers::Headers) -> Vec<(Vec<u8>, Vec<u8>)> {
    h.iter().map(|(k, v)| (k.to_vec(), v.to_vec())).collect()
}

fn check_frame(frame: &EslFrame) {
    let plain = frame.content_type() == Some(b"text/event-plain");
    let Ok(msg) = EslMessage::from_frame(frame.clone()) else {
        return;
    };
    let EslMessage::Event(ev) = msg else {
        return;
    };
    if let Some(ce) = mapping::call_event(&ev) {
        assert!(!ce.call_id.0.is_empty(), "call event without a call id");
    }
    if let Some(job) = mapping::job_result(&ev) {
        assert!(!job.job_uuid.is_empty());
    }
    // A value that decodes to the literal `_undef_` comes back empty: that
    // is FreeSWITCH's own marker, so the round trip cannot hold for it.
    if plain && ev.headers.iter().all(|(_, v)| v != b"_undef_") {
        let again = parse_event_plain(Bytes::from(ev.to_plain()))
            .unwrap_or_else(|e| panic!("to_plain output does not parse: {e}"));
        assert_eq!(pairs(&ev.headers), pairs(&again.headers), "headers changed");
        assert_eq!(ev.body, again.body, "body changed");
    }
}

fuzz_target!(|input: &[u8]| {
    let Some((&sel, data)) = input.split_first() else {
        return;
    };

    // The parser on the whole input: its bounds never point past the buffer.
    match scan_frame(data, DEFAULT_MAX_CONTENT_LENGTH) {
        Ok(Scan::Frame(b)) => assert!(b.total() <= data.len()),
        Ok(Scan::NeedBody(b)) => assert!(b.total() > data.len()),
        Ok(Scan::NeedHeaders) | Err(_) => {}
    }

    let whole = drive(EslClientCodec::default(), &[data], false);
    let cut = drive(EslClientCodec::default(), &reads(sel, data), false);
    assert_eq!(whole, cut, "the frames depend on how the stream was cut");
    for frame in &whole.items {
        check_frame(frame);
    }

    // The simulated switch's side (commands from a client), on the same bytes.
    if sel & 0x80 != 0 {
        let whole = drive(EslServerCodec, &[data], false);
        let cut = drive(EslServerCodec, &reads(sel, data), false);
        assert_eq!(whole, cut, "the commands depend on how the stream was cut");
    }
});
