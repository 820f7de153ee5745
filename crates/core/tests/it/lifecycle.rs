//! Whole competitions, at the core level, with the real models and the real dataset.

use crate::common::*;
use alloy_primitives::{Address, B256, U256};
use alloy_sol_types::SolCall;
use crucible_core::{Cid, Output, abi};
use crucible_types::abi::{ICrucible, ICrucibleOutputs::ICrucibleOutputsCalls, IERC20};

fn correct(model: &str, key: &str) -> u64 {
    manifest(model)["onnxruntime"][key]
        .as_u64()
        .expect("MANIFEST has onnxruntime counts")
}

fn token(n: u64) -> U256 {
    U256::from(n) * U256::from(10u64).pow(U256::from(18))
}

fn erc20_transfer(to: Address, amount: U256) -> Output {
    Output::Voucher {
        destination: TOKEN,
        value: U256::ZERO,
        payload: IERC20::transferCall { to, amount }.abi_encode(),
    }
}

struct Setup {
    h: Harness,
    val: Cid,
    baseline: Cid,
    mlp: Cid,
    cnn: Cid,
    test_cid: Cid,
    test_commitment: B256,
}

fn setup() -> Setup {
    let mut h = Harness::new();
    let val = h.upload(SPONSOR, &val_set());
    let baseline = h.upload(SPONSOR, &model("mlp-baseline"));
    let test_cid = Cid::of(&test_set());
    let test_commitment = abi::test_set_commitment(&test_cid.to_bytes(), salt(0x77));
    let (mlp, cnn) = (Cid::of(&model("mlp")), Cid::of(&model("cnn")));
    Setup {
        h,
        val,
        baseline,
        mlp,
        cnn,
        test_cid,
        test_commitment,
    }
}

/// Creates a competition through the ERC-20 portal and checks the baseline's score.
fn create(s: &mut Setup, epsilon: u32, reward: U256) -> u64 {
    let mut spec = SpecBuilder::new(s.val, s.test_commitment, s.h.now);
    spec.0.baselineCid = s.baseline.to_bytes().into();
    spec.0.epsilonPpm = epsilon;
    let outputs = s.h.erc20_deposit(SPONSOR, reward, spec.exec());
    let id = created(outputs.outputs());
    let ICrucibleOutputsCalls::CompetitionCreated(c) = &notices(outputs.outputs())[0] else {
        panic!()
    };
    assert_eq!((c.sponsor, c.token, c.reward), (SPONSOR, TOKEN, reward));
    assert!(c.hasBaseline);
    assert_eq!(
        c.baselineScorePpm,
        correct("mlp-baseline", "correct_first_1000") * 1000
    );
    id
}

