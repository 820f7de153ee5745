//! `eth_getLogs` over any block range, against endpoints that cap it.
//!
//! Public endpoints refuse a log query over too many blocks (or with too many results),
//! each in its own words: "query exceeds max block range 500", "Log response size exceeded",
//! "query returned more than 10000 results". A [`LogReader`] reads a range in chunks of at
//! most its current span; when the endpoint answers a chunk with a JSON-RPC error (or an
//! HTTP 400/413), it halves the span and reads that chunk again, down to one block, and
//! keeps the smaller span for every later query (the cap does not change). A request that
//! got no answer at all is retried by the transport ([`crate::tx::rpc_client`]).

use crate::Result;
use alloy::{
    providers::Provider,
    rpc::types::{Filter, Log},
    transports::{RpcError, TransportError, TransportErrorKind},
};
use std::sync::{
    Arc,
    atomic::{AtomicU64, Ordering},
};

/// Blocks asked for in one `eth_getLogs` until an endpoint refuses that many.
pub const DEFAULT_LOG_RANGE: u64 = 1_000;

/// Reads logs in chunks the endpoint accepts; clones share what was learnt of the cap.
#[derive(Debug, Clone)]
pub struct LogReader {
    span: Arc<AtomicU64>,
}

impl Default for LogReader {
    fn default() -> Self {
        Self::new(DEFAULT_LOG_RANGE)
    }
}

impl LogReader {
    /// A reader that asks for at most `max_span` blocks at a time (at least 1).
    pub fn new(max_span: u64) -> Self {
        Self {
            span: Arc::new(AtomicU64::new(max_span.max(1))),
        }
    }

    /// The most blocks one query asks for now.
    pub fn span(&self) -> u64 {
        self.span.load(Ordering::Relaxed)
    }

    /// Every log `filter` selects in blocks `from..=to`, in chain order (the filter's own
    /// block range is replaced).
    pub async fn logs(
        &self,
        provider: &impl Provider,
        filter: &Filter,
        from: u64,
        to: u64,
    ) -> Result<Vec<Log>> {
        let mut logs = Vec::new();
        let mut start = from;
        while start <= to {
            let span = self.span();
            let end = to.min(start.saturating_add(span - 1));
            let chunk = filter.clone().from_block(start).to_block(end);
            match provider.get_logs(&chunk).await {
                Ok(found) => {
                    logs.extend(found);
                    start = match end.checked_add(1) {
                        Some(next) => next,
                        None => break,
                    };
                }
                Err(e) if span > 1 && refused(&e) => {
                    let smaller = span / 2;
                    self.span.fetch_min(smaller, Ordering::Relaxed);
                    tracing::warn!(
                        "L1 refused eth_getLogs over {span} blocks ({e}): asking for {smaller} at a time"
                    );
                }
                Err(e) => return Err(e.into()),
            }
        }
        Ok(logs)
    }
}

/// Whether a JSON-RPC error message reads like the refusal of a log query's size (block
/// range or result count) rather than a rate limit; both come with code -32005 from some
/// endpoints.
pub fn is_range_refusal(message: &str) -> bool {
    let message = message.to_ascii_lowercase();
    ["range", "results", "response size", "too large"]
        .iter()
        .any(|m| message.contains(m))
}

/// Whether the endpoint answered the query with a refusal (rather than not at all).
fn refused(e: &TransportError) -> bool {
    match e {
        RpcError::ErrorResp(_) => true,
        RpcError::Transport(TransportErrorKind::HttpError(h)) => matches!(h.status, 400 | 413),
        _ => false,
    }
}
