//! JSON-RPC 2.0 envelopes, the official node's error codes, its list defaults and every
//! method's parameters.

use crate::Quantity;
use alloy_primitives::{Address, B256};
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// Error codes, as the official node answers them.
pub mod code {
    /// The body is not JSON.
    pub const PARSE_ERROR: i64 = -32700;
    /// Not a JSON-RPC 2.0 request object.
    pub const INVALID_REQUEST: i64 = -32600;
    /// No such method.
    pub const METHOD_NOT_FOUND: i64 = -32601;
    /// Missing, mistyped or malformed parameters.
    pub const INVALID_PARAMS: i64 = -32602;
    /// The node failed (details are logged, not sent).
    pub const INTERNAL_ERROR: i64 = -32603;
    /// A batch that is empty or longer than [`super::MAX_BATCH`].
    pub const INVALID_BATCH: i64 = -32040;
    /// The application exists but the epoch, input, output, report… does not (yet): safe
    /// to poll.
    pub const RESOURCE_NOT_FOUND: i64 = -31001;
    /// The application itself is unknown to this node: retrying will not help.
    pub const APPLICATION_NOT_FOUND: i64 = -31002;
    /// The batch's answers together would pass [`super::MAX_RESPONSE`].
    pub const RESPONSE_SIZE_LIMIT_EXCEEDED: i64 = -31003;
}

/// Requests in one batch at most.
pub const MAX_BATCH: usize = 100;
/// Bytes of a batch's answers together at most.
pub const MAX_RESPONSE: usize = 10 << 20;

/// Items a list method returns when `limit` is absent or 0.
pub const LIST_DEFAULT: u64 = 50;
/// The most items a list method returns; a larger `limit` is capped to it.
pub const LIST_LIMIT: u64 = 10_000;

/// A request.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(bound(deserialize = "P: Deserialize<'de>"))]
pub struct Request<P = Value> {
    /// Always `"2.0"`.
    pub jsonrpc: String,
    /// The method.
    pub method: String,
    /// By name (an object) or by position (an array).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub params: Option<P>,
    /// Echoed in the response.
    #[serde(default)]
    pub id: Value,
}

impl<P> Request<P> {
    /// A request with params by name.
    pub fn new(id: u64, method: &str, params: P) -> Self {
        Self {
            jsonrpc: "2.0".into(),
            method: method.into(),
            params: Some(params),
            id: id.into(),
        }
    }
}

/// An error object.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
#[error("{message} ({code})")]
pub struct RpcError {
    /// One of [`code`].
    pub code: i64,
    /// What went wrong.
    pub message: String,
}

impl RpcError {
    /// An error with `code`.
    pub fn new(code: i64, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
        }
    }

    /// [`code::INVALID_PARAMS`].
    pub fn invalid(message: impl Into<String>) -> Self {
        Self::new(code::INVALID_PARAMS, message)
    }

    /// [`code::RESOURCE_NOT_FOUND`], as `"<What> not found"`.
    pub fn not_found(what: &str) -> Self {
        Self::new(code::RESOURCE_NOT_FOUND, format!("{what} not found"))
    }

    /// [`code::APPLICATION_NOT_FOUND`].
    pub fn no_application() -> Self {
        Self::new(code::APPLICATION_NOT_FOUND, "Application not found")
    }

    /// [`code::INTERNAL_ERROR`]; the node logs the cause and does not send it.
    pub fn internal() -> Self {
        Self::new(code::INTERNAL_ERROR, "Internal server error")
    }
}

/// A response: `result` or `error`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(bound(deserialize = "R: Deserialize<'de>"))]
pub struct Response<R = Value> {
    /// Always `"2.0"`.
    pub jsonrpc: String,
    /// The request's id.
    pub id: Value,
    /// The answer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub result: Option<R>,
    /// Or why there is none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<RpcError>,
}

impl<R> Response<R> {
    /// A success.
    pub fn result(id: Value, result: R) -> Self {
        Self {
            jsonrpc: "2.0".into(),
            id,
            result: Some(result),
            error: None,
        }
    }

    /// A failure.
    pub fn error(id: Value, error: RpcError) -> Self {
        Self {
            jsonrpc: "2.0".into(),
            id,
            result: None,
            error: Some(error),
        }
    }
}

