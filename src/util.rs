//! Small helpers shared by several modules: a secret string, a deterministic PRNG, durations and
//! ages for people, and splitting a command line without a shell.

use std::fmt;
use std::time::Duration;

/// A credential. It never prints: `Debug` shows `Secret(***)`, and there is no `Display`.
#[derive(Clone, PartialEq, Eq, Default)]
pub struct Secret(String);

impl Secret {
    pub fn new(s: impl Into<String>) -> Self {
        Secret(s.into())
    }
    /// The value, for the one place that must send it.
    pub fn expose(&self) -> &str {
        &self.0
    }
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(***)")
    }
}

/// SplitMix64: tiny, fast, and the same sequence on every platform and release, which the demo
/// generator's `--seed` promise depends on.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Rng(seed ^ 0x9E37_79B9_7F4A_7C15)
    }
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    /// Uniform in `0..n` (`n > 0`).
    pub fn below(&mut self, n: u64) -> u64 {
        debug_assert!(n > 0);
        ((self.next_u64() as u128 * n as u128) >> 64) as u64
    }
    pub fn range(&mut self, lo: u64, hi_inclusive: u64) -> u64 {
        lo + self.below(hi_inclusive - lo + 1)
    }
    /// True with probability `p`.
    pub fn chance(&mut self, p: f64) -> bool {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64 <= p
    }
    pub fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }
    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len() as u64) as usize]
    }
    /// A 40-hex-digit string (a Git SHA).
    pub fn sha(&mut self) -> String {
        format!(
            "{:016x}{:016x}{:08x}",
            self.next_u64(),
            self.next_u64(),
            self.next_u64() as u32
        )
    }
}

/// `12s`, `4m`, `3h`, `2d`: an age as the fleet table shows it.
pub fn age(secs: i64) -> String {
    let s = secs.max(0);
    if s < 60 {
        format!("{s}s")
    } else if s < 3600 {
        format!("{}m", s / 60)
    } else if s < 86_400 {
        format!("{}h", s / 3600)
    } else {
        format!("{}d", s / 86_400)
    }
}

/// Parses `250ms`, `3s`, `2m`, `1h`, `1h30m`, or a bare number of seconds.
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let s = s.trim();
    if s.is_empty() {
        return Err("empty duration".into());
    }
    if let Ok(n) = s.parse::<f64>()
        && n.is_finite()
        && n >= 0.0
    {
        return Ok(Duration::from_secs_f64(n));
    }
    let mut total = Duration::ZERO;
    let mut rest = s;
    while !rest.is_empty() {
        let num_end = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .ok_or_else(|| format!("`{s}` has a number without a unit (use ms, s, m or h)"))?;
        if num_end == 0 {
            return Err(format!("`{s}` is not a duration like 500ms, 3s, 2m or 1h"));
        }
        let n: f64 = rest[..num_end]
            .parse()
            .map_err(|_| format!("`{s}` is not a duration like 500ms, 3s, 2m or 1h"))?;
        rest = &rest[num_end..];
        let unit_end = rest
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len());
        let mult = match &rest[..unit_end] {
            "ms" => 0.001,
            "s" => 1.0,
            "m" => 60.0,
            "h" => 3600.0,
            "d" => 86400.0,
            u => {
                return Err(format!(
                    "`{s}` has an unknown unit `{u}` (use ms, s, m, h or d)"
                ));
            }
        };
        total += Duration::from_secs_f64(n * mult);
        rest = &rest[unit_end..];
    }
    Ok(total)
}

