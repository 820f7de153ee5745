//! The Cartesi machine's RAM must hold the DApp at its worst accepted inputs. Storage is
//! filled to the state's cap (192 MiB of blobs, every blob as large as allowed), then the
//! two evaluations that need the most memory and still pass every limit run on top: the
//! largest dataset (16 MiB, 100,000 rows) through a small model, and the largest model
//! (8 MiB, ~2 M parameters) through as many rows as the per-input work budget allows. The
//! DApp's peak resident memory is printed and must stay under the machine's RAM
//! (`cartesi.toml`, docs/DESIGN.md) with room for the kernel; with `CRUCIBLE_RISCV_DAPP`
//! the riscv64 build under qemu-user is measured too (qemu's own memory included, so an
//! upper bound of the guest's).

use crate::devnet_support::{dapp, patient, peak_rss_kib, repo, riscv_dapp};
use alloy_primitives::{Address, B256, address};
use alloy_sol_types::{SolCall, SolInterface};
use crucible_core::{
    Cid, Config,
    builder::{GraphBuilder, int},
    dataset::{self, DatasetFeatures, DatasetTargets},
};
use crucible_node::{
    machine::{DappCommand, HostMachine},
    rollup_api::{RollupRequest, Status},
};
use crucible_types::{
    AdvanceMeta,
    abi::{self, ICrucible, ICrucibleOutputsCalls, Outputs},
};
use std::time::Instant;

/// What the Linux kernel, the rollup HTTP server and the page cache keep for themselves in
/// the machine, at most.
const SYSTEM_MIB: u64 = 64;

const APP: Address = address!("0xab7528bb862fb57e8a2bcd567a2e929a0be56a5e");

/// The machine's RAM: `ram-length` of `cartesi.toml`, in MiB.
fn machine_ram_mib() -> u64 {
    let config = std::fs::read_to_string(repo().join("cartesi.toml")).expect("cartesi.toml");
    config
        .lines()
        .find_map(|l| l.trim().strip_prefix("ram-length"))
        .and_then(|v| v.trim().strip_prefix('='))
        .and_then(|v| v.trim().trim_matches('"').strip_suffix("Mi"))
        .and_then(|v| v.parse().ok())
        .expect("cartesi.toml sets ram-length in Mi")
}

fn sender(n: u8) -> Address {
    Address::repeat_byte(0x40 + n)
}

/// Bytes that no compressor or deduplication could shrink.
fn noise(len: usize, seed: u64) -> Vec<u8> {
    let mut x = seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 24) as u8
        })
        .collect()
}

/// The largest dataset: 100,000 rows of 155 byte features (16.3 MB with its labels).
fn big_dataset() -> Vec<u8> {
    let (rows, features) = (100_000usize, 155usize);
    let x = noise(rows * features, 7);
    let y: Vec<i64> = (0..rows as i64).map(|i| i % 2).collect();
    dataset::encode(
        &[rows, features],
        DatasetFeatures::U8(&x),
        &[rows],
        DatasetTargets::Labels(&y),
    )
    .expect("encodes")
}

fn small_model(features: usize, classes: usize) -> Vec<u8> {
    let mut b = GraphBuilder::new(&[features], None);
    let w = b.weights(&[classes, features]);
    let bias = b.weights(&[classes]);
    let y = b.node("Gemm", &["x", &w, &bias], vec![int("transB", 1)]);
    b.finish(&y)
}

/// The largest model: one Gemm of 1,000 → 1,990 (1,991,990 parameters, 7.97 MB), and the
/// 200 rows it may score within the per-input work budget.
fn big_model_and_data() -> (Vec<u8>, Vec<u8>) {
    let (features, classes, rows) = (1_000usize, 1_990usize, 200usize);
    let model = small_model(features, classes);
    let x = noise(rows * features, 11);
    let y: Vec<i64> = (0..rows as i64).map(|i| i % classes as i64).collect();
    let data = dataset::encode(
        &[rows, features],
        DatasetFeatures::U8(&x),
        &[rows],
        DatasetTargets::Labels(&y),
    )
    .expect("encodes");
    (model, data)
}

struct Feeder {
    machine: HostMachine,
    index: u64,
}

impl Feeder {
    /// Runs one advance; returns its status and outputs.
    async fn advance(
        &mut self,
        from: Address,
        payload: Vec<u8>,
    ) -> (Status, Vec<Vec<u8>>, Vec<Vec<u8>>) {
        let meta = AdvanceMeta {
            chain_id: 31337,
            app_contract: APP,
            msg_sender: from,
            block_number: 10 + self.index,
            block_timestamp: 1_800_000_000 + 12 * self.index,
            prev_randao: B256::ZERO,
            input_index: self.index,
        };
        self.index += 1;
        let r = self
            .machine
            .process(RollupRequest::Advance { meta, payload })
            .await
            .expect("the DApp answers");
        (r.status, r.outputs, r.reports)
    }

