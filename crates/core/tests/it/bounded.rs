//! Bounded work and memory per input: models, datasets and inputs built to stall or crash
//! the DApp, each refused before anything runs, with a reason; the next input is served
//! normally. Plus the budget's arithmetic and the finalize that proceeds in steps.

use crate::common::*;
use alloy_primitives::{Address, U256};
use alloy_sol_types::SolCall;
use crucible_core::{
    Cid, Config, Limits, Outcome, State,
    abi::{self, ICrucible, ICrucibleOutputs::ICrucibleOutputsCalls},
    builder::hostile,
    cost,
    dataset::{self, Dataset, DatasetFeatures, DatasetTargets},
    model::Model,
};
use prost::Message;
use std::time::{Duration, Instant};

/// How long refusing any attack may take, model upload excluded. A refusal happens before
/// tract runs anything (typically milliseconds); this bound is generous on purpose.
const REFUSAL_BOUND: Duration = Duration::from_secs(20);

#[test]
fn every_attack_is_refused_before_it_runs_and_the_next_input_is_served() {
    let mut h = Harness::new();
    let val = h.upload(SPONSOR, &val_set());
    let mlp = h.upload(SPONSOR, &model("mlp"));
    let honest = ICrucible::evaluateCall {
        modelCid: mlp.to_bytes().into(),
        dataCid: val.to_bytes().into(),
        metric: abi::Metric::Accuracy,
    }
    .abi_encode();
    for attack in hostile::attacks() {
        let mut stored = |bytes: &[u8]| match h.state.blob(&Cid::of(bytes)) {
            Some(_) => Cid::of(bytes),
            None => h.upload(ALICE, bytes),
        };
        let model_cid = stored(&attack.model);
        let data_cid = stored(&attack.data);
        let call = ICrucible::evaluateCall {
            modelCid: model_cid.to_bytes().into(),
            dataCid: data_cid.to_bytes().into(),
            metric: abi::Metric::Accuracy,
        }
        .abi_encode();
        let started = Instant::now();
        let why = h.reject(BOB, &call);
        let took = started.elapsed();
        println!(
            "{}: refused in {took:?} ({} model bytes): {why}",
            attack.name,
            attack.model.len()
        );
        assert!(why.contains(attack.reason), "{}: {why}", attack.name);
        assert!(!why.contains("panicked"), "{}: {why}", attack.name);
        assert!(
            took < REFUSAL_BOUND,
            "{}: refusing took {took:?}",
            attack.name
        );
        // The application serves the next input normally.
        let out = h.accept(BOB, &honest);
        assert!(matches!(
            notices(&out)[..],
            [ICrucibleOutputsCalls::Evaluated(ref e)] if e.valuePpm == 864_000
        ));
    }
}

#[test]
fn the_refusal_names_both_numbers() {
    let attack = hostile::attacks()
        .into_iter()
        .find(|a| a.name.contains("100,000 rows"))
        .unwrap();
    let limits = Limits::default();
    let data = Dataset::parse(&attack.data, limits.max_dataset_rows).unwrap();
    let m = Model::load_for(&attack.model, &limits, Some(&data.sample_shape)).unwrap();
    let work = m.evaluation_work(100_000, attack.data.len() as u64);
    assert_eq!(
        work,
        m.info.load_work
            + cost::parse_work(attack.data.len() as u64)
            + 100_000u64.div_ceil(32) * m.info.work_per_run
    );
    let mut h = Harness::new();
    let model_cid = h.upload(ALICE, &attack.model);
    let data_cid = h.upload(ALICE, &attack.data);
    let why = h.reject(
        BOB,
        &ICrucible::evaluateCall {
            modelCid: model_cid.to_bytes().into(),
            dataCid: data_cid.to_bytes().into(),
            metric: abi::Metric::Accuracy,
        }
        .abi_encode(),
    );
    assert!(
        why.contains(&format!(
            "would cost {work} instructions of work, above the per-input budget of 8000000000"
        )),
        "{why}"
    );
}

fn evaluate_call(model: Cid, data: Cid) -> Vec<u8> {
    ICrucible::evaluateCall {
        modelCid: model.to_bytes().into(),
        dataCid: data.to_bytes().into(),
        metric: abi::Metric::Accuracy,
    }
    .abi_encode()
}

/// A committed model loaded, under the default limits, for the rows of `data`.
fn loaded(name: &str, data: &[u8]) -> (Model, usize) {
    let limits = Limits::default();
    let d = Dataset::parse(data, limits.max_dataset_rows).unwrap();
    let m = Model::load_for(&model(name), &limits, Some(&d.sample_shape)).unwrap();
    (m, d.rows)
}

/// What the DApp charges for evaluating a committed model on `data`.
fn work_of(name: &str, data: &[u8]) -> u64 {
    let (m, rows) = loaded(name, data);
    m.evaluation_work(rows as u64, data.len() as u64)
}