/// Every method the official node serves (the methods of its OpenRPC document), with its
/// parameter names in positional order.
pub const METHODS: &[(&str, &[&str])] = &[
    (
        "cartesi_listApplications",
        &["limit", "offset", "descending"],
    ),
    ("cartesi_getApplication", &["application"]),
    (
        "cartesi_listEpochs",
        &["application", "status", "limit", "offset", "descending"],
    ),
    ("cartesi_getEpoch", &["application", "epoch_index"]),
    ("cartesi_getLastAcceptedEpochIndex", &["application"]),
    (
        "cartesi_listInputs",
        &[
            "application",
            "epoch_index",
            "sender",
            "limit",
            "offset",
            "descending",
        ],
    ),
    ("cartesi_getInput", &["application", "input_index"]),
    ("cartesi_getProcessedInputCount", &["application"]),
    (
        "cartesi_listOutputs",
        &[
            "application",
            "epoch_index",
            "input_index",
            "output_type",
            "voucher_address",
            "limit",
            "offset",
            "descending",
        ],
    ),
    ("cartesi_getOutput", &["application", "output_index"]),
    (
        "cartesi_listReports",
        &[
            "application",
            "epoch_index",
            "input_index",
            "limit",
            "offset",
            "descending",
        ],
    ),
    ("cartesi_getReport", &["application", "report_index"]),
    (
        "cartesi_listTournaments",
        &[
            "application",
            "epoch_index",
            "level",
            "parent_tournament_address",
            "parent_match_id_hash",
            "limit",
            "offset",
            "descending",
        ],
    ),
    ("cartesi_getTournament", &["application", "address"]),
    (
        "cartesi_listCommitments",
        &[
            "application",
            "epoch_index",
            "tournament_address",
            "limit",
            "offset",
            "descending",
        ],
    ),
    (
        "cartesi_getCommitment",
        &[
            "application",
            "epoch_index",
            "tournament_address",
            "commitment",
        ],
    ),
    (
        "cartesi_listMatches",
        &[
            "application",
            "epoch_index",
            "tournament_address",
            "limit",
            "offset",
            "descending",
        ],
    ),
    (
        "cartesi_getMatch",
        &[
            "application",
            "epoch_index",
            "tournament_address",
            "id_hash",
        ],
    ),
    (
        "cartesi_listMatchAdvances",
        &[
            "application",
            "epoch_index",
            "tournament_address",
            "id_hash",
            "limit",
            "offset",
            "descending",
        ],
    ),
    (
        "cartesi_getMatchAdvanced",
        &[
            "application",
            "epoch_index",
            "tournament_address",
            "id_hash",
            "parent",
        ],
    ),
    ("cartesi_getChainId", &[]),
    ("cartesi_getNodeVersion", &[]),
];

/// crucible-node's own method: every epoch's claims next to this node's root.
pub const LIST_CLAIMS: &str = "crucible_listClaims";

/// The parameter names of `method`, if the official node serves it.
pub fn param_names(method: &str) -> Option<&'static [&'static str]> {
    METHODS
        .iter()
        .find(|(m, _)| *m == method)
        .map(|(_, names)| *names)
}

/// Params by position turned into params by name, in the order of [`METHODS`]; an object
/// passes through; absent or `null` params are an empty object.
pub fn named_params(method: &str, params: Option<Value>) -> Result<Value, RpcError> {
    match params {
        None | Some(Value::Null) => Ok(Value::Object(Default::default())),
        Some(v @ Value::Object(_)) => Ok(v),
        Some(Value::Array(values)) => {
            let names = param_names(method).unwrap_or_default();
            if values.len() > names.len() {
                return Err(RpcError::invalid(format!(
                    "Invalid parameters: {method} takes {} positional parameters, got {}",
                    names.len(),
                    values.len()
                )));
            }
            Ok(Value::Object(
                names
                    .iter()
                    .zip(values)
                    .filter(|(_, v)| !v.is_null())
                    .map(|(n, v)| (n.to_string(), v))
                    .collect(),
            ))
        }
        Some(_) => Err(RpcError::invalid(
            "Invalid parameters: params must be an object or an array",
        )),
    }
}

/// Pagination of a list method.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PageParams {
    /// Items wanted: absent or 0 means [`LIST_DEFAULT`], more than [`LIST_LIMIT`] is capped.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit: Option<u64>,
    /// Items skipped.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub offset: Option<u64>,
    /// Highest index first.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub descending: bool,
}

impl PageParams {
    /// The limit the official node applies.
    pub fn limit(&self) -> u64 {
        match self.limit {
            None | Some(0) => LIST_DEFAULT,
            Some(l) => l.min(LIST_LIMIT),
        }
    }

    /// The offset (0 when absent).
    pub fn offset(&self) -> u64 {
        self.offset.unwrap_or(0)
    }
}

/// `{application}`: the application's name or address.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AppParams {
    /// Name (`^[a-z0-9_-]{3,}$`) or `0x` address.
    pub application: String,
}

/// `cartesi_listEpochs`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ListEpochsParams {
    /// Name or address.
    pub application: String,
    /// Only epochs with this status.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<crate::EpochStatus>,
    /// Pagination.
    #[serde(flatten)]
    pub page: PageParams,
}

/// `cartesi_listInputs`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ListInputsParams {
    /// Name or address.
    pub application: String,
    /// Only this epoch's inputs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub epoch_index: Option<Quantity>,
    /// Only inputs whose `msg.sender` is this.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sender: Option<Address>,
    /// Pagination.
    #[serde(flatten)]
    pub page: PageParams,
}

