//! Argo CD's own sync-window table tests (types_test.go), ported with fixed clocks, plus the
//! boundary, time-zone and next-allowed-instant cases they leave out.

#![allow(clippy::type_complexity)]

use super::*;
use crate::model::app::SyncWindow;

fn at(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
}

fn win(kind: &str, schedule: &str, duration: &str, tz: &str) -> SyncWindow {
    SyncWindow {
        kind: kind.into(),
        schedule: schedule.into(),
        duration: duration.into(),
        time_zone: tz.into(),
        ..Default::default()
    }
}

const NY: &str = "America/New_York";
const DHAKA: &str = "Asia/Dhaka";
/// Two reference clocks, summer (EDT) and winter (EST): the offset is taken at "now".
const REFS: [&str; 2] = ["2024-06-15T12:34:56Z", "2024-01-15T12:34:56Z"];

fn active_idx(ws: &[SyncWindow], t: &str, reference: &str) -> Result<Vec<usize>, String> {
    let windows = Windows::new(ws, at(reference));
    let act = windows.active(at(t))?;
    Ok(act
        .iter()
        .map(|a| {
            windows
                .list
                .iter()
                .position(|w| std::ptr::eq(w, *a))
                .unwrap()
        })
        .collect())
}

fn inactive_idx(ws: &[SyncWindow], t: &str, reference: &str) -> Result<Vec<usize>, String> {
    let windows = Windows::new(ws, at(reference));
    let act = windows.inactive_allows(at(t))?;
    Ok(act
        .iter()
        .map(|a| {
            windows
                .list
                .iter()
                .position(|w| std::ptr::eq(w, *a))
                .unwrap()
        })
        .collect())
}

#[test]
fn sync_windows_active() {
    let pair =
        |a: &str, b: &str, d: &str, tz: &str| vec![win("allow", a, d, tz), win("allow", b, d, tz)];
    #[rustfmt::skip]
    let cases: Vec<(&str, Vec<SyncWindow>, &str, Option<Vec<usize>>)> = vec![
        ("MatchFirst", pair("* 10 * * *", "* 14 * * *", "2h", ""), "2024-06-15T11:00:00Z", Some(vec![0])),
        ("MatchSecond", pair("* 10 * * *", "* 14 * * *", "2h", ""), "2024-06-15T15:00:00Z", Some(vec![1])),
        ("MatchBoth", pair("* 10 * * *", "* 11 * * *", "3h", ""), "2024-06-15T12:00:00Z", Some(vec![0, 1])),
        ("MatchNone", pair("* 10 * * *", "* 14 * * *", "2h", ""), "2024-06-15T17:00:00Z", Some(vec![])),
        ("MatchFirst-NonUTC", pair("* 10 * * *", "* 14 * * *", "2h", ""), "2024-06-15T07:00:00-04:00", Some(vec![0])),
        ("MatchSecond-NonUTC", pair("* 10 * * *", "* 14 * * *", "2h", ""), "2024-06-15T11:00:00-04:00", Some(vec![1])),
        ("MatchNone-NonUTC", pair("* 10 * * *", "* 14 * * *", "2h", ""), "2024-06-15T13:00:00-04:00", Some(vec![])),
        ("MatchFirst-TimeZoneSpecified", pair("* 10 * * *", "* 14 * * *", "2h", NY), "2024-06-15T16:00:00Z", Some(vec![0])),
        ("MatchSecond-TimeZoneSpecified", pair("* 10 * * *", "* 14 * * *", "2h", NY), "2024-06-15T20:00:00Z", Some(vec![1])),
        ("MatchNone-TimeZoneSpecified", pair("* 10 * * *", "* 14 * * *", "2h", NY), "2024-06-15T22:00:00Z", Some(vec![])),
        ("MatchFirst-PositiveTimeZoneSpecified", pair("* 8 * * *", "* 12 * * *", "2h", DHAKA), "2024-06-15T03:00:00Z", Some(vec![0])),
        ("MatchNone-InvalidSchedule", pair("* 10 * * 7", "* 11 * * 7", "3h", ""), "2024-06-15T12:00:00Z", None),
        ("MatchNone-InvalidDuration", pair("* 10 * * *", "* 11 * * *", "3a", ""), "2024-06-15T12:00:00Z", None),
    ];
    for (name, ws, t, want) in cases {
        for r in REFS {
            let got = active_idx(&ws, t, r);
            match &want {
                Some(w) => assert_eq!(got.as_ref().ok(), Some(w), "{name} (reference {r})"),
                None => assert!(got.is_err(), "{name}: expected an error, got {got:?}"),
            }
        }
    }
}

