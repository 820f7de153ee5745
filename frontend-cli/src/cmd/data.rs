use anyhow::{Context, ensure};
use crucible_core::dataset::{self, Dataset, DatasetFeatures, DatasetTargets};
use crucible_types::Cid;
use std::{io::Read, path::PathBuf};

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
    /// Describe a canonical dataset file.
    Info {
        /// The safetensors file.
        file: PathBuf,
    },
}

fn read_maybe_gz(path: &PathBuf) -> anyhow::Result<Vec<u8>> {
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

impl DataCommand {
    pub(crate) fn run(self) -> anyhow::Result<()> {
        match self {
            Self::Idx {
                images,
                labels,
                start,
                count,
                out,
            } => {
                let (img_raw, lbl_raw) = (read_maybe_gz(&images)?, read_maybe_gz(&labels)?);
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
                write(&out, &bytes)
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
                write(&out, &bytes)
            }
            Self::Info { file } => {
                let bytes =
                    std::fs::read(&file).with_context(|| format!("reading {}", file.display()))?;
                match Dataset::parse(&bytes, u32::MAX) {
                    Ok(d) => {
                        let info = serde_json::json!({ "cid": Cid::of(&bytes), "bytes": bytes.len(), "dataset": d.info() });
                        println!("{info}");
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

fn write(out: &PathBuf, bytes: &[u8]) -> anyhow::Result<()> {
    Dataset::parse(bytes, u32::MAX)
        .map_err(anyhow::Error::msg)
        .context("the converted dataset does not validate")?;
    std::fs::write(out, bytes).with_context(|| format!("writing {}", out.display()))?;
    println!(
        "{}  {} ({} bytes)",
        Cid::of(bytes),
        out.display(),
        bytes.len()
    );
    Ok(())
}
