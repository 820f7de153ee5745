//! The Crucible DApp's loop over the rollup HTTP API, with the status handling of the official
//! `rollup-http-server`: `/finish` answers 200 with the next request or 202 when none is
//! ready (host-mode servers only; retry); `/notice` and `/voucher` answer 201; `/report`
//! and `/exception` answer 202.

use alloy_primitives::hex;
use anyhow::{Context, bail};
use crucible_core::{AdvanceMeta, Outcome, Output, State};
use crucible_types::rollup::http::{self, Request};
use reqwest::{StatusCode, blocking::Client};

/// A rewrite of every output before it is emitted. Only the deliberately faulty DApp of the
/// validator tests sets one (`crucible-dapp-faulty`); the DApp itself never does.
pub type Tamper = fn(Output) -> Output;

/// The DApp: crucible-core's [`State`] behind the rollup HTTP API.
pub struct Dapp {
    client: Client,
    url: String,
    state: State,
    tamper: Option<Tamper>,
}

fn payload_body(payload: &[u8]) -> http::Payload {
    http::Payload {
        payload: hex::encode_prefixed(payload),
    }
}

fn unhex(s: &str) -> anyhow::Result<Vec<u8>> {
    let body = s
        .strip_prefix("0x")
        .with_context(|| format!("payload {s:.20}… lacks the 0x prefix"))?;
    Ok(hex::decode(body)?)
}

impl Dapp {
    /// A DApp talking to the rollup HTTP server at `url`.
    pub fn new(url: &str) -> anyhow::Result<Self> {
        // `/finish` blocks until the next input arrives: no read timeout.
        let client = Client::builder().timeout(None).build()?;
        Ok(Self {
            client,
            url: url.trim_end_matches('/').to_string(),
            state: State::default(),
            tamper: None,
        })
    }

    /// Rewrites every output with `tamper` before emitting it.
    #[must_use]
    pub fn with_tamper(mut self, tamper: Tamper) -> Self {
        self.tamper = Some(tamper);
        self
    }

    fn post(
        &self,
        path: &str,
        body: &impl serde::Serialize,
        expect: StatusCode,
    ) -> anyhow::Result<reqwest::blocking::Response> {
        let resp = self
            .client
            .post(format!("{}{path}", self.url))
            .json(body)
            .send()
            .with_context(|| format!("POST {path}"))?;
        if resp.status() != expect {
            let status = resp.status();
            bail!(
                "POST {path} answered {status}: {}",
                resp.text().unwrap_or_default()
            );
        }
        Ok(resp)
    }

    fn emit(&self, output: &Output) -> anyhow::Result<()> {
        match output {
            Output::Notice(payload) => {
                self.post("/notice", &payload_body(payload), StatusCode::CREATED)?;
            }
            Output::Voucher {
                destination,
                value,
                payload,
            } => {
                let body = http::Voucher {
                    destination: format!("{destination:#x}"),
                    value: Some(hex::encode_prefixed(value.to_be_bytes::<32>())),
                    payload: hex::encode_prefixed(payload),
                };
                self.post("/voucher", &body, StatusCode::CREATED)?;
            }
            Output::Report(payload) => {
                self.post("/report", &payload_body(payload), StatusCode::ACCEPTED)?;
            }
        }
        Ok(())
    }

    /// Serves requests until the server goes away or an invariant breaks.
    pub fn run(&mut self) -> anyhow::Result<()> {
        // The first /finish carries no result; the official tools expect "accept".
        let mut status = "accept";
        loop {
            let resp = self
                .client
                .post(format!("{}/finish", self.url))
                .json(&http::Finish {
                    status: status.into(),
                })
                .send()
                .context("POST /finish")?;
            match resp.status() {
                StatusCode::ACCEPTED => continue,
                StatusCode::OK => {}
                other => bail!(
                    "POST /finish answered {other}: {}",
                    resp.text().unwrap_or_default()
                ),
            }
            let request: Request = resp.json().context("decoding the /finish answer")?;
            status = match request {
                Request::AdvanceState { metadata, payload } => {
                    self.advance(&metadata, &unhex(&payload)?)?
                }
                Request::InspectState { payload } => {
                    for report in self.state.inspect(&unhex(&payload)?)? {
                        self.emit(&report)?;
                    }
                    "accept"
                }
            };
        }
    }

    fn advance(&mut self, meta: &AdvanceMeta, payload: &[u8]) -> anyhow::Result<&'static str> {
        match self.state.advance(meta, payload) {
            Ok(Outcome::Accepted { outputs }) => {
                for output in outputs {
                    let output = match self.tamper {
                        Some(tamper) => tamper(output),
                        None => output,
                    };
                    self.emit(&output)?;
                }
                Ok("accept")
            }
            Ok(Outcome::Rejected { reason }) => {
                self.emit(&Output::Report(
                    format!("input {} rejected: {reason}", meta.input_index).into_bytes(),
                ))?;
                Ok("reject")
            }
            Err(broken) => {
                let message = format!("input {}: {broken}", meta.input_index);
                self.post(
                    "/exception",
                    &payload_body(message.as_bytes()),
                    StatusCode::ACCEPTED,
                )?;
                bail!("raised an exception: {message}")
            }
        }
    }
}
