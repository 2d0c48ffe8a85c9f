//! Calibrating an advisor's confidence from operators' reviews. Each review in the journal
//! says whether the operator chose what the advisor advised; per advisor, isotonic regression
//! (pool adjacent violators) maps the confidence it reported to the share of such advice
//! operators agreed with. The report gives the expected calibration error before and after,
//! the after figure cross-validated (each review's calibrated confidence comes from a fit
//! without it), so the improvement is not measured on the data it was fitted to.
//!
//! A calibration may only lower a decision's confidence: under the threshold, a human decides.
//! It never raises one, never changes a verdict to a looser one, and never touches the policy.

use std::collections::BTreeMap;

use serde::Serialize;

use super::autonomy::Review;

/// Reviews an advisor needs before its confidence is recalibrated.
pub const MIN_REVIEWS: usize = 20;
/// Folds of the cross-validation.
const FOLDS: usize = 5;

/// A monotone map from reported confidence to agreement, as steps: `(upper bound of the
/// block's confidences, agreement)`, ascending.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Isotonic {
    pub steps: Vec<(f64, f64)>,
}

impl Isotonic {
    /// Fits (confidence, agreed) pairs.
    pub fn fit(points: &[(f64, bool)]) -> Option<Isotonic> {
        if points.is_empty() {
            return None;
        }
        let mut p: Vec<(f64, f64)> = points
            .iter()
            .map(|(c, ok)| (c.clamp(0.0, 1.0), if *ok { 1.0 } else { 0.0 }))
            .collect();
        p.sort_by(|a, b| a.0.total_cmp(&b.0));
        // Blocks: (max confidence, sum of labels, count).
        let mut blocks: Vec<(f64, f64, f64)> = Vec::new();
        for (c, y) in p {
            match blocks.last_mut() {
                // Equal confidences share a block.
                Some(last) if last.0 == c => {
                    last.1 += y;
                    last.2 += 1.0;
                }
                _ => blocks.push((c, y, 1.0)),
            }
            while blocks.len() >= 2 {
                let n = blocks.len();
                let (a, b) = (blocks[n - 2], blocks[n - 1]);
                if a.1 / a.2 <= b.1 / b.2 {
                    break;
                }
                blocks.truncate(n - 2);
                blocks.push((b.0, a.1 + b.1, a.2 + b.2));
            }
        }
        Some(Isotonic {
            steps: blocks.iter().map(|(c, s, n)| (*c, s / n)).collect(),
        })
    }

    /// The calibrated confidence of a reported one: the agreement of the first block whose
    /// confidences reach it (the last block above them all).
    pub fn apply(&self, c: f64) -> f64 {
        self.steps
            .iter()
            .find(|(upper, _)| c <= *upper)
            .or(self.steps.last())
            .map_or(c, |(_, y)| *y)
    }
}

/// The expected calibration error of (confidence, agreed) pairs over ten equal-width bins.
pub fn ece(points: &[(f64, bool)]) -> f64 {
    if points.is_empty() {
        return 0.0;
    }
    let mut bins = [(0usize, 0.0f64, 0usize); 10];
    for (c, ok) in points {
        let c = c.clamp(0.0, 1.0);
        let b = ((c * 10.0).floor() as usize).min(9);
        bins[b].0 += 1;
        bins[b].1 += c;
        bins[b].2 += usize::from(*ok);
    }
    let n = points.len() as f64;
    bins.iter()
        .filter(|b| b.0 > 0)
        .map(|(count, sum, right)| {
            let k = *count as f64;
            (k / n) * (*right as f64 / k - sum / k).abs()
        })
        .sum()
}

/// One advisor's calibration, as the shadow report shows it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AdvisorCalibration {
    pub advisor: String,
    pub reviews: usize,
    pub agreed: usize,
    /// ECE of the confidences it reported.
    pub before: f64,
    /// ECE of the calibrated confidences, cross-validated; `None` under [`MIN_REVIEWS`].
    pub after: Option<f64>,
    /// The map in use; `None` under [`MIN_REVIEWS`].
    pub map: Option<Isotonic>,
}

