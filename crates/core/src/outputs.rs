//! The leaf every state module builds on: the persistent map types, how applying an input
//! fails, and the outputs it emits. It imports no other module of the state.

use crate::{Error, Output, Rejection};
use alloy_primitives::{Address, U256};
use alloy_sol_types::SolCall;
use crucible_types::{Cid, abi, rollup::ETHER};
use serde::Serialize;

/// The ordered map of the state: persistent (clones share structure), so applying an input
/// to a copy of the state costs what the input changes, not the size of the state.
pub(crate) type Map<K, V> = imbl::OrdMap<K, V>;

/// The ordered set of the state (see [`Map`]).
pub(crate) type Set<T> = imbl::OrdSet<T>;

/// Internal result of applying an input: a rejection, or a broken invariant.
#[derive(Debug)]
pub(crate) enum Fail {
    Reject(Rejection),
    Bug(Error),
}

impl From<Rejection> for Fail {
    fn from(r: Rejection) -> Self {
        Self::Reject(r)
    }
}

impl From<Error> for Fail {
    fn from(e: Error) -> Self {
        Self::Bug(e)
    }
}

pub(crate) type Applied<T = ()> = std::result::Result<T, Fail>;

/// Serialises a map whose keys are not strings or integers as a list of `[key, value]`
/// pairs, in key order.
pub(crate) fn entries<K: Serialize + Ord + Clone, V: Serialize + Clone, S: serde::Serializer>(
    map: &Map<K, V>,
    s: S,
) -> std::result::Result<S::Ok, S::Error> {
    s.collect_seq(map.iter())
}

/// The ABI-encoded notice of an `ICrucibleOutputs` call.
pub(crate) fn notice(call: impl SolCall) -> Output {
    Output::Notice(call.abi_encode())
}

/// A voucher paying `amount` of `token` (or Ether) to `to`.
pub(crate) fn payout(token: Address, to: Address, amount: U256) -> Output {
    if token == ETHER {
        Output::Voucher {
            destination: to,
            value: amount,
            payload: Vec::new(),
        }
    } else {
        Output::Voucher {
            destination: token,
            value: U256::ZERO,
            payload: abi::IERC20::transferCall { to, amount }.abi_encode(),
        }
    }
}

pub(crate) fn parse_cid(field: &'static str, bytes: &[u8]) -> Applied<Cid> {
    Cid::from_bytes(bytes).map_err(|e| {
        Rejection::BadCid {
            field,
            reason: e.to_string(),
        }
        .into()
    })
}
