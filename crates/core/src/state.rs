//! The application state and the input dispatcher.

pub(crate) use crate::outputs::{Applied, Fail, Map, notice, parse_cid};
use crate::{
    Outcome, Output, Rejection, Result, blobs::Store, competition::Competition, eval,
    ledger::Ledger, limits::Limits,
};
use alloy_primitives::{Address, B256};
use alloy_sol_types::SolInterface;
use crucible_types::{
    AdvanceMeta, Cid, Deposit,
    abi::{self, ICrucible, ICrucibleCalls, ICrucibleOutputs},
    rollup::{ERC20_PORTAL, ETHER_PORTAL},
};
use serde::Serialize;
use sha2::{Digest, Sha256};
use std::sync::Arc;

/// Settings fixed when the DApp is built; every validator must use the same ones.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Config {
    /// The only sender whose ERC-20 deposits are trusted.
    pub erc20_portal: Address,
    /// The only sender whose Ether deposits are trusted.
    pub ether_portal: Address,
    /// Largest blob.
    pub max_blob_bytes: u64,
    /// Blob bytes the application stores in all, stored and pending.
    pub max_stored_bytes: u64,
    /// Stored and pending blob bytes one address may hold (a sponsor's test-set
    /// reservations count too).
    pub max_bytes_per_sender: u64,
    /// Seconds of block time after its last chunk at which a pending upload expires.
    pub upload_ttl: u64,
    /// Seconds after which anyone (not only its uploader) may release a stored blob that
    /// no open competition uses.
    pub blob_ttl: u64,
    /// Most chunks of one blob.
    pub max_chunks: u32,
    /// Largest chunk.
    pub max_chunk_bytes: usize,
    /// The loosest limits a competition may ask for, and those of `evaluate`.
    pub ceiling: Limits,
    /// Most live entries per competition; when they are all held, a new entry must outrank
    /// the last one, which it displaces.
    pub max_submissions: u32,
    /// Most live entries one address holds in a competition.
    pub max_entries_per_sender: u32,
    /// Most unrevealed commitments one address holds in a competition.
    pub max_open_commitments_per_sender: u32,
    /// Most paid ranks (`payoutBps` entries).
    pub max_paid_ranks: u16,
    /// Latest submission deadline, in seconds after the creating deposit's block time.
    pub max_submission_period: u64,
    /// Longest reveal window, from the submission deadline to the reveal deadline.
    pub max_reveal_period: u64,
    /// The per-input work budget, in the cost model's estimated RISC-V guest instructions
    /// (= Cartesi machine cycles): an input that evaluates a model is refused before it
    /// runs anything if its estimate is above this, and `finalize` proceeds in steps that
    /// each stay under it. Parsing the largest blob must cost at most half of it.
    pub max_input_work: u64,
}

/// The default per-input work budget: 8·10⁹ guest instructions, about 44 s of the Cartesi
/// machine emulator at the 180 M cycles/s measured on a 2-core development machine, a
/// fourth of the official node's 180 s per-advance deadline.
pub const DEFAULT_INPUT_WORK: u64 = 8_000_000_000;

impl Default for Config {
    fn default() -> Self {
        Self {
            erc20_portal: ERC20_PORTAL,
            ether_portal: ETHER_PORTAL,
            max_blob_bytes: 16 << 20,
            max_stored_bytes: 192 << 20,
            max_bytes_per_sender: 48 << 20,
            upload_ttl: 86_400,
            blob_ttl: 7 * 86_400,
            max_chunks: 1024,
            max_chunk_bytes: 1 << 16,
            ceiling: Limits::default(),
            max_submissions: 1000,
            max_entries_per_sender: 8,
            max_open_commitments_per_sender: 8,
            max_paid_ranks: 16,
            max_submission_period: 366 * 86_400,
            max_reveal_period: 31 * 86_400,
            max_input_work: DEFAULT_INPUT_WORK,
        }
    }
}

/// The whole application state. Cloning is O(1) (persistent maps, shared blob bytes), which
/// is how a rejected input leaves it untouched at no cost: inputs are applied to a copy that
/// replaces the state only when accepted, and the copy shares everything the input does not
/// change.
#[derive(Debug, Clone, Serialize)]
pub struct State {
    pub(crate) config: Config,
    pub(crate) store: Store,
    /// Behind an `Arc`, so that copying a map node copies pointers and only the competition
    /// an input changes is cloned.
    pub(crate) competitions: Map<u64, Arc<Competition>>,
    pub(crate) next_competition: u64,
    pub(crate) ledger: Ledger,
}

