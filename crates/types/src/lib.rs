//! Crucible's wire layer: the input and notice ABI (bound with alloy's `sol!` from
//! `contracts/src/*.sol`, the source of truth), content identifiers, rollup metadata and
//! the portal deposit encodings.
//!
//! This crate is plain data and codecs. It must not depend on tract, on any I/O crate, or
//! on anything that reads a clock or a random source: the DApp, the CLI and the node all
//! link it, and the DApp runs it inside a deterministic RISC-V machine.
#![cfg_attr(not(test), warn(unused_crate_dependencies))]
#![warn(missing_docs)]

pub mod abi;
pub mod cid;
mod error;
pub mod inspect;
pub mod rollup;

pub use cid::Cid;
pub use error::{Error, Result};
pub use rollup::{AdvanceMeta, Deposit};
