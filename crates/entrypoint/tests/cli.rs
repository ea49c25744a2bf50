//! Command line through the built binary: Go flag semantics, fatal pre-lifecycle errors, the
//! `--` split quirk, and subcommand dispatch.

mod common;
use common::*;
use std::os::unix::fs::PermissionsExt;

#[test]
fn undefined_flag_exits_2_with_usage() {
    let pod = Pod::new();
    let mut c = pod.bare();
    c.args([
        "-dont_send_results_to_termination_path",
        "-entrypoint",
        "true",
    ]);
    let o = run(c);
    assert_eq!(o.code, Some(2));
    assert!(
        o.stderr.starts_with(
            "flag provided but not defined: -dont_send_results_to_termination_path\nUsage of "
        ),
        "{}",
        o.stderr
    );
    assert!(o.stderr.contains("  -wait_file string\n"));
    assert!(o.stderr.contains("  -termination_path string\n"));
}

#[test]
fn help_exits_0() {
    for flag in ["-h", "-help", "--help"] {
        let pod = Pod::new();
        let mut c = pod.bare();
        c.arg(flag);
        let o = run(c);
        assert_eq!(o.code, Some(0), "{flag}");
        assert!(o.stderr.starts_with("Usage of "), "{}", o.stderr);
        for name in [
            "basic-docker",
            "breakpoint_on_failure",
            "compress_termination_message",
            "debug_before_step",
            "docker-cfg",
            "docker-config",
            "basic-git",
            "enable_spire",
            "entrypoint",
            "on_error",
            "post_file",
            "result_from",
            "results",
            "spire_socket_path",
            "ssh-git",
            "stderr_path",
            "stdout_path",
            "step_metadata_dir",
            "step_results",
            "termination_path",
            "timeout",
            "wait_file",
            "wait_file_content",
            "when_expressions",
        ] {
            assert!(
                o.stderr.contains(&format!("  -{name}")),
                "usage lacks -{name}"
            );
        }
        assert!(
            o.stderr
                .contains("(default \"unix:///spiffe-workload-api/spire-agent.sock\")")
        );
        assert!(o.stderr.contains("(default \"termination-message\")"));
    }
}

#[test]
fn bad_values_exit_2() {
    let pod = Pod::new();
    for args in [
        vec!["-timeout", "5"],
        vec!["-wait_file"],
        vec!["-wait_file_content=yes"],
        vec!["-basic-git=only-one-part"],
        vec!["-basic-docker=missing=https://x"],
    ] {
        let mut c = pod.bare();
        c.args(&args);
        let o = run(c);
        assert_eq!(o.code, Some(2), "{args:?}: {}", o.stderr);
        assert!(o.stderr.contains("Usage of "), "{args:?}");
    }
    assert!(!pod.exists("termination"));
}

#[test]
fn value_starting_with_dash_is_taken() {
    let pod = Pod::new();
    pod.write("results/-weird", "v");
    let o = run(pod.step(0, &["-results", "-weird"], &["true"]));
    assert_eq!(o.code, Some(0), "{}", o.stderr);
    assert_eq!(
        pod.termination(0),
        vec![e("-weird", "v", 1), e("StartedAt", "", 3)]
    );
}

#[test]
fn double_dash_flag_forms() {
    let pod = Pod::new();
    let mut c = pod.bare();
    c.args([
        "--post_file",
        &pod.t("run/0/out"),
        "--termination_path=".to_string().as_str(),
    ]);
    // `--termination_path=` (empty) makes the final write fail: fatal, exit 1.
    c.args([
        "-step_metadata_dir",
        &pod.t("run/0/status"),
        "--entrypoint",
        "true",
    ]);
    let o = run(c);
    assert_eq!(o.code, Some(1), "{}", o.stderr);
    assert!(
        o.stderr
            .contains("Error while writing message: open : no such file or directory"),
        "{}",
        o.stderr
    );
    assert_eq!(pod.post(0), "out");
}

#[test]
fn spire_is_fatal() {
    let pod = Pod::new();
    let o = run(pod.step(0, &["-enable_spire"], &["true"]));
    assert_eq!(o.code, Some(1));
    assert!(o.stderr.contains(
        "Error: SPIRE is disabled in this build, but enableSpire was set to true. Please recompile with SPIRE support."
    ));
    assert_eq!(pod.post(0), "none");
    assert!(pod.read("termination-0").is_none());
    // The socket flag alone is accepted.
    let o = run(pod.step(0, &["-spire_socket_path", "unix:///x"], &["true"]));
    assert_eq!(o.code, Some(0), "{}", o.stderr);
}

#[test]
fn invalid_when_json_is_fatal_before_anything_is_written() {
    let pod = Pod::new();
    let o = run(pod.step(0, &["--when_expressions", "{bad"], &["true"]));
    assert_eq!(o.code, Some(1));
    assert_eq!(pod.post(0), "none");
    assert!(pod.read("termination-0").is_none());
    assert!(!pod.exists("run/0/status/results"));
}

