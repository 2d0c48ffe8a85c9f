//! Defer: pause self-heal until a time, recording why and the sync policy that was in force on
//! the Application itself, and restore it when due (the TUI while it runs, `driftdeck
//! deferrals apply` from cron).

use chrono::{DateTime, Offset, Utc};
use serde::Serialize;
use serde_json::{Value, json};

use super::{
    ActionError, DEFER_REASON, DEFERRED_UNTIL, PAUSE_REASON, PAUSED_POLICY, Session, Target,
    annotation_ops,
};
use crate::model::app::{Application, SyncPolicy};

/// A deferral as the Application records it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Deferral {
    pub until: DateTime<Utc>,
    pub reason: String,
    /// The sync policy in force before (None: the app had none).
    pub previous: Option<SyncPolicy>,
}

/// What the end of a deferral may be written as, for messages and the dialog's label.
pub const UNTIL_FORMS: &str = "2h, 30m, 1h30m, 1d, tomorrow 02:00, 18:30 (local time), or RFC 3339";

/// The end of a deferral from what an operator typed, relative to `now`: a duration (`2h`,
/// `30m`, `1h30m`, `1d`, `90s`, optionally after `in ` or `+`), a local clock time (`18:30`
/// the next time it comes, `today 18:30`, `tomorrow 02:00`), or an RFC 3339 time. `offset` is
/// the local time zone's offset (the machine's, through [`parse_until`]). Always in the
/// future; every error is a sentence that lists the forms.
pub fn parse_until_at(
    text: &str,
    now: DateTime<Utc>,
    offset: chrono::FixedOffset,
) -> Result<DateTime<Utc>, String> {
    let t = text.trim();
    let bad = || format!("{t:?} is not a time: write {UNTIL_FORMS}");
    if t.is_empty() {
        return Err(format!("the end is empty: write {UNTIL_FORMS}"));
    }
    let until = if let Ok(x) = DateTime::parse_from_rfc3339(t) {
        x.with_timezone(&Utc)
    } else if let Some(d) = parse_duration(
        t.strip_prefix("in ")
            .or_else(|| t.strip_prefix('+'))
            .unwrap_or(t)
            .trim(),
    ) {
        now + d
    } else {
        let lower = t.to_ascii_lowercase();
        let (day, clock) = match lower.split_once(' ') {
            Some(("today", c)) => (Some(0), c.trim()),
            Some(("tomorrow", c)) => (Some(1), c.trim()),
            None if lower == "tomorrow" => (Some(1), "now"),
            None => (None, lower.as_str()),
            _ => return Err(bad()),
        };
        let local_now = now.with_timezone(&offset);
        let time = if clock == "now" {
            local_now.time()
        } else {
            chrono::NaiveTime::parse_from_str(clock, "%H:%M").map_err(|_| bad())?
        };
        let date = local_now.date_naive() + chrono::Duration::days(day.unwrap_or(0));
        let mut at = date
            .and_time(time)
            .and_local_timezone(offset)
            .single()
            .ok_or_else(bad)?
            .with_timezone(&Utc);
        if day.is_none() && at <= now {
            // A bare clock time is the next time it comes.
            at += chrono::Duration::days(1);
        }
        at
    };
    if until <= now {
        return Err(format!(
            "{t:?} is not in the future: the end of a deferral must come after now"
        ));
    }
    Ok(until)
}

/// [`parse_until_at`] in the machine's local time zone.
pub fn parse_until(text: &str, now: DateTime<Utc>) -> Result<DateTime<Utc>, String> {
    let offset = now.with_timezone(&chrono::Local).offset().fix();
    parse_until_at(text, now, offset)
}

