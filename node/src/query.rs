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
    runner::chunk_data,
    store::{ChunkRef, Store},
};
use alloy::primitives::{Address, B256};
use bytes::Bytes;
use crucible_api::{ChunkStatus, ChunkUpload, InspectReport, InspectResponse, InspectStatus};
use crucible_types::Cid;
use http_body_util::{BodyExt, Full, Limited};
use hyper::{
    Method, Request, Response, StatusCode, body::Incoming, header, server::conn::http1,
    service::service_fn,
};
use hyper_util::rt::TokioIo;
use serde_json::Value;
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

pub use crucible_api::claims::EpochClaims;

/// An inspect query for the node's main loop, which owns the DApp.
#[derive(Debug)]
pub struct InspectJob {
    /// The payload.
    pub payload: Vec<u8>,
    /// Where the answer goes, with the processed input count at the time.
    pub reply: oneshot::Sender<Result<(RequestResult, u64)>>,
}

/// What the query server knows besides the database.
#[derive(Debug, Clone)]
pub struct QueryConfig {
    /// The application contract.
    pub app: Address,
    /// L1 chain id.
    pub chain_id: u64,
    /// Blocks per epoch.
    pub epoch_length: u64,
    /// What the chain says of the application (for `cartesi_getApplication`).
    pub chain: AppInfo,
    /// When this node started serving (the application's `created_at`).
    pub started: crucible_api::Timestamp,
}

/// What `cartesi_getApplication` shows besides the database.
#[derive(Debug, Clone)]
pub struct AppInfo {
    /// The application's consensus.
    pub consensus: Address,
    /// Authority or Quorum.
    pub consensus_type: crucible_api::Consensus,
    /// The InputBox.
    pub input_box: Address,
    /// The block the InputBox was deployed in.
    pub input_box_block: u64,
    /// The application's template hash.
    pub template_hash: B256,
    /// The application's data availability.
    pub data_availability: alloy::primitives::Bytes,
    /// The limits the node runs the DApp with.
    pub execution: crucible_api::ExecutionParameters,
}

pub(crate) struct Ctx {
    pub(crate) config: QueryConfig,
    pub(crate) store: Mutex<Store>,
    inspect: mpsc::Sender<InspectJob>,
    /// The web page's last overview and what it was built from.
    pub(crate) web_cache: crate::web::Cache,
}

pub(crate) type Reply = Response<Full<Bytes>>;

pub(crate) fn text(status: StatusCode, body: impl Into<String>) -> Reply {
    let mut r = Response::new(Full::new(Bytes::from(body.into())));
    *r.status_mut() = status;
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        header::HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    r
}

