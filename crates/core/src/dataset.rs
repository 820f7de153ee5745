//! The canonical dataset format: a `safetensors` file with exactly two tensors, `x`
//! (`float32` or `uint8`, `[N, …]`) and `y` (`int64` labels `[N]`, or `float32` targets
//! `[N]` / `[N, k]`). `uint8` features are converted to `float32` by value (0..=255, no
//! scaling): a model that wants normalised inputs carries the scaling in its graph.

use safetensors::{Dtype, SafeTensors};

/// Element type of the features.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum Features {
    /// `float32`, finite.
    F32,
    /// `uint8`, converted to `float32` by value.
    U8,
}

/// What the targets are.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum Targets {
    /// `int64` class labels, all ≥ 0.
    Labels,
    /// `float32` regression targets of this per-row shape (`[]` for `y[N]`).
    Values(Vec<usize>),
}

/// A validated dataset, borrowing its bytes.
#[derive(Debug, Clone)]
pub struct Dataset<'a> {
    /// Number of rows.
    pub rows: usize,
    /// Per-row feature shape.
    pub sample_shape: Vec<usize>,
    /// Feature element type.
    pub features: Features,
    /// Target kind.
    pub targets: Targets,
    x: &'a [u8],
    y: &'a [u8],
}

/// Shape summary of a dataset, kept in the state for compatibility checks.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct DatasetInfo {
    /// Rows.
    pub rows: u64,
    /// Per-row feature shape.
    pub sample_shape: Vec<usize>,
    /// Feature element type.
    pub features: Features,
    /// Target kind.
    pub targets: Targets,
}

impl<'a> Dataset<'a> {
    /// Parses and validates a dataset blob. The error is the rejection reason.
    pub fn parse(bytes: &'a [u8], max_rows: u32) -> Result<Self, String> {
        let st =
            SafeTensors::deserialize(bytes).map_err(|e| format!("not a safetensors file: {e}"))?;
        let mut names = st.names();
        names.sort_unstable();
        if names != ["x", "y"] {
            return Err(format!(
                "must hold exactly the tensors \"x\" and \"y\", holds {names:?}"
            ));
        }
        let (x, y) = match (st.tensor("x"), st.tensor("y")) {
            (Ok(x), Ok(y)) => (x, y),
            _ => return Err("tensors x and y cannot be read".into()),
        };
        let features = match x.dtype() {
            Dtype::F32 => Features::F32,
            Dtype::U8 => Features::U8,
            other => return Err(format!("x must be float32 or uint8, it is {other:?}")),
        };
        let (&rows, sample_shape) = x
            .shape()
            .split_first()
            .ok_or("x must have a row dimension and a sample shape")?;
        if sample_shape.is_empty() || rows == 0 || sample_shape.contains(&0) {
            return Err(format!(
                "x has shape {:?}: it needs at least one row and a sample shape",
                x.shape()
            ));
        }
        if rows > max_rows as usize {
            return Err(format!("{rows} rows exceed the limit of {max_rows}"));
        }
        let targets = match (y.dtype(), y.shape()) {
            (Dtype::I64, [n]) if *n == rows => Targets::Labels,
            (Dtype::F32, [n, rest @ ..]) if *n == rows && rest.len() <= 1 => {
                Targets::Values(rest.to_vec())
            }
            (dt, shape) => {
                return Err(format!(
                    "y must be int64 [{rows}] labels or float32 [{rows}] / [{rows}, k] targets, it is {dt:?} {shape:?}"
                ));
            }
        };
        let dataset = Self {
            rows,
            sample_shape: sample_shape.to_vec(),
            features,
            targets,
            x: x.data(),
            y: y.data(),
        };
        if features == Features::F32
            && let Some(i) = (0..dataset.x.len() / 4).find(|&i| !f32_at(dataset.x, i).is_finite())
        {
            return Err(format!(
                "x holds a non-finite value in row {}",
                i / dataset.sample_len()
            ));
        }
        match &dataset.targets {
            Targets::Labels => {
                if let Some(row) = (0..rows).find(|&r| dataset.label(r) < 0) {
                    return Err(format!("y holds a negative label in row {row}"));
                }
            }
            Targets::Values(_) => {
                if let Some(i) =
                    (0..dataset.y.len() / 4).find(|&i| !f32_at(dataset.y, i).is_finite())
                {
                    return Err(format!("y holds a non-finite target at element {i}"));
                }
            }
        }
        Ok(dataset)
    }

