//! Fair under attack: every rule that protects money or access, played as an attacker would
//! through the real state machine — storage fill, commitment and entry caps used as locks,
//! poisoned test sets, copies and memorisers, money arithmetic — and the authorization
//! matrix. Each attack ends with the honest player served.

use crate::common::*;
use alloy_primitives::{Address, B256, Bytes, U256, U512};
use alloy_sol_types::SolCall;
use crucible_core::{
    Cid, Config, Output, abi,
    builder::{GraphBuilder, hostile, int},
    dataset::{self, DatasetFeatures, DatasetTargets},
};
use crucible_types::abi::{ICrucible, ICrucibleOutputs::ICrucibleOutputsCalls, IERC20};
use prost::Message;

const MALLORY: Address = Address::repeat_byte(0x66);

fn sybil(n: u8) -> Address {
    Address::repeat_byte(0xa0 ^ n)
}

/// A 64 KiB chunk of a blob that will never complete (1,024 chunks announced).
fn garbage_chunk(digest: u8, index: u32) -> Vec<u8> {
    ICrucible::putChunkCall {
        sha256Digest: B256::repeat_byte(digest),
        index,
        count: 1024,
        data: Bytes::from(vec![digest; 1 << 16]),
    }
    .abi_encode()
}

fn reveal(id: u64, test: Cid, s: B256) -> Vec<u8> {
    ICrucible::revealTestSetCall {
        competitionId: id,
        testCid: test.to_bytes().into(),
        salt: s,
    }
    .abi_encode()
}

fn finalize(id: u64) -> Vec<u8> {
    ICrucible::finalizeCall { competitionId: id }.abi_encode()
}

fn release(cid: Cid) -> Vec<u8> {
    ICrucible::releaseBlobCall {
        cid: cid.to_bytes().into(),
    }
    .abi_encode()
}

/// Sends `finalize` until the competition is finalized; returns the last step's outputs
/// with every step's reports.
fn finalize_all(h: &mut Harness, id: u64) -> (Vec<Output>, usize) {
    let mut reports = Vec::new();
    for step in 1..50 {
        let out = h.accept(CAROL, &finalize(id));
        if notices(&out)
            .iter()
            .any(|n| matches!(n, ICrucibleOutputsCalls::CompetitionFinalized(_)))
        {
            reports.extend(out);
            return (reports, step);
        }
        reports.extend(out);
    }
    panic!("finalize does not finish");
}

/// Commits and reveals `bytes` as `who`'s entry; returns the priority and the outputs.
fn enter(
    h: &mut Harness,
    who: Address,
    id: u64,
    val: Cid,
    bytes: &[u8],
    s: u8,
) -> (u64, Vec<Output>) {
    let cid = h.upload(who, bytes);
    let p = h.commit(who, id, cid, salt(s));
    let out = h.accept(who, &Harness::submit_call(id, cid, val, salt(s)));
    (p, out)
}

fn live(h: &Harness, id: u64) -> Vec<u64> {
    h.inspect(&format!("leaderboard/{id}"))
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["priority"].as_u64().unwrap())
        .collect()
}

/// `x[1,28,28] → Flatten → Gemm` with pseudo-random weights: a valid, poor classifier.
fn random_classifier(seed: usize) -> Vec<u8> {
    let mut b = GraphBuilder::new(&[1, 28, 28], None);
    for _ in 0..seed {
        b.weights(&[1]);
    }
    let flat = b.node("Flatten", &["x"], vec![int("axis", 1)]);
    let w = b.weights(&[10, 784]);
    let y = b.node("Gemm", &[&flat, &w], vec![int("transB", 1)]);
    b.finish(&y)
}

fn create(h: &mut Harness, spec: &SpecBuilder, reward: U256) -> u64 {
    let out = h.erc20_deposit(SPONSOR, reward, spec.exec());
    created(out.outputs())
}

