//! Multi-step and process-level behaviour through the built binary: a TaskRun-shaped pod with
//! all entrypoints started at once, reaping, signal forwarding, dead predecessors, group kill.

mod common;
use common::*;
use std::time::{Duration, Instant};

const LONG: Duration = Duration::from_secs(30);

/// The controller's 3-step example pod (docs/contract.md §3.1): clone (writes a result), test
/// (`onError: continue`, tee, step result, exits 1), publish (no command:
/// TEKTON_PLATFORM_COMMANDS). All started together; step 0 waits for the Downward-API `ready` file,
/// which arrives late through a `..data` symlink swap.
#[test]
fn three_step_taskrun() {
    let pod = Pod::new();
    pod.write("creds-secrets/git-creds/username", "user");
    pod.write("creds-secrets/git-creds/password", "pass");
    // Downward API layout: ready -> ..data/ready, empty until the controller annotates.
    let downward = pod.root().join("tekton/downward");
    std::fs::create_dir_all(downward.join("..2026_1")).unwrap();
    std::fs::write(downward.join("..2026_1/ready"), "").unwrap();
    std::os::unix::fs::symlink("..2026_1", downward.join("..data")).unwrap();
    std::os::unix::fs::symlink("..data/ready", downward.join("ready")).unwrap();

    let script = pod.t("scripts/script-0-9l9zj");
    let digest = pod.t("results/digest");
    pod.write(
        "scripts/script-0-9l9zj",
        &format!("#!/bin/sh\nset -e\necho cloning\nprintf sha256:abc > {digest}\n"),
    );
    std::fs::set_permissions(&script, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let creds = ["-basic-git=git-creds=https://github.com"];
    let log = pod
        .root()
        .join("workspace/test.log")
        .to_string_lossy()
        .into_owned();
    let report = pod.t("run/1/status/results/report");

    let mut flags0 = vec![
        "-wait_file",
        &*Box::leak(pod.t("downward/ready").into_boxed_str()),
        "-wait_file_content",
    ];
    flags0.extend(creds);
    flags0.extend(["-timeout", "5m0s", "-results", "digest"]);
    let step0 = spawn(pod.step(0, &flags0, &[&script]));

    let wait1 = pod.t("run/0/out");
    let mut flags1 = vec!["-wait_file", wait1.as_str()];
    flags1.extend(creds);
    flags1.extend([
        "-on_error",
        "continue",
        "-stdout_path",
        &log,
        "-step_results",
        "report",
        "-results",
        "digest",
    ]);
    let step1 = spawn_sh(
        &pod,
        1,
        &flags1,
        &format!("echo testing; printf https://report > {report}; exit 1"),
    );

    let wait2 = pod.t("run/1/out");
    let mut flags2 = vec!["-wait_file", wait2.as_str()];
    flags2.extend(creds);
    flags2.extend(["-results", "digest", "--", "--push"]);
    let mut c2 = pod.step(2, &flags2, &[]);
    c2.env(
        "TEKTON_PLATFORM_COMMANDS",
        platform_commands(&["echo", "publishing"]),
    );
    let step2 = spawn(c2);

    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(pod.post(0), "none", "step 0 must wait for ready");
    std::fs::create_dir_all(downward.join("..2026_2")).unwrap();
    std::fs::write(downward.join("..2026_2/ready"), "READY").unwrap();
    std::os::unix::fs::symlink("..2026_2", downward.join("..data_tmp")).unwrap();
    std::fs::rename(downward.join("..data_tmp"), downward.join("..data")).unwrap();

    let o0 = finish(step0, LONG);
    let o1 = finish(step1, LONG);
    let o2 = finish(step2, LONG);
    assert_eq!(o0.code, Some(0), "{}", o0.stderr);
    assert_eq!(o0.stdout, "cloning\n");
    assert_eq!(pod.post(0), "out");
    assert_eq!(pod.exit_code_file(0).as_deref(), Some("0"));
    assert_eq!(
        pod.termination(0),
        vec![e("digest", "sha256:abc", 1), e("StartedAt", "", 3)]
    );

    assert_eq!(o1.code, Some(0), "{}", o1.stderr);
    assert_eq!(o1.stdout, "testing\n");
    assert_eq!(std::fs::read_to_string(&log).unwrap(), "testing\n");
    assert_eq!(pod.post(1), "out");
    assert_eq!(pod.exit_code_file(1).as_deref(), Some("1"));
    assert_eq!(
        pod.termination(1),
        // Per-step results: `digest` is unchanged since step 0, so only step 0 reports it.
        vec![
            e("report", "https://report", 4),
            e("StartedAt", "", 3),
            e("ExitCode", "1", 3),
        ]
    );

    assert_eq!(o2.code, Some(0), "{}", o2.stderr);
    assert_eq!(o2.stdout, "publishing --push\n");
    assert_eq!(pod.post(2), "out");
    assert_eq!(pod.termination(2), vec![e("StartedAt", "", 3)]);
    // Credentials were written and copied to $HOME.
    assert!(pod.exists("creds/.git-credentials"));
    assert!(pod.root().join("home/.git-credentials").exists());
}

/// A failing first step makes the others skip, in cascade.
/// Step `i` running `sh -c <script>` with `flags`, spawned.
fn spawn_sh(pod: &Pod, i: usize, flags: &[&str], script: &str) -> std::process::Child {
    spawn(pod.step(i, flags, &["sh", "-c", script]))
}

/// The termination entries of a step skipped after a failed predecessor.
fn skipped() -> Vec<Entry> {
    vec![e("StartedAt", "", 3), e("Reason", "Skipped", 3)]
}

/// `-stdout_path` under the workspace.
fn workspace_log(pod: &Pod) -> String {
    pod.root()
        .join("workspace/out.log")
        .to_string_lossy()
        .into_owned()
}

#[test]
fn failure_cascades_as_skips() {
    let pod = Pod::new();
    let w1 = pod.t("run/0/out");
    let w2 = pod.t("run/1/out");
    let s2 = spawn(pod.step(2, &["-wait_file", &w2], &["true"]));
    let s1 = spawn(pod.step(1, &["-wait_file", &w1], &["true"]));
    std::thread::sleep(Duration::from_millis(100));
    let o0 = run(pod.step(0, &[], &["false"]));
    assert_eq!(o0.code, Some(1));
    let (o1, o2) = (finish(s1, LONG), finish(s2, LONG));
    assert_eq!((o1.code, o2.code), (Some(1), Some(1)));
    assert_eq!(
        (pod.post(0), pod.post(1), pod.post(2)),
        ("out.err", "out.err", "out.err")
    );
    for i in 1..3 {
        assert_eq!(pod.termination(i), skipped());
    }
}

fn zombie_children(pid: u32) -> (usize, usize) {
    let (mut children, mut zombies) = (0, 0);
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(stat) = std::fs::read_to_string(entry.path().join("stat")) else {
            continue;
        };
        // pid (comm) state ppid …; comm may contain spaces, so split after the last ')'.
        let Some(rest) = stat.rsplit_once(')').map(|(_, r)| r) else {
            continue;
        };
        let fields: Vec<&str> = rest.split_whitespace().collect();
        if fields.get(1).and_then(|p| p.parse::<u32>().ok()) == Some(pid) {
            children += 1;
            if fields[0] == "Z" {
                zombies += 1;
            }
        }
    }
    (children, zombies)
}