pub(crate) fn json_reply(value: &Value) -> Reply {
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
        web_cache: Default::default(),
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
            if !ctx.config.is_app(app) {
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
                match tokio::task::spawn_blocking(move || {
                    crate::rpc_api::answer(&ctx.config, &ctx.store, &b)
                })
                .await
                {
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
                Ok(Ok(v)) => json_reply(&serde_json::to_value(v).unwrap_or_default()),
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
        (&Method::GET, [""]) => crate::web::page(),
        (&Method::GET, ["assets", name]) => crate::web::asset(name),
        (&Method::GET, ["api", "overview"]) => crate::web::overview(ctx).await,
        (&Method::GET, ["competitions", id, "scores.svg"]) => crate::web::plot(ctx, id).await,
        _ => text(
            StatusCode::NOT_FOUND,
            "not found: GET / (the leaderboard), POST /inspect/<application>, POST /rpc, GET /blobs/<cid>, GET /blobs/<cid>/chunks",
        ),
    }
}

impl QueryConfig {
    /// Whether `name` names this node's application: its name or its address.
    pub(crate) fn is_app(&self, name: &str) -> bool {
        name == APP_NAME || name.parse::<Address>().is_ok_and(|a| a == self.app)
    }
}

/// Runs an inspect request through the main loop: the DApp's result and the processed
/// input count, or the reply that says why there is none.
pub(crate) async fn run_inspect(
    ctx: &Ctx,
    payload: Vec<u8>,
) -> std::result::Result<(RequestResult, u64), Reply> {
    let (reply, answer) = oneshot::channel();
    if ctx
        .inspect
        .send(InspectJob { payload, reply })
        .await
        .is_err()
    {
        return Err(text(
            StatusCode::SERVICE_UNAVAILABLE,
            "the node is stopping",
        ));
    }
    match answer.await {
        Ok(Ok(done)) => Ok(done),
        Ok(Err(e)) => Err(text(StatusCode::INTERNAL_SERVER_ERROR, e.to_string())),
        Err(_) => Err(text(
            StatusCode::SERVICE_UNAVAILABLE,
            "the node is stopping",
        )),
    }
}

async fn inspect(ctx: &Ctx, payload: Vec<u8>) -> Reply {
    let (result, processed) = match run_inspect(ctx, payload).await {
        Ok(done) => done,
        Err(reply) => return reply,
    };
    let (status, exception) = match result.status {
        Status::Accepted => (InspectStatus::Accepted, None),
        Status::Rejected => (InspectStatus::Rejected, None),
        Status::Exception(why) => (InspectStatus::Exception, Some(why.into())),
    };
    json_reply(
        &serde_json::to_value(InspectResponse {
            status,
            exception,
            reports: result
                .reports
                .into_iter()
                .map(|r| InspectReport { payload: r.into() })
                .collect(),
            processed_input_count: processed,
        })
        .unwrap_or_default(),
    )
}

/// Which chunks of blob `cid` each uploader has had accepted so far (resumable uploads).
pub fn chunk_status(store: &Store, cid: &Cid) -> Result<ChunkStatus> {
    let digest = B256::from(*cid.digest());
    let mut uploads: BTreeMap<(Address, u32), Vec<u32>> = BTreeMap::new();
    for (c, _) in store.chunks(&digest)? {
        let indices = uploads.entry((c.uploader, c.count)).or_default();
        if let Err(at) = indices.binary_search(&c.index) {
            indices.insert(at, c.index);
        }
    }
    Ok(ChunkStatus {
        cid: *cid,
        uploads: uploads
            .into_iter()
            .map(|((uploader, count), indices)| ChunkUpload {
                uploader,
                count,
                indices,
            })
            .collect(),
    })
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

/// Every epoch that holds inputs or claims, oldest first: this node's root once it is read,
/// every claim the consensus logged for it and the root it accepted.
pub(crate) fn epoch_claims(store: &Store, epoch_length: u64) -> Result<Vec<EpochClaims>> {
    let length = epoch_length.max(1);
    let chain = store.chain_claims()?;
    let accepted = store.accepted()?;
    let next_block = store.next_block()?;
    let mut epochs: Vec<u64> = store
        .epoch_inputs(length)?
        .into_iter()
        .map(|e| e.epoch)
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
pub(crate) mod tests {
    use super::*;
    use crate::store::StoredInput;
    use alloy::{primitives::U256, sol_types::SolCall};
    use crucible_types::abi::{ICrucible, Inputs};

    pub(crate) const APP: Address = Address::repeat_byte(0xaa);

    /// An `EvmAdvance` blob for input `index` from `sender`.
    pub(crate) fn advance(index: u64, sender: Address, payload: Vec<u8>) -> Vec<u8> {
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

    pub(crate) struct Db {
        pub(crate) store: Store,
        pub(crate) next: u64,
    }

    impl Db {
        pub(crate) fn new() -> Self {
            Self {
                store: Store::in_memory().unwrap(),
                next: 0,
            }
        }

        /// Records an accepted chunk input.
        pub(crate) fn chunk(
            &mut self,
            sender: Address,
            digest: B256,
            index: u32,
            count: u32,
            data: &[u8],
        ) {
            let call = ICrucible::putChunkCall {
                sha256Digest: digest,
                index,
                count,
                data: data.to_vec().into(),
            };
            let input = StoredInput {
                index: self.next,
                block: 10 + self.next,
                tx: B256::repeat_byte(0x77),
                log_index: self.next,
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
        let alice_upload = status.uploads.iter().find(|u| u.count == 3).unwrap();
        assert_eq!(
            (alice_upload.uploader, &alice_upload.indices[..]),
            (alice, &[0, 1, 2][..])
        );
        assert_eq!(blob(&db.store, &Cid::of(b"other")).unwrap(), None);
    }
}
