//! Client of a node's query API (the official v2 node's `/inspect` and `cartesi_*`
//! JSON-RPC, plus crucible-node's `/blobs`).

use crate::exit::Exit;
use alloy::primitives::{Address, hex};
use anyhow::{Context, bail};
use crucible_types::Cid;
use serde_json::{Value, json};
use std::time::{Duration, Instant};

/// One processed input, as the node reports it.
#[derive(Debug, Clone)]
pub(crate) struct Processed {
    pub(crate) accepted: bool,
    /// The input's outputs (`cartesi_listOutputs` items).
    pub(crate) outputs: Vec<Value>,
    /// The input's report payloads.
    pub(crate) reports: Vec<Vec<u8>>,
}

impl Processed {
    /// The reports as text (the DApp reports rejections in UTF-8).
    pub(crate) fn reason(&self) -> String {
        self.reports
            .iter()
            .map(|r| String::from_utf8_lossy(r).into_owned())
            .collect::<Vec<_>>()
            .join("; ")
    }
}

#[derive(Debug, Clone)]
pub(crate) struct NodeApi {
    url: String,
    app: Address,
    client: reqwest::Client,
    /// Show spinners while waiting (not in `--json` mode, only on a terminal).
    spinners: bool,
}

fn unavailable(url: &str, e: &reqwest::Error) -> Exit {
    Exit::Unavailable(format!(
        "the node at {url} does not answer ({e}); is it running? (crucible devnet status)"
    ))
}

/// A `0x` hex quantity.
pub(crate) fn hex_u64(v: &Value) -> anyhow::Result<u64> {
    let s = v.as_str().context("expected a hex quantity")?;
    u64::from_str_radix(s.trim_start_matches("0x"), 16).context("bad hex quantity")
}

/// `0x` hex bytes.
pub(crate) fn hex_bytes(v: &Value) -> anyhow::Result<Vec<u8>> {
    hex::decode(v.as_str().context("expected hex bytes")?).context("bad hex bytes")
}

impl NodeApi {
    pub(crate) fn new(url: &str, app: Address, spinners: bool) -> Self {
        Self {
            url: url.trim_end_matches('/').to_string(),
            app,
            client: reqwest::Client::new(),
            spinners,
        }
    }

    /// A spinner on stderr saying what is awaited (hidden when not wanted).
    pub(crate) fn spinner(&self, what: String) -> indicatif::ProgressBar {
        let bar = if self.spinners {
            indicatif::ProgressBar::new_spinner()
        } else {
            indicatif::ProgressBar::hidden()
        };
        bar.set_message(what);
        bar.enable_steady_tick(Duration::from_millis(120));
        bar
    }

    /// One JSON-RPC call with `application` added to the params; returns `result`.
    pub(crate) async fn rpc(&self, method: &str, mut params: Value) -> anyhow::Result<Value> {
        params["application"] = json!(self.app.to_string());
        let answer: Value = self
            .client
            .post(format!("{}/rpc", self.url))
            .json(&json!({ "jsonrpc": "2.0", "id": 1, "method": method, "params": params }))
            .send()
            .await
            .map_err(|e| unavailable(&self.url, &e))?
            .json()
            .await
            .context("the node's JSON-RPC answer")?;
        if let Some(e) = answer.get("error") {
            bail!("{method}: {} ({})", e["message"], e["code"]);
        }
        Ok(answer["result"].clone())
    }

