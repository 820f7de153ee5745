//! What a replay of an application's history found: `crucible-node validate` writes it,
//! `crucible validate` and the demo read it.

use alloy_primitives::{Address, B256};
use serde::{Deserialize, Serialize};
use std::{collections::BTreeSet, fmt};

/// One claim on chain, held against the replay.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClaimRow {
    /// Who claimed.
    pub validator: Address,
    /// The root claimed.
    pub root: B256,
    /// Whether it is the replay's root.
    pub agrees: bool,
}

/// Where two histories part: the first output that differs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Divergence {
    /// The input that produced it.
    pub input: u64,
    /// The output's global index.
    pub output: u64,
    /// The replay's output, described.
    pub here: String,
    /// The other node's, described.
    pub there: String,
}

/// One epoch's verdict.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EpochRow {
    /// The epoch's index.
    pub epoch: u64,
    /// Its last block.
    pub last_block: u64,
    /// Every claim the consensus logged for it.
    pub claims: Vec<ClaimRow>,
    /// The root the consensus accepted, if any.
    pub accepted_root: Option<B256>,
    /// The replay's root at the epoch's end.
    pub recomputed_root: B256,
    /// Every claim, the accepted root and the other node agree with the replay.
    pub ok: bool,
    /// The first output where the other node differs, if in this epoch.
    pub first_divergence: Option<Divergence>,
}

/// A whole replay.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Report {
    /// The application replayed.
    pub application: Address,
    /// Its consensus.
    pub consensus: Address,
    /// The block replayed up to.
    pub head: u64,
    /// The DApp command that replayed it.
    pub dapp: String,
    /// Inputs replayed.
    pub inputs: u64,
    /// Seconds the replay took.
    pub replay_s: f64,
    /// Inputs per second.
    pub inputs_per_s: f64,
    /// Every epoch that holds inputs or claims, in order.
    pub epochs: Vec<EpochRow>,
    /// A divergence after every epoch's inputs (in outputs not yet in a closed epoch).
    pub unplaced_divergence: Option<Divergence>,
    /// Nothing disagrees.
    pub ok: bool,
}

impl Report {
    /// The validators whose claims differ from the replay.
    pub fn faulty(&self) -> BTreeSet<Address> {
        self.epochs
            .iter()
            .flat_map(|r| r.claims.iter().filter(|c| !c.agrees).map(|c| c.validator))
            .collect()
    }

    /// The first divergence from the other node, if any.
    pub fn first_divergence(&self) -> Option<&Divergence> {
        self.epochs
            .iter()
            .find_map(|r| r.first_divergence.as_ref())
            .or(self.unplaced_divergence.as_ref())
    }

    /// The epochs that disagree.
    pub fn bad_epochs(&self) -> Vec<u64> {
        self.epochs
            .iter()
            .filter(|r| !r.ok)
            .map(|r| r.epoch)
            .collect()
    }
}

fn short(h: &B256) -> String {
    let s = h.to_string();
    format!("{}…{}", &s[..10], &s[s.len() - 4..])
}

impl fmt::Display for Divergence {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "  first divergence: input {} output {}\n    here:  {}\n    there: {}",
            self.input, self.output, self.here, self.there
        )
    }
}

/// The report as a validator reads it: per epoch the recomputed root, each claim and
/// whether it agrees, then the verdict.
impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "replayed {} inputs in {:.2} s ({:.1} inputs/s) with {}; consensus {}",
            self.inputs, self.replay_s, self.inputs_per_s, self.dapp, self.consensus
        )?;
        for r in &self.epochs {
            write!(
                f,
                "epoch {} (last block {}): recomputed {}",
                r.epoch,
                r.last_block,
                short(&r.recomputed_root)
            )?;
            match r.accepted_root {
                Some(a) if a == r.recomputed_root => writeln!(f, ", accepted on chain")?,
                Some(a) => writeln!(f, ", but the consensus ACCEPTED {}", short(&a))?,
                None => writeln!(f)?,
            }
            for c in &r.claims {
                writeln!(
                    f,
                    "  {} claimed {}  {}",
                    c.validator,
                    short(&c.root),
                    if c.agrees { "agrees" } else { "DIFFERS" }
                )?;
            }
            if let Some(d) = &r.first_divergence {
                writeln!(f, "{d}")?;
            }
        }
        if let Some(d) = &self.unplaced_divergence {
            writeln!(f, "{d}")?;
        }
        if self.ok {
            write!(f, "every claim agrees with the replay")
        } else {
            let faulty: Vec<String> = self.faulty().iter().map(Address::to_string).collect();
            write!(
                f,
                "DIVERGENCE: claims that differ from the replay come from {}",
                if faulty.is_empty() {
                    "nobody (the other node differs)".to_string()
                } else {
                    faulty.join(", ")
                }
            )
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn report(claimed: B256) -> Report {
        let root = B256::repeat_byte(1);
        Report {
            application: Address::repeat_byte(0xaa),
            consensus: Address::repeat_byte(0xcc),
            head: 9,
            dapp: "crucible-dapp".into(),
            inputs: 3,
            replay_s: 0.5,
            inputs_per_s: 6.0,
            epochs: vec![EpochRow {
                epoch: 0,
                last_block: 4,
                claims: vec![ClaimRow {
                    validator: Address::repeat_byte(0x11),
                    root: claimed,
                    agrees: claimed == root,
                }],
                accepted_root: Some(root),
                recomputed_root: root,
                ok: claimed == root,
                first_divergence: None,
            }],
            unplaced_divergence: None,
            ok: claimed == root,
        }
    }

    #[test]
    fn a_report_round_trips_and_names_the_faulty_validator() {
        let bad = report(B256::repeat_byte(2));
        let text = serde_json::to_string(&bad).unwrap();
        let back: Report = serde_json::from_str(&text).unwrap();
        assert_eq!(back, bad);
        assert_eq!(
            back.faulty().into_iter().collect::<Vec<_>>(),
            vec![Address::repeat_byte(0x11)]
        );
        assert_eq!(back.bad_epochs(), vec![0]);
        let shown = back.to_string();
        assert!(shown.contains("DIFFERS"), "{shown}");
        assert!(shown.ends_with(&format!("come from {}", Address::repeat_byte(0x11))));
        let good = report(B256::repeat_byte(1)).to_string();
        assert!(good.contains("accepted on chain") && good.ends_with("agrees with the replay"));
    }
}
