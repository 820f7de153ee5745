//! A JSON-RPC proxy in front of anvil that behaves like a public endpoint under load: it
//! refuses `eth_getLogs` over more than a set number of blocks (as public endpoints do, with
//! a JSON-RPC error), drops every n-th request (closes the connection without answering,
//! before the request reaches the chain), and loses every m-th answer (the chain got the
//! request, the client never hears back).

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::{Request, Response, body::Incoming, server::conn::http1, service::service_fn};
use hyper_util::rt::TokioIo;
use serde_json::{Value, json};
use std::{
    collections::HashSet,
    sync::{
        Arc, Mutex,
        atomic::{AtomicU64, Ordering},
    },
};
use tokio::net::TcpListener;

/// What the proxy enforces.
#[derive(Debug, Clone, Copy)]
pub struct ProxyRules {
    /// The most blocks one `eth_getLogs` may span (`fromBlock..=toBlock`, both numbers).
    pub max_log_range: u64,
    /// Every n-th request is dropped before it reaches the chain (0: none).
    pub drop_every: u64,
    /// Every m-th request reaches the chain but its answer is lost (0: none).
    pub lose_answer_every: u64,
    /// Every k-th `eth_sendRawTransaction` reaches the chain but its answer is lost (0: none).
    /// A transaction sent again is refused as geth does ("already known"), without reaching
    /// the chain.
    pub lose_send_answer_every: u64,
}

/// What the proxy saw.
#[derive(Debug, Default)]
pub struct ProxyStats {
    /// Requests received.
    pub requests: AtomicU64,
    /// Requests dropped without an answer.
    pub dropped: AtomicU64,
    /// Requests the chain answered whose answer was lost.
    pub answers_lost: AtomicU64,
    /// `eth_sendRawTransaction` requests received.
    pub sends: AtomicU64,
    /// Of those, the ones the chain took whose answer was lost.
    pub send_answers_lost: AtomicU64,
    /// Of those, the ones refused as already known.
    pub sends_refused_as_known: AtomicU64,
    /// `eth_getLogs` refused for their range.
    pub refused_ranges: AtomicU64,
    /// `eth_getLogs` forwarded.
    pub log_queries: AtomicU64,
    /// The widest range of a forwarded `eth_getLogs`, in blocks.
    pub widest_log_range: AtomicU64,
}

/// The proxy; it stops serving when dropped.
#[derive(Debug)]
pub struct RpcProxy {
    /// Its URL.
    pub url: String,
    /// Its counters.
    pub stats: Arc<ProxyStats>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for RpcProxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Why the proxy closed a connection without answering.
#[derive(Debug)]
struct Dropped;

impl std::fmt::Display for Dropped {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("request dropped by the proxy")
    }
}

impl std::error::Error for Dropped {}

fn block_number(v: &Value) -> Option<u64> {
    u64::from_str_radix(v.as_str()?.strip_prefix("0x")?, 16).ok()
}

/// The span of an `eth_getLogs` request in blocks; `None` for a query without two block
/// numbers (a tag like "latest" or a block hash), which the proxy refuses like a wide range.
fn log_span(request: &Value) -> Option<u64> {
    let filter = request.get("params")?.get(0)?;
    let from = block_number(filter.get("fromBlock")?)?;
    let to = block_number(filter.get("toBlock")?)?;
    Some(to.saturating_sub(from) + 1)
}

impl RpcProxy {
    /// Starts the proxy on a free loopback port, forwarding to `upstream`.
    pub async fn start(upstream: &str, rules: ProxyRules) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("a free port");
        let url = format!("http://{}", listener.local_addr().expect("bound"));
        let stats = Arc::new(ProxyStats::default());
        let upstream = upstream.to_string();
        let client = reqwest::Client::new();
        let counters = stats.clone();
        let known = Arc::new(Mutex::new(HashSet::new()));
        let task = tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    continue;
                };
                let (upstream, client, stats, known) = (
                    upstream.clone(),
                    client.clone(),
                    counters.clone(),
                    known.clone(),
                );
                tokio::spawn(async move {
                    let service = service_fn(move |req: Request<Incoming>| {
                        let (upstream, client, stats, known) = (
                            upstream.clone(),
                            client.clone(),
                            stats.clone(),
                            known.clone(),
                        );
                        async move { handle(req, &upstream, &client, (&stats, &known), rules).await }
                    });
                    let _ = http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        });
        Self { url, stats, task }
    }

    /// A counter's value.
    pub fn count(&self, counter: fn(&ProxyStats) -> &AtomicU64) -> u64 {
        counter(&self.stats).load(Ordering::Relaxed)
    }
}

async fn handle(
    req: Request<Incoming>,
    upstream: &str,
    client: &reqwest::Client,
    (stats, known): (&ProxyStats, &Mutex<HashSet<String>>),
    rules: ProxyRules,
) -> Result<Response<Full<Bytes>>, Dropped> {
    let body = req
        .into_body()
        .collect()
        .await
        .map_err(|_| Dropped)?
        .to_bytes();
    let n = stats.requests.fetch_add(1, Ordering::Relaxed) + 1;
    if rules.drop_every > 0 && n.is_multiple_of(rules.drop_every) {
        stats.dropped.fetch_add(1, Ordering::Relaxed);
        return Err(Dropped);
    }
    let request: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    let is_send = request["method"] == "eth_sendRawTransaction";
    if is_send {
        let raw = request["params"][0]
            .as_str()
            .unwrap_or_default()
            .to_string();
        if !known.lock().expect("not poisoned").insert(raw) {
            stats.sends_refused_as_known.fetch_add(1, Ordering::Relaxed);
            let refusal = json!({
                "jsonrpc": "2.0",
                "id": request["id"],
                "error": { "code": -32000, "message": "already known" },
            });
            return Ok(json_response(refusal.to_string().into()));
        }
    }
    let lose_send = is_send && {
        let k = stats.sends.fetch_add(1, Ordering::Relaxed) + 1;
        rules.lose_send_answer_every > 0 && k.is_multiple_of(rules.lose_send_answer_every)
    };
    if request["method"] == "eth_getLogs" {
        match log_span(&request) {
            Some(span) if span <= rules.max_log_range => {
                stats.log_queries.fetch_add(1, Ordering::Relaxed);
                stats.widest_log_range.fetch_max(span, Ordering::Relaxed);
            }
            _ => {
                stats.refused_ranges.fetch_add(1, Ordering::Relaxed);
                let refusal = json!({
                    "jsonrpc": "2.0",
                    "id": request["id"],
                    "error": {
                        "code": -32005,
                        "message": format!("query exceeds max block range {}", rules.max_log_range),
                    },
                });
                return Ok(json_response(refusal.to_string().into()));
            }
        }
    }
    let answer = client
        .post(upstream)
        .header("content-type", "application/json")
        .body(body)
        .send()
        .await
        .map_err(|_| Dropped)?
        .bytes()
        .await
        .map_err(|_| Dropped)?;
    if lose_send {
        stats.send_answers_lost.fetch_add(1, Ordering::Relaxed);
        return Err(Dropped);
    }
    if rules.lose_answer_every > 0 && n.is_multiple_of(rules.lose_answer_every) {
        stats.answers_lost.fetch_add(1, Ordering::Relaxed);
        return Err(Dropped);
    }
    Ok(json_response(answer))
}

fn json_response(body: Bytes) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(body));
    response.headers_mut().insert(
        hyper::header::CONTENT_TYPE,
        hyper::header::HeaderValue::from_static("application/json"),
    );
    response
}
