use crate::npy;
use anyhow::{Context, ensure};
use crucible_core::dataset::{self, Dataset, DatasetFeatures, DatasetTargets};
use crucible_types::Cid;
use std::{
    io::Read,
    path::{Path, PathBuf},
};

/// Convert datasets into the canonical format (safetensors with `x` and `y`) and inspect them.
#[derive(Debug, clap::Subcommand)]
pub(crate) enum DataCommand {
    /// Convert MNIST-style IDX files (optionally gzipped) into a uint8 `x[N,1,H,W]` and int64 `y[N]`.
    ///
    /// Examples:
    ///   crucible data idx --images t10k-images-idx3-ubyte.gz --labels t10k-labels-idx1-ubyte.gz --out test.safetensors
    ///   crucible data idx --images … --labels … --start 0 --count 1000 --out val-1k.safetensors
    Idx {
        /// IDX3 image file (.gz accepted).
        #[arg(long)]
        images: PathBuf,
        /// IDX1 label file (.gz accepted).
        #[arg(long)]
        labels: PathBuf,
        /// First row to take.
        #[arg(long, default_value_t = 0)]
        start: usize,
        /// Rows to take (default: all from `start`).
        #[arg(long)]
        count: Option<usize>,
        /// Output safetensors file.
        #[arg(long)]
        out: PathBuf,
    },
    /// Convert a numeric CSV (header line, one row per sample) into float32 `x[N,F]` and
    /// int64 labels or float32 targets `y[N]` taken from one column.
    ///
    /// Examples:
    ///   crucible data csv --input iris.csv --target species --labels --out iris.safetensors
    Csv {
        /// CSV file with a header line.
        #[arg(long)]
        input: PathBuf,
        /// Name of the target column.
        #[arg(long)]
        target: String,
        /// The target column holds integer class labels (default: float targets).
        #[arg(long)]
        labels: bool,
        /// Output safetensors file.
        #[arg(long)]
        out: PathBuf,
    },
    /// Convert a pair of NumPy `.npy` arrays: features `x[N,…]` (uint8, int*, float32/64 →
    /// float32) and targets `y[N]` (integers → int64 labels, floats → float32 targets).
    ///
    /// Example: crucible data npy --x x_val.npy --y y_val.npy --out val.safetensors
    Npy {
        /// Features.
        #[arg(long)]
        x: PathBuf,
        /// Targets.
        #[arg(long)]
        y: PathBuf,
        /// Output safetensors file.
        #[arg(long)]
        out: PathBuf,
    },
    /// Convert a NumPy `.npz` archive holding a features and a targets array.
    ///
    /// Example: crucible data npz --input mnist.npz --x-key x_test --y-key y_test --out test.safetensors
    Npz {
        /// The archive (`np.savez` or `np.savez_compressed`).
        #[arg(long)]
        input: PathBuf,
        /// Name of the features array.
        #[arg(long, default_value = "x")]
        x_key: String,
        /// Name of the targets array.
        #[arg(long, default_value = "y")]
        y_key: String,
        /// Output safetensors file.
        #[arg(long)]
        out: PathBuf,
    },
    /// Convert whatever the files are: one `.npz`, two `.npy` (features first), an IDX
    /// image + label pair (in either order, gzipped or not), or a CSV (with --target).
    ///
    /// Examples:
    ///   crucible data import train.npz --out train.safetensors
    ///   crucible data import x.npy y.npy --out train.safetensors
    ///   crucible data import t10k-labels-idx1-ubyte.gz t10k-images-idx3-ubyte.gz --out test.safetensors
    ///   crucible data import iris.csv --target species --labels --out iris.safetensors
    Import {
        /// The input file(s).
        #[arg(required = true, num_args = 1..=2)]
        inputs: Vec<PathBuf>,
        /// CSV only: the target column.
        #[arg(long)]
        target: Option<String>,
        /// CSV only: the target column holds integer class labels.
        #[arg(long)]
        labels: bool,
        /// Output safetensors file.
        #[arg(long)]
        out: PathBuf,
    },
    /// Describe a canonical dataset file.
    Info {
        /// The safetensors file.
        file: PathBuf,
    },
}

