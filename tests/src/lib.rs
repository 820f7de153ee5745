//! Harness for the end-to-end tests: the workspace's binaries, anvil, and `crucible-node`
//! as a child process (started, killed with SIGKILL or stopped with SIGTERM, restarted)
//! with a client for its query API.

pub mod proxy;

use alloy::{providers::Provider, signers::local::PrivateKeySigner};
use crucible_api::NodeClient;
use crucible_chain::devnet::Anvil;
use serde_json::{Value, json};
use std::{
    io::{BufRead, BufReader, Write},
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    sync::{OnceLock, mpsc},
    time::{Duration, Instant},
};

/// The repository root.
pub fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// Says why a test did not run, on the real stderr (libtest captures `println!`).
pub fn skipped(why: &str) {
    let _ = writeln!(std::io::stderr(), "SKIPPED: {why}");
}

/// A tool installed by `npm ci` (anvil, forge).
pub fn tool(name: &str) -> Option<PathBuf> {
    let p = repo().join(format!(
        "node_modules/@foundry-rs/{name}-linux-amd64/bin/{name}"
    ));
    p.exists().then_some(p)
}

/// The workspace binaries the tests run.
#[derive(Debug, Clone)]
pub struct Bins {
    /// `crucible-node`.
    pub node: PathBuf,
    /// `crucible-dapp`.
    pub dapp: PathBuf,
    /// `crucible` (the CLI).
    pub cli: PathBuf,
}

/// Builds the workspace's binaries once per test process. The build selects the whole
/// workspace with all targets, the feature resolution of `cargo test --workspace`, so it
/// reuses the test build's artifacts.
pub fn bins() -> &'static Bins {
    static BINS: OnceLock<Bins> = OnceLock::new();
    BINS.get_or_init(|| {
        let status = Command::new(env!("CARGO"))
            .args(["build", "--quiet", "--workspace", "--all-targets"])
            .current_dir(repo())
            .status()
            .expect("cargo runs");
        assert!(status.success(), "building the workspace binaries failed");
        let target = std::env::var_os("CARGO_TARGET_DIR")
            .map_or_else(|| repo().join("target"), PathBuf::from)
            .join("debug");
        Bins {
            node: target.join("crucible-node"),
            dapp: target.join("crucible-dapp"),
            cli: target.join("crucible"),
        }
    })
}

/// anvil from `node_modules`, or `None` after printing why the test is skipped.
pub fn start_anvil() -> Option<Anvil> {
    let Some(bin) = tool("anvil") else {
        skipped("anvil not found under node_modules (run npm ci)");
        return None;
    };
    Some(Anvil::spawn(&bin).expect("anvil starts"))
}

/// The reward token's forge artifact, built with forge from `node_modules` if missing.
pub fn token_artifact() -> Option<PathBuf> {
    let artifact = repo().join("contracts/out/RewardToken.sol/RewardToken.json");
    if !artifact.exists() {
        let Some(forge) = tool("forge") else {
            skipped("forge not found under node_modules (run npm ci)");
            return None;
        };
        let status = Command::new(forge)
            .args(["build", "--use"])
            .arg(repo().join("contracts/solc-wrap.js"))
            .current_dir(repo().join("contracts"))
            .status()
            .expect("forge runs");
        assert!(status.success(), "forge build failed");
    }
    Some(artifact)
}

/// Whether the devnet's tools are here (anvil, and the reward token's artifact); says
/// `SKIPPED` with the reason when not.
pub fn devnet_tools() -> bool {
    if tool("anvil").is_none() {
        skipped("anvil not found under node_modules (run npm ci)");
        return false;
    }
    token_artifact().is_some()
}

/// A provider signing with `key`, once anvil answers.
pub async fn connect(anvil: &Anvil, key: &PrivateKeySigner) -> impl Provider + Clone + use<> {
    anvil
        .wait_ready(Duration::from_secs(10))
        .await
        .expect("anvil answers");
    crucible_chain::signing_provider(anvil.url().parse().expect("anvil URL"), key.clone())
}

/// Sends `addInput(app, payload)` to the InputBox at `input_box` and waits until it is mined
/// (a revert fails the test).
pub async fn add_input(
    provider: &impl Provider,
    input_box: alloy::primitives::Address,
    app: alloy::primitives::Address,
    payload: Vec<u8>,
) {
    use crucible_chain::Confirm;
    let receipt = crucible_chain::devnet::IInputBox::new(input_box, provider)
        .addInput(app, payload.into())
        .send()
        .await
        .expect("addInput sent")
        .confirmed()
        .await
        .expect("addInput mined");
    assert!(receipt.status(), "addInput reverted");
}

/// Runs `program args` and parses its stdout as one JSON document; panics with its
/// stderr if it fails.
pub fn run_json(program: &Path, args: &[&str]) -> Value {
    run_doc(program, args)
}

