//! The node's main loop, in host mode: read `InputAdded` logs of the application from the
//! InputBox (bounded block ranges, up to a confirmed block), feed each input to the DApp
//! through the host machine, keep the outputs tree (a rejected input's outputs are
//! discarded, its reports kept), submit claims to the Authority, and prove outputs.

use crate::{
    Error, Result,
    devnet::IInputBox,
    machine::HostMachine,
    merkle::OutputsTree,
    rollup_api::{RequestResult, RollupRequest, Status},
    store::{Store, StoredInput},
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
    store: Store,
}

impl<P: Provider> Runner<P> {
    /// A runner over `store`. Inputs the store already holds are replayed into the (fresh)
    /// machine first, and every recomputed outputs root must equal the stored one; reading
    /// then resumes at the stored block cursor, or at `from_block` for a new store.
    pub async fn open(
        provider: P,
        app: Address,
        input_box: Address,
        machine: HostMachine,
        store: Store,
        from_block: u64,
    ) -> Result<Self> {
        let stored = store.inputs()?;
        let next_block = if stored.is_empty() {
            from_block.max(store.next_block()?)
        } else {
            store.next_block()?
        };
        let claims = store
            .claims()?
            .into_iter()
            .map(|(block, root, outputs)| Claim {
                block,
                root,
                outputs,
            })
            .collect();
        let mut runner = Self {
            provider,
            app,
            input_box,
            machine,
            tree: OutputsTree::new(),
            outputs: Vec::new(),
            inputs: Vec::new(),
            claims,
            next_block,
            store,
        };
        for input in stored {
            let result = runner.execute(&input.blob).await?;
            let same_status = result.status == input.status;
            let root = runner.apply(input.index, input.block, result);
            if root != input.root || !same_status {
                return Err(Error::Diverged {
                    input: input.index,
                    stored: input.root,
                    recomputed: root,
                });
            }
        }
        Ok(runner)
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
                if event.index < U256::from(self.inputs.len()) {
                    // Already processed before a restart (the cursor is at its block).
                    continue;
                }
                self.process(block, &event.input).await?;
            }
            self.next_block = end + 1;
            self.store.set_next_block(self.next_block)?;
        }
        Ok(())
    }

    /// Runs one `EvmAdvance` blob through the DApp.
    async fn execute(&mut self, blob: &[u8]) -> Result<RequestResult> {
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
        if let Status::Exception(why) = &result.status {
            return Err(Error::DappDead(String::from_utf8_lossy(why).into_owned()));
        }
        Ok(result)
    }

    /// Adds a finished input's outputs to the tree (if accepted) and its record; returns the root.
    fn apply(&mut self, index: u64, block: u64, result: RequestResult) -> B256 {
        let first_output = self.tree.len();
        if result.status == Status::Accepted {
            for output in &result.outputs {
                self.tree.push_output(output);
            }
            self.outputs.extend(result.outputs);
        }
        let outputs = self.tree.len() - first_output;
        self.inputs.push(InputRecord {
            index,
            block,
            status: result.status,
            first_output,
            outputs,
            reports: result.reports,
        });
        self.tree.root()
    }

    async fn process(&mut self, block: u64, blob: &[u8]) -> Result<()> {
        let result = self.execute(blob).await?;
        let index = self.inputs.len() as u64;
        let first_output = self.tree.len();
        let stored_outputs = if result.status == Status::Accepted {
            result.outputs.clone()
        } else {
            Vec::new()
        };
        let (status, reports) = (result.status.clone(), result.reports.clone());
        let root = self.apply(index, block, result);
        let stored = StoredInput {
            index,
            block,
            blob: blob.to_vec(),
            status,
            outputs: stored_outputs,
            reports,
            root,
        };
        // The cursor stays at this input's block: a restart re-reads the block and skips
        // the inputs it already holds.
        self.store.record(&stored, first_output, block)
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
