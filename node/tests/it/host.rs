//! The host machine with the real `crucible-dapp` child: every request goes through the
//! rollup HTTP API exactly as inside a Cartesi machine, and the outputs are byte-identical
//! to what crucible-core produces in process.

use crate::devnet_support::dapp;
use alloy_primitives::{Address, B256, Bytes, U256, address, hex};
use alloy_sol_types::{SolCall, SolInterface};
use crucible_core::{Output, State};
use crucible_node::{
    machine::{HostMachine, MachineConfig},
    merkle::{OutputsTree, root_from_proof},
    rollup_api::{RollupRequest, Status},
};
use crucible_types::{
    AdvanceMeta, Cid, Deposit,
    abi::{ICrucible, ICrucibleOutputsCalls, Outputs},
    rollup::ERC20_PORTAL,
};

const APP: Address = address!("0xab7528bb862fb57e8a2bcd567a2e929a0be56a5e");
const TOKEN: Address = address!("0x5fbdb2315678afecb367f032d93f642f64180aa3");
const ALICE: Address = address!("0x3c44cdddb6a900fa2b585dd299e03d12fa4293bc");

fn meta(index: u64, sender: Address) -> AdvanceMeta {
    AdvanceMeta {
        chain_id: 31337,
        app_contract: APP,
        msg_sender: sender,
        block_number: 10 + index,
        block_timestamp: 1_800_000_000 + index * 12,
        prev_randao: B256::with_last_byte(index as u8),
        input_index: index,
    }
}

/// The rollup encoding the server gives each core output (reports are not outputs).
fn encode(output: &Output) -> Option<Vec<u8>> {
    match output {
        Output::Notice(p) => Some(
            Outputs::NoticeCall {
                payload: Bytes::copy_from_slice(p),
            }
            .abi_encode(),
        ),
        Output::Voucher {
            destination,
            value,
            payload,
        } => Some(
            Outputs::VoucherCall {
                destination: *destination,
                value: *value,
                payload: Bytes::copy_from_slice(payload),
            }
            .abi_encode(),
        ),
        Output::Report(_) => None,
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn inputs_through_the_rollup_api_match_the_core_byte_for_byte() {
    let machine = HostMachine::start(&dapp(), MachineConfig::default())
        .await
        .unwrap();
    let mut reference = State::default();
    let mut tree = OutputsTree::new();

    let blob = b"a small blob".to_vec();
    let digest = B256::from(*Cid::of(&blob).digest());
    let inputs: Vec<(Address, Vec<u8>)> = vec![
        (
            ALICE,
            ICrucible::putChunkCall {
                sha256Digest: digest,
                index: 0,
                count: 1,
                data: blob.clone().into(),
            }
            .abi_encode(),
        ),
        (ALICE, vec![0xde, 0xad, 0xbe, 0xef, 1, 2, 3]),
        (
            ERC20_PORTAL,
            Deposit {
                token: TOKEN,
                sender: ALICE,
                amount: U256::from(500),
                exec_layer_data: vec![],
            }
            .encode(),
        ),
        (
            ALICE,
            ICrucible::withdrawCall {
                token: TOKEN,
                amount: U256::from(200),
            }
            .abi_encode(),
        ),
        (
            ALICE,
            ICrucible::withdrawCall {
                token: TOKEN,
                amount: U256::from(999),
            }
            .abi_encode(),
        ),
    ];
    for (i, (sender, payload)) in inputs.into_iter().enumerate() {
        let m = meta(i as u64, sender);
        let result = machine
            .process(RollupRequest::Advance {
                meta: m,
                payload: payload.clone(),
            })
            .await
            .unwrap();
        let expected = reference.advance(&m, &payload).unwrap();
        match &expected {
            crucible_core::Outcome::Accepted { outputs } => {
                assert_eq!(result.status, Status::Accepted, "input {i}");
                let want: Vec<Vec<u8>> = outputs.iter().filter_map(encode).collect();
                assert_eq!(
                    result.outputs, want,
                    "input {i}: outputs differ from the core's"
                );
                for o in &result.outputs {
                    tree.push_output(o);
                }
            }
            crucible_core::Outcome::Rejected { reason } => {
                assert_eq!(result.status, Status::Rejected, "input {i}");
                assert!(result.outputs.is_empty());
                let report = String::from_utf8(result.reports[0].clone()).unwrap();
                assert!(report.contains(&reason.to_string()), "{report}");
            }
        }
    }
    // 0: BlobStored, 1: Deposited, 2: the withdrawal voucher, 3: Withdrawn.
    assert_eq!(tree.len(), 4);
    let voucher =
        Outputs::VoucherCall::abi_decode(&tree_leaf_output(&machine, &mut reference).await)
            .unwrap();
    assert_eq!(voucher.destination, TOKEN);
    let proof = tree.proof(2).unwrap();
    assert_eq!(
        root_from_proof(alloy_primitives::keccak256(voucher.abi_encode()), 2, &proof),
        tree.root()
    );

    // Inspect goes through the same API and returns the core's JSON report.
    let result = machine
        .process(RollupRequest::Inspect {
            payload: format!("balance/{ALICE}").into_bytes(),
        })
        .await
        .unwrap();
    assert_eq!(result.status, Status::Accepted);
    let json: serde_json::Value = serde_json::from_slice(&result.reports[0]).unwrap();
    assert_eq!(
        json["balances"]
            .as_object()
            .unwrap()
            .values()
            .next()
            .unwrap()
            .as_str()
            .unwrap()
            .parse::<U256>()
            .unwrap(),
        U256::from(300)
    );
}

/// The voucher the reference core emitted for the withdrawal, in its rollup encoding.
async fn tree_leaf_output(_machine: &HostMachine, reference: &mut State) -> Vec<u8> {
    let m = meta(100, ALICE);
    let out = reference
        .advance(
            &m,
            &ICrucible::withdrawCall {
                token: TOKEN,
                amount: U256::from(200),
            }
            .abi_encode(),
        )
        .unwrap();
    encode(&out.outputs()[0]).unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn notices_reach_the_node_in_their_rollup_encoding() {
    let machine = HostMachine::start(
        &dapp(),
        MachineConfig {
            accepted_outputs: 41,
            ..MachineConfig::default()
        },
    )
    .await
    .unwrap();
    let blob = vec![7u8; 100];
    let call = ICrucible::putChunkCall {
        sha256Digest: B256::from(*Cid::of(&blob).digest()),
        index: 0,
        count: 1,
        data: blob.into(),
    };
    let result = machine
        .process(RollupRequest::Advance {
            meta: meta(0, ALICE),
            payload: call.abi_encode(),
        })
        .await
        .unwrap();
    let notice = Outputs::NoticeCall::abi_decode(&result.outputs[0]).unwrap();
    assert!(
        matches!(ICrucibleOutputsCalls::abi_decode(&notice.payload).unwrap(), ICrucibleOutputsCalls::BlobStored(b) if b.size == 100)
    );
    assert_eq!(hex::encode(&result.outputs[0][..4]), "c258d6e5");
}
