//! `config.toml`: the Argo CD instances, kube contexts, theme, keymap and behaviour. Loading never
//! panics: every problem is reported with the file and the line.

pub mod argocd_cli;
pub mod decide;
pub mod fleet;
pub mod paths;
pub mod serve;

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// The whole configuration file.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// Theme name: a builtin (`default`, ...) or `<config dir>/themes/NAME.toml`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub theme: Option<String>,
    /// Keymap name: a builtin (`default`, `vim`, `emacs`) or `<config dir>/keymaps/NAME.toml`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub keymap: Option<String>,
    /// Hide and refuse every action on every instance.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub read_only: bool,
    /// No animation, fewer redraws: for slow SSH links.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub low_bandwidth: bool,
    /// Colours: `auto` (detect from COLORTERM and TERM), `truecolor`, `256`, `16` or `none`.
    /// `--colors` overrides it; `NO_COLOR` overrides both.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub colors: Option<ColorDepth>,
    /// Mouse: click a row, a tab or a column header, scroll with the wheel (default on; hold
    /// shift to select text in most terminals).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mouse: Option<bool>,
    /// Also watch every context of the `argocd` CLI's config (`argocd login` sessions, SSO
    /// included) as an instance. Without any `[[instances]]`, they are used anyway.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub argocd_contexts: bool,
    /// Apps (globs of their names, e.g. "payments-*") whose dangerous actions want the app's
    /// name typed; the label `driftdeck.io/protected: "true"` on an Application does the same.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub protected: Vec<String>,
    /// Production apps (an `env` or `environment` label of prod, production, prd or live) are
    /// protected too: their dangerous actions want the name typed, and autonomous mode never
    /// acts on them. On by default; `false` treats them as any other app.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub protect_production: Option<bool>,
    /// The pager for `p` in the diff screen (default: $PAGER, else `less -R`). Run without a shell.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pager: Option<String>,
    /// An external diff tool for `e` in the diff screen, given the live and desired files
    /// (e.g. `vimdiff`, `delta`, `code --diff --wait`). Run without a shell.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub diff_tool: Option<String>,
    #[serde(rename = "instances", skip_serializing_if = "Vec::is_empty")]
    pub instances: Vec<InstanceConfig>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kube: Option<KubeConfig>,
    /// The Rego policy bundle: the builtin one, extended or replaced.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub policy: Option<decide::PolicyConfig>,
    /// Mode, threshold, advisor, autonomy.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub decide: Option<decide::DecideConfig>,
    /// Context sources for decisions.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub context: Option<decide::ContextConfig>,
    /// The decision journal: the key of its head's MAC.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub journal: Option<JournalConfig>,
    /// The drift SLA and app families across environments.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fleet: Option<fleet::FleetConfig>,
    /// `driftdeck serve`: its address, identity and leader election.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub serve: Option<serve::ServeConfig>,
    /// The team's `driftdeck serve`, whose decisions the TUI shows and reviews.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub team: Option<TeamConfig>,
}

/// `[team]`: a `driftdeck serve` daemon the team shares.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TeamConfig {
    /// Its address, e.g. `http://driftdeck.argocd.svc:9464` (or a port-forward).
    pub url: String,
    /// The environment variable holding its API token (default `DRIFTDECK_API_TOKEN`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub token_env: Option<String>,
}

/// `[journal]`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct JournalConfig {
    /// A file with a secret key (at least 16 bytes, mode 0600): the journal's head then carries
    /// an HMAC-SHA256, so a re-computed chain with a re-written head is detected too.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub key_file: Option<PathBuf>,
}

