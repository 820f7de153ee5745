// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.20;

/// @title Crucible rollup inputs
/// @notice Every input the Crucible DApp accepts is an ABI-encoded call of this interface
///         (4-byte selector followed by the arguments). Inputs reach the DApp through
///         `InputBox.addInput(app, payload)`, except `createCompetition`, which is the
///         `execLayerData` of an `ERC20Portal.depositERC20Tokens` or `EtherPortal.depositEther`
///         call so that escrow and creation happen in one transaction.
/// @dev This file is the source of truth of the input ABI: the Rust bindings in
///      `crates/types` are generated from it with alloy's `sol!`. CIDs are CIDv1, codec raw
///      (0x55), multihash sha2-256 over the whole blob, passed as their 36 binary bytes.
interface ICrucible {
    /// @notice How a model is scored. Classification metrics need `int64` labels `y[N]`;
    ///         regression metrics need `float32` targets `y[N]` or `y[N, k]`.
    enum Metric {
        Accuracy, // share of rows whose arg-max class equals the label (higher is better)
        Top5Accuracy, // share of rows whose label is among the five highest scores (higher is better)
        LogLossLogits, // mean cross-entropy; the model outputs logits (lower is better)
        LogLossProbabilities, // mean cross-entropy; the model outputs probabilities (lower is better)
        MeanSquaredError, // lower is better
        MeanAbsoluteError // lower is better
    }

    /// @notice Hard limits checked before a submitted model is materialised.
    struct ModelLimits {
        uint64 maxModelBytes;
        uint64 maxParams; // total elements of all initializers and Constant tensors
        uint32 maxNodes; // graph nodes plus initializers
        uint64 maxMacsPerSample; // multiply-accumulates of one sample's forward pass
        uint64 maxWorkPerSample; // cost model: estimated RISC-V instructions per sample, every operator costed
        uint64 maxTensorElements; // largest tensor any node produces in one run (one batch)
        uint64 maxBatchBytes; // bytes of all tensors and scratch buffers of one run
        uint32 maxFixedBatch; // largest fixed batch dimension a model may declare
        uint32 maxWindow; // largest Conv/MaxPool kernel dimension, stride, dilation and pad
        uint16 minOpset; // default-domain opset range the model may import
        uint16 maxOpset;
        uint32 maxDatasetRows; // applies to the validation and the test set
        string[] allowedOps; // empty: the DApp's default allow-list; otherwise a subset of it
    }

    struct CompetitionSpec {
        bytes validationCid; // dataset blob, already stored with putChunk
        bytes baselineCid; // optional model blob (empty: none); it is scored but can never win
        bytes32 testCommitment; // keccak256(abi.encode(bytes testCid, bytes32 salt))
        Metric metric;
        uint64 submissionDeadline; // unix seconds: commits and reveals must come before it
        uint64 revealDeadline; // unix seconds: the sponsor reveals the test set before it
        uint32 epsilonPpm; // improvement a later submission needs to outrank an earlier one
        uint64 testSetBytes; // size of the hidden test set: storage reserved for it until the reveal (0 without one)
        uint16[] payoutBps; // reward share per rank in basis points; must sum to 10000
        ModelLimits limits;
    }

    /// @notice Stores one chunk of a blob. A blob is complete when all `count` chunks from the
    ///         same uploader are present and sha256 of their concatenation equals `sha256Digest`.
    function putChunk(bytes32 sha256Digest, uint32 index, uint32 count, bytes calldata data) external;

    /// @notice Frees a stored blob that no open competition uses: its uploader may at any time,
    ///         anyone else once it has been stored for the application's blob lifetime.
    function releaseBlob(bytes calldata cid) external;

    /// @notice Sent only as portal `execLayerData`; the depositor becomes the sponsor and the
    ///         deposited token and amount become the reward.
    function createCompetition(CompetitionSpec calldata spec) external;

    /// @notice commitment = keccak256(abi.encode(bytes modelCid, address sender, bytes32 salt)).
    ///         The commit's input index is the submission's priority.
    function commitSubmission(uint64 competitionId, bytes32 commitment) external;

    /// @notice Reveals a commitment: the model blob must be stored and `dataCid` must be the
    ///         competition's validation set. The model is scored at once.
    function submit(uint64 competitionId, bytes calldata modelCid, bytes calldata dataCid, bytes32 salt) external;

    /// @notice Sponsor only, after the submission deadline and before the reveal deadline.
    function revealTestSet(uint64 competitionId, bytes calldata testCid, bytes32 salt) external;

    /// @notice Anyone, once the test set is revealed or the reveal deadline has passed.
    function finalize(uint64 competitionId) external;

    /// @notice A standalone, verifiable evaluation of any stored model on any stored dataset.
    function evaluate(bytes calldata modelCid, bytes calldata dataCid, Metric metric) external;

    /// @notice Moves `amount` of `token` (address(0): Ether) from the sender's internal
    ///         balance to L1 as a voucher.
    function withdraw(address token, uint256 amount) external;
}