#[test]
fn lifecycle_with_commit_reveal_copy_epsilon_and_hidden_test_set() {
    let mut s = setup();
    let (mlp_test, cnn_test) = (
        correct("mlp", "correct_1000_to_2000"),
        correct("cnn", "correct_1000_to_2000"),
    );
    assert_ne!(
        mlp_test, cnn_test,
        "the two models must differ on the test set for this test to mean anything"
    );
    // `worse` commits first, `better` later; ε decides whether the later, better model may win.
    let ((worse, worse_name), (better, better_name)) = if mlp_test < cnn_test {
        ((s.mlp, "mlp"), (s.cnn, "cnn"))
    } else {
        ((s.cnn, "cnn"), (s.mlp, "mlp"))
    };
    let margin = (mlp_test.abs_diff(cnn_test) * 1000) as u32;
    let reward = token(1_000);

    for (epsilon, later_should_win) in [(margin - 1, true), (margin, false)] {
        // The competitions of this loop share the state: models are uploaded only once.
        let id = create(&mut s, epsilon, reward);
        let h = &mut s.h;
        let p_alice = h.commit(ALICE, id, worse, salt(1));
        if h.state.blob(&worse).is_none() {
            h.upload(ALICE, &model(worse_name));
        }
        // Carol sees Alice's upload and commits the same model, later.
        let p_carol = h.commit(CAROL, id, worse, salt(3));
        let p_bob = h.commit(BOB, id, better, salt(2));
        if h.state.blob(&better).is_none() {
            h.upload(BOB, &model(better_name));
        }

        // Carol reveals first and is scored...
        let out = h.accept(CAROL, &Harness::submit_call(id, worse, s.val, salt(3)));
        let [ICrucibleOutputsCalls::SubmissionScored(carol)] = &notices(&out)[..] else {
            panic!("{out:?}")
        };
        assert_eq!((carol.submitter, carol.priority), (CAROL, p_carol));
        assert_eq!(
            carol.correct,
            correct(worse_name, "correct_first_1000"),
            "same correct-count as onnxruntime"
        );
        assert_eq!(carol.valuePpm, carol.correct * 1000);
        // ...until Alice reveals the same model under her earlier commitment.
        let out = h.accept(ALICE, &Harness::submit_call(id, worse, s.val, salt(1)));
        let n = notices(&out);
        assert!(
            matches!(&n[0], ICrucibleOutputsCalls::SubmissionSuperseded(x) if x.loserPriority == p_carol && x.winnerPriority == p_alice)
        );
        assert!(
            matches!(&n[1], ICrucibleOutputsCalls::SubmissionScored(x) if x.submitter == ALICE && x.valuePpm == carol.valuePpm)
        );
        // A third copy committed even later is refused outright, and nobody reveals twice.
        h.commit(BOB, id, worse, salt(9));
        let why = h.reject(BOB, &Harness::submit_call(id, worse, s.val, salt(9)));
        assert!(
            why.contains("already submitted under the earlier commitment"),
            "{why}"
        );
        let why = h.reject(ALICE, &Harness::submit_call(id, worse, s.val, salt(1)));
        assert!(why.contains("already revealed"), "{why}");

        let out = h.accept(BOB, &Harness::submit_call(id, better, s.val, salt(2)));
        let [ICrucibleOutputsCalls::SubmissionScored(bob)] = &notices(&out)[..] else {
            panic!("{out:?}")
        };
        assert_eq!(bob.correct, correct(better_name, "correct_first_1000"));
        let why = h.reject(ALICE, &Harness::submit_call(id, s.baseline, s.val, salt(4)));
        assert!(why.contains("no commitment"), "{why}");

        // The leaderboard holds Alice and Bob (Carol's copy no longer counts), ordered by
        // the ε rule on validation scores.
        let board = h.inspect(&format!("leaderboard/{id}"));
        let ranked: Vec<u64> = board
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["priority"].as_u64().unwrap())
            .collect();
        let bob_leads_val = bob.valuePpm > carol.valuePpm + u64::from(epsilon);
        assert_eq!(
            ranked,
            if bob_leads_val {
                vec![p_bob, p_alice]
            } else {
                vec![p_alice, p_bob]
            }
        );

        // After the deadline: no more submissions; only the sponsor reveals, with the right salt.
        h.now = h.inspect(&format!("competition/{id}"))["submission_deadline"]
            .as_u64()
            .unwrap();
        let why = h.reject(BOB, &Harness::submit_call(id, better, s.val, salt(2)));
        assert!(why.contains("submissions closed"), "{why}");
        let why = h.reject(ALICE, &h_finalize(id));
        assert!(
            why.contains("finalize needs the test set revealed"),
            "{why}"
        );
        if h.state.blob(&s.test_cid).is_none() {
            h.upload(SPONSOR, &test_set());
        }
        let reveal = |salt_byte| {
            ICrucible::revealTestSetCall {
                competitionId: id,
                testCid: s.test_cid.to_bytes().into(),
                salt: salt(salt_byte),
            }
            .abi_encode()
        };
        assert!(h.reject(BOB, &reveal(0x77)).contains("only the sponsor"));
        assert!(h.reject(SPONSOR, &reveal(0x78)).contains("does not match"));
        let out = h.accept(SPONSOR, &reveal(0x77));
        assert!(
            matches!(&notices(&out)[..], [ICrucibleOutputsCalls::TestSetRevealed(t)] if t.samples == 1000)
        );

        // Finalize scores both finalists on the hidden test set and pays by rank.
        let out = h.accept(CAROL, &h_finalize(id));
        let f = finalized(&out);
        assert!(f.testSetUsed);
        let (first, second) = if later_should_win {
            (BOB, ALICE)
        } else {
            (ALICE, BOB)
        };
        assert_eq!(
            f.winners,
            vec![first, second],
            "ε = {epsilon}, margin = {margin}"
        );
        let (first_test, second_test) = if later_should_win {
            (
                correct(better_name, "correct_1000_to_2000"),
                correct(worse_name, "correct_1000_to_2000"),
            )
        } else {
            (
                correct(worse_name, "correct_1000_to_2000"),
                correct(better_name, "correct_1000_to_2000"),
            )
        };
        assert_eq!(f.scoresPpm, vec![first_test * 1000, second_test * 1000]);
        let amounts = vec![
            reward * U256::from(7_000) / U256::from(10_000),
            reward * U256::from(3_000) / U256::from(10_000),
        ];
        assert_eq!(f.amounts, amounts);
        assert_eq!(f.refund, U256::ZERO);
        let vouchers: Vec<&Output> = out
            .iter()
            .filter(|o| matches!(o, Output::Voucher { .. }))
            .collect();
        assert_eq!(
            vouchers,
            vec![
                &erc20_transfer(first, amounts[0]),
                &erc20_transfer(second, amounts[1])
            ]
        );
        assert!(
            h.reject(CAROL, &h_finalize(id))
                .contains("already finalized")
        );
    }
}

