//! What a client of the node API meets.

use crate::rpc::RpcError;

/// A failed call to the node API.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The node did not answer (not running, wrong URL, connection lost).
    #[error("the node at {url} does not answer ({source}); is it running?")]
    Unavailable {
        /// The node's URL.
        url: String,
        /// What the HTTP client saw.
        #[source]
        source: reqwest::Error,
    },
    /// The node answered with a JSON-RPC error.
    #[error("{method}: {} ({})", .error.message, .error.code)]
    Rpc {
        /// The method called.
        method: String,
        /// The error object.
        error: RpcError,
    },
    /// The node answered something that is not the official shape.
    #[error("{what}: unexpected answer: {detail}")]
    Decode {
        /// The method or path.
        what: String,
        /// Why it does not decode.
        detail: String,
    },
    /// An inspect answer whose DApp report is not what the caller expected.
    #[error("inspect {path}: {detail}")]
    Inspect {
        /// The inspect path.
        path: String,
        /// What went wrong.
        detail: String,
    },
}

impl Error {
    /// Whether this is the node's "resource not found" (an index it has not processed yet,
    /// or another application's name).
    pub fn is_not_found(&self) -> bool {
        matches!(self, Self::Rpc { error, .. } if error.code == crate::rpc::code::RESOURCE_NOT_FOUND)
    }
}

/// A node API result.
pub type Result<T, E = Error> = std::result::Result<T, E>;
