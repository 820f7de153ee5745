//! Competitions: creation from a deposit, commit–reveal submissions, the ε ordering, the
//! hidden test set and the payout at finalize.
//!
//! **Ordering (the ε rule).** Entries are taken in priority order (the input index of their
//! commitment). The *leader* of a set of entries is the last link of its improvement chain:
//! the chain starts at the earliest entry, and its next link is the earliest later entry that
//! improves on the current link by more than ε (`score > link + ε` when higher is better,
//! `score + ε < link` otherwise). Equivalently, the leader is the one entry `L` such that
//! (a) no entry later than `L` improves on `L` by more than ε, and (b) `L` is the earliest
//! entry, or improves by more than ε on the leader of the entries earlier than it. Rank 1 is
//! the leader of all entries, rank 2 the leader of the rest, and so on. A tie, or any
//! improvement of ε or less on the current link, keeps the earlier entry; but a later entry
//! can outrank an earlier one it beats by ε or less when that earlier one never led (with
//! ε = 10: scores 0, 10, 11 in priority order rank 11 first, since 10 did not improve on 0
//! by more than ε and 11 did). The order depends only on scores, priorities and ε.

use crate::{
    Output, Rejection, cost,
    dataset::{Dataset, DatasetInfo, Targets},
    eval,
    limits::Limits,
    metrics::{Accumulator, Score},
    model::Model,
    outputs::{Applied, Fail, Map, notice, parse_cid, payout},
    state::State,
};
use alloy_primitives::{Address, B256, U256};
use crucible_types::{
    AdvanceMeta, Cid, Deposit,
    abi::{self, ICrucible, ICrucibleOutputs},
};
use serde::Serialize;
use std::collections::BTreeMap;

/// Basis points in a whole reward.
pub(crate) const BPS: u16 = 10_000;

#[derive(Debug, Clone, Serialize)]
pub(crate) struct Commitment {
    pub(crate) submitter: Address,
    pub(crate) priority: u64,
    pub(crate) revealed: bool,
}

/// What scoring an entry's model costs, from the cost model when it was first scored: the
/// plan of a finalize step is made from these without loading the model.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub(crate) struct EntryCost {
    pub(crate) load_work: u64,
    pub(crate) work_per_run: u64,
    pub(crate) run_batch: u64,
}

impl EntryCost {
    fn of(info: &crate::model::ModelInfo) -> Self {
        Self {
            load_work: info.load_work,
            work_per_run: info.work_per_run,
            run_batch: info.run_batch as u64,
        }
    }
}

/// A live entry: scored, eligible (it beats the baseline by more than ε), not a copy of an
/// earlier entry. Entries that are not live are not kept: their notices are the record.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct Submission {
    pub(crate) submitter: Address,
    pub(crate) model_cid: Cid,
    pub(crate) score: Score,
    pub(crate) cost: EntryCost,
    pub(crate) scored_at: u64,
}

#[derive(Debug, Clone, Serialize)]
pub(crate) struct TestSet {
    pub(crate) cid: Cid,
    pub(crate) rows: u64,
}

#[derive(Debug, Clone, Serialize)]
pub(crate) struct Winner {
    pub(crate) priority: u64,
    pub(crate) submitter: Address,
    pub(crate) score_ppm: u64,
    pub(crate) amount: U256,
}

/// The entry a finalize step stopped in the middle of: the next row to score and the
/// metric so far.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct Partial {
    pub(crate) priority: u64,
    pub(crate) next_row: u64,
    pub(crate) acc: Accumulator,
}

/// A finalize that scores the finalists on the test set in several inputs, each under the
/// per-input budget. Anyone may send the next `finalize`; the payout happens at the last.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct Finalizing {
    /// The entries to score on the test set, in this order (fixed by the first step).
    pub(crate) entries: Vec<u64>,
    /// Test-set score of every entry done so far; `None` for one that failed there.
    pub(crate) scores: BTreeMap<u64, Option<u64>>,
    /// The entry in progress, if a step stopped inside it.
    pub(crate) partial: Option<Partial>,
    /// Finalize inputs accepted so far.
    pub(crate) steps: u32,
}

#[derive(Debug, Clone, Serialize)]
pub(crate) struct Finalization {
    pub(crate) test_set_used: bool,
    pub(crate) winners: Vec<Winner>,
    pub(crate) refund: U256,
    pub(crate) at_input: u64,
}

