//! Every rejection path: each returns a reason and leaves the state hash unchanged
//! (`Harness::reject` checks the hash before and after).

use crate::common::*;
use alloy_primitives::{B256, Bytes, U256};
use alloy_sol_types::SolCall;
use crucible_core::{Cid, Config, State, abi};
use crucible_types::{abi::ICrucible, rollup::ERC20_PORTAL};

/// A state with one open competition (id 1) over the validation set, an uploaded MLP and a
/// commitment by Alice.
fn open() -> (Harness, Cid, Cid) {
    let mut h = Harness::new();
    let val = h.upload(SPONSOR, &val_set());
    let mlp = h.upload(ALICE, &model("mlp"));
    let commitment = abi::test_set_commitment(&Cid::of(&test_set()).to_bytes(), salt(0x77));
    let spec = SpecBuilder::new(val, commitment, h.now);
    assert_eq!(
        created(
            h.erc20_deposit(SPONSOR, U256::from(1000), spec.exec())
                .outputs()
        ),
        1
    );
    h.commit(ALICE, 1, mlp, salt(1));
    (h, val, mlp)
}

fn put(digest: B256, index: u32, count: u32, data: &[u8]) -> Vec<u8> {
    ICrucible::putChunkCall {
        sha256Digest: digest,
        index,
        count,
        data: Bytes::copy_from_slice(data),
    }
    .abi_encode()
}

#[test]
fn malformed_payloads() {
    let (mut h, val, _) = open();
    let mut cases: Vec<(Vec<u8>, &str)> = vec![
        (vec![], "too short for a function selector"),
        (vec![0xde, 0xad], "too short"),
        (
            vec![0xde, 0xad, 0xbe, 0xef, 0, 1],
            "unknown selector 0xdeadbeef",
        ),
    ];
    let mut truncated = ICrucible::finalizeCall { competitionId: 1 }.abi_encode();
    truncated.truncate(20);
    cases.push((truncated, "arguments do not decode"));
    let spec = SpecBuilder::new(val, B256::ZERO, h.now);
    cases.push((spec.exec(), "must arrive as the execLayerData"));
    let bad_cid = ICrucible::evaluateCall {
        modelCid: Bytes::from_static(&[1, 0x70, 0x12, 0x20]),
        dataCid: val.to_bytes().into(),
        metric: abi::Metric::Accuracy,
    };
    cases.push((bad_cid.abi_encode(), "bad modelCid"));
    for (payload, want) in cases {
        let why = h.reject(BOB, &payload);
        assert!(why.contains(want), "{why:?} should contain {want:?}");
    }
    // A deposit from a portal whose payload is too short for the portal's header.
    assert!(
        h.reject(ERC20_PORTAL, &[0u8; 40])
            .contains("shorter than its 72-byte header")
    );
}

#[test]
fn competition_rules() {
    let (mut h, val, mlp) = open();
    let sub = |salt_byte, data: Cid| Harness::submit_call(1, mlp, data, salt(salt_byte));
    assert!(
        h.reject(ALICE, &Harness::submit_call(7, mlp, val, salt(1)))
            .contains("unknown competition 7")
    );
    assert!(
        h.reject(BOB, &sub(1, val)).contains("no commitment"),
        "commitment binds the sender"
    );
    assert!(
        h.reject(ALICE, &sub(2, val)).contains("no commitment"),
        "commitment binds the salt"
    );
    assert!(
        h.reject(ALICE, &sub(1, mlp))
            .contains("is not the validation set")
    );
    let commitment = abi::submission_commitment(&mlp.to_bytes(), ALICE, salt(1));
    let again = ICrucible::commitSubmissionCall {
        competitionId: 1,
        commitment,
    }
    .abi_encode();
    assert!(h.reject(ALICE, &again).contains("already made"));

    // A model that is not stored yet.
    let cnn = Cid::of(&model("cnn"));
    h.commit(BOB, 1, cnn, salt(5));
    let why = h.reject(BOB, &Harness::submit_call(1, cnn, val, salt(5)));
    assert!(why.contains("is not stored: upload it"), "{why}");

    // Test-set reveal before the deadline, finalize before the deadline.
    let reveal = ICrucible::revealTestSetCall {
        competitionId: 1,
        testCid: Cid::of(&test_set()).to_bytes().into(),
        salt: salt(0x77),
    };
    assert!(
        h.reject(SPONSOR, &reveal.abi_encode())
            .contains("only after the submission deadline")
    );
    assert!(
        h.reject(
            SPONSOR,
            &ICrucible::finalizeCall { competitionId: 1 }.abi_encode()
        )
        .contains("finalize needs")
    );

    h.now += 3_600;
    assert!(h.reject(ALICE, &sub(1, val)).contains("submissions closed"));
    let late = ICrucible::commitSubmissionCall {
        competitionId: 1,
        commitment: B256::repeat_byte(3),
    }
    .abi_encode();
    assert!(h.reject(CAROL, &late).contains("submissions closed"));
    // Reveal of a test set that was never uploaded, then of one that does not fit.
    assert!(
        h.reject(SPONSOR, &reveal.abi_encode())
            .contains("test set bafkrei")
    );
}

