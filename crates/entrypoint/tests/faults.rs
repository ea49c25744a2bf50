//! Fault injection: full and read-only volumes, no inotify, SIGKILL at every lifecycle stage,
//! a predecessor that dies after its post file.
//!
//! Each test is one row of docs/faults.md — the fault, what the controller then sees (exit code,
//! termination message, post and `exitCode` files) and what is left on disk — and asserts it,
//! including that nothing is half-written: a termination message is absent, empty or complete
//! JSON, and `/tekton/run/<i>` holds no stray files.
//!
//! How the faults are made: a tiny tmpfs mounted over a directory in a private mount namespace
//! (`unshare --mount`, root only), filled or remounted read-only; inotify exhausted through the
//! per-user-namespace limits in `/proc/sys/user/` (never the global `/proc/sys/fs/inotify/*`,
//! which every process on the machine shares); a kill at an exact syscall with
//! `strace -e inject=<syscall>:signal=KILL` (the syscall is not executed). Where one of these is
//! impossible here the test calls `testsupport::skip`.

mod common;

use std::ffi::OsStr;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};
use testsupport::mounts::{
    FILL, SETUP_FAILED, can_fault_mounts, full_tmpfs, private_namespace_sh, read_only_tmpfs, tmpfs,
};

use common::*;

const LONG: Duration = Duration::from_secs(30);
/// Generous bound for a hand-off without inotify (the poll fallback re-checks every second):
/// a correctness bound, not a performance assertion.
const HANDOFF_LIMIT: Duration = Duration::from_secs(10);
/// Seconds a successor that is expected to keep waiting is watched before it is ended.
const STILL_WAITING_SECS: u64 = 3;
/// Limit for a successor run inside a mount namespace (it must have finished long before).
const NEXT_LIMIT_SECS: u64 = 20;
/// Exit status of `timeout` when its command ran out of time.
const TIMED_OUT: i32 = 124;

/// A pod plus every process group its test started: all are SIGKILLed when the test ends,
/// passed or failed. Step children run in their own groups (the entrypoint's setpgid), so a
/// command that must be cleaned up writes `$$` to `pids/<name>` and that group is killed too.
struct Fixture {
    pod: Pod,
    groups: std::cell::RefCell<Vec<i32>>,
}

impl Fixture {
    fn new() -> Fixture {
        let pod = Pod::new();
        std::fs::create_dir_all(pod.root().join("pids")).expect("mkdir pids");
        Fixture {
            pod,
            groups: Default::default(),
        }
    }

    /// Spawns `c` as the leader of a new process group (piped output).
    fn start(&self, mut c: Command) -> Child {
        c.process_group(0);
        let child = spawn(c);
        self.groups.borrow_mut().push(child.id() as i32);
        child
    }

    /// `$$ > pids/<name>` for a step command, so the test can end that group.
    fn pid_file(&self, name: &str) -> String {
        self.pod
            .root()
            .join("pids")
            .join(name)
            .to_string_lossy()
            .into_owned()
    }

    /// Kills the group recorded as `name`: an orphaned command still holds the killed
    /// entrypoint's stdout/stderr, so reading them would wait for it.
    fn end(&self, name: &str) {
        if let Some(pid) = self.recorded_pid(name) {
            // SAFETY: kill has no memory arguments.
            unsafe { libc::kill(-pid, libc::SIGKILL) };
        }
    }

    fn recorded_pid(&self, name: &str) -> Option<i32> {
        std::fs::read_to_string(self.pid_file(name))
            .ok()
            .and_then(|p| p.trim().parse().ok())
    }
}

impl Drop for Fixture {
    fn drop(&mut self) {
        let mut groups = self.groups.borrow().clone();
        if let Ok(dir) = std::fs::read_dir(self.pod.root().join("pids")) {
            for entry in dir.flatten() {
                if let Some(pid) = std::fs::read_to_string(entry.path())
                    .ok()
                    .and_then(|p| p.trim().parse().ok())
                {
                    groups.push(pid);
                }
            }
        }
        for pgid in groups {
            // SAFETY: kill has no memory arguments.
            unsafe { libc::kill(-pgid, libc::SIGKILL) };
        }
    }
}

fn quote(s: &OsStr) -> String {
    let s = s.to_str().expect("UTF-8 argument");
    format!("'{}'", s.replace('\'', "'\\''"))
}

fn q(s: &str) -> String {
    quote(OsStr::new(s))
}

/// `step` run as `<wrapper…> <step's program> <step's args>`, with the step's env and cwd.
fn wrap(step: &Command, wrapper: &[&str]) -> Command {
    let mut c = Command::new(wrapper[0]);
    c.args(&wrapper[1..])
        .arg(step.get_program())
        .args(step.get_args());
    for (k, v) in step.get_envs() {
        match v {
            Some(v) => c.env(k, v),
            None => c.env_remove(k),
        };
    }
    if let Some(d) = step.get_current_dir() {
        c.current_dir(d);
    }
    c
}

/// The program and arguments of `step` as one shell word list.
fn shell_words(step: &Command) -> String {
    std::iter::once(step.get_program())
        .chain(step.get_args())
        .map(quote)
        .collect::<Vec<_>>()
        .join(" ")
}

fn killed_by_sigkill(o: &Outcome) -> bool {
    o.signal == Some(libc::SIGKILL) || o.code == Some(128 + libc::SIGKILL)
}

fn alive(pid: i32) -> bool {
    // SAFETY: signal 0 only checks for existence.
    unsafe { libc::kill(pid, 0) == 0 }
}

/// Every entry under `dir`, relative, directories with a trailing `/`, sorted; fill files out.
fn tree(dir: &Path) -> Vec<String> {
    fn walk(base: &Path, dir: &Path, out: &mut Vec<String>) {
        let Ok(entries) = std::fs::read_dir(dir) else {
            return;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            let rel = path
                .strip_prefix(base)
                .unwrap()
                .to_string_lossy()
                .into_owned();
            if entry.file_name().to_string_lossy().starts_with(FILL) {
                continue;
            }
            if entry.file_type().is_ok_and(|t| t.is_dir()) {
                out.push(format!("{rel}/"));
                walk(base, &path, out);
            } else {
                out.push(rel);
            }
        }
    }
    let mut out = Vec::new();
    walk(dir, dir, &mut out);
    out.sort();
    out
}

fn strings(v: &[&str]) -> Vec<String> {
    let mut v: Vec<String> = v.iter().map(|s| s.to_string()).collect();
    v.sort();
    v
}

/// A successful step's run directory, lock removed at exit.
const DONE: &[&str] = &[
    "out",
    "status/",
    "status/artifacts/",
    "status/exitCode",
    "status/results/",
];

/// [`DONE`] of a step that reported task results: plus its record of them (reported.rs).
fn done_with_record() -> Vec<String> {
    let mut v = strings(DONE);
    v.push("task-results.sha256".into());
    v.sort();
    v
}