/// The step leaves 100 orphans that exit while it still runs: the entrypoint (a subreaper
/// here, PID 1 in a pod) must adopt and reap all of them. Each lives 1 s, long enough to be
/// seen adopted even when spawning them takes a while on a loaded machine.
#[test]
fn orphans_are_reaped() {
    let pod = Pod::new();
    let done = pod.t("spawned");
    let child = spawn_sh(
        &pod,
        0,
        &[],
        &format!(
            "i=0; while [ $i -lt 100 ]; do (sleep 1 &); i=$((i+1)); done; touch {done}; sleep 4"
        ),
    );
    let pid = child.id();
    assert!(eventually(LONG, || pod.exists("spawned")));
    let mut saw_orphans = false;
    let settled = eventually(Duration::from_secs(3), || {
        let (children, zombies) = zombie_children(pid);
        saw_orphans |= children > 1;
        zombies == 0 && children <= 1
    });
    std::thread::sleep(Duration::from_millis(300));
    let (children, zombies) = zombie_children(pid);
    let o = finish(child, LONG);
    assert_eq!(o.code, Some(0), "{}", o.stderr);
    assert!(
        saw_orphans,
        "no orphan was adopted by the entrypoint: the test saw nothing to reap"
    );
    assert!(settled, "orphans not reaped");
    assert_eq!(zombies, 0, "zombies left: {zombies} of {children}");
}

