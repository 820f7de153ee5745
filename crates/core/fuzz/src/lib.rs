//! What the fuzz targets share: a state with a small dataset, a tiny model and an open
//! competition, and the encoding of a sequence of inputs in one fuzzer input.

use alloy_primitives::{Address, B256, U256};
use alloy_sol_types::SolCall;
use crucible_core::{
    AdvanceMeta, Cid, Limits, Outcome, State,
    abi::{self, ICrucible},
    builder::{GraphBuilder, int},
    dataset::{self, DatasetFeatures, DatasetTargets},
};
use crucible_types::{
    Deposit,
    rollup::{ERC20_PORTAL, ETHER_PORTAL},
};
use std::sync::OnceLock;

/// The senders a fuzzer input chooses from with its first byte.
pub fn sender(b: u8) -> Address {
    match b % 4 {
        0 => ERC20_PORTAL,
        1 => ETHER_PORTAL,
        2 => Address::repeat_byte(0x11),
        _ => Address::repeat_byte(0x22),
    }
}

/// Metadata of input `index`: time moves on by an hour per input, so deadlines pass.
pub fn meta(sender: Address, index: u64) -> AdvanceMeta {
    AdvanceMeta {
        chain_id: 31337,
        app_contract: Address::repeat_byte(0xab),
        msg_sender: sender,
        block_number: 100 + index,
        block_timestamp: 1_800_000_000 + 3_600 * index,
        prev_randao: B256::ZERO,
        input_index: index,
    }
}

/// A 10-row dataset of 4 uint8 features and labels in 0..3.
pub fn small_dataset() -> Vec<u8> {
    let x: Vec<u8> = (0..40).map(|i| (i * 37 % 251) as u8).collect();
    let y: Vec<i64> = (0..10).map(|i| i % 3).collect();
    dataset::encode(
        &[10, 4],
        DatasetFeatures::U8(&x),
        &[10],
        DatasetTargets::Labels(&y),
    )
    .expect("encodes")
}

/// `x[4] → Gemm → 3 classes`.
pub fn tiny_model(seed_shift: usize) -> Vec<u8> {
    let mut b = GraphBuilder::new(&[4], None);
    for _ in 0..seed_shift {
        b.weights(&[1]);
    }
    let w = b.weights(&[3, 4]);
    let bias = b.weights(&[3]);
    let y = b.node("Gemm", &["x", &w, &bias], vec![int("transB", 1)]);
    b.finish(&y)
}

/// Salt of the prepared state's test-set commitment.
pub const TEST_SALT: B256 = B256::repeat_byte(0x5a);

/// A state holding the small dataset, two tiny models and competition 1 (validation and
/// test set the small dataset, baseline the first model, the second one committed by
/// sender 0x11 with salt 0x01), and the next input index.
pub fn prepared() -> &'static (State, u64) {
    static PREPARED: OnceLock<(State, u64)> = OnceLock::new();
    PREPARED.get_or_init(|| {
        let mut state = State::default();
        let mut index = 0;
        let mut send = |state: &mut State, from: Address, payload: &[u8]| {
            let outcome = state
                .advance(&meta(from, index), payload)
                .expect("no invariant breaks");
            index += 1;
            assert!(matches!(outcome, Outcome::Accepted { .. }), "{outcome:?}");
        };
        let data = small_dataset();
        let (base, entry) = (tiny_model(0), tiny_model(1));
        for blob in [&data, &base, &entry] {
            for call in abi::put_chunk_calls(blob) {
                send(&mut state, Address::repeat_byte(0x11), &call.abi_encode());
            }
        }
        let cid = |b: &[u8]| Cid::of(b).to_bytes();
        let spec = abi::CompetitionSpec {
            validationCid: cid(&data).into(),
            baselineCid: cid(&base).into(),
            testCommitment: abi::test_set_commitment(&cid(&data), TEST_SALT),
            metric: abi::Metric::Accuracy,
            submissionDeadline: 1_800_000_000 + 3_600 * 20,
            revealDeadline: 1_800_000_000 + 3_600 * 40,
            epsilonPpm: 0,
            testSetBytes: data.len() as u64,
            payoutBps: vec![6_000, 4_000],
            limits: Limits::default().to_abi(),
        };
        let deposit = Deposit {
            token: Address::repeat_byte(0x70),
            sender: Address::repeat_byte(0x22),
            amount: U256::from(1_000u64),
            exec_layer_data: ICrucible::createCompetitionCall { spec }.abi_encode(),
        };
        send(&mut state, ERC20_PORTAL, &deposit.encode());
        let commitment = abi::submission_commitment(
            &cid(&entry),
            Address::repeat_byte(0x11),
            B256::repeat_byte(1),
        );
        send(
            &mut state,
            Address::repeat_byte(0x11),
            &ICrucible::commitSubmissionCall {
                competitionId: 1,
                commitment,
            }
            .abi_encode(),
        );
        (state, index)
    })
}

/// Splits a fuzzer input into at most 8 inputs: `[sender byte][u16 LE length][payload]…`.
pub fn inputs(mut data: &[u8]) -> Vec<(Address, &[u8])> {
    let mut out = Vec::new();
    while out.len() < 8 && data.len() >= 3 {
        let len = usize::from(u16::from_le_bytes([data[1], data[2]]));
        let end = (3 + len).min(data.len());
        out.push((sender(data[0]), &data[3..end]));
        data = &data[end..];
    }
    out
}

/// The encoding [`inputs`] reads.
pub fn encode_inputs(inputs: &[(u8, Vec<u8>)]) -> Vec<u8> {
    let mut out = Vec::new();
    for (who, payload) in inputs {
        out.push(*who);
        out.extend_from_slice(&(payload.len() as u16).to_le_bytes());
        out.extend_from_slice(payload);
    }
    out
}
