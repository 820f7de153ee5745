//! Shared fixtures: Fashion-MNIST from Debian's `dataset-fashion-mnist` package, in the
//! canonical format, built once per test binary.

#![allow(dead_code, unreachable_pub)]

use std::{io::Read, path::Path, sync::OnceLock};

use crucible_core::dataset::{DatasetFeatures, DatasetTargets, encode};

pub const FASHION: &str = "/usr/share/datasets/fashion-mnist";

pub struct Fashion {
    /// 60,000 training images.
    pub train: Vec<u8>,
    /// The 10,000 test images.
    pub test: Vec<u8>,
}

fn idx(name: &str) -> (Vec<usize>, Vec<u8>) {
    let mut raw = Vec::new();
    flate2::read::GzDecoder::new(std::fs::File::open(Path::new(FASHION).join(name)).unwrap())
        .read_to_end(&mut raw)
        .unwrap();
    let ndim = raw[3] as usize;
    let dims = (0..ndim)
        .map(|i| u32::from_be_bytes(raw[4 + 4 * i..8 + 4 * i].try_into().unwrap()) as usize)
        .collect();
    (dims, raw[4 + 4 * ndim..].to_vec())
}

fn pair(images: &str, labels: &str) -> Vec<u8> {
    let (dims, x) = idx(images);
    let (_, y) = idx(labels);
    let y: Vec<i64> = y.iter().map(|&l| i64::from(l)).collect();
    encode(
        &[dims[0], 1, dims[1], dims[2]],
        DatasetFeatures::U8(&x),
        &[dims[0]],
        DatasetTargets::Labels(&y),
    )
    .unwrap()
}

/// The dataset, or `None` after printing `SKIPPED:` when the package is not installed.
pub fn fashion(test: &str) -> Option<&'static Fashion> {
    static DATA: OnceLock<Option<Fashion>> = OnceLock::new();
    let data = DATA.get_or_init(|| {
        Path::new(FASHION)
            .join("train-images-idx3-ubyte.gz")
            .exists()
            .then(|| Fashion {
                train: pair("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz"),
                test: pair("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"),
            })
    });
    if data.is_none() {
        println!("SKIPPED: {test}: {FASHION} is missing (apt-get install dataset-fashion-mnist)");
    }
    data.as_ref()
}

/// A file of the repository.
pub fn repo_file(path: &str) -> Vec<u8> {
    std::fs::read(Path::new(env!("CARGO_MANIFEST_DIR")).join("..").join(path)).unwrap()
}
