//! Helpers shared by the tests that start anvil.

use alloy::{
    primitives::Address, providers::Provider, signers::local::PrivateKeySigner, sol_types::SolCall,
};
use crucible_chain::Confirm;
use crucible_chain::devnet::{Anvil, IInputBox};
use crucible_types::{Cid, abi};
use std::{path::PathBuf, process::Command, time::Duration};

pub(crate) fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// Says why a test did not run, on the real stderr (libtest captures `println!`).
pub(crate) fn skipped(why: &str) {
    use std::io::Write;
    let _ = writeln!(std::io::stderr(), "SKIPPED: {why}");
}

pub(crate) fn tool(name: &str) -> Option<PathBuf> {
    let p = repo().join(format!(
        "node_modules/@foundry-rs/{name}-linux-amd64/bin/{name}"
    ));
    p.exists().then_some(p)
}

pub(crate) fn start_anvil() -> Option<Anvil> {
    let Some(bin) = tool("anvil") else {
        skipped("anvil not found under node_modules (run npm ci)");
        return None;
    };
    Some(Anvil::spawn(&bin).expect("anvil starts"))
}

pub(crate) fn token_artifact() -> Option<PathBuf> {
    let artifact = repo().join("contracts/out/RewardToken.sol/RewardToken.json");
    if !artifact.exists() {
        let forge = tool("forge")?;
        let status = Command::new(forge)
            .args(["build", "--use"])
            .arg(repo().join("contracts/solc-wrap.js"))
            .current_dir(repo().join("contracts"))
            .status()
            .ok()?;
        assert!(status.success(), "forge build failed");
    }
    Some(artifact)
}

/// The peak resident memory (`VmHWM`) of process `pid` (a number, or `self`), in KiB.
pub(crate) fn peak_rss_kib(pid: impl std::fmt::Display) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
}

/// A machine configuration for DApps that may run slowly (the riscv64 build under qemu).
pub(crate) fn patient() -> crucible_node::machine::MachineConfig {
    crucible_node::machine::MachineConfig {
        finish_wait: Duration::from_secs(600),
        ready_timeout: Duration::from_secs(120),
        ..crucible_node::machine::MachineConfig::default()
    }
}

/// The riscv64 DApp under qemu, when `CRUCIBLE_RISCV_DAPP` names it (`cargo xtask riscv`
/// and `cargo xtask test` build it and set it); otherwise says that `what` is skipped.
/// `CRUCIBLE_QEMU` names the emulator (default `qemu-riscv64-static`).
pub(crate) fn riscv_dapp(what: &str) -> Option<crucible_node::machine::DappCommand> {
    let Some(rv) = std::env::var_os("CRUCIBLE_RISCV_DAPP") else {
        skipped(&format!(
            "{what}: CRUCIBLE_RISCV_DAPP is not set (cargo xtask riscv and cargo xtask test build the riscv64 DApp and set it)"
        ));
        return None;
    };
    let qemu = std::env::var_os("CRUCIBLE_QEMU").unwrap_or_else(|| "qemu-riscv64-static".into());
    Some(crucible_node::machine::DappCommand {
        program: qemu,
        args: vec![rv],
    })
}

/// Builds the DApp binary and returns how to start it. The build selects the whole
/// workspace with all targets, the same feature resolution as `cargo test --workspace`, so
/// it reuses the test build's artifacts instead of compiling tract a second time.
pub(crate) fn dapp() -> crucible_node::machine::DappCommand {
    let status = Command::new(env!("CARGO"))
        .args(["build", "--quiet", "--workspace", "--all-targets"])
        .current_dir(repo())
        .status()
        .unwrap();
    assert!(status.success(), "building crucible-dapp failed");
    let target =
        std::env::var_os("CARGO_TARGET_DIR").map_or_else(|| repo().join("target"), PathBuf::from);
    crucible_node::machine::DappCommand {
        program: target.join("debug/crucible-dapp").into(),
        args: vec![],
    }
}

/// A provider signing with `key`, once anvil answers.
pub(crate) async fn connect(
    anvil: &Anvil,
    key: &PrivateKeySigner,
) -> impl Provider + Clone + use<> {
    anvil
        .wait_ready(Duration::from_secs(10))
        .await
        .expect("anvil answers");
    crucible_chain::signing_provider(anvil.url().parse().unwrap(), key.clone())
}

/// Sends one `addInput` to `app` and waits for its receipt.
pub(crate) async fn add_input(
    provider: &impl Provider,
    input_box: Address,
    app: Address,
    payload: Vec<u8>,
) {
    IInputBox::new(input_box, provider)
        .addInput(app, payload.into())
        .send()
        .await
        .unwrap()
        .confirmed()
        .await
        .unwrap();
}

/// Stores `bytes` in `app` as `putChunk` inputs; returns their CID.
pub(crate) async fn upload(
    provider: &impl Provider,
    input_box: Address,
    app: Address,
    bytes: &[u8],
) -> Cid {
    for call in abi::put_chunk_calls(bytes) {
        add_input(provider, input_box, app, call.abi_encode()).await;
    }
    Cid::of(bytes)
}
