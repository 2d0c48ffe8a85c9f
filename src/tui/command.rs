//! The `:` command line, as k9s and argonaut users type it: `:ctx NAME`, `:cluster NAME`,
//! `:project NAME`, `:ns NAME`, `:sync`, `:refresh`, `:diff`, `:queue`, `:shadow`,
//! `:theme NAME`, `:q`, with tab completion of commands and their arguments. Pure: a command
//! does exactly what its key does (`:sync` opens the same plan dialog as `s`), and the Enter
//! that ends a command line never confirms anything (a dialog it opens waits for its plan,
//! and a production or protected app wants its name typed).

use super::action::Action;
use super::effect::Effect;
use super::model::{Model, Screen, TextInput};
use crate::model::filter::Facet;

/// What a command's argument names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Arg {
    None,
    Instance,
    Facet(Facet),
    Theme,
    App,
}

/// One command: its name, other names, argument and what it does (for the help).
pub struct Command {
    pub name: &'static str,
    pub aliases: &'static [&'static str],
    pub arg: Arg,
    pub help: &'static str,
}

pub const COMMANDS: &[Command] = &[
    Command {
        name: "ctx",
        aliases: &["context", "instance", "inst"],
        arg: Arg::Instance,
        help: "only the apps of that Argo CD instance (no name, or `all`: every instance)",
    },
    Command {
        name: "cluster",
        aliases: &["cl"],
        arg: Arg::Facet(Facet::Cluster),
        help: "only the apps on that cluster (no name: every cluster)",
    },
    Command {
        name: "project",
        aliases: &["proj", "appproj"],
        arg: Arg::Facet(Facet::Project),
        help: "only the apps of that project",
    },
    Command {
        name: "ns",
        aliases: &["namespace"],
        arg: Arg::Facet(Facet::Namespace),
        help: "only the apps deploying to that namespace",
    },
    Command {
        name: "env",
        aliases: &[],
        arg: Arg::Facet(Facet::Env),
        help: "only the apps of that environment",
    },
    Command {
        name: "app",
        aliases: &["apps", "application"],
        arg: Arg::App,
        help: "open the app of that name (no name: the fleet)",
    },
    Command {
        name: "sync",
        aliases: &[],
        arg: Arg::None,
        help: "sync the app (or the marked apps): the same plan and confirmation as s",
    },
    Command {
        name: "refresh",
        aliases: &[],
        arg: Arg::None,
        help: "refresh the app from Git",
    },
    Command {
        name: "hard-refresh",
        aliases: &["refresh!"],
        arg: Arg::None,
        help: "hard refresh: re-render the manifests",
    },
    Command {
        name: "diff",
        aliases: &[],
        arg: Arg::None,
        help: "the live-vs-Git diff of the app",
    },
    Command {
        name: "defer",
        aliases: &[],
        arg: Arg::None,
        help: "defer the revert of the app's drift",
    },
    Command {
        name: "annotate",
        aliases: &["incident"],
        arg: Arg::None,
        help: "annotate incident drift",
    },
    Command {
        name: "actions",
        aliases: &["action", "resource-actions"],
        arg: Arg::None,
        help: "the actions Argo CD offers for the resource under the cursor (the app's workload elsewhere on the app screen)",
    },
    Command {
        name: "terminate",
        aliases: &[],
        arg: Arg::None,
        help: "terminate the app's running operation",
    },
    Command {
        name: "appsets",
        aliases: &["appset", "applicationsets", "as"],
        arg: Arg::None,
        help: "the ApplicationSets: generators, apps, rollout; enter narrows the fleet to a set's apps",
    },
    Command {
        name: "versions",
        aliases: &["version", "promotion", "envs"],
        arg: Arg::None,
        help: "versions per environment of each app family, promotion gaps first",
    },
    Command {
        name: "dora",
        aliases: &["deployments", "delivery"],
        arg: Arg::None,
        help: "DORA figures per project: deployments a day, change failure rate (rollbacks), time to restore",
    },
    Command {
        name: "queue",
        aliases: &["drift"],
        arg: Arg::None,
        help: "the drift queue",
    },
    Command {
        name: "shadow",
        aliases: &["report"],
        arg: Arg::None,
        help: "the shadow report",
    },
    Command {
        name: "theme",
        aliases: &[],
        arg: Arg::Theme,
        help: "switch the theme (builtin or yours)",
    },
    Command {
        name: "help",
        aliases: &["?"],
        arg: Arg::None,
        help: "the keys and commands",
    },
    Command {
        name: "q",
        aliases: &["quit", "q!", "exit"],
        arg: Arg::None,
        help: "quit",
    },
];

