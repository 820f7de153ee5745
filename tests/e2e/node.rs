//! The node binary on a real anvil. A whole competition, with every party a real process: the devnet is
//! deployed by `crucible-node deploy`, inputs go through the InputBox and the ERC20Portal,
//! `crucible-node run` feeds them to its `crucible-dapp` child, claims epochs on the
//! Authority and serves proofs over JSON-RPC, and the winners execute their vouchers on L1.
//! The node is killed with SIGKILL three times — while it works through an upload, while it
//! scores, and between its claim and the vouchers' execution — and restarted each time; at
//! the end a node that was never interrupted, on a fresh database, computes the same roots,
//! outputs and state, and confirms the claims on chain. Another test kills it at varied
//! points of uploads, round after round.

use alloy::{
    primitives::{Address, B256, Bytes, U256},
    providers::Provider,
    signers::local::PrivateKeySigner,
    sol_types::{SolCall, SolInterface},
};
use crucible_api::node::Deployed;
use crucible_chain::Confirm;
use crucible_chain::{
    app::{IApplication, OutputValidityProof},
    devnet::{ANVIL_KEYS, IERC20, IERC20Portal, IInputBox},
};
use crucible_e2e::{
    NodeArgs, NodeProcess, add_input, bins, connect, hex_bytes, hex_u64, run_doc, run_json,
    start_anvil, token_artifact,
};
use crucible_types::{
    Cid,
    abi::{self, ICrucible, ICrucibleOutputsCalls},
};
use serde_json::{Value, json};

struct Chain<P> {
    input_box: Address,
    app: Address,
    provider: P,
}

impl<P: Provider> Chain<P> {
    async fn add(&self, payload: Vec<u8>) {
        add_input(&self.provider, self.input_box, self.app, payload).await;
    }

    async fn upload(&self, bytes: &[u8]) -> Cid {
        for call in abi::put_chunk_calls(bytes) {
            self.add(call.abi_encode()).await;
        }
        Cid::of(bytes)
    }

    async fn inputs(&self) -> u64 {
        IInputBox::new(self.input_box, &self.provider)
            .getNumberOfInputs(self.app)
            .call()
            .await
            .expect("getNumberOfInputs")
            .try_into()
            .expect("small")
    }

    async fn mine(&self, blocks: u64) {
        for _ in 0..blocks {
            let _: Value = self
                .provider
                .raw_request("evm_mine".into(), ())
                .await
                .expect("evm_mine");
        }
    }

    async fn now(&self) -> u64 {
        self.provider
            .get_block_by_number(Default::default())
            .await
            .expect("latest block")
            .expect("a block")
            .header
            .timestamp
    }
}

fn address(v: &Value) -> Address {
    v.as_str().expect("address").parse().expect("address")
}

/// Every notice the node lists, decoded.
fn notices(outputs: &[Value]) -> Vec<ICrucibleOutputsCalls> {
    outputs
        .iter()
        .filter(|o| o["decoded_data"]["type"] == "Notice")
        .map(|o| {
            ICrucibleOutputsCalls::abi_decode(&hex_bytes(&o["decoded_data"]["payload"]))
                .expect("a Crucible notice")
        })
        .collect()
}

fn scored(outputs: &[Value], who: Address) -> Option<u64> {
    notices(outputs).into_iter().find_map(|n| match n {
        ICrucibleOutputsCalls::SubmissionScored(s) if s.submitter == who => Some(s.valuePpm),
        _ => None,
    })
}

fn cli_score(model: &str) -> u64 {
    let out = run_json(
        &bins().cli,
        &[
            "score",
            "--model",
            model,
            "--data",
            "data/fashion-mnist/val-1k.safetensors",
            "--metric",
            "accuracy",
            "--json",
        ],
    );
    out["value_ppm"].as_u64().expect("value_ppm")
}

