//! Argo CD sync windows, exactly: which windows of a project match an application, which are
//! active at an instant, whether an automated or a manual sync may run, and the next instant an
//! automated sync is allowed (what `defer` waits for). The rules and their quirks are those of
//! Argo CD's `SyncWindows` (see docs/policy.md and the tests): open intervals, the time-zone
//! offset taken at "now" rather than at the instant evaluated, a schedule that never fires
//! counting as always active, an invalid window failing closed.

pub mod cron;

use chrono::{DateTime, Duration, Offset, TimeZone, Utc};
use serde::Serialize;

use crate::model::app::{Application, SyncWindow};
use crate::util::glob_match;

pub use cron::{Schedule, parse_go_duration};

/// What a window is matched against: the application's name and destination.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AppTarget {
    pub name: String,
    pub namespace: String,
    pub server: String,
    pub cluster_name: String,
}

impl AppTarget {
    pub fn of(app: &Application) -> AppTarget {
        AppTarget {
            name: app.metadata.name.clone(),
            namespace: app.spec.destination.namespace.clone(),
            server: app.spec.destination.server.clone(),
            cluster_name: app.spec.destination.name.clone(),
        }
    }
}

/// Argo CD's `globMatch` without negation: `*` alone matches anything, even an empty value.
fn glob(pattern: &str, value: &str) -> bool {
    pattern == "*" || glob_match(pattern, value)
}

/// `SyncWindow.Matches` for one window: OR of the selectors by default, AND of the selectors
/// that are set with `andOperator`; a window without selectors matches nothing.
pub fn window_matches(w: &SyncWindow, app: &AppTarget) -> bool {
    let apps =
        (!w.applications.is_empty()).then(|| w.applications.iter().any(|p| glob(p, &app.name)));
    let clusters = (!w.clusters.is_empty()).then(|| {
        w.clusters.iter().any(|p| {
            (!app.cluster_name.is_empty() && glob(p, &app.cluster_name))
                || (!app.server.is_empty() && glob(p, &app.server))
        })
    });
    let namespaces =
        (!w.namespaces.is_empty()).then(|| w.namespaces.iter().any(|p| glob(p, &app.namespace)));
    let set = [apps, clusters, namespaces];
    if set.iter().all(Option::is_none) {
        return false;
    }
    if w.and_operator {
        set.iter().flatten().all(|m| *m)
    } else {
        set.iter().flatten().any(|m| *m)
    }
}

/// The windows of `windows` that match `app`, in their order.
pub fn matching<'a>(windows: &'a [SyncWindow], app: &AppTarget) -> Vec<&'a SyncWindow> {
    windows.iter().filter(|w| window_matches(w, app)).collect()
}

/// A window made ready to evaluate: its schedule and duration parsed (or the error), its zone
/// offset taken at the reference instant.
#[derive(Debug, Clone)]
pub struct Compiled {
    pub window: SyncWindow,
    schedule: Result<Schedule, String>,
    duration: Result<Duration, String>,
    offset: Duration,
}

/// The offset of an IANA zone at `at`. `""` and `"UTC"` are UTC, `"Local"` is this machine's
/// zone, an unknown name falls back to UTC (Argo CD logs a warning and does the same).
pub fn zone_offset(zone: &str, at: DateTime<Utc>) -> Duration {
    match zone {
        "" | "UTC" => Duration::zero(),
        "Local" => Duration::seconds(
            chrono::Local
                .offset_from_utc_datetime(&at.naive_utc())
                .fix()
                .local_minus_utc() as i64,
        ),
        name => match name.parse::<chrono_tz::Tz>() {
            Ok(tz) => Duration::seconds(
                tz.offset_from_utc_datetime(&at.naive_utc())
                    .fix()
                    .local_minus_utc() as i64,
            ),
            Err(_) => {
                tracing::warn!(zone = name, "unknown time zone in a sync window; using UTC");
                Duration::zero()
            }
        },
    }
}

/// Whether a time-zone name is one Argo CD would accept.
pub fn zone_is_valid(zone: &str) -> bool {
    matches!(zone, "" | "UTC" | "Local") || zone.parse::<chrono_tz::Tz>().is_ok()
}

impl Compiled {
    pub fn new(window: &SyncWindow, offset_at: DateTime<Utc>) -> Compiled {
        let schedule = Schedule::parse(&window.schedule)
            .map_err(|e| format!("cannot parse schedule '{}': {e}", window.schedule));
        let duration = parse_go_duration(&window.duration)
            .map_err(|e| format!("cannot parse duration '{}': {e}", window.duration));
        Compiled {
            window: window.clone(),
            schedule,
            duration,
            offset: zone_offset(&window.time_zone, offset_at),
        }
    }

    pub fn is_allow(&self) -> bool {
        self.window.kind == "allow"
    }

    pub fn is_deny(&self) -> bool {
        self.window.kind == "deny"
    }