/// [`run_json`], read as the type the program writes (`crucible_cli::docs`,
/// `crucible_api::node`, `crucible_api::validate`).
pub fn run_doc<T: serde::de::DeserializeOwned>(program: &Path, args: &[&str]) -> T {
    let out = Command::new(program)
        .args(args)
        .current_dir(repo())
        .output()
        .expect("the command starts");
    assert!(
        out.status.success(),
        "{} {args:?} failed: {}",
        program.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "{} printed no JSON ({e}): {}",
            program.display(),
            String::from_utf8_lossy(&out.stdout)
        )
    })
}

/// The `ppid` and state fields of `/proc/<pid>/stat` (the command name may hold spaces).
fn proc_stat(pid: u32) -> Option<(char, u32)> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let mut rest = stat.get(stat.rfind(')')? + 2..)?.split(' ');
    let state = rest.next()?.chars().next()?;
    Some((state, rest.next()?.parse().ok()?))
}

/// Processes whose parent is `pid`.
fn children_of(pid: u32) -> Vec<u32> {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse().ok())
        .filter(|&p| proc_stat(p).is_some_and(|(_, parent)| parent == pid))
        .collect()
}

/// Whether `pid` is still running (a zombie waiting to be reaped counts as gone).
fn alive(pid: u32) -> bool {
    proc_stat(pid).is_some_and(|(state, _)| state != 'Z' && state != 'X')
}

/// What `crucible-node run` needs.
#[derive(Debug, Clone)]
pub struct NodeArgs {
    /// L1 endpoint.
    pub rpc: String,
    /// Application address.
    pub app: String,
    /// Claimer key.
    pub key: String,
    /// Database path.
    pub db: PathBuf,
    /// Blocks on top of an input before it is processed.
    pub confirmations: u64,
}

/// One JSON-RPC call to the node whose query API is at `url`; the whole answer.
pub async fn rpc_answer(client: &reqwest::Client, url: &str, method: &str, params: Value) -> Value {
    let answer = NodeClient::with_http(url, "", client.clone())
        .call_raw::<_, Value>(method, &params)
        .await
        .unwrap_or_else(|e| panic!("{method}: {e}"));
    serde_json::to_value(answer).expect("a JSON-RPC answer is JSON")
}

/// One JSON-RPC call to the node at `url` for the application `crucible`; returns
/// `result`, or panics with the error.
pub async fn rpc_at(url: &str, method: &str, mut params: Value) -> Value {
    params["application"] = json!("crucible");
    let answer = rpc_answer(&reqwest::Client::new(), url, method, params).await;
    answer
        .get("result")
        .cloned()
        .unwrap_or_else(|| panic!("{method} failed: {answer}"))
}

/// What one run of the `crucible` CLI printed, and its exit code.
#[derive(Debug)]
pub struct CliRun {
    /// The exit code (-1 if killed by a signal).
    pub code: i32,
    /// Its stdout.
    pub stdout: String,
    /// Its stderr.
    pub stderr: String,
}

