//! Hostile command lines every flag-parsing binary must answer like Go's `flag` package: the
//! error line, then `Usage of …`, exit 2 — never a panic (exit 134) or a silent run.

use std::ffi::OsString;
use std::os::unix::ffi::OsStringExt;
use std::process::Command;

/// `(argv without argv[0], the exact first line of stderr)`, each ending in exit 2.
pub fn flag_error_cases() -> Vec<(Vec<OsString>, String)> {
    // Near the kernel's limit for one argument (MAX_ARG_STRLEN, 128 KiB).
    let long_name = "é".repeat(65_000);
    let mut cases: Vec<(Vec<OsString>, String)> = [
        ("-é", "flag provided but not defined: -é"),
        ("--é", "flag provided but not defined: -é"),
        ("-é=1", "flag provided but not defined: -é"),
        ("-日本=x", "flag provided but not defined: -日本"),
        ("-\u{1F600}", "flag provided but not defined: -\u{1F600}"),
        ("-=x", "bad flag syntax: -=x"),
        ("--=x", "bad flag syntax: --=x"),
        ("-=", "bad flag syntax: -="),
        ("---x", "bad flag syntax: ---x"),
        ("---", "bad flag syntax: ---"),
        ("-x=é=y", "flag provided but not defined: -x"),
    ]
    .into_iter()
    .map(|(arg, line)| (vec![OsString::from(arg)], line.to_string()))
    .collect();
    cases.push((
        vec![OsString::from(format!("-{long_name}"))],
        format!("flag provided but not defined: -{long_name}"),
    ));
    // Go reads argv as bytes; stepkit refuses what is not UTF-8 (see goflag::utf8_argv).
    cases.push((
        vec![OsString::from_vec(b"-\xff".to_vec())],
        "argument 1 is not valid UTF-8: \"-\\xff\"".to_string(),
    ));
    cases.push((
        vec![
            OsString::from("-h=x"),
            OsString::from_vec(b"caf\xc3".to_vec()),
        ],
        "argument 2 is not valid UTF-8: \"caf\\xc3\"".to_string(),
    ));
    cases
}

/// Runs every [`flag_error_cases`] argv through `command()` (the binary, environment set up)
/// and asserts exit 2, the exact first stderr line and, after a flag error, Go's usage text.
pub fn assert_flag_errors_exit_2(command: impl Fn() -> Command) {
    for (args, first_line) in flag_error_cases() {
        let mut command = command();
        // The UTF-8 refusal counts argv positions: shift by the arguments already given.
        let given = command.get_args().count();
        let first_line = match first_line.strip_prefix("argument ") {
            Some(rest) => {
                let (index, tail) = rest.split_once(' ').expect("argument <n> …");
                let index: usize = index.parse().expect("a position");
                format!("argument {} {tail}", index + given)
            }
            None => first_line,
        };
        let out = command.args(&args).output().expect("spawn the binary");
        let stderr = String::from_utf8_lossy(&out.stderr);
        let shown: String = format!("{args:?}").chars().take(80).collect();
        assert_eq!(out.status.code(), Some(2), "{shown}: {stderr}");
        let mut lines = stderr.lines();
        assert_eq!(lines.next(), Some(first_line.as_str()), "{shown}");
        if !first_line.starts_with("argument ") {
            let usage = lines.next().unwrap_or_default();
            assert!(usage.starts_with("Usage of "), "{shown}: {usage}");
        }
    }
}

/// A flag error with stderr a pipe whose reader is gone still exits 2 (Go's message cannot be
/// delivered; the write error must not become a panic).
pub fn assert_flag_error_with_broken_stderr_exits_2(mut command: Command) {
    use std::os::fd::{FromRawFd, OwnedFd};
    use std::process::Stdio;
    let mut fds = [0; 2];
    // SAFETY: fds is a 2-element array.
    assert_eq!(unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) }, 0);
    // SAFETY: both fds were just created and are owned here.
    let (reader, writer) = unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) };
    drop(reader);
    let out = command
        .arg("-é")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(writer)
        .status()
        .expect("spawn the binary");
    assert_eq!(out.code(), Some(2), "{out:?}");
}