#[derive(Debug, Clone, Serialize)]
pub(crate) struct Competition {
    pub(crate) id: u64,
    pub(crate) sponsor: Address,
    pub(crate) token: Address,
    pub(crate) reward: U256,
    pub(crate) created_at: u64,
    pub(crate) validation_cid: Cid,
    pub(crate) validation: DatasetInfo,
    pub(crate) baseline: Option<(Cid, Score)>,
    pub(crate) test_commitment: B256,
    #[serde(serialize_with = "metric_name")]
    pub(crate) metric: abi::Metric,
    pub(crate) submission_deadline: u64,
    pub(crate) reveal_deadline: u64,
    pub(crate) epsilon_ppm: u32,
    pub(crate) payout_bps: Vec<u16>,
    pub(crate) limits: Limits,
    /// Bytes reserved for the hidden test set until the reveal.
    pub(crate) test_set_bytes: u64,
    /// The validation set's distinct labels (classification only): a test set may hold no
    /// other.
    pub(crate) classes: Vec<i64>,
    /// The validation set's feature range, as `f32` bits: a test set's features must lie
    /// within it.
    pub(crate) feature_range: (u32, u32),
    pub(crate) commitments: Map<B256, Commitment>,
    /// Unrevealed commitments of each address.
    pub(crate) open_commitments: Map<Address, u32>,
    /// Live entries by priority.
    pub(crate) submissions: Map<u64, Submission>,
    /// The live entry of each model.
    pub(crate) scored_models: Map<Cid, u64>,
    /// The live entry of each predictions digest ([`Score::predictions`]).
    #[serde(serialize_with = "hex_keys")]
    pub(crate) predictions: Map<u128, u64>,
    pub(crate) test_set: Option<TestSet>,
    pub(crate) finalizing: Option<Finalizing>,
    pub(crate) finalized: Option<Finalization>,
}

fn hex_keys<S: serde::Serializer>(m: &Map<u128, u64>, s: S) -> Result<S::Ok, S::Error> {
    s.collect_map(m.iter().map(|(k, v)| (format!("{k:032x}"), v)))
}

fn metric_name<S: serde::Serializer>(m: &abi::Metric, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(m.name())
}

/// Whether `new` (a later entry) outranks `old` under the ε rule.
pub(crate) fn improves(new: u64, old: u64, epsilon: u32, higher_is_better: bool) -> bool {
    let eps = u128::from(epsilon);
    if higher_is_better {
        u128::from(new) > u128::from(old) + eps
    } else {
        u128::from(new) + eps < u128::from(old)
    }
}

/// Orders `(priority, score_ppm)` entries by the ε rule of this module's documentation and
/// returns the priorities from rank 1 down. Input order does not matter.
pub fn rank(entries: &[(u64, u64)], epsilon: u32, higher_is_better: bool) -> Vec<u64> {
    let mut remaining = entries.to_vec();
    remaining.sort_unstable();
    let mut ranked = Vec::with_capacity(remaining.len());
    while !remaining.is_empty() {
        let mut lead = 0;
        for i in 1..remaining.len() {
            if improves(remaining[i].1, remaining[lead].1, epsilon, higher_is_better) {
                lead = i;
            }
        }
        ranked.push(remaining.remove(lead).0);
    }
    ranked
}

impl Competition {
    fn timing(&self, what: impl Into<String>) -> Rejection {
        Rejection::Timing {
            id: self.id,
            what: what.into(),
        }
    }

    fn refuse(&self, what: impl Into<String>) -> Rejection {
        Rejection::Submission {
            id: self.id,
            what: what.into(),
        }
    }

    /// Live entries ranked on validation scores.
    pub(crate) fn leaderboard(&self) -> Vec<u64> {
        let entries: Vec<(u64, u64)> = self
            .submissions
            .iter()
            .map(|(&p, s)| (p, s.score.value_ppm))
            .collect();
        rank(&entries, self.epsilon_ppm, self.metric.higher_is_better())
    }

    /// Drops a live entry and its indexes.
    fn remove_entry(&mut self, priority: u64) -> Option<Submission> {
        let s = self.submissions.remove(&priority)?;
        if self.scored_models.get(&s.model_cid) == Some(&priority) {
            self.scored_models.remove(&s.model_cid);
        }
        if self.predictions.get(&s.score.predictions) == Some(&priority) {
            self.predictions.remove(&s.score.predictions);
        }
        Some(s)
    }

    /// Every blob this open competition keeps stored.
    pub(crate) fn blobs_used(&self) -> Vec<Cid> {
        let mut cids = vec![self.validation_cid];
        cids.extend(self.baseline.map(|(c, _)| c));
        cids.extend(self.test_set.as_ref().map(|t| t.cid));
        cids.extend(self.submissions.values().map(|s| s.model_cid));
        cids
    }

    pub(crate) fn commit(
        &mut self,
        meta: &AdvanceMeta,
        commitment: B256,
        max: u32,
        out: &mut Vec<Output>,
    ) -> Applied {
        if meta.block_timestamp >= self.submission_deadline {
            return Err(self
                .timing(format!(
                    "submissions closed at {}",
                    self.submission_deadline
                ))
                .into());
        }
        if self.commitments.contains_key(&commitment) {
            return Err(self
                .refuse(format!("commitment {commitment} was already made"))
                .into());
        }
        let open = self
            .open_commitments
            .get(&meta.msg_sender)
            .copied()
            .unwrap_or(0);
        if open >= max {
            return Err(self
                .refuse(format!(
                    "{} holds {open} unrevealed commitments, the most one address may: reveal one first",
                    meta.msg_sender
                ))
                .into());
        }
        *self.open_commitments.entry(meta.msg_sender).or_default() += 1;
        let c = Commitment {
            submitter: meta.msg_sender,
            priority: meta.input_index,
            revealed: false,
        };
        self.commitments.insert(commitment, c);
        out.push(notice(ICrucibleOutputs::SubmissionCommittedCall {
            competitionId: self.id,
            commitment,
            submitter: meta.msg_sender,
            priority: meta.input_index,
        }));
        Ok(())
    }
}