impl JournalConfig {
    /// Reads a key file: it must be readable by nobody but its owner and hold at least 16
    /// bytes (surrounding whitespace is not part of the key).
    pub fn read_key(path: &Path) -> Result<Vec<u8>, String> {
        #[cfg(unix)]
        {
            use std::os::unix::fs::MetadataExt;
            let m = std::fs::metadata(path)
                .map_err(|e| format!("[journal] key_file {}: {e}", path.display()))?;
            if m.mode() & 0o077 != 0 {
                return Err(format!(
                    "[journal] key_file {} can be read by others (mode {:o}): run `chmod 600 {}`",
                    path.display(),
                    m.mode() & 0o777,
                    path.display()
                ));
            }
        }
        let bytes = std::fs::read(path)
            .map_err(|e| format!("[journal] key_file {}: {e}", path.display()))?;
        let trimmed = bytes.trim_ascii().to_vec();
        if trimmed.len() < 16 {
            return Err(format!(
                "[journal] key_file {} holds fewer than 16 bytes; write a random key, e.g. `head -c 32 /dev/urandom | base64 > {}`",
                path.display(),
                path.display()
            ));
        }
        Ok(trimmed)
    }
}

/// Loads the config file. A missing default config is not an error for commands that do not
/// need instances; a missing explicit one is.
pub fn load_user(paths: &paths::Paths) -> Result<Option<Config>, Vec<FileError>> {
    if !paths.config_file.exists() {
        if paths.config_explicit {
            return Err(vec![FileError::new(
                &paths.config_file,
                None,
                "the config file does not exist; create it (see `driftdeck print-default config`) or try `driftdeck demo`",
            )]);
        }
        // No config: the contexts of `argocd login` are the instances, when there are any.
        let mut cfg = Config::default();
        return Ok((cfg.add_argocd_contexts() > 0).then_some(cfg));
    }
    let mut cfg = Config::load(&paths.config_file)?;
    if cfg.instances.is_empty() || cfg.argocd_contexts {
        cfg.add_argocd_contexts();
    }
    Ok(Some(cfg))
}

/// The `colors` setting.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ColorDepth {
    Auto,
    #[serde(alias = "24bit")]
    Truecolor,
    #[serde(rename = "256")]
    C256,
    #[serde(rename = "16")]
    C16,
    None,
}

/// One Argo CD API server.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct InstanceConfig {
    /// Shown in the fleet view; unique.
    pub name: String,
    /// `https://argocd.example.com` (the API server, not the UI path).
    pub url: String,
    /// A bearer token written in the file. Prefer `token_env` or `token_command`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub token: Option<String>,
    /// Name of an environment variable that holds the token.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub token_env: Option<String>,
    /// A command whose standard output is the token (run without a shell).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub token_command: Option<String>,
    /// A file that holds the token; it must not be readable by others (mode 0600).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub token_file: Option<PathBuf>,
    /// Reuse a session of the `argocd` CLI: the context name in its config file.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub argocd_context: Option<String>,
    /// The `argocd` CLI's config file (default `~/.config/argocd/config`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub argocd_config: Option<PathBuf>,
    /// Log in with a local account through `/api/v1/session`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub username: Option<String>,
    /// Environment variable holding the password for `username`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub password_env: Option<String>,
    /// PEM file of the CA that signed the server's certificate.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ca_file: Option<PathBuf>,
    /// Skip TLS verification. Only when written here explicitly; the screen says so.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub insecure: bool,
    /// Hide and refuse actions on this instance.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub read_only: bool,
    /// Only these projects (server-side filter).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub projects: Vec<String>,
    /// Label selector for the applications (server-side filter).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub selector: Option<String>,
    /// The kubeconfig context of the cluster this Argo CD runs in, where its Applications
    /// live: `driftdeck serve` writes its Events there and holds its Lease there (default: the
    /// context named after the instance; `in-cluster` for the service account of the pod).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kube_context: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct KubeConfig {
    /// A kubeconfig with one context per cluster; the context name is the cluster's name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kubeconfig: Option<PathBuf>,
    /// Argo CD destinations (cluster name or server URL) to kubeconfig contexts, where the
    /// context is not named after the cluster and its server differs.
    #[serde(skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub contexts: std::collections::BTreeMap<String, String>,
}

pub use crate::file_error::FileError;

