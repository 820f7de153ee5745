//! Sequences of payloads from chosen senders against a state with an open competition: the
//! portal deposit decoder, the ICrucible call decoder and the state machine behind them.
//! Every input must be accepted or rejected, never panic nor break an invariant, and a
//! rejection must leave the state exactly as it was.
#![no_main]

use crucible_core::Outcome;
use crucible_core_fuzz::{inputs, meta, prepared};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let (state, first) = prepared();
    let mut state = state.clone();
    for (i, (sender, payload)) in inputs(data).into_iter().enumerate() {
        let before = state.state_hash().expect("the state hashes");
        match state.advance(&meta(sender, first + i as u64), payload) {
            Ok(Outcome::Rejected { .. }) => {
                assert_eq!(
                    state.state_hash().expect("hash"),
                    before,
                    "a rejection changed the state"
                );
            }
            Ok(Outcome::Accepted { .. }) => {}
            Err(e) => panic!("broken invariant on user input: {e}"),
        }
    }
});