/// A termination message as the kubelet would hand it over.
#[derive(Debug, PartialEq)]
enum Message {
    Absent,
    /// Zero bytes: the kubelet reports no message at all.
    Empty,
    Complete(Vec<Entry>),
}

/// Reads a termination message; panics if it is half-written (not complete JSON).
fn message(path: &Path) -> Message {
    match std::fs::read_to_string(path) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Message::Absent,
        Err(e) => panic!("reading {}: {e}", path.display()),
        Ok(s) if s.is_empty() => Message::Empty,
        Ok(s) => Message::Complete(parse_entries(&s)),
    }
}

fn message_of(pod: &Pod, i: usize) -> Message {
    message(Path::new(&pod.t(&format!("termination-{i}"))))
}

fn started_at() -> Entry {
    e("StartedAt", "", 3)
}

/// Step `i` was skipped because its predecessor failed or died: what the controller sees.
fn assert_skipped(pod: &Pod, i: usize, o: &Outcome) {
    assert_eq!(o.code, Some(1), "step {i} should be skipped: {}", o.stderr);
    assert!(
        o.stderr
            .contains("Skipping step because a previous step failed"),
        "{}",
        o.stderr
    );
    assert_eq!(pod.post(i), "out.err");
    assert_eq!(pod.exit_code_file(i), None);
    assert_eq!(
        message_of(pod, i),
        Message::Complete(vec![started_at(), e("Reason", "Skipped", 3)])
    );
}

/// Step `i` (`true`) ran normally after its predecessor.
fn assert_ran(pod: &Pod, i: usize, o: &Outcome) {
    assert_eq!(o.code, Some(0), "step {i} should have run: {}", o.stderr);
    assert_eq!(pod.post(i), "out");
    assert_eq!(pod.exit_code_file(i).as_deref(), Some("0"));
    assert_eq!(message_of(pod, i), Message::Complete(vec![started_at()]));
}

/// The successor's decision follows the predecessor's post file: `out` → it runs; `out.err` or
/// nothing (the predecessor is gone) → it is skipped.
fn assert_successor_follows(pod: &Pod, predecessor_post: &str, o: &Outcome) {
    assert_ne!(o.code, Some(TIMED_OUT), "successor hung: {}", o.stderr);
    if predecessor_post == "out" {
        assert_ran(pod, 1, o);
    } else {
        assert_skipped(pod, 1, o);
    }
}

/// A fixture, made first, for a test that needs `can` (which explains a skip); `None` where it
/// cannot run here.
fn fixture_if(can: fn() -> bool) -> Option<Fixture> {
    let f = Fixture::new();
    can().then_some(f)
}

fn mount_fault_fixture() -> Option<Fixture> {
    fixture_if(can_fault_mounts)
}

fn inotify_fixture() -> Option<Fixture> {
    fixture_if(can_limit_inotify)
}

fn strace_fixture() -> Option<Fixture> {
    fixture_if(can_strace)
}

/// The step failed with exit 1 and logged `text`.
fn assert_exit_1_saying(o: &Outcome, text: &str) {
    assert_eq!(o.code, Some(1), "{}", o.stderr);
    assert!(o.stderr.contains(text), "{}", o.stderr);
}

/// `/tekton/run/0` of a step that took its lock and made its status directories, then died
/// or failed before any post file.
const LOCKED_NOT_POSTED: &[&str] = &[
    ".out.lock",
    "status/",
    "status/artifacts/",
    "status/results/",
];

/// Every entry under `/tekton/run/0` as [`tree`] lists it.
fn run0_tree(pod: &Pod) -> Vec<String> {
    tree(Path::new(&pod.t("run/0")))
}

/// A step command that records its pid as `child` (and touches `started`, when given), then
/// sleeps for `secs`.
fn recorded_sleeper(f: &Fixture, started: Option<&str>, secs: u32) -> String {
    let pids = f.pid_file("child");
    let touch = started.map_or(String::new(), |s| format!("touch {s}; "));
    format!("echo $$ > {pids}; {touch}exec sleep {secs}")
}

/// Step `i` was cancelled while its command ran: what the controller sees.
fn assert_cancelled(pod: &Pod, i: usize) {
    assert_eq!(pod.post(i), "out.err");
    assert_eq!(pod.exit_code_file(i).as_deref(), Some("killed"));
    assert_eq!(
        message_of(pod, i),
        Message::Complete(vec![started_at(), e("Reason", "Cancelled", 3)])
    );
}

fn successor(pod: &Pod) -> Command {
    pod.step(1, &["-wait_file", &pod.t("run/0/out")], &["true"])
}

// ---------------------------------------------------------------------------------------------
// Full and read-only volumes (root, private mount namespace)

struct NsRun {
    step: Outcome,
    next: Option<Outcome>,
}

/// Runs `step` in a private mount namespace after `setup` (sh -e), with `next` (a successor,
/// started first, under `timeout <secs>`) in the same namespace. Afterwards copies each of
/// `keep` (directories relative to the pod root) to `<root>/after/<dir>`, so the test can look
/// at the faulted volumes once the namespace is gone.
fn in_mount_namespace(
    f: &Fixture,
    setup: &str,
    step: Command,
    next: Option<(Command, u64)>,
    keep: &[&str],
) -> NsRun {
    let root = f.pod.root();
    let script = format!(
        "sh -ec \"$FAULT_SETUP\" || exit {SETUP_FAILED}\n\
         if [ -n \"$FAULT_NEXT\" ]; then\n\
           (eval \"timeout --foreground -s TERM $FAULT_NEXT_LIMIT $FAULT_NEXT\" \
              >\"$FAULT_ROOT/next.out\" 2>\"$FAULT_ROOT/next.err\"; echo $? >\"$FAULT_ROOT/next.rc\") &\n\
         fi\n\
         \"$@\"; rc=$?\n\
         wait\n\
         for d in $FAULT_KEEP; do\n\
           mkdir -p \"$FAULT_ROOT/after/$d\" && cp -a \"$FAULT_ROOT/$d/.\" \"$FAULT_ROOT/after/$d/\"\n\
         done\n\
         exit $rc\n"
    );
    let mut c = wrap(&step, &private_namespace_sh(&script));
    let (next_words, next_limit) = match &next {
        Some((n, secs)) => (shell_words(n), secs.to_string()),
        None => (String::new(), String::new()),
    };
    c.env("FAULT_SETUP", setup)
        .env("FAULT_ROOT", root)
        .env("FAULT_NEXT", next_words)
        .env("FAULT_NEXT_LIMIT", next_limit)
        .env("FAULT_KEEP", keep.join(" "));
    let o = finish(f.start(c), LONG);
    assert_ne!(
        o.code,
        Some(SETUP_FAILED),
        "could not set up the fault: {}",
        o.stderr
    );
    let next = next.map(|_| {
        let read = |name: &str| std::fs::read_to_string(root.join(name)).unwrap_or_default();
        Outcome {
            code: read("next.rc").trim().parse().ok(),
            signal: None,
            stdout: read("next.out"),
            stderr: read("next.err"),
        }
    });
    NsRun { step: o, next }
}

