/// Errors of the node.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Socket or process I/O.
    #[error("i/o: {0}")]
    Io(#[from] std::io::Error),
    /// The DApp raised an exception or exited: the machine cannot go on.
    #[error("the DApp is dead: {0}")]
    DappDead(String),
    /// The DApp did not reach its first `/finish` in time.
    #[error("the DApp did not call /finish within {0:?}")]
    NotReady(std::time::Duration),
}

/// Result with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;
