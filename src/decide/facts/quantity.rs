//! Kubernetes quantities (`500m`, `2Gi`, `1e3`) as numbers.

use super::*;

/// A Kubernetes quantity or a plain number as a number: `500m` → 0.5, `1Gi` → 2^30,
/// `1.5k` → 1500, `2e3` → 2000.
pub fn quantity_of(v: &Value) -> Option<f64> {
    match v {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => parse_quantity(s),
        _ => None,
    }
}

pub fn parse_quantity(s: &str) -> Option<f64> {
    crate::diff::quantity::exact(s).map(|e| e.to_f64())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantities_in_every_suffix() {
        assert_eq!(parse_quantity("500m"), Some(0.5));
        assert_eq!(parse_quantity("2Gi"), Some(2.0 * 1024f64.powi(3)));
        assert_eq!(parse_quantity("1k"), Some(1000.0));
        assert_eq!(parse_quantity("1e3"), Some(1000.0));
        assert_eq!(parse_quantity("lots"), None);
        assert_eq!(quantity_of(&serde_json::json!(3)), Some(3.0));
    }
}
