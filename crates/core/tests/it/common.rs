//! A harness that feeds inputs to a `State` the way the rollup does: every input, accepted
//! or rejected, takes the next input index; time comes from the harness clock.

use alloy_primitives::{Address, B256, Bytes, U256, address};
use alloy_sol_types::{SolCall, SolInterface};
use crucible_core::{AdvanceMeta, Cid, Outcome, Output, State, abi};
use crucible_types::{
    Deposit,
    abi::{ICrucible, ICrucibleOutputs::ICrucibleOutputsCalls},
    rollup::{ERC20_PORTAL, ETHER_PORTAL},
};
use std::path::PathBuf;

pub(crate) const APP: Address = address!("0xab7528bb862fb57e8a2bcd567a2e929a0be56a5e");
pub(crate) const TOKEN: Address = address!("0x5fbdb2315678afecb367f032d93f642f64180aa3");
pub(crate) const SPONSOR: Address = address!("0x70997970c51812dc3a010c7d01b50e0d17dc79c8");
pub(crate) const ALICE: Address = address!("0x3c44cdddb6a900fa2b585dd299e03d12fa4293bc");
pub(crate) const BOB: Address = address!("0x90f79bf6eb2c4f870365e785982e1f101e93b906");
pub(crate) const CAROL: Address = address!("0x15d34aaf54267db7d7c367839aaf71a00a2c6a65");
pub(crate) const START: u64 = 1_800_000_000;

pub(crate) fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

pub(crate) fn read(rel: &str) -> Vec<u8> {
    let p = repo().join(rel);
    std::fs::read(&p).unwrap_or_else(|e| panic!("reading {}: {e}", p.display()))
}

pub(crate) fn manifest(model: &str) -> serde_json::Value {
    serde_json::from_slice(&read(&format!("models/{model}/MANIFEST.json")))
        .expect("MANIFEST.json parses")
}

/// The sponsor's baseline and the two trainers' models of the demo.
pub(crate) const BASELINES: [&str; 3] = ["mlp-baseline", "mlp", "cnn"];

/// Every committed model: the baselines, and those exported with the operators exporters
/// commonly end in (Softmax, LogSoftmax, GELU's Erf, Sigmoid, Tanh, Clip, average pooling,
/// a mean over the image).
pub(crate) const MODELS: [&str; 6] = [
    "mlp-baseline",
    "mlp",
    "cnn",
    "mlp-gelu-softmax",
    "mlp-sigmoid-logsoftmax",
    "cnn-avgpool",
];

pub(crate) fn model(name: &str) -> Vec<u8> {
    read(&format!("models/{name}/model.onnx"))
}

pub(crate) fn val_set() -> Vec<u8> {
    read("data/fashion-mnist/val-1k.safetensors")
}

pub(crate) fn test_set() -> Vec<u8> {
    read("data/fashion-mnist/test-1k.safetensors")
}

pub(crate) struct Harness {
    pub(crate) state: State,
    pub(crate) next_index: u64,
    pub(crate) now: u64,
}

impl Harness {
    pub(crate) fn new() -> Self {
        Self::with_config(crucible_core::Config::default())
    }

    pub(crate) fn with_config(config: crucible_core::Config) -> Self {
        Self {
            state: State::new(config),
            next_index: 0,
            now: START,
        }
    }

    pub(crate) fn meta(&self, sender: Address) -> AdvanceMeta {
        AdvanceMeta {
            chain_id: 31337,
            app_contract: APP,
            msg_sender: sender,
            block_number: 100 + self.next_index,
            block_timestamp: self.now,
            prev_randao: B256::with_last_byte(self.next_index as u8),
            input_index: self.next_index,
        }
    }

    pub(crate) fn send(&mut self, sender: Address, payload: &[u8]) -> Outcome {
        let meta = self.meta(sender);
        self.next_index += 1;
        self.now += 12;
        self.state
            .advance(&meta, payload)
            .expect("no invariant breaks")
    }

    /// Sends an input that must be rejected, checks that the state did not change, and
    /// returns the reason.
    pub(crate) fn reject(&mut self, sender: Address, payload: &[u8]) -> String {
        let before = self.state.state_hash().unwrap();
        let outcome = self.send(sender, payload);
        let after = self.state.state_hash().unwrap();
        match outcome {
            Outcome::Rejected { reason } => {
                assert_eq!(before, after, "rejected input changed the state: {reason}");
                reason.to_string()
            }
            Outcome::Accepted { outputs } => panic!("expected a rejection, got {outputs:?}"),
        }
    }

    pub(crate) fn accept(&mut self, sender: Address, payload: &[u8]) -> Vec<Output> {
        match self.send(sender, payload) {
            Outcome::Accepted { outputs } => outputs,
            Outcome::Rejected { reason } => panic!("expected acceptance, got rejection: {reason}"),
        }
    }

