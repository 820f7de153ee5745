//! The long-running node: replays its database into a fresh DApp, then polls L1, feeds
//! new inputs once they have `confirmations` blocks on top, claims every epoch that holds
//! inputs once the chain has moved past its last block, answers inspect queries between
//! inputs, and serves the query API ([`crate::query`]).

use crate::{
    Error, Result,
    machine::{DappCommand, HostMachine, MachineConfig},
    query::{self, AppInfo, InspectJob, QueryConfig},
    runner::Runner,
    store::Store,
};
use alloy::{
    primitives::Address,
    providers::{DynProvider, Provider},
    signers::local::PrivateKeySigner,
};
use crucible_chain::{
    app::{AppOnChain, app_on_chain},
    logs::LogReader,
};
use std::{
    future::Future,
    net::SocketAddr,
    path::PathBuf,
    time::{Duration, Instant},
};
use tokio::{
    net::TcpListener,
    sync::{mpsc, oneshot},
};

/// Everything the node needs to run.
#[derive(Debug, Clone)]
pub struct NodeConfig {
    /// L1 JSON-RPC endpoint.
    pub rpc: String,
    /// The application contract.
    pub app: Address,
    /// The InputBox.
    pub input_box: Address,
    /// The key that claims: the Authority's owner, or one of the Quorum's validators.
    /// Without it the node only checks: it re-executes, compares every claim on chain with
    /// its own roots, and proves outputs against the roots the consensus accepted.
    pub claimer: Option<PrivateKeySigner>,
    /// The SQLite database.
    pub db: PathBuf,
    /// How to start the DApp.
    pub dapp: DappCommand,
    /// Rollup API settings for the DApp child.
    pub machine: MachineConfig,
    /// Address of the query API (`127.0.0.1:0` picks a free port).
    pub http: SocketAddr,
    /// Blocks an input must have on top before it is processed.
    pub confirmations: u64,
    /// How often to poll L1.
    pub poll: Duration,
    /// First block to read for a new database; by default the application's deployment
    /// block.
    pub from_block: Option<u64>,
    /// The most blocks one `eth_getLogs` asks for (less once the endpoint refuses that many:
    /// [`LogReader`]).
    pub log_range: u64,
}

/// A started node.
#[derive(Debug)]
pub struct Node {
    http: SocketAddr,
    done: oneshot::Receiver<Result<()>>,
    stop: Option<oneshot::Sender<()>>,
    /// How long the replay of the stored inputs took, and how many there were.
    pub replay: (Duration, u64),
}

impl Node {
    /// The query API's address.
    pub const fn http_addr(&self) -> SocketAddr {
        self.http
    }

    /// Waits until the node stops: `Ok` after [`Node::stop`], the error that stopped it
    /// otherwise.
    pub async fn wait(&mut self) -> Result<()> {
        (&mut self.done)
            .await
            .unwrap_or_else(|_| Err(Error::Store("the node task vanished".into())))
    }