fn h_finalize(id: u64) -> Vec<u8> {
    ICrucible::finalizeCall { competitionId: id }.abi_encode()
}

#[test]
fn sponsor_who_never_reveals_cannot_withhold_the_reward() {
    let mut s = setup();
    let mlp = s.h.upload(ALICE, &model("mlp"));
    let mut spec = SpecBuilder::new(s.val, s.test_commitment, s.h.now);
    spec.0.payoutBps = vec![10_000];
    let reward = U256::from(5_000_000_000_000_000_000u128);
    let id = created(s.h.ether_deposit(SPONSOR, reward, spec.exec()).outputs());
    s.h.commit(ALICE, id, mlp, salt(1));
    s.h.accept(ALICE, &Harness::submit_call(id, mlp, s.val, salt(1)));
    s.h.now = spec.0.revealDeadline - 1;
    assert!(s.h.reject(BOB, &h_finalize(id)).contains("reveal deadline"));
    s.h.now = spec.0.revealDeadline;
    s.h.upload(SPONSOR, &test_set());
    let late = ICrucible::revealTestSetCall {
        competitionId: id,
        testCid: s.test_cid.to_bytes().into(),
        salt: salt(0x77),
    };
    assert!(
        s.h.reject(SPONSOR, &late.abi_encode())
            .contains("reveal deadline")
    );
    let out = s.h.accept(BOB, &h_finalize(id));
    let f = finalized(&out);
    assert!(!f.testSetUsed);
    assert_eq!(f.winners, vec![ALICE]);
    assert_eq!(
        f.scoresPpm,
        vec![correct("mlp", "correct_first_1000") * 1000]
    );
    // Ether payouts are plain value transfers.
    assert_eq!(
        out[0],
        Output::Voucher {
            destination: ALICE,
            value: reward,
            payload: vec![]
        }
    );
}

#[test]
fn nothing_valid_refunds_the_sponsor() {
    let mut s = setup();
    let spec = SpecBuilder::new(s.val, B256::ZERO, s.h.now);
    let reward = token(10);
    let id = created(s.h.erc20_deposit(SPONSOR, reward, spec.exec()).outputs());
    // Alice commits and uploads a model that is not valid ONNX: her reveal is refused.
    let junk = b"definitely not an onnx model".to_vec();
    let junk_cid = s.h.upload(ALICE, &junk);
    s.h.commit(ALICE, id, junk_cid, salt(1));
    let why =
        s.h.reject(ALICE, &Harness::submit_call(id, junk_cid, s.val, salt(1)));
    assert!(why.contains("not an ONNX protobuf"), "{why}");
    // Without a hidden test set, finalize is open right after the submission deadline.
    assert!(s.h.reject(BOB, &h_finalize(id)).contains("finalize needs"));
    s.h.now = spec.0.submissionDeadline;
    let out = s.h.accept(BOB, &h_finalize(id));
    let f = finalized(&out);
    assert!(f.winners.is_empty() && !f.testSetUsed);
    assert_eq!(f.refund, reward);
    assert_eq!(out[0], erc20_transfer(SPONSOR, reward));
}

#[test]
fn a_deposit_with_a_bad_spec_is_credited_and_can_be_withdrawn() {
    let mut s = setup();
    let mut spec = SpecBuilder::new(s.val, B256::ZERO, s.h.now);
    spec.0.payoutBps = vec![5_000];
    let amount = token(3);
    let before = s.h.state.state_hash().unwrap();
    let out = s.h.erc20_deposit(SPONSOR, amount, spec.exec());
    assert_ne!(before, s.h.state.state_hash().unwrap());
    let r = reports(out.outputs());
    assert!(
        r[0].contains("competition not created") && r[0].contains("payoutBps"),
        "{r:?}"
    );
    assert!(
        matches!(&notices(out.outputs())[..], [ICrucibleOutputsCalls::Deposited(d)] if d.amount == amount && d.account == SPONSOR)
    );
    let balances = s.h.inspect(&format!("balance/{SPONSOR}"))["balances"].clone();
    let (key, value) = balances.as_object().unwrap().iter().next().unwrap();
    assert!(key.eq_ignore_ascii_case(&TOKEN.to_string()));
    assert_eq!(value.as_str().unwrap().parse::<U256>().unwrap(), amount);

    let withdraw = |a| {
        ICrucible::withdrawCall {
            token: TOKEN,
            amount: a,
        }
        .abi_encode()
    };
    assert!(
        s.h.reject(SPONSOR, &withdraw(amount + U256::from(1)))
            .contains("balance is only")
    );
    assert!(
        s.h.reject(BOB, &withdraw(U256::from(1)))
            .contains("balance is only")
    );
    let out = s.h.accept(SPONSOR, &withdraw(amount));
    assert_eq!(out[0], erc20_transfer(SPONSOR, amount));
    assert!(
        s.h.reject(SPONSOR, &withdraw(U256::from(1)))
            .contains("balance is only")
    );
}