impl State {
    pub(crate) fn create_competition(
        &mut self,
        meta: &AdvanceMeta,
        deposit: &Deposit,
        spec: abi::CompetitionSpec,
        out: &mut Vec<Output>,
    ) -> Applied {
        let bad = |why: String| -> Fail { Rejection::Spec(why).into() };
        if deposit.amount.is_zero() {
            return Err(bad("the reward deposit is zero".into()));
        }
        if spec.metric == abi::Metric::__Invalid {
            return Err(bad("unknown metric".into()));
        }
        if spec.submissionDeadline <= meta.block_timestamp {
            return Err(bad(format!(
                "submissionDeadline {} is not after the deposit's block time {}",
                spec.submissionDeadline, meta.block_timestamp
            )));
        }
        if spec.revealDeadline <= spec.submissionDeadline {
            return Err(bad(format!(
                "revealDeadline {} must be after submissionDeadline {}",
                spec.revealDeadline, spec.submissionDeadline
            )));
        }
        let latest = meta
            .block_timestamp
            .saturating_add(self.config.max_submission_period);
        if spec.submissionDeadline > latest {
            return Err(bad(format!(
                "submissionDeadline {} is more than {} s after the deposit's block time {}",
                spec.submissionDeadline, self.config.max_submission_period, meta.block_timestamp
            )));
        }
        let max_reveal = self.config.max_reveal_period;
        if spec.revealDeadline - spec.submissionDeadline > max_reveal {
            return Err(bad(format!(
                "revealDeadline {} is more than {max_reveal} s after submissionDeadline {}",
                spec.revealDeadline, spec.submissionDeadline
            )));
        }
        if spec.testCommitment.is_zero() != (spec.testSetBytes == 0) {
            return Err(bad(format!(
                "testSetBytes {} must be the test set's size with a test commitment, and 0 without one",
                spec.testSetBytes
            )));
        }
        let max_ranks = self.config.max_paid_ranks;
        if spec.payoutBps.is_empty() || spec.payoutBps.len() > usize::from(max_ranks) {
            return Err(bad(format!(
                "payoutBps needs 1 to {max_ranks} shares, has {}",
                spec.payoutBps.len()
            )));
        }
        if spec.payoutBps.contains(&0)
            || spec.payoutBps.iter().map(|&b| u32::from(b)).sum::<u32>() != u32::from(BPS)
        {
            return Err(bad(format!(
                "payoutBps {:?} must be positive shares summing to {BPS}",
                spec.payoutBps
            )));
        }
        let limits = Limits::from_abi(&spec.limits, &self.config.ceiling).map_err(bad)?;
        let validation_cid = parse_cid("validationCid", &spec.validationCid)?;
        let bytes = self.stored(validation_cid, "validation set")?;
        let data = Dataset::parse(&bytes, limits.max_dataset_rows).map_err(|reason| {
            Rejection::Dataset {
                cid: validation_cid,
                reason,
            }
        })?;
        if spec.metric.is_classification() != matches!(data.targets, Targets::Labels) {
            return Err(Rejection::Dataset {
                cid: validation_cid,
                reason: format!("its targets do not suit the metric {}", spec.metric.name()),
            }
            .into());
        }
        let baseline = if spec.baselineCid.is_empty() {
            None
        } else {
            let cid = parse_cid("baselineCid", &spec.baselineCid)?;
            Some((
                cid,
                self.score(cid, validation_cid, &limits, spec.metric)?.1,
            ))
        };

        let id = self.next_competition;
        if spec.testSetBytes > 0 {
            self.store
                .reserve(
                    &self.config,
                    meta.block_timestamp,
                    id,
                    spec.revealDeadline,
                    deposit.sender,
                    spec.testSetBytes,
                )
                .map_err(bad)?;
        }
        self.next_competition += 1;
        let (lo, hi) = data.feature_range();
        let competition = Competition {
            id,
            sponsor: deposit.sender,
            token: deposit.token,
            reward: deposit.amount,
            created_at: meta.input_index,
            validation_cid,
            validation: data.info(),
            baseline,
            test_commitment: spec.testCommitment,
            metric: spec.metric,
            submission_deadline: spec.submissionDeadline,
            reveal_deadline: spec.revealDeadline,
            epsilon_ppm: spec.epsilonPpm,
            payout_bps: spec.payoutBps.clone(),
            limits,
            test_set_bytes: spec.testSetBytes,
            classes: data.classes(),
            feature_range: (lo.to_bits(), hi.to_bits()),
            commitments: Map::new(),
            open_commitments: Map::new(),
            submissions: Map::new(),
            scored_models: Map::new(),
            predictions: Map::new(),
            test_set: None,
            finalizing: None,
            finalized: None,
        };
        out.push(notice(ICrucibleOutputs::CompetitionCreatedCall {
            competitionId: id,
            sponsor: deposit.sender,
            token: deposit.token,
            reward: deposit.amount,
            validationCid: spec.validationCid,
            metric: spec.metric as u8,
            submissionDeadline: spec.submissionDeadline,
            revealDeadline: spec.revealDeadline,
            epsilonPpm: spec.epsilonPpm,
            baselineScorePpm: baseline.map_or(0, |(_, s)| s.value_ppm),
            hasBaseline: baseline.is_some(),
        }));
        for cid in competition.blobs_used() {
            self.store.acquire(cid);
        }
        self.competitions
            .insert(id, std::sync::Arc::new(competition));
        Ok(())
    }

