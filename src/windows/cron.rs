//! The cron dialect Argo CD's sync windows use: robfig/cron v3's parser with the five fields
//! minute, hour, day of month, month, day of week, and nothing else (no seconds, no `@daily`
//! descriptors, day of week 0–6), and its `Next` search, step for step, so that the instants
//! where a window opens and closes are exactly Argo CD's.

use chrono::{DateTime, Datelike, Duration, NaiveDate, NaiveDateTime, Timelike, Utc};

const STAR: u64 = 1 << 63;

#[derive(Debug, Clone, Copy)]
struct Bounds {
    min: u32,
    max: u32,
    names: &'static [(&'static str, u32)],
}

const MINUTES: Bounds = Bounds {
    min: 0,
    max: 59,
    names: &[],
};
const HOURS: Bounds = Bounds {
    min: 0,
    max: 23,
    names: &[],
};
const DOM: Bounds = Bounds {
    min: 1,
    max: 31,
    names: &[],
};
const MONTHS: Bounds = Bounds {
    min: 1,
    max: 12,
    names: &[
        ("jan", 1),
        ("feb", 2),
        ("mar", 3),
        ("apr", 4),
        ("may", 5),
        ("jun", 6),
        ("jul", 7),
        ("aug", 8),
        ("sep", 9),
        ("oct", 10),
        ("nov", 11),
        ("dec", 12),
    ],
};
const DOW: Bounds = Bounds {
    min: 0,
    max: 6,
    names: &[
        ("sun", 0),
        ("mon", 1),
        ("tue", 2),
        ("wed", 3),
        ("thu", 4),
        ("fri", 5),
        ("sat", 6),
    ],
};

/// A parsed five-field schedule: one bit per allowed value, plus the "star" bit that changes
/// how day of month and day of week combine.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Schedule {
    minute: u64,
    hour: u64,
    dom: u64,
    month: u64,
    dow: u64,
}

impl Schedule {
    /// Parses like robfig's `NewParser(Minute | Hour | Dom | Month | Dow)`. The error texts
    /// follow robfig's. A `TZ=`/`CRON_TZ=` prefix, which robfig accepts and which would shift
    /// the schedule a second time on top of the window's `timeZone`, is refused.
    pub fn parse(spec: &str) -> Result<Schedule, String> {
        if spec.is_empty() {
            return Err("empty spec string".into());
        }
        if spec.starts_with("TZ=") || spec.starts_with("CRON_TZ=") {
            return Err(format!(
                "a time zone prefix is not allowed in a sync window schedule (use the window's timeZone): {spec}"
            ));
        }
        if spec.starts_with('@') {
            return Err(format!("parser does not accept descriptors: {spec}"));
        }
        let fields: Vec<&str> = spec.split_whitespace().collect();
        if fields.len() != 5 {
            return Err(format!(
                "expected exactly 5 fields, found {}: [{}]",
                fields.len(),
                fields.join(" ")
            ));
        }
        Ok(Schedule {
            minute: field(fields[0], MINUTES)?,
            hour: field(fields[1], HOURS)?,
            dom: field(fields[2], DOM)?,
            month: field(fields[3], MONTHS)?,
            dow: field(fields[4], DOW)?,
        })
    }

    fn day_matches(&self, t: &NaiveDateTime) -> bool {
        let dom = self.dom & (1 << t.day()) != 0;
        let dow = self.dow & (1 << t.weekday().num_days_from_sunday()) != 0;
        if self.dom & STAR != 0 || self.dow & STAR != 0 {
            dom && dow
        } else {
            dom || dow
        }
    }

