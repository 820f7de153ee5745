//! Inspect answers: what the DApp reports for each inspect path, as types the state
//! machine produces and every reader (CLI, web page, tests) decodes. Each answer is one
//! JSON document in one report; a path or id that names nothing answers [`ErrorAnswer`].

use crate::Cid;
use alloy_primitives::{Address, B256, U256};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// The paths the DApp answers.
pub const PATHS: &str = "status, competitions, competition/<id>, leaderboard/<id>, submission/<id>/<priority>, blob/<cid>, balance/<address>";

/// `{"error": "..."}`: the path or id names nothing.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorAnswer {
    /// Why.
    pub error: String,
}

/// An inspect answer: `T`, or an error.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Answer<T> {
    /// The path names nothing.
    Error(ErrorAnswer),
    /// The answer.
    Ok(T),
}

impl<T> Answer<T> {
    /// The answer, or the DApp's reason as the error.
    pub fn into_result(self) -> Result<T, String> {
        match self {
            Self::Ok(v) => Ok(v),
            Self::Error(e) => Err(e.error),
        }
    }
}

/// `status`: the state machine as a whole.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StatusAnswer {
    /// The state hash every replica agrees on.
    pub state_hash: B256,
    /// Competitions created.
    pub competitions: u64,
    /// Blobs stored.
    pub blobs: u64,
    /// Bytes of blobs stored.
    pub stored_bytes: u64,
    /// Bytes reserved for hidden test sets.
    pub reserved_bytes: u64,
    /// The storage cap.
    pub max_stored_bytes: u64,
    /// The state machine's configuration.
    pub config: serde_json::Value,
}

/// One row of `competitions`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CompetitionSummary {
    /// Its id.
    pub id: u64,
    /// Who escrowed the reward.
    pub sponsor: Address,
    /// The reward's token.
    pub token: Address,
    /// The escrowed reward.
    pub reward: U256,
    /// The metric's name (`accuracy`, `mse`, …).
    pub metric: String,
    /// The public validation set.
    pub validation_cid: Cid,
    /// No commitments after this time (seconds).
    pub submission_deadline: u64,
    /// No reveals after this time (seconds).
    pub reveal_deadline: u64,
    /// Live entries.
    pub submissions: u64,
    /// Whether the sponsor revealed the hidden test set.
    pub test_set_revealed: bool,
    /// Whether it paid out.
    pub finalized: bool,
}

/// One row of `leaderboard/<id>`, best first.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LeaderboardEntry {
    /// 1 for the best.
    pub rank: u64,
    /// The entry's priority (its commitment's input index): earlier wins ties within ε.
    pub priority: u64,
    /// Who submitted it.
    pub submitter: Address,
    /// The model.
    pub model_cid: Cid,
    /// Its validation score, in parts per million.
    pub score_ppm: u64,
    /// Rows scored.
    pub samples: u64,
    /// Rows correct (classification).
    pub correct: u64,
}

/// A score as the state machine records it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScoreView {
    /// The metric, in parts per million.
    pub value_ppm: u64,
    /// Rows scored.
    pub samples: u64,
    /// Rows counted correct.
    pub correct: u64,
}

/// A submission commitment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CommitmentView {
    /// Who committed.
    pub submitter: Address,
    /// Its priority (the commitment's input index).
    pub priority: u64,
    /// Whether the model was revealed (and scored).
    pub revealed: bool,
}

/// One payout of a finalized competition.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WinnerView {
    /// The entry.
    pub priority: u64,
    /// Who is paid.
    pub submitter: Address,
    /// The score the payout rests on (test set if revealed, else validation).
    pub score_ppm: u64,
    /// The amount.
    pub amount: U256,
}

/// How a competition ended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FinalizationView {
    /// Whether the hidden test set ranked the finalists.
    pub test_set_used: bool,
    /// The payouts, in rank order.
    pub winners: Vec<WinnerView>,
    /// What went back to the sponsor.
    pub refund: U256,
    /// The input that paid out.
    pub at_input: u64,
}

/// `competition/<id>`: a competition's rules, entries and outcome.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CompetitionAnswer {
    /// Its id.
    pub id: u64,
    /// Who escrowed the reward.
    pub sponsor: Address,
    /// The reward's token.
    pub token: Address,
    /// The escrowed reward.
    pub reward: U256,
    /// Creation time (seconds).
    pub created_at: u64,
    /// The metric's name.
    pub metric: String,
    /// The public validation set.
    pub validation_cid: Cid,
    /// The sponsor's baseline model and its score, if any.
    pub baseline: Option<(Cid, ScoreView)>,
    /// The hidden test set's commitment.
    pub test_commitment: B256,
    /// No commitments after this time.
    pub submission_deadline: u64,
    /// No reveals after this time.
    pub reveal_deadline: u64,
    /// The improvement an entry needs over an earlier one, in ppm.
    pub epsilon_ppm: u32,
    /// Each rank's share of the reward, in basis points.
    pub payout_bps: Vec<u16>,
    /// Every submission commitment, by its hash.
    pub commitments: BTreeMap<B256, CommitmentView>,
    /// The live entries, best first.
    pub leaderboard: Vec<LeaderboardEntry>,
    /// How it ended, once it did.
    pub finalized: Option<FinalizationView>,
    /// Everything else the state machine records (limits, commitments, the finalize in
    /// progress…), as it records it.
    #[serde(flatten)]
    pub details: BTreeMap<String, serde_json::Value>,
}

/// `submission/<id>/<priority>`: one live entry.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SubmissionAnswer {
    /// Its priority.
    pub priority: u64,
    /// Its rank, if ranked.
    pub rank: Option<u64>,
    /// Who submitted it.
    pub submitter: Address,
    /// The model.
    pub model_cid: Cid,
    /// Its validation score.
    pub score: ScoreView,
    /// When it was scored (seconds).
    pub scored_at: u64,
    /// The rest of the record.
    #[serde(flatten)]
    pub details: BTreeMap<String, serde_json::Value>,
}

/// `blob/<cid>`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum BlobAnswer {
    /// Stored.
    Stored {
        /// The CID.
        cid: Cid,
        /// Bytes.
        size: u64,
        /// Who uploaded it.
        uploader: Address,
        /// The input that completed it.
        input_index: u64,
        /// When (seconds).
        stored_at: u64,
        /// How many competitions use it.
        used_by: u32,
    },
    /// Not stored.
    Missing {
        /// The CID.
        cid: Cid,
        /// Always false.
        stored: bool,
    },
}

/// `balance/<address>`: what the ledger holds for an account, by token.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BalanceAnswer {
    /// The account.
    pub account: Address,
    /// Token → amount.
    pub balances: BTreeMap<Address, U256>,
}