#[test]
fn missing_platform_commands_is_fatal() {
    let pod = Pod::new();
    let o = run(pod.step(0, &[], &[]));
    assert_eq!(o.code, Some(1));
    assert!(
        o.stderr.contains("unexpected end of JSON input"),
        "{}",
        o.stderr
    );
    assert_eq!(pod.post(0), "none");
    assert!(pod.read("termination-0").is_none());

    let mut c = pod.step(0, &[], &[]);
    c.env("TEKTON_PLATFORM_COMMANDS", r#"{"windows/amd64":["x"]}"#);
    let o = run(c);
    assert_eq!(o.code, Some(1));
    assert!(
        o.stderr.contains("could not find command for platform"),
        "{}",
        o.stderr
    );
}

#[test]
fn leading_double_dash_discards_positional_args() {
    let pod = Pod::new();
    let mut c = pod.bare();
    c.args(["--", "echo", "ignored"]);
    c.env(
        "TEKTON_PLATFORM_COMMANDS",
        platform_commands(&["echo", "from-platform"]),
    );
    let o = run(c);
    assert_eq!(o.code, Some(0), "{}", o.stderr);
    assert_eq!(o.stdout, "from-platform\n");
}

#[test]
fn command_args_after_double_dash_reach_the_child() {
    let pod = Pod::new();
    let o = run(pod.step(0, &[], &["echo", "a", "--", "-b"]));
    assert_eq!(o.code, Some(0));
    assert_eq!(o.stdout, "a -- -b\n");
}

#[test]
fn subcommand_init() {
    let pod = Pod::new();
    let dst = pod.t("bin/entrypoint");
    // /tekton/bin is an emptyDir in a pod; `cp` does not create directories.
    std::fs::create_dir_all(pod.t("bin")).unwrap();
    let mut c = pod.bare();
    c.args(["init", BIN, &dst, "step-clone", "step-test"]);
    let o = run(c);
    assert_eq!(o.code, Some(0), "{}", o.stderr);
    assert!(
        o.stderr.contains("Entrypoint initialization"),
        "{}",
        o.stderr
    );
    let mode = std::fs::metadata(&dst).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode & !0o311, 0, "mode {mode:o}");
    for (name, i) in [("step-clone", 0), ("0", 0), ("step-test", 1), ("1", 1)] {
        let link = std::fs::read_link(pod.t(&format!("steps/{name}"))).unwrap();
        assert_eq!(link.to_string_lossy(), pod.t(&format!("run/{i}/status")));
    }
    // Idempotent, and no lifecycle side effects.
    let mut c = pod.bare();
    c.args(["step-init", "step-clone"]);
    let o = run(c);
    assert_eq!(o.code, Some(0), "{}", o.stderr);
    assert!(o.stderr.contains("Setup /step directories"));
    assert!(!pod.exists("termination"));
}

#[test]
fn subcommand_after_leading_double_dash() {
    let pod = Pod::new();
    let mut c = pod.bare();
    c.args(["--", "step-init", "a"]);
    let o = run(c);
    assert_eq!(o.code, Some(0), "{}", o.stderr);
    assert!(pod.root().join("tekton/steps/a").symlink_metadata().is_ok());
}

#[test]
fn subcommand_cp_and_errors() {
    let pod = Pod::new();
    pod.write("src", "data");
    let (src, dst) = (pod.t("src"), pod.t("dst"));
    let mut c = pod.bare();
    c.args(["cp", &src, &dst]);
    let o = run(c);
    assert_eq!(o.code, Some(0), "{}", o.stderr);
    assert!(o.stderr.contains(&format!("Copied {src} to {dst}")));
    let missing = pod.t("missing");
    let mut c = pod.bare();
    c.args(["cp", &missing, &dst]);
    let o = run(c);
    assert_eq!(o.code, Some(1));
    assert!(
        o.stderr.contains(&format!(
            "cp error: open {missing}: no such file or directory"
        )),
        "{}",
        o.stderr
    );
}

#[test]
fn subcommand_decode_script() {
    let pod = Pod::new();
    pod.write(
        "scripts/s",
        "IyEvdXNyL2Jpbi9lbnYgc2gKZWNobyAiSGVsbG8gV29ybGQhIgo=\n",
    );
    let p = pod.t("scripts/s");
    std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o600)).unwrap();
    let mut c = pod.bare();
    c.args(["decode-script", &p]);
    let o = run(c);
    assert_eq!(o.code, Some(0), "{}", o.stderr);
    assert!(o.stderr.contains(&format!("Decoded script {p}")));
    assert_eq!(
        std::fs::read_to_string(&p).unwrap(),
        "#!/usr/bin/env sh\necho \"Hello World!\"\n"
    );
    assert_eq!(
        std::fs::metadata(&p).unwrap().permissions().mode() & 0o777,
        0o600
    );
}

#[test]
fn non_matching_positional_args_fall_through() {
    let pod = Pod::new();
    // `cp` with one argument is not a subcommand: normal mode, which then needs a command.
    let mut c = pod.bare();
    c.args(["cp", "x"]);
    let o = run(c);
    assert_eq!(o.code, Some(1));
    assert!(
        o.stderr.contains("unexpected end of JSON input"),
        "{}",
        o.stderr
    );
}

#[test]
fn hostile_argv_exits_2_with_go_message() {
    let pod = Pod::new();
    testsupport::argv::assert_flag_errors_exit_2(|| pod.bare());
    testsupport::argv::assert_flag_error_with_broken_stderr_exits_2(pod.bare());
    // The same after the `--` split, with the step command beyond it.
    testsupport::argv::assert_flag_errors_exit_2(|| {
        let mut c = pod.bare();
        c.args(["-entrypoint", "true"]);
        c
    });
    let mut c = pod.bare();
    c.args(["-é", "--", "true"]);
    let o = run(c);
    assert_eq!(o.code, Some(2));
    assert!(
        o.stderr
            .starts_with("flag provided but not defined: -é\nUsage of ")
    );
}
