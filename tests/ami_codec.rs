//! The AMI codec against every shared AMI capture, random chunkings of the
//! same bytes, and malformed input.

use bytes::BytesMut;
use dialpop::switch::ami::frame::MAX_PACKET;
use dialpop::switch::ami::{AmiClientCodec, AmiError, AmiMessage, AmiPacket, PacketKind, mapping};
use dialpop::switch::{CallEventKind, HangupCause};
use proptest::prelude::*;
use tokio_util::codec::Decoder;

fn read(rel: &str) -> Vec<u8> {
    let p = format!("{}/../shared/fixtures/{rel}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read(&p).unwrap_or_else(|e| panic!("fixture {p} is required: {e}"))
}

fn decode_chunked(bytes: &[u8], sizes: &[usize]) -> (Vec<AmiMessage>, Option<AmiError>) {
    let mut codec = AmiClientCodec::default();
    let mut buf = BytesMut::new();
    let mut out = Vec::new();
    let (mut pos, mut i) = (0, 0);
    while pos < bytes.len() {
        let n = sizes[i % sizes.len()].max(1).min(bytes.len() - pos);
        i += 1;
        buf.extend_from_slice(&bytes[pos..pos + n]);
        pos += n;
        loop {
            match codec.decode(&mut buf) {
                Ok(Some(m)) => out.push(m),
                Ok(None) => break,
                Err(e) => return (out, Some(e)),
            }
        }
    }
    loop {
        match codec.decode_eof(&mut buf) {
            Ok(Some(m)) => out.push(m),
            Ok(None) => return (out, None),
            Err(e) => return (out, Some(e)),
        }
    }
}

fn decode_all(bytes: &[u8]) -> (Vec<AmiMessage>, Option<AmiError>) {
    decode_chunked(bytes, &[bytes.len().max(1)])
}

fn packets(msgs: Vec<AmiMessage>) -> Vec<AmiPacket> {
    msgs.into_iter()
        .filter_map(|m| match m {
            AmiMessage::Packet(p) => Some(p),
            AmiMessage::Banner(_) => None,
        })
        .collect()
}

/// Every server-side AMI capture and its number of messages (banner
/// included), as its README row describes.
const AMI_FIXTURES: &[(&str, usize)] = &[
    ("ami/login_ok.txt", 3),
    ("ami/login_failed.txt", 2),
    ("ami/challenge_md5.txt", 2),
    ("ami/logoff_goodbye.txt", 1),
    ("ami/ping_pong.txt", 1),
    ("ami/originate_queued_response.txt", 1),
    ("ami/originate_local_with_events_ast11.txt", 749),
    ("ami/command_follows_ast11.txt", 1),
    ("ami/command_follows_core_show_channels.txt", 1),
    ("ami/eventlist_pjsip_show_endpoint.txt", 7),
    ("ami/error_channel_does_not_exist.txt", 1),
    ("ami/asyncagi_percent_encoded_result.txt", 4),
    ("ami/newchannel_varset_newstate_ring.txt", 61),
    ("ami/originate_response_failure.txt", 1),
    ("ami/originate_invalid_channel_error.txt", 1),
    ("ami/newchannel_spec_example.txt", 1),
    ("ami/hangup_spec_example.txt", 1),
    ("ami/call_sequence_b_rejects.txt", 27),
    ("ami/newstate_ringing.txt", 1),
    ("ami/newstate_up.txt", 1),
    ("ami/dialbegin.txt", 1),
    ("ami/dialend_answer.txt", 1),
    ("ami/dialend_busy.txt", 1),
    ("ami/hangup_normal_clearing.txt", 1),
    ("ami/hangup_user_busy.txt", 1),
    ("ami/bridge_enter.txt", 1),
    ("ami/userevent.txt", 1),
    ("real/asterisk_answered.txt", 35),
    ("real/asterisk_agent_bridge.txt", 90),
];

#[test]
fn every_ami_fixture_decodes_completely() {
    let dir = format!("{}/../shared/fixtures/ami", env!("CARGO_MANIFEST_DIR"));
    for e in std::fs::read_dir(&dir)
        .expect("fixtures/ami is required")
        .flatten()
    {
        let name = format!("ami/{}", e.file_name().to_string_lossy());
        assert!(
            name.ends_with(".client.txt") || AMI_FIXTURES.iter().any(|(n, _)| *n == name),
            "new fixture {name} is not covered by this test"
        );
    }
    for (name, expected) in AMI_FIXTURES {
        let (msgs, err) = decode_all(&read(name));
        assert!(err.is_none(), "{name}: {err:?}");
        assert_eq!(msgs.len(), *expected, "{name}: message count");
        for p in packets(msgs) {
            assert!(
                !matches!(p.kind(), PacketKind::Unknown),
                "{name}: packet without Response/Event: {p:?}"
            );
        }
    }
}

#[test]
fn fixture_contents_are_read_correctly() {
    // The banner is a line of its own, not a packet.
    let (msgs, _) = decode_all(&read("real/asterisk_answered.txt"));
    assert_eq!(
        msgs[0],
        AmiMessage::Banner("Asterisk Call Manager/11.0.0".into())
    );
    // Legacy Follows: raw output kept, with its trailing spaces.
    let (msgs, _) = decode_all(&read("ami/command_follows_core_show_channels.txt"));
    let p = packets(msgs).remove(0);
    assert_eq!(p.kind(), PacketKind::Response("Follows".into()));
    assert_eq!(p.get("actionid"), Some(&b"generated_id"[..]));
    assert!(
        p.command_output()
            .starts_with("Channel              Location")
    );
    assert!(p.command_output().contains("2 calls processed"));
    // `ConnectedLineName:` with no space and no value is an empty value.
    let (msgs, _) = decode_all(&read("ami/newchannel_spec_example.txt"));
    assert_eq!(packets(msgs)[0].get("ConnectedLineName"), Some(&b""[..]));
    // Repeated keys are kept in order.
    let (msgs, _) = decode_all(&read("ami/eventlist_pjsip_show_endpoint.txt"));
    let ps = packets(msgs);
    assert_eq!(ps[0].get("EventList"), Some(&b"start"[..]));
    assert!(ps.last().is_some_and(|p| {
        p.get("EventList")
            .is_some_and(|v| v.eq_ignore_ascii_case(b"complete"))
    }));
}

#[test]
fn the_real_asterisk_call_maps_to_the_call_model() {
    let (msgs, _) = decode_all(&read("real/asterisk_answered.txt"));
    let dialer_side = "1795554353.8";
    let kinds: Vec<CallEventKind> = packets(msgs)
        .iter()
        .filter_map(mapping::call_event)
        .filter(|e| e.call_id.as_str() == dialer_side)
        .map(|e| e.kind)
        .collect();
    assert_eq!(
        kinds,
        [
            CallEventKind::Originated,
            CallEventKind::Ringing,
            CallEventKind::Answered,
            CallEventKind::HungUp {
                cause: HangupCause::NormalClearing
            }
        ]
    );
    // A busy callee (Cause 17) as Asterisk 13/15 reported it.
    let (msgs, _) = decode_all(&read("ami/hangup_user_busy.txt"));
    let e = packets(msgs)
        .iter()
        .find_map(mapping::call_event)
        .expect("hangup maps");
    assert_eq!(
        e.kind,
        CallEventKind::HungUp {
            cause: HangupCause::UserBusy
        }
    );
}

#[test]
fn bare_lf_and_limits() {
    let lf = b"Asterisk Call Manager/11.0.0\nResponse: Success\nActionID: 1\nMessage: Authentication accepted\n\n";
    let (msgs, err) = decode_all(lf);
    assert!(err.is_none());
    assert_eq!(
        packets(msgs)[0].get("Message"),
        Some(&b"Authentication accepted"[..])
    );
    let flood = vec![b'x'; MAX_PACKET + 100];
    let (_, err) = decode_chunked(&flood, &[4096]);
    assert!(
        matches!(
            err,
            Some(AmiError::PacketTooLarge { .. }) | Some(AmiError::MalformedLine { .. })
        ),
        "{err:?}"
    );
    let (_, err) = decode_all(b"Response: Success\r\nno colon here\r\n\r\n");
    assert!(
        matches!(err, Some(AmiError::MalformedLine { .. })),
        "{err:?}"
    );
    let (_, err) = decode_all(b"Event: Newchannel\r\nChannel: x");
    assert!(matches!(err, Some(AmiError::Truncated { .. })), "{err:?}");
}

#[test]
fn actions_refuse_line_breaks() {
    let mut dst = BytesMut::new();
    let bad = dialpop::switch::ami::codec::encode_action(
        &[
            ("Action", "Originate"),
            ("Variable", "X=1\r\nAction: Hangup"),
        ],
        &mut dst,
    );
    assert!(bad.is_err());
    assert!(dst.is_empty(), "nothing of a refused action is written");
    assert!(dialpop::switch::ami::codec::encode_action(&[("Bad Key", "v")], &mut dst).is_err());
    dialpop::switch::ami::codec::encode_action(&[("Action", "Ping"), ("ActionID", "7")], &mut dst)
        .expect("encodes");
    assert_eq!(&dst[..], b"Action: Ping\r\nActionID: 7\r\n\r\n");
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    #[test]
    fn chunking_does_not_change_packets(pick in 0..AMI_FIXTURES.len(), sizes in prop::collection::vec(1usize..5000, 1..20), tiny in any::<bool>()) {
        let bytes = read(AMI_FIXTURES[pick].0);
        let sizes: Vec<usize> = if tiny { sizes.iter().map(|s| s % 5 + 1).collect() } else { sizes };
        let (whole, e1) = decode_all(&bytes);
        let (chunked, e2) = decode_chunked(&bytes, &sizes);
        prop_assert!(e1.is_none() && e2.is_none());
        prop_assert_eq!(whole, chunked);
    }

    #[test]
    fn truncation_and_garbage_never_panic(pick in 0..AMI_FIXTURES.len(), cut in 0.0f64..1.0, noise in prop::collection::vec(any::<u8>(), 0..4096)) {
        let bytes = read(AMI_FIXTURES[pick].0);
        let at = ((bytes.len() as f64) * cut) as usize;
        let (whole, _) = decode_all(&bytes);
        let (part, _) = decode_all(&bytes[..at]);
        prop_assert!(part.len() <= whole.len());
        prop_assert_eq!(&whole[..part.len()], &part[..]);
        let _ = decode_chunked(&noise, &[61]);
    }
}
