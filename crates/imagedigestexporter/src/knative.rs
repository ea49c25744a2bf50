//! The log lines of upstream's logger: knative's `logging.NewLogger`, i.e. zap with the
//! Stackdriver (zapdriver) encoder.
//!
//! Not zap's production shape (`level`/`ts`/`msg`, in `golog::zap`): the keys are `severity`
//! (`INFO`; `EMERGENCY` for a fatal line), `timestamp` (RFC 3339 with nanoseconds, local zone),
//! `caller`, `message`, then the logger's `commit` field and a fatal line's `stacktrace`. Like
//! upstream, the logger announces itself in two lines and then tries to read the build's git
//! commit from `$KO_DATA_PATH` (ko's data directory): found, every later line carries
//! `"commit":"<7 hex>"`; not found, one more line says why. Users and log pipelines read
//! these lines, so their text follows upstream's; the Go stack trace cannot be reproduced and
//! is replaced by [`STACKTRACE`].

use std::cell::RefCell;
use std::ffi::OsStr;
use std::path::Path;

use gocompat::files::{self, ReadError};

use golog::LocalTime;

/// Stands in for Go's stack trace in fatal lines.
pub const STACKTRACE: &str = "stepkit imagedigestexporter (no Go stack trace)";

/// Bound on each file read from `$KO_DATA_PATH` (a `HEAD`, a ref, `packed-refs`).
pub const MAX_KODATA_BYTES: u64 = 1 << 20;

/// Where upstream's lines come from (zap's short caller), as its log scrapers see them.
pub mod caller {
    pub const LOGGER_CREATED: &str = "logging/config.go:116";
    pub const LOGGER_LEVEL: &str = "logging/config.go:117";
    pub const KODATA: &str = "logging/config.go:79";
    pub const READ_IMAGES: &str = "imagedigestexporter/main.go:52";
    /// Where upstream dereferences a `null` element of `-images` (and panics).
    pub const NULL_IMAGE: &str = "imagedigestexporter/main.go:57";
    pub const NO_INDEX: &str = "imagedigestexporter/main.go:59";
    pub const DIGEST: &str = "imagedigestexporter/main.go:64";
    pub const WRITE: &str = "imagedigestexporter/main.go:80";
}

/// Line severity, as zapdriver names zap's levels.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Severity {
    Info,
    /// zap's fatal level.
    Emergency,
}

/// Writes knative lines to stderr, or keeps them (tests).
pub struct Logger {
    commit: Option<String>,
    captured: Option<RefCell<Vec<String>>>,
}

impl Logger {
    /// The logger as `logging.NewLogger` leaves it, after its start-up lines; `ko_data_path`
    /// is `$KO_DATA_PATH`.
    pub fn start(ko_data_path: Option<&OsStr>) -> Logger {
        Self::started(ko_data_path, None)
    }

    /// [`Logger::start`], keeping the lines in memory (see [`Logger::lines`]).
    pub fn capturing(ko_data_path: Option<&OsStr>) -> Logger {
        Self::started(ko_data_path, Some(RefCell::new(Vec::new())))
    }

    fn started(ko_data_path: Option<&OsStr>, captured: Option<RefCell<Vec<String>>>) -> Logger {
        let mut logger = Logger {
            commit: None,
            captured,
        };
        logger.info(caller::LOGGER_CREATED, "Successfully created the logger.");
        logger.info(caller::LOGGER_LEVEL, "Logging level set to: info");
        match commit_id(ko_data_path) {
            Ok(commit) => logger.commit = Some(commit),
            Err(err) => logger.emit(
                Severity::Info,
                caller::KODATA,
                "Fetch GitHub commit ID from kodata failed",
                Some(&err),
            ),
        }
        logger
    }

    /// The lines kept by a capturing logger.
    pub fn lines(&self) -> Vec<String> {
        self.captured
            .as_ref()
            .map(|c| c.borrow().clone())
            .unwrap_or_default()
    }

    pub fn info(&self, caller: &str, msg: &str) {
        self.emit(Severity::Info, caller, msg, None);
    }

