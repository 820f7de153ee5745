//! The node API against the official node's OpenRPC document: every method, every filter,
//! pagination edges and every error code, over a node that has run a real competition.
//!
//! The expectations below are written from the document (and, for the fields it lacks, from
//! the official TypeScript client's types): each result type is a schema of required fields
//! with their formats and nullability, checked by [`check`]. The node's answers are also
//! read through the shared typed client, so a field the client needs cannot go missing.

use alloy::primitives::Address as Addr;
use crucible_api::{
    EpochStatus, NodeClient,
    rpc::{self, ListInputsParams, METHODS, code},
};
use serde_json::{Value, json};

/// A value's expected shape: a subset of JSON Schema with the formats the document uses.
#[derive(Debug, Clone)]
enum Schema {
    /// `0x` + 40 hex digits.
    Address,
    /// `0x` + 64 hex digits.
    Hash,
    /// `0x` + hex digits.
    Bytes,
    /// `0x` + 1 to 16 hex digits.
    Uint,
    /// RFC 3339.
    DateTime,
    /// A JSON integer ≥ 0.
    Integer,
    Bool,
    String,
    /// One of these strings.
    Enum(&'static [&'static str]),
    /// `null` or the inner shape.
    Nullable(Box<Self>),
    Array(Box<Self>),
    /// Every listed field present with its shape; others allowed.
    Object(Vec<(&'static str, Self)>),
    /// The `type`-tagged decoded output.
    DecodedOutput,
}

use Schema::*;

fn null(s: Schema) -> Schema {
    Nullable(Box::new(s))
}

fn array(s: Schema) -> Schema {
    Array(Box::new(s))
}

fn hex_digits(s: &str, min: usize, max: usize) -> bool {
    s.strip_prefix("0x")
        .is_some_and(|d| (min..=max).contains(&d.len()) && d.bytes().all(|b| b.is_ascii_hexdigit()))
}

/// Checks `v` against `schema`; the first mismatch, with its path.
fn check(v: &Value, schema: &Schema, path: &str) -> Result<(), std::string::String> {
    let fail = |what: &str| Err(format!("{path}: expected {what}, got {v}"));
    let s = v.as_str();
    match schema {
        Address if s.is_some_and(|s| hex_digits(s, 40, 40)) => Ok(()),
        Hash if s.is_some_and(|s| hex_digits(s, 64, 64)) => Ok(()),
        Bytes if s.is_some_and(|s| hex_digits(s, 0, usize::MAX)) => Ok(()),
        Uint if s.is_some_and(|s| hex_digits(s, 1, 16)) => Ok(()),
        DateTime if s.is_some_and(|s| chrono::DateTime::parse_from_rfc3339(s).is_ok()) => Ok(()),
        Integer if v.is_u64() => Ok(()),
        Bool if v.is_boolean() => Ok(()),
        String if v.is_string() => Ok(()),
        Enum(values) if s.is_some_and(|s| values.contains(&s)) => Ok(()),
        Nullable(_) if v.is_null() => Ok(()),
        Nullable(inner) => check(v, inner, path),
        Array(item) => match v.as_array() {
            Some(items) => items
                .iter()
                .enumerate()
                .try_for_each(|(i, x)| check(x, item, &format!("{path}[{i}]"))),
            None => fail("an array"),
        },
        Object(fields) => {
            let Some(map) = v.as_object() else {
                return fail("an object");
            };
            for (name, field) in fields {
                match map.get(*name) {
                    Some(x) => check(x, field, &format!("{path}.{name}"))?,
                    None => return Err(format!("{path}: missing field {name:?} in {v}")),
                }
            }
            Ok(())
        }
        DecodedOutput => {
            let shape = match v["type"].as_str() {
                Some("Notice") => Object(vec![("payload", Bytes)]),
                Some("Voucher") => Object(vec![
                    ("destination", Address),
                    ("value", Uint),
                    ("payload", Bytes),
                ]),
                Some("DelegateCallVoucher") => {
                    Object(vec![("destination", Address), ("payload", Bytes)])
                }
                _ => return fail("a Notice, Voucher or DelegateCallVoucher"),
            };
            check(v, &shape, path)
        }
        Address => fail("an address"),
        Hash => fail("a hash"),
        Bytes => fail("hex bytes"),
        Uint => fail("a hex quantity"),
        DateTime => fail("an RFC 3339 date-time"),
        Integer => fail("an integer"),
        Bool => fail("a boolean"),
        String => fail("a string"),
        Enum(values) => fail(&format!("one of {values:?}")),
    }
}

const EPOCH_STATUS: &[&str] = &[
    "OPEN",
    "CLOSED",
    "INPUTS_PROCESSED",
    "CLAIM_COMPUTED",
    "CLAIM_SUBMITTED",
    "CLAIM_STAGED",
    "CLAIM_ACCEPTED",
    "CLAIM_REJECTED",
    "CLAIM_FORECLOSED",
];

fn timestamps(mut fields: Vec<(&'static str, Schema)>) -> Schema {
    fields.extend([("created_at", DateTime), ("updated_at", DateTime)]);
    Object(fields)
}

fn application() -> Schema {
    let execution = timestamps(vec![
        (
            "snapshot_policy",
            Enum(&["NONE", "EVERY_INPUT", "EVERY_EPOCH"]),
        ),
        ("advance_inc_cycles", Uint),
        ("advance_max_cycles", Uint),
        ("inspect_inc_cycles", Uint),
        ("inspect_max_cycles", Uint),
        ("advance_inc_deadline", Uint),
        ("advance_max_deadline", Uint),
        ("inspect_inc_deadline", Uint),
        ("inspect_max_deadline", Uint),
        ("load_deadline", Uint),
        ("store_deadline", Uint),
        ("fast_deadline", Uint),
        ("max_concurrent_inspects", Integer),
    ]);
    timestamps(vec![
        ("name", String),
        ("iapplication_address", Address),
        ("iconsensus_address", Address),
        ("iinputbox_address", Address),
        ("template_hash", Hash),
        ("epoch_length", Uint),
        ("data_availability", Bytes),
        ("consensus_type", Enum(&["AUTHORITY", "QUORUM", "PRT"])),
        ("state", Enum(&["ENABLED", "DISABLED", "INOPERABLE"])),
        ("enabled", Bool),
        ("status", Enum(&["OK", "FAILED", "DIVERGED", "CORRUPTED"])),
        ("reason", null(String)),
        ("iinputbox_block", Uint),
        ("last_epoch_check_block", Uint),
        ("last_input_check_block", Uint),
        ("last_output_check_block", Uint),
        ("last_tournament_check_block", Uint),
        ("processed_inputs", Uint),
        ("execution_parameters", execution),
    ])
}

fn epoch() -> Schema {
    timestamps(vec![
        ("index", Uint),
        ("first_block", Uint),
        ("last_block", Uint),
        ("input_index_lower_bound", Uint),
        ("input_index_upper_bound", Uint),
        ("machine_hash", null(Hash)),
        ("outputs_merkle_root", null(Hash)),
        ("outputs_merkle_proof", null(array(Hash))),
        ("commitment", null(Hash)),
        ("commitment_proof", null(array(Hash))),
        ("claim_transaction_hash", null(Hash)),
        ("tournament_address", null(Address)),
        ("status", Enum(EPOCH_STATUS)),
        ("staged_at_block", null(Uint)),
        ("virtual_index", Uint),
    ])
}

fn input() -> Schema {
    let advance = Object(vec![
        ("chain_id", Uint),
        ("application_contract", Address),
        ("sender", Address),
        ("block_number", Uint),
        ("block_timestamp", Uint),
        ("prev_randao", Bytes),
        ("index", Uint),
        ("payload", Bytes),
    ]);
    timestamps(vec![
        ("epoch_index", Uint),
        ("index", Uint),
        ("block_number", Uint),
        ("raw_data", Bytes),
        ("decoded_data", null(advance)),
        (
            "status",
            Enum(&[
                "NONE",
                "ACCEPTED",
                "REJECTED",
                "EXCEPTION",
                "MACHINE_HALTED",
                "OUTPUTS_LIMIT_EXCEEDED",
                "REPORTS_LIMIT_EXCEEDED",
                "CYCLE_LIMIT_EXCEEDED",
                "TIME_LIMIT_EXCEEDED",
                "PAYLOAD_LENGTH_LIMIT_EXCEEDED",
            ]),
        ),
        ("machine_hash", null(Hash)),
        ("outputs_hash", null(Hash)),
        ("transaction_reference", Bytes),
        ("transaction_hash", Hash),
        ("log_index", Uint),
    ])
}

fn output() -> Schema {
    timestamps(vec![
        ("epoch_index", Uint),
        ("input_index", Uint),
        ("index", Uint),
        ("raw_data", Bytes),
        ("decoded_data", null(DecodedOutput)),
        ("hash", null(Hash)),
        ("output_hashes_siblings", null(array(Hash))),
        ("execution_transaction_hash", null(Hash)),
    ])
}

fn report() -> Schema {
    timestamps(vec![
        ("epoch_index", Uint),
        ("input_index", Uint),
        ("index", Uint),
        ("raw_data", Bytes),
    ])
}

fn list_of(item: Schema) -> Schema {
    Object(vec![
        ("data", array(item)),
        (
            "pagination",
            Object(vec![
                ("total_count", Integer),
                ("limit", Integer),
                ("offset", Integer),
            ]),
        ),
    ])
}

fn data(item: Schema) -> Schema {
    Object(vec![("data", item)])
}

/// One raw call: the whole response.
async fn raw(client: &NodeClient, method: &str, params: Value) -> Value {
    client
        .call_raw::<_, Value>(method, &params)
        .await
        .map(|r| serde_json::to_value(r).expect("a response"))
        .unwrap_or_else(|e| panic!("{method}: {e}"))
}

/// `method`'s result, checked against `schema`.
async fn result(client: &NodeClient, method: &str, params: Value, schema: &Schema) -> Value {
    let answer = raw(client, method, params.clone()).await;
    let result = answer
        .get("result")
        .unwrap_or_else(|| panic!("{method} {params}: {answer}"));
    if let Err(e) = check(result, schema, method) {
        panic!("{method} {params}: {e}");
    }
    result.clone()
}

async fn error_code(client: &NodeClient, method: &str, params: Value) -> i64 {
    let answer = raw(client, method, params.clone()).await;
    answer["error"]["code"]
        .as_i64()
        .unwrap_or_else(|| panic!("{method} {params}: no error in {answer}"))
}

fn indices(list: &Value) -> Vec<u64> {
    list["data"]
        .as_array()
        .expect("data")
        .iter()
        .map(|i| crucible_e2e::hex_u64(&i["index"]))
        .collect()
}

/// Runs every method of the official API against the node at `url`, which has processed a
/// competition with notices, vouchers, reports and at least one accepted epoch.
pub(crate) async fn check_node_api(url: &str, app: Addr) {
    let client = NodeClient::new(url, app.to_string());
    let a = app.to_string();
    let mut seen = std::collections::BTreeSet::new();
    let mut call = |m: &'static str| {
        seen.insert(m);
        m
    };

    // Applications.
    let apps = result(
        &client,
        call("cartesi_listApplications"),
        json!({}),
        &list_of(application()),
    )
    .await;
    assert_eq!(apps["pagination"]["total_count"], 1);
    assert_eq!(
        result(
            &client,
            "cartesi_listApplications",
            json!({"offset": 1}),
            &list_of(application())
        )
        .await["data"],
        json!([])
    );
    let by_name = result(
        &client,
        call("cartesi_getApplication"),
        json!({"application": "crucible"}),
        &data(application()),
    )
    .await;
    let by_address = result(
        &client,
        "cartesi_getApplication",
        json!({"application": a}),
        &data(application()),
    )
    .await;
    assert_eq!(
        by_name["data"]["iapplication_address"],
        by_address["data"]["iapplication_address"]
    );
    assert_eq!(by_name["data"]["consensus_type"], "AUTHORITY");
    client.get_application().await.expect("typed application");

    // Inputs: pagination edges, filters, typed reading.
    let total = client.processed_input_count().await.expect("count");
    result(
        &client,
        call("cartesi_getProcessedInputCount"),
        json!({"application": a}),
        &data(Uint),
    )
    .await;
    let all = result(
        &client,
        call("cartesi_listInputs"),
        json!({"application": a, "limit": 10_000}),
        &list_of(input()),
    )
    .await;
    assert_eq!(all["pagination"]["total_count"], total);
    assert_eq!(indices(&all), (0..total).collect::<Vec<_>>());
    let last_page = result(
        &client,
        "cartesi_listInputs",
        json!({"application": a, "offset": total - 1}),
        &list_of(input()),
    )
    .await;
    assert_eq!(indices(&last_page), [total - 1]);
    let past = result(
        &client,
        "cartesi_listInputs",
        json!({"application": a, "offset": total + 5}),
        &list_of(input()),
    )
    .await;
    assert_eq!(
        (
            indices(&past).len(),
            past["pagination"]["total_count"].as_u64()
        ),
        (0, Some(total))
    );
    let down = result(
        &client,
        "cartesi_listInputs",
        json!({"application": a, "limit": 3, "descending": true}),
        &list_of(input()),
    )
    .await;
    assert_eq!(indices(&down), [total - 1, total - 2, total - 3]);
    let default = result(
        &client,
        "cartesi_listInputs",
        json!({"application": a, "limit": 0}),
        &list_of(input()),
    )
    .await;
    assert_eq!(default["pagination"]["limit"], 50);
    let first = &all["data"][0];
    let sender = first["decoded_data"]["sender"].as_str().expect("sender");
    let from_sender = result(
        &client,
        "cartesi_listInputs",
        json!({"application": a, "sender": sender, "limit": 10_000}),
        &list_of(input()),
    )
    .await;
    assert!(
        from_sender["data"]
            .as_array()
            .unwrap()
            .iter()
            .all(|i| i["decoded_data"]["sender"] == sender)
    );
    let epoch0 = first["epoch_index"].clone();
    let in_epoch = result(
        &client,
        "cartesi_listInputs",
        json!({"application": a, "epoch_index": epoch0, "limit": 10_000}),
        &list_of(input()),
    )
    .await;
    assert!(
        in_epoch["data"]
            .as_array()
            .unwrap()
            .iter()
            .all(|i| i["epoch_index"] == epoch0)
    );
    result(
        &client,
        call("cartesi_getInput"),
        json!({"application": a, "input_index": "0x0"}),
        &data(input()),
    )
    .await;
    assert_eq!(
        client
            .inputs(&Default::default())
            .await
            .expect("typed inputs")
            .len() as u64,
        total
    );

    // Outputs: every filter.
    let outputs = result(
        &client,
        call("cartesi_listOutputs"),
        json!({"application": a, "limit": 10_000}),
        &list_of(output()),
    )
    .await;
    let outputs = outputs["data"].as_array().unwrap().clone();
    let vouchers: Vec<&Value> = outputs
        .iter()
        .filter(|o| o["decoded_data"]["type"] == "Voucher")
        .collect();
    assert!(
        !vouchers.is_empty()
            && outputs
                .iter()
                .any(|o| o["decoded_data"]["type"] == "Notice")
    );
    let only = |filter: Value| {
        let client = &client;
        let a = a.clone();
        async move {
            let mut params = filter;
            params["application"] = json!(a);
            params["limit"] = json!(10_000);
            result(client, "cartesi_listOutputs", params, &list_of(output())).await
        }
    };
    let notices = only(json!({"output_type": "0xc258d6e5"})).await;
    assert!(
        notices["data"]
            .as_array()
            .unwrap()
            .iter()
            .all(|o| o["decoded_data"]["type"] == "Notice")
    );
    let voucher_list = only(json!({"output_type": "0x237a816f"})).await;
    assert_eq!(
        voucher_list["data"].as_array().unwrap().len(),
        vouchers.len()
    );
    assert!(
        vouchers
            .iter()
            .any(|v| v["execution_transaction_hash"].is_string()),
        "the vouchers executed on L1 show the transaction that executed them"
    );
    let destination = vouchers[0]["decoded_data"]["destination"].clone();
    let to_token = only(json!({"voucher_address": destination})).await;
    assert!(
        to_token["data"]
            .as_array()
            .unwrap()
            .iter()
            .all(|o| o["decoded_data"]["destination"] == destination)
    );
    let of_input = vouchers[0]["input_index"].clone();
    let by_input = only(json!({"input_index": of_input})).await;
    assert!(
        by_input["data"]
            .as_array()
            .unwrap()
            .iter()
            .all(|o| o["input_index"] == of_input)
    );
    let by_epoch = only(json!({"epoch_index": vouchers[0]["epoch_index"]})).await;
    assert!(
        by_epoch["data"]
            .as_array()
            .unwrap()
            .iter()
            .all(|o| o["epoch_index"] == vouchers[0]["epoch_index"])
    );
    result(
        &client,
        call("cartesi_getOutput"),
        json!({"application": a, "output_index": vouchers[0]["index"]}),
        &data(output()),
    )
    .await;
    assert!(
        client
            .outputs(&Default::default())
            .await
            .expect("typed outputs")
            .iter()
            .any(|o| o.voucher().is_some())
    );

    // Reports.
    let reports = result(
        &client,
        call("cartesi_listReports"),
        json!({"application": a, "limit": 10_000}),
        &list_of(report()),
    )
    .await;
    let first_report = reports["data"][0].clone();
    let of_input = result(
        &client,
        "cartesi_listReports",
        json!({"application": a, "input_index": first_report["input_index"]}),
        &list_of(report()),
    )
    .await;
    assert!(
        of_input["data"]
            .as_array()
            .unwrap()
            .iter()
            .all(|r| r["input_index"] == first_report["input_index"])
    );
    result(
        &client,
        "cartesi_listReports",
        json!({"application": a, "epoch_index": first_report["epoch_index"]}),
        &list_of(report()),
    )
    .await;
    result(
        &client,
        call("cartesi_getReport"),
        json!({"application": a, "report_index": first_report["index"]}),
        &data(report()),
    )
    .await;

    // Epochs: statuses follow the claims on chain.
    let epochs = result(
        &client,
        call("cartesi_listEpochs"),
        json!({"application": a}),
        &list_of(epoch()),
    )
    .await;
    let accepted = result(
        &client,
        "cartesi_listEpochs",
        json!({"application": a, "status": "CLAIM_ACCEPTED"}),
        &list_of(epoch()),
    )
    .await;
    assert!(
        !accepted["data"].as_array().unwrap().is_empty(),
        "an accepted epoch: {epochs}"
    );
    let last = result(
        &client,
        call("cartesi_getLastAcceptedEpochIndex"),
        json!({"application": a}),
        &data(Uint),
    )
    .await;
    let epoch = result(
        &client,
        call("cartesi_getEpoch"),
        json!({"application": a, "epoch_index": last["data"]}),
        &data(epoch()),
    )
    .await;
    assert_eq!(epoch["data"]["status"], "CLAIM_ACCEPTED");
    assert!(
        client
            .epochs()
            .await
            .expect("typed epochs")
            .iter()
            .any(|e| e.status == EpochStatus::ClaimAccepted)
    );

    // Chain and version.
    result(&client, call("cartesi_getChainId"), json!({}), &data(Uint)).await;
    result(
        &client,
        call("cartesi_getNodeVersion"),
        json!({}),
        &data(String),
    )
    .await;

    // PRT methods answer as for an application without PRT.
    for m in [
        "cartesi_listTournaments",
        "cartesi_listCommitments",
        "cartesi_listMatches",
    ] {
        let l = result(
            &client,
            call(m),
            json!({"application": a}),
            &list_of(Object(vec![])),
        )
        .await;
        assert_eq!(l["pagination"]["total_count"], 0);
    }
    let h = format!("0x{}", "11".repeat(32));
    let z = Addr::ZERO.to_string();
    let l = result(
        &client,
        call("cartesi_listMatchAdvances"),
        json!({"application": a, "epoch_index": "0x0", "tournament_address": z, "id_hash": h}),
        &list_of(Object(vec![])),
    )
    .await;
    assert_eq!(l["data"], json!([]));
    for (m, params) in [
        (
            "cartesi_getTournament",
            json!({"application": a, "address": z}),
        ),
        (
            "cartesi_getCommitment",
            json!({"application": a, "epoch_index": "0x0", "tournament_address": z, "commitment": h}),
        ),
        (
            "cartesi_getMatch",
            json!({"application": a, "epoch_index": "0x0", "tournament_address": z, "id_hash": h}),
        ),
        (
            "cartesi_getMatchAdvanced",
            json!({"application": a, "epoch_index": "0x0", "tournament_address": z, "id_hash": h, "parent": h}),
        ),
    ] {
        assert_eq!(
            error_code(&client, call(m), params).await,
            code::RESOURCE_NOT_FOUND,
            "{m}"
        );
    }
    let served: Vec<&str> = METHODS.iter().map(|(m, _)| *m).collect();
    assert_eq!(
        seen.into_iter().collect::<Vec<_>>(),
        {
            let mut s = served.clone();
            s.sort_unstable();
            s
        },
        "every method of the document is exercised"
    );

    // Every error code.
    let huge = format!("{:#x}", total + 1000);
    for (method, params, expected) in [
        (
            "cartesi_getInput",
            json!({"application": a, "input_index": huge}),
            code::RESOURCE_NOT_FOUND,
        ),
        (
            "cartesi_getOutput",
            json!({"application": a, "output_index": huge}),
            code::RESOURCE_NOT_FOUND,
        ),
        (
            "cartesi_getReport",
            json!({"application": a, "report_index": huge}),
            code::RESOURCE_NOT_FOUND,
        ),
        (
            "cartesi_getEpoch",
            json!({"application": a, "epoch_index": huge}),
            code::RESOURCE_NOT_FOUND,
        ),
        (
            "cartesi_getInput",
            json!({"application": "someone-else", "input_index": "0x0"}),
            code::APPLICATION_NOT_FOUND,
        ),
        (
            "cartesi_getInput",
            json!({"application": a, "input_index": "7"}),
            code::INVALID_PARAMS,
        ),
        (
            "cartesi_getInput",
            json!({"application": "No!", "input_index": "0x0"}),
            code::INVALID_PARAMS,
        ),
        (
            "cartesi_listInputs",
            json!({"application": a, "sender": "0x12"}),
            code::INVALID_PARAMS,
        ),
        (
            "cartesi_listOutputs",
            json!({"application": a, "output_type": "0x12"}),
            code::INVALID_PARAMS,
        ),
        (
            "cartesi_listEpochs",
            json!({"application": a, "status": "DONE"}),
            code::INVALID_PARAMS,
        ),
        (
            "cartesi_listInputs",
            json!({"application": a, "limit": -1}),
            code::INVALID_PARAMS,
        ),
        ("cartesi_subscribe", json!({}), code::METHOD_NOT_FOUND),
    ] {
        assert_eq!(
            error_code(&client, method, params.clone()).await,
            expected,
            "{method} {params}"
        );
    }
    let http = reqwest::Client::new();
    let post = |body: &'static str| {
        let http = http.clone();
        async move {
            let r: Value = http
                .post(format!("{url}/rpc"))
                .body(body)
                .send()
                .await
                .expect("the node answers")
                .json()
                .await
                .expect("JSON");
            r
        }
    };
    assert_eq!(post("{oops").await["error"]["code"], code::PARSE_ERROR);
    assert_eq!(
        post(r#"{"jsonrpc":"1.0","id":1,"method":"cartesi_getChainId"}"#).await["error"]["code"],
        code::INVALID_REQUEST
    );
    assert_eq!(post("[]").await["error"]["code"], code::INVALID_BATCH);
    let batch = post(r#"[{"jsonrpc":"2.0","id":"a","method":"cartesi_getChainId"},{"jsonrpc":"2.0","id":2,"method":"nope"}]"#).await;
    assert_eq!(
        (batch[0]["id"].clone(), batch[1]["error"]["code"].clone()),
        (json!("a"), json!(code::METHOD_NOT_FOUND))
    );

    // -31003: a batch whose answers together pass 10 MiB. The run's largest input is asked
    // for until they do: the answers within the bound are results, every later one the
    // size error, each with its request's id.
    let inputs = client
        .inputs(&ListInputsParams::default())
        .await
        .expect("cartesi_listInputs");
    let big = inputs
        .iter()
        .max_by_key(|i| i.raw_data.len())
        .expect("an input");
    let each = 2 * big.raw_data.len();
    let n = rpc::MAX_RESPONSE / each + 2;
    assert!(
        n <= rpc::MAX_BATCH,
        "the run has no input large enough for {} of its answers to pass {} bytes (the largest has {} bytes)",
        rpc::MAX_BATCH,
        rpc::MAX_RESPONSE,
        big.raw_data.len()
    );
    let body = Value::Array(
        (0..n)
            .map(|id| {
                json!({
                    "jsonrpc": "2.0",
                    "id": id,
                    "method": "cartesi_getInput",
                    "params": { "application": a, "input_index": big.index },
                })
            })
            .collect(),
    );
    let answers: Vec<Value> = http
        .post(format!("{url}/rpc"))
        .json(&body)
        .send()
        .await
        .expect("the node answers")
        .json()
        .await
        .expect("a JSON batch answer");
    assert_eq!(answers.len(), n, "one answer per request");
    let refused = answers
        .iter()
        .position(|r| r["error"]["code"] == code::RESPONSE_SIZE_LIMIT_EXCEEDED)
        .expect("a batch of answers over 10 MiB is refused with -31003");
    assert!(refused > 0, "the answers within the bound are served");
    for (id, r) in answers.iter().enumerate() {
        assert_eq!(
            r["id"],
            json!(id),
            "answers keep their requests' order and ids"
        );
        if id < refused {
            assert_eq!(
                r["result"]["data"]["raw_data"].as_str().map(str::len),
                Some(each + 2)
            );
        } else {
            assert_eq!(
                r["error"]["code"],
                code::RESPONSE_SIZE_LIMIT_EXCEEDED,
                "{id}"
            );
        }
    }
    // Served up to the bound, and not one answer more.
    let served: usize = answers[..refused].iter().map(|r| r.to_string().len()).sum();
    let next = answers[0].to_string().len();
    assert!(served <= rpc::MAX_RESPONSE && served + next > rpc::MAX_RESPONSE);
}