    /// `SyncWindow.active(t)`: `Next(t + off - duration) < t + off`.
    pub fn active(&self, t: DateTime<Utc>) -> Result<bool, String> {
        let schedule = self.schedule.as_ref().map_err(Clone::clone)?;
        let duration = *self.duration.as_ref().map_err(Clone::clone)?;
        let shifted = t + self.offset;
        Ok(match schedule.next(shifted - duration) {
            None => true,
            Some(next) => next < shifted,
        })
    }

    /// The real instants where this window opens and closes, for fires in the shifted
    /// timeline from `from` (exclusive) up to `until`; overlapping fires merged.
    fn boundaries(&self, from: DateTime<Utc>, until: DateTime<Utc>, out: &mut Vec<DateTime<Utc>>) {
        let (Ok(schedule), Ok(duration)) = (&self.schedule, &self.duration) else {
            return;
        };
        if *duration <= Duration::zero() {
            return;
        }
        let mut cursor = from + self.offset - *duration - Duration::seconds(1);
        let end = until + self.offset;
        let mut open: Option<(DateTime<Utc>, DateTime<Utc>)> = None;
        while let Some(fire) = schedule.next(cursor) {
            if fire > end {
                break;
            }
            match open {
                Some((s, e)) if fire < e => open = Some((s, fire + *duration)),
                Some((s, e)) => {
                    out.push(s - self.offset);
                    out.push(e - self.offset);
                    open = Some((fire, fire + *duration));
                }
                None => open = Some((fire, fire + *duration)),
            }
            cursor = fire;
        }
        if let Some((s, e)) = open {
            out.push(s - self.offset);
            out.push(e - self.offset);
        }
    }
}

/// The matching windows of one application, compiled against a reference instant ("now",
/// whose zone offsets apply to every instant evaluated, as in Argo CD).
#[derive(Debug, Clone, Default)]
pub struct Windows {
    pub list: Vec<Compiled>,
}

impl Windows {
    pub fn new<'a>(windows: impl IntoIterator<Item = &'a SyncWindow>, now: DateTime<Utc>) -> Self {
        Windows {
            list: windows.into_iter().map(|w| Compiled::new(w, now)).collect(),
        }
    }

    /// The windows of a project that match an application.
    pub fn for_app(project: &[SyncWindow], app: &AppTarget, now: DateTime<Utc>) -> Self {
        Windows::new(matching(project, app), now)
    }

    pub fn is_empty(&self) -> bool {
        self.list.is_empty()
    }

    /// `SyncWindows.active(t)`: the active windows in order; the first invalid window makes it
    /// an error.
    pub fn active(&self, t: DateTime<Utc>) -> Result<Vec<&Compiled>, String> {
        let mut out = Vec::new();
        for w in &self.list {
            if w.active(t)? {
                out.push(w);
            }
        }
        Ok(out)
    }

    /// `SyncWindows.inactiveAllows(t)`: allow windows not active at `t` (deny windows are not
    /// even parsed here).
    pub fn inactive_allows(&self, t: DateTime<Utc>) -> Result<Vec<&Compiled>, String> {
        let mut out = Vec::new();
        for w in self.list.iter().filter(|w| w.is_allow()) {
            if !w.active(t)? {
                out.push(w);
            }
        }
        Ok(out)
    }

    /// `SyncWindows.CanSync(isManual, operationStartTime)` at `now`. An invalid window is an
    /// error (and Argo CD's controller treats an error as "no").
    pub fn can_sync(
        &self,
        manual: bool,
        op_started: Option<DateTime<Utc>>,
        now: DateTime<Utc>,
    ) -> Result<bool, String> {
        if self.list.is_empty() {
            return Ok(true);
        }
        let active = self.active(now).map_err(invalid)?;
        let denies: Vec<&&Compiled> = active.iter().filter(|w| w.is_deny()).collect();
        if !denies.is_empty() {
            if manual && denies.iter().all(|w| w.window.manual_sync) {
                return Ok(true);
            }
            if let Some(start) = op_started
                && denies.iter().all(|w| w.window.sync_overrun)
                && self.can_sync_at(manual, start)?
            {
                return Ok(true);
            }
            return Ok(false);
        }
        if active.iter().any(|w| w.is_allow()) {
            return Ok(true);
        }
        let inactive = self.inactive_allows(now).map_err(invalid)?;
        if !inactive.is_empty() {
            if manual && inactive.iter().all(|w| w.window.manual_sync) {
                return Ok(true);
            }
            if let Some(start) = op_started
                && inactive.iter().all(|w| w.window.sync_overrun)
                && self.can_sync_at(manual, start)?
            {
                return Ok(true);
            }
            return Ok(false);
        }
        Ok(true)
    }

    /// `canSyncAtTime`: the same without the overrun branches.
    pub fn can_sync_at(&self, manual: bool, t: DateTime<Utc>) -> Result<bool, String> {
        if self.list.is_empty() {
            return Ok(true);
        }
        let active = self.active(t).map_err(invalid)?;
        let denies: Vec<&&Compiled> = active.iter().filter(|w| w.is_deny()).collect();
        if !denies.is_empty() {
            return Ok(manual && denies.iter().all(|w| w.window.manual_sync));
        }
        if active.iter().any(|w| w.is_allow()) {
            return Ok(true);
        }
        let inactive = self.inactive_allows(t).map_err(invalid)?;
        if !inactive.is_empty() {
            return Ok(manual && inactive.iter().all(|w| w.window.manual_sync));
        }
        Ok(true)
    }

    /// The earliest whole second `t ≥ now` at which an automated sync is allowed
    /// (`CanSync(false)` evaluated at `t`, offsets taken at `now`); `Ok(None)` when there is
    /// none within a year; an error when a window is invalid (fail closed: no defer target).
    pub fn next_auto_sync(&self, now: DateTime<Utc>) -> Result<Option<DateTime<Utc>>, String> {
        let now = ceil_second(now);
        if self.can_sync_at(false, now)? {
            return Ok(Some(now));
        }
        let mut searched = now;
        for days in [1, 8, 32, 366] {
            let until = now + Duration::days(days);
            let mut candidates = Vec::new();
            for w in &self.list {
                w.boundaries(searched, until, &mut candidates);
            }
            candidates.retain(|c| *c >= now);
            candidates.sort();
            candidates.dedup();
            for c in candidates {
                let c = ceil_second(c);
                for t in [c, c + Duration::seconds(1)] {
                    if t >= now && self.can_sync_at(false, t)? {
                        return Ok(Some(t));
                    }
                }
            }
            searched = until;
        }
        Ok(None)
    }

    /// The status Argo CD's CLI and UI print: "Sync Denied", "Manual Allowed" or "Sync Allowed".
    pub fn status(&self, now: DateTime<Utc>) -> Result<&'static str, String> {
        let active = self.active(now).map_err(invalid)?;
        let any_deny = active.iter().any(|w| w.is_deny());
        let any_allow = active.iter().any(|w| w.is_allow());
        let inactive = self.inactive_allows(now).map_err(invalid)?;
        if any_deny || (!any_allow && !inactive.is_empty()) {
            Ok(if self.can_sync(true, None, now)? {
                "Manual Allowed"
            } else {
                "Sync Denied"
            })
        } else {
            Ok("Sync Allowed")
        }
    }
}

