//! git-init's command line: every flag of the catalog and v0.37.2 binaries, parsed with Go
//! `flag` semantics (exit 2 on a bad flag, 0 on `-h`).

use std::cell::RefCell;

/// Everything the flags say.
#[derive(Debug, Clone, PartialEq)]
pub struct Options {
    /// `-url` as given (untrimmed; trimmed where upstream trims).
    pub url: String,
    pub revision: String,
    pub refspec: String,
    pub path: String,
    pub ssl_verify: bool,
    pub submodules: bool,
    pub submodule_paths: Vec<String>,
    pub depth: u64,
    pub termination_message_path: String,
    pub sparse_checkout_directories: String,
    pub retry: RetryConfig,
    pub user_friendly_errors: bool,
    /// Whether a flag v0.37.2's git-init lacked was given (see [`crate::flavour`]).
    pub catalog_flags_given: bool,
}

/// `-retry*` flags (catalog only).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RetryConfig {
    /// Nanoseconds.
    pub initial_ns: i64,
    /// Nanoseconds.
    pub max_ns: i64,
    pub factor: f64,
    /// Total attempts; `<= 0` means unlimited.
    pub max_attempts: i64,
}

impl Default for RetryConfig {
    fn default() -> Self {
        RetryConfig {
            initial_ns: 1_000_000_000,
            max_ns: 10_000_000_000,
            factor: 2.0,
            max_attempts: 1,
        }
    }
}

/// Parses argv (without argv[0]). `default_termination` is the `-terminationMessagePath` default.
pub fn parse(
    program: &str,
    args: &[String],
    default_termination: &str,
) -> Result<Options, (goflag::FlagError, String)> {
    let submodule_paths: RefCell<Option<Vec<String>>> = RefCell::new(None);
    let mut fs = goflag::FlagSet::new(program);
    fs.string("url", "", "Git origin URL to fetch");
    fs.string(
        "revision",
        "",
        "The Git revision to make the repository HEAD",
    );
    fs.string(
        "refspec",
        "",
        "The Git refspec to fetch the revision from (optional)",
    );
    fs.string(
        "path",
        "",
        "Path of directory under which Git repository will be copied",
    );
    fs.bool(
        "sslVerify",
        true,
        "Enable/Disable SSL verification in the git config",
    );
    fs.bool("submodules", true, "Initialize and fetch Git submodules");
    fs.func(
        "submodulePaths",
        "Comma-separated list of submodule paths to be used in git submodule update command. Flag submodules must be set to true to make this parameter applicable.",
        |v: &str| {
            if !v.is_empty() {
                let paths =
                    parse_csv_record(v).map_err(|e| format!("error parsing submodulePaths: {e}"))?;
                *submodule_paths.borrow_mut() = Some(paths);
            }
            Ok(())
        },
    );
    fs.uint("depth", 1, "Perform a shallow clone to this depth");
    fs.string(
        "terminationMessagePath",
        default_termination,
        "Location of file containing termination message",
    );
    fs.string(
        "sparseCheckoutDirectories",
        "",
        "String of directory patterns separated by a comma",
    );
    fs.duration(
        "retryInitial",
        1_000_000_000,
        "Initial retry duration for fetch operations",
    );
    fs.duration(
        "retryMax",
        10_000_000_000,
        "Maximum retry duration for fetch operations",
    );
    fs.float("retryFactor", 2.0, "Retry factor for fetch operations");
    fs.int(
        "retryMaxAttempts",
        1,
        "Maximum number of retry attempts for fetch operations",
    );
    fs.bool(
        "userFriendlyErrors",
        true,
        "Print user-friendly error messages with reproduction commands on failure (set to false to disable)",
    );
    let parsed = match fs.parse(args) {
        Ok(p) => p,
        Err(e) => return Err((e, fs.usage())),
    };
    drop(fs);
    Ok(Options {
        url: parsed.str("url").to_string(),
        revision: parsed.str("revision").to_string(),
        refspec: parsed.str("refspec").to_string(),
        path: parsed.str("path").to_string(),
        ssl_verify: parsed.bool("sslVerify"),
        submodules: parsed.bool("submodules"),
        submodule_paths: submodule_paths.into_inner().unwrap_or_default(),
        depth: parsed.uint("depth"),
        termination_message_path: parsed.str("terminationMessagePath").to_string(),
        sparse_checkout_directories: parsed.str("sparseCheckoutDirectories").to_string(),
        retry: RetryConfig {
            initial_ns: parsed.duration("retryInitial"),
            max_ns: parsed.duration("retryMax"),
            factor: parsed.float("retryFactor"),
            max_attempts: parsed.int("retryMaxAttempts"),
        },
        user_friendly_errors: parsed.bool("userFriendlyErrors"),
        catalog_flags_given: crate::flavour::CATALOG_ONLY_FLAGS
            .iter()
            .any(|f| parsed.was_set(f)),
    })
}

