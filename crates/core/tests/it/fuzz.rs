//! Property-based fuzzing of everything that reads untrusted bytes: arbitrary and mutated
//! payloads, models and datasets must give an outcome or a reason, never a panic, and a
//! rejection must never change the state.

use crate::common::*;
use alloy_primitives::Address;
use crucible_core::{Limits, dataset::Dataset, model::Model};
use crucible_types::rollup::{ERC20_PORTAL, ETHER_PORTAL};
use proptest::prelude::*;
use std::sync::OnceLock;

fn mlp_bytes() -> &'static [u8] {
    static M: OnceLock<Vec<u8>> = OnceLock::new();
    M.get_or_init(|| model("mlp"))
}

fn mutate(base: &[u8], edits: &[(usize, u8)], cut: usize) -> Vec<u8> {
    let mut b = base.to_vec();
    for &(i, v) in edits {
        let n = b.len();
        b[i % n] = v;
    }
    b.truncate(cut % (base.len() + 1));
    b
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_inputs_from_anyone_never_break_the_state_machine(
        payload in proptest::collection::vec(any::<u8>(), 0..400),
        sender in prop_oneof![Just(ERC20_PORTAL), Just(ETHER_PORTAL), Just(ALICE), any::<[u8; 20]>().prop_map(Address::from)],
        selector in proptest::sample::select(vec![None, Some(0usize), Some(1), Some(2), Some(3), Some(4), Some(5), Some(6), Some(7)]),
    ) {
        let mut h = Harness::new();
        let mut payload = payload;
        // Half the time, put a real selector in front of random arguments.
        if let Some(k) = selector {
            let sel = crucible_types::abi::ICrucibleCalls::SELECTORS[k];
            payload.splice(0..payload.len().min(4), sel);
        }
        let before = h.state.state_hash().unwrap();
        let meta = h.meta(sender);
        let outcome = h.state.advance(&meta, &payload).expect("never an invariant break");
        if outcome.rejection().is_some() {
            prop_assert_eq!(before, h.state.state_hash().unwrap());
        }
        let _ = h.state.inspect(&payload).unwrap();
    }

    #[test]
    fn mutated_models_are_refused_or_loaded_never_a_panic(
        edits in proptest::collection::vec((any::<usize>(), any::<u8>()), 1..8),
        cut in any::<usize>(),
    ) {
        let bytes = mutate(mlp_bytes(), &edits, cut);
        match Model::load(&bytes, &Limits::default()) {
            Ok(m) => prop_assert!(m.info.params <= Limits::default().max_params),
            Err(reason) => prop_assert!(!reason.is_empty()),
        }
    }

    #[test]
    fn mutated_datasets_are_refused_or_parsed_never_a_panic(
        edits in proptest::collection::vec((0usize..400, any::<u8>()), 1..6),
        cut in any::<usize>(),
    ) {
        // Edits land in the safetensors header and the first rows.
        let base = val_set();
        let bytes = mutate(&base, &edits, cut);
        if let Ok(d) = Dataset::parse(&bytes, 100_000) {
            let mut x = Vec::new();
            d.extend_features(0, d.rows.min(2), &mut x);
            prop_assert_eq!(x.len(), d.rows.min(2) * d.sample_len());
        }
    }
}
