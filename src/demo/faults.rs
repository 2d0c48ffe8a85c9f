//! Fault profiles of the demo servers (`--faults none|flaky|slow|hostile`): what a flapping
//! network, an overloaded server or a misconfigured proxy does to the API, drawn per request from a
//! seeded generator so a run can be repeated.
//!
//! - `flaky`: some reads fail the way busy servers fail (503, 429 with Retry-After, a reply cut
//!   short, the connection reset mid-body, a proxy's HTML error page), the rest arrive after up to
//!   200 ms; watch streams are dropped every few seconds, some with an error frame first.
//! - `slow`: every reply takes 0.2–1.2 s.
//! - `hostile`: flaky's faults twice as often, a reply now and then that takes longer than the
//!   client waits, streams that stall (no keep-alives) as well as drop, and session tokens that
//!   expire every 30 s (the fleet's token file is then rewritten, as a rotating CI token would be).
//!
//! The demo Kubernetes APIs meet the same faults as the Argo CD servers whose apps they run, in
//! the API server's own words (a `Status` with `retryAfterSeconds` for 429, as priority and
//! fairness sends it); their watches are not cut.
//!
//! Writes are never answered with a reply cut short: a write either fails before it is applied
//! (503) or is applied and answered, so a client that does not retry writes blindly stays right.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// A fault profile.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum FaultProfile {
    #[default]
    None,
    Flaky,
    Slow,
    Hostile,
}

impl FaultProfile {
    pub fn parse(s: &str) -> Result<FaultProfile, String> {
        Ok(match s.trim().to_ascii_lowercase().as_str() {
            "none" | "off" | "" => FaultProfile::None,
            "flaky" => FaultProfile::Flaky,
            "slow" => FaultProfile::Slow,
            "hostile" => FaultProfile::Hostile,
            other => {
                return Err(format!(
                    "unknown fault profile `{other}`: use none, flaky, slow or hostile"
                ));
            }
        })
    }

    pub fn name(self) -> &'static str {
        match self {
            FaultProfile::None => "none",
            FaultProfile::Flaky => "flaky",
            FaultProfile::Slow => "slow",
            FaultProfile::Hostile => "hostile",
        }
    }

    /// Whether session tokens expire and are rotated.
    pub fn rotates_tokens(self) -> bool {
        self == FaultProfile::Hostile
    }
}

/// What one request gets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Injected {
    /// Answered normally, after this delay.
    Delay(Duration),
    /// `503 Unavailable` (grpc-gateway error body).
    Unavailable,
    /// `429` with `Retry-After` in seconds.
    RateLimited(u64),
    /// A `502` HTML page from a proxy in front of the server.
    ProxyPage,
    /// The real reply, cut in half (with a matching length: a broken reply).
    Truncated,
    /// The real reply's headers promise more than is sent: the connection ends mid-body.
    Reset,
}

/// What happens to one watch stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct StreamFault {
    /// The stream is closed after this long.
    pub end_after: Option<Duration>,
    /// An error frame is sent before it is closed.
    pub error_frame: bool,
    /// After `end_after`, instead of closing, it goes silent (no events, no keep-alives).
    pub stall: bool,
}

/// The per-instance generator (splitmix64 over an atomic counter: no lock on the request path).
#[derive(Debug)]
pub struct Dice(AtomicU64);

impl Dice {
    pub fn new(seed: u64) -> Dice {
        Dice(AtomicU64::new(seed))
    }

    /// A number in [0, 1).
    pub fn roll(&self) -> f64 {
        let mut z = self
            .0
            .fetch_add(0x9E37_79B9_7F4A_7C15, Ordering::Relaxed)
            .wrapping_add(0x9E37_79B9_7F4A_7C15);
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^= z >> 31;
        (z >> 11) as f64 / (1u64 << 53) as f64
    }

    fn between(&self, lo_ms: u64, hi_ms: u64) -> Duration {
        Duration::from_millis(lo_ms + (self.roll() * (hi_ms - lo_ms) as f64) as u64)
    }
}

