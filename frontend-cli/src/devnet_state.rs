//! The state file of a devnet started by `crucible devnet up` (`<home>/devnet/devnet.json`).

use alloy::primitives::Address;
use crucible_chain::devnet::Deployment;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// What `crucible devnet up` started, and where.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct DevnetState {
    /// anvil's JSON-RPC URL.
    pub rpc: String,
    /// The node's query API.
    pub node: String,
    /// The chain.
    pub chain_id: u64,
    /// The contracts.
    pub deployment: Deployment,
    /// Blocks per epoch.
    pub epoch_length: u64,
    /// The dev account that owns the Authority and claims (the node's key).
    pub operator_account: usize,
    /// anvil's process.
    pub anvil_pid: u32,
    /// The first validator's node (the one the CLI talks to).
    pub node_pid: u32,
    /// Every validator, the first one included.
    #[serde(default)]
    pub validators: Vec<Validator>,
    /// Where the logs and the node's database are.
    pub dir: PathBuf,
}

/// One validator of a devnet: its key's address and its node.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Validator {
    /// Its key's address.
    pub address: Address,
    /// Its node's query API.
    pub node: String,
    /// Its node's process.
    pub pid: u32,
    /// Which DApp it runs.
    pub dapp: String,
}

impl DevnetState {
    /// Every node process of the devnet (the first validator's is `node_pid`).
    pub(crate) fn pids(&self) -> impl Iterator<Item = u32> + '_ {
        std::iter::once(self.node_pid).chain(self.validators.iter().skip(1).map(|v| v.pid))
    }

    pub(crate) fn dir(home: &Path) -> PathBuf {
        home.join("devnet")
    }

    fn file(home: &Path) -> PathBuf {
        Self::dir(home).join("devnet.json")
    }

    pub(crate) fn load(home: &Path) -> anyhow::Result<Option<Self>> {
        match std::fs::read(Self::file(home)) {
            Ok(b) => Ok(Some(serde_json::from_slice(&b)?)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e.into()),
        }
    }

    pub(crate) fn save(&self, home: &Path) -> anyhow::Result<()> {
        std::fs::write(Self::file(home), serde_json::to_vec_pretty(self)?)?;
        Ok(())
    }

    pub(crate) fn remove(home: &Path) -> anyhow::Result<()> {
        match std::fs::remove_file(Self::file(home)) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(e.into()),
            _ => Ok(()),
        }
    }
}

/// Whether process `pid` is alive (and not a zombie).
pub(crate) fn alive(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|s| {
            s.rsplit_once(')')
                .and_then(|(_, rest)| rest.split_whitespace().next().map(|st| st != "Z"))
        })
        .unwrap_or(false)
}
