//! The same input stream gives the same outputs and the same state hash, run after run.

use crate::common::*;
use alloy_primitives::{Address, B256, U256};
use alloy_sol_types::SolCall;
use crucible_core::{Cid, Outcome, State, abi};
use crucible_types::{AdvanceMeta, Deposit, abi::ICrucible, rollup::ERC20_PORTAL};
use proptest::prelude::*;

#[derive(Debug, Clone)]
enum Op {
    Chunk {
        who: u8,
        blob: u8,
        index: u32,
        count: u32,
    },
    Deposit {
        who: u8,
        amount: u64,
        create: bool,
    },
    Withdraw {
        who: u8,
        amount: u64,
    },
    Commit {
        who: u8,
        id: u64,
        seed: u8,
    },
    Garbage(Vec<u8>),
}

fn addr(who: u8) -> Address {
    Address::with_last_byte(who % 4 + 1)
}

fn blob(n: u8) -> Vec<u8> {
    (0..(n as usize % 5 + 1) * 7)
        .map(|i| (i as u8).wrapping_mul(n))
        .collect()
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        (any::<u8>(), 0u8..4, 0u32..3, 1u32..3).prop_map(|(who, blob, index, count)| Op::Chunk {
            who,
            blob,
            index,
            count
        }),
        (any::<u8>(), 0u64..1000, any::<bool>()).prop_map(|(who, amount, create)| Op::Deposit {
            who,
            amount,
            create
        }),
        (any::<u8>(), 0u64..1000).prop_map(|(who, amount)| Op::Withdraw { who, amount }),
        (any::<u8>(), 0u64..3, any::<u8>()).prop_map(|(who, id, seed)| Op::Commit {
            who,
            id,
            seed
        }),
        proptest::collection::vec(any::<u8>(), 0..80).prop_map(Op::Garbage),
    ]
}

fn run(ops: &[Op], val: &[u8]) -> (Vec<Outcome>, B256) {
    let mut state = State::default();
    let val_cid = Cid::of(val);
    let mut outcomes = Vec::new();
    let send = |state: &mut State, i: usize, sender: Address, payload: Vec<u8>| {
        let meta = AdvanceMeta {
            chain_id: 1,
            app_contract: APP,
            msg_sender: sender,
            block_number: i as u64,
            block_timestamp: START + i as u64,
            prev_randao: B256::ZERO,
            input_index: i as u64,
        };
        state.advance(&meta, &payload).unwrap()
    };
    // The validation set, so that deposits can create real competitions.
    for call in abi::put_chunk_calls(val) {
        send(&mut state, 0, SPONSOR, call.abi_encode());
    }
    for (i, op) in ops.iter().enumerate() {
        let i = i + 100;
        let (sender, payload) = match op {
            Op::Chunk {
                who,
                blob: b,
                index,
                count,
            } => {
                let bytes = blob(*b);
                let part = bytes
                    .chunks(bytes.len().div_ceil(*count as usize))
                    .nth(*index as usize)
                    .unwrap_or(&bytes)
                    .to_vec();
                let call = ICrucible::putChunkCall {
                    sha256Digest: B256::from(*Cid::of(&bytes).digest()),
                    index: *index,
                    count: *count,
                    data: part.into(),
                };
                (addr(*who), call.abi_encode())
            }
            Op::Deposit {
                who,
                amount,
                create,
            } => {
                let exec = if *create {
                    SpecBuilder::new(val_cid, B256::ZERO, START + i as u64).exec()
                } else {
                    vec![]
                };
                let d = Deposit {
                    token: TOKEN,
                    sender: addr(*who),
                    amount: U256::from(*amount),
                    exec_layer_data: exec,
                };
                (ERC20_PORTAL, d.encode())
            }
            Op::Withdraw { who, amount } => (
                addr(*who),
                ICrucible::withdrawCall {
                    token: TOKEN,
                    amount: U256::from(*amount),
                }
                .abi_encode(),
            ),
            Op::Commit { who, id, seed } => {
                let commitment = abi::submission_commitment(
                    &val_cid.to_bytes(),
                    addr(*who),
                    B256::repeat_byte(*seed),
                );
                (
                    addr(*who),
                    ICrucible::commitSubmissionCall {
                        competitionId: *id,
                        commitment,
                    }
                    .abi_encode(),
                )
            }
            Op::Garbage(bytes) => (addr(0), bytes.clone()),
        };
        outcomes.push(send(&mut state, i, sender, payload));
    }
    (outcomes, state.state_hash().unwrap())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]
    #[test]
    fn same_stream_same_outputs_and_state_hash(ops in proptest::collection::vec(op(), 1..40)) {
        let val = val_set();
        let (a, ha) = run(&ops, &val);
        let (b, hb) = run(&ops, &val);
        prop_assert_eq!(a, b);
        prop_assert_eq!(ha, hb);
    }
}

#[test]
fn the_lifecycle_replays_bit_for_bit() {
    // Scores a model twice in two fresh states and compares every output byte.
    let go = || {
        let mut h = Harness::new();
        let val = h.upload(SPONSOR, &val_set());
        let cnn = h.upload(BOB, &model("cnn"));
        let call = ICrucible::evaluateCall {
            modelCid: cnn.to_bytes().into(),
            dataCid: val.to_bytes().into(),
            metric: abi::Metric::LogLossLogits,
        };
        let out = h.accept(ALICE, &call.abi_encode());
        (out, h.state.state_hash().unwrap())
    };
    assert_eq!(go(), go());
}
