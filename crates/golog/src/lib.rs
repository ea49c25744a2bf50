//! Log lines and timestamps in the formats Go's standard library prints.
//!
//! Upstream's helpers log with Go's `log` package (`2026/08/20 11:42:35 msg` on stderr) and
//! `slog` (`2026/08/20 11:42:35 INFO msg`), and stamp `StartedAt` as
//! `2006-01-02T15:04:05.000Z07:00` in the container's local time zone. Users grep these lines
//! and the controller parses the timestamp, so stepkit prints the same shapes. [`zap`] writes
//! the JSON lines of zap's production logger (git-init, creds-init).

pub mod sink;
pub mod zap;

use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// A wall-clock instant broken down in the local time zone.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LocalTime {
    pub year: i32,
    pub month: u32,
    pub day: u32,
    pub hour: u32,
    pub minute: u32,
    pub second: u32,
    pub nanos: u32,
    /// Offset from UTC in seconds (east positive).
    pub offset_secs: i32,
    /// Seconds since the Unix epoch.
    pub unix_secs: i64,
}

impl LocalTime {
    /// The current time in the local zone (`TZ`, else `/etc/localtime`, else UTC).
    pub fn now() -> Self {
        let d = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default();
        Self::from_unix(d.as_secs() as i64, d.subsec_nanos())
    }

    /// Breaks `secs` down in the local zone.
    pub fn from_unix(secs: i64, nanos: u32) -> Self {
        let t: libc::time_t = secs as libc::time_t;
        // SAFETY: localtime_r only writes into the zeroed `tm` we pass.
        let mut tm: libc::tm = unsafe { std::mem::zeroed() };
        let ok = unsafe { !libc::localtime_r(&t, &mut tm).is_null() };
        if !ok {
            return Self::utc(secs, nanos);
        }
        LocalTime {
            year: tm.tm_year + 1900,
            month: (tm.tm_mon + 1) as u32,
            day: tm.tm_mday as u32,
            hour: tm.tm_hour as u32,
            minute: tm.tm_min as u32,
            second: tm.tm_sec as u32,
            nanos,
            offset_secs: tm.tm_gmtoff as i32,
            unix_secs: secs,
        }
    }

    /// Breaks `secs` down in UTC (no time-zone database needed).
    pub fn utc(secs: i64, nanos: u32) -> Self {
        let days = secs.div_euclid(86_400);
        let rem = secs.rem_euclid(86_400);
        // Civil-from-days (Howard Hinnant's algorithm).
        let z = days + 719_468;
        let era = z.div_euclid(146_097);
        let doe = z - era * 146_097;
        let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
        let y = yoe + era * 400;
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
        let mp = (5 * doy + 2) / 153;
        let d = doy - (153 * mp + 2) / 5 + 1;
        let m = if mp < 10 { mp + 3 } else { mp - 9 };
        LocalTime {
            year: (if m <= 2 { y + 1 } else { y }) as i32,
            month: m as u32,
            day: d as u32,
            hour: (rem / 3600) as u32,
            minute: ((rem / 60) % 60) as u32,
            second: (rem % 60) as u32,
            nanos,
            offset_secs: 0,
            unix_secs: secs,
        }
    }

    /// Go `log` prefix: `2006/01/02 15:04:05`.
    pub fn log_stamp(&self) -> String {
        format!(
            "{:04}/{:02}/{:02} {:02}:{:02}:{:02}",
            self.year, self.month, self.day, self.hour, self.minute, self.second
        )
    }

    /// Go layout `2006-01-02T15:04:05.000Z07:00` (Tekton's `StartedAt`).
    pub fn rfc3339_millis(&self) -> String {
        let zone = if self.offset_secs == 0 {
            "Z".to_string()
        } else {
            let sign = if self.offset_secs < 0 { '-' } else { '+' };
            let abs = self.offset_secs.unsigned_abs();
            format!("{sign}{:02}:{:02}", abs / 3600, (abs / 60) % 60)
        };
        format!(
            "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}{}",
            self.year,
            self.month,
            self.day,
            self.hour,
            self.minute,
            self.second,
            self.nanos / 1_000_000,
            zone
        )
    }