    /// Reveals a commitment and scores its model. The entry becomes live only if it beats
    /// the baseline by more than ε, is not a functional copy of an earlier entry (same
    /// predictions digest on the validation set), fits its sender's quota of live entries,
    /// and — when the competition holds its maximum of live entries — outranks the last one,
    /// which it displaces. An entry that is not live is still scored and announced; it just
    /// cannot be paid.
    pub(crate) fn submit(
        &mut self,
        meta: &AdvanceMeta,
        c: ICrucible::submitCall,
        out: &mut Vec<Output>,
    ) -> Applied {
        let model_cid = parse_cid("modelCid", &c.modelCid)?;
        let data_cid = parse_cid("dataCid", &c.dataCid)?;
        let max_live = self.config.max_submissions as usize;
        let per_sender = self.config.max_entries_per_sender as usize;
        let sender = meta.msg_sender;
        let comp = self.competition_mut(c.competitionId)?;
        if comp.finalized.is_some() || meta.block_timestamp >= comp.submission_deadline {
            return Err(comp
                .timing(format!(
                    "submissions closed at {}",
                    comp.submission_deadline
                ))
                .into());
        }
        if data_cid != comp.validation_cid {
            return Err(comp
                .refuse(format!(
                    "dataCid {data_cid} is not the validation set {}",
                    comp.validation_cid
                ))
                .into());
        }
        let commitment = abi::submission_commitment(&c.modelCid, sender, c.salt);
        let Some(commit) = comp.commitments.get(&commitment).cloned() else {
            return Err(comp
                .refuse(format!(
                    "no commitment keccak256(abi.encode(modelCid, {sender}, salt)) = {commitment} was made"
                ))
                .into());
        };
        if commit.revealed {
            return Err(comp
                .refuse(format!("commitment {commitment} is already revealed"))
                .into());
        }
        if comp.baseline.is_some_and(|(b, _)| b == model_cid) {
            return Err(comp
                .refuse("the baseline model cannot be submitted".to_string())
                .into());
        }
        let priority = commit.priority;
        let (id, limits, metric, eps) =
            (comp.id, comp.limits.clone(), comp.metric, comp.epsilon_ppm);
        let higher = metric.higher_is_better();
        let same_model = comp.scored_models.get(&model_cid).copied();
        if let Some(other) = same_model.filter(|&p| p < priority) {
            return Err(comp
                .refuse(format!("model {model_cid} was already submitted under the earlier commitment of priority {other}"))
                .into());
        }
        let baseline = comp.baseline;
        let (score, cost) = match same_model {
            // Same model, same data: the score is the one already computed.
            Some(p) => (comp.submissions[&p].score, comp.submissions[&p].cost),
            None => {
                let (info, score) = self.score(model_cid, data_cid, &limits, metric)?;
                (score, EntryCost::of(&info))
            }
        };
        let comp = self.competition_mut(id)?;
        if let Some(entry) = comp.commitments.get_mut(&commitment) {
            entry.revealed = true;
        }
        if let Some(n) = comp.open_commitments.get_mut(&sender) {
            *n -= 1;
            if *n == 0 {
                comp.open_commitments.remove(&sender);
            }
        }
        let scored = notice(ICrucibleOutputs::SubmissionScoredCall {
            competitionId: id,
            submitter: sender,
            modelCid: c.modelCid,
            priority,
            metric: metric as u8,
            valuePpm: score.value_ppm,
            samples: score.samples,
            correct: score.correct,
        });
        let report =
            |out: &mut Vec<Output>, text: String| out.push(Output::Report(text.into_bytes()));
        let twin = comp.predictions.get(&score.predictions).copied();
        if twin.is_none_or(|t| t < priority) {
            out.push(scored.clone());
        }
        if baseline.is_some_and(|(_, b)| !improves(score.value_ppm, b.value_ppm, eps, higher)) {
            if twin.is_some_and(|t| t > priority) {
                out.push(scored);
            }
            report(
                out,
                format!(
                    "submission {priority} scored {} ppm and does not beat the baseline by more than ε = {eps} ppm: it cannot win",
                    score.value_ppm
                ),
            );
            return Ok(());
        }
        // A functional copy: the earliest commitment among entries that predict the same
        // keeps the entry (the same model CID is the simplest case).
        let mut removed = Vec::new();
        if let Some(twin) = twin {
            let (loser, winner) = if twin < priority {
                (priority, twin)
            } else {
                (twin, priority)
            };
            let loser_cid = if loser == priority {
                model_cid
            } else {
                comp.submissions[&twin].model_cid
            };
            out.push(notice(ICrucibleOutputs::SubmissionSupersededCall {
                competitionId: id,
                modelCid: loser_cid.to_bytes().into(),
                loserPriority: loser,
                winnerPriority: winner,
            }));
            if loser == priority {
                report(
                    out,
                    format!(
                        "submission {priority} predicts exactly what the earlier entry {twin} predicts on every validation row: it ranks as a copy and cannot win"
                    ),
                );
                return Ok(());
            }
            out.push(scored);
            report(
                out,
                format!(
                    "entry {twin} predicts exactly what the earlier-committed submission {priority} predicts on every validation row: it is superseded as a copy"
                ),
            );
            removed.push(twin);
        }
        let mine = comp
            .submissions
            .iter()
            .filter(|(p, s)| s.submitter == sender && !removed.contains(p))
            .count();
        if mine >= per_sender {
            return Err(comp
                .refuse(format!(
                    "{sender} holds {mine} live entries, the most one address may"
                ))
                .into());
        }
        if comp.submissions.len() - removed.len() >= max_live {
            let mut entries: Vec<(u64, u64)> = comp
                .submissions
                .iter()
                .filter(|(p, _)| !removed.contains(p))
                .map(|(&p, s)| (p, s.score.value_ppm))
                .collect();
            entries.push((priority, score.value_ppm));
            let ranked = rank(&entries, eps, higher);
            let last = ranked[ranked.len() - 1];
            if last == priority {
                return Err(comp
                    .refuse(format!(
                        "the competition holds its maximum of {max_live} live entries and {} ppm does not outrank the last of them",
                        score.value_ppm
                    ))
                    .into());
            }
            report(
                out,
                format!(
                    "entry {last} is displaced: the competition holds its maximum of {max_live} live entries and submission {priority} outranks it"
                ),
            );
            removed.push(last);
        }
        let freed: Vec<Cid> = removed
            .into_iter()
            .filter_map(|p| comp.remove_entry(p))
            .map(|s| s.model_cid)
            .collect();
        comp.scored_models.insert(model_cid, priority);
        comp.predictions.insert(score.predictions, priority);
        comp.submissions.insert(
            priority,
            Submission {
                submitter: sender,
                model_cid,
                score,
                cost,
                scored_at: meta.input_index,
            },
        );
        for cid in freed {
            self.store.release_ref(cid);
        }
        self.store.acquire(model_cid);
        Ok(())
    }

