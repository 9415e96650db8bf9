//! The ESL codec against every shared fixture, random chunkings of the same
//! bytes, and malformed input.

use bytes::{Bytes, BytesMut};
use dialpop::switch::esl::frame::{DEFAULT_MAX_CONTENT_LENGTH, MAX_HEADER_SECTION};
use dialpop::switch::esl::{EslClientCodec, EslError, EslFrame, EslMessage, mapping};
use dialpop::switch::{CallEventKind, HangupCause};
use proptest::prelude::*;
use std::path::PathBuf;
use tokio_util::codec::Decoder;

fn fixtures() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared/fixtures")
}

fn read(rel: &str) -> Vec<u8> {
    let p = fixtures().join(rel);
    std::fs::read(&p).unwrap_or_else(|e| panic!("fixture {} is required: {e}", p.display()))
}

/// Decodes a whole buffer fed at once; the error, if any, ends the list.
fn decode_all(bytes: &[u8]) -> (Vec<EslFrame>, Option<EslError>) {
    decode_chunked(bytes, &[bytes.len().max(1)])
}

/// Feeds `bytes` to the codec in chunks of the given sizes (cycled), as a
/// socket would deliver them, then signals EOF.
fn decode_chunked(bytes: &[u8], sizes: &[usize]) -> (Vec<EslFrame>, Option<EslError>) {
    let mut codec = EslClientCodec::default();
    let mut buf = BytesMut::new();
    let mut frames = Vec::new();
    let mut pos = 0;
    let mut i = 0;
    while pos < bytes.len() {
        let n = sizes[i % sizes.len()].max(1).min(bytes.len() - pos);
        i += 1;
        buf.extend_from_slice(&bytes[pos..pos + n]);
        pos += n;
        loop {
            match codec.decode(&mut buf) {
                Ok(Some(f)) => frames.push(f),
                Ok(None) => break,
                Err(e) => return (frames, Some(e)),
            }
        }
    }
    loop {
        match codec.decode_eof(&mut buf) {
            Ok(Some(f)) => frames.push(f),
            Ok(None) => return (frames, None),
            Err(e) => return (frames, Some(e)),
        }
    }
}

fn content_types(frames: &[EslFrame]) -> Vec<String> {
    frames
        .iter()
        .map(|f| String::from_utf8_lossy(f.content_type().unwrap_or(b"<none>")).into_owned())
        .collect()
}

fn messages(frames: Vec<EslFrame>) -> Vec<EslMessage> {
    frames
        .into_iter()
        .map(|f| {
            EslMessage::from_frame(f).unwrap_or_else(|e| panic!("frame does not classify: {e}"))
        })
        .collect()
}

/// Every ESL fixture but the one documented as broken, with the frames its
/// README row describes.
const ESL_FIXTURES: &[(&str, usize)] = &[
    ("esl/auth_request.txt", 1),
    ("esl/auth_accepted.txt", 1),
    ("esl/event_listener_enabled_plain.txt", 1),
    ("esl/bgapi_reply_job_uuid.txt", 1),
    (
        "esl/background_job_originate_err_recovery_on_timer_expire.plain",
        1,
    ),
    ("esl/inbound_session_bgapi_originate_failure.stream", 5),
    ("esl/outbound_connect_reply_channel_data.txt", 1),
    ("esl/linger_reply.txt", 1),
    ("esl/command_reply_ok.txt", 1),
    ("esl/api_response_ok.txt", 1),
    ("esl/channel_progress_media.plain", 1),
    ("esl/channel_create_outbound_leg.plain", 1),
    ("esl/channel_progress.plain", 1),
    ("esl/channel_answer.plain", 1),
    ("esl/channel_bridge.plain", 1),
    ("esl/channel_hangup_normal_clearing.plain", 1),
    ("esl/channel_unbridge.plain", 1),
    ("esl/channel_execute_complete.plain", 1),
    ("esl/disconnect_notice_linger.txt", 1),
    ("esl/exit_reply_and_disconnect_notice.stream", 2),
    ("esl/outbound_session_bridge_answered.stream", 27),
    ("esl/dtmf.plain", 1),
    ("real/freeswitch_answered.txt", 60),
    ("real/freeswitch_agent_bridge.txt", 103),
];