/// SIGINT sent to the entrypoint reaches every process of the child's group.
#[test]
fn sigint_is_forwarded_to_the_group() {
    let pod = Pod::new();
    let ready = pod.t("ready-marker");
    let got = pod.t("got-int");
    // The grandchild runs in the foreground (background jobs of a non-interactive shell
    // ignore SIGINT), in the same process group as the step's shell.
    let script = format!(
        "trap 'echo parent > {got}.p; exit 42' INT; sh -c \"trap 'echo child > {got}.c; exit 0' INT; touch {ready}; while :; do sleep 0.05; done\"; echo unreachable"
    );
    let child = spawn(pod.step(0, &[], &["sh", "-c", &script]));
    assert!(eventually(LONG, || pod.exists("ready-marker")));
    std::thread::sleep(Duration::from_millis(100));
    kill(child.id(), libc::SIGINT);
    let o = finish(child, LONG);
    assert_eq!(o.code, Some(42), "{}", o.stderr);
    assert!(
        eventually(Duration::from_secs(5), || pod.exists("got-int.c")),
        "grandchild missed SIGINT"
    );
    assert_eq!(pod.post(0), "out.err");
}

fn dead_predecessor(kill_while_running: bool) {
    let pod = Pod::new();
    let started = pod.t("step0-started");
    let flags0: Vec<String> = if kill_while_running {
        vec![]
    } else {
        vec![
            "-wait_file".into(),
            pod.t("downward/ready"),
            "-wait_file_content".into(),
        ]
    };
    let flags0: Vec<&str> = flags0.iter().map(String::as_str).collect();
    let step0 = spawn_sh(
        &pod,
        0,
        &flags0,
        &format!("echo $$ > {started}.pid; touch {started}; exec sleep 30"),
    );
    let w = pod.t("run/0/out");
    let step1 = spawn(pod.step(1, &["-wait_file", &w], &["true"]));
    if kill_while_running {
        assert!(eventually(LONG, || pod.exists("step0-started")));
    } else {
        assert!(eventually(LONG, || pod.exists("run/0/.out.lock")));
    }
    std::thread::sleep(Duration::from_millis(200));
    let pid0 = step0.id();
    kill(pid0, libc::SIGKILL);
    let killed_at = Instant::now();
    let o1 = finish(step1, LONG);
    let took = killed_at.elapsed();
    // The orphaned `sleep` of step 0 (if it started) still holds the test's pipes: end it.
    if let Some(pid) = pod
        .read("step0-started.pid")
        .and_then(|p| p.trim().parse::<u32>().ok())
    {
        kill(pid, libc::SIGKILL);
    }
    let _ = finish(step0, LONG);
    assert_eq!(o1.code, Some(1), "{}", o1.stderr);
    assert!(
        o1.stderr
            .contains("Skipping step because a previous step failed")
    );
    assert_eq!(pod.post(0), "none");
    assert_eq!(pod.post(1), "out.err");
    assert_eq!(pod.termination(1), skipped());
    eprintln!("dead predecessor detected after {took:?}");
}

#[test]
fn dead_predecessor_while_waiting() {
    dead_predecessor(false);
}