/// `2h`, `30m`, `1h30m`, `1d`, `90s`, `2 h`: days, hours, minutes and seconds, summed.
fn parse_duration(s: &str) -> Option<chrono::Duration> {
    let mut s: String = s
        .chars()
        .filter(|c| !c.is_whitespace())
        .collect::<String>()
        .to_ascii_lowercase();
    for (long, short) in [
        ("minutes", "m"),
        ("minute", "m"),
        ("mins", "m"),
        ("min", "m"),
        ("hours", "h"),
        ("hour", "h"),
        ("hrs", "h"),
        ("hr", "h"),
        ("days", "d"),
        ("day", "d"),
        ("seconds", "s"),
        ("secs", "s"),
        ("sec", "s"),
    ] {
        s = s.replace(long, short);
    }
    if s.is_empty() || !s.chars().next()?.is_ascii_digit() {
        return None;
    }
    let mut total = chrono::Duration::zero();
    let mut num = String::new();
    for c in s.chars() {
        if c.is_ascii_digit() {
            num.push(c);
            continue;
        }
        let n: i64 = num.parse().ok()?;
        num.clear();
        let unit = match c {
            'd' => chrono::Duration::try_days(n)?,
            'h' => chrono::Duration::try_hours(n)?,
            'm' => chrono::Duration::try_minutes(n)?,
            's' => chrono::Duration::try_seconds(n)?,
            _ => return None,
        };
        total = total.checked_add(&unit)?;
    }
    if !num.is_empty() {
        return None;
    }
    Some(total)
}

/// Reads the deferral annotations of an app; `Err` when they are there but unreadable.
pub fn deferral_of(app: &Application) -> Option<Result<Deferral, String>> {
    let a = &app.metadata.annotations;
    let until = a.get(DEFERRED_UNTIL)?;
    Some((|| {
        let until = DateTime::parse_from_rfc3339(until)
            .map_err(|e| format!("{DEFERRED_UNTIL} is not an RFC 3339 time ({until:?}): {e}"))?
            .with_timezone(&Utc);
        let previous = previous_policy(app)?;
        Ok(Deferral {
            until,
            reason: a.get(DEFER_REASON).cloned().unwrap_or_default(),
            previous,
        })
    })())
}

/// The sync policy recorded in `driftdeck.io/paused-self-heal` (None: there was none).
pub fn previous_policy(app: &Application) -> Result<Option<SyncPolicy>, String> {
    match app.metadata.annotations.get(PAUSED_POLICY) {
        None => Ok(app.spec.sync_policy.clone()),
        Some(s) => serde_json::from_str::<Option<SyncPolicy>>(s)
            .map_err(|e| format!("{PAUSED_POLICY} is not a sync policy ({s:?}): {e}")),
    }
}

/// The value recorded before pausing: the policy already recorded (an app paused twice keeps
/// the first), else the one in force.
fn policy_to_record(app: &Application) -> String {
    app.metadata
        .annotations
        .get(PAUSED_POLICY)
        .cloned()
        .unwrap_or_else(|| {
            serde_json::to_string(&app.spec.sync_policy).unwrap_or_else(|_| "null".into())
        })
}

/// Patches with a JSON patch built from the app as read; when someone changed the app in
/// between (the resourceVersion test fails), reads it again and retries once.
pub(super) async fn patch_fresh(
    session: &Session,
    t: &Target,
    mut app: Application,
    build: impl Fn(&Application) -> Result<Vec<Value>, ActionError>,
) -> Result<Application, ActionError> {
    for attempt in 0..2 {
        let ops = build(&app)?;
        match session
            .client
            .patch_app(&t.name, t.ns(), &Value::Array(ops), "json")
            .await
        {
            Ok(a) => return Ok(a),
            Err(crate::clients::argocd::ArgoError::Refused { message, .. })
                if attempt == 0 && message.contains("test failed") =>
            {
                app = session.app(t).await?;
            }
            Err(e) => return Err(e.into()),
        }
    }
    Err(ActionError::Failed(format!(
        "{} kept changing while driftdeck patched it; try again",
        t.name
    )))
}

