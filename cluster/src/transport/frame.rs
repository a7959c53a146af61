//! Length-prefixed frames on QUIC streams: a 4-byte big-endian length, then the body.
//!
//! The length is checked against the configured maximum *before* anything is allocated or read,
//! so a peer claiming a huge frame costs us four bytes, not its claimed size.

use quinn::{RecvStream, SendStream};

use super::TransportError;
pub use crate::serve::FRAME_TOO_LARGE;

/// Reads one frame of at most `max` bytes.
pub async fn read_frame(recv: &mut RecvStream, max: usize) -> Result<Vec<u8>, TransportError> {
    let mut header = [0u8; 4];
    recv.read_exact(&mut header).await.map_err(|e| TransportError::Stream(e.to_string()))?;
    let len = u32::from_be_bytes(header) as usize;
    if len > max {
        // Tell the sender to stop; never read the body.
        let _ = recv.stop(quinn::VarInt::from_u32(FRAME_TOO_LARGE));
        return Err(TransportError::FrameTooLarge { len, max });
    }
    let mut body = vec![0u8; len];
    recv.read_exact(&mut body).await.map_err(|e| TransportError::Stream(e.to_string()))?;
    Ok(body)
}

/// Writes one frame; refuses bodies over `max` (the peer would refuse them anyway).
pub async fn write_frame(send: &mut SendStream, body: &[u8], max: usize) -> Result<(), TransportError> {
    if body.len() > max {
        return Err(TransportError::FrameTooLarge { len: body.len(), max });
    }
    let len = u32::try_from(body.len()).map_err(|_| TransportError::FrameTooLarge { len: body.len(), max })?;
    send.write_all(&len.to_be_bytes()).await.map_err(|e| TransportError::Stream(e.to_string()))?;
    send.write_all(body).await.map_err(|e| TransportError::Stream(e.to_string()))?;
    Ok(())
}
