//! The list views: ApplicationSets (generators, apps with their sync and health roll-up,
//! strategy, conditions, progressive sync steps) and versions per environment (each family's
//! version in each environment, the gaps highlighted), and the DORA figures per project.

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;

use super::fleet::{health_role, sync_role};
use super::{
    Piece, fit, flash_piece, hints, layout, pad, put, put_pieces, selection_bar, status_bar,
};
use crate::model::status::{Health, Sync};
use crate::tui::action::Action;
use crate::tui::keymap::{KeyMode, Keymap};
use crate::tui::model::{ListScreen, Model, Screen};
use crate::tui::theme::Theme;
use crate::tui::views::{appset_errors, appset_rows, version_envs, version_rows};

/// Rows the list of a view shows: the body less its header and the detail pane.
pub fn list_page(m: &Model) -> usize {
    let (list, _) = split(layout::diff(m.size).body);
    list.height as usize
}

/// The body split into the list (with its header row above) and the detail pane below.
fn split(body: Rect) -> (Rect, Rect) {
    let detail_h = if body.height >= 16 {
        body.height / 3
    } else {
        0
    };
    let list = Rect::new(
        body.x,
        body.y + 1,
        body.width,
        body.height.saturating_sub(1 + detail_h),
    );
    let detail = Rect::new(
        body.x,
        body.y + body.height - detail_h,
        body.width,
        detail_h,
    );
    (list, detail)
}

fn header(buf: &mut Buffer, area: Rect, cols: &[(&str, usize)], theme: &Theme) {
    buf.set_style(area, theme.style("header"));
    let mut x = area.x + 1;
    for (t, w) in cols {
        put(buf, x, area.y, &pad(t, *w), *w, theme.style("header"));
        x += *w as u16 + 1;
    }
}

fn title(buf: &mut Buffer, area: Rect, text: &str, theme: &Theme) {
    buf.set_style(area, theme.style("title"));
    put(
        buf,
        0,
        area.y,
        text,
        area.width as usize,
        theme.style("title"),
    );
}

fn counts(map: &std::collections::BTreeMap<String, usize>, sym: &dyn Fn(&str) -> String) -> String {
    map.iter()
        .map(|(k, n)| format!("{}{n}", sym(k)))
        .collect::<Vec<_>>()
        .join(" ")
}

/// The detail pane below a list: a title, then lines of styled pieces.
fn detail(buf: &mut Buffer, area: Rect, title: &str, lines: &[Vec<(String, &str)>], theme: &Theme) {
    if area.height < 2 {
        return;
    }
    buf.set_style(Rect { height: 1, ..area }, theme.style("header"));
    put(
        buf,
        area.x + 1,
        area.y,
        title,
        area.width as usize,
        theme.style("header"),
    );
    for (i, line) in lines.iter().take(area.height as usize - 1).enumerate() {
        let row = Rect::new(area.x, area.y + 1 + i as u16, area.width, 1);
        let pieces: Vec<Piece> = line
            .iter()
            .map(|(t, r)| (t.clone(), theme.style(r)))
            .collect();
        put_pieces(buf, row, &pieces);
    }
}

pub fn draw(buf: &mut Buffer, m: &Model, theme: &Theme, km: &Keymap) {
    match &m.screen {
        Screen::AppSets(l) => appsets(buf, m, l, theme, km),
        Screen::Versions(l) => versions(buf, m, l, theme, km),
        Screen::Dora(l) => dora(buf, m, l, theme, km),
        _ => {}
    }
}

/// `12m`, `3h 05m`, `2d 04h`.
fn span(secs: i64) -> String {
    let (d, h, mi) = (secs / 86_400, secs / 3600 % 24, secs / 60 % 60);
    if d > 0 {
        format!("{d}d {h:02}h")
    } else if h > 0 {
        format!("{h}h {mi:02}m")
    } else if mi > 0 {
        format!("{mi}m")
    } else {
        format!("{secs}s")
    }
}

