//! Result shapes of the official node's JSON-RPC methods and of its inspect endpoint.

use crate::Quantity;
use alloy_primitives::{Address, B256, Bytes, U256};
use alloy_sol_types::SolCall;
use chrono::{DateTime, Utc};
use crucible_types::abi::{Inputs, Outputs};
use serde::{Deserialize, Serialize};

/// A timestamp (RFC 3339, UTC).
pub type Timestamp = DateTime<Utc>;

/// `{"data": …}`: the result of every `get` method.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Data<T> {
    /// The item.
    pub data: T,
}

/// Where a page sits in a list.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Pagination {
    /// Items that match the filters, all pages together.
    pub total_count: u64,
    /// The limit applied.
    pub limit: u64,
    /// The offset applied.
    pub offset: u64,
}

/// `{"data": [...], "pagination": {...}}`: the result of every `list` method.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct List<T> {
    /// This page.
    pub data: Vec<T>,
    /// Where it sits.
    pub pagination: Pagination,
}

/// The application's consensus.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Consensus {
    /// One owner claims.
    Authority,
    /// A majority of validators.
    Quorum,
    /// Permissionless refereed tournaments.
    Prt,
}

/// Whether the node processes the application's inputs (OpenRPC `state`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ApplicationState {
    /// Processing.
    Enabled,
    /// Turned off by its operator.
    Disabled,
    /// Stopped on an error it cannot pass (see `reason`).
    Inoperable,
}

/// The application's health as the newer client reads it (`status`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ApplicationStatus {
    /// Processing.
    Ok,
    /// Stopped on an error.
    Failed,
    /// Its claims and the accepted roots disagree.
    Diverged,
    /// Its state cannot be trusted.
    Corrupted,
}

/// When the node snapshots the machine.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum SnapshotPolicy {
    /// Never.
    None,
    /// After every input.
    EveryInput,
    /// At every epoch's end.
    EveryEpoch,
}

/// The limits the node runs the application's machine with (deadlines in nanoseconds).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExecutionParameters {
    /// Snapshots.
    pub snapshot_policy: SnapshotPolicy,
    /// Cycles between checks of an advance.
    pub advance_inc_cycles: Quantity,
    /// Cycles an advance may run.
    pub advance_max_cycles: Quantity,
    /// Cycles between checks of an inspect.
    pub inspect_inc_cycles: Quantity,
    /// Cycles an inspect may run.
    pub inspect_max_cycles: Quantity,
    /// Time between checks of an advance.
    pub advance_inc_deadline: Quantity,
    /// Time an advance may take.
    pub advance_max_deadline: Quantity,
    /// Time between checks of an inspect.
    pub inspect_inc_deadline: Quantity,
    /// Time an inspect may take.
    pub inspect_max_deadline: Quantity,
    /// Time to load the machine.
    pub load_deadline: Quantity,
    /// Time to store a snapshot.
    pub store_deadline: Quantity,
    /// Time for fast machine calls.
    pub fast_deadline: Quantity,
    /// Inspects at once.
    pub max_concurrent_inspects: u32,
    /// Written.
    pub created_at: Timestamp,
    /// Last changed.
    pub updated_at: Timestamp,
}