#[test]
fn storage_fill_by_sybils_cannot_stop_the_test_set_and_expires() {
    let config = Config {
        max_stored_bytes: 4 << 20,
        max_bytes_per_sender: 2 << 20,
        ..Config::default()
    };
    let ttl = config.upload_ttl;
    let mut h = Harness::with_config(config);
    let val = h.upload(SPONSOR, &val_set());
    let test = test_set();
    let test_cid = Cid::of(&test);
    let spec = SpecBuilder::new(
        val,
        abi::test_set_commitment(&test_cid.to_bytes(), salt(9)),
        h.now,
    );
    let id = create(&mut h, &spec, U256::from(1_000u64));
    assert_eq!(
        h.inspect("status")["reserved_bytes"].as_u64(),
        Some(test.len() as u64)
    );

    // One address holds at most its quota.
    for i in 0..32 {
        h.accept(sybil(0), &garbage_chunk(1, i));
    }
    let r = h.reject(sybil(0), &garbage_chunk(1, 32));
    assert!(
        r.contains("above the 2097152-byte quota per address"),
        "{r}"
    );

    // Sybils fill everything that is not reserved.
    let mut n = 1;
    'fill: loop {
        for i in 0..16 {
            if let crucible_core::Outcome::Rejected { reason } =
                h.send(sybil(n), &garbage_chunk(1 + n, i))
            {
                assert!(reason.to_string().contains("storage is full"), "{reason}");
                break 'fill;
            }
        }
        n += 1;
        assert!(n < 10, "the store never filled");
    }
    // An honest submitter is locked out for now ...
    let mlp = model("mlp");
    let first = &abi::put_chunk_calls(&mlp)[0];
    assert!(
        h.reject(ALICE, &first.abi_encode())
            .contains("storage is full")
    );

    // ... but the sponsor's test set fits its reservation, and the reveal succeeds.
    h.now = spec.0.submissionDeadline;
    h.upload(SPONSOR, &test);
    h.accept(SPONSOR, &reveal(id, test_cid, salt(9)));
    assert_eq!(h.inspect("status")["reserved_bytes"].as_u64(), Some(0));

    // A day after their last chunk the sybils' uploads expire and the space is reused.
    h.now += ttl;
    let mlp_cid = h.upload(ALICE, &mlp);
    assert_eq!(
        h.inspect(&format!("blob/{mlp_cid}"))["size"].as_u64(),
        Some(mlp.len() as u64)
    );
    assert_eq!(
        h.inspect("status")["stored_bytes"].as_u64(),
        Some((2 * test.len() + mlp.len()) as u64),
        "only the validation set, the test set and the model remain"
    );
}

#[test]
fn blobs_no_open_competition_uses_can_be_released() {
    let mut h = Harness::new();
    let blob_ttl = h.state.config().blob_ttl;
    let val = h.upload(SPONSOR, &val_set());
    let spare = h.upload(MALLORY, &model("mlp-baseline"));
    let spec = SpecBuilder::new(val, B256::ZERO, h.now);
    let id = create(&mut h, &spec, U256::from(10u64));
    let r = h.reject(SPONSOR, &release(val));
    assert!(r.contains("1 open competition(s) use it"), "{r}");
    // Only its uploader may release a young blob.
    assert!(
        h.reject(ALICE, &release(spare))
            .contains("only its uploader")
    );
    let out = h.accept(MALLORY, &release(spare));
    assert!(
        matches!(&notices(&out)[..], [ICrucibleOutputsCalls::BlobReleased(b)] if b.releasedBy == MALLORY)
    );
    assert!(h.reject(MALLORY, &release(spare)).contains("not stored"));

    h.now = spec.0.submissionDeadline;
    h.accept(CAROL, &finalize(id));
    // Finalized: the validation set is free; anyone may release it once it is old.
    assert!(h.reject(ALICE, &release(val)).contains("only its uploader"));
    h.now += blob_ttl;
    h.accept(ALICE, &release(val));
    assert_eq!(h.inspect("status")["stored_bytes"].as_u64(), Some(0));
}