fn dora(buf: &mut Buffer, m: &Model, l: &ListScreen, theme: &Theme, km: &Keymap) {
    use crate::tui::model::Load;
    let lay = layout::diff(m.size);
    let figures: &[crate::model::dora::Figures] = m.dora.ready().map_or(&[], |v| v.as_slice());
    let deploys: usize = figures.iter().map(|f| f.deployments).sum();
    title(
        buf,
        lay.title,
        &format!(
            " DORA per project, last 30 days: {} {}, {deploys} deployments",
            figures.len(),
            if figures.len() == 1 {
                "project"
            } else {
                "projects"
            }
        ),
        theme,
    );
    let (list, pane) = split(lay.body);
    let w = list.width as usize;
    let cols = [
        ("INSTANCE", (w / 7).clamp(8, 16)),
        ("PROJECT", (w / 6).clamp(8, 24)),
        ("APPS", 5),
        ("DEPLOYS/DAY", 11),
        ("CHANGE FAIL", 12),
        ("RESTORE p50", 11),
    ];
    header(
        buf,
        Rect {
            height: 1,
            y: lay.body.y,
            ..list
        },
        &cols,
        theme,
    );
    let note = match &m.dora {
        Load::Loading => Some((
            "Reading each instance's deployment history…".to_string(),
            "text.dim",
        )),
        Load::Failed(e) => Some((e.clone(), "error")),
        Load::Ready(v) if v.is_empty() => Some((
            "No application has a deployment history yet.".to_string(),
            "text.dim",
        )),
        Load::Ready(_) => None,
    };
    if let Some((text, role)) = note {
        put(buf, list.x + 2, list.y, &text, w, theme.style(role));
    }
    for (i, f) in figures
        .iter()
        .enumerate()
        .skip(l.offset)
        .take(list.height as usize)
    {
        let y = list.y + (i - l.offset) as u16;
        let sel = i == l.cursor;
        let st = |role: &str| theme.pick(role, sel);
        selection_bar(buf, list, y, sel, theme);
        let cfr = match f.change_failure_rate {
            Some(r) => format!("{:.0}% ({}/{})", r * 100.0, f.failed, f.deployments),
            None => "-".into(),
        };
        let cfr_role = match f.change_failure_rate {
            Some(r) if r >= 0.15 => "health.degraded",
            Some(r) if r > 0.0 => "warning",
            _ => "text",
        };
        let ttr = match f.time_to_restore_median {
            Some(t) => format!("{} ({})", span(t), f.restores),
            None => "-".into(),
        };
        let cells: [(String, &str); 6] = [
            (f.instance.clone(), "text.dim"),
            (f.project.clone(), "text"),
            (f.apps.to_string(), "text"),
            (format!("{:.2}", f.deployments_per_day), "text"),
            (cfr, cfr_role),
            (ttr, "text"),
        ];
        let mut x = list.x + 1;
        for ((text, role), (_, cw)) in cells.iter().zip(cols.iter()) {
            put(buf, x, y, &fit(text, *cw), *cw, st(role));
            x += *cw as u16 + 1;
        }
    }
    if let Some(f) = figures.get(l.cursor) {
        let lines: Vec<Vec<(String, &str)>> = vec![
            vec![(
                format!(
                    " {} deployments of {} apps in 30 days, {:.2} a day.",
                    f.deployments, f.apps, f.deployments_per_day
                ),
                "text",
            )],
            vec![(
                match f.change_failure_rate {
                    Some(r) => format!(
                        " {} undone by a rollback: change failure rate {:.1}%.",
                        f.failed,
                        r * 100.0
                    ),
                    None => " No deployment in the window: no change failure rate.".into(),
                },
                "text",
            )],
            vec![(
                match f.time_to_restore_median {
                    Some(t) => format!(
                        " {} restores from Degraded to Healthy seen, median {}.",
                        f.restores,
                        span(t)
                    ),
                    None => " No app came back from Degraded while watched.".into(),
                },
                "text",
            )],
            vec![(
                " Lead time needs Git's commit times: Argo CD's history has none.".into(),
                "text.dim",
            )],
        ];
        detail(
            buf,
            pane,
            &format!("{} / {}", f.instance, f.project),
            &lines,
            theme,
        );
    }
    status(buf, lay.status, m, theme, km, "its apps");
}

fn status(buf: &mut Buffer, area: Rect, m: &Model, theme: &Theme, km: &Keymap, enter: &str) {
    let left = hints(
        km,
        KeyMode::Views,
        &[
            (Action::Back, "back"),
            (Action::OpenApp, enter),
            (Action::Reload, "reload"),
            (Action::ToggleHelp, "help"),
        ],
        theme,
    );
    let right: Vec<Piece> = flash_piece(m, theme).into_iter().collect();
    status_bar(buf, area, &left, &right, theme);
}