/// An application the node serves.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Application {
    /// Its name (`application` parameters take it, or the address).
    pub name: String,
    /// The Application contract.
    pub iapplication_address: Address,
    /// Its consensus.
    pub iconsensus_address: Address,
    /// The InputBox it reads.
    pub iinputbox_address: Address,
    /// The machine template's hash, as the contract holds it.
    pub template_hash: B256,
    /// Blocks per epoch.
    pub epoch_length: Quantity,
    /// Blocks a claim waits before it counts (the newer contracts; 0 for v2.0's).
    pub claim_staging_period: Quantity,
    /// The contract's data availability (`InputBox(address)` calldata).
    pub data_availability: Bytes,
    /// The consensus' kind.
    pub consensus_type: Consensus,
    /// Processing or not.
    pub state: ApplicationState,
    /// `state == ENABLED`.
    pub enabled: bool,
    /// Health.
    pub status: ApplicationStatus,
    /// Why it is not enabled.
    pub reason: Option<String>,
    /// The block the InputBox was deployed in.
    pub iinputbox_block: Quantity,
    /// The last block whose epochs the node has checked.
    pub last_epoch_check_block: Quantity,
    /// The last block whose inputs the node has read.
    pub last_input_check_block: Quantity,
    /// The last block whose executed outputs the node has read.
    pub last_output_check_block: Quantity,
    /// PRT only: 0.
    pub last_tournament_check_block: Quantity,
    /// Inputs processed.
    pub processed_inputs: Quantity,
    /// Registered.
    pub created_at: Timestamp,
    /// Last changed.
    pub updated_at: Timestamp,
    /// Machine limits.
    pub execution_parameters: ExecutionParameters,
}

/// Where an epoch's claim stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum EpochStatus {
    /// Its last block is not yet read.
    Open,
    /// Read to its end; inputs not all processed.
    Closed,
    /// Every input processed.
    InputsProcessed,
    /// The node's claim is computed (not submitted: no claimer key, or not yet).
    ClaimComputed,
    /// The node submitted its claim.
    ClaimSubmitted,
    /// The claim waits out the staging period (newer contracts).
    ClaimStaged,
    /// The consensus accepted the node's root.
    ClaimAccepted,
    /// The consensus accepted another root.
    ClaimRejected,
    /// The application was foreclosed (newer contracts).
    ClaimForeclosed,
}

impl EpochStatus {
    /// Every status, in the life of a claim.
    pub const ALL: [Self; 9] = [
        Self::Open,
        Self::Closed,
        Self::InputsProcessed,
        Self::ClaimComputed,
        Self::ClaimSubmitted,
        Self::ClaimStaged,
        Self::ClaimAccepted,
        Self::ClaimRejected,
        Self::ClaimForeclosed,
    ];
}

/// An epoch: the inputs of `epoch_length` blocks and the claim on their outputs root.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Epoch {
    /// `first_block / epoch_length`.
    pub index: Quantity,
    /// Its first block.
    pub first_block: Quantity,
    /// Its last block (the claims' `lastProcessedBlockNumber`).
    pub last_block: Quantity,
    /// Its first input's index.
    pub input_index_lower_bound: Quantity,
    /// One past its last input's index.
    pub input_index_upper_bound: Quantity,
    /// The machine's state hash at its end (a Cartesi machine; `null` in host mode).
    pub machine_hash: Option<B256>,
    /// The outputs root at its end, once read.
    pub outputs_merkle_root: Option<B256>,
    /// The root's proof in the machine state (a Cartesi machine; `null` in host mode).
    pub outputs_merkle_proof: Option<Vec<B256>>,
    /// PRT only.
    pub commitment: Option<B256>,
    /// PRT only.
    pub commitment_proof: Option<Vec<B256>>,
    /// The node's claim transaction.
    pub claim_transaction_hash: Option<B256>,
    /// PRT only.
    pub tournament_address: Option<Address>,
    /// Where its claim stands.
    pub status: EpochStatus,
    /// The block its claim was staged in (newer contracts).
    pub staged_at_block: Option<Quantity>,
    /// Its position among the epochs that hold inputs.
    pub virtual_index: Quantity,
    /// Its first input's block time.
    pub created_at: Timestamp,
    /// Its last input's block time.
    pub updated_at: Timestamp,
}

/// How processing an input ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum InputStatus {
    /// Not processed yet.
    None,
    /// Accepted: its outputs count.
    Accepted,
    /// Rejected: its outputs are discarded, its reports kept.
    Rejected,
    /// The application threw.
    Exception,
    /// The machine halted.
    MachineHalted,
    /// Too many outputs.
    OutputsLimitExceeded,
    /// Too many reports.
    ReportsLimitExceeded,
    /// Too many cycles.
    CycleLimitExceeded,
    /// Took too long.
    TimeLimitExceeded,
    /// Payload too long.
    PayloadLengthLimitExceeded,
}

