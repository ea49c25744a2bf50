//! The exporter's rules, end to end on temporary layouts (the binary's own argv and stderr are
//! covered by tests/binary.rs and, against upstream's Go binary, tests/go_differential.rs).

use super::*;

const H1: &str = "1111111111111111111111111111111111111111111111111111111111111111";
const H2: &str = "2222222222222222222222222222222222222222222222222222222222222222";

struct Case {
    dir: tempfile::TempDir,
}

impl Case {
    fn new() -> Case {
        Case {
            dir: tempfile::tempdir().unwrap(),
        }
    }

    /// A layout directory `name` whose index.json is `index`.
    fn layout(&self, name: &str, index: &str) -> String {
        let d = self.dir.path().join(name);
        std::fs::create_dir_all(&d).unwrap();
        std::fs::write(d.join("index.json"), index).unwrap();
        d.to_str().unwrap().to_string()
    }

    fn term(&self) -> String {
        self.dir
            .path()
            .join("termination")
            .to_str()
            .unwrap()
            .to_string()
    }

    fn message(&self) -> Option<String> {
        std::fs::read_to_string(self.term()).ok()
    }

    /// Runs with `images` (a JSON list of (name, url, dir)); returns the exit code and the
    /// messages logged after the logger's start-up lines.
    fn run(&self, images: &str) -> (i32, Vec<String>) {
        let log = Logger::capturing(None);
        let opts = Options {
            images: images.to_string(),
            termination_message_path: self.term(),
        };
        let code = export(&opts, &log);
        let lines = log.lines()[3..]
            .iter()
            .map(|l| {
                let start = l.find("\"message\":\"").unwrap() + 11;
                let end = l.rfind("\"}").unwrap();
                let end = l[..end].find("\",\"stacktrace\"").unwrap_or(end);
                let severity = &l[13..13 + l[13..].find('"').unwrap()];
                format!("{severity} {}", &l[start..end])
            })
            .collect();
        (code, lines)
    }
}

fn image(name: &str, url: &str, dir: &str) -> String {
    format!(
        r#"{{"name":"{name}","type":"image","url":"{url}","digest":"","OutputImageDir":"{dir}"}}"#
    )
}

fn one_manifest(hex: &str) -> String {
    format!(
        r#"{{"schemaVersion":2,"manifests":[{{"mediaType":"application/vnd.oci.image.manifest.v1+json","size":7,"digest":"sha256:{hex}"}}]}}"#
    )
}

fn sha256sum(s: &str) -> String {
    hash::Hash::sha256_of(s.as_bytes()).to_string()
}

#[test]
fn no_index_json_writes_an_empty_list() {
    let c = Case::new();
    let missing = c.dir.path().join("builtImage");
    let (code, lines) = c.run(&format!(
        "[{}]",
        image("builtImage", "u", missing.to_str().unwrap())
    ));
    assert_eq!(code, 0);
    assert_eq!(lines, ["INFO No index.json found for: builtImage"]);
    assert_eq!(c.message().unwrap(), "[]");
}

#[test]
fn one_manifest_reports_its_digest_and_the_url() {
    let c = Case::new();
    let dir = c.layout("img", &one_manifest(H1));
    let (code, lines) = c.run(&format!("[{}]", image("builtImage", "harbor/x:v1", &dir)));
    assert_eq!((code, lines.len()), (0, 0));
    assert_eq!(
        c.message().unwrap(),
        format!(
            r#"[{{"key":"digest","value":"sha256:{H1}","resourceName":"builtImage"}},{{"key":"url","value":"harbor/x:v1","resourceName":"builtImage"}}]"#
        )
    );
}

#[test]
fn two_or_zero_manifests_report_the_index_digest() {
    let c = Case::new();
    let two = format!(
        r#"{{"schemaVersion":2,"manifests":[{{"digest":"sha256:{H1}"}},{{"digest":"sha256:{H2}"}}]}}"#
    );
    let zero = r#"{"schemaVersion":2,"manifests":[]}"#;
    let (a, b) = (c.layout("a", &two), c.layout("b", zero));
    let (code, _) = c.run(&format!(
        "[{},{}]",
        image("a", "ua", &a),
        image("b", "ub", &b)
    ));
    assert_eq!(code, 0);
    assert_eq!(
        c.message().unwrap(),
        format!(
            r#"[{{"key":"digest","value":"{}","resourceName":"a"}},{{"key":"url","value":"ua","resourceName":"a"}},{{"key":"digest","value":"{}","resourceName":"b"}},{{"key":"url","value":"ub","resourceName":"b"}}]"#,
            sha256sum(&two),
            sha256sum(zero)
        )
    );
}

#[test]
fn several_images_in_order_with_skips() {
    let c = Case::new();
    let first = c.layout("first", &one_manifest(H1));
    let second = c.layout("second", &one_manifest(H2));
    let images = format!(
        "[{},{},{}]",
        image("first", "u1", &first),
        image("gone", "u2", "/nonexistent/stepkit"),
        image("second", "u3", &second)
    );
    let (code, lines) = c.run(&images);
    assert_eq!(code, 0);
    assert_eq!(lines, ["INFO No index.json found for: gone"]);
    assert_eq!(
        c.message().unwrap(),
        format!(
            r#"[{{"key":"digest","value":"sha256:{H1}","resourceName":"first"}},{{"key":"url","value":"u1","resourceName":"first"}},{{"key":"digest","value":"sha256:{H2}","resourceName":"second"}},{{"key":"url","value":"u3","resourceName":"second"}}]"#
        )
    );
}