#[test]
fn sync_windows_inactive_allows() {
    let pair =
        |a: &str, b: &str, d: &str, tz: &str| vec![win("allow", a, d, tz), win("allow", b, d, tz)];
    #[rustfmt::skip]
    let cases: Vec<(&str, Vec<SyncWindow>, &str, Option<Vec<usize>>)> = vec![
        ("MatchFirst", pair("* 10 * * *", "* 5 * * *", "2h", ""), "2024-06-15T06:00:00Z", Some(vec![0])),
        ("MatchSecond", pair("* 10 * * *", "* 14 * * *", "2h", ""), "2024-06-15T11:00:00Z", Some(vec![1])),
        ("MatchBoth", pair("* 10 * * *", "* 14 * * *", "2h", ""), "2024-06-15T17:00:00Z", Some(vec![0, 1])),
        ("MatchNone", pair("* 10 * * *", "* 11 * * *", "4h", ""), "2024-06-15T12:00:00Z", Some(vec![])),
        ("MatchFirst-NonUTC", pair("* 10 * * *", "* 5 * * *", "2h", ""), "2024-06-15T02:00:00-04:00", Some(vec![0])),
        ("MatchSecond-NonUTC", pair("* 10 * * *", "* 14 * * *", "2h", ""), "2024-06-15T07:00:00-04:00", Some(vec![1])),
        ("MatchBoth-NonUTC", pair("* 10 * * *", "* 14 * * *", "2h", ""), "2024-06-15T13:00:00-04:00", Some(vec![0, 1])),
        ("MatchNone-NonUTC", pair("* 10 * * *", "* 11 * * *", "4h", ""), "2024-06-15T08:00:00-04:00", Some(vec![])),
        ("MatchFirst-TimeZoneSpecified", pair("* 10 * * *", "* 5 * * *", "2h", NY), "2024-06-15T11:00:00Z", Some(vec![0])),
        ("MatchSecond-TimeZoneSpecified", pair("* 10 * * *", "* 14 * * *", "2h", NY), "2024-06-15T16:00:00Z", Some(vec![1])),
        ("MatchBoth-TimeZoneSpecified", pair("* 10 * * *", "* 14 * * *", "2h", NY), "2024-06-15T06:00:00Z", Some(vec![0, 1])),
        ("MatchNone-TimeZoneSpecified", pair("* 10 * * *", "* 11 * * *", "4h", ""), "2024-06-15T12:00:00Z", Some(vec![])),
        ("MatchFirst-PositiveTimeZoneSpecified", pair("* 8 * * *", "* 12 * * *", "2h", DHAKA), "2024-06-15T07:00:00Z", Some(vec![0])),
        ("MatchNone-InvalidSchedule", vec![win("allow", "* 10 * * 7", "2h", "")], "2024-06-15T17:00:00Z", None),
        ("MatchNone-InvalidDuration", vec![win("allow", "* 10 * * *", "2a", "")], "2024-06-15T17:00:00Z", None),
    ];
    for (name, ws, t, want) in cases {
        for r in REFS {
            let got = inactive_idx(&ws, t, r);
            match &want {
                Some(w) => assert_eq!(got.as_ref().ok(), Some(w), "{name} (reference {r})"),
                None => assert!(got.is_err(), "{name}: expected an error, got {got:?}"),
            }
        }
    }
    // An invalid deny window is not even parsed by inactiveAllows.
    let ws = vec![
        win("deny", "* 10 * * 7", "2h", ""),
        win("allow", "* 10 * * *", "2h", ""),
    ];
    assert_eq!(
        inactive_idx(&ws, "2024-06-15T17:00:00Z", REFS[0]),
        Ok(vec![1])
    );
}

