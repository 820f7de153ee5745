//! Metrics. Per-row losses are summed in `f64` in sample order, and the result is an integer
//! in parts per million, so every validator compares integers. Transcendental functions come
//! from `libm` (pure Rust, no FMA contraction), not from the platform's C library, so the
//! host and the RISC-V machine compute the same bits. A non-finite model output makes the
//! whole evaluation invalid.

use crucible_types::abi::Metric;

/// The result of scoring a model on a dataset.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct Score {
    /// The metric, in parts per million (`accuracy 0.8501` → `850100`).
    pub value_ppm: u64,
    /// Rows scored.
    pub samples: u64,
    /// Rows counted correct (classification accuracies; 0 otherwise).
    pub correct: u64,
    /// A 128-bit digest of the model's predictions, row by row: the arg-max class for a
    /// classification metric, each output with its 8 lowest mantissa bits cleared for a
    /// regression metric. Two entries with the same digest predict the same on every row
    /// (a functional copy); see [`Accumulator`].
    #[serde(serialize_with = "hex128")]
    pub predictions: u128,
}

fn hex128<S: serde::Serializer>(v: &u128, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&format!("{v:032x}"))
}

/// Mixes one prediction into a two-lane multiply–rotate digest (not cryptographic: it
/// tells honest models apart; an earlier entry gains nothing by colliding with a later one).
fn mix(fp: &mut [u64; 2], value: u64) {
    fp[0] = (fp[0] ^ value)
        .wrapping_mul(0x9e37_79b9_7f4a_7c15)
        .rotate_left(29);
    fp[1] = (fp[1].rotate_left(17) ^ value.wrapping_add(0x632b_e59b_d9b4_e019))
        .wrapping_mul(0xbf58_476d_1ce4_e5b9);
}

/// Clamp for probabilities in log-loss, as scikit-learn does.
pub const PROB_EPS: f64 = 1e-15;

/// Streams model outputs, row by row, into a metric. It can be kept in the state between
/// inputs (a finalize that scores in steps): the sum is serialised as its bit pattern, so
/// the state's encoding stays integers only.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Accumulator {
    #[serde(serialize_with = "metric_name")]
    metric: Metric,
    width: usize,
    rows: u64,
    correct: u64,
    #[serde(serialize_with = "f64_bits")]
    sum: f64,
    elements: u64,
    fingerprint: [u64; 2],
}

fn metric_name<S: serde::Serializer>(m: &Metric, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(m.name())
}

fn f64_bits<S: serde::Serializer>(v: &f64, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_u64(v.to_bits())
}

impl Accumulator {
    /// `width` is the number of output elements per row.
    pub const fn new(metric: Metric, width: usize) -> Self {
        Self {
            metric,
            width,
            rows: 0,
            correct: 0,
            sum: 0.0,
            elements: 0,
            fingerprint: [0x243f_6a88_85a3_08d3, 0x1319_8a2e_0370_7344],
        }
    }

    /// Adds one classification row (`scores` has `width` elements).
    pub fn add_labelled(&mut self, row: usize, scores: &[f32], label: i64) -> Result<(), String> {
        let label = usize::try_from(label)
            .ok()
            .filter(|&l| l < self.width)
            .ok_or_else(|| {
                format!(
                    "label {label} in row {row} is out of range for {} classes",
                    self.width
                )
            })?;
        check_finite(row, scores)?;
        let best = scores
            .iter()
            .enumerate()
            .fold(0, |b, (j, &s)| if s > scores[b] { j } else { b });
        mix(&mut self.fingerprint, best as u64);
        let target = scores[label];
        // Rank of the label: classes scoring higher, and equal scores at a lower index,
        // come first. With k = 1 this is arg-max with ties to the lowest index.
        let ahead = |k: usize| {
            scores
                .iter()
                .enumerate()
                .filter(|&(j, &s)| s > target || (s == target && j < label))
                .take(k)
                .count()
        };
        match self.metric {
            Metric::Accuracy => self.correct += u64::from(ahead(1) == 0),
            Metric::Top5Accuracy => self.correct += u64::from(ahead(5) < 5),
            Metric::LogLossLogits => {
                let max = scores
                    .iter()
                    .fold(f64::NEG_INFINITY, |m, &s| m.max(f64::from(s)));
                let sum: f64 = scores.iter().map(|&s| libm::exp(f64::from(s) - max)).sum();
                self.sum += max + libm::log(sum) - f64::from(target);
                self.correct += u64::from(ahead(1) == 0);
            }
            Metric::LogLossProbabilities => {
                if let Some((j, p)) = scores
                    .iter()
                    .enumerate()
                    .find(|(_, p)| !(0.0..=1.0).contains(*p))
                {
                    return Err(format!(
                        "output row {row} class {j} is {p}, not a probability"
                    ));
                }
                let p = f64::from(target).clamp(PROB_EPS, 1.0 - PROB_EPS);
                self.sum -= libm::log(p);
                self.correct += u64::from(ahead(1) == 0);
            }
            _ => {
                return Err(format!(
                    "{} is not a classification metric",
                    self.metric.name()
                ));
            }
        }
        self.rows += 1;
        Ok(())
    }

