//! Content identifiers: CIDv1, codec raw (0x55), multihash sha2-256 (0x12, 32 bytes) over the
//! whole blob. In inputs a CID travels as its 36 binary bytes; people read it as multibase
//! base32 (`b` + lowercase RFC 4648 without padding), the familiar `bafkrei…` form.
//!
//! Nothing else is accepted: no CIDv0, no other codec or hash, no other multibase.

use crate::{Error, Result};
use sha2::{Digest, Sha256};
use std::{fmt, str::FromStr};

/// The four header bytes of every accepted binary CID: version 1, raw, sha2-256, 32 bytes.
pub const CID_PREFIX: [u8; 4] = [0x01, 0x55, 0x12, 0x20];
/// Length of a binary CID.
pub const CID_LEN: usize = 36;
/// Length of a CID in its base32 text form (`b` + 58 characters).
pub const CID_TEXT_LEN: usize = 59;

const BASE32: &[u8; 32] = b"abcdefghijklmnopqrstuvwxyz234567";

/// A CIDv1 raw sha2-256 identifier: in effect, the sha256 digest of a blob.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Cid([u8; 32]);

impl Cid {
    /// The CID of `bytes`.
    pub fn of(bytes: &[u8]) -> Self {
        Self(Sha256::digest(bytes).into())
    }

    /// The CID whose multihash carries this sha256 digest.
    pub const fn from_digest(digest: [u8; 32]) -> Self {
        Self(digest)
    }

    /// The sha256 digest inside the CID.
    pub const fn digest(&self) -> &[u8; 32] {
        &self.0
    }

    /// Parses the 36-byte binary form.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self> {
        if bytes.len() != CID_LEN || bytes[..4] != CID_PREFIX {
            let prefix = bytes.iter().take(4).map(|b| format!("{b:02x}")).collect();
            return Err(Error::CidBinary {
                len: bytes.len(),
                prefix,
            });
        }
        let mut digest = [0u8; 32];
        digest.copy_from_slice(&bytes[4..]);
        Ok(Self(digest))
    }

    /// The 36-byte binary form used in inputs and notices.
    pub fn to_bytes(&self) -> [u8; CID_LEN] {
        let mut out = [0u8; CID_LEN];
        out[..4].copy_from_slice(&CID_PREFIX);
        out[4..].copy_from_slice(&self.0);
        out
    }
}

impl fmt::Display for Cid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let bytes = self.to_bytes();
        let mut text = String::with_capacity(CID_TEXT_LEN);
        text.push('b');
        let (mut acc, mut bits) = (0u32, 0u32);
        for &b in &bytes {
            acc = (acc << 8) | u32::from(b);
            bits += 8;
            while bits >= 5 {
                bits -= 5;
                text.push(BASE32[((acc >> bits) & 31) as usize] as char);
            }
        }
        if bits > 0 {
            text.push(BASE32[((acc << (5 - bits)) & 31) as usize] as char);
        }
        f.write_str(&text)
    }
}

impl fmt::Debug for Cid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Cid({self})")
    }
}

impl FromStr for Cid {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self> {
        let bad = |why| Error::CidText {
            text: s.chars().take(80).collect(),
            why,
        };
        if s.starts_with("Qm") {
            return Err(bad(
                "CIDv0 (dag-pb) is not accepted; use CIDv1 raw sha2-256 (bafkrei…)",
            ));
        }
        let Some(body) = s.strip_prefix('b') else {
            return Err(bad("only multibase base32 (prefix 'b') is accepted"));
        };
        if s.len() != CID_TEXT_LEN {
            return Err(bad("a CIDv1 raw sha2-256 has 59 characters in base32"));
        }
        let mut bytes = Vec::with_capacity(CID_LEN);
        let (mut acc, mut bits) = (0u32, 0u32);
        for c in body.bytes() {
            let v = BASE32
                .iter()
                .position(|&x| x == c)
                .ok_or_else(|| bad("not lowercase base32"))?;
            acc = (acc << 5) | v as u32;
            bits += 5;
            if bits >= 8 {
                bits -= 8;
                bytes.push((acc >> bits) as u8);
                acc &= (1 << bits) - 1;
            }
        }
        if acc != 0 {
            return Err(bad("non-canonical base32 padding bits"));
        }
        Self::from_bytes(&bytes).map_err(|_| bad("not CIDv1 with raw codec and sha2-256 multihash"))
    }
}

impl serde::Serialize for Cid {
    fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> serde::Deserialize<'de> for Cid {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn well_known_hello_world() {
        let cid = Cid::of(b"hello world\n");
        assert_eq!(
            cid.to_string(),
            "bafkreifjjcie6lypi6ny7amxnfftagclbuxndqonfipmb64f2km2devei4"
        );
        assert_eq!(cid.to_string().parse::<Cid>().unwrap(), cid);
    }

    #[test]
    fn rejects_other_forms() {
        let good = Cid::of(b"x").to_string();
        for bad in [
            "QmYwAPJzv5CZsnA625s3Xf2nemtYgPpHdWEz79ojWnPbdG".to_string(),
            format!("z{}", &good[1..]),
            good.to_uppercase(),
            good[..58].to_string(),
            format!("{good}a"),
            "bafybeigdyrzt5sfp7udm7hu76uh7y26nf3efuylqabf3oclgtqy55fbzdi".to_string(), // dag-pb
        ] {
            assert!(bad.parse::<Cid>().is_err(), "{bad} must be rejected");
        }
        let mut bin = Cid::of(b"x").to_bytes();
        bin[1] = 0x70;
        let err = Cid::from_bytes(&bin).unwrap_err().to_string();
        assert!(err.contains("starting 01701220"), "{err}");
        assert!(Cid::from_bytes(&bin[..35]).is_err());
    }

    proptest! {
        #[test]
        fn text_and_binary_round_trip(digest in any::<[u8; 32]>()) {
            let cid = Cid::from_digest(digest);
            prop_assert_eq!(Cid::from_bytes(&cid.to_bytes()).unwrap(), cid);
            let text = cid.to_string();
            prop_assert_eq!(text.len(), CID_TEXT_LEN);
            prop_assert!(text.starts_with("bafkrei"));
            prop_assert_eq!(text.parse::<Cid>().unwrap(), cid);
        }

        #[test]
        fn arbitrary_text_never_panics(s in "\\PC{0,80}") {
            let _ = s.parse::<Cid>();
        }
    }
}