/// `data import`: picks the converter from the files' contents.
fn import(
    inputs: Vec<PathBuf>,
    target: Option<String>,
    labels: bool,
    out: PathBuf,
    json: bool,
) -> anyhow::Result<()> {
    let heads: Vec<Vec<u8>> = inputs
        .iter()
        .map(|p| read_maybe_gz(p))
        .collect::<anyhow::Result<_>>()?;
    let is = |h: &[u8], magic: &[u8]| h.starts_with(magic);
    match (inputs.as_slice(), heads.as_slice()) {
        ([f], [h]) if is(h, b"PK") => DataCommand::Npz {
            input: f.clone(),
            x_key: "x".into(),
            y_key: "y".into(),
            out,
        }
        .run(json),
        ([x, y], [a, b]) if is(a, b"\x93NUMPY") && is(b, b"\x93NUMPY") => DataCommand::Npy {
            x: x.clone(),
            y: y.clone(),
            out,
        }
        .run(json),
        ([a, b], [ha, hb]) if is(ha, &[0, 0, 8]) && is(hb, &[0, 0, 8]) => {
            // IDX: the images have rank 3, the labels rank 1.
            let (images, labels) = if ha.get(3) == Some(&3) { (a, b) } else { (b, a) };
            DataCommand::Idx {
                images: images.clone(),
                labels: labels.clone(),
                start: 0,
                count: None,
                out,
            }
            .run(json)
        }
        ([f], [h]) if std::str::from_utf8(h).is_ok() => {
            let target = target.ok_or_else(|| {
                crate::exit::invalid("a CSV needs --target <column> (and --labels for class labels)")
            })?;
            DataCommand::Csv {
                input: f.clone(),
                target,
                labels,
                out,
            }
            .run(json)
        }
        _ => Err(crate::exit::invalid(
            "cannot tell the format: give one .npz, two .npy (features first), an IDX image and label pair, or one CSV",
        )
        .into()),
    }
}

/// Rows `start..start + count` (all from `start` by default) of an IDX image/label pair
/// (gzipped or not) as a canonical dataset.
pub(crate) fn idx_to_dataset(
    images: &Path,
    labels: &Path,
    start: usize,
    count: Option<usize>,
) -> anyhow::Result<Vec<u8>> {
    let (img_raw, lbl_raw) = (read_maybe_gz(images)?, read_maybe_gz(labels)?);
    let (idims, ix) = parse_idx(&img_raw).context("images")?;
    let (ldims, ly) = parse_idx(&lbl_raw).context("labels")?;
    ensure!(
        idims.len() == 3 && ldims.len() == 1,
        "expected images [N,H,W] and labels [N]"
    );
    ensure!(
        idims[0] == ldims[0],
        "{} images but {} labels",
        idims[0],
        ldims[0]
    );
    let end = count.map_or(idims[0], |c| start.saturating_add(c));
    ensure!(
        start < end && end <= idims[0],
        "rows {start}..{end} are outside 0..{}",
        idims[0]
    );
    let per = idims[1] * idims[2];
    let x = &ix[start * per..end * per];
    let y: Vec<i64> = ly[start..end].iter().map(|&l| i64::from(l)).collect();
    let bytes = dataset::encode(
        &[end - start, 1, idims[1], idims[2]],
        DatasetFeatures::U8(x),
        &[end - start],
        DatasetTargets::Labels(&y),
    )
    .map_err(anyhow::Error::msg)?;
    Ok(bytes)
}

fn read_maybe_gz(path: &Path) -> anyhow::Result<Vec<u8>> {
    let raw = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
    if raw.starts_with(&[0x1f, 0x8b]) {
        let mut out = Vec::new();
        flate2::read::GzDecoder::new(&raw[..])
            .read_to_end(&mut out)
            .with_context(|| format!("gunzip {}", path.display()))?;
        Ok(out)
    } else {
        Ok(raw)
    }
}

