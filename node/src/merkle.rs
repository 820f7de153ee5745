//! The outputs Merkle tree of Cartesi Rollups v2: height 63, keccak256, leaves are
//! `keccak256(output)`, empty leaves are zero, parent = `keccak256(left ‖ right)`. It is
//! cumulative over the application's life; proofs are the 63 siblings that
//! `Application.executeOutput` checks (`LibMerkle32.merkleRootAfterReplacement`).

use alloy_primitives::{B256, keccak256};
use std::sync::OnceLock;

/// Height of the tree (`CanonicalMachine.LOG2_MAX_OUTPUTS`).
pub const HEIGHT: usize = 63;

/// `zero[i]` is the root of an empty subtree of height `i`.
pub fn zero_hashes() -> &'static [B256; HEIGHT + 1] {
    static Z: OnceLock<[B256; HEIGHT + 1]> = OnceLock::new();
    Z.get_or_init(|| {
        let mut z = [B256::ZERO; HEIGHT + 1];
        for i in 0..HEIGHT {
            z[i + 1] = parent(&z[i], &z[i]);
        }
        z
    })
}

fn parent(left: &B256, right: &B256) -> B256 {
    let mut buf = [0u8; 64];
    buf[..32].copy_from_slice(left.as_slice());
    buf[32..].copy_from_slice(right.as_slice());
    keccak256(buf)
}

/// An append-only tree that keeps every level, so roots and proofs cost O(height).
#[derive(Debug, Clone, Default)]
pub struct OutputsTree {
    /// `levels[0]` are the leaves; `levels[l][i]` is the node over leaves
    /// `[i·2^l, (i+1)·2^l)`, with missing right children taken as zero subtrees.
    levels: Vec<Vec<B256>>,
}

impl OutputsTree {
    /// An empty tree.
    pub fn new() -> Self {
        Self {
            levels: vec![Vec::new(); HEIGHT + 1],
        }
    }

    /// Number of leaves.
    pub fn len(&self) -> u64 {
        self.levels[0].len() as u64
    }

    /// Whether no output was ever added.
    pub fn is_empty(&self) -> bool {
        self.levels[0].is_empty()
    }

    /// Appends `keccak256(output)` and returns its index.
    pub fn push_output(&mut self, output: &[u8]) -> u64 {
        self.push_leaf(keccak256(output))
    }

    /// Appends a leaf hash and returns its index.
    pub fn push_leaf(&mut self, leaf: B256) -> u64 {
        let index = self.levels[0].len();
        self.levels[0].push(leaf);
        let zero = zero_hashes();
        let mut i = index;
        for l in 1..=HEIGHT {
            i >>= 1;
            let below = &self.levels[l - 1];
            let left = below[2 * i];
            let right = below.get(2 * i + 1).copied().unwrap_or(zero[l - 1]);
            let node = parent(&left, &right);
            if i < self.levels[l].len() {
                self.levels[l][i] = node;
            } else {
                self.levels[l].push(node);
            }
        }
        index as u64
    }

    /// Removes the leaves added after the first `len` (a rejected input's outputs).
    pub fn truncate(&mut self, len: u64) {
        let leaves: Vec<B256> = self.levels[0][..len as usize].to_vec();
        *self = Self::new();
        for leaf in leaves {
            self.push_leaf(leaf);
        }
    }

    /// The root.
    pub fn root(&self) -> B256 {
        self.levels[HEIGHT]
            .first()
            .copied()
            .unwrap_or(zero_hashes()[HEIGHT])
    }

    /// The 63 siblings of leaf `index`, bottom first, against the current root.
    pub fn proof(&self, index: u64) -> Option<Vec<B256>> {
        if index >= self.len() {
            return None;
        }
        let zero = zero_hashes();
        let mut i = index as usize;
        let mut siblings = Vec::with_capacity(HEIGHT);
        for (l, level) in self.levels.iter().take(HEIGHT).enumerate() {
            siblings.push(level.get(i ^ 1).copied().unwrap_or(zero[l]));
            i >>= 1;
        }
        Some(siblings)
    }
}

/// The root `Application.validateOutput` recomputes from a leaf, its index and siblings.
pub fn root_from_proof(leaf: B256, index: u64, siblings: &[B256]) -> B256 {
    let mut node = leaf;
    for (l, sib) in siblings.iter().enumerate() {
        node = if (index >> l) & 1 == 0 {
            parent(&node, sib)
        } else {
            parent(sib, &node)
        };
    }
    node
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloy_primitives::b256;

    #[test]
    fn empty_root_is_cartesis() {
        assert_eq!(
            OutputsTree::new().root(),
            b256!("0x0a162946e56158bac0673e6dd3bdfdc1e4a0e7744a120fdb640050c8d7abe1c6")
        );
    }

    #[test]
    fn one_notice_root_matches_the_value_verified_on_anvil() {
        // Notice(0xdeadbeef) = 0xc258d6e5 ‖ abi.encode(bytes) — root 0x78f46c6d…581b.
        let mut output = vec![0xc2, 0x58, 0xd6, 0xe5];
        output.extend_from_slice(&B256::with_last_byte(0x20).0);
        output.extend_from_slice(&B256::with_last_byte(4).0);
        let mut data = [0u8; 32];
        data[..4].copy_from_slice(&[0xde, 0xad, 0xbe, 0xef]);
        output.extend_from_slice(&data);
        let mut t = OutputsTree::new();
        t.push_output(&output);
        let root = t.root().to_string();
        assert!(
            root.starts_with("0x78f46c6d") && root.ends_with("581b"),
            "{root}"
        );
        assert_eq!(t.proof(0).unwrap(), zero_hashes()[..HEIGHT].to_vec());
    }

    #[test]
    fn proofs_recompute_the_root_and_truncate_rolls_back() {
        let mut t = OutputsTree::new();
        let mut roots = vec![t.root()];
        for i in 0..37u8 {
            t.push_output(&[i; 5]);
            roots.push(t.root());
            for k in 0..t.len() {
                let leaf = keccak256([k as u8; 5]);
                assert_eq!(root_from_proof(leaf, k, &t.proof(k).unwrap()), t.root());
            }
        }
        assert!(t.proof(37).is_none());
        t.truncate(20);
        assert_eq!(t.root(), roots[20]);
        assert_eq!(t.len(), 20);
    }
}
