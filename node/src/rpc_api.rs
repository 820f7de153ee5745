//! `POST /rpc`: the official Cartesi Rollups v2 node's JSON-RPC, method for method, with
//! its parameters (by name or by position), defaults, caps, result shapes
//! ([`crucible_api`]) and error codes ([`code`]), plus Crucible's `crucible_listClaims`.
//!
//! The PRT methods (tournaments, commitments, matches) answer as the official node does for
//! an application without PRT: empty lists and "not found".

use crate::{
    query::{EpochClaims, QueryConfig, epoch_claims},
    rollup_api::Status,
    store::{
        EpochInputs, InputFilter, InputRow, OutputFilter, OutputRow, Page, ReportFilter, ReportRow,
        Store,
    },
};
use alloy::primitives::{B256, Bytes, keccak256};
use crucible_api::{
    Application, ApplicationState, ApplicationStatus, Data, DecodedOutput, Epoch, EpochStatus,
    EvmAdvance, Input, InputStatus, List, Output, Pagination, Quantity, Report, Timestamp,
    rpc::{
        self, AppParams, GetEpochParams, GetInputParams, GetOutputParams, GetReportParams,
        ListEpochsParams, ListInputsParams, ListOutputsParams, ListReportsParams, PageParams,
        PrtListParams, RpcError, code,
    },
};
use serde::{Serialize, de::DeserializeOwned};
use serde_json::Value;
use std::sync::Mutex;

/// The answer to one `/rpc` body: a response, or an array of them for a batch.
pub(crate) fn answer(config: &QueryConfig, store: &Mutex<Store>, body: &[u8]) -> Value {
    let error = |code, message: &str| {
        to_value(&rpc::Response::<Value>::error(
            Value::Null,
            RpcError::new(code, message),
        ))
    };
    let trimmed = body.trim_ascii();
    match trimmed.first() {
        Some(b'{') => match serde_json::from_slice::<Value>(trimmed) {
            Ok(request) => one(config, store, request),
            Err(_) => error(code::PARSE_ERROR, "Parse error"),
        },
        Some(b'[') => match serde_json::from_slice::<Vec<Value>>(trimmed) {
            Ok(batch) if batch.is_empty() || batch.len() > rpc::MAX_BATCH => error(
                code::INVALID_BATCH,
                &format!(
                    "invalid request batch size (expected [1..{}])",
                    rpc::MAX_BATCH
                ),
            ),
            Ok(batch) => {
                let mut budget = rpc::MAX_RESPONSE;
                Value::Array(
                    batch
                        .into_iter()
                        .map(|request| {
                            let id = request.get("id").cloned().unwrap_or(Value::Null);
                            let response = one(config, store, request);
                            let size = response.to_string().len();
                            if size > budget {
                                budget = 0;
                                return to_value(&rpc::Response::<Value>::error(
                                    id,
                                    RpcError::new(
                                        code::RESPONSE_SIZE_LIMIT_EXCEEDED,
                                        "Response size limit exceeded",
                                    ),
                                ));
                            }
                            budget -= size;
                            response
                        })
                        .collect(),
                )
            }
            Err(_) => error(code::PARSE_ERROR, "Parse error"),
        },
        _ if serde_json::from_slice::<Value>(trimmed).is_ok() => {
            error(code::INVALID_REQUEST, "invalid request")
        }
        _ => error(code::PARSE_ERROR, "Parse error"),
    }
}

fn to_value<T: Serialize>(v: &T) -> Value {
    serde_json::to_value(v).unwrap_or(Value::Null)
}

/// One request object.
fn one(config: &QueryConfig, store: &Mutex<Store>, request: Value) -> Value {
    let invalid = |id| {
        to_value(&rpc::Response::<Value>::error(
            id,
            RpcError::new(code::INVALID_REQUEST, "invalid request"),
        ))
    };
    let id = request.get("id").cloned().unwrap_or(Value::Null);
    if !matches!(id, Value::Null | Value::String(_) | Value::Number(_)) {
        return invalid(Value::Null);
    }
    let Ok(request) = serde_json::from_value::<rpc::Request>(request) else {
        return invalid(id);
    };
    if request.jsonrpc != "2.0" || request.method.is_empty() {
        return invalid(id);
    }
    if rpc::param_names(&request.method).is_none() && request.method != rpc::LIST_CLAIMS {
        return to_value(&rpc::Response::<Value>::error(
            id,
            RpcError::new(code::METHOD_NOT_FOUND, "Method not found"),
        ));
    }
    let result = rpc::named_params(&request.method, request.params).and_then(|params| {
        let store = store.lock().map_err(|_| {
            tracing::error!("the store's lock is poisoned");
            RpcError::internal()
        })?;
        dispatch(config, &store, &request.method, params)
    });
    match result {
        Ok(v) => to_value(&rpc::Response::result(id, v)),
        Err(e) => to_value(&rpc::Response::<Value>::error(id, e)),
    }
}

