//! The binary as the controller runs it, against a fake `/tekton` (`STEPKIT_TEKTON_DIR`):
//! stdout lines, stderr, exit codes, the wait and the native-sidecar mode.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_sidecarlogresults");

struct Pod {
    _dir: tempfile::TempDir,
    tekton: PathBuf,
}

impl Pod {
    /// A pod with `steps` run directories and `/tekton/steps/step-s<i>` links to their status.
    fn new(steps: usize) -> Pod {
        let dir = tempfile::tempdir().unwrap();
        let tekton = dir.path().join("tekton");
        for sub in ["results", "steps", "run"] {
            std::fs::create_dir_all(tekton.join(sub)).unwrap();
        }
        for i in 0..steps {
            let status = tekton.join(format!("run/{i}/status"));
            std::fs::create_dir_all(status.join("results")).unwrap();
            std::fs::create_dir_all(status.join("artifacts")).unwrap();
            std::os::unix::fs::symlink(&status, tekton.join(format!("steps/step-s{i}"))).unwrap();
        }
        Pod { _dir: dir, tekton }
    }

    fn put(&self, rel: &str, data: &[u8]) {
        let p = self.tekton.join(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, data).unwrap();
    }

    fn finish(&self, step: usize) {
        self.put(&format!("run/{step}/out"), b"");
    }

    fn command(&self, extra: &[&str]) -> Command {
        let mut c = Command::new(BIN);
        let results = self.tekton.join("results");
        c.env("STEPKIT_TEKTON_DIR", &self.tekton)
            .env("TZ", "UTC")
            .env_remove("SIDECAR_LOG_POLLING_INTERVAL")
            .args(["-results-dir", results.to_str().unwrap()])
            .args(extra);
        c
    }

    fn run(&self, extra: &[&str]) -> Output {
        self.command(extra).output().unwrap()
    }
}

fn text(b: &[u8]) -> &str {
    std::str::from_utf8(b).unwrap()
}

#[test]
fn prints_task_results_step_results_and_artifacts_in_a_fixed_order() {
    let pod = Pod::new(2);
    pod.put("results/digest", b"sha256:abc");
    pod.put("results/note", b"a<b>&\xff\n");
    pod.put("run/1/status/results/image", b"reg/img");
    pod.put("run/0/status/results/x", b"1");
    pod.put(
        "run/1/status/artifacts/provenance.json",
        br#"{ "Outputs": [ {"name":"image","values":[{"URI":"reg/img","digest":{"sha256":"ff"}}],"extra":1} ] }"#,
    );
    pod.finish(0);
    pod.finish(1);
    let out = pod.run(&[
        "-result-names",
        "note,missing,digest",
        "-step-names",
        "step-s0,step-s1",
        "-step-results",
        r#"{"step-s1":["image","none"],"step-s0":["x"]}"#,
        "-kubernetes-sidecar-mode=false",
    ]);
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    assert_eq!(text(&out.stderr), "");
    assert_eq!(
        text(&out.stdout),
        concat!(
            r#"{"name":"note","value":"a\u003cb\u003e\u0026\ufffd\n","type":"task"}"#,
            "\n",
            r#"{"name":"digest","value":"sha256:abc","type":"task"}"#,
            "\n",
            r#"{"name":"step-s0.x","value":"1","type":"step"}"#,
            "\n",
            r#"{"name":"step-s1.image","value":"reg/img","type":"step"}"#,
            "\n",
            r#"{"name":"step-s1","value":"{\"outputs\":[{\"name\":\"image\",\"values\":[{\"digest\":{\"sha256\":\"ff\"},\"uri\":\"reg/img\"}]}]}","type":"stepArtifact"}"#,
            "\n",
        )
    );
}

#[test]
fn the_controllers_argv_with_nothing_to_report() {
    let pod = Pod::new(1);
    pod.finish(0);
    let out = pod.run(&[
        "-result-names",
        "",
        "-step-names",
        "",
        "-step-results",
        "{}",
    ]);
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    assert!(out.stdout.is_empty() && out.stderr.is_empty(), "{out:?}");
}

