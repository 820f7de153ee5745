//! End to end on a real anvil: a submission sent with `addInput` is scored by the DApp
//! child, the competition is finalized, the epoch is claimed on the Authority, and the
//! winner executes the payout voucher on L1 with the node's proof.

use crate::devnet_support::{
    add_input, connect, dapp, repo, skipped, start_anvil, token_artifact, upload,
};
use alloy::{
    primitives::{B256, Bytes, U256},
    providers::Provider,
    signers::local::PrivateKeySigner,
    sol_types::SolCall,
};
use crucible_chain::Confirm;
use crucible_chain::{
    app::IApplication,
    devnet::{self, IERC20, IERC20Portal},
};
use crucible_node::{
    machine::{HostMachine, MachineConfig},
    rollup_api::Status,
    runner::Runner,
    store::Store,
};
use crucible_types::{
    Cid,
    abi::{self, ICrucible, ICrucibleOutputsCalls, Outputs},
};

fn notices(outputs: &[Vec<u8>]) -> Vec<ICrucibleOutputsCalls> {
    outputs
        .iter()
        .filter_map(|o| Outputs::NoticeCall::abi_decode(o).ok())
        .map(|n| {
            <ICrucibleOutputsCalls as alloy::sol_types::SolInterface>::abi_decode(&n.payload)
                .unwrap()
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn submission_to_payout_executed_on_l1() {
    let Some(anvil) = start_anvil() else { return };
    let Some(token_path) = token_artifact() else {
        skipped("forge not found under node_modules (run npm ci)");
        return;
    };
    let sponsor: PrivateKeySigner = devnet::ANVIL_KEYS[0].parse().unwrap();
    let alice: PrivateKeySigner = devnet::ANVIL_KEYS[1].parse().unwrap();
    let sp = connect(&anvil, &sponsor).await;
    let al = connect(&anvil, &alice).await;
    let supply = U256::from(10u64).pow(U256::from(24u64));
    let d = devnet::deploy(
        &sp,
        sponsor.address(),
        &devnet::ConsensusSpec::Authority(sponsor.address()),
        1,
        &repo().join("node_modules/@cartesi/rollups/out"),
        &token_path,
        supply,
    )
    .await
    .unwrap();

    let db_dir = std::env::temp_dir().join(format!("crucible-e2e-{}", std::process::id()));
    std::fs::create_dir_all(&db_dir).unwrap();
    let db = db_dir.join("node.sqlite");
    let _ = std::fs::remove_file(&db);
    let open = |provider| {
        let db = db.clone();
        async move {
            let machine = HostMachine::start(&dapp(), MachineConfig::default())
                .await
                .unwrap();
            Runner::open(
                provider,
                d.application,
                d.input_box,
                machine,
                Store::open(&db).unwrap(),
                0,
            )
            .await
        }
    };
    let mut node = open(sp.clone()).await.unwrap();

    // The sponsor publishes the validation set and creates the competition by depositing.
    let val = std::fs::read(repo().join("data/fashion-mnist/val-1k.safetensors")).unwrap();
    let mlp = std::fs::read(repo().join("models/mlp/model.onnx")).unwrap();
    let val_cid = upload(&sp, d.input_box, d.application, &val).await;
    let now = sp
        .get_block_by_number(Default::default())
        .await
        .unwrap()
        .unwrap()
        .header
        .timestamp;
    let spec = abi::CompetitionSpec {
        validationCid: val_cid.to_bytes().into(),
        baselineCid: Bytes::new(),
        testCommitment: B256::ZERO,
        metric: abi::Metric::Accuracy,
        submissionDeadline: now + 3_600,
        revealDeadline: now + 7_200,
        epsilonPpm: 0,
        testSetBytes: 0,
        payoutBps: vec![10_000],
        limits: crucible_core::Limits::default().to_abi(),
    };
    let reward = U256::from(1_000u64) * U256::from(10u64).pow(U256::from(18u64));
    IERC20::new(d.token, &sp)
        .approve(d.erc20_portal, reward)
        .send()
        .await
        .unwrap()
        .confirmed()
        .await
        .unwrap();
    let exec = ICrucible::createCompetitionCall { spec }.abi_encode();
    IERC20Portal::new(d.erc20_portal, &sp)
        .depositERC20Tokens(d.token, d.application, reward, exec.into())
        .send()
        .await
        .unwrap()
        .confirmed()
        .await
        .unwrap();

    // Alice commits, uploads and reveals; a garbage input in between is rejected.
    let salt = B256::repeat_byte(7);
    let mlp_cid = Cid::of(&mlp);
    let commitment = abi::submission_commitment(&mlp_cid.to_bytes(), alice.address(), salt);
    add_input(
        &al,
        d.input_box,
        d.application,
        ICrucible::commitSubmissionCall {
            competitionId: 1,
            commitment,
        }
        .abi_encode(),
    )
    .await;
    upload(&al, d.input_box, d.application, &mlp).await;
    let head = sp.get_block_number().await.unwrap();
    node.sync(head).await.unwrap();
    let root_before = node.root();
    add_input(&al, d.input_box, d.application, vec![0xba, 0xd0]).await;
    node.sync(sp.get_block_number().await.unwrap())
        .await
        .unwrap();
    assert_eq!(node.inputs().last().unwrap().status, Status::Rejected);
    assert_eq!(
        node.root(),
        root_before,
        "a rejected input leaves the outputs root unchanged"
    );
    let submit = ICrucible::submitCall {
        competitionId: 1,
        modelCid: mlp_cid.to_bytes().into(),
        dataCid: val_cid.to_bytes().into(),
        salt,
    };
    add_input(&al, d.input_box, d.application, submit.abi_encode()).await;
    node.sync(sp.get_block_number().await.unwrap())
        .await
        .unwrap();
    let manifest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(repo().join("models/mlp/MANIFEST.json")).unwrap())
            .unwrap();
    let expected_ppm = manifest["onnxruntime"]["correct_first_1000"]
        .as_u64()
        .unwrap()
        * 1000;
    assert!(
        notices(node.outputs()).iter().any(|n| matches!(n, ICrucibleOutputsCalls::SubmissionScored(s) if s.submitter == alice.address() && s.valuePpm == expected_ppm)),
        "no SubmissionScored with {expected_ppm} ppm"
    );

    // The node stops abruptly (its DApp child is killed) and restarts from its database:
    // a fresh DApp replays every stored input and must recompute the same roots.
    let (root, outputs, inputs) = (node.root(), node.outputs().to_vec(), node.inputs().len());
    drop(node);
    let mut node = open(sp.clone())
        .await
        .expect("replay matches the stored roots");
    assert_eq!(
        (node.root(), node.outputs(), node.inputs().len()),
        (root, &outputs[..], inputs)
    );

    // After the deadline anyone finalizes; the node claims the epoch.
    let _: serde_json::Value = sp
        .raw_request("evm_increaseTime".into(), (3_601u64,))
        .await
        .unwrap();
    let _: serde_json::Value = sp.raw_request("evm_mine".into(), ()).await.unwrap();
    add_input(
        &al,
        d.input_box,
        d.application,
        ICrucible::finalizeCall { competitionId: 1 }.abi_encode(),
    )
    .await;
    let head = sp.get_block_number().await.unwrap();
    node.sync(head).await.unwrap();
    let claim = node
        .claim(d.consensus, head, sponsor.address())
        .await
        .unwrap();
    assert_eq!(claim.root, node.root());
    let voucher_index = node
        .outputs()
        .iter()
        .position(|o| Outputs::VoucherCall::abi_decode(o).is_ok())
        .expect("a payout voucher") as u64;

    // Alice executes the voucher on L1 with the node's proof: her balance rises by the reward.
    let (output, proof) = node.proof(voucher_index).unwrap();
    let app = IApplication::new(d.application, &al);
    let before = IERC20::new(d.token, &al)
        .balanceOf(alice.address())
        .call()
        .await
        .unwrap();
    app.executeOutput(output.clone(), proof.clone())
        .send()
        .await
        .unwrap()
        .confirmed()
        .await
        .unwrap();
    let after = IERC20::new(d.token, &al)
        .balanceOf(alice.address())
        .call()
        .await
        .unwrap();
    assert_eq!(after - before, reward);
    assert!(
        app.wasOutputExecuted(U256::from(voucher_index))
            .call()
            .await
            .unwrap()
    );
    assert!(
        app.executeOutput(output, proof).send().await.is_err(),
        "a voucher executes once"
    );
}