/// Splits a command line into words the way a POSIX shell would for simple cases (quotes and
/// backslashes), without running a shell.
pub fn split_command(s: &str) -> Result<Vec<String>, String> {
    let mut words = Vec::new();
    let mut cur = String::new();
    let mut in_word = false;
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        match c {
            '\'' => {
                in_word = true;
                loop {
                    match chars.next() {
                        Some('\'') => break,
                        Some(c) => cur.push(c),
                        None => return Err(format!("unclosed ' in `{s}`")),
                    }
                }
            }
            '"' => {
                in_word = true;
                loop {
                    match chars.next() {
                        Some('"') => break,
                        Some('\\') => match chars.next() {
                            Some(c) => cur.push(c),
                            None => return Err(format!("trailing \\ in `{s}`")),
                        },
                        Some(c) => cur.push(c),
                        None => return Err(format!("unclosed \" in `{s}`")),
                    }
                }
            }
            '\\' => {
                in_word = true;
                match chars.next() {
                    Some(c) => cur.push(c),
                    None => return Err(format!("trailing \\ in `{s}`")),
                }
            }
            c if c.is_whitespace() => {
                if in_word {
                    words.push(std::mem::take(&mut cur));
                    in_word = false;
                }
            }
            c => {
                in_word = true;
                cur.push(c);
            }
        }
    }
    if in_word {
        words.push(cur);
    }
    Ok(words)
}

/// Thousands separators for counts people read: `10,000`.
/// `n` (with thousands separators) and the noun, singular for one: `1 resource`,
/// `1,204 apps` (`noun` is the singular; the plural adds an `s`).
pub fn count(n: usize, noun: &str) -> String {
    if n == 1 {
        format!("1 {noun}")
    } else {
        format!("{} {noun}s", thousands(n))
    }
}

/// The verb agreeing with `n`: `one` for one, else `many` ("is"/"are", "differs"/"differ").
pub fn agree<'a>(n: usize, one: &'a str, many: &'a str) -> &'a str {
    if n == 1 { one } else { many }
}

