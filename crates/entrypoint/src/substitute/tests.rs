//! Unit tests mirroring upstream's `entrypointer_test.go` substitution cases, plus the regex
//! and JSON edge cases the hand-written matchers must reproduce.

use super::*;
use std::fs;
use std::os::unix::fs::PermissionsExt;

const PROVENANCE: &str = r#"{"inputs":[{"name":"inputs","values":[{"digest":{"sha256":"cfc7749b96f63bd31c3c42b5c471bf756814053e847c10f3eb003417bc523d30"},"uri":"pkg:example.github.com/inputs"}]}],"outputs":[{"name":"image","values":[{"digest":{"sha256":"64d0b157fdf2d7f6548836dd82085fd8401c9481a9f59e554f1b337f134074b0"},"uri":"docker:example.registry.com/outputs"}]}]}"#;
const IMAGE_VALUES: &str = r#"[{"digest":{"sha256":"64d0b157fdf2d7f6548836dd82085fd8401c9481a9f59e554f1b337f134074b0"},"uri":"docker:example.registry.com/outputs"}]"#;
const MULTI_PROVENANCE: &str = r#"{"inputs":[{"name":"inputs","values":[{"digest":{"sha256":"cfc7749b96f63bd31c3c42b5c471bf756814053e847c10f3eb003417bc523d30"},"uri":"pkg:example.github.com/inputs"}]}],"outputs":[{"name":"image","values":[{"digest":{"sha256":"64d0b157fdf2d7f6548836dd82085fd8401c9481a9f59e554f1b337f134074b0"},"uri":"docker:example.registry.com/outputs"}]},{"name":"output2","values":[{"digest":{"sha256":"22222157fdf2d7f6548836dd82085fd8401c9481a9f59e554f1b337f13402222"},"uri":"docker2:example.registry.com/outputs"}]}]}"#;

struct Pod {
    _dir: tempfile::TempDir,
    layout: Layout,
}

impl Pod {
    fn new() -> Pod {
        let dir = tempfile::tempdir().unwrap();
        let layout = Layout::new(dir.path().join("tekton"), dir.path().join("ws"));
        fs::create_dir_all(layout.scripts_dir()).unwrap();
        Pod { _dir: dir, layout }
    }

    /// A pod with step `foo`'s result `res` holding `value`.
    fn with_result(step: &str, name: &str, value: &str) -> Pod {
        let pod = Pod::new();
        pod.write_result(step, name, value);
        pod
    }

    fn write_result(&self, step: &str, name: &str, value: &str) {
        let dir = self.layout.step_dir(step).join("results");
        fs::create_dir_all(&dir).unwrap();
        fs::write(dir.join(name), value).unwrap();
    }

    fn write_provenance(&self, step: &str, content: &str) -> String {
        let path = step_artifacts_path(&self.layout, &format!("step-{step}"));
        fs::create_dir_all(Path::new(&path).parent().unwrap()).unwrap();
        fs::write(&path, content).unwrap();
        path
    }

    /// Makes `step`'s provenance.json unreadable even for root: a directory in its place.
    fn break_provenance(&self, step: &str) {
        let path = step_artifacts_path(&self.layout, &format!("step-{step}"));
        fs::create_dir_all(path).unwrap();
    }

    fn write_script(&self, name: &str, content: &str) -> String {
        let path = self.layout.scripts_dir().join(name);
        fs::write(&path, content).unwrap();
        path.to_string_lossy().into_owned()
    }
}

use std::path::Path;

fn strings(items: &[&str]) -> Vec<String> {
    items.iter().map(|s| s.to_string()).collect()
}

// ----- pattern matching ---------------------------------------------------------------------

#[test]
fn step_result_pattern_is_lazy_and_stops_at_newlines() {
    assert_eq!(
        step_result_refs("a $(steps.s.results.r) b $(steps.t.results.u[*])"),
        ["$(steps.s.results.r)", "$(steps.t.results.u[*])"]
    );
    // The first `)` after `.results.` ends the match.
    assert_eq!(
        step_result_refs("$(steps.s.results.r.k)x)"),
        ["$(steps.s.results.r.k)"]
    );
    // A leftmost start swallows a nested-looking one.
    assert_eq!(
        step_result_refs("$(steps.$(steps.a.results.b)"),
        ["$(steps.$(steps.a.results.b)"]
    );
    // `.` does not cross newlines.
    assert!(step_result_refs("$(steps.s\n.results.r)").is_empty());
    assert!(step_result_refs("$(steps.s.results.r\n)").is_empty());
    assert_eq!(
        step_result_refs("$(steps.s.results.\n$(steps.t.results.u)"),
        ["$(steps.t.results.u)"]
    );
    // Lazy first group: the shortest step part that leads to a match.
    assert_eq!(
        step_result_refs("$(steps..results..results.x)"),
        ["$(steps..results..results.x)"]
    );
    assert!(step_result_refs("$(steps.s.result.r)").is_empty());
    assert!(step_result_refs("$(steps.s.results.r").is_empty());
    assert!(step_result_refs("").is_empty());
    assert_eq!(
        step_result_refs("é$(steps.ü.results.ß)ö"),
        ["$(steps.ü.results.ß)"]
    );
}

