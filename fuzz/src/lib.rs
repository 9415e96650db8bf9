//! What the decoder targets share: cutting a stream into reads, and
//! driving a codec over them as a socket reader does.

use bytes::BytesMut;
use tokio_util::codec::Decoder;

/// Cuts `data` into reads: `sel & 15` cuts at places a little PRNG seeded
/// by `sel` picks, or (bit 6, short inputs) one read per byte. Bounded, so
/// that a long input is not rescanned from its start thousands of times.
pub fn reads(sel: u8, data: &[u8]) -> Vec<&[u8]> {
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
pub struct Outcome<T> {
    pub items: Vec<T>,
    /// `clean`, or the error's text.
    pub end: String,
}

/// Feeds the reads to `codec` as a socket reader does and collects what it
/// yields until the end of the stream or the first error (which drops the
/// connection). An "incomplete" may consume at most `skippable(buffer)`
/// bytes (AMI drops blank lines between packets; ESL drops nothing).
pub fn drive<D>(mut codec: D, reads: &[&[u8]], skippable: fn(&[u8]) -> usize) -> Outcome<D::Item>
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
            let may_skip = skippable(&buf);
            match codec.decode(&mut buf) {
                Ok(Some(item)) => {
                    assert!(buf.len() < before, "an item that consumed nothing");
                    items.push(item);
                }
                Ok(None) => {
                    assert!(
                        before - buf.len() <= may_skip,
                        "'incomplete' consumed more than it may skip"
                    );
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

/// Nothing may be skipped.
pub fn nothing(_: &[u8]) -> usize {
    0
}

/// Blank lines before a packet may be skipped.
pub fn blank_lines(buf: &[u8]) -> usize {
    buf.iter().take_while(|&&b| b == b'\r' || b == b'\n').count()
}
