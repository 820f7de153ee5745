//! `crucible submit`: commit → upload → reveal, then wait for the score.

use crate::docs::Submitted;
use crate::{
    chain::notices,
    cmd::competition::{print, read},
    exit::invalid,
    secrets::{Secrets, SubmissionSecret, random_salt},
    session::{Global, Session},
};
use alloy_sol_types::SolCall;
use anyhow::Context;
use crucible_types::inspect::{CompetitionAnswer, LeaderboardEntry};
use crucible_types::{
    Cid,
    abi::{self, ICrucible, ICrucibleOutputsCalls},
};
use std::path::PathBuf;

/// Submit a model: commit, upload, reveal, and wait for the DApp's score.
///
/// The commit's input index is the submission's priority (earliest wins ties, and a later
/// entry must beat an earlier one by the competition's ε). The salt is kept in
/// <home>/secrets.json, so an interrupted submit resumes with the same commitment.
///
/// Example: crucible submit --competition 1 --model model.onnx --dev-account 2
#[derive(Debug, clap::Args)]
pub(crate) struct SubmitArgs {
    /// Competition id.
    #[arg(long)]
    competition: u64,
    /// The ONNX model.
    #[arg(long)]
    model: PathBuf,
}

impl SubmitArgs {
    pub(crate) async fn run(self, global: &Global) -> anyhow::Result<()> {
        let s = global.session(true).await?;
        let model = read(&self.model)?;
        let out = submit(&s, self.competition, &model).await?;
        print(&s, &out, || {
            println!(
                "scored: {} ppm ({} of {} correct), priority {}, rank {}",
                out.score_ppm,
                out.correct,
                out.samples,
                out.priority,
                out.rank.map_or_else(|| "-".to_string(), |r| r.to_string())
            );
        });
        Ok(())
    }
}

/// Submits `model` to competition `id`; returns the score notice's fields and the rank.
pub(crate) async fn submit(s: &Session, id: u64, model: &[u8]) -> anyhow::Result<Submitted> {
    let me = s.me()?;
    let competition: CompetitionAnswer = s.node.inspect(&format!("competition/{id}")).await?;
    let val_cid = competition.validation_cid;
    let deadline = competition.submission_deadline;
    let now = s.now().await?;
    if now >= deadline {
        return Err(invalid(format!(
            "competition {id} closed for submissions at {deadline} (chain time is {now})"
        ))
        .into());
    }
    let cid = Cid::of(model);

    // Reuse the salt of an interrupted submit of the same model, else draw one and keep it
    // before anything goes on chain.
    let mut secrets = Secrets::load(&s.home)?;
    let known = secrets
        .submissions
        .iter()
        .find(|x| {
            x.app == s.app
                && x.competition == id
                && x.sender == me
                && x.model_cid == cid.to_string()
        })
        .cloned();
    let salt = match &known {
        Some(k) => k.salt,
        None => {
            let salt = random_salt()?;
            secrets.submissions.push(SubmissionSecret {
                app: s.app,
                competition: id,
                sender: me,
                model_cid: cid.to_string(),
                salt,
            });
            secrets.save(&s.home)?;
            salt
        }
    };
    let commitment = abi::submission_commitment(&cid.to_bytes(), me, salt);
    let committed = competition.commitments.contains_key(&commitment);
    if !committed {
        let index = s
            .add_input(
                ICrucible::commitSubmissionCall {
                    competitionId: id,
                    commitment,
                }
                .abi_encode(),
            )
            .await?;
        s.say(format!(
            "committed (input {index}: its index is the submission's priority)"
        ));
        s.node.expect_accepted(index).await?;
    }
    s.upload(model, "model").await?;
    let index = s
        .add_input(
            ICrucible::submitCall {
                competitionId: id,
                modelCid: cid.to_bytes().into(),
                dataCid: val_cid.to_bytes().into(),
                salt,
            }
            .abi_encode(),
        )
        .await?;
    s.say(format!("revealed (input {index}); waiting for the score"));
    let p = s.node.expect_accepted(index).await?;
    let scored = notices(&p)
        .into_iter()
        .find_map(|n| match n {
            ICrucibleOutputsCalls::SubmissionScored(x) => Some(x),
            _ => None,
        })
        .with_context(|| format!("input {index} was accepted without a SubmissionScored notice"))?;
    // An entry that predicts what an earlier one does ranks as its copy and is not live.
    let copy_of = notices(&p).into_iter().find_map(|n| match n {
        ICrucibleOutputsCalls::SubmissionSuperseded(x) if x.loserPriority == scored.priority => {
            Some(x.winnerPriority)
        }
        _ => None,
    });
    let board: Vec<LeaderboardEntry> = s.node.inspect(&format!("leaderboard/{id}")).await?;
    let rank = board
        .iter()
        .find(|e| e.priority == scored.priority)
        .map(|e| e.rank);
    Ok(Submitted {
        competition_id: id,
        submitter: me,
        model_cid: cid,
        priority: scored.priority,
        score_ppm: scored.valuePpm,
        correct: scored.correct,
        samples: scored.samples,
        rank,
        copy_of,
        input_index: index,
    })
}
