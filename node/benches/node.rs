//! Node benchmark on a real anvil with the release DApp child:
//! - submit → notice latency: from `addInput` being mined to the notice being in the node's
//!   outputs (ms, and blocks in between);
//! - sustained small inputs/s through chain reader + rollup API + DApp, against the same
//!   inputs applied to crucible-core in process (the peer: the cost of the core alone);
//! - replay speed after a restart: every stored input read back from SQLite into a fresh
//!   DApp, each root checked, against the live rate.
//!
//! `cargo bench -p crucible-node --bench node` (needs `npm ci`; builds the release DApp).

use alloy::{
    primitives::B256, providers::Provider, signers::local::PrivateKeySigner, sol_types::SolCall,
};
use crucible_chain::{
    Confirm,
    devnet::{self, IInputBox},
};
use crucible_node::{
    machine::{DappCommand, HostMachine, MachineConfig},
    runner::Runner,
    store::Store,
};
use crucible_types::{AdvanceMeta, abi};
use std::{
    path::PathBuf,
    process::Command,
    time::{Duration, Instant},
};

const INPUTS: usize = 300;

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn chunk_call(i: usize) -> Vec<u8> {
    let blob = format!("benchmark blob {i}").into_bytes();
    abi::put_chunk_calls(&blob).swap_remove(0).abi_encode()
}

#[tokio::main]
async fn main() {
    let anvil_bin = repo().join("node_modules/@foundry-rs/anvil-linux-amd64/bin/anvil");
    let token = repo().join("contracts/out/RewardToken.sol/RewardToken.json");
    if !anvil_bin.exists() || !token.exists() {
        eprintln!(
            "SKIPPED: run `cargo xtask setup` and `cargo xtask test` first (anvil, forge artifacts)"
        );
        return;
    }
    let status = Command::new(env!("CARGO"))
        .args(["build", "--release", "--quiet", "-p", "crucible-dapp"])
        .current_dir(repo())
        .status()
        .unwrap();
    assert!(status.success());
    let target =
        std::env::var_os("CARGO_TARGET_DIR").map_or_else(|| repo().join("target"), PathBuf::from);
    let dapp = DappCommand {
        program: target.join("release/crucible-dapp").into(),
        args: vec![],
    };

    let anvil = devnet::Anvil::spawn(&anvil_bin).unwrap();
    anvil.wait_ready(Duration::from_secs(10)).await.unwrap();
    let key: PrivateKeySigner = devnet::ANVIL_KEYS[0].parse().unwrap();
    let provider = crucible_chain::signing_provider(anvil.url().parse().unwrap(), key.clone());
    let d = devnet::deploy(
        &provider,
        key.address(),
        &devnet::ConsensusSpec::Authority(key.address()),
        1,
        &repo().join("node_modules/@cartesi/rollups/out"),
        &token,
        alloy::primitives::U256::from(1u64),
    )
    .await
    .unwrap();
    let dir = std::env::temp_dir().join(format!("crucible-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let db = dir.join("node.sqlite");
    let open = || async {
        let machine = HostMachine::start(&dapp, MachineConfig::default())
            .await
            .unwrap();
        Runner::open(
            provider.clone(),
            d.application,
            d.input_box,
            machine,
            Store::open(&db).unwrap(),
            0,
        )
        .await
        .unwrap()
    };
    let mut node = open().await;
    let inbox = IInputBox::new(d.input_box, &provider);

    // Latency: one input at a time, from mined to notice.
    let mut latencies = Vec::new();
    let mut block_gaps = Vec::new();
    for i in 0..20 {
        let receipt = inbox
            .addInput(d.application, chunk_call(1_000_000 + i).into())
            .send()
            .await
            .unwrap()
            .confirmed()
            .await
            .unwrap();
        let mined = Instant::now();
        let block = receipt.block_number.unwrap();
        let before = node.outputs().len();
        loop {
            let head = provider.get_block_number().await.unwrap();
            node.sync(head).await.unwrap();
            if node.outputs().len() > before {
                block_gaps.push(head - block);
                break;
            }
        }
        latencies.push(mined.elapsed());
    }
    latencies.sort();

    // Throughput: INPUTS small inputs on chain, then one sync.
    for i in 0..INPUTS {
        inbox
            .addInput(d.application, chunk_call(i).into())
            .send()
            .await
            .unwrap()
            .confirmed()
            .await
            .unwrap();
    }
    let head = provider.get_block_number().await.unwrap();
    let started = Instant::now();
    node.sync(head).await.unwrap();
    let node_rate = INPUTS as f64 / started.elapsed().as_secs_f64();

    // Replay: a restart reads every stored input back into a fresh DApp.
    let stored = node.inputs().len();
    let root = node.root();
    drop(node);
    let started = Instant::now();
    let node = open().await;
    let replay_rate = stored as f64 / started.elapsed().as_secs_f64();
    assert_eq!((node.inputs().len(), node.root()), (stored, root));
    let _ = std::fs::remove_dir_all(&dir);

    // Peer: the same inputs applied to crucible-core in process.
    let mut state = crucible_core::State::default();
    let started = Instant::now();
    for i in 0..INPUTS {
        let meta = AdvanceMeta {
            chain_id: 31337,
            app_contract: d.application,
            msg_sender: key.address(),
            block_number: i as u64,
            block_timestamp: 0,
            prev_randao: B256::ZERO,
            input_index: i as u64,
        };
        state.advance(&meta, &chunk_call(i)).unwrap();
    }
    let core_rate = INPUTS as f64 / started.elapsed().as_secs_f64();

    println!(
        "submit → notice latency over {} inputs: median {:.1} ms, max {:.1} ms; blocks between the input and its notice: {:?}",
        latencies.len(),
        latencies[latencies.len() / 2].as_secs_f64() * 1e3,
        latencies.last().unwrap().as_secs_f64() * 1e3,
        block_gaps.iter().max().unwrap()
    );
    println!(
        "sustained small inputs (putChunk, one notice each): node + DApp {node_rate:.0} inputs/s; crucible-core in process {core_rate:.0} inputs/s; ratio {:.3}",
        node_rate / core_rate
    );
    println!(
        "replay after restart ({stored} stored inputs, roots checked, DApp start included): {replay_rate:.0} inputs/s; {:.2}× the live rate",
        replay_rate / node_rate
    );
}
