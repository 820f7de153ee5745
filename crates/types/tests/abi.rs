//! The ABI against shared hex fixtures (also checked by `contracts/test/Abi.t.sol`, so the
//! Rust bindings and Solidity agree byte for byte), and encode/decode round trips.
//!
//! `CRUCIBLE_UPDATE_FIXTURES=1 cargo test -p crucible-types --test abi` rewrites them.

use alloy_primitives::{Address, B256, Bytes, U256, address, keccak256};
use alloy_sol_types::{SolCall, SolInterface, SolValue};
use crucible_types::{
    Cid, Deposit,
    abi::{self, ICrucible, ICrucibleCalls, ICrucibleOutputs, ICrucibleOutputsCalls, IERC20},
};
use proptest::prelude::*;
use std::path::PathBuf;

const SENDER: Address = address!("0x70997970C51812dc3A010C7d01b50e0d17dc79C8");
const TOKEN: Address = address!("0x5FbDB2315678afecb367f032d93F642f64180aa3");

fn cid(byte: u8) -> Bytes {
    Cid::from_digest([byte; 32]).to_bytes().to_vec().into()
}

fn salt() -> B256 {
    B256::repeat_byte(0x33)
}

fn ether(n: u64) -> U256 {
    U256::from(n) * U256::from(10u64).pow(U256::from(18u64))
}

fn spec() -> abi::CompetitionSpec {
    abi::CompetitionSpec {
        validationCid: cid(0xaa),
        baselineCid: cid(0xbb),
        testCommitment: abi::test_set_commitment(&cid(0xbb), salt()),
        metric: abi::Metric::Accuracy,
        submissionDeadline: 1_800_003_600,
        revealDeadline: 1_800_007_200,
        epsilonPpm: 2_000,
        testSetBytes: 792_096,
        payoutBps: vec![7_000, 3_000],
        limits: abi::ModelLimits {
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
            allowedOps: vec!["Gemm".into(), "Relu".into()],
        },
    }
}

fn fixtures() -> Vec<(&'static str, Vec<u8>)> {
    let create = ICrucible::createCompetitionCall { spec: spec() }.abi_encode();
    vec![
        (
            "put_chunk",
            ICrucible::putChunkCall {
                sha256Digest: B256::repeat_byte(0x11),
                index: 2,
                count: 5,
                data: Bytes::from_static(&[0xde, 0xad, 0xbe, 0xef]),
            }
            .abi_encode(),
        ),
        ("create_competition", create.clone()),
        (
            "release_blob",
            ICrucible::releaseBlobCall { cid: cid(0xaa) }.abi_encode(),
        ),
        (
            "notice_blob_released",
            ICrucibleOutputs::BlobReleasedCall {
                cid: cid(0xaa),
                size: 4096,
                releasedBy: SENDER,
            }
            .abi_encode(),
        ),
        (
            "commit_submission",
            ICrucible::commitSubmissionCall {
                competitionId: 7,
                commitment: abi::submission_commitment(&cid(0xaa), SENDER, salt()),
            }
            .abi_encode(),
        ),
        (
            "submit",
            ICrucible::submitCall {
                competitionId: 7,
                modelCid: cid(0xaa),
                dataCid: cid(0xbb),
                salt: salt(),
            }
            .abi_encode(),
        ),
        (
            "reveal_test_set",
            ICrucible::revealTestSetCall {
                competitionId: 7,
                testCid: cid(0xbb),
                salt: salt(),
            }
            .abi_encode(),
        ),
        (
            "finalize",
            ICrucible::finalizeCall { competitionId: 7 }.abi_encode(),
        ),
        (
            "evaluate",
            ICrucible::evaluateCall {
                modelCid: cid(0xaa),
                dataCid: cid(0xbb),
                metric: abi::Metric::LogLossLogits,
            }
            .abi_encode(),
        ),
        (
            "withdraw",
            ICrucible::withdrawCall {
                token: TOKEN,
                amount: ether(1),
            }
            .abi_encode(),
        ),
        (
            "erc20_deposit",
            Deposit {
                token: TOKEN,
                sender: SENDER,
                amount: ether(1000),
                exec_layer_data: create,
            }
            .encode(),
        ),
        (
            "erc20_transfer",
            IERC20::transferCall {
                to: SENDER,
                amount: ether(700),
            }
            .abi_encode(),
        ),
        (
            "notice_submission_scored",
            ICrucibleOutputs::SubmissionScoredCall {
                competitionId: 7,
                submitter: SENDER,
                modelCid: cid(0xaa),
                priority: 42,
                metric: 0,
                valuePpm: 863_000,
                samples: 1000,
                correct: 863,
            }
            .abi_encode(),
        ),
        (
            "notice_competition_finalized",
            ICrucibleOutputs::CompetitionFinalizedCall {
                competitionId: 7,
                testSetUsed: true,
                winners: vec![SENDER],
                winnerPriorities: vec![42],
                scoresPpm: vec![875_000],
                amounts: vec![ether(700)],
                refund: ether(300),
            }
            .abi_encode(),
        ),
    ]
}