    /// A fatal line (the caller exits).
    pub fn fatal(&self, caller: &str, msg: &str) {
        self.emit(Severity::Emergency, caller, msg, None);
    }

    fn emit(&self, severity: Severity, caller: &str, msg: &str, error: Option<&str>) {
        let line = format_line(&Line {
            severity,
            timestamp: &rfc3339_nano(&LocalTime::now()),
            caller,
            message: msg,
            commit: self.commit.as_deref(),
            error,
        });
        match &self.captured {
            Some(lines) => lines.borrow_mut().push(line),
            None => golog::sink::write_all_fd(2, format!("{line}\n").as_bytes()),
        }
    }
}

/// The parts of one line.
pub struct Line<'a> {
    pub severity: Severity,
    pub timestamp: &'a str,
    pub caller: &'a str,
    pub message: &'a str,
    pub commit: Option<&'a str>,
    /// The `error` field (`zap.Error`).
    pub error: Option<&'a str>,
}

/// One JSON line (no newline), zap's escaping; fatal lines end with [`STACKTRACE`].
pub fn format_line(line: &Line<'_>) -> String {
    let mut s = String::with_capacity(line.message.len() + 128);
    let severity = match line.severity {
        Severity::Info => "INFO",
        Severity::Emergency => "EMERGENCY",
    };
    field(&mut s, "severity", severity);
    field(&mut s, "timestamp", line.timestamp);
    field(&mut s, "caller", line.caller);
    field(&mut s, "message", line.message);
    if let Some(commit) = line.commit {
        field(&mut s, "commit", commit);
    }
    if let Some(error) = line.error {
        field(&mut s, "error", error);
    }
    if line.severity == Severity::Emergency {
        field(&mut s, "stacktrace", STACKTRACE);
    }
    s.push('}');
    s
}

/// Appends `"key":"value"` (the first one opens the object).
fn field(s: &mut String, key: &str, value: &str) {
    s.push_str(if s.is_empty() { "{\"" } else { ",\"" });
    s.push_str(key);
    s.push_str("\":\"");
    golog::zap::escape_into(s, value);
    s.push('"');
}

/// Go's `time.RFC3339Nano`: fraction without trailing zeros (none when zero), `Z` for UTC.
pub fn rfc3339_nano(t: &LocalTime) -> String {
    let mut s = format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}",
        t.year, t.month, t.day, t.hour, t.minute, t.second
    );
    if t.nanos != 0 {
        let frac = format!("{:09}", t.nanos);
        s.push('.');
        s.push_str(frac.trim_end_matches('0'));
    }
    if t.offset_secs == 0 {
        s.push('Z');
    } else {
        let sign = if t.offset_secs < 0 { '-' } else { '+' };
        let abs = t.offset_secs.unsigned_abs();
        s.push_str(&format!("{sign}{:02}:{:02}", abs / 3600, (abs / 60) % 60));
    }
    s
}

/// knative's `changeset.Get`: the first 7 hex digits of the commit in `$KO_DATA_PATH/HEAD`,
/// following one `ref: <name>` to the ref's file or to `packed-refs`. `Err` is upstream's text.
pub fn commit_id(ko_data_path: Option<&OsStr>) -> Result<String, String> {
    let dir = ko_data_path
        .filter(|d| !d.is_empty())
        .ok_or_else(|| "\"KO_DATA_PATH\" does not exist or is empty".to_string())?
        .to_string_lossy()
        .into_owned();
    let head = read_kodata(&dir, "HEAD")?.map_err(|missing| missing.0)?;
    let mut commit = trim_space(&head).to_vec();
    if let Some(name) = commit.strip_prefix(b"ref: ") {
        let name = String::from_utf8_lossy(name).into_owned();
        let data = match read_kodata(&dir, &name)? {
            Ok(data) => data,
            // Not there: maybe packed; if there is no packed-refs either, this error stands.
            Err(missing) => match read_kodata(&dir, "packed-refs")? {
                Ok(packed) => packed_ref(&packed, &name)?,
                Err(_) => return Err(missing.0),
            },
        };
        commit = trim_space(&data).to_vec();
    }
    let valid = commit.len() == 40
        && commit
            .iter()
            .all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'));
    if !valid {
        return Err(format!(
            "{} is not a valid GitHub commit ID",
            goflag::go_quote_bytes(&commit)
        ));
    }
    Ok(String::from_utf8_lossy(&commit[..7]).into_owned())
}