    pub(crate) fn upload(&mut self, sender: Address, bytes: &[u8]) -> Cid {
        let cid = Cid::of(bytes);
        let mut stored = false;
        for call in abi::put_chunk_calls(bytes) {
            let outputs = self.accept(sender, &call.abi_encode());
            stored |= notices(&outputs).iter().any(|n| matches!(n, ICrucibleOutputsCalls::BlobStored(b) if b.cid.as_ref() == cid.to_bytes()));
        }
        assert!(stored, "no BlobStored notice for {cid}");
        cid
    }

    pub(crate) fn erc20_deposit(&mut self, from: Address, amount: U256, exec: Vec<u8>) -> Outcome {
        let d = Deposit {
            token: TOKEN,
            sender: from,
            amount,
            exec_layer_data: exec,
        };
        self.send(ERC20_PORTAL, &d.encode())
    }

    pub(crate) fn ether_deposit(&mut self, from: Address, amount: U256, exec: Vec<u8>) -> Outcome {
        let d = Deposit {
            token: crucible_types::rollup::ETHER,
            sender: from,
            amount,
            exec_layer_data: exec,
        };
        self.send(ETHER_PORTAL, &d.encode())
    }

    pub(crate) fn inspect(&self, path: &str) -> serde_json::Value {
        let out = self.state.inspect(path.as_bytes()).unwrap();
        let [Output::Report(json)] = out.as_slice() else {
            panic!("one report expected")
        };
        serde_json::from_slice(json).unwrap()
    }

    pub(crate) fn commit(&mut self, who: Address, competition: u64, model: Cid, salt: B256) -> u64 {
        let priority = self.next_index;
        let commitment = abi::submission_commitment(&model.to_bytes(), who, salt);
        let out = self.accept(
            who,
            &ICrucible::commitSubmissionCall {
                competitionId: competition,
                commitment,
            }
            .abi_encode(),
        );
        assert!(
            matches!(notices(&out)[..], [ICrucibleOutputsCalls::SubmissionCommitted(ref c)] if c.priority == priority)
        );
        priority
    }

    pub(crate) fn submit_call(competition: u64, model: Cid, data: Cid, salt: B256) -> Vec<u8> {
        ICrucible::submitCall {
            competitionId: competition,
            modelCid: model.to_bytes().into(),
            dataCid: data.to_bytes().into(),
            salt,
        }
        .abi_encode()
    }
}

pub(crate) fn notices(outputs: &[Output]) -> Vec<ICrucibleOutputsCalls> {
    outputs
        .iter()
        .filter_map(|o| match o {
            Output::Notice(n) => {
                Some(ICrucibleOutputsCalls::abi_decode(n).expect("notices decode"))
            }
            _ => None,
        })
        .collect()
}

pub(crate) fn reports(outputs: &[Output]) -> Vec<String> {
    outputs
        .iter()
        .filter_map(|o| match o {
            Output::Report(r) => Some(String::from_utf8_lossy(r).into_owned()),
            _ => None,
        })
        .collect()
}

pub(crate) fn salt(n: u8) -> B256 {
    B256::repeat_byte(n)
}

pub(crate) fn default_limits() -> abi::ModelLimits {
    crucible_core::Limits::default().to_abi()
}

pub(crate) struct SpecBuilder(pub(crate) abi::CompetitionSpec);

impl SpecBuilder {
    pub(crate) fn new(validation: Cid, test_commitment: B256, now: u64) -> Self {
        Self(abi::CompetitionSpec {
            validationCid: validation.to_bytes().into(),
            baselineCid: Bytes::new(),
            testCommitment: test_commitment,
            metric: abi::Metric::Accuracy,
            submissionDeadline: now + 3_600,
            revealDeadline: now + 7_200,
            epsilonPpm: 0,
            testSetBytes: if test_commitment.is_zero() {
                0
            } else {
                test_set().len() as u64
            },
            payoutBps: vec![7_000, 3_000],
            limits: default_limits(),
        })
    }

    pub(crate) fn exec(&self) -> Vec<u8> {
        ICrucible::createCompetitionCall {
            spec: self.0.clone(),
        }
        .abi_encode()
    }
}

/// The id of the competition a `CompetitionCreated` notice in `outputs` announces.
pub(crate) fn created(outputs: &[Output]) -> u64 {
    notices(outputs)
        .into_iter()
        .find_map(|n| match n {
            ICrucibleOutputsCalls::CompetitionCreated(c) => Some(c.competitionId),
            _ => None,
        })
        .unwrap_or_else(|| {
            panic!(
                "no CompetitionCreated in {outputs:?}: {:?}",
                reports(outputs)
            )
        })
}

/// The `CompetitionFinalized` notice among `outputs`.
pub(crate) fn finalized(outputs: &[Output]) -> abi::ICrucibleOutputs::CompetitionFinalizedCall {
    notices(outputs)
        .into_iter()
        .find_map(|n| match n {
            ICrucibleOutputsCalls::CompetitionFinalized(f) => Some(f),
            _ => None,
        })
        .expect("a CompetitionFinalized notice")
}