#[test]
fn commitment_and_entry_caps_cannot_lock_honest_players_out() {
    let config = Config {
        max_submissions: 3,
        max_entries_per_sender: 2,
        ..Config::default()
    };
    let per_sender = config.max_open_commitments_per_sender;
    let mut h = Harness::with_config(config);
    let val = h.upload(SPONSOR, &val_set());
    let spec = SpecBuilder::new(val, B256::ZERO, h.now);
    let id = create(&mut h, &spec, U256::from(1_000u64));

    // One address cannot hoard commitments; nothing caps them globally.
    let hoarder = sybil(30);
    for i in 0..per_sender {
        h.commit(hoarder, id, Cid::of(&[i as u8]), salt(i as u8));
    }
    let hoard = ICrucible::commitSubmissionCall {
        competitionId: id,
        commitment: B256::repeat_byte(0xee),
    };
    assert!(
        h.reject(hoarder, &hoard.abi_encode())
            .contains("unrevealed commitments, the most one address may")
    );
    for n in 0..20 {
        h.commit(sybil(n), id, Cid::of(&[n]), salt(1));
    }

    // Sybils fill every live slot with poor models; a third from one address is refused.
    let weak: Vec<Vec<u8>> = (0..4).map(random_classifier).collect();
    let mut weak_p = Vec::new();
    for (i, (who, m)) in [
        (MALLORY, &weak[0]),
        (MALLORY, &weak[1]),
        (sybil(1), &weak[2]),
    ]
    .into_iter()
    .enumerate()
    {
        weak_p.push(enter(&mut h, who, id, val, m, 100 + i as u8).0);
    }
    let cid = h.upload(MALLORY, &weak[3]);
    h.commit(MALLORY, id, cid, salt(120));
    let r = h.reject(MALLORY, &Harness::submit_call(id, cid, val, salt(120)));
    assert!(
        r.contains("holds 2 live entries, the most one address may"),
        "{r}"
    );
    assert_eq!(live(&h, id).len(), 3);

    // The competition is full, yet a better model enters and displaces the last one.
    let before = live(&h, id);
    let (alice, out) = enter(&mut h, ALICE, id, val, &model("mlp"), 7);
    assert!(
        reports(&out).iter().any(|r| r.contains("is displaced")),
        "{:?}",
        reports(&out)
    );
    let after = live(&h, id);
    assert_eq!(after[0], alice);
    assert_eq!(after.len(), 3);
    assert!(
        !after.contains(before.last().unwrap()),
        "the last entry was displaced"
    );
    // A model that does not outrank the last live entry cannot take a slot.
    let worse = random_classifier(9);
    let cid = h.upload(sybil(2), &worse);
    h.commit(sybil(2), id, cid, salt(8));
    let r = h.reject(sybil(2), &Harness::submit_call(id, cid, val, salt(8)));
    assert!(r.contains("does not outrank the last of them"), "{r}");

    // Finalize pays the honest model first.
    h.now = spec.0.submissionDeadline;
    let f = finalized(&h.accept(CAROL, &finalize(id)));
    assert_eq!(f.winners[0], ALICE);
}

/// `rows` rows of 4 float features in [-1, 1] and labels `label(x)`.
fn f32_set(rows: &[[f32; 4]], label: impl Fn(&[f32; 4]) -> i64) -> Vec<u8> {
    let x: Vec<f32> = rows.iter().flatten().copied().collect();
    let y: Vec<i64> = rows.iter().map(label).collect();
    dataset::encode(
        &[rows.len(), 4],
        DatasetFeatures::F32(&x),
        &[rows.len()],
        DatasetTargets::Labels(&y),
    )
    .unwrap()
}

/// `[1 / (x0 + x1), 1, 0.5]`: infinite where `x0 = −x1`.
fn divider() -> Vec<u8> {
    let mut b = GraphBuilder::new(&[4], None);
    let w = b.floats(&[3, 4], &[1., 1., 0., 0., 0., 0., 0., 0., 0., 0., 0., 0.]);
    let bias = b.floats(&[3], &[0., 1., 2.]);
    let y = b.node("Gemm", &["x", &w, &bias], vec![int("transB", 1)]);
    let one = b.floats(&[1], &[1.0]);
    let out = b.node("Div", &[&one, &y], vec![]);
    b.finish(&out)
}