fn invalid(e: String) -> String {
    if e.starts_with("invalid sync windows") {
        e
    } else {
        format!("invalid sync windows: {e}")
    }
}

fn ceil_second(t: DateTime<Utc>) -> DateTime<Utc> {
    use chrono::Timelike;
    if t.nanosecond() == 0 {
        t
    } else {
        t.with_nanosecond(0).unwrap_or(t) + Duration::seconds(1)
    }
}

/// The answer of `driftdeck windows` and of the decision's window state.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct WindowState {
    /// Whether any window of the project matches the application.
    pub matches: bool,
    /// The kinds of the matching windows active now, in the project's order.
    pub active: Vec<String>,
    pub can_sync_auto: bool,
    pub can_sync_manual: bool,
    /// Why the windows could not be evaluated (an invalid schedule, duration, kind or zone).
    pub error: Option<String>,
    /// The next instant an automated sync is allowed (now when it is allowed now).
    pub next_auto_sync: Option<DateTime<Utc>>,
}

/// Everything about one application's windows at `now`.
pub fn evaluate(project: &[SyncWindow], app: &AppTarget, now: DateTime<Utc>) -> WindowState {
    let matched = matching(project, app);
    let mut state = WindowState {
        matches: !matched.is_empty(),
        active: Vec::new(),
        can_sync_auto: true,
        can_sync_manual: true,
        error: None,
        next_auto_sync: Some(ceil_second(now)),
    };
    // Argo CD's validation refuses any other kind; evaluating such a window would silently
    // ignore it, so it is an error here.
    let kind_error = matched
        .iter()
        .find(|w| w.kind != "allow" && w.kind != "deny")
        .map(|w| {
            format!(
                "invalid sync windows: kind '{}' must be 'allow' or 'deny'",
                w.kind
            )
        });
    let windows = Windows::new(matched.iter().copied(), now);
    let result = (|| -> Result<(), String> {
        if let Some(e) = kind_error {
            return Err(e);
        }
        state.active = windows
            .active(now)
            .map_err(invalid)?
            .iter()
            .map(|w| w.window.kind.clone())
            .collect();
        state.can_sync_auto = windows.can_sync(false, None, now)?;
        state.can_sync_manual = windows.can_sync(true, None, now)?;
        state.next_auto_sync = windows.next_auto_sync(now)?;
        Ok(())
    })();
    if let Err(e) = result {
        state.error = Some(e);
        state.can_sync_auto = false;
        state.can_sync_manual = false;
        state.next_auto_sync = None;
    }
    state
}

#[cfg(test)]
mod tests;