/// Every problem of a config whose TOML is valid but does not fit: the first with its exact
/// line (from the parser), then each other top-level key that is wrong on its own, at the line
/// where that key starts. A syntax error stops at the first one (what follows it is unknown).
fn every_problem(path: &Path, text: &str, first: &toml::de::Error) -> Vec<FileError> {
    use serde::Deserialize;
    let mut errs = vec![FileError::from_toml(path, text, first)];
    let Ok(table) = text.parse::<toml::Table>() else {
        return errs;
    };
    for (k, v) in &table {
        let mut one = toml::Table::new();
        one.insert(k.clone(), v.clone());
        if let Err(e) = Config::deserialize(toml::Value::Table(one)) {
            let message = e.message().trim().to_string();
            if errs.iter().any(|x| x.message == message) {
                continue;
            }
            errs.push(FileError::new(path, key_line(text, k), message));
        }
    }
    errs
}

/// Line (1-based) where top-level key `k` is set or its table starts.
fn key_line(text: &str, k: &str) -> Option<usize> {
    text.lines()
        .position(|l| {
            let l = l.trim_start();
            let name = l.trim_start_matches('[').trim_start();
            (l.starts_with('[')
                && (name.starts_with(&format!("{k}]")) || name.starts_with(&format!("{k}."))))
                || l.strip_prefix(k)
                    .is_some_and(|rest| rest.trim_start().starts_with('='))
                || l.strip_prefix(&format!("\"{k}\""))
                    .is_some_and(|rest| rest.trim_start().starts_with('='))
        })
        .map(|i| i + 1)
}

/// Line (1-based) where a `[[instances]]` entry with this name is declared, for messages.
fn line_of(text: &str, needle: &str) -> Option<usize> {
    text.find(needle)
        .map(|i| text[..i].matches('\n').count() + 1)
}

impl Config {
    /// Takes the operator's own settings from `user` (looks, keys, tools, protections, and
    /// the `[decide]`, `[policy]` and `[context]` sections, mode included), for a config that
    /// names other instances (the demo's).
    pub fn carry_personal_settings(&mut self, user: &Config) {
        self.theme = user.theme.clone();
        self.keymap = user.keymap.clone();
        self.pager = user.pager.clone();
        self.diff_tool = user.diff_tool.clone();
        self.colors = user.colors;
        self.mouse = user.mouse;
        self.low_bandwidth = user.low_bandwidth;
        self.read_only |= user.read_only;
        self.protected.extend(user.protected.iter().cloned());
        if user.protect_production.is_some() {
            self.protect_production = user.protect_production;
        }
        // How decisions are made (mode included): the demo decides as the TUI would.
        if user.decide.is_some() {
            self.decide = user.decide.clone();
        }
        if user.policy.is_some() {
            self.policy = user.policy.clone();
        }
        if user.context.is_some() {
            self.context = user.context.clone();
        }
        if user.fleet.is_some() {
            self.fleet = user.fleet.clone();
        }
        if user.serve.is_some() {
            self.serve = user.serve.clone();
        }
        if user.team.is_some() {
            self.team = user.team.clone();
        }
    }

    /// Adds an instance for every context of the `argocd` CLI's config that the config does
    /// not name already (by instance name); returns how many were added.
    pub fn add_argocd_contexts(&mut self) -> usize {
        let Some(path) = argocd_cli::argocd_cli_config_path() else {
            return 0;
        };
        let Ok(text) = std::fs::read_to_string(&path) else {
            return 0;
        };
        let Ok(cli) = argocd_cli::ArgocdCliConfig::parse(&text) else {
            return 0;
        };
        let mut added = 0;
        for ctx in &cli.contexts {
            if ctx.name.is_empty() || self.instances.iter().any(|i| i.name == ctx.name) {
                continue;
            }
            let server = cli.servers.iter().find(|s| s.server == ctx.server);
            let plain = server.is_some_and(|s| s.plain_text);
            let url = if ctx.server.contains("://") {
                ctx.server.clone()
            } else {
                format!("{}://{}", if plain { "http" } else { "https" }, ctx.server)
            };
            self.instances.push(InstanceConfig {
                name: ctx.name.clone(),
                url,
                insecure: server.is_some_and(|s| s.insecure),
                argocd_context: Some(ctx.name.clone()),
                argocd_config: Some(path.clone()),
                ..Default::default()
            });
            added += 1;
        }
        added
    }