/// The decoded `EvmAdvance` call an input carries.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EvmAdvance {
    /// L1 chain id.
    pub chain_id: Quantity,
    /// The application.
    pub application_contract: Address,
    /// Who sent it.
    pub sender: Address,
    /// Its block.
    pub block_number: Quantity,
    /// Its block's time (seconds).
    pub block_timestamp: Quantity,
    /// Its block's `prevrandao` (minimal hex, as the official node writes it).
    pub prev_randao: U256,
    /// Its index in the InputBox.
    pub index: Quantity,
    /// What the sender sent.
    pub payload: Bytes,
}

impl EvmAdvance {
    /// Decodes an InputBox blob (`EvmAdvance` calldata); `None` if it is not one.
    pub fn decode(blob: &[u8]) -> Option<Self> {
        let call = Inputs::EvmAdvanceCall::abi_decode(blob).ok()?;
        let u64_of = |v: U256| u64::try_from(v).ok().map(Quantity);
        Some(Self {
            chain_id: u64_of(call.chainId)?,
            application_contract: call.appContract,
            sender: call.msgSender,
            block_number: u64_of(call.blockNumber)?,
            block_timestamp: u64_of(call.blockTimestamp)?,
            prev_randao: call.prevRandao,
            index: u64_of(call.index)?,
            payload: call.payload,
        })
    }
}

/// An input, as processed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Input {
    /// Its epoch.
    pub epoch_index: Quantity,
    /// Its index in the InputBox.
    pub index: Quantity,
    /// Its block.
    pub block_number: Quantity,
    /// The InputBox blob.
    pub raw_data: Bytes,
    /// The blob decoded; `null` if it does not decode.
    pub decoded_data: Option<EvmAdvance>,
    /// How processing it ended.
    pub status: InputStatus,
    /// The machine's state hash after it (a Cartesi machine; `null` in host mode).
    pub machine_hash: Option<B256>,
    /// The outputs root after it.
    pub outputs_hash: Option<B256>,
    /// Its reference in the InputBox: the index as a 32-byte word.
    pub transaction_reference: Bytes,
    /// The transaction that added it.
    pub transaction_hash: B256,
    /// Its `InputAdded` log's index in that block.
    pub log_index: Quantity,
    /// Its block's time.
    pub created_at: Timestamp,
    /// Its block's time.
    pub updated_at: Timestamp,
}

/// An output decoded as the official node decodes it: tagged by the `Outputs` function's name.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type")]
pub enum DecodedOutput {
    /// `Notice(bytes payload)`.
    Notice {
        /// The notice.
        payload: Bytes,
    },
    /// `Voucher(address destination, uint256 value, bytes payload)`.
    Voucher {
        /// The contract called.
        destination: Address,
        /// Wei sent.
        value: U256,
        /// Calldata.
        payload: Bytes,
    },
    /// `DelegateCallVoucher(address destination, bytes payload)`.
    DelegateCallVoucher {
        /// The contract delegate-called.
        destination: Address,
        /// Calldata.
        payload: Bytes,
    },
}

/// The selector of `Notice(bytes)` (the `output_type` filter for notices).
pub const NOTICE: [u8; 4] = Outputs::NoticeCall::SELECTOR;
/// The selector of `Voucher(address,uint256,bytes)`.
pub const VOUCHER: [u8; 4] = Outputs::VoucherCall::SELECTOR;
/// The selector of `DelegateCallVoucher(address,bytes)`.
pub const DELEGATE_CALL_VOUCHER: [u8; 4] = Outputs::DelegateCallVoucherCall::SELECTOR;

alloy_sol_types::sol! {
    /// ERC-20 `transfer`, the call of a token payout voucher.
    function transfer(address to, uint256 value) external returns (bool);
}

