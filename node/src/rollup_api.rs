//! The rollup HTTP API that the DApp talks to, with the official `rollup-http-server`'s
//! behaviour (machine-guest-tools 0.17): `POST /finish` (200 with the next request; 202
//! when none arrives within the wait, as host-mode servers do), `/notice`, `/voucher` and
//! `/delegate-call-voucher` (201 `{"index": N}`, N global over the application's life),
//! `/report` and `/exception` (202, empty), `/gio` (unsupported: 400). Errors are 400
//! `text/plain`. Payloads are `"0x"`-prefixed hex: as upstream, the first two characters
//! are skipped and the rest must be even-length hex; a destination must be 42 characters
//! starting with `0x`; a voucher's `value` is optional (zero) and at most 32 bytes.

use alloy_primitives::{Address, U256, hex};
use alloy_sol_types::SolCall;
use bytes::Bytes;
use crucible_types::{AdvanceMeta, abi::Outputs};
use http_body_util::{BodyExt, Full, Limited};
use hyper::{
    Method, Request, Response, StatusCode, body::Incoming, header, server::conn::http1,
    service::service_fn,
};
use hyper_util::rt::TokioIo;
use serde::Deserialize;
use std::{
    future::Future,
    sync::{Arc, Mutex},
    time::Duration,
};
use tokio::{
    net::TcpListener,
    sync::{mpsc, oneshot, watch},
};

/// Largest request body, as actix's `JsonConfig` limit upstream.
pub const MAX_BODY: usize = 5 << 20;

/// A request for the DApp.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RollupRequest {
    /// An advance-state input.
    Advance {
        /// Its metadata.
        meta: AdvanceMeta,
        /// Its payload.
        payload: Vec<u8>,
    },
    /// An inspect-state query.
    Inspect {
        /// The query bytes.
        payload: Vec<u8>,
    },
}

/// How the DApp finished a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Status {
    /// `/finish` with `accept`.
    Accepted,
    /// `/finish` with `reject`: the node discards this input's outputs.
    Rejected,
    /// `/exception` (or the DApp exited): the payload says why; the machine is dead.
    Exception(Vec<u8>),
}

/// What the DApp produced for one request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestResult {
    /// How it finished.
    pub status: Status,
    /// ABI-encoded `Notice`/`Voucher`/`DelegateCallVoucher` outputs, in order.
    pub outputs: Vec<Vec<u8>>,
    /// Report payloads, in order.
    pub reports: Vec<Vec<u8>>,
}

pub(crate) struct Job {
    pub(crate) request: RollupRequest,
    pub(crate) reply: oneshot::Sender<RequestResult>,
}

struct Current {
    request: RollupRequest,
    outputs: Vec<Vec<u8>>,
    reports: Vec<Vec<u8>>,
    reply: oneshot::Sender<RequestResult>,
}

struct Inner {
    current: Option<Current>,
    /// Outputs of accepted inputs so far: the index base of the next output.
    accepted_outputs: u64,
}

/// Shared state of the server.
pub(crate) struct Shared {
    inner: Mutex<Inner>,
    jobs: tokio::sync::Mutex<mpsc::Receiver<Job>>,
    finish_wait: Duration,
    /// Counts `/finish` calls; the first one means the DApp is ready.
    finishes: watch::Sender<u64>,
}

impl Shared {
    pub(crate) fn new(
        jobs: mpsc::Receiver<Job>,
        accepted_outputs: u64,
        finish_wait: Duration,
    ) -> Arc<Self> {
        Arc::new(Self {
            inner: Mutex::new(Inner {
                current: None,
                accepted_outputs,
            }),
            jobs: tokio::sync::Mutex::new(jobs),
            finish_wait,
            finishes: watch::channel(0).0,
        })
    }

    pub(crate) fn finishes(&self) -> watch::Receiver<u64> {
        self.finishes.subscribe()
    }

    /// Ends the request in progress as an exception carrying `payload` (an `/exception`
    /// call, or the DApp's death).
    pub(crate) fn fail_current(&self, payload: Vec<u8>) {
        let current = self
            .inner
            .lock()
            .expect("rollup server lock")
            .current
            .take();
        if let Some(c) = current {
            let _ = c.reply.send(RequestResult {
                status: Status::Exception(payload),
                outputs: c.outputs,
                reports: c.reports,
            });
        }
    }
}

type Reply = Response<Full<Bytes>>;

fn text(status: StatusCode, body: impl Into<String>) -> Reply {
    let mut r = Response::new(Full::new(Bytes::from(body.into())));
    *r.status_mut() = status;
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        header::HeaderValue::from_static("text/plain"),
    );
    r
}