#[test]
fn malformed_index_fails_and_writes_nothing() {
    for (index, why) in [
        (r#"{"schemaVersion":2,"#, "unexpected end of JSON input"),
        (
            r#"{"manifests":[{"digest":"sha256:abc"}]}"#,
            "wrong number of hex digits for sha256: abc",
        ),
        (
            r#"{"manifests":{}}"#,
            "json: cannot unmarshal object into Go struct field IndexManifest.manifests of type []v1.Descriptor",
        ),
    ] {
        let c = Case::new();
        let good = c.layout("good", &one_manifest(H1));
        let bad = c.layout("bad", index);
        let (code, lines) = c.run(&format!(
            "[{},{}]",
            image("good", "u", &good),
            image("bad", "u", &bad)
        ));
        assert_eq!(code, 1, "{index}");
        assert_eq!(
            lines,
            [format!(
                "EMERGENCY Unexpected error getting image digest for bad: {why}"
            )]
        );
        assert_eq!(c.message(), None, "{index}");
    }
}

#[test]
fn existing_entries_are_kept_in_front() {
    let c = Case::new();
    std::fs::write(c.term(), r#"[{"key":"StartedAt","value":"t","type":3}]"#).unwrap();
    let dir = c.layout("img", &one_manifest(H1));
    assert_eq!(c.run(&format!("[{}]", image("i", "u", &dir))).0, 0);
    assert_eq!(
        c.message().unwrap(),
        format!(
            r#"[{{"key":"StartedAt","value":"t","type":3}},{{"key":"digest","value":"sha256:{H1}","resourceName":"i"}},{{"key":"url","value":"u","resourceName":"i"}}]"#
        )
    );
}

#[test]
fn over_4096_bytes_fails_and_keeps_the_old_message() {
    let c = Case::new();
    let old = format!(r#"[{{"key":"a","value":"{}"}}]"#, "x".repeat(3900));
    std::fs::write(c.term(), &old).unwrap();
    let dir = c.layout("img", &one_manifest(H1));
    let (code, lines) = c.run(&format!("[{}]", image("i", &"u".repeat(100), &dir)));
    assert_eq!(code, 1);
    assert_eq!(
        lines,
        [format!(
            "EMERGENCY Unexpected error writing message {} to {}",
            c.term(),
            termination::TOO_LARGE_MESSAGE
        )]
    );
    assert_eq!(c.message().unwrap(), old);
}

#[test]
fn bad_images_flag_fails_before_anything() {
    let c = Case::new();
    for (images, why) in [
        ("", "unexpected end of JSON input"),
        (
            "{}",
            "json: cannot unmarshal object into Go value of type []*image.Resource",
        ),
        (
            "[x]",
            "invalid character 'x' looking for beginning of value",
        ),
    ] {
        let (code, lines) = c.run(images);
        assert_eq!(code, 1);
        assert_eq!(
            lines,
            [format!("EMERGENCY Error reading images array: {why}")]
        );
    }
    assert_eq!(c.message(), None);
    let (code, _) = c.run("null");
    assert_eq!((code, c.message().unwrap().as_str()), (0, "[]"));
}

#[test]
fn null_image_resource_stops_with_exit_2() {
    let c = Case::new();
    let (code, lines) = c.run(r#"[{"name":"a"},null]"#);
    assert_eq!(code, 2);
    assert_eq!(
        lines,
        [
            "INFO No index.json found for: a",
            "EMERGENCY Error reading images array: image resource 1 is null"
        ]
    );
    assert_eq!(c.message(), None);
}

#[test]
fn unwritable_termination_path_is_named() {
    let c = Case::new();
    let opts = Options {
        images: "[]".to_string(),
        termination_message_path: c.dir.path().to_str().unwrap().to_string(),
    };
    let log = Logger::capturing(None);
    assert_eq!(export(&opts, &log), 1);
    let last = log.lines().pop().unwrap();
    let d = c.dir.path().display();
    assert!(
        last.contains(&format!(
            r#""message":"Unexpected error writing message {d} to read {d}: is a directory""#
        )),
        "{last}"
    );
}

#[test]
fn flags_follow_go() {
    let args = |a: &[&str]| a.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    let opts = parse_flags(
        "p",
        &args(&["-images", "[]", "--terminationMessagePath=/t"]),
        "/d",
    )
    .unwrap();
    assert_eq!(opts.images, "[]");
    assert_eq!(opts.termination_message_path, "/t");
    let opts = parse_flags("p", &args(&[]), "/tekton/termination").unwrap();
    assert_eq!(opts.termination_message_path, "/tekton/termination");
    let (err, usage) = parse_flags("p", &args(&["-x"]), "/tekton/termination").unwrap_err();
    assert_eq!(
        err,
        goflag::FlagError::Invalid("flag provided but not defined: -x".into())
    );
    assert_eq!(
        usage,
        "Usage of p:\n  -images string\n    \tList of images resources built by task in json format\n  -terminationMessagePath string\n    \tLocation of file containing termination message (default \"/tekton/termination\")\n"
    );
}
