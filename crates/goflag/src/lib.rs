//! Command-line parsing with the exact semantics of Go's `flag` package.
//!
//! The Tekton controller builds argv for Go binaries: `-wait_file x`, `--when_expressions '[…]'`,
//! `-timeout 5m0s`, `-basic-git=secret=url`. Generic Rust CLI parsers reject single-dash long
//! names or treat a value starting with `-` as a flag, so this crate reproduces Go's parser:
//! one or two dashes, `-name=value`, `-name value` (the next element is taken even if it starts
//! with `-`), bool flags only as `-name` / `-name=<bool>`, parsing stops at the first non-flag or
//! at `--`, repeated flags overwrite (or accumulate, for `func` flags), the same error texts, and
//! the exit codes of `flag.ExitOnError` (2 on error, 0 for `-h`).

use std::collections::HashMap;
use std::fmt::Write as _;

#[rustfmt::skip]
mod isprint;

/// A parsed flag value.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Bool(bool),
    Str(String),
    /// Go `time.Duration`, in nanoseconds.
    Duration(i64),
    Uint(u64),
    Int(i64),
    Float(f64),
    /// A `flag.Func`: every occurrence, in order.
    List(Vec<String>),
}

type Setter<'a> = Box<dyn FnMut(&str) -> Result<(), String> + 'a>;

struct FlagDef<'a> {
    name: String,
    usage: String,
    default: Value,
    /// Extra validation for `func` flags, called at parse time like Go's `Value.Set`.
    setter: Option<Setter<'a>>,
}

/// Why parsing stopped.
#[derive(Debug, Clone, PartialEq)]
pub enum FlagError {
    /// `-h` / `-help` / `--help` (not defined as flags): print usage, exit 0.
    Help,
    /// Any parse error, with Go's message (without the usage text): exit 2.
    Invalid(String),
}

impl FlagError {
    /// What Go's `ExitOnError` does, minus the exit: prints the message (unless `-h`) and
    /// `usage` to stderr; returns the exit code (0 for `-h`, 2 otherwise).
    pub fn report(&self, usage: &str) -> i32 {
        match self {
            FlagError::Help => {
                print_failure(None, usage);
                0
            }
            FlagError::Invalid(msg) => {
                print_failure(Some(msg), usage);
                2
            }
        }
    }
}

impl std::fmt::Display for FlagError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            FlagError::Help => f.write_str("flag: help requested"),
            FlagError::Invalid(m) => f.write_str(m),
        }
    }
}

impl std::error::Error for FlagError {}

/// A set of flag definitions, like Go's `flag.FlagSet`.
pub struct FlagSet<'a> {
    program: String,
    defs: Vec<FlagDef<'a>>,
}

/// The outcome of a successful parse.
#[derive(Debug, Clone, Default)]
pub struct Parsed {
    values: HashMap<String, Value>,
    set: Vec<String>,
    args: Vec<String>,
}

impl<'a> FlagSet<'a> {
    /// `program` is shown in `Usage of <program>:`.
    pub fn new(program: &str) -> Self {
        FlagSet {
            program: program.to_string(),
            defs: Vec::new(),
        }
    }

    fn define(&mut self, name: &str, usage: &str, default: Value, setter: Option<Setter<'a>>) {
        self.defs.retain(|d| d.name != name);
        self.defs.push(FlagDef {
            name: name.to_string(),
            usage: usage.to_string(),
            default,
            setter,
        });
    }

    pub fn bool(&mut self, name: &str, default: bool, usage: &str) {
        self.define(name, usage, Value::Bool(default), None);
    }
    pub fn string(&mut self, name: &str, default: &str, usage: &str) {
        self.define(name, usage, Value::Str(default.to_string()), None);
    }
    /// A `time.Duration` flag; `default` in nanoseconds.
    pub fn duration(&mut self, name: &str, default: i64, usage: &str) {
        self.define(name, usage, Value::Duration(default), None);
    }
    pub fn uint(&mut self, name: &str, default: u64, usage: &str) {
        self.define(name, usage, Value::Uint(default), None);
    }
    pub fn int(&mut self, name: &str, default: i64, usage: &str) {
        self.define(name, usage, Value::Int(default), None);
    }
    pub fn float(&mut self, name: &str, default: f64, usage: &str) {
        self.define(name, usage, Value::Float(default), None);
    }
    /// A `flag.Func`: each occurrence is passed to `set` at parse time (an `Err` is a flag error:
    /// `invalid value "<v>" for flag -<name>: <err>`) and recorded in order.
    pub fn func(
        &mut self,
        name: &str,
        usage: &str,
        set: impl FnMut(&str) -> Result<(), String> + 'a,
    ) {
        self.define(name, usage, Value::List(Vec::new()), Some(Box::new(set)));
    }

