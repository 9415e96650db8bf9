//! AMI: arbitrary bytes from "Asterisk", cut into arbitrary reads, through
//! the codec the daemon reads its socket with (`AmiClientCodec`, as the
//! client's `ReadSide::next` drives it: `decode` after every read, then
//! `decode_eof`), then through the packet accessors and the mapping to
//! `CallEvent`s, as the driver does.
//!
//! Input: the first byte chooses how the rest is cut into reads (bits 0-3
//! and 6) and whether the simulator's server-side codec is tried as well
//! (bit 7); the rest is the stream.
//!
//! Invariants:
//! - nothing panics;
//! - a message consumes at least one byte and never more than is buffered;
//! - the messages (and the error or clean end that follows them) are the
//!   same whether the stream came in one read or in many;
//! - a packet written again with `to_wire` reads back to the same headers
//!   (the simulator writes packets that way);
//! - a call event always has a non-empty call id.

#![no_main]

use bytes::BytesMut;
use dialpop::switch::ami::frame::{AmiMessage, AmiPacket, AmiScan, MAX_PACKET, PacketKind, scan};
use dialpop::switch::ami::{AmiClientCodec, AmiServerCodec, mapping};
use dialpop_fuzz::{blank_lines, drive, reads};
use libfuzzer_sys::fuzz_target;
use tokio_util::codec::Decoder;

fn pairs(p: &AmiPacket) -> Vec<(Vec<u8>, Vec<u8>)> {
    p.headers
        .iter()
        .map(|(k, v)| (k.to_vec(), v.to_vec()))
        .collect()
}

fn check_packet(p: &AmiPacket) {
    let _ = p.kind();
    let _ = p.command_output();
    if let Some(ce) = mapping::call_event(p) {
        assert!(!ce.call_id.0.is_empty(), "call event without a call id");
    }
    // Written again and read by a client past its banner, the packet is the
    // same. Not for: the legacy Follows form (its output is raw text), a
    // packet whose first key starts with CR (only the first packet of a
    // session can, and a client skips a CR before a packet), or an empty one.
    let Some((k0, v0)) = p.headers.iter().next() else {
        return;
    };
    let follows = k0.eq_ignore_ascii_case(b"Response")
        && v0.len() >= 7
        && v0[..7].eq_ignore_ascii_case(b"Follows");
    if p.output.is_some() || follows || k0.first() == Some(&b'\r') {
        return;
    }
    let wire = p.to_wire();
    if wire.len() > MAX_PACKET {
        return;
    }
    let mut codec = AmiClientCodec::default();
    let mut buf = BytesMut::from(&b"Asterisk Call Manager/22.0.0\r\n"[..]);
    assert!(matches!(codec.decode(&mut buf), Ok(Some(AmiMessage::Banner(_)))));
    buf.extend_from_slice(&wire);
    match codec.decode(&mut buf) {
        Ok(Some(AmiMessage::Packet(again))) => {
            assert_eq!(pairs(p), pairs(&again), "to_wire changed the headers");
            assert!(buf.is_empty(), "to_wire wrote more than one packet");
        }
        other => panic!("to_wire output does not read back: {other:?}"),
    }
}

fuzz_target!(|input: &[u8]| {
    let Some((&sel, data)) = input.split_first() else {
        return;
    };

    // The parser on the whole input: a packet never ends past the buffer.
    for at_start in [true, false] {
        match scan(data, at_start) {
            Ok(AmiScan::Banner { len }) => assert!(len >= 1 && len <= data.len()),
            Ok(AmiScan::Packet { len, output }) => {
                assert!(len >= 1 && len <= data.len());
                if let Some((s, e)) = output {
                    assert!(s <= e && e <= len, "output outside its packet");
                }
            }
            Ok(AmiScan::Incomplete) | Err(_) => {}
        }
    }

    let whole = drive(AmiClientCodec::default(), &[data], blank_lines);
    let cut = drive(AmiClientCodec::default(), &reads(sel, data), blank_lines);
    assert_eq!(whole, cut, "the packets depend on how the stream was cut");
    for m in &whole.items {
        if let AmiMessage::Packet(p) = m {
            check_packet(p);
            if let PacketKind::Event(name) = p.kind() {
                assert!(!name.contains('\n'));
            }
        }
    }

    // The simulated switch's side (actions from a client), on the same bytes.
    if sel & 0x80 != 0 {
        let whole = drive(AmiServerCodec, &[data], blank_lines);
        let cut = drive(AmiServerCodec, &reads(sel, data), blank_lines);
        assert_eq!(whole, cut, "the actions depend on how the stream was cut");
    }
});
