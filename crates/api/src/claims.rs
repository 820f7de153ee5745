//! Crucible's `crucible_listClaims`: every claim on chain per epoch, next to the serving
//! node's own root.

use alloy_primitives::{Address, B256};

/// A claim the consensus logged (`ClaimSubmitted`), by any validator.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ChainClaim {
    /// The epoch's last block (`lastProcessedBlockNumber`).
    pub block: u64,
    /// Who submitted it.
    pub submitter: Address,
    /// The root it claims.
    pub root: B256,
    /// The transaction that carried it.
    pub tx: Option<B256>,
}

/// A root the consensus accepted for an epoch (`ClaimAccepted`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct AcceptedClaim {
    /// The epoch's last block.
    pub block: u64,
    /// The accepted root.
    pub root: B256,
    /// The transaction that made it accepted.
    pub tx: Option<B256>,
}

/// One epoch in `crucible_listClaims`: this node's root and every claim on chain.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct EpochClaims {
    /// The epoch's index (its last block divided by the epoch length).
    pub epoch_index: u64,
    /// Its last block (`lastProcessedBlockNumber` of its claims).
    pub last_block: u64,
    /// This node's outputs root at its end; `None` until the node has read it whole.
    pub root: Option<B256>,
    /// Every claim the consensus logged for it.
    pub claims: Vec<ChainClaim>,
    /// The root the consensus accepted, if it did.
    pub accepted: Option<AcceptedClaim>,
}

impl EpochClaims {
    /// The claims whose root differs from this node's (none until the epoch is read).
    pub fn divergent(&self) -> impl Iterator<Item = &ChainClaim> {
        self.claims
            .iter()
            .filter(|c| self.root.is_some_and(|r| r != c.root))
    }
}