    async fn store(&mut self, from: Address, bytes: &[u8]) -> Cid {
        for call in abi::put_chunk_calls(bytes) {
            let (status, _, reports) = self.advance(from, call.abi_encode()).await;
            assert_eq!(
                status,
                Status::Accepted,
                "storing {} bytes for {from}: {:?}",
                bytes.len(),
                reports
                    .iter()
                    .map(|r| String::from_utf8_lossy(r))
                    .collect::<Vec<_>>()
            );
        }
        Cid::of(bytes)
    }

    async fn evaluate(&mut self, model: Cid, data: Cid) -> u64 {
        let call = ICrucible::evaluateCall {
            modelCid: model.to_bytes().into(),
            dataCid: data.to_bytes().into(),
            metric: abi::Metric::Accuracy,
        };
        let (status, outputs, reports) = self.advance(sender(0), call.abi_encode()).await;
        assert_eq!(
            status,
            Status::Accepted,
            "the evaluation passes every limit: {:?}",
            reports
                .iter()
                .map(|r| String::from_utf8_lossy(r))
                .collect::<Vec<_>>()
        );
        outputs
            .iter()
            .find_map(|o| {
                let n = Outputs::NoticeCall::abi_decode(o).ok()?;
                match ICrucibleOutputsCalls::abi_decode(&n.payload).ok()? {
                    ICrucibleOutputsCalls::Evaluated(e) => Some(e.valuePpm),
                    _ => None,
                }
            })
            .expect("an Evaluated notice")
    }

    fn peak_rss_mib(&self) -> u64 {
        let pid = self.machine.dapp_pid().expect("the DApp runs");
        peak_rss_kib(pid).expect("/proc reports the DApp's peak memory") >> 10
    }
}

/// Fills storage to the cap, runs both worst evaluations; returns the peak RSS in MiB after
/// the filling and after the evaluations.
async fn worst_case(dapp: &DappCommand, what: &str) -> (u64, u64) {
    let config = Config::default();
    let mut feeder = Feeder {
        machine: HostMachine::start(dapp, patient())
            .await
            .expect("the DApp starts"),
        index: 0,
    };
    let started = Instant::now();
    let big_data = big_dataset();
    let (big_model, few_rows) = big_model_and_data();
    let tiny = small_model(155, 2);
    let blob_cap = usize::try_from(config.max_blob_bytes).unwrap();
    let per_sender = config.max_bytes_per_sender;
    assert!(big_data.len() <= blob_cap && big_model.len() <= blob_cap);

    // The blobs the evaluations need, then noise blobs as large as allowed until the
    // state's storage cap is reached, spread over senders by their own cap.
    let mut used = [0u64; 16];
    let mut stored = 0u64;
    let mut next_sender = 0usize;
    let mut cids = Vec::new();
    let mut seed = 100;
    let mut wanted: Vec<Vec<u8>> = vec![big_data, big_model, few_rows, tiny];
    loop {
        let room = config.max_stored_bytes - stored;
        let blob = match wanted.pop() {
            Some(b) => b,
            None if room == 0 => break,
            None => {
                seed += 1;
                noise(blob_cap.min(usize::try_from(room).unwrap()), seed)
            }
        };
        let len = blob.len() as u64;
        while used[next_sender] + len > per_sender {
            next_sender += 1;
        }
        cids.push(feeder.store(sender(next_sender as u8), &blob).await);
        used[next_sender] += len;
        stored += len;
    }
    assert_eq!(stored, config.max_stored_bytes, "storage is full");
    let filled = feeder.peak_rss_mib();
    // One byte more is refused: the cap holds.
    let (status, _, _) = feeder
        .advance(sender(15), abi::put_chunk_calls(&[0x5a])[0].abi_encode())
        .await;
    assert_eq!(status, Status::Rejected, "a blob past the storage cap");

    let (big_data, big_model, few_rows, tiny) = (cids[3], cids[2], cids[1], cids[0]);
    feeder.evaluate(tiny, big_data).await;
    feeder.evaluate(big_model, few_rows).await;
    let peak = feeder.peak_rss_mib();
    println!(
        "{what}: {} inputs, {} MiB stored; peak RSS {filled} MiB once storage is full, {peak} MiB after the largest evaluations ({:.1} s)",
        feeder.index,
        stored >> 20,
        started.elapsed().as_secs_f64()
    );
    (filled, peak)
}

#[tokio::test(flavor = "multi_thread")]
async fn the_worst_accepted_inputs_fit_the_machine_ram() {
    let ram = machine_ram_mib();
    let (_, native) = worst_case(&dapp(), "native DApp").await;
    assert!(
        native + SYSTEM_MIB <= ram,
        "native peak {native} MiB + {SYSTEM_MIB} MiB for the system > {ram} MiB of RAM"
    );
    if let Some(rv) = riscv_dapp("the riscv64 DApp's peak memory") {
        let (_, riscv) = worst_case(&rv, "riscv64 DApp under qemu-user").await;
        assert!(
            riscv + SYSTEM_MIB <= ram,
            "riscv64 peak {riscv} MiB (qemu included) + {SYSTEM_MIB} MiB > {ram} MiB"
        );
    }
}
