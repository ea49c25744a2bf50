//! Black-box checks of the `nop` binary: exit codes and log text.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;

const NOP: &str = env!("CARGO_BIN_EXE_nop");

/// Strips Go's `2006/01/02 15:04:05 ` log prefix.
fn message(line: &str) -> &str {
    assert!(line.len() > 20, "short log line {line:?}");
    assert_eq!(&line[4..5], "/", "no date prefix in {line:?}");
    &line[20..]
}

#[test]
fn exits_zero_with_no_arguments() {
    let out = Command::new(NOP).output().expect("run nop");
    assert_eq!(out.status.code(), Some(0));
    assert!(out.stdout.is_empty());
    let err = String::from_utf8(out.stderr).expect("utf-8");
    let lines: Vec<&str> = err.lines().collect();
    assert_eq!(lines.len(), 1, "{err}");
    assert_eq!(message(lines[0]), "Exiting...");
}

#[test]
fn ignores_any_other_arguments() {
    let out = Command::new(NOP)
        .args(["-c", "sleep 1000", "tekton_run_indefinitely"])
        .output()
        .expect("run nop");
    assert_eq!(out.status.code(), Some(0));
    let err = String::from_utf8(out.stderr).expect("utf-8");
    assert_eq!(err.lines().map(message).collect::<Vec<_>>(), ["Exiting..."]);
}

fn waits_until(sig: Signal, name: &str) {
    let mut child = Command::new(NOP)
        .arg("tekton_run_indefinitely")
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn nop");
    let mut stderr = BufReader::new(child.stderr.take().expect("stderr"));
    let mut line = String::new();
    stderr.read_line(&mut line).expect("read");
    assert_eq!(message(line.trim_end()), "Waiting indefinitely...");
    assert!(
        child.try_wait().expect("try_wait").is_none(),
        "nop exited early"
    );
    kill(Pid::from_raw(child.id() as i32), sig).expect("kill");
    let status = child.wait().expect("wait");
    assert_eq!(status.code(), Some(0));
    let rest: Vec<String> = stderr.lines().map(|l| l.expect("read")).collect();
    let rest: Vec<&str> = rest.iter().map(|l| message(l)).collect();
    assert_eq!(
        rest,
        [format!("received signal: {name}").as_str(), "Exiting..."]
    );
}

#[test]
fn run_indefinitely_stops_on_sigterm() {
    waits_until(Signal::SIGTERM, "terminated");
}

#[test]
fn run_indefinitely_stops_on_sigint() {
    waits_until(Signal::SIGINT, "interrupt");
}

#[test]
fn hostile_arguments_are_ignored_too() {
    use std::os::unix::ffi::OsStrExt;
    let out = Command::new(NOP)
        .arg("-é")
        .arg(std::ffi::OsStr::from_bytes(b"-\xff"))
        .arg("---x")
        .output()
        .expect("run nop");
    assert_eq!(out.status.code(), Some(0));
    let err = String::from_utf8(out.stderr).expect("utf-8");
    assert_eq!(err.lines().map(message).collect::<Vec<_>>(), ["Exiting..."]);
}
