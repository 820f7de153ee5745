//! The `crucible` CLI against a devnet it starts itself: snapshots of what a user sees
//! (hashes, addresses, CIDs, times and ports redacted), exit codes and error messages.

use alloy::{
    primitives::Address, providers::ProviderBuilder, signers::local::PrivateKeySigner,
    sol_types::SolCall,
};
use crucible_chain::devnet::{ANVIL_KEYS, IInputBox};
use crucible_e2e::{add_input, crucible, crucible_json, devnet_tools, repo};
use crucible_types::{Cid, abi};
use std::{path::Path, time::Duration};

fn addr(devnet: &serde_json::Value, key: &str) -> Address {
    devnet["deployment"][key].as_str().unwrap().parse().unwrap()
}

async fn input_count(devnet: &serde_json::Value) -> u64 {
    let provider =
        ProviderBuilder::new().connect_http(devnet["rpc"].as_str().unwrap().parse().unwrap());
    IInputBox::new(addr(devnet, "input_box"), &provider)
        .getNumberOfInputs(addr(devnet, "application"))
        .call()
        .await
        .unwrap()
        .try_into()
        .unwrap()
}

/// Sends chunk 0 of `blob` from dev account 5, waits until the node has processed it, and
/// returns the input count after it.
async fn first_chunk_then_count(devnet: &serde_json::Value, blob: &[u8]) -> u64 {
    let key: PrivateKeySigner = ANVIL_KEYS[5].parse().unwrap();
    let provider =
        crucible_chain::signing_provider(devnet["rpc"].as_str().unwrap().parse().unwrap(), key);
    let cid = Cid::of(blob);
    let call = abi::put_chunk_calls(blob).swap_remove(0);
    add_input(
        &provider,
        addr(devnet, "input_box"),
        addr(devnet, "application"),
        call.abi_encode(),
    )
    .await;
    let count = input_count(devnet).await;
    let node = devnet["node"].as_str().unwrap();
    let client = reqwest::Client::new();
    for _ in 0..600 {
        let v: serde_json::Value = client
            .get(format!("{node}/blobs/{cid}/chunks"))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        if v["uploads"].as_array().is_some_and(|u| !u.is_empty()) {
            return count;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("the node never listed the first chunk");
}

/// Runs a command that must succeed and print JSON; returns it pretty-printed for a snapshot.
fn ok_json(home: &Path, args: &[&str]) -> String {
    serde_json::to_string_pretty(&crucible_json(home, args)).unwrap()
}

macro_rules! snapshot {
    ($name:expr, $value:expr) => {
        insta::with_settings!({
            filters => vec![
                (r"0x[0-9a-fA-F]{64}", "[HASH]"),
                (r"0x[0-9a-fA-F]{40}", "[ADDRESS]"),
                (r"bafkrei[a-z2-7]{52}", "[CID]"),
                (r#""(submission_deadline|reveal_deadline)": \d+"#, r#""$1": "[TIME]""#),
                (r"127\.0\.0\.1:\d+", "127.0.0.1:[PORT]"),
                (r"/[^\s]*crucible-cli-test-\d+", "[HOME]"),
            ],
        }, {
            insta::assert_snapshot!($name, $value);
        });
    };
}

#[test]
fn sponsor_and_trainer_journeys_with_their_errors() {
    if !devnet_tools() {
        return;
    }
    let home = std::env::temp_dir().join(format!("crucible-cli-test-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&home);

    // Nothing is up yet: the CLI says what to do.
    let r = crucible(&home, &["competitions"]);
    assert_eq!(r.code, 2);
    snapshot!("no_devnet", r.stderr);
    let r = crucible(&home, &["devnet", "status"]);
    assert_eq!(r.code, 4);

    // A taken port is refused with the flag that fixes it.
    let busy = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = busy.local_addr().unwrap().port().to_string();
    let r = crucible(&home, &["devnet", "up", "--port", &port]);
    assert_eq!(r.code, 4);
    assert!(
        r.stderr.contains("pass --port 0 for a free one"),
        "{}",
        r.stderr
    );
    drop(busy);
    let r = crucible(
        &home,
        &[
            "devnet",
            "up",
            "--port",
            "0",
            "--anvil",
            "/nonexistent/anvil",
        ],
    );
    assert_eq!(r.code, 4);
    assert!(r.stderr.contains("anvil not found"), "{}", r.stderr);

    let up = ok_json(
        &home,
        &["devnet", "up", "--port", "0", "--node-port", "0", "--json"],
    );
    assert!(up.contains("\"application\""));
    let again = crucible(&home, &["devnet", "up", "--port", "0", "--node-port", "0"]);
    assert_eq!(again.code, 4);
    assert!(again.stderr.contains("already up"), "{}", again.stderr);
    assert_eq!(crucible(&home, &["devnet", "status"]).code, 0);

    snapshot!(
        "competitions_empty",
        ok_json(&home, &["competitions", "--json"])
    );

    // The sponsor creates a competition (no key: told how to give one).
    let create = [
        "competition",
        "create",
        "--data",
        "data/fashion-mnist/val-1k.safetensors",
        "--test",
        "data/fashion-mnist/test-1k.safetensors",
        "--reward",
        "50",
        "--payout-bps",
        "10000",
        "--json",
    ];
    let r = crucible(&home, &create);
    assert_eq!(r.code, 2);
    assert!(r.stderr.contains("--dev-account"), "{}", r.stderr);
    let mut with_key = create.to_vec();
    with_key.extend(["--dev-account", "1"]);
    snapshot!("competition_create", ok_json(&home, &with_key));
    snapshot!(
        "competitions_one",
        ok_json(&home, &["competitions", "--json"])
    );

    // A trainer submits; a resubmission of the same model by another trainer is rejected
    // by the DApp (exit 3, with its reason).
    let submit = |account: &str| {
        crucible(
            &home,
            &[
                "submit",
                "--competition",
                "1",
                "--model",
                "models/mlp/model.onnx",
                "--dev-account",
                account,
                "--json",
            ],
        )
    };
    let r = submit("2");
    assert_eq!(r.code, 0, "{}", r.stderr);
    let scored: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    assert_eq!(scored["rank"], 1);
    snapshot!("submit", serde_json::to_string_pretty(&scored).unwrap());
    let r = submit("3");
    assert_eq!(r.code, 3, "{}", r.stderr);
    assert!(
        r.stderr
            .contains("already submitted under the earlier commitment"),
        "{}",
        r.stderr
    );
    snapshot!(
        "leaderboard",
        ok_json(&home, &["leaderboard", "1", "--json"])
    );

    // Human output of the same.
    let r = crucible(&home, &["leaderboard", "1"]);
    assert_eq!(r.code, 0);
    snapshot!("leaderboard_text", r.stdout);

    // Bad input: exit 2 with the reason.
    let r = crucible(
        &home,
        &[
            "submit",
            "--competition",
            "7",
            "--model",
            "models/mlp/model.onnx",
            "--dev-account",
            "2",
        ],
    );
    assert_eq!(r.code, 2);
    snapshot!("unknown_competition", r.stderr);
    let r = crucible(&home, &["fetch", "not-a-cid"]);
    assert_eq!(r.code, 2);
    let r = crucible(&home, &["execute", "0", "--dev-account", "2"]);
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(r.stderr.contains("not a voucher"), "{}", r.stderr);
    let r = crucible(
        &home,
        &[
            "competitions",
            "--dev-account",
            "2",
            "--rpc",
            "http://127.0.0.1:1",
        ],
    );
    assert_eq!(r.code, 4);
    // `crucible validate` runs `crucible-node validate`: an address that is not an
    // application is its error, said once, and the CLI exits 1 without a report.
    let r = crucible(
        &home,
        &[
            "validate",
            "--app",
            "0x000000000000000000000000000000000000dEaD",
        ],
    );
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert!(
        r.stderr
            .contains("does not answer as a Cartesi application")
            && r.stderr.contains("crucible-node validate failed"),
        "{}",
        r.stderr
    );
    assert!(r.stdout.is_empty(), "{}", r.stdout);

    // Downloads are checked against their CID.
    let out = home.join("model.onnx");
    let cid = scored["model_cid"].as_str().unwrap();
    ok_json(
        &home,
        &["fetch", cid, "--out", out.to_str().unwrap(), "--json"],
    );
    assert_eq!(
        std::fs::read(&out).unwrap(),
        std::fs::read(repo().join("models/mlp/model.onnx")).unwrap()
    );
    snapshot!("vouchers_none", ok_json(&home, &["vouchers", "--json"]));

    // An interrupted upload resumes: the first chunk was sent by hand, `crucible upload`
    // sends only the other chunks.
    let devnet: serde_json::Value =
        serde_json::from_slice(&std::fs::read(home.join("devnet/devnet.json")).unwrap()).unwrap();
    let test = std::fs::read(repo().join("data/fashion-mnist/test-1k.safetensors")).unwrap();
    let sent = tokio::runtime::Runtime::new()
        .unwrap()
        .block_on(first_chunk_then_count(&devnet, &test));
    let r = crucible(
        &home,
        &[
            "upload",
            "data/fashion-mnist/test-1k.safetensors",
            "--dev-account",
            "5",
            "--json",
        ],
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    let after = tokio::runtime::Runtime::new()
        .unwrap()
        .block_on(input_count(&devnet));
    let chunks = test.len().div_ceil(abi::CHUNK_BYTES) as u64;
    assert_eq!(
        after - sent,
        chunks - 1,
        "only the missing chunks were sent"
    );
    snapshot!("upload", r.stdout);

    let r = crucible(&home, &["devnet", "down"]);
    assert_eq!(r.code, 0);
    assert_eq!(crucible(&home, &["devnet", "status"]).code, 4);
    let _ = std::fs::remove_dir_all(&home);
}
