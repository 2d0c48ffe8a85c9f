//! Settings inside values: command-line flags and ConfigMap values that are files (YAML, JSON,
//! `key=value` lines).

use super::*;

/// Command-line flags as a map: `--a=b` and `--a b` → `a: b`, a bare `--a` → `a: true`;
/// positional arguments as `arg[i]`.
pub(super) fn flags(v: &Value) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    let Some(list) = v.as_array() else { return out };
    let items: Vec<String> = list
        .iter()
        .map(|x| {
            x.as_str()
                .map(str::to_string)
                .unwrap_or_else(|| x.to_string())
        })
        .collect();
    let mut i = 0;
    let mut pos = 0;
    while i < items.len() {
        let it = &items[i];
        if let Some(flag) = it
            .strip_prefix("--")
            .or_else(|| it.strip_prefix('-'))
            .filter(|f| !f.is_empty())
        {
            if let Some((k, v)) = flag.split_once('=') {
                out.insert(k.to_string(), v.to_string());
            } else if items.get(i + 1).is_some_and(|n| !n.starts_with('-')) {
                out.insert(flag.to_string(), items[i + 1].clone());
                i += 1;
            } else {
                out.insert(flag.to_string(), "true".into());
            }
        } else {
            out.insert(format!("arg[{pos}]"), it.clone());
            pos += 1;
        }
        i += 1;
    }
    out
}

/// The changed keys inside a ConfigMap value that is a file: YAML or JSON (dotted keys), or
/// `key=value` / `key: value` lines.
pub(super) fn file_changes(old: &str, new: &str) -> Vec<(String, Value, Value)> {
    let parse = |t: &str| -> Option<BTreeMap<String, Value>> {
        if !t.contains('\n') && !t.trim_start().starts_with('{') {
            return None;
        }
        // A value too large or too deep to read as settings cheaply is compared as a whole
        // (the YAML parser's work grows with the square of the nesting).
        if t.len() > crate::limits::MAX_VALUE
            || crate::limits::yaml_depth(t, crate::limits::MAX_DEPTH) > crate::limits::MAX_DEPTH
        {
            return None;
        }
        let mut out = BTreeMap::new();
        if let Ok(v) = serde_yaml::from_str::<Value>(t)
            && v.is_object()
        {
            flatten_dotted("", &v, &mut out);
            return Some(out);
        }
        for line in t.lines() {
            let line = line.trim();
            if line.is_empty()
                || line.starts_with('#')
                || line.starts_with(';')
                || line.starts_with('[')
            {
                continue;
            }
            let (k, v) = line.split_once('=').or_else(|| line.split_once(':'))?;
            out.insert(k.trim().to_string(), json!(v.trim()));
        }
        Some(out)
    };
    let (Some(a), Some(b)) = (parse(old), parse(new)) else {
        return Vec::new();
    };
    let keys: BTreeSet<&String> = a.keys().chain(b.keys()).collect();
    keys.into_iter()
        .filter(|k| a.get(*k) != b.get(*k))
        .map(|k| {
            (
                k.clone(),
                a.get(k).cloned().unwrap_or(Value::Null),
                b.get(k).cloned().unwrap_or(Value::Null),
            )
        })
        .collect()
}

pub(super) fn flatten_dotted(prefix: &str, v: &Value, out: &mut BTreeMap<String, Value>) {
    match v {
        Value::Object(m) => {
            for (k, x) in m {
                let p = if prefix.is_empty() {
                    k.clone()
                } else {
                    format!("{prefix}.{k}")
                };
                flatten_dotted(&p, x, out);
            }
        }
        other => {
            out.insert(prefix.to_string(), other.clone());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_in_both_forms_and_positionals() {
        let f = flags(&json!(["--a=1", "--b", "2", "--c", "pos"]));
        assert_eq!(f.get("a").map(String::as_str), Some("1"));
        assert_eq!(f.get("b").map(String::as_str), Some("2"));
        assert_eq!(f.get("c").map(String::as_str), Some("pos"));
        let f = flags(&json!(["serve", "--v"]));
        assert_eq!(f.get("arg[0]").map(String::as_str), Some("serve"));
        assert_eq!(f.get("v").map(String::as_str), Some("true"));
    }

    #[test]
    fn file_values_are_compared_key_by_key() {
        let ch = file_changes("a:\n  b: 1\nc: 2\n", "a:\n  b: 3\nc: 2\n");
        assert_eq!(ch.len(), 1, "{ch:?}");
        assert_eq!(ch[0].0, "a.b");
        let ch = file_changes("x=1\ny=2\n", "x=1\ny=5\n");
        assert_eq!(ch.len(), 1, "{ch:?}");
    }
}