fn appsets(buf: &mut Buffer, m: &Model, l: &ListScreen, theme: &Theme, km: &Keymap) {
    let lay = layout::diff(m.size);
    let rows = appset_rows(m);
    let apps: usize = rows.iter().map(|(_, s)| s.apps().count()).sum();
    title(
        buf,
        lay.title,
        &format!(
            " ApplicationSets: {} generating {}",
            rows.len(),
            crate::util::count(apps, "app")
        ),
        theme,
    );
    let (list, pane) = split(lay.body);
    let w = list.width as usize;
    let multi = m.instances.len() > 1;
    let inst_w = if multi { 10 } else { 0 };
    // The strategy only where it fits beside the rest.
    let strat_w = if w >= 100 { 20 } else { 0 };
    let (sync_w, health_w) = if w >= 100 { (14, 16) } else { (9, 11) };
    let fixed = 1
        + if multi { inst_w + 1 } else { 0 }
        + 5
        + 1
        + sync_w
        + 1
        + health_w
        + 1
        + if strat_w > 0 { strat_w + 1 } else { 0 };
    let rest = w.saturating_sub(fixed);
    let name_w = (rest * 3 / 5).max(12);
    let gen_w = rest.saturating_sub(name_w + 1).max(8);
    let mut cols = vec![];
    if multi {
        cols.push(("INSTANCE", inst_w));
    }
    cols.extend([
        ("NAME", name_w),
        ("GENERATORS", gen_w),
        ("APPS", 5),
        ("SYNC", sync_w),
        ("HEALTH", health_w),
    ]);
    if strat_w > 0 {
        cols.push(("STRATEGY", strat_w));
    }
    header(
        buf,
        Rect {
            height: 1,
            y: lay.body.y,
            ..list
        },
        &cols,
        theme,
    );
    if rows.is_empty() {
        let errs = appset_errors(m);
        let msg = if m.appsets.is_empty() {
            "Reading the ApplicationSets…".to_string()
        } else if !errs.is_empty() {
            errs.iter()
                .map(|(i, e)| format!("{i}: {e}"))
                .collect::<Vec<_>>()
                .join("; ")
        } else {
            "No ApplicationSets on the instances.".to_string()
        };
        put(buf, list.x + 2, list.y, &msg, w, theme.style("text.dim"));
    }
    let sym = m.symbols;
    for (i, (inst, set)) in rows
        .iter()
        .enumerate()
        .skip(l.offset)
        .take(list.height as usize)
    {
        let y = list.y + (i - l.offset) as u16;
        let sel = i == l.cursor;
        let st = |role: &str| theme.pick(role, sel);
        selection_bar(buf, list, y, sel, theme);
        let (sync, health) = set.rollup();
        let problems = set.problems();
        let mut x = list.x + 1;
        let mut cell = |text: &str, width: usize, role: &str| {
            put(buf, x, y, &fit(text, width), width, st(role));
            x += width as u16 + 1;
        };
        if multi {
            cell(m.instance_name(*inst), inst_w, "text.dim");
        }
        cell(
            &set.metadata.name,
            name_w,
            if problems.is_empty() { "text" } else { "error" },
        );
        cell(&set.generators(), gen_w, "text.dim");
        cell(&set.apps().count().to_string(), 5, "text");
        let sync_role_of = if sync.keys().any(|k| k != "Synced") {
            sync_role(Sync::OutOfSync)
        } else {
            sync_role(Sync::Synced)
        };
        cell(
            &counts(&sync, &|k| format!("{} ", sym.sync(Sync::parse(k)))),
            sync_w,
            sync_role_of,
        );
        let worst = health
            .keys()
            .map(|k| Health::parse(k))
            .max_by_key(|h| match h {
                Health::Degraded | Health::Missing => 4,
                Health::Unknown => 3,
                Health::Progressing | Health::Suspended => 2,
                Health::Healthy => 1,
            })
            .unwrap_or(Health::Healthy);
        cell(
            &counts(&health, &|k| format!("{} ", sym.health(Health::parse(k)))),
            health_w,
            health_role(worst),
        );
        if strat_w > 0 {
            let strategy = set.strategy();
            cell(
                if strategy.is_empty() {
                    "all at once"
                } else {
                    &strategy
                },
                strat_w,
                "text.dim",
            );
        }
    }
    // The selected set: its conditions and its progressive sync, step by step.
    if let Some((_, set)) = rows.get(l.cursor) {
        let mut lines: Vec<Vec<(String, &str)>> = Vec::new();
        for c in set.problems() {
            lines.push(vec![(
                format!(" {} {}: {}", c.kind, c.reason, c.message),
                "error",
            )]);
        }
        if let Some(msg) = set.rollout_message() {
            lines.push(vec![(format!(" {msg}"), "text")]);
        }
        for (step, apps) in set.steps() {
            let mut line = vec![(format!(" step {step}: "), "header.sorted")];
            for (i, a) in apps.iter().enumerate() {
                let role = match a.status.as_str() {
                    "Healthy" => "health.healthy",
                    "Waiting" => "health.suspended",
                    "Pending" | "Progressing" => "health.progressing",
                    _ => "text",
                };
                if i > 0 {
                    line.push(("  ".into(), "text"));
                }
                line.push((format!("{} {}", a.application, a.status), role));
            }
            lines.push(line);
        }
        if lines.is_empty() {
            lines.push(vec![(
                " every app generated; no rollout strategy (all apps at once)".into(),
                "text.dim",
            )]);
        }
        detail(
            buf,
            pane,
            &format!("{}: conditions and rollout", set.metadata.name),
            &lines,
            theme,
        );
    }
    status(buf, lay.status, m, theme, km, "its apps");
}

