//! Sending transactions that cannot wedge the process: a signer whose nonce comes from the
//! chain for every transaction, and receipts awaited by asking for them.
//!
//! alloy's defaults fail in two ways that a node restarted after a crash meets at once.
//! Its cached nonce manager takes a nonce even for a transaction whose gas estimate
//! reverts (a claim the killed process already made, a voucher already executed), and every
//! later transaction then waits in the pool behind the gap, never mined. And `get_receipt`
//! first registers the transaction with the provider's block heartbeat, which can miss the
//! block that mined it. Polling `eth_getTransactionReceipt` depends on nothing but the
//! endpoint, and gives up after a bound instead of hanging.

use crate::{Error, Result};
use alloy::{
    network::Ethereum,
    providers::{DynProvider, PendingTransactionBuilder, Provider, ProviderBuilder},
    rpc::types::TransactionReceipt,
    signers::local::PrivateKeySigner,
    transports::http::reqwest::Url,
};
use std::time::{Duration, Instant};

/// A provider at `url` that signs with `key`, estimates gas, and takes each transaction's
/// nonce from the endpoint's pending count for the account (nothing is cached in the
/// process, so a failed send leaves no gap, and another process may use the same key).
pub fn signing_provider(url: Url, key: PrivateKeySigner) -> DynProvider {
    ProviderBuilder::new()
        .disable_recommended_fillers()
        .with_gas_estimation()
        .with_simple_nonce_management()
        .fetch_chain_id()
        .wallet(key)
        .connect_http(url)
        .erased()
}

/// How long a transaction may stay unmined before [`Confirm::confirmed`] gives up.
pub const RECEIPT_TIMEOUT: Duration = Duration::from_secs(300);

/// The longest pause between two receipt requests.
const MAX_POLL: Duration = Duration::from_secs(1);

/// A sent transaction whose receipt can be awaited.
pub trait Confirm {
    /// Polls for the receipt (20 ms first, doubling up to 1 s between requests) until the
    /// transaction is mined or [`RECEIPT_TIMEOUT`] has passed ([`Error::Unconfirmed`]). The
    /// receipt is returned whatever its status: the caller checks for a revert.
    fn confirmed(self) -> impl Future<Output = Result<TransactionReceipt>> + Send;
}

impl Confirm for PendingTransactionBuilder<Ethereum> {
    async fn confirmed(self) -> Result<TransactionReceipt> {
        let hash = *self.tx_hash();
        let started = Instant::now();
        let mut pause = Duration::from_millis(20);
        loop {
            if let Some(receipt) = self.provider().get_transaction_receipt(hash).await? {
                return Ok(receipt);
            }
            if started.elapsed() >= RECEIPT_TIMEOUT {
                return Err(Error::Unconfirmed {
                    tx: hash,
                    waited: started.elapsed(),
                });
            }
            tokio::time::sleep(pause).await;
            pause = (pause * 2).min(MAX_POLL);
        }
    }
}