#[test]
fn artifact_pattern_matches_like_upstream() {
    assert_eq!(
        artifact_refs("x $(steps.a.outputs.img) $(steps.b.inputs.src)"),
        ["$(steps.a.outputs.img)", "$(steps.b.inputs.src)"]
    );
    assert!(artifact_refs("$(steps.a.outputs.img.x)").is_empty());
    assert!(artifact_refs("$(steps..outputs.img)").is_empty());
    assert!(artifact_refs("$(steps.a.outputs.)").is_empty());
    assert!(artifact_refs("$(steps.a.output.img)").is_empty());
    assert!(artifact_refs("$(steps.a.outputs.img").is_empty());
    // [^.] classes do match newlines and `)` in the step part.
    assert_eq!(
        artifact_refs("$(steps.a\n).outputs.i\nmg)"),
        ["$(steps.a\n).outputs.i\nmg)"]
    );
    assert_eq!(
        artifact_refs("$(steps.a.outputs.img))"),
        ["$(steps.a.outputs.img)"]
    );
}

#[test]
fn step_expression_parsing() {
    let parse = |s| parse_step_expression(s).unwrap();
    assert_eq!(
        parse("steps.s.results.r"),
        StepResultRef {
            step: "s".into(),
            result: "r".into(),
            selector: Selector::Whole
        }
    );
    assert_eq!(parse("steps.s.results.r[12]").selector, Selector::Index(12));
    assert_eq!(
        parse("steps.s.results.r[*]").selector,
        Selector::AllElements
    );
    assert_eq!(
        parse("steps.s.results.r.k").selector,
        Selector::Key("k".into())
    );
    // Upstream quirks: `[]` is no index, `[3*]` is index 0, all indexes leave the name.
    assert_eq!(parse("steps.s.results.r[]").selector, Selector::Whole);
    assert_eq!(parse("steps.s.results.r[]").result, "r");
    assert_eq!(parse("steps.s.results.r[3*]").selector, Selector::Index(0));
    let two = parse("steps.s.results.a[1]b[2]");
    assert_eq!(
        (two.result.as_str(), two.selector),
        ("ab", Selector::Index(1))
    );
    assert_eq!(parse("steps.s.results.r[x]").result, "r[x]");
    assert!(
        parse_step_expression("steps.s.results")
            .unwrap_err()
            .starts_with("must be one of the form 1). \"steps.")
    );
    assert!(
        parse_step_expression("steps.s.results.r.k.x")
            .unwrap_err()
            .starts_with("must be one of the form 1). \"tasks.")
    );
    assert!(parse_step_expression("tasks.s.results.r").is_err());
}