    /// Parses and validates a config file's text. Every problem is returned, not just the first.
    pub fn parse(path: &Path, text: &str) -> Result<Config, Vec<FileError>> {
        let cfg: Config = toml::from_str(text).map_err(|e| every_problem(path, text, &e))?;
        let errs = cfg.validate(path, text);
        if errs.is_empty() { Ok(cfg) } else { Err(errs) }
    }

    pub fn load(path: &Path) -> Result<Config, Vec<FileError>> {
        let text = std::fs::read_to_string(path).map_err(|e| {
            vec![FileError::new(
                path,
                None,
                format!("cannot read the config file: {e}"),
            )]
        })?;
        Config::parse(path, &text)
    }

    fn validate(&self, path: &Path, text: &str) -> Vec<FileError> {
        let mut errs = Vec::new();
        let mut seen = std::collections::HashSet::new();
        for (i, inst) in self.instances.iter().enumerate() {
            let line = line_of(text, &format!("\"{}\"", inst.name)).or_else(|| {
                text.match_indices("[[instances]]")
                    .nth(i)
                    .map(|(p, _)| text[..p].matches('\n').count() + 1)
            });
            let mut err = |m: String| errs.push(FileError::new(path, line, m));
            if inst.name.trim().is_empty() {
                err(format!(
                    "instance #{} has no `name`; give each instance a short unique name",
                    i + 1
                ));
            } else if !seen.insert(inst.name.clone()) {
                err(format!(
                    "two instances are named `{}`; names must be unique",
                    inst.name
                ));
            }
            match url_parts(&inst.url) {
                Ok(_) => {}
                Err(m) => err(format!("instance `{}`: {m}", inst.name)),
            }
            let sources = [
                inst.token.is_some(),
                inst.token_env.is_some(),
                inst.token_command.is_some(),
                inst.token_file.is_some(),
                inst.username.is_some(),
            ]
            .iter()
            .filter(|b| **b)
            .count();
            if sources > 1 {
                err(format!(
                    "instance `{}` sets more than one of token, token_env, token_command, token_file and username; keep one",
                    inst.name
                ));
            }
            if inst.username.is_some() && inst.password_env.is_none() {
                err(format!(
                    "instance `{}` has `username` but no `password_env`: name the environment variable that holds the password",
                    inst.name
                ));
            }
            if let Some(cmd) = &inst.token_command {
                match crate::util::split_command(cmd) {
                    Ok(w) if w.is_empty() => {
                        err(format!("instance `{}`: token_command is empty", inst.name))
                    }
                    Ok(_) => {}
                    Err(m) => err(format!("instance `{}`: token_command: {m}", inst.name)),
                }
            }
        }
        let section_line = |section: &str, key: &str| {
            let start = text.find(section)?;
            let rel = text[start..].find(key).map(|i| start + i).unwrap_or(start);
            Some(text[..rel].matches('\n').count() + 1)
        };
        if let Some(d) = &self.decide {
            for (key, m) in d.problems() {
                errs.push(FileError::new(path, section_line("[decide", key), m));
            }
        }
        if let Some(f) = &self.fleet {
            for (key, m) in f.problems() {
                errs.push(FileError::new(path, section_line("[fleet", key), m));
            }
        }
        if let Some(s) = &self.serve {
            for (key, m) in s.problems() {
                errs.push(FileError::new(path, section_line("[serve", key), m));
            }
        }
        if let Some(t) = &self.team
            && let Err(m) = crate::clients::team::TeamClient::from_config(t)
        {
            errs.push(FileError::new(path, section_line("[team", "url"), m));
        }
        if let Some(c) = &self.context {
            for (key, m) in c.problems() {
                errs.push(FileError::new(path, section_line("[context", key), m));
            }
        }
        if let Some(p) = &self.policy {
            if let Some(dir) = &p.dir
                && !dir.is_dir()
            {
                errs.push(FileError::new(
                    path,
                    section_line("[policy", "dir"),
                    format!("the policy directory {} does not exist", dir.display()),
                ));
            }
            for f in &p.data {
                if !f.is_file() {
                    errs.push(FileError::new(
                        path,
                        section_line("[policy", "data"),
                        format!("the policy data file {} does not exist", f.display()),
                    ));
                }
            }
        }
        if let Some(kf) = self.journal.as_ref().and_then(|j| j.key_file.as_ref())
            && let Err(m) = JournalConfig::read_key(kf)
        {
            errs.push(FileError::new(
                path,
                section_line("[journal", "key_file"),
                m,
            ));
        }
        errs
    }
}

