//! Reading objects from files for the headless commands: JSON or YAML, one object per file,
//! with an error that names the file and says what is wrong.

use std::path::Path;

use serde_json::Value;

use crate::model::app::ResourceIgnoreDifferences;

pub use crate::file_error::FileError;

fn problem(path: &Path, message: impl Into<String>) -> FileError {
    FileError::new(path, None, message)
}

/// Reads the documents of a JSON or YAML file (`-` is standard input).
pub fn documents(path: &Path) -> Result<Vec<Value>, FileError> {
    use crate::limits;
    // At most the limit is read (`--live /dev/zero` is refused, not read whole).
    let bytes = if path == Path::new("-") {
        limits::read_capped(std::io::stdin())
            .map_err(|e| problem(path, format!("(standard input) {e}")))?
    } else {
        limits::read_file(path).map_err(|e| problem(path, e))?
    };
    let text = String::from_utf8(bytes)
        .map_err(|_| problem(path, "is not text (binary data?); give a JSON or YAML file"))?;
    if text.trim().is_empty() {
        return Err(problem(path, "is empty; give a JSON or YAML object"));
    }
    if text.contains('\0') {
        return Err(problem(
            path,
            "contains NUL bytes (binary data?); give a JSON or YAML file",
        ));
    }
    // The YAML parser's work grows with the square of the nesting: refuse a deep file first.
    limits::check_yaml(&text, "the file").map_err(|e| problem(path, e))?;
    let trimmed = text.trim_start();
    if trimmed.starts_with('{') || trimmed.starts_with('[') {
        return match serde_json::from_str::<Value>(&text) {
            Ok(v) => Ok(vec![v]),
            Err(e) => Err(problem(
                path,
                format!(
                    "is not valid JSON (line {}, column {}): {e}",
                    e.line(),
                    e.column()
                ),
            )),
        };
    }
    let mut docs = Vec::new();
    for (i, de) in serde_yaml::Deserializer::from_str(&text).enumerate() {
        match <serde_yaml::Value as serde::Deserialize>::deserialize(de) {
            Ok(v) => {
                let j: Value = serde_json::to_value(v).map_err(|e| {
                    problem(
                        path,
                        format!("document {} cannot be read as JSON data: {e}", i + 1),
                    )
                })?;
                if !j.is_null() {
                    docs.push(j);
                }
            }
            Err(e) => return Err(problem(path, format!("is not valid YAML: {e}"))),
        }
    }
    Ok(docs)
}

/// Reads exactly one Kubernetes object (`null` reads as absent).
pub fn object(path: &Path) -> Result<Option<Value>, FileError> {
    let docs = documents(path)?;
    match docs.len() {
        0 => Ok(None),
        1 => {
            let v = docs.into_iter().next().unwrap_or_default();
            if !v.is_object() {
                return Err(problem(
                    path,
                    "holds a list or a scalar, not a Kubernetes object",
                ));
            }
            if v.get("kind")
                .and_then(Value::as_str)
                .is_none_or(str::is_empty)
            {
                return Err(problem(path, "has no `kind`: is it a Kubernetes object?"));
            }
            Ok(Some(v))
        }
        n => Err(problem(
            path,
            format!("holds {n} YAML documents; give one object per file"),
        )),
    }
}

/// Reads ignoreDifferences rules: a list, `{ignoreDifferences: [...]}`, or an Application.
pub fn ignore_differences(path: &Path) -> Result<Vec<ResourceIgnoreDifferences>, FileError> {
    let docs = documents(path)?;
    let [v] = docs.as_slice() else {
        return Err(problem(path, "give one list of ignoreDifferences entries"));
    };
    let list = v
        .get("ignoreDifferences")
        .or_else(|| v.get("spec").and_then(|s| s.get("ignoreDifferences")))
        .unwrap_or(v);
    serde_json::from_value(list.clone()).map_err(|e| {
        problem(
            path,
            format!("is not a list of ignoreDifferences entries (group, kind, name, namespace, jsonPointers, jqPathExpressions, managedFieldsManagers): {e}"),
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(dir: &tempfile::TempDir, name: &str, bytes: &[u8]) -> std::path::PathBuf {
        let p = dir.path().join(name);
        std::fs::write(&p, bytes).unwrap();
        p
    }

    #[test]
    fn bad_files_say_why() {
        let d = tempfile::tempdir().unwrap();
        let cases: Vec<(&str, &[u8], &str)> = vec![
            (
                "trunc.json",
                b"{\"kind\": \"Pod\", \"metadata\": {",
                "not valid JSON",
            ),
            ("bin", b"\x00\x01\x02\xff", "not text"),
            ("multi.yaml", b"kind: A\n---\nkind: B\n", "2 YAML documents"),
            ("nokind.yaml", b"metadata:\n  name: x\n", "no `kind`"),
            ("empty.yaml", b"  \n", "is empty"),
            ("list.yaml", b"- a\n- b\n", "not a Kubernetes object"),
            ("bad.yaml", b"a: [1, 2\nb: }", "not valid YAML"),
        ];
        for (name, bytes, want) in cases {
            let p = write(&d, name, bytes);
            let e = object(&p).unwrap_err();
            assert!(e.to_string().contains(want), "{name}: {e}");
            assert!(
                e.to_string().starts_with(&p.display().to_string()),
                "names the file: {e}"
            );
        }
        let ok = write(&d, "ok.yaml", b"apiVersion: v1\nkind: ConfigMap\n");
        assert!(object(&ok).unwrap().is_some());
        let null = write(&d, "null.yaml", b"null\n");
        assert!(object(&null).unwrap().is_none());
    }

    #[test]
    fn ignore_differences_in_three_shapes() {
        let d = tempfile::tempdir().unwrap();
        for text in [
            "- kind: Deployment\n  jsonPointers: [/spec/replicas]\n",
            "ignoreDifferences:\n- kind: Deployment\n  jsonPointers: [/spec/replicas]\n",
            "apiVersion: argoproj.io/v1alpha1\nkind: Application\nspec:\n  ignoreDifferences:\n  - kind: Deployment\n    jsonPointers: [/spec/replicas]\n",
        ] {
            let p = write(&d, "i.yaml", text.as_bytes());
            let r = ignore_differences(&p).unwrap();
            assert_eq!(r[0].json_pointers, vec!["/spec/replicas"]);
        }
        let p = write(&d, "bad.yaml", b"- kind: 3\n  jsonPointers: nope\n");
        assert!(
            ignore_differences(&p)
                .unwrap_err()
                .to_string()
                .contains("not a list of ignoreDifferences")
        );
    }
}
