//! Every row of the scenario matrix (docs/contract.md §3.12), through the built binary: post file,
//! exitCode file, termination entries and exit code.

mod common;
use common::*;
use std::time::Duration;

const LONG: Duration = Duration::from_secs(30);

fn started_at() -> Entry {
    e("StartedAt", "", 3)
}

/// What the controller sees of step `i`: its post file, its `exitCode` file (`None`: absent)
/// and its termination entries.
fn assert_recorded(pod: &Pod, i: usize, post: &str, exit_code: Option<&str>, message: Vec<Entry>) {
    assert_eq!(pod.post(i), post, "step {i}: post file");
    assert_eq!(
        pod.exit_code_file(i).as_deref(),
        exit_code,
        "step {i}: exitCode"
    );
    assert_eq!(pod.termination(i), message, "step {i}: termination message");
}

fn assert_stderr_has(o: &Outcome, text: &str) {
    assert!(o.stderr.contains(text), "{}", o.stderr);
}

#[test]
fn success() {
    let pod = Pod::new();
    let o = run(pod.step(0, &[], &["sh", "-c", "echo hi"]));
    assert_eq!(o.code, Some(0), "{}", o.stderr);
    assert_eq!(o.stdout, "hi\n");
    assert_recorded(&pod, 0, "out", Some("0"), vec![started_at()]);
    assert!(pod.exists("run/0/status/results") && pod.exists("run/0/status/artifacts"));
    // Nothing but upstream's files is left in the run directory.
    let mut names: Vec<String> = std::fs::read_dir(pod.t("run/0"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert_eq!(names, vec!["out", "status"]);
}

#[test]
fn child_exits_3() {
    let pod = Pod::new();
    let o = run(pod.step(0, &[], &["sh", "-c", "exit 3"]));
    assert_eq!(o.code, Some(3));
    assert_recorded(&pod, 0, "out.err", None, vec![started_at()]);
}

#[test]
fn child_exits_3_on_error_continue() {
    let pod = Pod::new();
    let o = run(pod.step(0, &["-on_error", "continue"], &["sh", "-c", "exit 3"]));
    assert_eq!(o.code, Some(0));
    assert_recorded(
        &pod,
        0,
        "out",
        Some("3"),
        vec![started_at(), e("ExitCode", "3", 3)],
    );
}

#[test]
fn child_killed_by_signal() {
    let pod = Pod::new();
    let o = run(pod.step(0, &[], &["sh", "-c", "kill -9 $$"]));
    assert_eq!(o.code, Some(255));
    assert_recorded(&pod, 0, "out.err", None, vec![started_at()]);
}

#[test]
fn child_killed_by_signal_on_error_continue() {
    let pod = Pod::new();
    let o = run(pod.step(0, &["-on_error", "continue"], &["sh", "-c", "kill -9 $$"]));
    assert_eq!(o.code, Some(0));
    assert_recorded(
        &pod,
        0,
        "out",
        Some("-1"),
        vec![started_at(), e("ExitCode", "-1", 3)],
    );
}

#[test]
fn command_not_found() {
    let pod = Pod::new();
    let o = run(pod.step(0, &[], &["no-such-command-stepkit"]));
    assert_eq!(o.code, Some(1));
    assert_stderr_has(
        &o,
        "Error executing command: exec: \"no-such-command-stepkit\": executable file not found in $PATH",
    );
    assert_recorded(&pod, 0, "out.err", None, vec![started_at()]);
}

#[test]
fn command_not_executable() {
    let pod = Pod::new();
    pod.write("scripts/plain", "echo hi\n");
    let script = pod.t("scripts/plain");
    let o = run(pod.step(0, &[], &[&script]));
    assert_eq!(o.code, Some(1));
    assert_stderr_has(&o, &format!("fork/exec {script}: permission denied"));
    assert_eq!(pod.post(0), "out.err");
    assert_eq!(pod.termination(0), vec![started_at()]);
}

#[test]
fn previous_step_failed() {
    let pod = Pod::new();
    pod.write("run/0/out.err", "");
    let marker = pod.t("ran");
    let o = run(pod.step(
        1,
        &["-wait_file", &pod.t("run/0/out")],
        &["sh", "-c", &format!("touch {marker}")],
    ));
    assert_eq!(o.code, Some(1));
    assert_stderr_has(&o, "Skipping step because a previous step failed");
    assert!(!pod.exists("ran"));
    assert_recorded(
        &pod,
        1,
        "out.err",
        None,
        vec![started_at(), e("Reason", "Skipped", 3)],
    );
}

#[test]
fn previous_step_failed_with_breakpoint_on_failure_runs() {
    let pod = Pod::new();
    pod.write("run/0/out.err", "");
    let o = run(pod.step(
        1,
        &["-wait_file", &pod.t("run/0/out"), "-breakpoint_on_failure"],
        &["true"],
    ));
    assert_eq!(o.code, Some(0), "{}", o.stderr);
    assert_recorded(&pod, 1, "out", Some("0"), vec![started_at()]);
}

#[test]
fn wait_stat_error() {
    let pod = Pod::new();
    pod.write("notadir", "");
    // ENOTDIR for everyone (EACCES would not happen as root).
    let wait = pod.t("notadir/out");
    let o = run(pod.step(1, &["-wait_file", &wait], &["true"]));
    assert_eq!(o.code, Some(1));
    assert_stderr_has(
        &o,
        &format!("Error executing command: waiting for \"{wait}\": stat {wait}: not a directory"),
    );
    assert_recorded(&pod, 1, "out.err", None, vec![started_at()]);
}

#[test]
fn timeout() {
    let pod = Pod::new();
    let o = run(pod.step(0, &["-timeout", "300ms"], &["sleep", "30"]));
    assert_eq!(o.code, Some(1));
    assert_stderr_has(&o, "context deadline exceeded");
    assert_recorded(
        &pod,
        0,
        "out.err",
        None,
        vec![started_at(), e("Reason", "TimeoutExceeded", 3)],
    );
}

#[test]
fn cancel_file_gets_content() {
    let pod = Pod::new();
    let started = pod.t("started");
    let child = spawn(pod.step(
        0,
        &[],
        &["sh", "-c", &format!("touch {started}; exec sleep 30")],
    ));
    assert!(eventually(LONG, || pod.exists("started")));
    pod.write_atomic("downward/cancel", "CANCEL");
    let o = finish(child, LONG);
    assert_eq!(o.code, Some(9), "{}", o.stderr);
    assert_stderr_has(&o, "Step was cancelled");
    assert_recorded(
        &pod,
        0,
        "out.err",
        Some("killed"),
        vec![started_at(), e("Reason", "Cancelled", 3)],
    );
}

#[test]
fn when_expressions_false() {
    let pod = Pod::new();
    let o = run(pod.step(
        0,
        &[
            "--when_expressions",
            r#"[{"input":"foo","operator":"in","values":["bar"]}]"#,
        ],
        &["sh", "-c", "exit 5"],
    ));
    assert_eq!(o.code, Some(0), "{}", o.stderr);
    assert!(
        o.stderr
            .contains("Step was skipped due to when expressions were evaluated to false.")
    );
    assert_recorded(
        &pod,
        0,
        "out",
        Some("0"),
        vec![started_at(), e("Reason", "Skipped", 3)],
    );
}

#[test]
fn when_expression_cel_error() {
    let pod = Pod::new();
    let o = run(pod.step(
        0,
        &["--when_expressions", r#"[{"cel":"'foo'"}]"#],
        &["true"],
    ));
    assert_eq!(o.code, Some(1), "{}", o.stderr);
    assert_recorded(&pod, 0, "out.err", None, vec![started_at()]);
}

#[test]
fn negative_timeout() {
    let pod = Pod::new();
    let o = run(pod.step(0, &["-timeout", "-1s"], &["true"]));
    assert_eq!(o.code, Some(1));
    assert_stderr_has(&o, "Error executing command: negative timeout specified");
    assert_recorded(&pod, 0, "out.err", None, vec![started_at()]);
}

#[test]
fn debug_before_step_fail_continue() {
    let pod = Pod::new();
    let child = spawn(pod.step(0, &["-debug_before_step"], &["true"]));
    std::thread::sleep(Duration::from_millis(200));
    pod.write("run/0/out.beforestepexit.err", "1\n");
    let o = finish(child, LONG);
    assert_eq!(o.code, Some(1), "{}", o.stderr);
    assert!(
        o.stderr
            .contains("debug before step breakpoint has taken effect")
    );
    assert!(
        o.stderr
            .contains("Skipping execute step script because before step breakpoint fail-continue")
    );
    assert_recorded(&pod, 0, "out.err", None, vec![started_at()]);
}

#[test]
fn debug_before_step_continue_runs() {
    let pod = Pod::new();
    let child = spawn(pod.step(0, &["-debug_before_step"], &["true"]));
    std::thread::sleep(Duration::from_millis(200));
    assert_eq!(pod.post(0), "none");
    pod.write("run/0/out.beforestepexit", "0\n");
    let o = finish(child, LONG);
    assert_eq!(o.code, Some(0), "{}", o.stderr);
    assert_eq!(pod.post(0), "out");
}

#[test]
fn failure_with_breakpoint_on_failure() {
    let pod = Pod::new();
    let child = spawn(pod.step(0, &["-breakpoint_on_failure"], &["sh", "-c", "exit 4"]));
    assert!(eventually(LONG, || pod
        .read("termination-0")
        .is_some_and(|m| m.contains("StartedAt"))));
    std::thread::sleep(Duration::from_millis(100));
    assert_eq!(pod.post(0), "none");
    pod.write_atomic("run/0/out.breakpointexit", "7\n");
    let o = finish(child, LONG);
    assert_eq!(o.code, Some(7), "{}", o.stderr);
    assert!(
        o.stderr
            .contains("debug onFailure breakpoint has taken effect")
    );
    assert!(o.stderr.contains("Breakpoint exiting with exit code 7"));
    assert_recorded(&pod, 0, "none", None, vec![started_at()]);
}

#[test]
fn results_above_4096_bytes() {
    let pod = Pod::new();
    pod.write("results/big", &"x".repeat(5000));
    let o = run(pod.step(0, &["-results", "big"], &["true"]));
    assert_eq!(o.code, Some(1));
    assert!(o.stderr.contains(
        "Termination message is above max allowed size 4096, caused by large task result."
    ));
    assert_recorded(&pod, 0, "out", Some("0"), vec![started_at()]);
}

#[test]
fn empty_platform_command() {
    let pod = Pod::new();
    let mut c = pod.step(0, &[], &[]);
    c.env("TEKTON_PLATFORM_COMMANDS", platform_commands(&[]));
    let o = run(c);
    assert_eq!(o.code, Some(0), "{}", o.stderr);
    assert_recorded(&pod, 0, "out", Some("0"), vec![started_at()]);
}

#[test]
fn sigterm_while_child_runs_is_forwarded() {
    let pod = Pod::new();
    let started = pod.t("started");
    let child = spawn(pod.step(
        0,
        &[],
        &["sh", "-c", &format!("touch {started}; exec sleep 30")],
    ));
    assert!(eventually(LONG, || pod.exists("started")));
    kill(child.id(), libc::SIGTERM);
    let o = finish(child, LONG);
    assert_eq!(o.code, Some(255), "{}", o.stderr);
    assert_recorded(&pod, 0, "out.err", None, vec![started_at()]);
}

#[test]
fn sigterm_while_waiting_ends_the_process() {
    let pod = Pod::new();
    let child = spawn(pod.step(1, &["-wait_file", &pod.t("run/0/out")], &["true"]));
    assert!(eventually(LONG, || pod.exists("run/1/status/results")));
    std::thread::sleep(Duration::from_millis(100));
    kill(child.id(), libc::SIGTERM);
    let o = finish(child, LONG);
    // Not PID 1 here: killed by the signal itself (PID 1 would exit 2).
    assert_eq!(o.signal, Some(libc::SIGTERM));
    assert_eq!(pod.post(1), "none");
    assert!(pod.read("termination-1").is_none());
}

#[test]
fn step_and_task_results_and_artifacts() {
    let pod = Pod::new();
    pod.write("results/digest", "sha256:abc");
    pod.write("artifacts/provenance.json", "{\"a\":1}");
    let res = pod.t("run/0/status/results/report");
    let art = pod.t("run/0/status/artifacts/provenance.json");
    let o = run(pod.step(
        0,
        &["-results", "digest,absent", "-step_results", "report"],
        &[
            "sh",
            "-c",
            &format!("printf 'https://r<&>' > {res}; printf '{{}}' > {art}"),
        ],
    ));
    assert_eq!(o.code, Some(0), "{}", o.stderr);
    assert_eq!(
        pod.termination(0),
        vec![
            e("digest", "sha256:abc", 1),
            e("report", "https://r<&>", 4),
            started_at(),
            e(&art, "{}", 5),
            e(&pod.t("artifacts/provenance.json"), "{\"a\":1}", 6),
        ]
    );
    // Go escapes <, > and & in JSON.
    assert!(
        pod.read("termination-0")
            .unwrap()
            .contains("https://r\\u003c\\u0026\\u003e")
    );
}

#[test]
fn sidecar_logs_keep_results_out_of_the_message() {
    let pod = Pod::new();
    pod.write("results/digest", "sha256:abc");
    let o = run(pod.step(
        0,
        &["-results", "digest", "-result_from", "sidecar-logs"],
        &["true"],
    ));
    assert_eq!(o.code, Some(0));
    assert_eq!(pod.termination(0), vec![started_at()]);
}

#[test]
fn compressed_message() {
    let pod = Pod::new();
    for i in 0..40 {
        pod.write(&format!("results/r{i}"), "the same value again and again");
    }
    let names: Vec<String> = (0..40).map(|i| format!("r{i}")).collect();
    let o = run(pod.step(
        0,
        &[
            "-results",
            &names.join(","),
            "-compress_termination_message=true",
        ],
        &["true"],
    ));
    assert_eq!(o.code, Some(0), "{}", o.stderr);
    let raw = std::fs::read(pod.t("termination-0")).unwrap();
    assert!(raw.starts_with(b"tknz:"));
    let entries = termination::parse_message(&raw).expect("parse");
    assert_eq!(entries.len(), 41);
}

#[test]
fn tee_to_files() {
    let pod = Pod::new();
    let out = pod.root().join("workspace/logs/out.log");
    let err = pod.root().join("workspace/logs/err.log");
    let o = run(pod.step(
        0,
        &[
            "-stdout_path",
            &out.to_string_lossy(),
            "-stderr_path",
            &err.to_string_lossy(),
        ],
        &["sh", "-c", "echo to-out; echo to-err >&2"],
    ));
    assert_eq!(o.code, Some(0), "{}", o.stderr);
    assert_eq!(o.stdout, "to-out\n");
    assert!(o.stderr.contains("to-err\n"));
    assert_eq!(std::fs::read_to_string(&out).unwrap(), "to-out\n");
    assert_eq!(std::fs::read_to_string(&err).unwrap(), "to-err\n");
}

#[test]
fn stdin_is_dev_null() {
    let pod = Pod::new();
    let o = run(pod.step(0, &[], &["sh", "-c", "cat; echo end"]));
    assert_eq!(o.code, Some(0));
    assert_eq!(o.stdout, "end\n");
}

#[test]
fn child_gets_own_process_group() {
    let pod = Pod::new();
    let o = run(pod.step(
        0,
        &[],
        &[
            "sh",
            "-c",
            "ps -o pgid= -p $$ 2>/dev/null || cut -d' ' -f5 /proc/$$/stat; echo $$",
        ],
    ));
    assert_eq!(o.code, Some(0));
    let lines: Vec<&str> = o.stdout.split_whitespace().collect();
    assert_eq!(lines.len(), 2, "{}", o.stdout);
    assert_eq!(lines[0], lines[1], "pgid must equal the child's pid");
}

/// As PID 1 (where the kernel ignores default actions), a termination signal while waiting
/// ends the entrypoint with status 2, like Go's runtime. Needs `unshare -p` (root).
#[test]
fn sigterm_while_waiting_as_pid1_exits_2() {
    let pod = Pod::new();
    let inner = pod.step(1, &["-wait_file", &pod.t("run/0/out")], &["true"]);
    let mut c = std::process::Command::new("unshare");
    c.args(["--pid", "--fork", "--kill-child", "--"])
        .arg(inner.get_program())
        .args(inner.get_args());
    for (k, v) in inner.get_envs() {
        match v {
            Some(v) => c.env(k, v),
            None => c.env_remove(k),
        };
    }
    c.current_dir(pod.root());
    let child = match c
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
    {
        Ok(ch) => ch,
        Err(e) => {
            testsupport::skip(format!(
                "sigterm_while_waiting_as_pid1_exits_2: no unshare ({e})"
            ));
            return;
        }
    };
    // The entrypoint is unshare's only child.
    let children = format!("/proc/{}/task/{}/children", child.id(), child.id());
    let mut pid = None;
    eventually(LONG, || {
        pid = std::fs::read_to_string(&children).ok().and_then(|s| {
            s.split_whitespace()
                .next()
                .and_then(|p| p.parse::<u32>().ok())
        });
        pid.is_some() && pod.exists("run/1/status/results")
    });
    let Some(pid) = pid else {
        let o = finish(child, LONG);
        testsupport::skip(format!(
            "sigterm_while_waiting_as_pid1_exits_2: unshare -p unavailable ({})",
            o.stderr.trim()
        ));
        return;
    };
    std::thread::sleep(Duration::from_millis(100));
    kill(pid, libc::SIGTERM);
    let o = finish(child, LONG);
    assert_eq!(o.code, Some(2), "{}", o.stderr);
    assert_eq!(pod.post(1), "none");
    assert!(pod.read("termination-1").is_none());
}

/// The post file wakes the successor; the `exitCode` file it may read must already be there.
#[test]
fn exit_code_file_exists_before_the_post_file() {
    for (command, code) in [(&["true"][..], "0"), (&["sh", "-c", "exit 3"][..], "3")] {
        for _ in 0..10 {
            let pod = Pod::new();
            let exit_code = pod.t("run/0/status/exitCode");
            // A real successor, woken by the post file, reading the predecessor's exitCode.
            let successor = spawn(pod.step(
                1,
                &["-wait_file", &pod.t("run/0/out")],
                &["cat", &exit_code],
            ));
            let post = std::path::PathBuf::from(pod.t("run/0/out"));
            let exit_code_path = std::path::PathBuf::from(&exit_code);
            let step = spawn(pod.step(0, &["-on_error", "continue"], command));
            // The fastest possible successor: the first moment the post file exists.
            let deadline = std::time::Instant::now() + LONG;
            while !post.exists() {
                assert!(std::time::Instant::now() < deadline, "no post file");
                std::hint::spin_loop();
            }
            assert!(exit_code_path.exists(), "post file before exitCode");
            let o = finish(step, LONG);
            assert_eq!(o.code, Some(0), "{}", o.stderr);
            let o = finish(successor, LONG);
            assert_eq!(o.code, Some(0), "{}", o.stderr);
            assert_eq!(o.stdout, code);
        }
    }
}

/// Makes `path` a FIFO nobody writes to.
fn mkfifo(path: &str) {
    std::fs::create_dir_all(std::path::Path::new(path).parent().unwrap()).unwrap();
    let c = std::ffi::CString::new(path).unwrap();
    // SAFETY: valid C string.
    assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
}

/// Result and step-result files another container controls are read bounded: a symlink to
/// /dev/zero, a sparse 10 GiB file or a FIFO without a writer is one error line naming the
/// file, exit 1 — not an OOM or a hang.
#[test]
fn hostile_result_files_are_refused_unread() {
    type Plant = fn(&str);
    let cases: [(&str, Plant, &str); 3] = [
        (
            "dev_zero",
            |p| {
                std::fs::create_dir_all(std::path::Path::new(p).parent().unwrap()).unwrap();
                std::os::unix::fs::symlink("/dev/zero", p).unwrap();
            },
            "not a regular file (character device)",
        ),
        (
            "sparse",
            |p| {
                std::fs::create_dir_all(std::path::Path::new(p).parent().unwrap()).unwrap();
                std::fs::File::create(p).unwrap().set_len(10 << 30).unwrap();
            },
            "larger than 1572864 bytes",
        ),
        ("fifo", |p| mkfifo(p), "not a regular file (fifo)"),
    ];
    for (name, plant, why) in cases {
        for (flag, rel) in [
            ("-results", format!("results/{name}")),
            ("-step_results", format!("run/0/status/results/{name}")),
        ] {
            let pod = Pod::new();
            let path = pod.t(&rel);
            plant(&path);
            let child = spawn(pod.step(0, &[flag, name], &["true"]));
            let o = finish(child, LONG);
            assert_eq!(o.code, Some(1), "{name} {flag}: {}", o.stderr);
            let line = format!("Error executing command: read {path}: {why}\n");
            assert!(o.stderr.ends_with(&line), "{name} {flag}: {}", o.stderr);
            assert_eq!(pod.post(0), "out");
            assert_eq!(pod.termination(0), vec![started_at()]);
        }
    }
}

/// The entrypoint's stdout is a pipe nobody reads (a stalled log collector): the step writes
/// 1 MiB (more than the pipe holds) and then sleeps. The timeout, a forwarded SIGTERM and the
/// cancel file must still act on time, with or without the tee to `-stdout_path`.
#[test]
fn blocked_console_does_not_delay_the_lifecycle() {
    use std::process::Stdio;
    #[derive(Clone, Copy, Debug)]
    enum End {
        Timeout,
        Sigterm,
        Cancel,
    }
    for end in [End::Timeout, End::Sigterm, End::Cancel] {
        for tee in [true, false] {
            let pod = Pod::new();
            let group_file = pod.t("group");
            let wrote = pod.t("wrote");
            let script = format!(
                "echo $$ > {group_file}; head -c 1048576 /dev/zero; touch {wrote}; exec sleep 30"
            );
            let mut flags = vec![];
            let log = pod.t("stdout.log");
            if tee {
                flags.extend(["-stdout_path", log.as_str()]);
            }
            if matches!(end, End::Timeout) {
                flags.extend(["-timeout", "1s"]);
            }
            let mut c = pod.step(0, &flags, &["sh", "-c", &script]);
            c.stdin(Stdio::null())
                .stdout(Stdio::piped())
                .stderr(Stdio::null());
            let mut child = c.spawn().unwrap();
            // Held open, never read: the entrypoint's console writes block once it is full.
            let _console = child.stdout.take();
            assert!(eventually(LONG, || pod.exists("group")));
            std::thread::sleep(Duration::from_millis(300));
            match end {
                End::Timeout => {}
                End::Sigterm => kill(child.id(), libc::SIGTERM),
                End::Cancel => pod.write_atomic("downward/cancel", "CANCEL"),
            }
            let start = std::time::Instant::now();
            let mut status = None;
            while start.elapsed() < Duration::from_secs(15) {
                if let Some(s) = child.try_wait().unwrap() {
                    status = Some(s);
                    break;
                }
                std::thread::sleep(Duration::from_millis(20));
            }
            // Whatever happened, nothing of this test outlives it.
            let group: i32 = pod.read("group").unwrap().trim().parse().unwrap();
            kill_group(group);
            if status.is_none() {
                let _ = child.kill();
            }
            child.wait().unwrap();
            let status = status
                .unwrap_or_else(|| panic!("{end:?} tee={tee}: entrypoint blocked on its console"));
            let (code, reason) = match end {
                End::Timeout => (Some(1), Some("TimeoutExceeded")),
                End::Sigterm => (Some(255), None),
                End::Cancel => (Some(9), Some("Cancelled")),
            };
            assert_eq!(status.code(), code, "{end:?} tee={tee}");
            assert_eq!(pod.post(0), "out.err", "{end:?} tee={tee}");
            let entries = pod.termination(0);
            let got = entries
                .iter()
                .find(|(k, ..)| k == "Reason")
                .map(|(_, v, _)| v.as_str());
            assert_eq!(got, reason, "{end:?} tee={tee}");
        }
    }
}

fn kill_group(pgid: i32) {
    // SAFETY: kill has no memory arguments.
    unsafe { libc::kill(-pgid, libc::SIGKILL) };
}