/// Step 0 running `command` with `setup` faulting `/tekton/run/0`, its successor (ended after
/// `next_secs`) waiting in the same namespace; the run directory is kept under `after/`.
fn run_dir_fault(f: &Fixture, setup: &str, command: &[&str], next_secs: u64) -> NsRun {
    let pod = &f.pod;
    in_mount_namespace(
        f,
        setup,
        pod.step(0, &[], command),
        Some((successor(pod), next_secs)),
        &["tekton/run/0"],
    )
}

fn after(pod: &Pod, rel: &str) -> PathBuf {
    pod.root().join("after").join(rel)
}

/// ENOSPC on `/tekton/run/0` (data blocks; inodes left): the empty post file still fits, the
/// `exitCode` content does not (no `exitCode`, or a 0-byte one as upstream's create-then-write
/// leaves it). Fatal exit 1, no termination message; the successor does not hang and follows
/// whatever post file exists (`out`, like upstream, whichever of the two is written first).
#[test]
fn enospc_on_the_run_dir_fails_the_step_without_hanging_the_successor() {
    let Some(f) = mount_fault_fixture() else {
        return;
    };
    let pod = &f.pod;
    let r = run_dir_fault(
        &f,
        &full_tmpfs(&q(&pod.t("run/0"))),
        &["true"],
        NEXT_LIMIT_SECS,
    );
    let exit_code = pod.t("run/0/status/exitCode");
    assert_exit_1_saying(
        &r.step,
        &format!("Writing \"{exit_code}\": write {exit_code}: no space left on device"),
    );
    assert_eq!(message_of(pod, 0), Message::Absent);
    // The lock is removed at exit because a post file was written; no temp file stays.
    let left = tree(&after(pod, "tekton/run/0"));
    let allowed = strings(DONE);
    assert!(left.iter().all(|e| allowed.contains(e)), "stray: {left:?}");
    assert!(left.contains(&"out".to_string()), "{left:?}");
    // `exitCode` is absent (written via a temp file) or 0 bytes (created, then the write failed).
    let exit_code_left = after(pod, "tekton/run/0/status/exitCode");
    assert!(std::fs::metadata(exit_code_left).map_or(true, |m| m.len() == 0));
    assert_successor_follows(pod, "out", r.next.as_ref().unwrap());
}

/// ENOSPC on `/tekton/run/0` inodes, one left: the liveness lock takes it, `mkdir <smd>` fails
/// (docs/contract.md §3.6 step 1: no post file, `[]` appended, exit 1). The lock left behind tells
/// the successor its predecessor is gone: Skipped.
#[test]
fn no_inodes_on_the_run_dir_skips_the_successor_through_the_lock() {
    let Some(f) = mount_fault_fixture() else {
        return;
    };
    let pod = &f.pod;
    let setup = tmpfs(&q(&pod.t("run/0")), "size=16k,nr_inodes=2");
    let r = run_dir_fault(&f, &setup, &["true"], NEXT_LIMIT_SECS);
    let smd = pod.t("run/0/status");
    assert_exit_1_saying(
        &r.step,
        &format!("Error executing command: mkdir {smd}: no space left on device"),
    );
    assert_eq!(message_of(pod, 0), Message::Complete(vec![]));
    assert_eq!(tree(&after(pod, "tekton/run/0")), strings(&[".out.lock"]));
    let next = r.next.unwrap();
    assert_successor_follows(pod, "none", &next);
    assert!(
        next.stderr.contains("exited without writing"),
        "{}",
        next.stderr
    );
}

/// EROFS on `/tekton/run/0`: no lock, no status directories, no post file can be written
/// (`[]` appended, exit 1). Nothing tells the successor, which waits — like upstream — until
/// the TaskRun times out or the pod is deleted (here: `timeout` ends it).
#[test]
fn read_only_run_dir_fails_the_step_and_the_successor_waits_for_the_timeout() {
    let Some(f) = mount_fault_fixture() else {
        return;
    };
    let pod = &f.pod;
    let r = run_dir_fault(
        &f,
        &read_only_tmpfs(&q(&pod.t("run/0"))),
        &["true"],
        STILL_WAITING_SECS,
    );
    let smd = pod.t("run/0/status");
    assert_exit_1_saying(
        &r.step,
        &format!("Error executing command: mkdir {smd}: read-only file system"),
    );
    assert_eq!(message_of(pod, 0), Message::Complete(vec![]));
    assert_eq!(tree(&after(pod, "tekton/run/0")), Vec::<String>::new());
    let next = r.next.unwrap();
    assert_eq!(next.code, Some(TIMED_OUT), "{}", next.stderr);
    assert_eq!(pod.post(1), "none");
    assert_eq!(message_of(pod, 1), Message::Absent);
}

/// `/tekton/run/0` runs out of inodes while the command runs (the command fills it): the lock
/// is already in place, neither `exitCode` nor the post file can be created, fatal exit 1 with
/// no termination message. The lock left behind skips the successor.
#[test]
fn run_dir_filling_up_mid_step_skips_the_successor_through_the_lock() {
    let Some(f) = mount_fault_fixture() else {
        return;
    };
    let pod = &f.pod;
    let run0 = pod.t("run/0");
    let out = pod.t("run/0/out");
    let fill = format!(
        "i=0; while touch {d}/{FILL}$i 2>/dev/null; do i=$((i+1)); done",
        d = q(&run0)
    );
    let r = run_dir_fault(
        &f,
        &tmpfs(&q(&run0), "size=16k,nr_inodes=16"),
        &["sh", "-c", &fill],
        NEXT_LIMIT_SECS,
    );
    assert_exit_1_saying(
        &r.step,
        &format!("Creating \"{out}\": open {out}: no space left on device"),
    );
    assert_eq!(message_of(pod, 0), Message::Absent);
    assert_eq!(
        tree(&after(pod, "tekton/run/0")),
        strings(LOCKED_NOT_POSTED)
    );
    assert_successor_follows(pod, "none", r.next.as_ref().unwrap());
}

