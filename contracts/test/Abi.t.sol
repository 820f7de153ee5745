// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.20;

import {ICrucible} from "../src/ICrucible.sol";
import {ICrucibleOutputs} from "../src/ICrucibleOutputs.sol";

/// The few forge cheatcodes these tests use (forge-std is not vendored).
interface Vm {
    function readFile(string calldata path) external view returns (string memory);
    function parseBytes(string calldata stringifiedValue) external pure returns (bytes memory);
}

interface IERC20Transfer {
    function transfer(address to, uint256 amount) external returns (bool);
}

/// Solidity's encodings of the Crucible ABI must equal the fixtures the Rust bindings are
/// tested against (`crates/types/tests/abi.rs`), byte for byte.
contract AbiFixturesTest {
    Vm constant vm = Vm(address(uint160(uint256(keccak256("hevm cheat code")))));

    address constant SENDER = 0x70997970C51812dc3A010C7d01b50e0d17dc79C8;
    address constant TOKEN = 0x5FbDB2315678afecb367f032d93F642f64180aa3;
    bytes32 constant SALT = bytes32(0x3333333333333333333333333333333333333333333333333333333333333333);

    function cid(bytes1 b) internal pure returns (bytes memory out) {
        out = new bytes(36);
        (out[0], out[1], out[2], out[3]) = (0x01, 0x55, 0x12, 0x20);
        for (uint256 i = 4; i < 36; i++) out[i] = b;
    }

    function fixture(string memory name) internal view returns (bytes memory) {
        return vm.parseBytes(vm.readFile(string.concat("../tests/fixtures/abi/", name, ".hex")));
    }

    function check(string memory name, bytes memory encoded) internal view {
        require(keccak256(encoded) == keccak256(fixture(name)), string.concat(name, ": encoding differs from the fixture"));
    }

    function spec() internal pure returns (ICrucible.CompetitionSpec memory s) {
        uint16[] memory bps = new uint16[](2);
        (bps[0], bps[1]) = (7000, 3000);
        string[] memory ops = new string[](2);
        (ops[0], ops[1]) = ("Gemm", "Relu");
        s = ICrucible.CompetitionSpec({
            validationCid: cid(0xaa),
            baselineCid: cid(0xbb),
            testCommitment: keccak256(abi.encode(cid(0xbb), SALT)),
            metric: ICrucible.Metric.Accuracy,
            submissionDeadline: 1_800_003_600,
            revealDeadline: 1_800_007_200,
            epsilonPpm: 2000,
            testSetBytes: 792_096,
            payoutBps: bps,
            limits: ICrucible.ModelLimits({
                maxModelBytes: 8 << 20,
                maxParams: 2_000_000,
                maxNodes: 512,
                maxMacsPerSample: 20_000_000,
                maxWorkPerSample: 100_000_000,
                maxTensorElements: 1 << 22,
                maxBatchBytes: 64 << 20,
                maxFixedBatch: 256,
                maxWindow: 64,
                minOpset: 7,
                maxOpset: 21,
                maxDatasetRows: 100_000,
                allowedOps: ops
            })
        });
    }

    function testInputs() public view {
        check("put_chunk", abi.encodeCall(ICrucible.putChunk, (bytes32(0x1111111111111111111111111111111111111111111111111111111111111111), 2, 5, hex"deadbeef")));
        check("create_competition", abi.encodeCall(ICrucible.createCompetition, (spec())));
        check("commit_submission", abi.encodeCall(ICrucible.commitSubmission, (7, keccak256(abi.encode(cid(0xaa), SENDER, SALT)))));
        check("submit", abi.encodeCall(ICrucible.submit, (7, cid(0xaa), cid(0xbb), SALT)));
        check("reveal_test_set", abi.encodeCall(ICrucible.revealTestSet, (7, cid(0xbb), SALT)));
        check("finalize", abi.encodeCall(ICrucible.finalize, (7)));
        check("evaluate", abi.encodeCall(ICrucible.evaluate, (cid(0xaa), cid(0xbb), ICrucible.Metric.LogLossLogits)));
        check("withdraw", abi.encodeCall(ICrucible.withdraw, (TOKEN, 1 ether)));
        check("release_blob", abi.encodeCall(ICrucible.releaseBlob, (cid(0xaa))));
    }

    function testPortalPayloadAndVoucher() public view {
        // ERC20Portal's InputEncoding.encodeERC20Deposit: abi.encodePacked(token, sender, value, execLayerData).
        bytes memory exec = abi.encodeCall(ICrucible.createCompetition, (spec()));
        check("erc20_deposit", abi.encodePacked(TOKEN, SENDER, uint256(1000 ether), exec));
        check("erc20_transfer", abi.encodeCall(IERC20Transfer.transfer, (SENDER, 700 ether)));
    }

    function testNotices() public view {
        check("notice_blob_released", abi.encodeCall(ICrucibleOutputs.BlobReleased, (cid(0xaa), 4096, SENDER)));
        check("notice_submission_scored", abi.encodeCall(ICrucibleOutputs.SubmissionScored, (7, SENDER, cid(0xaa), 42, 0, 863_000, 1000, 863)));
        address[] memory winners = new address[](1);
        winners[0] = SENDER;
        uint64[] memory priorities = new uint64[](1);
        priorities[0] = 42;
        uint64[] memory scores = new uint64[](1);
        scores[0] = 875_000;
        uint256[] memory amounts = new uint256[](1);
        amounts[0] = 700 ether;
        check(
            "notice_competition_finalized",
            abi.encodeCall(ICrucibleOutputs.CompetitionFinalized, (7, true, winners, priorities, scores, amounts, 300 ether))
        );
    }

    function testAFixtureMismatchIsCaught() public view {
        bytes memory wrong = abi.encodeCall(ICrucible.finalize, (8));
        require(keccak256(wrong) != keccak256(fixture("finalize")), "a different call must not match");
    }
}