    /// Parses `args` (without argv[0]).
    pub fn parse<S: AsRef<str>>(&mut self, args: &[S]) -> Result<Parsed, FlagError> {
        let mut parsed = Parsed {
            values: self
                .defs
                .iter()
                .map(|d| (d.name.clone(), d.default.clone()))
                .collect(),
            set: Vec::new(),
            args: Vec::new(),
        };
        let mut i = 0;
        while i < args.len() {
            let s = args[i].as_ref();
            if s.len() < 2 || !s.starts_with('-') {
                break;
            }
            let mut dashes = 1;
            if s.as_bytes()[1] == b'-' {
                dashes = 2;
                if s.len() == 2 {
                    i += 1;
                    break;
                }
            }
            let body = &s[dashes..];
            if body.is_empty() || body.starts_with('-') || body.starts_with('=') {
                return Err(FlagError::Invalid(format!("bad flag syntax: {s}")));
            }
            i += 1;
            // Go scans bytes from index 1 (a name cannot start with `=`); `=` is ASCII, so the
            // split is always on a char boundary, whatever the name's first char is.
            let (name, inline) = match body.bytes().skip(1).position(|b| b == b'=') {
                Some(pos) => (&body[..pos + 1], Some(&body[pos + 2..])),
                None => (body, None),
            };
            let Some(def) = self.defs.iter_mut().find(|d| d.name == name) else {
                if name == "help" || name == "h" {
                    return Err(FlagError::Help);
                }
                return Err(FlagError::Invalid(format!(
                    "flag provided but not defined: -{name}"
                )));
            };
            if matches!(def.default, Value::Bool(_)) {
                let v = match inline {
                    None => true,
                    Some(text) => parse_bool(text).ok_or_else(|| {
                        FlagError::Invalid(format!(
                            "invalid boolean value {} for -{name}: parse error",
                            go_quote(text)
                        ))
                    })?,
                };
                parsed.values.insert(name.to_string(), Value::Bool(v));
            } else {
                let text = match inline {
                    Some(t) => t,
                    None if i < args.len() => {
                        i += 1;
                        args[i - 1].as_ref()
                    }
                    None => {
                        return Err(FlagError::Invalid(format!(
                            "flag needs an argument: -{name}"
                        )));
                    }
                };
                let invalid = |err: &str| {
                    FlagError::Invalid(format!(
                        "invalid value {} for flag -{name}: {err}",
                        go_quote(text)
                    ))
                };
                let value = match &def.default {
                    Value::Str(_) => Value::Str(text.to_string()),
                    Value::Duration(_) => {
                        Value::Duration(parse_duration(text).map_err(|_| invalid("parse error"))?)
                    }
                    Value::Uint(_) => Value::Uint(parse_uint(text).map_err(invalid)?),
                    Value::Int(_) => Value::Int(parse_int(text).map_err(invalid)?),
                    Value::Float(_) => Value::Float(parse_float(text).map_err(invalid)?),
                    Value::List(_) => {
                        if let Some(set) = def.setter.as_mut() {
                            set(text).map_err(|e| invalid(&e))?;
                        }
                        let mut list = match parsed.values.remove(name) {
                            Some(Value::List(l)) => l,
                            _ => Vec::new(),
                        };
                        list.push(text.to_string());
                        Value::List(list)
                    }
                    Value::Bool(_) => unreachable_bool(),
                };
                parsed.values.insert(name.to_string(), value);
            }
            if !parsed.set.iter().any(|n| n == name) {
                parsed.set.push(name.to_string());
            }
        }
        parsed.args = args[i..].iter().map(|a| a.as_ref().to_string()).collect();
        Ok(parsed)
    }