/// Defers the drift of `t` until `until`: records the reason, the end and the sync policy in
/// force, and turns self-heal off so Argo CD stops reverting it meanwhile.
pub async fn defer(
    session: &Session,
    t: &Target,
    until: DateTime<Utc>,
    reason: &str,
    now: DateTime<Utc>,
) -> Result<Application, ActionError> {
    if reason.trim().is_empty() {
        return Err(ActionError::Refused(
            "a deferral needs a reason (--reason TEXT); nothing was changed".into(),
        ));
    }
    if until <= now {
        return Err(ActionError::Refused(format!(
            "the deferral would end at {} which is not in the future; nothing was changed",
            until.to_rfc3339()
        )));
    }
    let app = session.app(t).await?;
    session.check(&app, "update").await?;
    let until_s = until.to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    let res = patch_fresh(session, t, app, |app| {
        let mut ops = annotation_ops(
            app,
            &[
                (DEFERRED_UNTIL, until_s.clone()),
                (DEFER_REASON, reason.trim().to_string()),
                (PAUSED_POLICY, policy_to_record(app)),
            ],
            &[],
        );
        if app.self_heal() {
            ops.push(json!({
                "op": "replace",
                "path": "/spec/syncPolicy/automated/selfHeal",
                "value": false,
            }));
        }
        Ok(ops)
    })
    .await;
    session
        .record_answer(
            json!({
                "action": "defer",
                "app": t.name,
                "app_namespace": t.app_namespace,
                "until": until_s,
                "reason": reason,
                "outcome": match &res { Ok(_) => "deferred".to_string(), Err(e) => e.to_string() },
            }),
            crate::decide::Verdict::Defer,
        )
        .await?;
    res
}

/// A hold driftdeck keeps on an app's sync policy. Holds stack (see docs/architecture.md,
/// "Stacked pauses"): `driftdeck.io/paused-self-heal` records the policy in force before the
/// first of them, each hold has its own marks, and the recorded policy comes back only when the
/// last hold ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Hold {
    /// A deferral: self-heal off until `driftdeck.io/deferred-until`.
    Deferral,
    /// A guided rollback: auto-sync off (`driftdeck.io/pause-reason`) until an operator
    /// restores it.
    Rollback,
}

impl Hold {
    fn marks(self) -> &'static [&'static str] {
        match self {
            Hold::Deferral => &[DEFERRED_UNTIL, DEFER_REASON],
            Hold::Rollback => &[PAUSE_REASON],
        }
    }
    fn held(self, app: &Application) -> bool {
        app.metadata.annotations.contains_key(self.marks()[0])
    }
}

/// The holds an app carries.
pub fn holds(app: &Application) -> Vec<Hold> {
    [Hold::Rollback, Hold::Deferral]
        .into_iter()
        .filter(|h| h.held(app))
        .collect()
}

/// The sync policy driftdeck keeps on an app while `holds` apply, from the one recorded
/// before them: a rollback turns auto-sync off; a deferral turns self-heal off; with no hold
/// the recorded policy itself.
pub fn held_policy(recorded: Option<&SyncPolicy>, holds: &[Hold]) -> Option<SyncPolicy> {
    let mut p = recorded.cloned();
    if let Some(p) = &mut p {
        if holds.contains(&Hold::Rollback) {
            p.automated = None;
        } else if holds.contains(&Hold::Deferral)
            && let Some(a) = &mut p.automated
        {
            a.self_heal = false;
        }
    }
    p.filter(|p| *p != SyncPolicy::default())
}

fn same_policy(a: Option<&SyncPolicy>, b: Option<&SyncPolicy>) -> bool {
    let n = |p: Option<&SyncPolicy>| p.filter(|p| **p != SyncPolicy::default()).cloned();
    n(a) == n(b)
}

/// What ending a hold did to the sync policy.
#[derive(Debug, Clone, PartialEq)]
pub struct Restored {
    pub app: Application,
    /// Holds that remain (the policy stays paused for them).
    pub remaining: Vec<Hold>,
    /// Someone changed the sync policy since driftdeck paused it, so it was left as they set
    /// it (an automatic restore never overwrites an operator's edit).
    pub left_as_edited: bool,
}

