//! JSON merge patch (RFC 7386) and JSON patch (RFC 6902), as the demo API server applies them to
//! Applications and live objects.

use serde_json::Value;

/// Applies a merge patch: objects merge key by key, `null` deletes, anything else replaces.
pub fn merge(target: &mut Value, patch: &Value) {
    let Value::Object(p) = patch else {
        *target = patch.clone();
        return;
    };
    if !target.is_object() {
        *target = Value::Object(Default::default());
    }
    let Value::Object(t) = target else { return };
    for (k, v) in p {
        if v.is_null() {
            t.shift_remove(k);
        } else {
            merge(t.entry(k.clone()).or_insert(Value::Null), v);
        }
    }
}

fn unescape(tok: &str) -> String {
    tok.replace("~1", "/").replace("~0", "~")
}

/// Splits a JSON pointer into the parent's pointer and the last token.
fn split(path: &str) -> Result<(&str, String), String> {
    if !path.starts_with('/') {
        return Err(format!("the path {path:?} is not a JSON pointer"));
    }
    let i = path.rfind('/').unwrap_or(0);
    Ok((&path[..i], unescape(&path[i + 1..])))
}

/// Applies a JSON patch (`add`, `remove`, `replace`, `test`, `copy`, `move`); on any error
/// the target is left unchanged.
pub fn json_patch(target: &mut Value, ops: &Value) -> Result<(), String> {
    let ops = ops
        .as_array()
        .ok_or("a JSON patch is an array of operations")?;
    let mut doc = target.clone();
    for op in ops {
        let kind = op["op"].as_str().ok_or("an operation has no \"op\"")?;
        let path = op["path"].as_str().ok_or("an operation has no \"path\"")?;
        match kind {
            "add" | "replace" => {
                let v = op.get("value").ok_or("add and replace need a \"value\"")?;
                set(&mut doc, path, v.clone(), kind == "add")?;
            }
            "remove" => {
                remove(&mut doc, path)?;
            }
            "test" => {
                let v = op.get("value").ok_or("test needs a \"value\"")?;
                if doc.pointer(path) != Some(v) {
                    return Err(format!("test failed at {path}"));
                }
            }
            "copy" | "move" => {
                let from = op["from"].as_str().ok_or("copy and move need \"from\"")?;
                let v = doc
                    .pointer(from)
                    .cloned()
                    .ok_or_else(|| format!("nothing at {from}"))?;
                if kind == "move" {
                    remove(&mut doc, from)?;
                }
                set(&mut doc, path, v, true)?;
            }
            other => return Err(format!("unknown operation {other:?}")),
        }
    }
    *target = doc;
    Ok(())
}

fn set(doc: &mut Value, path: &str, v: Value, add: bool) -> Result<(), String> {
    if path.is_empty() {
        *doc = v;
        return Ok(());
    }
    let (parent, last) = split(path)?;
    let p = doc
        .pointer_mut(parent)
        .ok_or_else(|| format!("the parent of {path} does not exist"))?;
    match p {
        Value::Object(m) => {
            if !add && !m.contains_key(&last) {
                return Err(format!("nothing to replace at {path}"));
            }
            m.insert(last, v);
        }
        Value::Array(a) => {
            let i = if last == "-" {
                a.len()
            } else {
                last.parse::<usize>()
                    .map_err(|_| format!("{last:?} is not an array index"))?
            };
            if add && i <= a.len() {
                a.insert(i, v);
            } else if !add && i < a.len() {
                a[i] = v;
            } else {
                return Err(format!("index {i} is out of range at {path}"));
            }
        }
        _ => return Err(format!("the parent of {path} is not an object or array")),
    }
    Ok(())
}

fn remove(doc: &mut Value, path: &str) -> Result<(), String> {
    let (parent, last) = split(path)?;
    let p = doc
        .pointer_mut(parent)
        .ok_or_else(|| format!("the parent of {path} does not exist"))?;
    let gone = match p {
        Value::Object(m) => m.shift_remove(&last).is_some(),
        Value::Array(a) => match last.parse::<usize>() {
            Ok(i) if i < a.len() => {
                a.remove(i);
                true
            }
            _ => false,
        },
        _ => false,
    };
    if gone {
        Ok(())
    } else {
        Err(format!("nothing to remove at {path}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn merge_patch_rfc7386_examples() {
        let mut t = json!({"a": "b", "c": {"d": "e", "f": "g"}});
        merge(&mut t, &json!({"a": "z", "c": {"f": null}}));
        assert_eq!(t, json!({"a": "z", "c": {"d": "e"}}));
        let mut t = json!({"a": [1, 2]});
        merge(&mut t, &json!({"a": [3]}));
        assert_eq!(t, json!({"a": [3]}));
    }

    #[test]
    fn json_patch_ops_and_atomicity() {
        let mut t = json!({"spec": {"syncPolicy": {"automated": {"selfHeal": true}}}, "l": [1, 2]});
        json_patch(
            &mut t,
            &json!([
                {"op": "replace", "path": "/spec/syncPolicy/automated/selfHeal", "value": false},
                {"op": "add", "path": "/l/-", "value": 3},
                {"op": "remove", "path": "/l/0"}
            ]),
        )
        .unwrap();
        assert_eq!(
            t,
            json!({"spec": {"syncPolicy": {"automated": {"selfHeal": false}}}, "l": [2, 3]})
        );
        let before = t.clone();
        assert!(
            json_patch(
                &mut t,
                &json!([{"op": "add", "path": "/x", "value": 1}, {"op": "remove", "path": "/nope"}])
            )
            .is_err()
        );
        assert_eq!(t, before);
    }
}