/// A file that does not exist: Go's error text.
struct Missing(String);

/// A file under the kodata directory, bounded. Outer `Err`: it cannot be read (Go-style text);
/// inner `Err`: it does not exist.
fn read_kodata(dir: &str, name: &str) -> Result<Result<Vec<u8>, Missing>, String> {
    let path = gocompat::fs::join(&[dir, name]);
    match files::read_bounded(Path::new(&path), MAX_KODATA_BYTES) {
        Ok(data) => Ok(Ok(data)),
        Err(e @ ReadError::NotFound) => Ok(Err(Missing(e.text(&path)))),
        Err(e) => Err(e.text(&path)),
    }
}

/// The commit `packed-refs` (`<commit> <ref>` lines) lists for `name`.
fn packed_ref(packed: &[u8], name: &str) -> Result<Vec<u8>, String> {
    for line in packed.split(|&b| b == b'\n') {
        // Go's line scanner gives up on a line over 64 KiB.
        if line.len() >= 64 * 1024 {
            break;
        }
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        let parts: Vec<&[u8]> = line.split(|&b| b == b' ').collect();
        if let [commit, reference] = parts[..]
            && reference == name.as_bytes()
        {
            return Ok(commit.to_vec());
        }
    }
    Err(format!(
        "{} ref not found in packed-refs",
        goflag::go_quote(name)
    ))
}