/// What [`divider`] predicts: class 0 when `0 < x0 + x1 < 1`, else class 1.
fn divider_label(x: &[f32; 4]) -> i64 {
    let s = x[0] + x[1];
    i64::from(!(s > 0.0 && s < 1.0))
}

fn val_rows() -> Vec<[f32; 4]> {
    (0..40)
        .map(|i| {
            let a = (i as f32 * 0.37).sin();
            let b = (i as f32 * 0.91).cos() * 0.5 + 0.013;
            [a, b, -1.0 + (i % 3) as f32, 1.0 - (i % 5) as f32 * 0.5]
        })
        .filter(|r| (r[0] + r[1]).abs() > 1e-3)
        .collect()
}

#[test]
fn a_poisoned_test_set_is_refused_at_reveal_and_cannot_take_the_reward_back() {
    let mut h = Harness::new();
    // Labels outside the validation set's classes: every finalist would fail.
    let val = h.upload(SPONSOR, &val_set());
    let test = test_set();
    let bad = {
        let d = dataset::Dataset::parse(&test, 100_000).unwrap();
        let mut x = Vec::new();
        d.extend_features(0, d.rows, &mut x);
        let x: Vec<u8> = x.iter().map(|&v| v as u8).collect();
        let mut y: Vec<i64> = (0..d.rows).map(|r| d.label(r)).collect();
        y[17] = 10;
        let mut shape = vec![d.rows];
        shape.extend(&d.sample_shape);
        dataset::encode(
            &shape,
            DatasetFeatures::U8(&x),
            &[d.rows],
            DatasetTargets::Labels(&y),
        )
        .unwrap()
    };
    let bad_cid = h.upload(SPONSOR, &bad);
    let spec = SpecBuilder::new(
        val,
        abi::test_set_commitment(&bad_cid.to_bytes(), salt(3)),
        h.now,
    );
    let id = create(&mut h, &spec, U256::from(1_000u64));
    let (alice, _) = enter(&mut h, ALICE, id, val, &model("mlp"), 1);
    h.now = spec.0.submissionDeadline;
    let r = h.reject(SPONSOR, &reveal(id, bad_cid, salt(3)));
    assert!(
        r.contains("label 10 is not one of the validation set's 10 classes"),
        "{r}"
    );
    // The sponsor cannot reveal anything else; after the reveal deadline the entries are
    // paid by validation ranking.
    h.now = spec.0.revealDeadline;
    let f = finalized(&h.accept(CAROL, &finalize(id)));
    assert!(!f.testSetUsed);
    assert_eq!((f.winners[0], f.winnerPriorities[0]), (ALICE, alice));
    assert_eq!(f.refund, U256::from(300u64), "the 30 % share has no entry");

    // Features outside the validation set's range, and rows where the baseline fails.
    let rows = val_rows();
    let val = h.upload(SPONSOR, &f32_set(&rows, divider_label));
    let base = h.upload(SPONSOR, &divider());
    let huge = f32_set(&[[1e30, 0.5, 0.0, 0.0]], divider_label);
    let blows_up = f32_set(
        &[[0.5, -0.5, 0.0, 0.0], [0.25, 0.5, 0.0, 0.0]],
        divider_label,
    );
    for (test, want) in [
        (huge, "outside the validation set's"),
        (blows_up, "the baseline cannot be scored on it"),
    ] {
        let test_cid = h.upload(SPONSOR, &test);
        let mut spec = SpecBuilder::new(
            val,
            abi::test_set_commitment(&test_cid.to_bytes(), salt(4)),
            h.now,
        );
        spec.0.baselineCid = base.to_bytes().into();
        spec.0.testSetBytes = test.len() as u64;
        let id = create(&mut h, &spec, U256::from(1_000u64));
        h.now = spec.0.submissionDeadline;
        let r = h.reject(SPONSOR, &reveal(id, test_cid, salt(4)));
        assert!(r.contains(want), "{r}");
    }
}

