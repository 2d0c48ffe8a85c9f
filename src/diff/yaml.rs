//! A deterministic YAML rendering of JSON values, the way `kubectl get -o yaml` shows objects:
//! keys sorted, block style, sequences at their key's indentation, strings quoted only when they
//! would otherwise read as something else. Each line knows the JSON pointer it shows, so a diff
//! line can be traced back to a path (and to the field manager that wrote it).

use serde_json::Value;

/// One rendered line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct YamlLine {
    pub text: String,
    /// JSON pointer of the value this line belongs to (`/spec/replicas`).
    pub path: String,
}

/// Renders a value as YAML text (a trailing newline after the last line).
pub fn render(v: &Value) -> String {
    let mut out = String::new();
    for l in render_lines(v) {
        out.push_str(&l.text);
        out.push('\n');
    }
    out
}

/// Renders a value as YAML lines.
pub fn render_lines(v: &Value) -> Vec<YamlLine> {
    let mut out = Vec::new();
    match v {
        Value::Object(m) if !m.is_empty() => emit_map(v, 0, "", &mut out),
        Value::Array(a) if !a.is_empty() => emit_seq(v, 0, "", &mut out),
        other => {
            for text in scalar(other, 2) {
                out.push(YamlLine {
                    text,
                    path: String::new(),
                });
            }
        }
    }
    out
}

fn escape_pointer(k: &str) -> String {
    k.replace('~', "~0").replace('/', "~1")
}

fn indent(n: usize) -> String {
    " ".repeat(n)
}

fn emit_map(v: &Value, ind: usize, path: &str, out: &mut Vec<YamlLine>) {
    let Value::Object(m) = v else { return };
    let mut keys: Vec<&String> = m.keys().collect();
    keys.sort();
    for k in keys {
        let val = &m[k];
        let p = format!("{path}/{}", escape_pointer(k));
        let key = key_text(k);
        match val {
            Value::Object(c) if !c.is_empty() => {
                out.push(YamlLine {
                    text: format!("{}{key}:", indent(ind)),
                    path: p.clone(),
                });
                emit_map(val, ind + 2, &p, out);
            }
            Value::Array(a) if !a.is_empty() => {
                out.push(YamlLine {
                    text: format!("{}{key}:", indent(ind)),
                    path: p.clone(),
                });
                emit_seq(val, ind, &p, out);
            }
            _ => {
                let lines = scalar(val, ind + 2);
                let mut it = lines.into_iter();
                let first = it.next().unwrap_or_default();
                out.push(YamlLine {
                    text: format!("{}{key}: {first}", indent(ind)),
                    path: p.clone(),
                });
                for rest in it {
                    out.push(YamlLine {
                        text: rest,
                        path: p.clone(),
                    });
                }
            }
        }
    }
}

fn emit_seq(v: &Value, ind: usize, path: &str, out: &mut Vec<YamlLine>) {
    let Value::Array(items) = v else { return };
    for (i, item) in items.iter().enumerate() {
        let p = format!("{path}/{i}");
        match item {
            Value::Object(c) if !c.is_empty() => {
                // The first key goes on the dash line.
                let mut sub = Vec::new();
                emit_map(item, ind + 2, &p, &mut sub);
                for (j, mut l) in sub.into_iter().enumerate() {
                    if j == 0 {
                        l.text = format!("{}- {}", indent(ind), &l.text[ind + 2..]);
                    }
                    out.push(l);
                }
            }
            Value::Array(a) if !a.is_empty() => {
                out.push(YamlLine {
                    text: format!("{}-", indent(ind)),
                    path: p.clone(),
                });
                emit_seq(item, ind + 2, &p, out);
            }
            _ => {
                let lines = scalar(item, ind + 2);
                let mut it = lines.into_iter();
                let first = it.next().unwrap_or_default();
                out.push(YamlLine {
                    text: format!("{}- {first}", indent(ind)),
                    path: p.clone(),
                });
                for rest in it {
                    out.push(YamlLine {
                        text: rest,
                        path: p.clone(),
                    });
                }
            }
        }
    }
}

