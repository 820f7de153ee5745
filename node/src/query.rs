//! The node's query API, following the official Cartesi Rollups v2 node's conventions so
//! that one client talks to either:
//!
//! - `POST /inspect/<application>`: the raw body is the inspect payload (at most 2 MiB); the
//!   answer is `{"status": "Accepted"|"Rejected"|"Exception", "exception": null|"0x..",
//!   "reports": [{"payload": "0x.."}], "processed_input_count": N}`.
//! - `POST /rpc`: JSON-RPC 2.0 (single or batch) with `cartesi_getNodeVersion`,
//!   `cartesi_getChainId`, `cartesi_getProcessedInputCount`, `cartesi_listInputs`,
//!   `cartesi_getInput`, `cartesi_listOutputs`, `cartesi_getOutput` (with
//!   `output_hashes_siblings` once an epoch whose root the consensus holds valid covers the
//!   output), `cartesi_listReports`, `cartesi_getReport`, `cartesi_listEpochs`,
//!   `cartesi_getEpoch` (status `OPEN`, `CLAIM_COMPUTED`, `CLAIM_SUBMITTED`,
//!   `CLAIM_ACCEPTED` or `CLAIM_REJECTED`), `cartesi_getLastAcceptedEpochIndex`, and
//!   Crucible's `crucible_listClaims` ([`EpochClaims`]: who claimed which root for every
//!   epoch, against this node's root). Parameters are objects
//!   (`application`, `input_index`, `output_index`, `report_index`, `epoch_index`, `limit`,
//!   `offset`); indices are `0x` hex strings; answers are `{"data": ..}` and, for lists,
//!   `{"data": [..], "pagination": {"total_count", "limit", "offset"}}`. Errors: -32700,
//!   -32600, -32601, -32602, -31001 (not found), -31002 (application not found).
//! - `GET /blobs/<cid>` (Crucible's addition): the blob reassembled from the accepted
//!   `putChunk` inputs of one uploader, returned only if its sha256 matches the CID.
//!
//! Everything but inspect reads the SQLite database through its own connection.

use crate::{
    Error, Result,
    rollup_api::{RequestResult, Status},
    runner::{chunk_data, decode_advance},
    store::{AcceptedClaim, ChainClaim, ChunkRef, InputRow, OutputRow, ReportRow, Store},
};
use alloy::{
    primitives::{Address, B256, hex, keccak256},
    sol_types::SolCall,
};
use bytes::Bytes;
use crucible_types::{Cid, abi::Outputs};
use http_body_util::{BodyExt, Full, Limited};
use hyper::{
    Method, Request, Response, StatusCode, body::Incoming, header, server::conn::http1,
    service::service_fn,
};
use hyper_util::rt::TokioIo;
use serde_json::{Value, json};
use std::{
    collections::BTreeMap,
    future::Future,
    sync::{Arc, Mutex},
};
use tokio::{
    net::TcpListener,
    sync::{mpsc, oneshot},
};

/// Largest inspect payload, as the official node (`maxPayloadSize = 1 << 21`).
pub const MAX_INSPECT: usize = 1 << 21;
/// Largest JSON-RPC request body.
pub const MAX_RPC_BODY: usize = 1 << 20;
/// Default and largest page of a list method.
pub const DEFAULT_LIMIT: u64 = 50;
/// Largest page of a list method.
pub const MAX_LIMIT: u64 = 10_000;
/// The application's name in `application` parameters (its address works too).
pub const APP_NAME: &str = "crucible";

/// One epoch in `crucible_listClaims`: this node's root and every claim on chain.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct EpochClaims {
    /// The epoch's index (its last block divided by the epoch length).
    pub epoch_index: u64,
    /// Its last block (`lastProcessedBlockNumber` of its claims).
    pub last_block: u64,
    /// This node's outputs root at its end; `None` until the node has read it whole.
    pub root: Option<B256>,
    /// Every claim the consensus logged for it.
    pub claims: Vec<ChainClaim>,
    /// The root the consensus accepted, if it did.
    pub accepted: Option<AcceptedClaim>,
}

impl EpochClaims {
    /// The claims whose root differs from this node's (none until the epoch is read).
    pub fn divergent(&self) -> impl Iterator<Item = &ChainClaim> {
        self.claims
            .iter()
            .filter(|c| self.root.is_some_and(|r| r != c.root))
    }
}

/// An inspect query for the node's main loop, which owns the DApp.
#[derive(Debug)]
pub struct InspectJob {
    /// The payload.
    pub payload: Vec<u8>,
    /// Where the answer goes, with the processed input count at the time.
    pub reply: oneshot::Sender<Result<(RequestResult, u64)>>,
}

