//! Secrets masked before facts exist: Secret data and annotations, credential-like
//! ConfigMap keys, environment variables and command-line arguments (what the model, the
//! journal, exports and logs see).

use super::*;

/// The scenario with every secret value masked (Secret data and string data, the last-applied
/// copy of them, credential-like ConfigMap keys and environment variables): what the journal
/// may keep. Field managers and everything else stay, so the scenario still decides the same.
pub fn sanitize(sc: &Scenario, tuning: &Tuning) -> Scenario {
    let mut out = sc.clone();
    for r in &mut out.resources {
        for obj in [r.desired.as_mut(), r.live.as_mut()].into_iter().flatten() {
            if obj.get("kind").and_then(Value::as_str) == Some("Secret") {
                let managed = obj.pointer("/metadata/managedFields").cloned();
                let created = obj.pointer("/metadata/creationTimestamp").cloned();
                diff::normalize::builtin(obj, false);
                if let Some(meta) = obj.get_mut("metadata").and_then(Value::as_object_mut) {
                    if let Some(m) = managed {
                        meta.insert("managedFields".into(), m);
                    }
                    if let Some(c) = created {
                        meta.insert("creationTimestamp".into(), c);
                    }
                }
            }
        }
        diff::normalize::hide_secret_data(r.desired.as_mut(), r.live.as_mut());
        mask_credentials(r.desired.as_mut(), r.live.as_mut(), tuning);
    }
    out
}

/// Masks the values of credential-like ConfigMap keys and environment variables the way
/// Argo CD masks Secret data: equal values get equal runs of `+`, different values different
/// lengths. Returns the masked keys.
pub(super) fn mask_credentials(
    desired: Option<&mut Value>,
    live: Option<&mut Value>,
    tuning: &Tuning,
) -> BTreeSet<String> {
    let mut masked = BTreeSet::new();
    let mut runs: BTreeMap<String, String> = BTreeMap::new();
    let mask = |v: &mut Value, runs: &mut BTreeMap<String, String>| {
        if let Value::String(s) = v {
            *v = Value::String(mask_run(s, runs));
        }
    };
    for obj in [desired, live].into_iter().flatten() {
        let kind = s(obj.get("kind"));
        // Annotations on a Secret hold tokens as often as its data does
        // (`vault.hashicorp.com/token`, a last-applied copy of the data): every value goes.
        if kind == "Secret"
            && let Some(ann) = obj
                .pointer_mut("/metadata/annotations")
                .and_then(Value::as_object_mut)
        {
            for (k, v) in ann.iter_mut() {
                masked.insert(k.clone());
                mask(v, &mut runs);
            }
        }
        if kind == "ConfigMap"
            && let Some(data) = obj.get_mut("data").and_then(Value::as_object_mut)
        {
            for (k, v) in data.iter_mut() {
                if tuning.credential_key.is_match(k) {
                    masked.insert(k.clone());
                    mask(v, &mut runs);
                }
            }
        }
        for spec in [
            "/spec/template/spec",
            "/spec/jobTemplate/spec/template/spec",
            "/spec",
        ] {
            let Some(pod) = obj.pointer_mut(spec) else {
                continue;
            };
            for list in ["containers", "initContainers"] {
                let Some(cs) = pod.get_mut(list).and_then(Value::as_array_mut) else {
                    continue;
                };
                for c in cs {
                    for field in ["command", "args"] {
                        if let Some(list) = c.get_mut(field).and_then(Value::as_array_mut) {
                            mask_arguments(list, tuning, &mut runs, &mut masked);
                        }
                    }
                    let Some(env) = c.get_mut("env").and_then(Value::as_array_mut) else {
                        continue;
                    };
                    for e in env {
                        let name = s(e.get("name"));
                        if tuning.credential_key.is_match(&name)
                            && let Some(v) = e.get_mut("value")
                        {
                            masked.insert(name);
                            mask(v, &mut runs);
                        }
                    }
                }
            }
        }
    }
    masked
}

/// The mask of a value: equal values get equal runs of `+`, different values different lengths.
pub(super) fn mask_run(value: &str, runs: &mut BTreeMap<String, String>) -> String {
    let n = runs.len();
    runs.entry(value.to_string())
        .or_insert_with(|| "+".repeat(8 + 4 * n))
        .clone()
}

