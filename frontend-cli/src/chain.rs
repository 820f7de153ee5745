//! Sending inputs: `addInput`, portal deposits, chunked resumable uploads, and reading the
//! notices an input produced.

use crate::{node_api::Processed, session::Session};
use alloy::{
    primitives::U256,
    providers::Provider,
    rpc::types::TransactionReceipt,
    sol_types::{SolCall, SolInterface},
};
use anyhow::{Context, bail};
use crucible_chain::Confirm;
use crucible_chain::devnet::{IERC20, IERC20Portal, IEtherPortal, IInputBox};
use crucible_types::inspect::BlobAnswer;
use crucible_types::{
    Cid,
    abi::{self, ICrucibleOutputsCalls},
};
use serde_json::Value;

/// The input index an `InputAdded` in `receipt` announces.
fn input_index(receipt: &TransactionReceipt) -> anyhow::Result<u64> {
    for log in receipt.inner.logs() {
        if let Ok(e) = log.log_decode::<IInputBox::InputAdded>() {
            return u64::try_from(e.inner.data.index).context("input index");
        }
    }
    bail!("transaction {} added no input", receipt.transaction_hash)
}

impl Session {
    /// Sends one input through the InputBox; returns its index.
    pub(crate) async fn add_input(&self, payload: Vec<u8>) -> anyhow::Result<u64> {
        let receipt = IInputBox::new(self.input_box, &self.provider)
            .addInput(self.app, payload.into())
            .send()
            .await
            .context("addInput")?
            .confirmed()
            .await?;
        if !receipt.status() {
            bail!(
                "addInput reverted (transaction {})",
                receipt.transaction_hash
            );
        }
        input_index(&receipt)
    }

    /// Deposits `amount` of ERC-20 `token` with `exec` as exec-layer data (approving the
    /// portal first); returns the input index.
    pub(crate) async fn deposit_erc20(
        &self,
        token: alloy::primitives::Address,
        amount: U256,
        exec: Vec<u8>,
    ) -> anyhow::Result<u64> {
        IERC20::new(token, &self.provider)
            .approve(self.erc20_portal, amount)
            .send()
            .await
            .context("approve")?
            .confirmed()
            .await?;
        let receipt = IERC20Portal::new(self.erc20_portal, &self.provider)
            .depositERC20Tokens(token, self.app, amount, exec.into())
            .send()
            .await
            .context("depositERC20Tokens (is the balance enough?)")?
            .confirmed()
            .await?;
        input_index(&receipt)
    }

    /// Deposits `amount` wei through the EtherPortal; returns the input index.
    pub(crate) async fn deposit_ether(&self, amount: U256, exec: Vec<u8>) -> anyhow::Result<u64> {
        let receipt = IEtherPortal::new(self.ether_portal, &self.provider)
            .depositEther(self.app, exec.into())
            .value(amount)
            .send()
            .await
            .context("depositEther")?
            .confirmed()
            .await?;
        input_index(&receipt)
    }

    /// Stores `bytes` in the DApp as a blob, unless it is stored already. Resumable: the
    /// node says which chunks of this sender's upload it already holds, and only the others
    /// are sent. Waits until the DApp has stored the blob.
    pub(crate) async fn upload(&self, bytes: &[u8], what: &str) -> anyhow::Result<Cid> {
        let cid = Cid::of(bytes);
        let stored: BlobAnswer = self.node.inspect(&format!("blob/{cid}")).await?;
        if matches!(stored, BlobAnswer::Stored { .. }) {
            self.say(format!("{what}: {cid} is already stored"));
            return Ok(cid);
        }
        let count =
            u32::try_from(bytes.len().div_ceil(abi::CHUNK_BYTES)).context("blob too large")?;
        let have = self.node.chunks(&cid, self.me()?, count).await?;
        let bar = self.progress(u64::from(count), what);
        bar.set_position(have.len() as u64);
        let mut last = None;
        for call in abi::put_chunk_calls(bytes) {
            if have.contains(&call.index) {
                continue;
            }
            last = Some(self.add_input(call.abi_encode()).await?);
            bar.inc(1);
        }
        bar.finish_and_clear();
        if let Some(last) = last {
            self.node.expect_accepted(last).await?;
        }
        let stored: BlobAnswer = self.node.inspect(&format!("blob/{cid}")).await?;
        if matches!(stored, BlobAnswer::Missing { .. }) {
            bail!(
                "{what}: the upload of {cid} did not complete (a chunk was rejected?); run the command again to resume"
            );
        }
        Ok(cid)
    }

    /// Moves the devnet's clock forward by `seconds` and mines a block.
    pub(crate) async fn advance_time(&self, seconds: u64) -> anyhow::Result<()> {
        if self.chain_id != crucible_chain::devnet::ANVIL_CHAIN_ID {
            bail!("only a devnet's clock can be moved");
        }
        let _: Value = self
            .provider
            .raw_request("evm_increaseTime".into(), (seconds,))
            .await?;
        let _: Value = self.provider.raw_request("evm_mine".into(), ()).await?;
        Ok(())
    }

    /// The latest block's timestamp.
    pub(crate) async fn now(&self) -> anyhow::Result<u64> {
        Ok(self
            .provider
            .get_block_by_number(Default::default())
            .await?
            .context("no latest block")?
            .header
            .timestamp)
    }
}

/// The Crucible notices among an input's outputs.
pub(crate) fn notices(p: &Processed) -> Vec<ICrucibleOutputsCalls> {
    p.outputs
        .iter()
        .filter_map(|o| o.notice())
        .filter_map(|b| ICrucibleOutputsCalls::abi_decode(b).ok())
        .collect()
}