/// Typed params, or "Invalid parameters" as the official node answers.
fn params<P: DeserializeOwned>(params: Value) -> Result<P, RpcError> {
    serde_json::from_value(params).map_err(|e| {
        tracing::debug!("invalid parameters: {e}");
        RpcError::invalid(format!("Invalid parameters: {e}"))
    })
}

fn internal(e: crate::Error) -> RpcError {
    tracing::error!("query failed: {e}");
    RpcError::internal()
}

fn ok<T: Serialize>(v: T) -> Result<Value, RpcError> {
    Ok(to_value(&v))
}

fn list<T: Serialize>(data: Vec<T>, total: u64, page: PageParams) -> Result<Value, RpcError> {
    ok(List {
        data,
        pagination: Pagination {
            total_count: total,
            limit: page.limit(),
            offset: page.offset(),
        },
    })
}

/// One page of `items` (all that match, in ascending order).
fn list_of<T: Serialize>(mut items: Vec<T>, page: PageParams) -> Result<Value, RpcError> {
    if page.descending {
        items.reverse();
    }
    let total = items.len() as u64;
    let data = items
        .into_iter()
        .skip(usize::try_from(page.offset()).unwrap_or(usize::MAX))
        .take(page.limit() as usize)
        .collect();
    list(data, total, page)
}

fn store_page(page: PageParams) -> Page {
    Page {
        offset: page.offset(),
        limit: page.limit(),
        descending: page.descending,
    }
}

impl QueryConfig {
    /// Checks the `application` parameter: malformed is invalid params, another
    /// application is "Application not found".
    fn check_app(&self, application: &str) -> Result<(), RpcError> {
        if !rpc::valid_app_ref(application) {
            return Err(RpcError::invalid(
                "Invalid application identifier: invalid application name",
            ));
        }
        if self.is_app(application) {
            Ok(())
        } else {
            Err(RpcError::no_application())
        }
    }

    /// The blocks of epoch `index`.
    fn epoch_blocks(&self, index: Quantity) -> (u64, u64) {
        let length = self.epoch_length.max(1);
        let first = index.get().saturating_mul(length);
        (first, first.saturating_add(length - 1))
    }
}