fn versions(buf: &mut Buffer, m: &Model, l: &ListScreen, theme: &Theme, km: &Keymap) {
    let lay = layout::diff(m.size);
    let rows = version_rows(m);
    let gaps = rows.iter().filter(|r| r.gaps() > 0).count();
    title(
        buf,
        lay.title,
        &format!(
            " Versions per environment: {} {}, {} with a promotion gap",
            rows.len(),
            if rows.len() == 1 {
                "family"
            } else {
                "families"
            },
            gaps
        ),
        theme,
    );
    let (list, pane) = split(lay.body);
    let envs = version_envs(rows, m);
    let w = list.width as usize;
    let fam_w = (w / 4).clamp(12, 32);
    let env_w = if envs.is_empty() {
        10
    } else {
        (w.saturating_sub(fam_w + 2) / envs.len())
            .saturating_sub(1)
            .clamp(8, 24)
    };
    let mut cols = vec![("FAMILY".to_string(), fam_w)];
    for e in &envs {
        cols.push((e.to_uppercase(), env_w));
    }
    let cols_ref: Vec<(&str, usize)> = cols.iter().map(|(t, w)| (t.as_str(), *w)).collect();
    header(
        buf,
        Rect {
            height: 1,
            y: lay.body.y,
            ..list
        },
        &cols_ref,
        theme,
    );
    if rows.is_empty() {
        put(
            buf,
            list.x + 2,
            list.y,
            "No app runs in two environments (families are named by [fleet.families] in the config).",
            w,
            theme.style("text.dim"),
        );
    }
    for (i, r) in rows
        .iter()
        .enumerate()
        .skip(l.offset)
        .take(list.height as usize)
    {
        let y = list.y + (i - l.offset) as u16;
        let sel = i == l.cursor;
        let st = |role: &str| theme.pick(role, sel);
        selection_bar(buf, list, y, sel, theme);
        let mut x = list.x + 1;
        put(buf, x, y, &fit(&r.family, fam_w), fam_w, st("text"));
        x += fam_w as u16 + 1;
        for e in &envs {
            match r.envs.iter().find(|c| c.env.eq_ignore_ascii_case(e)) {
                Some(c) => {
                    let mut text = c.versions.join(",");
                    if c.apps.len() > 1 {
                        text.push_str(&format!(" ×{}", c.apps.len()));
                    }
                    let role = if c.behind.is_some() {
                        text.insert_str(0, if m.symbols.ascii { "< " } else { "↓ " });
                        "health.degraded"
                    } else if c.versions.len() > 1 {
                        "drift"
                    } else {
                        "text"
                    };
                    put(buf, x, y, &fit(&text, env_w), env_w, st(role));
                }
                None => {
                    put(buf, x, y, "-", env_w, st("text.dim"));
                }
            }
            x += env_w as u16 + 1;
        }
    }
    if let Some(r) = rows.get(l.cursor) {
        let mut lines: Vec<Vec<(String, &str)>> = Vec::new();
        for (i, c) in r.envs.iter().enumerate() {
            if let Some(newer) = &c.behind {
                let before = i
                    .checked_sub(1)
                    .map(|j| r.envs[j].env.as_str())
                    .unwrap_or("");
                lines.push(vec![(
                    format!(
                        " {} is behind {before}: {} → {newer} not promoted yet",
                        c.env,
                        c.versions.last().cloned().unwrap_or_default()
                    ),
                    "health.degraded",
                )]);
            }
        }
        for c in &r.envs {
            let names: Vec<String> = c.apps.iter().map(|k| k.name.clone()).collect();
            lines.push(vec![(
                format!(
                    " {}: {} ({})",
                    c.env,
                    c.versions.join(", "),
                    names.join(", ")
                ),
                "text.dim",
            )]);
        }
        detail(
            buf,
            pane,
            &format!("{}: what each environment runs", r.family),
            &lines,
            theme,
        );
    }
    status(buf, lay.status, m, theme, km, "its apps");
}
