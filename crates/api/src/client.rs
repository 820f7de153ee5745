//! [`NodeClient`]: the one client of the node API, for the CLI, validators and tests.

use crate::{
    Application, Data, Epoch, Error, Input, InspectResponse, List, Output, Quantity, Report,
    Result,
    rpc::{
        AppParams, GetEpochParams, GetInputParams, GetOutputParams, GetReportParams,
        ListEpochsParams, ListInputsParams, ListOutputsParams, ListReportsParams, PageParams,
        Request, Response,
    },
};
use serde::{Serialize, de::DeserializeOwned};
use std::sync::atomic::{AtomicU64, Ordering};

/// `body` as JSON of type `T`; what does not decode is an error that quotes it.
fn decode<T: DeserializeOwned>(what: &str, body: &[u8]) -> Result<T> {
    serde_json::from_slice(body).map_err(|e| Error::Decode {
        what: what.to_string(),
        detail: format!("{e}: {}", String::from_utf8_lossy(body)),
    })
}

/// Items per page when a client walks a whole list.
const WALK_PAGE: u64 = 1000;

/// A client of one application on one node: `cartesi_*` JSON-RPC at `<url>/rpc` and inspect
/// at `<url>/inspect/<application>`.
#[derive(Debug)]
pub struct NodeClient {
    url: String,
    application: String,
    http: reqwest::Client,
    next_id: AtomicU64,
}

/// One page of a list.
pub type Page<T> = List<T>;

impl NodeClient {
    /// A client of `application` (its name or `0x` address) on the node at `url`.
    pub fn new(url: &str, application: impl Into<String>) -> Self {
        Self::with_http(url, application, reqwest::Client::new())
    }

    /// The same with a given HTTP client (timeouts, proxies).
    pub fn with_http(url: &str, application: impl Into<String>, http: reqwest::Client) -> Self {
        Self {
            url: url.trim_end_matches('/').to_string(),
            application: application.into(),
            http,
            next_id: AtomicU64::new(1),
        }
    }

    /// The node's URL.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The application's name or address, as the client sends it.
    pub fn application(&self) -> &str {
        &self.application
    }

    fn unavailable(&self, source: reqwest::Error) -> Error {
        Error::Unavailable {
            url: self.url.clone(),
            source,
        }
    }

    /// The whole JSON-RPC response to `method` with `params` (errors included).
    pub async fn call_raw<P: Serialize, R: DeserializeOwned>(
        &self,
        method: &str,
        params: &P,
    ) -> Result<Response<R>> {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let body = self
            .http
            .post(format!("{}/rpc", self.url))
            .json(&Request::new(id, method, params))
            .send()
            .await
            .map_err(|e| self.unavailable(e))?
            .bytes()
            .await
            .map_err(|e| self.unavailable(e))?;
        decode(method, &body)
    }

    /// `method` with `params`: its result, or its error as [`Error::Rpc`].
    pub async fn call<P: Serialize, R: DeserializeOwned>(
        &self,
        method: &str,
        params: &P,
    ) -> Result<R> {
        let response = self.call_raw(method, params).await?;
        match (response.result, response.error) {
            (_, Some(error)) => Err(Error::Rpc {
                method: method.to_string(),
                error,
            }),
            (Some(result), None) => Ok(result),
            (None, None) => Err(Error::Decode {
                what: method.to_string(),
                detail: "neither result nor error".into(),
            }),
        }
    }

