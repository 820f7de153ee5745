//! The documents `crucible --json` prints, one type per command: the CLI builds them, and
//! whoever drives it (the demo, the end-to-end tests, a script) reads them with the same
//! types. Token amounts are decimal strings (they overflow JSON numbers).

use alloy::primitives::{Address, B256, U256};
use crucible_core::model::ModelInfo;
use crucible_types::Cid;
use serde::{Deserialize, Serialize};
use std::{collections::BTreeMap, path::PathBuf};

/// `crucible cid --json`: one row per file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileCid {
    /// The file.
    pub file: PathBuf,
    /// Its content identifier.
    pub cid: Cid,
}

/// `crucible upload --json`, `crucible data … --json`: what was stored or written.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Stored {
    /// Its size.
    pub bytes: u64,
    /// Its content identifier.
    pub cid: Cid,
    /// The file written (`data` conversions).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub file: Option<PathBuf>,
}

/// `crucible data info --json`: a dataset file and what validation learnt of it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DatasetFile {
    /// Its content identifier.
    pub cid: Cid,
    /// Its size.
    pub bytes: u64,
    /// Its rows, shapes and types.
    pub dataset: crucible_core::dataset::DatasetInfo,
}

/// `crucible devnet status --json`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct DevnetStatus {
    /// Whether anvil is up.
    pub anvil: bool,
    /// Whether every node is up.
    pub node: bool,
    /// Inputs the first node has processed (when it is up).
    pub processed_inputs: Option<u64>,
    /// The devnet's state file.
    pub devnet: crate::devnet_state::DevnetState,
}

/// `crucible competition create --json`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Created {
    /// The new competition.
    pub competition_id: u64,
    /// The deposit input that created it.
    pub input_index: u64,
    /// The reward escrowed, in the token's units.
    #[serde(with = "decimal")]
    pub reward: U256,
    /// The reward's token (`address(0)` for ether).
    pub token: Address,
    /// The validation set.
    pub validation_cid: Cid,
    /// The baseline model, if any.
    pub baseline_cid: Option<Cid>,
    /// The baseline's score on the validation set.
    pub baseline_score_ppm: Option<u64>,
    /// keccak256 of the hidden test set's CID and salt.
    pub test_commitment: B256,
    /// When submissions close (L1 time).
    pub submission_deadline: u64,
    /// When the test set must be revealed by.
    pub reveal_deadline: u64,
}

/// `crucible competition reveal --json`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Revealed {
    /// The competition.
    pub competition_id: u64,
    /// The test set revealed.
    pub test_cid: Cid,
    /// The reveal's input.
    pub input_index: u64,
}

/// `crucible competition finalize --json`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Finalized {
    /// The competition.
    pub competition_id: u64,
    /// The input that finished it.
    pub input_index: u64,
    /// Every `finalize` input it took (a large field is scored over several).
    pub steps: Vec<u64>,
    /// Payout vouchers emitted.
    pub vouchers: u64,
}

/// `crucible submit --json`: the submission as the DApp scored it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Submitted {
    /// The competition.
    pub competition_id: u64,
    /// Who submitted.
    pub submitter: Address,
    /// The model.
    pub model_cid: Cid,
    /// Its place in submission order (its commitment's).
    pub priority: u64,
    /// Its validation score.
    pub score_ppm: u64,
    /// Rows it got right.
    pub correct: u64,
    /// Rows scored.
    pub samples: u64,
    /// Its rank on the leaderboard, if it is on it.
    pub rank: Option<u64>,
    /// The earlier entry it predicts exactly as (a copy cannot be paid).
    pub copy_of: Option<u64>,
    /// The reveal's input.
    pub input_index: u64,
}

/// `crucible vouchers --json`: one row per payout voucher.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VoucherRow {
    /// The voucher's output index.
    pub index: u64,
    /// The contract called (the token), or the recipient of an ether voucher.
    pub destination: Address,
    /// Who gets paid.
    pub to: Address,
    /// The token (`address(0)` for ether).
    pub token: Address,
    /// How much.
    #[serde(with = "decimal")]
    pub amount: U256,
    /// Whether it was executed on L1.
    pub executed: bool,
    /// Whether the node has its proof (the consensus accepted a root that covers it).
    pub proof_ready: bool,
}

/// `crucible execute --json`: one row per voucher executed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Executed {
    /// The voucher's output index.
    pub index: u64,
    /// Who got paid.
    pub to: Address,
    /// The token (`address(0)` for ether).
    pub token: Address,
    /// How much.
    #[serde(with = "decimal")]
    pub amount: U256,
    /// Always true: a voucher that did not execute is an error.
    pub executed: bool,
    /// The `executeOutput` transaction.
    pub transaction: B256,
    /// The payee's balance before.
    #[serde(with = "decimal")]
    pub balance_before: U256,
    /// And after.
    #[serde(with = "decimal")]
    pub balance_after: U256,
}

/// `crucible balance --json`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Balance {
    /// Whose.
    pub account: Address,
    /// Ether on L1, in wei.
    #[serde(with = "decimal")]
    pub ether_wei: U256,
    /// The token asked for (or the devnet's).
    pub token: Option<Address>,
    /// Its L1 balance.
    #[serde(with = "decimal::option")]
    pub token_balance: Option<U256>,
    /// Balances held inside the DApp, per token.
    pub dapp_balances: BTreeMap<Address, U256>,
}

