//! tokio-util codecs for AMI: the client side (banner and packets in,
//! actions out) and the server side the simulator uses (actions in).

use super::AmiError;
use super::frame::{AmiMessage, AmiPacket, AmiScan, scan};
use bytes::{BufMut, Bytes, BytesMut};
use tokio_util::codec::{Decoder, Encoder};

/// Skips empty lines between packets (proxies and some versions send them).
fn skip_blank_lines(src: &mut BytesMut) {
    let n = src
        .iter()
        .take_while(|&&b| b == b'\r' || b == b'\n')
        .count();
    // Keep a lone trailing CR: it may be the start of a CRLF pair whose LF
    // has not arrived, which is still just a blank line.
    let _ = src.split_to(n);
}

fn decode_packet(
    src: &mut BytesMut,
    at_start: bool,
    lenient: bool,
) -> Result<Option<AmiMessage>, AmiError> {
    if !at_start {
        skip_blank_lines(src);
    }
    match scan(src, at_start)? {
        AmiScan::Banner { len } => {
            let line = src.split_to(len);
            let text = String::from_utf8_lossy(&line).trim_end().to_string();
            Ok(Some(AmiMessage::Banner(text)))
        }
        AmiScan::Packet { len, output } => {
            let bytes: Bytes = src.split_to(len).freeze();
            let p = if lenient {
                AmiPacket::from_bytes_lenient(bytes, output)
            } else {
                AmiPacket::from_bytes(bytes, output)
            };
            p.map(|p| Some(AmiMessage::Packet(p)))
        }
        AmiScan::Incomplete => Ok(None),
    }
}

/// Reads what Asterisk sends; writes actions (already checked text).
#[derive(Clone, Debug)]
pub struct AmiClientCodec {
    at_start: bool,
}

impl Default for AmiClientCodec {
    fn default() -> Self {
        AmiClientCodec { at_start: true }
    }
}

impl Decoder for AmiClientCodec {
    type Item = AmiMessage;
    type Error = AmiError;

    fn decode(&mut self, src: &mut BytesMut) -> Result<Option<AmiMessage>, AmiError> {
        if src.is_empty() {
            return Ok(None);
        }
        let msg = decode_packet(src, self.at_start, false)?;
        if msg.is_some() {
            self.at_start = false;
        }
        Ok(msg)
    }

    fn decode_eof(&mut self, src: &mut BytesMut) -> Result<Option<AmiMessage>, AmiError> {
        match self.decode(src)? {
            Some(m) => Ok(Some(m)),
            None if src.iter().all(|&b| b == b'\r' || b == b'\n') => Ok(None),
            None => Err(AmiError::Truncated {
                buffered: src.len(),
            }),
        }
    }
}

/// An action as `Key: Value` pairs. Refuses CR or LF in anything, and keys
/// that are not plain words, so a value can never add a line.
pub fn encode_action(pairs: &[(&str, &str)], dst: &mut BytesMut) -> Result<(), AmiError> {
    for (k, v) in pairs {
        if k.is_empty()
            || !k
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        {
            return Err(AmiError::Unsendable {
                what: format!("key {k:?}"),
                problem: "must be letters, digits, - or _".into(),
            });
        }
        if v.bytes().any(|b| b == b'\r' || b == b'\n') {
            return Err(AmiError::Unsendable {
                what: format!("value of {k}"),
                problem: "contains CR or LF".into(),
            });
        }
    }
    for (k, v) in pairs {
        dst.put_slice(k.as_bytes());
        dst.put_slice(b": ");
        dst.put_slice(v.as_bytes());
        dst.put_slice(b"\r\n");
    }
    dst.put_slice(b"\r\n");
    Ok(())
}

impl Encoder<&[(&str, &str)]> for AmiClientCodec {
    type Error = AmiError;

    fn encode(&mut self, pairs: &[(&str, &str)], dst: &mut BytesMut) -> Result<(), AmiError> {
        encode_action(pairs, dst)
    }
}

/// The switch's side: reads actions (no banner), writes raw bytes.
#[derive(Clone, Debug, Default)]
pub struct AmiServerCodec;

impl Decoder for AmiServerCodec {
    type Item = AmiPacket;
    type Error = AmiError;

    fn decode(&mut self, src: &mut BytesMut) -> Result<Option<AmiPacket>, AmiError> {
        loop {
            // Lenient, as Asterisk reads actions.
            match decode_packet(src, false, true)? {
                Some(AmiMessage::Packet(p)) if p.headers.is_empty() => continue,
                Some(AmiMessage::Packet(p)) => return Ok(Some(p)),
                Some(AmiMessage::Banner(_)) => continue,
                None => return Ok(None),
            }
        }
    }
}

impl Encoder<&[u8]> for AmiServerCodec {
    type Error = AmiError;

    fn encode(&mut self, bytes: &[u8], dst: &mut BytesMut) -> Result<(), AmiError> {
        dst.put_slice(bytes);
        Ok(())
    }
}