#[test]
fn an_input_exactly_at_the_budget_is_accepted_and_one_unit_over_is_refused() {
    let work = work_of("mlp", &val_set());
    for (budget, accepted) in [(work, true), (work - 1, false)] {
        let mut h = Harness::with_config(Config {
            max_input_work: budget,
            ..Config::default()
        });
        let val = h.upload(SPONSOR, &val_set());
        let mlp = h.upload(SPONSOR, &model("mlp"));
        let call = evaluate_call(mlp, val);
        if accepted {
            h.accept(BOB, &call);
        } else {
            let why = h.reject(BOB, &call);
            assert!(
                why.contains(&format!(
                    "would cost {work} instructions of work, above the per-input budget of {budget}"
                )),
                "{why}"
            );
        }
    }
}

#[test]
fn one_run_of_a_model_must_fit_half_the_budget() {
    // A budget that the whole evaluation fits, but not twice one run with the loading.
    let (cnn, _) = loaded("cnn", &val_set());
    let step = cnn.info.load_work + cnn.info.work_per_run;
    let mut h = Harness::with_config(Config {
        max_input_work: 2 * step - 2,
        ..Config::default()
    });
    let small = hostile::labelled_u8(&[1, 28, 28], 1);
    assert!(cnn.evaluation_work(1, small.len() as u64) <= 2 * step - 2);
    let d = h.upload(SPONSOR, &small);
    let m = h.upload(SPONSOR, &model("cnn"));
    let why = h.reject(BOB, &evaluate_call(m, d));
    assert!(
        why.contains(&format!("would cost {step} instructions")),
        "{why}"
    );
    assert!(why.contains("half the per-input budget"), "{why}");
}

#[test]
fn the_default_ceilings_fit_the_budget() {
    // The most a model the ceilings allow can cost to load, next to the most a dataset
    // can cost to parse: both leave room for runs.
    let c = Config::default();
    let l = &c.ceiling;
    let worst_load = cost::load_work(
        l.max_model_bytes,
        l.max_params,
        u64::from(l.max_nodes),
        // Every node a convolution with its weight initializer.
        u64::from(l.max_nodes) / 2 * cost::LOAD_PER_CONV,
        // Folded tensors count as parameters: at most max_params elements of work.
        0,
    );
    let worst_parse = cost::parse_work(c.max_blob_bytes);
    assert!(
        worst_parse <= c.max_input_work / 2,
        "parsing a largest blob ({worst_parse}) must fit half the budget"
    );
    assert!(
        worst_load < c.max_input_work / 2,
        "loading a largest model ({worst_load}) must fit half the budget"
    );
    // Every operator of the allow-list can be costed.
    for op in &l.allowed_ops {
        assert!(cost::coefficient(op).is_some(), "{op} has no coefficient");
    }
}

/// A competition with a 100-row validation set and the 1,000-row test set: three entries
/// (the baseline MLP, the MLP, the CNN). Returns the finalize outcomes until finalized.
fn finalize_with_budget(budget: u64) -> (Vec<Outcome>, State) {
    let mut h = Harness::with_config(Config {
        max_input_work: budget,
        ..Config::default()
    });
    let full = val_set();
    let small_val = slice(&full, 100);
    let val = h.upload(SPONSOR, &small_val);
    let test = test_set();
    let test_cid = h.upload(SPONSOR, &test);
    let mut spec = SpecBuilder::new(
        val,
        abi::test_set_commitment(&test_cid.to_bytes(), salt(9)),
        h.now,
    );
    spec.0.payoutBps = vec![5_000, 3_000, 2_000];
    let created = h.erc20_deposit(SPONSOR, U256::from(1_000_000u64), spec.exec());
    let id = created_id(&created);
    // Six submissions: the three models, and later re-serialised copies of each (same
    // function, another CID) from other senders, which rank as copies.
    let entries = [
        (ALICE, "mlp", None),
        (BOB, "cnn", None),
        (CAROL, "mlp-baseline", None),
        (Address::repeat_byte(0x41), "cnn", Some("copy 1")),
        (Address::repeat_byte(0x42), "mlp", Some("copy 2")),
        (Address::repeat_byte(0x43), "mlp-baseline", Some("copy 3")),
    ];
    for (i, (who, name, doc)) in entries.into_iter().enumerate() {
        let bytes = match doc {
            None => model(name),
            Some(doc) => {
                let mut m = tract_onnx::pb::ModelProto::decode(&model(name)[..]).unwrap();
                m.doc_string = doc.into();
                m.encode_to_vec()
            }
        };
        let s = i as u8 + 1;
        let cid = h.upload(who, &bytes);
        h.commit(who, id, cid, salt(s));
        h.accept(who, &Harness::submit_call(id, cid, val, salt(s)));
    }
    h.now += 3_700;
    h.accept(
        SPONSOR,
        &ICrucible::revealTestSetCall {
            competitionId: id,
            testCid: test_cid.to_bytes().into(),
            salt: salt(9),
        }
        .abi_encode(),
    );
    let mut outcomes = Vec::new();
    loop {
        let out = h.accept(
            CAROL,
            &ICrucible::finalizeCall { competitionId: id }.abi_encode(),
        );
        let done = notices(&out)
            .iter()
            .any(|n| matches!(n, ICrucibleOutputsCalls::CompetitionFinalized(_)));
        outcomes.push(Outcome::Accepted { outputs: out });
        if done {
            break;
        }
        assert!(outcomes.len() < 100, "finalize does not finish");
    }
    (outcomes, h.state)
}

