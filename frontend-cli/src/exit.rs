//! Exit codes, documented in `crucible --help`: 0 success; 1 a failure on the way (chain,
//! node, file system); 2 bad input (arguments, files, models, datasets); 3 the DApp
//! rejected an input (the reason is printed); 4 something needed is missing or not running
//! (a tool, a port, the chain, the node); 5 `crucible validate` found a divergence.

/// An error that chooses the exit code.
#[derive(Debug, thiserror::Error)]
pub(crate) enum Exit {
    /// Bad input: exit 2.
    #[error("{0}")]
    Invalid(String),
    /// The DApp rejected an input: exit 3.
    #[error("the DApp rejected input {input}: {reason}")]
    Rejected {
        /// The input's index.
        input: u64,
        /// The DApp's report.
        reason: String,
    },
    /// A tool, port, chain or node is missing: exit 4.
    #[error("{0}")]
    Unavailable(String),
    /// A replay disagrees with a claim on chain or with another node: exit 5.
    #[error("{0}")]
    Diverged(String),
}

/// Bad input, with what to do about it.
pub(crate) fn invalid(what: impl Into<String>) -> Exit {
    Exit::Invalid(what.into())
}

/// The exit code for an error.
pub fn code(err: &anyhow::Error) -> u8 {
    match err.downcast_ref::<Exit>() {
        Some(Exit::Invalid(_)) => 2,
        Some(Exit::Rejected { .. }) => 3,
        Some(Exit::Unavailable(_)) => 4,
        Some(Exit::Diverged(_)) => 5,
        None => 1,
    }
}
