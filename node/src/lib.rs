//! crucible-node: a host-mode Cartesi Rollups v2 node for the Crucible DApp.
//!
//! It serves the rollup HTTP API to the DApp, which runs as a child process (the native
//! binary, or the riscv64 build under `qemu-riscv64`), with the official
//! `rollup-http-server`'s requests, status codes and validation; keeps the height-63
//! outputs tree and produces `executeOutput` proofs. This crate never links
//! `crucible-core`: like a real node it only runs the DApp.
#![cfg_attr(not(test), warn(unused_crate_dependencies))]
#![warn(missing_docs)]

mod error;
pub mod machine;
pub mod merkle;
mod plot;
pub mod query;
pub mod rollup_api;
mod rpc_api;
pub mod runner;
pub mod service;
pub mod store;
pub mod validate;
mod web;

pub use error::{Error, Result};

// Dependencies of the `crucible-node` binary only.
use anyhow as _;
use clap as _;
use tracing_subscriber as _;
