//! A host-mode "machine": the rollup HTTP API plus the DApp as a child process. The node
//! hands it one request at a time and gets back what the DApp produced.

use crate::{
    Error, Result,
    rollup_api::{self, Job, RequestResult, RollupRequest, Shared, Status},
};
use std::{ffi::OsString, net::SocketAddr, process::Stdio, sync::Arc, time::Duration};
use tokio::{
    net::TcpListener,
    sync::{mpsc, oneshot, watch},
};

/// How to start the DApp.
#[derive(Debug, Clone)]
pub struct DappCommand {
    /// Program (the native `crucible-dapp`, or `qemu-riscv64`).
    pub program: OsString,
    /// Its arguments (for qemu: `-L <sysroot> <riscv64 binary>`).
    pub args: Vec<OsString>,
}

/// Machine settings.
#[derive(Debug, Clone)]
pub struct MachineConfig {
    /// Address of the rollup API (`127.0.0.1:0` picks a free port).
    pub listen: SocketAddr,
    /// How long `/finish` blocks before answering 202.
    pub finish_wait: Duration,
    /// How long the DApp may take to reach its first `/finish`.
    pub ready_timeout: Duration,
    /// Outputs of accepted inputs before this machine starts (the next output index).
    pub accepted_outputs: u64,
}

impl Default for MachineConfig {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], 0)),
            finish_wait: Duration::from_secs(10),
            ready_timeout: Duration::from_secs(60),
            accepted_outputs: 0,
        }
    }
}

/// The rollup API server and the DApp child. Dropping it kills the child.
pub struct HostMachine {
    jobs: mpsc::Sender<Job>,
    url: String,
    pid: Option<u32>,
    exited: watch::Receiver<Option<String>>,
    _kill: oneshot::Sender<()>,
    _stop_server: oneshot::Sender<()>,
    _shared: Arc<Shared>,
}

impl std::fmt::Debug for HostMachine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HostMachine")
            .field("url", &self.url)
            .finish_non_exhaustive()
    }
}

impl HostMachine {
    /// Binds the rollup API, starts the DApp with `ROLLUP_HTTP_SERVER_URL` pointing at it,
    /// and waits for its first `/finish`.
    pub async fn start(dapp: &DappCommand, config: MachineConfig) -> Result<Self> {
        let listener = TcpListener::bind(config.listen).await?;
        let url = format!("http://{}", listener.local_addr()?);
        let (jobs, rx) = mpsc::channel(1);
        let shared = Shared::new(rx, config.accepted_outputs, config.finish_wait);
        let mut ready = shared.finishes();
        let (stop_server, stopped) = oneshot::channel::<()>();
        tokio::spawn(rollup_api::serve(listener, shared.clone(), async move {
            let _ = stopped.await;
        }));

        let mut command = tokio::process::Command::new(&dapp.program);
        command
            .args(&dapp.args)
            .env("ROLLUP_HTTP_SERVER_URL", &url)
            .stdin(Stdio::null())
            .kill_on_drop(true);
        die_with_parent(&mut command);
        let mut child = command.spawn()?;
        let pid = child.id();
        let (exited_tx, exited) = watch::channel(None);
        let (kill, killed) = oneshot::channel::<()>();
        let watcher_shared = shared.clone();
        tokio::spawn(async move {
            tokio::select! {
                status = child.wait() => {
                    let why = match status {
                        Ok(s) => format!("dapp exited with {s}"),
                        Err(e) => format!("dapp lost: {e}"),
                    };
                    watcher_shared.fail_current(why.clone().into_bytes());
                    let _ = exited_tx.send(Some(why));
                }
                _ = killed => {
                    let _ = child.kill().await;
                }
            }
        });

        let machine = Self {
            jobs,
            url,
            pid,
            exited,
            _kill: kill,
            _stop_server: stop_server,
            _shared: shared,
        };
        tokio::select! {
            r = tokio::time::timeout(config.ready_timeout, ready.wait_for(|&n| n > 0)) => match r {
                Ok(Ok(_)) => Ok(machine),
                _ => Err(Error::NotReady(config.ready_timeout)),
            },
            why = death(machine.exited.clone()) => Err(Error::DappDead(why)),
        }
    }

    /// The rollup API's base URL.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The DApp process's id (to watch its memory, for instance).
    pub const fn dapp_pid(&self) -> Option<u32> {
        self.pid
    }

    /// Sends one request and waits for the DApp to finish it. An exception is returned as
    /// [`Status::Exception`] once; afterwards the machine refuses work.
    pub async fn process(&self, request: RollupRequest) -> Result<RequestResult> {
        if let Some(why) = self.exited.borrow().clone() {
            return Err(Error::DappDead(why));
        }
        let (reply, result) = oneshot::channel();
        self.jobs
            .send(Job { request, reply })
            .await
            .map_err(|_| Error::DappDead("rollup API stopped".into()))?;
        tokio::select! {
            r = result => r.map_err(|_| Error::DappDead("request dropped".into())),
            why = death(self.exited.clone()) => Err(Error::DappDead(why)),
        }
    }

    /// Whether the DApp has exited.
    pub fn is_dead(&self) -> bool {
        self.exited.borrow().is_some()
    }
}

/// Makes the DApp die with the node, however the node ends. `kill_on_drop` covers a clean
/// exit; after a SIGKILL nothing runs in the node, and an orphaned DApp would keep scoring
/// for minutes beside the restarted node's own DApp. On Linux the kernel sends SIGKILL to
/// the child when the thread that spawned it exits (a runtime worker, which lives as long as
/// the node).
#[cfg(target_os = "linux")]
fn die_with_parent(command: &mut tokio::process::Command) {
    let parent = std::process::id();
    // SAFETY: between fork and exec the closure only makes async-signal-safe system calls
    // (prctl, getppid, _exit) and allocates nothing.
    unsafe {
        command.pre_exec(move || {
            if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            // The node died before prctl took effect: the signal will never come.
            if libc::getppid() as u32 != parent {
                libc::_exit(1);
            }
            Ok(())
        });
    }
}

#[cfg(not(target_os = "linux"))]
fn die_with_parent(_command: &mut tokio::process::Command) {}

/// Resolves with the reason once the DApp has exited.
async fn death(mut exited: watch::Receiver<Option<String>>) -> String {
    match exited.wait_for(Option::is_some).await {
        Ok(why) => why.clone().unwrap_or_default(),
        Err(_) => "the DApp watcher stopped".into(),
    }
}

/// Whether a result may be committed (accepted, not an exception).
pub const fn is_accepted(result: &RequestResult) -> bool {
    matches!(result.status, Status::Accepted)
}
