//! Hand-off, dead predecessors and cancellation on every wake-up path, through the built
//! binary: the liveness lock (no directory watch), inotify, and dnotify when inotify is out of
//! instances or of watches. The limits are lowered only inside a private user namespace
//! (`/proc/sys/user/max_inotify_*` are per namespace), so nothing else on the machine is
//! affected; without user namespaces these tests skip with the reason.

mod common;
use common::*;
use std::process::{Child, Command};
use std::time::Duration;

const LONG: Duration = Duration::from_secs(30);

/// Which inotify limit is set to 0 for the entrypoint under test.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Limit {
    /// The machine's limits: inotify works.
    Default,
    /// `max_inotify_instances = 0`: `inotify_init` fails (EMFILE).
    NoInstances,
    /// `max_inotify_watches = 0`: the instance exists, `inotify_add_watch` fails (ENOSPC).
    NoWatches,
}

const ALL: [Limit; 3] = [Limit::Default, Limit::NoInstances, Limit::NoWatches];

impl Limit {
    fn sysctl(self) -> Option<&'static str> {
        match self {
            Limit::Default => None,
            Limit::NoInstances => Some("/proc/sys/user/max_inotify_instances"),
            Limit::NoWatches => Some("/proc/sys/user/max_inotify_watches"),
        }
    }

    /// `c` (the entrypoint and its argv), run with this limit.
    fn apply(self, c: Command) -> Command {
        let Some(knob) = self.sysctl() else { return c };
        let mut w = Command::new("unshare");
        w.args(["-U", "-r", "sh", "-c"])
            .arg(format!("echo 0 > {knob} && exec \"$0\" \"$@\""))
            .arg(c.get_program())
            .args(c.get_args());
        for (k, v) in c.get_envs() {
            match v {
                Some(v) => w.env(k, v),
                None => w.env_remove(k),
            };
        }
        if let Some(d) = c.get_current_dir() {
            w.current_dir(d);
        }
        w
    }
}

/// Whether a private user namespace can lower the inotify limits here.
fn can_limit() -> bool {
    let ok = Command::new("unshare")
        .args(["-U", "-r", "sh", "-c"])
        .arg("echo 0 > /proc/sys/user/max_inotify_instances && echo 0 > /proc/sys/user/max_inotify_watches")
        .output()
        .is_ok_and(|o| o.status.success());
    if !ok {
        testsupport::skip(
            "cannot lower inotify limits in a private user namespace (no unshare(1) or user namespaces)",
        );
    }
    ok
}

/// What a process holds: inotify instances and open directories (dnotify watches).
#[derive(Debug, Default, PartialEq)]
struct Fds {
    inotify: usize,
    dirs: usize,
}

fn fds(pid: u32) -> Fds {
    let mut f = Fds::default();
    let Ok(entries) = std::fs::read_dir(format!("/proc/{pid}/fd")) else {
        return f;
    };
    for e in entries.flatten() {
        let link = std::fs::read_link(e.path()).unwrap_or_default();
        if link.to_string_lossy() == "anon_inode:inotify" {
            f.inotify += 1;
        } else if std::fs::metadata(e.path()).is_ok_and(|m| m.is_dir()) {
            f.dirs += 1;
        }
    }
    f
}

/// The watch sources the entrypoint must use while waiting on files under `limit`.
fn expected_watch(limit: Limit) -> Fds {
    match limit {
        Limit::Default => Fds {
            inotify: 1,
            dirs: 0,
        },
        Limit::NoInstances => Fds {
            inotify: 0,
            dirs: 1,
        },
        Limit::NoWatches => Fds {
            inotify: 1,
            dirs: 1,
        },
    }
}

/// Waits until `pid` holds `want` (it has reached its wait), failing with what it holds.
fn holds(pid: u32, want: &Fds) {
    let ok = eventually(LONG, || fds(pid) == *want);
    assert!(ok, "pid {pid} holds {:?}, expected {want:?}", fds(pid));
}

