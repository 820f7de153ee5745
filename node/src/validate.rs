//! Validation from L1 alone: replay an application's whole input history in a fresh DApp,
//! recompute every epoch's outputs root, and hold every claim its consensus logged (and,
//! optionally, another node's outputs) against the replay. `crucible-node validate` runs it;
//! `crucible validate` runs that.

use crate::{
    Error, Result,
    machine::{DappCommand, HostMachine, MachineConfig},
    runner::Runner,
    store::Store,
};
use alloy::{
    primitives::Address,
    providers::Provider,
    sol_types::{SolCall, SolInterface},
};
use crucible_api::{
    NodeClient,
    rpc::ListOutputsParams,
    validate::{ClaimRow, Divergence, EpochRow, Report},
};
use crucible_chain::{
    app::{AppOnChain, app_on_chain, consensus_logs},
    logs::LogReader,
};
use crucible_types::abi::{ICrucibleOutputsCalls, Outputs};
use std::time::Instant;

/// What to replay, and with what.
#[derive(Debug, Clone)]
pub struct ValidateConfig {
    /// The application.
    pub app: Address,
    /// Its InputBox.
    pub input_box: Address,
    /// The DApp that replays it.
    pub dapp: DappCommand,
    /// How the DApp is run.
    pub machine: MachineConfig,
    /// Another node's query API to compare with, output by output.
    pub against: Option<String>,
}

/// Replays `config.app` up to the chain's head in a fresh DApp and holds every claim on
/// chain, and the node at `config.against` if given, against the replay.
pub async fn validate<P: Provider + Clone>(
    provider: P,
    logs: &LogReader,
    config: ValidateConfig,
) -> Result<Report> {
    let app = config.app;
    let AppOnChain {
        consensus,
        epoch_length,
        deployment_block: from,
        ..
    } = app_on_chain(&provider, app).await?;
    let head = provider.get_block_number().await?;
    let described = std::iter::once(&config.dapp.program)
        .chain(&config.dapp.args)
        .map(|a| a.to_string_lossy().into_owned())
        .collect::<Vec<_>>()
        .join(" ");
    tracing::info!("replaying blocks {from}..={head} of {app} in a fresh DApp ({described})");
    let started = Instant::now();
    let machine = HostMachine::start(&config.dapp, config.machine).await?;
    let mut runner = Runner::open(
        provider.clone(),
        app,
        config.input_box,
        machine,
        Store::in_memory()?,
        from,
    )
    .await?
    .with_log_reader(logs.clone());
    runner.sync(head).await?;
    let replay = started.elapsed();
    let inputs = runner.inputs().len() as u64;

    let (claims, accepted) = consensus_logs(&provider, logs, consensus, app, from, head).await?;

    let divergence = match &config.against {
        Some(url) => first_divergence(&runner, url, app).await?,
        None => None,
    };
    let divergent_input = divergence.as_ref().map(|d| d.input);
    let end_of = |block: u64| (block / epoch_length + 1) * epoch_length - 1;
    let mut ends: Vec<u64> = runner
        .inputs()
        .iter()
        .map(|i| end_of(i.block))
        .chain(claims.iter().map(|c| c.block))
        .filter(|b| *b < head)
        .collect();
    ends.sort_unstable();
    ends.dedup();
    let mut rows = Vec::new();
    let mut divergence_left = divergence;
    for last_block in ends {
        let (root, _) = runner.root_at(last_block);
        let here: Vec<ClaimRow> = claims
            .iter()
            .filter(|c| c.block == last_block)
            .map(|c| ClaimRow {
                validator: c.submitter,
                root: c.root,
                agrees: c.root == root,
            })
            .collect();
        let accepted_root = accepted
            .iter()
            .find(|a| a.block == last_block)
            .map(|a| a.root);
        // The divergence belongs to the epoch that holds its input.
        let owns_divergence = divergent_input.is_some_and(|input| {
            runner
                .inputs()
                .get(input as usize)
                .is_some_and(|i| end_of(i.block) == last_block)
        });
        let first_divergence = if owns_divergence {
            divergence_left.take()
        } else {
            None
        };
        let ok = here.iter().all(|c| c.agrees)
            && accepted_root.is_none_or(|a| a == root)
            && first_divergence.is_none();
        rows.push(EpochRow {
            epoch: last_block / epoch_length,
            last_block,
            claims: here,
            accepted_root,
            recomputed_root: root,
            ok,
            first_divergence,
        });
    }
    // A divergence past every epoch (the other node is ahead or behind).
    let unplaced_divergence = divergence_left;
    let ok = rows.iter().all(|r| r.ok) && unplaced_divergence.is_none();
    Ok(Report {
        application: app,
        consensus,
        head,
        dapp: described,
        inputs,
        replay_s: replay.as_secs_f64(),
        inputs_per_s: inputs as f64 / replay.as_secs_f64().max(1e-9),
        epochs: rows,
        unplaced_divergence,
        ok,
    })
}

