//! Scoring decisions against labelled scenarios: the confusion matrix, accuracy, unsafe
//! allows, needless reverts, Cohen's κ, and the calibration of the confidence figures
//! (expected calibration error and a reliability table).

use serde::Serialize;

use super::Verdict;

/// One scored decision: what was expected, what was decided, how sure it was.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Scored {
    pub expected: Verdict,
    pub decided: Verdict,
    pub confidence: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Pair {
    pub expected: Verdict,
    pub decided: Verdict,
    pub count: usize,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Bin {
    /// Confidence range `[from, to)` (the last bin includes 1).
    pub from: f64,
    pub to: f64,
    pub count: usize,
    /// Mean confidence of the decisions in the bin.
    pub confidence: f64,
    /// Share of them that were right.
    pub accuracy: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Summary {
    pub scenarios: usize,
    /// Scenarios without an `expect` (decided, not scored).
    pub unlabelled: usize,
    pub correct: usize,
    pub accuracy: f64,
    /// Counts per (expected, decided) pair, non-zero ones.
    pub pairs: Vec<Pair>,
    /// Rows: expected; columns: decided; in the order allow, defer, enforce, needs-human.
    pub matrix: [[usize; 4]; 4],
    /// Decided `allow` where `enforce` or `needs-human` was expected.
    pub unsafe_allows: usize,
    /// Decided `enforce` or `defer` where `allow` was expected.
    pub needless_reverts: usize,
    pub kappa: f64,
    /// Expected calibration error over ten equal-width bins.
    pub ece: f64,
    pub reliability: Vec<Bin>,
}

fn round(x: f64, places: i32) -> f64 {
    let m = 10f64.powi(places);
    (x * m).round() / m
}

/// Scores a set of labelled decisions (`unlabelled` is reported as is).
pub fn score(items: &[Scored], unlabelled: usize) -> Summary {
    let n = items.len();
    let mut matrix = [[0usize; 4]; 4];
    for s in items {
        matrix[s.expected.index()][s.decided.index()] += 1;
    }
    let correct = (0..4).map(|i| matrix[i][i]).sum::<usize>();
    let accuracy = if n == 0 {
        0.0
    } else {
        correct as f64 / n as f64
    };
    let mut pairs = Vec::new();
    for e in Verdict::ALL {
        for d in Verdict::ALL {
            let count = matrix[e.index()][d.index()];
            if count > 0 {
                pairs.push(Pair {
                    expected: e,
                    decided: d,
                    count,
                });
            }
        }
    }
    let unsafe_allows = items
        .iter()
        .filter(|s| {
            s.decided == Verdict::Allow
                && matches!(s.expected, Verdict::Enforce | Verdict::NeedsHuman)
        })
        .count();
    let needless_reverts = items
        .iter()
        .filter(|s| {
            s.expected == Verdict::Allow && matches!(s.decided, Verdict::Enforce | Verdict::Defer)
        })
        .count();
    // Cohen's kappa: agreement beyond chance.
    let kappa = if n == 0 {
        0.0
    } else {
        let nf = n as f64;
        let pe: f64 = (0..4)
            .map(|k| {
                let row: usize = matrix[k].iter().sum();
                let col: usize = (0..4).map(|i| matrix[i][k]).sum();
                (row as f64 / nf) * (col as f64 / nf)
            })
            .sum();
        if (1.0 - pe).abs() < 1e-12 {
            if correct == n { 1.0 } else { 0.0 }
        } else {
            (accuracy - pe) / (1.0 - pe)
        }
    };
    // Calibration.
    let mut bins: Vec<(usize, f64, usize)> = vec![(0, 0.0, 0); 10];
    for s in items {
        let c = s.confidence.clamp(0.0, 1.0);
        let b = ((c * 10.0).floor() as usize).min(9);
        bins[b].0 += 1;
        bins[b].1 += c;
        if s.expected == s.decided {
            bins[b].2 += 1;
        }
    }
    let mut ece = 0.0;
    let mut reliability = Vec::new();
    for (i, (count, conf_sum, right)) in bins.iter().enumerate() {
        if *count == 0 {
            continue;
        }
        let conf = conf_sum / *count as f64;
        let acc = *right as f64 / *count as f64;
        ece += (*count as f64 / n as f64) * (acc - conf).abs();
        reliability.push(Bin {
            from: i as f64 / 10.0,
            to: (i + 1) as f64 / 10.0,
            count: *count,
            confidence: round(conf, 3),
            accuracy: round(acc, 3),
        });
    }
    Summary {
        scenarios: n + unlabelled,
        unlabelled,
        correct,
        accuracy: round(accuracy, 4),
        pairs,
        matrix,
        unsafe_allows,
        needless_reverts,
        kappa: round(kappa, 4),
        ece: round(ece, 4),
        reliability,
    }
}

impl Summary {
    /// The summary as a person reads it.
    pub fn text(&self) -> String {
        let mut s = String::new();
        let labelled = self.scenarios - self.unlabelled;
        s.push_str(&format!(
            "{} scenarios ({} labelled): {} right, accuracy {:.1}%, unsafe allows {}, needless reverts {}, Cohen's κ {:.3}, ECE {:.3}\n",
            self.scenarios,
            labelled,
            self.correct,
            self.accuracy * 100.0,
            self.unsafe_allows,
            self.needless_reverts,
            self.kappa,
            self.ece
        ));
        s.push_str("\nexpected \\ decided   allow   defer enforce needs-human\n");
        for e in Verdict::ALL {
            let row = &self.matrix[e.index()];
            s.push_str(&format!(
                "{:<20} {:>6} {:>7} {:>7} {:>11}\n",
                e.as_str(),
                row[0],
                row[1],
                row[2],
                row[3]
            ));
        }
        s.push_str("\nconfidence    decisions  mean conf  accuracy\n");
        for b in &self.reliability {
            s.push_str(&format!(
                "[{:.1}, {:.1}{}  {:>9}  {:>9.3}  {:>8.3}\n",
                b.from,
                b.to,
                if b.to >= 1.0 { "]" } else { ")" },
                b.count,
                b.confidence,
                b.accuracy
            ));
        }
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use Verdict::*;

    fn s(e: Verdict, d: Verdict, c: f64) -> Scored {
        Scored {
            expected: e,
            decided: d,
            confidence: c,
        }
    }

    #[test]
    fn perfect_agreement() {
        let items = vec![
            s(Allow, Allow, 0.9),
            s(Enforce, Enforce, 0.95),
            s(Defer, Defer, 0.85),
        ];
        let sum = score(&items, 0);
        assert_eq!(sum.accuracy, 1.0);
        assert_eq!(sum.kappa, 1.0);
        assert_eq!(sum.unsafe_allows, 0);
        assert!(
            (sum.ece - (0.1 + 0.05 + 0.15) / 3.0).abs() < 1e-3,
            "{}",
            sum.ece
        );
    }

    #[test]
    fn errors_are_classified() {
        let items = vec![
            s(Enforce, Allow, 0.9),
            s(NeedsHuman, Allow, 0.9),
            s(Allow, Enforce, 0.9),
            s(Allow, Defer, 0.9),
            s(Allow, NeedsHuman, 0.9),
            s(Defer, Defer, 0.9),
        ];
        let sum = score(&items, 2);
        assert_eq!(sum.unsafe_allows, 2);
        assert_eq!(sum.needless_reverts, 2);
        assert_eq!(sum.correct, 1);
        assert_eq!(sum.scenarios, 8);
        assert_eq!(sum.matrix[Allow.index()][Enforce.index()], 1);
        assert!(sum.kappa < 0.2);
        let text = sum.text();
        assert!(text.contains("unsafe allows 2"), "{text}");
    }

    #[test]
    fn kappa_matches_a_hand_computation() {
        // 10 items: 4 allow/allow, 1 allow/enforce, 1 enforce/allow, 4 enforce/enforce.
        let mut items = Vec::new();
        items.extend(std::iter::repeat_n(s(Allow, Allow, 0.9), 4));
        items.push(s(Allow, Enforce, 0.9));
        items.push(s(Enforce, Allow, 0.9));
        items.extend(std::iter::repeat_n(s(Enforce, Enforce, 0.9), 4));
        let sum = score(&items, 0);
        // po = 0.8, pe = 0.5*0.5 + 0.5*0.5 = 0.5, kappa = 0.6.
        assert!((sum.kappa - 0.6).abs() < 1e-9, "{}", sum.kappa);
    }
}