    /// The first instant strictly after `t` (at whole-second resolution) when the schedule
    /// fires, evaluated in UTC; `None` where robfig gives up after five years and returns Go's
    /// zero time (a schedule that never fires, such as 30 February).
    pub fn next(&self, t: DateTime<Utc>) -> Option<DateTime<Utc>> {
        // The upcoming whole second.
        let mut t = t.naive_utc().with_nanosecond(0)? + Duration::seconds(1);
        let year_limit = t.year() + 5;
        let mut added = false;
        'wrap: loop {
            if t.year() > year_limit {
                return None;
            }
            while self.month & (1 << t.month()) == 0 {
                if !added {
                    added = true;
                    t = NaiveDate::from_ymd_opt(t.year(), t.month(), 1)?.and_hms_opt(0, 0, 0)?;
                }
                t = t.checked_add_months(chrono::Months::new(1))?;
                if t.month() == 1 {
                    continue 'wrap;
                }
            }
            while !self.day_matches(&t) {
                if !added {
                    added = true;
                    t = t.date().and_hms_opt(0, 0, 0)?;
                }
                t += Duration::days(1);
                if t.day() == 1 {
                    continue 'wrap;
                }
            }
            while self.hour & (1 << t.hour()) == 0 {
                if !added {
                    added = true;
                    t = t.date().and_hms_opt(t.hour(), 0, 0)?;
                }
                t += Duration::hours(1);
                if t.hour() == 0 {
                    continue 'wrap;
                }
            }
            while self.minute & (1 << t.minute()) == 0 {
                if !added {
                    added = true;
                    t = t.with_second(0)?;
                }
                t += Duration::minutes(1);
                if t.minute() == 0 {
                    continue 'wrap;
                }
            }
            // The seconds field is always "0": robfig steps second by second until the
            // minute turns over and starts again from the top; jumping there is the same.
            if t.second() != 0 {
                t = t.with_second(0)? + Duration::minutes(1);
                added = true;
                continue 'wrap;
            }
            return Some(t.and_utc());
        }
    }
}

fn field(spec: &str, b: Bounds) -> Result<u64, String> {
    // Go's strings.FieldsFunc: empty items between commas are skipped.
    let mut bits = 0;
    for expr in spec.split(',').filter(|e| !e.is_empty()) {
        bits |= range(expr, b)?;
    }
    Ok(bits)
}

fn range(expr: &str, b: Bounds) -> Result<u64, String> {
    let range_and_step: Vec<&str> = expr.split('/').collect();
    let low_high: Vec<&str> = range_and_step[0].split('-').collect();
    let single = low_high.len() == 1;
    let mut extra = 0;
    let (start, mut end) = if low_high[0] == "*" || low_high[0] == "?" {
        extra = STAR;
        (b.min, b.max)
    } else {
        let start = int_or_name(low_high[0], b)?;
        match low_high.len() {
            1 => (start, start),
            2 => (start, int_or_name(low_high[1], b)?),
            _ => return Err(format!("too many hyphens: {expr}")),
        }
    };
    let step = match range_and_step.len() {
        1 => 1,
        2 => {
            let step = int(range_and_step[1])?;
            if single {
                end = b.max;
            }
            if step > 1 {
                extra = 0;
            }
            step
        }
        _ => return Err(format!("too many slashes: {expr}")),
    };
    if start < b.min {
        return Err(format!(
            "beginning of range ({start}) below minimum ({}): {expr}",
            b.min
        ));
    }
    if end > b.max {
        return Err(format!(
            "end of range ({end}) above maximum ({}): {expr}",
            b.max
        ));
    }
    if start > end {
        return Err(format!(
            "beginning of range ({start}) beyond end of range ({end}): {expr}"
        ));
    }
    if step == 0 {
        return Err(format!("step of range should be a positive number: {expr}"));
    }
    let mut bits = 0u64;
    let mut v = start;
    while v <= end {
        bits |= 1 << v;
        v += step;
    }
    Ok(bits | extra)
}

fn int_or_name(s: &str, b: Bounds) -> Result<u32, String> {
    let lower = s.to_ascii_lowercase();
    if let Some((_, v)) = b.names.iter().find(|(n, _)| *n == lower) {
        return Ok(*v);
    }
    int(s)
}

/// Go's `strconv.Atoi` (an optional sign, decimal digits) refusing negative numbers.
fn int(s: &str) -> Result<u32, String> {
    let digits = s
        .strip_prefix('+')
        .or_else(|| s.strip_prefix('-'))
        .unwrap_or(s);
    if digits.is_empty() || !digits.bytes().all(|c| c.is_ascii_digit()) {
        return Err(format!(
            "failed to parse int from {s}: strconv.Atoi: parsing {s:?}: invalid syntax"
        ));
    }
    let n: i64 = digits.parse().map_err(|_| {
        format!("failed to parse int from {s}: strconv.Atoi: parsing {s:?}: value out of range")
    })?;
    if s.starts_with('-') && n != 0 {
        return Err(format!("negative number (-{n}) not allowed: {s}"));
    }
    // Values beyond 63 are out of every field's bounds; keep them distinct for the messages.
    Ok(n.min(u32::MAX as i64) as u32)
}

