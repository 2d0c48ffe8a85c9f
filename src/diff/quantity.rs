//! Resource quantities compared as Argo CD compares them after remarshalling through the
//! typed objects: by value, not by spelling. `cpu: 1000m` and `cpu: "1"`, `memory: 1Gi` and
//! `memory: 1073741824`, `0.5` and `500m` are the same quantity, so a manifest that spells a
//! quantity differently from the server is not drift.

use serde_json::Value;

/// Maps whose values are quantities (resource requirements, quotas, limit ranges, node and
/// volume capacities, pod overhead).
const QUANTITY_MAPS: &[&str] = &[
    "requests",
    "limits",
    "hard",
    "used",
    "capacity",
    "allocatable",
    "overhead",
    "default",
    "defaultRequest",
    "max",
    "min",
    "maxLimitRequestRatio",
];

/// Single fields that are quantities wherever they appear.
const QUANTITY_FIELDS: &[&str] = &["sizeLimit", "averageValue"];

/// A quantity's exact value: mantissa × 10^exponent, with no trailing zeros in the mantissa.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Exact {
    mantissa: i128,
    exponent: i32,
}

impl Exact {
    /// The value as a float (for comparisons that need no exactness).
    pub fn to_f64(self) -> f64 {
        self.mantissa as f64 * 10f64.powi(self.exponent)
    }
}

/// Parses a quantity (`500m`, `1.5Gi`, `2e3`, `1073741824`) exactly; `None` when it is not one.
pub fn exact(s: &str) -> Option<Exact> {
    let s = s.trim();
    let split = s
        .find(|c: char| !(c.is_ascii_digit() || c == '.' || c == '+' || c == '-'))
        .unwrap_or(s.len());
    let (num, suffix) = s.split_at(split);
    if num.is_empty() || num == "+" || num == "-" {
        return None;
    }
    let (neg, digits) = match num.strip_prefix('-') {
        Some(d) => (true, d),
        None => (false, num.strip_prefix('+').unwrap_or(num)),
    };
    let (int, frac) = digits.split_once('.').unwrap_or((digits, ""));
    if int.is_empty() && frac.is_empty()
        || !int.bytes().all(|b| b.is_ascii_digit())
        || !frac.bytes().all(|b| b.is_ascii_digit())
        || int.len() + frac.len() > 30
    {
        return None;
    }
    let mut mantissa: i128 = format!("{int}{frac}").parse().ok()?;
    let mut exponent = -(frac.len() as i32);
    let binary = |k: u32| -> Option<i128> { 1024i128.checked_pow(k) };
    match suffix {
        "" => {}
        "n" => exponent -= 9,
        "u" => exponent -= 6,
        "m" => exponent -= 3,
        "k" => exponent += 3,
        "M" => exponent += 6,
        "G" => exponent += 9,
        "T" => exponent += 12,
        "P" => exponent += 15,
        "E" => exponent += 18,
        "Ki" | "Mi" | "Gi" | "Ti" | "Pi" | "Ei" => {
            let k = match suffix {
                "Ki" => 1,
                "Mi" => 2,
                "Gi" => 3,
                "Ti" => 4,
                "Pi" => 5,
                _ => 6,
            };
            mantissa = mantissa.checked_mul(binary(k)?)?;
        }
        e if e.len() > 1 && e.starts_with(['e', 'E']) => {
            exponent += e[1..].parse::<i32>().ok()?;
        }
        _ => return None,
    }
    if neg {
        mantissa = -mantissa;
    }
    if mantissa == 0 {
        return Some(Exact {
            mantissa: 0,
            exponent: 0,
        });
    }
    while mantissa % 10 == 0 {
        mantissa /= 10;
        exponent += 1;
    }
    Some(Exact { mantissa, exponent })
}

fn exact_of(v: &Value) -> Option<Exact> {
    match v {
        Value::String(s) => exact(s),
        Value::Number(n) => exact(&n.to_string()),
        _ => None,
    }
}

/// Gives `b` the spelling `a` has wherever both hold the same quantity, so a comparison sees
/// them equal; anything else is left as it is.
pub fn align(a: &Value, b: &mut Value) {
    walk(a, b, false);
}

fn walk(a: &Value, b: &mut Value, in_quantity_map: bool) {
    match (a, b) {
        (Value::Object(x), Value::Object(y)) => {
            for (k, av) in x {
                let Some(bv) = y.get_mut(k) else { continue };
                let quantity = in_quantity_map
                    || QUANTITY_FIELDS.contains(&k.as_str())
                    || (matches!(k.as_str(), "value") && av.is_string());
                let quantity = quantity && !av.is_object() && !av.is_array();
                if quantity {
                    if let (Some(ea), Some(eb)) = (exact_of(av), exact_of(bv))
                        && ea == eb
                        && *av != *bv
                        && (in_quantity_map || k != "value" || is_target(x))
                    {
                        *bv = av.clone();
                    }
                } else {
                    walk(av, bv, QUANTITY_MAPS.contains(&k.as_str()));
                }
            }
        }
        (Value::Array(x), Value::Array(y)) => {
            let named = x.iter().all(|i| i["name"].is_string());
            for (i, av) in x.iter().enumerate() {
                let j = if named {
                    y.iter().position(|b| b["name"] == av["name"])
                } else {
                    (i < y.len()).then_some(i)
                };
                if let Some(j) = j {
                    walk(av, &mut y[j], false);
                }
            }
        }
        _ => {}
    }
}

/// A metric target (`{type: Value, value: 10k}`), where `value` is a quantity.
fn is_target(m: &serde_json::Map<String, Value>) -> bool {
    m.get("type").and_then(Value::as_str) == Some("Value")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn equal_values_in_every_spelling() {
        let same = |a: &str, b: &str| exact(a).unwrap() == exact(b).unwrap();
        assert!(same("1000m", "1"));
        assert!(same("1Gi", "1073741824"));
        assert!(same("0.5", "500m"));
        assert!(same("1.5Gi", "1536Mi"));
        assert!(same("2e3", "2k"));
        assert!(same("1M", "1000k"));
        assert!(!same("1G", "1Gi"));
        assert!(!same("100m", "1"));
        assert!(exact("lots").is_none() && exact("1Xi").is_none() && exact("").is_none());
    }

    #[test]
    fn align_only_touches_quantities() {
        let a = json!({"resources": {"limits": {"cpu": "1", "memory": "1Gi"}},
                       "env": [{"name": "N", "value": "1"}]});
        let mut b = json!({"resources": {"limits": {"cpu": "1000m", "memory": 1073741824}},
                           "env": [{"name": "N", "value": "1.0"}]});
        align(&a, &mut b);
        assert_eq!(b["resources"], a["resources"]);
        assert_eq!(
            b["env"][0]["value"], "1.0",
            "an env value is not a quantity"
        );
    }
}
