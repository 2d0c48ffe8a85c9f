//! Where an instance's bearer token comes from: the config, an environment variable, a command,
//! a 0600 file, the `argocd` CLI's own config (so that an `argocd login --sso` session is reused),
//! or a username/password login through `/api/v1/session`.

use std::path::{Path, PathBuf};
use std::time::Duration;

use base64::Engine;

use super::error::ArgoError;
use crate::config::InstanceConfig;
use crate::util::{Secret, split_command};

/// How to obtain a token, decided once from the config.
#[derive(Debug, Clone, PartialEq)]
pub enum TokenSource {
    /// No credentials: only the unauthenticated endpoints will work.
    None,
    Inline(Secret),
    Env(String),
    Command(Vec<String>),
    File(PathBuf),
    /// The `argocd` CLI config file and, optionally, the context to use.
    ArgocdCli {
        path: PathBuf,
        context: Option<String>,
    },
    /// Local account login; the password comes from this environment variable.
    Login {
        username: String,
        password_env: String,
    },
}

impl TokenSource {
    pub fn from_config(cfg: &InstanceConfig) -> TokenSource {
        if let Some(t) = &cfg.token {
            return TokenSource::Inline(Secret::new(t.clone()));
        }
        if let Some(v) = &cfg.token_env {
            return TokenSource::Env(v.clone());
        }
        if let Some(c) = &cfg.token_command {
            return TokenSource::Command(split_command(c).unwrap_or_default());
        }
        if let Some(f) = &cfg.token_file {
            return TokenSource::File(f.clone());
        }
        if let (Some(u), Some(p)) = (&cfg.username, &cfg.password_env) {
            return TokenSource::Login {
                username: u.clone(),
                password_env: p.clone(),
            };
        }
        let path = cfg.argocd_config.clone().or_else(argocd_cli_config_path);
        match path {
            Some(path) if cfg.argocd_context.is_some() || path.exists() => TokenSource::ArgocdCli {
                path,
                context: cfg.argocd_context.clone(),
            },
            _ => TokenSource::None,
        }
    }

    /// Whether a 401 may be cured by asking the source again (a command or a login).
    pub fn can_renew(&self) -> bool {
        matches!(
            self,
            TokenSource::Command(_)
                | TokenSource::Login { .. }
                | TokenSource::File(_)
                | TokenSource::ArgocdCli { .. }
        )
    }
}

pub use crate::config::argocd_cli::{
    ArgocdCliConfig, CliContext, CliServer, CliUser, argocd_cli_config_path,
};

/// The `exp` claim of a JWT (unix seconds), without verifying anything: only to tell a person
/// their token has expired before the server does.
pub fn jwt_expiry(token: &str) -> Option<i64> {
    let payload = token.split('.').nth(1)?;
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload.trim_end_matches('='))
        .ok()?;
    let v: serde_json::Value = serde_json::from_slice(&bytes).ok()?;
    v.get("exp")?.as_i64()
}

/// Whether a bearer value "looks like a JWT" to Argo CD (three dot-separated parts).
pub fn looks_like_jwt(token: &str) -> bool {
    token.splitn(3, '.').count() == 3
}

/// Resolves a token from a non-login source. `server` is `host[:port]` for messages and for
/// finding the `argocd` CLI context.
pub async fn resolve(
    source: &TokenSource,
    instance: &str,
    server: &str,
    host: &str,
) -> Result<Option<Secret>, ArgoError> {
    let cred = |detail: String| ArgoError::Credentials {
        instance: instance.to_string(),
        detail,
    };
    let token = match source {
        TokenSource::None | TokenSource::Login { .. } => return Ok(None),
        TokenSource::Inline(s) => s.clone(),
        TokenSource::Env(var) => match std::env::var(var) {
            Ok(v) if !v.trim().is_empty() => Secret::new(v.trim()),
            _ => {
                return Err(cred(format!(
                    "the environment variable {var} is not set; export it or change `token_env`"
                )));
            }
        },
        TokenSource::Command(argv) => run_token_command(argv).await.map_err(cred)?,
        TokenSource::File(path) => read_token_file(path).map_err(cred)?,
        TokenSource::ArgocdCli { path, context } => {
            let text = std::fs::read_to_string(path).map_err(|e| {
                cred(format!(
                    "cannot read the argocd CLI config {}: {e}; run `argocd login {server}`",
                    path.display()
                ))
            })?;
            let cfg = ArgocdCliConfig::parse(&text).map_err(|e| {
                cred(format!(
                    "the argocd CLI config {} is not valid YAML: {e}",
                    path.display()
                ))
            })?;
            let Some(ctx) = cfg.context_for(context.as_deref(), server, host) else {
                return match context {
                    Some(c) => Err(cred(format!(
                        "the argocd CLI config {} has no context `{c}`; run `argocd context` to list them",
                        path.display()
                    ))),
                    None => Ok(None),
                };
            };
            match cfg.user(&ctx.user) {
                Some(u) if !u.auth_token.is_empty() => Secret::new(u.auth_token.clone()),
                _ => {
                    return Err(ArgoError::Unauthenticated {
                        server: server.to_string(),
                        message: format!("the argocd CLI context `{}` has no token", ctx.name),
                    });
                }
            }
        }
    };
    if let Some(exp) = jwt_expiry(token.expose())
        && exp < chrono::Utc::now().timestamp()
    {
        return Err(ArgoError::TokenExpired {
            server: server.to_string(),
        });
    }
    Ok(Some(token))
}

