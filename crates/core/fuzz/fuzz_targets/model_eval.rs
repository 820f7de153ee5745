//! Model loading, the cost model and one evaluation: any bytes are refused with a reason or
//! load into a model whose figures respect the limits, and that model scores two rows of
//! data of its own shape (or is refused) within the budget the cost model gives it.
#![no_main]

use crucible_core::{
    Limits,
    abi::Metric,
    dataset::{self, Dataset, DatasetFeatures, DatasetTargets},
    eval,
    model::Model,
};
use libfuzzer_sys::fuzz_target;

/// Evaluations estimated above this are not run (they would only slow the fuzzer down).
const MAX_WORK: u64 = 400_000_000;

fuzz_target!(|data: &[u8]| {
    let limits = Limits::default();
    let Ok(model) = Model::load(data, &limits) else {
        return;
    };
    let info = &model.info;
    assert!(info.work_per_sample <= limits.max_work_per_sample);
    assert!(info.largest_tensor <= limits.max_tensor_elements);
    assert!(info.batch_bytes <= limits.max_batch_bytes);
    assert!(info.macs_per_sample <= limits.max_macs_per_sample);
    let rows = 2;
    let per_row: usize = info.sample_shape.iter().product();
    let x = vec![1u8; per_row * rows];
    let mut shape = vec![rows];
    shape.extend(&info.sample_shape);
    let width: usize = info.output_shape.iter().product();
    let (bytes, metric) = if info.output_shape.len() == 1 && width >= 2 {
        let y = vec![1i64; rows];
        let b = dataset::encode(
            &shape,
            DatasetFeatures::U8(&x),
            &[rows],
            DatasetTargets::Labels(&y),
        );
        (b, Metric::Accuracy)
    } else {
        let y = vec![0.5f32; rows * width];
        let b = dataset::encode(
            &shape,
            DatasetFeatures::U8(&x),
            &[rows, width],
            DatasetTargets::Values(&y),
        );
        (b, Metric::MeanSquaredError)
    };
    let Ok(bytes) = bytes else { return };
    if model.evaluation_work(rows as u64, bytes.len() as u64) > MAX_WORK {
        return;
    }
    let Ok(d) = Dataset::parse(&bytes, 1_000) else {
        return;
    };
    let _ = eval::score(&model, &d, metric);
});