    /// Go's default usage text: `Usage of <program>:` then `PrintDefaults`.
    pub fn usage(&self) -> String {
        let mut out = format!("Usage of {}:\n", self.program);
        let mut defs: Vec<&FlagDef> = self.defs.iter().collect();
        defs.sort_by(|a, b| a.name.cmp(&b.name));
        for d in defs {
            let (type_name, usage) = unquote_usage(d);
            let mut line = format!("  -{}", d.name);
            if !type_name.is_empty() {
                line.push(' ');
                line.push_str(&type_name);
            }
            if line.len() <= 4 {
                line.push('\t');
            } else {
                line.push_str("\n    \t");
            }
            line.push_str(&usage.replace('\n', "\n    \t"));
            match &d.default {
                Value::Str(s) if !s.is_empty() => {
                    let _ = write!(line, " (default {})", go_quote(s));
                }
                Value::Bool(true) => line.push_str(" (default true)"),
                Value::Duration(n) if *n != 0 => {
                    let _ = write!(line, " (default {})", format_duration(*n));
                }
                Value::Uint(n) if *n != 0 => {
                    let _ = write!(line, " (default {n})");
                }
                Value::Int(n) if *n != 0 => {
                    let _ = write!(line, " (default {n})");
                }
                Value::Float(f) if *f != 0.0 => {
                    let _ = write!(line, " (default {f})");
                }
                _ => {}
            }
            out.push_str(&line);
            out.push('\n');
        }
        out
    }
}

/// The process's argv as strings, for [`FlagSet::parse`] and the binaries' own argument handling.
///
/// Go takes argv as bytes; stepkit takes it as UTF-8 (Kubernetes `command`/`args` are JSON
/// strings, so a pod's argv always is). An element that is not UTF-8 is refused rather than
/// silently altered: `Err` is the one-line message (`argument <n> is not valid UTF-8: "<bytes>"`,
/// the bytes Go-quoted) for the caller to print before exiting 2, like any flag error.
pub fn utf8_argv(
    argv: impl IntoIterator<Item = std::ffi::OsString>,
) -> Result<Vec<String>, String> {
    use std::os::unix::ffi::OsStringExt as _;
    argv.into_iter()
        .enumerate()
        .map(|(index, arg)| {
            arg.into_string().map_err(|bad| {
                format!(
                    "argument {index} is not valid UTF-8: {}",
                    go_quote_bytes(&bad.into_vec())
                )
            })
        })
        .collect()
}

/// [`utf8_argv`] of `std::env::args_os()`, printing the error and exiting 2 on a non-UTF-8
/// element.
pub fn utf8_argv_or_exit() -> Vec<String> {
    utf8_argv(std::env::args_os()).unwrap_or_else(|msg| {
        print_failure(Some(&msg), "");
        std::process::exit(2)
    })
}

/// Writes a flag failure to stderr as Go does: the message line (if any), then `usage`. Write
/// errors are ignored, so a closed or broken stderr cannot turn exit 2 (or 0) into a panic.
pub fn print_failure(msg: Option<&str>, usage: &str) {
    use std::io::Write as _;
    let mut err = std::io::stderr().lock();
    if let Some(msg) = msg {
        let _ = writeln!(err, "{msg}");
    }
    let _ = err.write_all(usage.as_bytes());
}

impl FlagSet<'_> {
    /// Parses like Go's `flag.CommandLine` with `ExitOnError`: on error prints the message and
    /// the usage to stderr and exits 2; on `-h` prints the usage and exits 0.
    pub fn parse_or_exit<S: AsRef<str>>(&mut self, args: &[S]) -> Parsed {
        match self.parse(args) {
            Ok(p) => p,
            Err(e) => std::process::exit(e.report(&self.usage())),
        }
    }
}

fn unreachable_bool() -> Value {
    // Bool flags are handled before the value switch.
    Value::Bool(false)
}

/// Go's `flag.UnquoteUsage`: a back-quoted word in the usage names the value.
fn unquote_usage(d: &FlagDef) -> (String, String) {
    if let Some(start) = d.usage.find('`')
        && let Some(len) = d.usage[start + 1..].find('`')
    {
        let name = d.usage[start + 1..start + 1 + len].to_string();
        let usage = format!(
            "{}{}{}",
            &d.usage[..start],
            name,
            &d.usage[start + 2 + len..]
        );
        return (name, usage);
    }
    let name = match d.default {
        Value::Bool(_) => "",
        Value::Str(_) => "string",
        Value::Duration(_) => "duration",
        Value::Uint(_) => "uint",
        Value::Int(_) => "int",
        Value::Float(_) => "float",
        Value::List(_) => "value",
    };
    (name.to_string(), d.usage.clone())
}