fn json_reply(status: StatusCode, body: serde_json::Value) -> Reply {
    let mut r = Response::new(Full::new(Bytes::from(body.to_string())));
    *r.status_mut() = status;
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        header::HeaderValue::from_static("application/json"),
    );
    r
}

fn empty(status: StatusCode) -> Reply {
    let mut r = Response::new(Full::new(Bytes::new()));
    *r.status_mut() = status;
    r
}

/// A 400 answer's text.
type BadRequest = String;

fn bad(why: BadRequest) -> Reply {
    text(StatusCode::BAD_REQUEST, why)
}

/// `hex::decode(&s[2..])`, as upstream.
fn payload_hex(s: &str) -> Result<Vec<u8>, BadRequest> {
    let rest = s.get(2..).ok_or_else(|| "payload not valid".to_string())?;
    hex::decode(rest).map_err(|e| format!("payload not valid: {e}"))
}

fn destination(s: &str) -> Result<Address, BadRequest> {
    if s.len() != 42 || !s.starts_with("0x") {
        return Err("address not valid".into());
    }
    let bytes = hex::decode(&s[2..]).map_err(|_| "address not valid".to_string())?;
    Ok(Address::from_slice(&bytes))
}

fn value(s: Option<&str>) -> Result<U256, BadRequest> {
    let Some(s) = s else { return Ok(U256::ZERO) };
    let bytes = payload_hex(s)?;
    if bytes.len() > 32 {
        return Err("value not valid: more than 32 bytes".into());
    }
    Ok(U256::from_be_slice(&bytes))
}

use crucible_types::rollup::http::{
    self, DelegateCallVoucher as DelegateBody, Finish, Payload as PayloadBody,
    Voucher as VoucherBody,
};

fn parse<T: for<'de> Deserialize<'de>>(body: &[u8]) -> Result<T, BadRequest> {
    serde_json::from_slice(body).map_err(|e| format!("Json deserialize error: {e}"))
}

/// The request the official server returns from `/finish`. Addresses are lowercase.
pub fn request_json(request: &RollupRequest) -> serde_json::Value {
    let request = match request {
        RollupRequest::Advance { meta, payload } => http::Request::AdvanceState {
            metadata: *meta,
            payload: hex::encode_prefixed(payload),
        },
        RollupRequest::Inspect { payload } => http::Request::InspectState {
            payload: hex::encode_prefixed(payload),
        },
    };
    serde_json::to_value(request).unwrap_or_default()
}

impl Shared {
    async fn finish(&self, body: &[u8]) -> Reply {
        let finish: Finish = match parse(body) {
            Ok(f) => f,
            Err(why) => return bad(why),
        };
        let accept = match finish.status.as_str() {
            "accept" => true,
            "reject" => false,
            _ => {
                return text(
                    StatusCode::BAD_REQUEST,
                    "status must be 'accept' or 'reject'",
                );
            }
        };
        self.finishes.send_modify(|n| *n += 1);
        {
            let mut inner = self.inner.lock().expect("rollup server lock");
            if let Some(c) = inner.current.take() {
                let advance = matches!(c.request, RollupRequest::Advance { .. });
                if accept && advance {
                    inner.accepted_outputs += c.outputs.len() as u64;
                }
                let status = if accept {
                    Status::Accepted
                } else {
                    Status::Rejected
                };
                let _ = c.reply.send(RequestResult {
                    status,
                    outputs: c.outputs,
                    reports: c.reports,
                });
            }
        }
        let mut jobs = self.jobs.lock().await;
        match tokio::time::timeout(self.finish_wait, jobs.recv()).await {
            Ok(Some(job)) => {
                let body = request_json(&job.request);
                let mut inner = self.inner.lock().expect("rollup server lock");
                inner.current = Some(Current {
                    request: job.request,
                    outputs: Vec::new(),
                    reports: Vec::new(),
                    reply: job.reply,
                });
                json_reply(StatusCode::OK, body)
            }
            // No request in time, or the node is shutting down: try again.
            Ok(None) | Err(_) => empty(StatusCode::ACCEPTED),
        }
    }

    fn add_output(&self, output: Vec<u8>) -> Reply {
        let mut inner = self.inner.lock().expect("rollup server lock");
        let base = inner.accepted_outputs;
        match inner.current.as_mut() {
            Some(c) if matches!(c.request, RollupRequest::Advance { .. }) => {
                c.outputs.push(output);
                let index = base + c.outputs.len() as u64 - 1;
                json_reply(
                    StatusCode::CREATED,
                    serde_json::to_value(http::Index { index }).unwrap_or_default(),
                )
            }
            _ => text(
                StatusCode::BAD_REQUEST,
                "outputs can only be emitted while processing an advance request",
            ),
        }
    }

