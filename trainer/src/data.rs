//! Training and validation data: any dataset in the canonical format (crucible-core's
//! `safetensors` with `x` and int64 labels `y`), validated by the same parser as the DApp's.

use crucible_core::dataset::{Dataset, Features, Targets};

use crate::{Error, Result};

/// A labelled dataset, features as `float32` row-major.
#[derive(Debug, Clone)]
pub struct LabelledSet {
    /// Rows.
    pub rows: usize,
    /// Shape of one sample.
    pub sample_shape: Vec<usize>,
    /// `rows × sample elements` feature values, unscaled.
    pub features: Vec<f32>,
    /// One class per row.
    pub labels: Vec<i64>,
    /// Whether the file stored `uint8` features (pixels): the model then divides by 255.
    pub from_u8: bool,
}

impl LabelledSet {
    /// Parses and checks a canonical dataset. `what` names it in errors.
    pub fn parse(bytes: &[u8], what: &str) -> Result<Self> {
        let data =
            Dataset::parse(bytes, u32::MAX).map_err(|e| Error::Data(format!("{what}: {e}")))?;
        if data.targets != Targets::Labels {
            return Err(Error::Data(format!(
                "{what}: the trainer trains classifiers and needs int64 class labels in y, this dataset has float32 targets"
            )));
        }
        let mut features = Vec::with_capacity(data.rows * data.sample_len());
        data.extend_features(0, data.rows, &mut features);
        let labels = (0..data.rows).map(|r| data.label(r)).collect();
        Ok(Self {
            rows: data.rows,
            sample_shape: data.sample_shape.clone(),
            features,
            labels,
            from_u8: data.features == Features::U8,
        })
    }

    /// Elements per sample.
    pub fn sample_len(&self) -> usize {
        self.sample_shape.iter().product()
    }

    /// Classes the labels need: the largest label plus one.
    pub fn classes(&self) -> usize {
        self.labels.iter().max().map_or(0, |&m| m as usize + 1)
    }

    /// The first `rows` rows (all of them if there are fewer).
    pub fn head(&self, rows: usize) -> Self {
        let rows = rows.min(self.rows);
        Self {
            rows,
            sample_shape: self.sample_shape.clone(),
            features: self.features[..rows * self.sample_len()].to_vec(),
            labels: self.labels[..rows].to_vec(),
            from_u8: self.from_u8,
        }
    }

    /// Checks that a model for samples of `sample_shape` with `classes` outputs can learn
    /// these labels.
    pub fn check_fits(&self, what: &str, sample_shape: &[usize], classes: usize) -> Result<()> {
        if self.sample_shape != sample_shape {
            return Err(Error::Data(format!(
                "{what}: rows of x are {:?}, the model takes {sample_shape:?}",
                self.sample_shape
            )));
        }
        if let Some(row) = self.labels.iter().position(|&l| l as usize >= classes) {
            return Err(Error::Data(format!(
                "{what}: row {row} has label {}, the model has {classes} classes",
                self.labels[row]
            )));
        }
        Ok(())
    }
}