#[test]
fn dead_predecessor_while_running() {
    dead_predecessor(true);
}

/// Timeout with a background child holding the tee pipe: no hang, TimeoutExceeded.
#[test]
fn timeout_with_background_child_and_tee() {
    let pod = Pod::new();
    let log = workspace_log(&pod);
    let start = Instant::now();
    let o = run(pod.step(
        0,
        &["-timeout", "500ms", "-stdout_path", &log],
        &["sh", "-c", "echo before; sleep 30 & sleep 30"],
    ));
    assert!(start.elapsed() < Duration::from_secs(20));
    assert_eq!(o.code, Some(1), "{}", o.stderr);
    assert_eq!(pod.post(0), "out.err");
    assert_eq!(
        pod.termination(0),
        vec![e("StartedAt", "", 3), e("Reason", "TimeoutExceeded", 3)]
    );
    assert_eq!(std::fs::read_to_string(&log).unwrap(), "before\n");
}

/// A background process that outlives a successful step must not hold the step open.
#[test]
fn background_child_holding_tee_does_not_hang_success() {
    let pod = Pod::new();
    let log = workspace_log(&pod);
    let start = Instant::now();
    let o = run(pod.step(
        0,
        &["-stdout_path", &log],
        &["sh", "-c", "sleep 5 2>/dev/null & echo done"],
    ));
    assert!(start.elapsed() < Duration::from_secs(4));
    assert_eq!(o.code, Some(0), "{}", o.stderr);
    assert_eq!(std::fs::read_to_string(&log).unwrap(), "done\n");
}

/// Cancel kills the whole group, even a child that ignores SIGTERM (after the grace period).
#[test]
fn cancel_kills_group_ignoring_sigterm() {
    let pod = Pod::new();
    let started = pod.t("started");
    let child = spawn_sh(
        &pod,
        0,
        &[],
        &format!("trap '' TERM; touch {started}; while :; do sleep 0.05; done"),
    );
    assert!(eventually(LONG, || pod.exists("started")));
    pod.write_atomic("downward/cancel", "CANCEL");
    let o = finish(child, LONG);
    assert_eq!(o.code, Some(9));
    assert_eq!(pod.exit_code_file(0).as_deref(), Some("killed"));
    assert_eq!(
        pod.termination(0),
        vec![e("StartedAt", "", 3), e("Reason", "Cancelled", 3)]
    );
}

/// `TEKTON_HERMETIC=1`: the child has no network (only `lo`) and is PID 1 of its namespace.
#[test]
fn hermetic_child_has_no_network() {
    let pod = Pod::new();
    let mut c = pod.step(0, &[], &["sh", "-c", "echo pid=$$; ls /sys/class/net 2>/dev/null | tr '\\n' ' '; cat /proc/net/dev | tail -n +3 | cut -d: -f1 | tr -d ' ' | tr '\\n' ','"]);
    c.env("TEKTON_HERMETIC", "1");
    let o = run(c);
    if o.code != Some(0)
        && o.stderr
            .contains("cannot create user/pid/net/mount namespaces")
    {
        testsupport::skip(format!(
            "hermetic_child_has_no_network: user namespaces unavailable here ({})",
            o.stderr.trim()
        ));
        return;
    }
    assert_eq!(o.code, Some(0), "{}", o.stderr);
    assert!(o.stdout.starts_with("pid=1\n"), "{}", o.stdout);
    assert!(
        o.stdout.trim_end().ends_with("lo,"),
        "only loopback expected: {}",
        o.stdout
    );

    // With TEKTON_RESOURCE_NAME set, the rule does not apply.
    let mut c = pod.step(1, &[], &["sh", "-c", "echo pid=$$"]);
    c.env("TEKTON_HERMETIC", "1")
        .env("TEKTON_RESOURCE_NAME", "x");
    let o = run(c);
    assert_eq!(o.code, Some(0));
    assert_ne!(o.stdout, "pid=1\n");
}