#[test]
fn result_values_decode_like_tekton() {
    use ResultValue::*;
    assert_eq!(ResultValue::decode(b"Hello"), String("Hello".into()));
    assert_eq!(ResultValue::decode(b""), String("".into()));
    assert_eq!(
        ResultValue::decode(b"\"quoted\\n\""),
        String("quoted\n".into())
    );
    assert_eq!(ResultValue::decode(b" \"ws\" "), String("ws".into()));
    assert_eq!(ResultValue::decode(b"null"), String("".into()));
    assert_eq!(ResultValue::decode(b"123"), String("123".into()));
    assert_eq!(ResultValue::decode(b"hello\n"), String("hello\n".into()));
    assert_eq!(
        ResultValue::decode(b"[\"a\", null]\n"),
        Array(vec!["a".into(), "".into()])
    );
    assert_eq!(ResultValue::decode(b"[1,2]"), String("[1,2]".into()));
    assert_eq!(ResultValue::decode(b" [\"a\"]"), String(" [\"a\"]".into()));
    assert_eq!(
        ResultValue::decode(br#"{"a":"1","a":"2","b":null}"#),
        Object([("a".into(), "2".into()), ("b".into(), "".into())].into())
    );
    assert_eq!(
        ResultValue::decode(br#"{"a":1}"#),
        String(r#"{"a":1}"#.into())
    );
    assert_eq!(ResultValue::decode(b"[broken"), String("[broken".into()));
}

// ----- TestApplyStepResultSubstitutions_Env ---------------------------------------------------

fn env_case(result: &str, value: &str) -> (Result<(), String>, String) {
    let pod = Pod::with_result("foo", "res", result);
    let mut env = vec![("FOO".to_string(), value.to_string())];
    let got = apply_step_results(&pod.layout, &mut env, &mut [], &mut Vec::new());
    (got, env[0].1.clone())
}

#[test]
fn env_string_result() {
    assert_eq!(
        env_case("Hello", "$(steps.foo.results.res)"),
        (Ok(()), "Hello".into())
    );
}

#[test]
fn env_array_element() {
    assert_eq!(
        env_case("[\"Hello\",\"World\"]", "$(steps.foo.results.res[1])"),
        (Ok(()), "World".into())
    );
}

#[test]
fn env_object_key() {
    assert_eq!(
        env_case("{\"hello\":\"World\"}", "$(steps.foo.results.res.hello)"),
        (Ok(()), "World".into())
    );
}

#[test]
fn env_multiple_matches() {
    assert_eq!(
        env_case(
            r#"{"first":"hello", "second":"world"}"#,
            "$(steps.foo.results.res.first)-$(steps.foo.results.res.second)"
        ),
        (Ok(()), "hello-world".into())
    );
}

#[test]
fn env_bad_reference_is_error_and_value_unchanged() {
    let (got, value) = env_case(
        "{\"hello\":\"World\"}",
        "echo $(steps.foo.results.res.hello.bar)",
    );
    assert!(got.is_err());
    assert_eq!(value, "echo $(steps.foo.results.res.hello.bar)");
}

#[test]
fn env_stops_at_first_error_keeping_earlier_substitutions() {
    let pod = Pod::with_result("foo", "res", "Hello");
    let mut env = vec![
        ("A".to_string(), "$(steps.foo.results.res)".to_string()),
        ("B".to_string(), "$(steps.foo.results.missing)".to_string()),
        ("C".to_string(), "$(steps.foo.results.res)".to_string()),
    ];
    let mut when = vec![WhenExpression {
        input: "$(steps.foo.results.res)".into(),
        ..Default::default()
    }];
    let mut command = strings(&["$(steps.foo.results.res)"]);
    let err = apply_step_results(&pod.layout, &mut env, &mut when, &mut command).unwrap_err();
    assert!(err.starts_with("open "), "{err}");
    assert!(
        err.ends_with("/step-foo/results/missing: no such file or directory"),
        "{err}"
    );
    assert_eq!(env[0].1, "Hello");
    assert_eq!(env[2].1, "$(steps.foo.results.res)");
    assert_eq!(when[0].input, "$(steps.foo.results.res)");
    assert_eq!(command, ["$(steps.foo.results.res)"]);
}

#[test]
fn out_of_range_index_is_an_error_not_a_panic() {
    let pod = Pod::with_result("foo", "res", "[\"Hello\"]");
    pod.write_result("foo", "str", "plain");
    for reference in [
        "$(steps.foo.results.res[1])",
        "$(steps.foo.results.res[99999999999999999999999])",
        "$(steps.foo.results.str[0])",
    ] {
        let mut env = vec![("X".to_string(), reference.to_string())];
        let err = apply_step_results(&pod.layout, &mut env, &mut [], &mut Vec::new());
        assert!(err.unwrap_err().contains("out of range"), "{reference}");
        assert_eq!(env[0].1, reference);
    }
}

#[test]
fn whole_array_in_a_string_context_is_empty() {
    let pod = Pod::with_result("foo", "res", "[\"a\",\"b\"]");
    let mut env = vec![("X".to_string(), "<$(steps.foo.results.res[*])>".to_string())];
    apply_step_results(&pod.layout, &mut env, &mut [], &mut Vec::new()).unwrap();
    assert_eq!(env[0].1, "<>");
}

#[test]
fn self_referencing_results_cannot_grow_without_bound() {
    // Found by fuzz/fuzz_targets/step_results.rs: a result holding its own reference twice,
    // referenced 30 times, doubled the value on every match (2^30 copies; upstream the same).
    let reference = "$(steps.foo.results.res)";
    let pod = Pod::with_result("foo", "res", &reference.repeat(2));
    let text = reference.repeat(30);
    let mut env = vec![("X".to_string(), text.clone())];
    let mut command = vec![text.clone()];
    let mut when = vec![WhenExpression {
        input: text.clone(),
        ..Default::default()
    }];
    let started = std::time::Instant::now();
    let err = apply_step_results(&pod.layout, &mut env, &mut when, &mut command).unwrap_err();
    assert_eq!(
        err,
        format!("substituting {reference} would make a value longer than 131072 bytes")
    );
    assert!(env[0].1.len() <= MAX_SUBSTITUTED_LEN);
    assert!(started.elapsed() < std::time::Duration::from_secs(5));
    // Growth up to the limit is still substituted like upstream.
    let pod = Pod::with_result("foo", "res", &"x".repeat(1000));
    let mut env = vec![("X".to_string(), reference.repeat(100))];
    apply_step_results(&pod.layout, &mut env, &mut [], &mut Vec::new()).unwrap();
    assert_eq!(env[0].1, "x".repeat(100_000));
}

#[test]
fn self_referencing_artifacts_cannot_grow_without_bound() {
    let reference = "$(steps.s.outputs.a)";
    let pod = Pod::new();
    pod.write_provenance(
        "s",
        &format!(
            r#"{{"outputs":[{{"name":"a","values":[{{"uri":"{0}{0}"}}]}}]}}"#,
            reference
        ),
    );
    let mut env = vec![("X".to_string(), reference.repeat(30))];
    let err = apply_artifacts(&pod.layout, &mut env, &mut Vec::new()).unwrap_err();
    assert_eq!(
        err,
        format!("substituting {reference} would make a value longer than 131072 bytes")
    );
}

// ----- TestApplyStepResultSubstitutions_Command -----------------------------------------------

fn command_case(result: &str, command: &[&str]) -> (Result<(), String>, Vec<String>) {
    let pod = Pod::with_result("foo", "res", result);
    let mut command = strings(command);
    let got = apply_step_results(&pod.layout, &mut Vec::new(), &mut [], &mut command);
    (got, command)
}

#[test]
fn command_string_result() {
    let pod = Pod::with_result("foo", "res1", "Hello");
    let mut command = strings(&["$(steps.foo.results.res1)"]);
    apply_step_results(&pod.layout, &mut Vec::new(), &mut [], &mut command).unwrap();
    assert_eq!(command, ["Hello"]);
}

#[test]
fn command_array_element() {
    assert_eq!(
        command_case("[\"Hello\",\"World\"]", &["$(steps.foo.results.res[1])"]),
        (Ok(()), strings(&["World"]))
    );
}

#[test]
fn command_whole_array_expands_into_arguments() {
    assert_eq!(
        command_case(
            "[\"Hello\",\"World\"]",
            &["start", "$(steps.foo.results.res[*])", "stop"]
        ),
        (Ok(()), strings(&["start", "Hello", "World", "stop"]))
    );
}

#[test]
fn command_object_key() {
    assert_eq!(
        command_case("{\"hello\":\"World\"}", &["$(steps.foo.results.res.hello)"]),
        (Ok(()), strings(&["World"]))
    );
}

#[test]
fn command_bad_reference_is_error_and_unchanged() {
    let (got, command) = command_case(
        "{\"hello\":\"World\"}",
        &["echo $(steps.foo.results.res.hello.bar)"],
    );
    assert_eq!(
        got.unwrap_err(),
        "failed to find replacement for $(steps.foo.results.res.hello.bar) to replace echo $(steps.foo.results.res.hello.bar)"
    );
    assert_eq!(command, ["echo $(steps.foo.results.res.hello.bar)"]);
}

#[test]
fn command_whole_array_with_suffix_is_error_and_unchanged() {
    let (got, command) = command_case(
        "[\"Hello\",\"World\"]",
        &["start", "$(steps.foo.results.res[*])bbb", "stop"],
    );
    assert_eq!(got.unwrap_err(), ARRAY_FORMAT_ERROR);
    assert_eq!(command, ["start", "$(steps.foo.results.res[*])bbb", "stop"]);
}

#[test]
fn command_array_elements_multiple_matches() {
    assert_eq!(
        command_case(
            "[\"Hello\",\"World\"]",
            &["$(steps.foo.results.res[0])-$(steps.foo.results.res[1])"]
        ),
        (Ok(()), strings(&["Hello-World"]))
    );
}

#[test]
fn command_object_multiple_matches() {
    assert_eq!(
        command_case(
            r#"{"first":"hello", "second":"world"}"#,
            &["$(steps.foo.results.res.first)-$(steps.foo.results.res.second)"]
        ),
        (Ok(()), strings(&["hello-world"]))
    );
}

#[test]
fn command_empty_whole_array_becomes_one_empty_argument() {
    assert_eq!(
        command_case("[]", &["a", "$(steps.foo.results.res[*])", "b"]),
        (Ok(()), strings(&["a", "", "b"]))
    );
}

// ----- TestApplyStepWhenSubstitutions_Input / _CEL / _Values ----------------------------------

fn when_case(result: &str, expr: WhenExpression) -> (Result<(), String>, WhenExpression) {
    let pod = Pod::with_result("foo", "res", result);
    let mut when = vec![expr];
    let got = apply_step_results(&pod.layout, &mut Vec::new(), &mut when, &mut Vec::new());
    (got, when.remove(0))
}

fn input(s: &str) -> WhenExpression {
    WhenExpression {
        input: s.into(),
        ..Default::default()
    }
}

fn cel(s: &str) -> WhenExpression {
    WhenExpression {
        cel: s.into(),
        ..Default::default()
    }
}

fn values(v: &[&str]) -> WhenExpression {
    WhenExpression {
        values: strings(v),
        ..Default::default()
    }
}

#[test]
fn when_input_and_cel_substitutions() {
    for make in [input, cel] {
        let cases = [
            ("Hello", "$(steps.foo.results.res)", "Hello"),
            (
                "[\"Hello\",\"World\"]",
                "$(steps.foo.results.res[1])",
                "World",
            ),
            (
                "{\"hello\":\"World\"}",
                "$(steps.foo.results.res.hello)",
                "World",
            ),
        ];
        for (result, reference, want) in cases {
            assert_eq!(when_case(result, make(reference)), (Ok(()), make(want)));
        }
        let bad = "$(steps.foo.results.res.hello.bar)";
        let (got, expr) = when_case("{\"hello\":\"World\"}", make(bad));
        assert!(got.is_err());
        assert_eq!(expr, make(bad));
    }
}

#[test]
fn when_values_string() {
    assert_eq!(
        when_case("Hello", values(&["$(steps.foo.results.res)"])),
        (Ok(()), values(&["Hello"]))
    );
}

#[test]
fn when_values_array_element() {
    assert_eq!(
        when_case(
            "[\"Hello\",\"World\"]",
            values(&["$(steps.foo.results.res[1])"])
        ),
        (Ok(()), values(&["World"]))
    );
}

#[test]
fn when_values_whole_array_expands() {
    assert_eq!(
        when_case(
            "[\"Hello\",\"World\"]",
            values(&["a", "$(steps.foo.results.res[*])", "b"])
        ),
        (Ok(()), values(&["a", "Hello", "World", "b"]))
    );
}

#[test]
fn when_values_whole_array_with_suffix_is_error() {
    let (got, expr) = when_case(
        "[\"Hello\",\"World\"]",
        values(&["$(steps.foo.results.res[*])1"]),
    );
    assert_eq!(got.unwrap_err(), ARRAY_FORMAT_ERROR);
    assert_eq!(expr, values(&["$(steps.foo.results.res[*])1"]));
}

#[test]
fn when_values_object_key() {
    assert_eq!(
        when_case(
            "{\"hello\":\"World\"}",
            values(&["$(steps.foo.results.res.hello)"])
        ),
        (Ok(()), values(&["World"]))
    );
}

#[test]
fn when_values_bad_reference() {
    let bad = "$(steps.foo.results.res.hello.bar)";
    let (got, expr) = when_case("{\"hello\":\"World\"}", values(&[bad]));
    assert!(got.is_err());
    assert_eq!(expr, values(&[bad]));
}

#[test]
fn substituted_when_expressions_evaluate() {
    let pod = Pod::with_result("foo", "res", "prod");
    let mut when = crate::when::parse(
        r#"[{"input":"$(steps.foo.results.res)","operator":"in","values":["prod"]},
            {"cel":"'$(steps.foo.results.res)' == 'prod'"}]"#,
    )
    .unwrap();
    apply_step_results(&pod.layout, &mut Vec::new(), &mut when, &mut Vec::new()).unwrap();
    assert!(crate::when::allow_exec(&when).unwrap());
}

// ----- artifacts: TestGetStepArtifactsPath / TestLoadStepArtifacts --------------------------

#[test]
fn step_artifacts_path_layout() {
    let layout = Layout::new("/tekton", "/workspace");
    assert_eq!(
        step_artifacts_path(&layout, "step-b"),
        "/tekton/steps/step-b/artifacts/provenance.json"
    );
}

#[test]
fn load_step_artifacts_success() {
    let pod = Pod::new();
    pod.write_provenance("name", PROVENANCE);
    let got = load_step_artifacts(&pod.layout, "step-name").unwrap();
    let value = |sha: &str, uri: &str| ArtifactValue {
        digest: [("sha256".to_string(), sha.to_string())].into(),
        uri: uri.into(),
    };
    assert_eq!(
        got,
        Artifacts {
            inputs: vec![Artifact {
                name: "inputs".into(),
                values: Some(vec![value(
                    "cfc7749b96f63bd31c3c42b5c471bf756814053e847c10f3eb003417bc523d30",
                    "pkg:example.github.com/inputs"
                )]),
                build_output: false,
            }],
            outputs: vec![Artifact {
                name: "image".into(),
                values: Some(vec![value(
                    "64d0b157fdf2d7f6548836dd82085fd8401c9481a9f59e554f1b337f134074b0",
                    "docker:example.registry.com/outputs"
                )]),
                build_output: false,
            }],
        }
    );
}

#[test]
fn load_step_artifacts_errors() {
    let pod = Pod::new();
    let missing = load_step_artifacts(&pod.layout, "step-name").unwrap_err();
    assert!(
        missing.ends_with("provenance.json: no such file or directory"),
        "{missing}"
    );

    pod.write_provenance("name", r"{\\");
    assert!(load_step_artifacts(&pod.layout, "step-name").is_err());

    pod.write_provenance("other", r#"{"outputs":{"name":"x"}}"#);
    assert_eq!(
        load_step_artifacts(&pod.layout, "step-other").unwrap_err(),
        "json: cannot unmarshal object into Go struct field Artifacts.outputs of type []v1.Artifact"
    );

    pod.break_provenance("dir");
    let unreadable = load_step_artifacts(&pod.layout, "step-dir").unwrap_err();
    assert!(unreadable.ends_with(": is a directory"), "{unreadable}");
}

#[test]
fn load_step_artifacts_unreadable_file() {
    let pod = Pod::new();
    // Searchable by the unprivileged user the read runs as when the test runs as root.
    fs::set_permissions(pod._dir.path(), fs::Permissions::from_mode(0o755)).unwrap();
    let path = pod.write_provenance("name", PROVENANCE);
    fs::set_permissions(&path, fs::Permissions::from_mode(0o000)).unwrap();
    let err = testsupport::with_unprivileged_file_access(|| {
        load_step_artifacts(&pod.layout, "step-name")
    })
    .unwrap_err();
    assert!(err.ends_with(": permission denied"), "{err}");
}

#[test]
fn load_step_artifacts_go_json_semantics() {
    let pod = Pod::new();
    pod.write_provenance(
        "name",
        r#"{"Outputs":[null,{"NAME":"img","Values":[{"URI":"u","Digest":{"b":"2","a":"1","a":"3"}}],"buildOutput":true,"x":1}],"inputs":null,"extra":[1,2]}"#,
    );
    let got = load_step_artifacts(&pod.layout, "step-name").unwrap();
    assert_eq!(got.inputs, vec![]);
    assert_eq!(got.outputs[0], Artifact::default());
    assert_eq!(got.outputs[1].name, "img");
    assert!(got.outputs[1].build_output);
    assert_eq!(
        artifact_values(&pod.layout, "$(steps.name.outputs.img)").unwrap(),
        r#"[{"digest":{"a":"3","b":"2"},"uri":"u"}]"#
    );
}

// ----- TestParseArtifactTemplate -------------------------------------------------------------

#[test]
fn parse_artifact_template_valid() {
    assert_eq!(
        parse_artifact_template("$(steps.name.outputs.aaa)").unwrap(),
        ArtifactTemplate {
            container_name: "step-name".into(),
            kind: "outputs".into(),
            artifact_name: "aaa".into(),
        }
    );
    assert_eq!(
        parse_artifact_template("$(steps.name.inputs.aaa)").unwrap(),
        ArtifactTemplate {
            container_name: "step-name".into(),
            kind: "inputs".into(),
            artifact_name: "aaa".into(),
        }
    );
}

#[test]
fn parse_artifact_template_invalid() {
    for template in [
        "steps.name.outputs.aaa",
        "$(steps.name.outputs.aaa.sss)",
        "$(steps.name)",
        "aaa$(steps.name.outputs.aaa)",
        "$(steps.name.xxxx.aaa)",
        "$(steps.name.outputs.aaa)$(steps.name.outputs.aaa)",
        "",
        "$(steps.name.outputs.aaa))",
    ] {
        assert!(parse_artifact_template(template).is_err(), "{template:?}");
    }
    assert_eq!(
        parse_artifact_template("").unwrap_err(),
        "template is empty"
    );
    assert_eq!(
        parse_artifact_template("$(steps.name)").unwrap_err(),
        "invalid artifact template $(steps.name)"
    );
}

// ----- TestGetArtifactValues ----------------------------------------------------------------

#[test]
fn artifact_values_outputs_by_name() {
    let pod = Pod::new();
    pod.write_provenance("name", PROVENANCE);
    assert_eq!(
        artifact_values(&pod.layout, "$(steps.name.outputs.image)").unwrap(),
        IMAGE_VALUES
    );
}

#[test]
fn artifact_values_inputs_by_name() {
    let pod = Pod::new();
    pod.write_provenance(
        "name",
        r#"{"outputs":[{"name":"outputs","values":[{"digest":{"sha256":"cfc7749b96f63bd31c3c42b5c471bf756814053e847c10f3eb003417bc523d30"},"uri":"pkg:example.github.com/outputs"}]}],"inputs":[{"name":"input","values":[{"digest":{"sha256":"64d0b157fdf2d7f6548836dd82085fd8401c9481a9f59e554f1b337f134074b0"},"uri":"docker:example.registry.com/inputs"}]},{"name":"input2","values":[{"digest":{"sha256":"22222157fdf2d7f6548836dd82085fd8401c9481a9f59e554f1b337f13402222"},"uri":"docker2:example.registry.com/inputs"}]}]}"#,
    );
    assert_eq!(
        artifact_values(&pod.layout, "$(steps.name.inputs.input)").unwrap(),
        r#"[{"digest":{"sha256":"64d0b157fdf2d7f6548836dd82085fd8401c9481a9f59e554f1b337f134074b0"},"uri":"docker:example.registry.com/inputs"}]"#
    );
    assert_eq!(
        artifact_values(&pod.layout, "$(steps.name.inputs.input2)").unwrap(),
        r#"[{"digest":{"sha256":"22222157fdf2d7f6548836dd82085fd8401c9481a9f59e554f1b337f13402222"},"uri":"docker2:example.registry.com/inputs"}]"#
    );
}

#[test]
fn artifact_values_multiple_outputs() {
    let pod = Pod::new();
    pod.write_provenance("name", MULTI_PROVENANCE);
    assert_eq!(
        artifact_values(&pod.layout, "$(steps.name.outputs.output2)").unwrap(),
        r#"[{"digest":{"sha256":"22222157fdf2d7f6548836dd82085fd8401c9481a9f59e554f1b337f13402222"},"uri":"docker2:example.registry.com/outputs"}]"#
    );
}

#[test]
fn artifact_values_errors() {
    let pod = Pod::new();
    pod.write_provenance("name", MULTI_PROVENANCE);
    assert!(artifact_values(&pod.layout, "$(steps.name.outputs.output2.333)").is_err());
    assert_eq!(
        artifact_values(&pod.layout, "$(steps.name.outputs.output3)").unwrap_err(),
        "values for template $(steps.name.outputs.output3) not found"
    );
    pod.break_provenance("broken");
    assert!(artifact_values(&pod.layout, "$(steps.broken.outputs.output2)").is_err());
}

#[test]
fn artifact_values_marshal_like_go() {
    let value = ArtifactValue {
        digest: [
            ("sha512".to_string(), "b".to_string()),
            ("sha256".to_string(), "a<&>".to_string()),
        ]
        .into(),
        uri: String::new(),
    };
    assert_eq!(
        marshal_artifact_values(Some(&[value, ArtifactValue::default()])),
        r#"[{"digest":{"sha256":"a\u003c\u0026\u003e","sha512":"b"}},{}]"#
    );
    assert_eq!(marshal_artifact_values(None), "null");
    assert_eq!(marshal_artifact_values(Some(&[])), "[]");
    let uri_only = ArtifactValue {
        uri: "oci://x?a=1&b=2".into(),
        ..Default::default()
    };
    assert_eq!(
        marshal_artifact_values(Some(&[uri_only])),
        r#"[{"uri":"oci://x?a=1\u0026b=2"}]"#
    );

    let pod = Pod::new();
    pod.write_provenance(
        "s",
        r#"{"outputs":[{"name":"none"},{"name":"empty","values":[]}]}"#,
    );
    assert_eq!(
        artifact_values(&pod.layout, "$(steps.s.outputs.none)").unwrap(),
        "null"
    );
    assert_eq!(
        artifact_values(&pod.layout, "$(steps.s.outputs.empty)").unwrap(),
        "[]"
    );
}

// ----- TestApplyStepArtifactSubstitutionsCommandSuccess / Command / Env -----------------------

#[test]
fn script_substitution_writes_a_new_temp_script() {
    let pod = Pod::new();
    pod.write_provenance("name", PROVENANCE);
    let script = pod.write_script("foo.sh", "echo $(steps.name.outputs.image)");
    let tmp = tempfile::tempdir().unwrap();
    let mut env = vec![(
        "TMPDIR".to_string(),
        tmp.path().to_string_lossy().into_owned(),
    )];
    let mut command = vec![script.clone()];
    apply_artifacts(&pod.layout, &mut env, &mut command).unwrap();
    assert_eq!(command.len(), 1);
    assert_ne!(command[0], script);
    let new_script = Path::new(&command[0]);
    assert_eq!(new_script.parent().unwrap(), tmp.path());
    let file_name = new_script.file_name().unwrap().to_string_lossy();
    assert!(file_name.starts_with("script-"), "{file_name}");
    assert_eq!(
        fs::read_to_string(new_script).unwrap(),
        format!("echo {IMAGE_VALUES}")
    );
    let mode = fs::metadata(new_script).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o755);
    // The original script is untouched.
    assert_eq!(
        fs::read_to_string(&script).unwrap(),
        "echo $(steps.name.outputs.image)"
    );
}

#[test]
fn script_bytes_outside_references_are_kept() {
    let pod = Pod::new();
    pod.write_provenance("name", PROVENANCE);
    let path = pod.layout.scripts_dir().join("bin.sh");
    let mut content =
        b"#!/bin/sh\n\xff\xfe x=$(steps.name.outputs.image) $(steps.name.outputs.image)\n".to_vec();
    fs::write(&path, &content).unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let mut env = vec![(
        "TMPDIR".to_string(),
        tmp.path().to_string_lossy().into_owned(),
    )];
    let mut command = vec![path.to_string_lossy().into_owned()];
    apply_artifacts(&pod.layout, &mut env, &mut command).unwrap();
    let reference = b"$(steps.name.outputs.image)";
    content = replace_all_bytes(&content, reference, IMAGE_VALUES.as_bytes());
    assert_eq!(fs::read(&command[0]).unwrap(), content);
    assert!(content.starts_with(b"#!/bin/sh\n\xff\xfe x=[{"));
}

#[test]
fn script_with_unreadable_artifacts_is_error_and_unchanged() {
    let pod = Pod::new();
    pod.break_provenance("name");
    let script = pod.write_script("foo2.sh", "echo $(steps.name.outputs.image)");
    let mut command = vec![script.clone()];
    assert!(apply_artifacts(&pod.layout, &mut Vec::new(), &mut command).is_err());
    assert_eq!(command, [script]);
}

#[test]
fn script_without_references_keeps_its_path() {
    let pod = Pod::new();
    pod.write_provenance("name", PROVENANCE);
    let script = pod.write_script("bar.sh", "echo 123");
    let mut command = vec![script.clone()];
    apply_artifacts(&pod.layout, &mut Vec::new(), &mut command).unwrap();
    assert_eq!(command, [script]);
}

#[test]
fn missing_script_is_an_error() {
    let pod = Pod::new();
    let script = pod.layout.scripts_dir().join("gone.sh");
    let mut command = vec![script.to_string_lossy().into_owned()];
    let err = apply_artifacts(&pod.layout, &mut Vec::new(), &mut command).unwrap_err();
    assert!(err.starts_with("open ") && err.ends_with("gone.sh: no such file or directory"));
}

#[test]
fn inline_command_substitution() {
    let pod = Pod::new();
    pod.write_provenance("name", PROVENANCE);
    let mut command = strings(&["echo", "$(steps.name.outputs.image)", "|", "jq", "."]);
    apply_artifacts(&pod.layout, &mut Vec::new(), &mut command).unwrap();
    assert_eq!(command, strings(&["echo", IMAGE_VALUES, "|", "jq", "."]));
}

#[test]
fn inline_command_unreadable_artifacts_is_error_and_unchanged() {
    let pod = Pod::new();
    pod.break_provenance("name");
    let original = strings(&["echo", "$(steps.name.outputs.image)", "|", "jq", "."]);
    let mut command = original.clone();
    assert!(apply_artifacts(&pod.layout, &mut Vec::new(), &mut command).is_err());
    assert_eq!(command, original);
}

#[test]
fn one_argument_outside_the_scripts_dir_is_substituted_inline() {
    let pod = Pod::new();
    pod.write_provenance("name", PROVENANCE);
    let mut command = strings(&["$(steps.name.outputs.image)"]);
    apply_artifacts(&pod.layout, &mut Vec::new(), &mut command).unwrap();
    assert_eq!(command, [IMAGE_VALUES]);
}

#[test]
fn env_no_match_unchanged() {
    let pod = Pod::new();
    pod.write_provenance("name", PROVENANCE);
    let mut env = vec![("aaa".to_string(), "bbb".to_string())];
    apply_artifacts(&pod.layout, &mut env, &mut Vec::new()).unwrap();
    assert_eq!(env[0].1, "bbb");
}

#[test]
fn env_match_substituted() {
    let pod = Pod::new();
    pod.write_provenance("name", PROVENANCE);
    let mut env = vec![(
        "aaa".to_string(),
        "abc-$(steps.name.outputs.image)".to_string(),
    )];
    apply_artifacts(&pod.layout, &mut env, &mut Vec::new()).unwrap();
    assert_eq!(env[0].1, format!("abc-{IMAGE_VALUES}"));
}

#[test]
fn env_unreadable_artifacts_is_error_and_unchanged() {
    let pod = Pod::new();
    pod.break_provenance("name");
    let mut env = vec![(
        "aaa".to_string(),
        "abc-$(steps.name.outputs.image)".to_string(),
    )];
    assert!(apply_artifacts(&pod.layout, &mut env, &mut Vec::new()).is_err());
    assert_eq!(env[0].1, "abc-$(steps.name.outputs.image)");
}

#[test]
fn temp_dir_follows_go() {
    let env = vec![("TMPDIR".to_string(), "/x".to_string())];
    assert_eq!(temp_dir(&env), "/x");
    let empty = vec![("TMPDIR".to_string(), String::new())];
    assert_eq!(temp_dir(&empty), "/tmp");
}

#[test]
fn go_path_helpers() {
    assert_eq!(go_clean("/a//b/./c/../d/"), "/a/b/d");
    assert_eq!(go_clean("/../x"), "/x");
    assert_eq!(go_clean("a/../../b"), "../b");
    assert_eq!(go_clean(""), ".");
    assert_eq!(go_dir("/tekton/scripts/foo.sh"), "/tekton/scripts");
    assert_eq!(go_dir("/tekton/scripts//foo"), "/tekton/scripts");
    assert_eq!(go_dir("foo"), ".");
    assert_eq!(go_dir("/foo"), "/");
    let layout = Layout::new("/tekton", "/workspace");
    assert_eq!(
        step_result_path(&layout, "s", "/etc/passwd"),
        "/tekton/steps/step-s/results/etc/passwd"
    );
}
