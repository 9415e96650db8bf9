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

use bytes::Bytes;
use dialpop::switch::esl::event::parse_event_plain;
use dialpop::switch::esl::frame::{DEFAULT_MAX_CONTENT_LENGTH, Scan, scan_frame};
use dialpop::switch::esl::{EslClientCodec, EslFrame, EslMessage, EslServerCodec, mapping};
use dialpop_fuzz::{nothing, drive, reads};
use libfuzzer_sys::fuzz_target;

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

    let whole = drive(EslClientCodec::default(), &[data], nothing);
    let cut = drive(EslClientCodec::default(), &reads(sel, data), nothing);
    assert_eq!(whole, cut, "the frames depend on how the stream was cut");
    for frame in &whole.items {
        check_frame(frame);
    }

    // The simulated switch's side (commands from a client), on the same bytes.
    if sel & 0x80 != 0 {
        let whole = drive(EslServerCodec, &[data], nothing);
        let cut = drive(EslServerCodec, &reads(sel, data), nothing);
        assert_eq!(whole, cut, "the commands depend on how the stream was cut");
    }
});