    pub(crate) fn reveal_test_set(
        &mut self,
        meta: &AdvanceMeta,
        c: ICrucible::revealTestSetCall,
        out: &mut Vec<Output>,
    ) -> Applied {
        let test_cid = parse_cid("testCid", &c.testCid)?;
        let comp = self.competition_mut(c.competitionId)?;
        if meta.msg_sender != comp.sponsor {
            return Err(Rejection::Unauthorized {
                id: comp.id,
                what: format!("only the sponsor {} reveals the test set", comp.sponsor),
            }
            .into());
        }
        if comp.test_commitment.is_zero() {
            return Err(comp
                .refuse("the competition has no hidden test set".to_string())
                .into());
        }
        if comp.test_set.is_some() || comp.finalized.is_some() {
            return Err(comp
                .refuse(
                    "the test set is already revealed or the competition is finalized".to_string(),
                )
                .into());
        }
        let now = meta.block_timestamp;
        if now < comp.submission_deadline {
            return Err(comp
                .timing(format!(
                    "the test set may be revealed only after the submission deadline {}",
                    comp.submission_deadline
                ))
                .into());
        }
        if now >= comp.reveal_deadline {
            return Err(comp
                .timing(format!(
                    "the reveal deadline {} has passed",
                    comp.reveal_deadline
                ))
                .into());
        }
        if abi::test_set_commitment(&c.testCid, c.salt) != comp.test_commitment {
            return Err(comp
                .refuse(
                    "keccak256(abi.encode(testCid, salt)) does not match the committed test set"
                        .to_string(),
                )
                .into());
        }
        let (id, max_rows, validation) = (
            comp.id,
            comp.limits.max_dataset_rows,
            comp.validation.clone(),
        );
        let bytes = self.stored(test_cid, "test set")?;
        let data = Dataset::parse(&bytes, max_rows).map_err(|reason| Rejection::Dataset {
            cid: test_cid,
            reason,
        })?;
        let info = data.info();
        if (&info.sample_shape, info.features, &info.targets)
            != (
                &validation.sample_shape,
                validation.features,
                &validation.targets,
            )
        {
            return Err(Rejection::Dataset {
                cid: test_cid,
                reason: format!(
                    "x rows {:?} {:?} and targets {:?} differ from the validation set's {:?} {:?} {:?}",
                    info.sample_shape, info.features, info.targets, validation.sample_shape, validation.features, validation.targets
                ),
            }
            .into());
        }
        let poisoned = |reason: String| -> Fail {
            Rejection::Dataset {
                cid: test_cid,
                reason,
            }
            .into()
        };
        let comp = &self.competitions[&id];
        if let Some(label) = data
            .classes()
            .into_iter()
            .find(|l| comp.classes.binary_search(l).is_err())
        {
            return Err(poisoned(format!(
                "label {label} is not one of the validation set's {} classes",
                comp.classes.len()
            )));
        }
        let (lo, hi) = data.feature_range();
        let (vlo, vhi) = (
            f32::from_bits(comp.feature_range.0),
            f32::from_bits(comp.feature_range.1),
        );
        if lo < vlo || hi > vhi {
            return Err(poisoned(format!(
                "its features span [{lo}, {hi}], outside the validation set's [{vlo}, {vhi}]"
            )));
        }
        if let Some((baseline, _)) = comp.baseline {
            let (limits, metric) = (comp.limits.clone(), comp.metric);
            match self.score(baseline, test_cid, &limits, metric) {
                Ok(_) => {}
                Err(Fail::Reject(r)) => {
                    return Err(poisoned(format!(
                        "the baseline cannot be scored on it: {r}"
                    )));
                }
                Err(bug) => return Err(bug),
            }
        }
        let comp = self.competition_mut(id)?;
        comp.test_set = Some(TestSet {
            cid: test_cid,
            rows: info.rows,
        });
        let until = comp.reveal_deadline;
        self.store.end_reservation(until, id);
        self.store.acquire(test_cid);
        out.push(notice(ICrucibleOutputs::TestSetRevealedCall {
            competitionId: id,
            testCid: c.testCid,
            samples: info.rows,
        }));
        Ok(())
    }

