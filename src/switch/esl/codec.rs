//! tokio-util codecs: the client side (frames in, commands out) and the
//! server side used by the simulated switch (commands in, frames out).

use super::EslError;
use super::command::{ClientCommand, EslCommand, scan_client_command};
use super::frame::{DEFAULT_MAX_CONTENT_LENGTH, EslFrame, Scan, scan_frame};
use bytes::{BufMut, BytesMut};
use tokio_util::codec::{Decoder, Encoder};

/// The most the decoder reserves at once for a body still to come.
const RESERVE_STEP: usize = 1 << 20;

/// Reads what FreeSWITCH sends and writes dialpop's commands.
#[derive(Clone, Debug)]
pub struct EslClientCodec {
    max_content_length: usize,
}

impl Default for EslClientCodec {
    fn default() -> Self {
        EslClientCodec {
            max_content_length: DEFAULT_MAX_CONTENT_LENGTH,
        }
    }
}

impl EslClientCodec {
    pub fn with_max_content_length(max_content_length: usize) -> Self {
        EslClientCodec { max_content_length }
    }
}

impl Decoder for EslClientCodec {
    type Item = EslFrame;
    type Error = EslError;

    fn decode(&mut self, src: &mut BytesMut) -> Result<Option<EslFrame>, EslError> {
        match scan_frame(src, self.max_content_length)? {
            Scan::Frame(bounds) => {
                let bytes = src.split_to(bounds.total()).freeze();
                EslFrame::from_bytes(bytes, &bounds).map(Some)
            }
            Scan::NeedBody(bounds) => {
                // The length is known and bounded: make room in few steps
                // rather than read by read, but never reserve a peer-chosen
                // size in one go.
                let missing = bounds.total().saturating_sub(src.len());
                src.reserve(missing.min(RESERVE_STEP));
                Ok(None)
            }
            Scan::NeedHeaders => Ok(None),
        }
    }

    fn decode_eof(&mut self, src: &mut BytesMut) -> Result<Option<EslFrame>, EslError> {
        match self.decode(src)? {
            Some(frame) => Ok(Some(frame)),
            None if src.iter().all(|&b| b == b'\n') => Ok(None),
            None => Err(EslError::Truncated {
                buffered: src.len(),
            }),
        }
    }
}

impl Encoder<&EslCommand> for EslClientCodec {
    type Error = EslError;

    fn encode(&mut self, cmd: &EslCommand, dst: &mut BytesMut) -> Result<(), EslError> {
        let text = cmd.to_wire()?;
        dst.reserve(text.len());
        dst.put_slice(text.as_bytes());
        Ok(())
    }
}

/// The switch's side: reads client commands, writes raw frames.
#[derive(Clone, Debug, Default)]
pub struct EslServerCodec;

impl Decoder for EslServerCodec {
    type Item = ClientCommand;
    type Error = EslError;

    fn decode(&mut self, src: &mut BytesMut) -> Result<Option<ClientCommand>, EslError> {
        match scan_client_command(src)? {
            Some((consumed, cmd)) => {
                let _ = src.split_to(consumed);
                Ok(Some(cmd))
            }
            None => Ok(None),
        }
    }
}

impl Encoder<&[u8]> for EslServerCodec {
    type Error = EslError;

    fn encode(&mut self, frame: &[u8], dst: &mut BytesMut) -> Result<(), EslError> {
        dst.put_slice(frame);
        Ok(())
    }
}