impl Parsed {
    pub fn bool(&self, name: &str) -> bool {
        matches!(self.values.get(name), Some(Value::Bool(true)))
    }
    pub fn str(&self, name: &str) -> &str {
        match self.values.get(name) {
            Some(Value::Str(s)) => s,
            _ => "",
        }
    }
    /// Nanoseconds.
    pub fn duration(&self, name: &str) -> i64 {
        match self.values.get(name) {
            Some(Value::Duration(n)) => *n,
            _ => 0,
        }
    }
    pub fn uint(&self, name: &str) -> u64 {
        match self.values.get(name) {
            Some(Value::Uint(n)) => *n,
            _ => 0,
        }
    }
    pub fn int(&self, name: &str) -> i64 {
        match self.values.get(name) {
            Some(Value::Int(n)) => *n,
            _ => 0,
        }
    }
    pub fn float(&self, name: &str) -> f64 {
        match self.values.get(name) {
            Some(Value::Float(n)) => *n,
            _ => 0.0,
        }
    }
    /// Every value given to a `func` flag, in order.
    pub fn list(&self, name: &str) -> &[String] {
        match self.values.get(name) {
            Some(Value::List(l)) => l,
            _ => &[],
        }
    }
    /// Whether the flag appeared on the command line (Go's `flag.Visit`).
    pub fn was_set(&self, name: &str) -> bool {
        self.set.iter().any(|n| n == name)
    }
    /// Positional arguments left after the flags (Go's `flag.Args()`).
    pub fn args(&self) -> &[String] {
        &self.args
    }
}

/// Go's `strconv.ParseBool`.
pub fn parse_bool(s: &str) -> Option<bool> {
    match s {
        "1" | "t" | "T" | "TRUE" | "true" | "True" => Some(true),
        "0" | "f" | "F" | "FALSE" | "false" | "False" => Some(false),
        _ => None,
    }
}

const PARSE_ERROR: &str = "parse error";
const RANGE_ERROR: &str = "value out of range";

/// Go's `strconv.ParseUint(s, 0, 64)` error kinds: `parse error` / `value out of range` (an
/// overflow is reported as soon as it happens, before any later syntax error, as Go does).
pub fn parse_uint(s: &str) -> Result<u64, &'static str> {
    let bytes = s.as_bytes();
    let (digits, base): (&[u8], u64) = match bytes {
        [] => return Err(PARSE_ERROR),
        [b'0', prefix, _, ..] if prefix.eq_ignore_ascii_case(&b'b') => (&bytes[2..], 2),
        [b'0', prefix, _, ..] if prefix.eq_ignore_ascii_case(&b'o') => (&bytes[2..], 8),
        [b'0', prefix, _, ..] if prefix.eq_ignore_ascii_case(&b'x') => (&bytes[2..], 16),
        [b'0', ..] => (&bytes[1..], 8),
        _ => (bytes, 10),
    };
    let mut underscores = false;
    let mut value: u64 = 0;
    for &c in digits {
        let digit = match c {
            b'_' => {
                underscores = true;
                continue;
            }
            b'0'..=b'9' => c - b'0',
            c if c.is_ascii_alphabetic() => c.to_ascii_lowercase() - b'a' + 10,
            _ => return Err(PARSE_ERROR),
        };
        if u64::from(digit) >= base {
            return Err(PARSE_ERROR);
        }
        value = value
            .checked_mul(base)
            .and_then(|v| v.checked_add(u64::from(digit)))
            .ok_or(RANGE_ERROR)?;
    }
    if underscores && !underscore_ok(s) {
        return Err(PARSE_ERROR);
    }
    Ok(value)
}

/// Go's `strconv.ParseInt(s, 0, 64)`.
pub fn parse_int(s: &str) -> Result<i64, &'static str> {
    let (neg, unsigned) = match s.as_bytes().first() {
        Some(b'-') => (true, &s[1..]),
        Some(b'+') => (false, &s[1..]),
        _ => (false, s),
    };
    let magnitude = match parse_uint(unsigned) {
        Ok(v) => v,
        Err(e) if e == RANGE_ERROR => u64::MAX,
        Err(e) => return Err(e),
    };
    const CUTOFF: u64 = 1 << 63;
    if neg {
        if magnitude > CUTOFF {
            return Err(RANGE_ERROR);
        }
        Ok((magnitude as i128).wrapping_neg() as i64)
    } else if magnitude >= CUTOFF {
        Err(RANGE_ERROR)
    } else {
        Ok(magnitude as i64)
    }
}

