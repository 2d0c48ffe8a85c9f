//! `metadata.managedFields`: who wrote which field. Field sets (`fieldsV1`) are trees of path
//! elements: `f:name` (a map key), `k:{"name":"web"}` (a list item by its key fields),
//! `v:"x"` (a set item by value), `i:3` (by index), and `.` (the node itself).

use serde_json::{Map, Value};

/// One element of a managed-fields path.
#[derive(Debug, Clone, PartialEq)]
pub enum Pe {
    Field(String),
    Key(Map<String, Value>),
    Value(Value),
    Index(usize),
}

/// A field set: children by path element; `this` when the node itself is listed (`.`).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct FieldSet {
    pub this: bool,
    pub children: Vec<(Pe, FieldSet)>,
}

impl FieldSet {
    pub fn parse(v: &Value) -> FieldSet {
        let mut set = FieldSet::default();
        let Value::Object(m) = v else { return set };
        for (k, child) in m {
            if k == "." {
                set.this = true;
                continue;
            }
            let pe = if let Some(f) = k.strip_prefix("f:") {
                Pe::Field(f.to_string())
            } else if let Some(j) = k.strip_prefix("k:") {
                match serde_json::from_str::<Map<String, Value>>(j) {
                    Ok(m) => Pe::Key(m),
                    Err(_) => continue,
                }
            } else if let Some(j) = k.strip_prefix("v:") {
                match serde_json::from_str::<Value>(j) {
                    Ok(v) => Pe::Value(v),
                    Err(_) => continue,
                }
            } else if let Some(n) = k.strip_prefix("i:") {
                match n.parse() {
                    Ok(i) => Pe::Index(i),
                    Err(_) => continue,
                }
            } else {
                continue;
            };
            set.children.push((pe, FieldSet::parse(child)));
        }
        set
    }

    /// A leaf: listed with no children (an atomic value or a whole subtree).
    pub fn is_leaf(&self) -> bool {
        self.children.is_empty()
    }

    /// The child matching a JSON location: `key` in a map, or item `index` (whose value is
    /// `item`) in a list.
    fn child(&self, tok: &Tok, item: Option<&Value>) -> Option<&FieldSet> {
        self.children
            .iter()
            .find(|(pe, _)| pe_matches(pe, tok, item))
            .map(|(_, s)| s)
    }

    /// Every leaf path (nodes with no children, and nodes listed with `.`).
    pub fn leaves(&self) -> Vec<Vec<Pe>> {
        let mut out = Vec::new();
        fn walk(s: &FieldSet, prefix: &mut Vec<Pe>, out: &mut Vec<Vec<Pe>>) {
            for (pe, c) in &s.children {
                prefix.push(pe.clone());
                if c.is_leaf() {
                    out.push(prefix.clone());
                } else {
                    walk(c, prefix, out);
                }
                prefix.pop();
            }
        }
        walk(self, &mut Vec::new(), &mut out);
        out
    }
}

/// A JSON location step: a map key or a list index.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Tok {
    Key(String),
    Index(usize),
}

/// Splits a JSON pointer into steps, reading numbers as indices where the object has a list.
pub fn tokens(obj: &Value, pointer: &str) -> Vec<Tok> {
    let mut out = Vec::new();
    let mut cur = Some(obj);
    for raw in pointer.split('/').skip(1) {
        let k = raw.replace("~1", "/").replace("~0", "~");
        match cur {
            Some(Value::Array(a)) => match k.parse::<usize>() {
                Ok(i) => {
                    cur = a.get(i);
                    out.push(Tok::Index(i));
                }
                Err(_) => {
                    cur = None;
                    out.push(Tok::Key(k));
                }
            },
            Some(Value::Object(m)) => {
                cur = m.get(&k);
                out.push(Tok::Key(k));
            }
            _ => {
                cur = None;
                out.push(Tok::Key(k));
            }
        }
    }
    out
}

fn pe_matches(pe: &Pe, tok: &Tok, item: Option<&Value>) -> bool {
    match (pe, tok) {
        (Pe::Field(f), Tok::Key(k)) => f == k,
        (Pe::Index(i), Tok::Index(j)) => i == j,
        (Pe::Key(km), Tok::Index(_)) => {
            item.is_some_and(|it| km.iter().all(|(k, v)| it.get(k) == Some(v)))
        }
        (Pe::Value(v), Tok::Index(_)) => item == Some(v),
        _ => false,
    }
}

/// One entry of `metadata.managedFields`.
#[derive(Debug, Clone, PartialEq)]
pub struct Entry {
    pub manager: String,
    pub operation: String,
    pub time: Option<String>,
    pub subresource: String,
    pub set: FieldSet,
}

