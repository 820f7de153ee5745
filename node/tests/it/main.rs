//! crucible-node integration tests that start real processes.

mod devnet;
mod host;