/// Go's `underscoreOK`: underscores only between digits (a base prefix counts as a digit);
/// hex letters are digits only after `0x`.
fn underscore_ok(s: &str) -> bool {
    let mut b = s.as_bytes();
    if let [b'-' | b'+', rest @ ..] = b {
        b = rest;
    }
    let mut saw = b'^';
    let mut i = 0;
    let mut hex = false;
    if b.len() >= 2 && b[0] == b'0' {
        let c = b[1].to_ascii_lowercase();
        if c == b'x' || c == b'o' || c == b'b' {
            i = 2;
            saw = b'0';
            hex = c == b'x';
        }
    }
    for &c in &b[i..] {
        if c.is_ascii_digit() || (hex && c.is_ascii_hexdigit()) {
            saw = b'0';
        } else if c == b'_' {
            if saw != b'0' {
                return false;
            }
            saw = b'_';
        } else {
            if saw == b'_' {
                return false;
            }
            saw = b'!';
        }
    }
    saw != b'_'
}

/// Go's `strconv.ParseFloat(s, 64)` for the forms a command line uses.
pub fn parse_float(s: &str) -> Result<f64, &'static str> {
    let t = s.trim_start_matches(['+', '-']);
    let lower = t.to_ascii_lowercase();
    if lower == "inf" || lower == "infinity" || lower == "nan" {
        return s
            .to_ascii_lowercase()
            .parse::<f64>()
            .map_err(|_| "parse error");
    }
    // Go allows digit separators where `underscoreOK` does; Rust's parser has none.
    let without_separators;
    let s = if s.contains('_') {
        if !underscore_ok(s) {
            return Err(PARSE_ERROR);
        }
        without_separators = s.replace('_', "");
        without_separators.as_str()
    } else {
        s
    };
    match s.parse::<f64>() {
        Ok(v) if v.is_infinite() => Err("value out of range"),
        Ok(v) => Ok(v),
        Err(_) => Err("parse error"),
    }
}

/// Go's `time.ParseDuration`, returning nanoseconds. The error text is Go's.
pub fn parse_duration(s: &str) -> Result<i64, String> {
    let orig = s;
    let quoted = go_quote(orig);
    let invalid = || format!("time: invalid duration {quoted}");
    let mut s = s;
    let mut neg = false;
    if let Some(c) = s.chars().next()
        && (c == '-' || c == '+')
    {
        neg = c == '-';
        s = &s[1..];
    }
    if s == "0" {
        return Ok(0);
    }
    if s.is_empty() {
        return Err(invalid());
    }
    let mut total: u64 = 0;
    while !s.is_empty() {
        let first = s.as_bytes()[0];
        if !(first == b'.' || first.is_ascii_digit()) {
            return Err(invalid());
        }
        // Integer part.
        let int_len = s.bytes().take_while(|b| b.is_ascii_digit()).count();
        let mut v: u64 = 0;
        for b in s[..int_len].bytes() {
            v = v
                .checked_mul(10)
                .and_then(|v| v.checked_add((b - b'0') as u64))
                .ok_or_else(invalid)?;
        }
        let pre = int_len > 0;
        s = &s[int_len..];
        // Fraction.
        let mut frac: u64 = 0;
        let mut scale: f64 = 1.0;
        let mut post = false;
        if let Some(rest) = s.strip_prefix('.') {
            s = rest;
            let frac_len = s.bytes().take_while(|b| b.is_ascii_digit()).count();
            let mut overflow = false;
            for b in s[..frac_len].bytes() {
                if overflow {
                    continue;
                }
                match frac
                    .checked_mul(10)
                    .and_then(|f| f.checked_add((b - b'0') as u64))
                {
                    Some(f) if f <= (1u64 << 63) => {
                        frac = f;
                        scale *= 10.0;
                    }
                    _ => overflow = true,
                }
            }
            post = frac_len > 0;
            s = &s[frac_len..];
        }
        if !pre && !post {
            return Err(invalid());
        }
        let unit_len = s
            .char_indices()
            .find(|(_, c)| *c == '.' || c.is_ascii_digit())
            .map(|(i, _)| i)
            .unwrap_or(s.len());
        if unit_len == 0 {
            return Err(format!("time: missing unit in duration {quoted}"));
        }
        let unit = &s[..unit_len];
        s = &s[unit_len..];
        let mult: u64 = match unit {
            "ns" => 1,
            "us" | "\u{b5}s" | "\u{3bc}s" => 1_000,
            "ms" => 1_000_000,
            "s" => 1_000_000_000,
            "m" => 60_000_000_000,
            "h" => 3_600_000_000_000,
            _ => {
                return Err(format!(
                    "time: unknown unit {} in duration {quoted}",
                    go_quote(unit)
                ));
            }
        };
        if v > (1u64 << 63) / mult {
            return Err(invalid());
        }
        v *= mult;
        if frac > 0 {
            v = v
                .checked_add((frac as f64 * (mult as f64 / scale)) as u64)
                .ok_or_else(invalid)?;
            if v > 1u64 << 63 {
                return Err(invalid());
            }
        }
        total = total.checked_add(v).ok_or_else(invalid)?;
        if total > 1u64 << 63 {
            return Err(invalid());
        }
    }
    if neg {
        return Ok((total as i128).wrapping_neg() as i64);
    }
    if total > i64::MAX as u64 {
        return Err(invalid());
    }
    Ok(total as i64)
}

