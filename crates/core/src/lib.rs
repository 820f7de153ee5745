//! Crucible's deterministic core: the rollup state machine that stores blobs, runs
//! competitions, scores ONNX models with tract and keeps the token ledger.
//!
//! The layer rule: this crate is synchronous and pure. It takes an input's metadata and
//! payload and returns outputs as data ([`Outcome`]); it never performs I/O, reads a clock
//! or draws randomness (time and randomness come only from [`AdvanceMeta`]), and never
//! iterates a hash map into state or outputs. It must not depend on tokio, hyper, reqwest
//! or mio (CI checks `cargo tree`). The DApp, the CLI (`crucible score`) and the tests all
//! run this very code.
#![cfg_attr(not(test), warn(unused_crate_dependencies))]
#![warn(missing_docs)]

pub mod binary;
mod blobs;
pub mod builder;
mod competition;
pub mod cost;
pub mod dataset;
pub mod determinism;
mod error;
pub mod eval;
pub mod gemm;
mod inspect;
mod ledger;
pub mod limits;
pub mod linear;
pub mod metrics;
pub mod model;
pub mod ops;
mod outputs;
mod reject;
mod state;

pub use competition::rank;
pub use crucible_types::{AdvanceMeta, Cid, abi};
pub use error::{Error, Result};
pub use limits::Limits;
pub use reject::Rejection;
pub use state::{Config, DEFAULT_INPUT_WORK, STATE_HASH_VERSION, State};

use alloy_primitives::{Address, U256};

/// One rollup output, as data. The DApp posts notices to `/notice`, vouchers to `/voucher`
/// and reports to `/report`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Output {
    /// An ABI-encoded call of `ICrucibleOutputs`.
    Notice(Vec<u8>),
    /// A call the application contract makes on L1 once the output is proven.
    Voucher {
        /// Contract (or account) called.
        destination: Address,
        /// Wei sent with the call.
        value: U256,
        /// Calldata.
        payload: Vec<u8>,
    },
    /// Human-readable diagnostics (UTF-8 text or JSON); not part of the outputs tree.
    Report(Vec<u8>),
}

/// What an advance request did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// The input was applied; these outputs are emitted in order.
    Accepted {
        /// Notices, vouchers and reports.
        outputs: Vec<Output>,
    },
    /// The input was refused and the state is unchanged.
    Rejected {
        /// Why.
        reason: Rejection,
    },
}

impl Outcome {
    /// The outputs of an accepted input (empty for a rejection).
    pub fn outputs(&self) -> &[Output] {
        match self {
            Self::Accepted { outputs } => outputs,
            Self::Rejected { .. } => &[],
        }
    }

    /// The rejection reason, if any.
    pub const fn rejection(&self) -> Option<&Rejection> {
        match self {
            Self::Accepted { .. } => None,
            Self::Rejected { reason } => Some(reason),
        }
    }
}
