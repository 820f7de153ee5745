//! `crucible validate`: replay an application's whole input history from L1 in a fresh DApp,
//! recompute every epoch's outputs root, and hold every claim the consensus logged against
//! it; with `--against`, compare output by output with another node and name the first
//! divergence.

use crate::{
    exit::Exit,
    session::{Global, Session},
};
use alloy::{
    primitives::{Address, B256},
    providers::Provider,
};
use anyhow::Context;
use crucible_node::{
    logs::LogReader,
    machine::{DappCommand, HostMachine, MachineConfig},
    runner::{AppOnChain, Runner, app_on_chain, consensus_logs},
    store::Store,
};
use crucible_types::abi::{ICrucibleOutputsCalls, Outputs};
use serde::Serialize;
use std::{ffi::OsString, time::Duration, time::Instant};

/// Replay the chain in a fresh DApp and check every claim against the recomputed roots.
///
/// Reads every input of the application from the InputBox, runs it through a new DApp
/// (the native `crucible-dapp` beside this binary, or the command after `--`, e.g.
/// `-- qemu-riscv64-static crucible-dapp` for the riscv64 build), and prints per epoch each
/// root claimed on chain (with its claimer), the recomputed root, and whether they agree.
/// With --against it also compares every output with that node's and names the first
/// input and output where they differ. Exits 5 on any divergence.
#[derive(Debug, clap::Args)]
pub(crate) struct ValidateArgs {
    /// Another node's query API to compare with, output by output.
    #[arg(long, value_name = "NODE_URL")]
    against: Option<String>,
    /// The most blocks one eth_getLogs asks for (halved whenever the endpoint refuses).
    #[arg(long, default_value_t = crucible_node::logs::DEFAULT_LOG_RANGE)]
    log_range: u64,
    /// The DApp command (default: `crucible-dapp` beside this binary).
    #[arg(last = true)]
    dapp: Vec<OsString>,
}

/// One claim on chain, as `crucible validate` shows it.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct ClaimRow {
    validator: Address,
    root: B256,
    agrees: bool,
}

/// Where two histories part: the first output that differs.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct Divergence {
    /// The input that produced it.
    pub(crate) input: u64,
    /// The output's global index.
    pub(crate) output: u64,
    /// This replay's output, decoded.
    pub(crate) here: String,
    /// The other node's, decoded.
    pub(crate) there: String,
}

/// One epoch's verdict.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct EpochRow {
    epoch: u64,
    last_block: u64,
    claims: Vec<ClaimRow>,
    accepted_root: Option<B256>,
    recomputed_root: B256,
    ok: bool,
    first_divergence: Option<Divergence>,
}

/// A readable account of an output's rollup encoding: the Crucible notice it carries, or
/// the voucher's destination.
pub(crate) fn describe(output: &[u8]) -> String {
    use alloy::sol_types::{SolCall, SolInterface};
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

fn short(h: &B256) -> String {
    let s = h.to_string();
    format!("{}…{}", &s[..10], &s[s.len() - 4..])
}

/// What a replay found.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct Report {
    application: Address,
    consensus: Address,
    head: u64,
    dapp: String,
    pub(crate) inputs: u64,
    replay_s: f64,
    pub(crate) inputs_per_s: f64,
    pub(crate) epochs: Vec<EpochRow>,
    /// A divergence after every epoch's inputs (in outputs not yet in a closed epoch).
    unplaced_divergence: Option<Divergence>,
    pub(crate) ok: bool,
}

impl Report {
    /// The validators whose claims differ from the replay.
    pub(crate) fn faulty(&self) -> std::collections::BTreeSet<Address> {
        self.epochs
            .iter()
            .flat_map(|r| r.claims.iter().filter(|c| !c.agrees).map(|c| c.validator))
            .collect()
    }

    /// The first divergence from the other node, if any.
    pub(crate) fn first_divergence(&self) -> Option<&Divergence> {
        self.epochs
            .iter()
            .find_map(|r| r.first_divergence.as_ref())
            .or(self.unplaced_divergence.as_ref())
    }