/// The first record of `input` as Go's `encoding/csv` reads it (comma separator, RFC 4180
/// quoting, no trimming), with Go's error texts.
pub fn parse_csv_record(input: &str) -> Result<Vec<String>, String> {
    // Go's reader skips empty lines and normalises a trailing line without "\n".
    let mut lines: Vec<String> = Vec::new();
    let mut rest = input;
    while !rest.is_empty() {
        let (line, next) = match rest.find('\n') {
            Some(i) => (&rest[..=i], &rest[i + 1..]),
            None => (rest, ""),
        };
        let mut l = line.to_string();
        if !l.ends_with('\n') {
            l.push('\n');
        }
        if l.ends_with("\r\n") {
            l.truncate(l.len() - 2);
            l.push('\n');
        }
        lines.push(l);
        rest = next;
    }
    let mut idx = 0;
    while idx < lines.len() && lines[idx] == "\n" {
        idx += 1;
    }
    if idx >= lines.len() {
        return Err("EOF".to_string());
    }
    let rec_line = idx + 1;
    let mut line_no = rec_line;
    let mut line: String = lines[idx].clone();
    idx += 1;
    let mut fields = Vec::new();
    let mut col = 1usize;
    let mut pos = 0usize; // byte offset in `line`
    let err = |line: usize, col: usize, what: &str| {
        if line == rec_line {
            format!("parse error on line {line}, column {col}: {what}")
        } else {
            format!("record on line {rec_line}; parse error on line {line}, column {col}: {what}")
        }
    };
    const BARE: &str = "bare \" in non-quoted-field";
    const QUOTE: &str = "extraneous or missing \" in quoted-field";
    loop {
        let cur = &line[pos..];
        if !cur.starts_with('"') {
            // Unquoted field up to the next comma or the end of the line.
            let end = cur.find(',').unwrap_or(cur.len() - 1);
            let field = &cur[..end];
            if let Some(q) = field.find('"') {
                return Err(err(line_no, col + q, BARE));
            }
            fields.push(field.to_string());
            if cur.as_bytes().get(end) == Some(&b',') {
                pos += end + 1;
                col += end + 1;
                continue;
            }
            return Ok(fields);
        }
        // Quoted field (may span lines).
        let mut value = String::new();
        pos += 1;
        col += 1;
        loop {
            let cur = &line[pos..];
            if let Some(q) = cur.find('"') {
                value.push_str(&cur[..q]);
                pos += q + 1;
                col += q + 1;
                let after = &line[pos..];
                if after.starts_with('"') {
                    value.push('"');
                    pos += 1;
                    col += 1;
                } else if after.starts_with(',') {
                    pos += 1;
                    col += 1;
                    fields.push(std::mem::take(&mut value));
                    break;
                } else if after == "\n" {
                    fields.push(std::mem::take(&mut value));
                    return Ok(fields);
                } else {
                    return Err(err(line_no, col - 1, QUOTE));
                }
            } else if !cur.is_empty() {
                value.push_str(cur);
                col += cur.len();
                if idx < lines.len() {
                    line = lines[idx].clone();
                    idx += 1;
                    line_no += 1;
                    pos = 0;
                    col = 1;
                } else {
                    return Err(err(line_no, col, QUOTE));
                }
            } else {
                return Err(err(line_no, col, QUOTE));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn defaults() {
        let o = parse("git-init", &[], "/tekton/termination").unwrap();
        assert!(o.ssl_verify && o.submodules && o.user_friendly_errors);
        assert_eq!(o.depth, 1);
        assert_eq!(o.retry, RetryConfig::default());
        assert_eq!(o.termination_message_path, "/tekton/termination");
        assert!(!o.catalog_flags_given);
    }

    #[test]
    fn task_style_and_p37_style() {
        let o = parse(
            "git-init",
            &args(&[
                "-url=https://x/y",
                "-depth=0x10",
                "-sslVerify=false",
                "-submodulePaths=a,b",
                "-submodulePaths=c",
                "-submodulePaths=",
            ]),
            "/t",
        )
        .unwrap();
        assert_eq!(o.depth, 16);
        assert!(!o.ssl_verify);
        assert_eq!(o.submodule_paths, vec!["c"]);
        assert!(o.catalog_flags_given);
        let o = parse(
            "git-init",
            &args(&["-url", "https://x", "-path", "/w/src", "-depth", "0"]),
            "/t",
        )
        .unwrap();
        assert_eq!((o.path.as_str(), o.depth), ("/w/src", 0));
        assert!(!o.catalog_flags_given);
        for flag in [
            "-retryInitial=1s",
            "-retryMax=1s",
            "-retryFactor=2",
            "-retryMaxAttempts=2",
            "-userFriendlyErrors=false",
            "-submodulePaths=",
        ] {
            let o = parse("git-init", &args(&[flag]), "/t").unwrap();
            assert!(o.catalog_flags_given, "{flag}");
        }
    }

    #[test]
    fn flag_errors() {
        let e = parse("git-init", &args(&["-depth="]), "/t").unwrap_err();
        assert_eq!(
            e.0,
            goflag::FlagError::Invalid(
                "invalid value \"\" for flag -depth: parse error".to_string()
            )
        );
        let e = parse("git-init", &args(&["-sslVerify="]), "/t").unwrap_err();
        assert_eq!(
            e.0,
            goflag::FlagError::Invalid(
                "invalid boolean value \"\" for -sslVerify: parse error".to_string()
            )
        );
        assert!(e.1.starts_with("Usage of git-init:\n"));
        let e = parse("git-init", &args(&["-submodulePaths=a\"b"]), "/t").unwrap_err();
        assert_eq!(
            e.0,
            goflag::FlagError::Invalid(
                "invalid value \"a\\\"b\" for flag -submodulePaths: error parsing submodulePaths: parse error on line 1, column 2: bare \" in non-quoted-field".to_string()
            )
        );
    }

    #[test]
    fn csv() {
        assert_eq!(parse_csv_record("a,b").unwrap(), vec!["a", "b"]);
        assert_eq!(parse_csv_record(" a , b").unwrap(), vec![" a ", " b"]);
        assert_eq!(
            parse_csv_record("\"x,y\",\"q\"\"\"").unwrap(),
            vec!["x,y", "q\""]
        );
        assert_eq!(parse_csv_record("a,b\nc").unwrap(), vec!["a", "b"]);
        assert_eq!(parse_csv_record("a,").unwrap(), vec!["a", ""]);
        assert!(parse_csv_record("\"ab\"c").is_err());
    }
}
