//! Log lines in the shape of zap's production JSON logger, which upstream's git-init uses.
//!
//! One JSON object per line on stderr with the keys `level`, `ts`, `caller`, `msg` (and
//! `stacktrace` for errors), zap's string escaping and Go's float formatting of the timestamp.
//! The `caller` values name upstream's source lines so log scrapers keep working.

use std::io::Write;
use std::sync::Mutex;
use std::time::{SystemTime, UNIX_EPOCH};

/// Where a message comes from in upstream's source (zap's short caller).
pub mod caller {
    pub const RUN_GIT: &str = "git/git.go:75";
    pub const HOME_DIR: &str = "git/git.go:108";
    pub const SSH_COMMAND: &str = "git/git.go:174";
    pub const SSL_VERIFY: &str = "git/git.go:179";
    pub const CLONED: &str = "git/git.go:242";
    pub const SUBMODULES: &str = "git/git.go:296";
    pub const SSH_NOT_SSH_URL: &str = "git/git.go:350";
    pub const SSH_NO_CREDS: &str = "git/git.go:352";
    pub const SPARSE_OPEN: &str = "git/git.go:379";
    pub const SPARSE_WRITE: &str = "git/git.go:385";
    pub const RETRY: &str = "git/git.go:413";
    /// Not in upstream: fetch progress and other stepkit-only notices.
    pub const PROGRESS: &str = "git/git.go:210";
    pub const MAIN_FRIENDLY: &str = "git-init/main.go:80";
    pub const MAIN_FETCH: &str = "git-init/main.go:85";
    pub const MAIN_REVISION: &str = "git-init/main.go:90";
    pub const MAIN_WRITE: &str = "git-init/main.go:104";
}

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

/// Text standing in for Go's stack trace (which cannot be reproduced).
const STACKTRACE: &str = "stepkit git-init (no Go stack trace)";

/// A logger writing zap production lines. Tests can capture lines instead of printing them.
pub struct Logger {
    captured: Option<Mutex<Vec<String>>>,
}

impl Default for Logger {
    fn default() -> Self {
        Self::stderr()
    }
}

impl Logger {
    /// Logs to stderr.
    pub fn stderr() -> Self {
        Logger { captured: None }
    }

    /// Keeps the lines in memory (see [`Logger::lines`]).
    pub fn capturing() -> Self {
        Logger {
            captured: Some(Mutex::new(Vec::new())),
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
        let line = format_line(level, now_epoch_float(), caller, msg);
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

/// One zap production JSON line (without the newline).
pub fn format_line(level: Level, ts: f64, caller: &str, msg: &str) -> String {
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
        escape_into(&mut s, STACKTRACE);
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
        let l = format_line(Level::Info, 1718000000.0102, "git/git.go:413", "a\"b\n<x>");
        assert_eq!(
            l,
            r#"{"level":"info","ts":1718000000.0102,"caller":"git/git.go:413","msg":"a\"b\n<x>"}"#
        );
        let e = format_line(Level::Error, 1.5, "c", "\u{1}");
        assert!(e.starts_with(
            r#"{"level":"error","ts":1.5,"caller":"c","msg":"\u0001","stacktrace":""#
        ));
    }

    #[test]
    fn go_floats() {
        assert_eq!(format_go_float(1718000000.0), "1718000000");
        assert_eq!(format_go_float(1718000000.1234567), "1718000000.1234567");
    }
}
