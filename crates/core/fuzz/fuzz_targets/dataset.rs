//! The safetensors dataset reader: any bytes parse into a dataset whose every row and
//! label can be read, or are refused with a reason.
#![no_main]

use crucible_core::dataset::{Dataset, Targets};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(d) = Dataset::parse(data, 1_000) {
        let mut features = Vec::new();
        d.extend_features(0, d.rows, &mut features);
        assert_eq!(features.len(), d.rows * d.sample_len());
        for row in 0..d.rows {
            match &d.targets {
                Targets::Labels => assert!(d.label(row) >= 0),
                Targets::Values(_) => {
                    for j in 0..d.target_len() {
                        assert!(d.target(row * d.target_len() + j).is_finite());
                    }
                }
            }
        }
    }
});