/// Runs `crucible args --home home` from the repository root, with no `CRUCIBLE_*`
/// endpoint or key inherited from the environment.
pub fn crucible(home: &Path, args: &[&str]) -> CliRun {
    let out = Command::new(&bins().cli)
        .args(args)
        .arg("--home")
        .arg(home)
        .current_dir(repo())
        .env_remove("CRUCIBLE_RPC")
        .env_remove("CRUCIBLE_NODE")
        .env_remove("CRUCIBLE_APP")
        .env_remove("CRUCIBLE_KEY")
        .output()
        .expect("crucible runs");
    CliRun {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// Runs a `crucible` command that must succeed and print one JSON document.
pub fn crucible_json(home: &Path, args: &[&str]) -> Value {
    crucible_doc(home, args)
}

/// [`crucible_json`], read as the CLI's own document type (`crucible_cli::docs`).
pub fn crucible_doc<T: serde::de::DeserializeOwned>(home: &Path, args: &[&str]) -> T {
    let r = crucible(home, args);
    assert_eq!(r.code, 0, "crucible {args:?}: {}", r.stderr);
    serde_json::from_str(&r.stdout)
        .unwrap_or_else(|e| panic!("crucible {args:?} printed no JSON ({e}): {}", r.stdout))
}

/// `crucible-node run` as a child process; SIGKILLed when dropped.
#[derive(Debug)]
pub struct NodeProcess {
    child: Child,
    /// Base URL of its query API.
    pub url: String,
    /// Inputs it replayed from its database at start.
    pub replayed: u64,
    client: reqwest::Client,
}

impl NodeProcess {
    /// Starts the node with the workspace's DApp and waits for its ready line.
    pub fn start(args: &NodeArgs) -> Self {
        let bins = bins();
        let mut child = Command::new(&bins.node)
            .arg("run")
            .args(["--rpc", &args.rpc, "--app", &args.app, "--key", &args.key])
            .arg("--db")
            .arg(&args.db)
            .args(["--http", "127.0.0.1:0", "--poll-ms", "50"])
            .args(["--confirmations", &args.confirmations.to_string(), "--"])
            .arg(&bins.dapp)
            .stdout(Stdio::piped())
            .spawn()
            .expect("crucible-node starts");
        let stdout = child.stdout.take().expect("piped stdout");
        let (tx, rx) = mpsc::channel();
        // The first line is the ready line; the rest is drained for as long as the node
        // lives, so neither the node nor its DApp (which shares the pipe) ever writes into a
        // closed pipe.
        std::thread::spawn(move || {
            let mut lines = BufReader::new(stdout).lines();
            let first = lines.next().and_then(Result::ok).unwrap_or_default();
            let _ = tx.send(first);
            for line in lines.map_while(Result::ok) {
                eprintln!("crucible-node stdout: {line}");
            }
        });
        let line = rx
            .recv_timeout(Duration::from_secs(120))
            .expect("crucible-node printed its ready line");
        let ready: crucible_api::node::Serving = serde_json::from_str(&line).unwrap_or_else(|e| {
            let status = child.try_wait();
            panic!("crucible-node did not start ({e}, {status:?}): {line:?}")
        });
        Self {
            child,
            url: ready.http,
            replayed: ready.replayed_inputs,
            client: reqwest::Client::new(),
        }
    }

    /// The node's process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// `kill -9`: no chance to clean up. The node's DApp child must die with it (an orphan
    /// would keep scoring beside the restarted node's DApp): this waits up to 10 s for it.
    pub fn kill9(mut self) {
        let children = children_of(self.child.id());
        assert!(
            !children.is_empty(),
            "crucible-node runs its DApp as a child"
        );
        self.child.kill().expect("SIGKILL");
        let _ = self.child.wait();
        let started = Instant::now();
        for pid in children {
            while alive(pid) {
                assert!(
                    started.elapsed() < Duration::from_secs(10),
                    "the DApp (pid {pid}) outlived its SIGKILLed node"
                );
                std::thread::sleep(Duration::from_millis(20));
            }
        }
    }

    /// SIGTERM, then waits for a clean exit.
    pub fn terminate(mut self) -> std::process::ExitStatus {
        let status = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .expect("kill runs");
        assert!(status.success());
        self.child.wait().expect("the node exits")
    }

    /// One JSON-RPC call; returns `result`, or panics with the error.
    pub async fn rpc(&self, method: &str, params: Value) -> Value {
        let answer = self.rpc_raw(method, params).await;
        match answer.get("result") {
            Some(r) => r.clone(),
            None => panic!("{method} failed: {answer}"),
        }
    }

    /// One JSON-RPC call; the whole answer.
    pub async fn rpc_raw(&self, method: &str, params: Value) -> Value {
        rpc_answer(&self.client, &self.url, method, params).await
    }

    /// `GET path` → status and body.
    pub async fn get(&self, path: &str) -> (u16, Vec<u8>) {
        let r = self
            .client
            .get(format!("{}{path}", self.url))
            .send()
            .await
            .expect("the node answers");
        (r.status().as_u16(), r.bytes().await.expect("body").to_vec())
    }

    /// `POST path` with a raw body → status and JSON.
    pub async fn post(&self, path: &str, body: Vec<u8>) -> (u16, Value) {
        let r = self
            .client
            .post(format!("{}{path}", self.url))
            .body(body)
            .send()
            .await
            .expect("the node answers");
        let status = r.status().as_u16();
        let text = r.text().await.expect("body");
        (
            status,
            serde_json::from_str(&text).unwrap_or(Value::String(text)),
        )
    }

    /// Inputs the node has processed.
    pub async fn processed(&self, app: &str) -> u64 {
        self.api(app)
            .processed_input_count()
            .await
            .expect("cartesi_getProcessedInputCount")
    }

    /// Waits until the node has processed `n` inputs.
    pub async fn wait_processed(&self, app: &str, n: u64) {
        let started = Instant::now();
        loop {
            let count = self.processed(app).await;
            if count >= n {
                return;
            }
            assert!(
                started.elapsed() < Duration::from_secs(300),
                "the node processed {count} of {n} inputs in 300 s"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// The shared client of the node's API, for application `app`.
    pub fn api(&self, app: &str) -> NodeClient {
        NodeClient::with_http(&self.url, app, self.client.clone())
    }

    /// Every item of a `cartesi_list*` method, following the pagination.
    pub async fn list_all(&self, method: &str, app: &str) -> Vec<Value> {
        self.api(app)
            .walk(method, |page| {
                let mut params = serde_json::to_value(page).expect("page params");
                params["application"] = json!(app);
                params
            })
            .await
            .unwrap_or_else(|e| panic!("{method}: {e}"))
    }
}

impl Drop for NodeProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A `0x` hex quantity.
pub fn hex_u64(v: &Value) -> u64 {
    let s = v
        .as_str()
        .unwrap_or_else(|| panic!("not a hex string: {v}"));
    u64::from_str_radix(s.trim_start_matches("0x"), 16).expect("hex quantity")
}

/// `0x` hex bytes.
pub fn hex_bytes(v: &Value) -> Vec<u8> {
    alloy::primitives::hex::decode(v.as_str().expect("hex string")).expect("hex bytes")
}