    /// A `cartesi_get*` call that may answer "not found" (-31001) while the node catches up.
    async fn get_opt(&self, method: &str, params: Value) -> anyhow::Result<Option<Value>> {
        match self.rpc(method, params).await {
            Ok(v) => Ok(Some(v["data"].clone())),
            Err(e) if e.to_string().contains("-31001") => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Every item of a `cartesi_list*` method (with extra filters), following pagination.
    pub(crate) async fn list_all(&self, method: &str, filter: Value) -> anyhow::Result<Vec<Value>> {
        let mut items = Vec::new();
        loop {
            let mut params = filter.clone();
            params["offset"] = json!(items.len());
            params["limit"] = json!(1000);
            let page = self.rpc(method, params).await?;
            let data = page["data"].as_array().cloned().unwrap_or_default();
            let total = page["pagination"]["total_count"].as_u64().unwrap_or(0);
            let got = data.len();
            items.extend(data);
            if items.len() as u64 >= total || got == 0 {
                return Ok(items);
            }
        }
    }

    /// Waits until the node has processed input `index`, then returns what it produced.
    pub(crate) async fn wait_input(
        &self,
        index: u64,
        timeout: Duration,
    ) -> anyhow::Result<Processed> {
        let started = Instant::now();
        let spinner = self.spinner(format!("waiting for the node to process input {index}"));
        let input = loop {
            if let Some(i) = self
                .get_opt(
                    "cartesi_getInput",
                    json!({ "input_index": format!("{index:#x}") }),
                )
                .await?
            {
                break i;
            }
            if started.elapsed() > timeout {
                return Err(Exit::Unavailable(format!(
                    "the node at {} has not processed input {index} after {timeout:?}; check it (crucible devnet status)",
                    self.url
                ))
                .into());
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        };
        spinner.finish_and_clear();
        let filter = json!({ "input_index": format!("{index:#x}") });
        let outputs = self.list_all("cartesi_listOutputs", filter.clone()).await?;
        let reports = self
            .list_all("cartesi_listReports", filter)
            .await?
            .iter()
            .map(|r| hex_bytes(&r["raw_data"]))
            .collect::<anyhow::Result<_>>()?;
        Ok(Processed {
            accepted: input["status"] == "ACCEPTED",
            outputs,
            reports,
        })
    }

    /// Like [`NodeApi::wait_input`], but a rejection is an error (exit 3).
    pub(crate) async fn expect_accepted(&self, index: u64) -> anyhow::Result<Processed> {
        let p = self.wait_input(index, Duration::from_secs(600)).await?;
        if !p.accepted {
            return Err(Exit::Rejected {
                input: index,
                reason: p.reason(),
            }
            .into());
        }
        Ok(p)
    }

    /// An inspect query answered by the DApp (a JSON report).
    pub(crate) async fn inspect(&self, path: &str) -> anyhow::Result<Value> {
        let answer: Value = self
            .client
            .post(format!("{}/inspect/{}", self.url, self.app))
            .body(path.to_string())
            .send()
            .await
            .map_err(|e| unavailable(&self.url, &e))?
            .json()
            .await
            .context("the node's inspect answer")?;
        let report = answer["reports"]
            .get(0)
            .with_context(|| format!("inspect {path}: no report ({answer})"))?;
        let v: Value = serde_json::from_slice(&hex_bytes(&report["payload"])?)
            .with_context(|| format!("inspect {path}: the report is not JSON"))?;
        if let Some(e) = v.get("error") {
            return Err(crate::exit::invalid(format!(
                "{path}: {}",
                e.as_str().unwrap_or_default()
            ))
            .into());
        }
        Ok(v)
    }

    /// The blob with `cid`, checked against it; `None` if the node has no complete upload.
    pub(crate) async fn blob(&self, cid: &Cid) -> anyhow::Result<Option<Vec<u8>>> {
        let r = self
            .client
            .get(format!("{}/blobs/{cid}", self.url))
            .send()
            .await
            .map_err(|e| unavailable(&self.url, &e))?;
        if r.status() == reqwest::StatusCode::NOT_FOUND {
            return Ok(None);
        }
        if !r.status().is_success() {
            bail!(
                "GET /blobs/{cid}: {} {}",
                r.status(),
                r.text().await.unwrap_or_default()
            );
        }
        let bytes = r.bytes().await?.to_vec();
        if Cid::of(&bytes) != *cid {
            bail!("the node sent bytes that do not match {cid}");
        }
        Ok(Some(bytes))
    }

    /// Chunk indices of `cid` the node has accepted from `uploader` with `count` chunks.
    pub(crate) async fn chunks(
        &self,
        cid: &Cid,
        uploader: Address,
        count: u32,
    ) -> anyhow::Result<Vec<u32>> {
        let v: Value = self
            .client
            .get(format!("{}/blobs/{cid}/chunks", self.url))
            .send()
            .await
            .map_err(|e| unavailable(&self.url, &e))?
            .json()
            .await
            .context("the node's chunk listing")?;
        Ok(v["uploads"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|u| {
                u["count"] == count
                    && u["uploader"]
                        .as_str()
                        .and_then(|a| a.parse::<Address>().ok())
                        == Some(uploader)
            })
            .flat_map(|u| u["indices"].as_array().cloned().unwrap_or_default())
            .filter_map(|i| i.as_u64().map(|i| i as u32))
            .collect())
    }
}
