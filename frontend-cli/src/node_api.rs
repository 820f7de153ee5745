//! Client of a node's query API (the official v2 node's `/inspect` and `cartesi_*`
//! JSON-RPC, plus crucible-node's `/blobs`).

use crate::exit::Exit;
use alloy::primitives::Address;
use anyhow::Context;
use crucible_api::{
    InputStatus, NodeClient, Output, Quantity,
    rpc::{ListOutputsParams, ListReportsParams},
};
use crucible_types::{Cid, inspect::Answer};
use std::time::{Duration, Instant};

/// One processed input, as the node reports it.
#[derive(Debug, Clone)]
pub(crate) struct Processed {
    pub(crate) accepted: bool,
    /// The input's outputs.
    pub(crate) outputs: Vec<Output>,
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

/// The CLI's view of one node: the shared [`NodeClient`] for the official API, plus
/// crucible-node's `/blobs` and progress spinners.
#[derive(Debug)]
pub(crate) struct NodeApi {
    client: NodeClient,
    /// Show spinners while waiting (not in `--json` mode, only on a terminal).
    spinners: bool,
}

fn unavailable(url: &str, e: &reqwest::Error) -> Exit {
    Exit::Unavailable(format!(
        "the node at {url} does not answer ({e}); is it running? (crucible devnet status)"
    ))
}

/// A node API error as the CLI reports it: an unreachable node exits as unavailable.
pub(crate) fn api_error(e: crucible_api::Error) -> anyhow::Error {
    match e {
        crucible_api::Error::Unavailable { url, source } => unavailable(&url, &source).into(),
        other => other.into(),
    }
}

impl NodeApi {
    pub(crate) fn new(url: &str, app: Address, spinners: bool) -> Self {
        Self {
            client: NodeClient::new(url, app.to_string()),
            spinners,
        }
    }

    /// The official API.
    pub(crate) fn api(&self) -> &NodeClient {
        &self.client
    }

    fn url(&self) -> &str {
        self.client.url()
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

    /// Every output of the application, oldest first.
    pub(crate) async fn outputs(&self) -> anyhow::Result<Vec<Output>> {
        self.client
            .outputs(&ListOutputsParams::default())
            .await
            .map_err(api_error)
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
            if let Some(i) = self.client.input(index).await.map_err(api_error)? {
                break i;
            }
            if started.elapsed() > timeout {
                return Err(Exit::Unavailable(format!(
                    "the node at {} has not processed input {index} after {timeout:?}; check it (crucible devnet status)",
                    self.url()
                ))
                .into());
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        };
        spinner.finish_and_clear();
        let outputs = self
            .client
            .outputs(&ListOutputsParams {
                input_index: Some(Quantity(index)),
                ..Default::default()
            })
            .await
            .map_err(api_error)?;
        let reports = self
            .client
            .reports(&ListReportsParams {
                input_index: Some(Quantity(index)),
                ..Default::default()
            })
            .await
            .map_err(api_error)?
            .into_iter()
            .map(|r| r.raw_data.to_vec())
            .collect();
        Ok(Processed {
            accepted: input.status == InputStatus::Accepted,
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

    /// An inspect query answered by the DApp: its report, as the
    /// [`crucible_types::inspect`] type of that path; the DApp's error answer exits as
    /// invalid input.
    pub(crate) async fn inspect<T: serde::de::DeserializeOwned>(
        &self,
        path: &str,
    ) -> anyhow::Result<T> {
        let answer = self
            .client
            .inspect(path.as_bytes())
            .await
            .map_err(api_error)?;
        let report = answer
            .reports
            .first()
            .with_context(|| format!("inspect {path}: no report ({answer:?})"))?;
        let answer: Answer<T> = serde_json::from_slice(&report.payload)
            .with_context(|| format!("inspect {path}: unexpected answer"))?;
        answer
            .into_result()
            .map_err(|e| crate::exit::invalid(format!("{path}: {e}")).into())
    }

    /// The blob with `cid`, checked against it; `None` if the node has no complete upload.
    pub(crate) async fn blob(&self, cid: &Cid) -> anyhow::Result<Option<Vec<u8>>> {
        self.client.blob(cid).await.map_err(api_error)
    }

    /// Chunk indices of `cid` the node has accepted from `uploader` with `count` chunks.
    pub(crate) async fn chunks(
        &self,
        cid: &Cid,
        uploader: Address,
        count: u32,
    ) -> anyhow::Result<Vec<u32>> {
        let status = self.client.chunks(cid).await.map_err(api_error)?;
        Ok(status
            .uploads
            .into_iter()
            .filter(|u| u.count == count && u.uploader == uploader)
            .flat_map(|u| u.indices)
            .collect())
    }
}