    fn route_output(&self, path: &str, body: &[u8]) -> Reply {
        let encoded = match path {
            "/notice" => parse::<PayloadBody>(body)
                .and_then(|b| payload_hex(&b.payload))
                .map(|payload| {
                    Outputs::NoticeCall {
                        payload: payload.into(),
                    }
                    .abi_encode()
                }),
            "/voucher" => parse::<VoucherBody>(body).and_then(|b| {
                Ok(Outputs::VoucherCall {
                    destination: destination(&b.destination)?,
                    value: value(b.value.as_deref())?,
                    payload: payload_hex(&b.payload)?.into(),
                }
                .abi_encode())
            }),
            _ => parse::<DelegateBody>(body).and_then(|b| {
                Ok(Outputs::DelegateCallVoucherCall {
                    destination: destination(&b.destination)?,
                    payload: payload_hex(&b.payload)?.into(),
                }
                .abi_encode())
            }),
        };
        match encoded {
            Ok(output) => self.add_output(output),
            Err(why) => bad(why),
        }
    }

    fn report(&self, body: &[u8]) -> Reply {
        let payload = match parse::<PayloadBody>(body).and_then(|b| payload_hex(&b.payload)) {
            Ok(p) => p,
            Err(why) => return bad(why),
        };
        let mut inner = self.inner.lock().expect("rollup server lock");
        match inner.current.as_mut() {
            Some(c) => {
                c.reports.push(payload);
                empty(StatusCode::ACCEPTED)
            }
            None => text(StatusCode::BAD_REQUEST, "no request is being processed"),
        }
    }

    fn exception(&self, body: &[u8]) -> Reply {
        match parse::<PayloadBody>(body).and_then(|b| payload_hex(&b.payload)) {
            Ok(payload) => self.fail_current(payload),
            Err(why) => return bad(why),
        }
        empty(StatusCode::ACCEPTED)
    }

    async fn handle(
        self: Arc<Self>,
        req: Request<Incoming>,
    ) -> Result<Reply, std::convert::Infallible> {
        if req.method() != Method::POST {
            return Ok(text(StatusCode::NOT_FOUND, "not found"));
        }
        let path = req.uri().path().to_string();
        let body = match Limited::new(req.into_body(), MAX_BODY).collect().await {
            Ok(b) => b.to_bytes(),
            Err(e) => return Ok(text(StatusCode::PAYLOAD_TOO_LARGE, format!("body: {e}"))),
        };
        Ok(match path.as_str() {
            "/finish" => self.finish(&body).await,
            "/notice" | "/voucher" | "/delegate-call-voucher" => self.route_output(&path, &body),
            "/report" => self.report(&body),
            "/exception" => self.exception(&body),
            "/gio" => text(StatusCode::BAD_REQUEST, "Unsupported domain"),
            _ => text(StatusCode::NOT_FOUND, "not found"),
        })
    }
}

