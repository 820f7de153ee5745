//! A baseline handed to `--init` comes from a competition, i.e. from anyone: the ONNX reader
//! must answer every byte string with weights or a reason, never a panic.

use crucible_trainer::{Arch, Spec, Weights, onnx};
use proptest::prelude::*;

/// A tiny export (MLP 2-1-2, and a 1×16×16 CNN with one channel per conv): almost all of its
/// bytes are structure, so random edits reach dimensions, names and attributes.
fn tiny(cnn: bool) -> Vec<u8> {
    let spec = if cnn {
        Spec::new(
            Arch::Cnn {
                channels: [1, 1],
                hidden: 1,
            },
            vec![1, 16, 16],
            2,
            255.0,
        )
    } else {
        Spec::new(Arch::Mlp { hidden: 1 }, vec![2], 2, 1.0)
    };
    onnx::export(&Weights::init(spec.unwrap(), 0).unwrap()).unwrap()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2_000))]

    #[test]
    fn edited_models_import_or_give_a_reason(
        cnn in any::<bool>(),
        edits in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..6),
        cut in any::<prop::sample::Index>(),
        truncate in any::<bool>(),
    ) {
        let mut bytes = tiny(cnn);
        for (at, value) in edits {
            let i = at.index(bytes.len());
            bytes[i] = value;
        }
        if truncate {
            bytes.truncate(cut.index(bytes.len()));
        }
        match onnx::import(&bytes) {
            // Whatever was read back is a consistent model: it exports again.
            Ok(weights) => prop_assert!(onnx::export(&weights).is_ok()),
            Err(e) => prop_assert!(e.to_string().starts_with("initial model: "), "{e}"),
        }
    }

    #[test]
    fn random_bytes_import_or_give_a_reason(bytes in prop::collection::vec(any::<u8>(), 0..600)) {
        if let Err(e) = onnx::import(&bytes) {
            prop_assert!(e.to_string().starts_with("initial model: "), "{e}");
        }
    }
}

#[test]
fn the_tiny_models_round_trip() {
    for cnn in [false, true] {
        let bytes = tiny(cnn);
        assert_eq!(onnx::export(&onnx::import(&bytes).unwrap()).unwrap(), bytes);
    }
}