#[test]
fn entries_that_fail_on_the_test_set_are_still_paid_before_any_refund() {
    let mut h = Harness::new();
    let rows = val_rows();
    let val = h.upload(SPONSOR, &f32_set(&rows, divider_label));
    // Valid: labels and features within the validation set's; the divider fails on row 0.
    let test = f32_set(
        &[
            [0.5, -0.5, 0.0, 0.0],
            [0.25, 0.5, 0.0, 0.0],
            [0.9, 0.9, 0.0, 0.0],
        ],
        divider_label,
    );
    let test_cid = h.upload(SPONSOR, &test);
    let mut spec = SpecBuilder::new(
        val,
        abi::test_set_commitment(&test_cid.to_bytes(), salt(5)),
        h.now,
    );
    spec.0.testSetBytes = test.len() as u64;
    let id = create(&mut h, &spec, U256::from(1_000u64));
    let (first, _) = enter(&mut h, ALICE, id, val, &divider(), 1);
    let mut b = GraphBuilder::new(&[4], None);
    let w = b.weights(&[3, 4]);
    let y = b.node("Gemm", &["x", &w], vec![int("transB", 1)]);
    let (second, _) = enter(&mut h, BOB, id, val, &b.finish(&y), 2);
    assert_eq!(
        live(&h, id)[0],
        first,
        "the divider leads on validation (100 %)"
    );
    h.now = spec.0.submissionDeadline;
    h.accept(SPONSOR, &reveal(id, test_cid, salt(5)));
    let out = h.accept(CAROL, &finalize(id));
    assert!(
        reports(&out)
            .iter()
            .any(|r| r.contains(&format!("finalist {first}")) && r.contains("non-finite"))
    );
    let f = finalized(&out);
    assert!(f.testSetUsed);
    assert_eq!(
        f.winnerPriorities,
        vec![second, first],
        "the entry that failed ranks after the one that did not"
    );
    assert_eq!(f.refund, U256::ZERO, "no refund while valid entries exist");
}

/// `model` with its first float initializer's first element moved by `delta`.
fn nudged(bytes: &[u8], delta: f32) -> Vec<u8> {
    let mut m = tract_onnx::pb::ModelProto::decode(bytes).unwrap();
    let graph = m.graph.as_mut().unwrap();
    let t = graph
        .initializer
        .iter_mut()
        .find(|t| t.raw_data.len() >= 4 || !t.float_data.is_empty())
        .unwrap();
    if t.float_data.is_empty() {
        let v = f32::from_le_bytes(t.raw_data[..4].try_into().unwrap()) + delta;
        t.raw_data[..4].copy_from_slice(&v.to_le_bytes());
    } else {
        t.float_data[0] += delta;
    }
    m.encode_to_vec()
}