fn key_text(k: &str) -> String {
    if plain_ok(k) { k.to_string() } else { quote(k) }
}

/// A scalar's text: one line, or a literal block (`|`) for multi-line strings, whose
/// continuation lines are indented by `ind`.
fn scalar(v: &Value, ind: usize) -> Vec<String> {
    match v {
        Value::Null => vec!["null".into()],
        Value::Bool(b) => vec![b.to_string()],
        Value::Number(n) => vec![n.to_string()],
        Value::Object(_) => vec!["{}".into()],
        Value::Array(_) => vec!["[]".into()],
        Value::String(s) => {
            if s.contains('\n') && block_ok(s) {
                let (body, chomp) = match s.strip_suffix('\n') {
                    Some(b) if !b.ends_with('\n') => (b, ""),
                    Some(_) => (s.as_str(), "+"),
                    None => (s.as_str(), "-"),
                };
                let lead = if body.starts_with(' ') { "2" } else { "" };
                let mut lines = vec![format!("|{lead}{chomp}")];
                let body = if chomp == "+" {
                    s.strip_suffix('\n').unwrap_or(s)
                } else {
                    body
                };
                for l in body.split('\n') {
                    if l.is_empty() {
                        lines.push(String::new());
                    } else {
                        lines.push(format!("{}{l}", indent(ind)));
                    }
                }
                lines
            } else if plain_ok(s) {
                vec![s.clone()]
            } else {
                vec![quote(s)]
            }
        }
    }
}

/// A literal block keeps the text exactly when it has no control characters other than
/// newlines and no trailing spaces on a line (which editors and terminals lose).
fn block_ok(s: &str) -> bool {
    !s.chars().any(|c| c.is_control() && c != '\n')
        && !s.split('\n').any(|l| l.ends_with(' ') || l.ends_with('\t'))
        && !s.starts_with('\n')
}

fn looks_special(s: &str) -> bool {
    let l = s.to_ascii_lowercase();
    if matches!(
        l.as_str(),
        "true"
            | "false"
            | "yes"
            | "no"
            | "on"
            | "off"
            | "y"
            | "n"
            | "null"
            | "~"
            | ".inf"
            | "-.inf"
            | "+.inf"
            | ".nan"
    ) {
        return true;
    }
    // Numbers (ints, floats, hex, octal, exponents, underscores) and dates/times.
    let first = s.chars().next().unwrap_or(' ');
    if first.is_ascii_digit() || ((first == '-' || first == '+' || first == '.') && s.len() > 1) {
        let body = s.trim_start_matches(['-', '+']);
        let numeric = body.chars().all(|c| {
            c.is_ascii_hexdigit()
                || matches!(
                    c,
                    '.' | '_' | 'x' | 'X' | 'o' | 'O' | 'e' | 'E' | '+' | '-' | ':'
                )
        });
        if numeric && body.chars().any(|c| c.is_ascii_digit()) {
            return true;
        }
        let b = s.as_bytes();
        if b.len() >= 10
            && b[4] == b'-'
            && b[7] == b'-'
            && s[..4].chars().all(|c| c.is_ascii_digit())
        {
            return true;
        }
    }
    false
}

/// Whether a string can be written without quotes and read back as the same string.
fn plain_ok(s: &str) -> bool {
    if s.is_empty() || looks_special(s) {
        return false;
    }
    let first = s.chars().next().unwrap_or(' ');
    if "?:,[]{}#&*!|>'\"%@`".contains(first) {
        return false;
    }
    if first == '-' && (s.len() == 1 || s[1..].starts_with(' ')) {
        return false;
    }
    if s.starts_with(' ') || s.ends_with(' ') || s.ends_with(':') {
        return false;
    }
    if s.contains(": ") || s.contains(" #") || s.contains('\t') {
        return false;
    }
    !s.chars().any(|c| {
        c.is_control() || c == '\u{feff}' || c == '\u{85}' || c == '\u{2028}' || c == '\u{2029}'
    })
}

