//! The mutable state of one demo Argo CD instance: its apps, the resourceVersion counter, issued
//! tokens, and the broadcast of watch events. Guarded by a std `RwLock` that is never held across
//! an `.await`.

use std::collections::{BTreeMap, HashSet};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use base64::Engine;
use tokio::sync::broadcast;

use super::generator::{ClusterData, DemoApp, InstanceData};
use super::resources::refresh_status;
use crate::model::app::{AppProject, Application};

/// A change of one app, as the watch stream forwards it.
#[derive(Debug, Clone)]
pub struct WatchEvent {
    pub kind: &'static str,
    pub app: Arc<Application>,
}

/// Injected misbehaviour, for tests (and the `--faults` profiles).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Faults {
    /// Answer every authenticated API call with this HTTP status and a grpc-gateway error body.
    pub status: Option<u16>,
    /// Answer API calls with truncated JSON.
    pub malformed: bool,
    /// Delay every answer by this much.
    pub delay: Option<Duration>,
    /// Stop sending keep-alives and events on streams (a stalled stream).
    pub stall_streams: bool,
    /// Faults drawn per request (`--faults`).
    pub profile: super::faults::FaultProfile,
}

pub struct InstanceState {
    pub name: String,
    pub clusters: Vec<ClusterData>,
    pub projects: Vec<AppProject>,
    pub apps: BTreeMap<String, DemoApp>,
    /// The instance's ApplicationSets (their status is computed from `apps`).
    pub appsets: Vec<super::appsets::DemoAppSet>,
    /// Serves resource actions as an Argo CD before 3.1 does: no `.../resource/actions/v2`,
    /// and `POST .../resource/actions` takes the whole request (with its parameters).
    pub actions_before_3_1: bool,
    pub rv: u64,
    tokens: HashSet<String>,
    expired: HashSet<String>,
    pub password: String,
    /// RBAC of the demo's admin: `(action, object)` pairs it is denied on `applications`, where
    /// the object is `project/app` and `*` matches any run of characters (as Argo CD's globs).
    pub denied: Vec<(String, String)>,
}

impl InstanceState {
    /// Whether the admin may do `action` on the app (Argo CD's `can-i applications ACTION
    /// project/app`).
    pub fn can(&self, action: &str, object: &str) -> bool {
        !self
            .denied
            .iter()
            .any(|(a, o)| crate::util::glob_match(a, action) && crate::util::glob_match(o, object))
    }
}

pub struct Instance {
    pub state: RwLock<InstanceState>,
    pub events: broadcast::Sender<WatchEvent>,
    pub faults: RwLock<Faults>,
    /// Bumped to close every open stream (a dropped stream).
    pub drop_streams: tokio::sync::watch::Sender<u64>,
    pub keepalive: Duration,
    /// A fixed "now" (unix seconds) for reproducible replies; `None` follows the wall clock.
    pub clock: Option<i64>,
    /// Draws the faults of the profile.
    pub dice: super::faults::Dice,
    /// Where the current token is written when tokens are rotated (a `token_file`).
    pub token_file: RwLock<Option<std::path::PathBuf>>,
    /// When tokens were last rotated (unix seconds).
    rotated_at: std::sync::atomic::AtomicI64,
    /// Requests received (what `bench faults` counts retries with).
    pub requests: std::sync::atomic::AtomicU64,
    /// Events posted to the instance's control plane (by `driftdeck serve`, kubectl...): its
    /// Kubernetes API stores them, and Argo CD's app events include those of the app.
    pub posted_events: crate::demo::kube::events::Store,
}

/// The signing key of demo tokens. The demo server only accepts tokens it issued, so this is a
/// label, not a security boundary.
const DEMO_SIG: &str = "driftdeck-demo";

impl Instance {
    pub fn new(data: InstanceData, password: String, keepalive: Duration) -> Arc<Instance> {
        Self::with_clock(data, password, keepalive, None)
    }

    pub fn with_clock(
        data: InstanceData,
        password: String,
        keepalive: Duration,
        clock: Option<i64>,
    ) -> Arc<Instance> {
        let mut apps = BTreeMap::new();
        let mut rv = 100_000u64;
        let now = clock.unwrap_or_else(|| chrono::Utc::now().timestamp());
        for mut a in data.apps {
            rv += 1;
            a.app.metadata.resource_version = rv.to_string();
            refresh_status(&mut a, now);
            apps.insert(a.app.metadata.name.clone(), a);
        }
        let (events, _) = broadcast::channel(8192);
        let (drop_streams, _) = tokio::sync::watch::channel(0);
        Arc::new(Instance {
            state: RwLock::new(InstanceState {
                name: data.name,
                clusters: data.clusters,
                projects: data.projects,
                apps,
                appsets: data.appsets,
                actions_before_3_1: false,
                rv,
                tokens: HashSet::new(),
                expired: HashSet::new(),
                password,
                denied: Vec::new(),
            }),
            events,
            faults: RwLock::new(Faults::default()),
            drop_streams,
            keepalive,
            clock,
            dice: super::faults::Dice::new(now as u64 ^ 0x5eed),
            token_file: RwLock::new(None),
            rotated_at: std::sync::atomic::AtomicI64::new(now),
            requests: std::sync::atomic::AtomicU64::new(0),
            posted_events: Default::default(),
        })
    }

    /// The time replies are computed at (unix seconds).
    pub fn now(&self) -> i64 {
        self.clock.unwrap_or_else(|| chrono::Utc::now().timestamp())
    }

