//! The road to a public chain, played on anvil. A chain that already has Cartesi Rollups
//! v2.2.0 at the canonical addresses gets only the consensus and the application from
//! `crucible-node deploy` (through the canonical factories, one transaction for an Authority,
//! with the given template hash), and a chain without them is refused with the reason. A
//! node and `crucible validate` behind an endpoint that caps `eth_getLogs` ranges, drops
//! requests and loses answers (to the node's claims too), as public endpoints do, miss no
//! input and no claim.

use alloy::{
    primitives::{Address, U256, b256},
    providers::Provider,
    rpc::types::Filter,
    signers::local::PrivateKeySigner,
    sol_types::{SolCall, SolEvent},
};
use crucible_api::{claims::EpochClaims, node::Deployed};
use crucible_chain::{
    app::IApplication,
    devnet::{self, ANVIL_KEYS, IApplicationFactory, IOwned},
};
use crucible_e2e::{
    NodeArgs, NodeProcess, add_input, bins, connect, crucible_doc,
    proxy::{ProxyRules, RpcProxy},
    repo, start_anvil, token_artifact,
};
use crucible_types::{abi, rollup};
use serde_json::{Value, json};
use std::{
    process::Command,
    time::{Duration, Instant},
};

/// `crucible-node deploy ARGS` → exit success, stdout, stderr.
fn deploy<S: AsRef<std::ffi::OsStr>>(args: &[S]) -> (bool, String, String) {
    let out = Command::new(&bins().node)
        .arg("deploy")
        .args(args)
        .current_dir(repo())
        .env_remove("CRUCIBLE_RPC")
        .env_remove("CRUCIBLE_NODE_KEY")
        .output()
        .expect("crucible-node runs");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn deployed<S: AsRef<std::ffi::OsStr> + std::fmt::Debug>(args: &[S]) -> Deployed {
    let (ok, stdout, stderr) = deploy(args);
    assert!(ok, "crucible-node deploy {args:?}: {stderr}");
    serde_json::from_str(&stdout)
        .unwrap_or_else(|e| panic!("deploy prints its document ({e}): {stdout}"))
}

async fn mine(provider: &impl Provider, blocks: u64) {
    let _: Value = provider
        .raw_request("anvil_mine".into(), (U256::from(blocks),))
        .await
        .expect("anvil_mine");
}

/// Waits until the node lists `epochs` epochs whose root the consensus accepted.
async fn wait_accepted(node: &NodeProcess, app: &str, epochs: usize) -> Vec<EpochClaims> {
    let started = Instant::now();
    loop {
        let list = node
            .rpc("crucible_listClaims", json!({ "application": app }))
            .await;
        let rows: Vec<EpochClaims> =
            serde_json::from_value(list["data"].clone()).expect("crucible_listClaims rows");
        if rows.iter().filter(|e| e.accepted.is_some()).count() >= epochs {
            return rows;
        }
        assert!(
            started.elapsed() < Duration::from_secs(300),
            "{} of {epochs} epochs accepted after 300 s: {rows:?}",
            rows.iter().filter(|e| e.accepted.is_some()).count()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn deploy_uses_the_canonical_contracts_a_chain_already_has() {
    let Some(anvil) = start_anvil() else { return };
    let operator: PrivateKeySigner = ANVIL_KEYS[0].parse().unwrap();
    let user: PrivateKeySigner = ANVIL_KEYS[5].parse().unwrap();
    let chain = connect(&anvil, &operator).await;

    // A chain without Cartesi Rollups: refused, with the reason and the way out.
    let (ok, _, stderr) = deploy(&["--rpc", anvil.url(), "--key", ANVIL_KEYS[5]]);
    assert!(!ok);
    assert!(
        stderr.contains("has no InputBox at its canonical address")
            && stderr.contains(&rollup::INPUT_BOX.to_string())
            && stderr.contains("--devnet"),
        "{stderr}"
    );
    // No key, no deployment (a public chain has no development keys).
    let (ok, _, stderr) = deploy(&["--rpc", anvil.url()]);
    assert!(!ok && stderr.contains("pass --key"), "{stderr}");

    // The chain gets Cartesi Rollups v2.2.0 as every public chain has it.
    devnet::install_canonical(&chain, &repo().join("node_modules/@cartesi/rollups/out"))
        .await
        .expect("the canonical contracts deploy");
    for (name, canonical) in devnet::CANONICAL {
        assert!(
            !chain.get_code_at(canonical).await.unwrap().is_empty(),
            "{name} at {canonical}"
        );
    }

    // A user deploys as on a public chain: only the Authority and the application, in one
    // transaction, with the machine's template hash; no token.
    let template = b256!("0x5c3a9d8f0e7b6a1c2d3e4f5a6b7c8d9e0f1a2b3c4d5e6f708192a3b4c5d6e7f8");
    let template_s = template.to_string();
    // The user's deployment with these arguments added.
    let as_user = |more: &[&str]| -> Vec<String> {
        [
            "--rpc",
            anvil.url(),
            "--key",
            ANVIL_KEYS[5],
            "--epoch-length",
            "4",
        ]
        .iter()
        .chain(more)
        .map(|a| a.to_string())
        .collect()
    };
    let d = deployed(&as_user(&["--template-hash", &template_s]));
    assert!(d.token.is_none(), "{d:?}");
    assert_eq!(d.input_box, rollup::INPUT_BOX);
    assert_eq!(d.chain_id, 31337);
    let (app, authority) = (d.application, d.consensus);
    assert_eq!(
        chain.get_transaction_count(user.address()).await.unwrap(),
        1,
        "one transaction: SelfHostedApplicationFactory.deployContracts"
    );
    let owned = |a: Address| IOwned::new(a, &chain);
    assert_eq!(owned(app).getTemplateHash().call().await.unwrap(), template);
    assert_eq!(owned(app).owner().call().await.unwrap(), user.address());
    assert_eq!(
        owned(authority).owner().call().await.unwrap(),
        user.address()
    );
    assert_eq!(
        IApplication::new(app, &chain)
            .getOutputsMerkleRootValidator()
            .call()
            .await
            .unwrap(),
        authority
    );
    // The application is the canonical ApplicationFactory's.
    let created = chain
        .get_logs(
            &Filter::new()
                .address(rollup::APPLICATION_FACTORY)
                .event_signature(IApplicationFactory::ApplicationCreated::SIGNATURE_HASH)
                .from_block(0),
        )
        .await
        .unwrap();
    let created: Vec<Address> = created
        .iter()
        .map(|l| {
            l.log_decode::<IApplicationFactory::ApplicationCreated>()
                .unwrap()
                .inner
                .data
                .appContract
        })
        .collect();
    assert_eq!(created, vec![app]);

    // The same salt twice: refused before any transaction.
    let salt = d.salt.to_string();
    let (ok, _, stderr) = deploy(&as_user(&["--template-hash", &template_s, "--salt", &salt]));
    assert!(!ok && stderr.contains("already exists"), "{stderr}");
    assert_eq!(
        chain.get_transaction_count(user.address()).await.unwrap(),
        1
    );

    // A Quorum: its factory's Quorum, then the ApplicationFactory's application.
    let validators: Vec<String> = [6, 7, 8]
        .iter()
        .map(|&i| {
            ANVIL_KEYS[i]
                .parse::<PrivateKeySigner>()
                .unwrap()
                .address()
                .to_string()
        })
        .collect();
    let q = deployed(&as_user(&[
        "--validator",
        &validators[0],
        "--validator",
        &validators[1],
        "--validator",
        &validators[2],
    ]));
    assert_eq!(
        chain.get_transaction_count(user.address()).await.unwrap(),
        3,
        "newQuorum and newApplication"
    );
    assert_eq!(
        owned(q.application).getTemplateHash().call().await.unwrap(),
        devnet::host_template_hash(),
        "no --template-hash: the host-mode placeholder"
    );

    // Through an endpoint that loses the answer to every transaction it passes on (and
    // refuses it sent again, as known), the deployment still completes, once: the
    // application's code on chain says that the transaction went through.
    let lossy = RpcProxy::start(
        anvil.url(),
        ProxyRules {
            max_log_range: u64::MAX,
            drop_every: 0,
            lose_answer_every: 0,
            lose_send_answer_every: 1,
        },
    )
    .await;
    let mut through_lossy = as_user(&["--template-hash", &template_s]);
    through_lossy[1] = lossy.url.clone();
    let l = deployed(&through_lossy);
    assert!(!chain.get_code_at(l.application).await.unwrap().is_empty());
    assert_eq!(
        chain.get_transaction_count(user.address()).await.unwrap(),
        4
    );
    assert_eq!(lossy.count(|s| &s.send_answers_lost), 1);
    assert!(lossy.count(|s| &s.sends_refused_as_known) >= 1);
    assert!(l.block > 0, "{l:?}");

    // The node runs the application deployed this way: it reads an input, and its claim is
    // accepted by the user's Authority.
    add_input(
        &chain,
        rollup::INPUT_BOX,
        app,
        abi::put_chunk_calls(b"on a public chain")[0].abi_encode(),
    )
    .await;
    let dir = std::env::temp_dir().join(format!("crucible-e2e-public-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let db = dir.join("node.sqlite");
    let _ = std::fs::remove_file(&db);
    let app_s = app.to_string();
    let node = NodeProcess::start(&NodeArgs {
        rpc: anvil.url().to_string(),
        app: app_s.clone(),
        key: ANVIL_KEYS[5].to_string(),
        db,
        confirmations: 0,
    });
    node.wait_processed(&app_s, 1).await;
    mine(&chain, 4).await;
    let rows = wait_accepted(&node, &app_s, 1).await;
    assert_eq!(rows[0].claims[0].submitter, user.address());
    assert_eq!(Some(rows[0].claims[0].root), rows[0].root);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_node_behind_a_capped_dropping_endpoint_misses_nothing() {
    let Some(anvil) = start_anvil() else { return };
    if token_artifact().is_none() {
        return;
    }
    let key: PrivateKeySigner = ANVIL_KEYS[3].parse().unwrap();
    let chain = connect(&anvil, &key).await;
    let d = deployed(&[
        "--devnet",
        "--rpc",
        anvil.url(),
        "--key",
        ANVIL_KEYS[3],
        "--epoch-length",
        "4",
    ]);
    let app = d.application;
    let app_s = app.to_string();
    const CAP: u64 = 25;
    let proxy = RpcProxy::start(
        anvil.url(),
        ProxyRules {
            max_log_range: CAP,
            drop_every: 7,
            lose_answer_every: 11,
            lose_send_answer_every: 2,
        },
    )
    .await;

    // Inputs spread over many times the endpoint's range cap, some accepted (stored
    // chunks), some rejected.
    let mut sent = 0u64;
    for round in 0..6u8 {
        let payload = if round % 2 == 0 {
            abi::put_chunk_calls(&[round; 100])[0].abi_encode()
        } else {
            vec![0xde, 0xad, round]
        };
        add_input(&chain, rollup::INPUT_BOX, app, payload).await;
        sent += 1;
        mine(&chain, 3 * CAP + u64::from(round)).await;
    }

    let dir = std::env::temp_dir().join(format!("crucible-e2e-flaky-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let db = dir.join("node.sqlite");
    let _ = std::fs::remove_file(&db);
    let node = NodeProcess::start(&NodeArgs {
        rpc: proxy.url.clone(),
        app: app_s.clone(),
        key: ANVIL_KEYS[3].to_string(),
        db,
        confirmations: 0,
    });
    node.wait_processed(&app_s, sent).await;
    let rows = wait_accepted(&node, &app_s, sent as usize).await;
    for e in &rows {
        assert_eq!(e.claims.len(), 1, "epoch {}", e.epoch_index);
        assert_eq!(e.root, Some(e.claims[0].root), "epoch {}", e.epoch_index);
        assert_eq!(e.accepted.as_ref().map(|a| a.root), e.root);
    }
    let statuses: Vec<String> = node
        .list_all("cartesi_listInputs", &app_s)
        .await
        .iter()
        .map(|i| i["status"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(
        statuses,
        [
            "ACCEPTED", "REJECTED", "ACCEPTED", "REJECTED", "ACCEPTED", "REJECTED"
        ]
    );

    // A replay through the same endpoint agrees with every claim.
    let home = dir.join("home");
    let report: crucible_api::validate::Report = crucible_doc(
        &home,
        &["validate", "--rpc", &proxy.url, "--app", &app_s, "--json"],
    );
    assert!(report.ok, "{report}");
    assert_eq!(report.inputs, sent);
    assert_eq!(report.epochs.len(), rows.len());

    let widest = proxy.count(|s| &s.widest_log_range);
    let (refused, dropped, lost, sends_lost, known) = (
        proxy.count(|s| &s.refused_ranges),
        proxy.count(|s| &s.dropped),
        proxy.count(|s| &s.answers_lost),
        proxy.count(|s| &s.send_answers_lost),
        proxy.count(|s| &s.sends_refused_as_known),
    );
    eprintln!(
        "proxy: {} requests, {dropped} dropped, {lost} answers lost, {sends_lost} of {} transactions taken with their answer lost and {known} sent again refused as known, {refused} eth_getLogs refused for their range, {} served (widest {widest} blocks)",
        proxy.count(|s| &s.requests),
        proxy.count(|s| &s.sends),
        proxy.count(|s| &s.log_queries),
    );
    assert!(
        refused > 0 && dropped > 0 && lost > 0 && sends_lost > 0 && known > 0,
        "the endpoint misbehaved"
    );
    assert!(widest <= CAP);
}
