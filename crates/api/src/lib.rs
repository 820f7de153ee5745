//! The node API on the wire: the official Cartesi Rollups v2 node's JSON-RPC (`cartesi_*`)
//! and inspect shapes, as serde types that crucible-node serves and every client reads,
//! and [`NodeClient`], the one client of it.
//!
//! The shapes follow the official node: its OpenRPC document (methods, parameters, result
//! fields, nullability, enums), its server (error codes, list defaults and caps, decoded
//! outputs named `"Notice"`/`"Voucher"`/`"DelegateCallVoucher"`) and the newer fields its
//! TypeScript client (`@cartesi/rpc`) reads (inputs' `transaction_hash`/`log_index`,
//! epochs' `staged_at_block`, applications' `enabled`/`status`).

pub mod claims;
mod client;
mod error;
pub mod node;
mod quantity;
pub mod rpc;
pub mod types;
pub mod validate;

pub use client::{NodeClient, Page};
pub use error::{Error, Result};
pub use quantity::Quantity;
pub use types::*;