    pub fn read(&self) -> std::sync::RwLockReadGuard<'_, InstanceState> {
        self.state.read().unwrap_or_else(|p| p.into_inner())
    }
    pub fn write(&self) -> std::sync::RwLockWriteGuard<'_, InstanceState> {
        self.state.write().unwrap_or_else(|p| p.into_inner())
    }
    pub fn faults(&self) -> Faults {
        self.faults
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }
    pub fn set_faults(&self, f: Faults) {
        *self.faults.write().unwrap_or_else(|p| p.into_inner()) = f;
    }

    /// Applies `change` to an app, bumps its resourceVersion, recomputes its status and
    /// broadcasts a MODIFIED event. Returns false when there is no such app.
    pub fn modify(&self, name: &str, change: impl FnOnce(&mut DemoApp)) -> bool {
        let now = self.now();
        let ev = {
            let mut st = self.write();
            st.rv += 1;
            let rv = st.rv;
            let Some(app) = st.apps.get_mut(name) else {
                return false;
            };
            change(app);
            refresh_status(app, now);
            app.app.metadata.resource_version = rv.to_string();
            WatchEvent {
                kind: "MODIFIED",
                app: Arc::new(app.app.clone()),
            }
        };
        let _ = self.events.send(ev);
        true
    }

    /// Issues a session token for `user`, valid for `ttl`.
    pub fn issue_token(&self, user: &str, now: i64, ttl: i64) -> String {
        let mut st = self.write();
        let jti = st.tokens.len() + st.expired.len() + 1;
        let b64 = |s: &str| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(s);
        let header = b64(r#"{"alg":"HS256","typ":"JWT"}"#);
        let payload = b64(&format!(
            r#"{{"iss":"argocd","sub":"{user}:login","exp":{},"nbf":{now},"iat":{now},"jti":"{}-{jti}"}}"#,
            now + ttl,
            st.name
        ));
        let sig_src = format!("{DEMO_SIG}.{header}.{payload}");
        let sig = sig_src.bytes().fold(0xcbf29ce484222325u64, |h, b| {
            (h ^ b as u64).wrapping_mul(0x100000001b3)
        });
        let token = format!(
            "{header}.{payload}.{}",
            b64(&format!("{sig:016x}{sig:016x}"))
        );
        st.tokens.insert(token.clone());
        token
    }

    /// Under a profile that rotates tokens: once their lifetime is over, expires them all and
    /// writes a fresh one to the token file.
    pub fn rotate_tokens_if_due(&self, profile: super::faults::FaultProfile, now: i64) {
        use std::sync::atomic::Ordering;
        if !profile.rotates_tokens() {
            return;
        }
        let last = self.rotated_at.load(Ordering::SeqCst);
        let life = super::faults::TOKEN_LIFETIME.as_secs() as i64;
        if now - last < life
            || self
                .rotated_at
                .compare_exchange(last, now, Ordering::SeqCst, Ordering::SeqCst)
                .is_err()
        {
            return;
        }
        self.rotate_tokens(now);
    }

    /// Writes a fresh token to the token file (when there is one), then expires every other:
    /// as a rotation job does it, the new token is in place before the old ones stop working.
    pub fn rotate_tokens(&self, now: i64) {
        let token = self.issue_token("admin", now, 30 * 86_400);
        let file = self
            .token_file
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone();
        if let Some(path) = file
            && let Err(e) = super::write_private(&path, token.as_bytes())
        {
            tracing::warn!(error = %e, "demo: cannot write the rotated token");
        }
        let mut st = self.write();
        let old: Vec<String> = st.tokens.iter().filter(|t| **t != token).cloned().collect();
        for t in old {
            st.tokens.remove(&t);
            st.expired.insert(t);
        }
    }

    /// Makes every issued token expired (the demo of an expired session).
    pub fn expire_tokens(&self) {
        let mut st = self.write();
        let all: Vec<String> = st.tokens.drain().collect();
        st.expired.extend(all);
    }

    pub fn check_token(&self, token: &str, now: i64) -> Result<(), &'static str> {
        let st = self.read();
        if st.tokens.contains(token) {
            match crate::clients::argocd::auth::jwt_expiry(token) {
                Some(exp) if exp < now => {
                    Err("invalid session: token has invalid claims: token is expired")
                }
                _ => Ok(()),
            }
        } else if st.expired.contains(token) {
            Err("invalid session: token has invalid claims: token is expired")
        } else {
            Err("invalid session: token signature is invalid")
        }
    }
}

/// Leaves at most `share` of the fleet's apps OutOfSync: the others' hand edits and leftover
/// objects are undone (an HPA's scaling is no drift and stays). Which apps stay drifted is
/// fixed by their salt, so the same seed and share give the same fleet (`demo --drifted`).
pub fn limit_drift(insts: &[Arc<Instance>], share: f64) {
    use super::generator::Drift;
    let total: usize = insts.iter().map(|i| i.read().apps.len()).sum();
    let keep = (total as f64 * share.clamp(0.0, 1.0)).round() as usize;
    let mut drifted: Vec<(u64, usize, String)> = Vec::new();
    for (i, inst) in insts.iter().enumerate() {
        for (name, a) in &inst.read().apps {
            if a.app.status.sync.status == "OutOfSync" {
                drifted.push((
                    a.w.salt.wrapping_mul(0x9E37_79B9_7F4A_7C15),
                    i,
                    name.clone(),
                ));
            }
        }
    }
    drifted.sort_unstable();
    for (_, i, name) in drifted.into_iter().skip(keep) {
        insts[i].modify(&name, |a| {
            a.w.drifts
                .retain(|d| matches!(d, Drift::Replicas { by_hpa: true, .. }));
            a.w.orphans.clear();
            a.w.deployed_tag = None;
        });
    }
}
