//! Log lines in the shape of zap's production JSON logger, which upstream's git-init and
//! creds-init use.
//!
//! One JSON object per line on stderr with the keys `level`, `ts`, `caller`, `msg` (and
//! `stacktrace` for errors and fatals), zap's string escaping and Go's float formatting of the
//! timestamp. Callers pass upstream's `caller` values so log scrapers keep working, and the text
//! standing in for Go's stack trace (which cannot be reproduced), since each binary has its own.

use std::io::Write;
use std::sync::Mutex;
use std::time::{SystemTime, UNIX_EPOCH};

/// Log severity.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Level {
    Info,
    Warn,
    Error,
    Fatal,
}

impl Level {
    fn as_str(self) -> &'static str {
        match self {
            Level::Info => "info",
            Level::Warn => "warn",
            Level::Error => "error",
            Level::Fatal => "fatal",
        }
    }
}

/// A logger writing zap production lines. Tests can capture lines instead of printing them.
pub struct Logger {
    captured: Option<Mutex<Vec<String>>>,
    stacktrace: &'static str,
}

impl Logger {
    /// Logs to stderr; `stacktrace` is the `stacktrace` value of error and fatal lines.
    pub fn stderr(stacktrace: &'static str) -> Self {
        Logger {
            captured: None,
            stacktrace,
        }
    }

    /// Keeps the lines in memory (see [`Logger::lines`]).
    pub fn capturing(stacktrace: &'static str) -> Self {
        Logger {
            captured: Some(Mutex::new(Vec::new())),
            stacktrace,
        }
    }

    /// The captured lines (empty for a stderr logger).
    pub fn lines(&self) -> Vec<String> {
        match &self.captured {
            Some(m) => m.lock().map(|v| v.clone()).unwrap_or_default(),
            None => Vec::new(),
        }
    }

    pub fn info(&self, caller: &str, msg: &str) {
        self.log(Level::Info, caller, msg);
    }
    pub fn warn(&self, caller: &str, msg: &str) {
        self.log(Level::Warn, caller, msg);
    }
    pub fn error(&self, caller: &str, msg: &str) {
        self.log(Level::Error, caller, msg);
    }

    pub fn log(&self, level: Level, caller: &str, msg: &str) {
        let line = format_line(level, now_epoch_float(), caller, msg, self.stacktrace);
        match &self.captured {
            Some(m) => {
                if let Ok(mut v) = m.lock() {
                    v.push(line);
                }
            }
            None => {
                let mut out = std::io::stderr().lock();
                // Nowhere to report a failed write to stderr.
                let _ = out.write_all(line.as_bytes());
                let _ = out.write_all(b"\n");
            }
        }
    }
}

/// `float64(UnixNano)/1e9`, as zap computes `ts`.
pub fn now_epoch_float() -> f64 {
    let d = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    d.as_nanos() as f64 / 1e9
}

/// One zap production JSON line (without the newline); `stacktrace` is only written for
/// error and fatal lines.
pub fn format_line(level: Level, ts: f64, caller: &str, msg: &str, stacktrace: &str) -> String {
    let mut s = String::with_capacity(msg.len() + 96);
    s.push_str("{\"level\":\"");
    s.push_str(level.as_str());
    s.push_str("\",\"ts\":");
    s.push_str(&format_go_float(ts));
    s.push_str(",\"caller\":\"");
    escape_into(&mut s, caller);
    s.push_str("\",\"msg\":\"");
    escape_into(&mut s, msg);
    s.push('"');
    if matches!(level, Level::Error | Level::Fatal) {
        s.push_str(",\"stacktrace\":\"");
        escape_into(&mut s, stacktrace);
        s.push('"');
    }
    s.push('}');
    s
}

/// Go `strconv.FormatFloat(f, 'f', -1, 64)`: shortest round-trip digits, never an exponent.
/// Rust's `Display` for `f64` has exactly these properties.
pub fn format_go_float(f: f64) -> String {
    format!("{f}")
}

/// zap's JSON string escaping: `\"`, `\\`, `\n`, `\r`, `\t`, other control bytes as `\u00xx`;
/// everything else (including `<>&` and non-ASCII) verbatim.
pub fn escape_into(out: &mut String, s: &str) {
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 => {
                out.push_str(&format!("\\u{:04x}", c as u32));
            }
            c => out.push(c),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_shape() {
        let l = format_line(
            Level::Info,
            1718000000.0102,
            "git/git.go:413",
            "a\"b\n<x>",
            "st",
        );
        assert_eq!(
            l,
            r#"{"level":"info","ts":1718000000.0102,"caller":"git/git.go:413","msg":"a\"b\n<x>"}"#
        );
        let e = format_line(Level::Error, 1.5, "c", "\u{1}", "st");
        assert!(e.starts_with(
            r#"{"level":"error","ts":1.5,"caller":"c","msg":"\u0001","stacktrace":""#
        ));
        assert!(e.ends_with(r#""stacktrace":"st"}"#), "{e}");
    }

    #[test]
    fn go_floats() {
        assert_eq!(format_go_float(1718000000.0), "1718000000");
        assert_eq!(format_go_float(1718000000.1234567), "1718000000.1234567");
    }
}