    /// Elements per row of `x`.
    pub fn sample_len(&self) -> usize {
        self.sample_shape.iter().product()
    }

    /// Elements per row of `y`.
    pub fn target_len(&self) -> usize {
        match &self.targets {
            Targets::Labels => 1,
            Targets::Values(shape) => shape.iter().product(),
        }
    }

    /// Appends rows `start..end` of `x`, as `float32`, to `out`.
    pub fn extend_features(&self, start: usize, end: usize, out: &mut Vec<f32>) {
        let at = out.len();
        out.resize(at + (end - start) * self.sample_len(), 0.0);
        self.write_features(start, end, &mut out[at..]);
    }

    /// The features of rows `start..end` as f32 into `out`, which holds exactly them.
    pub fn write_features(&self, start: usize, end: usize, out: &mut [f32]) {
        let n = self.sample_len();
        assert_eq!(out.len(), (end - start) * n, "room for rows {start}..{end}");
        match self.features {
            Features::U8 => {
                for (o, &b) in out.iter_mut().zip(&self.x[start * n..end * n]) {
                    *o = f32::from(b);
                }
            }
            Features::F32 => {
                for (o, i) in out.iter_mut().zip(start * n..end * n) {
                    *o = f32_at(self.x, i);
                }
            }
        }
    }

    /// Label of `row` (labels only).
    pub fn label(&self, row: usize) -> i64 {
        let b = &self.y[row * 8..row * 8 + 8];
        i64::from_le_bytes([b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7]])
    }

    /// Target element `i` (values only).
    pub fn target(&self, i: usize) -> f32 {
        f32_at(self.y, i)
    }

    /// The distinct labels, ascending (labels only; empty otherwise).
    pub fn classes(&self) -> Vec<i64> {
        if self.targets != Targets::Labels {
            return Vec::new();
        }
        let mut labels: Vec<i64> = (0..self.rows).map(|r| self.label(r)).collect();
        labels.sort_unstable();
        labels.dedup();
        labels
    }

    /// The smallest and largest feature value (`0..=255` bounds for `uint8`).
    pub fn feature_range(&self) -> (f32, f32) {
        match self.features {
            Features::U8 => (0.0, 255.0),
            Features::F32 => (0..self.x.len() / 4)
                .map(|i| f32_at(self.x, i))
                .fold((f32::INFINITY, f32::NEG_INFINITY), |(lo, hi), v| {
                    (lo.min(v), hi.max(v))
                }),
        }
    }

    /// The summary kept in the state.
    pub fn info(&self) -> DatasetInfo {
        DatasetInfo {
            rows: self.rows as u64,
            sample_shape: self.sample_shape.clone(),
            features: self.features,
            targets: self.targets.clone(),
        }
    }
}

fn f32_at(bytes: &[u8], i: usize) -> f32 {
    let b = &bytes[i * 4..i * 4 + 4];
    f32::from_le_bytes([b[0], b[1], b[2], b[3]])
}

