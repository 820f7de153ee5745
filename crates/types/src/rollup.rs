//! Rollup-level wire types: the metadata of an advance request (as the rollup HTTP server
//! sends it) and the packed payloads of Cartesi Rollups v2 portal deposits.

use crate::{Error, Result};
use alloy_primitives::{Address, B256, U256, address};
use serde::{Deserialize, Serialize};

/// Canonical Cartesi Rollups v2.2.0 `ERC20Portal` (CREATE2, zero salt).
pub const ERC20_PORTAL: Address = address!("0xACA6586A0Cf05bD831f2501E7B4aea550dA6562D");
/// Canonical Cartesi Rollups v2.2.0 `EtherPortal` (CREATE2, zero salt).
pub const ETHER_PORTAL: Address = address!("0xA632c5c05812c6a6149B7af5C56117d1D2603828");
/// Canonical Cartesi Rollups v2.2.0 `InputBox`.
pub const INPUT_BOX: Address = address!("0x1b51e2992A2755Ba4D6F7094032DF91991a0Cfac");
/// Canonical Cartesi Rollups v2.2.0 `AuthorityFactory`.
pub const AUTHORITY_FACTORY: Address = address!("0x5E96408CFE423b01dADeD3bc867E6013135990cc");
/// Canonical Cartesi Rollups v2.2.0 `QuorumFactory`.
pub const QUORUM_FACTORY: Address = address!("0x1c91ba8aa5648cdac77e97eac781447c646ef239");
/// Canonical Cartesi Rollups v2.2.0 `ApplicationFactory`.
pub const APPLICATION_FACTORY: Address = address!("0x26E758238CB6eC5aB70ce0dd52aF2d7b82e1972E");
/// Canonical Cartesi Rollups v2.2.0 `SelfHostedApplicationFactory` (an Authority and an
/// Application in one transaction).
pub const SELF_HOSTED_APPLICATION_FACTORY: Address =
    address!("0x010D3CbB4223F5bCc7b7B03cEE59f3aAea8eDb8A");

/// The token address under which Ether is booked.
pub const ETHER: Address = Address::ZERO;

/// Metadata of an advance-state request. Field names and order follow the rollup HTTP
/// server's `AdvanceMetadata`; `block_timestamp` is in seconds. This is the only source of
/// time and randomness the core may use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct AdvanceMeta {
    /// EVM chain id.
    pub chain_id: u64,
    /// The application contract the input was sent to.
    pub app_contract: Address,
    /// `msg.sender` of `addInput` (the portal for deposits).
    pub msg_sender: Address,
    /// L1 block of the input.
    pub block_number: u64,
    /// L1 block timestamp, in seconds.
    pub block_timestamp: u64,
    /// L1 `prevrandao` of the input's block.
    pub prev_randao: B256,
    /// Index of the input in the application's input box, from 0.
    pub input_index: u64,
}

/// A portal deposit, decoded from its packed payload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Deposit {
    /// The ERC-20 token, or [`ETHER`].
    pub token: Address,
    /// Who deposited (the portal's `msg.sender`).
    pub sender: Address,
    /// Amount deposited, in the token's base unit (wei for Ether).
    pub amount: U256,
    /// The `execLayerData` the depositor attached.
    pub exec_layer_data: Vec<u8>,
}

impl Deposit {
    /// Decodes the payload of an input if `msg_sender` is one of the two portals; returns
    /// `Ok(None)` for any other sender.
    pub fn from_portal_input(
        msg_sender: Address,
        erc20_portal: Address,
        ether_portal: Address,
        payload: &[u8],
    ) -> Result<Option<Self>> {
        if msg_sender == erc20_portal {
            Self::decode_erc20(payload).map(Some)
        } else if msg_sender == ether_portal {
            Self::decode_ether(payload).map(Some)
        } else {
            Ok(None)
        }
    }

    /// `token(20) ‖ sender(20) ‖ value(32) ‖ execLayerData`, as `ERC20Portal` packs it.
    pub fn decode_erc20(payload: &[u8]) -> Result<Self> {
        const MIN: usize = 72;
        if payload.len() < MIN {
            return Err(Error::DepositTooShort {
                portal: "ERC20Portal",
                len: payload.len(),
                min: MIN,
            });
        }
        Ok(Self {
            token: Address::from_slice(&payload[..20]),
            sender: Address::from_slice(&payload[20..40]),
            amount: U256::from_be_slice(&payload[40..72]),
            exec_layer_data: payload[72..].to_vec(),
        })
    }

    /// `sender(20) ‖ value(32) ‖ execLayerData`, as `EtherPortal` packs it.
    pub fn decode_ether(payload: &[u8]) -> Result<Self> {
        const MIN: usize = 52;
        if payload.len() < MIN {
            return Err(Error::DepositTooShort {
                portal: "EtherPortal",
                len: payload.len(),
                min: MIN,
            });
        }
        Ok(Self {
            token: ETHER,
            sender: Address::from_slice(&payload[..20]),
            amount: U256::from_be_slice(&payload[20..52]),
            exec_layer_data: payload[52..].to_vec(),
        })
    }