fn dispatch(
    config: &QueryConfig,
    store: &Store,
    method: &str,
    raw: Value,
) -> Result<Value, RpcError> {
    match method {
        "cartesi_getNodeVersion" => {
            return ok(Data {
                data: env!("CARGO_PKG_VERSION"),
            });
        }
        "cartesi_getChainId" => {
            return ok(Data {
                data: Quantity(config.chain_id),
            });
        }
        "cartesi_listApplications" => {
            let page: PageParams = params(raw)?;
            return list_of(vec![application(config, store)?], page);
        }
        _ => {}
    }
    // Every other method names the application first.
    let app: AppParams = params(raw.clone())?;
    config.check_app(&app.application)?;
    match method {
        "cartesi_getApplication" => ok(Data {
            data: application(config, store)?,
        }),
        "cartesi_getProcessedInputCount" => ok(Data {
            data: Quantity(store.input_count().map_err(internal)?),
        }),
        "cartesi_listInputs" => {
            let p: ListInputsParams = params(raw)?;
            let filter = InputFilter {
                blocks: p.epoch_index.map(|e| config.epoch_blocks(e)),
                sender: p.sender,
            };
            let (rows, total) = store
                .list_inputs(&filter, store_page(p.page))
                .map_err(internal)?;
            list(
                rows.iter().map(|r| input(config, r)).collect(),
                total,
                p.page,
            )
        }
        "cartesi_getInput" => {
            let p: GetInputParams = params(raw)?;
            let row = store
                .input(p.input_index.get())
                .map_err(internal)?
                .ok_or_else(|| RpcError::not_found("Input"))?;
            ok(Data {
                data: input(config, &row),
            })
        }
        "cartesi_listOutputs" => {
            let p: ListOutputsParams = params(raw)?;
            let filter = OutputFilter {
                blocks: p.epoch_index.map(|e| config.epoch_blocks(e)),
                input: p.input_index.map(Quantity::get),
                kind: p.output_type.as_deref().map(rpc::output_type).transpose()?,
                voucher_address: p.voucher_address,
            };
            let (rows, total) = store
                .list_outputs(&filter, store_page(p.page))
                .map_err(internal)?;
            let data = rows
                .iter()
                .map(|r| output(config, store, r))
                .collect::<Result<_, _>>()?;
            list(data, total, p.page)
        }
        "cartesi_getOutput" => {
            let p: GetOutputParams = params(raw)?;
            let row = store
                .output(p.output_index.get())
                .map_err(internal)?
                .ok_or_else(|| RpcError::not_found("Output"))?;
            ok(Data {
                data: output(config, store, &row)?,
            })
        }
        "cartesi_listReports" => {
            let p: ListReportsParams = params(raw)?;
            let filter = ReportFilter {
                blocks: p.epoch_index.map(|e| config.epoch_blocks(e)),
                input: p.input_index.map(Quantity::get),
            };
            let (rows, total) = store
                .list_reports(&filter, store_page(p.page))
                .map_err(internal)?;
            let data = rows
                .iter()
                .map(|r| report(config, store, r))
                .collect::<Result<_, _>>()?;
            list(data, total, p.page)
        }
        "cartesi_getReport" => {
            let p: GetReportParams = params(raw)?;
            let row = store
                .report(p.report_index.get())
                .map_err(internal)?
                .ok_or_else(|| RpcError::not_found("Report"))?;
            ok(Data {
                data: report(config, store, &row)?,
            })
        }
        "cartesi_listEpochs" => {
            let p: ListEpochsParams = params(raw)?;
            let matching: Vec<Epoch> = epochs(config, store)?
                .into_iter()
                .filter(|e| p.status.is_none_or(|s| e.status == s))
                .collect();
            list_of(matching, p.page)
        }
        "cartesi_getEpoch" => {
            let p: GetEpochParams = params(raw)?;
            let epoch = epochs(config, store)?
                .into_iter()
                .find(|e| e.index == p.epoch_index)
                .ok_or_else(|| RpcError::not_found("Epoch"))?;
            ok(Data { data: epoch })
        }
        "cartesi_getLastAcceptedEpochIndex" => {
            let index = epochs(config, store)?
                .into_iter()
                .rev()
                .find(|e| e.status == EpochStatus::ClaimAccepted)
                .map(|e| e.index)
                .ok_or_else(|| RpcError::not_found("Epoch"))?;
            ok(Data { data: index })
        }
        "cartesi_listTournaments"
        | "cartesi_listCommitments"
        | "cartesi_listMatches"
        | "cartesi_listMatchAdvances" => {
            let p: PrtListParams = params(raw)?;
            list(Vec::<Value>::new(), 0, p.page)
        }
        "cartesi_getTournament" => Err(RpcError::not_found("Tournament")),
        "cartesi_getCommitment" => Err(RpcError::not_found("Commitment")),
        "cartesi_getMatch" => Err(RpcError::not_found("Match")),
        "cartesi_getMatchAdvanced" => Err(RpcError::not_found("Match advanced")),
        rpc::LIST_CLAIMS => ok(Data::<Vec<EpochClaims>> {
            data: epoch_claims(store, config.epoch_length).map_err(internal)?,
        }),
        _ => Err(RpcError::new(code::METHOD_NOT_FOUND, "Method not found")),
    }
}

/// The time of the block an input blob names (the epoch of Unix time if it does not decode).
pub(crate) fn block_time(blob: &[u8]) -> Timestamp {
    EvmAdvance::decode(blob)
        .and_then(|a| Timestamp::from_timestamp(a.block_timestamp.get() as i64, 0))
        .unwrap_or_default()
}

