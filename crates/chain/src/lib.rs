//! crucible-chain: what every Crucible party does on L1, without running a node.
//!
//! The Cartesi Rollups v2 contract bindings ([`app`], [`devnet`]), an application's
//! settings and its consensus' claim logs ([`app::app_on_chain`], [`app::consensus_logs`]),
//! providers that survive endpoints that drop requests and transactions that cannot wedge
//! ([`tx`]), `eth_getLogs` against endpoints that cap ranges ([`logs`]), and deployment on a
//! public chain or a local devnet ([`devnet`]). The node, the CLI and the tests share it;
//! it links neither SQLite nor an HTTP server.
#![cfg_attr(not(test), warn(unused_crate_dependencies))]
#![warn(missing_docs)]

pub mod app;
pub mod devnet;
mod error;
pub mod logs;
pub mod tx;

pub use error::{Error, Result};
pub use tx::{Confirm, provider, signing_provider};
