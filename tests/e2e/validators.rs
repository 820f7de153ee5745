//! Validators on a Quorum, every one a real `crucible-node` with its own key, database and
//! DApp, started by `crucible devnet up`: a faulty validator (a DApp that scores
//! differently) is outvoted, its claims never become accepted, the winner's voucher executes
//! against the honest root and a proof against the faulty root reverts on L1; `crucible
//! validate` names the faulty validator and the first diverging output. A validator that runs
//! the riscv64 DApp under qemu agrees with a native one on every epoch of a competition.

use alloy::{
    primitives::{Address, B256, Bytes},
    providers::ProviderBuilder,
};
use crucible_api::{claims::EpochClaims, validate::Report};
use crucible_chain::app::{IApplication, OutputValidityProof};
use crucible_cli::docs::Executed;
use crucible_e2e::{
    crucible, crucible_doc, crucible_json, devnet_tools, hex_bytes, hex_u64, repo, rpc_at, skipped,
};
use crucible_node::merkle::OutputsTree;
use serde_json::{Value, json};
use std::{path::PathBuf, process::Command};

/// A devnet under a fresh home, stopped when dropped.
struct Devnet {
    home: PathBuf,
    state: Value,
}

impl Devnet {
    fn up(tag: &str, extra: &[&str]) -> Option<Self> {
        if !devnet_tools() {
            return None;
        }
        let home =
            std::env::temp_dir().join(format!("crucible-validators-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&home);
        let mut args = vec!["devnet", "up", "--port", "0", "--node-port", "0", "--json"];
        args.extend(extra);
        let state = crucible_json(&home, &args);
        Some(Self { home, state })
    }

    fn validators(&self) -> Vec<(Address, String, String)> {
        self.state["validators"]
            .as_array()
            .expect("validators")
            .iter()
            .map(|v| {
                (
                    v["address"].as_str().unwrap().parse().unwrap(),
                    v["node"].as_str().unwrap().to_string(),
                    v["dapp"].as_str().unwrap().to_string(),
                )
            })
            .collect()
    }

    fn app(&self) -> Address {
        self.state["deployment"]["application"]
            .as_str()
            .unwrap()
            .parse()
            .unwrap()
    }

    /// Sponsor (dev account 1) creates competition 1 with a hidden test set; `models` are
    /// submitted by dev accounts 2, 3, …; the deadline passes; the test set is revealed and
    /// the competition finalized.
    fn competition(&self, models: &[&str]) {
        crucible_json(
            &self.home,
            &[
                "competition",
                "create",
                "--data",
                "data/fashion-mnist/val-1k.safetensors",
                "--test",
                "data/fashion-mnist/test-1k.safetensors",
                "--reward",
                "50",
                "--dev-account",
                "1",
                "--json",
            ],
        );
        for (i, model) in models.iter().enumerate() {
            let account = (i + 2).to_string();
            crucible_json(
                &self.home,
                &[
                    "submit",
                    "--competition",
                    "1",
                    "--model",
                    model,
                    "--dev-account",
                    &account,
                    "--json",
                ],
            );
        }
        crucible_json(&self.home, &["devnet", "time", "3700", "--json"]);
        crucible_json(
            &self.home,
            &["competition", "reveal", "1", "--dev-account", "1", "--json"],
        );
        crucible_json(
            &self.home,
            &[
                "competition",
                "finalize",
                "1",
                "--dev-account",
                "4",
                "--json",
            ],
        );
    }

    /// `crucible_listClaims` of the node at `url`.
    async fn claims(&self, url: &str) -> Vec<EpochClaims> {
        let answer = rpc_at(url, "crucible_listClaims", json!({})).await;
        serde_json::from_value(answer["data"].clone()).expect("EpochClaims rows")
    }

    /// Waits until the node at `url` has seen a claim from each of `voters` for every
    /// epoch that holds inputs and has read it whole; returns its rows.
    async fn wait_claims(&self, url: &str, voters: &[Address]) -> Vec<EpochClaims> {
        let started = std::time::Instant::now();
        loop {
            let rows = self.claims(url).await;
            let complete = !rows.is_empty()
                && rows.iter().all(|e| {
                    e.root.is_some()
                        && voters
                            .iter()
                            .all(|v| e.claims.iter().any(|c| c.submitter == *v))
                });
            if complete {
                return rows;
            }
            assert!(
                started.elapsed() < std::time::Duration::from_secs(600),
                "not every validator claimed every epoch: {rows:#?}"
            );
            tokio::time::sleep(std::time::Duration::from_millis(250)).await;
        }
    }
}

impl Drop for Devnet {
    fn drop(&mut self) {
        let _ = crucible(&self.home, &["devnet", "down"]);
        let _ = std::fs::remove_dir_all(&self.home);
    }
}

/// Builds `crucible-dapp-faulty` (only its own feature differs from the workspace build, so
/// nothing else is compiled again).
fn build_faulty_dapp() {
    let status = Command::new(env!("CARGO"))
        .args(["build", "--quiet", "--workspace", "--all-targets"])
        .args(["--features", "crucible-dapp-faulty/faulty"])
        .current_dir(repo())
        .status()
        .expect("cargo runs");
    assert!(status.success(), "building crucible-dapp-faulty failed");
}

#[tokio::test(flavor = "multi_thread")]
async fn faulty_validator_is_outvoted() {
    build_faulty_dapp();
    let Some(devnet) = Devnet::up("faulty", &["--validators", "2", "--faulty-validator"]) else {
        return;
    };
    let validators = devnet.validators();
    assert_eq!(validators.len(), 3);
    let (honest, faulty) = (&validators[..2], &validators[2]);
    assert!(faulty.2.contains("FAULTY"), "{validators:?}");
    devnet.competition(&["models/mlp/model.onnx"]);

    // Every validator claims every epoch; the honest root is accepted wherever the faulty
    // one differs, and the faulty root never is.
    let voters: Vec<Address> = validators.iter().map(|v| v.0).collect();
    let rows = devnet.wait_claims(&honest[0].1, &voters).await;
    let mut differing = 0;
    for e in &rows {
        let ours = e.root.expect("read");
        let accepted = e.accepted.expect("every epoch is accepted");
        assert_eq!(
            accepted.root, ours,
            "epoch {}: the honest root",
            e.epoch_index
        );
        for c in &e.claims {
            if honest.iter().any(|h| h.0 == c.submitter) {
                assert_eq!(c.root, ours);
            } else if c.root != ours {
                differing += 1;
            }
        }
    }
    assert!(
        differing > 0,
        "the faulty DApp's claims differ from some epoch on"
    );
    // The faulty node itself sees its roots rejected and serves no proofs.
    let faulty_rows = devnet.claims(&faulty.1).await;
    let last = faulty_rows.last().expect("epochs");
    let faulty_root = last.root.expect("read");
    assert_ne!(Some(faulty_root), last.accepted.map(|a| a.root));

    // The winner executes its voucher with the honest node's proof against the accepted
    // root.
    let executed: Vec<Executed> = crucible_doc(
        &devnet.home,
        &["execute", "--all-mine", "--dev-account", "2", "--json"],
    );
    assert!(executed[0].executed, "{executed:?}");
    assert_eq!(
        executed[0].balance_after - executed[0].balance_before,
        executed[0].amount
    );
    let index = executed[0].index;

    // The same voucher proven against the faulty root (rebuilt from the faulty node's own
    // outputs, which give exactly its last claimed root) reverts on L1.
    let outputs: Vec<Vec<u8>> = list_outputs(&faulty.1).await;
    let mut tree = OutputsTree::new();
    for o in &outputs {
        tree.push_output(o);
    }
    assert_eq!(
        tree.root(),
        faulty_root,
        "the faulty node's outputs give its claimed root"
    );
    let provider =
        ProviderBuilder::new().connect_http(devnet.state["rpc"].as_str().unwrap().parse().unwrap());
    let application = IApplication::new(devnet.app(), &provider);
    let revert = application
        .validateOutput(
            Bytes::from(outputs[index as usize].clone()),
            OutputValidityProof {
                outputIndex: index,
                outputHashesSiblings: tree.proof(index).expect("a proof"),
            },
        )
        .call()
        .await
        .err()
        .expect("a proof against the faulty root is refused");
    let data = revert
        .as_revert_data()
        .expect("a revert with data")
        .to_vec();
    // InvalidOutputsMerkleRoot(bytes32 root)
    assert_eq!(&data[..4], &[0x44, 0xa1, 0x92, 0xff]);
    assert_eq!(B256::from_slice(&data[4..36]), faulty_root);

    // `crucible validate` replays the chain, names the faulty validator and, against its
    // node, the first diverging output.
    let r = crucible(
        &devnet.home,
        &["validate", "--against", &faulty.1, "--json"],
    );
    assert_eq!(r.code, 5, "{}", r.stderr);
    let report: Value = serde_json::from_str(&r.stdout).expect("JSON");
    assert_eq!(report["ok"], false);
    let bad: Vec<&Value> = report["epochs"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["ok"] == false)
        .collect();
    assert!(!bad.is_empty());
    let named: Vec<String> = bad
        .iter()
        .flat_map(|e| e["claims"].as_array().unwrap())
        .filter(|c| c["agrees"] == false)
        .map(|c| c["validator"].as_str().unwrap().to_lowercase())
        .collect();
    assert!(!named.is_empty());
    assert!(
        named
            .iter()
            .all(|v| *v == faulty.0.to_string().to_lowercase()),
        "only the faulty validator is named: {named:?}"
    );
    let divergence = bad
        .iter()
        .find_map(|e| e["first_divergence"].as_object())
        .expect("the first divergence, in the epoch that holds it");
    let (here, there) = (
        divergence["here"].as_str().unwrap(),
        divergence["there"].as_str().unwrap(),
    );
    assert!(
        here.starts_with("SubmissionScored competition 1: "),
        "{here}"
    );
    assert!(
        there.starts_with("SubmissionScored competition 1: "),
        "{there}"
    );
    assert_ne!(here, there);
    // Without --against, the text names the faulty validator too.
    let r = crucible(&devnet.home, &["validate"]);
    eprintln!("crucible validate:\n{}", r.stdout);
    assert_eq!(r.code, 5, "{}", r.stderr);
    assert!(r.stdout.contains("DIFFERS"), "{}", r.stdout);
    assert!(r.stdout.contains(&faulty.0.to_string()), "{}", r.stdout);
}

async fn list_outputs(url: &str) -> Vec<Vec<u8>> {
    let answer = rpc_at(url, "cartesi_listOutputs", json!({"limit": 10000})).await;
    answer["data"]
        .as_array()
        .expect("outputs")
        .iter()
        .enumerate()
        .map(|(i, o)| {
            assert_eq!(hex_u64(&o["index"]), i as u64);
            hex_bytes(&o["raw_data"])
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn riscv_and_native_validators_agree_on_a_whole_competition() {
    let Some(rv) = std::env::var_os("CRUCIBLE_RISCV_DAPP") else {
        skipped(
            "riscv64 validator: CRUCIBLE_RISCV_DAPP is not set (cargo xtask test builds the riscv64 DApp and sets it)",
        );
        return;
    };
    let rv = rv.to_string_lossy().into_owned();
    let Some(devnet) = Devnet::up("riscv", &["--validators", "1", "--riscv-dapp", &rv]) else {
        return;
    };
    let validators = devnet.validators();
    assert_eq!(validators.len(), 2);
    assert!(validators[1].2.contains("riscv64"), "{validators:?}");
    devnet.competition(&["models/mlp/model.onnx", "models/cnn/model.onnx"]);
    let voters: Vec<Address> = validators.iter().map(|v| v.0).collect();
    // A Quorum of two accepts only what both claim: every epoch accepted means they agree.
    let rows = devnet.wait_claims(&validators[0].1, &voters).await;
    for e in &rows {
        assert!(
            e.divergent().next().is_none(),
            "epoch {}: {e:?}",
            e.epoch_index
        );
        assert_eq!(
            e.accepted.map(|a| a.root),
            e.root,
            "epoch {}",
            e.epoch_index
        );
    }
    // Both nodes hold the same outputs, byte for byte.
    assert_eq!(
        list_outputs(&validators[0].1).await,
        list_outputs(&validators[1].1).await
    );
    // A replay in a fresh native DApp agrees with every claim.
    let report: Report = crucible_doc(&devnet.home, &["validate", "--json"]);
    assert!(report.ok, "{report}");
    assert_eq!(report.epochs.len(), rows.len());
    assert!(report.epochs.iter().all(|e| e.ok && e.claims.len() == 2));
}