fn application(config: &QueryConfig, store: &Store) -> Result<Application, RpcError> {
    let processed = store.input_count().map_err(internal)?;
    let checked = store.next_block().map_err(internal)?.saturating_sub(1);
    Ok(Application {
        name: crate::query::APP_NAME.into(),
        iapplication_address: config.app,
        iconsensus_address: config.chain.consensus,
        iinputbox_address: config.chain.input_box,
        template_hash: config.chain.template_hash,
        epoch_length: Quantity(config.epoch_length),
        claim_staging_period: Quantity(0),
        data_availability: config.chain.data_availability.clone(),
        consensus_type: config.chain.consensus_type,
        state: ApplicationState::Enabled,
        enabled: true,
        status: ApplicationStatus::Ok,
        reason: None,
        iinputbox_block: Quantity(config.chain.input_box_block),
        last_epoch_check_block: Quantity(checked),
        last_input_check_block: Quantity(checked),
        last_output_check_block: Quantity(checked),
        last_tournament_check_block: Quantity(0),
        processed_inputs: Quantity(processed),
        created_at: config.started,
        updated_at: config.started,
        execution_parameters: config.chain.execution.clone(),
    })
}

const fn input_status(status: &Status) -> InputStatus {
    match status {
        Status::Accepted => InputStatus::Accepted,
        Status::Rejected => InputStatus::Rejected,
        Status::Exception(_) => InputStatus::Exception,
    }
}

fn input(config: &QueryConfig, row: &InputRow) -> Input {
    let time = block_time(&row.blob);
    Input {
        epoch_index: Quantity(row.block / config.epoch_length.max(1)),
        index: Quantity(row.index),
        block_number: Quantity(row.block),
        raw_data: Bytes::from(row.blob.clone()),
        decoded_data: EvmAdvance::decode(&row.blob),
        status: input_status(&row.status),
        machine_hash: None,
        outputs_hash: Some(row.root),
        transaction_reference: Bytes::from(
            B256::from(alloy::primitives::U256::from(row.index)).to_vec(),
        ),
        transaction_hash: row.tx,
        log_index: Quantity(row.log_index),
        created_at: time,
        updated_at: time,
    }
}

/// The block and time of input `index` (outputs and reports take their input's).
fn input_origin(store: &Store, index: u64) -> Result<(u64, Timestamp), RpcError> {
    let row = store
        .input(index)
        .map_err(internal)?
        .ok_or_else(|| RpcError::not_found("Input"))?;
    Ok((row.block, block_time(&row.blob)))
}

fn output(config: &QueryConfig, store: &Store, row: &OutputRow) -> Result<Output, RpcError> {
    let (block, time) = input_origin(store, row.input)?;
    Ok(Output {
        epoch_index: Quantity(block / config.epoch_length.max(1)),
        input_index: Quantity(row.input),
        index: Quantity(row.index),
        raw_data: Bytes::from(row.bytes.clone()),
        decoded_data: DecodedOutput::decode(&row.bytes),
        hash: Some(keccak256(&row.bytes)),
        output_hashes_siblings: row.siblings.clone(),
        execution_transaction_hash: store.executed(row.index).map_err(internal)?,
        created_at: time,
        updated_at: time,
    })
}

fn report(config: &QueryConfig, store: &Store, row: &ReportRow) -> Result<Report, RpcError> {
    let (block, time) = input_origin(store, row.input)?;
    Ok(Report {
        epoch_index: Quantity(block / config.epoch_length.max(1)),
        input_index: Quantity(row.input),
        index: Quantity(row.index),
        raw_data: Bytes::from(row.bytes.clone()),
        created_at: time,
        updated_at: time,
    })
}

