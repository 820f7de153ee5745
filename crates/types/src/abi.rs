//! The typed ABI. Every encode and decode of an input or a notice goes through here.
//!
//! The Solidity files under `contracts/src/` are the source of truth; `sol!` reads them at
//! compile time, so the Rust types cannot drift from the contracts the sponsors and
//! trainers call. Rollup output encodings (`Notice`, `Voucher`) and the ERC-20 `transfer`
//! used by payout vouchers are declared here because they belong to Cartesi and ERC-20.

#![allow(missing_docs)]

use alloy_sol_types::sol;

sol!(
    #![sol(all_derives)]
    "../../contracts/src/ICrucible.sol"
);

sol!(
    #![sol(all_derives)]
    "../../contracts/src/ICrucibleOutputs.sol"
);

sol! {
    #![sol(all_derives)]
    /// Cartesi Rollups v2 output encodings (`src/common/Outputs.sol`).
    interface Outputs {
        function Notice(bytes calldata payload) external;
        function Voucher(address destination, uint256 value, bytes calldata payload) external;
        function DelegateCallVoucher(address destination, bytes calldata payload) external;
    }

    /// Cartesi Rollups v2 input encoding (`src/common/Inputs.sol`).
    interface Inputs {
        function EvmAdvance(
            uint256 chainId,
            address appContract,
            address msgSender,
            uint256 blockNumber,
            uint256 blockTimestamp,
            uint256 prevRandao,
            uint256 index,
            bytes calldata payload
        ) external;
    }

    /// The one ERC-20 call a payout voucher makes.
    interface IERC20 {
        function transfer(address to, uint256 amount) external returns (bool);
    }
}

pub use ICrucible::{CompetitionSpec, ICrucibleCalls, Metric, ModelLimits};
pub use ICrucibleOutputs::ICrucibleOutputsCalls;

/// The preimage of a submission commitment: `keccak256(abi.encode(modelCid, sender, salt))`.
pub fn submission_commitment(
    model_cid: &[u8],
    sender: alloy_primitives::Address,
    salt: alloy_primitives::B256,
) -> alloy_primitives::B256 {
    use alloy_sol_types::SolValue;
    let encoded = (
        alloy_primitives::Bytes::copy_from_slice(model_cid),
        sender,
        salt,
    )
        .abi_encode_params();
    alloy_primitives::keccak256(encoded)
}

/// Blob bytes per `putChunk` input: with the call's ABI head they fit an `EvmAdvance`
/// payload (at most 65,216 bytes).
pub const CHUNK_BYTES: usize = 60_000;

/// The `putChunk` calls that store `blob`, in order: [`CHUNK_BYTES`] of it per call, each
/// naming the whole blob's sha256, its index and the number of chunks.
pub fn put_chunk_calls(blob: &[u8]) -> Vec<ICrucible::putChunkCall> {
    let digest = alloy_primitives::B256::from(*crate::Cid::of(blob).digest());
    let count = blob.len().div_ceil(CHUNK_BYTES) as u32;
    blob.chunks(CHUNK_BYTES)
        .enumerate()
        .map(|(i, data)| ICrucible::putChunkCall {
            sha256Digest: digest,
            index: i as u32,
            count,
            data: alloy_primitives::Bytes::copy_from_slice(data),
        })
        .collect()
}

/// The sponsor's test-set commitment: `keccak256(abi.encode(testCid, salt))`.
pub fn test_set_commitment(
    test_cid: &[u8],
    salt: alloy_primitives::B256,
) -> alloy_primitives::B256 {
    use alloy_sol_types::SolValue;
    let encoded = (alloy_primitives::Bytes::copy_from_slice(test_cid), salt).abi_encode_params();
    alloy_primitives::keccak256(encoded)
}

impl Metric {
    /// Whether a larger value is a better score.
    pub const fn higher_is_better(self) -> bool {
        matches!(self, Self::Accuracy | Self::Top5Accuracy)
    }

    /// Whether the metric compares class scores with integer labels.
    pub const fn is_classification(self) -> bool {
        matches!(
            self,
            Self::Accuracy | Self::Top5Accuracy | Self::LogLossLogits | Self::LogLossProbabilities
        )
    }

    /// The short name used by the CLI and in JSON.
    pub const fn name(self) -> &'static str {
        match self {
            Self::Accuracy => "accuracy",
            Self::Top5Accuracy => "top5",
            Self::LogLossLogits => "logloss",
            Self::LogLossProbabilities => "logloss-probs",
            Self::MeanSquaredError => "mse",
            Self::MeanAbsoluteError => "mae",
            Self::__Invalid => "invalid",
        }
    }

    /// Every valid metric, in ABI order.
    pub const ALL: [Self; 6] = [
        Self::Accuracy,
        Self::Top5Accuracy,
        Self::LogLossLogits,
        Self::LogLossProbabilities,
        Self::MeanSquaredError,
        Self::MeanAbsoluteError,
    ];

    /// Parses [`Metric::name`].
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|m| m.name() == name)
    }
}