#[test]
fn every_esl_fixture_decodes_completely() {
    let listed: std::collections::BTreeSet<String> = std::fs::read_dir(fixtures().join("esl"))
        .expect("fixtures/esl is required")
        .filter_map(|e| e.ok())
        .map(|e| format!("esl/{}", e.file_name().to_string_lossy()))
        .collect();
    for name in &listed {
        assert!(
            ESL_FIXTURES.iter().any(|(n, _)| n == name) || name.contains("len_wrong"),
            "new fixture {name} is not covered by this test"
        );
    }
    for (name, expected) in ESL_FIXTURES {
        let bytes = read(name);
        let (frames, err) = decode_all(&bytes);
        assert!(err.is_none(), "{name}: {err:?}");
        assert_eq!(frames.len(), *expected, "{name}: frame count");
        let total: usize = frames.iter().map(|f| f.headers.len()).sum();
        assert!(total > 0, "{name}: no headers");
        for (i, m) in messages(frames).into_iter().enumerate() {
            if let EslMessage::Other(f) = m {
                panic!(
                    "{name} frame {i}: unclassified content type {:?}",
                    f.content_type()
                );
            }
        }
    }
}

#[test]
fn fixture_contents_are_read_correctly() {
    // BACKGROUND_JOB: inner headers decoded, inner body split off.
    let (frames, _) = decode_all(&read(
        "esl/background_job_originate_err_recovery_on_timer_expire.plain",
    ));
    let Some(EslMessage::Event(ev)) = messages(frames).pop() else {
        panic!("not an event")
    };
    assert!(ev.is("BACKGROUND_JOB"));
    assert_eq!(
        ev.body.as_deref(),
        Some(&b"-ERR RECOVERY_ON_TIMER_EXPIRE\n"[..])
    );
    let job = mapping::job_result(&ev).expect("a job result");
    assert!(!job.ok);
    assert_eq!(job.text, "RECOVERY_ON_TIMER_EXPIRE");

    // Outbound-mode connect reply: encoded values, Content-Type near the end.
    let (frames, _) = decode_all(&read("esl/outbound_connect_reply_channel_data.txt"));
    let Some(EslMessage::CommandReply { reply, headers }) = messages(frames).pop() else {
        panic!("not a command reply")
    };
    assert!(reply.ok);
    assert!(headers.len() > 100, "the whole channel event is kept");
    assert_eq!(headers.get("content-type"), Some(&b"command/reply"[..]));

    // Disconnect notice with its 67-byte body.
    let (frames, _) = decode_all(&read("esl/exit_reply_and_disconnect_notice.stream"));
    assert_eq!(
        content_types(&frames),
        ["command/reply", "text/disconnect-notice"]
    );
    assert_eq!(frames[1].body.as_ref().map(Bytes::len), Some(67));

    // The real FreeSWITCH 1.10.12 session maps to the call's life.
    let (frames, _) = decode_all(&read("real/freeswitch_answered.txt"));
    let a_leg = "b54943b3-2b93-4a3f-aba5-2bb639c8dd0e";
    let kinds: Vec<CallEventKind> = messages(frames)
        .into_iter()
        .filter_map(|m| match m {
            EslMessage::Event(ev) => mapping::call_event(&ev),
            _ => None,
        })
        .filter(|ce| ce.call_id.as_str() == a_leg)
        .map(|ce| ce.kind)
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
}

#[test]
fn duplicate_and_differently_cased_headers_are_kept() {
    let (frames, _) = decode_all(&read("real/freeswitch_answered.txt"));
    let Some(EslMessage::Event(codec)) = messages(frames).into_iter().nth(5) else {
        panic!("frame 5 is not an event")
    };
    assert!(codec.is("CODEC"));
    assert_eq!(codec.headers.get_all("Channel-Write-Codec-Name").count(), 2);
    assert_eq!(
        codec
            .headers
            .get_all("channel-write-codec-bit-rate")
            .count(),
        2
    );
    assert_eq!(codec.get("FreeSWITCH-IPv6"), Some(&b"fd00::2"[..]));
}

#[test]
fn documented_wrong_outer_length_is_reported() {
    let (frames, err) = decode_all(&read(
        "esl/background_job_originate_ok_doc_outer_len_wrong.plain",
    ));
    assert!(frames.is_empty());
    assert!(
        matches!(err, Some(EslError::Truncated { buffered: 635 })),
        "{err:?}"
    );
}