/// The termination file as the kubelet provides it (an existing empty file) on a full volume,
/// with a task result to report: both appends fail, fatal exit 1, the file stays empty (no
/// message, no partial JSON). The post file was written before (docs/contract.md §3.6), so the
/// successor runs; the TaskRun fails on the exit code.
#[test]
fn enospc_on_the_termination_file_exits_1_and_leaves_it_empty() {
    let Some(f) = mount_fault_fixture() else {
        return;
    };
    let pod = &f.pod;
    let term_dir = pod.root().join("term");
    std::fs::create_dir(&term_dir).unwrap();
    let term = term_dir.join("termination").to_string_lossy().into_owned();
    pod.write("results/digest", "sha256:abc");
    let setup = format!(
        "{}: > {}\n",
        full_tmpfs(&q(&term_dir.to_string_lossy())),
        q(&term)
    );
    let r = in_mount_namespace(
        &f,
        &setup,
        pod.step(
            0,
            &["-termination_path", &term, "-results", "digest"],
            &["true"],
        ),
        None,
        &["term"],
    );
    assert_exit_1_saying(
        &r.step,
        &format!("Error while writing message: write {term}: no space left on device"),
    );
    assert_eq!(tree(&after(pod, "term")), strings(&["termination"]));
    assert_eq!(
        message(&after(pod, "term").join("termination")),
        Message::Empty
    );
    assert_eq!(run0_tree(pod), strings(DONE));
    assert_eq!(pod.exit_code_file(0).as_deref(), Some("0"));
    let next = run(successor(pod));
    assert_successor_follows(pod, "out", &next);
}

/// The termination file bind-mounted read-only: fatal exit 1, the file unchanged; post file
/// and `exitCode` were written before, so the successor runs.
#[test]
fn read_only_termination_file_exits_1_and_leaves_it_unchanged() {
    let Some(f) = mount_fault_fixture() else {
        return;
    };
    let pod = &f.pod;
    let term_dir = pod.root().join("term");
    std::fs::create_dir(&term_dir).unwrap();
    let term = term_dir.join("termination").to_string_lossy().into_owned();
    let source = term_dir.join("kubelet-file").to_string_lossy().into_owned();
    std::fs::write(&term, "").unwrap();
    std::fs::write(&source, "").unwrap();
    let setup = format!(
        "mount --bind {s} {t}\nmount -o remount,bind,ro {t}\n",
        s = q(&source),
        t = q(&term)
    );
    let r = in_mount_namespace(
        &f,
        &setup,
        pod.step(0, &["-termination_path", &term], &["true"]),
        None,
        &["term"],
    );
    assert_exit_1_saying(
        &r.step,
        &format!("Error while writing message: open {term}: read-only file system"),
    );
    assert_eq!(message(Path::new(&source)), Message::Empty);
    assert_eq!(run0_tree(pod), strings(DONE));
    let next = run(successor(pod));
    assert_successor_follows(pod, "out", &next);
}

/// Runs `command` as step 0 with `-stdout_path` on a full `/workspace`; returns the outcome
/// and the log path.
fn with_stdout_path_on_a_full_workspace(f: &Fixture, command: &str) -> (Outcome, String) {
    let pod = &f.pod;
    let ws = pod.root().join("workspace").to_string_lossy().into_owned();
    let log = format!("{ws}/log");
    let r = in_mount_namespace(
        f,
        &full_tmpfs(&q(&ws)),
        pod.step(0, &["-stdout_path", &log], &["sh", "-c", command]),
        None,
        &["workspace"],
    );
    assert_eq!(tree(&after(pod, "workspace")), strings(&["log"]));
    assert_eq!(
        std::fs::metadata(after(pod, "workspace/log"))
            .map(|m| m.len())
            .ok(),
        Some(0)
    );
    assert_eq!(message_of(pod, 0), Message::Complete(vec![started_at()]));
    assert_eq!(pod.post(0), "out.err", "{}", r.step.stderr);
    assert_eq!(pod.exit_code_file(0), None);
    (r.step, log)
}

/// `/workspace` full under a `-stdout_path` there (stdoutConfig), command exits 0: as upstream's
/// `io.MultiWriter` copy, the first failed file write ends the copy and `Wait` reports it (the
/// chunk still reached the console): exit 1, `out.err`.
#[test]
fn enospc_on_the_workspace_under_a_stdout_path_fails_the_step() {
    let Some(f) = mount_fault_fixture() else {
        return;
    };
    let (o, log) = with_stdout_path_on_a_full_workspace(&f, "printf hello");
    assert_eq!(o.code, Some(1), "{}", o.stderr);
    assert!(
        o.stderr.ends_with(&format!(
            " Error executing command: write {log}: no space left on device\n"
        )),
        "{}",
        o.stderr
    );
    assert_eq!(o.stdout, "hello");
}

/// Same, but the command writes again after the failed chunk: the copy has closed the pipe, so
/// the command dies of SIGPIPE (Go's exit code -1, status 255), as under upstream.
#[test]
fn enospc_on_the_workspace_under_a_stdout_path_breaks_the_command_pipe() {
    let Some(f) = mount_fault_fixture() else {
        return;
    };
    let (o, _) = with_stdout_path_on_a_full_workspace(&f, "printf hello; sleep 1; echo more");
    assert_eq!(o.code, Some(255), "{}", o.stderr);
    assert!(
        !o.stderr.contains("Error executing command"),
        "{}",
        o.stderr
    );
    assert_eq!(o.stdout, "hello");
}

/// `/workspace` read-only under a `-stdout_path` there: the tee file cannot be opened, the
/// command never starts (row g: `out.err`, exit 1).
#[test]
fn read_only_workspace_under_a_stdout_path_fails_before_the_command() {
    let Some(f) = mount_fault_fixture() else {
        return;
    };
    let pod = &f.pod;
    let ws = pod.root().join("workspace").to_string_lossy().into_owned();
    let log = format!("{ws}/log");
    let marker = pod.t("ran");
    let r = in_mount_namespace(
        &f,
        &read_only_tmpfs(&q(&ws)),
        pod.step(
            0,
            &["-stdout_path", &log],
            &["sh", "-c", &format!("touch {marker}")],
        ),
        None,
        &["workspace"],
    );
    assert_exit_1_saying(
        &r.step,
        &format!("Error executing command: error opening {log}: open {log}: read-only file system"),
    );
    assert!(!pod.exists("ran"));
    assert_eq!(pod.post(0), "out.err");
    assert_eq!(pod.exit_code_file(0), None);
    assert_eq!(message_of(pod, 0), Message::Complete(vec![started_at()]));
    assert_eq!(tree(&after(pod, "workspace")), Vec::<String>::new());
}

// ---------------------------------------------------------------------------------------------
// No inotify (a user namespace whose inotify limits are 0)

fn can_limit_inotify() -> bool {
    if testsupport::need_tool("unshare").is_none() {
        return false;
    }
    let works = Command::new("unshare")
        .args([
            "--user",
            "--map-root-user",
            "sh",
            "-c",
            "echo 0 > /proc/sys/user/max_inotify_instances",
        ])
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !works {
        testsupport::skip("cannot set inotify limits in a new user namespace here");
    }
    works
}