/// What the query server knows besides the database.
#[derive(Debug, Clone, Copy)]
pub struct QueryConfig {
    /// The application contract.
    pub app: Address,
    /// L1 chain id.
    pub chain_id: u64,
    /// Blocks per epoch.
    pub epoch_length: u64,
}

struct Ctx {
    config: QueryConfig,
    store: Mutex<Store>,
    inspect: mpsc::Sender<InspectJob>,
}

type Reply = Response<Full<Bytes>>;

fn text(status: StatusCode, body: impl Into<String>) -> Reply {
    let mut r = Response::new(Full::new(Bytes::from(body.into())));
    *r.status_mut() = status;
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        header::HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    r
}

fn json_reply(value: &Value) -> Reply {
    let mut r = Response::new(Full::new(Bytes::from(value.to_string())));
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        header::HeaderValue::from_static("application/json"),
    );
    r
}

/// Serves the query API on `listener` until `shutdown` resolves.
pub async fn serve(
    listener: TcpListener,
    config: QueryConfig,
    store: Store,
    inspect: mpsc::Sender<InspectJob>,
    shutdown: impl Future<Output = ()>,
) {
    let ctx = Arc::new(Ctx {
        config,
        store: Mutex::new(store),
        inspect,
    });
    tokio::pin!(shutdown);
    loop {
        let (stream, _) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(a) => a,
                Err(_) => continue,
            },
            () = &mut shutdown => return,
        };
        let ctx = ctx.clone();
        tokio::spawn(async move {
            let service = service_fn(move |req| {
                let ctx = ctx.clone();
                async move { Ok::<_, std::convert::Infallible>(handle(&ctx, req).await) }
            });
            let _ = http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
    }
}

async fn body(req: Request<Incoming>, limit: usize) -> Result<Bytes, Reply> {
    match Limited::new(req.into_body(), limit).collect().await {
        Ok(b) => Ok(b.to_bytes()),
        Err(_) => Err(text(
            StatusCode::PAYLOAD_TOO_LARGE,
            format!("request body over {limit} bytes"),
        )),
    }
}

async fn handle(ctx: &Arc<Ctx>, req: Request<Incoming>) -> Reply {
    let path = req.uri().path().to_string();
    let segments: Vec<&str> = path.trim_matches('/').split('/').collect();
    match (req.method(), segments.as_slice()) {
        (&Method::POST, ["inspect", app]) => {
            if !ctx.is_app(app) {
                return text(
                    StatusCode::NOT_FOUND,
                    format!("application {app} not found"),
                );
            }
            match body(req, MAX_INSPECT).await {
                Ok(payload) => inspect(ctx, payload.to_vec()).await,
                Err(r) => r,
            }
        }
        (&Method::POST, ["rpc"]) => match body(req, MAX_RPC_BODY).await {
            Ok(b) => {
                let ctx = ctx.clone();
                match tokio::task::spawn_blocking(move || rpc(&ctx, &b)).await {
                    Ok(v) => json_reply(&v),
                    Err(e) => text(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()),
                }
            }
            Err(r) => r,
        },
        (&Method::GET, ["blobs", cid, "chunks"]) => {
            let Ok(cid) = cid.parse::<Cid>() else {
                return text(StatusCode::BAD_REQUEST, format!("bad CID {cid}"));
            };
            let ctx = ctx.clone();
            let found = tokio::task::spawn_blocking(move || {
                let store = ctx
                    .store
                    .lock()
                    .map_err(|_| Error::Store("poisoned".into()))?;
                chunk_status(&store, &cid)
            })
            .await;
            match found {
                Ok(Ok(v)) => json_reply(&v),
                Ok(Err(e)) => text(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()),
                Err(e) => text(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()),
            }
        }
        (&Method::GET, ["blobs", cid]) => {
            let cid = match cid.parse::<Cid>() {
                Ok(c) => c,
                Err(e) => return text(StatusCode::BAD_REQUEST, format!("bad CID {cid}: {e}")),
            };
            let ctx = ctx.clone();
            let found = tokio::task::spawn_blocking(move || {
                let store = ctx
                    .store
                    .lock()
                    .map_err(|_| Error::Store("poisoned".into()))?;
                blob(&store, &cid)
            })
            .await;
            match found {
                Ok(Ok(Some(bytes))) => {
                    let mut r = Response::new(Full::new(Bytes::from(bytes)));
                    r.headers_mut().insert(
                        header::CONTENT_TYPE,
                        header::HeaderValue::from_static("application/octet-stream"),
                    );
                    r
                }
                Ok(Ok(None)) => text(
                    StatusCode::NOT_FOUND,
                    "no complete upload of this blob among the accepted inputs",
                ),
                Ok(Err(e)) => text(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()),
                Err(e) => text(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()),
            }
        }
        _ => text(
            StatusCode::NOT_FOUND,
            "not found: POST /inspect/<application>, POST /rpc, GET /blobs/<cid>, GET /blobs/<cid>/chunks",
        ),
    }
}

