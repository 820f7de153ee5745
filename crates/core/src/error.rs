use crucible_types::Cid;

/// A broken invariant of the state machine. Bad input never produces one of these: it
/// produces [`crate::Outcome::Rejected`]. The DApp maps an `Error` to `/exception`.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A blob the state refers to is missing from the store.
    #[error("blob {0} is referenced by the state but not stored")]
    MissingBlob(Cid),
    /// A stored dataset or model that was valid when accepted no longer parses.
    #[error("stored {what} {cid} no longer validates: {reason}")]
    StoredBlobInvalid {
        /// Which kind of blob.
        what: &'static str,
        /// Its CID.
        cid: Cid,
        /// The rejection it now produces.
        reason: String,
    },
    /// Serialising an inspect answer or the state snapshot failed.
    #[error("serialising state: {0}")]
    Serialize(#[from] serde_json::Error),
}

/// Result with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;