#[test]
fn copies_rank_as_copies_and_a_memoriser_cannot_crowd_out_honest_entries() {
    let mut h = Harness::new();
    let val_bytes = val_set();
    let val = h.upload(SPONSOR, &val_bytes);
    let test = test_set();
    let test_cid = h.upload(SPONSOR, &test);
    let mut spec = SpecBuilder::new(
        val,
        abi::test_set_commitment(&test_cid.to_bytes(), salt(9)),
        h.now,
    );
    spec.0.payoutBps = vec![6_000, 3_000, 1_000];
    let id = create(&mut h, &spec, U256::from(1_000_000u64));

    // A memoriser of the public validation set leads it.
    let memo = hostile::memorizer(&val_bytes);
    let (m, out) = enter(&mut h, MALLORY, id, val, &memo, 1);
    let memo_val = match &notices(&out)[0] {
        ICrucibleOutputsCalls::SubmissionScored(s) => s.valuePpm,
        other => panic!("{other:?}"),
    };
    assert!(
        memo_val >= 990_000,
        "the memoriser scores {memo_val} on validation"
    );
    let (alice, _) = enter(&mut h, ALICE, id, val, &model("mlp"), 2);
    let (bob, _) = enter(&mut h, BOB, id, val, &model("cnn"), 3);

    // Copies of the leader on validation take nothing: a re-serialised one and one with a
    // weight nudged predict exactly what the original predicts.
    let mut reserialised = tract_onnx::pb::ModelProto::decode(&model("cnn")[..]).unwrap();
    reserialised.doc_string = "my own work".into();
    for (who, bytes, s) in [
        (sybil(1), reserialised.encode_to_vec(), 4),
        (sybil(2), nudged(&model("cnn"), 1e-4), 5),
        (sybil(3), nudged(&memo, 1e-3), 6),
    ] {
        let (p, out) = enter(&mut h, who, id, val, &bytes, s);
        let n = notices(&out);
        assert!(
            matches!(&n[..], [ICrucibleOutputsCalls::SubmissionScored(_), ICrucibleOutputsCalls::SubmissionSuperseded(x)] if x.loserPriority == p),
            "{n:?}"
        );
        assert!(reports(&out)[0].contains("ranks as a copy"));
    }
    let board = live(&h, id);
    assert_eq!((board.len(), board[0]), (3, m), "{board:?}");
    assert!(board.contains(&alice) && board.contains(&bob));

    // A copy committed earlier but revealed later keeps its priority: the later original
    // is superseded (commit–reveal fixed both models before either was public).
    let early = h.upload(CAROL, &nudged(&model("mlp-baseline"), 1e-4));
    let p_early = h.commit(CAROL, id, early, salt(10));
    let (p_late, _) = enter(&mut h, sybil(4), id, val, &model("mlp-baseline"), 11);
    let out = h.accept(CAROL, &Harness::submit_call(id, early, val, salt(10)));
    assert!(
        matches!(&notices(&out)[0], ICrucibleOutputsCalls::SubmissionSuperseded(x) if x.loserPriority == p_late && x.winnerPriority == p_early)
    );

    // Every live entry is scored on the test set: the memoriser drops below both honest
    // models, and the copies are paid nothing.
    h.now = spec.0.submissionDeadline;
    h.accept(SPONSOR, &reveal(id, test_cid, salt(9)));
    let (out, steps) = finalize_all(&mut h, id);
    println!("finalized in {steps} steps");
    let f = finalized(&out);
    assert_eq!(f.winners, vec![BOB, ALICE, MALLORY], "{f:?}");
    println!(
        "memoriser: {memo_val} ppm on validation, {} ppm on the test set; honest {:?}",
        f.scoresPpm[2],
        &f.scoresPpm[..2]
    );
    assert!(
        f.scoresPpm[2] < f.scoresPpm[1],
        "memoriser {} on the test set",
        f.scoresPpm[2]
    );
    let paid: Vec<Address> = f
        .winners
        .iter()
        .zip(&f.amounts)
        .filter(|(_, a)| !a.is_zero())
        .map(|(w, _)| *w)
        .collect();
    assert!(
        !paid
            .iter()
            .any(|w| [sybil(1), sybil(2), sybil(3), sybil(4)].contains(w))
    );
}

#[test]
fn money_arithmetic_is_exact_or_refused() {
    let mut h = Harness::new();
    let val = h.upload(SPONSOR, &val_set());
    let spec = SpecBuilder::new(val, B256::ZERO, h.now);
    let id = create(&mut h, &spec, U256::MAX);
    enter(&mut h, ALICE, id, val, &model("mlp"), 1);
    h.now = spec.0.submissionDeadline;
    let out = h.accept(CAROL, &finalize(id));
    let f = finalized(&out);
    let exact =
        |bps: u64| U256::from(U512::from(U256::MAX) * U512::from(bps) / U512::from(10_000u64));
    assert_eq!(
        f.amounts[0],
        exact(7_000),
        "reward × 7000 / 10000 without wrapping"
    );
    assert_eq!(f.refund, U256::MAX - exact(7_000));
    assert!(
        out.contains(&Output::Voucher {
            destination: TOKEN,
            value: U256::ZERO,
            payload: IERC20::transferCall {
                to: ALICE,
                amount: exact(7_000)
            }
            .abi_encode(),
        })
    );

    // A credit that would pass 2²⁵⁶ − 1 is refused, not saturated.
    assert!(
        h.erc20_deposit(BOB, U256::MAX, Vec::new())
            .rejection()
            .is_none()
    );
    let over = h.erc20_deposit(BOB, U256::from(1u64), Vec::new());
    let reason = over.rejection().expect("refused").to_string();
    assert!(reason.contains("would overflow its balance"), "{reason}");
}