/// Parses an IDX file of unsigned bytes: returns its dimensions and data.
fn parse_idx(bytes: &[u8]) -> anyhow::Result<(Vec<usize>, &[u8])> {
    ensure!(
        bytes.len() >= 4 && bytes[0] == 0 && bytes[1] == 0,
        "not an IDX file"
    );
    ensure!(
        bytes[2] == 0x08,
        "IDX element type 0x{:02x} is not unsigned byte",
        bytes[2]
    );
    let rank = usize::from(bytes[3]);
    let header = 4 + 4 * rank;
    ensure!(rank >= 1 && bytes.len() >= header, "truncated IDX header");
    let dims: Vec<usize> = (0..rank)
        .map(|i| {
            u32::from_be_bytes([
                bytes[4 + 4 * i],
                bytes[5 + 4 * i],
                bytes[6 + 4 * i],
                bytes[7 + 4 * i],
            ]) as usize
        })
        .collect();
    let n = dims
        .iter()
        .try_fold(1usize, |a, &d| a.checked_mul(d))
        .context("IDX dimensions overflow")?;
    ensure!(
        bytes.len() == header + n,
        "IDX holds {} data bytes, its header says {n}",
        bytes.len() - header
    );
    Ok((dims, &bytes[header..]))
}

/// Writes a features/targets pair in the canonical format.
fn encode_arrays(x: &npy::Array, y: &npy::Array) -> anyhow::Result<Vec<u8>> {
    let bad = |what: String| -> anyhow::Error { crate::exit::invalid(what).into() };
    let n = *x
        .shape
        .first()
        .ok_or_else(|| bad("x must have a leading row dimension".into()))?;
    if y.shape.first() != Some(&n) || y.data.len() != n {
        return Err(bad(format!(
            "x has {n} rows but y has shape {:?}: y must be [N] (or [N, 1]); features first, then targets",
            y.shape
        )));
    }
    if n == 0 {
        return Err(bad("the dataset has no rows".into()));
    }
    let x_shape = if x.shape.len() == 1 {
        vec![n, 1]
    } else {
        x.shape.clone()
    };
    let widened: Vec<f32>;
    let features = match &x.data {
        npy::Data::U8(v) => DatasetFeatures::U8(v),
        npy::Data::F32(v) => DatasetFeatures::F32(v),
        npy::Data::I64(v) => {
            widened = v.iter().map(|&i| i as f32).collect();
            DatasetFeatures::F32(&widened)
        }
    };
    let labels: Vec<i64>;
    let targets = match &y.data {
        npy::Data::I64(v) => DatasetTargets::Labels(v),
        npy::Data::U8(v) => {
            labels = v.iter().map(|&b| i64::from(b)).collect();
            DatasetTargets::Labels(&labels)
        }
        npy::Data::F32(v) => DatasetTargets::Values(v),
    };
    dataset::encode(&x_shape, features, &[n], targets).map_err(|e| crate::exit::invalid(e).into())
}

fn read(path: &PathBuf) -> anyhow::Result<Vec<u8>> {
    std::fs::read(path)
        .map_err(|e| crate::exit::invalid(format!("cannot read {}: {e}", path.display())).into())
}

