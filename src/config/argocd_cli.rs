//! The `argocd` CLI's own config file (`localconfig.LocalConfig`): where driftdeck finds the
//! contexts and tokens a user already logged in with.

use std::path::PathBuf;

use serde::Deserialize;

/// `~/.config/argocd/config` (or `$XDG_CONFIG_HOME/argocd/config`), else the legacy
/// `~/.argocd/config` when that one exists.
pub fn argocd_cli_config_path() -> Option<PathBuf> {
    let home = std::env::var_os("HOME").map(PathBuf::from);
    let xdg = std::env::var_os("XDG_CONFIG_HOME")
        .map(PathBuf::from)
        .or_else(|| home.as_ref().map(|h| h.join(".config")));
    let modern = xdg.map(|x| x.join("argocd").join("config"));
    let legacy = home.map(|h| h.join(".argocd").join("config"));
    match (modern, legacy) {
        (Some(m), _) if m.exists() => Some(m),
        (_, Some(l)) if l.exists() => Some(l),
        (m, _) => m,
    }
}

/// The `argocd` CLI's config file (`localconfig.LocalConfig`).
#[derive(Debug, Default, Deserialize)]
#[serde(default, rename_all = "kebab-case")]
pub struct ArgocdCliConfig {
    pub contexts: Vec<CliContext>,
    pub current_context: String,
    pub servers: Vec<CliServer>,
    pub users: Vec<CliUser>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct CliContext {
    pub name: String,
    pub server: String,
    pub user: String,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default, rename_all = "kebab-case")]
pub struct CliServer {
    pub server: String,
    pub insecure: bool,
    pub plain_text: bool,
    pub grpc_web_root_path: String,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default, rename_all = "kebab-case")]
pub struct CliUser {
    pub name: String,
    pub auth_token: String,
    pub refresh_token: String,
}

impl ArgocdCliConfig {
    pub fn parse(text: &str) -> Result<Self, String> {
        serde_yaml::from_str(text).map_err(|e| e.to_string())
    }

    /// The context to use: the named one, else the one whose server is `host_port`, else none.
    pub fn context_for(
        &self,
        name: Option<&str>,
        host_port: &str,
        host: &str,
    ) -> Option<&CliContext> {
        match name {
            Some(n) => self.contexts.iter().find(|c| c.name == n),
            None => self
                .contexts
                .iter()
                .find(|c| c.server == host_port)
                .or_else(|| self.contexts.iter().find(|c| c.server == host)),
        }
    }

    pub fn user(&self, name: &str) -> Option<&CliUser> {
        self.users.iter().find(|u| u.name == name)
    }
}
