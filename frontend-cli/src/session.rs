//! Global options and what they resolve to: the L1 endpoint, the node, the application,
//! the signing key, the state directory (devnet, secrets), and the output mode.

use crate::{
    devnet_state::DevnetState,
    exit::{Exit, invalid},
    node_api::NodeApi,
};
use alloy::{
    primitives::{Address, U256},
    providers::{DynProvider, Provider},
    signers::local::PrivateKeySigner,
};
use anyhow::Context;
use crucible_chain::devnet::{ANVIL_CHAIN_ID, ANVIL_KEYS};
use crucible_types::rollup::{ERC20_PORTAL, ETHER_PORTAL, INPUT_BOX};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::{io::IsTerminal, path::PathBuf};

/// Options every command takes.
#[derive(Debug, Clone, clap::Args)]
pub(crate) struct Global {
    /// L1 JSON-RPC endpoint (default: the devnet's, if one is up).
    #[arg(long, global = true, env = "CRUCIBLE_RPC")]
    rpc: Option<String>,
    /// The node's query API (default: the devnet's, if one is up).
    #[arg(long, global = true, env = "CRUCIBLE_NODE")]
    node: Option<String>,
    /// The application contract (default: the devnet's, if one is up).
    #[arg(long, global = true, env = "CRUCIBLE_APP")]
    app: Option<Address>,
    /// Private key (hex) that signs transactions.
    #[arg(long, global = true, env = "CRUCIBLE_KEY", hide_env_values = true)]
    key: Option<String>,
    /// File holding the private key (hex).
    #[arg(long, global = true, conflicts_with = "key")]
    key_file: Option<PathBuf>,
    /// On a devnet only: sign with anvil's development account N (0..=9).
    #[arg(long, global = true, conflicts_with_all = ["key", "key_file"])]
    dev_account: Option<usize>,
    /// Where the CLI keeps its devnet and secrets (salts of commitments).
    #[arg(
        long,
        global = true,
        env = "CRUCIBLE_HOME",
        default_value = ".crucible"
    )]
    pub(crate) home: PathBuf,
    /// Print one JSON document on stdout (logs and progress go to stderr).
    #[arg(long, global = true)]
    pub(crate) json: bool,
}

/// A connection to L1 and the node for one command.
pub(crate) struct Session {
    /// The L1 endpoint's URL.
    pub(crate) rpc: String,
    pub(crate) provider: DynProvider,
    pub(crate) signer: Option<PrivateKeySigner>,
    pub(crate) chain_id: u64,
    pub(crate) app: Address,
    pub(crate) input_box: Address,
    pub(crate) erc20_portal: Address,
    pub(crate) ether_portal: Address,
    /// The devnet's reward token, when on the devnet.
    pub(crate) devnet_token: Option<Address>,
    pub(crate) node: NodeApi,
    pub(crate) json: bool,
    pub(crate) home: PathBuf,
}

impl Global {
    /// These options for a party of the devnet under `home`: its endpoints and a dev
    /// account's key.
    pub(crate) fn party(
        &self,
        home: &std::path::Path,
        devnet: &DevnetState,
        account: usize,
    ) -> Self {
        Self {
            rpc: Some(devnet.rpc.clone()),
            node: Some(devnet.node.clone()),
            app: Some(devnet.deployment.application),
            key: ANVIL_KEYS.get(account).map(|k| (*k).to_string()),
            key_file: None,
            dev_account: None,
            home: home.to_path_buf(),
            json: self.json,
        }
    }

    /// The devnet this CLI started, if it is up.
    pub(crate) fn devnet(&self) -> Option<DevnetState> {
        DevnetState::load(&self.home).ok().flatten()
    }

    fn signer(&self, chain_id: u64) -> anyhow::Result<Option<PrivateKeySigner>> {
        let parse = |k: &str| -> anyhow::Result<PrivateKeySigner> {
            k.trim()
                .parse()
                .map_err(|_| invalid("the key must be a 32-byte hex private key").into())
        };
        if let Some(k) = &self.key {
            return parse(k).map(Some);
        }
        if let Some(f) = &self.key_file {
            let text = std::fs::read_to_string(f)
                .with_context(|| format!("reading the key file {}", f.display()))?;
            return parse(&text).map(Some);
        }
        if let Some(n) = self.dev_account {
            if chain_id != ANVIL_CHAIN_ID {
                return Err(invalid(format!(
                    "--dev-account is for a devnet (chain {ANVIL_CHAIN_ID}); this chain is {chain_id}: pass --key or --key-file"
                ))
                .into());
            }
            let key = ANVIL_KEYS.get(n).ok_or_else(|| {
                invalid(format!(
                    "--dev-account must be 0..={}",
                    ANVIL_KEYS.len() - 1
                ))
            })?;
            return parse(key).map(Some);
        }
        Ok(None)
    }