impl Restored {
    /// One line for reports: what the policy is now, and why.
    pub fn summary(&self) -> String {
        let state = format!(
            "auto-sync {}, self-heal {}",
            if self.app.auto_sync() { "on" } else { "off" },
            if self.app.self_heal() { "on" } else { "off" }
        );
        if self.left_as_edited {
            format!(
                "{state} (left as an operator set it: the sync policy was changed by hand since driftdeck paused it)"
            )
        } else if self.remaining.contains(&Hold::Rollback) {
            format!(
                "{state} (a guided rollback still holds it: restore with `driftdeck rollback APP --restore-only`)"
            )
        } else if self.remaining.contains(&Hold::Deferral) {
            format!("{state} (a deferral still holds it)")
        } else {
            format!("{state} (the recorded policy)")
        }
    }
}

/// Ends one hold: removes its marks and sets the policy the remaining holds call for (the
/// recorded one when none remains, removing the record too). When someone changed the policy
/// since driftdeck paused it, an automatic restore leaves their policy alone; `explicit` (the
/// operator asked for this restore) puts driftdeck's policy back anyway. Journaled as `action`.
pub(super) async fn end_hold(
    session: &Session,
    t: &Target,
    hold: Hold,
    action: &str,
    explicit: bool,
) -> Result<Restored, ActionError> {
    let app = session.app(t).await?;
    session.check(&app, "update").await?;
    if !app.metadata.annotations.contains_key(PAUSED_POLICY) && !hold.held(&app) {
        return Err(ActionError::Refused(format!(
            "{} has no paused sync policy recorded ({PAUSED_POLICY}); nothing to restore",
            t.name
        )));
    }
    let outcome = std::sync::Mutex::new((Vec::new(), false));
    let res = patch_fresh(session, t, app, |app| {
        let recorded = previous_policy(app).map_err(ActionError::Failed)?;
        let now_holds = holds(app);
        let remaining: Vec<Hold> = now_holds.iter().copied().filter(|h| *h != hold).collect();
        let set_by_driftdeck = held_policy(recorded.as_ref(), &now_holds);
        let edited = app.metadata.annotations.contains_key(PAUSED_POLICY)
            && !same_policy(app.spec.sync_policy.as_ref(), set_by_driftdeck.as_ref());
        let mut marks: Vec<&str> = hold.marks().to_vec();
        if remaining.is_empty() {
            marks.push(PAUSED_POLICY);
        }
        let mut ops = annotation_ops(app, &[], &marks);
        if !edited || explicit {
            let want = if remaining.is_empty() {
                recorded.filter(|p| *p != SyncPolicy::default())
            } else {
                held_policy(recorded.as_ref(), &remaining)
            };
            if !same_policy(app.spec.sync_policy.as_ref(), want.as_ref()) {
                match want {
                    Some(p) => {
                        ops.push(json!({"op": "add", "path": "/spec/syncPolicy", "value": p}))
                    }
                    None if app.spec.sync_policy.is_some() => {
                        ops.push(json!({"op": "remove", "path": "/spec/syncPolicy"}))
                    }
                    None => {}
                }
            }
        }
        if let Ok(mut o) = outcome.lock() {
            *o = (remaining, edited && !explicit);
        }
        Ok(ops)
    })
    .await;
    let (remaining, left_as_edited) = outcome.into_inner().unwrap_or_default();
    let res = res.map(|app| Restored {
        app,
        remaining,
        left_as_edited,
    });
    session
        .record(json!({
            "action": action,
            "app": t.name,
            "app_namespace": t.app_namespace,
            "outcome": match &res {
                Ok(r) => format!("restored: {}", r.summary()),
                Err(e) => e.to_string(),
            },
        }))
        .await?;
    res
}

/// Ends a deferral now (it came due, or an operator ends it): removes its marks and restores
/// self-heal, unless a guided rollback still holds the app or someone changed the policy
/// meanwhile.
pub async fn restore(session: &Session, t: &Target) -> Result<Restored, ActionError> {
    end_hold(session, t, Hold::Deferral, "restore-deferral", false).await
}