/// Whether `pid` runs the thread that blocks on the predecessor's liveness lock.
fn blocks_on_lock(pid: u32) -> bool {
    let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
        return false;
    };
    tasks.flatten().any(|t| {
        std::fs::read_to_string(t.path().join("comm")).is_ok_and(|c| c.starts_with("predecessor"))
    })
}

/// Step 0: a stepkit entrypoint whose command runs until `go` exists (or is killed); returns
/// once the command runs.
fn stepkit_predecessor(pod: &Pod) -> Child {
    let go = pod.t("go");
    let started = pod.t("started");
    let child = spawn(pod.step(
        0,
        &[],
        &[
            "sh",
            "-c",
            &format!("echo $$ > {started}; while [ ! -e {go} ]; do sleep 0.02; done"),
        ],
    ));
    assert!(eventually(LONG, || pod.exists("started")));
    child
}

/// Waits until `pid` runs its lock-waiting thread.
fn assert_blocks_on_lock(pid: u32, limit: Limit) {
    assert!(
        eventually(LONG, || blocks_on_lock(pid)),
        "{limit:?}: no lock-waiting thread"
    );
}

/// SIGKILLs `step0` while `step1` waits on it; returns step 1's outcome once step 0 and its
/// orphaned shell are gone.
fn kill_predecessor(pod: &Pod, step0: Child, step1: Child) -> Outcome {
    kill(step0.id(), libc::SIGKILL);
    let o = finish(step1, LONG);
    kill_started(pod);
    let _ = finish(step0, LONG);
    o
}

/// Step 1, waiting on step 0's post file, under `limit`.
fn successor(pod: &Pod, limit: Limit) -> Child {
    let w = pod.t("run/0/out");
    spawn(limit.apply(pod.step(1, &["-wait_file", &w], &["true"])))
}

fn assert_ran(o: &Outcome, pod: &Pod) {
    assert_eq!(o.code, Some(0), "{}", o.stderr);
    assert_eq!(pod.post(1), "out");
}

fn assert_skipped(o: &Outcome, pod: &Pod) {
    assert_eq!(o.code, Some(1), "{}", o.stderr);
    assert!(
        o.stderr
            .contains("Skipping step because a previous step failed"),
        "{}",
        o.stderr
    );
    assert_eq!(pod.post(1), "out.err");
}

/// The common hand-off: a stepkit predecessor's lock; the waiter watches no directory and
/// holds no inotify instance, whatever the limits.
#[test]
fn stepkit_predecessor_hands_off_through_its_lock_without_any_watch() {
    if !can_limit() {
        return;
    }
    for limit in ALL {
        let pod = Pod::new();
        let step0 = stepkit_predecessor(&pod);
        let step1 = successor(&pod, limit);
        // Blocked on the lock: its thread exists and it holds neither inotify nor dnotify.
        let pid = step1.id();
        assert_blocks_on_lock(pid, limit);
        assert_eq!(fds(pid), Fds::default(), "{limit:?}");
        pod.write("go", "");
        let o0 = finish(step0, LONG);
        assert_eq!(o0.code, Some(0), "{}", o0.stderr);
        assert_ran(&finish(step1, LONG), &pod);
    }
}

/// A predecessor that holds no lock (upstream's entrypoint in a mixed pod): the post file and
/// the `.err` twin are seen through inotify, or dnotify when inotify is out.
#[test]
fn predecessor_without_lock_is_seen_on_every_path() {
    if !can_limit() {
        return;
    }
    for limit in ALL {
        for failed in [false, true] {
            let pod = Pod::new();
            let step1 = successor(&pod, limit);
            holds(step1.id(), &expected_watch(limit));
            pod.write(if failed { "run/0/out.err" } else { "run/0/out" }, "");
            let o = finish(step1, LONG);
            if failed {
                assert_skipped(&o, &pod);
            } else {
                assert_ran(&o, &pod);
            }
        }
    }
}