    fn print(&self) {
        println!(
            "replayed {} inputs in {:.2} s ({:.1} inputs/s) with {}; consensus {}",
            self.inputs, self.replay_s, self.inputs_per_s, self.dapp, self.consensus
        );
        for r in &self.epochs {
            println!(
                "epoch {} (last block {}): recomputed {}{}",
                r.epoch,
                r.last_block,
                short(&r.recomputed_root),
                match r.accepted_root {
                    Some(a) if a == r.recomputed_root => ", accepted on chain".to_string(),
                    Some(a) => format!(", but the consensus ACCEPTED {}", short(&a)),
                    None => String::new(),
                }
            );
            for c in &r.claims {
                println!(
                    "  {} claimed {}  {}",
                    c.validator,
                    short(&c.root),
                    if c.agrees { "agrees" } else { "DIFFERS" }
                );
            }
            if let Some(d) = &r.first_divergence {
                print_divergence(d);
            }
        }
        if let Some(d) = &self.unplaced_divergence {
            print_divergence(d);
        }
        if self.ok {
            println!("every claim agrees with the replay");
        } else {
            let faulty: Vec<String> = self.faulty().iter().map(Address::to_string).collect();
            println!(
                "DIVERGENCE: claims that differ from the replay come from {}",
                if faulty.is_empty() {
                    "nobody (the other node differs)".to_string()
                } else {
                    faulty.join(", ")
                }
            );
        }
    }
}

impl ValidateArgs {
    pub(crate) async fn run(self, global: &Global) -> anyhow::Result<()> {
        let s = global.chain_session().await?;
        let logs = LogReader::new(self.log_range);
        let report = check(&s, &logs, &self.dapp, self.against.as_deref()).await?;
        if global.json {
            println!("{}", serde_json::to_string(&report)?);
        } else {
            report.print();
        }
        if report.ok {
            return Ok(());
        }
        let bad: Vec<String> = report
            .epochs
            .iter()
            .filter(|r| !r.ok)
            .map(|r| r.epoch.to_string())
            .collect();
        Err(Exit::Diverged(format!(
            "the replay disagrees in epoch(s) {}",
            if bad.is_empty() {
                "after the last one".into()
            } else {
                bad.join(", ")
            }
        ))
        .into())
    }
}

/// Replays the application of `s` in a fresh DApp (`dapp`, or the native one) and holds
/// every claim on chain, and the node at `against` if given, against the replay.
pub(crate) async fn check(
    s: &Session,
    logs: &LogReader,
    dapp: &[OsString],
    against: Option<&str>,
) -> anyhow::Result<Report> {
    let AppOnChain {
        consensus,
        epoch_length,
        deployment_block: from,
        ..
    } = app_on_chain(&s.provider, s.app).await?;
    let head = s.provider.get_block_number().await?;

    let (dapp, config) = match dapp.split_first() {
        Some((program, args)) => (
            DappCommand {
                program: program.clone(),
                args: args.to_vec(),
            },
            // Another DApp may be an emulated one: give it time.
            MachineConfig {
                finish_wait: Duration::from_secs(600),
                ready_timeout: Duration::from_secs(120),
                ..MachineConfig::default()
            },
        ),
        None => (
            DappCommand {
                program: crate::cmd::devnet::sibling("crucible-dapp")?.into(),
                args: vec![],
            },
            MachineConfig::default(),
        ),
    };
    let described = std::iter::once(&dapp.program)
        .chain(&dapp.args)
        .map(|a| a.to_string_lossy().into_owned())
        .collect::<Vec<_>>()
        .join(" ");
    s.say(format!(
        "replaying blocks {from}..={head} of {} in a fresh DApp ({described})",
        s.app
    ));
    let started = Instant::now();
    let machine = HostMachine::start(&dapp, config)
        .await
        .context("starting the DApp")?;
    let mut runner = Runner::open(
        s.provider.clone(),
        s.app,
        s.input_box,
        machine,
        Store::in_memory()?,
        from,
    )
    .await?
    .with_log_reader(logs.clone());
    runner.sync(head).await.context("replaying the inputs")?;
    let replay = started.elapsed();
    let inputs = runner.inputs().len() as u64;

    let (claims, accepted) =
        consensus_logs(&s.provider, logs, consensus, s.app, from, head).await?;

    let divergence = match against {
        Some(url) => first_divergence(&runner, url, s.app).await?,
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
        application: s.app,
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

fn print_divergence(d: &Divergence) {
    println!(
        "  first divergence: input {} output {}\n    here:  {}\n    there: {}",
        d.input, d.output, d.here, d.there
    );
}

/// The first output where the replay and the node at `url` differ, if any.
async fn first_divergence<P: Provider>(
    runner: &Runner<P>,
    url: &str,
    app: Address,
) -> anyhow::Result<Option<Divergence>> {
    let other = crate::node_api::NodeApi::new(url, app, false);
    let theirs = other.outputs().await?;
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
