//! The one place that knows the on-disk and on-wire binary encoding (bincode 2, serde mode).
//!
//! Everything svea persists or sends between nodes goes through [`encode`] and [`decode`], so the
//! encoding can be versioned or replaced in one module.

use serde::de::DeserializeOwned;
use serde::Serialize;

/// Errors of the binary codec.
#[derive(Debug, thiserror::Error)]
pub enum CodecError {
    /// A value could not be encoded.
    #[error("encode failed: {0}")]
    Encode(String),
    /// Bytes could not be decoded into the expected type.
    #[error("decode failed: {0}")]
    Decode(String),
    /// Bytes were left over after decoding a complete value.
    #[error("decode left {trailing} trailing bytes")]
    Trailing {
        /// How many bytes were not consumed.
        trailing: usize,
    },
}

fn config() -> impl bincode::config::Config {
    // Fixed-width little-endian integers are slightly larger than varints but make
    // frame sizes predictable; a limit guards against absurd length prefixes in corrupt input.
    bincode::config::standard().with_limit::<{ 64 * 1024 * 1024 }>()
}

/// Encodes a value.
pub fn encode<T: Serialize + ?Sized>(value: &T) -> Result<Vec<u8>, CodecError> {
    bincode::serde::encode_to_vec(value, config()).map_err(|e| CodecError::Encode(e.to_string()))
}

/// Decodes a whole buffer into one value; trailing bytes are an error.
pub fn decode<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, CodecError> {
    let (value, used) = bincode::serde::decode_from_slice(bytes, config())
        .map_err(|e| CodecError::Decode(e.to_string()))?;
    if used != bytes.len() {
        return Err(CodecError::Trailing { trailing: bytes.len() - used });
    }
    Ok(value)
}