/// Scheme, host and port of an instance URL; an error sentence when it is not usable.
pub fn url_parts(url: &str) -> Result<(String, String, u16), String> {
    let url = url.trim();
    if url.is_empty() {
        return Err(
            "`url` is missing; write the Argo CD API server's URL, e.g. https://argocd.example.com"
                .into(),
        );
    }
    let (scheme, rest) = url
        .split_once("://")
        .ok_or_else(|| format!("`{url}` has no scheme; write https://{url}"))?;
    let default_port = match scheme {
        "https" => 443,
        "http" => 80,
        s => {
            return Err(format!(
                "`{url}` uses `{s}`; use https:// (or http:// for a local server)"
            ));
        }
    };
    let hostport = rest.split('/').next().unwrap_or("");
    if hostport.is_empty() {
        return Err(format!("`{url}` has no host"));
    }
    let (host, port) = match hostport.rsplit_once(':') {
        Some((h, p)) if !h.ends_with(']') || hostport.starts_with('[') => match p.parse::<u16>() {
            Ok(p) => (h.to_string(), p),
            Err(_) => return Err(format!("`{url}` has a bad port `{p}`")),
        },
        _ => (hostport.to_string(), default_port),
    };
    Ok((scheme.to_string(), host, port))
}

/// The builtin config shown by `driftdeck print-default config`.
pub const DEFAULT_CONFIG: &str = include_str!("../../assets/config.example.toml");

#[cfg(test)]
mod tests {
    use super::*;

    fn p() -> PathBuf {
        PathBuf::from("/tmp/config.toml")
    }

    #[test]
    fn every_wrong_key_is_reported_with_its_line() {
        let text =
            "theme = \"light\"\ncolors = \"lots\"\nmouse = \"yes\"\n\n[kube]\nkubeconfig = 3\n";
        let errs = Config::parse(&p(), text).unwrap_err();
        let got: Vec<(Option<usize>, bool)> = errs
            .iter()
            .map(|e| (e.line, e.message.is_empty()))
            .collect();
        assert_eq!(
            got,
            vec![(Some(2), false), (Some(5), false), (Some(3), false)],
            "{errs:?}"
        );
        assert!(errs[0].message.contains("lots"));
        assert!(errs[1].message.contains("path"));
        assert!(errs[2].message.contains("boolean"));
        // A syntax error: only the first (nothing after it can be trusted).
        let errs = Config::parse(&p(), "colors = \"16\"\nmouse = [\n").unwrap_err();
        assert_eq!(errs.len(), 1, "{errs:?}");
    }

    #[test]
    fn the_example_config_parses() {
        let cfg = Config::parse(&p(), DEFAULT_CONFIG).unwrap();
        assert!(!cfg.instances.is_empty());
    }