/// The command a word names (its name or an alias, case-insensitive).
pub fn find(word: &str) -> Option<&'static Command> {
    let w = word.to_ascii_lowercase();
    COMMANDS
        .iter()
        .find(|c| c.name == w || c.aliases.contains(&w.as_str()))
}

pub use super::model::CommandLine;

/// Opens the command line.
pub fn open(m: &mut Model) {
    m.command = Some(CommandLine {
        input: TextInput {
            text: String::new(),
            cursor: 0,
            before: String::new(),
            error: None,
        },
        cycle: None,
    });
}

/// The values an argument may take, from the fleet (sorted, distinct).
pub fn values(m: &Model, arg: Arg) -> Vec<String> {
    let mut v: Vec<String> = match arg {
        Arg::None => vec![],
        Arg::Instance => {
            let mut v = m.instance_names();
            v.push("all".into());
            v
        }
        Arg::Theme => m.theme_names.clone(),
        Arg::App => m.fleet.rows.iter().map(|r| r.key.name.clone()).collect(),
        Arg::Facet(f) => m
            .fleet
            .rows
            .iter()
            .map(|r| match f {
                Facet::Cluster => r.cluster.clone(),
                Facet::Project => r.project.clone(),
                Facet::Namespace => r.dest_namespace.clone(),
                Facet::Env => r.env.clone(),
                Facet::AppSet => r.appset.clone(),
                _ => String::new(),
            })
            .filter(|s| !s.is_empty())
            .collect(),
    };
    v.sort();
    v.dedup();
    v
}

/// What `tab` may complete the text to: the word being typed and its candidates.
pub fn candidates(m: &Model, text: &str) -> (usize, Vec<String>) {
    let trimmed = text.trim_start();
    let lead = text.len() - trimmed.len();
    match trimmed.split_once(' ') {
        None => {
            let w = trimmed.to_ascii_lowercase();
            let mut names: Vec<String> = COMMANDS
                .iter()
                .flat_map(|c| std::iter::once(c.name).chain(c.aliases.iter().copied()))
                .filter(|n| n.starts_with(&w))
                .map(str::to_string)
                .collect();
            // A name and its aliases: only the name when the name itself matches.
            names.retain(|n| find(n).is_none_or(|c| c.name == n || !c.name.starts_with(&w)));
            names.dedup();
            (lead, names)
        }
        Some((cmd, rest)) => {
            let Some(c) = find(cmd) else {
                return (text.len(), vec![]);
            };
            let arg_start = lead + cmd.len() + (rest.len() - rest.trim_start().len()) + 1;
            let w = rest.trim_start().to_ascii_lowercase();
            let vals = values(m, c.arg)
                .into_iter()
                .filter(|v| v.to_ascii_lowercase().starts_with(&w))
                .collect();
            (arg_start, vals)
        }
    }
}

fn common_prefix(v: &[String]) -> String {
    let Some(first) = v.first() else {
        return String::new();
    };
    let mut n = first.len();
    for s in &v[1..] {
        n = n.min(
            first
                .char_indices()
                .zip(s.chars())
                .take_while(|((_, a), b)| a.eq_ignore_ascii_case(b))
                .count(),
        );
    }
    first.chars().take(n).collect()
}