/// Single quotes when possible, else double quotes with escapes.
fn quote(s: &str) -> String {
    let needs_double = s
        .chars()
        .any(|c| c.is_control() || matches!(c, '\u{feff}' | '\u{85}' | '\u{2028}' | '\u{2029}'));
    if !needs_double {
        return format!("'{}'", s.replace('\'', "''"));
    }
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            c if c.is_control() || matches!(c, '\u{feff}' | '\u{85}' | '\u{2028}' | '\u{2029}') => {
                let n = c as u32;
                if n <= 0xff {
                    out.push_str(&format!("\\x{n:02x}"));
                } else {
                    out.push_str(&format!("\\u{n:04x}"));
                }
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn round_trip(v: &Value) {
        let text = render(v);
        let back: Value = serde_yaml::from_str(&text).unwrap_or_else(|e| panic!("{e}\n{text}"));
        assert_eq!(&back, v, "\n{text}");
    }

    #[test]
    fn kubectl_style() {
        let v = json!({"spec": {"replicas": 3, "template": {"spec": {"containers": [{"name": "web", "image": "nginx:1.25", "ports": [{"containerPort": 80}]}]}}}, "apiVersion": "apps/v1"});
        let text = render(&v);
        assert_eq!(
            text,
            "apiVersion: apps/v1\nspec:\n  replicas: 3\n  template:\n    spec:\n      containers:\n      - image: nginx:1.25\n        name: web\n        ports:\n        - containerPort: 80\n"
        );
        let lines = render_lines(&v);
        let img = lines.iter().find(|l| l.text.contains("nginx")).unwrap();
        assert_eq!(img.path, "/spec/template/spec/containers/0/image");
        round_trip(&v);
    }

    #[test]
    fn strings_that_need_quotes() {
        for s in [
            "",
            "true",
            "No",
            "80",
            "0755",
            "1e3",
            "-1",
            "2026-11-18T11:06:40Z",
            "a: b",
            "x #y",
            "#x",
            "- x",
            "-",
            "@x",
            "*x",
            " lead",
            "trail ",
            "tab\there",
            "null",
            "~",
            "key:",
            "'q'",
            "\"dq\"",
            "\u{7}bell",
            ".5",
            "0x1F",
            "1_000",
        ] {
            round_trip(&json!({"k": s}));
            round_trip(&json!([s]));
        }
        for s in [
            "nginx:1.25",
            "/dev/termination-log",
            "25%",
            "v1.2.3",
            "-x",
            "a-b",
            "10m",
            "http://x.y/z?q=1",
            "ünïcödé",
        ] {
            let t = render(&json!({"k": s}));
            assert_eq!(t, format!("k: {s}\n"), "{s} stays plain");
            round_trip(&json!({"k": s}));
        }
    }

    #[test]
    fn multi_line_strings_are_literal_blocks() {
        for s in [
            "a\nb",
            "a\nb\n",
            "a\n\nb\n",
            "a\nb\n\n",
            "  indented\nx",
            "tail\n  ",
        ] {
            round_trip(&json!({"data": {"config.yaml": s}}));
        }
        let t = render(&json!({"k": "line1\nline2\n"}));
        assert_eq!(t, "k: |\n  line1\n  line2\n");
    }

    #[test]
    fn empties_and_nesting() {
        for v in [
            json!({}),
            json!([]),
            json!({"a": {}, "b": [], "c": null, "d": [[1, 2], [], {}], "e": [{"x": {"y": [true]}}]}),
            json!("scalar"),
            json!(3.5),
            json!({"weird key: x": 1, "": 2, "-": 3}),
        ] {
            round_trip(&v);
        }
    }
}
