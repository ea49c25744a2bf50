//! Differential test against upstream: Tekton v0.37.2's `cmd/imagedigestexporter`, built from
//! the Go module cache (`go mod download` of github.com/tektoncd/pipeline@v0.37.2, then a
//! `go.work` naming that directory, so the module's own go.sum pins every dependency).
//!
//! Each case lays out the same files twice under the same path, runs upstream's binary on one
//! copy and stepkit's on the other, and compares the exit code, stdout, the stderr lines
//! (timestamps and Go's stack trace masked) and the termination file byte for byte. The few
//! documented deviations are asserted as such. Without Go, or without the module, it calls
//! `testsupport::skip` (a failure under `STEPKIT_REQUIRE_ALL=1`).

use std::ffi::OsString;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::Command;

const OURS: &str = env!("CARGO_BIN_EXE_imagedigestexporter");
const MODULE: &str = "github.com/tektoncd/pipeline@v0.37.2";
const H1: &str = "1111111111111111111111111111111111111111111111111111111111111111";
const H2: &str = "2222222222222222222222222222222222222222222222222222222222222222";

/// Upstream's binary, or `None` after [`testsupport::skip`]. (The module asks for go 1.17; a
/// workspace needs 1.18.)
fn upstream() -> Option<PathBuf> {
    testsupport::upstream_go_binary(
        MODULE,
        "cmd/imagedigestexporter",
        "1.18",
        &Path::new(env!("CARGO_TARGET_TMPDIR")).join("imagedigestexporter-go"),
    )
}

/// What one run left behind.
#[derive(Debug, PartialEq)]
struct Outcome {
    code: Option<i32>,
    stdout: String,
    /// stderr with timestamps and stack traces masked.
    stderr: Vec<String>,
    /// The termination file, if any.
    message: Option<Vec<u8>>,
}

/// One scenario: files to lay out (relative path, contents; a trailing `/` makes a directory),
/// argv after argv[0] with `$D` standing for the case directory, and `KO_DATA_PATH`.
struct Case {
    name: &'static str,
    files: Vec<(&'static str, String)>,
    args: Vec<String>,
    ko_data: bool,
}

fn case(name: &'static str, files: Vec<(&'static str, String)>, args: &[&str]) -> Case {
    Case {
        name,
        files,
        args: args.iter().map(|s| s.to_string()).collect(),
        ko_data: false,
    }
}

fn run(bin: &Path, root: &Path, c: &Case) -> Outcome {
    let dir = root.join(c.name);
    if dir.exists() {
        std::fs::remove_dir_all(&dir).unwrap();
    }
    std::fs::create_dir_all(&dir).unwrap();
    let d = dir.to_str().unwrap();
    for (path, contents) in &c.files {
        let p = dir.join(path);
        if path.ends_with('/') {
            std::fs::create_dir_all(&p).unwrap();
            continue;
        }
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(&p, contents.replace("$D", d)).unwrap();
    }
    let args: Vec<OsString> = c.args.iter().map(|a| a.replace("$D", d).into()).collect();
    let mut cmd = Command::new(bin);
    cmd.arg0("imagedigestexporter")
        .args(&args)
        .current_dir(&dir)
        .env_clear()
        .env("TZ", "UTC");
    if c.ko_data {
        cmd.env("KO_DATA_PATH", dir.join("kodata"));
    }
    let out = cmd.output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr)
        .lines()
        .map(mask)
        .collect();
    Outcome {
        code: out.status.code(),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr,
        message: std::fs::read(dir.join("termination")).ok(),
    }
}

/// Masks the run-specific parts of a log line: the timestamp and the fatal line's stack.
fn mask(line: &str) -> String {
    let mut s = line.to_string();
    if let Some(at) = s.find("\"timestamp\":\"") {
        let start = at + 13;
        if let Some(len) = s[start..].find('"') {
            s.replace_range(start..start + len, "T");
        }
    }
    if let Some(at) = s.find(",\"stacktrace\":\"") {
        s.replace_range(at.., ",\"stacktrace\":\"S\"}");
    }
    s
}