impl Ctx {
    fn is_app(&self, name: &str) -> bool {
        name == APP_NAME || name.parse::<Address>().is_ok_and(|a| a == self.config.app)
    }
}

async fn inspect(ctx: &Ctx, payload: Vec<u8>) -> Reply {
    let (reply, answer) = oneshot::channel();
    if ctx
        .inspect
        .send(InspectJob { payload, reply })
        .await
        .is_err()
    {
        return text(StatusCode::SERVICE_UNAVAILABLE, "the node is stopping");
    }
    match answer.await {
        Ok(Ok((result, processed))) => {
            let (status, exception) = match &result.status {
                Status::Accepted => ("Accepted", Value::Null),
                Status::Rejected => ("Rejected", Value::Null),
                Status::Exception(why) => ("Exception", json!(hex::encode_prefixed(why))),
            };
            let reports: Vec<Value> = result
                .reports
                .iter()
                .map(|r| json!({ "payload": hex::encode_prefixed(r) }))
                .collect();
            json_reply(&json!({
                "status": status,
                "exception": exception,
                "reports": reports,
                "processed_input_count": processed,
            }))
        }
        Ok(Err(e)) => text(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()),
        Err(_) => text(StatusCode::SERVICE_UNAVAILABLE, "the node is stopping"),
    }
}

/// Which chunks of blob `cid` each uploader has had accepted so far (resumable uploads):
/// `{"cid", "uploads": [{"uploader", "count", "indices": [..]}]}`.
pub fn chunk_status(store: &Store, cid: &Cid) -> Result<Value> {
    let digest = B256::from(*cid.digest());
    let mut uploads: BTreeMap<(Address, u32), std::collections::BTreeSet<u32>> = BTreeMap::new();
    for (c, _) in store.chunks(&digest)? {
        uploads
            .entry((c.uploader, c.count))
            .or_default()
            .insert(c.index);
    }
    let uploads: Vec<Value> = uploads
        .into_iter()
        .map(|((uploader, count), indices)| {
            json!({ "uploader": uploader, "count": count, "indices": indices })
        })
        .collect();
    Ok(json!({ "cid": cid.to_string(), "uploads": uploads }))
}

/// The blob with CID `cid`, reassembled from one uploader's accepted chunks and checked
/// against the CID's sha256. Uploads are tried in the order they started; a later chunk
/// for the same index replaces an earlier one, as in the DApp.
pub fn blob(store: &Store, cid: &Cid) -> Result<Option<Vec<u8>>> {
    let digest = B256::from(*cid.digest());
    // One upload: (uploader, count) and chunk index → input blob.
    type Upload = ((Address, u32), BTreeMap<u32, Vec<u8>>);
    // In order of first appearance.
    let mut uploads: Vec<Upload> = Vec::new();
    for (
        ChunkRef {
            uploader,
            index,
            count,
            ..
        },
        input,
    ) in store.chunks(&digest)?
    {
        let key = (uploader, count);
        let pos = match uploads.iter().position(|(k, _)| *k == key) {
            Some(p) => p,
            None => {
                uploads.push((key, BTreeMap::new()));
                uploads.len() - 1
            }
        };
        uploads[pos].1.insert(index, input);
    }
    for ((_, count), chunks) in uploads {
        if count == 0
            || chunks.len() != count as usize
            || chunks.keys().next_back() != Some(&(count - 1))
        {
            continue;
        }
        let mut bytes = Vec::new();
        for input in chunks.values() {
            match chunk_data(input) {
                Some(d) => bytes.extend_from_slice(&d),
                None => return Err(Error::Store("a chunk input does not decode".into())),
            }
        }
        if Cid::of(&bytes) == *cid {
            return Ok(Some(bytes));
        }
    }
    Ok(None)
}

// ---------------------------------------------------------------------------------------
// JSON-RPC
// ---------------------------------------------------------------------------------------

const PARSE_ERROR: i64 = -32700;
const INVALID_REQUEST: i64 = -32600;
const METHOD_NOT_FOUND: i64 = -32601;
const INVALID_PARAMS: i64 = -32602;
const INTERNAL: i64 = -32603;
const NOT_FOUND: i64 = -31001;
const APP_NOT_FOUND: i64 = -31002;