/// `tab`: completes the word to the candidates' common part; when that adds nothing, takes
/// the candidates in turn.
pub fn complete(m: &mut Model) {
    let text = match &m.command {
        Some(c) => c.input.text.clone(),
        None => return,
    };
    let cycle = m.command.as_ref().and_then(|c| c.cycle.clone());
    let (start, cands) = candidates(m, &text);
    let Some(cl) = m.command.as_mut() else {
        return;
    };
    cl.input.error = None;
    let set = |cl: &mut CommandLine, s: String| {
        cl.input.cursor = s.chars().count();
        cl.input.text = s;
    };
    // Cycling: the text is one of the candidates of the previous tab.
    if let Some((list, i)) = cycle
        && !list.is_empty()
    {
        let next = list[i % list.len()].clone();
        set(cl, format!("{}{next}", &text[..start.min(text.len())]));
        cl.cycle = Some((list, i + 1));
        return;
    }
    match cands.as_slice() {
        [] => {
            cl.input.error = Some(if start >= text.len() && text.contains(' ') {
                "nothing to complete here".into()
            } else {
                format!("no command starts with `{}`", text.trim())
            });
        }
        [one] => {
            let is_cmd = !text.trim_start().contains(' ');
            let suffix = if is_cmd && find(one).is_some_and(|c| c.arg != Arg::None) {
                " "
            } else {
                ""
            };
            set(
                cl,
                format!("{}{one}{suffix}", &text[..start.min(text.len())]),
            );
            cl.cycle = None;
        }
        many => {
            let prefix = common_prefix(many);
            let typed = &text[start.min(text.len())..];
            if prefix.chars().count() > typed.chars().count() {
                set(cl, format!("{}{prefix}", &text[..start.min(text.len())]));
                cl.cycle = None;
            } else {
                let list = many.to_vec();
                set(cl, format!("{}{}", &text[..start.min(text.len())], list[0]));
                cl.cycle = Some((list, 1));
            }
        }
    }
}

/// The hint shown after the text: what `tab` would offer, or what the command does.
pub fn hint(m: &Model) -> String {
    let Some(cl) = &m.command else {
        return String::new();
    };
    let text = &cl.input.text;
    if text.trim().is_empty() {
        return "ctx cluster project ns env app sync refresh diff defer annotate queue shadow theme help q   (tab completes)".into();
    }
    let (_, cands) = candidates(m, text);
    let head = text.split_whitespace().next().unwrap_or("");
    match (find(head), text.trim_start().contains(' ')) {
        (Some(c), true) | (Some(c), false) if cands.len() <= 1 => {
            if cands.len() == 1
                && !cands[0].eq_ignore_ascii_case(text.split_whitespace().last().unwrap_or(""))
            {
                format!("{}  ({})", cands[0], c.help)
            } else {
                c.help.to_string()
            }
        }
        _ => {
            let mut s = cands.iter().take(12).cloned().collect::<Vec<_>>().join(" ");
            if cands.len() > 12 {
                s.push_str(&format!(" … {} more", cands.len() - 12));
            }
            s
        }
    }
}

