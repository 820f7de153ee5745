// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.20;

/// @title Crucible notices
/// @notice Every notice the Crucible DApp emits is an ABI-encoded call of one of these
///         functions (selector + arguments), so a notice proven on L1 decodes without
///         ambiguity. Scores are integers in parts per million; `metric` is the ordinal of
///         `ICrucible.Metric`. Payouts are vouchers (ERC-20 `transfer`, or Ether value).
/// @dev Source of truth for the notice ABI; `crates/types` binds it with alloy's `sol!`.
interface ICrucibleOutputs {
    function BlobStored(bytes calldata cid, uint64 size, address uploader) external;

    function BlobReleased(bytes calldata cid, uint64 size, address releasedBy) external;

    function Deposited(address account, address token, uint256 amount) external;

    function CompetitionCreated(
        uint64 competitionId,
        address sponsor,
        address token,
        uint256 reward,
        bytes calldata validationCid,
        uint8 metric,
        uint64 submissionDeadline,
        uint64 revealDeadline,
        uint32 epsilonPpm,
        uint64 baselineScorePpm,
        bool hasBaseline
    ) external;

    function SubmissionCommitted(uint64 competitionId, bytes32 commitment, address submitter, uint64 priority)
        external;

    function SubmissionScored(
        uint64 competitionId,
        address submitter,
        bytes calldata modelCid,
        uint64 priority,
        uint8 metric,
        uint64 valuePpm,
        uint64 samples,
        uint64 correct
    ) external;

    /// @notice An earlier commitment revealed the same model: the later entry no longer counts.
    function SubmissionSuperseded(uint64 competitionId, bytes calldata modelCid, uint64 loserPriority, uint64 winnerPriority)
        external;

    function TestSetRevealed(uint64 competitionId, bytes calldata testCid, uint64 samples) external;

    function CompetitionFinalized(
        uint64 competitionId,
        bool testSetUsed,
        address[] calldata winners,
        uint64[] calldata winnerPriorities,
        uint64[] calldata scoresPpm,
        uint256[] calldata amounts,
        uint256 refund
    ) external;

    function Evaluated(
        bytes calldata modelCid,
        bytes calldata dataCid,
        uint8 metric,
        uint64 valuePpm,
        uint64 samples,
        uint64 correct
    ) external;

    function Withdrawn(address account, address token, uint256 amount) external;
}