#[test]
fn limits_bound_memory() {
    // A header section with no end: an error once it passes the limit, not a
    // buffer that grows with the flood.
    let flood = vec![b'x'; MAX_HEADER_SECTION + 100];
    let (_, err) = decode_chunked(&flood, &[4096]);
    assert!(
        matches!(err, Some(EslError::HeaderTooLarge { .. })),
        "{err:?}"
    );
    // A Content-Length over the maximum is refused before any allocation.
    let mut codec = EslClientCodec::default();
    let mut buf = BytesMut::from(&b"Content-Length: 17000000\nContent-Type: api/response\n\n"[..]);
    let cap = buf.capacity();
    assert!(matches!(
        codec.decode(&mut buf),
        Err(EslError::ContentLengthTooLarge { .. })
    ));
    assert_eq!(buf.capacity(), cap);
    // Within the limit, the reservation is still stepped.
    let mut buf = BytesMut::from(&format!("Content-Length: {DEFAULT_MAX_CONTENT_LENGTH}\n\n")[..]);
    assert!(matches!(codec.decode(&mut buf), Ok(None)));
    assert!(buf.capacity() < 2 << 20, "reserved {}", buf.capacity());
}

#[test]
fn content_length_too_short_is_caught_at_the_next_frame() {
    let mut bytes = read("esl/api_response_ok.txt");
    let text = String::from_utf8_lossy(&bytes).replace("Content-Length: 4", "Content-Length: 1");
    bytes = text.into_bytes();
    bytes.extend_from_slice(&read("esl/auth_request.txt"));
    let (frames, err) = decode_all(&bytes);
    assert_eq!(frames.len(), 1);
    assert!(
        matches!(err, Some(EslError::MalformedHeader { .. })),
        "{err:?}"
    );
}

fn all_fixture_bytes() -> Vec<u8> {
    let mut all = Vec::new();
    for (name, _) in ESL_FIXTURES {
        all.extend_from_slice(&read(name));
    }
    all
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    /// Any chunking of the same bytes gives the same frames.
    #[test]
    fn chunking_does_not_change_frames(
        pick in 0..ESL_FIXTURES.len() + 1,
        sizes in prop::collection::vec(1usize..9000, 1..20),
        tiny in any::<bool>(),
    ) {
        let bytes = if pick == ESL_FIXTURES.len() { all_fixture_bytes() } else { read(ESL_FIXTURES[pick].0) };
        let sizes: Vec<usize> = if tiny { sizes.iter().map(|s| s % 7 + 1).collect() } else { sizes };
        let (whole, e1) = decode_all(&bytes);
        let (chunked, e2) = decode_chunked(&bytes, &sizes);
        prop_assert!(e1.is_none() && e2.is_none());
        prop_assert_eq!(whole, chunked);
    }

    /// Truncating a capture anywhere yields the frames before the cut and a
    /// truncation error, never a panic or a wrong frame.
    #[test]
    fn truncation_is_an_error(pick in 0..ESL_FIXTURES.len(), cut in 0.0f64..1.0) {
        let bytes = read(ESL_FIXTURES[pick].0);
        let at = ((bytes.len() as f64) * cut) as usize;
        let (whole, _) = decode_all(&bytes);
        let (frames, err) = decode_all(&bytes[..at]);
        prop_assert!(frames.len() <= whole.len());
        prop_assert_eq!(&whole[..frames.len()], &frames[..]);
        if frames.len() < whole.len() && !bytes[..at].is_empty() && err.is_none() {
            // No error: the cut fell exactly between two frames, so the
            // rest decodes to exactly the frames after them.
            let (rest, e) = decode_all(&bytes[at..]);
            prop_assert!(e.is_none());
            prop_assert_eq!(&whole[frames.len()..], &rest[..]);
        }
    }

    /// Arbitrary bytes, and fixtures with bytes flipped, never panic.
    #[test]
    fn garbage_never_panics(noise in prop::collection::vec(any::<u8>(), 0..4096), pick in 0..ESL_FIXTURES.len(), flips in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 0..16)) {
        let _ = decode_chunked(&noise, &[97]);
        let mut bytes = read(ESL_FIXTURES[pick].0);
        for (i, b) in flips {
            let at = i.index(bytes.len());
            bytes[at] = b;
        }
        let (frames, _) = decode_all(&bytes);
        for f in frames {
            let _ = EslMessage::from_frame(f);
        }
    }
}
