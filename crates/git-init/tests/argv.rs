//! git-init answers any command line like Go's `flag` package: the message, usage, exit 2.

use std::process::Command;

#[test]
fn hostile_argv_exits_2_with_go_message() {
    let dir = tempfile::tempdir().unwrap();
    testsupport::argv::assert_flag_errors_exit_2(|| {
        let mut c = Command::new(env!("CARGO_BIN_EXE_git-init"));
        c.env("STEPKIT_TEKTON_DIR", dir.path().join("tekton"))
            .env("HOME", dir.path().join("home"))
            .current_dir(dir.path());
        c
    });
    assert_eq!(
        std::fs::read_dir(dir.path()).unwrap().count(),
        0,
        "nothing written"
    );
}
