//! What the `crucible-node` binary prints on stdout, for whoever starts it.

use alloy_primitives::{Address, B256};
use serde::{Deserialize, Serialize};

/// `crucible-node run`'s one line once it serves.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Serving {
    /// The query API's base URL.
    pub http: String,
    /// Inputs replayed from the database into the fresh DApp.
    pub replayed_inputs: u64,
    /// How long that replay took, in milliseconds.
    pub replay_ms: f64,
}

/// `crucible-node deploy`'s document: where everything is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Deployed {
    /// The chain.
    pub chain_id: u64,
    /// The canonical InputBox.
    pub input_box: Address,
    /// The canonical EtherPortal.
    pub ether_portal: Address,
    /// The canonical ERC20Portal.
    pub erc20_portal: Address,
    /// The consensus (an Authority or a Quorum).
    pub consensus: Address,
    /// The application.
    pub application: Address,
    /// The reward token (`--devnet` only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token: Option<Address>,
    /// The application's template hash.
    pub template_hash: B256,
    /// The CREATE2 salt.
    pub salt: B256,
    /// Blocks per epoch.
    pub epoch_length: u64,
    /// The application's deployment block.
    pub block: u64,
}