#[test]
fn sync_window_active() {
    #[rustfmt::skip]
    let cases: Vec<(&str, SyncWindow, &str, Result<bool, ()>)> = vec![
        ("Allow-active", win("allow", "* 10 * * *", "2h", ""), "2024-06-15T11:00:00Z", Ok(true)),
        ("Allow-inactive", win("allow", "* 10 * * *", "2h", ""), "2024-06-15T13:00:00Z", Ok(false)),
        ("Deny-active", win("deny", "* 10 * * *", "2h", ""), "2024-06-15T11:00:00Z", Ok(true)),
        ("Deny-inactive", win("deny", "* 10 * * *", "2h", ""), "2024-06-15T13:00:00Z", Ok(false)),
        ("Allow-active-NonUTC", win("allow", "* 10 * * *", "2h", ""), "2024-06-15T07:00:00-04:00", Ok(true)),
        ("Allow-inactive-NonUTC", win("allow", "* 10 * * *", "2h", ""), "2024-06-15T09:00:00-04:00", Ok(false)),
        ("Deny-active-NonUTC", win("deny", "* 10 * * *", "2h", ""), "2024-06-15T07:00:00-04:00", Ok(true)),
        ("Deny-inactive-NonUTC", win("deny", "* 10 * * *", "2h", ""), "2024-06-15T09:00:00-04:00", Ok(false)),
        ("Allow-inactive-InvalidSchedule", win("allow", "* 10 * * 7", "2h", ""), "2024-06-15T11:00:00Z", Err(())),
        ("Deny-inactive-InvalidSchedule", win("deny", "* 10 * * 7", "2h", ""), "2024-06-15T11:00:00Z", Err(())),
        ("Allow-inactive-InvalidDuration", win("allow", "* 10 * * *", "2a", ""), "2024-06-15T11:00:00Z", Err(())),
        ("Deny-inactive-InvalidDuration", win("deny", "* 10 * * *", "2a", ""), "2024-06-15T11:00:00Z", Err(())),
    ];
    for (name, w, t, want) in cases {
        let got = Compiled::new(&w, at(REFS[0])).active(at(t)).map_err(|_| ());
        assert_eq!(got, want, "{name}");
    }
    // "ActiveWindow": every minute, one hour, any kind, at any instant.
    let every = win("", "* * * * *", "1h", "");
    assert_eq!(
        Compiled::new(&every, at(REFS[0])).active(at(REFS[0])),
        Ok(true)
    );
}

fn test_app() -> AppTarget {
    AppTarget {
        name: "test-app".into(),
        namespace: "default".into(),
        server: "cluster1".into(),
        cluster_name: "clusterName".into(),
    }
}

fn selectors(a: &[&str], n: &[&str], c: &[&str], and: bool) -> SyncWindow {
    let v = |x: &[&str]| x.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    SyncWindow {
        kind: "allow".into(),
        schedule: "* * * * *".into(),
        duration: "1h".into(),
        applications: v(a),
        namespaces: v(n),
        clusters: v(c),
        and_operator: and,
        ..Default::default()
    }
}

#[test]
fn sync_windows_matches_or_and_and() {
    #[rustfmt::skip]
    let cases: Vec<(&str, &[&str], &[&str], &[&str], bool)> = vec![
        ("MatchNamespace", &[], &["default"], &[], true),
        ("MatchCluster", &[], &[], &["cluster1"], true),
        ("MatchClusterName", &[], &[], &["clusterName"], true),
        ("MatchAppName", &["test-app"], &[], &[], true),
        ("MatchAppNameAndNamespace", &["test-app"], &["default"], &[], true),
        ("MatchAppNameAndClusterName", &["test-app"], &[], &["clusterName"], true),
        ("MatchNamespaceAndClusterName", &[], &["default"], &["clusterName"], true),
        ("MatchAppNameAndNamespaceAndClusterName", &["test-app"], &["default"], &["clusterName"], true),
        ("MatchWildcardAppName", &["test-*"], &[], &[], true),
        ("MatchWildcardAppNameAndNamespace", &["test-*"], &["default"], &[], true),
        ("MatchWildcardAppNameAndWildcardClusterName", &["test-*"], &[], &["clusterN*"], true),
        ("NoMatch", &[], &[], &[], false),
    ];
    for and in [false, true] {
        for (name, a, n, c, want) in &cases {
            let project = vec![selectors(a, n, c, and)];
            let got = matching(&project, &test_app());
            assert_eq!(!got.is_empty(), *want, "{name} (and={and})");
        }
    }
    // Derived: a mismatching selector fails AND, but OR still matches on the others.
    let app = test_app();
    assert!(window_matches(
        &selectors(&["test-app"], &["other"], &[], false),
        &app
    ));
    assert!(!window_matches(
        &selectors(&["test-app"], &["other"], &[], true),
        &app
    ));
    assert!(!window_matches(
        &selectors(&["app1"], &["public"], &[], false),
        &app
    ));
    // "*" matches an empty namespace; a cluster glob never matches empty name and server.
    let bare = AppTarget {
        name: "x".into(),
        ..Default::default()
    };
    assert!(window_matches(&selectors(&[], &["*"], &[], false), &bare));
    assert!(!window_matches(&selectors(&[], &[], &["*"], false), &bare));
    // Negation is not supported: "!x" is literal.
    assert!(!window_matches(
        &selectors(&["!test-app"], &[], &[], false),
        &app
    ));
    assert!(window_matches(
        &selectors(&["{test,prod}-?pp"], &[], &[], false),
        &app
    ));
    // A malformed glob matches nothing.
    assert!(!window_matches(
        &selectors(&["[test"], &[], &[], false),
        &app
    ));
}