/// What a voucher pays.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Payment {
    /// Who is paid.
    pub to: Address,
    /// How much, in the token's base unit (wei for ether).
    pub amount: U256,
    /// The token; `Address::ZERO` for ether.
    pub token: Address,
}

impl DecodedOutput {
    /// What this voucher pays: an ERC-20 `transfer` voucher pays its recipient in the
    /// token it calls; any other voucher pays its destination the ether it carries.
    /// `None` for notices and DELEGATECALL vouchers.
    pub fn payment(&self) -> Option<Payment> {
        let Self::Voucher {
            destination,
            value,
            payload,
        } = self
        else {
            return None;
        };
        Some(match transferCall::abi_decode(payload) {
            Ok(t) => Payment {
                to: t.to,
                amount: t.value,
                token: *destination,
            },
            Err(_) => Payment {
                to: *destination,
                amount: *value,
                token: Address::ZERO,
            },
        })
    }

    /// Decodes output bytes; `None` if they are not one of the three `Outputs` calls.
    pub fn decode(bytes: &[u8]) -> Option<Self> {
        match bytes.get(..4)?.try_into().ok()? {
            NOTICE => Outputs::NoticeCall::abi_decode(bytes)
                .ok()
                .map(|n| Self::Notice { payload: n.payload }),
            VOUCHER => Outputs::VoucherCall::abi_decode(bytes)
                .ok()
                .map(|v| Self::Voucher {
                    destination: v.destination,
                    value: v.value,
                    payload: v.payload,
                }),
            DELEGATE_CALL_VOUCHER => Outputs::DelegateCallVoucherCall::abi_decode(bytes)
                .ok()
                .map(|v| Self::DelegateCallVoucher {
                    destination: v.destination,
                    payload: v.payload,
                }),
            _ => None,
        }
    }
}

/// An output of an accepted input.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Output {
    /// Its input's epoch.
    pub epoch_index: Quantity,
    /// Its input.
    pub input_index: Quantity,
    /// Its index in the outputs tree (global, since genesis).
    pub index: Quantity,
    /// The `Outputs` calldata.
    pub raw_data: Bytes,
    /// Decoded; `null` if it is not one of the three kinds.
    pub decoded_data: Option<DecodedOutput>,
    /// `keccak256(raw_data)`: its leaf.
    pub hash: Option<B256>,
    /// Its proof against the root of its epoch's accepted claim, once there is one.
    pub output_hashes_siblings: Option<Vec<B256>>,
    /// The transaction that executed it (vouchers).
    pub execution_transaction_hash: Option<B256>,
    /// Its input's block time.
    pub created_at: Timestamp,
    /// Its input's block time, or when it was executed.
    pub updated_at: Timestamp,
}

impl Output {
    /// The voucher's destination and payload, if this is a voucher.
    pub fn voucher(&self) -> Option<(Address, U256, &Bytes)> {
        match &self.decoded_data {
            Some(DecodedOutput::Voucher {
                destination,
                value,
                payload,
            }) => Some((*destination, *value, payload)),
            _ => None,
        }
    }

    /// The notice's payload, if this is a notice.
    pub fn notice(&self) -> Option<&Bytes> {
        match &self.decoded_data {
            Some(DecodedOutput::Notice { payload }) => Some(payload),
            _ => None,
        }
    }
}

/// A report of any input (accepted or not).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Report {
    /// Its input's epoch.
    pub epoch_index: Quantity,
    /// Its input.
    pub input_index: Quantity,
    /// Its index (global, since genesis).
    pub index: Quantity,
    /// What the application reported.
    pub raw_data: Bytes,
    /// Its input's block time.
    pub created_at: Timestamp,
    /// Its input's block time.
    pub updated_at: Timestamp,
}

/// How an inspect request ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum InspectStatus {
    /// The application accepted it.
    Accepted,
    /// The application rejected it.
    Rejected,
    /// The application threw.
    Exception,
}