#[test]
fn bad_input_is_one_line_and_exit_1() {
    let pod = Pod::new(1);
    pod.finish(0);
    std::fs::create_dir(pod.tekton.join("results/dir")).unwrap();
    pod.put("run/0/status/artifacts/provenance.json", b"{\"inputs\":");
    for (args, env, want) in [
        (
            vec!["-result-names", "a"],
            None,
            "invalid -step-results: unexpected end of JSON input",
        ),
        (
            vec!["-step-results", "[1]"],
            None,
            "invalid -step-results: json: cannot unmarshal array",
        ),
        (
            vec!["-step-results", "{}"],
            Some("fast"),
            "SIDECAR_LOG_POLLING_INTERVAL: time: invalid duration \"fast\"",
        ),
        (
            vec!["-step-results", "{}", "-result-names", "dir"],
            None,
            "error reading result dir: read ",
        ),
        (
            vec!["-step-results", "{}", "-step-names", "step-s0"],
            None,
            "invalid artifacts in ",
        ),
    ] {
        let mut c = pod.command(&args);
        if let Some(v) = env {
            c.env("SIDECAR_LOG_POLLING_INTERVAL", v);
        }
        let out = c.output().unwrap();
        assert_eq!(out.status.code(), Some(1), "{args:?} {out:?}");
        assert!(out.stdout.is_empty(), "{args:?} {out:?}");
        let err = text(&out.stderr);
        assert_eq!(err.lines().count(), 1, "{err}");
        assert!(err.contains(want), "{args:?}: {err}");
    }
    // The sidecar-mode error exits too, where upstream's binary hangs forever.
    let out = pod.run(&[
        "-step-results",
        "{}",
        "-result-names",
        "dir",
        "-kubernetes-sidecar-mode",
        "true",
    ]);
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    // Flag errors are Go's: exit 2.
    let out = pod.run(&["-nope"]);
    assert_eq!(out.status.code(), Some(2), "{out:?}");
}

#[test]
fn a_missing_run_directory_is_an_error() {
    let pod = Pod::new(0);
    std::fs::remove_dir(pod.tekton.join("run")).unwrap();
    let out = pod.run(&["-step-results", "{}"]);
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    assert!(
        text(&out.stderr).contains("no such file or directory"),
        "{out:?}"
    );
}

#[test]
fn a_result_over_every_limit_is_cut_and_named() {
    let pod = Pod::new(1);
    pod.finish(0);
    pod.put("results/small", b"ok");
    let big = vec![b'x'; sidecarlogresults::MAX_RESULT_BYTES as usize + 10];
    pod.put("results/big", &big);
    let out = pod.run(&["-step-results", "{}", "-result-names", "small,big"]);
    assert_eq!(out.status.code(), Some(1));
    let stdout = text(&out.stdout);
    assert_eq!(stdout.lines().count(), 1);
    assert!(stdout.starts_with(r#"{"name":"big","value":"xxx"#));
    assert!(stdout.len() > sidecarlogresults::MAX_RESULT_BYTES as usize);
    let err = text(&out.stderr);
    assert!(
        err.contains("result big (") && err.contains("is larger than 1572864 bytes"),
        "{err}"
    );
}

/// Waits until `path` exists (test helper for the child's progress).
fn wait_for(path: &Path) {
    let start = Instant::now();
    while !path.exists() {
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "{path:?} never appeared"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
}

#[test]
fn waits_for_the_last_post_file_and_wakes_on_it() {
    let pod = Pod::new(2);
    pod.finish(0);
    pod.put("results/r", b"v");
    let mut child = pod
        .command(&["-step-results", "{}", "-result-names", "r"])
        .env("SIDECAR_LOG_POLLING_INTERVAL", "1h")
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(300));
    assert!(
        child.try_wait().unwrap().is_none(),
        "exited before step 1's post file"
    );
    let start = Instant::now();
    pod.finish(1);
    let out = child.wait_with_output().unwrap();
    assert!(
        start.elapsed() < Duration::from_secs(2),
        "{:?}",
        start.elapsed()
    );
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(
        text(&out.stdout),
        "{\"name\":\"r\",\"value\":\"v\",\"type\":\"task\"}\n"
    );
}

#[test]
fn an_out_err_ends_the_wait() {
    let pod = Pod::new(3);
    pod.finish(0);
    pod.put("run/1/out.err", b"");
    let out = pod.run(&["-step-results", "{}"]);
    assert_eq!(out.status.code(), Some(0), "{out:?}");
}

#[test]
fn sidecar_mode_holds_an_early_sigterm_until_the_results_are_out() {
    let pod = Pod::new(1);
    pod.put("results/r", b"v");
    let mut child = pod
        .command(&[
            "-step-results",
            "{}",
            "-result-names",
            "r",
            "-kubernetes-sidecar-mode",
            "true",
        ])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(200));
    let pid = nix::unistd::Pid::from_raw(child.id() as i32);
    nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM).unwrap();
    std::thread::sleep(Duration::from_millis(200));
    assert!(
        child.try_wait().unwrap().is_none(),
        "an early SIGTERM ended it"
    );
    pod.finish(0);
    wait_for(&pod.tekton.join("run/0/out"));
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(
        text(&out.stdout),
        "{\"name\":\"r\",\"value\":\"v\",\"type\":\"task\"}\n"
    );
}

#[test]
fn sidecar_mode_stays_up_after_printing_until_sigterm() {
    let pod = Pod::new(1);
    pod.finish(0);
    let mut child = pod
        .command(&["-step-results", "{}", "-kubernetes-sidecar-mode"])
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(300));
    assert!(
        child.try_wait().unwrap().is_none(),
        "native sidecar exited on its own"
    );
    let pid = nix::unistd::Pid::from_raw(child.id() as i32);
    nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGINT).unwrap();
    assert_eq!(child.wait().unwrap().code(), Some(0));
}
