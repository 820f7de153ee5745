//! The node's main loop, in host mode: read `InputAdded` logs of the application from the
//! InputBox (bounded block ranges, up to a confirmed block), feed each input to the DApp
//! through the host machine, keep the outputs tree (a rejected input's outputs are
//! discarded, its reports kept), submit claims to the consensus (Authority or Quorum),
//! watch every claim the consensus logs against this node's own roots, and prove outputs
//! against the roots the consensus holds valid.

use crate::{
    Error, Result,
    machine::HostMachine,
    merkle::{HEIGHT, OutputsTree, zero_hashes},
    rollup_api::{RequestResult, RollupRequest, Status},
    store::{AcceptedClaim, ChainClaim, ChunkRef, ClaimRecord, ProvenEpoch, Store, StoredInput},
};
use alloy::{
    primitives::{Address, B256, Bytes, U256},
    providers::Provider,
    rpc::types::Filter,
    sol_types::{SolCall, SolEvent},
};
use crucible_chain::{
    Confirm,
    app::{IConsensus, OutputValidityProof, consensus_logs, executed_outputs},
    devnet::IInputBox,
    logs::LogReader,
};
use crucible_types::{
    AdvanceMeta,
    abi::{ICrucible, Inputs},
};

/// Blocks of the consensus' logs read again at every poll.
pub const CONSENSUS_REREAD: u64 = 64;

/// An `InputAdded` log read and not yet processed.
#[derive(Debug, Clone)]
struct PendingInput {
    block: u64,
    /// The transaction that added it, and its log's index in the block.
    tx: B256,
    log_index: u64,
    blob: Bytes,
}

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
    /// The outputs root after it.
    pub root: B256,
    /// Its reports.
    pub reports: Vec<Vec<u8>>,
}

