//! The node's main loop, in host mode: read `InputAdded` logs of the application from the
//! InputBox (bounded block ranges, up to a confirmed block), feed each input to the DApp
//! through the host machine, keep the outputs tree (a rejected input's outputs are
//! discarded, its reports kept), submit claims to the Authority, and prove outputs.

use crate::{
    Error, Result,
    devnet::IInputBox,
    machine::HostMachine,
    merkle::OutputsTree,
    rollup_api::{RollupRequest, Status},
};
use alloy::{
    primitives::{Address, B256, Bytes, U256},
    providers::Provider,
    rpc::types::Filter,
    sol,
    sol_types::{SolCall, SolEvent},
};
use crucible_types::{AdvanceMeta, abi::Inputs};

sol! {
    #[sol(rpc)]
    /// Cartesi Rollups v2 consensus (Authority).
    interface IConsensus {
        function submitClaim(address appContract, uint256 lastProcessedBlockNumber, bytes32 outputsMerkleRoot) external;
        function getEpochLength() external view returns (uint256);
    }

    /// Cartesi Rollups v2 output validity proof.
    struct OutputValidityProof {
        uint64 outputIndex;
        bytes32[] outputHashesSiblings;
    }

    #[sol(rpc)]
    /// Cartesi Rollups v2 Application.
    interface IApplication {
        function executeOutput(bytes calldata output, OutputValidityProof calldata proof) external;
        function wasOutputExecuted(uint256 outputIndex) external view returns (bool);
    }
}

/// Most blocks asked for in one `eth_getLogs`.
pub const LOG_RANGE: u64 = 1_000;

/// What happened to one input.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InputRecord {
    /// Index in the application's input box.
    pub index: u64,
    /// L1 block of the input.
    pub block: u64,
    /// How the DApp finished it.
    pub status: Status,
    /// First output index of this input (if accepted).
    pub first_output: u64,
    /// Outputs it produced (0 if rejected).
    pub outputs: u64,
    /// Its reports.
    pub reports: Vec<Vec<u8>>,
}

/// A claim the node submitted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Claim {
    /// The epoch's last block.
    pub block: u64,
    /// The outputs root after every input up to `block`.
    pub root: B256,
    /// Outputs in the tree at that point.
    pub outputs: u64,
}

/// The host-mode node for one application.
#[derive(Debug)]
pub struct Runner<P> {
    provider: P,
    app: Address,
    input_box: Address,
    machine: HostMachine,
    tree: OutputsTree,
    outputs: Vec<Vec<u8>>,
    inputs: Vec<InputRecord>,
    claims: Vec<Claim>,
    next_block: u64,
}

impl<P: Provider> Runner<P> {
    /// A runner reading from `from_block` on.
    pub fn new(
        provider: P,
        app: Address,
        input_box: Address,
        machine: HostMachine,
        from_block: u64,
    ) -> Self {
        Self {
            provider,
            app,
            input_box,
            machine,
            tree: OutputsTree::new(),
            outputs: Vec::new(),
            inputs: Vec::new(),
            claims: Vec::new(),
            next_block: from_block,
        }
    }

    /// Processes every input added up to and including `to_block`.
    pub async fn sync(&mut self, to_block: u64) -> Result<()> {
        while self.next_block <= to_block {
            let end = to_block.min(self.next_block + LOG_RANGE - 1);
            let filter = Filter::new()
                .address(self.input_box)
                .event_signature(IInputBox::InputAdded::SIGNATURE_HASH)
                .topic1(self.app.into_word())
                .from_block(self.next_block)
                .to_block(end);
            let logs = self.provider.get_logs(&filter).await?;
            for log in logs {
                let block = log
                    .block_number
                    .ok_or_else(|| Error::Reverted("log without a block number".into()))?;
                let event = log
                    .log_decode::<IInputBox::InputAdded>()
                    .map_err(|e| Error::Reverted(format!("InputAdded: {e}")))?
                    .inner
                    .data;
                self.process(block, &event.input).await?;
            }
            self.next_block = end + 1;
        }
        Ok(())
    }

    async fn process(&mut self, block: u64, blob: &[u8]) -> Result<()> {
        let input = Inputs::EvmAdvanceCall::abi_decode(blob)
            .map_err(|e| Error::Reverted(format!("EvmAdvance: {e}")))?;
        let index = u64::try_from(input.index).unwrap_or(u64::MAX);
        if index != self.inputs.len() as u64 {
            return Err(Error::Reverted(format!(
                "input {index} arrived, expected {}",
                self.inputs.len()
            )));
        }
        let small = |v: U256| u64::try_from(v).unwrap_or(u64::MAX);
        let meta = AdvanceMeta {
            chain_id: small(input.chainId),
            app_contract: input.appContract,
            msg_sender: input.msgSender,
            block_number: small(input.blockNumber),
            block_timestamp: small(input.blockTimestamp),
            prev_randao: B256::from(input.prevRandao),
            input_index: index,
        };
        let result = self
            .machine
            .process(RollupRequest::Advance {
                meta,
                payload: input.payload.to_vec(),
            })
            .await?;
        let first_output = self.tree.len();
        let produced = if result.status == Status::Accepted {
            for output in &result.outputs {
                self.tree.push_output(output);
            }
            self.outputs.extend(result.outputs);
            self.tree.len() - first_output
        } else {
            0
        };
        if let Status::Exception(why) = &result.status {
            return Err(Error::DappDead(String::from_utf8_lossy(why).into_owned()));
        }
        self.inputs.push(InputRecord {
            index,
            block,
            status: result.status,
            first_output,
            outputs: produced,
            reports: result.reports,
        });
        Ok(())
    }

    /// Inputs processed so far.
    pub fn inputs(&self) -> &[InputRecord] {
        &self.inputs
    }

    /// Every accepted output, by index, in its rollup encoding.
    pub fn outputs(&self) -> &[Vec<u8>] {
        &self.outputs
    }

    /// The current outputs root.
    pub fn root(&self) -> B256 {
        self.tree.root()
    }

    /// Syncs up to `block` and claims the root there through `consensus` (the sender of
    /// this runner's provider must be allowed to claim).
    pub async fn claim(&mut self, consensus: Address, block: u64) -> Result<Claim> {
        self.sync(block).await?;
        let root = self.tree.root();
        IConsensus::new(consensus, &self.provider)
            .submitClaim(self.app, U256::from(block), root)
            .send()
            .await?
            .get_receipt()
            .await?;
        let claim = Claim {
            block,
            root,
            outputs: self.tree.len(),
        };
        self.claims.push(claim);
        Ok(claim)
    }

    /// The `executeOutput` arguments for output `index`, proven against the latest claim
    /// that covers it.
    pub fn proof(&self, index: u64) -> Option<(Bytes, OutputValidityProof)> {
        let claim = self.claims.iter().rev().find(|c| c.outputs > index)?;
        let mut tree = self.tree.clone();
        tree.truncate(claim.outputs);
        let siblings = tree.proof(index)?;
        let output = Bytes::from(self.outputs.get(index as usize)?.clone());
        Some((
            output,
            OutputValidityProof {
                outputIndex: index,
                outputHashesSiblings: siblings,
            },
        ))
    }
}
