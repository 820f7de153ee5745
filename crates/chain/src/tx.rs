//! Talking to L1 over endpoints that drop requests, and sending transactions that cannot
//! wedge the process: a signer whose nonce comes from the
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
    rpc::{
        client::{ClientBuilder, RpcClient},
        types::TransactionReceipt,
    },
    signers::local::PrivateKeySigner,
    transports::{
        RpcError, TransportError, TransportErrorKind,
        http::reqwest::Url,
        layers::{RateLimitRetryPolicy, RetryBackoffLayer, RetryPolicy},
    },
};
use std::time::{Duration, Instant};

/// Times a request is sent again after the endpoint dropped it or asked to slow down.
pub const RPC_RETRIES: u32 = 8;

/// The first pause before sending a failed request again, in milliseconds.
const RPC_BACKOFF_MS: u64 = 100;

/// What [`rpc_client`] sends again.
#[derive(Debug, Clone, Copy)]
struct RetryUnanswered;

impl RetryPolicy for RetryUnanswered {
    fn should_retry(&self, error: &TransportError) -> bool {
        match error {
            // No answer: the connection dropped or could not be made, or a proxy in front of
            // the endpoint failed.
            RpcError::Transport(TransportErrorKind::Custom(_))
            | RpcError::Transport(TransportErrorKind::MissingBatchResponse(_)) => true,
            RpcError::Transport(TransportErrorKind::HttpError(h)) => {
                h.status == 429 || h.status >= 500
            }
            RpcError::Transport(kind) => kind.is_retry_err(),
            // An answer that says "slow down" — but not a refusal of a log query's range,
            // which asking again cannot change ([`crate::logs::LogReader`] narrows it).
            RpcError::ErrorResp(e) => {
                e.is_retry_err() && !crate::logs::is_range_refusal(&e.message)
            }
            _ => false,
        }
    }

    fn backoff_hint(&self, error: &TransportError) -> Option<Duration> {
        RateLimitRetryPolicy::default().backoff_hint(error)
    }
}

/// A JSON-RPC client for `url` that sends a request again, [`RPC_RETRIES`] times with
/// backoff, when it never got an answer (the connection dropped or could not be made, HTTP
/// 5xx) or the endpoint asked to slow down (HTTP 429, rate-limit errors) — what public
/// endpoints do under load. Other JSON-RPC errors are answers and go to the caller.
pub fn rpc_client(url: Url) -> RpcClient {
    ClientBuilder::default()
        .layer(RetryBackoffLayer::new_with_policy(
            RPC_RETRIES,
            RPC_BACKOFF_MS,
            u64::MAX,
            RetryUnanswered,
        ))
        .http(url)
}

/// A provider at `url` over [`rpc_client`]; with a `key`, it signs, estimates gas, and takes
/// each transaction's nonce from the endpoint's pending count for the account (nothing is
/// cached in the process, so a failed send leaves no gap, and another process may use the
/// same key).
pub fn provider(url: Url, key: Option<PrivateKeySigner>) -> DynProvider {
    let client = rpc_client(url);
    match key {
        Some(key) => ProviderBuilder::new()
            .disable_recommended_fillers()
            .with_gas_estimation()
            .with_simple_nonce_management()
            .fetch_chain_id()
            .wallet(key)
            .connect_client(client)
            .erased(),
        None => ProviderBuilder::new().connect_client(client).erased(),
    }
}

/// [`provider`] with a key.
pub fn signing_provider(url: Url, key: PrivateKeySigner) -> DynProvider {
    provider(url, Some(key))
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