/// The clock of the CanSync and overrun tests: deliberately not on a whole minute.
const T: &str = "2024-06-15T12:34:56Z";

fn builder(kind: &str, active: bool, manual: bool) -> SyncWindow {
    // Active: every minute for an hour; inactive: at (hour + 10):00 for an hour.
    let schedule = if active { "* * * * *" } else { "0 22 * * *" };
    SyncWindow {
        manual_sync: manual,
        applications: vec!["app1".into()],
        namespaces: vec!["public".into()],
        ..win(kind, schedule, "1h", "")
    }
}

#[test]
fn sync_windows_can_sync() {
    let aa = |m| builder("allow", true, m);
    let ia = |m| builder("allow", false, m);
    let ad = |m| builder("deny", true, m);
    let id = |m| builder("deny", false, m);
    #[rustfmt::skip]
    let cases: Vec<(u32, Vec<SyncWindow>, bool, bool)> = vec![
        (1, vec![id(true)], true, true),
        (2, vec![id(false)], true, true),
        (3, vec![ia(true), ia(false)], true, false),
        (4, vec![aa(true)], true, true),
        (5, vec![aa(false)], true, true),
        (6, vec![aa(false)], false, true),
        (7, vec![aa(false), id(false)], true, true),
        (8, vec![aa(false), id(false)], false, true),
        (9, vec![ia(false)], true, false),
        (10, vec![ia(false)], false, false),
        (11, vec![ia(true)], true, true),
        (12, vec![ia(true)], false, false),
        (13, vec![ia(false), id(false)], true, false),
        (14, vec![ia(false), id(false)], false, false),
        (15, vec![aa(false), ia(false)], false, true),
        (16, vec![ad(false)], true, false),
        (17, vec![ad(false)], false, false),
        (18, vec![ad(true)], true, true),
        (19, vec![ad(true)], false, false),
        (20, vec![ad(true), ad(true), ad(true), ad(false)], true, false),
        (21, vec![ad(true), ad(true), ad(true), ad(false)], false, false),
        (22, vec![aa(false), ad(false)], true, false),
        (23, vec![aa(false), ad(true)], true, true),
        (24, vec![aa(false), ad(true)], false, false),
    ];
    for (n, ws, manual, want) in cases {
        let got = Windows::new(&ws, at(T)).can_sync(manual, None, at(T));
        assert_eq!(got, Ok(want), "case {n}");
    }
    // 25: four invalid windows (day of week 7).
    let invalid = |kind: &str, m: bool| SyncWindow {
        manual_sync: m,
        ..win(kind, "* 10 * * 7", "1h", "")
    };
    let ws = vec![
        invalid("allow", false),
        invalid("deny", false),
        invalid("allow", true),
        invalid("deny", true),
    ];
    assert!(
        Windows::new(&ws, at(T))
            .can_sync(false, None, at(T))
            .is_err()
    );
    // 26, 27: the messages name what is wrong.
    let e = Windows::new(&[win("allow", "invalid-cron-schedule", "1h", "")], at(T))
        .can_sync(true, None, at(T))
        .unwrap_err();
    assert!(
        e.contains("invalid sync windows") && e.contains("cannot parse schedule"),
        "{e}"
    );
    let e = Windows::new(&[win("allow", "0 22 * * *", "invalid-duration", "")], at(T))
        .can_sync(true, None, at(T))
        .unwrap_err();
    assert!(
        e.contains("invalid sync windows") && e.contains("cannot parse duration"),
        "{e}"
    );
    // No windows at all: always.
    assert_eq!(Windows::default().can_sync(false, None, at(T)), Ok(true));
}