fn image(name: &str, dir: &str) -> String {
    format!(
        r#"{{"name":"{name}","type":"image","url":"registry.example/{name}:v1","digest":"","OutputImageDir":"{dir}"}}"#
    )
}

fn images(list: &[(&str, &str)]) -> String {
    let items: Vec<String> = list.iter().map(|(n, d)| image(n, d)).collect();
    format!("[{}]", items.join(","))
}

fn index(digests: &[&str]) -> String {
    let manifests: Vec<String> = digests
        .iter()
        .map(|d| {
            format!(
                r#"{{"mediaType":"application/vnd.oci.image.manifest.v1+json","size":1234,"digest":"{d}","platform":{{"architecture":"amd64","os":"linux"}}}}"#
            )
        })
        .collect();
    format!(
        "{{\n  \"schemaVersion\": 2,\n  \"manifests\": [{}]\n}}\n",
        manifests.join(", ")
    )
}

fn cases() -> Vec<Case> {
    let h1 = format!("sha256:{H1}");
    let h2 = format!("sha256:{H2}");
    let t = "-terminationMessagePath";
    let term = "$D/termination";
    let one = images(&[("builtImage", "$D/img")]);
    let with_index = |name, idx: String| case(name, vec![("img/index.json", idx)], &[]);
    let mut list = vec![
        case("no-index", vec![], &[]),
        case("empty-dir", vec![("img/", String::new())], &[]),
        case(
            "index-is-a-dir",
            vec![("img/index.json/", String::new())],
            &[],
        ),
        with_index("one-manifest", index(&[&h1])),
        with_index("two-manifests", index(&[&h1, &h2])),
        with_index(
            "zero-manifests",
            r#"{"schemaVersion":2,"manifests":[]}"#.into(),
        ),
        with_index("no-manifests-key", "{}".into()),
        with_index("null-index", "null".into()),
        with_index(
            "lone-manifest-without-digest",
            r#"{"manifests":[{}]}"#.into(),
        ),
        with_index(
            "folded-keys",
            format!(r#"{{"MANIFESTS":[{{"Digest":"{h1}"}}]}}"#),
        ),
        with_index("malformed-json", r#"{"schemaVersion":2,"#.into()),
        with_index("empty-index", String::new()),
        with_index("syntax-error", "{\"manifests\":[1 2]}".into()),
        with_index("bad-digest", index(&["sha256:abc"])),
        with_index("bad-digest-in-second", index(&[&h1, "sha256:XYZ"])),
        with_index("unsupported-hash", index(&["md5:abc"])),
        with_index("digest-null", r#"{"manifests":[{"digest":null}]}"#.into()),
        with_index(
            "type-error",
            r#"{"manifests":[{"size":"big","digest":"sha256:x"}]}"#.into(),
        ),
        with_index(
            "type-error-only",
            r#"{"manifests":[{"size":"big"}]}"#.into(),
        ),
        with_index("bad-base64", r#"{"manifests":[{"data":"!"}]}"#.into()),
        with_index("index-not-object", "[]".into()),
        with_index(
            "deep-nesting",
            format!("{{\"x\":{}{}}}", "[".repeat(9_999), "]".repeat(9_999)),
        ),
        with_index(
            "too-deep",
            format!("{{\"x\":{}{}}}", "[".repeat(10_000), "]".repeat(10_000)),
        ),
        with_index(
            "repeated-manifests-key",
            format!(r#"{{"manifests":[{{"digest":"{h1}"}}],"manifests":[{{"size":1}}]}}"#),
        ),
    ];
    for c in &mut list {
        c.args = vec!["-images".into(), one.clone(), t.into(), term.into()];
    }
    let several = images(&[
        ("first", "$D/a"),
        ("missing", "$D/none"),
        ("second", "$D/b"),
        ("third", "$D/c"),
    ]);
    list.extend([
        case(
            "several-images",
            vec![
                ("a/index.json", index(&[&h1])),
                ("b/index.json", index(&[&h1, &h2])),
                ("c/index.json", index(&[&h2])),
            ],
            &["-images", &several, t, term],
        ),
        case(
            "existing-entries",
            vec![
                ("img/index.json", index(&[&h1])),
                (
                    "termination",
                    r#"[{"key":"StartedAt","value":"2026-01-01T00:00:00.000Z","type":3},{"key":"commit","value":"abc","resourceName":"repo"}]"#.into(),
                ),
            ],
            &["-images", &one, t, term],
        ),
        case(
            "existing-unparsable-short",
            vec![("img/index.json", index(&[&h1])), ("termination", "x".into())],
            &["-images", &one, t, term],
        ),
        case(
            "existing-empty",
            vec![("termination", String::new())],
            &["-images", &one, t, term],
        ),
        case(
            "over-4096",
            vec![
                ("img/index.json", index(&[&h1])),
                (
                    "termination",
                    format!(r#"[{{"key":"big","value":"{}"}}]"#, "v".repeat(3900)),
                ),
            ],
            &["-images", &one, t, term],
        ),
        limit_case("exactly-4096", 4096),
        limit_case("one-over-4096", 4097),
        case(
            "many-images-over-4096",
            vec![("img/index.json", index(&[&h1]))],
            &[
                "-images",
                &images(&vec![("image-with-a-long-name", "$D/img"); 30]),
                t,
                term,
            ],
        ),
        case("null-images", vec![], &["-images", "null", t, term]),
        case("empty-list", vec![], &["-images", "[]", t, term]),
        case("no-images-flag", vec![], &[t, term]),
        case("images-not-json", vec![], &["-images", "[{", t, term]),
        case("images-object", vec![], &["-images", "{}", t, term]),
        case(
            "images-type-error",
            vec![],
            &["-images", r#"[{"name":"a","url":5}]"#, t, term],
        ),
        case(
            "images-odd-keys",
            vec![("img/index.json", index(&[&h1]))],
            &[
                "-images",
                r#"[{"NAME":"a<&>\u00e9\ud800","Url":"u\"q","outputimagedir":"$D/img","extra":[1]}]"#,
                t,
                term,
            ],
        ),
        case(
            "output-dir-empty-is-cwd",
            vec![("index.json", index(&[&h2]))],
            &["-images", r#"[{"name":"here","url":"u"}]"#, t, term],
        ),
        case(
            "termination-is-a-dir",
            vec![("termination/", String::new())],
            &["-images", "[]", t, term],
        ),
        case(
            "termination-dir-missing",
            vec![],
            &["-images", "[]", t, "$D/nodir/termination"],
        ),
        case("help", vec![], &["-h"]),
        case("unknown-flag", vec![], &["-nope"]),
        case("flag-needs-value", vec![], &["-images"]),
    ]);
    let mut ko = case(
        "kodata-commit",
        vec![("kodata/HEAD", "ref: refs/heads/main\n".into())],
        &["-images", &one, t, term],
    );
    ko.files.push((
        "kodata/packed-refs",
        "# pack-refs with: peeled\n0123456789abcdef0123456789abcdef01234567 refs/heads/main\n"
            .into(),
    ));
    ko.files.push(("img/index.json", "{".into()));
    ko.ko_data = true;
    list.push(ko);
    let mut ko_bad = case(
        "kodata-bad-head",
        vec![("kodata/HEAD", "not-a-commit\n".into())],
        &["-images", "[]", t, term],
    );
    ko_bad.ko_data = true;
    list.push(ko_bad);
    list
}

/// One image appended to an existing entry padded so the final message has `total` bytes.
fn limit_case(name: &'static str, total: usize) -> Case {
    let h1 = format!("sha256:{H1}");
    let appended = format!(
        r#"{{"key":"digest","value":"{h1}","resourceName":"builtImage"}},{{"key":"url","value":"registry.example/builtImage:v1","resourceName":"builtImage"}}"#
    );
    // `[{"key":"big","value":"` + pad + `"},` + appended + `]`
    let pad = total - appended.len() - r#"[{"key":"big","value":""},]"#.len();
    let existing = format!(r#"[{{"key":"big","value":"{}"}}]"#, "v".repeat(pad));
    let one = images(&[("builtImage", "$D/img")]);
    case(
        name,
        vec![("img/index.json", index(&[&h1])), ("termination", existing)],
        &["-images", &one, "-terminationMessagePath", "$D/termination"],
    )
}

#[test]
fn same_outcomes_as_upstream() {
    let Some(go) = upstream() else { return };
    let root = tempfile::tempdir().unwrap();
    let mut compared = 0;
    for c in cases() {
        let theirs = run(&go, root.path(), &c);
        let ours = run(Path::new(OURS), root.path(), &c);
        assert_eq!(ours, theirs, "case {}", c.name);
        // The limit cases must sit on both sides of it.
        match c.name {
            "exactly-4096" => assert_eq!(
                (theirs.code, theirs.message.map(|m| m.len())),
                (Some(0), Some(4096))
            ),
            "one-over-4096" => assert_eq!(theirs.code, Some(1)),
            _ => {}
        }
        compared += 1;
    }
    eprintln!("{compared} cases: same outcome as upstream's binary");
    assert!(compared >= 40, "{compared} cases");
}

/// Where stepkit deliberately differs; each is listed in docs/imagedigestexporter.md.
#[test]
fn documented_deviations() {
    let Some(go) = upstream() else { return };
    let root = tempfile::tempdir().unwrap();
    let t = "-terminationMessagePath";

    // A `null` image resource: upstream panics (nil dereference), stepkit says so in one line;
    // both exit 2 after the earlier images' lines and write nothing.
    let c = case(
        "null-element",
        vec![],
        &["-images", r#"[{"name":"a"},null]"#, t, "$D/termination"],
    );
    let (theirs, ours) = (
        run(&go, root.path(), &c),
        run(Path::new(OURS), root.path(), &c),
    );
    assert_eq!((theirs.code, &theirs.message), (Some(2), &None));
    assert_eq!((ours.code, &ours.message), (Some(2), &None));
    assert!(
        theirs
            .stderr
            .iter()
            .any(|l| l.starts_with("panic: runtime error"))
    );
    assert_eq!(ours.stderr[..4], theirs.stderr[..4]);
    assert_eq!(
        ours.stderr[4..],
        [
            r#"{"severity":"EMERGENCY","timestamp":"T","caller":"imagedigestexporter/main.go:57","message":"Error reading images array: image resource 1 is null","stacktrace":"S"}"#
        ]
    );

    // Unparsable text longer than the new message: upstream overwrites its start and leaves
    // the rest (no O_TRUNC), stepkit writes the message alone.
    let garbage = "not json at all, and longer than []";
    let c = case(
        "longer-garbage",
        vec![("termination", garbage.into())],
        &["-images", "[]", t, "$D/termination"],
    );
    let (theirs, ours) = (
        run(&go, root.path(), &c),
        run(Path::new(OURS), root.path(), &c),
    );
    assert_eq!(
        theirs.message.unwrap(),
        format!("[]{}", &garbage[2..]).as_bytes()
    );
    assert_eq!(ours.message.unwrap(), b"[]");
    assert_eq!((ours.code, ours.stderr), (theirs.code, theirs.stderr));

    // An index.json that is not a regular file (here a FIFO, where upstream blocks forever):
    // stepkit fails the step naming the file.
    let dir = root.path().join("fifo-index");
    std::fs::create_dir_all(dir.join("img")).unwrap();
    let fifo = std::ffi::CString::new(dir.join("img/index.json").to_str().unwrap()).unwrap();
    // SAFETY: mkfifo only reads the NUL-terminated path.
    assert_eq!(unsafe { libc::mkfifo(fifo.as_ptr(), 0o600) }, 0);
    let images = images(&[("img", dir.join("img").to_str().unwrap())]);
    let out = Command::new(OURS)
        .args(["-images", &images, t])
        .arg(dir.join("termination"))
        .env_clear()
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let last = mask(String::from_utf8_lossy(&out.stderr).lines().last().unwrap());
    assert!(
        last.contains(&format!(
            "Unexpected error getting image digest for img: read {}/img/index.json: not a regular file (fifo)",
            dir.display()
        )),
        "{last}"
    );
}

#[test]
fn every_case_has_its_own_directory() {
    let names: std::collections::BTreeSet<_> = cases().iter().map(|c| c.name).collect();
    assert_eq!(names.len(), cases().len());
}