/// One inspect report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InspectReport {
    /// What the application reported.
    pub payload: Bytes,
}

/// The answer of `POST /inspect/<application>`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InspectResponse {
    /// How it ended.
    pub status: InspectStatus,
    /// The exception's payload, if it threw.
    #[serde(default)]
    pub exception: Option<Bytes>,
    /// The reports, in order.
    pub reports: Vec<InspectReport>,
    /// Inputs processed when the request ran.
    pub processed_input_count: u64,
}

/// One uploader's accepted chunks of a blob (crucible-node's `GET /blobs/<cid>/chunks`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChunkUpload {
    /// Who sent them.
    pub uploader: Address,
    /// The chunk count the upload declares.
    pub count: u32,
    /// The chunk indices accepted so far, ascending.
    pub indices: Vec<u32>,
}

/// `GET /blobs/<cid>/chunks`: every upload of a blob, so an interrupted upload resumes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChunkStatus {
    /// The blob.
    pub cid: crucible_types::Cid,
    /// Its uploads, by uploader and chunk count.
    pub uploads: Vec<ChunkUpload>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn outputs_decode_as_the_official_node_names_them() {
        let to = Address::repeat_byte(0x11);
        let voucher = Outputs::VoucherCall {
            destination: to,
            value: U256::from(255),
            payload: Bytes::from(vec![1, 2]),
        }
        .abi_encode();
        let decoded = DecodedOutput::decode(&voucher).unwrap();
        assert_eq!(
            serde_json::to_value(&decoded).unwrap(),
            json!({
                "type": "Voucher",
                "destination": to.to_checksum(None),
                "value": "0xff",
                "payload": "0x0102",
            })
        );
        let notice = Outputs::NoticeCall {
            payload: Bytes::from(vec![7]),
        }
        .abi_encode();
        assert_eq!(
            serde_json::to_value(DecodedOutput::decode(&notice).unwrap()).unwrap(),
            json!({"type": "Notice", "payload": "0x07"})
        );
        assert_eq!(DecodedOutput::decode(&[0xc2, 0x58, 0xd6, 0xe5, 0]), None);
        assert_eq!(DecodedOutput::decode(&[1, 2]), None);
    }

    #[test]
    fn payments_name_the_payee_the_amount_and_the_token() {
        let (token, alice) = (Address::repeat_byte(0x70), Address::repeat_byte(0xa1));
        let erc20 = DecodedOutput::Voucher {
            destination: token,
            value: U256::ZERO,
            payload: transferCall {
                to: alice,
                value: U256::from(70),
            }
            .abi_encode()
            .into(),
        };
        assert_eq!(
            erc20.payment(),
            Some(Payment {
                to: alice,
                amount: U256::from(70),
                token
            })
        );
        let ether = DecodedOutput::Voucher {
            destination: alice,
            value: U256::from(5),
            payload: Bytes::new(),
        };
        assert_eq!(
            ether.payment(),
            Some(Payment {
                to: alice,
                amount: U256::from(5),
                token: Address::ZERO
            })
        );
        let notice = DecodedOutput::Notice {
            payload: Bytes::new(),
        };
        assert_eq!(notice.payment(), None);
    }

    #[test]
    fn enums_have_the_official_spelling() {
        assert_eq!(
            serde_json::to_value(EpochStatus::InputsProcessed).unwrap(),
            "INPUTS_PROCESSED"
        );
        assert_eq!(
            serde_json::to_value(InputStatus::PayloadLengthLimitExceeded).unwrap(),
            "PAYLOAD_LENGTH_LIMIT_EXCEEDED"
        );
        assert_eq!(serde_json::to_value(Consensus::Prt).unwrap(), "PRT");
        assert_eq!(
            serde_json::to_value(SnapshotPolicy::EveryEpoch).unwrap(),
            "EVERY_EPOCH"
        );
    }
}