/// The managed-fields entries of an object.
pub fn entries(obj: &Value) -> Vec<Entry> {
    let Some(list) = obj
        .get("metadata")
        .and_then(|m| m.get("managedFields"))
        .and_then(Value::as_array)
    else {
        return Vec::new();
    };
    list.iter()
        .map(|e| {
            let st = |k: &str| e.get(k).and_then(Value::as_str).unwrap_or("").to_string();
            Entry {
                manager: st("manager"),
                operation: st("operation"),
                time: e.get("time").and_then(Value::as_str).map(str::to_string),
                subresource: st("subresource"),
                set: e.get("fieldsV1").map(FieldSet::parse).unwrap_or_default(),
            }
        })
        .collect()
}

/// Whether `set` covers the location `toks` in `obj`: exactly, or through an atomic ancestor
/// (a leaf higher up, like `f:rules` owning every rule).
pub fn covers(set: &FieldSet, obj: &Value, toks: &[Tok]) -> bool {
    let mut node = set;
    let mut cur = Some(obj);
    for (depth, t) in toks.iter().enumerate() {
        let item = match (cur, t) {
            (Some(Value::Array(a)), Tok::Index(i)) => a.get(*i),
            (Some(Value::Object(m)), Tok::Key(k)) => m.get(k),
            _ => None,
        };
        match node.child(t, item) {
            Some(c) => {
                node = c;
                cur = item;
            }
            None => return depth > 0 && node.is_leaf(),
        }
    }
    true
}

/// The manager that last wrote the location `pointer` of `obj` (the most recent entry whose set
/// covers it), if any.
pub fn owner<'a>(entries: &'a [Entry], obj: &Value, pointer: &str) -> Option<&'a Entry> {
    let toks = tokens(obj, pointer);
    entries
        .iter()
        .filter(|e| covers(&e.set, obj, &toks))
        .max_by(|a, b| a.time.cmp(&b.time))
}

/// Resolves a managed-fields path to a JSON pointer in `obj` (list items found by key).
pub fn resolve(obj: &Value, path: &[Pe]) -> Option<String> {
    let mut cur = obj;
    let mut out = String::new();
    for pe in path {
        match (pe, cur) {
            (Pe::Field(f), Value::Object(m)) => {
                cur = m.get(f)?;
                out.push('/');
                out.push_str(&f.replace('~', "~0").replace('/', "~1"));
            }
            (Pe::Key(km), Value::Array(a)) => {
                let i = a
                    .iter()
                    .position(|it| km.iter().all(|(k, v)| it.get(k) == Some(v)))?;
                cur = &a[i];
                out.push_str(&format!("/{i}"));
            }
            (Pe::Value(v), Value::Array(a)) => {
                let i = a.iter().position(|it| it == v)?;
                cur = &a[i];
                out.push_str(&format!("/{i}"));
            }
            (Pe::Index(i), Value::Array(a)) => {
                cur = a.get(*i)?;
                out.push_str(&format!("/{i}"));
            }
            _ => return None,
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn obj() -> Value {
        json!({
            "metadata": {"managedFields": [
                {"manager": "argocd", "operation": "Update", "time": "2026-01-01T00:00:00Z", "fieldsV1": {
                    "f:spec": {"f:replicas": {}, "f:rules": {}, "f:template": {"f:spec": {"f:containers": {
                        "k:{\"name\":\"web\"}": {".": {}, "f:image": {}, "f:name": {}}}}}}}},
                {"manager": "kubectl-scale", "operation": "Update", "subresource": "scale", "time": "2026-01-02T00:00:00Z", "fieldsV1": {
                    "f:spec": {"f:replicas": {}}}}
            ]},
            "spec": {"replicas": 4, "rules": [{"verbs": ["get"]}], "template": {"spec": {"containers": [{"name": "web", "image": "a"}]}}}
        })
    }

    #[test]
    fn owners_by_time_and_key() {
        let o = obj();
        let e = entries(&o);
        assert_eq!(
            owner(&e, &o, "/spec/replicas").unwrap().manager,
            "kubectl-scale"
        );
        assert_eq!(
            owner(&e, &o, "/spec/template/spec/containers/0/image")
                .unwrap()
                .manager,
            "argocd"
        );
        assert_eq!(
            owner(&e, &o, "/spec/rules/0/verbs/0").unwrap().manager,
            "argocd",
            "atomic ancestor"
        );
        assert!(owner(&e, &o, "/spec/missing").is_none());
        assert!(owner(&e, &o, "/status/x").is_none());
    }

    #[test]
    fn leaves_resolve_to_pointers() {
        let o = obj();
        let e = entries(&o);
        let leaves = e[0].set.leaves();
        let ptrs: Vec<String> = leaves.iter().filter_map(|l| resolve(&o, l)).collect();
        assert!(ptrs.contains(&"/spec/replicas".to_string()));
        assert!(ptrs.contains(&"/spec/template/spec/containers/0/image".to_string()));
    }

    #[test]
    fn garbage_is_ignored() {
        let s = FieldSet::parse(&json!({"k:not json": {}, "x:y": {}, "f:a": 3}));
        assert_eq!(s.children.len(), 1);
        assert!(entries(&json!({"metadata": {"managedFields": "nope"}})).is_empty());
    }
}