/// `step` in a new user namespace whose `limit` (`max_inotify_instances` or
/// `max_inotify_watches`, per user namespace since Linux 5.x ucounts) is 0. `unshare` and `sh`
/// exec, so the child's pid is the entrypoint's.
fn without_inotify(step: &Command, limit: &str) -> Command {
    let script = format!("echo 0 > /proc/sys/user/{limit} && exec \"$@\"");
    wrap(
        step,
        &[
            "unshare",
            "--user",
            "--map-root-user",
            "sh",
            "-c",
            &script,
            "sh",
        ],
    )
}

/// Watch counts of the inotify instances `pid` holds.
fn inotify_instances(pid: u32) -> Vec<usize> {
    let Ok(fds) = std::fs::read_dir(format!("/proc/{pid}/fd")) else {
        return Vec::new();
    };
    fds.flatten()
        .filter(|fd| {
            std::fs::read_link(fd.path()).is_ok_and(|l| l.to_string_lossy() == "anon_inode:inotify")
        })
        .map(|fd| {
            let info = std::fs::read_to_string(format!(
                "/proc/{pid}/fdinfo/{}",
                fd.file_name().to_string_lossy()
            ))
            .unwrap_or_default();
            info.lines()
                .filter(|l| l.starts_with("inotify wd:"))
                .count()
        })
        .collect()
}

/// Starts step 1 without inotify, waits until it is in its wait phase, runs step 0 and returns
/// step 1's outcome and how long the hand-off took. `check` sees step 1's inotify instances.
fn hand_off_without_inotify(f: &Fixture, limit: &str, check: impl Fn(&[usize])) {
    let pod = &f.pod;
    let next = f.start(without_inotify(&successor(pod), limit));
    let pid = next.id();
    assert!(eventually(LONG, || pod.exists("run/1/.out.lock")));
    let mut seen = Vec::new();
    // The wait phase starts right after the lock: give it a moment, then look.
    let settled = eventually(Duration::from_secs(2), || {
        seen = inotify_instances(pid);
        !seen.is_empty()
    });
    let _ = settled;
    check(&seen);
    let o0 = run(pod.step(0, &[], &["true"]));
    let posted = Instant::now();
    assert_eq!(o0.code, Some(0), "{}", o0.stderr);
    let o1 = finish(next, LONG);
    let took = posted.elapsed();
    assert!(took < HANDOFF_LIMIT, "hand-off took {took:?}");
    assert_ran(pod, 1, &o1);
}

/// No inotify instance can be created: the wait falls back (dnotify) and still hands off.
#[test]
fn without_inotify_instances_the_wait_falls_back_and_hands_off() {
    let Some(f) = inotify_fixture() else {
        return;
    };
    hand_off_without_inotify(&f, "max_inotify_instances", |seen| {
        assert!(seen.is_empty(), "an inotify instance exists: {seen:?}");
    });
}

/// An inotify instance but no watch can be added: dnotify per directory hands off.
#[test]
fn without_inotify_watches_the_wait_falls_back_and_hands_off() {
    let Some(f) = inotify_fixture() else {
        return;
    };
    hand_off_without_inotify(&f, "max_inotify_watches", |seen| {
        assert_eq!(seen, [0], "expected one instance without watches");
    });
}

/// Without inotify the cancellation file is still noticed while the command runs.
#[test]
fn without_inotify_cancellation_still_works() {
    let Some(f) = inotify_fixture() else {
        return;
    };
    let pod = &f.pod;
    let started = pod.t("started");
    let step = pod.step(
        0,
        &[],
        &["sh", "-c", &recorded_sleeper(&f, Some(&started), 30)],
    );
    let child = f.start(without_inotify(&step, "max_inotify_instances"));
    assert!(eventually(LONG, || pod.exists("started")));
    assert!(inotify_instances(child.id()).is_empty());
    pod.write_atomic("downward/cancel", "CANCEL");
    let cancelled = Instant::now();
    let o = finish(child, LONG);
    let took = cancelled.elapsed();
    assert!(took < HANDOFF_LIMIT, "cancellation took {took:?}");
    assert_eq!(o.code, Some(9), "{}", o.stderr);
    assert_cancelled(pod, 0);
}

/// Without inotify a SIGKILLed predecessor is still detected (the lock wait needs no inotify).
#[test]
fn without_inotify_a_killed_predecessor_still_skips_the_successor() {
    let Some(f) = inotify_fixture() else {
        return;
    };
    let pod = &f.pod;
    let step0 = f.start(pod.step(0, &[], &["sh", "-c", &recorded_sleeper(&f, None, 120)]));
    let next = f.start(without_inotify(&successor(pod), "max_inotify_instances"));
    assert!(eventually(LONG, || f.recorded_pid("child").is_some()
        && pod.exists("run/1/.out.lock")));
    kill(step0.id(), libc::SIGKILL);
    let killed = Instant::now();
    let o1 = finish(next, LONG);
    assert!(killed.elapsed() < HANDOFF_LIMIT, "{:?}", killed.elapsed());
    assert_skipped(pod, 1, &o1);
    f.end("child");
    assert!(killed_by_sigkill(&finish(step0, LONG)));
}

// ---------------------------------------------------------------------------------------------
// SIGKILL at every lifecycle stage

fn can_strace() -> bool {
    if testsupport::need_tool("strace").is_none() {
        return false;
    }
    let works = Command::new("strace")
        .args(["-qq", "-o", "/dev/null", "true"])
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !works {
        testsupport::skip("strace cannot trace here (ptrace not permitted)");
    }
    works
}

/// `step` under strace, SIGKILLed on entry to the `when`-th `syscall` (a name or strace's
/// `/regex`; on `path`, if given),
/// before that syscall runs. No `-f`: only the entrypoint is traced, not its command.
fn killed_at(step: &Command, syscall: &str, path: Option<&str>, when: u32) -> Command {
    let trace = format!("trace={syscall}");
    let inject = format!("inject={syscall}:signal=KILL:when={when}");
    let mut wrapper = vec![
        "strace",
        "-qq",
        "-o",
        "/dev/null",
        "-e",
        &trace,
        "-e",
        &inject,
    ];
    if let Some(p) = path {
        wrapper.extend(["-P", p]);
    }
    wrap(step, &wrapper)
}

/// Runs step 0 (`step0`, killed somewhere) with a successor already waiting; asserts step 0 was
/// SIGKILLed and returns the successor's outcome.
fn kill_with_successor(f: &Fixture, step0: Command) -> Outcome {
    let next = f.start(successor(&f.pod));
    assert!(eventually(LONG, || f.pod.exists("run/1/.out.lock")));
    let o0 = finish(f.start(step0), LONG);
    let o1 = finish(next, LONG);
    assert!(killed_by_sigkill(&o0), "{}", o0.stderr);
    o1
}