/// A claim the node submitted.
pub type Claim = ClaimRecord;

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
    /// Epochs whose root (this node's) the consensus holds valid, oldest first.
    proven: Vec<ProvenEpoch>,
    /// Claims the consensus logged that are not yet compared with this node's root (their
    /// epoch is not read yet).
    unchecked: Vec<ChainClaim>,
    /// Roots the consensus accepted that are not yet compared with this node's.
    unchecked_accepted: Vec<AcceptedClaim>,
    /// Every claim the consensus logged so far, and every epoch it accepted a root for.
    seen_claims: std::collections::BTreeSet<(u64, Address, B256)>,
    seen_accepted: std::collections::BTreeSet<u64>,
    /// The first block of the consensus' logs not yet read.
    consensus_next: u64,
    next_block: u64,
    store: Store,
    /// Inputs read from L1 and not yet processed, with their blocks.
    pending: std::collections::VecDeque<PendingInput>,
    /// The last block of the range whose logs are in `pending`.
    fetched_to: Option<u64>,
    /// The logs of the last range read were incomplete: once `pending` is processed, the
    /// cursor stays and the range is read again at the next poll.
    incomplete: bool,
    /// Reads `eth_getLogs` in the chunks the endpoint accepts.
    logs: LogReader,
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
        let claims = store.claims()?;
        let proven = store.proven()?;
        // Everything the consensus logged is compared again with the replayed roots.
        let unchecked = store.chain_claims()?;
        let unchecked_accepted = store.accepted()?;
        let consensus_next = store.consensus_next_block()?.max(from_block);
        let mut runner = Self {
            provider,
            app,
            input_box,
            machine,
            tree: OutputsTree::new(),
            outputs: Vec::new(),
            inputs: Vec::new(),
            claims,
            proven,
            seen_claims: unchecked
                .iter()
                .map(|c| (c.block, c.submitter, c.root))
                .collect(),
            unchecked,
            seen_accepted: unchecked_accepted.iter().map(|a| a.block).collect(),
            unchecked_accepted,
            consensus_next,
            next_block,
            store,
            pending: std::collections::VecDeque::new(),
            fetched_to: None,
            incomplete: false,
            logs: LogReader::default(),
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

    /// Reads L1 logs through `logs` (its span is the most blocks one query asks for).
    #[must_use]
    pub fn with_log_reader(mut self, logs: LogReader) -> Self {
        self.logs = logs;
        self
    }

    /// Processes every input added up to and including `to_block`.
    pub async fn sync(&mut self, to_block: u64) -> Result<()> {
        while !self.sync_step(to_block, usize::MAX).await? {}
        Ok(())
    }

    /// Processes at most `max_inputs` of the inputs added up to and including `to_block`
    /// (so the caller can serve inspects in between); true once caught up. Logs are read in
    /// ranges of at most the [`LogReader`]'s span; the block cursor moves past a range once
    /// all its inputs are processed.
    pub async fn sync_step(&mut self, to_block: u64, max_inputs: usize) -> Result<bool> {
        let mut done = 0;
        loop {
            if let Some(input) = self.pending.front().cloned() {
                if done >= max_inputs {
                    return Ok(false);
                }
                self.process(&input).await?;
                self.pending.pop_front();
                done += 1;
                continue;
            }
            if std::mem::take(&mut self.incomplete) {
                return Ok(true);
            }
            if let Some(end) = self.fetched_to.take() {
                self.next_block = end + 1;
                self.store.set_next_block(self.next_block)?;
            }
            if self.next_block > to_block {
                return Ok(true);
            }
            if done >= max_inputs {
                return Ok(false);
            }
            let end = to_block.min(self.next_block + self.logs.span() - 1);
            let filter = Filter::new()
                .address(self.input_box)
                .event_signature(IInputBox::InputAdded::SIGNATURE_HASH)
                .topic1(self.app.into_word());
            let logs = self
                .logs
                .logs(&self.provider, &filter, self.next_block, end)
                .await?;
            tracing::debug!(
                "blocks {}..={end}: {} InputAdded logs",
                self.next_block,
                logs.len()
            );
            for log in logs {
                let block = log
                    .block_number
                    .ok_or_else(|| Error::BadInput("log without a block number".into()))?;
                let origin = (
                    log.transaction_hash.unwrap_or_default(),
                    log.log_index.unwrap_or_default(),
                );
                let event = log
                    .log_decode::<IInputBox::InputAdded>()
                    .map_err(|e| Error::BadInput(format!("InputAdded: {e}")))?
                    .inner
                    .data;
                let known = self.inputs.len() + self.pending.len();
                if event.index < U256::from(known) {
                    // Already processed before a restart (the cursor is at its block).
                    continue;
                }
                self.pending.push_back(PendingInput {
                    block,
                    tx: origin.0,
                    log_index: origin.1,
                    blob: event.input,
                });
            }
            let known = (self.inputs.len() + self.pending.len()) as u64;
            // Only the range that reaches `to_block` (the caller's view of the head) is
            // checked: earlier ranges are settled, and a node without archive state could
            // not answer for them.
            let added = if end == to_block {
                inputs_added_by(&self.provider, self.input_box, self.app, end).await?
            } else {
                0
            };
            if known < added {
                // An endpoint can answer for a block at its head before it serves that
                // block's logs. Moving the cursor past them would lose those inputs for
                // good: keep it, and read the range again at the next poll.
                tracing::warn!(
                    "L1 served {known} inputs up to block {end}, the InputBox holds {added}: \
                     reading the range again"
                );
                self.incomplete = true;
            } else {
                self.fetched_to = Some(end);
            }
        }
    }

    /// Runs one `EvmAdvance` blob through the DApp.
    async fn execute(&mut self, blob: &[u8]) -> Result<RequestResult> {
        let (meta, payload) = decode_advance(blob)?;
        if meta.input_index != self.inputs.len() as u64 {
            return Err(Error::BadInput(format!(
                "input {} arrived, expected {}",
                meta.input_index,
                self.inputs.len()
            )));
        }
        let result = self
            .machine
            .process(RollupRequest::Advance { meta, payload })
            .await?;
        if let Status::Exception(why) = &result.status {
            return Err(Error::DappDead(String::from_utf8_lossy(why).into_owned()));
        }
        Ok(result)
    }

    /// Runs an inspect query through the DApp (between inputs; nothing is kept).
    pub async fn inspect(&mut self, payload: Vec<u8>) -> Result<RequestResult> {
        self.machine
            .process(RollupRequest::Inspect { payload })
            .await
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
        let root = self.tree.root();
        self.inputs.push(InputRecord {
            index,
            block,
            status: result.status,
            first_output,
            outputs,
            root,
            reports: result.reports,
        });
        root
    }

    async fn process(&mut self, input: &PendingInput) -> Result<()> {
        let (block, blob) = (input.block, &input.blob[..]);
        let result = self.execute(blob).await?;
        let index = self.inputs.len() as u64;
        let first_output = self.tree.len();
        let stored_outputs = if result.status == Status::Accepted {
            result.outputs.clone()
        } else {
            Vec::new()
        };
        let (status, reports) = (result.status.clone(), result.reports.clone());
        let chunk = (status == Status::Accepted)
            .then(|| chunk_ref(index, blob))
            .flatten();
        let root = self.apply(index, block, result);
        let stored = StoredInput {
            index,
            block,
            tx: input.tx,
            log_index: input.log_index,
            blob: blob.to_vec(),
            status,
            outputs: stored_outputs,
            reports,
            root,
        };
        // The cursor stays at this input's block: a restart re-reads the block and skips
        // the inputs it already holds.
        self.store
            .record(&stored, first_output, block, chunk.as_ref())
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

    /// The first block not yet read.
    pub const fn next_block(&self) -> u64 {
        self.next_block
    }

    /// Claims so far, oldest first.
    pub fn claims(&self) -> &[Claim] {
        &self.claims
    }

    /// Epochs proven so far (their root is valid on chain), oldest first.
    pub fn proven(&self) -> &[ProvenEpoch] {
        &self.proven
    }

    /// The outputs root at the end of `block` and the outputs in the tree then: those of
    /// the last input at or before it.
    pub fn root_at(&self, block: u64) -> (B256, u64) {
        self.inputs
            .iter()
            .rev()
            .find(|i| i.block <= block)
            .map_or((zero_hashes()[HEIGHT], 0), |i| {
                (i.root, i.first_output + i.outputs)
            })
    }

    /// The outputs tree as it was after its first `outputs` outputs.
    fn tree_at(&self, outputs: u64) -> OutputsTree {
        let mut tree = self.tree.clone();
        tree.truncate(outputs);
        tree
    }

    /// Claims through `consensus`, signed by `claimer` (this runner provider's sender: the
    /// Authority's owner or one of the Quorum's validators), the outputs root as of the end
    /// of `block` (an epoch's last block, already read), and records the claim. If the
    /// chain already holds `claimer`'s claim for `block` (a crash after sending it), that
    /// claim is recorded instead; a claim of `claimer`'s there with another root is an
    /// error. Once the consensus holds the root valid, the outputs it covers are proven.
    pub async fn claim(
        &mut self,
        consensus: Address,
        block: u64,
        claimer: Address,
    ) -> Result<Claim> {
        if block >= self.next_block {
            return Err(Error::BadInput(format!(
                "cannot claim block {block}: read only up to {}",
                self.next_block.saturating_sub(1)
            )));
        }
        let (root, outputs) = self.root_at(block);
        let consensus_contract = IConsensus::new(consensus, &self.provider);
        let call = consensus_contract.submitClaim(self.app, U256::from(block), root);
        // Estimated in the pending block, the one the claim goes into (the consensus wants
        // the epoch's last block in the past, which the latest block may not yet be), with
        // headroom: by the time the claim is mined other validators may have voted, and
        // the vote that reaches a Quorum's majority also accepts the claim, which costs more.
        let sent = match call
            .clone()
            .block(alloy::eips::BlockId::pending())
            .estimate_gas()
            .await
        {
            Ok(gas) => {
                call.gas(gas.saturating_mul(2).saturating_add(50_000))
                    .send()
                    .await
            }
            Err(e) => Err(e),
        };
        let tx = match sent {
            Ok(pending) => {
                tracing::debug!("submitClaim for block {block} sent: {}", pending.tx_hash());
                let receipt = pending.confirmed().await?;
                if !receipt.status() {
                    // Not recorded: the next poll claims again (or finds the claim).
                    return Err(Error::ClaimReverted {
                        block,
                        tx: receipt.transaction_hash,
                    });
                }
                Some(receipt.transaction_hash)
            }
            Err(e) => {
                match claim_on_chain(
                    &self.provider,
                    &self.logs,
                    consensus,
                    self.app,
                    block,
                    claimer,
                )
                .await?
                {
                    Some((found, tx)) if found == root => tx,
                    Some((found, _)) => {
                        return Err(Error::ClaimConflict {
                            block,
                            ours: root,
                            theirs: found,
                        });
                    }
                    // The consensus refused the claim (not its owner or validator, not an
                    // epoch's last block…): retrying cannot help.
                    None => match e.as_revert_data() {
                        Some(data) => {
                            return Err(Error::ClaimRefused {
                                block,
                                revert: data.to_string(),
                            });
                        }
                        None => return Err(e.into()),
                    },
                }
            }
        };
        let claim = Claim {
            block,
            root,
            outputs,
            tx,
        };
        self.store.record_claim(&claim)?;
        self.claims.push(claim);
        // An Authority accepts at once, and so does a Quorum on its majority's vote.
        self.prove(consensus, block).await?;
        Ok(claim)
    }

    /// Proves the outputs up to the end of epoch `block` if the consensus holds this node's
    /// root for it valid; true if it does (or did already).
    async fn prove(&mut self, consensus: Address, block: u64) -> Result<bool> {
        if self.proven.iter().any(|p| p.block >= block) {
            return Ok(true);
        }
        let (root, outputs) = self.root_at(block);
        let valid = IConsensus::new(consensus, &self.provider)
            .isOutputsMerkleRootValid(self.app, root)
            .call()
            .await?;
        if !valid {
            return Ok(false);
        }
        let tree = self.tree_at(outputs);
        let from = self.proven.last().map_or(0, |p| p.outputs);
        let proofs: Vec<(u64, Vec<B256>)> = (from..outputs)
            .filter_map(|i| Some((i, tree.proof(i)?)))
            .collect();
        let epoch = ProvenEpoch {
            block,
            root,
            outputs,
        };
        self.store.record_proven(&epoch, &proofs)?;
        self.proven.push(epoch);
        tracing::info!("block {block}: root {root} is valid on chain, {outputs} outputs provable");
        Ok(true)
    }

    /// Reads what `consensus` logged for this application up to `to_block` (claims by any
    /// validator, accepted roots), compares every claim and accepted root whose epoch is
    /// read with this node's root (a difference is logged as an error: someone claims
    /// another history than this node computed), and proves the outputs of every epoch
    /// whose root the consensus accepted or this node claimed, once the consensus holds it
    /// valid. The last [`CONSENSUS_REREAD`] blocks already read are read again (what is
    /// known is kept once): an endpoint under load may answer for its head before it serves
    /// the logs of the last blocks. Only reporting depends on these logs; proofs depend on
    /// the consensus' own `isOutputsMerkleRootValid`.
    pub async fn watch_consensus(&mut self, consensus: Address, to_block: u64) -> Result<()> {
        let mut from = self.consensus_next.saturating_sub(CONSENSUS_REREAD);
        while from <= to_block {
            let end = to_block.min(from + self.logs.span() - 1);
            let (claims, accepted) =
                consensus_logs(&self.provider, &self.logs, consensus, self.app, from, end).await?;
            let executed =
                executed_outputs(&self.provider, &self.logs, self.app, from, end).await?;
            self.store
                .record_consensus(&claims, &accepted, &executed, end + 1)?;
            for c in claims {
                if self.seen_claims.insert((c.block, c.submitter, c.root)) {
                    self.unchecked.push(c);
                }
            }
            for a in accepted {
                if self.seen_accepted.insert(a.block) {
                    self.unchecked_accepted.push(a);
                }
            }
            self.consensus_next = end + 1;
            from = end + 1;
        }
        let read = self.next_block;
        let (ready, later): (Vec<_>, Vec<_>) = std::mem::take(&mut self.unchecked)
            .into_iter()
            .partition(|c| c.block < read);
        self.unchecked = later;
        for c in ready {
            let (ours, _) = self.root_at(c.block);
            if c.root == ours {
                tracing::info!(
                    "block {}: {} claimed root {}, as this node computed",
                    c.block,
                    c.submitter,
                    c.root
                );
            } else {
                tracing::error!(
                    "DIVERGENT CLAIM: {} claimed root {} for block {}, this node computed {ours}",
                    c.submitter,
                    c.root,
                    c.block
                );
            }
        }
        let (ready, later): (Vec<_>, Vec<_>) = std::mem::take(&mut self.unchecked_accepted)
            .into_iter()
            .partition(|a| a.block < read);
        self.unchecked_accepted = later;
        for a in ready {
            let (ours, _) = self.root_at(a.block);
            if a.root == ours {
                self.prove(consensus, a.block).await?;
            } else {
                tracing::error!(
                    "DIVERGENT ACCEPTED ROOT: the consensus accepted root {} for block {}, this node computed {ours}: this node serves no proofs against it",
                    a.root,
                    a.block
                );
            }
        }
        // This node's claims that were not accepted yet (a Quorum still voting).
        let pending: Vec<u64> = self
            .claims
            .iter()
            .map(|c| c.block)
            .filter(|b| self.proven.last().is_none_or(|p| p.block < *b))
            .collect();
        for block in pending {
            if !self.prove(consensus, block).await? {
                break;
            }
        }
        Ok(())
    }

    /// The `executeOutput` arguments for output `index`, proven against the latest epoch
    /// root that covers it and that the consensus holds valid.
    pub fn proof(&self, index: u64) -> Option<(Bytes, OutputValidityProof)> {
        let epoch = self.proven.iter().rev().find(|c| c.outputs > index)?;
        let siblings = self.tree_at(epoch.outputs).proof(index)?;
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

/// How many inputs the InputBox held for `app` at the end of `block`.
async fn inputs_added_by(
    provider: &impl Provider,
    input_box: Address,
    app: Address,
    block: u64,
) -> Result<u64> {
    let count = IInputBox::new(input_box, provider)
        .getNumberOfInputs(app)
        .call()
        .block(block.into())
        .await?;
    Ok(u64::try_from(count).unwrap_or(u64::MAX))
}

/// The root `submitter` claimed on chain for this application at `block`, if any.
async fn claim_on_chain(
    provider: &impl Provider,
    reader: &LogReader,
    consensus: Address,
    app: Address,
    block: u64,
    submitter: Address,
) -> Result<Option<(B256, Option<B256>)>> {
    // A claim for `block` can only be in a later block.
    let latest = provider.get_block_number().await?;
    if latest <= block {
        return Ok(None);
    }
    let filter = Filter::new()
        .address(consensus)
        .event_signature(IConsensus::ClaimSubmitted::SIGNATURE_HASH)
        .topic1(submitter.into_word())
        .topic2(app.into_word());
    for log in reader.logs(provider, &filter, block + 1, latest).await? {
        let tx = log.transaction_hash;
        let Ok(event) = log.log_decode::<IConsensus::ClaimSubmitted>() else {
            continue;
        };
        let event = event.inner.data;
        if event.lastProcessedBlockNumber == U256::from(block) {
            return Ok(Some((event.outputsMerkleRoot, tx)));
        }
    }
    Ok(None)
}

/// Decodes an `EvmAdvance` blob into the metadata and payload the DApp receives.
pub fn decode_advance(blob: &[u8]) -> Result<(AdvanceMeta, Vec<u8>)> {
    let input = Inputs::EvmAdvanceCall::abi_decode(blob)
        .map_err(|e| Error::BadInput(format!("EvmAdvance: {e}")))?;
    let small = |v: U256| u64::try_from(v).unwrap_or(u64::MAX);
    let meta = AdvanceMeta {
        chain_id: small(input.chainId),
        app_contract: input.appContract,
        msg_sender: input.msgSender,
        block_number: small(input.blockNumber),
        block_timestamp: small(input.blockTimestamp),
        prev_randao: B256::from(input.prevRandao),
        input_index: small(input.index),
    };
    Ok((meta, input.payload.to_vec()))
}

/// The chunk an accepted `putChunk` input carried, for the blob index.
fn chunk_ref(input: u64, blob: &[u8]) -> Option<ChunkRef> {
    let (meta, payload) = decode_advance(blob).ok()?;
    let call = ICrucible::putChunkCall::abi_decode(&payload).ok()?;
    Some(ChunkRef {
        input,
        digest: call.sha256Digest,
        uploader: meta.msg_sender,
        index: call.index,
        count: call.count,
    })
}

/// The data of chunk input `blob` (an `EvmAdvance` carrying `putChunk`).
pub fn chunk_data(blob: &[u8]) -> Option<Vec<u8>> {
    let (_, payload) = decode_advance(blob).ok()?;
    Some(
        ICrucible::putChunkCall::abi_decode(&payload)
            .ok()?
            .data
            .to_vec(),
    )
}