struct RpcError(i64, String);

fn invalid(msg: impl Into<String>) -> RpcError {
    RpcError(INVALID_PARAMS, msg.into())
}

impl From<Error> for RpcError {
    fn from(e: Error) -> Self {
        Self(INTERNAL, e.to_string())
    }
}

fn rpc(ctx: &Ctx, body: &[u8]) -> Value {
    let request: Value = match serde_json::from_slice(body) {
        Ok(v) => v,
        Err(e) => return error(&Value::Null, PARSE_ERROR, &format!("parse error: {e}")),
    };
    match request {
        Value::Array(batch) if !batch.is_empty() => {
            Value::Array(batch.iter().map(|r| call(ctx, r)).collect())
        }
        other => call(ctx, &other),
    }
}

fn error(id: &Value, code: i64, message: &str) -> Value {
    json!({ "jsonrpc": "2.0", "id": id, "error": { "code": code, "message": message } })
}

fn call(ctx: &Ctx, request: &Value) -> Value {
    let id = request.get("id").cloned().unwrap_or(Value::Null);
    let Some(method) = request
        .get("method")
        .and_then(Value::as_str)
        .filter(|_| request.get("jsonrpc").and_then(Value::as_str) == Some("2.0"))
    else {
        return error(
            &id,
            INVALID_REQUEST,
            "invalid request: want {\"jsonrpc\": \"2.0\", \"method\": .., \"params\": {..}, \"id\": ..}",
        );
    };
    let empty = json!({});
    let params = match request.get("params") {
        None | Some(Value::Null) => &empty,
        Some(p @ Value::Object(_)) => p,
        Some(Value::Array(a)) if a.is_empty() => &empty,
        Some(_) => return error(&id, INVALID_PARAMS, "params must be an object"),
    };
    let result = ctx
        .store
        .lock()
        .map_err(|_| RpcError(INTERNAL, "store lock poisoned".into()))
        .and_then(|store| dispatch(ctx, &store, method, params));
    match result {
        Ok(data) => json!({ "jsonrpc": "2.0", "id": id, "result": data }),
        Err(RpcError(code, message)) => error(&id, code, &message),
    }
}

fn hex_u64(v: u64) -> String {
    format!("{v:#x}")
}

/// An index parameter: a `0x` hex string (the official encoding) or a JSON number.
fn index_param(params: &Value, name: &str) -> Result<Option<u64>, RpcError> {
    match params.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Number(n)) => n
            .as_u64()
            .map(Some)
            .ok_or_else(|| invalid(format!("{name} must be a non-negative integer"))),
        Some(Value::String(s)) => s
            .strip_prefix("0x")
            .and_then(|h| u64::from_str_radix(h, 16).ok())
            .map(Some)
            .ok_or_else(|| invalid(format!("{name} must be 0x-prefixed hex, got {s:?}"))),
        Some(_) => Err(invalid(format!("{name} must be a 0x hex string"))),
    }
}

fn required(params: &Value, name: &str) -> Result<u64, RpcError> {
    index_param(params, name)?.ok_or_else(|| invalid(format!("missing parameter {name}")))
}

fn page(params: &Value) -> Result<(u64, u64), RpcError> {
    let limit = index_param(params, "limit")?.unwrap_or(DEFAULT_LIMIT);
    if limit == 0 || limit > MAX_LIMIT {
        return Err(invalid(format!("limit must be 1..={MAX_LIMIT}")));
    }
    Ok((limit, index_param(params, "offset")?.unwrap_or(0)))
}

fn list(data: Vec<Value>, total: u64, limit: u64, offset: u64) -> Value {
    json!({
        "data": data,
        "pagination": { "total_count": total, "limit": limit, "offset": offset },
    })
}

fn not_found(what: &str) -> RpcError {
    RpcError(NOT_FOUND, format!("{what} not found"))
}