    /// Asks the node to stop after the current step.
    pub fn stop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

/// Starts the node: connects to L1, reads the application's consensus and epoch length,
/// replays the database into a fresh DApp (a divergence is an error), binds the query API
/// and spawns the main loop.
pub async fn start(config: NodeConfig) -> Result<Node> {
    let url = config
        .rpc
        .parse()
        .map_err(|e| Error::BadConfig(format!("bad RPC URL {}: {e}", config.rpc)))?;
    let provider = crucible_chain::provider(url, config.claimer.clone());
    let chain_id = provider.get_chain_id().await?;
    let AppOnChain {
        consensus,
        epoch_length,
        deployment_block,
        template_hash,
        data_availability,
        consensus_type,
    } = app_on_chain(&provider, config.app).await?;
    let input_box_block = u64::try_from(
        crucible_chain::devnet::IInputBox::new(config.input_box, &provider)
            .getDeploymentBlockNumber()
            .call()
            .await?,
    )
    .unwrap_or(0);
    let app_info = AppInfo {
        consensus,
        consensus_type,
        input_box: config.input_box,
        input_box_block,
        template_hash,
        data_availability,
        execution: execution_parameters(&config.machine),
    };
    let from_block = config.from_block.unwrap_or(deployment_block);

    let store = Store::open(&config.db)?;
    let mut machine_config = config.machine.clone();
    machine_config.accepted_outputs = 0;
    let machine = HostMachine::start(&config.dapp, machine_config).await?;
    let started = Instant::now();
    let runner = Runner::open(
        provider.clone(),
        config.app,
        config.input_box,
        machine,
        store,
        from_block,
    )
    .await?
    .with_log_reader(LogReader::new(config.log_range));
    let replay = (started.elapsed(), runner.inputs().len() as u64);

    let listener = TcpListener::bind(config.http).await?;
    let http = listener.local_addr()?;
    let (inspect_tx, inspect_rx) = mpsc::channel(16);
    let (stop_tx, stop_rx) = oneshot::channel();
    let (done_tx, done) = oneshot::channel();
    let (stop_http, http_stopped) = oneshot::channel::<()>();
    tokio::spawn(query::serve(
        listener,
        QueryConfig {
            app: config.app,
            chain_id,
            epoch_length,
            chain: app_info,
            started: chrono::Utc::now(),
        },
        Store::open(&config.db)?,
        inspect_tx,
        async move {
            let _ = http_stopped.await;
        },
    ));
    let main = MainLoop {
        runner,
        provider,
        consensus,
        epoch_length,
        claimer: config.claimer.as_ref().map(PrivateKeySigner::address),
        confirmations: config.confirmations,
        poll: config.poll,
    };
    tokio::spawn(async move {
        let result = main.run(inspect_rx, stop_rx).await;
        let _ = stop_http.send(());
        let _ = done_tx.send(result);
    });
    Ok(Node {
        http,
        done,
        stop: Some(stop_tx),
        replay,
    })
}

struct MainLoop {
    runner: Runner<DynProvider>,
    provider: DynProvider,
    consensus: Address,
    epoch_length: u64,
    claimer: Option<Address>,
    confirmations: u64,
    poll: Duration,
}

/// Errors that a later poll may not see again (the L1 endpoint hiccuped).
fn transient(e: &Error) -> bool {
    match e {
        Error::Chain(e) => e.is_transient(),
        Error::ClaimReverted { .. } => true,
        _ => false,
    }
}

/// Inputs processed between two looks at the inspect queue.
const INPUTS_PER_SLICE: usize = 8;

impl MainLoop {
    async fn run(
        mut self,
        mut inspects: mpsc::Receiver<InspectJob>,
        stop: impl Future<Output = Result<(), oneshot::error::RecvError>>,
    ) -> Result<()> {
        tokio::pin!(stop);
        let mut tick = tokio::time::interval(self.poll);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                biased;
                _ = &mut stop => return Ok(()),
                Some(job) = inspects.recv() => self.inspect(job).await?,
                _ = tick.tick() => match self.step(&mut inspects).await {
                    Ok(()) => {}
                    Err(e) if transient(&e) => tracing::warn!("L1: {e} (retrying)"),
                    Err(e) => return Err(e),
                },
            }
        }
    }

    /// Answers one inspect query through the DApp.
    async fn inspect(&mut self, job: InspectJob) -> Result<()> {
        let processed = self.runner.inputs().len() as u64;
        let answer = self.runner.inspect(job.payload).await;
        let dead = matches!(answer, Err(Error::DappDead(_)));
        let _ = job.reply.send(answer.map(|r| (r, processed)));
        if dead {
            return Err(Error::DappDead("during an inspect".into()));
        }
        Ok(())
    }

    /// Reads and processes every confirmed input (answering queued inspects every few
    /// inputs), then claims the epochs that are over.
    async fn step(&mut self, inspects: &mut mpsc::Receiver<InspectJob>) -> Result<()> {
        let latest = self.provider.get_block_number().await?;
        let safe = latest.saturating_sub(self.confirmations);
        tracing::debug!("step: head {latest}, reading to {safe}");
        while !self.runner.sync_step(safe, INPUTS_PER_SLICE).await? {
            while let Ok(job) = inspects.try_recv() {
                self.inspect(job).await?;
            }
        }
        if let Some(claimer) = self.claimer {
            self.claim_ended_epochs(claimer).await?;
        }
        self.runner.watch_consensus(self.consensus, latest).await?;
        Ok(())
    }

    /// Claims every epoch that holds inputs, is over, and is not claimed yet.
    async fn claim_ended_epochs(&mut self, claimer: Address) -> Result<()> {
        let last_claimed = self.runner.claims().last().map(|c| c.block);
        let mut ends: Vec<u64> = self
            .runner
            .inputs()
            .iter()
            .filter(|i| last_claimed.is_none_or(|c| i.block > c))
            .map(|i| (i.block / self.epoch_length + 1) * self.epoch_length - 1)
            .collect();
        ends.dedup();
        for end in ends {
            // Every input of the epoch must have been read (which also puts the chain past
            // the epoch's last block, as the consensus requires).
            if end >= self.runner.next_block() {
                break;
            }
            tracing::debug!("claiming the epoch that ends at block {end}");
            let claim = self.runner.claim(self.consensus, end, claimer).await?;
            tracing::info!(
                "claimed block {end}: root {}, {} outputs",
                claim.root,
                claim.outputs
            );
        }
        Ok(())
    }
}

/// The machine limits as the official node's `execution_parameters` name them. In host mode
/// nothing counts cycles and no deadline cuts an input short (the DApp bounds every input's
/// work before it runs): those limits are `u64::MAX`. Inspects run one at a time, in the
/// main loop.
fn execution_parameters(
    machine: &crate::machine::MachineConfig,
) -> crucible_api::ExecutionParameters {
    use crucible_api::{Quantity, SnapshotPolicy};
    let none = Quantity(u64::MAX);
    let now = chrono::Utc::now();
    crucible_api::ExecutionParameters {
        snapshot_policy: SnapshotPolicy::None,
        advance_inc_cycles: none,
        advance_max_cycles: none,
        inspect_inc_cycles: none,
        inspect_max_cycles: none,
        advance_inc_deadline: none,
        advance_max_deadline: none,
        inspect_inc_deadline: none,
        inspect_max_deadline: none,
        load_deadline: Quantity(
            u64::try_from(machine.ready_timeout.as_nanos()).unwrap_or(u64::MAX),
        ),
        store_deadline: none,
        fast_deadline: none,
        max_concurrent_inspects: 1,
        created_at: now,
        updated_at: now,
    }
}