impl DataCommand {
    pub(crate) fn run(self, json: bool) -> anyhow::Result<()> {
        match self {
            Self::Npy { x, y, out } => {
                let xa = npy::parse(&read(&x)?).with_context(|| format!("{}", x.display()))?;
                let ya = npy::parse(&read(&y)?).with_context(|| format!("{}", y.display()))?;
                write(&out, &encode_arrays(&xa, &ya)?, json)
            }
            Self::Npz {
                input,
                x_key,
                y_key,
                out,
            } => {
                let (xa, ya) = npy::parse_npz(&read(&input)?, &x_key, &y_key)
                    .with_context(|| format!("{}", input.display()))?;
                write(&out, &encode_arrays(&xa, &ya)?, json)
            }
            Self::Import {
                inputs,
                target,
                labels,
                out,
            } => import(inputs, target, labels, out, json),
            Self::Idx {
                images,
                labels,
                start,
                count,
                out,
            } => {
                let bytes = idx_to_dataset(&images, &labels, start, count)?;
                write(&out, &bytes, json)
            }
            Self::Csv {
                input,
                target,
                labels,
                out,
            } => {
                let text = std::fs::read_to_string(&input)
                    .with_context(|| format!("reading {}", input.display()))?;
                let mut lines = text.lines().filter(|l| !l.trim().is_empty());
                let header: Vec<&str> = lines
                    .next()
                    .context("empty CSV")?
                    .split(',')
                    .map(str::trim)
                    .collect();
                let t = header
                    .iter()
                    .position(|h| *h == target)
                    .with_context(|| format!("no column {target:?} in {header:?}"))?;
                let (mut x, mut yl, mut yv, mut rows) =
                    (Vec::new(), Vec::new(), Vec::new(), 0usize);
                for (n, line) in lines.enumerate() {
                    let cells: Vec<&str> = line.split(',').map(str::trim).collect();
                    ensure!(
                        cells.len() == header.len(),
                        "line {} has {} cells, the header {}",
                        n + 2,
                        cells.len(),
                        header.len()
                    );
                    for (i, c) in cells.iter().enumerate() {
                        if i == t {
                            if labels {
                                yl.push(
                                    c.parse::<i64>()
                                        .with_context(|| format!("line {}: label {c:?}", n + 2))?,
                                );
                            } else {
                                yv.push(
                                    c.parse::<f32>()
                                        .with_context(|| format!("line {}: target {c:?}", n + 2))?,
                                );
                            }
                        } else {
                            x.push(
                                c.parse::<f32>()
                                    .with_context(|| format!("line {}: value {c:?}", n + 2))?,
                            );
                        }
                    }
                    rows += 1;
                }
                ensure!(rows > 0, "the CSV has no data rows");
                let targets = if labels {
                    DatasetTargets::Labels(&yl)
                } else {
                    DatasetTargets::Values(&yv)
                };
                let bytes = dataset::encode(
                    &[rows, header.len() - 1],
                    DatasetFeatures::F32(&x),
                    &[rows],
                    targets,
                )
                .map_err(anyhow::Error::msg)?;
                write(&out, &bytes, json)
            }
            Self::Info { file } => {
                let bytes =
                    std::fs::read(&file).with_context(|| format!("reading {}", file.display()))?;
                match Dataset::parse(&bytes, u32::MAX) {
                    Ok(d) => {
                        let info = crate::docs::DatasetFile {
                            cid: Cid::of(&bytes),
                            bytes: bytes.len() as u64,
                            dataset: d.info(),
                        };
                        println!("{}", serde_json::to_string(&info)?);
                        Ok(())
                    }
                    Err(reason) => Err(crate::exit::invalid(format!(
                        "invalid dataset {}: {reason}",
                        file.display()
                    ))
                    .into()),
                }
            }
        }
    }
}

fn write(out: &PathBuf, bytes: &[u8], json: bool) -> anyhow::Result<()> {
    Dataset::parse(bytes, u32::MAX)
        .map_err(anyhow::Error::msg)
        .context("the converted dataset does not validate")?;
    std::fs::write(out, bytes).with_context(|| format!("writing {}", out.display()))?;
    if json {
        println!(
            "{}",
            serde_json::to_string(&crate::docs::Stored {
                bytes: bytes.len() as u64,
                cid: Cid::of(bytes),
                file: Some(out.clone()),
            })?
        );
    } else {
        println!(
            "{}  {} ({} bytes)",
            Cid::of(bytes),
            out.display(),
            bytes.len()
        );
    }
    Ok(())
}