/// Step 0 `true` reporting one task result (`digest`), killed at `syscall` as [`killed_at`].
fn reporting_step_killed_at(pod: &Pod, syscall: &str, path: Option<&str>, when: u32) -> Command {
    pod.write("results/digest", "sha256:abc");
    killed_at(
        &pod.step(0, &["-results", "digest"], &["true"]),
        syscall,
        path,
        when,
    )
}

/// Step 0 died after taking its lock, before any post file or message; a successor started
/// only now skips too.
fn assert_died_before_posting(pod: &Pod) {
    assert_eq!(message_of(pod, 0), Message::Absent);
    assert_eq!(run0_tree(pod), strings(LOCKED_NOT_POSTED));
    assert_late_successor_skipped(pod);
}

/// A successor started after the predecessor is already dead decides the same way at once.
fn assert_late_successor_skipped(pod: &Pod) {
    let o = run(pod.step(2, &["-wait_file", &pod.t("run/0/out")], &["true"]));
    assert_eq!(o.code, Some(1), "{}", o.stderr);
    assert_eq!(pod.post(2), "out.err");
}

/// Killed while waiting for its own predecessor: no post file, no message; the lock left
/// behind makes the successor (waiting already, or started later) skip.
#[test]
fn sigkill_while_waiting_skips_the_successor() {
    let f = Fixture::new();
    let pod = &f.pod;
    let step0 = f.start(pod.step(
        0,
        &["-wait_file", &pod.t("downward/ready"), "-wait_file_content"],
        &["true"],
    ));
    let next = f.start(successor(pod));
    assert!(eventually(LONG, || pod.exists("run/0/.out.lock")
        && pod.exists("run/1/.out.lock")));
    kill(step0.id(), libc::SIGKILL);
    assert!(killed_by_sigkill(&finish(step0, LONG)));
    assert_skipped(pod, 1, &finish(next, LONG));
    assert_died_before_posting(pod);
}

/// Killed while its command runs: the successor skips although the orphaned command is still
/// alive (the lock's fd is not inherited by the command).
#[test]
fn sigkill_while_running_skips_the_successor_even_with_the_command_alive() {
    let f = Fixture::new();
    let pod = &f.pod;
    let step0 = f.start(pod.step(0, &[], &["sh", "-c", &recorded_sleeper(&f, None, 120)]));
    let next = f.start(successor(pod));
    assert!(eventually(LONG, || f.recorded_pid("child").is_some()
        && pod.exists("run/1/.out.lock")));
    kill(step0.id(), libc::SIGKILL);
    assert_skipped(pod, 1, &finish(next, LONG));
    assert!(alive(f.recorded_pid("child").unwrap()));
    f.end("child");
    assert!(killed_by_sigkill(&finish(step0, LONG)));
    assert_died_before_posting(pod);
}

/// Whether `dir`'s filesystem supports `O_TMPFILE` (then the lock gets its name by `linkat`).
fn supports_o_tmpfile(dir: &str) -> bool {
    let c = std::ffi::CString::new(dir).expect("C path");
    // SAFETY: valid C string; the fd is closed right away.
    unsafe {
        let fd = libc::open(
            c.as_ptr(),
            libc::O_TMPFILE | libc::O_RDWR | libc::O_CLOEXEC,
            0o600,
        );
        if fd < 0 {
            return false;
        }
        libc::close(fd);
    }
    true
}

/// Killed just before its lock gets its name (the `linkat` of the locked `O_TMPFILE` inode, or
/// the rename of a locked temp file where there is no `O_TMPFILE`) — microseconds at startup
/// before liveness is announced: nothing is left behind (a stray temp file in the fallback),
/// and the successor, with no lock to watch, waits like upstream until the TaskRun times out.
#[test]
fn sigkill_before_the_lock_is_in_place_leaves_the_successor_waiting() {
    let Some(f) = strace_fixture() else {
        return;
    };
    let pod = &f.pod;
    let mut next = f.start(successor(pod));
    assert!(eventually(LONG, || pod.exists("run/1/.out.lock")));
    let anonymous = supports_o_tmpfile(&pod.t("run/0"));
    // The lock's link or rename is the entrypoint's first (strace's -P does not match their
    // targets); `/^rename`: rename, renameat or renameat2, whichever this libc uses.
    let syscall = if anonymous { "linkat" } else { "/^rename" };
    let step0 = killed_at(&pod.step(0, &[], &["true"]), syscall, None, 1);
    let o0 = finish(f.start(step0), LONG);
    assert!(killed_by_sigkill(&o0), "{}", o0.stderr);
    let left = run0_tree(pod);
    if anonymous {
        assert_eq!(left, Vec::<String>::new());
    } else {
        assert_eq!(left.len(), 1, "{left:?}");
        assert!(
            left[0].contains("out.lock") && left[0] != ".out.lock",
            "{left:?}"
        );
    }
    std::thread::sleep(Duration::from_secs(STILL_WAITING_SECS));
    assert!(
        next.try_wait().unwrap().is_none(),
        "the successor should still wait"
    );
    kill(next.id(), libc::SIGTERM);
    let _ = finish(next, LONG);
    assert_eq!(message_of(pod, 0), Message::Absent);
    assert_eq!(pod.post(1), "none");
}

/// Killed while copying credentials to `$HOME` (before the lifecycle): the lock is already in
/// place, so the successor skips instead of waiting for the TaskRun timeout.
#[test]
fn sigkill_during_the_credential_copy_skips_the_successor() {
    let Some(f) = strace_fixture() else {
        return;
    };
    let pod = &f.pod;
    pod.write("creds/.gitconfig", "[user]\n\tname = x\n");
    let target = pod
        .root()
        .join("home/.gitconfig")
        .to_string_lossy()
        .into_owned();
    let step0 = killed_at(&pod.step(0, &[], &["true"]), "openat", Some(&target), 1);
    let o1 = kill_with_successor(&f, step0);
    assert_skipped(pod, 1, &o1);
    assert_eq!(message_of(pod, 0), Message::Absent);
    assert_eq!(run0_tree(pod), strings(&[".out.lock"]));
    assert_late_successor_skipped(pod);
}

/// Killed after its command, before the post file: nothing posted, the lock stays, the
/// successor skips. (`exitCode` may already be complete once it is written first.)
#[test]
fn sigkill_before_the_post_file_skips_the_successor() {
    let Some(f) = strace_fixture() else {
        return;
    };
    let pod = &f.pod;
    let out = pod.t("run/0/out");
    let step0 = killed_at(&pod.step(0, &[], &["true"]), "openat", Some(&out), 1);
    let o1 = kill_with_successor(&f, step0);
    assert_eq!(pod.post(0), "none");
    assert!(matches!(pod.exit_code_file(0).as_deref(), None | Some("0")));
    assert_eq!(message_of(pod, 0), Message::Absent);
    let left = run0_tree(pod);
    let allowed = strings(&[
        ".out.lock",
        "status/",
        "status/artifacts/",
        "status/results/",
        "status/exitCode",
    ]);
    assert!(left.iter().all(|e| allowed.contains(e)), "stray: {left:?}");
    assert!(left.contains(&".out.lock".to_string()));
    assert_successor_follows(pod, "none", &o1);
}