/// Go's `bytes.TrimSpace`: Unicode white space off both ends; invalid UTF-8 stops it.
fn trim_space(mut s: &[u8]) -> &[u8] {
    while !s.is_empty() {
        // An invalid byte decodes as U+FFFD, which is not white space.
        let (c, len) = gocompat::json::decode_char(s);
        if !c.is_whitespace() {
            break;
        }
        s = &s[len..];
    }
    loop {
        let last = (1..=s.len().min(4)).find_map(|k| {
            let tail = std::str::from_utf8(&s[s.len() - k..]).ok()?;
            let mut chars = tail.chars();
            let c = chars.next()?;
            chars.next().is_none().then_some((c, k))
        });
        match last {
            Some((c, k)) if c.is_whitespace() => s = &s[..s.len() - k],
            _ => break,
        }
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    fn utc(secs: i64, nanos: u32) -> LocalTime {
        LocalTime::utc(secs, nanos)
    }

    #[test]
    fn timestamps_are_rfc3339_nano() {
        assert_eq!(
            rfc3339_nano(&utc(1_796_670_359, 920_457_183)),
            "2026-12-07T19:05:59.920457183Z"
        );
        assert_eq!(
            rfc3339_nano(&utc(1_796_670_359, 920_640_300)),
            "2026-12-07T19:05:59.9206403Z"
        );
        assert_eq!(rfc3339_nano(&utc(0, 0)), "1970-01-01T00:00:00Z");
        let mut t = utc(0, 500_000_000);
        t.offset_secs = -(3 * 3600 + 30 * 60);
        assert_eq!(rfc3339_nano(&t), "1970-01-01T00:00:00.5-03:30");
    }

    #[test]
    fn line_shapes() {
        let info = Line {
            severity: Severity::Info,
            timestamp: "T",
            caller: caller::NO_INDEX,
            message: "No index.json found for: a\"<b>",
            commit: None,
            error: None,
        };
        assert_eq!(
            format_line(&info),
            r#"{"severity":"INFO","timestamp":"T","caller":"imagedigestexporter/main.go:59","message":"No index.json found for: a\"<b>"}"#
        );
        let kodata = Line {
            caller: caller::KODATA,
            message: "Fetch GitHub commit ID from kodata failed",
            error: Some("\"KO_DATA_PATH\" does not exist or is empty"),
            ..info
        };
        assert_eq!(
            format_line(&kodata),
            r#"{"severity":"INFO","timestamp":"T","caller":"logging/config.go:79","message":"Fetch GitHub commit ID from kodata failed","error":"\"KO_DATA_PATH\" does not exist or is empty"}"#
        );
        let fatal = Line {
            severity: Severity::Emergency,
            caller: caller::DIGEST,
            message: "m\n",
            commit: Some("abcdef0"),
            error: None,
            ..kodata
        };
        assert_eq!(
            format_line(&fatal),
            format!(
                r#"{{"severity":"EMERGENCY","timestamp":"T","caller":"imagedigestexporter/main.go:64","message":"m\n","commit":"abcdef0","stacktrace":"{STACKTRACE}"}}"#
            )
        );
    }

    #[test]
    fn start_up_lines() {
        let log = Logger::capturing(None);
        let lines = log.lines();
        assert_eq!(lines.len(), 3);
        assert!(lines[0].contains(
            r#""caller":"logging/config.go:116","message":"Successfully created the logger."}"#
        ));
        assert!(lines[1].ends_with(r#""message":"Logging level set to: info"}"#));
        assert!(lines[2].ends_with(
            r#""message":"Fetch GitHub commit ID from kodata failed","error":"\"KO_DATA_PATH\" does not exist or is empty"}"#
        ));
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("HEAD"),
            "abcdef0123456789abcdef0123456789abcdef01\n",
        )
        .unwrap();
        let log = Logger::capturing(Some(dir.path().as_os_str()));
        log.info(caller::NO_INDEX, "x");
        let lines = log.lines();
        assert_eq!(lines.len(), 3);
        assert!(
            lines[2].ends_with(r#""message":"x","commit":"abcdef0"}"#),
            "{}",
            lines[2]
        );
    }

    #[test]
    fn commit_ids() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        let get = || commit_id(Some(d.as_os_str()));
        let shown = d.display();
        assert_eq!(
            commit_id(Some(OsStr::new(""))).unwrap_err(),
            "\"KO_DATA_PATH\" does not exist or is empty"
        );
        assert_eq!(
            get().unwrap_err(),
            format!("open {shown}/HEAD: no such file or directory")
        );
        std::fs::write(d.join("HEAD"), " \tref: refs/heads/main\n").unwrap();
        assert_eq!(
            get().unwrap_err(),
            format!("open {shown}/refs/heads/main: no such file or directory")
        );
        std::fs::create_dir_all(d.join("refs/heads")).unwrap();
        std::fs::write(d.join("refs/heads/main"), "ABC\n").unwrap();
        assert_eq!(
            get().unwrap_err(),
            "\"ABC\" is not a valid GitHub commit ID"
        );
        std::fs::remove_file(d.join("refs/heads/main")).unwrap();
        std::fs::write(
            d.join("packed-refs"),
            "# pack-refs\r\n1111111111111111111111111111111111111111 refs/heads/main\r\n",
        )
        .unwrap();
        assert_eq!(get().unwrap(), "1111111");
        std::fs::write(d.join("packed-refs"), "x y\n").unwrap();
        assert_eq!(
            get().unwrap_err(),
            "\"refs/heads/main\" ref not found in packed-refs"
        );
        std::fs::write(
            d.join("HEAD"),
            "\u{a0}abcdef0123456789abcdef0123456789abcdef01\u{2003}",
        )
        .unwrap();
        assert_eq!(get().unwrap(), "abcdef0");
        std::fs::write(d.join("HEAD"), b"\xffab").unwrap();
        assert_eq!(
            get().unwrap_err(),
            "\"\\xffab\" is not a valid GitHub commit ID"
        );
        std::fs::remove_file(d.join("HEAD")).unwrap();
        std::fs::create_dir(d.join("HEAD")).unwrap();
        assert_eq!(
            get().unwrap_err(),
            format!("read {shown}/HEAD: is a directory")
        );
    }
}
