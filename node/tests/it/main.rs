//! crucible-node integration tests that start real processes.

mod attacks;
mod claims;
mod devnet;
mod devnet_support;
mod e2e;
mod host;
mod memory;
mod riscv;
mod soak;