async fn run_token_command(argv: &[String]) -> Result<Secret, String> {
    let (prog, args) = argv
        .split_first()
        .ok_or_else(|| "token_command is empty".to_string())?;
    let fut = tokio::process::Command::new(prog)
        .args(args)
        .stdin(std::process::Stdio::null())
        .kill_on_drop(true)
        .output();
    let out = tokio::time::timeout(Duration::from_secs(30), fut)
        .await
        .map_err(|_| format!("token_command `{prog}` did not finish within 30 s"))?
        .map_err(|e| format!("cannot run token_command `{prog}`: {e}"))?;
    if !out.status.success() {
        let err = String::from_utf8_lossy(&out.stderr);
        let first = err.lines().next().unwrap_or("").trim();
        return Err(format!(
            "token_command `{prog}` failed ({}){}",
            out.status,
            if first.is_empty() {
                String::new()
            } else {
                format!(": {first}")
            }
        ));
    }
    let token = String::from_utf8_lossy(&out.stdout).trim().to_string();
    if token.is_empty() {
        return Err(format!("token_command `{prog}` printed nothing"));
    }
    Ok(Secret::new(token))
}

/// Reads a token file, refusing one that others can read.
pub fn read_token_file(path: &Path) -> Result<Secret, String> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let meta = std::fs::metadata(path)
            .map_err(|e| format!("cannot read token_file {}: {e}", path.display()))?;
        let mode = meta.permissions().mode() & 0o777;
        if mode & 0o077 != 0 {
            return Err(format!(
                "token_file {} is readable by others (mode {mode:o}); run `chmod 600 {}`",
                path.display(),
                path.display()
            ));
        }
    }
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("cannot read token_file {}: {e}", path.display()))?;
    let t = text.trim();
    if t.is_empty() {
        return Err(format!("token_file {} is empty", path.display()));
    }
    Ok(Secret::new(t))
}

#[cfg(test)]
mod tests {
    use super::*;

    const CLI: &str = r#"
contexts:
- name: argocd.example.com
  server: argocd.example.com
  user: argocd.example.com
- name: local
  server: localhost:8080
  user: local-admin
current-context: argocd.example.com
servers:
- grpc-web-root-path: ""
  server: argocd.example.com
- server: localhost:8080
  plain-text: true
users:
- auth-token: aaa.bbb.ccc
  name: argocd.example.com
  refresh-token: rrr
- auth-token: ddd.eee.fff
  name: local-admin
"#;

    #[test]
    fn cli_config_finds_context_by_server_or_name() {
        let c = ArgocdCliConfig::parse(CLI).unwrap();
        let ctx = c.context_for(None, "localhost:8080", "localhost").unwrap();
        assert_eq!(c.user(&ctx.user).unwrap().auth_token, "ddd.eee.fff");
        let ctx = c
            .context_for(None, "argocd.example.com:443", "argocd.example.com")
            .unwrap();
        assert_eq!(ctx.name, "argocd.example.com");
        assert!(c.context_for(Some("nope"), "x", "x").is_none());
        assert!(c.servers[1].plain_text);
    }

    #[test]
    fn jwt_expiry_is_read_without_verification() {
        let payload = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .encode(br#"{"exp":1700000000,"sub":"admin"}"#);
        let token = format!("eyJhbGciOiJIUzI1NiJ9.{payload}.sig");
        assert_eq!(jwt_expiry(&token), Some(1_700_000_000));
        assert_eq!(jwt_expiry("not-a-jwt"), None);
        assert!(looks_like_jwt(&token));
        assert!(!looks_like_jwt("abc"));
    }

    #[tokio::test]
    async fn an_expired_cli_session_says_how_to_renew() {
        let dir = tempfile::tempdir().unwrap();
        let payload = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(br#"{"exp":1000}"#);
        let text = format!(
            "contexts:\n- name: c\n  server: h:1\n  user: u\nusers:\n- name: u\n  auth-token: x.{payload}.y\n"
        );
        let path = dir.path().join("config");
        std::fs::write(&path, text).unwrap();
        let src = TokenSource::ArgocdCli {
            path,
            context: None,
        };
        let err = resolve(&src, "i", "h:1", "h").await.unwrap_err();
        assert_eq!(
            err,
            ArgoError::TokenExpired {
                server: "h:1".into()
            }
        );
        assert!(err.to_string().contains("argocd login h:1"));
    }

    #[tokio::test]
    async fn token_command_runs_without_a_shell() {
        let src = TokenSource::Command(vec!["echo".into(), "a.b.c".into(), "$HOME".into()]);
        let t = resolve(&src, "i", "h", "h").await.unwrap().unwrap();
        assert_eq!(t.expose(), "a.b.c $HOME", "no shell expansion");
        let bad = TokenSource::Command(vec!["false".into()]);
        let e = resolve(&bad, "i", "h", "h").await.unwrap_err();
        assert!(
            e.to_string().contains("token_command `false` failed"),
            "{e}"
        );
    }

    #[cfg(unix)]
    #[test]
    fn token_file_must_be_private() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("t");
        std::fs::write(&p, "a.b.c\n").unwrap();
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o644)).unwrap();
        assert!(read_token_file(&p).unwrap_err().contains("chmod 600"));
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o600)).unwrap();
        assert_eq!(read_token_file(&p).unwrap().expose(), "a.b.c");
    }

    #[tokio::test]
    async fn missing_env_var_is_a_sentence() {
        let src = TokenSource::Env("DRIFTDECK_TEST_SURELY_UNSET_VAR".into());
        let e = resolve(&src, "prod", "h", "h").await.unwrap_err();
        assert!(
            e.to_string()
                .contains("DRIFTDECK_TEST_SURELY_UNSET_VAR is not set"),
            "{e}"
        );
    }
}