/// Runs the typed command. `Err` is the sentence shown on the command line (it stays open).
pub fn run(m: &mut Model, text: &str) -> Result<Vec<Effect>, String> {
    let text = text.trim().trim_start_matches(':').trim();
    if text.is_empty() {
        return Ok(vec![]);
    }
    let (word, arg) = match text.split_once(char::is_whitespace) {
        Some((w, a)) => (w, a.trim()),
        None => (text, ""),
    };
    let Some(c) = find(word) else {
        return Err(format!(
            "unknown command `:{word}`: try :ctx :cluster :project :ns :env :app :sync :refresh :diff :actions :appsets :versions :dora :queue :shadow :theme :q (tab completes; esc closes)"
        ));
    };
    if c.arg == Arg::None && !arg.is_empty() {
        return Err(format!("`:{}` takes no argument", c.name));
    }
    let needs_app = matches!(
        c.name,
        "sync"
            | "refresh"
            | "hard-refresh"
            | "diff"
            | "defer"
            | "annotate"
            | "terminate"
            | "actions"
    );
    if needs_app && super::ops::targets(m).is_empty() {
        return Err(format!(
            "`:{}` acts on an app: select one first (or mark several with space)",
            c.name
        ));
    }
    let action = match c.name {
        "sync" => Some(Action::Sync),
        "refresh" => Some(Action::Refresh),
        "hard-refresh" => Some(Action::HardRefresh),
        "diff" => Some(Action::Diff),
        "defer" => Some(Action::Defer),
        "annotate" => Some(Action::Annotate),
        "terminate" => Some(Action::Terminate),
        "actions" => Some(Action::ResourceActions),
        "queue" => Some(Action::DriftQueue),
        "appsets" => return Ok(super::update::open_appsets(m)),
        "dora" => return Ok(super::update::open_dora(m)),
        "versions" => return Ok(super::update::open_versions(m)),
        "shadow" => Some(Action::ShadowReport),
        "help" => Some(Action::ToggleHelp),
        "q" => Some(Action::Quit),
        _ => None,
    };
    if let Some(a) = action {
        // Exactly what the key does, from the screen the command line was opened on.
        return Ok(super::update::perform(m, a));
    }
    match c.arg {
        Arg::Theme => {
            if arg.is_empty() {
                return Err(format!(
                    "`:theme NAME`: one of {}",
                    m.theme_names.join(", ")
                ));
            }
            Ok(vec![Effect::Theme(arg.to_string())])
        }
        Arg::Instance => {
            let mut f = m.view.filter.clone();
            if arg.is_empty() || arg.eq_ignore_ascii_case("all") {
                f.facets.remove(&Facet::Instance);
            } else {
                let names = m.instance_names();
                let Some(n) = names.iter().find(|n| n.eq_ignore_ascii_case(arg)) else {
                    return Err(format!(
                        "no instance `{arg}`; the instances: {}",
                        names.join(", ")
                    ));
                };
                f.facets.insert(Facet::Instance, vec![n.clone()]);
            }
            Ok(to_fleet(m, f))
        }
        Arg::Facet(facet) => {
            let mut f = m.view.filter.clone();
            if arg.is_empty() {
                f.facets.remove(&facet);
            } else {
                let known = values(m, c.arg);
                let ok = arg.contains('*') || known.iter().any(|v| v.eq_ignore_ascii_case(arg));
                if !ok {
                    return Err(format!(
                        "no app has {} `{arg}`{}",
                        facet.key(),
                        if known.is_empty() {
                            String::new()
                        } else {
                            format!(
                                "; there are: {}",
                                known.iter().take(8).cloned().collect::<Vec<_>>().join(", ")
                            )
                        }
                    ));
                }
                f.facets.insert(facet, vec![arg.to_string()]);
            }
            Ok(to_fleet(m, f))
        }
        Arg::App => {
            if arg.is_empty() {
                return Ok(to_fleet(m, m.view.filter.clone()));
            }
            let hits: Vec<_> = m
                .fleet
                .rows
                .iter()
                .filter(|r| r.key.name.eq_ignore_ascii_case(arg))
                .map(|r| r.key.clone())
                .collect();
            match hits.as_slice() {
                [] => Err(format!("no app `{arg}` in the fleet (tab completes names)")),
                [one] => Ok(super::update::open_app(m, one.clone())),
                _ => {
                    // The same name on several instances: show them, the operator picks.
                    let f = crate::model::filter::Filter::parse(arg).unwrap_or_default();
                    Ok(to_fleet(m, f))
                }
            }
        }
        Arg::None => Ok(vec![]),
    }
}

/// Back to the fleet with `filter`.
fn to_fleet(m: &mut Model, filter: crate::model::filter::Filter) -> Vec<Effect> {
    let mut fx = Vec::new();
    if let Screen::App(s) = &m.screen {
        fx.extend([
            Effect::Cancel(s.req_app),
            Effect::Cancel(s.req_tree),
            Effect::Cancel(s.req_events),
        ]);
    }
    if !matches!(m.screen, Screen::Fleet) {
        m.screen = Screen::Fleet;
    }
    super::update::set_filter(m, filter);
    fx
}

/// Keys while the command line is open.
pub fn act(m: &mut Model, a: Action) -> Vec<Effect> {
    match a {
        Action::Cancel | Action::Back => {
            m.command = None;
            vec![]
        }
        Action::Complete => {
            complete(m);
            vec![]
        }
        Action::Accept => {
            let text = m
                .command
                .as_ref()
                .map(|c| c.input.text.clone())
                .unwrap_or_default();
            // Closed before it runs: the command acts from the screen below, and the Enter
            // that ended it is spent.
            let saved = m.command.take();
            match run(m, &text) {
                Ok(fx) => fx,
                Err(e) => {
                    let mut cl = saved.unwrap_or(CommandLine {
                        input: TextInput {
                            text,
                            cursor: 0,
                            before: String::new(),
                            error: None,
                        },
                        cycle: None,
                    });
                    cl.input.error = Some(e);
                    m.command = Some(cl);
                    vec![]
                }
            }
        }
        _ => {
            if let Some(cl) = m.command.as_mut()
                && super::update::edit_text(&mut cl.input, a)
            {
                cl.cycle = None;
                cl.input.error = None;
            }
            vec![]
        }
    }
}

/// A typed character.
pub fn type_char(m: &mut Model, c: char) {
    if let Some(cl) = m.command.as_mut() {
        if c == ':' && cl.input.text.is_empty() {
            return;
        }
        super::update::insert_char(&mut cl.input, c);
        cl.cycle = None;
        cl.input.error = None;
    }
}