#[test]
fn evaluate_is_a_standalone_verifiable_score() {
    let mut s = setup();
    let cnn = s.h.upload(BOB, &model("cnn"));
    for metric in [
        abi::Metric::Accuracy,
        abi::Metric::Top5Accuracy,
        abi::Metric::LogLossLogits,
    ] {
        let call = ICrucible::evaluateCall {
            modelCid: cnn.to_bytes().into(),
            dataCid: s.val.to_bytes().into(),
            metric,
        };
        let out = s.h.accept(ALICE, &call.abi_encode());
        let [ICrucibleOutputsCalls::Evaluated(e)] = &notices(&out)[..] else {
            panic!()
        };
        assert_eq!((e.metric, e.samples), (metric as u8, 1000));
        match metric {
            abi::Metric::Accuracy => assert_eq!(e.correct, correct("cnn", "correct_first_1000")),
            abi::Metric::Top5Accuracy => assert!(
                e.valuePpm > 950_000 && e.valuePpm <= 1_000_000,
                "{}",
                e.valuePpm
            ),
            _ => assert!(
                e.valuePpm > 100_000 && e.valuePpm < 1_000_000,
                "log-loss {}",
                e.valuePpm
            ),
        }
    }
    let mse = ICrucible::evaluateCall {
        modelCid: cnn.to_bytes().into(),
        dataCid: s.val.to_bytes().into(),
        metric: abi::Metric::MeanSquaredError,
    };
    assert!(
        s.h.reject(ALICE, &mse.abi_encode())
            .contains("needs float32 targets")
    );
}

#[test]
fn inspect_paths_answer_json() {
    let mut s = setup();
    let spec = SpecBuilder::new(s.val, B256::ZERO, s.h.now);
    let id = created(s.h.erc20_deposit(SPONSOR, token(1), spec.exec()).outputs());
    let mlp = s.h.upload(ALICE, &model("mlp"));
    let p = s.h.commit(ALICE, id, mlp, salt(1));
    s.h.accept(ALICE, &Harness::submit_call(id, mlp, s.val, salt(1)));

    let status = s.h.inspect("status");
    assert_eq!(status["competitions"], 1);
    assert_eq!(
        status["state_hash"].as_str().unwrap(),
        s.h.state.state_hash().unwrap().to_string()
    );
    assert_eq!(s.h.inspect("competitions")[0]["submissions"], 1);
    let c = s.h.inspect(&format!("competition/{id}"));
    assert_eq!(
        (
            c["metric"].as_str(),
            c["leaderboard"][0]["priority"].as_u64()
        ),
        (Some("accuracy"), Some(p))
    );
    let sub = s.h.inspect(&format!("submission/{id}/{p}"));
    assert_eq!(
        (sub["rank"].as_u64(), sub["model_cid"].as_str()),
        (Some(1), Some(mlp.to_string().as_str()))
    );
    let blob = s.h.inspect(&format!("blob/{mlp}"));
    assert_eq!(blob["size"].as_u64().unwrap() as usize, model("mlp").len());
    assert_eq!(
        s.h.inspect(&format!("blob/{}", Cid::of(b"nope")))["stored"],
        false
    );
    for (path, want) in [
        ("competition/99", "unknown competition 99"),
        ("competition/x", "not a competition id"),
        (&format!("submission/{id}/12345"), "no scored submission"),
        ("blob/QmNotAllowed", "CIDv0"),
        ("balance/0x12", "not an address"),
        ("nonsense/path", "known paths"),
    ] {
        let v = s.h.inspect(path);
        assert!(v["error"].as_str().unwrap().contains(want), "{path}: {v}");
    }
    let raw = s.h.state.inspect(&[0xff, 0xfe]).unwrap();
    assert!(
        matches!(&raw[..], [Output::Report(r)] if String::from_utf8_lossy(r).contains("UTF-8"))
    );
}
