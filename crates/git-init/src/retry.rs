//! The catalog's retry loop (`-retryInitial/-retryMax/-retryFactor/-retryMaxAttempts`), except
//! that only transient failures (network trouble) are retried: a missing revision, bad
//! credentials or a rejected certificate fail at once.

use std::time::Duration;

use crate::error::GitError;
use crate::flags::RetryConfig;
use crate::zap::{Logger, callers};

/// Runs `op` until it succeeds, fails permanently or the attempts are used up. Logs
/// `Retrying operation (attempt N)` before every attempt, as upstream does. Returns the
/// result and the total time slept.
pub fn retry_with_backoff<T>(
    log: &Logger,
    cfg: &RetryConfig,
    mut op: impl FnMut() -> Result<T, GitError>,
    mut sleep: impl FnMut(Duration),
) -> (Result<T, GitError>, Duration) {
    let mut waited = Duration::ZERO;
    let mut rng = Rng::seeded();
    let mut attempt: i64 = 0;
    loop {
        log.info(
            callers().retry,
            &format!("Retrying operation (attempt {})", attempt + 1),
        );
        let err = match op() {
            Ok(v) => return (Ok(v), waited),
            Err(e) => e,
        };
        if attempt + 1 == cfg.max_attempts || !err.transient {
            return (Err(err), waited);
        }
        let wait = backoff_wait(cfg, attempt, &mut rng);
        sleep(wait);
        waited += wait;
        attempt += 1;
    }
}

/// `min(initial × factor^attempt, max)` plus half of a random jitter below that.
pub fn backoff_wait(cfg: &RetryConfig, attempt: i64, rng: &mut Rng) -> Duration {
    let raw = cfg.initial_ns as f64 * cfg.factor.powf(attempt as f64);
    let backoff = if raw.is_nan() {
        0
    } else {
        (raw.min(i64::MAX as f64) as i64).min(cfg.max_ns)
    };
    if backoff <= 0 {
        // Upstream panics here (rand.Int63n(0)); waiting nothing is the sane reading.
        return Duration::ZERO;
    }
    let jitter = (rng.next_u64() % backoff as u64) as i64;
    Duration::from_nanos((backoff + jitter / 2) as u64)
}

/// A small xorshift generator; jitter needs no cryptographic quality.
pub struct Rng(u64);

impl Rng {
    pub fn seeded() -> Self {
        let t = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos() as u64)
            .unwrap_or(0x9E37_79B9_7F4A_7C15);
        Rng(t ^ (std::process::id() as u64).rotate_left(32) | 1)
    }

    pub fn next_u64(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        x
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn transient() -> GitError {
        GitError {
            args: vec![],
            output: "fatal: unable to access: Connection refused\n".into(),
            status: 128,
            transient: true,
        }
    }

    fn cfg(initial_ms: i64, max_ms: i64, attempts: i64) -> RetryConfig {
        RetryConfig {
            initial_ns: initial_ms * 1_000_000,
            max_ns: max_ms * 1_000_000,
            factor: 2.0,
            max_attempts: attempts,
        }
    }

    #[test]
    fn first_try() {
        let log = Logger::capturing(crate::zap::STACKTRACE);
        let (r, waited) = retry_with_backoff(&log, &cfg(100, 1000, 3), || Ok(1), |_| {});
        assert_eq!(r.unwrap(), 1);
        assert_eq!(waited, Duration::ZERO);
        assert_eq!(log.lines().len(), 1);
        assert!(log.lines()[0].contains("Retrying operation (attempt 1)"));
    }

    #[test]
    fn second_try_waits_between_100_and_150ms() {
        let log = Logger::capturing(crate::zap::STACKTRACE);
        let mut n = 0;
        let (r, waited) = retry_with_backoff(
            &log,
            &cfg(100, 1000, 3),
            || {
                n += 1;
                if n < 2 { Err(transient()) } else { Ok(n) }
            },
            |_| {},
        );
        assert_eq!(r.unwrap(), 2);
        assert!(waited >= Duration::from_millis(100) && waited <= Duration::from_millis(200));
    }

    #[test]
    fn gives_up_and_caps() {
        let log = Logger::capturing(crate::zap::STACKTRACE);
        let (r, waited) = retry_with_backoff(
            &log,
            &cfg(100, 1000, 2),
            || Err::<(), _>(transient()),
            |_| {},
        );
        assert!(r.is_err());
        assert!(waited >= Duration::from_millis(100) && waited <= Duration::from_millis(200));
        let c = RetryConfig {
            initial_ns: 100_000_000,
            max_ns: 1_000_000,
            factor: 2.0,
            max_attempts: 3,
        };
        let (r, waited) = retry_with_backoff(&log, &c, || Err::<(), _>(transient()), |_| {});
        assert!(r.is_err());
        assert!(waited >= Duration::from_millis(2) && waited <= Duration::from_millis(4));
    }

    #[test]
    fn permanent_errors_are_not_retried() {
        let log = Logger::capturing(crate::zap::STACKTRACE);
        let mut calls = 0;
        let (r, _) = retry_with_backoff(
            &log,
            &cfg(1, 1, 5),
            || {
                calls += 1;
                Err::<(), _>(GitError::fatal(vec![], "couldn't find remote ref nope"))
            },
            |_| {},
        );
        assert!(r.is_err());
        assert_eq!(calls, 1);
    }

    #[test]
    fn zero_initial_does_not_panic() {
        let log = Logger::capturing(crate::zap::STACKTRACE);
        let mut calls = 0;
        let (r, waited) = retry_with_backoff(
            &log,
            &cfg(0, 0, 3),
            || {
                calls += 1;
                Err::<(), _>(transient())
            },
            |_| {},
        );
        assert!(r.is_err());
        assert_eq!((calls, waited), (3, Duration::ZERO));
    }
}