/// Masks the values of credential-like command-line arguments: `--db-password=VALUE`,
/// `--api-token VALUE` (two items), `-p VALUE`, and the same inside a shell command string
/// (`sh -c "mysql --password=VALUE"`). A flag is credential-like when its name matches the
/// tuning's `credential_key`.
pub(super) fn mask_arguments(
    list: &mut [Value],
    tuning: &Tuning,
    runs: &mut BTreeMap<String, String>,
    masked: &mut BTreeSet<String>,
) {
    static IN_TEXT: std::sync::OnceLock<regex::Regex> = std::sync::OnceLock::new();
    let in_text = IN_TEXT
        .get_or_init(|| re(r#"(^|\s)(--?[A-Za-z0-9_.-]+)(=|\s+)("[^"]*"|'[^']*'|[^\s"']+)"#));
    let secret_flag = |flag: &str| {
        let name = flag.trim_start_matches('-');
        !name.is_empty() && (name == "p" || tuning.credential_key.is_match(name))
    };
    // `-p` is a password to mysql and a port to others: its value is masked, but only a
    // credential-like name makes the change a credential's.
    let note = |flag: &str, masked: &mut BTreeSet<String>| {
        let name = flag.trim_start_matches('-');
        if tuning.credential_key.is_match(name) {
            masked.insert(name.to_string());
        }
    };
    let mut next_is_value: Option<String> = None;
    for item in list.iter_mut() {
        let Value::String(text) = item else {
            next_is_value = None;
            continue;
        };
        if let Some(flag) = next_is_value.take()
            && !text.starts_with('-')
        {
            note(&flag, masked);
            *text = mask_run(text, runs);
            continue;
        }
        if text.starts_with('-') && !text.contains(char::is_whitespace) {
            match text.split_once('=') {
                Some((flag, value)) if secret_flag(flag) && !value.is_empty() => {
                    note(flag, masked);
                    *text = format!("{flag}={}", mask_run(value, runs));
                }
                None if secret_flag(text) => {
                    next_is_value = Some(text.trim_start_matches('-').to_string());
                }
                _ => {}
            }
            continue;
        }
        if text.contains(char::is_whitespace) && in_text.is_match(text) {
            let mut out = String::with_capacity(text.len());
            let mut last = 0;
            let mut pos = 0;
            // After a flag that is not a credential the search goes on right after the flag,
            // not after its value: `sh -c 'mysql --password=V'` has a credential inside the
            // value of `-c`.
            while let Some(cap) = in_text.captures_at(text, pos) {
                let (Some(flag), Some(value)) = (cap.get(2), cap.get(4)) else {
                    break;
                };
                if !secret_flag(flag.as_str()) {
                    pos = flag.end();
                    continue;
                }
                note(flag.as_str(), masked);
                out.push_str(&text[last..value.start()]);
                out.push_str(&mask_run(value.as_str(), runs));
                last = value.end();
                pos = value.end();
            }
            out.push_str(&text[last..]);
            *text = out;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tuning() -> Tuning {
        Tuning::builtin()
    }

    #[test]
    fn credential_arguments_are_masked_in_every_form() {
        let mut list = vec![
            json!("--db-password=hunter2"),
            json!("--api-token"),
            json!("t0ken"),
            json!("-p"),
            json!("port-or-password"),
            json!("sh -c 'mysql --password=s3cret -h db'"),
            json!("--port=8080"),
        ];
        let (mut runs, mut masked) = (BTreeMap::new(), BTreeSet::new());
        mask_arguments(&mut list, &tuning(), &mut runs, &mut masked);
        let text = serde_json::to_string(&list).unwrap();
        for secret in ["hunter2", "t0ken", "port-or-password", "s3cret"] {
            assert!(!text.contains(secret), "{secret} in {text}");
        }
        assert!(text.contains("--port=8080"), "{text}");
        assert!(masked.contains("db-password") && masked.contains("api-token"));
        assert!(
            !masked.contains("p"),
            "-p is masked but not called a credential"
        );
    }

    #[test]
    fn equal_values_get_equal_masks() {
        let mut runs = BTreeMap::new();
        let a = mask_run("x", &mut runs);
        let b = mask_run("y", &mut runs);
        assert_eq!(a, mask_run("x", &mut runs));
        assert_ne!(a, b);
    }
}