fn dispatch(ctx: &Ctx, store: &Store, method: &str, params: &Value) -> Result<Value, RpcError> {
    let config = &ctx.config;
    match method {
        "cartesi_getNodeVersion" => {
            return Ok(json!({ "data": concat!("crucible-node ", env!("CARGO_PKG_VERSION")) }));
        }
        "cartesi_getChainId" => return Ok(json!({ "data": hex_u64(config.chain_id) })),
        _ => {}
    }
    if !method.starts_with("cartesi_") && !method.starts_with("crucible_") {
        return Err(RpcError(
            METHOD_NOT_FOUND,
            format!("method {method} not found"),
        ));
    }
    let app = params
        .get("application")
        .and_then(Value::as_str)
        .ok_or_else(|| invalid("missing parameter application"))?;
    if !ctx.is_app(app) {
        return Err(RpcError(APP_NOT_FOUND, "Application not found".into()));
    }
    let epoch_of = |block: u64| block / config.epoch_length.max(1);
    match method {
        "cartesi_getProcessedInputCount" => Ok(json!({ "data": hex_u64(store.input_count()?) })),
        "cartesi_listInputs" => {
            let (limit, offset) = page(params)?;
            let (rows, total) = store.list_inputs(offset, limit)?;
            let data = rows
                .iter()
                .map(|r| input_json(r, epoch_of(r.block)))
                .collect();
            Ok(list(data, total, limit, offset))
        }
        "cartesi_getInput" => {
            let index = required(params, "input_index")?;
            let row = store.input(index)?.ok_or_else(|| not_found("Input"))?;
            Ok(json!({ "data": input_json(&row, epoch_of(row.block)) }))
        }
        "cartesi_listOutputs" => {
            let (limit, offset) = page(params)?;
            let input = index_param(params, "input_index")?;
            let (rows, total) = store.list_outputs(input, offset, limit)?;
            let data = rows
                .iter()
                .map(|r| output_json(store, r, &epoch_of))
                .collect::<Result<_, _>>()?;
            Ok(list(data, total, limit, offset))
        }
        "cartesi_getOutput" => {
            let index = required(params, "output_index")?;
            let row = store.output(index)?.ok_or_else(|| not_found("Output"))?;
            Ok(json!({ "data": output_json(store, &row, &epoch_of)? }))
        }
        "cartesi_listReports" => {
            let (limit, offset) = page(params)?;
            let input = index_param(params, "input_index")?;
            let (rows, total) = store.list_reports(input, offset, limit)?;
            let data = rows
                .iter()
                .map(|r| report_json(store, r, &epoch_of))
                .collect::<Result<_, _>>()?;
            Ok(list(data, total, limit, offset))
        }
        "cartesi_getReport" => {
            let index = required(params, "report_index")?;
            let row = store.report(index)?.ok_or_else(|| not_found("Report"))?;
            Ok(json!({ "data": report_json(store, &row, &epoch_of)? }))
        }
        "cartesi_listEpochs" => {
            let (limit, offset) = page(params)?;
            let epochs = epochs(store, config.epoch_length)?;
            let total = epochs.len() as u64;
            let data = epochs
                .into_iter()
                .skip(usize::try_from(offset).unwrap_or(usize::MAX))
                .take(limit as usize)
                .collect();
            Ok(list(data, total, limit, offset))
        }
        "cartesi_getLastAcceptedEpochIndex" => epochs(store, config.epoch_length)?
            .into_iter()
            .rev()
            .find(|e| e["status"] == "CLAIM_ACCEPTED")
            .map(|e| json!({ "data": e["index"] }))
            .ok_or_else(|| not_found("Epoch")),
        "crucible_listClaims" => Ok(json!({
            "data": epoch_claims(store, config.epoch_length)?,
        })),
        "cartesi_getEpoch" => {
            let index = required(params, "epoch_index")?;
            let wanted = hex_u64(index);
            epochs(store, config.epoch_length)?
                .into_iter()
                .find(|e| e["index"] == wanted)
                .map(|e| json!({ "data": e }))
                .ok_or_else(|| not_found("Epoch"))
        }
        _ => Err(RpcError(
            METHOD_NOT_FOUND,
            format!("method {method} not found"),
        )),
    }
}

const fn status_json(status: &Status) -> &'static str {
    match status {
        Status::Accepted => "ACCEPTED",
        Status::Rejected => "REJECTED",
        Status::Exception(_) => "EXCEPTION",
    }
}

fn input_json(row: &InputRow, epoch: u64) -> Value {
    let decoded = decode_advance(&row.blob).ok().map(|(m, payload)| {
        json!({
            "chain_id": hex_u64(m.chain_id),
            "application_contract": m.app_contract,
            "sender": m.msg_sender,
            "block_number": hex_u64(m.block_number),
            "block_timestamp": hex_u64(m.block_timestamp),
            "prev_randao": m.prev_randao,
            "index": hex_u64(m.input_index),
            "payload": hex::encode_prefixed(payload),
        })
    });
    json!({
        "epoch_index": hex_u64(epoch),
        "index": hex_u64(row.index),
        "block_number": hex_u64(row.block),
        "raw_data": hex::encode_prefixed(&row.blob),
        "decoded_data": decoded,
        "status": status_json(&row.status),
        "outputs_hash": row.root,
        "machine_hash": null,
        "transaction_reference": null,
    })
}