#[test]
fn incompatible_test_set_and_specs() {
    let mut h = Harness::new();
    let val = h.upload(SPONSOR, &val_set());
    // A "test set" with a different sample shape: 2 rows of 3 features.
    let odd = crucible_core::dataset::encode(
        &[2, 3],
        crucible_core::dataset::DatasetFeatures::F32(&[0.0; 6]),
        &[2],
        crucible_core::dataset::DatasetTargets::Labels(&[0, 1]),
    )
    .unwrap();
    let odd_cid = h.upload(SPONSOR, &odd);
    let commitment = abi::test_set_commitment(&odd_cid.to_bytes(), salt(1));
    let spec = SpecBuilder::new(val, commitment, h.now);
    let id = created(
        h.erc20_deposit(SPONSOR, U256::from(1), spec.exec())
            .outputs(),
    );
    h.now = spec.0.submissionDeadline;
    let reveal = ICrucible::revealTestSetCall {
        competitionId: id,
        testCid: odd_cid.to_bytes().into(),
        salt: salt(1),
    };
    assert!(
        h.reject(SPONSOR, &reveal.abi_encode())
            .contains("differ from the validation set")
    );

    // Specs a deposit cannot create; each is credited instead (see lifecycle), so check the
    // reason in the report.
    type Edit = Box<dyn Fn(&mut abi::CompetitionSpec)>;
    let bad_specs: Vec<(Edit, &str)> = vec![
        (
            Box::new(|s| s.submissionDeadline = 1),
            "is not after the deposit's block time",
        ),
        (
            Box::new(|s| s.revealDeadline = s.submissionDeadline),
            "must be after submissionDeadline",
        ),
        (
            Box::new(|s| s.payoutBps = vec![500; 20]),
            "payoutBps needs 1 to 16 shares, has 20",
        ),
        (
            Box::new(|s| {
                s.submissionDeadline = u64::MAX - 1;
                s.revealDeadline = u64::MAX;
            }),
            "s after the deposit's block time",
        ),
        (
            Box::new(|s| s.revealDeadline = u64::MAX),
            "s after submissionDeadline",
        ),
        (
            Box::new(|s| s.testSetBytes = 5),
            "testSetBytes 5 must be the test set's size with a test commitment, and 0 without one",
        ),
        (
            Box::new(|s| s.testCommitment = B256::repeat_byte(7)),
            "testSetBytes 0 must be the test set's size",
        ),
        (
            Box::new(|s| {
                s.testCommitment = B256::repeat_byte(7);
                s.testSetBytes = 17 << 20;
            }),
            "above the 16777216-byte blob limit",
        ),
        (
            Box::new(|s| s.payoutBps = vec![9_000, 0, 1_000]),
            "positive shares",
        ),
        (
            Box::new(|s| s.limits.maxParams = u64::MAX),
            "limits.maxParams",
        ),
        (
            Box::new(|s| s.limits.allowedOps = vec!["Softplus".into()]),
            "does not support",
        ),
        (Box::new(|s| s.limits.maxOpset = 99), "opset range"),
        (
            Box::new(|s| s.validationCid = Cid::of(b"nothing").to_bytes().into()),
            "is not stored",
        ),
        (
            Box::new(|s| s.metric = abi::Metric::MeanSquaredError),
            "do not suit the metric",
        ),
        (
            Box::new(|s| s.baselineCid = Cid::of(b"nothing").to_bytes().into()),
            "model bafkrei",
        ),
    ];
    for (edit, want) in bad_specs {
        let mut spec = SpecBuilder::new(val, B256::ZERO, h.now);
        edit(&mut spec.0);
        let out = h.erc20_deposit(SPONSOR, U256::from(5), spec.exec());
        let r = reports(out.outputs());
        assert!(
            r.len() == 1 && r[0].contains(want),
            "{r:?} should mention {want:?}"
        );
    }
}