    /// Seconds since the epoch as a float (zap's production `ts`).
    pub fn epoch_float(&self) -> f64 {
        self.unix_secs as f64 + self.nanos as f64 / 1e9
    }
}

/// Go `log.Println(msg)`: one line on stderr with the date-time prefix.
pub fn log(msg: &str) {
    let line = format!("{} {}\n", LocalTime::now().log_stamp(), msg);
    if !sink::submit(line.as_bytes().to_vec()) {
        sink::write_stderr(line.as_bytes());
    }
}

/// Go `slog` default-handler line: `2006/01/02 15:04:05 LEVEL msg`.
pub fn slog(level: &str, msg: &str) {
    log(&format!("{level} {msg}"));
}

/// A value in a `slog` line (`key=value`), as Go's text handler writes it: as is, or with
/// `strconv.Quote` when empty or holding a space, `=`, `"`, an ASCII control other than DEL, a
/// Unicode space, U+FFFD / invalid UTF-8, or a non-printable rune (`needsQuoting`).
pub fn slog_value(s: &str) -> String {
    let needs_quoting = s.is_empty()
        || s.chars().any(|c| match c {
            ' ' | '=' | '"' | '\0'..='\u{1f}' => true,
            '\u{7f}' => false,
            '\u{80}'.. => c == '\u{fffd}' || c.is_whitespace() || !goflag::is_print(c),
            _ => false,
        });
    if needs_quoting {
        goflag::go_quote(s)
    } else {
        s.to_string()
    }
}

/// How long [`exit`] waits for queued log lines (see [`sink`]).
pub const EXIT_FLUSH: Duration = Duration::from_secs(1);

/// Go `log.Fatal(msg)`: logs and exits 1.
pub fn fatal(msg: &str) -> ! {
    log(msg);
    exit(1)
}

/// `std::process::exit` after giving queued log lines up to [`EXIT_FLUSH`] to go out.
pub fn exit(code: i32) -> ! {
    sink::flush(EXIT_FLUSH);
    std::process::exit(code)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn utc_breakdown() {
        let t = LocalTime::utc(1_787_312_555, 123_456_789);
        assert_eq!(t.rfc3339_millis(), "2026-08-21T11:42:35.123Z");
        assert_eq!(t.log_stamp(), "2026/08/21 11:42:35");
        let t = LocalTime::utc(951_782_400, 0); // leap day 2000
        assert_eq!((t.year, t.month, t.day), (2000, 2, 29));
    }

    #[test]
    fn slog_values_quote_like_go() {
        for (v, want) in [
            ("plain", "plain"),
            ("", r#""""#),
            ("a b", r#""a b""#),
            ("a=b", r#""a=b""#),
            ("a\"b", r#""a\"b""#),
            ("tab\there", r#""tab\there""#),
            ("back\\slash<&>", "back\\slash<&>"),
            ("del\u{7f}", "del\u{7f}"),
            ("é✓", "é✓"),
            ("nbsp\u{a0}", r#""nbsp\u00a0""#),
            ("zw\u{200b}", r#""zw\u200b""#),
            ("\u{fffd}", "\"\u{fffd}\""),
        ] {
            assert_eq!(slog_value(v), want, "{v:?}");
        }
    }

    #[test]
    fn offsets() {
        let mut t = LocalTime::utc(0, 5_000_000);
        t.offset_secs = -(5 * 3600 + 30 * 60);
        assert_eq!(t.rfc3339_millis(), "1970-01-01T00:00:00.005-05:30");
        t.offset_secs = 3600;
        assert!(t.rfc3339_millis().ends_with("+01:00"));
    }
}