fn roots(inputs: &[Value]) -> Vec<(u64, String, String)> {
    inputs
        .iter()
        .map(|i| {
            (
                hex_u64(&i["index"]),
                i["status"].as_str().expect("status").to_string(),
                i["outputs_hash"]
                    .as_str()
                    .expect("outputs_hash")
                    .to_string(),
            )
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn competition_through_node_binary_with_kill_and_restart() {
    let Some(anvil) = start_anvil() else { return };
    if token_artifact().is_none() {
        return;
    }
    let keys: Vec<PrivateKeySigner> = ANVIL_KEYS.iter().map(|k| k.parse().unwrap()).collect();
    let (sponsor, alice, bob) = (&keys[0], &keys[1], &keys[2]);
    let sp = connect(&anvil, sponsor).await;

    // The devnet, deployed by the node binary; epochs of 4 blocks. The operator (owner of
    // the Authority, which the node claims with) is not one of the parties.
    let operator = &keys[3];
    let d: Deployed = run_doc(
        &bins().node,
        &[
            "deploy",
            "--devnet",
            "--rpc",
            anvil.url(),
            "--key",
            ANVIL_KEYS[3],
            "--epoch-length",
            "4",
        ],
    );
    let (input_box, app, token, portal) = (
        d.input_box,
        d.application,
        d.token.expect("a devnet token"),
        d.erc20_portal,
    );
    let app_s = app.to_string();
    let chain = |p| Chain {
        input_box,
        app,
        provider: p,
    };
    let (s, a, b) = (
        chain(sp.clone()),
        chain(connect(&anvil, alice).await),
        chain(connect(&anvil, bob).await),
    );

    let dir = std::env::temp_dir().join(format!("crucible-e2e-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let node_args = NodeArgs {
        rpc: anvil.url().to_string(),
        app: app_s.clone(),
        key: ANVIL_KEYS[3].to_string(),
        db: dir.join("node.sqlite"),
        confirmations: 0,
    };
    let _ = std::fs::remove_file(&node_args.db);
    // The sponsor gets the reward from the operator before the node (which sends claims
    // from the operator's account) starts.
    let reward = U256::from(1_000u64) * U256::from(10u64).pow(U256::from(18u64));
    IERC20::new(token, connect(&anvil, operator).await)
        .transfer(sponsor.address(), reward)
        .send()
        .await
        .unwrap()
        .confirmed()
        .await
        .unwrap();
    let node = NodeProcess::start(&node_args);
    assert_eq!(node.replayed, 0);

    // The sponsor publishes the validation set and creates the competition through the
    // ERC20Portal, committing to a hidden test set.
    let val =
        std::fs::read(crucible_e2e::repo().join("data/fashion-mnist/val-1k.safetensors")).unwrap();
    let test =
        std::fs::read(crucible_e2e::repo().join("data/fashion-mnist/test-1k.safetensors")).unwrap();
    let val_cid = s.upload(&val).await;
    let (test_cid, test_salt) = (Cid::of(&test), B256::repeat_byte(0x5a));
    let now = s.now().await;
    let spec = abi::CompetitionSpec {
        validationCid: val_cid.to_bytes().into(),
        baselineCid: Bytes::new(),
        testCommitment: abi::test_set_commitment(&test_cid.to_bytes(), test_salt),
        metric: abi::Metric::Accuracy,
        submissionDeadline: now + 3_600,
        revealDeadline: now + 7_200,
        epsilonPpm: 0,
        testSetBytes: test.len() as u64,
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
            allowedOps: vec![],
        },
    };
    IERC20::new(token, &sp)
        .approve(portal, reward)
        .send()
        .await
        .unwrap()
        .confirmed()
        .await
        .unwrap();
    IERC20Portal::new(portal, &sp)
        .depositERC20Tokens(
            token,
            app,
            reward,
            ICrucible::createCompetitionCall { spec }
                .abi_encode()
                .into(),
        )
        .send()
        .await
        .unwrap()
        .confirmed()
        .await
        .unwrap();

    // Alice commits, uploads and reveals the MLP; a garbage input in between is rejected.
    let mlp = std::fs::read(crucible_e2e::repo().join("models/mlp/model.onnx")).unwrap();
    let mlp_cid = Cid::of(&mlp);
    let alice_salt = B256::repeat_byte(7);
    a.add(
        ICrucible::commitSubmissionCall {
            competitionId: 1,
            commitment: abi::submission_commitment(
                &mlp_cid.to_bytes(),
                alice.address(),
                alice_salt,
            ),
        }
        .abi_encode(),
    )
    .await;
    a.upload(&mlp).await;
    // SIGKILL while the node works through the upload's chunks.
    node.kill9();
    let node = NodeProcess::start(&node_args);
    a.add(vec![0xba, 0xd0]).await;
    a.add(
        ICrucible::submitCall {
            competitionId: 1,
            modelCid: mlp_cid.to_bytes().into(),
            dataCid: val_cid.to_bytes().into(),
            salt: alice_salt,
        }
        .abi_encode(),
    )
    .await;
    let total = a.inputs().await;
    node.wait_processed(&app_s, total).await;

    // Alice's score notice carries exactly what `crucible score` computes locally.
    let outputs = node.list_all("cartesi_listOutputs", &app_s).await;
    assert_eq!(
        scored(&outputs, alice.address()),
        Some(cli_score("models/mlp/model.onnx"))
    );

    // The rejected input: status REJECTED, no outputs, the root of the input before it.
    let inputs = node.list_all("cartesi_listInputs", &app_s).await;
    let bad = inputs
        .iter()
        .position(|i| i["decoded_data"]["payload"] == "0xbad0")
        .expect("the garbage input is listed");
    assert_eq!(inputs[bad]["status"], "REJECTED");
    assert_eq!(inputs[bad]["outputs_hash"], inputs[bad - 1]["outputs_hash"]);
    let bad_outputs = node
        .rpc(
            "cartesi_listOutputs",
            json!({ "application": app_s, "input_index": format!("{bad:#x}") }),
        )
        .await;
    assert_eq!(bad_outputs["pagination"]["total_count"], 0);
    let reports = node
        .rpc(
            "cartesi_listReports",
            json!({ "application": app_s, "input_index": format!("{bad:#x}") }),
        )
        .await;
    assert!(
        reports["pagination"]["total_count"].as_u64() > Some(0),
        "a rejection says why in a report"
    );

    // Inspect: the leaderboard through the DApp, in the official node's shape.
    let (status, answer) = node
        .post(&format!("/inspect/{app_s}"), b"leaderboard/1".to_vec())
        .await;
    assert_eq!((status, &answer["status"]), (200, &json!("Accepted")));
    assert_eq!(answer["processed_input_count"], total);
    let board = String::from_utf8(hex_bytes(&answer["reports"][0]["payload"])).unwrap();
    assert!(
        board
            .to_lowercase()
            .contains(&alice.address().to_string().to_lowercase()),
        "{board}"
    );
    let (status, _) = node
        .post(
            "/inspect/0x0000000000000000000000000000000000000001",
            vec![],
        )
        .await;
    assert_eq!(status, 404);

    // Blob download: the reassembled model, checked against its CID; clear refusals.
    assert_eq!(
        node.get(&format!("/blobs/{mlp_cid}")).await,
        (200, mlp.clone())
    );
    assert_eq!(
        node.get(&format!("/blobs/{test_cid}")).await.0,
        404,
        "not uploaded yet"
    );
    assert_eq!(node.get("/blobs/not-a-cid").await.0, 400);
    let missing = node
        .rpc_raw(
            "cartesi_getInput",
            json!({ "application": app_s, "input_index": "0x9999" }),
        )
        .await;
    assert_eq!(missing["error"]["code"], -31001);
    let unknown_app = node
        .rpc_raw(
            "cartesi_getProcessedInputCount",
            json!({ "application": "other" }),
        )
        .await;
    assert_eq!(unknown_app["error"]["code"], -31002);

    // Bob commits, uploads and reveals the CNN; the node is killed with SIGKILL right after
    // the last input is mined, while it is still working through them.
    let before_kill = roots(&node.list_all("cartesi_listInputs", &app_s).await);
    let cnn = std::fs::read(crucible_e2e::repo().join("models/cnn/model.onnx")).unwrap();
    let cnn_cid = Cid::of(&cnn);
    let bob_salt = B256::repeat_byte(9);
    b.add(
        ICrucible::commitSubmissionCall {
            competitionId: 1,
            commitment: abi::submission_commitment(&cnn_cid.to_bytes(), bob.address(), bob_salt),
        }
        .abi_encode(),
    )
    .await;
    b.upload(&cnn).await;
    b.add(
        ICrucible::submitCall {
            competitionId: 1,
            modelCid: cnn_cid.to_bytes().into(),
            dataCid: val_cid.to_bytes().into(),
            salt: bob_salt,
        }
        .abi_encode(),
    )
    .await;
    node.kill9();

    // Restarted on the same database: the stored inputs replay to the same roots, the rest
    // are read from L1, nothing is lost.
    let node = NodeProcess::start(&node_args);
    let total = b.inputs().await;
    node.wait_processed(&app_s, total).await;
    let after = roots(&node.list_all("cartesi_listInputs", &app_s).await);
    assert_eq!(after.len() as u64, total);
    assert_eq!(&after[..before_kill.len()], &before_kill[..]);
    let outputs = node.list_all("cartesi_listOutputs", &app_s).await;
    assert_eq!(
        scored(&outputs, bob.address()),
        Some(cli_score("models/cnn/model.onnx"))
    );

    // After the deadline the sponsor uploads and reveals the test set; anyone finalizes.
    let _: Value = sp
        .raw_request("evm_increaseTime".into(), (3_601u64,))
        .await
        .unwrap();
    s.upload(&test).await;
    s.add(
        ICrucible::revealTestSetCall {
            competitionId: 1,
            testCid: test_cid.to_bytes().into(),
            salt: test_salt,
        }
        .abi_encode(),
    )
    .await;
    a.add(ICrucible::finalizeCall { competitionId: 1 }.abi_encode())
        .await;
    // Close the epoch: the node claims it once the chain is past its last block.
    s.mine(4).await;
    let total = s.inputs().await;
    node.wait_processed(&app_s, total).await;
    let vouchers = loop {
        let outputs = node.list_all("cartesi_listOutputs", &app_s).await;
        let vouchers: Vec<Value> = outputs
            .into_iter()
            .filter(|o| o["decoded_data"]["type"] == "Voucher")
            .collect();
        if !vouchers.is_empty()
            && vouchers
                .iter()
                .all(|v| v["output_hashes_siblings"].is_array())
        {
            break vouchers;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    };
    assert_eq!(vouchers.len(), 2, "one payout per live entry");
    let epochs = node.list_all("cartesi_listEpochs", &app_s).await;
    assert!(epochs.iter().any(|e| e["status"] == "CLAIM_ACCEPTED"));

    // SIGKILL between the claim and the vouchers' execution: the restarted node serves the
    // very same vouchers and proofs.
    node.kill9();
    let node = NodeProcess::start(&node_args);
    let again: Vec<Value> = node
        .list_all("cartesi_listOutputs", &app_s)
        .await
        .into_iter()
        .filter(|o| o["decoded_data"]["type"] == "Voucher")
        .collect();
    assert_eq!(again, vouchers, "the vouchers and proofs survive the crash");

    // Each winner executes their voucher with the node's proof: the balance rises by
    // exactly the voucher's amount; the payouts add up to the reward; a replay reverts.
    let mut paid = U256::ZERO;
    for v in &vouchers {
        assert_eq!(address(&v["decoded_data"]["destination"]), token);
        let transfer =
            IERC20::transferCall::abi_decode(&hex_bytes(&v["decoded_data"]["payload"])).unwrap();
        let who = keys
            .iter()
            .find(|k| k.address() == transfer.to)
            .expect("a payout to a trainer");
        assert!(who.address() == alice.address() || who.address() == bob.address());
        let them = connect(&anvil, who).await;
        let before = IERC20::new(token, &them)
            .balanceOf(transfer.to)
            .call()
            .await
            .unwrap();
        let proof = OutputValidityProof {
            outputIndex: hex_u64(&v["index"]),
            outputHashesSiblings: v["output_hashes_siblings"]
                .as_array()
                .unwrap()
                .iter()
                .map(|h| h.as_str().unwrap().parse().unwrap())
                .collect(),
        };
        let application = IApplication::new(app, &them);
        let raw = Bytes::from(hex_bytes(&v["raw_data"]));
        application
            .executeOutput(raw.clone(), proof.clone())
            .send()
            .await
            .expect("executeOutput accepted")
            .confirmed()
            .await
            .unwrap();
        let after = IERC20::new(token, &them)
            .balanceOf(transfer.to)
            .call()
            .await
            .unwrap();
        assert_eq!(after - before, transfer.value);
        assert!(
            application.executeOutput(raw, proof).send().await.is_err(),
            "a voucher executes once"
        );
        paid += transfer.value;
    }
    assert_eq!(paid, reward);

    // A clean stop and restart replays every input to the same roots.
    let full = roots(&node.list_all("cartesi_listInputs", &app_s).await);
    let outputs = node.list_all("cartesi_listOutputs", &app_s).await;
    let status = |answer: Value| hex_bytes(&answer["reports"][0]["payload"]);
    let state = status(
        node.post(&format!("/inspect/{app_s}"), b"status".to_vec())
            .await
            .1,
    );
    assert!(node.terminate().success());
    let node = NodeProcess::start(&node_args);
    assert_eq!(node.replayed, full.len() as u64);
    assert_eq!(
        roots(&node.list_all("cartesi_listInputs", &app_s).await),
        full
    );

    // An uninterrupted run: a node on a fresh database reads every input from L1 and
    // computes the same roots, outputs (proofs included) and state as the node that was
    // killed three times; it finds the claims already on chain and accepts them as its own
    // (a claim with another root would stop it with an error).
    drop(node);
    let fresh = NodeArgs {
        db: dir.join("uninterrupted.sqlite"),
        ..node_args.clone()
    };
    let _ = std::fs::remove_file(&fresh.db);
    let clean = NodeProcess::start(&fresh);
    assert_eq!(clean.replayed, 0);
    clean.wait_processed(&app_s, full.len() as u64).await;
    assert_eq!(
        roots(&clean.list_all("cartesi_listInputs", &app_s).await),
        full
    );
    let clean_outputs = loop {
        let o = clean.list_all("cartesi_listOutputs", &app_s).await;
        if o.iter()
            .filter(|v| v["output_hashes_siblings"].is_array())
            .count()
            == outputs
                .iter()
                .filter(|v| v["output_hashes_siblings"].is_array())
                .count()
        {
            break o;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    };
    assert_eq!(clean_outputs, outputs);
    assert_eq!(
        status(
            clean
                .post(&format!("/inspect/{app_s}"), b"status".to_vec())
                .await
                .1
        ),
        state,
        "the same state hash, balances and competitions"
    );
    // An input near the InputBox's 64 KiB bound, of junk: the DApp rejects it, and the
    // conformance check asks for it in a batch whose answers pass the API's size bound.
    s.add(vec![0xee; 65_000]).await;
    clean.wait_processed(&app_s, full.len() as u64 + 1).await;
    let junk = clean
        .api(&app_s)
        .input(full.len() as u64)
        .await
        .expect("cartesi_getInput")
        .expect("the junk input");
    assert_eq!(junk.status, crucible_api::InputStatus::Rejected);

    // The whole official API, over what this competition left behind.
    crate::conformance::check_node_api(&clean.url, app).await;
    let _ = std::fs::remove_dir_all(&dir);
}

/// A fresh application on `anvil` (epochs of 4 blocks), dev account 1's view of it, and the
/// arguments of a node for it (claiming with account 3, reading inputs `confirmations`
/// blocks deep) on a new database in a directory named after `tag`.
async fn app_with_node(
    anvil: &crucible_chain::devnet::Anvil,
    tag: &str,
    confirmations: u64,
) -> (Chain<impl Provider + use<>>, NodeArgs, std::path::PathBuf) {
    let key: PrivateKeySigner = ANVIL_KEYS[1].parse().unwrap();
    // Connecting waits until anvil answers.
    let provider = connect(anvil, &key).await;
    let d: Deployed = run_doc(
        &bins().node,
        &[
            "deploy",
            "--devnet",
            "--rpc",
            anvil.url(),
            "--key",
            ANVIL_KEYS[3],
            "--epoch-length",
            "4",
        ],
    );
    let c = Chain {
        input_box: d.input_box,
        app: d.application,
        provider,
    };
    let dir = std::env::temp_dir().join(format!("crucible-e2e-{tag}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let args = NodeArgs {
        rpc: anvil.url().to_string(),
        app: c.app.to_string(),
        key: ANVIL_KEYS[3].to_string(),
        db: dir.join("node.sqlite"),
        confirmations,
    };
    let _ = std::fs::remove_file(&args.db);
    (c, args, dir)
}

#[tokio::test(flavor = "multi_thread")]
async fn inputs_wait_for_their_confirmations() {
    let Some(anvil) = start_anvil() else { return };
    if token_artifact().is_none() {
        return;
    }
    let (c, args, dir) = app_with_node(&anvil, "conf", 2).await;
    let app = c.app.to_string();
    let node = NodeProcess::start(&args);
    c.upload(b"confirmed later").await;
    // With a 50 ms poll, an input read too early would show within these waits.
    for _ in 0..2 {
        tokio::time::sleep(std::time::Duration::from_millis(500)).await;
        assert_eq!(node.processed(&app).await, 0);
        c.mine(1).await;
    }
    node.wait_processed(&app, 1).await;
    let _ = std::fs::remove_dir_all(&dir);
}

/// Rounds of [`kills_during_uploads_lose_nothing`]: `CRUCIBLE_KILL_ROUNDS`, 6 by default.
fn kill_rounds() -> u64 {
    std::env::var("CRUCIBLE_KILL_ROUNDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(6)
}

/// The node is SIGKILLed at a different point of an upload in every round — before it reads
/// the chunks, part-way through them, after the last one (with a claim possibly in flight)
/// — and restarted; each time it must read the inputs added after the restart, and at the
/// end a node that was never interrupted must compute the same inputs and roots.
#[tokio::test(flavor = "multi_thread")]
async fn kills_during_uploads_lose_nothing() {
    let Some(anvil) = start_anvil() else { return };
    if token_artifact().is_none() {
        return;
    }
    let (c, args, dir) = app_with_node(&anvil, "kills", 0).await;
    let app = c.app.to_string();
    let mut node = NodeProcess::start(&args);
    for round in 0..kill_rounds() {
        // Four chunks of a blob no other round uploads.
        let blob: Vec<u8> = (0..3 * abi::CHUNK_BYTES + 1_000)
            .map(|i| (i as u64 * 31 + round) as u8)
            .collect();
        let before = c.inputs().await;
        c.upload(&blob).await;
        let after = c.inputs().await;
        match round % 3 {
            // Straight away: most chunks not yet read.
            0 => {}
            // Part-way: once it has processed two of the four.
            1 => node.wait_processed(&app, before + 2).await,
            // After the last chunk, while it may be claiming the epoch.
            _ => node.wait_processed(&app, after).await,
        }
        node.kill9();
        node = NodeProcess::start(&args);
        c.add(vec![0xba, 0xd0]).await;
        c.add(vec![0xba, 0xd1]).await;
        node.wait_processed(&app, after + 2).await;
    }
    let total = c.inputs().await;
    let killed = roots(&node.list_all("cartesi_listInputs", &app).await);
    assert_eq!(killed.len() as u64, total);
    drop(node);

    let fresh = NodeArgs {
        db: dir.join("fresh.sqlite"),
        ..args
    };
    let _ = std::fs::remove_file(&fresh.db);
    let clean = NodeProcess::start(&fresh);
    clean.wait_processed(&app, total).await;
    assert_eq!(
        roots(&clean.list_all("cartesi_listInputs", &app).await),
        killed
    );
    let _ = std::fs::remove_dir_all(&dir);
}

/// A Quorum of two validators, each a node with its own key and database. One is SIGKILLed
/// in the middle of an epoch (some of its inputs read, some not yet added) and restarted: it
/// catches up and claims the root the other claims, and the Quorum accepts it. `crucible
/// validate --json` then finds every epoch ok.
#[tokio::test(flavor = "multi_thread")]
async fn validator_restarted_mid_epoch_claims_the_same_root() {
    let Some(anvil) = start_anvil() else { return };
    if token_artifact().is_none() {
        return;
    }
    let key: PrivateKeySigner = ANVIL_KEYS[1].parse().unwrap();
    let provider = connect(&anvil, &key).await;
    let keys: Vec<PrivateKeySigner> = [6, 7]
        .iter()
        .map(|&i| ANVIL_KEYS[i].parse().unwrap())
        .collect();
    let (a, b) = (keys[0].address().to_string(), keys[1].address().to_string());
    let d: Deployed = run_doc(
        &bins().node,
        &[
            "deploy",
            "--devnet",
            "--rpc",
            anvil.url(),
            "--key",
            ANVIL_KEYS[3],
            "--epoch-length",
            "8",
            "--validator",
            &a,
            "--validator",
            &b,
        ],
    );
    let c = Chain {
        input_box: d.input_box,
        app: d.application,
        provider,
    };
    let app = c.app.to_string();
    let dir = std::env::temp_dir().join(format!("crucible-e2e-quorum-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let node_args = |i: usize| NodeArgs {
        rpc: anvil.url().to_string(),
        app: app.clone(),
        key: ANVIL_KEYS[6 + i].to_string(),
        db: dir.join(format!("validator-{i}.sqlite")),
        confirmations: 0,
    };
    for i in 0..2 {
        let _ = std::fs::remove_file(node_args(i).db);
    }
    let first = NodeProcess::start(&node_args(0));
    let second = NodeProcess::start(&node_args(1));
    // Start at an epoch's first block, so that the next inputs share one epoch.
    let head = c.provider.get_block_number().await.unwrap();
    c.mine(8 - (head + 1) % 8).await;
    let start = c.provider.get_block_number().await.unwrap() + 1;
    assert_eq!(start % 8, 0);
    c.add(vec![0xa0]).await;
    c.add(vec![0xa1]).await;
    first.wait_processed(&app, 2).await;
    first.kill9();
    c.add(vec![0xa2]).await;
    let last = c.provider.get_block_number().await.unwrap();
    assert!(
        last < start + 8,
        "the three inputs share epoch {}",
        start / 8
    );
    let first = NodeProcess::start(&node_args(0));
    assert_eq!(first.replayed, 2);
    // Past the epoch: both claim it.
    c.mine(start + 8 - last).await;
    let epoch: u64 = start / 8;
    let started = std::time::Instant::now();
    let claims = loop {
        let list = second
            .rpc("crucible_listClaims", json!({"application": app}))
            .await;
        let rows: Vec<crucible_node::query::EpochClaims> =
            serde_json::from_value(list["data"].clone()).unwrap();
        if let Some(e) = rows.into_iter().find(|e| e.epoch_index == epoch)
            && e.claims.len() == 2
            && e.accepted.is_some()
        {
            break e;
        }
        assert!(
            started.elapsed() < std::time::Duration::from_secs(60),
            "no accepted epoch {epoch}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    };
    let root = claims.root.expect("read");
    assert!(claims.claims.iter().all(|c| c.root == root), "{claims:?}");
    assert_eq!(claims.accepted.map(|a| a.root), Some(root));
    let mut submitters: Vec<Address> = claims.claims.iter().map(|c| c.submitter).collect();
    submitters.sort();
    let mut expected = vec![keys[0].address(), keys[1].address()];
    expected.sort();
    assert_eq!(submitters, expected);
    // The restarted node computed the same root, and reports the epoch accepted.
    let epochs = first
        .rpc("cartesi_listEpochs", json!({"application": app}))
        .await;
    let mine = epochs["data"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| hex_u64(&e["index"]) == epoch)
        .unwrap()
        .clone();
    assert_eq!(mine["outputs_merkle_root"], json!(root));
    assert_eq!(mine["status"], "CLAIM_ACCEPTED");

    // Anyone replays the chain and finds every claim right.
    let report: crucible_api::validate::Report = run_doc(
        &bins().cli,
        &["validate", "--rpc", anvil.url(), "--app", &app, "--json"],
    );
    assert!(report.ok, "{report}");
    let row = report
        .epochs
        .iter()
        .find(|e| e.epoch == epoch)
        .expect("the epoch");
    assert_eq!(json!(row.recomputed_root), json!(root));
    assert_eq!(row.claims.len(), 2);
    drop((first, second));
    let _ = std::fs::remove_dir_all(&dir);
}