/// The fault a request meets. `write` is any method but GET; `stream` a watch.
pub fn request(p: FaultProfile, dice: &Dice, write: bool, stream: bool) -> Injected {
    let scale = match p {
        FaultProfile::None => return Injected::Delay(Duration::ZERO),
        FaultProfile::Slow => return Injected::Delay(dice.between(200, 1200)),
        FaultProfile::Flaky => 1.0,
        FaultProfile::Hostile => 2.0,
    };
    let r = dice.roll();
    if write {
        return if r < 0.05 * scale {
            Injected::Unavailable
        } else {
            Injected::Delay(dice.between(0, 200))
        };
    }
    // Cumulative thresholds.
    let mut edge = 0.0;
    let mut hit = |rate: f64| {
        edge += rate * scale;
        r < edge
    };
    if hit(0.06) {
        return Injected::Unavailable;
    }
    if hit(0.04) {
        return Injected::RateLimited(if p == FaultProfile::Hostile { 2 } else { 1 });
    }
    if hit(0.02) {
        return Injected::ProxyPage;
    }
    if !stream {
        if hit(0.03) {
            return Injected::Truncated;
        }
        if hit(0.03) {
            return Injected::Reset;
        }
    }
    if p == FaultProfile::Hostile && hit(0.01) {
        // Longer than the client's request timeout.
        return Injected::Delay(Duration::from_secs(35));
    }
    Injected::Delay(dice.between(0, 200))
}

/// What happens to a watch stream that starts now.
pub fn stream(p: FaultProfile, dice: &Dice) -> StreamFault {
    match p {
        FaultProfile::None | FaultProfile::Slow => StreamFault::default(),
        FaultProfile::Flaky => StreamFault {
            end_after: Some(dice.between(2000, 8000)),
            error_frame: dice.roll() < 0.3,
            stall: false,
        },
        FaultProfile::Hostile => {
            let stall = dice.roll() < 0.25;
            StreamFault {
                end_after: Some(dice.between(1000, 4000)),
                error_frame: !stall && dice.roll() < 0.5,
                stall,
            }
        }
    }
}

/// The page a proxy in front of a server sends when the server does not answer.
pub const PROXY_PAGE: &str = "<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n<center><h1>502 Bad Gateway</h1></center>\r\n<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n";

/// How often tokens are rotated under `hostile`.
pub const TOKEN_LIFETIME: Duration = Duration::from_secs(30);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn profiles_parse_and_rates_are_as_documented() {
        assert_eq!(FaultProfile::parse("Flaky"), Ok(FaultProfile::Flaky));
        assert!(
            FaultProfile::parse("chaos")
                .unwrap_err()
                .contains("hostile")
        );
        let dice = Dice::new(7);
        let n = 20_000;
        let count = |p: FaultProfile, write: bool| {
            (0..n)
                .filter(|_| !matches!(request(p, &dice, write, false), Injected::Delay(_)))
                .count() as f64
                / n as f64
        };
        assert_eq!(count(FaultProfile::None, false), 0.0);
        assert_eq!(count(FaultProfile::Slow, false), 0.0);
        let flaky = count(FaultProfile::Flaky, false);
        assert!((0.16..0.20).contains(&flaky), "flaky reads fail {flaky}");
        let hostile = count(FaultProfile::Hostile, false);
        assert!(
            (0.33..0.39).contains(&hostile),
            "hostile reads fail {hostile}"
        );
        // Writes are never cut short or reset.
        for _ in 0..n {
            let i = request(FaultProfile::Hostile, &dice, true, false);
            assert!(
                matches!(i, Injected::Delay(_) | Injected::Unavailable),
                "{i:?}"
            );
        }
        // The same seed, the same faults.
        let (a, b) = (Dice::new(3), Dice::new(3));
        for _ in 0..100 {
            assert_eq!(
                request(FaultProfile::Flaky, &a, false, false),
                request(FaultProfile::Flaky, &b, false, false)
            );
        }
    }
}