/// Serialises features and targets into the canonical format. Used by converters and tests.
pub fn encode(
    x_shape: &[usize],
    x: DatasetFeatures<'_>,
    y_shape: &[usize],
    y: DatasetTargets<'_>,
) -> Result<Vec<u8>, String> {
    use safetensors::tensor::TensorView;
    let (x_dtype, x_bytes): (Dtype, std::borrow::Cow<'_, [u8]>) = match x {
        DatasetFeatures::U8(v) => (Dtype::U8, v.into()),
        DatasetFeatures::F32(v) => (
            Dtype::F32,
            v.iter()
                .flat_map(|f| f.to_le_bytes())
                .collect::<Vec<u8>>()
                .into(),
        ),
    };
    let (y_dtype, y_bytes): (Dtype, Vec<u8>) = match y {
        DatasetTargets::Labels(v) => (Dtype::I64, v.iter().flat_map(|l| l.to_le_bytes()).collect()),
        DatasetTargets::Values(v) => (Dtype::F32, v.iter().flat_map(|f| f.to_le_bytes()).collect()),
    };
    let xv = TensorView::new(x_dtype, x_shape.to_vec(), &x_bytes).map_err(|e| e.to_string())?;
    let yv = TensorView::new(y_dtype, y_shape.to_vec(), &y_bytes).map_err(|e| e.to_string())?;
    safetensors::serialize([("x", xv), ("y", yv)], None).map_err(|e| e.to_string())
}

/// Feature data for [`encode`].
#[derive(Debug, Clone, Copy)]
pub enum DatasetFeatures<'a> {
    /// Bytes.
    U8(&'a [u8]),
    /// Floats.
    F32(&'a [f32]),
}

/// Target data for [`encode`].
#[derive(Debug, Clone, Copy)]
pub enum DatasetTargets<'a> {
    /// Class labels.
    Labels(&'a [i64]),
    /// Regression targets.
    Values(&'a [f32]),
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tiny() -> Vec<u8> {
        encode(
            &[2, 1, 2],
            DatasetFeatures::U8(&[0, 255, 7, 9]),
            &[2],
            DatasetTargets::Labels(&[1, 0]),
        )
        .unwrap()
    }

    #[test]
    fn round_trip() {
        let bytes = tiny();
        let d = Dataset::parse(&bytes, 10).unwrap();
        assert_eq!(
            (d.rows, d.sample_shape.as_slice(), d.features),
            (2, &[1usize, 2][..], Features::U8)
        );
        let mut f = Vec::new();
        d.extend_features(1, 2, &mut f);
        assert_eq!(f, [7.0, 9.0]);
        assert_eq!((d.label(0), d.label(1)), (1, 0));
    }

    #[test]
    fn rejections_name_the_problem() {
        let cases: Vec<(Vec<u8>, &str)> = vec![
            (b"garbage".to_vec(), "not a safetensors"),
            (tiny()[..30].to_vec(), "not a safetensors"),
            (
                encode(
                    &[2, 2],
                    DatasetFeatures::U8(&[1; 4]),
                    &[3],
                    DatasetTargets::Labels(&[0; 3]),
                )
                .unwrap(),
                "y must be",
            ),
            (
                encode(
                    &[2, 1],
                    DatasetFeatures::F32(&[1.0, f32::NAN]),
                    &[2],
                    DatasetTargets::Labels(&[0; 2]),
                )
                .unwrap(),
                "non-finite",
            ),
            (
                encode(
                    &[1, 1],
                    DatasetFeatures::U8(&[1]),
                    &[1],
                    DatasetTargets::Labels(&[-3]),
                )
                .unwrap(),
                "negative label",
            ),
            (
                encode(
                    &[2],
                    DatasetFeatures::U8(&[1, 2]),
                    &[2],
                    DatasetTargets::Labels(&[0; 2]),
                )
                .unwrap(),
                "sample shape",
            ),
        ];
        for (bytes, want) in cases {
            let err = Dataset::parse(&bytes, 10).unwrap_err();
            assert!(err.contains(want), "{err:?} should mention {want:?}");
        }
        assert!(
            Dataset::parse(&tiny(), 1)
                .unwrap_err()
                .contains("exceed the limit")
        );
    }
}