/// The calibrations of every advisor the journal's reviews name.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Calibration {
    pub advisors: Vec<AdvisorCalibration>,
}

impl Calibration {
    /// Fits each advisor's reviews.
    pub fn fit(reviews: &[Review]) -> Calibration {
        let mut by: BTreeMap<&str, Vec<(f64, bool)>> = BTreeMap::new();
        for r in reviews {
            by.entry(r.advisor.as_str())
                .or_default()
                .push((r.advisor_confidence, r.advisor_verdict == r.chosen));
        }
        let advisors = by
            .into_iter()
            .map(|(name, points)| {
                let enough = points.len() >= MIN_REVIEWS;
                AdvisorCalibration {
                    advisor: name.to_string(),
                    reviews: points.len(),
                    agreed: points.iter().filter(|p| p.1).count(),
                    before: ece(&points),
                    after: enough.then(|| ece(&cross_validated(&points))),
                    map: if enough { Isotonic::fit(&points) } else { None },
                }
            })
            .collect();
        Calibration { advisors }
    }

    /// The calibrated confidence of an advisor's reported one, when it has a map.
    pub fn calibrated(&self, advisor: &str, confidence: f64) -> Option<f64> {
        self.advisors
            .iter()
            .find(|a| a.advisor == advisor)?
            .map
            .as_ref()
            .map(|m| m.apply(confidence))
    }
}

/// Each point's confidence replaced by a fit on the other folds.
fn cross_validated(points: &[(f64, bool)]) -> Vec<(f64, bool)> {
    (0..points.len())
        .map(|i| {
            let train: Vec<(f64, bool)> = points
                .iter()
                .enumerate()
                .filter(|(j, _)| j % FOLDS != i % FOLDS)
                .map(|(_, p)| *p)
                .collect();
            let (c, ok) = points[i];
            let c2 = Isotonic::fit(&train).map_or(c, |m| m.apply(c));
            (c2, ok)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn isotonic_is_monotone_and_pools_violators() {
        let pts = [
            (0.9, false),
            (0.95, true),
            (0.6, true),
            (0.7, false),
            (0.7, true),
            (0.99, true),
        ];
        let m = Isotonic::fit(&pts).unwrap();
        let ys: Vec<f64> = m.steps.iter().map(|s| s.1).collect();
        assert!(ys.windows(2).all(|w| w[0] <= w[1]), "{ys:?}");
        // 0.6 (agreed) pooled with 0.7 (one of two) and 0.9 (disagreed): 2 of 4.
        assert_eq!(m.steps[0], (0.9, 0.5), "{m:?}");
        assert_eq!(m.apply(0.6), 0.5);
        assert_eq!(m.apply(0.65), 0.5);
        assert_eq!(m.apply(1.0), 1.0);
        assert_eq!(m.apply(0.1), m.steps[0].1);
    }

    #[test]
    fn an_overconfident_advisor_is_calibrated_down_and_the_cross_validated_ece_falls() {
        // Says 0.95 every time; operators agree about 60% of the time, in no order.
        let mut x: u64 = 12345;
        let pts: Vec<(f64, bool)> = (0..200)
            .map(|_| {
                x = x
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                (0.95, (x >> 33) % 10 < 6)
            })
            .collect();
        let rate = pts.iter().filter(|p| p.1).count() as f64 / pts.len() as f64;
        assert!((ece(&pts) - (0.95 - rate)).abs() < 1e-9);
        let cv = cross_validated(&pts);
        assert!(
            ece(&cv) < ece(&pts) / 3.0,
            "{} from {}",
            ece(&cv),
            ece(&pts)
        );
        let m = Isotonic::fit(&pts).unwrap();
        assert!((m.apply(0.95) - rate).abs() < 1e-9);
    }
}