/// Go's `time.Duration.String()` (e.g. `0s`, `1.5s`, `5m0s`, `1h30m0s`, `500ms`).
pub fn format_duration(nanos: i64) -> String {
    if nanos == 0 {
        return "0s".into();
    }
    let neg = nanos < 0;
    let u = nanos.unsigned_abs();
    let mut out = String::new();
    if u < 1_000_000_000 {
        let (unit, div) = if u < 1_000 {
            ("ns", 1)
        } else if u < 1_000_000 {
            ("µs", 1_000)
        } else {
            ("ms", 1_000_000)
        };
        out.push_str(&frac_string(u, div));
        out.push_str(unit);
    } else {
        let secs_total = u / 1_000_000_000;
        let sub = u % 1_000_000_000;
        let h = secs_total / 3600;
        let m = (secs_total / 60) % 60;
        let s = secs_total % 60;
        if h > 0 {
            let _ = write!(out, "{h}h");
        }
        if h > 0 || m > 0 {
            let _ = write!(out, "{m}m");
        }
        out.push_str(&frac_string(s * 1_000_000_000 + sub, 1_000_000_000));
        out.push('s');
    }
    if neg {
        out.insert(0, '-');
    }
    out
}

fn frac_string(v: u64, div: u64) -> String {
    let whole = v / div;
    let frac = v % div;
    if frac == 0 {
        return whole.to_string();
    }
    let width = div.to_string().len() - 1;
    let f = format!("{frac:0width$}");
    format!("{whole}.{}", f.trim_end_matches('0'))
}

/// Go's `strconv.Quote` (`%q`) for the strings flag errors show.
pub fn go_quote(s: &str) -> String {
    go_quote_bytes(s.as_bytes())
}

/// Go's `strconv.Quote` of a byte string: a byte that is not part of valid UTF-8 is `\xNN`.
pub fn go_quote_bytes(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len() + 2);
    out.push('"');
    for chunk in bytes.utf8_chunks() {
        quote_chars(&mut out, chunk.valid());
        for b in chunk.invalid() {
            let _ = write!(out, "\\x{b:02x}");
        }
    }
    out.push('"');
    out
}

/// Go's `strconv.IsPrint`: what `%q` shows as itself (the table is generated from Go).
pub fn is_print(c: char) -> bool {
    let n = c as u32;
    isprint::NOT_PRINTABLE
        .binary_search_by(|&(lo, hi)| {
            if hi < n {
                std::cmp::Ordering::Less
            } else if lo > n {
                std::cmp::Ordering::Greater
            } else {
                std::cmp::Ordering::Equal
            }
        })
        .is_err()
}