#[test]
fn sync_windows_sync_overrun() {
    let always = builder("allow", true, false);
    let w = |kind: &str, schedule: &str, d: &str, overrun: bool| SyncWindow {
        sync_overrun: overrun,
        applications: vec!["*".into()],
        ..win(kind, schedule, d, "")
    };
    let ago = |m: i64| Some(at(T) - Duration::minutes(m));
    // T = 12:34:56: "M H" = "34 12", "M H-1" = "34 11", "M H-2" = "34 10", "M H-3" = "34 9".
    #[rustfmt::skip]
    let cases: Vec<(u32, Vec<SyncWindow>, Option<DateTime<Utc>>, bool)> = vec![
        (1, vec![always.clone(), w("deny", "* * * * *", "1h", false)], ago(5), false),
        (2, vec![always.clone(), w("deny", "* * * * *", "1h", true)], None, false),
        (3, vec![always.clone(), w("deny", "* * * * *", "1h", true)], ago(5), false),
        (8, vec![always.clone(), w("deny", "34 12 * * *", "15m", true)], ago(25), true),
        (9, vec![w("allow", "34 9 * * *", "30m", false), w("deny", "34 12 * * *", "1h", true)], ago(60), false),
        (10, vec![w("allow", "34 11 * * *", "30m", true)], ago(45), true),
        (11, vec![w("allow", "34 11 * * *", "30m", false)], ago(45), false),
        (12, vec![w("allow", "34 11 * * *", "30m", true), w("deny", "34 12 * * *", "1h", false)], ago(45), false),
        (13, vec![w("allow", "34 11 * * *", "30m", false), w("deny", "34 12 * * *", "1h", true)], ago(45), true),
        (14, vec![w("allow", "34 11 * * *", "30m", true), w("deny", "34 12 * * *", "1h", true)], ago(45), true),
        (15, vec![w("allow", "34 11 * * *", "30m", false), w("deny", "34 12 * * *", "1h", false)], ago(45), false),
        (16, vec![w("allow", "34 11 * * *", "30m", true), w("deny", "34 12 * * *", "1h", true), w("deny", "34 12 * * *", "2h", true)], ago(45), true),
        (17, vec![w("allow", "34 11 * * *", "30m", true), w("deny", "34 12 * * *", "1h", true), w("deny", "34 12 * * *", "2h", false)], ago(45), false),
        (18, vec![w("allow", "34 11 * * *", "30m", true), w("allow", "34 11 * * *", "30m", false)], ago(45), false),
        (19, vec![w("allow", "34 11 * * *", "30m", true), w("allow", "34 11 * * *", "30m", true)], ago(45), true),
        (20, vec![w("allow", "34 11 * * *", "30m", false), w("allow", "34 11 * * *", "90m", true)], ago(45), true),
        (21, vec![w("allow", "34 10 * * *", "30m", true), w("allow", "34 12 * * *", "2h", true), w("deny", "34 12 * * *", "1h", false)], ago(105), false),
        (22, vec![w("allow", "34 10 * * *", "30m", true), w("allow", "34 12 * * *", "2h", true), w("deny", "34 12 * * *", "1h", true)], ago(105), true),
    ];
    for (n, ws, start, want) in cases {
        let got = Windows::new(&ws, at(T)).can_sync(false, start, at(T));
        assert_eq!(got, Ok(want), "case {n}");
    }
}

#[test]
fn windows_are_open_intervals() {
    let w = Compiled::new(&win("deny", "0 22 * * *", "1h", ""), at(T));
    assert_eq!(w.active(at("2024-06-15T22:00:00Z")), Ok(false));
    assert_eq!(w.active(at("2024-06-15T22:00:01Z")), Ok(true));
    assert_eq!(w.active(at("2024-06-15T22:59:59Z")), Ok(true));
    assert_eq!(w.active(at("2024-06-15T23:00:00Z")), Ok(false));
    // Every minute of 10:xx for two hours: from just after 10:00 to just before 12:59.
    let w = Compiled::new(&win("allow", "* 10 * * *", "2h", ""), at(T));
    assert_eq!(w.active(at("2024-06-15T10:00:00Z")), Ok(false));
    assert_eq!(w.active(at("2024-06-15T12:58:59Z")), Ok(true));
    assert_eq!(w.active(at("2024-06-15T12:59:00Z")), Ok(false));
    // Zero and negative durations are never active.
    for d in ["0", "-1h"] {
        let w = Compiled::new(&win("deny", "* * * * *", d, ""), at(T));
        assert_eq!(w.active(at(T)), Ok(false), "{d}");
    }
    // A schedule that never fires is always active.
    let w = Compiled::new(&win("deny", "0 0 30 2 *", "1h", ""), at(T));
    assert_eq!(w.active(at(T)), Ok(true));
}