fn dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures/abi")
}

#[test]
fn encodings_match_the_shared_fixtures() {
    let update = std::env::var_os("CRUCIBLE_UPDATE_FIXTURES").is_some();
    for (name, bytes) in fixtures() {
        let path = dir().join(format!("{name}.hex"));
        let hex = format!("0x{}", alloy_primitives::hex::encode(&bytes));
        if update {
            std::fs::write(&path, &hex).unwrap();
        }
        let committed =
            std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        assert_eq!(
            committed, hex,
            "{name}: the ABI changed; if on purpose, rerun with CRUCIBLE_UPDATE_FIXTURES=1 and update Abi.t.sol"
        );
    }
}

#[test]
fn commitments_are_keccak_of_abi_encode() {
    let by_hand = keccak256((cid(0xaa), SENDER, salt()).abi_encode_params());
    assert_eq!(
        abi::submission_commitment(&cid(0xaa), SENDER, salt()),
        by_hand
    );
    // abi.encode of (bytes, address, bytes32): head of three words, then length and data.
    assert_eq!(
        (cid(0xaa), SENDER, salt()).abi_encode_params().len(),
        32 * 3 + 32 + 64
    );
}

#[test]
fn put_chunk_calls_split_a_blob_in_order_under_its_digest() {
    let blob: Vec<u8> = (0..2 * abi::CHUNK_BYTES + 7).map(|i| i as u8).collect();
    let calls = abi::put_chunk_calls(&blob);
    assert_eq!(calls.len(), 3);
    let digest = B256::from(*Cid::of(&blob).digest());
    for (i, c) in calls.iter().enumerate() {
        assert_eq!((c.sha256Digest, c.index, c.count), (digest, i as u32, 3));
        // With the call's head, a chunk fits the 65,216-byte EvmAdvance payload.
        assert!(c.abi_encode().len() <= 65_216);
    }
    let joined: Vec<u8> = calls.iter().flat_map(|c| c.data.to_vec()).collect();
    assert_eq!(joined, blob);
    assert!(abi::put_chunk_calls(&[]).is_empty());
}

#[test]
fn selectors_are_distinct_and_known() {
    let mut all: Vec<[u8; 4]> = ICrucibleCalls::SELECTORS.to_vec();
    all.extend_from_slice(ICrucibleOutputsCalls::SELECTORS);
    let n = all.len();
    all.sort_unstable();
    all.dedup();
    assert_eq!(all.len(), n);
    assert_eq!(abi::Outputs::NoticeCall::SELECTOR, [0xc2, 0x58, 0xd6, 0xe5]);
    assert_eq!(
        abi::Outputs::VoucherCall::SELECTOR,
        [0x23, 0x7a, 0x81, 0x6f]
    );
    assert_eq!(
        abi::Inputs::EvmAdvanceCall::SELECTOR,
        [0x41, 0x5b, 0xf3, 0x63]
    );
    assert_eq!(IERC20::transferCall::SELECTOR, [0xa9, 0x05, 0x9c, 0xbb]);
}