    pub(crate) fn finalize(
        &mut self,
        meta: &AdvanceMeta,
        id: u64,
        out: &mut Vec<Output>,
    ) -> Applied {
        let comp = self.competition_mut(id)?;
        if comp.finalized.is_some() {
            return Err(comp.refuse("already finalized".to_string()).into());
        }
        let now = meta.block_timestamp;
        let ready = if comp.test_commitment.is_zero() {
            now >= comp.submission_deadline
        } else {
            comp.test_set.is_some() || now >= comp.reveal_deadline
        };
        if !ready {
            return Err(comp
                .timing(format!(
                    "finalize needs the test set revealed or the reveal deadline {} passed (now {now})",
                    comp.reveal_deadline
                ))
                .into());
        }
        let comp = comp.clone();
        let higher = comp.metric.higher_is_better();
        let by_validation = comp.leaderboard();
        let (ranked, scores, test_set_used) = match &comp.test_set {
            None => {
                let scores: BTreeMap<u64, u64> = by_validation
                    .iter()
                    .map(|p| (*p, comp.submissions[p].score.value_ppm))
                    .collect();
                (by_validation, scores, false)
            }
            Some(test) => {
                let mut progress = comp.finalizing.clone().unwrap_or_else(|| Finalizing {
                    entries: by_validation.clone(),
                    scores: BTreeMap::new(),
                    partial: None,
                    steps: 0,
                });
                progress.steps += 1;
                self.finalize_step(&comp, test, &mut progress, out)?;
                if progress.scores.len() < progress.entries.len() {
                    let (scored, total) = (progress.scores.len(), progress.entries.len());
                    let at = progress.partial.as_ref().map_or(String::new(), |p| {
                        format!(
                            "; entry {} is scored up to row {} of {}",
                            p.priority, p.next_row, test.rows
                        )
                    });
                    out.push(Output::Report(
                        format!(
                            "competition {id}: finalize step {} scored {scored} of {total} entries on the test set within the per-input budget{at}; send finalize again to continue",
                            progress.steps
                        )
                        .into_bytes(),
                    ));
                    self.competition_mut(id)?.finalizing = Some(progress);
                    return Ok(());
                }
                let mut scores: BTreeMap<u64, u64> = progress
                    .scores
                    .iter()
                    .filter_map(|(&p, s)| s.map(|s| (p, s)))
                    .collect();
                let entries: Vec<(u64, u64)> = scores.iter().map(|(&p, &s)| (p, s)).collect();
                let mut ranked = rank(&entries, comp.epsilon_ppm, higher);
                // Entries that fail on the test set still beat the baseline on validation:
                // they rank after every entry that succeeded, in validation order, so the
                // reward is never refunded while a valid entry exists.
                for &p in &by_validation {
                    if let std::collections::btree_map::Entry::Vacant(e) = scores.entry(p) {
                        ranked.push(p);
                        e.insert(comp.submissions[&p].score.value_ppm);
                    }
                }
                (ranked, scores, true)
            }
        };
        let mut winners = Vec::new();
        let mut paid = U256::ZERO;
        for (&p, &bps) in ranked.iter().zip(&comp.payout_bps) {
            let amount = share(comp.reward, bps);
            paid += amount;
            let submitter = comp.submissions[&p].submitter;
            winners.push(Winner {
                priority: p,
                submitter,
                score_ppm: scores[&p],
                amount,
            });
            if !amount.is_zero() {
                out.push(payout(comp.token, submitter, amount));
            }
        }
        let refund = comp.reward - paid;
        if !refund.is_zero() {
            out.push(payout(comp.token, comp.sponsor, refund));
        }
        out.push(notice(ICrucibleOutputs::CompetitionFinalizedCall {
            competitionId: id,
            testSetUsed: test_set_used,
            winners: winners.iter().map(|w| w.submitter).collect(),
            winnerPriorities: winners.iter().map(|w| w.priority).collect(),
            scoresPpm: winners.iter().map(|w| w.score_ppm).collect(),
            amounts: winners.iter().map(|w| w.amount).collect(),
            refund,
        }));
        let comp = self.competition_mut(id)?;
        comp.finalizing = None;
        comp.finalized = Some(Finalization {
            test_set_used,
            winners,
            refund,
            at_input: meta.input_index,
        });
        // Prune what only an open competition needs; the blobs it used may be released.
        comp.commitments = Map::new();
        comp.open_commitments = Map::new();
        comp.scored_models = Map::new();
        comp.predictions = Map::new();
        let (used, until) = (comp.blobs_used(), comp.reveal_deadline);
        for cid in used {
            self.store.release_ref(cid);
        }
        self.store.end_reservation(until, id);
        Ok(())
    }