impl Default for State {
    fn default() -> Self {
        Self::new(Config::default())
    }
}

/// Version tag of the state-hash encoding.
pub const STATE_HASH_VERSION: &str = "crucible-state-v2";

impl State {
    /// An empty state.
    pub fn new(config: Config) -> Self {
        crate::determinism::init();
        Self {
            config,
            store: Store::default(),
            competitions: Map::new(),
            next_competition: 1,
            ledger: Ledger::default(),
        }
    }

    /// The configuration.
    pub const fn config(&self) -> &Config {
        &self.config
    }

    /// sha256 over a versioned, canonical JSON encoding of the whole state (ordered maps
    /// only; blobs by their digest).
    pub fn state_hash(&self) -> Result<B256> {
        let mut h = Sha256::new();
        h.update(STATE_HASH_VERSION.as_bytes());
        h.update(serde_json::to_vec(self)?);
        Ok(B256::from(<[u8; 32]>::from(h.finalize())))
    }

    /// The bytes of a stored blob.
    pub fn blob(&self, cid: &Cid) -> Option<&[u8]> {
        self.store.blobs.get(cid).map(|b| &*b.bytes)
    }

    /// Applies one advance request. `Ok(Rejected)` leaves the state exactly as it was;
    /// `Err` is a broken invariant (the DApp raises `/exception`).
    pub fn advance(&mut self, meta: &AdvanceMeta, payload: &[u8]) -> Result<Outcome> {
        let mut next = self.clone();
        let mut outputs = Vec::new();
        match next.apply(meta, payload, &mut outputs) {
            Ok(()) => {
                *self = next;
                Ok(Outcome::Accepted { outputs })
            }
            Err(Fail::Reject(reason)) => Ok(Outcome::Rejected { reason }),
            Err(Fail::Bug(e)) => Err(e),
        }
    }

    /// Answers an inspect request: the payload is a UTF-8 path such as `competition/1`; the
    /// answer is one JSON report.
    pub fn inspect(&self, query: &[u8]) -> Result<Vec<Output>> {
        crate::inspect::answer(self, query).map(|json| vec![Output::Report(json)])
    }

    fn apply(&mut self, meta: &AdvanceMeta, payload: &[u8], out: &mut Vec<Output>) -> Applied {
        let deposit = Deposit::from_portal_input(
            meta.msg_sender,
            self.config.erc20_portal,
            self.config.ether_portal,
            payload,
        )
        .map_err(|e| Rejection::BadDeposit(e.to_string()))?;
        if let Some(deposit) = deposit {
            return self.deposit(meta, deposit, out);
        }
        let call = ICrucibleCalls::abi_decode(payload)
            .map_err(|e| Rejection::Malformed(decode_error(payload, &e)))?;
        let sender = meta.msg_sender;
        match call {
            ICrucibleCalls::putChunk(c) => self.store.put_chunk(&self.config, meta, c, out),
            ICrucibleCalls::releaseBlob(c) => {
                let cid = parse_cid("cid", &c.cid)?;
                self.store.release(&self.config, meta, cid, out)
            }
            ICrucibleCalls::createCompetition(_) => {
                Err(Rejection::CreateWithoutDeposit(sender).into())
            }
            ICrucibleCalls::commitSubmission(c) => {
                let id = c.competitionId;
                let max = self.config.max_open_commitments_per_sender;
                self.competition_mut(id)?
                    .commit(meta, c.commitment, max, out)
            }
            ICrucibleCalls::submit(c) => self.submit(meta, c, out),
            ICrucibleCalls::revealTestSet(c) => self.reveal_test_set(meta, c, out),
            ICrucibleCalls::finalize(c) => self.finalize(meta, c.competitionId, out),
            ICrucibleCalls::evaluate(c) => self.evaluate(c, out),
            ICrucibleCalls::withdraw(c) => self.ledger.withdraw(sender, c.token, c.amount, out),
        }
    }

    pub(crate) fn competition_mut(&mut self, id: u64) -> Applied<&mut Competition> {
        self.competitions
            .get_mut(&id)
            .map(Arc::make_mut)
            .ok_or_else(|| Rejection::UnknownCompetition(id).into())
    }

    /// A stored blob's bytes, or a rejection naming what is missing.
    pub(crate) fn stored(&self, cid: Cid, what: &'static str) -> Applied<Arc<[u8]>> {
        self.store
            .blobs
            .get(&cid)
            .map(|b| b.bytes.clone())
            .ok_or_else(|| Rejection::BlobNotStored { what, cid }.into())
    }