/// Serves the rollup API on `listener` until `shutdown` completes.
pub(crate) async fn serve(
    listener: TcpListener,
    shared: Arc<Shared>,
    shutdown: impl Future<Output = ()>,
) {
    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            _ = &mut shutdown => return,
            accepted = listener.accept() => {
                let Ok((stream, _)) = accepted else { continue };
                let shared = shared.clone();
                tokio::spawn(async move {
                    let service = service_fn(move |req| shared.clone().handle(req));
                    let _ = http1::Builder::new().serve_connection(TokioIo::new(stream), service).await;
                });
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    async fn start(
        finish_wait: Duration,
        accepted: u64,
    ) -> (SocketAddr, mpsc::Sender<Job>, oneshot::Sender<()>) {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (tx, rx) = mpsc::channel(1);
        let (stop, stopped) = oneshot::channel::<()>();
        tokio::spawn(serve(
            listener,
            Shared::new(rx, accepted, finish_wait),
            async move {
                let _ = stopped.await;
            },
        ));
        (addr, tx, stop)
    }

    /// A plain HTTP/1.1 POST: returns the status code and the body.
    async fn post(addr: SocketAddr, path: &str, body: &str) -> (u16, String) {
        let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
        let req = format!(
            "POST {path} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        );
        s.write_all(req.as_bytes()).await.unwrap();
        let mut raw = String::new();
        s.read_to_string(&mut raw).await.unwrap();
        let status = raw[9..12].parse().unwrap();
        let body = raw
            .split_once("\r\n\r\n")
            .map(|(_, b)| b.to_string())
            .unwrap_or_default();
        (status, body)
    }

    use std::net::SocketAddr;

    #[tokio::test]
    async fn status_codes_and_validation_follow_the_official_server() {
        let (addr, jobs, _stop) = start(Duration::from_millis(50), 7).await;
        // No request queued: /finish answers 202 after its wait; a bad status is a 400.
        assert_eq!(post(addr, "/finish", r#"{"status":"accept"}"#).await.0, 202);
        let (code, body) = post(addr, "/finish", r#"{"status":"maybe"}"#).await;
        assert_eq!(
            (code, body.as_str()),
            (400, "status must be 'accept' or 'reject'")
        );
        assert_eq!(post(addr, "/finish", "not json").await.0, 400);
        // Outputs outside an advance request are refused.
        assert_eq!(post(addr, "/notice", r#"{"payload":"0x00"}"#).await.0, 400);
        assert_eq!(
            post(addr, "/gio", r#"{"domain":16,"id":"0x"}"#).await.0,
            400
        );

        let meta = AdvanceMeta {
            chain_id: 1,
            app_contract: Address::repeat_byte(0xAB),
            msg_sender: Address::repeat_byte(0xCD),
            block_number: 2,
            block_timestamp: 3,
            prev_randao: alloy_primitives::B256::repeat_byte(0xEF),
            input_index: 4,
        };
        let (reply, result) = oneshot::channel();
        jobs.send(Job {
            request: RollupRequest::Advance {
                meta,
                payload: vec![1, 2],
            },
            reply,
        })
        .await
        .unwrap();
        let (code, body) = post(addr, "/finish", r#"{"status":"accept"}"#).await;
        assert_eq!(code, 200);
        let v: serde_json::Value = serde_json::from_str(&body).unwrap();
        assert_eq!(v["request_type"], "advance_state");
        assert_eq!(
            v["data"]["metadata"]["msg_sender"],
            format!("0x{}", "cd".repeat(20))
        );
        assert_eq!(v["data"]["metadata"]["input_index"], 4);
        assert_eq!(v["data"]["payload"], "0x0102");

        // Output indices continue from the 7 outputs accepted before.
        assert_eq!(
            post(addr, "/notice", r#"{"payload":"0xdeadbeef"}"#).await,
            (201, r#"{"index":7}"#.into())
        );
        let dest = format!("0x{}", "11".repeat(20));
        assert_eq!(
            post(
                addr,
                "/voucher",
                &format!(r#"{{"destination":"{dest}","payload":"0x"}}"#)
            )
            .await,
            (201, r#"{"index":8}"#.into())
        );
        let (code, body) = post(
            addr,
            "/voucher",
            r#"{"destination":"0x1234","payload":"0x"}"#,
        )
        .await;
        assert_eq!((code, body.as_str()), (400, "address not valid"));
        let big = format!("0x{}", "ff".repeat(33));
        assert_eq!(
            post(
                addr,
                "/voucher",
                &format!(r#"{{"destination":"{dest}","value":"{big}","payload":"0x"}}"#)
            )
            .await
            .0,
            400
        );
        assert_eq!(
            post(addr, "/notice", r#"{"payload":"0xabc"}"#).await.0,
            400,
            "odd-length hex"
        );
        assert_eq!(post(addr, "/notice", r#"{"payload":"x"}"#).await.0, 400);
        // As upstream, the two characters before the hex are not checked.
        assert_eq!(post(addr, "/notice", r#"{"payload":"zz00"}"#).await.0, 201);
        assert_eq!(
            post(addr, "/report", r#"{"payload":"0x6869"}"#).await,
            (202, String::new())
        );
        assert_eq!(
            post(
                addr,
                "/delegate-call-voucher",
                &format!(r#"{{"destination":"{dest}","payload":"0x01"}}"#)
            )
            .await
            .0,
            201
        );

        // Rejecting discards nothing here (the node does), but the next index base stays.
        assert_eq!(post(addr, "/finish", r#"{"status":"reject"}"#).await.0, 202);
        let r = result.await.unwrap();
        assert_eq!(r.status, Status::Rejected);
        assert_eq!(r.outputs.len(), 4);
        assert_eq!(r.reports, vec![b"hi".to_vec()]);
        assert_eq!(
            Outputs::NoticeCall::abi_decode(&r.outputs[0])
                .unwrap()
                .payload
                .as_ref(),
            [0xde, 0xad, 0xbe, 0xef]
        );

        let (reply, result) = oneshot::channel();
        jobs.send(Job {
            request: RollupRequest::Advance {
                meta,
                payload: vec![],
            },
            reply,
        })
        .await
        .unwrap();
        assert_eq!(post(addr, "/finish", r#"{"status":"accept"}"#).await.0, 200);
        assert_eq!(
            post(addr, "/notice", r#"{"payload":"0x"}"#).await,
            (201, r#"{"index":7}"#.into()),
            "a rejected input's outputs do not count"
        );
        assert_eq!(
            post(addr, "/exception", r#"{"payload":"0x626f6f6d"}"#)
                .await
                .0,
            202
        );
        assert_eq!(
            result.await.unwrap().status,
            Status::Exception(b"boom".to_vec())
        );
    }
}