    /// The packed payload the matching portal would send.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(72 + self.exec_layer_data.len());
        if self.token != ETHER {
            out.extend_from_slice(self.token.as_slice());
        }
        out.extend_from_slice(self.sender.as_slice());
        out.extend_from_slice(&self.amount.to_be_bytes::<32>());
        out.extend_from_slice(&self.exec_layer_data);
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn metadata_matches_the_rollup_server_json() {
        let json = r#"{"chain_id":31337,"app_contract":"0xab7528bb862fb57e8a2bcd567a2e929a0be56a5e","msg_sender":"0xf39fd6e51aad88f6f4ce6ab8827279cfffb92266","block_number":4,"block_timestamp":1795371373,"prev_randao":"0xde2c0000000000000000000000000000000000000000000000000000000000ff","input_index":0}"#;
        let meta: AdvanceMeta = serde_json::from_str(json).unwrap();
        assert_eq!(meta.block_timestamp, 1795371373);
        assert_eq!(serde_json::to_string(&meta).unwrap(), json);
    }

    #[test]
    fn short_deposits_are_rejected() {
        assert!(
            Deposit::decode_erc20(&[0; 71])
                .unwrap_err()
                .to_string()
                .contains("71 bytes")
        );
        assert!(Deposit::decode_ether(&[0; 51]).is_err());
    }

    proptest! {
        #[test]
        fn deposits_round_trip(token in any::<[u8; 20]>(), sender in any::<[u8; 20]>(),
                               amount in any::<[u8; 32]>(), data in proptest::collection::vec(any::<u8>(), 0..200)) {
            let erc20 = Deposit { token: Address::from(token), sender: Address::from(sender),
                                  amount: U256::from_be_bytes(amount), exec_layer_data: data };
            if erc20.token != ETHER {
                prop_assert_eq!(&Deposit::decode_erc20(&erc20.encode()).unwrap(), &erc20);
            }
            let ether = Deposit { token: ETHER, ..erc20 };
            prop_assert_eq!(Deposit::decode_ether(&ether.encode()).unwrap(), ether);
        }
    }
}

/// The rollup HTTP API between the application and its server (the official
/// `rollup-http-server`, or crucible-node's in host mode): one home for both sides.
/// Bytes are `0x` hex strings, as the official server reads and writes them.
pub mod http {
    use super::AdvanceMeta;
    use serde::{Deserialize, Serialize};

    /// `POST /finish` body.
    #[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
    pub struct Finish {
        /// `accept` or `reject` (the previous request's outcome).
        pub status: String,
    }

    /// `/finish`'s 200 answer: the next request.
    #[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
    #[serde(tag = "request_type", content = "data", rename_all = "snake_case")]
    pub enum Request {
        /// An input.
        AdvanceState {
            /// Its metadata (addresses in lowercase hex, as the server writes them).
            metadata: AdvanceMeta,
            /// Its payload, `0x` hex.
            payload: String,
        },
        /// An inspect query.
        InspectState {
            /// The query, `0x` hex.
            payload: String,
        },
    }

    /// `POST /notice`, `/report` and `/exception` body.
    #[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
    pub struct Payload {
        /// `0x` hex.
        pub payload: String,
    }

    /// `POST /voucher` body.
    #[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
    pub struct Voucher {
        /// `0x` + 40 hex digits.
        pub destination: String,
        /// Wei as `0x` hex (at most 32 bytes); absent means zero.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub value: Option<String>,
        /// `0x` hex.
        pub payload: String,
    }

    /// `POST /delegate-call-voucher` body.
    #[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
    pub struct DelegateCallVoucher {
        /// `0x` + 40 hex digits.
        pub destination: String,
        /// `0x` hex.
        pub payload: String,
    }

    /// The 201 answer to an output: its index.
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
    pub struct Index {
        /// The output's index.
        pub index: u64,
    }

    #[cfg(test)]
    mod tests {
        use super::*;
        use alloy_primitives::{Address, B256};

        #[test]
        fn requests_have_the_official_shape() {
            let request = Request::AdvanceState {
                metadata: AdvanceMeta {
                    chain_id: 31337,
                    app_contract: Address::repeat_byte(0xAB),
                    msg_sender: Address::repeat_byte(0x01),
                    block_number: 7,
                    block_timestamp: 1_700_000_000,
                    prev_randao: B256::repeat_byte(0xCD),
                    input_index: 3,
                },
                payload: "0x01".into(),
            };
            let json = serde_json::to_value(&request).unwrap();
            assert_eq!(json["request_type"], "advance_state");
            assert_eq!(
                json["data"]["metadata"]["app_contract"],
                format!("0x{}", "ab".repeat(20))
            );
            assert_eq!(serde_json::from_value::<Request>(json).unwrap(), request);
            let inspect: Request =
                serde_json::from_str(r#"{"request_type":"inspect_state","data":{"payload":"0x"}}"#)
                    .unwrap();
            assert_eq!(
                inspect,
                Request::InspectState {
                    payload: "0x".into()
                }
            );
        }
    }
}