    // ---- deposits and the ledger ----

    fn deposit(&mut self, meta: &AdvanceMeta, deposit: Deposit, out: &mut Vec<Output>) -> Applied {
        if !deposit.exec_layer_data.is_empty() {
            let created = match ICrucibleCalls::abi_decode(&deposit.exec_layer_data) {
                Ok(ICrucibleCalls::createCompetition(c)) => self
                    .create_competition(meta, &deposit, c.spec, out)
                    .map_err(|f| match f {
                        Fail::Reject(r) => Ok(r.to_string()),
                        Fail::Bug(e) => Err(e),
                    }),
                Ok(_) => Err(Ok(
                    "execLayerData is an ICrucible call other than createCompetition".to_string(),
                )),
                Err(e) => Err(Ok(decode_error(&deposit.exec_layer_data, &e))),
            };
            match created {
                Ok(()) => return Ok(()),
                Err(Err(bug)) => return Err(Fail::Bug(bug)),
                // The tokens are in the application contract whatever happens: never lose
                // them. Credit the depositor, who can withdraw, and say why.
                Err(Ok(why)) => out.push(Output::Report(
                    format!("competition not created: {why}; the deposit is credited to {} and can be withdrawn", deposit.sender)
                        .into_bytes(),
                )),
            }
        }
        self.ledger
            .credit(deposit.sender, deposit.token, deposit.amount)?;
        out.push(notice(ICrucibleOutputs::DepositedCall {
            account: deposit.sender,
            token: deposit.token,
            amount: deposit.amount,
        }));
        Ok(())
    }

    // ---- evaluation ----

    fn evaluate(&mut self, c: ICrucible::evaluateCall, out: &mut Vec<Output>) -> Applied {
        let model_cid = parse_cid("modelCid", &c.modelCid)?;
        let data_cid = parse_cid("dataCid", &c.dataCid)?;
        if c.metric == abi::Metric::__Invalid {
            return Err(Rejection::Malformed("unknown metric".into()).into());
        }
        let limits = self.config.ceiling.clone();
        let (_, score) = self.score(model_cid, data_cid, &limits, c.metric)?;
        out.push(notice(ICrucibleOutputs::EvaluatedCall {
            modelCid: c.modelCid,
            dataCid: c.dataCid,
            metric: c.metric as u8,
            valuePpm: score.value_ppm,
            samples: score.samples,
            correct: score.correct,
        }));
        Ok(())
    }

    /// Loads both blobs, validates them under `limits`, refuses an evaluation over the
    /// per-input budget before running it, and scores. Every failure is a rejection naming
    /// the blob at fault.
    pub(crate) fn score(
        &self,
        model_cid: Cid,
        data_cid: Cid,
        limits: &Limits,
        metric: abi::Metric,
    ) -> Applied<(crate::model::ModelInfo, crate::metrics::Score)> {
        let model_bytes = self.stored(model_cid, "model")?;
        let data_bytes = self.stored(data_cid, "dataset")?;
        let budget = self.config.max_input_work;
        match eval::score_bytes(
            &model_bytes,
            &data_bytes,
            limits,
            metric,
            eval::Budget::of_input(budget),
        ) {
            Ok(scored) => Ok(scored),
            Err(eval::ScoreFailure::Dataset(reason)) => Err(Rejection::Dataset {
                cid: data_cid,
                reason,
            }
            .into()),
            Err(eval::ScoreFailure::Model(reason)) => Err(Rejection::Model {
                cid: model_cid,
                reason,
            }
            .into()),
            Err(eval::ScoreFailure::OverBudget { work, run, batch }) => {
                Err(Rejection::OverBudget {
                    what: if run {
                        format!("one run of {batch} rows of model {model_cid} with its loading")
                    } else {
                        format!("scoring model {model_cid} on dataset {data_cid}")
                    },
                    work,
                    budget,
                    half: run,
                }
                .into())
            }
        }
    }
}

fn decode_error(payload: &[u8], e: &alloy_sol_types::Error) -> String {
    match payload.get(..4) {
        None => format!(
            "{} bytes is too short for a function selector",
            payload.len()
        ),
        Some(sel) if !ICrucibleCalls::SELECTORS.contains(&[sel[0], sel[1], sel[2], sel[3]]) => {
            format!(
                "unknown selector 0x{:02x}{:02x}{:02x}{:02x}",
                sel[0], sel[1], sel[2], sel[3]
            )
        }
        Some(_) => format!("arguments do not decode: {e}"),
    }
}