/// `cartesi_listOutputs`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ListOutputsParams {
    /// Name or address.
    pub application: String,
    /// Only outputs of inputs in this epoch.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub epoch_index: Option<Quantity>,
    /// Only this input's outputs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub input_index: Option<Quantity>,
    /// Only outputs whose first four bytes are this selector (`0x` and 8 hex digits).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub output_type: Option<String>,
    /// Only vouchers (and DELEGATECALL vouchers) to this destination.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub voucher_address: Option<Address>,
    /// Pagination.
    #[serde(flatten)]
    pub page: PageParams,
}

/// `cartesi_listReports`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ListReportsParams {
    /// Name or address.
    pub application: String,
    /// Only reports of inputs in this epoch.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub epoch_index: Option<Quantity>,
    /// Only this input's reports.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub input_index: Option<Quantity>,
    /// Pagination.
    #[serde(flatten)]
    pub page: PageParams,
}

/// `cartesi_listTournaments`, `cartesi_listCommitments`, `cartesi_listMatches`,
/// `cartesi_listMatchAdvances`: the PRT lists (always empty for an Authority or a Quorum).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PrtListParams {
    /// Name or address.
    pub application: String,
    /// Epoch filter.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub epoch_index: Option<Quantity>,
    /// Level filter (tournaments).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub level: Option<Quantity>,
    /// Tournament filter.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tournament_address: Option<Address>,
    /// Parent tournament filter.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parent_tournament_address: Option<Address>,
    /// Parent match filter.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parent_match_id_hash: Option<B256>,
    /// Match (match advances).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id_hash: Option<B256>,
    /// Pagination.
    #[serde(flatten)]
    pub page: PageParams,
}

/// `cartesi_getEpoch`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GetEpochParams {
    /// Name or address.
    pub application: String,
    /// The epoch.
    pub epoch_index: Quantity,
}

/// `cartesi_getInput`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GetInputParams {
    /// Name or address.
    pub application: String,
    /// The input.
    pub input_index: Quantity,
}

/// `cartesi_getOutput`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GetOutputParams {
    /// Name or address.
    pub application: String,
    /// The output.
    pub output_index: Quantity,
}

/// `cartesi_getReport`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GetReportParams {
    /// Name or address.
    pub application: String,
    /// The report.
    pub report_index: Quantity,
}

/// Whether `s` names an application the way the official node accepts: a `0x` address or
/// a name of at least three of `a-z0-9_-`.
pub fn valid_app_ref(s: &str) -> bool {
    let is_address =
        s.len() == 42 && s.starts_with("0x") && s[2..].bytes().all(|b| b.is_ascii_hexdigit());
    let is_name = s.len() >= 3
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-');
    is_address || is_name
}

/// The four-byte selector of an `output_type` filter (`0x` and 8 hex digits).
pub fn output_type(s: &str) -> Result<[u8; 4], RpcError> {
    let digits = s
        .strip_prefix("0x")
        .or_else(|| s.strip_prefix("0X"))
        .unwrap_or(s);
    let mut out = [0u8; 4];
    if digits.len() != 8 {
        return Err(RpcError::invalid(
            "Invalid output type: expected exactly 4 bytes",
        ));
    }
    alloy_primitives::hex::decode_to_slice(digits, &mut out)
        .map_err(|e| RpcError::invalid(format!("Invalid output type: {e}")))?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn positional_params_take_the_official_order() {
        let named = named_params(
            "cartesi_listOutputs",
            Some(json!(["crucible", null, "0x2", null, null, 5])),
        )
        .unwrap();
        assert_eq!(
            named,
            json!({"application": "crucible", "input_index": "0x2", "limit": 5})
        );
        let too_many = named_params("cartesi_getInput", Some(json!(["a", "0x1", 3])));
        assert_eq!(too_many.unwrap_err().code, code::INVALID_PARAMS);
        assert_eq!(named_params("cartesi_getChainId", None).unwrap(), json!({}));
        assert_eq!(
            named_params("cartesi_getChainId", Some(json!(7)))
                .unwrap_err()
                .code,
            code::INVALID_PARAMS
        );
    }

    #[test]
    fn limits_default_and_cap_as_the_official_node() {
        let page = |limit| PageParams {
            limit,
            ..Default::default()
        };
        assert_eq!(page(None).limit(), 50);
        assert_eq!(page(Some(0)).limit(), 50);
        assert_eq!(page(Some(7)).limit(), 7);
        assert_eq!(page(Some(1_000_000)).limit(), 10_000);
    }

    #[test]
    fn application_refs_and_output_types() {
        assert!(valid_app_ref("crucible"));
        assert!(valid_app_ref("0x00000000000000000000000000000000000000aA"));
        for bad in ["ab", "Crucible", "0xAB", "app name", ""] {
            assert!(!valid_app_ref(bad), "{bad:?}");
        }
        assert_eq!(output_type("0xc258d6e5").unwrap(), [0xc2, 0x58, 0xd6, 0xe5]);
        assert!(output_type("0xc258d6").is_err());
        assert!(output_type("0xzz58d6e5").is_err());
    }
}
