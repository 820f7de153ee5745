//! `0x`-prefixed hex quantities: how the official node writes every index, block number and
//! count (`UnsignedInteger` in its OpenRPC document: `^0x[a-fA-F0-9]{1,16}$`).

use serde::{Deserialize, Deserializer, Serialize, Serializer, de};
use std::{fmt, str::FromStr};

/// A `u64` on the wire as `0x`-prefixed hex without leading zeros (`0x0`, `0x1f`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Quantity(pub u64);

impl Quantity {
    /// The value.
    pub const fn get(self) -> u64 {
        self.0
    }
}

impl From<u64> for Quantity {
    fn from(v: u64) -> Self {
        Self(v)
    }
}

impl From<Quantity> for u64 {
    fn from(q: Quantity) -> Self {
        q.0
    }
}

impl fmt::Display for Quantity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:#x}", self.0)
    }
}

/// Why a string is not a quantity.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("expected a 0x-prefixed hex value of at most 16 digits, got {0:?}")]
pub struct BadQuantity(pub String);

impl FromStr for Quantity {
    type Err = BadQuantity;

    /// `0x` or `0X`, then 1 to 16 hex digits (the official node's `parseIndex`).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let digits = s
            .strip_prefix("0x")
            .or_else(|| s.strip_prefix("0X"))
            .filter(|d| (1..=16).contains(&d.len()) && d.bytes().all(|b| b.is_ascii_hexdigit()))
            .ok_or_else(|| BadQuantity(s.to_string()))?;
        u64::from_str_radix(digits, 16)
            .map(Self)
            .map_err(|_| BadQuantity(s.to_string()))
    }
}

impl Serialize for Quantity {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Quantity {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        s.parse().map_err(de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantities_are_minimal_hex_and_only_hex_parses() {
        assert_eq!(Quantity(0).to_string(), "0x0");
        assert_eq!(Quantity(31337).to_string(), "0x7a69");
        assert_eq!(Quantity(u64::MAX).to_string(), "0xffffffffffffffff");
        assert_eq!("0x7A69".parse(), Ok(Quantity(31337)));
        assert_eq!("0X0".parse(), Ok(Quantity(0)));
        for bad in [
            "",
            "0x",
            "12",
            "0x1g",
            "0x10000000000000000",
            "-0x1",
            " 0x1",
        ] {
            assert!(bad.parse::<Quantity>().is_err(), "{bad:?} parsed");
        }
    }
}