pub fn thousands(n: usize) -> String {
    let s = n.to_string();
    let mut out = String::with_capacity(s.len() + s.len() / 3);
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// gobwas/glob matching without separators, as Argo CD uses for sync windows and
/// ignoreDifferences: `*` (any run, including `/` and `.`), `?`, `[abc]`, `[a-z]`, `[!a-z]`,
/// `{a,b}` and `\` escapes. A malformed pattern matches nothing.
pub fn glob_match(pattern: &str, value: &str) -> bool {
    let p: Vec<char> = pattern.chars().collect();
    let v: Vec<char> = value.chars().collect();
    glob_at(&p, &v).unwrap_or(false)
}

fn glob_at(p: &[char], v: &[char]) -> Option<bool> {
    if p.is_empty() {
        return Some(v.is_empty());
    }
    match p[0] {
        '*' => {
            let rest = &p[1..];
            for i in 0..=v.len() {
                if glob_at(rest, &v[i..])? {
                    return Some(true);
                }
            }
            Some(false)
        }
        '?' => Some(!v.is_empty() && glob_at(&p[1..], &v[1..])?),
        '[' => {
            let close = p.iter().skip(1).position(|&c| c == ']')? + 1;
            let class = &p[1..close];
            let (neg, class) = match class.first() {
                Some('!') => (true, &class[1..]),
                _ => (false, class),
            };
            let Some(&c) = v.first() else {
                return Some(false);
            };
            let mut hit = false;
            let mut i = 0;
            while i < class.len() {
                if i + 2 < class.len() && class[i + 1] == '-' {
                    if class[i] <= c && c <= class[i + 2] {
                        hit = true;
                    }
                    i += 3;
                } else {
                    if class[i] == c {
                        hit = true;
                    }
                    i += 1;
                }
            }
            Some(hit != neg && glob_at(&p[close + 1..], &v[1..])?)
        }
        '{' => {
            let close = p.iter().position(|&c| c == '}')?;
            let body: String = p[1..close].iter().collect();
            let rest = &p[close + 1..];
            for alt in body.split(',') {
                let mut cand: Vec<char> = alt.chars().collect();
                cand.extend_from_slice(rest);
                if glob_at(&cand, v)? {
                    return Some(true);
                }
            }
            Some(false)
        }
        '\\' => {
            let c = *p.get(1)?;
            Some(v.first() == Some(&c) && glob_at(&p[2..], &v[1..])?)
        }
        c => Some(v.first() == Some(&c) && glob_at(&p[1..], &v[1..])?),
    }
}

/// Deserializes `null` as the type's default (Go servers may write `null` for an empty list).
pub fn null_default<'de, D, T>(d: D) -> Result<T, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Default + serde::Deserialize<'de>,
{
    use serde::Deserialize;
    Ok(Option::<T>::deserialize(d)?.unwrap_or_default())
}

/// Whether `s` is a DNS subdomain as Kubernetes names must be (RFC 1123: at most 253
/// characters of lower-case alphanumerics, `-` and `.`, starting and ending alphanumeric).
pub fn is_dns_subdomain(s: &str) -> bool {
    let alnum = |c: char| c.is_ascii_lowercase() || c.is_ascii_digit();
    !s.is_empty()
        && s.len() <= 253
        && s.chars().all(|c| alnum(c) || c == '-' || c == '.')
        && s.starts_with(alnum)
        && s.ends_with(alnum)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secret_never_prints() {
        let s = Secret::new("eyJhbGciOi.xxx.yyy");
        assert_eq!(format!("{s:?}"), "Secret(***)");
        assert_eq!(s.expose(), "eyJhbGciOi.xxx.yyy");
    }

    #[test]
    fn rng_is_deterministic_and_in_range() {
        let a: Vec<u64> = {
            let mut r = Rng::new(7);
            (0..5).map(|_| r.next_u64()).collect()
        };
        let b: Vec<u64> = {
            let mut r = Rng::new(7);
            (0..5).map(|_| r.next_u64()).collect()
        };
        assert_eq!(a, b);
        let mut r = Rng::new(1);
        for _ in 0..1000 {
            assert!(r.below(3) < 3);
            let x = r.range(5, 9);
            assert!((5..=9).contains(&x));
        }
        assert_eq!(r.sha().len(), 40);
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration("3s").unwrap(), Duration::from_secs(3));
        assert_eq!(parse_duration("250ms").unwrap(), Duration::from_millis(250));
        assert_eq!(parse_duration("1h30m").unwrap(), Duration::from_secs(5400));
        assert_eq!(parse_duration("2").unwrap(), Duration::from_secs(2));
        assert_eq!(
            parse_duration("3d").unwrap(),
            Duration::from_secs(3 * 86400)
        );
        assert!(parse_duration("3w").is_err());
        assert!(parse_duration("s").is_err());
        assert!(parse_duration("").is_err());
        assert!(parse_duration("5").is_ok());
    }

    #[test]
    fn ages() {
        assert_eq!(age(5), "5s");
        assert_eq!(age(125), "2m");
        assert_eq!(age(7300), "2h");
        assert_eq!(age(200_000), "2d");
        assert_eq!(age(-3), "0s");
    }

    #[test]
    fn command_split() {
        assert_eq!(
            split_command(r#"argocd account generate-token --account "ci bot" 'a b'"#).unwrap(),
            vec![
                "argocd",
                "account",
                "generate-token",
                "--account",
                "ci bot",
                "a b"
            ]
        );
        assert_eq!(split_command("cat\\ x").unwrap(), vec!["cat x"]);
        assert!(split_command("echo 'x").is_err());
        assert_eq!(split_command("  ").unwrap(), Vec::<String>::new());
    }

    #[test]
    fn globs() {
        assert!(glob_match("*", ""));
        assert!(glob_match("prod-*", "prod-eu/1.x"));
        assert!(glob_match("a?c", "abc"));
        assert!(!glob_match("a?c", "ac"));
        assert!(glob_match("[a-c]x", "bx"));
        assert!(!glob_match("[!a-c]x", "bx"));
        assert!(glob_match("{dev,prod}-*", "prod-1"));
        assert!(!glob_match("{dev,prod}-*", "stage-1"));
        assert!(glob_match("a\\*", "a*"));
        assert!(!glob_match("a\\*", "ab"));
        assert!(!glob_match("[abc", "a"), "malformed matches nothing");
        assert!(!glob_match("!prod", "dev"), "no negation: literal");
        assert!(glob_match("!prod", "!prod"));
    }

    #[test]
    fn thousands_separators() {
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(10000), "10,000");
        assert_eq!(thousands(1234567), "1,234,567");
    }
}