fn quote_chars(out: &mut String, s: &str) {
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\x07' => out.push_str("\\a"),
            '\x08' => out.push_str("\\b"),
            '\x0c' => out.push_str("\\f"),
            '\x0b' => out.push_str("\\v"),
            c if (c as u32) < 0x20 || c as u32 == 0x7f => {
                let _ = write!(out, "\\x{:02x}", c as u32);
            }
            c if !is_print(c) => {
                let n = c as u32;
                if n <= 0xffff {
                    let _ = write!(out, "\\u{n:04x}");
                } else {
                    let _ = write!(out, "\\U{n:08x}");
                }
            }
            c => out.push(c),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set() -> FlagSet<'static> {
        let mut fs = FlagSet::new("entrypoint");
        fs.string("wait_file", "", "wait");
        fs.bool("wait_file_content", false, "content");
        fs.duration("timeout", 0, "timeout");
        fs.string("termination_path", "/tekton/termination", "path");
        fs.uint("depth", 1, "depth");
        fs.func("basic-git", "creds", |_| Ok(()));
        fs
    }

    #[test]
    fn forms() {
        let mut fs = set();
        let p = fs
            .parse(&[
                "--wait_file",
                "-x",
                "-wait_file_content",
                "-timeout=1.5s",
                "-basic-git=a=b",
                "--basic-git",
                "c=d",
                "pos",
                "-depth",
                "3",
            ])
            .unwrap();
        assert_eq!(p.str("wait_file"), "-x");
        assert!(p.bool("wait_file_content"));
        assert_eq!(p.duration("timeout"), 1_500_000_000);
        assert_eq!(p.list("basic-git"), &["a=b".to_string(), "c=d".to_string()]);
        assert_eq!(p.args(), &["pos", "-depth", "3"]);
        assert_eq!(p.uint("depth"), 1);
        assert_eq!(p.str("termination_path"), "/tekton/termination");
        assert!(p.was_set("timeout") && !p.was_set("depth"));
    }

    #[test]
    fn bool_does_not_take_next_arg() {
        let mut fs = set();
        let p = fs.parse(&["-wait_file_content", "false"]).unwrap();
        assert!(p.bool("wait_file_content"));
        assert_eq!(p.args(), &["false"]);
        let p = fs.parse(&["-wait_file_content=F"]).unwrap();
        assert!(!p.bool("wait_file_content"));
    }

    #[test]
    fn stops_at_double_dash_and_single_dash() {
        let mut fs = set();
        let p = fs.parse(&["--", "-wait_file", "x"]).unwrap();
        assert_eq!(p.args(), &["-wait_file", "x"]);
        let p = fs.parse(&["-", "x"]).unwrap();
        assert_eq!(p.args(), &["-", "x"]);
    }

    #[test]
    fn errors() {
        let mut fs = set();
        let e = |fs: &mut FlagSet, a: &[&str]| match fs.parse(a) {
            Err(FlagError::Invalid(m)) => m,
            other => panic!("{other:?}"),
        };
        assert_eq!(
            e(&mut fs, &["-nope"]),
            "flag provided but not defined: -nope"
        );
        assert_eq!(
            e(&mut fs, &["-wait_file"]),
            "flag needs an argument: -wait_file"
        );
        assert_eq!(
            e(&mut fs, &["-timeout", "5"]),
            "invalid value \"5\" for flag -timeout: parse error"
        );
        assert_eq!(
            e(&mut fs, &["-wait_file_content=yes"]),
            "invalid boolean value \"yes\" for -wait_file_content: parse error"
        );
        assert_eq!(e(&mut fs, &["---x"]), "bad flag syntax: ---x");
        assert_eq!(e(&mut fs, &["-=x"]), "bad flag syntax: -=x");
        assert_eq!(
            e(&mut fs, &["-depth=-1"]),
            "invalid value \"-1\" for flag -depth: parse error"
        );
        assert_eq!(fs.parse(&["-h"]).unwrap_err(), FlagError::Help);
        assert_eq!(fs.parse(&["--help"]).unwrap_err(), FlagError::Help);
    }

    #[test]
    fn non_ascii_names_are_errors_not_panics() {
        let mut fs = set();
        for (arg, name) in [
            ("-é", "é"),
            ("--é=1", "é"),
            ("-日本=x=y", "日本"),
            ("-\u{1F600}", "\u{1F600}"),
        ] {
            assert_eq!(
                fs.parse(&[arg]).unwrap_err(),
                FlagError::Invalid(format!("flag provided but not defined: -{name}"))
            );
        }
        let mut fs = FlagSet::new("x");
        fs.string("é", "", "");
        let p = fs.parse(&["-é=ü", "rest"]).unwrap();
        assert_eq!(p.str("é"), "ü");
        assert_eq!(p.args(), &["rest"]);
    }

    #[test]
    fn quoting_escapes_what_go_does_not_print() {
        assert_eq!(go_quote("a\u{a0}b"), "\"a\\u00a0b\"");
        assert_eq!(go_quote("\u{200b}\u{feff}"), "\"\\u200b\\ufeff\"");
        assert_eq!(go_quote("\u{e0001}"), "\"\\U000e0001\"");
        assert_eq!(go_quote("é日本\u{1F600}"), "\"é日本\u{1F600}\"");
        assert_eq!(go_quote("\u{85}"), "\"\\u0085\"");
    }

    #[test]
    fn argv_must_be_utf8() {
        use std::os::unix::ffi::OsStringExt;
        let ok = utf8_argv(["prog", "-é"].map(std::ffi::OsString::from)).unwrap();
        assert_eq!(ok, ["prog", "-é"]);
        let bad = utf8_argv([
            std::ffi::OsString::from("prog"),
            std::ffi::OsString::from_vec(b"-\xff\xc3\xa9\n".to_vec()),
        ]);
        assert_eq!(
            bad.unwrap_err(),
            "argument 1 is not valid UTF-8: \"-\\xff\u{e9}\\n\""
        );
    }

    #[test]
    fn func_error_is_flag_error() {
        let mut fs = FlagSet::new("x");
        fs.func("basic-docker", "", |v| {
            if v.split('=').count() != 2 {
                Err(format!("expect entries of the form secret=url, got: {v}"))
            } else {
                Ok(())
            }
        });
        assert_eq!(
            fs.parse(&["-basic-docker=a"]).unwrap_err(),
            FlagError::Invalid(
                "invalid value \"a\" for flag -basic-docker: expect entries of the form secret=url, got: a"
                    .into()
            )
        );
    }

    #[test]
    fn durations() {
        let ok = |s: &str| parse_duration(s).unwrap();
        assert_eq!(ok("0"), 0);
        assert_eq!(ok("0s"), 0);
        assert_eq!(ok("500ms"), 500_000_000);
        assert_eq!(ok("5m0s"), 300_000_000_000);
        assert_eq!(ok("1h30m0s"), 5_400_000_000_000);
        assert_eq!(ok("-1s"), -1_000_000_000);
        assert_eq!(ok("+2us"), 2_000);
        assert_eq!(ok("3µs"), 3_000);
        assert_eq!(ok("3μs"), 3_000);
        assert_eq!(ok(".5s"), 500_000_000);
        assert_eq!(ok("1.s"), 1_000_000_000);
        assert_eq!(ok("1h1m1s1ms1us1ns"), 3_661_001_001_001);
        assert_eq!(ok("2562047h47m16.854775807s"), i64::MAX);
        assert_eq!(ok("-2562047h47m16.854775808s"), i64::MIN);
        assert_eq!(
            parse_duration("1").unwrap_err(),
            "time: missing unit in duration \"1\""
        );
        assert_eq!(
            parse_duration("").unwrap_err(),
            "time: invalid duration \"\""
        );
        assert_eq!(
            parse_duration("1x").unwrap_err(),
            "time: unknown unit \"x\" in duration \"1x\""
        );
        assert!(parse_duration(".s").is_err());
        assert!(parse_duration("-").is_err());
        assert!(parse_duration("2562047h47m16.854775808s").is_err());
    }

    #[test]
    fn duration_strings() {
        assert_eq!(format_duration(0), "0s");
        assert_eq!(format_duration(500_000_000), "500ms");
        assert_eq!(format_duration(1_500_000_000), "1.5s");
        assert_eq!(format_duration(300_000_000_000), "5m0s");
        assert_eq!(format_duration(5_400_000_000_000), "1h30m0s");
        assert_eq!(format_duration(-1_000_000_000), "-1s");
    }

    #[test]
    fn uints() {
        assert_eq!(parse_uint("10"), Ok(10));
        assert_eq!(parse_uint("0x10"), Ok(16));
        assert_eq!(parse_uint("010"), Ok(8));
        assert_eq!(parse_uint("0b11"), Ok(3));
        assert_eq!(parse_uint("0o17"), Ok(15));
        assert_eq!(parse_uint("1_000"), Ok(1000));
        assert_eq!(parse_uint("1__0"), Err("parse error"));
        assert_eq!(parse_uint("0x"), Err("parse error"));
        assert_eq!(
            parse_uint("99999999999999999999x"),
            Err("value out of range")
        );
        assert_eq!(parse_float("1_0"), Ok(10.0));
        assert_eq!(parse_float("1_e5"), Err("parse error"));
        assert_eq!(parse_float("in_f"), Err("parse error"));
        assert_eq!(parse_uint("0x_1_0"), Ok(16));
        assert_eq!(parse_uint(""), Err("parse error"));
        assert_eq!(
            parse_uint("18446744073709551616"),
            Err("value out of range")
        );
        assert_eq!(parse_int("-5"), Ok(-5));
        assert_eq!(parse_int("-9223372036854775808"), Ok(i64::MIN));
    }

    #[test]
    fn usage_text() {
        let fs = set();
        let u = fs.usage();
        assert!(u.starts_with("Usage of entrypoint:\n  -basic-git value\n    \tcreds\n"));
        assert!(u.contains(
            "  -termination_path string\n    \tpath (default \"/tekton/termination\")\n"
        ));
        assert!(u.contains("  -wait_file_content\n    \tcontent\n"));
    }
}