/// Syscalls of the entrypoint at which the sweeps kill it, each at its 1st, 2nd, … call.
const SWEPT: &[&str] = &[
    "openat", "/^mkdir", "flock", "/^rename", "/^link", "write", "fsync", "/^unlink",
];

/// Kills a fresh step 0 (`true`, one task result) on entry to the k-th call of each of
/// [`SWEPT`], for k = 1, 2, … until a run is not killed any more, and calls `check` after each
/// kill with the fixture and where it was killed. Returns the number of kills.
fn sweep_kills(check: &dyn Fn(&Fixture, &str)) -> usize {
    let mut kills = 0;
    for syscall in SWEPT {
        for k in 1.. {
            assert!(k < 500, "{syscall} never stops being killed");
            let f = Fixture::new();
            let step0 = reporting_step_killed_at(&f.pod, syscall, None, k);
            let o = finish(f.start(step0), LONG);
            if !killed_by_sigkill(&o) {
                assert_eq!(o.code, Some(0), "{}", o.stderr);
                break;
            }
            kills += 1;
            check(&f, &format!("{syscall} #{k}"));
        }
    }
    kills
}

/// SIGKILL at every file syscall of the lifecycle: the termination message is absent, empty or
/// complete; the post file is `out` or none; once the lock is in place (or a post file exists)
/// a successor started afterwards never hangs and follows the post file.
#[test]
fn sigkill_at_every_file_syscall_leaves_a_consistent_state() {
    if !can_strace() {
        return;
    }
    let kills = sweep_kills(&|f, at| {
        let pod = &f.pod;
        let _ = message_of(pod, 0); // panics on a half-written message
        let post = pod.post(0);
        assert!(
            post == "out" || post == "none",
            "killed at {at}: post {post}"
        );
        if post == "out" || pod.exists("run/0/.out.lock") {
            let o1 = finish(f.start(successor(pod)), LONG);
            assert_successor_follows(pod, post, &o1);
        }
    });
    assert!(kills > 10, "only {kills} kills");
}

/// The same sweep: a successor that runs (post file `out`) always finds `exitCode` complete,
/// whichever way and in whichever order the two files are written.
#[test]
fn sigkill_at_every_file_syscall_never_leaves_out_without_exit_code() {
    if !can_strace() {
        return;
    }
    sweep_kills(&|f, at| {
        if f.pod.post(0) == "out" {
            assert_eq!(
                f.pod.exit_code_file(0).as_deref(),
                Some("0"),
                "killed at {at}"
            );
        }
    });
}

/// Killed while reading results (post file and `exitCode` written): no message at all — the
/// result is lost, the controller sees exit 137 — and the successor runs, `out` winning over
/// the lock left behind.
#[test]
fn sigkill_while_reading_results_posts_success_without_a_message() {
    let Some(f) = strace_fixture() else {
        return;
    };
    let pod = &f.pod;
    let result = pod.t("results/digest");
    let step0 = reporting_step_killed_at(pod, "openat", Some(&result), 1);
    let o1 = kill_with_successor(&f, step0);
    assert_eq!(message_of(pod, 0), Message::Absent);
    let mut left = strings(DONE);
    left.push(".out.lock".into());
    left.sort();
    assert_eq!(run0_tree(pod), left);
    assert_eq!(pod.exit_code_file(0).as_deref(), Some("0"));
    assert_successor_follows(pod, "out", &o1);
}

/// Killed in the final termination write, after the in-place `O_TRUNC` open (docs/contract.md §2.3:
/// the file is the kubelet's bind mount, no rename): the file is empty — not half-written — so the
/// result appended just before is lost with it.
#[test]
fn sigkill_during_the_termination_write_leaves_it_empty() {
    let Some(f) = strace_fixture() else {
        return;
    };
    let pod = &f.pod;
    let term = pod.t("termination-0");
    // Write 1 appends the result, write 2 is the final one.
    let step0 = reporting_step_killed_at(pod, "write", Some(&term), 2);
    let o1 = kill_with_successor(&f, step0);
    assert_eq!(message_of(pod, 0), Message::Empty);
    let mut left = done_with_record();
    left.push(".out.lock".into());
    left.sort();
    assert_eq!(run0_tree(pod), left);
    assert_successor_follows(pod, "out", &o1);
}

/// Killed at its very last syscall (`exit_group`): everything is complete, the lock already
/// removed; the controller sees exit 137 with the full message.
#[test]
fn sigkill_at_exit_leaves_everything_complete() {
    let Some(f) = strace_fixture() else {
        return;
    };
    let pod = &f.pod;
    let step0 = reporting_step_killed_at(pod, "exit_group", None, 1);
    let o1 = kill_with_successor(&f, step0);
    assert_eq!(
        message_of(pod, 0),
        Message::Complete(vec![e("digest", "sha256:abc", 1), started_at()])
    );
    assert_eq!(run0_tree(pod), done_with_record());
    assert_successor_follows(pod, "out", &o1);
}

// ---------------------------------------------------------------------------------------------
// A predecessor that writes its post file and dies

/// The command failed, `out.err` is written, then the entrypoint dies before its message: the
/// successor skips on `out.err` (not on the lock), no `exitCode`.
#[test]
fn predecessor_that_posts_err_and_dies_skips_the_successor() {
    let Some(f) = strace_fixture() else {
        return;
    };
    let pod = &f.pod;
    let term = pod.t("termination-0");
    let step0 = killed_at(&pod.step(0, &[], &["false"]), "openat", Some(&term), 1);
    let o1 = kill_with_successor(&f, step0);
    assert_eq!(pod.post(0), "out.err");
    assert_eq!(message_of(pod, 0), Message::Absent);
    assert_eq!(
        run0_tree(pod),
        strings(&[
            ".out.lock",
            "out.err",
            "status/",
            "status/artifacts/",
            "status/results/"
        ])
    );
    assert_skipped(pod, 1, &o1);
    assert!(
        !o1.stderr.contains("exited without writing"),
        "{}",
        o1.stderr
    );
}

// ---------------------------------------------------------------------------------------------
// A stderr nobody reads (the container runtime's log pipe stalled)

/// Bound for a step whose stderr is blocked to reach its post file and exit: a hang check
/// (the entrypoint waits at most a fraction of a second per log line), not a performance one.
const BLOCKED_STDERR_LIMIT: Duration = Duration::from_secs(10);