    /// Connects to L1 and the node; with `signing`, a key is required.
    pub(crate) async fn session(&self, signing: bool) -> anyhow::Result<Session> {
        self.connect(signing, true).await
    }

    /// A session for a command that reads only L1 (no node; `Session::node` then points
    /// nowhere unless --node was given).
    pub(crate) async fn chain_session(&self) -> anyhow::Result<Session> {
        self.connect(false, false).await
    }

    async fn connect(&self, signing: bool, need_node: bool) -> anyhow::Result<Session> {
        let devnet = self.devnet();
        let rpc = self
            .rpc
            .clone()
            .or_else(|| devnet.as_ref().map(|d| d.rpc.clone()))
            .ok_or_else(|| {
                invalid("no L1 endpoint: pass --rpc (or start a devnet: crucible devnet up)")
            })?;
        let node = self
            .node
            .clone()
            .or_else(|| devnet.as_ref().map(|d| d.node.clone()))
            .or_else(|| (!need_node).then(String::new))
            .ok_or_else(|| {
                invalid("no node: pass --node (or start a devnet: crucible devnet up)")
            })?;
        let app = self
            .app
            .or_else(|| devnet.as_ref().map(|d| d.deployment.application))
            .ok_or_else(|| invalid("no application: pass --app (or start a devnet)"))?;
        let url = rpc
            .parse()
            .map_err(|e| invalid(format!("bad --rpc {rpc}: {e}")))?;
        let probe = crucible_chain::provider(url, None);
        let chain_id = probe.get_chain_id().await.map_err(|e| {
            Exit::Unavailable(format!(
                "no chain answers at {rpc} ({e}); is it running? (crucible devnet status)"
            ))
        })?;
        let signer = self.signer(chain_id)?;
        if signing && signer.is_none() {
            return Err(invalid(
                "this command sends transactions: pass --key, --key-file or CRUCIBLE_KEY (on a devnet: --dev-account N)",
            )
            .into());
        }
        let url = rpc
            .parse()
            .map_err(|e| invalid(format!("bad --rpc: {e}")))?;
        let provider = crucible_chain::provider(url, signer.clone());
        let on_devnet = devnet
            .as_ref()
            .filter(|d| d.rpc == rpc && d.deployment.application == app);
        Ok(Session {
            rpc,
            provider,
            signer,
            chain_id,
            app,
            input_box: on_devnet.map_or(INPUT_BOX, |d| d.deployment.input_box),
            erc20_portal: on_devnet.map_or(ERC20_PORTAL, |d| d.deployment.erc20_portal),
            ether_portal: on_devnet.map_or(ETHER_PORTAL, |d| d.deployment.ether_portal),
            devnet_token: on_devnet.map(|d| d.deployment.token),
            node: NodeApi::new(&node, app, !self.json && std::io::stderr().is_terminal()),
            json: self.json,
            home: self.home.clone(),
        })
    }
}

impl Session {
    /// The signer's address (commands that sign call `session(true)` first).
    pub(crate) fn me(&self) -> anyhow::Result<Address> {
        self.signer
            .as_ref()
            .map(PrivateKeySigner::address)
            .ok_or_else(|| invalid("no key given").into())
    }

    /// A progress bar on stderr, hidden in `--json` mode and when stderr is not a terminal.
    pub(crate) fn progress(&self, len: u64, what: &str) -> ProgressBar {
        let bar = ProgressBar::new(len);
        if self.json || !std::io::stderr().is_terminal() {
            bar.set_draw_target(ProgressDrawTarget::hidden());
        }
        bar.set_style(
            ProgressStyle::with_template("{msg:>12} [{bar:30}] {pos}/{len} {elapsed}")
                .unwrap_or_else(|_| ProgressStyle::default_bar())
                .progress_chars("=> "),
        );
        bar.set_message(what.to_string());
        bar
    }

    /// Says what is happening, on stderr, unless `--json`.
    pub(crate) fn say(&self, line: impl AsRef<str>) {
        if !self.json {
            eprintln!("{}", line.as_ref());
        }
    }

    /// The L1 balance of `token` (Ether for `address(0)`) of `who`.
    pub(crate) async fn l1_balance(&self, token: Address, who: Address) -> anyhow::Result<U256> {
        Ok(if token == Address::ZERO {
            self.provider.get_balance(who).await?
        } else {
            crucible_chain::devnet::IERC20::new(token, &self.provider)
                .balanceOf(who)
                .call()
                .await?
        })
    }
}