    #[test]
    fn the_example_mcp_source_parses_and_a_bad_one_is_told() {
        // The example's [[context.mcp]], uncommented.
        let start = DEFAULT_CONFIG.find("# [[context.mcp]]").unwrap();
        let end = DEFAULT_CONFIG[start..].find("# [journal]").unwrap() + start;
        let text: String = DEFAULT_CONFIG[start..end]
            .lines()
            .filter(|l| !l.starts_with("# # "))
            .map(|l| {
                format!(
                    "{}\n",
                    l.trim_start_matches("# ").split("  #").next().unwrap_or("")
                )
            })
            .collect();
        let cfg = Config::parse(&p(), &text).unwrap();
        let m = &cfg.context.as_ref().unwrap().mcp[0];
        assert_eq!(m.name, "prometheus-mcp");
        assert_eq!(m.signals["request_rate"].tool, "execute_query");
        assert!(m.alerts.is_some());
        assert!(cfg.context.unwrap().problems().is_empty());
        let bad = "[[context.mcp]]\nname = \"a\"\ncommand = [\"x\"]\nurl = \"http://h/mcp\"\n[[context.mcp]]\nname = \"a\"\ncommand = [\"y\"]\n";
        let probs: Vec<String> = Config::parse(&p(), bad)
            .unwrap_err()
            .into_iter()
            .map(|e| e.message)
            .collect();
        assert!(
            probs.iter().any(|m| m.contains("one of command")),
            "{probs:?}"
        );
        assert!(
            probs
                .iter()
                .any(|m| m.contains("two [[context.mcp]] are named `a`")),
            "{probs:?}"
        );
        assert!(
            probs.iter().any(|m| m.contains("asks for nothing")),
            "{probs:?}"
        );
    }

    #[test]
    fn the_contract_keys_parse() {
        let text = r#"
[[instances]]
name = "demo-eu"
url = "http://127.0.0.1:41234"
token = "eyJ.a.b"
[kube]
kubeconfig = "/path/to/kubeconfig"
"#;
        let cfg = Config::parse(&p(), text).unwrap();
        assert_eq!(cfg.instances[0].name, "demo-eu");
        assert_eq!(
            cfg.kube.unwrap().kubeconfig.unwrap(),
            PathBuf::from("/path/to/kubeconfig")
        );
    }

    #[test]
    fn unknown_key_is_reported_with_its_line() {
        let text = "[[instances]]\nname = \"a\"\nurl = \"https://x\"\ntokn = \"t\"\n";
        let errs = Config::parse(&p(), text).unwrap_err();
        assert_eq!(errs[0].line, Some(4), "{errs:?}");
        assert!(errs[0].message.contains("tokn"), "{errs:?}");
        assert!(errs[0].to_string().starts_with("/tmp/config.toml:4:"));
    }

    #[test]
    fn every_problem_is_reported() {
        let text = "[[instances]]\nname = \"a\"\nurl = \"ftp://x\"\n[[instances]]\nname = \"a\"\nurl = \"\"\ntoken = \"t\"\ntoken_env = \"T\"\n";
        let errs = Config::parse(&p(), text).unwrap_err();
        let all: Vec<String> = errs.iter().map(|e| e.message.clone()).collect();
        assert!(all.iter().any(|m| m.contains("ftp")), "{all:?}");
        assert!(all.iter().any(|m| m.contains("unique")), "{all:?}");
        assert!(all.iter().any(|m| m.contains("url` is missing")), "{all:?}");
        assert!(all.iter().any(|m| m.contains("more than one")), "{all:?}");
    }

    #[test]
    fn bad_toml_is_located() {
        let errs = Config::parse(&p(), "theme = \n").unwrap_err();
        assert_eq!(errs[0].line, Some(1));
    }

    #[test]
    fn url_parts_read_ports() {
        assert_eq!(
            url_parts("https://argocd.example.com").unwrap(),
            ("https".into(), "argocd.example.com".into(), 443)
        );
        assert_eq!(
            url_parts("http://127.0.0.1:8080/x").unwrap(),
            ("http".into(), "127.0.0.1".into(), 8080)
        );
        assert!(url_parts("argocd.example.com").is_err());
        assert!(url_parts("https://h:99999").is_err());
    }
}