#[test]
fn chunk_rules() {
    let config = Config {
        max_blob_bytes: 100,
        max_stored_bytes: 150,
        ..Config::default()
    };
    let mut h = Harness {
        state: State::new(config),
        next_index: 0,
        now: START,
    };
    let blob = [7u8; 60];
    let digest = B256::from(*Cid::of(&blob).digest());
    assert!(
        h.reject(ALICE, &put(digest, 0, 0, &blob))
            .contains("count 0")
    );
    assert!(
        h.reject(ALICE, &put(digest, 2, 2, &blob))
            .contains("index 2 is not below count 2")
    );
    assert!(
        h.reject(ALICE, &put(digest, 0, 2, &[]))
            .contains("data is 0 bytes")
    );
    assert!(
        h.reject(ALICE, &put(digest, 0, 1, &[1u8; 101]))
            .contains("blob limit")
    );
    // Two chunks whose concatenation does not hash to the digest: the completing chunk is
    // refused, and fixing the wrong chunk completes the blob.
    h.accept(ALICE, &put(digest, 0, 2, &[7u8; 30]));
    assert!(
        h.reject(ALICE, &put(digest, 1, 3, &[7u8; 30]))
            .contains("started with count 2")
    );
    assert!(
        h.reject(ALICE, &put(digest, 1, 2, &[8u8; 30]))
            .contains("resend the chunk")
    );
    // Bob's chunks never mix with Alice's upload.
    h.accept(BOB, &put(digest, 0, 2, &[9u8; 30]));
    let out = h.accept(ALICE, &put(digest, 1, 2, &[7u8; 30]));
    assert_eq!(notices(&out).len(), 1, "BlobStored");
    assert!(
        h.reject(CAROL, &put(digest, 0, 1, &blob))
            .contains("already stored")
    );
    // 60 stored + Bob's pending 30 + 61 would pass the 150-byte storage cap.
    let other = [1u8; 61];
    let why = h.reject(
        CAROL,
        &put(B256::from(*Cid::of(&other).digest()), 0, 1, &other),
    );
    assert!(why.contains("storage is full"), "{why}");
}

#[test]
fn evaluate_and_withdraw() {
    let (mut h, val, mlp) = open();
    let eval = |m: Cid, d: Cid| {
        ICrucible::evaluateCall {
            modelCid: m.to_bytes().into(),
            dataCid: d.to_bytes().into(),
            metric: abi::Metric::Accuracy,
        }
        .abi_encode()
    };
    assert!(
        h.reject(BOB, &eval(Cid::of(b"x"), val))
            .contains("model bafkrei")
    );
    assert!(
        h.reject(BOB, &eval(mlp, Cid::of(b"x")))
            .contains("dataset bafkrei")
    );
    assert!(
        h.reject(BOB, &eval(val, val))
            .contains("not an ONNX protobuf")
    );
    assert!(h.reject(BOB, &eval(mlp, mlp)).contains("not a safetensors"));
    let w = ICrucible::withdrawCall {
        token: TOKEN,
        amount: U256::ZERO,
    }
    .abi_encode();
    assert!(h.reject(BOB, &w).contains("must be positive"));
}