fn input_epoch(
    store: &Store,
    input: u64,
    epoch_of: &dyn Fn(u64) -> u64,
) -> Result<String, RpcError> {
    let row = store.input(input)?.ok_or_else(|| not_found("Input"))?;
    Ok(hex_u64(epoch_of(row.block)))
}

fn output_json(
    store: &Store,
    row: &OutputRow,
    epoch_of: &dyn Fn(u64) -> u64,
) -> Result<Value, RpcError> {
    let bytes = &row.bytes;
    let selector = hex::encode_prefixed(bytes.get(..4).unwrap_or_default());
    let decoded = if let Ok(n) = Outputs::NoticeCall::abi_decode(bytes) {
        json!({ "type": selector, "payload": hex::encode_prefixed(&n.payload) })
    } else if let Ok(v) = Outputs::VoucherCall::abi_decode(bytes) {
        json!({
            "type": selector,
            "destination": v.destination,
            "value": format!("{:#x}", v.value),
            "payload": hex::encode_prefixed(&v.payload),
        })
    } else if let Ok(v) = Outputs::DelegateCallVoucherCall::abi_decode(bytes) {
        json!({
            "type": selector,
            "destination": v.destination,
            "payload": hex::encode_prefixed(&v.payload),
        })
    } else {
        Value::Null
    };
    Ok(json!({
        "epoch_index": input_epoch(store, row.input, epoch_of)?,
        "input_index": hex_u64(row.input),
        "index": hex_u64(row.index),
        "raw_data": hex::encode_prefixed(bytes),
        "decoded_data": decoded,
        "hash": keccak256(bytes),
        "output_hashes_siblings": row.siblings,
        "execution_transaction_hash": null,
    }))
}

fn report_json(
    store: &Store,
    row: &ReportRow,
    epoch_of: &dyn Fn(u64) -> u64,
) -> Result<Value, RpcError> {
    Ok(json!({
        "epoch_index": input_epoch(store, row.input, epoch_of)?,
        "input_index": hex_u64(row.input),
        "index": hex_u64(row.index),
        "raw_data": hex::encode_prefixed(&row.bytes),
    }))
}

/// Every epoch that holds inputs, oldest first, with this node's root once the epoch is
/// read, its claim if it made one, and a status that follows the claim's life on chain:
/// `OPEN` (not read to its end), `CLAIM_COMPUTED` (read; this node has not claimed),
/// `CLAIM_SUBMITTED`, `CLAIM_ACCEPTED` (the consensus holds this node's root valid) or
/// `CLAIM_REJECTED` (the consensus accepted another root).
fn epochs(store: &Store, epoch_length: u64) -> Result<Vec<Value>, RpcError> {
    let length = epoch_length.max(1);
    let claims = store.claims()?;
    let proven = store.proven()?;
    let accepted = store.accepted()?;
    let next_block = store.next_block()?;
    store
        .epoch_input_counts(length)?
        .into_iter()
        .map(|(epoch, count)| {
            let last_block = (epoch + 1) * length - 1;
            let claim = claims.iter().find(|c| c.block == last_block);
            let read = last_block < next_block;
            let root = if read {
                Some(store.root_at(last_block)?.0)
            } else {
                None
            };
            let chain = accepted.iter().find(|a| a.block == last_block);
            let status = if proven.iter().any(|p| p.block == last_block)
                || chain.is_some_and(|a| Some(a.root) == root)
            {
                "CLAIM_ACCEPTED"
            } else if chain.is_some() {
                "CLAIM_REJECTED"
            } else if claim.is_some() {
                "CLAIM_SUBMITTED"
            } else if read {
                "CLAIM_COMPUTED"
            } else {
                "OPEN"
            };
            Ok(json!({
                "index": hex_u64(epoch),
                "first_block": hex_u64(epoch * length),
                "last_block": hex_u64(last_block),
                "input_count": count,
                "outputs_merkle_root": root,
                "claim_hash": claim.map(|c| c.root),
                "claim_transaction_hash": claim.and_then(|c| c.tx),
                "status": status,
            }))
        })
        .collect()
}

