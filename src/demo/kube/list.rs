//! Lists as a kube-apiserver answers them: field selectors limited to the fields each kind
//! indexes (anything else is 400), and `limit`/`continue` paging with tokens that expire with
//! the history window (410).

use serde_json::{Value, json};

use super::Kind;

/// One term of a field selector.
#[derive(Debug, Clone, PartialEq)]
pub struct Term {
    pub field: String,
    pub value: String,
    pub equal: bool,
}

/// The fields a kind can be selected by, beyond `metadata.name` and `metadata.namespace`
/// (the real server's field label conversions).
fn fields_of(kind: &str) -> &'static [&'static str] {
    match kind {
        "Pod" => &[
            "spec.nodeName",
            "spec.restartPolicy",
            "spec.schedulerName",
            "spec.serviceAccountName",
            "spec.hostNetwork",
            "status.phase",
            "status.podIP",
            "status.podIPs",
            "status.nominatedNodeName",
        ],
        "Event" => &[
            "involvedObject.kind",
            "involvedObject.namespace",
            "involvedObject.name",
            "involvedObject.uid",
            "involvedObject.apiVersion",
            "involvedObject.resourceVersion",
            "involvedObject.fieldPath",
            "reason",
            "reportingComponent",
            "source",
            "type",
        ],
        "Secret" => &["type"],
        "Namespace" => &["status.phase"],
        "ReplicaSet" => &["status.replicas"],
        "Job" => &["status.successful"],
        _ => &[],
    }
}

/// Parses a field selector for `kind`; a field the kind does not index is the real server's
/// 400 message.
pub fn field_selector(kind: &Kind, sel: Option<&str>) -> Result<Vec<Term>, String> {
    let Some(sel) = sel.map(str::trim).filter(|s| !s.is_empty()) else {
        return Ok(vec![]);
    };
    let mut out = Vec::new();
    for term in sel.split(',') {
        let (field, value, equal) = if let Some((k, w)) = term.split_once("!=") {
            (k, w, false)
        } else if let Some((k, w)) = term.split_once("==") {
            (k, w, true)
        } else if let Some((k, w)) = term.split_once('=') {
            (k, w, true)
        } else {
            return Err(format!(
                "invalid selector: '{sel}'; can't understand '{term}'"
            ));
        };
        let field = field.trim();
        if !matches!(field, "metadata.name" | "metadata.namespace")
            && !fields_of(kind.kind).contains(&field)
        {
            return Err(format!("field label not supported: {field}"));
        }
        out.push(Term {
            field: field.to_string(),
            value: value.trim().to_string(),
            equal,
        });
    }
    Ok(out)
}

/// The value of a selectable field, as the server compares it (a string; a missing field
/// is the empty string).
fn field_value(v: &Value, field: &str) -> String {
    let path = match field {
        "source" => "source.component",
        "status.podIPs" => "status.podIP",
        f => f,
    };
    let mut cur = v;
    for part in path.split('.') {
        cur = &cur[part];
    }
    match cur {
        Value::String(s) => s.clone(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => n.to_string(),
        _ => String::new(),
    }
}

/// Whether an object matches every term.
pub fn fields_match(v: &Value, terms: &[Term]) -> bool {
    terms
        .iter()
        .all(|t| (field_value(v, &t.field) == t.value) == t.equal)
}

fn b64() -> base64::engine::GeneralPurpose {
    base64::engine::general_purpose::URL_SAFE
}

/// A continue token: the list's version and the key after which the next page starts.
pub fn continue_token(rv: u64, last_key: &str) -> String {
    use base64::Engine;
    b64().encode(
        serde_json::to_vec(
            &json!({"v": "meta.k8s.io/v1", "rv": rv, "start": format!("{last_key}\u{0}")}),
        )
        .unwrap_or_default(),
    )
}

/// A continue token's version and start key, or the server's 400 message.
pub fn parse_continue(token: &str) -> Result<(u64, String), String> {
    use base64::Engine;
    let bytes = b64()
        .decode(token)
        .map_err(|_| "continue key is not valid: illegal base64 data".to_string())?;
    let v: Value = serde_json::from_slice(&bytes)
        .map_err(|_| "continue key is not valid: incorrect encoded start resourceVersion (version meta.k8s.io/v1)".to_string())?;
    match (v["v"].as_str(), v["rv"].as_u64(), v["start"].as_str()) {
        (Some("meta.k8s.io/v1"), Some(rv), Some(start)) if rv > 0 => Ok((rv, start.to_string())),
        _ => {
            Err("continue key is not valid: server does not recognize this encoded version".into())
        }
    }
}

/// The message of a 410 for an expired continue token.
pub const CONTINUE_EXPIRED: &str = "The provided continue parameter is too old to display a consistent list result. You can start a new list without the continue parameter, or use the continue token in this response to retrieve the remainder of the results. Continuing with the provided token results in an inconsistent list - objects that were created, modified, or deleted between the time the first chunk was returned and now may show up in the list.";

/// The sort key of a list item (namespace, then name), as the server's storage orders keys.
pub fn item_key(v: &Value) -> String {
    let ns = v["metadata"]["namespace"].as_str().unwrap_or("");
    let name = v["metadata"]["name"].as_str().unwrap_or("");
    if ns.is_empty() {
        name.to_string()
    } else {
        format!("{ns}/{name}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn field_selectors_are_limited_to_what_each_kind_indexes() {
        let pod = super::super::KINDS
            .iter()
            .find(|k| k.kind == "Pod")
            .unwrap();
        let cm = super::super::KINDS
            .iter()
            .find(|k| k.kind == "ConfigMap")
            .unwrap();
        assert!(field_selector(pod, Some("status.phase=Running")).is_ok());
        assert_eq!(
            field_selector(cm, Some("status.phase=Running")).unwrap_err(),
            "field label not supported: status.phase"
        );
        assert!(field_selector(cm, Some("phase")).is_err());
        let terms = field_selector(pod, Some("status.phase!=Running,spec.nodeName=n1")).unwrap();
        let v = json!({"status": {"phase": "Pending"}, "spec": {"nodeName": "n1"}});
        assert!(fields_match(&v, &terms));
    }

    #[test]
    fn continue_tokens_round_trip_and_garbage_is_refused() {
        let t = continue_token(200_123, "ns/a");
        assert_eq!(
            parse_continue(&t).unwrap(),
            (200_123, "ns/a\u{0}".to_string())
        );
        assert!(parse_continue("!!").is_err());
        assert!(parse_continue("e30=").is_err());
    }
}
