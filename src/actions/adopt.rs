//! Adopt: for drift that is allowed to stay, what would make Git agree with live: the
//! `ignoreDifferences` entries that make Argo CD stop reporting it, and the patch to the
//! manifests in Git that records it. driftdeck never writes to Git; the operator commits.

use serde::Serialize;
use serde_json::{Value, json};

/// The two ways to adopt a drift.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Adoption {
    /// YAML to put under the Application's `spec.ignoreDifferences`.
    pub ignore_differences: String,
    /// A unified diff of the manifests in Git that makes them match live.
    pub patch: String,
    /// How many resources differ.
    pub resources: usize,
}

const TRACKING: &str = "argocd.argoproj.io/tracking-id";

/// Sets `v` at a JSON pointer, creating objects on the way (`None` removes).
fn set_pointer(doc: &mut Value, path: &str, v: Option<&Value>) {
    let toks: Vec<String> = path
        .split('/')
        .skip(1)
        .map(|t| t.replace("~1", "/").replace("~0", "~"))
        .collect();
    let Some((last, parents)) = toks.split_last() else {
        return;
    };
    let mut cur = doc;
    for t in parents {
        let next = match cur {
            Value::Object(m) => m.entry(t.clone()).or_insert_with(|| json!({})),
            Value::Array(a) => match t.parse::<usize>().ok().and_then(|i| a.get_mut(i)) {
                Some(x) => x,
                None => return,
            },
            _ => return,
        };
        cur = next;
    }
    match (cur, v) {
        (Value::Object(m), Some(v)) => {
            m.insert(last.clone(), v.clone());
        }
        (Value::Object(m), None) => {
            m.shift_remove(last);
        }
        (Value::Array(a), v) => {
            if let Ok(i) = last.parse::<usize>() {
                match v {
                    Some(v) if i < a.len() => a[i] = v.clone(),
                    Some(v) if i == a.len() => a.push(v.clone()),
                    None if i < a.len() => {
                        a.remove(i);
                    }
                    _ => {}
                }
            }
        }
        _ => {}
    }
}

fn strip(mut v: Value) -> Value {
    if let Some(a) = v["metadata"]["annotations"].as_object_mut() {
        a.shift_remove(TRACKING);
        if a.is_empty()
            && let Some(m) = v["metadata"].as_object_mut()
        {
            m.shift_remove("annotations");
        }
    }
    v
}

/// The adoption of an app's drift from its managed resources (as Argo CD reports them).
pub fn adoption(items: &[crate::model::app::ManagedResource]) -> Result<Adoption, String> {
    let diffs = crate::diff::from_managed(items)?;
    let mut entries = Vec::new();
    let mut patch = String::new();
    let mut n = 0;
    for (item, d) in items.iter().zip(&diffs) {
        if !d.modified {
            continue;
        }
        let target: Option<Value> = serde_json::from_str(&item.target_state)
            .ok()
            .filter(|v: &Value| !v.is_null());
        let Some(target) = target else {
            // Not in Git: adopting it means adding it to Git.
            n += 1;
            if let Some(live) = &d.live {
                let file = format!("{}/{}-{}.yaml", d.id.namespace, d.id.kind, d.id.name);
                let text = crate::diff::yaml::render(&strip(live.clone()));
                patch.push_str(&unified("", &text, "/dev/null", &format!("b/{file}")));
            }
            continue;
        };
        if d.live.is_none() {
            continue; // missing live: adopting a deletion is a removal from Git, left to a human
        }
        n += 1;
        let pointers: Vec<&str> = d.changes.iter().map(|c| c.path.as_str()).collect();
        let mut e = serde_json::Map::new();
        if !d.id.group.is_empty() {
            e.insert("group".into(), json!(d.id.group));
        }
        e.insert("kind".into(), json!(d.id.kind));
        e.insert("name".into(), json!(d.id.name));
        if !d.id.namespace.is_empty() {
            e.insert("namespace".into(), json!(d.id.namespace));
        }
        e.insert("jsonPointers".into(), json!(pointers));
        entries.push(Value::Object(e));
        let before = strip(target.clone());
        let mut after = before.clone();
        for c in &d.changes {
            set_pointer(&mut after, &c.path, c.live.as_ref());
        }
        let file = format!("{}/{}-{}.yaml", d.id.namespace, d.id.kind, d.id.name);
        patch.push_str(&unified(
            &crate::diff::yaml::render(&before),
            &crate::diff::yaml::render(&after),
            &format!("a/{file}"),
            &format!("b/{file}"),
        ));
    }
    let ignore = if entries.is_empty() {
        String::new()
    } else {
        format!(
            "# under spec: of the Application\nignoreDifferences:\n{}",
            entries
                .iter()
                .map(|e| {
                    let y = crate::diff::yaml::render(e);
                    let mut lines = y.lines();
                    let first = lines.next().unwrap_or("");
                    let mut s = format!("- {first}\n");
                    for l in lines {
                        s.push_str(&format!("  {l}\n"));
                    }
                    s
                })
                .collect::<String>()
        )
    };
    Ok(Adoption {
        ignore_differences: ignore,
        patch,
        resources: n,
    })
}

fn unified(old: &str, new: &str, a: &str, b: &str) -> String {
    similar::TextDiff::from_lines(old, new)
        .unified_diff()
        .context_radius(3)
        .header(a, b)
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pointer_setting() {
        let mut v = json!({"spec": {"replicas": 2, "l": [1, 2]}});
        set_pointer(&mut v, "/spec/replicas", Some(&json!(5)));
        set_pointer(&mut v, "/spec/l/1", None);
        set_pointer(&mut v, "/data/a~1b", Some(&json!("x")));
        assert_eq!(
            v,
            json!({"spec": {"replicas": 5, "l": [1]}, "data": {"a/b": "x"}})
        );
    }
}