    /// Scores finalists on the test set until they are all done or the next run would take
    /// the input over the budget. Runs start on batch boundaries, so an entry scored across
    /// several steps gets the very score one step would give. A step always makes progress:
    /// one run of every entry fits an input with its loading and the parsing of a largest
    /// dataset (checked when the entry was scored); should it not, the entry is dropped
    /// rather than stall the competition.
    fn finalize_step(
        &self,
        comp: &Competition,
        test: &TestSet,
        progress: &mut Finalizing,
        out: &mut Vec<Output>,
    ) -> Applied {
        let budget = self.config.max_input_work;
        let test_bytes = self.stored(test.cid, "test set")?;
        let data = Dataset::parse(&test_bytes, comp.limits.max_dataset_rows).map_err(|reason| {
            crate::Error::StoredBlobInvalid {
                what: "test set",
                cid: test.cid,
                reason,
            }
        })?;
        let mut used = cost::parse_work(test_bytes.len() as u64);
        let mut fresh = true;
        let pending: Vec<u64> = progress
            .entries
            .iter()
            .filter(|p| !progress.scores.contains_key(p))
            .copied()
            .collect();
        for p in pending {
            let sub = &comp.submissions[&p];
            let c = sub.cost;
            let first = progress
                .partial
                .as_ref()
                .filter(|part| part.priority == p)
                .map_or(0, |part| part.next_row);
            let left_runs = cost::runs(test.rows - first, c.run_batch);
            let room = budget.saturating_sub(used).saturating_sub(c.load_work);
            let runs = (room / c.work_per_run.max(1)).min(left_runs);
            if runs == 0 {
                if fresh {
                    progress.scores.insert(p, None);
                    progress.partial = None;
                    out.push(Output::Report(
                        format!(
                            "finalist {p} ({}) is dropped: one run of it does not fit an input's budget of {budget}",
                            sub.model_cid
                        )
                        .into_bytes(),
                    ));
                    continue;
                }
                break;
            }
            fresh = false;
            used = used
                .saturating_add(c.load_work)
                .saturating_add(runs.saturating_mul(c.work_per_run));
            let bytes = self.stored(sub.model_cid, "model")?;
            let model = Model::load(&bytes, &comp.limits).map_err(|reason| {
                crate::Error::StoredBlobInvalid {
                    what: "model",
                    cid: sub.model_cid,
                    reason,
                }
            })?;
            let end = (first + runs * c.run_batch).min(test.rows);
            let acc = match progress.partial.take().filter(|part| part.priority == p) {
                Some(part) => Ok(part.acc),
                None => eval::start(&model, &data, comp.metric),
            };
            let scored = acc.and_then(|mut acc| {
                eval::score_rows(&model, &data, &mut acc, first as usize, end as usize)?;
                Ok(acc)
            });
            match scored {
                Ok(acc) if end < test.rows => {
                    progress.partial = Some(Partial {
                        priority: p,
                        next_row: end,
                        acc,
                    });
                    break;
                }
                Ok(acc) => match acc.finish() {
                    Ok(score) => {
                        progress.scores.insert(p, Some(score.value_ppm));
                    }
                    Err(reason) => drop_finalist(progress, p, sub, &reason, out),
                },
                Err(reason) => drop_finalist(progress, p, sub, &reason, out),
            }
        }
        Ok(())
    }
}

