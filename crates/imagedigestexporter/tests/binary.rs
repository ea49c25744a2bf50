//! The binary as a step runs it: argv, stderr lines, exit codes and the termination file
//! (needs no Go; tests/go_differential.rs compares the same with upstream's binary).

use std::path::Path;
use std::process::Command;

const BIN: &str = env!("CARGO_BIN_EXE_imagedigestexporter");
const H1: &str = "1111111111111111111111111111111111111111111111111111111111111111";

fn command(tekton: &Path) -> Command {
    let mut c = Command::new(BIN);
    c.env_remove("KO_DATA_PATH")
        .env("STEPKIT_TEKTON_DIR", tekton)
        .env("TZ", "UTC");
    c
}

#[test]
fn a_step_run_writes_the_digest_to_the_default_termination_path() {
    let dir = tempfile::tempdir().unwrap();
    let tekton = dir.path().join("tekton");
    std::fs::create_dir(&tekton).unwrap();
    let image = dir.path().join("output/builtImage");
    std::fs::create_dir_all(&image).unwrap();
    std::fs::write(
        image.join("index.json"),
        format!(r#"{{"schemaVersion":2,"manifests":[{{"digest":"sha256:{H1}"}}]}}"#),
    )
    .unwrap();
    let images = format!(
        r#"[{{"name":"builtImage","type":"image","url":"harbor.k8s.local/course/tekton-demo:v0.1.0","digest":"","OutputImageDir":"{}"}},{{"name":"other","OutputImageDir":"{}"}}]"#,
        image.display(),
        dir.path().join("none").display()
    );
    let out = command(&tekton)
        .args(["-images", &images])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    assert!(out.stdout.is_empty());
    let stderr = String::from_utf8(out.stderr).unwrap();
    let lines: Vec<&str> = stderr.lines().collect();
    assert_eq!(lines.len(), 4, "{stderr}");
    for line in &lines {
        assert!(
            line.starts_with(r#"{"severity":"INFO","timestamp":"20"#),
            "{line}"
        );
        let start = line.find(r#""timestamp":""#).unwrap() + 13;
        let ts = &line[start..start + line[start..].find('"').unwrap()];
        assert!(
            ts.ends_with('Z') && ts.len() <= 30 && ts.as_bytes()[10] == b'T',
            "{ts}"
        );
    }
    assert!(lines[2].ends_with(
        r#""caller":"logging/config.go:79","message":"Fetch GitHub commit ID from kodata failed","error":"\"KO_DATA_PATH\" does not exist or is empty"}"#
    ));
    assert!(lines[3].ends_with(
        r#""caller":"imagedigestexporter/main.go:59","message":"No index.json found for: other"}"#
    ));
    assert_eq!(
        std::fs::read_to_string(tekton.join("termination")).unwrap(),
        format!(
            r#"[{{"key":"digest","value":"sha256:{H1}","resourceName":"builtImage"}},{{"key":"url","value":"harbor.k8s.local/course/tekton-demo:v0.1.0","resourceName":"builtImage"}}]"#
        )
    );
}

#[test]
fn a_malformed_index_exits_1_with_one_fatal_line() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("index.json"), "{").unwrap();
    let term = dir.path().join("term");
    let images = format!(
        r#"[{{"name":"img","OutputImageDir":"{}"}}]"#,
        dir.path().display()
    );
    let out = command(dir.path())
        .args(["-images", &images, "-terminationMessagePath"])
        .arg(&term)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8(out.stderr).unwrap();
    let last = stderr.lines().last().unwrap();
    assert!(last.starts_with(r#"{"severity":"EMERGENCY","#), "{last}");
    assert!(
        last.ends_with(r#""caller":"imagedigestexporter/main.go:64","message":"Unexpected error getting image digest for img: unexpected end of JSON input","stacktrace":"stepkit imagedigestexporter (no Go stack trace)"}"#),
        "{last}"
    );
    assert!(!term.exists());
}

#[test]
fn help_and_flag_errors() {
    let dir = tempfile::tempdir().unwrap();
    let out = command(dir.path()).arg("-h").output().unwrap();
    assert_eq!(out.status.code(), Some(0));
    let usage = String::from_utf8(out.stderr).unwrap();
    assert!(
        usage.starts_with(&format!("Usage of {BIN}:\n  -images string\n")),
        "{usage}"
    );
    testsupport::argv::assert_flag_errors_exit_2(|| command(dir.path()));
    testsupport::argv::assert_flag_error_with_broken_stderr_exits_2(command(dir.path()));
}