/// Restores the auto-sync a guided rollback paused: the exact policy recorded before it
/// (a deferral that still holds keeps self-heal off until it ends).
pub async fn restore_auto_sync(session: &Session, t: &Target) -> Result<Restored, ActionError> {
    end_hold(session, t, Hold::Rollback, "restore-auto-sync", true).await
}

/// A deferral found on an instance.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Found {
    pub target: Target,
    pub deferral: Result<Deferral, String>,
}

impl Found {
    pub fn due(&self, now: DateTime<Utc>) -> bool {
        self.deferral.as_ref().is_ok_and(|d| d.until <= now)
    }
}

/// Every deferred app of the session's instance.
pub async fn list(session: &Session) -> Result<Vec<Found>, ActionError> {
    let l = session
        .client
        .list_apps(
            &Default::default(),
            Some(&[
                "items.metadata.name",
                "items.metadata.namespace",
                "items.metadata.annotations",
                "items.spec",
            ]),
        )
        .await?;
    Ok(l.items
        .iter()
        .filter_map(|a| {
            deferral_of(a).map(|d| Found {
                target: session.target(a),
                deferral: d,
            })
        })
        .collect())
}

#[cfg(test)]
mod until_tests {
    use super::*;
    use chrono::{FixedOffset, TimeZone};

    fn now() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 12, 3, 20, 15, 0).unwrap()
    }

    #[test]
    fn durations_clock_times_and_rfc3339() {
        let utc = FixedOffset::east_opt(0).unwrap();
        let cet = FixedOffset::east_opt(3600).unwrap();
        let at = |s: &str, o| parse_until_at(s, now(), o).map(|t| t.to_rfc3339());
        assert_eq!(at("2h", utc).unwrap(), "2026-12-03T22:15:00+00:00");
        assert_eq!(at("30m", utc).unwrap(), "2026-12-03T20:45:00+00:00");
        assert_eq!(at("in 1h30m", utc).unwrap(), "2026-12-03T21:45:00+00:00");
        assert_eq!(at("+1d", utc).unwrap(), "2026-12-04T20:15:00+00:00");
        assert_eq!(at("45 min", utc).unwrap(), "2026-12-03T21:00:00+00:00");
        assert_eq!(at("2 Hours", utc).unwrap(), "2026-12-03T22:15:00+00:00");
        assert_eq!(
            at("tomorrow 02:00", utc).unwrap(),
            "2026-12-04T02:00:00+00:00"
        );
        // Local time: 02:00 in UTC+1 is 01:00 UTC.
        assert_eq!(
            at("tomorrow 02:00", cet).unwrap(),
            "2026-12-04T01:00:00+00:00"
        );
        assert_eq!(at("today 23:00", utc).unwrap(), "2026-12-03T23:00:00+00:00");
        // A bare clock time is the next time it comes.
        assert_eq!(at("21:00", utc).unwrap(), "2026-12-03T21:00:00+00:00");
        assert_eq!(at("08:00", utc).unwrap(), "2026-12-04T08:00:00+00:00");
        assert_eq!(
            at("2026-12-05T10:00:00Z", utc).unwrap(),
            "2026-12-05T10:00:00+00:00"
        );
    }

    #[test]
    fn the_past_and_nonsense_are_sentences_that_list_the_forms() {
        let utc = FixedOffset::east_opt(0).unwrap();
        for bad in [
            "",
            "soon",
            "2x",
            "30",
            "h2",
            "tomorrow 25:00",
            "yesterday 02:00",
        ] {
            let e = parse_until_at(bad, now(), utc).unwrap_err();
            assert!(e.contains("RFC 3339") && e.contains("2h"), "{bad:?}: {e}");
        }
        for past in ["today 08:00", "2026-12-01T00:00:00Z", "0m"] {
            let e = parse_until_at(past, now(), utc).unwrap_err();
            assert!(e.contains("not in the future"), "{past:?}: {e}");
        }
    }
}
