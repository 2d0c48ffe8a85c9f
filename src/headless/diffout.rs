//! Output of `driftdeck diff`: a unified YAML diff (text), the same with colours and
//! word-level emphasis (ansi), or the changes and both states (json).

use ratatui::style::Style;
use serde_json::{Value, json};

use crate::diff::compute::{self, Tag};
use crate::diff::{ResourceDiff, yaml};
use crate::tui::color::{Depth, Pen, degrade, sgr};
use crate::tui::theme::Theme;

/// Context lines around changes in the unified output (as `diff -u`).
pub const CONTEXT: usize = 3;

fn labels(d: &ResourceDiff) -> (String, String) {
    let id = d.id.label().replace(' ', "/");
    (format!("live/{id}"), format!("desired/{id}"))
}

/// The unified diff of one resource (empty when both sides render the same).
pub fn text(d: &ResourceDiff) -> String {
    let (old, new) = d.yaml();
    let hunks = compute::hunks(&old, &new, CONTEXT);
    if hunks.is_empty() {
        return String::new();
    }
    let (a, b) = labels(d);
    // Names and values come from manifests others wrote: shown visibly, never obeyed.
    crate::term::clean(&compute::unified(
        &crate::term::clean_line(&a),
        &crate::term::clean_line(&b),
        &hunks,
    ))
    .into_owned()
}

fn pen(style: Style, depth: Depth) -> Pen {
    Pen {
        fg: degrade(style.fg.unwrap_or(ratatui::style::Color::Reset), depth),
        bg: degrade(style.bg.unwrap_or(ratatui::style::Color::Reset), depth),
        modifier: style.add_modifier,
    }
}

/// The unified diff with colours, syntax of the YAML and the changed words emphasized.
pub fn ansi(d: &ResourceDiff, theme: &Theme, depth: Depth) -> String {
    let (old, new) = d.yaml();
    let hunks = compute::hunks(&old, &new, CONTEXT);
    if hunks.is_empty() {
        return String::new();
    }
    let (a, b) = labels(d);
    let old_toks = crate::diff::highlight::yaml(&old);
    let new_toks = crate::diff::highlight::yaml(&new);
    let mut s = String::new();
    let mut cur = Pen::default();
    let mut put = |s: &mut String, style: Style, text: &str| {
        let p = pen(style, depth);
        s.push_str(&sgr(cur, p));
        cur = p;
        // Data from manifests, cleaned before it sits between our colours.
        s.push_str(&crate::term::clean(text));
    };
    put(
        &mut s,
        theme.style("diff.header"),
        &format!(
            "--- {}\n+++ {}\n",
            crate::term::clean_line(&a),
            crate::term::clean_line(&b)
        ),
    );
    for h in &hunks {
        put(
            &mut s,
            theme.style("diff.hunk"),
            &format!(
                "@@ -{},{} +{},{} @@",
                h.old_start, h.old_len, h.new_start, h.new_len
            ),
        );
        put(&mut s, Style::default(), "\n");
        for l in &h.lines {
            let (mark, line_role, emph_role, toks) = match l.tag {
                Tag::Equal => (" ", "text", "text", l.old.and_then(|n| old_toks.get(n - 1))),
                Tag::Delete => (
                    "-",
                    "diff.removed.line",
                    "diff.removed.emph",
                    l.old.and_then(|n| old_toks.get(n - 1)),
                ),
                Tag::Insert => (
                    "+",
                    "diff.added.line",
                    "diff.added.emph",
                    l.new.and_then(|n| new_toks.get(n - 1)),
                ),
            };
            let marker_role = match l.tag {
                Tag::Equal => "text.dim",
                Tag::Delete => "diff.removed",
                Tag::Insert => "diff.added",
            };
            let base = theme.style(line_role);
            put(
                &mut s,
                theme.style(marker_role).patch(Style {
                    bg: base.bg,
                    ..Style::default()
                }),
                mark,
            );
            for seg in crate::diff::highlight::segments(&l.text, toks, &l.emph) {
                let mut style = match seg.tok {
                    Some(t) => theme.style(t.role()),
                    None => theme.style("text"),
                };
                style = style.patch(Style {
                    bg: base.bg,
                    ..Style::default()
                });
                if seg.emph {
                    style = style.patch(theme.style(emph_role));
                }
                put(&mut s, style, &l.text[seg.range]);
            }
            put(&mut s, Style::default(), "\n");
        }
    }
    s.push_str(&sgr(cur, Pen::default()));
    s
}

/// The JSON of one resource's diff (the contract's shape, plus the writer of each change).
pub fn json(d: &ResourceDiff) -> Value {
    json!({
        "modified": d.modified,
        "resource": {"group": d.id.group, "kind": d.id.kind, "namespace": d.id.namespace, "name": d.id.name},
        "changes": d.changes,
        "live": d.live,
        "desired": d.desired,
    })
}

/// The YAML of a value (for `--output` text of single objects).
pub fn render_yaml(v: &Value) -> String {
    yaml::render(v)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::diff::{Normalizer, diff};

    #[test]
    fn text_and_ansi() {
        let a = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}, "data": {"LOG_LEVEL": "info", "X": "1"}});
        let mut b = a.clone();
        b["data"]["LOG_LEVEL"] = json!("debug");
        let d = diff(Some(&a), Some(&b), &Normalizer::default()).unwrap();
        let t = text(&d);
        assert!(
            t.starts_with("--- live/ConfigMap/c\n+++ desired/ConfigMap/c\n"),
            "{t}"
        );
        assert!(
            t.contains("-  LOG_LEVEL: debug\n+  LOG_LEVEL: info\n"),
            "{t}"
        );
        let x = ansi(&d, &Theme::default(), Depth::TrueColor);
        assert!(x.contains("\x1b["));
        let plain = ansi(&d, &Theme::default(), Depth::None);
        assert!(
            !plain.contains("\x1b[3") && !plain.contains("\x1b[4"),
            "no colour codes without colour"
        );
        let same = diff(Some(&a), Some(&a), &Normalizer::default()).unwrap();
        assert_eq!(text(&same), "");
    }
}
