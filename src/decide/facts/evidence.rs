//! The evidence catalogue: every fact a decision may cite, with an id and a sentence.

use super::*;

pub(super) fn fmt_num(v: f64) -> String {
    if v.fract() == 0.0 && v.abs() < 1e15 {
        format!("{}", v as i64)
    } else {
        let s = format!("{v:.3}");
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    }
}

pub(super) fn brief(v: &Value) -> String {
    match v {
        Value::Null => "(absent)".into(),
        Value::String(s) if s.len() > 60 => format!(
            "{}…",
            &s[..s.char_indices().nth(57).map(|(i, _)| i).unwrap_or(s.len())]
        ),
        Value::String(s) => s.clone(),
        other => {
            let t = other.to_string();
            if t.len() > 60 {
                format!(
                    "{}…",
                    &t[..t.char_indices().nth(57).map(|(i, _)| i).unwrap_or(t.len())]
                )
            } else {
                t
            }
        }
    }
}

pub(super) fn catalogue(input: &Input) -> Vec<Evidence> {
    let mut out = Vec::new();
    let ctx = &input.context;
    for (name, s) in &ctx.signals {
        let unit = s
            .unit
            .as_deref()
            .map(|u| format!(" {u}"))
            .unwrap_or_default();
        let mut numbers = vec![s.value];
        let mut text = format!("{name} is {}{unit}", fmt_num(s.value));
        if let Some(b) = s.baseline {
            numbers.push(b);
            text.push_str(&format!(", baseline {}{unit}", fmt_num(b)));
        }
        if let Some(r) = s.ratio {
            numbers.push(r);
            text.push_str(&format!(
                " ({}× baseline)",
                fmt_num((r * 10.0).round() / 10.0)
            ));
            numbers.push((r * 10.0).round() / 10.0);
        }
        out.push(Evidence {
            id: format!("signal:{name}"),
            text,
            numbers,
        });
    }
    for i in &ctx.incidents {
        let about = if i.concerns_app {
            "this app"
        } else {
            "another service"
        };
        out.push(Evidence {
            id: format!("incident:{}", i.id),
            text: format!(
                "incident {} ({}{}) on {}: \"{}\" ({about})",
                i.id,
                i.status,
                i.urgency
                    .as_deref()
                    .map(|u| format!(", {u} urgency"))
                    .unwrap_or_default(),
                if i.service.is_empty() {
                    "?"
                } else {
                    &i.service
                },
                i.title
            ),
            numbers: Vec::new(),
        });
    }
    for a in &ctx.alerts {
        let about = if a.concerns_app {
            "this app"
        } else {
            "another service"
        };
        out.push(Evidence {
            id: format!("alert:{}", a.name),
            text: format!(
                "alert {} firing{} ({about})",
                a.name,
                a.severity
                    .as_deref()
                    .map(|s| format!(", {s}"))
                    .unwrap_or_default()
            ),
            numbers: Vec::new(),
        });
    }
    let mut seen = BTreeMap::new();
    for e in &ctx.events {
        let object = e.get("object").and_then(Value::as_str).unwrap_or("");
        let reason = e.get("reason").and_then(Value::as_str).unwrap_or("");
        let base = format!("event:{object}:{reason}");
        let n = seen.entry(base.clone()).or_insert(0);
        *n += 1;
        let id = if *n == 1 { base } else { format!("{base}#{n}") };
        let message = e.get("message").and_then(Value::as_str).unwrap_or("");
        out.push(Evidence {
            id,
            text: format!("event {reason} on {object}: {message}"),
            numbers: numbers_in(message),
        });
    }
    for (name, st) in &ctx.sources {
        out.push(Evidence {
            id: format!("source:{name}"),
            text: format!("context source {name} is {}", st.as_str()),
            numbers: Vec::new(),
        });
    }
    let mut managers = BTreeSet::new();
    for r in &input.resources {
        match r.state {
            ResState::Missing => out.push(Evidence {
                id: format!("resource:{}", r.short),
                text: format!("{} is declared in Git and missing in the cluster", r.short),
                numbers: Vec::new(),
            }),
            ResState::Extra => out.push(Evidence {
                id: format!("resource:{}", r.short),
                text: format!("{} exists in the cluster but not in Git", r.short),
                numbers: Vec::new(),
            }),
            _ => {}
        }
        for c in &r.changes {
            let by = c
                .manager
                .as_deref()
                .map(|m| format!(" (written by {m})"))
                .unwrap_or_default();
            let mut numbers = Vec::new();
            if let Some(q) = c.quantity {
                numbers.extend(q.old);
                numbers.extend(q.new);
            }
            for v in [&c.old, &c.new] {
                if let Some(n) = v.as_f64() {
                    numbers.push(n);
                }
            }
            out.push(Evidence {
                id: c.id.clone(),
                text: format!(
                    "{}{}: {} → {}{by}",
                    r.short,
                    c.path,
                    brief(&c.old),
                    brief(&c.new)
                ),
                numbers,
            });
            if let Some(m) = &c.manager {
                managers.insert(m.clone());
            }
        }
        for o in &r.owners {
            out.push(Evidence {
                id: format!("owner:{}/{}", o.kind, o.name),
                text: format!("{} is owned by {} {}", r.short, o.kind, o.name),
                numbers: Vec::new(),
            });
        }
        if let Some(a) = &r.autoscaler {
            out.push(Evidence {
                id: format!("autoscaler:{a}"),
                text: format!("{a} targets {}", r.short),
                numbers: Vec::new(),
            });
        }
    }
    for m in managers {
        out.push(Evidence {
            id: format!("manager:{m}"),
            text: format!("field manager {m}"),
            numbers: Vec::new(),
        });
    }
    for h in &input.app.history {
        out.push(Evidence {
            id: format!("history:{}", h.id),
            text: format!(
                "deployment {} of revision {}{}{}",
                h.id,
                h.revision.chars().take(8).collect::<String>(),
                h.deployed_at
                    .as_deref()
                    .map(|d| format!(" at {d}"))
                    .unwrap_or_default(),
                if h.images.is_empty() {
                    String::new()
                } else {
                    format!(", images {}", h.images.join(", "))
                }
            ),
            numbers: vec![h.id as f64],
        });
    }
    let h = &input.handling;
    if let Some(r) = &h.rollback {
        out.push(Evidence {
            id: "handling:rollback".into(),
            text: format!("a guided rollback holds the app: {}", r.describe()),
            numbers: r.to.map(|t| vec![t as f64]).unwrap_or_default(),
        });
    }
    if let Some(d) = &h.deferral {
        out.push(Evidence {
            id: "handling:deferral".into(),
            text: format!("an operator {}", d.describe()),
            numbers: Vec::new(),
        });
    }
    if let Some(i) = &h.incident {
        out.push(Evidence {
            id: "handling:incident".into(),
            text: format!("the app is annotated {}", i.describe()),
            numbers: Vec::new(),
        });
    }
    let w = &input.window;
    out.push(Evidence {
        id: "window:sync".into(),
        text: match (&w.error, w.next_auto_sync) {
            (Some(e), _) => format!("sync windows cannot be evaluated: {e}"),
            (None, Some(t)) if w.can_sync_auto => format!("an automated sync is allowed now ({t})"),
            (None, Some(t)) => format!("the next automated sync is allowed at {t}"),
            (None, None) => "no automated sync is allowed within a year".into(),
        },
        numbers: Vec::new(),
    });
    out.push(Evidence {
        id: "app:environment".into(),
        text: format!(
            "the app's environment is {} ({})",
            input.app.environment,
            if input.app.production {
                "production"
            } else {
                "not production"
            }
        ),
        numbers: Vec::new(),
    });
    out
}

/// The numbers written in a text (`18`, `6`, `0.91`, `4x`), for checking quoted figures.
pub fn numbers_in(text: &str) -> Vec<f64> {
    static RE: std::sync::OnceLock<regex::Regex> = std::sync::OnceLock::new();
    let pat = RE.get_or_init(|| re(r"(?:^|[^\w.\-:/])(\d+(?:\.\d+)?)(?:[x×%]|\b)"));
    pat.captures_iter(text)
        .filter_map(|c| c.get(1)?.as_str().parse().ok())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_are_found_in_text() {
        assert_eq!(numbers_in("CPU at 2.5x, 3 pods"), vec![2.5, 3.0]);
        assert!(numbers_in("no numbers").is_empty());
        assert_eq!(fmt_num(2.0), "2");
    }
}