/// A pipe filled to capacity whose read end the test keeps open and never reads: every
/// blocking write to the write end blocks. Returns (read end, write end as blocking).
fn full_pipe() -> (std::os::fd::OwnedFd, std::os::fd::OwnedFd) {
    use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
    let mut fds = [0; 2];
    // SAFETY: fds is a 2-element array; both fds are owned right away.
    let (r, w) = unsafe {
        assert_eq!(libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC), 0);
        (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1]))
    };
    // SAFETY: fcntl/write on the fd owned above, from a static buffer.
    unsafe {
        let flags = libc::fcntl(w.as_raw_fd(), libc::F_GETFL);
        libc::fcntl(w.as_raw_fd(), libc::F_SETFL, flags | libc::O_NONBLOCK);
        let chunk = [b'x'; 4096];
        while libc::write(w.as_raw_fd(), chunk.as_ptr().cast(), chunk.len()) > 0 {}
        while libc::write(w.as_raw_fd(), chunk.as_ptr().cast(), 1) > 0 {}
        // The entrypoint (and its command) get the pipe as a normal, blocking stderr.
        libc::fcntl(w.as_raw_fd(), libc::F_SETFL, flags);
    }
    (r, w)
}

/// Starts `step` with stderr a full pipe nobody reads (stdout discarded); returns the child and
/// the read end, to be kept open until the child is gone.
fn start_with_blocked_stderr(f: &Fixture, mut step: Command) -> (Child, std::os::fd::OwnedFd) {
    let (r, w) = full_pipe();
    step.process_group(0)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::from(w));
    let child = step.spawn().expect("spawn entrypoint");
    f.groups.borrow_mut().push(child.id() as i32);
    (child, r)
}

/// Step 0 (`sleep 30`, its pid recorded as `child`) started with a blocked stderr; returns
/// once the command runs, so what the test sends next reaches a running step.
fn sleeping_step_with_blocked_stderr(f: &Fixture) -> (Child, std::os::fd::OwnedFd) {
    let pod = &f.pod;
    let started = pod.t("started");
    let (child, r) = start_with_blocked_stderr(
        f,
        pod.step(
            0,
            &[],
            &["sh", "-c", &recorded_sleeper(f, Some(&started), 30)],
        ),
    );
    assert!(eventually(LONG, || pod.exists("started")));
    (child, r)
}

/// Waits up to [`BLOCKED_STDERR_LIMIT`] for `child`; its exit status.
fn exits_in_time(mut child: Child, what: &str) -> std::process::ExitStatus {
    let start = Instant::now();
    loop {
        if let Some(st) = child.try_wait().expect("wait") {
            return st;
        }
        if start.elapsed() > BLOCKED_STDERR_LIMIT {
            let _ = child.kill();
            let _ = child.wait();
            panic!("{what}: the entrypoint hung on its blocked stderr");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// A command that cannot start: `Error executing command: …` is logged (after the post file),
/// and the entrypoint still exits.
#[test]
fn blocked_stderr_does_not_hang_a_failing_step() {
    let f = Fixture::new();
    let pod = &f.pod;
    let (child, _r) = start_with_blocked_stderr(&f, pod.step(0, &[], &["/nonexistent/command"]));
    let st = exits_in_time(child, "failing step");
    assert_eq!(st.code(), Some(1));
    assert_eq!(pod.post(0), "out.err");
    assert_eq!(message_of(pod, 0), Message::Complete(vec![started_at()]));
}

/// A timed-out step: post file, message and exit (`context deadline exceeded` is logged).
#[test]
fn blocked_stderr_does_not_delay_a_timeout() {
    let f = Fixture::new();
    let pod = &f.pod;
    let (child, _r) = start_with_blocked_stderr(
        &f,
        pod.step(
            0,
            &["-timeout", "300ms"],
            &["sh", "-c", &recorded_sleeper(&f, None, 30)],
        ),
    );
    let st = exits_in_time(child, "timeout");
    assert_eq!(st.code(), Some(1));
    assert_eq!(pod.post(0), "out.err");
    assert_eq!(
        message_of(pod, 0),
        Message::Complete(vec![started_at(), e("Reason", "TimeoutExceeded", 3)])
    );
}

/// A cancelled step: `Step was canceling` is logged before the post file is written.
#[test]
fn blocked_stderr_does_not_delay_a_cancellation() {
    let f = Fixture::new();
    let pod = &f.pod;
    let (child, _r) = sleeping_step_with_blocked_stderr(&f);
    pod.write_atomic("downward/cancel", "CANCEL");
    let st = exits_in_time(child, "cancellation");
    assert_eq!(st.code(), Some(9));
    assert_cancelled(pod, 0);
}

/// SIGTERM while the command runs: forwarded, the command dies, the step fails and exits.
#[test]
fn blocked_stderr_does_not_delay_sigterm() {
    let f = Fixture::new();
    let pod = &f.pod;
    let (child, _r) = sleeping_step_with_blocked_stderr(&f);
    kill(child.id(), libc::SIGTERM);
    let st = exits_in_time(child, "SIGTERM");
    assert_ne!(st.code(), Some(0));
    assert_eq!(pod.post(0), "out.err");
    assert!(!f.recorded_pid("child").is_some_and(alive));
}

/// Read normally, a stderr gets every log line, whole and in order, before the exit.
#[test]
fn log_lines_reach_a_read_stderr_whole() {
    let f = Fixture::new();
    let pod = &f.pod;
    let o = finish(
        f.start(pod.step(0, &["-timeout", "200ms"], &["sleep", "30"])),
        LONG,
    );
    assert_eq!(o.code, Some(1));
    let lines: Vec<&str> = o.stderr.lines().collect();
    assert_eq!(lines.len(), 1, "{}", o.stderr);
    assert!(
        lines[0].ends_with(" context deadline exceeded"),
        "{}",
        o.stderr
    );
}

// ---------------------------------------------------------------------------------------------
// Something other than a lock file where the predecessor's lock belongs

/// A FIFO planted at `/tekton/run/0/.out.lock`: the successor's lock waiter opens it without
/// blocking, refuses it with one line, and the wait still follows the post file.
#[test]
fn fifo_as_the_predecessor_lock_is_refused_and_the_wait_follows_the_post_file() {
    let f = Fixture::new();
    let pod = &f.pod;
    std::fs::create_dir_all(pod.root().join("tekton/run/0")).expect("mkdir run/0");
    let lock = pod.t("run/0/.out.lock");
    let c = std::ffi::CString::new(lock.clone()).expect("C path");
    // SAFETY: valid C string.
    assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o644) }, 0);
    let next = f.start(successor(pod));
    // The successor is past its first checks (and its lock open) once its wait is idle.
    std::thread::sleep(Duration::from_millis(300));
    pod.write("run/0/out", "");
    let o = finish(next, HANDOFF_LIMIT);
    assert_ran(pod, 1, &o);
    assert!(
        o.stderr.contains(&format!(
            " Not watching the previous step's liveness lock {lock}: not a regular file\n"
        )),
        "{}",
        o.stderr
    );
}