/// Every epoch that holds inputs or claims, oldest first: this node's root once it is read,
/// every claim the consensus logged for it and the root it accepted.
fn epoch_claims(store: &Store, epoch_length: u64) -> Result<Vec<EpochClaims>, RpcError> {
    let length = epoch_length.max(1);
    let chain = store.chain_claims()?;
    let accepted = store.accepted()?;
    let next_block = store.next_block()?;
    let mut epochs: Vec<u64> = store
        .epoch_input_counts(length)?
        .into_iter()
        .map(|(e, _)| e)
        .chain(chain.iter().map(|c| c.block / length))
        .chain(accepted.iter().map(|a| a.block / length))
        .collect();
    epochs.sort_unstable();
    epochs.dedup();
    epochs
        .into_iter()
        .map(|epoch| {
            let last_block = (epoch + 1) * length - 1;
            Ok(EpochClaims {
                epoch_index: epoch,
                last_block,
                root: if last_block < next_block {
                    Some(store.root_at(last_block)?.0)
                } else {
                    None
                },
                claims: chain
                    .iter()
                    .filter(|c| c.block == last_block)
                    .copied()
                    .collect(),
                accepted: accepted.iter().find(|a| a.block == last_block).copied(),
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::StoredInput;
    use alloy::primitives::U256;
    use crucible_types::abi::{ICrucible, Inputs};

    const APP: Address = Address::repeat_byte(0xaa);

    /// An `EvmAdvance` blob for input `index` from `sender`.
    fn advance(index: u64, sender: Address, payload: Vec<u8>) -> Vec<u8> {
        Inputs::EvmAdvanceCall {
            chainId: U256::from(31337),
            appContract: APP,
            msgSender: sender,
            blockNumber: U256::from(10 + index),
            blockTimestamp: U256::from(1_000),
            prevRandao: U256::ZERO,
            index: U256::from(index),
            payload: payload.into(),
        }
        .abi_encode()
    }

    struct Db {
        store: Store,
        next: u64,
    }

    impl Db {
        fn new() -> Self {
            Self {
                store: Store::in_memory().unwrap(),
                next: 0,
            }
        }

        /// Records an accepted chunk input and returns its index.
        fn chunk(&mut self, sender: Address, digest: B256, index: u32, count: u32, data: &[u8]) {
            let call = ICrucible::putChunkCall {
                sha256Digest: digest,
                index,
                count,
                data: data.to_vec().into(),
            };
            let input = StoredInput {
                index: self.next,
                block: 10 + self.next,
                blob: advance(self.next, sender, call.abi_encode()),
                status: Status::Accepted,
                outputs: vec![],
                reports: vec![],
                root: B256::ZERO,
            };
            let chunk = ChunkRef {
                input: self.next,
                digest,
                uploader: sender,
                index,
                count,
            };
            self.store
                .record(&input, 0, input.block, Some(&chunk))
                .unwrap();
            self.next += 1;
        }
    }

    #[test]
    fn blobs_come_from_one_complete_upload_that_matches_the_cid() {
        let bytes = b"the model bytes, in three chunks".to_vec();
        let cid = Cid::of(&bytes);
        let digest = B256::from(*cid.digest());
        let (mallory, alice) = (Address::repeat_byte(1), Address::repeat_byte(2));
        let mut db = Db::new();
        // Mallory claims the digest with wrong bytes; Alice's upload is incomplete so far.
        db.chunk(mallory, digest, 0, 2, b"garbage ");
        db.chunk(mallory, digest, 1, 2, b"garbage");
        db.chunk(alice, digest, 0, 3, &bytes[..10]);
        db.chunk(alice, digest, 2, 3, &bytes[20..]);
        assert_eq!(blob(&db.store, &cid).unwrap(), None);
        // A chunk sent again replaces the earlier one; then the upload completes.
        db.chunk(alice, digest, 0, 3, b"wrong wron");
        db.chunk(alice, digest, 0, 3, &bytes[..10]);
        db.chunk(alice, digest, 1, 3, &bytes[10..20]);
        assert_eq!(blob(&db.store, &cid).unwrap(), Some(bytes.clone()));
        let status = chunk_status(&db.store, &cid).unwrap();
        let alice_upload = status["uploads"]
            .as_array()
            .unwrap()
            .iter()
            .find(|u| u["count"] == 3)
            .unwrap()
            .clone();
        assert_eq!(alice_upload["indices"], json!([0, 1, 2]));
        assert_eq!(blob(&db.store, &Cid::of(b"other")).unwrap(), None);
    }

    fn ctx(store: Store) -> Ctx {
        Ctx {
            config: QueryConfig {
                app: APP,
                chain_id: 31337,
                epoch_length: 4,
            },
            store: Mutex::new(store),
            inspect: mpsc::channel(1).0,
        }
    }

    fn call_json(ctx: &Ctx, body: &str) -> Value {
        rpc(ctx, body.as_bytes())
    }

    #[test]
    fn json_rpc_answers_in_the_official_shapes() {
        let mut db = Db::new();
        for i in 0..5 {
            db.chunk(Address::repeat_byte(3), B256::repeat_byte(i), 0, 1, &[i]);
        }
        let ctx = ctx(db.store);
        let app = APP.to_string();
        let count = call_json(
            &ctx,
            &format!(
                r#"{{"jsonrpc":"2.0","id":7,"method":"cartesi_getProcessedInputCount","params":{{"application":"{app}"}}}}"#
            ),
        );
        assert_eq!(
            count,
            json!({"jsonrpc": "2.0", "id": 7, "result": {"data": "0x5"}})
        );
        let page = call_json(
            &ctx,
            r#"{"jsonrpc":"2.0","id":1,"method":"cartesi_listInputs","params":{"application":"crucible","limit":2,"offset":"0x3"}}"#,
        );
        let result = &page["result"];
        assert_eq!(
            result["pagination"],
            json!({"total_count": 5, "limit": 2, "offset": 3})
        );
        assert_eq!(result["data"][0]["index"], "0x3");
        assert_eq!(result["data"][0]["status"], "ACCEPTED");
        // Block 13 lies in epoch 3 of 4-block epochs.
        assert_eq!(result["data"][0]["epoch_index"], "0x3");
        assert_eq!(
            result["data"][0]["decoded_data"]["sender"]
                .as_str()
                .unwrap()
                .to_lowercase(),
            Address::repeat_byte(3).to_string().to_lowercase()
        );
        let epochs = call_json(
            &ctx,
            r#"{"jsonrpc":"2.0","id":1,"method":"cartesi_listEpochs","params":{"application":"crucible"}}"#,
        );
        let epochs = epochs["result"]["data"].as_array().unwrap().clone();
        assert_eq!(epochs.len(), 2, "blocks 10..=14 span epochs 2 and 3");
        // The cursor is at block 14: epoch 2 is read whole (its root computed, nobody has
        // claimed it), epoch 3 is not.
        assert_eq!(
            (
                epochs[0]["input_count"].clone(),
                epochs[0]["status"].clone(),
                epochs[1]["status"].clone(),
                epochs[1]["outputs_merkle_root"].clone(),
            ),
            (
                json!(2),
                json!("CLAIM_COMPUTED"),
                json!("OPEN"),
                Value::Null
            )
        );
        assert!(epochs[0]["outputs_merkle_root"].is_string());
        // A batch answers each call in order.
        let batch = call_json(
            &ctx,
            r#"[{"jsonrpc":"2.0","id":1,"method":"cartesi_getNodeVersion"},{"jsonrpc":"2.0","id":2,"method":"cartesi_getChainId"}]"#,
        );
        assert_eq!(batch[1]["result"]["data"], "0x7a69");
    }

    #[test]
    fn json_rpc_errors_name_the_problem() {
        let ctx = ctx(Db::new().store);
        let code = |body: &str| call_json(&ctx, body)["error"]["code"].as_i64().unwrap();
        assert_eq!(code("{not json"), PARSE_ERROR);
        assert_eq!(
            code(r#"{"id":1,"method":"cartesi_getNodeVersion"}"#),
            INVALID_REQUEST
        );
        assert_eq!(
            code(r#"{"jsonrpc":"2.0","id":1,"method":"eth_call"}"#),
            METHOD_NOT_FOUND
        );
        assert_eq!(
            code(r#"{"jsonrpc":"2.0","id":1,"method":"cartesi_listInputs","params":{}}"#),
            INVALID_PARAMS
        );
        assert_eq!(
            code(
                r#"{"jsonrpc":"2.0","id":1,"method":"cartesi_listInputs","params":{"application":"someone-else"}}"#
            ),
            APP_NOT_FOUND
        );
        assert_eq!(
            code(
                r#"{"jsonrpc":"2.0","id":1,"method":"cartesi_getInput","params":{"application":"crucible","input_index":"12"}}"#
            ),
            INVALID_PARAMS
        );
        assert_eq!(
            code(
                r#"{"jsonrpc":"2.0","id":1,"method":"cartesi_getOutput","params":{"application":"crucible","output_index":"0x0"}}"#
            ),
            NOT_FOUND
        );
        assert_eq!(
            code(
                r#"{"jsonrpc":"2.0","id":1,"method":"cartesi_listOutputs","params":{"application":"crucible","limit":0}}"#
            ),
            INVALID_PARAMS
        );
        assert_eq!(
            code(r#"{"jsonrpc":"2.0","id":1,"method":"cartesi_listOutputs","params":[1, 2]}"#),
            INVALID_PARAMS
        );
    }
}