#[test]
fn the_zone_offset_is_taken_at_now_not_at_the_instant() {
    // Amsterdam is UTC+1 on 28 March 2026 and UTC+2 from 29 March 01:00Z.
    let w = win("allow", "0 2 * * *", "2h", "Europe/Amsterdam");
    let before = Compiled::new(&w, at("2026-03-28T12:00:00Z"));
    let after = Compiled::new(&w, at("2026-03-30T12:00:00Z"));
    // 30 March 01:30Z is 03:30 in Amsterdam: outside 02:00–04:00 by the true offset? No: inside.
    // 30 March 02:30Z is 04:30 local (outside), but with the winter offset it reads 03:30 (inside).
    assert_eq!(before.active(at("2026-03-30T02:30:00Z")), Ok(true));
    assert_eq!(after.active(at("2026-03-30T02:30:00Z")), Ok(false));
}

#[test]
fn next_auto_sync_instants() {
    let next = |ws: &[SyncWindow], now: &str| Windows::new(ws, at(now)).next_auto_sync(at(now));
    // Nothing matching: now.
    assert_eq!(next(&[], T), Ok(Some(at(T))));
    // A deny window ending at 11:00:00 allows a sync at 11:00:00.
    let deny10 = win("deny", "0 10 * * *", "1h", "");
    assert_eq!(
        next(std::slice::from_ref(&deny10), "2024-06-15T10:30:00Z"),
        Ok(Some(at("2024-06-15T11:00:00Z")))
    );
    // Two back-to-back deny windows leave exactly that second free.
    let deny11 = win("deny", "0 11 * * *", "1h", "");
    assert_eq!(
        next(&[deny10.clone(), deny11], "2024-06-15T10:30:00Z"),
        Ok(Some(at("2024-06-15T11:00:00Z")))
    );
    // An allow window opens one second after it fires.
    let allow2 = win("allow", "0 2 * * *", "2h", "Europe/Berlin");
    assert_eq!(
        next(std::slice::from_ref(&allow2), "2026-03-10T14:05:00Z"),
        Ok(Some(at("2026-03-11T01:00:01Z")))
    );
    // A daily 24h allow window is closed for exactly its first second.
    let daily = win("allow", "0 0 * * *", "24h", "");
    assert_eq!(
        next(std::slice::from_ref(&daily), "2024-06-15T00:00:00Z"),
        Ok(Some(at("2024-06-15T00:00:01Z")))
    );
    assert_eq!(
        next(std::slice::from_ref(&daily), "2024-06-15T08:00:00Z"),
        Ok(Some(at("2024-06-15T08:00:00Z")))
    );
    // A zero-duration allow window blocks automated syncs forever.
    assert_eq!(next(&[win("allow", "0 2 * * *", "0", "")], T), Ok(None));
    // A deny window that never fires denies forever.
    assert_eq!(next(&[win("deny", "0 0 30 2 *", "1h", "")], T), Ok(None));
    // Weekly: Monday to Thursday 22:30 New York for 90 minutes, asked on a Tuesday morning.
    let weekly = win("allow", "30 22 * * 1-4", "90m", NY);
    assert_eq!(
        next(std::slice::from_ref(&weekly), "2026-08-25T10:40:00Z"),
        Ok(Some(at("2026-08-26T02:30:01Z")))
    );
    // Asked on a Friday: the next Monday.
    assert_eq!(
        next(std::slice::from_ref(&weekly), "2026-08-28T10:40:00Z"),
        Ok(Some(at("2026-09-01T02:30:01Z")))
    );
    // Deny overrides allow: the allow window is open but a deny covers its first half hour.
    let allow = win("allow", "0 1 * * *", "2h", "");
    let deny = win("deny", "0 1 * * *", "30m", "");
    assert_eq!(
        next(&[allow, deny], "2024-06-15T00:00:00Z"),
        Ok(Some(at("2024-06-15T01:30:00Z")))
    );
    // An invalid window fails closed.
    assert!(next(&[win("allow", "* 10 * * 7", "1h", "")], T).is_err());
    // Once a year: found within the horizon.
    let yearly = win("allow", "0 0 1 1 *", "1h", "");
    assert_eq!(
        next(std::slice::from_ref(&yearly), "2024-06-15T00:00:00Z"),
        Ok(Some(at("2025-01-01T00:00:01Z")))
    );
    // Manual sync allowed while automated is not.
    let manual = SyncWindow {
        manual_sync: true,
        ..win("deny", "* * * * *", "1h", "")
    };
    let ws = Windows::new(std::slice::from_ref(&manual), at(T));
    assert_eq!(ws.can_sync(true, None, at(T)), Ok(true));
    assert_eq!(ws.can_sync(false, None, at(T)), Ok(false));
}