/// The first output where the replay and the node at `url` differ, if any.
async fn first_divergence<P: Provider>(
    runner: &Runner<P>,
    url: &str,
    app: Address,
) -> Result<Option<Divergence>> {
    let theirs = NodeClient::new(url, app.to_string())
        .outputs(&ListOutputsParams::default())
        .await
        .map_err(Error::OtherNode)?;
    let ours = runner.outputs();
    let input_of = |index: u64| {
        runner
            .inputs()
            .iter()
            .find(|i| {
                i.outputs > 0 && (i.first_output..i.first_output + i.outputs).contains(&index)
            })
            .map(|i| i.index)
    };
    // Only what both have processed: a node that is behind has not diverged.
    for index in 0..ours.len().min(theirs.len()) {
        let here = ours.get(index);
        let there = theirs.get(index).map(|o| o.raw_data.to_vec());
        if here.map(Vec::as_slice) == there.as_deref() {
            continue;
        }
        let input = match (input_of(index as u64), theirs.get(index)) {
            (Some(i), _) => i,
            (None, Some(o)) => o.input_index.get(),
            (None, None) => 0,
        };
        return Ok(Some(Divergence {
            input,
            output: index as u64,
            here: here.map_or_else(|| "no such output".into(), |o| describe(o)),
            there: there.map_or_else(|| "no such output".into(), |o| describe(&o)),
        }));
    }
    Ok(None)
}

/// A readable account of an output's rollup encoding: the Crucible notice it carries, or
/// the voucher's destination.
pub fn describe(output: &[u8]) -> String {
    if let Ok(v) = Outputs::VoucherCall::abi_decode(output) {
        return format!(
            "Voucher to {} ({} bytes of call data)",
            v.destination,
            v.payload.len()
        );
    }
    let Ok(notice) = Outputs::NoticeCall::abi_decode(output) else {
        return format!("an undecodable output of {} bytes", output.len());
    };
    match ICrucibleOutputsCalls::abi_decode(&notice.payload) {
        Ok(ICrucibleOutputsCalls::SubmissionScored(s)) => format!(
            "SubmissionScored competition {}: {} ppm ({} of {} correct), submitter {}",
            s.competitionId, s.valuePpm, s.correct, s.samples, s.submitter
        ),
        Ok(ICrucibleOutputsCalls::CompetitionFinalized(f)) => format!(
            "CompetitionFinalized competition {}: winners {:?}, scores {:?} ppm",
            f.competitionId, f.winners, f.scoresPpm
        ),
        Ok(ICrucibleOutputsCalls::Evaluated(e)) => {
            format!(
                "Evaluated: {} ppm ({} of {} correct)",
                e.valuePpm, e.correct, e.samples
            )
        }
        Ok(other) => format!("{} notice", notice_name(&other)),
        Err(_) => format!("a notice of {} bytes", notice.payload.len()),
    }
}

fn notice_name(call: &ICrucibleOutputsCalls) -> &'static str {
    match call {
        ICrucibleOutputsCalls::BlobStored(_) => "BlobStored",
        ICrucibleOutputsCalls::BlobReleased(_) => "BlobReleased",
        ICrucibleOutputsCalls::Deposited(_) => "Deposited",
        ICrucibleOutputsCalls::CompetitionCreated(_) => "CompetitionCreated",
        ICrucibleOutputsCalls::SubmissionCommitted(_) => "SubmissionCommitted",
        ICrucibleOutputsCalls::SubmissionScored(_) => "SubmissionScored",
        ICrucibleOutputsCalls::SubmissionSuperseded(_) => "SubmissionSuperseded",
        ICrucibleOutputsCalls::TestSetRevealed(_) => "TestSetRevealed",
        ICrucibleOutputsCalls::CompetitionFinalized(_) => "CompetitionFinalized",
        ICrucibleOutputsCalls::Evaluated(_) => "Evaluated",
        ICrucibleOutputsCalls::Withdrawn(_) => "Withdrawn",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloy::primitives::{Bytes, U256};

    #[test]
    fn outputs_are_described_by_what_they_carry() {
        let voucher = Outputs::VoucherCall {
            destination: Address::repeat_byte(7),
            value: U256::ZERO,
            payload: Bytes::from(vec![0; 68]),
        }
        .abi_encode();
        assert_eq!(
            describe(&voucher),
            format!(
                "Voucher to {} (68 bytes of call data)",
                Address::repeat_byte(7)
            )
        );
        assert_eq!(describe(&[1, 2, 3]), "an undecodable output of 3 bytes");
        let notice = Outputs::NoticeCall {
            payload: Bytes::from(vec![9; 5]),
        }
        .abi_encode();
        assert_eq!(describe(&notice), "a notice of 5 bytes");
    }
}
