use alloy_primitives::Address;

/// Everything that can be wrong with bytes handed to this crate.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    /// A binary CID that is not 36 bytes of CIDv1, raw codec, sha2-256.
    #[error(
        "CID must be 36 bytes of CIDv1/raw/sha2-256 (0x01 0x55 0x12 0x20 + digest), got {len} bytes starting {prefix}"
    )]
    CidBinary {
        /// Length of the bytes received.
        len: usize,
        /// Up to the first four bytes, hex.
        prefix: String,
    },
    /// A textual CID that does not parse.
    #[error("invalid CID {text:?}: {why}")]
    CidText {
        /// The text received (truncated to 80 characters).
        text: String,
        /// What is wrong with it.
        why: &'static str,
    },
    /// A portal payload shorter than its fixed header.
    #[error("{portal} deposit payload is {len} bytes, shorter than its {min}-byte header")]
    DepositTooShort {
        /// Which portal's layout was expected.
        portal: &'static str,
        /// Length received.
        len: usize,
        /// Minimum length.
        min: usize,
    },
    /// An input whose sender is not the portal it claims to come from.
    #[error("deposit sent by {sender}, not by a known portal")]
    NotAPortal {
        /// The input's `msg_sender`.
        sender: Address,
    },
}

/// Result with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;