/// Files that are there before the waiter starts: no wait, no watch needed.
#[test]
fn post_files_present_before_the_waiter_starts() {
    if !can_limit() {
        return;
    }
    for limit in ALL {
        let pod = Pod::new();
        pod.write("run/0/out", "");
        // A lock left behind must not matter when the post file is there.
        pod.write("run/0/.out.lock", "");
        assert_ran(&finish(successor(&pod, limit), LONG), &pod);
        let pod = Pod::new();
        pod.write("run/0/out.err", "");
        assert_skipped(&finish(successor(&pod, limit), LONG), &pod);
    }
}

/// A predecessor killed while its successor blocks on its lock.
#[test]
fn dead_predecessor_holding_the_lock_on_every_path() {
    if !can_limit() {
        return;
    }
    for limit in ALL {
        let pod = Pod::new();
        let step0 = stepkit_predecessor(&pod);
        let step1 = successor(&pod, limit);
        let pid = step1.id();
        assert_blocks_on_lock(pid, limit);
        let o = kill_predecessor(&pod, step0, step1);
        assert_skipped(&o, &pod);
        assert_eq!(pod.post(0), "none");
    }
}

/// A predecessor that starts after its successor (its lock appears while the successor
/// watches the directory), then dies.
#[test]
fn dead_predecessor_that_started_late_on_every_path() {
    if !can_limit() {
        return;
    }
    for limit in ALL {
        let pod = Pod::new();
        let step1 = successor(&pod, limit);
        holds(step1.id(), &expected_watch(limit));
        let step0 = stepkit_predecessor(&pod);
        let pid = step1.id();
        // It found the lock: the lock-waiting thread runs.
        assert_blocks_on_lock(pid, limit);
        let o = kill_predecessor(&pod, step0, step1);
        assert_skipped(&o, &pod);
    }
}

/// Ends step 0's orphaned shell (it holds the test's pipes).
fn kill_started(pod: &Pod) {
    if let Some(pid) = pod
        .read("started")
        .and_then(|p| p.trim().parse::<u32>().ok())
    {
        kill(pid, libc::SIGKILL);
    }
}

/// Cancellation of a running step: inotify, or dnotify when inotify is out.
#[test]
fn cancel_on_every_path() {
    if !can_limit() {
        return;
    }
    for limit in ALL {
        let pod = Pod::new();
        pod.write("downward/cancel", "");
        let started = pod.t("started");
        let step = spawn(limit.apply(pod.step(
            0,
            &[],
            &["sh", "-c", &format!("touch {started}; exec sleep 30")],
        )));
        assert!(eventually(LONG, || pod.exists("started")));
        holds(step.id(), &expected_watch(limit));
        pod.write("downward/cancel", "CANCEL");
        let o = finish(step, LONG);
        assert_eq!(o.code, Some(9), "{limit:?}: {}", o.stderr);
        assert_eq!(pod.post(0), "out.err");
        assert_eq!(pod.exit_code_file(0).as_deref(), Some("killed"));
    }
}

/// A SIGIO sent by a process is still a signal to forward, not a dnotify wake-up.
#[test]
fn a_sigio_from_kill_still_reaches_the_command() {
    if !can_limit() {
        return;
    }
    let pod = Pod::new();
    let started = pod.t("started");
    let got = pod.t("got-sigio");
    let step = spawn(Limit::NoInstances.apply(pod.step(
        0,
        &[],
        &[
            "sh",
            "-c",
            &format!(
                "trap 'touch {got}; exit 0' IO; touch {started}; while :; do sleep 0.02; done"
            ),
        ],
    )));
    assert!(eventually(LONG, || pod.exists("started")));
    holds(step.id(), &expected_watch(Limit::NoInstances));
    kill(step.id(), libc::SIGIO);
    let o = finish(step, LONG);
    assert_eq!(o.code, Some(0), "{}", o.stderr);
    assert!(pod.exists("got-sigio"));
}