fn created_id(outcome: &Outcome) -> u64 {
    created(outcome.outputs())
}

/// The first `rows` rows of a dataset.
fn slice(bytes: &[u8], rows: usize) -> Vec<u8> {
    let d = Dataset::parse(bytes, 100_000).unwrap();
    let n = d.sample_len();
    let mut x = Vec::new();
    d.extend_features(0, rows, &mut x);
    let x: Vec<u8> = x.iter().map(|&f| f as u8).collect();
    let y: Vec<i64> = (0..rows).map(|r| d.label(r)).collect();
    let mut shape = vec![rows];
    shape.extend(&d.sample_shape);
    assert_eq!(x.len(), rows * n);
    dataset::encode(
        &shape,
        DatasetFeatures::U8(&x),
        &[rows],
        DatasetTargets::Labels(&y),
    )
    .unwrap()
}

#[test]
fn a_finalize_in_many_steps_pays_exactly_what_one_step_pays() {
    let (one, _) = finalize_with_budget(u64::MAX / 4);
    assert_eq!(one.len(), 1, "an unlimited budget finalizes in one input");
    // Room for a few runs of the CNN per step: the test set takes many steps.
    let (cnn, _) = loaded("cnn", &val_set());
    let budget =
        2 * (cnn.info.load_work + cnn.info.work_per_run) + cnn.evaluation_work(100, 80_000);
    let (many, state) = finalize_with_budget(budget);
    println!("budget {budget}: finalized in {} steps", many.len());
    assert!(many.len() > 3, "{} steps", many.len());
    // Every step but the last reports its progress and emits nothing on chain.
    for step in &many[..many.len() - 1] {
        assert!(
            step.outputs()
                .iter()
                .all(|o| matches!(o, crucible_core::Output::Report(_))),
            "an intermediate step emitted outputs"
        );
        assert!(reports(step.outputs())[0].contains("send finalize again"));
    }
    let last = |o: &[Outcome]| {
        o.last()
            .unwrap()
            .outputs()
            .iter()
            .filter(|o| !matches!(o, crucible_core::Output::Report(_)))
            .cloned()
            .collect::<Vec<_>>()
    };
    assert_eq!(last(&many), last(&one), "the same vouchers and notice");
    let finalized = notices(&last(&many))
        .into_iter()
        .find_map(|n| match n {
            ICrucibleOutputsCalls::CompetitionFinalized(f) => Some(f),
            _ => None,
        })
        .unwrap();
    assert!(finalized.testSetUsed);
    // The re-serialised copies predict what their originals do: they are not live, and
    // the three originals take the three paid ranks.
    assert_eq!(
        finalized.winners,
        vec![BOB, ALICE, CAROL],
        "the CNN, the MLP, then the baseline-sized MLP"
    );
    assert_eq!(finalized.scoresPpm, vec![875_000, 865_000, 497_000]);
    // Nothing of the steps is left in the state.
    let c = State::inspect(&state, b"competition/1").unwrap();
    let crucible_core::Output::Report(json) = &c[0] else {
        panic!()
    };
    let c: crucible_types::inspect::CompetitionAnswer = serde_json::from_slice(json).unwrap();
    assert!(c.details["finalizing"].is_null());
    let paid: Vec<_> = c
        .finalized
        .unwrap()
        .winners
        .iter()
        .map(|w| w.submitter)
        .collect();
    assert_eq!(paid, vec![BOB, ALICE, CAROL]);
}

#[test]
fn an_entry_scored_across_steps_has_the_score_of_one_pass() {
    // Scoring rows in runs from several calls equals one call, bit for bit.
    let test = test_set();
    let data = Dataset::parse(&test, 100_000).unwrap();
    let (m, _) = loaded("cnn", &test);
    let whole = crucible_core::eval::score(&m, &data, abi::Metric::LogLossLogits).unwrap();
    let mut acc = crucible_core::eval::start(&m, &data, abi::Metric::LogLossLogits).unwrap();
    let mut row = 0;
    for runs in [1usize, 3, 7, 2, 100] {
        let end = (row + runs * 32).min(data.rows);
        crucible_core::eval::score_rows(&m, &data, &mut acc, row, end).unwrap();
        row = end;
    }
    assert_eq!(acc.finish().unwrap(), whole);
}
