//! Differential test against upstream's v1.15.0 `cmd/sidecarlogresults`, built from the Go
//! module cache. Upstream's paths under `/tekton` are fixed, so each case runs in a private
//! mount namespace (`unshare -m`, root) with a tmpfs on `/tekton`, lays out the same pod files
//! and runs one binary: the exit code and the set of stdout lines must match (upstream's order
//! varies run to run; stepkit's is fixed). Skips without Go, the module or root.

use std::path::{Path, PathBuf};
use std::process::Command;

const OURS: &str = env!("CARGO_BIN_EXE_sidecarlogresults");
const MODULE: &str = "github.com/tektoncd/pipeline@v1.15.0";

fn upstream() -> Option<PathBuf> {
    testsupport::upstream_go_binary(
        MODULE,
        "cmd/sidecarlogresults",
        "1.26.4",
        &Path::new(env!("CARGO_TARGET_TMPDIR")).join("sidecarlogresults-go"),
    )
}

/// Lays out the pod (a shell `setup` script run in the namespace), runs `bin` with `args`;
/// returns the exit code and the sorted stdout lines.
fn run(bin: &Path, setup: &str, args: &[&str]) -> (Option<i32>, Vec<String>) {
    let script = format!(
        "set -e\ncreated=\nif [ ! -d /tekton ]; then mkdir /tekton; created=1; fi\n\
         mount -t tmpfs tmpfs /tekton\n\
         mkdir -p /tekton/results /tekton/steps\n\
         for i in 0 1; do mkdir -p /tekton/run/$i/status/results /tekton/run/$i/status/artifacts; done\n\
         ln -s /tekton/run/0/status /tekton/steps/step-a; ln -s /tekton/run/1/status /tekton/steps/step-b\n\
         {setup}\n\
         set +e\n\"$@\" > \"$OUT\" 2>/dev/null; rc=$?\n\
         umount /tekton; [ -z \"$created\" ] || rmdir /tekton\nexit $rc\n"
    );
    let dir = tempfile::tempdir().unwrap();
    let out_file = dir.path().join("out");
    let status = Command::new("unshare")
        .args(["-m", "--propagation", "private", "sh", "-c", &script, "sh"])
        .arg(bin)
        .args(args)
        .env("OUT", &out_file)
        .env("SIDECAR_LOG_POLLING_INTERVAL", "10ms")
        .status()
        .expect("run unshare");
    let stdout = std::fs::read_to_string(&out_file).unwrap_or_default();
    let mut lines: Vec<String> = stdout.lines().map(str::to_string).collect();
    lines.sort();
    (status.code(), lines)
}

#[test]
fn same_lines_and_exit_codes_as_upstream() {
    if !testsupport::need_root("mount a tmpfs on /tekton in a private mount namespace") {
        return;
    }
    let Some(go) = upstream() else { return };
    let done = "touch /tekton/run/0/out /tekton/run/1/out";
    let results = r#"printf 'sha256:abc' > /tekton/results/digest
printf 'a<b>&\377\n\001"\\' > /tekton/results/odd
printf v0 > /tekton/run/0/status/results/x
printf v1 > /tekton/run/1/status/results/y"#;
    let provenance = r#"cat > /tekton/run/1/status/artifacts/provenance.json <<'J'
{ "Outputs": [ {"name":"image","values":[{"URI":"reg/img","digest":{"sha256":"ff","md5":"aa"}}],"extra":1,"buildOutput":true} ],
  "inputs":[{"name":"a"},{"name":"b"}],"inputs":[{}],"inputs":[{},{"values":null}] }
J"#;
    let full = [
        "-results-dir",
        "/tekton/results",
        "-result-names",
        "digest,odd,missing",
        "-step-names",
        "step-a,step-b",
        "-step-results",
        r#"{"step-b":["y","none"],"step-a":["x"]}"#,
    ];
    let cases: Vec<(&str, String, Vec<&str>)> = vec![
        (
            "everything",
            format!("{results}\n{provenance}\n{done}"),
            full.to_vec(),
        ),
        (
            "nothing to report",
            done.to_string(),
            vec![
                "-result-names",
                "",
                "-step-names",
                "",
                "-step-results",
                "{}",
            ],
        ),
        (
            "step-results null",
            format!("{results}\n{done}"),
            vec!["-result-names", "digest", "-step-results", "null"],
        ),
        (
            "step 0 failed",
            format!("{results}\ntouch /tekton/run/0/out.err"),
            full.to_vec(),
        ),
        (
            "no -step-results",
            done.to_string(),
            vec!["-result-names", "digest"],
        ),
        (
            "bad provenance",
            format!(
                "{done}\nprintf '{{\"inputs\":1}}' > /tekton/run/0/status/artifacts/provenance.json"
            ),
            vec!["-step-names", "step-a", "-step-results", "{}"],
        ),
    ];
    for (name, setup, args) in cases {
        let theirs = run(&go, &setup, &args);
        let ours = run(Path::new(OURS), &setup, &args);
        assert_eq!(ours, theirs, "case {name}");
    }
}