#[test]
fn the_next_auto_sync_is_really_the_first() {
    // Brute force over a day at one-second steps, against the candidate search.
    let ws = vec![
        win("allow", "*/20 9-17 * * 1-5", "7m", "Europe/Amsterdam"),
        win("deny", "15 12 * * *", "45m", "Europe/Amsterdam"),
        win("deny", "0,30 9 * * *", "30m", ""),
    ];
    for now in [
        "2024-06-17T06:50:00Z",
        "2024-06-17T10:16:10Z",
        "2024-06-21T16:00:00Z",
    ] {
        let windows = Windows::new(&ws, at(now));
        let fast = windows.next_auto_sync(at(now)).unwrap();
        let mut t = at(now);
        let slow = loop {
            if windows.can_sync_at(false, t).unwrap() {
                break Some(t);
            }
            t += Duration::seconds(1);
            if t > at(now) + Duration::days(4) {
                break None;
            }
        };
        assert_eq!(fast, slow, "from {now}");
    }
}

#[test]
fn status_strings_and_evaluate() {
    let now = at(T);
    let deny = Windows::new(&[builder("deny", true, false)], now);
    assert_eq!(deny.status(now), Ok("Sync Denied"));
    let deny_manual = Windows::new(&[builder("deny", true, true)], now);
    assert_eq!(deny_manual.status(now), Ok("Manual Allowed"));
    let allow = Windows::new(&[builder("allow", true, false)], now);
    assert_eq!(allow.status(now), Ok("Sync Allowed"));
    let closed = Windows::new(&[builder("allow", false, false)], now);
    assert_eq!(closed.status(now), Ok("Sync Denied"));

    let app = AppTarget {
        name: "app1".into(),
        namespace: "public".into(),
        ..Default::default()
    };
    let s = evaluate(&[builder("deny", true, true)], &app, now);
    assert!(s.matches);
    assert_eq!(s.active, vec!["deny"]);
    assert!(!s.can_sync_auto && s.can_sync_manual);
    // Every minute for an hour: never open again.
    assert_eq!(s.next_auto_sync, None);
    let s = evaluate(
        &[SyncWindow {
            manual_sync: true,
            ..win("deny", "0 12 * * *", "1h", "")
        }],
        &AppTarget {
            name: "app1".into(),
            ..Default::default()
        },
        now,
    );
    assert!(!s.matches, "no selectors: matches nothing");
    assert_eq!(s.next_auto_sync, Some(now));
    let s = evaluate(
        &[SyncWindow {
            applications: vec!["app1".into()],
            ..win("deny", "0 12 * * *", "1h", "")
        }],
        &app,
        now,
    );
    assert_eq!(s.next_auto_sync, Some(at("2024-06-15T13:00:00Z")));
    let other = AppTarget {
        name: "other".into(),
        namespace: "x".into(),
        ..Default::default()
    };
    let s = evaluate(&[builder("deny", true, true)], &other, now);
    assert!(!s.matches && s.can_sync_auto && s.error.is_none());
    let s = evaluate(
        &[SyncWindow {
            kind: "maybe".into(),
            ..builder("deny", true, false)
        }],
        &app,
        now,
    );
    assert!(s.error.unwrap().contains("kind 'maybe'"));
    assert!(!s.can_sync_auto && s.next_auto_sync.is_none());
}
