//! Why an input was rejected. A rejection is an outcome, not an error: the DApp answers
//! `/finish reject`, reports this text, and the state is left exactly as it was.

use alloy_primitives::{Address, U256};
use crucible_types::Cid;

/// The reason an input was refused; `Display` is the text the DApp reports.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Rejection {
    /// The payload is not a call of `ICrucible`.
    #[error("malformed input: {0}")]
    Malformed(String),
    /// A CID field that is not CIDv1 raw sha2-256.
    #[error("bad {field}: {reason}")]
    BadCid {
        /// Which argument.
        field: &'static str,
        /// The codec error.
        reason: String,
    },
    /// `createCompetition` sent directly instead of through a portal.
    #[error(
        "createCompetition must arrive as the execLayerData of an ERC20Portal or EtherPortal deposit (sender {0} is not a portal)"
    )]
    CreateWithoutDeposit(Address),
    /// A portal payload that does not decode.
    #[error("bad portal deposit: {0}")]
    BadDeposit(String),
    /// A `putChunk` that cannot be stored.
    #[error("chunk rejected: {0}")]
    Chunk(String),
    /// A `releaseBlob` that cannot free the blob.
    #[error("blob {cid} cannot be released: {why}")]
    Release {
        /// The blob.
        cid: Cid,
        /// Why not.
        why: String,
    },
    /// Money arithmetic that would overflow.
    #[error("refused: {0}")]
    Overflow(String),
    /// A blob the input names is not stored.
    #[error("{what} {cid} is not stored: upload it with putChunk first")]
    BlobNotStored {
        /// What the blob should be.
        what: &'static str,
        /// Its CID.
        cid: Cid,
    },
    /// A competition specification that cannot be accepted.
    #[error("invalid competition spec: {0}")]
    Spec(String),
    /// No competition with this id.
    #[error("unknown competition {0}")]
    UnknownCompetition(u64),
    /// The action is not allowed at this block time.
    #[error("competition {id}: {what}")]
    Timing {
        /// Competition id.
        id: u64,
        /// What is too early or too late.
        what: String,
    },
    /// The sender may not do this.
    #[error("competition {id}: {what}")]
    Unauthorized {
        /// Competition id.
        id: u64,
        /// What the sender may not do.
        what: String,
    },
    /// A commitment or reveal that does not match.
    #[error("competition {id}: {what}")]
    Submission {
        /// Competition id.
        id: u64,
        /// What is wrong.
        what: String,
    },
    /// A model that fails validation or evaluation.
    #[error("invalid model {cid}: {reason}")]
    Model {
        /// The model's CID.
        cid: Cid,
        /// Why.
        reason: String,
    },
    /// A dataset that fails validation, or does not fit the model or the metric.
    #[error("invalid dataset {cid}: {reason}")]
    Dataset {
        /// The dataset's CID.
        cid: Cid,
        /// Why.
        reason: String,
    },
    /// An input whose estimated work exceeds the per-input budget; nothing was run.
    #[error("{what} would cost {work} instructions of work, above {}", over(*budget, *half))]
    OverBudget {
        /// What would have been computed.
        what: String,
        /// The cost model's estimate, in RISC-V guest instructions.
        work: u64,
        /// [`crate::Config::max_input_work`].
        budget: u64,
        /// The limit is half the budget: one run of a model with its loading must fit it,
        /// so that a finalize step can always score the model next to the test set.
        half: bool,
    },
    /// A withdrawal larger than the balance.
    #[error("withdraw of {amount} of token {token}: balance is only {balance}")]
    InsufficientBalance {
        /// Token.
        token: Address,
        /// Requested.
        amount: U256,
        /// Available.
        balance: U256,
    },
    /// A request that is well-formed but not allowed for another reason.
    #[error("{0}")]
    Refused(String),
}

fn over(budget: u64, half: bool) -> String {
    if half {
        format!(
            "half the per-input budget ({}), which one run of a model with its loading must fit so that a finalize step can always score it",
            budget / 2
        )
    } else {
        format!("the per-input budget of {budget}")
    }
}