#[test]
fn authorization_matrix() {
    let mut h = Harness::new();
    let val = h.upload(SPONSOR, &val_set());
    let test = test_set();
    let test_cid = h.upload(SPONSOR, &test);
    let spec = SpecBuilder::new(
        val,
        abi::test_set_commitment(&test_cid.to_bytes(), salt(9)),
        h.now,
    );
    let id = create(&mut h, &spec, U256::from(1_000u64));
    let mlp = h.upload(ALICE, &model("mlp"));
    h.commit(ALICE, id, mlp, salt(1));
    h.erc20_deposit(ALICE, U256::from(50u64), Vec::new());
    let spoofed = crucible_types::Deposit {
        token: TOKEN,
        sender: MALLORY,
        amount: U256::from(1_000_000u64),
        exec_layer_data: Vec::new(),
    }
    .encode();
    let withdraw = |amount: u64| {
        ICrucible::withdrawCall {
            token: TOKEN,
            amount: U256::from(amount),
        }
        .abi_encode()
    };

    let before_deadline: Vec<(&str, Address, Vec<u8>, &str)> = vec![
        (
            "deposit spoofed by a non-portal sender",
            MALLORY,
            spoofed,
            "malformed input",
        ),
        (
            "submit without a commitment",
            BOB,
            Harness::submit_call(id, mlp, val, salt(1)),
            "no commitment",
        ),
        (
            "submit under someone else's commitment",
            BOB,
            Harness::submit_call(id, mlp, val, salt(1)),
            "no commitment",
        ),
        (
            "submit with the wrong salt",
            ALICE,
            Harness::submit_call(id, mlp, val, salt(2)),
            "no commitment",
        ),
        (
            "test-set reveal before the submission deadline",
            SPONSOR,
            reveal(id, test_cid, salt(9)),
            "only after the submission deadline",
        ),
        (
            "finalize before the deadline",
            CAROL,
            finalize(id),
            "finalize needs the test set revealed",
        ),
        (
            "withdraw of someone else's balance",
            MALLORY,
            withdraw(50),
            "balance is only 0",
        ),
        (
            "withdraw of more than one's balance",
            ALICE,
            withdraw(51),
            "balance is only 50",
        ),
    ];
    for (what, who, payload, want) in before_deadline {
        let r = h.reject(who, &payload);
        assert!(r.contains(want), "{what}: {r}");
    }
    h.now = spec.0.submissionDeadline;
    let after_deadline: Vec<(&str, Address, Vec<u8>, &str)> = vec![
        (
            "late submit",
            ALICE,
            Harness::submit_call(id, mlp, val, salt(1)),
            "submissions closed",
        ),
        (
            "test-set reveal by a non-sponsor",
            MALLORY,
            reveal(id, test_cid, salt(9)),
            "only the sponsor",
        ),
        (
            "test-set reveal with a wrong salt",
            SPONSOR,
            reveal(id, test_cid, salt(8)),
            "does not match the committed test set",
        ),
    ];
    for (what, who, payload, want) in after_deadline {
        let r = h.reject(who, &payload);
        assert!(r.contains(want), "{what}: {r}");
    }
    h.accept(SPONSOR, &reveal(id, test_cid, salt(9)));
    h.accept(CAROL, &finalize(id));
    assert!(
        h.reject(CAROL, &finalize(id)).contains("already finalized"),
        "second finalize"
    );
    // (A voucher executed twice on L1 is refused by the application contract: tests/e2e.)
}