/// `reward × bps / 10000`, rounded down, without overflow for any `reward`.
pub(crate) fn share(reward: U256, bps: u16) -> U256 {
    let (bps, whole) = (U256::from(bps), U256::from(BPS));
    reward / whole * bps + reward % whole * bps / whole
}

fn drop_finalist(
    progress: &mut Finalizing,
    p: u64,
    sub: &Submission,
    reason: &str,
    out: &mut Vec<Output>,
) {
    progress.scores.insert(p, None);
    out.push(Output::Report(
        format!(
            "finalist {p} ({}) is dropped: on the test set, {reason}",
            sub.model_cid
        )
        .into_bytes(),
    ));
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn epsilon_rule() {
        // priority, score; higher is better, ε = 10
        let e = [(1, 100), (2, 105), (3, 112), (4, 112)];
        // 3 displaces 1 (112 > 100 + 10); among the rest, 4 displaces 1 but 2 does not.
        assert_eq!(rank(&e, 10, true), vec![3, 4, 1, 2]);
        assert_eq!(rank(&e, 0, true), vec![3, 4, 2, 1]);
        // a tie goes to the earlier commit
        assert_eq!(rank(&[(9, 50), (4, 50)], 0, true), vec![4, 9]);
        // The documented case: 11 outranks the earlier 10, which never led.
        assert_eq!(rank(&[(1, 0), (2, 10), (3, 11)], 10, true), vec![3, 1, 2]);
        // lower is better
        assert_eq!(
            rank(&[(1, 500), (2, 495), (3, 480)], 10, false),
            vec![3, 1, 2]
        );
        assert!(!improves(110, 100, 10, true) && improves(111, 100, 10, true));
        assert!(!improves(90, 100, 10, false) && improves(89, 100, 10, false));
    }

    /// The leader by the declarative statement of the module documentation: the one entry
    /// `L` such that (a) no later entry improves on `L` by more than ε and (b) `L` is the
    /// earliest entry or improves by more than ε on the leader of the entries before it.
    /// Panics unless exactly one entry satisfies it.
    fn leader_by_statement(entries: &[(u64, u64)], eps: u32, higher: bool) -> u64 {
        let mut e = entries.to_vec();
        e.sort_unstable();
        // The leader of every prefix, each found by the statement itself.
        let mut prefix_leader: Vec<(u64, u64)> = Vec::new();
        for k in 1..=e.len() {
            let prefix = &e[..k];
            let found: Vec<(u64, u64)> = prefix
                .iter()
                .enumerate()
                .filter(|&(i, &(_, s))| {
                    let a = prefix[i + 1..]
                        .iter()
                        .all(|&(_, t)| !improves(t, s, eps, higher));
                    let b = i == 0 || improves(s, prefix_leader[i - 1].1, eps, higher);
                    a && b
                })
                .map(|(_, &x)| x)
                .collect();
            assert_eq!(
                found.len(),
                1,
                "the statement picks exactly one leader of {prefix:?}"
            );
            prefix_leader.push(found[0]);
        }
        prefix_leader[e.len() - 1].0
    }

    proptest! {
        #[test]
        fn rank_is_exactly_the_documented_statement(
            e in proptest::collection::btree_map(0u64..1000, 0u64..60, 1..25).prop_map(|m| m.into_iter().collect::<Vec<_>>()),
            eps in 0u32..20, higher in any::<bool>()
        ) {
            let ranked = rank(&e, eps, higher);
            let mut rest = e;
            for &p in &ranked {
                prop_assert_eq!(p, leader_by_statement(&rest, eps, higher));
                rest.retain(|x| x.0 != p);
            }
            prop_assert!(rest.is_empty());
        }

        #[test]
        fn rank_is_a_permutation_independent_of_input_order(
            mut e in proptest::collection::btree_map(any::<u64>(), 0u64..1000, 0..30).prop_map(|m| m.into_iter().collect::<Vec<_>>()),
            eps in 0u32..50, higher in any::<bool>(), seed in any::<u64>()
        ) {
            let first = rank(&e, eps, higher);
            let n = e.len();
            if n > 1 { e.rotate_left((seed as usize) % n); e.reverse(); }
            prop_assert_eq!(&rank(&e, eps, higher), &first);
            let mut sorted = first.clone();
            sorted.sort_unstable();
            let mut keys: Vec<u64> = e.iter().map(|x| x.0).collect();
            keys.sort_unstable();
            prop_assert_eq!(sorted, keys);
            // The leader is never improved on by more than ε by any later entry.
            if let Some(&lead) = first.first() {
                let ls = e.iter().find(|x| x.0 == lead).unwrap().1;
                for &(p, s) in &e {
                    if p > lead { prop_assert!(!improves(s, ls, eps, higher)); }
                }
            }
        }
    }
}
