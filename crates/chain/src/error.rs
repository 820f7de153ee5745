use alloy::primitives::{Address, B256};
use std::time::Duration;

/// Errors of reading L1 and sending to it.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Process or file I/O (anvil, artifacts).
    #[error("i/o: {0}")]
    Io(#[from] std::io::Error),
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
        tx: B256,
        /// How long it was waited for.
        waited: Duration,
    },
    /// A contract call failed.
    #[error("contract: {0}")]
    Contract(#[from] alloy::contract::Error),
    /// A transaction reverted or deployed nothing.
    #[error("reverted: {0}")]
    Reverted(String),
    /// The address does not answer the calls of a Cartesi Rollups v2 Application.
    #[error("{app} does not answer as a Cartesi application: {reason}")]
    NotAnApplication {
        /// The address asked.
        app: Address,
        /// What the call answered.
        reason: String,
    },
    /// A log the filter selected does not decode as its event.
    #[error("a {event} log does not decode: {reason}")]
    BadLog {
        /// The event's signature.
        event: &'static str,
        /// Why.
        reason: String,
    },
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
        address: Address,
        /// The chain.
        chain_id: u64,
    },
}

impl Error {
    /// Whether the chain, not the request, failed: the endpoint did not answer, a
    /// transaction was not mined in time, a call failed on the way. Asking again later may
    /// succeed; the other errors are answers.
    pub fn is_transient(&self) -> bool {
        matches!(
            self,
            Self::Rpc(_) | Self::PendingTx(_) | Self::Contract(_) | Self::Unconfirmed { .. }
        )
    }
}

/// Result with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;