/// `crucible score --json`: a local evaluation, as the DApp would score it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Scored {
    /// The metric's name.
    pub metric: String,
    /// Its value in millionths.
    pub value_ppm: u64,
    /// Its value.
    pub value: f64,
    /// Rows scored.
    pub samples: u64,
    /// Rows right (classification metrics only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub correct: Option<u64>,
    /// The model.
    pub model_cid: Cid,
    /// The dataset.
    pub data_cid: Cid,
    /// What the model is.
    pub model: ModelInfo,
    /// The fastest pass, in seconds.
    pub seconds: f64,
    /// Seconds to load and validate the model.
    pub load_seconds: f64,
    /// Estimated RISC-V instructions of the evaluation.
    pub work: u64,
    /// The per-input budget.
    pub budget: u64,
    /// Whether the DApp would run it in one input.
    pub within_budget: bool,
}

/// `crucible devnet down --json`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Stopped {
    /// Whether a devnet was up.
    pub stopped: bool,
}

/// `crucible devnet time --json`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChainTime {
    /// The chain's time now.
    pub timestamp: u64,
}

/// One epoch's claims, as the demo summarises them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EpochAgreement {
    /// The epoch.
    pub epoch: u64,
    /// Validators that claimed the epoch's majority root.
    pub agreeing: u64,
    /// Claims logged.
    pub claims: u64,
    /// Whether the consensus accepted that root.
    pub accepted: bool,
}

/// What the demo's validators did: their claims, and a replay that holds them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Validation {
    /// Per epoch.
    pub epochs: Vec<EpochAgreement>,
    /// `crucible validate`'s report.
    pub replay: crucible_api::validate::Report,
}

/// A leaderboard row, with the demo's name for the submitter.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NamedEntry {
    /// The submitter.
    pub submitter: Address,
    /// Their name in the story.
    pub name: String,
    /// The model.
    pub model_cid: Cid,
    /// Its validation score.
    pub score_ppm: u64,
    /// 1-based.
    pub rank: u64,
    /// Its place in submission order.
    pub priority: u64,
}

/// A payout the demo executed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Paid {
    /// Who got paid.
    pub to: Address,
    /// Their name in the story.
    pub name: String,
    /// How much.
    #[serde(with = "decimal")]
    pub amount: U256,
    /// Executed on L1.
    pub executed: bool,
    /// The payee's token balance before.
    #[serde(with = "decimal")]
    pub balance_before: U256,
    /// And after.
    #[serde(with = "decimal")]
    pub balance_after: U256,
    /// The voucher's output index.
    pub output_index: u64,
}

/// `crucible demo --json`: the whole story.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Demo {
    /// The competition.
    pub competition_id: u64,
    /// Its metric.
    pub metric: String,
    /// The reward escrowed.
    #[serde(with = "decimal")]
    pub reward: U256,
    /// The final leaderboard (validation scores).
    pub leaderboard: Vec<NamedEntry>,
    /// Every submission, in order.
    pub submissions: Vec<Submitted>,
    /// The payouts, executed.
    pub payouts: Vec<Paid>,
    /// `crucible-trainer`'s own report of the live training run, if there was one.
    pub trained: Option<serde_json::Value>,
    /// The devnet's validators.
    pub validators: Vec<crate::devnet_state::Validator>,
    /// Their claims and the replay.
    pub validation: Validation,
}

/// A [`U256`] as a decimal string.
mod decimal {
    use alloy::primitives::U256;
    use serde::{Deserialize, Deserializer, Serializer, de::Error};

    pub(super) fn serialize<S: Serializer>(v: &U256, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(v)
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<U256, D::Error> {
        let text = String::deserialize(d)?;
        U256::from_str_radix(&text, 10)
            .map_err(|e| D::Error::custom(format!("{text:?} is not a decimal amount: {e}")))
    }

    /// An optional one (`null` for none).
    pub(super) mod option {
        use alloy::primitives::U256;
        use serde::{Deserialize, Deserializer, Serializer};

        pub(in super::super) fn serialize<S: Serializer>(
            v: &Option<U256>,
            s: S,
        ) -> Result<S::Ok, S::Error> {
            match v {
                Some(v) => s.collect_str(v),
                None => s.serialize_none(),
            }
        }

        pub(in super::super) fn deserialize<'de, D: Deserializer<'de>>(
            d: D,
        ) -> Result<Option<U256>, D::Error> {
            #[derive(Deserialize)]
            struct Wrapped(#[serde(with = "super")] U256);
            Ok(Option::<Wrapped>::deserialize(d)?.map(|w| w.0))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn amounts_are_decimal_strings_both_ways() {
        let big = U256::from(10u64).pow(U256::from(30u64)) + U256::from(7u64);
        let b = Balance {
            account: Address::repeat_byte(1),
            ether_wei: big,
            token: None,
            token_balance: Some(U256::from(5u64)),
            dapp_balances: BTreeMap::new(),
        };
        let text = serde_json::to_string(&b).unwrap();
        assert!(
            text.contains("\"ether_wei\":\"1000000000000000000000000000007\""),
            "{text}"
        );
        assert!(text.contains("\"token_balance\":\"5\""), "{text}");
        assert_eq!(serde_json::from_str::<Balance>(&text).unwrap(), b);
        let none = Balance {
            token_balance: None,
            ..b
        };
        let text = serde_json::to_string(&none).unwrap();
        assert!(text.contains("\"token_balance\":null"), "{text}");
        assert_eq!(serde_json::from_str::<Balance>(&text).unwrap(), none);
        let bad = text.replace("1000000000000000000000000000007", "0x10");
        let err = serde_json::from_str::<Balance>(&bad)
            .unwrap_err()
            .to_string();
        assert!(err.contains("is not a decimal amount"), "{err}");
    }
}
