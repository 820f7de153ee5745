/// Errors of the node.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Socket or process I/O.
    #[error("i/o: {0}")]
    Io(#[from] std::io::Error),
    /// The DApp raised an exception or exited: the machine cannot go on.
    #[error("the DApp is dead: {0}")]
    DappDead(String),
    /// A JSON-RPC call failed.
    #[error("chain: {0}")]
    Rpc(#[from] alloy::transports::TransportError),
    /// A transaction could not be confirmed.
    #[error("chain: {0}")]
    PendingTx(#[from] alloy::providers::PendingTransactionError),
    /// A sent transaction had no receipt after the wait (the endpoint dropped it, or the
    /// chain is congested); sending again is up to the caller.
    #[error("transaction {tx} not mined after {waited:?}")]
    Unconfirmed {
        /// The transaction's hash.
        tx: alloy::primitives::B256,
        /// How long it was waited for.
        waited: std::time::Duration,
    },
    /// A contract call failed.
    #[error("contract: {0}")]
    Contract(#[from] alloy::contract::Error),
    /// A transaction reverted or deployed nothing.
    #[error("reverted: {0}")]
    Reverted(String),
    /// anvil did not start or answer.
    #[error("anvil: {0}")]
    Anvil(String),
    /// A contract artifact is missing or malformed.
    #[error("artifact {0}")]
    Artifact(String),
    /// The chain lacks a Cartesi Rollups v2.2.0 contract at its canonical address.
    #[error(
        "chain {chain_id} has no {name} at its canonical address {address}: it does not have Cartesi Rollups v2.2.0 (on a development chain, deploy them first: crucible-node deploy --devnet)"
    )]
    NoCanonicalContracts {
        /// The contract's name.
        name: &'static str,
        /// Its canonical address.
        address: alloy::primitives::Address,
        /// The chain.
        chain_id: u64,
    },
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

/// Result with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;