fn bytes_strategy() -> impl Strategy<Value = Bytes> {
    proptest::collection::vec(any::<u8>(), 0..100).prop_map(Bytes::from)
}

fn call_strategy() -> impl Strategy<Value = ICrucibleCalls> {
    let b32 = any::<[u8; 32]>().prop_map(B256::from);
    prop_oneof![
        (b32.clone(), any::<u32>(), any::<u32>(), bytes_strategy()).prop_map(|(d, i, c, data)| {
            ICrucibleCalls::putChunk(ICrucible::putChunkCall {
                sha256Digest: d,
                index: i,
                count: c,
                data,
            })
        }),
        (any::<u64>(), b32.clone()).prop_map(|(id, c)| ICrucibleCalls::commitSubmission(
            ICrucible::commitSubmissionCall {
                competitionId: id,
                commitment: c
            }
        )),
        (
            any::<u64>(),
            bytes_strategy(),
            bytes_strategy(),
            b32.clone()
        )
            .prop_map(
                |(id, m, d, s)| ICrucibleCalls::submit(ICrucible::submitCall {
                    competitionId: id,
                    modelCid: m,
                    dataCid: d,
                    salt: s
                })
            ),
        (any::<u64>(), bytes_strategy(), b32).prop_map(|(id, t, s)| ICrucibleCalls::revealTestSet(
            ICrucible::revealTestSetCall {
                competitionId: id,
                testCid: t,
                salt: s
            }
        )),
        any::<u64>()
            .prop_map(|id| ICrucibleCalls::finalize(ICrucible::finalizeCall { competitionId: id })),
        (bytes_strategy(), bytes_strategy(), 0usize..6).prop_map(|(m, d, k)| {
            ICrucibleCalls::evaluate(ICrucible::evaluateCall {
                modelCid: m,
                dataCid: d,
                metric: abi::Metric::ALL[k],
            })
        }),
        (any::<[u8; 20]>(), any::<[u8; 32]>()).prop_map(|(t, a)| ICrucibleCalls::withdraw(
            ICrucible::withdrawCall {
                token: Address::from(t),
                amount: U256::from_be_bytes(a)
            }
        )),
        (
            any::<u32>(),
            proptest::collection::vec(1u16..10_000, 0..5),
            "[A-Za-z]{0,12}"
        )
            .prop_map(|(eps, bps, op)| {
                let mut s = spec();
                s.epsilonPpm = eps;
                s.payoutBps = bps;
                s.limits.allowedOps = vec![op];
                ICrucibleCalls::createCompetition(ICrucible::createCompetitionCall { spec: s })
            }),
    ]
}

proptest! {
    #[test]
    fn every_input_round_trips(call in call_strategy()) {
        let bytes = call.abi_encode();
        prop_assert_eq!(ICrucibleCalls::abi_decode(&bytes).unwrap(), call);
    }

    #[test]
    fn arbitrary_bytes_never_panic_the_decoders(bytes in proptest::collection::vec(any::<u8>(), 0..600)) {
        let _ = ICrucibleCalls::abi_decode(&bytes);
        let _ = ICrucibleOutputsCalls::abi_decode(&bytes);
        let _ = Deposit::decode_erc20(&bytes);
        let _ = Deposit::decode_ether(&bytes);
        let _ = Cid::from_bytes(&bytes);
    }

    #[test]
    fn corrupting_a_valid_input_never_panics(idx in 0usize..2000, byte in any::<u8>(), cut in 0usize..2000) {
        let mut bytes = ICrucible::createCompetitionCall { spec: spec() }.abi_encode();
        let n = bytes.len();
        bytes[idx % n] = byte;
        bytes.truncate(cut.max(1) % (n + 1));
        let _ = ICrucibleCalls::abi_decode(&bytes);
    }
}
