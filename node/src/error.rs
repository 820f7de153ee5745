/// Errors of the node.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Socket or process I/O.
    #[error("i/o: {0}")]
    Io(#[from] std::io::Error),
    /// The DApp raised an exception or exited: the machine cannot go on.
    #[error("the DApp is dead: {0}")]
    DappDead(String),
    /// Reading L1 or sending to it failed.
    #[error(transparent)]
    Chain(#[from] crucible_chain::Error),
    /// Another node's query API failed (`validate --against`).
    #[error("the other node: {0}")]
    OtherNode(#[source] crucible_api::Error),
    /// The node's configuration cannot work.
    #[error("configuration: {0}")]
    BadConfig(String),
    /// An input or log on L1 is not what the InputBox writes.
    #[error("L1: {0}")]
    BadInput(String),
    /// The database failed.
    #[error("store: {0}")]
    Store(String),
    /// Replaying a stored input into a fresh DApp gave another result than the stored one.
    #[error("replay diverged at input {input}: stored root {stored}, recomputed {recomputed}")]
    Diverged {
        /// The input index.
        input: u64,
        /// The root the database holds after that input.
        stored: alloy::primitives::B256,
        /// The root the fresh DApp produced.
        recomputed: alloy::primitives::B256,
    },
    /// The chain holds a claim for an epoch with another root than the one this node computed.
    #[error("claim for block {block} on chain has root {theirs}, this node computed {ours}")]
    ClaimConflict {
        /// The epoch's last block.
        block: u64,
        /// This node's root.
        ours: alloy::primitives::B256,
        /// The root on chain.
        theirs: alloy::primitives::B256,
    },
    /// The consensus reverted `submitClaim`, for another reason than an existing claim.
    #[error(
        "the consensus refused the claim for block {block} (revert data {revert}): is the node's key the Authority's owner or one of the Quorum's validators?"
    )]
    ClaimRefused {
        /// The epoch's last block.
        block: u64,
        /// The revert data (a custom error's selector and arguments).
        revert: String,
    },
    /// A `submitClaim` was mined but reverted (the chain moved between its estimate and its
    /// inclusion); it is not recorded, and the next poll claims again.
    #[error("the claim for block {block} reverted on chain (transaction {tx}); claiming again")]
    ClaimReverted {
        /// The epoch's last block.
        block: u64,
        /// The reverted transaction.
        tx: alloy::primitives::B256,
    },
    /// The DApp did not reach its first `/finish` in time.
    #[error("the DApp did not call /finish within {0:?}")]
    NotReady(std::time::Duration),
}

impl From<alloy::transports::TransportError> for Error {
    fn from(e: alloy::transports::TransportError) -> Self {
        Self::Chain(e.into())
    }
}

impl From<alloy::contract::Error> for Error {
    fn from(e: alloy::contract::Error) -> Self {
        Self::Chain(e.into())
    }
}

impl From<alloy::providers::PendingTransactionError> for Error {
    fn from(e: alloy::providers::PendingTransactionError) -> Self {
        Self::Chain(e.into())
    }
}

/// Result with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;