/// Every epoch that holds inputs, oldest first, with this node's root once the epoch is
/// read, its claim if it made one, and a status that follows the claim's life on chain:
/// `OPEN` (not read to its end), `CLAIM_COMPUTED` (read; this node has not claimed),
/// `CLAIM_SUBMITTED`, `CLAIM_ACCEPTED` (the consensus holds this node's root valid) or
/// `CLAIM_REJECTED` (the consensus accepted another root).
pub(crate) fn epochs(config: &QueryConfig, store: &Store) -> Result<Vec<Epoch>, RpcError> {
    let length = config.epoch_length.max(1);
    let claims = store.claims().map_err(internal)?;
    let proven = store.proven().map_err(internal)?;
    let accepted = store.accepted().map_err(internal)?;
    let next_block = store.next_block().map_err(internal)?;
    let time_of = |index| -> Result<Timestamp, RpcError> { Ok(input_origin(store, index)?.1) };
    store
        .epoch_inputs(length)
        .map_err(internal)?
        .into_iter()
        .enumerate()
        .map(|(virtual_index, e): (usize, EpochInputs)| {
            let first_block = e.epoch * length;
            let last_block = first_block + length - 1;
            let claim = claims.iter().find(|c| c.block == last_block);
            let read = last_block < next_block;
            let root = if read {
                Some(store.root_at(last_block).map_err(internal)?.0)
            } else {
                None
            };
            let chain = accepted.iter().find(|a| a.block == last_block);
            let status = if proven.iter().any(|p| p.block == last_block)
                || chain.is_some_and(|a| Some(a.root) == root)
            {
                EpochStatus::ClaimAccepted
            } else if chain.is_some() {
                EpochStatus::ClaimRejected
            } else if claim.is_some() {
                EpochStatus::ClaimSubmitted
            } else if read {
                EpochStatus::ClaimComputed
            } else {
                EpochStatus::Open
            };
            Ok(Epoch {
                index: Quantity(e.epoch),
                first_block: Quantity(first_block),
                last_block: Quantity(last_block),
                input_index_lower_bound: Quantity(e.first_input),
                input_index_upper_bound: Quantity(e.last_input + 1),
                machine_hash: None,
                outputs_merkle_root: root,
                outputs_merkle_proof: None,
                commitment: None,
                commitment_proof: None,
                claim_transaction_hash: claim.and_then(|c| c.tx),
                tournament_address: None,
                status,
                staged_at_block: None,
                virtual_index: Quantity(virtual_index as u64),
                created_at: time_of(e.first_input)?,
                updated_at: time_of(e.last_input)?,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{
        query::tests::{APP, Db, advance},
        store::StoredInput,
    };
    use alloy::{
        primitives::{Address, U256},
        sol_types::SolCall,
    };
    use crucible_api::{Consensus, ExecutionParameters, SnapshotPolicy};
    use crucible_types::abi::Outputs;
    use serde_json::json;

    fn config() -> QueryConfig {
        let t = Timestamp::default();
        QueryConfig {
            app: APP,
            chain_id: 31337,
            epoch_length: 4,
            chain: crate::query::AppInfo {
                consensus: Address::repeat_byte(0xcc),
                consensus_type: Consensus::Authority,
                input_box: Address::repeat_byte(0xbb),
                input_box_block: 1,
                template_hash: B256::repeat_byte(0x01),
                data_availability: Bytes::from(vec![0xb1, 0x2c, 0x9e, 0xde]),
                execution: ExecutionParameters {
                    snapshot_policy: SnapshotPolicy::None,
                    advance_inc_cycles: Quantity(0),
                    advance_max_cycles: Quantity(0),
                    inspect_inc_cycles: Quantity(0),
                    inspect_max_cycles: Quantity(0),
                    advance_inc_deadline: Quantity(0),
                    advance_max_deadline: Quantity(0),
                    inspect_inc_deadline: Quantity(0),
                    inspect_max_deadline: Quantity(0),
                    load_deadline: Quantity(0),
                    store_deadline: Quantity(0),
                    fast_deadline: Quantity(0),
                    max_concurrent_inspects: 1,
                    created_at: t,
                    updated_at: t,
                },
            },
            started: t,
        }
    }

    fn call(store: &Mutex<Store>, body: &str) -> Value {
        answer(&config(), store, body.as_bytes())
    }

    fn request(method: &str, params: Value) -> String {
        json!({"jsonrpc": "2.0", "id": 1, "method": method, "params": params}).to_string()
    }

    /// Five chunk inputs from two senders (blocks 10..=14), then one accepted input with a
    /// notice and a voucher to `to` (block 15).
    fn store_with_outputs(to: Address) -> Mutex<Store> {
        let mut db = Db::new();
        for i in 0..5u8 {
            let sender = Address::repeat_byte(3 + i % 2);
            db.chunk(sender, B256::repeat_byte(i), 0, 1, &[i]);
        }
        let notice = Outputs::NoticeCall {
            payload: vec![9].into(),
        }
        .abi_encode();
        let voucher = Outputs::VoucherCall {
            destination: to,
            value: U256::ZERO,
            payload: vec![1].into(),
        }
        .abi_encode();
        let input = StoredInput {
            index: 5,
            block: 15,
            tx: B256::repeat_byte(0x55),
            log_index: 2,
            blob: advance(5, Address::repeat_byte(9), vec![]),
            status: Status::Accepted,
            outputs: vec![notice, voucher],
            reports: vec![b"scored".to_vec()],
            root: B256::repeat_byte(0xee),
        };
        db.store.record(&input, 0, 16, None).unwrap();
        Mutex::new(db.store)
    }

    #[test]
    fn answers_have_the_official_shapes_and_filters() {
        let to = Address::repeat_byte(0x42);
        let store = store_with_outputs(to);
        let count = call(
            &store,
            &request(
                "cartesi_getProcessedInputCount",
                json!({"application": APP.to_string()}),
            ),
        );
        assert_eq!(
            count,
            json!({"jsonrpc": "2.0", "id": 1, "result": {"data": "0x6"}})
        );
        let page = call(
            &store,
            &request(
                "cartesi_listInputs",
                json!({"application": "crucible", "limit": 2, "offset": 3}),
            ),
        );
        let result = &page["result"];
        assert_eq!(
            result["pagination"],
            json!({"total_count": 6, "limit": 2, "offset": 3})
        );
        let input: Input = serde_json::from_value(result["data"][0].clone()).unwrap();
        assert_eq!(
            (
                input.index,
                input.status,
                input.epoch_index,
                input.log_index
            ),
            (Quantity(3), InputStatus::Accepted, Quantity(3), Quantity(3))
        );
        assert_eq!(input.decoded_data.unwrap().sender, Address::repeat_byte(4));
        // Filters: sender, epoch, descending.
        let list = |method: &str, params: Value| -> Vec<u64> {
            call(&store, &request(method, params))["result"]["data"]
                .as_array()
                .unwrap()
                .iter()
                .map(|i| {
                    i["index"]
                        .as_str()
                        .unwrap()
                        .parse::<Quantity>()
                        .unwrap()
                        .get()
                })
                .collect()
        };
        let by_sender = json!({"application": "crucible", "sender": Address::repeat_byte(3)});
        assert_eq!(list("cartesi_listInputs", by_sender), [0, 2, 4]);
        let epoch3 = json!({"application": "crucible", "epoch_index": "0x3", "descending": true});
        assert_eq!(list("cartesi_listInputs", epoch3), [5, 4, 3, 2]);
        let notices = json!({"application": "crucible", "output_type": "0xc258d6e5"});
        assert_eq!(list("cartesi_listOutputs", notices), [0]);
        let to_them = json!({"application": "crucible", "voucher_address": to});
        assert_eq!(list("cartesi_listOutputs", to_them), [1]);
        let nobody = json!({"application": "crucible", "voucher_address": Address::ZERO});
        assert!(list("cartesi_listOutputs", nobody).is_empty());
        let voucher = call(
            &store,
            &request(
                "cartesi_getOutput",
                json!({"application": "crucible", "output_index": "0x1"}),
            ),
        );
        assert_eq!(voucher["result"]["data"]["decoded_data"]["type"], "Voucher");
        // Positional params follow the official order.
        let positional = call(
            &store,
            &request("cartesi_listReports", json!(["crucible", null, "0x5"])),
        );
        assert_eq!(positional["result"]["pagination"]["total_count"], 1);

        let epochs: List<Epoch> = serde_json::from_value(
            call(
                &store,
                &request("cartesi_listEpochs", json!({"application": "crucible"})),
            )["result"]
                .clone(),
        )
        .unwrap();
        // Blocks 10..=15 span epochs 2 and 3; the cursor is at block 16, so both are read
        // whole and nobody has claimed them.
        let shape: Vec<_> = epochs
            .data
            .iter()
            .map(|e| {
                (
                    e.index.get(),
                    e.input_index_lower_bound.get(),
                    e.input_index_upper_bound.get(),
                    e.status,
                    e.virtual_index.get(),
                )
            })
            .collect();
        assert_eq!(
            shape,
            [
                (2, 0, 2, EpochStatus::ClaimComputed, 0),
                (3, 2, 6, EpochStatus::ClaimComputed, 1)
            ]
        );
        let open_only = json!({"application": "crucible", "status": "OPEN"});
        assert_eq!(
            call(&store, &request("cartesi_listEpochs", open_only))["result"]["pagination"]["total_count"],
            0
        );
        // A batch answers each call in order.
        let batch = call(
            &store,
            r#"[{"jsonrpc":"2.0","id":1,"method":"cartesi_getNodeVersion"},{"jsonrpc":"2.0","id":2,"method":"cartesi_getChainId"}]"#,
        );
        assert_eq!(batch[1]["result"]["data"], "0x7a69");
        let app: Data<Application> = serde_json::from_value(
            call(
                &store,
                &request("cartesi_getApplication", json!({"application": "crucible"})),
            )["result"]
                .clone(),
        )
        .unwrap();
        assert_eq!(app.data.processed_inputs, Quantity(6));
    }

    #[test]
    fn errors_carry_the_official_codes() {
        let store = Mutex::new(Db::new().store);
        let code = |body: &str| call(&store, body)["error"]["code"].as_i64().unwrap();
        let req = |method: &str, params: Value| code(&request(method, params));
        assert_eq!(code("{not json"), code::PARSE_ERROR);
        assert_eq!(code("7"), code::INVALID_REQUEST);
        assert_eq!(code("[]"), code::INVALID_BATCH);
        assert_eq!(
            code(r#"{"id":1,"method":"cartesi_getNodeVersion"}"#),
            code::INVALID_REQUEST
        );
        assert_eq!(
            code(r#"{"jsonrpc":"2.0","id":{},"method":"cartesi_getNodeVersion"}"#),
            code::INVALID_REQUEST
        );
        assert_eq!(req("eth_call", json!({})), code::METHOD_NOT_FOUND);
        assert_eq!(req("eth_call", json!([1, 2])), code::METHOD_NOT_FOUND);
        assert_eq!(req("cartesi_listInputs", json!({})), code::INVALID_PARAMS);
        assert_eq!(
            req("cartesi_listInputs", json!({"application": "someone-else"})),
            code::APPLICATION_NOT_FOUND
        );
        assert_eq!(
            req("cartesi_listInputs", json!({"application": "No Such"})),
            code::INVALID_PARAMS
        );
        assert_eq!(
            req(
                "cartesi_getInput",
                json!({"application": "crucible", "input_index": "12"})
            ),
            code::INVALID_PARAMS
        );
        assert_eq!(
            req(
                "cartesi_getOutput",
                json!({"application": "crucible", "output_index": "0x0"})
            ),
            code::RESOURCE_NOT_FOUND
        );
        assert_eq!(
            req(
                "cartesi_getLastAcceptedEpochIndex",
                json!({"application": "crucible"})
            ),
            code::RESOURCE_NOT_FOUND
        );
        assert_eq!(
            req(
                "cartesi_listOutputs",
                json!({"application": "crucible", "limit": -1})
            ),
            code::INVALID_PARAMS
        );
        assert_eq!(
            req(
                "cartesi_listOutputs",
                json!({"application": "crucible", "output_type": "0x1234"})
            ),
            code::INVALID_PARAMS
        );
        assert_eq!(
            req("cartesi_listOutputs", json!([1, 2])),
            code::INVALID_PARAMS
        );
        assert_eq!(
            req(
                "cartesi_getTournament",
                json!({"application": "crucible", "address": Address::ZERO})
            ),
            code::RESOURCE_NOT_FOUND
        );
        // Limits default and cap as the official node's.
        let page = call(
            &store,
            &request(
                "cartesi_listOutputs",
                json!({"application": "crucible", "limit": 0}),
            ),
        );
        assert_eq!(page["result"]["pagination"]["limit"], 50);
        let page = call(
            &store,
            &request(
                "cartesi_listTournaments",
                json!({"application": "crucible", "limit": 123_456}),
            ),
        );
        assert_eq!(
            page["result"],
            json!({"data": [], "pagination": {"total_count": 0, "limit": 10000, "offset": 0}})
        );
    }
}