    /// A `get` method's item; `None` when the node answers "not found".
    async fn get_opt<P: Serialize, T: DeserializeOwned>(
        &self,
        method: &str,
        params: &P,
    ) -> Result<Option<T>> {
        match self.call::<_, Data<T>>(method, params).await {
            Ok(d) => Ok(Some(d.data)),
            Err(e) if e.is_not_found() => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Every item of the list `method` answers, page after page; `params` is built for
    /// each page.
    pub async fn walk<P: Serialize, T: DeserializeOwned>(
        &self,
        method: &str,
        params: impl Fn(PageParams) -> P,
    ) -> Result<Vec<T>> {
        let mut items = Vec::new();
        loop {
            let page: List<T> = self
                .call(
                    method,
                    &params(PageParams {
                        limit: Some(WALK_PAGE),
                        offset: Some(items.len() as u64),
                        descending: false,
                    }),
                )
                .await?;
            let got = page.data.len();
            items.extend(page.data);
            if got == 0 || items.len() as u64 >= page.pagination.total_count {
                return Ok(items);
            }
        }
    }

    fn app(&self) -> AppParams {
        AppParams {
            application: self.application.clone(),
        }
    }

    /// `cartesi_getApplication`.
    pub async fn get_application(&self) -> Result<Application> {
        Ok(self
            .call::<_, Data<Application>>("cartesi_getApplication", &self.app())
            .await?
            .data)
    }

    /// `cartesi_getProcessedInputCount`.
    pub async fn processed_input_count(&self) -> Result<u64> {
        Ok(self
            .call::<_, Data<Quantity>>("cartesi_getProcessedInputCount", &self.app())
            .await?
            .data
            .get())
    }

    /// `cartesi_getChainId`.
    pub async fn chain_id(&self) -> Result<u64> {
        let d: Data<Quantity> = self.call("cartesi_getChainId", &()).await?;
        Ok(d.data.get())
    }

    /// `cartesi_getLastAcceptedEpochIndex`; `None` before the first accepted epoch.
    pub async fn last_accepted_epoch_index(&self) -> Result<Option<u64>> {
        Ok(self
            .get_opt::<_, Quantity>("cartesi_getLastAcceptedEpochIndex", &self.app())
            .await?
            .map(Quantity::get))
    }

    /// `cartesi_getInput`; `None` until the node has processed it.
    pub async fn input(&self, index: u64) -> Result<Option<Input>> {
        self.get_opt(
            "cartesi_getInput",
            &GetInputParams {
                application: self.application.clone(),
                input_index: Quantity(index),
            },
        )
        .await
    }

    /// `cartesi_getOutput`; `None` if there is no such output yet.
    pub async fn output(&self, index: u64) -> Result<Option<Output>> {
        self.get_opt(
            "cartesi_getOutput",
            &GetOutputParams {
                application: self.application.clone(),
                output_index: Quantity(index),
            },
        )
        .await
    }

    /// `cartesi_getReport`; `None` if there is no such report yet.
    pub async fn report(&self, index: u64) -> Result<Option<Report>> {
        self.get_opt(
            "cartesi_getReport",
            &GetReportParams {
                application: self.application.clone(),
                report_index: Quantity(index),
            },
        )
        .await
    }

    /// `cartesi_getEpoch`; `None` if the node has no such epoch.
    pub async fn epoch(&self, index: u64) -> Result<Option<Epoch>> {
        self.get_opt(
            "cartesi_getEpoch",
            &GetEpochParams {
                application: self.application.clone(),
                epoch_index: Quantity(index),
            },
        )
        .await
    }

    /// Every input that matches `filter` (its application and pagination are ignored).
    pub async fn inputs(&self, filter: &ListInputsParams) -> Result<Vec<Input>> {
        self.walk("cartesi_listInputs", |page| ListInputsParams {
            application: self.application.clone(),
            page,
            ..filter.clone()
        })
        .await
    }

    /// Every output that matches `filter` (its application and pagination are ignored).
    pub async fn outputs(&self, filter: &ListOutputsParams) -> Result<Vec<Output>> {
        self.walk("cartesi_listOutputs", |page| ListOutputsParams {
            application: self.application.clone(),
            page,
            ..filter.clone()
        })
        .await
    }

    /// Every report that matches `filter` (its application and pagination are ignored).
    pub async fn reports(&self, filter: &ListReportsParams) -> Result<Vec<Report>> {
        self.walk("cartesi_listReports", |page| ListReportsParams {
            application: self.application.clone(),
            page,
            ..filter.clone()
        })
        .await
    }

    /// Every epoch, oldest first.
    pub async fn epochs(&self) -> Result<Vec<Epoch>> {
        self.walk("cartesi_listEpochs", |page| ListEpochsParams {
            application: self.application.clone(),
            status: None,
            page,
        })
        .await
    }

    /// crucible-node's `GET /blobs/<cid>`: the blob, checked against its CID; `None` if
    /// the node holds no complete upload of it.
    pub async fn blob(&self, cid: &crucible_types::Cid) -> Result<Option<Vec<u8>>> {
        let what = format!("GET /blobs/{cid}");
        let r = self
            .http
            .get(format!("{}/blobs/{cid}", self.url))
            .send()
            .await
            .map_err(|e| self.unavailable(e))?;
        let status = r.status();
        if status == reqwest::StatusCode::NOT_FOUND {
            return Ok(None);
        }
        let bytes = r.bytes().await.map_err(|e| self.unavailable(e))?.to_vec();
        if !status.is_success() {
            return Err(Error::Decode {
                what,
                detail: format!("{status}: {}", String::from_utf8_lossy(&bytes)),
            });
        }
        if crucible_types::Cid::of(&bytes) != *cid {
            return Err(Error::Decode {
                what,
                detail: "the bytes do not match the CID".into(),
            });
        }
        Ok(Some(bytes))
    }

    /// crucible-node's `GET /blobs/<cid>/chunks`.
    pub async fn chunks(&self, cid: &crucible_types::Cid) -> Result<crate::ChunkStatus> {
        let r = self
            .http
            .get(format!("{}/blobs/{cid}/chunks", self.url))
            .send()
            .await
            .map_err(|e| self.unavailable(e))?;
        let body = r.bytes().await.map_err(|e| self.unavailable(e))?;
        decode(&format!("GET /blobs/{cid}/chunks"), &body)
    }

    /// An inspect request with `payload`; the node's whole answer.
    pub async fn inspect(&self, payload: &[u8]) -> Result<InspectResponse> {
        let response = self
            .http
            .post(format!("{}/inspect/{}", self.url, self.application))
            .body(payload.to_vec())
            .send()
            .await
            .map_err(|e| self.unavailable(e))?;
        let status = response.status();
        let body = response.bytes().await.map_err(|e| self.unavailable(e))?;
        decode(&format!("inspect ({status})"), &body)
    }
}

impl NodeClient {
    /// `crucible_listClaims`: every epoch's claims next to the node's own root.
    pub async fn claims(&self) -> Result<Vec<crate::claims::EpochClaims>> {
        let d: Data<Vec<crate::claims::EpochClaims>> =
            self.call(crate::rpc::LIST_CLAIMS, &self.app()).await?;
        Ok(d.data)
    }
}