/// Go's `time.ParseDuration`: a sequence of decimal numbers with units (`ns`, `us`, `µs`,
/// `ms`, `s`, `m`, `h`), an optional sign; `0` alone needs no unit; no `d`.
pub fn parse_go_duration(orig: &str) -> Result<Duration, String> {
    let invalid = || format!("time: invalid duration {orig:?}");
    let mut s = orig;
    let mut neg = false;
    if let Some(rest) = s.strip_prefix('-') {
        neg = true;
        s = rest;
    } else if let Some(rest) = s.strip_prefix('+') {
        s = rest;
    }
    if s == "0" {
        return Ok(Duration::zero());
    }
    if s.is_empty() {
        return Err(invalid());
    }
    let mut total: f64 = 0.0;
    let mut nanos: i128 = 0;
    while !s.is_empty() {
        let c = s.as_bytes()[0];
        if !(c == b'.' || c.is_ascii_digit()) {
            return Err(invalid());
        }
        let int_len = s.bytes().take_while(|c| c.is_ascii_digit()).count();
        let int_part = &s[..int_len];
        s = &s[int_len..];
        let mut frac_part = "";
        if let Some(rest) = s.strip_prefix('.') {
            let n = rest.bytes().take_while(|c| c.is_ascii_digit()).count();
            frac_part = &rest[..n];
            s = &rest[n..];
            if int_part.is_empty() && frac_part.is_empty() {
                return Err(invalid());
            }
        } else if int_part.is_empty() {
            return Err(invalid());
        }
        let unit_len = s
            .bytes()
            .take_while(|c| !(*c == b'.' || c.is_ascii_digit()))
            .count();
        let unit = &s[..unit_len];
        s = &s[unit_len..];
        if unit.is_empty() {
            return Err(format!("time: missing unit in duration {orig:?}"));
        }
        let scale: i128 = match unit {
            "ns" => 1,
            "us" | "µs" | "μs" => 1_000,
            "ms" => 1_000_000,
            "s" => 1_000_000_000,
            "m" => 60_000_000_000,
            "h" => 3_600_000_000_000,
            _ => return Err(format!("time: unknown unit {unit:?} in duration {orig:?}")),
        };
        let whole: i128 = if int_part.is_empty() {
            0
        } else {
            int_part.parse::<i128>().map_err(|_| invalid())?
        };
        nanos = nanos
            .checked_add(whole.checked_mul(scale).ok_or_else(invalid)?)
            .ok_or_else(invalid)?;
        if !frac_part.is_empty() {
            let f: f64 = format!("0.{frac_part}").parse().map_err(|_| invalid())?;
            total += f * scale as f64;
        }
        if nanos > i64::MAX as i128 {
            return Err(invalid());
        }
    }
    let mut n = nanos + total as i128;
    if n > i64::MAX as i128 {
        return Err(invalid());
    }
    if neg {
        n = -n;
    }
    Ok(Duration::nanoseconds(n as i64))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    #[test]
    fn parses_the_robfig_dialect() {
        assert!(Schedule::parse("* 10 * * *").is_ok());
        assert!(Schedule::parse("0 2 * * 1-5").is_ok());
        assert!(Schedule::parse("30 22 * * MON-thu").is_ok());
        assert!(Schedule::parse("*/15 * ? jan-mar sun").is_ok());
        assert!(Schedule::parse("5/10 * * * *").is_ok());
        assert!(Schedule::parse("1,,2 * * * *").is_ok());
        let e = Schedule::parse("* 10 * * 7").unwrap_err();
        assert_eq!(e, "end of range (7) above maximum (6): 7");
        assert!(
            Schedule::parse("@daily")
                .unwrap_err()
                .contains("descriptors")
        );
        assert!(
            Schedule::parse("0 * * * * *")
                .unwrap_err()
                .contains("exactly 5 fields, found 6")
        );
        assert!(Schedule::parse("TZ=UTC 0 * * * *").is_err());
        assert!(
            Schedule::parse("0 0 0 * *")
                .unwrap_err()
                .contains("below minimum (1)")
        );
        assert!(
            Schedule::parse("5-2 * * * *")
                .unwrap_err()
                .contains("beyond end")
        );
        assert!(
            Schedule::parse("*/0 * * * *")
                .unwrap_err()
                .contains("positive")
        );
        assert!(
            Schedule::parse("1-2-3 * * * *")
                .unwrap_err()
                .contains("hyphens")
        );
        assert!(
            Schedule::parse("1/2/3 * * * *")
                .unwrap_err()
                .contains("slashes")
        );
        // "-1" is a range with an empty start, as in robfig.
        assert!(
            Schedule::parse("-1 * * * *")
                .unwrap_err()
                .contains("failed to parse int")
        );
        assert!(
            Schedule::parse("5/-1 * * * *")
                .unwrap_err()
                .contains("negative")
        );
        assert!(
            Schedule::parse("x * * * *")
                .unwrap_err()
                .contains("failed to parse int")
        );
        assert!(Schedule::parse("").unwrap_err().contains("empty"));
    }

    #[test]
    fn next_is_strictly_after_at_second_resolution() {
        let s = Schedule::parse("0 22 * * *").unwrap();
        assert_eq!(
            s.next(at("2026-01-01T21:59:59Z")),
            Some(at("2026-01-01T22:00:00Z"))
        );
        assert_eq!(
            s.next(at("2026-01-01T22:00:00Z")),
            Some(at("2026-01-02T22:00:00Z"))
        );
        assert_eq!(
            s.next(at("2026-01-01T21:59:59.5Z")),
            Some(at("2026-01-01T22:00:00Z"))
        );
        let every = Schedule::parse("* 10 * * *").unwrap();
        assert_eq!(
            every.next(at("2026-01-01T10:05:30Z")),
            Some(at("2026-01-01T10:06:00Z"))
        );
        assert_eq!(
            every.next(at("2026-01-01T10:59:00Z")),
            Some(at("2026-01-02T10:00:00Z"))
        );
    }

    #[test]
    fn day_of_month_and_week_combine_like_cron() {
        // Both restricted: either matches (1 January, or any Monday in January).
        let s = Schedule::parse("0 0 1 1 1").unwrap();
        // 2026-01-01 is a Thursday; the next Monday is 5 January.
        assert_eq!(
            s.next(at("2026-01-01T00:00:00Z")),
            Some(at("2026-01-05T00:00:00Z"))
        );
        // A star in one of them: both must match (Mondays that are the 1st... of any month).
        let s = Schedule::parse("0 0 * * 1").unwrap();
        assert_eq!(
            s.next(at("2026-01-01T00:00:00Z")),
            Some(at("2026-01-05T00:00:00Z"))
        );
        // A */2 step clears the star bit: OR semantics.
        let s = Schedule::parse("0 0 */2 * 1").unwrap();
        assert_eq!(
            s.next(at("2026-01-01T00:00:00Z")),
            Some(at("2026-01-03T00:00:00Z"))
        );
    }

    #[test]
    fn a_schedule_that_never_fires_gives_up() {
        let s = Schedule::parse("0 0 30 2 *").unwrap();
        assert_eq!(s.next(at("2026-01-01T00:00:00Z")), None);
        let leap = Schedule::parse("0 0 29 2 *").unwrap();
        assert_eq!(
            leap.next(at("2026-01-01T00:00:00Z")),
            Some(at("2028-02-29T00:00:00Z"))
        );
    }

    #[test]
    fn go_durations() {
        let d = |s: &str| parse_go_duration(s).map(|d| d.num_milliseconds());
        assert_eq!(d("1h"), Ok(3_600_000));
        assert_eq!(d("1h30m"), Ok(5_400_000));
        assert_eq!(d("1.5h"), Ok(5_400_000));
        assert_eq!(d("90s"), Ok(90_000));
        assert_eq!(d("0"), Ok(0));
        assert_eq!(d("-1h"), Ok(-3_600_000));
        assert_eq!(d("300ms"), Ok(300));
        assert!(d("1d").unwrap_err().contains("unknown unit \"d\""));
        assert!(d("3a").unwrap_err().contains("unknown unit"));
        assert!(d("").unwrap_err().contains("invalid duration"));
        assert!(d("10").unwrap_err().contains("missing unit"));
        assert!(d(".h").unwrap_err().contains("invalid duration"));
    }
}