    /// Adds one regression row.
    pub fn add_valued(
        &mut self,
        row: usize,
        outputs: &[f32],
        targets: &[f32],
    ) -> Result<(), String> {
        check_finite(row, outputs)?;
        for &o in outputs {
            mix(&mut self.fingerprint, u64::from(o.to_bits() & !0xff));
        }
        for (&o, &t) in outputs.iter().zip(targets) {
            let d = f64::from(o) - f64::from(t);
            self.sum += match self.metric {
                Metric::MeanSquaredError => d * d,
                Metric::MeanAbsoluteError => d.abs(),
                _ => return Err(format!("{} is not a regression metric", self.metric.name())),
            };
        }
        self.elements += outputs.len() as u64;
        self.rows += 1;
        Ok(())
    }

    /// Rows added so far.
    pub const fn rows(&self) -> u64 {
        self.rows
    }

    /// The final score.
    pub fn finish(self) -> Result<Score, String> {
        if self.rows == 0 {
            return Err("no rows were scored".into());
        }
        let value_ppm = match self.metric {
            Metric::Accuracy | Metric::Top5Accuracy => {
                // Exact integer rounding, half up.
                ((u128::from(self.correct) * 2_000_000 + u128::from(self.rows))
                    / (2 * u128::from(self.rows))) as u64
            }
            _ => {
                let denominator = if self.metric.is_classification() {
                    self.rows
                } else {
                    self.elements
                };
                to_ppm(self.sum / denominator as f64)?
            }
        };
        Ok(Score {
            value_ppm,
            samples: self.rows,
            correct: self.correct,
            predictions: (u128::from(self.fingerprint[0]) << 64) | u128::from(self.fingerprint[1]),
        })
    }
}

fn check_finite(row: usize, values: &[f32]) -> Result<(), String> {
    match values.iter().position(|v| !v.is_finite()) {
        Some(j) => Err(format!(
            "output row {row} element {j} is {}: non-finite outputs are invalid",
            values[j]
        )),
        None => Ok(()),
    }
}

/// `value × 10⁶`, rounded half away from zero; refuses what does not fit.
pub fn to_ppm(value: f64) -> Result<u64, String> {
    let ppm = (value * 1e6).round();
    if !ppm.is_finite() || !(0.0..9.0e18).contains(&ppm) {
        return Err(format!(
            "score {value} cannot be expressed in parts per million"
        ));
    }
    Ok(ppm as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn classify(metric: Metric, rows: &[(&[f32], i64)]) -> Result<Score, String> {
        let mut acc = Accumulator::new(metric, rows[0].0.len());
        for (i, (s, l)) in rows.iter().enumerate() {
            acc.add_labelled(i, s, *l)?;
        }
        acc.finish()
    }

    #[test]
    fn accuracy_ties_go_to_the_lowest_index() {
        let s = classify(
            Metric::Accuracy,
            &[
                (&[1.0, 1.0, 0.0], 0),
                (&[1.0, 1.0, 0.0], 1),
                (&[0.0, 0.0, 2.0], 2),
            ],
        )
        .unwrap();
        assert_eq!((s.correct, s.samples, s.value_ppm), (2, 3, 666_667));
    }

    #[test]
    fn top5_counts_the_label_among_the_five_best() {
        let scores: &[f32] = &[6.0, 5.0, 4.0, 3.0, 2.0, 1.0, 0.0];
        let s = classify(
            Metric::Top5Accuracy,
            &[(scores, 4), (scores, 5), (scores, 0)],
        )
        .unwrap();
        assert_eq!(s.correct, 2);
    }

    #[test]
    fn log_loss_matches_the_closed_form() {
        let s = classify(Metric::LogLossLogits, &[(&[0.0, 0.0], 0)]).unwrap();
        assert_eq!(s.value_ppm, 693_147); // ln 2
        let p = classify(
            Metric::LogLossProbabilities,
            &[(&[0.25, 0.75], 1), (&[0.0, 1.0], 0)],
        )
        .unwrap();
        // (-ln 0.75 - ln 1e-15) / 2
        assert_eq!(
            p.value_ppm,
            to_ppm((-(0.75f64).ln() - (1e-15f64).ln()) / 2.0).unwrap()
        );
        assert!(
            classify(Metric::LogLossProbabilities, &[(&[1.5, -0.5], 0)])
                .unwrap_err()
                .contains("not a probability")
        );
    }

    #[test]
    fn regression_metrics() {
        let mut mse = Accumulator::new(Metric::MeanSquaredError, 2);
        mse.add_valued(0, &[1.0, 2.0], &[0.0, 0.0]).unwrap();
        assert_eq!(mse.finish().unwrap().value_ppm, 2_500_000);
        let mut mae = Accumulator::new(Metric::MeanAbsoluteError, 1);
        mae.add_valued(0, &[-1.5], &[0.5]).unwrap();
        assert_eq!(mae.finish().unwrap().value_ppm, 2_000_000);
    }

    #[test]
    fn non_finite_and_out_of_range_are_invalid() {
        assert!(
            classify(Metric::Accuracy, &[(&[f32::NAN, 0.0], 0)])
                .unwrap_err()
                .contains("non-finite")
        );
        assert!(
            classify(Metric::Accuracy, &[(&[0.0, 1.0], 2)])
                .unwrap_err()
                .contains("out of range")
        );
        let mut mse = Accumulator::new(Metric::MeanSquaredError, 1);
        mse.add_valued(0, &[f32::INFINITY], &[0.0]).unwrap_err();
        assert!(to_ppm(1e300).is_err());
    }
}
